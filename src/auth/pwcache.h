/* SPDX-License-Identifier: MIT */
/*
 * A cache of successful password verifications, private to src/auth, so that
 * argon2id runs once per user/password pair and not on every request. An entry
 * is a 32-byte keyed BLAKE2b digest of (user id, stored hash string,
 * password) under a random key that lives only in memory: the cache never
 * holds the password, and because the stored hash string changes with every
 * password change (fresh salt), an entry made before the change can never
 * match after it, on any process. lg_pwcache_drop_user also forgets a user's
 * entries at once.
 *
 * Entries live LG_PWCACHE_TTL_US from the verification that made them (not
 * from their last use). Memory is fixed: n_slots entries in sets of 4 ways,
 * replacing an expired entry first, else the oldest. Thread-safe (one mutex).
 */
#ifndef LG_AUTH_PWCACHE_H
#define LG_AUTH_PWCACHE_H

#include <stdbool.h>

#include "core/common.h"

#define LG_PWCACHE_TTL_US     (5 * 60 * 1000000LL)
#define LG_PWCACHE_DIGEST_LEN 32

struct lg_pwcache;

/* n_slots is rounded up to a power of two, at least 4. Caller owns the result
 * (lg_pwcache_free). Aborts on OOM. */
struct lg_pwcache *lg_pwcache_new(size_t n_slots);
/* Wipes the key and the entries. NULL does nothing. */
void lg_pwcache_free(struct lg_pwcache *c);

/* The digest that identifies a verification of pw (pw_len bytes) against
 * user_id's stored hash string pass_hash. */
void lg_pwcache_digest(const struct lg_pwcache *c, int64_t user_id, const char *pass_hash,
                       const char *pw, size_t pw_len, unsigned char out[LG_PWCACHE_DIGEST_LEN]);
/* True when d was put less than LG_PWCACHE_TTL_US before now_us. */
bool lg_pwcache_hit(struct lg_pwcache *c, const unsigned char d[LG_PWCACHE_DIGEST_LEN],
                    int64_t now_us);
/* Remembers a successful verification of user_id. */
void lg_pwcache_put(struct lg_pwcache *c, const unsigned char d[LG_PWCACHE_DIGEST_LEN],
                    int64_t user_id, int64_t now_us);
/* Forgets every entry of user_id (O(n_slots)). */
void lg_pwcache_drop_user(struct lg_pwcache *c, int64_t user_id);

#endif
