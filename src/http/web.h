/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: what every HTML page of the server shares. The page
 * frame (one style block, allowed by its hash), HTML escaping, the security
 * headers (a strict Content-Security-Policy, frame denial, no-referrer,
 * nosniff, no-store), cookies that get Secure when the public URL is https,
 * and the browser sign-in session (the legato_session cookie of
 * auth/websession.h). Used by the device page, the hand-off page and the
 * start page. Stateless: safe from any MHD thread.
 */
#ifndef LG_HTTP_WEB_H
#define LG_HTTP_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "core/buf.h"
#include "core/common.h"

struct lg_req;

#define LG_WEB_SESSION_COOKIE "legato_session"
#define LG_WEB_PAGE_MAX       (4 * 1024 * 1024) /* bytes of one rendered page */

/* What a page may load, beyond the style block and same-origin forms. */
enum lg_web_policy {
    LG_WEB_FORMS,  /* nothing: no script, no image, no media */
    LG_WEB_PLAYER, /* also scripts, media and images of this origin (and data: images) */
};

/* Appends s (NULL: nothing) with & < > " ' escaped, safe in text and in
 * quoted attribute values. LG_ETOOBIG when b is full. */
int lg_web_esc(struct lg_buf *b, const char *s) LG_MUST_CHECK;
/* Appends the document head with the shared style block and the title
 * (escaped) as <h1>; lg_web_end closes the document. */
int lg_web_begin(struct lg_buf *b, const char *title) LG_MUST_CHECK;
int lg_web_end(struct lg_buf *b) LG_MUST_CHECK;

/* Adds the security headers of policy p to resp. */
void lg_web_headers(struct MHD_Response *resp, enum lg_web_policy p);

/* Sends b (taken, left empty) as text/html with the headers of policy p.
 * location (a 3xx target) may be NULL; cookies is NULL or a NULL-terminated
 * list of Set-Cookie values. */
enum MHD_Result lg_web_send(struct lg_req *r, unsigned status, struct lg_buf *b,
                            enum lg_web_policy p, const char *location, const char *const *cookies);
/* A page with a title and one paragraph of text (escaped). */
enum MHD_Result lg_web_message(struct lg_req *r, unsigned status, const char *title,
                               const char *text);

/* Whether the server's public base URL (lg_http_public_base) is https. */
bool lg_web_https(struct lg_req *r);
/* Writes a Set-Cookie value "NAME=VALUE; Path=/; Max-Age=N; HttpOnly;
 * SameSite=Strict", with "; Secure" when lg_web_https. LG_ETOOBIG when it
 * does not fit cap. */
int lg_web_cookie(struct lg_req *r, const char *name, const char *value, int max_age_s, char *out,
                  size_t cap) LG_MUST_CHECK;

/* Whether s is a safe local redirect target: a path of this origin that
 * starts with exactly one '/' (never "//" or "/\", which browsers read as
 * another host, nor a scheme), at most LG_WEB_LOCAL_PATH_MAX bytes of
 * printable ASCII without spaces or backslashes. */
#define LG_WEB_LOCAL_PATH_MAX 512
bool lg_web_local_path(const char *s);

/* Unix seconds, wall clock. */
int64_t lg_web_now_s(void);
/* The user of the request's live sign-in session, or 0 when there is none
 * (no cookie, an unknown or expired one, no store). *token gets the cookie
 * value (NULL when absent), valid until the handler returns. */
int64_t lg_web_session_user(struct lg_req *r, const char **token);

#endif
