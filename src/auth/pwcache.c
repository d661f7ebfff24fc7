/* SPDX-License-Identifier: MIT */
/*
 * Set-associative cache of verified password digests; see pwcache.h.
 */
#include "auth/pwcache.h"

#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <sodium.h>

#define WAYS 4

struct entry {
    unsigned char digest[LG_PWCACHE_DIGEST_LEN];
    int64_t user_id;
    int64_t expires_us; /* 0: empty */
};

struct lg_pwcache {
    pthread_mutex_t mu;
    size_t mask; /* n_slots - 1 */
    unsigned char key[crypto_generichash_KEYBYTES];
    struct entry *slots;
};

struct lg_pwcache *lg_pwcache_new(size_t n_slots)
{
    struct lg_pwcache *c = lg_xcalloc(1, sizeof *c);
    size_t n = WAYS;
    while (n < n_slots)
        n *= 2;
    c->mask = n - 1;
    c->slots = lg_xcalloc(n, sizeof *c->slots);
    randombytes_buf(c->key, sizeof c->key);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void lg_pwcache_free(struct lg_pwcache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    sodium_memzero(c->key, sizeof c->key);
    sodium_memzero(c->slots, (c->mask + 1) * sizeof *c->slots);
    free(c->slots);
    free(c);
}

/* The id is hashed as 8 little-endian bytes and the hash string with its NUL,
 * so the three fields cannot run into each other. */
void lg_pwcache_digest(const struct lg_pwcache *c, int64_t user_id, const char *pass_hash,
                       const char *pw, size_t pw_len, unsigned char out[LG_PWCACHE_DIGEST_LEN])
{
    unsigned char id[8];
    for (int i = 0; i < 8; i++)
        id[i] = (unsigned char)((uint64_t)user_id >> (8 * i));
    crypto_generichash_state st;
    crypto_generichash_init(&st, c->key, sizeof c->key, LG_PWCACHE_DIGEST_LEN);
    crypto_generichash_update(&st, id, sizeof id);
    crypto_generichash_update(&st, (const unsigned char *)pass_hash, strlen(pass_hash) + 1);
    crypto_generichash_update(&st, (const unsigned char *)pw, pw_len);
    crypto_generichash_final(&st, out, LG_PWCACHE_DIGEST_LEN);
    sodium_memzero(&st, sizeof st);
}

static struct entry *set_of(struct lg_pwcache *c, const unsigned char d[LG_PWCACHE_DIGEST_LEN])
{
    uint64_t h;
    memcpy(&h, d, sizeof h);
    return c->slots + ((size_t)h & c->mask & ~(size_t)(WAYS - 1));
}

bool lg_pwcache_hit(struct lg_pwcache *c, const unsigned char d[LG_PWCACHE_DIGEST_LEN],
                    int64_t now_us)
{
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    struct entry *set = set_of(c, d);
    for (int i = 0; i < WAYS; i++) {
        if (set[i].expires_us > now_us &&
            sodium_memcmp(set[i].digest, d, LG_PWCACHE_DIGEST_LEN) == 0)
            hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void lg_pwcache_put(struct lg_pwcache *c, const unsigned char d[LG_PWCACHE_DIGEST_LEN],
                    int64_t user_id, int64_t now_us)
{
    pthread_mutex_lock(&c->mu);
    struct entry *set = set_of(c, d);
    struct entry *e = &set[0];
    for (int i = 0; i < WAYS; i++) {
        if (memcmp(set[i].digest, d, LG_PWCACHE_DIGEST_LEN) == 0) {
            e = &set[i]; /* already there: refresh it rather than duplicate */
            break;
        }
        if (set[i].expires_us < e->expires_us)
            e = &set[i];
    }
    memcpy(e->digest, d, LG_PWCACHE_DIGEST_LEN);
    e->user_id = user_id;
    e->expires_us = now_us + LG_PWCACHE_TTL_US;
    pthread_mutex_unlock(&c->mu);
}

void lg_pwcache_drop_user(struct lg_pwcache *c, int64_t user_id)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i <= c->mask; i++) {
        if (c->slots[i].user_id == user_id)
            sodium_memzero(&c->slots[i], sizeof c->slots[i]);
    }
    pthread_mutex_unlock(&c->mu);
}
