/* SPDX-License-Identifier: MIT */
/*
 * The web start page and its audio routes (see web_page.h). The page reads
 * the user's saved play queue (store), renders it into the page player
 * (share_page.h) with /web/stream and /web/cover URLs, and starts at the
 * first entry that is the saved current track. Track ids in /web paths are
 * parsed strictly; the files come from the catalogue (stream/), never from
 * the path.
 */
#include "http/web_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/websession.h"
#include "core/str.h"
#include "http/device_page.h"
#include "http/http_int.h"
#include "http/share_page.h"
#include "http/subsonic_api.h"
#include "http/subsonic_art.h"
#include "http/subsonic_media.h"
#include "http/web.h"
#include "store/store.h"
#include "stream/stream.h"

#define STREAM_PREFIX "/web/stream/"
#define COVER_PREFIX  "/web/cover/"

enum { COVER_SIZE = 300 };

bool lg_web_page_is_route(const char *path)
{
    return strcmp(path, "/") == 0 || strncmp(path, STREAM_PREFIX, sizeof(STREAM_PREFIX) - 1) == 0 ||
           strncmp(path, COVER_PREFIX, sizeof(COVER_PREFIX) - 1) == 0;
}

/* --- the page --- */

struct urls {
    char src[48];
    char cover[48];
};

/* The player for the queue's songs, starting at its current track. */
static int player(struct lg_buf *b, const struct lg_play_queue *q, const struct lg_song *songs,
                  size_t n)
{
    struct lg_player_track *pt = lg_xcalloc(n, sizeof(*pt));
    struct urls *u = lg_xcalloc(n, sizeof(*u));
    size_t start = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        const struct lg_track *t = &songs[i].t;
        snprintf(u[i].src, sizeof(u[i].src), STREAM_PREFIX "%lld", (long long)t->id);
        snprintf(u[i].cover, sizeof(u[i].cover), COVER_PREFIX "%lld", (long long)t->id);
        pt[i] = (struct lg_player_track){
            .title = t->title,
            .artist = t->artist,
            .album = t->album,
            .duration_s = t->duration_ms / 1000,
            .src = u[i].src,
            .cover = u[i].cover,
        };
        if (!found && t->id == q->current_id) {
            start = i;
            found = true;
        }
    }
    int rc = lg_player_div(b, pt, n, start, found ? (double)q->position_ms / 1000.0 : 0.0);
    free(pt);
    free(u);
    return rc;
}

static int queue_part(struct lg_buf *b, const struct lg_play_queue *q, const struct lg_song *songs,
                      size_t n)
{
    if (n == 0)
        return lg_buf_puts(b, "<p>Your play queue is empty. Save one from a Subsonic player, or "
                              "hand one off from another device.</p>");
    int rc = lg_buf_printf(b, "<p>Your play queue: %zu track%s", n, n == 1 ? "" : "s");
    if (rc == 0 && q->changed_by && *q->changed_by)
        rc = lg_buf_puts(b, ", saved by ");
    if (rc == 0)
        rc = lg_web_esc(b, q->changed_by);
    if (rc == 0)
        rc = lg_buf_puts(b, ".</p>");
    return rc == 0 ? player(b, q, songs, n) : rc;
}

static int home_body(struct lg_buf *b, const char *name, const char *csrf,
                     const struct lg_play_queue *q, const struct lg_song *songs, size_t n)
{
    int rc = lg_web_begin(b, "legato");
    if (rc == 0)
        rc = lg_buf_puts(b, "<p>Signed in as <b>");
    if (rc == 0)
        rc = lg_web_esc(b, name);
    if (rc == 0)
        rc = lg_buf_puts(b, "</b>.</p>");
    if (rc == 0)
        rc = queue_part(b, q, songs, n);
    if (rc == 0)
        rc = lg_buf_printf(b,
                           "<nav><a href=\"/device\">Sign in a device</a></nav>"
                           "<form method=\"post\" action=\"/device/logout\">"
                           "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                           "<p><button type=\"submit\">Sign out</button></p></form>",
                           csrf);
    return rc == 0 ? lg_web_end(b) : rc;
}

static enum MHD_Result home(struct lg_req *r)
{
    const char *session;
    int64_t uid = lg_web_session_user(r, &session);
    if (!uid)
        return lg_device_login_page(r, MHD_HTTP_OK, "Sign in to legato", "/");
    struct lg_store *s = r->http->deps.store;
    char csrf[LG_WEBSESSION_TOKEN_LEN];
    lg_websession_csrf(session, csrf);
    struct lg_user u = { 0 };
    struct lg_play_queue q = { 0 };
    struct lg_song *songs = NULL;
    size_t n = 0;
    int rc = lg_store_user_get(s, uid, &u);
    if (rc == 0) {
        rc = lg_store_play_queue_get(s, uid, &q);
        rc = rc == LG_ENOTFOUND ? 0 : rc;
    }
    if (rc == 0)
        rc = lg_store_songs_get(s, uid, q.ids, q.n, &songs, &n);
    struct lg_buf b;
    lg_buf_init(&b, LG_WEB_PAGE_MAX);
    if (rc == 0)
        rc = home_body(&b, u.name, csrf, &q, songs, n);
    lg_songs_free(songs, n);
    lg_play_queue_free(&q);
    lg_user_free(&u);
    if (rc < 0) {
        lg_buf_free(&b);
        return lg_web_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error", "Please try again.");
    }
    return lg_web_send(r, MHD_HTTP_OK, &b, LG_WEB_PLAYER, NULL, NULL);
}

/* --- audio and covers --- */

static enum MHD_Result text(struct lg_req *r, unsigned status, const char *msg)
{
    return lg_req_reply_static(r, status, "text/plain; charset=utf-8", msg);
}

/* The signed-in user's roles (all for an admin); 0 without a session. */
static int64_t web_user(struct lg_req *r, unsigned *roles)
{
    const char *session;
    int64_t uid = lg_web_session_user(r, &session);
    struct lg_user u = { 0 };
    if (!uid || lg_store_user_get(r->http->deps.store, uid, &u) < 0)
        return 0;
    *roles = u.is_admin ? LG_ROLES_ALL : u.roles;
    lg_user_free(&u);
    return uid;
}

static enum MHD_Result stream_track(struct lg_req *r, int64_t id, unsigned roles)
{
    if (!(roles & LG_ROLE_STREAM))
        return text(r, MHD_HTTP_FORBIDDEN, "not allowed to stream\n");
    return lg_http_send_track_id(r, id, false);
}

static enum MHD_Result cover(struct lg_req *r, int64_t id)
{
    /* getCoverArt's path answers errors as Subsonic XML documents. */
    struct lg_sub_ctx c = { .req = r, .fmt = LG_SUB_XML };
    enum MHD_Result res = lg_sub_cover_send(&c, LG_COVER_TRACK, id, COVER_SIZE);
    lg_sub_window_end();
    return res;
}

static enum MHD_Result media(struct lg_req *r, const char *id_s, bool audio)
{
    unsigned roles = 0;
    if (!web_user(r, &roles))
        return text(r, MHD_HTTP_UNAUTHORIZED, "sign in first\n");
    int64_t id;
    if (lg_str_to_i64(id_s, 1, INT64_MAX, &id) < 0)
        return text(r, MHD_HTTP_NOT_FOUND, "track not found\n");
    return audio ? stream_track(r, id, roles) : cover(r, id);
}

enum MHD_Result lg_web_page_route(struct lg_req *r)
{
    bool get = r->head || strcmp(r->method, "GET") == 0;
    if (!r->http->deps.store)
        return text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no store\n");
    if (!get)
        return lg_req_not_allowed(r, "GET, HEAD");
    if (strcmp(r->path, "/") == 0)
        return home(r);
    bool audio = strncmp(r->path, STREAM_PREFIX, sizeof(STREAM_PREFIX) - 1) == 0;
    return media(r, r->path + (audio ? sizeof(STREAM_PREFIX) : sizeof(COVER_PREFIX)) - 1, audio);
}
