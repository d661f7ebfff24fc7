/* SPDX-License-Identifier: MIT */
/*
 * Error strings and the aborting allocators declared in common.h.
 */
#include "core/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

const char *lg_strerror(int err)
{
    switch (err) {
    case LG_EPARSE:
        return "malformed input";
    case LG_ETOOBIG:
        return "input too large";
    case LG_ENOTFOUND:
        return "not found";
    case LG_EAUTH:
        return "wrong username or password";
    case LG_EDENIED:
        return "permission denied";
    case LG_EEXIST:
        return "already exists";
    case LG_ESTORE:
        return "database error";
    case LG_EMEDIA:
        return "media error";
    case LG_ERANGE:
        return "range not satisfiable";
    case LG_ELIMIT:
        return "too many attempts";
    case LG_EINVAL:
        return "invalid value";
    default:
        break;
    }
    if (err < 0 && err > -4096) {
        /* strerror() is not thread-safe in theory; strerrordesc_np is GNU-only.
         * glibc's strerror returns static strings for known codes. */
        return strerror(-err);
    }
    return "unknown error";
}

static void oom(size_t n)
{
    lg_log_flush(); /* the lines this thread holds go first */
    fprintf(stderr, "legato: out of memory allocating %zu bytes\n", n);
    abort();
}

void *lg_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *lg_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *lg_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *lg_xstrdup(const char *s)
{
    return lg_xstrndup(s, strlen(s));
}

char *lg_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = lg_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *lg_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    lg_assert(n >= 0);
    char *p = lg_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void lg_assert_fail(const char *expr, const char *file, int line)
{
    lg_log_flush();
    fprintf(stderr, "legato: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
