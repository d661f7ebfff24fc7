/* SPDX-License-Identifier: MIT */
/*
 * Streaming sample-rate conversion of interleaved float32 audio by a rational
 * ratio L/M (out_rate/in_rate after gcd reduction). Output sample k is the
 * band-limited input evaluated at input time t = k*M/L (latency compensated:
 * the filter delay is removed, so a sine keeps its phase). The filter is a
 * Kaiser-windowed sinc designed for 128 dB (beta 13.2) over a transition band
 * from 0.90 to 1.0 of the lower Nyquist frequency; the droop at 0.91 is under
 * 0.006 dB (the flatness target is 0.01 dB there), which buys a shorter
 * filter than a 0.91 edge would. Rows are whole 8-float vectors, 32-byte
 * aligned; the dot product keeps 32 partial sums (4 independent chains), and
 * outputs are computed phase by phase within a block so that each row is
 * fetched once per block.
 * When L <= LG_RS_MAX_EXACT_PHASES the table holds one row of taps per phase
 * (exact); otherwise it holds LG_RS_DENSE_PHASES + 1 rows and an output blends
 * the dot products of the two neighbouring rows linearly. Position is tracked
 * with integers, so output depends only on the input samples and k: any split
 * of the input into blocks gives bit-identical output. Input is deinterleaved
 * into one history buffer per channel; H - 1 zeros precede the first frame and
 * flush appends zeros after the last. Not thread-safe; one object per stream.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"
#include "dsp/kernels_resample.h"
#include "dsp/resample_int.h"

#define LG_RS_ATTEN_DB         132.0
#define LG_RS_PASS_EDGE        0.90 /* design edge, fraction of the lower Nyquist */
#define LG_RS_CHUNK            4096 /* input frames appended per step */
#define LG_RS_MAX_EXACT_PHASES 4096
#define LG_RS_DENSE_PHASES     4096
#define LG_RS_MAX_CHANNELS     64

typedef float dot_fn(const float *x, const float *h, size_t n);
typedef void dot2_fn(const float *x0, const float *x1, const float *h, size_t n, float *out);

struct lg_resampler {
    int in_rate, out_rate, channels;
    uint64_t up, down; /* L and M */
    int half;          /* H: taps reach from t - H to t + H input samples */
    int taps;          /* 2H, one row */
    int stride;        /* row length rounded up to 8 floats */
    int dense;         /* 0: one row per phase; else rows for dense phases */
    float *coef;
    dot_fn *dot;
    dot2_fn *dot2;                   /* two channels, one row: out[0], out[1] */
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

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The lanes of four accumulators summed as lg_rs_dot does. */
__attribute__((target("avx2,fma"))) static inline float finish_avx2(const __m256 *acc)
{
    __m256 v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    __m128 w = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 t = _mm_add_ps(w, _mm_movehl_ps(w, w)); /* w0 + w2, w1 + w3 */
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

/* lg_rs_dot with fused multiply-adds. */
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *x, const float *h, size_t n)
{
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                      _mm256_setzero_ps() };
    size_t j = 0;
    for (; j + 32 <= n; j += 32)
        for (int i = 0; i < 4; i++)
            acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x + j + 8 * i), _mm256_load_ps(h + j + 8 * i),
                                     acc[i]);
    for (; j + 8 <= n; j += 8)
        acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_load_ps(h + j), acc[0]);
    return finish_avx2(acc);
}

/* Two channels against one coefficient row: each coefficient load feeds two
 * multiply-adds, and eight independent accumulators fill the pipeline. */
__attribute__((target("avx2,fma"))) static void dot2_avx2(const float *x0, const float *x1,
                                                          const float *h, size_t n, float *out)
{
    __m256 a[4], b[4];
    for (int i = 0; i < 4; i++)
        a[i] = b[i] = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        for (int i = 0; i < 4; i++) {
            __m256 c = _mm256_load_ps(h + j + 8 * i);
            a[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + j + 8 * i), c, a[i]);
            b[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + j + 8 * i), c, b[i]);
        }
    }
    for (; j + 8 <= n; j += 8) {
        __m256 c = _mm256_load_ps(h + j);
        a[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + j), c, a[0]);
        b[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + j), c, b[0]);
    }
    out[0] = finish_avx2(a);
    out[1] = finish_avx2(b);
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

static void dot2_portable(const float *x0, const float *x1, const float *h, size_t n, float *out)
{
    out[0] = lg_rs_dot(x0, h, n);
    out[1] = lg_rs_dot(x1, h, n);
}

int lg_resampler_set_simd(struct lg_resampler *r, int enable)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (enable && have_avx2()) {
        r->dot = dot_avx2;
        r->dot2 = dot2_avx2;
        return 1;
    }
#endif
    (void)enable;
    r->dot = dot_portable;
    r->dot2 = dot2_portable;
    return 0;
}

/* Series terms of the Kaiser window's Bessel function: double precision for
 * beta <= 16 (the terms fall below 1e-20 of the sum). */
#define LG_RS_I0_TERMS 40

/* row[j] = lg_rs_kernel(tau0 - j, fc, half, beta, I0(beta)) for j < n, with
 * the window's power series summed for all taps in step: no division or
 * branch in the inner loops, which vectorize. inv is 1 / I0(beta); scratch
 * holds 3n doubles. Agrees with lg_rs_kernel to rounding. */
static void kernel_row(float *row, size_t n, double tau0, double fc, double half, double inv,
                       double beta, double *scratch)
{
    double *q = scratch, *term = scratch + n, *sum = scratch + 2 * n;
    for (size_t j = 0; j < n; j++) {
        double x = (tau0 - (double)j) / half, a = 1.0 - x * x;
        q[j] = beta * beta * (a > 0.0 ? a : 0.0) / 4.0;
        term[j] = sum[j] = 1.0;
    }
    for (int k = 1; k <= LG_RS_I0_TERMS; k++) {
        double inv_k2 = 1.0 / ((double)k * (double)k);
        for (size_t j = 0; j < n; j++) {
            term[j] *= q[j] * inv_k2;
            sum[j] += term[j];
        }
    }
    for (size_t j = 0; j < n; j++) {
        double tau = tau0 - (double)j, arg = 2.0 * fc * tau;
        double s = fabs(arg) < 1e-12 ? 1.0 : sin(LG_RS_PI * arg) / (LG_RS_PI * arg);
        int inside = tau > -half && tau < half;
        row[j] = inside ? (float)(2.0 * fc * s * sum[j] * inv) : 0.0f;
    }
}

/* Row p of P phases holds h(p / P + H - 1 - j) for tap j. As h is even, row
 * P - p is row p reversed: the second half of the rows are copies. */
int lg_rs_fill_rows(float *rows, size_t stride, const struct lg_rs_design *d)
{
    double i0_beta = lg_rs_bessel_i0(d->beta);
    size_t taps = (size_t)d->taps, phases = d->phases;
    double *scratch = malloc(3 * taps * sizeof(double));
    if (!scratch)
        return -ENOMEM;
    for (size_t p = 0; p < d->rows; p++) {
        float *row = rows + p * stride;
        if (p > phases - p) {
            const float *mirror = rows + (phases - p) * stride;
            for (size_t j = 0; j < taps; j++)
                row[j] = mirror[taps - 1 - j];
            continue;
        }
        double tau0 = (double)p / (double)phases + d->half - 1;
        kernel_row(row, taps, tau0, d->fc, d->half, 1.0 / i0_beta, d->beta, scratch);
    }
    free(scratch);
    return 0;
}

/* Kaiser's estimates of beta and of the length for LG_RS_ATTEN_DB over the
 * transition band, the half-length rounded up to a multiple of 4 so that a
 * row is a whole number of 8-float vectors. */
void lg_rs_design(uint64_t up, uint64_t down, struct lg_rs_design *d)
{
    double ratio = (double)up / (double)down;
    double low = ratio < 1.0 ? ratio : 1.0; /* lower Nyquist / input Nyquist */
    d->beta = 0.1102 * (LG_RS_ATTEN_DB - 8.7);
    double trans = (1.0 - LG_RS_PASS_EDGE) * 0.5 * low; /* cycles per input sample */
    d->fc = (1.0 + LG_RS_PASS_EDGE) * 0.25 * low;
    double order = (LG_RS_ATTEN_DB - 7.95) / (2.285 * 2.0 * LG_RS_PI * trans);
    d->half = ((int)ceil(order / 2.0) + 1 + 3) & ~3;
    d->taps = 2 * d->half;
    d->dense = up > LG_RS_MAX_EXACT_PHASES ? LG_RS_DENSE_PHASES : 0;
    d->phases = d->dense ? (size_t)d->dense : (size_t)up;
    d->rows = d->dense ? d->phases + 1 : d->phases;
}

static void design(struct lg_resampler *r)
{
    struct lg_rs_design d;
    lg_rs_design(r->up, r->down, &d);
    r->half = d.half;
    r->taps = d.taps;
    r->stride = r->taps;
    r->dense = (int)d.dense;
    size_t bytes = d.rows * (size_t)r->stride * sizeof(float); /* a multiple of 32 */
    r->coef = aligned_alloc(32, bytes);
    if (r->coef && lg_rs_fill_rows(r->coef, (size_t)r->stride, &d) < 0) {
        free(r->coef);
        r->coef = NULL;
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
    if (in_rate <= 0 || out_rate <= 0 || channels <= 0 || channels > LG_RS_MAX_CHANNELS)
        return NULL;
    struct lg_resampler *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    uint64_t g = lg_rs_gcd((uint64_t)in_rate, (uint64_t)out_rate);
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

/* Dot products of all channels against row h, channel pairs at a time. */
static void dot_rows(const struct lg_resampler *r, size_t off, const float *h, float *out)
{
    size_t taps = (size_t)r->taps;
    int c = 0;
    for (; c + 2 <= r->channels; c += 2) {
        const float *x = r->buf + (size_t)c * r->cap + off;
        r->dot2(x, x + r->cap, h, taps, out + c);
    }
    if (c < r->channels)
        out[c] = r->dot(r->buf + (size_t)c * r->cap + off, h, taps);
}

/* One output frame at the current position, written to out[channels], for
 * dense tables: the two neighbouring rows' results blended linearly. */
static void emit_dense(struct lg_resampler *r, float *out)
{
    size_t off = (size_t)((int64_t)r->i_next - r->half + 1 - r->base);
    size_t stride = (size_t)r->stride;
    double pos = (double)r->f_next * r->dense / (double)r->up;
    size_t p = (size_t)pos;
    float a = (float)(pos - (double)p);
    const float *h0 = r->coef + p * stride;
    float d1[LG_RS_MAX_CHANNELS];
    dot_rows(r, off, h0, out);
    dot_rows(r, off, h0 + stride, d1);
    for (int c = 0; c < r->channels; c++)
        out[c] = out[c] + a * (d1[c] - out[c]);
}

/* Outputs k_next.. whose input is held: k with floor(kM/L) + H < end. */
static size_t ready(const struct lg_resampler *r, size_t cap, uint64_t limit_k)
{
    int64_t e = r->base + (int64_t)r->len - r->half;
    if (e <= 0)
        return 0;
    uint64_t k_end = ((uint64_t)e * r->up + r->down - 1) / r->down;
    k_end = k_end < limit_k ? k_end : limit_k;
    size_t n = k_end > r->k_next ? (size_t)(k_end - r->k_next) : 0;
    return n < cap ? n : cap;
}

/* n outputs of one-row-per-phase tables in phase-major order: output j and
 * j + L share a phase and lie M input frames apart, so each row is fetched
 * once per block rather than once per output. Same sums as emit(). */
static void emit_block(struct lg_resampler *r, float *out, size_t n)
{
    size_t ch = (size_t)r->channels, groups = n < r->up ? n : (size_t)r->up;
    size_t stride = (size_t)r->stride;
    int64_t off0 = (int64_t)r->i_next - r->half + 1 - r->base;
    for (size_t g = 0; g < groups; g++) {
        uint64_t t = r->f_next + (uint64_t)g * r->down; /* output g: phase t mod L */
        size_t off = (size_t)(off0 + (int64_t)(t / r->up));
        const float *h = r->coef + (size_t)(t % r->up) * stride;
        for (size_t j = g; j < n; j += (size_t)r->up, off += (size_t)r->down)
            dot_rows(r, off, h, out + j * ch);
    }
}

/* Emit outputs while their input is held, up to cap frames and (when
 * limit_k is not UINT64_MAX) up to output index limit_k. */
static size_t drain(struct lg_resampler *r, float *out, size_t cap, uint64_t limit_k)
{
    size_t n = ready(r, cap, limit_k);
    if (!r->dense) {
        emit_block(r, out, n);
        uint64_t t = r->f_next + (uint64_t)n * r->down;
        r->i_next += t / r->up;
        r->f_next = t % r->up;
    }
    for (size_t j = 0; r->dense && j < n; j++) {
        emit_dense(r, out + j * (size_t)r->channels);
        r->f_next += r->down;
        r->i_next += r->f_next / r->up;
        r->f_next %= r->up;
    }
    r->k_next += n;
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
