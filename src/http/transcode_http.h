/* SPDX-License-Identifier: MIT */
/*
 * Sending a track transcoded (stream/transcode.c) as an HTTP response: the
 * pipeline runs in the response's content reader, chunk by chunk, so the
 * first bytes leave after one small chunk and a listener who stops reading
 * stops the work.
 */
#ifndef LG_HTTP_TRANSCODE_HTTP_H
#define LG_HTTP_TRANSCODE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "stream/stream.h"

struct lg_req;

/* The Content-Length to announce for seconds of audio in the options'
 * format and bitrate (a little high: the body is padded to it), or -1 for
 * lossless formats, whose length cannot be foreseen. */
int64_t lg_transcode_estimate(const struct lg_transcode_opts *o, double seconds);

/* Answers r with the track whose file f is open (f is closed or taken),
 * transcoded with o: 200 with the codec's media type and chunked transfer,
 * or with an estimated Content-Length when estimate (duration_s is the
 * track's length); 422 when the file cannot be decoded. HEAD answers the
 * headers without starting the work. track_id names it in logs. */
enum MHD_Result lg_http_send_transcode(struct lg_req *r, struct lg_stream_file *f,
                                       const struct lg_transcode_opts *o, double duration_s,
                                       bool estimate, int64_t track_id);

#endif
