/* SPDX-License-Identifier: MIT */
/*
 * Private to src/media: opening a file with the container and protocol
 * whitelists that every reader here must use, so that a file named .mp3 can
 * never make FFmpeg open other files or URLs.
 */
#ifndef LG_MEDIA_MEDIA_INT_H
#define LG_MEDIA_MEDIA_INT_H

#include <stddef.h>

#include <libavformat/avformat.h>

/* Opens path (headers only; probing is bounded, and so are the bytes the
 * headers may take: LG_MEDIA_HEADER_MAX). On success *out is owned by the
 * caller (lg_media_close_input) and 0 is returned; otherwise -errno or
 * LG_EMEDIA with a reason in err (when err is not NULL). */
int lg_media_open_input(const char *path, AVFormatContext **out, char *err, size_t err_len);
/* Closes what lg_media_open_input opened, its file too; *fmt may be NULL. */
void lg_media_close_input(AVFormatContext **fmt);

/* The most bytes a file's headers (tags, embedded pictures) may take while it
 * is opened: libavformat reads an ID3 tag (up to 256 MB), FLAC picture
 * blocks or an MP4 cover whole into memory before the caller can look. */
#define LG_MEDIA_HEADER_MAX (64 * 1024 * 1024)
/* The first audio stream that is not an attached picture, or NULL. */
AVStream *lg_media_audio_stream(const AVFormatContext *fmt);

#endif
