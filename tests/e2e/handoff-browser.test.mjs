// SPDX-License-Identifier: MIT
// Hand-off in a real browser (chromium, playwright-core): a player posts its
// queue (the third track, 6 s in); the phone opens the link, signs in
// through the form, sees what would continue, clicks "Continue here" and
// lands on the start page, whose player plays that third track from 6 s on,
// with the audio fetched by the session cookie. No console error, CSP
// violation or script error may happen on the way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  addUser, cleanup, makeAudio, sql, startServer, tmpDir, tokenAuth, waitFor,
} from './lib.mjs';
import { launchBrowser, watchErrors } from './browser.mjs';

const TITLES = ['Beta', 'Alpha', 'Gamma'];

let dir;
let srv;
let browser;
const id = {};

before(async () => {
  dir = tmpDir('legato-handoff-browser-');
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  mkdirSync(dirs.music, { recursive: true });
  TITLES.forEach((title, i) => makeAudio(join(dirs.music, `${i}.mp3`),
    { seconds: 20, freq: 330 + 110 * i, tags: { title, artist: 'Band', album: 'Hand' } }));
  addUser(dirs, 'ann', 'ann secret');
  srv = await startServer(dirs);
  const db = join(dirs.data, 'legato.db');
  await waitFor(() => {
    try {
      return Number(sql(db, 'SELECT count(*) FROM tracks')) === TITLES.length;
    } catch {
      return false;
    }
  }, { what: 'the scan' });
  for (const line of sql(db, 'SELECT id, title FROM tracks').split('\n')) {
    const [i, title] = line.split('|');
    id[title] = i;
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  cleanup(dir);
});

async function handOff(position) {
  const q = new URLSearchParams(tokenAuth('ann', 'ann secret'));
  for (const t of TITLES) q.append('id', id[t]);
  q.set('current', '2');
  q.set('position', String(position));
  const r = await fetch(`${srv.base}/api/handoff`, { method: 'POST', body: q.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(r.status, 200);
  return (await r.json()).url;
}

test('open the link, sign in, continue here: the start page plays on from there', async () => {
  const link = await handOff(6000);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = watchErrors(page);

  await page.goto(link);
  await page.fill('input[name=username]', 'ann');
  await page.fill('input[name=password]', 'ann secret');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  assert.equal(page.url(), link);
  const shown = await page.textContent('body');
  assert.match(shown, /3 tracks/);
  assert.match(shown, /Gamma — Band at 0:06/);

  await Promise.all([page.waitForNavigation(), page.click('text=Continue here')]);
  assert.equal(page.url(), `${srv.base}/`);
  const state = await page.waitForFunction(() => {
    const a = document.querySelector('#player audio');
    return a && !a.paused && a.currentTime > 0 && a.readyState >= 2
      && { src: a.src, at: a.currentTime };
  }, null, { timeout: 15000 });
  const { src, at } = await state.jsonValue();
  assert.equal(src, `${srv.base}/web/stream/${id.Gamma}`);
  assert.ok(at >= 6, `playing from ${at} s, not from 6 s`);
  assert.ok(at < 15, `playing from ${at} s`);
  const now = await page.textContent('#player li.now');
  assert.match(now, /Gamma/);
  assert.deepEqual(errors, []);

  // The link is used up: opening it again says so.
  const again = await page.goto(link);
  assert.equal(again.status(), 410);
  await ctx.close();
});
