/* SPDX-License-Identifier: MIT */
/*
 * QR rendering: encoding limits (empty, over-long), the SVG's shape (viewBox,
 * one path, runs), the PNG's structure (signature, IHDR size, every chunk's
 * CRC, the image data inflating to the expected scanlines) and the terminal
 * rendering's dimensions. Prints (does not assert) the render times.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "auth/qr.h"

#include "harness.h"

static const char uri[] = "http://192.168.1.20:4533/device?h=Zk9vYmFyQmF6UXV4MTIzNDU2Nzg5MA";

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

LG_TEST(encode_limits)
{
    struct lg_qr q;
    CHECK_INT(lg_qr_encode("", 0, &q), LG_EINVAL);
    CHECK_INT(lg_qr_encode(NULL, 0, &q), LG_EINVAL);
    char *big = malloc(5000);
    memset(big, 'a', 5000);
    CHECK_INT(lg_qr_encode(big, 5000, &q), LG_ETOOBIG); /* over our cap */
    CHECK_INT(lg_qr_encode(big, 2332, &q), LG_ETOOBIG); /* over 40-M's 2331 bytes */
    CHECK_INT(lg_qr_encode(big, 2331, &q), 0);
    CHECK_INT(q.width, 177);
    lg_qr_free(&q);
    CHECK_INT(lg_qr_encode(big, 1000, &q), 0);
    CHECK_INT((q.width - 17) % 4, 0);
    lg_qr_free(&q);
    free(big);
    CHECK_INT(lg_qr_encode(uri, strlen(uri), &q), 0);
    CHECK(q.width >= 21 && q.width <= 177);
    CHECK_INT(lg_qr_size(&q), q.width + 8);
    lg_qr_free(&q);
}

LG_TEST(svg_structure)
{
    struct lg_qr q;
    CHECK_INT(lg_qr_encode(uri, strlen(uri), &q), 0);
    struct lg_buf b;
    lg_buf_init(&b, 1 << 20);
    CHECK_INT(lg_qr_svg(&q, 0, &b), LG_EINVAL);
    CHECK_INT(lg_qr_svg(&q, 5, &b), 0);
    int n = lg_qr_size(&q);
    char want[128];
    snprintf(want, sizeof(want), "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"", n * 5, n * 5,
             n, n);
    CHECK(strstr(b.data, want) != NULL);
    CHECK(strstr(b.data, "shape-rendering=\"crispEdges\"") != NULL);
    const char *p = strstr(b.data, "<path");
    CHECK(p && !strstr(p + 1, "<path"));
    /* The top-left finder pattern: a run of 7 dark modules at the quiet zone. */
    CHECK(strstr(b.data, "d=\"M4 4h7v1h-7z") != NULL);
    CHECK(b.len > 0 && b.data[b.len - 1] == '\n');
    lg_buf_free(&b);
    lg_qr_free(&q);
}

/* Checks every chunk's CRC; returns the IDAT bytes concatenated. */
static unsigned char *png_idat(const unsigned char *p, size_t len, size_t *z_len)
{
    size_t off = 8, zl = 0;
    unsigned char *z = malloc(len);
    while (off + 12 <= len) {
        uint32_t n = be32(p + off);
        CHECK(off + 12 + n <= len);
        uLong crc = crc32(0L, p + off + 4, 4 + n);
        CHECK_INT(be32(p + off + 8 + n), crc);
        if (memcmp(p + off + 4, "IDAT", 4) == 0) {
            memcpy(z + zl, p + off + 8, n);
            zl += n;
        }
        off += 12 + n;
    }
    CHECK_INT(off, len);
    CHECK(memcmp(p + len - 8, "IEND", 4) == 0);
    *z_len = zl;
    return z;
}

LG_TEST(png_structure)
{
    struct lg_qr q;
    CHECK_INT(lg_qr_encode(uri, strlen(uri), &q), 0);
    struct lg_buf b;
    lg_buf_init(&b, 1 << 22);
    CHECK_INT(lg_qr_png(&q, 65, &b), LG_EINVAL);
    CHECK_INT(lg_qr_png(&q, 8, &b), 0);
    const unsigned char *p = (const unsigned char *)b.data;
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    CHECK(b.len > 33 && memcmp(p, sig, 8) == 0);
    CHECK(memcmp(p + 12, "IHDR", 4) == 0);
    uint32_t px = (uint32_t)(q.width + 8) * 8;
    CHECK_INT(be32(p + 16), px);
    CHECK_INT(be32(p + 20), px);
    CHECK_INT(p[24], 1);
    CHECK_INT(p[25], 0);
    size_t z_len;
    unsigned char *z = png_idat(p, b.len, &z_len);
    size_t stride = 1 + (px + 7) / 8;
    uLongf raw_len = stride * px + 1;
    unsigned char *raw = malloc(raw_len);
    CHECK_INT(uncompress(raw, &raw_len, z, z_len), Z_OK);
    CHECK_INT(raw_len, stride * px);
    CHECK_INT(raw[0], 0);
    CHECK_INT(raw[1], 0xff);                   /* quiet zone: white */
    size_t row = 4 * 8;                        /* first pixel row of the finder */
    CHECK_INT(raw[row * stride + 1 + 4], 0x0); /* pixels 32..39 black */
    free(raw);
    free(z);
    lg_buf_free(&b);
    lg_qr_free(&q);
}

static size_t count_lines(const char *s, size_t *chars_first)
{
    size_t lines = 0, chars = 0;
    *chars_first = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '\n') {
            if (lines == 0)
                *chars_first = chars;
            lines++;
            chars = 0;
        } else if ((*c & 0xc0) != 0x80) {
            chars++;
        }
    }
    return lines;
}

LG_TEST(terminal_dimensions)
{
    struct lg_qr q;
    CHECK_INT(lg_qr_encode(uri, strlen(uri), &q), 0);
    int n = lg_qr_size(&q);
    for (int inv = 0; inv < 2; inv++) {
        struct lg_buf b;
        lg_buf_init(&b, 1 << 20);
        CHECK_INT(lg_qr_terminal(&q, inv, &b), 0);
        size_t first;
        CHECK_INT(count_lines(b.data, &first), (n + 1) / 2);
        CHECK_INT(first, n);
        /* The first line is quiet zone: blank, or full blocks when inverted. */
        CHECK(strncmp(b.data, inv ? "\xe2\x96\x88" : " ", inv ? 3 : 1) == 0);
        lg_buf_free(&b);
    }
    lg_qr_free(&q);
    FILE *f = tmpfile();
    CHECK_INT(lg_qr_print_terminal(f, uri), 0);
    CHECK(ftell(f) > n);
    CHECK_INT(lg_qr_print_terminal(f, ""), LG_EINVAL);
    fclose(f);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Encode + render, averaged; printed for the bench figures, never asserted
 * (sanitizer builds are several times slower). */
LG_TEST(render_timing)
{
    enum { N = 200 };
    double t[2] = { 0, 0 };
    for (int kind = 0; kind < 2; kind++) {
        double t0 = now_ms();
        for (int i = 0; i < N; i++) {
            struct lg_qr q;
            struct lg_buf b;
            lg_buf_init(&b, 1 << 22);
            CHECK_INT(lg_qr_encode(uri, strlen(uri), &q), 0);
            CHECK_INT(kind ? lg_qr_png(&q, 8, &b) : lg_qr_svg(&q, 8, &b), 0);
            lg_buf_free(&b);
            lg_qr_free(&q);
        }
        t[kind] = (now_ms() - t0) / N;
    }
    printf("# qr render (encode + draw, %zu-byte URI): svg %.3f ms, png %.3f ms\n", strlen(uri),
           t[0], t[1]);
}

LG_TEST_MAIN(LG_CASE(encode_limits), LG_CASE(svg_structure), LG_CASE(png_structure),
             LG_CASE(terminal_dimensions), LG_CASE(render_timing))
