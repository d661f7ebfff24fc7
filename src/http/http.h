/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server: libmicrohttpd with epoll and a thread pool, a router, and
 * the handlers (one file per API family). Handlers parse the request, call one
 * subsystem function and render the answer; no SQL here.
 */
#ifndef LG_HTTP_HTTP_H
#define LG_HTTP_HTTP_H

#include "core/common.h"

struct lg_config;
struct lg_store;
struct lg_auth;
struct lg_scanner;

/* What the handlers need; borrowed, must outlive the server. */
struct lg_http_deps {
    const struct lg_config *cfg;
    struct lg_store *store;
    struct lg_auth *auth;
    struct lg_scanner *scanner; /* may be NULL */
};

struct lg_http;

/* Binds cfg->listen ("HOST:PORT", "[IPV6]:PORT", ":PORT"; port 0 picks a
 * free one) and starts serving on cfg->http_threads threads (0: one per
 * core), with cfg->max_connections, cfg->max_per_ip and cfg->conn_timeout_s
 * applied. Routes: GET/HEAD /healthz; GET/HEAD/POST /rest/NAME[.view] (the
 * Subsonic API: ping, stream, download so far); 404 otherwise. Every request
 * is logged at info under "http", secrets removed from the query. Returns 0,
 * LG_EINVAL for a bad listen address, or -errno (-EADDRINUSE, ...) when the
 * server cannot start; the reason is logged. Caller owns *out (lg_http_stop). */
int lg_http_start(const struct lg_http_deps *deps, struct lg_http **out) LG_MUST_CHECK;
/* The port actually bound (useful with port 0). */
int lg_http_port(const struct lg_http *h);
/* Stops accepting, closes connections, joins the server's threads and frees
 * h. NULL is ignored. */
void lg_http_stop(struct lg_http *h);

#endif
