/* SPDX-License-Identifier: MIT */
/*
 * The rules of the device grant (see device.h) over the oauth tables of the
 * store: code generation, normalisation, the polling state machine (pending,
 * slow_down, denied, expired, used), token issue and refresh rotation with
 * family revocation on reuse. Every secret is hashed with BLAKE2b-256 before
 * it reaches the store, so the database never holds one.
 */
#include "auth/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store/store.h"

static const char alphabet[] = "BCDFGHJKLMNPQRSTVWXZ";

static int64_t real_clock(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const struct lg_device *d)
{
    return d->clock ? d->clock(d->clock_ctx) : real_clock(NULL);
}

void lg_device_init(struct lg_device *d, struct lg_store *s)
{
    memset(d, 0, sizeof(*d));
    d->store = s;
    d->idle_s = LG_DEVICE_IDLE_S;
    d->code_ttl_s = LG_DEVICE_EXPIRES_S;
}

static const char *const state_names[LG_DEV_NSTATES] = {
    "idle", "scanning", "validating", "ready", "playing", "checking", "ended",
};

const char *lg_device_state_name(int state)
{
    return state >= 0 && state < LG_DEV_NSTATES ? state_names[state] : "";
}

bool lg_device_move_allowed(int from, int to)
{
    if (from < 0 || from >= LG_DEV_NSTATES || to < 0 || to >= LG_DEV_NSTATES)
        return false;
    if (to == LG_DEV_ENDED)
        return from != LG_DEV_IDLE && from != LG_DEV_ENDED;
    if (to == LG_DEV_PLAYING)
        return from == LG_DEV_READY || from == LG_DEV_CHECKING;
    if (to == LG_DEV_CHECKING)
        return from == LG_DEV_PLAYING;
    return from != LG_DEV_ENDED && to == from + 1 && to <= LG_DEV_READY;
}

const char *lg_oauth_err_name(enum lg_oauth_err e)
{
    switch (e) {
    case LG_OAUTH_AUTHORIZATION_PENDING:
        return "authorization_pending";
    case LG_OAUTH_SLOW_DOWN:
        return "slow_down";
    case LG_OAUTH_ACCESS_DENIED:
        return "access_denied";
    case LG_OAUTH_EXPIRED_TOKEN:
        return "expired_token";
    case LG_OAUTH_INVALID_GRANT:
        return "invalid_grant";
    case LG_OAUTH_INVALID_CLIENT:
        return "invalid_client";
    default:
        return "";
    }
}

static void hash_secret(const char *secret, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)secret, strlen(secret), NULL, 0);
}

/* n random bytes as base64url without padding into out. */
static void random_text(size_t n, char *out, size_t cap)
{
    unsigned char raw[32];
    randombytes_buf(raw, n);
    sodium_bin2base64(out, cap, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

int lg_device_user_code_normalise(const char *in, char out[9])
{
    size_t n = 0;
    for (const char *p = in ? in : ""; *p; p++) {
        if (*p == '-' || *p == ' ')
            continue;
        char c = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
        if (n == 8 || c == '\0' || !strchr(alphabet, c))
            return LG_EPARSE;
        out[n++] = c;
    }
    out[n] = '\0';
    return n == 8 ? 0 : LG_EPARSE;
}

static void new_user_code(char raw[9])
{
    for (int i = 0; i < 8; i++)
        raw[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    raw[8] = '\0';
}

int lg_device_authorize(struct lg_device *d, const char *client_id, const char *scope,
                        const char *name, const char *ip, struct lg_device_authz *out)
{
    if (!client_id || !*client_id || sodium_init() < 0)
        return LG_EINVAL;
    int64_t now = now_ms(d);
    char code[9];
    struct lg_oauth_device row = {
        .user_code = code,
        .client_id = (char *)client_id,
        .scope = (char *)scope,
        .name = (char *)name,
        .ip = (char *)ip,
        .created_ms = now,
        .expires_ms = now + d->code_ttl_s * 1000LL,
        .interval_s = LG_DEVICE_INTERVAL_S,
    };
    int rc = LG_EEXIST;
    for (int tries = 0; tries < 8 && rc == LG_EEXIST; tries++) {
        unsigned char ch[32], hh[32];
        random_text(32, out->device_code, sizeof(out->device_code));
        random_text(16, out->handle, sizeof(out->handle));
        new_user_code(code);
        hash_secret(out->device_code, ch);
        hash_secret(out->handle, hh);
        rc = lg_store_oauth_device_add(d->store, ch, hh, &row, now, NULL);
    }
    if (rc < 0)
        return rc;
    snprintf(out->user_code, sizeof(out->user_code), "%.4s-%.4s", code, code + 4);
    out->expires_in = d->code_ttl_s;
    out->interval = LG_DEVICE_INTERVAL_S;
    return 0;
}

/* Issues an access and a refresh token of family for user_id. */
static int issue(struct lg_device *d, int64_t family, int64_t user_id, const char *client_id,
                 const char *scope, struct lg_device_tokens *out)
{
    int64_t now = now_ms(d);
    unsigned char h[32];
    struct lg_oauth_token t = {
        .family = family, .user_id = user_id, .client_id = (char *)client_id, .scope = (char *)scope
    };
    random_text(32, out->access_token, sizeof(out->access_token));
    random_text(32, out->refresh_token, sizeof(out->refresh_token));
    int rc = lg_store_begin(d->store);
    if (rc < 0)
        return rc;
    hash_secret(out->access_token, h);
    t.kind = LG_OAUTH_ACCESS;
    t.expires_ms = now + LG_DEVICE_ACCESS_S * 1000LL;
    rc = lg_store_oauth_token_add(d->store, h, &t);
    hash_secret(out->refresh_token, h);
    t.kind = LG_OAUTH_REFRESH;
    t.expires_ms = now + LG_DEVICE_REFRESH_S * 1000LL;
    if (rc == 0)
        rc = lg_store_oauth_token_add(d->store, h, &t);
    if (rc == 0)
        rc = lg_store_commit(d->store);
    if (rc < 0) {
        lg_store_rollback(d->store);
        return rc;
    }
    out->expires_in = LG_DEVICE_ACCESS_S;
    out->scope = strdup(scope ? scope : "");
    return out->scope ? 0 : LG_ESTORE;
}

static int move_row(struct lg_device *d, const struct lg_oauth_device *r, int to);

/* A move whose refusal changes nothing for the caller (a side effect). */
static void try_move(struct lg_device *d, int64_t id, int to)
{
    int rc = lg_device_session_move(d, id, to);
    (void)rc;
}

/* The state machine of one poll on row r (see RFC 8628 §3.5). */
static int poll_row(struct lg_device *d, struct lg_oauth_device *r, const char *client_id,
                    struct lg_device_tokens *out, enum lg_oauth_err *err)
{
    int64_t now = now_ms(d);
    if (!client_id || strcmp(client_id, r->client_id) != 0)
        return *err = LG_OAUTH_INVALID_CLIENT, 0;
    if (r->status == LG_OAUTH_USED)
        return *err = LG_OAUTH_INVALID_GRANT, 0;
    if (now >= r->expires_ms) {
        (void)move_row(d, r, LG_DEV_ENDED);
        return *err = LG_OAUTH_EXPIRED_TOKEN, 0;
    }
    if (r->status == LG_OAUTH_DENIED)
        return *err = LG_OAUTH_ACCESS_DENIED, 0;
    if (r->status == LG_OAUTH_APPROVED) {
        int rc = lg_store_oauth_device_move(d->store, r->id, LG_OAUTH_APPROVED, LG_OAUTH_USED, 0);
        if (rc == LG_ENOTFOUND)
            return *err = LG_OAUTH_INVALID_GRANT, 0;
        if (rc < 0)
            return rc;
        *err = LG_OAUTH_OK;
        rc = issue(d, r->id, r->user_id, r->client_id, r->scope, out);
        if (rc == 0 && r->state == LG_DEV_SCANNING)
            try_move(d, r->id, LG_DEV_VALIDATING);
        if (rc == 0)
            try_move(d, r->id, LG_DEV_READY);
        return rc;
    }
    int interval = r->interval_s;
    /* Arrival gaps jitter with the network and the server's own load: a
     * client that waits the interval after each answer must not be told to
     * slow down for a poll that arrives a little early. */
    bool fast =
        r->last_poll_ms > 0 && now - r->last_poll_ms < interval * 1000LL - LG_DEVICE_POLL_GRACE_MS;
    if (fast)
        interval += LG_DEVICE_SLOWDOWN_S;
    *err = fast ? LG_OAUTH_SLOW_DOWN : LG_OAUTH_AUTHORIZATION_PENDING;
    return lg_store_oauth_device_polled(d->store, r->id, now, interval);
}

int lg_device_poll(struct lg_device *d, const char *device_code, const char *client_id,
                   struct lg_device_tokens *out, enum lg_oauth_err *err)
{
    memset(out, 0, sizeof(*out));
    unsigned char h[32];
    hash_secret(device_code ? device_code : "", h);
    struct lg_oauth_device r;
    int rc = lg_store_oauth_device_by_code(d->store, h, &r);
    if (rc == LG_ENOTFOUND)
        return *err = LG_OAUTH_INVALID_GRANT, 0;
    if (rc < 0)
        return rc;
    rc = poll_row(d, &r, client_id, out, err);
    lg_oauth_device_free(&r);
    return rc;
}

int lg_device_refresh(struct lg_device *d, const char *refresh_token, const char *client_id,
                      struct lg_device_tokens *out, enum lg_oauth_err *err)
{
    memset(out, 0, sizeof(*out));
    unsigned char h[32];
    hash_secret(refresh_token ? refresh_token : "", h);
    struct lg_oauth_token t = { 0 };
    int rc = lg_store_oauth_token_get(d->store, h, &t);
    *err = LG_OAUTH_INVALID_GRANT;
    if (rc == LG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (t.kind != LG_OAUTH_REFRESH || t.revoked || now_ms(d) >= t.expires_ms ||
        (client_id && strcmp(client_id, t.client_id) != 0))
    {
        rc = 0;
    } else if (t.used || (rc = lg_store_oauth_token_use(d->store, t.id)) == LG_ENOTFOUND) {
        rc = lg_store_oauth_family_revoke(d->store, t.family); /* reuse: revoke the grant */
    } else if (rc == 0) {
        *err = LG_OAUTH_OK;
        rc = issue(d, t.family, t.user_id, t.client_id, t.scope, out);
    }
    lg_oauth_token_free(&t);
    return rc;
}

int lg_device_revoke(struct lg_device *d, const char *token)
{
    unsigned char h[32];
    hash_secret(token ? token : "", h);
    struct lg_oauth_token t = { 0 };
    int rc = lg_store_oauth_token_get(d->store, h, &t);
    if (rc == LG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rc = lg_store_oauth_family_revoke(d->store, t.family);
    if (rc == 0)
        try_move(d, t.family, LG_DEV_ENDED);
    lg_oauth_token_free(&t);
    return rc;
}

/* The live request named by a user code or a QR handle into *r. */
static int find_request(struct lg_device *d, const char *code_or_handle, struct lg_oauth_device *r)
{
    char code[9];
    int rc;
    if (lg_device_user_code_normalise(code_or_handle, code) == 0) {
        rc = lg_store_oauth_device_by_user_code(d->store, code, r);
    } else {
        unsigned char h[32];
        hash_secret(code_or_handle ? code_or_handle : "", h);
        rc = lg_store_oauth_device_by_handle(d->store, h, r);
    }
    if (rc < 0)
        return rc;
    if (now_ms(d) < r->expires_ms)
        return 0;
    lg_oauth_device_free(r);
    return LG_ENOTFOUND;
}

/* Moves r from its state to `to`; LG_EINVAL when refused or raced. */
static int move_row(struct lg_device *d, const struct lg_oauth_device *r, int to)
{
    if (!lg_device_move_allowed(r->state, to))
        return LG_EINVAL;
    int rc = lg_store_oauth_state_move(d->store, r->id, r->state, to, now_ms(d));
    return rc == LG_ENOTFOUND ? LG_EINVAL : rc;
}

int lg_device_session_move(struct lg_device *d, int64_t id, int to)
{
    struct lg_oauth_device r;
    int rc = lg_store_oauth_device_get(d->store, id, &r);
    if (rc < 0)
        return rc;
    rc = move_row(d, &r, to);
    lg_oauth_device_free(&r);
    return rc;
}

int lg_device_mark_validating(struct lg_device *d, const char *user_code_or_handle)
{
    struct lg_oauth_device r;
    int rc = find_request(d, user_code_or_handle, &r);
    if (rc < 0)
        return rc;
    if (r.status != LG_OAUTH_PENDING)
        rc = LG_EINVAL;
    else if (r.state != LG_DEV_VALIDATING) /* reopening the page is no move */
        rc = move_row(d, &r, LG_DEV_VALIDATING);
    lg_oauth_device_free(&r);
    return rc;
}

int lg_device_approve(struct lg_device *d, const char *user_code_or_handle, int64_t user_id,
                      bool approve)
{
    struct lg_oauth_device r;
    int rc = find_request(d, user_code_or_handle, &r);
    if (rc < 0)
        return rc;
    int64_t id = r.id;
    lg_oauth_device_free(&r);
    rc = lg_store_oauth_device_move(d->store, id, LG_OAUTH_PENDING,
                                    approve ? LG_OAUTH_APPROVED : LG_OAUTH_DENIED, user_id);
    if (rc == 0 && approve) /* approved without the page: it was validated here */
        try_move(d, id, LG_DEV_VALIDATING);
    else if (rc == 0)
        try_move(d, id, LG_DEV_ENDED);
    return rc;
}

int lg_device_token_user(struct lg_device *d, const char *access_token, int64_t *user_id)
{
    unsigned char h[32];
    hash_secret(access_token ? access_token : "", h);
    struct lg_oauth_token t = { 0 };
    int rc = lg_store_oauth_token_get(d->store, h, &t);
    if (rc == LG_ENOTFOUND)
        return LG_EAUTH;
    if (rc < 0)
        return rc;
    bool ok = t.kind == LG_OAUTH_ACCESS && !t.revoked && now_ms(d) < t.expires_ms;
    *user_id = t.user_id;
    lg_oauth_token_free(&t);
    return ok ? 0 : LG_EAUTH;
}

/* Device page: reads a request for display. */
int lg_device_describe(struct lg_device *d, const char *user_code_or_handle,
                       struct lg_device_info *out)
{
    struct lg_oauth_device r;
    char code[9];
    int rc;
    if (lg_device_user_code_normalise(user_code_or_handle, code) == 0) {
        rc = lg_store_oauth_device_by_user_code(d->store, code, &r);
    } else {
        unsigned char h[32];
        hash_secret(user_code_or_handle ? user_code_or_handle : "", h);
        rc = lg_store_oauth_device_by_handle(d->store, h, &r);
    }
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    snprintf(out->user_code, sizeof(out->user_code), "%.4s-%.4s", r.user_code,
             strlen(r.user_code) >= 4 ? r.user_code + 4 : "");
    snprintf(out->name, sizeof(out->name), "%s", r.name ? r.name : "");
    snprintf(out->client_id, sizeof(out->client_id), "%s", r.client_id ? r.client_id : "");
    snprintf(out->ip, sizeof(out->ip), "%s", r.ip ? r.ip : "");
    out->created_ms = r.created_ms;
    out->expires_ms = r.expires_ms;
    out->status = r.status;
    lg_oauth_device_free(&r);
    return now_ms(d) < out->expires_ms ? 0 : LG_ENOTFOUND;
}

int lg_device_token_session(struct lg_device *d, const char *access_token, int64_t *session_id,
                            int64_t *user_id)
{
    unsigned char h[32];
    hash_secret(access_token ? access_token : "", h);
    struct lg_oauth_token t = { 0 };
    int rc = lg_store_oauth_token_get(d->store, h, &t);
    if (rc == LG_ENOTFOUND)
        return LG_EAUTH;
    if (rc < 0)
        return rc;
    bool ok = t.kind == LG_OAUTH_ACCESS && !t.revoked && now_ms(d) < t.expires_ms;
    *session_id = t.family;
    *user_id = t.user_id;
    lg_oauth_token_free(&t);
    return ok ? 0 : LG_EAUTH;
}

static bool stale(const struct lg_device *d, const struct lg_oauth_device *r)
{
    return (r->state == LG_DEV_PLAYING || r->state == LG_DEV_CHECKING) && d->idle_s > 0 &&
           now_ms(d) - r->last_seen_ms > d->idle_s * 1000LL;
}

int lg_device_session_end(struct lg_device *d, int64_t id, int64_t user_id)
{
    struct lg_oauth_device r;
    int rc = lg_store_oauth_device_get(d->store, id, &r);
    if (rc < 0)
        return rc;
    if (user_id > 0 && r.user_id != user_id)
        rc = LG_ENOTFOUND;
    else if ((rc = lg_store_oauth_family_revoke(d->store, id)) == 0)
        rc = move_row(d, &r, LG_DEV_ENDED);
    lg_oauth_device_free(&r);
    return rc;
}

int lg_device_end_all(struct lg_device *d, int64_t user_id)
{
    /* An approved code not redeemed yet would still give tokens. */
    int rc = lg_store_oauth_deny_approved(d->store, user_id);
    if (rc < 0)
        return rc;
    struct lg_oauth_device *v = NULL;
    size_t n = 0;
    rc = lg_store_oauth_sessions(d->store, user_id, &v, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = lg_store_oauth_family_revoke(d->store, v[i].id);
        if (rc == 0 && v[i].state != LG_DEV_ENDED) {
            rc = lg_device_session_end(d, v[i].id, user_id);
            if (rc == LG_EINVAL)
                rc = 0; /* a state that does not end (idle): its tokens are revoked */
        }
    }
    lg_oauth_devices_free(v, n);
    return rc;
}

int lg_device_session_expire(struct lg_device *d, int64_t id)
{
    struct lg_oauth_device r;
    int rc = lg_store_oauth_device_get(d->store, id, &r);
    if (rc < 0)
        return rc;
    bool gone = stale(d, &r);
    lg_oauth_device_free(&r);
    return gone ? lg_device_session_end(d, id, 0) : 0;
}

int lg_device_heartbeat(struct lg_device *d, const char *access_token, bool playing)
{
    int64_t id = 0, uid = 0;
    int rc = lg_device_token_session(d, access_token, &id, &uid);
    if (rc == 0)
        rc = lg_device_session_expire(d, id);
    if (rc < 0)
        return rc;
    struct lg_oauth_device r;
    if ((rc = lg_store_oauth_device_get(d->store, id, &r)) < 0)
        return rc;
    int to = playing ? LG_DEV_PLAYING : LG_DEV_CHECKING;
    if (r.state == LG_DEV_ENDED)
        rc = LG_EAUTH;
    else if (r.state == to || (r.state == LG_DEV_READY && !playing))
        rc = lg_store_oauth_seen(d->store, id, now_ms(d));
    else
        rc = move_row(d, &r, to);
    lg_oauth_device_free(&r);
    return rc;
}
