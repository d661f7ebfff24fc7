/* SPDX-License-Identifier: MIT */
/*
 * Hand-off links (see handoff.h). Tokens are checked for shape (43
 * base64url characters) before they are hashed and looked up, so nothing
 * else from the path reaches a page, a URL or the store. Claiming first
 * reads the link to tell "not yours" (403, the link stays claimable) from
 * "used or expired" (410), then claims it with the store's atomic UPDATE,
 * then saves the queue as the user's play queue. The claim and the save are
 * two transactions: should the save fail (a track deleted in between), the
 * link is used up and the player makes a new one.
 */
#include "http/handoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "auth/websession.h"
#include "core/config.h"
#include "core/str.h"
#include "http/device_page.h"
#include "http/http_int.h"
#include "http/oauth.h"
#include "http/qr_routes.h"
#include "http/subsonic_render.h"
#include "http/web.h"
#include "store/store.h"

#define PREFIX          "/handoff/"
#define POSITION_MAX_MS INT64_C(1000000000000) /* about 31 years */

enum {
    TOKEN_CHARS = 43,    /* base64url of 32 random bytes */
    TTL_DEFAULT_S = 300, /* without a loaded configuration */
    KEEP_S = 86400,      /* a dead link still answers 410 this long */
    URL_MAX = 1024,
};

/* Every id of a full queue, and the other fields, fit the form parser. */
_Static_assert(LG_REQ_FORM_MAX >= LG_HANDOFF_IDS_MAX + 16, "form limit below the queue limit");

/* What a claim can come to, besides a store error. */
enum {
    GONE = 1,   /* used, expired, or nothing left to play: 410 */
    DENIED = 2, /* another user's: 403 */
};

bool lg_handoff_is_route(const char *path)
{
    return strcmp(path, "/api/handoff") == 0 || strcmp(path, "/api/handoff/claim") == 0 ||
           strncmp(path, PREFIX, sizeof(PREFIX) - 1) == 0;
}

/* --- tokens --- */

static bool token_ok(const char *s, size_t n)
{
    if (n != TOKEN_CHARS)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static void token_hash(const char *token, unsigned char h[32])
{
    crypto_generichash(h, 32, (const unsigned char *)token, TOKEN_CHARS, NULL, 0);
}

static void token_new(char out[TOKEN_CHARS + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, TOKEN_CHARS + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

/* The token of a whole link ("http://host/handoff/TOKEN", maybe followed
 * by '/', '?' or '#'), or of a bare token. */
static bool token_of(const char *s, char out[TOKEN_CHARS + 1])
{
    if (!s)
        return false;
    const char *p = strstr(s, PREFIX);
    p = p ? p + sizeof(PREFIX) - 1 : s;
    size_t n = strcspn(p, "/?#");
    if (!token_ok(p, n) || (p == s && p[n]))
        return false;
    memcpy(out, p, TOKEN_CHARS);
    out[TOKEN_CHARS] = '\0';
    return true;
}

static int64_t ttl_s(const struct lg_req *r)
{
    const struct lg_config *cfg = r->http->deps.cfg;
    return cfg && cfg->handoff_ttl_s > 0 ? cfg->handoff_ttl_s : TTL_DEFAULT_S;
}

/* PUBLIC + "/handoff/" + token + tail into out. */
static int link_of(struct lg_req *r, const char *token, const char *tail, char out[URL_MAX])
{
    int rc = lg_http_public_base(r->http, lg_req_header(r, MHD_HTTP_HEADER_HOST), out, URL_MAX);
    if (rc < 0)
        return rc;
    size_t n = strlen(out);
    int k = snprintf(out + n, URL_MAX - n, PREFIX "%s%s", token, tail);
    return k < 0 || (size_t)k >= URL_MAX - n ? LG_ETOOBIG : 0;
}

/* --- the claim, shared by the page and the API --- */

/* Claims token for uid and saves its queue as uid's play queue. 0 and *out
 * (caller frees); LG_ENOTFOUND, DENIED, GONE, or a store error. */
static int claim(struct lg_req *r, const char *token, int64_t uid, struct lg_handoff *out)
{
    struct lg_store *s = r->http->deps.store;
    unsigned char h[32];
    token_hash(token, h);
    int64_t now = lg_web_now_s();
    struct lg_handoff got;
    int rc = lg_store_handoff_get(s, h, &got);
    if (rc < 0)
        return rc;
    bool mine = got.user_id == uid, live = !got.used && now < got.expires_s && got.n > 0;
    lg_handoff_free(&got);
    if (!mine)
        return DENIED;
    if (!live)
        return GONE;
    rc = lg_store_handoff_claim(s, h, uid, now, &got);
    if (rc == LG_ENOTFOUND)
        return GONE; /* another claim won, or it expired meanwhile */
    if (rc < 0)
        return rc;
    struct lg_play_queue q = {
        .ids = got.ids,
        .n = got.n,
        .current_id = got.n ? got.ids[got.current] : 0,
        .position_ms = got.position_ms,
        .changed_by = "handoff",
    };
    rc = got.n ? lg_store_play_queue_save(s, uid, &q) : GONE;
    if (rc != 0) {
        lg_handoff_free(&got);
        return rc == LG_EINVAL ? GONE : rc;
    }
    *out = got;
    return 0;
}

/* --- the JSON API --- */


static enum MHD_Result unauthorized(struct lg_req *r, int rc)
{
    return lg_oauth_refuse(r, rc, "a Bearer access token or Subsonic credentials are required");
}

/* Reads the id, current and position fields into h; NULL or what is wrong. */
static const char *parse_queue(struct lg_req *r, struct lg_handoff *h)
{
    const char *vals[LG_HANDOFF_IDS_MAX + 1];
    size_t n = lg_req_params(r, "id", vals, LG_ARRAY_LEN(vals));
    if (n == 0)
        return "id is required (one per track, in queue order)";
    if (n > LG_HANDOFF_IDS_MAX)
        return "too many ids (at most 1000)";
    h->ids = lg_xmalloc(n * sizeof(*h->ids));
    h->n = n;
    for (size_t i = 0; i < n; i++) {
        if (lg_sub_id_parse(vals[i], "", &h->ids[i]) < 0)
            return "id: not a track id";
    }
    const char *cur = lg_req_param(r, "current"), *pos = lg_req_param(r, "position");
    int64_t v = 0;
    if (cur && lg_str_to_i64(cur, 0, (int64_t)n - 1, &v) < 0)
        return "current: the index of an id (0 for the first)";
    h->current = (size_t)v;
    v = 0;
    if (pos && lg_str_to_i64(pos, 0, POSITION_MAX_MS, &v) < 0)
        return "position: milliseconds, 0 or more";
    h->position_ms = v;
    return NULL;
}

static enum MHD_Result created(struct lg_req *r, const char *token, int64_t ttl)
{
    char url[URL_MAX], svg[URL_MAX], png[URL_MAX];
    if (link_of(r, token, "", url) < 0 || link_of(r, token, "/qr.svg", svg) < 0 ||
        link_of(r, token, "/qr.png", png) < 0)
        return lg_req_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                                "the public URL is too long");
    json_t *j = json_pack("{sssssssI}", "url", url, "qr_svg", svg, "qr_png", png, "expires_in",
                          (json_int_t)ttl);
    sodium_memzero(url, sizeof(url));
    return lg_req_reply_json(r, MHD_HTTP_OK, j, NULL);
}

static enum MHD_Result api_create(struct lg_req *r)
{
    int64_t uid = 0;
    int rc = lg_oauth_request_user(r, &uid);
    if (rc < 0)
        return unauthorized(r, rc);
    struct lg_handoff h = { .user_id = uid };
    const char *bad = parse_queue(r, &h);
    if (bad) {
        lg_handoff_free(&h);
        return lg_req_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request", bad);
    }
    int64_t now = lg_web_now_s(), ttl = ttl_s(r);
    h.created_s = now;
    h.expires_s = now + ttl;
    char token[TOKEN_CHARS + 1];
    unsigned char hash[32];
    token_new(token);
    token_hash(token, hash);
    rc = lg_store_handoff_add(r->http->deps.store, hash, &h, now - KEEP_S);
    lg_handoff_free(&h);
    if (rc == LG_EINVAL)
        return lg_req_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request", "id: unknown track");
    if (rc < 0)
        return lg_req_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                                "internal error (see the server log)");
    enum MHD_Result res = created(r, token, ttl);
    sodium_memzero(token, sizeof(token));
    return res;
}

static enum MHD_Result claim_failed(struct lg_req *r, int rc)
{
    if (rc == LG_ENOTFOUND)
        return lg_req_api_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such hand-off link");
    if (rc == DENIED)
        return lg_req_api_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
                                "this link belongs to another user");
    if (rc == GONE)
        return lg_req_api_error(r, MHD_HTTP_GONE, "gone",
                                "this link was already used or has expired");
    return lg_req_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                            "internal error (see the server log)");
}

static enum MHD_Result api_claim(struct lg_req *r)
{
    int64_t uid = 0;
    int rc = lg_oauth_request_user(r, &uid);
    if (rc < 0)
        return unauthorized(r, rc);
    const char *given = lg_req_param(r, "token");
    char token[TOKEN_CHARS + 1];
    if (!token_of(given && *given ? given : lg_req_param(r, "url"), token))
        return lg_req_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                "token (or url, the hand-off link) is required");
    struct lg_handoff h;
    rc = claim(r, token, uid, &h);
    if (rc != 0)
        return claim_failed(r, rc);
    json_t *entries = json_array();
    for (size_t i = 0; i < h.n; i++) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)h.ids[i]);
        json_array_append_new(entries, json_string(id));
    }
    json_t *j = json_pack("{sosIsI}", "entries", entries, "current", (json_int_t)h.current,
                          "position_ms", (json_int_t)h.position_ms);
    lg_handoff_free(&h);
    return lg_req_reply_json(r, MHD_HTTP_OK, j, NULL);
}

/* --- QR images --- */

/* The QR code of a live link (404 unknown, 410 used or expired). */
static enum MHD_Result qr_route(struct lg_req *r, const char *token, bool png)
{
    unsigned char h[32];
    token_hash(token, h);
    struct lg_handoff got;
    int rc = lg_store_handoff_get(r->http->deps.store, h, &got);
    if (rc == LG_ENOTFOUND)
        return lg_req_reply_static(r, MHD_HTTP_NOT_FOUND, "text/plain", "no such link\n");
    if (rc < 0)
        return lg_req_reply_static(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "error\n");
    bool live = !got.used && lg_web_now_s() < got.expires_s;
    lg_handoff_free(&got);
    if (!live)
        return lg_req_reply_static(r, MHD_HTTP_GONE, "text/plain",
                                   "this link was already used or has expired\n");
    char url[URL_MAX];
    if (link_of(r, token, "", url) < 0)
        return lg_req_reply_static(r, MHD_HTTP_BAD_REQUEST, "text/plain", "URL too long\n");
    enum MHD_Result res = lg_qr_reply(r, url, png);
    sodium_memzero(url, sizeof(url));
    return res;
}

/* --- the page --- */

/* "m:ss", or "h:mm:ss" from an hour on. */
static void clock_of(int64_t ms, char out[32])
{
    int64_t s = ms / 1000;
    if (s >= 3600)
        snprintf(out, 32, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                 (long long)(s % 60));
    else
        snprintf(out, 32, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
}

/* "title — artist" (escaped); just the title when the artist is unknown. */
static int song_line(struct lg_buf *b, const struct lg_song *s)
{
    int rc = lg_web_esc(b, s->t.title);
    if (rc == 0 && s->t.artist && *s->t.artist)
        rc = lg_buf_puts(b, " \xe2\x80\x94 ");
    if (rc == 0)
        rc = lg_web_esc(b, s->t.artist);
    return rc;
}

/* The songs of h, in order, and the index among them of the current one. */
struct shown {
    struct lg_song *songs;
    size_t n;
    size_t current;
};

static int summary(struct lg_buf *b, const struct lg_handoff *h, const struct shown *v)
{
    char at[32];
    clock_of(h->position_ms, at);
    int rc = lg_buf_printf(b, "<p>%zu track%s. Continues with <b>", v->n, v->n == 1 ? "" : "s");
    if (rc == 0)
        rc = song_line(b, &v->songs[v->current]);
    if (rc == 0)
        rc = lg_buf_printf(b, "</b> at %s.</p>", at);
    return rc;
}

static int queue_list(struct lg_buf *b, const struct shown *v)
{
    int rc = lg_buf_puts(b, "<ol>");
    for (size_t i = 0; i < v->n && rc == 0; i++) {
        rc = lg_buf_puts(b, i == v->current ? "<li class=\"now\">" : "<li>");
        if (rc == 0)
            rc = song_line(b, &v->songs[i]);
        if (rc == 0)
            rc = lg_buf_puts(b, "</li>");
    }
    return rc == 0 ? lg_buf_puts(b, "</ol>") : rc;
}

static int page_body(struct lg_buf *b, const char *token, const char *csrf,
                     const struct lg_handoff *h, const struct shown *v)
{
    int rc = lg_web_begin(b, "Continue listening");
    if (rc == 0)
        rc = summary(b, h, v);
    if (rc == 0)
        rc = lg_buf_printf(b,
                           "<form method=\"post\" action=\"" PREFIX "%s\">"
                           "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                           "<p><button type=\"submit\">Continue here</button></p></form>",
                           token, csrf);
    if (rc == 0)
        rc = queue_list(b, v);
    return rc == 0 ? lg_web_end(b) : rc;
}

static enum MHD_Result gone_page(struct lg_req *r, const struct lg_handoff *h)
{
    return lg_web_message(r, MHD_HTTP_GONE, "Link no longer valid",
                          h->used ? "This link was already used. Make a new one on the device "
                                    "that is playing."
                                  : "This link has expired. Make a new one on the device that "
                                    "is playing.");
}

static enum MHD_Result page_failed(struct lg_req *r, int rc)
{
    if (rc == LG_ENOTFOUND)
        return lg_web_message(r, MHD_HTTP_NOT_FOUND, "Unknown link",
                              "There is no such hand-off link.");
    if (rc == DENIED)
        return lg_web_message(r, MHD_HTTP_FORBIDDEN, "Not your link",
                              "This link was made by another user. Sign in as that user to "
                              "continue their queue.");
    if (rc == GONE)
        return lg_web_message(r, MHD_HTTP_GONE, "Link no longer valid",
                              "This link was already used or has expired. Make a new one on the "
                              "device that is playing.");
    return lg_web_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
}

static enum MHD_Result show(struct lg_req *r, const char *token, const char *session, int64_t uid,
                            const struct lg_handoff *h)
{
    struct shown v = { 0 };
    if (lg_store_songs_get(r->http->deps.store, uid, h->ids, h->n, &v.songs, &v.n) < 0)
        return page_failed(r, LG_ESTORE);
    if (v.n == 0)
        return page_failed(r, GONE);
    /* The store read h past deleted tracks, so songs and ids align; should a
     * track vanish in between, the page starts the list at the top. */
    if (h->current < v.n && v.songs[h->current].t.id == h->ids[h->current])
        v.current = h->current;
    char csrf[LG_WEBSESSION_TOKEN_LEN];
    lg_websession_csrf(session, csrf);
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX);
    int rc = page_body(&b, token, csrf, h, &v);
    lg_songs_free(v.songs, v.n);
    if (rc < 0) {
        lg_buf_free(&b);
        return MHD_NO;
    }
    return lg_web_send(r, MHD_HTTP_OK, &b, LG_WEB_FORMS, NULL, NULL);
}

static enum MHD_Result get_page(struct lg_req *r, const char *token)
{
    const char *session;
    int64_t uid = lg_web_session_user(r, &session);
    if (!uid) {
        char next[sizeof(PREFIX) + TOKEN_CHARS];
        snprintf(next, sizeof(next), PREFIX "%s", token);
        return lg_device_login_page(r, MHD_HTTP_OK, "Sign in to continue listening", next);
    }
    unsigned char hash[32];
    token_hash(token, hash);
    struct lg_handoff h;
    int rc = lg_store_handoff_get(r->http->deps.store, hash, &h);
    if (rc < 0)
        return page_failed(r, rc);
    enum MHD_Result res;
    if (h.user_id != uid)
        res = page_failed(r, DENIED);
    else if (h.used || lg_web_now_s() >= h.expires_s || h.n == 0)
        res = gone_page(r, &h);
    else
        res = show(r, token, session, uid, &h);
    lg_handoff_free(&h);
    return res;
}

static enum MHD_Result post_page(struct lg_req *r, const char *token)
{
    const char *session;
    int64_t uid = lg_web_session_user(r, &session);
    if (!uid)
        return lg_web_message(r, MHD_HTTP_FORBIDDEN, "Forbidden", "Please sign in first.");
    if (!lg_websession_csrf_ok(session, lg_req_param(r, "csrf")))
        return lg_web_message(r, MHD_HTTP_FORBIDDEN, "Forbidden",
                              "The form has expired. Go back, reload the page and try again.");
    struct lg_handoff h;
    int rc = claim(r, token, uid, &h);
    if (rc != 0)
        return page_failed(r, rc);
    lg_handoff_free(&h);
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX);
    if (lg_buf_puts(&b, "See other\n") < 0) {
        lg_buf_free(&b);
        return MHD_NO;
    }
    return lg_web_send(r, MHD_HTTP_SEE_OTHER, &b, LG_WEB_FORMS, "/", NULL);
}

/* /handoff/TOKEN, /handoff/TOKEN/qr.svg, /handoff/TOKEN/qr.png */
static enum MHD_Result link_route(struct lg_req *r, bool get, bool post)
{
    const char *p = r->path + sizeof(PREFIX) - 1;
    size_t n = strcspn(p, "/");
    if (!token_ok(p, n))
        return lg_req_reply_static(r, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
    char token[TOKEN_CHARS + 1];
    memcpy(token, p, TOKEN_CHARS);
    token[TOKEN_CHARS] = '\0';
    const char *tail = p + n;
    if (strcmp(tail, "/qr.svg") == 0 || strcmp(tail, "/qr.png") == 0) {
        if (!get)
            return lg_req_not_allowed(r, "GET, HEAD");
        return qr_route(r, token, tail[4] == 'p');
    }
    if (*tail)
        return lg_req_reply_static(r, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
    if (get)
        return get_page(r, token);
    if (post)
        return post_page(r, token);
    return lg_req_not_allowed(r, "GET, HEAD, POST");
}

/* The request log must not keep a live link: the token becomes "*". The
 * path logged is the decoded one that was routed: the raw one may spell the
 * prefix with escapes. */
static void redact_log(struct lg_req *r)
{
    if (strncmp(r->path, PREFIX, sizeof(PREFIX) - 1) != 0)
        return;
    char out[LG_REQ_LOG_URI_MAX];
    const char *rest = r->path + sizeof(PREFIX) - 1;
    rest += strcspn(rest, "/");
    const char *query = strchr(r->log_uri, '?');
    snprintf(out, sizeof(out), PREFIX "*%s%s", rest, query ? query : "");
    memcpy(r->log_uri, out, sizeof(out));
}

enum MHD_Result lg_handoff_route(struct lg_req *r)
{
    redact_log(r);
    bool get = r->head || strcmp(r->method, "GET") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    if (!r->http->deps.store)
        return lg_req_reply_static(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "no store\n");
    if (strncmp(r->path, PREFIX, sizeof(PREFIX) - 1) == 0)
        return link_route(r, get, post);
    if (!post)
        return lg_req_not_allowed(r, "POST");
    if (strcmp(r->path, "/api/handoff") == 0)
        return api_create(r);
    return api_claim(r);
}
