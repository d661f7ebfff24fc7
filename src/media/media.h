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
/* The file suffix for an audio MIME type ("audio/mpeg" -> "mp3"); NULL when
 * unknown. Parameters after ';' are ignored. */
const char *lg_media_suffix_for_type(const char *content_type);
/* True when the file name ends in a suffix legato treats as audio (mp3, flac,
 * ogg, oga, opus, m4a, mp4, aac, wav, aiff, aif, wma, ape, wv, mpc), in any
 * case. */
bool lg_media_is_audio_name(const char *name);

#endif
