// SPDX-License-Identifier: MIT
// The share page in a real browser (chromium, playwright-core), with no
// account: a user shares an album through the `subsonic-api` client; the
// browser opens the link, the page player's <audio> really plays the first
// track (its time advances, no media error), a click on the second track
// switches to it and marks it, and the page runs without a console error or
// a CSP violation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SubsonicAPI } from 'subsonic-api';
import { addUser, cleanup, makeAudio, sql, startServer, tmpDir, waitFor } from './lib.mjs';
import { launchBrowser, watchErrors } from './browser.mjs';

const TITLES = ['Morning Walk', 'Second Wind', 'Last Light'];

let dir;
let dirs;
let srv;
let browser;
let api;

before(async () => {
  dir = tmpDir('legato-sharebrowser-');
  dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  // Long enough that the first track is still playing when it is checked.
  TITLES.forEach((title, i) => makeAudio(join(dirs.music, 'Tester', 'Walks', `0${i + 1}.mp3`), {
    seconds: 30, freq: 330 + 110 * i, bitrate: '64k',
    tags: { title, artist: 'Tester', album_artist: 'Tester', album: 'Walks', track: String(i + 1) },
  }));
  addUser(dirs, 'sam', 'sam-secret');
  srv = await startServer(dirs);
  const db = join(dirs.data, 'legato.db');
  await waitFor(() => Number(sql(db, 'SELECT count(*) FROM tracks')) === TITLES.length,
    { timeoutMs: 30000, what: 'the scan' });
  api = new SubsonicAPI({ url: srv.base, auth: { username: 'sam', password: 'sam-secret' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  cleanup(dir);
});

// The state of the page player, read in the page.
const playerState = (page) => page.evaluate(() => {
  const a = document.querySelector('#player audio');
  const now = [...document.querySelectorAll('#player li')].findIndex((li) => li.classList.contains('now'));
  return a && {
    src: a.currentSrc, time: a.currentTime, paused: a.paused, error: a.error && a.error.code,
    now, current: document.querySelector('#player').dataset.current,
  };
});

test('the shared album plays in the browser; a click picks the second track', async () => {
  const albums = (await api.getAlbumList2({ type: 'alphabeticalByName' })).albumList2.album;
  const album = albums.find((a) => a.name === 'Walks');
  const env = await api.createShare({ id: album.id, description: 'Walking music' });
  assert.equal(env.status, 'ok', JSON.stringify(env.error));
  const share = env.shares.share[0];
  const ids = share.entry.map((e) => e.id);
  assert.deepEqual(share.entry.map((e) => e.title), TITLES);

  const ctx = await browser.newContext(); // no cookies, no account
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  const resp = await page.goto(share.url);
  assert.equal(resp.status(), 200);
  assert.equal(await page.textContent('h1'), 'Walking music');
  assert.match(await page.textContent('body'), /Shared by sam/);
  const items = await page.$$eval('#player li', (lis) => lis.map((li) => li.textContent));
  assert.equal(items.length, 3);
  TITLES.forEach((t, i) => assert.ok(items[i].includes(t) && items[i].includes('Tester')
    && items[i].includes('Walks') && items[i].includes('0:30'), items[i]));

  // The first track plays: its time advances and no media error occurs.
  await page.waitForFunction(() => {
    const a = document.querySelector('#player audio');
    return a && !a.paused && a.currentTime > 0.5;
  }, null, { timeout: 15000 });
  let s = await playerState(page);
  assert.ok(s.src.endsWith(`/stream/${ids[0]}`), s.src);
  assert.equal(s.error, null);
  assert.equal(s.now, 0);
  const t0 = s.time;
  await page.waitForFunction((t) => document.querySelector('#player audio').currentTime > t + 0.5,
    t0, { timeout: 10000 });

  // A click on the second track switches to it and marks it.
  await page.click('#player li:nth-child(2) button');
  await page.waitForFunction((id) => {
    const a = document.querySelector('#player audio');
    return a.currentSrc.endsWith(`/stream/${id}`) && !a.paused && a.currentTime > 0.5;
  }, ids[1], { timeout: 15000 });
  s = await playerState(page);
  assert.equal(s.error, null);
  assert.equal(s.now, 1);
  assert.equal(s.current, '1');
  assert.equal(await page.getAttribute('#player li:nth-child(2)', 'aria-current'), 'true');
  assert.equal(await page.getAttribute('#player li:nth-child(1)', 'aria-current'), null);
  // The cover shown is the playing track's, through the share.
  assert.ok((await page.getAttribute('#player img', 'src')).endsWith(`/cover/${ids[1]}`));
  assert.ok(await page.evaluate(() => {
    const img = document.querySelector('#player img');
    return img.complete && img.naturalWidth > 0;
  }), 'the cover loaded');

  assert.deepEqual(errors, []);
  await ctx.close();
});
