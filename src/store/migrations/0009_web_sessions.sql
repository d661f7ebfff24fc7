-- SPDX-License-Identifier: MIT
-- Browser sign-in sessions (auth/websession.c) for the device approval page:
-- the cookie's 256-bit token is kept only as its BLAKE2b-256 hash, looked up
-- by hash. Times are unix seconds; expired rows are purged on each insert.
CREATE TABLE web_sessions (
    id         INTEGER PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_s  INTEGER NOT NULL,
    expires_s  INTEGER NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions(expires_s);
