/* SPDX-License-Identifier: MIT */
/*
 * /rest/stream and /rest/download: stream/ opens the track's file below the
 * music folder (the path comes from the catalogue only, never from the
 * request) and decides between 200, 206, 304 and 416; the open descriptor goes
 * to MHD, which sends the bytes with sendfile(2) and closes it when the
 * response is done.
 */
#include "http/subsonic_media.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <strings.h>

#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "dsp/dsp.h"
#include "http/subsonic_render.h"
#include "http/transcode_http.h"
#include "store/store.h"
#include "stream/stream.h"

/* Headers that depend on the plan; the validators go on every answer. */
static const struct lg_log media_log = { "http/media" };

/* Whether a modification time is a strong validator now: a second or more
 * before the answer (RFC 9110 8.8.2.2). A file written in the current second
 * may be written again within it, keeping its date; it gets no
 * Last-Modified, so that a date a client holds (for If-Range) is always
 * strong. The clock is read only for a file newer than the last reading. */
static bool date_strong(int64_t mtime_s)
{
    static _Thread_local int64_t now_s;
    if (mtime_s >= now_s)
        now_s = (int64_t)time(NULL);
    return mtime_s < now_s;
}

static void add_headers(struct MHD_Response *resp, const struct lg_stream_file *f,
                        const struct lg_stream_plan *plan, bool download)
{
    char buf[1024];
    /* A 206 shows by itself that ranges work: Accept-Ranges goes on the
     * other answers (as nginx does), one header less per range request. */
    if (plan->status != 206)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, f->etag);
    if (f->last_modified[0] && date_strong(f->mtime_s))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, f->last_modified);
    if (plan->status == 416) {
        snprintf(buf, sizeof(buf), "bytes */%" PRId64, f->size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
        return;
    }
    if (plan->status == 304)
        return;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->content_type);
    if (plan->status == 206) {
        /* "bytes FIRST-LAST/SIZE", by hand: one per range request. */
        size_t n = 6;
        memcpy(buf, "bytes ", n);
        n += lg_fmt_i64(buf + n, plan->offset);
        buf[n++] = '-';
        n += lg_fmt_i64(buf + n, plan->offset + plan->length - 1);
        buf[n++] = '/';
        lg_fmt_i64(buf + n, f->size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
    }
    if (download && lg_content_disposition(f->name, buf, sizeof(buf)) > 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, buf);
}

/* page: for the web player and share pages, kept by the browser alone. */
static enum MHD_Result send_track(struct lg_req *r, struct lg_stream_file *f, bool download,
                                  bool page)
{
    struct lg_stream_cond cond = {
        .range = lg_req_header(r, MHD_HTTP_HEADER_RANGE),
        .if_range = lg_req_header(r, MHD_HTTP_HEADER_IF_RANGE),
        .if_none_match = lg_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .if_modified_since = lg_req_header(r, MHD_HTTP_HEADER_IF_MODIFIED_SINCE),
    };
    if (cond.if_range)
        cond.now_s = (int64_t)time(NULL);
    struct lg_stream_plan plan;
    lg_stream_plan(f->size, f->mtime_s, f->etag, &cond, &plan);
    struct MHD_Response *resp = NULL;
    if (plan.length > 0) {
        resp = lg_response_from_file(f->fd, (uint64_t)plan.offset, (uint64_t)plan.length);
        if (resp)
            f->fd = -1; /* the response owns it now */
    } else {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    lg_stream_file_close(f);
    if (resp)
        add_headers(resp, f, &plan, download);
    if (resp && page) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    }
    r->sent_track = resp && plan.length > 0;
    return lg_req_reply(r, (unsigned)plan.status, resp, plan.length);
}

enum MHD_Result lg_http_send_track_id(struct lg_req *r, int64_t id, bool download)
{
    static const char *const ctype = "text/plain; charset=utf-8";
    if (!r->http->stream)
        return lg_req_reply_static(r, MHD_HTTP_SERVICE_UNAVAILABLE, ctype, "no music folder\n");
    struct lg_stream_file f;
    int rc = lg_stream_open_track(r->http->stream, id, &f);
    if (rc == LG_ENOTFOUND)
        return lg_req_reply_static(r, MHD_HTTP_NOT_FOUND, ctype, "track not found\n");
    if (rc < 0) {
        lg_log(&media_log, LG_LOG_ERROR, "opening track %lld: %s", (long long)id, lg_strerror(rc));
        return lg_req_reply_static(r, MHD_HTTP_INTERNAL_SERVER_ERROR, ctype,
                                   "cannot open the track\n");
    }
    return send_track(r, &f, download, true);
}

enum MHD_Result lg_http_send_track(struct lg_req *r, struct lg_stream_file *f, bool download)
{
    return send_track(r, f, download, false);
}

#define PREFS_MEMO_NS INT64_C(2000000000)  /* how long stream_prefs trusts its answer */
#define SEEN_EVERY_NS INT64_C(60000000000) /* how often a player's last_seen moves */
enum { SEEN_SLOTS = 8 };                   /* players remembered per thread by note_player */

/* The request's player: its `c` parameter when that is an acceptable client
 * name (lg_player_client_ok), else NULL. A player with an odd name still
 * streams, without a limit of its own and unrecorded. */
static const char *player_of(struct lg_sub_ctx *c)
{
    const char *client = lg_req_param(c->req, "c");
    return lg_player_client_ok(client) ? client : NULL;
}

/* Records that the user's player streamed, at most once a minute per user
 * and player on this thread: a few slots of the latest records, the oldest
 * giving way to a new player. A store failure is not retried before the
 * minute is up either (the store logs it; streaming goes on). */
static void note_player(struct lg_sub_ctx *c, const char *client, int64_t now_ns)
{
    static _Thread_local struct {
        int64_t uid, at_ns;
        char client[LG_PLAYER_CLIENT_MAX + 1];
    } seen[SEEN_SLOTS];
    size_t slot = 0;
    for (size_t i = 0; i < SEEN_SLOTS; i++) {
        if (seen[i].uid == c->user.user_id && strcmp(seen[i].client, client) == 0) {
            if (now_ns - seen[i].at_ns < SEEN_EVERY_NS)
                return;
            slot = i;
            break;
        }
        if (seen[i].at_ns < seen[slot].at_ns)
            slot = i;
    }
    int rc = lg_store_player_seen(c->req->http->deps.store, c->user.user_id, client, lg_sub_now());
    (void)rc; /* logged by the store */
    seen[slot].uid = c->user.user_id;
    seen[slot].at_ns = now_ns;
    snprintf(seen[slot].client, sizeof(seen[slot].client), "%s", client);
}

/* The user's bit rate limit and normalisation mode and the limit of the
 * request's player, in one query, remembered per thread for two seconds so
 * that a player's range requests do not each cost one. Also records the
 * player (note_player). A store failure reads as no limits, mode off. */
static struct lg_stream_prefs stream_prefs(struct lg_sub_ctx *c)
{
    static _Thread_local struct {
        int64_t uid, until_ns;
        char client[LG_PLAYER_CLIENT_MAX + 1]; /* "": no player */
        struct lg_stream_prefs prefs;
    } memo;
    const char *client = player_of(c);
    int64_t now = lg_http_now_ns();
    if (client)
        note_player(c, client, now);
    if (memo.uid == c->user.user_id && now < memo.until_ns &&
        strcmp(memo.client, client ? client : "") == 0)
        return memo.prefs;
    struct lg_stream_prefs p = { 0 };
    int rc = lg_store_stream_prefs(c->req->http->deps.store, c->user.user_id, client, &p);
    (void)rc; /* on failure p stays as it is: no limits, mode off (the store logs why) */
    memo.uid = c->user.user_id;
    memo.until_ns = now + PREFS_MEMO_NS;
    snprintf(memo.client, sizeof(memo.client), "%s", client ? client : "");
    memo.prefs = p;
    return p;
}

/* The lowest of the bit rate limits that are set (0: none is). */
static int lowest_kbps(const int *kbps, size_t n)
{
    int low = 0;
    for (size_t i = 0; i < n; i++) {
        if (kbps[i] > 0 && (low == 0 || kbps[i] < low))
            low = kbps[i];
    }
    return low;
}

static bool truthy(const char *v)
{
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Whether the song's file is what format makes: its suffix, and its codec
 * as the scan found it (a FLAC file named .mp3 is not MP3, and a player that
 * asked for MP3 must not get it as it is). */
static bool is_format(const struct lg_song *song, int format)
{
    if (format < 0 || !song->t.suffix || strcasecmp(song->t.suffix, lg_format_suffix(format)) != 0)
        return false;
    const char *codec = song->t.codec;
    if (!codec || !*codec)
        return true; /* rows scanned without a codec: the suffix decides */
    if (format == LG_FORMAT_WAV)
        return strncmp(codec, "pcm_", 4) == 0;
    return strcmp(codec, lg_format_name(format)) == 0;
}

/* Whether /rest/stream transcodes, and how: format (raw or absent: the
 * original unless a bit rate limit or an offset asks otherwise), maxBitRate
 * (the lowest of the request's, the user's and the player's limits, those
 * set), timeOffset (seconds, also fractional: OpenSubsonic transcodeOffset),
 * normalize=off|track|album (legato's own: ReplayGain from the analysis, with
 * the true-peak limiter; without it the user's mode applies, except to raw,
 * which asks for the original). Returns 1 with *o filled, 0 for the original
 * file, or a Subsonic error reply through *res (returns -1). */
static int stream_choice(struct lg_sub_ctx *c, int64_t id, struct lg_transcode_opts *o,
                         double *duration_s, enum MHD_Result *res)
{
    const char *fmt = lg_req_param(c->req, "format");
    const char *rate = lg_req_param(c->req, "maxBitRate");
    const char *off = lg_req_param(c->req, "timeOffset");
    const char *norm = lg_req_param(c->req, "normalize");
    bool raw = fmt && strcmp(fmt, "raw") == 0;
    int64_t req_kbps = 0;
    if (rate && *rate && lg_str_to_i64(rate, 0, 100000, &req_kbps) != 0) {
        *res = lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, "maxBitRate must be a number of kbit/s");
        return -1;
    }
    double offset = 0;
    if (off && *off) {
        char *end;
        offset = strtod(off, &end);
        if (end == off || *end || !isfinite(offset) || offset < 0 || offset > 1e7) {
            *res = lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, "timeOffset must be seconds >= 0");
            return -1;
        }
    }
    enum lg_normalize mode = LG_NORMALIZE_OFF;
    bool norm_given = norm && *norm;
    if (norm_given && lg_normalize_parse(norm, &mode) < 0) {
        *res = lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, "normalize must be track, album or off");
        return -1;
    }
    int format = -1;
    if (fmt && *fmt && !raw && (format = lg_format_parse(fmt)) < 0) {
        *res = lg_sub_reply_error(c, LG_SUB_ERR_GENERIC,
                                  "format must be raw, opus, mp3, aac, flac or wav");
        return -1;
    }
    struct lg_stream_prefs prefs = stream_prefs(c);
    int limits[] = { (int)req_kbps, prefs.user_kbps, prefs.player_kbps };
    int limit = lowest_kbps(limits, LG_ARRAY_LEN(limits));
    if (!norm_given && !raw)
        mode = prefs.normalize;
    bool track = mode == LG_NORMALIZE_TRACK, album = mode == LG_NORMALIZE_ALBUM;
    if (raw && offset == 0 && !track && !album)
        return 0; /* the original, whatever the limits (Subsonic's raw) */
    if (format < 0 && limit == 0 && offset == 0 && !track && !album)
        return 0;
    struct lg_song song;
    int rc = lg_store_song_get(c->req->http->deps.store, c->user.user_id, id, &song);
    if (rc < 0) {
        *res = rc == LG_ENOTFOUND ? lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "Song not found")
                                  : lg_sub_reply_internal(c, rc, "reading a song");
        return -1;
    }
    bool same = is_format(&song, format);
    bool over = limit > 0 && song.t.bitrate_kbps > limit;
    *duration_s = (double)song.t.duration_ms / 1000;
    /* Without a format: over a bit rate limit, MP3 (what every player
     * takes); for an offset or a gain alone, the source's own format where
     * legato encodes it (a FLAC stays lossless, with 24 bits for the gain),
     * at no more than its bit rate. */
    int own = song.t.suffix ? lg_format_parse(song.t.suffix) : -1;
    if (own >= 0 && !is_format(&song, own))
        own = -1; /* .ogg may be Vorbis, .m4a is not ADTS: not "the same" */
    if (format < 0 && !over && own >= 0) {
        format = own;
        if (!limit || song.t.bitrate_kbps < limit)
            limit = song.t.bitrate_kbps;
    }
    *o = (struct lg_transcode_opts){ .format = format >= 0 ? format : LG_FORMAT_MP3,
                                     .bitrate_kbps = limit,
                                     .offset_s = offset,
                                     .bits = 24,
                                     .complexity = -1 };
    double lufs = album ? song.album_lufs : song.track_lufs;
    double peak = album ? song.album_peak : song.track_peak;
    if ((track || album) && isfinite(lufs) && isfinite(peak) && peak > 0) {
        double target = c->req->http->deps.cfg
                            ? (double)c->req->http->deps.cfg->replaygain_target_lufs
                            : LG_REPLAYGAIN_TARGET_LUFS;
        o->gain_db = lg_replaygain_db(lufs, 20 * log10(peak), target, -1.0, 1);
        o->limit = true;
    }
    lg_song_free(&song);
    /* The original when it already is what was asked. */
    if ((same || format < 0 || format == own) && !over && offset == 0 && o->gain_db == 0)
        return 0;
    return 1;
}

static enum MHD_Result serve(struct lg_sub_ctx *c, bool download)
{
    if (!(c->user.roles & (download ? LG_ROLE_DOWNLOAD : LG_ROLE_STREAM)))
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED,
                                  "User is not authorized for the given operation");
    struct lg_stream *st = c->req->http->stream;
    const char *id_s = lg_req_param(c->req, "id");
    if (!id_s || !*id_s)
        return lg_sub_reply_error(c, LG_SUB_ERR_MISSING_PARAM, "Required parameter is missing: id");
    int64_t id;
    if (lg_str_to_i64(id_s, 1, INT64_MAX, &id) != 0)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "Song not found");
    if (!st)
        return lg_sub_reply_internal(c, LG_EINVAL, "no store or music folder configured");
    struct lg_transcode_opts o;
    double duration_s = 0;
    enum MHD_Result res = MHD_NO;
    int tc = download ? 0 : stream_choice(c, id, &o, &duration_s, &res);
    if (tc < 0)
        return res;
    struct lg_stream_file f;
    int rc = lg_stream_open_track(st, id, &f);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "Song not found");
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "opening a track");
    if (tc > 0)
        return lg_http_send_transcode(c->req, &f, &o, duration_s,
                                      truthy(lg_req_param(c->req, "estimateContentLength")), id);
    return lg_http_send_track(c->req, &f, download);
}

enum MHD_Result lg_sub_stream(struct lg_sub_ctx *c)
{
    return serve(c, false);
}

enum MHD_Result lg_sub_download(struct lg_sub_ctx *c)
{
    return serve(c, true);
}
