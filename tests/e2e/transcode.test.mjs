// SPDX-License-Identifier: MIT
// /rest/stream transcoding through the in-process pipeline, driven by the npm
// `subsonic-api` client where it can be: format (opus, mp3, aac, flac, wav,
// raw), maxBitRate from the request and from the user's setting,
// timeOffset, estimateContentLength, normalize; every answer is decoded with
// ffprobe/ffmpeg (tools no one here wrote) to check codec, rate and length.
// Also `legato transcode` from file to file and its usage errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { SubsonicAPI } from 'subsonic-api';
import {
  addUser, cleanup, legato, makeAudio, startServer, subsonic, tmpDir, tokenAuth, url,
} from './lib.mjs';

let dir;
let srv;
let api;
let flacId;
let mp3Id;

const probe = (file) => {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries',
    'stream=codec_name,sample_rate,channels:format=duration', '-of', 'json', file],
  { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  return { ...j.streams[0], duration: Number(j.format.duration) };
};
// Decoded length in samples, as ffmpeg counts them (gapless info honoured).
const samples = (file) => {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-'],
    { maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout.length / 2;
};

before(async () => {
  dir = tmpDir('legato-transcode-');
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  makeAudio(join(dirs.music, 'A', 'one.flac'), { seconds: 6, freq: 330 });
  makeAudio(join(dirs.music, 'A', 'two.mp3'), { seconds: 4, freq: 550, bitrate: '320k' });
  addUser(dirs, 'ann', 'pw-ann', { admin: true });
  addUser(dirs, 'bob', 'pw-bob');
  srv = await startServer(dirs);
  api = new SubsonicAPI({ url: srv.base, auth: { username: 'ann', password: 'pw-ann' } });
  await api.startScan();
  for (let i = 0; i < 100; i++) {
    const s = await api.getScanStatus();
    if (!s.scanStatus.scanning) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const found = await api.search3({ query: '' , songCount: 10 });
  for (const s of found.searchResult3.song) {
    if (s.suffix === 'flac') flacId = s.id;
    if (s.suffix === 'mp3') mp3Id = s.id;
  }
  assert.ok(flacId && mp3Id);
});
after(async () => {
  await srv?.stop();
  cleanup(dir);
});

async function fetchTo(name, params, auth = tokenAuth('ann', 'pw-ann')) {
  const r = await fetch(url(srv.base, '/rest/stream.view', { ...auth, ...params }));
  const body = Buffer.from(await r.arrayBuffer());
  const file = join(dir, name);
  writeFileSync(file, body);
  return { status: r.status, headers: r.headers, body, file };
}

test('format=opus|mp3|aac|flac|wav through the subsonic-api client', async () => {
  const cases = [
    ['opus', 'audio/ogg', 'opus', 48000],
    ['mp3', 'audio/mpeg', 'mp3', 44100],
    ['aac', 'audio/aac', 'aac', 44100],
    ['flac', 'audio/flac', 'flac', 44100],
    ['wav', 'audio/wav', 'pcm_s16le', 44100],
  ];
  for (const [format, mime, codec, rate] of cases) {
    const r = await api.stream({ id: flacId, format });
    assert.equal(r.status, 200, format);
    assert.equal(r.headers.get('content-type'), mime);
    const file = join(dir, `client.${format}`);
    writeFileSync(file, Buffer.from(await r.arrayBuffer()));
    const p = probe(file);
    assert.equal(p.codec_name, codec, format);
    assert.equal(Number(p.sample_rate), rate, format);
    // 6 s of 44.1 kHz in; exact lengths where the format signals its padding.
    const want = Math.round(6 * rate);
    const got = samples(file);
    if (format === 'aac') assert.ok(Math.abs(got - want) <= 2048, `${format}: ${got}`);
    else if (format === 'mp3') assert.ok(Math.abs(got - want) <= 1152, `${format}: ${got}`);
    else assert.equal(got, want, format);
  }
});

test('raw and no parameters give the original bytes, with ranges', async () => {
  const orig = await fetchTo('orig.flac', { id: flacId });
  const raw = await fetchTo('raw.flac', { id: flacId, format: 'raw', maxBitRate: '64' });
  assert.equal(orig.headers.get('content-type'), 'audio/flac');
  assert.deepEqual(raw.body, orig.body);
  const ranged = await fetch(url(srv.base, '/rest/stream.view',
    { ...tokenAuth('ann', 'pw-ann'), id: flacId }), { headers: { range: 'bytes=10-19' } });
  assert.equal(ranged.status, 206);
  // An mp3 asked as mp3 under its bit rate: the original too.
  const same = await fetchTo('same.mp3', { id: mp3Id, format: 'mp3' });
  assert.equal(same.headers.get('accept-ranges'), 'bytes');
});

test('maxBitRate: the request\'s and the user\'s limit', async () => {
  // 320k mp3 source, limit 128: an mp3 at 128k.
  const r = await fetchTo('lim.mp3', { id: mp3Id, maxBitRate: '128' });
  assert.equal(r.headers.get('content-type'), 'audio/mpeg');
  const p = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=bit_rate', '-of',
    'csv=p=0', r.file], { encoding: 'utf8' });
  assert.equal(Number(p.stdout.trim()), 128000);
  // bob's own limit is 96 kbit/s: he gets 96k with no parameter at all.
  const upd = await subsonic(url(srv.base, '/rest/updateUser.view', {
    ...tokenAuth('ann', 'pw-ann'), f: 'json', username: 'bob', maxBitRate: '96' }));
  assert.equal(upd.body.status, 'ok');
  await new Promise((res) => setTimeout(res, 2100)); // past the per-thread memo
  const b = await fetchTo('bob.mp3', { id: mp3Id }, tokenAuth('bob', 'pw-bob'));
  const pb = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=bit_rate', '-of',
    'csv=p=0', b.file], { encoding: 'utf8' });
  assert.equal(Number(pb.stdout.trim()), 96000);
});

test('timeOffset starts later; estimateContentLength declares the length', async () => {
  const r = await fetchTo('off.wav', { id: flacId, format: 'wav', timeOffset: '2.5' });
  assert.equal(samples(r.file), Math.round(3.5 * 44100));
  const e = await fetchTo('est.opus', { id: flacId, format: 'opus', maxBitRate: '96',
    estimateContentLength: 'true' });
  const len = Number(e.headers.get('content-length'));
  assert.ok(len > 0 && len === e.body.length, `${len} vs ${e.body.length}`);
  assert.equal(probe(e.file).codec_name, 'opus');
});

test('bad parameters get Subsonic errors; HEAD starts nothing', async () => {
  for (const params of [{ format: 'xyz' }, { maxBitRate: '-5' }, { timeOffset: 'abc' },
    { normalize: 'loud' }]) {
    const r = await subsonic(url(srv.base, '/rest/stream.view',
      { ...tokenAuth('ann', 'pw-ann'), f: 'json', id: flacId, ...params }));
    assert.equal(r.body.status, 'failed', JSON.stringify(params));
  }
  const h = await fetch(url(srv.base, '/rest/stream.view',
    { ...tokenAuth('ann', 'pw-ann'), id: flacId, format: 'opus' }), { method: 'HEAD' });
  assert.equal(h.status, 200);
  assert.equal(h.headers.get('content-type'), 'audio/ogg');
  assert.notEqual(h.headers.get('content-length'), '0'); // the length is not known
  // With estimateContentLength, HEAD says the estimate a GET would send.
  const q = { ...tokenAuth('ann', 'pw-ann'), id: flacId, format: 'opus', maxBitRate: '56',
    estimateContentLength: 'true' }; // a bitrate no other test asks for: nothing cached
  const he = await fetch(url(srv.base, '/rest/stream.view', q), { method: 'HEAD' });
  const est = Number(he.headers.get('content-length'));
  assert.ok(est > 1000, `HEAD Content-Length ${est}`);
  const ge = await fetch(url(srv.base, '/rest/stream.view', q));
  assert.equal(Number(ge.headers.get('content-length')), est);
  await ge.arrayBuffer();
});

test('a corrupt file ends its stream cleanly and the server lives on', async () => {
  const bad = join(dir, 'music', 'A', 'one.flac');
  const r = await fetchTo('before.opus', { id: flacId, format: 'opus' });
  assert.equal(r.status, 200);
  // Overwrite the file with noise of the same name: a 422 or a short stream.
  writeFileSync(bad, Buffer.alloc(50000, 0x5a));
  const x = await fetch(url(srv.base, '/rest/stream.view',
    { ...tokenAuth('ann', 'pw-ann'), id: flacId, format: 'opus' }));
  await x.arrayBuffer().catch(() => {});
  assert.ok([200, 404, 422].includes(x.status), String(x.status));
  const ping = await subsonic(url(srv.base, '/rest/ping.view', { ...tokenAuth('ann', 'pw-ann'), f: 'json' }));
  assert.equal(ping.body.status, 'ok');
});

test('legato transcode: file to file, normalised, and usage errors', () => {
  const src = join(dir, 'cli.flac');
  makeAudio(src, { seconds: 3, freq: 1000 });
  const out = join(dir, 'cli.opus');
  let r = legato(['transcode', src, out, '--bitrate', '96', '--normalize', 'track', '--target', '-20']);
  assert.equal(r.status, 0, r.err);
  assert.equal(probe(out).codec_name, 'opus');
  const loud = legato(['analyze', '--json', out]);
  const lufs = JSON.parse(loud.out.trim().split('\n')[0]).integrated_lufs;
  assert.ok(Math.abs(lufs - -20) < 0.7, `loudness ${lufs}`);
  r = legato(['transcode', src, join(dir, 'x.xyz')]);
  assert.equal(r.status, 2);
  r = legato(['transcode', join(dir, 'missing.flac'), join(dir, 'y.mp3')]);
  assert.equal(r.status, 1);
  assert.ok(!existsSync(join(dir, 'y.mp3')));
});

test('legato profile: a table per stage, the bottleneck, a trace Perfetto reads', () => {
  const src = join(dir, 'prof.flac');
  makeAudio(src, { seconds: 4, freq: 700 });
  const trace = join(dir, 'trace.json');
  const r = legato(['profile', src, src, '--format', 'mp3', '--trace', trace]);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /2 file\(s\), 8\.0 s of audio/);
  for (const stage of ['load', 'process', 'generate']) {
    assert.match(r.out, new RegExp(`^${stage}\\s+\\d+\\s+[\\d.]+`, 'm'), stage);
  }
  assert.match(r.out, /^bottleneck: (load|process|generate) \(\d+% of the wall time\)$/m);
  const t = JSON.parse(readFileSync(trace, 'utf8'));
  const spans = t.traceEvents.filter((e) => e.ph === 'X');
  for (const stage of ['load', 'process', 'generate']) {
    assert.ok(spans.some((e) => e.name === stage && e.dur >= 0 && e.ts > 0), stage);
  }
  assert.ok(t.traceEvents.some((e) => e.ph === 'M' && e.args?.name === 'pipeline'));
  assert.equal(legato(['profile', src, '--format', 'ogg-vorbis']).status, 2);
});

test('two listeners of one transcode share its job; a listener who leaves frees it', async () => {
  const src = join(dir, 'music', 'A', 'three.flac');
  makeAudio(src, { seconds: 20, freq: 440 });
  await api.startScan();
  let id;
  for (let i = 0; i < 100 && !id; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const f = await api.search3({ query: 'three', songCount: 5 });
    id = f.searchResult3?.song?.find((s) => s.path.endsWith('three.flac'))?.id;
  }
  assert.ok(id);
  const q = { id, format: 'opus', maxBitRate: '64' };
  const [a, b] = await Promise.all([
    fetch(url(srv.base, '/rest/stream.view', { ...tokenAuth('ann', 'pw-ann'), ...q })),
    new Promise((r) => setTimeout(r, 50)).then(() =>
      fetch(url(srv.base, '/rest/stream.view', { ...tokenAuth('ann', 'pw-ann'), ...q }))),
  ]);
  const [ba, bb] = await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
  assert.equal(b.headers.get('x-legato-transcode'), 'shared');
  assert.ok(Buffer.from(ba).equals(Buffer.from(bb)), 'both listeners got the same bytes');
  // A listener who stops after the first bytes: the job goes at once.
  const ctl = new AbortController();
  const c = await fetch(url(srv.base, '/rest/stream.view',
    { ...tokenAuth('ann', 'pw-ann'), id, format: 'mp3', maxBitRate: '96' }), { signal: ctl.signal });
  const reader = c.body.getReader();
  await reader.read();
  ctl.abort();
  let running = -1;
  for (let i = 0; i < 100 && running !== 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const m = await (await fetch(`${srv.base}/metrics`)).text();
    running = Number(m.match(/^legato_transcode_jobs_running (\d+)/m)?.[1]);
  }
  assert.equal(running, 0);
});

test('a finished transcode comes from the cache, like a file, with ranges', async () => {
  const q = { ...tokenAuth('ann', 'pw-ann'), id: mp3Id, format: 'opus', maxBitRate: '48' };
  const first = await fetch(url(srv.base, '/rest/stream.view', q));
  const a = Buffer.from(await first.arrayBuffer());
  assert.equal(first.headers.get('accept-ranges'), 'none');
  let second;
  for (let i = 0; i < 50; i++) { // the commit follows the last byte closely
    second = await fetch(url(srv.base, '/rest/stream.view', q));
    if (second.headers.get('accept-ranges') === 'bytes') break;
    await second.arrayBuffer();
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(second.headers.get('accept-ranges'), 'bytes');
  assert.equal(second.headers.get('content-type'), 'audio/ogg');
  const b = Buffer.from(await second.arrayBuffer());
  assert.ok(a.equals(b), 'the cached bytes are the streamed bytes');
  const part = await fetch(url(srv.base, '/rest/stream.view', q), { headers: { range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(a.subarray(100, 200)));
  // A weak tag: a transcode made again may differ in its bytes, so If-Range
  // never joins two of them (the whole answer comes), while If-None-Match
  // still says "not modified".
  const etag = second.headers.get('etag');
  assert.match(etag, /^W\/"t[0-9a-f]{16}"$/);
  const resumed = await fetch(url(srv.base, '/rest/stream.view', q),
    { headers: { range: 'bytes=100-199', 'if-range': etag } });
  assert.equal(resumed.status, 200);
  assert.ok(Buffer.from(await resumed.arrayBuffer()).equals(a));
  const same = await fetch(url(srv.base, '/rest/stream.view', q), { headers: { 'if-none-match': etag } });
  assert.equal(same.status, 304);
  const m = await (await fetch(`${srv.base}/metrics`)).text();
  assert.ok(Number(m.match(/^legato_transcode_cache_hits_total (\d+)/m)[1]) >= 2);
});

test('the server stops cleanly while a listener waits for its transcode', async () => {
  // 90 s: longer than the burst and the lead a transcode may take, so the
  // listener catches up with it and waits.
  makeAudio(join(dir, 'music', 'B', 'long.flac'), { seconds: 90, freq: 500 });
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  const s2 = await startServer(dirs);
  try {
    const auth = tokenAuth('ann', 'pw-ann');
    let id;
    for (let i = 0; i < 100 && !id; i++) {
      const f = await subsonic(url(s2.base, '/rest/search3.view',
        { ...auth, f: 'json', query: 'long', songCount: 5 }));
      id = f.body.searchResult3?.song?.find((x) => x.path.endsWith('long.flac'))?.id;
      if (!id) await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(id);
    const r = await fetch(url(s2.base, '/rest/stream.view',
      { ...auth, id, format: 'opus', maxBitRate: '40' }));
    const reader = r.body.getReader();
    let got = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) got += (await reader.read()).value?.length ?? 0;
    assert.ok(got > 0);
    // The server made the burst (10 s) and the lead (30 s) ahead of the
    // listener's clock, and no further: it waits.
    const p = await (await fetch(url(s2.base, '/api/profile', auth))).json();
    assert.equal(p.streams.length, 1, JSON.stringify(p.streams));
    const ahead = p.streams[0].ahead_s;
    assert.ok(ahead > 35 && ahead < 45, `ahead ${ahead} s`);
  } finally {
    const end = await s2.stop();
    assert.deepEqual(end, { code: 0, sig: null }, s2.log());
    assert.doesNotMatch(s2.log(), /Fatal error/);
  }
});

// A FLAC file named .mp3: asked for MP3, a player gets MP3, not the file as
// it is (the scan's codec decides, not the name).
test('a file whose name lies about its format is transcoded', async () => {
  const src = join(dir, 'music', 'C', 'lie.flac');
  makeAudio(src, { seconds: 2, freq: 600, tags: { title: 'Liar' } });
  renameSync(src, join(dir, 'music', 'C', 'lie.mp3'));
  await api.startScan();
  let id;
  for (let i = 0; i < 100 && !id; i++) {
    const f = await api.search3({ query: 'Liar', songCount: 5 });
    id = f.searchResult3.song?.find((s) => s.path.endsWith('lie.mp3'))?.id;
    if (!id) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(id);
  const r = await fetch(url(srv.base, '/rest/stream.view', { ...tokenAuth('ann', 'pw-ann'), id, format: 'mp3' }));
  const body = Buffer.from(await r.arrayBuffer());
  assert.equal(r.status, 200);
  assert.notEqual(body.subarray(0, 4).toString('latin1'), 'fLaC');
  assert.ok(body.subarray(0, 3).toString('latin1') === 'ID3' || body[0] === 0xff, 'an MP3 stream');
  // As it is, it says what it holds.
  const raw = await fetch(url(srv.base, '/rest/stream.view', { ...tokenAuth('ann', 'pw-ann'), id }));
  assert.equal(raw.headers.get('content-type'), 'audio/flac');
  assert.equal(Buffer.from(await raw.arrayBuffer()).subarray(0, 4).toString('latin1'), 'fLaC');
});
