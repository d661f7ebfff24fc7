/* SPDX-License-Identifier: MIT */
/*
 * The profiler's recording side (prof.h): histograms, the registry of stage
 * series, counters and gauges, the live streams and timed spans. Called from
 * every pipeline thread, so the hot path (lg_prof_end with a histogram
 * pointer in hand) takes no lock: two clock reads, a binary search over 25
 * bounds and two relaxed atomic adds. Everything lives in static storage:
 * nothing here allocates, ever. It also keeps where the streaming DSP runs
 * (lg_prof_dsp_set), a line the batcher's owner updates after each run.
 *
 * The registry is an open-addressing hash table of LG_PROF_SERIES_TABLE
 * atomic pointers into a fixed array of series. A series is filled in
 * completely, then published with a release store (first the count that the
 * exporters read, then the table slot that lookups read); readers load
 * with acquire and see whole series only. Creation takes a mutex, so there
 * is one writer and a slot, once set, never changes.
 */
#include "prof/prof.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include "prof/prof_int.h"

enum {
    LG_PROF_SERIES_TABLE = 512, /* hash slots: a power of two, twice LG_PROF_SERIES_MAX */
};

/* Upper bounds in seconds and in nanoseconds (units * 1e9), 1-2.5-5 per
 * decade from 1 us to 100 s. */
static const double bounds_s[] = {
    1e-6,   2.5e-6, 5e-6, 1e-5,   2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
    2.5e-2, 5e-2,   1e-1, 2.5e-1, 5e-1,   1,    2.5,  5,      10,   25,   50,     100,
};
static const int64_t bounds_e9[] = {
    1000LL,       2500LL,        5000LL,        10000LL,       25000LL,
    50000LL,      100000LL,      250000LL,      500000LL,      1000000LL,
    2500000LL,    5000000LL,     10000000LL,    25000000LL,    50000000LL,
    100000000LL,  250000000LL,   500000000LL,   1000000000LL,  2500000000LL,
    5000000000LL, 10000000000LL, 25000000000LL, 50000000000LL, 100000000000LL,
};
_Static_assert(LG_ARRAY_LEN(bounds_s) == LG_PROF_BUCKETS - 1, "LG_PROF_BUCKETS and the bounds");
_Static_assert(LG_ARRAY_LEN(bounds_e9) == LG_PROF_BUCKETS - 1, "LG_PROF_BUCKETS and the bounds");
_Static_assert(LG_PROF_SERIES_TABLE >= 2 * LG_PROF_SERIES_MAX, "hash table load under 1/2");
_Static_assert((LG_PROF_SERIES_TABLE & (LG_PROF_SERIES_TABLE - 1)) == 0, "a power of two");

static struct lg_prof_series series[LG_PROF_SERIES_MAX];
static _Atomic size_t n_series;
static _Atomic(struct lg_prof_series *) table[LG_PROF_SERIES_TABLE];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static struct lg_hist buffer_ahead;
static struct lg_hist scheduler_lateness;
static _Atomic int64_t counters[LG_PROF_N_COUNTERS];
static _Atomic int64_t gauges[LG_PROF_N_GAUGES];

/* Where the streaming DSP runs, as last set (lg_prof_dsp_set). */
static pthread_mutex_t dsp_lock = PTHREAD_MUTEX_INITIALIZER;
static char dsp_backend[16];
static char dsp_why[192];

static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lg_prof_stream *streams;
static _Atomic int64_t last_stream_id;

int64_t lg_prof_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- histograms --- */

const double *lg_prof_bucket_bounds(void)
{
    return bounds_s;
}

/* The first bucket whose bound is >= v (Prometheus "le" is inclusive). */
static int bucket_of(int64_t v_e9)
{
    int lo = 0;
    int hi = LG_PROF_BUCKETS - 1; /* the +Inf bucket */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v_e9 <= bounds_e9[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void lg_hist_record_ns(struct lg_hist *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    atomic_fetch_add_explicit(&h->counts[bucket_of(ns)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_e9, ns, memory_order_relaxed);
}

void lg_hist_observe(struct lg_hist *h, double v)
{
    if (isnan(v))
        return;
    /* The clamp keeps v * 1e9 well inside int64_t and sums from overflowing
     * for billions of observations. */
    v = v < 0 ? 0 : v > 1e9 ? 1e9 : v;
    lg_hist_record_ns(h, (int64_t)llround(v * 1e9));
}

uint64_t lg_hist_snapshot(const struct lg_hist *h, uint64_t *counts)
{
    uint64_t n = 0;
    for (int i = 0; i < LG_PROF_BUCKETS; i++) {
        counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        n += counts[i];
    }
    return n;
}

int64_t lg_hist_sum_e9(const struct lg_hist *h)
{
    return atomic_load_explicit(&h->sum_e9, memory_order_relaxed);
}

uint64_t lg_hist_count(const struct lg_hist *h)
{
    uint64_t counts[LG_PROF_BUCKETS];
    return lg_hist_snapshot(h, counts);
}

double lg_hist_sum(const struct lg_hist *h)
{
    return (double)lg_hist_sum_e9(h) / 1e9;
}

/* The bucket that holds rank q * count, and a linear interpolation between
 * its bounds (0 below the first); the +Inf bucket answers the last finite
 * bound, as Prometheus' histogram_quantile does. */
double lg_hist_quantile(const struct lg_hist *h, double q)
{
    uint64_t counts[LG_PROF_BUCKETS];
    uint64_t n = lg_hist_snapshot(h, counts);
    if (n == 0)
        return 0;
    q = isnan(q) || q < 0 ? 0 : q > 1 ? 1 : q;
    double rank = q * (double)n;
    uint64_t below = 0;
    for (int i = 0; i < LG_PROF_BUCKETS - 1; i++) {
        if (counts[i] == 0)
            continue;
        if ((double)(below + counts[i]) >= rank) {
            double lo = i ? bounds_s[i - 1] : 0;
            return lo + (bounds_s[i] - lo) * (rank - (double)below) / (double)counts[i];
        }
        below += counts[i];
    }
    return bounds_s[LG_PROF_BUCKETS - 2];
}

/* --- the registry of stage series --- */

static bool label_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (i >= LG_PROF_LABEL_MAX - 1)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* FNV-1a over the three labels, each with its NUL as a separator. */
static uint32_t labels_hash(const char *const labels[3])
{
    uint32_t h = 2166136261u;
    for (int k = 0; k < 3; k++) {
        const char *p = labels[k];
        do {
            h ^= (unsigned char)*p;
            h *= 16777619u;
        } while (*p++);
    }
    return h;
}

static bool labels_equal(const struct lg_prof_series *s, const char *const labels[3])
{
    return strcmp(s->stage, labels[0]) == 0 && strcmp(s->format, labels[1]) == 0 &&
           strcmp(s->backend, labels[2]) == 0;
}

/* The series with these labels, or NULL and *free_slot the slot where it
 * would go. Lock-free. */
static struct lg_prof_series *probe(const char *const labels[3], size_t *free_slot)
{
    uint32_t h = labels_hash(labels);
    for (size_t i = 0; i < LG_PROF_SERIES_TABLE; i++) {
        size_t k = (h + i) & (LG_PROF_SERIES_TABLE - 1);
        struct lg_prof_series *s = atomic_load_explicit(&table[k], memory_order_acquire);
        if (!s) {
            *free_slot = k;
            return NULL;
        }
        if (labels_equal(s, labels))
            return s;
    }
    lg_assert(!"the series table is never more than half full");
    return NULL;
}

static const char *const other_labels[3] = { "other", "other", "other" };

/* Under registry_lock. The last array entry is kept for (other, other,
 * other), where label sets go once the others are taken. */
static struct lg_prof_series *find_or_add(const char *const labels[3])
{
    size_t slot = 0;
    struct lg_prof_series *s = probe(labels, &slot);
    if (s)
        return s;
    size_t n = atomic_load_explicit(&n_series, memory_order_relaxed);
    bool is_other = strcmp(labels[0], "other") == 0 && strcmp(labels[1], "other") == 0 &&
                    strcmp(labels[2], "other") == 0;
    if (n >= LG_PROF_SERIES_MAX - 1 && !is_other)
        return find_or_add(other_labels);
    s = &series[n];
    snprintf(s->stage, sizeof(s->stage), "%s", labels[0]);
    snprintf(s->format, sizeof(s->format), "%s", labels[1]);
    snprintf(s->backend, sizeof(s->backend), "%s", labels[2]);
    atomic_store_explicit(&n_series, n + 1, memory_order_release);
    atomic_store_explicit(&table[slot], s, memory_order_release);
    return s;
}

struct lg_hist *lg_prof_stage(const char *stage, const char *format, const char *backend)
{
    const char *const labels[3] = {
        label_ok(stage) ? stage : "other",
        label_ok(format) ? format : "other",
        label_ok(backend) ? backend : "other",
    };
    size_t slot;
    struct lg_prof_series *s = probe(labels, &slot);
    if (s)
        return &s->hist;
    pthread_mutex_lock(&registry_lock);
    s = find_or_add(labels);
    pthread_mutex_unlock(&registry_lock);
    return &s->hist;
}

size_t lg_prof_series_count(void)
{
    return atomic_load_explicit(&n_series, memory_order_acquire);
}

const struct lg_prof_series *lg_prof_series_at(size_t i)
{
    return &series[i];
}

struct lg_hist *lg_prof_buffer_ahead(void)
{
    return &buffer_ahead;
}

struct lg_hist *lg_prof_scheduler_lateness(void)
{
    return &scheduler_lateness;
}

/* --- spans --- */

static atomic_bool disabled;

void lg_prof_enable(bool on)
{
    atomic_store_explicit(&disabled, !on, memory_order_relaxed);
}

bool lg_prof_enabled(void)
{
    return !atomic_load_explicit(&disabled, memory_order_relaxed);
}

int64_t lg_prof_begin(void)
{
    if (atomic_load_explicit(&disabled, memory_order_relaxed))
        return 0;
    return lg_prof_now_ns();
}

int64_t lg_prof_end(struct lg_hist *h, int64_t begin_ns, const char *name)
{
    if (atomic_load_explicit(&disabled, memory_order_relaxed))
        return 0;
    int64_t end_ns = lg_prof_now_ns();
    int64_t ns = end_ns > begin_ns ? end_ns - begin_ns : 0;
    if (h)
        lg_hist_record_ns(h, ns);
    lg_prof_trace_span(begin_ns, end_ns, name);
    return ns;
}

/* --- counters and gauges --- */

void lg_prof_count(enum lg_prof_counter c, int64_t n)
{
    if ((unsigned)c < LG_PROF_N_COUNTERS && n > 0)
        atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

void lg_prof_gauge_add(enum lg_prof_gauge g, int64_t delta)
{
    if ((unsigned)g < LG_PROF_N_GAUGES)
        atomic_fetch_add_explicit(&gauges[g], delta, memory_order_relaxed);
}

void lg_prof_gauge_set(enum lg_prof_gauge g, int64_t v)
{
    if ((unsigned)g < LG_PROF_N_GAUGES)
        atomic_store_explicit(&gauges[g], v, memory_order_relaxed);
}

int64_t lg_prof_counter_get(enum lg_prof_counter c)
{
    if ((unsigned)c >= LG_PROF_N_COUNTERS)
        return 0;
    return atomic_load_explicit(&counters[c], memory_order_relaxed);
}

int64_t lg_prof_gauge_get(enum lg_prof_gauge g)
{
    if ((unsigned)g >= LG_PROF_N_GAUGES)
        return 0;
    return atomic_load_explicit(&gauges[g], memory_order_relaxed);
}

/* --- streams --- */

const char *lg_prof_stage_name(int stage)
{
    static const char *const names[LG_STAGE_N] = { "load", "process", "generate", "send" };
    return stage >= 0 && stage < LG_STAGE_N ? names[stage] : "other";
}

void lg_prof_stream_register(struct lg_prof_stream *s, const char *what)
{
    s->id = atomic_fetch_add_explicit(&last_stream_id, 1, memory_order_relaxed) + 1;
    snprintf(s->what, sizeof(s->what), "%s", what ? what : "");
    s->started_ns = lg_prof_now_ns();
    s->media_sent_s = 0;
    s->media_made_s = 0;
    for (int i = 0; i < LG_STAGE_N; i++)
        s->busy_s[i] = 0;
    s->stalls = 0;
    s->late_stage = -1;
    pthread_mutex_lock(&streams_lock);
    s->prev_ = NULL;
    s->next_ = streams;
    if (streams)
        streams->prev_ = s;
    streams = s;
    pthread_mutex_unlock(&streams_lock);
    lg_prof_gauge_add(LG_PROF_ACTIVE_STREAMS, 1);
}

void lg_prof_stream_done(struct lg_prof_stream *s)
{
    pthread_mutex_lock(&streams_lock);
    if (s->prev_) {
        s->prev_->next_ = s->next_;
    } else if (streams == s) {
        streams = s->next_;
    } else {
        pthread_mutex_unlock(&streams_lock); /* not in the list (never added, or done twice) */
        return;
    }
    if (s->next_)
        s->next_->prev_ = s->prev_;
    s->next_ = NULL;
    s->prev_ = NULL;
    pthread_mutex_unlock(&streams_lock);
    lg_prof_gauge_add(LG_PROF_ACTIVE_STREAMS, -1);
}

void lg_prof_streams_each(lg_prof_stream_fn *fn, void *ctx)
{
    pthread_mutex_lock(&streams_lock);
    for (const struct lg_prof_stream *s = streams; s; s = s->next_)
        fn(s, ctx);
    pthread_mutex_unlock(&streams_lock);
}

double lg_prof_stream_ahead(const struct lg_prof_stream *s, int64_t now_ns)
{
    double ahead = s->media_sent_s - (double)(now_ns - s->started_ns) / 1e9;
    return ahead > 0 ? ahead : 0;
}

double lg_prof_stream_rtf(const struct lg_prof_stream *s)
{
    double busy =
        s->busy_s[LG_STAGE_LOAD] + s->busy_s[LG_STAGE_PROCESS] + s->busy_s[LG_STAGE_GENERATE];
    return busy > 0 ? s->media_made_s / busy : 0;
}

void lg_prof_ascii(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

/* --- where the streaming DSP runs --- */

void lg_prof_dsp_set(const char *backend, const char *why)
{
    pthread_mutex_lock(&dsp_lock);
    snprintf(dsp_backend, sizeof(dsp_backend), "%s", backend ? backend : "");
    snprintf(dsp_why, sizeof(dsp_why), "%s", why ? why : "");
    pthread_mutex_unlock(&dsp_lock);
}

void lg_prof_dsp_get(char *backend, size_t backend_cap, char *why, size_t why_cap)
{
    pthread_mutex_lock(&dsp_lock);
    if (backend && backend_cap)
        snprintf(backend, backend_cap, "%s", dsp_backend);
    if (why && why_cap)
        snprintf(why, why_cap, "%s", dsp_why);
    pthread_mutex_unlock(&dsp_lock);
}
