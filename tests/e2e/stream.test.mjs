// SPDX-License-Identifier: MIT
// The HTTP server and direct streaming as clients meet them: the Subsonic
// envelope (XML and JSON), authentication failures, /rest/stream and
// /rest/download with ranges and validators, hostile ids and requests, rate
// limiting, and a client that stops reading while others are served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import {
  addUser, cleanup, get, legato, makeAudio, rawRequest, sleep, sql, startServer, subsonic,
  tmpDir, tokenAuth, url, waitFor,
} from './lib.mjs';

const USER = 'alice';
const PASS = 'correct horse';

let dir;
let dirs;
let srv;
const tracks = {}; // file name -> { id, path, bytes }

before(async () => {
  dir = tmpDir('legato-stream-');
  dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  const files = {
    song: 'Artist/Album/01 Song.mp3',
    cafe: 'Ünïcode/Café "Noir".flac',
    big: 'big/long.wav',
  };
  makeAudio(join(dirs.music, files.song), { seconds: 3, tags: { title: 'Song', artist: 'Artist' } });
  makeAudio(join(dirs.music, files.cafe), { seconds: 1 });
  makeAudio(join(dirs.music, files.big), { seconds: 240 }); // ~21 MB: more than socket buffers
  addUser(dirs, USER, PASS, { admin: true });
  srv = await startServer(dirs);
  const db = join(dirs.data, 'legato.db');
  await waitFor(() => sql(db, 'SELECT count(*) FROM tracks') === '3', { what: 'the scan' });
  for (const [key, rel] of Object.entries(files)) {
    const id = sql(db, `SELECT id FROM tracks WHERE path = '${rel.replaceAll("'", "''")}'`);
    const path = join(dirs.music, rel);
    tracks[key] = { id, rel, path, bytes: readFileSync(path) };
  }
});

after(async () => {
  if (srv) {
    const r = await srv.stop();
    // Under the sanitized build a report ends the process with an error.
    assert.doesNotMatch(srv.log(), /AddressSanitizer|LeakSanitizer|runtime error:/);
    assert.equal(r.code, 0, srv.log().slice(-2000));
  }
  if (dir) cleanup(dir);
});

const auth = () => tokenAuth(USER, PASS);
const streamUrl = (key, extra = {}, path = '/rest/stream') =>
  url(srv.base, path, { id: tracks[key].id, ...auth(), ...extra });

test('healthz and unknown paths', async () => {
  const h = await get(`${srv.base}/healthz`);
  assert.equal(h.status, 200);
  assert.deepEqual(JSON.parse(h.body), { status: 'ok' });
  assert.equal((await get(`${srv.base}/nope`)).status, 404);
  assert.equal((await get(`${srv.base}/rest`)).status, 404);
  const m = await subsonic(url(srv.base, '/rest/noSuchMethod', { ...auth(), f: 'json' }));
  assert.equal(m.status, 404);
  assert.equal(m.body.status, 'failed');
});

test('ping: the envelope in JSON and XML, with and without .view', async () => {
  for (const path of ['/rest/ping', '/rest/ping.view']) {
    const r = await subsonic(url(srv.base, path, { ...auth(), f: 'json' }));
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(r.body, {
      status: 'ok', version: '1.16.1', type: 'legato', serverVersion: '0.1.0', openSubsonic: true,
    });
  }
  const x = await get(url(srv.base, '/rest/ping.view', { u: USER, p: PASS }));
  assert.equal(x.status, 200);
  assert.match(x.headers.get('content-type'), /^text\/xml/);
  assert.match(x.body.toString(), /<subsonic-response xmlns="http:\/\/subsonic.org\/restapi" status="ok" version="1.16.1" type="legato" serverVersion="0.1.0" openSubsonic="true"\/>/);
  // The hex-encoded password form.
  const enc = `enc:${Buffer.from(PASS).toString('hex')}`;
  const e = await subsonic(url(srv.base, '/rest/ping', { u: USER, p: enc, f: 'json' }));
  assert.equal(e.body.status, 'ok');
  // JSONP.
  const jp = await get(url(srv.base, '/rest/ping', { ...auth(), f: 'jsonp', callback: 'cb' }));
  assert.match(jp.body.toString(), /^cb\(\{"subsonic-response":\{"status":"ok"/);
});

test('form-encoded POST, merged with the query', async () => {
  const a = auth();
  const body = new URLSearchParams({ u: a.u, t: a.t, s: a.s, f: 'json' });
  const r = await subsonic(`${srv.base}/rest/ping.view`, {
    method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(r.body.status, 'ok');
  // id in the query, credentials in the body: a Range request on /rest/stream.
  const s = await fetch(url(srv.base, '/rest/stream', { id: tracks.song.id }), {
    method: 'POST', body: new URLSearchParams({ u: a.u, t: a.t, s: a.s }),
    headers: { range: 'bytes=0-9' },
  });
  assert.equal(s.status, 206);
  assert.deepEqual(Buffer.from(await s.arrayBuffer()), tracks.song.bytes.subarray(0, 10));
  // Another body type is refused.
  const j = await fetch(`${srv.base}/rest/ping`, {
    method: 'POST', body: '{}', headers: { 'content-type': 'application/json' },
  });
  assert.equal(j.status, 415);
});

test('authentication failures use Subsonic error codes with HTTP 200', async () => {
  const cases = [
    [{ u: USER, p: 'wrong' }, 40],
    [{ u: 'nobody', p: PASS }, 40],
    [{ ...tokenAuth(USER, 'wrong') }, 40],
    [{}, 10],
    [{ u: USER }, 10],
    [{ p: PASS }, 10],
    [{ u: USER, apiKey: 'lg_whatever' }, 43],
    [{ apiKey: 'lg_not-a-key' }, 44],
  ];
  for (const [params, code] of cases) {
    const r = await subsonic(url(srv.base, '/rest/stream', { id: tracks.song.id, ...params, f: 'json' }));
    assert.equal(r.status, 200, JSON.stringify(params));
    assert.equal(r.body.status, 'failed', JSON.stringify(params));
    assert.equal(r.body.error.code, code, JSON.stringify(params));
    assert.equal(typeof r.body.error.message, 'string');
  }
  const x = await get(url(srv.base, '/rest/ping', { u: USER, p: 'wrong' }));
  assert.match(x.body.toString(), /<error code="40" message="Wrong username or password"\/>/);
});

test('an API key works where a password does', () => {
  const r = legato(['user', 'apikey', USER, '--music', dirs.music, '--data', dirs.data]);
  assert.equal(r.status, 0, r.err);
  const key = r.out.trim().split(/\s+/).pop();
  return subsonic(url(srv.base, '/rest/ping', { apiKey: key, f: 'json' })).then((p) => {
    assert.equal(p.body.status, 'ok');
  });
});

test('stream: parameter names compare without case, escaped or not', async () => {
  const a = auth();
  const want = tracks.song.bytes.subarray(10, 20);
  const forms = [
    `ID=${tracks.song.id}&U=${a.u}&T=${a.t}&S=${a.s}&V=1.16.1&C=e2e`,
    `i%64=${tracks.song.id}&u=${a.u}&%54=${a.t}&s=${a.s}&v=1.16.1&c=e2e`,
    `iD=${tracks.song.id}&uU=x&u=${a.u}&t=${a.t}&s=${a.s}&v=1.16.1&c=e2e`,
  ];
  for (const q of forms) {
    const r = await get(`${srv.base}/rest/stream.view?${q}`, { range: 'bytes=10-19' });
    assert.equal(r.status, 206, q);
    assert.deepEqual(r.body, want, q);
  }
  // A name is not a prefix of another: "idx" is no id, "u2" no user.
  const r = await subsonic(`${srv.base}/rest/stream.view?idx=${tracks.song.id}&u2=${a.u}` +
    `&u=${a.u}&t=${a.t}&s=${a.s}&v=1.16.1&c=e2e&f=json`);
  assert.equal(r.body.status, 'failed');
  assert.equal(r.body.error.code, 10); // required parameter missing: id
});

test('stream: the whole file with its validators', async () => {
  const r = await get(streamUrl('song'));
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, tracks.song.bytes);
  assert.equal(r.headers.get('content-type'), 'audio/mpeg');
  assert.equal(r.headers.get('accept-ranges'), 'bytes');
  assert.equal(Number(r.headers.get('content-length')), tracks.song.bytes.length);
  assert.match(r.headers.get('etag'), /^"[0-9a-f-]+"$/);
  const lm = r.headers.get('last-modified');
  assert.match(lm, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  assert.equal(Date.parse(lm) / 1000, Math.floor(statSync(tracks.song.path).mtimeMs / 1000));
  assert.equal(r.headers.get('content-disposition'), null);
  const v = await get(streamUrl('song', {}, '/rest/stream.view'));
  assert.deepEqual(v.body, tracks.song.bytes);
});

test('stream: ranges', async () => {
  const bytes = tracks.song.bytes;
  const size = bytes.length;
  const cases = [
    ['bytes=1000-1999', 206, 1000, 1999],
    ['bytes=-500', 206, size - 500, size - 1],
    ['bytes=100-', 206, 100, size - 1],
    ['bytes=0-0', 206, 0, 0],
    [`bytes=${size - 10}-${size + 5000}`, 206, size - 10, size - 1],
  ];
  for (const [range, status, first, last] of cases) {
    const r = await get(streamUrl('song'), { range });
    assert.equal(r.status, status, range);
    assert.equal(r.headers.get('content-range'), `bytes ${first}-${last}/${size}`, range);
    assert.equal(Number(r.headers.get('content-length')), last - first + 1, range);
    assert.deepEqual(r.body, bytes.subarray(first, last + 1), range);
  }
  for (const range of [`bytes=${size}-`, `bytes=${size + 1}-${size + 9}`, 'bytes=-0']) {
    const r = await get(streamUrl('song'), { range });
    assert.equal(r.status, 416, range);
    assert.equal(r.headers.get('content-range'), `bytes */${size}`, range);
    assert.equal(r.body.length, 0);
  }
  // Malformed, inverted, foreign-unit and multiple ranges: the whole file.
  for (const range of ['bytes=abc', 'bytes=5-2', 'items=0-5', 'bytes=0-1,5-6', 'bytes=--1']) {
    const r = await get(streamUrl('song'), { range });
    assert.equal(r.status, 200, range);
    assert.equal(r.headers.get('content-range'), null, range);
    assert.equal(r.body.length, size, range);
  }
});

test('stream: If-None-Match, If-Modified-Since, If-Range', async () => {
  const first = await get(streamUrl('song'), {}, 'HEAD');
  const etag = first.headers.get('etag');
  const lm = first.headers.get('last-modified');
  let r = await get(streamUrl('song'), { 'if-none-match': etag });
  assert.equal(r.status, 304);
  assert.equal(r.body.length, 0);
  assert.equal(r.headers.get('etag'), etag);
  r = await get(streamUrl('song'), { 'if-none-match': `"other", W/${etag}` });
  assert.equal(r.status, 304);
  r = await get(streamUrl('song'), { 'if-none-match': '*' });
  assert.equal(r.status, 304);
  r = await get(streamUrl('song'), { 'if-none-match': '"other"' });
  assert.equal(r.status, 200);
  r = await get(streamUrl('song'), { 'if-modified-since': lm });
  assert.equal(r.status, 304);
  r = await get(streamUrl('song'), { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' });
  assert.equal(r.status, 200);
  r = await get(streamUrl('song'), { range: 'bytes=10-19', 'if-range': etag });
  assert.equal(r.status, 206);
  r = await get(streamUrl('song'), { range: 'bytes=10-19', 'if-range': lm });
  assert.equal(r.status, 206);
  r = await get(streamUrl('song'), { range: 'bytes=10-19', 'if-range': '"stale"' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, tracks.song.bytes.length);
  r = await get(streamUrl('song'), { range: 'bytes=10-19', 'if-range': `W/${etag}` });
  assert.equal(r.status, 200);
});

test('stream: HEAD sends headers only', async () => {
  const r = await get(streamUrl('song'), {}, 'HEAD');
  assert.equal(r.status, 200);
  assert.equal(Number(r.headers.get('content-length')), tracks.song.bytes.length);
  assert.equal(r.body.length, 0);
  const p = await get(streamUrl('song'), { range: 'bytes=0-99' }, 'HEAD');
  assert.equal(p.status, 206);
  assert.equal(p.headers.get('content-range'), `bytes 0-99/${tracks.song.bytes.length}`);
  // The connection stays usable: HEAD must not leave body bytes behind.
  const raw = await rawRequest(srv.port,
    `HEAD ${new URL(streamUrl('song')).pathname}${new URL(streamUrl('song')).search} HTTP/1.1\r\nHost: x\r\n\r\n` +
    'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const text = raw.raw.toString('latin1');
  assert.match(text, /^HTTP\/1\.1 200/);
  assert.match(text, /\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\{"status":"ok"\}$/);
});

test('download: attachment with a safe, UTF-8 file name', async () => {
  const r = await get(streamUrl('cafe', {}, '/rest/download'));
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, tracks.cafe.bytes);
  assert.equal(r.headers.get('content-type'), 'audio/flac');
  assert.equal(r.headers.get('content-disposition'),
    `attachment; filename="Caf_ _Noir_.flac"; filename*=UTF-8''Caf%C3%A9%20%22Noir%22.flac`);
  const v = await get(streamUrl('song', { }, '/rest/download.view'), { range: 'bytes=5-9' });
  assert.equal(v.status, 206);
  assert.equal(v.headers.get('content-disposition'),
    `attachment; filename="01 Song.mp3"; filename*=UTF-8''01%20Song.mp3`);
});

test('bad ids: missing, unknown, non-numeric, traversal', async () => {
  const expect = async (id, code) => {
    const params = { ...auth(), f: 'json' };
    if (id !== undefined) params.id = id;
    for (const path of ['/rest/stream', '/rest/download']) {
      const r = await subsonic(url(srv.base, path, params));
      assert.equal(r.status, 200, `${path} id=${id}`);
      assert.equal(r.body.status, 'failed', `${path} id=${id}`);
      assert.equal(r.body.error.code, code, `${path} id=${id}`);
    }
  };
  await expect(undefined, 10);
  await expect('', 10);
  await expect('999999', 70);
  await expect('0', 70);
  await expect('-1', 70);
  await expect('abc', 70);
  await expect('1e3', 70);
  await expect(' 1', 70);
  await expect('99999999999999999999999', 70);
  await expect('../../../../etc/passwd', 70);
  await expect('/etc/passwd', 70);
  await expect(`${tracks.song.id}/../../etc/passwd`, 70);
  // An error in XML by default, as the spec says for stream.
  const x = await get(url(srv.base, '/rest/stream', { id: 'nope', ...auth() }));
  assert.match(x.headers.get('content-type'), /^text\/xml/);
  assert.match(x.body.toString(), /<error code="70"/);
  // Raw traversal in the path itself.
  const t = await rawRequest(srv.port, 'GET /rest/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.ok([400, 404].includes(t.status), t.head);
  assert.doesNotMatch(t.raw.toString(), /root:/);
});

test('oversized request line and headers get 414/431, and the server lives on', async () => {
  const longUrl = `/rest/ping?u=${'a'.repeat(100000)}`;
  const r = await rawRequest(srv.port, `GET ${longUrl} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.ok([414, 431].includes(r.status), r.head);
  const h = await rawRequest(srv.port,
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(100000)}\r\n\r\n`);
  assert.ok([413, 431].includes(h.status), h.head);
  assert.equal((await get(`${srv.base}/healthz`)).status, 200);
});

test('the request log has no secrets', async () => {
  const secret = 'S3cr3t-in-the-url';
  await get(url(srv.base, '/rest/ping', { u: USER, p: secret, c: 'logcheck' }));
  const a = auth();
  await get(url(srv.base, '/rest/ping', { ...a, c: 'logcheck2' }));
  await get(url(srv.base, '/rest/ping', { apiKey: 'lg_fake-key-value', c: 'logcheck3' }));
  await waitFor(() => srv.log().includes('logcheck3'), { what: 'the log line' });
  const log = srv.log();
  assert.match(log, /GET \/rest\/ping\?u=alice&c=logcheck 200 \d+ \d+\.\d\dms 127\.0\.0\.1\n/);
  for (const s of [secret, a.t, `s=${a.s}`, 'lg_fake-key-value']) assert.ok(!log.includes(s), s);
});

test('the request log line takes odd methods safely', async () => {
  // A long method token is cut to 32 bytes; control bytes (a terminal
  // escape here) are written as '?'.
  const long = 'M'.repeat(100);
  let r = await rawRequest(srv.port, `${long} /healthz?odd=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.equal(r.status, 405);
  r = await rawRequest(srv.port, 'G\x1bT /healthz?odd=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 405);
  await waitFor(() => srv.log().includes('?odd=2'), { what: 'the log lines' });
  const log = srv.log();
  assert.match(log, new RegExp(`\\n[^\\n]* http: ${'M'.repeat(32)} /healthz\\?odd=1 405 `));
  assert.match(log, /http: G\?T \/healthz\?odd=2 405 /);
  assert.ok(!log.includes('\x1b'));
});

test('a client that stops reading does not hold up others', async () => {
  // A second server with a single HTTP thread: if anything blocked, it would
  // block everything.
  const one = await startServer(dirs, ['--http-threads', '1', '--conn-timeout', '30']);
  try {
    const u = new URL(url(one.base, '/rest/stream', { id: tracks.big.id, ...auth() }));
    const stalled = [];
    for (let i = 0; i < 3; i++) {
      const s = net.connect(one.port, '127.0.0.1');
      await new Promise((res) => s.on('connect', res));
      s.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: x\r\n\r\n`);
      s.pause(); // read nothing: the server's send buffer fills up
      stalled.push(s);
    }
    await sleep(300);
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      const r = await get(url(one.base, '/rest/stream', { id: tracks.song.id, ...auth() }), { range: 'bytes=0-65535' });
      assert.equal(r.status, 206);
      assert.deepEqual(r.body, tracks.song.bytes.subarray(0, 65536));
    }
    const p = await subsonic(url(one.base, '/rest/ping', { ...auth(), f: 'json' }));
    assert.equal(p.body.status, 'ok');
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    // A client that vanishes mid-transfer is dropped without harm.
    stalled[0].destroy();
    const whole = await get(url(one.base, '/rest/stream', { id: tracks.big.id, ...auth() }));
    assert.equal(whole.body.length, tracks.big.bytes.length);
    for (const s of stalled) s.destroy();
  } finally {
    await one.stop();
  }
});

test('connection limits: per IP, and the server recovers', async () => {
  const lim = await startServer(dirs, ['--max-per-ip', '2']);
  try {
    const open = () => new Promise((res) => {
      const s = net.connect(lim.port, '127.0.0.1');
      const state = { s, closed: false, data: '' };
      s.on('data', (d) => { state.data += d; });
      s.on('close', () => { state.closed = true; });
      s.on('error', () => {});
      s.on('connect', () => res(state));
    });
    const a = await open();
    const b = await open();
    a.s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    b.s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => a.data.includes('"ok"') && b.data.includes('"ok"'), { what: 'two answers' });
    const c = await open(); // the third from this address is refused
    c.s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => c.closed, { what: 'the third connection to be closed' });
    assert.equal(c.data, '');
    a.s.destroy();
    await sleep(100);
    assert.equal((await rawRequest(lim.port,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 200);
    b.s.destroy();
  } finally {
    await lim.stop();
  }
});

test('failed logins are rate limited: 429 with Retry-After and a Subsonic body', async () => {
  const limited = await startServer(dirs, ['--login-attempts', '3']);
  try {
    let r;
    for (let i = 0; i < 20; i++) {
      r = await fetch(url(limited.base, '/rest/ping', { u: USER, p: `wrong${i}`, f: 'json' }));
      if (r.status === 429) break;
      const body = await r.json();
      assert.equal(body['subsonic-response'].error.code, 40);
    }
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    const body = (await r.json())['subsonic-response'];
    assert.equal(body.status, 'failed');
    assert.equal(typeof body.error.code, 'number');
    const x = await get(url(limited.base, '/rest/ping', { u: USER, p: 'wrong' }));
    assert.equal(x.status, 429);
    assert.match(x.body.toString(), /^<\?xml[^]*<error code="\d+"/);
  } finally {
    await limited.stop();
  }
});

test('the server stops cleanly on SIGTERM', async () => {
  const s = await startServer(dirs);
  const r = await s.stop();
  assert.equal(r.code, 0, s.log());
});
