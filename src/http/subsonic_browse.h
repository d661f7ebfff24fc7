/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: the Subsonic browsing methods, by folder
 * (getMusicFolders, getIndexes, getMusicDirectory) and by tags (getArtists,
 * getArtist, getAlbum, getSong, getGenres), and the local "info" and
 * similarity methods (getArtistInfo[2], getAlbumInfo[2], getSimilarSongs[2],
 * getTopSongs). One music folder, id 1 ("Music"), holds every artist.
 */
#ifndef LG_HTTP_SUBSONIC_BROWSE_H
#define LG_HTTP_SUBSONIC_BROWSE_H

#include "http/subsonic_api.h"

lg_sub_handler_fn lg_sub_get_music_folders;
lg_sub_handler_fn lg_sub_get_indexes;
lg_sub_handler_fn lg_sub_get_music_directory;
lg_sub_handler_fn lg_sub_get_genres;
lg_sub_handler_fn lg_sub_get_artists;
lg_sub_handler_fn lg_sub_get_artist;
lg_sub_handler_fn lg_sub_get_album;
lg_sub_handler_fn lg_sub_get_song;
lg_sub_handler_fn lg_sub_get_artist_info;
lg_sub_handler_fn lg_sub_get_artist_info2;
lg_sub_handler_fn lg_sub_get_album_info;
lg_sub_handler_fn lg_sub_get_album_info2;
lg_sub_handler_fn lg_sub_get_similar_songs;
lg_sub_handler_fn lg_sub_get_similar_songs2;
lg_sub_handler_fn lg_sub_get_top_songs;

#endif
