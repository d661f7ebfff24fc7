// SPDX-License-Identifier: MIT
// The profiler's endpoints: GET /metrics is Prometheus text that promtool
// accepts and that names no user or track; GET /api/profile answers
// administrators only (Subsonic credentials or a device's Bearer token); a
// trace request records for N seconds and answers Chrome trace-event JSON
// holding the spans of the transcodes and HTTP requests that ran meanwhile;
// POST /api/stalls counts what players report.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  addUser, cleanup, makeAudio, rawRequest, sleep, sql, startServer, tmpDir, tokenAuth, waitFor,
} from './lib.mjs';

let dir;
let srv;
let trackId;
before(async () => {
  dir = tmpDir('legato-metrics-');
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  mkdirSync(dirs.music, { recursive: true });
  makeAudio(join(dirs.music, 'Secret Song.mp3'), { seconds: 3, tags: { title: 'Secret Song' } });
  addUser(dirs, 'ann', 'ann pw', { admin: true });
  addUser(dirs, 'bob', 'bob pw');
  srv = await startServer(dirs, ['--http-threads', '4']);
  const db = join(dirs.data, 'legato.db');
  trackId = await waitFor(() => {
    try {
      return sql(db, 'SELECT id FROM tracks');
    } catch {
      return false;
    }
  }, { what: 'the scan' });
});
after(async () => {
  await srv.stop();
  cleanup(dir);
});

const q = (o) => new URLSearchParams(o).toString();
const form = (o, headers = {}) => ({ method: 'POST', body: q(o),
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
async function json(path, init) {
  const r = await fetch(`${srv.base}${path}`, init);
  const text = await r.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new Error(`not JSON (HTTP ${r.status}): ${text.slice(0, 200)}`);
  }
  return { status: r.status, headers: r.headers, body };
}
const ann = () => q(tokenAuth('ann', 'ann pw'));
const bob = () => q(tokenAuth('bob', 'bob pw'));

async function metricsText() {
  const r = await fetch(`${srv.base}/metrics`);
  assert.equal(r.status, 200);
  return { headers: r.headers, text: await r.text() };
}

// The value of one sample line, NaN when absent.
function sample(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

test('GET /metrics is Prometheus text that promtool accepts', async () => {
  const { headers, text } = await metricsText();
  assert.equal(headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.ok(!check.error, `promtool is needed (scripts/install-deps installs it): ${check.error}`);
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  for (const family of ['legato_stage_duration_seconds histogram',
    'legato_buffer_ahead_seconds histogram', 'legato_scheduler_lateness_seconds histogram',
    'legato_stalls_total counter', 'legato_client_stalls_total counter',
    'legato_transcode_cache_hits_total counter', 'legato_transcode_cache_misses_total counter',
    'legato_transcode_cache_served_bytes_total counter',
    'legato_transcode_jobs_started_total counter', 'legato_transcode_degraded_total counter',
    'legato_active_streams gauge', 'legato_transcode_jobs_queued gauge',
    'legato_transcode_jobs_running gauge', 'legato_transcode_cache_size_bytes gauge']) {
    assert.ok(text.includes(`# TYPE ${family}\n`), `missing ${family}`);
  }
  assert.equal(sample(text, 'legato_buffer_ahead_seconds_bucket{le="+Inf"}'),
    sample(text, 'legato_buffer_ahead_seconds_count'));

  // A transcode fills the stage series; the text still passes, and being
  // open to anyone it names no user or track, even while a track streams.
  const stream = fetch(`${srv.base}/rest/stream?${ann()}&id=${trackId}&format=opus`);
  const during = (await metricsText()).text;
  const res = await stream;
  assert.equal(res.status, 200);
  assert.ok((await res.arrayBuffer()).byteLength > 1000);
  const after = (await metricsText()).text;
  const again = spawnSync('promtool', ['check', 'metrics'], { input: after, encoding: 'utf8' });
  assert.equal(again.status, 0, `promtool: ${again.stdout}${again.stderr}`);
  for (const stage of ['load', 'generate', 'send']) {
    const labels = `{stage="${stage}",format="opus",backend="cpu"}`;
    const n = sample(after, `legato_stage_duration_seconds_count${labels}`);
    assert.ok(n > 0, `${stage}: ${n} observations`);
    assert.equal(sample(after, `legato_stage_duration_seconds_bucket${labels.slice(0, -1)},le="+Inf"}`), n);
    assert.ok(sample(after, `legato_stage_duration_seconds_sum${labels}`) > 0);
  }
  for (const t of [text, during, after]) {
    assert.ok(!/secret|\bann\b|\bbob\b|track \d/i.test(t), 'no user or track names in /metrics');
  }
  const head = await fetch(`${srv.base}/metrics`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  const post = await fetch(`${srv.base}/metrics`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

async function deviceToken() {
  const a = (await json('/oauth/device_authorization', form({ client_id: 'tv' }))).body;
  const ok = await json('/api/device/approve', form({ u: 'ann', p: 'ann pw',
    user_code: a.user_code, approve: 'true' }));
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const t = await json('/oauth/token', form({
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: a.device_code,
    client_id: 'tv' }));
  assert.equal(t.status, 200, JSON.stringify(t.body));
  return t.body.access_token;
}

test('GET /api/profile needs an administrator', async () => {
  let r = await json('/api/profile');
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'unauthorized');
  assert.match(r.headers.get('www-authenticate'), /^Bearer/);
  r = await json(`/api/profile?${q(tokenAuth('ann', 'wrong'))}`);
  assert.equal(r.status, 401);
  r = await json('/api/profile', { headers: { authorization: 'Bearer not-a-token' } });
  assert.equal(r.status, 401);
  r = await json(`/api/profile?${bob()}`);
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'forbidden');

  r = await json(`/api/profile?${ann()}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.ok(Array.isArray(r.body.stages));
  assert.ok(Array.isArray(r.body.streams));
  assert.equal(typeof r.body.counters.client_stalls, 'number');
  assert.equal(typeof r.body.gauges.active_streams, 'number');
  assert.equal(typeof r.body.buffer_ahead.p99_s, 'number');

  // A device signed in by an administrator, with its access token.
  const token = await deviceToken();
  r = await json('/api/profile', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((await fetch(`${srv.base}/api/profile?${ann()}`, { method: 'POST' })).status, 405);
});

test('a trace request answers trace JSON with the spans recorded meanwhile', async () => {
  for (const seconds of ['0', '61', '1.5', 'x', '']) {
    const r = await json(`/api/profile/trace?${ann()}&${q({ seconds })}`, { method: 'POST' });
    assert.equal(r.status, 400, `seconds=${seconds}`);
  }
  assert.equal((await json(`/api/profile/trace?${bob()}&seconds=1`, { method: 'POST' })).status,
    403);
  assert.equal((await fetch(`${srv.base}/api/profile/trace?${ann()}&seconds=1`)).status, 405);

  const started = Date.now();
  const tracing = json(`/api/profile/trace?${ann()}&seconds=2`, { method: 'POST' });
  await sleep(300);
  // Fresh connections: only the threads that are free accept them.
  const again = await rawRequest(srv.port, `POST /api/profile/trace?${ann()}&seconds=1 HTTP/1.1\r\n`
    + 'Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  assert.equal(again.status, 409);
  for (let i = 0; i < 4; i++) {
    const m = await rawRequest(srv.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(m.status, 200);
  }
  // A bitrate of its own: the earlier Opus stream is in the cache now.
  const track = await rawRequest(srv.port, `GET /rest/stream?${ann()}&id=${trackId}&format=opus&maxBitRate=72 `
    + 'HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { idleMs: 1500 });
  assert.equal(track.status, 200);
  const r = await tracing;
  assert.ok(Date.now() - started >= 1900, 'the trace lasts the seconds asked for');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.match(r.headers.get('content-disposition'), /attachment/);
  assert.equal(r.body.displayTimeUnit, 'ms');
  const ev = r.body.traceEvents;
  assert.ok(Array.isArray(ev));
  for (const e of ev) {
    assert.ok(e.ph === 'X' || e.ph === 'M', JSON.stringify(e));
    assert.equal(typeof e.name, 'string');
    assert.ok(Number.isInteger(e.pid) && Number.isInteger(e.tid), JSON.stringify(e));
    if (e.ph === 'X') {
      assert.equal(e.cat, 'stage');
      assert.ok(Number.isFinite(e.ts) && Number.isFinite(e.dur) && e.dur >= 0, JSON.stringify(e));
    }
  }
  assert.equal(ev.filter((e) => e.ph === 'M' && e.name === 'process_name').length, 1);
  const spans = ev.filter((e) => e.ph === 'X' && e.name === 'metrics');
  assert.ok(spans.length >= 4, `the four /metrics requests are in the trace: ${spans.length}`);
  const names = new Map(ev.filter((e) => e.name === 'thread_name').map((e) => [e.tid, e.args.name]));
  for (const s of spans) assert.equal(names.get(s.tid), 'http');
  // The transcode's stages, each span inside the trace's time.
  for (const stage of ['load', 'generate', 'send']) {
    assert.ok(ev.some((e) => e.ph === 'X' && e.name === stage), `a ${stage} span`);
  }
  const xs = ev.filter((e) => e.ph === 'X');
  const first = Math.min(...xs.map((e) => e.ts));
  const last = Math.max(...xs.map((e) => e.ts + e.dur));
  assert.ok(last - first < 2.5e6, `spans within the 2 s of the trace: ${last - first} us`);
  assert.equal(r.body.otherData.dropped_events, '0');

  // The trace is over: another may start, and spans no longer go anywhere.
  const next = await json(`/api/profile/trace?${ann()}&seconds=1`, { method: 'POST' });
  assert.equal(next.status, 200);
  assert.equal(next.body.traceEvents.filter((e) => e.ph === 'X').length, 0);
});

test('POST /api/stalls counts what players report', async () => {
  const before = sample((await metricsText()).text, 'legato_client_stalls_total');
  assert.ok(Number.isFinite(before));
  let r = await json(`/api/stalls?${bob()}`,
    form({ count: '3', position: '12.5', track: trackId }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.counted, 3);
  // Credentials in the form body too; count defaults to 1.
  r = await json('/api/stalls', form({ u: 'bob', p: 'bob pw' }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.counted, 1);

  const bad = [
    [{ count: '0' }, 400], [{ count: '101' }, 400], [{ count: 'many' }, 400],
    [{ position: '-1' }, 400], [{ position: 'nan' }, 400], [{ position: '1e400' }, 400],
    [{ track: '../etc/passwd' }, 400], [{ track: 'x'.repeat(65) }, 400],
  ];
  for (const [fields, status] of bad) {
    r = await json(`/api/stalls?${bob()}`, form(fields));
    assert.equal(r.status, status, JSON.stringify(fields));
    assert.equal(r.body.error, 'invalid_request');
  }
  assert.equal((await json('/api/stalls', form({ count: '5' }))).status, 401);
  assert.equal((await json(`/api/stalls?${q(tokenAuth('bob', 'nope'))}`, form({}))).status, 401);
  assert.equal((await fetch(`${srv.base}/api/stalls?${bob()}`)).status, 405);

  const after = sample((await metricsText()).text, 'legato_client_stalls_total');
  assert.equal(after - before, 4);
  const p = await json(`/api/profile?${ann()}`);
  assert.equal(p.body.counters.client_stalls, after);
});

test('a trace holds no HTTP thread while it records; a stop ends it early', async () => {
  const root = tmpDir('legato-metrics-one-');
  const dirs = { music: join(root, 'music'), data: join(root, 'data') };
  mkdirSync(dirs.music, { recursive: true });
  addUser(dirs, 'cal', 'cal pw', { admin: true });
  // One HTTP thread: a trace that slept on it would hold every request.
  const one = await startServer(dirs, ['--http-threads', '1']);
  const cal = () => q(tokenAuth('cal', 'cal pw'));
  let stopped = false;
  try {
    const tracing = fetch(`${one.base}/api/profile/trace?${cal()}&seconds=3`, { method: 'POST' })
      .then(async (r) => ({ status: r.status, body: await r.json() }));
    await sleep(300);
    const t0 = Date.now();
    const h = await rawRequest(one.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(h.status, 200);
    assert.ok(Date.now() - t0 < 1500, `answered while the trace records: ${Date.now() - t0} ms`);
    const r = await tracing;
    assert.equal(r.status, 200);
    assert.ok(r.body.traceEvents.some((e) => e.name === 'process_name'), JSON.stringify(r.body));

    // A long trace, then the server stops: the recording ends at once.
    const long = fetch(`${one.base}/api/profile/trace?${cal()}&seconds=60`, { method: 'POST' })
      .then(async (x) => ({ status: x.status, text: await x.text() }))
      .catch((e) => ({ error: e })); // the stop may cut the body short
    await sleep(300);
    const s0 = Date.now();
    const end = await one.stop();
    stopped = true;
    assert.deepEqual(end, { code: 0, sig: null }, one.log());
    assert.ok(Date.now() - s0 < 10000, `stopped in ${Date.now() - s0} ms`);
    const l = await long;
    if (!l.error) assert.equal(l.status, 200);
  } finally {
    if (!stopped) await one.stop();
    cleanup(root);
  }
});
