/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: the Subsonic annotation methods: star, unstar,
 * setRating and scrobble (plays, and now-playing reports with
 * submission=false). Annotations belong to the authenticated user only.
 */
#ifndef LG_HTTP_SUBSONIC_ANNOTATION_H
#define LG_HTTP_SUBSONIC_ANNOTATION_H

#include "http/subsonic_api.h"

lg_sub_handler_fn lg_sub_star;
lg_sub_handler_fn lg_sub_unstar;
lg_sub_handler_fn lg_sub_set_rating;
lg_sub_handler_fn lg_sub_scrobble;

#endif
