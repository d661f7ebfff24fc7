// SPDX-License-Identifier: MIT
// Hand-off ("continue on another device") over HTTP: a device signed in by
// the device grant (Bearer token) or a Subsonic player (credentials) posts
// its queue and gets a link whose PNG and SVG QR codes zbarimg reads back to
// the link; the link's page, opened in a signed-in browser session, shows
// what would continue without using the link up; "Continue here" claims it
// once (then 410) and saves the queue, which the `subsonic-api` client then
// reads back with getPlayQueue; another user gets 403 and cannot use the
// link up; links expire; /api/handoff/claim does the same for a device.
// Also the sign-in form's CSRF pair and its safe redirects, the start page
// and its cookie-authenticated audio.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SubsonicAPI } from 'subsonic-api';
import {
  addUser, cleanup, makeAudio, sql, startServer, tmpDir, tokenAuth, waitFor,
} from './lib.mjs';
import { svgToPng, zbar } from './qr-lib.mjs';

const ANN = { name: 'ann', password: 'ann secret' };
const BOB = { name: 'bob', password: 'bob secret' };
const SONGS = [
  { file: 'a.mp3', title: 'Alpha', artist: 'Ann Artist' },
  { file: 'b.mp3', title: 'Beta', artist: 'Ben <b>Bold</b>' },
  { file: 'c.mp3', title: 'Gamma', artist: 'Gina' },
];
const TOKEN_RE = /\/handoff\/([A-Za-z0-9_-]{43})$/;

let dir;
let dirs;
let srv;
let short; // a server whose links live 10 s
let shortLink;
let shortMade;
const id = {}; // title -> track id

async function scanned(db) {
  await waitFor(() => {
    try {
      return Number(sql(db, 'SELECT count(*) FROM tracks')) === SONGS.length;
    } catch {
      return false;
    }
  }, { what: 'the scan' });
}

before(async () => {
  dir = tmpDir('legato-handoff-');
  dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  mkdirSync(dirs.music, { recursive: true });
  SONGS.forEach((s, i) => makeAudio(join(dirs.music, s.file),
    { seconds: 20, freq: 330 + 110 * i, tags: { title: s.title, artist: s.artist, album: 'Hand' } }));
  addUser(dirs, ANN.name, ANN.password, { admin: true });
  addUser(dirs, BOB.name, BOB.password);
  srv = await startServer(dirs);
  await scanned(join(dirs.data, 'legato.db'));
  for (const line of sql(join(dirs.data, 'legato.db'), 'SELECT id, title FROM tracks').split('\n')) {
    const [i, title] = line.split('|');
    id[title] = i;
  }
  const sdirs = { music: dirs.music, data: join(dir, 'data-short') };
  addUser(sdirs, ANN.name, ANN.password);
  short = await startServer(sdirs, ['--handoff-ttl', '10']);
  await scanned(join(sdirs.data, 'legato.db'));
  const tid = sql(join(sdirs.data, 'legato.db'), 'SELECT id FROM tracks LIMIT 1');
  shortMade = Date.now();
  const r = await api('/api/handoff', { id: [tid] }, { creds: ANN, base: short.base });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.expires_in, 10);
  shortLink = r.body.url;
});

after(async () => {
  await srv?.stop();
  await short?.stop();
  cleanup(dir);
});

// --- helpers ---

const formBody = (o) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  }
  return q.toString();
};

async function req(path, { method = 'GET', body, cookie, headers = {}, base = srv.base } = {}) {
  const h = { ...headers };
  if (body) h['content-type'] = 'application/x-www-form-urlencoded';
  if (cookie) h.cookie = cookie;
  const u = path.startsWith('http') ? path : `${base}${path}`;
  const r = await fetch(u, { method, headers: h, body: body && formBody(body), redirect: 'manual' });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

// POST to the JSON API as a Bearer token or a user's Subsonic credentials.
async function api(path, fields, { bearer, creds, base = srv.base } = {}) {
  const headers = bearer ? { authorization: `Bearer ${bearer}` } : {};
  const auth = creds ? tokenAuth(creds.name, creds.password) : {};
  const r = await req(path, { method: 'POST', body: { ...auth, ...fields }, headers, base });
  return { status: r.status, headers: r.headers, body: r.text ? JSON.parse(r.text) : null };
}

const setCookie = (r, name) => r.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
const pair = (r, name) => setCookie(r, name)?.split(';')[0];
const csrfOf = (html) => html.match(/name="csrf" value="([^"]+)"/)[1];
const tokenOf = (url) => url.match(TOKEN_RE)[1];
const pathOf = (url) => new URL(url).pathname;

// Signs a browser session in through the form that path shows signed out.
async function webLogin(user, path = '/') {
  const page = await req(path);
  assert.equal(page.status, 200);
  const r = await req('/device/login', { method: 'POST', cookie: pair(page, 'legato_login'),
    body: { csrf: csrfOf(page.text), username: user.name, password: user.password,
      next: page.text.match(/name="next" value="([^"]+)"/)?.[1] } });
  assert.equal(r.status, 303, r.text);
  assert.equal(r.headers.get('location'), path);
  return pair(r, 'legato_session');
}

async function bearerToken() {
  const a = await api('/oauth/device_authorization', { client_id: 'tv', device_name: 'Hall TV' });
  const ok = await api('/api/device/approve', { user_code: a.body.user_code, approve: 'true' },
    { creds: ANN });
  assert.equal(ok.status, 200);
  const t = await api('/oauth/token', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    device_code: a.body.device_code, client_id: 'tv' });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  return t.body.access_token;
}

const subsonic = (user) => new SubsonicAPI({ url: srv.base,
  auth: { username: user.name, password: user.password } });

async function playQueue(user) {
  const env = await subsonic(user).getPlayQueue();
  assert.equal(env.status, 'ok', JSON.stringify(env));
  return env.playQueue;
}

function assertPageHeaders(r, { script = false } = {}) {
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  if (script) {
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /media-src 'self'/);
    assert.match(csp, /img-src 'self' data:/);
  } else {
    assert.doesNotMatch(csp, /script-src/);
  }
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(r.headers.get('cache-control'), 'no-store');
}

// The queue every test hands off: Beta, Alpha, Gamma, resuming Gamma at 7.5 s.
const QUEUE = () => ({ id: [id.Beta, id.Alpha, id.Gamma], current: 2, position: 7500 });

// --- tests ---

test('a device with a Bearer token makes a link; both QR codes read back to it', async () => {
  const r = await api('/api/handoff', QUEUE(), { bearer: await bearerToken() });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const { url, qr_svg: svg, qr_png: png, expires_in: ttl } = r.body;
  assert.match(url, new RegExp(`^${srv.base}/handoff/[A-Za-z0-9_-]{43}$`));
  assert.equal(svg, `${url}/qr.svg`);
  assert.equal(png, `${url}/qr.png`);
  assert.equal(ttl, 300);

  const p = await fetch(png);
  assert.equal(p.status, 200);
  assert.equal(p.headers.get('content-type'), 'image/png');
  assert.equal(p.headers.get('cache-control'), 'no-store');
  const pngFile = join(dir, 'handoff.png');
  writeFileSync(pngFile, Buffer.from(await p.arrayBuffer()));
  assert.equal(zbar(pngFile), url);
  const s = await fetch(svg);
  assert.equal(s.headers.get('content-type'), 'image/svg+xml');
  const svgFile = join(dir, 'handoff-svg.png');
  writeFileSync(svgFile, svgToPng(await s.text()));
  assert.equal(zbar(svgFile), url);

  // Only the token's hash is stored.
  const db = join(dirs.data, 'legato.db');
  for (const f of [db, `${db}-wal`]) {
    if (existsSync(f)) assert.ok(!readFileSync(f).includes(tokenOf(url)), `token in ${f}`);
  }
  assert.ok(Number(sql(db, 'SELECT count(*) FROM handoffs WHERE length(hash) = 32')) >= 1);
});

test('Subsonic credentials work too; bad queues and credentials are refused', async () => {
  const r = await api('/api/handoff', QUEUE(), { creds: ANN });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.url, TOKEN_RE);
  const again = await api('/api/handoff', QUEUE(), { creds: ANN });
  assert.notEqual(tokenOf(again.body.url), tokenOf(r.body.url), 'each link is new');

  assert.equal((await api('/api/handoff', QUEUE())).status, 401);
  assert.equal((await api('/api/handoff', QUEUE(), { creds: { ...ANN, password: 'no' } })).status, 401);
  assert.equal((await api('/api/handoff', QUEUE(), { bearer: 'A'.repeat(43) })).status, 401);
  const bad = [
    {},
    { id: ['999999'] },
    { id: [id.Alpha, '999999'] },
    { id: ['abc'] },
    { id: [id.Alpha], current: '1' },
    { id: [id.Alpha], current: '-1' },
    { id: [id.Alpha], current: 'x' },
    { id: [id.Alpha], position: '-1' },
    { id: [id.Alpha], position: 'soon' },
    { id: Array(1001).fill(id.Alpha) },
  ];
  for (const fields of bad) {
    const b = await api('/api/handoff', fields, { creds: ANN });
    assert.equal(b.status, 400, `${JSON.stringify(fields).slice(0, 80)}: ${JSON.stringify(b.body)}`);
    assert.equal(b.body.error, 'invalid_request');
  }
  // A full queue of 1000 entries fits.
  const full = await api('/api/handoff', { id: Array(1000).fill(id.Alpha), current: 999 },
    { creds: ANN });
  assert.equal(full.status, 200, JSON.stringify(full.body));
  assert.equal((await req('/api/handoff')).status, 405);
});

test('the page shows the queue without using the link; Continue here claims it once', async () => {
  const made = await api('/api/handoff', QUEUE(), { creds: ANN });
  const path = pathOf(made.body.url);
  const before = await playQueue(ANN);

  // Signed out: the sign-in form, which comes back to the link.
  const out = await req(path);
  assert.equal(out.status, 200);
  assertPageHeaders(out);
  assert.match(out.text, /action="\/device\/login"/);
  assert.ok(out.text.includes(`name="next" value="${path}"`));
  const cookie = await webLogin(ANN, path);

  for (let i = 0; i < 2; i++) { // a preview, then the person
    const page = await req(path, { cookie });
    assert.equal(page.status, 200, page.text);
    assertPageHeaders(page);
    assert.match(page.text, /3 tracks/);
    assert.match(page.text, /<b>Gamma — Gina<\/b> at 0:07/);
    assert.match(page.text, /<button type="submit">Continue here<\/button>/);
    assert.ok(page.text.includes('Beta — Ben &lt;b&gt;Bold&lt;/b&gt;'), 'artist escaped');
    assert.ok(!page.text.includes('<b>Bold</b>'));
  }
  assert.deepEqual(await playQueue(ANN), before, 'a GET changed the play queue');

  const page = await req(path, { cookie });
  const csrf = csrfOf(page.text);
  const wrong = csrf.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
  assert.equal((await req(path, { method: 'POST', cookie, body: {} })).status, 403);
  assert.equal((await req(path, { method: 'POST', cookie, body: { csrf: wrong } })).status, 403);
  assert.equal((await req(path, { method: 'POST', body: { csrf } })).status, 403, 'no session');

  const claimed = await req(path, { method: 'POST', cookie, body: { csrf } });
  assert.equal(claimed.status, 303, claimed.text);
  assert.equal(claimed.headers.get('location'), '/');

  const q = await playQueue(ANN);
  assert.deepEqual(q.entry.map((e) => e.title), ['Beta', 'Alpha', 'Gamma']);
  assert.equal(q.current, id.Gamma);
  assert.equal(q.position, 7500);
  assert.equal(q.changedBy, 'handoff');
  assert.equal(q.username, 'ann');

  const second = await req(path, { method: 'POST', cookie, body: { csrf } });
  assert.equal(second.status, 410);
  assert.match(second.text, /already used or has expired/);
  const shown = await req(path, { cookie });
  assert.equal(shown.status, 410);
  assert.match(shown.text, /already used/);
  assert.equal((await req(`${path}/qr.png`)).status, 410);
  assert.equal((await req(`${path}x`, { cookie })).status, 404);
  assert.equal((await req(`/handoff/${'A'.repeat(43)}`, { cookie })).status, 404);
  assert.equal((await req(path, { method: 'PUT', cookie })).status, 405);
  // The prefix spelt with an escape routes the same; the token stays out of the log.
  assert.equal((await req(path.replace('/handoff/', '/%68andoff/'), { cookie })).status, 410);
  await waitFor(() => srv.log().includes('/handoff/*/qr.png'), { what: 'the log line' });
  assert.ok(!srv.log().includes(tokenOf(made.body.url)), 'the token is in the request log');
});

test('another user gets 403 and does not use the link up', async () => {
  const made = await api('/api/handoff', QUEUE(), { creds: ANN });
  const path = pathOf(made.body.url);
  const bob = await webLogin(BOB, path);
  const page = await req(path, { cookie: bob });
  assert.equal(page.status, 403);
  assert.match(page.text, /another user/);
  // Bob's own CSRF token, from a page that shows it to him.
  const a = await api('/oauth/device_authorization', { client_id: 'tv' });
  const approve = await req(pathOf(a.body.verification_uri_complete)
    + new URL(a.body.verification_uri_complete).search, { cookie: bob });
  const bobCsrf = csrfOf(approve.text);
  assert.equal((await req(path, { method: 'POST', cookie: bob, body: { csrf: bobCsrf } })).status, 403);
  const claim = await api('/api/handoff/claim', { url: made.body.url }, { creds: BOB });
  assert.equal(claim.status, 403);
  assert.equal(claim.body.error, 'forbidden');
  assert.equal((await playQueue(BOB)).entry, undefined, 'bob got ann\'s queue');

  const ann = await webLogin(ANN, path);
  const mine = await req(path, { cookie: ann });
  assert.equal(mine.status, 200);
  const ok = await req(path, { method: 'POST', cookie: ann, body: { csrf: csrfOf(mine.text) } });
  assert.equal(ok.status, 303);
});

test('/api/handoff/claim: a device claims a link by token or by url', async () => {
  const bearer = await bearerToken();
  const made = await api('/api/handoff', { ...QUEUE(), current: 1, position: 1234 }, { bearer });
  assert.equal((await api('/api/handoff/claim', { url: made.body.url })).status, 401);
  assert.equal((await api('/api/handoff/claim', {}, { bearer })).status, 400);
  assert.equal((await api('/api/handoff/claim', { token: 'short' }, { bearer })).status, 400);
  const unknown = await api('/api/handoff/claim', { token: 'B'.repeat(43) }, { bearer });
  assert.equal(unknown.status, 404);

  const c = await api('/api/handoff/claim', { url: made.body.url }, { bearer });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  assert.deepEqual(c.body, { entries: [id.Beta, id.Alpha, id.Gamma], current: 1,
    position_ms: 1234 });
  const q = await playQueue(ANN);
  assert.equal(q.current, id.Alpha);
  assert.equal(q.position, 1234);
  const again = await api('/api/handoff/claim', { token: tokenOf(made.body.url) }, { creds: ANN });
  assert.equal(again.status, 410);
  assert.equal(again.body.error, 'gone');
});

test('an expired link answers 410 everywhere', async () => {
  const path = pathOf(shortLink);
  const cookie = await (async () => {
    const page = await req(path, { base: short.base });
    const r = await req('/device/login', { method: 'POST', base: short.base,
      cookie: pair(page, 'legato_login'),
      body: { csrf: csrfOf(page.text), username: ANN.name, password: ANN.password, next: path } });
    return pair(r, 'legato_session');
  })();
  const live = await req(path, { cookie, base: short.base });
  assert.equal(live.status, 200, 'alive before its time');
  const wait = shortMade + 11000 - Date.now();
  if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  const page = await req(path, { cookie, base: short.base });
  assert.equal(page.status, 410);
  assert.match(page.text, /expired/);
  const claim = await api('/api/handoff/claim', { url: shortLink }, { creds: ANN, base: short.base });
  assert.equal(claim.status, 410);
  assert.equal((await req(`${path}/qr.svg`, { base: short.base })).status, 410);
});

test('sign-in form CSRF: a missing or mismatched pair gets 403 before any password check', async () => {
  const a = await req('/');
  const b = await req('/device');
  const [ca, cb] = [pair(a, 'legato_login'), pair(b, 'legato_login')];
  assert.match(setCookie(a, 'legato_login'), /HttpOnly/);
  assert.match(setCookie(a, 'legato_login'), /SameSite=Strict/);
  assert.notEqual(ca, cb);
  const good = { username: ANN.name, password: ANN.password };
  const tries = [
    { body: good },
    { body: { ...good, csrf: csrfOf(a.text) } },
    { body: good, cookie: ca },
    { body: { ...good, csrf: csrfOf(b.text) }, cookie: ca },
    { body: { ...good, csrf: '' }, cookie: 'legato_login=' },
    { body: { username: ANN.name, password: 'wrong' } },
  ];
  for (const t of tries) {
    const r = await req('/device/login', { method: 'POST', ...t });
    assert.equal(r.status, 403, JSON.stringify(t));
    assert.equal(pair(r, 'legato_session'), undefined, 'signed in without the pair');
    assert.match(r.text, /did not come from this site/);
    assert.match(r.text, /name="csrf"/, 'a fresh form to try again');
  }
  // The matching pair signs in; next goes only to local paths.
  const cases = [['/', '/'], ['/handoff/x', '/handoff/x'], ['//evil.example/', '/device'],
    ['https://evil.example/', '/device'], ['/\\evil.example', '/device'],
    ['javascript:alert(1)', '/device'], [undefined, '/device']];
  for (const [next, where] of cases) {
    const r = await req('/device/login', { method: 'POST', cookie: ca,
      body: { ...good, csrf: csrfOf(a.text), next } });
    assert.equal(r.status, 303, `${next}`);
    assert.equal(r.headers.get('location'), where, `${next}`);
    assert.match(pair(r, 'legato_session'), /^legato_session=[A-Za-z0-9_-]{43}$/);
  }
});

test('the start page plays the saved queue; /web/stream needs the session', async () => {
  const out = await req('/');
  assert.equal(out.status, 200);
  assert.ok(out.text.includes('name="next" value="/"'));
  const made = await api('/api/handoff', QUEUE(), { creds: ANN });
  const path = pathOf(made.body.url);
  const cookie = await webLogin(ANN);
  const page = await req(path, { cookie });
  assert.equal((await req(path, { method: 'POST', cookie, body: { csrf: csrfOf(page.text) } }))
    .status, 303);

  const home = await req('/', { cookie });
  assert.equal(home.status, 200);
  assertPageHeaders(home, { script: true });
  assert.match(home.text, /<div id="player"/);
  assert.match(home.text, /data-start="2"/);
  assert.match(home.text, /data-position="7\.5/);
  assert.match(home.text, /<script src="\/static\/player\.js"><\/script>/);
  assert.match(home.text, /href="\/device"/);
  const tracks = JSON.parse(home.text.match(/data-tracks="([^"]*)"/)[1]
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#39;/g, '\'')
    .replace(/&amp;/g, '&'));
  assert.deepEqual(tracks.map((t) => t.title), ['Beta', 'Alpha', 'Gamma']);
  assert.equal(tracks[0].artist, 'Ben <b>Bold</b>');
  assert.equal(tracks[2].src, `/web/stream/${id.Gamma}`);
  assert.ok(!/<script>|<b>Bold/.test(home.text), 'unescaped text in the page');

  const file = readFileSync(join(dirs.music, 'c.mp3'));
  const audio = await fetch(`${srv.base}${tracks[2].src}`, { headers: { cookie } });
  assert.equal(audio.status, 200);
  assert.equal(audio.headers.get('content-type'), 'audio/mpeg');
  assert.equal(audio.headers.get('cache-control'), 'private');
  assert.ok(Buffer.from(await audio.arrayBuffer()).equals(file));
  const part = await fetch(`${srv.base}${tracks[2].src}`,
    { headers: { cookie, range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(file.subarray(100, 200)));
  assert.equal((await req(tracks[2].src)).status, 401);
  assert.equal((await req(tracks[2].src, { cookie: 'legato_session=nope' })).status, 401);
  assert.equal((await req('/web/stream/999999', { cookie })).status, 404);
  assert.equal((await req('/web/stream/1x', { cookie })).status, 404);
  assert.equal((await req(tracks[2].src, { method: 'POST', cookie })).status, 405);
  const cover = await fetch(`${srv.base}/web/cover/${id.Gamma}`, { headers: { cookie } });
  assert.equal(cover.status, 200);
  assert.match(cover.headers.get('content-type'), /^image\//);
  // Kept by the browser, never by a shared cache.
  assert.equal(cover.headers.get('cache-control'), 'private, max-age=86400');
  assert.equal(cover.headers.get('x-content-type-options'), 'nosniff');
});
