// SPDX-License-Identifier: MIT
// Where streams' DSP runs, from the outside: `legato transcode --backend`
// and `legato profile --backend` follow the rules of `analyze --backend`
// (cuda where it cannot run is exit 2 with the reason; auto falls back to
// the CPU and says why; a name that is no backend is exit 2), `profile`
// prints its stage rows with the backend that ran and the batch's choice,
// `profile --gpu-profile` is exit 2 with one line where no GPU can be
// profiled, and `serve` takes the dsp_backend key by the same rules and
// shows its choice in /api/profile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { addUser, cleanup, legato, makeAudio, startServer, tmpDir, tokenAuth, url } from './lib.mjs';

// The CUDA backend's state, as `legato --version` reports it.
function cuda() {
  const line = legato(['--version']).out.trim().split('\n')[1];
  const m = line.match(/cuda\((.+)\)$/);
  if (!m) return { usable: false, why: 'not built' };
  const built = m[1].match(/^built, (.+)$/);
  return built ? { usable: false, why: built[1] } : { usable: true, why: m[1] };
}

const dir = tmpDir('legato-dsp-');
const src = join(dir, 'tone.flac');
makeAudio(src, { seconds: 2, freq: 660 });

test('transcode --backend: cpu, cuda (exit 2 without a GPU), auto, and a bad name', () => {
  const gpu = cuda();
  let r = legato(['transcode', src, join(dir, 'cpu.opus'), '--backend', 'cpu']);
  assert.equal(r.status, 0, r.err);
  const out = join(dir, 'cuda.opus');
  r = legato(['transcode', src, out, '--backend', 'cuda']);
  if (gpu.usable) {
    assert.equal(r.status, 0, r.err);
  } else {
    assert.equal(r.status, 2);
    assert.ok(r.err.includes(`--backend cuda: the CUDA backend cannot run here: ${gpu.why}`), r.err);
    assert.ok(!existsSync(out));
  }
  r = legato(['transcode', src, join(dir, 'auto.opus'), '--backend', 'auto']);
  assert.equal(r.status, 0, r.err);
  if (!gpu.usable) assert.ok(r.err.includes(`dsp on the cpu: cuda ${gpu.why}`), r.err);
  r = legato(['transcode', src, join(dir, 'bad.opus'), '--backend', 'opencl']);
  assert.equal(r.status, 2);
  assert.match(r.err, /--backend must be cpu, cuda or auto, not 'opencl'/);
});

test('profile: stage rows name the backend that ran, and the batch says where it runs', () => {
  const r = legato(['profile', src, '--format', 'mp3', '--backend', 'cpu']);
  assert.equal(r.status, 0, r.err);
  for (const stage of ['load', 'process', 'generate']) {
    assert.match(r.out, new RegExp(`^${stage}\\s+\\d+\\s+[\\d.]+.*%\\s+cpu$`, 'm'), stage);
  }
  assert.match(r.out, /^process stage: the next batch runs on cpu \(cpu: asked for\)$/m);
  assert.doesNotMatch(r.out, /^(upload|kernels|download) /m);
  const gpu = cuda();
  const auto = legato(['profile', src, '--format', 'mp3']);
  assert.equal(auto.status, 0, auto.err);
  if (!gpu.usable) {
    assert.match(auto.out, /^process stage: the next batch runs on cpu \(cpu: no usable GPU/m);
    assert.ok(auto.err.includes(`dsp on the cpu: cuda ${gpu.why}`), auto.err);
  } else {
    assert.match(auto.out, /^process\s+\d+.*\s(cpu|cuda)$/m);
  }
  const cudaRun = legato(['profile', src, '--backend', 'cuda']);
  if (gpu.usable) {
    assert.equal(cudaRun.status, 0, cudaRun.err);
    assert.match(cudaRun.out, /^process\s+\d+.*%\s+cuda$/m);
    assert.match(cudaRun.out, /^kernels\s+\d+.*%\s+cuda$/m);
  } else {
    assert.equal(cudaRun.status, 2);
    assert.ok(cudaRun.err.includes(`--backend cuda: the CUDA backend cannot run here: ${gpu.why}`));
  }
});

test('profile --gpu-profile: exit 2 and one line without a GPU; GPU records in the trace with one', () => {
  const gpu = cuda();
  const trace = join(dir, 'gpu.json');
  const r = legato(['profile', src, '--gpu-profile', '--trace', trace]);
  if (!gpu.usable) {
    assert.equal(r.status, 2);
    const lines = r.err.split('\n').filter((l) => l.startsWith('legato: '));
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], /^legato: --gpu-profile: \S.*/);
    assert.ok(!existsSync(trace));
  } else if (r.status === 0) {
    assert.match(r.out, /^gpu: \d+ kernels/m);
  } else {
    // CUPTI missing or held by another tool: a reason, not a crash.
    assert.equal(r.status, 1, r.err);
    assert.match(r.err, /^legato: --gpu-profile: /m);
  }
});

test('serve: dsp_backend by the same rules; its choice in /api/profile', async () => {
  const gpu = cuda();
  const root = tmpDir('legato-dsp-serve-');
  const dirs = { music: join(root, 'music'), data: join(root, 'data') };
  mkdirSync(dirs.music, { recursive: true });
  mkdirSync(dirs.data, { recursive: true });
  addUser(dirs, 'admin', 'pw-dsp-1', { admin: true });
  const base = ['serve', '--music', dirs.music, '--data', dirs.data, '--listen', '127.0.0.1:0'];
  const bad = legato([...base, '--dsp-backend', 'opencl']);
  assert.equal(bad.status, 2);
  assert.match(bad.err, /dsp_backend must be cpu, cuda or auto, not 'opencl'/);
  if (!gpu.usable) {
    const r = legato([...base, '--dsp-backend', 'cuda']);
    assert.equal(r.status, 2);
    assert.ok(r.err.includes(`dsp_backend cuda: the CUDA backend cannot run here: ${gpu.why}`), r.err);
  }
  const srv = await startServer(dirs, ['--dsp-backend', 'cpu']);
  try {
    const lines = srv.log().split('\n').filter((l) => l.includes(' dsp: '));
    assert.equal(lines.length, 1, srv.log());
    assert.match(lines[0], /dsp: on the cpu, as dsp_backend asks \(backends: /);
    const p = await (await fetch(url(srv.base, '/api/profile', tokenAuth('admin', 'pw-dsp-1')))).json();
    assert.equal(p.dsp.backend, 'cpu');
    assert.equal(p.dsp.why, "dsp_backend is cpu: each stream's worker runs its DSP");
  } finally {
    const end = await srv.stop();
    assert.deepEqual(end, { code: 0, sig: null }, srv.log());
    cleanup(root);
  }
});

test('cleanup', () => cleanup(dir));
