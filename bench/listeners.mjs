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
// listener started. Buffers hide overload for a while: a server that always
// feeds the emptiest buffer first drains all of them together, slowly, and
// the first stall can come long after the server stopped keeping up. So the
// ramp also watches for the first shortfall: a WINDOW_S (5) second window in
// which the listeners that were playing all through it got, together, under
// 95 % of the audio they played (and at least 2 s less); a listener that
// paused reading in the window counts as served, as it chose to wait. A
// scheduler may starve a full buffer for a while to fill an empty one: only
// the sum says whether the server keeps up. Sustained =
// listeners active (connected and not yet done playing) at the first stall or
// at the start of the first shortfall window, whichever came first; "≥ N_MAX"
// when neither came. Each ramp also reports TTFB, the bit rate the listeners
// got, the CPU shares, and legato's overload log lines.
//
// Environment: LEGATO_BASE, LEGATO_USER, LEGATO_PASS, FFMPEG_BASE, MUSIC (the
// folder of tracks, served by both), TRACK_S (each track's length), R (0.25),
// N_MAX (400), HOLD_S (10), OFFSET_STEP_S (5), SERVERS (legato,ffmpeg), CSV (a
// file for the per-second log, none if unset), LEGATO_LOG (legato's log file),
// LEGATO_PID and FFMPEG_PID (the servers' processes, for their share of the
// CPU; other work on the machine during a ramp is reported, as it skews the
// figures). Exits non-zero only when the harness itself fails (a server
// unreachable, a wrong stream).
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
const N_MAX = Math.max(1, Math.floor(num('N_MAX', 400)));
const HOLD_S = num('HOLD_S', 10);
const OFFSET_STEP_S = num('OFFSET_STEP_S', 5) || 5; // > 0: listeners never share a transcode
const TRACK_S = num('TRACK_S', 150);
const BURST_S = 10;
const PAUSE_S = 30;
const RESUME_S = 20;
const START_S = 10;
const WINDOW_S = 5;
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
    this.hist = []; // per second: media received, paused at any time in the second before
    this.wasPaused = false;
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
      this.wasPaused = true;
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

  // One sample a second for the shortfall windows.
  sample(t) {
    this.hist.push({ t, media: this.clock.mediaS, paused: this.wasPaused });
    if (this.hist.length > WINDOW_S + 1) this.hist.shift();
    this.wasPaused = this.paused;
  }

  // Seconds of audio received over the last WINDOW_S seconds, counted as at
  // least WINDOW_S if it paused reading in them; null unless it was playing
  // all through them.
  window() {
    const h = this.hist;
    if (h.length < WINDOW_S + 1 || this.tPlay === null || this.tPlay > h[0].t) return null;
    if (this.stallAt !== null || this.closed) return null;
    const got = h[WINDOW_S].media - h[0].media;
    return h.slice(1).some((e) => e.paused) ? Math.max(got, WINDOW_S) : got;
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

// CPU time in clock ticks: the machine's (all cores, busy and total), the
// server's (its process and children, live or reaped) and the listeners'.
function procTicks(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(v[1]), own: Number(v[11]) + Number(v[12]), reaped: Number(v[13]) + Number(v[14]) };
  } catch {
    return null; // gone
  }
}

function cpuTimes(serverPid) {
  const f = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const r = { busy: total - f[3] - (f[4] || 0), total, server: 0, client: 0 };
  if (serverPid) {
    const p = procTicks(serverPid);
    r.server = p ? p.own + p.reaped : 0;
    for (const d of fs.readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(d)) continue;
      const c = procTicks(d);
      if (c && c.ppid === serverPid) r.server += c.own;
    }
  }
  const me = procTicks(process.pid);
  r.client = me ? me.own : 0;
  return r;
}

// Shares of the machine between two cpuTimes(), in per cent of all cores.
function cpuShare(a, b) {
  const t = Math.max(1, b.total - a.total);
  const busy = (100 * (b.busy - a.busy)) / t;
  const server = (100 * (b.server - a.server)) / t;
  const client = (100 * (b.client - a.client)) / t;
  return { busy, server, client, other: Math.max(0, busy - server - client) };
}

class Ramp {
  constructor(server, tracks, csv) {
    this.server = server;
    this.pid = Number(env[server === 'legato' ? 'LEGATO_PID' : 'FFMPEG_PID']) || 0;
    this.tracks = tracks;
    this.csv = csv;
    this.listeners = [];
    this.rxBytes = 0;
    this.stopped = false;
    this.first = null;
    this.short = null; // the first shortfall window
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

  // A CSV row and, on whole seconds (not the last, partial one), the samples
  // for the shortfall windows.
  row(t, last = false) {
    const cpu = cpuTimes(this.pid);
    const share = cpuShare(this.cpu, cpu);
    this.cpu = cpu;
    const active = this.listeners.filter((l) => l.activeAt(t));
    const playing = active.filter((l) => l.tPlay !== null);
    const ahead = playing.map((l) => l.ahead(t));
    let got = 0;
    let counted = 0;
    for (const l of last ? [] : this.listeners) {
      l.sample(t);
      const w = l.window();
      if (w === null) continue;
      got += w;
      counted++;
    }
    const want = counted * WINDOW_S;
    if (this.short === null && counted && got < want - Math.max(2, 0.05 * want)) {
      this.short = { t0: t - WINDOW_S, t1: t, x: got / want, counted };
    }
    this.csv?.push([this.server, (t - this.t0).toFixed(1), this.listeners.length, active.length,
      playing.length, active.length - playing.length, active.filter((l) => l.paused).length,
      this.listeners.filter((l) => l.stallAt !== null).length,
      ahead.length ? Math.min(...ahead).toFixed(2) : '', ahead.length ? pct(ahead, 0.5).toFixed(2) : '',
      counted ? (got / want).toFixed(3) : '',
      (this.rxBytes / 1000).toFixed(0), share.busy.toFixed(0), share.server.toFixed(0),
      share.client.toFixed(0), share.other.toFixed(0), (this.lag.max / 1e6).toFixed(1)].join(','));
    this.rxBytes = 0;
  }

  run() {
    return new Promise((resolve) => {
      this.done = resolve;
      this.t0 = now();
      this.wall0 = Date.now();
      this.cpu = cpuTimes(this.pid);
      this.cpu0 = this.cpu;
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
    this.row(this.tEnd, true);
    this.share = cpuShare(this.cpu0, this.cpu);
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
      wall0: this.wall0,
      endS: this.tEnd - this.t0,
      started: ls.length,
      ttfbMs: pct(ls.filter((l) => l.tFirst !== null).map((l) => (l.tFirst - l.tReq) * 1000), 0.5),
      burstS: pct(ls.filter((l) => l.tBurst !== null).map((l) => l.tBurst - l.tReq), 0.5),
      kbps: ls.filter((l) => l.clock.mediaS >= BURST_S).map((l) => (l.bytes * 8) / l.clock.mediaS / 1000),
      lagP99Ms: this.lagAll.percentile(99) / 1e6,
      share: this.share,
    };
    const active = (t) => ls.filter((l) => l.activeAt(t)).length;
    if (this.first) {
      r.stallS = this.first.stallAt - this.t0;
      r.stallActive = active(this.first.stallAt);
      r.who = this.first;
    }
    if (this.short) {
      r.short = { ...this.short, t0: this.short.t0 - this.t0, t1: this.short.t1 - this.t0 };
      r.shortActive = active(this.short.t0);
    }
    if (!this.first && !this.short) {
      r.sustained = ls.length;
      r.capped = true;
    } else if (this.first && (!this.short || this.first.stallAt <= this.short.t0)) {
      r.sustained = r.stallActive;
      r.by = 'at the first stall';
    } else {
      r.sustained = r.shortActive;
      r.by = 'at the first shortfall';
    }
    return r;
  }
}

// Two whole streams of the last 20-odd seconds of a track, from offsets that
// no listener asks for (a server that caches transcodes gains nothing in the
// ramp from them), short enough that a server that paces its transcodes
// sends them at once: the harness and the servers agree on what a stream is
// before any ramp.
async function check(server, tracks) {
  const out = [];
  const checks = [[tracks[0], TRACK_S - 24.5], [tracks[1 % tracks.length], TRACK_S - 22.25]];
  for (const [track, offset] of checks) {
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
    }).catch((e) => {
      throw e instanceof HarnessError ? e : new HarnessError(`${server}: stream check ${url}: ` +
        `${e.code || e.message} after ${clock.mediaS.toFixed(1)} s of audio`);
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
    const a = cpuTimes(0);
    await sleep(0.5);
    if (cpuShare(a, cpuTimes(0)).busy < 15) return;
  }
}

const NAMES = { legato: 'legato', ffmpeg: 'ffmpeg CLI' };

// legato's own word on overload during a ramp: the scheduler makes new
// transcodes cheaper (encoder complexity, then bitrate) when it runs late.
function serverNotes(r) {
  if (r.server !== 'legato' || !env.LEGATO_LOG) return [];
  let text = '';
  try {
    text = fs.readFileSync(env.LEGATO_LOG, 'utf8');
  } catch {
    return [];
  }
  const notes = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+Z) \w+ +\S+ (overload|load eased): .*new transcodes now (.*)$/.exec(line);
    if (!m) continue;
    const at = (Date.parse(m[1]) - r.wall0) / 1000;
    if (at >= 0 && at <= r.endS + 1) notes.push(`${m[2]} at ${at.toFixed(1)} s: new transcodes ${m[3]}`);
  }
  return notes;
}

function describe(r) {
  const c = r.share;
  const pad = `\n  ${''.padEnd(11)}`;
  let out = `  ${NAMES[r.server].padEnd(11)}`;
  if (r.capped) out += `sustained ≥ ${r.sustained} listeners: no stall, no shortfall`;
  else out += `sustained ${r.sustained} listeners (active ${r.by})`;
  if (r.who) {
    out += `${pad}first stall at ${r.stallS.toFixed(1)} s, ${r.stallActive} active (listener ${r.who.k}, ` +
      `started at ${(r.who.tReq - r.t0).toFixed(1)} s: ${r.who.why})`;
  } else if (!r.capped) out += `${pad}no stall up to ${r.started} listeners`;
  if (r.short) {
    out += `${pad}first shortfall ${r.short.t0.toFixed(0)}-${r.short.t1.toFixed(0)} s, ` +
      `${r.shortActive} active: the ${r.short.counted} playing throughout got ${r.short.x.toFixed(2)}x ` +
      'real time';
  } else if (!r.capped) out += `${pad}no shortfall: the listeners got real time`;
  out += `${pad}TTFB p50 ${r.ttfbMs.toFixed(1)} ms; ${BURST_S} s buffered p50 ${r.burstS.toFixed(2)} s; ` +
    (r.kbps.length ? `bit rate received p50 ${pct(r.kbps, 0.5).toFixed(0)} kbit/s, lowest ` +
      `${Math.min(...r.kbps).toFixed(0)}` : `no listener got ${BURST_S} s`);
  out += `${pad}CPU: server ${c.server.toFixed(0)}%, listeners ${c.client.toFixed(0)}%, other ` +
    `${c.other.toFixed(0)}%${c.other > 5 ? ' (other work ran: rerun on a quiet machine)' : ''}; ` +
    `listener loop lag p99 ${r.lagP99Ms.toFixed(0)} ms`;
  for (const n of serverNotes(r)) out += `${pad}server log: ${n}`;
  return out;
}

async function main() {
  for (const s of SERVERS) {
    if (!NAMES[s]) throw new HarnessError(`SERVERS: unknown server ${s}`);
  }
  if (TRACK_S < 60) throw new HarnessError('TRACK_S must be at least 60 (a minute of playback)');
  const tracks = await library();
  const csv = CSV ? ['server,t_s,started,active,playing,waiting,paused,stalled,min_ahead_s,' +
    'p50_ahead_s,window_x_realtime,rx_kB,cpu_busy_pct,cpu_server_pct,cpu_listeners_pct,' +
    'cpu_other_pct,client_lag_max_ms'] : null;
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
