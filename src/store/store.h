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
/* Changes the sidecar cover of a track whose file did not change. */
int lg_store_track_set_cover(struct lg_store *s, int64_t id, const char *cover_path) LG_MUST_CHECK;

/* Calls fn for each known file (id, path, size, mtime_ns, cover_path), in no
 * set order. The strings are valid during the call only. A non-zero return
 * from fn stops the iteration and is returned. */
typedef int lg_store_file_fn(void *ud, int64_t id, const char *path, int64_t size, int64_t mtime_ns,
                             const char *cover_path);
int lg_store_files_each(struct lg_store *s, lg_store_file_fn *fn, void *ud) LG_MUST_CHECK;

/* Deletes artists and albums left without tracks. Returns how many rows went. */
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

#endif
