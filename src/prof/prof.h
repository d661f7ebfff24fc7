/* SPDX-License-Identifier: MIT */
/*
 * The profiler: where every millisecond of every stream goes.
 *
 * Stage timers. Each pipeline stage (load, process, generate, send; the GPU
 * backend adds its own) is timed with CLOCK_MONOTONIC into a log-bucket
 * histogram labelled by stage, format and backend. A histogram is a fixed
 * array of atomic counters: recording is lock-free and costs two clock reads
 * and three relaxed atomic adds, so profiling stays on in production.
 *
 * Streams. Each live stream has a struct lg_prof_stream that the pipeline
 * updates (media time produced and sent, wall time, stalls, the stage that
 * held it back) and that the health monitor and /api/profile read.
 *
 * Export. lg_prof_metrics renders every series in the Prometheus text format
 * (version 0.0.4); lg_prof_json the same as JSON for /api/profile. A trace
 * (lg_prof_trace_*) records every timed span as a Chrome trace-event "X"
 * event, which Perfetto and chrome://tracing open.
 *
 * Threads: every function is thread-safe. Histograms and counters live for
 * the whole process (the registry is static and never shrinks; at most
 * LG_PROF_SERIES_MAX labelled histograms exist, later labels share an
 * "other" series).
 */
#ifndef LG_PROF_PROF_H
#define LG_PROF_PROF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

struct lg_buf;

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t lg_prof_now_ns(void);

/* --- histograms --- */

enum {
    LG_PROF_BUCKETS = 26,     /* upper bounds 1 us .. 100 s, 1-2.5-5 per decade, then +Inf */
    LG_PROF_SERIES_MAX = 256, /* labelled stage histograms */
};

struct lg_hist; /* opaque; lives as long as the process */

/* Bucket upper bounds in seconds, LG_PROF_BUCKETS - 1 of them (the last
 * bucket is +Inf). */
const double *lg_prof_bucket_bounds(void);

/* Records one duration of ns nanoseconds (as seconds). Negative counts as 0. */
void lg_hist_record_ns(struct lg_hist *h, int64_t ns);
/* Records one observation of v in the histogram's unit (seconds for timers).
 * Negative values count as 0, values over 1e9 as 1e9; NaN is ignored. */
void lg_hist_observe(struct lg_hist *h, double v);
/* A consistent-enough snapshot: count, sum (in the unit), and the quantile q
 * (0..1) interpolated within its bucket; 0 when empty. */
uint64_t lg_hist_count(const struct lg_hist *h);
double lg_hist_sum(const struct lg_hist *h);
double lg_hist_quantile(const struct lg_hist *h, double q);

/* The stage histogram for (stage, format, backend), created on first use;
 * each label is at most 31 bytes of [a-z0-9_]. Never NULL. Callers may keep
 * the pointer forever. Example: lg_prof_stage("generate", "opus", "cpu").
 * A label that breaks the rule (NULL, empty, too long, another byte) becomes
 * "other"; once LG_PROF_SERIES_MAX - 1 label sets exist, new ones share the
 * series (other, other, other). Lock-free once the label set exists (a hash
 * of the labels and a probe); the first use takes a mutex. */
struct lg_hist *lg_prof_stage(const char *stage, const char *format, const char *backend);

/* Process-wide value histograms (unit in the name). */
struct lg_hist *lg_prof_buffer_ahead(void);       /* seconds of audio ahead of a listener */
struct lg_hist *lg_prof_scheduler_lateness(void); /* seconds a chunk ran after its deadline */

/* Profiling is on from the start; off, lg_prof_begin and lg_prof_end cost a
 * load and a branch, record nothing and return 0 (to measure the
 * profiler's own cost: LEGATO_PROFILE=off). */
void lg_prof_enable(bool on);
bool lg_prof_enabled(void);

/* A timed span: t = lg_prof_begin(); ...; lg_prof_end(h, t, "name") records
 * the duration into h and, while a trace is recording, a trace event named
 * name on the calling thread (name is copied, at most 31 bytes). h may be
 * NULL: a span that only shows in traces. Returns the duration in ns. */
int64_t lg_prof_begin(void);
int64_t lg_prof_end(struct lg_hist *h, int64_t begin_ns, const char *name);

/* --- counters and gauges --- */

enum lg_prof_counter {
    LG_PROF_STALLS,           /* a stream's buffer ahead reached zero */
    LG_PROF_CLIENT_STALLS,    /* stalls reported by players (POST /api/stalls) */
    LG_PROF_CACHE_HITS,       /* transcodes served from the cache */
    LG_PROF_CACHE_MISSES,     /* transcodes that had to run */
    LG_PROF_CACHE_BYTES_OUT,  /* bytes served from the cache */
    LG_PROF_JOBS_STARTED,     /* transcode jobs started */
    LG_PROF_DEGRADED,         /* jobs lowered in complexity or bitrate under load */
    LG_PROF_API_CACHE_HITS,   /* Subsonic answers sent from the answer cache */
    LG_PROF_API_CACHE_MISSES, /* cacheable Subsonic answers that had to be made */
    LG_PROF_N_COUNTERS
};
enum lg_prof_gauge {
    LG_PROF_ACTIVE_STREAMS, /* streams being sent now */
    LG_PROF_JOBS_QUEUED,    /* transcode jobs waiting for a worker */
    LG_PROF_JOBS_RUNNING,   /* transcode jobs on a worker now */
    LG_PROF_CACHE_SIZE,     /* bytes in the transcode cache */
    LG_PROF_API_CACHE_SIZE, /* bytes in the answer cache */
    LG_PROF_N_GAUGES
};
/* Counters only go up: n <= 0 is ignored. Unknown c or g are ignored. */
void lg_prof_count(enum lg_prof_counter c, int64_t n);
void lg_prof_gauge_add(enum lg_prof_gauge g, int64_t delta);
void lg_prof_gauge_set(enum lg_prof_gauge g, int64_t v);
int64_t lg_prof_counter_get(enum lg_prof_counter c);
int64_t lg_prof_gauge_get(enum lg_prof_gauge g);

/* --- streams --- */

enum lg_prof_stage_id {
    LG_STAGE_LOAD,
    LG_STAGE_PROCESS,
    LG_STAGE_GENERATE,
    LG_STAGE_SEND,
    LG_STAGE_N
};
/* "load", "process", "generate", "send". */
const char *lg_prof_stage_name(int stage);

/* One stream as the profiler sees it. The pipeline owns it and updates the
 * measured fields (one writer thread at a time); lg_prof_json and
 * lg_prof_streams_each read them from other threads under the registry lock,
 * so those fields are atomic: plain reads, "=", "+=" and "++" are atomic
 * operations (sequentially consistent; a few ns each, per chunk, not per
 * sample). id, what and started_ns do not change while registered. */
struct lg_prof_stream {
    int64_t id;                           /* assigned by lg_prof_stream_register */
    char what[64];                        /* e.g. "track 42 opus 128k"; not in /metrics */
    int64_t started_ns;                   /* lg_prof_now_ns() at the first byte requested */
    _Atomic double media_sent_s;          /* seconds of audio sent to the listener */
    _Atomic double media_made_s;          /* seconds of audio produced */
    _Atomic double busy_s[LG_STAGE_N];    /* time spent in each stage */
    _Atomic int64_t stalls;               /* times the buffer ahead reached zero */
    _Atomic int late_stage;               /* the stage that held the stream back last, -1 none */
    struct lg_prof_stream *next_, *prev_; /* registry list, private */
};
/* Adds s to the live list: assigns id, sets started_ns, copies what (NULL:
 * "", cut to 63 bytes), resets the measured fields (0, late_stage -1) and
 * adds 1 to LG_PROF_ACTIVE_STREAMS. lg_prof_stream_done removes it and
 * subtracts 1 (a stream not in the list is ignored); s may be freed after.
 * Both O(1) under one mutex. */
void lg_prof_stream_register(struct lg_prof_stream *s, const char *what);
void lg_prof_stream_done(struct lg_prof_stream *s);
/* Calls fn for each live stream, under the registry lock: fn must be quick
 * and must not call lg_prof_stream_register, _done, _each or lg_prof_json. */
typedef void lg_prof_stream_fn(const struct lg_prof_stream *s, void *ctx);
void lg_prof_streams_each(lg_prof_stream_fn *fn, void *ctx);
/* Buffer ahead of s now: media_sent_s minus the wall time since it started
 * (what the listener has that it has not played yet), floored at 0. */
double lg_prof_stream_ahead(const struct lg_prof_stream *s, int64_t now_ns);
/* Real-time factor: media seconds produced per second of production stage
 * time (load + process + generate; send waits on the listener); 0 before any
 * stage time. */
double lg_prof_stream_rtf(const struct lg_prof_stream *s);

/* --- export --- */

/* Appends every series in the Prometheus text exposition format: stage
 * durations (legato_stage_duration_seconds{stage,format,backend}), buffer
 * ahead, scheduler lateness, the counters and gauges. 0, or LG_ETOOBIG from
 * the buffer (which is then reset). */
int lg_prof_metrics(struct lg_buf *out) LG_MUST_CHECK;
/* The same, and the live streams with their rtf, ahead, stalls and late
 * stage, and where the streaming DSP runs (lg_prof_dsp_set), as one JSON
 * object. */
int lg_prof_json(struct lg_buf *out) LG_MUST_CHECK;

/* --- where the streaming DSP runs --- */

/* Records where the process stage's next batch runs: backend ("cpu" or
 * "cuda") and why (one line, e.g. the batcher's lg_dsp_batcher_choice()),
 * both copied (cut to 15 and 191 bytes). The last call wins; lg_prof_json
 * shows it as "dsp": {"backend", "why"} (null before any call). */
void lg_prof_dsp_set(const char *backend, const char *why);
/* The last values set ("" before any call) into backend and why (cap bytes
 * each, NUL-terminated, may be NULL). */
void lg_prof_dsp_get(char *backend, size_t backend_cap, char *why, size_t why_cap);

/* --- trace --- */

/* Starts recording every span into memory: at most max_events, preallocated
 * (at most 64 bytes each, touched now so that recording threads take no page
 * faults); later ones are dropped and counted. A traced span costs about
 * 15-25 ns more (bench/prof). LG_EEXIST when a trace is already recording,
 * LG_EINVAL for 0 or more than LG_PROF_TRACE_MAX events, -ENOMEM. */
#define LG_PROF_TRACE_MAX ((size_t)1 << 24)
int lg_prof_trace_start(size_t max_events) LG_MUST_CHECK;
bool lg_prof_trace_active(void);
/* Stops recording and appends the Chrome trace-event JSON ({"traceEvents":
 * [...], "displayTimeUnit": "ms", "otherData": {"dropped_events": "N"}})
 * with process and thread-name metadata. The recording ends and its memory
 * is released even on failure. LG_EINVAL when no trace is recording,
 * LG_ETOOBIG from the buffer. Cost: about 1.5 us per event. */
int lg_prof_trace_stop(struct lg_buf *out) LG_MUST_CHECK;
/* Names the calling thread in traces ("worker 3", "http"), at most 31 bytes
 * kept; the name is remembered for later traces too (up to 1024 threads). */
void lg_prof_thread_name(const char *name);
/* Records one event of another time line while a trace is recording (no-op
 * otherwise), e.g. a GPU kernel or copy that CUPTI reported: name (at most
 * 31 bytes kept), cat its category (at most 7 bytes, "kernel", "memcpy";
 * NULL: "stage"), tid the trace's row for it (pick numbers far from thread
 * ids, which count up from 1: e.g. 1000000 + a CUDA stream id), begin and
 * end in CLOCK_MONOTONIC ns (lg_prof_now_ns's clock). Lock-free, as spans. */
void lg_prof_trace_event(const char *name, const char *cat, int32_t tid, int64_t begin_ns,
                         int64_t end_ns);
/* The calling thread's row in traces (as lg_prof_end's spans use), for
 * lg_prof_trace_event of spans measured on this thread after the fact. */
int32_t lg_prof_thread_id(void);
/* Names row tid in traces (a row of lg_prof_trace_event, e.g. a CUDA
 * stream's), as lg_prof_thread_name names a thread's; same limits. */
void lg_prof_trace_row_name(int32_t tid, const char *name);

#endif
