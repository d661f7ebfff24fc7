/* SPDX-License-Identifier: MIT */
/*
 * The web_sessions table (migration 0009): browser sign-in sessions of the
 * device approval page. Tokens arrive here already hashed (32-byte BLAKE2b)
 * and are looked up by hash through a unique index; the rules (lifetime,
 * token generation, CSRF) live in auth/websession.c.
 */
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

static const char ws_purge_sql[] = "DELETE FROM web_sessions WHERE expires_s <= ?1";
static const char ws_add_sql[] =
    "INSERT INTO web_sessions (hash, user_id, created_s, expires_s) VALUES (?1, ?2, ?3, ?4)";
static const char ws_get_sql[] = "SELECT user_id, expires_s FROM web_sessions WHERE hash = ?1";
static const char ws_delete_sql[] = "DELETE FROM web_sessions WHERE hash = ?1";
static const char ws_delete_user_sql[] = "DELETE FROM web_sessions WHERE user_id = ?1";

int lg_store_websession_add(struct lg_store *s, const unsigned char hash[32], int64_t user_id,
                            int64_t now_s, int64_t expires_s)
{
    sqlite3_stmt *st = lg_store_stmt(s, ws_purge_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, now_s);
    int rc = lg_store_step_done(st);
    if (rc < 0 || !(st = lg_store_stmt(s, ws_add_sql)))
        return rc < 0 ? rc : LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int64(st, 3, now_s);
    sqlite3_bind_int64(st, 4, expires_s);
    return lg_store_step_done(st);
}

int lg_store_websession_get(struct lg_store *s, const unsigned char hash[32], int64_t *user_id,
                            int64_t *expires_s)
{
    sqlite3_stmt *st = lg_store_stmt(s, ws_get_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    int rc = lg_store_step_row(st);
    if (rc < 0)
        return rc;
    *user_id = sqlite3_column_int64(st, 0);
    *expires_s = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return 0;
}

int lg_store_websession_delete(struct lg_store *s, const unsigned char hash[32])
{
    sqlite3_stmt *st = lg_store_stmt(s, ws_delete_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    return lg_store_step_done(st);
}

int lg_store_websession_delete_user(struct lg_store *s, int64_t user_id)
{
    return lg_store_run_i64(s, ws_delete_user_sql, user_id);
}
