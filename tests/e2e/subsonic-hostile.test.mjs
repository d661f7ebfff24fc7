// SPDX-License-Identifier: MIT
// Hostile parameters on every Subsonic method: huge and negative numbers,
// NUL and invalid UTF-8 bytes, SQL and FTS syntax, path traversal, malformed
// ids. Every answer must be a well-formed Subsonic envelope (or a plain 4xx),
// never a 5xx or a dropped connection, and the server must keep serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { creds, setup, teardown } from './subsonic-lib.mjs';

const METHODS = [
  'ping', 'getLicense', 'getScanStatus', 'getOpenSubsonicExtensions', 'getMusicFolders',
  'getIndexes', 'getMusicDirectory', 'getGenres', 'getArtists', 'getArtist', 'getAlbum', 'getSong',
  'getArtistInfo', 'getArtistInfo2', 'getAlbumInfo', 'getAlbumInfo2', 'getSimilarSongs',
  'getSimilarSongs2', 'getTopSongs', 'getAlbumList', 'getAlbumList2', 'getRandomSongs',
  'getSongsByGenre', 'getNowPlaying', 'getStarred', 'getStarred2', 'search', 'search2', 'search3',
  'getPlaylists', 'getPlaylist', 'createPlaylist', 'updatePlaylist', 'deletePlaylist', 'stream',
  'download', 'getCoverArt', 'getLyrics', 'getLyricsBySongId', 'getAvatar', 'star', 'unstar',
  'setRating', 'scrobble', 'getBookmarks', 'createBookmark', 'deleteBookmark', 'getPlayQueue',
  'savePlayQueue', 'getUser', 'getUsers', 'updateUser', 'deleteUser', 'changePassword',
];
const PARAMS = ['id', 'albumId', 'artistId', 'query', 'size', 'count', 'offset', 'type', 'genre',
  'fromYear', 'toYear', 'playlistId', 'songId', 'songIdToAdd', 'songIndexToRemove', 'position',
  'current', 'username', 'password', 'name', 'comment', 'public', 'rating', 'time', 'submission',
  'artist', 'title', 'musicFolderId', 'ifModifiedSince', 'artistCount', 'albumCount',
  'songCount', 'songOffset', 'maxBitRate', 'format', 'timeOffset', 'email', 'adminRole'];
const VALUES = [
  '', '-1', '0', '99999999999999999999999', '-9223372036854775808', '1e9', 'NaN',
  'al-', 'al-99999999999', 'ar--1', 'pl-0x10', '../../../../etc/passwd', '/etc/passwd',
  "' OR 1=1 --", '"unterminated', 'NEAR(a b) AND * OR -x', 'a\u0000b', '\uFFFD\u202E',
  'x'.repeat(3000),
];
const BYTES = ['%FF%FE', '%00', '%C0%AF', '%ED%A0%80'];

let ctx;
before(async () => {
  ctx = await setup('legato-sub-hostile-');
});
after(() => teardown(ctx));

// Credentials and the usual parameters, as a query; the first song's id.
const authQuery = () => new URLSearchParams({ ...creds(ctx), v: '1.16.1', c: 'hostile', f: 'json' });
const firstSong = () => Object.values(ctx.ids.songs)[0];
const postForm = (method, body) => fetch(`${ctx.srv.base}/rest/${method}`, {
  method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' },
});

// The server still answers after what a test sent it.
async function assertAlive(auth) {
  const r = await fetch(`${ctx.srv.base}/rest/ping?${auth}`);
  assert.equal((await r.json())['subsonic-response'].status, 'ok');
}

async function send(method, query) {
  const r = await fetch(`${ctx.srv.base}/rest/${method}?${query}`);
  const body = await r.text();
  assert.ok(r.status < 500, `${method}?${query.slice(0, 200)}: HTTP ${r.status} ${body.slice(0, 200)}`);
  if (r.status === 200 && (r.headers.get('content-type') || '').includes('json')) {
    const env = JSON.parse(body)['subsonic-response'];
    assert.ok(env && (env.status === 'ok' || env.status === 'failed'), `${method}: ${body.slice(0, 200)}`);
  }
}

test('hostile values in every parameter of every method', async () => {
  const auth = authQuery();
  for (const method of METHODS) {
    for (const value of VALUES) {
      const q = new URLSearchParams(auth);
      for (const p of PARAMS) q.append(p, value);
      await send(method, q.toString());
    }
    for (const bytes of BYTES) {
      const q = `${auth}&${PARAMS.map((p) => `${p}=a${bytes}b`).join('&')}`;
      await send(method, q);
    }
  }
  await assertAlive(auth);
});

// A player saving a long play queue by GET sends one id parameter per track:
// 2,000 of them are taken (the server parses the query itself), and a URL
// too long for a connection's memory gets 414, never a dropped connection.
test('thousands of parameters in a GET', async () => {
  const auth = authQuery();
  const song = firstSong();
  const ids = Array.from({ length: 2000 }, () => `id=${song}`).join('&');
  let r = await fetch(`${ctx.srv.base}/rest/savePlayQueue?${auth}&${ids}&current=${song}`);
  assert.equal(r.status, 200);
  assert.equal((await r.json())['subsonic-response'].status, 'ok');
  r = await fetch(`${ctx.srv.base}/rest/getPlayQueue?${auth}`);
  const q = (await r.json())['subsonic-response'].playQueue;
  assert.equal(q.entry.length, 2000);
  // Parameters without a value, and repeated ones, as before.
  r = await fetch(`${ctx.srv.base}/rest/getSong?${auth}&id&id=${song}`);
  assert.equal((await r.json())['subsonic-response'].song.id, song);
  const huge = Array.from({ length: 6000 }, (_, i) => `id=${i}`).join('&');
  r = await fetch(`${ctx.srv.base}/rest/savePlayQueue?${auth}&${huge}`);
  assert.equal(r.status, 414);
  await assertAlive(auth);
});

// The formPost extension exists for what a URL cannot carry: a POST body
// takes more ids than fit in the longest URL (6,000 here), and a body
// over the limit gets 413.
test('thousands of parameters in a POST form', async () => {
  const auth = authQuery();
  const song = firstSong();
  const form = `${auth}&${Array.from({ length: 6000 }, () => `id=${song}`).join('&')}&current=${song}`;
  const post = (body) => postForm('savePlayQueue', body);
  let r = await post(form);
  assert.equal(r.status, 200);
  assert.equal((await r.json())['subsonic-response'].status, 'ok');
  r = await fetch(`${ctx.srv.base}/rest/getPlayQueue?${auth}`);
  assert.equal((await r.json())['subsonic-response'].playQueue.entry.length, 6000);
  r = await post(`${auth}&${'id=1&'.repeat(14000)}`);
  assert.equal(r.status, 413);
  await assertAlive(auth);
});

// Methods that act on a list of items take up to 500 in one request; more
// gets a Subsonic error naming the limit, and nothing is done.
test('more items than a method takes', async () => {
  const auth = authQuery();
  const song = firstSong();
  const ids = (n) => Array.from({ length: n }, () => `id=${song}`).join('&');
  const envelope = async (r) => (await r.json())['subsonic-response'];
  for (const method of ['scrobble', 'star', 'unstar']) {
    let env = await envelope(await fetch(`${ctx.srv.base}/rest/${method}?${auth}&${ids(500)}`));
    assert.equal(env.status, 'ok', method);
    env = await envelope(await fetch(`${ctx.srv.base}/rest/${method}?${auth}&${ids(501)}`));
    assert.equal(env.status, 'failed', method);
    assert.equal(env.error.code, 0);
    assert.match(env.error.message, /at most 500/);
  }
  // Every method, with 600 of each list parameter, in a POST form.
  const lists = ['id', 'albumId', 'artistId', 'songId', 'songIdToAdd', 'songIndexToRemove', 'time'];
  const form = `${auth}&${lists.map((p) => Array.from({ length: 600 }, () => `${p}=1`).join('&')).join('&')}`;
  for (const method of METHODS) {
    const r = await postForm(method, form);
    await r.arrayBuffer();
    assert.ok(r.status < 500, `${method}: HTTP ${r.status}`);
  }
  await assertAlive(auth);
});
