// SPDX-License-Identifier: MIT
// Helpers shared by the end-to-end tests: run the legato binary, generate a
// small library with the ffmpeg CLI, start `legato serve` on an ephemeral
// port and wait for it, speak Subsonic credentials, and send raw HTTP when
// fetch would hide what the server really answered. Node built-ins only.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const BIN = process.env.LEGATO_BIN || 'build-test/legato';

// An environment without the caller's LEGATO_* settings, so that only the
// flags given here decide.
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('LEGATO_') && k !== 'LEGATO_BIN') delete env[k];
  }
  delete env.XDG_CONFIG_HOME;
  delete env.XDG_DATA_HOME;
  return { ...env, ...extra };
}

export function tmpDir(prefix = 'legato-e2e-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Runs `legato ARGS...` to completion; returns { status, out, err }.
export function legato(args, { input = '', env = {} } = {}) {
  const r = spawnSync(BIN, args, { input, env: cleanEnv(env), encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

// Creates a user through the CLI (the password goes through stdin).
export function addUser(dirs, name, password, { admin = false } = {}) {
  const args = ['user', 'add', name, '--password-stdin', '--music', dirs.music, '--data', dirs.data];
  if (admin) args.push('--admin');
  const r = legato(args, { input: `${password}\n` });
  if (r.status !== 0) throw new Error(`user add ${name}: ${r.err}`);
}

// Encodes an audio file with ffmpeg: seconds of a sine tone, in the format
// the file name's suffix implies (mp3 at bitrate, flac, wav, ...).
export function makeAudio(path, { seconds = 2, freq = 440, bitrate = '128k', tags = {} } = {}) {
  mkdirSync(dirname(path), { recursive: true });
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${freq}:duration=${seconds}`];
  for (const [k, v] of Object.entries(tags)) args.push('-metadata', `${k}=${v}`);
  if (path.endsWith('.mp3')) args.push('-b:a', bitrate);
  args.push(path);
  const r = spawnSync('ffmpeg', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg ${path}: ${r.stderr}`);
}

export function sql(db, query) {
  const r = spawnSync('sqlite3', [db, query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  return r.stdout.trim();
}

export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// Polls fn until it returns a truthy value (returned) or timeoutMs passes.
export async function waitFor(fn, { timeoutMs = 15000, intervalMs = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

// Starts `legato serve` on 127.0.0.1:0 and resolves once it listens and
// /healthz answers. extraArgs go after the standard flags.
export async function startServer(dirs, extraArgs = []) {
  const args = ['serve', '--music', dirs.music, '--data', dirs.data, '--listen', '127.0.0.1:0',
    '--scan-interval', '0', ...extraArgs];
  const proc = spawn(BIN, args, { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((res) => proc.on('exit', (code, sig) => res({ code, sig })));
  const port = await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`legato serve exited: ${stderr}`);
    const m = stderr.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    return m && Number(m[1]);
  }, { what: 'the listening line' });
  const base = `http://127.0.0.1:${port}`;
  // A raw request that closes its connection: fetch would keep one open,
  // which tests of connection limits must not find.
  await waitFor(async () => (await rawRequest(port,
    'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status === 200,
  { what: '/healthz' });
  return {
    port,
    base,
    proc,
    log: () => stderr,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

// Subsonic credentials as players send them: u, t = md5(password + s), s.
export function tokenAuth(user, password) {
  const s = randomBytes(6).toString('hex');
  const t = createHash('md5').update(password + s).digest('hex');
  return { u: user, t, s, v: '1.16.1', c: 'e2e' };
}

export function url(base, path, params = {}) {
  const q = new URLSearchParams(params).toString();
  return `${base}${path}${q ? `?${q}` : ''}`;
}

// Fetches and returns { status, headers, body (Buffer) }.
export async function get(u, headers = {}, method = 'GET') {
  const r = await fetch(u, { method, headers });
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
}

// The Subsonic envelope of a JSON answer.
export async function subsonic(u, init = {}) {
  const r = await fetch(u, init);
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (HTTP ${r.status}): ${text.slice(0, 200)}`);
  }
  return { status: r.status, headers: r.headers, body: json['subsonic-response'] };
}

// Sends raw bytes and collects the answer until the server closes or idleMs
// pass without data. Resolves { head, status, raw }.
export function rawRequest(port, data, { idleMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    const finish = () => {
      sock.destroy();
      const raw = Buffer.concat(chunks);
      const text = raw.toString('latin1');
      const m = text.match(/^HTTP\/1\.[01] (\d{3})/);
      resolve({ raw, head: text.split('\r\n\r\n')[0], status: m ? Number(m[1]) : 0 });
    };
    sock.setTimeout(idleMs, finish);
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', finish);
    sock.on('error', (e) => (chunks.length ? finish() : reject(e)));
    sock.write(data);
  });
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}
