/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of http/api_cache.c: hits and misses by key and generation,
 * least-recently-used eviction within the size, answers too large to keep,
 * bodies outliving their entries, no cache at all, and threads sharing one
 * cache (each answer checked against its key).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "core/common.h"
#include "http/api_cache.h"

#include "harness.h"

static char *text(const char *s, size_t len)
{
    char *p = lg_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = s[i % strlen(s)];
    return p;
}

static bool holds(const struct lg_api_body *b, const char *s, size_t len)
{
    if (!b || b->len != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (b->data[i] != s[i % strlen(s)])
            return false;
    }
    return true;
}

LG_TEST(hit_and_miss)
{
    struct lg_api_cache *c = lg_api_cache_new(1 << 20);
    CHECK(lg_api_cache_get(c, "k1", 2, 7) == NULL);
    const struct lg_api_body *b = lg_api_cache_put(c, "k1", 2, 7, text("one", 100), 100);
    CHECK(holds(b, "one", 100));
    lg_api_body_unref(b);
    b = lg_api_cache_get(c, "k1", 2, 7);
    CHECK(holds(b, "one", 100));
    lg_api_body_unref(b);
    /* Keys differ by bytes and by length: "k1" is not "k1\0". */
    CHECK(lg_api_cache_get(c, "k1\0", 3, 7) == NULL);
    CHECK(lg_api_cache_get(c, "k2", 2, 7) == NULL);
    /* Another generation is a miss, and the entry goes. */
    CHECK(lg_api_cache_get(c, "k1", 2, 8) == NULL);
    CHECK(lg_api_cache_get(c, "k1", 2, 7) == NULL);
    struct lg_api_cache_stats st;
    lg_api_cache_stats(c, &st);
    CHECK_INT((long long)st.hits, 1);
    CHECK_INT((long long)st.misses, 5);
    CHECK_INT((long long)st.entries, 0);
    CHECK_INT((long long)st.bytes, 0);
    /* A second store under one key replaces the first. */
    lg_api_body_unref(lg_api_cache_put(c, "k", 1, 1, text("a", 10), 10));
    lg_api_body_unref(lg_api_cache_put(c, "k", 1, 1, text("b", 20), 20));
    b = lg_api_cache_get(c, "k", 1, 1);
    CHECK(holds(b, "b", 20));
    lg_api_body_unref(b);
    lg_api_cache_stats(c, &st);
    CHECK_INT((long long)st.entries, 1);
    lg_api_cache_free(c);
}

LG_TEST(eviction)
{
    /* 64 KiB: entries up to 8 KiB are kept; 4 KiB answers fit about 15. */
    struct lg_api_cache *c = lg_api_cache_new(64 * 1024);
    char key[16];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "key %d", i);
        lg_api_body_unref(lg_api_cache_put(c, key, strlen(key), 1, text(key, 4096), 4096));
        /* Key 0 is used all along: it stays. */
        const struct lg_api_body *b = lg_api_cache_get(c, "key 0", 5, 1);
        CHECK(holds(b, "key 0", 4096));
        lg_api_body_unref(b);
    }
    struct lg_api_cache_stats st;
    lg_api_cache_stats(c, &st);
    CHECK(st.bytes <= 64 * 1024);
    CHECK(st.entries >= 10 && st.entries < 16);
    CHECK(st.evictions == 40 - st.entries);
    /* The newest are there, the oldest (but key 0) are not. */
    const struct lg_api_body *b = lg_api_cache_get(c, "key 39", 6, 1);
    CHECK(holds(b, "key 39", 4096));
    lg_api_body_unref(b);
    CHECK(lg_api_cache_get(c, "key 1", 5, 1) == NULL);
    /* Over an eighth of the size: answered, not kept. */
    b = lg_api_cache_put(c, "big", 3, 1, text("big", 9000), 9000);
    CHECK(holds(b, "big", 9000));
    lg_api_body_unref(b);
    CHECK(lg_api_cache_get(c, "big", 3, 1) == NULL);
    lg_api_cache_free(c);
}

LG_TEST(body_outlives_entry)
{
    struct lg_api_cache *c = lg_api_cache_new(1 << 20);
    lg_api_body_unref(lg_api_cache_put(c, "k", 1, 1, text("x", 1000), 1000));
    const struct lg_api_body *b = lg_api_cache_get(c, "k", 1, 1);
    CHECK(lg_api_cache_get(c, "k", 1, 2) == NULL); /* drops the entry */
    CHECK(holds(b, "x", 1000));                    /* still being sent */
    const struct lg_api_body *b2 = lg_api_cache_put(c, "j", 1, 1, text("y", 10), 10);
    lg_api_cache_free(c); /* the cache goes first */
    CHECK(holds(b2, "y", 10));
    lg_api_body_unref(b2);
    lg_api_body_unref(b);
}

LG_TEST(no_cache)
{
    struct lg_api_cache *c = lg_api_cache_new(0);
    CHECK(c == NULL);
    CHECK(lg_api_cache_get(c, "k", 1, 1) == NULL);
    const struct lg_api_body *b = lg_api_cache_put(c, "k", 1, 1, text("z", 5), 5);
    CHECK(holds(b, "z", 5));
    lg_api_body_unref(b);
    CHECK(lg_api_cache_get(c, "k", 1, 1) == NULL);
    struct lg_api_cache_stats st;
    lg_api_cache_stats(c, &st);
    CHECK_INT((long long)st.entries, 0);
    lg_api_cache_free(c);
}

enum { THREADS = 4, ROUNDS = 20000, KEYS = 64 };

struct worker {
    struct lg_api_cache *c;
    unsigned seed;
    int bad;
};

static void *work(void *p)
{
    struct worker *w = p;
    char key[16];
    for (int i = 0; i < ROUNDS; i++) {
        unsigned r = (unsigned)rand_r(&w->seed);
        snprintf(key, sizeof(key), "k%u", r % KEYS);
        uint64_t gen = (r >> 8) % 3;
        size_t len = 64 + (r % KEYS) * 37;
        const struct lg_api_body *b = lg_api_cache_get(w->c, key, strlen(key), gen);
        if (!b)
            b = lg_api_cache_put(w->c, key, strlen(key), gen, text(key, len), len);
        if (!holds(b, key, len))
            w->bad++;
        lg_api_body_unref(b);
    }
    return NULL;
}

LG_TEST(threads)
{
    struct lg_api_cache *c = lg_api_cache_new(32 * 1024);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){ c, (unsigned)i + 1, 0 };
        lg_assert(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(w[i].bad, 0);
    }
    struct lg_api_cache_stats st;
    lg_api_cache_stats(c, &st);
    CHECK(st.bytes <= 32 * 1024);
    CHECK(st.hits > 0 && st.evictions > 0);
    CHECK_INT((long long)(st.hits + st.misses), THREADS * ROUNDS);
    lg_api_cache_free(c);
}

LG_TEST_MAIN(LG_CASE(hit_and_miss), LG_CASE(eviction), LG_CASE(body_outlives_entry),
             LG_CASE(no_cache), LG_CASE(threads))
