// SPDX-License-Identifier: MIT
// Album and song lists and search through the Subsonic API: getAlbumList and
// getAlbumList2 with every list type, paging, getRandomSongs,
// getSongsByGenre, search2 and search3 (words, and the empty query that
// players use to page through the whole library, which must page stably:
// the union of the pages is every song once). The list types that depend
// on play counts, ratings and stars are covered by
// subsonic-annotation.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALBUMS, TRACKS, assertSong, assertXmlParity, client, ok, setup, teardown,
} from './subsonic-lib.mjs';

let ctx;
let api;
before(async () => {
  ctx = await setup('legato-sub-lists-');
  api = client(ctx);
});
after(async () => { await teardown(ctx); });

const byName = [...ALBUMS].sort((a, b) => a.name.localeCompare(b.name)).map((a) => a.name);
const byArtist = [...ALBUMS].sort((a, b) => a.artist.localeCompare(b.artist) || a.name.localeCompare(b.name))
  .map((a) => a.name);

async function list2(params) {
  const r = ok(await api.getAlbumList2(params), `getAlbumList2 ${JSON.stringify(params)}`);
  return r.albumList2.album || [];
}
async function list1(params) {
  const r = ok(await api.getAlbumList(params), `getAlbumList ${JSON.stringify(params)}`);
  return r.albumList.album || [];
}

function assertAlbum2(a) {
  const known = ALBUMS.find((x) => x.name === a.name);
  assert.ok(known, `album ${a.name}`);
  assert.equal(a.id, ctx.ids.albums[a.name]);
  assert.equal(a.artist, known.artist);
  assert.equal(a.artistId, ctx.ids.artists[known.artist]);
  assert.equal(a.songCount, known.tracks.length);
  assert.equal(a.year, known.year);
  assert.equal(a.genre, known.genre);
}

function assertAlbum1(a) {
  const known = ALBUMS.find((x) => x.title === a.title || x.name === a.title);
  assert.ok(known, `album ${a.title}`);
  assert.equal(a.id, ctx.ids.albums[known.name]);
  assert.equal(a.isDir, true);
  assert.equal(a.artist, known.artist);
  assert.equal(a.parent, ctx.ids.artists[known.artist]);
  if (a.album !== undefined) assert.equal(a.album, known.name);
}

test('getAlbumList2: random, newest, alphabetical, byYear, byGenre', async () => {
  const all = ALBUMS.map((a) => a.name).sort();
  for (const type of ['random', 'newest', 'alphabeticalByName', 'alphabeticalByArtist']) {
    const got = await list2({ type, size: 10 });
    got.forEach(assertAlbum2);
    assert.deepEqual(got.map((a) => a.name).sort(), all, type);
  }
  assert.deepEqual((await list2({ type: 'alphabeticalByName' })).map((a) => a.name), byName);
  assert.deepEqual((await list2({ type: 'alphabeticalByArtist' })).map((a) => a.name), byArtist);
  assert.deepEqual((await list2({ type: 'byYear', fromYear: 2000, toYear: 2006 })).map((a) => a.name),
    ['First Light', 'Blue Hour']);
  assert.deepEqual((await list2({ type: 'byYear', fromYear: 2010, toYear: 2000 })).map((a) => a.name),
    ['Mixed Bag', 'Blue Hour', 'First Light'], 'fromYear > toYear: reverse chronological');
  assert.deepEqual((await list2({ type: 'byYear', fromYear: 1990, toYear: 1999 })), []);
  assert.deepEqual((await list2({ type: 'byGenre', genre: 'Jazz' })).map((a) => a.name), ['Blue Hour']);
  assert.deepEqual((await list2({ type: 'byGenre', genre: 'Polka' })), []);
  // No ratings, plays or stars yet.
  for (const type of ['starred', 'highest', 'frequent', 'recent']) {
    const got = await list2({ type });
    got.forEach(assertAlbum2);
    if (type === 'starred' || type === 'frequent' || type === 'recent') assert.deepEqual(got, [], type);
  }
  await assertXmlParity(ctx, 'getAlbumList2', { type: 'alphabeticalByName' });
  await assertXmlParity(ctx, 'getAlbumList2', { type: 'starred' });
});

test('getAlbumList2: size and offset page through the list', async () => {
  assert.deepEqual((await list2({ type: 'alphabeticalByName', size: 2 })).map((a) => a.name), byName.slice(0, 2));
  assert.deepEqual((await list2({ type: 'alphabeticalByName', size: 2, offset: 1 })).map((a) => a.name),
    byName.slice(1, 3));
  assert.deepEqual(await list2({ type: 'alphabeticalByName', size: 2, offset: 3 }), []);
  assert.equal((await list2({ type: 'random', size: 1 })).length, 1);
  assert.equal((await list2({ type: 'newest', size: 500 })).length, ALBUMS.length);
  ok(await api.getAlbumList2({ type: 'newest', musicFolderId: 1 }));
});

test('getAlbumList: the folder view of the same lists', async () => {
  for (const type of ['random', 'newest', 'alphabeticalByName', 'alphabeticalByArtist']) {
    const got = await list1({ type });
    got.forEach(assertAlbum1);
    assert.equal(got.length, ALBUMS.length, type);
  }
  assert.deepEqual((await list1({ type: 'alphabeticalByName' })).map((a) => a.title), byName);
  assert.deepEqual((await list1({ type: 'alphabeticalByArtist' })).map((a) => a.title), byArtist);
  assert.deepEqual((await list1({ type: 'byYear', fromYear: 2004, toYear: 2011 })).map((a) => a.title),
    ['Blue Hour', 'Mixed Bag']);
  assert.deepEqual((await list1({ type: 'byGenre', genre: 'Rock' })).map((a) => a.title), ['First Light']);
  for (const type of ['starred', 'highest', 'frequent', 'recent']) (await list1({ type })).forEach(assertAlbum1);
  assert.deepEqual((await list1({ type: 'alphabeticalByName', size: 1, offset: 2 })).map((a) => a.title),
    byName.slice(2));
  await assertXmlParity(ctx, 'getAlbumList', { type: 'alphabeticalByArtist' });
});

test('getRandomSongs: size, genre and year filters', async () => {
  const r = ok(await api.getRandomSongs({ size: 5 }));
  const songs = r.randomSongs.song;
  assert.equal(songs.length, 5);
  assert.equal(new Set(songs.map((s) => s.id)).size, 5, 'no song twice');
  for (const s of songs) assertSong(ctx, s, s.title);
  const all = ok(await api.getRandomSongs({ size: 500 })).randomSongs.song;
  assert.equal(all.length, TRACKS.length);
  const rock = ok(await api.getRandomSongs({ genre: 'Rock' })).randomSongs.song;
  assert.deepEqual(rock.map((s) => s.title).sort(), ['Dawn', 'Dusk', 'Noon']);
  const years = ok(await api.getRandomSongs({ fromYear: 2005, toYear: 2010 })).randomSongs.song;
  assert.equal(years.length, 5);
  for (const s of years) assert.ok(s.year >= 2005 && s.year <= 2010);
  const x = await assertXmlParity(ctx, 'getRandomSongs', { genre: 'Jazz' }, { anyOrder: true });
  assert.equal(x.json.randomSongs.song.length, 2);
});

test('getSongsByGenre: the songs of a genre, paged', async () => {
  const r = ok(await api.getSongsByGenre({ genre: 'Electronic' }));
  assert.deepEqual(r.songsByGenre.song.map((s) => s.title).sort(), ['Alpha Remix', 'Beta Remix', 'Gamma Ray']);
  for (const s of r.songsByGenre.song) assertSong(ctx, s, s.title);
  const p1 = ok(await api.getSongsByGenre({ genre: 'Electronic', count: 2 })).songsByGenre.song;
  const p2 = ok(await api.getSongsByGenre({ genre: 'Electronic', count: 2, offset: 2 })).songsByGenre.song;
  assert.equal(p1.length, 2);
  assert.equal(p2.length, 1);
  assert.deepEqual([...p1, ...p2].map((s) => s.id).sort(), r.songsByGenre.song.map((s) => s.id).sort());
  assert.deepEqual(ok(await api.getSongsByGenre({ genre: 'Polka' })).songsByGenre.song || [], []);
  await assertXmlParity(ctx, 'getSongsByGenre', { genre: 'Jazz' });
});

test('getNowPlaying, getStarred, getStarred2: empty before anyone plays or stars', async () => {
  assert.deepEqual(ok(await api.getNowPlaying()).nowPlaying.entry || [], []);
  const s1 = ok(await api.getStarred({})).starred;
  const s2 = ok(await api.getStarred2({})).starred2;
  for (const s of [s1, s2]) {
    assert.deepEqual([s.artist || [], s.album || [], s.song || []], [[], [], []]);
  }
  await assertXmlParity(ctx, 'getNowPlaying');
  await assertXmlParity(ctx, 'getStarred2');
});

test('search3 and search2: words find artists, albums and songs', async () => {
  for (const [method, key] of [['search3', 'searchResult3'], ['search2', 'searchResult2']]) {
    const remix = ok(await api[method]({ query: 'Remix' }))[key];
    assert.deepEqual((remix.song || []).map((s) => s.title).sort(), ['Alpha Remix', 'Beta Remix'], method);
    for (const s of remix.song) assertSong(ctx, s, s.title);
    const blue = ok(await api[method]({ query: 'blue' }))[key];
    const albumNames = (blue.album || []).map((a) => a.name ?? a.title);
    assert.deepEqual(albumNames, ['Blue Hour'], `${method} blue: albums`);
    assert.ok((blue.song || []).some((s) => s.title === 'Blue Moon Rising'), `${method} blue: song`);
    const alpha = ok(await api[method]({ query: 'alpha' }))[key];
    assert.ok((alpha.artist || []).some((a) => a.name === 'Alpha Band' && a.id === ctx.ids.artists['Alpha Band']),
      `${method} alpha: artist`);
    // A word prefix, as a player searches while one types.
    const nig = ok(await api[method]({ query: 'nig' }))[key];
    assert.deepEqual((nig.song || []).map((s) => s.title), ['Night Owl'], `${method} nig: prefix`);
    const none = ok(await api[method]({ query: 'zzzzqqq' }))[key];
    assert.deepEqual([none.artist || [], none.album || [], none.song || []], [[], [], []]);
    const counted = ok(await api[method]({ query: 'Remix', songCount: 1, artistCount: 0, albumCount: 0 }))[key];
    assert.equal((counted.song || []).length, 1);
    assert.equal((counted.artist || []).length, 0);
    assert.equal((counted.album || []).length, 0);
  }
  await assertXmlParity(ctx, 'search3', { query: 'blue' });
  await assertXmlParity(ctx, 'search2', { query: 'remix' });
});

// Pages through the empty query in pages of n; returns the songs in order.
async function pageAll(method, key, query, n) {
  const out = [];
  for (let off = 0; off < 100; off += n) {
    const r = ok(await api[method]({ query, songCount: n, songOffset: off, artistCount: 0, albumCount: 0 }))[key];
    const page = r.song || [];
    out.push(...page);
    if (page.length < n) break;
  }
  return out;
}

test('search3 with an empty query: every artist, album and song, stable paging', async () => {
  for (const query of ['', '""']) {
    const r = ok(await api.search3({ query, artistCount: 100, albumCount: 100, songCount: 100 }));
    const res = r.searchResult3;
    assert.equal((res.song || []).length, TRACKS.length, `query ${JSON.stringify(query)}: songs`);
    assert.equal((res.album || []).length, ALBUMS.length, `query ${JSON.stringify(query)}: albums`);
    assert.ok((res.artist || []).length >= 2, `query ${JSON.stringify(query)}: artists`);
    for (const s of res.song) assertSong(ctx, s, s.title);
    for (const n of [1, 3, 5]) {
      const songs = await pageAll('search3', 'searchResult3', query, n);
      const ids = songs.map((s) => s.id);
      assert.equal(new Set(ids).size, ids.length, `pages of ${n}: a song twice: ${ids}`);
      assert.deepEqual([...ids].sort(), Object.values(ctx.ids.songs).sort(), `pages of ${n}: every song`);
      assert.deepEqual(ids, res.song.map((s) => s.id), `pages of ${n}: the same order as one page`);
    }
  }
  // The spec says query is required, but servers must support the empty
  // query for offline sync; legato takes a missing query as the empty one
  // (as Navidrome does), which clients that omit it rely on.
  const missing = ok(await api.search3({ songCount: 100 })).searchResult3;
  assert.equal((missing.song || []).length, TRACKS.length, 'no query: every song');
  // Albums and artists page the same way.
  const a1 = ok(await api.search3({ query: '', albumCount: 2, albumOffset: 0, songCount: 0, artistCount: 0 }));
  const a2 = ok(await api.search3({ query: '', albumCount: 2, albumOffset: 2, songCount: 0, artistCount: 0 }));
  const albums = [...a1.searchResult3.album, ...(a2.searchResult3.album || [])].map((a) => a.id);
  assert.deepEqual(albums.sort(), Object.values(ctx.ids.albums).sort());
  await assertXmlParity(ctx, 'search3', { query: '', songCount: 3, songOffset: 3 });
});
