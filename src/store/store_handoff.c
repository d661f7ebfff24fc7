/* SPDX-License-Identifier: MIT */
/*
 * The handoffs and handoff_entries tables (migration 0011): play queues
 * passed between devices through single-use links. Tokens arrive here
 * already hashed (32-byte BLAKE2b); the rules (token generation, lifetime,
 * who may claim) are the callers', except the one that must be atomic:
 * claiming is one UPDATE that succeeds only for the owner, once, before
 * expiry. Entry positions are 0..n-1 when stored; a track deleted since
 * leaves a gap that readers step over.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

static const char ho_purge_sql[] = "DELETE FROM handoffs WHERE expires_s <= ?1";
/* A user's unclaimed links past the newest ?2 give way (their entries go
 * with them): links are made in a stream, and each holds up to 1,000 rows. */
static const char ho_trim_sql[] =
    "DELETE FROM handoffs WHERE id IN (SELECT id FROM handoffs WHERE user_id = ?1 AND used = 0 "
    "ORDER BY id DESC LIMIT -1 OFFSET ?2)";
static const char ho_add_sql[] =
    "INSERT INTO handoffs (hash, user_id, current_pos, position_ms, created_s, expires_s) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/* Inserts nothing when the track does not exist: the caller checks changes. */
static const char ho_entry_sql[] = "INSERT INTO handoff_entries (handoff_id, position, track_id) "
                                   "SELECT ?1, ?2, id FROM tracks WHERE id = ?3";
static const char ho_get_sql[] = "SELECT id, user_id, current_pos, position_ms, created_s, "
                                 "expires_s, used FROM handoffs WHERE hash = ?1";
static const char ho_entries_sql[] =
    "SELECT position, track_id FROM handoff_entries WHERE handoff_id = ?1 ORDER BY position";
static const char ho_claim_sql[] = "UPDATE handoffs SET used = 1 WHERE hash = ?1 AND user_id = ?2 "
                                   "AND used = 0 AND expires_s > ?3";

void lg_handoff_free(struct lg_handoff *h)
{
    if (!h)
        return;
    free(h->ids);
    h->ids = NULL;
    h->n = 0;
}

static int exec_purge(struct lg_store *s, int64_t before_s)
{
    sqlite3_stmt *st = lg_store_stmt(s, ho_purge_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, before_s);
    return lg_store_step_done(st);
}

static int insert_row(struct lg_store *s, const unsigned char hash[32], const struct lg_handoff *h,
                      int64_t *id)
{
    sqlite3_stmt *st = lg_store_stmt(s, ho_add_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, h->user_id);
    sqlite3_bind_int64(st, 3, (int64_t)h->current);
    sqlite3_bind_int64(st, 4, h->position_ms);
    sqlite3_bind_int64(st, 5, h->created_s);
    sqlite3_bind_int64(st, 6, h->expires_s);
    int rc = lg_store_step_done(st);
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
    return rc;
}

int lg_store_handoff_add(struct lg_store *s, const unsigned char hash[32],
                         const struct lg_handoff *h, int64_t purge_before_s)
{
    if (h->n == 0 || h->current >= h->n || h->position_ms < 0)
        return LG_EINVAL;
    int rc = lg_store_begin(s);
    if (rc < 0)
        return rc;
    int64_t id = 0;
    rc = exec_purge(s, purge_before_s);
    sqlite3_stmt *st = rc == 0 ? lg_store_stmt(s, ho_trim_sql) : NULL;
    if (rc == 0 && !st)
        rc = LG_ESTORE;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, h->user_id);
        sqlite3_bind_int64(st, 2, LG_HANDOFF_UNCLAIMED_MAX - 1);
        rc = lg_store_step_done(st);
    }
    if (rc == 0)
        rc = insert_row(s, hash, h, &id);
    if (rc == 0)
        rc = lg_store_add_ids(s, ho_entry_sql, id, 0, h->ids, h->n);
    if (rc == 0)
        return lg_store_commit(s);
    lg_store_rollback(s);
    return rc;
}

/* Reads the entries of hand-off id into h; current_pos becomes the index of
 * that entry, or of the next one left when its track was deleted (the
 * position in it then no longer applies). */
static int read_entries(struct lg_store *s, int64_t id, int64_t current_pos, struct lg_handoff *h)
{
    sqlite3_stmt *st = lg_store_stmt(s, ho_entries_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    size_t cap = 0, before = 0;
    bool found = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t pos = sqlite3_column_int64(st, 0);
        if (h->n == cap) {
            cap = cap ? cap * 2 : 16;
            h->ids = lg_xrealloc(h->ids, cap * sizeof(*h->ids));
        }
        h->ids[h->n++] = sqlite3_column_int64(st, 1);
        before += pos < current_pos;
        found = found || pos == current_pos;
    }
    int r = rc == SQLITE_DONE ? 0 : lg_store_fail(sqlite3_db_handle(st), ho_entries_sql);
    sqlite3_reset(st);
    h->current = before < h->n ? before : (h->n ? h->n - 1 : 0);
    if (!found)
        h->position_ms = 0;
    return r;
}

int lg_store_handoff_get(struct lg_store *s, const unsigned char hash[32], struct lg_handoff *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, ho_get_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    int rc = lg_store_step_row(st);
    if (rc < 0)
        return rc;
    struct lg_handoff h = { 0 };
    int64_t id = sqlite3_column_int64(st, 0);
    h.user_id = sqlite3_column_int64(st, 1);
    int64_t current_pos = sqlite3_column_int64(st, 2);
    h.position_ms = sqlite3_column_int64(st, 3);
    h.created_s = sqlite3_column_int64(st, 4);
    h.expires_s = sqlite3_column_int64(st, 5);
    h.used = sqlite3_column_int64(st, 6) != 0;
    sqlite3_reset(st);
    rc = read_entries(s, id, current_pos, &h);
    if (rc < 0) {
        lg_handoff_free(&h);
        return rc;
    }
    *out = h;
    return 0;
}

static int mark_used(struct lg_store *s, const unsigned char hash[32], int64_t user_id,
                     int64_t now_s)
{
    sqlite3_stmt *st = lg_store_stmt(s, ho_claim_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int64(st, 3, now_s);
    int rc = lg_store_step_done(st);
    if (rc == 0 && sqlite3_changes(sqlite3_db_handle(st)) == 0)
        rc = LG_ENOTFOUND;
    return rc;
}

int lg_store_handoff_claim(struct lg_store *s, const unsigned char hash[32], int64_t user_id,
                           int64_t now_s, struct lg_handoff *out)
{
    int rc = lg_store_begin(s);
    if (rc < 0)
        return rc;
    rc = mark_used(s, hash, user_id, now_s);
    struct lg_handoff h = { 0 };
    if (rc == 0)
        rc = lg_store_handoff_get(s, hash, &h);
    if (rc == 0)
        rc = lg_store_commit(s);
    else
        lg_store_rollback(s);
    if (rc < 0) {
        lg_handoff_free(&h);
        return rc;
    }
    *out = h;
    return 0;
}
