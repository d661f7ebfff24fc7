/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: the Subsonic methods for playlists (getPlaylists,
 * getPlaylist, createPlaylist, updatePlaylist, deletePlaylist), bookmarks
 * (getBookmarks, createBookmark, deleteBookmark) and the saved play queue
 * (getPlayQueue, savePlayQueue). Everything is per user: the store applies
 * the access rules, these handlers map its answers to Subsonic errors: 10
 * for a missing parameter, 0 for a bad value (naming the parameter), 50 for
 * changing another user's playlist, 70 for what does not exist or is hidden.
 */
#ifndef LG_HTTP_SUBSONIC_PLAYLISTS_H
#define LG_HTTP_SUBSONIC_PLAYLISTS_H

#include "http/subsonic_api.h"

enum MHD_Result lg_sub_get_playlists(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_get_playlist(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_create_playlist(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_update_playlist(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_delete_playlist(struct lg_sub_ctx *c);

enum MHD_Result lg_sub_get_bookmarks(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_create_bookmark(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_delete_bookmark(struct lg_sub_ctx *c);

enum MHD_Result lg_sub_get_play_queue(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_save_play_queue(struct lg_sub_ctx *c);

#endif
