/* SPDX-License-Identifier: MIT */
/*
 * legato's JSON API for a user's playback settings: the loudness
 * normalisation mode /rest/stream applies when a request does not say, and
 * the bit rate limits of their players (Subsonic clients, named by the `c`
 * parameter they send).
 *   GET  /api/settings  200 {"normalize": "off"|"track"|"album",
 *                       "players": [{"client", "max_bit_rate" (kbit/s, 0:
 *                       none), "last_seen" (unix seconds, null: never)}]},
 *                       players by name.
 *   POST /api/settings  form normalize=off|track|album; 200 as GET.
 *   POST /api/players   form client (1 to 64 bytes of printable UTF-8),
 *                       max_bit_rate (0 to 10000; 0 lifts the limit); a
 *                       client not seen yet is created, so that a player can
 *                       be limited before its first stream; 200 as GET.
 * Credentials as for /api/sessions (lg_oauth_request_user): a Bearer device
 * access token or Subsonic credentials; 401 without. Changing a setting
 * takes the user's settings role (administrators hold it): 403 otherwise.
 * Bad input gets 400; every error is {"error", "error_description"} and
 * every answer Cache-Control: no-store. No cookie is read, so forms from
 * other sites carry no credentials here: no CSRF token is needed. Stateless;
 * any MHD thread.
 */
#ifndef LG_HTTP_SETTINGS_H
#define LG_HTTP_SETTINGS_H

#include <stdbool.h>

#include <microhttpd.h>

struct lg_req;

/* Whether path is one of the routes above. */
bool lg_settings_is_route(const char *path);
/* Answers a request for one of them (other methods get 405). */
enum MHD_Result lg_settings_route(struct lg_req *r);

#endif
