/* SPDX-License-Identifier: MIT */
/*
 * Batch loudness analysis (lg_dsp_analyze_batch): many tracks of PCM in
 * memory measured at once. The CPU backend runs the streaming meters of
 * loudness.c on a thread per core, one track per thread at a time, so its
 * results are the streaming meters' own. The CUDA backend plans the batch
 * (kernels_scan.h: filter coefficients, segments and the offsets of every
 * array), cuts it into chunks of about CHUNK_PCM_BYTES of PCM as float (16-bit
 * PCM is uploaded beside it, half as much again) so that device memory stays
 * bounded and uploads overlap kernels, runs the kernels
 * (cuda/loudness.cu) and turns each track's energies and peaks into a meter
 * with lg_loudness_from_parts(), which applies the gates as the streaming
 * meter does. AUTO takes CUDA when it is usable and falls back to the CPU
 * when a CUDA run fails.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <unistd.h>

#include "dsp/dsp.h"
#include "dsp/kernels_loudness.h"
#include "dsp/kernels_scan.h"
#include "dsp/loudness_int.h"

#ifndef LG_HAVE_CUDA
#define LG_HAVE_CUDA 0
#endif
#if LG_HAVE_CUDA
#include "dsp/cuda_int.h"
#endif

/* PCM per chunk of a CUDA batch (a longer track makes a chunk of its own). */
#define CHUNK_PCM_BYTES ((uint64_t)256 << 20)
#define MAX_CH          64

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Rates and channels as lg_loudness_new() takes them; PCM present; sizes
 * whose byte counts and sub-block counts fit their types. */
static int check_tracks(const struct lg_pcm_track *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].rate < 8000 || t[i].rate > 768000 || t[i].channels < 1 || t[i].channels > MAX_CH ||
            (!t[i].pcm && !t[i].s16 && t[i].frames) || (t[i].pcm && t[i].s16))
            return -EINVAL;
        uint64_t sub_len = ((uint64_t)t[i].rate + 5) / 10;
        if (t[i].frames > SIZE_MAX / sizeof(float) / (size_t)t[i].channels ||
            t[i].frames / sub_len > UINT32_MAX / 2)
            return -EINVAL;
    }
    return 0;
}

static void free_meters(struct lg_loudness **m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lg_loudness_free(m[i]);
}

static void free_waves(struct lg_waveform **w, size_t n)
{
    for (size_t i = 0; w && i < n; i++)
        lg_waveform_free(w[i]);
}

/* ---- CPU: the streaming meters on a thread per core ---- */

struct cpu_pool {
    const struct lg_pcm_track *t;
    size_t n;
    unsigned mode;
    struct lg_loudness **out;
    size_t n_buckets;
    struct lg_waveform **waves; /* NULL: no waveforms */
    atomic_size_t next;
    atomic_int failed; /* 0 or the first error */
};

/* Frames of a 16-bit track made float at a time on the CPU. */
#define S16_BLOCK 4096

/* Feeds track t to m and w (either may be NULL); 16-bit PCM block by block
 * through buf (S16_BLOCK * MAX_CH floats). 0, or lg_loudness_add's error. */
static int feed(const struct lg_pcm_track *t, struct lg_loudness *m, struct lg_waveform *w,
                float *buf)
{
    size_t ch = (size_t)t->channels;
    for (size_t at = 0; at < t->frames;) {
        size_t n = t->frames - at;
        const float *x = t->pcm ? t->pcm + at * ch : buf;
        if (!t->pcm) {
            n = n < S16_BLOCK ? n : S16_BLOCK;
            for (size_t k = 0; k < n * ch; k++)
                buf[k] = lg_pcm_s16(t->s16[at * ch + k]);
        }
        int r = m ? lg_loudness_add(m, x, n) : 0;
        if (r < 0)
            return r;
        if (w)
            lg_waveform_add(w, x, n);
        at += n;
    }
    return 0;
}

static void *cpu_worker(void *arg)
{
    struct cpu_pool *p = arg;
    float *buf = NULL; /* for 16-bit tracks, made at the first */
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        const struct lg_pcm_track *t = &p->t[i];
        if (t->s16 && !buf)
            buf = malloc(S16_BLOCK * MAX_CH * sizeof(float));
        struct lg_loudness *m = lg_loudness_new(t->rate, t->channels, p->mode);
        struct lg_waveform *w = NULL;
        if (p->waves)
            w = p->waves[i] = lg_waveform_new(t->channels, p->n_buckets, t->frames);
        if (m && (p->waves == NULL || w) && ((t->s16 && !buf) || feed(t, m, w, buf) < 0)) {
            lg_loudness_free(m);
            m = NULL;
        }
        if (!m || (p->waves && !w)) {
            int expected = 0;
            atomic_compare_exchange_strong(&p->failed, &expected, -ENOMEM);
        }
        p->out[i] = m;
    }
    free(buf);
    return NULL;
}

static int run_cpu(const struct lg_pcm_track *t, size_t n, unsigned mode, size_t n_buckets,
                   struct lg_loudness **out, struct lg_waveform **waves)
{
    struct lg_loudness **tmp = calloc(n, sizeof(*tmp));
    struct lg_waveform **wtmp = waves ? calloc(n, sizeof(*wtmp)) : NULL;
    if (!tmp || (waves && !wtmp)) {
        free(tmp);
        free(wtmp);
        return -ENOMEM;
    }
    struct cpu_pool p = {
        .t = t, .n = n, .mode = mode, .out = tmp, .n_buckets = n_buckets, .waves = wtmp
    };
    atomic_init(&p.next, 0);
    atomic_init(&p.failed, 0);
    /* One worker per core, the calling thread being one of them. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n_threads = cores > 1 ? (size_t)cores : 1;
    n_threads = n_threads < n ? n_threads : n;
    pthread_t *th = calloc(n_threads, sizeof(*th));
    size_t started = 0;
    while (th && started + 1 < n_threads && pthread_create(&th[started], NULL, cpu_worker, &p) == 0)
        started++;
    cpu_worker(&p);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    int rc = atomic_load(&p.failed);
    if (rc < 0) {
        free_meters(tmp, n);
        free_waves(wtmp, n);
    } else {
        memcpy(out, tmp, n * sizeof(*out));
        if (waves)
            memcpy(waves, wtmp, n * sizeof(*waves));
    }
    free(tmp);
    free(wtmp);
    return rc;
}

/* ---- CUDA: plan, chunks, meters from the kernels' results ---- */

#if LG_HAVE_CUDA
struct cuda_batch {
    const struct lg_pcm_track *t;
    unsigned mode;
    struct lg_kw_track *plans;    /* one per track */
    struct lg_cuda_chunk *chunks; /* at most one per track */
    size_t *first;                /* first track of each chunk */
    size_t n_chunks;
    struct lg_loudness **tmp; /* the meters so far */
    size_t n_buckets;
    struct lg_waveform **wtmp; /* the waveforms so far, or NULL for none */
};

/* Plans every track and cuts the batch into chunks. */
static int plan_batch(struct cuda_batch *b, size_t n)
{
    b->plans = calloc(n, sizeof(*b->plans));
    b->chunks = calloc(n, sizeof(*b->chunks));
    b->first = calloc(n, sizeof(*b->first));
    if (!b->plans || !b->chunks || !b->first)
        return -ENOMEM;
    struct lg_cuda_chunk *ch = NULL;
    uint64_t held = 0; /* device bytes of the chunk so far */
    for (size_t i = 0; i < n; i++) {
        const struct lg_pcm_track *t = &b->t[i];
        /* PCM as float, and the waveform buckets' peaks and sums with it.
         * 16-bit PCM is uploaded beside its floats: its chunks take up to
         * half as much device memory again. */
        uint64_t bytes = (uint64_t)t->frames * (uint64_t)t->channels * sizeof(float) +
                         (b->wtmp ? (uint64_t)b->n_buckets * (sizeof(float) + sizeof(double)) : 0);
        if (!ch || (held + bytes > CHUNK_PCM_BYTES && ch->n_tracks > 0)) {
            ch = &b->chunks[b->n_chunks];
            ch->tracks = &b->plans[i];
            ch->pcm = &b->t[i];
            b->first[b->n_chunks++] = i;
            held = 0;
        }
        held += bytes;
        lg_kw_plan(&b->plans[i], t->rate, t->channels, t->frames);
        if (b->wtmp)
            lg_kw_plan_wave(&b->plans[i], (uint32_t)b->n_buckets);
        lg_kw_place(&b->plans[i], &ch->cur);
        ch->n_tracks++;
    }
    return 0;
}

static int on_chunk(void *ctx, size_t chunk, const struct lg_cuda_results *res)
{
    struct cuda_batch *b = ctx;
    const struct lg_cuda_chunk *ch = &b->chunks[chunk];
    for (uint32_t k = 0; k < ch->n_tracks; k++) {
        const struct lg_kw_track *p = &ch->tracks[k];
        size_t i = b->first[chunk] + k;
        struct lg_loudness_parts parts = {
            .subs = res->subs + p->sub_off,
            .n_subs = p->n_subs,
            .blocks = res->blocks + p->block_off,
            .n_blocks = p->n_blocks,
            .shorts = res->shorts + p->short_off,
            .n_shorts = p->n_shorts,
            .sample_peak = res->sample_peak + p->chan_off,
            .true_peak = res->true_peak + p->chan_off,
        };
        b->tmp[i] = lg_loudness_from_parts(b->t[i].rate, b->t[i].channels, b->mode, &parts);
        if (!b->tmp[i])
            return -ENOMEM;
        if (b->wtmp) {
            b->wtmp[i] = p->n_wave ? lg_waveform_from_parts(b->t[i].channels, p->n_wave, p->frames,
                                                            res->wave_peak + p->wave_off,
                                                            res->wave_sumsq + p->wave_off)
                                   : lg_waveform_new(b->t[i].channels, b->n_buckets, 0);
            if (!b->wtmp[i])
                return -ENOMEM;
        }
    }
    return 0;
}

static int run_cuda(const struct lg_pcm_track *t, size_t n, unsigned mode, size_t n_buckets,
                    struct lg_loudness **out, struct lg_waveform **waves,
                    struct lg_dsp_batch_stats *st)
{
    struct cuda_batch b = { .t = t, .mode = mode, .n_buckets = n_buckets };
    b.tmp = calloc(n, sizeof(*b.tmp));
    b.wtmp = waves ? calloc(n, sizeof(*b.wtmp)) : NULL;
    int rc = b.tmp && (!waves || b.wtmp) ? plan_batch(&b, n) : -ENOMEM;
    float coef[LG_TP_PHASES * LG_TP_TAPS];
    lg_tp_design(coef);
    if (rc == 0)
        rc = lg_cuda_loudness_run(b.chunks, b.n_chunks, coef, on_chunk, &b, st, st->note,
                                  sizeof(st->note));
    if (rc == 0) {
        memcpy(out, b.tmp, n * sizeof(*out));
        if (waves)
            memcpy(waves, b.wtmp, n * sizeof(*waves));
    } else {
        if (b.tmp)
            free_meters(b.tmp, n);
        free_waves(b.wtmp, n);
    }
    free(b.tmp);
    free(b.wtmp);
    free(b.plans);
    free(b.chunks);
    free(b.first);
    return rc;
}
#endif

int lg_dsp_analyze_batch(int backend, const struct lg_pcm_track *t, size_t n, unsigned mode_flags,
                         struct lg_loudness **out)
{
    return lg_dsp_analyze_batch_stats(backend, t, n, mode_flags, out, NULL);
}

int lg_dsp_analyze_batch_stats(int backend, const struct lg_pcm_track *t, size_t n,
                               unsigned mode_flags, struct lg_loudness **out,
                               struct lg_dsp_batch_stats *stats)
{
    return lg_dsp_analyze_batch_wave(backend, t, n, mode_flags, 0, out, NULL, stats);
}

int lg_dsp_analyze_batch_wave(int backend, const struct lg_pcm_track *t, size_t n,
                              unsigned mode_flags, size_t n_buckets, struct lg_loudness **out,
                              struct lg_waveform **waves, struct lg_dsp_batch_stats *stats)
{
    struct lg_dsp_batch_stats local;
    struct lg_dsp_batch_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof(*st));
    st->backend = LG_DSP_CPU;
    if (backend < LG_DSP_CPU || backend > LG_DSP_AUTO || (n && (!t || !out)) ||
        (waves && (n_buckets < 2 || n_buckets > LG_KW_MAX_WAVE)))
        return -EINVAL;
    int rc = check_tracks(t, n);
    if (rc < 0 || n == 0)
        return rc;
    double t0 = now_ms();
    char why[128];
    int use_cuda = backend != LG_DSP_CPU && lg_dsp_cuda_status(why, sizeof(why));
    if (backend == LG_DSP_CUDA && !use_cuda) {
        snprintf(st->note, sizeof(st->note), "cuda: %s", why);
        return -ENODEV;
    }
#if LG_HAVE_CUDA
    if (use_cuda) {
        st->backend = LG_DSP_CUDA;
        rc = run_cuda(t, n, mode_flags, n_buckets, out, waves, st);
        if (rc < 0 && backend == LG_DSP_AUTO) {
            char err[128];
            snprintf(err, sizeof(err), "%.120s", st->note);
            memset(st, 0, sizeof(*st));
            snprintf(st->note, sizeof(st->note), "cuda failed (%.120s); measured on the CPU", err);
            use_cuda = 0;
        }
    }
#endif
    if (!use_cuda) {
        st->backend = LG_DSP_CPU;
        if (backend == LG_DSP_AUTO && !st->note[0])
            snprintf(st->note, sizeof(st->note), "cuda: %s", why);
        rc = run_cpu(t, n, mode_flags, n_buckets, out, waves);
    }
    st->wall_ms = now_ms() - t0;
    return rc;
}
