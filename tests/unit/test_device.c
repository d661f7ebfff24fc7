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
    fake_now += 4999;
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

LG_TEST_MAIN(LG_CASE(codes_and_normalisation), LG_CASE(hashed_at_rest),
             LG_CASE(expiry_slow_down_denial), LG_CASE(refresh_rotation_and_reuse))
