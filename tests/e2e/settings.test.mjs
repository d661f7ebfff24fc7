// SPDX-License-Identifier: MIT
// Playback settings through legato's JSON API (/api/settings, /api/players)
// and their effect on /rest/stream, fetched with the npm `subsonic-api`
// client: the user's normalisation mode applies when a request does not
// say (measured on the output with `legato analyze`, against the ReplayGain
// getSong reports once the background analysis ran), normalize=off in the
// request wins, a player's bit rate limit applies to that player only
// (ffprobe reads the encoded rate), the lowest limit wins, players are
// recorded, and bad input or missing rights are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SubsonicAPI } from 'subsonic-api';
import {
  addUser, cleanup, legato, sleep, startServer, tmpDir, tokenAuth, waitFor,
} from './lib.mjs';

const PW = { ann: 'pw-ann', bob: 'pw-bob' };
let dir;
let srv;
let api;
let id;
let srcLufs;
let replayGain;
let startedAt; // unix seconds, before the first stream

// A quiet 8 s tone (about -35 LUFS), far from the -18 LUFS target.
function quietFlac(path) {
  mkdirSync(join(path, '..'), { recursive: true });
  const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i',
    'sine=frequency=440:duration=8', '-af', 'volume=-14dB', '-metadata', 'title=Quiet', path],
  { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

const loudness = (file) => {
  const r = legato(['analyze', '--json', file]);
  assert.equal(r.status, 0, r.err);
  return JSON.parse(r.out.trim().split('\n')[0]).integrated_lufs;
};

const bitRate = (file) => {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=bit_rate', '-of',
    'csv=p=0', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
};

// Calls the JSON API as user (Subsonic token credentials in the query; none
// when user is null), or with a Bearer token, with an optional form body.
async function call(method, path, user, form, bearer) {
  const q = user ? `?${new URLSearchParams(tokenAuth(user, PW[user]))}` : '';
  const init = { method, headers: {} };
  if (form) {
    init.body = new URLSearchParams(form).toString();
    init.headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  if (bearer) init.headers.authorization = `Bearer ${bearer}`;
  const r = await fetch(`${srv.base}${path}${q}`, init);
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : null };
}

// Streams the track through the subsonic-api client into a file.
async function stream(name, params) {
  const r = await api.stream({ id, ...params });
  assert.equal(r.status, 200, name);
  const file = join(dir, name);
  writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  return file;
}

before(async () => {
  dir = tmpDir('legato-settings-');
  startedAt = Math.floor(Date.now() / 1000);
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  const src = join(dirs.music, 'A', 'quiet.flac');
  quietFlac(src);
  srcLufs = loudness(src);
  addUser(dirs, 'ann', PW.ann, { admin: true });
  addUser(dirs, 'bob', PW.bob);
  srv = await startServer(dirs);
  api = new SubsonicAPI({ url: srv.base, auth: { username: 'ann', password: PW.ann } });
  await api.startScan();
  id = await waitFor(async () => (await api.search3({ query: '', songCount: 5 }))
    .searchResult3?.song?.find((s) => s.suffix === 'flac')?.id, { what: 'the scan' });
  // The background analysis must have measured the track.
  replayGain = await waitFor(async () => {
    const rg = (await api.getSong({ id })).song.replayGain;
    return Number.isFinite(rg?.trackGain) ? rg : null;
  }, { timeoutMs: 60000, intervalMs: 200, what: 'the analysis' });
});
after(async () => {
  const end = await srv?.stop();
  const log = srv?.log() ?? '';
  cleanup(dir);
  // Under the sanitizers a leak or a runtime error shows here.
  assert.deepEqual(end, { code: 0, sig: null }, log);
  assert.doesNotMatch(log, /AddressSanitizer|LeakSanitizer|runtime error/);
});

test('GET /api/settings: defaults, credentials, no-store, methods', async () => {
  let r = await call('GET', '/api/settings', null);
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'unauthorized');
  assert.ok(r.body.error_description);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const wrong = new URLSearchParams(tokenAuth('ann', 'not-the-password'));
  r = await fetch(`${srv.base}/api/settings?${wrong}`);
  assert.equal(r.status, 401);
  r = await call('GET', '/api/settings', 'ann');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.deepEqual(r.body, { normalize: 'off', players: [] });
  r = await call('PUT', '/api/settings', 'ann');
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, HEAD, POST');
  assert.equal(r.body.error, 'method_not_allowed');
  r = await call('GET', '/api/players', 'ann');
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'POST');
});

test('a device\'s Bearer access token works as well', async () => {
  const a = await call('POST', '/oauth/device_authorization', null,
    { client_id: 'tv', device_name: 'Hall TV' });
  assert.equal(a.status, 200);
  const ok = await call('POST', '/api/device/approve', 'bob',
    { user_code: a.body.user_code, approve: 'true' });
  assert.equal(ok.status, 200);
  const t = await call('POST', '/oauth/token', null, { client_id: 'tv', device_code:
    a.body.device_code, grant_type: 'urn:ietf:params:oauth:grant-type:device_code' });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  let r = await call('POST', '/api/players', null, { client: 'Hall TV', max_bit_rate: '192' },
    t.body.access_token);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.players, [{ client: 'Hall TV', max_bit_rate: 192, last_seen: null }]);
  r = await call('GET', '/api/settings', 'bob');
  assert.equal(r.body.players[0].client, 'Hall TV'); // bob's, whom the token names
  r = await call('GET', '/api/settings', null, undefined, 'not-a-token');
  assert.equal(r.status, 401);
});

test('the user\'s normalize mode applies to a plain stream; the request wins', async () => {
  // The tone is far below the target, and getSong says so.
  assert.ok(srcLufs < -30, `source ${srcLufs} LUFS`);
  assert.ok(Math.abs(replayGain.trackGain - (-18 - srcLufs)) < 0.5, JSON.stringify(replayGain));
  const before = loudness(await stream('before.opus', { format: 'opus' }));
  assert.ok(Math.abs(before - srcLufs) < 1, `off by default: ${before} LUFS`);

  let r = await call('POST', '/api/settings', 'ann', { normalize: 'track' });
  assert.equal(r.status, 200);
  assert.equal(r.body.normalize, 'track');
  assert.deepEqual((await call('GET', '/api/settings', 'ann')).body.normalize, 'track');
  await sleep(2100); // past the per-thread memo of /rest/stream
  const track = loudness(await stream('track.opus', { format: 'opus' }));
  assert.ok(Math.abs(track - -18) < 1, `normalised to ${track} LUFS`);
  assert.ok(Math.abs(track - (srcLufs + replayGain.trackGain)) < 1,
    `${track} LUFS is not ${srcLufs} + ${replayGain.trackGain} dB`);
  // The request's normalize=off wins over the setting.
  const off = loudness(await stream('off.opus', { format: 'opus', normalize: 'off' }));
  assert.ok(Math.abs(off - srcLufs) < 1, `normalize=off: ${off} LUFS`);
  // Without a format the normalised stream keeps the source's format: a
  // FLAC stays lossless (24 bits, for the gain), at the target loudness.
  const plain = await stream('plain.flac', {});
  const probed = spawnSync('ffprobe', ['-v', 'error', '-show_entries',
    'stream=codec_name,bits_per_raw_sample', '-of', 'csv=p=0', plain], { encoding: 'utf8' });
  assert.equal(probed.stdout.trim(), 'flac,24');
  assert.ok(Math.abs(loudness(plain) - -18) < 1, 'the lossless stream is normalised');
  // format=raw asks for the original file, untouched by the setting.
  const raw = await api.stream({ id, format: 'raw' });
  assert.equal(raw.headers.get('content-type'), 'audio/flac');
  await raw.arrayBuffer();

  r = await call('POST', '/api/settings', 'ann', { normalize: 'album' });
  assert.equal(r.body.normalize, 'album');
  await sleep(2100);
  const album = loudness(await stream('album.opus', { format: 'opus' }));
  assert.ok(Math.abs(album - (srcLufs + replayGain.albumGain)) < 1, `album: ${album} LUFS`);

  // Another user's setting is not ann's.
  assert.equal((await call('GET', '/api/settings', 'bob')).body.normalize, 'off');
  r = await call('POST', '/api/settings', 'ann', { normalize: 'off' });
  assert.equal(r.body.normalize, 'off');
  await sleep(2100);
  const after = loudness(await stream('after.opus', { format: 'opus' }));
  assert.ok(Math.abs(after - srcLufs) < 1, `off again: ${after} LUFS`);
});

test('a player\'s limit applies to that player; the lowest limit wins', async () => {
  const t0 = Math.floor(Date.now() / 1000);
  const r = await call('POST', '/api/players', 'ann', { client: 'TestPlayer', max_bit_rate: '64' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const p = r.body.players.find((x) => x.client === 'TestPlayer');
  assert.deepEqual(p, { client: 'TestPlayer', max_bit_rate: 64, last_seen: null });

  assert.equal(bitRate(await stream('player.mp3', { format: 'mp3', c: 'TestPlayer' })), 64000);
  const other = bitRate(await stream('other.mp3', { format: 'mp3', c: 'Other' }));
  const dflt = bitRate(await stream('default.mp3', { format: 'mp3' }));
  assert.ok(other > 64000, `Other: ${other}`);
  assert.equal(other, dflt);
  // The request's maxBitRate, when lower, wins over the player's; a higher one does not.
  assert.equal(bitRate(await stream('req48.mp3',
    { format: 'mp3', c: 'TestPlayer', maxBitRate: '48' })), 48000);
  assert.equal(bitRate(await stream('req128.mp3',
    { format: 'mp3', c: 'TestPlayer', maxBitRate: '128' })), 64000);
  // A player name that is no name streams, unlimited and unrecorded.
  assert.equal(bitRate(await stream('odd.mp3', { format: 'mp3', c: 'odd\u0007name' })), dflt);

  const list = (await call('GET', '/api/settings', 'ann')).body.players;
  const names = list.map((x) => x.client);
  assert.ok(!names.some((n) => n.startsWith('odd')), JSON.stringify(names));
  const now = Math.floor(Date.now() / 1000);
  // subsonic-api streamed in the test before (recorded once a minute at most).
  for (const [name, from] of [['TestPlayer', t0], ['Other', t0], ['subsonic-api', startedAt]]) {
    const x = list.find((y) => y.client === name);
    assert.ok(x, `${name} in ${JSON.stringify(names)}`);
    assert.ok(x.last_seen >= from - 1 && x.last_seen <= now + 1, `${name}: ${x.last_seen}`);
  }
  assert.equal(list.find((y) => y.client === 'Other').max_bit_rate, 0);
  // By name, case-blind.
  assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' })));
  // bob has none of ann's players.
  assert.deepEqual((await call('GET', '/api/settings', 'bob')).body.players.map((x) => x.client),
    ['Hall TV']);

  // 0 lifts the limit.
  await call('POST', '/api/players', 'ann', { client: 'TestPlayer', max_bit_rate: '0' });
  await sleep(2100);
  assert.equal(bitRate(await stream('lifted.mp3', { format: 'mp3', c: 'TestPlayer' })), dflt);
});

test('bad input gets 400; changes need the settings role', async () => {
  const bad = [
    ['/api/settings', { normalize: 'loud' }],
    ['/api/settings', { normalize: '' }],
    ['/api/settings', {}],
    ['/api/players', { client: 'TestPlayer', max_bit_rate: '-1' }],
    ['/api/players', { client: 'TestPlayer', max_bit_rate: '10001' }],
    ['/api/players', { client: 'TestPlayer', max_bit_rate: '64k' }],
    ['/api/players', { client: 'TestPlayer' }],
    ['/api/players', { client: 'bad\u0001name', max_bit_rate: '64' }],
    ['/api/players', { client: 'tab\there', max_bit_rate: '64' }],
    ['/api/players', { client: 'nel\u0085', max_bit_rate: '64' }],
    ['/api/players', { client: '', max_bit_rate: '64' }],
    ['/api/players', { client: 'x'.repeat(65), max_bit_rate: '64' }],
    ['/api/players', { max_bit_rate: '64' }],
  ];
  for (const [path, form] of bad) {
    const r = await call('POST', path, 'ann', form);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(form)}`);
    assert.equal(r.body.error, 'invalid_request');
    assert.ok(r.body.error_description);
    assert.equal(r.headers.get('cache-control'), 'no-store');
  }
  const s = (await call('GET', '/api/settings', 'ann')).body;
  assert.equal(s.normalize, 'off');
  assert.ok(!s.players.some((x) => /^(bad|tab|nel|x{65})/.test(x.client)));
  // The longest name and a non-ASCII one are fine.
  let r = await call('POST', '/api/players', 'ann', { client: 'x'.repeat(64), max_bit_rate: '96' });
  assert.equal(r.status, 200);
  r = await call('POST', '/api/players', 'ann', { client: 'Plattenspieler ♫', max_bit_rate: '10000' });
  assert.equal(r.body.players.find((x) => x.client === 'Plattenspieler ♫').max_bit_rate, 10000);

  // Without the settings role bob may read, not change.
  const upd = await api.updateUser({ username: 'bob', settingsRole: false });
  assert.equal(upd.status, 'ok');
  assert.equal((await call('GET', '/api/settings', 'bob')).status, 200);
  r = await call('POST', '/api/settings', 'bob', { normalize: 'track' });
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'forbidden');
  r = await call('POST', '/api/players', 'bob', { client: 'DSub', max_bit_rate: '96' });
  assert.equal(r.status, 403);
  const b = (await call('GET', '/api/settings', 'bob')).body;
  assert.equal(b.normalize, 'off');
  assert.deepEqual(b.players.map((x) => [x.client, x.max_bit_rate]), [['Hall TV', 192]]);
  assert.equal((await call('POST', '/api/settings', null, { normalize: 'track' })).status, 401);
});

test('guessing passwords on the JSON API is limited: 429 with Retry-After', async () => {
  const root = tmpDir('legato-settings-limit-');
  const dirs = { music: join(root, 'music'), data: join(root, 'data') };
  mkdirSync(dirs.music, { recursive: true });
  mkdirSync(dirs.data, { recursive: true });
  addUser(dirs, 'cat', 'pw-cat-1');
  const lim = await startServer(dirs, ['--login-attempts', '3']);
  try {
    let r;
    for (let i = 0; i < 20; i++) {
      const wrong = new URLSearchParams(tokenAuth('cat', `wrong-${i}`));
      r = await fetch(`${lim.base}/api/settings?${wrong}`);
      if (r.status === 429) break;
      assert.equal(r.status, 401);
      await r.arrayBuffer();
    }
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.equal((await r.json()).error, 'too_many_attempts');
    // From that address the right password is not even looked at now.
    const right = new URLSearchParams(tokenAuth('cat', 'pw-cat-1'));
    r = await fetch(`${lim.base}/api/handoff?${right}`, { method: 'POST' });
    assert.equal(r.status, 429);
    assert.equal((await r.json()).error, 'too_many_attempts');
  } finally {
    await lim.stop();
    cleanup(root);
  }
});
