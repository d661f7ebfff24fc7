-- SPDX-License-Identifier: MIT
-- The catalogue as the Subsonic API reads it: per-user annotations (stars,
-- ratings, plays), now-playing entries, sort names, album totals and genre
-- counts kept by triggers (so that lists never aggregate the whole library),
-- the indexes behind album lists, and full-text indexes for search that
-- triggers keep in step with tracks, albums and artists.
--
-- Invariants the triggers keep:
--   * albums.song_count / duration_ms are the count and summed duration of the
--     album's tracks; genres.song_count / album_count count tracks and albums
--     with that genre (a genre row goes when both reach 0).
--   * artists.sort_name is the name without a leading article (The El La Los
--     Las Le Les); albums.artist_sort copies its artist's sort_name.
--   * Annotations of a deleted track, album or artist go with it.

CREATE TABLE annotations (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type       TEXT NOT NULL CHECK (type IN ('song', 'album', 'artist')),
    item_id    INTEGER NOT NULL,
    starred_at INTEGER NOT NULL DEFAULT 0, -- unix s, 0 = not starred
    rating     INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
    play_count INTEGER NOT NULL DEFAULT 0,
    played_at  INTEGER NOT NULL DEFAULT 0, -- unix s, 0 = never
    PRIMARY KEY (user_id, type, item_id)
) WITHOUT ROWID;
CREATE INDEX annotations_item ON annotations(type, item_id);
CREATE INDEX annotations_starred ON annotations(user_id, type, starred_at) WHERE starred_at > 0;
CREATE INDEX annotations_rated ON annotations(user_id, type, rating) WHERE rating > 0;
CREATE INDEX annotations_recent ON annotations(user_id, type, played_at) WHERE played_at > 0;
CREATE INDEX annotations_frequent ON annotations(user_id, type, play_count) WHERE play_count > 0;

-- What each player of each user reported last (scrobble submission=false).
CREATE TABLE now_playing (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    player_name TEXT NOT NULL,
    track_id    INTEGER NOT NULL,
    started_at  INTEGER NOT NULL, -- unix s
    expires_at  INTEGER NOT NULL, -- unix s: start + duration + a margin
    UNIQUE (user_id, player_name)
);
CREATE INDEX now_playing_expires ON now_playing(expires_at);

CREATE TABLE genres (
    name        TEXT PRIMARY KEY,
    song_count  INTEGER NOT NULL DEFAULT 0,
    album_count INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

ALTER TABLE albums ADD COLUMN artist_sort TEXT NOT NULL DEFAULT '';
ALTER TABLE albums ADD COLUMN song_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE albums ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;

-- Album lists (getAlbumList2 types) and browsing.
CREATE INDEX albums_name ON albums(name COLLATE NOCASE, id);
CREATE INDEX albums_artist_sort ON albums(artist_sort COLLATE NOCASE, name COLLATE NOCASE, id);
CREATE INDEX albums_year ON albums(year, name COLLATE NOCASE, id);
CREATE INDEX albums_created ON albums(created_at, id);
CREATE INDEX albums_genre ON albums(genre, name COLLATE NOCASE, id);
CREATE INDEX artists_sort ON artists(sort_name COLLATE NOCASE, id);
-- An album's songs in play order; also serves every lookup by album_id.
DROP INDEX tracks_album;
CREATE INDEX tracks_album ON tracks(album_id, disc_no, track_no, id);
CREATE INDEX tracks_genre ON tracks(genre, album_id);
-- The ids alone, in order: paging through every song (search3 with an empty
-- query, as clients sync) skips offsets in this small index, not the table.
CREATE INDEX tracks_ids ON tracks(id);
CREATE INDEX tracks_artist ON tracks(artist);

-- Sort names.
CREATE TRIGGER artists_sort_ai AFTER INSERT ON artists BEGIN
    UPDATE artists SET sort_name = CASE
        WHEN name LIKE 'the %' THEN substr(name, 5)
        WHEN name LIKE 'el %' THEN substr(name, 4)
        WHEN name LIKE 'la %' THEN substr(name, 4)
        WHEN name LIKE 'los %' THEN substr(name, 5)
        WHEN name LIKE 'las %' THEN substr(name, 5)
        WHEN name LIKE 'le %' THEN substr(name, 4)
        WHEN name LIKE 'les %' THEN substr(name, 5)
        ELSE name END
    WHERE id = NEW.id AND sort_name = '';
END;
CREATE TRIGGER albums_sort_ai AFTER INSERT ON albums BEGIN
    UPDATE albums SET artist_sort = (SELECT sort_name FROM artists WHERE id = NEW.artist_id)
    WHERE id = NEW.id;
END;

-- Album totals and genre counts.
CREATE TRIGGER tracks_totals_ai AFTER INSERT ON tracks BEGIN
    UPDATE albums SET song_count = song_count + 1, duration_ms = duration_ms + NEW.duration_ms
    WHERE id = NEW.album_id;
    INSERT OR IGNORE INTO genres(name) SELECT NEW.genre WHERE NEW.genre <> '';
    UPDATE genres SET song_count = song_count + 1 WHERE name = NEW.genre;
END;
CREATE TRIGGER tracks_totals_ad AFTER DELETE ON tracks BEGIN
    UPDATE albums SET song_count = song_count - 1, duration_ms = duration_ms - OLD.duration_ms
    WHERE id = OLD.album_id;
    UPDATE genres SET song_count = song_count - 1 WHERE name = OLD.genre;
    DELETE FROM annotations WHERE type = 'song' AND item_id = OLD.id;
    DELETE FROM now_playing WHERE track_id = OLD.id;
END;
CREATE TRIGGER tracks_totals_au AFTER UPDATE OF album_id, duration_ms, genre ON tracks
WHEN OLD.album_id IS NOT NEW.album_id OR OLD.duration_ms IS NOT NEW.duration_ms
  OR OLD.genre IS NOT NEW.genre BEGIN
    UPDATE albums SET song_count = song_count - 1, duration_ms = duration_ms - OLD.duration_ms
    WHERE id = OLD.album_id;
    UPDATE albums SET song_count = song_count + 1, duration_ms = duration_ms + NEW.duration_ms
    WHERE id = NEW.album_id;
    UPDATE genres SET song_count = song_count - 1 WHERE name = OLD.genre;
    INSERT OR IGNORE INTO genres(name) SELECT NEW.genre WHERE NEW.genre <> '';
    UPDATE genres SET song_count = song_count + 1 WHERE name = NEW.genre;
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
CREATE TRIGGER genres_gone_au AFTER UPDATE ON genres
WHEN NEW.song_count <= 0 AND NEW.album_count <= 0 BEGIN
    DELETE FROM genres WHERE name = NEW.name;
END;
CREATE TRIGGER artists_gone_ad AFTER DELETE ON artists BEGIN
    DELETE FROM annotations WHERE type = 'artist' AND item_id = OLD.id;
END;

-- Full-text search. Words match by prefix, case and accents ignored.
CREATE VIRTUAL TABLE tracks_fts USING fts5(title, artist, album, content = 'tracks',
    content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3');
CREATE VIRTUAL TABLE artists_fts USING fts5(name, content = 'artists', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3');
-- Albums are found by their name and their artist's name; neither changes
-- for a row (both are part of its identity), but the triggers handle it.
CREATE VIRTUAL TABLE albums_fts USING fts5(name, artist, content = '',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3');

CREATE TRIGGER tracks_fts_ai AFTER INSERT ON tracks BEGIN
    INSERT INTO tracks_fts(rowid, title, artist, album)
    VALUES (NEW.id, NEW.title, NEW.artist, NEW.album);
END;
CREATE TRIGGER tracks_fts_ad AFTER DELETE ON tracks BEGIN
    INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, album)
    VALUES ('delete', OLD.id, OLD.title, OLD.artist, OLD.album);
END;
CREATE TRIGGER tracks_fts_au AFTER UPDATE OF title, artist, album ON tracks
WHEN OLD.title IS NOT NEW.title OR OLD.artist IS NOT NEW.artist
  OR OLD.album IS NOT NEW.album BEGIN
    INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, album)
    VALUES ('delete', OLD.id, OLD.title, OLD.artist, OLD.album);
    INSERT INTO tracks_fts(rowid, title, artist, album)
    VALUES (NEW.id, NEW.title, NEW.artist, NEW.album);
END;

CREATE TRIGGER artists_fts_ai AFTER INSERT ON artists BEGIN
    INSERT INTO artists_fts(rowid, name) VALUES (NEW.id, NEW.name);
END;
CREATE TRIGGER artists_fts_ad AFTER DELETE ON artists BEGIN
    INSERT INTO artists_fts(artists_fts, rowid, name) VALUES ('delete', OLD.id, OLD.name);
END;
CREATE TRIGGER artists_fts_au AFTER UPDATE OF name ON artists
WHEN OLD.name IS NOT NEW.name BEGIN
    INSERT INTO artists_fts(artists_fts, rowid, name) VALUES ('delete', OLD.id, OLD.name);
    INSERT INTO artists_fts(rowid, name) VALUES (NEW.id, NEW.name);
    INSERT INTO albums_fts(albums_fts, rowid, name, artist)
    SELECT 'delete', id, name, OLD.name FROM albums WHERE artist_id = NEW.id;
    INSERT INTO albums_fts(rowid, name, artist)
    SELECT id, name, NEW.name FROM albums WHERE artist_id = NEW.id;
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

-- Bring a catalogue scanned before this migration up to the same state.
UPDATE artists SET sort_name = CASE
    WHEN name LIKE 'the %' THEN substr(name, 5)
    WHEN name LIKE 'el %' THEN substr(name, 4)
    WHEN name LIKE 'la %' THEN substr(name, 4)
    WHEN name LIKE 'los %' THEN substr(name, 5)
    WHEN name LIKE 'las %' THEN substr(name, 5)
    WHEN name LIKE 'le %' THEN substr(name, 4)
    WHEN name LIKE 'les %' THEN substr(name, 5)
    ELSE name END
WHERE sort_name = '';
UPDATE albums SET artist_sort = (SELECT sort_name FROM artists WHERE id = albums.artist_id),
    song_count = (SELECT count(*) FROM tracks WHERE album_id = albums.id),
    duration_ms = (SELECT coalesce(sum(duration_ms), 0) FROM tracks WHERE album_id = albums.id);
INSERT INTO genres(name, song_count)
    SELECT genre, count(*) FROM tracks WHERE genre <> '' GROUP BY genre;
INSERT INTO genres(name, album_count)
    SELECT genre, count(*) FROM albums WHERE genre <> '' GROUP BY genre
    ON CONFLICT(name) DO UPDATE SET album_count = excluded.album_count;
INSERT INTO tracks_fts(tracks_fts) VALUES ('rebuild');
INSERT INTO artists_fts(artists_fts) VALUES ('rebuild');
INSERT INTO albums_fts(rowid, name, artist)
    SELECT al.id, al.name, ar.name FROM albums al JOIN artists ar ON ar.id = al.artist_id;
