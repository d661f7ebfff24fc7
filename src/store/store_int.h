/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store: the helpers that every store_*.c file uses to run SQL
 * on the calling thread's connection. Statements are prepared once per
 * connection and cached under the address of their SQL text, so that text
 * must have static storage (a string literal or a static array).
 */
#ifndef LG_STORE_STORE_INT_H
#define LG_STORE_STORE_INT_H

#include <stdbool.h>

#include <sqlite3.h>

#include "store/store.h"

/* The columns of struct lg_track stored in the tracks table, in one place:
 * T(name) for text, I(name) for int, L(name) for int64_t. Every reader and
 * writer of track rows expands this list, so a column is named once. */
/* clang-format off */
#define TRACK_COLUMNS(T, I, L)                                                 \
    T(path) L(size) L(mtime_ns) T(title) T(artist) T(album_artist) T(album)    \
    T(genre) T(composer) I(track_no) I(disc_no) I(year) I(compilation)         \
    L(duration_ms) I(bitrate_kbps) I(sample_rate) I(channels)                  \
    I(bits_per_sample) T(codec) T(suffix) T(content_type) T(mb_track_id)       \
    T(mb_album_id) T(mb_artist_id) T(mb_album_artist_id) I(has_picture)        \
    T(cover_path) L(ctime_ns)
/* clang-format on */

/* The numbered migrations (migrations/NNNN_*.sql, embedded by the build), in
 * order: the schema is lg_migration_count of them applied. */
struct lg_embedded {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct lg_embedded lg_migration_files[];
extern const size_t lg_migration_count;

/* The statement for sql on this thread's connection, reset and with its
 * bindings cleared; NULL on failure (logged). */
sqlite3_stmt *lg_store_stmt(struct lg_store *s, const char *sql);
/* Durability of the calling thread's later commits: lazy (synchronous =
 * NORMAL: a commit is not fsynced, so a power loss, never a crash, may undo
 * the last ones; the database stays consistent) for bookkeeping that costs
 * nothing to lose, such as poll and heartbeat times; otherwise durable
 * (FULL), the default, which every function must restore. 0 or LG_ESTORE. */
int lg_store_lazy(struct lg_store *s, bool lazy);
/* Steps a statement that returns no row (or whose rows are ignored) and resets
 * it. 0, LG_EEXIST on a constraint violation, or LG_ESTORE. */
int lg_store_step_done(sqlite3_stmt *st);
/* Runs the cached statement sql with v bound to ?1, as lg_store_step_done. */
int lg_store_run_i64(struct lg_store *s, const char *sql, int64_t v);
/* Steps to the first row: 0 with the statement on the row (the caller reads
 * it, then resets), LG_ENOTFOUND, LG_EEXIST or LG_ESTORE (statement reset). */
int lg_store_step_row(sqlite3_stmt *st);
/* Runs sql (no parameters) and reads the integer in the first column of its
 * one row. */
int lg_store_int(struct lg_store *s, const char *sql, int64_t *out) LG_MUST_CHECK;
/* A copy of column i as text, "" for NULL; caller frees. */
char *lg_store_col_text(sqlite3_stmt *st, int i);
/* Reads one row of a statement into *dst (an element of a growing array). */
typedef int lg_store_row_fn(sqlite3_stmt *st, void *dst);
/* Releases n elements read so far, and the array. */
typedef void lg_store_rows_free_fn(void *v, size_t n);
/* Steps st to the end, reading each row with read into a growing array of
 * elem-sized items, and resets it. On success *out (caller frees with the
 * type's _free) and *n_out are written; on failure what was read is released
 * with release and LG_ESTORE is returned. */
int lg_store_collect(sqlite3_stmt *st, size_t elem, lg_store_row_fn *read,
                     lg_store_rows_free_fn *release, void **out, size_t *n_out) LG_MUST_CHECK;

/* Appends ids to a list (a playlist, the play queue, a hand-off) from
 * position pos on: sql is an INSERT ... SELECT binding (owner, position,
 * track id) that inserts nothing for an unknown track. 0, LG_EINVAL for an
 * unknown track, or the step's error. Within the caller's transaction. */
int lg_store_add_ids(struct lg_store *s, const char *sql, int64_t owner, int64_t pos,
                     const int64_t *ids, size_t n) LG_MUST_CHECK;

/* Logs db's last error with what and returns LG_ESTORE. */
int lg_store_fail(sqlite3 *db, const char *what);

/* The analysis columns of a song query (store_analysis.c): the SELECT list
 * ends with LG_SONG_ANALYSIS_COLS, its joins include LG_SONG_ANALYSIS_JOIN
 * (tracks are "t"), and lg_store_song_analysis_read reads them from column i
 * into s, returning the index after them. */
#define LG_SONG_ANALYSIS_COLS \
    ", tan.integrated_lufs, tan.true_peak_dbtp, aan.integrated_lufs, aan.true_peak_dbtp "
#define LG_SONG_ANALYSIS_JOIN                              \
    "LEFT JOIN track_analysis tan ON tan.track_id = t.id " \
    "LEFT JOIN album_analysis aan ON aan.album_id = t.album_id "
int lg_store_song_analysis_read(sqlite3_stmt *st, int i, struct lg_song *s);

#endif
