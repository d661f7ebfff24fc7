/* SPDX-License-Identifier: MIT */
/*
 * Sending a transcode. A finished one comes from the cache like a file (with
 * ranges); otherwise the request attaches to the shared job for the same
 * source and settings (stream/jobs.c), starting it if none runs. The
 * response's content reader takes what the job has made; when it has caught
 * up it suspends the connection, and the worker that makes the next chunk
 * resumes it. A listener who leaves detaches; the last one stops the job.
 *
 * With an estimated Content-Length the body is cut or padded with zeros to
 * exactly that length, as Subsonic players that ask for one expect (from the
 * cache, the length is exact).
 */
#include "http/transcode_http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/log.h"
#include "dsp/dsp.h"
#include "http/http_int.h"
#include "http/subsonic_media.h"
#include "prof/prof.h"

static const struct lg_log tlog = { "http/transcode" };

enum { READ_BLOCK = 32 * 1024 };

struct tx {
    struct lg_job_reader *rd;
    struct MHD_Connection *conn;
    int64_t sent;   /* bytes handed to MHD */
    int64_t length; /* the declared Content-Length, or -1 */
    bool eof;
    bool registered;
    bool low; /* the buffer is low: logged once until it recovers */
    bool dry; /* it has run dry: one stall counted until it recovers */
    char what[96];
    struct lg_prof_stream ps; /* what the profiler shows of this stream */
    struct lg_hist *send;     /* the send stage's histogram */
};

static void conn_suspend(void *ctx)
{
    MHD_suspend_connection(ctx);
}

static void conn_resume(void *ctx)
{
    MHD_resume_connection(ctx);
}

enum { LOW_BUFFER_S = 2 }; /* a listener with less than this is about to stall */

/* The profiler's view of the listener: media taken and made, stage times;
 * a stall when it has run dry since its first byte, and a log line naming
 * the stage to blame when its buffer gets low (once per episode). */
static void account(struct tx *x, int64_t now)
{
    struct lg_job_stats st;
    lg_job_stats(x->rd, &st);
    x->ps.media_sent_s = st.read_s;
    x->ps.media_made_s = st.made_s;
    for (int i = 0; i < 3; i++)
        x->ps.busy_s[i] = st.busy_s[i];
    double ahead = lg_prof_stream_ahead(&x->ps, now);
    lg_hist_observe(lg_prof_buffer_ahead(), ahead);
    bool started = x->sent > 0 && now - x->ps.started_ns > 2000000000LL;
    if (!started || ahead >= LOW_BUFFER_S) {
        x->low = x->dry = false;
        return;
    }
    if (ahead <= 0 && !x->dry) { /* one stall per time it runs dry */
        x->ps.stalls++;
        lg_prof_count(LG_PROF_STALLS, 1);
    }
    x->dry = ahead <= 0;
    if (!x->low) {
        char why[160];
        x->ps.late_stage = lg_job_diagnose(&st, why, sizeof(why));
        lg_log(&tlog, LG_LOG_WARN, "%s: the listener has %.1f s buffered at %.1f s: %s", x->what,
               ahead, st.read_s, why);
        x->low = true;
    }
}

static ssize_t tx_fill(void *cls, uint64_t at, char *buf, size_t max)
{
    struct tx *x = cls;
    (void)at;
    int64_t now = lg_prof_now_ns(); /* the real clock, even with profiling off */
    int64_t t0 = lg_prof_begin();
    if (!x->registered) {
        lg_prof_stream_register(&x->ps, x->what);
        x->registered = true;
    }
    if (x->length >= 0 && x->sent >= x->length)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t want = max;
    if (x->length >= 0 && (int64_t)want > x->length - x->sent)
        want = (size_t)(x->length - x->sent);
    ssize_t n = x->eof ? LG_JOB_EOF : lg_job_read(x->rd, buf, want, now, conn_suspend, x->conn);
    if (n == 0) {
        account(x, now);
        return 0; /* suspended until the job has more */
    }
    if (n < 0) {
        x->eof = true;
        if (n != LG_JOB_EOF && x->length < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (x->length < 0 || x->sent >= x->length)
            return MHD_CONTENT_READER_END_OF_STREAM;
        /* The estimate was high: zeros to the announced end. */
        n = (ssize_t)want;
        memset(buf, 0, want);
    }
    x->sent += n;
    account(x, now);
    lg_prof_end(x->send, t0, "send");
    return n;
}

/* MHD's reader: tx_fill inside an NVTX range named after the stage. */
static ssize_t tx_read(void *cls, uint64_t at, char *buf, size_t max)
{
    lg_dsp_nvtx_push("send");
    ssize_t n = tx_fill(cls, at, buf, max);
    lg_dsp_nvtx_pop();
    return n;
}

static void tx_free(void *cls)
{
    struct tx *x = cls;
    if (x->registered)
        lg_prof_stream_done(&x->ps);
    lg_job_detach(x->rd);
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

/* The cache key: the source file's validator (its inode, size and mtime)
 * and every setting that changes the bytes. */
static void cache_key(char *out, size_t cap, const struct lg_stream_file *f,
                      const struct lg_transcode_opts *o)
{
    snprintf(out, cap, "v1 %s %s %d %.3f %.4f %d %d %d", f->etag, lg_format_name(o->format),
             lg_format_bitrate(o->format, o->bitrate_kbps), o->offset_s, o->gain_db, o->limit,
             o->bits, o->complexity);
}

/* A finished transcode from the cache, served like a file (ranges, ETag).
 * The ETag is weak: a transcode made again after eviction (on another
 * backend, say) sounds the same but may differ in its bytes, so it may answer
 * If-None-Match but never join ranges of two encodings through If-Range. */
static enum MHD_Result send_cached(struct lg_req *r, struct lg_stream_file *f, int fd, int64_t size,
                                   const struct lg_transcode_opts *o, const char *key)
{
    struct lg_stream_file c = { .fd = fd, .size = size, .mtime_s = f->mtime_s };
    unsigned char h[8];
    crypto_generichash(h, sizeof(h), (const unsigned char *)key, strlen(key), NULL, 0);
    snprintf(c.etag, sizeof(c.etag), "W/\"t%02x%02x%02x%02x%02x%02x%02x%02x\"", h[0], h[1], h[2],
             h[3], h[4], h[5], h[6], h[7]);
    snprintf(c.content_type, sizeof(c.content_type), "%s", lg_format_mime(o->format));
    snprintf(c.name, sizeof(c.name), "track.%s", lg_format_suffix(o->format));
    lg_stream_file_close(f);
    lg_prof_count(LG_PROF_CACHE_HITS, 1);
    lg_prof_count(LG_PROF_CACHE_BYTES_OUT, size);
    return lg_http_send_track(r, &c, false);
}

/* 503 with Retry-After: the transcodes use all the memory they may now. */
static enum MHD_Result busy(struct lg_req *r)
{
    static const char text[] = "too many transcodes at once; try again shortly\n";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "10");
    }
    return lg_req_reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, resp, (int64_t)sizeof(text) - 1);
}

/* The headers of a transcode being made, for GET and HEAD alike. */
static void live_headers(struct MHD_Response *resp, const char *ctype)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "none");
}

/* The body of a HEAD answer, which MHD never asks for. */
static ssize_t head_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

enum MHD_Result lg_http_send_transcode(struct lg_req *r, struct lg_stream_file *f,
                                       const struct lg_transcode_opts *o, double duration_s,
                                       bool estimate, int64_t track_id)
{
    const char *ctype = lg_format_mime(o->format);
    char key[256];
    cache_key(key, sizeof(key), f, o);
    struct lg_cache *cache = r->http->cache;
    int cfd;
    int64_t csize;
    if (cache && lg_cache_get(cache, key, &cfd, &csize) == 0)
        return send_cached(r, f, cfd, csize, o, key); /* HEAD too: the real length */
    int64_t length = estimate ? lg_transcode_estimate(o, duration_s - o->offset_s) : -1;
    if (r->head) {
        /* The headers a GET would get, without starting a transcode: the
         * estimated length when asked for, else none (the body's length is
         * not known before it is made). */
        lg_stream_file_close(f);
        struct MHD_Response *resp = MHD_create_response_from_callback(
            length >= 0 ? (uint64_t)length : MHD_SIZE_UNKNOWN, READ_BLOCK, head_read, NULL, NULL);
        if (resp)
            live_headers(resp, ctype);
        return lg_req_reply(r, MHD_HTTP_OK, resp, 0);
    }
    lg_prof_count(LG_PROF_CACHE_MISSES, 1);
    struct tx *x = calloc(1, sizeof(*x));
    if (!x) {
        lg_stream_file_close(f);
        return lg_req_reply_static(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "busy\n");
    }
    x->conn = r->conn;
    snprintf(x->what, sizeof(x->what), "track %" PRId64 " %s %dk", track_id,
             lg_format_name(o->format), lg_format_bitrate(o->format, o->bitrate_kbps));
    x->length = length;
    x->send = lg_prof_stage("send", lg_format_name(o->format), "cpu");
    /* The catalogue's file, already opened and checked, by its descriptor. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
    char err[256] = "";
    bool shared = false;
    int rc = lg_jobs_attach(r->http->jobs, key, path, o, conn_resume, r->conn, &x->rd, &shared, err,
                            sizeof(err));
    lg_stream_file_close(f);
    if (rc < 0) {
        lg_log(&tlog, LG_LOG_WARN, "%s: cannot transcode: %s", x->what,
               err[0] ? err : lg_strerror(rc));
        free(x);
        if (rc == -EBUSY) /* the server's share of memory for transcodes is taken */
            return busy(r);
        return lg_req_reply_static(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "text/plain",
                                   "this track cannot be transcoded\n");
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(
        x->length >= 0 ? (uint64_t)x->length : MHD_SIZE_UNKNOWN, READ_BLOCK, tx_read, x, tx_free);
    if (!resp) {
        tx_free(x);
        return lg_req_reply(r, MHD_HTTP_OK, NULL, 0);
    }
    live_headers(resp, ctype);
    if (shared)
        MHD_add_response_header(resp, "X-Legato-Transcode", "shared");
    r->sent_track = true;
    return lg_req_reply(r, MHD_HTTP_OK, resp, x->length >= 0 ? x->length : 0);
}
