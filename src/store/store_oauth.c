/* SPDX-License-Identifier: MIT */
/*
 * The tables of the OAuth 2.0 device grant (migration 0007): authorization
 * requests (oauth_devices) and the tokens issued for them (oauth_tokens).
 * Secrets arrive here already hashed (32-byte BLAKE2b); lookups go by hash
 * through a unique index, so no secret is ever compared byte by byte against
 * a guess. The grant's rules live in auth/device.c; this file only reads and
 * writes rows.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

#define DEVICE_COLS                                                                     \
    "id, user_code, client_id, scope, name, ip, created_ms, expires_ms, last_poll_ms, " \
    "COALESCE(user_id, 0), interval_s, status, state, last_seen_ms"
#define TOKEN_COLS "id, family, user_id, expires_ms, kind, used, revoked, client_id, scope"

/* Sessions that got tokens (status 3) outlive their code. Other requests are
 * kept for an hour after they expire, so that a device still polling hears
 * expired_token (RFC 8628 3.5), not invalid_grant. */
#define PURGE_AFTER_MS (3600 * 1000)
static const char purge_sql[] = "DELETE FROM oauth_devices WHERE expires_ms < ?1 AND status <> 3";
static const char device_add_sql[] =
    "INSERT INTO oauth_devices (code_hash, handle_hash, user_code, client_id, scope, name, ip, "
    "created_ms, expires_ms, interval_s, last_seen_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?8)";
static const char by_code_sql[] = "SELECT " DEVICE_COLS " FROM oauth_devices WHERE code_hash = ?1";
static const char by_handle_sql[] =
    "SELECT " DEVICE_COLS " FROM oauth_devices WHERE handle_hash = ?1";
static const char by_user_code_sql[] =
    "SELECT " DEVICE_COLS " FROM oauth_devices WHERE user_code = ?1";
static const char polled_sql[] =
    "UPDATE oauth_devices SET last_poll_ms = ?2, interval_s = ?3 WHERE id = ?1";
static const char move_sql[] = "UPDATE oauth_devices SET status = ?3, user_id = "
                               "CASE WHEN ?4 > 0 THEN ?4 ELSE user_id END "
                               "WHERE id = ?1 AND status = ?2";
static const char token_add_sql[] =
    "INSERT INTO oauth_tokens (hash, kind, family, user_id, client_id, scope, expires_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char token_get_sql[] = "SELECT " TOKEN_COLS " FROM oauth_tokens WHERE hash = ?1";
static const char token_use_sql[] = "UPDATE oauth_tokens SET used = 1 WHERE id = ?1 AND used = 0";
static const char family_revoke_sql[] = "UPDATE oauth_tokens SET revoked = 1 WHERE family = ?1";

void lg_oauth_device_free(struct lg_oauth_device *d)
{
    if (!d)
        return;
    free(d->user_code);
    free(d->client_id);
    free(d->scope);
    free(d->name);
    free(d->ip);
    memset(d, 0, sizeof(*d));
}

void lg_oauth_token_free(struct lg_oauth_token *t)
{
    if (!t)
        return;
    free(t->client_id);
    free(t->scope);
    memset(t, 0, sizeof(*t));
}

/* Runs an UPDATE/INSERT; LG_ENOTFOUND when want_change and no row changed. */
static int run(struct lg_store *s, sqlite3_stmt *st, bool want_change)
{
    int rc = lg_store_step_done(st);
    if (rc == 0 && want_change && sqlite3_changes(sqlite3_db_handle(st)) == 0)
        return LG_ENOTFOUND;
    (void)s;
    return rc;
}

/* st run without an fsync of its own (lg_store_lazy): for the times of
 * polls and heartbeats, which a power loss may lose at no cost. */
static int run_lazy(struct lg_store *s, sqlite3_stmt *st)
{
    int rc = lg_store_lazy(s, true);
    if (rc == 0)
        rc = run(s, st, false);
    else
        sqlite3_reset(st);
    int back = lg_store_lazy(s, false);
    return rc < 0 ? rc : back;
}

static int device_add(struct lg_store *s, const unsigned char code_hash[32],
                      const unsigned char handle_hash[32], const struct lg_oauth_device *d,
                      int64_t now_ms, int64_t *id_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, purge_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, now_ms - PURGE_AFTER_MS);
    int rc = lg_store_step_done(st);
    if (rc < 0 || !(st = lg_store_stmt(s, device_add_sql)))
        return rc < 0 ? rc : LG_ESTORE;
    sqlite3_bind_blob(st, 1, code_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, handle_hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, d->user_code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d->client_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, d->scope ? d->scope : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, d->name ? d->name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, d->ip ? d->ip : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, d->created_ms);
    sqlite3_bind_int64(st, 9, d->expires_ms);
    sqlite3_bind_int(st, 10, d->interval_s);
    rc = lg_store_step_done(st);
    if (rc == 0 && id_out)
        *id_out = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
    return rc;
}

int lg_store_oauth_device_add(struct lg_store *s, const unsigned char code_hash[32],
                              const unsigned char handle_hash[32], const struct lg_oauth_device *d,
                              int64_t now_ms, int64_t *id_out)
{
    /* A pending request lost to a power cut costs the device a new code; no
     * fsync of its own (lg_store_lazy). */
    int rc = lg_store_lazy(s, true);
    if (rc == 0)
        rc = device_add(s, code_hash, handle_hash, d, now_ms, id_out);
    int back = lg_store_lazy(s, false);
    return rc < 0 ? rc : back;
}

static void device_read_cols(sqlite3_stmt *st, struct lg_oauth_device *out)
{
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(st, 0);
    out->user_code = lg_store_col_text(st, 1);
    out->client_id = lg_store_col_text(st, 2);
    out->scope = lg_store_col_text(st, 3);
    out->name = lg_store_col_text(st, 4);
    out->ip = lg_store_col_text(st, 5);
    out->created_ms = sqlite3_column_int64(st, 6);
    out->expires_ms = sqlite3_column_int64(st, 7);
    out->last_poll_ms = sqlite3_column_int64(st, 8);
    out->user_id = sqlite3_column_int64(st, 9);
    out->interval_s = sqlite3_column_int(st, 10);
    out->status = sqlite3_column_int(st, 11);
    out->state = sqlite3_column_int(st, 12);
    out->last_seen_ms = sqlite3_column_int64(st, 13);
}

static int device_read(sqlite3_stmt *st, struct lg_oauth_device *out)
{
    int rc = lg_store_step_row(st);
    if (rc < 0)
        return rc;
    device_read_cols(st, out);
    return 0;
}

static int device_read_one(sqlite3_stmt *st, struct lg_oauth_device *out)
{
    int rc = device_read(st, out);
    sqlite3_reset(st);
    return rc;
}

static int device_by_hash(struct lg_store *s, const char *sql, const unsigned char hash[32],
                          struct lg_oauth_device *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    return device_read_one(st, out);
}

int lg_store_oauth_device_by_code(struct lg_store *s, const unsigned char hash[32],
                                  struct lg_oauth_device *out)
{
    return device_by_hash(s, by_code_sql, hash, out);
}

int lg_store_oauth_device_by_handle(struct lg_store *s, const unsigned char hash[32],
                                    struct lg_oauth_device *out)
{
    return device_by_hash(s, by_handle_sql, hash, out);
}

int lg_store_oauth_device_by_user_code(struct lg_store *s, const char *user_code,
                                       struct lg_oauth_device *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, by_user_code_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_text(st, 1, user_code, -1, SQLITE_STATIC);
    return device_read_one(st, out);
}

int lg_store_oauth_device_polled(struct lg_store *s, int64_t id, int64_t now_ms, int interval_s)
{
    sqlite3_stmt *st = lg_store_stmt(s, polled_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int(st, 3, interval_s);
    return run_lazy(s, st);
}

int lg_store_oauth_device_move(struct lg_store *s, int64_t id, int from, int to, int64_t user_id)
{
    sqlite3_stmt *st = lg_store_stmt(s, move_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, from);
    sqlite3_bind_int(st, 3, to);
    sqlite3_bind_int64(st, 4, user_id);
    return run(s, st, true);
}

int lg_store_oauth_token_add(struct lg_store *s, const unsigned char hash[32],
                             const struct lg_oauth_token *t)
{
    sqlite3_stmt *st = lg_store_stmt(s, token_add_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, t->kind);
    sqlite3_bind_int64(st, 3, t->family);
    sqlite3_bind_int64(st, 4, t->user_id);
    sqlite3_bind_text(st, 5, t->client_id ? t->client_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, t->scope ? t->scope : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, t->expires_ms);
    return run(s, st, false);
}

int lg_store_oauth_token_get(struct lg_store *s, const unsigned char hash[32],
                             struct lg_oauth_token *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, token_get_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    int rc = lg_store_step_row(st);
    if (rc < 0)
        return rc;
    out->id = sqlite3_column_int64(st, 0);
    out->family = sqlite3_column_int64(st, 1);
    out->user_id = sqlite3_column_int64(st, 2);
    out->expires_ms = sqlite3_column_int64(st, 3);
    out->kind = sqlite3_column_int(st, 4);
    out->used = sqlite3_column_int(st, 5);
    out->revoked = sqlite3_column_int(st, 6);
    out->client_id = lg_store_col_text(st, 7);
    out->scope = lg_store_col_text(st, 8);
    sqlite3_reset(st);
    return 0;
}

int lg_store_oauth_token_use(struct lg_store *s, int64_t id)
{
    sqlite3_stmt *st = lg_store_stmt(s, token_use_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    return run(s, st, true);
}

int lg_store_oauth_family_revoke(struct lg_store *s, int64_t family)
{
    sqlite3_stmt *st = lg_store_stmt(s, family_revoke_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, family);
    return run(s, st, false);
}

/* --- device sessions (migration 0008) --- */

static const char by_id_sql[] = "SELECT " DEVICE_COLS " FROM oauth_devices WHERE id = ?1";
static const char deny_approved_sql[] =
    "UPDATE oauth_devices SET status = 2 WHERE user_id = ?1 AND status = 1";
static const char sessions_sql[] = "SELECT " DEVICE_COLS " FROM oauth_devices "
                                   "WHERE user_id = ?1 AND status = 3 ORDER BY id";
static const char state_sql[] = "UPDATE oauth_devices SET state = ?3, last_seen_ms = ?4 "
                                "WHERE id = ?1 AND state = ?2";
static const char seen_sql[] = "UPDATE oauth_devices SET last_seen_ms = ?2 WHERE id = ?1";
static const char moves_sql[] =
    "SELECT state, at_ms FROM device_moves WHERE device_id = ?1 ORDER BY id";

int lg_store_oauth_device_get(struct lg_store *s, int64_t id, struct lg_oauth_device *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, by_id_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    return device_read_one(st, out);
}

void lg_oauth_devices_free(struct lg_oauth_device *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        lg_oauth_device_free(&v[i]);
    free(v);
}

int lg_store_oauth_sessions(struct lg_store *s, int64_t user_id, struct lg_oauth_device **out,
                            size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *st = lg_store_stmt(s, sessions_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    size_t cap = 0;
    int rc;
    while ((rc = lg_store_step_row(st)) == 0) {
        if (*n_out == cap) {
            cap = cap ? cap * 2 : 8;
            struct lg_oauth_device *v = realloc(*out, cap * sizeof(*v));
            if (!v) {
                rc = LG_ESTORE;
                break;
            }
            *out = v;
        }
        device_read_cols(st, &(*out)[(*n_out)++]);
    }
    sqlite3_reset(st);
    if (rc == LG_ENOTFOUND)
        return 0;
    lg_oauth_devices_free(*out, *n_out);
    *out = NULL;
    *n_out = 0;
    return rc;
}

int lg_store_oauth_state_move(struct lg_store *s, int64_t id, int from, int to, int64_t now_ms)
{
    sqlite3_stmt *st = lg_store_stmt(s, state_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, from);
    sqlite3_bind_int(st, 3, to);
    sqlite3_bind_int64(st, 4, now_ms);
    return run(s, st, true);
}

int lg_store_oauth_seen(struct lg_store *s, int64_t id, int64_t now_ms)
{
    sqlite3_stmt *st = lg_store_stmt(s, seen_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    return run_lazy(s, st);
}

int lg_store_oauth_moves(struct lg_store *s, int64_t id, struct lg_device_move **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *st = lg_store_stmt(s, moves_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n_out == cap) {
            cap = cap ? cap * 2 : 8;
            struct lg_device_move *v = realloc(*out, cap * sizeof(*v));
            if (!v)
                break;
            *out = v;
        }
        (*out)[*n_out].state = sqlite3_column_int(st, 0);
        (*out)[(*n_out)++].at_ms = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    free(*out);
    *out = NULL;
    *n_out = 0;
    return LG_ESTORE;
}

int lg_store_oauth_deny_approved(struct lg_store *s, int64_t user_id)
{
    return lg_store_run_i64(s, deny_approved_sql, user_id);
}
