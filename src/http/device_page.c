/* SPDX-License-Identifier: MIT */
/*
 * The device approval page (see device_page.h): plain HTML forms, no script.
 * The request being approved is named by its QR handle (h) or its user code
 * (code, normalised to 8 letters); only validated values are echoed into
 * URLs and hidden fields, and everything shown goes through lg_web_esc().
 * The sign-in form is also the hand-off page's and the start page's: it
 * carries its own double-submit CSRF token and a local path to return to.
 */
#include "http/device_page.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/device.h"
#include "auth/websession.h"
#include "http/http_int.h"
#include "http/oauth.h"
#include "http/qr_routes.h"
#include "http/subsonic_render.h"
#include "http/web.h"
#include "store/store.h"

#define LOGIN_COOKIE       "legato_login"
#define LOGIN_COOKIE_HTTPS "__Host-legato_login"

enum {
    LOGIN_TOKEN_CHARS = 43,            /* base64url of 32 random bytes */
    LOGIN_COOKIE_MAX_AGE_S = 2 * 3600, /* how long a sign-in form stays usable */
};

/* The request the page is about: kind 'h' (QR handle), 'c' (user code) or 0. */
struct target {
    char kind;
    char value[LG_QR_HANDLE_MAX + 1];
};

bool lg_device_page_is_route(const char *path)
{
    return strcmp(path, "/device") == 0 || strcmp(path, "/device/login") == 0 ||
           strcmp(path, "/device/decide") == 0 || strcmp(path, "/device/logout") == 0;
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

static int hidden_target(struct lg_buf *b, const struct target *t)
{
    if (!t->kind)
        return 0;
    int rc = lg_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"",
                           t->kind == 'h' ? "h" : "code");
    if (rc == 0)
        rc = lg_web_esc(b, t->value);
    return rc == 0 ? lg_buf_puts(b, "\">") : rc;
}

/* --- the sign-in form and its CSRF token ---
 * The form works before there is a session, so its CSRF token is a double
 * submit: a random token in a SameSite=Strict, HttpOnly cookie set with the
 * form (named with the __Host- prefix when the public URL is https, so that
 * no other host can plant it) and the same token in a hidden field. Another
 * site can make a browser post the form but can neither read nor set the
 * cookie, so it cannot supply a matching pair. */

static const char *login_cookie_name(struct lg_req *r)
{
    return lg_web_https(r) ? LOGIN_COOKIE_HTTPS : LOGIN_COOKIE;
}

static bool login_token_ok(const char *s)
{
    return s && strlen(s) == LOGIN_TOKEN_CHARS &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               LOGIN_TOKEN_CHARS;
}

static const char *login_cookie(struct lg_req *r)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, login_cookie_name(r));
}

/* The token of the browser's login cookie, so that forms open in several
 * tabs all stay valid; a new random one when it has none. */
static void login_token(struct lg_req *r, char out[LOGIN_TOKEN_CHARS + 1])
{
    const char *have = login_cookie(r);
    if (login_token_ok(have)) {
        memcpy(out, have, LOGIN_TOKEN_CHARS + 1);
        return;
    }
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, LOGIN_TOKEN_CHARS + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

/* Whether the posted csrf field matches the login cookie (constant time). */
static bool login_csrf_ok(struct lg_req *r)
{
    const char *cookie = login_cookie(r), *field = lg_req_param(r, "csrf");
    return login_token_ok(cookie) && login_token_ok(field) &&
           sodium_memcmp(cookie, field, LOGIN_TOKEN_CHARS) == 0;
}

struct login_form {
    const char *title;
    const struct target *t; /* the device request to come back to, or NULL */
    const char *next;       /* a local path to come back to, or NULL */
    const char *error;      /* shown above the form, or NULL */
};

/* Only a safe local path is echoed (escaped, though it needs none). */
static int hidden_next(struct lg_buf *b, const char *next)
{
    if (!lg_web_local_path(next))
        return 0;
    int rc = lg_buf_puts(b, "<input type=\"hidden\" name=\"next\" value=\"");
    if (rc == 0)
        rc = lg_web_esc(b, next);
    return rc == 0 ? lg_buf_puts(b, "\">") : rc;
}

static int error_line(struct lg_buf *b, const char *error)
{
    if (!error)
        return 0;
    int rc = lg_buf_puts(b, "<p class=\"err\">");
    if (rc == 0)
        rc = lg_web_esc(b, error);
    return rc == 0 ? lg_buf_puts(b, "</p>") : rc;
}

static int login_body(struct lg_buf *b, const struct login_form *f, const char *csrf)
{
    int rc = lg_web_begin(b, f->title);
    if (rc == 0)
        rc = error_line(b, f->error);
    if (rc == 0)
        rc = lg_buf_printf(b,
                           "<form method=\"post\" action=\"/device/login\">"
                           "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
                           csrf);
    if (rc == 0 && f->t)
        rc = hidden_target(b, f->t);
    if (rc == 0)
        rc = hidden_next(b, f->next);
    if (rc == 0)
        rc = lg_buf_puts(b, "<p><label>User name<br><input name=\"username\" "
                            "autocomplete=\"username\" required></label></p>"
                            "<p><label>Password<br><input name=\"password\" type=\"password\" "
                            "autocomplete=\"current-password\" required></label></p>"
                            "<p><button type=\"submit\">Sign in</button></p></form>");
    return rc == 0 ? lg_web_end(b) : rc;
}

/* The sign-in page, with the login cookie (re)set beside it. */
static enum MHD_Result login_form(struct lg_req *r, unsigned status, const struct login_form *f)
{
    char csrf[LOGIN_TOKEN_CHARS + 1], cookie[256];
    login_token(r, csrf);
    if (lg_web_cookie(r, login_cookie_name(r), csrf, LOGIN_COOKIE_MAX_AGE_S, cookie,
                      sizeof(cookie)) < 0)
        return MHD_NO;
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX);
    if (login_body(&b, f, csrf) < 0) {
        lg_buf_free(&b);
        return MHD_NO;
    }
    const char *cookies[] = { cookie, NULL };
    return lg_web_send(r, status, &b, LG_WEB_FORMS, NULL, cookies);
}

static enum MHD_Result login_page(struct lg_req *r, unsigned status, const struct target *t,
                                  const char *next, const char *error)
{
    struct login_form f = { "Sign in to approve a device", t, next, error };
    return login_form(r, status, &f);
}

enum MHD_Result lg_device_login_page(struct lg_req *r, unsigned status, const char *title,
                                     const char *next)
{
    struct login_form f = { title, NULL, next, NULL };
    return login_form(r, status, &f);
}

static enum MHD_Result code_page(struct lg_req *r, unsigned status, const char *error)
{
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX);
    int rc = lg_web_begin(&b, "Sign in a device");
    if (rc == 0 && error)
        rc = lg_buf_printf(&b, "<p class=\"err\">%s</p>", error);
    if (rc == 0)
        rc = lg_buf_puts(&b, "<form method=\"get\" action=\"/device\"><p><label>"
                             "Enter the code shown on the device<br><input name=\"code\" "
                             "autocomplete=\"off\" autocapitalize=\"characters\" required>"
                             "</label></p><p><button type=\"submit\">Continue</button></p></form>");
    if (rc == 0)
        rc = lg_web_end(&b);
    if (rc < 0) {
        lg_buf_free(&b);
        return MHD_NO;
    }
    return lg_web_send(r, status, &b, LG_WEB_FORMS, NULL, NULL);
}

static int dl_item(struct lg_buf *b, const char *term, const char *value)
{
    int rc = lg_buf_printf(b, "<dt>%s</dt><dd>", term);
    if (rc == 0)
        rc = lg_web_esc(b, value && *value ? value : "(none)");
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
        rc = lg_web_esc(b, in->user_code);
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
        rc = lg_web_esc(b, u.name);
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
    if (lg_oauth_guess_limited(r, token, uid))
        return lg_web_message(r, MHD_HTTP_TOO_MANY_REQUESTS, "Too many attempts",
                              "Too many wrong codes. Wait a minute and try again.");
    int rc = lg_device_describe(&d, t->value, &in);
    if (rc == LG_ENOTFOUND) {
        lg_oauth_guess_failed(r, token, uid);
        return code_page(r, MHD_HTTP_NOT_FOUND, "This code is unknown or has expired.");
    }
    if (rc < 0)
        return lg_web_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    if (in.status != LG_OAUTH_PENDING)
        return lg_web_message(r, MHD_HTTP_CONFLICT, "Already decided",
                              "This request was already approved or denied.");
    /* The device may show "validating"; a refused move (LG_EINVAL) is harmless. */
    if (lg_device_mark_validating(&d, t->value) == LG_ESTORE)
        return lg_web_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    char csrf[LG_WEBSESSION_TOKEN_LEN];
    lg_websession_csrf(token, csrf);
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX);
    rc = lg_web_begin(&b, "Sign in a device");
    if (rc == 0)
        rc = signed_in_as(&b, r->http->deps.store, uid);
    if (rc == 0)
        rc = approve_body(&b, &in, t, csrf);
    if (rc == 0)
        rc = lg_web_end(&b);
    if (rc < 0) {
        lg_buf_free(&b);
        return MHD_NO;
    }
    return lg_web_send(r, MHD_HTTP_OK, &b, LG_WEB_FORMS, NULL, NULL);
}

static enum MHD_Result get_device(struct lg_req *r)
{
    bool bad;
    struct target t = target_of(r, &bad);
    const char *token;
    int64_t uid = lg_web_session_user(r, &token);
    if (!uid)
        return login_page(r, MHD_HTTP_OK, &t, NULL, NULL);
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

/* The answer to a good sign-in: the session cookie, the login cookie
 * cleared, and 303 to where the form came from. */
static enum MHD_Result signed_in(struct lg_req *r, int64_t uid, const char *location)
{
    char token[LG_WEBSESSION_TOKEN_LEN], session[256], clear[128];
    if (lg_websession_create(r->http->deps.store, uid, lg_web_now_s(), token) < 0)
        return lg_web_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    int rc = lg_web_cookie(r, LG_WEB_SESSION_COOKIE, token, LG_WEBSESSION_TTL_S, session,
                           sizeof(session));
    sodium_memzero(token, sizeof(token));
    if (rc == 0)
        rc = lg_web_cookie(r, login_cookie_name(r), "", 0, clear, sizeof(clear));
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX);
    if (rc == 0)
        rc = lg_buf_puts(&b, "See other\n");
    if (rc < 0) {
        lg_buf_free(&b);
        sodium_memzero(session, sizeof(session));
        return MHD_NO;
    }
    const char *cookies[] = { session, clear, NULL };
    enum MHD_Result res = lg_web_send(r, MHD_HTTP_SEE_OTHER, &b, LG_WEB_FORMS, location, cookies);
    sodium_memzero(session, sizeof(session));
    return res;
}

static enum MHD_Result post_login(struct lg_req *r)
{
    bool bad;
    struct target t = target_of(r, &bad);
    const char *next = lg_req_param(r, "next");
    if (!lg_web_local_path(next))
        next = NULL;
    /* Checked before the password, so that another site cannot use a
     * visitor's browser to try passwords (or to sign it in as someone). */
    if (!login_csrf_ok(r))
        return login_page(r, MHD_HTTP_FORBIDDEN, &t, next,
                          "This form has expired or did not come from this site. "
                          "Please sign in again.");
    const char *user = lg_req_param(r, "username"), *pass = lg_req_param(r, "password");
    if (!user || !*user || !pass || !*pass)
        return login_page(r, MHD_HTTP_BAD_REQUEST, &t, next,
                          "User name and password are required.");
    struct lg_principal p;
    int rc = check_password(r, user, pass, &p);
    if (rc == LG_ELIMIT)
        return login_page(r, MHD_HTTP_TOO_MANY_REQUESTS, &t, next,
                          "Too many failed attempts. Wait a minute and try again.");
    if (rc == LG_ESTORE)
        return lg_web_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    if (rc < 0)
        return login_page(r, MHD_HTTP_UNAUTHORIZED, &t, next, "Wrong user name or password.");
    char url[LG_WEB_LOCAL_PATH_MAX + 1];
    if (next)
        snprintf(url, sizeof(url), "%s", next);
    else
        device_url(&t, url, sizeof(url));
    return signed_in(r, p.user_id, url);
}

static enum MHD_Result post_decide(struct lg_req *r)
{
    const char *token;
    int64_t uid = lg_web_session_user(r, &token);
    if (!uid)
        return lg_web_message(r, MHD_HTTP_FORBIDDEN, "Forbidden", "Please sign in first.");
    if (!lg_websession_csrf_ok(token, lg_req_param(r, "csrf")))
        return lg_web_message(r, MHD_HTTP_FORBIDDEN, "Forbidden",
                              "The form has expired. Go back, reload the page and try again.");
    bool bad;
    struct target t = target_of(r, &bad);
    const char *dec = lg_req_param(r, "decision");
    bool yes = dec && strcmp(dec, "approve") == 0;
    if (!t.kind || !dec || (!yes && strcmp(dec, "deny") != 0))
        return lg_web_message(r, MHD_HTTP_BAD_REQUEST, "Bad request", "Missing code or decision.");
    struct lg_device d;
    lg_oauth_device(r, &d);
    if (lg_oauth_guess_limited(r, token, uid))
        return lg_web_message(r, MHD_HTTP_TOO_MANY_REQUESTS, "Too many attempts",
                              "Too many wrong codes. Wait a minute and try again.");
    int rc = lg_device_approve(&d, t.value, uid, yes);
    if (rc == LG_ENOTFOUND) {
        lg_oauth_guess_failed(r, token, uid);
        return lg_web_message(r, MHD_HTTP_NOT_FOUND, "Not found",
                              "This request is unknown, has expired or was already decided.");
    }
    if (rc < 0)
        return lg_web_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    return yes ? lg_web_message(r, MHD_HTTP_OK, "Approved", "This device is signed in.")
               : lg_web_message(r, MHD_HTTP_OK, "Denied", "Denied. The device was not signed in.");
}

/* POST /device/logout: ends the browser's session (its CSRF field must
 * match) and clears the cookie, then 303 to "/", the sign-in form. Without a
 * session there is nothing to end: the same 303, and a cookie that came
 * with the request (a session that ended) is cleared. A request without
 * the cookie, as another site's form sends it (SameSite=Strict), changes
 * nothing: no cookie is set, so it cannot sign the browser out. */
static enum MHD_Result post_logout(struct lg_req *r)
{
    const char *token;
    int64_t uid = lg_web_session_user(r, &token);
    if (uid && !lg_websession_csrf_ok(token, lg_req_param(r, "csrf")))
        return lg_web_message(r, MHD_HTTP_FORBIDDEN, "Forbidden",
                              "The form has expired. Go back, reload the page and try again.");
    if (uid && lg_websession_delete(r->http->deps.store, token) < 0)
        return lg_web_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    char clear[128];
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX);
    if ((token && lg_web_cookie(r, LG_WEB_SESSION_COOKIE, "", 0, clear, sizeof(clear)) < 0) ||
        lg_buf_puts(&b, "See other\n") < 0)
    {
        lg_buf_free(&b);
        return MHD_NO;
    }
    const char *cookies[] = { clear, NULL };
    return lg_web_send(r, MHD_HTTP_SEE_OTHER, &b, LG_WEB_FORMS, "/", token ? cookies : NULL);
}

enum MHD_Result lg_device_page_route(struct lg_req *r)
{
    bool get = r->head || strcmp(r->method, "GET") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    if (!r->http->deps.store)
        return lg_req_reply_static(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "no store\n");
    if (strcmp(r->path, "/device") == 0)
        return get ? get_device(r) : lg_req_not_allowed(r, "GET, HEAD");
    if (!post)
        return lg_req_not_allowed(r, "POST");
    if (strcmp(r->path, "/device/login") == 0)
        return post_login(r);
    if (strcmp(r->path, "/device/logout") == 0)
        return post_logout(r);
    return post_decide(r);
}
