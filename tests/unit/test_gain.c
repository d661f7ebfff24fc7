/* SPDX-License-Identifier: MIT */
/*
 * Tests of src/dsp/gain.c: gain ramps without jumps, the true-peak limiter
 * (ceiling never exceeded at 4x oversampling on hard signals, measured here by
 * an independent long windowed-sinc interpolator in double; latency equal to
 * the look-ahead; bit-exact passthrough below the ceiling), the ReplayGain
 * rule, and waveform buckets on known signals.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"

#include "harness.h"

#define PI   3.14159265358979323846
#define RATE 48000

static double bessel_i0(double x)
{
    double s = 1, t = 1;
    for (int k = 1; k < 60; k++) {
        t *= x * x / (4.0 * k * k);
        s += t;
    }
    return s;
}

/* True peak of channel c of x (n frames, ch channels) at 4x by a Kaiser(beta)
 * windowed sinc of 2 * half taps per phase, in double; frames near the edges
 * skipped. */
static double true_peak(const float *x, size_t n, int ch, int c, int half, double beta)
{
    double *h = malloc(3 * 2 * (size_t)half * sizeof(double));
    for (int p = 0; p < 3; p++) {
        for (int j = 0; j < 2 * half; j++) {
            double tau = (p + 1) / 4.0 + half - 1 - j, u = tau / half;
            double s = sin(PI * tau) / (PI * tau);
            h[p * 2 * half + j] =
                s * bessel_i0(beta * sqrt(fmax(0.0, 1 - u * u))) / bessel_i0(beta);
        }
    }
    double peak = 0;
    for (size_t t = (size_t)half; t + (size_t)half < n; t++) {
        peak = fmax(peak, fabs(x[t * ch + c]));
        for (int p = 0; p < 3; p++) {
            double v = 0;
            for (int j = 0; j < 2 * half; j++)
                v += h[p * 2 * half + j] * x[(t - (size_t)half + 1 + (size_t)j) * ch + c];
            peak = fmax(peak, fabs(v));
        }
    }
    free(h);
    return peak;
}

/* The library's own BS.1770-4 true-peak meter, all channels. */
static double meter_peak(const float *x, size_t n, int ch)
{
    struct lg_loudness *m = lg_loudness_new(RATE, ch, LG_LOUDNESS_TRUE_PEAK);
    lg_loudness_add(m, x, n);
    double db = 0;
    lg_loudness_true_peak(m, -1, &db);
    lg_loudness_free(m);
    return pow(10.0, db / 20.0);
}

LG_TEST(test_gain_ramp)
{
    struct lg_gain *g = lg_gain_new(RATE, 2, 10.0);
    size_t n = 2000;
    float *x = malloc(n * 2 * sizeof(float));
    for (size_t i = 0; i < n * 2; i++)
        x[i] = 1.0f;
    lg_gain_process(g, x, 100);
    CHECK(x[0] == 1.0f && x[199] == 1.0f);
    lg_gain_set_db(g, -6.0);
    lg_gain_process(g, x + 200, n - 100);
    double target = pow(10.0, -6.0 / 20.0), worst_step = 0;
    for (size_t i = 100; i + 1 < n; i++) {
        worst_step = fmax(worst_step, fabs((double)x[2 * i + 2] - x[2 * i]));
        CHECK(x[2 * i] == x[2 * i + 1]);
    }
    /* A 480-frame linear ramp moves by (1 - target) / 480 per frame. */
    CHECK(worst_step <= (1.0 - target) / 480.0 * 1.01);
    CHECK(fabs(x[2 * (100 + 480)] - target) < 1e-6);
    CHECK(x[2 * (n - 1)] == (float)target);
    lg_gain_free(g);
    free(x);
}

/* Runs x through a new limiter (ceiling -1 dBTP, 5 ms, 150 ms) with odd
 * block sizes; returns the aligned output (latency removed). */
static float *limit(const float *x, size_t n, int ch)
{
    struct lg_limiter *l = lg_limiter_new(RATE, ch, -1.0, 5.0, 150.0);
    int d = lg_limiter_latency_frames(l);
    float *y = malloc((n + (size_t)d) * (size_t)ch * sizeof(float));
    size_t pos = 0, blk = 1;
    while (pos < n) {
        size_t k = blk < n - pos ? blk : n - pos;
        lg_limiter_process(l, x + pos * ch, y + pos * ch, k);
        pos += k;
        blk = blk * 3 % 1021 + 1;
    }
    lg_limiter_flush(l, y + n * ch);
    memmove(y, y + (size_t)d * ch, n * (size_t)ch * sizeof(float));
    lg_limiter_free(l);
    return y;
}

/* The limited output must stay under -1 dBTP by three 4x meters: a 128-tap
 * Kaiser(12) sinc in double, lg_loudness (BS.1770-4, 16 taps per phase), and
 * a 256-tap Kaiser(14) sinc. They differ by up to 0.2 dB on full-band noise
 * and on bursts; the limiter's margin covers that spread. */
static void check_ceiling(const char *name, const float *x, size_t n, int ch)
{
    float *y = limit(x, n, ch);
    double ceiling = pow(10.0, -1.0 / 20.0), m128 = 0, m256 = 0;
    for (int c = 0; c < ch; c++) {
        m128 = fmax(m128, true_peak(y, n, ch, c, 64, 12.0));
        m256 = fmax(m256, true_peak(y, n, ch, c, 128, 14.0));
    }
    double bs = meter_peak(y, n, ch);
    printf("# %-20s in %5.2f dBTP -> out %.3f (128 taps), %.3f (BS.1770), %.3f (256 taps)\n", name,
           20 * log10(true_peak(x, n, ch, 0, 64, 12.0)), 20 * log10(m128), 20 * log10(bs),
           20 * log10(m256));
    CHECK(m128 <= ceiling);
    CHECK(bs <= ceiling);
    CHECK(m256 <= ceiling);
    free(y);
}

LG_TEST(test_limiter_ceiling)
{
    size_t n = RATE / 2;
    float *x = calloc(n * 2, sizeof(float));
    for (size_t i = 0; i < n; i++) /* full-scale 1 kHz square, other channel 997 Hz */
        for (int c = 0; c < 2; c++)
            x[2 * i + c] = fmod((double)i * (c ? 997.0 : 1000.0) / RATE, 1.0) < 0.5 ? 1.0f : -1.0f;
    check_ceiling("square 1 kHz, 997 Hz", x, n, 2);
    for (size_t i = 0; i < n; i++) /* fs/4 at 45 degrees: samples 0.707, peak 1 */
        x[2 * i] = x[2 * i + 1] = (float)sin(PI / 2 * (double)i + PI / 4);
    check_ceiling("sine fs/4, 45 deg", x, n, 2);
    uint32_t s = 5;
    float prev = 0;
    for (size_t i = 0; i < n; i++) { /* bursts of loud noise and a +6 dB sine */
        s = s * 1664525u + 1013904223u;
        int on = (i / 2400) % 3 == 1;
        /* (1 + z^-1) noise: full-band white noise has no well-defined true
         * peak (it depends on the interpolator's response at Nyquist). */
        float v = on ? (float)((double)(s >> 8) / 8388608.0 - 1.0) * 1.5f : 0.0f;
        x[2 * i] = v + prev;
        prev = v;
        x[2 * i + 1] = (i / 3000) % 2 ? (float)(2.0 * sin(2 * PI * 11025.0 / RATE * i + 0.3)) : 0;
    }
    check_ceiling("bursts", x, n, 2);
    check_ceiling("bursts (right)", x + 1, n - 1, 2);
    for (size_t i = 0; i < n; i++) { /* full-band white noise bursts, about +8 dBTP */
        s = s * 1664525u + 1013904223u;
        int on = (i / 2400) % 3 == 1;
        x[2 * i] = on ? (float)((double)(s >> 8) / 8388608.0 - 1.0) * 2.0f : 0.0f;
        s = s * 1664525u + 1013904223u;
        x[2 * i + 1] = on ? (float)((double)(s >> 8) / 8388608.0 - 1.0) * 2.0f : 0.0f;
    }
    check_ceiling("white noise bursts", x, n, 2);
    check_ceiling("white noise (right)", x + 1, n - 1, 2);
    free(x);
}

LG_TEST(test_limiter_latency_and_transparency)
{
    size_t n = 30000;
    float *x = malloc(n * 2 * sizeof(float));
    uint32_t s = 9;
    for (size_t i = 0; i < n * 2; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5) * 0.2f; /* far below -1 dBTP */
    }
    struct lg_limiter *l = lg_limiter_new(RATE, 2, -1.0, 5.0, 150.0);
    int d = lg_limiter_latency_frames(l);
    CHECK_INT(d, 240);
    float *y = malloc((n + (size_t)d) * 2 * sizeof(float));
    lg_limiter_process(l, x, y, n);
    lg_limiter_flush(l, y + n * 2);
    int zeros = 1;
    for (int i = 0; i < d * 2; i++)
        zeros &= y[i] == 0.0f;
    CHECK(zeros);
    CHECK(memcmp(y + (size_t)d * 2, x, n * 2 * sizeof(float)) == 0);
    lg_limiter_free(l);
    free(x);
    free(y);
    CHECK(lg_limiter_new(RATE, 2, -1.0, 0.1, 150.0) == NULL);
}

LG_TEST(test_replaygain)
{
    CHECK(fabs(lg_replaygain_db(-10.0, -0.5, LG_REPLAYGAIN_TARGET_LUFS, -1.0, 1) + 8.0) < 1e-12);
    /* -25 LUFS wants +7 dB, but a -3 dBTP peak allows only +2 dB. */
    CHECK(fabs(lg_replaygain_db(-25.0, -3.0, -18.0, -1.0, 0) - 2.0) < 1e-12);
    CHECK(fabs(lg_replaygain_db(-25.0, -3.0, -18.0, -1.0, 1) - 7.0) < 1e-12);
    CHECK(fabs(lg_replaygain_db(-20.0, -12.0, -18.0, -1.0, 0) - 2.0) < 1e-12);
}

LG_TEST(test_waveform)
{
    size_t n = 1000, nb = 7;
    float *x = malloc(n * 2 * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)i / 1000.0f;
        x[2 * i + 1] = -(float)i / 2000.0f;
    }
    struct lg_waveform *w = lg_waveform_new(2, nb, n);
    lg_waveform_add(w, x, 333);
    lg_waveform_add(w, x + 666, n - 333); /* frame 333 on */
    float pk[8], rms[8];
    CHECK_INT(lg_waveform_get(w, pk, rms), nb);
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * n / nb, hi = (b + 1) * n / nb;
        double e = 0;
        for (size_t i = lo; i < hi; i++)
            e += (double)x[2 * i] * x[2 * i] + (double)x[2 * i + 1] * x[2 * i + 1];
        CHECK(pk[b] == x[2 * (hi - 1)]);
        CHECK(fabs(rms[b] - sqrt(e / (2.0 * (hi - lo)))) < 1e-6);
    }
    lg_waveform_free(w);
    /* Unknown length: 8 buckets, 1000 frames -> widths 128, 8 buckets used. */
    w = lg_waveform_new(2, 8, 0);
    lg_waveform_add(w, x, n);
    CHECK_INT(lg_waveform_get(w, pk, rms), 8);
    CHECK(pk[0] == x[2 * 127] && pk[7] == x[2 * 999]);
    lg_waveform_free(w);
    free(x);
}

LG_TEST_MAIN(LG_CASE(test_gain_ramp), LG_CASE(test_limiter_ceiling),
             LG_CASE(test_limiter_latency_and_transparency), LG_CASE(test_replaygain),
             LG_CASE(test_waveform))
