/* SPDX-License-Identifier: MIT */
/*
 * /api/settings and /api/players (see settings.h). Each handler
 * authenticates, checks the form, makes one change through the store
 * (store_players.c, which checks client names and limits again), then
 * answers with the user's whole settings, so a client never needs a second
 * request to see the result. The JSON is built with jansson; client names
 * are stored and sent back as the user gave them (JSON escaping makes them
 * safe to embed).
 */
#include "http/settings.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/str.h"
#include "http/http_int.h"
#include "http/oauth.h"
#include "store/store.h"

static bool is_route(const char *path, const char *want)
{
    return strcmp(path, want) == 0;
}

bool lg_settings_is_route(const char *path)
{
    return is_route(path, "/api/settings") || is_route(path, "/api/players");
}

/* --- replies --- */


static enum MHD_Result bad_request(struct lg_req *r, const char *desc)
{
    return lg_req_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request", desc);
}

static enum MHD_Result not_allowed(struct lg_req *r, const char *allow)
{
    return lg_req_reply_json(r, MHD_HTTP_METHOD_NOT_ALLOWED,
                             json_pack("{ssss}", "error", "method_not_allowed", "error_description",
                                       "use one of the methods in Allow"),
                             allow);
}

static enum MHD_Result server_error(struct lg_req *r)
{
    return lg_req_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                            "internal error (see the server log)");
}

/* The user's settings as the API shows them; NULL on a store failure. */
static json_t *settings_json(struct lg_store *s, int64_t uid)
{
    enum lg_normalize mode;
    struct lg_player *v = NULL;
    size_t n = 0;
    if (lg_store_normalize_get(s, uid, &mode) < 0 || lg_store_players_list(s, uid, &v, &n) < 0)
        return NULL;
    json_t *players = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *seen = v[i].last_seen_s ? json_integer(v[i].last_seen_s) : json_null();
        json_array_append_new(players,
                              json_pack("{sssIso}", "client", v[i].client, "max_bit_rate",
                                        (json_int_t)v[i].max_bit_rate_kbps, "last_seen", seen));
    }
    lg_players_free(v, n);
    return json_pack("{ssso}", "normalize", lg_normalize_name(mode), "players", players);
}

static enum MHD_Result reply_settings(struct lg_req *r, int64_t uid)
{
    json_t *j = settings_json(r->http->deps.store, uid);
    return j ? lg_req_reply_json(r, MHD_HTTP_OK, j, NULL) : server_error(r);
}

/* --- credentials --- */

/* Whether user uid may change their settings: the settings role, which
 * administrators hold whatever is stored. 1, 0, or a store error. */
static int may_change(struct lg_store *s, int64_t uid)
{
    struct lg_user u = { 0 };
    int rc = lg_store_user_get(s, uid, &u);
    if (rc < 0)
        return rc;
    bool may = u.is_admin || (u.roles & LG_ROLE_SETTINGS);
    lg_user_free(&u);
    return may;
}

/* Answers the refusal and returns true unless r is made for a signed-in
 * user (*uid) who, when change is set, may change their settings. */
static bool refused(struct lg_req *r, bool change, int64_t *uid, enum MHD_Result *res)
{
    int rc = lg_oauth_request_user(r, uid);
    if (rc < 0) {
        *res = lg_oauth_refuse(r, rc, "a Bearer access token or Subsonic credentials are required");
        return true;
    }
    int may = change ? may_change(r->http->deps.store, *uid) : 1;
    if (may < 0)
        *res = server_error(r);
    else if (may == 0)
        *res = lg_req_api_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
                                "this user may not change their settings");
    return may != 1;
}

/* --- handlers --- */

static enum MHD_Result set_normalize(struct lg_req *r, int64_t uid)
{
    enum lg_normalize mode;
    if (lg_normalize_parse(lg_req_param(r, "normalize"), &mode) < 0)
        return bad_request(r, "normalize must be off, track or album");
    if (lg_store_normalize_set(r->http->deps.store, uid, mode) < 0)
        return server_error(r);
    return reply_settings(r, uid);
}

static enum MHD_Result set_player(struct lg_req *r, int64_t uid)
{
    const char *client = lg_req_param(r, "client");
    const char *rate = lg_req_param(r, "max_bit_rate");
    int64_t kbps;
    if (!lg_player_client_ok(client))
        return bad_request(r, "client must be 1 to 64 bytes of printable UTF-8");
    if (!rate || lg_str_to_i64(rate, 0, LG_PLAYER_KBPS_MAX, &kbps) < 0)
        return bad_request(r, "max_bit_rate must be kbit/s from 0 (no limit) to 10000");
    int rc = lg_store_player_limit_set(r->http->deps.store, uid, client, (int)kbps);
    if (rc == LG_EINVAL)
        return bad_request(r, "bad client or max_bit_rate");
    if (rc < 0)
        return server_error(r);
    return reply_settings(r, uid);
}

enum MHD_Result lg_settings_route(struct lg_req *r)
{
    bool get = r->head || strcmp(r->method, "GET") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    bool players = is_route(r->path, "/api/players");
    if (players ? !post : !get && !post)
        return not_allowed(r, players ? "POST" : "GET, HEAD, POST");
    if (!r->http->deps.store)
        return server_error(r);
    int64_t uid = 0;
    enum MHD_Result res;
    if (refused(r, post, &uid, &res))
        return res;
    if (!post)
        return reply_settings(r, uid);
    return players ? set_player(r, uid) : set_normalize(r, uid);
}
