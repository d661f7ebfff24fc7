-- SPDX-License-Identifier: MIT
-- Per-user playback settings (store_players.c). users.normalize is the
-- loudness normalisation /rest/stream applies when a request does not say
-- (off, track or album ReplayGain). players are the Subsonic clients a user
-- streams with, named by their `c` parameter (at most 64 bytes of printable
-- UTF-8, checked by the store): max_bit_rate is that player's limit in
-- kbit/s (0: none), last_seen the unix second of its latest stream (NULL:
-- never, a limit set before first use). A user keeps at most 100 players;
-- the store drops the least recently seen ones without a limit first.
ALTER TABLE users ADD COLUMN normalize TEXT NOT NULL DEFAULT 'off'
    CHECK (normalize IN ('off', 'track', 'album'));

CREATE TABLE players (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client       TEXT NOT NULL,
    max_bit_rate INTEGER NOT NULL DEFAULT 0 CHECK (max_bit_rate BETWEEN 0 AND 10000),
    last_seen    INTEGER,
    PRIMARY KEY (user_id, client)
) WITHOUT ROWID;
