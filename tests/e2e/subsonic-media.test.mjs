// SPDX-License-Identifier: MIT
// Media retrieval through the `subsonic-api` client: stream and download
// (the file's bytes), getCoverArt for albums (sidecar cover.png), tracks
// (embedded picture) and artists, scaled with size and served again from
// the cache, getLyrics and getLyricsBySongId from a sidecar .lrc file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  LYRICS, TRACKS, USER, assertXmlParity, client, fails, ok, setup, teardown,
} from './subsonic-lib.mjs';

let ctx;
let api;
before(async () => {
  ctx = await setup('legato-sub-media-');
  api = client(ctx);
});
after(async () => { await teardown(ctx); });

// Width and height of a PNG or JPEG image, or null.
function imageSize(buf) {
  if (buf.length > 24 && buf.readUInt32BE(0) === 0x89504e47) {
    return { type: 'png', w: buf.readUInt32BE(16), h: buf.readUInt32BE(20) };
  }
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    for (let i = 2; i + 9 < buf.length;) {
      if (buf[i] !== 0xff) return null;
      const m = buf[i + 1];
      const len = buf.readUInt16BE(i + 2);
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        return { type: 'jpeg', h: buf.readUInt16BE(i + 5), w: buf.readUInt16BE(i + 7) };
      }
      i += 2 + len;
    }
  }
  return null;
}

async function image(r, what) {
  assert.equal(r.status, 200, what);
  const ct = r.headers.get('content-type');
  const body = Buffer.from(await r.arrayBuffer());
  assert.match(ct, /^image\/(png|jpeg|webp)/, `${what}: ${ct} ${body.toString('utf8', 0, 200)}`);
  const size = imageSize(body);
  assert.ok(size, `${what}: a PNG or JPEG`);
  return { ct, body, size };
}

test('stream and download: the file\'s bytes, with every credential', async () => {
  for (const t of [TRACKS[0], TRACKS[3]]) {
    const bytes = readFileSync(join(ctx.dirs.music, t.path));
    for (const mode of ['token', 'password', 'apiKey']) {
      const c = client(ctx, USER, mode);
      for (const method of ['stream', 'download']) {
        const r = await c[method]({ id: ctx.ids.songs[t.title] });
        assert.equal(r.status, 200, `${method} ${mode}`);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(bytes), `${method} ${t.title} ${mode}: bytes`);
      }
    }
  }
  const r = await api.stream({ id: '999999' });
  assert.equal(r.status, 200);
  fails(JSON.parse(await r.text())['subsonic-response'], 70);
});

test('getCoverArt: album (sidecar), track (embedded), artist, scaled and cached', async () => {
  const { albums, songs, artists } = ctx.ids;
  const full = await image(await api.getCoverArt({ id: albums['First Light'] }), 'album cover');
  assert.deepEqual([full.size.w, full.size.h], [600, 600]);
  for (const size of [300, 100, 32]) {
    const a = await image(await api.getCoverArt({ id: albums['First Light'], size }), `size ${size}`);
    assert.ok(a.size.w <= size && a.size.h <= size && a.size.w >= size / 2, `size ${size}: ${JSON.stringify(a.size)}`);
    // Again: the same bytes (from the cache).
    const b = await image(await api.getCoverArt({ id: albums['First Light'], size }), `size ${size} again`);
    assert.ok(a.body.equals(b.body), `size ${size}: the same image twice`);
  }
  // A size larger than the image does not enlarge it.
  const big = await image(await api.getCoverArt({ id: albums['First Light'], size: 2000 }), 'size 2000');
  assert.ok(big.size.w <= 600, `size 2000 enlarged a 600 px cover to ${JSON.stringify(big.size)}`);
  // A track of that album has the album's sidecar cover.
  const song = ok(await api.getSong({ id: songs.Dawn })).song;
  await image(await api.getCoverArt({ id: song.coverArt, size: 64 }), 'Dawn coverArt');
  // Embedded picture, through the id the API hands out.
  const blue = ok(await api.getSong({ id: songs['Blue Moon Rising'] })).song;
  assert.ok(blue.coverArt, 'Blue Moon Rising has coverArt');
  await image(await api.getCoverArt({ id: blue.coverArt }), 'embedded picture');
  await image(await api.getCoverArt({ id: `tr-${songs['Blue Moon Rising']}`, size: 50 }), 'tr- id');
  const al = ok(await api.getAlbum({ id: albums['Blue Hour'] })).album;
  if (al.coverArt) await image(await api.getCoverArt({ id: al.coverArt, size: 50 }), 'Blue Hour cover');
  await image(await api.getCoverArt({ id: artists['Alpha Band'], size: 100 }), 'artist cover');
  // Every coverArt id the API hands out leads to an image.
  for (const al of ok(await api.getAlbumList2({ type: 'alphabeticalByName' })).albumList2.album) {
    if (al.coverArt) await image(await api.getCoverArt({ id: al.coverArt, size: 50 }), `${al.name}: ${al.coverArt}`);
  }

  for (const id of ['al-999999', 'tr-999999', 'nonsense']) {
    const r = await api.getCoverArt({ id });
    assert.equal(r.status, 200, id);
    const env = JSON.parse(await r.text())['subsonic-response'];
    assert.equal(env.status, 'failed', id);
    assert.ok([0, 70].includes(env.error.code), `${id}: ${JSON.stringify(env.error)}`);
  }
  fails(JSON.parse(await (await api.getCoverArt({ id: albums['First Light'], size: 'big' })).text())
    ['subsonic-response'], 0, /size/);
});

test('getLyricsBySongId: the synced lines of the .lrc file', async () => {
  const r = ok(await api.getLyricsBySongId({ id: ctx.ids.songs.Dawn }));
  const list = r.lyricsList.structuredLyrics;
  assert.equal(list.length, 1);
  const l = list[0];
  assert.equal(l.synced, true);
  assert.equal(l.displayArtist, 'Alpha Band');
  assert.equal(l.displayTitle, 'Dawn');
  assert.equal(typeof l.lang, 'string');
  assert.deepEqual(l.line.map((x) => [x.start, x.value]), LYRICS);
  assert.deepEqual(ok(await api.getLyricsBySongId({ id: ctx.ids.songs.Noon })).lyricsList.structuredLyrics || [], []);
  await assertXmlParity(ctx, 'getLyricsBySongId', { id: ctx.ids.songs.Dawn });
});

test('getLyrics: by artist and title', async () => {
  const r = ok(await api.getLyrics({ artist: 'Alpha Band', title: 'Dawn' }));
  assert.equal(r.lyrics.artist, 'Alpha Band');
  assert.equal(r.lyrics.title, 'Dawn');
  assert.equal(r.lyrics.value.trim(), LYRICS.map(([, line]) => line).join('\n'));
  const none = ok(await api.getLyrics({ artist: 'Alpha Band', title: 'Noon' }));
  assert.equal(none.lyrics.value ?? '', '');
  await assertXmlParity(ctx, 'getLyrics', { artist: 'Alpha Band', title: 'Dawn' });
});
