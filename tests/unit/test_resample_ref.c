/* SPDX-License-Identifier: MIT */
/*
 * legato's resampler side by side with libsoxr (HQ and VHQ): the same quality
 * figures (passband, stopband, THD+N) measured by the same code
 * (rs_measure.h), and speed in x realtime per core for 44.1 -> 48 kHz stereo.
 * Only legato's quality targets are asserted; the rest is printed. Exits 77
 * (skip) when built without libsoxr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dsp/dsp.h"

#include "harness.h"
#include "rs_measure.h"

#ifdef LG_HAVE_SOXR
#include <soxr.h>

static unsigned long soxr_recipe = SOXR_HQ;

static float *soxr_run(int in_rate, int out_rate, int ch, const float *in, size_t n_in,
                       size_t *n_out)
{
    size_t cap = (size_t)((double)n_in * out_rate / in_rate) + 16;
    float *y = malloc(cap * (size_t)ch * sizeof(float));
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(soxr_recipe, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1); /* one thread: per-core figures */
    size_t done = 0;
    soxr_error_t e =
        soxr_oneshot(in_rate, out_rate, (unsigned)ch, in, n_in, NULL, y, cap, &done, &io, &q, &rt);
    if (e)
        fprintf(stderr, "soxr: %s\n", e);
    *n_out = done;
    return y;
}

static float *soxr_mono(int in_rate, int out_rate, const float *in, size_t n_in, size_t *n_out)
{
    return soxr_run(in_rate, out_rate, 1, in, n_in, n_out);
}
#endif

static float *lg_run(int in_rate, int out_rate, int ch, const float *in, size_t n_in, size_t *n_out)
{
    struct lg_resampler *r = lg_resampler_new(in_rate, out_rate, ch);
    size_t cap = lg_resampler_out_max(r, n_in);
    float *y = malloc((cap + 1) * (size_t)ch * sizeof(float));
    size_t n = lg_resampler_process(r, in, n_in, y, cap);
    size_t fcap = lg_resampler_flush_max(r);
    y = realloc(y, (n + fcap + 1) * (size_t)ch * sizeof(float));
    n += lg_resampler_flush(r, y + n * (size_t)ch, fcap);
    lg_resampler_free(r);
    *n_out = n;
    return y;
}

static float *lg_mono(int in_rate, int out_rate, const float *in, size_t n_in, size_t *n_out)
{
    return lg_run(in_rate, out_rate, 1, in, n_in, n_out);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* x realtime per core of 44.1 -> 48 kHz stereo over 10 s of noise (one-shot,
 * filter design included). */
typedef float *run_fn(int in_rate, int out_rate, int ch, const float *in, size_t n_in,
                      size_t *n_out);
static double speed(run_fn *fn)
{
    size_t n_in = 441000;
    float *x = malloc(n_in * 2 * sizeof(float));
    uint32_t s = 1;
    for (size_t i = 0; i < n_in * 2; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);
    }
    double best = HUGE_VAL;
    for (int rep = 0; rep < 3; rep++) { /* best of three: others share the CPU */
        size_t n = 0;
        double t0 = cpu_seconds();
        free(fn(44100, 48000, 2, x, n_in, &n));
        double t = cpu_seconds() - t0;
        best = t < best ? t : best;
    }
    free(x);
    return 10.0 / best;
}

static void report(const char *name, rs_oneshot_fn *fn, run_fn *rf, int assert_targets)
{
    static const int pairs[][2] = { { 44100, 48000 }, { 48000, 44100 }, { 96000, 48000 } };
    for (size_t p = 0; p < 3; p++) {
        int fi = pairs[p][0], fo = pairs[p][1];
        double pass = rs_passband_db(fn, fi, fo), stop = rs_stopband_db(fn, fi, fo);
        double thdn = rs_thdn_db(fn, fi, fo);
        printf("# %-10s %6d -> %6d: passband %.5f dB, stopband %.1f dB, THD+N %.1f dB\n", name, fi,
               fo, pass, stop, thdn);
        if (assert_targets) {
            CHECK(pass <= 0.01);
            CHECK(stop <= -120.0);
            CHECK(thdn <= -120.0);
        }
    }
    printf("# %-10s 44.1 -> 48 kHz stereo: %.0f x realtime per core\n", name, speed(rf));
}

LG_TEST(test_compare)
{
    report("legato", lg_mono, lg_run, 1);
#ifdef LG_HAVE_SOXR
    soxr_recipe = SOXR_HQ;
    report("soxr HQ", soxr_mono, soxr_run, 0);
    soxr_recipe = SOXR_VHQ;
    report("soxr VHQ", soxr_mono, soxr_run, 0);
#endif
}

#ifdef LG_HAVE_SOXR
LG_TEST_MAIN(LG_CASE(test_compare))
#else
int main(void)
{
    puts("# skipped: built without libsoxr");
    return 77;
}
#endif
