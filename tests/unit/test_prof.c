/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of prof/: bucket bounds, quantiles against known distributions,
 * exact sums under concurrent recording, label validation and the "other"
 * series, the Prometheus text parsed back line by line, the JSON (with
 * where the streaming DSP runs) and a trace (with named rows of other time
 * lines) parsed with jansson. The registry is process-wide, so the case that
 * fills it runs last.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <jansson.h>

#include "core/buf.h"
#include "prof/prof.h"
#include "prof/prof_int.h"

#include "harness.h"

#define CHECK_NEAR(a, b, tol)                                                                     \
    do {                                                                                          \
        double a_ = (a), b_ = (b);                                                                \
        if (!(fabs(a_ - b_) <= (tol))) {                                                          \
            fprintf(stderr, "  %s:%d: %s == %.9g, expected %.9g +- %g\n", __FILE__, __LINE__, #a, \
                    a_, b_, (double)(tol));                                                       \
            lg_test_failed++;                                                                     \
        }                                                                                         \
    } while (0)

/* --- histograms --- */

LG_TEST(bucket_bounds)
{
    const double *b = lg_prof_bucket_bounds();
    static const double steps[3] = { 1, 2.5, 5 };
    CHECK_INT(LG_PROF_BUCKETS, 26);
    for (int i = 0; i < LG_PROF_BUCKETS - 1; i++) {
        double want = steps[i % 3] * pow(10, -6 + i / 3);
        CHECK_NEAR(b[i], want, want * 1e-12);
        if (i)
            CHECK(b[i] > b[i - 1]);
    }
    CHECK_NEAR(b[0], 1e-6, 0);
    CHECK_NEAR(b[LG_PROF_BUCKETS - 2], 100, 0);

    /* Bounds are inclusive ("le"); one ns more goes to the next bucket. */
    static const struct {
        int64_t ns;
        int bucket;
    } rows[] = {
        { -5, 0 },
        { 0, 0 },
        { 1000, 0 },
        { 1001, 1 },
        { 2500, 1 },
        { 2501, 2 },
        { 5000, 2 },
        { 1000000, 9 },
        { 1000001, 10 },
        { 999999999, 18 },
        { 1000000000, 18 },
        { 100000000000, 24 },
        { 100000000001, 25 },
        { INT64_MAX, 25 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        struct lg_hist h = { 0 };
        uint64_t counts[LG_PROF_BUCKETS];
        lg_hist_record_ns(&h, rows[i].ns);
        CHECK_INT(lg_hist_snapshot(&h, counts), 1);
        if (counts[rows[i].bucket] != 1)
            fprintf(stderr, "  row %zu: %lld ns\n", i, (long long)rows[i].ns);
        CHECK_INT(counts[rows[i].bucket], 1);
    }
}

LG_TEST(observe_units)
{
    struct lg_hist h = { 0 };
    lg_hist_observe(&h, 0.25);
    lg_hist_observe(&h, 1.5);
    lg_hist_observe(&h, -3); /* counts as 0 */
    lg_hist_observe(&h, NAN);
    CHECK_INT(lg_hist_count(&h), 3);
    CHECK_INT(lg_hist_sum_e9(&h), 1750000000);
    CHECK_NEAR(lg_hist_sum(&h), 1.75, 1e-12);
    lg_hist_observe(&h, 1e300); /* clamped, no overflow */
    CHECK_INT(lg_hist_count(&h), 4);
    CHECK(lg_hist_sum(&h) > 1e8);
}

/* A deterministic uniform [0, 1) generator (splitmix64). */
static double uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* The bounds of the bucket that holds v. */
static void bucket_around(double v, double *lo, double *hi)
{
    const double *b = lg_prof_bucket_bounds();
    *lo = 0;
    for (int i = 0; i < LG_PROF_BUCKETS - 1; i++) {
        if (v <= b[i]) {
            *hi = b[i];
            return;
        }
        *lo = b[i];
    }
    *hi = INFINITY;
}

LG_TEST(quantiles)
{
    struct lg_hist empty = { 0 };
    CHECK_NEAR(lg_hist_quantile(&empty, 0.5), 0, 0);

    /* Uniform on [0, 1 s): linear interpolation is exact for a uniform
     * density, so the estimate is within sampling noise of q. */
    struct lg_hist u = { 0 };
    uint64_t st = 42;
    for (int i = 0; i < 50000; i++)
        lg_hist_observe(&u, uniform(&st));
    static const double qs[] = { 0.1, 0.25, 0.5, 0.75, 0.9, 0.99 };
    for (size_t i = 0; i < LG_ARRAY_LEN(qs); i++)
        CHECK_NEAR(lg_hist_quantile(&u, qs[i]), qs[i], 0.01);
    CHECK_NEAR(lg_hist_quantile(&u, 2), lg_hist_quantile(&u, 1), 0); /* q clamps */

    /* Exponential with mean 10 ms: the estimate lies in the bucket of the
     * true quantile -ln(1 - q) * mean. */
    struct lg_hist e = { 0 };
    for (int i = 0; i < 50000; i++)
        lg_hist_observe(&e, -log(1 - uniform(&st)) * 0.010);
    for (size_t i = 0; i < LG_ARRAY_LEN(qs); i++) {
        double truth = -log(1 - qs[i]) * 0.010, lo, hi;
        bucket_around(truth, &lo, &hi);
        double got = lg_hist_quantile(&e, qs[i]);
        if (!(got >= lo * 0.98 && got <= hi * 1.02))
            fprintf(stderr, "  q %g: %g not in [%g, %g]\n", qs[i], got, lo, hi);
        CHECK(got >= lo * 0.98 && got <= hi * 1.02);
    }

    /* A point mass at 3 ms sits in (2.5 ms, 5 ms]: the median is the middle
     * of that bucket. */
    struct lg_hist p = { 0 };
    for (int i = 0; i < 1000; i++)
        lg_hist_record_ns(&p, 3000000);
    CHECK_NEAR(lg_hist_quantile(&p, 0.5), 0.00375, 1e-12);
    CHECK_NEAR(lg_hist_quantile(&p, 1), 0.005, 1e-12);

    /* The first bucket interpolates from 0; +Inf answers the last bound. */
    struct lg_hist f = { 0 };
    for (int i = 0; i < 10; i++)
        lg_hist_record_ns(&f, 500);
    CHECK_NEAR(lg_hist_quantile(&f, 0.5), 0.5e-6, 1e-15);
    struct lg_hist inf = { 0 };
    lg_hist_observe(&inf, 1000);
    CHECK_NEAR(lg_hist_quantile(&inf, 0.5), 100, 0);
}

/* --- concurrency --- */

enum { N_THREADS = 4, PER_THREAD = 100000 };

static void *record_many(void *arg)
{
    int64_t k = (int64_t)(intptr_t)arg;
    struct lg_hist *h = lg_prof_stage("load", "conc", "cpu"); /* racing first use */
    for (int64_t i = 0; i < PER_THREAD; i++) {
        lg_hist_record_ns(h, (i % 1000) * 1000 + k);
        lg_prof_count(LG_PROF_JOBS_STARTED, 1);
    }
    return h;
}

LG_TEST(concurrent_sums_exactly)
{
    int64_t jobs0 = lg_prof_counter_get(LG_PROF_JOBS_STARTED);
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        CHECK_INT(pthread_create(&t[i], NULL, record_many, (void *)(intptr_t)i), 0);
    void *got[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], &got[i]);
    for (int i = 1; i < N_THREADS; i++)
        CHECK(got[i] == got[0]); /* one series, however the first use raced */
    struct lg_hist *h = lg_prof_stage("load", "conc", "cpu");
    CHECK(h == got[0]);
    CHECK_INT(lg_hist_count(h), (int64_t)N_THREADS * PER_THREAD);
    /* Each thread adds k per value plus (0 + 1 + ... + 999) * 1000 per 1000. */
    int64_t want = 0;
    for (int k = 0; k < N_THREADS; k++)
        want += (int64_t)PER_THREAD * k + (PER_THREAD / 1000) * (999LL * 1000 / 2) * 1000;
    CHECK_INT(lg_hist_sum_e9(h), want);
    CHECK_INT(lg_prof_counter_get(LG_PROF_JOBS_STARTED) - jobs0, (int64_t)N_THREADS * PER_THREAD);
}

/* --- labels --- */

static const struct lg_prof_series *series_of(const struct lg_hist *h)
{
    for (size_t i = 0; i < lg_prof_series_count(); i++)
        if (&lg_prof_series_at(i)->hist == h)
            return lg_prof_series_at(i);
    return NULL;
}

LG_TEST(labels)
{
    static const struct {
        const char *stage, *format, *backend;
        const char *want_stage, *want_format, *want_backend;
    } rows[] = {
        { "generate", "opus", "cpu", "generate", "opus", "cpu" },
        { "process", "flac", "cuda", "process", "flac", "cuda" },
        { "load", "Opus", "cpu", "load", "other", "cpu" }, /* upper case */
        { "load", "mp3", "cpu-avx", "load", "mp3", "other" },
        { "lo ad", "mp3", "cpu", "other", "mp3", "cpu" },
        { NULL, "mp3", "cpu", "other", "mp3", "cpu" },
        { "", "mp3", "cpu", "other", "mp3", "cpu" },
        { "load", "a123456789012345678901234567890", "cpu", /* 31 bytes: fine */
          "load", "a123456789012345678901234567890", "cpu" },
        { "load", "a1234567890123456789012345678901", "cpu", "load", "other", "cpu" }, /* 32 */
        { "load", "\xc3\xa9t\xc3\xa9", "cpu", "load", "other", "cpu" },
        { "load", "mp3\n", "cpu", "load", "other", "cpu" },
        { "send", "wav", "\"}", "send", "wav", "other" },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        struct lg_hist *h = lg_prof_stage(rows[i].stage, rows[i].format, rows[i].backend);
        const struct lg_prof_series *s = series_of(h);
        CHECK(s != NULL);
        if (!s)
            continue;
        CHECK_STR(s->stage, rows[i].want_stage);
        CHECK_STR(s->format, rows[i].want_format);
        CHECK_STR(s->backend, rows[i].want_backend);
        /* The same labels find the same series. */
        CHECK(lg_prof_stage(rows[i].want_stage, rows[i].want_format, rows[i].want_backend) == h);
    }
    CHECK(lg_prof_stage("generate", "opus", "cpu") != lg_prof_stage("generate", "opus", "cuda"));
    CHECK(lg_prof_stage("ab", "c", "d") != lg_prof_stage("a", "bc", "d")); /* no ambiguity */
}

/* --- counters, gauges, streams --- */

LG_TEST(counters_and_gauges)
{
    int64_t c0 = lg_prof_counter_get(LG_PROF_CACHE_HITS);
    lg_prof_count(LG_PROF_CACHE_HITS, 3);
    lg_prof_count(LG_PROF_CACHE_HITS, -7); /* counters only go up */
    lg_prof_count(LG_PROF_N_COUNTERS, 1);  /* ignored */
    CHECK_INT(lg_prof_counter_get(LG_PROF_CACHE_HITS) - c0, 3);
    lg_prof_gauge_set(LG_PROF_JOBS_QUEUED, 5);
    lg_prof_gauge_add(LG_PROF_JOBS_QUEUED, -2);
    CHECK_INT(lg_prof_gauge_get(LG_PROF_JOBS_QUEUED), 3);
    lg_prof_gauge_set(LG_PROF_JOBS_QUEUED, 0);
    CHECK_INT(lg_prof_gauge_get(LG_PROF_N_GAUGES), 0);
    CHECK_STR(lg_prof_stage_name(LG_STAGE_GENERATE), "generate");
    CHECK_STR(lg_prof_stage_name(LG_STAGE_N), "other");
}

static void count_stream(const struct lg_prof_stream *s, void *ctx)
{
    (void)s;
    (*(int *)ctx)++;
}

static int live_streams(void)
{
    int n = 0;
    lg_prof_streams_each(count_stream, &n);
    return n;
}

LG_TEST(streams)
{
    int64_t active0 = lg_prof_gauge_get(LG_PROF_ACTIVE_STREAMS);
    int live0 = live_streams();
    struct lg_prof_stream a = { 0 }, b = { 0 }, c = { 0 };
    lg_prof_stream_register(&a, "a");
    lg_prof_stream_register(&b, "b");
    lg_prof_stream_register(&c, "c");
    CHECK(a.id > 0 && b.id > a.id && c.id > b.id);
    CHECK_INT(a.late_stage, -1);
    CHECK_INT(live_streams() - live0, 3);
    CHECK_INT(lg_prof_gauge_get(LG_PROF_ACTIVE_STREAMS) - active0, 3);
    lg_prof_stream_done(&b); /* the middle */
    lg_prof_stream_done(&b); /* twice: ignored */
    CHECK_INT(live_streams() - live0, 2);
    CHECK_INT(lg_prof_gauge_get(LG_PROF_ACTIVE_STREAMS) - active0, 2);

    /* 10 s made in 1 + 1 + 0.5 s of production (send does not count). */
    CHECK_NEAR(lg_prof_stream_rtf(&a), 0, 0);
    a.media_made_s = 10;
    a.busy_s[LG_STAGE_LOAD] += 1;
    a.busy_s[LG_STAGE_PROCESS] += 1;
    a.busy_s[LG_STAGE_GENERATE] = 0.5;
    a.busy_s[LG_STAGE_SEND] = 100;
    CHECK_NEAR(lg_prof_stream_rtf(&a), 4, 1e-12);
    a.media_sent_s = 30;
    CHECK_NEAR(lg_prof_stream_ahead(&a, a.started_ns + 10000000000LL), 20, 1e-9);
    CHECK_NEAR(lg_prof_stream_ahead(&a, a.started_ns + 40000000000LL), 0, 0); /* floored */

    lg_prof_stream_done(&c);
    lg_prof_stream_done(&a);
    CHECK_INT(live_streams(), live0);
    CHECK_INT(lg_prof_gauge_get(LG_PROF_ACTIVE_STREAMS), active0);
}

static void *update_stream(void *arg)
{
    struct lg_prof_stream *s = arg;
    for (int i = 0; i < 20000; i++) {
        s->media_made_s += 0.02;
        s->media_sent_s += 0.02;
        s->busy_s[i % LG_STAGE_N] += 1e-4;
        s->late_stage = i % LG_STAGE_N;
        if (i % 1000 == 0)
            s->stalls++;
    }
    return NULL;
}

/* The pipeline updates its stream while /api/profile reads it: the fields
 * are atomic, so the sums come out exact (and ThreadSanitizer stays quiet). */
LG_TEST(stream_updated_while_read)
{
    struct lg_prof_stream s = { 0 };
    lg_prof_stream_register(&s, "busy");
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, update_stream, &s), 0);
    for (int i = 0; i < 20; i++) {
        struct lg_buf b;
        lg_buf_init(&b, 4 << 20);
        CHECK_INT(lg_prof_json(&b), 0);
        lg_buf_free(&b);
    }
    pthread_join(t, NULL);
    CHECK_INT(s.stalls, 20);
    CHECK_NEAR(s.media_made_s, 400, 1e-6);
    CHECK_NEAR(s.busy_s[LG_STAGE_SEND], 0.5, 1e-9);
    lg_prof_stream_done(&s);
}

/* --- Prometheus text, parsed back --- */

struct sample {
    char name[96];
    char labels[256];
    double value;
};

/* Parses `name{labels} value` (labels optional); 0 or -1. */
static int parse_sample(const char *line, struct sample *s)
{
    size_t n = strcspn(line, "{ ");
    if (n == 0 || n >= sizeof(s->name))
        return -1;
    memcpy(s->name, line, n);
    s->name[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i && c >= '0' && c <= '9')))
            return -1;
    }
    const char *p = line + n;
    s->labels[0] = '\0';
    if (*p == '{') {
        const char *end = strchr(p, '}');
        if (!end || (size_t)(end - p - 1) >= sizeof(s->labels))
            return -1;
        memcpy(s->labels, p + 1, (size_t)(end - p - 1));
        s->labels[end - p - 1] = '\0';
        p = end + 1;
    }
    if (*p != ' ')
        return -1;
    char *end;
    s->value = strtod(p + 1, &end);
    return *end == '\0' && end != p + 1 ? 0 : -1;
}

/* The value of label key in a `k="v",k="v"` list, into out. */
static bool label_value(const char *labels, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "%s=\"", key);
    const char *p = labels;
    while ((p = strstr(p, pat)) != NULL) {
        if (p == labels || p[-1] == ',') {
            p += strlen(pat);
            size_t n = strcspn(p, "\"");
            snprintf(out, cap, "%.*s", (int)n, p);
            return true;
        }
        p++;
    }
    return false;
}

struct family_seen {
    char name[96];
    char type[16];
    bool help;
};

static struct family_seen *family_find(struct family_seen *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return &f[i];
    return NULL;
}

/* The family a sample belongs to: the histogram suffixes are stripped when
 * the base is a declared histogram. */
static struct family_seen *family_of(struct family_seen *f, size_t n, const char *sample)
{
    static const char *const sfx[] = { "_bucket", "_sum", "_count" };
    for (size_t i = 0; i < LG_ARRAY_LEN(sfx); i++) {
        size_t ls = strlen(sample), lx = strlen(sfx[i]);
        if (ls > lx && strcmp(sample + ls - lx, sfx[i]) == 0) {
            char base[96];
            snprintf(base, sizeof(base), "%.*s", (int)(ls - lx), sample);
            struct family_seen *h = family_find(f, n, base);
            if (h && strcmp(h->type, "histogram") == 0)
                return h;
        }
    }
    return family_find(f, n, sample);
}

static double metric(const char *text, const char *name, const char *labels)
{
    char *copy = lg_xstrdup(text);
    double v = NAN;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
    {
        struct sample s;
        if (line[0] != '#' && parse_sample(line, &s) == 0 && strcmp(s.name, name) == 0 &&
            strcmp(s.labels, labels) == 0)
            v = s.value;
    }
    free(copy);
    return v;
}

/* Checks the grammar of every line and the histogram invariants: every
 * sample follows its family's HELP and TYPE, buckets are cumulative and
 * +Inf equals _count, counters end in _total. */
static void check_exposition(const char *text)
{
    struct family_seen fam[64] = { 0 };
    size_t n_fam = 0;
    char *copy = lg_xstrdup(text);
    double last_bucket = -1;
    char last_series[400] = "";
    CHECK(text[strlen(text) - 1] == '\n');
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
    {
        char name[96], rest[200];
        if (sscanf(line, "# HELP %95s %199[^\n]", name, rest) == 2) {
            CHECK(family_find(fam, n_fam, name) == NULL && n_fam < LG_ARRAY_LEN(fam));
            snprintf(fam[n_fam].name, sizeof(fam[n_fam].name), "%s", name);
            fam[n_fam++].help = true;
            CHECK(strncmp(name, "legato_", 7) == 0);
            continue;
        }
        if (sscanf(line, "# TYPE %95s %199s", name, rest) == 2) {
            struct family_seen *f = family_find(fam, n_fam, name);
            CHECK(f != NULL && f->type[0] == '\0');
            if (f)
                snprintf(f->type, sizeof(f->type), "%.15s", rest);
            CHECK(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0 ||
                  strcmp(rest, "histogram") == 0);
            if (strcmp(rest, "counter") == 0)
                CHECK(strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0);
            continue;
        }
        struct sample s;
        int rc = parse_sample(line, &s);
        if (rc != 0)
            fprintf(stderr, "  bad line: %s\n", line);
        CHECK_INT(rc, 0);
        struct family_seen *f = family_of(fam, n_fam, s.name);
        CHECK(f != NULL && f->help && f->type[0]);
        char le[32], series[256];
        if (f && strcmp(f->type, "histogram") == 0 && label_value(s.labels, "le", le, sizeof(le))) {
            /* The series without le: buckets restart at each new one. */
            snprintf(series, sizeof(series), "%.*s", (int)(strstr(s.labels, "le=") - s.labels),
                     s.labels);
            char key[400];
            snprintf(key, sizeof(key), "%s{%s", s.name, series);
            if (strcmp(key, last_series) != 0)
                last_bucket = -1;
            CHECK(s.value >= last_bucket);
            last_bucket = s.value;
            snprintf(last_series, sizeof(last_series), "%s", key);
            if (strcmp(le, "+Inf") == 0) {
                char count_name[96], braced[260];
                snprintf(count_name, sizeof(count_name), "%.*s_count",
                         (int)(strlen(s.name) - strlen("_bucket")), s.name);
                size_t ln = strlen(series);
                snprintf(braced, sizeof(braced), "%.*s", ln ? (int)ln - 1 : 0, series);
                CHECK_NEAR(metric(text, count_name, braced), s.value, 0);
            }
        }
    }
    free(copy);
}

/* Prometheus' own checker, when installed (scripts/install-deps installs
 * it): the text is fed on stdin and must pass without a complaint. */
static void promtool_check(const char *text)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        fprintf(stderr, "  promtool not found: skipped its check\n");
        return;
    }
    FILE *p = popen("promtool check metrics", "w");
    CHECK(p != NULL);
    if (!p)
        return;
    fputs(text, p);
    int status = pclose(p);
    CHECK_INT(status, 0);
}

LG_TEST(prometheus_text)
{
    struct lg_hist *h = lg_prof_stage("generate", "mp3", "cpu");
    lg_hist_record_ns(h, 2000);    /* le 2.5e-06 */
    lg_hist_record_ns(h, 3000000); /* le 0.005 */
    lg_hist_record_ns(h, 7000000); /* le 0.01 */
    lg_hist_observe(lg_prof_buffer_ahead(), 4.0);
    lg_prof_count(LG_PROF_CLIENT_STALLS, 2);
    lg_prof_gauge_set(LG_PROF_CACHE_SIZE, 123456);
    struct lg_prof_stream st = { 0 };
    lg_prof_stream_register(&st, "secret track name");

    struct lg_buf b;
    lg_buf_init(&b, 4 << 20);
    CHECK_INT(lg_prof_metrics(&b), 0);
    const char *text = b.data;
    check_exposition(text);
    CHECK(strstr(text, "secret") == NULL); /* no stream names in /metrics */

    const char *lab = "stage=\"generate\",format=\"mp3\",backend=\"cpu\"";
    char l[160];
    snprintf(l, sizeof(l), "%s,le=\"1e-06\"", lab);
    CHECK_NEAR(metric(text, "legato_stage_duration_seconds_bucket", l), 0, 0);
    snprintf(l, sizeof(l), "%s,le=\"2.5e-06\"", lab);
    CHECK_NEAR(metric(text, "legato_stage_duration_seconds_bucket", l), 1, 0);
    snprintf(l, sizeof(l), "%s,le=\"0.005\"", lab);
    CHECK_NEAR(metric(text, "legato_stage_duration_seconds_bucket", l), 2, 0);
    snprintf(l, sizeof(l), "%s,le=\"0.01\"", lab);
    CHECK_NEAR(metric(text, "legato_stage_duration_seconds_bucket", l), 3, 0);
    snprintf(l, sizeof(l), "%s,le=\"+Inf\"", lab);
    CHECK_NEAR(metric(text, "legato_stage_duration_seconds_bucket", l), 3, 0);
    CHECK_NEAR(metric(text, "legato_stage_duration_seconds_count", lab), 3, 0);
    CHECK_NEAR(metric(text, "legato_stage_duration_seconds_sum", lab), 0.010002, 1e-12);
    CHECK(strstr(text, "legato_stage_duration_seconds_sum{stage=\"generate\",format=\"mp3\","
                       "backend=\"cpu\"} 0.010002000\n") != NULL);
    CHECK_NEAR(metric(text, "legato_buffer_ahead_seconds_bucket", "le=\"5\""), 1, 0);
    CHECK_NEAR(metric(text, "legato_buffer_ahead_seconds_sum", ""), 4, 0);
    CHECK_NEAR(metric(text, "legato_client_stalls_total", ""),
               (double)lg_prof_counter_get(LG_PROF_CLIENT_STALLS), 0);
    CHECK(lg_prof_counter_get(LG_PROF_CLIENT_STALLS) >= 2);
    CHECK_NEAR(metric(text, "legato_transcode_cache_size_bytes", ""), 123456, 0);

    static const char *const families[] = {
        "legato_stage_duration_seconds",
        "legato_buffer_ahead_seconds",
        "legato_scheduler_lateness_seconds",
        "legato_stalls_total",
        "legato_client_stalls_total",
        "legato_transcode_cache_hits_total",
        "legato_transcode_cache_misses_total",
        "legato_transcode_cache_served_bytes_total",
        "legato_transcode_jobs_started_total",
        "legato_transcode_degraded_total",
        "legato_active_streams",
        "legato_transcode_jobs_queued",
        "legato_transcode_jobs_running",
        "legato_transcode_cache_size_bytes",
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(families); i++) {
        char want[128];
        snprintf(want, sizeof(want), "# TYPE %s ", families[i]);
        if (!strstr(text, want))
            fprintf(stderr, "  missing %s\n", families[i]);
        CHECK(strstr(text, want) != NULL);
    }
    promtool_check(text);
    lg_buf_free(&b);

    /* A buffer too small: LG_ETOOBIG, reset. */
    lg_buf_init(&b, 100);
    CHECK_INT(lg_prof_metrics(&b), LG_ETOOBIG);
    CHECK_INT(b.len, 0);
    lg_buf_free(&b);
    lg_prof_stream_done(&st);
}

/* --- JSON --- */

static json_t *find_stage(json_t *stages, const char *stage, const char *format)
{
    size_t i;
    json_t *v;
    json_array_foreach(stages, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "stage")), stage) == 0 &&
            strcmp(json_string_value(json_object_get(v, "format")), format) == 0)
            return v;
    }
    return NULL;
}

LG_TEST(json_export)
{
    struct lg_hist *h = lg_prof_stage("send", "json", "cpu");
    for (int i = 1; i <= 4; i++)
        lg_hist_record_ns(h, i * 1000000);
    struct lg_prof_stream st = { 0 };
    lg_prof_stream_register(&st, "track 42 opus 128k \xc3\xa9t\xc3"); /* cut inside é */
    st.media_made_s = 8;
    st.busy_s[LG_STAGE_GENERATE] = 2;
    st.media_sent_s = 1000;
    st.stalls = 3;
    st.late_stage = LG_STAGE_SEND;

    struct lg_buf b;
    lg_buf_init(&b, 4 << 20);
    CHECK_INT(lg_prof_json(&b), 0);
    json_error_t err;
    json_t *j = json_loads(b.data, 0, &err);
    CHECK(j != NULL);
    if (!j) {
        fprintf(stderr, "  %s\n", err.text);
        lg_buf_free(&b);
        lg_prof_stream_done(&st);
        return;
    }
    json_t *s = find_stage(json_object_get(j, "stages"), "send", "json");
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(json_integer_value(json_object_get(s, "count")), 4);
        CHECK_NEAR(json_real_value(json_object_get(s, "sum_s")), 0.010, 1e-12);
        CHECK_NEAR(json_real_value(json_object_get(s, "mean_s")), 0.0025, 1e-12);
        CHECK_NEAR(json_real_value(json_object_get(s, "p50_s")), lg_hist_quantile(h, 0.5), 0);
        CHECK_NEAR(json_real_value(json_object_get(s, "p99_s")), lg_hist_quantile(h, 0.99), 0);
        CHECK_STR(json_string_value(json_object_get(s, "backend")), "cpu");
    }
    json_t *counters = json_object_get(j, "counters");
    CHECK_INT(json_integer_value(json_object_get(counters, "client_stalls")),
              lg_prof_counter_get(LG_PROF_CLIENT_STALLS));
    CHECK(json_object_size(counters) == LG_PROF_N_COUNTERS);
    json_t *gauges = json_object_get(j, "gauges");
    CHECK(json_object_size(gauges) == LG_PROF_N_GAUGES);
    CHECK_INT(json_integer_value(json_object_get(gauges, "active_streams")),
              lg_prof_gauge_get(LG_PROF_ACTIVE_STREAMS));
    CHECK(json_is_integer(json_object_get(json_object_get(j, "buffer_ahead"), "count")));
    CHECK(json_is_real(json_object_get(json_object_get(j, "buffer_ahead"), "p99_s")));

    json_t *found = NULL, *v;
    size_t i;
    json_array_foreach(json_object_get(j, "streams"), i, v)
    {
        if (json_integer_value(json_object_get(v, "id")) == st.id)
            found = v;
    }
    CHECK(found != NULL);
    if (found) {
        CHECK_STR(json_string_value(json_object_get(found, "what")), "track 42 opus 128k ??t?");
        CHECK_NEAR(json_real_value(json_object_get(found, "rtf")), 4, 1e-12);
        double age = json_real_value(json_object_get(found, "age_s"));
        CHECK(age >= 0 && age < 60);
        CHECK_NEAR(json_real_value(json_object_get(found, "ahead_s")), 1000 - age, 1);
        CHECK_INT(json_integer_value(json_object_get(found, "stalls")), 3);
        CHECK_STR(json_string_value(json_object_get(found, "late_stage")), "send");
        json_t *busy = json_object_get(found, "busy_s");
        CHECK_NEAR(json_real_value(json_object_get(busy, "generate")), 2, 0);
        CHECK_NEAR(json_real_value(json_object_get(busy, "load")), 0, 0);
        CHECK(json_object_size(busy) == LG_STAGE_N);
    }
    json_decref(j);
    lg_buf_free(&b);
    lg_prof_stream_done(&st);
}

/* --- trace --- */

static void *spans_on_thread(void *arg)
{
    lg_prof_thread_name((const char *)arg);
    struct lg_hist *h = lg_prof_stage("process", "trace", "cpu");
    for (int i = 0; i < 3; i++) {
        int64_t t = lg_prof_begin();
        lg_prof_end(h, t, "process");
    }
    return NULL;
}

/* Parses a trace and checks every event's shape; returns the document. */
static json_t *parse_trace(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    CHECK(j != NULL);
    if (!j) {
        fprintf(stderr, "  %s at %d\n", err.text, err.position);
        return NULL;
    }
    CHECK_STR(json_string_value(json_object_get(j, "displayTimeUnit")), "ms");
    json_t *ev = json_object_get(j, "traceEvents");
    CHECK(json_is_array(ev));
    size_t i;
    json_t *e;
    json_array_foreach(ev, i, e)
    {
        const char *ph = json_string_value(json_object_get(e, "ph"));
        CHECK(ph && (strcmp(ph, "X") == 0 || strcmp(ph, "M") == 0));
        CHECK(json_is_string(json_object_get(e, "name")));
        CHECK(json_is_integer(json_object_get(e, "pid")));
        CHECK(json_is_integer(json_object_get(e, "tid")));
        if (ph && strcmp(ph, "X") == 0) {
            CHECK_STR(json_string_value(json_object_get(e, "cat")), "stage");
            CHECK(json_is_number(json_object_get(e, "ts")));
            CHECK(json_number_value(json_object_get(e, "dur")) >= 0);
        }
    }
    return j;
}

static size_t count_events(json_t *j, const char *ph, const char *name)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(j, "traceEvents"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "ph")), ph) == 0 &&
            (!name || strcmp(json_string_value(json_object_get(e, "name")), name) == 0))
            n++;
    }
    return n;
}

LG_TEST(trace)
{
    struct lg_buf b;
    lg_buf_init(&b, 16 << 20);
    CHECK(!lg_prof_trace_active());
    CHECK_INT(lg_prof_trace_stop(&b), LG_EINVAL);
    CHECK_INT(lg_prof_trace_start(0), LG_EINVAL);
    lg_prof_end(NULL, lg_prof_begin(), "before"); /* not recorded */

    CHECK_INT(lg_prof_trace_start(1000), 0);
    CHECK(lg_prof_trace_active());
    CHECK_INT(lg_prof_trace_start(1000), LG_EEXIST);
    lg_prof_thread_name("main \"thread\"");
    int64_t t0 = lg_prof_begin();
    lg_prof_end(NULL, t0 - 2000000, "a-span-whose-name-is-longer-than-31-bytes");
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, spans_on_thread, (void *)"worker 1"), 0);
    pthread_join(th, NULL);
    CHECK_INT(lg_prof_trace_stop(&b), 0);
    CHECK(!lg_prof_trace_active());

    json_t *j = parse_trace(b.data);
    if (j) {
        CHECK_INT(count_events(j, "X", NULL), 4);
        CHECK_INT(count_events(j, "X", "process"), 3);
        CHECK_INT(count_events(j, "X", "a-span-whose-name-is-longer-tha"), 1);
        CHECK_INT(count_events(j, "X", "before"), 0);
        CHECK_INT(count_events(j, "M", "process_name"), 1);
        CHECK(count_events(j, "M", "thread_name") >= 2);
        CHECK_STR(
            json_string_value(json_object_get(json_object_get(j, "otherData"), "dropped_events")),
            "0");
        /* The long span: 2 ms or a little more, at t0 - 2 ms; the worker's
         * spans carry the worker's tid, whose name is "worker 1". */
        size_t i;
        json_t *e;
        json_int_t worker_tid = -1, main_tid = -2, long_tid = -3;
        json_array_foreach(json_object_get(j, "traceEvents"), i, e)
        {
            const char *name = json_string_value(json_object_get(e, "name"));
            json_int_t tid = json_integer_value(json_object_get(e, "tid"));
            if (strcmp(name, "thread_name") == 0) {
                const char *tn =
                    json_string_value(json_object_get(json_object_get(e, "args"), "name"));
                if (strcmp(tn, "worker 1") == 0)
                    worker_tid = tid;
                if (strcmp(tn, "main \"thread\"") == 0)
                    main_tid = tid;
            }
            if (strcmp(name, "process") == 0)
                CHECK(tid == worker_tid);
            if (strncmp(name, "a-span", 6) == 0) {
                long_tid = tid;
                double dur = json_number_value(json_object_get(e, "dur"));
                CHECK(dur >= 2000 && dur < 2000 + 1e6);
                CHECK_NEAR(json_number_value(json_object_get(e, "ts")),
                           (double)(t0 - 2000000) / 1e3, 1e-3);
            }
        }
        CHECK(long_tid == main_tid);
        CHECK(worker_tid != main_tid);
        json_decref(j);
    }
    lg_buf_free(&b);

    /* Past max_events, spans are dropped and counted. */
    lg_buf_init(&b, 1 << 20);
    CHECK_INT(lg_prof_trace_start(3), 0);
    for (int i = 0; i < 5; i++)
        lg_prof_end(NULL, lg_prof_begin(), "x");
    CHECK_INT(lg_prof_trace_stop(&b), 0);
    j = parse_trace(b.data);
    if (j) {
        CHECK_INT(count_events(j, "X", "x"), 3);
        CHECK_STR(
            json_string_value(json_object_get(json_object_get(j, "otherData"), "dropped_events")),
            "2");
        json_decref(j);
    }
    lg_buf_free(&b);

    /* An output buffer too small: the error, and the trace still ends. */
    lg_buf_init(&b, 10);
    CHECK_INT(lg_prof_trace_start(3), 0);
    CHECK_INT(lg_prof_trace_stop(&b), LG_ETOOBIG);
    CHECK(!lg_prof_trace_active());
    lg_buf_free(&b);
}

static _Atomic bool spinning;

static void *spin_spans(void *arg)
{
    (void)arg;
    while (atomic_load(&spinning))
        lg_prof_end(NULL, lg_prof_begin(), "spin");
    return NULL;
}

/* Start and stop while four threads record: every event is whole (ASan and
 * the parse would see torn or freed slots). */
LG_TEST(trace_while_recording)
{
    atomic_store(&spinning, true);
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        CHECK_INT(pthread_create(&t[i], NULL, spin_spans, NULL), 0);
    for (int round = 0; round < 10; round++) {
        struct lg_buf b;
        lg_buf_init(&b, 16 << 20);
        CHECK_INT(lg_prof_trace_start(2000), 0);
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
        CHECK_INT(lg_prof_trace_stop(&b), 0);
        json_t *j = parse_trace(b.data);
        if (j) {
            size_t x = count_events(j, "X", "spin");
            CHECK(x <= 2000);
            CHECK_INT(count_events(j, "X", NULL), x);
            json_decref(j);
        }
        lg_buf_free(&b);
    }
    atomic_store(&spinning, false);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
}

/* --- last: fill the registry --- */

/* Where the streaming DSP runs: null in the JSON until set, then the last
 * values set (cut to their room); events on other rows named by
 * lg_prof_trace_row_name, spans after the fact on this thread's row. */
LG_TEST(dsp_choice_and_rows)
{
    struct lg_buf b;
    lg_buf_init(&b, 4 << 20);
    char be[16], why[192];
    lg_prof_dsp_get(be, sizeof(be), why, sizeof(why));
    CHECK_STR(be, "");
    CHECK_INT(lg_prof_json(&b), 0);
    json_t *j = json_loads(b.data, 0, NULL);
    CHECK(j && json_is_null(json_object_get(json_object_get(j, "dsp"), "backend")));
    json_decref(j);
    lg_prof_dsp_set("cuda", "cuda: 1.20 ms predicted for 2048000 samples, cpu 96.00 ms");
    lg_prof_dsp_set("cpu", "cpu: asked for");
    lg_prof_dsp_get(be, sizeof(be), why, sizeof(why));
    CHECK_STR(be, "cpu");
    CHECK_STR(why, "cpu: asked for");
    lg_buf_free(&b);
    lg_buf_init(&b, 4 << 20);
    CHECK_INT(lg_prof_json(&b), 0);
    j = json_loads(b.data, 0, NULL);
    json_t *dsp = json_object_get(j, "dsp");
    CHECK_STR(json_string_value(json_object_get(dsp, "backend")), "cpu");
    CHECK_STR(json_string_value(json_object_get(dsp, "why")), "cpu: asked for");
    json_decref(j);
    char tiny[4];
    lg_prof_dsp_get(tiny, sizeof(tiny), NULL, 0);
    CHECK_STR(tiny, "cpu");
    lg_buf_free(&b);

    lg_buf_init(&b, 4 << 20);
    CHECK_INT(lg_prof_trace_start(100), 0);
    lg_prof_trace_row_name(1000007, "cuda stream 7");
    lg_prof_trace_event("k_resample", "kernel", 1000007, 5000, 9000);
    int64_t t = lg_prof_now_ns();
    lg_prof_trace_event("process", NULL, lg_prof_thread_id(), t, t + 1000);
    lg_prof_end(NULL, lg_prof_begin(), "here");
    CHECK_INT(lg_prof_trace_stop(&b), 0);
    j = json_loads(b.data, 0, NULL);
    CHECK(j != NULL);
    size_t i;
    json_t *e;
    json_int_t here = -1, after = -2;
    bool named = false, kernel = false;
    json_array_foreach(json_object_get(j, "traceEvents"), i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        json_int_t tid = json_integer_value(json_object_get(e, "tid"));
        const char *arg = json_string_value(json_object_get(json_object_get(e, "args"), "name"));
        if (strcmp(name, "thread_name") == 0 && tid == 1000007)
            named = arg && strcmp(arg, "cuda stream 7") == 0;
        if (strcmp(name, "k_resample") == 0)
            kernel = tid == 1000007 &&
                     strcmp(json_string_value(json_object_get(e, "cat")), "kernel") == 0 &&
                     json_number_value(json_object_get(e, "dur")) == 4;
        if (strcmp(name, "here") == 0)
            here = tid;
        if (strcmp(name, "process") == 0)
            after = tid;
    }
    CHECK(named);
    CHECK(kernel);
    CHECK(here == after);
    json_decref(j);
    lg_buf_free(&b);
}

LG_TEST(registry_overflow)
{
    struct lg_hist *other = NULL;
    size_t before = lg_prof_series_count();
    for (int i = 0; i < LG_PROF_SERIES_MAX + 20; i++) {
        char fmt[16];
        snprintf(fmt, sizeof(fmt), "f%d", i);
        struct lg_hist *h = lg_prof_stage("fill", fmt, "cpu");
        if (lg_prof_series_count() >= LG_PROF_SERIES_MAX && !other)
            other = h;
    }
    CHECK(before < LG_PROF_SERIES_MAX);
    CHECK_INT(lg_prof_series_count(), LG_PROF_SERIES_MAX);
    CHECK(other != NULL);
    const struct lg_prof_series *s = series_of(other);
    CHECK(s != NULL);
    if (s) {
        CHECK_STR(s->stage, "other");
        CHECK_STR(s->format, "other");
        CHECK_STR(s->backend, "other");
    }
    /* New label sets share it; old ones keep theirs. */
    CHECK(lg_prof_stage("fill", "brand_new", "cpu") == other);
    CHECK(lg_prof_stage("other", "other", "other") == other);
    CHECK(lg_prof_stage("generate", "opus", "cpu") != other);
    CHECK(series_of(lg_prof_stage("generate", "opus", "cpu")) != NULL);
    /* Every series is still distinct and exported. */
    struct lg_buf b;
    lg_buf_init(&b, 16 << 20);
    CHECK_INT(lg_prof_metrics(&b), 0);
    check_exposition(b.data);
    promtool_check(b.data);
    lg_buf_free(&b);
}

LG_TEST_MAIN(LG_CASE(bucket_bounds), LG_CASE(observe_units), LG_CASE(quantiles),
             LG_CASE(concurrent_sums_exactly), LG_CASE(labels), LG_CASE(counters_and_gauges),
             LG_CASE(streams), LG_CASE(stream_updated_while_read), LG_CASE(prometheus_text),
             LG_CASE(json_export), LG_CASE(trace), LG_CASE(trace_while_recording),
             LG_CASE(dsp_choice_and_rows), LG_CASE(registry_overflow))
