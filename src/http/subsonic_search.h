/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: search3 (ID3 form), search2 (folder form) and the
 * old search (songs only, as "match" elements). Matching is done by the
 * store's full-text index; an empty query lists everything by id so that
 * clients can sync the library page by page.
 */
#ifndef LG_HTTP_SUBSONIC_SEARCH_H
#define LG_HTTP_SUBSONIC_SEARCH_H

#include "http/subsonic_api.h"

lg_sub_handler_fn lg_sub_search;
lg_sub_handler_fn lg_sub_search2;
lg_sub_handler_fn lg_sub_search3;

#endif
