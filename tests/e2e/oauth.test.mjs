// SPDX-License-Identifier: MIT
// The OAuth 2.0 device grant (RFC 8628) driven by oauth4webapi, a client no
// one here wrote: discovery (RFC 8414), the device authorization request,
// polling (authorization_pending, slow_down), approval through
// /api/device/approve with Subsonic credentials, the tokens, the access
// token as OpenSubsonic apiKey on /rest, refresh rotation and reuse
// detection, revocation (RFC 7009), access_denied, the RFC 6749 §5.2 errors
// and the 429 of the user-code guessing limit. expired_token needs a code to
// age 10 minutes, so it is tested with an injected clock in
// tests/unit/test_device.c only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { addUser, cleanup, sleep, startServer, tmpDir, tokenAuth } from './lib.mjs';

let dir;
let srv;
let as;
const client = { client_id: 'e2e-tv' };
const auth = oauth.None();
const insecure = { [oauth.allowInsecureRequests]: true };

before(async () => {
  dir = tmpDir('legato-oauth-');
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  mkdirSync(dirs.music);
  addUser(dirs, 'ann', 'secret-pw', { admin: true });
  srv = await startServer(dirs);
  const issuer = new URL(srv.base);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer,
    { algorithm: 'oauth2', ...insecure }));
});
after(async () => {
  await srv?.stop();
  cleanup(dir);
});

const form = (o) => new URLSearchParams(o).toString();
async function post(path, params) {
  const r = await fetch(`${srv.base}${path}`, {
    method: 'POST', body: form(params),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  return { status: r.status, headers: r.headers, body: await r.json() };
}
const approve = (params) => post('/api/device/approve', { ...tokenAuth('ann', 'secret-pw'), ...params });
const authorize = async () => oauth.processDeviceAuthorizationResponse(as, client,
  await oauth.deviceAuthorizationRequest(as, client, auth, { scope: 'music', device_name: 'TV' }, insecure));
const poll = async (code) => oauth.processDeviceCodeResponse(as, client,
  await oauth.deviceCodeGrantRequest(as, client, auth, code, insecure));
async function pollError(code) {
  try {
    await poll(code);
  } catch (e) {
    return e.error;
  }
  return 'no error';
}
async function rest(method, apiKey) {
  const r = await fetch(`${srv.base}/rest/${method}?f=json&v=1.16.1&c=e2e&apiKey=${encodeURIComponent(apiKey)}`);
  return (await r.json())['subsonic-response'];
}

test('discovery names every endpoint', () => {
  assert.equal(as.issuer, srv.base);
  assert.equal(as.device_authorization_endpoint, `${srv.base}/oauth/device_authorization`);
  assert.equal(as.token_endpoint, `${srv.base}/oauth/token`);
  assert.equal(as.revocation_endpoint, `${srv.base}/oauth/revoke`);
  assert.ok(as.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:device_code'));
  assert.deepEqual(as.token_endpoint_auth_methods_supported, ['none']);
});

test('device grant: pending, approval, tokens as apiKey, refresh rotation, revoke', async () => {
  const d = await authorize();
  assert.match(d.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  assert.equal(d.verification_uri, `${srv.base}/device`);
  const h = new URL(d.verification_uri_complete).searchParams.get('h');
  assert.ok(h.length >= 22 && !h.includes(d.user_code.replace('-', '')));
  assert.equal(d.interval, 5);
  assert.equal(d.expires_in, 600);
  assert.equal(await pollError(d.device_code), 'authorization_pending');

  const bad = await post('/api/device/approve', { u: 'ann', p: 'wrong', user_code: d.user_code, approve: 'true' });
  assert.equal(bad.status, 401);
  const ok = await approve({ user_code: d.user_code.toLowerCase().replace('-', ''), approve: 'true' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.status, 'approved');
  await sleep(5100);
  const t = await poll(d.device_code);
  assert.equal(t.token_type.toLowerCase(), 'bearer');
  assert.equal(t.scope, 'music');
  assert.ok(t.access_token.length >= 43 && t.refresh_token.length >= 43);
  assert.equal(await pollError(d.device_code), 'invalid_grant'); // single use

  assert.equal((await rest('ping', t.access_token)).status, 'ok');
  const mf = await rest('getMusicFolders', t.access_token);
  assert.equal(mf.status, 'ok');
  assert.equal(mf.musicFolders.musicFolder[0].id, 1);
  assert.equal((await rest('ping', 'not-a-token')).error.code, 44);

  const refresh = async (rt) => oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, auth, rt, insecure));
  const t2 = await refresh(t.refresh_token);
  assert.notEqual(t2.refresh_token, t.refresh_token);
  assert.equal((await rest('ping', t2.access_token)).status, 'ok');
  await assert.rejects(refresh(t.refresh_token), (e) => e.error === 'invalid_grant');
  // reuse revoked the family: the newest tokens are dead too
  assert.equal((await rest('ping', t2.access_token)).error.code, 44);
  await assert.rejects(refresh(t2.refresh_token), (e) => e.error === 'invalid_grant');

  // a fresh grant, then revocation
  const d2 = await authorize();
  assert.equal((await approve({ h: new URL(d2.verification_uri_complete).searchParams.get('h'),
    approve: 'true' })).status, 200);
  const t3 = await poll(d2.device_code);
  assert.equal((await rest('ping', t3.access_token)).status, 'ok');
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, t3.access_token, insecure));
  assert.equal((await rest('ping', t3.access_token)).error.code, 44);
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, 'unknown', insecure));
});

test('slow_down and access_denied', async () => {
  const d = await authorize();
  assert.equal(await pollError(d.device_code), 'authorization_pending');
  assert.equal(await pollError(d.device_code), 'slow_down');
  const d2 = await authorize();
  assert.equal((await approve({ user_code: d2.user_code, approve: 'false' })).body.status, 'denied');
  assert.equal(await pollError(d2.device_code), 'access_denied');
});

test('RFC 6749 §5.2 errors, as JSON with no-store', async () => {
  const grant = 'urn:ietf:params:oauth:grant-type:device_code';
  const d = await authorize();
  const cases = [
    [{ grant_type: grant, client_id: 'e2e-tv' }, 400, 'invalid_request'],
    [{ client_id: 'e2e-tv' }, 400, 'invalid_request'],
    [{ grant_type: 'password', client_id: 'e2e-tv' }, 400, 'unsupported_grant_type'],
    [{ grant_type: grant, client_id: 'e2e-tv', device_code: 'nope' }, 400, 'invalid_grant'],
    [{ grant_type: grant, client_id: 'other', device_code: d.device_code }, 401, 'invalid_client'],
    [{ grant_type: 'refresh_token', refresh_token: 'nope' }, 400, 'invalid_grant'],
  ];
  for (const [params, status, error] of cases) {
    const r = await post('/oauth/token', params);
    assert.equal(r.status, status, JSON.stringify(params));
    assert.equal(r.body.error, error);
    assert.equal(typeof r.body.error_description, 'string');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('pragma'), 'no-cache');
  }
  const r = await post('/oauth/device_authorization', {});
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'invalid_request');
});

test('device_authorization refuses odd fields: non-UTF-8, control or bidi characters, too long', async () => {
  const start = async (body) => {
    const r = await fetch(`${srv.base}/oauth/device_authorization`, {
      method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    return { status: r.status, body: await r.json() };
  };
  for (const body of ['client_id=x&device_name=%FFEvil', 'client_id=x&device_name=a%0Ab',
    `client_id=${'x'.repeat(129)}`, 'client_id=x&scope=%C3%A9', `client_id=x&device_name=${'n'.repeat(129)}`,
    // A right-to-left override shows "TV exe.gpj" as "TV jpg.exe"; C1
    // controls, isolates and line separators are no name either.
    `client_id=x&device_name=${encodeURIComponent('TV \u202Egpj.exe')}`,
    `client_id=x&device_name=${encodeURIComponent('a\u0085b')}`,
    `client_id=x&device_name=${encodeURIComponent('a\u2067b')}`,
    `client_id=x&device_name=${encodeURIComponent('a\u2028b')}`]) {
    const r = await start(body);
    assert.equal(r.status, 400, body);
    assert.equal(r.body.error, 'invalid_request', body);
  }
  const r = await start(`client_id=x&device_name=${encodeURIComponent('Küche ✓')}`);
  assert.equal(r.status, 200);
});

// Before the guessing test, whose wrong codes use up this address's tries.
test('a new password signs the user\'s devices out', async () => {
  const rest1 = async (q) => (await (await fetch(`${srv.base}/rest/${q}&f=json&v=1.16.1&c=e2e`)).json())['subsonic-response'];
  const admin = new URLSearchParams(tokenAuth('ann', 'secret-pw'));
  assert.equal((await rest1(`createUser?${admin}&username=bob&password=bob-pw-1&email=b%40x.org`)).status, 'ok');
  const d = await authorize();
  const ok = await post('/api/device/approve', { ...tokenAuth('bob', 'bob-pw-1'), user_code: d.user_code, approve: 'true' });
  assert.equal(ok.status, 200);
  await sleep(5100);
  const t = await poll(d.device_code);
  assert.equal((await rest('ping', t.access_token)).status, 'ok');
  assert.equal((await rest1(`changePassword?${admin}&username=bob&password=bob-pw-2`)).status, 'ok');
  assert.equal((await rest('ping', t.access_token)).status, 'failed');
  const refreshed = await fetch(`${srv.base}/oauth/token`, {
    method: 'POST',
    body: form({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: client.client_id }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(refreshed.status, 400);
  const sessions = await fetch(`${srv.base}/api/sessions?${new URLSearchParams(tokenAuth('bob', 'bob-pw-2'))}`);
  const list = (await sessions.json()).sessions;
  assert.ok(list.length >= 1 && list.every((s) => s.state === 'ended'), JSON.stringify(list));
});

test('starting device sign-ins is limited per address (device_starts)', async () => {
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data-starts') };
  mkdirSync(dirs.data);
  const s2 = await startServer(dirs, ['--device-starts', '2']);
  try {
    const start = () => fetch(`${s2.base}/oauth/device_authorization`, {
      method: 'POST', body: 'client_id=x', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal((await start()).status, 200);
    assert.equal((await start()).status, 200);
    const r = await start();
    assert.equal(r.status, 429);
    assert.equal((await r.json()).error, 'too_many_requests');
    assert.ok(r.headers.get('retry-after'));
  } finally {
    await s2.stop();
  }
});

test('guessing user codes is limited with 429', async () => {
  let last;
  for (let i = 0; i < 12; i++) {
    last = await approve({ user_code: 'BBBB-BBBB', approve: 'true' });
    if (last.status === 429) break;
    assert.equal(last.status, 404);
  }
  assert.equal(last.status, 429);
  assert.equal(last.body.error, 'too_many_attempts');
  assert.ok(last.headers.get('retry-after'));
});
