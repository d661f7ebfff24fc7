// SPDX-License-Identifier: MIT
// Subsonic system endpoints and the rules every endpoint shares: ping,
// getLicense, getScanStatus, startScan, getOpenSubsonicExtensions (public),
// the three kinds of credentials (token, password plain and enc:HEX, apiKey)
// through the `subsonic-api` client, GET and form POST, .view, old protocol
// versions, and every error code legato can produce.
//
// Error codes legato cannot produce, by design:
//   20/30 (incompatible protocol version): legato accepts every version a
//         client names (old clients such as DSub send 1.2.0 and must work),
//         so neither is ever answered; v=1.2.0 and v=99.0.0 are asserted ok.
//   41 (token authentication not supported for LDAP users) and 42
//         (mechanism not supported): legato has no LDAP users and supports
//         every mechanism (password, enc:, token, apiKey).
//   60 (trial over): legato has no trial.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN, USER, TRACKS, client, creds, fails, ok, raw, setup, teardown, assertXmlParity, waitForScan,
} from './subsonic-lib.mjs';

let ctx;
before(async () => { ctx = await setup('legato-sub-system-'); });
after(async () => { await teardown(ctx); });

test('ping with token, password, enc: password and apiKey credentials', async () => {
  for (const mode of ['token', 'password', 'enc', 'apiKey']) {
    for (const user of [ADMIN, USER]) {
      const api = client(ctx, user, mode);
      const r = ok(await api.ping(), `ping ${user.name} ${mode}`);
      assert.equal(r.version, '1.16.1');
      assert.equal(r.type, 'legato');
      assert.equal(r.openSubsonic, true);
      assert.equal(typeof r.serverVersion, 'string');
      // Form POST (the formPost extension) with the same credentials.
      const p = client(ctx, user, mode, { post: true });
      ok(await p.ping(), `POST ping ${user.name} ${mode}`);
    }
  }
});

test('getLicense: valid', async () => {
  const r = ok(await client(ctx).getLicense());
  assert.equal(r.license.valid, true);
  await assertXmlParity(ctx, 'getLicense');
});

test('getScanStatus and startScan', async () => {
  const api = client(ctx);
  const s = ok(await api.getScanStatus());
  assert.equal(s.scanStatus.scanning, false);
  assert.equal(s.scanStatus.count, TRACKS.length);
  const st = ok(await api.startScan());
  assert.equal(typeof st.scanStatus.scanning, 'boolean');
  await waitForScan(ctx);
  const after2 = ok(await api.getScanStatus());
  assert.equal(after2.scanStatus.scanning, false);
  assert.equal(after2.scanStatus.count, TRACKS.length);
  await assertXmlParity(ctx, 'getScanStatus');
});

test('getOpenSubsonicExtensions: public, lists the extensions legato implements', async () => {
  for (const auth of [null, creds(ctx)]) {
    const r = await raw(ctx, 'getOpenSubsonicExtensions', {}, { auth });
    assert.equal(r.status, 200);
    ok(r.body, `getOpenSubsonicExtensions ${auth ? 'with' : 'without'} credentials`);
    const names = new Map(r.body.openSubsonicExtensions.map((e) => [e.name, e.versions]));
    for (const n of ['apiKeyAuthentication', 'formPost', 'songLyrics']) {
      assert.ok(names.has(n), `extension ${n} in ${[...names.keys()]}`);
      assert.ok(names.get(n).includes(1), `${n} version 1`);
    }
  }
  ok(await client(ctx, USER, 'apiKey').getOpenSubsonicExtensions());
  const x = await raw(ctx, 'getOpenSubsonicExtensions', {}, { auth: null, f: 'xml' });
  assert.equal(x.body.status, 'ok');
  await assertXmlParity(ctx, 'getOpenSubsonicExtensions');
});

test('paths: with and without .view, GET and POST, JSON and XML', async () => {
  for (const view of [false, true]) {
    for (const post of [false, true]) {
      ok((await raw(ctx, 'ping', {}, { view, post })).body, `ping view=${view} post=${post}`);
      const x = await raw(ctx, 'ping', {}, { view, post, f: 'xml' });
      assert.equal(x.body.status, 'ok');
      assert.equal(x.body.xmlns, 'http://subsonic.org/restapi');
    }
  }
});

test('old and new protocol versions are accepted (no error 20 or 30)', async () => {
  for (const v of ['1.2.0', '1.8.0', '1.13.0', '1.16.1', '99.0.0']) {
    ok((await raw(ctx, 'ping', {}, { v })).body, `ping v=${v}`);
    ok((await raw(ctx, 'getLicense', {}, { v, f: 'xml' })).body, `getLicense v=${v} XML`);
  }
});

test('error 10: a required parameter is missing', async () => {
  // No credentials at all: the spec has no "mechanism" to blame, only the
  // missing u (legato answers 10 naming what it needs).
  fails((await raw(ctx, 'ping', {}, { auth: null })).body, 10, /u\b/);
  fails((await raw(ctx, 'ping', {}, { auth: { u: ADMIN.name } })).body, 10);
  fails((await raw(ctx, 'ping', {}, { auth: { u: ADMIN.name, t: 'abc' } })).body, 10);
  const api = client(ctx);
  fails(await api.getAlbum({}), 10, /id/);
  fails(await api.getSong({}), 10, /id/);
  fails(await api.getArtist({}), 10, /id/);
  fails(await api.getAlbumList2({}), 10, /type/);
  fails(await api.getAlbumList({}), 10, /type/);
  fails(await api.getMusicDirectory({}), 10, /id/);
  fails(await api.getPlaylist({}), 10, /id/);
  fails(await api.scrobble({}), 10, /id/);
  fails(await api.setRating({ id: ctx.ids.songs.Dawn }), 10, /rating/);
  fails(await api.getLyricsBySongId({}), 10, /id/);
  fails(await api.getUser({}), 10, /username/);
  fails(await api.createBookmark({ id: ctx.ids.songs.Dawn }), 10, /position/);
  fails(await api.getAlbumList2({ type: 'byYear' }), 10, /fromYear|toYear/);
  fails(await api.getAlbumList2({ type: 'byGenre' }), 10, /genre/);
  fails(await api.getSongsByGenre({}), 10, /genre/);
});

test('error 0: a parameter with a bad value', async () => {
  const api = client(ctx);
  fails(await api.getAlbumList2({ type: 'bogus' }), 0, /type/);
  fails(await api.getAlbumList2({ type: 'newest', size: 'many' }), 0, /size/);
  fails(await api.getAlbumList2({ type: 'newest', offset: -1 }), 0, /offset/);
  fails(await api.getRandomSongs({ size: 'x' }), 0, /size/);
  fails(await api.setRating({ id: ctx.ids.songs.Dawn, rating: 9 }), 0, /rating/);
  fails(await api.search3({ query: 'a', songCount: 'lots' }), 0, /songCount/);
});

test('error 40: wrong credentials, whatever the mechanism', async () => {
  const bad = { ...ADMIN, password: 'not it' };
  for (const mode of ['token', 'password', 'enc']) {
    fails(await client(ctx, bad, mode).ping(), 40, null, `wrong ${mode}`);
  }
  fails(await client(ctx, { name: 'nobody', password: 'x' }).ping(), 40, null, 'unknown user');
  fails((await raw(ctx, 'ping', {}, { auth: { u: ADMIN.name, p: 'enc:zz' } })).body, 40, null, 'bad hex');
  fails((await raw(ctx, 'ping', {}, { auth: { u: ADMIN.name, t: 'a'.repeat(32), s: 'x' } })).body, 40);
  // XML says the same.
  const x = await raw(ctx, 'ping', {}, { auth: { u: ADMIN.name, p: 'nope' }, f: 'xml' });
  assert.equal(x.body.status, 'failed');
  assert.equal(x.body.error[0].code, '40');
});

test('error 43: u together with apiKey', async () => {
  const r = await raw(ctx, 'ping', {}, { auth: { u: ADMIN.name, apiKey: ctx.keys.alice } });
  fails(r.body, 43, /[Cc]onflicting/);
});

test('error 44: an unknown API key', async () => {
  fails((await raw(ctx, 'ping', {}, { auth: { apiKey: 'not-a-key' } })).body, 44);
  fails((await raw(ctx, 'getAlbumList2', { type: 'newest' }, { auth: { apiKey: `${ctx.keys.alice}x` } })).body, 44);
});

test('error 50: a user who is not an admin', async () => {
  const api = client(ctx, USER, 'apiKey');
  fails(await api.createUser({ username: 'eve', password: 'x', email: 'eve@example.org' }), 50);
  fails(await api.deleteUser({ username: ADMIN.name }), 50);
  fails(await api.updateUser({ username: ADMIN.name, adminRole: false }), 50);
  fails(await api.getUser({ username: ADMIN.name }), 50);
  fails(await api.getUsers(), 50);
  fails(await api.changePassword({ username: ADMIN.name, password: 'x' }), 50);
});

test('error 70: ids that name nothing', async () => {
  const api = client(ctx);
  fails(await api.getAlbum({ id: 'al-999999' }), 70, /[Aa]lbum/);
  fails(await api.getArtist({ id: 'ar-999999' }), 70, /[Aa]rtist/);
  fails(await api.getSong({ id: '999999' }), 70, /[Ss]ong/);
  fails(await api.getPlaylist({ id: 'pl-999999' }), 70, /[Pp]laylist/);
  fails(await api.getMusicDirectory({ id: 'al-999999' }), 70);
  fails(await api.getUser({ username: 'nobody' }), 70);
  fails(await api.getLyricsBySongId({ id: '999999' }), 70);
  // A malformed id is a bad value (0) or simply names nothing (70).
  for (const r of [await api.getAlbum({ id: 'ar-1' }), await api.getAlbum({ id: 'xyz' }),
    await api.getSong({ id: 'al-1' })]) {
    assert.equal(r.status, 'failed');
    assert.ok([0, 70].includes(r.error.code), JSON.stringify(r.error));
  }
});

test('errors in XML carry the same code and message', async () => {
  await assertXmlParity(ctx, 'getAlbum', { id: 'al-999999' });
  await assertXmlParity(ctx, 'getAlbum', {});
  await assertXmlParity(ctx, 'ping', {}, { auth: { apiKey: 'nope' } });
});
