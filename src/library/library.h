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

#include "core/common.h"

struct lg_store;

struct lg_scan_stats {
    int64_t files;     /* audio files found */
    int64_t added;     /* new tracks */
    int64_t updated;   /* changed tracks re-probed */
    int64_t unchanged; /* skipped: same size and mtime */
    int64_t removed;   /* tracks whose file vanished */
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
 * seconds (0 = only once, then on trigger), probing on one thread per core.
 * Borrowed pointers must outlive the scanner. LG_EINVAL for a negative
 * interval, -errno when the thread cannot start. Caller owns *out. */
int lg_scanner_start(struct lg_store *s, const char *music_dir, int64_t interval_s,
                     struct lg_scanner **out) LG_MUST_CHECK;
/* Asks for a scan now (no-op when one is running). Thread-safe. */
void lg_scanner_trigger(struct lg_scanner *sc);
/* Whether a scan runs and how many files it has handled. Thread-safe. */
void lg_scanner_status(struct lg_scanner *sc, int *scanning, int64_t *count);
/* Stops the thread (finishing the current batch) and frees the scanner.
 * NULL does nothing. */
void lg_scanner_stop(struct lg_scanner *sc);

#endif
