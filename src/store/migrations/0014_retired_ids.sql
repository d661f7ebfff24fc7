-- SPDX-License-Identifier: MIT
-- Ids of deleted tracks, albums and artists are not given out again.
-- Clients keep ids (offline copies, queued scrobbles, a play queue, a song
-- starred offline), and an id given to another song would point them at
-- it. An INTEGER PRIMARY KEY without AUTOINCREMENT takes the largest id plus
-- one, which reuses the largest once its row is deleted; the store's upserts
-- take one above both the largest id and the largest ever deleted, kept
-- here by the triggers.
CREATE TABLE retired_ids (
    tbl    TEXT PRIMARY KEY,
    max_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER tracks_retire_id AFTER DELETE ON tracks BEGIN
    INSERT INTO retired_ids(tbl, max_id) VALUES ('tracks', old.id)
        ON CONFLICT(tbl) DO UPDATE SET max_id = max(max_id, excluded.max_id);
END;

CREATE TRIGGER albums_retire_id AFTER DELETE ON albums BEGIN
    INSERT INTO retired_ids(tbl, max_id) VALUES ('albums', old.id)
        ON CONFLICT(tbl) DO UPDATE SET max_id = max(max_id, excluded.max_id);
END;

CREATE TRIGGER artists_retire_id AFTER DELETE ON artists BEGIN
    INSERT INTO retired_ids(tbl, max_id) VALUES ('artists', old.id)
        ON CONFLICT(tbl) DO UPDATE SET max_id = max(max_id, excluded.max_id);
END;
