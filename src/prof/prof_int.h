/* SPDX-License-Identifier: MIT */
/*
 * Private to src/prof/: the histogram layout, the series registry as the
 * exporters read it, and the trace hook that lg_prof_end calls. prof.c owns
 * the registry, prof_trace.c the trace, prof_export.c only reads.
 */
#ifndef LG_PROF_PROF_INT_H
#define LG_PROF_PROF_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "prof/prof.h"

enum {
    LG_PROF_LABEL_MAX = 32, /* bytes of a label with its NUL */
};

/* Counts per bucket (bucket i holds values <= bound i; the last is +Inf) and
 * the sum in the unit times 1e9 (nanoseconds for timers). The count is the
 * sum of the buckets, so there is no third counter to keep consistent. */
struct lg_hist {
    _Atomic uint64_t counts[LG_PROF_BUCKETS];
    _Atomic int64_t sum_e9;
};

/* One labelled stage histogram. The labels are written once, before the
 * series is published, and never change. */
struct lg_prof_series {
    char stage[LG_PROF_LABEL_MAX];
    char format[LG_PROF_LABEL_MAX];
    char backend[LG_PROF_LABEL_MAX];
    struct lg_hist hist;
};

/* The series created so far, in order of creation; the array does not move
 * and an entry below the returned count never changes its labels. */
size_t lg_prof_series_count(void);
const struct lg_prof_series *lg_prof_series_at(size_t i);

/* Per-bucket counts of h into counts[LG_PROF_BUCKETS] (one relaxed load
 * each) and their total. */
uint64_t lg_hist_snapshot(const struct lg_hist *h, uint64_t *counts);
/* The sum as unit * 1e9, exact. */
int64_t lg_hist_sum_e9(const struct lg_hist *h);

/* Called by lg_prof_end for every span: records an event when a trace is
 * recording, returns at once otherwise. */
void lg_prof_trace_span(int64_t begin_ns, int64_t end_ns, const char *name);

/* Replaces every byte of s that is not printable ASCII with '?', so that a
 * string cut anywhere is still valid UTF-8 for jansson. */
void lg_prof_ascii(char *s);

#endif
