// SPDX-License-Identifier: MIT
// The command line as a user meets it: help, version, bad flags and values
// (one line naming the problem, exit status 2), configuration precedence,
// user creation and API keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.LEGATO_BIN || 'build-test/legato';

function legato(args, opts = {}) {
  const env = { ...process.env, HOME: opts.home || tmpdir(), ...opts.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('LEGATO_') && k !== 'LEGATO_BIN' && !(opts.env && k in opts.env)) delete env[k];
  }
  delete env.XDG_CONFIG_HOME;
  delete env.XDG_DATA_HOME;
  const r = spawnSync(BIN, args, { input: opts.input ?? '', env, encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function tmp() {
  return mkdtempSync(join(tmpdir(), 'legato-cli-'));
}

test('--version and help', () => {
  const v = legato(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.out, /^legato \d+\.\d+\.\d+/);
  const h = legato(['help']);
  assert.equal(h.status, 0);
  for (const c of ['serve', 'scan', 'user add', 'user apikey']) assert.ok(h.out.includes(c), c);
  for (const c of [['serve', '--help'], ['scan', '--help'], ['user', 'add', '--help']]) {
    const r = legato(c);
    assert.equal(r.status, 0, c.join(' '));
    assert.match(r.out, /usage: legato/);
    assert.match(r.out, /LEGATO_MUSIC/);
  }
});

test('help config prints the documented table', () => {
  const r = legato(['help', 'config']);
  assert.equal(r.status, 0);
  assert.match(r.out, /\| `listen` \| `--listen` \| `LEGATO_LISTEN` \| `127.0.0.1:5342` \|/);
  // docs/config.md is generated from the same table and must not drift.
  assert.equal(readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8'), r.out,
    'docs/config.md is stale: regenerate it with legato help config > docs/config.md');
});

test('bad usage: one line naming the problem, exit status 2', () => {
  const cases = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['scan', '--bogus'], /unknown option --bogus/],
    [['scan', '--scan-interval', 'soon'], /scan_interval must be a whole number/],
    [['scan', '--log-level=loud'], /log_level must be/],
    [['scan', '--music'], /--music needs a value/],
    [['user', 'add'], /needs more arguments/],
    [['user'], /needs a subcommand/],
    [['scan', '--config', '/nonexistent/legato.conf'], /\/nonexistent\/legato.conf/],
    [['scan', 'extra'], /unexpected argument 'extra'/],
  ];
  for (const [args, re] of cases) {
    const r = legato(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.err, re, args.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.err}`);
  }
});

test('environment beats the config file, flags beat the environment', () => {
  const dir = tmp();
  const conf = join(dir, 'legato.conf');
  writeFileSync(conf, `music = ${join(dir, 'from-file')}\nlog_level = warn\n`);
  // The music folder each run scans is named in the summary line.
  let r = legato(['scan', '--config', conf, '--data', join(dir, 'data')]);
  assert.equal(r.status, 1, r.err); // the folder does not exist: a run-time error
  assert.match(r.err, /from-file/);
  r = legato(['scan', '--config', conf, '--data', join(dir, 'data')], {
    env: { LEGATO_MUSIC: join(dir, 'from-env') },
  });
  assert.match(r.err, /from-env/);
  r = legato(['scan', '--config', conf, '--data', join(dir, 'data'), '--music', join(dir, 'flag')], {
    env: { LEGATO_MUSIC: join(dir, 'from-env') },
  });
  assert.match(r.err, /flag/);
  assert.doesNotMatch(r.err, /from-env/);
  rmSync(dir, { recursive: true, force: true });
});

test('user add and apikey', () => {
  const dir = tmp();
  const data = ['--data', dir];
  let r = legato(['user', 'add', 'alice', '--admin', '--password-stdin', ...data], {
    input: 'correct horse\n',
  });
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /created admin user alice/);
  assert.doesNotMatch(r.out, /correct horse/);
  r = legato(['user', 'add', 'alice', '--password-stdin', ...data], { input: 'x\n' });
  assert.equal(r.status, 1);
  assert.match(r.err, /already exists/);
  // Without a terminal and without --password-stdin a password is generated.
  r = legato(['user', 'add', 'bob', ...data]);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /password: \S{16,}/);
  // A lost password is replaced with user passwd.
  r = legato(['user', 'passwd', 'alice', '--password-stdin', ...data], { input: 'new one\n' });
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /changed the password of alice/);
  r = legato(['user', 'passwd', 'nobody', '--password-stdin', ...data], { input: 'x\n' });
  assert.equal(r.status, 1);
  assert.match(r.err, /no user nobody/);
  r = legato(['user', 'apikey', 'alice', ...data]);
  assert.equal(r.status, 0, r.err);
  const key = r.out.trim();
  assert.ok(key.length >= 40, key);
  r = legato(['user', 'apikey', 'nobody', ...data]);
  assert.equal(r.status, 1);
  // The server key that seals passwords is private to its owner.
  assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);
  rmSync(dir, { recursive: true, force: true });
});
