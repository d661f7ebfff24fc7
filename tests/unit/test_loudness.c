/* SPDX-License-Identifier: MIT */
/*
 * Tests of the loudness meter (src/dsp/loudness.c) against the EBU test
 * signals: Tech 3341 cases 1-6 (momentary, short-term, integrated), Tech 3342
 * cases 1-4 (loudness range), true peak of inter-sample peaks, several sample
 * rates, the K-weighting design against the BS.1770 48 kHz table, streaming
 * with odd block sizes, album gating and AVX2 against portable kernels. The
 * signals are generated here.
 */
#include <math.h>
#include <stdlib.h>

#include "dsp/dsp.h"
#include "dsp/kernels_loudness.h"

#include "harness.h"

#define PI 3.14159265358979323846

/* A sine generator that keeps its phase across segments. */
struct gen {
    struct lg_loudness *m;
    int rate, nch;
    double freq, phase0;
    long long n;
    double fade_s; /* raised-cosine fade-in, so the onset does not ring */
};

/* Feeds seconds of a sine with per-channel levels in dBFS (NULL: one level). */
static void feed(struct gen *g, const double *db, double db_all, double seconds)
{
    enum { BLOCK = 4096 };
    float *buf = malloc(sizeof(float) * BLOCK * (size_t)g->nch);
    double amp[8];
    for (int c = 0; c < g->nch; c++)
        amp[c] = pow(10.0, (db ? db[c] : db_all) / 20.0);
    long long left = llround(seconds * g->rate);
    while (left > 0) {
        size_t n = left < BLOCK ? (size_t)left : BLOCK;
        for (size_t i = 0; i < n; i++) {
            double t = (double)(g->n + (long long)i) / g->rate;
            double s = sin(2.0 * PI * g->freq * t + g->phase0);
            if (t < g->fade_s)
                s *= 0.5 - 0.5 * cos(PI * t / g->fade_s);
            for (int c = 0; c < g->nch; c++)
                buf[i * (size_t)g->nch + (size_t)c] = (float)(amp[c] * s);
        }
        CHECK_INT(lg_loudness_add(g->m, buf, n), 0);
        g->n += (long long)n;
        left -= (long long)n;
    }
    free(buf);
}

static struct gen gen_new(int rate, int nch, unsigned mode)
{
    struct gen g = { lg_loudness_new(rate, nch, mode), rate, nch, 1000.0, 0.0, 0, 0.0 };
    CHECK(g.m != NULL);
    return g;
}

static double integrated(const struct lg_loudness *m)
{
    double v = 0.0;
    CHECK_INT(lg_loudness_integrated(m, &v), 0);
    return v;
}

static double range(const struct lg_loudness *m)
{
    double v = 0.0;
    CHECK_INT(lg_loudness_range(m, &v), 0);
    return v;
}

#define CHECK_NEAR(a, b, tol)                                                                     \
    do {                                                                                          \
        double a_ = (a), b_ = (b);                                                                \
        if (!(fabs(a_ - b_) <= (tol))) {                                                          \
            fprintf(stderr, "  %s:%d: %s == %.6f, expected %.6f +- %g\n", __FILE__, __LINE__, #a, \
                    a_, b_, (double)(tol));                                                       \
            lg_test_failed++;                                                                     \
        }                                                                                         \
    } while (0)

/* Tech 3341 cases 1 and 2: M, S and I of a steady stereo sine. */
static void steady_case(int rate, double level, double seconds)
{
    struct gen g = gen_new(rate, 2, 0);
    feed(&g, NULL, level, seconds);
    double mo, st;
    CHECK_INT(lg_loudness_momentary(g.m, &mo), 0);
    CHECK_INT(lg_loudness_shortterm(g.m, &st), 0);
    CHECK_NEAR(mo, level, 0.1);
    CHECK_NEAR(st, level, 0.1);
    CHECK_NEAR(integrated(g.m), level, 0.1);
    lg_loudness_free(g.m);
}

LG_TEST(tech3341_case1_2)
{
    steady_case(48000, -23.0, 20.0);
    steady_case(48000, -33.0, 20.0);
}

LG_TEST(tech3341_rates)
{
    static const int rates[] = { 22050, 44100, 96000, 192000, 8000 };
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        steady_case(rates[i], -23.0, 10.0);
        steady_case(rates[i], -33.0, 10.0);
    }
}

/* Integrated loudness of stereo segments (levels in dBFS, lengths in s). */
static double segments(const double *db, const double *sec, int n, unsigned mode, double *lra)
{
    struct gen g = gen_new(48000, 2, mode);
    for (int i = 0; i < n; i++)
        feed(&g, NULL, db[i], sec[i]);
    double v = integrated(g.m);
    if (lra)
        *lra = range(g.m);
    lg_loudness_free(g.m);
    return v;
}

LG_TEST(tech3341_case3_4_5)
{
    static const double db3[] = { -36, -23, -36 }, s3[] = { 10, 60, 10 };
    CHECK_NEAR(segments(db3, s3, 3, 0, NULL), -23.0, 0.1);
    static const double db4[] = { -72, -36, -23, -36, -72 }, s4[] = { 10, 10, 60, 10, 10 };
    CHECK_NEAR(segments(db4, s4, 5, 0, NULL), -23.0, 0.1);
    static const double db5[] = { -26, -20, -26 }, s5[] = { 20, 20.1, 20 };
    CHECK_NEAR(segments(db5, s5, 3, 0, NULL), -23.0, 0.1);
}

LG_TEST(tech3341_case6_surround)
{
    static const double db5[] = { -28, -28, -24, -30, -30 };
    struct gen g = gen_new(48000, 5, 0);
    feed(&g, db5, 0, 20.0);
    CHECK_NEAR(integrated(g.m), -23.0, 0.1);
    lg_loudness_free(g.m);
    /* The same in 5.1 with a loud LFE, which must not count. */
    static const double db6[] = { -28, -28, -24, -6, -30, -30 };
    g = gen_new(48000, 6, 0);
    feed(&g, db6, 0, 20.0);
    CHECK_NEAR(integrated(g.m), -23.0, 0.1);
    lg_loudness_free(g.m);
}

LG_TEST(tech3342_range)
{
    struct {
        double db[5], sec[5];
        int n;
        double lra;
    } rows[] = {
        { { -20, -30 }, { 20, 20 }, 2, 10 },
        { { -20, -15 }, { 20, 20 }, 2, 5 },
        { { -40, -20 }, { 20, 20 }, 2, 20 },
        { { -50, -35, -20, -35, -50 }, { 20, 20, 20, 20, 20 }, 5, 15 },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        double lra = 0.0;
        segments(rows[i].db, rows[i].sec, rows[i].n, LG_LOUDNESS_LRA, &lra);
        CHECK_NEAR(lra, rows[i].lra, 1.0);
    }
}

/* True and sample peak of a sine of amplitude 1 at freq and phase. */
static void tp_case(int rate, double freq, double phase, unsigned extra)
{
    struct gen g = gen_new(rate, 2, LG_LOUDNESS_ALL | extra);
    g.freq = freq;
    g.phase0 = phase;
    g.fade_s = 0.05;
    feed(&g, NULL, 0.0, 1.0);
    double tp, sp;
    CHECK_INT(lg_loudness_true_peak(g.m, -1, &tp), 0);
    CHECK_INT(lg_loudness_sample_peak(g.m, -1, &sp), 0);
    if (!(tp <= 0.2 && tp >= -0.4))
        fprintf(stderr, "  tp %.4f at %d Hz, %.0f Hz\n", tp, rate, freq);
    CHECK(tp <= 0.2 && tp >= -0.4);
    CHECK(tp >= sp);
    lg_loudness_free(g.m);
}

LG_TEST(true_peak_intersample)
{
    /* fs/4 at 45 degrees: every sample reads -3.01 dBFS, the true peak 0 dBTP. */
    struct gen g = gen_new(48000, 2, LG_LOUDNESS_ALL);
    g.freq = 12000.0;
    g.phase0 = PI / 4.0;
    g.fade_s = 0.05;
    feed(&g, NULL, 0.0, 1.0);
    double tp, sp, tp1;
    CHECK_INT(lg_loudness_true_peak(g.m, -1, &tp), 0);
    CHECK_INT(lg_loudness_true_peak(g.m, 1, &tp1), 0);
    CHECK_INT(lg_loudness_sample_peak(g.m, -1, &sp), 0);
    CHECK_NEAR(sp, -3.0103, 1e-3);
    CHECK_NEAR(tp, 0.0, 0.05);
    CHECK_NEAR(tp1, tp, 1e-9);
    lg_loudness_free(g.m);
    /* Sines up to fs/4 at awkward phases, at several rates, both kernels. */
    static const double freqs[] = { 997.0, 5000.0, 9000.0, 11025.0 };
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof(freqs) / sizeof(freqs[0]); i++) {
            tp_case(44100, freqs[i], 0.3, k ? LG_LOUDNESS_PORTABLE : 0);
            tp_case(48000, freqs[i], 1.1, k ? LG_LOUDNESS_PORTABLE : 0);
            tp_case(96000, freqs[i] * 2, 0.7, k ? LG_LOUDNESS_PORTABLE : 0);
        }
    }
}

LG_TEST(kweight_48k_table)
{
    struct lg_biquad sh, hp;
    lg_kweight_design(48000.0, &sh, &hp);
    CHECK_NEAR(sh.b0, 1.53512485958697, 1e-6);
    CHECK_NEAR(sh.b1, -2.69169618940638, 1e-6);
    CHECK_NEAR(sh.b2, 1.19839281085285, 1e-6);
    CHECK_NEAR(sh.a1, -1.69065929318241, 1e-6);
    CHECK_NEAR(sh.a2, 0.73248077421585, 1e-6);
    CHECK_NEAR(hp.b0, 1.0, 1e-12);
    CHECK_NEAR(hp.b1, -2.0, 1e-12);
    CHECK_NEAR(hp.b2, 1.0, 1e-12);
    CHECK_NEAR(hp.a1, -1.99004745483398, 1e-6);
    CHECK_NEAR(hp.a2, 0.99007225036621, 1e-6);
}

/* A deterministic noisy signal with level changes, nch channels. */
static float *noise_signal(size_t frames, int nch, unsigned seed)
{
    float *v = malloc(sizeof(float) * frames * (size_t)nch);
    double lp[8] = { 0 };
    for (size_t i = 0; i < frames; i++) {
        double gain = 0.05 + 0.6 * (double)((i / 20000) % 5) / 4.0;
        for (int c = 0; c < nch; c++) {
            seed = seed * 1664525u + 1013904223u;
            double w = (double)(seed >> 8) / 8388608.0 - 1.0;
            lp[c] = 0.7 * lp[c] + 0.3 * w;
            v[i * (size_t)nch + (size_t)c] = (float)(gain * lp[c]);
        }
    }
    return v;
}

struct result {
    double i, lra, sp, tp, mo, st;
};

/* Measures a signal fed in blocks of varying size (step 0: all at once). */
static struct result measure(const float *v, size_t frames, int nch, unsigned mode, size_t step)
{
    struct lg_loudness *m = lg_loudness_new(48000, nch, mode);
    struct result r = { 0 };
    size_t off = 0, k = 0;
    while (off < frames) {
        size_t n = step ? (step * (k++ % 7) + 1) : frames;
        n = n < frames - off ? n : frames - off;
        CHECK_INT(lg_loudness_add(m, v + off * (size_t)nch, n), 0);
        off += n;
    }
    CHECK_INT(lg_loudness_integrated(m, &r.i), 0);
    CHECK_INT(lg_loudness_range(m, &r.lra), 0);
    CHECK_INT(lg_loudness_sample_peak(m, -1, &r.sp), 0);
    CHECK_INT(lg_loudness_true_peak(m, -1, &r.tp), 0);
    CHECK_INT(lg_loudness_momentary(m, &r.mo), 0);
    CHECK_INT(lg_loudness_shortterm(m, &r.st), 0);
    lg_loudness_free(m);
    return r;
}

static void check_same(struct result a, struct result b, double lu_tol, double db_tol)
{
    CHECK_NEAR(a.i, b.i, lu_tol);
    CHECK_NEAR(a.lra, b.lra, lu_tol);
    CHECK_NEAR(a.mo, b.mo, lu_tol);
    CHECK_NEAR(a.st, b.st, lu_tol);
    CHECK_NEAR(a.sp, b.sp, db_tol);
    CHECK_NEAR(a.tp, b.tp, db_tol);
}

LG_TEST(streaming_and_kernels_agree)
{
    size_t frames = 48000 * 8;
    float *v = noise_signal(frames, 3, 7u);
    struct result whole = measure(v, frames, 3, LG_LOUDNESS_ALL, 0);
    struct result odd = measure(v, frames, 3, LG_LOUDNESS_ALL, 517);
    struct result port = measure(v, frames, 3, LG_LOUDNESS_ALL | LG_LOUDNESS_PORTABLE, 0);
    check_same(whole, odd, 1e-9, 1e-9);
    /* 1e-5 relative on peaks is 8.7e-5 dB. */
    check_same(whole, port, 1e-4, 9e-5);
    CHECK(whole.i > -40.0 && whole.i < -5.0);
    CHECK(whole.lra > 1.0);
    free(v);
}

LG_TEST(album_gating)
{
    /* Two tracks at -20 and -30 dBFS: album = gate over the union. */
    struct gen a = gen_new(48000, 2, LG_LOUDNESS_LRA);
    struct gen b = gen_new(48000, 2, LG_LOUDNESS_LRA);
    struct gen both = gen_new(48000, 2, LG_LOUDNESS_LRA);
    feed(&a, NULL, -20.0, 10.0);
    feed(&b, NULL, -30.0, 10.0);
    feed(&both, NULL, -20.0, 10.0);
    feed(&both, NULL, -30.0, 10.0);
    const struct lg_loudness *v[] = { a.m, b.m };
    double il, lra;
    CHECK_INT(lg_loudness_integrated_multi(v, 2, &il), 0);
    CHECK_INT(lg_loudness_range_multi(v, 2, &lra), 0);
    CHECK_NEAR(il, integrated(both.m), 0.05);
    CHECK_NEAR(lra, range(both.m), 0.3);
    CHECK_NEAR(il, 10.0 * log10((1e-2 + 1e-3) / 2.0), 0.1);
    /* The energies alone give the same answers. */
    const double *e;
    size_t n = lg_loudness_block_energies(a.m, &e);
    double i2;
    CHECK(n > 90);
    CHECK_INT(lg_loudness_gate_integrated(e, n, &i2), 0);
    CHECK_NEAR(i2, integrated(a.m), 1e-12);
    lg_loudness_free(a.m);
    lg_loudness_free(b.m);
    lg_loudness_free(both.m);
}

LG_TEST(edges)
{
    CHECK(lg_loudness_new(1000, 2, 0) == NULL);
    CHECK(lg_loudness_new(48000, 0, 0) == NULL);
    lg_loudness_free(NULL);
    struct lg_loudness *m = lg_loudness_new(48000, 1, 0);
    double v = 0.0;
    CHECK_INT(lg_loudness_integrated(m, &v), 0);
    CHECK(isinf(v) && v < 0);
    CHECK_INT(lg_loudness_add(m, NULL, 0), 0);
    CHECK(lg_loudness_range(m, &v) < 0);
    CHECK(lg_loudness_true_peak(m, -1, &v) < 0);
    lg_loudness_free(m);
    m = lg_loudness_new(48000, 2, LG_LOUDNESS_ALL);
    CHECK(lg_loudness_true_peak(m, 2, &v) < 0);
    CHECK_INT(lg_loudness_true_peak(m, 0, &v), 0);
    CHECK(isinf(v) && v < 0);
    lg_loudness_free(m);
}

LG_TEST_MAIN(LG_CASE(tech3341_case1_2), LG_CASE(tech3341_rates), LG_CASE(tech3341_case3_4_5),
             LG_CASE(tech3341_case6_surround), LG_CASE(tech3342_range),
             LG_CASE(true_peak_intersample), LG_CASE(kweight_48k_table),
             LG_CASE(streaming_and_kernels_agree), LG_CASE(album_gating), LG_CASE(edges))
