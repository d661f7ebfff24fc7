/* SPDX-License-Identifier: MIT */
/*
 * Failed-login rate limiting, private to src/auth. Each client (an IP or a
 * user name, in separate scopes) may fail per_min times within any minute;
 * the allowance refills continuously. It is GCRA (a token bucket kept as one
 * "theoretical arrival time" per client): each failure pushes the client's
 * time one interval (60 s / per_min) into the future, and a client is limited
 * while that time lies more than (per_min - 1) intervals ahead.
 *
 * Memory is fixed: a table of n_slots entries in sets of 8 ways, each holding a
 * 16-byte keyed hash of scope and id (the key is random and in memory only, so
 * peers cannot aim at one set) and that time. An entry whose time has passed is
 * free; when a set is full, the entry nearest to expiry is evicted. Thread-safe
 * (one mutex); every call is O(8).
 */
#ifndef LG_AUTH_RATELIMIT_H
#define LG_AUTH_RATELIMIT_H

#include <stdbool.h>

#include "core/common.h"

struct lg_ratelimit;

/* per_min >= 1; n_slots is rounded up to a power of two, at least 8. Caller
 * owns the result (lg_ratelimit_free). Aborts on OOM. */
struct lg_ratelimit *lg_ratelimit_new(int64_t per_min, size_t n_slots);
void lg_ratelimit_free(struct lg_ratelimit *rl);

/* True while the client (scope, id) has used up its allowance at now_us (any
 * monotonic clock in microseconds). A NULL or empty id is never limited. */
bool lg_ratelimit_limited(struct lg_ratelimit *rl, const char *scope, const char *id,
                          int64_t now_us);
/* Counts one failure for the client (scope, id). NULL or empty id: no-op. */
void lg_ratelimit_fail(struct lg_ratelimit *rl, const char *scope, const char *id, int64_t now_us);

#endif
