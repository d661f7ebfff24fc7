/* SPDX-License-Identifier: MIT */
/*
 * Browser sign-in sessions (see websession.h): token generation, hashing
 * before the store sees a token, expiry, and the derived CSRF token.
 */
#include "auth/websession.h"

#include <string.h>

#include <sodium.h>

#include "store/store.h"

#define TOKEN_CHARS 43 /* base64url of 32 bytes, unpadded */

static const char csrf_label[] = "legato device page csrf v1";

/* Only tokens of the right shape reach the hash (and the store). */
static bool token_ok(const char *token)
{
    if (!token || strlen(token) != TOKEN_CHARS)
        return false;
    for (const char *p = token; *p; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

static void hash_token(const char *token, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)token, strlen(token), NULL, 0);
}

static void b64(const unsigned char raw[32], char out[LG_WEBSESSION_TOKEN_LEN])
{
    sodium_bin2base64(out, LG_WEBSESSION_TOKEN_LEN, raw, 32,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int lg_websession_create(struct lg_store *s, int64_t user_id, int64_t now_s,
                         char token[LG_WEBSESSION_TOKEN_LEN])
{
    unsigned char raw[32], h[32];
    randombytes_buf(raw, sizeof(raw));
    b64(raw, token);
    sodium_memzero(raw, sizeof(raw));
    hash_token(token, h);
    return lg_store_websession_add(s, h, user_id, now_s, now_s + LG_WEBSESSION_TTL_S);
}

int lg_websession_user(struct lg_store *s, const char *token, int64_t now_s, int64_t *user_id)
{
    if (!token_ok(token))
        return LG_EAUTH;
    unsigned char h[32];
    hash_token(token, h);
    int64_t uid = 0, expires = 0;
    int rc = lg_store_websession_get(s, h, &uid, &expires);
    if (rc == LG_ENOTFOUND)
        return LG_EAUTH;
    if (rc < 0)
        return rc;
    if (now_s >= expires)
        return LG_EAUTH;
    *user_id = uid;
    return 0;
}

int lg_websession_delete(struct lg_store *s, const char *token)
{
    if (!token_ok(token))
        return 0;
    unsigned char h[32];
    hash_token(token, h);
    return lg_store_websession_delete(s, h);
}

void lg_websession_csrf(const char *token, char out[LG_WEBSESSION_TOKEN_LEN])
{
    unsigned char mac[32];
    const char *t = token ? token : "";
    size_t klen = strlen(t);
    if (klen > crypto_generichash_KEYBYTES_MAX)
        klen = crypto_generichash_KEYBYTES_MAX;
    crypto_generichash(mac, sizeof(mac), (const unsigned char *)csrf_label, sizeof(csrf_label) - 1,
                       (const unsigned char *)t, klen);
    b64(mac, out);
}

bool lg_websession_csrf_ok(const char *token, const char *csrf)
{
    if (!token_ok(token) || !csrf || strlen(csrf) != TOKEN_CHARS)
        return false;
    char want[LG_WEBSESSION_TOKEN_LEN];
    lg_websession_csrf(token, want);
    return sodium_memcmp(want, csrf, TOKEN_CHARS) == 0;
}
