/* SPDX-License-Identifier: MIT */
/*
 * Trace recording (prof.h, lg_prof_trace_*): every span that ends while a
 * trace is recording becomes a Chrome trace-event "X" event, which Perfetto
 * and chrome://tracing open.
 *
 * Events go into one array preallocated by lg_prof_trace_start. A thread
 * claims a slot with one relaxed fetch-add on the shared index and writes it
 * alone, so recording takes no lock. lg_prof_trace_stop must not read a slot
 * while its writer is still filling it, nor free the array under a writer:
 * writers announce themselves in an in-flight count before they look at the
 * active flag again, and stop clears the flag and then waits for the count
 * to reach zero (both sides sequentially consistent, so either the writer
 * sees the flag cleared or stop sees the writer). When no trace is recording
 * a span costs one relaxed load here.
 *
 * Thread ids in traces are small numbers given to threads on their first
 * span or name, not kernel ids. Thread names (and the names of other rows,
 * such as CUDA streams') are kept across traces in a fixed table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <unistd.h>

#include <jansson.h>
#include <sched.h>
#include <stdalign.h>

#include "core/buf.h"
#include "prof/prof.h"
#include "prof/prof_int.h"

enum {
    LG_PROF_THREADS_MAX = 1024, /* named threads remembered */
};

struct trace_event {
    int64_t begin_ns;
    int64_t dur_ns;
    int32_t tid;
    char cat[8]; /* "" for "stage" */
    char name[LG_PROF_LABEL_MAX];
};
_Static_assert(sizeof(struct trace_event) <= 64, "prof.h promises at most 64 bytes an event");

struct thread_name {
    int32_t tid;
    char name[LG_PROF_LABEL_MAX];
};

/* lock serialises start and stop and is held through the whole of stop;
 * recording threads never take it. events and max change only under lock
 * while active is false, and writers read them only after seeing active. */
static struct {
    pthread_mutex_t lock;
    struct trace_event *events;
    size_t max;
    /* Every span reads active; while a trace records, every span also
     * writes inflight and next. Separate cache lines keep those writes from
     * evicting active (and each other) on the other cores. */
    alignas(64) _Atomic bool active;
    alignas(64) _Atomic int64_t inflight;
    alignas(64) _Atomic size_t next; /* slots claimed; those past max were dropped */
} tr = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_name names[LG_PROF_THREADS_MAX];
static size_t n_names;

static _Atomic int32_t last_tid;
static _Thread_local int32_t my_tid;

static int32_t thread_id(void)
{
    if (!my_tid)
        my_tid = atomic_fetch_add_explicit(&last_tid, 1, memory_order_relaxed) + 1;
    return my_tid;
}

int32_t lg_prof_thread_id(void)
{
    return thread_id();
}

void lg_prof_thread_name(const char *name)
{
    lg_prof_trace_row_name(thread_id(), name);
}

void lg_prof_trace_row_name(int32_t tid, const char *name)
{
    pthread_mutex_lock(&names_lock);
    size_t i = 0;
    while (i < n_names && names[i].tid != tid)
        i++;
    if (i < LG_ARRAY_LEN(names)) {
        names[i].tid = tid;
        snprintf(names[i].name, sizeof(names[i].name), "%s", name ? name : "");
        if (i == n_names)
            n_names++;
    }
    pthread_mutex_unlock(&names_lock);
}

bool lg_prof_trace_active(void)
{
    return atomic_load_explicit(&tr.active, memory_order_relaxed);
}

/* Copies at most cap - 1 bytes of src and a NUL. */
static void copy_label(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; i < cap - 1 && src[i]; i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

static void fill(struct trace_event *e, int64_t begin_ns, int64_t end_ns, const char *name,
                 const char *cat, int32_t tid)
{
    e->begin_ns = begin_ns;
    e->dur_ns = end_ns > begin_ns ? end_ns - begin_ns : 0;
    e->tid = tid;
    copy_label(e->cat, sizeof(e->cat), cat ? cat : "");
    copy_label(e->name, sizeof(e->name), name ? name : "span");
}

static void record(int64_t begin_ns, int64_t end_ns, const char *name, const char *cat, int32_t tid)
{
    if (!atomic_load_explicit(&tr.active, memory_order_relaxed))
        return;
    atomic_fetch_add(&tr.inflight, 1);
    if (atomic_load(&tr.active)) {
        size_t i = atomic_fetch_add_explicit(&tr.next, 1, memory_order_relaxed);
        if (i < tr.max)
            fill(&tr.events[i], begin_ns, end_ns, name, cat, tid);
    }
    atomic_fetch_sub(&tr.inflight, 1);
}

void lg_prof_trace_span(int64_t begin_ns, int64_t end_ns, const char *name)
{
    if (!atomic_load_explicit(&tr.active, memory_order_relaxed))
        return;
    record(begin_ns, end_ns, name, NULL, thread_id());
}

void lg_prof_trace_event(const char *name, const char *cat, int32_t tid, int64_t begin_ns,
                         int64_t end_ns)
{
    record(begin_ns, end_ns, name, cat, tid);
}

int lg_prof_trace_start(size_t max_events)
{
    if (max_events == 0 || max_events > LG_PROF_TRACE_MAX)
        return LG_EINVAL;
    pthread_mutex_lock(&tr.lock);
    if (atomic_load(&tr.active)) {
        pthread_mutex_unlock(&tr.lock);
        return LG_EEXIST;
    }
    /* calloc: the size comes from the caller (an HTTP parameter, at worst)
     * and failing is an answer, not an abort. */
    struct trace_event *ev = calloc(max_events, sizeof(*ev));
    if (!ev) {
        pthread_mutex_unlock(&tr.lock);
        return -ENOMEM;
    }
    /* Touch every page now: a large calloc maps zero pages lazily, and the
     * page faults would otherwise land on the recording threads, doubling
     * the cost of a traced span. A volatile write, so that the compiler
     * cannot drop it as a store of what calloc already made zero. */
    for (size_t off = 0; off < max_events * sizeof(*ev); off += 4096)
        ((volatile char *)ev)[off] = 0;
    tr.events = ev;
    tr.max = max_events;
    atomic_store(&tr.next, 0);
    atomic_store(&tr.active, true);
    pthread_mutex_unlock(&tr.lock);
    return 0;
}

/* Appends one array element, rendered by jansson; j is released. Events are
 * dumped one at a time rather than as one tree so that a trace of a million
 * spans does not need a million jansson objects at once. */
static int put_event(struct lg_buf *out, json_t *j, bool *first)
{
    char tmp[512];
    size_t n = j ? json_dumpb(j, tmp, sizeof(tmp), JSON_COMPACT | JSON_REAL_PRECISION(16)) : 0;
    json_decref(j);
    if (n == 0 || n > sizeof(tmp))
        return LG_EINVAL; /* cannot happen: names are short ASCII */
    int rc = *first ? 0 : lg_buf_append(out, ",", 1);
    *first = false;
    return rc < 0 ? rc : lg_buf_append(out, tmp, n);
}

static int put_names(struct lg_buf *out, json_int_t pid, bool *first)
{
    int rc = put_event(out,
                       json_pack("{ss ss sI si s{ss}}", "name", "process_name", "ph", "M", "pid",
                                 pid, "tid", 0, "args", "name", "legato"),
                       first);
    pthread_mutex_lock(&names_lock);
    for (size_t i = 0; i < n_names && rc == 0; i++) {
        char name[LG_PROF_LABEL_MAX];
        memcpy(name, names[i].name, sizeof(name));
        lg_prof_ascii(name);
        rc = put_event(out,
                       json_pack("{ss ss sI si s{ss}}", "name", "thread_name", "ph", "M", "pid",
                                 pid, "tid", (int)names[i].tid, "args", "name", name),
                       first);
    }
    pthread_mutex_unlock(&names_lock);
    return rc;
}

static int put_trace(struct lg_buf *out, const struct trace_event *ev, size_t n, size_t dropped)
{
    json_int_t pid = (json_int_t)getpid();
    bool first = true;
    int rc = lg_buf_puts(out, "{\"traceEvents\":[");
    if (rc == 0)
        rc = put_names(out, pid, &first);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char name[LG_PROF_LABEL_MAX], cat[sizeof(ev[i].cat)];
        memcpy(name, ev[i].name, sizeof(name));
        lg_prof_ascii(name);
        memcpy(cat, ev[i].cat, sizeof(cat));
        lg_prof_ascii(cat);
        rc = put_event(out,
                       json_pack("{ss ss ss sf sf sI si}", "name", name, "cat",
                                 cat[0] ? cat : "stage", "ph", "X", "ts",
                                 (double)ev[i].begin_ns / 1e3, "dur", (double)ev[i].dur_ns / 1e3,
                                 "pid", pid, "tid", (int)ev[i].tid),
                       &first);
    }
    if (rc == 0)
        rc = lg_buf_printf(out,
                           "],\"displayTimeUnit\":\"ms\",\"otherData\":{\"dropped_events\":"
                           "\"%zu\"}}",
                           dropped);
    return rc;
}

int lg_prof_trace_stop(struct lg_buf *out)
{
    pthread_mutex_lock(&tr.lock);
    if (!atomic_load(&tr.active)) {
        pthread_mutex_unlock(&tr.lock);
        return LG_EINVAL;
    }
    atomic_store(&tr.active, false);
    while (atomic_load(&tr.inflight) != 0)
        sched_yield();
    size_t claimed = atomic_load(&tr.next);
    size_t n = LG_MIN(claimed, tr.max);
    int rc = put_trace(out, tr.events, n, claimed - n);
    free(tr.events);
    tr.events = NULL;
    tr.max = 0;
    pthread_mutex_unlock(&tr.lock);
    return rc;
}
