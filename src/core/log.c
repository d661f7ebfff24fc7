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

void lg_log_write(const struct lg_log *log, enum lg_log_level lvl, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m >= (int)sizeof(msg))
        memcpy(msg + sizeof(msg) - 4, "...", 4);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const char *when = format_second(ts.tv_sec);

    int ilvl = (int)lvl;
    const char *lname =
        ilvl >= 0 && ilvl < (int)LG_ARRAY_LEN(level_names) ? level_names[ilvl] : "?";
    char line[4608];
    int n;
    if (log_json) {
        char esc[4096];
        json_escape(esc, sizeof(esc), msg);
        n = snprintf(
            line, sizeof(line),
            "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"subsystem\":\"%s\",\"msg\":\"%s\"}\n", when,
            ts.tv_nsec / 1000000, lname, log->name, esc);
    } else {
        n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %s: %s\n", when, ts.tv_nsec / 1000000,
                     lname, log->name, msg);
    }
    if (n < 0)
        return;
    if (n >= (int)sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    ssize_t r = write(STDERR_FILENO, line, (size_t)n);
    (void)r;
}
