/* SPDX-License-Identifier: MIT */
/*
 * A tiny blocking HTTP/1.1 client for http:// URLs only, used by the device
 * commands: one request per connection (Connection: close), GET or POST with
 * a form body and an optional Bearer token. The response body is read
 * (Content-Length, chunked, or until close) into a limited buffer, or
 * streamed to a FILE when the status is 200. Every socket wait is bounded by
 * a timeout. Keeps no state; safe to call from any thread.
 */
#ifndef LG_HTTP_CLIENT_H
#define LG_HTTP_CLIENT_H

#include <stdio.h>

#include "core/buf.h"
#include "core/common.h"

enum {
    LG_HTTP_CLIENT_TIMEOUT_MS = 30000, /* per connect and per read */
    LG_HTTP_CLIENT_BODY_MAX = 1 << 20, /* bytes of a body read into memory */
};

struct lg_http_url {
    char host[256];
    char port[8];
    char path[2048]; /* with the query; "/" at least */
};

struct lg_http_resp {
    int status;
    char content_type[128]; /* "" when absent */
    struct lg_buf body;     /* empty when streamed to a FILE */
};

/* Parses "http://host[:port][/path]" (IPv6 as [addr]). LG_EPARSE otherwise. */
int lg_http_url_parse(const char *url, struct lg_http_url *out) LG_MUST_CHECK;

/* Appends "key=value" (with '&' between pairs), percent-encoded. */
int lg_http_form_add(struct lg_buf *b, const char *key, const char *value) LG_MUST_CHECK;

/* Sends one request: method "GET" or "POST"; form (POST body,
 * application/x-www-form-urlencoded) may be NULL; bearer may be NULL. When
 * sink is given, the status is 200 and the Content-Type is neither XML nor
 * JSON (a Subsonic error) the body goes to sink, else into
 * resp->body (at most LG_HTTP_CLIENT_BODY_MAX). Returns 0 (any status), or
 * -errno for network errors, LG_EPARSE for a malformed response, LG_ETOOBIG.
 * The caller frees resp with lg_http_resp_free, on error too. */
int lg_http_request(const char *method, const char *url, const char *form, const char *bearer,
                    FILE *sink, struct lg_http_resp *resp) LG_MUST_CHECK;
void lg_http_resp_free(struct lg_http_resp *resp);

#endif
