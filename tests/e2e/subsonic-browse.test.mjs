// SPDX-License-Identifier: MIT
// Browsing the catalogue through the Subsonic API with the `subsonic-api`
// client: music folders, indexes and directories (the folder view), genres,
// artists, albums and songs (the ID3 view), artist and album info, similar
// and top songs. Every answer is checked against the tags the library was
// made with (subsonic-lib.mjs), validated against its OpenSubsonic schema,
// and, for each endpoint, compared with the same request answered in XML.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeAudio } from './lib.mjs';
import {
  ALBUMS, GENRES, TRACKS, USER, assertSong, assertXmlParity, client, fails, ok, setup, teardown,
  waitForScan,
} from './subsonic-lib.mjs';

let ctx;
let api;
before(async () => {
  ctx = await setup('legato-sub-browse-');
  api = client(ctx);
});
after(async () => { await teardown(ctx); });

const albumArtists = [...new Set(ALBUMS.map((a) => a.artist))].sort();
const albumsOf = (artist) => ALBUMS.filter((a) => a.artist === artist);
const titlesOf = (al) => al.tracks.map((t) => t.title);

test('getMusicFolders: one folder, id 1, "Music"', async () => {
  const r = ok(await api.getMusicFolders());
  assert.deepEqual(r.musicFolders.musicFolder, [{ id: 1, name: 'Music' }]);
  await assertXmlParity(ctx, 'getMusicFolders');
});

test('getIndexes: artists under their first letter, ignoredArticles, lastModified', async () => {
  const r = ok(await api.getIndexes({}));
  const idx = r.indexes;
  assert.equal(typeof idx.ignoredArticles, 'string');
  assert.ok(idx.lastModified > 0, 'lastModified in ms');
  const seen = {};
  for (const i of idx.index) {
    for (const a of i.artist) {
      assert.equal(i.name, a.name[0].toUpperCase(), `${a.name} under ${i.name}`);
      seen[a.name] = a.id;
    }
  }
  for (const name of albumArtists) assert.equal(seen[name], ctx.ids.artists[name], name);
  ok(await api.getIndexes({ musicFolderId: 1 }));
  await assertXmlParity(ctx, 'getIndexes');
});

test('getMusicDirectory: an artist lists its albums, an album its songs', async () => {
  for (const artist of albumArtists) {
    const r = ok(await api.getMusicDirectory({ id: ctx.ids.artists[artist] }));
    assert.equal(r.directory.id, ctx.ids.artists[artist]);
    assert.equal(r.directory.name, artist);
    const names = r.directory.child.map((c) => c.title);
    assert.deepEqual(names.sort(), albumsOf(artist).map((a) => a.name).sort());
    for (const c of r.directory.child) {
      assert.equal(c.isDir, true);
      assert.equal(c.id, ctx.ids.albums[c.title]);
      assert.equal(c.parent, ctx.ids.artists[artist]);
    }
  }
  for (const al of ALBUMS) {
    const r = ok(await api.getMusicDirectory({ id: ctx.ids.albums[al.name] }));
    assert.equal(r.directory.name, al.name);
    assert.equal(r.directory.parent, ctx.ids.artists[al.artist]);
    assert.deepEqual(r.directory.child.map((c) => c.title), titlesOf(al));
    for (const c of r.directory.child) assertSong(ctx, c, c.title);
  }
  await assertXmlParity(ctx, 'getMusicDirectory', { id: ctx.ids.albums['First Light'] });
  await assertXmlParity(ctx, 'getMusicDirectory', { id: ctx.ids.artists['Alpha Band'] });
});

test('getGenres: each genre with its song and album counts', async () => {
  const r = ok(await api.getGenres());
  const got = Object.fromEntries(r.genres.genre.map((g) => [g.value, g]));
  assert.deepEqual(Object.keys(got).sort(), [...GENRES].sort());
  for (const al of ALBUMS) {
    assert.equal(got[al.genre].songCount, al.tracks.length, `${al.genre} songCount`);
    assert.equal(got[al.genre].albumCount, 1, `${al.genre} albumCount`);
  }
  await assertXmlParity(ctx, 'getGenres');
});

test('getArtists: every album artist with its album count, indexed', async () => {
  const r = ok(await api.getArtists({}));
  const found = {};
  for (const i of r.artists.index) {
    for (const a of i.artist) {
      assert.equal(i.name, a.name[0].toUpperCase());
      found[a.name] = a;
    }
  }
  assert.deepEqual(Object.keys(found).sort(), albumArtists);
  for (const name of albumArtists) {
    assert.equal(found[name].id, ctx.ids.artists[name]);
    assert.equal(found[name].albumCount, albumsOf(name).length, `${name} albumCount`);
  }
  assert.equal(typeof r.artists.ignoredArticles, 'string');
  ok(await api.getArtists({ musicFolderId: 1 }));
  await assertXmlParity(ctx, 'getArtists');
});

test('getArtist: the artist and its albums', async () => {
  for (const name of albumArtists) {
    const r = ok(await api.getArtist({ id: ctx.ids.artists[name] }));
    const a = r.artist;
    assert.equal(a.id, ctx.ids.artists[name]);
    assert.equal(a.name, name);
    assert.equal(a.albumCount, albumsOf(name).length);
    assert.deepEqual(a.album.map((x) => x.name).sort(), albumsOf(name).map((x) => x.name).sort());
    for (const al of a.album) {
      const known = ALBUMS.find((x) => x.name === al.name);
      assert.equal(al.id, ctx.ids.albums[al.name]);
      assert.equal(al.artist, name);
      assert.equal(al.artistId, ctx.ids.artists[name]);
      assert.equal(al.songCount, known.tracks.length);
      assert.equal(al.year, known.year);
      assert.equal(al.genre, known.genre);
    }
  }
  await assertXmlParity(ctx, 'getArtist', { id: ctx.ids.artists['Alpha Band'] });
});

test('getAlbum: the album and its songs in track order', async () => {
  for (const known of ALBUMS) {
    const r = ok(await api.getAlbum({ id: ctx.ids.albums[known.name] }));
    const al = r.album;
    assert.equal(al.id, ctx.ids.albums[known.name]);
    assert.equal(al.name, known.name);
    assert.equal(al.artist, known.artist);
    assert.equal(al.artistId, ctx.ids.artists[known.artist]);
    assert.equal(al.year, known.year);
    assert.equal(al.genre, known.genre);
    assert.equal(al.songCount, known.tracks.length);
    const secs = known.tracks.reduce((s, t) => s + t.seconds, 0);
    assert.ok(Math.abs(al.duration - secs) <= known.tracks.length, `duration ${al.duration} ~ ${secs}`);
    assert.ok(al.created instanceof Date && !Number.isNaN(al.created.getTime()), 'created');
    if (known.cover) assert.equal(al.coverArt, ctx.ids.albums[known.name], 'coverArt is the album id');
    if (al.isCompilation !== undefined) assert.equal(al.isCompilation, known.compilation);
    if (al.genres) assert.deepEqual(al.genres, [{ name: known.genre }]);
    assert.deepEqual(al.song.map((s) => s.title), titlesOf(known));
    for (const s of al.song) assertSong(ctx, s, s.title);
  }
  await assertXmlParity(ctx, 'getAlbum', { id: ctx.ids.albums['Mixed Bag'] });
});

test('getSong: every song with every tag', async () => {
  for (const t of TRACKS) {
    const r = ok(await api.getSong({ id: ctx.ids.songs[t.title] }));
    assertSong(ctx, r.song, t.title, { starred: false });
  }
  await assertXmlParity(ctx, 'getSong', { id: ctx.ids.songs.Dawn });
});

test('the other user sees the same catalogue', async () => {
  const bob = client(ctx, USER, 'apiKey');
  const a = ok(await bob.getAlbum({ id: ctx.ids.albums['Blue Hour'] }));
  assert.deepEqual(a.album.song.map((s) => s.title), titlesOf(ALBUMS[1]));
  ok(await bob.getArtists({}));
});

test('getArtistInfo, getArtistInfo2, getAlbumInfo, getAlbumInfo2', async () => {
  const ar = ctx.ids.artists['Alpha Band'];
  const al = ctx.ids.albums['First Light'];
  const i1 = ok(await api.getArtistInfo({ id: ar }));
  assert.equal(typeof i1.artistInfo, 'object');
  const i2 = ok(await api.getArtistInfo2({ id: ar, count: 5, includeNotPresent: false }));
  assert.equal(typeof i2.artistInfo2, 'object');
  for (const s of i2.artistInfo2.similarArtist || []) assert.ok(Object.values(ctx.ids.artists).includes(s.id));
  const a1 = ok(await api.getAlbumInfo({ id: al }));
  assert.equal(typeof a1.albumInfo, 'object');
  const a2 = ok(await api.getAlbumInfo2({ id: al }));
  assert.equal(typeof a2.albumInfo, 'object');
  fails(await api.getArtistInfo2({ id: 'ar-999999' }), 70);
  fails(await api.getAlbumInfo2({ id: 'al-999999' }), 70);
  await assertXmlParity(ctx, 'getArtistInfo2', { id: ar });
  await assertXmlParity(ctx, 'getAlbumInfo2', { id: al });
});

test('getSimilarSongs2 and getTopSongs', async () => {
  const ar = ctx.ids.artists['Alpha Band'];
  const sim = ok(await api.getSimilarSongs2({ id: ar, count: 5 }));
  const songs = sim.similarSongs2.song || [];
  assert.ok(songs.length <= 5);
  for (const s of songs) assertSong(ctx, s, s.title);
  const top = ok(await api.getTopSongs({ artist: 'Alpha Band', count: 10 }));
  const titles = (top.topSongs.song || []).map((s) => s.title);
  const mine = TRACKS.filter((t) => t.artist === 'Alpha Band').map((t) => t.title);
  assert.ok(titles.length > 0, 'top songs of Alpha Band');
  for (const t of titles) assert.ok(mine.includes(t), `${t} is by Alpha Band`);
  for (const s of top.topSongs.song) assertSong(ctx, s, s.title);
  const none = ok(await api.getTopSongs({ artist: 'Nobody At All' }));
  assert.equal((none.topSongs.song || []).length, 0);
  assert.ok(ok(await api.getTopSongs({ artist: 'Alpha Band', count: 2 })).topSongs.song.length <= 2);
  fails(await api.getSimilarSongs2({ id: 'ar-999999' }), 70);
  await assertXmlParity(ctx, 'getTopSongs', { artist: 'Alpha Band' });
  await assertXmlParity(ctx, 'getSimilarSongs2', { id: ar, count: 50 }, { anyOrder: true });
});

// Last: it adds artists to the library. Names that start with a digit or a
// sign share the index "#", though "~" sorts after the letters: one index
// per name, or a client keyed by name loses artists.
test('getArtists and getIndexes: one index per name', async () => {
  for (const name of ['1Num', '_Under', '~Tilde']) {
    makeAudio(join(ctx.dirs.music, 'Odd', `${name}.mp3`),
      { tags: { title: `By ${name}`, artist: name, album_artist: name, album: `${name} Album` } });
  }
  ok(await api.startScan());
  await waitForScan(ctx, TRACKS.length + 3);
  for (const [method, key] of [['getArtists', 'artists'], ['getIndexes', 'indexes']]) {
    const idx = ok(await api[method]({}))[key].index;
    const names = idx.map((i) => i.name);
    assert.deepEqual(names, [...new Set(names)], `${method}: ${names}`);
    const hash = idx.find((i) => i.name === '#');
    assert.deepEqual(hash.artist.map((a) => a.name).sort(), ['1Num', '_Under', '~Tilde']);
  }
  await assertXmlParity(ctx, 'getArtists');
});
