// SPDX-License-Identifier: MIT
// Concurrent transcoded listeners with zero stalls: ramps up listeners of
// Ogg Opus 128k streams, one every R seconds, first against legato
// (/rest/stream with format=opus&maxBitRate=128) and then against an
// ffmpeg-per-stream server (bench/ffmpeg-server.mjs), and reports how many
// were playing when the first one stalled. Run by bench/listeners, which makes
// the library and starts both servers.
//
// Listener model: a listener connects and reads as fast as the server sends
// (its burst) until it holds PAUSE_S (30) seconds of audio, then pauses
// reading until it is down to RESUME_S (20), as players do; TCP flow control
// does the rest. Media received is exact: the Ogg pages' granule positions
// (48 kHz samples, less the Opus pre-skip) of the complete pages read so far,
// so VBR and container overhead do not enter. The playback clock starts with
// the first audio page (the Opus header pages carry none) and runs at real
// time: buffer_ahead(t) = media_received - (t - t_play). A stall is
// buffer_ahead reaching 0 before the stream's end, a stream cut short, a
// refused or failed request, or no audio START_S (10) seconds after the
// request. Listener k plays track k % M from timeOffset OFFSET_STEP_S *
// floor(k / M), so no two listeners ask for the same transcode.
//
// The ramp stops at the first stall, or HOLD_S seconds after the N_MAX-th
// listener started. Sustained = listeners active (connected and not yet done
// playing) at the moment of the first stall; "≥ N_MAX" when none stalled.
//
// Environment: LEGATO_BASE, LEGATO_USER, LEGATO_PASS, FFMPEG_BASE, MUSIC (the
// folder of tracks, served by both), TRACK_S (each track's length), R (0.25),
// N_MAX (400), HOLD_S (10), OFFSET_STEP_S (5), SERVERS (legato,ffmpeg), CSV (a
// file for the per-second log, none if unset). Exits non-zero only when the
// harness itself fails (a server unreachable, a wrong stream).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const env = process.env;
const num = (name, def) => {
  const v = env[name] === undefined || env[name] === '' ? def : Number(env[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a number >= 0`);
  return v;
};
const R = num('R', 0.25);
const N_MAX = num('N_MAX', 400);
const HOLD_S = num('HOLD_S', 10);
const OFFSET_STEP_S = num('OFFSET_STEP_S', 5) || 5; // > 0: listeners never share a transcode
const TRACK_S = num('TRACK_S', 150);
const BURST_S = 10;
const PAUSE_S = 30;
const RESUME_S = 20;
const START_S = 10;
const SERVERS = (env.SERVERS || 'legato,ffmpeg').split(',');
const CSV = env.CSV || '';

const now = () => performance.now() / 1000; // seconds
const pct = (v, p) => {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

class HarnessError extends Error {}

// Samples per Opus packet at 48 kHz, from its TOC byte (RFC 6716, 3.1).
function opusSamples(pkt) {
  const config = pkt[0] >> 3;
  let frame;
  if (config < 12) frame = [480, 960, 1920, 2880][config & 3];
  else if (config < 16) frame = [480, 960][config & 1];
  else frame = [120, 240, 480, 960][config & 3];
  const code = pkt[0] & 3;
  const frames = code === 0 ? 1 : code < 3 ? 2 : pkt.length > 1 ? pkt[1] & 0x3f : 0;
  return frame * frames;
}

// Seconds of audio in the complete Ogg Opus pages read so far (RFC 7845).
class OggClock {
  constructor() {
    this.pending = Buffer.alloc(0);
    this.preSkip = -1;
    this.tagsDone = false;
    this.base = null; // the granule position where the audio starts
    this.mediaS = 0;
  }

  push(chunk) {
    let b = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (b.length < 27) break;
      if (b.readUInt32BE(0) !== 0x4f676753) throw new HarnessError('not an Ogg stream (no OggS)');
      const nseg = b[26];
      if (b.length < 27 + nseg) break;
      let body = 0;
      for (let i = 0; i < nseg; i++) body += b[27 + i];
      const len = 27 + nseg + body;
      if (b.length < len) break;
      this.page(b[5], b.readBigInt64LE(6), b.subarray(27, 27 + nseg), b.subarray(27 + nseg, len));
      b = b.subarray(len);
    }
    this.pending = Buffer.from(b);
  }

  page(flags, granule, lacing, data) {
    if (this.preSkip < 0) {
      if (data.length < 19 || data.toString('latin1', 0, 8) !== 'OpusHead') {
        throw new HarnessError('the first Ogg page is not OpusHead');
      }
      this.preSkip = data.readUInt16LE(10);
      return;
    }
    if (!this.tagsDone) { // OpusTags, possibly over several pages
      this.tagsDone = lacing.some((l) => l < 255);
      return;
    }
    if (granule < 0n) return; // no packet ends on this page
    if (this.base === null) {
      // RFC 7845: audio starts on a fresh page; its granule counts the
      // samples of the packets that end on it.
      if (flags & 1) throw new HarnessError('the first audio page continues a packet');
      let n = 0;
      let pos = 0;
      let len = 0;
      for (const l of lacing) {
        len += l;
        if (l < 255) {
          if (len > 0) n += opusSamples(data.subarray(pos, pos + len));
          pos += len;
          len = 0;
        }
      }
      this.base = Number(granule) - n;
    }
    this.mediaS = Math.max(0, Number(granule) - this.base - this.preSkip) / 48000;
  }
}

function md5(s) {
  return crypto.createHash('md5').update(s).digest('hex');
}

const salt = crypto.randomBytes(6).toString('hex');
const auth = `u=${encodeURIComponent(env.LEGATO_USER)}&t=${md5(env.LEGATO_PASS + salt)}&s=${salt}` +
  '&v=1.16.1&c=bench-listeners';

function getJson(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(e);
        }
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}

// The track files, sorted, and legato's song id for each (waits for the scan).
async function library() {
  const files = fs.readdirSync(env.MUSIC).filter((f) => f.endsWith('.flac')).sort();
  if (!files.length) throw new HarnessError(`no .flac files in ${env.MUSIC}`);
  const ids = new Map();
  for (let i = 0; i < 200 && ids.size < files.length; i++) {
    if (i) await sleep(0.1);
    try {
      const r = await getJson(`${env.LEGATO_BASE}/rest/search3.view?${auth}&f=json&query=` +
        `&songCount=${files.length + 10}&artistCount=0&albumCount=0`);
      for (const s of r['subsonic-response']?.searchResult3?.song || []) {
        ids.set(s.path.split('/').pop(), s.id);
      }
    } catch {
      // not up yet
    }
  }
  const missing = files.filter((f) => !ids.has(f));
  if (missing.length) throw new HarnessError(`legato did not list ${missing.length} tracks`);
  return files.map((f) => ({ file: f, id: ids.get(f) }));
}

function streamUrl(server, track, offset) {
  if (server === 'legato') {
    return `${env.LEGATO_BASE}/rest/stream.view?${auth}&id=${track.id}&format=opus&maxBitRate=128` +
      (offset > 0 ? `&timeOffset=${offset}` : '');
  }
  return `${env.FFMPEG_BASE}/stream?file=${encodeURIComponent(track.file)}&offset=${offset}`;
}

class Listener {
  constructor(run, k, url, expectS) {
    this.run = run;
    this.k = k;
    this.url = url;
    this.expectS = expectS; // the stream's length in seconds
    this.clock = new OggClock();
    this.bytes = 0;
    this.tReq = now();
    this.tFirst = null; // first body byte
    this.tPlay = null; // first audio page: the playback clock starts
    this.tBurst = null; // BURST_S seconds of audio held
    this.complete = false;
    this.closed = false;
    this.paused = false;
    this.stallAt = null;
    this.why = '';
    this.req = http.get(url, { agent: false }, (res) => this.response(res));
    this.req.on('error', (e) => this.failed(e.code || e.message));
  }

  response(res) {
    this.res = res;
    if (res.statusCode >= 400 && res.statusCode < 500) {
      this.run.harness(new HarnessError(`${this.url}: HTTP ${res.statusCode}`));
    }
    if (res.statusCode !== 200 || !/ogg/.test(res.headers['content-type'] || '')) {
      res.resume();
      this.failed(`HTTP ${res.statusCode} ${res.headers['content-type'] || ''}`);
      return;
    }
    res.on('data', (chunk) => this.data(chunk));
    res.on('end', () => this.end());
    res.on('error', (e) => this.failed(e.code || e.message));
  }

  data(chunk) {
    const t = now();
    this.tFirst ??= t;
    this.bytes += chunk.length;
    this.run.rxBytes += chunk.length;
    const before = this.clock.mediaS;
    try {
      this.clock.push(chunk);
    } catch (e) {
      this.run.harness(new HarnessError(`${this.url}: ${e.message}`));
      return;
    }
    const media = this.clock.mediaS;
    if (media <= before) return;
    if (this.tPlay === null) this.tPlay = t;
    else if (t - this.tPlay > before) this.stall(this.tPlay + before, 'ran dry');
    if (this.tBurst === null && media >= BURST_S) this.tBurst = t;
    if (!this.paused && media - (t - this.tPlay) > PAUSE_S) {
      this.paused = true;
      this.res.pause();
    }
  }

  end() {
    this.closed = true;
    if (this.clock.mediaS >= this.expectS - 0.5) this.complete = true;
    else this.why = `cut at ${this.clock.mediaS.toFixed(1)} s of ${this.expectS} s`;
  }

  failed(why) {
    if (this.closed || this.run.stopped) return;
    this.closed = true;
    this.why = why;
    if (this.tPlay === null) this.stall(now(), `failed: ${why}`);
  }

  stall(t, why) {
    if (this.stallAt !== null) return;
    this.stallAt = t;
    this.why = this.why ? `${why} (${this.why})` : why;
    this.run.stalled(this);
  }

  ahead(t) {
    return this.tPlay === null ? 0 : this.clock.mediaS - (t - this.tPlay);
  }

  // Called every tick: stalls without data arriving, the pause's end.
  check(t) {
    if (this.stallAt !== null || this.complete) return;
    if (this.tPlay === null) {
      if (t - this.tReq > START_S) this.stall(this.tReq + START_S, `no audio after ${START_S} s`);
      return;
    }
    const ahead = this.ahead(t);
    if (ahead <= 0) this.stall(this.tPlay + this.clock.mediaS, this.closed ? 'stream ended' : 'ran dry');
    else if (this.paused && ahead < RESUME_S) {
      this.paused = false;
      this.res.resume();
    }
  }

  // Connected and not yet done playing at time t.
  activeAt(t) {
    if (this.tReq > t) return false;
    if (this.stallAt !== null && this.stallAt < t) return false;
    return !(this.complete && this.tPlay !== null && t >= this.tPlay + this.clock.mediaS);
  }

  stop() {
    this.req.destroy();
  }
}

function cpuTimes() {
  const f = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const idle = f[3] + (f[4] || 0);
  return { idle, total: f.reduce((a, b) => a + b, 0) };
}

class Ramp {
  constructor(server, tracks, csv) {
    this.server = server;
    this.tracks = tracks;
    this.csv = csv;
    this.listeners = [];
    this.rxBytes = 0;
    this.stopped = false;
    this.first = null;
    this.error = null;
  }

  harness(e) {
    this.error ??= e;
    this.finish();
  }

  stalled(l) {
    if (this.first === null || l.stallAt < this.first.stallAt) this.first = l;
    this.finish();
  }

  add() {
    const k = this.listeners.length;
    const track = this.tracks[k % this.tracks.length];
    const offset = OFFSET_STEP_S * Math.floor(k / this.tracks.length);
    if (offset > TRACK_S - 60) {
      this.harness(new HarnessError(`too few tracks: listener ${k} would start at ${offset} s`));
      return;
    }
    this.listeners.push(new Listener(this, k, streamUrl(this.server, track, offset), TRACK_S - offset));
  }

  row(t) {
    const cpu = cpuTimes();
    const busy = 100 * (1 - (cpu.idle - this.cpu.idle) / Math.max(1, cpu.total - this.cpu.total));
    this.cpu = cpu;
    const active = this.listeners.filter((l) => l.activeAt(t));
    const playing = active.filter((l) => l.tPlay !== null);
    const ahead = playing.map((l) => l.ahead(t));
    this.csv?.push([this.server, (t - this.t0).toFixed(1), this.listeners.length, active.length,
      playing.length, active.length - playing.length, active.filter((l) => l.paused).length,
      this.listeners.filter((l) => l.stallAt !== null).length,
      ahead.length ? Math.min(...ahead).toFixed(2) : '', ahead.length ? pct(ahead, 0.5).toFixed(2) : '',
      (this.rxBytes / 1000).toFixed(0), busy.toFixed(0), (this.lag.max / 1e6).toFixed(1)].join(','));
    this.rxBytes = 0;
  }

  run() {
    return new Promise((resolve) => {
      this.done = resolve;
      this.t0 = now();
      this.cpu = cpuTimes();
      this.lag = monitorEventLoopDelay({ resolution: 10 });
      this.lag.enable();
      this.lagAll = monitorEventLoopDelay({ resolution: 10 });
      this.lagAll.enable();
      const next = () => {
        if (this.stopped) return;
        if (this.listeners.length < N_MAX) {
          this.add();
          this.addTimer = setTimeout(next, Math.max(0, (this.t0 + this.listeners.length * R - now()) * 1000));
        }
      };
      next();
      this.tick = setInterval(() => {
        const t = now();
        for (const l of this.listeners) l.check(t);
        if (this.listeners.length >= N_MAX && t - this.listeners[N_MAX - 1].tReq >= HOLD_S) this.finish();
      }, 100);
      let second = 1;
      this.rowTimer = setInterval(() => {
        this.row(this.t0 + second++);
        this.lag.reset();
      }, 1000);
    });
  }

  finish() {
    if (this.stopped) return;
    this.stopped = true;
    this.tEnd = now();
    clearTimeout(this.addTimer);
    clearInterval(this.tick);
    clearInterval(this.rowTimer);
    for (const l of this.listeners) l.check(this.tEnd); // the earliest stall may be among these
    this.row(this.tEnd);
    this.lag.disable();
    this.lagAll.disable();
    for (const l of this.listeners) l.stop();
    this.done();
  }

  result() {
    const ls = this.listeners;
    const r = {
      server: this.server,
      t0: this.t0,
      started: ls.length,
      ttfbMs: pct(ls.filter((l) => l.tFirst !== null).map((l) => (l.tFirst - l.tReq) * 1000), 0.5),
      burstS: pct(ls.filter((l) => l.tBurst !== null).map((l) => l.tBurst - l.tReq), 0.5),
      lagP99Ms: this.lagAll.percentile(99) / 1e6,
      lagMaxMs: this.lagAll.max / 1e6,
    };
    if (this.first) {
      const ts = this.first.stallAt;
      r.stallS = ts - this.t0;
      r.sustained = ls.filter((l) => l.activeAt(ts)).length;
      r.who = this.first;
    } else {
      r.sustained = ls.length;
      r.capped = true;
    }
    return r;
  }
}

// Two full streams, from offsets that no listener asks for (a server that
// caches transcodes gains nothing in the ramp from them): the harness and the
// servers agree on what a stream is before any ramp.
async function check(server, tracks) {
  const out = [];
  for (const [track, offset] of [[tracks[0], 1], [tracks[1 % tracks.length], 2.5]]) {
    const clock = new OggClock();
    const url = streamUrl(server, track, offset);
    const bytes = await new Promise((resolve, reject) => {
      http.get(url, { agent: false }, (res) => {
        if (res.statusCode !== 200) reject(new HarnessError(`${url}: HTTP ${res.statusCode}`));
        let n = 0;
        res.on('data', (d) => {
          n += d.length;
          try {
            clock.push(d);
          } catch (e) {
            reject(new HarnessError(`${url}: ${e.message}`));
            res.destroy();
          }
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      }).on('error', reject);
    });
    const want = TRACK_S - offset;
    if (Math.abs(clock.mediaS - want) > 0.25) {
      throw new HarnessError(`${server}: a stream from ${offset} s holds ${clock.mediaS.toFixed(3)} s of ` +
        `audio, not ${want} s`);
    }
    out.push(bytes / clock.mediaS);
  }
  return out[0];
}

// Waits for the machine to go quiet after a ramp (the servers stop their work
// once they notice the closed connections).
async function settle() {
  await sleep(1);
  for (let i = 0; i < 20; i++) {
    const a = cpuTimes();
    await sleep(0.5);
    const b = cpuTimes();
    if (1 - (b.idle - a.idle) / Math.max(1, b.total - a.total) < 0.15) return;
  }
}

const NAMES = { legato: 'legato', ffmpeg: 'ffmpeg CLI' };

function describe(r) {
  const head = `  ${NAMES[r.server].padEnd(11)}`;
  const tail = `TTFB p50 ${r.ttfbMs.toFixed(1)} ms, ${BURST_S} s buffered p50 ${r.burstS.toFixed(2)} s ` +
    `(client loop lag p99 ${r.lagP99Ms.toFixed(0)} ms)`;
  if (r.capped) return `${head}sustained ≥ ${r.sustained} listeners: no stall; ${tail}`;
  const who = r.who;
  return `${head}sustained ${r.sustained} listeners: first stall at ${r.stallS.toFixed(1)} s ` +
    `(listener ${who.k}, started at ${(who.tReq - r.t0).toFixed(1)} s: ${who.why}); ${tail}`;
}

async function main() {
  for (const s of SERVERS) {
    if (!NAMES[s]) throw new HarnessError(`SERVERS: unknown server ${s}`);
  }
  const tracks = await library();
  const csv = CSV ? ['server,t_s,started,active,playing,waiting,paused,stalled,min_ahead_s,' +
    'p50_ahead_s,rx_kB,cpu_busy_pct,client_lag_max_ms'] : null;
  const rate = [];
  for (const s of SERVERS) rate.push(`${NAMES[s]} ${(await check(s, tracks) / 1000).toFixed(2)} kB`);
  console.log(`bench/listeners: ${os.cpus().length} cores; ${tracks.length} FLAC tracks of ${TRACK_S} s ` +
    `(44.1 kHz stereo) -> Opus 128k; a listener every ${R} s up to ${N_MAX}`);
  console.log(`  stream check: per second of audio ${rate.join(', ')}`);
  const results = {};
  for (const s of SERVERS) {
    await settle();
    const ramp = new Ramp(s, tracks, csv);
    await ramp.run();
    if (ramp.error) throw ramp.error;
    const r = ramp.result();
    results[s] = r;
    console.log(describe(r));
  }
  if (csv) fs.writeFileSync(CSV, `${csv.join('\n')}\n`);
  const l = results.legato;
  const f = results.ffmpeg;
  if (l && f) {
    const ratio = (l.sustained / Math.max(1, f.sustained)).toFixed(2);
    let text = `${ratio}x`;
    if (l.capped && f.capped) text = 'both reached the cap (raise N_MAX)';
    else if (l.capped) text = `≥ ${ratio}x`;
    else if (f.capped) text = `≤ ${ratio}x`;
    console.log(`  ratio legato/ffmpeg CLI: ${text} (target >= 1.5x)`);
  }
}

// Exits by running out of work, so that piped output is never cut short.
main().catch((e) => {
  console.error(`bench/listeners: ${e instanceof HarnessError ? e.message : e.stack || e}`);
  process.exitCode = 1;
});
