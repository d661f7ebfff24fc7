// SPDX-License-Identifier: MIT
// Playlists, bookmarks and the play queue through the Subsonic API: the M3U
// file in the library imported as a playlist, createPlaylist (new and
// replacing), updatePlaylist (name, comment, public, adding and removing by
// index), deletePlaylist, getPlaylists for another user (admin only);
// createBookmark, getBookmarks, deleteBookmark; savePlayQueue, getPlayQueue.
// A second user can neither see nor change the first one's private
// playlist, bookmarks or play queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN, M3U, USER, assertSong, assertXmlParity, client, fails, ok, setup, teardown,
} from './subsonic-lib.mjs';

let ctx;
let api;
let bob;
before(async () => {
  ctx = await setup('legato-sub-playlists-');
  api = client(ctx);
  bob = client(ctx, USER, 'apiKey');
});
after(async () => { await teardown(ctx); });

const titles = (p) => (p.entry || []).map((e) => e.title);
const recent = (d) => Math.abs(Date.now() - new Date(d).getTime()) < 600e3;

function assertPlaylist(p, { name, owner, songs, pub, comment }) {
  assert.equal(p.name, name);
  assert.match(p.id, /^pl-\d+$/);
  if (owner) assert.equal(p.owner, owner);
  if (songs) {
    assert.equal(p.songCount, songs.length, `${name}: songCount`);
    if (p.entry) assert.deepEqual(titles(p), songs, `${name}: entries`);
  }
  if (pub !== undefined) assert.equal(p.public, pub, `${name}: public`);
  if (comment !== undefined) assert.equal(p.comment ?? '', comment, `${name}: comment`);
  assert.ok(recent(p.created) && recent(p.changed), `${name}: created ${p.created}, changed ${p.changed}`);
  assert.ok(p.duration >= 0);
}

test('the M3U file in the library is a playlist', async () => {
  const all = ok(await api.getPlaylists({})).playlists.playlist || [];
  const p = all.find((x) => x.name === M3U.name);
  assert.ok(p, `playlist ${M3U.name} in ${JSON.stringify(all.map((x) => x.name))}`);
  assertPlaylist(p, { name: M3U.name, songs: M3U.tracks });
  const full = ok(await api.getPlaylist({ id: p.id })).playlist;
  assertPlaylist(full, { name: M3U.name, songs: M3U.tracks });
  for (const e of full.entry) assertSong(ctx, e, e.title);
  await assertXmlParity(ctx, 'getPlaylist', { id: p.id });
  // It follows its file: read-only here, for its owner too (the next scan
  // would undo an edit, and bring a deleted one back under a new id).
  assert.equal(full.readonly, true);
  fails(await api.updatePlaylist({ playlistId: p.id, name: 'Renamed' }), 50);
  fails(await api.deletePlaylist({ id: p.id }), 50);
  fails(await api.createPlaylist({ playlistId: p.id, songId: [ctx.ids.songs.Dawn] }), 50);
  assertPlaylist(ok(await api.getPlaylist({ id: p.id })).playlist, { name: M3U.name, songs: M3U.tracks });
});

test('createPlaylist, updatePlaylist, deletePlaylist', async () => {
  const { songs } = ctx.ids;
  const c = ok(await api.createPlaylist({ name: 'Mine', songId: [songs.Dawn, songs['Night Owl'], songs.Dawn] }));
  const p = c.playlist;
  assertPlaylist(p, { name: 'Mine', owner: ADMIN.name, songs: ['Dawn', 'Night Owl', 'Dawn'], pub: false });
  const id = p.id;
  const listed = ok(await api.getPlaylists({})).playlists.playlist.find((x) => x.id === id);
  assertPlaylist(listed, { name: 'Mine', owner: ADMIN.name, songs: ['Dawn', 'Night Owl', 'Dawn'] });
  assert.equal(listed.entry, undefined, 'getPlaylists lists no entries');

  ok(await api.updatePlaylist({ playlistId: id, name: 'Mine, renamed', comment: 'for the road', public: true,
    songIdToAdd: [songs.Dusk, songs['Gamma Ray']], songIndexToRemove: [0, 2] }));
  let got = ok(await api.getPlaylist({ id })).playlist;
  assertPlaylist(got, { name: 'Mine, renamed', songs: ['Night Owl', 'Dusk', 'Gamma Ray'], pub: true,
    comment: 'for the road' });
  const secs = 3 + 4 + 3;
  assert.ok(Math.abs(got.duration - secs) <= 3, `duration ${got.duration} ~ ${secs}`);
  await assertXmlParity(ctx, 'getPlaylists');
  await assertXmlParity(ctx, 'getPlaylist', { id });

  // createPlaylist with playlistId replaces the songs.
  ok(await api.createPlaylist({ playlistId: id, songId: [songs.Noon] }));
  got = ok(await api.getPlaylist({ id })).playlist;
  assert.deepEqual(titles(got), ['Noon']);
  // Removing every song leaves an empty playlist.
  ok(await api.updatePlaylist({ playlistId: id, songIndexToRemove: 0 }));
  got = ok(await api.getPlaylist({ id })).playlist;
  assert.equal(got.songCount, 0);
  assert.deepEqual(got.entry || [], []);

  fails(await api.createPlaylist({}), 10);
  fails(await api.createPlaylist({ name: 'Bad', songId: ['999999'] }), 70);
  fails(await api.updatePlaylist({ playlistId: 'pl-999999', name: 'x' }), 70);
  fails(await api.updatePlaylist({ playlistId: id, songIndexToRemove: 5 }), 0, /songIndexToRemove/);

  ok(await api.deletePlaylist({ id }));
  fails(await api.getPlaylist({ id }), 70);
  fails(await api.deletePlaylist({ id }), 70);
});

test('a private playlist is its owner\'s alone; a public one is read-only to others', async () => {
  const { songs } = ctx.ids;
  const p = ok(await api.createPlaylist({ name: 'Alice only', songId: [songs.Dawn] })).playlist;
  const names = async (c) => (ok(await c.getPlaylists({})).playlists.playlist || []).map((x) => x.name);
  assert.ok(!(await names(bob)).includes('Alice only'), 'bob does not list it');
  const g = await bob.getPlaylist({ id: p.id });
  assert.equal(g.status, 'failed');
  assert.ok([50, 70].includes(g.error.code), JSON.stringify(g.error));
  for (const r of [await bob.updatePlaylist({ playlistId: p.id, name: 'Bob was here' }),
    await bob.deletePlaylist({ id: p.id }),
    await bob.createPlaylist({ playlistId: p.id, songId: [songs.Noon] })]) {
    assert.equal(r.status, 'failed');
    assert.ok([50, 70].includes(r.error.code), JSON.stringify(r.error));
  }
  assertPlaylist(ok(await api.getPlaylist({ id: p.id })).playlist, { name: 'Alice only', songs: ['Dawn'] });

  ok(await api.updatePlaylist({ playlistId: p.id, public: true }));
  assert.ok((await names(bob)).includes('Alice only'), 'bob lists the public playlist');
  const seen = ok(await bob.getPlaylist({ id: p.id })).playlist;
  assertPlaylist(seen, { name: 'Alice only', owner: ADMIN.name, songs: ['Dawn'], pub: true });
  if (seen.readonly !== undefined) assert.equal(seen.readonly, true);
  fails(await bob.updatePlaylist({ playlistId: p.id, name: 'Bob was here' }), 50);
  fails(await bob.deletePlaylist({ id: p.id }), 50);
  assert.equal(ok(await api.getPlaylist({ id: p.id })).playlist.name, 'Alice only');

  // Bob's own playlist; the admin may list it, bob may not list alice's.
  const bp = ok(await bob.createPlaylist({ name: 'Bob\'s', songId: [songs.Noon] })).playlist;
  assert.equal(bp.owner, USER.name);
  const forBob = ok(await api.getPlaylists({ username: USER.name })).playlists.playlist || [];
  assert.deepEqual(forBob.filter((x) => x.owner === USER.name).map((x) => x.name), ['Bob\'s']);
  fails(await bob.getPlaylists({ username: ADMIN.name }), 50);
});

test('bookmarks: create, overwrite, list, delete; per user', async () => {
  const { songs } = ctx.ids;
  ok(await api.createBookmark({ id: songs.Dusk, position: 1234, comment: 'halfway' }));
  let bms = ok(await api.getBookmarks()).bookmarks.bookmark;
  assert.equal(bms.length, 1);
  assert.equal(bms[0].position, 1234);
  assert.equal(bms[0].username, ADMIN.name);
  assert.equal(bms[0].comment, 'halfway');
  assert.ok(recent(bms[0].created) && recent(bms[0].changed));
  assertSong(ctx, bms[0].entry, 'Dusk');
  ok(await api.createBookmark({ id: songs.Dusk, position: 2500 }));
  ok(await api.createBookmark({ id: songs.Noon, position: 10 }));
  bms = ok(await api.getBookmarks()).bookmarks.bookmark;
  assert.equal(bms.length, 2);
  assert.equal(bms.find((b) => b.entry.id === songs.Dusk).position, 2500, 'overwritten');
  const x = await assertXmlParity(ctx, 'getBookmarks');
  assert.equal(x.json.bookmarks.bookmark.length, 2);

  assert.deepEqual(ok(await bob.getBookmarks()).bookmarks.bookmark || [], []);
  // Bob has no bookmark there: nothing to delete (ok, or 70 "not found").
  const del = await bob.deleteBookmark({ id: songs.Dusk });
  if (del.status !== 'ok') fails(del, 70);
  assert.equal(ok(await api.getBookmarks()).bookmarks.bookmark.length, 2, 'bob cannot delete alice\'s');
  ok(await bob.createBookmark({ id: songs.Dusk, position: 5 }));
  assert.equal(ok(await api.getBookmarks()).bookmarks.bookmark
    .find((b) => b.entry.id === songs.Dusk).position, 2500, 'bob\'s bookmark is his own');

  ok(await api.deleteBookmark({ id: songs.Dusk }));
  bms = ok(await api.getBookmarks()).bookmarks.bookmark;
  assert.deepEqual(bms.map((b) => b.entry.title), ['Noon']);
  assert.equal(ok(await bob.getBookmarks()).bookmarks.bookmark.length, 1);

  fails(await api.createBookmark({ id: '999999', position: 1 }), 70);
  fails(await api.createBookmark({ id: songs.Noon, position: 'x' }), 0, /position/);
  fails(await api.createBookmark({ position: 1 }), 10);
});

test('play queue: save, get, per user, clear', async () => {
  const { songs } = ctx.ids;
  const emptyBob = ok(await bob.getPlayQueue());
  assert.deepEqual(emptyBob.playQueue?.entry || [], []);
  ok(await api.savePlayQueue({ id: [songs.Dawn, songs.Noon, songs.Dusk], current: songs.Noon, position: 4321 }));
  const q = ok(await api.getPlayQueue()).playQueue;
  assert.deepEqual(titles(q), ['Dawn', 'Noon', 'Dusk']);
  for (const e of q.entry) assertSong(ctx, e, e.title);
  assert.equal(q.current, songs.Noon);
  assert.equal(q.position, 4321);
  assert.equal(q.username, ADMIN.name);
  assert.equal(q.changedBy, 'subsonic-api');
  assert.ok(recent(q.changed));
  await assertXmlParity(ctx, 'getPlayQueue');

  assert.deepEqual(ok(await bob.getPlayQueue()).playQueue?.entry || [], [], 'bob sees no queue of alice\'s');
  ok(await bob.savePlayQueue({ id: [songs['Night Owl']], current: songs['Night Owl'] }));
  assert.deepEqual(titles(ok(await api.getPlayQueue()).playQueue), ['Dawn', 'Noon', 'Dusk']);
  assert.deepEqual(titles(ok(await bob.getPlayQueue()).playQueue), ['Night Owl']);

  fails(await api.savePlayQueue({ id: ['999999'] }), 70);
  // OpenSubsonic: no id clears the queue.
  ok(await api.savePlayQueue({}));
  assert.deepEqual(ok(await api.getPlayQueue()).playQueue?.entry || [], []);
});
