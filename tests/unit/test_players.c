/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of store/store_players.c: a user's normalisation mode (default
 * off, set and read back, refused by the schema's CHECK when written
 * around the store), client names as peers send them, players created by a
 * stream or by a limit, listed, capped at LG_PLAYERS_MAX, the combined
 * lookup /rest/stream makes, and players going with their user. A second,
 * raw SQLite connection reads and writes what the store API cannot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"

#include "harness.h"
#include "store_fixture.h"

enum { T0 = 1700000000 };

struct fixture {
    char *dir;
    char path[512];
    struct lg_store *s;
    int64_t ann, bob;
};

static void setup(struct fixture *f, const char *name)
{
    f->dir = lg_test_tmpdir(name);
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    CHECK_INT(lg_store_open(f->path, &f->s), 0);
    f->ann = lg_fx_user(f->s, "ann", 0);
    f->bob = lg_fx_user(f->s, "bob", 0);
}

static void teardown(struct fixture *f)
{
    lg_store_close(f->s);
    free(f->dir);
}

/* Runs sql on a connection of its own; returns SQLite's result code. */
static int raw_exec(struct fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(f->path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* The first column of the first row of sql, as an integer (-1: none). */
static long long raw_int(struct fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open(f->path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

LG_TEST(modes)
{
    struct fixture f;
    setup(&f, "players-modes");
    enum lg_normalize m = LG_NORMALIZE_ALBUM;
    CHECK_INT(lg_store_normalize_get(f.s, f.ann, &m), 0);
    CHECK_INT(m, LG_NORMALIZE_OFF); /* the default */
    static const enum lg_normalize modes[] = { LG_NORMALIZE_TRACK, LG_NORMALIZE_ALBUM,
                                               LG_NORMALIZE_OFF };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        CHECK_INT(lg_store_normalize_set(f.s, f.ann, modes[i]), 0);
        CHECK_INT(lg_store_normalize_get(f.s, f.ann, &m), 0);
        CHECK_INT(m, modes[i]);
    }
    CHECK_INT(lg_store_normalize_set(f.s, f.bob, LG_NORMALIZE_ALBUM), 0);
    CHECK_INT(lg_store_normalize_get(f.s, f.ann, &m), 0);
    CHECK_INT(m, LG_NORMALIZE_OFF); /* one user's mode is theirs alone */
    CHECK_INT(raw_int(&f, "SELECT count(*) FROM users WHERE normalize = 'album'"), 1);

    CHECK_INT(lg_store_normalize_set(f.s, f.ann, (enum lg_normalize)3), LG_EINVAL);
    CHECK_INT(lg_store_normalize_set(f.s, 9999, LG_NORMALIZE_TRACK), LG_ENOTFOUND);
    CHECK_INT(lg_store_normalize_get(f.s, 9999, &m), LG_ENOTFOUND);

    /* Names, both ways; only the exact lowercase names parse. */
    static const char *const names[] = { "off", "track", "album" };
    for (int i = 0; i < 3; i++) {
        CHECK_STR(lg_normalize_name((enum lg_normalize)i), names[i]);
        CHECK_INT(lg_normalize_parse(names[i], &m), 0);
        CHECK_INT(m, i);
    }
    static const char *const bad[] = { "loud", "", "Track", "track ", "al", NULL };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = LG_NORMALIZE_ALBUM;
        CHECK_INT(lg_normalize_parse(bad[i], &m), LG_EINVAL);
        CHECK_INT(m, LG_NORMALIZE_ALBUM); /* untouched */
    }
    teardown(&f);
}

LG_TEST(check_refusal)
{
    struct fixture f;
    setup(&f, "players-check");
    CHECK_INT(lg_store_normalize_set(f.s, f.ann, LG_NORMALIZE_TRACK), 0);
    /* The schema refuses what the store would never write. */
    CHECK_INT(raw_exec(&f, "UPDATE users SET normalize = 'loud'"), SQLITE_CONSTRAINT);
    CHECK_INT(raw_exec(&f, "UPDATE users SET normalize = NULL"), SQLITE_CONSTRAINT);
    CHECK_INT(raw_exec(&f, "UPDATE users SET normalize = 'Track'"), SQLITE_CONSTRAINT);
    enum lg_normalize m = LG_NORMALIZE_OFF;
    CHECK_INT(lg_store_normalize_get(f.s, f.ann, &m), 0);
    CHECK_INT(m, LG_NORMALIZE_TRACK);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO players (user_id, client, max_bit_rate) VALUES (%lld, 'x', -1)",
             (long long)f.ann);
    CHECK_INT(raw_exec(&f, sql), SQLITE_CONSTRAINT);
    snprintf(sql, sizeof(sql),
             "INSERT INTO players (user_id, client, max_bit_rate) VALUES (%lld, 'x', 10001)",
             (long long)f.ann);
    CHECK_INT(raw_exec(&f, sql), SQLITE_CONSTRAINT);
    CHECK_INT(raw_exec(&f, "INSERT INTO players (user_id, client) VALUES (9999, 'x')"),
              SQLITE_CONSTRAINT); /* no such user */
    CHECK_INT(raw_int(&f, "SELECT count(*) FROM players"), 0);
    teardown(&f);
}

LG_TEST(client_names)
{
    char longest[LG_PLAYER_CLIENT_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    longest[LG_PLAYER_CLIENT_MAX] = '\0';
    CHECK(lg_player_client_ok(longest));
    longest[LG_PLAYER_CLIENT_MAX] = 'a';
    longest[LG_PLAYER_CLIENT_MAX + 1] = '\0';
    CHECK(!lg_player_client_ok(longest));
    static const struct {
        const char *name;
        bool ok;
    } rows[] = {
        { "DSub", true },
        { "Ultrasonic 4.1 (phone)", true },
        { "\xd0\xa1\xd0\xb8\xd0\xbc\xd1\x84\xd0\xbe\xd0\xbd\xd0\xb8\xd1\x8f", true }, /* Симфония */
        { "\xe2\x99\xab", true }, /* a note, U+266B */
        { "a\xc2\xa0z", true },   /* no-break space is printable */
        { "", false },
        { NULL, false },
        { "tab\there", false },
        { "new\nline", false },
        { "del\x7f", false },
        { "nel\xc2\x85", false }, /* U+0085, a C1 control */
        { "\xc2\x9f", false },
        { "bad\xff", false },
        { "\xc0\xaf", false },     /* overlong '/' */
        { "\xed\xa0\x80", false }, /* a surrogate */
        { "cut\xe2\x99", false },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (lg_player_client_ok(rows[i].name) != rows[i].ok) {
            fprintf(stderr, "  row %zu\n", i);
            CHECK(false);
        }
    }

    struct fixture f;
    setup(&f, "players-names");
    int kbps = 0;
    struct lg_stream_prefs p;
    CHECK_INT(lg_store_player_seen(f.s, f.ann, "tab\there", T0), LG_EINVAL);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "nel\xc2\x85", 64), LG_EINVAL);
    CHECK_INT(lg_store_player_limit_get(f.s, f.ann, "", &kbps), LG_EINVAL);
    CHECK_INT(lg_store_stream_prefs(f.s, f.ann, longest, &p), LG_EINVAL);
    CHECK_INT(raw_int(&f, "SELECT count(*) FROM players"), 0);
    teardown(&f);
}

LG_TEST(upsert_and_list)
{
    struct fixture f;
    setup(&f, "players-upsert");
    CHECK_INT(lg_store_player_seen(f.s, f.ann, "DSub", T0), 0);
    CHECK_INT(lg_store_player_seen(f.s, f.ann, "DSub", T0 + 60), 0); /* moves, not a second row */
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "DSub", 96), 0);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "audacious", 320), 0); /* never seen */
    CHECK_INT(lg_store_player_seen(f.s, f.ann, "Feishin", T0 + 5), 0);
    CHECK_INT(lg_store_player_seen(f.s, f.bob, "DSub", T0 + 7), 0);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "x", -1), LG_EINVAL);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "x", LG_PLAYER_KBPS_MAX + 1), LG_EINVAL);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "x", LG_PLAYER_KBPS_MAX), 0);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "x", 0), 0); /* clears it, stays listed */
    CHECK_INT(lg_store_player_seen(f.s, 9999, "DSub", T0), LG_ENOTFOUND);
    CHECK_INT(lg_store_player_limit_set(f.s, 9999, "DSub", 64), LG_ENOTFOUND);

    struct lg_player *v = NULL;
    size_t n = 0;
    CHECK_INT(lg_store_players_list(f.s, f.ann, &v, &n), 0);
    CHECK_INT(n, 4);
    if (n == 4) {
        /* By name, case-blind: audacious, DSub, Feishin, x. */
        CHECK_STR(v[0].client, "audacious");
        CHECK_INT(v[0].max_bit_rate_kbps, 320);
        CHECK_INT(v[0].last_seen_s, 0);
        CHECK_STR(v[1].client, "DSub");
        CHECK_INT(v[1].max_bit_rate_kbps, 96);
        CHECK_INT(v[1].last_seen_s, T0 + 60); /* a limit keeps the time */
        CHECK_STR(v[2].client, "Feishin");
        CHECK_INT(v[2].max_bit_rate_kbps, 0);
        CHECK_INT(v[2].last_seen_s, T0 + 5);
        CHECK_STR(v[3].client, "x");
        CHECK_INT(v[3].max_bit_rate_kbps, 0);
    }
    lg_players_free(v, n);
    CHECK_INT(lg_store_players_list(f.s, f.bob, &v, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_INT(v[0].max_bit_rate_kbps, 0); /* ann's limit is not bob's */
    lg_players_free(v, n);
    CHECK_INT(lg_store_players_list(f.s, 9999, &v, &n), 0);
    CHECK_INT(n, 0);
    CHECK(v == NULL);

    int kbps = -1;
    CHECK_INT(lg_store_player_limit_get(f.s, f.ann, "DSub", &kbps), 0);
    CHECK_INT(kbps, 96);
    kbps = -1;
    CHECK_INT(lg_store_player_limit_get(f.s, f.ann, "unknown", &kbps), 0);
    CHECK_INT(kbps, 0);
    teardown(&f);
}

LG_TEST(stream_prefs)
{
    struct fixture f;
    setup(&f, "players-prefs");
    struct lg_user_profile prof;
    CHECK_INT(lg_store_profile_get(f.s, "ann", &prof), 0);
    prof.max_bitrate_kbps = 192;
    CHECK_INT(lg_store_profile_update(f.s, &prof), 0);
    lg_user_profile_free(&prof);
    CHECK_INT(lg_store_normalize_set(f.s, f.ann, LG_NORMALIZE_ALBUM), 0);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "DSub", 96), 0);
    CHECK_INT(lg_store_player_limit_set(f.s, f.bob, "Other", 48), 0);

    struct lg_stream_prefs p;
    CHECK_INT(lg_store_stream_prefs(f.s, f.ann, "DSub", &p), 0);
    CHECK_INT(p.user_kbps, 192);
    CHECK_INT(p.player_kbps, 96);
    CHECK_INT(p.normalize, LG_NORMALIZE_ALBUM);
    CHECK_INT(lg_store_stream_prefs(f.s, f.ann, NULL, &p), 0);
    CHECK_INT(p.user_kbps, 192);
    CHECK_INT(p.player_kbps, 0);
    CHECK_INT(lg_store_stream_prefs(f.s, f.ann, "Other", &p), 0); /* bob's player, not ann's */
    CHECK_INT(p.player_kbps, 0);
    CHECK_INT(lg_store_stream_prefs(f.s, f.bob, "Other", &p), 0);
    CHECK_INT(p.user_kbps, 0);
    CHECK_INT(p.player_kbps, 48);
    CHECK_INT(p.normalize, LG_NORMALIZE_OFF);
    CHECK_INT(lg_store_stream_prefs(f.s, 9999, "DSub", &p), LG_ENOTFOUND);
    teardown(&f);
}

LG_TEST(capped)
{
    struct fixture f;
    setup(&f, "players-cap");
    /* One player with a limit, seen first of all; then more players than
     * are kept, each seen a second after the one before. */
    CHECK_INT(lg_store_player_seen(f.s, f.ann, "limited", T0), 0);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "limited", 64), 0);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "preset", 0), 0); /* never seen, no limit */
    enum { EXTRA = 5 };
    for (int i = 0; i < LG_PLAYERS_MAX + EXTRA; i++) {
        char name[32];
        snprintf(name, sizeof(name), "p%03d", i);
        CHECK_INT(lg_store_player_seen(f.s, f.ann, name, T0 + 1 + i), 0);
    }
    CHECK_INT(lg_store_player_seen(f.s, f.bob, "bobs", T0), 0);
    struct lg_player *v = NULL;
    size_t n = 0;
    CHECK_INT(lg_store_players_list(f.s, f.ann, &v, &n), 0);
    CHECK_INT(n, LG_PLAYERS_MAX);
    bool limited = false, preset = false, newest = false, oldest = false;
    for (size_t i = 0; i < n; i++) {
        limited |= strcmp(v[i].client, "limited") == 0 && v[i].max_bit_rate_kbps == 64;
        preset |= strcmp(v[i].client, "preset") == 0;
        newest |= strcmp(v[i].client, "p104") == 0;
        oldest |= strcmp(v[i].client, "p005") == 0 || strcmp(v[i].client, "p000") == 0;
    }
    lg_players_free(v, n);
    CHECK(limited); /* a limit outlives newer players without one */
    CHECK(!preset); /* never seen, no limit: the first to go */
    CHECK(newest);
    CHECK(!oldest);
    /* Another user's players are not counted against ann. */
    CHECK_INT(lg_store_players_list(f.s, f.bob, &v, &n), 0);
    CHECK_INT(n, 1);
    lg_players_free(v, n);
    teardown(&f);
}

LG_TEST(cascade)
{
    struct fixture f;
    setup(&f, "players-cascade");
    CHECK_INT(lg_store_player_seen(f.s, f.ann, "DSub", T0), 0);
    CHECK_INT(lg_store_player_limit_set(f.s, f.ann, "Feishin", 128), 0);
    CHECK_INT(lg_store_player_seen(f.s, f.bob, "DSub", T0), 0);
    CHECK_INT(raw_int(&f, "SELECT count(*) FROM players"), 3);
    CHECK_INT(lg_store_user_delete(f.s, f.ann), 0);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM players WHERE user_id = %lld",
             (long long)f.ann);
    CHECK_INT(raw_int(&f, sql), 0);
    CHECK_INT(raw_int(&f, "SELECT count(*) FROM players"), 1); /* bob's stays */
    struct lg_player *v = NULL;
    size_t n = 0;
    CHECK_INT(lg_store_players_list(f.s, f.bob, &v, &n), 0);
    CHECK_INT(n, 1);
    lg_players_free(v, n);
    teardown(&f);
}

LG_TEST_MAIN(LG_CASE(modes), LG_CASE(check_refusal), LG_CASE(client_names),
             LG_CASE(upsert_and_list), LG_CASE(stream_prefs), LG_CASE(capped), LG_CASE(cascade))
