/* SPDX-License-Identifier: MIT */
/*
 * Playlists, bookmarks and the play queue over the Subsonic API. Handlers
 * parse parameters, make one store call that applies the access rules (a
 * user sees their own and public playlists and changes only their own;
 * bookmarks and queues are private), then render, fetching the songs of a
 * list in one more call. Playlist ids are "pl-N", song ids the track id.
 * Administrators may read any playlist (as getPlaylists' username parameter
 * implies) but change only their own, like everyone.
 */
#include "http/subsonic_playlists.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "http/subsonic_render.h"
#include "http/subsonic_users.h"
#include "store/store.h"

#define NOT_AUTHORIZED "User is not authorized for the given operation"

static struct lg_store *store_of(const struct lg_sub_ctx *c)
{
    return c->req->http->deps.store;
}

/* A parameter given with a non-empty value, or NULL. */
static const char *param(const struct lg_sub_ctx *c, const char *name)
{
    const char *v = lg_req_param(c->req, name);
    return v && *v ? v : NULL;
}

/* Parses every value of the repeated parameter name: ids with prefix, or
 * indexes (>= 0) when prefix is NULL. Caller frees *out (also on failure).
 * Returns 0 or LG_EPARSE. */
static int parse_list(const struct lg_sub_ctx *c, const char *name, const char *prefix,
                      int64_t **out, size_t *n_out)
{
    size_t n = lg_req_param_count(c->req, name);
    const char **vals = lg_xcalloc(n ? n : 1, sizeof(*vals));
    n = lg_req_params(c->req, name, vals, n);
    int64_t *v = lg_xcalloc(n ? n : 1, sizeof(*v));
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (prefix)
            r = lg_sub_id_parse(vals[i], prefix, &v[i]);
        else
            r = lg_str_to_i64(vals[i], 0, INT64_MAX, &v[i]) ? LG_EPARSE : 0;
    }
    free(vals);
    *out = v;
    *n_out = n;
    return r;
}

/* Maps what the store said about a playlist change to the answer. */
static enum MHD_Result reply_change_error(struct lg_sub_ctx *c, int r)
{
    switch (r) {
    case LG_ENOTFOUND:
        return lg_sub_reply_not_found(c, "Playlist not found");
    case LG_EDENIED:
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED, NOT_AUTHORIZED);
    case LG_EINVAL:
        return lg_sub_reply_not_found(c, "Song not found");
    case LG_ERANGE:
        return lg_sub_reply_invalid(c, "songIndexToRemove");
    default:
        return lg_sub_reply_internal(c, r, "changing a playlist");
    }
}

/* --- playlists --- */

/* The members of a Playlist, as user viewer sees it. */
static void render_playlist(json_t *o, const struct lg_playlist *p, int64_t viewer)
{
    lg_sub_set_id(o, "id", "pl-", p->id);
    lg_sub_set_text(o, "name", p->name);
    if (*p->comment)
        lg_sub_set_text(o, "comment", p->comment);
    lg_sub_set_text(o, "owner", p->owner);
    lg_sub_set_bool(o, "public", p->is_public != 0);
    lg_sub_set_int(o, "songCount", p->song_count);
    lg_sub_set_int(o, "duration", (p->duration_ms + 500) / 1000);
    lg_sub_set_time(o, "created", p->created_at);
    lg_sub_set_time(o, "changed", p->changed_at);
    if (p->cover_album_id > 0)
        lg_sub_set_id(o, "coverArt", "al-", p->cover_album_id);
    /* An imported playlist follows its M3U file: no one edits it here. */
    lg_sub_set_bool(o, "readonly", p->owner_id != viewer || (p->source_path && *p->source_path));
}

/* The user whose playlists getPlaylists lists: the caller, or for an
 * administrator the one named by username. 0, LG_EDENIED or LG_ENOTFOUND. */
static int playlists_user(struct lg_sub_ctx *c, int64_t *user_id)
{
    const char *name = param(c, "username");
    if (!name || strcmp(name, c->user.name) == 0) {
        *user_id = c->user.user_id;
        return 0;
    }
    if (!c->user.is_admin)
        return LG_EDENIED;
    struct lg_user u;
    int r = lg_store_user_get_by_name(store_of(c), name, &u);
    if (r == 0) {
        *user_id = u.id;
        lg_user_free(&u);
    }
    return r;
}

enum MHD_Result lg_sub_get_playlists(struct lg_sub_ctx *c)
{
    int64_t user_id;
    int r = playlists_user(c, &user_id);
    if (r == LG_EDENIED)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED, NOT_AUTHORIZED);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "User not found");
    struct lg_playlist *v = NULL;
    size_t n = 0;
    if (r == 0)
        r = lg_store_playlists_list(store_of(c), user_id, &v, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing playlists");
    json_t *resp = lg_sub_new();
    json_t *list = lg_sub_child(resp, "playlists");
    for (size_t i = 0; i < n; i++)
        render_playlist(lg_sub_append(list, "playlist"), &v[i], c->user.user_id);
    lg_playlists_free(v, n);
    return lg_sub_reply(c, resp);
}

/* Replies with playlist id and its songs (getPlaylist, createPlaylist). */
static enum MHD_Result reply_playlist(struct lg_sub_ctx *c, int64_t id)
{
    struct lg_store *s = store_of(c);
    struct lg_playlist p;
    int64_t *ids = NULL;
    size_t n = 0;
    int r = lg_store_playlist_get(s, c->user.user_id, c->user.is_admin, id, &p, &ids, &n);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Playlist not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading a playlist");
    struct lg_song *songs = NULL;
    size_t n_songs = 0;
    r = lg_store_songs_get(s, c->user.user_id, ids, n, &songs, &n_songs);
    free(ids);
    if (r < 0) {
        lg_playlist_free(&p);
        return lg_sub_reply_internal(c, r, "reading a playlist's songs");
    }
    json_t *resp = lg_sub_new();
    json_t *o = lg_sub_child(resp, "playlist");
    render_playlist(o, &p, c->user.user_id);
    for (size_t i = 0; i < n_songs; i++)
        lg_sub_song(o, "entry", &songs[i]);
    lg_songs_free(songs, n_songs);
    lg_playlist_free(&p);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_playlist(struct lg_sub_ctx *c)
{
    const char *id_s = param(c, "id");
    if (!id_s)
        return lg_sub_reply_missing(c, "id");
    int64_t id;
    if (lg_sub_id_parse(id_s, "pl-", &id) < 0)
        return lg_sub_reply_not_found(c, "Playlist not found");
    return reply_playlist(c, id);
}

/* Making, changing and deleting playlists needs the playlist role. */
static bool may_edit(const struct lg_sub_ctx *c)
{
    return (c->user.roles & LG_ROLE_PLAYLIST) != 0;
}

static enum MHD_Result not_authorized(struct lg_sub_ctx *c)
{
    return lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED,
                              "User is not authorized for the given operation");
}

enum MHD_Result lg_sub_create_playlist(struct lg_sub_ctx *c)
{
    if (!may_edit(c))
        return not_authorized(c);
    const char *pid_s = param(c, "playlistId");
    const char *name = param(c, "name");
    if (!pid_s && !name)
        return lg_sub_reply_missing(c, "name");
    int64_t id = 0;
    if (pid_s && lg_sub_id_parse(pid_s, "pl-", &id) < 0)
        return lg_sub_reply_not_found(c, "Playlist not found");
    int64_t *ids;
    size_t n;
    int r = parse_list(c, "songId", "", &ids, &n);
    if (r < 0) {
        free(ids);
        return lg_sub_reply_not_found(c, "Song not found");
    }
    if (pid_s) {
        struct lg_playlist_edit e = {
            .name = name, .is_public = -1, .replace = true, .add = ids, .n_add = n
        };
        r = lg_store_playlist_edit(store_of(c), c->user.user_id, c->user.is_admin, id, &e);
    } else {
        r = lg_store_playlist_create(store_of(c), c->user.user_id, name, ids, n, &id);
    }
    free(ids);
    if (r < 0)
        return reply_change_error(c, r);
    return reply_playlist(c, id);
}

/* Reads updatePlaylist's optional parameters into e (lists allocated);
 * returns NULL or the name of the parameter that is invalid. */
static const char *parse_edit(struct lg_sub_ctx *c, struct lg_playlist_edit *e, int64_t **add,
                              int64_t **remove)
{
    e->name = param(c, "name");
    e->comment = lg_req_param(c->req, "comment");
    e->is_public = -1;
    const char *pub = param(c, "public");
    bool b;
    if (pub && lg_sub_bool_parse(pub, &b) < 0)
        return "public";
    if (pub)
        e->is_public = b;
    int r = parse_list(c, "songIndexToRemove", NULL, remove, &e->n_remove);
    e->remove = *remove;
    if (r < 0)
        return "songIndexToRemove";
    r = parse_list(c, "songIdToAdd", "", add, &e->n_add);
    e->add = *add;
    return r < 0 ? "songIdToAdd" : NULL;
}

enum MHD_Result lg_sub_update_playlist(struct lg_sub_ctx *c)
{
    if (!may_edit(c))
        return not_authorized(c);
    const char *pid_s = param(c, "playlistId");
    if (!pid_s)
        return lg_sub_reply_missing(c, "playlistId");
    int64_t id;
    if (lg_sub_id_parse(pid_s, "pl-", &id) < 0)
        return lg_sub_reply_not_found(c, "Playlist not found");
    struct lg_playlist_edit e = { 0 };
    int64_t *add = NULL, *remove = NULL;
    const char *bad = parse_edit(c, &e, &add, &remove);
    int r =
        bad ? 0 : lg_store_playlist_edit(store_of(c), c->user.user_id, c->user.is_admin, id, &e);
    free(add);
    free(remove);
    if (bad && strcmp(bad, "songIdToAdd") == 0)
        return lg_sub_reply_not_found(c, "Song not found");
    if (bad)
        return lg_sub_reply_invalid(c, bad);
    if (r < 0)
        return reply_change_error(c, r);
    return lg_sub_reply(c, lg_sub_new());
}

enum MHD_Result lg_sub_delete_playlist(struct lg_sub_ctx *c)
{
    if (!may_edit(c))
        return not_authorized(c);
    const char *id_s = param(c, "id");
    if (!id_s)
        return lg_sub_reply_missing(c, "id");
    int64_t id;
    if (lg_sub_id_parse(id_s, "pl-", &id) < 0)
        return lg_sub_reply_not_found(c, "Playlist not found");
    int r = lg_store_playlist_delete(store_of(c), c->user.user_id, c->user.is_admin, id);
    if (r < 0)
        return reply_change_error(c, r);
    return lg_sub_reply(c, lg_sub_new());
}

/* --- bookmarks --- */

static void render_bookmarks(struct lg_sub_ctx *c, json_t *list, const struct lg_bookmark *bm,
                             size_t n, const struct lg_song *songs, size_t n_songs)
{
    /* songs follow bookmarks in order, less any track deleted meanwhile. */
    size_t j = 0;
    for (size_t i = 0; i < n && j < n_songs; i++) {
        if (songs[j].t.id != bm[i].track_id)
            continue;
        json_t *o = lg_sub_append(list, "bookmark");
        lg_sub_set_int(o, "position", bm[i].position_ms);
        lg_sub_set_text(o, "username", c->user.name);
        lg_sub_set_text(o, "comment", bm[i].comment);
        lg_sub_set_time(o, "created", bm[i].created_at);
        lg_sub_set_time(o, "changed", bm[i].changed_at);
        json_t *entry = lg_sub_child(o, "entry");
        lg_sub_song_fill(entry, &songs[j++]);
        lg_sub_set_int(entry, "bookmarkPosition", bm[i].position_ms);
    }
}

enum MHD_Result lg_sub_get_bookmarks(struct lg_sub_ctx *c)
{
    struct lg_store *s = store_of(c);
    struct lg_bookmark *bm = NULL;
    size_t n = 0;
    int r = lg_store_bookmarks_list(s, c->user.user_id, &bm, &n);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "listing bookmarks");
    int64_t *ids = lg_xcalloc(n ? n : 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = bm[i].track_id;
    struct lg_song *songs = NULL;
    size_t n_songs = 0;
    r = lg_store_songs_get(s, c->user.user_id, ids, n, &songs, &n_songs);
    free(ids);
    if (r < 0) {
        lg_bookmarks_free(bm, n);
        return lg_sub_reply_internal(c, r, "reading bookmarked songs");
    }
    json_t *resp = lg_sub_new();
    render_bookmarks(c, lg_sub_child(resp, "bookmarks"), bm, n, songs, n_songs);
    lg_songs_free(songs, n_songs);
    lg_bookmarks_free(bm, n);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_create_bookmark(struct lg_sub_ctx *c)
{
    const char *id_s = param(c, "id");
    if (!id_s)
        return lg_sub_reply_missing(c, "id");
    if (!param(c, "position"))
        return lg_sub_reply_missing(c, "position");
    int64_t id, position;
    if (lg_sub_id_parse(id_s, "", &id) < 0)
        return lg_sub_reply_not_found(c, "Song not found");
    if (lg_sub_param_int(c, "position", 0, 0, INT64_MAX, &position) < 0)
        return lg_sub_reply_invalid(c, "position");
    int r = lg_store_bookmark_set(store_of(c), c->user.user_id, id, position,
                                  lg_req_param(c->req, "comment"));
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Song not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "saving a bookmark");
    return lg_sub_reply(c, lg_sub_new());
}

enum MHD_Result lg_sub_delete_bookmark(struct lg_sub_ctx *c)
{
    const char *id_s = param(c, "id");
    if (!id_s)
        return lg_sub_reply_missing(c, "id");
    int64_t id;
    int r = lg_sub_id_parse(id_s, "", &id) < 0 ? LG_ENOTFOUND : 0;
    if (r == 0)
        r = lg_store_bookmark_delete(store_of(c), c->user.user_id, id);
    if (r == LG_ENOTFOUND)
        return lg_sub_reply_not_found(c, "Bookmark not found");
    if (r < 0)
        return lg_sub_reply_internal(c, r, "deleting a bookmark");
    return lg_sub_reply(c, lg_sub_new());
}

/* --- the play queue --- */

static void render_queue(struct lg_sub_ctx *c, json_t *o, const struct lg_play_queue *q,
                         const struct lg_song *songs, size_t n_songs)
{
    if (q->current_id > 0)
        lg_sub_set_id(o, "current", "", q->current_id);
    lg_sub_set_int(o, "position", q->position_ms);
    lg_sub_set_text(o, "username", c->user.name);
    lg_sub_set_time(o, "changed", q->changed_at);
    lg_sub_set_text(o, "changedBy", q->changed_by);
    for (size_t i = 0; i < n_songs; i++)
        lg_sub_song(o, "entry", &songs[i]);
}

enum MHD_Result lg_sub_get_play_queue(struct lg_sub_ctx *c)
{
    struct lg_store *s = store_of(c);
    struct lg_play_queue q;
    int r = lg_store_play_queue_get(s, c->user.user_id, &q);
    if (r == LG_ENOTFOUND) {
        /* Nothing saved: an empty queue (the schema requires the element),
         * changed at the epoch so that any saved queue is newer. */
        q = (struct lg_play_queue){ 0 };
        r = 0;
    }
    if (r < 0)
        return lg_sub_reply_internal(c, r, "reading the play queue");
    struct lg_song *songs = NULL;
    size_t n_songs = 0;
    r = lg_store_songs_get(s, c->user.user_id, q.ids, q.n, &songs, &n_songs);
    if (r < 0) {
        lg_play_queue_free(&q);
        return lg_sub_reply_internal(c, r, "reading the play queue's songs");
    }
    json_t *resp = lg_sub_new();
    render_queue(c, lg_sub_child(resp, "playQueue"), &q, songs, n_songs);
    lg_songs_free(songs, n_songs);
    lg_play_queue_free(&q);
    return lg_sub_reply(c, resp);
}

/* Reads current and position for a non-empty queue into q; returns NULL or
 * the parameter at fault. current defaults to the first entry: OpenSubsonic
 * requires it, but players that leave it out still mean to save a queue. */
static const char *parse_current(struct lg_sub_ctx *c, struct lg_play_queue *q)
{
    const char *cur = param(c, "current");
    bool listed = cur == NULL;
    q->current_id = q->ids[0];
    if (cur && lg_sub_id_parse(cur, "", &q->current_id) == 0) {
        for (size_t i = 0; i < q->n && !listed; i++)
            listed = q->ids[i] == q->current_id;
    }
    if (!listed)
        return "current";
    return lg_sub_param_int(c, "position", 0, 0, INT64_MAX, &q->position_ms) < 0 ? "position"
                                                                                 : NULL;
}

enum MHD_Result lg_sub_save_play_queue(struct lg_sub_ctx *c)
{
    struct lg_play_queue q = { .changed_by = (char *)lg_req_param(c->req, "c") };
    int r = parse_list(c, "id", "", &q.ids, &q.n);
    const char *bad = NULL;
    if (r == 0 && q.n > 0)
        bad = parse_current(c, &q);
    if (r == 0 && !bad)
        r = lg_store_play_queue_save(store_of(c), c->user.user_id, &q);
    free(q.ids);
    if (r == LG_EPARSE || r == LG_EINVAL)
        return lg_sub_reply_not_found(c, "Song not found");
    if (bad)
        return lg_sub_reply_invalid(c, bad);
    if (r < 0)
        return lg_sub_reply_internal(c, r, "saving the play queue");
    return lg_sub_reply(c, lg_sub_new());
}
