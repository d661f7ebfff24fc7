/* SPDX-License-Identifier: MIT */
/*
 * The SQLite store. One connection per thread (thread-specific data), each
 * with its own cache of prepared statements; all connections of a store are
 * also linked in a list so lg_store_close can close those of threads still
 * alive. Statements for tracks are generated once from a column table, so a
 * column is named in exactly one place in C.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "core/fs.h"
#include "core/log.h"
#include "store/store.h"
#include "store/store_int.h"

static const struct lg_log slog = { "store" };


enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_SYNC_NORMAL,
    S_SYNC_FULL,
    S_META_GET,
    S_META_SET,
    S_TRACK_GET,
    S_TRACK_UPSERT,
    S_TRACK_DELETE,
    S_TRACK_SET_COVER,
    S_TRACK_RENAME,
    S_TRACK_SET_CTIME,
    S_ARTIST_UPSERT,
    S_ALBUM_UPSERT,
    S_FILES,
    S_PRUNE_ALBUMS,
    S_PRUNE_ARTISTS,
    S_ALBUMS_UNFLAG,
    S_ALBUMS_REFRESH,
    S_COUNTS,
    S_USER_ADD,
    S_USER_BY_NAME,
    S_USER_BY_ID,
    S_USER_SET_PASSWORD,
    S_APIKEY_ADD,
    S_APIKEY_FIND,
    S_COUNT_
};

/* The Subsonic role columns (0003_users.sql) as the LG_ROLE_* bits. In
 * SQLite "<<" and "|" bind equally tightly (left to right): parenthesise. */
#define USER_ROLES                                                                               \
    "(settings_role | (stream_role << 1) | (jukebox_role << 2) | (download_role << 3) | "        \
    "(upload_role << 4) | (playlist_role << 5) | (cover_art_role << 6) | (comment_role << 7) | " \
    "(podcast_role << 8) | (share_role << 9) | (video_conversion_role << 10) | "                 \
    "(scrobbling_enabled << 11))"

/* The id a new row of tbl (tracks, albums, artists) gets: one above both
 * its largest id and the largest ever deleted (migration 0014), so that an
 * id a client still holds never names another song. */
#define NEXT_ID(tbl)                                                                    \
    "(SELECT max(ifnull((SELECT max(id) FROM " tbl "), 0), ifnull((SELECT max_id FROM " \
    "retired_ids WHERE tbl = '" tbl "'), 0)) + 1)"

/* Filled in once by build_track_sql(). */
static char track_get_sql[2048];
static char track_upsert_sql[4096];

static const char *const stmt_sql[S_COUNT_] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
    [S_SYNC_FULL] = "PRAGMA synchronous = FULL",
    [S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [S_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [S_TRACK_GET] = track_get_sql,
    [S_TRACK_UPSERT] = track_upsert_sql,
    [S_TRACK_DELETE] = "DELETE FROM tracks WHERE id = ?1",
    [S_TRACK_SET_COVER] =
        "UPDATE tracks SET cover_path = ?2, updated_at = unixepoch() WHERE id = ?1",
    [S_TRACK_RENAME] = "UPDATE tracks SET path = ?2, updated_at = unixepoch() WHERE id = ?1",
    [S_TRACK_SET_CTIME] = "UPDATE tracks SET ctime_ns = ?2 WHERE id = ?1",
    [S_ARTIST_UPSERT] = "INSERT INTO artists(id, name, mbid) VALUES (" NEXT_ID(
        "artists") ", ?1, ?2) "
                   "ON CONFLICT(name) DO UPDATE SET mbid = CASE WHEN excluded.mbid <> '' "
                   "THEN excluded.mbid ELSE mbid END RETURNING id",
    /* An album is its album artist, its name and its MusicBrainz release
     * (?6, or '' for tracks without one): 0015_album_release.sql. */
    [S_ALBUM_UPSERT] =
        "INSERT INTO albums(id, artist_id, name, year, genre, compilation, mbid, release) "
        "VALUES (" NEXT_ID(
            "albums") ", ?1, ?2, ?3, ?4, ?5, ?6, ?6) "
                      "ON CONFLICT(artist_id, name, release) DO UPDATE SET "
                      "year = CASE WHEN excluded.year > 0 THEN excluded.year ELSE year END, "
                      "genre = CASE WHEN excluded.genre <> '' THEN excluded.genre ELSE genre END, "
                      "compilation = excluded.compilation OR compilation, "
                      "mbid = CASE WHEN excluded.mbid <> '' THEN excluded.mbid ELSE mbid END "
                      "RETURNING id",
    [S_FILES] = "SELECT id, path, size, mtime_ns, ctime_ns, cover_path FROM tracks",
    [S_PRUNE_ALBUMS] = "DELETE FROM albums WHERE NOT EXISTS "
                       "(SELECT 1 FROM tracks WHERE tracks.album_id = albums.id)",
    [S_PRUNE_ARTISTS] = "DELETE FROM artists WHERE NOT EXISTS "
                        "(SELECT 1 FROM albums WHERE albums.artist_id = artists.id)",
    /* The upsert only ever sets the flag (an album is a compilation when
     * any of its tracks says so); a retag that clears it on every track
     * clears it here. */
    [S_ALBUMS_UNFLAG] = "UPDATE albums SET compilation = 0 WHERE compilation <> 0 AND NOT EXISTS "
                        "(SELECT 1 FROM tracks WHERE tracks.album_id = albums.id "
                        "AND tracks.compilation <> 0)",
    /* An album's genre and MusicBrainz id are its tracks' most common
     * (ties: the first by name), its year their latest: what the tracks say
     * now, not what the last track written said (the upsert keeps a value
     * when a track has none, so a tag removed from every track stayed). */
    [S_ALBUMS_REFRESH] =
        "UPDATE albums SET genre = g.genre, year = g.year, mbid = g.mbid FROM (SELECT album_id, "
        "coalesce((SELECT t2.genre FROM tracks t2 WHERE t2.album_id = t.album_id AND "
        "t2.genre <> '' GROUP BY t2.genre ORDER BY count(*) DESC, t2.genre LIMIT 1), '') AS genre, "
        "max(t.year) AS year, coalesce((SELECT t3.mb_album_id FROM tracks t3 WHERE "
        "t3.album_id = t.album_id AND t3.mb_album_id <> '' GROUP BY t3.mb_album_id "
        "ORDER BY count(*) DESC, t3.mb_album_id LIMIT 1), '') AS mbid "
        "FROM tracks t GROUP BY t.album_id) AS g WHERE albums.id = g.album_id AND "
        "(albums.genre <> g.genre OR albums.year <> g.year OR albums.mbid <> g.mbid)",
    [S_COUNTS] = "SELECT (SELECT count(*) FROM tracks), (SELECT count(*) FROM albums), "
                 "(SELECT count(*) FROM artists), (SELECT count(*) FROM users)",
    [S_USER_ADD] = "INSERT INTO users(name, pass_hash, pass_box, is_admin) VALUES (?1, ?2, ?3, ?4)",
    [S_USER_BY_NAME] = "SELECT id, name, pass_hash, pass_box, is_admin, created_at, " USER_ROLES
                       " FROM users WHERE name = ?1",
    [S_USER_BY_ID] = "SELECT id, name, pass_hash, pass_box, is_admin, created_at, " USER_ROLES
                     " FROM users WHERE id = ?1",
    [S_USER_SET_PASSWORD] = "UPDATE users SET pass_hash = ?2, pass_box = ?3 WHERE id = ?1",
    [S_APIKEY_ADD] = "INSERT INTO api_keys(user_id, key_hash, label) VALUES (?1, ?2, ?3)",
    [S_APIKEY_FIND] = "SELECT user_id FROM api_keys WHERE key_hash = ?1",
};

/* A prepared statement cached under the address of its SQL text. */
struct stmt_slot {
    const char *sql;
    sqlite3_stmt *st;
};

struct conn {
    sqlite3 *db;
    int64_t data_version;    /* PRAGMA data_version when last read; -1: never */
    struct stmt_slot *slots; /* open addressing, at most half full */
    size_t cap;
    size_t n;
    struct lg_store *store;
    struct conn *next;
};

struct lg_store {
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards conns */
    struct conn *conns;
    int version;
    /* Moves on after every commit (lg_store_generation); not_wal is set when a
     * connection is not in WAL mode, where no hook reports commits. */
    _Atomic uint64_t generation;
    _Atomic bool not_wal;
};

/* --- the track column table --- */

enum col_type { C_TEXT, C_INT, C_I64 };

struct col {
    const char *name;
    enum col_type type;
    size_t off;
};

#define TC_T(name) { #name, C_TEXT, offsetof(struct lg_track, name) },
#define TC_I(name) { #name, C_INT, offsetof(struct lg_track, name) },
#define TC_L(name) { #name, C_I64, offsetof(struct lg_track, name) },

/* Columns written by upsert and read back by get, in this order. */
static const struct col track_cols[] = { TRACK_COLUMNS(TC_T, TC_I, TC_L) };
#define N_TRACK_COLS ((int)LG_ARRAY_LEN(track_cols))

static pthread_once_t sql_once = PTHREAD_ONCE_INIT;

static void build_track_sql(void)
{
    char cols[1024] = "", params[512] = "", sets[2048] = "";
    size_t nc = 0, np = 0, ns = 0;
    for (int i = 0; i < N_TRACK_COLS; i++) {
        const char *sep = i ? ", " : "";
        const char *n = track_cols[i].name;
        nc += (size_t)snprintf(cols + nc, sizeof(cols) - nc, "%st.%s", sep, n);
        np += (size_t)snprintf(params + np, sizeof(params) - np, "%s?%d", sep, i + 1);
        ns += (size_t)snprintf(sets + ns, sizeof(sets) - ns, "%s%s = excluded.%s", sep, n, n);
    }
    snprintf(track_get_sql, sizeof(track_get_sql),
             "SELECT t.id, t.album_id, a.artist_id, t.created_at, %s FROM tracks t "
             "JOIN albums a ON a.id = t.album_id WHERE t.id = ?1",
             cols);
    /* Column names without the "t." prefix for the INSERT list. */
    char plain[1024] = "";
    size_t pn = 0;
    for (int i = 0; i < N_TRACK_COLS; i++)
        pn += (size_t)snprintf(plain + pn, sizeof(plain) - pn, "%s%s", i ? ", " : "",
                               track_cols[i].name);
    snprintf(
        track_upsert_sql, sizeof(track_upsert_sql),
        "INSERT INTO tracks(id, %s, album_id) VALUES (" NEXT_ID(
            "tracks") ", %s, ?%d) "
                      "ON CONFLICT(path) DO UPDATE SET "
                      "%s, album_id = excluded.album_id, updated_at = unixepoch() RETURNING id",
        plain, params, N_TRACK_COLS + 1, sets);
}

/* --- connections --- */

int lg_store_fail(sqlite3 *db, const char *what)
{
    lg_log(&slog, LG_LOG_ERROR, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return LG_ESTORE;
}

static void conn_close(struct conn *c)
{
    for (size_t i = 0; i < c->cap; i++)
        sqlite3_finalize(c->slots[i].st);
    free(c->slots);
    sqlite3_close_v2(c->db);
    free(c);
}

static void unlink_conn(struct lg_store *s, struct conn *c)
{
    pthread_mutex_lock(&s->lock);
    for (struct conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* Runs at thread exit for threads that used the store. */
static void conn_destructor(void *p)
{
    struct conn *c = p;
    unlink_conn(c->store, c);
    conn_close(c);
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        lg_log(&slog, LG_LOG_ERROR, "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return LG_ESTORE;
    }
    return 0;
}

/* Waits for another connection's write lock. SQLite's own busy handler
 * sleeps 1, 2, 5, 10... ms between tries, which turns a lock held for a
 * millisecond (one fsync) into a wait of several: here a waiter retries
 * every 50 us for its first 10 ms, then every millisecond, and gives up
 * after about BUSY_MS. */
enum { BUSY_MS = 15000, BUSY_FAST_TRIES = 200, BUSY_FAST_US = 50 };

static int busy_wait(void *ctx, int tries)
{
    (void)ctx;
    int64_t waited_us = tries < BUSY_FAST_TRIES ? (int64_t)tries * BUSY_FAST_US
                                                : (int64_t)BUSY_FAST_TRIES * BUSY_FAST_US +
                                                      (int64_t)(tries - BUSY_FAST_TRIES) * 1000;
    if (waited_us >= (int64_t)BUSY_MS * 1000)
        return 0;
    long ns = tries < BUSY_FAST_TRIES ? BUSY_FAST_US * 1000L : 1000000L;
    struct timespec ts = { 0, ns };
    nanosleep(&ts, NULL);
    return 1;
}

static void bump(struct lg_store *s)
{
    atomic_fetch_add(&s->generation, 1);
}

/* Before a commit of this connection: a reader that takes the new number
 * now may still read the old rows, which the bump after the commit voids. */
static int on_commit(void *ctx)
{
    bump(ctx);
    return 0;
}

/* After a commit (WAL mode), once readers see it. Registering this replaces
 * SQLite's automatic checkpoint, which it therefore does the same way: a
 * passive checkpoint once the log holds AUTO_CHECKPOINT pages. */
enum { AUTO_CHECKPOINT = 1000 };

static int on_wal(void *ctx, sqlite3 *db, const char *name, int pages)
{
    bump(ctx);
    if (pages >= AUTO_CHECKPOINT)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static bool in_wal_mode(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool wal = false;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
    {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        wal = mode && strcmp(mode, "wal") == 0;
    }
    sqlite3_finalize(st);
    return wal;
}

static int conn_open(struct lg_store *s, sqlite3 **out)
{
    const char *path = s->path;
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        int r = lg_store_fail(db, path);
        sqlite3_close_v2(db);
        return r;
    }
    sqlite3_busy_handler(db, busy_wait, NULL);
    /* WAL lets readers run beside the writer; FULL makes a commit durable when
     * it returns, which user writes (accounts, playlists, stars) rely on. */
    int r = exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                     "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;");
    if (r < 0) {
        sqlite3_close_v2(db);
        return r;
    }
    if (!in_wal_mode(db))
        atomic_store(&s->not_wal, true);
    sqlite3_commit_hook(db, on_commit, s);
    sqlite3_wal_hook(db, on_wal, s);
    *out = db;
    return 0;
}

static struct conn *get_conn(struct lg_store *s)
{
    struct conn *c = pthread_getspecific(s->key);
    if (c)
        return c;
    sqlite3 *db;
    if (conn_open(s, &db) < 0)
        return NULL;
    c = lg_xcalloc(1, sizeof(*c));
    c->db = db;
    c->data_version = -1;
    c->store = s;
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    pthread_setspecific(s->key, c);
    return c;
}

static size_t slot_hash(const char *sql, size_t cap)
{
    return (size_t)(((uintptr_t)sql >> 3) * 0x9e3779b97f4a7c15u) & (cap - 1);
}

static void slots_grow(struct conn *c)
{
    size_t cap = c->cap ? c->cap * 2 : 64;
    struct stmt_slot *slots = lg_xcalloc(cap, sizeof(*slots));
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].sql)
            continue;
        size_t j = slot_hash(c->slots[i].sql, cap);
        while (slots[j].sql)
            j = (j + 1) & (cap - 1);
        slots[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = slots;
    c->cap = cap;
}

sqlite3_stmt *lg_store_stmt(struct lg_store *s, const char *sql)
{
    struct conn *c = get_conn(s);
    if (!c)
        return NULL;
    if (2 * (c->n + 1) > c->cap)
        slots_grow(c);
    size_t i = slot_hash(sql, c->cap);
    while (c->slots[i].sql && c->slots[i].sql != sql)
        i = (i + 1) & (c->cap - 1);
    sqlite3_stmt *st = c->slots[i].st;
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        lg_store_fail(c->db, sql);
        return NULL;
    }
    c->slots[i].sql = sql;
    c->slots[i].st = st;
    c->n++;
    return st;
}

static sqlite3_stmt *stmt(struct lg_store *s, enum stmt_id id)
{
    return lg_store_stmt(s, stmt_sql[id]);
}

/* Steps a statement that returns no row (or whose rows are ignored). */
int lg_store_collect(sqlite3_stmt *st, size_t elem, lg_store_row_fn *read,
                     lg_store_rows_free_fn *release, void **out, size_t *n_out)
{
    char *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            v = lg_xrealloc(v, cap * elem);
        }
        read(st, v + n * elem);
        n++;
    }
    if (rc != SQLITE_DONE) {
        int r = lg_store_fail(sqlite3_db_handle(st), sqlite3_sql(st));
        sqlite3_reset(st);
        release(v, n);
        return r;
    }
    sqlite3_reset(st);
    *out = v;
    *n_out = n;
    return 0;
}

int lg_store_add_ids(struct lg_store *s, const char *sql, int64_t owner, int64_t pos,
                     const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = lg_store_stmt(s, sql);
        if (!st)
            return LG_ESTORE;
        sqlite3_bind_int64(st, 1, owner);
        sqlite3_bind_int64(st, 2, pos + (int64_t)i);
        sqlite3_bind_int64(st, 3, ids[i]);
        int r = lg_store_step_done(st);
        if (r < 0)
            return r;
        if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
            return LG_EINVAL;
    }
    return 0;
}

int lg_store_run_i64(struct lg_store *s, const char *sql, int64_t v)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, v);
    return lg_store_step_done(st);
}

int lg_store_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int r = 0;
    if (rc == SQLITE_CONSTRAINT) {
        r = LG_EEXIST;
    } else if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        r = lg_store_fail(sqlite3_db_handle(st), sqlite3_sql(st));
    }
    sqlite3_reset(st);
    return r;
}

int lg_store_int(struct lg_store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* Steps a statement expected to return one row; LG_ENOTFOUND when none. The
 * statement is left on the row for the caller to read, then reset. */
int lg_store_step_row(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 0;
    int r =
        rc == SQLITE_DONE ? LG_ENOTFOUND : lg_store_fail(sqlite3_db_handle(st), sqlite3_sql(st));
    if (rc == SQLITE_CONSTRAINT)
        r = LG_EEXIST;
    sqlite3_reset(st);
    return r;
}

char *lg_store_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return lg_xstrdup(t ? (const char *)t : "");
}

/* --- migrations --- */

/* Counts the rows that refer to a row that does not exist (*first: the
 * table of the first, or ""). */
static int foreign_key_breaks(sqlite3 *db, int64_t *n, char first[64])
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
        return lg_store_fail(db, "foreign_key_check");
    int rc;
    *n = 0;
    first[0] = '\0';
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *tbl = sqlite3_column_text(st, 0);
        if ((*n)++ == 0)
            snprintf(first, 64, "%s", tbl ? (const char *)tbl : "?");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : lg_store_fail(db, "foreign_key_check");
}

/*
 * Applies the migrations the database lacks, each in a transaction of its
 * own. They run with foreign keys off (a table rebuilt under them would
 * take the rows that refer to it along, or refuse to go: 0015), and a
 * migration that leaves more broken references than there were before it
 * (a database edited by hand may have some) is rolled back.
 */
static int migrate(sqlite3 *db, int *version)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return lg_store_fail(db, "user_version");
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (v < 0)
        return lg_store_fail(db, "user_version");
    if (v > (int)lg_migration_count) {
        lg_log(&slog, LG_LOG_ERROR,
               "database schema version %d is newer than this legato knows (%zu); "
               "use a newer legato",
               v, lg_migration_count);
        return LG_ESTORE;
    }
    if (v == (int)lg_migration_count) {
        *version = v;
        return 0;
    }
    int64_t breaks = 0, now = 0;
    char tbl[64];
    int r = exec(db, "PRAGMA foreign_keys = OFF");
    if (r == 0)
        r = foreign_key_breaks(db, &breaks, tbl);
    if (r == 0 && breaks > 0)
        lg_log(&slog, LG_LOG_WARN,
               "database: %lld rows refer to rows that do not exist (the first in %s; "
               "`sqlite3 legato.db 'PRAGMA foreign_key_check'` lists them)",
               (long long)breaks, tbl);
    for (size_t i = (size_t)v; i < lg_migration_count && r == 0; i++) {
        const struct lg_embedded *m = &lg_migration_files[i];
        lg_assert(strtol(m->name, NULL, 10) == (long)i + 1);
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu", i + 1);
        r = exec(db, "BEGIN IMMEDIATE");
        if (r == 0)
            r = exec(db, (const char *)m->data);
        if (r == 0)
            r = exec(db, pragma);
        if (r == 0)
            r = foreign_key_breaks(db, &now, tbl);
        if (r == 0 && now > breaks) {
            lg_log(&slog, LG_LOG_ERROR, "migration %s: %lld rows refer to none (the first in %s)",
                   m->name, (long long)(now - breaks), tbl);
            r = LG_ESTORE;
        }
        if (r == 0)
            r = exec(db, "COMMIT");
        if (r < 0) {
            exec(db, "ROLLBACK");
            lg_log(&slog, LG_LOG_ERROR, "migration %s failed", m->name);
        } else {
            lg_log(&slog, LG_LOG_INFO, "applied migration %s", m->name);
            breaks = now; /* what the next one is measured against */
        }
    }
    int on = exec(db, "PRAGMA foreign_keys = ON");
    if (r < 0)
        return r;
    if (on < 0)
        return on;
    *version = (int)lg_migration_count;
    return 0;
}

static int mkdir_parent(const char *path)
{
    int r = lg_mkdir_parent(path, 0700);
    if (r < 0)
        lg_log(&slog, LG_LOG_ERROR, "cannot create the folder of %s: %s", path, lg_strerror(r));
    return r;
}

static void global_init(void)
{
    /* Memory statistics take a global mutex on every allocation; legato
     * never reads them. Must run before SQLite initialises itself. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    build_track_sql();
}

int lg_store_open(const char *path, struct lg_store **out)
{
    pthread_once(&sql_once, global_init);
    int r = mkdir_parent(path);
    if (r < 0)
        return r;
    struct lg_store *s = lg_xcalloc(1, sizeof(*s));
    s->path = lg_xstrdup(path);
    pthread_mutex_init(&s->lock, NULL);
    if (pthread_key_create(&s->key, conn_destructor) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s->path);
        free(s);
        return -EAGAIN;
    }
    struct conn *c = get_conn(s);
    r = c ? migrate(c->db, &s->version) : LG_ESTORE;
    if (r < 0) {
        lg_store_close(s);
        return r;
    }
    *out = s;
    return 0;
}

void lg_store_close(struct lg_store *s)
{
    if (!s)
        return;
    pthread_setspecific(s->key, NULL);
    pthread_key_delete(s->key);
    while (s->conns) {
        struct conn *c = s->conns;
        s->conns = c->next;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

int lg_store_generation(struct lg_store *s, uint64_t *out)
{
    if (atomic_load(&s->not_wal))
        return -ENOTSUP;
    static const char data_version_sql[] = "PRAGMA data_version";
    struct conn *c = get_conn(s);
    int64_t v;
    int r = c ? lg_store_int(s, data_version_sql, &v) : LG_ESTORE;
    if (r < 0)
        return r;
    /* Another connection committed since this one last looked: if it was
     * another process's, no hook here saw it. */
    if (v != c->data_version) {
        c->data_version = v;
        bump(s);
    }
    *out = atomic_load(&s->generation);
    return 0;
}

int lg_store_schema_version(struct lg_store *s)
{
    return s->version;
}

int lg_store_migrations_count(void)
{
    return (int)lg_migration_count;
}

int lg_store_begin(struct lg_store *s)
{
    sqlite3_stmt *st = stmt(s, S_BEGIN);
    return st ? lg_store_step_done(st) : LG_ESTORE;
}

int lg_store_commit(struct lg_store *s)
{
    sqlite3_stmt *st = stmt(s, S_COMMIT);
    int r = st ? lg_store_step_done(st) : LG_ESTORE;
    if (r < 0)
        lg_store_rollback(s);
    return r;
}

int lg_store_lazy(struct lg_store *s, bool lazy)
{
    sqlite3_stmt *st = stmt(s, lazy ? S_SYNC_NORMAL : S_SYNC_FULL);
    return st ? lg_store_step_done(st) : LG_ESTORE;
}

void lg_store_rollback(struct lg_store *s)
{
    struct conn *c = get_conn(s);
    if (c && !sqlite3_get_autocommit(c->db)) {
        sqlite3_stmt *st = stmt(s, S_ROLLBACK);
        if (st && lg_store_step_done(st) < 0)
            lg_log(&slog, LG_LOG_WARN, "rollback failed");
    }
}

/* --- meta --- */

int lg_store_meta_get(struct lg_store *s, const char *key, char **out)
{
    sqlite3_stmt *st = stmt(s, S_META_GET);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *out = lg_store_col_text(st, 0);
    sqlite3_reset(st);
    return 0;
}

int lg_store_meta_set(struct lg_store *s, const char *key, const char *value)
{
    sqlite3_stmt *st = stmt(s, S_META_SET);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return lg_store_step_done(st);
}

/* --- tracks --- */

void lg_track_free(struct lg_track *t)
{
    if (!t)
        return;
    for (int i = 0; i < N_TRACK_COLS; i++) {
        if (track_cols[i].type == C_TEXT) {
            char **p = (char **)((char *)t + track_cols[i].off);
            free(*p);
            *p = NULL;
        }
    }
}

int lg_store_track_get(struct lg_store *s, int64_t id, struct lg_track *out)
{
    sqlite3_stmt *st = stmt(s, S_TRACK_GET);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    struct lg_track t = { 0 };
    t.id = sqlite3_column_int64(st, 0);
    t.album_id = sqlite3_column_int64(st, 1);
    t.artist_id = sqlite3_column_int64(st, 2);
    t.created_at = sqlite3_column_int64(st, 3);
    for (int i = 0; i < N_TRACK_COLS; i++) {
        char *field = (char *)&t + track_cols[i].off;
        int c = i + 4;
        if (track_cols[i].type == C_TEXT)
            *(char **)field = lg_store_col_text(st, c);
        else if (track_cols[i].type == C_INT)
            *(int *)field = sqlite3_column_int(st, c);
        else
            *(int64_t *)field = sqlite3_column_int64(st, c);
    }
    sqlite3_reset(st);
    *out = t;
    return 0;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* The artist an album is filed under. */
static const char *album_artist_name(const struct lg_track *t)
{
    if (t->album_artist && *t->album_artist)
        return t->album_artist;
    if (t->compilation)
        return "Various Artists";
    if (t->artist && *t->artist)
        return t->artist;
    return "Unknown Artist";
}

static int upsert_returning(sqlite3_stmt *st, int64_t *id)
{
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int upsert_album(struct lg_store *s, const struct lg_track *t, int64_t *album_id)
{
    sqlite3_stmt *st = stmt(s, S_ARTIST_UPSERT);
    if (!st)
        return LG_ESTORE;
    const char *mbid = *nz(t->mb_album_artist_id) ? t->mb_album_artist_id : "";
    if (!*mbid && !(t->album_artist && *t->album_artist))
        mbid = nz(t->mb_artist_id);
    sqlite3_bind_text(st, 1, album_artist_name(t), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, mbid, -1, SQLITE_STATIC);
    int64_t artist_id;
    int r = upsert_returning(st, &artist_id);
    if (r < 0)
        return r;
    st = stmt(s, S_ALBUM_UPSERT);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, artist_id);
    sqlite3_bind_text(st, 2, *nz(t->album) ? t->album : "Unknown Album", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, t->year);
    sqlite3_bind_text(st, 4, nz(t->genre), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, t->compilation != 0);
    sqlite3_bind_text(st, 6, nz(t->mb_album_id), -1, SQLITE_STATIC);
    return upsert_returning(st, album_id);
}

int lg_store_track_upsert(struct lg_store *s, const struct lg_track *t, int64_t *id_out)
{
    int64_t album_id;
    int r = upsert_album(s, t, &album_id);
    if (r < 0)
        return r;
    sqlite3_stmt *st = stmt(s, S_TRACK_UPSERT);
    if (!st)
        return LG_ESTORE;
    for (int i = 0; i < N_TRACK_COLS; i++) {
        const char *field = (const char *)t + track_cols[i].off;
        if (track_cols[i].type == C_TEXT)
            sqlite3_bind_text(st, i + 1, nz(*(char *const *)field), -1, SQLITE_STATIC);
        else if (track_cols[i].type == C_INT)
            sqlite3_bind_int(st, i + 1, *(const int *)field);
        else
            sqlite3_bind_int64(st, i + 1, *(const int64_t *)field);
    }
    sqlite3_bind_int64(st, N_TRACK_COLS + 1, album_id);
    int64_t id;
    r = upsert_returning(st, &id);
    if (r == 0 && id_out)
        *id_out = id;
    return r;
}

int lg_store_track_delete(struct lg_store *s, int64_t id)
{
    sqlite3_stmt *st = stmt(s, S_TRACK_DELETE);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    return lg_store_step_done(st);
}

/* Runs statement which with id as ?1 and text as ?2. */
static int run_id_text(struct lg_store *s, enum stmt_id which, int64_t id, const char *text)
{
    sqlite3_stmt *st = stmt(s, which);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    return lg_store_step_done(st);
}

int lg_store_track_set_cover(struct lg_store *s, int64_t id, const char *cover_path)
{
    return run_id_text(s, S_TRACK_SET_COVER, id, nz(cover_path));
}

int lg_store_track_set_ctime(struct lg_store *s, int64_t id, int64_t ctime_ns)
{
    sqlite3_stmt *st = stmt(s, S_TRACK_SET_CTIME);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, ctime_ns);
    return lg_store_step_done(st);
}

int lg_store_track_rename(struct lg_store *s, int64_t id, const char *path)
{
    return run_id_text(s, S_TRACK_RENAME, id, path);
}

int lg_store_files_each(struct lg_store *s, lg_store_file_fn *fn, void *ud)
{
    sqlite3_stmt *st = stmt(s, S_FILES);
    if (!st)
        return LG_ESTORE;
    int rc;
    int r = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *path = sqlite3_column_text(st, 1);
        const unsigned char *cover = sqlite3_column_text(st, 5);
        r = fn(ud, sqlite3_column_int64(st, 0), path ? (const char *)path : "",
               sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
               sqlite3_column_int64(st, 4), cover ? (const char *)cover : "");
        if (r != 0)
            break;
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = lg_store_fail(sqlite3_db_handle(st), "listing files");
    sqlite3_reset(st);
    return r;
}

int lg_store_prune(struct lg_store *s)
{
    int n = 0;
    static const enum stmt_id ids[] = { S_PRUNE_ALBUMS, S_PRUNE_ARTISTS, S_ALBUMS_UNFLAG,
                                        S_ALBUMS_REFRESH };
    for (size_t i = 0; i < LG_ARRAY_LEN(ids); i++) {
        sqlite3_stmt *st = stmt(s, ids[i]);
        if (!st)
            return LG_ESTORE;
        int r = lg_store_step_done(st);
        if (r < 0)
            return r;
        n += sqlite3_changes(sqlite3_db_handle(st));
    }
    return n;
}

int lg_store_counts(struct lg_store *s, struct lg_store_counts *out)
{
    sqlite3_stmt *st = stmt(s, S_COUNTS);
    if (!st)
        return LG_ESTORE;
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    out->tracks = sqlite3_column_int64(st, 0);
    out->albums = sqlite3_column_int64(st, 1);
    out->artists = sqlite3_column_int64(st, 2);
    out->users = sqlite3_column_int64(st, 3);
    sqlite3_reset(st);
    return 0;
}

/* --- users --- */

void lg_user_free(struct lg_user *u)
{
    if (!u)
        return;
    free(u->name);
    free(u->pass_hash);
    free(u->pass_box);
    u->name = NULL;
    u->pass_hash = NULL;
    u->pass_box = NULL;
}

int lg_store_user_add(struct lg_store *s, const struct lg_user *u, int64_t *id_out)
{
    sqlite3_stmt *st = stmt(s, S_USER_ADD);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_text(st, 1, u->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, u->pass_hash, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, u->pass_box, (int)u->pass_box_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, u->is_admin != 0);
    int r = lg_store_step_done(st);
    if (r == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
    return r;
}

static int user_read(sqlite3_stmt *st, struct lg_user *out)
{
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    struct lg_user u = { 0 };
    u.id = sqlite3_column_int64(st, 0);
    u.name = lg_store_col_text(st, 1);
    u.pass_hash = lg_store_col_text(st, 2);
    u.pass_box_len = (size_t)sqlite3_column_bytes(st, 3);
    u.pass_box = lg_xmalloc(u.pass_box_len);
    if (u.pass_box_len)
        memcpy(u.pass_box, sqlite3_column_blob(st, 3), u.pass_box_len);
    u.is_admin = sqlite3_column_int(st, 4);
    u.created_at = sqlite3_column_int64(st, 5);
    u.roles = (unsigned)sqlite3_column_int(st, 6);
    sqlite3_reset(st);
    *out = u;
    return 0;
}

int lg_store_user_get_by_name(struct lg_store *s, const char *name, struct lg_user *out)
{
    sqlite3_stmt *st = stmt(s, S_USER_BY_NAME);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return user_read(st, out);
}

int lg_store_user_get(struct lg_store *s, int64_t id, struct lg_user *out)
{
    sqlite3_stmt *st = stmt(s, S_USER_BY_ID);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    return user_read(st, out);
}

int lg_store_user_set_password(struct lg_store *s, int64_t id, const char *pass_hash,
                               const unsigned char *box, size_t box_len)
{
    sqlite3_stmt *st = stmt(s, S_USER_SET_PASSWORD);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, pass_hash, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, box, (int)box_len, SQLITE_STATIC);
    int r = lg_store_step_done(st);
    if (r == 0 && sqlite3_changes(sqlite3_db_handle(st)) == 0)
        r = LG_ENOTFOUND;
    return r;
}

int lg_store_apikey_add(struct lg_store *s, int64_t user_id, const unsigned char hash[32],
                        const char *label)
{
    sqlite3_stmt *st = stmt(s, S_APIKEY_ADD);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, nz(label), -1, SQLITE_STATIC);
    return lg_store_step_done(st);
}

int lg_store_apikey_find(struct lg_store *s, const unsigned char hash[32], int64_t *user_id)
{
    sqlite3_stmt *st = stmt(s, S_APIKEY_FIND);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *user_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}
