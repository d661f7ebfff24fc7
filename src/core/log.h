/* SPDX-License-Identifier: MIT */
/*
 * Logging: one line per event on stderr, with time, level and subsystem, as
 * text or as JSON objects. Each subsystem keeps a named struct lg_log. The
 * threshold and format are set once at start-up, before threads exist; after
 * that every function here is thread-safe (one write(2) per line, or per
 * batch of a thread's held lines).
 */
#ifndef LG_CORE_LOG_H
#define LG_CORE_LOG_H

#include <stdbool.h>

#include "core/common.h"

enum lg_log_level {
    LG_LOG_ERROR = 0, /* an operator must act */
    LG_LOG_WARN,      /* degraded but serving */
    LG_LOG_INFO,      /* lifecycle */
    LG_LOG_DEBUG,     /* per request */
    LG_LOG_TRACE,     /* per packet; never in production */
};

struct lg_log {
    const char *name; /* subsystem, e.g. "http/api" */
};

/* Set at start-up only (see lg_log_setup). Read by the lg_log() macro. */
extern int lg_log_threshold;

/* Writes one line if lvl passes the threshold; the arguments are not evaluated
 * otherwise. */
#define lg_log(log, lvl, ...)                        \
    do {                                             \
        if ((int)(lvl) <= lg_log_threshold)          \
            lg_log_write((log), (lvl), __VA_ARGS__); \
    } while (0)

void lg_log_write(const struct lg_log *log, enum lg_log_level lvl, const char *fmt, ...)
    LG_PRINTF(3, 4);

/* Writes one line, if lvl passes the threshold, of a message already made:
 * the len bytes at msg (cut like a formatted one beyond 2047). For lines made
 * on every request, where printf's parsing is the dearest part. */
void lg_log_text(const struct lg_log *log, enum lg_log_level lvl, const char *msg, size_t len);

/* on: the calling thread holds its lines and writes them together, in
 * writes of at most PIPE_BUF bytes: when the next one would not fit, at a
 * line at LG_LOG_WARN or above (which goes out with the lines before it),
 * at lg_log_flush() and when the thread ends. For a thread that logs a line
 * per request and calls lg_log_flush() before it waits for more work.
 * off: writes the held lines and goes back to a write per line. */
void lg_log_hold(bool on);

/* Writes the calling thread's held lines, if any. */
void lg_log_flush(void);

/* Chooses threshold and format. Call before starting threads. */
void lg_log_setup(enum lg_log_level threshold, int json);

/* Parses "error", "warn", "info", "debug", "trace". Returns the level or
 * LG_EINVAL. */
int lg_log_level_parse(const char *s);

#endif
