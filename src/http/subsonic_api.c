/* SPDX-License-Identifier: MIT */
/*
 * The /rest/ dispatcher: method table, response format, authentication and
 * the reply helpers every Subsonic handler uses. Credentials are checked for
 * every method before its handler runs (or recognised, for a few seconds, on
 * the connection that proved them: see authenticate); a request that fails
 * the check never reaches a handler.
 */
#include "http/subsonic_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <sodium.h>

#include "core/log.h"
#include "core/str.h"
#include "http/api_cache.h"
#include "http/oauth.h"
#include "http/subsonic_annotation.h"
#include "http/subsonic_art.h"
#include "http/subsonic_browse.h"
#include "http/subsonic_lists.h"
#include "http/subsonic_lyrics.h"
#include "http/subsonic_media.h"
#include "http/subsonic_playlists.h"
#include "http/subsonic_search.h"
#include "http/subsonic_shares.h"
#include "http/subsonic_system.h"
#include "http/subsonic_users.h"
#include "prof/prof.h"

static struct lg_log api_log = { "http/subsonic" };

enum {
    RENDER_LIMIT = 64 * 1024 * 1024, /* the largest response we render */
    RETRY_AFTER_S = 60,              /* the auth limiter counts per minute */
    KEY_LIMIT = 256 * 1024,          /* an answer cache key (URL and form fit) */
};
/* How long a connection's accepted credentials are taken on trust. */
#define AUTH_MEMO_NS ((int64_t)10 * 1000000000)

static enum MHD_Result handle_ping(struct lg_sub_ctx *c)
{
    return lg_sub_reply(c, lg_sub_new());
}

/* Sorted by name. A later issue adds the rest of the API here. */
static const struct {
    const char *name;
    lg_sub_handler_fn *fn;
} methods[] = {
    { "changePassword", lg_sub_change_password },
    { "createBookmark", lg_sub_create_bookmark },
    { "createPlaylist", lg_sub_create_playlist },
    { "createShare", lg_sub_create_share },
    { "createUser", lg_sub_create_user },
    { "deleteBookmark", lg_sub_delete_bookmark },
    { "deletePlaylist", lg_sub_delete_playlist },
    { "deleteShare", lg_sub_delete_share },
    { "deleteUser", lg_sub_delete_user },
    { "download", lg_sub_download },
    { "getAlbum", lg_sub_get_album },
    { "getAlbumInfo", lg_sub_get_album_info },
    { "getAlbumInfo2", lg_sub_get_album_info2 },
    { "getAlbumList", lg_sub_get_album_list },
    { "getAlbumList2", lg_sub_get_album_list2 },
    { "getArtist", lg_sub_get_artist },
    { "getArtistInfo", lg_sub_get_artist_info },
    { "getArtistInfo2", lg_sub_get_artist_info2 },
    { "getArtists", lg_sub_get_artists },
    { "getAvatar", lg_sub_get_avatar },
    { "getBookmarks", lg_sub_get_bookmarks },
    { "getCoverArt", lg_sub_get_cover_art },
    { "getGenres", lg_sub_get_genres },
    { "getIndexes", lg_sub_get_indexes },
    { "getLicense", lg_sub_get_license },
    { "getLyrics", lg_sub_get_lyrics },
    { "getLyricsBySongId", lg_sub_get_lyrics_by_song_id },
    { "getMusicDirectory", lg_sub_get_music_directory },
    { "getMusicFolders", lg_sub_get_music_folders },
    { "getNowPlaying", lg_sub_get_now_playing },
    { "getOpenSubsonicExtensions", lg_sub_get_open_subsonic_extensions },
    { "getPlayQueue", lg_sub_get_play_queue },
    { "getPlaylist", lg_sub_get_playlist },
    { "getPlaylists", lg_sub_get_playlists },
    { "getRandomSongs", lg_sub_get_random_songs },
    { "getScanStatus", lg_sub_get_scan_status },
    { "getShares", lg_sub_get_shares },
    { "getSimilarSongs", lg_sub_get_similar_songs },
    { "getSimilarSongs2", lg_sub_get_similar_songs2 },
    { "getSong", lg_sub_get_song },
    { "getSongsByGenre", lg_sub_get_songs_by_genre },
    { "getStarred", lg_sub_get_starred },
    { "getStarred2", lg_sub_get_starred2 },
    { "getTopSongs", lg_sub_get_top_songs },
    { "getUser", lg_sub_get_user },
    { "getUsers", lg_sub_get_users },
    { "ping", handle_ping },
    { "savePlayQueue", lg_sub_save_play_queue },
    { "scrobble", lg_sub_scrobble },
    { "search", lg_sub_search },
    { "search2", lg_sub_search2 },
    { "search3", lg_sub_search3 },
    { "setRating", lg_sub_set_rating },
    { "star", lg_sub_star },
    { "startScan", lg_sub_start_scan },
    { "stream", lg_sub_stream },
    { "unstar", lg_sub_unstar },
    { "updatePlaylist", lg_sub_update_playlist },
    { "updateShare", lg_sub_update_share },
    { "updateUser", lg_sub_update_user },
};

const char *lg_sub_method_name(size_t i)
{
    return i < LG_ARRAY_LEN(methods) ? methods[i].name : NULL;
}

/* methods is sorted by name (bytewise; a unit test checks): a binary search. */
lg_sub_handler_fn *lg_sub_find_method(const char *name)
{
    size_t n = strlen(name);
    if (n > 5 && strcmp(name + n - 5, ".view") == 0)
        n -= 5;
    size_t lo = 0, hi = LG_ARRAY_LEN(methods);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = methods[mid].name;
        int c = strncmp(m, name, n);
        if (c == 0 && m[n] != '\0')
            c = 1; /* m is longer: name sorts first */
        if (c == 0)
            return methods[mid].fn;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void body_release(void *cls)
{
    lg_api_body_unref(cls);
}

/* Replies with a body from the answer cache, releasing the caller's
 * reference once MHD is done with it. */
static enum MHD_Result reply_body(struct lg_sub_ctx *c, const struct lg_api_body *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
        body->len, (void *)body->data, body_release, (void *)body);
    if (!r) {
        lg_api_body_unref(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, lg_sub_content_type(c->fmt));
    return lg_req_reply(c->req, MHD_HTTP_OK, r, (int64_t)body->len);
}

static bool answer_ok(json_t *resp)
{
    const char *s = json_string_value(json_object_get(resp, "status"));
    return s && strcmp(s, "ok") == 0;
}

enum MHD_Result lg_sub_reply_status(struct lg_sub_ctx *c, unsigned status, json_t *resp)
{
    /* Only successes are kept: an error may be passing (a store failure). */
    bool keep = c->cache_key && status == MHD_HTTP_OK && answer_ok(resp);
    struct lg_buf b;
    lg_buf_init(&b, RENDER_LIMIT);
    int rc = lg_sub_render(resp, c->fmt, c->callback, &b);
    json_decref(resp);
    if (rc < 0) {
        lg_log(&api_log, LG_LOG_ERROR, "response too large to render");
        lg_buf_free(&b);
        return lg_req_reply_static(c->req, 500, "text/plain", "internal error\n");
    }
    if (keep) {
        struct lg_api_cache *cache = c->req->http->api_cache;
        size_t len = b.len;
        return reply_body(c, lg_api_cache_put(cache, c->cache_key->data, c->cache_key->len,
                                              c->cache_gen, lg_buf_steal(&b), len));
    }
    return lg_req_reply_buf(c->req, status, lg_sub_content_type(c->fmt), &b);
}

enum MHD_Result lg_sub_reply(struct lg_sub_ctx *c, json_t *resp)
{
    return lg_sub_reply_status(c, MHD_HTTP_OK, resp);
}

enum MHD_Result lg_sub_reply_error(struct lg_sub_ctx *c, int code, const char *message)
{
    return lg_sub_reply(c, lg_sub_new_error(code, message));
}

enum MHD_Result lg_sub_reply_internal(struct lg_sub_ctx *c, int err, const char *what)
{
    lg_log(&api_log, LG_LOG_ERROR, "%s: %s", what, lg_strerror(err));
    return lg_sub_reply_status(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                               lg_sub_new_error(LG_SUB_ERR_GENERIC, "Internal server error"));
}

static enum MHD_Result too_many_attempts(struct lg_sub_ctx *c)
{
    struct lg_buf b;
    lg_buf_init(&b, RENDER_LIMIT);
    json_t *resp =
        lg_sub_new_error(LG_SUB_ERR_GENERIC, "Too many failed login attempts; try again later");
    int rc = lg_sub_render(resp, c->fmt, c->callback, &b);
    json_decref(resp);
    size_t len = b.len;
    struct MHD_Response *r = lg_response_owning(lg_buf_steal(&b), rc ? 0 : len);
    if (!r)
        return MHD_NO;
    char retry[16];
    snprintf(retry, sizeof(retry), "%d", RETRY_AFTER_S);
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, lg_sub_content_type(c->fmt));
    return lg_req_reply(c->req, MHD_HTTP_TOO_MANY_REQUESTS, r, rc ? 0 : (int64_t)len);
}

/* Maps a failed lg_auth_check to the Subsonic answer (auth.h lists the
 * codes). A malformed "enc:" password is reported as a wrong password. */
static enum MHD_Result auth_failed(struct lg_sub_ctx *c, const struct lg_auth_request *a, int rc)
{
    switch (rc) {
    case LG_ELIMIT:
        return too_many_attempts(c);
    case LG_EINVAL:
        return lg_sub_reply_error(c, LG_SUB_ERR_MISSING_PARAM,
                                  "Required parameter is missing: u and p, u with t and s, or "
                                  "apiKey");
    case LG_EPARSE:
        if (a->api_key && a->u)
            return lg_sub_reply_error(c, LG_SUB_ERR_AUTH_CONFLICT,
                                      "Multiple conflicting authentication mechanisms provided");
        return lg_sub_reply_error(c, LG_SUB_ERR_WRONG_CREDS, "Wrong username or password");
    case LG_EAUTH:
        if (a->api_key)
            return lg_sub_reply_error(c, LG_SUB_ERR_BAD_API_KEY, "Invalid API key");
        return lg_sub_reply_error(c, LG_SUB_ERR_WRONG_CREDS, "Wrong username or password");
    default:
        return lg_sub_reply_internal(c, rc, "checking credentials");
    }
}

/* A keyed hash (SipHash-2-4, 128 bits, under a key drawn at start) of the
 * credentials a request carries, each field marked present or absent, and
 * of the authenticator's generation (so that a password change, a deleted
 * user or changed rights void what connections remember). Only equality on
 * one connection is asked of it (see lg_conn); without the key nobody can
 * search for two credentials that hash alike. SipHash is a tenth of the cost
 * of BLAKE2b here, where every request of a player pays it. */
static unsigned char memo_key[crypto_shorthash_siphashx24_KEYBYTES];
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;

static void memo_key_init(void)
{
    lg_assert(sodium_init() >= 0);
    randombytes_buf(memo_key, sizeof(memo_key));
}

enum { MEMO_STACK = 2048 }; /* longer credentials are put together on the heap */
_Static_assert(LG_CONN_AUTH_HASH == crypto_shorthash_siphashx24_BYTES, "memo size");

static void credentials_hash(const struct lg_auth_request *a, uint64_t generation,
                             unsigned char out[LG_CONN_AUTH_HASH])
{
    pthread_once(&memo_once, memo_key_init);
    /* The generation, then each field as a mark (present or not) and its
     * bytes with their NUL: no two requests put together alike. */
    const char *fields[] = { a->u, a->p, a->t, a->s, a->api_key };
    size_t lens[LG_ARRAY_LEN(fields)], total = sizeof(generation);
    for (size_t i = 0; i < LG_ARRAY_LEN(fields); i++) {
        lens[i] = fields[i] ? strlen(fields[i]) + 1 : 0;
        total += 1 + lens[i];
    }
    unsigned char stack[MEMO_STACK];
    unsigned char *in = total <= sizeof(stack) ? stack : lg_xmalloc(total);
    size_t n = sizeof(generation);
    memcpy(in, &generation, n);
    for (size_t i = 0; i < LG_ARRAY_LEN(fields); i++) {
        in[n++] = fields[i] ? 1 : 0;
        if (fields[i])
            memcpy(in + n, fields[i], lens[i]);
        n += lens[i];
    }
    crypto_shorthash_siphashx24(out, in, n, memo_key);
    if (in != stack)
        free(in);
}

/* Checks credentials, or recognises those this connection presented and had
 * accepted less than AUTH_MEMO_NS ago: a player fetching a track range by
 * range repeats the same URL, and the full check (a store query, unsealing
 * the password) need not run for each range. The memo can only ever give a
 * connection back the principal it proved itself, and it lapses quickly so
 * that a changed password or a removed user takes effect. */
static int authenticate(struct lg_req *r, const struct lg_auth_request *a, struct lg_principal *out)
{
    struct lg_conn *c = r->lconn;
    unsigned char h[LG_CONN_AUTH_HASH];
    /* Read before checking: a change that lands during the check leaves a
     * memo under the old generation, which the next request will not trust. */
    credentials_hash(a, lg_auth_generation(r->http->deps.auth), h);
    int64_t now = lg_http_now_ns();
    if (c->auth_until_ns > now && sodium_memcmp(h, c->auth_hash, sizeof(h)) == 0) {
        *out = c->auth_user;
        return 0;
    }
    int rc = lg_auth_check(r->http->deps.auth, a, out);
    if (rc < 0) {
        c->auth_until_ns = 0;
        return rc;
    }
    memcpy(c->auth_hash, h, sizeof(h));
    c->auth_user = *out;
    c->auth_until_ns = now + AUTH_MEMO_NS;
    return 0;
}

/* --- the answer cache --- */

/* Methods whose answer follows from the store's contents, the user and the
 * parameters alone (no clock, no chance, no state in memory), so that an
 * answer holds until the store changes. Random album lists are not. */
static bool cacheable(struct lg_req *r, lg_sub_handler_fn *fn)
{
    static lg_sub_handler_fn *const fns[] = {
        lg_sub_get_music_folders,
        lg_sub_get_indexes,
        lg_sub_get_artists,
        lg_sub_get_music_directory,
        lg_sub_get_genres,
        lg_sub_get_artist,
        lg_sub_get_album,
        lg_sub_get_song,
        lg_sub_get_top_songs,
        lg_sub_get_album_list,
        lg_sub_get_album_list2,
        lg_sub_get_songs_by_genre,
        lg_sub_get_starred,
        lg_sub_get_starred2,
        lg_sub_search,
        lg_sub_search2,
        lg_sub_search3,
        lg_sub_get_playlists,
        lg_sub_get_playlist,
    };
    if (!r->http->api_cache)
        return false;
    if (fn == lg_sub_get_album_list || fn == lg_sub_get_album_list2) {
        const char *type = lg_req_param(r, "type");
        if (type && lg_str_casecmp(type, "random") == 0)
            return false;
    }
    for (size_t i = 0; i < LG_ARRAY_LEN(fns); i++) {
        if (fns[i] == fn)
            return true;
    }
    return false;
}

/* A key part: its length, then its bytes; NULL (a parameter without "=") is
 * a length no string has. Lengths keep "a=b" + "" apart from "a" + "=b". */
static bool key_add(struct lg_buf *k, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
    return lg_buf_append(k, &n, sizeof(n)) == 0 && (!s || lg_buf_append(k, s, n) == 0);
}

/* Parameters that do not change an answer: credentials and client names. */
static bool key_skips(const char *name)
{
    static const char *const skip[] = { "u", "p", "t", "s", "apiKey", "c", "v" };
    for (size_t i = 0; i < LG_ARRAY_LEN(skip); i++) {
        if (lg_str_casecmp(name, skip[i]) == 0)
            return true;
    }
    return false;
}

struct key_walk {
    struct lg_buf *key;
    bool ok;
};

static void key_param(struct key_walk *w, const char *name, const char *value)
{
    if (!key_skips(name))
        w->ok = w->ok && key_add(w->key, name) && key_add(w->key, value);
}

/* The cache key of a request: who asks, the method (without ".view") and
 * every other parameter, query then form, in the order sent. */
static bool cache_key(struct lg_sub_ctx *c, const char *name, struct lg_buf *k)
{
    size_t n = strlen(name);
    if (n > 5 && strcmp(name + n - 5, ".view") == 0)
        n -= 5;
    int64_t uid = c->user.user_id;
    struct key_walk w = { k, lg_buf_append(k, &uid, sizeof(uid)) == 0 &&
                                 lg_buf_append(k, name, n) == 0 && lg_buf_append(k, "", 1) == 0 };
    const struct lg_req *r = c->req;
    for (size_t i = 0; i < r->n_query; i++)
        key_param(&w, r->query_fields[i].key, r->query_fields[i].value);
    for (size_t i = 0; i < r->n_form; i++)
        key_param(&w, r->form[i].key, r->form[i].value);
    return w.ok;
}

/* Answers from the cache, or arms c to fill it. Returns true when it
 * replied (*res set). */
static bool from_cache(struct lg_sub_ctx *c, const char *name, struct lg_buf *key,
                       enum MHD_Result *res)
{
    struct lg_http *h = c->req->http;
    uint64_t gen;
    if (lg_store_generation(h->deps.store, &gen) < 0 || !cache_key(c, name, key))
        return false;
    const struct lg_api_body *body = lg_api_cache_get(h->api_cache, key->data, key->len, gen);
    if (body) {
        lg_prof_count(LG_PROF_API_CACHE_HITS, 1);
        *res = reply_body(c, body);
        return true;
    }
    lg_prof_count(LG_PROF_API_CACHE_MISSES, 1);
    c->cache_key = key;
    c->cache_gen = gen;
    return false;
}

static enum MHD_Result dispatch(struct lg_req *r, const char *name)
{
    struct lg_sub_ctx c = { .req = r };
    c.callback = lg_req_param(r, "callback");
    c.fmt = lg_sub_format_from(lg_req_param(r, "f"), c.callback);
    lg_sub_handler_fn *fn = lg_sub_find_method(name);
    if (!fn)
        return lg_sub_reply_status(&c, MHD_HTTP_NOT_FOUND,
                                   lg_sub_new_error(LG_SUB_ERR_NOT_FOUND, "Unknown API method"));
    if (fn == lg_sub_get_open_subsonic_extensions)
        return fn(&c); /* public: OpenSubsonic requires it to answer anyone */
    if (!r->http->deps.auth)
        return lg_sub_reply_internal(&c, LG_EINVAL, "no authenticator configured");
    struct lg_auth_request a = {
        .u = lg_req_param(r, "u"),
        .p = lg_req_param(r, "p"),
        .t = lg_req_param(r, "t"),
        .s = lg_req_param(r, "s"),
        .api_key = lg_req_param(r, "apiKey"),
        .ip = r->ip,
    };
    /* A device access token (OAuth device grant) also serves as apiKey. */
    int rc = LG_EAUTH;
    if (a.api_key && !a.u)
        rc = lg_oauth_api_key(r, a.api_key, &c.user);
    bool by_device = rc == 0;
    if (rc == LG_EAUTH)
        rc = authenticate(r, &a, &c.user);
    if (rc < 0)
        return auth_failed(&c, &a, rc);
    enum MHD_Result res;
    struct lg_buf key;
    lg_buf_init(&key, KEY_LIMIT);
    if (cacheable(r, fn) && from_cache(&c, name, &key, &res)) {
        lg_buf_free(&key);
        return res;
    }
    res = fn(&c);
    lg_buf_free(&key);
    if (by_device && r->sent_track)
        lg_oauth_note_stream(r, a.api_key);
    return res;
}

enum MHD_Result lg_sub_api_handle(struct lg_req *r, const char *name)
{
    enum MHD_Result res = dispatch(r, name);
    lg_sub_window_end();
    return res;
}
