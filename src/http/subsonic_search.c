/* SPDX-License-Identifier: MIT */
/*
 * Search handlers: the paging parameters are checked and clamped here; the
 * query text goes to the store untouched (it quotes every word itself, so no
 * input can reach SQL or FTS5 syntax).
 */
#include "http/subsonic_search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/subsonic_render.h"

enum { SEARCH_MAX = 500 };

/* Reads the paging parameters of search2/search3; the name of a bad one
 * or NULL. */
static const char *paging(struct lg_sub_ctx *c, struct lg_search_query *q)
{
    static const char *const names[6] = { "artistCount", "artistOffset", "albumCount",
                                          "albumOffset", "songCount",    "songOffset" };
    int64_t *fields[6] = { &q->artist_count, &q->artist_offset, &q->album_count,
                           &q->album_offset, &q->song_count,    &q->song_offset };
    for (size_t i = 0; i < 6; i++) {
        bool is_count = i % 2 == 0;
        if (lg_sub_param_int(c, names[i], is_count ? 20 : 0, 0, is_count ? SEARCH_MAX : INT64_MAX,
                             fields[i]) < 0)
            return names[i];
    }
    return NULL;
}

static enum MHD_Result search_n(struct lg_sub_ctx *c, bool id3)
{
    struct lg_search_query q = { .query = lg_req_param(c->req, "query") };
    const char *bad = paging(c, &q);
    if (bad)
        return lg_sub_reply_invalid(c, bad);
    struct lg_starred res;
    int r = lg_store_search(c->req->http->deps.store, c->user.user_id, &q, &res);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "searching");
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, id3 ? "searchResult3" : "searchResult2");
    json_object_set_new(o, "artist", json_array());
    json_object_set_new(o, "album", json_array());
    json_object_set_new(o, "song", json_array());
    for (size_t i = 0; i < res.n_artists; i++)
        (id3 ? lg_sub_artist : lg_sub_artist_folder)(o, "artist", &res.artists[i]);
    for (size_t i = 0; i < res.n_albums; i++)
        (id3 ? lg_sub_album : lg_sub_album_dir)(o, "album", &res.albums[i]);
    for (size_t i = 0; i < res.n_songs; i++)
        lg_sub_song(o, "song", &res.songs[i]);
    lg_starred_free(&res);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_search2(struct lg_sub_ctx *c)
{
    return search_n(c, false);
}

enum MHD_Result lg_sub_search3(struct lg_sub_ctx *c)
{
    return search_n(c, true);
}

/* The old search: artist, album, title and any are joined into one query
 * over songs (every word must match somewhere). */
enum MHD_Result lg_sub_search(struct lg_sub_ctx *c)
{
    static const char *const keys[] = { "any", "artist", "album", "title" };
    int64_t count, offset;
    if (lg_sub_param_int(c, "count", 20, 0, SEARCH_MAX, &count) < 0)
        return lg_sub_reply_invalid(c, "count");
    if (lg_sub_param_int(c, "offset", 0, 0, INT64_MAX, &offset) < 0)
        return lg_sub_reply_invalid(c, "offset");
    char text[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
        const char *v = lg_req_param(c->req, keys[i]);
        if (v && *v && len < sizeof(text) - 1)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s ", v);
        len = LG_MIN(len, sizeof(text) - 1);
    }
    struct lg_search_query q = { .query = text, .song_count = count, .song_offset = offset };
    struct lg_starred res;
    int r = lg_store_search(c->req->http->deps.store, c->user.user_id, &q, &res);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "searching");
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, "searchResult");
    lg_sub_set_int(o, "offset", offset);
    lg_sub_set_int(o, "totalHits", offset + (int64_t)res.n_songs);
    json_object_set_new(o, "match", json_array());
    for (size_t i = 0; i < res.n_songs; i++)
        lg_sub_song(o, "match", &res.songs[i]);
    lg_starred_free(&res);
    return lg_sub_reply(c, resp);
}
