// SPDX-License-Identifier: MIT
// DSP backends from the outside: `legato --version` lists them, `legato
// analyze --backend cuda` fails with exit status 2 and the reason where CUDA
// cannot run (and agrees with the CPU where it can), `--backend auto` falls
// back to the CPU with the reason logged, and `legato serve` logs once where
// its DSP runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { addUser, cleanup, legato, startServer, tmpDir } from './lib.mjs';

// The second line of --version: the CPU kernel, then cuda(...) when built.
function backends() {
  const r = legato(['--version']);
  assert.equal(r.status, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 2, r.out);
  assert.match(lines[0], /^legato \d+\.\d+\.\d+$/);
  const m = lines[1].match(/^backends: (cpu|cpu-avx2)(?: cuda\((.+)\))?$/);
  assert.ok(m, lines[1]);
  const cuda = m[2];
  if (cuda === undefined) return { line: lines[1], built: false, usable: false, why: 'not built' };
  const built = cuda.match(/^built, (.+)$/);
  return built
    ? { line: lines[1], built: true, usable: false, why: built[1] }
    : { line: lines[1], built: true, usable: true, why: cuda };
}

function ffmpeg(args) {
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function analyze(files, backend) {
  const r = legato(['analyze', '--json', '--backend', backend, ...files]);
  const rows = r.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { status: r.status, err: r.err, rows };
}

test('--version lists the backends built in and usable', () => {
  const b = backends();
  // A CUDA build on a machine without a usable GPU names the reason.
  if (b.built && !b.usable) assert.match(b.why, /^(no CUDA driver|no device|CUDA driver .* older|cannot run a kernel|cudaGetDeviceCount|.* needs sm_80)/);
  if (b.usable) assert.match(b.why, /, sm_\d+$/);
});

test('analyze: cuda where it cannot run is exit 2 with the reason; auto falls back', () => {
  const b = backends();
  const dir = tmpDir('legato-backend-');
  const files = [join(dir, 'tone.wav'), join(dir, 'steps.flac')];
  const amp = 10 ** (-23 / 20);
  ffmpeg(['-f', 'lavfi', '-i', `aevalsrc=${amp}*sin(2*PI*1000*t)|${amp}*sin(2*PI*1000*t):s=48000:d=12`,
    '-c:a', 'pcm_f32le', files[0]]);
  ffmpeg(['-f', 'lavfi', '-i', 'anoisesrc=color=pink:r=44100:d=34:a=0.3', '-af',
    "volume='if(lt(mod(t,8),4),1,0.25)':eval=frame,aformat=channel_layouts=stereo", files[1]]);

  const cpu = analyze(files, 'cpu');
  assert.equal(cpu.status, 0, cpu.err);
  assert.equal(cpu.rows.length, 3);
  assert.ok(Math.abs(cpu.rows[0].integrated_lufs + 23) <= 0.1, `${cpu.rows[0].integrated_lufs}`);

  const cuda = analyze(files, 'cuda');
  const auto = analyze(files, 'auto');
  assert.equal(auto.status, 0, auto.err);
  if (b.usable) {
    assert.equal(cuda.status, 0, cuda.err);
    assert.match(auto.err, /analysis on cuda/);
    for (const r of [cuda, auto]) {
      r.rows.forEach((row, i) => {
        assert.ok(Math.abs(row.integrated_lufs - cpu.rows[i].integrated_lufs) <= 0.01 + 1e-9, row.file);
        assert.ok(Math.abs(row.true_peak_dbtp - cpu.rows[i].true_peak_dbtp) <= 0.05 + 1e-9, row.file);
        assert.ok(Math.abs(row.range_lu - cpu.rows[i].range_lu) <= 0.1 + 1e-9, row.file);
      });
    }
  } else {
    assert.equal(cuda.status, 2);
    assert.deepEqual(cuda.rows, []);
    assert.ok(cuda.err.includes(`--backend cuda: the CUDA backend cannot run here: ${b.why}`), cuda.err);
    // auto measures on the CPU, says why at info level, and reads the same.
    assert.ok(auto.err.includes(`analysis on the cpu: cuda ${b.why}`), auto.err);
    assert.deepEqual(auto.rows, cpu.rows);
  }
  // A backend that does not exist is a usage error whatever the machine.
  const bad = analyze(files, 'opencl');
  assert.equal(bad.status, 2);
  assert.match(bad.err, /--backend must be cpu, cuda or auto, not 'opencl'/);
  cleanup(dir);
});

test('serve logs once where its DSP runs', async () => {
  const b = backends();
  const root = tmpDir('legato-backend-serve-');
  const dirs = { music: join(root, 'music'), data: join(root, 'data') };
  mkdirSync(dirs.music, { recursive: true });
  mkdirSync(dirs.data, { recursive: true });
  addUser(dirs, 'admin', 'pw-backend-1', { admin: true });
  const srv = await startServer(dirs);
  try {
    const lines = srv.log().split('\n').filter((l) => l.includes(' dsp: '));
    assert.equal(lines.length, 1, srv.log());
    assert.ok(lines[0].includes(`(${b.line})`), lines[0]);
    assert.ok(lines[0].includes(b.usable ? `cuda usable on ${b.why}` : `on the cpu, cuda ${b.why}`), lines[0]);
  } finally {
    await srv.stop();
    cleanup(root);
  }
});
