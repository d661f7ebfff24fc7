-- SPDX-License-Identifier: MIT
-- The first schema: catalogue (artists, albums, tracks), users and API keys,
-- and a small key/value table for server state.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE artists (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    sort_name  TEXT NOT NULL DEFAULT '',
    mbid       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);

CREATE TABLE albums (
    id          INTEGER PRIMARY KEY,
    artist_id   INTEGER NOT NULL REFERENCES artists(id),
    name        TEXT NOT NULL,
    year        INTEGER NOT NULL DEFAULT 0,
    genre       TEXT NOT NULL DEFAULT '',
    compilation INTEGER NOT NULL DEFAULT 0,
    mbid        TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL DEFAULT (unixepoch()),
    UNIQUE (artist_id, name)
);

CREATE TABLE tracks (
    id                 INTEGER PRIMARY KEY,
    path               TEXT NOT NULL UNIQUE,
    size               INTEGER NOT NULL,
    mtime_ns           INTEGER NOT NULL,
    album_id           INTEGER NOT NULL REFERENCES albums(id),
    title              TEXT NOT NULL,
    artist             TEXT NOT NULL DEFAULT '',
    album_artist       TEXT NOT NULL DEFAULT '',
    album              TEXT NOT NULL DEFAULT '',
    genre              TEXT NOT NULL DEFAULT '',
    composer           TEXT NOT NULL DEFAULT '',
    track_no           INTEGER NOT NULL DEFAULT 0,
    disc_no            INTEGER NOT NULL DEFAULT 0,
    year               INTEGER NOT NULL DEFAULT 0,
    compilation        INTEGER NOT NULL DEFAULT 0,
    duration_ms        INTEGER NOT NULL DEFAULT 0,
    bitrate_kbps       INTEGER NOT NULL DEFAULT 0,
    sample_rate        INTEGER NOT NULL DEFAULT 0,
    channels           INTEGER NOT NULL DEFAULT 0,
    bits_per_sample    INTEGER NOT NULL DEFAULT 0,
    codec              TEXT NOT NULL DEFAULT '',
    suffix             TEXT NOT NULL DEFAULT '',
    content_type       TEXT NOT NULL DEFAULT '',
    mb_track_id        TEXT NOT NULL DEFAULT '',
    mb_album_id        TEXT NOT NULL DEFAULT '',
    mb_artist_id       TEXT NOT NULL DEFAULT '',
    mb_album_artist_id TEXT NOT NULL DEFAULT '',
    has_picture        INTEGER NOT NULL DEFAULT 0,
    cover_path         TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL DEFAULT (unixepoch()),
    updated_at         INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX tracks_album ON tracks(album_id);

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    pass_hash  TEXT NOT NULL,
    pass_box   BLOB NOT NULL,
    is_admin   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_hash   BLOB NOT NULL UNIQUE,
    label      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);
