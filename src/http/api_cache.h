/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: rendered Subsonic answers kept in memory, so that a
 * client asking again for what it asked before (web players refetch the
 * artist list and album pages on every visit; every device of a household
 * pages through the same library to sync) is answered with bytes already
 * made. An entry is found by a key (the user, the method and its
 * parameters; see subsonic_api.c) and is valid for one generation of the
 * store (lg_store_generation): any commit makes every older entry a miss.
 * The least recently used entries go first when the cache is over its size.
 * Thread-safe; one mutex, held for lookups and stores, never while
 * rendering.
 */
#ifndef LG_HTTP_API_CACHE_H
#define LG_HTTP_API_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct lg_api_cache;
/* A rendered answer, shared by the cache and the responses sending it. */
struct lg_api_body {
    const char *data;
    size_t len;
};

struct lg_api_cache_stats {
    uint64_t hits, misses, stores, evictions;
    size_t entries, bytes, max_bytes;
};

/* A cache of at most max_bytes (answers and keys); NULL when max_bytes is 0
 * (every call below accepts NULL and then keeps nothing). */
struct lg_api_cache *lg_api_cache_new(size_t max_bytes);
void lg_api_cache_free(struct lg_api_cache *c);

/* The answer stored under key for generation gen, with a reference for the
 * caller (lg_api_body_unref); NULL on a miss. An entry of another generation
 * is dropped. */
const struct lg_api_body *lg_api_cache_get(struct lg_api_cache *c, const void *key, size_t key_len,
                                           uint64_t gen);
/* Takes data (malloc'ed, len bytes) and returns it as a body with a
 * reference for the caller; the cache keeps it under key for gen unless it is
 * larger than an eighth of the cache. Never NULL. */
const struct lg_api_body *lg_api_cache_put(struct lg_api_cache *c, const void *key, size_t key_len,
                                           uint64_t gen, char *data, size_t len);
void lg_api_body_unref(const struct lg_api_body *b);

void lg_api_cache_stats(struct lg_api_cache *c, struct lg_api_cache_stats *out);

#endif
