// SPDX-License-Identifier: MIT
// The load generator of bench/api: CLIENTS concurrent keep-alive clients
// send Subsonic requests to a running legato for DURATION seconds per
// scenario, each request picked in turn from the scenario's list of URLs,
// and the latency of each (from sending to the last byte) is recorded.
// Prints one table row per scenario: requests, requests/s, p50, p99, max,
// errors (HTTP status other than 200, or a Subsonic "failed" answer), the
// p50 and p99 of one client alone (the service time, without queueing), and
// whether p99 under load meets the target. Node built-ins only.
//
// The concurrent load comes from wrk (C) when it is installed: Node's HTTP
// client needs more than a core of its own to take in 32 clients' worth of
// large answers (a 400 KB sync page thousands of times a second), which on
// a small machine it takes from the server. wrk gets each scenario's URLs in
// a Lua script, cycles through them from a random start per connection and
// reports the latency distribution. LOADGEN=node keeps the load in Node.
//
//   node bench/api-load.mjs BASE_URL USER PASSWORD
// Environment: CLIENTS (32), DURATION (5, seconds), TARGET_P99_MS (10),
// ONLY (a comma-separated list of scenario names to run), LOADGEN (wrk or
// node; wrk when found).
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, user, password] = process.argv.slice(2);
if (!password) {
  console.error('usage: node bench/api-load.mjs BASE_URL USER PASSWORD');
  process.exit(2);
}
const CLIENTS = Number(process.env.CLIENTS || 32);
const DURATION = Number(process.env.DURATION || 5);
const TARGET = Number(process.env.TARGET_P99_MS || 10);
const ONLY = process.env.ONLY ? process.env.ONLY.split(',') : null;
const LOADGEN = process.env.LOADGEN ||
  (spawnSync('wrk', ['--version']).error ? 'node' : 'wrk');

const { hostname, port } = new URL(base);
const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS, maxFreeSockets: CLIENTS });
// Token credentials with one salt, as many players send them.
const salt = 'benchsalt';
const auth = new URLSearchParams({
  u: user, t: createHash('md5').update(password + salt).digest('hex'), s: salt, v: '1.16.1', c: 'bench',
}).toString();
const path = (method, params = {}) => `/rest/${method}?${auth}&${new URLSearchParams(params)}`;

// One request; resolves { status, ms, body (when keep), bytes }.
function request(p, keep = false) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ hostname, port, path: p, agent }, (res) => {
      const chunks = [];
      let bytes = 0;
      res.on('data', (d) => {
        bytes += d.length;
        if (keep || chunks.length < 1) chunks.push(d);
      });
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        resolve({ status: res.statusCode, ms, bytes, body: Buffer.concat(chunks), type: res.headers['content-type'] });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function json(method, params) {
  const r = await request(path(method, { ...params, f: 'json' }), true);
  const env = JSON.parse(r.body.toString())['subsonic-response'];
  if (env.status !== 'ok') throw new Error(`${method}: ${JSON.stringify(env.error)}`);
  return env;
}

const failed = (r) => r.status !== 200 ||
  (/json/.test(r.type || '') && r.body.subarray(0, 64).toString().includes('"failed"'));

// Runs one scenario: `clients` loops over urls for `duration` seconds.
async function run(name, urls, clients = CLIENTS, duration = DURATION) {
  const lat = [];
  let errors = 0;
  let next = 0;
  const end = Date.now() + duration * 1000;
  const t0 = process.hrtime.bigint();
  const loop = async () => {
    while (Date.now() < end) {
      const u = urls[next++ % urls.length];
      try {
        const r = await request(u);
        lat.push(r.ms);
        if (failed(r)) errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (f) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] : NaN);
  return { name, n: lat.length, rps: lat.length / secs, p50: q(0.5), p99: q(0.99), max: lat[lat.length - 1], errors };
}

// wrk's time units to milliseconds.
const toMs = (v) => {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3, m: 60e3 }[m[2]];
};

// Runs one scenario under wrk: CLIENTS connections on 2 threads.
function runWrk(name, urls, dir) {
  const script = join(dir, 'urls.lua');
  writeFileSync(script, `local paths = {\n${urls.map((u) => JSON.stringify(u)).join(',\n')}\n}
local i = 0
init = function(args) i = math.random(0, #paths - 1) end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
`);
  const r = spawnSync('wrk', ['-t', '2', '-c', String(CLIENTS), '-d', `${DURATION}s`, '--latency',
    '-s', script, base], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk: ${r.stderr || r.error}`);
  const out = r.stdout;
  const num = (re) => Number((re.exec(out) || [])[1]);
  const lat = /Latency\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  const n = num(/(\d+) requests in/);
  const errors = (num(/Non-2xx or 3xx responses: (\d+)/) || 0) +
    [...out.matchAll(/(?:connect|read|write|timeout) (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  return { name, n, rps: num(/Requests\/sec:\s+([\d.]+)/), p50: toMs((/ 50%\s+(\S+)/.exec(out) || [])[1]),
    p99: toMs((/ 99%\s+(\S+)/.exec(out) || [])[1]), max: lat ? toMs(lat[3]) : NaN, errors };
}

function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

async function main() {
  // Album ids, alphabetically, 500 at a time.
  const albums = [];
  for (let off = 0; ; off += 500) {
    const page = (await json('getAlbumList2', { type: 'alphabeticalByName', size: 500, offset: off }))
      .albumList2.album || [];
    albums.push(...page);
    if (page.length < 500) break;
  }
  const songTotal = albums.reduce((s, a) => s + (a.songCount || 0), 0);
  const withCover = albums.filter((a) => a.coverArt).map((a) => a.coverArt);
  console.log(`catalogue: ${albums.length} albums, ${songTotal} songs, ${withCover.length} albums with a cover; ` +
    `${CLIENTS} clients, ${DURATION} s per scenario`);
  const ids = shuffle(albums.map((a) => a.id));
  const n = (k) => String(Math.floor(Math.random() * k));
  const words = [];
  for (let i = 0; i < 200; i++) {
    words.push(`Song ${n(songTotal).padStart(5, '0')}`, `Album ${n(albums.length).padStart(4, '0')}`,
      `Artist ${n(500).padStart(3, '0')}`);
  }
  words.push('song', 'album', 'artist');
  const scenarios = [
    ['getAlbumList2 newest 50', Array.from({ length: 100 }, (_, i) =>
      path('getAlbumList2', { type: 'newest', size: 50, offset: (i * 50) % Math.max(50, albums.length), f: 'json' }))],
    ['getAlbum', ids.slice(0, 2000).map((id) => path('getAlbum', { id, f: 'json' }))],
    ['search3 word', shuffle(words).map((query) => path('search3', { query, f: 'json' }))],
    ['search3 "" by 500', Array.from({ length: Math.max(1, Math.ceil(songTotal / 500)) }, (_, i) =>
      path('search3', { query: '', songCount: 500, songOffset: i * 500, artistCount: 0, albumCount: 0, f: 'json' }))],
    ['getArtists', [path('getArtists', { f: 'json' })]],
    ['getCoverArt 300 (cached)', withCover.slice(0, 200).map((id) => path('getCoverArt', { id, size: 300 }))],
  ].filter(([name]) => !ONLY || ONLY.some((o) => name.startsWith(o)));

  const rows = [];
  const dir = mkdtempSync(join(tmpdir(), 'legato-api-load-'));
  for (const [name, urls] of scenarios) {
    if (urls.length === 0) {
      rows.push({ name, skipped: true });
      continue;
    }
    // Warm up: every URL once (fills the cover cache and the page cache).
    for (const u of urls.slice(0, 400)) await request(u);
    const one = await run(name, urls, 1, Math.max(1, DURATION / 2));
    // wrk sees HTTP statuses only: a Subsonic "failed" answer to the single
    // client (which checks each) counts against the row too.
    const load = LOADGEN === 'wrk' ? runWrk(name, urls, dir) : await run(name, urls);
    rows.push({ ...load, errors: load.errors + one.errors, p50one: one.p50, p99one: one.p99 });
  }
  rmSync(dir, { recursive: true, force: true });
  const pad = (s, w) => String(s).padEnd(w);
  const num = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log(`\n${' '.repeat(28)}${pad(`${CLIENTS} clients (${LOADGEN})`, 54)}1 client (node)`);
  console.log(`${pad('endpoint', 28)}${pad('requests', 10)}${pad('req/s', 10)}${pad('p50 ms', 9)}` +
    `${pad('p99 ms', 9)}${pad('max ms', 9)}${pad('errors', 7)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}` +
    `p99 < ${TARGET} ms`);
  let missed = 0;
  for (const r of rows) {
    if (r.skipped) {
      console.log(`${pad(r.name, 28)}skipped (nothing to ask for)`);
      continue;
    }
    const okp = r.p99 < TARGET && r.errors === 0;
    if (!okp) missed++;
    console.log(`${pad(r.name, 28)}${pad(r.n, 10)}${pad(num(r.rps, 0), 10)}${pad(num(r.p50), 9)}` +
      `${pad(num(r.p99), 9)}${pad(num(r.max), 9)}${pad(r.errors, 7)}${pad(num(r.p50one), 9)}` +
      `${pad(num(r.p99one), 9)}${okp ? 'ok' : 'MISSED'}`);
  }
  agent.destroy();
  process.exitCode = missed ? 1 : 0;
}

main().catch((e) => {
  console.error(`bench/api: ${e.message}`);
  process.exit(1);
});
