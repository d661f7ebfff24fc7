-- SPDX-License-Identifier: MIT
-- Subsonic user settings: an e-mail address, the Subsonic roles, whether
-- scrobbling is on and a bit rate limit. Defaults are what a household
-- member needs (stream, download, playlists, sharing, settings); roles that
-- let a user change the server or its files start off. Administrators hold
-- every role whatever these columns say (the API reports them so).
-- Also an index for getLyrics, which looks tracks up by title.

ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN settings_role INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN stream_role INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN jukebox_role INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN download_role INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN upload_role INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN playlist_role INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN cover_art_role INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN comment_role INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN podcast_role INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN share_role INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN video_conversion_role INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN scrobbling_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN max_bit_rate INTEGER NOT NULL DEFAULT 0;

UPDATE users SET settings_role = 1, stream_role = 1, jukebox_role = 1, download_role = 1,
    upload_role = 1, playlist_role = 1, cover_art_role = 1, comment_role = 1,
    podcast_role = 1, share_role = 1, video_conversion_role = 1
  WHERE is_admin <> 0;

CREATE INDEX tracks_title_nocase ON tracks(title COLLATE NOCASE);
