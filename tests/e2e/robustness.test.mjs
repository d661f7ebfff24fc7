// SPDX-License-Identifier: MIT
// A scan killed with SIGKILL leaves a consistent database, and the next scan
// completes it without losing users or duplicating tracks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.LEGATO_BIN || 'build-test/legato';
const N = 1500;

function sql(db, q) {
  const r = spawnSync('sqlite3', [db, q], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('kill -9 in the middle of a scan, then rescan', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'legato-kill-'));
  const music = join(dir, 'music');
  const data = join(dir, 'data');
  mkdirSync(music);
  const seed = join(dir, 'seed.mp3');
  const ff = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:d=1',
    '-metadata', 'artist=Kill Test', '-metadata', 'album=Interrupted', '-b:a', '64k', seed]);
  assert.equal(ff.status, 0, String(ff.stderr));
  for (let i = 0; i < N; i++) {
    const d = join(music, `album${Math.floor(i / 15)}`);
    if (i % 15 === 0) mkdirSync(d);
    copyFileSync(seed, join(d, `track${i}.mp3`));
  }
  const env = { ...process.env, HOME: dir };
  const args = ['--music', music, '--data', data];
  let r = spawnSync(BIN, ['user', 'add', 'keep', '--password-stdin', ...args],
    { input: 'pw\n', env });
  assert.equal(r.status, 0, r.stderr);

  const db = join(data, 'legato.db');
  const child = spawn(BIN, ['scan', ...args], { env, stdio: 'ignore' });
  // Kill once some, but not all, batches have been committed.
  const deadline = Date.now() + 60000;
  let seen = 0;
  while (Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 20));
    const q = spawnSync('sqlite3', [db, 'SELECT count(*) FROM tracks'], { encoding: 'utf8' });
    seen = Number(q.stdout.trim() || 0);
    if (seen > 0 || child.exitCode !== null) break;
  }
  child.kill('SIGKILL');
  await new Promise((res) => child.on('close', res));
  assert.ok(seen < N, `the scan finished (${seen}) before it could be killed`);

  assert.equal(sql(db, 'PRAGMA integrity_check'), 'ok');
  assert.equal(sql(db, 'PRAGMA foreign_key_check'), '');
  const before = Number(sql(db, 'SELECT count(*) FROM tracks'));
  r = spawnSync(BIN, ['scan', ...args], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${N} files, ${N - before} added`));
  assert.equal(Number(sql(db, 'SELECT count(*) FROM tracks')), N);
  assert.equal(Number(sql(db, 'SELECT count(DISTINCT path) FROM tracks')), N);
  assert.equal(sql(db, "SELECT name FROM users"), 'keep');
  rmSync(dir, { recursive: true, force: true });
});
