// SPDX-License-Identifier: MIT
// Requests shaped as real players send them, answered as they expect:
//   DSub: XML, v=1.2.0, the .view suffix, p=enc:HEX passwords, the folder
//     view (getIndexes, getMusicDirectory, getAlbumList, search2), stream.
//   Amperfy: XML, token credentials, every request a form POST.
//   Supersonic: XML, token credentials with one salt reused for every
//     request (also several at once).
//   Feishin and Symfonium: JSON, syncing the whole library with search3 and
//     an empty query ("" and the literal "\"\"") paged by 500.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN, ALBUMS, TRACKS, USER, md5, ok, raw, setup, teardown,
} from './subsonic-lib.mjs';

let ctx;
before(async () => { ctx = await setup('legato-sub-clients-'); });
after(async () => { await teardown(ctx); });

const xmlOk = (r, what) => {
  assert.equal(r.status, 200, what);
  assert.equal(r.body.status, 'ok', `${what}: ${r.text.slice(0, 300)}`);
  assert.equal(r.body.xmlns, 'http://subsonic.org/restapi', what);
  return r.body;
};
const one = (x) => x[0];

test('DSub: XML, v=1.2.0, .view, enc: password, folder browsing', async () => {
  const auth = { u: USER.name, p: `enc:${Buffer.from(USER.password).toString('hex')}` };
  const o = { f: 'xml', view: true, v: '1.2.0', c: 'DSub', auth };
  const call = async (m, p = {}) => xmlOk(await raw(ctx, m, p, o), `DSub ${m}`);
  await call('ping');
  assert.equal(one((await call('getLicense')).license).valid, 'true');
  const folders = one((await call('getMusicFolders')).musicFolders).musicFolder;
  assert.deepEqual(folders.map((f) => [f.id, f.name]), [['1', 'Music']]);
  const idx = one((await call('getIndexes', { musicFolderId: 1 })).indexes);
  const artists = idx.index.flatMap((i) => i.artist);
  const alpha = artists.find((a) => a.name === 'Alpha Band');
  assert.equal(alpha.id, ctx.ids.artists['Alpha Band']);
  const dir = one((await call('getMusicDirectory', { id: alpha.id })).directory);
  const album = dir.child.find((c) => c.title === 'First Light');
  assert.equal(album.isDir, 'true');
  const songs = one((await call('getMusicDirectory', { id: album.id })).directory).child;
  assert.deepEqual(songs.map((s) => s.title), ['Dawn', 'Noon', 'Dusk']);
  assert.deepEqual(songs.map((s) => s.track), ['1', '2', '3']);
  assert.equal(songs[0].isDir, 'false');
  assert.equal(songs[0].contentType, 'audio/mpeg');
  const newest = one((await call('getAlbumList', { type: 'newest', size: 20, offset: 0 })).albumList).album;
  assert.equal(newest.length, ALBUMS.length);
  const found = one((await call('search2', { query: 'dawn', artistCount: 20, albumCount: 20, songCount: 20 }))
    .searchResult2);
  assert.deepEqual(found.song.map((s) => s.title), ['Dawn']);
  await call('star', { id: songs[0].id });
  assert.deepEqual(one((await call('getStarred')).starred).song.map((s) => s.title), ['Dawn']);
  await call('unstar', { id: songs[0].id });
  await call('scrobble', { id: songs[0].id, submission: 'false' });
  await call('getPlaylists');
  // The stream of the song, whole, with DSub's parameters.
  const q = new URLSearchParams({ ...auth, v: '1.2.0', c: 'DSub', id: songs[0].id, maxBitRate: '0' });
  const s = await fetch(`${ctx.srv.base}/rest/stream.view?${q}`);
  assert.equal(s.status, 200);
  const bytes = readFileSync(join(ctx.dirs.music, TRACKS[0].path));
  assert.ok(Buffer.from(await s.arrayBuffer()).equals(bytes));
  const cover = await fetch(`${ctx.srv.base}/rest/getCoverArt.view?${new URLSearchParams({
    ...auth, v: '1.2.0', c: 'DSub', id: songs[0].coverArt, size: '128' })}`);
  assert.equal(cover.status, 200);
  assert.match(cover.headers.get('content-type'), /^image\//);
});

test('Amperfy: XML, token credentials, form POST', async () => {
  const auth = () => {
    const s = Math.random().toString(36).slice(2, 10);
    return { u: ADMIN.name, t: md5(ADMIN.password + s), s };
  };
  const call = async (m, p = {}) => xmlOk(await raw(ctx, m, p,
    { f: 'xml', post: true, v: '1.16.1', c: 'Amperfy', auth: auth() }), `Amperfy ${m}`);
  await call('ping');
  const exts = (await call('getOpenSubsonicExtensions')).openSubsonicExtensions.map((e) => e.name);
  assert.ok(exts.includes('formPost'));
  const artists = one((await call('getArtists')).artists).index.flatMap((i) => i.artist);
  const beta = artists.find((a) => a.name === 'Beta Singer');
  assert.equal(beta.albumCount, '1');
  const artist = one((await call('getArtist', { id: beta.id })).artist);
  assert.deepEqual(artist.album.map((a) => a.name), ['Blue Hour']);
  const album = one((await call('getAlbum', { id: artist.album[0].id })).album);
  assert.equal(album.songCount, '2');
  assert.deepEqual(album.song.map((s) => s.title), ['Blue Moon Rising', 'Night Owl']);
  assert.equal(album.song[0].suffix, 'flac');
  const res = one((await call('search3', { query: 'owl', artistCount: 0, albumCount: 0, songCount: 50 }))
    .searchResult3);
  assert.deepEqual(res.song.map((s) => s.id), [ctx.ids.songs['Night Owl']]);
  const pl = one((await call('createPlaylist', { name: 'Amperfy list', songId: [album.song[1].id, album.song[0].id] }))
    .playlist);
  assert.equal(pl.songCount, '2');
  const got = one((await call('getPlaylist', { id: pl.id })).playlist);
  assert.deepEqual(got.entry.map((e) => e.title), ['Night Owl', 'Blue Moon Rising']);
  await call('savePlayQueue', { id: [album.song[0].id, album.song[1].id], current: album.song[1].id, position: 500 });
  const pq = one((await call('getPlayQueue')).playQueue);
  assert.equal(pq.current, album.song[1].id);
  assert.equal(pq.position, '500');
  assert.equal(pq.changedBy, 'Amperfy');
  await call('deletePlaylist', { id: pl.id });
});

test('Supersonic: XML, token credentials with one salt for every request', async () => {
  const s = 'fixedsalt42';
  const auth = { u: USER.name, t: md5(USER.password + s), s };
  const o = { f: 'xml', v: '1.16.1', c: 'Supersonic', auth };
  const call = async (m, p = {}) => xmlOk(await raw(ctx, m, p, o), `Supersonic ${m}`);
  for (let i = 0; i < 3; i++) await call('ping');
  // A burst at once, as the client loads its home page.
  const rs = await Promise.all([
    raw(ctx, 'getAlbumList2', { type: 'random', size: 10 }, o),
    raw(ctx, 'getAlbumList2', { type: 'newest', size: 10 }, o),
    raw(ctx, 'getAlbumList2', { type: 'alphabeticalByName', size: 10 }, o),
    raw(ctx, 'getArtists', {}, o),
    raw(ctx, 'getGenres', {}, o),
    raw(ctx, 'getPlaylists', {}, o),
    raw(ctx, 'getRandomSongs', { size: 5 }, o),
    raw(ctx, 'getStarred2', {}, o),
  ]);
  rs.forEach((r, i) => xmlOk(r, `burst ${i}`));
  const names = one(rs[2].body.albumList2).album.map((a) => a.name);
  assert.deepEqual(names, ALBUMS.map((a) => a.name).sort((a, b) => a.localeCompare(b)));
  const genres = one(rs[4].body.genres).genre;
  assert.deepEqual(genres.map((g) => g['#text']).sort(), ['Electronic', 'Jazz', 'Rock']);
  assert.equal(one(rs[6].body.randomSongs).song.length, 5);
});

test('Feishin and Symfonium: JSON, search3 with an empty query paged by 500', async () => {
  for (const [c, query] of [['Feishin', ''], ['Symfonium', '""']]) {
    const o = { v: '1.16.1', c, auth: { apiKey: ctx.keys.alice } };
    const songs = [];
    for (let off = 0; ; off += 500) {
      const r = await raw(ctx, 'search3', { query, songCount: 500, songOffset: off, artistCount: 0, albumCount: 0 }, o);
      const page = ok(r.body, `${c} search3 offset ${off}`).searchResult3.song || [];
      songs.push(...page);
      if (page.length < 500) break;
    }
    assert.equal(songs.length, TRACKS.length, c);
    assert.deepEqual(songs.map((s) => s.id).sort(), Object.values(ctx.ids.songs).sort(), c);
    const albums = ok((await raw(ctx, 'search3', { query, songCount: 0, albumCount: 500, artistCount: 500 }, o))
      .body).searchResult3;
    assert.deepEqual(albums.album.map((a) => a.name).sort(), ALBUMS.map((a) => a.name).sort(), c);
    assert.ok(albums.artist.length >= 2, c);
    for (const s of songs) {
      assert.equal(typeof s.id, 'string');
      assert.equal(typeof s.duration, 'number');
      assert.ok(s.albumId && s.artistId, `${c}: albumId and artistId on ${s.title}`);
    }
  }
});
