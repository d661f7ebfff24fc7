// SPDX-License-Identifier: MIT
// The load generator of bench/device: DEVICES devices sign in with the
// OAuth 2.0 device grant (POST /oauth/device_authorization) and then poll
// POST /oauth/token at their interval, phases spread evenly over it, for
// DURATION seconds, while SIGNINS new devices sign in during the run
// (authorize, poll once, approve via /api/device/approve, poll until tokens).
// Then GET /device/qr.svg and /device/qr.png QR_N times each, sequentially.
// Prints a table of p50/p99/max per request kind and the targets. Node
// built-ins only.
//
//   node bench/device-load.mjs BASE_URL USER PASSWORD
// Environment: DEVICES (1000), SIGNINS (100), DURATION (20 s), QR_N (500),
// TARGET_P99_MS (5), TARGET_QR_MS (0.5).
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const [base, user, password] = process.argv.slice(2);
if (!password) {
  console.error('usage: node bench/device-load.mjs BASE_URL USER PASSWORD');
  process.exit(2);
}
const DEVICES = Number(process.env.DEVICES || 1000);
const SIGNINS = Number(process.env.SIGNINS || 100);
const DURATION = Number(process.env.DURATION || 20);
const QR_N = Number(process.env.QR_N || 500);
const TARGET = Number(process.env.TARGET_P99_MS || 5);
const TARGET_QR = Number(process.env.TARGET_QR_MS || 0.5);
// The server answers slow_down when two polls arrive less than interval
// seconds apart (millisecond clock); poll this much later than the interval
// so that timer and queueing jitter cannot make a poll early.
const GUARD_MS = 20;
const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const CLIENT = 'legato-bench';

const { hostname, port } = new URL(base);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function request(method, path, form) {
  return new Promise((resolve, reject) => {
    const body = form ? new URLSearchParams(form).toString() : null;
    const headers = body
      ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }
      : {};
    const t0 = performance.now();
    const req = http.request({ hostname, port, path, method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
const parse = (r) => { try { return JSON.parse(r.body.toString()); } catch { return {}; } };

const stats = { auth: [], authRun: [], token: [], approve: [], svg: [], png: [] };
let running = false;
const counts = { pending: 0, slow_down: 0, tokens: 0, otherToken: 0, authErr: 0, approveErr: 0, qrErr: 0 };
const otherErrors = new Map();

async function authorize(name) {
  const r = await request('POST', '/oauth/device_authorization', { client_id: CLIENT, device_name: name });
  (running ? stats.authRun : stats.auth).push(r.ms);
  if (r.status !== 200) { counts.authErr++; throw new Error(`device_authorization: HTTP ${r.status} ${r.body}`); }
  return parse(r);
}
// One poll; returns 'pending', 'slow_down', 'tokens' or the error.
async function poll(dev) {
  const r = await request('POST', '/oauth/token', { grant_type: GRANT, device_code: dev.device_code, client_id: CLIENT });
  stats.token.push(r.ms);
  const j = parse(r);
  if (r.status === 200 && j.access_token) { counts.tokens++; return 'tokens'; }
  if (j.error === 'authorization_pending') { counts.pending++; return 'pending'; }
  if (j.error === 'slow_down') { counts.slow_down++; dev.interval += 5; return 'slow_down'; }
  counts.otherToken++;
  const k = `${r.status} ${j.error || r.body.toString().slice(0, 60)}`;
  otherErrors.set(k, (otherErrors.get(k) || 0) + 1);
  return k;
}

// Setup: DEVICES devices, 16 at a time.
const devices = new Array(DEVICES);
{
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < DEVICES) {
      const i = next++;
      const j = await authorize(`tv-${i}`);
      devices[i] = { device_code: j.device_code, interval: j.interval || 5 };
    }
  }));
}
const interval = devices[0].interval;

running = true;
const t0 = performance.now();
const end = t0 + DURATION * 1000;
// Pollers: device i polls first at i/DEVICES of the interval, then waits the
// interval (plus the guard) after each answer, as RFC 8628 clients do. (The
// server measures the interval between arrivals, so scheduling from the
// send time lets queueing jitter of one answer turn the next poll early.)
async function poller(i) {
  const dev = devices[i];
  let at = t0 + (i * interval * 1000) / DEVICES;
  while (at < end) {
    await sleep(at - performance.now());
    const res = await poll(dev);
    if (res === 'tokens' || (res !== 'pending' && res !== 'slow_down')) return;
    at = performance.now() + dev.interval * 1000 + GUARD_MS;
  }
}
// Sign-ins: spread over the first DURATION - interval - 1 seconds so that
// each has its tokens before the run ends.
const signinTimes = [];
async function signin(k) {
  await sleep(t0 + (k * Math.max(1, DURATION - interval - 1) * 1000) / SIGNINS - performance.now());
  const start = performance.now();
  const j = await authorize(`new-${k}`);
  const dev = { device_code: j.device_code, interval: j.interval || 5 };
  let res = await poll(dev);
  let answered = performance.now();
  const r = await request('POST', '/api/device/approve', { u: user, p: password, user_code: j.user_code, approve: 'true' });
  stats.approve.push(r.ms);
  if (r.status !== 200) { counts.approveErr++; console.error(`approve: HTTP ${r.status} ${r.body}`); return; }
  while (res !== 'tokens') {
    if (res !== 'pending' && res !== 'slow_down') return;
    await sleep(answered + dev.interval * 1000 + GUARD_MS - performance.now());
    res = await poll(dev);
    answered = performance.now();
  }
  signinTimes.push((performance.now() - start) / 1000);
}
await Promise.all([
  ...Array.from({ length: DEVICES }, (_, i) => poller(i)),
  ...Array.from({ length: SIGNINS }, (_, k) => signin(k)),
]);
const runS = (performance.now() - t0) / 1000;

// QR codes, one request at a time.
const h = 'AAAAAAAAAAAAAAAAAAAAAA';
for (const [kind, path] of [['svg', `/device/qr.svg?h=${h}`], ['png', `/device/qr.png?h=${h}`]]) {
  for (let i = 0; i < 20; i++) await request('GET', path); // warm-up, not counted
  for (let i = 0; i < QR_N; i++) {
    const r = await request('GET', path);
    if (r.status !== 200) counts.qrErr++;
    stats[kind].push(r.ms);
  }
}
agent.destroy();

const pct = (a, p) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const f = (x) => (Number.isNaN(x) ? '-' : x.toFixed(3));
const row = (name, a, extra) =>
  console.log(`${name.padEnd(34)} ${String(a.length).padStart(7)} ${f(pct(a, 50)).padStart(8)} ${f(pct(a, 99)).padStart(8)} ${f(a.length ? Math.max(...a) : NaN).padStart(8)}  ${extra}`);

console.log(`run: ${DEVICES} polling devices (interval ${interval} s), ${SIGNINS} sign-ins, ${runS.toFixed(1)} s; ` +
  `tokens requests ${(stats.token.length / runS).toFixed(0)}/s during the run`);
console.log(`${'request'.padEnd(34)} ${'count'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}  notes`);
row('POST /oauth/device_authorization', stats.auth, `setup burst, 16 concurrent; ${counts.authErr} errors in all`);
row('POST /oauth/device_authorization', stats.authRun, `sign-ins during the run`);
row('POST /oauth/token', stats.token, `pending ${counts.pending}, slow_down ${counts.slow_down}, tokens ${counts.tokens}, other ${counts.otherToken}`);
row('POST /api/device/approve', stats.approve, `${counts.approveErr} errors`);
row(`GET /device/qr.svg (sequential)`, stats.svg, `${counts.qrErr} errors (both QR rows)`);
row(`GET /device/qr.png (sequential)`, stats.png, '');
for (const [k, n] of otherErrors) console.log(`  token other: ${n} x ${k}`);
const st = signinTimes.sort((a, b) => a - b);
console.log(`sign-ins completed: ${st.length}/${SIGNINS}, authorize-to-tokens p50 ${f(pct(st, 50))} s, max ${f(st.length ? st[st.length - 1] : NaN)} s`);

console.log('\ntargets:');
const verdicts = [];
const check = (label, value, target) => {
  const ok = value < target;
  verdicts.push(ok);
  console.log(`  ${label.padEnd(52)} ${f(value).padStart(8)} ms < ${target} ms  ${ok ? 'MET' : 'MISSED'}`);
};
check('device_authorization p99 (setup burst)', pct(stats.auth, 99), TARGET);
check('device_authorization p99 (during the run)', pct(stats.authRun, 99), TARGET);
check('token p99', pct(stats.token, 99), TARGET);
check('QR render, svg (bound: request p50)', pct(stats.svg, 50), TARGET_QR);
check('QR render, png (bound: request p50)', pct(stats.png, 50), TARGET_QR);
const slowOk = counts.slow_down === 0;
verdicts.push(slowOk && counts.otherToken === 0 && counts.authErr === 0 && counts.approveErr === 0 && st.length === SIGNINS);
console.log(`  ${'slow_down answers'.padEnd(52)} ${String(counts.slow_down).padStart(8)}    == 0     ${slowOk ? 'MET' : 'MISSED'}`);
console.log('  (QR figures are whole-request latencies over loopback HTTP; the render itself is a fraction of them,');
console.log('   so a request p50 under the target bounds the render time from above.)');
process.exit(verdicts.every(Boolean) ? 0 : 1);
