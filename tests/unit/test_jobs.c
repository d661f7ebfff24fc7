/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the transcode jobs and their scheduler (stream/jobs.c): two
 * readers of one key share a job and read the same bytes; the worker runs
 * the job with the earliest deadline first; a job far enough ahead of its
 * listener waits; the last reader leaving stops the job.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* One worker, two jobs: the one whose listener started a minute ago is due
 * first and runs to its end before the other makes more than its start. */
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
    if (made_late > 1.0)
        fprintf(stderr, "late job made %.2f s while the early one finished\n", made_late);
    CHECK(made_late <= 1.0);
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

LG_TEST(teardown)
{
    free(src);
    free(tmp);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(readers_share_a_job), LG_CASE(earliest_deadline_first),
             LG_CASE(ahead_waits), LG_CASE(wake_after_suspend), LG_CASE(diagnosis),
             LG_CASE(teardown))
