/* SPDX-License-Identifier: MIT */
/*
 * The library: walks the music folder, probes audio files (through media/),
 * and keeps the store's catalogue in step with the folder. A scan is
 * incremental: only files whose size or mtime changed are probed, vanished
 * files are removed, ids of unchanged tracks stay. Work is committed in
 * batches, so a killed scan leaves a consistent database that the next scan
 * completes.
 *
 * lg_library_scan runs in the calling thread (using worker threads for
 * probing). struct lg_scanner runs scans in a background thread at start and
 * on an interval; its status functions are thread-safe.
 */
#ifndef LG_LIBRARY_LIBRARY_H
#define LG_LIBRARY_LIBRARY_H

#include <stdatomic.h>

#include "core/common.h"

struct lg_store;

struct lg_scan_stats {
    int64_t files;     /* audio files found */
    int64_t added;     /* new tracks */
    int64_t updated;   /* changed tracks re-probed */
    int64_t unchanged; /* skipped: same size and mtime */
    int64_t removed;   /* tracks whose file vanished */
    int64_t moved;     /* tracks whose file moved (counted as updated too) */
    int64_t failed;    /* files that could not be read (logged) */
    double seconds;
};

/* Called from the scanning thread now and then; total is 0 while walking. */
typedef void lg_scan_progress_fn(void *ud, int64_t done, int64_t total);

/* Scans music_dir into s with n_threads probing threads (0 = one per core).
 * progress may be NULL. Writes *stats (when not NULL) on success.
 *
 * Audio files are recognised by suffix (mp3 flac ogg oga opus m4a mp4 aac wav
 * aiff aif wma ape wv mpc, any case); names starting with '.' are skipped.
 * Symbolic links are followed; each directory is entered once (by device
 * and inode), so link loops end. A sidecar image cover/folder/front
 * .jpg/.jpeg/.png (any case) in a track's folder becomes its cover_path.
 * Unreadable, empty, truncated or non-audio files are logged (warn, under
 * "library/scan") and counted as failed; known tracks below a directory that
 * cannot be read are kept. When anything changed, the store's meta key
 * "library.changed_at" is set to the time in ms since the epoch.
 *
 * Errors: -errno when music_dir cannot be opened (nothing is deleted then),
 * store errors (the current batch is rolled back, earlier ones are kept). */
int lg_library_scan(struct lg_store *s, const char *music_dir, int n_threads,
                    lg_scan_progress_fn *progress, void *ud,
                    struct lg_scan_stats *stats) LG_MUST_CHECK;

struct lg_scanner;

/* Starts a background thread that scans at once and then every interval_s
 * seconds (0 = only once, then on trigger), probing on one thread per core;
 * after each scan it runs lg_library_analyze_pending() on dsp_backend (enum
 * lg_dsp_backend). Borrowed pointers must outlive the scanner. LG_EINVAL for a negative
 * interval, -errno when the thread cannot start. Caller owns *out. */
int lg_scanner_start(struct lg_store *s, const char *music_dir, int64_t interval_s, int dsp_backend,
                     struct lg_scanner **out) LG_MUST_CHECK;
/* Asks for a scan now (no-op when one is running). Thread-safe. */
void lg_scanner_trigger(struct lg_scanner *sc);
/* Whether a scan runs and how many files it has handled. Thread-safe. */
void lg_scanner_status(struct lg_scanner *sc, int *scanning, int64_t *count);
/* Stops the thread (finishing the current batch) and frees the scanner.
 * NULL does nothing. */
void lg_scanner_stop(struct lg_scanner *sc);

/* --- M3U playlists (playlists.c) --- */

#include <stdbool.h>

/* The entries of one M3U playlist. */
struct lg_m3u {
    char **paths; /* relative to the music folder, '/'-separated, normalised */
    size_t n;
    size_t n_skipped;    /* entries refused: outside the folder, URLs, bad text, unknown */
    char *first_skipped; /* the first of them as written (valid UTF-8), or NULL */
};

/* Releases what m holds; NULL does nothing. */
void lg_m3u_free(struct lg_m3u *m);

/* Parses the len bytes of an M3U playlist found in folder dir_rel (relative
 * to the music folder, "" at its root). Lines end in LF, CRLF or CR; a UTF-8
 * byte order mark is dropped; lines starting with '#' (#EXTM3U, #EXTINF,
 * comments) and blank lines are ignored; surrounding blanks are trimmed;
 * backslashes are separators; file:// URLs are decoded, other URLs refused.
 * Relative entries resolve against dir_rel, absolute ones must lie under root
 * or root_alt (either may be NULL; root_alt is meant for the real path of
 * root); ".." is resolved lexically and may not climb out of the folder.
 * utf8 is true for .m3u8: text is UTF-8, and a line that is not is taken
 * as the bytes of a file name in another encoding; otherwise text that is
 * not valid UTF-8 as a whole is read as Latin-1 (the import then looks an
 * entry up by its Latin-1 bytes too, for a file named in Latin-1).
 * Whether a resolved path is a track is not checked here. Always 0 for now;
 * caller owns *out (lg_m3u_free). Pure; thread-safe. */
int lg_m3u_parse(const char *data, size_t len, bool utf8, const char *root, const char *root_alt,
                 const char *dir_rel, struct lg_m3u *out) LG_MUST_CHECK;

/* Whether a file name is a playlist the scan imports (.m3u or .m3u8, any
 * case, not hidden). */
bool lg_m3u_is_playlist_name(const char *name);

/* Brings the store's imported playlists in step with the .m3u/.m3u8 files
 * below music_dir: a file that is new or whose mtime changed (every file when
 * force, e.g. because tracks came or went) becomes a public playlist named
 * after the file, owned by the first administrator, holding the entries that
 * are tracks in the store (the others are skipped, one log line per file);
 * playlists of vanished files are deleted, except below directories that
 * could not be read. Without an administrator nothing is imported (logged).
 * Returns 0 or a store error; unreadable files are logged and skipped. Runs
 * in the calling thread, which must have no transaction open. */
int lg_library_import_playlists(struct lg_store *s, const char *music_dir,
                                bool force) LG_MUST_CHECK;

/* --- analysis: loudness and peaks of files (analyze.c) --- */

struct lg_loudness;

/* What an analysis measured. Values are NAN when not measurable (silence, or
 * too little audio). */
struct lg_analysis {
    double integrated_lufs;  /* BS.1770-4 / EBU R128 integrated loudness */
    double range_lu;         /* EBU Tech 3342 loudness range */
    double true_peak_dbtp;   /* 4x oversampled peak over all channels */
    double sample_peak_dbfs; /* largest sample over all channels */
    int64_t frames;
    int rate;
    int channels;
    struct lg_loudness *meter;    /* owned: kept for album values */
    struct lg_waveform *waveform; /* owned, when lg_analyze_opts asked for it */
};

/* Decodes and measures path. On success fills *out (release with
 * lg_analysis_free) and returns 0; otherwise -errno or LG_EMEDIA with a reason
 * in err. Thread-safe (one call per file). */
int lg_analyze_file(const char *path, struct lg_analysis *out, char *err,
                    size_t err_len) LG_MUST_CHECK;
struct lg_waveform;

/* Options of lg_analyze_file_opts; every field may be NULL. */
struct lg_analyze_opts {
    _Atomic bool *cancel;    /* checked per decoded block: -ECANCELED */
    size_t waveform_buckets; /* > 0: also summarise into this many buckets */
    int nice;                /* > 0: lg_analyze_files_opts' threads run at this nice */
};
/* lg_analyze_file with options (NULL for none). */
int lg_analyze_file_opts(const char *path, const struct lg_analyze_opts *opts,
                         struct lg_analysis *out, char *err, size_t err_len) LG_MUST_CHECK;
/* Releases the meter an analysis holds. */
void lg_analysis_free(struct lg_analysis *a);
/* Album values of n analyses from their gating blocks (no audio re-read);
 * entries without a meter (failed files) are skipped. Peaks are the maxima.
 * *out holds no meter. LG_ENOTFOUND when none has a meter. */
int lg_analyze_album(const struct lg_analysis *v, size_t n, struct lg_analysis *out) LG_MUST_CHECK;
/* Analyses n files on n_threads threads (0 = one per core): results[i],
 * status[i] (0 or the error) and errs[i] (the reason) for each. Returns 0 or
 * -ENOMEM. */
int lg_analyze_files(const char *const *paths, size_t n, int n_threads, struct lg_analysis *results,
                     int *status, char (*errs)[160]) LG_MUST_CHECK;
/* lg_analyze_files with the measuring on backend (enum lg_dsp_backend):
 * LG_DSP_CPU as lg_analyze_files; LG_DSP_CUDA and LG_DSP_AUTO (when CUDA is
 * usable) decode the files on n_threads threads into memory while the
 * calling thread measures batches of decoded files on the GPU (a file of
 * more than 512 MiB of PCM is measured on the CPU as it decodes); AUTO falls
 * back to the CPU when CUDA is not usable or a GPU batch fails (logged).
 * Results agree with the CPU's within the tolerances of
 * lg_dsp_analyze_batch(). Returns 0, -ENODEV (LG_DSP_CUDA not usable:
 * nothing done), -EINVAL (bad backend) or -ENOMEM. */
/* Or'ed into backend: decode into memory and measure in batches even on the
 * CPU (the flow of the CUDA path, for tests). */
#define LG_ANALYZE_BATCHED 0x100
int lg_analyze_files_backend(const char *const *paths, size_t n, int n_threads, int backend,
                             struct lg_analysis *results, int *status,
                             char (*errs)[160]) LG_MUST_CHECK;
/* lg_analyze_files_backend with options (NULL for none): files not begun
 * once *cancel is true get -ECANCELED, a file being decoded stops at its
 * next block; waveform_buckets gives every result a waveform (on CUDA of
 * exactly that many buckets, measured on the GPU with the loudness); nice
 * lowers the priority of the threads (the calling thread measuring on the
 * GPU keeps its own). */
int lg_analyze_files_opts(const char *const *paths, size_t n, int n_threads, int backend,
                          const struct lg_analyze_opts *opts, struct lg_analysis *results,
                          int *status, char (*errs)[160]) LG_MUST_CHECK;

/* --- background analysis of the catalogue (analysis_bg.c) --- */

struct lg_analysis_pass_stats {
    int64_t due;      /* tracks without a current analysis at the start */
    int64_t analysed; /* measured and stored */
    int64_t failed;   /* could not be decoded (stored with the reason) */
    int64_t albums;   /* measured again from their tracks (one joined or left) */
    double seconds;
};

/* Buckets of the stored waveform (peaks then RMS, one byte each). */
#define LG_ANALYSIS_WAVEFORM_BUCKETS 200

/* Analyses every track of s that has no analysis for its current size, mtime
 * and lg_dsp_version(): decodes the files under music_dir on n_threads
 * threads at low priority (0 = one per core) and measures them on backend
 * (enum lg_dsp_backend, as lg_analyze_files_opts takes it: auto measures on
 * the GPU when one is usable; an explicit cuda that cannot run falls back to
 * the CPU with a warning), stores loudness, peaks, gating
 * energies and waveform per track and recomputes the albums of the tracks
 * from their stored energies, committing every batch of files (so a killed
 * pass keeps its work); then recomputes, from stored energies alone, the
 * albums a track joined or left since their values were stored. Failed files are stored with the
 * reason and retried only when they change. Logs progress and a summary under "library/analysis".
 * Stops after the current files with -ECANCELED once *cancel (may be NULL) is true. Writes *stats
 * (may be NULL) on return. */
int lg_library_analyze_pending(struct lg_store *s, const char *music_dir, int n_threads,
                               int backend, atomic_bool *cancel,
                               struct lg_analysis_pass_stats *stats) LG_MUST_CHECK;

#endif
