-- SPDX-License-Identifier: MIT
-- OAuth 2.0 Device Authorization Grant (RFC 8628, auth/device.c). A row of
-- oauth_devices is one authorization request: the device code and the QR
-- handle are kept as BLAKE2b-256 hashes only; the user code is kept as typed
-- by nobody (8 letters, normalised) because the approval page shows it.
-- status: 0 pending, 1 approved, 2 denied, 3 used (tokens issued). Tokens
-- (kind 1 access, 2 refresh) are hashes too; a family is the device row they
-- came from, so reuse of a rotated refresh token revokes the whole family.
-- Times are unix milliseconds.
CREATE TABLE oauth_devices (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash    BLOB NOT NULL UNIQUE,
    handle_hash  BLOB NOT NULL UNIQUE,
    user_code    TEXT NOT NULL UNIQUE,
    client_id    TEXT NOT NULL,
    scope        TEXT NOT NULL DEFAULT '',
    name         TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    interval_s   INTEGER NOT NULL,
    last_poll_ms INTEGER NOT NULL DEFAULT 0,
    status       INTEGER NOT NULL DEFAULT 0,
    user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX oauth_devices_expires ON oauth_devices(expires_ms);

CREATE TABLE oauth_tokens (
    id         INTEGER PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    kind       INTEGER NOT NULL,
    family     INTEGER NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL DEFAULT '',
    expires_ms INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX oauth_tokens_family ON oauth_tokens(family);
