/* SPDX-License-Identifier: MIT */
/*
 * Direct serving: the original bytes of a track as they lie on disk, with the
 * range and validator rules of HTTP (RFC 9110 sections 8.8, 13 and 14) and the
 * Content-Disposition encoding of RFC 6266. No HTTP library appears here: the
 * http/ handlers ask lg_stream_plan what to answer and turn the plan into a
 * response that sends the file with sendfile(2).
 *
 * Everything but the opening of files is pure. Header values passed in come
 * from peers: they are parsed strictly, never trusted, and a value that does
 * not parse is ignored as RFC 9110 asks (never an error).
 */
#ifndef LG_STREAM_STREAM_H
#define LG_STREAM_STREAM_H

#include <stdbool.h>

#include <sys/types.h>

#include "core/common.h"
#include "media/media.h"

struct lg_store;

enum {
    LG_ETAG_MAX = 64,      /* room for any ETag made by lg_etag_make, with its NUL */
    LG_HTTP_DATE_LEN = 30, /* "Sun, 06 Nov 1994 08:49:37 GMT" and its NUL */
};

/* One byte range of a representation: len bytes from offset first. */
struct lg_range {
    int64_t first;
    int64_t len;
};

/* Parses a Range header value against a representation of size bytes.
 * Returns 1 and writes *out for one satisfiable range ("bytes=100-199",
 * "bytes=-500", "bytes=100-"; a last position past the end is clamped).
 * Returns 0 when the header must be ignored and the whole representation
 * served: hdr NULL, another unit, malformed syntax, last < first, or more than
 * one range (RFC 9110 lets a server ignore Range; serving several ranges
 * would need multipart/byteranges, which players do not ask for).
 * Returns LG_ERANGE when the single range starts at or past the end, or is a
 * suffix of length 0 (the caller answers 416). Numbers too large for int64
 * saturate, so they are treated as "past the end" rather than rejected. */
int lg_range_parse(const char *hdr, int64_t size, struct lg_range *out);

/* Writes a strong ETag (with its quotes) built from the file's inode, size
 * and modification time, so that any change to the file changes it. */
void lg_etag_make(char out[LG_ETAG_MAX], uint64_t ino, int64_t size, int64_t mtime_ns);

/* If-None-Match: true when the header value is "*" or lists an entity-tag
 * that matches etag under the weak comparison (W/ prefixes are ignored).
 * False for NULL or an unparsable list. */
bool lg_etag_match_weak(const char *if_none_match, const char *etag);

/* If-Range: true when the Range header may be honoured, that is, when the
 * value is an entity-tag that strongly matches etag (a weak tag never
 * matches), or an HTTP-date exactly equal to the last modification time
 * mtime_s while that time is a strong validator: etag is not weak, and the
 * time is at least a second before now_s, the time of the answer (RFC 9110
 * 8.8.2.2; a file written twice in the same second has one date for two
 * contents). False when it does not match or does not parse. */
bool lg_if_range_ok(const char *if_range, const char *etag, int64_t mtime_s, int64_t now_s);

/* Formats t (seconds since the epoch) as an IMF-fixdate. Returns the length
 * (29), or LG_EINVAL when t is outside years 0..9999. */
int lg_http_date_format(int64_t t, char out[LG_HTTP_DATE_LEN]);

/* Parses an HTTP-date in any of the three forms recipients must accept:
 * IMF-fixdate, RFC 850 and asctime. Writes seconds since the epoch to *out
 * and returns 0, or LG_EPARSE. */
int lg_http_date_parse(const char *s, int64_t *out) LG_MUST_CHECK;

/* Writes a Content-Disposition value for a download of a file named name:
 * `attachment; filename="ASCII"; filename*=UTF-8''PERCENT-ENCODED`. Path
 * separators and control characters become '_', invalid UTF-8 becomes U+FFFD,
 * the ASCII fallback replaces non-ASCII, '"', '\\' and '%' with '_', names
 * over 200 bytes are cut at a character boundary, and an empty name becomes
 * "download". Returns the length written (without the NUL) or LG_ETOOBIG when
 * cap is too small (1024 is always enough). */
int lg_content_disposition(const char *name, char *out, size_t cap) LG_MUST_CHECK;

/* The media type for a file suffix (without the dot, any case; NULL is
 * allowed), e.g. "audio/mpeg" for "mp3", from media/'s table;
 * "application/octet-stream" when unknown. Static string. */
const char *lg_stream_mime(const char *suffix);

enum {
    LG_STREAM_CTYPE_MAX = 64, /* room for a media type and its NUL */
    LG_STREAM_NAME_MAX = 256, /* room for a file name (NAME_MAX) and its NUL */
};

/* An open file ready to be sent, with its validators. */
struct lg_stream_file {
    int fd; /* owned; closed by lg_stream_file_close or handed to the sender */
    int64_t size;
    int64_t mtime_s;
    char etag[LG_ETAG_MAX];
    char last_modified[LG_HTTP_DATE_LEN];
    /* Filled by lg_stream_open_track only: */
    char content_type[LG_STREAM_CTYPE_MAX];
    char name[LG_STREAM_NAME_MAX]; /* the file's base name, for downloads */
};

/* Opens root + "/" + rel for reading. rel must come from the catalogue and is
 * checked with lg_path_rel_safe (symbolic links inside the library are
 * followed: the library may be made of links). Returns 0 and fills *out;
 * LG_EINVAL for an unsafe rel, LG_ENOTFOUND when the path is not a regular
 * file, -ENAMETOOLONG, or -errno from open/fstat (-ENOENT when the file
 * vanished since the scan). Cost: one open and one fstat. */
int lg_stream_open(const char *root, const char *rel, struct lg_stream_file *out) LG_MUST_CHECK;
/* Closes f->fd when it is open and marks it closed. */
void lg_stream_file_close(struct lg_stream_file *f);

/* The stream subsystem of a running server: for now, direct serving of
 * tracks by id. Each thread remembers, for two seconds, which file and media
 * type belong to a track id (a player fetching a track range by range then
 * costs one catalogue query per track, not one per request), and keeps a few
 * of those files open (opening costs more than the rest of a range request).
 * This is safe because a track id always names the same path (the store keeps
 * ids stable per path), and because every request fstat()s the file it sends:
 * sizes and validators are never stale, and a file deleted or replaced by a
 * rename is opened again by its path at once. Thread-safe. */
struct lg_stream;

/* Creates the subsystem. store and music_dir are borrowed and must outlive
 * it. Caller owns *out (lg_stream_free; the threads that used it must have
 * exited or called lg_stream_idle first, or they keep up to 8 descriptors
 * open until they exit). */
int lg_stream_new(struct lg_store *store, const char *music_dir,
                  struct lg_stream **out) LG_MUST_CHECK;
void lg_stream_free(struct lg_stream *st);

/* Opens the file of track id and fills *out, content_type and name included.
 * Returns 0; LG_ENOTFOUND when there is no such track, its file is gone or
 * is not a regular file, or its catalogued path is unsafe; LG_ESTORE; or
 * -errno (-EACCES, -EMFILE, ...). Cost: usually one dup and one fstat; one
 * open besides when the file is not kept open; one store query besides every
 * two seconds per track and thread. */
int lg_stream_open_track(struct lg_stream *st, int64_t id,
                         struct lg_stream_file *out) LG_MUST_CHECK;

/* Closes the files the calling thread keeps open for st (its rows stay), so
 * that an idle server holds no music file open. The HTTP server calls it when
 * a connection closes. NULL is ignored. */
void lg_stream_idle(struct lg_stream *st);

/* The request headers that decide the answer; NULL when absent. */
struct lg_stream_cond {
    const char *range;
    const char *if_range;
    const char *if_none_match;
    const char *if_modified_since;
    int64_t now_s; /* the time of the answer, in seconds since the epoch */
};

/* What to answer: status 200 (whole file), 206 (one range), 304 (not
 * modified, no body) or 416 (range not satisfiable, no body), and the bytes
 * of the body for 200 and 206. */
struct lg_stream_plan {
    int status;
    int64_t offset;
    int64_t length;
};

/* Decides the answer to a GET or HEAD of a file of size bytes, last modified
 * at mtime_s, with the given ETag, following the order of RFC 9110 13.2.2:
 * If-None-Match (weak), else If-Modified-Since, then If-Range, then Range. */
void lg_stream_plan(int64_t size, int64_t mtime_s, const char *etag, const struct lg_stream_cond *c,
                    struct lg_stream_plan *out);

/* --- transcoding (transcode.c) --- */

struct lg_transcode_batch;

struct lg_transcode_opts {
    int format;       /* enum lg_format */
    int bitrate_kbps; /* 0: the format's default */
    double offset_s;  /* start this far into the track (sample-accurate) */
    double gain_db;   /* applied in the process stage; 0: none */
    bool limit;       /* true-peak limiter at -1 dBTP after the gain */
    int bits;         /* FLAC: 24 keeps 24 bits */
    int complexity;   /* encoder effort (Opus 0..10); -1: the codec's default */
    /* The process stage: batch, shared with other transcodes (borrowed; it
     * must outlive the transcode), or NULL: a one-job batch of its own on
     * backend (LG_DSP_CPU, the zero value; LG_DSP_CUDA; LG_DSP_AUTO; tests
     * may OR in LG_DSP_BATCH_EMULATE). Neither changes the output's length;
     * the CPU gives the samples of lg_resampler, lg_gain and lg_limiter
     * exactly, CUDA within 1e-5. */
    struct lg_transcode_batch *batch;
    int backend;
};

struct lg_transcode;

/* Chunks: the first is 100 ms of audio (a fast first byte), later ones
 * LG_TRANSCODE_CHUNK_MS, at most LG_TRANSCODE_BLOCK_FRAMES source frames
 * (500 ms up to 192 kHz; shorter above). */
enum {
    LG_TRANSCODE_CHUNK_MS = 500,
    LG_TRANSCODE_BLOCK_FRAMES = 96000,
};

/* Opens the pipeline for the file at path: decoder (seeked to offset_s),
 * its job in the process stage's batch and encoder, whose header reaches
 * the sink before this returns. Caller owns *out (lg_transcode_free). 0,
 * LG_EINVAL (bad options), LG_EMEDIA (not decodable, or a source the DSP
 * cannot take: reason in err), -ENODEV (backend LG_DSP_CUDA without a
 * usable GPU: reason in err), -ENOSPC (the shared batch is full), -EIO (the
 * shared batch failed), -errno, or the sink's error. */
int lg_transcode_open(const char *path, const struct lg_transcode_opts *o,
                      lg_encoder_write_fn *write, lg_encoder_seek_fn *seek, void *ctx,
                      struct lg_transcode **out, char *err, size_t err_len) LG_MUST_CHECK;
/* Moves one chunk through load, process and generate; its bytes reach the
 * sink before it returns. 1: more to come; 0: finished (trailer written);
 * < 0: an error (the stream is unusable; a damaged file ends early with 0
 * instead, as the decoder skips what it cannot read). For a transcode with
 * a batch of its own (opts.batch NULL), which it runs after the submit;
 * LG_EINVAL with a shared one. Not thread-safe per transcode. */
int lg_transcode_step(struct lg_transcode *t) LG_MUST_CHECK;
/* The two halves of a step around a shared batch's run. submit: load the
 * next chunk and queue it in the batch (with the end of the input after
 * the last chunk), to be processed by deadline_ns (CLOCK_MONOTONIC); 1
 * when queued (call lg_transcode_generate once lg_transcode_batch_run has
 * returned t), 0 when the transcode is finished, < 0 an error. generate:
 * take the chunk's output from the batch and encode it; returns as
 * lg_transcode_step. Call them in turn, from one thread at a time. */
int lg_transcode_submit(struct lg_transcode *t, int64_t deadline_ns) LG_MUST_CHECK;
int lg_transcode_generate(struct lg_transcode *t) LG_MUST_CHECK;
/* Takes t out of its batch at once (a queued chunk is dropped): t may then
 * only be freed. For a caller that must know t is in no later run. Takes
 * the batch's lock. */
void lg_transcode_unbatch(struct lg_transcode *t);
int lg_transcode_rate(const struct lg_transcode *t);     /* output rate */
int lg_transcode_channels(const struct lg_transcode *t); /* before any downmix */
/* The sink's ctx given to lg_transcode_open. */
void *lg_transcode_ctx(const struct lg_transcode *t);
/* Frames (and seconds) of audio given to the encoder so far. */
int64_t lg_transcode_frames(const struct lg_transcode *t);
double lg_transcode_media_s(const struct lg_transcode *t);
/* Time spent so far in stage (LG_STAGE_LOAD, _PROCESS, _GENERATE); process
 * is t's share of the batch runs it was in, plus its copies in and out.
 * Thread-safe. */
double lg_transcode_busy_s(const struct lg_transcode *t, int stage);
void lg_transcode_free(struct lg_transcode *t);
/* The whole pipeline from the file in to the file out ("-": standard output,
 * without the headers rewritten at the end), with a one-job batch on
 * o->backend. out is written beside itself and renamed into place when
 * complete, so a failure leaves nothing under its name. 0 or an error with
 * a reason in err. */
int lg_transcode_file(const char *in, const char *out, const struct lg_transcode_opts *o, char *err,
                      size_t err_len) LG_MUST_CHECK;

/*
 * The process stage of many transcodes as one batch (dsp.h's streaming
 * batcher): transcodes opened with opts.batch submit their chunks to it, a
 * run processes all that is queued (on the CPU one job after the other, on
 * CUDA in one launch per stage), and each then takes its output. Every run
 * feeds the profiler: each transcode's share of the run time into
 * lg_prof_stage("process", format, "cpu" or "cuda") and a "process" span in
 * the trace, for CUDA runs the phase times into ("upload" / "kernels" /
 * "download", "all", "cuda") and spans on three trace rows, and where the
 * next run goes into lg_prof_dsp_set(). All functions are thread-safe: a
 * mutex serialises every call into the batcher (a leaf lock, held across a
 * run; nothing else is called under it but the batcher and the profiler).
 */

/* A batch for up to max_jobs transcodes on backend (LG_DSP_CPU, LG_DSP_CUDA,
 * LG_DSP_AUTO, | LG_DSP_BATCH_EMULATE). 0; -ENODEV with the reason in why
 * (cap bytes, may be NULL) when LG_DSP_CUDA cannot run; LG_EINVAL; -ENOMEM.
 * Caller owns *out (lg_transcode_batch_free, after every transcode that
 * uses it is freed). */
int lg_transcode_batch_new(int backend, int max_jobs, struct lg_transcode_batch **out, char *why,
                           size_t cap) LG_MUST_CHECK;
void lg_transcode_batch_free(struct lg_transcode_batch *tb);
/* The flush policy (lg_dsp_batcher_should_run): 1 when a run is due at
 * now_ns, else 0; *due_ns is when one will be by the queued chunks'
 * deadlines (INT64_MAX: nothing queued, or the batch failed). */
int lg_transcode_batch_due(struct lg_transcode_batch *tb, int64_t now_ns, int64_t *due_ns);
/* Runs every queued chunk and writes the transcodes whose chunk ran to
 * ran[] (cap at least max_jobs, or the rest are not listed); returns their
 * count (0: nothing was queued); -ENOMEM (nothing ran; try again); -EIO
 * when the run failed on the GPU: the batch is then failed for good (every
 * later call on it and on its transcodes fails with -EIO). */
int lg_transcode_batch_run(struct lg_transcode_batch *tb, struct lg_transcode **ran, size_t cap);
/* Where the next run goes (LG_DSP_CPU or LG_DSP_CUDA) and why (one line). */
int lg_transcode_batch_choice(struct lg_transcode_batch *tb, char *why, size_t cap);
/* Tests: the next run fails with -EIO, as a failed CUDA call makes it. */
void lg_transcode_batch_fail_next(struct lg_transcode_batch *tb);

/* --- shared transcode jobs and their scheduler (jobs.c) --- */

struct lg_cache;
struct lg_jobs;
struct lg_job_reader;

struct lg_jobs_opts {
    int workers;            /* threads; 0: one per core */
    double ahead_s;         /* a job this far ahead of its listeners waits (0: 30) */
    double burst_s;         /* the first seconds of a stream, made at once (0: none) */
    double late_s;          /* a chunk this late counts towards overload (0: 0.5) */
    struct lg_cache *cache; /* finished transcodes go here; NULL: none (borrowed) */
    /* The process stage's batch, shared by every job: its backend
     * (LG_DSP_CPU, the zero value; LG_DSP_CUDA; LG_DSP_AUTO; tests may OR
     * in LG_DSP_BATCH_EMULATE) and the jobs it takes at once (0: 4096). */
    int backend;
    int max_jobs;
    /* Bytes the jobs' buffers may hold together (0: a quarter of the
     * machine's memory, 64 MiB at least): past three quarters lg_jobs_attach
     * starts no job (-EBUSY), and a job that would pass it all ends
     * (-ENOMEM). A job keeps every byte it made, for
     * listeners who join it later. */
    int64_t max_buffered;
};

/* Starts the workers and the batch thread. Caller owns *out (lg_jobs_free,
 * after every reader has detached). 0, -ENOMEM, -EAGAIN, or -ENODEV when
 * backend is LG_DSP_CUDA and no GPU is usable (the reason is logged). */
int lg_jobs_new(const struct lg_jobs_opts *o, struct lg_jobs **out) LG_MUST_CHECK;
void lg_jobs_free(struct lg_jobs *s);
/* Ends every job (its readers get -ECANCELED and are woken, none waits
 * again) and refuses new ones: for shutdown, before the HTTP server stops,
 * since it may not stop while a connection waits. NULL is ignored. */
void lg_jobs_cancel(struct lg_jobs *s);
/* The degrade level new jobs get: 0 full quality, 1 lowest encoder
 * complexity, 2 also three quarters of the bitrate (sustained overload). */
int lg_jobs_degrade(const struct lg_jobs *s);
/* Tests: the batch's next run fails as a CUDA error does: its jobs end
 * with -EIO (logged once) and new jobs get a batch on the CPU. */
void lg_jobs_fail_dsp(struct lg_jobs *s);

/* Called when a waiting reader has data (or its job ended), and to suspend
 * one: both under the job's lock, so a wake never overtakes its suspend. */
typedef void lg_job_wake_fn(void *ctx);

/* Attaches a reader to the running job for key (any string naming the
 * source and every setting), or starts one: opens path with o (its header is
 * made at once). *shared tells whether the job was running already. Caller
 * owns *out (lg_job_detach). 0, or lg_transcode_open's errors with err, or
 * -EBUSY (with err) when a new job would be needed and the jobs' buffers hold
 * more than three quarters of max_buffered. */
int lg_jobs_attach(struct lg_jobs *s, const char *key, const char *path,
                   const struct lg_transcode_opts *o, lg_job_wake_fn *wake, void *wake_ctx,
                   struct lg_job_reader **out, bool *shared, char *err,
                   size_t err_len) LG_MUST_CHECK;

#define LG_JOB_EOF (-1000) /* lg_job_read: the whole stream has been read */
/* Copies up to max bytes from the reader's position: n > 0; 0 when none are
 * made yet (suspend(ctx) has then been called, and wake(ctx) follows when
 * there are); LG_JOB_EOF at the end; the job's error when it failed. now
 * (CLOCK_MONOTONIC ns) starts the reader's playback clock at its first byte.
 * Thread-safe. */
ssize_t lg_job_read(struct lg_job_reader *r, void *buf, size_t max, int64_t now,
                    lg_job_wake_fn *suspend, void *suspend_ctx);
/* What a reader and its job have done so far. */
struct lg_job_stats {
    double read_s;    /* media seconds the reader has taken (by bytes) */
    double made_s;    /* media seconds the job has made */
    double busy_s[3]; /* the job's load, process and generate time */
    double waited_s;  /* time its chunks waited past their deadlines */
    int readers;      /* listeners sharing the job */
};
void lg_job_stats(const struct lg_job_reader *r, struct lg_job_stats *out);
/* Why a listener with these stats has a low buffer: writes a sentence to why
 * and returns the stage to blame (LG_STAGE_SEND when bytes were made but not
 * taken: the network; LG_STAGE_GENERATE when chunks waited for a worker:
 * overload; else the job's slowest stage). */
int lg_job_diagnose(const struct lg_job_stats *st, char *why, size_t cap);
/* Detaches r: the job's last reader gone, the job stops and is freed at
 * once (its cache entry discarded). NULL is ignored. */
void lg_job_detach(struct lg_job_reader *r);

/* --- the transcode cache (cache.c) --- */

/* Finished transcodes kept as files in one folder, so that the same work is
 * never done twice. An entry is named by its key (any string naming the source
 * and every setting); the folder is bounded in size and the least recently
 * used entries go first, in an order that survives a restart (it is kept in
 * the files' modification times). One process uses a folder at a time (the
 * folder is locked; a second process caches nothing). All functions are
 * thread-safe; a writer is used by one thread at a time. */
struct lg_cache;

/* Opens (creating) the cache folder dir, bounded to max_bytes (> 0). Finds the
 * entries already there (a restart keeps the cache; half-written temp files of
 * a killed process are removed; other files are left alone) and evicts the
 * oldest when they exceed max_bytes. Caller owns *out (lg_cache_close). 0,
 * LG_EINVAL for an empty dir or max_bytes <= 0, or -errno; a folder that
 * cannot be created, written or locked is not an error: the cache then keeps
 * nothing and logs one warning (a stream never breaks for it). Cost: one
 * stat per file in the folder. */
int lg_cache_open(const char *dir, int64_t max_bytes, struct lg_cache **out) LG_MUST_CHECK;
/* Frees c; every writer must have been committed or aborted. Descriptors
 * returned by lg_cache_get stay valid. NULL is ignored. */
void lg_cache_close(struct lg_cache *c);

/* The finished entry of key (any string; it is hashed to a file name): opens it
 * for reading and marks it used. 0 and *fd (caller closes) and *size;
 * LG_ENOTFOUND (also while the entry is being written, and always when the
 * cache keeps nothing); -errno from open (-EMFILE...). The descriptor keeps
 * reading the whole entry even when it is evicted meanwhile. Thread-safe. */
int lg_cache_get(struct lg_cache *c, const char *key, int *fd, int64_t *size) LG_MUST_CHECK;

struct lg_cache_writer;
/* Starts an entry: a temp file in the folder. Caller owns *out until
 * lg_cache_commit or lg_cache_abort. LG_EEXIST when key is finished already or
 * being written by another writer (only one writer per key); -EIO when the
 * cache is disabled or failing (the temp file cannot be made; the reason is
 * logged once per failure episode). */
int lg_cache_begin(struct lg_cache *c, const char *key, struct lg_cache_writer **out) LG_MUST_CHECK;
/* Writes n bytes at offset off (a muxer may rewrite a header at offset 0 at the
 * end). After the first error (ENOSPC, EIO...) the writer is failed: later writes
 * return that error at once, one warning is logged per failure episode (not per
 * write; an episode ends when an entry is committed again), and commit
 * discards. The files being written count against max_bytes with the finished
 * entries: a write that would take them past it evicts finished entries, and
 * when that is not enough fails the writer with LG_ETOOBIG (no warning: the
 * stream goes on uncached). LG_EINVAL for off < 0. */
int lg_cache_write(struct lg_cache_writer *w, int64_t off, const void *p, size_t n) LG_MUST_CHECK;
/* Finishes: fsync, rename into place, account its size, evict least recently
 * used entries until the total is within max_bytes (never the entry just
 * committed unless it alone exceeds max_bytes: then it is dropped, LG_ETOOBIG).
 * Frees w. 0 or the error (the entry is then discarded): the writer's first
 * error, or -errno of fsync or rename. */
int lg_cache_commit(struct lg_cache_writer *w) LG_MUST_CHECK;
/* Discards the entry and frees w. NULL is ignored. */
void lg_cache_abort(struct lg_cache_writer *w);

/* Bytes of finished entries; entries. Thread-safe (a snapshot). */
int64_t lg_cache_bytes(const struct lg_cache *c);
size_t lg_cache_entries(const struct lg_cache *c);

#endif
