-- SPDX-License-Identifier: MIT
-- Albums of the same name by the same album artist are told apart by their
-- MusicBrainz release (the tracks' MusicBrainz album id): two releases
-- called "Greatest Hits" are two albums, and tracks without the tag group by
-- name as before. The release joins the album's key, and SQLite cannot
-- change a UNIQUE constraint, so the table is rebuilt with the same ids,
-- rows, indexes and triggers. Migrations run with foreign keys off and
-- checked before they commit (store_sqlite.c): dropping the old table
-- touches no row that refers to an album, and fires no trigger.
CREATE TABLE albums_new (
    id          INTEGER PRIMARY KEY,
    artist_id   INTEGER NOT NULL REFERENCES artists(id),
    name        TEXT NOT NULL,
    year        INTEGER NOT NULL DEFAULT 0,
    genre       TEXT NOT NULL DEFAULT '',
    compilation INTEGER NOT NULL DEFAULT 0,
    mbid        TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL DEFAULT (unixepoch()),
    artist_sort TEXT NOT NULL DEFAULT '',
    song_count  INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    release     TEXT NOT NULL DEFAULT '',
    UNIQUE (artist_id, name, release)
);

-- An album keeps its id and takes the release most of its tracks carry
-- (ties: the first in text order).
INSERT INTO albums_new(id, artist_id, name, year, genre, compilation, mbid, created_at,
                       artist_sort, song_count, duration_ms, release)
SELECT id, artist_id, name, year, genre, compilation, mbid, created_at, artist_sort,
       song_count, duration_ms,
       coalesce((SELECT t.mb_album_id FROM tracks t
                 WHERE t.album_id = albums.id AND t.mb_album_id <> ''
                 GROUP BY t.mb_album_id ORDER BY count(*) DESC, t.mb_album_id LIMIT 1), '')
FROM albums;

-- Its tracks of another release, or of none beside tagged ones, are probed
-- again by the next scan (a status change time no file has; size and mtime
-- stay, so a file moved meanwhile is still found as moved), which files each
-- under its own album; they keep their ids.
UPDATE tracks SET ctime_ns = -1
WHERE mb_album_id <> (SELECT release FROM albums_new WHERE albums_new.id = tracks.album_id);

-- The legacy rename leaves the other tables' triggers as they are (they name
-- "albums", which is the new table once renamed) instead of checking them
-- while no table of that name exists.
DROP TABLE albums;
PRAGMA legacy_alter_table = ON;
ALTER TABLE albums_new RENAME TO albums;
PRAGMA legacy_alter_table = OFF;

CREATE INDEX albums_name ON albums(name COLLATE NOCASE, id);
CREATE INDEX albums_artist_sort ON albums(artist_sort COLLATE NOCASE, name COLLATE NOCASE, id);
CREATE INDEX albums_year ON albums(year, name COLLATE NOCASE, id);
CREATE INDEX albums_created ON albums(created_at, id);
CREATE INDEX albums_genre ON albums(genre, name COLLATE NOCASE, id);

-- An album's loudness and peaks are measured over its tracks: when one
-- leaves or joins it (a retag, or a release told apart above), the values
-- stored are no longer the album's. They go, and the background analysis
-- measures them again from the tracks' stored energies, without decoding.
-- (A track added to an album is measured, and its album with it, anyway.)
CREATE TRIGGER tracks_album_analysis_au AFTER UPDATE OF album_id ON tracks
WHEN OLD.album_id IS NOT NEW.album_id BEGIN
    DELETE FROM album_analysis WHERE album_id IN (OLD.album_id, NEW.album_id);
END;
CREATE TRIGGER tracks_album_analysis_ad AFTER DELETE ON tracks BEGIN
    DELETE FROM album_analysis WHERE album_id = OLD.album_id;
END;

-- The triggers on albums of 0002_catalog.sql and 0014_retired_ids.sql.
CREATE TRIGGER albums_sort_ai AFTER INSERT ON albums BEGIN
    UPDATE albums SET artist_sort = (SELECT sort_name FROM artists WHERE id = NEW.artist_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER albums_genre_ai AFTER INSERT ON albums BEGIN
    INSERT OR IGNORE INTO genres(name) SELECT NEW.genre WHERE NEW.genre <> '';
    UPDATE genres SET album_count = album_count + 1 WHERE name = NEW.genre;
END;
CREATE TRIGGER albums_genre_ad AFTER DELETE ON albums BEGIN
    UPDATE genres SET album_count = album_count - 1 WHERE name = OLD.genre;
    DELETE FROM annotations WHERE type = 'album' AND item_id = OLD.id;
END;
CREATE TRIGGER albums_genre_au AFTER UPDATE OF genre ON albums
WHEN OLD.genre IS NOT NEW.genre BEGIN
    UPDATE genres SET album_count = album_count - 1 WHERE name = OLD.genre;
    INSERT OR IGNORE INTO genres(name) SELECT NEW.genre WHERE NEW.genre <> '';
    UPDATE genres SET album_count = album_count + 1 WHERE name = NEW.genre;
END;
CREATE TRIGGER albums_fts_ai AFTER INSERT ON albums BEGIN
    INSERT INTO albums_fts(rowid, name, artist)
    VALUES (NEW.id, NEW.name, (SELECT name FROM artists WHERE id = NEW.artist_id));
END;
CREATE TRIGGER albums_fts_ad AFTER DELETE ON albums BEGIN
    INSERT INTO albums_fts(albums_fts, rowid, name, artist)
    VALUES ('delete', OLD.id, OLD.name, (SELECT name FROM artists WHERE id = OLD.artist_id));
END;
CREATE TRIGGER albums_fts_au AFTER UPDATE OF name, artist_id ON albums
WHEN OLD.name IS NOT NEW.name OR OLD.artist_id IS NOT NEW.artist_id BEGIN
    INSERT INTO albums_fts(albums_fts, rowid, name, artist)
    VALUES ('delete', OLD.id, OLD.name, (SELECT name FROM artists WHERE id = OLD.artist_id));
    INSERT INTO albums_fts(rowid, name, artist)
    VALUES (NEW.id, NEW.name, (SELECT name FROM artists WHERE id = NEW.artist_id));
    UPDATE albums SET artist_sort = (SELECT sort_name FROM artists WHERE id = NEW.artist_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER albums_retire_id AFTER DELETE ON albums BEGIN
    INSERT INTO retired_ids(tbl, max_id) VALUES ('albums', old.id)
        ON CONFLICT(tbl) DO UPDATE SET max_id = max(max_id, excluded.max_id);
END;
