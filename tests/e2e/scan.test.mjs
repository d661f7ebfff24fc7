// SPDX-License-Identifier: MIT
// `legato scan` as a user runs it: a generated library (ffmpeg) is scanned
// into an empty data folder, the summary line and exit status are checked,
// the database is read back with the sqlite3 command line, and rescans show
// that unchanged files are skipped, changed ones updated and deleted ones
// removed. Broken files are reported and do not fail the scan; a missing
// music folder does. Skipped when ffmpeg is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  mkdtempSync, mkdirSync, writeFileSync, copyFileSync, rmSync, utimesSync, readFileSync, renameSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.LEGATO_BIN || 'build-test/legato';
const HAVE_FFMPEG = spawnSync('ffmpeg', ['-version']).status === 0;
const HAVE_SQLITE3 = spawnSync('sqlite3', ['-version']).status === 0;

function legato(args, home) {
  const env = { ...process.env, HOME: home };
  for (const k of Object.keys(env)) {
    if (k.startsWith('LEGATO_') && k !== 'LEGATO_BIN') delete env[k];
  }
  delete env.XDG_CONFIG_HOME;
  delete env.XDG_DATA_HOME;
  const r = spawnSync(BIN, args, { input: '', env, encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function ffmpeg(args) {
  const r = spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', ...args]);
  assert.equal(r.status, 0, `ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

function tone(out, seconds, tags = {}) {
  const meta = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
  ffmpeg(['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`, ...meta, out]);
}

const SUMMARY =
  /^scanned .+: (\d+) files, (\d+) added, (\d+) updated, (\d+) unchanged, (\d+) removed, (\d+) failed in [\d.]+ s$/m;

function summary(r) {
  assert.equal(r.status, 0, `exit status; stderr: ${r.err}`);
  const m = SUMMARY.exec(r.out);
  assert.ok(m, `summary line in: ${r.out}`);
  const [files, added, updated, unchanged, removed, failed] = m.slice(1).map(Number);
  return { files, added, updated, unchanged, removed, failed };
}

function sql(db, query) {
  const r = spawnSync('sqlite3', ['-readonly', db, query], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

// A library of five tracks on two albums, a sidecar cover, and three broken
// files; built once and copied for each test that changes it.
let base;
function library() {
  if (base) return base;
  base = mkdtempSync(join(tmpdir(), 'legato-scan-lib-'));
  const album = join(base, 'Ann', 'First');
  mkdirSync(album, { recursive: true });
  for (const [i, ext] of [[1, 'mp3'], [2, 'flac'], [3, 'ogg']]) {
    tone(join(album, `0${i}.${ext}`), 1, {
      title: `Song ${i}`, artist: 'Ann', album: 'First', track: `${i}/3`, date: '2020',
    });
  }
  // A cover must be an image; cover.jpg, text, is passed over.
  ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:s=8x8', '-frames:v', '1', '-update', '1', '-f', 'mjpeg',
    join(album, 'Folder.JPG')]);
  writeFileSync(join(album, 'cover.jpg'), 'not really a jpeg');
  mkdirSync(join(base, 'Bob'));
  tone(join(base, 'Bob', 'b.m4a'), 1, { title: 'Bee', artist: 'Bob', album: 'Second' });
  tone(join(base, 'untagged song.mp3'), 1);
  mkdirSync(join(base, 'broken'));
  writeFileSync(join(base, 'broken', 'empty.mp3'), '');
  writeFileSync(join(base, 'broken', 'text.mp3'), 'hello, not audio\n');
  writeFileSync(join(base, 'broken', 'cut.flac'), 'fLaC\0\0\0\x22');
  writeFileSync(join(base, 'notes.txt'), 'ignored: not audio by name');
  return base;
}

function fresh() {
  const root = mkdtempSync(join(tmpdir(), 'legato-scan-'));
  const music = join(root, 'music');
  spawnSync('cp', ['-r', library(), music]);
  return { root, music, data: join(root, 'data'), db: join(root, 'data', 'legato.db') };
}

const opts = { skip: HAVE_FFMPEG ? false : 'ffmpeg not installed' };

test('first scan: summary line, exit status 0, catalogue in the database', opts, () => {
  const t = fresh();
  const s = summary(legato(['scan', '--music', t.music, '--data', t.data], t.root));
  assert.deepEqual(s, { files: 8, added: 5, updated: 0, unchanged: 0, removed: 0, failed: 3 });
  if (HAVE_SQLITE3) {
    assert.equal(sql(t.db, 'SELECT count(*) FROM tracks'), '5');
    assert.equal(sql(t.db, "SELECT title FROM tracks WHERE path = 'untagged song.mp3'"),
      'untagged song');
    assert.equal(
      sql(t.db, "SELECT title, artist, album, track_no, year, codec, content_type, cover_path " +
        "FROM tracks WHERE path = 'Ann/First/02.flac'"),
      'Song 2|Ann|First|2|2020|flac|audio/flac|Ann/First/Folder.JPG');
    assert.equal(sql(t.db, "SELECT codec, suffix FROM tracks WHERE path = 'Bob/b.m4a'"),
      'aac|m4a');
    const d = Number(sql(t.db, "SELECT duration_ms FROM tracks WHERE path = 'Ann/First/01.mp3'"));
    assert.ok(d > 900 && d < 1200, `duration ${d}`);
    assert.equal(sql(t.db, "SELECT count(*) FROM albums"), '3'); // First, Second, Unknown Album
  }
  rmSync(t.root, { recursive: true, force: true });
});

test('rescan: unchanged skipped, changed updated, deleted removed, ids stable', opts, () => {
  const t = fresh();
  const args = ['scan', '--music', t.music, '--data', t.data];
  summary(legato(args, t.root));
  const id = (p) => HAVE_SQLITE3 && sql(t.db, `SELECT id FROM tracks WHERE path = '${p}'`);
  const before = id('Ann/First/01.mp3');

  let s = summary(legato(args, t.root));
  assert.deepEqual(s, { files: 8, added: 0, updated: 0, unchanged: 5, removed: 0, failed: 3 });

  // A retagged file, a new one, a deleted one and one with only a new mtime.
  tone(join(t.music, 'Ann', 'First', '01.mp3'), 2, { title: 'Retitled', artist: 'Ann', album: 'First' });
  copyFileSync(join(t.music, 'untagged song.mp3'), join(t.music, 'Ann', 'new.mp3'));
  rmSync(join(t.music, 'Bob', 'b.m4a'));
  utimesSync(join(t.music, 'untagged song.mp3'), new Date(2001, 0, 1), new Date(2001, 0, 1));
  s = summary(legato(args, t.root));
  assert.deepEqual(s, { files: 8, added: 1, updated: 2, unchanged: 2, removed: 1, failed: 3 });
  if (HAVE_SQLITE3) {
    assert.equal(id('Ann/First/01.mp3'), before);
    assert.equal(sql(t.db, `SELECT title FROM tracks WHERE id = ${before}`), 'Retitled');
    assert.equal(id('Bob/b.m4a'), '');
    assert.equal(sql(t.db, 'SELECT count(*) FROM tracks'), '5');
    // The album and artist of the deleted track went with it.
    assert.equal(sql(t.db, "SELECT count(*) FROM albums WHERE name = 'Second'"), '0');
    assert.equal(sql(t.db, "SELECT count(*) FROM artists WHERE name = 'Bob'"), '0');
  }
  rmSync(t.root, { recursive: true, force: true });
});

test('two releases of one name by one artist are two albums, across rescans', opts, () => {
  const root = mkdtempSync(join(tmpdir(), 'legato-scan-'));
  const music = join(root, 'music');
  const releases = [
    ['1981', 'a0e1f0c4-1981-4b1e-8000-000000000001', 2],
    ['2011', 'a0e1f0c4-2011-4b1e-8000-000000000002', 1],
  ];
  for (const [year, mbid, n] of releases) {
    mkdirSync(join(music, year), { recursive: true });
    for (let i = 1; i <= n; i++) {
      tone(join(music, year, `0${i}.flac`), 1, {
        title: `Hit ${i}`, artist: 'Queen', album: 'Greatest Hits', date: year,
        MUSICBRAINZ_ALBUMID: mbid,
      });
    }
  }
  // And one untagged copy of a song: the name alone.
  mkdirSync(join(music, 'rip'));
  tone(join(music, 'rip', '01.mp3'), 1, { title: 'Hit 1', artist: 'Queen', album: 'Greatest Hits' });
  const args = ['scan', '--music', music, '--data', join(root, 'data')];
  const db = join(root, 'data', 'legato.db');
  assert.equal(summary(legato(args, root)).added, 4);
  if (HAVE_SQLITE3) {
    const albums = () => sql(db, 'SELECT al.id, al.year, al.mbid, count(t.id) FROM albums al ' +
      'JOIN tracks t ON t.album_id = al.id GROUP BY al.id ORDER BY al.year, al.mbid');
    const first = albums();
    assert.deepEqual(first.split('\n').map((l) => l.split('|').slice(1)), [
      ['0', '', '1'],
      ['1981', releases[0][1], '2'],
      ['2011', releases[1][1], '1'],
    ]);
    assert.equal(summary(legato(args, root)).unchanged, 4);
    assert.equal(albums(), first);
  }
  rmSync(root, { recursive: true, force: true });
});

// A name in Latin-1 (an old disk, a Windows zip): "Caf\xe9.mp3" is not UTF-8.
// The file is catalogued and plays; its path is kept byte for byte, and what
// clients see of it (path, title of an untagged file, download name) is
// UTF-8 with U+FFFD for the stray byte.
test('a file name that is not UTF-8 is catalogued, and plays', opts, async () => {
  const { startServer, addUser, tokenAuth, url, get, subsonic } = await import('./lib.mjs');
  const root = mkdtempSync(join(tmpdir(), 'legato-scan-'));
  const music = join(root, 'music');
  mkdirSync(join(music, 'old'), { recursive: true });
  const plain = join(music, 'old', 'plain.mp3');
  tone(plain, 1);
  const latin1 = Buffer.concat([Buffer.from(join(music, 'old', 'Caf')), Buffer.from([0xe9]),
    Buffer.from('.mp3')]);
  renameSync(plain, latin1);
  const dirs = { music, data: join(root, 'data') };
  const s = summary(legato(['scan', '--music', music, '--data', dirs.data], root));
  assert.equal(s.added, 1);
  if (HAVE_SQLITE3) {
    assert.equal(sql(join(dirs.data, 'legato.db'), 'SELECT hex(path) FROM tracks'),
      Buffer.from('old/Caf\xe9.mp3', 'latin1').toString('hex').toUpperCase());
  }
  addUser(dirs, 'ann', 'pw-latin1');
  const srv = await startServer(dirs);
  try {
    const auth = tokenAuth('ann', 'pw-latin1');
    const r = await subsonic(url(srv.base, '/rest/search3', { ...auth, query: '', f: 'json' }));
    const song = r.body.searchResult3.song[0];
    assert.equal(song.path, 'old/Caf\ufffd.mp3');
    assert.equal(song.title, 'Caf\ufffd');
    const st = await get(url(srv.base, '/rest/stream', { ...auth, id: song.id, format: 'raw' }));
    assert.equal(st.status, 200);
    assert.ok(st.body.equals(readFileSync(latin1)), 'the file\'s bytes');
    const dl = await get(url(srv.base, '/rest/download', { ...auth, id: song.id }));
    assert.equal(dl.status, 200);
    assert.match(dl.headers.get('content-disposition'), /filename\*=UTF-8''Caf%EF%BF%BD\.mp3/);
  } finally {
    await srv.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test('broken files are named in warnings, the scan still succeeds', opts, () => {
  const t = fresh();
  const r = legato(['scan', '--music', t.music, '--data', t.data], t.root);
  summary(r);
  for (const name of ['broken/empty.mp3', 'broken/text.mp3', 'broken/cut.flac']) {
    assert.ok(r.err.includes(name), `warning for ${name} in: ${r.err}`);
  }
  rmSync(t.root, { recursive: true, force: true });
});

test('a missing music folder fails with exit status 1 and a message', () => {
  const root = mkdtempSync(join(tmpdir(), 'legato-scan-'));
  const r = legato(['scan', '--music', join(root, 'nope'), '--data', join(root, 'data')], root);
  assert.equal(r.status, 1);
  assert.match(r.err, /nope/);
  rmSync(root, { recursive: true, force: true });
});

test('cleanup', () => {
  if (base) rmSync(base, { recursive: true, force: true });
});
