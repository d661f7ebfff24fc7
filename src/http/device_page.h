/* SPDX-License-Identifier: MIT */
/*
 * The device approval page, where a person signs in a TV or phone that showed
 * a user code or a QR code (the OAuth device grant, auth/device.h):
 *   GET  /device            a form to type the user code (?code=XXXX-XXXX),
 *   GET  /device?h=HANDLE   the page the QR code opens,
 *   POST /device/login      username + password + csrf; sets the
 *                           legato_session cookie (auth/websession.h) and
 *                           answers 303 back to the same /device URL, or to
 *                           next when it is a safe local path (the hand-off
 *                           page and the start page reuse the form),
 *   POST /device/decide     h or code, csrf, decision=approve|deny.
 * Signed out, the page offers the password form. That form carries a
 * double-submit CSRF token (a random token in the legato_login cookie, or
 * __Host-legato_login when the public URL is https, HttpOnly and
 * SameSite=Strict, repeated in a hidden field): a login POST without the
 * pair, or with a mismatched one, gets 403 and a fresh form before any
 * password is looked at. Signed in, the page shows the user
 * code (to compare with the device's screen), the device's name, client id,
 * IP address and request time, and Approve / Deny buttons. POSTs to
 * /device/decide need the session's CSRF token (403 otherwise). Every reply
 * carries a strict CSP (no script; the one style block allowed by its hash),
 * frame denial, no-referrer, nosniff and no-store; every shown value is
 * HTML-escaped.
 */
#ifndef LG_HTTP_DEVICE_PAGE_H
#define LG_HTTP_DEVICE_PAGE_H

#include <stdbool.h>

#include <microhttpd.h>

struct lg_req;

/* Whether path is one of the page's routes. */
bool lg_device_page_is_route(const char *path);
/* Serves /device, /device/login and /device/decide. */
enum MHD_Result lg_device_page_route(struct lg_req *r);

/* Replies with the sign-in page under title (the password form and its
 * CSRF cookie); after a good sign-in the browser goes to next, when it is a
 * safe local path (lg_web_local_path), else to /device. */
enum MHD_Result lg_device_login_page(struct lg_req *r, unsigned status, const char *title,
                                     const char *next);

#endif
