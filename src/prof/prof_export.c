/* SPDX-License-Identifier: MIT */
/*
 * The profiler's reading side (prof.h, lg_prof_metrics and lg_prof_json):
 * every series as Prometheus text (exposition format 0.0.4) for /metrics,
 * and the same plus the live streams and where the streaming DSP runs as
 * JSON for /api/profile.
 *
 * Readers take no lock on the histograms: each is copied bucket by bucket
 * with relaxed loads, so a scrape that races a recording may see the count
 * and the sum one observation apart, which Prometheus tolerates. The
 * Prometheus text names no track, user or stream (what stays in the JSON,
 * which only administrators get). Labels need no escaping: the registry
 * admits [a-z0-9_] only.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "prof/prof.h"
#include "prof/prof_int.h"

struct family {
    const char *name; /* without the legato_ prefix */
    const char *help;
};

static const struct family counter_families[LG_PROF_N_COUNTERS] = {
    [LG_PROF_STALLS] = { "stalls", "Times a stream's audio ahead of its listener ran out." },
    [LG_PROF_CLIENT_STALLS] = { "client_stalls", "Stalls reported by players." },
    [LG_PROF_CACHE_HITS] = { "transcode_cache_hits", "Transcodes served from the cache." },
    [LG_PROF_CACHE_MISSES] = { "transcode_cache_misses", "Transcodes that had to run." },
    [LG_PROF_CACHE_BYTES_OUT] = { "transcode_cache_served_bytes",
                                  "Bytes served from the transcode cache." },
    [LG_PROF_JOBS_STARTED] = { "transcode_jobs_started", "Transcode jobs started." },
    [LG_PROF_DEGRADED] = { "transcode_degraded",
                           "Transcode jobs lowered in complexity or bitrate under load." },
    [LG_PROF_API_CACHE_HITS] = { "api_cache_hits", "Subsonic answers sent from the answer cache." },
    [LG_PROF_API_CACHE_MISSES] = { "api_cache_misses",
                                   "Cacheable Subsonic answers that had to be made." },
};

static const struct family gauge_families[LG_PROF_N_GAUGES] = {
    [LG_PROF_ACTIVE_STREAMS] = { "active_streams", "Streams being sent now." },
    [LG_PROF_JOBS_QUEUED] = { "transcode_jobs_queued", "Transcode jobs waiting for a worker." },
    [LG_PROF_JOBS_RUNNING] = { "transcode_jobs_running", "Transcode jobs on a worker now." },
    [LG_PROF_CACHE_SIZE] = { "transcode_cache_size_bytes", "Bytes in the transcode cache." },
    [LG_PROF_API_CACHE_SIZE] = { "api_cache_size_bytes",
                                 "Bytes of Subsonic answers in the answer cache." },
};

/* --- Prometheus text --- */

static int put_header(struct lg_buf *out, const char *name, const char *help, const char *type)
{
    return lg_buf_printf(out, "# HELP legato_%s %s\n# TYPE legato_%s %s\n", name, help, name, type);
}

/* The _bucket, _sum and _count lines of one histogram; labels is "" or
 * `key="value"` pairs joined by commas. */
static int put_hist(struct lg_buf *out, const char *name, const char *labels,
                    const struct lg_hist *h)
{
    uint64_t counts[LG_PROF_BUCKETS];
    uint64_t total = lg_hist_snapshot(h, counts);
    const double *bounds = lg_prof_bucket_bounds();
    const char *sep = *labels ? "," : "";
    uint64_t cum = 0;
    int rc = 0;
    for (int i = 0; i < LG_PROF_BUCKETS - 1 && rc == 0; i++) {
        cum += counts[i];
        rc = lg_buf_printf(out, "legato_%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                           bounds[i], (unsigned long long)cum);
    }
    if (rc == 0)
        rc = lg_buf_printf(out, "legato_%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                           (unsigned long long)total);
    /* The sum is kept in units * 1e9 (never negative) and printed exactly. */
    int64_t sum = lg_hist_sum_e9(h);
    const char *open = *labels ? "{" : "";
    const char *close = *labels ? "}" : "";
    if (rc == 0)
        rc = lg_buf_printf(out, "legato_%s_sum%s%s%s %lld.%09lld\n", name, open, labels, close,
                           (long long)(sum / 1000000000), (long long)(sum % 1000000000));
    if (rc == 0)
        rc = lg_buf_printf(out, "legato_%s_count%s%s%s %llu\n", name, open, labels, close,
                           (unsigned long long)total);
    return rc;
}

static int put_stages(struct lg_buf *out)
{
    int rc = put_header(out, "stage_duration_seconds",
                        "Time spent in each pipeline stage, per unit of work.", "histogram");
    size_t n = lg_prof_series_count();
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct lg_prof_series *s = lg_prof_series_at(i);
        char labels[3 * LG_PROF_LABEL_MAX + 64];
        snprintf(labels, sizeof(labels), "stage=\"%s\",format=\"%s\",backend=\"%s\"", s->stage,
                 s->format, s->backend);
        rc = put_hist(out, "stage_duration_seconds", labels, &s->hist);
    }
    return rc;
}

static int put_scalars(struct lg_buf *out)
{
    int rc = 0;
    for (int c = 0; c < LG_PROF_N_COUNTERS && rc == 0; c++) {
        char name[64];
        snprintf(name, sizeof(name), "%s_total", counter_families[c].name);
        rc = put_header(out, name, counter_families[c].help, "counter");
        if (rc == 0)
            rc = lg_buf_printf(out, "legato_%s %lld\n", name,
                               (long long)lg_prof_counter_get((enum lg_prof_counter)c));
    }
    for (int g = 0; g < LG_PROF_N_GAUGES && rc == 0; g++) {
        rc = put_header(out, gauge_families[g].name, gauge_families[g].help, "gauge");
        if (rc == 0)
            rc = lg_buf_printf(out, "legato_%s %lld\n", gauge_families[g].name,
                               (long long)lg_prof_gauge_get((enum lg_prof_gauge)g));
    }
    return rc;
}

int lg_prof_metrics(struct lg_buf *out)
{
    int rc = put_stages(out);
    if (rc == 0)
        rc = put_header(out, "buffer_ahead_seconds",
                        "Seconds of audio a listener had and had not played yet, when measured.",
                        "histogram");
    if (rc == 0)
        rc = put_hist(out, "buffer_ahead_seconds", "", lg_prof_buffer_ahead());
    if (rc == 0)
        rc = put_header(out, "scheduler_lateness_seconds",
                        "Seconds a chunk of work ran after its deadline.", "histogram");
    if (rc == 0)
        rc = put_hist(out, "scheduler_lateness_seconds", "", lg_prof_scheduler_lateness());
    if (rc == 0)
        rc = put_scalars(out);
    return rc;
}

/* --- JSON --- */

static json_t *quantiles_json(const struct lg_hist *h)
{
    return json_pack("{sI sf sf}", "count", (json_int_t)lg_hist_count(h), "p50_s",
                     lg_hist_quantile(h, 0.5), "p99_s", lg_hist_quantile(h, 0.99));
}

static json_t *stages_json(void)
{
    json_t *arr = json_array();
    size_t n = lg_prof_series_count();
    for (size_t i = 0; i < n; i++) {
        const struct lg_prof_series *s = lg_prof_series_at(i);
        uint64_t count = lg_hist_count(&s->hist);
        double sum = lg_hist_sum(&s->hist);
        json_array_append_new(arr, json_pack("{ss ss ss sI sf sf sf sf}", "stage", s->stage,
                                             "format", s->format, "backend", s->backend, "count",
                                             (json_int_t)count, "sum_s", sum, "mean_s",
                                             count ? sum / (double)count : 0.0, "p50_s",
                                             lg_hist_quantile(&s->hist, 0.5), "p99_s",
                                             lg_hist_quantile(&s->hist, 0.99)));
    }
    return arr;
}

static json_t *scalars_json(bool gauges)
{
    json_t *o = json_object();
    int n = gauges ? LG_PROF_N_GAUGES : LG_PROF_N_COUNTERS;
    for (int i = 0; i < n; i++) {
        const char *name = gauges ? gauge_families[i].name : counter_families[i].name;
        int64_t v = gauges ? lg_prof_gauge_get((enum lg_prof_gauge)i)
                           : lg_prof_counter_get((enum lg_prof_counter)i);
        json_object_set_new(o, name, json_integer((json_int_t)v));
    }
    return o;
}

/* what may be cut inside a UTF-8 sequence: jansson refuses that, and then
 * the ASCII part is shown. */
static json_t *what_json(const struct lg_prof_stream *s)
{
    json_t *j = json_stringn(s->what, strnlen(s->what, sizeof(s->what)));
    if (j)
        return j;
    char copy[sizeof(s->what)];
    snprintf(copy, sizeof(copy), "%s", s->what);
    lg_prof_ascii(copy);
    return json_string(copy);
}

struct streams_ctx {
    json_t *arr;
    int64_t now_ns;
};

static void stream_json(const struct lg_prof_stream *s, void *ctx)
{
    struct streams_ctx *c = ctx;
    json_t *busy = json_object();
    for (int i = 0; i < LG_STAGE_N; i++)
        json_object_set_new(busy, lg_prof_stage_name(i), json_real(s->busy_s[i]));
    int late = s->late_stage;
    json_array_append_new(
        c->arr, json_pack("{sI so sf sf sf sI so so}", "id", (json_int_t)s->id, "what",
                          what_json(s), "age_s", (double)(c->now_ns - s->started_ns) / 1e9, "rtf",
                          lg_prof_stream_rtf(s), "ahead_s", lg_prof_stream_ahead(s, c->now_ns),
                          "stalls", (json_int_t)s->stalls, "late_stage",
                          late >= 0 && late < LG_STAGE_N ? json_string(lg_prof_stage_name(late))
                                                         : json_null(),
                          "busy_s", busy));
}

/* Where the streaming DSP runs: {"backend": "cpu", "why": "..."}, both
 * null before the pipeline has said. The why comes from the batcher and is
 * ASCII, but is made so in case. */
static json_t *dsp_json(void)
{
    char backend[16], why[192];
    lg_prof_dsp_get(backend, sizeof(backend), why, sizeof(why));
    lg_prof_ascii(backend);
    lg_prof_ascii(why);
    return json_pack("{so so}", "backend", backend[0] ? json_string(backend) : json_null(), "why",
                     backend[0] ? json_string(why) : json_null());
}

int lg_prof_json(struct lg_buf *out)
{
    struct streams_ctx sc = { json_array(), lg_prof_now_ns() };
    lg_prof_streams_each(stream_json, &sc);
    json_t *j = json_pack("{so so so so so so s{sb} so}", "stages", stages_json(), "counters",
                          scalars_json(false), "gauges", scalars_json(true), "buffer_ahead",
                          quantiles_json(lg_prof_buffer_ahead()), "scheduler_lateness",
                          quantiles_json(lg_prof_scheduler_lateness()), "streams", sc.arr, "trace",
                          "recording", lg_prof_trace_active(), "dsp", dsp_json());
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    lg_assert(text); /* jansson fails only when out of memory */
    int rc = lg_buf_puts(out, text);
    free(text);
    return rc;
}
