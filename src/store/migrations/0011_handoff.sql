-- SPDX-License-Identifier: MIT
-- Hand-offs (store_handoff.c): a play queue passed from one device to another
-- through a short-lived, single-use link. The link's 256-bit token is kept
-- only as its BLAKE2b-256 hash. current_pos is the position of the entry to
-- resume and position_ms where in it; used turns 1 when the link is claimed
-- (one UPDATE ... WHERE used = 0 AND expires_s > now, so only one claim can
-- win). Times are unix seconds. Entries go with their track (a deleted
-- track leaves a gap, read past); rows are purged some time after expiry.
CREATE TABLE handoffs (
    id          INTEGER PRIMARY KEY,
    hash        BLOB NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    current_pos INTEGER NOT NULL,
    position_ms INTEGER NOT NULL,
    created_s   INTEGER NOT NULL,
    expires_s   INTEGER NOT NULL,
    used        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX handoffs_expires ON handoffs(expires_s);
CREATE INDEX handoffs_user ON handoffs(user_id);

CREATE TABLE handoff_entries (
    handoff_id INTEGER NOT NULL REFERENCES handoffs(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    track_id   INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    PRIMARY KEY (handoff_id, position)
) WITHOUT ROWID;
CREATE INDEX handoff_entries_track ON handoff_entries(track_id);
