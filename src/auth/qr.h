/* SPDX-License-Identifier: MIT */
/*
 * QR codes: a text (usually a URI) encoded with libqrencode in 8-bit mode at
 * error correction M, then drawn with a 4-module quiet zone, dark on light, as
 * SVG (one <path>, a run per row segment, viewBox in modules), as PNG (1-bit
 * grayscale, our own minimal encoder over zlib) or as Unicode half blocks for
 * a terminal (two module rows per line). Encoding and rendering keep no state
 * and are safe to call from any thread.
 */
#ifndef LG_AUTH_QR_H
#define LG_AUTH_QR_H

#include <stdbool.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/common.h"

enum {
    LG_QR_QUIET = 4,       /* modules of light border on each side */
    LG_QR_TEXT_MAX = 4096, /* bytes of text looked at (QR 40-M holds 2331) */
    LG_QR_SCALE_MAX = 64,  /* pixels (or SVG units) per module, at most */
};

/* An encoded symbol: width x width modules, without the quiet zone. */
struct lg_qr {
    int width;
    unsigned char *dark; /* width * width bytes, row by row: 1 dark, 0 light */
};

/* Encodes text (len bytes, not NUL-terminated necessarily). Returns 0 and
 * fills *out (caller releases with lg_qr_free), LG_EINVAL for an empty text,
 * LG_ETOOBIG when it does not fit a QR code at level M, -ENOMEM. */
int lg_qr_encode(const char *text, size_t len, struct lg_qr *out) LG_MUST_CHECK;
void lg_qr_free(struct lg_qr *q);

/* Side of the drawn image in modules: width plus the quiet zone twice. */
int lg_qr_size(const struct lg_qr *q);

/* Appends an SVG document whose width and height are size * scale (scale 1 ..
 * LG_QR_SCALE_MAX, else LG_EINVAL); viewBox is in modules. Errors of out
 * (LG_ETOOBIG, -ENOMEM) are returned as they come. */
int lg_qr_svg(const struct lg_qr *q, int scale, struct lg_buf *out) LG_MUST_CHECK;
/* Appends a PNG file of size * scale pixels square, 1-bit grayscale. */
int lg_qr_png(const struct lg_qr *q, int scale, struct lg_buf *out) LG_MUST_CHECK;
/* Appends (size + 1) / 2 lines of size characters from " ▀▄█", each ending
 * in '\n'. A glyph's ink is dark for a dark-on-light terminal; invert swaps
 * that for a light-on-dark one. */
int lg_qr_terminal(const struct lg_qr *q, bool invert, struct lg_buf *out) LG_MUST_CHECK;

/* Encodes text and writes its terminal rendering to f (dark on light).
 * Returns 0 or the error of lg_qr_encode / lg_qr_terminal; writes nothing on
 * error. */
int lg_qr_print_terminal(FILE *f, const char *text);

#endif
