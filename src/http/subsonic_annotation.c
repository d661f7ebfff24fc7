/* SPDX-License-Identifier: MIT */
/*
 * Annotation handlers. Every id of a request is parsed and checked before
 * anything is written, and the writes of one request form one transaction,
 * so a request with an unknown id changes nothing.
 */
#include "http/subsonic_annotation.h"

#include <string.h>

#include "core/str.h"
#include "http/subsonic_render.h"

enum { ITEMS_MAX = 500 };
#define TOO_MANY "Too many items: at most 500 in one request"

struct item {
    enum lg_item_type type;
    int64_t id;
};

static struct lg_store *store_of(struct lg_sub_ctx *c)
{
    return c->req->http->deps.store;
}

/* A song id, or an "al-"/"ar-" id (some clients pass those as id). */
static int parse_item(const char *v, enum lg_item_type def, struct item *out)
{
    if (lg_sub_id_parse(v, "al-", &out->id) == 0) {
        out->type = LG_ITEM_ALBUM;
        return 0;
    }
    if (lg_sub_id_parse(v, "ar-", &out->id) == 0) {
        out->type = LG_ITEM_ARTIST;
        return 0;
    }
    out->type = def;
    return lg_sub_id_parse(v, "", &out->id);
}

/* Collects the items of id, albumId and artistId; returns how many,
 * LG_ETOOBIG for more than max in all, or LG_EPARSE for a malformed one. */
static int collect_items(struct lg_sub_ctx *c, struct item *items, size_t max)
{
    static const struct {
        const char *param;
        enum lg_item_type type;
    } kinds[] = {
        { "id", LG_ITEM_SONG },
        { "albumId", LG_ITEM_ALBUM },
        { "artistId", LG_ITEM_ARTIST },
    };
    size_t n = 0;
    for (size_t k = 0; k < LG_ARRAY_LEN(kinds); k++) {
        const char *vals[ITEMS_MAX];
        size_t m = lg_req_param_count(c->req, kinds[k].param);
        if (m > max - n || m > ITEMS_MAX)
            return LG_ETOOBIG;
        m = lg_req_params(c->req, kinds[k].param, vals, m);
        for (size_t i = 0; i < m; i++) {
            struct item it;
            if (parse_item(vals[i], kinds[k].type, &it) < 0)
                return LG_EPARSE;
            /* albumId=al-3 and albumId=3 both name album 3. */
            if (kinds[k].type != LG_ITEM_SONG && it.type == LG_ITEM_SONG)
                it.type = kinds[k].type;
            items[n++] = it;
        }
    }
    return (int)n;
}

static enum MHD_Result star_common(struct lg_sub_ctx *c, bool star)
{
    struct item items[ITEMS_MAX];
    int n = collect_items(c, items, ITEMS_MAX);
    if (n == 0)
        return lg_sub_reply_missing(c, "id");
    if (n == LG_ETOOBIG)
        return lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, TOO_MANY);
    if (n < 0)
        return lg_sub_reply_not_found(c, "Item not found");
    struct lg_store *s = store_of(c);
    int64_t now = lg_sub_now();
    int r = lg_store_begin(s);
    for (int i = 0; r == 0 && i < n; i++)
        r = lg_store_star(s, c->user.user_id, items[i].type, items[i].id, star, now);
    if (r < 0) {
        lg_store_rollback(s);
        if (r == LG_ENOTFOUND)
            return lg_sub_reply_not_found(c, "Item not found");
        return lg_sub_reply_internal(c, r, "starring");
    }
    r = lg_store_commit(s);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "starring");
    return lg_sub_reply(c, lg_sub_new());
}

enum MHD_Result lg_sub_star(struct lg_sub_ctx *c)
{
    return star_common(c, true);
}

enum MHD_Result lg_sub_unstar(struct lg_sub_ctx *c)
{
    return star_common(c, false);
}

enum MHD_Result lg_sub_set_rating(struct lg_sub_ctx *c)
{
    const char *v = lg_req_param(c->req, "id");
    if (!v || !*v)
        return lg_sub_reply_missing(c, "id");
    const char *rv = lg_req_param(c->req, "rating");
    if (!rv || !*rv)
        return lg_sub_reply_missing(c, "rating");
    int64_t rating;
    if (lg_sub_param_int(c, "rating", 0, 0, INT64_MAX, &rating) < 0 || rating > 5)
        return lg_sub_reply_invalid(c, "rating");
    struct item it;
    if (parse_item(v, LG_ITEM_SONG, &it) < 0)
        return lg_sub_reply_not_found(c, "Item not found");
    int r = lg_store_set_rating(store_of(c), c->user.user_id, it.type, it.id, (int)rating);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Item not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "rating");
    return lg_sub_reply(c, lg_sub_new());
}

static bool param_false(const char *v)
{
    return v && (strcmp(v, "false") == 0 || strcmp(v, "0") == 0);
}

/* The play time of the i-th id: its "time" (ms since the epoch) when given
 * and sane, else now. */
static int64_t play_time(const char *const *times, size_t n_times, size_t i, int64_t now)
{
    int64_t ms;
    if (i < n_times && lg_str_to_i64(times[i], 1, INT64_MAX / 2, &ms) == 0)
        return ms / 1000;
    return now;
}

enum MHD_Result lg_sub_scrobble(struct lg_sub_ctx *c)
{
    const char *ids[ITEMS_MAX], *times[ITEMS_MAX];
    if (lg_req_param_count(c->req, "id") > ITEMS_MAX)
        return lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, TOO_MANY);
    size_t n = lg_req_params(c->req, "id", ids, ITEMS_MAX);
    if (n == 0 || !*ids[0])
        return lg_sub_reply_missing(c, "id");
    size_t n_times = lg_req_params(c->req, "time", times, ITEMS_MAX);
    bool submission = !param_false(lg_req_param(c->req, "submission"));
    const char *player = lg_req_param(c->req, "c");
    int64_t track_ids[ITEMS_MAX];
    struct lg_store *s = store_of(c);
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = lg_sub_id_parse(ids[i], "", &track_ids[i]);
        if (r == 0)
            r = lg_store_item_exists(s, LG_ITEM_SONG, track_ids[i]);
        r = r == 1 ? 0 : r == 0 ? LG_ENOTFOUND : r;
    }
    if (r == LG_EPARSE)
        r = LG_ENOTFOUND;
    int64_t now = lg_sub_now();
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (submission)
            r = lg_store_scrobble(s, c->user.user_id, track_ids[i],
                                  play_time(times, n_times, i, now));
        else
            r = lg_store_now_playing_set(s, c->user.user_id, player ? player : "", track_ids[i],
                                         now);
    }
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Song not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "scrobbling");
    return lg_sub_reply(c, lg_sub_new());
}
