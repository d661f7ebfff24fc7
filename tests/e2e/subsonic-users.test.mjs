// SPDX-License-Identifier: MIT
// User management through the Subsonic API: getUser, getUsers, createUser,
// updateUser, deleteUser, changePassword (admin for anyone, a user for
// themselves), passwords in clear and hex ("enc:"), a non-ASCII password
// used with token authentication (md5 over its UTF-8 bytes), and what a
// user who is not an admin may not do (error 50).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN, USER, assertXmlParity, client, creds, fails, md5, ok, raw, salt, setup, teardown,
} from './subsonic-lib.mjs';

let ctx;
let api;
before(async () => {
  ctx = await setup('legato-sub-users-');
  api = client(ctx);
});
after(async () => { await teardown(ctx); });

const ROLES = ['scrobblingEnabled', 'adminRole', 'settingsRole', 'downloadRole', 'uploadRole', 'playlistRole',
  'coverArtRole', 'commentRole', 'podcastRole', 'streamRole', 'jukeboxRole', 'shareRole',
  'videoConversionRole'];

// Token credentials hashed over the password's UTF-8 bytes, as players do.
const tokenAuth = (name, password) => {
  const s = salt();
  const h = md5(password + s); // md5 hashes the UTF-8 bytes of a string
  return { u: name, t: h, s };
};

async function canLogIn(name, password) {
  const viaPass = (await raw(ctx, 'ping', {}, { auth: { u: name, p: password } })).body;
  const viaToken = (await raw(ctx, 'ping', {}, { auth: tokenAuth(name, password) })).body;
  return { pass: viaPass.status === 'ok', token: viaToken.status === 'ok', codes: [viaPass, viaToken]
    .map((b) => b.error?.code) };
}

test('getUser and getUsers', async () => {
  const me = ok(await api.getUser({ username: ADMIN.name })).user;
  assert.equal(me.username, ADMIN.name);
  for (const r of ROLES) assert.equal(typeof me[r], 'boolean', `user.${r}`);
  assert.equal(me.adminRole, true);
  assert.equal(me.streamRole, true);
  if (me.folder) assert.deepEqual(me.folder, [1]);
  const users = ok(await api.getUsers()).users.user;
  assert.deepEqual(users.map((u) => u.username).sort(), [ADMIN.name, USER.name]);
  assert.equal(users.find((u) => u.username === USER.name).adminRole, false);
  // Anyone may read their own details.
  const bob = ok(await client(ctx, USER).getUser({ username: USER.name })).user;
  assert.equal(bob.username, USER.name);
  assert.equal(bob.adminRole, false);
  await assertXmlParity(ctx, 'getUser', { username: USER.name });
  await assertXmlParity(ctx, 'getUsers');
});

test('createUser, updateUser, deleteUser', async () => {
  const pw = 'Grüße, 密码 ♫';
  ok(await api.createUser({ username: 'carol', password: pw, email: 'carol@example.org' }));
  let carol = ok(await api.getUser({ username: 'carol' })).user;
  assert.equal(carol.username, 'carol');
  assert.equal(carol.adminRole, false);
  if (carol.email !== undefined) assert.equal(carol.email, 'carol@example.org');
  assert.deepEqual(await canLogIn('carol', pw), { pass: true, token: true, codes: [undefined, undefined] });
  assert.equal((await canLogIn('carol', 'wrong')).codes[0], 40);

  // A hex-encoded password ("enc:" + hex of the UTF-8 bytes).
  const pw2 = 'dave ünïcode';
  ok(await api.createUser({ username: 'dave', password: `enc:${Buffer.from(pw2).toString('hex')}`,
    email: 'dave@example.org', adminRole: true }));
  assert.equal(ok(await api.getUser({ username: 'dave' })).user.adminRole, true);
  assert.equal((await canLogIn('dave', pw2)).pass, true);

  fails(await api.createUser({ username: 'carol', password: 'x', email: 'c@example.org' }), 0, /exist/);
  fails(await api.createUser({ username: 'erin', email: 'e@example.org' }), 10, /password/);
  fails(await api.createUser({ password: 'x', email: 'e@example.org' }), 10, /username/);

  // An address that is not UTF-8, or holds control characters, is refused
  // (it would reach every player's getLicense and getUser answers).
  for (const bad of ['x%FFy%40example.org', 'a%0Ab%40example.org', `${'a'.repeat(250)}%40example.org`]) {
    const q = new URLSearchParams({ ...creds(ctx), v: '1.16.1', c: 'e2e', f: 'json', username: 'carol' });
    const r = await fetch(`${ctx.srv.base}/rest/updateUser?${q}&email=${bad}`);
    fails((await r.json())['subsonic-response'], 0, /email/);
  }
  ok((await raw(ctx, 'getLicense', {}, { auth: tokenAuth('carol', pw) })).body);
  ok(await api.updateUser({ username: 'carol', adminRole: true, email: 'new@example.org' }));
  carol = ok(await api.getUser({ username: 'carol' })).user;
  assert.equal(carol.adminRole, true);
  if (carol.email !== undefined) assert.equal(carol.email, 'new@example.org');
  // Carol is an admin now: she may list users.
  ok((await raw(ctx, 'getUsers', {}, { auth: tokenAuth('carol', pw) })).body);
  ok(await api.updateUser({ username: 'carol', adminRole: false, password: 'plain now' }));
  assert.equal((await canLogIn('carol', 'plain now')).pass, true);
  assert.equal((await canLogIn('carol', pw)).pass, false);
  fails((await raw(ctx, 'getUsers', {}, { auth: tokenAuth('carol', 'plain now') })).body, 50);
  fails(await api.updateUser({ username: 'nobody', adminRole: true }), 70);

  ok(await api.deleteUser({ username: 'carol' }));
  fails(await api.getUser({ username: 'carol' }), 70);
  assert.deepEqual((await canLogIn('carol', 'plain now')).codes, [40, 40]);
  fails(await api.deleteUser({ username: 'carol' }), 70);
  ok(await api.deleteUser({ username: 'dave' }));
  assert.deepEqual(ok(await api.getUsers()).users.user.map((u) => u.username).sort(), [ADMIN.name, USER.name]);
});

test('changePassword: one\'s own, or anyone\'s as an admin', async () => {
  ok(await api.createUser({ username: 'frank', password: 'frank one', email: 'f@example.org' }));
  const frank = { name: 'frank', password: 'frank one' };
  ok(await client(ctx, frank, 'password').changePassword({ username: 'frank', password: 'frank two' }));
  assert.deepEqual(await canLogIn('frank', 'frank two'), { pass: true, token: true, codes: [undefined, undefined] });
  assert.equal((await canLogIn('frank', 'frank one')).pass, false);
  // enc: form, by the admin.
  ok(await api.changePassword({ username: 'frank', password: `enc:${Buffer.from('frank three').toString('hex')}` }));
  assert.equal((await canLogIn('frank', 'frank three')).token, true);
  // Frank is no admin: not someone else's.
  fails(await client(ctx, { name: 'frank', password: 'frank three' }).changePassword(
    { username: ADMIN.name, password: 'x' }), 50);
  assert.equal((await canLogIn(ADMIN.name, ADMIN.password)).pass, true);
  fails(await api.changePassword({ username: 'frank' }), 10, /password/);
  fails(await api.changePassword({ username: 'nobody', password: 'x' }), 70);
  ok(await api.deleteUser({ username: 'frank' }));
});

test('a user who is not an admin: error 50, through JSON and XML', async () => {
  const bob = client(ctx, USER, 'password');
  fails(await bob.createUser({ username: 'mallory', password: 'x', email: 'm@example.org' }), 50);
  fails(await bob.updateUser({ username: USER.name, adminRole: true }), 50);
  fails(await bob.deleteUser({ username: ADMIN.name }), 50);
  fails(await bob.getUsers(), 50);
  assert.equal(ok(await api.getUser({ username: USER.name })).user.adminRole, false);
  await assertXmlParity(ctx, 'createUser', { username: 'mallory', password: 'x', email: 'm@example.org' },
    { auth: { apiKey: ctx.keys.bob } });
  fails(await api.getUser({ username: 'mallory' }), 70);
});

test('getAvatar: an image, or error 70 when the user has none', async () => {
  for (const username of [ADMIN.name, 'nobody']) {
    const r = await client(ctx).getAvatar({ username });
    assert.equal(r.status, 200);
    const ct = r.headers.get('content-type');
    if (ct.startsWith('image/')) {
      assert.ok((await r.arrayBuffer()).byteLength > 0);
    } else {
      const env = JSON.parse(await r.text())['subsonic-response'];
      fails(env, 70);
    }
  }
});

test('roles are enforced: stream, download and playlists', async () => {
  const pw = 'roles pass';
  ok(await api.createUser({ username: 'erin', password: pw, email: 'erin@example.org',
    streamRole: false, downloadRole: false, playlistRole: false }));
  const erin = { u: 'erin', p: pw };
  const song = ctx.ids.songs[Object.keys(ctx.ids.songs)[0]];
  const denied = /not authorized/i;
  // stream and download answer errors as XML with HTTP 200 unless f=json.
  fails((await raw(ctx, 'stream', { id: song }, { auth: erin })).body, 50, denied);
  fails((await raw(ctx, 'download', { id: song }, { auth: erin })).body, 50, denied);
  fails((await raw(ctx, 'createPlaylist', { name: 'nope' }, { auth: erin })).body, 50, denied);
  // Browsing needs no role.
  ok((await raw(ctx, 'getSong', { id: song }, { auth: erin })).body);
  // Given back, the roles work at once, even on the same keep-alive connection.
  ok(await api.updateUser({ username: 'erin', streamRole: true, downloadRole: true,
    playlistRole: true }));
  const r = await raw(ctx, 'stream', { id: song }, { auth: erin, f: 'raw' });
  assert.equal(r.status, 200);
  assert.ok(!(r.headers.get('content-type') || '').includes('json'), 'audio, not an error');
  const pl = ok((await raw(ctx, 'createPlaylist', { name: 'yes', songId: song }, { auth: erin })).body);
  ok((await raw(ctx, 'deletePlaylist', { id: pl.playlist.id }, { auth: erin })).body);
  ok(await api.deleteUser({ username: 'erin' }));
});
