/* SPDX-License-Identifier: MIT */
/*
 * Sending a transcode: the pipeline (stream/transcode.c) runs chunk by chunk
 * inside libmicrohttpd's content reader, so bytes leave as soon as a chunk
 * has made them and a listener who stops reading stops the work. The send
 * stage is the time from a chunk's bytes being ready to MHD taking them.
 *
 * The sink is a byte queue. Muxers that rewrite a header at the end (MP3's
 * LAME tag, FLAC's STREAMINFO) seek back: bytes for offsets still queued are
 * overwritten in place, bytes already sent are dropped, so a listener gets
 * the header as first written (the MP3 encoder delay is right; the padding
 * is not yet known then). WAV goes out as a pure stream (sizes 0xFFFFFFFF).
 * With an estimated Content-Length the body is cut or padded with zeros to
 * exactly that length, as Subsonic players that ask for one expect.
 */
#include "http/transcode_http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "http/http_int.h"
#include "prof/prof.h"

static const struct lg_log tlog = { "http/transcode" };

enum { QUEUE_MAX = 8 * 1024 * 1024, READ_BLOCK = 32 * 1024 };

struct tx {
    struct lg_transcode *t;
    unsigned char *q; /* bytes [sent, total) live at q[0 .. total - sent) */
    size_t cap;
    int64_t sent;   /* bytes handed to MHD */
    int64_t total;  /* bytes the muxer has written (its furthest offset) */
    int64_t pos;    /* the muxer's write position */
    int64_t length; /* the declared Content-Length, or -1 */
    bool done;
    bool failed;
    bool registered;
    char what[96];
    struct lg_prof_stream ps; /* what the profiler shows of this stream */
    struct lg_hist *send;     /* the send stage's histogram */
};

/* The profiler's view after a chunk: media made and sent (in proportion to
 * the bytes), stage times, and a stall when the listener had run dry. */
static void account(struct tx *x, int64_t now)
{
    double made = lg_transcode_media_s(x->t);
    x->ps.media_made_s = made;
    x->ps.media_sent_s = x->total > 0 ? made * (double)x->sent / (double)x->total : 0;
    for (int i = LG_STAGE_LOAD; i <= LG_STAGE_GENERATE; i++)
        x->ps.busy_s[i] = lg_transcode_busy_s(x->t, i);
    double ahead = lg_prof_stream_ahead(&x->ps, now);
    lg_hist_observe(lg_prof_buffer_ahead(), ahead);
    if (ahead <= 0 && x->sent > 0 && now - x->ps.started_ns > 1000000000LL) {
        x->ps.stalls++;
        lg_prof_count(LG_PROF_STALLS, 1);
        /* The slowest stage of this stream held it back. */
        int late = LG_STAGE_LOAD;
        for (int i = LG_STAGE_PROCESS; i < LG_STAGE_N; i++)
            late = x->ps.busy_s[i] > x->ps.busy_s[late] ? i : late;
        if (x->ps.late_stage != late)
            lg_log(&tlog, LG_LOG_WARN, "%s: the listener ran dry; stage %s is the slowest", x->what,
                   lg_prof_stage_name(late));
        x->ps.late_stage = late;
    }
}

static int tx_write(void *ctx, const uint8_t *data, size_t len)
{
    struct tx *x = ctx;
    /* Below what was sent: dropped. */
    if (x->pos < x->sent) {
        size_t skip = (size_t)(x->sent - x->pos) < len ? (size_t)(x->sent - x->pos) : len;
        data += skip;
        len -= skip;
        x->pos += (int64_t)skip;
    }
    /* Within the queue: overwritten in place. */
    if (len && x->pos < x->total) {
        size_t n = (size_t)(x->total - x->pos) < len ? (size_t)(x->total - x->pos) : len;
        memcpy(x->q + (x->pos - x->sent), data, n);
        data += n;
        len -= n;
        x->pos += (int64_t)n;
    }
    if (!len)
        return 0;
    size_t used = (size_t)(x->total - x->sent);
    if (used + len > x->cap) {
        if (used + len > QUEUE_MAX)
            return LG_ETOOBIG;
        size_t cap = x->cap ? x->cap : 64 * 1024;
        while (cap < used + len)
            cap *= 2;
        unsigned char *q = realloc(x->q, cap);
        if (!q)
            return -ENOMEM;
        x->q = q;
        x->cap = cap;
    }
    memcpy(x->q + used, data, len);
    x->total += (int64_t)len;
    x->pos = x->total;
    return 0;
}

static int tx_seek(void *ctx, int64_t off)
{
    struct tx *x = ctx;
    if (off < 0 || off > x->total)
        return LG_EINVAL;
    x->pos = off;
    return 0;
}

static ssize_t tx_read(void *cls, uint64_t at, char *buf, size_t max)
{
    struct tx *x = cls;
    (void)at;
    if (!x->registered) {
        lg_prof_stream_register(&x->ps, x->what);
        x->ps.late_stage = -1;
        x->registered = true;
    }
    int64_t t0 = lg_prof_begin();
    while (x->total == x->sent && !x->done) {
        account(x, t0);
        int r = lg_transcode_step(x->t);
        if (r <= 0) {
            x->done = true;
            if (r < 0) {
                x->failed = true;
                lg_log(&tlog, LG_LOG_WARN, "%s: the transcode stopped: %s", x->what,
                       lg_strerror(r));
            }
        }
    }
    size_t avail = (size_t)(x->total - x->sent);
    if (x->length >= 0) {
        int64_t left = x->length - x->sent;
        if (left <= 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if ((int64_t)avail > left)
            avail = (size_t)left;
        if (avail == 0) { /* the estimate was high: zeros to the end */
            size_t n = (int64_t)max < left ? max : (size_t)left;
            memset(buf, 0, n);
            x->sent += (int64_t)n;
            x->total = x->sent;
            x->pos = x->total;
            return (ssize_t)n;
        }
    }
    if (avail == 0)
        return x->failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = avail < max ? avail : max;
    int64_t ts = lg_prof_begin();
    memcpy(buf, x->q, n);
    memmove(x->q, x->q + n, (size_t)(x->total - x->sent) - n);
    x->sent += (int64_t)n;
    x->ps.busy_s[LG_STAGE_SEND] += (double)lg_prof_end(x->send, ts, "send") / 1e9;
    if (x->length >= 0 && x->sent >= x->length) /* the estimate was low: cut */
        x->done = true;
    return (ssize_t)n;
}

static void tx_free(void *cls)
{
    struct tx *x = cls;
    if (x->registered)
        lg_prof_stream_done(&x->ps);
    lg_transcode_free(x->t);
    free(x->q);
    free(x);
}

int64_t lg_transcode_estimate(const struct lg_transcode_opts *o, double seconds)
{
    int kbps = lg_format_bitrate(o->format, o->bitrate_kbps);
    if (kbps <= 0 || !(seconds > 0))
        return -1;
    /* Container overhead: Ogg pages about 1 %, headers a few KiB. */
    return (int64_t)(seconds * kbps * 1000 / 8 * 1.01) + 8192;
}

enum MHD_Result lg_http_send_transcode(struct lg_req *r, struct lg_stream_file *f,
                                       const struct lg_transcode_opts *o, double duration_s,
                                       bool estimate, int64_t track_id)
{
    struct tx *x = calloc(1, sizeof(*x));
    if (!x) {
        lg_stream_file_close(f);
        return lg_req_reply_static(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "busy\n");
    }
    snprintf(x->what, sizeof(x->what), "track %" PRId64 " %s %dk", track_id,
             lg_format_name(o->format), lg_format_bitrate(o->format, o->bitrate_kbps));
    x->length = estimate ? lg_transcode_estimate(o, duration_s - o->offset_s) : -1;
    x->send = lg_prof_stage("send", lg_format_name(o->format), "cpu");
    const char *ctype = lg_format_mime(o->format);
    if (r->head) {
        lg_stream_file_close(f);
        free(x);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        return lg_req_reply(r, MHD_HTTP_OK, resp, 0);
    }
    /* The catalogue's file, already opened and checked, by its descriptor. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
    char err[256] = "";
    int rc = lg_transcode_open(path, o, tx_write, o->format == LG_FORMAT_WAV ? NULL : tx_seek, x,
                               &x->t, err, sizeof(err));
    lg_stream_file_close(f);
    if (rc < 0) {
        lg_log(&tlog, LG_LOG_WARN, "%s: cannot transcode: %s", x->what,
               err[0] ? err : lg_strerror(rc));
        tx_free(x);
        return lg_req_reply_static(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "text/plain",
                                   "this track cannot be transcoded\n");
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(
        x->length >= 0 ? (uint64_t)x->length : MHD_SIZE_UNKNOWN, READ_BLOCK, tx_read, x, tx_free);
    if (!resp) {
        tx_free(x);
        return lg_req_reply(r, MHD_HTTP_OK, NULL, 0);
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "none");
    r->sent_track = true;
    return lg_req_reply(r, MHD_HTTP_OK, resp, x->length >= 0 ? x->length : 0);
}
