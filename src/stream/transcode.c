/* SPDX-License-Identifier: MIT */
/*
 * The transcode pipeline: load (read, demux, decode: media/decode.c),
 * process (src/dsp's streaming batcher: resample to the encoder's rate, gain,
 * true-peak limiter), generate (encode, mux: media/encode.c). A step moves
 * one chunk through all three and hands the bytes it made to the sink before
 * returning, so that a caller that sends them at once (the send stage) gets
 * first bytes after one small chunk. Load and generate are timed into the
 * profiler's histograms labelled (stage, format, "cpu"); process is each
 * transcode's share of the batch runs, labelled with where they ran.
 *
 * The process stage is a batch (struct lg_transcode_batch): a streaming
 * batcher and the mutex that serialises every call into it. The scheduler
 * (jobs.c) shares one between all its jobs and runs it on its own thread:
 * a step is then two halves, lg_transcode_submit (load, queue the chunk)
 * and, once a run has processed it, lg_transcode_generate (take the output,
 * encode). A transcode opened without a batch (`legato transcode`,
 * `legato profile`, tests) gets a one-job batch of its own that
 * lg_transcode_step runs between the halves. On the CPU the batcher runs the
 * same lg_resampler, lg_gain and lg_limiter a transcode ran itself before
 * batching, so the output is the same, sample for sample.
 *
 * Lengths are exact: the batcher's resampler is delay-compensated and
 * length-exact, it cuts the limiter's look-ahead from the front and adds
 * its tail at the end, and the encoder signals its own delay and padding,
 * so a decoder that honours them gets back exactly round(n * out_rate /
 * in_rate) frames for n source frames.
 *
 * Locks: a batch's mutex is held across a run and briefly by submit and
 * take; it is a leaf (only the batcher and the profiler are called under
 * it). The fields of a transcode marked below are under its batch's mutex;
 * the rest belong to the thread that runs the transcode's halves.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "dsp/dsp.h"
#include "media/media.h"
#include "prof/prof.h"
#include "stream/stream.h"

enum {
    FIRST_CHUNK_MS = 100, /* the first chunk: small, for a fast first byte */
    MIN_RATE = 4000,      /* the lowest source sample rate taken, Hz */
    MAX_BATCH_JOBS = 65536,
    /* Trace rows of the CUDA phases: far from thread ids (which count up
     * from 1) and below the rows of CUPTI's streams (1000000 + stream). */
    ROW_UPLOAD = 900001,
    ROW_KERNELS,
    ROW_DOWNLOAD,
};
#define LIMIT_CEILING_DBTP (-1.0)
#define LIMIT_LOOKAHEAD_MS 5.0
#define LIMIT_RELEASE_MS   150.0

struct lg_transcode_batch {
    pthread_mutex_t lock; /* every call into b and every field below */
    struct lg_dsp_batcher *b;
    int max_jobs;
    struct lg_transcode **by_id; /* the transcode of each job id; NULL when free */
    int *queued;                 /* ids with a chunk for the next run, in order */
    int n_queued;
    int err;        /* -EIO once a run failed: nothing runs again */
    bool fail_next; /* tests: the next run fails */
};

struct lg_transcode {
    struct lg_decoder *dec;
    struct lg_encoder *enc;
    struct lg_transcode_batch *tb;  /* the process stage; NULL until joined */
    struct lg_transcode_batch *own; /* tb when it is this transcode's own */
    int id;                         /* its job in tb->b; -1 when none */
    void *ctx;                      /* the sink's */
    int format;
    const char *fname;
    int in_rate, out_rate, channels;
    /* Decoded frames: the chunk (in_len), then what the last read gave
     * beyond it (in_carry), which starts the next chunk. */
    float *in;
    size_t in_len, in_carry, in_cap;
    float *out; /* processed frames */
    size_t out_cap;
    int64_t frames_out; /* frames given to the encoder */
    int64_t chunks;
    bool eof;  /* the decoder has ended */
    bool last; /* the chunk with the end of the input was submitted */
    bool done;
    struct lg_hist *load_hist, *gen_hist;
    _Atomic int64_t busy_ns[LG_STAGE_N - 1]; /* load, process, generate */
    /* Under tb->lock: */
    bool queued;                /* in tb->queued */
    uint64_t queued_samples;    /* input samples queued for the next run */
    struct lg_hist *process[2]; /* process histograms by backend (cpu, cuda), made on use */
};

static int grow(float **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    float *q = realloc(*p, n * sizeof(float));
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* --- the batch --- */

/* Tells the profiler where the next run goes: for a batch shared by
 * streams (a transcode's own one-job batch is not the server's choice; its
 * owner says where streams run). Under tb->lock. */
static void report_choice(struct lg_transcode_batch *tb)
{
    if (tb->max_jobs < 2)
        return;
    char why[192];
    int be = lg_dsp_batcher_choice(tb->b, why, sizeof(why));
    lg_prof_dsp_set(lg_dsp_backend_name(be), why);
}

/* A CUDA phase's time (summed over the run's parts) into its histogram,
 * and a span of that length from the run's start on its own trace row. */
static void report_phase(const char *name, int32_t row, double ms,
                         const struct lg_dsp_batcher_stats *st)
{
    lg_hist_observe(lg_prof_stage(name, "all", "cuda"), ms / 1e3);
    double shown = ms < st->wall_ms ? ms : st->wall_ms;
    lg_prof_trace_event(name, "cuda", row, st->begin_ns, st->begin_ns + (int64_t)(shown * 1e6));
}

/* The batcher's report at the end of every run, under tb->lock: each
 * queued transcode's share of the processing time (by input samples; equal
 * shares for a run of tails alone) goes into its process histogram and
 * busy time, and into the trace as "process" spans laid end to end from the
 * run's start on the running thread's row (the CPU runs jobs one after the
 * other, so that is about where each ran). */
static void on_run(const struct lg_dsp_batcher_stats *st, void *ctx)
{
    struct lg_transcode_batch *tb = ctx;
    report_choice(tb);
    if (!lg_prof_enabled() || tb->n_queued == 0)
        return;
    int cuda = st->backend == LG_DSP_CUDA;
    /* CUDA events on a GPU (0 with events off), else the host's loop; the
     * run's wall time when neither was measured. */
    double ms = cuda && !st->emulated ? st->gpu_ms : st->cpu_ms;
    if (!(ms > 0))
        ms = st->wall_ms;
    double run_ns = ms * 1e6;
    int64_t at = st->begin_ns;
    int32_t row = lg_prof_thread_id();
    for (int i = 0; i < tb->n_queued; i++) {
        struct lg_transcode *t = tb->by_id[tb->queued[i]];
        double f = st->size ? (double)t->queued_samples / (double)st->size : 1.0 / tb->n_queued;
        int64_t share = (int64_t)(run_ns * f);
        if (!t->process[cuda])
            t->process[cuda] = lg_prof_stage("process", t->fname, cuda ? "cuda" : "cpu");
        lg_hist_record_ns(t->process[cuda], share);
        t->busy_ns[LG_STAGE_PROCESS] += share;
        lg_prof_trace_event("process", NULL, row, at, at + share);
        at += share;
    }
    if (cuda) {
        report_phase("upload", ROW_UPLOAD, st->upload_ms, st);
        report_phase("kernels", ROW_KERNELS, st->kernels_ms, st);
        report_phase("download", ROW_DOWNLOAD, st->download_ms, st);
    }
}

int lg_transcode_batch_new(int backend, int max_jobs, struct lg_transcode_batch **out, char *why,
                           size_t cap)
{
    if (why && cap)
        *why = '\0';
    int be = backend & ~LG_DSP_BATCH_EMULATE;
    if ((be != LG_DSP_CPU && be != LG_DSP_CUDA && be != LG_DSP_AUTO) || max_jobs < 1 ||
        max_jobs > MAX_BATCH_JOBS)
        return LG_EINVAL;
    char cuda_why[160] = "";
    if (be == LG_DSP_CUDA && !(backend & LG_DSP_BATCH_EMULATE) &&
        !lg_dsp_cuda_status(cuda_why, sizeof(cuda_why)))
    {
        if (why && cap)
            snprintf(why, cap, "the CUDA backend cannot run here: %s", cuda_why);
        return -ENODEV;
    }
    struct lg_transcode_batch *tb = calloc(1, sizeof(*tb));
    if (!tb)
        return -ENOMEM;
    tb->max_jobs = max_jobs;
    tb->by_id = calloc((size_t)max_jobs, sizeof(*tb->by_id));
    tb->queued = calloc((size_t)max_jobs, sizeof(*tb->queued));
    /* A span of its own: on CUDA this uploads the limiter's coefficients,
     * and a trace shows those copies inside it. */
    int64_t t0 = lg_prof_begin();
    tb->b = lg_dsp_batcher_new(backend, max_jobs, LG_TRANSCODE_BLOCK_FRAMES);
    lg_prof_end(NULL, t0, "open");
    if (!tb->by_id || !tb->queued || !tb->b) {
        /* A usable GPU whose batcher did not start: its streams or memory. */
        int rc = tb->by_id && tb->queued && be == LG_DSP_CUDA ? -ENODEV : -ENOMEM;
        if (rc == -ENODEV && why && cap)
            snprintf(why, cap, "the CUDA batcher could not start on %s", cuda_why);
        lg_dsp_batcher_free(tb->b);
        free(tb->by_id);
        free(tb->queued);
        free(tb);
        return rc;
    }
    pthread_mutex_init(&tb->lock, NULL);
    lg_dsp_batcher_on_run(tb->b, on_run, tb);
    if (be != LG_DSP_CPU && ((backend & LG_DSP_BATCH_EMULATE) || lg_dsp_cuda_status(NULL, 0))) {
        lg_prof_trace_row_name(ROW_UPLOAD, "gpu upload");
        lg_prof_trace_row_name(ROW_KERNELS, "gpu kernels");
        lg_prof_trace_row_name(ROW_DOWNLOAD, "gpu download");
    }
    report_choice(tb);
    *out = tb;
    return 0;
}

void lg_transcode_batch_free(struct lg_transcode_batch *tb)
{
    if (!tb)
        return;
    lg_dsp_batcher_free(tb->b);
    pthread_mutex_destroy(&tb->lock);
    free(tb->by_id);
    free(tb->queued);
    free(tb);
}

int lg_transcode_batch_due(struct lg_transcode_batch *tb, int64_t now_ns, int64_t *due_ns)
{
    pthread_mutex_lock(&tb->lock);
    int due = 0;
    *due_ns = INT64_MAX;
    if (!tb->err && tb->n_queued > 0) {
        due = lg_dsp_batcher_should_run(tb->b, now_ns);
        *due_ns = lg_dsp_batcher_due_ns(tb->b);
    }
    pthread_mutex_unlock(&tb->lock);
    return due;
}

int lg_transcode_batch_run(struct lg_transcode_batch *tb, struct lg_transcode **ran, size_t cap)
{
    pthread_mutex_lock(&tb->lock);
    int rc = tb->err;
    if (rc == 0 && tb->n_queued > 0) {
        lg_dsp_nvtx_push("process");
        int64_t t0 = lg_prof_begin();
        rc = tb->fail_next ? -EIO : lg_dsp_batcher_run(tb->b, lg_prof_now_ns());
        lg_prof_end(NULL, t0, "batch");
        lg_dsp_nvtx_pop();
        tb->fail_next = false;
        /* -ENOMEM ran nothing; anything else leaves the jobs' state
         * undefined (on a GPU, lost): the batch is over. */
        if (rc < 0 && rc != -ENOMEM)
            tb->err = rc = -EIO;
    }
    if (rc >= 0) {
        size_t n = 0;
        for (int i = 0; i < tb->n_queued; i++) {
            struct lg_transcode *t = tb->by_id[tb->queued[i]];
            t->queued = false;
            t->queued_samples = 0;
            if (n < cap)
                ran[n++] = t;
        }
        tb->n_queued = 0;
        rc = (int)n;
    }
    pthread_mutex_unlock(&tb->lock);
    return rc;
}

int lg_transcode_batch_choice(struct lg_transcode_batch *tb, char *why, size_t cap)
{
    pthread_mutex_lock(&tb->lock);
    int be = lg_dsp_batcher_choice(tb->b, why, cap);
    pthread_mutex_unlock(&tb->lock);
    return be;
}

void lg_transcode_batch_fail_next(struct lg_transcode_batch *tb)
{
    pthread_mutex_lock(&tb->lock);
    tb->fail_next = true;
    pthread_mutex_unlock(&tb->lock);
}

/* Adds t's job to tb with the pipeline's settings. */
static int join_batch(struct lg_transcode *t, struct lg_transcode_batch *tb,
                      const struct lg_transcode_opts *o, char *err, size_t err_len)
{
    struct lg_dsp_job_params p = {
        .in_rate = t->in_rate,
        .out_rate = t->out_rate,
        .channels = t->channels,
        .gain_db = o->gain_db,
        .limit = o->limit,
        .ceiling_dbtp = LIMIT_CEILING_DBTP,
        .lookahead_ms = LIMIT_LOOKAHEAD_MS,
        .release_ms = LIMIT_RELEASE_MS,
    };
    pthread_mutex_lock(&tb->lock);
    /* On CUDA, adding uploads the job's state and its resampler table. */
    int64_t t0 = lg_prof_begin();
    int id = tb->err ? tb->err : lg_dsp_batcher_add(tb->b, &p);
    lg_prof_end(NULL, t0, "join");
    if (id >= 0) {
        tb->by_id[id] = t;
        t->tb = tb;
        t->id = id;
    }
    pthread_mutex_unlock(&tb->lock);
    if (id >= 0)
        return 0;
    const char *why = NULL;
    if (id == -EINVAL) {
        id = LG_EMEDIA;
        why = "the DSP cannot take this source's rate or channels";
    } else if (id == -ENOSPC) {
        why = "too many transcodes at once";
    } else if (id == -EIO) {
        why = "the DSP batch failed";
    }
    if (why && err && err_len)
        snprintf(err, err_len, "%s", why);
    return id;
}

void lg_transcode_unbatch(struct lg_transcode *t)
{
    if (!t || !t->tb || t->id < 0)
        return;
    struct lg_transcode_batch *tb = t->tb;
    pthread_mutex_lock(&tb->lock);
    lg_dsp_batcher_remove(tb->b, t->id);
    tb->by_id[t->id] = NULL;
    for (int i = 0; t->queued && i < tb->n_queued; i++) {
        if (tb->queued[i] == t->id) {
            memmove(tb->queued + i, tb->queued + i + 1,
                    (size_t)(tb->n_queued - i - 1) * sizeof(*tb->queued));
            tb->n_queued--;
            break;
        }
    }
    t->queued = false;
    t->id = -1;
    pthread_mutex_unlock(&tb->lock);
}

/* --- the pipeline --- */

void lg_transcode_free(struct lg_transcode *t)
{
    if (!t)
        return;
    lg_transcode_unbatch(t);
    lg_transcode_batch_free(t->own);
    lg_decoder_free(t->dec);
    lg_encoder_free(t->enc);
    free(t->in);
    free(t->out);
    free(t);
}

static bool opts_ok(const struct lg_transcode_opts *o)
{
    return o && lg_format_parse(lg_format_name(o->format)) == o->format && o->offset_s >= 0 &&
           isfinite(o->offset_s) && isfinite(o->gain_db) && fabs(o->gain_db) <= 60;
}

/* The decoder, seeked to the offset, and the rates. */
static int open_source(struct lg_transcode *t, const char *path, const struct lg_transcode_opts *o,
                       char *err, size_t err_len)
{
    int r = lg_decoder_open(path, &t->dec, err, err_len);
    if (r == 0) {
        t->in_rate = lg_decoder_rate(t->dec);
        t->channels = lg_decoder_channels(t->dec);
        t->out_rate = lg_format_rate(o->format, t->in_rate);
        /* The limiter's look-ahead takes 27 kHz or more: a low-rate source
         * (a 22.05 kHz podcast) is resampled up when it is limited. */
        if (o->limit && t->out_rate < 32000)
            t->out_rate = t->in_rate % 11025 == 0 ? 44100 : 48000;
        if (t->channels > LG_DSP_BATCH_MAX_CHANNELS) {
            r = LG_EMEDIA;
            if (err && err_len)
                snprintf(err, err_len, "more than %d channels", LG_DSP_BATCH_MAX_CHANNELS);
        } else if (t->in_rate < MIN_RATE) {
            /* No music is sampled so slowly; a header that says so would
             * make the resampler reserve gigabytes for its ratio. */
            r = LG_EMEDIA;
            if (err && err_len)
                snprintf(err, err_len, "sample rate %d Hz, under %d", t->in_rate, MIN_RATE);
        }
    }
    if (r == 0 && o->offset_s > 0)
        r = lg_decoder_seek(t->dec, (int64_t)llround(o->offset_s * t->in_rate));
    return r;
}

int lg_transcode_open(const char *path, const struct lg_transcode_opts *o,
                      lg_encoder_write_fn *write, lg_encoder_seek_fn *seek, void *ctx,
                      struct lg_transcode **out, char *err, size_t err_len)
{
    if (err && err_len)
        *err = '\0';
    if (!opts_ok(o)) {
        if (err && err_len)
            snprintf(err, err_len, "bad transcode options");
        return LG_EINVAL;
    }
    struct lg_transcode *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->id = -1;
    t->ctx = ctx;
    t->format = o->format;
    t->fname = lg_format_name(o->format);
    t->load_hist = lg_prof_stage("load", t->fname, "cpu");
    t->gen_hist = lg_prof_stage("generate", t->fname, "cpu");
    int64_t t0 = lg_prof_begin();
    int r = open_source(t, path, o, err, err_len);
    t->busy_ns[LG_STAGE_LOAD] += lg_prof_end(t->load_hist, t0, "load");
    struct lg_transcode_batch *tb = o->batch;
    if (r == 0 && !tb) {
        r = lg_transcode_batch_new(o->backend, 1, &t->own, err, err_len);
        tb = t->own;
    }
    if (r == 0)
        r = join_batch(t, tb, o, err, err_len);
    if (r == 0) {
        struct lg_encode_opts eo = {
            .format = o->format,
            .bitrate_kbps = o->bitrate_kbps,
            .rate = t->out_rate,
            .channels = t->channels,
            .bits = o->bits,
            .complexity = o->complexity,
        };
        int64_t g0 = lg_prof_begin();
        r = lg_encoder_open(&eo, write, seek, ctx, &t->enc, err, err_len);
        t->busy_ns[LG_STAGE_GENERATE] += lg_prof_end(t->gen_hist, g0, "generate");
    }
    if (r < 0) {
        lg_transcode_free(t);
        return r;
    }
    *out = t;
    return 0;
}

/* load: gathers want decoded frames (fewer at the end). A read that gives
 * more than the chunk needs leaves the rest for the next one, so that no
 * chunk exceeds what the batch takes per run. */
static int load(struct lg_transcode *t, size_t want)
{
    size_t ch = (size_t)t->channels;
    if (t->in_carry)
        memmove(t->in, t->in + t->in_len * ch, t->in_carry * ch * sizeof(float));
    t->in_len = t->in_carry;
    t->in_carry = 0;
    while (!t->eof && t->in_len < want) {
        const float *pcm;
        int n = lg_decoder_read(t->dec, &pcm);
        if (n < 0)
            return n;
        if (n == 0) {
            t->eof = true;
            break;
        }
        if (grow(&t->in, &t->in_cap, (t->in_len + (size_t)n) * ch) < 0)
            return -ENOMEM;
        memcpy(t->in + t->in_len * ch, pcm, (size_t)n * ch * sizeof(float));
        t->in_len += (size_t)n;
    }
    if (t->in_len > want) {
        t->in_carry = t->in_len - want;
        t->in_len = want;
    }
    return 0;
}

/* Queues the loaded chunk (and the end of the input after the last one). */
static int queue_chunk(struct lg_transcode *t, bool last, int64_t deadline_ns)
{
    struct lg_transcode_batch *tb = t->tb;
    pthread_mutex_lock(&tb->lock);
    int r = tb->err ? tb->err : t->id < 0 ? LG_EINVAL : 0;
    if (r == 0)
        r = lg_dsp_batcher_submit(tb->b, t->id, t->in, t->in_len, deadline_ns);
    if (r == 0 && last)
        r = lg_dsp_batcher_flush(tb->b, t->id);
    if (r == 0) {
        if (!t->queued)
            tb->queued[tb->n_queued++] = t->id;
        t->queued = true;
        t->queued_samples += (uint64_t)t->in_len * (uint64_t)t->channels;
    }
    pthread_mutex_unlock(&tb->lock);
    return r;
}

/* Takes the processed chunk into t->out; *n_out frames. */
static int take_chunk(struct lg_transcode *t, size_t *n_out)
{
    struct lg_transcode_batch *tb = t->tb;
    size_t ch = (size_t)t->channels, n = 0;
    pthread_mutex_lock(&tb->lock);
    /* Taking before the chunk ran would lose the order of the stream. */
    int r = tb->err ? tb->err : t->id < 0 || t->queued ? LG_EINVAL : 0;
    if (r == 0) {
        n = lg_dsp_batcher_available(tb->b, t->id);
        r = grow(&t->out, &t->out_cap, (n + 1) * ch);
    }
    if (r == 0)
        n = lg_dsp_batcher_take(tb->b, t->id, t->out, n);
    if (r == 0 && t->last && !lg_dsp_batcher_done(tb->b, t->id))
        r = LG_EINVAL;
    pthread_mutex_unlock(&tb->lock);
    *n_out = r == 0 ? n : 0;
    return r;
}

int lg_transcode_submit(struct lg_transcode *t, int64_t deadline_ns)
{
    if (t->done)
        return 0;
    if (t->last)
        return LG_EINVAL; /* the end is queued already: generate comes next */
    int ms = t->chunks++ == 0 ? FIRST_CHUNK_MS : LG_TRANSCODE_CHUNK_MS;
    size_t want = (size_t)t->in_rate * (size_t)ms / 1000;
    want = want < 1 ? 1 : want > LG_TRANSCODE_BLOCK_FRAMES ? LG_TRANSCODE_BLOCK_FRAMES : want;
    lg_dsp_nvtx_push("load");
    int64_t t0 = lg_prof_begin();
    int r = load(t, want);
    t->busy_ns[LG_STAGE_LOAD] += lg_prof_end(t->load_hist, t0, "load");
    lg_dsp_nvtx_pop();
    if (r < 0)
        return r;
    bool last = t->eof && t->in_carry == 0;
    lg_dsp_nvtx_push("process");
    t0 = lg_prof_begin();
    r = queue_chunk(t, last, deadline_ns);
    t->busy_ns[LG_STAGE_PROCESS] += lg_prof_end(NULL, t0, "submit");
    lg_dsp_nvtx_pop();
    if (r < 0)
        return r;
    t->last = last;
    return 1;
}

int lg_transcode_generate(struct lg_transcode *t)
{
    if (t->done)
        return 0;
    size_t n = 0;
    lg_dsp_nvtx_push("process");
    int64_t t0 = lg_prof_begin();
    int r = take_chunk(t, &n);
    t->busy_ns[LG_STAGE_PROCESS] += lg_prof_end(NULL, t0, "take");
    lg_dsp_nvtx_pop();
    if (r < 0)
        return r;
    lg_dsp_nvtx_push("generate");
    t0 = lg_prof_begin();
    r = n ? lg_encoder_write(t->enc, t->out, n) : 0;
    t->frames_out += (int64_t)n;
    if (r == 0 && t->last) {
        r = lg_encoder_finish(t->enc);
        t->done = r == 0;
    }
    t->busy_ns[LG_STAGE_GENERATE] += lg_prof_end(t->gen_hist, t0, "generate");
    lg_dsp_nvtx_pop();
    if (r < 0)
        return r;
    return t->done ? 0 : 1;
}

int lg_transcode_step(struct lg_transcode *t)
{
    if (t->done)
        return 0;
    if (!t->own)
        return LG_EINVAL;
    int r = lg_transcode_submit(t, lg_prof_now_ns());
    if (r <= 0)
        return r;
    struct lg_transcode *ran[1];
    r = lg_transcode_batch_run(t->own, ran, 1);
    if (r < 0)
        return r;
    return lg_transcode_generate(t);
}

int lg_transcode_rate(const struct lg_transcode *t)
{
    return t->out_rate;
}

int lg_transcode_channels(const struct lg_transcode *t)
{
    return t->channels;
}

void *lg_transcode_ctx(const struct lg_transcode *t)
{
    return t->ctx;
}

double lg_transcode_media_s(const struct lg_transcode *t)
{
    return (double)t->frames_out / t->out_rate;
}

double lg_transcode_busy_s(const struct lg_transcode *t, int stage)
{
    return stage >= 0 && stage < LG_STAGE_N - 1 ? (double)t->busy_ns[stage] / 1e9 : 0;
}

int64_t lg_transcode_frames(const struct lg_transcode *t)
{
    return t->frames_out;
}

/* --- file to file --- */

struct file_sink {
    int fd;
    int64_t pos;
};

static int file_write(void *ctx, const uint8_t *data, size_t len)
{
    struct file_sink *f = ctx;
    int r = lg_pwrite_all(f->fd, f->pos, data, len);
    if (r == 0)
        f->pos += (int64_t)len;
    return r;
}

static int file_seek(void *ctx, int64_t off)
{
    struct file_sink *f = ctx;
    f->pos = off;
    return 0;
}

static int stdout_write(void *ctx, const uint8_t *data, size_t len)
{
    struct file_sink *f = ctx;
    return lg_write_all(f->fd, data, len);
}

int lg_transcode_file(const char *in, const char *out, const struct lg_transcode_opts *o, char *err,
                      size_t err_len)
{
    bool to_stdout = strcmp(out, "-") == 0;
    char *tmp = NULL;
    struct file_sink sink = { .fd = STDOUT_FILENO };
    if (!to_stdout) {
        /* Written beside the target and renamed over it when complete, so a
         * failure never leaves half a file under the target's name. */
        tmp = lg_xasprintf("%s.part-XXXXXX", out);
        sink.fd = mkstemp(tmp);
        if (sink.fd < 0) {
            int e = -errno;
            if (err && err_len)
                snprintf(err, err_len, "cannot create %s: %s", out, strerror(errno));
            free(tmp);
            return e;
        }
    }
    struct lg_transcode *t = NULL;
    int r = lg_transcode_open(in, o, to_stdout ? stdout_write : file_write,
                              to_stdout ? NULL : file_seek, &sink, &t, err, err_len);
    while (r >= 0 && (r = lg_transcode_step(t)) > 0)
        ;
    if (r < 0 && err && err_len && !*err)
        snprintf(err, err_len, "%s", lg_strerror(r));
    lg_transcode_free(t);
    if (!to_stdout) {
        if (r == 0 && (fchmod(sink.fd, 0644) < 0 || fsync(sink.fd) < 0))
            r = -errno;
        if (close(sink.fd) < 0 && r == 0)
            r = -errno;
        if (r == 0 && rename(tmp, out) < 0) {
            r = -errno;
            if (err && err_len)
                snprintf(err, err_len, "cannot write %s: %s", out, strerror(errno));
        }
        if (r < 0)
            unlink(tmp);
        free(tmp);
    }
    return r;
}
