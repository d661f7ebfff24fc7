/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/auth against a real SQLite store in a temporary folder:
 * users, password (plain and enc:), token and apiKey logins, parameter
 * errors, rate limiting per IP and per user, the secret key file, the
 * verification cache and its invalidation, and the private rate-limit and
 * cache tables with an injected clock.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/auth.h"
#include "auth/pwcache.h"
#include "auth/ratelimit.h"
#include "auth/websession.h"
#include "core/str.h"
#include "store/store.h"

#include "harness.h"

static char *tmp;

struct fx {
    char *dir;
    struct lg_store *store;
    struct lg_auth *auth;
};

/* A store and an authenticator in DIR/name, with failures_per_min = limit. */
static struct fx fx_open(const char *name, int64_t limit)
{
    struct fx f = { .dir = lg_xasprintf("%s/%s", tmp, name) };
    char *db = lg_xasprintf("%s/legato.db", f.dir);
    int r = lg_store_open(db, &f.store);
    lg_assert(r == 0);
    r = lg_auth_new(f.store, f.dir, limit, &f.auth);
    lg_assert(r == 0);
    free(db);
    return f;
}

static void fx_close(struct fx *f)
{
    lg_auth_free(f->auth);
    lg_store_close(f->store);
    free(f->dir);
}

/* Subsonic's t for password pw and salt s, in lowercase hex. */
static void token(const char *pw, const char *s, char out[33])
{
    char *cat = lg_xasprintf("%s%s", pw, s);
    unsigned char md[16];
    lg_md5(cat, strlen(cat), md);
    lg_hex_encode(out, md, sizeof md);
    free(cat);
}

static int check_pw(struct fx *f, const char *u, const char *p, const char *ip)
{
    struct lg_auth_request req = { .u = u, .p = p, .ip = ip };
    struct lg_principal pr;
    return lg_auth_check(f->auth, &req, &pr);
}

static int check_token(struct fx *f, const char *u, const char *pw, const char *s, const char *ip)
{
    char t[33];
    token(pw, s, t);
    struct lg_auth_request req = { .u = u, .t = t, .s = s, .ip = ip };
    struct lg_principal pr;
    return lg_auth_check(f->auth, &req, &pr);
}

static bool contains(const unsigned char *p, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(p + i, needle, n) == 0)
            return true;
    }
    return false;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

LG_TEST(setup)
{
    tmp = lg_test_tmpdir("auth");
}

LG_TEST(users)
{
    struct fx f = fx_open("users", 100);
    int64_t id = 0;
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "correct horse", 1, &id), 0);
    CHECK(id > 0);
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "other", 0, NULL), LG_EEXIST);
    CHECK_INT(lg_auth_user_create(f.auth, "", "pw", 0, NULL), LG_EINVAL);
    CHECK_INT(lg_auth_user_create(f.auth, "bob", "", 0, NULL), LG_EINVAL);
    CHECK_INT(lg_auth_user_create(f.auth, "tab\there", "pw", 0, NULL), LG_EINVAL);
    char longname[LG_AUTH_NAME_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_INT(lg_auth_user_create(f.auth, longname, "pw", 0, NULL), LG_EINVAL);
    char *longpw = lg_xmalloc(LG_AUTH_PASSWORD_MAX + 2);
    memset(longpw, 'p', LG_AUTH_PASSWORD_MAX + 1);
    longpw[LG_AUTH_PASSWORD_MAX + 1] = '\0';
    CHECK_INT(lg_auth_user_create(f.auth, "bob", longpw, 0, NULL), LG_EINVAL);
    free(longpw);
    /* The stored hash is argon2id at 64 MiB, 2 passes, 1 lane. */
    struct lg_user u = { 0 };
    CHECK_INT(lg_store_user_get_by_name(f.store, "alice", &u), 0);
    CHECK(u.pass_hash && strncmp(u.pass_hash, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    CHECK(u.pass_box_len > 13);
    CHECK(!contains(u.pass_box, u.pass_box_len, "correct horse"));
    CHECK_INT(u.is_admin, 1);
    lg_user_free(&u);
    fx_close(&f);
}

LG_TEST(password_login)
{
    struct fx f = fx_open("password", 100);
    int64_t id = 0;
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "sesame", 0, &id), 0);
    struct lg_auth_request req = { .u = "alice", .p = "sesame", .ip = "10.0.0.1" };
    struct lg_principal pr = { 0 };
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), 0);
    CHECK_INT(pr.user_id, id);
    CHECK_STR(pr.name, "alice");
    CHECK_INT(pr.is_admin, 0);
    static const struct {
        const char *p;
        int want;
    } rows[] = {
        { "sesame", 0 },         { "enc:736573616d65", 0 },      { "enc:736573616D65", 0 },
        { "Sesame", LG_EAUTH },  { "enc:736573616d", LG_EAUTH }, { "enc:73657", LG_EPARSE },
        { "enc:zz", LG_EPARSE }, { "enc:", LG_EAUTH },           { "enc:00", LG_EAUTH },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++)
        CHECK_INT(check_pw(&f, "alice", rows[i].p, "10.0.0.1"), rows[i].want);
    CHECK_INT(check_pw(&f, "nobody", "sesame", "10.0.0.1"), LG_EAUTH);
    fx_close(&f);
}

LG_TEST(token_login)
{
    struct fx f = fx_open("token", 100);
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "sesame", 0, NULL), 0);
    CHECK_INT(check_token(&f, "alice", "sesame", "c19b2d", "1.2.3.4"), 0);
    CHECK_INT(check_token(&f, "alice", "sesame", "another-salt", "1.2.3.4"), 0);
    CHECK_INT(check_token(&f, "alice", "wrong", "c19b2d", "1.2.3.4"), LG_EAUTH);
    CHECK_INT(check_token(&f, "nobody", "sesame", "c19b2d", "1.2.3.4"), LG_EAUTH);
    char t[33];
    token("sesame", "c19b2d", t);
    struct lg_principal pr;
    struct lg_auth_request req = { .u = "alice", .t = t, .s = "other", .ip = "1.2.3.4" };
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), LG_EAUTH); /* salt does not match t */
    for (char *c = t; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 'a' + 'A' : *c);
    req.s = "c19b2d";
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), 0); /* upper-case hex is the same token */
    CHECK_STR(pr.name, "alice");
    req.t = "not hex";
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), LG_EAUTH);
    fx_close(&f);
}

LG_TEST(apikey_login)
{
    struct fx f = fx_open("apikey", 100);
    int64_t id = 0;
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "sesame", 1, &id), 0);
    char *key = NULL;
    CHECK_INT(lg_auth_apikey_create(f.auth, "alice", &key), 0);
    CHECK(key && strlen(key) == 46 && strncmp(key, "lg_", 3) == 0);
    char *key2 = NULL;
    CHECK_INT(lg_auth_apikey_create(f.auth, "alice", &key2), 0);
    CHECK(key2 && strcmp(key, key2) != 0);
    CHECK_INT(lg_auth_apikey_create(f.auth, "nobody", &key2), LG_ENOTFOUND);
    struct lg_principal pr = { 0 };
    struct lg_auth_request req = { .api_key = key, .ip = "1.2.3.4" };
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), 0);
    CHECK_INT(pr.user_id, id);
    CHECK_STR(pr.name, "alice");
    CHECK_INT(pr.is_admin, 1);
    req.api_key = key2;
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), 0);
    key[10] = key[10] == 'A' ? 'B' : 'A';
    req.api_key = key;
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), LG_EAUTH);
    req.api_key = "lg_nonsense";
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), LG_EAUTH);
    req.api_key = key2;
    req.u = "alice";
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), LG_EPARSE);
    req.p = "sesame";
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), LG_EPARSE);
    free(key);
    free(key2);
    fx_close(&f);
}

LG_TEST(missing_params)
{
    struct fx f = fx_open("missing", 100);
    static const struct lg_auth_request rows[] = {
        { 0 },
        { .ip = "1.2.3.4" },
        { .u = "alice" },
        { .u = "", .p = "sesame" },
        { .p = "sesame" },
        { .u = "alice", .p = "" },
        { .u = "alice", .t = "00112233445566778899aabbccddeeff" },
        { .u = "alice", .s = "salt" },
        { .t = "00112233445566778899aabbccddeeff", .s = "salt" },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        struct lg_principal pr;
        CHECK_INT(lg_auth_check(f.auth, &rows[i], &pr), LG_EINVAL);
    }
    fx_close(&f);
}

LG_TEST(limit_per_ip)
{
    struct fx f = fx_open("limit_ip", 3);
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "sesame", 0, NULL), 0);
    /* Successes do not count. */
    for (int i = 0; i < 5; i++)
        CHECK_INT(check_token(&f, "alice", "sesame", "salt", "10.0.0.1"), 0);
    /* Three failures from one IP, each for another user name. */
    CHECK_INT(check_pw(&f, "nobody", "x", "10.0.0.1"), LG_EAUTH);
    CHECK_INT(check_token(&f, "ghost", "x", "salt", "10.0.0.1"), LG_EAUTH);
    struct lg_auth_request req = { .api_key = "lg_wrong", .ip = "10.0.0.1" };
    struct lg_principal pr;
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), LG_EAUTH);
    /* Now every way in is closed for that IP, the right password included. */
    CHECK_INT(check_pw(&f, "alice", "sesame", "10.0.0.1"), LG_ELIMIT);
    CHECK_INT(check_token(&f, "alice", "sesame", "salt", "10.0.0.1"), LG_ELIMIT);
    CHECK_INT(lg_auth_check(f.auth, &req, &pr), LG_ELIMIT);
    /* Parameter errors stay what they are. */
    CHECK_INT(check_pw(&f, NULL, "sesame", "10.0.0.1"), LG_EINVAL);
    /* Another IP, and alice herself, are untouched. */
    CHECK_INT(check_pw(&f, "alice", "sesame", "10.0.0.2"), 0);
    CHECK_INT(check_token(&f, "alice", "sesame", "salt", NULL), 0);
    fx_close(&f);
}

LG_TEST(limit_per_user)
{
    struct fx f = fx_open("limit_user", 3);
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "sesame", 0, NULL), 0);
    CHECK_INT(lg_auth_user_create(f.auth, "bob", "hunter2", 0, NULL), 0);
    CHECK_INT(check_pw(&f, "bob", "guess", "10.0.0.1"), LG_EAUTH);
    CHECK_INT(check_token(&f, "bob", "guess", "salt", "10.0.0.2"), LG_EAUTH);
    CHECK_INT(check_token(&f, "bob", "guess", "salt", NULL), LG_EAUTH);
    CHECK_INT(check_pw(&f, "bob", "hunter2", "10.0.0.4"), LG_ELIMIT);
    CHECK_INT(check_token(&f, "bob", "hunter2", "salt", "10.0.0.5"), LG_ELIMIT);
    /* Refusals did not count against the fresh IPs, and alice is not bob. */
    CHECK_INT(check_pw(&f, "alice", "sesame", "10.0.0.4"), 0);
    CHECK_INT(check_token(&f, "alice", "sesame", "salt", "10.0.0.5"), 0);
    fx_close(&f);
}

LG_TEST(ratelimit_clock)
{
    struct lg_ratelimit *rl = lg_ratelimit_new(3, 64);
    int64_t t0 = 1000000;
    for (int i = 0; i < 3; i++) {
        CHECK(!lg_ratelimit_limited(rl, "ip", "a", t0));
        lg_ratelimit_fail(rl, "ip", "a", t0);
    }
    CHECK(lg_ratelimit_limited(rl, "ip", "a", t0));
    CHECK(!lg_ratelimit_limited(rl, "user", "a", t0)); /* scopes are apart */
    CHECK(!lg_ratelimit_limited(rl, "ip", "b", t0));
    CHECK(!lg_ratelimit_limited(rl, "ip", NULL, t0));
    /* One failure's worth comes back every 20 s. */
    CHECK(lg_ratelimit_limited(rl, "ip", "a", t0 + 19999999));
    CHECK(!lg_ratelimit_limited(rl, "ip", "a", t0 + 20000000));
    lg_ratelimit_fail(rl, "ip", "a", t0 + 20000000);
    CHECK(lg_ratelimit_limited(rl, "ip", "a", t0 + 20000000));
    /* Failing while limited (a race) never extends the lockout past a minute. */
    for (int i = 0; i < 100; i++)
        lg_ratelimit_fail(rl, "ip", "a", t0 + 20000000);
    CHECK(!lg_ratelimit_limited(rl, "ip", "a", t0 + 20000000 + 40000000));
    /* Memory is fixed: a flood of clients evicts, and new clients still work. */
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "flood%d", i);
        lg_ratelimit_fail(rl, "ip", id, t0);
    }
    for (int i = 0; i < 3; i++)
        lg_ratelimit_fail(rl, "ip", "late", t0);
    CHECK(lg_ratelimit_limited(rl, "ip", "late", t0));
    lg_ratelimit_free(rl);
}

LG_TEST(pwcache_clock)
{
    struct lg_pwcache *c = lg_pwcache_new(16);
    unsigned char d1[LG_PWCACHE_DIGEST_LEN], d2[LG_PWCACHE_DIGEST_LEN];
    unsigned char d3[LG_PWCACHE_DIGEST_LEN];
    lg_pwcache_digest(c, 1, "$hash-a", "pw", 2, d1);
    lg_pwcache_digest(c, 1, "$hash-b", "pw", 2, d2); /* password changed */
    lg_pwcache_digest(c, 2, "$hash-a", "pw", 2, d3); /* another user */
    CHECK(memcmp(d1, d2, sizeof d1) != 0);
    CHECK(memcmp(d1, d3, sizeof d1) != 0);
    CHECK(!lg_pwcache_hit(c, d1, 0));
    lg_pwcache_put(c, d1, 1, 0);
    lg_pwcache_put(c, d3, 2, 0);
    CHECK(lg_pwcache_hit(c, d1, LG_PWCACHE_TTL_US - 1));
    CHECK(!lg_pwcache_hit(c, d1, LG_PWCACHE_TTL_US));
    CHECK(!lg_pwcache_hit(c, d2, 0));
    lg_pwcache_drop_user(c, 1);
    CHECK(!lg_pwcache_hit(c, d1, 0));
    CHECK(lg_pwcache_hit(c, d3, 0));
    /* A flood stays within the table; the newest entry is always kept. */
    for (int64_t i = 0; i < 1000; i++) {
        lg_pwcache_digest(c, 100 + i, "$h", "pw", 2, d2);
        lg_pwcache_put(c, d2, 100 + i, i);
        CHECK(lg_pwcache_hit(c, d2, i));
    }
    lg_pwcache_free(c);
}

LG_TEST(cache_and_password_change)
{
    struct fx f = fx_open("change", 100);
    struct fx g = f; /* a second server process on the same store and data */
    int r = lg_auth_new(f.store, f.dir, 100, &g.auth);
    CHECK_INT(r, 0);
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "old pw", 0, NULL), 0);
    int64_t t0 = mono_us();
    CHECK_INT(check_pw(&f, "alice", "old pw", NULL), 0);
    int64_t t1 = mono_us();
    CHECK_INT(check_pw(&f, "alice", "old pw", NULL), 0);
    int64_t t2 = mono_us();
    CHECK(t2 - t1 < (t1 - t0) / 4); /* the second check skipped argon2id */
    CHECK_INT(check_pw(&g, "alice", "old pw", NULL), 0);
    /* A web session made with the old password ends with it; bob's stays. */
    CHECK_INT(lg_auth_user_create(f.auth, "bob", "bob pw", 0, NULL), 0);
    struct lg_user ua = { 0 }, ub = { 0 };
    CHECK_INT(lg_store_user_get_by_name(f.store, "alice", &ua), 0);
    CHECK_INT(lg_store_user_get_by_name(f.store, "bob", &ub), 0);
    char wa[LG_WEBSESSION_TOKEN_LEN], wb[LG_WEBSESSION_TOKEN_LEN];
    int64_t now_s = (int64_t)time(NULL), who = 0;
    CHECK_INT(lg_websession_create(f.store, ua.id, now_s, wa), 0);
    CHECK_INT(lg_websession_create(f.store, ub.id, now_s, wb), 0);
    CHECK_INT(lg_auth_password_set(f.auth, "alice", "new pw"), 0);
    CHECK_INT(lg_websession_user(f.store, wa, now_s, &who), LG_EAUTH);
    CHECK_INT(lg_websession_user(f.store, wb, now_s, &who), 0);
    CHECK_INT(who, ub.id);
    lg_user_free(&ua);
    lg_user_free(&ub);
    CHECK_INT(check_pw(&f, "alice", "old pw", NULL), LG_EAUTH);
    CHECK_INT(check_pw(&g, "alice", "old pw", NULL), LG_EAUTH);
    CHECK_INT(check_pw(&f, "alice", "new pw", NULL), 0);
    CHECK_INT(check_pw(&g, "alice", "new pw", NULL), 0);
    CHECK_INT(check_token(&f, "alice", "old pw", "salt", NULL), LG_EAUTH);
    CHECK_INT(check_token(&g, "alice", "new pw", "salt", NULL), 0);
    CHECK_INT(lg_auth_password_set(f.auth, "nobody", "x"), LG_ENOTFOUND);
    CHECK_INT(lg_auth_password_set(f.auth, "alice", ""), LG_EINVAL);
    lg_auth_free(g.auth);
    fx_close(&f);
}

LG_TEST(weak_hash_upgraded)
{
    struct fx f = fx_open("upgrade", 100);
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "sesame", 0, NULL), 0);
    struct lg_user u = { 0 };
    CHECK_INT(lg_store_user_get_by_name(f.store, "alice", &u), 0);
    char weak[crypto_pwhash_STRBYTES];
    CHECK_INT(crypto_pwhash_str_alg(weak, "sesame", 6, crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                    crypto_pwhash_argon2id_MEMLIMIT_MIN,
                                    crypto_pwhash_ALG_ARGON2ID13),
              0);
    CHECK_INT(lg_store_user_set_password(f.store, u.id, weak, u.pass_box, u.pass_box_len), 0);
    lg_user_free(&u);
    CHECK_INT(check_pw(&f, "alice", "sesame", NULL), 0);
    CHECK_INT(lg_store_user_get_by_name(f.store, "alice", &u), 0);
    CHECK(u.pass_hash && strstr(u.pass_hash, "m=65536,t=2,p=1$") != NULL);
    lg_user_free(&u);
    CHECK_INT(check_pw(&f, "alice", "sesame", NULL), 0);
    fx_close(&f);
}

LG_TEST(key_file)
{
    struct fx f = fx_open("keyfile/nested/data", 100);
    char *path = lg_xasprintf("%s/secret.key", f.dir);
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(st.st_size, 32);
    CHECK_INT(lg_auth_user_create(f.auth, "alice", "sesame", 0, NULL), 0);
    char *dir = lg_xstrdup(f.dir);
    fx_close(&f);
    /* After a restart the same key opens the sealed password. */
    f = fx_open("keyfile/nested/data", 100);
    CHECK_INT(check_token(&f, "alice", "sesame", "after-restart", NULL), 0);
    struct lg_auth *a = NULL;
    CHECK_INT(chmod(path, 0644), 0);
    CHECK_INT(lg_auth_new(f.store, dir, 100, &a), LG_EINVAL);
    CHECK_INT(chmod(path, 0640), 0);
    CHECK_INT(lg_auth_new(f.store, dir, 100, &a), LG_EINVAL);
    CHECK_INT(chmod(path, 0600), 0);
    CHECK_INT(truncate(path, 31), 0);
    CHECK_INT(lg_auth_new(f.store, dir, 100, &a), LG_EINVAL);
    CHECK(a == NULL);
    CHECK_INT(lg_auth_new(f.store, "", 100, &a), LG_EINVAL);
    CHECK_INT(lg_auth_new(f.store, dir, 0, &a), LG_EINVAL);
    /* Another key (e.g. a lost file) cannot open the old sealed copy. */
    CHECK_INT(unlink(path), 0);
    CHECK_INT(lg_auth_new(f.store, dir, 100, &a), 0);
    struct fx g = f;
    g.auth = a;
    CHECK_INT(check_token(&g, "alice", "sesame", "salt", NULL), LG_EAUTH);
    CHECK_INT(check_pw(&g, "alice", "sesame", NULL), 0);
    lg_auth_free(a);
    free(dir);
    free(path);
    fx_close(&f);
}

LG_TEST(random_password)
{
    char *a = lg_auth_random_password();
    char *b = lg_auth_random_password();
    CHECK(a && b);
    CHECK_INT(strlen(a), 20);
    CHECK(strcmp(a, b) != 0);
    CHECK(strspn(a, "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ") == 20);
    free(a);
    free(b);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(users), LG_CASE(password_login), LG_CASE(token_login),
             LG_CASE(apikey_login), LG_CASE(missing_params), LG_CASE(limit_per_ip),
             LG_CASE(limit_per_user), LG_CASE(ratelimit_clock), LG_CASE(pwcache_clock),
             LG_CASE(cache_and_password_change), LG_CASE(weak_hash_upgraded), LG_CASE(key_file),
             LG_CASE(random_password))
