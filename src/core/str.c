/* SPDX-License-Identifier: MIT */
/*
 * String helpers. MD5 follows RFC 1321; it exists only because the Subsonic
 * token scheme requires it.
 */
#include "core/str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int lg_str_to_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return LG_EPARSE;
    const char *p = s;
    bool neg = false;
    if (*p == '-') {
        if (min >= 0)
            return LG_EPARSE;
        neg = true;
        p++;
    }
    if (*p < '0' || *p > '9')
        return LG_EPARSE;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return LG_EPARSE;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return LG_ETOOBIG;
        v = v * 10 + d;
    }
    int64_t r;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return LG_ETOOBIG;
        r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return LG_ETOOBIG;
        r = (int64_t)v;
    }
    if (r < min || r > max)
        return LG_ETOOBIG;
    *out = r;
    return 0;
}

/* Writes v's hexadecimal digits at out, most significant first. */
static size_t fmt_hex(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[LG_FMT_INT_MAX];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

/* v in decimal, two digits a step (a division by 100 is a multiplication):
 * a range request formats five numbers. */
static size_t fmt_dec(char *out, uint64_t v)
{
    static const char pairs[] = "000102030405060708091011121314151617181920212223242526272829303132"
                                "3334353637383940414243444546474849"
                                "505152535455565758596061626364656667686970717273747576777879808182"
                                "8384858687888990919293949596979899";
    char tmp[LG_FMT_INT_MAX];
    size_t i = sizeof(tmp);
    while (v >= 100) {
        size_t d = (size_t)(v % 100) * 2;
        v /= 100;
        tmp[--i] = pairs[d + 1];
        tmp[--i] = pairs[d];
    }
    if (v >= 10) {
        tmp[--i] = pairs[v * 2 + 1];
        tmp[--i] = pairs[v * 2];
    } else {
        tmp[--i] = (char)('0' + v);
    }
    size_t n = sizeof(tmp) - i;
    memcpy(out, tmp + i, n);
    out[n] = '\0';
    return n;
}

size_t lg_fmt_u64(char *out, uint64_t v)
{
    return fmt_dec(out, v);
}

size_t lg_fmt_i64(char *out, int64_t v)
{
    if (v >= 0)
        return fmt_dec(out, (uint64_t)v);
    out[0] = '-';
    /* -(v + 1) + 1 has no overflow, INT64_MIN included. */
    return 1 + fmt_dec(out + 1, (uint64_t)(-(v + 1)) + 1);
}

size_t lg_fmt_hex64(char *out, uint64_t v)
{
    return fmt_hex(out, v);
}

void lg_hex_encode(char *out, const void *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * len] = '\0';
}

int lg_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int lg_hex_decode(void *out, size_t cap, const char *hex)
{
    size_t n = strlen(hex);
    if (n % 2)
        return LG_EPARSE;
    if (n / 2 > cap)
        return LG_ETOOBIG;
    unsigned char *o = out;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = lg_hex_digit(hex[2 * i]);
        int lo = lg_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return LG_EPARSE;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return (int)(n / 2);
}

size_t lg_percent_decode(char *s, bool plus_is_space)
{
    /* Most names and values have nothing to decode: skip to the first byte
     * that may change (strcspn goes many bytes a step). */
    size_t plain = strcspn(s, plus_is_space ? "%+" : "%");
    if (!s[plain])
        return plain;
    char *o = s + plain;
    for (const char *p = o; *p; p++) {
        int hi = *p == '%' ? lg_hex_digit(p[1]) : -1;
        int lo = hi >= 0 ? lg_hex_digit(p[2]) : -1;
        if (lo >= 0) {
            *o++ = (char)(hi << 4 | lo);
            p += 2;
        } else {
            *o++ = *p == '+' && plus_is_space ? ' ' : *p;
        }
    }
    *o = '\0';
    return (size_t)(o - s);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    unsigned cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool lg_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

char *lg_utf8_sanitize(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    /* Each invalid byte becomes three bytes (U+FFFD). */
    char *out = lg_xmalloc(len * 3 + 1);
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i);
        if (n && !(n == 1 && p[i] == 0)) {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        } else if (p[i] == 0) {
            break;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

bool lg_path_rel_safe(const char *rel)
{
    if (!rel || !*rel || rel[0] == '/')
        return false;
    const char *seg = rel;
    for (const char *p = rel;; p++) {
        if (*p == '\\')
            return false;
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - seg);
            if (n == 0)
                return false;
            if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            seg = p + 1;
        }
    }
}

bool lg_str_has_suffix_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && lg_str_casecmp(s + n - m, suffix) == 0;
}

/* --- MD5 (RFC 1321) --- */

struct md5 {
    uint32_t h[4];
};

static uint32_t rol(uint32_t x, unsigned c)
{
    return (x << c) | (x >> (32 - c));
}

static void md5_block(struct md5 *m, const unsigned char *blk)
{
    static const uint32_t k[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    };
    static const unsigned char r[64] = {
        7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 5,  9,  14, 20, 5,  9,
        14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
        4,  11, 16, 23, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21,
    };
    uint32_t w[16];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)blk[4 * i] | (uint32_t)blk[4 * i + 1] << 8 |
               (uint32_t)blk[4 * i + 2] << 16 | (uint32_t)blk[4 * i + 3] << 24;
    }
    uint32_t a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];
    for (unsigned i = 0; i < 64; i++) {
        uint32_t f;
        unsigned g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rol(a + f + k[i] + w[g], r[i]);
        a = t;
    }
    m->h[0] += a;
    m->h[1] += b;
    m->h[2] += c;
    m->h[3] += d;
}

void lg_md5(const void *p, size_t len, unsigned char out[16])
{
    struct md5 m = { { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 } };
    const unsigned char *s = p;
    size_t i = 0;
    for (; i + 64 <= len; i += 64)
        md5_block(&m, s + i);
    unsigned char tail[128] = { 0 };
    size_t rest = len - i;
    memcpy(tail, s + i, rest);
    tail[rest] = 0x80;
    size_t tlen = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int j = 0; j < 8; j++)
        tail[tlen - 8 + j] = (unsigned char)(bits >> (8 * j));
    md5_block(&m, tail);
    if (tlen == 128)
        md5_block(&m, tail + 64);
    for (int j = 0; j < 4; j++) {
        out[4 * j] = (unsigned char)m.h[j];
        out[4 * j + 1] = (unsigned char)(m.h[j] >> 8);
        out[4 * j + 2] = (unsigned char)(m.h[j] >> 16);
        out[4 * j + 3] = (unsigned char)(m.h[j] >> 24);
    }
}
