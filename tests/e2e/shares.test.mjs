// SPDX-License-Identifier: MIT
// Shares end to end. Through the `subsonic-api` client (every JSON answer
// checked against the OpenSubsonic schema): createShare of songs, albums and
// playlists, getShares (each user sees their own), updateShare,
// deleteShare, the share role, ownership (the owner or an administrator),
// unknown ids. Then the public side with no credentials at all: the page
// (escaped, counted as a visit, with the player and its CSP), a shared
// track streamed with Range and validators exactly as /rest/stream serves
// it, a track outside the share refused, downloads allowed or refused, the
// cover, the QR images read back by zbarimg, /static/player.js, a share that
// expires while we watch (410), a deleted one (404), and the per-IP limit
// on unknown tokens (429), which runs last because it locks this client
// out of every share for a minute.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { get, sleep } from './lib.mjs';
import { svgToPng, zbar } from './qr-lib.mjs';
import {
  M3U, USER, assertSong, assertXmlParity, client, creds, fails, ok, raw, setup, song,
  teardown,
} from './subsonic-lib.mjs';

let ctx;
let alice; // administrator
let bob;

before(async () => {
  ctx = await setup('legato-shares-');
  alice = client(ctx);
  bob = client(ctx, USER, 'apiKey');
});
// Every token handed out, to look for in the server's log at the end.
const handedOut = new Set();
after(async () => {
  const log = ctx?.srv?.log() || '';
  await teardown(ctx);
  assert.match(log, /GET \/share\/#\d+\/stream\/\d+ 206 /, 'share requests are logged');
  for (const t of handedOut) assert.ok(!log.includes(t), 'no share token in the log');
});

const TOKEN_URL = /^http:\/\/127\.0\.0\.1:\d+\/share\/([A-Za-z0-9_-]{32})$/;
const tokenOf = (share) => share.url.match(TOKEN_URL)[1];
const pagePath = (share) => `/share/${tokenOf(share)}`;
const recent = (d) => Math.abs(Date.now() - new Date(d).getTime()) < 600e3;
const titles = (share) => (share.entry || []).map((e) => e.title);
const filePath = (title) => join(ctx.dirs.music, song(title).path);

async function roadTripId() {
  const pls = ok(await bob.getPlaylists()).playlists.playlist;
  return pls.find((p) => p.name === M3U.name).id;
}

async function share(api, params) {
  const env = ok(await api.createShare(params));
  assert.equal(env.shares.share.length, 1);
  handedOut.add(tokenOf(env.shares.share[0]));
  return env.shares.share[0];
}

test('createShare: songs, an album and a playlist, in order', async () => {
  const s = await share(bob, {
    id: [ctx.ids.songs.Noon, ctx.ids.albums['Blue Hour'], await roadTripId()],
    description: 'Road songs',
  });
  assert.match(s.id, /^\d+$/);
  assert.match(s.url, TOKEN_URL);
  assert.equal(s.url.split('/share/')[0], ctx.srv.base);
  assert.equal(s.description, 'Road songs');
  assert.equal(s.username, USER.name);
  assert.ok(recent(s.created), `created ${s.created}`);
  assert.equal(s.expires, undefined);
  assert.equal(s.lastVisited, undefined);
  assert.equal(s.visitCount, 0);
  assert.deepEqual(titles(s), ['Noon', 'Blue Moon Rising', 'Night Owl', ...M3U.tracks]);
  for (const e of s.entry) assertSong(ctx, e, e.title);
});

test('getShares: each user sees their own, with the same URL', async () => {
  const s = await share(bob, { id: ctx.ids.songs.Dawn, description: 'Just one' });
  const mine = ok(await bob.getShares()).shares.share;
  const again = mine.find((x) => x.id === s.id);
  assert.ok(again, 'the new share is listed');
  assert.equal(again.url, s.url, 'the URL comes back from the sealed token');
  assert.deepEqual(titles(again), ['Dawn']);
  assert.ok(mine.every((x) => x.username === USER.name));
  const a = await share(alice, { id: ctx.ids.songs.Dusk });
  const hers = ok(await alice.getShares()).shares.share;
  assert.deepEqual(hers.map((x) => x.id), [a.id], 'an administrator sees their own shares');
  assert.ok(!ok(await bob.getShares()).shares.share.some((x) => x.id === a.id));
  const tokens = new Set([...mine, ...hers].map(tokenOf));
  assert.equal(tokens.size, mine.length + hers.length, 'every share has its own token');
});

test('getShares in XML carries the same data as in JSON', async () => {
  await assertXmlParity(ctx, 'getShares', {}, { auth: creds(ctx, USER) });
});

test('updateShare: description and expiry; 0 removes the expiry', async () => {
  const s = await share(bob, { id: ctx.ids.songs.Noon });
  const when = Date.now() + 86400e3;
  ok(await bob.updateShare({ id: s.id, description: 'Changed', expires: when }));
  let got = ok(await bob.getShares()).shares.share.find((x) => x.id === s.id);
  assert.equal(got.description, 'Changed');
  assert.equal(Math.floor(new Date(got.expires).getTime() / 1000), Math.floor(when / 1000));
  ok(await bob.updateShare({ id: s.id, description: 'Kept expiry' }));
  got = ok(await bob.getShares()).shares.share.find((x) => x.id === s.id);
  assert.ok(got.expires, 'an update without expires keeps it');
  ok(await bob.updateShare({ id: s.id, expires: 0 }));
  got = ok(await bob.getShares()).shares.share.find((x) => x.id === s.id);
  assert.equal(got.expires, undefined);
  assert.equal(got.description, 'Kept expiry');
  fails(await bob.updateShare({ id: s.id, expires: 'soon' }), 0, /expires/);
});

test('only the owner or an administrator may change or delete a share', async () => {
  const hers = await share(alice, { id: ctx.ids.songs.Dusk });
  fails(await bob.updateShare({ id: hers.id, description: 'mine now' }), 50);
  fails(await bob.deleteShare({ id: hers.id }), 50);
  const his = await share(bob, { id: ctx.ids.songs.Noon });
  ok(await alice.updateShare({ id: his.id, description: 'moderated' }));
  assert.equal(ok(await bob.getShares()).shares.share.find((x) => x.id === his.id).description,
    'moderated');
  ok(await alice.deleteShare({ id: his.id }));
  assert.ok(!ok(await bob.getShares()).shares.share.some((x) => x.id === his.id));
  ok(await alice.deleteShare({ id: hers.id }));
  fails(await alice.deleteShare({ id: hers.id }), 70);
  fails(await bob.updateShare({ id: '999999' }), 70);
  fails(await bob.deleteShare({ id: 'not-a-share' }), 70);
  fails((await raw(ctx, 'deleteShare', {}, { auth: creds(ctx, USER) })).body, 10);
});

test('createShare refuses what cannot be shared', async () => {
  fails((await raw(ctx, 'createShare', {}, { auth: creds(ctx, USER) })).body, 10);
  fails(await bob.createShare({ id: ctx.ids.artists['Alpha Band'] }), 70);
  fails(await bob.createShare({ id: '999999' }), 70);
  fails(await bob.createShare({ id: [ctx.ids.songs.Noon, 'al-999999'] }), 70);
  const priv = ok(await alice.createPlaylist({ name: 'Alice only', songId: ctx.ids.songs.Dawn }));
  fails(await bob.createShare({ id: priv.playlist.id }), 70, /not found/);
  ok(await alice.createShare({ id: priv.playlist.id }));
  fails(await bob.createShare({ id: ctx.ids.songs.Noon, expires: -5 }), 0, /expires/);
  fails(await bob.createShare({ id: ctx.ids.songs.Noon, download: 'maybe' }), 0, /download/);
  fails(await bob.createShare({ id: ctx.ids.songs.Noon, description: 'x'.repeat(2000) }), 0);
});

test('the share role is needed; letting strangers download needs the download role', async () => {
  ok(await alice.updateUser({ username: USER.name, shareRole: false }));
  try {
    fails(await bob.createShare({ id: ctx.ids.songs.Noon }), 50);
    fails(await bob.getShares(), 50);
    fails(await bob.updateShare({ id: '1' }), 50);
    fails(await bob.deleteShare({ id: '1' }), 50);
  } finally {
    ok(await alice.updateUser({ username: USER.name, shareRole: true }));
  }
  ok(await alice.updateUser({ username: USER.name, downloadRole: false }));
  try {
    fails(await bob.createShare({ id: ctx.ids.songs.Noon, download: true }), 50);
    ok(await bob.createShare({ id: ctx.ids.songs.Noon, download: false }));
  } finally {
    ok(await alice.updateUser({ username: USER.name, downloadRole: true }));
  }
});

// --- the public side: no credentials from here on ---

test('the share page: no account, escaped, a visit counted, the player and its CSP', async () => {
  const s = await share(bob, {
    id: [ctx.ids.songs.Dawn, ctx.ids.songs['Night Owl']],
    description: '<script>alert("x")</script> & friends',
  });
  const r = await get(`${ctx.srv.base}${pagePath(s)}`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /media-src 'self'/);
  assert.match(csp, /img-src 'self' data:/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  const html = r.body.toString('utf8');
  assert.ok(!html.includes('<script>alert'), 'the description is escaped');
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends'));
  assert.match(html, /Shared by <b>bob<\/b>/);
  assert.equal((html.match(/<script/g) || []).length, 1, 'one script element');
  assert.match(html, /<script src="\/static\/player\.js"><\/script>/);
  // The player's data, as the browser will decode the attribute.
  const m = html.match(/<div id="player" data-tracks="([^"]*)" data-start="0" data-position="0\.000"><\/div>/);
  assert.ok(m, 'the player div');
  const unescape = (v) => v.replace(/&quot;/g, '"').replace(/&#39;/g, '\'').replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const tracks = JSON.parse(unescape(m[1]));
  const token = tokenOf(s);
  assert.deepEqual(tracks.map((t) => t.title), ['Dawn', 'Night Owl']);
  assert.deepEqual(tracks[0], {
    title: 'Dawn', artist: 'Alpha Band', album: 'First Light', duration: 3,
    src: `/share/${token}/stream/${ctx.ids.songs.Dawn}`,
    cover: `/share/${token}/cover/${ctx.ids.songs.Dawn}`,
  });
  assert.ok(!html.includes('/download/'), 'no download links by default');
  // Counted once; HEAD does not count.
  const head = await get(`${ctx.srv.base}${pagePath(s)}`, {}, 'HEAD');
  assert.equal(head.status, 200);
  const after1 = ok(await bob.getShares()).shares.share.find((x) => x.id === s.id);
  assert.equal(after1.visitCount, 1);
  assert.ok(recent(after1.lastVisited), `lastVisited ${after1.lastVisited}`);
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}`, {}, 'POST')).status, 405);
});

test('a shared track streams with Range and validators as /rest/stream; others are refused', async () => {
  const s = await share(bob, { id: ctx.ids.albums['First Light'] });
  const id = ctx.ids.songs.Dusk;
  const bytes = readFileSync(filePath('Dusk'));
  const u = `${ctx.srv.base}${pagePath(s)}/stream/${id}`;
  // The prefix spelt with an escape routes the same, and the token stays
  // out of the log all the same (checked after the last test).
  assert.equal((await get(u.replace('/share/', '/%73hare/'), {}, 'HEAD')).status, 200);
  const full = await get(u);
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('content-type'), 'audio/mpeg');
  assert.equal(full.headers.get('accept-ranges'), 'bytes');
  assert.ok(full.body.equals(bytes), 'the original bytes');
  const part = await get(u, { range: 'bytes=100-199' });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
  assert.ok(part.body.equals(bytes.subarray(100, 200)));
  // A share can end: no shared cache keeps its audio or covers.
  assert.equal(part.headers.get('cache-control'), 'private');
  // The same validators as the Subsonic stream of the same track.
  const rest = await get(`${ctx.srv.base}/rest/stream?${new URLSearchParams({
    ...creds(ctx, USER), v: '1.16.1', c: 'e2e', id })}`, { range: 'bytes=100-199' });
  assert.equal(rest.status, 206);
  assert.equal(part.headers.get('etag'), rest.headers.get('etag'));
  assert.equal(part.headers.get('last-modified'), rest.headers.get('last-modified'));
  assert.equal((await get(u, { 'if-none-match': part.headers.get('etag') })).status, 304);
  assert.equal((await get(u, { range: `bytes=${bytes.length}-` })).status, 416);
  const head = await get(u, {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(bytes.length));
  // Not in the share, not a track, not a number.
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}/stream/${ctx.ids.songs['Night Owl']}`)).status, 404);
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}/stream/999999`)).status, 404);
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}/stream/abc`)).status, 404);
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}/elsewhere`)).status, 404);
  // The cover of a shared track, and not of another.
  const cover = await get(`${ctx.srv.base}${pagePath(s)}/cover/${id}`);
  assert.equal(cover.status, 200);
  assert.match(cover.headers.get('content-type'), /^image\//);
  assert.equal(cover.headers.get('cache-control'), 'private, max-age=86400');
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}/cover/${ctx.ids.songs['Night Owl']}`)).status, 404);
});

test('downloads: allowed when the share says so, 403 otherwise', async () => {
  const id = ctx.ids.songs['Blue Moon Rising'];
  const bytes = readFileSync(filePath('Blue Moon Rising'));
  const yes = await share(bob, { id, download: true });
  const no = await share(bob, { id });
  const d = await get(`${ctx.srv.base}${pagePath(yes)}/download/${id}`);
  assert.equal(d.status, 200);
  assert.match(d.headers.get('content-disposition'), /^attachment; filename="01 Blue Moon Rising\.flac"/);
  assert.ok(d.body.equals(bytes));
  const html = (await get(`${ctx.srv.base}${pagePath(yes)}`)).body.toString('utf8');
  assert.ok(html.includes(`/share/${tokenOf(yes)}/download/${id}`), 'the page links the download');
  const refused = await get(`${ctx.srv.base}${pagePath(no)}/download/${id}`);
  assert.equal(refused.status, 403);
  assert.equal((await get(`${ctx.srv.base}${pagePath(no)}/stream/${id}`)).status, 200);
});

// --- QR images ---

test('qr.png and qr.svg decode with zbarimg to exactly the share URL', async () => {
  const s = await share(bob, { id: ctx.ids.songs.Noon });
  const png = await get(`${ctx.srv.base}${pagePath(s)}/qr.png`);
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
  assert.equal(png.headers.get('cache-control'), 'no-store');
  writeFileSync(join(ctx.dir, 'share-qr.png'), png.body);
  assert.equal(zbar(join(ctx.dir, 'share-qr.png')), s.url);
  const svg = await get(`${ctx.srv.base}${pagePath(s)}/qr.svg`);
  assert.equal(svg.status, 200);
  assert.equal(svg.headers.get('content-type'), 'image/svg+xml');
  writeFileSync(join(ctx.dir, 'share-qr-svg.png'), svgToPng(svg.body.toString('utf8')));
  assert.equal(zbar(join(ctx.dir, 'share-qr-svg.png')), s.url);
});

test('/static/player.js: a script kept and revalidated by its ETag', async () => {
  const r = await get(`${ctx.srv.base}/static/player.js`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
  // Checked at each use: an upgrade's new page never runs an old script.
  assert.equal(r.headers.get('cache-control'), 'public, no-cache');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  const src = readFileSync(new URL('../../src/http/assets/player.js', import.meta.url));
  assert.ok(r.body.equals(src), 'the file as embedded');
  const etag = r.headers.get('etag');
  assert.match(etag, /^"[^"]+"$/);
  assert.equal((await get(`${ctx.srv.base}/static/player.js`, { 'if-none-match': etag })).status, 304);
  assert.equal((await get(`${ctx.srv.base}/static/nothing.js`)).status, 404);
  assert.equal((await get(`${ctx.srv.base}/favicon.ico`)).status, 204, 'no icon, and no 404 either');
  assert.equal((await get(`${ctx.srv.base}/static/../store/store.h`)).status, 404);
});

test('a share that expires: it works until then, then answers 410', async () => {
  const s = await share(bob, { id: ctx.ids.songs.Noon, expires: Date.now() + 2000 });
  assert.ok(s.expires, 'expires is reported');
  const id = ctx.ids.songs.Noon;
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}`)).status, 200);
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}/stream/${id}`)).status, 200);
  await sleep(Math.max(0, new Date(s.expires).getTime() + 1000 - Date.now()) + 1100);
  const page = await get(`${ctx.srv.base}${pagePath(s)}`);
  assert.equal(page.status, 410);
  assert.match(page.body.toString('utf8'), /expired/);
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}/stream/${id}`)).status, 410);
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}/qr.png`)).status, 410);
  // The owner may bring it back.
  ok(await bob.updateShare({ id: s.id, expires: 0 }));
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}`)).status, 200);
});

test('a deleted share is gone: 404', async () => {
  const s = await share(bob, { id: ctx.ids.songs.Noon });
  ok(await bob.deleteShare({ id: s.id }));
  const page = await get(`${ctx.srv.base}${pagePath(s)}`);
  assert.equal(page.status, 404);
  assert.match(page.body.toString('utf8'), /does not lead to a share/);
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}/stream/${ctx.ids.songs.Noon}`)).status, 404);
});

// Last: it locks this client's address out of every share for a minute.
test('guessing tokens: past the per-IP limit every share route answers 429', async () => {
  const s = await share(bob, { id: ctx.ids.songs.Noon });
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}`)).status, 200);
  let limited = null;
  for (let i = 0; i < 40 && !limited; i++) {
    const guess = Buffer.from(`guess number ${i} ........`).toString('base64url').slice(0, 32);
    const r = await get(`${ctx.srv.base}/share/${guess}`);
    if (r.status === 429) limited = { i, r };
    else assert.equal(r.status, 404);
  }
  assert.ok(limited, 'the limit was reached');
  assert.ok(limited.i >= 10 && limited.i <= 20, `limited after ${limited.i} guesses`);
  assert.equal(limited.r.headers.get('retry-after'), '60');
  assert.equal((await get(`${ctx.srv.base}${pagePath(s)}`)).status, 429, 'the real link too, for now');
  assert.equal((await get(`${ctx.srv.base}/share/short`)).status, 429);
  // The API is not affected.
  ok(await bob.getShares());
});
