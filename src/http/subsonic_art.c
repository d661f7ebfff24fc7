/* SPDX-License-Identifier: MIT */
/*
 * Cover art. The store says which file holds an item's cover; media/ reads
 * it, makes and caches thumbnails (DATA_DIR/cache/covers/KEY-SIZE.jpg). The
 * ETag depends on the source file and the size only, so a revalidation
 * (If-None-Match) is answered with 304 before any image work. An item that
 * exists without a picture gets a drawn stand-in. Users have no
 * avatars in legato: getAvatar answers "not found", which the spec allows.
 */
#include "http/subsonic_art.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/str.h"
#include "http/subsonic_render.h"
#include "media/media.h"
#include "store/store.h"
#include "stream/stream.h"

/* A browser keeps a cover a day; shared caches do not (covers are served
 * to signed-in users and share links, which can end). */
#define CACHE_CONTROL    "private, max-age=86400"
#define NOT_FOUND        "Cover art not found"
#define PLACEHOLDER_SIDE 512 /* the stand-in's size when no size is asked */

/* A parsed cover id; key names it canonically for the cache ("tr-42"). */
struct cover_id {
    enum lg_cover_kind kind;
    int64_t id;
    char key[32];
};

static void cover_id_set(struct cover_id *out, enum lg_cover_kind kind, int64_t id)
{
    const char *tag = kind == LG_COVER_ALBUM ? "al" : kind == LG_COVER_ARTIST ? "ar" : "tr";
    out->kind = kind;
    out->id = id;
    snprintf(out->key, sizeof(out->key), "%s-%lld", tag, (long long)id);
}

static int cover_id_parse(const char *s, struct cover_id *out)
{
    static const struct {
        const char *prefix;
        enum lg_cover_kind kind;
    } kinds[] = {
        { "al-", LG_COVER_ALBUM },
        { "ar-", LG_COVER_ARTIST },
        { "tr-", LG_COVER_TRACK },
        { "", LG_COVER_TRACK },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(kinds); i++) {
        int64_t id;
        if (lg_sub_id_parse(s, kinds[i].prefix, &id) < 0)
            continue;
        cover_id_set(out, kinds[i].kind, id);
        return 0;
    }
    return LG_EPARSE;
}

/* size: absent or <= 0 gives 0 (the original); else the largest of a few
 * steps (16 to LG_IMAGE_SIZE_MAX, a quarter or a third apart) that is not
 * over it, 16 at least. Each size made is a file in the thumbnail cache and
 * a decode: any number would let one client make 2,048 of them per cover.
 * LG_EPARSE when it is not a number. */
static int size_parse(const char *s, int *out)
{
    static const int steps[] = { 16,  24,  32,  40,  48,  64,  80,   96,   128,  160, 192,
                                 256, 320, 384, 512, 640, 768, 1024, 1280, 1536, 2048 };
    _Static_assert(2048 == LG_IMAGE_SIZE_MAX, "the last step is the largest size");
    int64_t v;
    if (!s || !*s) {
        *out = 0;
        return 0;
    }
    if (lg_str_to_i64(s, INT64_MIN, INT64_MAX, &v) < 0)
        return LG_EPARSE;
    if (v <= 0) {
        *out = 0;
        return 0;
    }
    size_t i = 0;
    while (i + 1 < LG_ARRAY_LEN(steps) && steps[i + 1] <= v)
        i++;
    *out = steps[i];
    return 0;
}

static void add_validators(struct MHD_Response *resp, const char *etag)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_CONTROL);
}

static enum MHD_Result not_modified(struct lg_sub_ctx *c, const char *etag)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp)
        add_validators(resp, etag);
    return lg_req_reply(c->req, MHD_HTTP_NOT_MODIFIED, resp, 0);
}

static enum MHD_Result send_image(struct lg_sub_ctx *c, const char *etag, unsigned char *data,
                                  size_t len, const char *mime)
{
    struct MHD_Response *resp = lg_response_owning(data, len);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    add_validators(resp, etag);
    return lg_req_reply(c->req, MHD_HTTP_OK, resp, (int64_t)len);
}

/* The stand-in for an item without a picture (players show it as they
 * would a cover, and every coverArt id the API hands out leads to an image). */
static enum MHD_Result serve_placeholder(struct lg_sub_ctx *c, int size)
{
    int side = size > 0 ? size : PLACEHOLDER_SIDE;
    char etag[LG_COVER_ETAG_MAX];
    snprintf(etag, sizeof(etag), "\"placeholder-1-%d\"", side);
    if (lg_etag_match_weak(lg_req_header(c->req, MHD_HTTP_HEADER_IF_NONE_MATCH), etag))
        return not_modified(c, etag);
    unsigned char *data;
    size_t len;
    int rc = lg_image_placeholder(side, &data, &len);
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "drawing a placeholder cover");
    return send_image(c, etag, data, len, "image/jpeg");
}

/* Reads the cover of the source file at path and answers with it. */
static enum MHD_Result serve(struct lg_sub_ctx *c, const struct cover_id *id, const char *path,
                             bool embedded, int size)
{
    char etag[LG_COVER_ETAG_MAX];
    int rc = lg_cover_etag(path, size, etag);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, NOT_FOUND);
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "looking at a cover");
    if (lg_etag_match_weak(lg_req_header(c->req, MHD_HTTP_HEADER_IF_NONE_MATCH), etag))
        return not_modified(c, etag);
    const struct lg_config *cfg = c->req->http->deps.cfg;
    char *cache =
        size > 0 ? lg_xasprintf("%s/cache/covers/%s-%d.jpg", cfg->data_dir, id->key, size) : NULL;
    struct lg_cover_req rq = {
        .path = path, .embedded = embedded, .size = size, .cache_path = cache
    };
    unsigned char *data;
    size_t len;
    const char *mime;
    rc = lg_cover_read(&rq, &data, &len, &mime);
    free(cache);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, NOT_FOUND);
    if (rc == LG_EMEDIA || rc == LG_ETOOBIG)
        return lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, "Cover art cannot be read");
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "reading a cover");
    return send_image(c, etag, data, len, mime);
}

enum MHD_Result lg_sub_get_cover_art(struct lg_sub_ctx *c)
{
    const char *id_s = lg_req_param(c->req, "id");
    if (!id_s || !*id_s)
        return lg_sub_reply_error(c, LG_SUB_ERR_MISSING_PARAM, "Required parameter is missing: id");
    int size;
    if (size_parse(lg_req_param(c->req, "size"), &size) < 0)
        return lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, "Invalid value for parameter size");
    struct cover_id id;
    if (cover_id_parse(id_s, &id) < 0)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, NOT_FOUND);
    return lg_sub_cover_send(c, id.kind, id.id, size);
}

enum MHD_Result lg_sub_cover_send(struct lg_sub_ctx *c, enum lg_cover_kind kind, int64_t item_id,
                                  int size)
{
    struct cover_id id;
    cover_id_set(&id, kind, item_id);
    const struct lg_http_deps *d = &c->req->http->deps;
    struct lg_cover_source src;
    int rc = lg_store_cover_source(d->store, id.kind, id.id, &src);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, NOT_FOUND);
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "finding a cover");
    enum MHD_Result r;
    if (!src.path) {
        r = serve_placeholder(c, size);
    } else if (!lg_path_rel_safe(src.path)) {
        r = lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, NOT_FOUND);
    } else {
        char *path = lg_xasprintf("%s/%s", d->cfg->music_dir, src.path);
        r = serve(c, &id, path, src.embedded, size);
        free(path);
    }
    lg_cover_source_free(&src);
    return r;
}

enum MHD_Result lg_sub_get_avatar(struct lg_sub_ctx *c)
{
    const char *name = lg_req_param(c->req, "username");
    if (!name || !*name)
        return lg_sub_reply_error(c, LG_SUB_ERR_MISSING_PARAM,
                                  "Required parameter is missing: username");
    return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "Avatar not found");
}
