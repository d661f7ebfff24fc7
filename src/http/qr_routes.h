/* SPDX-License-Identifier: MIT */
/*
 * GET /device/qr.svg and /device/qr.png: the QR code of the device grant's
 * verification_uri_complete. Both take the same query string as that URI
 * (?h=HANDLE) and draw PUBLIC + "/device?h=HANDLE", PUBLIC being
 * cfg->public_url when set, else "http://" + the request's Host header when
 * it is made of host characters only, else the listen address.
 */
#ifndef LG_HTTP_QR_ROUTES_H
#define LG_HTTP_QR_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

struct lg_req;
struct lg_http;

enum { LG_QR_HANDLE_MIN = 16, LG_QR_HANDLE_MAX = 64 };

/* Replies with the PNG (png true) or SVG QR code; 400 for a missing or bad h
 * (base64url characters only, LG_QR_HANDLE_MIN..MAX long). */
enum MHD_Result lg_qr_route(struct lg_req *r, bool png);
/* Replies with text drawn as a QR code, PNG (png true) or SVG, never cached
 * and never sniffed; 400 when it does not fit a QR code. For every route
 * that shows a URL as a QR image (device sign-in, shares). */
enum MHD_Result lg_qr_reply(struct lg_req *r, const char *text, bool png);

/* Writes the public base URL, without a trailing '/', into out (cap bytes):
 * cfg->public_url when set, else "http://" + host (a Host header; NULL or
 * one with characters outside [A-Za-z0-9.:[]-] is ignored), else "http://" +
 * the listen address with the bound port. Returns 0, or LG_ETOOBIG when it
 * does not fit. */
int lg_http_public_base(const struct lg_http *h, const char *host, char *out, size_t cap);

#endif
