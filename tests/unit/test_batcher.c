/* SPDX-License-Identifier: MIT */
/*
 * Tests of the streaming batcher (src/dsp/batch.c): many jobs of different
 * rates, channel counts, gains and limiters, fed in random block sizes,
 * must give exactly what the CPU objects (lg_resampler, lg_gain,
 * lg_limiter) give per job, with exact lengths after flush; on the CPU
 * backend, on the CUDA path run on the host (LG_DSP_BATCH_EMULATE: the
 * same steps, state blocks, device tables and copies as on a GPU) and
 * on the auto backend switching sides between runs. Also slots added and
 * removed while others run, the flush policy on a synthetic clock, the
 * auto cost model's choices on injected costs, stats and errors.
 *
 * With the argument "cuda" it runs the CUDA batcher against the CPU instead
 * and exits 77 (skipped) where no GPU is usable.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"

#include "harness.h"

/* ---- a reference: the CPU objects of one job, as transcode.c runs them ---- */

struct ref {
    struct lg_dsp_job_params p;
    struct lg_resampler *rs;
    struct lg_gain *g;
    struct lg_limiter *lim;
    int64_t skip;
    float *out;
    size_t len, cap; /* frames */
    size_t fed;      /* input frames */
};

static void ref_init(struct ref *r, const struct lg_dsp_job_params *p, int simd)
{
    memset(r, 0, sizeof(*r));
    r->p = *p;
    if (p->in_rate != p->out_rate) {
        r->rs = lg_resampler_new(p->in_rate, p->out_rate, p->channels);
        lg_resampler_set_simd(r->rs, simd);
    }
    if (p->gain_db != 0) {
        r->g = lg_gain_new(p->out_rate, p->channels, p->gain_ramp_ms);
        lg_gain_set_db(r->g, p->gain_db);
    }
    if (p->limit) {
        r->lim = lg_limiter_new(p->out_rate, p->channels, p->ceiling_dbtp, p->lookahead_ms,
                                p->release_ms);
        r->skip = lg_limiter_latency_frames(r->lim);
    }
}

static void ref_free(struct ref *r)
{
    lg_resampler_free(r->rs);
    lg_gain_free(r->g);
    lg_limiter_free(r->lim);
    free(r->out);
}

static void ref_set_gain(struct ref *r, double db)
{
    if (!r->g)
        r->g = lg_gain_new(r->p.out_rate, r->p.channels, r->p.gain_ramp_ms);
    lg_gain_set_db(r->g, db);
}

static float *ref_room(struct ref *r, size_t n)
{
    size_t ch = (size_t)r->p.channels;
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->out = realloc(r->out, r->cap * ch * sizeof(float));
    }
    return r->out + r->len * ch;
}

/* Appends n limiter output frames at buf, minus the look-ahead still to cut. */
static void ref_keep(struct ref *r, float *buf, size_t n)
{
    size_t ch = (size_t)r->p.channels;
    size_t drop = r->skip < (int64_t)n ? (size_t)r->skip : n;
    r->skip -= (int64_t)drop;
    if (drop && n > drop)
        memmove(buf, buf + drop * ch, (n - drop) * ch * sizeof(float));
    r->len += n - drop;
}

static void ref_block(struct ref *r, const float *in, size_t n, int flush)
{
    size_t ch = (size_t)r->p.channels, m = n;
    if (r->rs)
        m = lg_resampler_out_max(r->rs, n) + 64 + (flush ? 100000 : 0);
    float *tmp = malloc((m + 1) * ch * sizeof(float));
    size_t k = n;
    if (r->rs) {
        k = lg_resampler_process(r->rs, in, n, tmp, lg_resampler_out_max(r->rs, n));
        if (flush)
            k += lg_resampler_flush(r->rs, tmp + k * ch, lg_resampler_flush_max(r->rs));
    } else if (n) {
        memcpy(tmp, in, n * ch * sizeof(float));
    }
    if (r->g)
        lg_gain_process(r->g, tmp, k);
    r->fed += n;
    if (!r->lim) {
        float *dst = ref_room(r, k);
        if (k)
            memcpy(dst, tmp, k * ch * sizeof(float));
        r->len += k;
        free(tmp);
        return;
    }
    float *dst = ref_room(r, k);
    lg_limiter_process(r->lim, tmp, dst, k);
    ref_keep(r, dst, k);
    if (flush) {
        size_t d = (size_t)lg_limiter_latency_frames(r->lim);
        dst = ref_room(r, d);
        lg_limiter_flush(r->lim, dst);
        ref_keep(r, dst, d);
    }
    free(tmp);
}

/* ---- signals and job mixes ---- */

static uint32_t rng(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Noise and sines with loud bursts (over 0 dBFS), so that limiters act. */
static void signal(float *x, size_t n, int ch, size_t at, uint32_t *s)
{
    for (size_t i = 0; i < n; i++) {
        size_t t = at + i;
        double loud = (t / 1500) % 4 == 1 ? 1.6 : 0.25;
        for (int c = 0; c < ch; c++) {
            double v =
                sin(0.031 * (double)t * (c + 1)) * 0.7 + ((double)rng(s) / 16777216.0 - 0.5) * 0.6;
            x[i * (size_t)ch + (size_t)c] = (float)(v * loud);
        }
    }
}

static const int rate_pairs[][2] = {
    { 44100, 48000 }, { 48000, 44100 }, { 22050, 48000 },  { 96000, 48000 }, { 48000, 48000 },
    { 8000, 48000 },  { 44100, 47999 }, { 192000, 44100 }, { 32000, 48000 }, { 48000, 16000 },
};
#define N_PAIRS (sizeof(rate_pairs) / sizeof(rate_pairs[0]))

static struct lg_dsp_job_params job_params(int i)
{
    static const int chans[] = { 2, 1, 2, 6, 2, 8, 1, 3 };
    struct lg_dsp_job_params p = { 0 };
    p.in_rate = rate_pairs[i % N_PAIRS][0];
    p.out_rate = rate_pairs[i % N_PAIRS][1];
    p.channels = chans[i % 8];
    p.gain_db = (i % 3 == 0) ? 0 : (i % 3 == 1 ? -4.5 : 7.0);
    p.gain_ramp_ms = (i % 4 == 0) ? 0 : 12.5;
    p.limit = i % 5 != 2;
    p.ceiling_dbtp = -1.0;
    p.lookahead_ms = p.out_rate < 30000 ? 10.0 : 5.0;
    p.release_ms = 150.0;
    return p;
}

/* ---- a driver: jobs fed in random blocks through a batcher and a reference ---- */

struct drive {
    struct lg_dsp_batcher *b;
    int n;
    int ids[64];
    struct ref ref[64];
    float *got[64];
    size_t got_len[64];
    uint32_t seed[64];
    size_t at[64];
    int simd;
};

static void drive_add(struct drive *d, int k, const struct lg_dsp_job_params *p)
{
    d->ids[k] = lg_dsp_batcher_add(d->b, p);
    CHECK(d->ids[k] >= 0);
    ref_init(&d->ref[k], p, d->simd);
    d->got[k] = NULL;
    d->got_len[k] = 0;
    d->seed[k] = (uint32_t)k * 7919u + 1;
    d->at[k] = 0;
}

static void drive_take(struct drive *d, int k)
{
    size_t ch = (size_t)d->ref[k].p.channels, n = lg_dsp_batcher_available(d->b, d->ids[k]);
    d->got[k] = realloc(d->got[k], (d->got_len[k] + n + 1) * ch * sizeof(float));
    size_t t = lg_dsp_batcher_take(d->b, d->ids[k], d->got[k] + d->got_len[k] * ch, n);
    CHECK_INT(t, n);
    d->got_len[k] += t;
}

/* Compares job k's output with its reference: bit for bit, or (tol > 0)
 * within tol; returns 1 when equal. */
static int drive_same(struct drive *d, int k, double tol)
{
    struct ref *r = &d->ref[k];
    size_t ch = (size_t)r->p.channels;
    if (d->got_len[k] != r->len) {
        fprintf(stderr, "  job %d (%d -> %d Hz, %zu ch): %zu frames, expected %zu\n", k,
                r->p.in_rate, r->p.out_rate, ch, d->got_len[k], r->len);
        return 0;
    }
    if (tol <= 0)
        return r->len == 0 || memcmp(d->got[k], r->out, r->len * ch * sizeof(float)) == 0;
    double worst = 0;
    for (size_t i = 0; i < r->len * ch; i++)
        worst = fmax(worst, fabs((double)d->got[k][i] - r->out[i]));
    if (worst > tol)
        fprintf(stderr, "  job %d: differs by %g\n", k, worst);
    return worst <= tol;
}

/* One run: every job in mask submits a random block (gain changes now and
 * then), the batch runs, outputs are taken. */
static void drive_step(struct drive *d, uint32_t *s, int max_block, uint64_t mask)
{
    float *x = malloc((size_t)max_block * LG_DSP_BATCH_MAX_CHANNELS * sizeof(float));
    for (int k = 0; k < d->n; k++) {
        if (!(mask >> k & 1) || d->ids[k] < 0)
            continue;
        size_t n = rng(s) % (uint32_t)(max_block + 1);
        int ch = d->ref[k].p.channels;
        signal(x, n, ch, d->at[k], &d->seed[k]);
        d->at[k] += n;
        if (rng(s) % 7 == 0) {
            double db = (double)(rng(s) % 19) - 9.0;
            CHECK_INT(lg_dsp_batcher_set_gain(d->b, d->ids[k], db), 0);
            ref_set_gain(&d->ref[k], db);
        }
        CHECK_INT(lg_dsp_batcher_submit(d->b, d->ids[k], x, n, INT64_MAX), 0);
        ref_block(&d->ref[k], x, n, 0);
    }
    free(x);
    CHECK(lg_dsp_batcher_run(d->b, 0) >= 0);
    for (int k = 0; k < d->n; k++)
        if (d->ids[k] >= 0)
            drive_take(d, k);
}

static void drive_flush(struct drive *d, int k)
{
    CHECK_INT(lg_dsp_batcher_flush(d->b, d->ids[k]), 0);
    ref_block(&d->ref[k], NULL, 0, 1);
}

static void drive_free(struct drive *d)
{
    for (int k = 0; k < d->n; k++) {
        ref_free(&d->ref[k]);
        free(d->got[k]);
    }
    lg_dsp_batcher_free(d->b);
}

static uint64_t expected_len(const struct lg_dsp_job_params *p, uint64_t n)
{
    return (2 * n * (uint64_t)p->out_rate + (uint64_t)p->in_rate) / (2 * (uint64_t)p->in_rate);
}

/* n_jobs jobs through backend for runs runs, then flushed; all compared. */
static void run_mix(int backend, int n_jobs, int runs, int max_block, int simd)
{
    struct drive *d = calloc(1, sizeof(*d));
    d->b = lg_dsp_batcher_new(backend, n_jobs, max_block);
    CHECK(d->b != NULL);
    if (!d->b) {
        free(d);
        return;
    }
    d->n = n_jobs;
    d->simd = simd;
    for (int k = 0; k < n_jobs; k++) {
        struct lg_dsp_job_params p = job_params(k);
        drive_add(d, k, &p);
    }
    uint32_t s = 12345;
    for (int i = 0; i < runs; i++)
        drive_step(d, &s, max_block, ~0ull);
    for (int k = 0; k < n_jobs; k++)
        drive_flush(d, k);
    CHECK(lg_dsp_batcher_run(d->b, 0) == n_jobs);
    int same = 0;
    for (int k = 0; k < n_jobs; k++) {
        drive_take(d, k);
        same += drive_same(d, k, 0);
        CHECK_INT(d->got_len[k], expected_len(&d->ref[k].p, d->ref[k].fed));
        CHECK(lg_dsp_batcher_done(d->b, d->ids[k]));
    }
    CHECK_INT(same, n_jobs);
    drive_free(d);
    free(d);
}

LG_TEST(test_one_job_cpu)
{
    run_mix(LG_DSP_CPU, 1, 40, 4096, 1);
}

LG_TEST(test_many_jobs_cpu)
{
    run_mix(LG_DSP_CPU, 50, 8, 600, 1);
}

/* The CUDA path's steps on the host against the portable resampler kernel:
 * the same floats in the same order, so bit for bit. */
LG_TEST(test_many_jobs_emulated_cuda)
{
    run_mix(LG_DSP_CUDA | LG_DSP_BATCH_EMULATE, 50, 8, 600, 0);
    run_mix(LG_DSP_CUDA | LG_DSP_BATCH_EMULATE, 1, 20, 3000, 0);
}

/* Auto switching sides every few runs: the state blocks move with it. */
LG_TEST(test_auto_switches_sides)
{
    int n_jobs = 20;
    struct drive *d = calloc(1, sizeof(*d));
    d->b = lg_dsp_batcher_new(LG_DSP_AUTO | LG_DSP_BATCH_EMULATE, n_jobs, 512);
    CHECK(d->b != NULL);
    d->n = n_jobs;
    for (int k = 0; k < n_jobs; k++) {
        struct lg_dsp_job_params p = job_params(k * 3 + 1);
        drive_add(d, k, &p);
    }
    struct lg_dsp_cost *m = lg_dsp_batcher_cost(d->b);
    CHECK(m != NULL);
    uint32_t s = 99;
    int sides[2] = { 0, 0 }, last = -1, switches = 0;
    for (int i = 0; i < 16; i++) {
        /* Injected costs: the side that ran last looks slow, so the model
         * moves to the other one each time. */
        for (uint64_t size = 1; size < (1ull << 30); size *= 2) {
            for (int rep = 0; rep < 30; rep++) {
                lg_dsp_cost_observe(m, LG_DSP_CPU, size, i % 2 ? 1 : 1000000000);
                lg_dsp_cost_observe(m, LG_DSP_CUDA, size, i % 2 ? 1000000000 : 1);
            }
        }
        drive_step(d, &s, 512, ~0ull);
        struct lg_dsp_batcher_stats st;
        lg_dsp_batcher_stats(d->b, &st);
        sides[st.backend == LG_DSP_CUDA]++;
        switches += last >= 0 && last != st.backend;
        last = st.backend;
        CHECK(st.backend == (i % 2 ? LG_DSP_CPU : LG_DSP_CUDA));
    }
    CHECK(sides[0] >= 6 && sides[1] >= 6);
    CHECK(switches >= 10);
    for (int k = 0; k < n_jobs; k++)
        drive_flush(d, k);
    CHECK(lg_dsp_batcher_run(d->b, 0) == n_jobs);
    int same = 0;
    for (int k = 0; k < n_jobs; k++) {
        drive_take(d, k);
        same += drive_same(d, k, 0);
    }
    CHECK_INT(same, n_jobs);
    drive_free(d);
    free(d);
}

/* Jobs come and go while others run; the others are not disturbed and new
 * jobs take the freed slots. */
static void churn(int backend, int simd)
{
    struct drive *d = calloc(1, sizeof(*d));
    d->b = lg_dsp_batcher_new(backend, 12, 600);
    d->n = 16;
    d->simd = simd;
    for (int k = 0; k < 16; k++)
        d->ids[k] = -1;
    for (int k = 0; k < 12; k++) {
        struct lg_dsp_job_params p = job_params(k);
        drive_add(d, k, &p);
    }
    struct lg_dsp_job_params p = job_params(0);
    CHECK_INT(lg_dsp_batcher_add(d->b, &p), -ENOSPC);
    uint32_t s = 7;
    int removed[4] = { 2, 5, 9, 11 };
    for (int i = 0; i < 14; i++) {
        if (i == 4) {
            for (int r = 0; r < 4; r++) {
                /* Pending input too: dropped with the job. */
                float x[8] = { 0 };
                CHECK_INT(lg_dsp_batcher_submit(d->b, d->ids[removed[r]], x, 1, 0), 0);
                lg_dsp_batcher_remove(d->b, d->ids[removed[r]]);
                CHECK_INT(lg_dsp_batcher_available(d->b, d->ids[removed[r]]), 0);
                d->ids[removed[r]] = -1;
            }
        }
        if (i == 7) {
            for (int k = 12; k < 16; k++) {
                struct lg_dsp_job_params q = job_params(k * 5 + 3);
                drive_add(d, k, &q);
                CHECK(d->ids[k] == 2 || d->ids[k] == 5 || d->ids[k] == 9 || d->ids[k] == 11);
            }
        }
        /* Not every job submits every run. */
        drive_step(d, &s, 600, i % 3 == 2 ? 0x5555ull : ~0ull);
    }
    int same = 0, live = 0;
    for (int k = 0; k < 16; k++) {
        if (d->ids[k] < 0)
            continue;
        live++;
        drive_flush(d, k);
    }
    CHECK_INT(lg_dsp_batcher_run(d->b, 0), live);
    for (int k = 0; k < 16; k++) {
        if (d->ids[k] < 0)
            continue;
        drive_take(d, k);
        same += drive_same(d, k, 0);
        CHECK_INT(d->got_len[k], expected_len(&d->ref[k].p, d->ref[k].fed));
    }
    CHECK_INT(same, live);
    drive_free(d);
    free(d);
}

LG_TEST(test_add_remove_while_running)
{
    churn(LG_DSP_CPU, 1);
    churn(LG_DSP_CUDA | LG_DSP_BATCH_EMULATE, 0);
}

/* ---- the flush policy on a synthetic clock ---- */

LG_TEST(test_flush_policy)
{
    struct lg_dsp_batcher *b = lg_dsp_batcher_new(LG_DSP_CPU, 8, 1024);
    struct lg_dsp_job_params p = job_params(4); /* 48 -> 48 kHz stereo, no resampling */
    int id[3];
    for (int i = 0; i < 3; i++)
        id[i] = lg_dsp_batcher_add(b, &p);
    float x[2048] = { 0 };
    const int64_t ms = 1000000;
    CHECK_INT(lg_dsp_batcher_should_run(b, 0), 0); /* nothing pending */
    CHECK(lg_dsp_batcher_due_ns(b) == INT64_MAX);
    /* Costs measured: 10 ms for 2048 samples. */
    lg_dsp_cost_observe(lg_dsp_batcher_cost(b), LG_DSP_CPU, 2048, 10 * ms);
    lg_dsp_batcher_set_slack(b, 2 * ms);
    CHECK_INT(lg_dsp_batcher_submit(b, id[0], x, 1024, 1000 * ms), 0);
    CHECK_INT(lg_dsp_batcher_submit(b, id[1], x, 1024, 800 * ms), 0);
    /* Due at 800 ms - 1.25 x 20 ms (4096 samples at 10 ms per 2048) - 2 ms. */
    int64_t due = lg_dsp_batcher_due_ns(b);
    CHECK(llabs(due - 773 * ms) < ms / 1000);
    CHECK_INT(lg_dsp_batcher_should_run(b, 500 * ms), 0);
    CHECK_INT(lg_dsp_batcher_should_run(b, 772 * ms), 0);
    CHECK_INT(lg_dsp_batcher_should_run(b, 774 * ms), 1);
    /* The third job submits: the batch is full, run at once. */
    CHECK_INT(lg_dsp_batcher_submit(b, id[2], x, 10, 5000 * ms), 0);
    CHECK_INT(lg_dsp_batcher_should_run(b, 0), 1);
    CHECK(lg_dsp_batcher_due_ns(b) == INT64_MIN);
    CHECK_INT(lg_dsp_batcher_run(b, 780 * ms), 3);
    CHECK_INT(lg_dsp_batcher_should_run(b, 10000 * ms), 0);
    /* A removed job's deadline no longer counts. */
    CHECK_INT(lg_dsp_batcher_submit(b, id[0], x, 100, 300 * ms), 0);
    CHECK_INT(lg_dsp_batcher_submit(b, id[1], x, 100, 900 * ms), 0);
    lg_dsp_batcher_remove(b, id[0]);
    due = lg_dsp_batcher_due_ns(b);
    CHECK(due > 850 * ms && due < 900 * ms);
    /* A flush without input is due at once. */
    CHECK_INT(lg_dsp_batcher_flush(b, id[2]), 0);
    CHECK(lg_dsp_batcher_due_ns(b) == INT64_MIN);
    CHECK_INT(lg_dsp_batcher_run(b, 0), 2);
    CHECK_INT(lg_dsp_batcher_submit(b, id[2], x, 1, 0), -EINVAL);
    lg_dsp_batcher_free(b);
}

/* With no measurement yet, the policy assumes a conservative cost. */
LG_TEST(test_flush_policy_prior)
{
    struct lg_dsp_batcher *b = lg_dsp_batcher_new(LG_DSP_CPU, 4, 100000);
    struct lg_dsp_job_params p = job_params(4);
    int a = lg_dsp_batcher_add(b, &p);
    lg_dsp_batcher_add(b, &p);
    static float x[200000];
    lg_dsp_batcher_set_slack(b, 0);
    CHECK_INT(lg_dsp_batcher_submit(b, a, x, 100000, 1000000000), 0);
    /* 200000 samples at 200 ns each, times 1.25: 50 ms before. */
    CHECK(llabs(lg_dsp_batcher_due_ns(b) - 950000000) < 1000);
    lg_dsp_batcher_free(b);
}

/* ---- the auto cost model ---- */

static int64_t fake_cpu(uint64_t size)
{
    return (int64_t)(100 * size); /* 100 ns a sample */
}

static int64_t fake_cuda(uint64_t size)
{
    return 1000000 + (int64_t)(2 * size); /* 1 ms a run + 2 ns a sample */
}

LG_TEST(test_cost_model)
{
    struct lg_dsp_cost *m = lg_dsp_cost_new(10);
    int64_t ns;
    char why[192];
    CHECK_INT(lg_dsp_cost_predict(m, LG_DSP_CPU, 1000, &ns), -ENOENT);
    /* Nothing known: the guesses decide (0.2 ms on the CPU against 2 ms on
     * CUDA for 1000 samples; the other way round for a million). */
    CHECK_INT(lg_dsp_cost_choose(m, 1000, INT64_MAX, why, sizeof(why)), LG_DSP_CPU);
    CHECK(strstr(why, "cpu: no measurement yet, guessing 0.20 ms") == why);
    CHECK_INT(lg_dsp_cost_choose(m, 1000000, INT64_MAX, why, sizeof(why)), LG_DSP_CUDA);
    /* One side known: the other is tried, if its guess fits the budget. */
    lg_dsp_cost_observe(m, LG_DSP_CPU, 1000, fake_cpu(1000));
    CHECK_INT(lg_dsp_cost_choose(m, 1000, 1000000, why, sizeof(why)), LG_DSP_CPU);
    CHECK(strstr(why, "no time to explore cuda") != NULL);
    CHECK_INT(lg_dsp_cost_choose(m, 1000, INT64_MAX, why, sizeof(why)), LG_DSP_CUDA);
    CHECK(strstr(why, "cuda: exploring, no measurement yet") == why);
    lg_dsp_cost_observe(m, LG_DSP_CUDA, 1000, fake_cuda(1000));
    /* The fake table, every power of two from 2^6 to 2^22 samples. */
    for (uint64_t size = 64; size <= (1u << 22); size *= 2) {
        lg_dsp_cost_observe(m, LG_DSP_CPU, size, fake_cpu(size));
        lg_dsp_cost_observe(m, LG_DSP_CUDA, size, fake_cuda(size));
    }
    /* Break-even near 10,000 samples: CPU below, CUDA above. */
    CHECK_INT(lg_dsp_cost_choose(m, 512, INT64_MAX, why, sizeof(why)), LG_DSP_CPU);
    CHECK(strstr(why, "cpu: ") == why && strstr(why, "cuda") != NULL);
    CHECK_INT(lg_dsp_cost_choose(m, 2048000, INT64_MAX, why, sizeof(why)), LG_DSP_CUDA);
    CHECK(strstr(why, "cuda: ") == why);
    /* Predictions between measured sizes interpolate; above, they scale. */
    CHECK_INT(lg_dsp_cost_predict(m, LG_DSP_CPU, 3000, &ns), 0);
    CHECK(llabs(ns - fake_cpu(3000)) < fake_cpu(3000) / 100);
    CHECK_INT(lg_dsp_cost_predict(m, LG_DSP_CPU, 1ull << 26, &ns), 0);
    CHECK(llabs(ns - fake_cpu(1ull << 26)) < fake_cpu(1ull << 26) / 100);
    CHECK_INT(lg_dsp_cost_predict(m, LG_DSP_CUDA, 1ull << 26, &ns), 0);
    CHECK(ns >= fake_cuda(1ull << 26) && ns <= 16 * fake_cuda(1ull << 22) + 1);
    /* Exploration: the loser (the CPU at 2^20 samples, 100 ms against 3
     * ms: 34 times slower) is retried after 10 x 34 decisions, not before,
     * and only when the budget allows its predicted cost. */
    uint64_t size = 1u << 20;
    int explored_at = -1;
    for (int i = 1; i <= 400; i++) {
        int be = lg_dsp_cost_choose(m, size, INT64_MAX, why, sizeof(why));
        lg_dsp_cost_observe(m, be, size, be == LG_DSP_CPU ? fake_cpu(size) : fake_cuda(size));
        if (be == LG_DSP_CPU) {
            CHECK(strstr(why, "cpu: exploring") == why);
            explored_at = explored_at < 0 ? i : explored_at;
        }
    }
    CHECK(explored_at >= 300 && explored_at <= 360);
    for (int i = 0; i < 1000; i++)
        CHECK_INT(lg_dsp_cost_choose(m, size, 50000000, NULL, 0), LG_DSP_CUDA);
    /* A slower CUDA (say the GPU got busy) turns the choice. */
    for (int i = 0; i < 20; i++)
        lg_dsp_cost_observe(m, LG_DSP_CUDA, size, 10 * fake_cpu(size));
    CHECK_INT(lg_dsp_cost_choose(m, size, INT64_MAX, why, sizeof(why)), LG_DSP_CPU);
    lg_dsp_cost_free(m);
}

/* Without a GPU (here), auto is the CPU and says why; CUDA is refused. */
LG_TEST(test_auto_without_gpu)
{
    char why[192], st[160];
    if (lg_dsp_cuda_status(st, sizeof(st))) {
        printf("# a GPU is usable here (%s): skipped\n", st);
        return;
    }
    CHECK(lg_dsp_batcher_new(LG_DSP_CUDA, 4, 256) == NULL);
    struct lg_dsp_batcher *b = lg_dsp_batcher_new(LG_DSP_AUTO, 4, 256);
    CHECK(b != NULL);
    CHECK_INT(lg_dsp_batcher_choice(b, why, sizeof(why)), LG_DSP_CPU);
    CHECK(strstr(why, "cpu: no usable GPU (") == why);
    CHECK(strstr(why, st) != NULL);
    struct lg_dsp_job_params p = job_params(0);
    int id = lg_dsp_batcher_add(b, &p);
    float x[512] = { 0 };
    CHECK_INT(lg_dsp_batcher_submit(b, id, x, 256, 0), 0);
    CHECK_INT(lg_dsp_batcher_run(b, 0), 1);
    struct lg_dsp_batcher_stats s;
    lg_dsp_batcher_stats(b, &s);
    CHECK_INT(s.backend, LG_DSP_CPU);
    lg_dsp_batcher_free(b);
}

/* ---- stats, lateness, errors ---- */

static void count_run(const struct lg_dsp_batcher_stats *s, void *ctx)
{
    struct lg_dsp_batcher_stats *last = ctx;
    *last = *s;
}

LG_TEST(test_stats_and_errors)
{
    struct lg_dsp_batcher *b = lg_dsp_batcher_new(LG_DSP_CUDA | LG_DSP_BATCH_EMULATE, 4, 256);
    struct lg_dsp_batcher_stats seen = { 0 }, st;
    lg_dsp_batcher_on_run(b, count_run, &seen);
    struct lg_dsp_job_params p = job_params(0); /* 44.1 -> 48 kHz stereo */
    int a = lg_dsp_batcher_add(b, &p), c = lg_dsp_batcher_add(b, &p);
    float x[1024] = { 0 };
    CHECK_INT(lg_dsp_batcher_submit(b, a, x, 200, 1000), 0);
    CHECK_INT(lg_dsp_batcher_submit(b, a, x, 57, 5000), -E2BIG);
    CHECK_INT(lg_dsp_batcher_submit(b, a, x, 56, 5000), 0);
    CHECK_INT(lg_dsp_batcher_submit(b, c, x, 100, INT64_MAX), 0);
    CHECK_INT(lg_dsp_batcher_submit(b, 3, x, 1, 0), -EINVAL);
    CHECK_INT(lg_dsp_batcher_submit(b, -1, x, 1, 0), -EINVAL);
    /* Run at 2000 ns: job a's deadline (1000) has passed. */
    CHECK_INT(lg_dsp_batcher_run(b, 2000), 2);
    lg_dsp_batcher_stats(b, &st);
    CHECK(memcmp(&st, &seen, sizeof(st)) == 0);
    CHECK_INT(st.jobs, 2);
    CHECK_INT(st.frames_in, 356);
    CHECK_INT(st.size, 712);
    CHECK_INT(st.late_jobs, 1);
    CHECK_INT(st.runs, 1);
    CHECK_INT(st.backend, LG_DSP_CUDA);
    CHECK_INT(st.emulated, 1);
    CHECK(st.wall_ms >= 0 && st.cpu_ms >= 0);
    CHECK_INT(st.frames_out, lg_dsp_batcher_available(b, a) + lg_dsp_batcher_available(b, c));
    CHECK_INT(lg_dsp_batcher_run(b, 0), 0); /* nothing pending: no run */
    lg_dsp_batcher_stats(b, &st);
    CHECK_INT(st.runs, 1);
    struct lg_dsp_job_params bad = p;
    bad.channels = 9;
    CHECK_INT(lg_dsp_batcher_add(b, &bad), -EINVAL);
    bad = p;
    bad.lookahead_ms = 1.0; /* under 136 frames */
    CHECK_INT(lg_dsp_batcher_add(b, &bad), -EINVAL);
    bad = p;
    bad.gain_db = NAN;
    CHECK_INT(lg_dsp_batcher_add(b, &bad), -EINVAL);
    CHECK_INT(lg_dsp_batcher_set_gain(b, a, 61), -EINVAL);
    CHECK(lg_dsp_batcher_new(LG_DSP_CPU, 0, 256) == NULL);
    CHECK(lg_dsp_batcher_new(7, 4, 256) == NULL);
    char why[192];
    CHECK_INT(lg_dsp_batcher_choice(b, why, sizeof(why)), LG_DSP_CUDA);
    CHECK_STR(why, "cuda: asked for");
    lg_dsp_batcher_free(b);
}

/* A job flushed before any input makes nothing; one shorter than the
 * look-ahead still comes out whole. */
LG_TEST(test_short_jobs)
{
    static const int backends[] = { LG_DSP_CPU, LG_DSP_CUDA | LG_DSP_BATCH_EMULATE };
    for (int bi = 0; bi < 2; bi++) {
        struct lg_dsp_batcher *b = lg_dsp_batcher_new(backends[bi], 4, 256);
        struct lg_dsp_job_params p = job_params(0);
        int a = lg_dsp_batcher_add(b, &p), c = lg_dsp_batcher_add(b, &p);
        float x[20] = { 0.5f, -0.5f, 0.25f, 0.1f, 0.3f, 0.2f, 0.1f, 0.0f, 0.2f, 0.4f };
        CHECK_INT(lg_dsp_batcher_submit(b, c, x, 5, 0), 0);
        CHECK_INT(lg_dsp_batcher_flush(b, a), 0);
        CHECK_INT(lg_dsp_batcher_flush(b, c), 0);
        CHECK_INT(lg_dsp_batcher_run(b, 0), 2);
        CHECK_INT(lg_dsp_batcher_available(b, a), 0);
        CHECK(lg_dsp_batcher_done(b, a));
        CHECK_INT(lg_dsp_batcher_available(b, c), expected_len(&p, 5));
        float y[64];
        CHECK_INT(lg_dsp_batcher_take(b, c, y, 64), expected_len(&p, 5));
        CHECK(lg_dsp_batcher_done(b, c));
        CHECK(fabsf(y[0]) > 0.01f);
        lg_dsp_batcher_free(b);
    }
}

/* ---- on a GPU: the CUDA batcher against the CPU ---- */

static int cuda_check(void)
{
    char why[192];
    if (!lg_dsp_cuda_status(why, sizeof(why))) {
        printf("# skipped: no usable GPU (%s)\n", why);
        return 77;
    }
    struct drive *d = calloc(1, sizeof(*d));
    d->b = lg_dsp_batcher_new(LG_DSP_CUDA, 50, 1024);
    d->n = 50;
    d->simd = 1;
    for (int k = 0; k < 50; k++) {
        struct lg_dsp_job_params p = job_params(k);
        drive_add(d, k, &p);
    }
    uint32_t s = 4242;
    for (int i = 0; i < 20; i++)
        drive_step(d, &s, 1024, ~0ull);
    for (int k = 0; k < 50; k++)
        drive_flush(d, k);
    CHECK(lg_dsp_batcher_run(d->b, 0) == 50);
    int same = 0;
    for (int k = 0; k < 50; k++) {
        drive_take(d, k);
        same += drive_same(d, k, 1e-5);
    }
    CHECK_INT(same, 50);
    struct lg_dsp_batcher_stats st;
    lg_dsp_batcher_stats(d->b, &st);
    printf("# last run: %u jobs, upload %.3f ms, kernels %.3f ms, download %.3f ms\n", st.jobs,
           st.upload_ms, st.kernels_ms, st.download_ms);
    drive_free(d);
    free(d);
    printf("%s - cuda batcher against the CPU objects\n", lg_test_failed ? "not ok" : "ok");
    return lg_test_failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct lg_test_case cases[] = {
        LG_CASE(test_one_job_cpu),
        LG_CASE(test_many_jobs_cpu),
        LG_CASE(test_many_jobs_emulated_cuda),
        LG_CASE(test_auto_switches_sides),
        LG_CASE(test_add_remove_while_running),
        LG_CASE(test_flush_policy),
        LG_CASE(test_flush_policy_prior),
        LG_CASE(test_cost_model),
        LG_CASE(test_auto_without_gpu),
        LG_CASE(test_stats_and_errors),
        LG_CASE(test_short_jobs),
    };
    if (argc > 1 && strcmp(argv[1], "cuda") == 0)
        return cuda_check();
    return lg_test_run(cases, sizeof(cases) / sizeof(cases[0]));
}
