/* SPDX-License-Identifier: MIT */
/*
 * The loudness meter against libebur128 (modes I, LRA, sample and true peak)
 * on generated music-like signals: stereo low-passed noise bursts of varying
 * length, colour and level at 44.1 and 48 kHz. Integrated loudness must agree
 * within 0.02 LU, range within 0.1 LU, true peak within 0.1 dB and sample
 * peak exactly. Also prints (does not assert) the speed of both on the same
 * buffer. Exits 77 (skip) when built without libebur128.
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "dsp/dsp.h"

#include "harness.h"

#if LG_HAVE_EBUR128
#include <ebur128.h>

#define CHECK_NEAR(a, b, tol)                                                                     \
    do {                                                                                          \
        double a_ = (a), b_ = (b);                                                                \
        if (!(fabs(a_ - b_) <= (tol))) {                                                          \
            fprintf(stderr, "  %s:%d: %s == %.6f, expected %.6f +- %g\n", __FILE__, __LINE__, #a, \
                    a_, b_, (double)(tol));                                                       \
            lg_test_failed++;                                                                     \
        }                                                                                         \
    } while (0)

static unsigned next(unsigned *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return *seed >> 8;
}

static double uniform(unsigned *seed)
{
    return (double)next(seed) / 16777216.0;
}

/* Bursts of 0.3-4 s of two-pole low-passed noise, partly correlated between
 * the two channels, at -45..-8 dBFS, with short gaps of silence. */
static float *music(int rate, double seconds, unsigned seed, size_t *out_frames)
{
    size_t frames = (size_t)(seconds * rate);
    float *v = calloc(frames * 2, sizeof(float));
    size_t i = 0;
    while (i < frames) {
        size_t len = (size_t)((0.3 + 3.7 * uniform(&seed)) * rate);
        double gain = pow(10.0, (-45.0 + 37.0 * uniform(&seed)) / 20.0) * 3.0;
        double a = 0.03 + 0.4 * uniform(&seed); /* one-pole coefficient: music-like spectra */
        double l1 = 0, l2 = 0, r1 = 0, r2 = 0;
        int gap = uniform(&seed) < 0.15;
        for (size_t j = 0; j < len && i < frames; j++, i++) {
            double common = uniform(&seed) - 0.5;
            double wl = 0.6 * common + 0.4 * (uniform(&seed) - 0.5);
            double wr = 0.6 * common + 0.4 * (uniform(&seed) - 0.5);
            l1 += a * (wl - l1);
            l2 += a * (l1 - l2);
            r1 += a * (wr - r1);
            r2 += a * (r1 - r2);
            /* 5 ms fades, as band-limited music has no steps. */
            double fade = (double)(j < len - j ? j : len - j) / (0.005 * rate);
            double g = gap ? 0.0 : gain * (fade < 1.0 ? fade : 1.0) / a;
            v[2 * i] = (float)(g * l2);
            v[2 * i + 1] = (float)(g * r2);
        }
    }
    *out_frames = frames;
    return v;
}

struct values {
    double i, lra, sp, tp;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static struct values run_legato(const float *v, size_t frames, int rate)
{
    struct values r = { 0 };
    struct lg_loudness *m = lg_loudness_new(rate, 2, LG_LOUDNESS_ALL);
    for (size_t off = 0; off < frames; off += 4096) {
        size_t n = frames - off < 4096 ? frames - off : 4096;
        CHECK_INT(lg_loudness_add(m, v + 2 * off, n), 0);
    }
    CHECK_INT(lg_loudness_integrated(m, &r.i), 0);
    CHECK_INT(lg_loudness_range(m, &r.lra), 0);
    CHECK_INT(lg_loudness_sample_peak(m, -1, &r.sp), 0);
    CHECK_INT(lg_loudness_true_peak(m, -1, &r.tp), 0);
    lg_loudness_free(m);
    return r;
}

static double max_db(ebur128_state *st, int (*fn)(ebur128_state *, unsigned, double *))
{
    double a = 0, b = 0;
    CHECK_INT(fn(st, 0, &a), EBUR128_SUCCESS);
    CHECK_INT(fn(st, 1, &b), EBUR128_SUCCESS);
    return 20.0 * log10(a > b ? a : b);
}

static struct values run_ebur128(const float *v, size_t frames, int rate)
{
    struct values r = { 0 };
    ebur128_state *st = ebur128_init(2, (unsigned long)rate,
                                     EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_TRUE_PEAK |
                                         EBUR128_MODE_SAMPLE_PEAK);
    for (size_t off = 0; off < frames; off += 4096) {
        size_t n = frames - off < 4096 ? frames - off : 4096;
        CHECK_INT(ebur128_add_frames_float(st, v + 2 * off, n), EBUR128_SUCCESS);
    }
    CHECK_INT(ebur128_loudness_global(st, &r.i), EBUR128_SUCCESS);
    CHECK_INT(ebur128_loudness_range(st, &r.lra), EBUR128_SUCCESS);
    r.sp = max_db(st, ebur128_sample_peak);
    r.tp = max_db(st, ebur128_true_peak);
    ebur128_destroy(&st);
    return r;
}

static void compare(int rate, unsigned seed)
{
    size_t frames;
    float *v = music(rate, 40.0, seed, &frames);
    struct values a = run_legato(v, frames, rate), b = run_ebur128(v, frames, rate);
    printf("# %d Hz seed %u: I %.4f / %.4f LUFS, LRA %.4f / %.4f LU, TP %.4f / %.4f dBTP, "
           "SP %.4f / %.4f dBFS (legato / libebur128)\n",
           rate, seed, a.i, b.i, a.lra, b.lra, a.tp, b.tp, a.sp, b.sp);
    CHECK_NEAR(a.i, b.i, 0.02);
    CHECK_NEAR(a.lra, b.lra, 0.1);
    CHECK_NEAR(a.tp, b.tp, 0.1);
    CHECK_NEAR(a.sp, b.sp, 1e-6);
    free(v);
}

LG_TEST(agrees_with_libebur128)
{
    for (unsigned seed = 1; seed <= 3; seed++) {
        compare(44100, seed);
        compare(48000, seed + 10);
    }
}

LG_TEST(speed_print)
{
    size_t frames;
    float *v = music(48000, 60.0, 99u, &frames);
    double t0 = now_s();
    run_legato(v, frames, 48000);
    double t1 = now_s();
    run_ebur128(v, frames, 48000);
    double t2 = now_s();
    double audio_s = (double)frames / 48000.0;
    printf("# speed, 48 kHz stereo, I+LRA+SP+TP: legato %.0fx realtime, libebur128 %.0fx, "
           "ratio %.2f\n",
           audio_s / (t1 - t0), audio_s / (t2 - t1), (t2 - t1) / (t1 - t0));
    free(v);
}

LG_TEST_MAIN(LG_CASE(agrees_with_libebur128), LG_CASE(speed_print))
#else
int main(void)
{
    puts("libebur128 not found: skipped");
    return 77;
}
#endif
