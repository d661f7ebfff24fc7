/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer with a hard limit, for data whose size comes from
 * peers, files or tags. Appends past the limit fail with LG_ETOOBIG and reset
 * the buffer. The content is always NUL-terminated (the NUL is not counted).
 * Not thread-safe; one owner at a time.
 */
#ifndef LG_CORE_BUF_H
#define LG_CORE_BUF_H

#include <stdarg.h>

#include "core/common.h"

struct lg_buf {
    char *data;   /* NUL-terminated once anything has been appended */
    size_t len;   /* bytes used, not counting the NUL */
    size_t cap;   /* bytes allocated */
    size_t limit; /* the most len may become */
};

/* Initialises an empty buffer that may hold up to limit bytes. */
void lg_buf_init(struct lg_buf *b, size_t limit);
/* Releases the memory; the buffer is empty and usable again afterwards. */
void lg_buf_free(struct lg_buf *b);
/* Appends len bytes. LG_ETOOBIG past the limit (the buffer is reset). */
int lg_buf_append(struct lg_buf *b, const void *p, size_t len) LG_MUST_CHECK;
int lg_buf_puts(struct lg_buf *b, const char *s) LG_MUST_CHECK;
int lg_buf_printf(struct lg_buf *b, const char *fmt, ...) LG_PRINTF(2, 3) LG_MUST_CHECK;
int lg_buf_vprintf(struct lg_buf *b, const char *fmt, va_list ap) LG_PRINTF(2, 0) LG_MUST_CHECK;
/* Hands the data to the caller (free()); the buffer is left empty. Never NULL. */
char *lg_buf_steal(struct lg_buf *b);

#endif
