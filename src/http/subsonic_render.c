/* SPDX-License-Identifier: MIT */
/*
 * Renderers for songs, albums and artists, and the id and date helpers. The
 * field sets follow the OpenSubsonic schemas; optional fields are left out
 * rather than sent empty where a player would read "" or 0 as a value
 * (starred, played, userRating), and kept where players expect them always.
 */
#include "http/subsonic_render.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/str.h"
#include "dsp/dsp.h"
#include "http/subsonic.h"

/* --- helpers --- */

/* Sets a string known to be valid UTF-8 (ASCII we made, or text that was
 * checked) without jansson checking it again. */
static void set_checked(json_t *obj, const char *name, const char *value, size_t len)
{
    json_t *v = json_stringn_nocheck(value, len);
    lg_assert(v && json_object_set_new_nocheck(obj, name, v) == 0);
}

void lg_sub_set_text(json_t *obj, const char *name, const char *value)
{
    if (!value)
        value = "";
    size_t len = strlen(value);
    if (lg_utf8_valid(value, len)) {
        set_checked(obj, name, value, len);
        return;
    }
    char *clean = lg_utf8_sanitize(value, len);
    lg_sub_set_str(obj, name, clean);
    free(clean);
}

void lg_sub_set_id(json_t *obj, const char *name, const char *prefix, int64_t id)
{
    char buf[48];
    size_t n = strnlen(prefix, 8);
    memcpy(buf, prefix, n);
    uint64_t u = id < 0 ? 0 - (uint64_t)id : (uint64_t)id;
    char digits[24];
    size_t k = sizeof(digits);
    do {
        digits[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (id < 0)
        buf[n++] = '-';
    memcpy(buf + n, digits + k, sizeof(digits) - k);
    n += sizeof(digits) - k;
    buf[n] = '\0';
    set_checked(obj, name, buf, n);
}

void lg_sub_set_time(json_t *obj, const char *name, int64_t unix_s)
{
    char buf[32];
    lg_sub_iso8601(buf, unix_s);
    set_checked(obj, name, buf, strlen(buf));
}

/* Appends {id, name} (the required ArtistID3 fields) to the array elem. */
static void add_artist_ref(json_t *parent, const char *elem, int64_t id, const char *name)
{
    json_t *a = lg_sub_append(parent, elem);
    lg_sub_set_id(a, "id", "ar-", id);
    lg_sub_set_text(a, "name", name);
}

static void add_genre_ref(json_t *parent, const char *genre)
{
    if (!genre || !*genre) {
        json_object_set_new(parent, "genres", json_array());
        return;
    }
    json_t *g = lg_sub_append(parent, "genres");
    lg_sub_set_text(g, "name", genre);
}

static int64_t seconds_of_ms(int64_t ms)
{
    return (ms + 500) / 1000;
}

/* --- parameters and errors --- */

int lg_sub_param_int(struct lg_sub_ctx *c, const char *name, int64_t def, int64_t min, int64_t max,
                     int64_t *out)
{
    const char *v = lg_req_param(c->req, name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    int64_t x;
    if (lg_str_to_i64(v, INT64_MIN, INT64_MAX, &x) != 0 || x < min)
        return LG_EPARSE;
    *out = LG_MIN(x, max);
    return 0;
}

enum MHD_Result lg_sub_reply_missing(struct lg_sub_ctx *c, const char *name)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "Required parameter is missing: %s", name);
    return lg_sub_reply_error(c, LG_SUB_ERR_MISSING_PARAM, msg);
}

enum MHD_Result lg_sub_reply_invalid(struct lg_sub_ctx *c, const char *name)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "Invalid value for parameter %s", name);
    return lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, msg);
}

enum MHD_Result lg_sub_reply_not_found(struct lg_sub_ctx *c, const char *what)
{
    return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, what);
}

int64_t lg_sub_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* --- ids and dates --- */

int lg_sub_id_parse(const char *s, const char *prefix, int64_t *out)
{
    if (!s || !prefix)
        return LG_EPARSE;
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return LG_EPARSE;
    int64_t v;
    if (lg_str_to_i64(s + n, 1, INT64_MAX, &v) != 0)
        return LG_EPARSE;
    *out = v;
    return 0;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian); H. Hinnant's
 * days_from_civil inverse, exact for every int64 day count we can meet. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void lg_sub_iso8601(char *out, int64_t unix_s)
{
    /* Keep the year within four digits' reach of sane dates. */
    const int64_t lo = -62135596800; /* 0001-01-01 */
    const int64_t hi = 253402300799; /* 9999-12-31T23:59:59 */
    unix_s = LG_MAX(lo, LG_MIN(hi, unix_s));
    int64_t days = unix_s / 86400;
    int64_t secs = unix_s % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* Written by hand: snprintf was a tenth of a 500-song answer. */
    unsigned yy = (unsigned)(y % 10000);
    unsigned parts[5] = { m % 13, d % 32, (unsigned)(secs / 3600 % 24), (unsigned)(secs / 60 % 60),
                          (unsigned)(secs % 60) };
    static const char seps[5] = { '-', 'T', ':', ':', '.' };
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10);
    out[3] = (char)('0' + yy % 10);
    out[4] = '-';
    for (int i = 0; i < 5; i++) {
        out[5 + 3 * i] = (char)('0' + parts[i] / 10);
        out[6 + 3 * i] = (char)('0' + parts[i] % 10);
        out[7 + 3 * i] = seps[i];
    }
    memcpy(out + 20, "000Z", 5);
}

/* --- songs --- */

static void song_media(json_t *o, const struct lg_track *t)
{
    lg_sub_set_int(o, "size", t->size);
    lg_sub_set_text(o, "contentType", t->content_type);
    lg_sub_set_text(o, "suffix", t->suffix);
    lg_sub_set_int(o, "duration", seconds_of_ms(t->duration_ms));
    lg_sub_set_int(o, "bitRate", t->bitrate_kbps);
    lg_sub_set_int(o, "bitDepth", t->bits_per_sample);
    lg_sub_set_int(o, "samplingRate", t->sample_rate);
    lg_sub_set_int(o, "channelCount", t->channels);
    lg_sub_set_text(o, "path", t->path);
}

static void song_user(json_t *o, const struct lg_song *s)
{
    lg_sub_set_int(o, "playCount", s->play_count);
    if (s->played_at > 0)
        lg_sub_set_time(o, "played", s->played_at);
    lg_sub_set_time(o, "created", s->t.created_at);
    if (s->starred_at > 0)
        lg_sub_set_time(o, "starred", s->starred_at);
    if (s->rating > 0)
        lg_sub_set_int(o, "userRating", s->rating);
}

/* The OpenSubsonic multi-artist fields. Artists are the album artists of
 * the catalogue: a track artist who files no album of their own (as on a
 * compilation) has no id, so "artists" names only artists that have one. */
static void song_people(json_t *o, const struct lg_song *s, const char *artist)
{
    const struct lg_track *t = &s->t;
    add_genre_ref(o, t->genre);
    if (s->track_artist_id > 0)
        add_artist_ref(o, "artists", s->track_artist_id, artist);
    else if (strcmp(artist, s->album_artist_name ? s->album_artist_name : "") == 0)
        add_artist_ref(o, "artists", t->artist_id, artist);
    else
        json_object_set_new(o, "artists", json_array());
    lg_sub_set_text(o, "displayArtist", artist);
    add_artist_ref(o, "albumArtists", t->artist_id, s->album_artist_name);
    lg_sub_set_text(o, "displayAlbumArtist", s->album_artist_name);
    lg_sub_set_text(o, "displayComposer", t->composer);
    if (t->composer && *t->composer) {
        /* A composer who files no album has no artist id: "" says so (the
         * schema wants the member; no artist is named by ""). */
        json_t *c = lg_sub_append(o, "contributors");
        lg_sub_set_str(c, "role", "composer");
        json_t *a = lg_sub_child(c, "artist");
        if (s->composer_id > 0)
            lg_sub_set_id(a, "id", "ar-", s->composer_id);
        else
            lg_sub_set_str(a, "id", "");
        lg_sub_set_text(a, "name", t->composer);
    }
}

/* Set once at start-up (lg_http_start), read-only afterwards. */
static double replaygain_target = LG_REPLAYGAIN_TARGET_LUFS;

void lg_sub_render_set_target(double target_lufs)
{
    replaygain_target = target_lufs;
}

static void set_real2(json_t *o, const char *name, double v)
{
    json_object_set_new_nocheck(o, name, json_real(round(v * 100.0) / 100.0));
}

/* OpenSubsonic replayGain: always present, with the values the background
 * analysis measured (ReplayGain 2.0: gain to reach the target, linear true
 * peak); a value not measured is left out. */
static void song_replay_gain(json_t *o, const struct lg_song *song)
{
    json_t *rg = lg_sub_child(o, "replayGain");
    if (!song->has_replaygain)
        return;
    if (isfinite(song->track_lufs))
        set_real2(rg, "trackGain", replaygain_target - song->track_lufs);
    if (isfinite(song->album_lufs))
        set_real2(rg, "albumGain", replaygain_target - song->album_lufs);
    if (isfinite(song->track_peak))
        json_object_set_new_nocheck(rg, "trackPeak", json_real(song->track_peak));
    if (isfinite(song->album_peak))
        json_object_set_new_nocheck(rg, "albumPeak", json_real(song->album_peak));
}

json_t *lg_sub_song(json_t *parent, const char *elem, const struct lg_song *song)
{
    json_t *o = lg_sub_append(parent, elem);
    lg_sub_song_fill(o, song);
    return o;
}

void lg_sub_song_fill(json_t *o, const struct lg_song *song)
{
    const struct lg_track *t = &song->t;
    const char *artist = t->artist && *t->artist ? t->artist : song->album_artist_name;
    const char *album = t->album && *t->album ? t->album : "Unknown Album";
    lg_sub_set_id(o, "id", "", t->id);
    lg_sub_set_id(o, "parent", "al-", t->album_id);
    lg_sub_set_bool(o, "isDir", false);
    lg_sub_set_text(o, "title", t->title);
    lg_sub_set_text(o, "album", album);
    lg_sub_set_text(o, "artist", artist);
    if (t->track_no > 0)
        lg_sub_set_int(o, "track", t->track_no);
    if (t->year > 0)
        lg_sub_set_int(o, "year", t->year);
    lg_sub_set_text(o, "genre", t->genre);
    bool own_cover = t->has_picture || (t->cover_path && *t->cover_path);
    lg_sub_set_id(o, "coverArt", own_cover ? "tr-" : "al-", own_cover ? t->id : t->album_id);
    song_media(o, t);
    song_user(o, song);
    lg_sub_set_id(o, "albumId", "al-", t->album_id);
    /* The album's artist: the one a player can browse to (see song_people). */
    lg_sub_set_id(o, "artistId", "ar-", t->artist_id);
    set_checked(o, "type", "music", 5);
    set_checked(o, "mediaType", "song", 4);
    lg_sub_set_bool(o, "isVideo", false);
    if (t->disc_no > 0)
        lg_sub_set_int(o, "discNumber", t->disc_no);
    lg_sub_set_text(o, "musicBrainzId", t->mb_track_id);
    lg_sub_set_text(o, "sortName", t->title);
    lg_sub_set_int(o, "bpm", 0);
    set_checked(o, "comment", "", 0);
    song_replay_gain(o, song);
    song_people(o, song, artist);
}

/* --- albums and artists --- */

static void album_user(json_t *o, const struct lg_album *a)
{
    lg_sub_set_int(o, "playCount", a->play_count);
    if (a->played_at > 0)
        lg_sub_set_time(o, "played", a->played_at);
    lg_sub_set_time(o, "created", a->created_at);
    if (a->starred_at > 0)
        lg_sub_set_time(o, "starred", a->starred_at);
    if (a->rating > 0)
        lg_sub_set_int(o, "userRating", a->rating);
}

json_t *lg_sub_album(json_t *parent, const char *elem, const struct lg_album *a)
{
    json_t *o = lg_sub_append(parent, elem);
    lg_sub_album_fill(o, a);
    return o;
}

void lg_sub_album_fill(json_t *o, const struct lg_album *a)
{
    lg_sub_set_id(o, "id", "al-", a->id);
    lg_sub_set_text(o, "name", a->name);
    lg_sub_set_text(o, "artist", a->artist);
    lg_sub_set_id(o, "artistId", "ar-", a->artist_id);
    lg_sub_set_id(o, "coverArt", "al-", a->id);
    lg_sub_set_int(o, "songCount", a->song_count);
    lg_sub_set_int(o, "duration", seconds_of_ms(a->duration_ms));
    album_user(o, a);
    if (a->year > 0)
        lg_sub_set_int(o, "year", a->year);
    if (a->genre && *a->genre)
        lg_sub_set_text(o, "genre", a->genre);
    add_genre_ref(o, a->genre);
    add_artist_ref(o, "artists", a->artist_id, a->artist);
    lg_sub_set_text(o, "displayArtist", a->artist);
    lg_sub_set_text(o, "musicBrainzId", a->mbid);
    lg_sub_set_bool(o, "isCompilation", a->compilation != 0);
    lg_sub_set_text(o, "sortName", a->name);
}

json_t *lg_sub_album_dir(json_t *parent, const char *elem, const struct lg_album *a)
{
    json_t *o = lg_sub_append(parent, elem);
    lg_sub_set_id(o, "id", "al-", a->id);
    lg_sub_set_id(o, "parent", "ar-", a->artist_id);
    lg_sub_set_bool(o, "isDir", true);
    lg_sub_set_text(o, "title", a->name);
    lg_sub_set_text(o, "name", a->name);
    lg_sub_set_text(o, "album", a->name);
    lg_sub_set_text(o, "artist", a->artist);
    if (a->year > 0)
        lg_sub_set_int(o, "year", a->year);
    if (a->genre && *a->genre)
        lg_sub_set_text(o, "genre", a->genre);
    lg_sub_set_id(o, "coverArt", "al-", a->id);
    lg_sub_set_int(o, "duration", seconds_of_ms(a->duration_ms));
    album_user(o, a);
    lg_sub_set_id(o, "albumId", "al-", a->id);
    lg_sub_set_id(o, "artistId", "ar-", a->artist_id);
    lg_sub_set_int(o, "songCount", a->song_count);
    lg_sub_set_bool(o, "isVideo", false);
    lg_sub_set_str(o, "mediaType", "album");
    return o;
}

json_t *lg_sub_artist(json_t *parent, const char *elem, const struct lg_artist *a)
{
    json_t *o = lg_sub_append(parent, elem);
    lg_sub_artist_fill(o, a);
    return o;
}

void lg_sub_artist_fill(json_t *o, const struct lg_artist *a)
{
    lg_sub_set_id(o, "id", "ar-", a->id);
    lg_sub_set_text(o, "name", a->name);
    lg_sub_set_id(o, "coverArt", "ar-", a->id);
    lg_sub_set_int(o, "albumCount", a->album_count);
    if (a->starred_at > 0)
        lg_sub_set_time(o, "starred", a->starred_at);
    if (a->rating > 0)
        lg_sub_set_int(o, "userRating", a->rating);
    lg_sub_set_text(o, "musicBrainzId", a->mbid);
    lg_sub_set_text(o, "sortName", a->sort_name && *a->sort_name ? a->sort_name : a->name);
    json_t *roles = json_array();
    json_array_append_new(roles, json_string("albumartist"));
    json_object_set_new(o, "roles", roles);
}

json_t *lg_sub_artist_folder(json_t *parent, const char *elem, const struct lg_artist *a)
{
    json_t *o = lg_sub_append(parent, elem);
    lg_sub_set_id(o, "id", "ar-", a->id);
    lg_sub_set_text(o, "name", a->name);
    lg_sub_set_id(o, "coverArt", "ar-", a->id);
    lg_sub_set_int(o, "albumCount", a->album_count);
    if (a->starred_at > 0)
        lg_sub_set_time(o, "starred", a->starred_at);
    if (a->rating > 0)
        lg_sub_set_int(o, "userRating", a->rating);
    return o;
}
