/* SPDX-License-Identifier: MIT */
/*
 * Tests of batch loudness analysis (src/dsp/analyze_batch.c) and of the math
 * the CUDA kernels run (src/dsp/kernels_scan.h), on the CPU:
 *   - the CPU backend gives exactly the streaming meters' results;
 *   - bad batches are refused and leave out[] untouched;
 *   - 16-bit tracks give what float tracks of the same samples give;
 *   - the segment scan (zero-state responses, transitions, a Hillis-Steele
 *     scan of affine maps, reruns from the scanned states) reproduces the
 *     sequential K-weighting within 1e-9 over random segmentations;
 *   - the whole CUDA pipeline, emulated item by item with the kernels' own
 *     per-thread functions and the batch layout of lg_kw_plan/lg_kw_place,
 *     gives meters (lg_loudness_from_parts) equal to the streaming meters
 *     within rounding, for odd rates, 6 channels, tracks shorter than a
 *     sub-block, empty tracks and a track long enough for multi-block
 *     segments.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"
#include "dsp/kernels_loudness.h"
#include "dsp/kernels_scan.h"
#include "dsp/loudness_int.h"

#include "harness.h"

#define PI 3.14159265358979323846

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

/* Noise and a sine whose level steps every 1.7 s between -40 and -6 dBFS,
 * different per channel. Caller frees. */
static float *gen(int rate, int channels, size_t frames, uint32_t seed)
{
    float *x = malloc((frames ? frames : 1) * (size_t)channels * sizeof(float));
    for (size_t i = 0; i < frames; i++) {
        double t = (double)i / rate;
        int step = (int)(t / 1.7);
        double db = -40.0 + (double)((step * 7 + (int)seed) % 5) * 8.5;
        double amp = pow(10.0, db / 20.0);
        for (int c = 0; c < channels; c++) {
            double s = 0.6 * sin(2.0 * PI * (440.0 + 97.0 * c) * t) + 0.4 * uniform(&seed);
            x[i * (size_t)channels + (size_t)c] = (float)(amp * s);
        }
    }
    return x;
}

struct spec {
    int rate, channels;
    double seconds;
};

static const struct spec specs[] = {
    { 48000, 2, 31.0 }, { 44100, 1, 7.3 },  { 8000, 1, 0.05 },  { 96000, 6, 4.0 },
    { 48000, 2, 0.0 },  { 22050, 3, 31.0 }, { 32000, 5, 3.05 },
};
#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

static void make_tracks(struct lg_pcm_track *t, const struct spec *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        t[i] = (struct lg_pcm_track){ 0 };
        t[i].rate = s[i].rate;
        t[i].channels = s[i].channels;
        t[i].frames = (size_t)llround(s[i].seconds * s[i].rate);
        t[i].pcm = gen(t[i].rate, t[i].channels, t[i].frames, (uint32_t)(i * 7919 + 17));
    }
}

static void free_tracks(struct lg_pcm_track *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((void *)t[i].pcm);
}

static struct lg_loudness *single(const struct lg_pcm_track *t, unsigned mode)
{
    struct lg_loudness *m = lg_loudness_new(t->rate, t->channels, mode);
    CHECK(m != NULL);
    if (m)
        CHECK_INT(lg_loudness_add(m, t->pcm, t->frames), 0);
    return m;
}

/* Every getter of a and b: equal within tol (0: bit-exact, lists too). */
static void compare_meters(const struct lg_loudness *a, const struct lg_loudness *b, int channels,
                           double tol, double tp_tol)
{
    int (*const getters[])(const struct lg_loudness *, double *) = {
        lg_loudness_integrated,
        lg_loudness_range,
        lg_loudness_momentary,
        lg_loudness_shortterm,
    };
    for (size_t g = 0; g < sizeof(getters) / sizeof(getters[0]); g++) {
        double x = 0.0, y = 0.0;
        CHECK_INT(getters[g](a, &x), 0);
        CHECK_INT(getters[g](b, &y), 0);
        if (!(x == y || fabs(x - y) <= tol)) {
            fprintf(stderr, "  getter %zu: %.12f vs %.12f\n", g, x, y);
            CHECK(0);
        }
    }
    for (int c = -1; c < channels; c++) {
        double x = 0.0, y = 0.0;
        CHECK_INT(lg_loudness_sample_peak(a, c, &x), 0);
        CHECK_INT(lg_loudness_sample_peak(b, c, &y), 0);
        CHECK(x == y);
        CHECK_INT(lg_loudness_true_peak(a, c, &x), 0);
        CHECK_INT(lg_loudness_true_peak(b, c, &y), 0);
        if (!(x == y || fabs(x - y) <= tp_tol)) {
            fprintf(stderr, "  true peak ch %d: %.9f vs %.9f\n", c, x, y);
            CHECK(0);
        }
    }
    size_t (*const lists[])(const struct lg_loudness *, const double **) = {
        lg_loudness_block_energies,
        lg_loudness_shortterm_energies,
    };
    for (size_t l = 0; l < 2; l++) {
        const double *va, *vb;
        size_t na = lists[l](a, &va), nb = lists[l](b, &vb);
        CHECK_INT(na, nb);
        for (size_t i = 0; i < na && i < nb; i++) {
            if (!(va[i] == vb[i] || fabs(va[i] - vb[i]) <= tol * fabs(va[i]))) {
                fprintf(stderr, "  list %zu [%zu]: %.17g vs %.17g\n", l, i, va[i], vb[i]);
                CHECK(0);
                break;
            }
        }
    }
}

LG_TEST(cpu_batch_equals_single_meters)
{
    struct lg_pcm_track t[N_SPECS];
    make_tracks(t, specs, N_SPECS);
    for (unsigned mode = LG_LOUDNESS_ALL; mode <= (LG_LOUDNESS_ALL | LG_LOUDNESS_PORTABLE);
         mode += LG_LOUDNESS_PORTABLE)
    {
        struct lg_loudness *out[N_SPECS];
        struct lg_dsp_batch_stats st;
        CHECK_INT(lg_dsp_analyze_batch_stats(LG_DSP_CPU, t, N_SPECS, mode, out, &st), 0);
        CHECK_INT(st.backend, LG_DSP_CPU);
        CHECK(st.wall_ms >= 0.0);
        for (size_t i = 0; i < N_SPECS; i++) {
            struct lg_loudness *m = single(&t[i], mode);
            compare_meters(out[i], m, t[i].channels, 0.0, 0.0);
            lg_loudness_free(m);
            lg_loudness_free(out[i]);
        }
    }
    free_tracks(t, N_SPECS);
}

LG_TEST(bad_batches)
{
    float pcm[960] = { 0 };
    struct lg_loudness *sentinel = (struct lg_loudness *)pcm;
    static const struct {
        int rate, channels, null_pcm, backend;
    } rows[] = {
        { 7999, 1, 0, LG_DSP_CPU },   { 768001, 1, 0, LG_DSP_CPU }, { 48000, 0, 0, LG_DSP_CPU },
        { 48000, 65, 0, LG_DSP_CPU }, { 48000, 1, 1, LG_DSP_CPU },  { 48000, 1, 0, 3 },
        { 48000, 1, 0, -1 },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct lg_pcm_track t[2] = {
            { .pcm = pcm, .frames = 480, .rate = 48000, .channels = 2 },
            { .pcm = rows[i].null_pcm ? NULL : pcm,
              .frames = 100,
              .rate = rows[i].rate,
              .channels = rows[i].channels },
        };
        struct lg_loudness *out[2] = { sentinel, sentinel };
        CHECK_INT(lg_dsp_analyze_batch(rows[i].backend, t, 2, LG_LOUDNESS_ALL, out), -EINVAL);
        CHECK(out[0] == sentinel && out[1] == sentinel);
    }
    /* Nothing to do is fine; a NULL track array with n > 0 is not. */
    CHECK_INT(lg_dsp_analyze_batch(LG_DSP_AUTO, NULL, 0, LG_LOUDNESS_ALL, NULL), 0);
    CHECK_INT(lg_dsp_analyze_batch(LG_DSP_AUTO, NULL, 1, LG_LOUDNESS_ALL, &sentinel), -EINVAL);
    /* A meter of a batch takes no more audio on CUDA; built from parts here. */
    struct lg_loudness_parts parts = { 0 };
    struct lg_loudness *m = lg_loudness_from_parts(48000, 2, LG_LOUDNESS_ALL, &parts);
    CHECK(m != NULL);
    CHECK_INT(lg_loudness_add(m, pcm, 10), -EINVAL);
    lg_loudness_free(m);
    CHECK(lg_loudness_from_parts(48000, 0, LG_LOUDNESS_ALL, &parts) == NULL);
}

/* ---- the segment scan over random segmentations ---- */

/* Hillis-Steele inclusive scan of n maps, as k_scan runs it in shared memory:
 * step d combines each map with the one d before it (earlier applied first). */
static void hillis_steele(struct lg_kw_affine *v, size_t n)
{
    struct lg_kw_affine *old = malloc(n * sizeof(*old));
    for (size_t d = 1; d < n; d <<= 1) {
        memcpy(old, v, n * sizeof(*old));
        for (size_t i = d; i < n; i++)
            lg_kw_affine_then(&old[i - d], old[i].m, old[i].r, &v[i]);
    }
    free(old);
}

/* Filters x (n samples) through the cascade in segments cut at cuts[0..ns)
 * and compares with the sequential output. */
static double scan_error(const struct lg_biquad *sh, const struct lg_biquad *hp, const float *x,
                         const double *y_seq, size_t n, const size_t *start, size_t ns,
                         size_t threads)
{
    double a[16];
    lg_kw_transition(sh, hp, a);
    double *m = malloc(ns * 16 * sizeof(double)), *r = malloc(ns * 4 * sizeof(double));
    double *states = malloc(ns * 4 * sizeof(double));
    for (size_t k = 0; k < ns; k++) {
        size_t len = (k + 1 < ns ? start[k + 1] : n) - start[k];
        lg_kw_mat_pow(a, len, m + 16 * k);
        lg_kw_zero_state(sh, hp, x + start[k], 1, len, r + 4 * k);
    }
    /* Each "thread" composes a run of segments; a block-wide scan; walks. */
    size_t per = (ns + threads - 1) / threads;
    struct lg_kw_affine *agg = malloc(threads * sizeof(*agg));
    for (size_t t = 0; t < threads; t++) {
        size_t k0 = t * per < ns ? t * per : ns, k1 = k0 + per < ns ? k0 + per : ns;
        lg_kw_scan_aggregate(m, 16, r, 4, k0, k1, &agg[t]);
    }
    hillis_steele(agg, threads);
    for (size_t t = 0; t < threads; t++) {
        size_t k0 = t * per < ns ? t * per : ns, k1 = k0 + per < ns ? k0 + per : ns;
        double zero[4] = { 0.0, 0.0, 0.0, 0.0 };
        lg_kw_scan_walk(m, 16, r, 4, k0, k1, t ? agg[t - 1].r : zero, states, 4);
    }
    double err = 0.0;
    for (size_t k = 0; k < ns; k++) {
        size_t end = k + 1 < ns ? start[k + 1] : n;
        double z[4];
        memcpy(z, states + 4 * k, sizeof(z));
        for (size_t i = start[k]; i < end; i++) {
            double e = fabs(lg_kw_step(sh, hp, z, x[i]) - y_seq[i]);
            err = e > err ? e : err;
        }
    }
    free(agg);
    free(m);
    free(r);
    free(states);
    return err;
}

LG_TEST(scan_matches_sequential_filter)
{
    static const int rates[] = { 8000, 44100, 48000, 192000 };
    static const size_t threads[] = { 1, 2, 3, 7, 16, 256 };
    uint32_t seed = 12345;
    enum { N = 30000 };
    float *x = malloc(N * sizeof(float));
    double *y = malloc(N * sizeof(double));
    size_t *start = malloc(N * sizeof(size_t));
    for (size_t ri = 0; ri < sizeof(rates) / sizeof(rates[0]); ri++) {
        struct lg_biquad sh, hp;
        lg_kweight_design(rates[ri], &sh, &hp);
        for (size_t i = 0; i < N; i++)
            x[i] = (float)(0.9 * uniform(&seed) * (i % 9000 < 4500 ? 1.0 : 0.05));
        double z[4] = { 0.0, 0.0, 0.0, 0.0 };
        for (size_t i = 0; i < N; i++)
            y[i] = lg_kw_step(&sh, &hp, z, x[i]);
        for (int trial = 0; trial < 12; trial++) {
            /* Random cuts: segments of 1 to ~5000 samples, sometimes tiny. */
            size_t ns = 0;
            for (size_t pos = 0; pos < N; ns++) {
                start[ns] = pos;
                size_t len = trial % 3 == 0 ? 1 + rng(&seed) % 7 : 1 + rng(&seed) % 5000;
                pos += len;
            }
            size_t th = threads[(size_t)trial % (sizeof(threads) / sizeof(threads[0]))];
            double err = scan_error(&sh, &hp, x, y, N, start, ns, th);
            if (!(err <= 1e-9)) {
                fprintf(stderr, "  rate %d, %zu segments, %zu threads: error %g\n", rates[ri], ns,
                        th, err);
                CHECK(0);
            }
        }
    }
    free(x);
    free(y);
    free(start);
}

LG_TEST(transition_power_is_silence)
{
    struct lg_biquad sh, hp;
    lg_kweight_design(44100, &sh, &hp);
    double a[16], p[16];
    lg_kw_transition(&sh, &hp, a);
    static const uint64_t lengths[] = { 0, 1, 2, 3, 4410, 4800, 123457 };
    for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
        double z[4] = { 0.3, -0.2, 0.11, 0.05 }, s[4];
        lg_kw_mat_pow(a, lengths[l], p);
        lg_kw_affine_apply(p, (const double[4]){ 0.0, 0.0, 0.0, 0.0 }, z, s);
        for (uint64_t i = 0; i < lengths[l]; i++)
            lg_kw_step(&sh, &hp, z, 0.0);
        for (int i = 0; i < 4; i++)
            CHECK(fabs(s[i] - z[i]) <= 1e-12);
    }
}

/* ---- the CUDA pipeline, emulated item by item ---- */

struct emu {
    struct lg_kw_track *plan;
    struct lg_kw_cursor cur;
    float *pcm;
    double *zs, *states, *sums, *subs, *blocks, *shorts;
    float *sp, *tp;
};

static void emu_plan(struct emu *e, const struct lg_pcm_track *t, size_t n)
{
    e->plan = calloc(n, sizeof(*e->plan));
    memset(&e->cur, 0, sizeof(e->cur));
    for (size_t i = 0; i < n; i++) {
        lg_kw_plan(&e->plan[i], t[i].rate, t[i].channels, t[i].frames);
        lg_kw_place(&e->plan[i], &e->cur);
    }
    /* The device's PCM: the tracks back to back. */
    e->pcm = malloc((e->cur.pcm ? e->cur.pcm : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        if (t[i].frames)
            memcpy(e->pcm + e->plan[i].pcm_off, t[i].pcm,
                   t[i].frames * (size_t)t[i].channels * sizeof(float));
    }
    e->zs = calloc(e->cur.items * 4 + 1, sizeof(double));
    e->states = calloc(e->cur.items * 4 + 1, sizeof(double));
    e->sums = calloc(e->cur.sums + 1, sizeof(double));
    e->subs = calloc(e->cur.subs + 1, sizeof(double));
    e->blocks = calloc(e->cur.blocks + 1, sizeof(double));
    e->shorts = calloc(e->cur.shorts + 1, sizeof(double));
    e->sp = calloc(e->cur.chans, sizeof(float));
    e->tp = calloc(e->cur.chans, sizeof(float));
}

static void emu_free(struct emu *e)
{
    free(e->plan);
    free(e->pcm);
    free(e->zs);
    free(e->states);
    free(e->sums);
    free(e->subs);
    free(e->blocks);
    free(e->shorts);
    free(e->sp);
    free(e->tp);
}

/* k_zero_state (energy == 0) and k_energy (energy == 1), one item a time. */
static void emu_segments(struct emu *e, uint32_t n, int energy)
{
    for (uint64_t item = 0; item < e->cur.items; item++) {
        const struct lg_kw_track *tr = &e->plan[lg_kw_find(e->plan, n, item, LG_KW_BY_ITEM)];
        uint64_t rel = item - tr->item_off;
        uint32_t k = (uint32_t)(rel / tr->channels), c = (uint32_t)(rel % tr->channels);
        CHECK(rel < (uint64_t)tr->n_segs * tr->channels);
        uint32_t j0, ns;
        const float *x;
        lg_kw_segment(tr, k, &j0, &ns, &x, e->pcm, c);
        if (!energy) {
            lg_kw_zero_state(&tr->shelf, &tr->hp, x, tr->channels, (size_t)ns * tr->sub_len,
                             e->zs + item * 4);
        } else {
            double z[4];
            memcpy(z, e->states + item * 4, sizeof(z));
            lg_kw_energy_run(&tr->shelf, &tr->hp, z, x, tr->channels, ns, tr->sub_len,
                             e->sums + tr->sum_off + (uint64_t)j0 * tr->channels + c, tr->channels);
        }
    }
}

/* k_scan: one block of LG_KW_SCAN_THREADS per (track, channel). */
static void emu_scan(struct emu *e, uint32_t n)
{
    struct lg_kw_affine agg[LG_KW_SCAN_THREADS];
    for (uint32_t b = 0; b < e->cur.chans; b++) {
        const struct lg_kw_track *tr = &e->plan[lg_kw_find(e->plan, n, b, LG_KW_BY_CHAN)];
        uint32_t c = b - tr->chan_off;
        CHECK(c < tr->channels);
        uint32_t per = (tr->n_segs + LG_KW_SCAN_THREADS - 1) / LG_KW_SCAN_THREADS;
        const double *r = e->zs + (tr->item_off + c) * 4;
        size_t stride = 4 * (size_t)tr->channels;
        for (uint32_t tid = 0; tid < LG_KW_SCAN_THREADS; tid++) {
            uint32_t k0 = tid * per < tr->n_segs ? tid * per : tr->n_segs;
            uint32_t k1 = k0 + per < tr->n_segs ? k0 + per : tr->n_segs;
            lg_kw_scan_aggregate(tr->seg_m, 0, r, stride, k0, k1, &agg[tid]);
        }
        hillis_steele(agg, LG_KW_SCAN_THREADS);
        for (uint32_t tid = 0; tid < LG_KW_SCAN_THREADS; tid++) {
            uint32_t k0 = tid * per < tr->n_segs ? tid * per : tr->n_segs;
            uint32_t k1 = k0 + per < tr->n_segs ? k0 + per : tr->n_segs;
            double zero[4] = { 0.0, 0.0, 0.0, 0.0 };
            lg_kw_scan_walk(tr->seg_m, 0, r, stride, k0, k1, tid ? agg[tid - 1].r : zero,
                            e->states + (tr->item_off + c) * 4, stride);
        }
    }
}

/* k_sub_energy, then k_windows, then k_peaks. */
static void emu_energies_peaks(struct emu *e, uint32_t n, const float *coef)
{
    for (uint64_t g = 0; g < e->cur.subs; g++) {
        const struct lg_kw_track *tr = &e->plan[lg_kw_find(e->plan, n, g, LG_KW_BY_SUB)];
        e->subs[g] = lg_kw_sub_energy(tr, e->sums, (uint32_t)(g - tr->sub_off));
    }
    for (uint64_t g = 0; g < e->cur.subs; g++) {
        const struct lg_kw_track *tr = &e->plan[lg_kw_find(e->plan, n, g, LG_KW_BY_SUB)];
        uint32_t j = (uint32_t)(g - tr->sub_off), done = j + 1;
        if (done >= LG_KW_BLOCK_SUBS)
            e->blocks[tr->block_off + j - 3] =
                lg_kw_window_mean(e->subs + tr->sub_off, j, LG_KW_BLOCK_SUBS);
        if (done >= LG_KW_SHORT_SUBS && (done - LG_KW_SHORT_SUBS) % LG_KW_SHORT_HOP == 0)
            e->shorts[tr->short_off + (done - LG_KW_SHORT_SUBS) / LG_KW_SHORT_HOP] =
                lg_kw_window_mean(e->subs + tr->sub_off, j, LG_KW_SHORT_SUBS);
    }
    for (uint64_t tile = 0; tile < e->cur.tiles; tile++) {
        const struct lg_kw_track *tr = &e->plan[lg_kw_find(e->plan, n, tile, LG_KW_BY_TILE)];
        const float *x = e->pcm + tr->pcm_off;
        uint64_t f0 = (tile - tr->tile_off) * LG_KW_TILE_FRAMES;
        CHECK(f0 < tr->frames);
        for (uint64_t f = f0; f < f0 + LG_KW_TILE_FRAMES && f < tr->frames; f++) {
            for (uint32_t c = 0; c < tr->channels; c++) {
                float a = fabsf(x[f * tr->channels + c]);
                float p = lg_kw_tp_frame(coef, x, f, c, tr->channels);
                float *sp = &e->sp[tr->chan_off + c], *tp = &e->tp[tr->chan_off + c];
                *sp = a > *sp ? a : *sp;
                *tp = p > *tp ? p : *tp;
            }
        }
    }
}

LG_TEST(emulated_cuda_pipeline_equals_cpu)
{
    struct spec s[N_SPECS + 1];
    memcpy(s, specs, sizeof(specs));
    /* 4201 sub-blocks: two per segment, the last segment one. */
    s[N_SPECS] = (struct spec){ 8000, 1, 420.1 + 123.0 / 8000.0 };
    size_t n = N_SPECS + 1;
    struct lg_pcm_track t[N_SPECS + 1];
    make_tracks(t, s, n);
    struct emu e;
    emu_plan(&e, t, n);
    CHECK(e.plan[n - 1].seg_subs == 2 && e.plan[n - 1].n_segs == 2101);
    float coef[LG_TP_PHASES * LG_TP_TAPS];
    lg_tp_design(coef);
    emu_segments(&e, (uint32_t)n, 0);
    emu_scan(&e, (uint32_t)n);
    emu_segments(&e, (uint32_t)n, 1);
    emu_energies_peaks(&e, (uint32_t)n, coef);
    unsigned mode = LG_LOUDNESS_ALL | LG_LOUDNESS_PORTABLE;
    for (size_t i = 0; i < n; i++) {
        const struct lg_kw_track *p = &e.plan[i];
        struct lg_loudness_parts parts = {
            e.subs + p->sub_off,     p->n_subs,   e.blocks + p->block_off, p->n_blocks,
            e.shorts + p->short_off, p->n_shorts, e.sp + p->chan_off,      e.tp + p->chan_off,
        };
        struct lg_loudness *g = lg_loudness_from_parts(t[i].rate, t[i].channels, mode, &parts);
        struct lg_loudness *m = single(&t[i], mode);
        CHECK(g != NULL);
        if (g && m)
            compare_meters(g, m, t[i].channels, 1e-9, 0.0);
        lg_loudness_free(g);
        lg_loudness_free(m);
    }
    emu_free(&e);
    free_tracks(t, n);
}

/* ---- waveforms ---- */

#define WAVE_BUCKETS 200

/* The streaming waveform of a track with its length known. */
static struct lg_waveform *single_wave(const struct lg_pcm_track *t, size_t n_buckets)
{
    struct lg_waveform *w = lg_waveform_new(t->channels, n_buckets, t->frames);
    CHECK(w != NULL);
    if (w)
        lg_waveform_add(w, t->pcm, t->frames);
    return w;
}

/* Peaks equal; RMS within rel (relative). */
static void compare_waves(const struct lg_waveform *a, const struct lg_waveform *b, double rel)
{
    float pa[WAVE_BUCKETS], ra[WAVE_BUCKETS], pb[WAVE_BUCKETS], rb[WAVE_BUCKETS];
    size_t na = lg_waveform_get(a, pa, ra), nb = lg_waveform_get(b, pb, rb);
    CHECK_INT((int)na, (int)nb);
    for (size_t k = 0; k < na && k < nb; k++) {
        CHECK(pa[k] == pb[k]);
        CHECK(fabs((double)ra[k] - rb[k]) <= rel * fabs((double)rb[k]));
    }
}

LG_TEST(cpu_batch_waveforms)
{
    struct lg_pcm_track t[N_SPECS];
    make_tracks(t, specs, N_SPECS);
    struct lg_loudness *out[N_SPECS];
    struct lg_waveform *w[N_SPECS];
    CHECK_INT(lg_dsp_analyze_batch_wave(LG_DSP_CPU, t, N_SPECS, LG_LOUDNESS_ALL, WAVE_BUCKETS, out,
                                        w, NULL),
              0);
    for (size_t i = 0; i < N_SPECS; i++) {
        struct lg_waveform *ref = single_wave(&t[i], WAVE_BUCKETS);
        if (ref && w[i])
            compare_waves(w[i], ref, 0.0);
        lg_waveform_free(ref);
        lg_waveform_free(w[i]);
        lg_loudness_free(out[i]);
    }
    /* Bucket counts out of range, and no waveform array with buckets. */
    CHECK_INT(lg_dsp_analyze_batch_wave(LG_DSP_CPU, t, 1, LG_LOUDNESS_ALL, 1, out, w, NULL),
              -EINVAL);
    CHECK_INT(lg_dsp_analyze_batch_wave(LG_DSP_CPU, t, 1, LG_LOUDNESS_ALL, 65537, out, w, NULL),
              -EINVAL);
    CHECK(lg_waveform_from_parts(2, 10, 0, (float[10]){ 0 }, (double[10]){ 0 }) == NULL);
    free_tracks(t, N_SPECS);
}

/* 16-bit tracks: the same meters and waveforms as float tracks holding
 * lg_pcm_s16() of the same samples, bit for bit (fed block by block), with
 * the extremes -32768 and 32767 in them. */
LG_TEST(cpu_batch_s16)
{
    struct lg_pcm_track f[N_SPECS], h[N_SPECS];
    make_tracks(f, specs, N_SPECS);
    for (size_t i = 0; i < N_SPECS; i++) {
        size_t len = f[i].frames * (size_t)f[i].channels;
        int16_t *q = malloc((len ? len : 1) * sizeof(int16_t));
        float *x = (float *)f[i].pcm;
        for (size_t k = 0; k < len; k++) {
            long v = lrint(x[k] * 32768.0 * 2.0); /* past full scale here and there */
            q[k] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
            q[k] = k == 0 ? -32768 : k == 1 ? 32767 : q[k];
            x[k] = lg_pcm_s16(q[k]);
        }
        h[i] = f[i];
        h[i].pcm = NULL;
        h[i].s16 = q;
    }
    struct lg_loudness *mf[N_SPECS], *mh[N_SPECS];
    struct lg_waveform *wf[N_SPECS], *wh[N_SPECS];
    CHECK_INT(lg_dsp_analyze_batch_wave(LG_DSP_CPU, f, N_SPECS, LG_LOUDNESS_ALL, WAVE_BUCKETS, mf,
                                        wf, NULL),
              0);
    CHECK_INT(lg_dsp_analyze_batch_wave(LG_DSP_CPU, h, N_SPECS, LG_LOUDNESS_ALL, WAVE_BUCKETS, mh,
                                        wh, NULL),
              0);
    for (size_t i = 0; i < N_SPECS; i++) {
        compare_meters(mh[i], mf[i], f[i].channels, 0.0, 0.0);
        compare_waves(wh[i], wf[i], 0.0);
        double peak = 1.0;
        if (i == 0) /* -32768 is full scale */
            CHECK(lg_loudness_sample_peak(mh[i], -1, &peak) == 0 && peak == 0.0);
        lg_loudness_free(mf[i]);
        lg_loudness_free(mh[i]);
        lg_waveform_free(wf[i]);
        lg_waveform_free(wh[i]);
    }
    /* Both formats in one track is an error. */
    h[0].pcm = f[0].pcm;
    CHECK_INT(lg_dsp_analyze_batch(LG_DSP_CPU, h, 1, LG_LOUDNESS_ALL, mh), -EINVAL);
    for (size_t i = 0; i < N_SPECS; i++)
        free((void *)h[i].s16);
    free_tracks(f, N_SPECS);
}

/* k_wave: a warp of 32 lanes per bucket over the batch's PCM, each lane's
 * share by lg_kw_wave_part, combined as the warp does (max of peaks, sums
 * added pairwise); then lg_waveform_from_parts, as analyze_batch.c builds
 * the CUDA results. */
LG_TEST(emulated_cuda_waveforms)
{
    struct spec s[N_SPECS + 1];
    memcpy(s, specs, sizeof(specs));
    s[N_SPECS] = (struct spec){ 8000, 1, 150.0 / 8000.0 }; /* fewer frames than buckets */
    size_t n = N_SPECS + 1;
    struct lg_pcm_track t[N_SPECS + 1];
    make_tracks(t, s, n);
    struct emu e;
    emu_plan(&e, t, n);
    /* Planned again with buckets (emu_plan plans without). */
    memset(&e.cur, 0, sizeof(e.cur));
    for (size_t i = 0; i < n; i++) {
        lg_kw_plan(&e.plan[i], t[i].rate, t[i].channels, t[i].frames);
        lg_kw_plan_wave(&e.plan[i], WAVE_BUCKETS);
        lg_kw_place(&e.plan[i], &e.cur);
    }
    CHECK(e.plan[4].n_wave == 0); /* the empty track */
    float *peak = calloc(e.cur.waves + 1, sizeof(float));
    double *sq = calloc(e.cur.waves + 1, sizeof(double));
    for (uint64_t g = 0; g < e.cur.waves; g++) {
        const struct lg_kw_track *tr = &e.plan[lg_kw_find(e.plan, (uint32_t)n, g, LG_KW_BY_WAVE)];
        CHECK(g - tr->wave_off < tr->n_wave);
        float lp[32];
        double ls[32];
        for (uint32_t lane = 0; lane < 32; lane++)
            lg_kw_wave_part(tr, e.pcm, (uint32_t)(g - tr->wave_off), lane, 32, &lp[lane],
                            &ls[lane]);
        for (int off = 16; off > 0; off >>= 1) {
            for (int lane = 0; lane < off; lane++) {
                lp[lane] = lp[lane + off] > lp[lane] ? lp[lane + off] : lp[lane];
                ls[lane] += ls[lane + off];
            }
        }
        peak[g] = lp[0];
        sq[g] = ls[0];
    }
    for (size_t i = 0; i < n; i++) {
        const struct lg_kw_track *p = &e.plan[i];
        if (!p->n_wave)
            continue;
        struct lg_waveform *g = lg_waveform_from_parts(t[i].channels, p->n_wave, p->frames,
                                                       peak + p->wave_off, sq + p->wave_off);
        struct lg_waveform *ref = single_wave(&t[i], WAVE_BUCKETS);
        CHECK(g != NULL);
        if (g && ref)
            compare_waves(g, ref, 1e-6);
        lg_waveform_free(g);
        lg_waveform_free(ref);
    }
    free(peak);
    free(sq);
    emu_free(&e);
    free_tracks(t, n);
}

LG_TEST_MAIN(LG_CASE(cpu_batch_equals_single_meters), LG_CASE(bad_batches),
             LG_CASE(scan_matches_sequential_filter), LG_CASE(transition_power_is_silence),
             LG_CASE(emulated_cuda_pipeline_equals_cpu), LG_CASE(cpu_batch_waveforms),
             LG_CASE(emulated_cuda_waveforms), LG_CASE(cpu_batch_s16))
