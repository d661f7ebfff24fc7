// SPDX-License-Identifier: MIT
// The terminal device (`legato device`): sign in by the device flow with the
// code approved over HTTP, the token file (mode 0600), streaming a track to a
// file byte for byte, and logout, which revokes the tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN, addUser, cleanEnv, cleanup, legato, makeAudio, sql, startServer, tmpDir, waitFor,
} from './lib.mjs';

let dir;
let dirs;
let srv;
let trackId;
let trackPath;
before(async () => {
  dir = tmpDir('legato-devcli-');
  dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  trackPath = join(dirs.music, 'A/B/01 Tone.mp3');
  makeAudio(trackPath, { seconds: 2, tags: { title: 'Tone', artist: 'A' } });
  addUser(dirs, 'ann', 'ann pw', { admin: true });
  srv = await startServer(dirs);
  const db = join(dirs.data, 'legato.db');
  await waitFor(() => sql(db, 'SELECT count(*) FROM tracks') === '1', { what: 'the scan' });
  trackId = sql(db, 'SELECT id FROM tracks');
});
after(async () => {
  await srv.stop();
  cleanup(dir);
});

const form = (o) => ({ method: 'POST', body: new URLSearchParams(o).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded' } });

test('device signs in by code, plays a track and logs out', { timeout: 60000 }, async () => {
  const devDir = join(dir, 'dev');
  const proc = spawn(BIN, ['device', '--server', srv.base, '--name', 'TV', '--data', devDir],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((res) => proc.on('exit', (code) => res(code)));
  const code = await waitFor(() => out.match(/^code: (\S+)$/m)?.[1], { what: 'the user code' });
  assert.match(out, /^open: http:\/\/127\.0\.0\.1:\d+\/\S*$/m);
  assert.match(out, /[▀▄█]/); // the QR code
  const ok = await fetch(`${srv.base}/api/device/approve`,
    form({ u: 'ann', p: 'ann pw', user_code: code, approve: 'true' }));
  assert.equal(ok.status, 200, await ok.text());
  assert.equal(await exited, 0, err);
  assert.match(out, /^state: scanning$/m);
  assert.match(out, /^state: ready$/m);

  const file = join(devDir, 'device.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(saved.server, srv.base);
  assert.ok(saved.access_token && saved.refresh_token && saved.expires_at > Date.now() / 1000);

  const dest = join(dir, 'out.mp3');
  const play = legato(['device', 'play', trackId, '-o', dest, '--data', devDir]);
  assert.equal(play.status, 0, play.err);
  assert.ok(readFileSync(dest).equals(readFileSync(trackPath)), 'streamed bytes differ');

  const bad = legato(['device', 'play', '999999', '-o', join(dir, 'none'), '--data', devDir]);
  assert.equal(bad.status, 1);
  assert.match(bad.err, /error 70/);

  const lo = legato(['device', 'logout', '--data', devDir]);
  assert.equal(lo.status, 0, lo.err);
  assert.equal(existsSync(file), false);
  const ping = await (await fetch(`${srv.base}/rest/ping?apiKey=${encodeURIComponent(saved.access_token)}`
    + '&v=1.16.1&c=t&f=json')).json();
  assert.equal(ping['subsonic-response'].status, 'failed');
  assert.equal(ping['subsonic-response'].error.code, 44);
});

// A hostile server: escape sequences in what the terminal shows, and an
// expires_in that would overflow the command's clock (UBSan would report it
// in the test build). The command shows the text defused and, told
// access_denied, stops.
test('device login against a hostile server', { timeout: 30000 }, async () => {
  const { createServer } = await import('node:http');
  const huge = 9223372036854775807n.toString();
  const fake = createServer((req, res) => {
    let body;
    if (req.url.startsWith('/oauth/device_authorization')) {
      body = `{"device_code":"d","user_code":"\\u001b[31mRED\\u001b[0m","verification_uri":"http://x/\\u001b]0;t\\u0007",`
        + `"verification_uri_complete":"http://x/device?h=abc","expires_in":${huge},"interval":1}`;
    } else if (req.url.startsWith('/oauth/token')) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"access_denied"}');
      return;
    } else {
      body = '{"state":"\\u001b[2Jwiped"}';
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${fake.address().port}`;
  try {
    const proc = spawn(BIN, ['device', '--server', base, '--data', join(dir, 'hostile')],
      { env: cleanEnv() });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    const code = await new Promise((r) => proc.on('close', r));
    assert.equal(code, 1, out);
    assert.ok(!out.includes('\u001b'), `an escape reached the terminal: ${JSON.stringify(out)}`);
    assert.ok(!out.includes('runtime error'), out);
    assert.match(out, /code: \?\[31mRED\?\[0m/);
    assert.match(out, /state: denied/);
  } finally {
    fake.close();
  }
});
