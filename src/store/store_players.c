/* SPDX-License-Identifier: MIT */
/*
 * Playback settings (migration 0012): a user's normalisation mode in the
 * users table, and their players, the Subsonic clients named by `c`, with a
 * bit rate limit and a last-seen time each. Client names come from peers, so
 * every entry point checks them (lg_player_client_ok) before they reach SQL.
 * Writes that add a player run in one transaction with a prune that keeps
 * the user at LG_PLAYERS_MAX players: the row just written first, then those
 * with a limit, then the most recently seen. Called by /rest/stream
 * (http/subsonic_media.c) and /api/settings (http/settings.c).
 */
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "store/store.h"
#include "store/store_int.h"

static const char normalize_get_sql[] = "SELECT normalize FROM users WHERE id = ?1";
static const char normalize_set_sql[] = "UPDATE users SET normalize = ?2 WHERE id = ?1";
static const char seen_sql[] =
    "INSERT INTO players (user_id, client, last_seen) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (user_id, client) DO UPDATE SET last_seen = excluded.last_seen";
static const char limit_set_sql[] =
    "INSERT INTO players (user_id, client, max_bit_rate) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (user_id, client) DO UPDATE SET max_bit_rate = excluded.max_bit_rate";
/* NULL last_seen (never seen) sorts last under DESC: dropped first. */
static const char prune_sql[] =
    "DELETE FROM players WHERE user_id = ?1 AND client IN (SELECT client FROM players "
    "WHERE user_id = ?1 ORDER BY client = ?2 DESC, max_bit_rate > 0 DESC, last_seen DESC "
    "LIMIT -1 OFFSET ?3)";
static const char limit_get_sql[] =
    "SELECT max_bit_rate FROM players WHERE user_id = ?1 AND client = ?2";
static const char list_sql[] = "SELECT client, max_bit_rate, last_seen FROM players "
                               "WHERE user_id = ?1 ORDER BY client COLLATE NOCASE, client";
static const char prefs_sql[] =
    "SELECT u.max_bit_rate, u.normalize, p.max_bit_rate FROM users u "
    "LEFT JOIN players p ON p.user_id = u.id AND p.client = ?2 WHERE u.id = ?1";

static const char *const mode_names[] = { "off", "track", "album" };

const char *lg_normalize_name(enum lg_normalize m)
{
    return (unsigned)m < LG_ARRAY_LEN(mode_names) ? mode_names[m] : "off";
}

int lg_normalize_parse(const char *s, enum lg_normalize *out)
{
    for (size_t i = 0; s && i < LG_ARRAY_LEN(mode_names); i++) {
        if (strcmp(s, mode_names[i]) == 0) {
            *out = (enum lg_normalize)i;
            return 0;
        }
    }
    return LG_EINVAL;
}

bool lg_player_client_ok(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    if (len == 0 || len > LG_PLAYER_CLIENT_MAX || !lg_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        /* U+0080..U+009F, the C1 controls, are C2 80..C2 9F in UTF-8. */
        if (c == 0xc2 && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

/* The mode stored as text (the column's CHECK admits only the three). */
static enum lg_normalize mode_col(sqlite3_stmt *st, int i)
{
    enum lg_normalize m = LG_NORMALIZE_OFF;
    const char *t = (const char *)sqlite3_column_text(st, i);
    if (lg_normalize_parse(t, &m) < 0)
        m = LG_NORMALIZE_OFF;
    return m;
}

int lg_store_normalize_get(struct lg_store *s, int64_t user_id, enum lg_normalize *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, normalize_get_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *out = mode_col(st, 0);
    sqlite3_reset(st);
    return 0;
}

int lg_store_normalize_set(struct lg_store *s, int64_t user_id, enum lg_normalize mode)
{
    if ((unsigned)mode >= LG_ARRAY_LEN(mode_names))
        return LG_EINVAL;
    sqlite3_stmt *st = lg_store_stmt(s, normalize_set_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, mode_names[mode], -1, SQLITE_STATIC);
    int r = lg_store_step_done(st);
    if (r == 0 && sqlite3_changes(sqlite3_db_handle(st)) == 0)
        r = LG_ENOTFOUND;
    return r;
}

/* Runs the prepared upsert st (user in ?1, client in ?2) and the prune, in
 * the transaction the caller opened. */
static int upsert_and_prune(struct lg_store *s, sqlite3_stmt *st, int64_t user_id,
                            const char *client)
{
    int r = lg_store_step_done(st);
    if (r == LG_EEXIST)
        return LG_ENOTFOUND; /* the only constraint left: users(id) */
    if (r < 0)
        return r;
    st = lg_store_stmt(s, prune_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, LG_PLAYERS_MAX);
    return lg_store_step_done(st);
}

/* One write of a player: st is seen_sql or limit_set_sql, value its ?3. */
static int player_write(struct lg_store *s, const char *sql, int64_t user_id, const char *client,
                        int64_t value)
{
    int r = lg_store_begin(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st) {
        lg_store_rollback(s);
        return LG_ESTORE;
    }
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, value);
    r = upsert_and_prune(s, st, user_id, client);
    if (r < 0) {
        lg_store_rollback(s);
        return r;
    }
    return lg_store_commit(s);
}

int lg_store_player_seen(struct lg_store *s, int64_t user_id, const char *client, int64_t now_s)
{
    if (!lg_player_client_ok(client))
        return LG_EINVAL;
    /* A last-seen time lost to a power cut costs nothing: no fsync. */
    int r = lg_store_lazy(s, true);
    if (r == 0)
        r = player_write(s, seen_sql, user_id, client, now_s);
    int back = lg_store_lazy(s, false);
    return r < 0 ? r : back;
}

int lg_store_player_limit_set(struct lg_store *s, int64_t user_id, const char *client, int kbps)
{
    if (!lg_player_client_ok(client) || kbps < 0 || kbps > LG_PLAYER_KBPS_MAX)
        return LG_EINVAL;
    return player_write(s, limit_set_sql, user_id, client, kbps);
}

int lg_store_player_limit_get(struct lg_store *s, int64_t user_id, const char *client, int *kbps)
{
    if (!lg_player_client_ok(client))
        return LG_EINVAL;
    sqlite3_stmt *st = lg_store_stmt(s, limit_get_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
    int r = lg_store_step_row(st);
    if (r == LG_ENOTFOUND) {
        *kbps = 0;
        return 0;
    }
    if (r < 0)
        return r;
    *kbps = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return 0;
}

void lg_players_free(struct lg_player *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].client);
    free(v);
}

static int read_player(sqlite3_stmt *st, void *dst)
{
    struct lg_player *p = dst;
    p->client = lg_store_col_text(st, 0);
    p->max_bit_rate_kbps = sqlite3_column_int(st, 1);
    p->last_seen_s = sqlite3_column_int64(st, 2); /* NULL reads as 0 */
    return 0;
}

static void players_release(void *v, size_t n)
{
    lg_players_free(v, n);
}

int lg_store_players_list(struct lg_store *s, int64_t user_id, struct lg_player **out,
                          size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, list_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    void *v;
    int r = lg_store_collect(st, sizeof(struct lg_player), read_player, players_release, &v, n_out);
    if (r == 0)
        *out = v;
    return r;
}

int lg_store_stream_prefs(struct lg_store *s, int64_t user_id, const char *client,
                          struct lg_stream_prefs *out)
{
    if (client && !lg_player_client_ok(client))
        return LG_EINVAL;
    sqlite3_stmt *st = lg_store_stmt(s, prefs_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    if (client)
        sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *out = (struct lg_stream_prefs){
        .user_kbps = sqlite3_column_int(st, 0),
        .normalize = mode_col(st, 1),
        .player_kbps = sqlite3_column_int(st, 2), /* NULL (no such player) reads as 0 */
    };
    sqlite3_reset(st);
    return 0;
}
