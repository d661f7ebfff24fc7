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

enum MHD_Result lg_sub_get_cover_art(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_get_avatar(struct lg_sub_ctx *c);

#endif
