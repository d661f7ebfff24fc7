/* SPDX-License-Identifier: MIT */
/*
 * /rest/stream and /rest/download: stream/ opens the track's file below the
 * music folder (the path comes from the catalogue only, never from the
 * request) and decides between 200, 206, 304 and 416; the open descriptor goes
 * to MHD, which sends the bytes with sendfile(2) and closes it when the
 * response is done.
 */
#include "http/subsonic_media.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"
#include "store/store.h"
#include "stream/stream.h"

/* Headers that depend on the plan; the validators go on every answer. */
static void add_headers(struct MHD_Response *resp, const struct lg_stream_file *f,
                        const struct lg_stream_plan *plan, bool download)
{
    char buf[1024];
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, f->etag);
    if (f->last_modified[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, f->last_modified);
    if (plan->status == 416) {
        snprintf(buf, sizeof(buf), "bytes */%" PRId64, f->size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
        return;
    }
    if (plan->status == 304)
        return;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->content_type);
    if (plan->status == 206) {
        snprintf(buf, sizeof(buf), "bytes %" PRId64 "-%" PRId64 "/%" PRId64, plan->offset,
                 plan->offset + plan->length - 1, f->size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
    }
    if (download && lg_content_disposition(f->name, buf, sizeof(buf)) > 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, buf);
}

static enum MHD_Result send_file(struct lg_sub_ctx *c, struct lg_stream_file *f, bool download)
{
    struct lg_req *r = c->req;
    struct lg_stream_cond cond = {
        .range = lg_req_header(r, MHD_HTTP_HEADER_RANGE),
        .if_range = lg_req_header(r, MHD_HTTP_HEADER_IF_RANGE),
        .if_none_match = lg_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .if_modified_since = lg_req_header(r, MHD_HTTP_HEADER_IF_MODIFIED_SINCE),
    };
    struct lg_stream_plan plan;
    lg_stream_plan(f->size, f->mtime_s, f->etag, &cond, &plan);
    struct MHD_Response *resp = NULL;
    if (plan.length > 0) {
        resp = MHD_create_response_from_fd_at_offset64((uint64_t)plan.length, f->fd,
                                                       (uint64_t)plan.offset);
        if (resp)
            f->fd = -1; /* the response owns it now */
    } else {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    lg_stream_file_close(f);
    if (resp)
        add_headers(resp, f, &plan, download);
    r->sent_track = resp && plan.length > 0;
    return lg_req_reply(r, (unsigned)plan.status, resp, plan.length);
}

static enum MHD_Result serve(struct lg_sub_ctx *c, bool download)
{
    if (!(c->user.roles & (download ? LG_ROLE_DOWNLOAD : LG_ROLE_STREAM)))
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED,
                                  "User is not authorized for the given operation");
    struct lg_stream *st = c->req->http->stream;
    const char *id_s = lg_req_param(c->req, "id");
    if (!id_s || !*id_s)
        return lg_sub_reply_error(c, LG_SUB_ERR_MISSING_PARAM, "Required parameter is missing: id");
    int64_t id;
    if (lg_str_to_i64(id_s, 1, INT64_MAX, &id) != 0)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "Song not found");
    if (!st)
        return lg_sub_reply_internal(c, LG_EINVAL, "no store or music folder configured");
    struct lg_stream_file f;
    int rc = lg_stream_open_track(st, id, &f);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "Song not found");
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "opening a track");
    return send_file(c, &f, download);
}

enum MHD_Result lg_sub_stream(struct lg_sub_ctx *c)
{
    return serve(c, false);
}

enum MHD_Result lg_sub_download(struct lg_sub_ctx *c)
{
    return serve(c, true);
}
