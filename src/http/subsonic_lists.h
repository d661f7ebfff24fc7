/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: the Subsonic list methods: getAlbumList and
 * getAlbumList2 (every list type), getRandomSongs, getSongsByGenre,
 * getStarred and getStarred2, getNowPlaying.
 */
#ifndef LG_HTTP_SUBSONIC_LISTS_H
#define LG_HTTP_SUBSONIC_LISTS_H

#include "http/subsonic_api.h"

lg_sub_handler_fn lg_sub_get_album_list;
lg_sub_handler_fn lg_sub_get_album_list2;
lg_sub_handler_fn lg_sub_get_random_songs;
lg_sub_handler_fn lg_sub_get_songs_by_genre;
lg_sub_handler_fn lg_sub_get_starred;
lg_sub_handler_fn lg_sub_get_starred2;
lg_sub_handler_fn lg_sub_get_now_playing;

#endif
