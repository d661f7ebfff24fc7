/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/websession.c: tokens are hashed at rest (the raw token
 * never reaches the database file), sessions expire, can be ended, and the
 * derived CSRF token is accepted for its own session only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/websession.h"
#include "store/store.h"

#include "harness.h"

struct fixture {
    char *dir, path[512];
    struct lg_store *s;
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
}

static void teardown(struct fixture *f)
{
    lg_store_close(f->s);
    free(f->dir);
}

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

LG_TEST(session_hashed_and_expires)
{
    struct fixture f;
    setup(&f, "websession");
    const int64_t t0 = 1700000000;
    char tok[LG_WEBSESSION_TOKEN_LEN];
    CHECK_INT(lg_websession_create(f.s, f.uid, t0, tok), 0);
    CHECK_INT((int)strlen(tok), 43);
    int64_t uid = 0;
    CHECK_INT(lg_websession_user(f.s, tok, t0 + 10, &uid), 0);
    CHECK(uid == f.uid);
    lg_store_close(f.s);
    CHECK(!file_has(f.path, tok));
    CHECK_INT(lg_store_open(f.path, &f.s), 0);
    CHECK_INT(lg_websession_user(f.s, tok, t0 + LG_WEBSESSION_TTL_S - 1, &uid), 0);
    CHECK_INT(lg_websession_user(f.s, tok, t0 + LG_WEBSESSION_TTL_S, &uid), LG_EAUTH);
    char other[LG_WEBSESSION_TOKEN_LEN];
    snprintf(other, sizeof(other), "%s", tok);
    other[0] = other[0] == 'A' ? 'B' : 'A';
    CHECK_INT(lg_websession_user(f.s, other, t0, &uid), LG_EAUTH);
    CHECK_INT(lg_websession_user(f.s, NULL, t0, &uid), LG_EAUTH);
    CHECK_INT(lg_websession_user(f.s, "short", t0, &uid), LG_EAUTH);
    CHECK_INT(lg_websession_user(f.s, "' OR 1=1 --", t0, &uid), LG_EAUTH);
    CHECK_INT(lg_websession_delete(f.s, tok), 0);
    CHECK_INT(lg_websession_user(f.s, tok, t0 + 10, &uid), LG_EAUTH);
    teardown(&f);
}

LG_TEST(expired_sessions_are_purged)
{
    struct fixture f;
    setup(&f, "websession-purge");
    const int64_t t0 = 1700000000;
    char a[LG_WEBSESSION_TOKEN_LEN], b[LG_WEBSESSION_TOKEN_LEN];
    CHECK_INT(lg_websession_create(f.s, f.uid, t0, a), 0);
    CHECK_INT(lg_websession_create(f.s, f.uid, t0 + LG_WEBSESSION_TTL_S + 1, b), 0);
    CHECK(strcmp(a, b) != 0);
    int64_t uid;
    /* Even with the clock moved back, the purged session is gone. */
    CHECK_INT(lg_websession_user(f.s, a, t0, &uid), LG_EAUTH);
    CHECK_INT(lg_websession_user(f.s, b, t0 + LG_WEBSESSION_TTL_S + 2, &uid), 0);
    teardown(&f);
}

LG_TEST(csrf_token)
{
    struct fixture f;
    setup(&f, "websession-csrf");
    char a[LG_WEBSESSION_TOKEN_LEN], b[LG_WEBSESSION_TOKEN_LEN];
    CHECK_INT(lg_websession_create(f.s, f.uid, 1700000000, a), 0);
    CHECK_INT(lg_websession_create(f.s, f.uid, 1700000000, b), 0);
    char ca[LG_WEBSESSION_TOKEN_LEN], cb[LG_WEBSESSION_TOKEN_LEN];
    lg_websession_csrf(a, ca);
    lg_websession_csrf(b, cb);
    CHECK_INT((int)strlen(ca), 43);
    CHECK(strcmp(ca, cb) != 0);
    CHECK(strcmp(ca, a) != 0);
    CHECK(lg_websession_csrf_ok(a, ca));
    CHECK(lg_websession_csrf_ok(b, cb));
    CHECK(!lg_websession_csrf_ok(a, cb));
    CHECK(!lg_websession_csrf_ok(a, NULL));
    CHECK(!lg_websession_csrf_ok(a, ""));
    CHECK(!lg_websession_csrf_ok(NULL, ca));
    ca[42] = ca[42] == 'A' ? 'B' : 'A';
    CHECK(!lg_websession_csrf_ok(a, ca));
    teardown(&f);
}

LG_TEST_MAIN(LG_CASE(session_hashed_and_expires), LG_CASE(expired_sessions_are_purged),
             LG_CASE(csrf_token))
