-- SPDX-License-Identifier: MIT
-- Device sessions (auth/device.c): each oauth_devices row is also the session
-- of the device that asked for it. state: 0 idle, 1 scanning, 2 validating,
-- 3 ready, 4 playing, 5 checking, 6 ended; a row is born scanning (its code
-- is issued on insert). Every change of state is kept in device_moves with
-- its time (unix ms), written by triggers so that a move and its record can
-- never part. last_seen_ms is the time of the latest move or heartbeat.
ALTER TABLE oauth_devices ADD COLUMN state INTEGER NOT NULL DEFAULT 1;
ALTER TABLE oauth_devices ADD COLUMN last_seen_ms INTEGER NOT NULL DEFAULT 0;

CREATE TABLE device_moves (
    id        INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES oauth_devices(id) ON DELETE CASCADE,
    state     INTEGER NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX device_moves_device ON device_moves(device_id, id);
CREATE INDEX oauth_devices_user ON oauth_devices(user_id);

CREATE TRIGGER device_born AFTER INSERT ON oauth_devices BEGIN
    INSERT INTO device_moves (device_id, state, at_ms) VALUES (new.id, 0, new.created_ms);
    INSERT INTO device_moves (device_id, state, at_ms) VALUES (new.id, new.state, new.created_ms);
END;
CREATE TRIGGER device_moved AFTER UPDATE OF state ON oauth_devices
WHEN new.state <> old.state BEGIN
    INSERT INTO device_moves (device_id, state, at_ms) VALUES (new.id, new.state, new.last_seen_ms);
END;
