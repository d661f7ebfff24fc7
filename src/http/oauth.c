/* SPDX-License-Identifier: MIT */
/*
 * The OAuth endpoints (see oauth.h). Handlers parse form parameters, call
 * one function of auth/device.c and answer JSON; every answer of the token,
 * device-authorization and revocation endpoints carries Cache-Control:
 * no-store and Pragma: no-cache. Errors follow RFC 6749 §5.2: {error,
 * error_description}, status 400, 401 for invalid_client.
 *
 * Guessing user codes: only an authenticated user can submit one, and each
 * unknown code counts a failure against the client's sign-in session (its
 * web session, or its user for the API: APPROVE_SESSION_PER_MIN a minute),
 * its IP (APPROVE_IP_PER_MIN), its account (APPROVE_USER_PER_MIN) and
 * everyone (APPROVE_GLOBAL_PER_MIN); beyond any, the entry answers 429.
 * Arithmetic: a code lives 10 min by default, so one account makes at most
 * 10 * 10 = 100 guesses against it; with N live codes among 20^8 = 2.56e10,
 * P(any guessed) <= 100 N / 2.56e10 = 3.9e-9 N, below one in a million while
 * fewer than 256 codes are live at once. All accounts together make at most
 * 600 * 10 = 6,000: P <= 2.3e-7 N (accounts are made by an admin only).
 */
#include "http/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <jansson.h>
#include <sodium.h>
#include <strings.h>

#include "auth/auth.h"
#include "auth/device.h"
#include "auth/ratelimit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "http/http_int.h"
#include "http/qr_routes.h"
#include "store/store.h"

static const struct lg_log oauth_log = { "http/oauth" };

/* Wrong user codes a minute: per sign-in session, per IP, per account, and
 * over everyone. The last is a backstop far above what one account may do,
 * so that a few accounts guessing cannot lock out every device sign-in. */
enum {
    APPROVE_SESSION_PER_MIN = 5,
    APPROVE_IP_PER_MIN = 10,
    APPROVE_USER_PER_MIN = 10,
    APPROVE_GLOBAL_PER_MIN = 600,
    PUBLIC_MAX = 512,
    CLIENT_ID_MAX = 128,   /* bytes of client_id */
    DEVICE_NAME_MAX = 128, /* bytes of device_name */
    SCOPE_MAX = 256,       /* bytes of scope */
};

static const char device_code_grant[] = "urn:ietf:params:oauth:grant-type:device_code";

static struct lg_ratelimit *guess_session, *guess_ip, *guess_user, *guess_all;
static pthread_once_t guess_once = PTHREAD_ONCE_INIT;

static void guess_init(void)
{
    guess_session = lg_ratelimit_new(APPROVE_SESSION_PER_MIN, 4096);
    guess_ip = lg_ratelimit_new(APPROVE_IP_PER_MIN, 4096);
    guess_user = lg_ratelimit_new(APPROVE_USER_PER_MIN, 4096);
    guess_all = lg_ratelimit_new(APPROVE_GLOBAL_PER_MIN, 8);
}

static int64_t mono_us(void)
{
    return lg_http_now_ns() / 1000;
}

bool lg_oauth_guess_limited(const struct lg_req *r, const char *session, int64_t uid)
{
    pthread_once(&guess_once, guess_init);
    int64_t now = mono_us();
    char user[24];
    lg_fmt_i64(user, uid);
    return lg_ratelimit_limited(guess_session, "session", session, now) ||
           lg_ratelimit_limited(guess_ip, "ip", r->ip, now) ||
           lg_ratelimit_limited(guess_user, "user", user, now) ||
           lg_ratelimit_limited(guess_all, "all", "all", now);
}

void lg_oauth_guess_failed(const struct lg_req *r, const char *session, int64_t uid)
{
    pthread_once(&guess_once, guess_init);
    int64_t now = mono_us();
    char user[24];
    lg_fmt_i64(user, uid);
    lg_ratelimit_fail(guess_session, "session", session, now);
    lg_ratelimit_fail(guess_ip, "ip", r->ip, now);
    lg_ratelimit_fail(guess_user, "user", user, now);
    lg_ratelimit_fail(guess_all, "all", "all", now);
}

void lg_oauth_device(const struct lg_req *r, struct lg_device *d)
{
    lg_device_init(d, r->http->deps.store);
    const struct lg_config *cfg = r->http->deps.cfg;
    if (cfg && cfg->device_code_ttl_s > 0) { /* a loaded configuration */
        d->code_ttl_s = (int)cfg->device_code_ttl_s;
        d->idle_s = (int)cfg->device_idle_s;
    }
}

bool lg_oauth_is_route(const char *path)
{
    return strncmp(path, "/oauth/", 7) == 0 ||
           strcmp(path, "/.well-known/oauth-authorization-server") == 0 ||
           strcmp(path, "/api/device/approve") == 0 || strcmp(path, "/api/device/session") == 0 ||
           strcmp(path, "/api/device/heartbeat") == 0 || strcmp(path, "/api/sessions") == 0 ||
           strncmp(path, "/api/sessions/", 14) == 0;
}

static enum MHD_Result oauth_error(struct lg_req *r, const char *error, const char *desc)
{
    unsigned status =
        strcmp(error, "invalid_client") == 0 ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_BAD_REQUEST;
    return lg_req_api_error(r, status, error, desc);
}

static enum MHD_Result server_error(struct lg_req *r)
{
    return lg_req_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                            "internal error (see the server log)");
}

/* PUBLIC: cfg->public_url, else http:// + Host, else the listen address. */
static void public_base(struct lg_req *r, char out[PUBLIC_MAX])
{
    if (lg_http_public_base(r->http, lg_req_header(r, MHD_HTTP_HEADER_HOST), out, PUBLIC_MAX) < 0)
        snprintf(out, PUBLIC_MAX, "http://127.0.0.1:%d", r->http->port);
}

static bool given(const char *v)
{
    return v && *v;
}

/* Whether the UTF-8 at p starts with a C1 control (U+0080-009F) or a
 * character that reorders or breaks the text around it: U+061C, U+200E,
 * U+200F, U+2028-202E, U+2066-2069. A device's name with one could show
 * its owner another name than the one it has ("...\u202Egpj.exe"). */
static bool format_char(const unsigned char *p)
{
    if (p[0] == 0xc2)
        return p[1] >= 0x80 && p[1] <= 0x9f;
    if (p[0] == 0xd8)
        return p[1] == 0x9c;
    if (p[0] == 0xe2 && p[1] == 0x80)
        return p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae);
    if (p[0] == 0xe2 && p[1] == 0x81)
        return p[2] >= 0xa6 && p[2] <= 0xa9;
    return false;
}

/* Whether v (NULL: absent, which is fine) is at most max bytes of printable
 * ASCII (ascii_only: RFC 6749's client_id and scope characters) or of UTF-8
 * without control or format characters (a device's name, shown to its
 * owner). */
static bool field_ok(const char *v, size_t max, bool ascii_only)
{
    if (!v)
        return true;
    size_t n = strlen(v);
    if (n > max || !lg_utf8_valid(v, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f || (ascii_only && c > 0x7e) ||
            format_char((const unsigned char *)v + i))
            return false;
    }
    return true;
}

static enum MHD_Result device_authorization(struct lg_req *r, struct lg_device *d)
{
    const char *client_id = lg_req_param(r, "client_id");
    const char *scope = lg_req_param(r, "scope"), *name = lg_req_param(r, "device_name");
    if (!given(client_id))
        return oauth_error(r, "invalid_request", "client_id is required");
    if (!field_ok(client_id, CLIENT_ID_MAX, true) || !field_ok(scope, SCOPE_MAX, true) ||
        !field_ok(name, DEVICE_NAME_MAX, false))
        return oauth_error(r, "invalid_request",
                           "client_id (128 bytes) and scope (256) must be printable ASCII, "
                           "device_name (128) UTF-8 without control characters");
    struct lg_ratelimit *starts = r->http->device_starts; /* per IP, device_starts a minute */
    int64_t now = mono_us();
    if (lg_ratelimit_limited(starts, "ip", r->ip, now))
        return lg_req_api_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_requests",
                                "too many sign-ins started from this address; try again in a "
                                "minute");
    lg_ratelimit_fail(starts, "ip", r->ip, now);
    struct lg_device_authz a;
    int rc = lg_device_authorize(d, client_id, scope, name, r->ip, &a);
    if (rc < 0)
        return server_error(r);
    char base[PUBLIC_MAX], uri[PUBLIC_MAX + 16], full[PUBLIC_MAX + 64];
    public_base(r, base);
    snprintf(uri, sizeof(uri), "%s/device", base);
    snprintf(full, sizeof(full), "%s/device?h=%s", base, a.handle);
    json_t *j = json_pack("{sssssssssisi}", "device_code", a.device_code, "user_code", a.user_code,
                          "verification_uri", uri, "verification_uri_complete", full, "expires_in",
                          a.expires_in, "interval", a.interval);
    sodium_memzero(&a, sizeof(a));
    return lg_req_reply_json(r, MHD_HTTP_OK, j, NULL);
}

static enum MHD_Result tokens_reply(struct lg_req *r, struct lg_device_tokens *t)
{
    json_t *j = json_pack("{ss ss si ss so?}", "access_token", t->access_token, "token_type",
                          "Bearer", "expires_in", t->expires_in, "refresh_token", t->refresh_token,
                          "scope", lg_json_text(t->scope));
    free(t->scope);
    sodium_memzero(t, sizeof(*t));
    return lg_req_reply_json(r, MHD_HTTP_OK, j, NULL);
}

static const char *err_description(enum lg_oauth_err e)
{
    switch (e) {
    case LG_OAUTH_AUTHORIZATION_PENDING:
        return "the user has not yet approved the request";
    case LG_OAUTH_SLOW_DOWN:
        return "polling too fast; the interval grew by 5 seconds";
    case LG_OAUTH_ACCESS_DENIED:
        return "the user denied the request";
    case LG_OAUTH_EXPIRED_TOKEN:
        return "the device code has expired";
    case LG_OAUTH_INVALID_CLIENT:
        return "client_id does not match the grant";
    default:
        return "the grant is unknown, used, expired or revoked";
    }
}

static enum MHD_Result token(struct lg_req *r, struct lg_device *d)
{
    const char *grant = lg_req_param(r, "grant_type");
    const char *client_id = lg_req_param(r, "client_id");
    struct lg_device_tokens t;
    enum lg_oauth_err e;
    int rc;
    if (!given(grant))
        return oauth_error(r, "invalid_request", "grant_type is required");
    if (strcmp(grant, device_code_grant) == 0) {
        const char *code = lg_req_param(r, "device_code");
        if (!given(code) || !given(client_id))
            return oauth_error(r, "invalid_request", "device_code and client_id are required");
        rc = lg_device_poll(d, code, client_id, &t, &e);
    } else if (strcmp(grant, "refresh_token") == 0) {
        const char *refresh = lg_req_param(r, "refresh_token");
        if (!given(refresh))
            return oauth_error(r, "invalid_request", "refresh_token is required");
        rc = lg_device_refresh(d, refresh, given(client_id) ? client_id : NULL, &t, &e);
    } else {
        return oauth_error(r, "unsupported_grant_type", "grant_type is not supported");
    }
    if (rc < 0)
        return server_error(r);
    if (e != LG_OAUTH_OK)
        return oauth_error(r, lg_oauth_err_name(e), err_description(e));
    return tokens_reply(r, &t);
}

static enum MHD_Result revoke_token(struct lg_req *r, struct lg_device *d)
{
    const char *tok = lg_req_param(r, "token");
    if (!given(tok))
        return oauth_error(r, "invalid_request", "token is required");
    if (lg_device_revoke(d, tok) < 0)
        return server_error(r);
    return lg_req_reply_json(r, MHD_HTTP_OK, json_object(), NULL);
}

static enum MHD_Result metadata(struct lg_req *r)
{
    char base[PUBLIC_MAX], da[PUBLIC_MAX + 32], te[PUBLIC_MAX + 32], re[PUBLIC_MAX + 32];
    public_base(r, base);
    snprintf(da, sizeof(da), "%s/oauth/device_authorization", base);
    snprintf(te, sizeof(te), "%s/oauth/token", base);
    snprintf(re, sizeof(re), "%s/oauth/revoke", base);
    json_t *j = json_pack(
        "{ss ss ss ss s[ss] s[] s[s] s[s]}", "issuer", base, "device_authorization_endpoint", da,
        "token_endpoint", te, "revocation_endpoint", re, "grant_types_supported", device_code_grant,
        "refresh_token", "response_types_supported", "token_endpoint_auth_methods_supported",
        "none", "revocation_endpoint_auth_methods_supported", "none");
    return lg_req_reply_json(r, MHD_HTTP_OK, j, NULL);
}

/* Authenticates the Subsonic credentials of the request into *p. */
static int api_user(struct lg_req *r, struct lg_principal *p)
{
    struct lg_auth_request a = {
        .u = lg_req_param(r, "u"),
        .p = lg_req_param(r, "p"),
        .t = lg_req_param(r, "t"),
        .s = lg_req_param(r, "s"),
        .api_key = lg_req_param(r, "apiKey"),
        .ip = r->ip,
    };
    if (!r->http->deps.auth)
        return LG_EINVAL;
    return lg_auth_check(r->http->deps.auth, &a, p);
}

static enum MHD_Result approve(struct lg_req *r, struct lg_device *d)
{
    struct lg_principal p;
    int rc = api_user(r, &p);
    if (rc < 0)
        return lg_oauth_refuse(r, rc, "wrong or missing credentials");
    const char *code = lg_req_param(r, "user_code");
    if (!given(code))
        code = lg_req_param(r, "h");
    const char *ap = lg_req_param(r, "approve");
    if (!given(code) || !ap || (strcmp(ap, "true") != 0 && strcmp(ap, "false") != 0))
        return lg_req_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                "user_code or h, and approve=true|false, are required");
    char who[sizeof(p.name) + 8];
    snprintf(who, sizeof(who), "user:%s", p.name);
    if (lg_oauth_guess_limited(r, who, p.user_id))
        return lg_req_api_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_attempts",
                                "too many wrong codes; try again in a minute");
    bool yes = strcmp(ap, "true") == 0;
    rc = lg_device_approve(d, code, p.user_id, yes);
    if (rc == LG_ENOTFOUND) {
        lg_oauth_guess_failed(r, who, p.user_id);
        return lg_req_api_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                                "no pending request with this code (wrong, expired or decided)");
    }
    if (rc < 0)
        return server_error(r);
    return lg_req_reply_json(r, MHD_HTTP_OK,
                             json_pack("{ss}", "status", yes ? "approved" : "denied"), NULL);
}


/* Ends a session whose heartbeats stopped; best effort. */
static void expire(struct lg_device *d, int64_t id)
{
    int rc = lg_device_session_expire(d, id);
    (void)rc;
}

/* The Bearer token of the request, or NULL. */
static const char *bearer(struct lg_req *r)
{
    const char *h = lg_req_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    return h + 7;
}

static json_t *session_json(const struct lg_oauth_device *v)
{
    /* "o?": a device may have no name, and old rows no address; rows stored
     * before device fields were checked may hold text that is not UTF-8. */
    return json_pack("{sI so? ss so? so? sI sI}", "id", (json_int_t)v->id, "name",
                     lg_json_text(v->name), "state", lg_device_state_name(v->state), "client_id",
                     lg_json_text(v->client_id), "ip", lg_json_text(v->ip), "created",
                     (json_int_t)(v->created_ms / 1000), "last_seen",
                     (json_int_t)(v->last_seen_ms / 1000));
}

/* GET /api/device/session: by device_code before approval, Bearer after. */
static enum MHD_Result device_session(struct lg_req *r, struct lg_device *d)
{
    struct lg_oauth_device v;
    int64_t id = 0, uid = 0;
    int rc = LG_EAUTH;
    const char *tok = bearer(r), *code = lg_req_param(r, "device_code");
    if (tok && lg_device_token_session(d, tok, &id, &uid) == 0) {
        expire(d, id);
        rc = lg_store_oauth_device_get(d->store, id, &v);
    } else if (given(code)) {
        unsigned char h[32];
        crypto_generichash(h, 32, (const unsigned char *)code, strlen(code), NULL, 0);
        rc = lg_store_oauth_device_by_code(d->store, h, &v);
    }
    if (rc == LG_EAUTH || rc == LG_ENOTFOUND)
        return lg_req_api_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                                "unknown device or token");
    if (rc < 0)
        return server_error(r);
    struct lg_device_move *m = NULL;
    size_t n = 0;
    json_t *j = session_json(&v), *moves = json_array();
    if (lg_store_oauth_moves(d->store, v.id, &m, &n) == 0)
        for (size_t i = 0; i < n; i++)
            json_array_append_new(moves,
                                  json_pack("{sssI}", "state", lg_device_state_name(m[i].state),
                                            "at", (json_int_t)(m[i].at_ms / 1000)));
    free(m);
    json_object_set_new(j, "moves", moves);
    lg_oauth_device_free(&v);
    return lg_req_reply_json(r, MHD_HTTP_OK, j, NULL);
}

static enum MHD_Result heartbeat(struct lg_req *r, struct lg_device *d)
{
    const char *tok = bearer(r), *pl = lg_req_param(r, "playing");
    bool playing = pl && strcmp(pl, "true") == 0;
    int rc = tok ? lg_device_heartbeat(d, tok, playing) : LG_EAUTH;
    if (rc == LG_EAUTH || rc == LG_ENOTFOUND)
        return lg_req_api_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized", "unknown or ended token");
    if (rc == LG_EINVAL)
        return lg_req_api_error(r, MHD_HTTP_CONFLICT, "refused", "this move is not allowed now");
    if (rc < 0)
        return server_error(r);
    return device_session(r, d);
}

/* The user of a Bearer token or of Subsonic credentials. */
static int session_user(struct lg_req *r, struct lg_device *d, int64_t *uid)
{
    const char *tok = bearer(r);
    int64_t sid;
    if (tok)
        return lg_device_token_session(d, tok, &sid, uid);
    struct lg_principal p;
    int rc = api_user(r, &p);
    *uid = p.user_id;
    return rc == LG_ELIMIT ? LG_ELIMIT : rc < 0 ? LG_EAUTH : 0;
}

int lg_oauth_request_user(struct lg_req *r, int64_t *uid)
{
    if (!r->http->deps.store)
        return LG_EAUTH;
    struct lg_device d;
    lg_oauth_device(r, &d);
    int64_t id = 0;
    int rc = session_user(r, &d, &id);
    if (rc < 0)
        return rc == LG_ELIMIT ? LG_ELIMIT : LG_EAUTH;
    *uid = id;
    return 0;
}

enum MHD_Result lg_oauth_refuse(struct lg_req *r, int rc, const char *why)
{
    if (rc == LG_ELIMIT)
        return lg_req_api_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_attempts",
                                "too many failed logins; try again later");
    return lg_req_api_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized", why);
}

static enum MHD_Result sessions(struct lg_req *r, struct lg_device *d)
{
    int64_t uid = 0;
    int rc = session_user(r, d, &uid);
    if (rc < 0)
        return lg_oauth_refuse(r, rc, "wrong or missing credentials");
    const char *tail = r->path + 13;
    if (*tail == '/') {
        if (strcmp(r->method, "DELETE") != 0)
            return lg_req_not_allowed(r, "DELETE");
        char *end;
        long long id = strtoll(tail + 1, &end, 10);
        rc = (*end || id <= 0) ? LG_ENOTFOUND : lg_device_session_end(d, id, uid);
        if (rc == LG_ENOTFOUND)
            return lg_req_api_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such session");
        if (rc == LG_EINVAL)
            return lg_req_api_error(r, MHD_HTTP_CONFLICT, "refused",
                                    "the session has already ended");
        return rc < 0
                   ? server_error(r)
                   : lg_req_reply_json(r, MHD_HTTP_OK, json_pack("{ss}", "state", "ended"), NULL);
    }
    struct lg_oauth_device *v = NULL;
    size_t n = 0;
    if (lg_store_oauth_sessions(d->store, uid, &v, &n) < 0)
        return server_error(r);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        expire(d, v[i].id);
        json_array_append_new(arr, session_json(&v[i]));
    }
    lg_oauth_devices_free(v, n);
    return lg_req_reply_json(r, MHD_HTTP_OK, json_pack("{so}", "sessions", arr), NULL);
}

enum MHD_Result lg_oauth_route(struct lg_req *r)
{
    bool post = strcmp(r->method, "POST") == 0;
    if (r->path[1] == '.') {
        if (!r->head && strcmp(r->method, "GET") != 0)
            return lg_req_not_allowed(r, "GET, HEAD");
        return metadata(r);
    }
    if (!r->http->deps.store)
        return server_error(r);
    struct lg_device d;
    lg_oauth_device(r, &d);
    if (strncmp(r->path, "/api/sessions", 13) == 0) {
        if (r->path[13] == '\0' && strcmp(r->method, "GET") != 0)
            return lg_req_not_allowed(r, "GET");
        return sessions(r, &d);
    }
    if (strcmp(r->path, "/api/device/session") == 0) {
        if (strcmp(r->method, "GET") != 0)
            return lg_req_not_allowed(r, "GET");
        return device_session(r, &d);
    }
    if (!post)
        return lg_req_not_allowed(r, "POST");
    if (strcmp(r->path, "/api/device/heartbeat") == 0)
        return heartbeat(r, &d);
    if (strcmp(r->path, "/oauth/device_authorization") == 0)
        return device_authorization(r, &d);
    if (strcmp(r->path, "/oauth/token") == 0)
        return token(r, &d);
    if (strcmp(r->path, "/oauth/revoke") == 0)
        return revoke_token(r, &d);
    if (strcmp(r->path, "/api/device/approve") == 0)
        return approve(r, &d);
    return lg_req_reply_static(r, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

void lg_oauth_note_stream(struct lg_req *r, const char *token)
{
    struct lg_device d;
    lg_oauth_device(r, &d);
    int rc = lg_device_heartbeat(&d, token, true);
    if (rc == LG_ESTORE)
        lg_log(&oauth_log, LG_LOG_WARN, "cannot record a device's stream");
}

int lg_oauth_api_key(struct lg_req *r, const char *tok, struct lg_principal *out)
{
    if (!r->http->deps.store)
        return LG_EAUTH;
    struct lg_device d;
    lg_oauth_device(r, &d);
    int64_t uid = 0;
    int rc = lg_device_token_user(&d, tok, &uid);
    if (rc < 0)
        return rc;
    struct lg_user u = { 0 };
    rc = lg_store_user_get(r->http->deps.store, uid, &u);
    if (rc < 0)
        return rc == LG_ENOTFOUND ? LG_EAUTH : rc;
    out->user_id = u.id;
    snprintf(out->name, sizeof(out->name), "%s", u.name ? u.name : "");
    out->is_admin = u.is_admin;
    out->roles = u.is_admin ? LG_ROLES_ALL : u.roles;
    lg_user_free(&u);
    return 0;
}
