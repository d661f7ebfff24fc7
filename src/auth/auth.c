/* SPDX-License-Identifier: MIT */
/*
 * Users and credentials; see auth.h. This file holds the policy: which
 * credentials a request carries, in which order the checks run (rate limit
 * first, so a limited client never costs an argon2id hash), and what counts as
 * a failure. The mechanisms live beside it: keyfile.c (the secret key),
 * ratelimit.c (failure counting) and pwcache.c (verified-password cache).
 *
 * Plaintext passwords exist only in stack buffers of this file and the
 * caller's request; each buffer is wiped before its function returns. The
 * sealed copy is nonce (24 bytes) || crypto_secretbox_easy(password).
 */
#include "auth/auth.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <sodium.h>

#include "auth/device.h"
#include "auth/keyfile.h"
#include "auth/pwcache.h"
#include "auth/ratelimit.h"
#include "core/log.h"
#include "core/str.h"
#include "store/store.h"

/* argon2id at libsodium's INTERACTIVE level: 64 MiB, 2 passes, 1 lane, above
 * OWASP's minimum of 19 MiB and 2 passes. */
#define PW_OPSLIMIT crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
#define PW_MEMLIMIT crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE
#define PW_ALG      crypto_pwhash_ALG_ARGON2ID13

#define SALT_MAX      256 /* longest Subsonic token salt accepted */
#define APIKEY_MAX    256 /* longest apiKey looked up */
#define APIKEY_PREFIX "lg_"
#define RL_SLOTS      8192
#define CACHE_SLOTS   1024
#define BOX_OVERHEAD  (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)

static const struct lg_log log_auth = { "auth" };

/* Verified against when the user does not exist, so that a wrong name costs
 * as much as a wrong password. Its password was 32 random bytes, thrown away;
 * its parameters must stay those of PW_OPSLIMIT/PW_MEMLIMIT (lg_auth_new
 * checks). */
static const char dummy_hash[crypto_pwhash_STRBYTES] =
    "$argon2id$v=19$m=65536,t=2,p=1$LpBnV1oGuQXMLZk6lFi/Xg$"
    "81QRMB0a0luB2Wl6iinhC1OJQcE3VLlfnfZ2YRXQ/Xs";

struct lg_auth {
    struct lg_store *store; /* borrowed */
    unsigned char key[crypto_secretbox_KEYBYTES];
    struct lg_ratelimit *rl;
    struct lg_pwcache *cache;
    _Atomic uint64_t generation; /* see lg_auth_generation */
};

static int sodium_rc;
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_setup(void)
{
    sodium_rc = sodium_init() < 0 ? -ENOSYS : 0;
}

/* sodium_init once per process; every use of libsodium here comes after it. */
static int sodium_ready(void)
{
    pthread_once(&sodium_once, sodium_setup);
    return sodium_rc;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool given(const char *s)
{
    return s && *s;
}

static bool valid_name(const char *name)
{
    if (!name)
        return false;
    size_t len = strlen(name);
    if (len == 0 || len > LG_AUTH_NAME_MAX || !lg_utf8_valid(name, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static bool valid_password(const char *pw)
{
    return pw && *pw && strlen(pw) <= LG_AUTH_PASSWORD_MAX;
}

/* --- hashing and sealing ------------------------------------------------ */

static int hash_password(const char *pw, size_t len, char out[crypto_pwhash_STRBYTES])
{
    if (crypto_pwhash_str_alg(out, pw, len, PW_OPSLIMIT, PW_MEMLIMIT, PW_ALG) != 0)
        return -ENOMEM; /* argon2id could not get its 64 MiB */
    return 0;
}

/* Caller owns *box (free()). */
static void seal(const struct lg_auth *a, const char *pw, size_t len, unsigned char **box,
                 size_t *box_len)
{
    *box_len = BOX_OVERHEAD + len;
    *box = lg_xmalloc(*box_len);
    randombytes_buf(*box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(*box + crypto_secretbox_NONCEBYTES, (const unsigned char *)pw, len, *box,
                          a->key);
}

/* Opens u's sealed password into out (cap bytes, not NUL-terminated). A box
 * that does not open means another key file or a damaged row: the operator
 * must know, and the client gets LG_EAUTH. */
static int unseal(const struct lg_auth *a, const struct lg_user *u, unsigned char *out, size_t cap,
                  size_t *len)
{
    if (!u->pass_box || u->pass_box_len < BOX_OVERHEAD || u->pass_box_len - BOX_OVERHEAD > cap)
        return LG_EAUTH;
    size_t n = u->pass_box_len - BOX_OVERHEAD;
    const unsigned char *nonce = u->pass_box;
    if (crypto_secretbox_open_easy(out, nonce + crypto_secretbox_NONCEBYTES,
                                   u->pass_box_len - crypto_secretbox_NONCEBYTES, nonce,
                                   a->key) != 0)
    {
        lg_log(&log_auth, LG_LOG_WARN,
               "user %lld: sealed password does not open (secret.key replaced?); token logins "
               "fail until the password is set again",
               (long long)u->id);
        return LG_EAUTH;
    }
    *len = n;
    return 0;
}

/* The argon2id hash and the sealed copy of a new password. Caller owns *box. */
static int make_credentials(const struct lg_auth *a, const char *pw,
                            char hash[crypto_pwhash_STRBYTES], unsigned char **box, size_t *box_len)
{
    size_t len = strlen(pw);
    int rc = hash_password(pw, len, hash);
    if (rc < 0)
        return rc;
    seal(a, pw, len, box, box_len);
    return 0;
}

/* --- lifecycle and administration --------------------------------------- */

int lg_auth_new(struct lg_store *s, const char *data_dir, int64_t failures_per_min,
                struct lg_auth **out)
{
    if (!s || failures_per_min < 1)
        return LG_EINVAL;
    int rc = sodium_ready();
    if (rc < 0)
        return rc;
    lg_assert(crypto_pwhash_str_needs_rehash(dummy_hash, PW_OPSLIMIT, PW_MEMLIMIT) == 0);
    struct lg_auth *a = lg_xcalloc(1, sizeof *a);
    rc = lg_keyfile_load(data_dir, a->key);
    if (rc < 0) {
        lg_auth_free(a);
        return rc;
    }
    a->store = s;
    a->rl = lg_ratelimit_new(failures_per_min, RL_SLOTS);
    a->cache = lg_pwcache_new(CACHE_SLOTS);
    *out = a;
    return 0;
}

void lg_auth_free(struct lg_auth *a)
{
    if (!a)
        return;
    lg_ratelimit_free(a->rl);
    lg_pwcache_free(a->cache);
    sodium_memzero(a->key, sizeof a->key);
    free(a);
}

int lg_auth_user_create(struct lg_auth *a, const char *name, const char *password, int is_admin,
                        int64_t *id_out)
{
    if (!valid_name(name) || !valid_password(password))
        return LG_EINVAL;
    /* Refuse a taken name before spending an argon2id hash on it; the store
     * still has the last word when two creations race. */
    struct lg_user old = { 0 };
    int rc = lg_store_user_get_by_name(a->store, name, &old);
    if (rc == 0) {
        lg_user_free(&old);
        return LG_EEXIST;
    }
    if (rc != LG_ENOTFOUND)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    struct lg_user u = { .is_admin = !!is_admin, .created_at = (int64_t)time(NULL) };
    rc = make_credentials(a, password, hash, &u.pass_box, &u.pass_box_len);
    if (rc < 0)
        return rc;
    u.name = lg_xstrdup(name);
    u.pass_hash = hash;
    int64_t id;
    rc = lg_store_user_add(a->store, &u, &id);
    free(u.name);
    free(u.pass_box);
    if (rc == 0 && id_out)
        *id_out = id;
    return rc;
}

/* A new password ends every sign-in made before it: the user's device
 * sessions (their tokens revoked) and web sessions, so that someone who took
 * one is locked out with the old password. API keys stay: each was made on
 * purpose, and is revoked on its own. */
static int end_sign_ins(struct lg_auth *a, int64_t user_id)
{
    struct lg_device d;
    lg_device_init(&d, a->store);
    int rc = lg_device_end_all(&d, user_id);
    if (rc == 0)
        rc = lg_store_websession_delete_user(a->store, user_id);
    if (rc < 0)
        lg_log(&log_auth, LG_LOG_ERROR, "ending the sign-ins of user %lld: %s", (long long)user_id,
               lg_strerror(rc));
    return rc;
}

int lg_auth_password_set(struct lg_auth *a, const char *name, const char *password)
{
    if (!given(name) || !valid_password(password))
        return LG_EINVAL;
    struct lg_user u = { 0 };
    int rc = lg_store_user_get_by_name(a->store, name, &u);
    if (rc < 0)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    unsigned char *box = NULL;
    size_t box_len = 0;
    rc = make_credentials(a, password, hash, &box, &box_len);
    /* Sign-ins end first: when that fails the password stays as it was, and
     * the caller's error is true. */
    if (rc == 0)
        rc = end_sign_ins(a, u.id);
    if (rc == 0)
        rc = lg_store_user_set_password(a->store, u.id, hash, box, box_len);
    if (rc == 0)
        lg_auth_user_changed(a, u.id);
    free(box);
    lg_user_free(&u);
    return rc;
}

int lg_auth_user_delete(struct lg_auth *a, const char *name)
{
    if (!given(name))
        return LG_EINVAL;
    struct lg_user u = { 0 };
    int rc = lg_store_user_get_by_name(a->store, name, &u);
    if (rc < 0)
        return rc;
    rc = lg_store_user_delete(a->store, u.id);
    if (rc == 0)
        lg_auth_user_changed(a, u.id);
    lg_user_free(&u);
    return rc;
}

void lg_auth_user_changed(struct lg_auth *a, int64_t user_id)
{
    lg_pwcache_drop_user(a->cache, user_id);
    atomic_fetch_add(&a->generation, 1);
}

uint64_t lg_auth_generation(struct lg_auth *a)
{
    return atomic_load(&a->generation);
}

int lg_auth_user_may(const struct lg_principal *actor, unsigned actor_roles, enum lg_user_op op,
                     const char *target)
{
    bool self = target && strcmp(actor->name, target) == 0;
    if (op == LG_USER_DELETE && self)
        return LG_EINVAL;
    if (actor->is_admin)
        return 0;
    if (op == LG_USER_GET && self)
        return 0;
    if (op == LG_USER_PASSWORD && self && (actor_roles & LG_ROLE_SETTINGS))
        return 0;
    return LG_EDENIED;
}

static void apikey_hash(const char *key, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)key, strlen(key), NULL, 0);
}

int lg_auth_apikey_create(struct lg_auth *a, const char *name, char **key_out)
{
    if (!given(name))
        return LG_EINVAL;
    struct lg_user u = { 0 };
    int rc = lg_store_user_get_by_name(a->store, name, &u);
    if (rc < 0)
        return rc;
    unsigned char raw[32];
    char key[sizeof APIKEY_PREFIX - 1 +
             sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    randombytes_buf(raw, sizeof raw);
    memcpy(key, APIKEY_PREFIX, sizeof APIKEY_PREFIX - 1);
    sodium_bin2base64(key + sizeof APIKEY_PREFIX - 1, sizeof key - (sizeof APIKEY_PREFIX - 1), raw,
                      sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    unsigned char h[32];
    apikey_hash(key, h);
    rc = lg_store_apikey_add(a->store, u.id, h, "");
    if (rc == 0)
        *key_out = lg_xstrdup(key);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(key, sizeof key);
    lg_user_free(&u);
    return rc;
}

char *lg_auth_random_password(void)
{
    /* No 0/O, 1/l/I: read aloud or copied by hand without mistakes. */
    static const char alphabet[] = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    if (sodium_ready() < 0)
        return NULL;
    char *pw = lg_xmalloc(21);
    for (int i = 0; i < 20; i++)
        pw[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    pw[20] = '\0';
    return pw;
}

/* --- checking requests --------------------------------------------------- */

static void fill_principal(struct lg_principal *out, const struct lg_user *u)
{
    out->user_id = u->id;
    snprintf(out->name, sizeof out->name, "%s", u->name ? u->name : "");
    out->is_admin = u->is_admin;
    out->roles = u->is_admin ? LG_ROLES_ALL : u->roles;
}

/* LG_ELIMIT when the client's IP or the named user is out of allowance. */
static int throttle(struct lg_auth *a, const struct lg_auth_request *req)
{
    int64_t now = now_us();
    if (lg_ratelimit_limited(a->rl, "ip", req->ip, now) ||
        lg_ratelimit_limited(a->rl, "user", req->u, now))
    {
        lg_log(&log_auth, LG_LOG_DEBUG, "login refused: too many failures (client %s)",
               req->ip ? req->ip : "unknown");
        return LG_ELIMIT;
    }
    return 0;
}

/* Counts a wrong credential against the IP and the user name; passes rc on.
 * The failure that closes the door is logged once at info, the rest at debug
 * (an attack must not flood the log). User names are peer input: not logged. */
static int settle(struct lg_auth *a, const struct lg_auth_request *req, int rc)
{
    if (rc != LG_EAUTH)
        return rc;
    const char *ip = req->ip ? req->ip : "unknown";
    int64_t now = now_us();
    lg_ratelimit_fail(a->rl, "ip", req->ip, now);
    lg_ratelimit_fail(a->rl, "user", req->u, now);
    if (lg_ratelimit_limited(a->rl, "ip", req->ip, now))
        lg_log(&log_auth, LG_LOG_INFO, "client %s: failed-login limit reached", ip);
    else if (lg_ratelimit_limited(a->rl, "user", req->u, now))
        lg_log(&log_auth, LG_LOG_INFO, "client %s: failed-login limit of a user reached", ip);
    else
        lg_log(&log_auth, LG_LOG_DEBUG, "client %s: failed login", ip);
    return rc;
}

/* Plain or "enc:" + hex into pw (cap bytes, NUL-terminated). A password too
 * long or holding NUL cannot be anyone's: LG_EAUTH, a failed login. */
static int decode_password(const char *p, char *pw, size_t cap, size_t *len)
{
    if (strncmp(p, "enc:", 4) != 0) {
        size_t n = strlen(p);
        if (n >= cap)
            return LG_EAUTH;
        memcpy(pw, p, n + 1);
        *len = n;
        return 0;
    }
    int n = lg_hex_decode(pw, cap - 1, p + 4);
    if (n == LG_ETOOBIG)
        return LG_EAUTH;
    if (n < 0)
        return LG_EPARSE;
    pw[n] = '\0';
    if (n == 0 || memchr(pw, '\0', (size_t)n))
        return LG_EAUTH;
    *len = (size_t)n;
    return 0;
}

/* Re-hashes a password whose stored hash is weaker than today's parameters;
 * u->pass_hash is replaced on success. Failure only delays the upgrade. */
static void upgrade_hash(struct lg_auth *a, struct lg_user *u, const char *pw, size_t len)
{
    if (crypto_pwhash_str_needs_rehash(u->pass_hash, PW_OPSLIMIT, PW_MEMLIMIT) == 0)
        return;
    char hash[crypto_pwhash_STRBYTES];
    if (hash_password(pw, len, hash) < 0 ||
        lg_store_user_set_password(a->store, u->id, hash, u->pass_box, u->pass_box_len) < 0)
    {
        lg_log(&log_auth, LG_LOG_WARN, "user %lld: could not upgrade the password hash",
               (long long)u->id);
        return;
    }
    free(u->pass_hash);
    u->pass_hash = lg_xstrdup(hash);
    lg_log(&log_auth, LG_LOG_INFO, "user %lld: password hash upgraded", (long long)u->id);
}

/* argon2id against u's hash, unless the cache says it matched lately. */
static int verify_user_password(struct lg_auth *a, struct lg_user *u, const char *pw, size_t len)
{
    if (!u->pass_hash)
        return LG_EAUTH;
    unsigned char d[LG_PWCACHE_DIGEST_LEN];
    lg_pwcache_digest(a->cache, u->id, u->pass_hash, pw, len, d);
    if (lg_pwcache_hit(a->cache, d, now_us()))
        return 0;
    if (crypto_pwhash_str_verify(u->pass_hash, pw, len) != 0)
        return LG_EAUTH;
    upgrade_hash(a, u, pw, len);
    lg_pwcache_digest(a->cache, u->id, u->pass_hash, pw, len, d);
    lg_pwcache_put(a->cache, d, u->id, now_us());
    sodium_memzero(d, sizeof d);
    return 0;
}

static int verify_password(struct lg_auth *a, const char *name, const char *pw, size_t len,
                           struct lg_principal *out)
{
    struct lg_user u = { 0 };
    int rc = lg_store_user_get_by_name(a->store, name, &u);
    if (rc == LG_ENOTFOUND) {
        /* As slow as a wrong password, so timing does not reveal who exists.
         * Nobody knows the dummy's password: the result does not matter. */
        int burned = crypto_pwhash_str_verify(dummy_hash, pw, len);
        (void)burned;
        return LG_EAUTH;
    }
    if (rc < 0)
        return rc;
    rc = verify_user_password(a, &u, pw, len);
    if (rc == 0)
        fill_principal(out, &u);
    lg_user_free(&u);
    return rc;
}

static int check_password(struct lg_auth *a, const struct lg_auth_request *req,
                          struct lg_principal *out)
{
    char pw[LG_AUTH_PASSWORD_MAX + 1];
    size_t len = 0;
    int rc = throttle(a, req);
    if (rc == 0)
        rc = decode_password(req->p, pw, sizeof pw, &len);
    if (rc == 0)
        rc = verify_password(a, req->u, pw, len, out);
    sodium_memzero(pw, sizeof pw);
    return settle(a, req, rc);
}

/* md5(password + salt) against t, with the password unsealed for the moment. */
static int verify_token(struct lg_auth *a, const struct lg_auth_request *req,
                        struct lg_principal *out)
{
    unsigned char want[16];
    size_t salt_len = strlen(req->s);
    if (salt_len > SALT_MAX || lg_hex_decode(want, sizeof want, req->t) != (int)sizeof want)
        return LG_EAUTH;
    struct lg_user u = { 0 };
    int rc = lg_store_user_get_by_name(a->store, req->u, &u);
    if (rc < 0)
        return rc == LG_ENOTFOUND ? LG_EAUTH : rc;
    unsigned char buf[LG_AUTH_PASSWORD_MAX + SALT_MAX];
    size_t len = 0;
    rc = unseal(a, &u, buf, LG_AUTH_PASSWORD_MAX, &len);
    if (rc == 0) {
        unsigned char got[16];
        memcpy(buf + len, req->s, salt_len);
        lg_md5(buf, len + salt_len, got);
        rc = sodium_memcmp(got, want, sizeof got) == 0 ? 0 : LG_EAUTH;
    }
    sodium_memzero(buf, sizeof buf);
    if (rc == 0)
        fill_principal(out, &u);
    lg_user_free(&u);
    return rc;
}

static int check_token(struct lg_auth *a, const struct lg_auth_request *req,
                       struct lg_principal *out)
{
    int rc = throttle(a, req);
    if (rc == 0)
        rc = verify_token(a, req, out);
    return settle(a, req, rc);
}

static int verify_apikey(struct lg_auth *a, const char *key, struct lg_principal *out)
{
    if (strlen(key) > APIKEY_MAX)
        return LG_EAUTH;
    unsigned char h[32];
    apikey_hash(key, h);
    int64_t user_id;
    int rc = lg_store_apikey_find(a->store, h, &user_id);
    if (rc < 0)
        return rc == LG_ENOTFOUND ? LG_EAUTH : rc;
    struct lg_user u = { 0 };
    rc = lg_store_user_get(a->store, user_id, &u);
    if (rc < 0)
        return rc == LG_ENOTFOUND ? LG_EAUTH : rc;
    fill_principal(out, &u);
    lg_user_free(&u);
    return 0;
}

static int check_apikey(struct lg_auth *a, const struct lg_auth_request *req,
                        struct lg_principal *out)
{
    int rc = throttle(a, req);
    if (rc == 0)
        rc = verify_apikey(a, req->api_key, out);
    return settle(a, req, rc);
}

int lg_auth_check(struct lg_auth *a, const struct lg_auth_request *req, struct lg_principal *out)
{
    if (given(req->api_key)) {
        if (given(req->u))
            return LG_EPARSE;
        return check_apikey(a, req, out);
    }
    if (!given(req->u))
        return LG_EINVAL;
    if (given(req->p))
        return check_password(a, req, out);
    if (given(req->t) && given(req->s))
        return check_token(a, req, out);
    return LG_EINVAL;
}
