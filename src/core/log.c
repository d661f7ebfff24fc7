/* SPDX-License-Identifier: MIT */
/*
 * Line-oriented logger. Each line is formatted into a stack buffer and written
 * whole by one write(2), so lines from several threads never interleave.
 * Messages are truncated (marked with "...") rather than allocated. A thread
 * that holds its lines (lg_log_hold) gathers them and writes them together.
 */
#include "core/log.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <unistd.h>

#include "core/str.h"

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

/* Appends the len bytes of s (UTF-8) to out as the inside of a JSON string,
 * escaping as needed; stops early, before a whole character, rather than
 * overflow cap, and then sets *cut. */
static size_t json_escape(char *out, size_t cap, const char *s, size_t len, bool *cut)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0, i = 0;
    for (; i < len && n + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xc0) { /* a character of 2 to 4 bytes goes whole or not at all */
            size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (i + k > len || n + k + 7 > cap)
                break;
            memcpy(out + n, s + i, k);
            n += k;
            i += k - 1;
        } else if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[c >> 4];
            out[n + 5] = hex[c & 15];
            n += 6;
        } else {
            out[n++] = (char)c;
        }
    }
    *cut = i < len;
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

/*
 * Held lines. A server thread that logs a line per request would otherwise
 * make a write(2) per request, about a twentieth of a range request's CPU
 * time (bench/stream). A holding thread appends its lines to a buffer of
 * its own and writes them together: when the next line would not fit, when
 * a warning or an error comes (after the lines before it), when the thread
 * is about to wait (lg_log_flush) and when it ends. A write of at most
 * PIPE_BUF bytes is never split by a pipe, so held lines do not interleave
 * with other threads' either.
 */
enum { HOLD_MAX = PIPE_BUF };
struct held {
    size_t n;
    char buf[HOLD_MAX];
};
static _Thread_local struct held *held;
static pthread_key_t held_key;
static pthread_once_t held_once = PTHREAD_ONCE_INIT;

static void write_all(const char *p, size_t n)
{
    ssize_t r = write(STDERR_FILENO, p, n);
    (void)r;
}

void lg_log_flush(void)
{
    if (held && held->n) {
        write_all(held->buf, held->n);
        held->n = 0;
    }
}

/* At the end of a holding thread: its last lines, then the buffer. */
static void held_end(void *p)
{
    struct held *h = p;
    if (h->n)
        write_all(h->buf, h->n);
    held = NULL;
    free(h);
}

static void held_key_make(void)
{
    if (pthread_key_create(&held_key, held_end) != 0)
        held_key = (pthread_key_t)-1;
}

void lg_log_hold(bool on)
{
    if (!on) {
        struct held *h = held;
        lg_log_flush();
        held = NULL;
        if (h)
            pthread_setspecific(held_key, NULL);
        free(h);
        return;
    }
    if (held)
        return;
    pthread_once(&held_once, held_key_make);
    struct held *h = malloc(sizeof(*h));
    if (!h)
        return; /* lines go out one by one, as before */
    h->n = 0;
    if (held_key == (pthread_key_t)-1 || pthread_setspecific(held_key, h) != 0) {
        free(h);
        return;
    }
    held = h;
}

/* Writes the line, or adds it to the thread's held lines. */
static void out_line(enum lg_log_level lvl, const char *line, size_t n)
{
    struct held *h = held;
    if (!h) {
        write_all(line, n);
        return;
    }
    if (h->n + n > HOLD_MAX)
        lg_log_flush();
    if (n > HOLD_MAX) {
        write_all(line, n);
        return;
    }
    memcpy(h->buf + h->n, line, n);
    h->n += n;
    if ((int)lvl <= LG_LOG_WARN)
        lg_log_flush();
}

/* Appends the n bytes of s at line + *at. */
static void put(char *line, size_t *at, const char *s, size_t n)
{
    memcpy(line + *at, s, n);
    *at += n;
}

/* put() with control bytes as '?': a message names files and clients, and a
 * newline or an escape sequence in one must not start a line of its own or
 * reach a terminal. */
static void put_text(char *line, size_t *at, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        line[(*at)++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
}

/* Writes the line of a message of len bytes. A message of MSG_MAX bytes or
 * more is cut: its first MSG_MAX - 4 bytes (all msg must hold), then "...". */
static void emit(const struct lg_log *log, enum lg_log_level lvl, const char *msg, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const char *when = format_second(ts.tv_sec);
    int ilvl = (int)lvl;
    const char *lname =
        ilvl >= 0 && ilvl < (int)LG_ARRAY_LEN(level_names) ? level_names[ilvl] : "?";
    long ms = ts.tv_nsec / 1000000;
    const char *more = "";
    if (len >= MSG_MAX) {
        len = MSG_MAX - 4;
        more = "...";
    }
    char line[4608];
    size_t n;
    if (log_json) {
        /* JSON text is UTF-8: a file name in another encoding is cleaned. */
        char *clean = lg_utf8_valid(msg, len) ? NULL : lg_utf8_sanitize(msg, len);
        char esc[4096];
        bool cut = false;
        json_escape(esc, sizeof(esc), clean ? clean : msg, clean ? strlen(clean) : len, &cut);
        free(clean);
        if (cut)
            more = "...";
        int w = snprintf(
            line, sizeof(line),
            "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"subsystem\":\"%s\",\"msg\":\"%s%s\"}\n",
            when, ms, lname, log->name, esc, more);
        if (w < 0)
            return;
        n = (size_t)w;
        if (n >= sizeof(line)) {
            n = sizeof(line) - 1;
            line[n - 1] = '\n';
        }
    } else {
        /* "TIME.mmmZ level subsystem: message", without printf. */
        size_t nlen = strnlen(log->name, 256), llen = strlen(lname);
        n = 0;
        put(line, &n, when, strnlen(when, 32));
        char frac[6] = {
            '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z', ' '
        };
        put(line, &n, frac, sizeof(frac));
        put(line, &n, lname, llen);
        put(line, &n, "      ", llen < 5 ? 6 - llen : 1); /* %-5s and a space */
        put(line, &n, log->name, nlen);
        put(line, &n, ": ", 2);
        put_text(line, &n, msg, len);
        put(line, &n, more, strlen(more));
        line[n++] = '\n';
    }
    out_line(lvl, line, n);
}

void lg_log_write(const struct lg_log *log, enum lg_log_level lvl, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m >= 0)
        emit(log, lvl, msg, (size_t)m);
}

void lg_log_text(const struct lg_log *log, enum lg_log_level lvl, const char *msg, size_t len)
{
    if ((int)lvl <= lg_log_threshold)
        emit(log, lvl, msg, len);
}
