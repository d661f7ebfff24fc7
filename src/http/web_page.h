/* SPDX-License-Identifier: MIT */
/*
 * The web start page, what a phone opens after scanning the QR code that
 * `legato serve` prints, and the audio it plays:
 *   GET  /                    signed out: the sign-in form (the device
 *                             page's, coming back here). Signed in: the
 *                             user's saved play queue (Subsonic
 *                             savePlayQueue, or a claimed hand-off) in the
 *                             page player (share_page.h), which starts at
 *                             the saved track and position; links to sign
 *                             in a device.
 *   GET  /web/stream/ID       the track's original bytes, exactly as
 *                             /rest/stream sends them (Range, validators),
 *                             for the signed-in user (401 without a
 *                             session, 403 without the stream role).
 *   GET  /web/cover/ID        the track's cover, 300 px, as getCoverArt.
 * Both /web routes take the legato_session cookie; it is SameSite=Strict,
 * so only this origin's pages make the browser send it. The page has the
 * player's CSP (script, media and images of this origin, no inline script).
 */
#ifndef LG_HTTP_WEB_PAGE_H
#define LG_HTTP_WEB_PAGE_H

#include <stdbool.h>

#include <microhttpd.h>

struct lg_req;

/* Whether path is one of the routes above. */
bool lg_web_page_is_route(const char *path);
/* Serves them (GET and HEAD; others get 405). */
enum MHD_Result lg_web_page_route(struct lg_req *r);

#endif
