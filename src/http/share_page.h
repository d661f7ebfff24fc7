/* SPDX-License-Identifier: MIT */
/*
 * The public side of shares (Subsonic createShare, subsonic_shares.h) and the
 * page player that plays tracks in a browser.
 *
 * Routes, no account needed (the token in the URL is the capability):
 *   GET      /share/TOKEN             the page: description, who shared it,
 *                                     the tracks with covers and the player,
 *                                     download links when the share allows
 *                                     them; counts a visit (not for HEAD)
 *   GET/HEAD /share/TOKEN/stream/ID   the track's original bytes with
 *                                     Range, ETag and the other validators,
 *                                     exactly as /rest/stream
 *   GET/HEAD /share/TOKEN/download/ID the same as an attachment; 403 when
 *                                     the share does not allow downloads
 *   GET/HEAD /share/TOKEN/cover/ID    the track's cover, 300 px (getCoverArt)
 *   GET/HEAD /share/TOKEN/qr.svg, qr.png  PUBLIC/share/TOKEN as a QR code
 * An unknown token answers 404 and an expired share 410 (an HTML page for
 * the page, plain text for the rest); a track that is not in the share 404.
 * The token is looked up by its hash (share_token.h), so the lookup's timing
 * says nothing about it. Each unknown or malformed token counts one failure
 * against the client's IP; past LG_SHARE_GUESS_PER_MIN a minute, every
 * share route answers that IP 429 with Retry-After until the allowance
 * refills. The request log shows "#ID" (the share's id) in place of the
 * token. The page has the player's CSP (LG_WEB_PLAYER of web.h: script,
 * media and images of this origin only, no inline script) and sends no
 * Referer, so the token does not leak to other sites.
 */
#ifndef LG_HTTP_SHARE_PAGE_H
#define LG_HTTP_SHARE_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "core/buf.h"
#include "core/common.h"

struct lg_req;

enum { LG_SHARE_GUESS_PER_MIN = 20 };

/* Whether path is one of the share routes above (/share/...). */
bool lg_share_page_is_route(const char *path);
/* Serves them; other methods than GET and HEAD get 405. */
enum MHD_Result lg_share_page_route(struct lg_req *r);

/* --- the page player ---
 * GET /static/player.js (static.h) is a script that turns
 *     <div id="player" data-tracks="JSON" data-start="INDEX"
 *          data-position="SECONDS"></div>
 * into a track list and one <audio controls>: it starts track INDEX at
 * SECONDS, plays on through the list, lets a click pick a track and marks
 * the one playing (class "now" and aria-current on its <li>). JSON is an
 * array of {"title","artist","album","duration","src","cover"?,
 * "download"?}. A page that uses it sends web.h's LG_WEB_PLAYER policy. */

/* One track for the player. URLs should be of this origin (the CSP allows
 * no other); title, artist and album may be any bytes (invalid UTF-8 is
 * replaced). */
struct lg_player_track {
    const char *title;
    const char *artist;
    const char *album;
    int64_t duration_s;
    const char *src;      /* the audio */
    const char *cover;    /* the cover image, or NULL */
    const char *download; /* a download link, or NULL */
};

/* Appends the player's <div id="player" ...></div> for n tracks, to start at
 * track start (0 when out of range) at position_s seconds (0 when negative
 * or not finite), followed by <script src="/static/player.js"></script>.
 * Every value is HTML-escaped into the attributes. One player per page (it
 * is found by its id). Returns 0 or LG_ETOOBIG when b is full. Pure apart
 * from b; thread-safe. */
int lg_player_div(struct lg_buf *b, const struct lg_player_track *tracks, size_t n, size_t start,
                  double position_s) LG_MUST_CHECK;

#endif
