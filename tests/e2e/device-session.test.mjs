// SPDX-License-Identifier: MIT
// Device sessions over HTTP: the states a device passes through (idle,
// scanning, validating, ready, playing, checking, ended) with their stored
// moves, heartbeats, the user's list of sessions, and ending one, which
// revokes its tokens at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { addUser, cleanup, makeAudio, sql, startServer, tmpDir, waitFor } from './lib.mjs';

let dir;
let srv;
before(async () => {
  dir = tmpDir('legato-devsession-');
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  mkdirSync(dirs.music, { recursive: true });
  makeAudio(join(dirs.music, 'one.mp3'), { seconds: 1 });
  addUser(dirs, 'ann', 'ann pw', { admin: true });
  addUser(dirs, 'bob', 'bob pw');
  srv = await startServer(dirs);
  const db = join(dirs.data, 'legato.db');
  await waitFor(() => {
    try {
      trackId = sql(db, 'SELECT id FROM tracks');
    } catch {
      return false;
    }
    return trackId !== '';
  }, { what: 'the scan' });
});
let trackId;
after(async () => {
  await srv.stop();
  cleanup(dir);
});

const form = (o) => ({ method: 'POST', body: new URLSearchParams(o).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded' } });
const bearer = (t, init = {}) => ({ ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${t}` } });
async function json(path, init) {
  const r = await fetch(`${srv.base}${path}`, init);
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function signIn(name) {
  const a = (await json('/oauth/device_authorization', form(name ? { client_id: 'tv', device_name: name }
    : { client_id: 'tv' }))).body;
  const s = await json(`/api/device/session?device_code=${encodeURIComponent(a.device_code)}`);
  assert.equal(s.status, 200);
  assert.equal(s.body.state, 'scanning');
  assert.deepEqual(s.body.moves.map((m) => m.state), ['idle', 'scanning']);
  const ok = await json('/api/device/approve', form({ u: 'ann', p: 'ann pw', user_code: a.user_code,
    approve: 'true' }));
  assert.equal(ok.status, 200);
  const t = await json('/oauth/token', form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    device_code: a.device_code, client_id: 'tv' }));
  assert.equal(t.status, 200, JSON.stringify(t.body));
  return t.body.access_token;
}

test('a device session from scanning to ended', async () => {
  const token = await signIn('Living room \u{1F3B5}');
  let s = await json('/api/device/session', bearer(token));
  assert.equal(s.body.state, 'ready');
  assert.equal(s.body.name, 'Living room \u{1F3B5}');
  assert.deepEqual(s.body.moves.map((m) => m.state), ['idle', 'scanning', 'validating', 'ready']);
  for (const [playing, state] of [['true', 'playing'], ['false', 'checking'], ['true', 'playing']]) {
    const h = await json('/api/device/heartbeat', bearer(token, form({ playing })));
    assert.equal(h.status, 200, JSON.stringify(h.body));
    s = await json('/api/device/session', bearer(token));
    assert.equal(s.body.state, state);
  }
  // The user's sessions, by Subsonic credentials and by the device's token.
  const list = await json('/api/sessions?u=ann&p=ann%20pw');
  const mine = list.body.sessions.find((x) => x.name === 'Living room \u{1F3B5}');
  assert.ok(mine, JSON.stringify(list.body));
  assert.equal(mine.state, 'playing');
  assert.equal(mine.ip, '127.0.0.1');
  assert.ok((await json('/api/sessions', bearer(token))).body.sessions.some((x) => x.id === mine.id));
  // Another user cannot see or end it.
  assert.equal((await json('/api/sessions?u=bob&p=bob%20pw')).body.sessions.length, 0);
  assert.equal((await json(`/api/sessions/${mine.id}?u=bob&p=bob%20pw`, { method: 'DELETE' })).status, 404);
  // Ending it revokes the token at once; ending it again is a refused move.
  const ping = `/rest/ping?apiKey=${encodeURIComponent(token)}&v=1.16.1&c=e2e&f=json`;
  assert.equal((await json(ping)).body['subsonic-response'].status, 'ok');
  const end = await json(`/api/sessions/${mine.id}?u=ann&p=ann%20pw`, { method: 'DELETE' });
  assert.equal(end.status, 200);
  assert.equal(end.body.state, 'ended');
  assert.equal((await json(ping)).body['subsonic-response'].error.code, 44);
  assert.equal((await json('/api/device/session', bearer(token))).status, 401);
  assert.equal((await json(`/api/sessions/${mine.id}?u=ann&p=ann%20pw`, { method: 'DELETE' })).status, 409);
});

test('the first stream with a device token moves its session to playing', async () => {
  const token = await signIn('Speaker');
  assert.equal((await json('/api/device/session', bearer(token))).body.state, 'ready');
  // An error (unknown track) does not count; a track that goes out does.
  await fetch(`${srv.base}/rest/stream?id=999999&apiKey=${encodeURIComponent(token)}&v=1.16.1&c=e2e`);
  assert.equal((await json('/api/device/session', bearer(token))).body.state, 'ready');
  const r = await fetch(`${srv.base}/rest/stream?id=${trackId}&apiKey=${encodeURIComponent(token)}&v=1.16.1&c=e2e`);
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  const s = await json('/api/device/session', bearer(token));
  assert.equal(s.body.state, 'playing');
  assert.equal(s.body.moves.at(-1).state, 'playing');
});

test('a device without a name, and bad credentials', async () => {
  const token = await signIn(null);
  const s = await json('/api/device/session', bearer(token));
  assert.equal(s.status, 200);
  assert.equal(s.body.state, 'ready');
  assert.equal((await json('/api/device/session', bearer('not-a-token'))).status, 401);
  assert.equal((await json('/api/device/session?device_code=unknown')).status, 401);
  assert.equal((await json('/api/sessions')).status, 401);
  assert.equal((await json('/api/device/heartbeat', form({ playing: 'true' }))).status, 401);
});
