/* SPDX-License-Identifier: MIT */
/*
 * GPU benchmark of src/dsp: the CUDA backend against the CPU backend on all
 * cores, on PCM held in memory.
 *
 * analysis: --tracks tracks (default 1000) of --seconds seconds (30) of
 * --channels (2) at --rate (48000), generated (noise with level steps, a
 * different seed per track) into lg_dsp_host_alloc() memory (page-locked when
 * CUDA is usable, as a decoder feeding the GPU would write it), then measured
 * by lg_dsp_analyze_batch_wave() (loudness and 400 waveform buckets) on the CPU
 * (a thread per core) and on CUDA; best
 * of --reps (3) wall times, x realtime (audio seconds per wall second), the
 * speedup, the CUDA breakdown (upload, kernels, download from CUDA events,
 * summed over chunks) and the largest difference of integrated loudness
 * between the two. The first CUDA batch (context and allocations) is a
 * warm-up and not timed. The tracks are 16-bit samples, measured twice: as
 * float PCM ("analysis") and as 16-bit PCM ("analysis_s16"), which the GPU
 * is sent as it is, half the bytes, and makes float itself.
 *
 * stream: --jobs (1000) streaming jobs, each giving a block of 1024 frames
 * per step (44.1 -> 48 kHz stereo, -3 dB gain, -1 dBTP limiter), for
 * --steps (50) steps: the CPU batcher on every core (a batcher per core,
 * the jobs shared out) against one CUDA batcher; steps per second, x
 * realtime, the CUDA breakdown per step (upload, kernels, download by CUDA
 * events; the batcher's run() and the host's submit and take), the cost of
 * the events (the same steps with events off, alternating, best of --reps
 * each) and of CUPTI recording every kernel and copy, and job 0's largest
 * difference between the two. Then the same with resampling alone (no
 * gain, no limiter: what torchaudio's Resample does, for bench/gpu-torch.py).
 *
 * Benchmarks are functions listed in benches[]. Results go to stdout and,
 * with $OUT set, to $OUT/bench_gpu.txt and $OUT/bench_gpu.json (one member
 * per benchmark).
 *
 * --dump DIR writes the data and answers for another implementation to be
 * measured on (bench/gpu-torch.py): analysis.f32 (every track's interleaved
 * PCM, one after the other), analysis.txt (the shape, then one line per track
 * with the CPU's and CUDA's integrated loudness), stream.f32 (the 16 input
 * blocks of 1024 stereo frames) and resample_{in,cpu,cuda}.f32 (2 s of
 * 997 Hz + 15 kHz sines at 44.1 kHz, and that resampled to 48 kHz by the
 * batcher of each backend with no gain and no limiter).
 *
 *   bench_gpu [--tracks N] [--seconds S] [--channels C] [--rate HZ] [--reps R]
 *             [--jobs N] [--steps N] [--dump DIR]
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <unistd.h>

#include "dsp/dsp.h"

struct opts {
    int tracks, channels, rate, reps;
    double seconds;
    int jobs, steps;  /* stream */
    const char *dump; /* --dump DIR, or NULL */
};

/* Where results go: stdout, and $OUT's text and JSON files when set. */
struct report {
    FILE *txt, *json;
    int members; /* JSON members written so far */
    char device[160];
    int cuda;
};

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static void say(struct report *r, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void json(struct report *r, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void say(struct report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (r->txt) {
        va_start(ap, fmt);
        vfprintf(r->txt, fmt, ap);
        va_end(ap);
    }
}

/* Starts JSON member name (its value follows with json()). */
static void json_member(struct report *r, const char *name)
{
    if (r->json)
        fprintf(r->json, "%s\"%s\":", r->members++ ? "," : "", name);
}

static void json(struct report *r, const char *fmt, ...)
{
    if (!r->json)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->json, fmt, ap);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Writes n floats to DIR/name; complains on stderr and returns -1 on error. */
static int dump_floats(const struct opts *o, const char *name, const float *x, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", o->dump, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(x, sizeof(float), n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "bench_gpu: cannot write %s\n", path);
    return ok ? 0 : -1;
}

static FILE *dump_file(const struct opts *o, const char *name, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", o->dump, name);
    FILE *f = fopen(path, mode);
    if (!f)
        fprintf(stderr, "bench_gpu: cannot write %s\n", path);
    return f;
}

/* ---- analysis ---- */

struct gen_job {
    struct lg_pcm_track *t, *t16; /* float, and 16-bit of the same samples */
    const struct opts *o;
    int first, step; /* tracks first, first + step, ... */
    int failed;
};

/* Noise with a level that steps every 2 s over -40..-8 dBFS, in 16-bit
 * steps: the float track holds exactly the 16-bit track's samples. */
static void *gen_worker(void *arg)
{
    struct gen_job *g = arg;
    const struct opts *o = g->o;
    size_t frames = (size_t)llround(o->seconds * o->rate);
    for (int i = g->first; i < o->tracks; i += g->step) {
        float *x = lg_dsp_host_alloc(frames * (size_t)o->channels * sizeof(float));
        int16_t *q = lg_dsp_host_alloc(frames * (size_t)o->channels * sizeof(int16_t));
        g->t[i] = (struct lg_pcm_track){
            .pcm = x, .frames = frames, .rate = o->rate, .channels = o->channels
        };
        g->t16[i] = (struct lg_pcm_track){
            .s16 = q, .frames = frames, .rate = o->rate, .channels = o->channels
        };
        if (!x || !q) {
            g->failed = 1;
            return NULL;
        }
        uint32_t s = 2463534242u + (uint32_t)i * 7919u;
        size_t step_len = (size_t)o->rate * 2;
        for (size_t f = 0; f < frames; f++) {
            float amp =
                powf(10.0f, (-40.0f + 4.0f * (float)((f / step_len + (size_t)i) % 9)) / 20.0f);
            for (int c = 0; c < o->channels; c++) {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                size_t k = f * (size_t)o->channels + (size_t)c;
                q[k] = (int16_t)lrintf(amp * ((float)(s >> 8) / 8388608.0f - 1.0f) * 32767.0f);
                x[k] = lg_pcm_s16(q[k]);
            }
        }
    }
    return NULL;
}

static int generate(const struct opts *o, struct lg_pcm_track *t, struct lg_pcm_track *t16)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cores > 0 ? (int)cores : 1;
    pthread_t th[256];
    struct gen_job jobs[256];
    n = n > 256 ? 256 : n;
    int failed = 0;
    for (int k = 0; k < n; k++) {
        jobs[k] = (struct gen_job){ t, t16, o, k, n, 0 };
        if (pthread_create(&th[k], NULL, gen_worker, &jobs[k]) != 0) {
            gen_worker(&jobs[k]);
            th[k] = pthread_self();
        }
    }
    for (int k = 0; k < n; k++) {
        if (!pthread_equal(th[k], pthread_self()))
            pthread_join(th[k], NULL);
        failed |= jobs[k].failed;
    }
    return failed ? -1 : 0;
}

static void free_meters(struct lg_loudness **m, int n)
{
    for (int i = 0; i < n; i++) {
        lg_loudness_free(m[i]);
        m[i] = NULL;
    }
}

/* Waveform buckets per track, as the library's analysis asks for. */
#define WAVE_BUCKETS 400

/* Best of reps runs of the batch on backend (loudness and waveform); *best
 * gets that run's stats and out the meters of the last run. Returns the
 * best wall time in s, or -1. */
static double timed(int backend, const struct lg_pcm_track *t, int n, int reps,
                    struct lg_loudness **out, struct lg_dsp_batch_stats *best)
{
    double best_s = -1.0;
    struct lg_waveform **w = calloc((size_t)n, sizeof(*w));
    for (int r = 0; w && r < reps; r++) {
        struct lg_dsp_batch_stats st;
        free_meters(out, n);
        double t0 = now_s();
        int rc = lg_dsp_analyze_batch_wave(backend, t, (size_t)n, LG_LOUDNESS_ALL, WAVE_BUCKETS,
                                           out, w, &st);
        double s = now_s() - t0;
        for (int i = 0; rc == 0 && i < n; i++)
            lg_waveform_free(w[i]);
        if (rc < 0) {
            fprintf(stderr, "bench_gpu: %s batch failed (%d): %s\n", lg_dsp_backend_name(backend),
                    rc, st.note);
            free(w);
            return -1.0;
        }
        if (best_s < 0 || s < best_s) {
            best_s = s;
            *best = st;
        }
    }
    free(w);
    return best_s;
}

static double integrated(const struct lg_loudness *m)
{
    double v = NAN;
    return m && lg_loudness_integrated(m, &v) == 0 ? v : NAN;
}

/* --dump: the tracks' PCM and both backends' integrated loudness. */
static void dump_analysis(const struct opts *o, const struct lg_pcm_track *t, int n,
                          struct lg_loudness *const *cpu, struct lg_loudness *const *gpu)
{
    FILE *pcm = dump_file(o, "analysis.f32", "wb");
    FILE *txt = dump_file(o, "analysis.txt", "w");
    int ok = pcm && txt;
    if (ok)
        fprintf(txt, "tracks %d frames %zu channels %d rate %d\n", n, t[0].frames, o->channels,
                o->rate);
    for (int i = 0; ok && i < n; i++) {
        size_t len = t[i].frames * (size_t)t[i].channels;
        ok = fwrite(t[i].pcm, sizeof(float), len, pcm) == len;
        fprintf(txt, "%d %.6f %.6f\n", i, integrated(cpu[i]), gpu ? integrated(gpu[i]) : NAN);
    }
    if (pcm && fclose(pcm) != 0)
        ok = 0;
    if (txt && fclose(txt) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "bench_gpu: the analysis dump in %s is incomplete\n", o->dump);
}

/* One analysis case over tracks t (float or 16-bit): the CPU, then CUDA;
 * its JSON member is name. */
static void analysis_case(const struct opts *o, struct report *r, const struct lg_pcm_track *t,
                          const char *name)
{
    int n = o->tracks;
    struct lg_loudness **cpu = calloc((size_t)n, sizeof(*cpu)),
                       **gpu = calloc((size_t)n, sizeof(*gpu));
    int s16 = t[0].s16 != NULL;
    double audio_s = o->seconds * n;
    double gb = (double)n * (double)t[0].frames * o->channels * (s16 ? 2 : sizeof(float)) / 1e9;
    if (!cpu || !gpu) {
        say(r, "%s: out of memory\n", name);
        goto out;
    }
    say(r, "%s: %d tracks x %.0f s, %d ch, %d Hz (%.0f s of audio, %.2f GB of %s PCM, %s)\n", name,
        n, o->seconds, o->channels, o->rate, audio_s, gb, s16 ? "16-bit" : "float",
        r->cuda ? "page-locked" : "pageable");
    struct lg_dsp_batch_stats st_cpu, st_gpu;
    double s_cpu = timed(LG_DSP_CPU, t, n, o->reps, cpu, &st_cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    say(r, "  cpu  (%ld threads)  %8.3f s  %9.0fx realtime\n", cores, s_cpu, audio_s / s_cpu);
    json_member(r, name);
    json(r,
         "{\"tracks\":%d,\"seconds\":%g,\"channels\":%d,\"rate\":%d,\"audio_s\":%g,\"pcm\":\"%s\","
         "\"pcm_gb\":%.3f,\"cpu\":{\"threads\":%ld,\"wall_s\":%.4f,\"x_realtime\":%.1f}",
         n, o->seconds, o->channels, o->rate, audio_s, s16 ? "s16" : "f32", gb, cores, s_cpu,
         audio_s / s_cpu);
    if (!r->cuda) {
        say(r, "  cuda: not usable here (%s)\n", r->device);
        json(r, ",\"cuda\":null}");
        if (o->dump && !s16)
            dump_analysis(o, t, n, cpu, NULL);
        goto out;
    }
    /* Warm-up: the first batch pays for the context and the first allocations. */
    struct lg_loudness *warm[4] = { NULL };
    int n_warm = n < 4 ? n : 4;
    double tw = now_s();
    if (lg_dsp_analyze_batch(LG_DSP_CUDA, t, (size_t)n_warm, LG_LOUDNESS_ALL, warm) == 0)
        free_meters(warm, n_warm);
    tw = now_s() - tw;
    double s_gpu = timed(LG_DSP_CUDA, t, n, o->reps, gpu, &st_gpu);
    if (s_gpu < 0) {
        json(r, ",\"cuda\":null}");
        goto out;
    }
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        double d = fabs(integrated(cpu[i]) - integrated(gpu[i]));
        worst = isfinite(d) && d > worst ? d : worst;
    }
    say(r, "  cuda (%s)  %8.3f s  %9.0fx realtime  speedup %.2fx\n", r->device, s_gpu,
        audio_s / s_gpu, s_cpu / s_gpu);
    say(r,
        "  cuda breakdown (events, summed over %zu chunks): upload %.1f ms (%.1f GB/s), kernels "
        "%.1f ms (%.0fx realtime), download %.1f ms; warm-up batch %.0f ms\n",
        st_gpu.chunks, st_gpu.upload_ms, (double)st_gpu.bytes_up / 1e6 / st_gpu.upload_ms,
        st_gpu.kernels_ms, audio_s / (st_gpu.kernels_ms / 1e3), st_gpu.download_ms, tw * 1e3);
    say(r, "  largest |integrated cpu - cuda|: %.5f LU\n", worst);
    json(r,
         ",\"cuda\":{\"device\":\"%s\",\"wall_s\":%.4f,\"x_realtime\":%.1f,\"speedup\":%.3f,"
         "\"chunks\":%zu,\"upload_ms\":%.2f,\"kernels_ms\":%.2f,\"download_ms\":%.2f,"
         "\"bytes_up\":%zu,\"warmup_ms\":%.1f,\"max_integrated_diff_lu\":%.6f}}",
         r->device, s_gpu, audio_s / s_gpu, s_cpu / s_gpu, st_gpu.chunks, st_gpu.upload_ms,
         st_gpu.kernels_ms, st_gpu.download_ms, st_gpu.bytes_up, tw * 1e3, worst);
    if (o->dump && !s16)
        dump_analysis(o, t, n, cpu, gpu);
out:
    if (cpu)
        free_meters(cpu, n);
    if (gpu)
        free_meters(gpu, n);
    free(cpu);
    free(gpu);
}

/* The same samples as float ("analysis") and as 16-bit PCM ("analysis_s16",
 * half the bytes to copy: what CD-quality sources decode to). */
static void bench_analysis(const struct opts *o, struct report *r)
{
    int n = o->tracks;
    struct lg_pcm_track *t = calloc((size_t)n, sizeof(*t)), *t16 = calloc((size_t)n, sizeof(*t16));
    double t0 = now_s();
    if (!t || !t16 || generate(o, t, t16) < 0) {
        say(r, "analysis: out of memory for %d tracks\n", n);
        goto out;
    }
    say(r, "analysis: %d tracks generated in %.1f s\n", n, now_s() - t0);
    analysis_case(o, r, t, "analysis");
    analysis_case(o, r, t16, "analysis_s16");
out:
    for (int i = 0; t && t16 && i < n; i++) {
        lg_dsp_host_free((void *)t[i].pcm);
        lg_dsp_host_free((void *)t16[i].s16);
    }
    free(t);
    free(t16);
}

/* ---- streaming ---- */

#define STREAM_FRAMES 1024
#define STREAM_BLOCKS 16

struct stream_bench {
    const struct opts *o;
    float *block[STREAM_BLOCKS]; /* 1024 stereo frames each, at 44.1 kHz */
};

/* A job of the whole chain (full), or of resampling alone. */
static struct lg_dsp_job_params stream_job(int full)
{
    struct lg_dsp_job_params p = { 0 };
    p.in_rate = 44100;
    p.out_rate = 48000;
    p.channels = 2;
    if (!full)
        return p;
    p.gain_db = -3.0;
    p.limit = 1;
    p.ceiling_dbtp = -1.0;
    p.lookahead_ms = 5.0;
    p.release_ms = 150.0;
    return p;
}

/* steps runs of jobs [first, first + n) on b: every job submits its block,
 * the batch runs, every job's output is taken (job 0's kept in keep). */
static int stream_steps(struct lg_dsp_batcher *b, const int *id, int first, int n, int steps,
                        int step0, struct stream_bench *sb, float *keep, size_t *keep_len)
{
    float *y = malloc(4 * STREAM_FRAMES * 2 * sizeof(float));
    int rc = y ? 0 : -1;
    for (int s = 0; s < steps && rc == 0; s++) {
        for (int k = 0; k < n; k++)
            lg_dsp_batcher_submit(b, id[k], sb->block[(first + k + step0 + s) % STREAM_BLOCKS],
                                  STREAM_FRAMES, INT64_MAX);
        if (lg_dsp_batcher_run(b, 0) < 0)
            rc = -1;
        for (int k = 0; k < n; k++) {
            size_t got = lg_dsp_batcher_take(b, id[k], y, 4 * STREAM_FRAMES);
            if (keep && first + k == 0) {
                memcpy(keep + *keep_len * 2, y, got * 2 * sizeof(float));
                *keep_len += got;
            }
        }
    }
    free(y);
    return rc;
}

struct stream_cpu {
    struct stream_bench *sb;
    int full, first, n, steps;
    float *keep;
    size_t keep_len;
    int failed;
};

/* One core's share of the jobs on its own CPU batcher. */
static void *stream_cpu_worker(void *arg)
{
    struct stream_cpu *c = arg;
    struct lg_dsp_batcher *b = lg_dsp_batcher_new(LG_DSP_CPU, c->n, STREAM_FRAMES);
    int *id = malloc((size_t)c->n * sizeof(int));
    struct lg_dsp_job_params p = stream_job(c->full);
    c->failed = !b || !id;
    for (int k = 0; !c->failed && k < c->n; k++)
        c->failed = (id[k] = lg_dsp_batcher_add(b, &p)) < 0;
    if (!c->failed)
        c->failed =
            stream_steps(b, id, c->first, c->n, c->steps, 0, c->sb, c->keep, &c->keep_len) < 0;
    free(id);
    lg_dsp_batcher_free(b);
    return NULL;
}

/* Every core, each with jobs / cores jobs; the wall time of all steps. */
static double stream_cpu_all(struct stream_bench *sb, int full, int jobs, int steps, float *keep,
                             size_t *keep_len)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cores > 0 ? (int)cores : 1;
    n = n > 256 ? 256 : (n > jobs ? jobs : n);
    pthread_t th[256];
    struct stream_cpu c[256];
    double t0 = now_s();
    int first = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        int share = jobs / n + (i < jobs % n);
        c[i] = (struct stream_cpu){ sb, full, first, share, steps, i == 0 ? keep : NULL, 0, 0 };
        first += share;
        if (pthread_create(&th[i], NULL, stream_cpu_worker, &c[i]) != 0) {
            stream_cpu_worker(&c[i]);
            th[i] = pthread_self();
        }
    }
    for (int i = 0; i < n; i++) {
        if (!pthread_equal(th[i], pthread_self()))
            pthread_join(th[i], NULL);
        failed |= c[i].failed;
    }
    *keep_len = c[0].keep_len;
    return failed ? -1.0 : now_s() - t0;
}

#define TWO_PI 6.283185307179586476925

/* --dump: 2 s of 997 Hz and 15 kHz sines (0.25 each) at 44.1 kHz through a
 * one-job batcher of backend with resampling alone, fed in blocks of 1024
 * frames and flushed; the output goes to DIR/name (and the input to
 * resample_in.f32 from the CPU's pass). */
static void dump_resample(const struct opts *o, int backend, const char *name)
{
    enum { IN = 88200, CAP = 96000 + 4096 };
    float *x = malloc(IN * 2 * sizeof(float)), *y = malloc((size_t)CAP * 2 * sizeof(float));
    struct lg_dsp_batcher *b = lg_dsp_batcher_new(backend, 1, STREAM_FRAMES);
    struct lg_dsp_job_params p = { .in_rate = 44100, .out_rate = 48000, .channels = 2 };
    int id = b ? lg_dsp_batcher_add(b, &p) : -1;
    size_t got = 0;
    if (!x || !y || id < 0) {
        fprintf(stderr, "bench_gpu: no %s batcher for the resampling dump\n",
                lg_dsp_backend_name(backend));
        goto out;
    }
    for (int f = 0; f < IN; f++) {
        double t = f / 44100.0;
        float v = (float)(0.25 * sin(TWO_PI * 997.0 * t) + 0.25 * sin(TWO_PI * 15000.0 * t));
        x[2 * f] = x[2 * f + 1] = v;
    }
    for (int at = 0, n = 1; n > 0; at += n) {
        n = IN - at < STREAM_FRAMES ? IN - at : STREAM_FRAMES;
        if (n > 0)
            lg_dsp_batcher_submit(b, id, x + 2 * at, (size_t)n, INT64_MAX);
        else
            lg_dsp_batcher_flush(b, id);
        if (lg_dsp_batcher_run(b, 0) < 0)
            break;
        got += lg_dsp_batcher_take(b, id, y + 2 * got, (size_t)CAP - got);
    }
    if (backend == LG_DSP_CPU)
        dump_floats(o, "resample_in.f32", x, (size_t)IN * 2);
    dump_floats(o, name, y, got * 2);
out:
    lg_dsp_batcher_free(b);
    free(x);
    free(y);
}

struct stream_gpu_totals {
    double wall_s, upload_ms, kernels_ms, download_ms, gpu_ms, run_ms;
    int events;
};

static void stream_sum(const struct lg_dsp_batcher_stats *s, void *ctx)
{
    struct stream_gpu_totals *t = ctx;
    t->upload_ms += s->upload_ms;
    t->kernels_ms += s->kernels_ms;
    t->download_ms += s->download_ms;
    t->gpu_ms += s->gpu_ms;
    t->run_ms += s->wall_ms;
}

/* CUPTI's records summed by name: kernels by their name, copies by
 * direction. */
struct gpu_profile {
    int records;
    struct {
        char name[48];
        double ms;
        int n;
    } by[16];
    int n_by;
};

static void stream_count(const struct lg_dsp_gpu_event *e, void *ctx)
{
    struct gpu_profile *g = ctx;
    g->records++;
    char name[48];
    if (!strcmp(e->cat, "memcpy"))
        snprintf(name, sizeof(name), "copy %.4s", e->name); /* "HtoD", "DtoH" */
    else
        snprintf(name, sizeof(name), "%s", e->name);
    int k = 0;
    while (k < g->n_by && strcmp(g->by[k].name, name))
        k++;
    if (k == g->n_by && g->n_by < 16)
        snprintf(g->by[g->n_by++].name, sizeof(g->by[0].name), "%s", name);
    if (k < g->n_by) {
        g->by[k].ms += (double)(e->end_ns - e->begin_ns) / 1e6;
        g->by[k].n++;
    }
}

/* One streaming case: full, the whole chain (JSON member "stream"), or
 * resampling alone ("resample", what torchaudio's Resample does), on the
 * CPU batchers and on CUDA. */
static void stream_case(const struct opts *o, struct report *r, struct stream_bench *sb, int full)
{
    int jobs = o->jobs, steps = o->steps;
    size_t keep_cap = (size_t)steps * 2 * STREAM_FRAMES + 4096;
    float *keep_cpu = malloc(keep_cap * 2 * sizeof(float));
    float *keep_gpu = malloc(keep_cap * 2 * sizeof(float));
    size_t len_cpu = 0, len_gpu = 0;
    double audio_s = (double)jobs * STREAM_FRAMES * steps / 44100.0;
    say(r,
        "%s: %d jobs x %d frames per step, 44.1 -> 48 kHz stereo%s; %d steps (%.0f s of audio)\n",
        full ? "stream" : "resample", jobs, STREAM_FRAMES, full ? ", gain, limiter" : " alone",
        steps, audio_s);
    double s_cpu =
        keep_cpu && keep_gpu ? stream_cpu_all(sb, full, jobs, steps, keep_cpu, &len_cpu) : -1.0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    say(r, "  cpu  (%ld threads)  %8.1f steps/s  %9.0fx realtime  %.2f ms per step\n", cores,
        steps / s_cpu, audio_s / s_cpu, s_cpu * 1e3 / steps);
    json_member(r, full ? "stream" : "resample");
    json(r,
         "{\"jobs\":%d,\"frames\":%d,\"steps\":%d,\"audio_s\":%g,\"cpu\":{\"threads\":%ld,"
         "\"steps_per_s\":%.2f,\"x_realtime\":%.1f}",
         jobs, STREAM_FRAMES, steps, audio_s, cores, steps / s_cpu, audio_s / s_cpu);
    if (!r->cuda) {
        say(r, "  cuda: not usable here (%s)\n", r->device);
        json(r, ",\"cuda\":null}");
        goto out;
    }
    struct lg_dsp_batcher *b = lg_dsp_batcher_new(LG_DSP_CUDA, jobs, STREAM_FRAMES);
    int *id = malloc((size_t)jobs * sizeof(int));
    struct lg_dsp_job_params p = stream_job(full);
    for (int k = 0; b && id && k < jobs; k++)
        id[k] = lg_dsp_batcher_add(b, &p);
    if (!b || !id) {
        say(r, "  cuda: no batcher\n");
        json(r, ",\"cuda\":null}");
        free(id);
        lg_dsp_batcher_free(b);
        goto out;
    }
    /* The same steps as the CPU (job 0 compared; buffers grow and the GPU
     * warms up), then timed: events on and events off alternately, --reps
     * rounds, each mode's best kept (an order effect is not an overhead),
     * then once with CUPTI recording as well. */
    struct stream_gpu_totals t[3];
    memset(t, 0, sizeof(t));
    stream_steps(b, id, 0, jobs, steps, 0, sb, keep_gpu, &len_gpu);
    struct gpu_profile prof = { 0 };
    int cupti = 0, pass = 1;
    char why[256] = "";
    for (int round = 0; round <= o->reps; round++) {
        for (int mode = 0; mode < 3; mode++) {
            if ((mode == 2) != (round == o->reps))
                continue;
            struct stream_gpu_totals cur = { 0 };
            lg_dsp_batcher_set_events(b, mode != 1);
            if (mode == 2)
                cupti = lg_dsp_gpu_profile_start(why, sizeof(why)) == 0;
            lg_dsp_batcher_on_run(b, stream_sum, &cur);
            double t0 = now_s();
            stream_steps(b, id, 0, jobs, steps, steps * pass++, sb, NULL, NULL);
            cur.wall_s = now_s() - t0;
            lg_dsp_batcher_on_run(b, NULL, NULL);
            if (cupti)
                lg_dsp_gpu_profile_stop(stream_count, &prof);
            if (t[mode].wall_s == 0 || cur.wall_s < t[mode].wall_s)
                t[mode] = cur;
        }
    }
    double worst = len_cpu == len_gpu ? 0.0 : INFINITY;
    for (size_t i = 0; isfinite(worst) && i < len_cpu * 2; i++)
        worst = fmax(worst, fabs((double)keep_cpu[i] - keep_gpu[i]));
    double s_gpu = t[0].wall_s, per = 1.0 / steps;
    say(r, "  cuda (%s)  %8.1f steps/s  %9.0fx realtime  %.2f ms per step  speedup %.2fx\n",
        r->device, steps / s_gpu, audio_s / s_gpu, s_gpu * 1e3 / steps, s_cpu / s_gpu);
    say(r,
        "  cuda per step (events): upload %.3f ms, kernels %.3f ms, download %.3f ms (summed over "
        "the parts), gpu %.3f ms, run() %.3f ms, submit+take %.3f ms\n",
        t[0].upload_ms * per, t[0].kernels_ms * per, t[0].download_ms * per, t[0].gpu_ms * per,
        t[0].run_ms * per, (s_gpu * 1e3 - t[0].run_ms) * per);
    double ev_over = (t[0].wall_s - t[1].wall_s) / t[1].wall_s * 100.0;
    say(r, "  overhead: events on %+.2f %% (%.3f vs %.3f ms per step)", ev_over,
        t[0].wall_s * 1e3 * per, t[1].wall_s * 1e3 * per);
    if (cupti)
        say(r, "; CUPTI %+.2f %% (%.3f ms per step, %d records)\n",
            (t[2].wall_s - t[0].wall_s) / t[0].wall_s * 100.0, t[2].wall_s * 1e3 * per,
            prof.records);
    else
        say(r, "; CUPTI not measured: %s\n", why);
    for (int k = 0; k < prof.n_by; k++)
        say(r, "  cupti %-32s %6d records  %8.3f ms per step (%.1f us each)\n", prof.by[k].name,
            prof.by[k].n, prof.by[k].ms * per, prof.by[k].ms * 1e3 / prof.by[k].n);
    say(r, "  job 0, cpu against cuda: %zu and %zu frames, largest difference %.2g\n", len_cpu,
        len_gpu, worst);
    json(r,
         ",\"cuda\":{\"device\":\"%s\",\"steps_per_s\":%.2f,\"x_realtime\":%.1f,\"speedup\":%.3f,"
         "\"upload_ms\":%.4f,\"kernels_ms\":%.4f,\"download_ms\":%.4f,\"gpu_ms\":%.4f,"
         "\"run_ms\":%.4f,\"events_off_steps_per_s\":%.2f,\"events_overhead_pct\":%.3f,"
         "\"cupti_steps_per_s\":%.2f,\"cupti_records\":%d,\"max_diff\":%g}}",
         r->device, steps / s_gpu, audio_s / s_gpu, s_cpu / s_gpu, t[0].upload_ms * per,
         t[0].kernels_ms * per, t[0].download_ms * per, t[0].gpu_ms * per, t[0].run_ms * per,
         steps / t[1].wall_s, ev_over, cupti ? steps / t[2].wall_s : 0.0, prof.records,
         isfinite(worst) ? worst : -1.0);
    free(id);
    lg_dsp_batcher_free(b);
out:
    free(keep_cpu);
    free(keep_gpu);
}

static void bench_stream(const struct opts *o, struct report *r)
{
    struct stream_bench sb = { o, { NULL } };
    uint32_t s = 12345;
    for (int i = 0; i < STREAM_BLOCKS; i++) {
        sb.block[i] = malloc(STREAM_FRAMES * 2 * sizeof(float));
        for (int f = 0; sb.block[i] && f < STREAM_FRAMES * 2; f++) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            double sine = sin(0.05 * (double)(i * STREAM_FRAMES + f / 2));
            sb.block[i][f] = (float)((i % 4 == 1 ? 1.5 : 0.3) *
                                     (0.7 * sine + 0.3 * ((double)(s >> 8) / 8388608.0 - 1.0)));
        }
    }
    if (o->dump) {
        float *all = malloc((size_t)STREAM_BLOCKS * STREAM_FRAMES * 2 * sizeof(float));
        for (int i = 0; all && i < STREAM_BLOCKS; i++)
            memcpy(all + (size_t)i * STREAM_FRAMES * 2, sb.block[i],
                   STREAM_FRAMES * 2 * sizeof(float));
        if (all)
            dump_floats(o, "stream.f32", all, (size_t)STREAM_BLOCKS * STREAM_FRAMES * 2);
        free(all);
        dump_resample(o, LG_DSP_CPU, "resample_cpu.f32");
        if (r->cuda)
            dump_resample(o, LG_DSP_CUDA, "resample_cuda.f32");
    }
    stream_case(o, r, &sb, 1);
    stream_case(o, r, &sb, 0);
    for (int i = 0; i < STREAM_BLOCKS; i++)
        free(sb.block[i]);
}

/* ---- main ---- */

struct bench {
    const char *name;
    void (*run)(const struct opts *o, struct report *r);
};

/* Benchmarks in order; streaming benchmarks are appended here. */
static const struct bench benches[] = {
    { "analysis", bench_analysis },
    { "stream", bench_stream },
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

static int usage(void)
{
    fprintf(stderr,
            "usage: bench_gpu [--tracks N] [--seconds S] [--channels C] [--rate HZ] [--reps R] "
            "[--jobs N] [--steps N] [--dump DIR]\n");
    return -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--dump") && i + 1 < argc) {
            o->dump = argv[i + 1];
            continue;
        }
        char *end = NULL;
        double v = i + 1 < argc ? strtod(argv[i + 1], &end) : 0.0;
        if (!end || *end || !(v > 0 && v < 1e9))
            return usage();
        if (!strcmp(argv[i], "--tracks"))
            o->tracks = (int)v;
        else if (!strcmp(argv[i], "--seconds"))
            o->seconds = v;
        else if (!strcmp(argv[i], "--channels"))
            o->channels = (int)v;
        else if (!strcmp(argv[i], "--rate"))
            o->rate = (int)v;
        else if (!strcmp(argv[i], "--reps"))
            o->reps = (int)v;
        else if (!strcmp(argv[i], "--jobs"))
            o->jobs = (int)v;
        else if (!strcmp(argv[i], "--steps"))
            o->steps = (int)v;
        else
            return usage();
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = { 1000, 2, 48000, 3, 30.0, 1000, 50, NULL };
    if (parse(argc, argv, &o) < 0)
        return 2;
    struct report r = { out_file("bench_gpu.txt"), out_file("bench_gpu.json"), 0, "", 0 };
    char backends[256];
    r.cuda = lg_dsp_cuda_status(r.device, sizeof(r.device));
    lg_dsp_backends(backends, sizeof(backends));
    say(&r, "backends: %s\n", backends);
    json(&r, "{\"backends\":\"%s\",", backends);
    json_member(&r, "cuda_usable");
    json(&r, "%s", r.cuda ? "true" : "false");
    for (size_t b = 0; b < sizeof(benches) / sizeof(benches[0]); b++)
        benches[b].run(&o, &r);
    json(&r, "}\n");
    if (r.txt)
        fclose(r.txt);
    if (r.json)
        fclose(r.json);
    return 0;
}
