// SPDX-License-Identifier: MIT
// Reading QR images back with a decoder no one here wrote: zbarimg decodes
// PNG files as served; an SVG from lg_qr_svg (its single path of
// "Mx yhNv1h-Nz" runs) is painted into a bitmap and written as a PNG with
// node's zlib first, since no SVG rasteriser is installed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { deflateSync, crc32 as zcrc32 } from 'node:zlib';

// The text of the one QR code in an image file.
export function zbar(file) {
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
export function svgToPng(svg, scale = 6) {
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
