/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/device.c, the OAuth 2.0 device grant: code formats and
 * normalisation, hashing at rest (the raw secrets never reach the database
 * file), expiry and slow_down under an injected clock, approval and denial,
 * refresh rotation and family revocation on reuse, revocation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/device.h"
#include "store/store.h"

#include "harness.h"

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

struct fixture {
    char *dir, path[512];
    struct lg_store *s;
    struct lg_device d;
    int64_t uid;
};

static void setup(struct fixture *f, const char *name)
{
    f->dir = lg_test_tmpdir(name);
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    CHECK_INT(lg_store_open(f->path, &f->s), 0);
    static unsigned char box[4] = { 1, 2, 3, 4 };
    struct lg_user u = { .name = "ann", .pass_hash = "x", .pass_box = box, .pass_box_len = 4 };
    CHECK_INT(lg_store_user_add(f->s, &u, &f->uid), 0);
    lg_device_init(&f->d, f->s);
    fake_now = 1700000000000LL;
    f->d.clock = fake_clock;
}

static void teardown(struct fixture *f)
{
    lg_store_close(f->s);
    free(f->dir);
}

/* Whether the file at path contains needle. */
static bool file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(buf + i, needle, k) == 0)
            return true;
    return false;
}

LG_TEST(codes_and_normalisation)
{
    struct fixture f;
    setup(&f, "device-codes");
    struct lg_device_authz a;
    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, "Living room", "1.2.3.4", &a), 0);
    CHECK_INT((int)strlen(a.user_code), 9);
    CHECK(a.user_code[4] == '-');
    for (int i = 0; i < 9; i++)
        if (i != 4)
            CHECK(strchr("BCDFGHJKLMNPQRSTVWXZ", a.user_code[i]) != NULL);
    CHECK_INT((int)strlen(a.device_code), 43);
    CHECK_INT((int)strlen(a.handle), 22);
    CHECK_INT(a.expires_in, 600);
    CHECK_INT(a.interval, 5);
    char n[9];
    CHECK_INT(lg_device_user_code_normalise("bcdf-ghjk", n), 0);
    CHECK_STR(n, "BCDFGHJK");
    CHECK_INT(lg_device_user_code_normalise("BcDf GhJk", n), 0);
    CHECK_INT(lg_device_user_code_normalise("BCDFGHJ", n), LG_EPARSE);
    CHECK_INT(lg_device_user_code_normalise("BCDFGHJKL", n), LG_EPARSE);
    CHECK_INT(lg_device_user_code_normalise("ACDFGHJK", n), LG_EPARSE);
    CHECK_INT(lg_device_authorize(&f.d, "", NULL, NULL, NULL, &a), LG_EINVAL);
    teardown(&f);
}

/* Authorizes, approves by lower-case undashed user code, gets tokens. */
static void grant(struct fixture *f, struct lg_device_tokens *t)
{
    struct lg_device_authz a;
    CHECK_INT(lg_device_authorize(&f->d, "tv", "music", NULL, NULL, &a), 0);
    enum lg_oauth_err e;
    CHECK_INT(lg_device_poll(&f->d, a.device_code, "tv", t, &e), 0);
    CHECK_INT(e, LG_OAUTH_AUTHORIZATION_PENDING);
    char typed[9];
    for (int i = 0, j = 0; i < 9; i++)
        if (a.user_code[i] != '-')
            typed[j++] = (char)(a.user_code[i] - 'A' + 'a');
    typed[8] = '\0';
    CHECK_INT(lg_device_approve(&f->d, typed, f->uid, true), 0);
    fake_now += 5000;
    CHECK_INT(lg_device_poll(&f->d, a.device_code, "tv", t, &e), 0);
    CHECK_INT(e, LG_OAUTH_OK);
    CHECK_STR(t->scope, "music");
    /* single use */
    struct lg_device_tokens again;
    CHECK_INT(lg_device_poll(&f->d, a.device_code, "tv", &again, &e), 0);
    CHECK_INT(e, LG_OAUTH_INVALID_GRANT);
}

LG_TEST(hashed_at_rest)
{
    struct fixture f;
    setup(&f, "device-hash");
    struct lg_device_authz a;
    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, NULL, NULL, &a), 0);
    struct lg_device_tokens t;
    grant(&f, &t);
    int64_t uid = 0;
    CHECK_INT(lg_device_token_user(&f.d, t.access_token, &uid), 0);
    CHECK_INT((int)uid, (int)f.uid);
    lg_store_close(f.s);
    f.s = NULL;
    CHECK(!file_has(f.path, a.device_code));
    CHECK(!file_has(f.path, a.handle));
    CHECK(!file_has(f.path, t.access_token));
    CHECK(!file_has(f.path, t.refresh_token));
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", f.path);
    CHECK(!file_has(wal, t.access_token));
    free(t.scope);
    free(f.dir);
}

LG_TEST(expiry_slow_down_denial)
{
    struct fixture f;
    setup(&f, "device-poll");
    struct lg_device_authz a;
    struct lg_device_tokens t;
    enum lg_oauth_err e;
    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, NULL, NULL, &a), 0);
    CHECK_INT(lg_device_poll(&f.d, a.device_code, "other", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_INVALID_CLIENT);
    CHECK_INT(lg_device_poll(&f.d, "nope", "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_INVALID_GRANT);
    CHECK_INT(lg_device_poll(&f.d, a.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_AUTHORIZATION_PENDING);
    fake_now += 4600; /* early, but within the grace for jitter */
    CHECK_INT(lg_device_poll(&f.d, a.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_AUTHORIZATION_PENDING);
    fake_now += 4000;
    CHECK_INT(lg_device_poll(&f.d, a.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_SLOW_DOWN);
    fake_now += 9000; /* interval is now 10 s */
    CHECK_INT(lg_device_poll(&f.d, a.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_SLOW_DOWN);
    fake_now += 15000;
    CHECK_INT(lg_device_poll(&f.d, a.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_AUTHORIZATION_PENDING);
    fake_now = 1700000000000LL + 600000;
    CHECK_INT(lg_device_poll(&f.d, a.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_EXPIRED_TOKEN);
    CHECK_INT(lg_device_approve(&f.d, a.user_code, f.uid, true), LG_ENOTFOUND);

    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, NULL, NULL, &a), 0);
    CHECK_INT(lg_device_approve(&f.d, a.handle, f.uid, false), 0);
    CHECK_INT(lg_device_approve(&f.d, a.handle, f.uid, true), LG_ENOTFOUND);
    CHECK_INT(lg_device_poll(&f.d, a.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_ACCESS_DENIED);
    CHECK_INT(lg_device_approve(&f.d, "BCDF-GHJ", f.uid, true), LG_ENOTFOUND);
    teardown(&f);
}

LG_TEST(refresh_rotation_and_reuse)
{
    struct fixture f;
    setup(&f, "device-refresh");
    struct lg_device_tokens t1, t2, t3;
    enum lg_oauth_err e;
    int64_t uid;
    grant(&f, &t1);
    CHECK_INT(lg_device_refresh(&f.d, t1.refresh_token, "tv", &t2, &e), 0);
    CHECK_INT(e, LG_OAUTH_OK);
    CHECK(strcmp(t1.refresh_token, t2.refresh_token) != 0);
    CHECK_INT(lg_device_token_user(&f.d, t2.access_token, &uid), 0);
    CHECK_INT(lg_device_refresh(&f.d, t2.access_token, "tv", &t3, &e), 0);
    CHECK_INT(e, LG_OAUTH_INVALID_GRANT); /* an access token is no refresh token */
    /* reuse of the rotated t1 revokes the family: t2 dies too */
    CHECK_INT(lg_device_refresh(&f.d, t1.refresh_token, "tv", &t3, &e), 0);
    CHECK_INT(e, LG_OAUTH_INVALID_GRANT);
    CHECK_INT(lg_device_token_user(&f.d, t2.access_token, &uid), LG_EAUTH);
    CHECK_INT(lg_device_token_user(&f.d, t1.access_token, &uid), LG_EAUTH);
    CHECK_INT(lg_device_refresh(&f.d, t2.refresh_token, "tv", &t3, &e), 0);
    CHECK_INT(e, LG_OAUTH_INVALID_GRANT);
    free(t1.scope);
    free(t2.scope);

    grant(&f, &t1);
    CHECK_INT(lg_device_token_user(&f.d, t1.access_token, &uid), 0);
    fake_now += 3600 * 1000LL;
    CHECK_INT(lg_device_token_user(&f.d, t1.access_token, &uid), LG_EAUTH);
    CHECK_INT(lg_device_refresh(&f.d, t1.refresh_token, NULL, &t2, &e), 0);
    CHECK_INT(e, LG_OAUTH_OK);
    CHECK_INT(lg_device_revoke(&f.d, t2.refresh_token), 0);
    CHECK_INT(lg_device_token_user(&f.d, t2.access_token, &uid), LG_EAUTH);
    CHECK_INT(lg_device_revoke(&f.d, "unknown"), 0);
    free(t1.scope);
    free(t2.scope);
    teardown(&f);
}


/* Every pair of states: exactly the moves are allowed. */
LG_TEST(transition_table)
{
    static const int ok[][2] = {
        { LG_DEV_IDLE, LG_DEV_SCANNING },    { LG_DEV_SCANNING, LG_DEV_VALIDATING },
        { LG_DEV_VALIDATING, LG_DEV_READY }, { LG_DEV_READY, LG_DEV_PLAYING },
        { LG_DEV_PLAYING, LG_DEV_CHECKING }, { LG_DEV_CHECKING, LG_DEV_PLAYING },
        { LG_DEV_SCANNING, LG_DEV_ENDED },   { LG_DEV_VALIDATING, LG_DEV_ENDED },
        { LG_DEV_READY, LG_DEV_ENDED },      { LG_DEV_PLAYING, LG_DEV_ENDED },
        { LG_DEV_CHECKING, LG_DEV_ENDED },
    };
    int allowed = 0;
    for (int from = -1; from <= LG_DEV_NSTATES; from++) {
        for (int to = -1; to <= LG_DEV_NSTATES; to++) {
            bool want = false;
            for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                want = want || (ok[i][0] == from && ok[i][1] == to);
            if (lg_device_move_allowed(from, to) != want)
                fprintf(stderr, "move %d -> %d: want %d\n", from, to, want);
            CHECK(lg_device_move_allowed(from, to) == want);
            allowed += want;
        }
    }
    CHECK_INT(allowed, 11);
    CHECK_STR(lg_device_state_name(LG_DEV_VALIDATING), "validating");
    CHECK_STR(lg_device_state_name(LG_DEV_NSTATES), "");
}

static void check_moves(struct fixture *f, int64_t id, const int *want, size_t n)
{
    struct lg_device_move *m = NULL;
    size_t got = 0;
    CHECK_INT(lg_store_oauth_moves(f->s, id, &m, &got), 0);
    CHECK_INT((int)got, (int)n);
    for (size_t i = 0; i < n && i < got; i++)
        CHECK_STR(lg_device_state_name(m[i].state), lg_device_state_name(want[i]));
    free(m);
}

/* A whole session: moves stored with their times, refusals, end revokes. */
LG_TEST(session_moves_stored)
{
    struct fixture f;
    setup(&f, "device-moves");
    struct lg_device_authz a;
    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, "Telly", "10.0.0.9", &a), 0);
    struct lg_oauth_device r;
    CHECK_INT(lg_store_oauth_device_by_user_code(f.s, "", &r), LG_ENOTFOUND);
    CHECK_INT(lg_device_mark_validating(&f.d, "BCDF-GHJK-X"), LG_ENOTFOUND);
    fake_now += 1000;
    CHECK_INT(lg_device_mark_validating(&f.d, a.handle), 0);
    CHECK_INT(lg_device_mark_validating(&f.d, a.user_code), 0); /* reopened: no move */
    fake_now += 1000;
    CHECK_INT(lg_device_approve(&f.d, a.user_code, f.uid, true), 0);
    CHECK_INT(lg_device_mark_validating(&f.d, a.user_code), LG_EINVAL);
    struct lg_device_tokens t;
    enum lg_oauth_err e;
    fake_now += 6000;
    CHECK_INT(lg_device_poll(&f.d, a.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_OK);
    free(t.scope);
    int64_t sid = 0, uid = 0;
    CHECK_INT(lg_device_token_session(&f.d, t.access_token, &sid, &uid), 0);
    CHECK(uid == f.uid);
    CHECK_INT(lg_device_session_move(&f.d, sid, LG_DEV_SCANNING), LG_EINVAL);
    CHECK_INT(lg_device_heartbeat(&f.d, t.access_token, false), 0); /* ready: no move */
    CHECK_INT(lg_device_heartbeat(&f.d, t.access_token, true), 0);
    CHECK_INT(lg_device_heartbeat(&f.d, t.access_token, false), 0);
    CHECK_INT(lg_device_heartbeat(&f.d, t.access_token, true), 0);
    CHECK_INT(lg_store_oauth_device_get(f.s, sid, &r), 0);
    CHECK_INT(r.state, LG_DEV_PLAYING);
    CHECK(r.last_seen_ms == fake_now);
    lg_oauth_device_free(&r);
    struct lg_oauth_device *v = NULL;
    size_t n = 0;
    CHECK_INT(lg_store_oauth_sessions(f.s, f.uid, &v, &n), 0);
    CHECK_INT((int)n, 1);
    if (n == 1)
        CHECK_STR(v[0].name, "Telly");
    lg_oauth_devices_free(v, n);
    CHECK_INT(lg_device_session_end(&f.d, sid, f.uid + 1), LG_ENOTFOUND);
    CHECK_INT(lg_device_session_end(&f.d, sid, f.uid), 0);
    CHECK_INT(lg_device_token_user(&f.d, t.access_token, &uid), LG_EAUTH);
    CHECK_INT(lg_device_session_end(&f.d, sid, f.uid), LG_EINVAL);
    static const int want[] = { LG_DEV_IDLE,    LG_DEV_SCANNING, LG_DEV_VALIDATING, LG_DEV_READY,
                                LG_DEV_PLAYING, LG_DEV_CHECKING, LG_DEV_PLAYING,    LG_DEV_ENDED };
    check_moves(&f, sid, want, sizeof(want) / sizeof(want[0]));
    teardown(&f);
}

/* Denial, expiry and a stopped heartbeat all end the session. */
LG_TEST(session_endings)
{
    struct fixture f;
    setup(&f, "device-endings");
    struct lg_device_authz a, b, c;
    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, NULL, NULL, &a), 0);
    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, NULL, NULL, &b), 0);
    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, NULL, NULL, &c), 0);
    CHECK_INT(lg_device_approve(&f.d, a.user_code, f.uid, false), 0);
    struct lg_oauth_device r;
    CHECK_INT(lg_store_oauth_device_get(f.s, 1, &r), 0);
    CHECK_INT(r.state, LG_DEV_ENDED);
    lg_oauth_device_free(&r);
    CHECK_INT(lg_device_approve(&f.d, c.user_code, f.uid, true), 0);
    fake_now += 6000;
    struct lg_device_tokens t;
    enum lg_oauth_err e;
    CHECK_INT(lg_device_poll(&f.d, c.device_code, "tv", &t, &e), 0);
    free(t.scope);
    CHECK_INT(lg_device_heartbeat(&f.d, t.access_token, true), 0);
    fake_now += (LG_DEVICE_EXPIRES_S + 1) * 1000LL;
    CHECK_INT(lg_device_poll(&f.d, b.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_EXPIRED_TOKEN);
    /* Still so after another device starts (which purges old requests). */
    struct lg_device_authz later;
    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, NULL, NULL, &later), 0);
    CHECK_INT(lg_device_poll(&f.d, b.device_code, "tv", &t, &e), 0);
    CHECK_INT(e, LG_OAUTH_EXPIRED_TOKEN);
    CHECK_INT(lg_store_oauth_device_get(f.s, 2, &r), 0);
    CHECK_INT(r.state, LG_DEV_ENDED);
    lg_oauth_device_free(&r);
    CHECK_INT(lg_device_session_expire(&f.d, 3), 0);
    CHECK_INT(lg_store_oauth_device_get(f.s, 3, &r), 0);
    CHECK_INT(r.state, LG_DEV_ENDED);
    lg_oauth_device_free(&r);
    teardown(&f);
}

/* lg_device_end_all (a new password): every session of the user ends and
 * its access and refresh tokens stop working; another user's stay. */
LG_TEST(end_all)
{
    struct fixture f;
    setup(&f, "device-end-all");
    static unsigned char box[4] = { 1, 2, 3, 4 };
    struct lg_user u = { .name = "bob", .pass_hash = "x", .pass_box = box, .pass_box_len = 4 };
    int64_t bob;
    CHECK_INT(lg_store_user_add(f.s, &u, &bob), 0);
    struct lg_device_tokens t[3];
    int64_t owner[3] = { f.uid, f.uid, bob };
    for (int i = 0; i < 3; i++) {
        struct lg_device_authz a;
        enum lg_oauth_err e;
        CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, NULL, NULL, &a), 0);
        CHECK_INT(lg_device_approve(&f.d, a.user_code, owner[i], true), 0);
        fake_now += 6000;
        CHECK_INT(lg_device_poll(&f.d, a.device_code, "tv", &t[i], &e), 0);
        free(t[i].scope);
    }
    CHECK_INT(lg_device_heartbeat(&f.d, t[0].access_token, true), 0);
    /* Approved with the old password, not redeemed yet: denied. */
    struct lg_device_authz pending;
    CHECK_INT(lg_device_authorize(&f.d, "tv", NULL, NULL, NULL, &pending), 0);
    CHECK_INT(lg_device_approve(&f.d, pending.user_code, f.uid, true), 0);
    CHECK_INT(lg_device_end_all(&f.d, f.uid), 0);
    fake_now += 6000;
    struct lg_device_tokens late;
    enum lg_oauth_err le;
    CHECK_INT(lg_device_poll(&f.d, pending.device_code, "tv", &late, &le), 0);
    CHECK_INT(le, LG_OAUTH_ACCESS_DENIED);
    int64_t who = 0;
    CHECK_INT(lg_device_token_user(&f.d, t[0].access_token, &who), LG_EAUTH);
    CHECK_INT(lg_device_token_user(&f.d, t[1].access_token, &who), LG_EAUTH);
    struct lg_device_tokens again;
    enum lg_oauth_err err = LG_OAUTH_OK;
    int rc = lg_device_refresh(&f.d, t[1].refresh_token, "tv", &again, &err);
    CHECK(rc < 0 || err != LG_OAUTH_OK);
    if (rc == 0 && err == LG_OAUTH_OK)
        free(again.scope);
    CHECK_INT(lg_device_token_user(&f.d, t[2].access_token, &who), 0);
    CHECK_INT(who, bob);
    struct lg_oauth_device r;
    for (int64_t id = 1; id <= 2; id++) {
        CHECK_INT(lg_store_oauth_device_get(f.s, id, &r), 0);
        CHECK_INT(r.state, LG_DEV_ENDED);
        lg_oauth_device_free(&r);
    }
    CHECK_INT(lg_device_end_all(&f.d, f.uid), 0); /* again: nothing left to end */
    teardown(&f);
}

LG_TEST_MAIN(LG_CASE(codes_and_normalisation), LG_CASE(hashed_at_rest),
             LG_CASE(expiry_slow_down_denial), LG_CASE(refresh_rotation_and_reuse),
             LG_CASE(transition_table), LG_CASE(session_moves_stored), LG_CASE(session_endings),
             LG_CASE(end_all))
