// SPDX-License-Identifier: MIT
// Validates Subsonic JSON answers against the OpenSubsonic OpenAPI schemas
// copied under tests/schemas/opensubsonic. Every JSON file there is loaded
// into one ajv instance under an $id made of its path, so the relative $refs
// between files ("../schemas/Child.json") resolve as they do on disk. The
// endpoint files are OpenAPI path items, not schemas: for an endpoint the
// validator takes the schema of its GET 200 answer (following a $ref to
// responses/X.json), rewritten to an absolute $ref. OpenAPI-only keywords
// (example, externalDocs, discriminator, nullable) are stripped; the formats
// OpenAPI adds (float, binary, int32, ...) are accepted as any value.
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SCHEMA_DIR = join(here, '..', 'schemas', 'opensubsonic');
const BASE = 'https://opensubsonic.invalid/';
const OPENAPI_ONLY = new Set(['example', 'examples', 'externalDocs', 'discriminator', 'nullable',
  'xml', 'deprecated', 'readOnly', 'writeOnly']);

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

// A deep copy without OpenAPI-only keywords (inside "properties" the keys are
// property names and are all kept).
function clean(node, inProperties = false) {
  if (Array.isArray(node)) return node.map((x) => clean(x));
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (!inProperties && OPENAPI_ONLY.has(k)) continue;
    out[k] = clean(v, !inProperties && k === 'properties');
  }
  return out;
}

const idOf = (file) => BASE + relative(SCHEMA_DIR, file).split(sep).join('/');

function build() {
  const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  for (const f of ['float', 'double', 'int32', 'int64', 'binary', 'byte', 'password']) {
    ajv.addFormat(f, true);
  }
  const endpoints = new Map(); // name -> absolute $ref of its 200 answer schema
  for (const file of walk(SCHEMA_DIR)) {
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const rel = relative(SCHEMA_DIR, file).split(sep);
    if (rel[0] === 'endpoints' && rel.length === 2) {
      const ok = doc.get?.responses?.['200'];
      if (ok) endpoints.set(rel[1].replace(/\.json$/, ''), { file, ok });
      continue;
    }
    if (rel[0] === 'responses') continue; // OpenAPI response objects, resolved below
    ajv.addSchema({ ...clean(doc), $id: idOf(file) });
  }
  const refs = new Map();
  for (const [name, { file, ok }] of endpoints) {
    let resp = ok;
    let at = file;
    if (resp.$ref) {
      at = join(dirname(file), resp.$ref);
      resp = JSON.parse(readFileSync(at, 'utf8'));
    }
    const schema = resp.content?.['application/json']?.schema;
    if (!schema) continue; // binary answers (stream, getCoverArt, ...)
    if (schema.$ref) {
      refs.set(name, new URL(schema.$ref, idOf(at)).href);
    } else {
      const id = `${idOf(file)}.answer`;
      ajv.addSchema({ ...clean(schema), $id: id });
      refs.set(name, id);
    }
  }
  return { ajv, refs };
}

let cache;
const compiled = new Map();

// The names of the endpoints with a JSON answer schema.
export function schemaEndpoints() {
  cache ||= build();
  return [...cache.refs.keys()];
}

// Returns a validate(envelope) function for endpoint `name` (without .view),
// or null when the spec has no JSON answer for it.
export function validatorFor(name) {
  cache ||= build();
  if (compiled.has(name)) return compiled.get(name);
  const ref = cache.refs.get(name);
  const v = ref ? cache.ajv.compile({ $ref: ref }) : null;
  compiled.set(name, v);
  return v;
}

// Validates a whole parsed answer ({"subsonic-response": ...}) of endpoint
// `name`; throws an Error listing the violations. Returns true when checked,
// false when the spec has no JSON schema for the endpoint.
export function assertSchema(name, body) {
  const v = validatorFor(name);
  if (!v) return false;
  if (!v(body)) {
    const errs = v.errors.slice(0, 12)
      .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    throw new Error(`${name}: answer violates the OpenSubsonic schema:\n  ${errs.join('\n  ')}\n` +
      `answer: ${JSON.stringify(body).slice(0, 600)}`);
  }
  return true;
}
