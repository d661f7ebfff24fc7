/* SPDX-License-Identifier: MIT */
/*
 * Gain, limiting and summaries applied after decoding: a gain stage whose
 * changes ramp linearly (no zipper noise), a linked look-ahead true-peak
 * limiter, the ReplayGain 2.0 gain rule, and waveform buckets for seek bars.
 *
 * Limiter invariants (D = look-ahead frames, T = detector half-length,
 * W = D - 2T): at input frame n the sidechain rates the interval
 * [n - T, n - T + 1) by the largest |x| of the sample and three 4x
 * interpolated points (max over channels, with LG_LIM_MARGIN_DB to spare),
 * the interpolator being a 4x Kaiser(12) windowed sinc of 2T = 128 taps per
 * phase, so that the hold below keeps the gain constant over the window of
 * any meter up to that length (BS.1770's has 48). 4x meters still disagree
 * by up to 0.2 dB (short BS.1770-style interpolators on band-limited bursts,
 * long ones on full-band noise near Nyquist), which the 0.3 dB margin covers,
 * giving a needed gain r. The envelope is the minimum of r over the last
 * W + 2T + 2 ratings, released exponentially, then averaged over W frames;
 * the result multiplies frame n - D. So every frame within T of a peak gets
 * the same gain, at most the peak's r, and the gain ramps in over W frames
 * before it. While r stays 1 the gain is exactly 1 (bit-exact delay).
 * The per-sample math of the gain ramp and the limiter lives in
 * kernels_gain.h, which the batcher's streaming kernels share.
 * Objects are not thread-safe; one per stream.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"
#include "dsp/kernels_gain.h"

/* ---- gain with ramps ---- */

struct lg_gain {
    int channels;
    struct lg_gain_ramp r;
};

struct lg_gain *lg_gain_new(int rate_hz, int channels, double ramp_ms)
{
    if (rate_hz <= 0 || channels <= 0 || ramp_ms < 0)
        return NULL;
    struct lg_gain *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->channels = channels;
    g->r.ramp_frames = (uint64_t)llround(ramp_ms * rate_hz / 1000.0);
    g->r.cur = g->r.target = 1.0;
    return g;
}

void lg_gain_free(struct lg_gain *g)
{
    free(g);
}

void lg_gain_set_db(struct lg_gain *g, double db)
{
    lg_gain_ramp_set(&g->r, pow(10.0, db / 20.0));
}

void lg_gain_process(struct lg_gain *g, float *buf, size_t n_frames)
{
    size_t ch = (size_t)g->channels;
    for (size_t i = 0; i < n_frames; i++) {
        float k = lg_gain_ramp_next(&g->r);
        for (size_t c = 0; c < ch; c++)
            buf[i * ch + c] *= k;
    }
}

/* ---- true-peak limiter ---- */

struct lg_limiter {
    int channels, delay; /* D */
    size_t ring;         /* R = D + 1 frames, stored twice (mirror) */
    size_t pos;          /* ring slot of the newest frame */
    float *hist;         /* channels rows of 2R floats */
    float coef[3][2 * LG_LIM_T];
    struct lg_lim_env e;
    double *dq_val;   /* monotonic deque of (rating, index) */
    uint64_t *dq_idx; /* ring of hold entries */
    double *env_box;  /* last W envelope values */
};

void lg_limiter_reset(struct lg_limiter *l)
{
    memset(l->hist, 0, (size_t)l->channels * 2 * l->ring * sizeof(float));
    l->pos = 0;
    lg_lim_env_reset(&l->e, l->env_box);
}

struct lg_limiter *lg_limiter_new(int rate_hz, int channels, double ceiling_dbtp,
                                  double lookahead_ms, double release_ms)
{
    int d = (int)lround(lookahead_ms * rate_hz / 1000.0);
    if (rate_hz <= 0 || channels <= 0 || channels > 64 || d < 2 * LG_LIM_T + 8 || release_ms <= 0)
        return NULL;
    struct lg_limiter *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->channels = channels;
    l->delay = d;
    l->ring = (size_t)d + 1;
    lg_lim_env_init(&l->e, rate_hz, ceiling_dbtp, release_ms, d - 2 * LG_LIM_T);
    lg_lim_coefs(l->coef);
    l->hist = malloc((size_t)channels * 2 * l->ring * sizeof(float));
    l->dq_val = malloc(l->e.hold * sizeof(double));
    l->dq_idx = malloc(l->e.hold * sizeof(uint64_t));
    l->env_box = malloc(l->e.box * sizeof(double));
    if (!l->hist || !l->dq_val || !l->dq_idx || !l->env_box) {
        lg_limiter_free(l);
        return NULL;
    }
    lg_limiter_reset(l);
    return l;
}

void lg_limiter_free(struct lg_limiter *l)
{
    if (!l)
        return;
    free(l->hist);
    free(l->dq_val);
    free(l->dq_idx);
    free(l->env_box);
    free(l);
}

int lg_limiter_latency_frames(const struct lg_limiter *l)
{
    return l->delay;
}

/* The needed gain for interval [n - T, n - T + 1), from the newest 2T frames. */
static double rate_interval(const struct lg_limiter *l)
{
    double peak = 0;
    size_t two_r = 2 * l->ring;
    for (int c = 0; c < l->channels; c++) {
        const float *w = l->hist + (size_t)c * two_r + l->pos + l->ring + 1 - 2 * LG_LIM_T;
        peak = fmax(peak, lg_lim_peak(w, l->coef));
    }
    return lg_lim_rate(&l->e, peak);
}

static void limit_frame(struct lg_limiter *l, const float *in, float *out)
{
    size_t two_r = 2 * l->ring;
    l->pos = (l->pos + 1) % l->ring;
    for (int c = 0; c < l->channels; c++) {
        float *row = l->hist + (size_t)c * two_r;
        row[l->pos] = row[l->pos + l->ring] = in ? in[c] : 0.0f;
    }
    double hmin = lg_lim_hold_min(&l->e, l->dq_val, l->dq_idx, rate_interval(l));
    double a = lg_lim_smooth(&l->e, l->env_box, hmin);
    /* Frame n - D sits one slot after the newest in a ring of D + 1. */
    size_t old = l->pos + 1;
    for (int c = 0; c < l->channels; c++)
        out[c] = lg_lim_apply(l->hist[(size_t)c * two_r + old], a);
}

void lg_limiter_process(struct lg_limiter *l, const float *in, float *out, size_t n_frames)
{
    size_t ch = (size_t)l->channels;
    for (size_t i = 0; i < n_frames; i++)
        limit_frame(l, in + i * ch, out + i * ch);
}

void lg_limiter_flush(struct lg_limiter *l, float *out)
{
    for (int i = 0; i < l->delay; i++)
        limit_frame(l, NULL, out + (size_t)i * (size_t)l->channels);
}

/* ---- ReplayGain 2.0 ---- */

double lg_replaygain_db(double loudness_lufs, double peak_dbtp, double target_lufs,
                        double ceiling_dbtp, int limited)
{
    double g = target_lufs - loudness_lufs;
    if (!limited && peak_dbtp + g > ceiling_dbtp)
        g = ceiling_dbtp - peak_dbtp;
    return g;
}

/* ---- waveform ---- */

struct lg_waveform {
    int channels;
    size_t n_buckets, n_used; /* capacity, buckets begun */
    uint64_t total, frame;    /* known total (0: unknown), frames seen */
    uint64_t width;           /* unknown total: frames per bucket */
    float *peak;
    double *sumsq;
    uint64_t *count; /* samples per bucket */
};

struct lg_waveform *lg_waveform_new(int channels, size_t n_buckets, uint64_t total_frames)
{
    if (channels <= 0 || n_buckets < 2)
        return NULL;
    struct lg_waveform *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->channels = channels;
    w->n_buckets = total_frames ? n_buckets : n_buckets & ~(size_t)1;
    w->total = total_frames;
    w->width = 1;
    w->peak = calloc(n_buckets, sizeof(float));
    w->sumsq = calloc(n_buckets, sizeof(double));
    w->count = calloc(n_buckets, sizeof(uint64_t));
    if (!w->peak || !w->sumsq || !w->count) {
        lg_waveform_free(w);
        return NULL;
    }
    return w;
}

void lg_waveform_free(struct lg_waveform *w)
{
    if (!w)
        return;
    free(w->peak);
    free(w->sumsq);
    free(w->count);
    free(w);
}

/* Unknown length: halve the bucket count by merging neighbours. */
static void merge_pairs(struct lg_waveform *w)
{
    for (size_t b = 0; b < w->n_buckets / 2; b++) {
        w->peak[b] = fmaxf(w->peak[2 * b], w->peak[2 * b + 1]);
        w->sumsq[b] = w->sumsq[2 * b] + w->sumsq[2 * b + 1];
        w->count[b] = w->count[2 * b] + w->count[2 * b + 1];
    }
    size_t half = w->n_buckets / 2;
    memset(w->peak + half, 0, (w->n_buckets - half) * sizeof(float));
    memset(w->sumsq + half, 0, (w->n_buckets - half) * sizeof(double));
    memset(w->count + half, 0, (w->n_buckets - half) * sizeof(uint64_t));
    w->width *= 2;
    w->n_used = half;
}

static size_t bucket_of(struct lg_waveform *w)
{
    if (w->total) {
        /* Bucket b holds frames [b*total/n, (b+1)*total/n). */
        uint64_t f = w->frame < w->total ? w->frame : w->total - 1;
        return (size_t)(((f + 1) * w->n_buckets - 1) / w->total);
    }
    size_t b = (size_t)(w->frame / w->width);
    if (b >= w->n_buckets) {
        merge_pairs(w);
        b = (size_t)(w->frame / w->width);
    }
    return b;
}

void lg_waveform_add(struct lg_waveform *w, const float *interleaved, size_t n_frames)
{
    size_t ch = (size_t)w->channels;
    for (size_t i = 0; i < n_frames; i++, w->frame++) {
        size_t b = bucket_of(w);
        for (size_t c = 0; c < ch; c++) {
            float x = interleaved[i * ch + c];
            w->peak[b] = fmaxf(w->peak[b], fabsf(x));
            w->sumsq[b] += (double)x * x;
        }
        w->count[b] += ch;
        if (b + 1 > w->n_used)
            w->n_used = b + 1;
    }
}

struct lg_waveform *lg_waveform_from_parts(int channels, size_t n_buckets, uint64_t total_frames,
                                           const float *peak, const double *sumsq)
{
    if (!total_frames || !peak || !sumsq)
        return NULL;
    struct lg_waveform *w = lg_waveform_new(channels, n_buckets, total_frames);
    if (!w)
        return NULL;
    for (size_t b = 0; b < n_buckets; b++) {
        uint64_t f0 = (uint64_t)b * total_frames / n_buckets;
        uint64_t f1 = ((uint64_t)b + 1) * total_frames / n_buckets;
        w->peak[b] = peak[b];
        w->sumsq[b] = sumsq[b];
        w->count[b] = (f1 - f0) * (uint64_t)channels;
    }
    w->frame = total_frames;
    w->n_used = n_buckets;
    return w;
}

size_t lg_waveform_get(const struct lg_waveform *w, float *peak, float *rms)
{
    size_t n = w->total ? w->n_buckets : w->n_used;
    for (size_t b = 0; b < n; b++) {
        peak[b] = w->peak[b];
        rms[b] = w->count[b] ? (float)sqrt(w->sumsq[b] / (double)w->count[b]) : 0.0f;
    }
    return n;
}
