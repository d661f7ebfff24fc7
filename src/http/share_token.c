/* SPDX-License-Identifier: MIT */
/*
 * Share tokens (see share_token.h). The sealing key is not the server key
 * itself but a subkey derived from it with crypto_kdf under a context of its
 * own, so a share box and a password box can never be confused for one
 * another. Every buffer that held a key or a token in clear is wiped.
 */
#include "http/share_token.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/keyfile.h"

#define BOX_OVERHEAD (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
/* crypto_kdf contexts are exactly 8 bytes. */
#define KDF_CONTEXT "lgshare1"
#define KDF_ID      1

void lg_share_token_new(char out[LG_SHARE_TOKEN_LEN])
{
    lg_assert(sodium_init() >= 0);
    unsigned char raw[LG_SHARE_TOKEN_BYTES];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, LG_SHARE_TOKEN_LEN, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

bool lg_share_token_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    return n == LG_SHARE_TOKEN_CHARS && s[n] == '\0';
}

int lg_share_token_hash(const char *token, unsigned char out[32])
{
    if (!lg_share_token_valid(token))
        return LG_EPARSE;
    crypto_generichash(out, 32, (const unsigned char *)token, LG_SHARE_TOKEN_CHARS, NULL, 0);
    return 0;
}

int lg_share_key_load(const char *data_dir, unsigned char key[LG_SHARE_KEY_LEN])
{
    if (sodium_init() < 0)
        return LG_EINVAL;
    unsigned char master[LG_KEYFILE_LEN];
    int rc = lg_keyfile_load(data_dir, master);
    if (rc == 0)
        crypto_kdf_derive_from_key(key, LG_SHARE_KEY_LEN, KDF_ID, KDF_CONTEXT, master);
    sodium_memzero(master, sizeof(master));
    return rc;
}

int lg_share_token_seal(const unsigned char key[LG_SHARE_KEY_LEN], const char *token,
                        unsigned char **box, size_t *len)
{
    if (!lg_share_token_valid(token))
        return LG_EPARSE;
    size_t n = BOX_OVERHEAD + LG_SHARE_TOKEN_CHARS;
    unsigned char *b = lg_xmalloc(n);
    randombytes_buf(b, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES, (const unsigned char *)token,
                          LG_SHARE_TOKEN_CHARS, b, key);
    *box = b;
    *len = n;
    return 0;
}

int lg_share_token_open(const unsigned char key[LG_SHARE_KEY_LEN], const unsigned char *box,
                        size_t len, const unsigned char hash[32], char out[LG_SHARE_TOKEN_LEN])
{
    if (!box || len != BOX_OVERHEAD + LG_SHARE_TOKEN_CHARS)
        return LG_EAUTH;
    char token[LG_SHARE_TOKEN_LEN];
    if (crypto_secretbox_open_easy((unsigned char *)token, box + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, box, key) != 0)
        return LG_EAUTH;
    token[LG_SHARE_TOKEN_CHARS] = '\0';
    unsigned char h[32];
    int rc = lg_share_token_hash(token, h);
    if (rc == 0 && sodium_memcmp(h, hash, sizeof(h)) == 0)
        memcpy(out, token, LG_SHARE_TOKEN_LEN);
    else
        rc = LG_EAUTH;
    sodium_memzero(token, sizeof(token));
    return rc;
}
