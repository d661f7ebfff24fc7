-- SPDX-License-Identifier: MIT
-- The status change time of each track's file (ns since the epoch; 0 for
-- rows made before this column, filled in by the next scan). A tagger that
-- keeps the modification time, and a file rewritten at the same size,
-- still change it: the scan compares it with size and mtime.
ALTER TABLE tracks ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;
