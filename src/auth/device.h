/* SPDX-License-Identifier: MIT */
/*
 * The OAuth 2.0 Device Authorization Grant (RFC 8628): a device asks for a
 * device code and a user code, a signed-in user approves the user code (or
 * the QR handle), and the device's polling of the token endpoint then yields
 * an access token and a refresh token. Refresh tokens rotate; presenting a
 * rotated one again revokes the whole family (every token of that grant).
 *
 * Secrets: the device code, the tokens (256 random bits each) and the QR
 * handle (128 bits) are base64url text handed out once and stored only as
 * BLAKE2b-256 hashes, looked up by hash. User codes are 8 letters from the
 * 20 consonants BCDFGHJKLMNPQRSTVWXZ (20^8 = 2.56e10 codes), shown
 * XXXX-XXXX and accepted in any case with or without dashes and spaces.
 * Requests expire after LG_DEVICE_EXPIRES_S and are single-use.
 *
 * struct lg_device is a small value (store + clock) that callers may keep on
 * the stack; the clock can be replaced by tests. Thread-safe as the store is.
 */
#ifndef LG_AUTH_DEVICE_H
#define LG_AUTH_DEVICE_H

#include <stdbool.h>

#include "core/common.h"

struct lg_store;

#define LG_DEVICE_EXPIRES_S     600          /* device/user code lifetime */
#define LG_DEVICE_INTERVAL_S    5            /* initial polling interval */
#define LG_DEVICE_POLL_GRACE_MS 500          /* polls this much early are not slow_down */
#define LG_DEVICE_SLOWDOWN_S    5            /* added to the interval on slow_down */
#define LG_DEVICE_ACCESS_S      3600         /* access token lifetime */
#define LG_DEVICE_REFRESH_S     (30 * 86400) /* refresh token lifetime */
#define LG_DEVICE_TOKEN_LEN     44           /* 43 base64url characters + NUL */
#define LG_DEVICE_HANDLE_LEN    23           /* 22 base64url characters + NUL */
#define LG_DEVICE_CODE_LEN      10           /* "XXXX-XXXX" + NUL */

/* Unix time in milliseconds. */
typedef int64_t lg_device_clock_fn(void *ctx);

#define LG_DEVICE_IDLE_S 300 /* default: no heartbeat this long ends a playing session */

struct lg_device {
    struct lg_store *store;    /* borrowed */
    lg_device_clock_fn *clock; /* NULL: the real clock (CLOCK_REALTIME) */
    void *clock_ctx;
    int idle_s;     /* heartbeat timeout of playing/checking sessions; 0: never */
    int code_ttl_s; /* device and user code lifetime */
};

/* Device session states; the moves allowed between them are
 * idle→scanning→validating→ready→playing⇄checking, and →ended from every
 * state after idle except ended itself. */
enum lg_device_state {
    LG_DEV_IDLE = 0,
    LG_DEV_SCANNING,
    LG_DEV_VALIDATING,
    LG_DEV_READY,
    LG_DEV_PLAYING,
    LG_DEV_CHECKING,
    LG_DEV_ENDED,
    LG_DEV_NSTATES
};
/* "idle", "scanning", ...; "" for an unknown state. */
const char *lg_device_state_name(int state);
/* Whether the transition table allows from → to. */
bool lg_device_move_allowed(int from, int to);

/* A device with the real clock. */
void lg_device_init(struct lg_device *d, struct lg_store *s);

/* The outcome of a token request, as RFC 8628 §3.5 / RFC 6749 §5.2 name it. */
enum lg_oauth_err {
    LG_OAUTH_OK = 0,
    LG_OAUTH_AUTHORIZATION_PENDING,
    LG_OAUTH_SLOW_DOWN,
    LG_OAUTH_ACCESS_DENIED,
    LG_OAUTH_EXPIRED_TOKEN,
    LG_OAUTH_INVALID_GRANT,
    LG_OAUTH_INVALID_CLIENT,
};
/* The RFC's name of e ("authorization_pending", ...; "" for OK). */
const char *lg_oauth_err_name(enum lg_oauth_err e);

struct lg_device_authz {
    char device_code[LG_DEVICE_TOKEN_LEN];
    char user_code[LG_DEVICE_CODE_LEN]; /* XXXX-XXXX */
    char handle[LG_DEVICE_HANDLE_LEN];
    int expires_in, interval;
};

/* Starts a device authorization. client_id must be non-empty; scope, name and
 * ip may be NULL. LG_EINVAL, LG_ESTORE. */
int lg_device_authorize(struct lg_device *d, const char *client_id, const char *scope,
                        const char *name, const char *ip,
                        struct lg_device_authz *out) LG_MUST_CHECK;

struct lg_device_tokens {
    char access_token[LG_DEVICE_TOKEN_LEN];
    char refresh_token[LG_DEVICE_TOKEN_LEN];
    int expires_in;
    char *scope; /* owned; free() */
};

/* Polls with a device code. Returns 0 with *err set (tokens in *out only
 * when *err is LG_OAUTH_OK), or LG_ESTORE. */
int lg_device_poll(struct lg_device *d, const char *device_code, const char *client_id,
                   struct lg_device_tokens *out, enum lg_oauth_err *err) LG_MUST_CHECK;
/* Exchanges a refresh token for a new pair (rotation). client_id may be NULL
 * (public clients need not repeat it); when given it must match. */
int lg_device_refresh(struct lg_device *d, const char *refresh_token, const char *client_id,
                      struct lg_device_tokens *out, enum lg_oauth_err *err) LG_MUST_CHECK;
/* Revokes the grant a token (access or refresh) belongs to. Unknown tokens
 * are fine (RFC 7009). 0 or LG_ESTORE. */
int lg_device_revoke(struct lg_device *d, const char *token) LG_MUST_CHECK;

/* Approves or denies the pending request named by its user code (any case,
 * dashes optional) or its QR handle, binding it to user_id. LG_ENOTFOUND for
 * an unknown, expired or already decided request, LG_ESTORE. */
int lg_device_approve(struct lg_device *d, const char *user_code_or_handle, int64_t user_id,
                      bool approve) LG_MUST_CHECK;

/* Moves the device session named by its user code or QR handle from
 * "scanning" to "validating" (the approval page was opened). 0, LG_ENOTFOUND
 * for an unknown or expired request, LG_EINVAL for a refused move, LG_ESTORE. */
int lg_device_mark_validating(struct lg_device *d, const char *user_code_or_handle) LG_MUST_CHECK;

/* Moves session id to state `to`: 0, LG_ENOTFOUND, LG_EINVAL for a move the
 * table refuses (HTTP 409), LG_ESTORE. */
int lg_device_session_move(struct lg_device *d, int64_t id, int to) LG_MUST_CHECK;
/* The session (oauth_devices row id) and user of a live access token: 0,
 * LG_EAUTH, LG_ESTORE. */
int lg_device_token_session(struct lg_device *d, const char *access_token, int64_t *session_id,
                            int64_t *user_id) LG_MUST_CHECK;
/* A heartbeat of the session of access_token: playing moves it to playing,
 * otherwise to checking (no move when already there). 0, LG_EAUTH, LG_EINVAL
 * (refused move), LG_ESTORE. */
int lg_device_heartbeat(struct lg_device *d, const char *access_token, bool playing) LG_MUST_CHECK;
/* Ends session id of user_id (any user when user_id is 0) and revokes its
 * tokens at once. 0, LG_ENOTFOUND, LG_EINVAL (already ended), LG_ESTORE. */
int lg_device_session_end(struct lg_device *d, int64_t id, int64_t user_id) LG_MUST_CHECK;
/* Ends every device session of the user and revokes all its tokens; denies
 * the user's approved requests that got no tokens yet. */
int lg_device_end_all(struct lg_device *d, int64_t user_id) LG_MUST_CHECK;
/* Ends session id when its heartbeats stopped for longer than d->idle_s. */
int lg_device_session_expire(struct lg_device *d, int64_t id) LG_MUST_CHECK;

/* The user of a live access token: 0 and *user_id, LG_EAUTH when unknown,
 * expired or revoked, LG_ESTORE. */
int lg_device_token_user(struct lg_device *d, const char *access_token,
                         int64_t *user_id) LG_MUST_CHECK;

/* Normalises a typed user code into out (9 bytes: 8 letters + NUL).
 * LG_EPARSE unless it is 8 letters of the alphabet after dropping dashes and
 * spaces. */
int lg_device_user_code_normalise(const char *in, char out[9]) LG_MUST_CHECK;

/* What the approval page shows of a request (device page). Strings are
 * truncated to fit and are attacker-chosen: escape them before display. */
struct lg_device_info {
    char user_code[LG_DEVICE_CODE_LEN]; /* XXXX-XXXX */
    char name[128], client_id[128], ip[64];
    int64_t created_ms, expires_ms;
    int status; /* LG_OAUTH_PENDING, ... (store.h) */
};
/* Describes the live request named by its user code or QR handle. 0,
 * LG_ENOTFOUND for an unknown or expired one, LG_ESTORE. */
int lg_device_describe(struct lg_device *d, const char *user_code_or_handle,
                       struct lg_device_info *out) LG_MUST_CHECK;

#endif
