-- SPDX-License-Identifier: MIT
-- Shares (Subsonic createShare): public links to songs, albums and
-- playlists that anyone holding the link may play. The link's token is kept
-- twice and never in clear: its BLAKE2b-256 hash, by which a visit finds the
-- share through the unique index, and a copy sealed under a key derived from
-- DATA/secret.key (which is not in the database), so that the owner can be
-- shown the URL again. Times are unix milliseconds; expires_ms and
-- last_visited_ms are NULL for "never".
--
-- A share goes with its owner. Each entry names exactly one song, album or
-- playlist and goes with it; albums and playlists are expanded to their
-- tracks when read, so a share of a playlist follows the playlist's changes.

CREATE TABLE shares (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: clients cache ids
    owner_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash      BLOB NOT NULL UNIQUE,
    token_box       BLOB NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    created_ms      INTEGER NOT NULL,
    expires_ms      INTEGER,
    last_visited_ms INTEGER,
    visit_count     INTEGER NOT NULL DEFAULT 0,
    allow_download  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX shares_owner ON shares(owner_id, id);

CREATE TABLE share_entries (
    share_id    INTEGER NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    track_id    INTEGER REFERENCES tracks(id) ON DELETE CASCADE,
    album_id    INTEGER REFERENCES albums(id) ON DELETE CASCADE,
    playlist_id INTEGER REFERENCES playlists(id) ON DELETE CASCADE,
    CHECK ((track_id IS NOT NULL) + (album_id IS NOT NULL) + (playlist_id IS NOT NULL) = 1),
    PRIMARY KEY (share_id, position)
) WITHOUT ROWID;
-- Deleting a track, album or playlist must find its entries without a scan.
CREATE INDEX share_entries_track ON share_entries(track_id) WHERE track_id IS NOT NULL;
CREATE INDEX share_entries_album ON share_entries(album_id) WHERE album_id IS NOT NULL;
CREATE INDEX share_entries_playlist ON share_entries(playlist_id) WHERE playlist_id IS NOT NULL;
