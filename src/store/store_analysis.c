/* SPDX-License-Identifier: MIT */
/*
 * Audio analysis in the store: which tracks are due for analysis, each
 * track's measured loudness, peaks, gating energies and waveform, and each
 * album's values. Energies are stored as float64 little-endian arrays so that
 * album values can be gated again from them alone; NAN values are NULL.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

#define DUE_WHERE                                                              \
    "FROM tracks t LEFT JOIN track_analysis a ON a.track_id = t.id "           \
    "WHERE (a.track_id IS NULL OR a.dsp_version <> ?1 OR a.size <> t.size OR " \
    "a.mtime_ns <> t.mtime_ns) "

static const char sql_todo[] = "SELECT t.id, t.album_id, t.path, t.size, t.mtime_ns " DUE_WHERE
                               "AND t.id > ?2 ORDER BY t.id LIMIT ?3";
static const char sql_todo_count[] = "SELECT count(*) " DUE_WHERE;
static const char sql_track_put[] =
    "INSERT OR REPLACE INTO track_analysis(track_id, dsp_version, size, mtime_ns, error, "
    "integrated_lufs, range_lu, true_peak_dbtp, sample_peak_dbfs, block_energies, "
    "shortterm_energies, waveform) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char sql_track_get[] =
    "SELECT dsp_version, size, mtime_ns, error, integrated_lufs, range_lu, true_peak_dbtp, "
    "sample_peak_dbfs, block_energies, shortterm_energies, waveform, analysed_at "
    "FROM track_analysis WHERE track_id = ?1";
static const char sql_album_energies[] =
    "SELECT a.block_energies, a.shortterm_energies, a.true_peak_dbtp, a.sample_peak_dbfs "
    "FROM tracks t JOIN track_analysis a ON a.track_id = t.id "
    "WHERE t.album_id = ?1 AND a.error IS NULL ORDER BY t.id";
static const char sql_album_put[] =
    "INSERT OR REPLACE INTO album_analysis(album_id, integrated_lufs, range_lu, true_peak_dbtp, "
    "sample_peak_dbfs) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_albums_unmeasured[] =
    "SELECT al.id FROM albums al WHERE al.id > ?1 AND NOT EXISTS "
    "(SELECT 1 FROM album_analysis aa WHERE aa.album_id = al.id) AND EXISTS "
    "(SELECT 1 FROM tracks t JOIN track_analysis a ON a.track_id = t.id "
    "WHERE t.album_id = al.id AND a.error IS NULL) ORDER BY al.id LIMIT ?2";
static const char sql_album_get[] =
    "SELECT integrated_lufs, range_lu, true_peak_dbtp, sample_peak_dbfs, analysed_at "
    "FROM album_analysis WHERE album_id = ?1";

/* --- values --- */

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static double col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Binds n doubles as float64 little-endian (NULL when n is 0). */
static void bind_energies(sqlite3_stmt *st, int i, const double *v, size_t n)
{
    if (!n) {
        sqlite3_bind_null(st, i);
        return;
    }
    uint8_t *b = lg_xmalloc(n * 8);
    for (size_t k = 0; k < n; k++) {
        uint64_t u;
        memcpy(&u, &v[k], 8);
        for (int j = 0; j < 8; j++)
            b[k * 8 + (size_t)j] = (uint8_t)(u >> (8 * j));
    }
    sqlite3_bind_blob(st, i, b, (int)(n * 8), free);
}

/* Appends the float64 little-endian blob in column i to *v (n entries). */
static void append_energies(sqlite3_stmt *st, int i, double **v, size_t *n)
{
    size_t m = (size_t)sqlite3_column_bytes(st, i) / 8;
    const uint8_t *b = sqlite3_column_blob(st, i);
    if (!m || !b)
        return;
    *v = lg_xrealloc(*v, (*n + m) * sizeof(**v));
    for (size_t k = 0; k < m; k++) {
        uint64_t u = 0;
        for (int j = 0; j < 8; j++)
            u |= (uint64_t)b[k * 8 + (size_t)j] << (8 * j);
        memcpy(&(*v)[*n + k], &u, 8);
    }
    *n += m;
}

/* --- due tracks --- */

void lg_analysis_todos_free(struct lg_analysis_todo *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].path);
    free(v);
}

int lg_store_analysis_todo(struct lg_store *s, int dsp_version, int64_t after_id, size_t limit,
                           struct lg_analysis_todo **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_todo);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int(st, 1, dsp_version);
    sqlite3_bind_int64(st, 2, after_id);
    sqlite3_bind_int64(st, 3, (int64_t)limit);
    struct lg_analysis_todo *v = limit ? lg_xcalloc(limit, sizeof(*v)) : NULL;
    size_t n = 0;
    int rc = SQLITE_DONE;
    while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        v[n] = (struct lg_analysis_todo){ .id = sqlite3_column_int64(st, 0),
                                          .album_id = sqlite3_column_int64(st, 1),
                                          .path = lg_store_col_text(st, 2),
                                          .size = sqlite3_column_int64(st, 3),
                                          .mtime_ns = sqlite3_column_int64(st, 4) };
        n++;
    }
    bool failed = n < limit && rc != SQLITE_DONE;
    sqlite3_reset(st);
    if (failed) {
        lg_analysis_todos_free(v, n);
        return lg_store_fail(sqlite3_db_handle(st), "analysis todo");
    }
    if (!n) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n_out = n;
    return 0;
}

int lg_store_albums_unmeasured(struct lg_store *s, int64_t after_id, size_t limit, int64_t **out,
                               size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    sqlite3_stmt *st = lg_store_stmt(s, sql_albums_unmeasured);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    int64_t *v = limit ? lg_xcalloc(limit, sizeof(*v)) : NULL;
    size_t n = 0;
    int rc = SQLITE_DONE;
    while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
        v[n++] = sqlite3_column_int64(st, 0);
    bool failed = n < limit && rc != SQLITE_DONE;
    sqlite3_reset(st);
    if (failed) {
        free(v);
        return lg_store_fail(sqlite3_db_handle(st), "albums to measure");
    }
    if (!n) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n_out = n;
    return 0;
}

int lg_store_analysis_todo_count(struct lg_store *s, int dsp_version, int64_t *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_todo_count);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int(st, 1, dsp_version);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* --- tracks --- */

void lg_track_analysis_free(struct lg_track_analysis *a)
{
    if (!a)
        return;
    free(a->error);
    free(a->block_energies);
    free(a->shortterm_energies);
    free(a->waveform);
    a->error = NULL;
    a->block_energies = a->shortterm_energies = NULL;
    a->waveform = NULL;
}

int lg_store_track_analysis_put(struct lg_store *s, const struct lg_track_analysis *a)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_track_put);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, a->track_id);
    sqlite3_bind_int(st, 2, a->dsp_version);
    sqlite3_bind_int64(st, 3, a->size);
    sqlite3_bind_int64(st, 4, a->mtime_ns);
    if (a->error)
        sqlite3_bind_text(st, 5, a->error, -1, SQLITE_TRANSIENT);
    bind_real(st, 6, a->integrated_lufs);
    bind_real(st, 7, a->range_lu);
    bind_real(st, 8, a->true_peak_dbtp);
    bind_real(st, 9, a->sample_peak_dbfs);
    bind_energies(st, 10, a->block_energies, a->n_block);
    bind_energies(st, 11, a->shortterm_energies, a->n_shortterm);
    if (a->n_waveform)
        sqlite3_bind_blob(st, 12, a->waveform, (int)(2 * a->n_waveform), SQLITE_TRANSIENT);
    int r = lg_store_step_done(st);
    return r == LG_EEXIST ? LG_ENOTFOUND : r; /* foreign key: the track is gone */
}

static void track_analysis_read(sqlite3_stmt *st, struct lg_track_analysis *a)
{
    a->dsp_version = sqlite3_column_int(st, 0);
    a->size = sqlite3_column_int64(st, 1);
    a->mtime_ns = sqlite3_column_int64(st, 2);
    if (sqlite3_column_type(st, 3) != SQLITE_NULL)
        a->error = lg_store_col_text(st, 3);
    a->integrated_lufs = col_real(st, 4);
    a->range_lu = col_real(st, 5);
    a->true_peak_dbtp = col_real(st, 6);
    a->sample_peak_dbfs = col_real(st, 7);
    append_energies(st, 8, &a->block_energies, &a->n_block);
    append_energies(st, 9, &a->shortterm_energies, &a->n_shortterm);
    size_t wn = (size_t)sqlite3_column_bytes(st, 10) / 2;
    const void *w = sqlite3_column_blob(st, 10);
    if (wn && w) {
        a->waveform = lg_xmalloc(2 * wn);
        memcpy(a->waveform, w, 2 * wn);
        a->n_waveform = wn;
    }
    a->analysed_at = sqlite3_column_int64(st, 11);
}

int lg_store_track_analysis_get(struct lg_store *s, int64_t track_id, struct lg_track_analysis *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_track_get);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, track_id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    struct lg_track_analysis a = { .track_id = track_id };
    track_analysis_read(st, &a);
    sqlite3_reset(st);
    *out = a;
    return 0;
}

/* --- albums --- */

void lg_album_energies_free(struct lg_album_energies *e)
{
    if (!e)
        return;
    free(e->block_energies);
    free(e->shortterm_energies);
    e->block_energies = e->shortterm_energies = NULL;
}

static void max_into(double *m, double v)
{
    if (isfinite(v) && (!isfinite(*m) || v > *m))
        *m = v;
}

int lg_store_album_energies(struct lg_store *s, int64_t album_id, struct lg_album_energies *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_album_energies);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, album_id);
    struct lg_album_energies e = { .true_peak_dbtp = NAN, .sample_peak_dbfs = NAN };
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t before = e.n_block;
        append_energies(st, 0, &e.block_energies, &e.n_block);
        append_energies(st, 1, &e.shortterm_energies, &e.n_shortterm);
        max_into(&e.true_peak_dbtp, col_real(st, 2));
        max_into(&e.sample_peak_dbfs, col_real(st, 3));
        e.n_tracks += e.n_block > before;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        lg_album_energies_free(&e);
        return lg_store_fail(sqlite3_db_handle(st), "album energies");
    }
    *out = e;
    return 0;
}

int lg_store_album_analysis_put(struct lg_store *s, const struct lg_album_analysis *a)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_album_put);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, a->album_id);
    bind_real(st, 2, a->integrated_lufs);
    bind_real(st, 3, a->range_lu);
    bind_real(st, 4, a->true_peak_dbtp);
    bind_real(st, 5, a->sample_peak_dbfs);
    int r = lg_store_step_done(st);
    return r == LG_EEXIST ? LG_ENOTFOUND : r;
}

int lg_store_album_analysis_get(struct lg_store *s, int64_t album_id, struct lg_album_analysis *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, sql_album_get);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, album_id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    *out = (struct lg_album_analysis){ .album_id = album_id,
                                       .integrated_lufs = col_real(st, 0),
                                       .range_lu = col_real(st, 1),
                                       .true_peak_dbtp = col_real(st, 2),
                                       .sample_peak_dbfs = col_real(st, 3),
                                       .analysed_at = sqlite3_column_int64(st, 4) };
    sqlite3_reset(st);
    return 0;
}

/* --- songs --- */

static double peak_linear(double dbtp)
{
    return isfinite(dbtp) ? pow(10.0, dbtp / 20.0) : NAN;
}

int lg_store_song_analysis_read(sqlite3_stmt *st, int i, struct lg_song *s)
{
    s->track_lufs = col_real(st, i);
    s->track_peak = peak_linear(col_real(st, i + 1));
    s->album_lufs = col_real(st, i + 2);
    s->album_peak = peak_linear(col_real(st, i + 3));
    s->has_replaygain = isfinite(s->track_lufs) && isfinite(s->track_peak);
    return i + 4;
}
