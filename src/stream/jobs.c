/* SPDX-License-Identifier: MIT */
/*
 * Transcode jobs and their scheduler.
 *
 * A job is one running transcode (stream/transcode.c) that any number of
 * readers (listeners) share: its output stays in memory for the job's life,
 * so a second listener of the same key reads from byte 0 what the first has
 * produced, and every byte also goes to the cache writer, if any.
 *
 * Workers (one per core) run half a chunk at a time of the job whose
 * deadline is earliest. A job's deadline is the moment its most advanced
 * listener runs dry: the earliest start among its readers plus the media
 * produced so far, minus the burst (so that a new stream's first seconds are
 * made at once). A job more than ahead_s ahead of that moment waits. A chunk
 * that starts after its deadline records its lateness; sustained lateness is
 * overload, and the scheduler answers it by degrading new jobs: first the
 * encoder's complexity, then their bitrate.
 *
 * On the CPU each job's process stage is a one-job batch of its own, run by
 * the worker that runs the chunk (lg_transcode_step). When the backend can
 * use a GPU, the process stage of every job runs in one shared batch
 * (lg_transcode_batch), on a thread of its own. A chunk then goes: a
 * worker loads it and queues it in the batch (lg_transcode_submit) with the
 * time its process stage must be done by, marks the job "in dsp" and goes
 * back to pick another; the batch thread runs the batch when the flush
 * policy says (every live job has queued a chunk, or waiting longer could
 * miss the earliest deadline) and marks the jobs of the run "dsp done"; a
 * worker then takes those first (earliest deadline first) and encodes the
 * chunk (lg_transcode_generate). A run that fails on the GPU (-EIO) ends the
 * jobs of that batch with the error, logged once, and new jobs run on the
 * CPU in their workers; the failed batch is freed with the scheduler.
 *
 * Locks: sched->lock guards the job list and each job's scheduling fields;
 * job->lock guards its buffer and readers. Order: sched->lock, then
 * job->lock; a batch's own lock is a leaf, taken under sched->lock by the
 * batch thread (to ask the flush policy, and to read a failed batch's
 * choice), by a detach (to take a queued chunk out of the batch) and by the
 * tests' failure hook, never while the batch runs. Workers run a
 * half holding neither (job->running keeps other workers off the job); the
 * batch thread runs the batch without sched->lock (sched->batching says it
 * is in a run); the transcode's sink takes job->lock briefly for each write.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <unistd.h>

#include "core/log.h"
#include "dsp/dsp.h"
#include "prof/prof.h"
#include "stream/stream.h"

static const struct lg_log jlog = { "stream/jobs" };

enum {
    KEY_MAX = 256,
    MIN_AUTO_BUFFERED = 64 * 1024 * 1024,
    DEFAULT_MAX_JOBS = 4096,
    MAX_JOBS = 65536,
    NOMEM_RETRY_NS = 10 * 1000000, /* a run that found no memory is tried again after this */
};
#define OVERLOAD_WINDOW_NS (10 * 1000000000LL) /* lateness looked at over 10 s */

struct lg_job_reader {
    struct lg_job *job;
    struct lg_job_reader *next;
    int64_t off;      /* bytes read */
    int64_t start_ns; /* first byte taken; 0 before */
    bool armed;       /* wants wake() when data comes */
    lg_job_wake_fn *wake;
    void *wake_ctx;
};

struct lg_job {
    struct lg_jobs *sched;
    struct lg_job *next;
    char key[KEY_MAX];
    struct lg_transcode *t;
    pthread_mutex_t lock;
    unsigned char *buf; /* every byte made so far */
    size_t cap;
    int64_t total; /* bytes made (the furthest offset written) */
    int64_t pos;   /* the muxer's write position */
    struct lg_cache_writer *cw;
    struct lg_job_reader *readers;
    int n_readers;
    int err;                       /* the error that ended it, 0 */
    struct lg_transcode_batch *tb; /* the batch its process stage is in */
    /* Under sched->lock: */
    bool running, done, queued;
    /* Its chunk between the halves: none; queued in the batch ("in dsp",
     * waiting for a run: no worker picks it); processed ("dsp done": a
     * worker encodes it next). */
    enum { DSP_NONE, DSP_WAIT, DSP_DONE } dsp;
    int64_t first_start_ns; /* the earliest reader start; 0 before */
    double media_s;         /* media made */
    double busy_s[3];       /* load, process, generate time so far */
    double waited_s;        /* time chunks waited past their deadline */
};

struct lg_jobs {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t *threads;
    int n_threads;
    pthread_t batch_thread;
    bool have_batch_thread;
    bool stop;
    /* The batch new jobs join; failed batches, kept until the end (their
     * jobs' transcodes are in them); whether the batch thread is in a run;
     * the batch thread's list of the jobs a run processed. */
    struct lg_transcode_batch *tb;
    struct lg_transcode_batch **failed;
    int n_failed;
    bool batching;
    struct lg_transcode **ran;
    struct lg_job *jobs;
    struct lg_jobs_opts o;
    _Atomic int64_t buffered; /* bytes of the jobs' buffers */
    /* Overload: late chunks in the current window. */
    int64_t window_start_ns;
    int late_chunks, chunks;
    int degrade; /* 0 none, 1 lower complexity, 2 also lower bitrate */
};

/* --- the sink: every byte into the job's buffer and the cache --- */

static int job_write(void *ctx, const uint8_t *data, size_t len)
{
    struct lg_job *j = ctx;
    pthread_mutex_lock(&j->lock);
    int64_t end = j->pos + (int64_t)len;
    int rc = 0;
    if ((size_t)end > j->cap) {
        size_t cap = j->cap ? j->cap : 256 * 1024;
        while (cap < (size_t)end)
            cap *= 2;
        int64_t grow = (int64_t)(cap - j->cap);
        struct lg_jobs *s = j->sched;
        unsigned char *b = NULL;
        if (atomic_fetch_add(&s->buffered, grow) + grow <= s->o.max_buffered)
            b = realloc(j->buf, cap);
        if (!b) {
            atomic_fetch_sub(&s->buffered, grow);
            rc = -ENOMEM; /* out of memory, or of the jobs' share of it */
        } else {
            j->buf = b;
            j->cap = cap;
        }
    }
    if (rc == 0) {
        /* A rewrite below what readers took reaches only later readers. */
        memcpy(j->buf + j->pos, data, len);
        int64_t at = j->pos;
        j->pos = end;
        if (end > j->total)
            j->total = end;
        pthread_mutex_unlock(&j->lock);
        if (j->cw && lg_cache_write(j->cw, at, data, len) < 0) {
            lg_cache_abort(j->cw); /* the stream goes on uncached */
            j->cw = NULL;
        }
        return 0;
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

static int job_seek(void *ctx, int64_t off)
{
    struct lg_job *j = ctx;
    pthread_mutex_lock(&j->lock);
    int rc = off >= 0 && off <= j->total ? 0 : LG_EINVAL;
    if (rc == 0)
        j->pos = off;
    pthread_mutex_unlock(&j->lock);
    return rc;
}

/* --- scheduling --- */

static int64_t now_ns(void)
{
    return lg_prof_now_ns();
}

/* When j's listeners run dry, in CLOCK_MONOTONIC ns, burst deducted. A
 * job's clock starts when its first reader attaches (or earlier, when a
 * reader's first byte says so). */
static int64_t deadline(const struct lg_jobs *s, const struct lg_job *j)
{
    return j->first_start_ns + (int64_t)((j->media_s - s->o.burst_s) * 1e9);
}

/* When the process stage of j's next chunk must be done: its deadline,
 * less the time generate took for a chunk so far (the rest of the chunk's
 * way to the listener). Within the burst that is past: the batch runs at
 * once. Keeping the burst out of it leaves a listener that much audio in
 * hand while the batch waits for more jobs. Under s->lock. */
static int64_t dsp_deadline(const struct lg_jobs *s, const struct lg_job *j)
{
    double generate_per_s = j->media_s > 0 ? j->busy_s[LG_STAGE_GENERATE] / j->media_s : 0;
    return deadline(s, j) - (int64_t)(generate_per_s * LG_TRANSCODE_CHUNK_MS * 1e6);
}

/* The job a worker runs next, or NULL: a chunk the batch processed (the
 * earliest deadline first), else the runnable job with the earliest
 * deadline; *wait_ns tells when the next job that is too far ahead becomes
 * runnable. Under s->lock. */
static struct lg_job *pick(struct lg_jobs *s, int64_t now, int64_t *wait_ns)
{
    struct lg_job *best = NULL, *processed = NULL;
    int64_t best_dl = INT64_MAX, processed_dl = INT64_MAX;
    *wait_ns = INT64_MAX;
    int64_t ahead = (int64_t)(s->o.ahead_s * 1e9);
    for (struct lg_job *j = s->jobs; j; j = j->next) {
        if (j->running || j->done || !j->queued || j->dsp == DSP_WAIT)
            continue;
        int64_t dl = deadline(s, j);
        if (j->dsp == DSP_DONE) {
            if (dl < processed_dl) {
                processed_dl = dl;
                processed = j;
            }
            continue;
        }
        if (dl - now > ahead) {
            int64_t w = dl - ahead - now;
            if (w < *wait_ns)
                *wait_ns = w;
            continue;
        }
        if (dl < best_dl) {
            best_dl = dl;
            best = j;
        }
    }
    return processed ? processed : best;
}

static void note_lateness(struct lg_jobs *s, int64_t late_ns, int64_t now)
{
    if (now - s->window_start_ns > OVERLOAD_WINDOW_NS) {
        /* A window with more than a tenth of its chunks late is overload;
         * each such window raises the degrade level, a calm one lowers it. */
        bool over = s->chunks > 0 && s->late_chunks * 10 > s->chunks;
        int before = s->degrade;
        if (over && s->degrade < 2)
            s->degrade++;
        else if (!over && s->late_chunks == 0 && s->degrade > 0)
            s->degrade--;
        if (s->degrade != before)
            lg_log(&jlog, s->degrade > before ? LG_LOG_WARN : LG_LOG_INFO,
                   "%s: %d of %d chunks were late by more than %.1f s; new transcodes now %s",
                   s->degrade > before ? "overload" : "load eased", s->late_chunks, s->chunks,
                   s->o.late_s,
                   s->degrade == 0   ? "at full quality"
                   : s->degrade == 1 ? "at the lowest encoder complexity"
                                     : "at the lowest complexity and a lower bitrate");
        s->window_start_ns = now;
        s->late_chunks = s->chunks = 0;
    }
    s->chunks++;
    if (late_ns > (int64_t)(s->o.late_s * 1e9))
        s->late_chunks++;
}

/* Wakes the readers that wait for data. Under j->lock. */
static void wake_readers(struct lg_job *j)
{
    for (struct lg_job_reader *r = j->readers; r; r = r->next) {
        if (r->armed) {
            r->armed = false;
            r->wake(r->wake_ctx);
        }
    }
}

/* Waits on s->cond until at_ns (CLOCK_MONOTONIC; INT64_MAX: no limit), or
 * a broadcast. Under s->lock. */
static void wait_until(struct lg_jobs *s, int64_t at_ns)
{
    if (at_ns == INT64_MAX) {
        pthread_cond_wait(&s->cond, &s->lock);
        return;
    }
    struct timespec ts = { .tv_sec = at_ns / 1000000000, .tv_nsec = at_ns % 1000000000 };
    if (at_ns < 0)
        ts = (struct timespec){ 0 };
    pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

/* After a worker ran half a chunk of j (submitted: the first half, load and
 * queue; else the second, encode) with result rc: j's times, its state in
 * the batch, its end when rc <= 0, and its readers woken when there are
 * bytes or an end. */
static void half_done(struct lg_jobs *s, struct lg_job *j, int rc, bool submitted)
{
    struct lg_cache_writer *cw = NULL;
    /* Ended: its slot in the batch goes now (its listeners may read on for
     * long). No chunk of it is queued, so no run lists it. */
    if (rc <= 0)
        lg_transcode_unbatch(j->t);
    pthread_mutex_lock(&s->lock);
    pthread_mutex_lock(&j->lock);
    j->media_s = lg_transcode_media_s(j->t);
    for (int i = 0; i < 3; i++)
        j->busy_s[i] = lg_transcode_busy_s(j->t, i);
    if (rc > 0 && submitted) {
        /* The batch may have run it already (then it is "dsp done"). */
        if (j->dsp == DSP_NONE)
            j->dsp = DSP_WAIT;
    } else if (rc <= 0) {
        /* A job ended already (its batch failed) was logged then. */
        if (rc < 0 && !j->done)
            lg_log(&jlog, LG_LOG_WARN, "transcode %s stopped: %s", j->key, lg_strerror(rc));
        j->done = true;
        j->err = rc;
        cw = j->cw;
        j->cw = NULL;
    }
    j->running = false;
    if (!submitted || rc <= 0)
        wake_readers(j);
    pthread_mutex_unlock(&j->lock);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    /* The entry's fsync and rename, outside every lock (j may be gone:
     * its last listener may have left meanwhile). */
    if (cw && rc == 0 && lg_cache_commit(cw) < 0)
        lg_log(&jlog, LG_LOG_DEBUG, "a finished transcode could not be cached");
    else if (cw && rc < 0)
        lg_cache_abort(cw);
}

/* Lateness of j's next chunk, picked at now: after the burst only (a burst
 * is due at once). Under s->lock. */
static void measure_lateness(struct lg_jobs *s, struct lg_job *j, int64_t now)
{
    if (j->media_s < s->o.burst_s)
        return;
    int64_t late = now - (deadline(s, j) + (int64_t)(s->o.burst_s * 1e9));
    lg_hist_observe(lg_prof_scheduler_lateness(), late > 0 ? (double)late / 1e9 : 0);
    if (late > 0)
        j->waited_s += (double)late / 1e9;
    note_lateness(s, late, now);
}

static void *worker(void *arg)
{
    struct lg_jobs *s = arg;
    lg_prof_thread_name("transcode");
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        int64_t now = now_ns(), wait_ns;
        struct lg_job *j = pick(s, now, &wait_ns);
        if (!j) {
            wait_until(s, wait_ns == INT64_MAX ? INT64_MAX : now_ns() + wait_ns);
            continue;
        }
        j->running = true;
        if (j->dsp == DSP_DONE) {
            j->dsp = DSP_NONE;
            pthread_mutex_unlock(&s->lock);
            half_done(s, j, lg_transcode_generate(j->t), false);
        } else if (!j->tb) { /* its own batch: the whole chunk here */
            measure_lateness(s, j, now);
            pthread_mutex_unlock(&s->lock);
            half_done(s, j, lg_transcode_step(j->t), false);
        } else {
            measure_lateness(s, j, now);
            int64_t dl = dsp_deadline(s, j);
            pthread_mutex_unlock(&s->lock);
            half_done(s, j, lg_transcode_submit(j->t, dl), true);
        }
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* A run failed on the GPU: the batch is unusable. Its jobs end with -EIO
 * (their readers are woken), one line is logged, and new jobs join a new
 * batch on the CPU. Under s->lock, from the batch thread. */
static void batch_failed(struct lg_jobs *s, struct lg_transcode_batch *tb)
{
    char why[192];
    int backend = lg_transcode_batch_choice(tb, why, sizeof(why));
    int ended = 0;
    for (struct lg_job *j = s->jobs; j; j = j->next) {
        if (j->tb != tb || j->done)
            continue;
        pthread_mutex_lock(&j->lock);
        j->done = true;
        j->err = -EIO;
        wake_readers(j);
        pthread_mutex_unlock(&j->lock);
        ended++;
    }
    /* Kept until the end (its jobs' transcodes are in it; without memory to
     * remember it, it is left allocated); new jobs run on the CPU, each in
     * its worker. */
    struct lg_transcode_batch **v = realloc(s->failed, (size_t)(s->n_failed + 1) * sizeof(*v));
    if (v) {
        s->failed = v;
        s->failed[s->n_failed++] = tb;
    }
    s->tb = NULL;
    lg_prof_dsp_set("cpu", "the GPU batch failed: each stream's worker runs its DSP");
    lg_log(&jlog, LG_LOG_ERROR,
           "the DSP batch failed on %s (%s): %d transcode(s) stopped with an I/O error; new "
           "ones run on the cpu",
           lg_dsp_backend_name(backend), why, ended);
}

/* The batch thread: runs the batch when the flush policy says, and hands
 * the processed chunks back to the workers. */
static void *batch_main(void *arg)
{
    struct lg_jobs *s = arg;
    lg_prof_thread_name("dsp batch");
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct lg_transcode_batch *tb = s->tb;
        int64_t due = INT64_MAX;
        if (!tb || !lg_transcode_batch_due(tb, now_ns(), &due)) {
            wait_until(s, due);
            continue;
        }
        s->batching = true;
        pthread_mutex_unlock(&s->lock);
        int n = lg_transcode_batch_run(tb, s->ran, (size_t)s->o.max_jobs);
        pthread_mutex_lock(&s->lock);
        s->batching = false;
        /* Every job of the run is still here: a detach waits for the run
         * of a job whose chunk is queued, and a worker's job is running. */
        for (int i = 0; i < n; i++) {
            struct lg_job *j = lg_transcode_ctx(s->ran[i]);
            j->dsp = DSP_DONE;
        }
        if (n == -ENOMEM)
            wait_until(s, now_ns() + NOMEM_RETRY_NS);
        else if (n < 0)
            batch_failed(s, tb);
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Whether the jobs share one batch and its thread: when it can run on a
 * GPU (CUDA, or auto with a usable GPU; tests: emulated), where gathering
 * the jobs' blocks into one launch pays. On the CPU a batch runs one job
 * after the other anyway: each job then has a one-job batch of its own that
 * its worker runs inline (lg_transcode_step), in parallel on every worker and
 * with nothing held back. why gets the reason for the CPU. */
static bool shared_batch(int backend, char *why, size_t cap)
{
    int be = backend & ~LG_DSP_BATCH_EMULATE;
    char st[160];
    if (be == LG_DSP_CPU) {
        snprintf(why, cap, "dsp_backend is cpu: each stream's worker runs its DSP");
        return false;
    }
    if (be == LG_DSP_CUDA || (backend & LG_DSP_BATCH_EMULATE) || lg_dsp_cuda_status(st, sizeof(st)))
        return true;
    snprintf(why, cap, "no usable GPU (%.100s): each stream's worker runs its DSP", st);
    return false;
}

int lg_jobs_new(const struct lg_jobs_opts *o, struct lg_jobs **out)
{
    struct lg_jobs *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->o = *o;
    if (s->o.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->o.workers = n > 0 ? (int)n : 1;
    }
    if (!(s->o.ahead_s > 0))
        s->o.ahead_s = 30;
    if (!(s->o.burst_s >= 0))
        s->o.burst_s = 0;
    if (!(s->o.late_s > 0))
        s->o.late_s = 0.5;
    if (s->o.max_buffered <= 0) {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        int64_t quarter = pages > 0 && page > 0 ? (int64_t)pages * page / 4 : 0;
        s->o.max_buffered = quarter > MIN_AUTO_BUFFERED ? quarter : MIN_AUTO_BUFFERED;
    }
    if (s->o.max_jobs <= 0)
        s->o.max_jobs = DEFAULT_MAX_JOBS;
    if (s->o.max_jobs > MAX_JOBS)
        s->o.max_jobs = MAX_JOBS;
    char why[192];
    int rc = 0;
    if (shared_batch(s->o.backend, why, sizeof(why))) {
        rc = lg_transcode_batch_new(s->o.backend, s->o.max_jobs, &s->tb, why, sizeof(why));
        s->ran = rc == 0 ? calloc((size_t)s->o.max_jobs, sizeof(*s->ran)) : NULL;
    } else {
        lg_prof_dsp_set("cpu", why);
    }
    if (rc < 0 || (s->tb && !s->ran)) {
        if (rc == -ENODEV)
            lg_log(&jlog, LG_LOG_ERROR, "cannot stream on cuda: %s", why);
        lg_transcode_batch_free(s->tb);
        free(s);
        return rc < 0 ? rc : -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    s->window_start_ns = now_ns();
    s->threads = calloc((size_t)s->o.workers, sizeof(*s->threads));
    for (int i = 0; s->threads && i < s->o.workers; i++) {
        if (pthread_create(&s->threads[i], NULL, worker, s) != 0)
            break;
        s->n_threads++;
    }
    if (s->tb)
        s->have_batch_thread = pthread_create(&s->batch_thread, NULL, batch_main, s) == 0;
    if (s->n_threads == 0 || (s->tb && !s->have_batch_thread)) {
        lg_jobs_free(s);
        return -EAGAIN;
    }
    *out = s;
    return 0;
}

static void job_free(struct lg_job *j)
{
    if (j->cw)
        lg_cache_abort(j->cw);
    lg_transcode_free(j->t);
    pthread_mutex_destroy(&j->lock);
    atomic_fetch_sub(&j->sched->buffered, (int64_t)j->cap);
    free(j->buf);
    free(j);
    lg_prof_gauge_add(LG_PROF_JOBS_RUNNING, -1);
}

void lg_jobs_free(struct lg_jobs *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < s->n_threads; i++)
        pthread_join(s->threads[i], NULL);
    if (s->have_batch_thread)
        pthread_join(s->batch_thread, NULL);
    /* Readers must be gone (the HTTP server stopped first). */
    while (s->jobs) {
        struct lg_job *j = s->jobs;
        s->jobs = j->next;
        job_free(j);
    }
    lg_transcode_batch_free(s->tb);
    for (int i = 0; i < s->n_failed; i++)
        lg_transcode_batch_free(s->failed[i]);
    free(s->failed);
    free(s->ran);
    free(s->threads);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void lg_jobs_cancel(struct lg_jobs *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    for (struct lg_job *j = s->jobs; j; j = j->next) {
        pthread_mutex_lock(&j->lock);
        if (!j->done) {
            j->done = true;
            j->err = -ECANCELED;
        }
        wake_readers(j); /* none waits again: every job is done */
        pthread_mutex_unlock(&j->lock);
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int lg_jobs_degrade(const struct lg_jobs *s)
{
    return s->degrade;
}

void lg_jobs_fail_dsp(struct lg_jobs *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->tb)
        lg_transcode_batch_fail_next(s->tb);
    pthread_mutex_unlock(&s->lock);
}

/* Opens j's transcode in batch tb; when that batch failed meanwhile, once
 * more in the one that replaced it. */
static int open_transcode(struct lg_jobs *s, struct lg_job *j, const char *path,
                          struct lg_transcode_opts *o, struct lg_transcode_batch *tb, char *err,
                          size_t err_len)
{
    lg_encoder_seek_fn *seek = o->format == LG_FORMAT_WAV ? NULL : job_seek;
    o->batch = tb;
    if (!tb)
        o->backend = LG_DSP_CPU; /* a batch of its own, run by its worker */
    int rc = lg_transcode_open(path, o, job_write, seek, j, &j->t, err, err_len);
    if (rc == -EIO) {
        pthread_mutex_lock(&s->lock);
        struct lg_transcode_batch *now = s->tb;
        pthread_mutex_unlock(&s->lock);
        if (now != tb) {
            o->batch = tb = now;
            if (!tb)
                o->backend = LG_DSP_CPU;
            rc = lg_transcode_open(path, o, job_write, seek, j, &j->t, err, err_len);
        }
    }
    if (rc == 0)
        j->tb = tb;
    return rc;
}

int lg_jobs_attach(struct lg_jobs *s, const char *key, const char *path,
                   const struct lg_transcode_opts *o, lg_job_wake_fn *wake, void *wake_ctx,
                   struct lg_job_reader **out, bool *shared, char *err, size_t err_len)
{
    if (strlen(key) >= KEY_MAX)
        return LG_EINVAL;
    struct lg_job_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->wake = wake;
    r->wake_ctx = wake_ctx;
    pthread_mutex_lock(&s->lock);
    if (s->stop) {
        pthread_mutex_unlock(&s->lock);
        free(r);
        return -ECANCELED;
    }
    struct lg_job *j = s->jobs;
    while (j && (j->done || strcmp(j->key, key) != 0))
        j = j->next;
    *shared = j != NULL;
    if (!j && atomic_load(&s->buffered) > s->o.max_buffered / 4 * 3) {
        pthread_mutex_unlock(&s->lock);
        free(r);
        if (err && err_len)
            snprintf(err, err_len, "the transcodes' memory is nearly full");
        return -EBUSY;
    }
    if (!j) {
        int degrade = s->degrade;
        struct lg_transcode_batch *tb = s->tb;
        pthread_mutex_unlock(&s->lock);
        j = calloc(1, sizeof(*j));
        if (!j) {
            free(r);
            return -ENOMEM;
        }
        j->sched = s;
        snprintf(j->key, sizeof(j->key), "%s", key);
        pthread_mutex_init(&j->lock, NULL);
        struct lg_transcode_opts eff = *o;
        if (degrade >= 1) {
            eff.complexity = 0;
            lg_prof_count(LG_PROF_DEGRADED, 1);
        }
        if (degrade >= 2 && !lg_format_lossless(eff.format))
            eff.bitrate_kbps = lg_format_bitrate(eff.format, eff.bitrate_kbps) * 3 / 4;
        /* Cached under the key asked for, only at full quality. */
        if (s->o.cache && degrade == 0 && lg_cache_begin(s->o.cache, key, &j->cw) < 0)
            j->cw = NULL;
        lg_prof_gauge_add(LG_PROF_JOBS_RUNNING, 1);
        lg_prof_count(LG_PROF_JOBS_STARTED, 1);
        int rc = open_transcode(s, j, path, &eff, tb, err, err_len);
        if (rc < 0) {
            job_free(j);
            free(r);
            return rc;
        }
        pthread_mutex_lock(&s->lock);
        if (s->stop) { /* shutdown began while it opened: over at once */
            j->done = true;
            j->err = -ECANCELED;
        }
        j->next = s->jobs;
        s->jobs = j;
    }
    if (!j->first_start_ns)
        j->first_start_ns = now_ns();
    pthread_mutex_lock(&j->lock);
    r->job = j;
    r->next = j->readers;
    j->readers = r;
    j->n_readers++;
    pthread_mutex_unlock(&j->lock);
    j->queued = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    *out = r;
    return 0;
}

ssize_t lg_job_read(struct lg_job_reader *r, void *buf, size_t max, int64_t now,
                    lg_job_wake_fn *suspend, void *suspend_ctx)
{
    struct lg_job *j = r->job;
    struct lg_jobs *s = j->sched;
    pthread_mutex_lock(&s->lock);
    pthread_mutex_lock(&j->lock);
    ssize_t n;
    if (r->off < j->total) {
        size_t avail = (size_t)(j->total - r->off);
        n = (ssize_t)(avail < max ? avail : max);
        memcpy(buf, j->buf + r->off, (size_t)n);
        r->off += n;
        if (!r->start_ns) {
            r->start_ns = now;
            if (!j->first_start_ns || now < j->first_start_ns)
                j->first_start_ns = now;
        }
    } else if (j->done) {
        n = j->err < 0 ? j->err : LG_JOB_EOF;
    } else {
        r->armed = true;
        if (suspend)
            suspend(suspend_ctx); /* under the lock: a wake cannot come first */
        n = 0;
    }
    pthread_mutex_unlock(&j->lock);
    pthread_mutex_unlock(&s->lock);
    return n;
}

void lg_job_stats(const struct lg_job_reader *r, struct lg_job_stats *out)
{
    struct lg_job *j = r->job;
    pthread_mutex_lock(&j->sched->lock);
    out->made_s = j->media_s;
    for (int i = 0; i < 3; i++)
        out->busy_s[i] = j->busy_s[i];
    out->waited_s = j->waited_s;
    out->readers = j->n_readers;
    pthread_mutex_lock(&j->lock); /* total moves with every write */
    int64_t total = j->total;
    pthread_mutex_unlock(&j->lock);
    pthread_mutex_unlock(&j->sched->lock);
    out->read_s = total > 0 ? out->made_s * (double)r->off / (double)total : 0;
}

void lg_job_detach(struct lg_job_reader *r)
{
    if (!r)
        return;
    struct lg_job *j = r->job;
    struct lg_jobs *s = j->sched;
    pthread_mutex_lock(&s->lock);
    pthread_mutex_lock(&j->lock);
    for (struct lg_job_reader **p = &j->readers; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    j->n_readers--;
    bool last = j->n_readers == 0;
    pthread_mutex_unlock(&j->lock);
    free(r);
    /* The last listener gone: a job still running stops at once (unless a
     * worker has it now, or the batch is running its chunk: it is freed
     * when that ends, below). */
    if (last) {
        /* Done from now on: no worker picks it and no listener attaches to
         * it while this waits for a chunk in progress. */
        j->done = true;
        while (j->running || (j->dsp == DSP_WAIT && s->batching))
            pthread_cond_wait(&s->cond, &s->lock);
        /* A queued chunk leaves the batch now, before a run could list
         * the job (no run is in progress while this holds the lock). */
        if (j->dsp == DSP_WAIT)
            lg_transcode_unbatch(j->t);
        for (struct lg_job **p = &s->jobs; *p; p = &(*p)->next) {
            if (*p == j) {
                *p = j->next;
                break;
            }
        }
        pthread_mutex_unlock(&s->lock);
        job_free(j);
        /* One job fewer may make the batch due (every live job queued). */
        pthread_mutex_lock(&s->lock);
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Why a listener's buffer is low, and the stage to blame: bytes made but not
 * taken mean the network (send); chunks that waited past their deadlines
 * mean no worker was free (overload, counted against generate, the stage
 * the workers spend most on); otherwise the slowest stage of the job. */
int lg_job_diagnose(const struct lg_job_stats *st, char *why, size_t cap)
{
    if (st->made_s - st->read_s > 1.0) {
        snprintf(why, cap, "%.1f s of audio were ready but the connection took them too slowly",
                 st->made_s - st->read_s);
        return LG_STAGE_SEND;
    }
    double busy = st->busy_s[0] + st->busy_s[1] + st->busy_s[2];
    if (st->waited_s > busy) {
        snprintf(why, cap,
                 "its chunks waited %.1f s in all for a free worker: the server is overloaded",
                 st->waited_s);
        return LG_STAGE_GENERATE;
    }
    int late = LG_STAGE_LOAD;
    for (int i = LG_STAGE_PROCESS; i <= LG_STAGE_GENERATE; i++)
        late = st->busy_s[i] > st->busy_s[late] ? i : late;
    snprintf(why, cap, "stage %s took %.0f %% of its time, at %.1fx realtime overall",
             lg_prof_stage_name(late), busy > 0 ? 100 * st->busy_s[late] / busy : 0,
             busy > 0 ? st->made_s / busy : 0);
    return late;
}
