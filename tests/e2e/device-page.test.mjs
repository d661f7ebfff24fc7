// SPDX-License-Identifier: MIT
// The device approval page (/device) driven with plain fetch and cookies
// handled by hand: a device asks for a code, the QR URL shows the sign-in
// form (with its login CSRF cookie and field, fetched first), POST
// /device/login sets the legato_session cookie, the page then
// shows the user code and the (escaped) device name, /device/decide refuses
// a missing or wrong CSRF token with 403 and approves with the right one, and
// the device's polling of /oauth/token then yields tokens. Also: security
// headers, wrong passwords, denial, and a typed user code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { addUser, cleanup, startServer, tmpDir } from './lib.mjs';

let dir;
let dirs;
let srv;
const EVIL = '<script>alert(1)</script>';

before(async () => {
  dir = tmpDir('legato-devpage-');
  dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  mkdirSync(dirs.music);
  addUser(dirs, 'ann', 'secret-pw', { admin: true });
  srv = await startServer(dirs);
});
after(async () => {
  await srv?.stop();
  cleanup(dir);
});

const form = (o) => new URLSearchParams(o).toString();
async function req(path, { method = 'GET', body, cookie, base = srv.base } = {}) {
  const headers = {};
  if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
  if (cookie) headers.cookie = cookie;
  const r = await fetch(`${base}${path}`, {
    method, headers, body: body && form(body), redirect: 'manual',
  });
  return { status: r.status, headers: r.headers, text: await r.text() };
}
async function authorize(name = EVIL) {
  const r = await req('/oauth/device_authorization',
    { method: 'POST', body: { client_id: 'e2e-tv', device_name: name } });
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text);
}
const handleOf = (a) => new URL(a.verification_uri_complete).searchParams.get('h');
const setCookie = (r, name) => r.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
// The sign-in form comes with its CSRF pair: a token in the legato_login
// cookie and the same token in the form's hidden csrf field.
async function loginForm(base = srv.base) {
  const r = await req('/device', { base });
  return { cookie: setCookie(r, 'legato_login').split(';')[0], csrf: csrfOf(r.text) };
}
async function login(query, user = 'ann', password = 'secret-pw', base = srv.base) {
  const f = await loginForm(base);
  return req('/device/login', { method: 'POST', cookie: f.cookie, base,
    body: { ...query, csrf: f.csrf, username: user, password } });
}
const cookieOf = (r) => setCookie(r, 'legato_session').split(';')[0];
const csrfOf = (html) => html.match(/name="csrf" value="([^"]+)"/)[1];
const token = (a) => req('/oauth/token', { method: 'POST', body: {
  grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: a.device_code,
  client_id: 'e2e-tv' } });

function assertSecureHeaders(r) {
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /form-action 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('cache-control'), 'no-store');
}

test('QR flow: sign in, compare the code, CSRF, approve, tokens', async () => {
  const a = await authorize();
  const h = handleOf(a);
  const page = await req(`/device?h=${h}`);
  assert.equal(page.status, 200);
  assertSecureHeaders(page);
  assert.match(page.text, /action="\/device\/login"/);
  assert.match(page.text, /name="password"/);
  assert.ok(!page.text.includes(a.user_code), 'code shown before sign-in');

  const li = await login({ h });
  assert.equal(li.status, 303);
  assertSecureHeaders(li);
  assert.equal(li.headers.get('location'), `/device?h=${h}`);
  const sc = setCookie(li, 'legato_session');
  assert.match(sc, /^legato_session=[A-Za-z0-9_-]{43};/);
  assert.match(sc, /HttpOnly/);
  assert.match(sc, /SameSite=Strict/);
  assert.match(sc, /Path=\//);
  assert.match(sc, /Max-Age=\d+/);
  assert.doesNotMatch(sc, /Secure/); // the public URL is http here
  // The sign-in form's CSRF cookie is cleared once it has served.
  assert.match(setCookie(li, 'legato_login'), /^legato_login=; .*Max-Age=0/);
  const cookie = cookieOf(li);

  const shown = await req(`/device?h=${h}`, { cookie });
  assert.equal(shown.status, 200);
  assertSecureHeaders(shown);
  assert.ok(shown.text.includes(a.user_code), 'user code shown');
  assert.ok(shown.text.includes('e2e-tv'));
  assert.match(shown.text, /Signed in as <b>ann<\/b>/);
  assert.ok(shown.text.includes('127.0.0.1'));
  assert.ok(!shown.text.includes(EVIL), 'device name not escaped');
  assert.ok(shown.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  const csrf = csrfOf(shown.text);

  const pending = await token(a);
  assert.equal(JSON.parse(pending.text).error, 'authorization_pending');

  const noCsrf = await req('/device/decide',
    { method: 'POST', cookie, body: { h, decision: 'approve' } });
  assert.equal(noCsrf.status, 403);
  const badCsrf = await req('/device/decide',
    { method: 'POST', cookie, body: { h, decision: 'approve', csrf: csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } });
  assert.equal(badCsrf.status, 403);
  const noCookie = await req('/device/decide',
    { method: 'POST', body: { h, decision: 'approve', csrf } });
  assert.equal(noCookie.status, 403);

  const ok = await req('/device/decide',
    { method: 'POST', cookie, body: { h, decision: 'approve', csrf } });
  assert.equal(ok.status, 200, ok.text);
  assertSecureHeaders(ok);
  assert.match(ok.text, /This device is signed in/);

  const t = await token(a);
  assert.equal(t.status, 200, t.text);
  const body = JSON.parse(t.text);
  assert.ok(body.access_token && body.refresh_token);

  const again = await req('/device/decide',
    { method: 'POST', cookie, body: { h, decision: 'approve', csrf } });
  assert.equal(again.status, 404);
});

test('typed user code, deny', async () => {
  const a = await authorize('Kitchen TV');
  const li = await login({});
  assert.equal(li.status, 303);
  assert.equal(li.headers.get('location'), '/device');
  const cookie = cookieOf(li);
  const entry = await req('/device', { cookie });
  assert.equal(entry.status, 200);
  assert.match(entry.text, /name="code"/);
  const bad = await req('/device?code=nope', { cookie });
  assert.equal(bad.status, 400);
  const typed = a.user_code.toLowerCase().replace('-', ' ');
  const shown = await req(`/device?code=${encodeURIComponent(typed)}`, { cookie });
  assert.equal(shown.status, 200);
  assert.ok(shown.text.includes(a.user_code));
  assert.ok(shown.text.includes('Kitchen TV'));
  const code = a.user_code.replace('-', '');
  const denied = await req('/device/decide',
    { method: 'POST', cookie, body: { code, decision: 'deny', csrf: csrfOf(shown.text) } });
  assert.equal(denied.status, 200);
  assert.match(denied.text, /Denied/);
  assert.equal(JSON.parse((await token(a)).text).error, 'access_denied');
  const unknown = await req('/device?code=BBBB-BBBB', { cookie });
  assert.equal(unknown.status, 404);
});

test('wrong password, bogus cookie, methods', async () => {
  const li = await login({}, 'ann', 'wrong');
  assert.equal(li.status, 401);
  assert.equal(setCookie(li, 'legato_session'), undefined);
  assert.match(li.text, /Wrong user name or password/);
  const bogus = await req('/device', { cookie: `legato_session=${'A'.repeat(43)}` });
  assert.match(bogus.text, /action="\/device\/login"/);
  assert.equal((await req('/device', { method: 'DELETE' })).status, 405);
  assert.equal((await req('/device/decide')).status, 405);
});

test('sign out: the home page\'s form ends the session, with its CSRF field', async () => {
  const cookie = cookieOf(await login({}));
  const home = await req('/', { cookie });
  assert.equal(home.status, 200);
  assert.match(home.text, /Signed in as <b>ann<\/b>/);
  assert.match(home.text, /<form method="post" action="\/device\/logout">/);
  const csrf = csrfOf(home.text);
  // Without the form's field, or with another, nothing ends.
  assert.equal((await req('/device/logout', { method: 'POST', cookie, body: {} })).status, 403);
  assert.equal((await req('/device/logout', { method: 'POST', cookie, body: { csrf: 'x' } })).status, 403);
  assert.match((await req('/', { cookie })).text, /Signed in as/);
  const out = await req('/device/logout', { method: 'POST', cookie, body: { csrf } });
  assert.equal(out.status, 303);
  assert.equal(out.headers.get('location'), '/');
  assert.match(setCookie(out, 'legato_session'), /^legato_session=; .*Max-Age=0/);
  // The old cookie no longer signs in, even if a browser kept it.
  assert.match((await req('/', { cookie })).text, /action="\/device\/login"/);
  assert.equal((await req('/device/logout', { method: 'GET' })).status, 405);
  // Another site's form comes without the cookie (SameSite=Strict): the
  // answer sets none, so it cannot sign a browser out.
  const cross = await req('/device/logout', { method: 'POST', body: {} });
  assert.equal(cross.status, 303);
  assert.equal(cross.headers.get('set-cookie'), null);
});

// On a server of its own, so that the limits start from zero.
test('guessing typed codes is limited per session, then per address (429)', async () => {
  const fresh = await startServer(dirs);
  try {
    const { base } = fresh;
    const letters = 'BCDFGHJKLMNPQRSTVWXZ';
    let n = 0;
    const guesses = async (count) => {
      const cookie = cookieOf(await login({}, 'ann', 'secret-pw', base));
      const statuses = [];
      for (let i = 0; i < count; i++, n++) {
        const guess = `ZZZZ-Z${letters[n % 20]}${letters[(n + 3) % 20]}${letters[(n + 7) % 20]}`;
        statuses.push((await req(`/device?code=${guess}`, { cookie, base })).status);
      }
      return { cookie, statuses };
    };
    // Five wrong codes a minute per sign-in session.
    assert.deepEqual((await guesses(7)).statuses, [404, 404, 404, 404, 404, 429, 429]);
    // A new session from the same address gets five more: ten per address.
    assert.deepEqual((await guesses(7)).statuses, [404, 404, 404, 404, 404, 429, 429]);
    const { cookie, statuses } = await guesses(1);
    assert.deepEqual(statuses, [429]);
    // Also for a code that exists: the limit comes first.
    const a = await req('/oauth/device_authorization',
      { method: 'POST', body: { client_id: 'e2e-tv', device_name: 'Hall TV' }, base });
    const code = JSON.parse(a.text).user_code;
    assert.equal((await req(`/device?code=${code}`, { cookie, base })).status, 429);
  } finally {
    await fresh.stop();
  }
});
