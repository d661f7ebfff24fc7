/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: Subsonic media retrieval, /rest/stream and
 * /rest/download. download sends the original file (direct serving,
 * stream/) with Content-Disposition: attachment; stream sends it too, or a
 * transcode (http/transcode_http.h) when format, maxBitRate (the request's,
 * the user's or the player's), timeOffset or normalisation ask for one.
 */
#ifndef LG_HTTP_SUBSONIC_MEDIA_H
#define LG_HTTP_SUBSONIC_MEDIA_H

#include "http/subsonic_api.h"

enum MHD_Result lg_sub_stream(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_download(struct lg_sub_ctx *c);

/* Answers r with the track file f (from lg_stream_open_track) exactly as
 * stream and download do: 200, 206, 304 or 416 by the request's Range and
 * validator headers, ETag and Last-Modified on every answer, the body sent
 * with sendfile(2); download adds Content-Disposition: attachment. Takes f's
 * descriptor, even on failure. For pages outside /rest
 * that serve tracks (the share page). */
enum MHD_Result lg_http_send_track(struct lg_req *r, struct lg_stream_file *f, bool download);
/* The track of catalogue id, as lg_http_send_track sends it; plain-text 503
 * without a music folder, 404 for an unknown id, 500 (logged) when it
 * cannot be opened, and Cache-Control: private (a share can end; no shared
 * cache keeps it). For the web pages, whose errors are not Subsonic's. */
enum MHD_Result lg_http_send_track_id(struct lg_req *r, int64_t id, bool download);

#endif
