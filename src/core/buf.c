/* SPDX-License-Identifier: MIT */
/*
 * struct lg_buf: geometric growth, checked against the limit before any
 * arithmetic that could overflow.
 */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lg_buf_init(struct lg_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void lg_buf_free(struct lg_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static int reserve(struct lg_buf *b, size_t extra)
{
    /* Check against the limit before adding, so the sum cannot overflow. */
    if (extra > b->limit - b->len) {
        lg_buf_free(b);
        return LG_ETOOBIG;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = lg_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int lg_buf_append(struct lg_buf *b, const void *p, size_t len)
{
    int r = reserve(b, len);
    if (r < 0)
        return r;
    if (len)
        memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int lg_buf_puts(struct lg_buf *b, const char *s)
{
    return lg_buf_append(b, s, strlen(s));
}

int lg_buf_vprintf(struct lg_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return LG_EPARSE;
    int r = reserve(b, (size_t)n);
    if (r < 0)
        return r;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int lg_buf_printf(struct lg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = lg_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

char *lg_buf_steal(struct lg_buf *b)
{
    char *p = b->data ? b->data : lg_xstrdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
