/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: getLyrics (Subsonic: plain text found by artist and
 * title) and getLyricsBySongId (OpenSubsonic songLyrics version 1: every set
 * of lyrics of a track, synced or not). Lyrics are read on demand by media/
 * from a sidecar .lrc file and the track's tags; none gives an empty answer.
 */
#ifndef LG_HTTP_SUBSONIC_LYRICS_H
#define LG_HTTP_SUBSONIC_LYRICS_H

#include "http/subsonic_api.h"

enum MHD_Result lg_sub_get_lyrics(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_get_lyrics_by_song_id(struct lg_sub_ctx *c);

#endif
