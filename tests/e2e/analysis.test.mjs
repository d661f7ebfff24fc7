// SPDX-License-Identifier: MIT
// Background analysis as `legato serve` runs it: after the first scan of a
// generated library every track gets loudness, peaks, energies and a
// waveform, every album its values, progress and a summary are logged, and
// a restart finds nothing left to do. Values are read back with the sqlite3
// command line and checked against the tones' known levels. Skipped without
// ffmpeg or sqlite3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { addUser, makeAudio, sql, startServer, tmpDir, waitFor, cleanup } from './lib.mjs';

const HAVE = spawnSync('ffmpeg', ['-version']).status === 0 &&
  spawnSync('sqlite3', ['-version']).status === 0;

test('serve analyses new tracks in the background', { skip: !HAVE && 'needs ffmpeg and sqlite3' },
  async () => {
    const root = tmpDir('legato-analysis-');
    const dirs = { music: join(root, 'music'), data: join(root, 'data') };
    const db = join(dirs.data, 'legato.db');
    const tags = (album, title) => ({ artist: 'Ann', album, title });
    makeAudio(join(dirs.music, 'A/1.flac'), { seconds: 3, freq: 440, tags: tags('A', 'One') });
    makeAudio(join(dirs.music, 'A/2.mp3'), { seconds: 2, freq: 660, tags: tags('A', 'Two') });
    makeAudio(join(dirs.music, 'B/1.flac'), { seconds: 2, freq: 220, tags: tags('B', 'Three') });
    addUser(dirs, 'ann', 'pw');
    let srv = await startServer(dirs);
    try {
      await waitFor(() => {
        try {
          return sql(db, 'SELECT count(*) FROM track_analysis') === '3' &&
            sql(db, 'SELECT count(*) FROM album_analysis') === '2';
        } catch {
          return false;
        }
      }, { timeoutMs: 60000, intervalMs: 200, what: 'the analysis of 3 tracks' });
      const rows = sql(db, 'SELECT error IS NULL, integrated_lufs, true_peak_dbtp, ' +
        'length(block_energies) % 8, length(waveform) FROM track_analysis ORDER BY track_id')
        .split('\n').map((l) => l.split('|'));
      for (const [okRow, lufs, tp, rem, wf] of rows) {
        assert.equal(okRow, '1');
        // A sine at amplitude 1/8 (lavfi's default): about -21 LUFS mono.
        assert.ok(Number(lufs) > -30 && Number(lufs) < -15, `lufs ${lufs}`);
        assert.ok(Number(tp) > -25 && Number(tp) < 0, `true peak ${tp}`);
        assert.equal(rem, '0');
        assert.equal(wf, '400');
      }
      const albums = sql(db, 'SELECT integrated_lufs, true_peak_dbtp FROM album_analysis')
        .split('\n').map((l) => l.split('|').map(Number));
      for (const [lufs, tp] of albums) {
        assert.ok(lufs > -30 && lufs < -15 && tp < 0, `album ${lufs} ${tp}`);
      }
      // The Subsonic API reports them as ReplayGain 2.0 (-18 LUFS target).
      const [id, lufs, tp, albumLufs] = sql(db, 'SELECT t.track_id, t.integrated_lufs, ' +
        't.true_peak_dbtp, a.integrated_lufs FROM track_analysis t JOIN tracks tr ON tr.id = ' +
        't.track_id JOIN album_analysis a ON a.album_id = tr.album_id LIMIT 1').split('|').map(Number);
      const r = await fetch(`${srv.base}/rest/getSong?id=${id}&u=ann&p=pw&v=1.16.1&c=e2e&f=json`);
      const rg = (await r.json())['subsonic-response'].song.replayGain;
      assert.ok(Math.abs(rg.trackGain - (-18 - lufs)) <= 0.006, JSON.stringify(rg));
      assert.ok(Math.abs(rg.albumGain - (-18 - albumLufs)) <= 0.006, JSON.stringify(rg));
      assert.ok(Math.abs(rg.trackPeak - 10 ** (tp / 20)) <= 1e-6, JSON.stringify(rg));
      assert.ok(rg.albumPeak >= rg.trackPeak - 1e-9, JSON.stringify(rg));
      await waitFor(() => /analysis: 3 analysed, 0 failed/.test(srv.log()),
        { what: 'the summary line' });
      assert.match(srv.log(), /analysis: 3 tracks to analyse/);
      await srv.stop();
      // A configured target moves the gains, not the measurements.
      srv = await startServer(dirs, ['--replaygain-target', '-14']);
      await waitFor(() => /scan of .*: 3 files/.test(srv.log()), { what: 'the rescan' });
      const r14 = await fetch(`${srv.base}/rest/getSong?id=${id}&u=ann&p=pw&v=1.16.1&c=e2e&f=json`);
      const rg14 = (await r14.json())['subsonic-response'].song.replayGain;
      assert.ok(Math.abs(rg14.trackGain - (-14 - lufs)) <= 0.006, JSON.stringify(rg14));
      await new Promise((res) => setTimeout(res, 300));
      assert.doesNotMatch(srv.log(), /tracks to analyse/);
    } finally {
      await srv.stop();
      cleanup(root);
    }
  });
