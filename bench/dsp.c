/* SPDX-License-Identifier: MIT */
/*
 * DSP benchmark: legato's loudness meter against libebur128 and its
 * resampler against libsoxr (HQ and VHQ), side by side on the same PCM in one
 * run. Loudness: integrated loudness, loudness range, true peak and sample
 * peak of generated signals (pink-ish noise with level steps, sines) and of
 * raw files given with -l (interleaved float32 stereo at 48 kHz), in x
 * realtime per core and the answers of both. Resampling: 44.1 -> 48 kHz
 * stereo float, one-shot (filter design included) on generated noise and on
 * raw files given with -r (float32 stereo at 44.1 kHz), x realtime per core,
 * and the quality figures of tests/unit/rs_measure.h for each. Times are CPU
 * time of this process, best of three runs. Built by meson (src/dsp) only
 * when libebur128 and soxr are found; run through bench/dsp.
 *
 *   bench_dsp [-l FILE48.f32]... [-r FILE44.f32]...
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime; meson defines it too */
#endif
#include "dsp/dsp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ebur128.h>
#include <soxr.h>

#include "rs_measure.h"

#define CHUNK 4096 /* frames per call, as a decoder would deliver them */
#define REPS  3

struct pcm {
    char name[64];
    float *x; /* interleaved stereo */
    size_t n; /* frames */
    int rate;
};

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint32_t rng(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Pink-ish noise (three one-pole sums) in 15 s steps of -40, -30, -22 and
 * -33 dB (about -20 dBTP to -2 dBTP); 60 s stereo at rate. */
static struct pcm gen_pink(int rate)
{
    struct pcm p = { "pink noise, level steps", NULL, (size_t)rate * 60, rate };
    p.x = malloc(p.n * 2 * sizeof(float));
    static const double level_db[] = { -40, -30, -22, -33 };
    uint32_t s = 7;
    double b[2][3] = { { 0 } };
    for (size_t i = 0; i < p.n; i++) {
        double g = pow(10.0, level_db[(i / ((size_t)rate * 15)) % 4] / 20.0);
        for (int c = 0; c < 2; c++) {
            double w = (double)rng(&s) / 8388608.0 - 1.0;
            b[c][0] = 0.997 * b[c][0] + 0.029591 * w;
            b[c][1] = 0.985 * b[c][1] + 0.032534 * w;
            b[c][2] = 0.950 * b[c][2] + 0.048056 * w;
            p.x[2 * i + (size_t)c] = (float)(g * 3.0 * (b[c][0] + b[c][1] + b[c][2] + 0.2 * w));
        }
    }
    return p;
}

/* 1 kHz left, 997 Hz right at -6 dBFS with a 10 s -26 dBFS passage; 60 s. */
static struct pcm gen_sines(int rate)
{
    struct pcm p = { "sines 1 kHz / 997 Hz", NULL, (size_t)rate * 60, rate };
    p.x = malloc(p.n * 2 * sizeof(float));
    for (size_t i = 0; i < p.n; i++) {
        double g = (i / (size_t)rate) % 30 < 20 ? 0.5 : 0.05;
        p.x[2 * i] = (float)(g * sin(2 * RS_PI * 1000.0 * (double)i / rate));
        p.x[2 * i + 1] = (float)(g * sin(2 * RS_PI * 997.0 * (double)i / rate + 0.5));
    }
    return p;
}

/* Stereo noise, uniform, -6 dBFS peak; seconds long. */
static struct pcm gen_noise(int rate, int seconds)
{
    struct pcm p = { "white noise", NULL, (size_t)rate * (size_t)seconds, rate };
    p.x = malloc(p.n * 2 * sizeof(float));
    uint32_t s = 1;
    for (size_t i = 0; i < p.n * 2; i++)
        p.x[i] = (float)((double)rng(&s) / 16777216.0 - 0.5);
    return p;
}

static int load_raw(const char *path, int rate, struct pcm *p)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = (size_t)rate * 2 * 60, len = 0, got;
    float *x = malloc(cap * sizeof(float));
    while (x && (got = fread(x + len, sizeof(float), cap - len, f)) > 0) {
        len += got;
        if (len == cap)
            x = realloc(x, (cap *= 2) * sizeof(float));
    }
    fclose(f);
    const char *base = strrchr(path, '/');
    snprintf(p->name, sizeof(p->name), "%s", base ? base + 1 : path);
    p->name[strcspn(p->name, ".")] = '\0'; /* "NN-title.48k.f32" -> "NN-title" */
    p->x = x;
    p->n = len / 2;
    p->rate = rate;
    return x && p->n > (size_t)rate ? 0 : -1;
}

/* ---- loudness ---- */

struct loud {
    double i, lra, tp, sp; /* LUFS, LU, dBTP, dBFS (max over channels) */
};

static struct loud run_legato(const struct pcm *p)
{
    struct lg_loudness *m = lg_loudness_new(p->rate, 2, LG_LOUDNESS_ALL);
    for (size_t at = 0; at < p->n; at += CHUNK)
        lg_loudness_add(m, p->x + at * 2, p->n - at < CHUNK ? p->n - at : CHUNK);
    struct loud r;
    lg_loudness_integrated(m, &r.i);
    lg_loudness_range(m, &r.lra);
    lg_loudness_true_peak(m, -1, &r.tp);
    lg_loudness_sample_peak(m, -1, &r.sp);
    lg_loudness_free(m);
    return r;
}

static struct loud run_ebur128(const struct pcm *p)
{
    ebur128_state *st = ebur128_init(2, (unsigned long)p->rate,
                                     EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_TRUE_PEAK);
    for (size_t at = 0; at < p->n; at += CHUNK)
        ebur128_add_frames_float(st, p->x + at * 2, p->n - at < CHUNK ? p->n - at : CHUNK);
    struct loud r;
    double tp = 0, sp = 0, v;
    ebur128_loudness_global(st, &r.i);
    ebur128_loudness_range(st, &r.lra);
    for (unsigned c = 0; c < 2; c++) {
        ebur128_true_peak(st, c, &v);
        tp = fmax(tp, v);
        ebur128_sample_peak(st, c, &v);
        sp = fmax(sp, v);
    }
    r.tp = 20 * log10(tp);
    r.sp = 20 * log10(sp);
    ebur128_destroy(&st);
    return r;
}

typedef struct loud loud_fn(const struct pcm *p);

/* Best-of-REPS x realtime per core; the answers in *out. */
static double time_loud(loud_fn *fn, const struct pcm *p, struct loud *out)
{
    double best = HUGE_VAL;
    for (int r = 0; r < REPS; r++) {
        double t0 = cpu_seconds();
        *out = fn(p);
        double t = cpu_seconds() - t0;
        best = t < best ? t : best;
    }
    return (double)p->n / p->rate / best;
}

static double bench_loudness(const struct pcm *v, size_t n)
{
    printf("\nLoudness: I + LRA + true peak + sample peak, stereo, %d-frame blocks\n", CHUNK);
    printf("%-26s %9s %9s %6s | %-29s | %-29s\n", "signal", "legato", "ebur128", "ratio",
           "legato  I / LRA / TP / SP", "ebur128 I / LRA / TP / SP");
    double worst = HUGE_VAL;
    for (size_t k = 0; k < n; k++) {
        struct loud a, b;
        double sa = time_loud(run_legato, &v[k], &a), sb = time_loud(run_ebur128, &v[k], &b);
        worst = fmin(worst, sa / sb);
        printf(
            "%-26.26s %8.0fx %8.0fx %5.2fx | %6.2f %5.2f %6.2f %6.2f | %6.2f %5.2f %6.2f %6.2f\n",
            v[k].name, sa, sb, sa / sb, a.i, a.lra, a.tp, a.sp, b.i, b.lra, b.tp, b.sp);
    }
    return worst;
}

/* ---- resampling ---- */

static unsigned long soxr_recipe;

static float *soxr_stereo(int fi, int fo, int ch, const float *in, size_t n_in, size_t *n_out)
{
    size_t cap = (size_t)((double)n_in * fo / fi) + 16;
    float *y = malloc(cap * (size_t)ch * sizeof(float));
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(soxr_recipe, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1);
    soxr_error_t e =
        soxr_oneshot(fi, fo, (unsigned)ch, in, n_in, NULL, y, cap, n_out, &io, &q, &rt);
    if (e)
        fprintf(stderr, "soxr: %s\n", e);
    return y;
}

static float *legato_stereo(int fi, int fo, int ch, const float *in, size_t n_in, size_t *n_out)
{
    struct lg_resampler *r = lg_resampler_new(fi, fo, ch);
    size_t cap = lg_resampler_out_max(r, n_in) + lg_resampler_flush_max(r) + fo / 10 + 16;
    float *y = malloc(cap * (size_t)ch * sizeof(float));
    size_t n = lg_resampler_process(r, in, n_in, y, cap);
    n += lg_resampler_flush(r, y + n * (size_t)ch, cap - n);
    lg_resampler_free(r);
    *n_out = n;
    return y;
}

static float *soxr_mono(int fi, int fo, const float *in, size_t n_in, size_t *n_out)
{
    return soxr_stereo(fi, fo, 1, in, n_in, n_out);
}

static float *legato_mono(int fi, int fo, const float *in, size_t n_in, size_t *n_out)
{
    return legato_stereo(fi, fo, 1, in, n_in, n_out);
}

typedef float *rs_fn(int fi, int fo, int ch, const float *in, size_t n_in, size_t *n_out);

static double time_rs(rs_fn *fn, const struct pcm *p)
{
    double best = HUGE_VAL;
    for (int r = 0; r < REPS; r++) {
        size_t n = 0;
        double t0 = cpu_seconds();
        free(fn(p->rate, 48000, 2, p->x, p->n, &n));
        double t = cpu_seconds() - t0;
        best = t < best ? t : best;
    }
    return (double)p->n / p->rate / best;
}

struct rs_row {
    const char *name;
    rs_fn *fn;
    rs_oneshot_fn *mono;
    unsigned long recipe;
};

static const struct rs_row rs_rows[] = {
    { "legato", legato_stereo, legato_mono, 0 },
    { "soxr HQ", soxr_stereo, soxr_mono, SOXR_HQ },
    { "soxr VHQ", soxr_stereo, soxr_mono, SOXR_VHQ },
};

/* Prints one table row per resampler; returns legato's speed over soxr HQ's
 * in *ratio and whether legato's quality is at least the issue's. */
static int bench_resample(const struct pcm *v, size_t n, double *ratio)
{
    printf("\nResampling 44.1 -> 48 kHz stereo float, one-shot, x realtime per core\n");
    printf("%-9s", "");
    for (size_t k = 0; k < n; k++)
        printf(" %16.16s", v[k].name);
    printf(" | passband  stopband  THD+N (44.1->48; 48->44.1)\n");
    double speed[3] = { 0 };
    int ok = 1;
    for (size_t r = 0; r < 3; r++) {
        soxr_recipe = rs_rows[r].recipe;
        printf("%-9s", rs_rows[r].name);
        double sum = 0;
        for (size_t k = 0; k < n; k++) {
            double s = time_rs(rs_rows[r].fn, &v[k]);
            sum += log(s);
            printf(" %15.0fx", s);
        }
        speed[r] = exp(sum / (double)n); /* geometric mean over signals */
        double pa = rs_passband_db(rs_rows[r].mono, 44100, 48000);
        double pb = rs_passband_db(rs_rows[r].mono, 48000, 44100);
        double sa = rs_stopband_db(rs_rows[r].mono, 44100, 48000);
        double sb = rs_stopband_db(rs_rows[r].mono, 48000, 44100);
        double ta = rs_thdn_db(rs_rows[r].mono, 44100, 48000);
        double tb = rs_thdn_db(rs_rows[r].mono, 48000, 44100);
        printf(" | %.4f/%.4f dB %.1f/%.1f dB %.1f/%.1f dB\n", pa, pb, sa, sb, ta, tb);
        if (r == 0)
            ok = fmax(pa, pb) <= 0.01 && fmax(sa, sb) <= -120 && fmax(ta, tb) <= -120;
    }
    *ratio = speed[0] / speed[1];
    return ok;
}

int main(int argc, char **argv)
{
    struct pcm loud[16], rs[16];
    size_t nl = 0, nr = 0;
    loud[nl++] = gen_pink(48000);
    loud[nl++] = gen_sines(48000);
    rs[nr++] = gen_noise(44100, 30);
    for (int i = 1; i + 1 < argc; i += 2) {
        int is_l = strcmp(argv[i], "-l") == 0;
        struct pcm *slot = is_l ? (nl < 16 ? &loud[nl] : NULL) : (nr < 16 ? &rs[nr] : NULL);
        if (!slot || load_raw(argv[i + 1], is_l ? 48000 : 44100, slot) != 0) {
            fprintf(stderr, "bench_dsp: cannot use %s\n", argv[i + 1]);
            continue;
        }
        *(is_l ? &nl : &nr) += 1;
    }
    double lr = bench_loudness(loud, nl), rr = 0;
    int q = bench_resample(rs, nr, &rr);
    printf("\nTargets:\n");
    printf("  loudness: legato >= 3x libebur128 (worst ratio above %.2fx)       %s\n", lr,
           lr >= 3.0 ? "MET" : "NOT MET");
    printf("  resampling: faster than soxr HQ (%.2fx, geometric mean) at the issue's quality "
           "(<= 0.01 dB, >= 120 dB, <= -120 dB)  %s\n",
           rr, rr > 1.0 && q ? "MET" : "NOT MET");
    for (size_t k = 0; k < nl; k++)
        free(loud[k].x);
    for (size_t k = 0; k < nr; k++)
        free(rs[k].x);
    return 0;
}
