/* SPDX-License-Identifier: MIT */
/*
 * User management over the Subsonic API. A handler first asks auth/ whether
 * the caller may act (so that a user who may not learns nothing, not even
 * whether the target exists), then reads or writes the profile in the store.
 * Roles travel between parameters, store bits and the User element through
 * one table. Administrators hold every role, so they are reported with all
 * of them whatever the columns say. Every write that changes a password or
 * rights tells auth/, which makes connections stop trusting credentials they
 * had accepted.
 */
#include "http/subsonic_users.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/str.h"
#include "store/store.h"

#define NOT_AUTHORIZED "User is not authorized for the given operation"

/* The role parameters and attributes, in the User element's order. */
static const struct {
    const char *name;
    unsigned bit;
} roles[] = {
    { "settingsRole", LG_ROLE_SETTINGS },
    { "downloadRole", LG_ROLE_DOWNLOAD },
    { "uploadRole", LG_ROLE_UPLOAD },
    { "playlistRole", LG_ROLE_PLAYLIST },
    { "coverArtRole", LG_ROLE_COVER_ART },
    { "commentRole", LG_ROLE_COMMENT },
    { "podcastRole", LG_ROLE_PODCAST },
    { "streamRole", LG_ROLE_STREAM },
    { "jukeboxRole", LG_ROLE_JUKEBOX },
    { "shareRole", LG_ROLE_SHARE },
    { "videoConversionRole", LG_ROLE_VIDEO_CONVERSION },
    { "scrobblingEnabled", LG_ROLE_SCROBBLING },
};

/* createUser's defaults when a role is not given (the Subsonic spec's). */
#define CREATE_ROLES (LG_ROLE_SETTINGS | LG_ROLE_STREAM | LG_ROLE_SCROBBLING)

/* The bit rates updateUser accepts (Kbps; 0 = no limit). */
static const int bitrates[] = { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320 };

int lg_sub_bool_parse(const char *s, bool *out)
{
    if (!s)
        return LG_EPARSE;
    if (lg_str_casecmp(s, "true") == 0 || strcmp(s, "1") == 0) {
        *out = true;
        return 0;
    }
    if (lg_str_casecmp(s, "false") == 0 || strcmp(s, "0") == 0) {
        *out = false;
        return 0;
    }
    return LG_EPARSE;
}

int lg_sub_password_decode(const char *p, char *buf, size_t cap)
{
    if (cap == 0)
        return LG_ETOOBIG;
    if (strncmp(p, "enc:", 4) != 0) {
        size_t n = strlen(p);
        if (n == 0)
            return LG_EPARSE;
        if (n >= cap)
            return LG_ETOOBIG;
        memcpy(buf, p, n + 1);
        return 0;
    }
    int n = lg_hex_decode(buf, cap - 1, p + 4);
    if (n < 0)
        return n;
    if (n == 0 || memchr(buf, '\0', (size_t)n))
        return LG_EPARSE;
    buf[n] = '\0';
    return 0;
}

static enum MHD_Result missing(struct lg_sub_ctx *c, const char *name)
{
    char *msg = lg_xasprintf("Required parameter is missing: %s", name);
    enum MHD_Result r = lg_sub_reply_error(c, LG_SUB_ERR_MISSING_PARAM, msg);
    free(msg);
    return r;
}

static enum MHD_Result bad_value(struct lg_sub_ctx *c, const char *name)
{
    char *msg = lg_xasprintf("Invalid value for parameter %s", name);
    enum MHD_Result r = lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, msg);
    free(msg);
    return r;
}

static enum MHD_Result denied(struct lg_sub_ctx *c)
{
    return lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED, NOT_AUTHORIZED);
}

static const char *required(struct lg_sub_ctx *c, const char *name)
{
    const char *v = lg_req_param(c->req, name);
    return v && *v ? v : NULL;
}

static void render_user(json_t *parent, bool in_list, const struct lg_user_profile *p)
{
    json_t *u = in_list ? lg_sub_append(parent, "user") : lg_sub_child(parent, "user");
    unsigned held = p->is_admin ? p->roles | (LG_ROLES_ALL & ~LG_ROLE_SCROBBLING) : p->roles;
    lg_sub_set_str(u, "username", p->name);
    if (p->email && *p->email)
        lg_sub_set_str(u, "email", p->email);
    lg_sub_set_bool(u, "scrobblingEnabled", held & LG_ROLE_SCROBBLING);
    lg_sub_set_int(u, "maxBitRate", p->max_bitrate_kbps);
    lg_sub_set_bool(u, "adminRole", p->is_admin);
    for (size_t i = 0; i < LG_ARRAY_LEN(roles); i++) {
        if (roles[i].bit != LG_ROLE_SCROBBLING)
            lg_sub_set_bool(u, roles[i].name, held & roles[i].bit);
    }
    json_t *folders = json_array();
    json_array_append_new(folders, json_integer(1)); /* the one music folder */
    json_object_set_new(u, "folder", folders);
}

enum { EMAIL_MAX = 254 }; /* the longest address (RFC 5321's path limit) */

/* Whether s holds a control byte. */
static bool has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    }
    return false;
}

/* Applies the role, adminRole, email and maxBitRate parameters that are
 * present to p. Returns NULL, or the name of the parameter with a bad value:
 * an e-mail address must be UTF-8 without control characters. */
static const char *apply_params(struct lg_sub_ctx *c, struct lg_user_profile *p)
{
    for (size_t i = 0; i < LG_ARRAY_LEN(roles); i++) {
        const char *v = lg_req_param(c->req, roles[i].name);
        bool on;
        if (!v)
            continue;
        if (lg_sub_bool_parse(v, &on) < 0)
            return roles[i].name;
        p->roles = on ? p->roles | roles[i].bit : p->roles & ~roles[i].bit;
    }
    const char *admin = lg_req_param(c->req, "adminRole");
    bool on;
    if (admin && lg_sub_bool_parse(admin, &on) < 0)
        return "adminRole";
    if (admin)
        p->is_admin = on;
    const char *rate = lg_req_param(c->req, "maxBitRate");
    if (rate) {
        int64_t kbps;
        size_t i = 0;
        if (lg_str_to_i64(rate, 0, 320, &kbps) < 0)
            return "maxBitRate";
        while (i < LG_ARRAY_LEN(bitrates) && bitrates[i] != kbps)
            i++;
        if (i == LG_ARRAY_LEN(bitrates))
            return "maxBitRate";
        p->max_bitrate_kbps = (int)kbps;
    }
    const char *email = lg_req_param(c->req, "email");
    if (email &&
        (strlen(email) > EMAIL_MAX || !lg_utf8_valid(email, strlen(email)) || has_control(email)))
        return "email";
    if (email) {
        free(p->email);
        p->email = lg_xstrdup(email);
    }
    return NULL;
}

enum MHD_Result lg_sub_get_user(struct lg_sub_ctx *c)
{
    const char *name = required(c, "username");
    if (!name)
        return missing(c, "username");
    if (lg_auth_user_may(&c->user, 0, LG_USER_GET, name) < 0)
        return denied(c);
    struct lg_user_profile p;
    int rc = lg_store_profile_get(c->req->http->deps.store, name, &p);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "User not found");
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "reading a user");
    json_t *resp = lg_sub_new();
    render_user(resp, false, &p);
    lg_user_profile_free(&p);
    return lg_sub_reply(c, resp);
}

enum MHD_Result lg_sub_get_users(struct lg_sub_ctx *c)
{
    if (lg_auth_user_may(&c->user, 0, LG_USER_LIST, NULL) < 0)
        return denied(c);
    struct lg_user_profile *v;
    size_t n;
    int rc = lg_store_profiles_list(c->req->http->deps.store, &v, &n);
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "listing users");
    json_t *resp = lg_sub_new();
    json_t *users = lg_sub_child(resp, "users");
    for (size_t i = 0; i < n; i++)
        render_user(users, true, &v[i]);
    lg_user_profiles_free(v, n);
    return lg_sub_reply(c, resp);
}

/* Decodes the password parameter into pw (LG_AUTH_PASSWORD_MAX + 1 bytes);
 * replies and returns false when it is bad. */
static bool take_password(struct lg_sub_ctx *c, const char *param, char *pw, enum MHD_Result *r)
{
    int rc = lg_sub_password_decode(param, pw, LG_AUTH_PASSWORD_MAX + 1);
    if (rc < 0) {
        sodium_memzero(pw, LG_AUTH_PASSWORD_MAX + 1);
        *r = bad_value(c, "password");
        return false;
    }
    return true;
}

/* Creates the user with the profile p (name, admin flag and settings). */
static enum MHD_Result create(struct lg_sub_ctx *c, struct lg_user_profile *p, const char *pw)
{
    const struct lg_http_deps *d = &c->req->http->deps;
    int rc = lg_auth_user_create(d->auth, p->name, pw, p->is_admin, &p->id);
    if (rc == LG_EEXIST)
        return lg_sub_reply_error(c, LG_SUB_ERR_GENERIC, "User already exists");
    if (rc == LG_EINVAL)
        return bad_value(c, "username");
    if (rc == 0)
        rc = lg_store_profile_update(d->store, p);
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "creating a user");
    return lg_sub_reply(c, lg_sub_new());
}

enum MHD_Result lg_sub_create_user(struct lg_sub_ctx *c)
{
    const char *name = required(c, "username");
    const char *pass = required(c, "password");
    if (!name || !pass)
        return missing(c, name ? "password" : "username");
    if (lg_auth_user_may(&c->user, 0, LG_USER_CREATE, NULL) < 0)
        return denied(c);
    struct lg_user_profile p = { .name = lg_xstrdup(name),
                                 .email = lg_xstrdup(""),
                                 .roles = CREATE_ROLES };
    char pw[LG_AUTH_PASSWORD_MAX + 1];
    enum MHD_Result r;
    const char *bad = apply_params(c, &p);
    if (bad)
        r = bad_value(c, bad);
    else if (take_password(c, pass, pw, &r))
        r = create(c, &p, pw);
    sodium_memzero(pw, sizeof(pw));
    lg_user_profile_free(&p);
    return r;
}

/* Writes the new settings (and password, when given) of p. */
static enum MHD_Result update(struct lg_sub_ctx *c, struct lg_user_profile *p)
{
    const struct lg_http_deps *d = &c->req->http->deps;
    const char *pass = lg_req_param(c->req, "password");
    int rc = 0;
    if (pass && *pass) {
        char pw[LG_AUTH_PASSWORD_MAX + 1];
        enum MHD_Result r;
        if (!take_password(c, pass, pw, &r))
            return r;
        rc = lg_auth_password_set(d->auth, p->name, pw);
        sodium_memzero(pw, sizeof(pw));
        if (rc == LG_EINVAL)
            return bad_value(c, "password");
    }
    if (rc == 0)
        rc = lg_store_profile_update(d->store, p);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "User not found");
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "updating a user");
    lg_auth_user_changed(d->auth, p->id);
    return lg_sub_reply(c, lg_sub_new());
}

enum MHD_Result lg_sub_update_user(struct lg_sub_ctx *c)
{
    const char *name = required(c, "username");
    if (!name)
        return missing(c, "username");
    if (lg_auth_user_may(&c->user, 0, LG_USER_UPDATE, name) < 0)
        return denied(c);
    struct lg_user_profile p;
    int rc = lg_store_profile_get(c->req->http->deps.store, name, &p);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "User not found");
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "reading a user");
    enum MHD_Result r;
    const char *bad = apply_params(c, &p);
    if (bad)
        r = bad_value(c, bad);
    else if (p.id == c->user.user_id && !p.is_admin)
        r = lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED,
                               "Administrators cannot remove their own admin role");
    else
        r = update(c, &p);
    lg_user_profile_free(&p);
    return r;
}

enum MHD_Result lg_sub_delete_user(struct lg_sub_ctx *c)
{
    const char *name = required(c, "username");
    if (!name)
        return missing(c, "username");
    int may = lg_auth_user_may(&c->user, 0, LG_USER_DELETE, name);
    if (may == LG_EINVAL)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_AUTHORIZED, "Users cannot delete themselves");
    if (may < 0)
        return denied(c);
    int rc = lg_auth_user_delete(c->req->http->deps.auth, name);
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "User not found");
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "deleting a user");
    return lg_sub_reply(c, lg_sub_new());
}

/* The roles of the caller, for the decisions that depend on them. */
static unsigned caller_roles(struct lg_sub_ctx *c)
{
    struct lg_user_profile p;
    if (lg_store_profile_get(c->req->http->deps.store, c->user.name, &p) < 0)
        return 0;
    unsigned r = p.roles;
    lg_user_profile_free(&p);
    return r;
}

enum MHD_Result lg_sub_change_password(struct lg_sub_ctx *c)
{
    const char *name = required(c, "username");
    const char *pass = required(c, "password");
    if (!name || !pass)
        return missing(c, name ? "password" : "username");
    if (lg_auth_user_may(&c->user, c->user.is_admin ? 0 : caller_roles(c), LG_USER_PASSWORD, name) <
        0)
        return denied(c);
    char pw[LG_AUTH_PASSWORD_MAX + 1];
    enum MHD_Result r;
    if (!take_password(c, pass, pw, &r))
        return r;
    int rc = lg_auth_password_set(c->req->http->deps.auth, name, pw);
    sodium_memzero(pw, sizeof(pw));
    if (rc == LG_ENOTFOUND)
        return lg_sub_reply_error(c, LG_SUB_ERR_NOT_FOUND, "User not found");
    if (rc == LG_EINVAL)
        return bad_value(c, "password");
    if (rc < 0)
        return lg_sub_reply_internal(c, rc, "changing a password");
    return lg_sub_reply(c, lg_sub_new());
}
