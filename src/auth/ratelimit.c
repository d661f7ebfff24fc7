/* SPDX-License-Identifier: MIT */
/*
 * Fixed-size GCRA table for failed logins; see ratelimit.h.
 */
#include "auth/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <sodium.h>

#define WAYS      8
#define KEY_LEN   16
#define MINUTE_US 60000000LL

struct entry {
    unsigned char key[KEY_LEN];
    int64_t tat_us; /* theoretical arrival time; <= now means the entry is free */
};

struct lg_ratelimit {
    pthread_mutex_t mu;
    int64_t interval_us; /* 60 s / per_min: how fast the allowance refills */
    int64_t slack_us;    /* (per_min - 1) intervals: how far ahead tat may be */
    size_t mask;         /* n_slots - 1; sets start at multiples of WAYS */
    unsigned char hash_key[crypto_generichash_KEYBYTES];
    struct entry *slots;
};

struct lg_ratelimit *lg_ratelimit_new(int64_t per_min, size_t n_slots)
{
    struct lg_ratelimit *rl = lg_xcalloc(1, sizeof *rl);
    per_min = LG_MIN(LG_MAX(per_min, 1), MINUTE_US);
    rl->interval_us = MINUTE_US / per_min;
    rl->slack_us = (per_min - 1) * rl->interval_us;
    size_t n = WAYS;
    while (n < n_slots)
        n *= 2;
    rl->mask = n - 1;
    rl->slots = lg_xcalloc(n, sizeof *rl->slots);
    randombytes_buf(rl->hash_key, sizeof rl->hash_key);
    pthread_mutex_init(&rl->mu, NULL);
    return rl;
}

void lg_ratelimit_free(struct lg_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    sodium_memzero(rl->hash_key, sizeof rl->hash_key);
    free(rl->slots);
    free(rl);
}

/* The scope's terminating NUL separates it from the id, so ("ab", "c") and
 * ("a", "bc") differ. */
static void client_key(const struct lg_ratelimit *rl, const char *scope, const char *id,
                       unsigned char out[KEY_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, rl->hash_key, crypto_generichash_KEYBYTES, KEY_LEN);
    crypto_generichash_update(&st, (const unsigned char *)scope, strlen(scope) + 1);
    crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
    crypto_generichash_final(&st, out, KEY_LEN);
}

static struct entry *set_of(struct lg_ratelimit *rl, const unsigned char key[KEY_LEN])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return rl->slots + ((size_t)h & rl->mask & ~(size_t)(WAYS - 1));
}

/* The live entry of key, or NULL. Caller holds the mutex. */
static struct entry *find(struct lg_ratelimit *rl, const unsigned char key[KEY_LEN], int64_t now_us)
{
    struct entry *set = set_of(rl, key);
    for (int i = 0; i < WAYS; i++) {
        if (set[i].tat_us > now_us && memcmp(set[i].key, key, KEY_LEN) == 0)
            return &set[i];
    }
    return NULL;
}

/* A slot for a new entry: a free one, else the one nearest to expiry. */
static struct entry *victim(struct lg_ratelimit *rl, const unsigned char key[KEY_LEN])
{
    struct entry *set = set_of(rl, key);
    struct entry *best = &set[0];
    for (int i = 1; i < WAYS; i++) {
        if (set[i].tat_us < best->tat_us)
            best = &set[i];
    }
    return best;
}

bool lg_ratelimit_limited(struct lg_ratelimit *rl, const char *scope, const char *id,
                          int64_t now_us)
{
    if (!id || !*id)
        return false;
    unsigned char key[KEY_LEN];
    client_key(rl, scope, id, key);
    pthread_mutex_lock(&rl->mu);
    const struct entry *e = find(rl, key, now_us);
    bool limited = e && e->tat_us - now_us > rl->slack_us;
    pthread_mutex_unlock(&rl->mu);
    return limited;
}

void lg_ratelimit_fail(struct lg_ratelimit *rl, const char *scope, const char *id, int64_t now_us)
{
    if (!id || !*id)
        return;
    unsigned char key[KEY_LEN];
    client_key(rl, scope, id, key);
    pthread_mutex_lock(&rl->mu);
    struct entry *e = find(rl, key, now_us);
    if (!e) {
        e = victim(rl, key);
        memcpy(e->key, key, KEY_LEN);
        e->tat_us = now_us;
    }
    /* Concurrent failures that all passed the limit check could push tat on
     * without end; capping it keeps the lockout within one minute. */
    e->tat_us = LG_MIN(e->tat_us + rl->interval_us, now_us + rl->slack_us + rl->interval_us);
    pthread_mutex_unlock(&rl->mu);
}
