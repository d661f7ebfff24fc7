/* SPDX-License-Identifier: MIT */
/*
 * createShare, getShares, updateShare, deleteShare (see subsonic_shares.h).
 * Handlers parse, make the store call that applies the rules (ownership,
 * which playlists the caller may share), then render Share objects with
 * their songs as Child entries. A share's URL is rebuilt on every answer
 * from its sealed token (share_token.h), which the server key opens; the
 * token never appears in the log or the database in clear.
 */
#include "http/subsonic_shares.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "http/qr_routes.h"
#include "http/share_token.h"
#include "http/subsonic_render.h"
#include "store/store.h"

#define NOT_AUTHORIZED  "User is not authorized for the given operation"
#define SHARE_NOT_FOUND "Share not found"

enum {
    ITEMS_MAX = 1000,       /* ids in one createShare */
    DESCRIPTION_MAX = 1024, /* bytes of a description */
    URL_MAX = 640,          /* the public base (up to 512) and /share/TOKEN */
};

static const struct lg_log shares_log = { "http/shares" };

static struct lg_store *store_of(const struct lg_sub_ctx *c)
{
    return c->req->http->deps.store;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum MHD_Result not_authorized(struct lg_sub_ctx *c)
{
    return lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED, NOT_AUTHORIZED);
}

static bool may_share(const struct lg_sub_ctx *c)
{
    return (c->user.roles & LG_ROLE_SHARE) != 0;
}

/* One id of createShare: "al-N" an album, "pl-N" a playlist, "N" a song. */
static int item_parse(const char *s, struct lg_share_item *out)
{
    if (lg_sub_id_parse(s, "al-", &out->id) == 0)
        out->kind = LG_SHARE_ALBUM;
    else if (lg_sub_id_parse(s, "pl-", &out->id) == 0)
        out->kind = LG_SHARE_PLAYLIST;
    else if (lg_sub_id_parse(s, "", &out->id) == 0)
        out->kind = LG_SHARE_SONG;
    else
        return LG_EPARSE;
    return 0;
}

/* Every id parameter, in order. Caller frees *out (also on failure).
 * LG_EINVAL when there is none, LG_ETOOBIG beyond ITEMS_MAX, LG_EPARSE for
 * an id that names no song, album or playlist. */
static int items_parse(const struct lg_sub_ctx *c, struct lg_share_item **out, size_t *n_out)
{
    size_t n = lg_req_param_count(c->req, "id");
    *out = NULL;
    if (n == 0)
        return LG_EINVAL;
    if (n > ITEMS_MAX)
        return LG_ETOOBIG;
    const char **vals = lg_xcalloc(n, sizeof(*vals));
    n = lg_req_params(c->req, "id", vals, n);
    struct lg_share_item *v = lg_xcalloc(n, sizeof(*v));
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = item_parse(vals[i], &v[i]);
    free(vals);
    *out = v;
    *n_out = n;
    return r;
}

/* The download flag: absent or "" false, "true" or "false". */
static int download_parse(const char *s, int *out)
{
    if (!s || !*s || lg_str_casecmp(s, "false") == 0)
        *out = 0;
    else if (lg_str_casecmp(s, "true") == 0)
        *out = 1;
    else
        return LG_EPARSE;
    return 0;
}

/* A description parameter: NULL when absent; *bad when over the limit. */
static const char *description_of(const struct lg_sub_ctx *c, bool *bad)
{
    const char *d = lg_req_param(c->req, "description");
    *bad = d && strlen(d) > DESCRIPTION_MAX;
    return d;
}

/* PUBLIC/share/TOKEN into out (URL_MAX bytes). */
static void share_url(const struct lg_sub_ctx *c, const char *token, char out[URL_MAX])
{
    char base[512];
    if (lg_http_public_base(c->req->http, lg_req_header(c->req, MHD_HTTP_HEADER_HOST), base,
                            sizeof(base)) < 0)
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", c->req->http->port);
    snprintf(out, URL_MAX, "%s/share/%s", base, token);
}

/* Appends the songs of share id as entry elements of o. */
static int render_entries(const struct lg_sub_ctx *c, json_t *o, int64_t id)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int r = lg_store_share_tracks(store_of(c), id, &ids, &n);
    struct lg_song *songs = NULL;
    size_t n_songs = 0;
    if (r == 0 && n > 0)
        r = lg_store_songs_get(store_of(c), c->user.user_id, ids, n, &songs, &n_songs);
    free(ids);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n_songs; i++)
        lg_sub_song(o, "entry", &songs[i]);
    lg_songs_free(songs, n_songs);
    return 0;
}

/* Appends one Share to the "share" array of list; url may be "" when the
 * token cannot be opened. */
static int render_share(const struct lg_sub_ctx *c, json_t *list, const struct lg_share *sh,
                        const char *url)
{
    json_t *o = lg_sub_append(list, "share");
    lg_sub_set_id(o, "id", "", sh->id);
    lg_sub_set_text(o, "url", url);
    lg_sub_set_text(o, "description", sh->description);
    lg_sub_set_text(o, "username", sh->owner);
    lg_sub_set_time(o, "created", sh->created_ms / 1000);
    if (sh->expires_ms > 0)
        lg_sub_set_time(o, "expires", sh->expires_ms / 1000);
    if (sh->last_visited_ms > 0)
        lg_sub_set_time(o, "lastVisited", sh->last_visited_ms / 1000);
    lg_sub_set_int(o, "visitCount", sh->visit_count);
    return render_entries(c, o, sh->id);
}

/* Renders sh with the URL its sealed token gives (key: the sealing key). */
static int render_sealed(const struct lg_sub_ctx *c, json_t *list, const struct lg_share *sh,
                         const unsigned char *key)
{
    char token[LG_SHARE_TOKEN_LEN], url[URL_MAX] = "";
    if (lg_share_token_open(key, sh->token_box, sh->token_box_len, sh->token_hash, token) == 0)
        share_url(c, token, url);
    else
        lg_log(&shares_log, LG_LOG_WARN,
               "share %lld: sealed token does not open (secret.key replaced?); its URL is lost",
               (long long)sh->id);
    int r = render_share(c, list, sh, url);
    sodium_memzero(token, sizeof(token));
    sodium_memzero(url, sizeof(url));
    return r;
}

static int load_key(const struct lg_sub_ctx *c, unsigned char key[LG_SHARE_KEY_LEN])
{
    const struct lg_config *cfg = c->req->http->deps.cfg;
    return cfg && cfg->data_dir ? lg_share_key_load(cfg->data_dir, key) : LG_EINVAL;
}

/* Answers with shares { share: [sh] }. */
static enum MHD_Result reply_one(struct lg_sub_ctx *c, int64_t id, const unsigned char *key)
{
    struct lg_share sh;
    int r = lg_store_share_get(store_of(c), id, &sh);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading a new share");
    json_t *resp = lg_sub_new();
    r = render_sealed(c, lg_sub_child(resp, "shares"), &sh, key);
    lg_share_free(&sh);
    if (r < 0) {
        json_decref(resp);
        return lg_sub_reply_internal(c, r, "reading the songs of a share");
    }
    return lg_sub_reply(c, resp);
}

/* Makes the token, seals it and stores the share; writes its id. */
static int create(struct lg_sub_ctx *c, struct lg_share_new *in, const unsigned char *key,
                  int64_t *id)
{
    char token[LG_SHARE_TOKEN_LEN];
    unsigned char hash[32], *box = NULL;
    size_t box_len = 0;
    lg_share_token_new(token);
    int r = lg_share_token_hash(token, hash);
    if (r == 0)
        r = lg_share_token_seal(key, token, &box, &box_len);
    sodium_memzero(token, sizeof(token));
    in->token_hash = hash;
    in->token_box = box;
    in->token_box_len = box_len;
    if (r == 0)
        r = lg_store_share_create(store_of(c), in, id);
    free(box);
    return r;
}

/* Reads createShare's parameters other than the ids into *in; replies and
 * returns false when one is bad. */
static bool create_params(struct lg_sub_ctx *c, struct lg_share_new *in, enum MHD_Result *res)
{
    bool bad;
    in->description = description_of(c, &bad);
    if (bad) {
        *res = lg_sub_reply_invalid(c, "description");
        return false;
    }
    if (lg_sub_param_int(c, "expires", 0, 0, INT64_MAX, &in->expires_ms) < 0) {
        *res = lg_sub_reply_invalid(c, "expires");
        return false;
    }
    if (download_parse(lg_req_param(c->req, "download"), &in->allow_download) < 0) {
        *res = lg_sub_reply_invalid(c, "download");
        return false;
    }
    /* Whoever may not download may not let strangers download either. */
    if (in->allow_download && !(c->user.roles & LG_ROLE_DOWNLOAD)) {
        *res = not_authorized(c);
        return false;
    }
    return true;
}

enum MHD_Result lg_sub_create_share(struct lg_sub_ctx *c)
{
    if (!may_share(c))
        return not_authorized(c);
    struct lg_share_new in = {
        .owner_id = c->user.user_id,
        .owner_admin = c->user.is_admin != 0,
        .created_ms = now_ms(),
    };
    struct lg_share_item *items = NULL;
    int r = items_parse(c, &items, &in.n_items);
    in.items = items;
    enum MHD_Result res = MHD_NO;
    if (r == LG_EINVAL)
        res = lg_sub_reply_missing(c, "id");
    else if (r == LG_ETOOBIG)
        res = lg_sub_reply_invalid(c, "id");
    else if (r < 0)
        res = lg_sub_reply_not_found(c, "Song, album or playlist not found");
    if (r < 0 || !create_params(c, &in, &res)) {
        free(items);
        return res;
    }
    unsigned char key[LG_SHARE_KEY_LEN];
    int64_t id = 0;
    r = load_key(c, key);
    if (r == 0)
        r = create(c, &in, key, &id);
    free(items);
    if (r == 0)
        res = reply_one(c, id, key);
    else if (r == LG_EINVAL)
        res = lg_sub_reply_not_found(c, "Song, album or playlist not found");
    else
        res = lg_sub_reply_internal(c, r, "creating a share");
    sodium_memzero(key, sizeof(key));
    return res;
}

enum MHD_Result lg_sub_get_shares(struct lg_sub_ctx *c)
{
    if (!may_share(c))
        return not_authorized(c);
    struct lg_share *v = NULL;
    size_t n = 0;
    int r = lg_store_shares_list(store_of(c), c->user.user_id, &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing shares");
    unsigned char key[LG_SHARE_KEY_LEN];
    r = n > 0 ? load_key(c, key) : 0;
    json_t *resp = lg_sub_new();
    json_t *list = lg_sub_child(resp, "shares");
    for (size_t i = 0; i < n && r == 0; i++)
        r = render_sealed(c, list, &v[i], key);
    sodium_memzero(key, sizeof(key));
    lg_shares_free(v, n);
    if (r < 0) {
        json_decref(resp);
        return lg_sub_reply_internal(c, r, "listing shares");
    }
    return lg_sub_reply(c, resp);
}

/* The share id parameter: 0 and *id, or a reply in *res. */
static int share_id(struct lg_sub_ctx *c, int64_t *id, enum MHD_Result *res)
{
    const char *s = lg_req_param(c->req, "id");
    if (!s || !*s) {
        *res = lg_sub_reply_missing(c, "id");
        return LG_EINVAL;
    }
    if (lg_str_to_i64(s, 1, INT64_MAX, id) != 0) {
        *res = lg_sub_reply_not_found(c, SHARE_NOT_FOUND);
        return LG_EINVAL;
    }
    return 0;
}

/* Maps what the store said about a change of a share to the answer. */
static enum MHD_Result reply_change(struct lg_sub_ctx *c, int r)
{
    switch (r) {
    case 0:
        return lg_sub_reply(c, lg_sub_new());
    case LG_ENOTFOUND:
        return lg_sub_reply_not_found(c, SHARE_NOT_FOUND);
    case LG_EDENIED:
        return not_authorized(c);
    default:
        return lg_sub_reply_internal(c, r, "changing a share");
    }
}

enum MHD_Result lg_sub_update_share(struct lg_sub_ctx *c)
{
    if (!may_share(c))
        return not_authorized(c);
    int64_t id, expires;
    enum MHD_Result res;
    if (share_id(c, &id, &res) < 0)
        return res;
    bool bad;
    const char *description = description_of(c, &bad);
    if (bad)
        return lg_sub_reply_invalid(c, "description");
    /* Absent: kept (-1); 0: never expires. */
    if (lg_sub_param_int(c, "expires", -1, 0, INT64_MAX, &expires) < 0)
        return lg_sub_reply_invalid(c, "expires");
    return reply_change(c, lg_store_share_update(store_of(c), c->user.user_id,
                                                 c->user.is_admin != 0, id, description, expires));
}

enum MHD_Result lg_sub_delete_share(struct lg_sub_ctx *c)
{
    if (!may_share(c))
        return not_authorized(c);
    int64_t id;
    enum MHD_Result res;
    if (share_id(c, &id, &res) < 0)
        return res;
    return reply_change(
        c, lg_store_share_delete(store_of(c), c->user.user_id, c->user.is_admin != 0, id));
}
