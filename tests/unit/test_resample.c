/* SPDX-License-Identifier: MIT */
/*
 * Tests of the resampler (src/dsp/resample.c): exact output lengths, block
 * split invariance, phase (latency compensation), passband flatness,
 * stopband rejection, THD+N, channel independence, reset, and agreement of
 * the AVX2 and portable kernels. Quality figures are printed as measured.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"

#include "harness.h"
#include "rs_measure.h"

static int simd_on = 1;

/* All of in through one object (process + flush); caller frees. */
static float *run(struct lg_resampler *r, const float *in, size_t n_in, int ch, size_t *n_out)
{
    size_t cap = lg_resampler_out_max(r, n_in);
    float *out = malloc((cap + 1) * (size_t)ch * sizeof(float));
    size_t n = lg_resampler_process(r, in, n_in, out, cap);
    size_t fcap = lg_resampler_flush_max(r);
    out = realloc(out, (n + fcap + 1) * (size_t)ch * sizeof(float));
    n += lg_resampler_flush(r, out + n * (size_t)ch, fcap);
    *n_out = n;
    return out;
}

static float *oneshot(int in_rate, int out_rate, const float *in, size_t n_in, size_t *n_out)
{
    struct lg_resampler *r = lg_resampler_new(in_rate, out_rate, 1);
    lg_resampler_set_simd(r, simd_on);
    float *y = run(r, in, n_in, 1, n_out);
    lg_resampler_free(r);
    return y;
}

static const int pairs[][2] = {
    { 44100, 48000 }, { 48000, 44100 }, { 88200, 48000 }, { 96000, 48000 }, { 192000, 48000 },
    { 22050, 48000 }, { 8000, 48000 },  { 48000, 8000 },  { 44100, 47999 }, { 48000, 48000 },
};
#define N_PAIRS (sizeof(pairs) / sizeof(pairs[0]))

LG_TEST(test_lengths)
{
    static const size_t lens[] = { 0, 1, 2, 3, 7, 100, 1001, 44101, 96001 };
    for (size_t p = 0; p < N_PAIRS; p++) {
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            struct lg_resampler *r = lg_resampler_new(pairs[p][0], pairs[p][1], 2);
            float *x = calloc(lens[i] * 2 + 1, sizeof(float));
            size_t n = 0;
            float *y = run(r, x, lens[i], 2, &n);
            uint64_t want =
                (2 * (uint64_t)lens[i] * (uint64_t)pairs[p][1] + (uint64_t)pairs[p][0]) /
                (2 * (uint64_t)pairs[p][0]);
            CHECK_INT(n, want);
            CHECK_INT(lg_resampler_flush(r, y, 10), 0);
            free(x);
            free(y);
            lg_resampler_free(r);
        }
    }
}

static float *noise(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof(float));
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 * 1.8 - 0.9);
    }
    return x;
}

/* Random block sizes (and a starved output buffer) give the same samples. */
LG_TEST(test_block_split)
{
    const int ch = 3;
    const size_t n_in = 20000;
    float *x = noise(n_in * ch, 7);
    for (size_t p = 0; p < N_PAIRS; p++) {
        struct lg_resampler *r = lg_resampler_new(pairs[p][0], pairs[p][1], ch);
        size_t n_ref = 0;
        float *ref = run(r, x, n_in, ch, &n_ref);
        lg_resampler_reset(r);
        float *y = calloc((n_ref + 8) * ch, sizeof(float));
        size_t pos = 0, n = 0;
        uint32_t s = 99;
        while (pos < n_in) {
            s = s * 1664525u + 1013904223u;
            size_t blk = (s >> 16) % 3000;
            blk = blk > n_in - pos ? n_in - pos : blk;
            size_t cap = (s >> 8) % 4 == 0 ? 5 : lg_resampler_out_max(r, blk);
            n += lg_resampler_process(r, x + pos * ch, blk, y + n * ch, cap);
            pos += blk;
        }
        size_t got = 0;
        do {
            got = lg_resampler_flush(r, y + n * ch, 17);
            n += got;
        } while (got > 0);
        CHECK_INT(n, n_ref);
        CHECK(memcmp(y, ref, n_ref * ch * sizeof(float)) == 0);
        free(y);
        free(ref);
        lg_resampler_free(r);
    }
    free(x);
}

/* Output k is the input at time k / out_rate: a sine keeps its phase. */
LG_TEST(test_phase)
{
    for (size_t p = 0; p < N_PAIRS; p++) {
        int fi = pairs[p][0], fo = pairs[p][1];
        double f = 997.0 * (fi < fo ? fi : fo) / 48000.0;
        size_t n_in = (size_t)fi / 4, n = 0;
        float *x = rs_sine(f, fi, n_in, 0.5);
        float *y = oneshot(fi, fo, x, n_in, &n);
        double worst = 0;
        for (size_t k = 1024; k + 1024 < n; k++) {
            double want = 0.5 * sin(2.0 * RS_PI * f * (double)k / fo);
            worst = fmax(worst, fabs(y[k] - want));
        }
        CHECK(worst < 2e-6);
        if (worst >= 2e-6)
            fprintf(stderr, "  %d->%d phase error %g\n", fi, fo, worst);
        free(x);
        free(y);
    }
}

LG_TEST(test_quality)
{
    for (size_t p = 0; p < N_PAIRS; p++) {
        int fi = pairs[p][0], fo = pairs[p][1];
        double pass = rs_passband_db(oneshot, fi, fo);
        double stop = fi == fo ? -400 : rs_stopband_db(oneshot, fi, fo);
        double thdn = rs_thdn_db(oneshot, fi, fo);
        printf("# %6d -> %6d: passband %.5f dB, stopband %.1f dB, THD+N %.1f dB\n", fi, fo, pass,
               stop, thdn);
        CHECK(pass <= 0.01);
        CHECK(stop <= -120.0);
        CHECK(thdn <= -120.0);
    }
}

/* Channels are independent: each equals its own mono run, bit for bit. */
LG_TEST(test_channels)
{
    const size_t n_in = 5000;
    float *x = noise(n_in * 2, 3);
    float *m0 = malloc(n_in * sizeof(float)), *m1 = malloc(n_in * sizeof(float));
    for (size_t i = 0; i < n_in; i++) {
        m0[i] = x[2 * i];
        m1[i] = x[2 * i + 1];
    }
    size_t n = 0, n0 = 0, n1 = 0;
    struct lg_resampler *r = lg_resampler_new(44100, 48000, 2);
    float *y = run(r, x, n_in, 2, &n);
    float *y0 = oneshot(44100, 48000, m0, n_in, &n0);
    float *y1 = oneshot(44100, 48000, m1, n_in, &n1);
    CHECK_INT(n0, n);
    int same = 1;
    for (size_t k = 0; k < n && k < n0 && k < n1; k++)
        same &= y[2 * k] == y0[k] && y[2 * k + 1] == y1[k];
    CHECK(same);
    lg_resampler_free(r);
    free(x), free(m0), free(m1), free(y), free(y0), free(y1);
}

/* AVX2+FMA and portable kernels agree within 1e-6 (when the CPU has AVX2). */
LG_TEST(test_simd_equal)
{
    const size_t n_in = 30000;
    float *x = noise(n_in * 2, 11);
    for (size_t p = 0; p < N_PAIRS; p++) {
        struct lg_resampler *a = lg_resampler_new(pairs[p][0], pairs[p][1], 2);
        struct lg_resampler *b = lg_resampler_new(pairs[p][0], pairs[p][1], 2);
        int simd = lg_resampler_set_simd(a, 1);
        CHECK_INT(lg_resampler_set_simd(b, 0), 0);
        if (p == 0)
            printf("# AVX2+FMA kernel %s\n", simd ? "tested" : "not available here");
        size_t na = 0, nb = 0;
        float *ya = run(a, x, n_in, 2, &na), *yb = run(b, x, n_in, 2, &nb);
        CHECK_INT(na, nb);
        double worst = 0;
        for (size_t k = 0; k < na * 2; k++)
            worst = fmax(worst, fabs((double)ya[k] - yb[k]));
        CHECK(worst <= 1e-6);
        free(ya), free(yb);
        lg_resampler_free(a), lg_resampler_free(b);
    }
    free(x);
}

LG_TEST(test_args)
{
    CHECK(lg_resampler_new(0, 48000, 2) == NULL);
    CHECK(lg_resampler_new(44100, -1, 2) == NULL);
    CHECK(lg_resampler_new(44100, 48000, 0) == NULL);
    lg_resampler_free(NULL);
    struct lg_resampler *r = lg_resampler_new(44100, 48000, 1);
    CHECK(lg_resampler_latency_frames(r) > 0);
    lg_resampler_free(r);
}

LG_TEST_MAIN(LG_CASE(test_lengths), LG_CASE(test_block_split), LG_CASE(test_phase),
             LG_CASE(test_quality), LG_CASE(test_channels), LG_CASE(test_simd_equal),
             LG_CASE(test_args))
