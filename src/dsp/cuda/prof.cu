/* SPDX-License-Identifier: MIT */
/*
 * The GPU half of the profiler (dsp.h, lg_dsp_gpu_profile_*): CUPTI's
 * Activity API records every kernel and every copy the process runs on the
 * GPU, with the device's start and end times. libcupti is loaded with
 * dlopen() when a recording starts, so the binary neither links nor needs
 * it; only its header types are used here (record layouts whose fields read
 * below have kept their place since the version-4 records).
 *
 * CUPTI hands full buffers of records to bufferCompleted(), from its own
 * thread or from inside cuptiActivityFlushAll(); they are converted at once
 * into compact records (name, kind, stream, times, bytes) kept under a mutex
 * until lg_dsp_gpu_profile_flush() passes them to the caller's function on
 * the caller's thread. Times become CLOCK_MONOTONIC nanoseconds by an offset
 * measured at start: of several (monotonic, cuptiGetTimestamp, monotonic)
 * readings, the one whose two monotonic readings lie closest together.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dlfcn.h>
#include <pthread.h>

#include <cupti.h>

extern "C" {
#include "dsp/dsp.h"
}

#define BUF_BYTES   (4u << 20)
#define MAX_RECORDS (1u << 20)

typedef CUptiResult (*register_fn)(CUpti_BuffersCallbackRequestFunc,
                                   CUpti_BuffersCallbackCompleteFunc);
typedef CUptiResult (*kind_fn)(CUpti_ActivityKind);
typedef CUptiResult (*flush_fn)(uint32_t);
typedef CUptiResult (*next_fn)(uint8_t *, size_t, CUpti_Activity **);
typedef CUptiResult (*stamp_fn)(uint64_t *);
typedef CUptiResult (*string_fn)(CUptiResult, const char **);

struct rec {
    char name[48];
    int memcpy_kind; /* -1 for kernels */
    uint32_t stream;
    uint64_t start, end, bytes;
};

/* Process-wide, as CUPTI is. cp_lock guards recs, n, cap and dropped; the
 * rest is written by start and stop, which the caller serialises. */
static pthread_mutex_t cp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *lib;
    register_fn reg;
    kind_fn enable, disable;
    flush_fn flush;
    next_fn next;
    stamp_fn stamp;
    string_fn str;
    int registered, active;
    int64_t offset_ns; /* CLOCK_MONOTONIC minus CUPTI's clock */
    struct rec *recs;
    size_t n, cap;
    uint64_t dropped;
} cp;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "_Z8k_energyPK..." -> "k_energy": the name of a plain C++ function;
 * anything else as it is, cut to fit. */
static void short_name(const char *in, char *out, size_t cap)
{
    if (in && in[0] == '_' && in[1] == 'Z' && in[2] >= '1' && in[2] <= '9') {
        char *end;
        unsigned long n = strtoul(in + 2, &end, 10);
        if (n > 0 && n < cap && strlen(end) >= n) {
            memcpy(out, end, n);
            out[n] = '\0';
            return;
        }
    }
    snprintf(out, cap, "%s", in ? in : "kernel");
}

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records)
{
    *buffer = (uint8_t *)aligned_alloc(8, BUF_BYTES);
    *size = *buffer ? BUF_BYTES : 0;
    *max_records = 0;
}

static void keep(const struct rec *r)
{
    pthread_mutex_lock(&cp_lock);
    if (cp.n == cp.cap && cp.cap < MAX_RECORDS) {
        size_t cap = cp.cap ? cp.cap * 2 : 4096;
        struct rec *p = (struct rec *)realloc(cp.recs, cap * sizeof(*p));
        if (p) {
            cp.recs = p;
            cp.cap = cap;
        }
    }
    if (cp.n < cp.cap)
        cp.recs[cp.n++] = *r;
    else
        cp.dropped++;
    pthread_mutex_unlock(&cp_lock);
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size,
                                      size_t valid)
{
    (void)ctx;
    (void)stream;
    (void)size;
    CUpti_Activity *a = NULL;
    while (valid && cp.next(buffer, valid, &a) == CUPTI_SUCCESS) {
        struct rec r;
        memset(&r, 0, sizeof(r));
        if (a->kind == CUPTI_ACTIVITY_KIND_KERNEL ||
            a->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
            const CUpti_ActivityKernel10 *k = (const CUpti_ActivityKernel10 *)a;
            short_name(k->name, r.name, sizeof(r.name));
            r.memcpy_kind = -1;
            r.stream = k->streamId;
            r.start = k->start;
            r.end = k->end;
        } else if (a->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
            const CUpti_ActivityMemcpy6 *m = (const CUpti_ActivityMemcpy6 *)a;
            r.memcpy_kind = m->copyKind;
            r.stream = m->streamId;
            r.start = m->start;
            r.end = m->end;
            r.bytes = m->bytes;
        } else {
            continue;
        }
        keep(&r);
    }
    free(buffer);
}

static const char *copy_name(int kind)
{
    switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD:
        return "HtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH:
        return "DtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD:
        return "DtoD";
    default:
        return "memcpy";
    }
}

/* Loads libcupti and its functions; 0 or -ENOENT with why. */
static int load(char *why, size_t cap)
{
    if (cp.lib)
        return 0;
    /* The CUPTI of the CUDA release this was built with first. */
    char major[32];
    snprintf(major, sizeof(major), "libcupti.so.%d", CUDA_VERSION / 1000);
    const char *const names[] = {
        major,
        "libcupti.so",
        "/usr/local/cuda/lib64/libcupti.so",
        "/usr/local/cuda/extras/CUPTI/lib64/libcupti.so",
    };
    void *lib = NULL;
    char err[160] = "";
    for (size_t i = 0; !lib && i < sizeof(names) / sizeof(names[0]); i++) {
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib && i == 0)
            snprintf(err, sizeof(err), "%s", dlerror());
    }
    if (!lib) {
        snprintf(why, cap,
                 "libcupti.so not found (it comes with the CUDA toolkit; add its directory "
                 "to LD_LIBRARY_PATH): %s",
                 err);
        return -ENOENT;
    }
    cp.reg = (register_fn)dlsym(lib, "cuptiActivityRegisterCallbacks");
    cp.enable = (kind_fn)dlsym(lib, "cuptiActivityEnable");
    cp.disable = (kind_fn)dlsym(lib, "cuptiActivityDisable");
    cp.flush = (flush_fn)dlsym(lib, "cuptiActivityFlushAll");
    cp.next = (next_fn)dlsym(lib, "cuptiActivityGetNextRecord");
    cp.stamp = (stamp_fn)dlsym(lib, "cuptiGetTimestamp");
    cp.str = (string_fn)dlsym(lib, "cuptiGetResultString");
    if (!cp.reg || !cp.enable || !cp.disable || !cp.flush || !cp.next || !cp.stamp || !cp.str) {
        snprintf(why, cap, "libcupti.so lacks the Activity API");
        dlclose(lib);
        return -ENOENT;
    }
    cp.lib = lib;
    return 0;
}

static int cupti_fail(CUptiResult r, const char *what, char *why, size_t cap)
{
    const char *s = "?";
    if (cp.str)
        cp.str(r, &s);
    if (r == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED) {
        snprintf(why, cap, "%s: %s (a profiler or compute-sanitizer holds CUPTI)", what, s);
        return -EBUSY;
    }
    snprintf(why, cap, "%s: %s", what, s);
    return -EIO;
}

/* CLOCK_MONOTONIC minus CUPTI's clock, from the tightest of 8 readings. */
static int64_t clock_offset(void)
{
    int64_t best_gap = INT64_MAX, off = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t c = 0;
        int64_t a = mono_ns();
        cp.stamp(&c);
        int64_t b = mono_ns();
        if (b - a < best_gap) {
            best_gap = b - a;
            off = a + (b - a) / 2 - (int64_t)c;
        }
    }
    return off;
}

extern "C" int lg_dsp_gpu_profile_start(char *why, size_t cap)
{
    char tmp[2];
    if (!why || !cap) {
        why = tmp;
        cap = sizeof(tmp);
    }
    if (cp.active) {
        snprintf(why, cap, "already recording");
        return -EALREADY;
    }
    char st[160];
    if (!lg_dsp_cuda_status(st, sizeof(st))) {
        snprintf(why, cap, "no usable GPU (%s)", st);
        return -ENODEV;
    }
    int rc = load(why, cap);
    if (rc < 0)
        return rc;
    CUptiResult r = CUPTI_SUCCESS;
    if (!cp.registered) {
        r = cp.reg(buffer_requested, buffer_completed);
        if (r != CUPTI_SUCCESS)
            return cupti_fail(r, "cuptiActivityRegisterCallbacks", why, cap);
        cp.registered = 1;
    }
    r = cp.enable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
    if (r == CUPTI_SUCCESS)
        r = cp.enable(CUPTI_ACTIVITY_KIND_MEMCPY);
    if (r != CUPTI_SUCCESS) {
        cp.disable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
        return cupti_fail(r, "cuptiActivityEnable", why, cap);
    }
    cp.offset_ns = clock_offset();
    cp.active = 1;
    snprintf(why, cap, "recording kernels and copies with CUPTI");
    return 0;
}

extern "C" int lg_dsp_gpu_profile_flush(lg_dsp_gpu_event_fn *fn, void *ctx)
{
    if (!cp.active)
        return -EINVAL;
    cp.flush(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    pthread_mutex_lock(&cp_lock);
    struct rec *recs = cp.recs;
    size_t n = cp.n;
    cp.recs = NULL;
    cp.n = cp.cap = 0;
    pthread_mutex_unlock(&cp_lock);
    for (size_t i = 0; i < n && fn; i++) {
        const struct rec *r = &recs[i];
        char name[48];
        struct lg_dsp_gpu_event e;
        if (r->memcpy_kind < 0) {
            e.name = r->name;
            e.cat = "kernel";
        } else {
            snprintf(name, sizeof(name), "%s %.1f MB", copy_name(r->memcpy_kind),
                     (double)r->bytes / 1e6);
            e.name = name;
            e.cat = "memcpy";
        }
        e.stream = r->stream;
        e.begin_ns = (int64_t)r->start + cp.offset_ns;
        e.end_ns = (int64_t)r->end + cp.offset_ns;
        e.bytes = r->bytes;
        fn(&e, ctx);
    }
    free(recs);
    return (int)(n < (size_t)INT32_MAX ? n : INT32_MAX);
}

extern "C" int lg_dsp_gpu_profile_stop(lg_dsp_gpu_event_fn *fn, void *ctx)
{
    int n = lg_dsp_gpu_profile_flush(fn, ctx);
    if (n < 0)
        return n;
    cp.disable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
    cp.disable(CUPTI_ACTIVITY_KIND_MEMCPY);
    cp.active = 0;
    return n;
}

extern "C" uint64_t lg_dsp_gpu_profile_dropped(void)
{
    pthread_mutex_lock(&cp_lock);
    uint64_t d = cp.dropped;
    pthread_mutex_unlock(&cp_lock);
    return d;
}
