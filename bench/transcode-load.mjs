// SPDX-License-Identifier: MIT
// Time to first byte of transcoded streams: legato's in-process pipeline
// (GET /rest/stream with format and maxBitRate) against what servers that
// spawn the ffmpeg command line per stream do (spawn, then wait for its first
// output bytes). Environment: BASE, AUTH (query string), IDS (comma list),
// FILES (comma list, same order), RUNS. Prints one line per case and ratio.
import { spawn } from 'node:child_process';
import http from 'node:http';

const { BASE, AUTH, IDS, FILES } = process.env;
const RUNS = Number(process.env.RUNS || 30);
const ids = IDS.split(',');
const files = FILES.split(',');

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (v, p) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

function legatoFirstByte(id, format, kbps) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get(`${BASE}/rest/stream.view?${AUTH}&id=${id}&format=${format}&maxBitRate=${kbps}`,
      (res) => {
        res.once('data', () => {
          const t = ms(t0);
          req.destroy();
          resolve(t);
        });
        res.once('error', () => {});
      });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
  });
}

function ffmpegFirstByte(file, format, kbps) {
  const codec = format === 'opus' ? ['-c:a', 'libopus', '-f', 'ogg'] : ['-c:a', 'libmp3lame', '-f', 'mp3'];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:a:0', ...codec, '-b:a', `${kbps}k`, '-'],
      { stdio: ['ignore', 'pipe', 'ignore'] });
    p.stdout.once('data', () => {
      const t = ms(t0);
      p.kill('SIGKILL');
      resolve(t);
    });
    p.on('error', reject);
  });
}

for (const [format, kbps] of [['opus', 128], ['mp3', 320]]) {
  const a = [];
  const b = [];
  for (let i = 0; i < RUNS; i++) {
    const k = i % ids.length;
    a.push(await legatoFirstByte(ids[k], format, kbps));
    b.push(await ffmpegFirstByte(files[k], format, kbps));
  }
  const l50 = pct(a, 0.5);
  const f50 = pct(b, 0.5);
  console.log(`${`FLAC -> ${format} ${kbps}k`.padEnd(20)} legato p50 ${l50.toFixed(2).padStart(7)} ms  p99 ${pct(a, 0.99).toFixed(2).padStart(7)} ms | ffmpeg CLI p50 ${f50.toFixed(2).padStart(7)} ms  p99 ${pct(b, 0.99).toFixed(2).padStart(7)} ms | ratio ${(f50 / l50).toFixed(1)}x (target >= 10x)`);
}
