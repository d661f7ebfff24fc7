/* SPDX-License-Identifier: MIT */
/*
 * List handlers: parameters are checked and clamped here (size at most
 * LIST_MAX), the store does the ordering with indexes, and the renderers
 * give the folder form (getAlbumList, getStarred) or the ID3 form.
 */
#include "http/subsonic_lists.h"

#include <string.h>

#include "http/subsonic_render.h"

enum { LIST_MAX = 500 };

static struct lg_store *store_of(struct lg_sub_ctx *c)
{
    return c->req->http->deps.store;
}

static const struct {
    const char *name;
    enum lg_album_order order;
} list_types[] = {
    { "random", LG_ALBUMS_RANDOM },
    { "newest", LG_ALBUMS_NEWEST },
    { "highest", LG_ALBUMS_HIGHEST },
    { "frequent", LG_ALBUMS_FREQUENT },
    { "recent", LG_ALBUMS_RECENT },
    { "alphabeticalByName", LG_ALBUMS_BY_NAME },
    { "alphabeticalByArtist", LG_ALBUMS_BY_ARTIST },
    { "starred", LG_ALBUMS_STARRED },
    { "byYear", LG_ALBUMS_BY_YEAR },
    { "byGenre", LG_ALBUMS_BY_GENRE },
};

/* Fills q from the request; on a bad request queues the error reply into
 * *res and returns false. */
static bool album_query(struct lg_sub_ctx *c, struct lg_album_query *q, enum MHD_Result *res)
{
    const char *type = lg_req_param(c->req, "type");
    if (!type || !*type) {
        *res = lg_sub_reply_missing(c, "type");
        return false;
    }
    size_t i = 0;
    while (i < LG_ARRAY_LEN(list_types) && strcmp(list_types[i].name, type) != 0)
        i++;
    if (i == LG_ARRAY_LEN(list_types)) {
        *res = lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, "Invalid list type");
        return false;
    }
    *q = (struct lg_album_query){ .order = list_types[i].order };
    int64_t from = 0, to = 0;
    const char *bad = NULL;
    if (lg_sub_param_int(c, "size", 10, 0, LIST_MAX, &q->size) < 0)
        bad = "size";
    else if (lg_sub_param_int(c, "offset", 0, 0, INT64_MAX, &q->offset) < 0)
        bad = "offset";
    else if (lg_sub_param_int(c, "fromYear", 0, 0, 9999, &from) < 0)
        bad = "fromYear";
    else if (lg_sub_param_int(c, "toYear", 0, 0, 9999, &to) < 0)
        bad = "toYear";
    if (bad) {
        *res = lg_sub_reply_invalid(c, bad);
        return false;
    }
    q->from_year = (int)from;
    q->to_year = (int)to;
    q->genre = lg_req_param(c->req, "genre");
    const char *missing = NULL;
    if (q->order == LG_ALBUMS_BY_YEAR && !lg_req_param(c->req, "fromYear"))
        missing = "fromYear";
    else if (q->order == LG_ALBUMS_BY_YEAR && !lg_req_param(c->req, "toYear"))
        missing = "toYear";
    else if (q->order == LG_ALBUMS_BY_GENRE && !q->genre)
        missing = "genre";
    if (missing) {
        *res = lg_sub_reply_missing(c, missing);
        return false;
    }
    return true;
}

static enum MHD_Result album_list(struct lg_sub_ctx *c, bool id3)
{
    struct lg_album_query q;
    enum MHD_Result res;
    if (!album_query(c, &q, &res))
        return res;
    struct lg_album *v;
    size_t n;
    int r = lg_store_albums_list(store_of(c), c->user.user_id, &q, &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing albums");
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, id3 ? "albumList2" : "albumList");
    json_object_set_new(o, "album", json_array());
    for (size_t i = 0; i < n; i++)
        (id3 ? lg_sub_album : lg_sub_album_dir)(o, "album", &v[i]);
    lg_albums_free(v, n);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_album_list(struct lg_sub_ctx *c)
{
    return album_list(c, false);
}

enum MHD_Result lg_sub_get_album_list2(struct lg_sub_ctx *c)
{
    return album_list(c, true);
}

/* Replies with {name: {song: [...]}} and frees the songs. */
static enum MHD_Result reply_songs(struct lg_sub_ctx *c, const char *name, struct lg_song *v,
                                   size_t n)
{
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, name);
    json_object_set_new(o, "song", json_array());
    for (size_t i = 0; i < n; i++)
        lg_sub_song(o, "song", &v[i]);
    lg_songs_free(v, n);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_random_songs(struct lg_sub_ctx *c)
{
    int64_t size, from, to;
    if (lg_sub_param_int(c, "size", 10, 0, LIST_MAX, &size) < 0)
        return lg_sub_reply_invalid(c, "size");
    if (lg_sub_param_int(c, "fromYear", 0, 0, 9999, &from) < 0)
        return lg_sub_reply_invalid(c, "fromYear");
    if (lg_sub_param_int(c, "toYear", 0, 0, 9999, &to) < 0)
        return lg_sub_reply_invalid(c, "toYear");
    struct lg_song_filter f = {
        .size = size,
        .genre = lg_req_param(c->req, "genre"),
        .from_year = (int)from,
        .to_year = (int)to,
    };
    struct lg_song *v;
    size_t n;
    int r = lg_store_songs_random(store_of(c), c->user.user_id, &f, &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "picking random songs");
    return reply_songs(c, "randomSongs", v, n);
}

enum MHD_Result lg_sub_get_songs_by_genre(struct lg_sub_ctx *c)
{
    const char *genre = lg_req_param(c->req, "genre");
    if (!genre)
        return lg_sub_reply_missing(c, "genre");
    int64_t count, offset;
    if (lg_sub_param_int(c, "count", 10, 0, LIST_MAX, &count) < 0)
        return lg_sub_reply_invalid(c, "count");
    if (lg_sub_param_int(c, "offset", 0, 0, INT64_MAX, &offset) < 0)
        return lg_sub_reply_invalid(c, "offset");
    struct lg_song *v;
    size_t n;
    int r = lg_store_songs_by_genre(store_of(c), c->user.user_id, genre, count, offset, &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing songs by genre");
    return reply_songs(c, "songsByGenre", v, n);
}

static enum MHD_Result starred(struct lg_sub_ctx *c, bool id3)
{
    struct lg_starred st;
    int r = lg_store_starred(store_of(c), c->user.user_id, &st);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing starred items");
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, id3 ? "starred2" : "starred");
    json_object_set_new(o, "artist", json_array());
    json_object_set_new(o, "album", json_array());
    json_object_set_new(o, "song", json_array());
    for (size_t i = 0; i < st.n_artists; i++)
        (id3 ? lg_sub_artist : lg_sub_artist_folder)(o, "artist", &st.artists[i]);
    for (size_t i = 0; i < st.n_albums; i++)
        (id3 ? lg_sub_album : lg_sub_album_dir)(o, "album", &st.albums[i]);
    for (size_t i = 0; i < st.n_songs; i++)
        lg_sub_song(o, "song", &st.songs[i]);
    lg_starred_free(&st);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_starred(struct lg_sub_ctx *c)
{
    return starred(c, false);
}

enum MHD_Result lg_sub_get_starred2(struct lg_sub_ctx *c)
{
    return starred(c, true);
}

enum MHD_Result lg_sub_get_now_playing(struct lg_sub_ctx *c)
{
    int64_t now = lg_sub_now();
    struct lg_now_playing *v;
    size_t n;
    int r = lg_store_now_playing(store_of(c), c->user.user_id, now, &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing what is playing");
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, "nowPlaying");
    json_object_set_new(o, "entry", json_array());
    for (size_t i = 0; i < n; i++) {
        json_t *e = lg_sub_song(o, "entry", &v[i].song);
        lg_sub_set_text(e, "username", v[i].username);
        lg_sub_set_int(e, "minutesAgo", LG_MAX(0, (now - v[i].started_at) / 60));
        lg_sub_set_int(e, "playerId", v[i].player_id);
        lg_sub_set_text(e, "playerName", v[i].player_name);
    }
    lg_now_playing_free(v, n);
    return lg_sub_reply(c, resp);
}
