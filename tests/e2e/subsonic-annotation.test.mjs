// SPDX-License-Identifier: MIT
// Annotations through the Subsonic API: star and unstar (songs, albums and
// artists, with id, albumId and artistId, several at once), setRating,
// scrobble (a submission counts a play; a "now playing" notice shows in
// getNowPlaying), and what they change: getStarred, getStarred2, the
// starred/highest/frequent/recent album lists, starred, userRating,
// playCount and played on songs and albums. Stars, ratings and plays belong
// to one user: the other user sees none of them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN, USER, assertSong, assertXmlParity, client, creds, fails, ok, setup, teardown,
} from './subsonic-lib.mjs';

let ctx;
let api;
let bob;
before(async () => {
  ctx = await setup('legato-sub-annotation-');
  api = client(ctx);
  bob = client(ctx, USER);
});
after(async () => { await teardown(ctx); });

const recent = (d) => {
  const t = d instanceof Date ? d : new Date(d);
  return !Number.isNaN(t.getTime()) && Math.abs(Date.now() - t.getTime()) < 600e3;
};
const names = (xs) => (xs || []).map((x) => x.name ?? x.title);

test('star and unstar songs, albums and artists', async () => {
  const { songs, albums, artists } = ctx.ids;
  ok(await api.star({ id: songs.Dawn }));
  ok(await api.star({ id: [songs.Noon, songs.Dusk] }));
  ok(await api.star({ albumId: albums['Blue Hour'], artistId: artists['Alpha Band'] }));
  ok(await api.star({ id: albums['Mixed Bag'] })); // an album through id, as folder clients do

  const s2 = ok(await api.getStarred2({})).starred2;
  assert.deepEqual(names(s2.song).sort(), ['Dawn', 'Dusk', 'Noon']);
  for (const s of s2.song) {
    assertSong(ctx, s, s.title, { starred: true });
    assert.ok(recent(s.starred), `starred ${s.starred}`);
  }
  assert.deepEqual(names(s2.album).sort(), ['Blue Hour', 'Mixed Bag']);
  for (const a of s2.album) assert.equal(a.id, albums[a.name]);
  assert.deepEqual(names(s2.artist), ['Alpha Band']);
  assert.equal(s2.artist[0].id, artists['Alpha Band']);

  const s1 = ok(await api.getStarred({})).starred;
  assert.deepEqual(names(s1.song).sort(), ['Dawn', 'Dusk', 'Noon']);
  assert.deepEqual(names(s1.album).sort(), ['Blue Hour', 'Mixed Bag']);
  for (const a of s1.album) assert.equal(a.isDir, true);
  assert.deepEqual(names(s1.artist), ['Alpha Band']);

  assert.ok(recent(ok(await api.getSong({ id: songs.Dawn })).song.starred));
  assert.ok(recent(ok(await api.getAlbum({ id: albums['Blue Hour'] })).album.starred));
  assert.ok(recent(ok(await api.getArtist({ id: artists['Alpha Band'] })).artist.starred));
  const list = ok(await api.getAlbumList2({ type: 'starred' })).albumList2.album;
  assert.deepEqual(names(list).sort(), ['Blue Hour', 'Mixed Bag']);
  const list1 = ok(await api.getAlbumList({ type: 'starred' })).albumList.album;
  assert.deepEqual(names(list1).sort(), ['Blue Hour', 'Mixed Bag']);

  // Starring twice is harmless; the other user sees no star.
  ok(await api.star({ id: songs.Dawn }));
  const b2 = ok(await bob.getStarred2({})).starred2;
  assert.deepEqual([b2.song || [], b2.album || [], b2.artist || []], [[], [], []]);
  assert.equal(ok(await bob.getSong({ id: songs.Dawn })).song.starred, undefined);
  assert.deepEqual(ok(await bob.getAlbumList2({ type: 'starred' })).albumList2.album || [], []);

  await assertXmlParity(ctx, 'getStarred');
  await assertXmlParity(ctx, 'getStarred2');

  ok(await api.unstar({ id: [songs.Noon, songs.Dusk], albumId: albums['Blue Hour'] }));
  ok(await api.unstar({ id: albums['Mixed Bag'], artistId: artists['Alpha Band'] }));
  const after2 = ok(await api.getStarred2({})).starred2;
  assert.deepEqual(names(after2.song), ['Dawn']);
  assert.deepEqual([after2.album || [], after2.artist || []], [[], []]);
  assert.equal(ok(await api.getSong({ id: songs.Noon })).song.starred, undefined);
  fails(await api.star({ id: '999999' }), 70);
  fails(await api.star({ albumId: 'al-999999' }), 70);
  ok(await api.unstar({ id: songs.Dawn }));
});

test('setRating: songs and albums, 0 removes, per user', async () => {
  const { songs, albums } = ctx.ids;
  ok(await api.setRating({ id: songs.Dusk, rating: 4 }));
  ok(await api.setRating({ id: songs.Noon, rating: 2 }));
  assertSong(ctx, ok(await api.getSong({ id: songs.Dusk })).song, 'Dusk', { userRating: 4 });
  assertSong(ctx, ok(await api.getSong({ id: songs.Noon })).song, 'Noon', { userRating: 2 });
  ok(await api.setRating({ id: songs.Noon, rating: 0 }));
  assert.equal(ok(await api.getSong({ id: songs.Noon })).song.userRating ?? 0, 0);
  assert.equal(ok(await bob.getSong({ id: songs.Dusk })).song.userRating ?? 0, 0, 'bob sees no rating');

  ok(await api.setRating({ id: albums['Blue Hour'], rating: 5 }));
  ok(await api.setRating({ id: albums['Mixed Bag'], rating: 3 }));
  assert.equal(ok(await api.getAlbum({ id: albums['Blue Hour'] })).album.userRating, 5);
  const hi = ok(await api.getAlbumList2({ type: 'highest' })).albumList2.album;
  assert.deepEqual(names(hi).slice(0, 2), ['Blue Hour', 'Mixed Bag']);
  const hi1 = ok(await api.getAlbumList({ type: 'highest' })).albumList.album;
  assert.deepEqual(names(hi1).slice(0, 2), ['Blue Hour', 'Mixed Bag']);
  const bhi = ok(await bob.getAlbumList2({ type: 'highest' })).albumList2.album || [];
  assert.ok(bhi.every((a) => (a.userRating ?? 0) === 0), 'bob has rated nothing');
  assert.equal(ok(await bob.getAlbum({ id: albums['Blue Hour'] })).album.userRating ?? 0, 0);

  fails(await api.setRating({ id: songs.Dusk, rating: 6 }), 0, /rating/);
  fails(await api.setRating({ id: songs.Dusk, rating: -1 }), 0, /rating/);
  fails(await api.setRating({ id: '999999', rating: 3 }), 70);
  await assertXmlParity(ctx, 'getSong', { id: songs.Dusk });
});

test('scrobble: now playing notices and submissions', async () => {
  const { songs } = ctx.ids;
  ok(await api.scrobble({ id: songs['Night Owl'], submission: false }));
  const np = ok(await api.getNowPlaying()).nowPlaying.entry || [];
  const mine = np.find((e) => e.username === ADMIN.name);
  assert.ok(mine, `alice in getNowPlaying: ${JSON.stringify(np)}`);
  assert.equal(mine.id, songs['Night Owl']);
  assert.equal(mine.title, 'Night Owl');
  assert.ok(mine.minutesAgo >= 0 && mine.minutesAgo < 5);
  assert.equal(typeof mine.playerId, 'number');
  await assertXmlParity(ctx, 'getNowPlaying');
  // A "now playing" notice is not a play.
  assert.equal(ok(await api.getSong({ id: songs['Night Owl'] })).song.playCount ?? 0, 0);

  const now = Date.now();
  ok(await api.scrobble({ id: songs['Night Owl'], time: now - 120e3 }));
  ok(await api.scrobble({ id: songs['Night Owl'], time: now - 60e3, submission: true }));
  ok(await api.scrobble({ id: songs.Dawn, time: now }));
  const owl = ok(await api.getSong({ id: songs['Night Owl'] })).song;
  assert.equal(owl.playCount, 2);
  assert.ok(recent(owl.played), `played ${owl.played}`);
  assert.ok(Math.abs(new Date(owl.played).getTime() - (now - 60e3)) < 2000, 'played is the last time given');
  assert.equal(ok(await api.getSong({ id: songs.Dawn })).song.playCount, 1);

  const freq = ok(await api.getAlbumList2({ type: 'frequent' })).albumList2.album;
  assert.deepEqual(names(freq), ['Blue Hour', 'First Light']);
  assert.equal(freq[0].playCount, 2);
  const rec = ok(await api.getAlbumList2({ type: 'recent' })).albumList2.album;
  assert.deepEqual(names(rec), ['First Light', 'Blue Hour']);
  assert.ok(recent(rec[0].played), `album played ${rec[0].played}`);
  assert.deepEqual(names(ok(await api.getAlbumList({ type: 'frequent' })).albumList.album),
    ['Blue Hour', 'First Light']);
  assert.deepEqual(names(ok(await api.getAlbumList({ type: 'recent' })).albumList.album),
    ['First Light', 'Blue Hour']);
  const top = ok(await api.getTopSongs({ artist: 'Beta Singer' })).topSongs.song;
  assert.equal(top[0].title, 'Night Owl', 'most played first');

  // Several ids in one scrobble.
  ok(await api.scrobble({ id: [songs.Noon, songs.Dusk] }));
  assert.equal(ok(await api.getSong({ id: songs.Dusk })).song.playCount, 1);

  // Plays are the user's own.
  assert.equal(ok(await bob.getSong({ id: songs['Night Owl'] })).song.playCount ?? 0, 0);
  assert.deepEqual(ok(await bob.getAlbumList2({ type: 'frequent' })).albumList2.album || [], []);
  assert.deepEqual(ok(await bob.getAlbumList2({ type: 'recent' })).albumList2.album || [], []);

  fails(await api.scrobble({ id: '999999' }), 70);
  fails(await api.scrobble({}), 10);
});

test('annotations through XML and form POST, with every credential', async () => {
  const { songs } = ctx.ids;
  for (const mode of ['password', 'enc', 'apiKey']) {
    const c = client(ctx, USER, mode, { post: true });
    ok(await c.star({ id: songs.Noon }), mode);
    ok(await c.unstar({ id: songs.Noon }), mode);
    ok(await c.setRating({ id: songs.Noon, rating: 1 }), mode);
  }
  assert.equal(ok(await bob.getSong({ id: songs.Noon })).song.userRating, 1);
  assert.equal(ok(await api.getSong({ id: songs.Noon })).song.userRating ?? 0, 0);
  const x = await fetch(`${ctx.srv.base}/rest/star.view?${new URLSearchParams({
    ...creds(ctx, USER), v: '1.16.1', c: 'e2e', id: songs['Gamma Ray'] })}`);
  assert.match(await x.text(), /status="ok"/);
  assert.deepEqual(names(ok(await bob.getStarred2({})).starred2.song), ['Gamma Ray']);
});
