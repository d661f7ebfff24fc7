/* SPDX-License-Identifier: MIT */
/*
 * The embedded static files (see static.h). Names are matched exactly
 * against the embedded list, so no path from a peer ever reaches the file
 * system. The ETag is a BLAKE2b hash of the content, computed per request
 * (a few microseconds for a small script) rather than kept in a global.
 */
#include "http/static.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/str.h"
#include "http/http_int.h"
#include "stream/stream.h"

/* What scripts/embed.py generates (assets.c). */
struct lg_embedded {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct lg_embedded lg_asset_files[];
extern const size_t lg_asset_count;

/* Kept, but checked against its ETag at each use (a 304): the pages that load
 * these files name them without a version, so a week's max-age kept the old
 * script running against a new page for days after an upgrade. */
#define CACHE_CONTROL "public, no-cache"

static const struct {
    const char *suffix;
    const char *type;
} types[] = {
    { ".js", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
};

bool lg_static_is_route(const char *path)
{
    return strncmp(path, "/static/", 8) == 0 || strcmp(path, "/favicon.ico") == 0;
}

/* Browsers ask every page's origin for /favicon.ico when the page's CSP
 * allows images; a 404 there shows up as an error in the page's console. */
static enum MHD_Result no_icon(struct lg_req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_CONTROL);
    return lg_req_reply(r, MHD_HTTP_NO_CONTENT, resp, 0);
}

static const struct lg_embedded *find(const char *name)
{
    for (size_t i = 0; i < lg_asset_count; i++) {
        if (strcmp(lg_asset_files[i].name, name) == 0)
            return &lg_asset_files[i];
    }
    return NULL;
}

static const char *type_of(const char *name)
{
    for (size_t i = 0; i < LG_ARRAY_LEN(types); i++) {
        if (lg_str_has_suffix_ci(name, types[i].suffix))
            return types[i].type;
    }
    return "application/octet-stream";
}

/* A strong ETag: "s-" and 16 bytes of the content's hash in hex. */
static void etag_of(const struct lg_embedded *f, char out[LG_ETAG_MAX])
{
    unsigned char h[16];
    char hex[33];
    crypto_generichash(h, sizeof(h), f->data, f->len, NULL, 0);
    lg_hex_encode(hex, h, sizeof(h));
    snprintf(out, LG_ETAG_MAX, "\"s-%s\"", hex);
}

enum MHD_Result lg_static_route(struct lg_req *r)
{
    if (!r->head && strcmp(r->method, "GET") != 0) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            19, (void *)"method not allowed\n", MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return lg_req_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, resp, 19);
    }
    if (strcmp(r->path, "/favicon.ico") == 0)
        return no_icon(r);
    const struct lg_embedded *f = find(r->path + 8);
    if (!f)
        return lg_req_reply_static(r, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
    char etag[LG_ETAG_MAX];
    etag_of(f, etag);
    bool fresh = lg_etag_match_weak(lg_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
    size_t len = fresh ? 0 : f->len;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    if (!fresh)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type_of(f->name));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_CONTROL);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    return lg_req_reply(r, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp, (int64_t)len);
}
