/* SPDX-License-Identifier: MIT */
/*
 * Browser sign-in sessions for the device approval page (/device). A session
 * is a random 256-bit token, handed to the browser once as base64url text in
 * the legato_session cookie and stored only as its BLAKE2b-256 hash; it lives
 * LG_WEBSESSION_TTL_S. The page's CSRF token is derived from the session
 * token (BLAKE2b keyed with the token over a fixed label), so it needs no
 * storage, differs per session and cannot be computed without the cookie;
 * it is compared in constant time. Times are unix seconds, passed in so that
 * tests can move the clock. Thread-safe as the store is.
 */
#ifndef LG_AUTH_WEBSESSION_H
#define LG_AUTH_WEBSESSION_H

#include <stdbool.h>

#include "core/common.h"

struct lg_store;

#define LG_WEBSESSION_TTL_S     (30 * 86400) /* session lifetime */
#define LG_WEBSESSION_TOKEN_LEN 44           /* 43 base64url characters + NUL */

/* Creates a session for user_id at now_s; writes its token. LG_ESTORE. */
int lg_websession_create(struct lg_store *s, int64_t user_id, int64_t now_s,
                         char token[LG_WEBSESSION_TOKEN_LEN]) LG_MUST_CHECK;
/* The user of a live session: 0 and *user_id; LG_EAUTH for a NULL, malformed,
 * unknown or expired token; LG_ESTORE. */
int lg_websession_user(struct lg_store *s, const char *token, int64_t now_s,
                       int64_t *user_id) LG_MUST_CHECK;
/* Ends a session (unknown tokens are fine). 0 or LG_ESTORE. */
int lg_websession_delete(struct lg_store *s, const char *token) LG_MUST_CHECK;

/* The CSRF token of a session token (base64url, 43 characters). */
void lg_websession_csrf(const char *token, char out[LG_WEBSESSION_TOKEN_LEN]);
/* Whether csrf is the CSRF token of the session token (constant time). */
bool lg_websession_csrf_ok(const char *token, const char *csrf);

#endif
