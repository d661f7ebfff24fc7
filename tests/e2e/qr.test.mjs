// SPDX-License-Identifier: MIT
// The device grant's QR images, read back by a decoder no one here wrote:
// /device/qr.png goes to zbarimg as served; /device/qr.svg is rasterised
// (qr-lib.mjs) and then decoded the same way. Each must read back exactly
// the verification URI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, get, rawRequest, startServer, tmpDir } from './lib.mjs';
import { svgToPng, zbar } from './qr-lib.mjs';

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
