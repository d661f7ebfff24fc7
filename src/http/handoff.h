/* SPDX-License-Identifier: MIT */
/*
 * Hand-off: "continue on another device". A player that is signed in posts
 * its queue and gets a short-lived, single-use link (and its QR code); the
 * same user opens it on another device, which then resumes the queue where
 * the first one was.
 *   POST /api/handoff        Bearer device access token or Subsonic
 *                            credentials; form: id (repeated, track ids in
 *                            queue order, 1 to LG_HANDOFF_IDS_MAX), current
 *                            (the 0-based index into the ids of the track to
 *                            resume, default 0: an index, not a track id, so
 *                            that a queue may hold a track twice), position
 *                            (ms into it, default 0). 200 {url, qr_svg,
 *                            qr_png, expires_in}; 400 for a bad or unknown
 *                            id, current or position; 401.
 *   GET  /handoff/TOKEN      the page the link opens. Signed out: the
 *                            sign-in form, coming back here. Signed in: what
 *                            would continue and a "Continue here" form. A
 *                            GET never uses the link up (previews and
 *                            prefetchers open links too).
 *   POST /handoff/TOKEN      csrf (the sign-in session's); claims the link
 *                            and saves its queue as the user's play queue
 *                            (what getPlayQueue returns), then 303 to "/".
 *   GET  /handoff/TOKEN/qr.svg, /qr.png   the link as a QR code.
 *   POST /api/handoff/claim  the same claim for a device: Bearer token or
 *                            Subsonic credentials, form token (or url, the
 *                            whole link); 200 {entries: [track ids as
 *                            strings], current (index), position_ms}.
 * A link is claimable once, by the user who made it, for cfg->handoff_ttl_s
 * seconds: another user gets 403 (and the link stays claimable), a used or
 * expired link 410, an unknown one 404. The token is 256 random bits,
 * base64url; only its BLAKE2b-256 hash is stored.
 */
#ifndef LG_HTTP_HANDOFF_H
#define LG_HTTP_HANDOFF_H

#include <stdbool.h>

#include <microhttpd.h>

struct lg_req;

enum { LG_HANDOFF_IDS_MAX = 1000 };

/* Whether path is one of the routes above. */
bool lg_handoff_is_route(const char *path);
/* Answers a request for one of them (others methods get 405). */
enum MHD_Result lg_handoff_route(struct lg_req *r);

#endif
