/* SPDX-License-Identifier: MIT */
/*
 * String and path helpers: strict integer parsing, hex, UTF-8 validation,
 * path safety for names that come from peers, and MD5 (needed by the Subsonic
 * token scheme, md5(password + salt); never used for anything secret at rest).
 * All functions are pure and thread-safe.
 */
#ifndef LG_CORE_STR_H
#define LG_CORE_STR_H

#include <stdbool.h>

#include "core/common.h"

/* Parses a whole string as a decimal integer in [min, max]. No sign for
 * unsigned ranges, no leading spaces, no trailing garbage. On success writes
 * *out and returns 0; LG_EPARSE or LG_ETOOBIG (out of range) otherwise. */
int lg_str_to_i64(const char *s, int64_t min, int64_t max, int64_t *out) LG_MUST_CHECK;

/* Writes v in decimal (lg_fmt_u64, lg_fmt_i64: a '-' first when negative) or
 * in lowercase hex without leading zeros (lg_fmt_hex64) at out, with a NUL
 * after it, and returns the number of characters. out must have room for
 * LG_FMT_INT_MAX bytes. For hot paths, where printf's parsing costs more than
 * the conversion. */
enum { LG_FMT_INT_MAX = 21 }; /* "-9223372036854775808" and its NUL */
size_t lg_fmt_u64(char *out, uint64_t v);
size_t lg_fmt_i64(char *out, int64_t v);
size_t lg_fmt_hex64(char *out, uint64_t v);

/* Writes 2*len lowercase hex digits and a NUL into out (size >= 2*len+1). */
void lg_hex_encode(char *out, const void *p, size_t len);
/* Decodes a string of hex digits (either case) into out. Returns the number
 * of bytes written, LG_EPARSE on an odd length or a non-hex digit, LG_ETOOBIG
 * when the result would not fit in cap bytes. */
int lg_hex_decode(void *out, size_t cap, const char *hex) LG_MUST_CHECK;

/* The value of a hex digit (either case), or -1. */
int lg_hex_digit(char c);
/* Decodes %XX escapes in place (and '+' as a space when plus_is_space, as in
 * form and query encoding); a '%' not followed by two hex digits stays as it
 * is. Returns the new length. A decoded %00 ends the string early. */
size_t lg_percent_decode(char *s, bool plus_is_space);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool lg_utf8_valid(const char *s, size_t len);
/* Copies s into a new string with invalid UTF-8 sequences replaced by U+FFFD.
 * Caller frees. */
char *lg_utf8_sanitize(const char *s, size_t len);

/* True when rel is a safe relative path below a root: not empty, not
 * absolute, no "." or ".." segment, no empty segment, no NUL, no backslash. */
bool lg_path_rel_safe(const char *rel);

/* ASCII case-insensitive comparison; returns like strcmp. Inline: a request
 * looks its parameters up with it a hundred times. */
static inline int lg_str_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        x += x >= 'A' && x <= 'Z' ? 32 : 0;
        y += y >= 'A' && y <= 'Z' ? 32 : 0;
        if (x != y || !x)
            return x - y;
    }
}
bool lg_str_has_suffix_ci(const char *s, const char *suffix);

/* MD5 of len bytes into 16 bytes of out. */
void lg_md5(const void *p, size_t len, unsigned char out[16]);

#endif
