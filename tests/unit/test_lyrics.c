/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of media/lyrics.c: the LRC and plain-text parser (one row per
 * behaviour, malformed lines included) and lg_media_lyrics on files made with
 * the ffmpeg command-line tool (a sidecar .lrc and lyrics tags).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "media/media.h"

#include "harness.h"

static char *tmp;

/* "START|TEXT\n" per line; START is -1 for unsynced lines. Caller frees. */
static char *dump(const struct lg_lyrics *l)
{
    struct lg_buf b;
    lg_buf_init(&b, 1 << 20);
    int r = lg_buf_puts(&b, "");
    for (size_t i = 0; r == 0 && i < l->n_lines; i++)
        r = lg_buf_printf(&b, "%lld|%s\n", (long long)l->lines[i].start_ms, l->lines[i].text);
    lg_assert(r == 0);
    return lg_buf_steal(&b);
}

LG_TEST(setup)
{
    lg_media_init();
    tmp = lg_test_tmpdir("lyrics");
}

LG_TEST(parse_table)
{
    static const struct {
        const char *name;
        const char *text;
        int rc;
        int synced;
        int offset_ms;
        const char *lang;
        const char *lines;
    } rows[] = {
        { "basic", "[00:01.00]Hello\n[00:02.50]World\n", 0, 1, 0, "und",
          "1000|Hello\n2500|World\n" },
        { "several stamps", "[00:03.00][00:01.00]Chorus\n[00:02.00]Verse", 0, 1, 0, "und",
          "1000|Chorus\n2000|Verse\n3000|Chorus\n" },
        { "metadata ignored", "[ar:Artist]\n[ti:Title]\n[length: 03:20]\n[00:01.00]A", 0, 1, 0,
          "und", "1000|A\n" },
        { "offset plus", "[offset:+250]\n[00:01.00]A", 0, 1, 250, "und", "1000|A\n" },
        { "offset minus", "[offset: -100]\n[00:01.00]A", 0, 1, -100, "und", "1000|A\n" },
        { "bad offset", "[offset:soon]\n[00:01.00]A", 0, 1, 0, "und", "1000|A\n" },
        { "fractions", "[00:01.5]a\n[00:01.05]b\n[00:01.005]c\n[01:00:50]d\n[00:02]e", 0, 1, 0,
          "und", "1005|c\n1050|b\n1500|a\n2000|e\n60500|d\n" },
        { "long minutes", "[123:04.00]x", 0, 1, 0, "und", "7384000|x\n" },
        { "malformed dropped",
          "[00:01.00]ok\n[0a:01.00]bad\n[00:61.00]bad\n[00:01.0000]bad\n[:01.00]bad\n"
          "[00:1.00]bad\nplain\n[00:02.00",
          0, 1, 0, "und", "1000|ok\n" },
        { "plain text", "\n\nLine one\n\nLine two\n\n", 0, 0, 0, "und",
          "-1|Line one\n-1|\n-1|Line two\n" },
        { "bom and crlf", "\xef\xbb\xbf[00:01.00]Hi\r\n[00:02.00]There\r\n", 0, 1, 0, "und",
          "1000|Hi\n2000|There\n" },
        { "word stamps", "[00:01.00]<00:01.00>Hello <00:01.50>world <b>", 0, 1, 0, "und",
          "1000|Hello world <b>\n" },
        { "pauses kept", "[00:01.00]A\n[00:02.00]\n[00:03.00]B", 0, 1, 0, "und",
          "1000|A\n2000|\n3000|B\n" },
        { "ties in file order", "[00:01.00]first\n[00:01.00]second", 0, 1, 0, "und",
          "1000|first\n1000|second\n" },
        { "spaces trimmed", "  [00:01.00]  spaced out  ", 0, 1, 0, "und", "1000|spaced out\n" },
        { "language tag", "[la:eng]\n[00:01.00]x", 0, 1, 0, "eng", "1000|x\n" },
        { "bad language tag", "[la:e\"g]\n[lang:  pt-BR ]\n[00:01.00]x", 0, 1, 0, "pt-BR",
          "1000|x\n" },
        { "unusable language tag", "[la:\xc3\xa9]\n[00:01.00]x", 0, 1, 0, "und", "1000|x\n" },
        { "section names are text", "[Chorus]\nLa la", 0, 0, 0, "und", "-1|[Chorus]\n-1|La la\n" },
        { "tag with words is text", "[note:this] words", 0, 0, 0, "und", "-1|[note:this] words\n" },
        { "invalid utf-8", "[00:01.00]caf\xe9", 0, 1, 0, "und", "1000|caf\xef\xbf\xbd\n" },
        { "only metadata", "[ar:x]\n[ti:y]\n", LG_ENOTFOUND, 0, 0, NULL, NULL },
        { "only blank", "\n \n\t\n", LG_ENOTFOUND, 0, 0, NULL, NULL },
        { "empty", "", LG_ENOTFOUND, 0, 0, NULL, NULL },
        { "only pauses", "[00:01.00]\n[00:02.00]", LG_ENOTFOUND, 0, 0, NULL, NULL },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        struct lg_lyrics l;
        int rc = lg_lyrics_parse(rows[i].text, strlen(rows[i].text), NULL, &l);
        if (rc != rows[i].rc)
            fprintf(stderr, "  row \"%s\"\n", rows[i].name);
        CHECK_INT(rc, rows[i].rc);
        if (rc < 0 || rows[i].rc < 0)
            continue;
        char *got = dump(&l);
        if (strcmp(got, rows[i].lines) != 0 || l.synced != rows[i].synced ||
            l.offset_ms != rows[i].offset_ms)
            fprintf(stderr, "  row \"%s\"\n", rows[i].name);
        CHECK_STR(got, rows[i].lines);
        CHECK_INT(l.synced, rows[i].synced);
        CHECK_INT(l.offset_ms, rows[i].offset_ms);
        CHECK_STR(l.lang, rows[i].lang);
        free(got);
        lg_lyrics_free(&l);
    }
}

LG_TEST(parse_limits)
{
    struct lg_lyrics l;
    size_t big = LG_LYRICS_BYTES_MAX + 1;
    char *text = lg_xmalloc(big);
    memset(text, 'a', big);
    CHECK_INT(lg_lyrics_parse(text, big, NULL, &l), LG_ETOOBIG);
    /* Many stamps on one line and a NUL inside the text stay bounded. */
    struct lg_buf b;
    lg_buf_init(&b, 1 << 20);
    for (int i = 0; i < 500; i++)
        CHECK_INT(lg_buf_printf(&b, "[00:%02d.00]", i % 60), 0);
    CHECK_INT(lg_buf_puts(&b, "x\n[00:01.00]before"), 0);
    CHECK_INT(lg_buf_append(&b, "\0\n[00:02.00]after", 18), 0);
    CHECK_INT(lg_lyrics_parse(b.data, b.len, "deu", &l), 0);
    CHECK(l.n_lines == 65);
    CHECK_STR(l.lang, "deu");
    lg_lyrics_free(&l);
    CHECK_INT(lg_lyrics_parse("a", 1, "x\xff", &l), 0);
    CHECK_STR(l.lang, "und");
    lg_lyrics_free(&l);
    /* Text copied once per stamp stays within LG_LYRICS_BYTES_MAX in all:
     * 1 MiB of lines with 64 stamps each would be 64 MiB. */
    lg_buf_free(&b);
    lg_buf_init(&b, 1 << 20);
    while (b.len < LG_LYRICS_BYTES_MAX - 20000) {
        for (int i = 0; i < 64; i++)
            CHECK_INT(lg_buf_printf(&b, "[%02d:%02d.00]", (int)(b.len / 1000) % 60, i % 60), 0);
        for (int i = 0; i < 1500; i++)
            CHECK_INT(lg_buf_puts(&b, "words here"), 0);
        CHECK_INT(lg_buf_puts(&b, "\n"), 0);
    }
    CHECK_INT(lg_lyrics_parse(b.data, b.len, NULL, &l), 0);
    size_t kept = 0;
    for (size_t i = 0; i < l.n_lines; i++)
        kept += strlen(l.lines[i].text);
    CHECK(kept <= LG_LYRICS_BYTES_MAX && kept > LG_LYRICS_BYTES_MAX - 15000);
    CHECK(l.n_lines >= 64);
    lg_lyrics_free(&l);
    lg_buf_free(&b);
    free(text);
}

static void run(const char *cmd)
{
    int r = system(cmd);
    lg_assert(r == 0);
}

LG_TEST(media_lyrics)
{
    char *flac = lg_xasprintf("%s/song.flac", tmp);
    char *cmd = lg_xasprintf("ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -t 0.2 "
                             "-i anullsrc=r=44100:cl=mono -c:a flac -metadata "
                             "LYRICS='[00:01.00]Tagged line' '%s'",
                             flac);
    run(cmd);
    free(cmd);
    struct lg_lyrics *v = NULL;
    size_t n = 0;
    CHECK_INT(lg_media_lyrics(flac, &v, &n), 1);
    CHECK(n == 1 && v[0].synced && v[0].n_lines == 1);
    if (n == 1 && v[0].n_lines == 1)
        CHECK_STR(v[0].lines[0].text, "Tagged line");
    lg_lyrics_list_free(v, n);
    /* A sidecar comes first. */
    char *lrc = lg_xasprintf("%s/song.lrc", tmp);
    FILE *f = fopen(lrc, "w");
    lg_assert(f != NULL);
    fputs("[ti:Song]\n[00:00.50]From the sidecar\n", f);
    fclose(f);
    CHECK_INT(lg_media_lyrics(flac, &v, &n), 2);
    CHECK(n == 2);
    if (n == 2)
        CHECK_STR(v[0].lines[0].text, "From the sidecar");
    lg_lyrics_list_free(v, n);
    free(lrc);

    char *mp3 = lg_xasprintf("%s/plain.mp3", tmp);
    cmd = lg_xasprintf("ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -t 0.2 "
                       "-i anullsrc=r=44100:cl=mono -c:a libmp3lame -metadata "
                       "lyrics-eng='Plain words' '%s'",
                       mp3);
    run(cmd);
    free(cmd);
    CHECK_INT(lg_media_lyrics(mp3, &v, &n), 1);
    CHECK(n == 1 && !v[0].synced);
    if (n == 1) {
        CHECK_STR(v[0].lang, "eng");
        CHECK_INT(v[0].lines[0].start_ms, -1);
        CHECK_STR(v[0].lines[0].text, "Plain words");
    }
    lg_lyrics_list_free(v, n);
    free(mp3);

    /* Missing and non-audio files have no lyrics. */
    CHECK_INT(lg_media_lyrics("/nonexistent/x.mp3", &v, &n), 0);
    CHECK(v == NULL && n == 0);
    CHECK_INT(lg_media_lyrics(tmp, &v, &n), 0);
    free(flac);
}

LG_TEST(teardown)
{
    free(tmp);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(parse_table), LG_CASE(parse_limits), LG_CASE(media_lyrics),
             LG_CASE(teardown))
