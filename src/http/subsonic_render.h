/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: renders catalogue objects (songs, albums, artists)
 * into Subsonic response trees with the field names and types of the
 * OpenSubsonic schemas (Child, AlbumID3, ArtistID3, Artist), and parses and
 * formats the ids and dates they carry. Ids: songs are the plain track id,
 * albums "al-N", artists "ar-N"; cover art ids "al-N", "tr-N", "ar-N".
 *
 * Renderers append one object to an array member of parent and return it
 * (borrowed from parent) so callers may add fields. Strings from the store
 * that are not valid UTF-8 are sanitised. All functions are pure and
 * thread-safe.
 */
#ifndef LG_HTTP_SUBSONIC_RENDER_H
#define LG_HTTP_SUBSONIC_RENDER_H

#include <jansson.h>

#include "core/common.h"
#include "http/subsonic_api.h"
#include "store/store.h"

/* Appends one song object (a Child) to the array member elem of parent
 * (e.g. "song", "entry") and returns it (borrowed). */
json_t *lg_sub_song(json_t *parent, const char *elem, const struct lg_song *song);
/* Sets the loudness (LUFS) that the replayGain gains of songs lead to; -18
 * (ReplayGain 2.0) until called. Call once at start-up, before requests. */
void lg_sub_render_set_target(double target_lufs);
/* Writes the song's members into the object o (as for getSong's "song"). */
void lg_sub_song_fill(json_t *o, const struct lg_song *song);

/* Appends an AlbumID3 to the array member elem of parent (e.g. "album") and
 * returns it (borrowed). */
json_t *lg_sub_album(json_t *parent, const char *elem, const struct lg_album *album);
void lg_sub_album_fill(json_t *o, const struct lg_album *album);
/* Appends an album as a directory Child (isDir true, getAlbumList and
 * getMusicDirectory) and returns it (borrowed). */
json_t *lg_sub_album_dir(json_t *parent, const char *elem, const struct lg_album *album);
/* Appends an ArtistID3 (getArtists, getArtist, search3, getStarred2). */
json_t *lg_sub_artist(json_t *parent, const char *elem, const struct lg_artist *artist);
void lg_sub_artist_fill(json_t *o, const struct lg_artist *artist);
/* Appends an Artist, the folder-based form (getIndexes, search2,
 * getStarred, similarArtist of getArtistInfo). */
json_t *lg_sub_artist_folder(json_t *parent, const char *elem, const struct lg_artist *artist);

/* Parses a Subsonic id of the given prefix ("al-", "ar-", "pl-", or "" for
 * songs) into *out (> 0); LG_EPARSE otherwise. */
int lg_sub_id_parse(const char *s, const char *prefix, int64_t *out) LG_MUST_CHECK;

/* Sets a string member, invalid UTF-8 replaced (jansson refuses it); NULL
 * is "". */
void lg_sub_set_text(json_t *obj, const char *name, const char *value);
/* Sets an id member: prefix followed by the decimal id ("al-42"). */
void lg_sub_set_id(json_t *obj, const char *name, const char *prefix, int64_t id);
/* Sets an ISO 8601 date member from unix seconds. */
void lg_sub_set_time(json_t *obj, const char *name, int64_t unix_s);

/* Reads the integer parameter name into *out: def when absent or empty,
 * max when larger than max. LG_EPARSE when it is not a decimal integer or is
 * below min. */
int lg_sub_param_int(struct lg_sub_ctx *c, const char *name, int64_t def, int64_t min, int64_t max,
                     int64_t *out) LG_MUST_CHECK;
/* Error replies: code 10 "Required parameter is missing: NAME", code 0
 * "Invalid value for parameter NAME" and code 70 with the given text. */
enum MHD_Result lg_sub_reply_missing(struct lg_sub_ctx *c, const char *name);
enum MHD_Result lg_sub_reply_invalid(struct lg_sub_ctx *c, const char *name);
enum MHD_Result lg_sub_reply_not_found(struct lg_sub_ctx *c, const char *what);

/* The unix time now (CLOCK_REALTIME, seconds). */
int64_t lg_sub_now(void);

/* Formats unix seconds as ISO 8601 UTC "2024-01-02T03:04:05.000Z" into out
 * (>= 32 bytes). Pure arithmetic, no libc time functions. */
void lg_sub_iso8601(char *out, int64_t unix_s);

#endif
