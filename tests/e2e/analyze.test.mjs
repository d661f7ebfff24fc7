// SPDX-License-Identifier: MIT
// legato analyze against the EBU Tech 3341 reference level and against
// FFmpeg's own EBU R128 meter (the ebur128 filter) on generated material.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.LEGATO_BIN || 'build-test/legato';

function ffmpeg(args) {
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function analyze(files, extra = []) {
  const r = spawnSync(BIN, ['analyze', '--json', ...extra, ...files], { encoding: 'utf8' });
  return { status: r.status, err: r.stderr, rows: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

// FFmpeg's ebur128 filter summary: integrated, range and true peak.
function ffmpegMeter(file) {
  const r = spawnSync('ffmpeg', ['-nostdin', '-hide_banner', '-i', file, '-af', 'ebur128=peak=true',
    '-f', 'null', '-'], { encoding: 'utf8' });
  const s = r.stderr.slice(r.stderr.lastIndexOf('Summary:'));
  const num = (re) => Number(s.match(re)[1]);
  return { i: num(/I:\s+(-?[\d.]+) LUFS/), lra: num(/LRA:\s+(-?[\d.]+) LU/), tp: num(/Peak:\s+(-?[\d.]+) dBFS/) };
}

test('EBU Tech 3341 case 1 and agreement with FFmpeg\'s meter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'legato-analyze-'));
  // Case 1: stereo 1 kHz sine at -23 dBFS for 20 s reads -23.0 LUFS.
  const amp = 10 ** (-23 / 20);
  const ref = join(dir, 'case1.wav');
  ffmpeg(['-f', 'lavfi', '-i', `aevalsrc=${amp}*sin(2*PI*1000*t)|${amp}*sin(2*PI*1000*t):s=48000:d=20`,
    '-c:a', 'pcm_f32le', ref]);
  // Music-like material: pink noise whose level steps, in a lossy and a lossless file.
  const music = [join(dir, 'steps.flac'), join(dir, 'steps.mp3')];
  ffmpeg(['-f', 'lavfi', '-i', 'anoisesrc=color=pink:r=44100:d=24:a=0.3', '-af',
    "volume='if(lt(mod(t,8),4),1,0.25)':eval=frame,aformat=channel_layouts=stereo", music[0]]);
  ffmpeg(['-i', music[0], '-b:a', '256k', music[1]]);

  const r = analyze([ref, ...music]);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.rows.length, 4, 'three files and the album');
  const [c1, flac, mp3, album] = r.rows;
  assert.equal(c1.file, ref);
  assert.ok(Math.abs(c1.integrated_lufs + 23) <= 0.1, `case 1 read ${c1.integrated_lufs}`);
  assert.ok(Math.abs(c1.sample_peak_dbfs + 23) <= 0.05, `sample peak ${c1.sample_peak_dbfs}`);
  assert.ok(c1.true_peak_dbtp >= c1.sample_peak_dbfs && c1.true_peak_dbtp <= -22.8);
  for (const [row, file] of [[flac, music[0]], [mp3, music[1]]]) {
    const ff = ffmpegMeter(file);
    // FFmpeg prints one decimal: agreement within its rounding plus 0.1.
    assert.ok(Math.abs(row.integrated_lufs - ff.i) <= 0.15, `${file}: ${row.integrated_lufs} vs ${ff.i}`);
    assert.ok(Math.abs(row.range_lu - ff.lra) <= 1.0, `${file}: LRA ${row.range_lu} vs ${ff.lra}`);
    assert.ok(Math.abs(row.true_peak_dbtp - ff.tp) <= 0.3, `${file}: TP ${row.true_peak_dbtp} vs ${ff.tp}`);
  }
  assert.equal(album.file, '(album)');
  assert.ok(album.true_peak_dbtp >= Math.max(c1.true_peak_dbtp, flac.true_peak_dbtp, mp3.true_peak_dbtp) - 1e-9);
  assert.ok(album.integrated_lufs > Math.min(c1.integrated_lufs, flac.integrated_lufs) - 0.01);
  rmSync(dir, { recursive: true, force: true });
});

test('analyze: bad input and options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'legato-analyze-'));
  const text = join(dir, 'notes.mp3');
  writeFileSync(text, 'this is not audio');
  let r = analyze([text, join(dir, 'missing.flac')]);
  assert.equal(r.status, 1);
  assert.match(r.err, /notes\.mp3: /);
  assert.match(r.err, /missing\.flac: /);
  r = analyze([text], ['--backend', 'cuda']);
  assert.equal(r.status, 2);
  assert.match(r.err, /cuda/);
  r = analyze([text], ['--backend', 'gpu']);
  assert.equal(r.status, 2);
  const none = spawnSync(BIN, ['analyze'], { encoding: 'utf8' });
  assert.equal(none.status, 2);
  rmSync(dir, { recursive: true, force: true });
});
