/* SPDX-License-Identifier: MIT */
/*
 * The background analysis pass and its store: analysis rows round-trip,
 * album values gated from stored energies equal lg_analyze_album on the same
 * files, changed files are analysed again, failed files are not retried until
 * they change, rows go with their track, and a cancelled pass stores nothing.
 * Audio files are made with the ffmpeg command-line tool (skipped without it).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "dsp/dsp.h"
#include "library/library.h"
#include "store/store.h"

#include "harness.h"

static char *tmp;

static void sh(const char *script)
{
    char *cmd = lg_xasprintf("cd '%s' && %s", tmp, script);
    int r = system(cmd);
    if (r != 0)
        fprintf(stderr, "  command failed: %s\n", cmd);
    lg_assert(r == 0);
    free(cmd);
}

static struct lg_store *open_store(const char *name)
{
    char *path = lg_xasprintf("%s/%s.db", tmp, name);
    struct lg_store *s = NULL;
    int r = lg_store_open(path, &s);
    lg_assert(r == 0);
    free(path);
    return s;
}

struct find {
    const char *path;
    int64_t id;
};

static int find_fn(void *ud, int64_t id, const char *path, int64_t size, int64_t mtime_ns,
                   int64_t ctime_ns, const char *cover)
{
    struct find *f = ud;
    if (strcmp(path, f->path) == 0)
        f->id = id;
    return 0;
}

static int64_t id_of(struct lg_store *s, const char *path)
{
    struct find f = { path, 0 };
    int r = lg_store_files_each(s, find_fn, &f);
    lg_assert(r == 0);
    return f.id;
}

static void scan(struct lg_store *s, const char *dir)
{
    char *m = lg_xasprintf("%s/%s", tmp, dir);
    struct lg_scan_stats st;
    CHECK_INT(lg_library_scan(s, m, 2, NULL, NULL, &st), 0);
    free(m);
}

static struct lg_analysis_pass_stats pass(struct lg_store *s, const char *dir)
{
    char *m = lg_xasprintf("%s/%s", tmp, dir);
    struct lg_analysis_pass_stats st = { 0 };
    CHECK_INT(lg_library_analyze_pending(s, m, 2, LG_DSP_AUTO, NULL, &st), 0);
    free(m);
    return st;
}

static int64_t due(struct lg_store *s)
{
    int64_t n = -1;
    CHECK_INT(lg_store_analysis_todo_count(s, lg_dsp_version(), &n), 0);
    return n;
}

#define TONE "ffmpeg -nostdin -loglevel error -y -f lavfi -i sine=frequency="
#define TAGS " -ac 2 -metadata artist=Ann -metadata album=First -metadata title="

LG_TEST(setup)
{
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        printf("ffmpeg not found: skipping\n");
        exit(77);
    }
    lg_log_setup(getenv("LG_TEST_VERBOSE") ? LG_LOG_DEBUG : LG_LOG_ERROR, 0);
    tmp = lg_test_tmpdir("analysis");
    sh("mkdir -p m/Ann/First && " TONE "440:duration=4 -af volume=-3dB" TAGS
       "One m/Ann/First/1.flac && " TONE "220:duration=5 -af volume=-12dB" TAGS
       "Two m/Ann/First/2.flac && " TONE "880:duration=3 -af volume=-20dB" TAGS
       "Three m/Ann/First/3.flac && " TONE "660:duration=4 -af volume=-9dB -ac 2 "
       "-metadata artist=Bob -metadata album=Single m/loud.flac");
}

LG_TEST(round_trip)
{
    struct lg_store *s = open_store("rt");
    sh("mkdir -p rt && cp m/Ann/First/1.flac rt/");
    scan(s, "rt");
    int64_t id = id_of(s, "1.flac");
    CHECK(id > 0);
    CHECK_INT(due(s), 1);
    struct lg_song so;
    CHECK_INT(lg_store_song_get(s, 1, id, &so), 0);
    CHECK(!so.has_replaygain && isnan(so.track_lufs) && isnan(so.album_peak));
    lg_song_free(&so);
    double be[3] = { 1e-3, 0.5, 2.25 }, se[2] = { 1e-9, 3.0 };
    uint8_t wf[4] = { 255, 10, 128, 5 };
    struct lg_track_analysis a = { .track_id = id,
                                   .dsp_version = lg_dsp_version(),
                                   .size = 1,
                                   .mtime_ns = 2,
                                   .integrated_lufs = -14.5,
                                   .range_lu = NAN,
                                   .true_peak_dbtp = -0.5,
                                   .sample_peak_dbfs = -1.25,
                                   .block_energies = be,
                                   .n_block = 3,
                                   .shortterm_energies = se,
                                   .n_shortterm = 2,
                                   .waveform = wf,
                                   .n_waveform = 2 };
    CHECK_INT(lg_store_track_analysis_put(s, &a), 0);
    struct lg_track_analysis b;
    CHECK_INT(lg_store_track_analysis_get(s, id, &b), 0);
    CHECK(b.error == NULL);
    CHECK(b.integrated_lufs == -14.5 && isnan(b.range_lu) && b.true_peak_dbtp == -0.5);
    CHECK(b.n_block == 3 && memcmp(b.block_energies, be, sizeof(be)) == 0);
    CHECK(b.n_shortterm == 2 && memcmp(b.shortterm_energies, se, sizeof(se)) == 0);
    CHECK(b.n_waveform == 2 && memcmp(b.waveform, wf, 4) == 0);
    CHECK(b.analysed_at > 0);
    lg_track_analysis_free(&b);
    CHECK_INT(due(s), 1); /* size and mtime differ from the track's */
    a.track_id = id + 100;
    CHECK_INT(lg_store_track_analysis_put(s, &a), LG_ENOTFOUND);
    CHECK_INT(lg_store_track_analysis_get(s, id + 100, &b), LG_ENOTFOUND);
    lg_store_close(s);
}

/* Album values from the stored energies equal lg_analyze_album's. */
LG_TEST(album_from_stored_energies)
{
    struct lg_store *s = open_store("album");
    scan(s, "m");
    CHECK_INT(due(s), 4);
    struct lg_analysis_pass_stats st = pass(s, "m");
    CHECK_INT(st.due, 4);
    CHECK_INT(st.analysed, 4);
    CHECK_INT(st.failed, 0);
    CHECK_INT(due(s), 0);
    static const char *const rel[] = { "Ann/First/1.flac", "Ann/First/2.flac", "Ann/First/3.flac" };
    struct lg_analysis v[3];
    for (int i = 0; i < 3; i++) {
        char *p = lg_xasprintf("%s/m/%s", tmp, rel[i]);
        char err[160];
        CHECK_INT(lg_analyze_file(p, &v[i], err, sizeof(err)), 0);
        free(p);
        struct lg_track_analysis ta;
        CHECK_INT(lg_store_track_analysis_get(s, id_of(s, rel[i]), &ta), 0);
        CHECK(fabs(ta.integrated_lufs - v[i].integrated_lufs) < 1e-9);
        CHECK(fabs(ta.true_peak_dbtp - v[i].true_peak_dbtp) < 1e-9);
        CHECK(ta.n_block > 0 && ta.n_waveform == LG_ANALYSIS_WAVEFORM_BUCKETS);
        CHECK(ta.waveform[0] > 0 && ta.waveform[0] >= ta.waveform[LG_ANALYSIS_WAVEFORM_BUCKETS]);
        lg_track_analysis_free(&ta);
    }
    struct lg_analysis al;
    CHECK_INT(lg_analyze_album(v, 3, &al), 0);
    struct lg_track t;
    CHECK_INT(lg_store_track_get(s, id_of(s, rel[0]), &t), 0);
    struct lg_album_analysis aa;
    CHECK_INT(lg_store_album_analysis_get(s, t.album_id, &aa), 0);
    lg_track_free(&t);
    CHECK(fabs(aa.integrated_lufs - al.integrated_lufs) < 1e-6);
    CHECK(fabs(aa.range_lu - al.range_lu) < 1e-6);
    CHECK(fabs(aa.true_peak_dbtp - al.true_peak_dbtp) < 1e-9);
    CHECK(aa.integrated_lufs < -6 && aa.integrated_lufs > -30);
    struct lg_song so;
    CHECK_INT(lg_store_song_get(s, 1, id_of(s, rel[1]), &so), 0);
    CHECK(so.has_replaygain);
    CHECK(fabs(so.track_lufs - v[1].integrated_lufs) < 1e-9);
    CHECK(fabs(so.track_peak - pow(10, v[1].true_peak_dbtp / 20)) < 1e-9);
    CHECK(so.track_peak > 0.01 && so.track_peak < 1);
    CHECK(fabs(so.album_lufs - aa.integrated_lufs) < 1e-9);
    CHECK(fabs(so.album_peak - pow(10, aa.true_peak_dbtp / 20)) < 1e-9);
    lg_song_free(&so);
    for (int i = 0; i < 3; i++)
        lg_analysis_free(&v[i]);
    st = pass(s, "m"); /* nothing left to do */
    CHECK_INT(st.due, 0);
    lg_store_close(s);
}

/* A changed file is analysed again; a failed one only once it changes. */
LG_TEST(changed_and_failed)
{
    struct lg_store *s = open_store("change");
    sh("mkdir -p ch && cp m/loud.flac ch/a.flac && cp m/Ann/First/3.flac ch/b.flac");
    scan(s, "ch");
    pass(s, "ch");
    int64_t a = id_of(s, "a.flac"), b = id_of(s, "b.flac");
    struct lg_track_analysis x, y;
    CHECK_INT(lg_store_track_analysis_get(s, a, &x), 0);
    sh("sleep 0.01 && cp m/Ann/First/2.flac ch/a.flac");
    scan(s, "ch");
    CHECK_INT(due(s), 1);
    struct lg_analysis_pass_stats st = pass(s, "ch");
    CHECK_INT(st.analysed, 1);
    CHECK_INT(lg_store_track_analysis_get(s, a, &y), 0);
    CHECK(fabs(x.integrated_lufs - y.integrated_lufs) > 3);
    lg_track_analysis_free(&x);
    lg_track_analysis_free(&y);
    /* The file turns bad behind the store's back: the failure is kept. */
    sh("head -c 200 m/loud.flac > ch/b.flac.tmp && mv ch/b.flac.tmp ch/b.flac");
    CHECK_INT(lg_store_track_analysis_get(s, b, &x), 0);
    lg_track_analysis_free(&x);
    CHECK_INT(lg_store_begin(s), 0);
    struct lg_track_analysis stale = { .track_id = b, .dsp_version = lg_dsp_version() - 1 };
    CHECK_INT(lg_store_track_analysis_put(s, &stale), 0); /* an older formula: due */
    CHECK_INT(lg_store_commit(s), 0);
    st = pass(s, "ch");
    CHECK_INT(st.failed, 1);
    CHECK_INT(lg_store_track_analysis_get(s, b, &x), 0);
    CHECK(x.error != NULL && isnan(x.integrated_lufs));
    lg_track_analysis_free(&x);
    st = pass(s, "ch");
    CHECK_INT(st.due, 0);
    lg_store_close(s);
}

/* Removing a track removes its analysis, and its album's with the album. */
LG_TEST(cascade)
{
    struct lg_store *s = open_store("cascade");
    /* keep.flac, of another album, stays: a folder left with no audio file
     * at all keeps its tracks (a disk not mounted). */
    sh("mkdir -p cas && cp m/Ann/First/1.flac cas/ && ffmpeg -nostdin -loglevel error -y -i "
       "m/Ann/First/1.flac -metadata album=Other -c copy cas/keep.flac");
    scan(s, "cas");
    pass(s, "cas");
    int64_t id = id_of(s, "1.flac");
    struct lg_track t;
    CHECK_INT(lg_store_track_get(s, id, &t), 0);
    struct lg_album_analysis aa;
    CHECK_INT(lg_store_album_analysis_get(s, t.album_id, &aa), 0);
    sh("rm cas/1.flac");
    scan(s, "cas");
    struct lg_track_analysis x;
    CHECK_INT(lg_store_track_analysis_get(s, id, &x), LG_ENOTFOUND);
    CHECK_INT(lg_store_album_analysis_get(s, t.album_id, &aa), LG_ENOTFOUND);
    lg_track_free(&t);
    lg_store_close(s);
}

/* A track that leaves its album for another, its file unchanged: no file
 * is decoded again, and both albums are measured again from the stored
 * energies of the tracks they now hold. */
LG_TEST(album_membership)
{
    struct lg_store *s = open_store("member");
    sh("mkdir -p mem && cp m/Ann/First/1.flac m/Ann/First/2.flac m/Ann/First/3.flac mem/");
    scan(s, "mem");
    pass(s, "mem");
    struct lg_track t;
    CHECK_INT(lg_store_track_get(s, id_of(s, "1.flac"), &t), 0);
    int64_t first = t.album_id;
    free(t.album);
    t.album = lg_xstrdup("Moved");
    CHECK_INT(lg_store_begin(s), 0);
    CHECK_INT(lg_store_track_upsert(s, &t, NULL), 0);
    CHECK(lg_store_prune(s) >= 0);
    CHECK_INT(lg_store_commit(s), 0);
    lg_track_free(&t);
    CHECK_INT(lg_store_track_get(s, id_of(s, "1.flac"), &t), 0);
    int64_t moved = t.album_id;
    lg_track_free(&t);
    CHECK(moved != first);
    struct lg_album_analysis aa;
    CHECK_INT(lg_store_album_analysis_get(s, first, &aa), LG_ENOTFOUND);

    struct lg_analysis_pass_stats st = pass(s, "mem");
    CHECK_INT(st.due, 0);
    CHECK_INT(st.analysed, 0);
    CHECK_INT(st.albums, 2);
    struct lg_analysis v[3];
    static const char *const rel[] = { "1.flac", "2.flac", "3.flac" };
    for (int i = 0; i < 3; i++) {
        char *p = lg_xasprintf("%s/mem/%s", tmp, rel[i]);
        char err[160];
        CHECK_INT(lg_analyze_file(p, &v[i], err, sizeof(err)), 0);
        free(p);
    }
    struct lg_analysis al;
    CHECK_INT(lg_analyze_album(v + 1, 2, &al), 0); /* First holds 2 and 3 now */
    CHECK_INT(lg_store_album_analysis_get(s, first, &aa), 0);
    CHECK(fabs(aa.integrated_lufs - al.integrated_lufs) < 1e-6);
    CHECK(fabs(aa.true_peak_dbtp - al.true_peak_dbtp) < 1e-9);
    lg_analysis_free(&al);
    CHECK_INT(lg_store_album_analysis_get(s, moved, &aa), 0);
    CHECK(fabs(aa.integrated_lufs - v[0].integrated_lufs) < 1e-6);
    for (int i = 0; i < 3; i++)
        lg_analysis_free(&v[i]);
    st = pass(s, "mem"); /* measured: nothing left */
    CHECK_INT(st.albums, 0);
    lg_store_close(s);
}

LG_TEST(cancelled)
{
    struct lg_store *s = open_store("cancel");
    sh("mkdir -p can && cp m/loud.flac can/");
    scan(s, "can");
    atomic_bool stop;
    atomic_init(&stop, true);
    char *m = lg_xasprintf("%s/can", tmp);
    struct lg_analysis_pass_stats st;
    CHECK_INT(lg_library_analyze_pending(s, m, 1, LG_DSP_AUTO, &stop, &st), -ECANCELED);
    free(m);
    CHECK_INT(st.analysed, 0);
    CHECK_INT(due(s), 1);
    lg_store_close(s);
}

/* The flow the GPU takes (threads decode whole files, batches are measured
 * together, waveforms of known length), run on the CPU batch backend: the
 * same values as the file-by-file pass, and stopping works there too. */
LG_TEST(batched_as_on_gpu)
{
    struct lg_store *a = open_store("per_file"), *b = open_store("batched");
    sh("mkdir -p bt && cp m/Ann/First/*.flac m/loud.flac bt/");
    scan(a, "bt");
    scan(b, "bt");
    char *m = lg_xasprintf("%s/bt", tmp);
    struct lg_analysis_pass_stats sa, sb;
    atomic_bool stop;
    atomic_init(&stop, true);
    CHECK_INT(lg_library_analyze_pending(b, m, 2, LG_DSP_CPU | LG_ANALYZE_BATCHED, &stop, &sb),
              -ECANCELED);
    CHECK_INT(sb.analysed, 0);
    CHECK_INT(lg_library_analyze_pending(a, m, 2, LG_DSP_CPU, NULL, &sa), 0);
    CHECK_INT(lg_library_analyze_pending(b, m, 2, LG_DSP_CPU | LG_ANALYZE_BATCHED, NULL, &sb), 0);
    CHECK_INT(sa.analysed, 4);
    CHECK_INT(sb.analysed, 4);
    static const char *const rel[] = { "1.flac", "2.flac", "3.flac", "loud.flac" };
    for (int i = 0; i < 4; i++) {
        struct lg_track_analysis x, y;
        CHECK_INT(lg_store_track_analysis_get(a, id_of(a, rel[i]), &x), 0);
        CHECK_INT(lg_store_track_analysis_get(b, id_of(b, rel[i]), &y), 0);
        CHECK(fabs(x.integrated_lufs - y.integrated_lufs) < 1e-9);
        CHECK(fabs(x.range_lu - y.range_lu) < 1e-9 || (isnan(x.range_lu) && isnan(y.range_lu)));
        CHECK(fabs(x.true_peak_dbtp - y.true_peak_dbtp) < 1e-9);
        CHECK_INT((int)x.n_block, (int)y.n_block);
        CHECK_INT((int)y.n_waveform, LG_ANALYSIS_WAVEFORM_BUCKETS);
        /* Steady tones: the buckets' bounds differ (known against unknown
         * length), their values hardly. */
        int worst = 0;
        for (size_t k = 0; k < 2 * y.n_waveform && x.n_waveform == y.n_waveform; k++) {
            int d = abs((int)x.waveform[k] - (int)y.waveform[k]);
            worst = d > worst ? d : worst;
        }
        CHECK(worst <= 2);
        lg_track_analysis_free(&x);
        lg_track_analysis_free(&y);
    }
    free(m);
    lg_store_close(a);
    lg_store_close(b);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(round_trip), LG_CASE(album_from_stored_energies),
             LG_CASE(changed_and_failed), LG_CASE(cascade), LG_CASE(album_membership),
             LG_CASE(cancelled), LG_CASE(batched_as_on_gpu))
