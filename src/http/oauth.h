/* SPDX-License-Identifier: MIT */
/*
 * HTTP endpoints of the OAuth 2.0 device grant (auth/device.h):
 * POST /oauth/device_authorization (RFC 8628 §3.1), POST /oauth/token
 * (device_code and refresh_token grants), POST /oauth/revoke (RFC 7009),
 * GET /.well-known/oauth-authorization-server (RFC 8414), and
 * POST /api/device/approve, where a user authenticated with Subsonic
 * credentials approves or denies a user code (or QR handle) until the
 * approval page exists. Clients are public (token_endpoint_auth_method
 * "none"); client_id identifies them.
 */
#ifndef LG_HTTP_OAUTH_H
#define LG_HTTP_OAUTH_H

#include <stdbool.h>

#include <microhttpd.h>

#include "core/common.h"

struct lg_req;
struct lg_principal;
struct lg_device;

/* The device grant with the server's settings (code lifetime, heartbeat
 * timeout) and the real clock. */
void lg_oauth_device(const struct lg_req *r, struct lg_device *d);

/* Whether path is one of the endpoints above. */
bool lg_oauth_is_route(const char *path);

/* The user-code guessing limits, shared by every place where a code can be
 * entered (the approve API and the /device page): whether r's sign-in
 * session (a web session token or "user:NAME"; NULL: none), its IP, its
 * account uid or everyone is over the limit now, and counting a wrong code.
 * Thread-safe. */
bool lg_oauth_guess_limited(const struct lg_req *r, const char *session, int64_t uid);
/* A track went out to a device with its access token: its session moves to
 * playing (the first stream counts as a heartbeat that says so). */
void lg_oauth_note_stream(struct lg_req *r, const char *token);
void lg_oauth_guess_failed(const struct lg_req *r, const char *session, int64_t uid);
/* Answers a request for one of them (any method; others get 405). */
enum MHD_Result lg_oauth_route(struct lg_req *r);

/* The user a request to legato's JSON API is made for, as /api/sessions
 * authenticates it: a Bearer device access token (Authorization header),
 * else Subsonic credentials (u with p or t and s, or apiKey). 0 and *uid;
 * LG_EAUTH for missing, wrong, expired or revoked credentials; LG_ELIMIT
 * when this address or user has failed too often (credentials not looked
 * at). */
int lg_oauth_request_user(struct lg_req *r, int64_t *uid) LG_MUST_CHECK;
/* The JSON answer to a request lg_oauth_request_user() refused with rc:
 * 429 (with Retry-After) for LG_ELIMIT, else 401 saying why. */
enum MHD_Result lg_oauth_refuse(struct lg_req *r, int rc, const char *why);

/* The principal of a live device access token presented as apiKey: 0,
 * LG_EAUTH (unknown, expired or revoked), LG_ESTORE. */
int lg_oauth_api_key(struct lg_req *r, const char *token, struct lg_principal *out);

#endif
