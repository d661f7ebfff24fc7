/* SPDX-License-Identifier: MIT */
/*
 * The transcode pipeline: load (read, demux, decode: media/decode.c),
 * process (src/dsp: resample to the encoder's rate, gain, true-peak limiter),
 * generate (encode, mux: media/encode.c). Each lg_transcode_step moves one
 * chunk of audio through all three and hands the bytes it made to the sink
 * before returning, so that a caller that sends them at once (the send stage)
 * gets first bytes after one small chunk. Every stage is timed into the
 * profiler's histograms labelled (stage, format, "cpu").
 *
 * Lengths are exact: the resampler is delay-compensated and length-exact, the
 * limiter's look-ahead is cut from the front and flushed at the end, and the
 * encoder signals its own delay and padding, so a decoder that honours them
 * gets back exactly round(n * out_rate / in_rate) frames for n source frames.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "dsp/dsp.h"
#include "media/media.h"
#include "prof/prof.h"
#include "stream/stream.h"

enum {
    FIRST_CHUNK_MS = 100, /* the first chunk: small, for a fast first byte */
    CHUNK_MS = 500,
};
#define LIMIT_CEILING_DBTP (-1.0)
#define LIMIT_LOOKAHEAD_MS 5.0
#define LIMIT_RELEASE_MS   150.0

struct lg_transcode {
    struct lg_decoder *dec;
    struct lg_encoder *enc;
    struct lg_resampler *rs; /* NULL when the rates agree */
    struct lg_gain *gain;    /* NULL without gain */
    struct lg_limiter *lim;  /* NULL without a limiter */
    int format;
    int in_rate, out_rate, channels;
    int64_t lim_skip; /* limiter output frames still to drop (its delay) */
    float *in;        /* decoded frames gathered for one chunk */
    size_t in_len, in_cap;
    float *out; /* processed frames */
    size_t out_cap;
    int64_t frames_out; /* frames given to the encoder */
    int64_t chunks;
    bool eof, done;
    struct lg_hist *hist[LG_STAGE_N - 1]; /* load, process, generate */
    int64_t busy_ns[LG_STAGE_N - 1];
};

void lg_transcode_free(struct lg_transcode *t)
{
    if (!t)
        return;
    lg_decoder_free(t->dec);
    lg_encoder_free(t->enc);
    lg_resampler_free(t->rs);
    lg_gain_free(t->gain);
    lg_limiter_free(t->lim);
    free(t->in);
    free(t->out);
    free(t);
}

static int grow(float **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    float *q = realloc(*p, n * sizeof(float));
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

int lg_transcode_open(const char *path, const struct lg_transcode_opts *o,
                      lg_encoder_write_fn *write, lg_encoder_seek_fn *seek, void *ctx,
                      struct lg_transcode **out, char *err, size_t err_len)
{
    if (err && err_len)
        *err = '\0';
    if (!o || lg_format_parse(lg_format_name(o->format)) != o->format || o->offset_s < 0 ||
        !isfinite(o->offset_s) || !isfinite(o->gain_db) || fabs(o->gain_db) > 60)
    {
        if (err && err_len)
            snprintf(err, err_len, "bad transcode options");
        return LG_EINVAL;
    }
    struct lg_transcode *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->format = o->format;
    const char *fname = lg_format_name(o->format);
    static const char *const names[] = { "load", "process", "generate" };
    for (int i = 0; i < LG_STAGE_N - 1; i++)
        t->hist[i] = lg_prof_stage(names[i], fname, "cpu");
    int64_t t0 = lg_prof_begin();
    int r = lg_decoder_open(path, &t->dec, err, err_len);
    if (r == 0) {
        t->in_rate = lg_decoder_rate(t->dec);
        t->channels = lg_decoder_channels(t->dec);
        t->out_rate = lg_format_rate(o->format, t->in_rate);
        if (t->channels > 8) {
            r = LG_EMEDIA;
            if (err && err_len)
                snprintf(err, err_len, "more than 8 channels");
        }
    }
    if (r == 0 && o->offset_s > 0)
        r = lg_decoder_seek(t->dec, (int64_t)llround(o->offset_s * t->in_rate));
    t->busy_ns[0] += lg_prof_end(t->hist[0], t0, "load");
    if (r == 0 && t->out_rate != t->in_rate) {
        t->rs = lg_resampler_new(t->in_rate, t->out_rate, t->channels);
        if (!t->rs)
            r = -ENOMEM;
    }
    if (r == 0 && o->gain_db != 0) {
        t->gain = lg_gain_new(t->out_rate, t->channels, 0);
        if (!t->gain)
            r = -ENOMEM;
        else
            lg_gain_set_db(t->gain, o->gain_db);
    }
    if (r == 0 && o->limit) {
        t->lim = lg_limiter_new(t->out_rate, t->channels, LIMIT_CEILING_DBTP, LIMIT_LOOKAHEAD_MS,
                                LIMIT_RELEASE_MS);
        if (!t->lim)
            r = -ENOMEM;
        else
            t->lim_skip = lg_limiter_latency_frames(t->lim);
    }
    if (r == 0) {
        struct lg_encode_opts eo = {
            .format = o->format,
            .bitrate_kbps = o->bitrate_kbps,
            .rate = t->out_rate,
            .channels = t->channels,
            .bits = o->bits,
            .complexity = o->complexity,
        };
        int64_t g0 = lg_prof_begin();
        r = lg_encoder_open(&eo, write, seek, ctx, &t->enc, err, err_len);
        t->busy_ns[2] += lg_prof_end(t->hist[2], g0, "generate");
    }
    if (r < 0) {
        lg_transcode_free(t);
        return r;
    }
    *out = t;
    return 0;
}

/* load: gathers about want decoded frames (fewer at the end). */
static int load(struct lg_transcode *t, size_t want)
{
    t->in_len = 0;
    while (!t->eof && t->in_len < want) {
        const float *pcm;
        int n = lg_decoder_read(t->dec, &pcm);
        if (n < 0)
            return n;
        if (n == 0) {
            t->eof = true;
            break;
        }
        size_t ch = (size_t)t->channels;
        if (grow(&t->in, &t->in_cap, (t->in_len + (size_t)n) * ch) < 0)
            return -ENOMEM;
        memcpy(t->in + t->in_len * ch, pcm, (size_t)n * ch * sizeof(float));
        t->in_len += (size_t)n;
    }
    return 0;
}

/* Cuts what is left of the limiter's delay from the front of n frames in
 * buf; returns the frames that remain, moved to its start. */
static size_t cut_delay(struct lg_transcode *t, float *buf, size_t n)
{
    size_t drop = t->lim_skip < (int64_t)n ? (size_t)t->lim_skip : n;
    t->lim_skip -= (int64_t)drop;
    if (drop)
        memmove(buf, buf + drop * (size_t)t->channels,
                (n - drop) * (size_t)t->channels * sizeof(float));
    return n - drop;
}

/* process: resample, gain, limit. Returns the frames ready in t->out. At the
 * end of the input the resampler's and the limiter's tails are added. */
static int process(struct lg_transcode *t, size_t *n_out)
{
    size_t ch = (size_t)t->channels;
    size_t n;
    if (t->rs) {
        size_t cap = lg_resampler_out_max(t->rs, t->in_len);
        if (t->eof)
            cap += lg_resampler_flush_max(t->rs);
        if (grow(&t->out, &t->out_cap, (cap + 1) * ch) < 0)
            return -ENOMEM;
        n = lg_resampler_process(t->rs, t->in, t->in_len, t->out, cap);
        if (t->eof) {
            size_t k;
            while ((k = lg_resampler_flush(t->rs, t->out + n * ch, cap - n)) > 0)
                n += k;
        }
    } else {
        if (grow(&t->out, &t->out_cap, t->in_len * ch + ch) < 0)
            return -ENOMEM;
        if (t->in_len)
            memcpy(t->out, t->in, t->in_len * ch * sizeof(float));
        n = t->in_len;
    }
    if (t->gain)
        lg_gain_process(t->gain, t->out, n);
    if (t->lim) {
        lg_limiter_process(t->lim, t->out, t->out, n);
        n = cut_delay(t, t->out, n);
        if (t->eof) {
            size_t lat = (size_t)lg_limiter_latency_frames(t->lim);
            if (grow(&t->out, &t->out_cap, (n + lat) * ch) < 0)
                return -ENOMEM;
            /* The held tail; on a track shorter than the look-ahead part of
             * it is still the delay to cut. */
            lg_limiter_flush(t->lim, t->out + n * ch);
            n += cut_delay(t, t->out + n * ch, lat);
        }
    }
    *n_out = n;
    return 0;
}

int lg_transcode_step(struct lg_transcode *t)
{
    if (t->done)
        return 0;
    int ms = t->chunks++ == 0 ? FIRST_CHUNK_MS : CHUNK_MS;
    size_t want = (size_t)t->in_rate * (size_t)ms / 1000;
    int64_t t0 = lg_prof_begin();
    int r = load(t, want ? want : 1);
    t->busy_ns[0] += lg_prof_end(t->hist[0], t0, "load");
    if (r < 0)
        return r;
    size_t n = 0;
    t0 = lg_prof_begin();
    r = process(t, &n);
    t->busy_ns[1] += lg_prof_end(t->hist[1], t0, "process");
    if (r < 0)
        return r;
    t0 = lg_prof_begin();
    r = n ? lg_encoder_write(t->enc, t->out, n) : 0;
    t->frames_out += (int64_t)n;
    if (r == 0 && t->eof) {
        r = lg_encoder_finish(t->enc);
        t->done = r == 0;
    }
    t->busy_ns[2] += lg_prof_end(t->hist[2], t0, "generate");
    if (r < 0)
        return r;
    return t->done ? 0 : 1;
}

int lg_transcode_rate(const struct lg_transcode *t)
{
    return t->out_rate;
}

int lg_transcode_channels(const struct lg_transcode *t)
{
    return t->channels;
}

double lg_transcode_media_s(const struct lg_transcode *t)
{
    return (double)t->frames_out / t->out_rate;
}

double lg_transcode_busy_s(const struct lg_transcode *t, int stage)
{
    return stage >= 0 && stage < LG_STAGE_N - 1 ? (double)t->busy_ns[stage] / 1e9 : 0;
}

int64_t lg_transcode_frames(const struct lg_transcode *t)
{
    return t->frames_out;
}

/* --- file to file --- */

struct file_sink {
    int fd;
    int64_t pos;
};

static int file_write(void *ctx, const uint8_t *data, size_t len)
{
    struct file_sink *f = ctx;
    while (len > 0) {
        ssize_t n = pwrite(f->fd, data, len, (off_t)f->pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        data += n;
        len -= (size_t)n;
        f->pos += n;
    }
    return 0;
}

static int file_seek(void *ctx, int64_t off)
{
    struct file_sink *f = ctx;
    f->pos = off;
    return 0;
}

static int stdout_write(void *ctx, const uint8_t *data, size_t len)
{
    struct file_sink *f = ctx;
    while (len > 0) {
        ssize_t n = write(f->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int lg_transcode_file(const char *in, const char *out, const struct lg_transcode_opts *o, char *err,
                      size_t err_len)
{
    bool to_stdout = strcmp(out, "-") == 0;
    char *tmp = NULL;
    struct file_sink sink = { .fd = STDOUT_FILENO };
    if (!to_stdout) {
        /* Written beside the target and renamed over it when complete, so a
         * failure never leaves half a file under the target's name. */
        tmp = lg_xasprintf("%s.part-XXXXXX", out);
        sink.fd = mkstemp(tmp);
        if (sink.fd < 0) {
            int e = -errno;
            if (err && err_len)
                snprintf(err, err_len, "cannot create %s: %s", out, strerror(errno));
            free(tmp);
            return e;
        }
    }
    struct lg_transcode *t = NULL;
    int r = lg_transcode_open(in, o, to_stdout ? stdout_write : file_write,
                              to_stdout ? NULL : file_seek, &sink, &t, err, err_len);
    while (r >= 0 && (r = lg_transcode_step(t)) > 0)
        ;
    if (r < 0 && err && err_len && !*err)
        snprintf(err, err_len, "%s", lg_strerror(r));
    lg_transcode_free(t);
    if (!to_stdout) {
        if (r == 0 && (fchmod(sink.fd, 0644) < 0 || fsync(sink.fd) < 0))
            r = -errno;
        if (close(sink.fd) < 0 && r == 0)
            r = -errno;
        if (r == 0 && rename(tmp, out) < 0) {
            r = -errno;
            if (err && err_len)
                snprintf(err, err_len, "cannot write %s: %s", out, strerror(errno));
        }
        if (r < 0)
            unlink(tmp);
        free(tmp);
    }
    return r;
}
