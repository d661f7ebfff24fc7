-- SPDX-License-Identifier: MIT
-- Playlists (made by users, or imported from M3U files in the music folder),
-- bookmarks and saved play queues. Everything belongs to a user and goes with
-- them; entries that name a track go with the track. Entry positions order a
-- list and are unique within it; a deleted track leaves a gap, so an entry's
-- index is its rank by position, never the position itself.

CREATE TABLE playlists (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: clients cache ids
    owner_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    comment         TEXT NOT NULL DEFAULT '',
    public          INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL DEFAULT (unixepoch()),
    changed_at      INTEGER NOT NULL DEFAULT (unixepoch()),
    -- The M3U file, relative to the music folder; NULL for a user's own.
    source_path     TEXT UNIQUE,
    source_mtime_ns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX playlists_owner ON playlists(owner_id);

CREATE TABLE playlist_entries (
    playlist_id INTEGER NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    PRIMARY KEY (playlist_id, position)
) WITHOUT ROWID;
-- Deleting a track must find its entries without scanning every playlist.
CREATE INDEX playlist_entries_track ON playlist_entries(track_id);

CREATE TABLE bookmarks (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    position_ms INTEGER NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL DEFAULT (unixepoch()),
    changed_at  INTEGER NOT NULL DEFAULT (unixepoch()),
    PRIMARY KEY (user_id, track_id)
) WITHOUT ROWID;
CREATE INDEX bookmarks_track ON bookmarks(track_id);

CREATE TABLE play_queue (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    current_id  INTEGER REFERENCES tracks(id) ON DELETE SET NULL,
    position_ms INTEGER NOT NULL DEFAULT 0,
    changed_at  INTEGER NOT NULL DEFAULT (unixepoch()),
    changed_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX play_queue_current ON play_queue(current_id);

CREATE TABLE play_queue_entries (
    user_id  INTEGER NOT NULL REFERENCES play_queue(user_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, position)
) WITHOUT ROWID;
CREATE INDEX play_queue_entries_track ON play_queue_entries(track_id);
