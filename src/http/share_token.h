/* SPDX-License-Identifier: MIT */
/*
 * Share tokens: the secret part of a share's public URL (PUBLIC/share/TOKEN).
 * A token is 192 bits from libsodium's CSPRNG written as 32 base64url
 * characters. The store keeps it twice, never in clear: its BLAKE2b-256
 * hash, by which a visit looks the share up (so the lookup time says nothing
 * about the token), and a copy sealed with crypto_secretbox under a key
 * derived from the server key (DATA/secret.key, the key that seals password
 * copies, through crypto_kdf with its own context), so that getShares can
 * show the owner the URL again. A sealed copy is nonce (24 bytes) || box,
 * and opening one checks that it holds the token of the expected hash, so a
 * box moved to another row of the database opens to nothing.
 *
 * Used by the Subsonic share methods (make, seal, open) and the share page
 * (hash). Pure functions apart from the key's loading; thread-safe.
 */
#ifndef LG_HTTP_SHARE_TOKEN_H
#define LG_HTTP_SHARE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/common.h"

enum {
    LG_SHARE_TOKEN_BYTES = 24, /* random bytes in a token */
    LG_SHARE_TOKEN_CHARS = 32, /* its base64url length (no padding) */
    LG_SHARE_TOKEN_LEN = 33,   /* room for a token and its NUL */
    LG_SHARE_KEY_LEN = 32,
};

/* Writes a new random token. Aborts when libsodium cannot initialise. */
void lg_share_token_new(char out[LG_SHARE_TOKEN_LEN]);
/* Whether s has the shape of a token (exactly 32 base64url characters).
 * Anything from a peer is checked with this before use. */
bool lg_share_token_valid(const char *s);
/* The BLAKE2b-256 hash of a token into out. LG_EPARSE when token is not
 * lg_share_token_valid (out untouched). */
int lg_share_token_hash(const char *token, unsigned char out[32]) LG_MUST_CHECK;

/* The sealing key for share tokens, derived from DATA_DIR/secret.key (which
 * lg_auth_new has created; it is created here too when missing). Returns 0
 * or the error of lg_keyfile_load. The caller wipes key after use
 * (sodium_memzero). Cost: one small file read. */
int lg_share_key_load(const char *data_dir, unsigned char key[LG_SHARE_KEY_LEN]) LG_MUST_CHECK;

/* Seals token under key into a new buffer: caller frees *box (free()),
 * *len is its size. LG_EPARSE when token is not valid. */
int lg_share_token_seal(const unsigned char key[LG_SHARE_KEY_LEN], const char *token,
                        unsigned char **box, size_t *len) LG_MUST_CHECK;
/* Opens a sealed token into out and checks that it hashes to hash (the
 * share's stored hash). LG_EAUTH when the box is damaged, was sealed under
 * another key or holds another token; out is written only on success. */
int lg_share_token_open(const unsigned char key[LG_SHARE_KEY_LEN], const unsigned char *box,
                        size_t len, const unsigned char hash[32],
                        char out[LG_SHARE_TOKEN_LEN]) LG_MUST_CHECK;

#endif
