/* SPDX-License-Identifier: MIT */
/*
 * Media: what legato needs to know about an audio file, read through FFmpeg's
 * libavformat. This is the only module that includes FFmpeg headers; callers
 * see plain C structs. A probe opens the container, reads the tags of the
 * container and of the audio stream (Ogg, Opus and FLAC keep them on the
 * stream), the stream parameters and whether a picture is embedded, without
 * decoding audio when the container already tells the parameters (about a
 * millisecond for a small MP3). Tag values are always valid UTF-8: invalid
 * byte sequences are replaced by U+FFFD.
 *
 * Called by the library scanner (on several threads at once) and by the cover
 * art and streaming code. Every function is thread-safe once lg_media_init
 * has run.
 */
#ifndef LG_MEDIA_MEDIA_H
#define LG_MEDIA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/common.h"

/* What a probe found. Strings are owned by the struct, never NULL after a
 * successful probe and "" when the tag is absent. */
struct lg_media_info {
    char *title;
    char *artist;
    char *album_artist; /* album_artist, "album artist", TPE2, ALBUMARTIST */
    char *album;
    char *genre;
    char *composer;
    char *mb_track_id; /* MusicBrainz recording id ("MusicBrainz Track Id") */
    char *mb_album_id;
    char *mb_artist_id;
    char *mb_album_artist_id;
    int track_no;    /* "3/12" gives 3; 0 = unknown */
    int track_total; /* "3/12" gives 12; 0 = unknown */
    int disc_no;
    int disc_total;
    int year;        /* the first 4-digit year in the date tag; 0 = unknown */
    int compilation; /* 1 when TCMP/cpil/COMPILATION says so */
    int64_t duration_ms;
    int bitrate_kbps; /* average over the file */
    int sample_rate;  /* Hz */
    int channels;
    int bits_per_sample; /* 0 for lossy codecs */
    char codec[32];      /* FFmpeg's codec name: "mp3", "flac", "vorbis", "opus", "aac", ... */
    char container[32];  /* FFmpeg's demuxer name: "mp3", "flac", "ogg", "mov,mp4,...", ... */
    int has_picture;     /* an attached picture (cover art) is embedded */
};

/* Releases the strings an info owns (not the struct). Safe on a zeroed one. */
void lg_media_info_free(struct lg_media_info *mi);

/* Silences FFmpeg's own logging (legato logs the reasons itself). Call once
 * before the other functions; later calls do nothing. Thread-safe. */
void lg_media_init(void);

/* Probes the audio file at path. On success fills *out (caller owns it;
 * release with lg_media_info_free) and returns 0. On failure returns
 * LG_EMEDIA (or -ENOENT / -EACCES when the file cannot be opened) and writes a
 * human reason ("no audio stream", "Invalid data found when processing
 * input", ...) into err (err_len bytes, may be 0). *out is untouched then. */
int lg_media_probe(const char *path, struct lg_media_info *out, char *err,
                   size_t err_len) LG_MUST_CHECK;

/* The embedded picture of path (the first attached picture stream), at most
 * limit_bytes. On success *data (caller frees with free()) holds *len bytes and
 * *mime points to a static string such as "image/jpeg". LG_ENOTFOUND when the
 * file has no picture, LG_ETOOBIG over the limit, LG_EMEDIA when it cannot
 * be read. Out-params are written only on success. */
int lg_media_picture(const char *path, size_t limit_bytes, unsigned char **data, size_t *len,
                     const char **mime) LG_MUST_CHECK;

/* The MIME type for a lowercase audio file suffix ("mp3" -> "audio/mpeg",
 * "flac" -> "audio/flac", ...); "application/octet-stream" when unknown. */
const char *lg_media_content_type(const char *suffix);
/* The MIME type of a file named with suffix whose audio the probe found to be
 * codec (FFmpeg's name) in container (may be NULL): the suffix's, unless the
 * suffix stands for one codec and the file holds another (a FLAC named .mp3
 * is audio/flac). */
const char *lg_media_content_type_of(const char *suffix, const char *codec, const char *container);
/* The file suffix for an audio MIME type ("audio/mpeg" -> "mp3"); NULL when
 * unknown. Parameters after ';' are ignored. */
const char *lg_media_suffix_for_type(const char *content_type);
/* True when the file name ends in a suffix legato treats as audio (mp3, flac,
 * ogg, oga, opus, m4a, mp4, aac, wav, aiff, aif, wma, ape, wv, mpc), in any
 * case. */
bool lg_media_is_audio_name(const char *name);

/* --- images, cover art and lyrics (image.c, lyrics.c) --- */

enum {
    LG_IMAGE_SIZE_MAX = 2048,              /* the longest side of a thumbnail */
    LG_IMAGE_DIM_MAX = 16384,              /* decoded images wider or taller are refused */
    LG_IMAGE_BYTES_MAX = 32 * 1024 * 1024, /* the largest image read */
    LG_LYRICS_BYTES_MAX = 1024 * 1024,     /* the largest lyrics text read */
    LG_COVER_ETAG_MAX = 96,                /* room for lg_cover_etag's tag */
};

/* The MIME type of an image from its first bytes: "image/jpeg", "image/png",
 * "image/gif", "image/webp" or "image/bmp"; NULL for anything else. Pure. */
const char *lg_image_sniff(const void *data, size_t len);

/* Decodes the image in data (JPEG, PNG, GIF, WebP, BMP: the first frame),
 * scales it so that its longer side is max_side pixels (1..LG_IMAGE_SIZE_MAX;
 * never enlarged: a smaller image keeps its size; aspect ratio kept,
 * transparency laid over white) and encodes it as a
 * baseline JPEG (4:2:0, quality about 90). Caller owns *out (free()).
 * Returns 0; LG_EINVAL for a bad max_side; LG_EMEDIA for data that is not a
 * supported image, does not decode, or claims more than 32 Mpx; LG_ETOOBIG
 * for a side over LG_IMAGE_DIM_MAX. Never trusts the data: truncated and
 * hostile files fail cleanly. Single-threaded, about 10 ms for a 1000x1000
 * JPEG. Thread-safe. */
int lg_image_thumbnail(const void *data, size_t len, int max_side, unsigned char **out,
                       size_t *out_len) LG_MUST_CHECK;

/* A cover to read: an image file, or the picture embedded in an audio file. */
struct lg_cover_req {
    const char *path;       /* absolute (or relative to the working directory) */
    bool embedded;          /* path is an audio file with an attached picture */
    int size;               /* 0: the original bytes; else a JPEG thumbnail this large */
    const char *cache_path; /* where the thumbnail is kept; NULL: no cache */
};

/* Reads a cover. With size 0: the original bytes and their type. Otherwise a
 * JPEG thumbnail (see lg_image_thumbnail), taken from cache_path when that
 * file carries exactly the source's modification time, else made and then
 * stored there with that time (through a temporary file and a rename; the
 * folder is created; a failure to store is logged and otherwise ignored).
 * Caller owns *data (free()); *mime is static. Returns 0; LG_ENOTFOUND when
 * the source or its picture is gone; LG_ETOOBIG, LG_EMEDIA as above; -errno.
 * Thread-safe; concurrent makers of one thumbnail do not disturb each other. */
int lg_cover_read(const struct lg_cover_req *rq, unsigned char **data, size_t *len,
                  const char **mime) LG_MUST_CHECK;
/* A strong ETag (with quotes) for the cover that lg_cover_read would give for
 * this path and size: it changes when the source file changes. Costs one
 * stat(2). Returns 0, LG_ENOTFOUND or -errno. */
int lg_cover_etag(const char *path, int size, char out[LG_COVER_ETAG_MAX]) LG_MUST_CHECK;
/* A neutral stand-in cover (a grey record on a dark square), side x side
 * pixels (1..LG_IMAGE_SIZE_MAX), as a JPEG the caller owns (free()), for
 * items that exist but have no picture. Returns 0, LG_EINVAL or LG_EMEDIA.
 * The image depends on side only. About a millisecond at 512 px. */
int lg_image_placeholder(int side, unsigned char **out, size_t *out_len) LG_MUST_CHECK;

/* One line of lyrics. */
struct lg_lyric_line {
    int64_t start_ms; /* from the start of the track; -1 in unsynced lyrics */
    char *text;       /* valid UTF-8, may be "" (a pause or a stanza break) */
};

/* One set of lyrics, as OpenSubsonic's structuredLyrics. */
struct lg_lyrics {
    char *lang;        /* the language as tagged, else "und"; never NULL */
    int64_t offset_ms; /* LRC [offset:]: positive means the lines come sooner */
    bool synced;       /* every line has a start, and lines are in start order */
    struct lg_lyric_line *lines;
    size_t n_lines;
};

/* Releases what l owns (not l). */
void lg_lyrics_free(struct lg_lyrics *l);
/* Releases an array of lyrics and the array. */
void lg_lyrics_list_free(struct lg_lyrics *v, size_t n);

/* Parses lyrics text: LRC when any line carries a time stamp, else plain
 * text. LRC: each of a line's leading stamps [mm:ss], [mm:ss.x], [mm:ss.xx],
 * [mm:ss.xxx] (or ':' before the fraction) gives the line's text a start;
 * [offset:+/-ms] sets offset_ms, [la:xx] the language; other [key:value] tags
 * ([ar:], [ti:], [length:], ...) are ignored, as are lines without a stamp,
 * malformed stamps included; <mm:ss.xx> word stamps inside a text are dropped;
 * lines are sorted by start, ties in file order. Plain text keeps every line
 * (outer blank lines dropped). A byte-order mark and CR are ignored, invalid
 * UTF-8 becomes U+FFFD. lang (NULL: "und") is used unless the text names one.
 * The lines hold at most LG_LYRICS_BYTES_MAX of text in all (a line's text is
 * copied once per stamp); lines past that are dropped.
 * Returns 0 and fills *out (caller frees with lg_lyrics_free); LG_ENOTFOUND
 * when there is no line of text; LG_ETOOBIG over LG_LYRICS_BYTES_MAX. Pure. */
int lg_lyrics_parse(const char *text, size_t len, const char *lang,
                    struct lg_lyrics *out) LG_MUST_CHECK;

/* The lyrics of the audio file at path, read on demand (never by the scan):
 * first a sidecar LRC file with the same base name (".lrc" or ".LRC"), then
 * each lyrics tag of the file (LYRICS, UNSYNCEDLYRICS, SYNCEDLYRICS, ID3 USLT
 * with its language, MP4 (c)lyr), each parsed by lg_lyrics_parse, while
 * they hold at most twice LG_LYRICS_BYTES_MAX of text together. Returns
 * the count (0 when none; *out is then NULL) and gives the caller *out
 * (lg_lyrics_list_free). An unreadable sidecar or audio file counts as having
 * no lyrics; only allocation failures are errors. Thread-safe. */
int lg_media_lyrics(const char *path, struct lg_lyrics **out, size_t *n_out) LG_MUST_CHECK;

/* --- decoding to PCM (decode.c) --- */

struct lg_decoder;

/* Opens path for decoding its first audio stream to interleaved float32 at
 * the file's rate and channel count. Caller owns *out (lg_decoder_free).
 * Returns 0, -errno or LG_EMEDIA with a reason in err. Not thread-safe per
 * decoder; separate decoders may run on separate threads. */
int lg_decoder_open(const char *path, struct lg_decoder **out, char *err,
                    size_t err_len) LG_MUST_CHECK;
int lg_decoder_rate(const struct lg_decoder *d);
int lg_decoder_channels(const struct lg_decoder *d);
/* Decodes the next block: points *pcm at n interleaved frames (owned by the
 * decoder, valid until the next call) and returns n > 0; returns 0 at the end
 * of the stream, or a negative error. Damaged packets are skipped. */
int lg_decoder_read(struct lg_decoder *d, const float **pcm) LG_MUST_CHECK;
/* Seeks so that the next lg_decoder_read starts exactly at frame (sample
 * accurate: the container seeks to a point at or before it, and the frames
 * decoded in between are dropped). 0, LG_EINVAL (negative), LG_EMEDIA. A
 * frame past the end makes the next read return 0. */
int lg_decoder_seek(struct lg_decoder *d, int64_t frame) LG_MUST_CHECK;
/* The stream's length in frames as the container states it (exact for
 * FLAC and WAV, an estimate for others), or -1 when unknown. */
int64_t lg_decoder_frames(const struct lg_decoder *d);
void lg_decoder_free(struct lg_decoder *d);

/* --- encoding and muxing (encode.c) --- */

enum lg_format {
    LG_FORMAT_OPUS,
    LG_FORMAT_MP3,
    LG_FORMAT_AAC,
    LG_FORMAT_FLAC,
    LG_FORMAT_WAV,
    LG_FORMAT_N
};
/* "opus" (also "ogg"), "mp3", "aac" (also "m4a", "adts"), "flac", "wav",
 * any case: an enum lg_format, or LG_EINVAL. */
int lg_format_parse(const char *name);
const char *lg_format_name(int format);   /* "opus"...; "" when unknown */
const char *lg_format_mime(int format);   /* "audio/ogg"... */
const char *lg_format_suffix(int format); /* "opus", "mp3", "aac", "flac", "wav" */
bool lg_format_lossless(int format);
/* The bitrate in kbit/s an encode at kbps gets: the format's default for
 * kbps <= 0, clamped to what the codec takes (MP3: the nearest standard rate
 * not above), 0 for lossless formats. */
int lg_format_bitrate(int format, int kbps);
/* The sample rate the format encodes a source of in_rate at (Opus: 48 kHz;
 * MP3/AAC: the source rate when the codec has it, else 44.1 or 48 kHz). */
int lg_format_rate(int format, int in_rate);

struct lg_encode_opts {
    int format;       /* enum lg_format */
    int bitrate_kbps; /* 0: the format's default; ignored for lossless */
    int rate;         /* must equal lg_format_rate(format, source rate) */
    int channels;     /* 1..8 of input; MP3 downmixes to 2 */
    int bits;         /* FLAC: 24 keeps 24 bits, else 16 */
    int complexity;   /* codec effort (Opus complexity 0..10); -1: default */
};

/* The sink: every byte the muxer produces, in order. A negative return
 * aborts the encode with that error. seek (may be NULL: a pure stream)
 * moves the write position to off, for headers that are rewritten at the end
 * (MP3's LAME tag, FLAC's STREAMINFO, WAV's sizes). */
typedef int lg_encoder_write_fn(void *ctx, const uint8_t *data, size_t len);
typedef int lg_encoder_seek_fn(void *ctx, int64_t off);

struct lg_encoder;

/* Opens an encoder and muxer and writes the container's header to the sink.
 * Caller owns *out (lg_encoder_free). 0, LG_EINVAL (bad options), LG_EMEDIA
 * (this FFmpeg cannot), -ENOMEM, or the sink's error; a reason in err. */
int lg_encoder_open(const struct lg_encode_opts *o, lg_encoder_write_fn *write,
                    lg_encoder_seek_fn *seek, void *ctx, struct lg_encoder **out, char *err,
                    size_t err_len) LG_MUST_CHECK;
/* Encodes n interleaved float frames; whole packets reach the sink before it
 * returns. 0 or an error as above. */
int lg_encoder_write(struct lg_encoder *e, const float *pcm, size_t n_frames) LG_MUST_CHECK;
/* Flushes the codec and writes the trailer. */
int lg_encoder_finish(struct lg_encoder *e) LG_MUST_CHECK;
int lg_encoder_frame_size(const struct lg_encoder *e);
/* The codec's delay in samples (signalled to players: Opus pre-skip, LAME). */
int lg_encoder_delay(const struct lg_encoder *e);
/* Frames given to lg_encoder_write so far. */
int64_t lg_encoder_samples(const struct lg_encoder *e);
void lg_encoder_free(struct lg_encoder *e);

#endif
