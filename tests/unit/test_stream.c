/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of stream/ (direct serving): Range parsing, ETag matching,
 * If-Range, HTTP dates, the answer plan, Content-Disposition, opening files
 * and tracks by id (through a real store). One table row per behaviour.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "stream/stream.h"

#include "harness.h"

LG_TEST(range_parse)
{
    static const struct {
        const char *hdr;
        int64_t size;
        int rc;
        int64_t first, len;
    } rows[] = {
        { NULL, 1000, 0, 0, 0 },
        { "bytes=0-499", 1000, 1, 0, 500 },
        { "bytes=100-199", 1000, 1, 100, 100 },
        { "bytes=500-", 1000, 1, 500, 500 },
        { "bytes=-200", 1000, 1, 800, 200 },
        { "bytes=-2000", 1000, 1, 0, 1000 },     /* suffix longer than the file */
        { "bytes=900-5000", 1000, 1, 900, 100 }, /* last clamped */
        { "bytes=999-999", 1000, 1, 999, 1 },
        { "bytes=0-0", 1000, 1, 0, 1 },
        { "Bytes=1-2", 1000, 1, 1, 2 },     /* unit is case-insensitive */
        { "  bytes=1-2  ", 1000, 1, 1, 2 }, /* surrounding whitespace */
        { "bytes = 1-2", 1000, 1, 1, 2 },
        { "bytes=1-2,", 1000, 1, 1, 2 }, /* empty list elements */
        { "bytes=, 1-2", 1000, 1, 1, 2 },
        { "bytes=1000-", 1000, LG_ERANGE, 0, 0 },
        { "bytes=1000-2000", 1000, LG_ERANGE, 0, 0 },
        { "bytes=-0", 1000, LG_ERANGE, 0, 0 },
        { "bytes=0-", 0, LG_ERANGE, 0, 0 }, /* empty file */
        { "bytes=-5", 0, LG_ERANGE, 0, 0 },
        { "bytes=99999999999999999999999-", 1000, LG_ERANGE, 0, 0 }, /* saturates */
        { "bytes=0-99999999999999999999999", 1000, 1, 0, 1000 },
        { "bytes=-99999999999999999999999", 1000, 1, 0, 1000 },
        { "bytes=5-2", 1000, 0, 0, 0 },     /* last < first: ignored */
        { "bytes=0-1,5-6", 1000, 0, 0, 0 }, /* several ranges: whole file */
        { "bytes=0-5,3-8", 1000, 0, 0, 0 }, /* overlapping */
        { "bytes=1 - 2", 1000, 0, 0, 0 },
        { "bytes=", 1000, 0, 0, 0 },
        { "bytes=-", 1000, 0, 0, 0 },
        { "bytes=--5", 1000, 0, 0, 0 },
        { "bytes=+5-", 1000, 0, 0, 0 },
        { "bytes=0x10-", 1000, 0, 0, 0 },
        { "bytes=1-2junk", 1000, 0, 0, 0 },
        { "bytes 1-2", 1000, 0, 0, 0 },
        { "items=1-2", 1000, 0, 0, 0 },
        { "bytesx=1-2", 1000, 0, 0, 0 },
        { "", 1000, 0, 0, 0 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        struct lg_range r = { -1, -1 };
        int rc = lg_range_parse(rows[i].hdr, rows[i].size, &r);
        if (rc != rows[i].rc)
            fprintf(stderr, "  row %zu: \"%s\"\n", i, rows[i].hdr ? rows[i].hdr : "(null)");
        CHECK_INT(rc, rows[i].rc);
        if (rc == 1) {
            CHECK_INT(r.first, rows[i].first);
            CHECK_INT(r.len, rows[i].len);
        }
    }
}

LG_TEST(etag_make)
{
    char a[LG_ETAG_MAX];
    char b[LG_ETAG_MAX];
    lg_etag_make(a, 12, 5000, 1700000000123456789);
    CHECK_STR(a, "\"c-1388-17979cfe3d85cd15\"");
    lg_etag_make(b, 12, 5000, 1700000000123456790); /* 1 ns later */
    CHECK(strcmp(a, b) != 0);
    lg_etag_make(b, UINT64_MAX, INT64_MAX, INT64_MAX);
    CHECK_STR(b, "\"ffffffffffffffff-7fffffffffffffff-7fffffffffffffff\"");
    CHECK(strlen(b) < LG_ETAG_MAX);
    lg_etag_make(b, 0, 0, 0);
    CHECK_STR(b, "\"0-0-0\"");
}

LG_TEST(etag_match_weak)
{
    static const struct {
        const char *hdr;
        bool match;
    } rows[] = {
        { "\"abc\"", true },
        { "W/\"abc\"", true },
        { "*", true },
        { " * ", true },
        { "\"x\", \"abc\"", true },
        { "\"x\",W/\"abc\"", true },
        { " , \"abc\" ,", true },
        { "\"x\", \"y\"", false },
        { "\"ab\"", false },
        { "abc", false },
        { "\"abc", false },
        { "w/\"abc\"", false },     /* the weak prefix is case-sensitive */
        { "\"x\" \"abc\"", false }, /* no comma */
        { "*, \"abc\"", false },
        { "", false },
        { NULL, false },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        bool m = lg_etag_match_weak(rows[i].hdr, "\"abc\"");
        if (m != rows[i].match)
            fprintf(stderr, "  row %zu: %s\n", i, rows[i].hdr ? rows[i].hdr : "(null)");
        CHECK(m == rows[i].match);
    }
}

LG_TEST(if_range)
{
    const int64_t mtime = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    static const struct {
        const char *hdr;
        bool ok;
    } rows[] = {
        { "\"abc\"", true },
        { " \"abc\" ", true },
        { "W/\"abc\"", false }, /* weak tags never match If-Range */
        { "\"abd\"", false },
        { "\"abc\", \"x\"", false },
        { "Sun, 06 Nov 1994 08:49:37 GMT", true },
        { "Sun, 06 Nov 1994 08:49:38 GMT", false }, /* must be exact */
        { "Sunday, 06-Nov-94 08:49:37 GMT", true },
        { "Sun Nov  6 08:49:37 1994", true },
        { "yesterday", false },
        { "", false },
        { NULL, false },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        bool ok = lg_if_range_ok(rows[i].hdr, "\"abc\"", mtime, mtime + 60);
        if (ok != rows[i].ok)
            fprintf(stderr, "  row %zu: %s\n", i, rows[i].hdr ? rows[i].hdr : "(null)");
        CHECK(ok == rows[i].ok);
    }
    /* A date is a strong validator only once its second is over: a file
     * written twice within it has one date for two contents. */
    const char *date = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(!lg_if_range_ok(date, "\"abc\"", mtime, mtime));
    CHECK(lg_if_range_ok(date, "\"abc\"", mtime, mtime + 1));
    CHECK(lg_if_range_ok("\"abc\"", "\"abc\"", mtime, mtime));    /* tags need no wait */
    CHECK(!lg_if_range_ok(date, "W/\"abc\"", mtime, mtime + 60)); /* no strong validator */
}

LG_TEST(http_date_format)
{
    static const struct {
        int64_t t;
        const char *s;
    } rows[] = {
        { 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
        { 784111777, "Sun, 06 Nov 1994 08:49:37 GMT" },
        { 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },
        { 4102444799, "Thu, 31 Dec 2099 23:59:59 GMT" },
        { -1, "Wed, 31 Dec 1969 23:59:59 GMT" },
        { -62167219200, "Sat, 01 Jan 0000 00:00:00 GMT" },
        { 253402300799, "Fri, 31 Dec 9999 23:59:59 GMT" },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        char out[LG_HTTP_DATE_LEN];
        CHECK_INT(lg_http_date_format(rows[i].t, out), 29);
        CHECK_STR(out, rows[i].s);
    }
    char out[LG_HTTP_DATE_LEN];
    CHECK_INT(lg_http_date_format(253402300800, out), LG_EINVAL); /* year 10000 */
}

LG_TEST(http_date_parse)
{
    static const struct {
        const char *s;
        int rc;
        int64_t t;
    } rows[] = {
        { "Sun, 06 Nov 1994 08:49:37 GMT", 0, 784111777 },
        { "Sunday, 06-Nov-94 08:49:37 GMT", 0, 784111777 },
        { "Sun Nov  6 08:49:37 1994", 0, 784111777 },
        { "Sun Nov 16 08:49:37 1994", 0, 784975777 },
        { "Thu, 01 Jan 1970 00:00:00 GMT", 0, 0 },
        { "Tue, 29 Feb 2000 00:00:00 GMT", 0, 951782400 },
        { "Thursday, 01-Jan-70 00:00:00 GMT", 0, 0 },
        { "Saturday, 01-Jan-00 00:00:00 GMT", 0, 946684800 },
        { "Thu, 31 Dec 2099 23:59:59 GMT", 0, 4102444799 },
        { "Sat, 31 Dec 2016 23:59:60 GMT", 0, 1483228799 }, /* leap second */
        { "Mon, 29 Feb 2100 00:00:00 GMT", LG_EPARSE, 0 },  /* not a leap year */
        { "Sun, 31 Nov 1994 08:49:37 GMT", LG_EPARSE, 0 },
        { "Sun, 06 Nov 1994 24:00:00 GMT", LG_EPARSE, 0 },
        { "Sun, 06 Nov 1994 08:49:37 UTC", LG_EPARSE, 0 },
        { "Sun, 06 Nov 1994 08:49:37 GMT ", LG_EPARSE, 0 },
        { "Sun, 6 Nov 1994 08:49:37 GMT", LG_EPARSE, 0 },
        { "sun, 06 nov 1994 08:49:37 GMT", LG_EPARSE, 0 },
        { "Sun, 06 Nvm 1994 08:49:37 GMT", LG_EPARSE, 0 },
        { "1994-11-06T08:49:37Z", LG_EPARSE, 0 },
        { "", LG_EPARSE, 0 },
        { NULL, LG_EPARSE, 0 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        int64_t t = -42;
        int rc = lg_http_date_parse(rows[i].s, &t);
        if (rc != rows[i].rc)
            fprintf(stderr, "  row %zu: %s\n", i, rows[i].s ? rows[i].s : "(null)");
        CHECK_INT(rc, rows[i].rc);
        CHECK_INT(t, rc == 0 ? rows[i].t : -42); /* untouched on failure */
    }
}

LG_TEST(date_round_trip)
{
    for (int64_t t = -86400 * 400; t < 4102444800; t += 86400 * 37 + 3607) {
        char s[LG_HTTP_DATE_LEN];
        int64_t back = 0;
        CHECK_INT(lg_http_date_format(t, s), 29);
        CHECK_INT(lg_http_date_parse(s, &back), 0);
        CHECK_INT(back, t);
    }
}

LG_TEST(plan)
{
    const char *etag = "\"e1\"";
    enum { mtime = 784111777 }; /* a constant for the rows' initializers */
    static const struct {
        struct lg_stream_cond c;
        int status;
        int64_t offset, length;
    } rows[] = {
        { { 0 }, 200, 0, 1000 },
        { { .range = "bytes=10-19" }, 206, 10, 10 },
        { { .range = "bytes=-10" }, 206, 990, 10 },
        { { .range = "bytes=2000-" }, 416, 0, 0 },
        { { .range = "bytes=9-1" }, 200, 0, 1000 },
        { { .range = "lines=1-2" }, 200, 0, 1000 },
        { { .if_none_match = "\"e1\"" }, 304, 0, 0 },
        { { .if_none_match = "W/\"e1\"", .range = "bytes=0-1" }, 304, 0, 0 },
        { { .if_none_match = "\"zz\"", .range = "bytes=0-1" }, 206, 0, 2 },
        { { .if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT" }, 304, 0, 0 },
        { { .if_modified_since = "Sun, 06 Nov 1994 08:49:36 GMT" }, 200, 0, 1000 },
        { { .if_modified_since = "garbage" }, 200, 0, 1000 },
        /* If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3) */
        { { .if_none_match = "\"zz\"", .if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT" },
          200,
          0,
          1000 },
        { { .range = "bytes=0-1", .if_range = "\"e1\"" }, 206, 0, 2 },
        { { .range = "bytes=0-1", .if_range = "\"old\"" }, 200, 0, 1000 },
        { { .range = "bytes=0-1", .if_range = "W/\"e1\"" }, 200, 0, 1000 },
        { { .range = "bytes=0-1", .if_range = "Sun, 06 Nov 1994 08:49:37 GMT", .now_s = mtime + 1 },
          206,
          0,
          2 },
        { { .range = "bytes=0-1", .if_range = "Sun, 06 Nov 1994 08:49:37 GMT", .now_s = mtime },
          200,
          0,
          1000 },
        { { .range = "bytes=0-1", .if_range = "Sun, 06 Nov 1994 08:00:00 GMT", .now_s = mtime + 1 },
          200,
          0,
          1000 },
        { { .range = "bytes=5000-", .if_range = "\"old\"" }, 200, 0, 1000 },
        { { .if_range = "\"e1\"" }, 200, 0, 1000 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        struct lg_stream_plan p;
        lg_stream_plan(1000, mtime, etag, &rows[i].c, &p);
        if (p.status != rows[i].status)
            fprintf(stderr, "  row %zu\n", i);
        CHECK_INT(p.status, rows[i].status);
        CHECK_INT(p.offset, rows[i].offset);
        CHECK_INT(p.length, rows[i].length);
    }
}

LG_TEST(content_disposition)
{
    static const struct {
        const char *name;
        const char *out;
    } rows[] = {
        { "song.mp3", "attachment; filename=\"song.mp3\"; filename*=UTF-8''song.mp3" },
        { "01 - Intro.flac",
          "attachment; filename=\"01 - Intro.flac\"; filename*=UTF-8''01%20-%20Intro.flac" },
        { "caf\xc3\xa9.mp3", "attachment; filename=\"caf_.mp3\"; filename*=UTF-8''caf%C3%A9.mp3" },
        { "\xe6\x97\xa5\xe6\x9c\xac.ogg",
          "attachment; filename=\"__.ogg\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.ogg" },
        { "a\"b\\c%d.mp3",
          "attachment; filename=\"a_b_c_d.mp3\"; filename*=UTF-8''a%22b_c%25d.mp3" },
        { "x\r\ny;z.mp3", "attachment; filename=\"x__y;z.mp3\"; filename*=UTF-8''x__y%3Bz.mp3" },
        { "a/b.mp3", "attachment; filename=\"a_b.mp3\"; filename*=UTF-8''a_b.mp3" },
        { "bad\xff.mp3", "attachment; filename=\"bad_.mp3\"; filename*=UTF-8''bad%EF%BF%BD.mp3" },
        { "", "attachment; filename=\"download\"; filename*=UTF-8''download" },
        { NULL, "attachment; filename=\"download\"; filename*=UTF-8''download" },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        char out[1024];
        int n = lg_content_disposition(rows[i].name, out, sizeof(out));
        CHECK_INT(n, (int)strlen(rows[i].out));
        CHECK_STR(out, rows[i].out);
    }
}

LG_TEST(content_disposition_limits)
{
    /* 300 two-byte characters: cut to 100 of them (200 bytes), never in the
     * middle of one. */
    char name[601];
    for (int i = 0; i < 300; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    name[600] = '\0';
    char out[1024];
    int n = lg_content_disposition(name, out, sizeof(out));
    CHECK(n > 0);
    const char *star = strstr(out, "UTF-8''");
    CHECK(star && strlen(star + 7) == 100 * 6);
    char small[40];
    CHECK_INT(lg_content_disposition("song.mp3", small, sizeof(small)), LG_ETOOBIG);
}

LG_TEST(mime)
{
    CHECK_STR(lg_stream_mime("mp3"), "audio/mpeg");
    CHECK_STR(lg_stream_mime("FLAC"), "audio/flac");
    CHECK_STR(lg_stream_mime("opus"), "audio/ogg");
    CHECK_STR(lg_stream_mime("m4a"), "audio/mp4");
    CHECK_STR(lg_stream_mime("exe"), "application/octet-stream");
    CHECK_STR(lg_stream_mime(""), "application/octet-stream");
    CHECK_STR(lg_stream_mime(NULL), "application/octet-stream");
}

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    lg_assert(f);
    fputs(data, f);
    fclose(f);
}

LG_TEST(open_files)
{
    char *dir = lg_test_tmpdir("stream_open");
    char *sub = lg_xasprintf("%s/sub", dir);
    char *file = lg_xasprintf("%s/sub/a.mp3", dir);
    char *fifo = lg_xasprintf("%s/pipe.mp3", dir);
    char *link = lg_xasprintf("%s/link.mp3", dir);
    lg_assert(mkdir(sub, 0755) == 0);
    write_file(file, "0123456789");
    lg_assert(mkfifo(fifo, 0644) == 0);
    lg_assert(symlink("sub/a.mp3", link) == 0);

    struct lg_stream_file f;
    CHECK_INT(lg_stream_open(dir, "sub/a.mp3", &f), 0);
    CHECK_INT(f.size, 10);
    CHECK(f.etag[0] == '"');
    CHECK_INT(strlen(f.last_modified), 29);
    char buf[4] = { 0 };
    CHECK_INT(pread(f.fd, buf, 3, 2), 3);
    CHECK_STR(buf, "234");
    lg_stream_file_close(&f);
    CHECK_INT(f.fd, -1);
    lg_stream_file_close(&f); /* twice is harmless */

    static const struct {
        const char *rel;
        int rc;
    } rows[] = {
        { "link.mp3", 0 }, /* links inside the library are followed */
        { "nope.mp3", -ENOENT },
        { "sub", LG_ENOTFOUND },      /* a directory */
        { "pipe.mp3", LG_ENOTFOUND }, /* a FIFO: must not block */
        { "../x.mp3", LG_EINVAL },
        { "/etc/passwd", LG_EINVAL },
        { "sub/../sub/a.mp3", LG_EINVAL },
        { "", LG_EINVAL },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        int rc = lg_stream_open(dir, rows[i].rel, &f);
        CHECK_INT(rc, rows[i].rc);
        if (rc == 0)
            lg_stream_file_close(&f);
    }
    free(link);
    free(fifo);
    free(file);
    free(sub);
    free(dir);
}

static int64_t add_track(struct lg_store *s, const char *path, const char *ctype,
                         const char *suffix)
{
    struct lg_track t = { 0 };
    t.path = (char *)path;
    t.size = 6;
    t.mtime_ns = 1;
    t.title = (char *)"t";
    t.content_type = (char *)ctype;
    t.suffix = (char *)suffix;
    int64_t id = 0;
    lg_assert(lg_store_track_upsert(s, &t, &id) == 0);
    return id;
}

/* Opens track id, checks what it is, and keeps its validators in *v when
 * v is not NULL. */
static void check_track_v(struct lg_stream *st, int64_t id, int64_t size, const char *ctype,
                          const char *name, struct lg_stream_file *v)
{
    struct lg_stream_file f;
    CHECK_INT(lg_stream_open_track(st, id, &f), 0);
    CHECK_INT(f.size, size);
    CHECK_STR(f.content_type, ctype);
    CHECK_STR(f.name, name);
    lg_stream_file_close(&f);
    if (v)
        *v = f;
}

static void check_track(struct lg_stream *st, int64_t id, int64_t size, const char *ctype,
                        const char *name)
{
    check_track_v(st, id, size, ctype, name, NULL);
}

/* Tracks by id through the store, with the id -> path cache in between. */
LG_TEST(open_track)
{
    char *dir = lg_test_tmpdir("stream_track");
    char *music = lg_xasprintf("%s/music", dir);
    char *sub = lg_xasprintf("%s/music/x", dir);
    char *a = lg_xasprintf("%s/music/a.mp3", dir);
    char *y = lg_xasprintf("%s/music/x/y.ogg", dir);
    char *db = lg_xasprintf("%s/legato.db", dir);
    lg_assert(mkdir(music, 0755) == 0 && mkdir(sub, 0755) == 0);
    write_file(a, "abcdef");
    write_file(y, "oggs");
    struct lg_store *s = NULL;
    lg_assert(lg_store_open(db, &s) == 0);
    int64_t id_a = add_track(s, "a.mp3", "audio/mpeg", "mp3");
    int64_t id_gone = add_track(s, "gone.flac", "", "flac");
    int64_t id_escape = add_track(s, "../escape.mp3", "audio/mpeg", "mp3");
    int64_t id_y = add_track(s, "x/y.ogg", "", "ogg");

    struct lg_stream *st = NULL;
    CHECK_INT(lg_stream_new(s, music, &st), 0);
    struct lg_stream_file v1, v2;
    check_track(st, id_a, 6, "audio/mpeg", "a.mp3");
    check_track_v(st, id_a, 6, "audio/mpeg", "a.mp3", &v1); /* from the cache */
    write_file(a, "abcdefgh");                              /* the file changes... */
    check_track_v(st, id_a, 8, "audio/mpeg", "a.mp3", &v2); /* ...and is seen at once */
    CHECK(strcmp(v1.etag, v2.etag) != 0);
    /* The same size with another time: new validators, not the kept ones. */
    struct timespec times[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
    lg_assert(utimensat(AT_FDCWD, a, times, 0) == 0);
    check_track_v(st, id_a, 8, "audio/mpeg", "a.mp3", &v1);
    CHECK(strcmp(v1.etag, v2.etag) != 0);
    CHECK_STR(v1.last_modified, "Sun, 09 Sep 2001 01:46:40 GMT");
    check_track(st, id_y, 4, "audio/ogg", "y.ogg"); /* type from the suffix */
    struct lg_stream_file f;
    CHECK_INT(lg_stream_open_track(st, id_gone, &f), LG_ENOTFOUND);
    CHECK_INT(lg_stream_open_track(st, id_escape, &f), LG_ENOTFOUND);
    CHECK_INT(lg_stream_open_track(st, 999999, &f), LG_ENOTFOUND);
    CHECK_INT(lg_stream_open_track(st, id_a + 256, &f), LG_ENOTFOUND); /* same slot */
    check_track(st, id_a, 8, "audio/mpeg", "a.mp3");
    /* Replaced by a rename: the kept descriptor has no link left. */
    char *tmp = lg_xasprintf("%s/music/new.tmp", dir);
    write_file(tmp, "0123456789AB");
    lg_assert(rename(tmp, a) == 0);
    check_track(st, id_a, 12, "audio/mpeg", "a.mp3");
    CHECK_INT(lg_stream_open_track(st, id_a, &f), 0);
    char buf[4] = { 0 };
    CHECK_INT(pread(f.fd, buf, 3, 0), 3);
    CHECK_STR(buf, "012");
    lg_stream_file_close(&f);
    lg_stream_idle(st); /* drops kept descriptors, not rows */
    lg_stream_idle(NULL);
    check_track(st, id_a, 12, "audio/mpeg", "a.mp3");
    lg_assert(unlink(a) == 0); /* deleted: gone at once */
    CHECK_INT(lg_stream_open_track(st, id_a, &f), LG_ENOTFOUND);
    free(tmp);
    lg_stream_free(st);
    lg_stream_free(NULL);
    lg_store_close(s);
    free(db);
    free(y);
    free(a);
    free(sub);
    free(music);
    free(dir);
}

LG_TEST_MAIN(LG_CASE(range_parse), LG_CASE(etag_make), LG_CASE(etag_match_weak), LG_CASE(if_range),
             LG_CASE(http_date_format), LG_CASE(http_date_parse), LG_CASE(date_round_trip),
             LG_CASE(plan), LG_CASE(content_disposition), LG_CASE(content_disposition_limits),
             LG_CASE(mime), LG_CASE(open_files), LG_CASE(open_track))
