/* SPDX-License-Identifier: MIT */
/*
 * Shares in SQLite (migration 0010): public links to songs, albums and
 * playlists. Tokens reach this file already hashed and sealed
 * (http/share_token.c makes them); a visit finds its share by the hash
 * through a unique index. Albums and playlists are expanded to their tracks
 * by one query when read, so the tracks a link plays and the tracks it lets
 * through (lg_store_share_has_track) are the same set by construction: both
 * queries apply the same rule, including that a playlist counts only while
 * the share's owner may still see it (their own, a public one, or any for an
 * administrator). Ownership rules for changes live here, next to the queries.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

/* The columns every share query returns, in the order read_share reads. */
#define SHARE_COLS                                                                          \
    "sh.id, sh.owner_id, u.name, sh.description, sh.created_ms, "                           \
    "coalesce(sh.expires_ms, 0), coalesce(sh.last_visited_ms, 0), sh.visit_count, "         \
    "sh.allow_download, sh.token_hash, sh.token_box FROM shares sh JOIN users u ON u.id = " \
    "sh.owner_id "

/* Whether the owner of share e.share_id ("sh", "u" joined) may see playlist p. */
#define PLAYLIST_VISIBLE "(p.owner_id = sh.owner_id OR p.public OR u.is_admin) "

static const char sql_get[] = "SELECT " SHARE_COLS "WHERE sh.id = ?1";
static const char sql_by_hash[] = "SELECT " SHARE_COLS "WHERE sh.token_hash = ?1";
static const char sql_list[] = "SELECT " SHARE_COLS "WHERE sh.owner_id = ?1 ORDER BY sh.id";
static const char sql_create[] =
    "INSERT INTO shares(owner_id, token_hash, token_box, description, created_ms, expires_ms, "
    "allow_download) VALUES (?1, ?2, ?3, ?4, ?5, nullif(?6, 0), ?7)";
/* Each inserts nothing when the item does not exist (or, for a playlist,
 * when the owner ?4 may not see it; ?5 is the owner's admin flag): the
 * caller checks the number of changes. */
static const char sql_add_song[] = "INSERT INTO share_entries(share_id, position, track_id) "
                                   "SELECT ?1, ?2, id FROM tracks WHERE id = ?3";
static const char sql_add_album[] = "INSERT INTO share_entries(share_id, position, album_id) "
                                    "SELECT ?1, ?2, id FROM albums WHERE id = ?3";
static const char sql_add_playlist[] =
    "INSERT INTO share_entries(share_id, position, playlist_id) "
    "SELECT ?1, ?2, id FROM playlists WHERE id = ?3 AND (owner_id = ?4 OR public OR ?5)";
static const char sql_owner[] = "SELECT owner_id FROM shares WHERE id = ?1";
static const char sql_update[] =
    "UPDATE shares SET description = coalesce(?2, description), "
    "expires_ms = CASE WHEN ?3 < 0 THEN expires_ms WHEN ?3 = 0 THEN NULL ELSE ?3 END "
    "WHERE id = ?1";
static const char sql_delete[] = "DELETE FROM shares WHERE id = ?1";
static const char sql_visit[] = "UPDATE shares SET visit_count = visit_count + 1, "
                                "last_visited_ms = ?2 WHERE id = ?1";
/* The expansion: entries by position; within an album entry its tracks by
 * disc, number and id; within a playlist entry the playlist's order. */
static const char sql_tracks[] =
    "SELECT tid FROM ("
    "SELECT e.position AS pos, 0 AS k1, 0 AS k2, 0 AS k3, e.track_id AS tid "
    "FROM share_entries e WHERE e.share_id = ?1 AND e.track_id IS NOT NULL "
    "UNION ALL "
    "SELECT e.position, t.disc_no, t.track_no, t.id, t.id FROM share_entries e "
    "JOIN tracks t ON t.album_id = e.album_id WHERE e.share_id = ?1 AND e.album_id IS NOT NULL "
    "UNION ALL "
    "SELECT e.position, pe.position, 0, 0, pe.track_id FROM share_entries e "
    "JOIN playlists p ON p.id = e.playlist_id "
    "JOIN playlist_entries pe ON pe.playlist_id = p.id "
    "JOIN shares sh ON sh.id = e.share_id JOIN users u ON u.id = sh.owner_id "
    "WHERE e.share_id = ?1 AND " PLAYLIST_VISIBLE ") ORDER BY pos, k1, k2, k3";
static const char sql_has_track[] =
    "SELECT 1 FROM share_entries e JOIN shares sh ON sh.id = e.share_id "
    "JOIN users u ON u.id = sh.owner_id WHERE e.share_id = ?1 AND ("
    "e.track_id = ?2 "
    "OR e.album_id = (SELECT album_id FROM tracks WHERE id = ?2) "
    "OR EXISTS (SELECT 1 FROM playlists p JOIN playlist_entries pe ON pe.playlist_id = p.id "
    "WHERE p.id = e.playlist_id AND pe.track_id = ?2 AND " PLAYLIST_VISIBLE ")) LIMIT 1";

void lg_share_free(struct lg_share *sh)
{
    if (!sh)
        return;
    free(sh->owner);
    free(sh->description);
    free(sh->token_box);
    sh->owner = sh->description = NULL;
    sh->token_box = NULL;
    sh->token_box_len = 0;
}

bool lg_share_expired(const struct lg_share *sh, int64_t now_ms)
{
    return sh->expires_ms > 0 && now_ms >= sh->expires_ms;
}

void lg_shares_free(struct lg_share *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lg_share_free(&v[i]);
    free(v);
}

static int read_share(sqlite3_stmt *st, void *dst)
{
    struct lg_share *sh = dst;
    memset(sh, 0, sizeof(*sh));
    sh->id = sqlite3_column_int64(st, 0);
    sh->owner_id = sqlite3_column_int64(st, 1);
    sh->owner = lg_store_col_text(st, 2);
    sh->description = lg_store_col_text(st, 3);
    sh->created_ms = sqlite3_column_int64(st, 4);
    sh->expires_ms = sqlite3_column_int64(st, 5);
    sh->last_visited_ms = sqlite3_column_int64(st, 6);
    sh->visit_count = sqlite3_column_int64(st, 7);
    sh->allow_download = sqlite3_column_int(st, 8) != 0;
    if (sqlite3_column_bytes(st, 9) == (int)sizeof(sh->token_hash))
        memcpy(sh->token_hash, sqlite3_column_blob(st, 9), sizeof(sh->token_hash));
    int n = sqlite3_column_bytes(st, 10);
    const void *box = sqlite3_column_blob(st, 10);
    if (n > 0 && box) {
        sh->token_box = lg_xmalloc((size_t)n);
        memcpy(sh->token_box, box, (size_t)n);
        sh->token_box_len = (size_t)n;
    }
    return 0;
}

static void shares_release(void *v, size_t n)
{
    lg_shares_free(v, n);
}

/* Reads the one row of st (bound by the caller) into *out. */
static int one_share(sqlite3_stmt *st, struct lg_share *out)
{
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    read_share(st, out);
    sqlite3_reset(st);
    return 0;
}

int lg_store_share_get(struct lg_store *s, int64_t id, struct lg_share *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_get);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    return one_share(st, out);
}

int lg_store_share_by_hash(struct lg_store *s, const unsigned char hash[32], struct lg_share *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_by_hash);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    return one_share(st, out);
}

int lg_store_shares_list(struct lg_store *s, int64_t owner_id, struct lg_share **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_list);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, owner_id);
    void *v;
    int r = lg_store_collect(st, sizeof(struct lg_share), read_share, shares_release, &v, n_out);
    if (r == 0)
        *out = v;
    return r;
}

static int insert_share(struct lg_store *s, const struct lg_share_new *in, int64_t *id)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_create);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, in->owner_id);
    sqlite3_bind_blob(st, 2, in->token_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, in->token_box, (int)in->token_box_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, in->description ? in->description : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, in->created_ms);
    sqlite3_bind_int64(st, 6, in->expires_ms > 0 ? in->expires_ms : 0);
    sqlite3_bind_int(st, 7, in->allow_download != 0);
    int r = lg_store_step_done(st);
    if (r == 0)
        *id = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
    return r;
}

static int insert_entry(struct lg_store *s, const struct lg_share_new *in, int64_t id, int64_t pos)
{
    const struct lg_share_item *it = &in->items[pos];
    const char *sql = it->kind == LG_SHARE_ALBUM      ? sql_add_album
                      : it->kind == LG_SHARE_PLAYLIST ? sql_add_playlist
                                                      : sql_add_song;
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, pos);
    sqlite3_bind_int64(st, 3, it->id);
    if (it->kind == LG_SHARE_PLAYLIST) {
        sqlite3_bind_int64(st, 4, in->owner_id);
        sqlite3_bind_int(st, 5, in->owner_admin);
    }
    int r = lg_store_step_done(st);
    if (r == 0 && sqlite3_changes(sqlite3_db_handle(st)) == 0)
        r = LG_EINVAL;
    return r;
}

int lg_store_share_create(struct lg_store *s, const struct lg_share_new *in, int64_t *id_out)
{
    if (in->n_items == 0 || in->token_box_len == 0 || in->token_box_len > INT32_MAX)
        return LG_EINVAL;
    int r = lg_store_begin(s);
    if (r < 0)
        return r;
    int64_t id = 0;
    r = insert_share(s, in, &id);
    for (size_t i = 0; i < in->n_items && r == 0; i++)
        r = insert_entry(s, in, id, (int64_t)i);
    if (r < 0) {
        lg_store_rollback(s);
        return r;
    }
    r = lg_store_commit(s);
    if (r == 0 && id_out)
        *id_out = id;
    return r;
}

/* Whether user_id may change share id: 0, LG_ENOTFOUND or LG_EDENIED. The
 * owner of a share never changes, so the answer cannot go stale. */
static int check_owner(struct lg_store *s, int64_t user_id, bool admin, int64_t id)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_owner);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    int64_t owner = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return owner == user_id || admin ? 0 : LG_EDENIED;
}

/* Runs st (bound by the caller); LG_ENOTFOUND when it changed no row. */
static int change_one(sqlite3_stmt *st)
{
    sqlite3 *db = sqlite3_db_handle(st);
    int r = lg_store_step_done(st);
    if (r == 0 && sqlite3_changes(db) == 0)
        r = LG_ENOTFOUND;
    return r;
}

int lg_store_share_update(struct lg_store *s, int64_t user_id, bool admin, int64_t id,
                          const char *description, int64_t expires_ms)
{
    int r = check_owner(s, user_id, admin, id);
    if (r < 0)
        return r;
    sqlite3_stmt *st = lg_store_stmt(s, sql_update);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    if (description)
        sqlite3_bind_text(st, 2, description, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, expires_ms);
    return change_one(st);
}

int lg_store_share_delete(struct lg_store *s, int64_t user_id, bool admin, int64_t id)
{
    int r = check_owner(s, user_id, admin, id);
    if (r < 0)
        return r;
    sqlite3_stmt *st = lg_store_stmt(s, sql_delete);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    return change_one(st);
}

int lg_store_share_visit(struct lg_store *s, int64_t id, int64_t now_ms)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_visit);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    return change_one(st);
}

int lg_store_share_tracks(struct lg_store *s, int64_t id, int64_t **ids, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_tracks);
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
    int r = rc == SQLITE_DONE ? 0 : lg_store_fail(sqlite3_db_handle(st), "share tracks");
    sqlite3_reset(st);
    if (r < 0) {
        free(v);
        return r;
    }
    *ids = v;
    *n_out = n;
    return 0;
}

int lg_store_share_has_track(struct lg_store *s, int64_t id, int64_t track_id)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_has_track);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, track_id);
    int r = lg_store_step_row(st);
    if (r == LG_ENOTFOUND)
        return 0;
    if (r < 0)
        return r;
    sqlite3_reset(st);
    return 1;
}
