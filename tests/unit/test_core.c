/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/core: integer parsing, hex, UTF-8, path safety, MD5,
 * the limited buffer, the logger's lines and held lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/str.h"

#include "harness.h"

LG_TEST(parse_integers)
{
    static const struct {
        const char *in;
        int64_t min, max;
        int ret;
        int64_t val;
    } rows[] = {
        { "0", 0, 10, 0, 0 },
        { "10", 0, 10, 0, 10 },
        { "11", 0, 10, LG_ETOOBIG, 0 },
        { "-1", 0, 10, LG_EPARSE, 0 },
        { "-5", -10, 10, 0, -5 },
        { "", 0, 10, LG_EPARSE, 0 },
        { " 1", 0, 10, LG_EPARSE, 0 },
        { "1 ", 0, 10, LG_EPARSE, 0 },
        { "1x", 0, 10, LG_EPARSE, 0 },
        { "+1", 0, 10, LG_EPARSE, 0 },
        { "99999999999999999999999", 0, INT64_MAX, LG_ETOOBIG, 0 },
        { "9223372036854775807", 0, INT64_MAX, 0, INT64_MAX },
        { "-9223372036854775808", INT64_MIN, 0, 0, INT64_MIN },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t v = -42;
        int r = lg_str_to_i64(rows[i].in, rows[i].min, rows[i].max, &v);
        CHECK_INT(r, rows[i].ret);
        CHECK_INT(v, r == 0 ? rows[i].val : -42);
    }
}

LG_TEST(hex_round_trip)
{
    unsigned char in[] = { 0x00, 0x7f, 0x80, 0xff };
    char hex[9];
    lg_hex_encode(hex, in, sizeof(in));
    CHECK_STR(hex, "007f80ff");
    unsigned char out[4];
    CHECK_INT(lg_hex_decode(out, sizeof(out), "007F80fF"), 4);
    CHECK(memcmp(in, out, 4) == 0);
    CHECK_INT(lg_hex_decode(out, sizeof(out), "abc"), LG_EPARSE);
    CHECK_INT(lg_hex_decode(out, sizeof(out), "zz"), LG_EPARSE);
    CHECK_INT(lg_hex_decode(out, sizeof(out), "0011223344"), LG_ETOOBIG);
}

LG_TEST(percent_decoding)
{
    static const struct {
        const char *in;
        bool plus;
        const char *out;
    } rows[] = {
        { "a%20b", false, "a b" },
        { "a+b", true, "a b" },
        { "a+b", false, "a+b" },
        { "%41%6a", false, "Aj" },
        { "100%", false, "100%" },
        { "%4", false, "%4" },
        { "%zz", false, "%zz" },
        { "%%41", false, "%A" },
        { "", true, "" },
        { "%2e%2E/x", false, "../x" },
        { "plain", true, "plain" },
        { "abc+d%41", false, "abc+dA" },
        { "abcdefghijklmnopqrstuvwxyz0123456789+%41", true,
          "abcdefghijklmnopqrstuvwxyz0123456789 A" },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *s = lg_xstrdup(rows[i].in);
        CHECK_INT(lg_percent_decode(s, rows[i].plus), strlen(rows[i].out));
        CHECK_STR(s, rows[i].out);
        free(s);
    }
}

LG_TEST(utf8)
{
    CHECK(lg_utf8_valid("abc", 3));
    CHECK(lg_utf8_valid("\xc3\xa9", 2));
    CHECK(lg_utf8_valid("\xf0\x9f\x8e\xb5", 4));
    CHECK(!lg_utf8_valid("\xc0\xaf", 2));     /* overlong '/' */
    CHECK(!lg_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    CHECK(!lg_utf8_valid("\xe9t\xe9", 3));    /* Latin-1 */
    CHECK(!lg_utf8_valid("\xf0\x9f\x8e", 3)); /* truncated */
    char *s = lg_utf8_sanitize("\xe9t\xe9", 3);
    CHECK_STR(s, "\xef\xbf\xbdt\xef\xbf\xbd");
    free(s);
    s = lg_utf8_sanitize("caf\xc3\xa9", 5);
    CHECK_STR(s, "caf\xc3\xa9");
    free(s);
}

LG_TEST(path_safety)
{
    static const struct {
        const char *path;
        bool safe;
    } rows[] = {
        { "a.mp3", true },      { "Artist/Album/01 Song.flac", true },
        { "..hidden/x", true }, { "a..b", true },
        { "", false },          { "/etc/passwd", false },
        { "../x", false },      { "a/../../x", false },
        { "a/..", false },      { "./a", false },
        { "a//b", false },      { "a/", false },
        { "a\\..\\b", false },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (lg_path_rel_safe(rows[i].path) != rows[i].safe) {
            fprintf(stderr, "  path '%s'\n", rows[i].path);
            CHECK(0);
        }
    }
    CHECK(!lg_path_rel_safe(NULL));
}

LG_TEST(md5_vectors)
{
    /* RFC 1321, appendix A.5, plus the Subsonic documentation's example. */
    static const struct {
        const char *in;
        const char *hex;
    } rows[] = {
        { "", "d41d8cd98f00b204e9800998ecf8427e" },
        { "abc", "900150983cd24fb0d6963f7d28e17f72" },
        { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
        { "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
          "57edf4a22be3c955ac49da2e2107b67a" },
        { "sesamec19b2d", "26719a1196d2a940705a59634eb18eab" },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unsigned char d[16];
        char hex[33];
        lg_md5(rows[i].in, strlen(rows[i].in), d);
        lg_hex_encode(hex, d, 16);
        CHECK_STR(hex, rows[i].hex);
    }
}

LG_TEST(buf_limit)
{
    struct lg_buf b;
    lg_buf_init(&b, 8);
    CHECK_INT(lg_buf_puts(&b, "abcd"), 0);
    CHECK_INT(lg_buf_printf(&b, "%d", 123), 0);
    CHECK_STR(b.data, "abcd123");
    CHECK_INT(lg_buf_puts(&b, "xy"), LG_ETOOBIG);
    CHECK_INT(b.len, 0);
    CHECK_INT(lg_buf_append(&b, "12345678", 8), 0);
    CHECK_INT(lg_buf_append(&b, "", 0), 0);
    CHECK_INT(lg_buf_append(&b, "9", 1), LG_ETOOBIG);
    char *s = lg_buf_steal(&b);
    CHECK_STR(s, "");
    free(s);
    lg_buf_free(&b);
}

LG_TEST(case_helpers)
{
    CHECK(lg_str_casecmp("Cover.JPG", "cover.jpg") == 0);
    CHECK(lg_str_casecmp("a", "b") < 0);
    CHECK(lg_str_has_suffix_ci("Song.MP3", ".mp3"));
    CHECK(!lg_str_has_suffix_ci("mp3", ".mp3"));
}

/* mkdir -p with its mode, parents of a path, and whole writes read back. */
LG_TEST(files)
{
    char *tmp = lg_test_tmpdir("core-fs");
    char *deep = lg_xasprintf("%s/a/b/c", tmp);
    CHECK_INT(lg_mkdir_p(deep, 0700), 0);
    CHECK_INT(lg_mkdir_p(deep, 0700), 0); /* all there: fine */
    struct stat st;
    CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    char *file = lg_xasprintf("%s/x/y/f", tmp);
    CHECK_INT(lg_mkdir_parent(file, 0755), 0);
    char *parent = lg_xasprintf("%s/x/y", tmp);
    CHECK(stat(parent, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT(lg_mkdir_parent("no-slash", 0755), 0);
    /* A file where a folder should be. */
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    char *under = lg_xasprintf("%s/z", file);
    CHECK_INT(lg_mkdir_p(under, 0700), -ENOTDIR);
    CHECK_INT(lg_write_all(fd, "hello, ", 7), 0);
    CHECK_INT(lg_pwrite_all(fd, 7, "world", 5), 0);
    CHECK_INT(lg_pwrite_all(fd, 0, "J", 1), 0);
    close(fd);
    char got[16] = { 0 };
    fd = open(file, O_RDONLY);
    CHECK(fd >= 0 && read(fd, got, sizeof(got)) == 12);
    close(fd);
    CHECK_STR(got, "Jello, world");
    CHECK(lg_write_all(-1, "x", 1) == -EBADF);
    free(under);
    free(parent);
    free(file);
    free(deep);
    free(tmp);
}

/* Logs msg with stderr sent to a file, through lg_log_write or, with
 * as_text, lg_log_text; returns what was written. */
static char *logged(int json, bool as_text, enum lg_log_level lvl, const char *msg)
{
    static const struct lg_log tlog = { "core/test" };
    char *dir = lg_test_tmpdir("core");
    char *path = lg_xasprintf("%s/log.txt", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int saved = dup(STDERR_FILENO);
    lg_assert(fd >= 0 && saved >= 0 && dup2(fd, STDERR_FILENO) == STDERR_FILENO);
    lg_log_setup(LG_LOG_TRACE, json);
    if (as_text)
        lg_log_text(&tlog, lvl, msg, strlen(msg));
    else
        lg_log_write(&tlog, lvl, "%s", msg);
    lg_log_setup(LG_LOG_INFO, 0);
    lg_assert(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
    close(saved);
    struct stat st;
    lg_assert(fstat(fd, &st) == 0);
    char *out = lg_xmalloc((size_t)st.st_size + 1);
    lg_assert(pread(fd, out, (size_t)st.st_size, 0) == st.st_size);
    out[st.st_size] = '\0';
    close(fd);
    free(path);
    free(dir);
    return out;
}

/* "2026-11-26T21:07:23.849Z " then the level padded to five, the subsystem,
 * the message and one newline; JSON has the same fields. */
LG_TEST(log_lines)
{
    for (int as_text = 0; as_text < 2; as_text++) {
        char *out = logged(0, as_text, LG_LOG_WARN, "x=5 y");
        CHECK(strlen(out) == 24 + strlen(" warn  core/test: x=5 y\n"));
        CHECK(out[4] == '-' && out[10] == 'T' && out[19] == '.' && out[23] == 'Z');
        CHECK_STR(out + 23, "Z warn  core/test: x=5 y\n");
        free(out);
        out = logged(0, as_text, LG_LOG_ERROR, "e");
        CHECK_STR(out + 23, "Z error core/test: e\n");
        free(out);
        /* A file name with a newline or an escape sequence stays on its line. */
        out = logged(0, as_text, LG_LOG_WARN, "skipping a\n2026 error x: forged\x1b[2J\t\x7f.mp3");
        CHECK_STR(out + 23, "Z warn  core/test: skipping a?2026 error x: forged?[2J??.mp3\n");
        free(out);

        /* A long message is cut at 2,047 bytes, the last three "...". */
        char *big = lg_xmalloc(3001);
        memset(big, 'a', 3000);
        big[3000] = '\0';
        out = logged(0, as_text, LG_LOG_INFO, big);
        size_t prefix = strlen("2026-11-26T21:07:23.849Z info  core/test: ");
        CHECK(strlen(out) == prefix + 2047 + 1);
        CHECK(strcmp(out + prefix + 2044, "...\n") == 0);
        CHECK(out[prefix + 2043] == 'a');
        free(out);
        /* 2,047 bytes fit whole; 2,048 do not. */
        big[2047] = '\0';
        out = logged(0, as_text, LG_LOG_INFO, big);
        CHECK(strlen(out) == prefix + 2047 + 1 && out[prefix + 2046] == 'a');
        free(out);
        big[2047] = 'a';
        big[2048] = '\0';
        out = logged(0, as_text, LG_LOG_INFO, big);
        CHECK(strcmp(out + prefix + 2044, "...\n") == 0);
        free(out);

        out = logged(1, as_text, LG_LOG_DEBUG, "quote \" tab\t\x1f");
        CHECK(strncmp(out, "{\"time\":\"", 9) == 0);
        CHECK(strstr(out, "Z\",\"level\":\"debug\",\"subsystem\":\"core/test\","
                          "\"msg\":\"quote \\\" tab\\u0009\\u001f\"}\n") != NULL);
        free(out);
        /* JSON is UTF-8: a Latin-1 file name's stray byte becomes U+FFFD. */
        out = logged(1, as_text, LG_LOG_WARN, "skipping caf\xe9.mp3");
        CHECK(strstr(out, "\"msg\":\"skipping caf\xef\xbf\xbd.mp3\"}\n") != NULL);
        CHECK(lg_utf8_valid(out, strlen(out)));
        free(out);
        /* Cleaned, such a name takes three bytes a byte: the line is cut
         * before a whole character, and says so. */
        memset(big, 0xe9, 2000);
        big[2000] = '\0';
        out = logged(1, as_text, LG_LOG_WARN, big);
        CHECK(lg_utf8_valid(out, strlen(out)));
        CHECK(strstr(out, "\xef\xbf\xbd...\"}\n") != NULL);
        free(out);
        memset(big, 'b', 3000); /* NUL at 3000 still */
        out = logged(1, as_text, LG_LOG_INFO, big);
        CHECK(strstr(out, "bbb...\"}\n") != NULL);
        free(out);
        free(big);
    }
}

/* stderr sent to a file while a test looks at what is written when. */
struct capture {
    char *dir, *path;
    int fd, saved;
};

static void capture_begin(struct capture *c)
{
    c->dir = lg_test_tmpdir("core");
    c->path = lg_xasprintf("%s/log.txt", c->dir);
    c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    c->saved = dup(STDERR_FILENO);
    lg_assert(c->fd >= 0 && c->saved >= 0 && dup2(c->fd, STDERR_FILENO) == STDERR_FILENO);
    lg_log_setup(LG_LOG_INFO, 0);
}

/* What the file holds now (the caller frees it). */
static char *captured(const struct capture *c)
{
    struct stat st;
    lg_assert(fstat(c->fd, &st) == 0);
    char *out = lg_xmalloc((size_t)st.st_size + 1);
    lg_assert(pread(c->fd, out, (size_t)st.st_size, 0) == st.st_size);
    out[st.st_size] = '\0';
    return out;
}

static void capture_end(struct capture *c)
{
    lg_assert(dup2(c->saved, STDERR_FILENO) == STDERR_FILENO);
    close(c->saved);
    close(c->fd);
    free(c->path);
    free(c->dir);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const struct lg_log hold_log = { "core/hold" };

static void *holding_thread(void *arg)
{
    (void)arg;
    lg_log_hold(true);
    lg_log(&hold_log, LG_LOG_INFO, "from a thread that ends");
    return NULL;
}

/* A holding thread's lines wait for lg_log_flush, a warning, a full buffer
 * or the thread's end, and keep their order. */
LG_TEST(held_lines)
{
    struct capture c;
    capture_begin(&c);
    lg_log_hold(true);
    lg_log(&hold_log, LG_LOG_INFO, "one");
    lg_log(&hold_log, LG_LOG_INFO, "two");
    char *out = captured(&c);
    CHECK_STR(out, "");
    free(out);
    lg_log_flush();
    out = captured(&c);
    CHECK(count_lines(out) == 2 && strstr(out, "info  core/hold: one\n") != NULL);
    CHECK(strstr(out, "one\n") < strstr(out, "core/hold: two\n"));
    free(out);

    /* A warning goes out at once, after the lines held before it. */
    lg_log(&hold_log, LG_LOG_INFO, "three");
    lg_log(&hold_log, LG_LOG_WARN, "four");
    out = captured(&c);
    CHECK(count_lines(out) == 4 && strstr(out, "three\n") != NULL);
    CHECK(strstr(out, "three\n") < strstr(out, "warn  core/hold: four\n"));
    free(out);

    /* A full buffer is written whole lines at a time, PIPE_BUF at most. */
    char msg[200];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    size_t before = strlen(out = captured(&c));
    free(out);
    int lines = 0;
    for (; lines < 40; lines++) {
        lg_log(&hold_log, LG_LOG_INFO, "%s", msg);
        out = captured(&c);
        size_t now = strlen(out);
        free(out);
        if (now > before) {
            CHECK(now - before <= PIPE_BUF && now - before > PIPE_BUF - 300);
            break;
        }
    }
    CHECK(lines > 10 && lines < 40); /* the line that did not fit is still held */
    lg_log_flush();
    out = captured(&c);
    CHECK(count_lines(out) == 4 + (size_t)lines + 1 && out[strlen(out) - 1] == '\n');
    free(out);

    /* A line longer than the buffer (JSON's escapes) follows the held ones. */
    lg_log(&hold_log, LG_LOG_INFO, "five");
    char esc[2001];
    memset(esc, 1, sizeof(esc) - 1);
    esc[sizeof(esc) - 1] = '\0';
    lg_log_setup(LG_LOG_INFO, 1);
    lg_log(&hold_log, LG_LOG_INFO, "%s", esc);
    lg_log_setup(LG_LOG_INFO, 0);
    out = captured(&c);
    char *five = strstr(out, "five\n"), *big = strstr(out, "\\u0001\\u0001");
    CHECK(five != NULL && big != NULL && five < big);
    free(out);

    /* Off: the held lines go out, and each line after them at once. */
    lg_log(&hold_log, LG_LOG_INFO, "six");
    lg_log_hold(false);
    lg_log(&hold_log, LG_LOG_INFO, "seven");
    out = captured(&c);
    CHECK(strstr(out, "six\n") != NULL && strstr(out, "seven\n") != NULL);
    free(out);

    /* A thread's held lines are written when it ends. */
    pthread_t t;
    lg_assert(pthread_create(&t, NULL, holding_thread, NULL) == 0);
    pthread_join(t, NULL);
    out = captured(&c);
    CHECK(strstr(out, "core/hold: from a thread that ends\n") != NULL);
    free(out);
    capture_end(&c);
}

/* The integer formatters against printf's answers. */
LG_TEST(integer_formatting)
{
    static const int64_t signed_rows[] = { 0, 1, -1, 9, 10, -10, 65535, INT64_MAX, INT64_MIN };
    char got[LG_FMT_INT_MAX], want[32];
    for (size_t i = 0; i < LG_ARRAY_LEN(signed_rows); i++) {
        snprintf(want, sizeof(want), "%" PRId64, signed_rows[i]);
        CHECK_INT((long long)lg_fmt_i64(got, signed_rows[i]), (long long)strlen(want));
        CHECK_STR(got, want);
    }
    /* Every length, and both sides of each power of ten. */
    for (uint64_t p = 1; p <= UINT64_MAX / 10; p *= 10) {
        for (uint64_t v = p - 1; v <= p + 1; v++) {
            snprintf(want, sizeof(want), "%" PRIu64, v);
            CHECK_INT((long long)lg_fmt_u64(got, v), (long long)strlen(want));
            CHECK_STR(got, want);
        }
    }
    for (uint64_t v = 0; v < 100000; v += 7) {
        snprintf(want, sizeof(want), "%" PRIu64, v * 7919);
        lg_fmt_u64(got, v * 7919);
        CHECK_STR(got, want);
    }
    static const uint64_t unsigned_rows[] = { 0, 7, 15, 16, 255, 1000000007, UINT64_MAX };
    for (size_t i = 0; i < LG_ARRAY_LEN(unsigned_rows); i++) {
        snprintf(want, sizeof(want), "%" PRIu64, unsigned_rows[i]);
        CHECK_INT((long long)lg_fmt_u64(got, unsigned_rows[i]), (long long)strlen(want));
        CHECK_STR(got, want);
        snprintf(want, sizeof(want), "%" PRIx64, unsigned_rows[i]);
        CHECK_INT((long long)lg_fmt_hex64(got, unsigned_rows[i]), (long long)strlen(want));
        CHECK_STR(got, want);
    }
}

LG_TEST_MAIN(LG_CASE(parse_integers), LG_CASE(files), LG_CASE(hex_round_trip),
             LG_CASE(percent_decoding), LG_CASE(utf8), LG_CASE(path_safety), LG_CASE(md5_vectors),
             LG_CASE(buf_limit), LG_CASE(case_helpers), LG_CASE(log_lines), LG_CASE(held_lines),
             LG_CASE(integer_formatting))
