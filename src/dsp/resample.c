/* SPDX-License-Identifier: MIT */
/*
 * Streaming sample-rate conversion of interleaved float32 audio by a rational
 * ratio L/M (out_rate/in_rate after gcd reduction). Output sample k is the
 * band-limited input evaluated at input time t = k*M/L (latency compensated:
 * the filter delay is removed, so a sine keeps its phase). The filter is a
 * Kaiser-windowed sinc with its passband edge at 0.91 and its stopband edge at
 * 1.0 of the lower Nyquist frequency, designed for 130 dB (beta 13.4).
 * When L <= LG_RS_MAX_EXACT_PHASES the table holds one row of taps per phase
 * (exact); otherwise it holds LG_RS_DENSE_PHASES + 1 rows and an output blends
 * the dot products of the two neighbouring rows linearly. Position is tracked
 * with integers, so output depends only on the input samples and k: any split
 * of the input into blocks gives bit-identical output. Input is deinterleaved
 * into one history buffer per channel; H - 1 zeros precede the first frame and
 * flush appends zeros after the last. Not thread-safe; one object per stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"
#include "dsp/kernels_resample.h"

#define LG_RS_ATTEN_DB         130.0
#define LG_RS_PASS_EDGE        0.91 /* fraction of the lower Nyquist */
#define LG_RS_CHUNK            4096 /* input frames appended per step */
#define LG_RS_MAX_EXACT_PHASES 4096
#define LG_RS_DENSE_PHASES     4096

typedef float dot_fn(const float *x, const float *h, size_t n);

struct lg_resampler {
    int in_rate, out_rate, channels;
    uint64_t up, down; /* L and M */
    int half;          /* H: taps reach from t - H to t + H input samples */
    int taps;          /* 2H, one row */
    int stride;        /* row length rounded up to 8 floats */
    int dense;         /* 0: one row per phase; else rows for dense phases */
    float *coef;
    dot_fn *dot;
    uint64_t k_next, i_next, f_next; /* next output, floor(kM/L), kM mod L */
    uint64_t n_in;                   /* input frames received */
    int64_t base;                    /* absolute index of buf row start */
    size_t len, cap;                 /* frames held per channel, room */
    float *buf;                      /* channels rows of cap floats */
    int flushed;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fputs("lg_resampler: out of memory\n", stderr);
        abort();
    }
    return q;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The same eight lanes as lg_rs_dot, summed with fused multiply-adds. */
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *x, const float *h, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(h + j), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j + 8), _mm256_loadu_ps(h + j + 8), a1);
    }
    for (; j + 8 <= n; j += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(h + j), a0);
    float acc[8];
    _mm256_storeu_ps(acc, _mm256_add_ps(a0, a1));
    for (; j < n; j++)
        acc[j & 7] += x[j] * h[j];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static int have_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static int have_avx2(void)
{
    return 0;
}
#endif

static float dot_portable(const float *x, const float *h, size_t n)
{
    return lg_rs_dot(x, h, n);
}

int lg_resampler_set_simd(struct lg_resampler *r, int enable)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (enable && have_avx2()) {
        r->dot = dot_avx2;
        return 1;
    }
#endif
    (void)enable;
    r->dot = dot_portable;
    return 0;
}

/* Fill the coefficient rows. Row p holds h(phi + H - 1 - j) for tap j, where
 * phi = p / (number of phases) is the output's fractional input position. */
static void design(struct lg_resampler *r)
{
    double ratio = (double)r->up / (double)r->down;
    double low = ratio < 1.0 ? ratio : 1.0; /* lower Nyquist / input Nyquist */
    double beta = 0.1102 * (LG_RS_ATTEN_DB - 8.7);
    double trans = (1.0 - LG_RS_PASS_EDGE) * 0.5 * low; /* cycles per input sample */
    double fc = (1.0 + LG_RS_PASS_EDGE) * 0.25 * low;
    double order = (LG_RS_ATTEN_DB - 7.95) / (2.285 * 2.0 * LG_RS_PI * trans);
    r->half = (int)ceil(order / 2.0) + 1;
    r->taps = 2 * r->half;
    r->stride = (r->taps + 7) & ~7;
    r->dense = r->up > LG_RS_MAX_EXACT_PHASES ? LG_RS_DENSE_PHASES : 0;
    size_t phases = r->dense ? (size_t)r->dense : (size_t)r->up;
    size_t rows = r->dense ? phases + 1 : phases;
    r->coef = calloc(rows * (size_t)r->stride, sizeof(float));
    if (!r->coef)
        return;
    for (size_t p = 0; p < rows; p++) {
        double phi = (double)p / (double)phases;
        float *row = r->coef + p * (size_t)r->stride;
        for (int j = 0; j < r->taps; j++)
            row[j] = (float)lg_rs_kernel(phi + r->half - 1 - j, fc, r->half, beta);
    }
}

void lg_resampler_reset(struct lg_resampler *r)
{
    r->k_next = r->i_next = r->f_next = 0;
    r->n_in = 0;
    r->flushed = 0;
    /* H - 1 zeros stand for the silence before the first frame. */
    r->base = -(int64_t)(r->half - 1);
    r->len = (size_t)(r->half - 1);
    memset(r->buf, 0, (size_t)r->channels * r->cap * sizeof(float));
}

struct lg_resampler *lg_resampler_new(int in_rate, int out_rate, int channels)
{
    if (in_rate <= 0 || out_rate <= 0 || channels <= 0 || channels > 64)
        return NULL;
    struct lg_resampler *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    uint64_t g = gcd_u64((uint64_t)in_rate, (uint64_t)out_rate);
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    r->channels = channels;
    r->up = (uint64_t)out_rate / g;
    r->down = (uint64_t)in_rate / g;
    design(r);
    r->cap = (size_t)r->taps + LG_RS_CHUNK + (size_t)(r->down / r->up) + 16;
    r->buf = malloc((size_t)channels * r->cap * sizeof(float));
    if (!r->coef || !r->buf) {
        lg_resampler_free(r);
        return NULL;
    }
    lg_resampler_set_simd(r, 1);
    lg_resampler_reset(r);
    return r;
}

void lg_resampler_free(struct lg_resampler *r)
{
    if (!r)
        return;
    free(r->coef);
    free(r->buf);
    free(r);
}

int lg_resampler_latency_frames(const struct lg_resampler *r)
{
    return r->half;
}

/* Make room for n more frames per channel: drop frames no output needs any
 * more (those before i_next - H + 1), then grow if still short. */
static void make_room(struct lg_resampler *r, size_t n)
{
    int64_t keep_from = (int64_t)r->i_next - r->half + 1;
    size_t drop = keep_from > r->base ? (size_t)(keep_from - r->base) : 0;
    if (drop > r->len)
        drop = r->len;
    if (r->len + n > r->cap && drop > 0) {
        for (int c = 0; c < r->channels; c++) {
            float *row = r->buf + (size_t)c * r->cap;
            memmove(row, row + drop, (r->len - drop) * sizeof(float));
        }
        r->len -= drop;
        r->base += (int64_t)drop;
    }
    if (r->len + n <= r->cap)
        return;
    size_t cap = (r->len + n) * 2;
    float *nb = xrealloc(NULL, (size_t)r->channels * cap * sizeof(float));
    for (int c = 0; c < r->channels; c++)
        memcpy(nb + (size_t)c * cap, r->buf + (size_t)c * r->cap, r->len * sizeof(float));
    free(r->buf);
    r->buf = nb;
    r->cap = cap;
}

/* Append n frames (interleaved, or silence when in is NULL). */
static void append(struct lg_resampler *r, const float *in, size_t n)
{
    make_room(r, n);
    for (int c = 0; c < r->channels; c++) {
        float *row = r->buf + (size_t)c * r->cap + r->len;
        for (size_t i = 0; i < n; i++)
            row[i] = in ? in[i * (size_t)r->channels + (size_t)c] : 0.0f;
    }
    r->len += n;
}

/* One output frame at the current position, written to out[channels]. */
static void emit(struct lg_resampler *r, float *out)
{
    size_t off = (size_t)((int64_t)r->i_next - r->half + 1 - r->base);
    size_t stride = (size_t)r->stride;
    size_t taps = (size_t)r->taps;
    if (!r->dense) {
        const float *h = r->coef + (size_t)r->f_next * stride;
        for (int c = 0; c < r->channels; c++)
            out[c] = r->dot(r->buf + (size_t)c * r->cap + off, h, taps);
        return;
    }
    double pos = (double)r->f_next * r->dense / (double)r->up;
    size_t p = (size_t)pos;
    float a = (float)(pos - (double)p);
    const float *h0 = r->coef + p * stride;
    for (int c = 0; c < r->channels; c++) {
        const float *x = r->buf + (size_t)c * r->cap + off;
        float d0 = r->dot(x, h0, taps);
        float d1 = r->dot(x, h0 + stride, taps);
        out[c] = d0 + a * (d1 - d0);
    }
}

/* Emit outputs while their input is held, up to cap frames and (when
 * limit_k is not UINT64_MAX) up to output index limit_k. */
static size_t drain(struct lg_resampler *r, float *out, size_t cap, uint64_t limit_k)
{
    int64_t end = r->base + (int64_t)r->len;
    size_t n = 0;
    while (n < cap && r->k_next < limit_k && (int64_t)r->i_next + r->half < end) {
        emit(r, out + n * (size_t)r->channels);
        n++;
        r->k_next++;
        r->f_next += r->down;
        r->i_next += r->f_next / r->up;
        r->f_next %= r->up;
    }
    return n;
}

size_t lg_resampler_process(struct lg_resampler *r, const float *in, size_t n_in, float *out,
                            size_t out_cap)
{
    size_t n_out = 0;
    if (r->flushed)
        return 0;
    do {
        size_t chunk = n_in < LG_RS_CHUNK ? n_in : LG_RS_CHUNK;
        append(r, in, chunk);
        r->n_in += chunk;
        if (chunk)
            in += chunk * (size_t)r->channels;
        n_in -= chunk;
        n_out += drain(r, out + n_out * (size_t)r->channels, out_cap - n_out, UINT64_MAX);
    } while (n_in > 0);
    return n_out;
}

/* Total output for the input received so far: round(n_in * L / M), halves up. */
static uint64_t total_out(const struct lg_resampler *r)
{
    return (2 * r->n_in * r->up + r->down) / (2 * r->down);
}

size_t lg_resampler_out_max(const struct lg_resampler *r, size_t n_in)
{
    /* Outputs k >= k_next with floor(kM/L) + H < end, end = held input. */
    int64_t end = r->base + (int64_t)r->len + (int64_t)n_in - r->half;
    if (end <= 0)
        return 0;
    uint64_t k_end = ((uint64_t)end * r->up + r->down - 1) / r->down;
    return k_end > r->k_next ? (size_t)(k_end - r->k_next) : 0;
}

size_t lg_resampler_flush_max(const struct lg_resampler *r)
{
    uint64_t t = total_out(r);
    return t > r->k_next ? (size_t)(t - r->k_next) : 0;
}

size_t lg_resampler_flush(struct lg_resampler *r, float *out, size_t out_cap)
{
    if (!r->flushed) {
        /* Enough silence that the last output's taps all exist. */
        append(r, NULL, (size_t)r->half + (size_t)(r->down / r->up) + 2);
        r->flushed = 1;
    }
    return drain(r, out, out_cap, total_out(r));
}
