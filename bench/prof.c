/* SPDX-License-Identifier: MIT */
/*
 * Profiler overhead benchmark: what one timed span (lg_prof_begin +
 * lg_prof_end into a stage histogram) costs, measured as a loop of spans
 * against the same loop without, on 1 and on T threads at once (the threads
 * share one histogram, as the streams of one stage do), with no trace and
 * with a trace recording every span. Also the clock read alone and the cost
 * of rendering a trace (lg_prof_trace_stop) per event. CPU time of each
 * thread per iteration (so that a loaded machine or more threads than cores
 * do not count waiting), median of R runs. Built by meson (src/prof) on request; run
 * through bench/prof.
 *
 *   bench_prof [-n SPANS_PER_THREAD] [-t THREADS] [-r RUNS]
 */
#include "prof/prof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <unistd.h>

#include "core/buf.h"

enum mode { LOOP, CLOCK, SPAN };

struct job {
    enum mode mode;
    long n;
    struct lg_hist *h;
    pthread_barrier_t *start;
    int64_t ns; /* out: CPU time of this thread's loop */
};

/* CPU time of the calling thread: on a busy or oversubscribed machine this
 * still measures the work of the loop, not the time it waited for a core. */
static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The loop body: one store the compiler must keep, so that the loop is not
 * optimised away, and nothing more. */
static volatile uint64_t sink;

static void *run(void *arg)
{
    struct job *j = arg;
    uint64_t acc = 0;
    pthread_barrier_wait(j->start);
    int64_t t0 = thread_cpu_ns();
    switch (j->mode) {
    case LOOP:
        for (long i = 0; i < j->n; i++)
            sink = (uint64_t)i;
        break;
    case CLOCK:
        for (long i = 0; i < j->n; i++)
            acc += (uint64_t)lg_prof_now_ns();
        break;
    case SPAN:
        for (long i = 0; i < j->n; i++) {
            int64_t t = lg_prof_begin();
            sink = (uint64_t)i;
            lg_prof_end(j->h, t, "bench");
        }
        break;
    }
    j->ns = thread_cpu_ns() - t0;
    if (j->mode == CLOCK)
        sink = acc;
    return NULL;
}

/* Nanoseconds per iteration, averaged over the threads of one run. */
static double one_run(enum mode m, long n, int threads)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    struct job *jobs = calloc((size_t)threads, sizeof(*jobs));
    pthread_t *tid = calloc((size_t)threads, sizeof(*tid));
    if (!jobs || !tid)
        abort();
    struct lg_hist *h = lg_prof_stage("bench", "none", "cpu");
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){ m, n, h, &start, 0 };
        if (pthread_create(&tid[i], NULL, run, &jobs[i]) != 0)
            abort();
    }
    double sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        sum += (double)jobs[i].ns / (double)n;
    }
    pthread_barrier_destroy(&start);
    free(jobs);
    free(tid);
    return sum / threads;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct result {
    double ns;        /* per iteration, median of the runs */
    double render_ns; /* per trace event, when tracing */
};

/* The median of runs runs; with trace, each run records its own trace of
 * every span and renders it (timed separately). */
static struct result measure(enum mode m, long n, int threads, int runs, bool trace)
{
    double *v = calloc((size_t)runs, sizeof(*v));
    double *r = calloc((size_t)runs, sizeof(*r));
    if (!v || !r)
        abort();
    for (int k = 0; k < runs; k++) {
        if (trace && lg_prof_trace_start((size_t)n * (size_t)threads) != 0) {
            fprintf(stderr, "bench_prof: cannot start a trace of %ld events\n", n * threads);
            exit(1);
        }
        v[k] = one_run(m, n, threads);
        if (trace) {
            struct lg_buf b;
            lg_buf_init(&b, (size_t)1 << 34);
            int64_t t0 = lg_prof_now_ns();
            if (lg_prof_trace_stop(&b) != 0)
                abort();
            r[k] = (double)(lg_prof_now_ns() - t0) / (double)(n * threads);
            lg_buf_free(&b);
        }
    }
    qsort(v, (size_t)runs, sizeof(*v), cmp_double);
    qsort(r, (size_t)runs, sizeof(*r), cmp_double);
    struct result res = { v[runs / 2], r[runs / 2] };
    free(v);
    free(r);
    return res;
}

static void row(const char *what, double ns, double base)
{
    if (base >= 0)
        printf("  %-40s %8.2f ns   (+%.2f ns over the loop)\n", what, ns, ns - base);
    else
        printf("  %-40s %8.2f ns\n", what, ns);
}

static void table(long n, int threads, int runs)
{
    printf("%d thread%s, %ld iterations each, median of %d runs:\n", threads,
           threads == 1 ? "" : "s", n, runs);
    double loop = measure(LOOP, n, threads, runs, false).ns;
    row("loop alone", loop, -1);
    row("clock read (lg_prof_now_ns)", measure(CLOCK, n, threads, runs, false).ns, loop);
    double plain = measure(SPAN, n, threads, runs, false).ns;
    row("span, no trace", plain, loop);
    struct result traced = measure(SPAN, n, threads, runs, true);
    row("span, trace recording", traced.ns, loop);
    printf("  %-40s %8.2f ns   (%+.1f %% of an untraced span)\n", "trace cost per span",
           traced.ns - plain, 100 * (traced.ns - plain) / (plain - loop));
    row("trace rendering, per event", traced.render_ns, -1);
}

int main(int argc, char **argv)
{
    long n = 1000000;
    int threads = 4, runs = 5, opt;
    while ((opt = getopt(argc, argv, "n:t:r:")) != -1) {
        if (opt == 'n')
            n = strtol(optarg, NULL, 10);
        else if (opt == 't')
            threads = (int)strtol(optarg, NULL, 10);
        else if (opt == 'r')
            runs = (int)strtol(optarg, NULL, 10);
        else
            return fprintf(stderr, "usage: bench_prof [-n SPANS] [-t THREADS] [-r RUNS]\n"), 2;
    }
    if (n < 1000 || n > 10000000 || threads < 1 || threads > 64 || runs < 1 || runs > 99) {
        fprintf(stderr, "bench_prof: -n 1000..10000000, -t 1..64, -r 1..99\n");
        return 2;
    }
    printf("bench_prof: one span = lg_prof_begin + lg_prof_end into a shared stage histogram;\n"
           "CPU time per iteration on each thread, %ld cores online\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    table(n, 1, runs);
    if (threads > 1)
        table(n, threads, runs);
    return 0;
}
