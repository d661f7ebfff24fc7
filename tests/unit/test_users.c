/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of user management: the permission table of lg_auth_user_may
 * (one row per rule), profiles in the store (defaults, roles, update, list,
 * delete with its cascade), the authenticator's generation, passwords that
 * stop working once changed, and the parameter parsers of the Subsonic user
 * handlers.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "http/subsonic_users.h"
#include "store/store.h"

#include "harness.h"

static char *tmp;

LG_TEST(setup)
{
    tmp = lg_test_tmpdir("users");
}

static struct lg_principal who(const char *name, int admin)
{
    struct lg_principal p = { .user_id = 1, .is_admin = admin };
    snprintf(p.name, sizeof(p.name), "%s", name);
    return p;
}

LG_TEST(permissions)
{
    static const struct {
        const char *actor;
        int admin;
        unsigned roles;
        enum lg_user_op op;
        const char *target;
        int want;
    } rows[] = {
        /* Reading profiles. */
        { "ann", 1, 0, LG_USER_GET, "bob", 0 },
        { "bob", 0, LG_ROLES_ALL, LG_USER_GET, "bob", 0 },
        { "bob", 0, LG_ROLES_ALL, LG_USER_GET, "ann", LG_EDENIED },
        { "bob", 0, LG_ROLES_ALL, LG_USER_GET, "Bob", LG_EDENIED }, /* names are exact */
        { "ann", 1, 0, LG_USER_LIST, NULL, 0 },
        { "bob", 0, LG_ROLES_ALL, LG_USER_LIST, NULL, LG_EDENIED },
        /* Administration. */
        { "ann", 1, 0, LG_USER_CREATE, NULL, 0 },
        { "bob", 0, LG_ROLES_ALL, LG_USER_CREATE, NULL, LG_EDENIED },
        { "ann", 1, 0, LG_USER_UPDATE, "bob", 0 },
        { "ann", 1, 0, LG_USER_UPDATE, "ann", 0 },
        { "bob", 0, LG_ROLES_ALL, LG_USER_UPDATE, "bob", LG_EDENIED },
        { "ann", 1, 0, LG_USER_DELETE, "bob", 0 },
        { "ann", 1, 0, LG_USER_DELETE, "ann", LG_EINVAL },
        { "bob", 0, LG_ROLES_ALL, LG_USER_DELETE, "bob", LG_EINVAL },
        { "bob", 0, LG_ROLES_ALL, LG_USER_DELETE, "ann", LG_EDENIED },
        /* Passwords. */
        { "ann", 1, 0, LG_USER_PASSWORD, "bob", 0 },
        { "ann", 1, 0, LG_USER_PASSWORD, "ann", 0 },
        { "bob", 0, LG_ROLE_SETTINGS, LG_USER_PASSWORD, "bob", 0 },
        { "bob", 0, LG_ROLES_ALL & ~LG_ROLE_SETTINGS, LG_USER_PASSWORD, "bob", LG_EDENIED },
        { "bob", 0, LG_ROLES_ALL, LG_USER_PASSWORD, "ann", LG_EDENIED },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        struct lg_principal p = who(rows[i].actor, rows[i].admin);
        int got = lg_auth_user_may(&p, rows[i].roles, rows[i].op, rows[i].target);
        if (got != rows[i].want)
            fprintf(stderr, "  row %zu\n", i);
        CHECK_INT(got, rows[i].want);
    }
}

LG_TEST(bool_and_password_params)
{
    static const struct {
        const char *in;
        int rc;
        bool value;
    } bools[] = {
        { "true", 0, true },         { "TRUE", 0, true },      { "1", 0, true },
        { "false", 0, false },       { "False", 0, false },    { "0", 0, false },
        { "yes", LG_EPARSE, false }, { "", LG_EPARSE, false }, { "true ", LG_EPARSE, false },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(bools); i++) {
        bool v = !bools[i].value;
        CHECK_INT(lg_sub_bool_parse(bools[i].in, &v), bools[i].rc);
        if (bools[i].rc == 0)
            CHECK(v == bools[i].value);
    }
    static const struct {
        const char *in;
        int rc;
        const char *out;
    } pws[] = {
        { "secret", 0, "secret" },
        { "enc:736563726574", 0, "secret" },
        { "enc:736563726574A", LG_EPARSE, NULL }, /* odd length */
        { "enc:zz", LG_EPARSE, NULL },
        { "enc:", LG_EPARSE, NULL },
        { "enc:0061", LG_EPARSE, NULL }, /* holds a NUL */
        { "", LG_EPARSE, NULL },
        { "0123456789", LG_ETOOBIG, NULL },
        { "enc:30313233343536373839", LG_ETOOBIG, NULL },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(pws); i++) {
        char buf[10];
        CHECK_INT(lg_sub_password_decode(pws[i].in, buf, sizeof(buf)), pws[i].rc);
        if (pws[i].rc == 0)
            CHECK_STR(buf, pws[i].out);
    }
}

struct fx {
    struct lg_store *store;
    struct lg_auth *auth;
};

static struct fx fx_open(const char *name)
{
    struct fx f;
    char *dir = lg_xasprintf("%s/%s", tmp, name);
    char *db = lg_xasprintf("%s/legato.db", dir);
    int r = lg_store_open(db, &f.store);
    lg_assert(r == 0);
    r = lg_auth_new(f.store, dir, 100, &f.auth);
    lg_assert(r == 0);
    free(db);
    free(dir);
    return f;
}

static void fx_close(struct fx *f)
{
    lg_auth_free(f->auth);
    lg_store_close(f->store);
}

LG_TEST(profiles)
{
    struct fx f = fx_open("profiles");
    int64_t ann, bob;
    CHECK_INT(lg_auth_user_create(f.auth, "ann", "pw-ann", 1, &ann), 0);
    CHECK_INT(lg_auth_user_create(f.auth, "bob", "pw-bob", 0, &bob), 0);
    struct lg_user_profile p;
    CHECK_INT(lg_store_profile_get(f.store, "bob", &p), 0);
    CHECK_INT(p.id, bob);
    CHECK_STR(p.name, "bob");
    CHECK_STR(p.email, "");
    CHECK_INT(p.is_admin, 0);
    CHECK_INT(p.roles, LG_ROLES_DEFAULT);
    CHECK_INT(p.max_bitrate_kbps, 0);
    /* Update every setting, then read it back. */
    free(p.email);
    p.email = lg_xstrdup("bob@example.org");
    p.roles = LG_ROLE_STREAM | LG_ROLE_JUKEBOX | LG_ROLE_VIDEO_CONVERSION;
    p.max_bitrate_kbps = 192;
    p.is_admin = 1;
    CHECK_INT(lg_store_profile_update(f.store, &p), 0);
    lg_user_profile_free(&p);
    CHECK_INT(lg_store_profile_get(f.store, "bob", &p), 0);
    CHECK_STR(p.email, "bob@example.org");
    CHECK_INT(p.roles, LG_ROLE_STREAM | LG_ROLE_JUKEBOX | LG_ROLE_VIDEO_CONVERSION);
    CHECK_INT(p.max_bitrate_kbps, 192);
    CHECK_INT(p.is_admin, 1);
    p.id = 9999;
    CHECK_INT(lg_store_profile_update(f.store, &p), LG_ENOTFOUND);
    lg_user_profile_free(&p);
    CHECK_INT(lg_store_profile_get(f.store, "nobody", &p), LG_ENOTFOUND);
    /* The list comes by name. */
    struct lg_user_profile *v;
    size_t n;
    CHECK_INT(lg_store_profiles_list(f.store, &v, &n), 0);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(v[0].name, "ann");
        CHECK_STR(v[1].name, "bob");
    }
    lg_user_profiles_free(v, n);
    fx_close(&f);
}

LG_TEST(delete_cascades)
{
    struct fx f = fx_open("delete");
    int64_t bob;
    CHECK_INT(lg_auth_user_create(f.auth, "bob", "pw-bob", 0, &bob), 0);
    char *key = NULL;
    CHECK_INT(lg_auth_apikey_create(f.auth, "bob", &key), 0);
    struct lg_auth_request req = { .api_key = key };
    struct lg_principal p;
    CHECK_INT(lg_auth_check(f.auth, &req, &p), 0);
    uint64_t gen = lg_auth_generation(f.auth);
    CHECK_INT(lg_auth_user_delete(f.auth, "bob"), 0);
    CHECK(lg_auth_generation(f.auth) > gen);
    CHECK_INT(lg_auth_check(f.auth, &req, &p), LG_EAUTH);
    struct lg_user_profile prof;
    CHECK_INT(lg_store_profile_get(f.store, "bob", &prof), LG_ENOTFOUND);
    CHECK_INT(lg_auth_user_delete(f.auth, "bob"), LG_ENOTFOUND);
    CHECK_INT(lg_store_user_delete(f.store, bob), LG_ENOTFOUND);
    free(key);
    fx_close(&f);
}

LG_TEST(password_change)
{
    struct fx f = fx_open("password");
    CHECK_INT(lg_auth_user_create(f.auth, "bob", "old-pw", 0, NULL), 0);
    struct lg_auth_request old = { .u = "bob", .p = "old-pw" };
    struct lg_auth_request neu = { .u = "bob", .p = "new-pw" };
    struct lg_principal p;
    CHECK_INT(lg_auth_check(f.auth, &old, &p), 0);
    uint64_t gen = lg_auth_generation(f.auth);
    CHECK_INT(lg_auth_password_set(f.auth, "bob", "new-pw"), 0);
    CHECK(lg_auth_generation(f.auth) > gen);
    CHECK_INT(lg_auth_check(f.auth, &old, &p), LG_EAUTH);
    CHECK_INT(lg_auth_check(f.auth, &neu, &p), 0);
    gen = lg_auth_generation(f.auth);
    lg_auth_user_changed(f.auth, p.user_id);
    CHECK(lg_auth_generation(f.auth) > gen);
    fx_close(&f);
}

LG_TEST(teardown)
{
    free(tmp);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(permissions), LG_CASE(bool_and_password_params),
             LG_CASE(profiles), LG_CASE(delete_cascades), LG_CASE(password_change),
             LG_CASE(teardown))
