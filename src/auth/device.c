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
        .expires_ms = now + LG_DEVICE_EXPIRES_S * 1000LL,
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
    out->expires_in = LG_DEVICE_EXPIRES_S;
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

/* The state machine of one poll on row r (see RFC 8628 §3.5). */
static int poll_row(struct lg_device *d, struct lg_oauth_device *r, const char *client_id,
                    struct lg_device_tokens *out, enum lg_oauth_err *err)
{
    int64_t now = now_ms(d);
    if (!client_id || strcmp(client_id, r->client_id) != 0)
        return *err = LG_OAUTH_INVALID_CLIENT, 0;
    if (r->status == LG_OAUTH_USED)
        return *err = LG_OAUTH_INVALID_GRANT, 0;
    if (now >= r->expires_ms)
        return *err = LG_OAUTH_EXPIRED_TOKEN, 0;
    if (r->status == LG_OAUTH_DENIED)
        return *err = LG_OAUTH_ACCESS_DENIED, 0;
    if (r->status == LG_OAUTH_APPROVED) {
        int rc = lg_store_oauth_device_move(d->store, r->id, LG_OAUTH_APPROVED, LG_OAUTH_USED, 0);
        if (rc == LG_ENOTFOUND)
            return *err = LG_OAUTH_INVALID_GRANT, 0;
        if (rc < 0)
            return rc;
        *err = LG_OAUTH_OK;
        return issue(d, r->id, r->user_id, r->client_id, r->scope, out);
    }
    int interval = r->interval_s;
    bool fast = r->last_poll_ms > 0 && now - r->last_poll_ms < interval * 1000LL;
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
    lg_oauth_token_free(&t);
    return rc;
}

int lg_device_approve(struct lg_device *d, const char *user_code_or_handle, int64_t user_id,
                      bool approve)
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
    bool live = now_ms(d) < r.expires_ms;
    int64_t id = r.id;
    lg_oauth_device_free(&r);
    if (!live)
        return LG_ENOTFOUND;
    return lg_store_oauth_device_move(d->store, id, LG_OAUTH_PENDING,
                                      approve ? LG_OAUTH_APPROVED : LG_OAUTH_DENIED, user_id);
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
