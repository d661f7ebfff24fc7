/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: getCoverArt and getAvatar. Cover ids are "al-N"
 * (album), "ar-N" (artist), "tr-N" or a plain track id. Images go out as
 * binary with an ETag and Cache-Control; errors are Subsonic documents (XML
 * unless f=json) with HTTP 200, as clients expect.
 */
#ifndef LG_HTTP_SUBSONIC_ART_H
#define LG_HTTP_SUBSONIC_ART_H

#include "http/subsonic_api.h"
#include "store/store.h"

enum MHD_Result lg_sub_get_cover_art(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_get_avatar(struct lg_sub_ctx *c);

/* What getCoverArt does once its parameters are parsed: answers with the
 * cover of item id of the given kind at size pixels (0: the original), a
 * drawn stand-in when the item has no picture, 304 on a matching
 * If-None-Match, or a Subsonic error document. For pages outside /rest that
 * show covers (the share page). */
enum MHD_Result lg_sub_cover_send(struct lg_sub_ctx *c, enum lg_cover_kind kind, int64_t id,
                                  int size);

#endif
