/* SPDX-License-Identifier: MIT */
/*
 * Playlists, bookmarks and play queues in SQLite (migration 0004). Access
 * rules live here, next to the queries: a user sees their own playlists and
 * the public ones, and changes only their own. Entry positions are unique per
 * list and increase in list order; deleting a track leaves a gap, so indexes
 * given by clients are ranks, mapped to positions inside the transaction that
 * uses them. Multi-statement changes run in one transaction on the calling
 * thread's connection, which must not have one open already.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

/* The columns every playlist query returns, in the order read_playlist reads. */
#define PL_COLS                                                                               \
    "p.id, p.owner_id, u.name, p.name, p.comment, p.public, p.created_at, p.changed_at, "     \
    "coalesce(p.source_path, ''), "                                                           \
    "(SELECT count(*) FROM playlist_entries e WHERE e.playlist_id = p.id), "                  \
    "(SELECT coalesce(sum(t.duration_ms), 0) FROM playlist_entries e "                        \
    "JOIN tracks t ON t.id = e.track_id WHERE e.playlist_id = p.id), "                        \
    "coalesce((SELECT t.album_id FROM playlist_entries e JOIN tracks t ON t.id = e.track_id " \
    "WHERE e.playlist_id = p.id ORDER BY e.position LIMIT 1), 0) "                            \
    "FROM playlists p JOIN users u ON u.id = p.owner_id "

static const char sql_pl_list[] = "SELECT " PL_COLS "WHERE p.owner_id = ?1 OR p.public "
                                  "ORDER BY p.name COLLATE NOCASE, p.id";
static const char sql_pl_get[] = "SELECT " PL_COLS "WHERE p.id = ?1 AND "
                                 "(p.owner_id = ?2 OR p.public OR ?3)";
static const char sql_pl_access[] =
    "SELECT owner_id, public, source_path IS NOT NULL FROM playlists WHERE id = ?1";
static const char sql_pl_entries[] =
    "SELECT track_id FROM playlist_entries WHERE playlist_id = ?1 ORDER BY position";
static const char sql_pl_positions[] =
    "SELECT position FROM playlist_entries WHERE playlist_id = ?1 ORDER BY position";
static const char sql_pl_next_pos[] =
    "SELECT coalesce(max(position) + 1, 0) FROM playlist_entries WHERE playlist_id = ?1";
/* Inserts nothing when the track does not exist: the caller checks changes. */
static const char sql_pl_entry_add[] = "INSERT INTO playlist_entries(playlist_id, position, "
                                       "track_id) SELECT ?1, ?2, id FROM tracks WHERE id = ?3";
static const char sql_pl_entry_del[] =
    "DELETE FROM playlist_entries WHERE playlist_id = ?1 AND position = ?2";
static const char sql_pl_entries_clear[] = "DELETE FROM playlist_entries WHERE playlist_id = ?1";
static const char sql_pl_create[] = "INSERT INTO playlists(owner_id, name) VALUES (?1, ?2)";
static const char sql_pl_set_name[] = "UPDATE playlists SET name = ?2 WHERE id = ?1";
static const char sql_pl_set_comment[] = "UPDATE playlists SET comment = ?2 WHERE id = ?1";
static const char sql_pl_set_public[] = "UPDATE playlists SET public = ?2 WHERE id = ?1";
static const char sql_pl_touch[] = "UPDATE playlists SET changed_at = unixepoch() WHERE id = ?1";
static const char sql_pl_delete[] = "DELETE FROM playlists WHERE id = ?1";
static const char sql_pl_sources[] =
    "SELECT id, source_path, source_mtime_ns FROM playlists WHERE source_path IS NOT NULL";
static const char sql_pl_by_source[] =
    "SELECT id, owner_id, name FROM playlists WHERE source_path = ?1";
static const char sql_pl_import_new[] =
    "INSERT INTO playlists(owner_id, name, public, source_path, source_mtime_ns) "
    "VALUES (?1, ?2, 1, ?3, ?4)";
static const char sql_pl_import_set[] = "UPDATE playlists SET owner_id = ?2, name = ?3, "
                                        "public = 1, source_mtime_ns = ?4 WHERE id = ?1";
static const char sql_first_admin[] = "SELECT id FROM users WHERE is_admin ORDER BY id LIMIT 1";
static const char sql_track_by_path[] = "SELECT id FROM tracks WHERE path = ?1";

static const char sql_bm_list[] = "SELECT track_id, position_ms, comment, created_at, changed_at "
                                  "FROM bookmarks WHERE user_id = ?1 "
                                  "ORDER BY changed_at DESC, track_id";
static const char sql_bm_set[] =
    "INSERT INTO bookmarks(user_id, track_id, position_ms, comment) "
    "SELECT ?1, id, ?3, ?4 FROM tracks WHERE id = ?2 "
    "ON CONFLICT(user_id, track_id) DO UPDATE SET position_ms = excluded.position_ms, "
    "comment = excluded.comment, changed_at = unixepoch()";
static const char sql_bm_delete[] = "DELETE FROM bookmarks WHERE user_id = ?1 AND track_id = ?2";

static const char sql_pq_get[] =
    "SELECT coalesce(current_id, 0), position_ms, changed_at, changed_by "
    "FROM play_queue WHERE user_id = ?1";
static const char sql_pq_entries[] =
    "SELECT track_id FROM play_queue_entries WHERE user_id = ?1 ORDER BY position";
static const char sql_pq_clear[] = "DELETE FROM play_queue WHERE user_id = ?1";
static const char sql_pq_set[] =
    "INSERT INTO play_queue(user_id, current_id, position_ms, changed_at, changed_by) "
    "VALUES (?1, ?2, ?3, unixepoch(), ?4)";
static const char sql_pq_entry_add[] = "INSERT INTO play_queue_entries(user_id, position, "
                                       "track_id) SELECT ?1, ?2, id FROM tracks WHERE id = ?3";

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* --- small helpers --- */

static int changes(sqlite3_stmt *st)
{
    return sqlite3_changes(sqlite3_db_handle(st));
}

/* Runs sql with ?1 = a and (when b_text) ?2 = b_text, expecting no row. */
static int exec_id_text(struct lg_store *s, const char *sql, int64_t a, const char *b_text)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, a);
    if (b_text)
        sqlite3_bind_text(st, 2, b_text, -1, SQLITE_STATIC);
    return lg_store_step_done(st);
}

static int exec_id_int(struct lg_store *s, const char *sql, int64_t a, int64_t b)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    return lg_store_step_done(st);
}

/* Reads the first column of every row of sql (bound with ?1 = id). */
static int read_ints(struct lg_store *s, const char *sql, int64_t id, int64_t **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = lg_xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = sqlite3_column_int64(st, 0);
    }
    int r = rc == SQLITE_DONE ? 0 : lg_store_fail(sqlite3_db_handle(st), sql);
    sqlite3_reset(st);
    if (r < 0) {
        free(v);
        return r;
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* Commits when r is 0, rolls back otherwise; returns the outcome. */
static int finish(struct lg_store *s, int r)
{
    if (r < 0) {
        lg_store_rollback(s);
        return r;
    }
    int c = lg_store_commit(s);
    return c < 0 ? c : r;
}

/* --- playlists --- */

void lg_playlist_free(struct lg_playlist *p)
{
    if (!p)
        return;
    free(p->owner);
    free(p->name);
    free(p->comment);
    free(p->source_path);
    p->owner = p->name = p->comment = p->source_path = NULL;
}

void lg_playlists_free(struct lg_playlist *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lg_playlist_free(&v[i]);
    free(v);
}

static void read_playlist(sqlite3_stmt *st, struct lg_playlist *p)
{
    p->id = sqlite3_column_int64(st, 0);
    p->owner_id = sqlite3_column_int64(st, 1);
    p->owner = lg_store_col_text(st, 2);
    p->name = lg_store_col_text(st, 3);
    p->comment = lg_store_col_text(st, 4);
    p->is_public = sqlite3_column_int(st, 5) != 0;
    p->created_at = sqlite3_column_int64(st, 6);
    p->changed_at = sqlite3_column_int64(st, 7);
    p->source_path = lg_store_col_text(st, 8);
    p->song_count = sqlite3_column_int64(st, 9);
    p->duration_ms = sqlite3_column_int64(st, 10);
    p->cover_album_id = sqlite3_column_int64(st, 11);
}

static int playlist_row(sqlite3_stmt *st, void *dst)
{
    read_playlist(st, dst);
    return 0;
}

static void playlists_release(void *v, size_t n)
{
    lg_playlists_free(v, n);
}

int lg_store_playlists_list(struct lg_store *s, int64_t user_id, struct lg_playlist **out,
                            size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_list);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    void *v;
    int r = lg_store_collect(st, sizeof(struct lg_playlist), playlist_row, playlists_release, &v,
                             n_out);
    if (r == 0)
        *out = v;
    return r;
}

int lg_store_playlist_get(struct lg_store *s, int64_t user_id, bool admin, int64_t id,
                          struct lg_playlist *out, int64_t **ids, size_t *n_ids)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_get);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int(st, 3, admin);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    struct lg_playlist p = { 0 };
    read_playlist(st, &p);
    sqlite3_reset(st);
    if (ids) {
        r = read_ints(s, sql_pl_entries, id, ids, n_ids);
        if (r < 0) {
            lg_playlist_free(&p);
            return r;
        }
    }
    *out = p;
    return 0;
}

int lg_store_playlist_create(struct lg_store *s, int64_t owner_id, const char *name,
                             const int64_t *ids, size_t n, int64_t *id_out)
{
    int r = lg_store_begin(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_create);
    r = st ? 0 : LG_ESTORE;
    if (r == 0) {
        sqlite3_bind_int64(st, 1, owner_id);
        sqlite3_bind_text(st, 2, nz(name), -1, SQLITE_STATIC);
        r = lg_store_step_done(st);
    }
    int64_t id = r == 0 ? sqlite3_last_insert_rowid(sqlite3_db_handle(st)) : 0;
    if (r == 0)
        r = lg_store_add_ids(s, sql_pl_entry_add, id, 0, ids, n);
    r = finish(s, r);
    if (r == 0 && id_out)
        *id_out = id;
    return r;
}

/* Whether user_id may change playlist id: 0, LG_ENOTFOUND (hidden from the
 * user) or LG_EDENIED (visible but another's, or imported from an M3U file:
 * the file is what changes it, and the next scan would undo an edit). */
static int check_owner(struct lg_store *s, int64_t user_id, bool admin, int64_t id)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_access);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    int64_t owner = sqlite3_column_int64(st, 0);
    bool is_public = sqlite3_column_int(st, 1) != 0;
    bool imported = sqlite3_column_int(st, 2) != 0;
    sqlite3_reset(st);
    if (owner == user_id)
        return imported ? LG_EDENIED : 0;
    return is_public || admin ? LG_EDENIED : LG_ENOTFOUND;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Removes the entries at the given indexes (ranks before any removal). */
static int remove_indexes(struct lg_store *s, int64_t id, const int64_t *idx, size_t n)
{
    int64_t *pos = NULL;
    size_t n_pos = 0;
    int r = read_ints(s, sql_pl_positions, id, &pos, &n_pos);
    if (r < 0)
        return r;
    int64_t *sorted = lg_xmalloc(n * sizeof(*sorted));
    memcpy(sorted, idx, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_i64);
    for (size_t i = 0; i < n && r == 0; i++) {
        if (sorted[i] < 0 || (uint64_t)sorted[i] >= n_pos)
            r = LG_ERANGE;
        else if (i == 0 || sorted[i] != sorted[i - 1])
            r = exec_id_int(s, sql_pl_entry_del, id, pos[sorted[i]]);
    }
    free(sorted);
    free(pos);
    return r;
}

static int next_position(struct lg_store *s, int64_t id, int64_t *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_next_pos);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int edit_fields(struct lg_store *s, int64_t id, const struct lg_playlist_edit *e)
{
    int r = 0;
    if (e->name)
        r = exec_id_text(s, sql_pl_set_name, id, e->name);
    if (r == 0 && e->comment)
        r = exec_id_text(s, sql_pl_set_comment, id, e->comment);
    if (r == 0 && e->is_public >= 0)
        r = exec_id_int(s, sql_pl_set_public, id, e->is_public != 0);
    return r;
}

static int edit_entries(struct lg_store *s, int64_t id, const struct lg_playlist_edit *e)
{
    int r = 0;
    if (e->replace)
        r = exec_id_text(s, sql_pl_entries_clear, id, NULL);
    else if (e->n_remove)
        r = remove_indexes(s, id, e->remove, e->n_remove);
    if (r < 0 || e->n_add == 0)
        return r;
    int64_t pos;
    r = next_position(s, id, &pos);
    if (r == 0)
        r = lg_store_add_ids(s, sql_pl_entry_add, id, pos, e->add, e->n_add);
    return r;
}

int lg_store_playlist_edit(struct lg_store *s, int64_t user_id, bool admin, int64_t id,
                           const struct lg_playlist_edit *e)
{
    int r = lg_store_begin(s);
    if (r < 0)
        return r;
    r = check_owner(s, user_id, admin, id);
    if (r == 0)
        r = edit_fields(s, id, e);
    if (r == 0)
        r = edit_entries(s, id, e);
    if (r == 0)
        r = exec_id_text(s, sql_pl_touch, id, NULL);
    return finish(s, r);
}

int lg_store_playlist_delete(struct lg_store *s, int64_t user_id, bool admin, int64_t id)
{
    int r = lg_store_begin(s);
    if (r < 0)
        return r;
    r = check_owner(s, user_id, admin, id);
    if (r == 0)
        r = exec_id_text(s, sql_pl_delete, id, NULL);
    return finish(s, r);
}

/* --- M3U import --- */

void lg_playlist_sources_free(struct lg_playlist_source *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}

static int source_row(sqlite3_stmt *st, void *dst)
{
    *(struct lg_playlist_source *)dst =
        (struct lg_playlist_source){ sqlite3_column_int64(st, 0), lg_store_col_text(st, 1),
                                     sqlite3_column_int64(st, 2) };
    return 0;
}

static void sources_release(void *v, size_t n)
{
    lg_playlist_sources_free(v, n);
}

int lg_store_playlist_sources(struct lg_store *s, struct lg_playlist_source **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_sources);
    if (!st)
        return LG_ESTORE;
    void *v;
    int r = lg_store_collect(st, sizeof(struct lg_playlist_source), source_row, sources_release, &v,
                             n_out);
    if (r == 0)
        *out = v;
    return r;
}

/* Finds the playlist imported from path: 0 with *id, owner and name, or
 * LG_ENOTFOUND. */
static int find_source(struct lg_store *s, const char *path, int64_t *id, int64_t *owner,
                       char **name)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_by_source);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *id = sqlite3_column_int64(st, 0);
    *owner = sqlite3_column_int64(st, 1);
    *name = lg_store_col_text(st, 2);
    sqlite3_reset(st);
    return 0;
}

/* Whether the entries of playlist id are exactly ids; 1, 0 or an error. */
static int same_entries(struct lg_store *s, int64_t id, const int64_t *ids, size_t n)
{
    int64_t *cur = NULL;
    size_t n_cur = 0;
    int r = read_ints(s, sql_pl_entries, id, &cur, &n_cur);
    if (r < 0)
        return r;
    bool same = n_cur == n && (n == 0 || memcmp(cur, ids, n * sizeof(*ids)) == 0);
    free(cur);
    return same;
}

static int import_new(struct lg_store *s, const struct lg_playlist_import *im)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_import_new);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, im->owner_id);
    sqlite3_bind_text(st, 2, im->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, im->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, im->mtime_ns);
    int r = lg_store_step_done(st);
    if (r < 0)
        return r;
    int64_t id = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
    r = lg_store_add_ids(s, sql_pl_entry_add, id, 0, im->ids, im->n);
    return r < 0 ? r : 1;
}

static int import_update(struct lg_store *s, const struct lg_playlist_import *im, int64_t id,
                         bool meta_same)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_import_set);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, im->owner_id);
    sqlite3_bind_text(st, 3, im->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, im->mtime_ns);
    int r = lg_store_step_done(st);
    int same = r < 0 ? r : same_entries(s, id, im->ids, im->n);
    if (same < 0)
        return same;
    if (same && meta_same)
        return 0;
    r = same ? 0 : exec_id_text(s, sql_pl_entries_clear, id, NULL);
    if (r == 0 && !same)
        r = lg_store_add_ids(s, sql_pl_entry_add, id, 0, im->ids, im->n);
    if (r == 0)
        r = exec_id_text(s, sql_pl_touch, id, NULL);
    return r < 0 ? r : 1;
}

int lg_store_playlist_import(struct lg_store *s, const struct lg_playlist_import *im)
{
    int r = lg_store_begin(s);
    if (r < 0)
        return r;
    int64_t id, owner;
    char *name = NULL;
    r = find_source(s, im->path, &id, &owner, &name);
    if (r == LG_ENOTFOUND)
        r = import_new(s, im);
    else if (r == 0)
        r = import_update(s, im, id, owner == im->owner_id && strcmp(name, im->name) == 0);
    free(name);
    return finish(s, r);
}

int lg_store_playlist_remove(struct lg_store *s, int64_t id)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pl_delete);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int r = lg_store_step_done(st);
    if (r == 0 && changes(st) == 0)
        r = LG_ENOTFOUND;
    return r;
}

static int one_int(struct lg_store *s, const char *sql, const char *text, int64_t *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    if (text)
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

int lg_store_first_admin(struct lg_store *s, int64_t *user_id)
{
    return one_int(s, sql_first_admin, NULL, user_id);
}

int lg_store_track_id_by_path(struct lg_store *s, const char *path, int64_t *id)
{
    return one_int(s, sql_track_by_path, path, id);
}

/* --- bookmarks --- */

void lg_bookmarks_free(struct lg_bookmark *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].comment);
    free(v);
}

static int bookmark_row(sqlite3_stmt *st, void *dst)
{
    *(struct lg_bookmark *)dst =
        (struct lg_bookmark){ sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                              lg_store_col_text(st, 2), sqlite3_column_int64(st, 3),
                              sqlite3_column_int64(st, 4) };
    return 0;
}

static void bookmarks_release(void *v, size_t n)
{
    lg_bookmarks_free(v, n);
}

int lg_store_bookmarks_list(struct lg_store *s, int64_t user_id, struct lg_bookmark **out,
                            size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_bm_list);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    void *v;
    int r = lg_store_collect(st, sizeof(struct lg_bookmark), bookmark_row, bookmarks_release, &v,
                             n_out);
    if (r == 0)
        *out = v;
    return r;
}

int lg_store_bookmark_set(struct lg_store *s, int64_t user_id, int64_t track_id,
                          int64_t position_ms, const char *comment)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_bm_set);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, track_id);
    sqlite3_bind_int64(st, 3, position_ms);
    sqlite3_bind_text(st, 4, nz(comment), -1, SQLITE_STATIC);
    int r = lg_store_step_done(st);
    if (r == 0 && changes(st) == 0)
        r = LG_ENOTFOUND;
    return r;
}

int lg_store_bookmark_delete(struct lg_store *s, int64_t user_id, int64_t track_id)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_bm_delete);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, track_id);
    int r = lg_store_step_done(st);
    if (r == 0 && changes(st) == 0)
        r = LG_ENOTFOUND;
    return r;
}

/* --- play queues --- */

void lg_play_queue_free(struct lg_play_queue *q)
{
    if (!q)
        return;
    free(q->ids);
    free(q->changed_by);
    q->ids = NULL;
    q->changed_by = NULL;
    q->n = 0;
}

int lg_store_play_queue_get(struct lg_store *s, int64_t user_id, struct lg_play_queue *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pq_get);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    struct lg_play_queue q = { 0 };
    q.current_id = sqlite3_column_int64(st, 0);
    q.position_ms = sqlite3_column_int64(st, 1);
    q.changed_at = sqlite3_column_int64(st, 2);
    q.changed_by = lg_store_col_text(st, 3);
    sqlite3_reset(st);
    r = read_ints(s, sql_pq_entries, user_id, &q.ids, &q.n);
    if (r < 0) {
        lg_play_queue_free(&q);
        return r;
    }
    *out = q;
    return 0;
}

static int queue_insert(struct lg_store *s, int64_t user_id, const struct lg_play_queue *q)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_pq_set);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    if (q->current_id > 0)
        sqlite3_bind_int64(st, 2, q->current_id);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, q->position_ms);
    sqlite3_bind_text(st, 4, nz(q->changed_by), -1, SQLITE_STATIC);
    int r = lg_store_step_done(st);
    /* The only constraint that can fail here is current_id's foreign key. */
    return r == LG_EEXIST ? LG_EINVAL : r;
}

int lg_store_play_queue_save(struct lg_store *s, int64_t user_id, const struct lg_play_queue *q)
{
    int r = lg_store_begin(s);
    if (r < 0)
        return r;
    r = exec_id_text(s, sql_pq_clear, user_id, NULL);
    if (r == 0 && q->n > 0)
        r = queue_insert(s, user_id, q);
    if (r == 0 && q->n > 0)
        r = lg_store_add_ids(s, sql_pq_entry_add, user_id, 0, q->ids, q->n);
    return finish(s, r);
}
