/* SPDX-License-Identifier: MIT */
/*
 * System methods. legato has no licence to sell, so getLicense always says
 * valid, with an expiry far off for the clients that show one. Scan status
 * comes from the background scanner (absent when the server runs without
 * one: then nothing is scanning and the count is the library's size). The
 * extension list names only what legato really implements; transcodeOffset
 * joins it when /rest/stream honours timeOffset.
 */
#include "http/subsonic_system.h"

#include "library/library.h"
#include "store/store.h"

/* Far enough that no client warns about it. */
#define LICENSE_EXPIRES "2099-12-31T23:59:59.000Z"

static const struct {
    const char *name;
    int version;
} extensions[] = {
    { "apiKeyAuthentication", 1 },
    { "formPost", 1 },
    { "songLyrics", 1 },
};

enum MHD_Result lg_sub_get_license(struct lg_sub_ctx *c)
{
    json_t *resp = lg_sub_new();
    json_t *lic = lg_sub_child(resp, "license");
    lg_sub_set_bool(lic, "valid", true);
    struct lg_user_profile p;
    if (lg_store_profile_get(c->req->http->deps.store, c->user.name, &p) == 0) {
        if (p.email && *p.email)
            lg_sub_set_str(lic, "email", p.email);
        lg_user_profile_free(&p);
    }
    lg_sub_set_str(lic, "licenseExpires", LICENSE_EXPIRES);
    return lg_sub_reply(c, resp);
}

/* Replies with scanStatus; just_started reports a scan asked for a moment
 * ago as running, since the scanner thread may not have picked it up yet. */
static enum MHD_Result scan_status(struct lg_sub_ctx *c, bool just_started)
{
    const struct lg_http_deps *d = &c->req->http->deps;
    int scanning = 0;
    int64_t count = 0;
    if (d->scanner)
        lg_scanner_status(d->scanner, &scanning, &count);
    if (!scanning) {
        struct lg_store_counts n;
        if (lg_store_counts(d->store, &n) == 0)
            count = n.tracks;
    }
    json_t *resp = lg_sub_new();
    json_t *st = lg_sub_child(resp, "scanStatus");
    lg_sub_set_bool(st, "scanning", scanning || just_started);
    lg_sub_set_int(st, "count", count);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_scan_status(struct lg_sub_ctx *c)
{
    return scan_status(c, false);
}

enum MHD_Result lg_sub_start_scan(struct lg_sub_ctx *c)
{
    if (!c->user.is_admin)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED,
                                  "User is not authorized for the given operation");
    struct lg_scanner *sc = c->req->http->deps.scanner;
    if (sc)
        lg_scanner_trigger(sc);
    return scan_status(c, sc != NULL);
}

enum MHD_Result lg_sub_get_open_subsonic_extensions(struct lg_sub_ctx *c)
{
    json_t *resp = lg_sub_new();
    json_t *list = json_array();
    for (size_t i = 0; i < LG_ARRAY_LEN(extensions); i++) {
        json_t *e = json_object();
        lg_sub_set_str(e, "name", extensions[i].name);
        json_t *versions = json_array();
        json_array_append_new(versions, json_integer(extensions[i].version));
        json_object_set_new(e, "versions", versions);
        json_array_append_new(list, e);
    }
    json_object_set_new(resp, "openSubsonicExtensions", list);
    return lg_sub_reply(c, resp);
}
