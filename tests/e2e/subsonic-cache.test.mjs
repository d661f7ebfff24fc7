// SPDX-License-Identifier: MIT
// The answer cache: a repeated request is answered from memory (the
// legato_api_cache_* series on /metrics count it) with the same bytes; an
// answer never outlives a change, whether the server made it (a star, a
// playlist) or another process did (`legato scan` beside the running
// server); one user's cached answer is never another's; random lists are
// never cached; --api-cache 0 turns it off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { legato, startServer, waitFor } from './lib.mjs';
import { ADMIN, USER, creds, ok, raw, setup, teardown } from './subsonic-lib.mjs';

let ctx;
before(async () => { ctx = await setup('legato-sub-cache-'); });
after(async () => { await teardown(ctx); });

async function counters(srv = ctx.srv) {
  const text = await (await fetch(`${srv.base}/metrics`)).text();
  const read = (name) => Number(text.match(new RegExp(`^legato_${name} (\\d+)`, 'm'))?.[1] ?? NaN);
  return { hits: read('api_cache_hits_total'), misses: read('api_cache_misses_total'),
    bytes: read('api_cache_size_bytes') };
}

const bob = () => ({ auth: creds(ctx, USER) });

test('a repeated request is answered from the cache with the same bytes', async () => {
  const album = ctx.ids.albums['Blue Hour'];
  // The analysis that follows a scan commits now and then, and each commit
  // voids the cache: ask in pairs until a pair lands between two commits.
  let pair;
  await waitFor(async () => {
    const c0 = await counters();
    const first = await raw(ctx, 'getAlbum', { id: album });
    ok(first.body);
    const c1 = await counters();
    assert.equal(c1.misses + c1.hits, c0.misses + c0.hits + 1);
    assert.ok(c1.bytes >= first.text.length, `cache holds ${c1.bytes} bytes`);
    // Other credentials of the same user, another client name: the same answer.
    const again = await raw(ctx, 'getAlbum', { id: album }, { c: 'another-player' });
    const c2 = await counters();
    pair = { first, again };
    return c2.hits === c1.hits + 1;
  }, { what: 'a cache hit' });
  assert.equal(pair.again.text, pair.first.text);
  // XML is another answer, cached apart.
  const c3 = await counters();
  const xml = await raw(ctx, 'getAlbum', { id: album }, { f: 'xml' });
  assert.match(xml.text, /^<\?xml/);
  assert.equal((await counters()).misses, c3.misses + 1);
});

test('a change made through the server is seen at once', async () => {
  const { songs, albums } = ctx.ids;
  const album = albums['First Light'];
  const starredIn = (env) => env.album.song.filter((s) => s.starred).map((s) => s.title);
  assert.deepEqual(starredIn(ok((await raw(ctx, 'getAlbum', { id: album })).body)), []);
  await raw(ctx, 'getAlbum', { id: album }); // cached now
  ok((await raw(ctx, 'star', { id: songs.Dawn })).body);
  assert.deepEqual(starredIn(ok((await raw(ctx, 'getAlbum', { id: album })).body)), ['Dawn']);
  // The same request from the other user: not the first user's answer.
  const theirs = ok((await raw(ctx, 'getAlbum', { id: album }, bob())).body);
  assert.deepEqual(starredIn(theirs), []);
  ok((await raw(ctx, 'unstar', { id: songs.Dawn })).body);
  assert.deepEqual(starredIn(ok((await raw(ctx, 'getAlbum', { id: album })).body)), []);

  // Playlists: created, renamed, listed.
  const list = async () => (ok((await raw(ctx, 'getPlaylists')).body).playlists.playlist || [])
    .map((p) => p.name);
  const names0 = await list();
  await list();
  const created = ok((await raw(ctx, 'createPlaylist', { name: 'Cache Test', songId: songs.Dawn })).body);
  assert.deepEqual((await list()).sort(), [...names0, 'Cache Test'].sort());
  ok((await raw(ctx, 'updatePlaylist', { playlistId: created.playlist.id, name: 'Cache Test 2' })).body);
  assert.ok((await list()).includes('Cache Test 2'));
  ok((await raw(ctx, 'deletePlaylist', { id: created.playlist.id })).body);
  assert.deepEqual((await list()).sort(), [...names0].sort());
});

test('a change made by another process is seen', async () => {
  const all = async () => (ok((await raw(ctx, 'search3', {
    query: '', songCount: 500, artistCount: 0, albumCount: 0,
  })).body).searchResult3.song || []).length;
  const n0 = await all();
  assert.equal(await all(), n0);
  // A copy of a track under a new name, scanned by `legato scan` while the
  // server runs: the server's own hooks never see that commit.
  const src = Object.keys(ctx.ids.byPath)[0];
  copyFileSync(join(ctx.dirs.music, src), join(ctx.dirs.music, `cache-copy${extname(src)}`));
  const r = legato(['scan', '--music', ctx.dirs.music, '--data', ctx.dirs.data]);
  assert.equal(r.status, 0, r.err);
  assert.equal(await all(), n0 + 1);
});

test('random lists are not cached', async () => {
  const c0 = await counters();
  for (let i = 0; i < 3; i++) {
    ok((await raw(ctx, 'getAlbumList2', { type: 'random', size: 2 })).body);
    ok((await raw(ctx, 'getRandomSongs', { size: 2 })).body);
  }
  const c1 = await counters();
  assert.equal(c1.hits, c0.hits);
  assert.equal(c1.misses, c0.misses);
});

test('--api-cache 0 turns the cache off', async () => {
  const srv = await startServer(ctx.dirs, ['--api-cache', '0']);
  try {
    const q = new URLSearchParams({ ...creds(ctx, ADMIN), v: '1.16.1', c: 'e2e', f: 'json' });
    for (let i = 0; i < 2; i++) {
      const env = (await (await fetch(`${srv.base}/rest/getArtists?${q}`)).json())['subsonic-response'];
      ok(env);
    }
    const c = await counters(srv);
    assert.equal(c.hits, 0);
    assert.equal(c.misses, 0);
  } finally {
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.log().slice(-2000));
  }
});
