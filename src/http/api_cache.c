/* SPDX-License-Identifier: MIT */
/*
 * The answer cache (api_cache.h): a chained hash table under one mutex, with
 * the entries on a least-recently-used list. Keys are hashed with SipHash
 * under a random key (libsodium's crypto_shorthash), since they are made of
 * request parameters: a client cannot aim many keys at one bucket. Bodies are
 * reference counted, so that an entry can be dropped while responses still
 * send it.
 */
#include "http/api_cache.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <sodium.h>

#include "core/common.h"
#include "prof/prof.h"

struct body {
    struct lg_api_body pub; /* first: the public view is the body */
    _Atomic unsigned refs;
};

struct link {
    struct link *newer, *older;
};

struct entry {
    struct link link;    /* first: the LRU list's links are entries */
    struct entry *chain; /* next in the bucket */
    uint64_t hash, gen;
    struct body *body;
    size_t cost; /* what counts against max_bytes */
    size_t key_len;
    unsigned char key[];
};

struct lg_api_cache {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t n_buckets; /* a power of two */
    struct link lru;  /* sentinel: lru.older is the newest entry, lru.newer the oldest */
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    struct lg_api_cache_stats st;
};

enum { FIRST_BUCKETS = 256, ENTRY_OVERHEAD = sizeof(struct entry) + sizeof(struct body) + 32 };

struct lg_api_cache *lg_api_cache_new(size_t max_bytes)
{
    if (max_bytes == 0)
        return NULL;
    lg_assert(sodium_init() >= 0);
    struct lg_api_cache *c = lg_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->n_buckets = FIRST_BUCKETS;
    c->buckets = lg_xcalloc(c->n_buckets, sizeof(*c->buckets));
    c->lru.newer = c->lru.older = &c->lru;
    crypto_shorthash_keygen(c->hash_key);
    c->st.max_bytes = max_bytes;
    return c;
}

static void body_unref(struct body *b)
{
    if (atomic_fetch_sub(&b->refs, 1) == 1) {
        free((char *)b->pub.data);
        free(b);
    }
}

void lg_api_body_unref(const struct lg_api_body *b)
{
    if (b)
        body_unref((struct body *)b);
}

static void entry_free(struct entry *e)
{
    body_unref(e->body);
    free(e);
}

void lg_api_cache_free(struct lg_api_cache *c)
{
    if (!c)
        return;
    for (struct link *l = c->lru.older, *next; l != &c->lru; l = next) {
        next = l->older;
        entry_free((struct entry *)l);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static uint64_t key_hash(const struct lg_api_cache *c, const void *key, size_t len)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, len, c->hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof(v));
    return v;
}

static struct entry **slot_of(struct lg_api_cache *c, uint64_t hash, const void *key, size_t len)
{
    struct entry **pp = &c->buckets[hash & (c->n_buckets - 1)];
    while (*pp &&
           !((*pp)->hash == hash && (*pp)->key_len == len && memcmp((*pp)->key, key, len) == 0))
        pp = &(*pp)->chain;
    return pp;
}

static void lru_unlink(struct entry *e)
{
    e->link.newer->older = e->link.older;
    e->link.older->newer = e->link.newer;
}

/* Makes e the newest entry. */
static void lru_push(struct lg_api_cache *c, struct entry *e)
{
    e->link.older = c->lru.older;
    e->link.newer = &c->lru;
    c->lru.older->newer = &e->link;
    c->lru.older = &e->link;
}

/* The size gauge on /metrics follows the cache's bytes (under the lock). */
static void publish(const struct lg_api_cache *c)
{
    lg_prof_gauge_set(LG_PROF_API_CACHE_SIZE, (int64_t)c->st.bytes);
}

/* Unlinks *pp (from its bucket and the list) and frees it. */
static void drop(struct lg_api_cache *c, struct entry **pp)
{
    struct entry *e = *pp;
    *pp = e->chain;
    lru_unlink(e);
    c->st.entries--;
    c->st.bytes -= e->cost;
    entry_free(e);
}

static void grow(struct lg_api_cache *c)
{
    size_t n = c->n_buckets * 2;
    struct entry **b = lg_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < c->n_buckets; i++) {
        for (struct entry *e = c->buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = n;
}

const struct lg_api_body *lg_api_cache_get(struct lg_api_cache *c, const void *key, size_t key_len,
                                           uint64_t gen)
{
    if (!c)
        return NULL;
    uint64_t hash = key_hash(c, key, key_len);
    struct body *found = NULL;
    pthread_mutex_lock(&c->lock);
    struct entry **pp = slot_of(c, hash, key, key_len);
    if (*pp && (*pp)->gen != gen) {
        drop(c, pp);
        publish(c);
    } else if (*pp) {
        struct entry *e = *pp;
        lru_unlink(e);
        lru_push(c, e);
        found = e->body;
        atomic_fetch_add(&found->refs, 1);
    }
    if (found)
        c->st.hits++;
    else
        c->st.misses++;
    pthread_mutex_unlock(&c->lock);
    return found ? &found->pub : NULL;
}

const struct lg_api_body *lg_api_cache_put(struct lg_api_cache *c, const void *key, size_t key_len,
                                           uint64_t gen, char *data, size_t len)
{
    struct body *b = lg_xmalloc(sizeof(*b));
    b->pub.data = data;
    b->pub.len = len;
    atomic_init(&b->refs, 1);
    size_t cost = len + key_len + ENTRY_OVERHEAD;
    if (!c || cost > c->st.max_bytes / 8)
        return &b->pub;
    uint64_t hash = key_hash(c, key, key_len);
    struct entry *e = lg_xmalloc(sizeof(*e) + key_len);
    e->hash = hash;
    e->gen = gen;
    e->body = b;
    e->cost = cost;
    e->key_len = key_len;
    memcpy(e->key, key, key_len);
    atomic_fetch_add(&b->refs, 1); /* the entry's */
    pthread_mutex_lock(&c->lock);
    struct entry **pp = slot_of(c, hash, key, key_len);
    if (*pp)
        drop(c, pp); /* another thread rendered it too: keep the newer */
    while (c->st.bytes + cost > c->st.max_bytes && c->lru.newer != &c->lru) {
        struct entry *old = (struct entry *)c->lru.newer;
        drop(c, slot_of(c, old->hash, old->key, old->key_len));
        c->st.evictions++;
    }
    if (c->st.entries >= c->n_buckets)
        grow(c);
    pp = &c->buckets[hash & (c->n_buckets - 1)];
    e->chain = *pp;
    *pp = e;
    lru_push(c, e);
    c->st.entries++;
    c->st.bytes += cost;
    c->st.stores++;
    publish(c);
    pthread_mutex_unlock(&c->lock);
    return &b->pub;
}

void lg_api_cache_stats(struct lg_api_cache *c, struct lg_api_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}
