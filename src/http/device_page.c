/* SPDX-License-Identifier: MIT */
/*
 * The device approval page (see device_page.h): plain HTML forms, no script.
 * The request being approved is named by its QR handle (h) or its user code
 * (code, normalised to 8 letters); only validated values are echoed into
 * URLs and hidden fields, and everything shown goes through esc().
 */
#include "http/device_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth/device.h"
#include "auth/websession.h"
#include "http/http_int.h"
#include "http/oauth.h"
#include "http/qr_routes.h"
#include "http/subsonic_render.h"
#include "store/store.h"

#define COOKIE_NAME "legato_session"
#define PAGE_MAX    (64 * 1024)

static const char style[] =
    "body{font-family:system-ui,sans-serif;max-width:32em;margin:2em auto;padding:0 1em}"
    ".code{font:bold 2em monospace;letter-spacing:.1em}dt{font-weight:bold}"
    "button,input{font-size:1.1em;margin:.3em 0}.err{color:#b00}";

/* The request the page is about: kind 'h' (QR handle), 'c' (user code) or 0. */
struct target {
    char kind;
    char value[LG_QR_HANDLE_MAX + 1];
};

bool lg_device_page_is_route(const char *path)
{
    return strcmp(path, "/device") == 0 || strcmp(path, "/device/login") == 0 ||
           strcmp(path, "/device/decide") == 0;
}

static bool b64url_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < LG_QR_HANDLE_MIN || n > LG_QR_HANDLE_MAX)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Reads h or code; *bad is set when code was given but is not a user code. */
static struct target target_of(const struct lg_req *r, bool *bad)
{
    struct target t = { 0 };
    const char *h = lg_req_param(r, "h");
    const char *code = lg_req_param(r, "code");
    char norm[9];
    *bad = false;
    if (b64url_ok(h)) {
        t.kind = 'h';
        snprintf(t.value, sizeof(t.value), "%s", h);
    } else if (code && *code) {
        if (lg_device_user_code_normalise(code, norm) == 0) {
            t.kind = 'c';
            snprintf(t.value, sizeof(t.value), "%s", norm);
        } else {
            *bad = true;
        }
    } else if (h && *h) {
        *bad = true;
    }
    return t;
}

static int esc(struct lg_buf *b, const char *s)
{
    int rc = 0;
    for (; s && *s && rc == 0; s++) {
        switch (*s) {
        case '&':
            rc = lg_buf_puts(b, "&amp;");
            break;
        case '<':
            rc = lg_buf_puts(b, "&lt;");
            break;
        case '>':
            rc = lg_buf_puts(b, "&gt;");
            break;
        case '"':
            rc = lg_buf_puts(b, "&quot;");
            break;
        case '\'':
            rc = lg_buf_puts(b, "&#39;");
            break;
        default:
            rc = lg_buf_append(b, s, 1);
        }
    }
    return rc;
}

static int hidden_target(struct lg_buf *b, const struct target *t)
{
    if (!t->kind)
        return 0;
    int rc = lg_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"",
                           t->kind == 'h' ? "h" : "code");
    if (rc == 0)
        rc = esc(b, t->value);
    return rc == 0 ? lg_buf_puts(b, "\">") : rc;
}

static int page_begin(struct lg_buf *b, const char *title)
{
    int rc = lg_buf_printf(b,
                           "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<meta name=\"viewport\" content=\"width=device-width\">"
                           "<title>%s</title><style>%s</style></head><body><h1>%s</h1>",
                           title, style, title);
    return rc;
}

static int page_end(struct lg_buf *b)
{
    return lg_buf_puts(b, "</body></html>\n");
}

/* The CSP allows exactly the style block above, by hash. */
static void csp(char *out, size_t cap)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char b64[64];
    crypto_hash_sha256(h, (const unsigned char *)style, sizeof(style) - 1);
    sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap,
             "default-src 'none'; style-src 'sha256-%s'; form-action 'self'; "
             "frame-ancestors 'none'; base-uri 'none'",
             b64);
}

static void secure_headers(struct MHD_Response *resp)
{
    char policy[256];
    csp(policy, sizeof(policy));
    MHD_add_response_header(resp, "Content-Security-Policy", policy);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

/* Sends b (taken) with the page headers; cookie and location may be NULL. */
static enum MHD_Result send_page(struct lg_req *r, unsigned status, struct lg_buf *b,
                                 const char *cookie, const char *location)
{
    size_t len = b->len;
    char *data = lg_buf_steal(b);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, data ? data : (void *)"", data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    secure_headers(resp);
    if (cookie)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    if (location)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    return lg_req_reply(r, status, resp, (int64_t)len);
}

/* A page with one message paragraph (text is escaped). */
static enum MHD_Result message(struct lg_req *r, unsigned status, const char *title,
                               const char *text)
{
    struct lg_buf b;
    lg_buf_init(&b, PAGE_MAX);
    int rc = page_begin(&b, title);
    if (rc == 0)
        rc = lg_buf_puts(&b, "<p>");
    if (rc == 0)
        rc = esc(&b, text);
    if (rc == 0)
        rc = lg_buf_puts(&b, "</p>");
    if (rc == 0)
        rc = page_end(&b);
    if (rc < 0) {
        lg_buf_free(&b);
        return lg_req_reply_static(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "error\n");
    }
    return send_page(r, status, &b, NULL, NULL);
}

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* The signed-in user, or 0. *token gets the cookie value (or NULL). */
static int64_t session_user(struct lg_req *r, const char **token)
{
    *token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, COOKIE_NAME);
    int64_t uid = 0;
    if (!*token || !r->http->deps.store ||
        lg_websession_user(r->http->deps.store, *token, now_s(), &uid) < 0)
        return 0;
    return uid;
}

static enum MHD_Result login_page(struct lg_req *r, unsigned status, const struct target *t,
                                  const char *error)
{
    struct lg_buf b;
    lg_buf_init(&b, PAGE_MAX);
    int rc = page_begin(&b, "Sign in to approve a device");
    if (rc == 0 && error)
        rc = lg_buf_printf(&b, "<p class=\"err\">%s</p>", error);
    if (rc == 0)
        rc = lg_buf_puts(&b, "<form method=\"post\" action=\"/device/login\">");
    if (rc == 0)
        rc = hidden_target(&b, t);
    if (rc == 0)
        rc = lg_buf_puts(&b, "<p><label>User name<br><input name=\"username\" "
                             "autocomplete=\"username\" required></label></p>"
                             "<p><label>Password<br><input name=\"password\" type=\"password\" "
                             "autocomplete=\"current-password\" required></label></p>"
                             "<p><button type=\"submit\">Sign in</button></p></form>");
    if (rc == 0)
        rc = page_end(&b);
    if (rc < 0) {
        lg_buf_free(&b);
        return MHD_NO;
    }
    return send_page(r, status, &b, NULL, NULL);
}

static enum MHD_Result code_page(struct lg_req *r, unsigned status, const char *error)
{
    struct lg_buf b;
    lg_buf_init(&b, PAGE_MAX);
    int rc = page_begin(&b, "Sign in a device");
    if (rc == 0 && error)
        rc = lg_buf_printf(&b, "<p class=\"err\">%s</p>", error);
    if (rc == 0)
        rc = lg_buf_puts(&b, "<form method=\"get\" action=\"/device\"><p><label>"
                             "Enter the code shown on the device<br><input name=\"code\" "
                             "autocomplete=\"off\" autocapitalize=\"characters\" required>"
                             "</label></p><p><button type=\"submit\">Continue</button></p></form>");
    if (rc == 0)
        rc = page_end(&b);
    if (rc < 0) {
        lg_buf_free(&b);
        return MHD_NO;
    }
    return send_page(r, status, &b, NULL, NULL);
}

static int dl_item(struct lg_buf *b, const char *term, const char *value)
{
    int rc = lg_buf_printf(b, "<dt>%s</dt><dd>", term);
    if (rc == 0)
        rc = esc(b, value && *value ? value : "(none)");
    return rc == 0 ? lg_buf_puts(b, "</dd>") : rc;
}

static int approve_body(struct lg_buf *b, const struct lg_device_info *in, const struct target *t,
                        const char *csrf)
{
    char when[40];
    lg_sub_iso8601(when, in->created_ms / 1000);
    int rc = lg_buf_puts(b, "<p>Check that this code matches the one on the device's screen:</p>"
                            "<p class=\"code\">");
    if (rc == 0)
        rc = esc(b, in->user_code);
    if (rc == 0)
        rc = lg_buf_puts(b, "</p><dl>");
    if (rc == 0)
        rc = dl_item(b, "Device", in->name);
    if (rc == 0)
        rc = dl_item(b, "Client", in->client_id);
    if (rc == 0)
        rc = dl_item(b, "IP address", in->ip);
    if (rc == 0)
        rc = dl_item(b, "Asked at (UTC)", when);
    if (rc == 0)
        rc = lg_buf_puts(b, "</dl><form method=\"post\" action=\"/device/decide\">");
    if (rc == 0)
        rc = hidden_target(b, t);
    if (rc == 0)
        rc = lg_buf_printf(b,
                           "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                           "<p><button type=\"submit\" name=\"decision\" value=\"approve\">Approve"
                           "</button> <button type=\"submit\" name=\"decision\" value=\"deny\">"
                           "Deny</button></p></form>",
                           csrf);
    return rc;
}

/* "Signed in as NAME": whose account the device would get. */
static int signed_in_as(struct lg_buf *b, struct lg_store *s, int64_t uid)
{
    struct lg_user u;
    if (lg_store_user_get(s, uid, &u) < 0)
        return 0;
    int rc = lg_buf_puts(b, "<p>Signed in as <b>");
    if (rc == 0)
        rc = esc(b, u.name);
    lg_user_free(&u);
    return rc == 0 ? lg_buf_puts(b, "</b>. Approving signs the device in to this account.</p>")
                   : rc;
}

static enum MHD_Result approve_page(struct lg_req *r, const struct target *t, const char *token,
                                    int64_t uid)
{
    struct lg_device d;
    struct lg_device_info in;
    lg_oauth_device(r, &d);
    if (lg_oauth_guess_limited(r, token))
        return message(r, MHD_HTTP_TOO_MANY_REQUESTS, "Too many attempts",
                       "Too many wrong codes. Wait a minute and try again.");
    int rc = lg_device_describe(&d, t->value, &in);
    if (rc == LG_ENOTFOUND) {
        lg_oauth_guess_failed(r, token);
        return code_page(r, MHD_HTTP_NOT_FOUND, "This code is unknown or has expired.");
    }
    if (rc < 0)
        return message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    if (in.status != LG_OAUTH_PENDING)
        return message(r, MHD_HTTP_CONFLICT, "Already decided",
                       "This request was already approved or denied.");
    /* The device may show "validating"; a refused move (LG_EINVAL) is harmless. */
    if (lg_device_mark_validating(&d, t->value) == LG_ESTORE)
        return message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    char csrf[LG_WEBSESSION_TOKEN_LEN];
    lg_websession_csrf(token, csrf);
    struct lg_buf b;
    lg_buf_init(&b, PAGE_MAX);
    rc = page_begin(&b, "Sign in a device");
    if (rc == 0)
        rc = signed_in_as(&b, r->http->deps.store, uid);
    if (rc == 0)
        rc = approve_body(&b, &in, t, csrf);
    if (rc == 0)
        rc = page_end(&b);
    if (rc < 0) {
        lg_buf_free(&b);
        return MHD_NO;
    }
    return send_page(r, MHD_HTTP_OK, &b, NULL, NULL);
}

static enum MHD_Result get_device(struct lg_req *r)
{
    bool bad;
    struct target t = target_of(r, &bad);
    const char *token;
    int64_t uid = session_user(r, &token);
    if (!uid)
        return login_page(r, MHD_HTTP_OK, &t, NULL);
    if (bad)
        return code_page(r, MHD_HTTP_BAD_REQUEST, "That is not a valid code.");
    if (!t.kind)
        return code_page(r, MHD_HTTP_OK, NULL);
    return approve_page(r, &t, token, uid);
}

/* The /device URL of t (validated characters only). */
static void device_url(const struct target *t, char *out, size_t cap)
{
    if (t->kind)
        snprintf(out, cap, "/device?%s=%s", t->kind == 'h' ? "h" : "code", t->value);
    else
        snprintf(out, cap, "/device");
}

/* Subsonic-style u + p, with p hex-encoded so any password is taken as is. */
static int check_password(struct lg_req *r, const char *user, const char *pass,
                          struct lg_principal *p)
{
    size_t n = strlen(pass);
    if (!r->http->deps.auth || n > LG_AUTH_PASSWORD_MAX)
        return LG_EAUTH;
    char hex[4 + 2 * LG_AUTH_PASSWORD_MAX + 1] = "enc:";
    sodium_bin2hex(hex + 4, sizeof(hex) - 4, (const unsigned char *)pass, n);
    struct lg_auth_request a = { .u = user, .p = hex, .ip = r->ip };
    int rc = lg_auth_check(r->http->deps.auth, &a, p);
    sodium_memzero(hex, sizeof(hex));
    return rc;
}

static void cookie_of(struct lg_req *r, const char *token, char *out, size_t cap)
{
    char base[512] = "";
    bool https = lg_http_public_base(r->http, lg_req_header(r, MHD_HTTP_HEADER_HOST), base,
                                     sizeof(base)) == 0 &&
                 strncmp(base, "https://", 8) == 0;
    snprintf(out, cap, "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", COOKIE_NAME, token,
             LG_WEBSESSION_TTL_S, https ? "; Secure" : "");
}

static enum MHD_Result post_login(struct lg_req *r)
{
    bool bad;
    struct target t = target_of(r, &bad);
    const char *user = lg_req_param(r, "username"), *pass = lg_req_param(r, "password");
    if (!user || !*user || !pass || !*pass)
        return login_page(r, MHD_HTTP_BAD_REQUEST, &t, "User name and password are required.");
    struct lg_principal p;
    int rc = check_password(r, user, pass, &p);
    if (rc == LG_ELIMIT)
        return login_page(r, MHD_HTTP_TOO_MANY_REQUESTS, &t,
                          "Too many failed attempts. Wait a minute and try again.");
    if (rc == LG_ESTORE)
        return message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    if (rc < 0)
        return login_page(r, MHD_HTTP_UNAUTHORIZED, &t, "Wrong user name or password.");
    char token[LG_WEBSESSION_TOKEN_LEN], cookie[256], url[128];
    if (lg_websession_create(r->http->deps.store, p.user_id, now_s(), token) < 0)
        return message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    cookie_of(r, token, cookie, sizeof(cookie));
    sodium_memzero(token, sizeof(token));
    device_url(&t, url, sizeof(url));
    struct lg_buf b;
    lg_buf_init(&b, PAGE_MAX);
    if (lg_buf_puts(&b, "See other\n") < 0) {
        lg_buf_free(&b);
        return MHD_NO;
    }
    enum MHD_Result res = send_page(r, MHD_HTTP_SEE_OTHER, &b, cookie, url);
    sodium_memzero(cookie, sizeof(cookie));
    return res;
}

static enum MHD_Result post_decide(struct lg_req *r)
{
    const char *token;
    int64_t uid = session_user(r, &token);
    if (!uid)
        return message(r, MHD_HTTP_FORBIDDEN, "Forbidden", "Please sign in first.");
    if (!lg_websession_csrf_ok(token, lg_req_param(r, "csrf")))
        return message(r, MHD_HTTP_FORBIDDEN, "Forbidden",
                       "The form has expired. Go back, reload the page and try again.");
    bool bad;
    struct target t = target_of(r, &bad);
    const char *dec = lg_req_param(r, "decision");
    bool yes = dec && strcmp(dec, "approve") == 0;
    if (!t.kind || !dec || (!yes && strcmp(dec, "deny") != 0))
        return message(r, MHD_HTTP_BAD_REQUEST, "Bad request", "Missing code or decision.");
    struct lg_device d;
    lg_oauth_device(r, &d);
    if (lg_oauth_guess_limited(r, token))
        return message(r, MHD_HTTP_TOO_MANY_REQUESTS, "Too many attempts",
                       "Too many wrong codes. Wait a minute and try again.");
    int rc = lg_device_approve(&d, t.value, uid, yes);
    if (rc == LG_ENOTFOUND) {
        lg_oauth_guess_failed(r, token);
        return message(r, MHD_HTTP_NOT_FOUND, "Not found",
                       "This request is unknown, has expired or was already decided.");
    }
    if (rc < 0)
        return message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    return yes ? message(r, MHD_HTTP_OK, "Approved", "This device is signed in.")
               : message(r, MHD_HTTP_OK, "Denied", "Denied. The device was not signed in.");
}

static enum MHD_Result not_allowed(struct lg_req *r, const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(19, (void *)"method not allowed\n", MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    }
    return lg_req_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, resp, 19);
}

enum MHD_Result lg_device_page_route(struct lg_req *r)
{
    bool get = r->head || strcmp(r->method, "GET") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    if (!r->http->deps.store)
        return lg_req_reply_static(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "no store\n");
    if (strcmp(r->path, "/device") == 0)
        return get ? get_device(r) : not_allowed(r, "GET, HEAD");
    if (!post)
        return not_allowed(r, "POST");
    if (strcmp(r->path, "/device/login") == 0)
        return post_login(r);
    return post_decide(r);
}
