/* SPDX-License-Identifier: MIT */
/*
 * Lyrics methods. The store names the track (by id, or by title and artist
 * for the old call), media/ reads its lyrics, and this file renders them:
 * structuredLyrics with lines carrying a start in milliseconds when synced,
 * or the text joined with newlines for getLyrics. A track whose file cannot
 * be read simply has no lyrics.
 */
#include "http/subsonic_lyrics.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/str.h"
#include "http/subsonic_render.h"
#include "media/media.h"
#include "store/store.h"

#define CANDIDATES 8 /* tracks getLyrics looks at for one title */

/* The lyrics of track t (none when its path is unsafe or unreadable). */
static int track_lyrics(struct lg_sub_ctx *c, const struct lg_track *t, struct lg_lyrics **v,
                        size_t *n)
{
    *v = NULL;
    *n = 0;
    if (!lg_path_rel_safe(t->path))
        return 0;
    char *path = lg_xasprintf("%s/%s", c->req->http->deps.cfg->music_dir, t->path);
    int rc = lg_media_lyrics(path, v, n);
    free(path);
    return rc;
}

static void render_structured(json_t *list, const struct lg_track *t, const struct lg_lyrics *l)
{
    json_t *s = lg_sub_append(list, "structuredLyrics");
    lg_sub_set_str(s, "displayArtist", t->artist);
    lg_sub_set_str(s, "displayTitle", t->title);
    lg_sub_set_str(s, "lang", l->lang);
    lg_sub_set_int(s, "offset", l->offset_ms);
    lg_sub_set_bool(s, "synced", l->synced);
    json_t *lines = json_array();
    for (size_t i = 0; i < l->n_lines; i++) {
        json_t *line = json_object();
        if (l->synced)
            lg_sub_set_int(line, "start", l->lines[i].start_ms);
        lg_sub_set_str(line, "value", l->lines[i].text);
        json_array_append_new(lines, line);
    }
    json_object_set_new(s, "line", lines);
}

enum MHD_Result lg_sub_get_lyrics_by_song_id(struct lg_sub_ctx *c)
{
    const char *id_s = lg_req_param(c->req, "id");
    if (!id_s || !*id_s)
        return lg_sub_reply_error(c, LG_SUB_ERR_MISSING_PARAM, "Required parameter is missing: id");
    int64_t id;
    if (lg_sub_id_parse(id_s, "", &id) < 0)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "Song not found");
    struct lg_track t;
    int rc = lg_store_track_get(c->req->http->deps.store, id, &t);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "Song not found");
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "reading a track");
    struct lg_lyrics *v;
    size_t n;
    rc = track_lyrics(c, &t, &v, &n);
    json_t *resp = lg_sub_new();
    json_t *list = lg_sub_child(resp, "lyricsList");
    for (size_t i = 0; rc >= 0 && i < n; i++)
        render_structured(list, &t, &v[i]);
    lg_lyrics_list_free(v, n);
    lg_track_free(&t);
    return lg_sub_reply(c, resp);
}

/* The lines of l joined with newlines. Caller frees. */
static char *plain_text(const struct lg_lyrics *l)
{
    size_t len = 0;
    for (size_t i = 0; i < l->n_lines; i++)
        len += strlen(l->lines[i].text) + 1;
    char *s = lg_xmalloc(len + 1);
    size_t at = 0;
    for (size_t i = 0; i < l->n_lines; i++) {
        size_t n = strlen(l->lines[i].text);
        memcpy(s + at, l->lines[i].text, n);
        at += n;
        if (i + 1 < l->n_lines)
            s[at++] = '\n';
    }
    s[at] = '\0';
    return s;
}

/* Fills el from the first of the candidate tracks that has lyrics. */
static void find_lyrics(struct lg_sub_ctx *c, const int64_t *ids, size_t n_ids, json_t *el)
{
    struct lg_store *store = c->req->http->deps.store;
    for (size_t i = 0; i < n_ids; i++) {
        struct lg_track t;
        if (lg_store_track_get(store, ids[i], &t) < 0)
            continue;
        struct lg_lyrics *v;
        size_t n;
        int rc = track_lyrics(c, &t, &v, &n);
        if (rc > 0) {
            char *text = plain_text(&v[0]);
            lg_sub_set_str(el, "artist", t.artist);
            lg_sub_set_str(el, "title", t.title);
            lg_sub_set_str(el, "value", text);
            free(text);
        }
        lg_lyrics_list_free(v, n);
        lg_track_free(&t);
        if (rc > 0)
            return;
    }
}

enum MHD_Result lg_sub_get_lyrics(struct lg_sub_ctx *c)
{
    const char *artist = lg_req_param(c->req, "artist");
    const char *title = lg_req_param(c->req, "title");
    int64_t ids[CANDIDATES];
    int n = 0;
    if (title && *title) {
        n = lg_store_tracks_by_title(c->req->http->deps.store, artist, title, ids, CANDIDATES);
        if (n < 0)
            return lg_sub_reply_internal(c, n, "finding tracks by title");
    }
    json_t *resp = lg_sub_new();
    json_t *el = lg_sub_child(resp, "lyrics");
    lg_sub_set_str(el, "value", ""); /* required, even when nothing is found */
    find_lyrics(c, ids, (size_t)n, el);
    return lg_sub_reply(c, resp);
}
