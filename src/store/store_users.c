/* SPDX-License-Identifier: MIT */
/*
 * User profiles: the Subsonic settings of a user (e-mail, roles, scrobbling,
 * bit rate limit) kept in the users table beside the credentials, and deleting
 * users. One column per role; the columns are listed once, in the order of the
 * LG_ROLE_* bits, in PROFILE_COLS, and every statement below reads or writes
 * them in that order. Called by the Subsonic user handlers through auth/.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

/* The role columns in the order of the LG_ROLE_* bits. */
#define ROLE_COLS                                                                           \
    "settings_role, stream_role, jukebox_role, download_role, upload_role, playlist_role, " \
    "cover_art_role, comment_role, podcast_role, share_role, video_conversion_role, "       \
    "scrobbling_enabled"
#define N_ROLES       12
#define PROFILE_COLS  "id, name, email, is_admin, max_bit_rate, created_at, " ROLE_COLS
#define FIRST_ROLE_AT 6 /* column index of settings_role in PROFILE_COLS */

static const char profile_by_name_sql[] = "SELECT " PROFILE_COLS " FROM users WHERE name = ?1";
static const char profiles_sql[] = "SELECT " PROFILE_COLS " FROM users ORDER BY name, id";
static const char profile_update_sql[] =
    "UPDATE users SET email = ?2, is_admin = ?3, max_bit_rate = ?4, settings_role = ?5, "
    "stream_role = ?6, jukebox_role = ?7, download_role = ?8, upload_role = ?9, "
    "playlist_role = ?10, cover_art_role = ?11, comment_role = ?12, podcast_role = ?13, "
    "share_role = ?14, video_conversion_role = ?15, scrobbling_enabled = ?16 WHERE id = ?1";
static const char user_delete_sql[] = "DELETE FROM users WHERE id = ?1";

void lg_user_profile_free(struct lg_user_profile *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->email);
    p->name = NULL;
    p->email = NULL;
}

void lg_user_profiles_free(struct lg_user_profile *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        lg_user_profile_free(&v[i]);
    free(v);
}

/* Reads the row the statement is on. */
static void profile_read(sqlite3_stmt *st, struct lg_user_profile *out)
{
    struct lg_user_profile p = { 0 };
    p.id = sqlite3_column_int64(st, 0);
    p.name = lg_store_col_text(st, 1);
    p.email = lg_store_col_text(st, 2);
    p.is_admin = sqlite3_column_int(st, 3) != 0;
    p.max_bitrate_kbps = sqlite3_column_int(st, 4);
    p.created_at = sqlite3_column_int64(st, 5);
    for (int i = 0; i < N_ROLES; i++) {
        if (sqlite3_column_int(st, FIRST_ROLE_AT + i))
            p.roles |= 1u << i;
    }
    *out = p;
}

int lg_store_profile_get(struct lg_store *s, const char *name, struct lg_user_profile *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, profile_by_name_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    profile_read(st, out);
    sqlite3_reset(st);
    return 0;
}

int lg_store_profiles_list(struct lg_store *s, struct lg_user_profile **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, profiles_sql);
    if (!st)
        return LG_ESTORE;
    struct lg_user_profile *v = NULL;
    size_t n = 0;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            v = lg_xrealloc(v, cap * sizeof(*v));
        }
        profile_read(st, &v[n++]);
    }
    if (rc != SQLITE_DONE) {
        lg_user_profiles_free(v, n);
        int r = lg_store_fail(sqlite3_db_handle(st), "listing users");
        sqlite3_reset(st);
        return r;
    }
    sqlite3_reset(st);
    *out = v;
    *n_out = n;
    return 0;
}

int lg_store_profile_update(struct lg_store *s, const struct lg_user_profile *p)
{
    sqlite3_stmt *st = lg_store_stmt(s, profile_update_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, p->id);
    sqlite3_bind_text(st, 2, p->email ? p->email : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, p->is_admin != 0);
    sqlite3_bind_int(st, 4, p->max_bitrate_kbps);
    for (int i = 0; i < N_ROLES; i++)
        sqlite3_bind_int(st, 5 + i, (p->roles >> i) & 1u);
    int r = lg_store_step_done(st);
    if (r == 0 && sqlite3_changes(sqlite3_db_handle(st)) == 0)
        r = LG_ENOTFOUND;
    return r;
}

int lg_store_user_delete(struct lg_store *s, int64_t id)
{
    sqlite3_stmt *st = lg_store_stmt(s, user_delete_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int r = lg_store_step_done(st);
    if (r == 0 && sqlite3_changes(sqlite3_db_handle(st)) == 0)
        r = LG_ENOTFOUND;
    return r;
}
