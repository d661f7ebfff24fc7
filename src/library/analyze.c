/* SPDX-License-Identifier: MIT */
/*
 * Analysis of audio files: decode (media/) and measure loudness, loudness
 * range, true and sample peak (dsp/), per file and for a set of files as an
 * album. Files are analysed on a pool of threads, one decoder and meter per
 * file; the album values come from the meters' gating blocks, so no audio is
 * read twice.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <unistd.h>

#include "dsp/dsp.h"
#include "library/library.h"
#include "media/media.h"

static double finite_or_nan(double v)
{
    return isfinite(v) ? v : NAN;
}

int lg_analyze_file(const char *path, struct lg_analysis *out, char *err, size_t err_len)
{
    return lg_analyze_file_opts(path, NULL, out, err, err_len);
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
    double v;
    a.integrated_lufs = lg_loudness_integrated(m, &v) == 0 ? finite_or_nan(v) : NAN;
    a.range_lu = lg_loudness_range(m, &v) == 0 ? finite_or_nan(v) : NAN;
    a.true_peak_dbtp = lg_loudness_true_peak(m, -1, &v) == 0 ? finite_or_nan(v) : NAN;
    a.sample_peak_dbfs = lg_loudness_sample_peak(m, -1, &v) == 0 ? finite_or_nan(v) : NAN;
    a.meter = m;
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

/* --- a pool of threads over a list of files --- */

struct pool {
    const char *const *paths;
    struct lg_analysis *results;
    int *status;
    char (*errs)[160];
    size_t n;
    size_t next; /* guarded by lock */
    pthread_mutex_t lock;
};

static void *pool_worker(void *p)
{
    struct pool *pl = p;
    for (;;) {
        pthread_mutex_lock(&pl->lock);
        size_t i = pl->next++;
        pthread_mutex_unlock(&pl->lock);
        if (i >= pl->n)
            return NULL;
        pl->status[i] =
            lg_analyze_file(pl->paths[i], &pl->results[i], pl->errs[i], sizeof(pl->errs[i]));
    }
}

int lg_analyze_files(const char *const *paths, size_t n, int n_threads, struct lg_analysis *results,
                     int *status, char (*errs)[160])
{
    struct pool pl = { paths, results, status, errs, n, 0, PTHREAD_MUTEX_INITIALIZER };
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
