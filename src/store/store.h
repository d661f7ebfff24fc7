/* SPDX-License-Identifier: MIT */
/*
 * The store: legato's catalogue and user data in SQLite (WAL, foreign keys on,
 * synchronous=FULL so that what users write is durable once acknowledged).
 * Numbered migrations in src/store/migrations/NNNN_name.sql are embedded in the
 * binary and applied in order at open, each in its own transaction.
 *
 * Threads: one struct lg_store is shared by all threads. Each thread that
 * calls into it gets its own SQLite connection, opened on first use and closed
 * when the thread exits (or at lg_store_close for the opening thread), so
 * readers never block each other. Transactions (lg_store_begin/commit) belong
 * to the calling thread's connection.
 *
 * Every function returns 0 (or a count) on success, LG_ENOTFOUND, LG_EEXIST or
 * LG_ESTORE (details logged under "store") on failure. Out-params are written
 * only on success; structs filled by the store own their strings and are
 * released with their _free function.
 */
#ifndef LG_STORE_STORE_H
#define LG_STORE_STORE_H

#include <stdbool.h>

#include "core/common.h"

struct lg_store;

/* Opens (creating if needed, with its parent folder) the database at path and
 * migrates it to the current schema. Caller owns *out (lg_store_close). */
int lg_store_open(const char *path, struct lg_store **out) LG_MUST_CHECK;
/* Closes every connection. Other threads must have stopped using it. */
void lg_store_close(struct lg_store *s);
/* The schema version after migrations (number of the last migration). */
int lg_store_schema_version(struct lg_store *s);
/* The number of migrations compiled in. */
int lg_store_migrations_count(void);
/* A number that moves on whenever the database may have changed: after each
 * commit of this process (any connection), and when the calling thread's
 * connection sees another process's commit. What was read after a call that
 * returned G reflects every change made before it, so an answer computed
 * from reads that follow the call is current for as long as the number
 * stays G. -ENOTSUP when the database is not in WAL mode (no commit is
 * reported then). */
int lg_store_generation(struct lg_store *s, uint64_t *out) LG_MUST_CHECK;

/* Transactions on the calling thread's connection. begin is BEGIN IMMEDIATE:
 * it waits for other writers (busy timeout) rather than failing later. */
int lg_store_begin(struct lg_store *s) LG_MUST_CHECK;
int lg_store_commit(struct lg_store *s) LG_MUST_CHECK;
void lg_store_rollback(struct lg_store *s);

/* --- key/value metadata (small server state such as the last scan time) --- */
int lg_store_meta_get(struct lg_store *s, const char *key, char **out) LG_MUST_CHECK;
int lg_store_meta_set(struct lg_store *s, const char *key, const char *value) LG_MUST_CHECK;

/* --- tracks --- */

struct lg_track {
    int64_t id;
    char *path;         /* relative to the music folder, '/'-separated */
    int64_t size;       /* bytes */
    int64_t mtime_ns;   /* modification time, ns since the epoch */
    int64_t ctime_ns;   /* status change time, ns (0: not known) */
    char *title;        /* never NULL once stored: file name without suffix when untagged */
    char *artist;       /* track artist as tagged, "" when untagged */
    char *album_artist; /* as tagged, "" when untagged */
    char *album;        /* as tagged, "" when untagged */
    char *genre;
    char *composer;
    int track_no; /* 0 = unknown */
    int disc_no;  /* 0 = unknown */
    int year;     /* 0 = unknown */
    int compilation;
    int64_t duration_ms;
    int bitrate_kbps;
    int sample_rate;
    int channels;
    int bits_per_sample; /* 0 for lossy codecs */
    char *codec;         /* "mp3", "flac", "vorbis", "opus", "aac", ... */
    char *suffix;        /* lowercase file suffix without the dot */
    char *content_type;  /* e.g. "audio/mpeg" */
    char *mb_track_id;   /* MusicBrainz recording id or "" */
    char *mb_album_id;
    char *mb_artist_id;
    char *mb_album_artist_id;
    int has_picture;  /* embedded cover art */
    char *cover_path; /* sidecar image relative to the music folder, or "" */
    /* Filled by the store on read: */
    int64_t album_id;
    int64_t artist_id;  /* the album's artist (album artist, else artist) */
    int64_t created_at; /* seconds since the epoch, first seen */
};

/* Releases the strings a track owns (not the struct). */
void lg_track_free(struct lg_track *t);

int lg_store_track_get(struct lg_store *s, int64_t id, struct lg_track *out) LG_MUST_CHECK;

/* Inserts or updates the track with t->path (ids stay stable for a path),
 * creating or finding its artist and album. Grouping: the album belongs to the
 * album artist, else the track artist, else "Unknown Artist"; compilations
 * without an album artist go to "Various Artists". Writes the id to *id_out
 * when not NULL. Call inside a transaction for speed. */
int lg_store_track_upsert(struct lg_store *s, const struct lg_track *t,
                          int64_t *id_out) LG_MUST_CHECK;
int lg_store_track_delete(struct lg_store *s, int64_t id) LG_MUST_CHECK;
/* Moves track id to path (its file was moved or renamed): the id, and all
 * that refers to it, stay. path must be no other track's. */
int lg_store_track_rename(struct lg_store *s, int64_t id, const char *path) LG_MUST_CHECK;
/* Changes the sidecar cover of a track whose file did not change. */
int lg_store_track_set_cover(struct lg_store *s, int64_t id, const char *cover_path) LG_MUST_CHECK;
/* Records the status change time of a track whose file did not change (a
 * row from before the column). */
int lg_store_track_set_ctime(struct lg_store *s, int64_t id, int64_t ctime_ns) LG_MUST_CHECK;

/* Calls fn for each known file (id, path, size, mtime_ns, ctime_ns,
 * cover_path), in no set order. The strings are valid during the call
 * only. A non-zero return from fn stops the iteration and is returned. */
typedef int lg_store_file_fn(void *ud, int64_t id, const char *path, int64_t size, int64_t mtime_ns,
                             int64_t ctime_ns, const char *cover_path);
int lg_store_files_each(struct lg_store *s, lg_store_file_fn *fn, void *ud) LG_MUST_CHECK;

/* Deletes artists and albums left without tracks, clears the compilation
 * flag of albums none of whose tracks has it (a retag), and sets each
 * album's genre, year and MusicBrainz id from its tracks. Returns how many
 * rows went or changed. */
int lg_store_prune(struct lg_store *s) LG_MUST_CHECK;

struct lg_store_counts {
    int64_t tracks, albums, artists, users;
};
int lg_store_counts(struct lg_store *s, struct lg_store_counts *out) LG_MUST_CHECK;

/* --- users --- */

struct lg_user {
    int64_t id;
    char *name;
    char *pass_hash;         /* argon2id string (crypto_pwhash_str) */
    unsigned char *pass_box; /* password sealed with the server key (secretbox) */
    size_t pass_box_len;
    int is_admin;
    int64_t created_at;
    unsigned roles; /* LG_ROLE_* bits as stored; read only (see store_users.c) */
};

void lg_user_free(struct lg_user *u);

/* Adds a user; LG_EEXIST when the name is taken. */
int lg_store_user_add(struct lg_store *s, const struct lg_user *u, int64_t *id_out) LG_MUST_CHECK;
int lg_store_user_get_by_name(struct lg_store *s, const char *name,
                              struct lg_user *out) LG_MUST_CHECK;
int lg_store_user_get(struct lg_store *s, int64_t id, struct lg_user *out) LG_MUST_CHECK;
/* Replaces the password hash and sealed copy of a user. */
int lg_store_user_set_password(struct lg_store *s, int64_t id, const char *pass_hash,
                               const unsigned char *box, size_t box_len) LG_MUST_CHECK;

/* API keys are stored as SHA-256-sized hashes only (32 bytes). */
int lg_store_apikey_add(struct lg_store *s, int64_t user_id, const unsigned char hash[32],
                        const char *label) LG_MUST_CHECK;
/* Finds the user that owns the key with this hash; LG_ENOTFOUND otherwise. */
int lg_store_apikey_find(struct lg_store *s, const unsigned char hash[32],
                         int64_t *user_id) LG_MUST_CHECK;

/* --- songs (store_catalog.c) ---
 * A song is a track as one user sees it: the track plus that user's
 * annotation. Every reader below takes the user's id and only ever returns
 * that user's stars, ratings and plays. */

struct lg_song {
    struct lg_track t;
    int64_t starred_at; /* unix s, 0 = not starred */
    int rating;         /* 0-5, 0 = not rated */
    int64_t play_count;
    int64_t played_at; /* unix s, 0 = never */
    /* Filled by the store beside the mandatory fields above: */
    char *album_artist_name; /* name of the artist the album is filed under */
    int64_t track_artist_id; /* artists row named t.artist, 0 when none */
    int64_t composer_id;     /* artists row named t.composer, 0 when none */
    /* Analysis (store_analysis.c); the values are NAN when unknown: */
    int has_replaygain; /* track_lufs and track_peak are known */
    double track_lufs;  /* integrated loudness (BS.1770), LUFS */
    double track_peak;  /* true peak, linear (1.0 = full scale) */
    double album_lufs;  /* the album's integrated loudness, LUFS */
    double album_peak;  /* the album's true peak, linear */
};

/* Releases what a song owns (not the struct). NULL is ignored. */
void lg_song_free(struct lg_song *s);
/* Releases n songs and the array. */
void lg_songs_free(struct lg_song *v, size_t n);

/* One song; LG_ENOTFOUND when no track has that id. */
int lg_store_song_get(struct lg_store *s, int64_t user_id, int64_t track_id,
                      struct lg_song *out) LG_MUST_CHECK;
/* Songs for ids in the given order; unknown ids skipped (a repeated id gives
 * the song twice). Caller frees with lg_songs_free; *out is NULL when
 * *n_out is 0. Cost: one indexed lookup per id. */
int lg_store_songs_get(struct lg_store *s, int64_t user_id, const int64_t *ids, size_t n,
                       struct lg_song **out, size_t *n_out) LG_MUST_CHECK;

/* --- catalogue (store_catalog.c) ---
 * Albums, artists, genres, album and song lists, search and annotations as
 * the Subsonic API reads and writes them. Readers take the user's id and
 * fill in only that user's annotation fields. Arrays returned through
 * (out, n_out) are owned by the caller (NULL when empty) and released with
 * the matching _free; "count" and "offset" arguments are clamped by the
 * caller (the store applies them as given). */

enum lg_item_type {
    LG_ITEM_SONG,
    LG_ITEM_ALBUM,
    LG_ITEM_ARTIST,
};

struct lg_album {
    int64_t id;
    char *name;
    int64_t artist_id;
    char *artist; /* the artist's name */
    int year;     /* 0 = unknown */
    char *genre;  /* "" = unknown */
    int compilation;
    char *mbid;
    int64_t created_at; /* unix s */
    int64_t song_count;
    int64_t duration_ms;
    /* The user's annotation: */
    int64_t starred_at;
    int rating;
    int64_t play_count;
    int64_t played_at;
};

struct lg_artist {
    int64_t id;
    char *name;
    char *sort_name; /* name without a leading article */
    char *mbid;
    int64_t album_count; /* albums filed under the artist */
    int64_t starred_at;
    int rating;
};

struct lg_genre {
    char *name;
    int64_t song_count;
    int64_t album_count;
};

void lg_album_free(struct lg_album *a);
void lg_albums_free(struct lg_album *v, size_t n);
void lg_artist_free(struct lg_artist *a);
void lg_artists_free(struct lg_artist *v, size_t n);
void lg_genres_free(struct lg_genre *v, size_t n);

/* One album or artist; LG_ENOTFOUND when the id is unknown. */
int lg_store_album_get(struct lg_store *s, int64_t user_id, int64_t album_id,
                       struct lg_album *out) LG_MUST_CHECK;
int lg_store_artist_get(struct lg_store *s, int64_t user_id, int64_t artist_id,
                        struct lg_artist *out) LG_MUST_CHECK;
/* Every artist (each files at least one album), by sort name (case-blind). */
int lg_store_artists_all(struct lg_store *s, int64_t user_id, struct lg_artist **out,
                         size_t *n_out) LG_MUST_CHECK;
/* An artist's albums by year, then name. */
int lg_store_artist_albums(struct lg_store *s, int64_t user_id, int64_t artist_id,
                           struct lg_album **out, size_t *n_out) LG_MUST_CHECK;
/* An album's songs by disc, track number, id. */
int lg_store_album_songs(struct lg_store *s, int64_t user_id, int64_t album_id,
                         struct lg_song **out, size_t *n_out) LG_MUST_CHECK;
/* Every genre with its counts, by name (case-blind). */
int lg_store_genres(struct lg_store *s, struct lg_genre **out, size_t *n_out) LG_MUST_CHECK;

/* The getAlbumList2 types. */
enum lg_album_order {
    LG_ALBUMS_RANDOM,
    LG_ALBUMS_NEWEST,
    LG_ALBUMS_HIGHEST,  /* the user's ratings, best first */
    LG_ALBUMS_FREQUENT, /* the user's play counts */
    LG_ALBUMS_RECENT,   /* the user's last plays */
    LG_ALBUMS_BY_NAME,
    LG_ALBUMS_BY_ARTIST,
    LG_ALBUMS_STARRED, /* the user's stars, latest first */
    LG_ALBUMS_BY_YEAR, /* from_year..to_year, descending when from > to */
    LG_ALBUMS_BY_GENRE,
};

struct lg_album_query {
    enum lg_album_order order;
    int64_t size;   /* at most this many */
    int64_t offset; /* ignored for RANDOM */
    int from_year, to_year;
    const char *genre; /* BY_GENRE */
};

int lg_store_albums_list(struct lg_store *s, int64_t user_id, const struct lg_album_query *q,
                         struct lg_album **out, size_t *n_out) LG_MUST_CHECK;

/* Up to size random songs; genre (NULL = any) and the year range (0 = open;
 * the album's year) filter them. Without a filter every song is about as
 * likely; with years only, songs come from up to size random albums. */
struct lg_song_filter {
    int64_t size;
    const char *genre;
    int from_year, to_year;
};
int lg_store_songs_random(struct lg_store *s, int64_t user_id, const struct lg_song_filter *f,
                          struct lg_song **out, size_t *n_out) LG_MUST_CHECK;
/* Songs of a genre by album, then id; paged. */
int lg_store_songs_by_genre(struct lg_store *s, int64_t user_id, const char *genre, int64_t count,
                            int64_t offset, struct lg_song **out, size_t *n_out) LG_MUST_CHECK;
/* Songs whose track artist is artist_name (exact; "" matches nothing), the
 * user's most played first. */
int lg_store_songs_top(struct lg_store *s, int64_t user_id, const char *artist_name, int64_t count,
                       struct lg_song **out, size_t *n_out) LG_MUST_CHECK;
/* Random songs from random albums of genre (the album's genre) by artists
 * other than exclude_artist_id. */
int lg_store_songs_similar(struct lg_store *s, int64_t user_id, const char *genre,
                           int64_t exclude_artist_id, int64_t count, struct lg_song **out,
                           size_t *n_out) LG_MUST_CHECK;
/* The genre most of an artist's albums have; "" when none. Caller frees. */
int lg_store_artist_genre(struct lg_store *s, int64_t artist_id, char **out) LG_MUST_CHECK;
/* Other artists with albums in the genres of artist_id's albums, most
 * shared genres first, at most count. */
int lg_store_artists_similar(struct lg_store *s, int64_t user_id, int64_t artist_id, int64_t count,
                             struct lg_artist **out, size_t *n_out) LG_MUST_CHECK;

/* What a user starred, latest first. Caller frees with lg_starred_free. */
struct lg_starred {
    struct lg_artist *artists;
    size_t n_artists;
    struct lg_album *albums;
    size_t n_albums;
    struct lg_song *songs;
    size_t n_songs;
};
int lg_store_starred(struct lg_store *s, int64_t user_id, struct lg_starred *out) LG_MUST_CHECK;
void lg_starred_free(struct lg_starred *r);

/* search3. query is the user's text: words are matched by prefix, in any
 * field (songs: title, artist, album; albums: name, artist; artists: name),
 * case and accents ignored; any byte sequence is safe. Matches come by id
 * (not by relevance: that would score every match). An empty query, "",
 * `""` or "*" (as clients send to sync) lists everything by id. Results are paged
 * per kind; a count of 0 skips that kind. The result is a struct lg_starred
 * (three arrays) released with lg_starred_free. */
struct lg_search_query {
    const char *query;
    int64_t artist_count, artist_offset;
    int64_t album_count, album_offset;
    int64_t song_count, song_offset;
};
int lg_store_search(struct lg_store *s, int64_t user_id, const struct lg_search_query *q,
                    struct lg_starred *out) LG_MUST_CHECK;
/* The FTS5 query for a user's text (each word quoted, prefix-matched, all
 * required), or NULL when the text has no word. Caller frees. Exposed for
 * tests. */
char *lg_store_fts_query(const char *text);

/* True (1) when the item exists, 0 when not, < 0 on error. */
int lg_store_item_exists(struct lg_store *s, enum lg_item_type type, int64_t id) LG_MUST_CHECK;
/* Stars (at unix time now) or unstars an item for a user. The item must
 * exist (LG_ENOTFOUND). Starring a starred item keeps its first time. */
int lg_store_star(struct lg_store *s, int64_t user_id, enum lg_item_type type, int64_t id, int star,
                  int64_t now) LG_MUST_CHECK;
/* Sets a user's rating (0-5; 0 removes it); LG_ENOTFOUND, LG_EINVAL. */
int lg_store_set_rating(struct lg_store *s, int64_t user_id, enum lg_item_type type, int64_t id,
                        int rating) LG_MUST_CHECK;
/* A finished play of a track at unix time played_at: the play counts of
 * the song, its album and its album's artist go up by one and their last
 * play time moves to played_at if later. LG_ENOTFOUND for an unknown id.
 * Runs its own transaction: not to be called inside one. */
int lg_store_scrobble(struct lg_store *s, int64_t user_id, int64_t track_id,
                      int64_t played_at) LG_MUST_CHECK;

/* A user's player reports it started track_id at now: replaces that
 * player's entry, which lapses after the track's duration and a margin.
 * LG_ENOTFOUND for an unknown track. */
int lg_store_now_playing_set(struct lg_store *s, int64_t user_id, const char *player_name,
                             int64_t track_id, int64_t now) LG_MUST_CHECK;
struct lg_now_playing {
    struct lg_song song; /* annotations are the asking user's */
    char *username;
    char *player_name;
    int64_t player_id;
    int64_t started_at; /* unix s */
};
/* Every user's entries that have not lapsed at now, latest first. */
int lg_store_now_playing(struct lg_store *s, int64_t user_id, int64_t now,
                         struct lg_now_playing **out, size_t *n_out) LG_MUST_CHECK;
void lg_now_playing_free(struct lg_now_playing *v, size_t n);

/* --- user settings and roles; media lookups (system/users/media) ---
 * store_users.c and store_media.c. Profiles are the Subsonic view of a user
 * (struct lg_user above stays the credentials view). */

/* The Subsonic roles, as bits of struct lg_user_profile.roles. Scrobbling is
 * a setting, not a role, but travels with them. */
enum lg_user_role {
    LG_ROLE_SETTINGS = 1u << 0,
    LG_ROLE_STREAM = 1u << 1,
    LG_ROLE_JUKEBOX = 1u << 2,
    LG_ROLE_DOWNLOAD = 1u << 3,
    LG_ROLE_UPLOAD = 1u << 4,
    LG_ROLE_PLAYLIST = 1u << 5,
    LG_ROLE_COVER_ART = 1u << 6,
    LG_ROLE_COMMENT = 1u << 7,
    LG_ROLE_PODCAST = 1u << 8,
    LG_ROLE_SHARE = 1u << 9,
    LG_ROLE_VIDEO_CONVERSION = 1u << 10,
    LG_ROLE_SCROBBLING = 1u << 11,
};
#define LG_ROLES_ALL 0xfffu
/* What a user gets when nothing is said (the migration's column defaults). */
#define LG_ROLES_DEFAULT                                                                         \
    (LG_ROLE_SETTINGS | LG_ROLE_STREAM | LG_ROLE_DOWNLOAD | LG_ROLE_PLAYLIST | LG_ROLE_COMMENT | \
     LG_ROLE_SHARE | LG_ROLE_SCROBBLING)

struct lg_user_profile {
    int64_t id;
    char *name;
    char *email; /* "" when unknown */
    int is_admin;
    unsigned roles;       /* LG_ROLE_* bits as stored (an admin holds all, whatever they say) */
    int max_bitrate_kbps; /* 0 = no limit */
    int64_t created_at;
};

/* Releases the strings a profile owns (not the struct). */
void lg_user_profile_free(struct lg_user_profile *p);
/* Releases an array from lg_store_profiles_list. */
void lg_user_profiles_free(struct lg_user_profile *v, size_t n);
/* The profile of user name; LG_ENOTFOUND. */
int lg_store_profile_get(struct lg_store *s, const char *name,
                         struct lg_user_profile *out) LG_MUST_CHECK;
/* Every user, by name. Caller owns *out (lg_user_profiles_free). */
int lg_store_profiles_list(struct lg_store *s, struct lg_user_profile **out,
                           size_t *n_out) LG_MUST_CHECK;
/* Writes email, is_admin, roles and max_bitrate_kbps of user p->id (the name
 * and credentials stay). LG_ENOTFOUND. */
int lg_store_profile_update(struct lg_store *s, const struct lg_user_profile *p) LG_MUST_CHECK;
/* Deletes user id and, through ON DELETE CASCADE, all that is theirs (API
 * keys, annotations, playlists, bookmarks, play queue). LG_ENOTFOUND. Callers
 * outside src/auth use lg_auth_user_delete, which also forgets cached logins. */
int lg_store_user_delete(struct lg_store *s, int64_t id) LG_MUST_CHECK;

/* Where a cover comes from: the picture embedded in an audio file, or an image
 * file beside it (both relative to the music folder). */
enum lg_cover_kind {
    LG_COVER_TRACK,  /* the track's embedded picture, else its folder's image */
    LG_COVER_ALBUM,  /* a folder image of one of its tracks, else an embedded one */
    LG_COVER_ARTIST, /* the cover of the artist's first album (by year, name) */
};
struct lg_cover_source {
    char *path;   /* relative to the music folder; NULL: the item has no picture */
    int embedded; /* 1: path is an audio file with an embedded picture */
};
void lg_cover_source_free(struct lg_cover_source *c);
/* The cover of track, album or artist id; path NULL when the item exists but
 * has no picture. LG_ENOTFOUND when the item does not exist. One indexed
 * query (two for an item without a picture). */
int lg_store_cover_source(struct lg_store *s, enum lg_cover_kind kind, int64_t id,
                          struct lg_cover_source *out) LG_MUST_CHECK;
/* Writes to ids up to max track ids whose title equals title and, when artist
 * is not empty, whose artist or album artist equals artist, ignoring ASCII
 * case, lowest id first. Returns how many (0 when none). */
int lg_store_tracks_by_title(struct lg_store *s, const char *artist, const char *title,
                             int64_t *ids, size_t max) LG_MUST_CHECK;

/* --- playlists, bookmarks and play queues (store_playlists.c) ---
 *
 * Everything here belongs to one user. Functions that take a user_id act
 * only on what that user may see or change, so the HTTP layer cannot leak
 * one user's data to another by forgetting a check. Track ids that name no
 * track are refused rather than stored (LG_EINVAL in lists, LG_ENOTFOUND
 * where the track is the one thing named). */

struct lg_playlist {
    int64_t id;
    int64_t owner_id;
    char *owner; /* the owner's user name */
    char *name;
    char *comment;
    int is_public;
    int64_t created_at; /* unix seconds */
    int64_t changed_at; /* unix seconds */
    int64_t song_count;
    int64_t duration_ms;    /* of all entries */
    int64_t cover_album_id; /* the album of the first entry, 0 when empty */
    char *source_path;      /* the M3U file (relative) it came from, "" for a user's own */
};

/* Releases the strings a playlist owns (not the struct); NULL does nothing. */
void lg_playlist_free(struct lg_playlist *p);
/* Releases an array from lg_store_playlists_list and its playlists. */
void lg_playlists_free(struct lg_playlist *v, size_t n);

/* The playlists user_id may play: their own and the public ones of others,
 * ordered by name (case-insensitive), then id. Caller owns *out
 * (lg_playlists_free). Cost: one pass over the entries of those playlists. */
int lg_store_playlists_list(struct lg_store *s, int64_t user_id, struct lg_playlist **out,
                            size_t *n_out) LG_MUST_CHECK;
/* Playlist id when user_id may see it (owner, public, or admin true), and,
 * when ids is not NULL, the track ids of its entries in order (caller frees
 * *ids). LG_ENOTFOUND when it does not exist or is hidden from the user. */
int lg_store_playlist_get(struct lg_store *s, int64_t user_id, bool admin, int64_t id,
                          struct lg_playlist *out, int64_t **ids, size_t *n_ids) LG_MUST_CHECK;
/* Creates a private playlist of owner_id holding the n tracks (repeats
 * allowed) in order; writes its id. LG_EINVAL when a track id is unknown
 * (nothing is created). */
int lg_store_playlist_create(struct lg_store *s, int64_t owner_id, const char *name,
                             const int64_t *ids, size_t n, int64_t *id_out) LG_MUST_CHECK;

/* A change to a playlist; fields left NULL, negative or empty change nothing. */
struct lg_playlist_edit {
    const char *name;
    const char *comment;
    int is_public;         /* 0 or 1; < 0 leaves it */
    bool replace;          /* drop every entry first (remove is then ignored) */
    const int64_t *remove; /* indexes into the entries as they were (any order, repeats ok) */
    size_t n_remove;
    const int64_t *add; /* track ids appended after the removals */
    size_t n_add;
};

/* Applies e to playlist id, all or nothing, and marks it changed. Only the
 * owner may change a playlist: LG_ENOTFOUND when user_id may not see it (see
 * lg_store_playlist_get), LG_EDENIED when it can see but does not own it,
 * LG_ERANGE when an index is out of range, LG_EINVAL for an unknown track. */
int lg_store_playlist_edit(struct lg_store *s, int64_t user_id, bool admin, int64_t id,
                           const struct lg_playlist_edit *e) LG_MUST_CHECK;
/* Deletes playlist id; the same rules and errors as lg_store_playlist_edit. */
int lg_store_playlist_delete(struct lg_store *s, int64_t user_id, bool admin,
                             int64_t id) LG_MUST_CHECK;

/* --- M3U import (called by the library scan) --- */

/* A playlist imported from an M3U file. */
struct lg_playlist_source {
    int64_t id;
    char *path; /* the M3U file relative to the music folder */
    int64_t mtime_ns;
};
void lg_playlist_sources_free(struct lg_playlist_source *v, size_t n);
/* Every imported playlist, in no set order. Caller owns *out. */
int lg_store_playlist_sources(struct lg_store *s, struct lg_playlist_source **out,
                              size_t *n_out) LG_MUST_CHECK;

struct lg_playlist_import {
    int64_t owner_id;
    const char *path; /* the M3U file relative to the music folder: the key */
    const char *name;
    int64_t mtime_ns;
    const int64_t *ids; /* known track ids, in order */
    size_t n;
};

/* Creates or updates the public playlist imported from im->path, in one
 * transaction. Its changed time moves only when name, owner or entries
 * differ. Returns 1 when it changed anything visible, else 0. LG_EINVAL for
 * an unknown track id. */
int lg_store_playlist_import(struct lg_store *s, const struct lg_playlist_import *im) LG_MUST_CHECK;
/* Deletes playlist id whoever owns it (for the scan); LG_ENOTFOUND. */
int lg_store_playlist_remove(struct lg_store *s, int64_t id) LG_MUST_CHECK;
/* The administrator with the lowest id (owner of imported playlists);
 * LG_ENOTFOUND when there is none. */
int lg_store_first_admin(struct lg_store *s, int64_t *user_id) LG_MUST_CHECK;
/* The id of the track at path (relative, as stored); LG_ENOTFOUND. */
int lg_store_track_id_by_path(struct lg_store *s, const char *path, int64_t *id) LG_MUST_CHECK;

/* --- bookmarks --- */

struct lg_bookmark {
    int64_t track_id;
    int64_t position_ms;
    char *comment;
    int64_t created_at; /* unix seconds */
    int64_t changed_at;
};
void lg_bookmarks_free(struct lg_bookmark *v, size_t n);
/* The bookmarks of user_id, most recently changed first. Caller owns *out. */
int lg_store_bookmarks_list(struct lg_store *s, int64_t user_id, struct lg_bookmark **out,
                            size_t *n_out) LG_MUST_CHECK;
/* Creates or replaces the user's bookmark on a track (comment NULL = "");
 * created stays on replace. LG_ENOTFOUND when the track is unknown. */
int lg_store_bookmark_set(struct lg_store *s, int64_t user_id, int64_t track_id,
                          int64_t position_ms, const char *comment) LG_MUST_CHECK;
/* LG_ENOTFOUND when the user has no bookmark on the track. */
int lg_store_bookmark_delete(struct lg_store *s, int64_t user_id, int64_t track_id) LG_MUST_CHECK;

/* --- play queues --- */

struct lg_play_queue {
    int64_t *ids; /* tracks in order */
    size_t n;
    int64_t current_id; /* 0: none */
    int64_t position_ms;
    int64_t changed_at; /* unix seconds; set by the store on save */
    char *changed_by;   /* the client's name */
};
/* Releases ids and changed_by (not the struct). */
void lg_play_queue_free(struct lg_play_queue *q);
/* The saved queue of user_id; LG_ENOTFOUND when none is saved. Caller owns
 * *out (lg_play_queue_free). */
int lg_store_play_queue_get(struct lg_store *s, int64_t user_id,
                            struct lg_play_queue *out) LG_MUST_CHECK;
/* Replaces the user's queue with q (changed_at ignored); q->n == 0 clears
 * it. LG_EINVAL when a track id (or current_id) is unknown. */
int lg_store_play_queue_save(struct lg_store *s, int64_t user_id,
                             const struct lg_play_queue *q) LG_MUST_CHECK;


/* --- audio analysis (store_analysis.c) ---
 * Loudness, peaks, gating energies and waveform of each track, and loudness
 * and peaks of each album, as library/analysis_bg.c measures them. Values
 * that could not be measured are NAN. */

/* A track that needs (re)analysis. */
struct lg_analysis_todo {
    int64_t id;
    int64_t album_id;
    char *path; /* relative to the music folder */
    int64_t size;
    int64_t mtime_ns;
};
void lg_analysis_todos_free(struct lg_analysis_todo *v, size_t n);
/* Up to limit tracks with id > after_id, in id order, that have no analysis
 * of dsp_version for their current size and mtime (failed analyses count as
 * done). *out is NULL when *n_out is 0. */
int lg_store_analysis_todo(struct lg_store *s, int dsp_version, int64_t after_id, size_t limit,
                           struct lg_analysis_todo **out, size_t *n_out) LG_MUST_CHECK;
/* How many tracks lg_store_analysis_todo would return without limits. */
int lg_store_analysis_todo_count(struct lg_store *s, int dsp_version, int64_t *out) LG_MUST_CHECK;
/* Up to limit albums with id > after_id, in id order, that have no stored
 * analysis while some of their tracks have one: a track joined or left them
 * since (the triggers of 0015_album_release.sql drop the album's values
 * then). *out (caller frees) is NULL when *n_out is 0. */
int lg_store_albums_unmeasured(struct lg_store *s, int64_t after_id, size_t limit, int64_t **out,
                               size_t *n_out) LG_MUST_CHECK;

struct lg_track_analysis {
    int64_t track_id;
    int dsp_version;
    int64_t size, mtime_ns; /* the file when analysed */
    char *error;            /* NULL when analysed, else why it failed */
    double integrated_lufs, range_lu, true_peak_dbtp, sample_peak_dbfs;
    double *block_energies; /* gating-block energies (400 ms) */
    size_t n_block;
    double *shortterm_energies; /* short-term energies (3 s) */
    size_t n_shortterm;
    uint8_t *waveform; /* n_waveform peaks then n_waveform RMS, 0..255 */
    size_t n_waveform;
    int64_t analysed_at; /* unix s, set by the store */
};
/* Releases the arrays and error (not the struct). */
void lg_track_analysis_free(struct lg_track_analysis *a);
/* Creates or replaces the track's analysis (analysed_at = now). LG_ENOTFOUND
 * when the track is gone. Call inside a transaction for speed. */
int lg_store_track_analysis_put(struct lg_store *s,
                                const struct lg_track_analysis *a) LG_MUST_CHECK;
int lg_store_track_analysis_get(struct lg_store *s, int64_t track_id,
                                struct lg_track_analysis *out) LG_MUST_CHECK;

/* The stored energies and peaks of an album's analysed tracks: all their
 * gating-block and short-term energies concatenated, the largest true and
 * sample peaks. Caller frees the arrays; n_tracks is 0 when none has any. */
struct lg_album_energies {
    double *block_energies;
    size_t n_block;
    double *shortterm_energies;
    size_t n_shortterm;
    double true_peak_dbtp, sample_peak_dbfs;
    size_t n_tracks;
};
void lg_album_energies_free(struct lg_album_energies *e);
int lg_store_album_energies(struct lg_store *s, int64_t album_id,
                            struct lg_album_energies *out) LG_MUST_CHECK;

struct lg_album_analysis {
    int64_t album_id;
    double integrated_lufs, range_lu, true_peak_dbtp, sample_peak_dbfs;
    int64_t analysed_at;
};
/* Creates or replaces an album's values; LG_ENOTFOUND when it is gone. */
int lg_store_album_analysis_put(struct lg_store *s,
                                const struct lg_album_analysis *a) LG_MUST_CHECK;
int lg_store_album_analysis_get(struct lg_store *s, int64_t album_id,
                                struct lg_album_analysis *out) LG_MUST_CHECK;

/* --- OAuth device grant (store_oauth.c; used by auth/device.c) --- */

/* Status of an oauth_devices row. */
enum { LG_OAUTH_PENDING = 0, LG_OAUTH_APPROVED = 1, LG_OAUTH_DENIED = 2, LG_OAUTH_USED = 3 };
/* Token kinds. */
enum { LG_OAUTH_ACCESS = 1, LG_OAUTH_REFRESH = 2 };

struct lg_oauth_device {
    int64_t id;
    char *user_code, *client_id, *scope, *name, *ip;       /* owned */
    int64_t created_ms, expires_ms, last_poll_ms, user_id; /* user_id 0: none */
    int interval_s;
    int status;
    int state;            /* device session state (enum lg_device_state) */
    int64_t last_seen_ms; /* latest move or heartbeat */
};
void lg_oauth_device_free(struct lg_oauth_device *d);
/* Inserts a request (hashes are 32 bytes); first deletes requests that
 * expired an hour or more before now_ms and got no tokens. LG_EEXIST when
 * the user code is taken. */
int lg_store_oauth_device_add(struct lg_store *s, const unsigned char code_hash[32],
                              const unsigned char handle_hash[32], const struct lg_oauth_device *d,
                              int64_t now_ms, int64_t *id_out) LG_MUST_CHECK;
/* Finds a request by device-code hash, handle hash or user code. */
int lg_store_oauth_device_by_code(struct lg_store *s, const unsigned char hash[32],
                                  struct lg_oauth_device *out) LG_MUST_CHECK;
int lg_store_oauth_device_by_handle(struct lg_store *s, const unsigned char hash[32],
                                    struct lg_oauth_device *out) LG_MUST_CHECK;
int lg_store_oauth_device_by_user_code(struct lg_store *s, const char *user_code,
                                       struct lg_oauth_device *out) LG_MUST_CHECK;
/* Records a poll at now_ms with the (possibly grown) interval. */
int lg_store_oauth_device_polled(struct lg_store *s, int64_t id, int64_t now_ms,
                                 int interval_s) LG_MUST_CHECK;
/* Moves a request from status `from` to `to`, binding user_id when > 0.
 * LG_ENOTFOUND when it is not in `from` (someone else moved it first). */
int lg_store_oauth_device_move(struct lg_store *s, int64_t id, int from, int to,
                               int64_t user_id) LG_MUST_CHECK;

struct lg_oauth_token {
    int64_t id, family, user_id, expires_ms;
    int kind, used, revoked;
    char *client_id, *scope; /* owned */
};
void lg_oauth_token_free(struct lg_oauth_token *t);
int lg_store_oauth_token_add(struct lg_store *s, const unsigned char hash[32],
                             const struct lg_oauth_token *t) LG_MUST_CHECK;
int lg_store_oauth_token_get(struct lg_store *s, const unsigned char hash[32],
                             struct lg_oauth_token *out) LG_MUST_CHECK;
/* Marks a refresh token used (rotated); LG_ENOTFOUND when it already was. */
int lg_store_oauth_token_use(struct lg_store *s, int64_t id) LG_MUST_CHECK;
/* Revokes every token of a family. */
int lg_store_oauth_family_revoke(struct lg_store *s, int64_t family) LG_MUST_CHECK;

/* Device sessions (migration 0008): the state of an oauth_devices row and
 * its stored moves. */
struct lg_device_move {
    int state;
    int64_t at_ms;
};
int lg_store_oauth_device_get(struct lg_store *s, int64_t id,
                              struct lg_oauth_device *out) LG_MUST_CHECK;
void lg_oauth_devices_free(struct lg_oauth_device *v, size_t n);
/* Denies the user's approved requests that got no tokens yet. */
int lg_store_oauth_deny_approved(struct lg_store *s, int64_t user_id) LG_MUST_CHECK;
/* The user's sessions that got tokens, oldest first. */
int lg_store_oauth_sessions(struct lg_store *s, int64_t user_id, struct lg_oauth_device **out,
                            size_t *n_out) LG_MUST_CHECK;
/* Moves the session from state `from` to `to` at now_ms (recorded in
 * device_moves). LG_ENOTFOUND when it is not in `from`. */
int lg_store_oauth_state_move(struct lg_store *s, int64_t id, int from, int to,
                              int64_t now_ms) LG_MUST_CHECK;
/* Records a sign of life (heartbeat) at now_ms. */
int lg_store_oauth_seen(struct lg_store *s, int64_t id, int64_t now_ms) LG_MUST_CHECK;
/* Every move of a session, oldest first; caller frees *out with free(). */
int lg_store_oauth_moves(struct lg_store *s, int64_t id, struct lg_device_move **out,
                         size_t *n_out) LG_MUST_CHECK;

/* --- Web sign-in sessions (store_websession.c; used by auth/websession.c) --- */

/* Inserts a session (hash: 32 bytes) after deleting those expired by now_s. */
int lg_store_websession_add(struct lg_store *s, const unsigned char hash[32], int64_t user_id,
                            int64_t now_s, int64_t expires_s) LG_MUST_CHECK;
/* The user and expiry of a session by hash; LG_ENOTFOUND, LG_ESTORE. */
int lg_store_websession_get(struct lg_store *s, const unsigned char hash[32], int64_t *user_id,
                            int64_t *expires_s) LG_MUST_CHECK;
/* Deletes a session by hash (absent is fine). */
int lg_store_websession_delete(struct lg_store *s, const unsigned char hash[32]) LG_MUST_CHECK;
/* Deletes every session of a user. */
int lg_store_websession_delete_user(struct lg_store *s, int64_t user_id) LG_MUST_CHECK;

/* --- Hand-offs (store_handoff.c; used by http/handoff.c) ---
 * A play queue passed from one device to another through a short-lived,
 * single-use link. The link's token arrives here already hashed (32 bytes);
 * times are unix seconds, passed in so that tests can move the clock. */

struct lg_handoff {
    int64_t user_id; /* who made it: the only one who may claim it */
    int64_t *ids;    /* track ids in queue order (owned) */
    size_t n;
    size_t current;      /* index into ids of the track to resume */
    int64_t position_ms; /* where in that track */
    int64_t created_s;
    int64_t expires_s;
    bool used; /* claimed already */
};
/* Releases ids (not the struct). NULL is ignored. */
void lg_handoff_free(struct lg_handoff *h);
/* Unclaimed hand-offs one user keeps: a newer one deletes the oldest. */
enum { LG_HANDOFF_UNCLAIMED_MAX = 20 };
/* Stores h (used is ignored) under hash in one transaction, after deleting
 * the hand-offs that expired at or before purge_before_s and the user's
 * oldest unclaimed ones past LG_HANDOFF_UNCLAIMED_MAX - 1. LG_EINVAL when n
 * is 0, current >= n, position_ms < 0 or a track id is unknown (nothing is
 * stored); LG_EEXIST when hash is taken. */
int lg_store_handoff_add(struct lg_store *s, const unsigned char hash[32],
                         const struct lg_handoff *h, int64_t purge_before_s) LG_MUST_CHECK;
/* The hand-off stored under hash, in any state (used, expired, anyone's).
 * Tracks deleted since it was made are left out: current then names the
 * next one left (the last when none follows; position_ms becomes 0), and n
 * may be 0. Caller owns *out (lg_handoff_free). LG_ENOTFOUND. */
int lg_store_handoff_get(struct lg_store *s, const unsigned char hash[32],
                         struct lg_handoff *out) LG_MUST_CHECK;
/* Claims the hand-off: one UPDATE marks it used only when it belongs to
 * user_id, is not used yet and expires after now_s; then reads it as
 * lg_store_handoff_get does. Of racing claims exactly one succeeds.
 * LG_ENOTFOUND when nothing is claimable (unknown, used, expired, or
 * another user's: that one stays as it was). */
int lg_store_handoff_claim(struct lg_store *s, const unsigned char hash[32], int64_t user_id,
                           int64_t now_s, struct lg_handoff *out) LG_MUST_CHECK;

/* --- shares (store_shares.c; tokens made by http/share_token.c) ---
 * Public links to songs, albums and playlists (Subsonic createShare). The
 * link's token never reaches the store: it arrives as its 32-byte hash,
 * which lookups use, and as a sealed box that only the server key opens.
 * Times are unix milliseconds. */

enum lg_share_kind {
    LG_SHARE_SONG,
    LG_SHARE_ALBUM,
    LG_SHARE_PLAYLIST,
};

/* One entry of a share as given: a track, an album or a playlist id. */
struct lg_share_item {
    enum lg_share_kind kind;
    int64_t id;
};

struct lg_share {
    int64_t id;
    int64_t owner_id;
    char *owner; /* the owner's user name */
    char *description;
    int64_t created_ms;
    int64_t expires_ms;      /* 0: never */
    int64_t last_visited_ms; /* 0: never visited */
    int64_t visit_count;
    int allow_download;
    unsigned char token_hash[32];
    unsigned char *token_box; /* the sealed token */
    size_t token_box_len;
};

/* Releases what a share owns (not the struct); NULL does nothing. */
void lg_share_free(struct lg_share *sh);
/* Whether the share has expired at now_ms (it lives until expires_ms,
 * exclusive; forever when that is 0). Pure. */
bool lg_share_expired(const struct lg_share *sh, int64_t now_ms);
/* Releases an array from lg_store_shares_list and its shares. */
void lg_shares_free(struct lg_share *v, size_t n);

/* What lg_store_share_create stores; pointers are borrowed. */
struct lg_share_new {
    int64_t owner_id;
    bool owner_admin;        /* may share any playlist, not only their own and public ones */
    const char *description; /* NULL: "" */
    int64_t created_ms;
    int64_t expires_ms; /* 0: never */
    int allow_download;
    const struct lg_share_item *items; /* in order, at least one; repeats allowed */
    size_t n_items;
    const unsigned char *token_hash; /* 32 bytes */
    const unsigned char *token_box;  /* not empty */
    size_t token_box_len;
};

/* Creates a share and its entries in one transaction and writes its id
 * (id_out may be NULL). LG_EINVAL when there is no item or box, or when an
 * item names no track, album or playlist, or a playlist its owner may not
 * see (nothing is created then); LG_EEXIST when the token hash is taken. */
int lg_store_share_create(struct lg_store *s, const struct lg_share_new *in,
                          int64_t *id_out) LG_MUST_CHECK;
/* One share by id, or by the hash of its token (one indexed lookup).
 * Expired shares are found too: callers judge expires_ms. LG_ENOTFOUND.
 * Caller owns *out (lg_share_free). */
int lg_store_share_get(struct lg_store *s, int64_t id, struct lg_share *out) LG_MUST_CHECK;
int lg_store_share_by_hash(struct lg_store *s, const unsigned char hash[32],
                           struct lg_share *out) LG_MUST_CHECK;
/* The shares of owner_id, oldest first. Caller owns *out (lg_shares_free). */
int lg_store_shares_list(struct lg_store *s, int64_t owner_id, struct lg_share **out,
                         size_t *n_out) LG_MUST_CHECK;
/* Sets the description (NULL: kept) and expiry (expires_ms < 0: kept; 0:
 * never) of share id. Only its owner or an administrator (admin true) may:
 * LG_ENOTFOUND for an unknown id, LG_EDENIED for another user's share. */
int lg_store_share_update(struct lg_store *s, int64_t user_id, bool admin, int64_t id,
                          const char *description, int64_t expires_ms) LG_MUST_CHECK;
/* Deletes share id; the same rules and errors as lg_store_share_update. */
int lg_store_share_delete(struct lg_store *s, int64_t user_id, bool admin,
                          int64_t id) LG_MUST_CHECK;
/* Counts a visit of share id at now_ms. LG_ENOTFOUND. */
int lg_store_share_visit(struct lg_store *s, int64_t id, int64_t now_ms) LG_MUST_CHECK;
/* The track ids of share id in play order: entries by position, an album as
 * its tracks by disc and track number, a playlist as its entries, counted
 * only while the owner may see it (their own, public, or any for an
 * administrator). Tracks that are gone are left out. Caller frees *ids (NULL
 * when *n_out is 0); an unknown share has no tracks. One query. */
int lg_store_share_tracks(struct lg_store *s, int64_t id, int64_t **ids,
                          size_t *n_out) LG_MUST_CHECK;
/* 1 when track_id is among the tracks lg_store_share_tracks gives for share
 * id, 0 when not, or an error. One indexed query. */
int lg_store_share_has_track(struct lg_store *s, int64_t id, int64_t track_id) LG_MUST_CHECK;

/* --- playback settings and players (store_players.c; used by /rest/stream
 * and /api/settings) ---
 * A user's loudness normalisation mode, and the Subsonic players (clients
 * named by their `c` parameter) they stream with, each with an optional bit
 * rate limit and the time it was last seen. Client names come from peers:
 * every function that takes one refuses (LG_EINVAL) a name that fails
 * lg_player_client_ok. A user keeps at most LG_PLAYERS_MAX players; adding
 * one beyond that drops the least recently seen ones, those without a limit
 * first (the one being added or updated always stays). */

enum lg_normalize {
    LG_NORMALIZE_OFF,
    LG_NORMALIZE_TRACK, /* ReplayGain of the track */
    LG_NORMALIZE_ALBUM, /* ReplayGain of the track's album */
};

#define LG_PLAYER_CLIENT_MAX 64    /* bytes of a client name */
#define LG_PLAYER_KBPS_MAX   10000 /* the largest player limit, kbit/s */
#define LG_PLAYERS_MAX       100   /* players kept per user */

/* "off", "track" or "album". */
const char *lg_normalize_name(enum lg_normalize m);
/* The mode named s (exactly as lg_normalize_name writes it) into *out: 0, or
 * LG_EINVAL for anything else (NULL included). */
int lg_normalize_parse(const char *s, enum lg_normalize *out) LG_MUST_CHECK;
/* Whether s is an acceptable client name: 1 to LG_PLAYER_CLIENT_MAX bytes of
 * well-formed UTF-8 without control characters (C0, DEL or C1). Pure. */
bool lg_player_client_ok(const char *s);

/* A user's normalisation mode; LG_ENOTFOUND for an unknown user. */
int lg_store_normalize_get(struct lg_store *s, int64_t user_id,
                           enum lg_normalize *out) LG_MUST_CHECK;
/* Sets it; LG_ENOTFOUND for an unknown user, LG_EINVAL for a mode outside
 * the enum. */
int lg_store_normalize_set(struct lg_store *s, int64_t user_id,
                           enum lg_normalize mode) LG_MUST_CHECK;

/* The player `client` of user_id streamed at now_s (unix seconds): creates
 * it (no limit) or moves its last_seen. Without an fsync of its own (a
 * power loss may lose it). LG_EINVAL for a bad name, LG_ENOTFOUND for an
 * unknown user. */
int lg_store_player_seen(struct lg_store *s, int64_t user_id, const char *client,
                         int64_t now_s) LG_MUST_CHECK;
/* Sets the limit (kbit/s, 0: none, at most LG_PLAYER_KBPS_MAX) of a player,
 * creating it unseen when it is new. LG_EINVAL for a bad name or limit,
 * LG_ENOTFOUND for an unknown user. */
int lg_store_player_limit_set(struct lg_store *s, int64_t user_id, const char *client,
                              int kbps) LG_MUST_CHECK;
/* The limit of a player, 0 when it has none or is unknown. LG_EINVAL for a
 * bad name. */
int lg_store_player_limit_get(struct lg_store *s, int64_t user_id, const char *client,
                              int *kbps) LG_MUST_CHECK;

struct lg_player {
    char *client;
    int max_bit_rate_kbps; /* 0: none */
    int64_t last_seen_s;   /* unix seconds; 0: never */
};
/* Releases n players and the array. */
void lg_players_free(struct lg_player *v, size_t n);
/* A user's players by name (case-blind, then bytewise). Caller owns *out
 * (lg_players_free; NULL when *n_out is 0). An unknown user has none. */
int lg_store_players_list(struct lg_store *s, int64_t user_id, struct lg_player **out,
                          size_t *n_out) LG_MUST_CHECK;

/* What /rest/stream needs to know of a user and their player, in one
 * indexed query. client may be NULL (no player): player_kbps is then 0, as
 * it is for a player not known yet. LG_EINVAL for a bad name, LG_ENOTFOUND
 * for an unknown user. */
struct lg_stream_prefs {
    int user_kbps;   /* the user's max_bit_rate; 0: none */
    int player_kbps; /* the player's; 0: none */
    enum lg_normalize normalize;
};
int lg_store_stream_prefs(struct lg_store *s, int64_t user_id, const char *client,
                          struct lg_stream_prefs *out) LG_MUST_CHECK;

#endif
