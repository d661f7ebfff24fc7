/* SPDX-License-Identifier: MIT */
/*
 * The shared parts of the HTML pages (see web.h). The Content-Security-Policy
 * allows exactly the one style block below, by its SHA-256 hash, so a page
 * that echoed an attacker's <style> or <script> would still not run it.
 */
#include "http/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth/websession.h"
#include "http/http_int.h"
#include "http/qr_routes.h"

static const char style[] =
    "body{font-family:system-ui,sans-serif;max-width:32em;margin:2em auto;padding:0 1em}"
    ".code{font:bold 2em monospace;letter-spacing:.1em}dt{font-weight:bold}"
    "button,input{font-size:1.1em;margin:.3em 0}.err{color:#b00}"
    "ol{padding-left:1.5em}li.now{font-weight:bold}nav a{margin-right:1em}"
    "audio{width:100%}.player-cover{float:right;margin:0 0 1em 1em}"
    ".player-pick{font:inherit;border:0;background:none;padding:0;margin:0;cursor:pointer}";

int lg_web_esc(struct lg_buf *b, const char *s)
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

int lg_web_begin(struct lg_buf *b, const char *title)
{
    int rc = lg_buf_puts(b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                            "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    if (rc == 0)
        rc = lg_web_esc(b, title);
    if (rc == 0)
        rc = lg_buf_printf(b, "</title><style>%s</style></head><body><h1>", style);
    if (rc == 0)
        rc = lg_web_esc(b, title);
    return rc == 0 ? lg_buf_puts(b, "</h1>") : rc;
}

int lg_web_end(struct lg_buf *b)
{
    return lg_buf_puts(b, "</body></html>\n");
}

static void csp(enum lg_web_policy p, char *out, size_t cap)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char b64[64];
    crypto_hash_sha256(h, (const unsigned char *)style, sizeof(style) - 1);
    sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap,
             "default-src 'none'; style-src 'sha256-%s'; %sform-action 'self'; "
             "frame-ancestors 'none'; base-uri 'none'",
             b64,
             p == LG_WEB_PLAYER ? "script-src 'self'; media-src 'self'; img-src 'self' data:; "
                                : "");
}

void lg_web_headers(struct MHD_Response *resp, enum lg_web_policy p)
{
    char policy[384];
    csp(p, policy, sizeof(policy));
    MHD_add_response_header(resp, "Content-Security-Policy", policy);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

enum MHD_Result lg_web_send(struct lg_req *r, unsigned status, struct lg_buf *b,
                            enum lg_web_policy p, const char *location, const char *const *cookies)
{
    size_t len = b->len;
    struct MHD_Response *resp = lg_response_owning(lg_buf_steal(b), len);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    lg_web_headers(resp, p);
    for (size_t i = 0; cookies && cookies[i]; i++)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookies[i]);
    if (location)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    return lg_req_reply(r, status, resp, (int64_t)len);
}

enum MHD_Result lg_web_message(struct lg_req *r, unsigned status, const char *title,
                               const char *text)
{
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX);
    int rc = lg_web_begin(&b, title);
    if (rc == 0)
        rc = lg_buf_puts(&b, "<p>");
    if (rc == 0)
        rc = lg_web_esc(&b, text);
    if (rc == 0)
        rc = lg_buf_puts(&b, "</p>");
    if (rc == 0)
        rc = lg_web_end(&b);
    if (rc < 0) {
        lg_buf_free(&b);
        return lg_req_reply_static(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "error\n");
    }
    return lg_web_send(r, status, &b, LG_WEB_FORMS, NULL, NULL);
}

bool lg_web_https(struct lg_req *r)
{
    char base[512] = "";
    return lg_http_public_base(r->http, lg_req_header(r, MHD_HTTP_HEADER_HOST), base,
                               sizeof(base)) == 0 &&
           strncmp(base, "https://", 8) == 0;
}

int lg_web_cookie(struct lg_req *r, const char *name, const char *value, int max_age_s, char *out,
                  size_t cap)
{
    int n = snprintf(out, cap, "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", name,
                     value, max_age_s, lg_web_https(r) ? "; Secure" : "");
    return n < 0 || (size_t)n >= cap ? LG_ETOOBIG : 0;
}

bool lg_web_local_path(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > LG_WEB_LOCAL_PATH_MAX || s[0] != '/' || s[1] == '/' || s[1] == '\\')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == '\\')
            return false;
    }
    return true;
}

int64_t lg_web_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t lg_web_session_user(struct lg_req *r, const char **token)
{
    *token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, LG_WEB_SESSION_COOKIE);
    int64_t uid = 0;
    if (!*token || !r->http->deps.store ||
        lg_websession_user(r->http->deps.store, *token, lg_web_now_s(), &uid) < 0)
        return 0;
    return uid;
}
