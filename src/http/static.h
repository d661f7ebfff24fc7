/* SPDX-License-Identifier: MIT */
/*
 * Static files of the web pages, embedded in the binary at build time from
 * src/http/assets/ (scripts/embed.py): GET/HEAD /static/NAME. For now one
 * file, player.js (the page player, share_page.h). Answers carry a strong
 * ETag (a hash of the content, so a new build's file is a new tag), a
 * Cache-Control of a week (pages keep the same URL across versions, so
 * "immutable" would be wrong) and nosniff; If-None-Match gets 304. Unknown
 * names get 404, other methods 405. GET /favicon.ico answers 204 No Content
 * (there is no icon; browsers ask for one on every page that may show
 * images, and would report a 404 as an error).
 */
#ifndef LG_HTTP_STATIC_H
#define LG_HTTP_STATIC_H

#include <stdbool.h>

#include <microhttpd.h>

struct lg_req;

/* Whether path is under /static/ or is /favicon.ico. */
bool lg_static_is_route(const char *path);
enum MHD_Result lg_static_route(struct lg_req *r);

#endif
