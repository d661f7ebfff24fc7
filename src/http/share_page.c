/* SPDX-License-Identifier: MIT */
/*
 * The share page and its media routes (see share_page.h), and the helper
 * that renders the page player. A request names a share only by its token:
 * the token's shape is checked, then its hash is looked up, so nothing a
 * peer sends reaches the store unhashed. Every route checks the share's
 * expiry and, for a track, that the track is one the share plays (the store
 * answers both questions with the same expansion of albums and playlists).
 * Tracks go out through the code /rest/stream uses, covers through the code
 * of getCoverArt, QR images through qr_routes.c.
 */
#include "http/share_page.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <jansson.h>
#include <sodium.h>

#include "auth/ratelimit.h"
#include "core/log.h"
#include "core/str.h"
#include "http/http_int.h"
#include "http/qr_routes.h"
#include "http/share_token.h"
#include "http/subsonic_art.h"
#include "http/subsonic_media.h"
#include "http/subsonic_render.h"
#include "http/web.h"
#include "store/store.h"
#include "stream/stream.h"

enum {
    COVER_SIZE = 300, /* pixels of the covers the page shows */
    URL_MAX = 640,    /* the public base (up to 512) and /share/TOKEN */
    RETRY_AFTER_S = 60,
};

static const struct lg_log page_log = { "http/share" };

/* --- guessing --- */

static struct lg_ratelimit *guess_ip;
static pthread_once_t guess_once = PTHREAD_ONCE_INIT;

static void guess_init(void)
{
    guess_ip = lg_ratelimit_new(LG_SHARE_GUESS_PER_MIN, 4096);
}

static bool guess_limited(const struct lg_req *r)
{
    pthread_once(&guess_once, guess_init);
    return lg_ratelimit_limited(guess_ip, "share", r->ip, lg_http_now_ns() / 1000);
}

static void guess_failed(const struct lg_req *r)
{
    pthread_once(&guess_once, guess_init);
    lg_ratelimit_fail(guess_ip, "share", r->ip, lg_http_now_ns() / 1000);
}

/* --- the path --- */

enum what { W_PAGE, W_STREAM, W_DOWNLOAD, W_COVER, W_QR_SVG, W_QR_PNG, W_NONE };

struct share_path {
    char token[LG_SHARE_TOKEN_LEN]; /* "" when the path holds no valid token */
    enum what what;
    int64_t track_id;
};

bool lg_share_page_is_route(const char *path)
{
    return strncmp(path, "/share/", 7) == 0;
}

/* What follows the token: "", "/stream/ID", "/download/ID", "/cover/ID",
 * "/qr.svg" or "/qr.png". */
static void parse_rest(const char *rest, struct share_path *p)
{
    static const struct {
        const char *prefix;
        enum what what;
    } kinds[] = { { "/stream/", W_STREAM }, { "/download/", W_DOWNLOAD }, { "/cover/", W_COVER } };
    p->what = W_NONE;
    if (*rest == '\0')
        p->what = W_PAGE;
    else if (strcmp(rest, "/qr.svg") == 0)
        p->what = W_QR_SVG;
    else if (strcmp(rest, "/qr.png") == 0)
        p->what = W_QR_PNG;
    for (size_t i = 0; i < LG_ARRAY_LEN(kinds) && p->what == W_NONE; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(rest, kinds[i].prefix, n) == 0 &&
            lg_str_to_i64(rest + n, 1, INT64_MAX, &p->track_id) == 0)
            p->what = kinds[i].what;
    }
}

static void parse_path(const char *path, struct share_path *p)
{
    const char *t = path + 7; /* after "/share/" */
    size_t n = strcspn(t, "/");
    p->token[0] = '\0';
    p->track_id = 0;
    if (n == LG_SHARE_TOKEN_CHARS) {
        memcpy(p->token, t, n);
        p->token[n] = '\0';
        if (!lg_share_token_valid(p->token))
            p->token[0] = '\0';
    }
    parse_rest(t + n, p);
}

/* --- answers --- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum MHD_Result text(struct lg_req *r, unsigned status, const char *msg)
{
    return lg_req_reply_static(r, status, "text/plain; charset=utf-8", msg);
}

static enum MHD_Result too_many(struct lg_req *r)
{
    static const char msg[] = "Too many unknown share links from this address; try again later.\n";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
    if (resp) {
        char retry[16];
        snprintf(retry, sizeof(retry), "%d", RETRY_AFTER_S);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    return lg_req_reply(r, MHD_HTTP_TOO_MANY_REQUESTS, resp, (int64_t)sizeof(msg) - 1);
}

static enum MHD_Result unknown(struct lg_req *r, bool html)
{
    if (html)
        return lg_web_message(r, MHD_HTTP_NOT_FOUND, "Share not found",
                              "This link does not lead to a share: it may have been mistyped, "
                              "or its owner deleted the share.");
    return text(r, MHD_HTTP_NOT_FOUND, "share not found\n");
}

static enum MHD_Result expired(struct lg_req *r, bool html)
{
    if (html)
        return lg_web_message(r, MHD_HTTP_GONE, "Share expired",
                              "This share has expired. Ask the person who shared it for a new "
                              "link.");
    return text(r, MHD_HTTP_GONE, "share expired\n");
}

static enum MHD_Result internal(struct lg_req *r, int err, const char *what)
{
    lg_log(&page_log, LG_LOG_ERROR, "%s: %s", what, lg_strerror(err));
    return text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
}

/* --- the player --- */

static void put_text(json_t *o, const char *key, const char *s)
{
    char *t = lg_utf8_sanitize(s ? s : "", s ? strlen(s) : 0);
    json_object_set_new(o, key, json_string(t));
    free(t);
}

/* The tracks as the player's JSON; caller releases with jansson's free. */
static char *player_json(const struct lg_player_track *v, size_t n)
{
    json_t *arr = json_array();
    lg_assert(arr);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        lg_assert(o);
        put_text(o, "title", v[i].title);
        put_text(o, "artist", v[i].artist);
        put_text(o, "album", v[i].album);
        json_object_set_new(o, "duration", json_integer(v[i].duration_s));
        put_text(o, "src", v[i].src);
        if (v[i].cover)
            put_text(o, "cover", v[i].cover);
        if (v[i].download)
            put_text(o, "download", v[i].download);
        json_array_append_new(arr, o);
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    lg_assert(s);
    return s;
}

int lg_player_div(struct lg_buf *b, const struct lg_player_track *tracks, size_t n, size_t start,
                  double position_s)
{
    if (start >= n)
        start = 0;
    if (!isfinite(position_s) || position_s < 0)
        position_s = 0;
    char *json = player_json(tracks, n);
    int rc = lg_buf_puts(b, "<div id=\"player\" data-tracks=\"");
    if (rc == 0)
        rc = lg_web_esc(b, json);
    json_free_t release;
    json_get_alloc_funcs(NULL, &release);
    release(json);
    if (rc == 0)
        rc = lg_buf_printf(b,
                           "\" data-start=\"%zu\" data-position=\"%.3f\"></div>"
                           "<script src=\"/static/player.js\"></script>",
                           start, position_s);
    return rc;
}

/* --- the page --- */

/* The URLs of one track of the share, for the player. */
struct track_urls {
    char src[96], cover[96], download[96];
};

static void track_urls(const char *token, int64_t id, struct track_urls *u)
{
    snprintf(u->src, sizeof(u->src), "/share/%s/stream/%lld", token, (long long)id);
    snprintf(u->cover, sizeof(u->cover), "/share/%s/cover/%lld", token, (long long)id);
    snprintf(u->download, sizeof(u->download), "/share/%s/download/%lld", token, (long long)id);
}

static void duration_text(int64_t ms, char out[24])
{
    int64_t s = (ms + 500) / 1000;
    snprintf(out, 24, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
}

/* The list for browsers without script: title, artist, album, duration. */
static int noscript_list(struct lg_buf *b, const struct lg_song *songs, size_t n,
                         const struct track_urls *urls, bool download)
{
    int rc = lg_buf_puts(b, "<noscript><ol>");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct lg_track *t = &songs[i].t;
        char dur[24];
        duration_text(t->duration_ms, dur);
        rc = lg_buf_printf(b, "<li><a href=\"%s\">", urls[i].src);
        if (rc == 0)
            rc = lg_web_esc(b, t->title);
        if (rc == 0)
            rc = lg_buf_puts(b, "</a> — ");
        if (rc == 0)
            rc = lg_web_esc(b, t->artist);
        if (rc == 0)
            rc = lg_buf_puts(b, " (");
        if (rc == 0)
            rc = lg_web_esc(b, t->album);
        if (rc == 0)
            rc = lg_buf_printf(b, ") %s", dur);
        if (rc == 0 && download)
            rc = lg_buf_printf(b, " <a href=\"%s\" download>Download</a>", urls[i].download);
        if (rc == 0)
            rc = lg_buf_puts(b, "</li>");
    }
    return rc == 0 ? lg_buf_puts(b, "</ol></noscript>") : rc;
}

/* "Shared by NAME", the number of tracks and the expiry. */
static int page_intro(struct lg_buf *b, const struct lg_share *sh, size_t n)
{
    int rc = lg_buf_puts(b, "<p>Shared by <b>");
    if (rc == 0)
        rc = lg_web_esc(b, sh->owner);
    if (rc == 0)
        rc = lg_buf_printf(b, "</b>: %zu track%s.", n, n == 1 ? "" : "s");
    if (rc == 0 && sh->expires_ms > 0) {
        char when[40];
        lg_sub_iso8601(when, sh->expires_ms / 1000);
        rc = lg_buf_printf(b, " Available until %.19s UTC.", when);
    }
    return rc == 0 ? lg_buf_puts(b, "</p>") : rc;
}

/* The QR code of the page, to open it on another device. */
static int page_qr(struct lg_buf *b, const char *token)
{
    return lg_buf_printf(b,
                         "<p><img src=\"/share/%s/qr.svg\" width=\"120\" height=\"120\" "
                         "alt=\"QR code of this page\"><br>Scan to open this page on another "
                         "device.</p>",
                         token);
}

static int page_body(struct lg_buf *b, const struct lg_share *sh, const char *token,
                     const struct lg_song *songs, size_t n)
{
    struct lg_player_track *pt = lg_xcalloc(n ? n : 1, sizeof(*pt));
    struct track_urls *urls = lg_xcalloc(n ? n : 1, sizeof(*urls));
    for (size_t i = 0; i < n; i++) {
        const struct lg_track *t = &songs[i].t;
        track_urls(token, t->id, &urls[i]);
        pt[i] = (struct lg_player_track){
            .title = t->title,
            .artist = t->artist,
            .album = t->album,
            .duration_s = (t->duration_ms + 500) / 1000,
            .src = urls[i].src,
            .cover = urls[i].cover,
            .download = sh->allow_download ? urls[i].download : NULL,
        };
    }
    int rc = lg_web_begin(b, *sh->description ? sh->description : "Shared music");
    if (rc == 0)
        rc = page_intro(b, sh, n);
    if (rc == 0 && n == 0)
        rc = lg_buf_puts(b, "<p>Nothing is left to play in this share.</p>");
    if (rc == 0 && n > 0)
        rc = lg_player_div(b, pt, n, 0, 0);
    if (rc == 0)
        rc = noscript_list(b, songs, n, urls, sh->allow_download);
    if (rc == 0)
        rc = page_qr(b, token);
    if (rc == 0)
        rc = lg_web_end(b);
    free(urls);
    free(pt);
    return rc;
}

static enum MHD_Result page(struct lg_req *r, const struct lg_share *sh, const char *token)
{
    struct lg_store *s = r->http->deps.store;
    if (!r->head && lg_store_share_visit(s, sh->id, now_ms()) < 0)
        lg_log(&page_log, LG_LOG_WARN, "share %lld: the visit was not counted", (long long)sh->id);
    int64_t *ids = NULL;
    size_t n_ids = 0, n = 0;
    struct lg_song *songs = NULL;
    int rc = lg_store_share_tracks(s, sh->id, &ids, &n_ids);
    if (rc == 0 && n_ids > 0)
        rc = lg_store_songs_get(s, 0, ids, n_ids, &songs, &n);
    free(ids);
    if (rc < 0)
        return internal(r, rc, "reading the tracks of a share");
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX + (size_t)n * 2048);
    rc = page_body(&b, sh, token, songs, n);
    lg_songs_free(songs, n);
    if (rc < 0) {
        lg_buf_free(&b);
        return internal(r, rc, "rendering a share page");
    }
    return lg_web_send(r, MHD_HTTP_OK, &b, LG_WEB_PLAYER, NULL, NULL);
}

/* --- media --- */

/* 0 when track id is one the share plays, else the answer in *res. */
static int check_track(struct lg_req *r, const struct lg_share *sh, int64_t id,
                       enum MHD_Result *res)
{
    int in = lg_store_share_has_track(r->http->deps.store, sh->id, id);
    if (in < 0)
        *res = internal(r, in, "checking a track of a share");
    else if (in == 0)
        *res = text(r, MHD_HTTP_NOT_FOUND, "no such track in this share\n");
    return in == 1 ? 0 : LG_ENOTFOUND;
}

static enum MHD_Result track(struct lg_req *r, const struct lg_share *sh, int64_t id, bool download)
{
    if (download && !sh->allow_download)
        return text(r, MHD_HTTP_FORBIDDEN, "this share does not allow downloads\n");
    enum MHD_Result res = MHD_NO;
    if (check_track(r, sh, id, &res) < 0)
        return res;
    return lg_http_send_track_id(r, id, download);
}

static enum MHD_Result cover(struct lg_req *r, const struct lg_share *sh, int64_t id)
{
    enum MHD_Result res = MHD_NO;
    if (check_track(r, sh, id, &res) < 0)
        return res;
    /* getCoverArt's path answers errors as Subsonic XML documents. */
    struct lg_sub_ctx c = { .req = r, .fmt = LG_SUB_XML };
    res = lg_sub_cover_send(&c, LG_COVER_TRACK, id, COVER_SIZE);
    lg_sub_window_end();
    return res;
}

static enum MHD_Result qr(struct lg_req *r, const char *token, bool png)
{
    char base[512], url[URL_MAX];
    if (lg_http_public_base(r->http, lg_req_header(r, MHD_HTTP_HEADER_HOST), base, sizeof(base)) <
        0)
        return text(r, MHD_HTTP_BAD_REQUEST, "URL does not fit a QR code\n");
    snprintf(url, sizeof(url), "%s/share/%s", base, token);
    enum MHD_Result res = lg_qr_reply(r, url, png);
    sodium_memzero(url, sizeof(url));
    return res;
}

/* --- routing --- */

/* The request log must not keep the capability: in the logged URI the
 * token becomes the share's id ("/share/#12/stream/5"), or "*" until one
 * is known. The path logged is the decoded one that was routed: the raw one
 * may spell the prefix with escapes ("/%73hare/TOKEN"). */
static void redact_log(struct lg_req *r, int64_t share_id)
{
    if (strncmp(r->path, "/share/", 7) != 0)
        return;
    char label[24] = "*";
    if (share_id > 0)
        snprintf(label, sizeof(label), "#%lld", (long long)share_id);
    char out[LG_REQ_LOG_URI_MAX];
    const char *rest = r->path + 7 + strcspn(r->path + 7, "/");
    const char *query = strchr(r->log_uri, '?');
    snprintf(out, sizeof(out), "/share/%s%s%s", label, rest, query ? query : "");
    memcpy(r->log_uri, out, sizeof(out));
}

static enum MHD_Result serve(struct lg_req *r, const struct share_path *p,
                             const struct lg_share *sh)
{
    switch (p->what) {
    case W_PAGE:
        return page(r, sh, p->token);
    case W_STREAM:
        return track(r, sh, p->track_id, false);
    case W_DOWNLOAD:
        return track(r, sh, p->track_id, true);
    case W_COVER:
        return cover(r, sh, p->track_id);
    case W_QR_SVG:
        return qr(r, p->token, false);
    case W_QR_PNG:
        return qr(r, p->token, true);
    default:
        return text(r, MHD_HTTP_NOT_FOUND, "not found\n");
    }
}

enum MHD_Result lg_share_page_route(struct lg_req *r)
{
    redact_log(r, 0);
    if (!r->head && strcmp(r->method, "GET") != 0)
        return lg_req_not_allowed(r, "GET, HEAD");
    if (!r->http->deps.store)
        return text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no store\n");
    struct share_path p;
    parse_path(r->path, &p);
    bool is_page = p.what == W_PAGE;
    if (guess_limited(r))
        return too_many(r);
    unsigned char hash[32];
    if (lg_share_token_hash(p.token, hash) < 0) {
        guess_failed(r);
        return unknown(r, is_page);
    }
    struct lg_share sh;
    int rc = lg_store_share_by_hash(r->http->deps.store, hash, &sh);
    if (rc == LG_ENOTFOUND) {
        guess_failed(r);
        return unknown(r, is_page);
    }
    if (rc < 0)
        return internal(r, rc, "looking a share up");
    redact_log(r, sh.id);
    enum MHD_Result res = MHD_NO;
    if (lg_share_expired(&sh, now_ms()))
        res = expired(r, is_page);
    else
        res = serve(r, &p, &sh);
    lg_share_free(&sh);
    return res;
}
