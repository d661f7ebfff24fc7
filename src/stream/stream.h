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
 * mtime_s. False when it does not match or does not parse. */
bool lg_if_range_ok(const char *if_range, const char *etag, int64_t mtime_s);

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

struct lg_transcode_opts {
    int format;       /* enum lg_format */
    int bitrate_kbps; /* 0: the format's default */
    double offset_s;  /* start this far into the track (sample-accurate) */
    double gain_db;   /* applied in the process stage; 0: none */
    bool limit;       /* true-peak limiter at -1 dBTP after the gain */
    int bits;         /* FLAC: 24 keeps 24 bits */
    int complexity;   /* encoder effort (Opus 0..10); -1: the codec's default */
};

struct lg_transcode;

/* Opens the pipeline for the file at path: decoder (seeked to offset_s),
 * DSP chain and encoder, whose header reaches the sink before this returns.
 * Caller owns *out (lg_transcode_free). 0, LG_EINVAL (bad options),
 * LG_EMEDIA (not decodable: reason in err), -errno, or the sink's error. */
int lg_transcode_open(const char *path, const struct lg_transcode_opts *o,
                      lg_encoder_write_fn *write, lg_encoder_seek_fn *seek, void *ctx,
                      struct lg_transcode **out, char *err, size_t err_len) LG_MUST_CHECK;
/* Moves one chunk (100 ms of audio the first time, 500 ms after) through
 * load, process and generate; its bytes reach the sink before it returns.
 * 1: more to come; 0: finished (trailer written); < 0: an error (the
 * stream is unusable; a damaged file ends early with 0 instead, as the
 * decoder skips what it cannot read). Not thread-safe per transcode. */
int lg_transcode_step(struct lg_transcode *t) LG_MUST_CHECK;
int lg_transcode_rate(const struct lg_transcode *t);     /* output rate */
int lg_transcode_channels(const struct lg_transcode *t); /* before any downmix */
/* Frames (and seconds) of audio given to the encoder so far. */
int64_t lg_transcode_frames(const struct lg_transcode *t);
double lg_transcode_media_s(const struct lg_transcode *t);
/* Time spent so far in stage (LG_STAGE_LOAD, _PROCESS, _GENERATE). */
double lg_transcode_busy_s(const struct lg_transcode *t, int stage);
void lg_transcode_free(struct lg_transcode *t);
/* The whole pipeline from the file in to the file out ("-": standard output,
 * without the headers rewritten at the end). out is written beside itself
 * and renamed into place when complete, so a failure leaves nothing under
 * its name. 0 or an error with a reason in err. */
int lg_transcode_file(const char *in, const char *out, const struct lg_transcode_opts *o, char *err,
                      size_t err_len) LG_MUST_CHECK;

#endif
