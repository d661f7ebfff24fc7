/* SPDX-License-Identifier: MIT */
/*
 * Users and credentials. Passwords are hashed with argon2id (libsodium,
 * crypto_pwhash_str at OPSLIMIT/MEMLIMIT_INTERACTIVE or stronger, above
 * OWASP's minimum). The Subsonic token scheme (t = md5(password + s)) needs
 * the password itself, so a copy is kept sealed with crypto_secretbox under a
 * key in DATA_DIR/secret.key (mode 0600). API keys (OpenSubsonic apiKey) are
 * random, shown once, and stored as hashes only. Every comparison of secrets
 * is constant-time. Failed logins are rate-limited per IP and per user.
 *
 * Checking credentials on each request is cheap: argon2id runs only the first
 * time a given user/password pair is seen; the result is then cached (keyed by
 * a keyed hash, never the password) for a few minutes.
 *
 * A request carries one of three kinds of credentials: u + p (the password,
 * plain or "enc:" + hex), u + t + s (t = hex md5(password + s)) or apiKey. A
 * field counts as given when it is not NULL and not empty.
 *
 * Rate limiting: each wrong credential (LG_EAUTH) counts one failure against
 * the client's IP and, when u was given, against that user name (whether or
 * not the user exists). Once either has failures_per_min failures within the
 * last minute, lg_auth_check answers LG_ELIMIT without looking at the
 * credentials, so the correct password is refused too and no argon2id runs;
 * the allowance refills continuously (one failure every 60 / failures_per_min
 * seconds). Successful logins and refused (LG_ELIMIT) attempts do not count.
 * The tables are fixed in size; under a flood of distinct clients the entries
 * nearest to expiry are forgotten first.
 *
 * All functions are thread-safe. The store must outlive the authenticator.
 */
#ifndef LG_AUTH_AUTH_H
#define LG_AUTH_AUTH_H

#include "core/common.h"

struct lg_store;
struct lg_auth;
struct lg_principal;

/* Longest user name and password accepted, in bytes. Names are UTF-8 without
 * control characters; passwords are any bytes but NUL. */
#define LG_AUTH_NAME_MAX     127
#define LG_AUTH_PASSWORD_MAX 1024

/* Creates the authenticator; loads or creates DATA_DIR/secret.key.
 * failures_per_min: failed logins allowed per minute per IP and per user (>= 1).
 * data_dir is created (mode 0700) when missing; the key file is created
 * atomically with mode 0600. Errors: LG_EINVAL for a bad argument, or for a
 * key file that is not a regular file of exactly 32 bytes or that group or
 * others may access (logged under "auth"; the file is never repaired), -errno
 * when the folder or file cannot be created or read. The store is borrowed.
 * Caller owns *out (lg_auth_free). */
int lg_auth_new(struct lg_store *s, const char *data_dir, int64_t failures_per_min,
                struct lg_auth **out) LG_MUST_CHECK;
/* Wipes the keys and frees. NULL does nothing. */
void lg_auth_free(struct lg_auth *a);

/* Creates a user. LG_EEXIST when the name is taken, LG_EINVAL for an empty or
 * over-long name or password, LG_ESTORE. id_out may be NULL. Costs one
 * argon2id hash (64 MiB, about 0.1 s). */
int lg_auth_user_create(struct lg_auth *a, const char *name, const char *password, int is_admin,
                        int64_t *id_out) LG_MUST_CHECK;
/* Changes the password of user name (new argon2id hash and sealed copy). The
 * old password stops working at once, cached verifications included, on this
 * process and (through the changed hash) on every other one. LG_ENOTFOUND,
 * LG_EINVAL for an empty or over-long password, LG_ESTORE. */
int lg_auth_password_set(struct lg_auth *a, const char *name, const char *password) LG_MUST_CHECK;
/* Creates an API key for user name: "lg_" and 43 base64url characters (256
 * random bits). Only its hash is stored, so this is the one chance to show it.
 * LG_ENOTFOUND, LG_ESTORE. Caller owns *key_out (free()). */
int lg_auth_apikey_create(struct lg_auth *a, const char *name, char **key_out) LG_MUST_CHECK;
/* A random password of 20 characters from an unambiguous alphabet (about 116
 * bits); caller frees. NULL only when libsodium cannot initialise. */
char *lg_auth_random_password(void);

/* Deletes user name and everything of theirs (the store cascades), and
 * forgets their cached logins. LG_ENOTFOUND, LG_ESTORE. */
int lg_auth_user_delete(struct lg_auth *a, const char *name) LG_MUST_CHECK;
/* Says that the rights of user_id (admin flag, roles) changed: cached logins
 * of the user are forgotten and the generation moves on. */
void lg_auth_user_changed(struct lg_auth *a, int64_t user_id);
/* A counter that moves whenever a password changes, a user is deleted or a
 * user's rights change (after the store has the change). Whoever remembers
 * accepted credentials outside this module (the HTTP dispatcher, per
 * connection) must stop trusting what it remembered under another value.
 * Thread-safe, lock-free. */
uint64_t lg_auth_generation(struct lg_auth *a);

/* What one user may do to the accounts (the Subsonic user methods). */
enum lg_user_op {
    LG_USER_GET,      /* read one user's profile */
    LG_USER_LIST,     /* read every profile */
    LG_USER_CREATE,   /* make a user */
    LG_USER_UPDATE,   /* change a user's e-mail, roles, limits (and password) */
    LG_USER_DELETE,   /* delete a user */
    LG_USER_PASSWORD, /* change a user's password */
};

/* Whether actor, who holds actor_roles (LG_ROLE_* bits of store.h), may do
 * op to the user named target (ignored for LIST and CREATE). 0 when allowed;
 * LG_EDENIED when not; LG_EINVAL for deleting oneself, which nobody may do.
 * Administrators may do everything else; other users may read their own
 * profile and, with the settings role, change their own password. Pure. */
int lg_auth_user_may(const struct lg_principal *actor, unsigned actor_roles, enum lg_user_op op,
                     const char *target) LG_MUST_CHECK;

/* What a request carries. Fields are NULL when absent. */
struct lg_auth_request {
    const char *u;       /* user name */
    const char *p;       /* password, plain or "enc:" + hex */
    const char *t;       /* md5(password + s), hex */
    const char *s;       /* salt */
    const char *api_key; /* OpenSubsonic apiKey */
    const char *ip;      /* client address, for rate limiting */
};

struct lg_principal {
    int64_t user_id;
    char name[128];
    int is_admin;
    unsigned roles; /* LG_ROLE_* bits (store.h); all of them for an admin */
};

/* Checks Subsonic credentials. Returns 0 and fills *out, or:
 * LG_EINVAL   required parameters missing (Subsonic error 10),
 * LG_EPARSE   both apiKey and u given, or bad enc: hex (error 10 or 43),
 * LG_EAUTH    wrong user or password (error 40) or unknown API key (44),
 * LG_ELIMIT   too many failed attempts from this IP or for this user,
 * LG_ESTORE   the store failed (not counted as a failed login).
 * When both p and t are given, p is checked. req->ip may be NULL (no per-IP
 * limit). Cost: u + p runs argon2id the first time a user/password pair is
 * seen, then hits a cache for 5 minutes; u + t + s and apiKey cost a store
 * lookup and a few microseconds. */
int lg_auth_check(struct lg_auth *a, const struct lg_auth_request *req,
                  struct lg_principal *out) LG_MUST_CHECK;

#endif
