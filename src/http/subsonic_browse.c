/* SPDX-License-Identifier: MIT */
/*
 * Browsing handlers. Each parses its parameters, makes one or two store
 * calls and renders; the folder view maps the catalogue onto directories:
 * folder 1 holds artists ("ar-N"), an artist holds albums ("al-N"), an album
 * holds songs.
 */
#include "http/subsonic_browse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "http/subsonic_render.h"

#define IGNORED_ARTICLES "The El La Los Las Le Les"
#define FOLDER_ID        1
#define FOLDER_NAME      "Music"

static struct lg_store *store_of(struct lg_sub_ctx *c)
{
    return c->req->http->deps.store;
}

/* Parses the required id parameter with prefix. On failure the reply has
 * been queued into *res and false is returned. */
static bool id_param(struct lg_sub_ctx *c, const char *prefix, const char *not_found, int64_t *id,
                     enum MHD_Result *res)
{
    const char *v = lg_req_param(c->req, "id");
    if (!v || !*v) {
        *res = lg_sub_reply_missing(c, "id");
        return false;
    }
    if (lg_sub_id_parse(v, prefix, id) < 0) {
        *res = lg_sub_reply_not_found(c, not_found);
        return false;
    }
    return true;
}

enum MHD_Result lg_sub_get_music_folders(struct lg_sub_ctx *c)
{
    json_t *resp = lg_sub_new();
    json_t *f = lg_sub_append(lg_sub_child(resp, "musicFolders"), "musicFolder");
    lg_sub_set_int(f, "id", FOLDER_ID);
    lg_sub_set_str(f, "name", FOLDER_NAME);
    return lg_sub_reply(c, resp);
}

/* The index letter of an artist: the first letter of its sort name in upper
 * case, a whole UTF-8 character when not ASCII, "#" for digits and signs. */
static void index_key(const char *sort_name, char out[8])
{
    unsigned char ch = (unsigned char)sort_name[0];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
        out[0] = (char)(ch & ~0x20);
        out[1] = '\0';
        return;
    }
    if (ch >= 0xC0) {
        size_t n = 1;
        while (n < 4 && ((unsigned char)sort_name[n] & 0xC0) == 0x80)
            n++;
        memcpy(out, sort_name, n);
        out[n] = '\0';
        return;
    }
    memcpy(out, "#", 2);
}

typedef json_t *artist_render_fn(json_t *parent, const char *elem, const struct lg_artist *a);

struct keyed {
    char key[8];
    size_t i; /* the artist's place in the sorted list */
};

static int keyed_cmp(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Groups the artists (sorted by sort name) into index elements, one per
 * key, keys in byte order ("#", then the letters, then other initials),
 * artists in their order within each. The sort order alone does not keep a
 * key's artists together ("1", "_" and "~" are all "#", and "~" sorts after
 * the letters), and a client that finds two indexes of one name loses one. */
static void add_index(json_t *parent, const struct lg_artist *v, size_t n, artist_render_fn *fn)
{
    struct keyed *k = lg_xmalloc((n ? n : 1) * sizeof(*k));
    for (size_t i = 0; i < n; i++) {
        const char *sort = v[i].sort_name && *v[i].sort_name ? v[i].sort_name : v[i].name;
        index_key(sort, k[i].key);
        if (!lg_utf8_valid(k[i].key, strlen(k[i].key)))
            memcpy(k[i].key, "#", 2);
        k[i].i = i;
    }
    if (n > 1)
        qsort(k, n, sizeof(*k), keyed_cmp);
    json_t *idx = NULL;
    for (size_t j = 0; j < n; j++) {
        if (!idx || strcmp(k[j].key, k[j - 1].key) != 0) {
            idx = lg_sub_append(parent, "index");
            lg_sub_set_str(idx, "name", k[j].key);
        }
        fn(idx, "artist", &v[k[j].i]);
    }
    free(k);
}

/* The library's last change in ms since the epoch (store meta). */
static int64_t library_changed_ms(struct lg_store *s)
{
    char *v = NULL;
    int64_t ms = 0;
    if (lg_store_meta_get(s, "library.changed_at", &v) == 0 &&
        lg_str_to_i64(v, 0, INT64_MAX, &ms) != 0)
        ms = 0;
    free(v);
    return ms;
}

enum MHD_Result lg_sub_get_indexes(struct lg_sub_ctx *c)
{
    int64_t since;
    if (lg_sub_param_int(c, "ifModifiedSince", 0, 0, INT64_MAX, &since) < 0)
        return lg_sub_reply_invalid(c, "ifModifiedSince");
    struct lg_store *s = store_of(c);
    int64_t changed = library_changed_ms(s);
    json_t *resp = lg_sub_new();
    json_t *ix = lg_sub_child(resp, "indexes");
    lg_sub_set_str(ix, "ignoredArticles", IGNORED_ARTICLES);
    lg_sub_set_int(ix, "lastModified", changed);
    if (since > 0 && changed <= since)
        return lg_sub_reply(c, resp);
    struct lg_artist *v;
    size_t n;
    int r = lg_store_artists_all(s, c->user.user_id, &v, &n);
    if (r < 0) {
        json_decref(resp);
        return lg_sub_reply_internal(c, r, "listing artists");
    }
    add_index(ix, v, n, lg_sub_artist_folder);
    lg_artists_free(v, n);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_artists(struct lg_sub_ctx *c)
{
    struct lg_artist *v;
    size_t n;
    int r = lg_store_artists_all(store_of(c), c->user.user_id, &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing artists");
    json_t *resp = lg_sub_new();
    json_t *ar = lg_sub_child(resp, "artists");
    lg_sub_set_str(ar, "ignoredArticles", IGNORED_ARTICLES);
    json_object_set_new(ar, "index", json_array());
    add_index(ar, v, n, lg_sub_artist);
    lg_artists_free(v, n);
    return lg_sub_reply(c, resp);
}

/* --- getMusicDirectory --- */

static enum MHD_Result folder_directory(struct lg_sub_ctx *c)
{
    struct lg_artist *v;
    size_t n;
    int r = lg_store_artists_all(store_of(c), c->user.user_id, &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing artists");
    json_t *resp = lg_sub_new();
    json_t *d = lg_sub_child(resp, "directory");
    lg_sub_set_str(d, "id", "1");
    lg_sub_set_str(d, "name", FOLDER_NAME);
    json_object_set_new(d, "child", json_array());
    for (size_t i = 0; i < n; i++) {
        json_t *o = lg_sub_artist_folder(d, "child", &v[i]);
        lg_sub_set_str(o, "parent", "1");
        lg_sub_set_bool(o, "isDir", true);
        json_object_set(o, "title", json_object_get(o, "name"));
        json_object_set(o, "artist", json_object_get(o, "name"));
        json_object_set(o, "artistId", json_object_get(o, "id"));
    }
    lg_artists_free(v, n);
    return lg_sub_reply(c, resp);
}

static void dir_annotations(json_t *d, int64_t starred_at, int rating)
{
    if (starred_at > 0)
        lg_sub_set_time(d, "starred", starred_at);
    if (rating > 0)
        lg_sub_set_int(d, "userRating", rating);
}

static enum MHD_Result artist_directory(struct lg_sub_ctx *c, int64_t id)
{
    struct lg_store *s = store_of(c);
    struct lg_artist a;
    int r = lg_store_artist_get(s, c->user.user_id, id, &a);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Directory not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading an artist");
    struct lg_album *v;
    size_t n;
    r = lg_store_artist_albums(s, c->user.user_id, id, &v, &n);
    if (r < 0) {
        lg_artist_free(&a);
        return lg_sub_reply_internal(c, r, "listing albums");
    }
    json_t *resp = lg_sub_new();
    json_t *d = lg_sub_child(resp, "directory");
    lg_sub_set_id(d, "id", "ar-", a.id);
    lg_sub_set_text(d, "name", a.name);
    lg_sub_set_str(d, "parent", "1");
    dir_annotations(d, a.starred_at, a.rating);
    json_object_set_new(d, "child", json_array());
    for (size_t i = 0; i < n; i++)
        lg_sub_album_dir(d, "child", &v[i]);
    lg_albums_free(v, n);
    lg_artist_free(&a);
    return lg_sub_reply(c, resp);
}

static enum MHD_Result album_directory(struct lg_sub_ctx *c, int64_t id)
{
    struct lg_store *s = store_of(c);
    struct lg_album a;
    int r = lg_store_album_get(s, c->user.user_id, id, &a);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Directory not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading an album");
    struct lg_song *v;
    size_t n;
    r = lg_store_album_songs(s, c->user.user_id, id, &v, &n);
    if (r < 0) {
        lg_album_free(&a);
        return lg_sub_reply_internal(c, r, "listing songs");
    }
    json_t *resp = lg_sub_new();
    json_t *d = lg_sub_child(resp, "directory");
    lg_sub_set_id(d, "id", "al-", a.id);
    lg_sub_set_id(d, "parent", "ar-", a.artist_id);
    lg_sub_set_text(d, "name", a.name);
    lg_sub_set_int(d, "playCount", a.play_count);
    dir_annotations(d, a.starred_at, a.rating);
    json_object_set_new(d, "child", json_array());
    for (size_t i = 0; i < n; i++)
        lg_sub_song(d, "child", &v[i]);
    lg_songs_free(v, n);
    lg_album_free(&a);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_music_directory(struct lg_sub_ctx *c)
{
    const char *v = lg_req_param(c->req, "id");
    if (!v || !*v)
        return lg_sub_reply_missing(c, "id");
    int64_t id;
    if (strcmp(v, "1") == 0)
        return folder_directory(c);
    if (lg_sub_id_parse(v, "ar-", &id) == 0)
        return artist_directory(c, id);
    if (lg_sub_id_parse(v, "al-", &id) == 0)
        return album_directory(c, id);
    return lg_sub_reply_not_found(c, "Directory not found");
}

/* --- by tags --- */

enum MHD_Result lg_sub_get_genres(struct lg_sub_ctx *c)
{
    struct lg_genre *v;
    size_t n;
    int r = lg_store_genres(store_of(c), &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing genres");
    json_t *resp = lg_sub_new();
    json_t *gs = lg_sub_child(resp, "genres");
    json_object_set_new(gs, "genre", json_array());
    for (size_t i = 0; i < n; i++) {
        json_t *g = lg_sub_append(gs, "genre");
        lg_sub_set_int(g, "songCount", v[i].song_count);
        lg_sub_set_int(g, "albumCount", v[i].album_count);
        lg_sub_set_text(g, "value", v[i].name);
    }
    lg_genres_free(v, n);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_artist(struct lg_sub_ctx *c)
{
    int64_t id;
    enum MHD_Result res;
    if (!id_param(c, "ar-", "Artist not found", &id, &res))
        return res;
    struct lg_store *s = store_of(c);
    struct lg_artist a;
    int r = lg_store_artist_get(s, c->user.user_id, id, &a);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Artist not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading an artist");
    struct lg_album *v;
    size_t n;
    r = lg_store_artist_albums(s, c->user.user_id, id, &v, &n);
    if (r < 0) {
        lg_artist_free(&a);
        return lg_sub_reply_internal(c, r, "listing albums");
    }
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, "artist");
    lg_sub_artist_fill(o, &a);
    json_object_set_new(o, "album", json_array());
    for (size_t i = 0; i < n; i++)
        lg_sub_album(o, "album", &v[i]);
    lg_albums_free(v, n);
    lg_artist_free(&a);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_album(struct lg_sub_ctx *c)
{
    int64_t id;
    enum MHD_Result res;
    if (!id_param(c, "al-", "Album not found", &id, &res))
        return res;
    struct lg_store *s = store_of(c);
    struct lg_album a;
    int r = lg_store_album_get(s, c->user.user_id, id, &a);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Album not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading an album");
    struct lg_song *v;
    size_t n;
    r = lg_store_album_songs(s, c->user.user_id, id, &v, &n);
    if (r < 0) {
        lg_album_free(&a);
        return lg_sub_reply_internal(c, r, "listing songs");
    }
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, "album");
    lg_sub_album_fill(o, &a);
    json_object_set_new(o, "song", json_array());
    for (size_t i = 0; i < n; i++)
        lg_sub_song(o, "song", &v[i]);
    lg_songs_free(v, n);
    lg_album_free(&a);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_song(struct lg_sub_ctx *c)
{
    int64_t id;
    enum MHD_Result res;
    if (!id_param(c, "", "Song not found", &id, &res))
        return res;
    struct lg_song song;
    int r = lg_store_song_get(store_of(c), c->user.user_id, id, &song);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Song not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading a song");
    json_t *resp = lg_sub_new();
    lg_sub_song_fill(lg_sub_child(resp, "song"), &song);
    lg_song_free(&song);
    return lg_sub_reply(c, resp);
}

/* --- local info and similarity --- */

/* The artist an id names: "ar-N" directly, "al-N" its album's artist, a
 * song id its album's artist. LG_ENOTFOUND when unknown or malformed. */
static int artist_of(struct lg_sub_ctx *c, const char *v, int64_t *artist_id)
{
    struct lg_store *s = store_of(c);
    int64_t id;
    if (lg_sub_id_parse(v, "ar-", &id) == 0) {
        int r = lg_store_item_exists(s, LG_ITEM_ARTIST, id);
        if (r == 1)
            *artist_id = id;
        return r == 1 ? 0 : r == 0 ? LG_ENOTFOUND : r;
    }
    if (lg_sub_id_parse(v, "al-", &id) == 0) {
        struct lg_album a;
        int r = lg_store_album_get(s, c->user.user_id, id, &a);
        if (r < 0)
            return r;
        *artist_id = a.artist_id;
        lg_album_free(&a);
        return 0;
    }
    if (lg_sub_id_parse(v, "", &id) == 0) {
        struct lg_song song;
        int r = lg_store_song_get(s, c->user.user_id, id, &song);
        if (r < 0)
            return r;
        *artist_id = song.t.artist_id;
        lg_song_free(&song);
        return 0;
    }
    return LG_ENOTFOUND;
}

static enum MHD_Result artist_info(struct lg_sub_ctx *c, bool id3)
{
    const char *v = lg_req_param(c->req, "id");
    if (!v || !*v)
        return lg_sub_reply_missing(c, "id");
    int64_t count;
    if (lg_sub_param_int(c, "count", 20, 0, 500, &count) < 0)
        return lg_sub_reply_invalid(c, "count");
    int64_t artist_id;
    int r = artist_of(c, v, &artist_id);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Artist not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading an artist");
    struct lg_artist a, *sim;
    size_t n;
    r = lg_store_artist_get(store_of(c), c->user.user_id, artist_id, &a);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading an artist");
    r = lg_store_artists_similar(store_of(c), c->user.user_id, artist_id, count, &sim, &n);
    if (r < 0) {
        lg_artist_free(&a);
        return lg_sub_reply_internal(c, r, "finding similar artists");
    }
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, id3 ? "artistInfo2" : "artistInfo");
    lg_sub_set_str(o, "biography", "");
    lg_sub_set_text(o, "musicBrainzId", a.mbid);
    for (size_t i = 0; i < n; i++)
        (id3 ? lg_sub_artist : lg_sub_artist_folder)(o, "similarArtist", &sim[i]);
    lg_artists_free(sim, n);
    lg_artist_free(&a);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_artist_info(struct lg_sub_ctx *c)
{
    return artist_info(c, false);
}

enum MHD_Result lg_sub_get_artist_info2(struct lg_sub_ctx *c)
{
    return artist_info(c, true);
}

static enum MHD_Result album_info(struct lg_sub_ctx *c)
{
    const char *v = lg_req_param(c->req, "id");
    if (!v || !*v)
        return lg_sub_reply_missing(c, "id");
    int64_t id;
    if (lg_sub_id_parse(v, "al-", &id) < 0)
        return lg_sub_reply_not_found(c, "Album not found");
    struct lg_album a;
    int r = lg_store_album_get(store_of(c), c->user.user_id, id, &a);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Album not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading an album");
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, "albumInfo");
    lg_sub_set_str(o, "notes", "");
    lg_sub_set_text(o, "musicBrainzId", a.mbid);
    lg_album_free(&a);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_album_info(struct lg_sub_ctx *c)
{
    return album_info(c);
}

enum MHD_Result lg_sub_get_album_info2(struct lg_sub_ctx *c)
{
    return album_info(c);
}

/* The genre to draw similar songs from: the song's, the album's, or the
 * artist's most common album genre. Caller frees *genre. */
static int seed_genre(struct lg_sub_ctx *c, const char *v, int64_t artist_id, char **genre)
{
    struct lg_store *s = store_of(c);
    int64_t id;
    if (lg_sub_id_parse(v, "", &id) == 0) {
        struct lg_song song;
        int r = lg_store_song_get(s, c->user.user_id, id, &song);
        if (r < 0)
            return r;
        *genre = lg_xstrdup(song.t.genre ? song.t.genre : "");
        lg_song_free(&song);
        return 0;
    }
    if (lg_sub_id_parse(v, "al-", &id) == 0) {
        struct lg_album a;
        int r = lg_store_album_get(s, c->user.user_id, id, &a);
        if (r < 0)
            return r;
        *genre = a.genre;
        a.genre = NULL;
        lg_album_free(&a);
        return 0;
    }
    return lg_store_artist_genre(s, artist_id, genre);
}

static enum MHD_Result similar_songs(struct lg_sub_ctx *c, bool id3)
{
    const char *v = lg_req_param(c->req, "id");
    if (!v || !*v)
        return lg_sub_reply_missing(c, "id");
    int64_t count;
    if (lg_sub_param_int(c, "count", 50, 0, 500, &count) < 0)
        return lg_sub_reply_invalid(c, "count");
    int64_t artist_id;
    char *genre = NULL;
    int r = artist_of(c, v, &artist_id);
    if (r == 0)
        r = seed_genre(c, v, artist_id, &genre);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Item not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "finding similar songs");
    struct lg_song *songs = NULL;
    size_t n = 0;
    if (*genre)
        r = lg_store_songs_similar(store_of(c), c->user.user_id, genre, artist_id, count, &songs,
                                   &n);
    free(genre);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "finding similar songs");
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, id3 ? "similarSongs2" : "similarSongs");
    json_object_set_new(o, "song", json_array());
    for (size_t i = 0; i < n; i++)
        lg_sub_song(o, "song", &songs[i]);
    lg_songs_free(songs, n);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_similar_songs(struct lg_sub_ctx *c)
{
    return similar_songs(c, false);
}

enum MHD_Result lg_sub_get_similar_songs2(struct lg_sub_ctx *c)
{
    return similar_songs(c, true);
}

enum MHD_Result lg_sub_get_top_songs(struct lg_sub_ctx *c)
{
    const char *artist = lg_req_param(c->req, "artist");
    if (!artist)
        return lg_sub_reply_missing(c, "artist");
    int64_t count;
    if (lg_sub_param_int(c, "count", 50, 0, 500, &count) < 0)
        return lg_sub_reply_invalid(c, "count");
    struct lg_song *v;
    size_t n;
    int r = lg_store_songs_top(store_of(c), c->user.user_id, artist, count, &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing top songs");
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, "topSongs");
    json_object_set_new(o, "song", json_array());
    for (size_t i = 0; i < n; i++)
        lg_sub_song(o, "song", &v[i]);
    lg_songs_free(v, n);
    return lg_sub_reply(c, resp);
}
