/* SPDX-License-Identifier: MIT */
/*
 * Macros, error codes and small allocation helpers used by every subsystem.
 * Errors follow one rule: a fallible function returns int, >= 0 on success and
 * < 0 on failure, either -errno or one of the LG_E* codes below -10000.
 */
#ifndef LG_CORE_COMMON_H
#define LG_CORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define LG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define LG_MUST_CHECK        __attribute__((warn_unused_result))
#define LG_NORETURN          __attribute__((noreturn))
#define LG_UNUSED            __attribute__((unused))
#else
#define LG_PRINTF(fmt, args)
#define LG_MUST_CHECK
#define LG_NORETURN
#define LG_UNUSED
#endif

#define LG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LG_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define LG_MAX(a, b)    ((a) > (b) ? (a) : (b))

enum {
    LG_EPARSE = -10001,    /* malformed input from a peer, a file or the user */
    LG_ETOOBIG = -10002,   /* input over a limit */
    LG_ENOTFOUND = -10003, /* no such object */
    LG_EAUTH = -10004,     /* wrong credentials */
    LG_EDENIED = -10005,   /* authenticated, but not allowed */
    LG_EEXIST = -10006,    /* object already exists */
    LG_ESTORE = -10007,    /* database failure (details in the log) */
    LG_EMEDIA = -10008,    /* media library failure (details in the log) */
    LG_ERANGE = -10009,    /* unsatisfiable range */
    LG_ELIMIT = -10010,    /* rate limit reached */
    LG_EINVAL = -10011,    /* invalid argument or value */
};

/* A static English description of an error code (ours or -errno). Thread-safe. */
const char *lg_strerror(int err);

/* Allocation of small, fixed-size objects: aborts with a message on OOM. Sizes
 * coming from peers or files must go through struct lg_buf instead. */
void *lg_xmalloc(size_t n);
void *lg_xcalloc(size_t n, size_t size);
void *lg_xrealloc(void *p, size_t n);
char *lg_xstrdup(const char *s);
char *lg_xstrndup(const char *s, size_t n);
/* Formats into a new string the caller owns (free()). Aborts on OOM. */
char *lg_xasprintf(const char *fmt, ...) LG_PRINTF(1, 2);

/* Aborts with file and line when cond is false; stays on in release builds,
 * for cheap invariants only, never for peer input. */
#define lg_assert(cond)                                \
    do {                                               \
        if (!(cond))                                   \
            lg_assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)
LG_NORETURN void lg_assert_fail(const char *expr, const char *file, int line);

#endif
