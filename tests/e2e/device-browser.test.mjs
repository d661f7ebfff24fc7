// SPDX-License-Identifier: MIT
// The device approval page in a real browser (chromium, playwright-core): a
// device asks for a code; the phone opens the QR link, signs in through the
// form, sees the same user code the device shows and approves; the device's
// token poll then succeeds. A second device's code is typed by hand and
// denied. The page must run without any CSP violation or script error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { addUser, cleanup, startServer, tmpDir } from './lib.mjs';
import { launchBrowser, watchErrors } from './browser.mjs';

let dir;
let srv;
let browser;

before(async () => {
  dir = tmpDir('legato-devbrowser-');
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  mkdirSync(dirs.music);
  addUser(dirs, 'ann', 'secret-pw');
  srv = await startServer(dirs);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await srv?.stop();
  cleanup(dir);
});

const post = async (path, body) => {
  const r = await fetch(`${srv.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  });
  return { status: r.status, body: await r.json() };
};
const authorize = async (name) => {
  const r = await post('/oauth/device_authorization', { client_id: 'tv-app', device_name: name });
  assert.equal(r.status, 200);
  return r.body;
};
const poll = (a) => post('/oauth/token', {
  grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
  device_code: a.device_code, client_id: 'tv-app',
});

test('scan, sign in, compare the code, approve', async () => {
  const a = await authorize('Living room TV');
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(a.verification_uri_complete);
  await page.fill('input[name=username]', 'ann');
  await page.fill('input[name=password]', 'secret-pw');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  const text = await page.textContent('body');
  assert.ok(text.includes(a.user_code), 'the page shows the device\'s user code');
  assert.ok(text.includes('Living room TV'));
  assert.equal((await poll(a)).body.error, 'authorization_pending');
  await Promise.all([page.waitForNavigation(), page.click('button[value=approve]')]);
  assert.match(await page.textContent('body'), /signed in/);
  const t = await poll(a);
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.ok(t.body.access_token.length >= 43);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('type the code by hand and deny', async () => {
  const a = await authorize('Kitchen speaker');
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${srv.base}/device`);
  await page.fill('input[name=username]', 'ann');
  await page.fill('input[name=password]', 'secret-pw');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  // Typed in lower case and without the dash: still the same code.
  await page.fill('input[name=code]', a.user_code.replace('-', '').toLowerCase());
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.ok((await page.textContent('body')).includes('Kitchen speaker'));
  await Promise.all([page.waitForNavigation(), page.click('button[value=deny]')]);
  assert.match(await page.textContent('body'), /Denied/);
  assert.equal((await poll(a)).body.error, 'access_denied');
  assert.deepEqual(errors, []);
  await ctx.close();
});
