/* SPDX-License-Identifier: MIT */
/*
 * QR rendering. libqrencode turns the text into modules (bit 0 of each byte
 * of QRcode.data is "dark"); we copy them into a plain 0/1 grid and draw it
 * three ways. The PNG writer is deliberately minimal: signature, IHDR, one
 * IDAT (zlib's compress2 over filter-0 rows) and IEND, each chunk with the
 * CRC-32 zlib computes. Everything a renderer emits is appended to a caller's
 * lg_buf, so its size limit bounds the output.
 */
#include "auth/qr.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>
#include <zlib.h>

int lg_qr_encode(const char *text, size_t len, struct lg_qr *out)
{
    if (!text || len == 0)
        return LG_EINVAL;
    if (len > LG_QR_TEXT_MAX)
        return LG_ETOOBIG;
    errno = 0;
    QRcode *code = QRcode_encodeData((int)len, (const unsigned char *)text, 0, QR_ECLEVEL_M);
    if (!code)
        return errno == ENOMEM ? -ENOMEM : errno == ERANGE ? LG_ETOOBIG : LG_EINVAL;
    size_t n = (size_t)code->width * (size_t)code->width;
    unsigned char *dark = malloc(n);
    if (!dark) {
        QRcode_free(code);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        dark[i] = code->data[i] & 1;
    out->width = code->width;
    out->dark = dark;
    QRcode_free(code);
    return 0;
}

void lg_qr_free(struct lg_qr *q)
{
    if (!q)
        return;
    free(q->dark);
    q->dark = NULL;
    q->width = 0;
}

int lg_qr_size(const struct lg_qr *q)
{
    return q->width + 2 * LG_QR_QUIET;
}

/* Whether the module at (x, y) of the drawn image (quiet zone included) is
 * dark; anything outside the symbol is light. */
static int module_at(const struct lg_qr *q, int x, int y)
{
    x -= LG_QR_QUIET;
    y -= LG_QR_QUIET;
    if (x < 0 || y < 0 || x >= q->width || y >= q->width)
        return 0;
    return q->dark[(size_t)y * (size_t)q->width + (size_t)x];
}

/* Appends the runs of dark modules of symbol row y as "MXxYhNv1h-Nz". */
static int svg_row(const struct lg_qr *q, int y, struct lg_buf *out)
{
    const unsigned char *row = q->dark + (size_t)y * (size_t)q->width;
    for (int x = 0; x < q->width;) {
        if (!row[x]) {
            x++;
            continue;
        }
        int start = x;
        while (x < q->width && row[x])
            x++;
        int n = x - start;
        int rc = lg_buf_printf(out, "M%d %dh%dv1h-%dz", start + LG_QR_QUIET, y + LG_QR_QUIET, n, n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int lg_qr_svg(const struct lg_qr *q, int scale, struct lg_buf *out)
{
    if (scale < 1 || scale > LG_QR_SCALE_MAX)
        return LG_EINVAL;
    int size = lg_qr_size(q);
    int rc =
        lg_buf_printf(out,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                      "viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
                      "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                      size * scale, size * scale, size, size, size, size);
    for (int y = 0; rc >= 0 && y < q->width; y++)
        rc = svg_row(q, y, out);
    if (rc >= 0)
        rc = lg_buf_puts(out, "\"/></svg>\n");
    return rc < 0 ? rc : 0;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Appends one chunk: length, type, data, CRC-32 over type and data. */
static int png_chunk(struct lg_buf *out, const char type[4], const unsigned char *data, size_t len)
{
    unsigned char head[8], tail[4];
    put_be32(head, (uint32_t)len);
    memcpy(head + 4, type, 4);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (len)
        crc = crc32(crc, data, (uInt)len);
    put_be32(tail, (uint32_t)crc);
    int rc = lg_buf_append(out, head, 8);
    if (rc >= 0 && len)
        rc = lg_buf_append(out, data, len);
    if (rc >= 0)
        rc = lg_buf_append(out, tail, 4);
    return rc < 0 ? rc : 0;
}

/* Fills raw with the image's scanlines: a filter byte 0, then 1 bit per
 * pixel, most significant first, 1 = white. Each module row is drawn once
 * and copied for the scale - 1 pixel rows below it. */
static void png_rows(const struct lg_qr *q, int scale, unsigned char *raw, size_t stride)
{
    int size = lg_qr_size(q);
    for (int my = 0; my < size; my++) {
        unsigned char *line = raw + (size_t)my * (size_t)scale * stride;
        memset(line, 0, stride);
        for (int px = 0; px < size * scale; px++)
            if (!module_at(q, px / scale, my))
                line[1 + px / 8] |= (unsigned char)(0x80 >> (px % 8));
        for (int k = 1; k < scale; k++)
            memcpy(line + (size_t)k * stride, line, stride);
    }
}

int lg_qr_png(const struct lg_qr *q, int scale, struct lg_buf *out)
{
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    if (scale < 1 || scale > LG_QR_SCALE_MAX)
        return LG_EINVAL;
    uint32_t px = (uint32_t)(lg_qr_size(q) * scale);
    size_t stride = 1 + (px + 7) / 8;
    size_t raw_len = stride * px;
    uLongf z_len = compressBound((uLong)raw_len);
    unsigned char *raw = malloc(raw_len);
    unsigned char *z = malloc(z_len);
    int rc = -ENOMEM;
    if (!raw || !z)
        goto out;
    png_rows(q, scale, raw, stride);
    rc = LG_EINVAL;
    if (compress2(z, &z_len, raw, (uLong)raw_len, 6) != Z_OK)
        goto out;
    unsigned char ihdr[13];
    put_be32(ihdr, px);
    put_be32(ihdr + 4, px);
    ihdr[8] = 1;  /* bit depth */
    ihdr[9] = 0;  /* grayscale */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering, filter 0 on every row */
    ihdr[12] = 0; /* no interlace */
    rc = lg_buf_append(out, sig, sizeof(sig));
    if (rc >= 0)
        rc = png_chunk(out, "IHDR", ihdr, sizeof(ihdr));
    if (rc >= 0)
        rc = png_chunk(out, "IDAT", z, z_len);
    if (rc >= 0)
        rc = png_chunk(out, "IEND", NULL, 0);
out:
    free(raw);
    free(z);
    return rc < 0 ? rc : 0;
}

int lg_qr_terminal(const struct lg_qr *q, bool invert, struct lg_buf *out)
{
    /* Indexed by top + 2 * bottom, each 1 when that half shows ink. */
    static const char *const glyph[4] = { " ", "\xe2\x96\x80", "\xe2\x96\x84", "\xe2\x96\x88" };
    int size = lg_qr_size(q);
    int rc = 0;
    for (int y = 0; rc >= 0 && y < size; y += 2) {
        for (int x = 0; rc >= 0 && x < size; x++) {
            int top = module_at(q, x, y) ^ invert;
            /* Past the last row the image is light, whatever the terminal. */
            int bottom = y + 1 < size ? module_at(q, x, y + 1) ^ invert : invert;
            rc = lg_buf_puts(out, glyph[top + 2 * bottom]);
        }
        if (rc >= 0)
            rc = lg_buf_puts(out, "\n");
    }
    return rc < 0 ? rc : 0;
}

int lg_qr_print_terminal(FILE *f, const char *text)
{
    struct lg_qr q;
    int rc = lg_qr_encode(text, text ? strlen(text) : 0, &q);
    if (rc < 0)
        return rc;
    struct lg_buf b;
    lg_buf_init(&b, 1 << 20);
    rc = lg_qr_terminal(&q, false, &b);
    if (rc >= 0 && b.len)
        fwrite(b.data, 1, b.len, f);
    fflush(f);
    lg_buf_free(&b);
    lg_qr_free(&q);
    return rc < 0 ? rc : 0;
}
