/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the transcode jobs and their scheduler (stream/jobs.c): two
 * readers of one key share a job and read the same bytes; the worker runs
 * the job with the earliest deadline first; a job far enough ahead of its
 * listener waits; the last reader leaving stops the job. The process stage
 * of every job runs in the scheduler's one batch: on the CPU the output is
 * that of a transcode on its own, sample for sample; on the CUDA path run
 * on the host (LG_DSP_BATCH_EMULATE) many jobs share the batch thread's
 * runs and every listener gets its exact length, within 1e-5 of the CPU;
 * a job due now is not held back by idle ones; a failed run ends its jobs
 * and new ones go to the CPU; shutdown with chunks in the batch is quick.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "dsp/dsp.h"
#include "media/media.h"
#include "prof/prof.h"
#include "stream/stream.h"

#include "harness.h"

static char *tmp, *src;

static int file_write(void *ctx, const uint8_t *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -5;
}

static int file_seek(void *ctx, int64_t off)
{
    return fseek(ctx, (long)off, SEEK_SET) == 0 ? 0 : -5;
}

/* A 6-second stereo 44.1 kHz FLAC: a tone and some noise. */
LG_TEST(setup)
{
    tmp = lg_test_tmpdir("jobs");
    src = lg_xasprintf("%s/src.flac", tmp);
    size_t n = 44100 * 6;
    float *v = malloc(n * 2 * sizeof(float));
    uint32_t seed = 7;
    for (size_t i = 0; i < n * 2; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] =
            (float)(0.3 * sin((double)i * 0.031) + ((double)(seed >> 8) / 16777216.0 - 0.5) * 0.1);
    }
    FILE *f = fopen(src, "wb");
    struct lg_encode_opts o = {
        .format = LG_FORMAT_FLAC, .rate = 44100, .channels = 2, .complexity = -1
    };
    struct lg_encoder *e = NULL;
    CHECK_INT(lg_encoder_open(&o, file_write, file_seek, f, &e, NULL, 0), 0);
    CHECK_INT(lg_encoder_write(e, v, n), 0);
    CHECK_INT(lg_encoder_finish(e), 0);
    lg_encoder_free(e);
    fclose(f);
    free(v);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void no_wake(void *ctx)
{
    (void)ctx;
}

static int discard_bytes(void *ctx, const uint8_t *data, size_t len)
{
    (void)data;
    *(size_t *)ctx += len;
    return 0;
}

/* Reads r to its end (polling), into *out; returns the byte count. */
static size_t read_all(struct lg_job_reader *r, unsigned char **out, int64_t start_ns)
{
    size_t n = 0, cap = 1 << 16;
    unsigned char *b = malloc(cap);
    for (int spins = 0; spins < 20000; spins++) {
        if (n + 8192 > cap)
            b = realloc(b, cap *= 2);
        ssize_t k = lg_job_read(r, b + n, 8192, start_ns, NULL, NULL);
        if (k == LG_JOB_EOF)
            break;
        CHECK(k >= 0);
        if (k == 0)
            sleep_ms(1);
        n += k > 0 ? (size_t)k : 0;
    }
    *out = b;
    return n;
}

static double made_of(const struct lg_job_reader *r)
{
    struct lg_job_stats st;
    lg_job_stats(r, &st);
    return st.made_s;
}

static const struct lg_transcode_opts opus = { .format = LG_FORMAT_OPUS,
                                               .bitrate_kbps = 96,
                                               .complexity = -1 };

LG_TEST(readers_share_a_job)
{
    struct lg_jobs_opts jo = { .workers = 2 };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    struct lg_job_reader *a = NULL, *b = NULL;
    bool shared = true;
    CHECK_INT(lg_jobs_attach(s, "k1", src, &opus, no_wake, NULL, &a, &shared, NULL, 0), 0);
    CHECK(!shared);
    CHECK_INT(lg_jobs_attach(s, "k1", src, &opus, no_wake, NULL, &b, &shared, NULL, 0), 0);
    CHECK(shared);
    unsigned char *x, *y;
    size_t nx = read_all(a, &x, lg_prof_now_ns());
    size_t ny = read_all(b, &y, lg_prof_now_ns());
    CHECK(nx > 10000);
    CHECK(nx == ny && memcmp(x, y, nx) == 0);
    /* Another key is another job. */
    struct lg_job_reader *c = NULL;
    CHECK_INT(lg_jobs_attach(s, "k2", src, &opus, no_wake, NULL, &c, &shared, NULL, 0), 0);
    CHECK(!shared);
    lg_job_detach(c);
    lg_job_detach(a);
    lg_job_detach(b);
    free(x);
    free(y);
    /* A file that is not audio fails at attach, with a reason. */
    char err[128] = "";
    CHECK(lg_jobs_attach(s, "k3", "/etc/hostname", &opus, no_wake, NULL, &c, &shared, err,
                         sizeof(err)) < 0);
    CHECK(err[0] != '\0');
    lg_jobs_free(s);
}

/* The jobs' buffers share max_buffered: a job that would pass it fails, and
 * while they hold three quarters of it no new job starts (-EBUSY); a reader
 * of a job that exists still joins it. Detaching frees the memory. */
LG_TEST(buffers_bounded)
{
    struct lg_jobs_opts jo = { .workers = 1, .max_buffered = 1 << 20 };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    /* 6 s of 16-bit stereo WAV is 1,058,444 bytes: more than 1 MiB. */
    const struct lg_transcode_opts wav = { .format = LG_FORMAT_WAV, .complexity = -1 };
    struct lg_job_reader *a = NULL, *b = NULL, *c = NULL;
    bool shared;
    CHECK_INT(lg_jobs_attach(s, "wav", src, &wav, no_wake, NULL, &a, &shared, NULL, 0), 0);
    static unsigned char buf[8192];
    ssize_t k = 0;
    size_t got = 0;
    for (int spins = 0; spins < 20000; spins++) {
        k = lg_job_read(a, buf, sizeof(buf), lg_prof_now_ns(), NULL, NULL);
        if (k < 0)
            break;
        got += (size_t)k;
        if (k == 0)
            sleep_ms(1);
    }
    CHECK_INT(k, -ENOMEM);
    CHECK(got > 0 && got < 1058444);
    char err[128] = "";
    CHECK_INT(lg_jobs_attach(s, "other", src, &opus, no_wake, NULL, &c, &shared, err, sizeof(err)),
              -EBUSY);
    CHECK(err[0] != '\0');
    lg_job_detach(a);
    CHECK_INT(lg_jobs_attach(s, "other", src, &opus, no_wake, NULL, &b, &shared, NULL, 0), 0);
    unsigned char *x;
    CHECK(read_all(b, &x, lg_prof_now_ns()) > 10000);
    free(x);
    lg_job_detach(b);
    lg_jobs_free(s);
}

/* One worker, two jobs: the one whose listener started a minute ago is due
 * first and runs to its end first, the other staying behind. (On the CPU
 * each chunk runs whole in the worker; with a shared batch the other job's
 * halves may use the worker while the first one's chunk is in the batch.) */
LG_TEST(earliest_deadline_first)
{
    struct lg_jobs_opts jo = { .workers = 1, .burst_s = 0, .ahead_s = 1000 };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    struct lg_job_reader *late = NULL, *early = NULL;
    bool shared;
    CHECK_INT(lg_jobs_attach(s, "early", src, &opus, no_wake, NULL, &early, &shared, NULL, 0), 0);
    CHECK_INT(lg_jobs_attach(s, "late", src, &opus, no_wake, NULL, &late, &shared, NULL, 0), 0);
    int64_t now = lg_prof_now_ns();
    unsigned char buf[64];
    /* Both take their first bytes (the headers): their clocks start. */
    CHECK(lg_job_read(late, buf, sizeof(buf), now, NULL, NULL) > 0);
    CHECK(lg_job_read(early, buf, sizeof(buf), now - 60 * 1000000000LL, NULL, NULL) > 0);
    double made_early = 0, made_late = 0;
    for (int i = 0; i < 5000 && made_early < 5.9; i++) {
        made_early = made_of(early);
        sleep_ms(1);
    }
    made_late = made_of(late);
    CHECK(made_early > 5.9);
    if (made_late > made_early - 1.0)
        fprintf(stderr, "late job made %.2f s while the early one finished\n", made_late);
    CHECK(made_late <= made_early - 1.0);
    lg_job_detach(late);
    lg_job_detach(early);
    lg_jobs_free(s);
}

/* A job more than ahead_s ahead of its listener waits. */
LG_TEST(ahead_waits)
{
    struct lg_jobs_opts jo = { .workers = 1, .burst_s = 0, .ahead_s = 1 };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    struct lg_job_reader *r = NULL;
    bool shared;
    CHECK_INT(lg_jobs_attach(s, "a", src, &opus, no_wake, NULL, &r, &shared, NULL, 0), 0);
    unsigned char buf[64];
    int64_t start = lg_prof_now_ns();
    CHECK(lg_job_read(r, buf, sizeof(buf), start, NULL, NULL) > 0);
    /* It makes about ahead_s (plus a chunk) more than the listener's clock
     * has played, and no more: the 6 s track is not finished after 1 s. */
    double made = 0;
    for (int i = 0; i < 1000 && made < 1.0; i++) {
        sleep_ms(2);
        made = made_of(r);
    }
    CHECK(made >= 1.0);
    sleep_ms(300);
    made = made_of(r);
    double played = (double)(lg_prof_now_ns() - start) / 1e9;
    if (made > 1 + played + 0.6)
        fprintf(stderr, "made %.2f s after %.2f s of playing\n", made, played);
    CHECK(made <= 1 + played + 0.6);
    if (played < 3)
        CHECK(made < 5.9);
    lg_job_detach(r); /* mid-stream: the job stops and is freed */
    lg_jobs_free(s);
}

static int woken;
static void count_wake(void *ctx)
{
    (void)ctx;
    __atomic_add_fetch(&woken, 1, __ATOMIC_SEQ_CST);
}

/* A reader that caught up is suspended and woken when the next chunk is in. */
LG_TEST(wake_after_suspend)
{
    struct lg_jobs_opts jo = { .workers = 1 };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    struct lg_job_reader *r = NULL;
    bool shared;
    CHECK_INT(lg_jobs_attach(s, "w", src, &opus, count_wake, NULL, &r, &shared, NULL, 0), 0);
    unsigned char buf[1 << 16];
    int suspended = 0;
    for (int i = 0; i < 200; i++) {
        ssize_t k = lg_job_read(r, buf, sizeof(buf), lg_prof_now_ns(), count_wake, NULL);
        if (k == LG_JOB_EOF)
            break;
        if (k == 0) {
            suspended++;
            sleep_ms(5);
        }
    }
    CHECK(suspended > 0);
    CHECK(__atomic_load_n(&woken, __ATOMIC_SEQ_CST) >= suspended);
    lg_job_detach(r);
    lg_jobs_free(s);
}

LG_TEST(diagnosis)
{
    char why[160];
    struct lg_job_stats net = { .read_s = 10, .made_s = 25, .busy_s = { 0.1, 0.1, 0.3 } };
    CHECK_INT(lg_job_diagnose(&net, why, sizeof(why)), LG_STAGE_SEND);
    CHECK(strstr(why, "connection") != NULL);
    struct lg_job_stats over = {
        .read_s = 10, .made_s = 10.5, .busy_s = { 0.1, 0.1, 0.3 }, .waited_s = 4
    };
    CHECK_INT(lg_job_diagnose(&over, why, sizeof(why)), LG_STAGE_GENERATE);
    CHECK(strstr(why, "overloaded") != NULL);
    struct lg_job_stats slow = { .read_s = 10, .made_s = 10.2, .busy_s = { 8, 0.5, 1 } };
    CHECK_INT(lg_job_diagnose(&slow, why, sizeof(why)), LG_STAGE_LOAD);
    CHECK(strstr(why, "stage load") != NULL);
}

enum { SRC_FRAMES = 44100 * 6 };

/* Writes bytes to tmp/name and decodes them: frames, *pcm (caller frees). */
static size_t decode_bytes(const unsigned char *b, size_t n, const char *name, float **pcm)
{
    char *path = lg_xasprintf("%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    lg_assert(f && fwrite(b, 1, n, f) == n);
    fclose(f);
    struct lg_decoder *d = NULL;
    size_t frames = 0, cap = 0;
    float *v = NULL;
    CHECK_INT(lg_decoder_open(path, &d, NULL, 0), 0);
    const float *p;
    int k;
    while (d && (k = lg_decoder_read(d, &p)) > 0) {
        if (frames + (size_t)k > cap) {
            cap = (frames + (size_t)k) * 2;
            v = realloc(v, cap * 2 * sizeof(float));
        }
        memcpy(v + frames * 2, p, (size_t)k * 2 * sizeof(float));
        frames += (size_t)k;
    }
    lg_decoder_free(d);
    free(path);
    *pcm = v;
    return frames;
}

/* The same settings through a transcode of its own (one-job batch). */
static size_t decode_alone(const struct lg_transcode_opts *o, int backend, const char *name,
                           float **pcm)
{
    char *path = lg_xasprintf("%s/%s", tmp, name);
    struct lg_transcode_opts q = *o;
    q.backend = backend;
    char err[160] = "";
    CHECK_INT(lg_transcode_file(src, path, &q, err, sizeof(err)), 0);
    FILE *f = fopen(path, "rb");
    lg_assert(f);
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    unsigned char *b = malloc(n);
    fseek(f, 0, SEEK_SET);
    lg_assert(fread(b, 1, n, f) == n);
    fclose(f);
    char *dec = lg_xasprintf("%s.again", name);
    size_t frames = decode_bytes(b, n, dec, pcm);
    free(dec);
    free(b);
    free(path);
    return frames;
}

static double pcm_diff(const float *a, const float *b, size_t frames)
{
    double d = 0;
    for (size_t i = 0; i < frames * 2; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static const struct lg_transcode_opts flac24 = {
    .format = LG_FORMAT_FLAC, .bits = 24, .gain_db = 6, .limit = true, .complexity = -1
};

/* Occurrences of needle in the n bytes at p. */
static int count_in(const char *p, size_t n, const char *needle)
{
    int c = 0;
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        c += memcmp(p + i, needle, k) == 0;
    return c;
}

/* The CPU batch of the scheduler gives each job what a transcode of its
 * own gives (itself the pipeline before batching: test_transcode). */
LG_TEST(cpu_batch_same_as_alone)
{
    struct lg_jobs_opts jo = { .workers = 2, .backend = LG_DSP_CPU };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    const struct lg_transcode_opts *os[] = { &opus, &flac24 };
    struct lg_job_reader *r[2];
    bool shared;
    CHECK_INT(lg_jobs_attach(s, "c-opus", src, os[0], no_wake, NULL, &r[0], &shared, NULL, 0), 0);
    CHECK_INT(lg_jobs_attach(s, "c-flac", src, os[1], no_wake, NULL, &r[1], &shared, NULL, 0), 0);
    for (int i = 0; i < 2; i++) {
        unsigned char *b;
        size_t n = read_all(r[i], &b, lg_prof_now_ns());
        float *x, *y;
        size_t nx = decode_bytes(b, n, i ? "c.flac" : "c.opus", &x);
        size_t ny = decode_alone(os[i], LG_DSP_CPU, i ? "a.flac" : "a.opus", &y);
        CHECK(nx == ny);
        CHECK(nx == (i ? (size_t)SRC_FRAMES : (size_t)llround(SRC_FRAMES * 48000.0 / 44100)));
        CHECK(nx == ny && pcm_diff(x, y, nx) == 0);
        free(x);
        free(y);
        free(b);
        lg_job_detach(r[i]);
    }
    lg_jobs_free(s);
}

/* Many jobs at once on the emulated CUDA batch: the batch thread runs
 * several jobs' chunks together, and every listener gets the exact length,
 * within 1e-5 of the CPU (24-bit FLAC) or resampled to 48 kHz (Opus). */
LG_TEST(many_jobs_one_batch)
{
    enum { J = 10 };
    /* The CPU's output first: its own batch must not be the last to run. */
    float *cpu;
    size_t n_cpu = decode_alone(&flac24, LG_DSP_CPU, "ref.flac", &cpu);
    CHECK(n_cpu == SRC_FRAMES);
    struct lg_jobs_opts jo = { .workers = 2, .backend = LG_DSP_CUDA | LG_DSP_BATCH_EMULATE };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    CHECK_INT(lg_prof_trace_start(200000), 0);
    uint64_t runs0 = lg_hist_count(lg_prof_stage("process", "opus", "cuda"));
    struct lg_job_reader *r[J];
    bool shared;
    for (int i = 0; i < J; i++) {
        char key[16];
        snprintf(key, sizeof(key), "many%d", i);
        CHECK_INT(lg_jobs_attach(s, key, src, i % 2 ? &flac24 : &opus, no_wake, NULL, &r[i],
                                 &shared, NULL, 0),
                  0);
    }
    for (int i = 0; i < J; i++) {
        unsigned char *b;
        size_t n = read_all(r[i], &b, lg_prof_now_ns());
        float *x;
        char name[32];
        snprintf(name, sizeof(name), "many%d.%s", i, i % 2 ? "flac" : "opus");
        size_t frames = decode_bytes(b, n, name, &x);
        size_t want = i % 2 ? (size_t)SRC_FRAMES : (size_t)llround(SRC_FRAMES * 48000.0 / 44100);
        if (frames != want)
            fprintf(stderr, "job %d: %zu frames, want %zu\n", i, frames, want);
        CHECK(frames == want);
        if (i % 2 && frames == n_cpu) {
            double d = pcm_diff(x, cpu, frames);
            if (d > 1e-5 + 1.0 / 8388608)
                fprintf(stderr, "job %d: %g from the cpu\n", i, d);
            CHECK(d <= 1e-5 + 1.0 / 8388608);
        }
        free(x);
        free(b);
    }
    free(cpu);
    struct lg_buf t;
    lg_buf_init(&t, 1u << 28);
    CHECK_INT(lg_prof_trace_stop(&t), 0);
    int batches = count_in(t.data, t.len, "\"name\":\"batch\"");
    int processed = count_in(t.data, t.len, "\"name\":\"process\"");
    if (!(batches > 0 && processed > batches))
        fprintf(stderr, "%d runs for %d chunks\n", batches, processed);
    CHECK(batches > 0 && processed > batches); /* some runs had several jobs */
    lg_buf_free(&t);
    CHECK(lg_hist_count(lg_prof_stage("process", "opus", "cuda")) > runs0);
    CHECK(lg_hist_count(lg_prof_stage("kernels", "all", "cuda")) > 0);
    char backend[16];
    lg_prof_dsp_get(backend, sizeof(backend), NULL, 0);
    CHECK_STR(backend, "cuda");
    for (int i = 0; i < J; i++)
        lg_job_detach(r[i]);
    lg_jobs_free(s);
}

/* A job due now is run at once although another job in the batch has
 * queued nothing: the policy waits for others only while deadlines allow.
 * Here the idle job is paced by its listener (ahead 1 s), the other one's
 * listener started a minute ago. */
LG_TEST(job_due_not_held_back)
{
    struct lg_jobs_opts jo = { .workers = 2, .burst_s = 0, .ahead_s = 1 };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    struct lg_job_reader *idle = NULL, *due = NULL;
    bool shared;
    unsigned char buf[64];
    CHECK_INT(lg_jobs_attach(s, "idle", src, &opus, no_wake, NULL, &idle, &shared, NULL, 0), 0);
    CHECK(lg_job_read(idle, buf, sizeof(buf), lg_prof_now_ns(), NULL, NULL) > 0);
    for (int i = 0; i < 2000 && made_of(idle) < 1.0; i++)
        sleep_ms(1);
    CHECK_INT(lg_jobs_attach(s, "due", src, &opus, no_wake, NULL, &due, &shared, NULL, 0), 0);
    int64_t t0 = lg_prof_now_ns();
    CHECK(lg_job_read(due, buf, sizeof(buf), t0 - 60 * 1000000000LL, NULL, NULL) > 0);
    for (int i = 0; i < 10000 && made_of(due) < 5.9; i++)
        sleep_ms(1);
    double took = (double)(lg_prof_now_ns() - t0) / 1e9;
    CHECK(made_of(due) > 5.9);
    /* Paced by the idle job, it would take about as long as the track. */
    if (took > 4)
        fprintf(stderr, "the due job took %.2f s\n", took);
    CHECK(took < 4);
    lg_job_detach(due);
    lg_job_detach(idle);
    lg_jobs_free(s);
}

/* The flush policy with deadlines to come, on the batch alone (no clock
 * waits: the policy is asked about chosen times). */
LG_TEST(batch_runs_by_deadline)
{
    struct lg_transcode_batch *tb = NULL;
    CHECK_INT(lg_transcode_batch_new(LG_DSP_CPU, 4, &tb, NULL, 0), 0);
    struct lg_transcode_opts o = opus;
    o.batch = tb;
    size_t bytes = 0;
    struct lg_transcode *lone = NULL, *other = NULL;
    CHECK_INT(lg_transcode_open(src, &o, discard_bytes, NULL, &bytes, &lone, NULL, 0), 0);
    CHECK_INT(lg_transcode_open(src, &o, discard_bytes, NULL, &bytes, &other, NULL, 0), 0);
    int64_t now = lg_prof_now_ns(), dl = now + 2000000000LL, due;
    CHECK_INT(lg_transcode_submit(lone, dl), 1);
    /* Not now: the other job may still queue within the deadline. */
    CHECK_INT(lg_transcode_batch_due(tb, now, &due), 0);
    CHECK(due > now && due < dl);
    /* At the latest start that keeps the deadline: due, alone. */
    CHECK_INT(lg_transcode_batch_due(tb, due, &due), 1);
    struct lg_transcode *ran[4];
    CHECK_INT(lg_transcode_batch_run(tb, ran, 4), 1);
    CHECK(ran[0] == lone);
    CHECK_INT(lg_transcode_generate(lone), 1);
    CHECK(lg_transcode_frames(lone) > 0);
    /* Both queued: due at once, whatever the deadlines. */
    CHECK_INT(lg_transcode_submit(lone, INT64_MAX - 1), 1);
    CHECK_INT(lg_transcode_submit(other, INT64_MAX - 1), 1);
    CHECK_INT(lg_transcode_batch_due(tb, now, &due), 1);
    CHECK_INT(lg_transcode_batch_run(tb, ran, 4), 2);
    lg_transcode_free(lone);
    lg_transcode_free(other);
    lg_transcode_batch_free(tb);
}

/* A run that fails on the GPU ends its batch's jobs with -EIO; a job that
 * starts afterwards runs on a CPU batch to its end. */
LG_TEST(failed_batch_ends_jobs)
{
    struct lg_jobs_opts jo = {
        .workers = 2, .burst_s = 0, .ahead_s = 1, .backend = LG_DSP_CUDA | LG_DSP_BATCH_EMULATE
    };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    struct lg_job_reader *x = NULL, *y = NULL;
    bool shared;
    unsigned char buf[4096];
    CHECK_INT(lg_jobs_attach(s, "x", src, &opus, no_wake, NULL, &x, &shared, NULL, 0), 0);
    CHECK(lg_job_read(x, buf, sizeof(buf), lg_prof_now_ns(), NULL, NULL) > 0);
    for (int i = 0; i < 2000 && made_of(x) < 1.0; i++)
        sleep_ms(1);
    lg_jobs_fail_dsp(s);
    ssize_t k = 0;
    for (int i = 0; i < 5000; i++) {
        k = lg_job_read(x, buf, sizeof(buf), lg_prof_now_ns(), NULL, NULL);
        if (k < 0)
            break;
        if (k == 0)
            sleep_ms(1);
    }
    CHECK_INT(k, -EIO);
    CHECK(made_of(x) < 5.9);
    char backend[16];
    lg_prof_dsp_get(backend, sizeof(backend), NULL, 0);
    CHECK_STR(backend, "cpu");
    CHECK_INT(lg_jobs_attach(s, "y", src, &opus, no_wake, NULL, &y, &shared, NULL, 0), 0);
    unsigned char *b;
    size_t n = read_all(y, &b, lg_prof_now_ns() - 60 * 1000000000LL);
    float *v;
    CHECK(decode_bytes(b, n, "after.opus", &v) == (size_t)llround(SRC_FRAMES * 48000.0 / 44100));
    free(v);
    free(b);
    lg_job_detach(x);
    lg_job_detach(y);
    lg_jobs_free(s);
}

/* Shutdown while chunks are in the batch or being made: every reader is
 * answered, detach and free return at once. */
LG_TEST(shutdown_with_chunks_in_dsp)
{
    enum { J = 8 };
    struct lg_jobs_opts jo = { .workers = 2, .backend = LG_DSP_CUDA | LG_DSP_BATCH_EMULATE };
    struct lg_jobs *s = NULL;
    CHECK_INT(lg_jobs_new(&jo, &s), 0);
    struct lg_job_reader *r[J];
    bool shared;
    for (int i = 0; i < J; i++) {
        char key[16];
        snprintf(key, sizeof(key), "stop%d", i);
        CHECK_INT(lg_jobs_attach(s, key, src, &flac24, no_wake, NULL, &r[i], &shared, NULL, 0), 0);
    }
    sleep_ms(20);
    int64_t t0 = lg_prof_now_ns();
    lg_jobs_cancel(s);
    unsigned char buf[1 << 16];
    for (int i = 0; i < J; i++) {
        ssize_t k;
        while ((k = lg_job_read(r[i], buf, sizeof(buf), lg_prof_now_ns(), NULL, NULL)) > 0)
            ;
        CHECK(k == -ECANCELED || k == LG_JOB_EOF);
        lg_job_detach(r[i]);
    }
    lg_jobs_free(s);
    double took = (double)(lg_prof_now_ns() - t0) / 1e9;
    if (took > 2)
        fprintf(stderr, "shutdown took %.2f s\n", took);
    CHECK(took < 2);
}

/* The dsp_backend key's values are enum lg_dsp_backend's; a cuda backend
 * without a usable GPU refuses to start the scheduler. */
/* The dsp_backend value given as a flag: 0 and the backend, or the error
 * with its message in err. */
static int backend_key(const char *value, int *out, char *err, size_t cap)
{
    struct lg_config c;
    lg_config_init(&c);
    char flag[32];
    snprintf(flag, sizeof(flag), "--dsp-backend=%s", value);
    char *argv[] = { flag };
    int at = 0;
    CHECK_INT(lg_config_take_flag(&c, 1, argv, &at, err, cap), 1);
    int rc = lg_config_finish(&c, err, cap);
    *out = c.dsp_backend;
    lg_config_free(&c);
    return rc;
}

/* The dsp_backend key's values are enum lg_dsp_backend's (auto unless
 * set); a cuda backend without a usable GPU refuses to start the
 * scheduler. */
LG_TEST(backend_key_and_cuda)
{
    setenv("XDG_CONFIG_HOME", tmp, 1);
    unsetenv("LEGATO_DSP_BACKEND");
    char err[256] = "";
    int backend = -1;
    static const char *const names[] = { "cpu", "cuda", "auto" };
    for (size_t i = 0; i < LG_ARRAY_LEN(names); i++) {
        CHECK_INT(backend_key(names[i], &backend, err, sizeof(err)), 0);
        CHECK_INT(backend, lg_dsp_backend_parse(names[i]));
    }
    CHECK_INT(backend_key("gpu", &backend, err, sizeof(err)), LG_EINVAL);
    CHECK(strstr(err, "dsp_backend must be cpu, cuda or auto, not 'gpu'") != NULL);
    struct lg_config d;
    lg_config_init(&d);
    CHECK_INT(lg_config_finish(&d, err, sizeof(err)), 0);
    CHECK_INT(d.dsp_backend, LG_DSP_AUTO);
    lg_config_free(&d);
    if (!lg_dsp_cuda_status(NULL, 0)) {
        struct lg_jobs_opts jo = { .workers = 1, .backend = LG_DSP_CUDA };
        struct lg_jobs *s = NULL;
        CHECK_INT(lg_jobs_new(&jo, &s), -ENODEV);
    }
}

LG_TEST(teardown)
{
    free(src);
    free(tmp);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(readers_share_a_job), LG_CASE(buffers_bounded),
             LG_CASE(earliest_deadline_first), LG_CASE(ahead_waits), LG_CASE(wake_after_suspend),
             LG_CASE(diagnosis), LG_CASE(cpu_batch_same_as_alone), LG_CASE(many_jobs_one_batch),
             LG_CASE(job_due_not_held_back), LG_CASE(batch_runs_by_deadline),
             LG_CASE(failed_batch_ends_jobs), LG_CASE(shutdown_with_chunks_in_dsp),
             LG_CASE(backend_key_and_cuda), LG_CASE(teardown))
