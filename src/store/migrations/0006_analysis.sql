-- SPDX-License-Identifier: MIT
-- Audio analysis (library/analysis_bg.c): loudness and peaks of each track
-- and of each album, for ReplayGain and waveforms. A track's row records the
-- file's size and mtime and the DSP version it was measured with, so a
-- changed file or a new formula makes it due again; a failed analysis keeps
-- its error and is not retried until then. Energies are float64
-- little-endian arrays (EBU R128 gating blocks and short-term windows), so
-- album values are computed from them without decoding audio again. The
-- waveform is N peak bytes then N RMS bytes (0..255 = 0..full scale).
CREATE TABLE track_analysis (
    track_id           INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    dsp_version        INTEGER NOT NULL,
    size               INTEGER NOT NULL,
    mtime_ns           INTEGER NOT NULL,
    error              TEXT,
    integrated_lufs    REAL,
    range_lu           REAL,
    true_peak_dbtp     REAL,
    sample_peak_dbfs   REAL,
    block_energies     BLOB,
    shortterm_energies BLOB,
    waveform           BLOB,
    analysed_at        INTEGER NOT NULL DEFAULT (unixepoch())
);

CREATE TABLE album_analysis (
    album_id         INTEGER PRIMARY KEY REFERENCES albums(id) ON DELETE CASCADE,
    integrated_lufs  REAL,
    range_lu         REAL,
    true_peak_dbtp   REAL,
    sample_peak_dbfs REAL,
    analysed_at      INTEGER NOT NULL DEFAULT (unixepoch())
);
