/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of store/store_handoff.c: a hand-off is stored with its queue,
 * claimed exactly once by its own user before it expires (the store's time
 * argument decides), refused to another user without being used up, refused
 * with unknown tracks, and read past deleted tracks. Also the safe-redirect
 * rule of the sign-in form (http/web.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/web.h"
#include "store/store.h"

#include "harness.h"
#include "store_fixture.h"

enum { T0 = 1700000000, TTL = 300 };

struct fixture {
    char *dir;
    struct lg_store *s;
    int64_t ann, bob;
    int64_t tracks[4];
};

static void setup(struct fixture *f, const char *name)
{
    char path[512];
    f->dir = lg_test_tmpdir(name);
    snprintf(path, sizeof(path), "%s/db.sqlite", f->dir);
    CHECK_INT(lg_store_open(path, &f->s), 0);
    f->ann = lg_fx_user(f->s, "ann", 0);
    f->bob = lg_fx_user(f->s, "bob", 0);
    for (int i = 0; i < 4; i++) {
        char p[32], title[16];
        snprintf(p, sizeof(p), "a/%d.mp3", i);
        snprintf(title, sizeof(title), "T%d", i);
        struct lg_track t = { .path = p,
                              .title = title,
                              .artist = "A",
                              .album = "B",
                              .suffix = "mp3",
                              .content_type = "audio/mpeg" };
        CHECK_INT(lg_store_track_upsert(f->s, &t, &f->tracks[i]), 0);
    }
}

static void teardown(struct fixture *f)
{
    lg_store_close(f->s);
    free(f->dir);
}

static void hash_of(unsigned char h[32], int seed)
{
    memset(h, seed, 32);
}

/* A queue of tracks 2, 0, 3 of the fixture, resuming the third at 61.5 s. */
static int add(struct fixture *f, int seed, int64_t user)
{
    int64_t ids[3] = { f->tracks[2], f->tracks[0], f->tracks[3] };
    struct lg_handoff h = { .user_id = user,
                            .ids = ids,
                            .n = 3,
                            .current = 2,
                            .position_ms = 61500,
                            .created_s = T0,
                            .expires_s = T0 + TTL };
    unsigned char hash[32];
    hash_of(hash, seed);
    return lg_store_handoff_add(f->s, hash, &h, T0 - 86400);
}

LG_TEST(make_and_claim_once)
{
    struct fixture f;
    setup(&f, "handoff-once");
    CHECK_INT(add(&f, 1, f.ann), 0);
    unsigned char hash[32];
    hash_of(hash, 1);
    struct lg_handoff h;
    CHECK_INT(lg_store_handoff_get(f.s, hash, &h), 0);
    CHECK(!h.used);
    CHECK_INT(h.n, 3);
    CHECK_INT(h.current, 2);
    CHECK_INT(h.position_ms, 61500);
    CHECK_INT(h.user_id, f.ann);
    CHECK_INT(h.expires_s, T0 + TTL);
    lg_handoff_free(&h);

    CHECK_INT(lg_store_handoff_claim(f.s, hash, f.ann, T0 + 10, &h), 0);
    CHECK_INT(h.n, 3);
    CHECK(h.n == 3 && h.ids[0] == f.tracks[2] && h.ids[1] == f.tracks[0] &&
          h.ids[2] == f.tracks[3]);
    CHECK_INT(h.current, 2);
    CHECK_INT(h.position_ms, 61500);
    CHECK(h.used);
    lg_handoff_free(&h);

    /* The second claim fails, and the link still reads as used. */
    CHECK_INT(lg_store_handoff_claim(f.s, hash, f.ann, T0 + 11, &h), LG_ENOTFOUND);
    CHECK_INT(lg_store_handoff_get(f.s, hash, &h), 0);
    CHECK(h.used);
    lg_handoff_free(&h);
    /* The same hash cannot be stored twice. */
    CHECK_INT(add(&f, 1, f.ann), LG_EEXIST);
    teardown(&f);
}

/* A user keeps LG_HANDOFF_UNCLAIMED_MAX unclaimed links: a newer one
 * deletes the oldest; claimed ones and another user's stay. */
LG_TEST(unclaimed_bounded)
{
    struct fixture f;
    setup(&f, "handoff-bounded");
    unsigned char hash[32];
    struct lg_handoff h;
    CHECK_INT(add(&f, 1, f.ann), 0);
    hash_of(hash, 1);
    CHECK_INT(lg_store_handoff_claim(f.s, hash, f.ann, T0 + 1, &h), 0);
    lg_handoff_free(&h);
    CHECK_INT(add(&f, 2, f.bob), 0);
    for (int i = 0; i < LG_HANDOFF_UNCLAIMED_MAX + 5; i++)
        CHECK_INT(add(&f, 10 + i, f.ann), 0);
    for (int i = 0; i < 5; i++) {
        hash_of(hash, 10 + i);
        CHECK_INT(lg_store_handoff_get(f.s, hash, &h), LG_ENOTFOUND);
    }
    for (int i = 5; i < LG_HANDOFF_UNCLAIMED_MAX + 5; i++) {
        hash_of(hash, 10 + i);
        CHECK_INT(lg_store_handoff_get(f.s, hash, &h), 0);
        lg_handoff_free(&h);
    }
    for (int seed = 1; seed <= 2; seed++) {
        hash_of(hash, seed);
        CHECK_INT(lg_store_handoff_get(f.s, hash, &h), 0);
        lg_handoff_free(&h);
    }
    teardown(&f);
}

LG_TEST(expiry)
{
    struct fixture f;
    setup(&f, "handoff-expiry");
    CHECK_INT(add(&f, 2, f.ann), 0);
    CHECK_INT(add(&f, 3, f.ann), 0);
    unsigned char a[32], b[32];
    hash_of(a, 2);
    hash_of(b, 3);
    struct lg_handoff h;
    /* expires_s is the first second the link is dead. */
    CHECK_INT(lg_store_handoff_claim(f.s, a, f.ann, T0 + TTL, &h), LG_ENOTFOUND);
    CHECK_INT(lg_store_handoff_get(f.s, a, &h), 0);
    CHECK(!h.used);
    lg_handoff_free(&h);
    CHECK_INT(lg_store_handoff_claim(f.s, b, f.ann, T0 + TTL - 1, &h), 0);
    lg_handoff_free(&h);
    /* A later add purges what expired before its purge time. */
    int64_t ids[1] = { f.tracks[1] };
    struct lg_handoff n = {
        .user_id = f.ann, .ids = ids, .n = 1, .created_s = T0 + 1000, .expires_s = T0 + 1300
    };
    unsigned char c[32];
    hash_of(c, 4);
    CHECK_INT(lg_store_handoff_add(f.s, c, &n, T0 + TTL), 0);
    CHECK_INT(lg_store_handoff_get(f.s, a, &h), LG_ENOTFOUND);
    CHECK_INT(lg_store_handoff_get(f.s, b, &h), LG_ENOTFOUND);
    CHECK_INT(lg_store_handoff_get(f.s, c, &h), 0);
    lg_handoff_free(&h);
    teardown(&f);
}

LG_TEST(wrong_user)
{
    struct fixture f;
    setup(&f, "handoff-user");
    CHECK_INT(add(&f, 5, f.ann), 0);
    unsigned char hash[32];
    hash_of(hash, 5);
    struct lg_handoff h;
    CHECK_INT(lg_store_handoff_claim(f.s, hash, f.bob, T0 + 1, &h), LG_ENOTFOUND);
    /* Bob's try did not use it up: Ann still can. */
    CHECK_INT(lg_store_handoff_claim(f.s, hash, f.ann, T0 + 2, &h), 0);
    lg_handoff_free(&h);
    unsigned char unknown[32];
    hash_of(unknown, 9);
    CHECK_INT(lg_store_handoff_claim(f.s, unknown, f.ann, T0 + 2, &h), LG_ENOTFOUND);
    CHECK_INT(lg_store_handoff_get(f.s, unknown, &h), LG_ENOTFOUND);
    teardown(&f);
}

LG_TEST(bad_queues)
{
    struct fixture f;
    setup(&f, "handoff-bad");
    unsigned char hash[32];
    hash_of(hash, 6);
    int64_t ids[2] = { f.tracks[0], 999999 };
    struct lg_handoff h = { .user_id = f.ann, .ids = ids, .n = 2, .expires_s = T0 + TTL };
    CHECK_INT(lg_store_handoff_add(f.s, hash, &h, T0), LG_EINVAL);
    struct lg_handoff got;
    CHECK_INT(lg_store_handoff_get(f.s, hash, &got), LG_ENOTFOUND); /* nothing half-stored */
    h.n = 1;
    h.current = 1;
    CHECK_INT(lg_store_handoff_add(f.s, hash, &h, T0), LG_EINVAL);
    h.n = 0;
    h.current = 0;
    CHECK_INT(lg_store_handoff_add(f.s, hash, &h, T0), LG_EINVAL);
    teardown(&f);
}

LG_TEST(deleted_tracks)
{
    struct fixture f;
    setup(&f, "handoff-deleted");
    CHECK_INT(add(&f, 7, f.ann), 0); /* 2, 0, 3; current 3 at 61.5 s */
    CHECK_INT(add(&f, 8, f.ann), 0);
    unsigned char a[32], b[32];
    hash_of(a, 7);
    hash_of(b, 8);
    struct lg_handoff h;
    /* A track before the current one goes: current moves down with it. */
    CHECK_INT(lg_store_track_delete(f.s, f.tracks[0]), 0);
    CHECK_INT(lg_store_handoff_get(f.s, a, &h), 0);
    CHECK_INT(h.n, 2);
    CHECK_INT(h.current, 1);
    CHECK(h.n == 2 && h.ids[h.current] == f.tracks[3]);
    CHECK_INT(h.position_ms, 61500);
    lg_handoff_free(&h);
    /* The current track goes: the last one left, from its start. */
    CHECK_INT(lg_store_track_delete(f.s, f.tracks[3]), 0);
    CHECK_INT(lg_store_handoff_claim(f.s, b, f.ann, T0 + 1, &h), 0);
    CHECK_INT(h.n, 1);
    CHECK_INT(h.current, 0);
    CHECK_INT(h.position_ms, 0);
    lg_handoff_free(&h);
    teardown(&f);
}

LG_TEST(local_paths)
{
    static const struct {
        const char *path;
        bool ok;
    } rows[] = {
        { "/", true },
        { "/handoff/abc_DEF-123", true },
        { "/device?h=abc&x=%2F", true },
        { NULL, false },
        { "", false },
        { "//evil.example/", false },
        { "/\\evil.example/", false },
        { "https://evil.example/", false },
        { "javascript:alert(1)", false },
        { "handoff", false },
        { "/a b", false },
        { "/a\r\nSet-Cookie: x=1", false },
        { "/a\\b", false },
        { "/\xc3\xa9", false },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (lg_web_local_path(rows[i].path) != rows[i].ok) {
            fprintf(stderr, "  row %zu: %s\n", i, rows[i].path ? rows[i].path : "(null)");
            lg_test_failed++;
        }
    }
    char longer[LG_WEB_LOCAL_PATH_MAX + 2];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[0] = '/';
    longer[sizeof(longer) - 1] = '\0';
    CHECK(!lg_web_local_path(longer));
    longer[LG_WEB_LOCAL_PATH_MAX] = '\0';
    CHECK(lg_web_local_path(longer));
}

LG_TEST_MAIN(LG_CASE(make_and_claim_once), LG_CASE(unclaimed_bounded), LG_CASE(expiry),
             LG_CASE(wrong_user), LG_CASE(bad_queues), LG_CASE(deleted_tracks),
             LG_CASE(local_paths))
