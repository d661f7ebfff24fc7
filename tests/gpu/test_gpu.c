/* SPDX-License-Identifier: MIT */
/*
 * The CUDA backend against the CPU reference on a GPU machine. Each check
 * group runs the same input through both backends and prints one
 * "PASS"/"FAIL" line per compared value; the exit status is 0 when all pass,
 * 1 when any fails, 77 (skipped, for meson) when CUDA is not usable here.
 * With $OUT set, the lines also go to $OUT/test_gpu.txt and a summary to
 * $OUT/test_gpu.json. Built by meson when CUDA is built (suite gpu) and by
 * tests/gpu/run.sh with nvcc and cc alone.
 *
 * Analysis: EBU Tech 3341 cases 1-6 (steady, stepped and surround sines),
 * Tech 3342 cases 1-4 (loudness range), inter-sample true peaks, noise with
 * level steps at several rates and channel counts, tracks shorter than a
 * block, an empty track, a 10-minute track (multi-block segments) and a
 * batch of 300 random tracks of up to 60 s, a batch of 16-bit and float
 * tracks together; integrated loudness within 0.01 LU, true peak
 * within 0.05 dB, loudness range within 0.1 LU, sample peak exact.
 *
 * Streaming: the CUDA batcher against the CPU batcher on 200 jobs of ten
 * rate pairs, 1 to 8 channels, gains (with ramps and changes) and limiters,
 * in random blocks, then flushed: exact lengths, samples within 1e-5; the
 * same with events off, with one job in long blocks (the resampler's
 * history beyond shared memory), and on the auto backend with injected
 * costs moving the jobs between host and device every run; CUPTI's records
 * of a few runs (kernel names, copies, all within the runs' host time on
 * CLOCK_MONOTONIC).
 *
 * Groups are functions listed in groups[] below.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsp/dsp.h"

#define PI 3.14159265358979323846

#define TOL_I_LU   0.01
#define TOL_TP_DB  0.05
#define TOL_LRA_LU 0.1

/* ---- reporting ---- */

static FILE *txt;
static int n_pass, n_fail;
static int quiet; /* print failures only */

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static void say(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (txt) {
        va_start(ap, fmt);
        vfprintf(txt, fmt, ap);
        va_end(ap);
    }
}

/* One compared value: both silent (-inf), or within tol. */
static void check(const char *what, const char *name, double cpu, double cuda, double tol)
{
    int ok = (isinf(cpu) && isinf(cuda) && (cpu > 0) == (cuda > 0)) || fabs(cpu - cuda) <= tol;
    ok ? n_pass++ : n_fail++;
    if (ok && quiet)
        return;
    say("%s %-12s %-28s cpu %10.4f cuda %10.4f diff %.5f (tol %g)\n", ok ? "PASS" : "FAIL", what,
        name, cpu, cuda, isfinite(cpu - cuda) ? fabs(cpu - cuda) : 0.0, tol);
}

static void check_true(const char *what, const char *name, int ok, const char *detail)
{
    ok ? n_pass++ : n_fail++;
    if (ok && quiet)
        return;
    say("%s %-12s %-28s %s\n", ok ? "PASS" : "FAIL", what, name, detail);
}

/* ---- signals ---- */

struct track {
    char name[48];
    struct lg_pcm_track pcm;
};

static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static double uniform(uint32_t *s)
{
    return (double)(rng(s) >> 8) / 16777216.0 * 2.0 - 1.0;
}

static float *alloc_pcm(size_t frames, int channels)
{
    float *p = malloc((frames ? frames : 1) * (size_t)channels * sizeof(float));
    if (!p) {
        fprintf(stderr, "test_gpu: out of memory\n");
        exit(1);
    }
    return p;
}

/* A sine of freq Hz in segments of levels db[] (dBFS; per channel when
 * per_ch) and lengths sec[], with a 50 ms fade-in against onset ringing. */
static struct track sine_steps(const char *name, int rate, int channels, double freq, double phase,
                               const double *db, const double *sec, int n, int per_ch)
{
    struct track t;
    snprintf(t.name, sizeof(t.name), "%s", name);
    size_t frames = 0;
    for (int i = 0; i < (per_ch ? 1 : n); i++)
        frames += (size_t)llround(sec[i] * rate);
    float *x = alloc_pcm(frames, channels);
    size_t f = 0;
    for (int i = 0; i < (per_ch ? 1 : n); i++) {
        size_t len = (size_t)llround(sec[i] * rate);
        for (size_t k = 0; k < len; k++, f++) {
            double tm = (double)f / rate;
            double s = sin(2.0 * PI * freq * tm + phase);
            if (tm < 0.05)
                s *= 0.5 - 0.5 * cos(PI * tm / 0.05);
            for (int c = 0; c < channels; c++) {
                double level = per_ch ? db[c] : db[i];
                x[f * (size_t)channels + (size_t)c] = (float)(pow(10.0, level / 20.0) * s);
            }
        }
    }
    t.pcm = (struct lg_pcm_track){ .pcm = x, .frames = frames, .rate = rate, .channels = channels };
    return t;
}

/* Noise (white, or pink-ish from three one-pole sums) whose level steps every
 * step_s seconds over -45..-5 dBFS. */
static struct track noise(const char *name, int rate, int channels, double seconds, int pink,
                          double step_s, uint32_t seed)
{
    struct track t;
    snprintf(t.name, sizeof(t.name), "%s", name);
    size_t frames = (size_t)llround(seconds * rate);
    float *x = alloc_pcm(frames, channels);
    double p[64][3] = { { 0 } };
    int step = -1;
    double amp = 0.0;
    for (size_t f = 0; f < frames; f++) {
        if ((int)((double)f / rate / step_s) != step) {
            step = (int)((double)f / rate / step_s);
            amp = pow(10.0, (-45.0 + (double)((step * 13 + (int)(seed % 7)) % 9) * 5.0) / 20.0);
        }
        for (int c = 0; c < channels; c++) {
            double w = uniform(&seed), v = w;
            if (pink) {
                p[c][0] = 0.997 * p[c][0] + 0.029 * w;
                p[c][1] = 0.985 * p[c][1] + 0.032 * w;
                p[c][2] = 0.950 * p[c][2] + 0.048 * w;
                v = p[c][0] + p[c][1] + p[c][2] + 0.05 * w;
            }
            x[f * (size_t)channels + (size_t)c] = (float)(amp * v);
        }
    }
    t.pcm = (struct lg_pcm_track){ .pcm = x, .frames = frames, .rate = rate, .channels = channels };
    return t;
}

/* ---- comparing the backends ---- */

static double get(int (*fn)(const struct lg_loudness *, double *), const struct lg_loudness *m)
{
    double v = NAN;
    return fn(m, &v) == 0 ? v : NAN;
}

static double peak(int (*fn)(const struct lg_loudness *, int, double *),
                   const struct lg_loudness *m, int ch)
{
    double v = NAN;
    return fn(m, ch, &v) == 0 ? v : NAN;
}

/* The largest relative difference between the two meters' block energies,
 * or INFINITY when their counts differ. */
static double block_diff(const struct lg_loudness *a, const struct lg_loudness *b)
{
    const double *va, *vb;
    size_t na = lg_loudness_block_energies(a, &va), nb = lg_loudness_block_energies(b, &vb);
    if (na != nb)
        return INFINITY;
    double worst = 0.0;
    for (size_t i = 0; i < na; i++) {
        double d = fabs(va[i] - vb[i]) / (fabs(va[i]) > 0 ? fabs(va[i]) : 1.0);
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* Measures tracks on both backends and checks every track's values; verbose
 * prints a line per value, otherwise only failures; then a summary line. */
#define WAVE_BUCKETS 500

/* Waveforms: peaks equal, RMS within 1e-6 relative. */
static void check_wave(const char *name, const struct lg_waveform *a, const struct lg_waveform *b)
{
    static float pa[WAVE_BUCKETS], ra[WAVE_BUCKETS], pb[WAVE_BUCKETS], rb[WAVE_BUCKETS];
    size_t na = a ? lg_waveform_get(a, pa, ra) : 0, nb = b ? lg_waveform_get(b, pb, rb) : 0;
    double worst = 0.0;
    int peaks_equal = na == nb && a && b;
    for (size_t k = 0; peaks_equal && k < na; k++) {
        peaks_equal = pa[k] == pb[k];
        double d = fabs((double)ra[k] - rb[k]) / (rb[k] > 0 ? rb[k] : 1.0);
        worst = d > worst ? d : worst;
    }
    char detail[128];
    snprintf(detail, sizeof(detail), "%zu/%zu buckets, peaks %s, largest RMS difference %.3g", na,
             nb, peaks_equal ? "equal" : "DIFFER", worst);
    check_true("waveform", name, peaks_equal && worst <= 1e-6, detail);
}

static void compare(const char *group, struct track *t, size_t n, int verbose)
{
    struct lg_pcm_track *pcm = malloc(n * sizeof(*pcm));
    struct lg_loudness **cpu = calloc(n, sizeof(*cpu)), **gpu = calloc(n, sizeof(*gpu));
    struct lg_waveform **wcpu = calloc(n, sizeof(*wcpu)), **wgpu = calloc(n, sizeof(*wgpu));
    for (size_t i = 0; i < n; i++)
        pcm[i] = t[i].pcm;
    struct lg_dsp_batch_stats st;
    int rc_cpu = lg_dsp_analyze_batch_wave(LG_DSP_CPU, pcm, n, LG_LOUDNESS_ALL, WAVE_BUCKETS, cpu,
                                           wcpu, NULL);
    int rc_gpu = lg_dsp_analyze_batch_wave(LG_DSP_CUDA, pcm, n, LG_LOUDNESS_ALL, WAVE_BUCKETS, gpu,
                                           wgpu, &st);
    char detail[256];
    snprintf(detail, sizeof(detail), "cpu rc %d, cuda rc %d (%s)", rc_cpu, rc_gpu, st.note);
    check_true("batch", group, rc_cpu == 0 && rc_gpu == 0 && st.backend == LG_DSP_CUDA, detail);
    int before = n_fail;
    quiet = !verbose;
    for (size_t i = 0; rc_cpu == 0 && rc_gpu == 0 && i < n; i++) {
        check("integrated", t[i].name, get(lg_loudness_integrated, cpu[i]),
              get(lg_loudness_integrated, gpu[i]), TOL_I_LU);
        check("range", t[i].name, get(lg_loudness_range, cpu[i]), get(lg_loudness_range, gpu[i]),
              TOL_LRA_LU);
        check("momentary", t[i].name, get(lg_loudness_momentary, cpu[i]),
              get(lg_loudness_momentary, gpu[i]), TOL_I_LU);
        check("shortterm", t[i].name, get(lg_loudness_shortterm, cpu[i]),
              get(lg_loudness_shortterm, gpu[i]), TOL_I_LU);
        for (int c = -1; c < t[i].pcm.channels; c++) {
            check("true_peak", t[i].name, peak(lg_loudness_true_peak, cpu[i], c),
                  peak(lg_loudness_true_peak, gpu[i], c), TOL_TP_DB);
            check("sample_peak", t[i].name, peak(lg_loudness_sample_peak, cpu[i], c),
                  peak(lg_loudness_sample_peak, gpu[i], c), 0.0);
        }
        double bd = block_diff(cpu[i], gpu[i]);
        snprintf(detail, sizeof(detail), "largest relative difference %.3g", bd);
        check_true("blocks", t[i].name, bd <= 1e-6, detail);
        check_wave(t[i].name, wcpu[i], wgpu[i]);
    }
    quiet = 0;
    say("group %s: %zu tracks, %s; cuda %.1f ms (upload %.1f, kernels %.1f, download %.1f)\n",
        group, n, n_fail == before ? "all equal within tolerance" : "DIFFERENCES", st.wall_ms,
        st.upload_ms, st.kernels_ms, st.download_ms);
    for (size_t i = 0; i < n; i++) {
        lg_loudness_free(cpu[i]);
        lg_loudness_free(gpu[i]);
        lg_waveform_free(wcpu[i]);
        lg_waveform_free(wgpu[i]);
        free((void *)t[i].pcm.pcm);
        free((void *)t[i].pcm.s16);
    }
    free(cpu);
    free(gpu);
    free(wcpu);
    free(wgpu);
    free(pcm);
}

/* ---- check groups ---- */

static void check_ebu(void)
{
    static const double c1[] = { -23 }, c2[] = { -33 }, s20[] = { 20 };
    static const double c3[] = { -36, -23, -36 }, s3[] = { 10, 60, 10 };
    static const double c4[] = { -72, -36, -23, -36, -72 }, s4[] = { 10, 10, 60, 10, 10 };
    static const double c5[] = { -26, -20, -26 }, s5[] = { 20, 20.1, 20 };
    static const double c6[] = { -28, -28, -24, -30, -30 };
    static const double c6l[] = { -28, -28, -24, -6, -30, -30 };
    static const double r1[] = { -20, -30 }, r2[] = { -20, -15 }, r3[] = { -40, -20 };
    static const double r4[] = { -50, -35, -20, -35, -50 }, s40[] = { 20, 20, 20, 20, 20 };
    static const double tp[] = { 0.0 }, s1[] = { 1.0 };
    struct track t[] = {
        sine_steps("3341-1 -23", 48000, 2, 1000, 0, c1, s20, 1, 0),
        sine_steps("3341-2 -33", 48000, 2, 1000, 0, c2, s20, 1, 0),
        sine_steps("3341-3 steps", 48000, 2, 1000, 0, c3, s3, 3, 0),
        sine_steps("3341-4 steps", 48000, 2, 1000, 0, c4, s4, 5, 0),
        sine_steps("3341-5 steps", 48000, 2, 1000, 0, c5, s5, 3, 0),
        sine_steps("3341-6 5.0", 48000, 5, 1000, 0, c6, s20, 5, 1),
        sine_steps("3341-6 5.1 LFE", 48000, 6, 1000, 0, c6l, s20, 6, 1),
        sine_steps("3342-1 LRA 10", 48000, 2, 1000, 0, r1, s40, 2, 0),
        sine_steps("3342-2 LRA 5", 48000, 2, 1000, 0, r2, s40, 2, 0),
        sine_steps("3342-3 LRA 20", 48000, 2, 1000, 0, r3, s40, 2, 0),
        sine_steps("3342-4 LRA 15", 48000, 2, 1000, 0, r4, s40, 5, 0),
        sine_steps("tp fs/4 45deg", 48000, 2, 12000, PI / 4, tp, s1, 1, 0),
        sine_steps("tp 44.1k 11025", 44100, 2, 11025, PI / 4, tp, s1, 1, 0),
        sine_steps("tp 96k 19997", 96000, 1, 19997, 0.3, tp, s1, 1, 0),
        sine_steps("3341-1 at 44.1k", 44100, 2, 1000, 0, c1, s20, 1, 0),
        sine_steps("3341-1 at 8k", 8000, 2, 1000, 0, c1, s20, 1, 0),
        sine_steps("3341-1 at 192k", 192000, 2, 1000, 0, c1, s20, 1, 0),
    };
    compare("ebu", t, sizeof(t) / sizeof(t[0]), 1);
}

static void check_noise(void)
{
    struct track t[] = {
        noise("white 48k stereo", 48000, 2, 60, 0, 4.0, 1),
        noise("pink 44.1k stereo", 44100, 2, 45, 1, 3.0, 2),
        noise("pink 48k 5.1", 48000, 6, 30, 1, 2.5, 3),
        noise("white 96k stereo", 96000, 2, 20, 0, 1.5, 4),
        noise("pink 8k mono", 8000, 1, 40, 1, 5.0, 5),
        noise("pink 22.05k 3ch", 22050, 3, 33, 1, 2.0, 6),
        noise("short 50 ms", 48000, 2, 0.05, 0, 1.0, 7),
        noise("short 350 ms", 48000, 2, 0.35, 0, 1.0, 8),
        noise("empty", 48000, 2, 0, 0, 1.0, 9),
        noise("pink 10 min (long)", 48000, 2, 600, 1, 7.0, 10),
    };
    compare("noise", t, sizeof(t) / sizeof(t[0]), 1);
}

/* 300 tracks of random rate, channels and length in one batch (several
 * chunks), as a library scan feeds the backend. */
static void check_random_batch(void)
{
    enum { N = 300 };
    static const int rates[] = { 8000, 22050, 32000, 44100, 48000, 88200, 96000 };
    struct track *t = malloc(N * sizeof(*t));
    uint32_t seed = 99;
    for (int i = 0; i < N; i++) {
        char name[48];
        int rate = rates[rng(&seed) % 7], ch = 1 + (int)(rng(&seed) % 6);
        double sec = (double)(rng(&seed) % 60000) / 1000.0;
        snprintf(name, sizeof(name), "random %d (%d Hz, %d ch)", i, rate, ch);
        t[i] = noise(name, rate, ch, sec, (int)(rng(&seed) & 1), 0.5 + (double)(i % 5), seed);
    }
    compare("random", t, N, 0);
    free(t);
}

/* The track as 16-bit PCM (rounded, clipped), as CD-quality sources decode:
 * uploaded as it is and made float on the GPU, block by block on the CPU. */
static struct track to_s16(struct track t)
{
    size_t len = t.pcm.frames * (size_t)t.pcm.channels;
    int16_t *q = malloc((len ? len : 1) * sizeof(int16_t));
    if (!q) {
        fprintf(stderr, "test_gpu: out of memory\n");
        exit(1);
    }
    for (size_t k = 0; k < len; k++) {
        long v = lrint(t.pcm.pcm[k] * 32768.0);
        q[k] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
    free((void *)t.pcm.pcm);
    t.pcm.pcm = NULL;
    t.pcm.s16 = q;
    return t;
}

/* 16-bit and float tracks in one batch, in chunks of both. */
static void check_s16(void)
{
    enum { N = 40 };
    static const int rates[] = { 8000, 44100, 48000, 96000 };
    struct track t[N];
    uint32_t seed = 1616;
    for (int i = 0; i < N; i++) {
        char name[48];
        int rate = rates[i % 4], ch = 1 + (int)(rng(&seed) % 6);
        double sec = i == 7 ? 0.0 : (double)(rng(&seed) % 40000) / 1000.0;
        snprintf(name, sizeof(name), "%s %d (%d Hz, %d ch)", i % 3 ? "s16" : "f32", i, rate, ch);
        t[i] = noise(name, rate, ch, sec, i & 1, 1.0 + (double)(i % 3), seed);
        if (i % 3)
            t[i] = to_s16(t[i]);
    }
    compare("s16", t, N, 0);
}

/* ---- streaming DSP: the CUDA batcher against the CPU batcher ---- */

#define TOL_STREAM 1e-5
#define STREAM_MAX 256

static struct lg_dsp_job_params stream_params(int i)
{
    static const int pairs[][2] = { { 44100, 48000 }, { 48000, 44100 },  { 22050, 48000 },
                                    { 96000, 48000 }, { 48000, 48000 },  { 8000, 48000 },
                                    { 44100, 47999 }, { 192000, 44100 }, { 32000, 48000 },
                                    { 48000, 16000 } };
    static const int chans[] = { 2, 1, 2, 6, 2, 8, 1, 3 };
    struct lg_dsp_job_params p = { 0 };
    p.in_rate = pairs[i % 10][0];
    p.out_rate = pairs[i % 10][1];
    p.channels = chans[i % 8];
    p.gain_db = i % 3 == 0 ? 0 : (i % 3 == 1 ? -4.5 : 7.0);
    p.gain_ramp_ms = i % 4 == 0 ? 0 : 12.5;
    p.limit = i % 5 != 2;
    p.ceiling_dbtp = -1.0;
    p.lookahead_ms = p.out_rate < 30000 ? 10.0 : 5.0;
    p.release_ms = 150.0;
    return p;
}

/* One batcher's jobs and everything they gave. */
struct stream_side {
    struct lg_dsp_batcher *b;
    int id[STREAM_MAX];
    float *out[STREAM_MAX];
    size_t len[STREAM_MAX];
};

static void stream_take(struct stream_side *s, int k, int ch)
{
    size_t n = lg_dsp_batcher_available(s->b, s->id[k]);
    s->out[k] = realloc(s->out[k], (s->len[k] + n + 1) * (size_t)ch * sizeof(float));
    s->len[k] += lg_dsp_batcher_take(s->b, s->id[k], s->out[k] + s->len[k] * (size_t)ch, n);
}

/* Loud noise and sines in bursts over 0 dBFS, so that limiters act. */
static void stream_signal(float *x, size_t n, int ch, size_t at, uint32_t *s)
{
    for (size_t i = 0; i < n; i++) {
        double loud = ((at + i) / 1500) % 4 == 1 ? 1.6 : 0.25;
        for (int c = 0; c < ch; c++)
            x[i * (size_t)ch + (size_t)c] =
                (float)(loud * (0.7 * sin(0.031 * (double)(at + i) * (c + 1)) + 0.3 * uniform(s)));
    }
}

/* n jobs fed the same random blocks on the CPU and on gpu_backend for steps
 * runs (gain changes now and then), flushed; every job's output must have
 * the exact length and agree within TOL_STREAM. flip: auto with injected
 * costs that send every other run to the other side. events: CUDA events. */
static void stream_compare(const char *name, int gpu_backend, int n, int steps, int max_block,
                           int flip, int events)
{
    struct stream_side cpu = { 0 }, gpu = { 0 };
    cpu.b = lg_dsp_batcher_new(LG_DSP_CPU, n, max_block);
    gpu.b = lg_dsp_batcher_new(gpu_backend, n, max_block);
    if (!cpu.b || !gpu.b) {
        check_true("stream", name, 0, "lg_dsp_batcher_new failed");
        goto out;
    }
    lg_dsp_batcher_set_events(gpu.b, events);
    struct lg_dsp_job_params p[STREAM_MAX];
    uint32_t seed[STREAM_MAX], s = 2024;
    size_t at[STREAM_MAX] = { 0 }, fed[STREAM_MAX] = { 0 };
    float *x = alloc_pcm((size_t)max_block, LG_DSP_BATCH_MAX_CHANNELS);
    for (int k = 0; k < n; k++) {
        p[k] = stream_params(k);
        cpu.id[k] = lg_dsp_batcher_add(cpu.b, &p[k]);
        gpu.id[k] = lg_dsp_batcher_add(gpu.b, &p[k]);
        seed[k] = 77u + (uint32_t)k * 7919u;
    }
    int sides = 0, last = -1;
    double upload = 0, kernels = 0, download = 0;
    for (int i = 0; i <= steps; i++) {
        for (int k = 0; k < n; k++) {
            if (i == steps) {
                lg_dsp_batcher_flush(cpu.b, cpu.id[k]);
                lg_dsp_batcher_flush(gpu.b, gpu.id[k]);
                continue;
            }
            size_t len = rng(&s) % (uint32_t)(max_block + 1);
            stream_signal(x, len, p[k].channels, at[k], &seed[k]);
            at[k] += len;
            fed[k] += len;
            if (rng(&s) % 7 == 0) {
                double db = (double)(rng(&s) % 19) - 9.0;
                lg_dsp_batcher_set_gain(cpu.b, cpu.id[k], db);
                lg_dsp_batcher_set_gain(gpu.b, gpu.id[k], db);
            }
            lg_dsp_batcher_submit(cpu.b, cpu.id[k], x, len, INT64_MAX);
            lg_dsp_batcher_submit(gpu.b, gpu.id[k], x, len, INT64_MAX);
        }
        if (flip) {
            struct lg_dsp_cost *m = lg_dsp_batcher_cost(gpu.b);
            for (uint64_t size = 1; size < (1ull << 34); size *= 2) {
                for (int rep = 0; rep < 30; rep++) {
                    lg_dsp_cost_observe(m, LG_DSP_CPU, size, i % 2 ? 1 : 1000000000);
                    lg_dsp_cost_observe(m, LG_DSP_CUDA, size, i % 2 ? 1000000000 : 1);
                }
            }
        }
        int rc_c = lg_dsp_batcher_run(cpu.b, 0), rc_g = lg_dsp_batcher_run(gpu.b, 0);
        if (rc_c < 0 || rc_g < 0) {
            check_true("stream", name, 0, "lg_dsp_batcher_run failed");
            break;
        }
        struct lg_dsp_batcher_stats st;
        lg_dsp_batcher_stats(gpu.b, &st);
        sides += last >= 0 && st.backend != last;
        last = st.backend;
        upload += st.upload_ms;
        kernels += st.kernels_ms;
        download += st.download_ms;
        for (int k = 0; k < n; k++) {
            stream_take(&cpu, k, p[k].channels);
            stream_take(&gpu, k, p[k].channels);
        }
    }
    double worst = 0;
    int bad_len = 0, bad = 0, saved = quiet;
    quiet = 1;
    for (int k = 0; k < n; k++) {
        uint64_t want = (2 * (uint64_t)fed[k] * (uint64_t)p[k].out_rate + (uint64_t)p[k].in_rate) /
                        (2 * (uint64_t)p[k].in_rate);
        bad_len += cpu.len[k] != want || gpu.len[k] != want;
        double w = cpu.len[k] == gpu.len[k] ? 0 : INFINITY;
        for (size_t i = 0; isfinite(w) && i < cpu.len[k] * (size_t)p[k].channels; i++)
            w = fmax(w, fabs((double)cpu.out[k][i] - gpu.out[k][i]));
        char job[64];
        snprintf(job, sizeof(job), "%s job %d (%d->%d Hz, %d ch)", name, k, p[k].in_rate,
                 p[k].out_rate, p[k].channels);
        int before = n_fail;
        check("stream", job, 0.0, w, TOL_STREAM);
        bad += n_fail > before;
        worst = isfinite(w) && w > worst ? w : worst;
    }
    quiet = saved;
    char detail[256];
    snprintf(detail, sizeof(detail),
             "%d jobs x %d runs: %d outside %g, %d with wrong lengths, largest difference %.2g; "
             "side changes %d; events: upload %.2f ms, kernels %.2f ms, download %.2f ms",
             n, steps, bad, TOL_STREAM, bad_len, worst, sides, upload, kernels, download);
    check_true("stream", name, bad == 0 && bad_len == 0 && (!flip || sides >= steps / 2), detail);
    if (events == 0)
        check_true("stream", "events off: no phase times", upload == 0 && kernels == 0, "");
    free(x);
out:
    for (int k = 0; k < STREAM_MAX; k++) {
        free(cpu.out[k]);
        free(gpu.out[k]);
    }
    lg_dsp_batcher_free(cpu.b);
    lg_dsp_batcher_free(gpu.b);
}

static void check_stream_batcher(void)
{
    stream_compare("cuda, 200 jobs", LG_DSP_CUDA, 200, 30, 1024, 0, 1);
    stream_compare("cuda, 1 job, long blocks", LG_DSP_CUDA, 1, 10, 65536, 0, 1);
    stream_compare("cuda, events off", LG_DSP_CUDA, 50, 10, 1024, 0, 0);
}

static void check_stream_auto(void)
{
    stream_compare("auto, sides switching", LG_DSP_AUTO, 60, 16, 1024, 1, 1);
}

struct gpu_events {
    int kernels, resample, limit, htod, dtoh, outside;
    int64_t lo, hi;
};

static void on_gpu_event(const struct lg_dsp_gpu_event *e, void *ctx)
{
    struct gpu_events *g = ctx;
    if (!strcmp(e->cat, "kernel")) {
        g->kernels++;
        g->resample += !strcmp(e->name, "lg_sk_resample");
        g->limit += !strcmp(e->name, "lg_sk_limit");
    } else {
        g->htod += !strncmp(e->name, "HtoD", 4);
        g->dtoh += !strncmp(e->name, "DtoH", 4);
    }
    g->outside += e->begin_ns < g->lo || e->end_ns > g->hi || e->end_ns < e->begin_ns;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CUPTI: every kernel and copy of a few runs, on CLOCK_MONOTONIC within
 * the runs' host time (the clock conversion), with the batcher's names. */
static void check_stream_cupti(void)
{
    char why[256];
    int rc = lg_dsp_gpu_profile_start(why, sizeof(why));
    if (rc == -ENOENT || rc == -EBUSY) {
        say("SKIP cupti: %s\n", why);
        return;
    }
    check_true("cupti", "start", rc == 0, why);
    if (rc < 0)
        return;
    struct gpu_events g = { 0 };
    g.lo = mono_ns();
    struct lg_dsp_batcher *b = lg_dsp_batcher_new(LG_DSP_CUDA, 64, 1024);
    struct lg_dsp_job_params p = stream_params(0);
    float *x = alloc_pcm(1024, 2), *y = alloc_pcm(4096, 2);
    memset(x, 0, 1024 * 2 * sizeof(float));
    int id[64];
    for (int k = 0; k < 64; k++)
        id[k] = lg_dsp_batcher_add(b, &p);
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < 64; k++)
            lg_dsp_batcher_submit(b, id[k], x, 1024, INT64_MAX);
        lg_dsp_batcher_run(b, 0);
        for (int k = 0; k < 64; k++)
            lg_dsp_batcher_take(b, id[k], y, 4096);
    }
    g.hi = mono_ns();
    int n = lg_dsp_gpu_profile_stop(on_gpu_event, &g);
    char detail[256];
    snprintf(detail, sizeof(detail),
             "%d records: %d kernels (%d resample, %d limit), %d HtoD, %d DtoH, %d outside the "
             "host's window; %llu dropped",
             n, g.kernels, g.resample, g.limit, g.htod, g.dtoh, g.outside,
             (unsigned long long)lg_dsp_gpu_profile_dropped());
    check_true("cupti", "5 runs recorded",
               g.resample >= 5 && g.limit >= 5 && g.htod >= 5 && g.dtoh >= 5 && g.outside == 0,
               detail);
    free(x);
    free(y);
    lg_dsp_batcher_free(b);
}

/* ---- main ---- */

struct group {
    const char *name;
    void (*run)(void);
};

/* Check groups in order; streaming DSP checks are appended here. */
static const struct group groups[] = {
    { "analysis: EBU Tech 3341/3342 and true peak", check_ebu },
    { "analysis: noise, rates, channels, lengths", check_noise },
    { "analysis: 300 random tracks in one batch", check_random_batch },
    { "analysis: 16-bit and float tracks in one batch", check_s16 },
    { "stream: CUDA batcher against the CPU batcher", check_stream_batcher },
    { "stream: auto moving jobs between CPU and GPU", check_stream_auto },
    { "stream: CUPTI records of the batcher's runs", check_stream_cupti },
};

static FILE *out_file(const char *name)
{
    const char *dir = getenv("OUT");
    if (!dir || !*dir)
        return NULL;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return fopen(path, "w");
}

int main(void)
{
    char why[160], backends[256];
    int usable = lg_dsp_cuda_status(why, sizeof(why));
    lg_dsp_backends(backends, sizeof(backends));
    printf("backends: %s\n", backends);
    if (!usable) {
        printf("SKIP: the CUDA backend is not usable here: %s\n", why);
        return 77;
    }
    txt = out_file("test_gpu.txt");
    say("device: %s\n", why);
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        say("== %s\n", groups[g].name);
        groups[g].run();
    }
    say("checks: %d passed, %d failed\n", n_pass, n_fail);
    FILE *js = out_file("test_gpu.json");
    if (js) {
        fprintf(js, "{\"device\":\"%s\",\"passed\":%d,\"failed\":%d}\n", why, n_pass, n_fail);
        fclose(js);
    }
    if (txt)
        fclose(txt);
    return n_fail ? 1 : 0;
}
