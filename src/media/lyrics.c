/* SPDX-License-Identifier: MIT */
/*
 * Lyrics: an LRC and plain-text parser, and reading a track's lyrics from a
 * sidecar .lrc file and from its tags. Nothing here runs during a scan: the
 * lyrics handlers call lg_media_lyrics when a client asks, so the catalogue
 * never stores lyrics and a changed .lrc file is seen at once.
 *
 * The parser works on one copy of the text, valid UTF-8 with CR removed, and
 * reads it line by line: leading [..] tags are taken off a line one by one
 * (time stamps are collected, known metadata tags are applied, anything else
 * ends the tags and belongs to the text). The result is synced when at least
 * one stamp was found; lines without one are then dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <strings.h>

#include "core/str.h"
#include "media/media.h"
#include "media/media_int.h"

#define STAMPS_MAX     64     /* time stamps taken from one line */
#define LINES_MAX      100000 /* lines kept from one text */
#define MINUTES_MAX    100000 /* a stamp's minutes (about 69 days) */
#define LANG_MAX       16     /* bytes of a language code kept */
#define TAG_LYRICS_MAX 16     /* lyrics tags read from one file */
/* Text kept from all the lyrics of one file. */
#define FOUND_BYTES_MAX ((size_t)2 * LG_LYRICS_BYTES_MAX)

void lg_lyrics_free(struct lg_lyrics *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_lines; i++)
        free(l->lines[i].text);
    free(l->lines);
    free(l->lang);
    memset(l, 0, sizeof(*l));
}

void lg_lyrics_list_free(struct lg_lyrics *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        lg_lyrics_free(&v[i]);
    free(v);
}

/* Parses the inside of a time stamp: "mm:ss", "mm:ss.f", "mm:ss.ff",
 * "mm:ss.fff" (or ':' before the fraction). Writes milliseconds. */
static bool parse_stamp(const char *s, size_t len, int64_t *ms)
{
    size_t i = 0;
    int64_t min = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9' && min <= MINUTES_MAX)
        min = min * 10 + (s[i++] - '0');
    if (i == 0 || i > 6 || i >= len || s[i] != ':')
        return false;
    i++;
    if (len - i < 2 || s[i] < '0' || s[i] > '5' || s[i + 1] < '0' || s[i + 1] > '9')
        return false;
    int64_t sec = (s[i] - '0') * 10 + (s[i + 1] - '0');
    i += 2;
    int64_t frac = 0;
    if (i < len) {
        if ((s[i] != '.' && s[i] != ':') || len - i - 1 < 1 || len - i - 1 > 3)
            return false;
        int digits = 0;
        for (i++; i < len; i++, digits++) {
            if (s[i] < '0' || s[i] > '9')
                return false;
            frac = frac * 10 + (s[i] - '0');
        }
        frac *= digits == 1 ? 100 : digits == 2 ? 10 : 1;
    }
    *ms = (min * 60 + sec) * 1000 + frac;
    return true;
}

/* "+250", "-100", "75" as milliseconds. */
static bool parse_offset(const char *s, size_t len, int64_t *out)
{
    while (len > 0 && *s == ' ') {
        s++;
        len--;
    }
    if (len > 0 && *s == '+') {
        s++;
        len--;
    }
    char buf[24];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return lg_str_to_i64(buf, -86400000, 86400000, out) == 0;
}

/* A language code we pass on: letters, digits and '-' (ISO 639, BCP 47).
 * Tags hold any bytes here, and the answer must be valid UTF-8. */
static bool lang_ok(const char *s, size_t len)
{
    if (len == 0 || len >= LANG_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

/* State while one text is parsed. */
struct lrc {
    struct lg_lyrics *out;
    size_t cap;
    size_t bytes; /* of text in the lines so far */
    bool synced;
    char lang[LANG_MAX];
};

/* Adds a line unless the lines would hold more than LG_LYRICS_BYTES_MAX of
 * text in all: a line's text is copied once per time stamp, and 64 stamps on
 * lines of a 1 MiB file would otherwise make 64 MiB of every answer. */
static void add_line(struct lrc *p, int64_t start_ms, const char *text, size_t len)
{
    struct lg_lyrics *l = p->out;
    if (l->n_lines >= LINES_MAX || len > LG_LYRICS_BYTES_MAX - p->bytes)
        return;
    p->bytes += len;
    if (l->n_lines == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        l->lines = lg_xrealloc(l->lines, p->cap * sizeof(*l->lines));
    }
    l->lines[l->n_lines].start_ms = start_ms;
    l->lines[l->n_lines].text = lg_xstrndup(text, len);
    l->n_lines++;
}

/* A metadata tag "key:value" with a key of letters; applies the ones we use. */
static bool meta_tag(struct lrc *p, const char *s, size_t len)
{
    size_t k = 0;
    while (k < len && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') || s[k] == '#'))
        k++;
    if (k == 0 || k >= len || s[k] != ':')
        return false;
    const char *v = s + k + 1;
    size_t vlen = len - k - 1;
    if (k == 6 && strncmp(s, "offset", 6) == 0) {
        int64_t off;
        if (parse_offset(v, vlen, &off))
            p->out->offset_ms = off;
    } else if ((k == 2 && strncmp(s, "la", 2) == 0) || (k == 4 && strncmp(s, "lang", 4) == 0)) {
        while (vlen > 0 && *v == ' ') {
            v++;
            vlen--;
        }
        while (vlen > 0 && v[vlen - 1] == ' ')
            vlen--;
        if (lang_ok(v, vlen)) {
            memcpy(p->lang, v, vlen);
            p->lang[vlen] = '\0';
        }
    }
    return true;
}

/* Copies text without <mm:ss.xx> word stamps and outer spaces into buf. */
static size_t clean_text(const char *s, size_t len, char *buf)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '<') {
            const char *close = memchr(s + i, '>', len - i);
            int64_t ms;
            if (close && parse_stamp(s + i + 1, (size_t)(close - s) - i - 1, &ms)) {
                i = (size_t)(close - s);
                continue;
            }
        }
        buf[n++] = s[i];
    }
    size_t start = 0;
    while (start < n && (buf[start] == ' ' || buf[start] == '\t'))
        start++;
    while (n > start && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    memmove(buf, buf + start, n - start);
    return n - start;
}

/* One line of the text: its stamps, tags and words. scratch holds len bytes. */
static void parse_line(struct lrc *p, const char *s, size_t len, char *scratch)
{
    int64_t stamps[STAMPS_MAX];
    int n_stamps = 0;
    bool tags_only = false;
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    const char *line = s;
    size_t line_len = len;
    while (len > 0 && *s == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            break;
        size_t inner = (size_t)(close - s) - 1;
        int64_t ms;
        if (parse_stamp(s + 1, inner, &ms)) {
            if (n_stamps < STAMPS_MAX)
                stamps[n_stamps++] = ms;
        } else if (n_stamps == 0 && meta_tag(p, s + 1, inner)) {
            tags_only = true;
        } else {
            break;
        }
        len -= inner + 2;
        s = close + 1;
    }
    size_t n = clean_text(s, len, scratch);
    if (tags_only && n_stamps == 0) {
        if (n == 0)
            return;                              /* a metadata line */
        n = clean_text(line, line_len, scratch); /* "[key:value] words" is text */
    }
    if (n_stamps > 0)
        p->synced = true;
    for (int i = 0; i < n_stamps; i++)
        add_line(p, stamps[i], scratch, n);
    if (n_stamps == 0)
        add_line(p, -1, scratch, n);
}

static int by_start(const void *a, const void *b)
{
    const struct lg_lyric_line *x = a;
    const struct lg_lyric_line *y = b;
    if (x->start_ms != y->start_ms)
        return x->start_ms < y->start_ms ? -1 : 1;
    return 0; /* not reached: finish makes every start distinct */
}

/* Keeps the stamped lines in start order (ties in file order), or for plain
 * text every line without the blank ones around. */
static void finish(struct lrc *p)
{
    struct lg_lyrics *l = p->out;
    size_t keep = 0;
    for (size_t i = 0; i < l->n_lines; i++) {
        bool stamped = l->lines[i].start_ms >= 0;
        if (p->synced && !stamped) {
            free(l->lines[i].text);
            continue;
        }
        l->lines[keep++] = l->lines[i];
    }
    l->n_lines = keep;
    if (p->synced) {
        /* Ties keep file order: make the order total with the index. */
        for (size_t i = 0; i < l->n_lines; i++)
            l->lines[i].start_ms = l->lines[i].start_ms * LINES_MAX + (int64_t)i;
        qsort(l->lines, l->n_lines, sizeof(*l->lines), by_start);
        for (size_t i = 0; i < l->n_lines; i++)
            l->lines[i].start_ms /= LINES_MAX;
        return;
    }
    size_t first = 0;
    while (first < l->n_lines && !*l->lines[first].text)
        free(l->lines[first++].text);
    while (l->n_lines > first && !*l->lines[l->n_lines - 1].text)
        free(l->lines[--l->n_lines].text);
    memmove(l->lines, l->lines + first, (l->n_lines - first) * sizeof(*l->lines));
    l->n_lines -= first;
}

static bool has_words(const struct lg_lyrics *l)
{
    for (size_t i = 0; i < l->n_lines; i++) {
        if (*l->lines[i].text)
            return true;
    }
    return false;
}

int lg_lyrics_parse(const char *text, size_t len, const char *lang, struct lg_lyrics *out)
{
    if (len > LG_LYRICS_BYTES_MAX)
        return LG_ETOOBIG;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    char *utf8 = lg_utf8_valid(text, len) ? lg_xstrndup(text, len) : lg_utf8_sanitize(text, len);
    size_t n = strlen(utf8); /* a NUL in the text ends it */
    char *scratch = lg_xmalloc(n + 1);
    struct lg_lyrics l = { 0 };
    struct lrc p = { .out = &l };
    bool given = lang && lang_ok(lang, strlen(lang));
    snprintf(p.lang, sizeof(p.lang), "%s", given ? lang : "und");
    for (char *line = utf8; line <= utf8 + n;) {
        char *end = memchr(line, '\n', (size_t)(utf8 + n - line));
        size_t line_len = end ? (size_t)(end - line) : (size_t)(utf8 + n - line);
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--;
        parse_line(&p, line, line_len, scratch);
        if (!end)
            break;
        line = end + 1;
    }
    free(scratch);
    free(utf8);
    finish(&p);
    if (!has_words(&l)) {
        lg_lyrics_free(&l);
        return LG_ENOTFOUND;
    }
    l.synced = p.synced;
    l.lang = lg_xstrdup(p.lang);
    *out = l;
    return 0;
}

/* --- sources ------------------------------------------------------------ */

struct found {
    struct lg_lyrics *v;
    size_t n;
    size_t bytes; /* of text in v */
};

/* Bytes of text in the lines of l. */
static size_t text_bytes(const struct lg_lyrics *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n_lines; i++)
        n += strlen(l->lines[i].text);
    return n;
}

/* Adds the lyrics of text, unless they would bring the lyrics of the file
 * over FOUND_BYTES_MAX of text (a file may have a sidecar and 16 tags). */
static void found_add(struct found *f, const char *text, size_t len, const char *lang)
{
    struct lg_lyrics l;
    if (lg_lyrics_parse(text, len, lang, &l) < 0)
        return;
    size_t bytes = text_bytes(&l);
    if (bytes > FOUND_BYTES_MAX - f->bytes) {
        lg_lyrics_free(&l);
        return;
    }
    f->bytes += bytes;
    f->v = lg_xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
    f->v[f->n++] = l;
}

/* The sidecar: path with its suffix replaced by .lrc (or .LRC). */
static void read_sidecar(const char *path, struct found *f)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    size_t base = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
    static const char *const suffixes[] = { ".lrc", ".LRC" };
    for (size_t i = 0; i < LG_ARRAY_LEN(suffixes); i++) {
        char *lrc = lg_xasprintf("%.*s%s", (int)base, path, suffixes[i]);
        int fd = open(lrc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        free(lrc);
        if (fd < 0)
            continue;
        struct stat st;
        char *buf = NULL;
        ssize_t got = -1;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= LG_LYRICS_BYTES_MAX) {
            buf = lg_xmalloc((size_t)st.st_size + 1);
            got = read(fd, buf, (size_t)st.st_size);
        }
        close(fd);
        if (got > 0)
            found_add(f, buf, (size_t)got, NULL);
        free(buf);
        return;
    }
}

/* Whether a tag key names lyrics; writes the language of "lyrics-eng". */
static bool lyrics_key(const char *key, char *lang, size_t cap)
{
    static const char *const keys[] = { "lyrics", "unsyncedlyrics", "unsynced lyrics",
                                        "syncedlyrics", "uslt" };
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
        if (lg_str_casecmp(key, keys[i]) == 0) {
            lang[0] = '\0';
            return true;
        }
    }
    /* FFmpeg names an ID3 USLT frame "lyrics-LANG" or "lyrics-DESCRIPTION-LANG". */
    if (strncasecmp(key, "lyrics-", 7) != 0)
        return false;
    const char *l = strrchr(key, '-') + 1;
    size_t n = strlen(l);
    if (!lang_ok(l, n) || n >= cap)
        n = 0;
    memcpy(lang, l, n);
    lang[n] = '\0';
    return true;
}

static void read_dict(const AVDictionary *dict, struct found *f, int *seen)
{
    const AVDictionaryEntry *e = NULL;
    while ((e = av_dict_get(dict, "", e, AV_DICT_IGNORE_SUFFIX)) != NULL) {
        char lang[LANG_MAX];
        if (*seen >= TAG_LYRICS_MAX || !e->value || !lyrics_key(e->key, lang, sizeof(lang)))
            continue;
        (*seen)++;
        size_t len = strnlen(e->value, LG_LYRICS_BYTES_MAX + 1);
        if (len <= LG_LYRICS_BYTES_MAX)
            found_add(f, e->value, len, lang[0] ? lang : NULL);
    }
}

/* Lyrics tags of the container and its streams, opened as the probe opens
 * a file (media.c: audio formats only, headers bounded). */
static void read_tags(const char *path, struct found *f)
{
    AVFormatContext *fmt = NULL;
    if (lg_media_open_input(path, &fmt, NULL, 0) < 0)
        return;
    int seen = 0;
    read_dict(fmt->metadata, f, &seen);
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        read_dict(fmt->streams[i]->metadata, f, &seen);
    lg_media_close_input(&fmt);
}

int lg_media_lyrics(const char *path, struct lg_lyrics **out, size_t *n_out)
{
    lg_media_init();
    struct found f = { 0 };
    read_sidecar(path, &f);
    read_tags(path, &f);
    *out = f.v;
    *n_out = f.n;
    return (int)f.n;
}
