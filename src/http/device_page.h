/* SPDX-License-Identifier: MIT */
/*
 * The device approval page, where a person signs in a TV or phone that showed
 * a user code or a QR code (the OAuth device grant, auth/device.h):
 *   GET  /device            a form to type the user code (?code=XXXX-XXXX),
 *   GET  /device?h=HANDLE   the page the QR code opens,
 *   POST /device/login      username + password; sets the legato_session
 *                           cookie (auth/websession.h) and answers 303 back
 *                           to the same /device URL,
 *   POST /device/decide     h or code, csrf, decision=approve|deny.
 * Signed out, the page offers the password form; signed in, it shows the user
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

#endif
