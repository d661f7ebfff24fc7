/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: Subsonic media retrieval, /rest/stream and
 * /rest/download. Both send the original file (direct serving, stream/);
 * download adds Content-Disposition: attachment. Transcoding is a later
 * issue: stream ignores format and maxBitRate until then.
 */
#ifndef LG_HTTP_SUBSONIC_MEDIA_H
#define LG_HTTP_SUBSONIC_MEDIA_H

#include "http/subsonic_api.h"

enum MHD_Result lg_sub_stream(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_download(struct lg_sub_ctx *c);

#endif
