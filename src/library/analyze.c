/* SPDX-License-Identifier: MIT */
/*
 * Analysis of audio files: decode (media/) and measure loudness, loudness
 * range, true and sample peak (dsp/), per file and for a set of files as an
 * album. On the CPU, files are analysed on a pool of threads, one decoder and
 * meter per file. With the CUDA backend, the threads decode whole files into
 * memory while the calling thread hands batches of decoded files to
 * lg_dsp_analyze_batch() (the GPU measures one batch while the next decodes);
 * a file too long to hold is measured on the CPU by its decoding thread. The
 * album values come from the meters' gating blocks, so no audio is read
 * twice.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "dsp/dsp.h"
#include "library/library.h"
#include "media/media.h"

static const struct lg_log alog = { "library/analyze" };

static double finite_or_nan(double v)
{
    return isfinite(v) ? v : NAN;
}

int lg_analyze_file(const char *path, struct lg_analysis *out, char *err, size_t err_len)
{
    return lg_analyze_file_opts(path, NULL, out, err, err_len);
}

/* The values of meter m into a, which takes ownership of m. */
static void fill_values(struct lg_analysis *a, struct lg_loudness *m)
{
    double v;
    a->integrated_lufs = lg_loudness_integrated(m, &v) == 0 ? finite_or_nan(v) : NAN;
    a->range_lu = lg_loudness_range(m, &v) == 0 ? finite_or_nan(v) : NAN;
    a->true_peak_dbtp = lg_loudness_true_peak(m, -1, &v) == 0 ? finite_or_nan(v) : NAN;
    a->sample_peak_dbfs = lg_loudness_sample_peak(m, -1, &v) == 0 ? finite_or_nan(v) : NAN;
    a->meter = m;
}

static bool stop_asked(const struct lg_analyze_opts *o)
{
    return o && o->cancel && atomic_load(o->cancel);
}

int lg_analyze_file_opts(const char *path, const struct lg_analyze_opts *opts,
                         struct lg_analysis *out, char *err, size_t err_len)
{
    struct lg_decoder *d = NULL;
    int r = lg_decoder_open(path, &d, err, err_len);
    if (r < 0)
        return r;
    struct lg_loudness *m =
        lg_loudness_new(lg_decoder_rate(d), lg_decoder_channels(d), LG_LOUDNESS_ALL);
    if (!m) {
        snprintf(err, err_len, "unsupported rate or channel count");
        lg_decoder_free(d);
        return LG_EMEDIA;
    }
    struct lg_analysis a = { 0 };
    a.rate = lg_decoder_rate(d);
    a.channels = lg_decoder_channels(d);
    if (opts && opts->waveform_buckets)
        a.waveform = lg_waveform_new(a.channels, opts->waveform_buckets, 0);
    const float *pcm;
    int n;
    while ((n = lg_decoder_read(d, &pcm)) > 0) {
        r = lg_loudness_add(m, pcm, (size_t)n);
        if (r == 0 && a.waveform)
            lg_waveform_add(a.waveform, pcm, (size_t)n);
        if (r == 0 && stop_asked(opts))
            r = -ECANCELED;
        if (r < 0)
            break;
        a.frames += n;
    }
    lg_decoder_free(d);
    if (n < 0 || r < 0) {
        snprintf(err, err_len, "%s",
                 n < 0             ? "decoding failed"
                 : r == -ECANCELED ? "cancelled"
                                   : "out of memory");
        lg_waveform_free(a.waveform);
        lg_loudness_free(m);
        return n < 0 ? n : r;
    }
    fill_values(&a, m);
    *out = a;
    return 0;
}

void lg_analysis_free(struct lg_analysis *a)
{
    if (a) {
        lg_loudness_free(a->meter);
        lg_waveform_free(a->waveform);
        a->meter = NULL;
        a->waveform = NULL;
    }
}

int lg_analyze_album(const struct lg_analysis *v, size_t n, struct lg_analysis *out)
{
    const struct lg_loudness **meters = calloc(n ? n : 1, sizeof(*meters));
    if (!meters)
        return -ENOMEM;
    struct lg_analysis a = { 0 };
    a.true_peak_dbtp = -HUGE_VAL;
    a.sample_peak_dbfs = -HUGE_VAL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].meter)
            continue;
        meters[k++] = v[i].meter;
        a.frames += v[i].frames;
        if (v[i].true_peak_dbtp > a.true_peak_dbtp)
            a.true_peak_dbtp = v[i].true_peak_dbtp;
        if (v[i].sample_peak_dbfs > a.sample_peak_dbfs)
            a.sample_peak_dbfs = v[i].sample_peak_dbfs;
    }
    double x;
    int r = k ? lg_loudness_integrated_multi(meters, k, &x) : LG_ENOTFOUND;
    a.integrated_lufs = r == 0 ? finite_or_nan(x) : NAN;
    if (r == 0)
        r = lg_loudness_range_multi(meters, k, &x);
    a.range_lu = r == 0 ? finite_or_nan(x) : NAN;
    a.true_peak_dbtp = finite_or_nan(a.true_peak_dbtp);
    a.sample_peak_dbfs = finite_or_nan(a.sample_peak_dbfs);
    free(meters);
    if (r < 0)
        return r;
    *out = a;
    return 0;
}

/* A file not begun because the caller asked to stop. */
static int cancelled(char *err, size_t err_len)
{
    snprintf(err, err_len, "cancelled");
    return -ECANCELED;
}

/* The calling thread at opts' nice value (Linux: nice values are per
 * thread). */
static void thread_nice(const struct lg_analyze_opts *o)
{
#ifdef SYS_gettid
    if (o && o->nice > 0)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), o->nice);
#else
    (void)o;
#endif
}

/* --- a pool of threads over a list of files --- */

struct pool {
    const char *const *paths;
    struct lg_analysis *results;
    int *status;
    char (*errs)[160];
    size_t n;
    size_t next; /* guarded by lock */
    pthread_mutex_t lock;
    const struct lg_analyze_opts *opts;
};

static void *pool_worker(void *p)
{
    struct pool *pl = p;
    thread_nice(pl->opts);
    for (;;) {
        pthread_mutex_lock(&pl->lock);
        size_t i = pl->next++;
        pthread_mutex_unlock(&pl->lock);
        if (i >= pl->n)
            return NULL;
        pl->status[i] = stop_asked(pl->opts)
                            ? cancelled(pl->errs[i], sizeof(pl->errs[i]))
                            : lg_analyze_file_opts(pl->paths[i], pl->opts, &pl->results[i],
                                                   pl->errs[i], sizeof(pl->errs[i]));
    }
}

static int run_pool(const char *const *paths, size_t n, int n_threads,
                    const struct lg_analyze_opts *opts, struct lg_analysis *results, int *status,
                    char (*errs)[160])
{
    struct pool pl = { paths, results, status, errs, n, 0, PTHREAD_MUTEX_INITIALIZER, opts };
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        errs[i][0] = '\0';
    }
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    if ((size_t)n_threads > n)
        n_threads = (int)(n ? n : 1);
    pthread_t *th = calloc((size_t)n_threads, sizeof(*th));
    if (!th)
        return -ENOMEM;
    int started = 0;
    for (; started < n_threads; started++) {
        if (pthread_create(&th[started], NULL, pool_worker, &pl) != 0)
            break;
    }
    if (started == 0)
        pool_worker(&pl); /* no thread could start: work here */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    return 0;
}

int lg_analyze_files(const char *const *paths, size_t n, int n_threads, struct lg_analysis *results,
                     int *status, char (*errs)[160])
{
    return run_pool(paths, n, n_threads, NULL, results, status, errs);
}

/* --- the CUDA path: decode on threads, measure batches on the GPU --- */

/* Decoded PCM handed to the GPU per batch; decoded PCM waiting at most (the
 * decoders pause above it); a file whose PCM exceeds FILE_BYTES is measured
 * on the CPU by its decoding thread instead of being held. */
#define BATCH_BYTES ((size_t)256 << 20)
#define QUEUE_BYTES ((size_t)1 << 30)
#define FILE_BYTES  ((size_t)512 << 20)

/* A decoded file is held as 16-bit PCM while every sample is exactly a
 * 16-bit value (as FLAC, WAV and ALAC of CD quality decode), which takes
 * half the memory and half the copy to a GPU for the same results, and as
 * float from the first sample that is not. */
struct decoded {
    size_t i;     /* file index */
    float *pcm;   /* float PCM, or NULL ... */
    int16_t *s16; /* ... 16-bit PCM (NULL too before the first frame) */
    size_t frames;
    int rate, channels;
    struct lg_loudness *meter;    /* measured on the CPU already (pcm NULL) */
    struct lg_waveform *waveform; /* with meter, when buckets were asked for */
};

struct gpu_pool {
    const char *const *paths;
    struct lg_analysis *results;
    int *status;
    char (*errs)[160];
    size_t n;
    int backend; /* LG_DSP_CUDA or LG_DSP_AUTO */
    const struct lg_analyze_opts *opts;
    pthread_mutex_t lock;   /* guards the fields below */
    pthread_cond_t changed; /* ready grew, shrank, or a decoder finished */
    size_t next;            /* next file to decode */
    struct decoded *ready;  /* decoded, waiting for the GPU (room for n) */
    size_t n_ready, ready_bytes;
    int decoding; /* decoder threads still running */
};

/* Bytes of PCM that dec holds. */
static size_t held_bytes(const struct decoded *dec)
{
    size_t size = dec->pcm ? sizeof(float) : sizeof(int16_t);
    return dec->frames * (size_t)dec->channels * size;
}

/* dec's 16-bit PCM made float, with room for cap frames. */
static int to_float(struct decoded *dec, size_t cap)
{
    size_t len = dec->frames * (size_t)dec->channels;
    float *x = malloc((cap ? cap : 1) * (size_t)dec->channels * sizeof(float));
    if (!x)
        return -ENOMEM;
    for (size_t k = 0; k < len; k++)
        x[k] = lg_pcm_s16(dec->s16[k]);
    free(dec->s16);
    dec->s16 = NULL;
    dec->pcm = x;
    return 0;
}

/* For a file too long to hold: a CPU meter (and waveform) takes the frames
 * held in dec, the block just read and the rest of the stream. */
static int measure_on_cpu(struct lg_decoder *d, struct decoded *dec, const float *pcm, int n,
                          const struct lg_analyze_opts *o)
{
    struct lg_loudness *m = lg_loudness_new(dec->rate, dec->channels, LG_LOUDNESS_ALL);
    struct lg_waveform *w =
        o && o->waveform_buckets ? lg_waveform_new(dec->channels, o->waveform_buckets, 0) : NULL;
    int r = m && (w || !o || !o->waveform_buckets) ? 0 : LG_EMEDIA;
    /* The frames held, 16-bit ones made float a block at a time. */
    size_t ch = (size_t)dec->channels, block = dec->pcm ? dec->frames : 4096;
    float *buf = dec->pcm ? dec->pcm : malloc(block * ch * sizeof(float));
    r = r == 0 && !buf && dec->frames ? -ENOMEM : r;
    for (size_t at = 0; r == 0 && at < dec->frames; at += block) {
        size_t k = dec->frames - at < block ? dec->frames - at : block;
        for (size_t s = 0; !dec->pcm && s < k * ch; s++)
            buf[s] = lg_pcm_s16(dec->s16[at * ch + s]);
        r = lg_loudness_add(m, buf, k);
        if (r == 0 && w)
            lg_waveform_add(w, buf, k);
    }
    if (buf != dec->pcm)
        free(buf);
    free(dec->pcm);
    free(dec->s16);
    dec->pcm = NULL;
    dec->s16 = NULL;
    do {
        if (r == 0)
            r = lg_loudness_add(m, pcm, (size_t)n);
        if (r == 0 && w)
            lg_waveform_add(w, pcm, (size_t)n);
        if (r == 0 && stop_asked(o))
            r = -ECANCELED;
        dec->frames += (size_t)n;
    } while (r == 0 && (n = lg_decoder_read(d, &pcm)) > 0);
    if (r == 0 && n < 0)
        r = n;
    if (r < 0) {
        lg_loudness_free(m);
        lg_waveform_free(w);
        return r;
    }
    dec->meter = m;
    dec->waveform = w;
    return 0;
}

/* Whether every sample of x[0..len) is exactly a 16-bit value. */
static bool all_16bit(const float *x, size_t len)
{
    for (size_t k = 0; k < len; k++) {
        float v = x[k] * 32768.0f;
        if (!(v >= -32768.0f && v <= 32767.0f && v == (float)(int32_t)v))
            return false;
    }
    return true;
}

/* Appends n frames to dec (16-bit while they allow it), growing its PCM by
 * doubling. */
static int append(struct decoded *dec, size_t *cap, const float *pcm, int n)
{
    size_t ch = (size_t)dec->channels, len = (size_t)n * ch;
    bool s16 = !dec->pcm && all_16bit(pcm, len);
    if (!s16 && !dec->pcm && to_float(dec, *cap) < 0)
        return -ENOMEM;
    size_t size = s16 ? sizeof(int16_t) : sizeof(float);
    if (dec->frames + (size_t)n > *cap) {
        size_t want = *cap ? 2 * *cap : (size_t)dec->rate * 60;
        want = want < dec->frames + (size_t)n ? dec->frames + (size_t)n : want;
        void *grown = realloc(s16 ? (void *)dec->s16 : (void *)dec->pcm, want * ch * size);
        if (!grown)
            return -ENOMEM;
        if (s16)
            dec->s16 = grown;
        else
            dec->pcm = grown;
        *cap = want;
    }
    size_t at = dec->frames * ch;
    if (s16)
        for (size_t k = 0; k < len; k++)
            dec->s16[at + k] = (int16_t)(pcm[k] * 32768.0f);
    else
        memcpy(dec->pcm + at, pcm, len * sizeof(float));
    dec->frames += (size_t)n;
    return 0;
}

/* Decodes file i into dec->pcm, or measures it on the CPU when it is too long
 * to hold (dec->meter). Returns 0, or the error with the reason in errs[i]. */
static int decode_file(struct gpu_pool *p, size_t i, struct decoded *dec)
{
    struct lg_decoder *d = NULL;
    int r = lg_decoder_open(p->paths[i], &d, p->errs[i], sizeof(p->errs[i]));
    if (r < 0)
        return r;
    *dec =
        (struct decoded){ .i = i, .rate = lg_decoder_rate(d), .channels = lg_decoder_channels(d) };
    size_t cap = 0, fsize = sizeof(float) * (size_t)dec->channels;
    const float *pcm;
    int n;
    while (r == 0 && (n = lg_decoder_read(d, &pcm)) > 0) {
        if ((dec->frames + (size_t)n) * fsize > FILE_BYTES) {
            r = measure_on_cpu(d, dec, pcm, n, p->opts);
            n = 0;
            break;
        }
        r = append(dec, &cap, pcm, n);
        if (r == 0 && stop_asked(p->opts))
            r = -ECANCELED;
    }
    lg_decoder_free(d);
    if (r == 0 && n < 0)
        r = n;
    if (r < 0) {
        snprintf(p->errs[i], sizeof(p->errs[i]), "%s",
                 r == -ENOMEM      ? "out of memory"
                 : r == -ECANCELED ? "cancelled"
                                   : "decoding failed");
        free(dec->pcm);
        free(dec->s16);
        dec->pcm = NULL;
        dec->s16 = NULL;
    }
    return r;
}

static void *gpu_decoder(void *arg)
{
    struct gpu_pool *p = arg;
    thread_nice(p->opts);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        /* Pause while enough decoded audio waits for the GPU. */
        while (p->ready_bytes >= QUEUE_BYTES && p->next < p->n)
            pthread_cond_wait(&p->changed, &p->lock);
        size_t i = p->next < p->n ? p->next++ : p->n;
        if (i >= p->n)
            break;
        pthread_mutex_unlock(&p->lock);
        struct decoded dec = { 0 };
        int r = stop_asked(p->opts) ? cancelled(p->errs[i], sizeof(p->errs[i]))
                                    : decode_file(p, i, &dec);
        p->status[i] = r;
        if (r == 0 && dec.meter) {
            struct lg_analysis *a = &p->results[i];
            a->frames = (int64_t)dec.frames;
            a->rate = dec.rate;
            a->channels = dec.channels;
            a->waveform = dec.waveform;
            fill_values(a, dec.meter);
        }
        pthread_mutex_lock(&p->lock);
        if (r == 0 && !dec.meter) {
            p->ready[p->n_ready++] = dec;
            p->ready_bytes += held_bytes(&dec);
            pthread_cond_broadcast(&p->changed);
        }
    }
    p->decoding--;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Measures n decoded files in one batch and stores their results; frees
 * their PCM. */
static void measure_batch(struct gpu_pool *p, struct decoded *v, size_t n)
{
    size_t buckets = p->opts ? p->opts->waveform_buckets : 0;
    struct lg_pcm_track *t = calloc(n, sizeof(*t));
    struct lg_loudness **m = calloc(n, sizeof(*m));
    struct lg_waveform **w = buckets ? calloc(n, sizeof(*w)) : NULL;
    struct lg_dsp_batch_stats st = { 0 };
    int r = t && m && (w || !buckets) ? 0 : -ENOMEM;
    for (size_t k = 0; r == 0 && k < n; k++)
        t[k] = (struct lg_pcm_track){ .pcm = v[k].pcm,
                                      .s16 = v[k].s16,
                                      .frames = v[k].frames,
                                      .rate = v[k].rate,
                                      .channels = v[k].channels };
    if (r == 0)
        r = lg_dsp_analyze_batch_wave(p->backend, t, n, LG_LOUDNESS_ALL, buckets, m, w, &st);
    if (r < 0 && r != -ENOMEM && p->backend != LG_DSP_CPU) {
        /* The GPU failed (auto retries on the CPU itself; an explicit cuda
         * does not): the files are fine, so the CPU measures them rather
         * than storing a failure that is retried only when they change. */
        lg_log(&alog, LG_LOG_WARN, "the GPU batch failed (%s); measured on the CPU", st.note);
        r = lg_dsp_analyze_batch_wave(LG_DSP_CPU, t, n, LG_LOUDNESS_ALL, buckets, m, w, &st);
    }
    if (r == 0 && st.note[0])
        lg_log(&alog, LG_LOG_WARN, "%s", st.note);
    if (r == 0)
        lg_log(&alog, LG_LOG_DEBUG,
               "%zu files on %s in %.1f ms (upload %.1f, kernels %.1f, download %.1f ms)", n,
               lg_dsp_backend_name(st.backend), st.wall_ms, st.upload_ms, st.kernels_ms,
               st.download_ms);
    for (size_t k = 0; k < n; k++) {
        size_t i = v[k].i;
        if (r == 0) {
            struct lg_analysis *a = &p->results[i];
            a->frames = (int64_t)v[k].frames;
            a->rate = v[k].rate;
            a->channels = v[k].channels;
            a->waveform = w ? w[k] : NULL;
            fill_values(a, m[k]);
        } else {
            p->status[i] = r == -ENOMEM ? -ENOMEM : LG_EMEDIA;
            snprintf(p->errs[i], sizeof(p->errs[i]), "analysis failed: %.140s",
                     st.note[0] ? st.note : "out of memory");
        }
        free(v[k].pcm);
        free(v[k].s16);
    }
    free(t);
    free(m);
    free(w);
}

/* The calling thread: hands what the decoders made to the GPU, a batch at a
 * time (into batch, room for n), until every decoder is done and nothing
 * waits. */
static void gpu_feed(struct gpu_pool *p, struct decoded *batch)
{
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->decoding > 0 && p->ready_bytes < BATCH_BYTES)
            pthread_cond_wait(&p->changed, &p->lock);
        size_t n = p->n_ready;
        if (n == 0 && p->decoding == 0)
            break;
        memcpy(batch, p->ready, n * sizeof(*batch));
        p->n_ready = 0;
        p->ready_bytes = 0;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        measure_batch(p, batch, n);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
}

/* Starts the decoders and feeds the GPU; 1 when no decoder thread could
 * start (nothing was done). */
static int analyze_on_gpu(struct gpu_pool *p, int n_threads)
{
    p->ready = calloc(p->n, sizeof(*p->ready));
    struct decoded *batch = calloc(p->n, sizeof(*batch));
    pthread_t *th = calloc((size_t)n_threads, sizeof(*th));
    int started = 0;
    pthread_mutex_lock(&p->lock);
    for (; p->ready && batch && th && started < n_threads; started++) {
        if (pthread_create(&th[started], NULL, gpu_decoder, p) != 0)
            break;
        p->decoding++;
    }
    pthread_mutex_unlock(&p->lock);
    if (started > 0)
        gpu_feed(p, batch);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    free(batch);
    free(p->ready);
    return started > 0 ? 0 : 1;
}

int lg_analyze_files_backend(const char *const *paths, size_t n, int n_threads, int backend,
                             struct lg_analysis *results, int *status, char (*errs)[160])
{
    return lg_analyze_files_opts(paths, n, n_threads, backend, NULL, results, status, errs);
}

int lg_analyze_files_opts(const char *const *paths, size_t n, int n_threads, int backend,
                          const struct lg_analyze_opts *opts, struct lg_analysis *results,
                          int *status, char (*errs)[160])
{
    int batched = backend & LG_ANALYZE_BATCHED;
    backend &= ~LG_ANALYZE_BATCHED;
    if (backend < LG_DSP_CPU || backend > LG_DSP_AUTO)
        return -EINVAL;
    int usable = backend != LG_DSP_CPU && lg_dsp_cuda_status(NULL, 0);
    if (backend == LG_DSP_CUDA && !usable)
        return -ENODEV;
    if ((!usable && !batched) || n == 0)
        return run_pool(paths, n, n_threads, opts, results, status, errs);
    struct gpu_pool p = { .paths = paths,
                          .results = results,
                          .status = status,
                          .errs = errs,
                          .n = n,
                          .backend = usable ? backend : LG_DSP_CPU,
                          .opts = opts };
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        status[i] = 0;
        errs[i][0] = '\0';
    }
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    if ((size_t)n_threads > n)
        n_threads = (int)n;
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.changed, NULL);
    int r = analyze_on_gpu(&p, n_threads);
    pthread_cond_destroy(&p.changed);
    pthread_mutex_destroy(&p.lock);
    /* No thread could start (or no memory for the queues): on the CPU. */
    return r == 0 ? 0 : run_pool(paths, n, n_threads, opts, results, status, errs);
}
