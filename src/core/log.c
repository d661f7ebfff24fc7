/* SPDX-License-Identifier: MIT */
/*
 * Line-oriented logger. Each line is formatted into a stack buffer and written
 * with a single write(2), so lines from several threads never interleave.
 * Messages are truncated (marked with "...") rather than allocated.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

int lg_log_threshold = LG_LOG_INFO;
static int log_json;

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

void lg_log_setup(enum lg_log_level threshold, int json)
{
    lg_log_threshold = (int)threshold;
    log_json = json;
}

int lg_log_level_parse(const char *s)
{
    for (size_t i = 0; i < LG_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0)
            return (int)i;
    }
    return LG_EINVAL;
}

/* Appends s to out as the inside of a JSON string, escaping as needed. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

/* The second formatted as ISO 8601, cached per thread: gmtime_r takes a
 * process-wide lock, which request threads logging at once would fight over. */
static const char *format_second(time_t sec)
{
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[32];
    if (sec != cached_sec) {
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = sec;
    }
    return cached;
}

enum { MSG_MAX = 2048 }; /* a message's bytes, "..." included when cut */

/* Appends the n bytes of s at line + *at. */
static void put(char *line, size_t *at, const char *s, size_t n)
{
    memcpy(line + *at, s, n);
    *at += n;
}

/* Formats the message at line + at, cutting it at MSG_MAX - 1 bytes (the
 * last three then "..."); returns its length, or -1. */
static int put_msg(char *line, size_t at, const char *fmt, va_list ap)
{
    int m = vsnprintf(line + at, MSG_MAX, fmt, ap);
    if (m >= MSG_MAX) {
        memcpy(line + at + MSG_MAX - 4, "...", 4);
        m = MSG_MAX - 1;
    }
    return m;
}

void lg_log_write(const struct lg_log *log, enum lg_log_level lvl, const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const char *when = format_second(ts.tv_sec);
    int ilvl = (int)lvl;
    const char *lname =
        ilvl >= 0 && ilvl < (int)LG_ARRAY_LEN(level_names) ? level_names[ilvl] : "?";
    long ms = ts.tv_nsec / 1000000;
    char line[4608];
    va_list ap;
    va_start(ap, fmt);
    int n;
    if (log_json) {
        char msg[MSG_MAX], esc[4096];
        n = put_msg(msg, 0, fmt, ap);
        if (n >= 0) {
            json_escape(esc, sizeof(esc), msg);
            n = snprintf(
                line, sizeof(line),
                "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"subsystem\":\"%s\",\"msg\":\"%s\"}\n",
                when, ms, lname, log->name, esc);
            if (n >= (int)sizeof(line)) {
                n = (int)sizeof(line) - 1;
                line[n - 1] = '\n';
            }
        }
    } else {
        /* "TIME.mmmZ level subsystem: message": the prefix by hand, the
         * message formatted in place (one pass of printf, not two). */
        size_t at = 0, nlen = strnlen(log->name, 256), llen = strlen(lname);
        put(line, &at, when, strnlen(when, 32));
        char frac[6] = {
            '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z', ' '
        };
        put(line, &at, frac, sizeof(frac));
        put(line, &at, lname, llen);
        put(line, &at, "      ", llen < 5 ? 6 - llen : 1); /* %-5s and a space */
        put(line, &at, log->name, nlen);
        put(line, &at, ": ", 2);
        n = put_msg(line, at, fmt, ap);
        if (n >= 0) {
            n += (int)at;
            line[n++] = '\n';
        }
    }
    va_end(ap);
    if (n < 0)
        return;
    ssize_t r = write(STDERR_FILENO, line, (size_t)n);
    (void)r;
}
