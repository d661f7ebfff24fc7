/* SPDX-License-Identifier: MIT */
/*
 * The background analysis pass: after a scan, every track without a current
 * analysis is decoded (media/) and measured (dsp/): loudness, range, peaks,
 * the gating and short-term energies and a waveform. Files are taken in
 * batches by lg_analyze_files_opts(): on the CPU, low-priority threads decode
 * and measure a file each; on CUDA they decode while the GPU measures the
 * loudness and waveforms of many files at once. Each batch is stored in one
 * transaction together with the values of the albums it touched, which are
 * gated again from the tracks' stored energies (no audio is read twice).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "core/log.h"
#include "dsp/dsp.h"
#include "library/library.h"
#include "media/media.h"
#include "store/store.h"

static const struct lg_log an_log = { "library/analysis" };

enum { BATCH_MIN = 16, PROGRESS_EVERY_S = 5, NICE = 10 };

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool is_cancelled(atomic_bool *cancel)
{
    return cancel && atomic_load(cancel);
}

/* --- one file --- */

static double finite_or_nan(int r, double v)
{
    return r == 0 && isfinite(v) ? v : NAN;
}

static uint8_t to_byte(double v)
{
    return (uint8_t)lrint(255.0 * (v < 0 ? 0 : v > 1 ? 1 : v));
}

/* Folds k equal buckets into at most LG_ANALYSIS_WAVEFORM_BUCKETS bytes. */
static void waveform_store(const struct lg_waveform *w, struct lg_track_analysis *a)
{
    enum { N = LG_ANALYSIS_WAVEFORM_BUCKETS, CAP = 2 * N };
    float peak[CAP], rms[CAP];
    size_t k = lg_waveform_get(w, peak, rms);
    size_t n = k < N ? k : N;
    if (!n)
        return;
    double pk[N] = { 0 }, sq[N] = { 0 }, cnt[N] = { 0 };
    for (size_t b = 0; b < k; b++) {
        size_t o = b * n / k;
        pk[o] = fmax(pk[o], peak[b]);
        sq[o] += (double)rms[b] * rms[b];
        cnt[o] += 1;
    }
    a->waveform = lg_xmalloc(2 * n);
    for (size_t o = 0; o < n; o++) {
        a->waveform[o] = to_byte(pk[o]);
        a->waveform[n + o] = to_byte(cnt[o] > 0 ? sqrt(sq[o] / cnt[o]) : 0);
    }
    a->n_waveform = n;
}

static double *copy_doubles(const double *v, size_t n)
{
    double *c = n ? lg_xmalloc(n * sizeof(*c)) : NULL;
    if (n)
        memcpy(c, v, n * sizeof(*c));
    return c;
}

static void measure_results(const struct lg_loudness *m, struct lg_track_analysis *a)
{
    double v = NAN;
    int r = lg_loudness_integrated(m, &v);
    a->integrated_lufs = finite_or_nan(r, v);
    r = lg_loudness_range(m, &v);
    a->range_lu = finite_or_nan(r, v);
    r = lg_loudness_true_peak(m, -1, &v);
    a->true_peak_dbtp = finite_or_nan(r, v);
    r = lg_loudness_sample_peak(m, -1, &v);
    a->sample_peak_dbfs = finite_or_nan(r, v);
    const double *e;
    a->n_block = lg_loudness_block_energies(m, &e);
    a->block_energies = copy_doubles(e, a->n_block);
    a->n_shortterm = lg_loudness_shortterm_energies(m, &e);
    a->shortterm_energies = copy_doubles(e, a->n_shortterm);
}

/* --- a batch: decoded on a pool of threads, measured where backend says --- */

struct batch {
    const char *music_dir;
    const struct lg_analysis_todo *todo;
    struct lg_track_analysis *res;
    int *status;
    size_t n;
    int backend; /* enum lg_dsp_backend, LG_ANALYZE_BATCHED or'ed in for tests */
    atomic_bool *cancel;
};

/* One file's analysis (or failure) into a, in the store's form. */
static void batch_result(struct batch *b, size_t i, struct lg_analysis *an, const char *err)
{
    const struct lg_analysis_todo *t = &b->todo[i];
    struct lg_track_analysis *a = &b->res[i];
    *a = (struct lg_track_analysis){
        .track_id = t->id, .dsp_version = lg_dsp_version(), .size = t->size, .mtime_ns = t->mtime_ns
    };
    if (b->status[i] == 0 && !an->waveform) {
        b->status[i] = -ENOMEM;
        err = "out of memory";
    }
    if (b->status[i] == 0) {
        measure_results(an->meter, a);
        waveform_store(an->waveform, a);
    } else if (b->status[i] != -ECANCELED) {
        a->integrated_lufs = a->range_lu = a->true_peak_dbtp = a->sample_peak_dbfs = NAN;
        a->error = lg_xstrdup(err[0] ? err : lg_strerror(b->status[i]));
    }
}

/* Analyses the batch's files into b->res and b->status: on the CPU a
 * decoder and meter per file on n_threads threads, on CUDA the threads
 * decode while the GPU measures loudness and waveforms in batches. */
static int batch_run(struct batch *b, int n_threads)
{
    char **paths = lg_xcalloc(b->n, sizeof(*paths));
    struct lg_analysis *an = lg_xcalloc(b->n, sizeof(*an));
    char(*errs)[160] = lg_xcalloc(b->n, sizeof(*errs));
    for (size_t i = 0; i < b->n; i++) {
        size_t len = strlen(b->music_dir) + strlen(b->todo[i].path) + 2;
        paths[i] = lg_xmalloc(len);
        snprintf(paths[i], len, "%s/%s", b->music_dir, b->todo[i].path);
    }
    struct lg_analyze_opts opts = { b->cancel, 2 * LG_ANALYSIS_WAVEFORM_BUCKETS, NICE };
    int r = lg_analyze_files_opts((const char *const *)paths, b->n, n_threads, b->backend, &opts,
                                  an, b->status, errs);
    if (r == -ENODEV) { /* an explicit cuda that cannot run (any more): the CPU */
        lg_log(&an_log, LG_LOG_WARN, "analysis: the CUDA backend cannot run; on the CPU");
        b->backend = LG_DSP_CPU;
        r = lg_analyze_files_opts((const char *const *)paths, b->n, n_threads, LG_DSP_CPU, &opts,
                                  an, b->status, errs);
    }
    for (size_t i = 0; r == 0 && i < b->n; i++)
        batch_result(b, i, &an[i], errs[i]);
    for (size_t i = 0; i < b->n; i++) {
        lg_analysis_free(&an[i]);
        free(paths[i]);
    }
    free(paths);
    free(an);
    free(errs);
    return r;
}

/* --- storing --- */

/* Recomputes an album's values from its tracks' stored energies. */
static int album_update(struct lg_store *s, int64_t album_id)
{
    struct lg_album_energies e;
    int r = lg_store_album_energies(s, album_id, &e);
    if (r < 0)
        return r;
    struct lg_album_analysis a = { .album_id = album_id,
                                   .true_peak_dbtp = e.true_peak_dbtp,
                                   .sample_peak_dbfs = e.sample_peak_dbfs };
    double v = NAN;
    r = lg_loudness_gate_integrated(e.block_energies, e.n_block, &v);
    a.integrated_lufs = finite_or_nan(r, v);
    r = lg_loudness_gate_range(e.shortterm_energies, e.n_shortterm, &v);
    a.range_lu = finite_or_nan(r, v);
    lg_album_energies_free(&e);
    r = lg_store_album_analysis_put(s, &a);
    return r == LG_ENOTFOUND ? 0 : r;
}

static bool seen_before(const struct lg_analysis_todo *v, size_t i)
{
    for (size_t k = 0; k < i; k++) {
        if (v[k].album_id == v[i].album_id)
            return true;
    }
    return false;
}

/* Stores the finished results of a batch and its albums in one transaction. */
static int batch_store(struct lg_store *s, const struct batch *b, struct lg_analysis_pass_stats *st)
{
    int r = lg_store_begin(s);
    for (size_t i = 0; r == 0 && i < b->n; i++) {
        if (b->status[i] == -ECANCELED)
            continue;
        r = lg_store_track_analysis_put(s, &b->res[i]);
        if (r == LG_ENOTFOUND) /* removed by a scan meanwhile */
            r = 0;
        else if (r == 0 && b->status[i] < 0)
            st->failed++;
        else if (r == 0)
            st->analysed++;
    }
    for (size_t i = 0; r == 0 && i < b->n; i++) {
        if (b->status[i] != -ECANCELED && !seen_before(b->todo, i))
            r = album_update(s, b->todo[i].album_id);
    }
    if (r == 0)
        return lg_store_commit(s);
    lg_store_rollback(s);
    return r;
}

/* --- the pass --- */

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static int pass_batch(struct lg_store *s, struct batch *b, int n_threads,
                      struct lg_analysis_pass_stats *st)
{
    b->res = lg_xcalloc(b->n, sizeof(*b->res));
    b->status = lg_xcalloc(b->n, sizeof(*b->status));
    int r = batch_run(b, n_threads);
    if (r == 0)
        r = batch_store(s, b, st);
    for (size_t i = 0; i < b->n; i++)
        lg_track_analysis_free(&b->res[i]);
    free(b->res);
    free(b->status);
    return r;
}

static void log_progress(const struct lg_analysis_pass_stats *st, double t0, double *last)
{
    double now = mono_s();
    if (now - *last < PROGRESS_EVERY_S)
        return;
    *last = now;
    int64_t done = st->analysed + st->failed;
    lg_log(&an_log, LG_LOG_INFO, "analysis: %lld/%lld tracks, %.1f tracks/s", (long long)done,
           (long long)st->due, (double)done / (now - t0 > 0 ? now - t0 : 1));
}

static int pass_loop(struct lg_store *s, struct batch *b, int n_threads,
                     struct lg_analysis_pass_stats *st, double t0)
{
    size_t batch_n = (size_t)n_threads * 2 < BATCH_MIN ? BATCH_MIN : (size_t)n_threads * 2;
    int64_t after = 0;
    double last = t0;
    int r = 0;
    while (r == 0 && !is_cancelled(b->cancel)) {
        struct lg_analysis_todo *v = NULL;
        size_t n = 0;
        r = lg_store_analysis_todo(s, lg_dsp_version(), after, batch_n, &v, &n);
        if (r < 0 || n == 0)
            break;
        after = v[n - 1].id;
        b->todo = v;
        b->n = n;
        r = pass_batch(s, b, n_threads, st);
        lg_analysis_todos_free(v, n);
        log_progress(st, t0, &last);
    }
    return r == 0 && is_cancelled(b->cancel) ? -ECANCELED : r;
}

/* Albums that a track joined or left since their values were stored (the
 * store drops them then), measured again from their tracks' stored
 * energies: no file is decoded. An album is measured and stored in one
 * transaction, so what is stored is what its tracks hold at the commit
 * (another process's analysis, or a scan, may change them), and a few
 * albums a transaction keep the write lock short. */
static int albums_pass(struct lg_store *s, atomic_bool *cancel, struct lg_analysis_pass_stats *st)
{
    enum { ALBUMS_PER_TRANSACTION = 8 };
    int64_t after = 0;
    int r = 0;
    while (r == 0 && !is_cancelled(cancel)) {
        int64_t *ids = NULL;
        size_t n = 0;
        r = lg_store_albums_unmeasured(s, after, ALBUMS_PER_TRANSACTION, &ids, &n);
        if (r < 0 || n == 0)
            break;
        after = ids[n - 1];
        r = lg_store_begin(s);
        for (size_t i = 0; r == 0 && i < n; i++)
            r = album_update(s, ids[i]);
        if (r == 0)
            r = lg_store_commit(s);
        else
            lg_store_rollback(s);
        if (r == 0)
            st->albums += (int64_t)n;
        free(ids);
    }
    return r == 0 && is_cancelled(cancel) ? -ECANCELED : r;
}

int lg_library_analyze_pending(struct lg_store *s, const char *music_dir, int n_threads,
                               int backend, atomic_bool *cancel,
                               struct lg_analysis_pass_stats *stats)
{
    lg_media_init();
    double t0 = mono_s();
    struct lg_analysis_pass_stats st = { 0 };
    int r = lg_store_analysis_todo_count(s, lg_dsp_version(), &st.due);
    struct batch b = { .music_dir = music_dir, .cancel = cancel, .backend = backend };
    if (r == 0 && st.due > 0) {
        char why[160] = "";
        int gpu =
            (backend & ~LG_ANALYZE_BATCHED) != LG_DSP_CPU && lg_dsp_cuda_status(why, sizeof(why));
        lg_log(&an_log, LG_LOG_INFO, "analysis: %lld tracks to analyse, measured on %s%s",
               (long long)st.due, gpu ? "cuda: " : "the cpu", gpu ? why : "");
        r = pass_loop(s, &b, n_threads > 0 ? n_threads : default_threads(), &st, t0);
    }
    if (r == 0)
        r = albums_pass(s, cancel, &st);
    if (st.albums > 0)
        lg_log(&an_log, LG_LOG_INFO, "analysis: %lld albums measured again from their tracks",
               (long long)st.albums);
    st.seconds = mono_s() - t0;
    if (r < 0 && r != -ECANCELED)
        lg_log(&an_log, LG_LOG_ERROR, "analysis failed: %s", lg_strerror(r));
    else if (st.due > 0)
        lg_log(&an_log, LG_LOG_INFO,
               "analysis%s: %lld analysed, %lld failed, %lld left, %.2f s, %.1f tracks/s",
               r < 0 ? " stopped" : "", (long long)st.analysed, (long long)st.failed,
               (long long)(st.due - st.analysed - st.failed), st.seconds,
               (double)(st.analysed + st.failed) / (st.seconds > 0 ? st.seconds : 1));
    if (stats)
        *stats = st;
    return r;
}
