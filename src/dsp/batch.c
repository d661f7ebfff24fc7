/* SPDX-License-Identifier: MIT */
/*
 * The streaming batcher (dsp.h, lg_dsp_batcher_*): the resampling, gain and
 * limiting of many live streams, run together, and the cost model of the
 * auto backend (lg_dsp_cost_*).
 *
 * Two paths. The CPU backend keeps the CPU objects of every job
 * (lg_resampler, lg_gain, lg_limiter) and runs them one job after the other:
 * what the transcode pipeline does per job today. The CUDA backend keeps
 * every job's state in one block (kernels_stream.h) on the device and runs a
 * whole batch as three stage kernels (cuda/stream.cu); the host tracks the
 * resampler's integer position per job exactly as resample.c does and writes
 * one step descriptor per job. The same steps run on the host (the stage
 * functions in plain loops): the CPU side of the auto backend, whose state
 * blocks move between host and device when a run changes sides, and the
 * emulated device of the tests (LG_DSP_BATCH_EMULATE), which keeps a second
 * set of blocks and tables in the device's layout and exercises everything
 * but the CUDA calls. (The host side of auto runs the portable dot products,
 * slower than the CPU backend's AVX2 resampler; the cost model measures it
 * as it is.)
 *
 * The resampler tables come from the CPU resampler's own design
 * (resample_int.h), so that both use the same floats; tests/unit/
 * test_batcher.c checks the outputs bit for bit against lg_resampler.
 *
 * Integration with the transcode pipeline (wired: stream/transcode.c and
 * stream/jobs.c run every stream's process stage through a batcher):
 *  - stream/transcode.c: struct lg_transcode_batch is a batcher and the
 *    mutex that serialises every call into it (a leaf lock, held across a
 *    run). lg_transcode_open() makes no resampler, gain or limiter: it calls
 *    lg_dsp_batcher_add() on its batch with in_rate, out_rate, channels,
 *    gain_db with ramp 0 and, when limiting, -1 dBTP / 5 ms / 150 ms, and
 *    keeps the job id; lg_transcode_free() calls lg_dsp_batcher_remove().
 *    A step is two halves around a run: lg_transcode_submit() loads a chunk
 *    (at most LG_TRANSCODE_BLOCK_FRAMES = 96000 frames, the batcher's
 *    max_block_frames: 500 ms up to 192 kHz, shorter above; a decoder read
 *    that overshoots is carried to the next chunk) and calls
 *    lg_dsp_batcher_submit() with its deadline, and lg_dsp_batcher_flush()
 *    after the last one; lg_transcode_generate() calls
 *    lg_dsp_batcher_take() and encodes. The batcher cuts the look-ahead and
 *    adds the tails, so the pipeline has no delay or flush code of its own.
 *    A transcode opened without a batch (lg_transcode_file(), `legato
 *    transcode --backend`, tests) has a one-job batch of its own that
 *    lg_transcode_step() runs after each submit; `legato profile
 *    --backend` shares one one-job batch between its files.
 *  - stream/jobs.c: struct lg_jobs owns one batch, made in lg_jobs_new()
 *    on the backend of the options (the dsp_backend key of `legato serve`;
 *    max_jobs = the job limit, 4096 unless set), and one batch thread,
 *    joined in lg_jobs_free(). A worker that picked a job runs the first
 *    half, marks the job "in dsp" under sched->lock (pick() skips it) and
 *    goes back to pick(). The batch thread waits on s->cond until
 *    lg_dsp_batcher_should_run(now), timing out at lg_dsp_batcher_due_ns();
 *    it runs the batch holding only the batch's mutex (sched->batching says
 *    so), marks the jobs of the run "dsp done" under sched->lock and
 *    broadcasts. pick() takes "dsp done" jobs first (earliest deadline
 *    first) and a worker runs their second half. Workers never hold
 *    sched->lock across a run; the lock order is sched->lock, then the
 *    batch's mutex or job->lock. lg_job_detach() of a job "in dsp" waits
 *    for a run in progress, then takes the job's chunk out of the batch.
 *  - Deadlines: the deadline given to lg_dsp_batcher_submit() is the job's
 *    scheduling deadline (the moment its listeners run dry, less the
 *    burst) minus the expected time of generate for the chunk (the job's
 *    generate time per media second so far). While the job is within its
 *    burst that is in the past, so the batch runs at once; afterwards
 *    waiting for more jobs may use up what the listener has beyond the
 *    burst, never the burst itself. The flush policy starts the batch no
 *    later than that deadline minus the batch's predicted cost. Scheduler
 *    lateness is still measured at pick().
 *  - Profiler: the batch's lg_dsp_batcher_on_run() callback feeds each
 *    job's share of cpu_ms (gpu_ms on a GPU), by input samples, into
 *    lg_prof_stage("process", format, "cuda" or "cpu") and the job's busy
 *    time, with a "process" span per job in the trace; for CUDA runs it
 *    feeds lg_prof_stage("upload" / "kernels" / "download", "all",
 *    "cuda") and a span per phase on its own trace row.
 *    A shared batch's lg_dsp_batcher_choice() goes to lg_prof_dsp_set()
 *    after every run and from there into lg_prof_json (/api/profile,
 *    "dsp"); `legato profile` prints its own batch's choice. NVTX: lg_dsp_nvtx_push/pop around
 * load, process and generate in transcode.c. `legato profile --gpu-profile` calls
 *    lg_dsp_gpu_profile_start() and at the end lg_dsp_gpu_profile_stop()
 *    with a callback that calls lg_prof_trace_event(name, cat,
 *    1000000 + stream, begin, end) on a row named after the stream.
 *  - Failure: lg_dsp_batcher_run() returning -EIO (a CUDA error) fails the
 *    batch for good: jobs.c ends that batch's jobs with -EIO, logs it once
 *    and makes a CPU batch for new jobs (the failed one is freed with the
 *    scheduler).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsp/batch_int.h"
#include "dsp/dsp.h"
#include "dsp/kernels_gain.h"
#include "dsp/kernels_resample.h"
#include "dsp/kernels_stream.h"
#include "dsp/resample_int.h"

#ifndef LG_HAVE_CUDA
#define LG_HAVE_CUDA 0
#endif

#define MAX_RATE        768000
#define SMEM_MAX_FLOATS 12000 /* shared memory of a resampler block, under 48 KiB in all */
#define COST_SAFETY     1.25
#define PRIOR_CPU_NS    200.0 /* per input sample */
#define PRIOR_CUDA_NS   5.0
#define PRIOR_CUDA_RUN  2000000.0
#define EXPLORE_EVERY   50
#define COST_CLASSES    48
#define COST_ALPHA      0.25

enum { SIDE_HOST, SIDE_DEV };

static void die(const char *what)
{
    fprintf(stderr, "lg_dsp_batcher: %s\n", what);
    abort();
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the cost model ---- */

struct cost_class {
    double ns, size; /* moving averages */
    uint64_t n;      /* measurements */
    uint64_t seen;   /* the class's decision count at the last one */
};

struct lg_dsp_cost {
    int explore_every;
    struct cost_class c[2][COST_CLASSES]; /* [0] cpu, [1] cuda */
    uint64_t decisions[COST_CLASSES];
};

static int size_class(uint64_t size)
{
    int k = 0;
    while (size > 1 && k < COST_CLASSES - 1) {
        size >>= 1;
        k++;
    }
    return k;
}

struct lg_dsp_cost *lg_dsp_cost_new(int explore_every)
{
    struct lg_dsp_cost *m = calloc(1, sizeof(*m));
    if (m)
        m->explore_every = explore_every > 0 ? explore_every : EXPLORE_EVERY;
    return m;
}

void lg_dsp_cost_free(struct lg_dsp_cost *m)
{
    free(m);
}

void lg_dsp_cost_observe(struct lg_dsp_cost *m, int backend, uint64_t size, int64_t ns)
{
    if (!m || (backend != LG_DSP_CPU && backend != LG_DSP_CUDA))
        return;
    int k = size_class(size);
    struct cost_class *c = &m->c[backend == LG_DSP_CUDA][k];
    double v = ns > 0 ? (double)ns : 0;
    if (c->n == 0) {
        c->ns = v;
        c->size = (double)size;
    } else {
        c->ns += COST_ALPHA * (v - c->ns);
        c->size += COST_ALPHA * ((double)size - c->size);
    }
    c->n++;
    c->seen = m->decisions[k];
}

int lg_dsp_cost_predict(const struct lg_dsp_cost *m, int backend, uint64_t size, int64_t *out_ns)
{
    if (!m || (backend != LG_DSP_CPU && backend != LG_DSP_CUDA))
        return -EINVAL;
    const struct cost_class *c = m->c[backend == LG_DSP_CUDA];
    int k = size_class(size), lo = k, hi = k + 1;
    double s = (double)size;
    if (c[k].n) {
        /* Within a class, cost scales with size around its average. */
        *out_ns = (int64_t)(c[k].ns * (c[k].size > 0 ? s / c[k].size : 1.0));
        return 0;
    }
    while (lo >= 0 && !c[lo].n)
        lo--;
    while (hi < COST_CLASSES && !c[hi].n)
        hi++;
    if (lo < 0 && hi >= COST_CLASSES)
        return -ENOENT;
    double v;
    if (lo >= 0 && hi < COST_CLASSES) {
        double f = (s - c[lo].size) / (c[hi].size - c[lo].size);
        v = c[lo].ns + f * (c[hi].ns - c[lo].ns);
    } else if (lo >= 0) {
        v = c[lo].ns * (c[lo].size > 0 ? s / c[lo].size : 1.0); /* linear growth */
    } else {
        v = c[hi].ns; /* never predicted cheaper than a larger run */
    }
    *out_ns = (int64_t)(v > 0 ? v : 0);
    return 0;
}

static const char *bname(int backend)
{
    return backend == LG_DSP_CUDA ? "cuda" : "cpu";
}

/* A guess before any measurement, on the safe side. */
static double prior_ns(int backend, uint64_t size)
{
    return backend == LG_DSP_CUDA ? PRIOR_CUDA_RUN + PRIOR_CUDA_NS * (double)size
                                  : PRIOR_CPU_NS * (double)size;
}

int lg_dsp_cost_choose(struct lg_dsp_cost *m, uint64_t size, int64_t budget_ns, char *why,
                       size_t cap)
{
    int k = size_class(size);
    uint64_t d = ++m->decisions[k];
    int64_t p[2];
    int have[2];
    for (int i = 0; i < 2; i++)
        have[i] = lg_dsp_cost_predict(m, i ? LG_DSP_CUDA : LG_DSP_CPU, size, &p[i]) == 0;
    char tmp[2];
    if (!why || !cap) {
        why = tmp;
        cap = sizeof(tmp);
    }
    unsigned long long n = (unsigned long long)size;
    if (!have[0] && !have[1]) {
        double g0 = prior_ns(LG_DSP_CPU, size), g1 = prior_ns(LG_DSP_CUDA, size);
        int i = g1 < g0;
        snprintf(why, cap, "%s: no measurement yet, guessing %.2f ms for %llu samples (%s %.2f ms)",
                 bname(i), (i ? g1 : g0) / 1e6, n, bname(!i), (i ? g0 : g1) / 1e6);
        return i ? LG_DSP_CUDA : LG_DSP_CPU;
    }
    if (!have[0] || !have[1]) {
        /* One side never measured: try it when even its guess fits. */
        int u = !have[1], i = !u;
        if (prior_ns(u, size) <= (double)budget_ns) {
            snprintf(why, cap, "%s: exploring, no measurement yet (%llu samples)", bname(u), n);
            return u ? LG_DSP_CUDA : LG_DSP_CPU;
        }
        snprintf(why, cap, "%s: %.2f ms predicted for %llu samples; no time to explore %s",
                 bname(i), (double)p[i] / 1e6, n, bname(u));
        return i ? LG_DSP_CUDA : LG_DSP_CPU;
    }
    int best = p[1] < p[0], other = !best;
    const struct cost_class *oc = &m->c[other][k];
    double ratio = p[best] > 0 ? (double)p[other] / (double)p[best] : 1.0;
    if (ratio > 64)
        ratio = 64;
    uint64_t every = (uint64_t)ceil(m->explore_every * (ratio > 1 ? ratio : 1));
    if ((oc->n == 0 || d - oc->seen >= every) && p[other] <= budget_ns) {
        snprintf(why, cap, "%s: exploring (%.2f ms predicted vs %s %.2f ms for %llu samples)",
                 bname(other), (double)p[other] / 1e6, bname(best), (double)p[best] / 1e6, n);
        return other ? LG_DSP_CUDA : LG_DSP_CPU;
    }
    snprintf(why, cap, "%s: %.2f ms predicted for %llu samples, %s %.2f ms", bname(best),
             (double)p[best] / 1e6, n, bname(other), (double)p[other] / 1e6);
    return best ? LG_DSP_CUDA : LG_DSP_CPU;
}

/* ---- resampler tables (resample.c's design) ---- */

struct table {
    struct table *next;
    uint64_t up, down;
    int refs;
    uint32_t half, taps, dense;
    size_t floats;
    float *rows; /* host: row-major, a row per phase (or dense phase) */
    void *dev;   /* device side: lg_sk_rs_device_table when exact, row-major when dense */
};

/* The resampler's own design (resample_int.h): H, the row count and the
 * rows, exactly as the CPU resampler has them. */
static int design(struct table *t)
{
    struct lg_rs_design d;
    lg_rs_design(t->up, t->down, &d);
    t->half = (uint32_t)d.half;
    t->taps = (uint32_t)d.taps;
    t->dense = d.dense;
    t->floats = d.rows * (size_t)d.taps;
    t->rows = malloc(t->floats * sizeof(float));
    if (!t->rows)
        return -ENOMEM;
    return lg_rs_fill_rows(t->rows, (size_t)d.taps, &d);
}

/* ---- the device side: CUDA, or its emulation on the host ---- */

struct hbufs {
    struct lg_sk_step *steps;
    float *in, *mid, *out;
    double *scr;
    size_t c_steps, c_in, c_mid, c_out, c_scr;
};

struct dev {
    int emulated;
    struct lg_sk_cuda *cuda;
    struct hbufs hb; /* emulated */
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int hb_reserve(struct hbufs *h, const struct lg_sk_run *r)
{
    if (grow((void **)&h->steps, &h->c_steps, r->n_steps, sizeof(*h->steps)) < 0 ||
        grow((void **)&h->in, &h->c_in, r->in_floats, sizeof(float)) < 0 ||
        grow((void **)&h->mid, &h->c_mid, r->mid_floats, sizeof(float)) < 0 ||
        grow((void **)&h->out, &h->c_out, r->out_floats, sizeof(float)) < 0 ||
        grow((void **)&h->scr, &h->c_scr, r->scr_doubles, sizeof(double)) < 0)
        return -ENOMEM;
    return 0;
}

static void hb_free(struct hbufs *h)
{
    free(h->steps);
    free(h->in);
    free(h->mid);
    free(h->out);
    free(h->scr);
}

/* The three stages over all steps, as the CUDA kernels run them. */
static void host_resample(const struct lg_sk_step *st, const float *in, float *mid)
{
    const struct lg_sk_slot *s = st->slot;
    for (uint32_t c = 0; c < s->channels; c++) {
        float *h = NULL;
        if (s->rs) {
            h = lg_sk_rs_new(st, c);
            uint32_t len = lg_sk_rs_len(st);
            for (uint32_t k = 0; k < len; k++)
                h[k] = lg_sk_rs_fill(st, in, c, k);
        }
        if (st->coef_t)
            for (uint32_t w = 0, n = lg_sk_rs_items(st); w < n; w++)
                lg_sk_rs_out_t(st, h, mid, c, w);
        else
            for (uint32_t j = 0; j < st->n_mid; j++)
                lg_sk_rs_out(st, h, in, mid, c, j);
    }
}

static void host_limit(const struct lg_sk_step *st, const float (*coef)[2 * LG_LIM_T],
                       const float *mid, double *scr, float *out)
{
    const struct lg_sk_slot *s = st->slot;
    uint32_t n_out = s->lim ? st->n_lim : st->n_mid;
    if (s->lim) {
        uint32_t len = lg_sk_lim_len(st);
        for (uint32_t c = 0; c < s->channels; c++) {
            float *h = lg_sk_lim_new(st, c);
            for (uint32_t k = 0; k < len; k++)
                h[k] = lg_sk_lim_fill(st, mid, c, k);
        }
        for (uint32_t i = 0; i < st->n_lim; i++)
            lg_sk_lim_rate(st, coef, scr, i);
        lg_sk_lim_seq(st, scr);
    }
    for (uint32_t idx = 0; idx < n_out * s->channels; idx++)
        lg_sk_lim_out(st, mid, scr, out, idx);
}

/* Steps [s0, s1) on the host. */
static void host_run(const struct hbufs *h, uint32_t s0, uint32_t s1,
                     const float (*coef)[2 * LG_LIM_T])
{
    for (uint32_t i = s0; i < s1; i++)
        host_resample(&h->steps[i], h->in, h->mid);
    for (uint32_t i = s0; i < s1; i++) {
        const struct lg_sk_step *st = &h->steps[i];
        if (!st->gain_on)
            continue;
        float k = 1.0f, *fac = (float *)(void *)(h->scr + st->scr_off);
        int ramp = lg_sk_gain_prepare(st, fac, &k);
        for (uint32_t idx = 0; idx < st->n_mid * st->slot->channels; idx++)
            lg_sk_gain_apply(st, h->mid, fac, ramp, k, idx);
    }
    for (uint32_t i = s0; i < s1; i++)
        host_limit(&h->steps[i], coef, h->mid, h->scr, h->out);
}

static void *dev_upload(struct dev *d, const void *host, size_t bytes)
{
#if LG_HAVE_CUDA
    if (!d->emulated)
        return lg_sk_cuda_upload_new(d->cuda, host, bytes);
#endif
    void *p = malloc(bytes ? bytes : 1);
    if (p)
        memcpy(p, host, bytes);
    return p;
}

static void dev_free(struct dev *d, void *p)
{
#if LG_HAVE_CUDA
    if (!d->emulated) {
        lg_sk_cuda_free(d->cuda, p);
        return;
    }
#endif
    free(p);
}

/* ---- the batcher ---- */

struct job {
    int live;
    int channels, in_rate, out_rate;
    int has_rs, has_lim, gain_on;
    double ramp_ms;
    uint32_t delay; /* D; 0 without a limiter */
    size_t max_out; /* output frames one run can make, at most */
    /* input for the next run */
    float *pend;     /* max_block frames */
    size_t pend_len; /* frames */
    int pending;     /* in the next run (input or flush) */
    int flush_req, ended;
    int64_t deadline;
    int gain_req; /* CUDA path: a new target from the next run */
    double gain_target;
    /* output */
    float *out;
    size_t out_head, out_len, out_cap; /* frames */
    int64_t lim_skip;                  /* limiter output frames still to cut */
    /* CPU objects */
    struct lg_resampler *rs;
    struct lg_gain *g;
    struct lg_limiter *lim;
    /* kernel path */
    struct table *tab;
    void *blk[2]; /* state block: [SIDE_HOST], [SIDE_DEV] */
    size_t blk_bytes;
    uint64_t up, down;
    uint32_t half, rs_cap, mid_max;
    uint64_t k_next, i_next, f_next, n_in; /* the resampler's position, as resample.c */
    int64_t base;                          /* absolute index of the history's first frame */
    uint64_t len;                          /* frames in the history */
    uint32_t parity, lim_prev;
    /* this run */
    uint32_t n_mid, n_lim, n_out;
    uint32_t keep_src, kept, zeros;
};

struct lg_dsp_batcher {
    int backend; /* as asked, without flags */
    int kernels; /* 1: the state-block path; 0: CPU objects */
    int have_dev, have_host, side;
    int max_jobs, max_block;
    struct job *jobs;
    int n_live, n_pending;
    uint64_t pending_samples;
    int64_t min_deadline;
    int deadline_dirty;
    struct dev dev;
    struct hbufs hb; /* host side of the kernel path */
    struct table *tables;
    float lim_coef[3][2 * LG_LIM_T];
    struct lg_dsp_cost *cost;
    int64_t slack_ns;
    int choice;
    char why[192];
    struct lg_dsp_batcher_stats st;
    lg_dsp_batcher_fn *on_run;
    void *on_run_ctx;
    int broken;
    int *run_ids; /* jobs of the run being made */
};

struct lg_dsp_batcher *lg_dsp_batcher_new(int backend, int max_jobs, int max_block_frames)
{
    int emulate = (backend & LG_DSP_BATCH_EMULATE) != 0;
    backend &= ~LG_DSP_BATCH_EMULATE;
    if ((backend != LG_DSP_CPU && backend != LG_DSP_CUDA && backend != LG_DSP_AUTO) ||
        max_jobs < 1 || max_jobs > 65536 || max_block_frames < 1 || max_block_frames > 1048576)
        return NULL;
    char why[160] = "";
    int usable = backend != LG_DSP_CPU && (emulate || lg_dsp_cuda_status(why, sizeof(why)));
    if (backend == LG_DSP_CUDA && !usable)
        return NULL;
    struct lg_dsp_batcher *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->backend = backend;
    b->max_jobs = max_jobs;
    b->max_block = max_block_frames;
    b->slack_ns = 1000000;
    b->min_deadline = INT64_MAX;
    b->jobs = calloc((size_t)max_jobs, sizeof(*b->jobs));
    b->run_ids = calloc((size_t)max_jobs, sizeof(*b->run_ids));
    b->cost = lg_dsp_cost_new(EXPLORE_EVERY);
    if (!b->jobs || !b->run_ids || !b->cost)
        goto fail;
    lg_lim_coefs(b->lim_coef);
    b->choice = LG_DSP_CPU;
    if (backend == LG_DSP_CPU) {
        snprintf(b->why, sizeof(b->why), "cpu: asked for");
    } else if (!usable) {
        snprintf(b->why, sizeof(b->why), "cpu: no usable GPU (%s)", why);
    } else {
        b->kernels = 1;
        b->have_dev = 1;
        b->have_host = backend == LG_DSP_AUTO;
        b->side = SIDE_DEV;
        b->dev.emulated = emulate;
        b->choice = LG_DSP_CUDA;
        snprintf(b->why, sizeof(b->why), "%s",
                 backend == LG_DSP_CUDA ? "cuda: asked for" : "auto: no run yet");
#if LG_HAVE_CUDA
        if (!emulate && lg_sk_cuda_open(&b->dev.cuda, why, sizeof(why)) < 0) {
            if (backend == LG_DSP_CUDA)
                goto fail;
            b->kernels = b->have_dev = b->have_host = 0;
            b->choice = LG_DSP_CPU;
            snprintf(b->why, sizeof(b->why), "cpu: the GPU failed (%s)", why);
        }
#endif
    }
    return b;
fail:
    lg_dsp_batcher_free(b);
    return NULL;
}

static void table_unref(struct lg_dsp_batcher *b, struct table *t)
{
    if (!t || --t->refs > 0)
        return;
    for (struct table **p = &b->tables; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    free(t->rows);
    if (t->dev)
        dev_free(&b->dev, t->dev);
    free(t);
}

static void job_clear(struct lg_dsp_batcher *b, struct job *j)
{
    lg_resampler_free(j->rs);
    lg_gain_free(j->g);
    lg_limiter_free(j->lim);
    free(j->blk[SIDE_HOST]);
    if (j->blk[SIDE_DEV])
        dev_free(&b->dev, j->blk[SIDE_DEV]);
    table_unref(b, j->tab);
    free(j->pend);
    free(j->out);
    memset(j, 0, sizeof(*j));
}

void lg_dsp_batcher_free(struct lg_dsp_batcher *b)
{
    if (!b)
        return;
    for (int i = 0; b->jobs && i < b->max_jobs; i++)
        if (b->jobs[i].live)
            job_clear(b, &b->jobs[i]);
#if LG_HAVE_CUDA
    lg_sk_cuda_close(b->dev.cuda);
#endif
    hb_free(&b->dev.hb);
    hb_free(&b->hb);
    lg_dsp_cost_free(b->cost);
    free(b->jobs);
    free(b->run_ids);
    free(b);
}

static int params_ok(const struct lg_dsp_job_params *p)
{
    if (!p || p->in_rate < 1 || p->in_rate > MAX_RATE || p->out_rate < 1 ||
        p->out_rate > MAX_RATE || p->channels < 1 || p->channels > LG_DSP_BATCH_MAX_CHANNELS)
        return 0;
    if (!isfinite(p->gain_db) || fabs(p->gain_db) > 60 || !isfinite(p->gain_ramp_ms) ||
        p->gain_ramp_ms < 0 || p->gain_ramp_ms > 60000)
        return 0;
    if (!p->limit)
        return 1;
    long d = lround(p->lookahead_ms * p->out_rate / 1000.0);
    return isfinite(p->ceiling_dbtp) && fabs(p->ceiling_dbtp) <= 60 && isfinite(p->lookahead_ms) &&
           p->lookahead_ms <= 1000 && d >= 2 * LG_LIM_T + 8 && isfinite(p->release_ms) &&
           p->release_ms > 0 && p->release_ms <= 60000;
}

/* The table of up/down, shared by the jobs of that ratio. */
static struct table *table_get(struct lg_dsp_batcher *b, uint64_t up, uint64_t down)
{
    for (struct table *t = b->tables; t; t = t->next) {
        if (t->up == up && t->down == down) {
            t->refs++;
            return t;
        }
    }
    struct table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->up = up;
    t->down = down;
    t->refs = 1;
    if (design(t) < 0)
        goto fail;
    if (b->have_dev) {
        const float *src = t->rows;
        float *tr = NULL;
        if (!t->dense) {
            /* The device's layout (kernels_stream.h, lg_sk_rs_out_t). */
            tr = malloc(t->floats * sizeof(float));
            if (!tr)
                goto fail;
            lg_sk_rs_device_table(tr, t->rows, up, down, t->taps);
            src = tr;
        }
        t->dev = dev_upload(&b->dev, src, t->floats * sizeof(float));
        free(tr);
        if (!t->dev)
            goto fail;
    }
    t->next = b->tables;
    b->tables = t;
    return t;
fail:
    free(t->rows);
    free(t);
    return NULL;
}

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* The state block of a new kernel-path job, in host memory. */
static int make_block(struct lg_dsp_batcher *b, struct job *j, const struct lg_dsp_job_params *p)
{
    size_t ch = (size_t)j->channels, off = align64(sizeof(struct lg_sk_slot));
    uint32_t box = j->has_lim ? j->delay - 2 * LG_LIM_T : 0;
    uint32_t hold = j->has_lim ? box + 2 * LG_LIM_T + 2 : 0;
    uint32_t lim_cap = j->has_lim ? j->delay + j->mid_max + j->delay : 0;
    struct lg_sk_slot s = { 0 };
    s.channels = (uint32_t)ch;
    s.rs = (uint32_t)j->has_rs;
    s.lim = (uint32_t)j->has_lim;
    s.up = j->up;
    s.down = j->down;
    s.half = j->half;
    s.taps = 2 * j->half;
    s.dense = j->tab ? j->tab->dense : 0;
    s.rs_cap = j->rs_cap;
    for (int i = 0; i < 2; i++) {
        s.rs_hist_off[i] = off;
        off += align64(ch * j->rs_cap * sizeof(float));
    }
    s.delay = j->delay;
    s.lim_cap = lim_cap;
    for (int i = 0; i < 2; i++) {
        s.lim_hist_off[i] = off;
        off += align64(ch * lim_cap * sizeof(float));
    }
    s.dq_val_off = off;
    off += align64(hold * sizeof(double));
    s.dq_idx_off = off;
    off += align64(hold * sizeof(uint64_t));
    s.env_box_off = off;
    off += align64(box * sizeof(double));
    s.g.ramp_frames = (uint64_t)llround(p->gain_ramp_ms * j->out_rate / 1000.0);
    s.g.cur = s.g.target = 1.0;
    if (j->has_lim)
        lg_lim_env_init(&s.e, j->out_rate, p->ceiling_dbtp, p->release_ms, (int)box);
    char *blk = calloc(1, off);
    if (!blk)
        return -ENOMEM;
    memcpy(blk, &s, sizeof(s));
    struct lg_sk_slot *sp = (struct lg_sk_slot *)(void *)blk;
    if (j->has_lim)
        lg_lim_env_reset(&sp->e, (double *)(void *)(blk + s.env_box_off));
    j->blk[SIDE_HOST] = blk;
    j->blk_bytes = off;
    if (b->have_dev) {
        j->blk[SIDE_DEV] = dev_upload(&b->dev, blk, off);
        if (!j->blk[SIDE_DEV])
            return -ENOMEM;
    }
    return 0;
}

/* Sizes of a job: history capacity, and output per run at most. */
static void job_sizes(struct lg_dsp_batcher *b, struct job *j)
{
    size_t mb = (size_t)b->max_block;
    if (j->has_rs) {
        /* Kept frames (under 2H), the input, the flush zeros. */
        size_t cap = 2 * (size_t)j->half + mb + j->half + j->down / j->up + 2 + 16;
        j->rs_cap = (uint32_t)cap;
        j->mid_max = (uint32_t)((cap * j->up + j->down - 1) / j->down + 2);
    } else {
        j->mid_max = (uint32_t)mb;
    }
    j->max_out = (size_t)j->mid_max + j->delay;
}

static int add_objects(struct job *j, const struct lg_dsp_job_params *p)
{
    if (j->has_rs && !(j->rs = lg_resampler_new(j->in_rate, j->out_rate, j->channels)))
        return -ENOMEM;
    if (j->gain_on) {
        j->g = lg_gain_new(j->out_rate, j->channels, p->gain_ramp_ms);
        if (!j->g)
            return -ENOMEM;
        lg_gain_set_db(j->g, p->gain_db);
    }
    if (j->has_lim) {
        j->lim = lg_limiter_new(j->out_rate, j->channels, p->ceiling_dbtp, p->lookahead_ms,
                                p->release_ms);
        if (!j->lim)
            return -ENOMEM;
    }
    return 0;
}

int lg_dsp_batcher_add(struct lg_dsp_batcher *b, const struct lg_dsp_job_params *p)
{
    if (b->broken)
        return -EIO;
    if (!params_ok(p))
        return -EINVAL;
    int id = 0;
    while (id < b->max_jobs && b->jobs[id].live)
        id++;
    if (id == b->max_jobs)
        return -ENOSPC;
    struct job *j = &b->jobs[id];
    memset(j, 0, sizeof(*j));
    j->channels = p->channels;
    j->in_rate = p->in_rate;
    j->out_rate = p->out_rate;
    j->has_rs = p->in_rate != p->out_rate;
    j->has_lim = p->limit != 0;
    j->gain_on = p->gain_db != 0;
    j->ramp_ms = p->gain_ramp_ms;
    j->delay = j->has_lim ? (uint32_t)lround(p->lookahead_ms * p->out_rate / 1000.0) : 0;
    j->lim_skip = j->delay;
    j->deadline = INT64_MAX;
    uint64_t g = lg_rs_gcd((uint64_t)p->in_rate, (uint64_t)p->out_rate);
    j->up = (uint64_t)p->out_rate / g;
    j->down = (uint64_t)p->in_rate / g;
    int rc = 0;
    if (j->has_rs) {
        if (b->kernels) {
            j->tab = table_get(b, j->up, j->down);
            rc = j->tab ? 0 : -ENOMEM;
            j->half = j->tab ? j->tab->half : 0;
        } else {
            rc = add_objects(j, p);
            j->half = j->rs ? (uint32_t)lg_resampler_latency_frames(j->rs) : 0;
        }
    } else if (!b->kernels) {
        rc = add_objects(j, p);
    }
    job_sizes(b, j);
    j->pend = malloc((size_t)b->max_block * (size_t)j->channels * sizeof(float));
    if (rc == 0 && !j->pend)
        rc = -ENOMEM;
    if (rc == 0 && b->kernels) {
        j->base = -(int64_t)(j->half - 1);
        j->len = j->half ? j->half - 1 : 0;
        j->gain_req = j->gain_on;
        j->gain_target = pow(10.0, p->gain_db / 20.0);
        rc = make_block(b, j, p);
    }
    if (rc < 0) {
        job_clear(b, j);
        return rc;
    }
    j->live = 1;
    b->n_live++;
    return id;
}

static struct job *live_job(const struct lg_dsp_batcher *b, int id)
{
    if (!b || id < 0 || id >= b->max_jobs || !b->jobs[id].live)
        return NULL;
    return &b->jobs[id];
}

void lg_dsp_batcher_remove(struct lg_dsp_batcher *b, int id)
{
    struct job *j = live_job(b, id);
    if (!j)
        return;
    if (j->pending) {
        b->n_pending--;
        b->pending_samples -= j->pend_len * (size_t)j->channels;
        b->deadline_dirty = 1;
    }
    job_clear(b, j);
    b->n_live--;
}

static void mark_pending(struct lg_dsp_batcher *b, struct job *j)
{
    if (!j->pending) {
        j->pending = 1;
        b->n_pending++;
    }
}

int lg_dsp_batcher_submit(struct lg_dsp_batcher *b, int id, const float *in, size_t n,
                          int64_t deadline_ns)
{
    struct job *j = live_job(b, id);
    if (!j || j->flush_req || j->ended || (n && !in))
        return -EINVAL;
    if (n > (size_t)b->max_block - j->pend_len)
        return -E2BIG;
    size_t ch = (size_t)j->channels;
    if (n)
        memcpy(j->pend + j->pend_len * ch, in, n * ch * sizeof(float));
    j->pend_len += n;
    b->pending_samples += n * ch;
    if (deadline_ns < j->deadline)
        j->deadline = deadline_ns;
    if (j->deadline < b->min_deadline)
        b->min_deadline = j->deadline;
    mark_pending(b, j);
    return 0;
}

int lg_dsp_batcher_set_gain(struct lg_dsp_batcher *b, int id, double db)
{
    struct job *j = live_job(b, id);
    if (!j || !isfinite(db) || fabs(db) > 60)
        return -EINVAL;
    if (b->kernels) {
        j->gain_req = 1;
        j->gain_target = pow(10.0, db / 20.0);
        j->gain_on = 1;
        return 0;
    }
    /* The objects run only in lg_dsp_batcher_run(): setting now is the
     * same as setting before the next run's first frame. */
    if (!j->g) {
        j->g = lg_gain_new(j->out_rate, j->channels, j->ramp_ms);
        if (!j->g)
            return -ENOMEM;
    }
    lg_gain_set_db(j->g, db);
    j->gain_on = 1;
    return 0;
}

int lg_dsp_batcher_flush(struct lg_dsp_batcher *b, int id)
{
    struct job *j = live_job(b, id);
    if (!j || j->ended)
        return -EINVAL;
    if (!j->flush_req) {
        j->flush_req = 1;
        if (j->deadline == INT64_MAX)
            j->deadline = INT64_MIN;
        if (j->deadline < b->min_deadline)
            b->min_deadline = j->deadline;
        mark_pending(b, j);
    }
    return 0;
}

/* ---- the flush policy ---- */

/* The earliest deadline of the pending jobs (a scan after a removal). */
static int64_t min_deadline(const struct lg_dsp_batcher *b)
{
    if (!b->deadline_dirty)
        return b->min_deadline;
    int64_t m = INT64_MAX;
    for (int i = 0; i < b->max_jobs; i++)
        if (b->jobs[i].live && b->jobs[i].pending && b->jobs[i].deadline < m)
            m = b->jobs[i].deadline;
    return m;
}

/* The predicted cost of running size samples where this batcher would. */
static double predict(const struct lg_dsp_batcher *b, uint64_t size)
{
    double best = INFINITY;
    for (int be = LG_DSP_CPU; be <= LG_DSP_CUDA; be++) {
        int usable = be == LG_DSP_CUDA ? b->have_dev : (!b->kernels || b->have_host);
        if (!usable)
            continue;
        int64_t ns;
        double v =
            lg_dsp_cost_predict(b->cost, be, size, &ns) == 0 ? (double)ns : prior_ns(be, size);
        best = v < best ? v : best;
    }
    return best;
}

int64_t lg_dsp_batcher_due_ns(const struct lg_dsp_batcher *b)
{
    if (b->n_pending == 0)
        return INT64_MAX;
    if (b->n_pending == b->n_live)
        return INT64_MIN;
    int64_t dl = min_deadline(b);
    if (dl == INT64_MIN)
        return INT64_MIN;
    double lead = predict(b, b->pending_samples) * COST_SAFETY + (double)b->slack_ns;
    double due = (double)dl - lead;
    return due <= (double)INT64_MIN ? INT64_MIN : (int64_t)due;
}

int lg_dsp_batcher_should_run(const struct lg_dsp_batcher *b, int64_t now_ns)
{
    return b->n_pending > 0 && now_ns >= lg_dsp_batcher_due_ns(b);
}

void lg_dsp_batcher_set_slack(struct lg_dsp_batcher *b, int64_t slack_ns)
{
    b->slack_ns = slack_ns > 0 ? slack_ns : 0;
}

/* ---- output queues ---- */

/* Room for n more frames at the tail of j's output. */
static int out_reserve(struct job *j, size_t n)
{
    size_t ch = (size_t)j->channels;
    if (j->out_head > 0 && j->out_len + n > j->out_cap) {
        memmove(j->out, j->out + j->out_head * ch, (j->out_len - j->out_head) * ch * sizeof(float));
        j->out_len -= j->out_head;
        j->out_head = 0;
    }
    if (j->out_len + n <= j->out_cap)
        return 0;
    size_t cap = (j->out_len + n) * 2;
    float *q = realloc(j->out, cap * ch * sizeof(float));
    if (!q)
        return -ENOMEM;
    j->out = q;
    j->out_cap = cap;
    return 0;
}

/* Cuts what is left of the limiter's delay from the front of n frames at
 * buf; returns the frames left, moved to buf. */
static size_t cut_delay(struct job *j, float *buf, size_t n)
{
    size_t drop = j->lim_skip < (int64_t)n ? (size_t)j->lim_skip : n;
    j->lim_skip -= (int64_t)drop;
    if (drop && n > drop)
        memmove(buf, buf + drop * (size_t)j->channels,
                (n - drop) * (size_t)j->channels * sizeof(float));
    return n - drop;
}

/* ---- runs ---- */

/* The jobs with something to run, in b->run_ids; their count. */
static int collect(struct lg_dsp_batcher *b)
{
    int n = 0;
    for (int i = 0; i < b->max_jobs && n < b->n_pending; i++)
        if (b->jobs[i].live && b->jobs[i].pending)
            b->run_ids[n++] = i;
    return n;
}

/* One job through its CPU objects, straight into its output queue (room
 * for max_out frames reserved). Returns the frames made. */
static size_t run_objects_job(struct job *j)
{
    size_t ch = (size_t)j->channels, n;
    float *dst = j->out + j->out_len * ch;
    if (j->rs) {
        n = lg_resampler_process(j->rs, j->pend, j->pend_len, dst,
                                 lg_resampler_out_max(j->rs, j->pend_len));
        if (j->flush_req)
            n += lg_resampler_flush(j->rs, dst + n * ch, lg_resampler_flush_max(j->rs));
    } else {
        if (j->pend_len)
            memcpy(dst, j->pend, j->pend_len * ch * sizeof(float));
        n = j->pend_len;
    }
    if (j->g)
        lg_gain_process(j->g, dst, n);
    if (j->lim) {
        lg_limiter_process(j->lim, dst, dst, n);
        n = cut_delay(j, dst, n);
        if (j->flush_req) {
            lg_limiter_flush(j->lim, dst + n * ch);
            n += cut_delay(j, dst + n * ch, j->delay);
        }
    }
    if (n > j->max_out)
        die("output over its bound");
    return n;
}

static int run_objects(struct lg_dsp_batcher *b, int n, struct lg_dsp_batcher_stats *st)
{
    for (int i = 0; i < n; i++)
        if (out_reserve(&b->jobs[b->run_ids[i]], b->jobs[b->run_ids[i]].max_out) < 0)
            return -ENOMEM;
    int64_t t0 = mono_ns();
    for (int i = 0; i < n; i++) {
        struct job *j = &b->jobs[b->run_ids[i]];
        size_t made = run_objects_job(j);
        j->out_len += made;
        st->frames_out += made;
    }
    st->cpu_ms = (double)(mono_ns() - t0) / 1e6;
    st->backend = LG_DSP_CPU;
    return 0;
}

/* The resampler's part of j's step: what the history keeps and gets, and
 * the outputs ready (resample.c's ready(), with its flush limit). */
static void plan_rs(struct job *j)
{
    uint64_t n = j->pend_len;
    if (!j->has_rs) {
        j->n_mid = (uint32_t)n;
        return;
    }
    int64_t keep_from = (int64_t)j->i_next - (int64_t)j->half + 1;
    if (keep_from < j->base || keep_from > j->base + (int64_t)j->len)
        die("resampler history out of step");
    j->keep_src = (uint32_t)(keep_from - j->base);
    j->kept = (uint32_t)(j->len - j->keep_src);
    j->zeros = j->flush_req ? j->half + (uint32_t)(j->down / j->up) + 2 : 0;
    uint64_t len = (uint64_t)j->kept + n + j->zeros;
    if (len > j->rs_cap)
        die("resampler history over its capacity");
    int64_t e = keep_from + (int64_t)len - (int64_t)j->half;
    uint64_t k_end = e <= 0 ? 0 : ((uint64_t)e * j->up + j->down - 1) / j->down;
    if (j->flush_req) {
        uint64_t total = (2 * (j->n_in + n) * j->up + j->down) / (2 * j->down);
        k_end = k_end < total ? k_end : total;
    }
    j->n_mid = (uint32_t)(k_end > j->k_next ? k_end - j->k_next : 0);
    if (j->n_mid > j->mid_max)
        die("resampler output over its bound");
}

static void commit_rs(struct job *j)
{
    if (!j->has_rs)
        return;
    int64_t keep_from = j->base + j->keep_src;
    uint64_t t = j->f_next + (uint64_t)j->n_mid * j->down;
    j->i_next += t / j->up;
    j->f_next = t % j->up;
    j->k_next += j->n_mid;
    j->n_in += j->pend_len;
    j->base = keep_from;
    j->len = (uint64_t)j->kept + j->pend_len + j->zeros;
}

/* Plans every job of the run and the run's sizes; reserves output room. */
static int plan_run(struct lg_dsp_batcher *b, int n, struct lg_sk_run *r)
{
    memset(r, 0, sizeof(*r));
    r->n_steps = (uint32_t)n;
    uint64_t acc = 0;
    int part = 1; /* the next boundary to place */
    for (int i = 0; i < n; i++) {
        struct job *j = &b->jobs[b->run_ids[i]];
        plan_rs(j);
        j->n_lim = j->n_mid + (j->has_lim && j->flush_req ? j->delay : 0);
        j->n_out = j->has_lim ? j->n_lim : j->n_mid;
        if (out_reserve(j, j->n_out) < 0)
            return -ENOMEM;
        size_t ch = (size_t)j->channels;
        r->in_floats += j->pend_len * ch;
        r->mid_floats += (uint64_t)j->n_mid * ch;
        r->out_floats += (uint64_t)j->n_out * ch;
        r->scr_doubles += j->n_lim;
        r->max_channels = (uint32_t)ch > r->max_channels ? (uint32_t)ch : r->max_channels;
        if (j->has_rs) {
            uint32_t len = j->kept + (uint32_t)j->pend_len + j->zeros;
            len = len < SMEM_MAX_FLOATS ? len : SMEM_MAX_FLOATS;
            r->smem_floats = len > r->smem_floats ? len : r->smem_floats;
        }
        /* Part p starts once p / LG_SK_PARTS of the input is placed. */
        acc += j->pend_len * ch;
        while (part < LG_SK_PARTS && acc * LG_SK_PARTS >= b->pending_samples * (uint64_t)part)
            r->bound[part++] = (uint32_t)i + 1;
    }
    while (part <= LG_SK_PARTS)
        r->bound[part++] = (uint32_t)n;
    return 0;
}

/* The steps of the run into the side's buffers (offsets only). */
static void fill_steps(struct lg_dsp_batcher *b, int n, int side, struct lg_sk_step *steps)
{
    uint64_t in_off = 0, mid_off = 0, out_off = 0, scr_off = 0;
    for (int i = 0; i < n; i++) {
        struct job *j = &b->jobs[b->run_ids[i]];
        struct lg_sk_step *st = &steps[i];
        size_t ch = (size_t)j->channels;
        memset(st, 0, sizeof(*st));
        st->slot = j->blk[side];
        if (j->tab) {
            st->coef = side == SIDE_DEV ? j->tab->dev : j->tab->rows;
            st->coef_t = side == SIDE_DEV && !j->tab->dense;
            st->r0 = st->coef_t ? (uint32_t)(j->k_next % j->up) : 0;
        }
        st->parity = j->parity;
        st->n_in = (uint32_t)j->pend_len;
        st->n_mid = j->n_mid;
        st->n_lim = j->n_lim;
        st->keep_src = j->keep_src;
        st->kept = j->kept;
        st->zeros = j->zeros;
        st->lim_src = j->lim_prev;
        st->f0 = j->f_next;
        st->in_off = in_off;
        st->mid_off = mid_off;
        st->out_off = out_off;
        st->scr_off = scr_off;
        st->gain_on = (uint32_t)j->gain_on;
        st->gain_set = (uint32_t)j->gain_req;
        st->gain_target = j->gain_target;
        in_off += j->pend_len * ch;
        mid_off += (uint64_t)j->n_mid * ch;
        out_off += (uint64_t)j->n_out * ch;
        scr_off += j->n_lim;
    }
}

/* The input of steps [s0, s1) packed at their offsets. */
static void pack_input(struct lg_dsp_batcher *b, const struct lg_sk_step *steps, uint32_t s0,
                       uint32_t s1, float *in)
{
    for (uint32_t i = s0; i < s1; i++) {
        const struct job *j = &b->jobs[b->run_ids[i]];
        if (j->pend_len)
            memcpy(in + steps[i].in_off, j->pend,
                   j->pend_len * (size_t)j->channels * sizeof(float));
    }
}

/* The output of steps [s0, s1) into their jobs' queues; their state moves
 * on to the next run. */
static void unpack_output(struct lg_dsp_batcher *b, const struct lg_sk_step *steps, uint32_t s0,
                          uint32_t s1, const float *out, struct lg_dsp_batcher_stats *st)
{
    for (uint32_t i = s0; i < s1; i++) {
        struct job *j = &b->jobs[b->run_ids[i]];
        size_t ch = (size_t)j->channels;
        float *dst = j->out + j->out_len * ch;
        if (j->n_out)
            memcpy(dst, out + steps[i].out_off, (size_t)j->n_out * ch * sizeof(float));
        size_t made = j->has_lim ? cut_delay(j, dst, j->n_out) : j->n_out;
        j->out_len += made;
        st->frames_out += made;
        commit_rs(j);
        j->parity ^= 1u;
        j->lim_prev = j->n_lim;
        j->gain_req = 0;
    }
}

/* Moves every live job's state block to side (auto changing sides). */
static int migrate(struct lg_dsp_batcher *b, int side)
{
    if (b->side == side)
        return 0;
#if LG_HAVE_CUDA
    if (!b->dev.emulated) {
        void **host = malloc((size_t)b->n_live * sizeof(void *));
        void **dev = malloc((size_t)b->n_live * sizeof(void *));
        size_t *bytes = malloc((size_t)b->n_live * sizeof(size_t));
        size_t n = 0;
        for (int i = 0; host && dev && bytes && i < b->max_jobs; i++) {
            if (b->jobs[i].live) {
                host[n] = b->jobs[i].blk[SIDE_HOST];
                dev[n] = b->jobs[i].blk[SIDE_DEV];
                bytes[n++] = b->jobs[i].blk_bytes;
            }
        }
        int rc = host && dev && bytes ? 0 : -ENOMEM;
        if (rc == 0)
            rc = lg_sk_cuda_copy_blocks(b->dev.cuda, host, dev, bytes, n, side == SIDE_HOST);
        free(host);
        free(dev);
        free(bytes);
        if (rc < 0)
            return rc;
        b->side = side;
        return 0;
    }
#endif
    for (int i = 0; i < b->max_jobs; i++) {
        struct job *j = &b->jobs[i];
        if (j->live)
            memcpy(j->blk[side], j->blk[!side], j->blk_bytes);
    }
    b->side = side;
    return 0;
}

static int run_kernels(struct lg_dsp_batcher *b, int n, int side, struct lg_dsp_batcher_stats *st)
{
    struct lg_sk_run r;
    int rc = plan_run(b, n, &r);
    if (rc < 0)
        return rc;
    struct hbufs *hb = side == SIDE_HOST ? &b->hb : &b->dev.hb;
    struct lg_sk_step *steps;
    float *in, *out;
#if LG_HAVE_CUDA
    struct lg_sk_host_bufs cb;
    if (side == SIDE_DEV && !b->dev.emulated) {
        if (lg_sk_cuda_reserve(b->dev.cuda, &r, &cb) < 0)
            return -ENOMEM;
        steps = cb.steps;
        in = cb.in;
        out = cb.out;
    } else
#endif
    {
        if (hb_reserve(hb, &r) < 0)
            return -ENOMEM;
        steps = hb->steps;
        in = hb->in;
        out = hb->out;
    }
    int64_t t0 = mono_ns();
    fill_steps(b, n, side, steps);
    /* Part by part: the GPU starts on a part as soon as its input is
     * packed, and a finished part is unpacked while later ones run. */
    struct lg_sk_times tm = { 0 };
    int gpu = 0;
#if LG_HAVE_CUDA
    gpu = side == SIDE_DEV && !b->dev.emulated;
#endif
    for (int p = 0; p < LG_SK_PARTS && rc == 0; p++) {
        pack_input(b, steps, r.bound[p], r.bound[p + 1], in);
#if LG_HAVE_CUDA
        if (gpu)
            rc = lg_sk_cuda_start(b->dev.cuda, &r, p);
#endif
    }
    for (int p = 0; p < LG_SK_PARTS && rc == 0; p++) {
#if LG_HAVE_CUDA
        if (gpu)
            rc = lg_sk_cuda_wait(b->dev.cuda, p);
#endif
        if (!gpu)
            host_run(hb, r.bound[p], r.bound[p + 1], (const float(*)[2 * LG_LIM_T]) b->lim_coef);
        if (rc == 0)
            unpack_output(b, steps, r.bound[p], r.bound[p + 1], out, st);
    }
#if LG_HAVE_CUDA
    if (gpu) {
        /* A part that failed leaves the others queued: wait for them all
         * before the buffers can be reused. */
        for (int p = 0; rc < 0 && p < LG_SK_PARTS; p++)
            lg_sk_cuda_wait(b->dev.cuda, p);
        if (rc < 0) {
            b->broken = 1;
            return -EIO;
        }
        lg_sk_cuda_times(b->dev.cuda, &r, &tm);
    }
#endif
    int64_t t1 = mono_ns();
    st->backend = side == SIDE_DEV ? LG_DSP_CUDA : LG_DSP_CPU;
    st->emulated = side == SIDE_DEV && b->dev.emulated;
    if (st->backend == LG_DSP_CPU || st->emulated)
        st->cpu_ms = (double)(t1 - t0) / 1e6;
    st->upload_ms = tm.upload_ms;
    st->kernels_ms = tm.kernels_ms;
    st->download_ms = tm.download_ms;
    st->gpu_ms = tm.gpu_ms;
    return 0;
}

/* Auto: the side of this run, and the state moved there. */
static int pick_side(struct lg_dsp_batcher *b, int64_t now_ns, struct lg_dsp_batcher_stats *st)
{
    if (!b->have_host)
        return SIDE_DEV;
    int64_t dl = min_deadline(b);
    int64_t budget = dl == INT64_MAX ? INT64_MAX : dl - now_ns;
    b->choice = lg_dsp_cost_choose(b->cost, b->pending_samples, budget, b->why, sizeof(b->why));
    int side = b->choice == LG_DSP_CUDA ? SIDE_DEV : SIDE_HOST;
    int64_t t0 = mono_ns();
    int rc = migrate(b, side);
    st->migrate_ms = (double)(mono_ns() - t0) / 1e6;
    if (rc < 0) {
        b->broken = 1;
        return rc;
    }
    return side;
}

/* After a run: pending state cleared, lateness counted. */
static void finish_jobs(struct lg_dsp_batcher *b, int n, int64_t end_ns,
                        struct lg_dsp_batcher_stats *st)
{
    for (int i = 0; i < n; i++) {
        struct job *j = &b->jobs[b->run_ids[i]];
        st->frames_in += j->pend_len;
        if (j->deadline != INT64_MIN && j->deadline < end_ns)
            st->late_jobs++;
        if (j->flush_req)
            j->ended = 1;
        j->pend_len = 0;
        j->pending = 0;
        j->flush_req = 0;
        j->deadline = INT64_MAX;
    }
    b->n_pending = 0;
    b->pending_samples = 0;
    b->min_deadline = INT64_MAX;
    b->deadline_dirty = 0;
}

int lg_dsp_batcher_run(struct lg_dsp_batcher *b, int64_t now_ns)
{
    if (b->broken)
        return -EIO;
    int n = collect(b);
    if (n == 0)
        return 0;
    struct lg_dsp_batcher_stats st = { 0 };
    st.jobs = (unsigned)n;
    st.size = b->pending_samples;
    st.begin_ns = now_ns;
    lg_sk_nvtx_push("batch");
    int rc;
    if (!b->kernels) {
        int64_t t0 = mono_ns();
        rc = run_objects(b, n, &st);
        st.wall_ms = (double)(mono_ns() - t0) / 1e6;
    } else {
        int side = pick_side(b, now_ns, &st);
        int64_t t0 = mono_ns();
        rc = side < 0 ? side : run_kernels(b, n, side, &st);
        st.wall_ms = (double)(mono_ns() - t0) / 1e6;
    }
    lg_sk_nvtx_pop();
    if (rc < 0)
        return rc;
    lg_dsp_cost_observe(b->cost, st.backend, st.size, (int64_t)(st.wall_ms * 1e6));
    finish_jobs(b, n, now_ns + (int64_t)(st.wall_ms * 1e6), &st);
    st.runs = b->st.runs + 1;
    st.runs_cuda = b->st.runs_cuda + (st.backend == LG_DSP_CUDA);
    st.late_total = b->st.late_total + st.late_jobs;
    b->st = st;
    if (b->on_run)
        b->on_run(&b->st, b->on_run_ctx);
    return n;
}

size_t lg_dsp_batcher_available(const struct lg_dsp_batcher *b, int id)
{
    const struct job *j = live_job(b, id);
    return j ? j->out_len - j->out_head : 0;
}

size_t lg_dsp_batcher_take(struct lg_dsp_batcher *b, int id, float *out, size_t cap)
{
    struct job *j = live_job(b, id);
    if (!j)
        return 0;
    size_t n = j->out_len - j->out_head, ch = (size_t)j->channels;
    n = n < cap ? n : cap;
    if (n)
        memcpy(out, j->out + j->out_head * ch, n * ch * sizeof(float));
    j->out_head += n;
    if (j->out_head == j->out_len)
        j->out_head = j->out_len = 0;
    return n;
}

int lg_dsp_batcher_done(const struct lg_dsp_batcher *b, int id)
{
    const struct job *j = live_job(b, id);
    return j && j->ended && j->out_len == j->out_head;
}

void lg_dsp_batcher_stats(const struct lg_dsp_batcher *b, struct lg_dsp_batcher_stats *out)
{
    *out = b->st;
}

void lg_dsp_batcher_on_run(struct lg_dsp_batcher *b, lg_dsp_batcher_fn *fn, void *ctx)
{
    b->on_run = fn;
    b->on_run_ctx = ctx;
}

void lg_dsp_batcher_set_events(struct lg_dsp_batcher *b, int on)
{
#if LG_HAVE_CUDA
    if (b->dev.cuda)
        lg_sk_cuda_events(b->dev.cuda, on);
#endif
    (void)b;
    (void)on;
}

int lg_dsp_batcher_choice(const struct lg_dsp_batcher *b, char *why, size_t cap)
{
    if (why && cap)
        snprintf(why, cap, "%s", b->why);
    return b->choice;
}

struct lg_dsp_cost *lg_dsp_batcher_cost(struct lg_dsp_batcher *b)
{
    return b->cost;
}

/* ---- without CUDA: the profiler hooks do nothing ---- */

#if !LG_HAVE_CUDA
void lg_sk_nvtx_push(const char *name)
{
    (void)name;
}

void lg_sk_nvtx_pop(void)
{}

void lg_dsp_nvtx_push(const char *name)
{
    (void)name;
}

void lg_dsp_nvtx_pop(void)
{}

int lg_dsp_gpu_profile_start(char *why, size_t cap)
{
    if (why && cap)
        snprintf(why, cap, "the CUDA backend is not built in");
    return -ENOTSUP;
}

int lg_dsp_gpu_profile_flush(lg_dsp_gpu_event_fn *fn, void *ctx)
{
    (void)fn;
    (void)ctx;
    return -EINVAL;
}

int lg_dsp_gpu_profile_stop(lg_dsp_gpu_event_fn *fn, void *ctx)
{
    (void)fn;
    (void)ctx;
    return -EINVAL;
}

uint64_t lg_dsp_gpu_profile_dropped(void)
{
    return 0;
}
#endif
