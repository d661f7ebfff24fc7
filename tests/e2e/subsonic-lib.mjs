// SPDX-License-Identifier: MIT
// Shared by the Subsonic API suites (subsonic-*.test.mjs): a small library
// with known tags made with the ffmpeg CLI, a server started on it with two
// users and an API key, the `subsonic-api` npm client wired to a fetch that
// validates every JSON answer against the OpenSubsonic schema of its
// endpoint, raw requests in JSON or XML with any credentials, and a check
// that an XML answer carries the same data as its JSON twin.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { SubsonicAPI } from 'subsonic-api';
import {
  addUser, cleanup, legato, makeAudio, sql, startServer, tmpDir, waitFor,
} from './lib.mjs';
import { assertSchema } from './subsonic-schema.mjs';

export const ADMIN = { name: 'alice', password: 'alice secret' };
// Printable ASCII only: the subsonic-api client's MD5 hashes UTF-16 code units,
// not UTF-8 bytes (a non-ASCII password is tested with raw requests).
export const USER = { name: 'bob', password: 'bob p@ss+w&rd=%' };

// The library: three albums by two artists (one a compilation without an
// album artist, so "Various Artists"), eight tracks. Paths are relative to
// the music folder; every tag below is asserted against what the API says.
export const ALBUMS = [
  {
    name: 'First Light', artist: 'Alpha Band', year: 2001, genre: 'Rock', suffix: 'mp3',
    dir: 'Alpha Band/First Light', cover: 'sidecar', compilation: false,
    tracks: [
      { n: 1, title: 'Dawn', seconds: 3, composer: 'Ann Writer', lrc: true,
        mbid: '5b11f4ce-a62d-471e-81fc-a69a8278c7da' },
      { n: 2, title: 'Noon', seconds: 2 },
      { n: 3, title: 'Dusk', seconds: 4 },
    ],
  },
  {
    name: 'Blue Hour', artist: 'Beta Singer', year: 2005, genre: 'Jazz', suffix: 'flac',
    dir: 'Beta Singer/Blue Hour', cover: 'embedded', compilation: false,
    tracks: [
      { n: 1, title: 'Blue Moon Rising', seconds: 2, picture: true },
      { n: 2, title: 'Night Owl', seconds: 3 },
    ],
  },
  {
    name: 'Mixed Bag', artist: 'Various Artists', year: 2010, genre: 'Electronic', suffix: 'mp3',
    dir: 'Compilations/Mixed Bag', cover: null, compilation: true,
    tracks: [
      { n: 1, title: 'Alpha Remix', seconds: 2, artist: 'Alpha Band' },
      { n: 2, title: 'Beta Remix', seconds: 2, artist: 'Beta Singer' },
      { n: 3, title: 'Gamma Ray', seconds: 3, artist: 'Alpha Band' },
    ],
  },
];
for (const al of ALBUMS) {
  for (const t of al.tracks) {
    t.album = al;
    t.artist ||= al.artist;
    t.path = `${al.dir}/${String(t.n).padStart(2, '0')} ${t.title}.${al.suffix}`;
  }
}
export const TRACKS = ALBUMS.flatMap((a) => a.tracks);
export const GENRES = ['Rock', 'Jazz', 'Electronic'];
export const LYRICS = [
  [0, 'First line of the dawn'],
  [1500, 'Second line, sung later'],
  [2250, 'Third and last line'],
];
export const M3U = { name: 'Road Trip', file: 'Road Trip.m3u',
  tracks: ['Dusk', 'Blue Moon Rising', 'Alpha Remix'] };

const ffmpeg = (args) => {
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
};

function lrcTime(ms) {
  const m = Math.floor(ms / 60000);
  const s = (ms % 60000) / 1000;
  return `${String(m).padStart(2, '0')}:${s.toFixed(2).padStart(5, '0')}`;
}

// Writes the library into dir; returns nothing (ALBUMS describes it).
export function makeLibrary(dir) {
  for (const al of ALBUMS) {
    mkdirSync(join(dir, al.dir), { recursive: true });
    const png = join(dir, al.dir, 'cover.png');
    if (al.cover) {
      ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:s=600x600:d=1', '-frames:v', '1', '-update', '1', png]);
    }
    for (const t of al.tracks) {
      const tags = {
        title: t.title, artist: t.artist, album: al.name, track: `${t.n}/${al.tracks.length}`,
        disc: '1/1', date: String(al.year), genre: al.genre,
      };
      if (!al.compilation) tags.album_artist = al.artist;
      else tags.compilation = '1';
      if (t.composer) tags.composer = t.composer;
      if (t.mbid) tags['MusicBrainz Track Id'] = t.mbid;
      const out = join(dir, t.path);
      if (t.picture) {
        const args = ['-f', 'lavfi', '-i', `sine=frequency=${300 + t.n * 50}:duration=${t.seconds}`,
          '-i', png, '-map', '0:a', '-map', '1:v', '-c:v', 'png', '-disposition:v', 'attached_pic'];
        for (const [k, v] of Object.entries(tags)) args.push('-metadata', `${k}=${v}`);
        ffmpeg([...args, out]);
      } else {
        makeAudio(out, { seconds: t.seconds, freq: 300 + t.n * 50, tags });
      }
      if (t.lrc) {
        const lrc = LYRICS.map(([ms, line]) => `[${lrcTime(ms)}]${line}`).join('\n');
        writeFileSync(out.replace(/\.[^.]+$/, '.lrc'), `[ar:${t.artist}]\n[ti:${t.title}]\n${lrc}\n`);
      }
    }
    // The embedded picture is the only cover of that album.
    if (al.cover === 'embedded') rmSync(png, { force: true });
  }
  const byTitle = Object.fromEntries(TRACKS.map((t) => [t.title, t]));
  writeFileSync(join(dir, M3U.file),
    `#EXTM3U\n${M3U.tracks.map((title) => `#EXTINF:-1,${title}\n${byTitle[title].path}`).join('\n')}\n`);
}

export const md5 = (s) => createHash('md5').update(s).digest('hex');
export const salt = () => randomBytes(6).toString('hex');

// Credentials as query parameters: mode is 'token', 'password', 'enc'
// (p=enc:HEX) or 'apiKey'.
export function creds(ctx, user = ADMIN, mode = 'token') {
  if (mode === 'apiKey') return { apiKey: ctx.keys[user.name] };
  if (mode === 'password') return { u: user.name, p: user.password };
  if (mode === 'enc') return { u: user.name, p: `enc:${Buffer.from(user.password).toString('hex')}` };
  const s = salt();
  return { u: user.name, t: md5(user.password + s), s };
}

const xmlParser = new XMLParser({
  ignoreAttributes: false, attributeNamePrefix: '', textNodeName: '#text',
  parseAttributeValue: false, parseTagValue: false, trimValues: false, alwaysCreateTextNode: true,
  htmlEntities: true, // decode numeric references such as &#10; in element text
  isArray: (name, jpath, isLeaf, isAttribute) => !isAttribute && jpath !== 'subsonic-response',
});

// Parses an XML answer; returns the subsonic-response element.
export function parseXml(text) {
  assert.match(text, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
  const doc = xmlParser.parse(text);
  assert.ok(doc['subsonic-response'], `no subsonic-response element: ${text.slice(0, 200)}`);
  return doc['subsonic-response'];
}

// Asserts that the XML element x carries exactly the data of the JSON value
// j: scalars as attributes (booleans as true/false), objects as one child
// element, arrays as repeated elements in the same order, "value" as text.
export function assertSameData(j, x, path = 'subsonic-response') {
  for (const [k, v] of Object.entries(j)) {
    const at = `${path}/${k}`;
    if (k === 'value' && typeof v !== 'object') {
      assert.equal(x['#text'] ?? '', String(v), `${at}: element text`);
    } else if (Array.isArray(v)) {
      const xs = x[k] || [];
      assert.equal(xs.length, v.length, `${at}: ${v.length} elements in JSON, ${xs.length} in XML`);
      v.forEach((item, i) => {
        if (item && typeof item === 'object') assertSameData(item, xs[i], `${at}[${i}]`);
        else assert.equal(xs[i]?.['#text'] ?? xs[i], String(item), `${at}[${i}]`);
      });
    } else if (v && typeof v === 'object') {
      assert.equal(x[k]?.length, 1, `${at}: one element expected in XML`);
      assertSameData(v, x[k][0], at);
    } else if (typeof v === 'number') {
      assert.equal(Number(x[k]), v, `${at}: ${v} in JSON, ${x[k]} in XML`);
    } else {
      assert.equal(x[k], String(v), `${at}: attribute`);
    }
  }
  // Nothing in the XML that the JSON lacks (xmlns is XML's own).
  for (const k of Object.keys(x)) {
    if (k === 'xmlns') continue;
    if (k === '#text') {
      assert.ok('value' in j || !x[k].trim(), `${path}: text ${JSON.stringify(x[k])} in XML, no value in JSON`);
      continue;
    }
    assert.ok(k in j, `${path}/${k}: in XML, not in JSON`);
  }
}

// The last request the client sent (credentials masked), named in failures.
let lastCall = '';
const methodOf = (u) => u.pathname.split('/').pop().replace(/\.view$/, '');

// A fetch that checks every JSON answer against its endpoint's schema and
// keeps the last answer; with password set, it swaps the token credentials
// the client computes for p (plain or enc:HEX) before sending.
export function checkingFetch(record, { password = null } = {}) {
  return async (input, init = {}) => {
    const u = new URL(typeof input === 'string' ? input : input.url);
    if (password) {
      const swap = (q) => { q.delete('t'); q.delete('s'); q.set('p', password); };
      if (init.body) {
        const q = new URLSearchParams(init.body);
        swap(q);
        init = { ...init, body: q.toString() };
      } else {
        swap(u.searchParams);
      }
    }
    lastCall = `${methodOf(u)} ${init.body || u.search}`.replace(/([?&](t|s|p|apiKey)=)[^&]*/g, '$1*');
    const r = await fetch(u, init);
    const ct = r.headers.get('content-type') || '';
    if (!ct.startsWith('application/json')) {
      record.last = { method: methodOf(u), status: r.status, contentType: ct };
      return r;
    }
    const text = await r.text();
    const body = JSON.parse(text);
    assertSchema(methodOf(u), body);
    record.last = { method: methodOf(u), status: r.status, body, text };
    record.count = (record.count || 0) + 1;
    return new Response(text, { status: r.status, headers: r.headers });
  };
}

// A `subsonic-api` client for user with credentials of mode 'token' (the
// client's own), 'password' / 'enc' (swapped in by the fetch) or 'apiKey';
// opts go to the client (post, salt, reuseSalt). client.record.last holds
// the last answer as sent.
export function client(ctx, user = ADMIN, mode = 'token', opts = {}) {
  const record = {};
  let password = null;
  if (mode === 'password') password = user.password;
  if (mode === 'enc') password = `enc:${Buffer.from(user.password).toString('hex')}`;
  const auth = mode === 'apiKey' ? { apiKey: ctx.keys[user.name] }
    : { username: user.name, password: user.password };
  const api = new SubsonicAPI({ url: ctx.srv.base, auth, fetch: checkingFetch(record, { password }), ...opts });
  api.record = record;
  return api;
}

// One raw request. opts: auth (query params; default the admin's token;
// null for none), f ('json' default, or 'xml' for none), post (form body),
// view (add ".view"), v (protocol version). JSON answers are checked
// against the schema. Resolves { status, headers, text, body } where body is
// the subsonic-response object (JSON) or element (XML).
export async function raw(ctx, method, params = {}, opts = {}) {
  const { f = 'json', post = false, view = false, v = '1.16.1', c = 'e2e' } = opts;
  const auth = opts.auth === undefined ? creds(ctx) : opts.auth;
  const q = new URLSearchParams({ v, c, ...(auth || {}) });
  if (f !== 'xml') q.set('f', f);
  for (const [k, val] of Object.entries(params)) {
    if (val === undefined || val === null) continue;
    if (Array.isArray(val)) val.forEach((x) => q.append(k, String(x)));
    else q.set(k, String(val));
  }
  const path = `${ctx.srv.base}/rest/${method}${view ? '.view' : ''}`;
  lastCall = `${method} ?${q}`.replace(/([?&](t|s|p|apiKey)=)[^&]*/g, '$1*');
  const init = post
    ? { method: 'POST', body: q.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
    : { method: 'GET' };
  const r = await fetch(post ? path : `${path}?${q}`, init);
  const text = await r.text();
  const out = { status: r.status, headers: r.headers, text };
  if (f === 'xml') {
    out.body = parseXml(text);
  } else if (f === 'json') {
    const doc = JSON.parse(text);
    assertSchema(method, doc);
    out.body = doc['subsonic-response'];
  }
  return out;
}

// Asserts a Subsonic success and returns the envelope.
export function ok(env, what = '') {
  what ||= lastCall;
  assert.ok(env, `${what}: no answer`);
  assert.equal(env.status, 'ok', `${what}: ${JSON.stringify(env.error || env).slice(0, 300)}`);
  return env;
}

// Asserts a Subsonic error with the given code (and message pattern).
export function fails(env, code, message = null, what = '') {
  what ||= lastCall;
  assert.equal(env.status, 'failed', `${what}: expected error ${code}, got ${JSON.stringify(env).slice(0, 300)}`);
  assert.equal(env.error.code, code, `${what}: ${JSON.stringify(env.error)}`);
  if (message) assert.match(env.error.message, message, what);
  return env.error;
}

// Sorts, in place, every array of objects with ids by id (for answers in
// random order).
function sortById(node) {
  if (Array.isArray(node)) {
    node.forEach(sortById);
    if (node.every((x) => x && typeof x === 'object' && 'id' in x)) {
      node.sort((a, b) => String(a.id).localeCompare(String(b.id)));
    }
  } else if (node && typeof node === 'object') {
    Object.values(node).forEach(sortById);
  }
}

// The JSON and the XML answer to the same request carry the same data
// (opts.anyOrder: the same elements in any order, for random answers).
export async function assertXmlParity(ctx, method, params = {}, opts = {}) {
  const auth = opts.auth || creds(ctx);
  const j = await raw(ctx, method, params, { ...opts, auth });
  const x = await raw(ctx, method, params, { ...opts, auth, f: 'xml' });
  assert.equal(x.status, j.status, `${method}: HTTP status JSON vs XML`);
  assert.match(x.headers.get('content-type'), /^(text|application)\/xml/);
  if (opts.anyOrder) {
    sortById(j.body);
    sortById(x.body);
  }
  assertSameData(j.body, x.body);
  return { json: j.body, xml: x.body };
}

// Makes the library, two users (ADMIN an admin) with an API key each,
// starts the server and waits for the scan. ctx.ids maps titles to song
// ids, album names to "al-N" and artist names to "ar-N" (read from the
// database, the only place ids can come from).
export async function setup(prefix = 'legato-subsonic-') {
  const dir = tmpDir(prefix);
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  makeLibrary(dirs.music);
  addUser(dirs, ADMIN.name, ADMIN.password, { admin: true });
  addUser(dirs, USER.name, USER.password);
  const keys = {};
  for (const u of [ADMIN, USER]) {
    const r = legato(['user', 'apikey', u.name, '--music', dirs.music, '--data', dirs.data]);
    assert.equal(r.status, 0, r.err);
    keys[u.name] = r.out.trim();
  }
  const srv = await startServer(dirs, ['--login-attempts', '10000']);
  const ctx = { dir, dirs, srv, keys, db: join(dirs.data, 'legato.db') };
  await waitForScan(ctx);
  ctx.ids = readIds(ctx);
  return ctx;
}

// Waits until the scan has finished with every track: through
// getScanStatus when the server has it, else the database.
export async function waitForScan(ctx, count = TRACKS.length) {
  await waitFor(async () => {
    const r = await fetch(`${ctx.srv.base}/rest/getScanStatus?${new URLSearchParams({
      ...creds(ctx), v: '1.16.1', c: 'e2e', f: 'json' })}`);
    const env = r.status === 200 ? (await r.json())['subsonic-response'] : null;
    if (env?.status === 'ok' && env.scanStatus) {
      return !env.scanStatus.scanning && env.scanStatus.count >= count;
    }
    return Number(sql(ctx.db, 'SELECT count(*) FROM tracks')) >= count;
  }, { timeoutMs: 30000, intervalMs: 100, what: 'the scan' });
}

function readIds(ctx) {
  const ids = { songs: {}, albums: {}, artists: {}, byPath: {} };
  for (const line of sql(ctx.db, 'SELECT id, path, title FROM tracks').split('\n')) {
    const [id, path, ...title] = line.split('|');
    ids.byPath[path] = id;
    ids.songs[title.join('|')] = id;
  }
  for (const line of sql(ctx.db, 'SELECT id, name FROM albums').split('\n')) {
    const [id, ...name] = line.split('|');
    ids.albums[name.join('|')] = `al-${id}`;
  }
  for (const line of sql(ctx.db, 'SELECT id, name FROM artists').split('\n')) {
    const [id, ...name] = line.split('|');
    ids.artists[name.join('|')] = `ar-${id}`;
  }
  for (const t of TRACKS) assert.ok(ids.songs[t.title], `track ${t.title} scanned`);
  return ids;
}

// Stops the server (asserting a clean exit under the sanitizers) and
// removes the folder.
export async function teardown(ctx) {
  if (!ctx) return;
  if (ctx.srv) {
    const r = await ctx.srv.stop();
    assert.doesNotMatch(ctx.srv.log(), /AddressSanitizer|LeakSanitizer|runtime error:/);
    assert.equal(r.code, 0, ctx.srv.log().slice(-2000));
  }
  cleanup(ctx.dir);
}

// Song of a title in the known library.
export const song = (title) => TRACKS.find((t) => t.title === title);

// Asserts that a Child (song) answer matches the known tags of its track.
export function assertSong(ctx, s, title, { userRating, starred } = {}) {
  const t = song(title);
  assert.ok(t, `unknown title ${title}`);
  const what = `song ${title}`;
  assert.equal(s.id, ctx.ids.songs[title], `${what}: id`);
  assert.equal(typeof s.id, 'string', `${what}: id is a string`);
  assert.equal(s.title, t.title, `${what}: title`);
  assert.equal(s.album, t.album.name, `${what}: album`);
  assert.equal(s.artist, t.artist, `${what}: artist`);
  assert.equal(s.track, t.n, `${what}: track`);
  assert.equal(s.discNumber, 1, `${what}: discNumber`);
  assert.equal(s.year, t.album.year, `${what}: year`);
  assert.equal(s.genre, t.album.genre, `${what}: genre`);
  assert.equal(s.isDir, false, `${what}: isDir`);
  assert.equal(s.isVideo, false, `${what}: isVideo`);
  assert.equal(s.type, 'music', `${what}: type`);
  assert.equal(s.mediaType, 'song', `${what}: mediaType`);
  assert.equal(s.albumId, ctx.ids.albums[t.album.name], `${what}: albumId`);
  assert.equal(s.parent, ctx.ids.albums[t.album.name], `${what}: parent`);
  // artistId: the track artist (as artist, and as Navidrome does) where it
  // is an artist of the catalogue, or the album's artist.
  assert.ok([ctx.ids.artists[t.artist], ctx.ids.artists[t.album.artist]].includes(s.artistId),
    `${what}: artistId ${s.artistId}`);
  assert.equal(s.suffix, t.album.suffix, `${what}: suffix`);
  assert.equal(s.contentType, t.album.suffix === 'mp3' ? 'audio/mpeg' : 'audio/flac', `${what}: contentType`);
  assert.equal(s.path, t.path, `${what}: path`);
  assert.ok(Math.abs(s.duration - t.seconds) <= 1, `${what}: duration ${s.duration} ~ ${t.seconds}`);
  assert.ok(s.size > 0 && s.bitRate > 0 && s.samplingRate === 44100 && s.channelCount === 1,
    `${what}: size ${s.size}, bitRate ${s.bitRate}, samplingRate ${s.samplingRate}, channelCount ${s.channelCount}`);
  assert.deepEqual(s.genres, [{ name: t.album.genre }], `${what}: genres`);
  assert.deepEqual(s.artists, [{ id: ctx.ids.artists[t.artist], name: t.artist }], `${what}: artists`);
  assert.equal(s.displayArtist, t.artist, `${what}: displayArtist`);
  assert.deepEqual(s.albumArtists, [{ id: ctx.ids.artists[t.album.artist], name: t.album.artist }],
    `${what}: albumArtists`);
  assert.equal(s.displayAlbumArtist, t.album.artist, `${what}: displayAlbumArtist`);
  assert.equal(s.musicBrainzId ?? '', t.mbid ?? '', `${what}: musicBrainzId`);
  if (t.composer) {
    assert.equal(s.displayComposer, t.composer, `${what}: displayComposer`);
    assert.ok((s.contributors || []).some((c) => c.role === 'composer' && c.artist?.name === t.composer),
      `${what}: composer among contributors ${JSON.stringify(s.contributors)}`);
  }
  const created = s.created instanceof Date ? s.created : new Date(s.created);
  assert.ok(!Number.isNaN(created.getTime()) && Math.abs(Date.now() - created) < 3600e3,
    `${what}: created ${s.created}`);
  if (t.album.cover || t.picture) assert.ok(s.coverArt, `${what}: coverArt`);
  if (userRating !== undefined) assert.equal(s.userRating ?? 0, userRating, `${what}: userRating`);
  if (starred !== undefined) assert.equal(Boolean(s.starred), starred, `${what}: starred`);
}
