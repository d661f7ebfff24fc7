/* SPDX-License-Identifier: MIT */
/*
 * Fixtures of the tests that work on a store: a fresh database and users.
 * Failures abort the test program (lg_assert).
 */
#ifndef LG_TEST_STORE_FIXTURE_H
#define LG_TEST_STORE_FIXTURE_H

#include <stdint.h>

#include "store/store.h"

/* Opens dir/name.db, removed first if a run before left it. */
struct lg_store *lg_fx_store(const char *dir, const char *name);
/* Adds a user (an administrator when admin) with a placeholder password;
 * returns the id. */
int64_t lg_fx_user(struct lg_store *s, const char *name, int admin);

#endif
