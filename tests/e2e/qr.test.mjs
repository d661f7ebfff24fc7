// SPDX-License-Identifier: MIT
// The device grant's QR images, read back by a decoder no one here wrote:
// /device/qr.png goes to zbarimg as served; /device/qr.svg is rasterised here
// (its single path of "Mx yhNv1h-Nz" runs, painted into a bitmap and written
// as a PNG with node's zlib, since no SVG rasteriser is installed) and then
// decoded the same way. Each must read back exactly the verification URI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, crc32 as zcrc32 } from 'node:zlib';
import { cleanup, get, rawRequest, startServer, tmpDir } from './lib.mjs';

const HANDLE = 'Zk9vYmFyQmF6UXV4MTIzNDU2Nzg5MA_-';

let dir;
let srv;

before(async () => {
  dir = tmpDir('legato-qr-');
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data') };
  mkdirSync(dirs.music, { recursive: true });
  srv = await startServer(dirs);
});

after(async () => {
  if (srv) await srv.stop();
  cleanup(dir);
});

function zbar(file) {
  const r = spawnSync('zbarimg', ['--raw', '-q', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `zbarimg ${file}: ${r.stderr}`);
  return r.stdout.replace(/\n$/, '');
}

function crc32(buf) {
  if (zcrc32) return zcrc32(buf) >>> 0;
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, tail]);
}

// Paints the SVG's path (absolute M, relative h/v, z) at scale px per unit
// into an 8-bit grayscale PNG.
function svgToPng(svg, scale = 6) {
  const vb = svg.match(/viewBox="0 0 (\d+) (\d+)"/);
  assert.ok(vb, 'viewBox in modules');
  assert.match(svg, /shape-rendering="crispEdges"/);
  const paths = svg.match(/<path /g) || [];
  assert.equal(paths.length, 1, 'one path');
  const size = Number(vb[1]);
  const dark = new Uint8Array(size * size);
  const d = svg.match(/<path [^>]*d="([^"]*)"/)[1];
  const re = /M(\d+) (\d+)h(\d+)v1h-(\d+)z/y;
  let m;
  let consumed = 0;
  while ((m = re.exec(d)) !== null) {
    const [x, y, n] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.equal(Number(m[4]), n);
    for (let i = 0; i < n; i++) dark[y * size + x + i] = 1;
    consumed = re.lastIndex;
  }
  assert.equal(consumed, d.length, 'the whole path parsed');
  const px = size * scale;
  const raw = Buffer.alloc((px + 1) * px);
  for (let y = 0; y < px; y++) {
    for (let x = 0; x < px; x++) {
      raw[y * (px + 1) + 1 + x] = dark[Math.floor(y / scale) * size + Math.floor(x / scale)] ? 0 : 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(px, 0);
  ihdr.writeUInt32BE(px, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (gray)
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function checkHeaders(r, ctype) {
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), ctype);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
}

test('qr.png decodes with zbarimg to the exact verification URI', async () => {
  const r = await get(`${srv.base}/device/qr.png?h=${HANDLE}`);
  checkHeaders(r, 'image/png');
  const png = r.body;
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const file = join(dir, 'qr.png');
  writeFileSync(file, png);
  assert.equal(zbar(file), `${srv.base}/device?h=${HANDLE}`);
});

test('qr.svg, rasterised, decodes with zbarimg to the exact verification URI', async () => {
  const r = await get(`${srv.base}/device/qr.svg?h=${HANDLE}`);
  checkHeaders(r, 'image/svg+xml');
  const file = join(dir, 'qr-svg.png');
  writeFileSync(file, svgToPng(r.body.toString('utf8')));
  assert.equal(zbar(file), `${srv.base}/device?h=${HANDLE}`);
});

async function rawPng(host, name) {
  const r = await rawRequest(srv.port, `GET /device/qr.png?h=${HANDLE} HTTP/1.1\r\n`
    + `Host: ${host}\r\nConnection: close\r\n\r\n`);
  assert.equal(r.status, 200);
  const file = join(dir, name);
  writeFileSync(file, r.raw.subarray(r.raw.indexOf('\r\n\r\n') + 4));
  return zbar(file);
}

test('the Host header names the server; a hostile one is replaced by the listen address', async () => {
  assert.equal(await rawPng('tv.local:8080', 'qr-host1.png'), `http://tv.local:8080/device?h=${HANDLE}`);
  assert.equal(await rawPng('[::1]:9', 'qr-host2.png'), `http://[::1]:9/device?h=${HANDLE}`);
  assert.equal(await rawPng('evil.example/phish?x=', 'qr-host3.png'), `${srv.base}/device?h=${HANDLE}`);
  assert.equal(await rawPng('a@b', 'qr-host4.png'), `${srv.base}/device?h=${HANDLE}`);
});

test('bad handles and methods are refused', async () => {
  for (const q of ['', '?h=', '?h=short', `?h=${'a'.repeat(65)}`, `?h=${HANDLE.slice(0, 20)}%2F${'a'.repeat(10)}`,
    `?h=${HANDLE.slice(0, 20)}+abc`, '?x=1']) {
    for (const ext of ['png', 'svg']) {
      const r = await get(`${srv.base}/device/qr.${ext}${q}`);
      assert.equal(r.status, 400, `${ext} ${q}`);
    }
  }
  const r = await get(`${srv.base}/device/qr.png?h=${'a'.repeat(16)}`);
  assert.equal(r.status, 200);
  const p = await get(`${srv.base}/device/qr.svg?h=${HANDLE}`, {}, 'POST');
  assert.equal(p.status, 405);
});

test('--public-url is what the code carries', async () => {
  const dirs = { music: join(dir, 'music'), data: join(dir, 'data2') };
  const s2 = await startServer(dirs, ['--public-url', 'https://music.example.org/legato/']);
  try {
    const r = await get(`${s2.base}/device/qr.png?h=${HANDLE}`);
    const file = join(dir, 'qr-public.png');
    writeFileSync(file, r.body);
    assert.equal(zbar(file), `https://music.example.org/legato/device?h=${HANDLE}`);
  } finally {
    await s2.stop();
  }
});
