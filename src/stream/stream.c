/* SPDX-License-Identifier: MIT */
/*
 * Direct serving (see stream.h): Range, ETag, If-None-Match, If-Range and
 * HTTP-date handling, Content-Disposition encoding, and opening a track's
 * file. The parsers read peer input byte by byte against the RFC grammars and
 * never allocate; anything that does not match the grammar is "absent".
 */
#include "stream/stream.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strings.h>

#include "core/log.h"
#include "core/str.h"
#include "media/media.h"
#include "store/store.h"

static struct lg_log stream_log = { "stream" };

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads a run of digits at *p, saturating at INT64_MAX. False when there is
 * no digit. */
static bool take_pos(const char **p, int64_t *out)
{
    const char *s = *p;
    if (!is_digit(*s))
        return false;
    int64_t v = 0;
    for (; is_digit(*s); s++) {
        int d = *s - '0';
        v = v > (INT64_MAX - d) / 10 ? INT64_MAX : v * 10 + d;
    }
    *p = s;
    *out = v;
    return true;
}

/* One range-spec: "first-last", "first-" or "-suffix". last is -1 when open,
 * first is -1 for a suffix. */
static bool take_spec(const char **p, int64_t *first, int64_t *last)
{
    *first = -1;
    *last = -1;
    if (**p == '-') {
        (*p)++;
        return take_pos(p, last);
    }
    if (!take_pos(p, first) || **p != '-')
        return false;
    (*p)++;
    if (is_digit(**p))
        return take_pos(p, last);
    return true;
}

/* Skips list separators and empty list elements (RFC 9110 5.6.1). Returns
 * how many commas it crossed. */
static int skip_commas(const char **p)
{
    int n = 0;
    for (*p = skip_ows(*p); **p == ','; *p = skip_ows(*p + 1))
        n++;
    return n;
}

int lg_range_parse(const char *hdr, int64_t size, struct lg_range *out)
{
    if (!hdr)
        return 0;
    const char *p = skip_ows(hdr);
    if (strncasecmp(p, "bytes", 5) != 0)
        return 0;
    p = skip_ows(p + 5);
    if (*p != '=')
        return 0;
    p = skip_ows(p + 1);
    skip_commas(&p);
    int64_t first;
    int64_t last;
    if (!take_spec(&p, &first, &last))
        return 0;
    skip_commas(&p);
    if (*p != '\0')
        return 0; /* junk, or a second range: serve the whole file */
    if (first < 0) {
        if (last == 0 || size == 0)
            return LG_ERANGE;
        out->len = LG_MIN(last, size);
        out->first = size - out->len;
        return 1;
    }
    if (last >= 0 && last < first)
        return 0; /* invalid range-spec: the header is ignored */
    if (first >= size)
        return LG_ERANGE;
    if (last < 0 || last >= size)
        last = size - 1;
    out->first = first;
    out->len = last - first + 1;
    return 1;
}

void lg_etag_make(char out[LG_ETAG_MAX], uint64_t ino, int64_t size, int64_t mtime_ns)
{
    /* Made for every range request: by hand, not with snprintf. */
    size_t n = 0;
    out[n++] = '"';
    n += lg_fmt_hex64(out + n, ino);
    out[n++] = '-';
    n += lg_fmt_hex64(out + n, (uint64_t)size);
    out[n++] = '-';
    n += lg_fmt_hex64(out + n, (uint64_t)mtime_ns);
    out[n++] = '"';
    out[n] = '\0';
}

/* Reads one entity-tag at *p: [W/] DQUOTE *etagc DQUOTE. *tag points at the
 * opening quote and *len counts both quotes. */
static bool take_etag(const char **p, bool *weak, const char **tag, size_t *len)
{
    const char *s = *p;
    *weak = s[0] == 'W' && s[1] == '/';
    if (*weak)
        s += 2;
    if (*s != '"')
        return false;
    const char *q = s + 1;
    while (*q && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x21 || c == 0x7f)
            return false;
        q++;
    }
    if (*q != '"')
        return false;
    *tag = s;
    *len = (size_t)(q + 1 - s);
    *p = q + 1;
    return true;
}

/* The opaque part of our own tag, without a W/ prefix. */
static const char *opaque(const char *etag)
{
    return etag[0] == 'W' && etag[1] == '/' ? etag + 2 : etag;
}

bool lg_etag_match_weak(const char *if_none_match, const char *etag)
{
    if (!if_none_match || !etag)
        return false;
    const char *p = skip_ows(if_none_match);
    if (*p == '*')
        return *skip_ows(p + 1) == '\0';
    const char *mine = opaque(etag);
    size_t mine_len = strlen(mine);
    skip_commas(&p);
    while (*p) {
        bool weak;
        const char *tag;
        size_t len;
        if (!take_etag(&p, &weak, &tag, &len))
            return false;
        if (len == mine_len && memcmp(tag, mine, len) == 0)
            return true;
        if (skip_commas(&p) == 0 && *p)
            return false; /* two tags without a comma between them */
    }
    return false;
}

bool lg_if_range_ok(const char *if_range, const char *etag, int64_t mtime_s, int64_t now_s)
{
    if (!if_range)
        return false;
    const char *p = skip_ows(if_range);
    bool mine_weak = etag[0] == 'W' && etag[1] == '/';
    if (*p == '"' || (p[0] == 'W' && p[1] == '/')) {
        bool weak;
        const char *tag;
        size_t len;
        if (!take_etag(&p, &weak, &tag, &len) || *skip_ows(p) != '\0')
            return false;
        return !weak && !mine_weak && len == strlen(etag) && memcmp(tag, etag, len) == 0;
    }
    /* Bytes that only a weak tag stands for have no strong date either. */
    int64_t t;
    return !mine_weak && lg_http_date_parse(p, &t) == 0 && t == mtime_s && mtime_s < now_s;
}

static const char wkday_names[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const weekday_names[7] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday" };
static const char month_names[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
 * civil_from_days). gmtime_r would do, but glibc takes a process-wide lock in
 * it, which every request thread would contend for. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Writes v (0 <= v < 10^width) as width digits with leading zeros. */
static void put_digits(char *out, int v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

int lg_http_date_format(int64_t t, char out[LG_HTTP_DATE_LEN])
{
    /* 253402300799 is 9999-12-31T23:59:59Z; earlier than year 0 is not HTTP. */
    if (t < -62167219200 || t > 253402300799)
        return LG_EINVAL;
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    int64_t year;
    int mon;
    int mday;
    civil_from_days(days, &year, &mon, &mday);
    int wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    /* "Sun, 06 Nov 1994 08:49:37 GMT", by hand: it is made per request. */
    int fields[] = { mday, (int)year, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60) };
    static const char shape[] = "www, 00 mmm 0000 00:00:00 GMT";
    memcpy(out, shape, sizeof(shape));
    memcpy(out, wkday_names[wday], 3);
    memcpy(out + 8, month_names[mon - 1], 3);
    put_digits(out + 5, fields[0], 2);
    put_digits(out + 12, fields[1], 4);
    put_digits(out + 17, fields[2], 2);
    put_digits(out + 20, fields[3], 2);
    put_digits(out + 23, fields[4], 2);
    return LG_HTTP_DATE_LEN - 1;
}

static bool take_lit(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

static bool take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool take_month(const char **p, int *mon)
{
    for (int i = 0; i < 12; i++) {
        if (take_lit(p, month_names[i])) {
            *mon = i + 1;
            return true;
        }
    }
    return false;
}

static bool take_wkday(const char **p, bool long_name)
{
    for (int i = 0; i < 7; i++) {
        if (take_lit(p, long_name ? weekday_names[i] : wkday_names[i]))
            return true;
    }
    return false;
}

static bool take_time(const char **p, int *h, int *m, int *s)
{
    return take_digits(p, 2, h) && take_lit(p, ":") && take_digits(p, 2, m) && take_lit(p, ":") &&
           take_digits(p, 2, s);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), exact for every year without calling timegm. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

struct date {
    int year, mon, day, hour, min, sec;
};

static bool parse_imf(const char *p, struct date *d)
{
    return take_wkday(&p, false) && take_lit(&p, ", ") && take_digits(&p, 2, &d->day) &&
           take_lit(&p, " ") && take_month(&p, &d->mon) && take_lit(&p, " ") &&
           take_digits(&p, 4, &d->year) && take_lit(&p, " ") &&
           take_time(&p, &d->hour, &d->min, &d->sec) && take_lit(&p, " GMT") && *p == '\0';
}

static bool parse_rfc850(const char *p, struct date *d)
{
    bool ok = take_wkday(&p, true) && take_lit(&p, ", ") && take_digits(&p, 2, &d->day) &&
              take_lit(&p, "-") && take_month(&p, &d->mon) && take_lit(&p, "-") &&
              take_digits(&p, 2, &d->year) && take_lit(&p, " ") &&
              take_time(&p, &d->hour, &d->min, &d->sec) && take_lit(&p, " GMT") && *p == '\0';
    /* Two-digit years: the nearest century that is not too far in the future
     * (RFC 9110 5.6.7 asks for "not more than 50 years"; 1970 is our pivot). */
    if (ok)
        d->year += d->year < 70 ? 2000 : 1900;
    return ok;
}

static bool parse_asctime(const char *p, struct date *d)
{
    if (!take_wkday(&p, false) || !take_lit(&p, " ") || !take_month(&p, &d->mon) ||
        !take_lit(&p, " "))
        return false;
    if (*p == ' ') {
        p++;
        if (!take_digits(&p, 1, &d->day))
            return false;
    } else if (!take_digits(&p, 2, &d->day)) {
        return false;
    }
    return take_lit(&p, " ") && take_time(&p, &d->hour, &d->min, &d->sec) && take_lit(&p, " ") &&
           take_digits(&p, 4, &d->year) && *p == '\0';
}

int lg_http_date_parse(const char *s, int64_t *out)
{
    struct date d = { 0 };
    if (!s || !(parse_imf(s, &d) || parse_rfc850(s, &d) || parse_asctime(s, &d)))
        return LG_EPARSE;
    if (d.day < 1 || d.day > days_in_month(d.year, d.mon) || d.hour > 23 || d.min > 59 ||
        d.sec > 60)
        return LG_EPARSE;
    int64_t days = days_from_civil(d.year, d.mon, d.day);
    *out = days * 86400 + d.hour * 3600 + d.min * 60 + LG_MIN(d.sec, 59);
    return 0;
}

/* A bounded writer: once something does not fit, everything after is lost
 * and full is set. */
struct out {
    char *p;
    size_t cap;
    size_t len;
    bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || n >= o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static size_t utf8_len(unsigned char lead)
{
    return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/* RFC 5987 attr-char: what filename* may carry without percent-encoding. */
static bool attr_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) ||
           (c && strchr("!#$&+-.^_`|~", c));
}

enum { CD_NAME_MAX = 200 };

/* Copies name into clean (valid UTF-8, no separators or controls, at most
 * CD_NAME_MAX bytes cut at a character boundary). Returns the length. */
static size_t clean_name(const char *name, char clean[CD_NAME_MAX + 1])
{
    char *valid = lg_utf8_sanitize(name, strlen(name));
    size_t n = 0;
    for (size_t i = 0; valid[i];) {
        size_t k = utf8_len((unsigned char)valid[i]);
        if (n + k > CD_NAME_MAX)
            break;
        memcpy(clean + n, valid + i, k);
        unsigned char c = (unsigned char)clean[n];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            clean[n] = '_';
        n += k;
        i += k;
    }
    clean[n] = '\0';
    free(valid);
    return n;
}

int lg_content_disposition(const char *name, char *out, size_t cap)
{
    char clean[CD_NAME_MAX + 1];
    size_t n = clean_name(name ? name : "", clean);
    if (n == 0)
        n = (size_t)snprintf(clean, sizeof(clean), "download");
    struct out o = { out, cap, 0, cap == 0 };
    if (cap)
        out[0] = '\0';
    put(&o, "attachment; filename=\"", 22);
    for (size_t i = 0; i < n; i += utf8_len((unsigned char)clean[i])) {
        char c = clean[i];
        bool plain = (unsigned char)c < 0x80 && c != '"' && c != '\\' && c != '%';
        put(&o, plain ? &c : "_", 1);
    }
    put(&o, "\"; filename*=UTF-8''", 20);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)clean[i];
        char hex[4];
        if (attr_char(c)) {
            put(&o, clean + i, 1);
        } else {
            snprintf(hex, sizeof(hex), "%%%02X", c);
            put(&o, hex, 3);
        }
    }
    return o.full ? LG_ETOOBIG : (int)o.len;
}

const char *lg_stream_mime(const char *suffix)
{
    /* One table of types for the whole server: media/ owns it. */
    return lg_media_content_type(suffix ? suffix : "");
}

/* A file's validators with what they are made of: they depend on nothing
 * else, so a row keeps the last ones it made and copies them while the file
 * stays the same (formatting them was a tenth of a range request's work). */
struct validators {
    bool made;
    uint64_t ino;
    int64_t size;
    int64_t mtime_ns;
    char etag[LG_ETAG_MAX];
    char last_modified[LG_HTTP_DATE_LEN];
};

/* Fills *out from an open descriptor, which it takes: on failure it is
 * closed. A file without links (deleted since it was opened) counts as gone.
 * memo, when not NULL, keeps the validators between calls. */
static int file_from_fd(int fd, struct lg_stream_file *out, struct validators *memo)
{
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = LG_ENOTFOUND;
    else if (st.st_nlink == 0)
        rc = -ENOENT;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    out->fd = fd;
    out->size = (int64_t)st.st_size;
    out->mtime_s = (int64_t)st.st_mtim.tv_sec;
    if (memo && memo->made && memo->ino == (uint64_t)st.st_ino && memo->size == out->size &&
        memo->mtime_ns == mtime_ns)
    {
        memcpy(out->etag, memo->etag, sizeof(out->etag));
        memcpy(out->last_modified, memo->last_modified, sizeof(out->last_modified));
        return 0;
    }
    lg_etag_make(out->etag, (uint64_t)st.st_ino, out->size, mtime_ns);
    if (lg_http_date_format(out->mtime_s, out->last_modified) < 0)
        out->last_modified[0] = '\0';
    if (memo) {
        *memo = (struct validators){
            .made = true, .ino = (uint64_t)st.st_ino, .size = out->size, .mtime_ns = mtime_ns
        };
        memcpy(memo->etag, out->etag, sizeof(memo->etag));
        memcpy(memo->last_modified, out->last_modified, sizeof(memo->last_modified));
    }
    return 0;
}

static int open_path(const char *root, const char *rel, struct lg_stream_file *out,
                     struct validators *memo)
{
    if (!lg_path_rel_safe(rel))
        return LG_EINVAL;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    /* O_NONBLOCK: opening a FIFO that someone dropped in the library must not
     * hang a server thread; it has no effect on regular files. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    return file_from_fd(fd, out, memo);
}

int lg_stream_open(const char *root, const char *rel, struct lg_stream_file *out)
{
    return open_path(root, rel, out, NULL);
}

void lg_stream_file_close(struct lg_stream_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* --- tracks by id --- */

/* What a track id maps to, remembered for ROW_TTL_NS. Each thread keeps its
 * own small direct-mapped table (a newer id evicts an older one in its slot):
 * MHD threads own their state, so the hot path takes no lock. A table belongs
 * to one struct lg_stream at a time, named by a number never reused.
 *
 * Up to FDS_MAX rows of a thread also keep their file open, because opening
 * costs more than the rest of a range request's own work (about 2 us against
 * 0.5 for a dup). Every request still fstat()s its own duplicate, so sizes
 * and validators are never stale, and a file that lost its last link (deleted,
 * or replaced by a rename) is opened again by its path. */
enum {
    ROWS = 64,
    FDS_MAX = 8,
};
#define ROW_TTL_NS ((int64_t)2 * 1000000000)

struct row {
    int64_t id; /* 0: empty */
    int64_t expires_ns;
    char *path;                /* relative to the music folder */
    int fd;                    /* the open file, or -1 */
    size_t name_off, name_len; /* the base name in path */
    char content_type[LG_STREAM_CTYPE_MAX];
    struct validators memo;
};

struct rows {
    uint64_t owner; /* uid of the struct lg_stream the rows come from */
    int n_fds;      /* rows with fd >= 0 */
    struct row row[ROWS];
};

struct lg_stream {
    struct lg_store *store; /* borrowed */
    const char *music_dir;  /* borrowed */
    uint64_t uid;
};

static atomic_uint_fast64_t next_uid = 1;
static pthread_key_t rows_key;
static pthread_once_t rows_once = PTHREAD_ONCE_INIT;

static void row_drop_fd(struct rows *t, struct row *r)
{
    if (r->fd < 0)
        return;
    close(r->fd);
    r->fd = -1;
    t->n_fds--;
}

static void rows_drop_fds(struct rows *t)
{
    for (int i = 0; i < ROWS && t->n_fds > 0; i++)
        row_drop_fd(t, &t->row[i]);
}

static void rows_clear(struct rows *t)
{
    rows_drop_fds(t);
    for (int i = 0; i < ROWS; i++) {
        free(t->row[i].path);
        t->row[i] = (struct row){ .fd = -1 };
    }
}

static void rows_free(void *p)
{
    rows_clear(p);
    free(p);
}

static void rows_key_make(void)
{
    int rc = pthread_key_create(&rows_key, rows_free);
    lg_assert(rc == 0);
}

/* The calling thread's table for st, emptied if it held another's rows. */
static struct rows *rows_for(const struct lg_stream *st)
{
    struct rows *t = pthread_getspecific(rows_key);
    if (!t) {
        t = lg_xcalloc(1, sizeof(*t));
        for (int i = 0; i < ROWS; i++)
            t->row[i].fd = -1;
        pthread_setspecific(rows_key, t);
    }
    if (t->owner != st->uid) {
        rows_clear(t);
        t->owner = st->uid;
    }
    return t;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int lg_stream_new(struct lg_store *store, const char *music_dir, struct lg_stream **out)
{
    struct lg_stream *st = lg_xcalloc(1, sizeof(*st));
    st->store = store;
    st->music_dir = music_dir;
    st->uid = atomic_fetch_add(&next_uid, 1);
    pthread_once(&rows_once, rows_key_make);
    *out = st;
    return 0;
}

void lg_stream_free(struct lg_stream *st)
{
    if (!st)
        return;
    /* Other threads' tables are freed when they exit; their rows name a uid
     * that no struct lg_stream will have again. */
    struct rows *t = pthread_getspecific(rows_key); /* the key exists: see new */
    if (t && t->owner == st->uid) {
        pthread_setspecific(rows_key, NULL);
        rows_free(t);
    }
    free(st);
}

void lg_stream_idle(struct lg_stream *st)
{
    struct rows *t = st ? pthread_getspecific(rows_key) : NULL;
    if (t && t->owner == st->uid)
        rows_drop_fds(t);
}

/* Asks the store for track id and remembers its row in r. */
static int row_load(struct lg_stream *st, struct rows *t, int64_t id, struct row *r)
{
    struct lg_track tr;
    int rc = lg_store_track_get(st->store, id, &tr);
    if (rc < 0)
        return rc;
    const char *type =
        tr.content_type && *tr.content_type ? tr.content_type : lg_stream_mime(tr.suffix);
    row_drop_fd(t, r);
    free(r->path);
    r->path = tr.path; /* taken from tr */
    tr.path = NULL;
    /* A path component is at most NAME_MAX (255) bytes: it always fits. */
    const char *slash = strrchr(r->path, '/');
    r->name_off = slash ? (size_t)(slash + 1 - r->path) : 0;
    r->name_len = LG_MIN(strlen(r->path + r->name_off), LG_STREAM_NAME_MAX - 1);
    r->id = id;
    r->expires_ns = mono_ns() + ROW_TTL_NS;
    snprintf(r->content_type, sizeof(r->content_type), "%s", type);
    lg_track_free(&tr);
    return 0;
}

/* Opens row r's file into *out: a duplicate of the kept descriptor when it
 * still names a linked file, else by path (keeping a descriptor if there is
 * room). */
static int row_open(struct lg_stream *st, struct rows *t, struct row *r, struct lg_stream_file *out)
{
    if (r->fd >= 0) {
        int fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
        if (fd >= 0 && file_from_fd(fd, out, &r->memo) == 0)
            return 0;
        row_drop_fd(t, r);
    }
    int rc = open_path(st->music_dir, r->path, out, &r->memo);
    if (rc == -EMFILE || rc == -ENFILE) {
        rows_drop_fds(t); /* our own share of the limit first */
        rc = open_path(st->music_dir, r->path, out, &r->memo);
    }
    if (rc == 0 && t->n_fds < FDS_MAX) {
        r->fd = fcntl(out->fd, F_DUPFD_CLOEXEC, 0);
        if (r->fd >= 0)
            t->n_fds++;
    }
    return rc;
}

int lg_stream_open_track(struct lg_stream *st, int64_t id, struct lg_stream_file *out)
{
    struct rows *t = rows_for(st);
    struct row *r = &t->row[(uint64_t)id % ROWS];
    if (r->id != id || r->expires_ns <= mono_ns()) {
        int rc = row_load(st, t, id, r);
        if (rc < 0)
            return rc;
    }
    int rc = row_open(st, t, r, out);
    if (rc < 0) {
        bool gone = rc == -ENOENT || rc == -ENOTDIR || rc == LG_ENOTFOUND || rc == LG_EINVAL;
        lg_log(&stream_log, gone ? LG_LOG_WARN : LG_LOG_ERROR, "track %" PRId64 " (%s): %s", id,
               r->path, rc == LG_EINVAL ? "unsafe path in the catalogue" : lg_strerror(rc));
        return gone ? LG_ENOTFOUND : rc;
    }
    memcpy(out->content_type, r->content_type, sizeof(out->content_type));
    memcpy(out->name, r->path + r->name_off, r->name_len);
    out->name[r->name_len] = '\0';
    return 0;
}

void lg_stream_plan(int64_t size, int64_t mtime_s, const char *etag, const struct lg_stream_cond *c,
                    struct lg_stream_plan *out)
{
    *out = (struct lg_stream_plan){ .status = 200, .offset = 0, .length = size };
    int64_t since;
    bool not_modified = false;
    if (c->if_none_match)
        not_modified = lg_etag_match_weak(c->if_none_match, etag);
    else if (c->if_modified_since && lg_http_date_parse(c->if_modified_since, &since) == 0)
        not_modified = mtime_s <= since;
    if (not_modified) {
        *out = (struct lg_stream_plan){ .status = 304 };
        return;
    }
    if (!c->range || (c->if_range && !lg_if_range_ok(c->if_range, etag, mtime_s, c->now_s)))
        return;
    struct lg_range r;
    int rc = lg_range_parse(c->range, size, &r);
    if (rc == LG_ERANGE)
        *out = (struct lg_stream_plan){ .status = 416 };
    else if (rc == 1)
        *out = (struct lg_stream_plan){ .status = 206, .offset = r.first, .length = r.len };
}
