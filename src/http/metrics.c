/* SPDX-License-Identifier: MIT */
/*
 * The profiler's endpoints (see metrics.h). Each handler checks the method
 * and the credentials, parses its few parameters, calls one function of
 * prof/ and renders the answer. JSON answers carry Cache-Control: no-store
 * and X-Content-Type-Options: nosniff; errors are {error,
 * error_description}. The handlers time themselves as trace-only spans
 * ("metrics", "profile"), so a trace shows the HTTP threads too.
 */
#include "http/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "http/http_int.h"
#include "http/oauth.h"
#include "prof/prof.h"
#include "store/store.h"

static const struct lg_log metrics_log = { "http/metrics" };

enum {
    METRICS_MAX = 16 << 20,    /* bytes of /metrics or /api/profile */
    TRACE_EVENTS = 1 << 19,    /* spans one trace keeps (28 MiB while recording) */
    TRACE_OUT_MAX = 128 << 20, /* bytes of a rendered trace (~170 per event) */
    TRACE_SECONDS_MAX = 60,    /* longest trace */
    STALLS_PER_REPORT = 100,   /* most stalls one request may count */
    TRACK_ID_MAX = 64,         /* bytes of a reported track id */
};

bool lg_metrics_is_route(const char *path)
{
    return strcmp(path, "/metrics") == 0 || strcmp(path, "/api/profile") == 0 ||
           strcmp(path, "/api/profile/trace") == 0 || strcmp(path, "/api/stalls") == 0;
}

/* Names the MHD worker threads in traces, once per thread. */
static void name_thread(void)
{
    static _Thread_local bool named;
    if (!named) {
        lg_prof_thread_name("http");
        named = true;
    }
}

/* --- answers --- */

static enum MHD_Result reply_buf(struct lg_req *r, unsigned status, const char *ctype,
                                 struct lg_buf *b, const char *disposition)
{
    size_t len = b->len;
    struct MHD_Response *resp = lg_response_owning(lg_buf_steal(b), len);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (disposition)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"legato\"");
    return lg_req_reply(r, status, resp, (int64_t)len);
}

static enum MHD_Result server_error(struct lg_req *r)
{
    return lg_req_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                            "internal error (see the server log)");
}

/* --- credentials --- */

/* Answers the failure and returns true when r has no signed-in user (as
 * /api/sessions authenticates: lg_oauth_request_user) or, with admin, when
 * that user is not an administrator; otherwise writes *uid and returns
 * false. */
static bool refused(struct lg_req *r, bool admin, int64_t *uid, enum MHD_Result *res)
{
    int rc = lg_oauth_request_user(r, uid);
    if (rc < 0) {
        *res = lg_oauth_refuse(r, rc, "wrong or missing credentials");
        return true;
    }
    if (!admin)
        return false;
    struct lg_user u = { 0 };
    rc = lg_store_user_get(r->http->deps.store, *uid, &u);
    bool is_admin = rc == 0 && u.is_admin;
    if (rc == 0)
        lg_user_free(&u);
    if (rc < 0 && rc != LG_ENOTFOUND)
        *res = server_error(r);
    else if (!is_admin)
        *res = lg_req_api_error(r, MHD_HTTP_FORBIDDEN, "forbidden", "administrators only");
    else
        return false;
    return true;
}

/* --- handlers --- */

static enum MHD_Result metrics(struct lg_req *r)
{
    int64_t t = lg_prof_begin();
    struct lg_buf b;
    lg_buf_init(&b, METRICS_MAX);
    int rc = lg_prof_metrics(&b);
    lg_prof_end(NULL, t, "metrics");
    if (rc < 0) {
        lg_log(&metrics_log, LG_LOG_ERROR, "cannot render /metrics: %s", lg_strerror(rc));
        lg_buf_free(&b);
        return server_error(r);
    }
    return reply_buf(r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
}

static enum MHD_Result profile(struct lg_req *r)
{
    int64_t uid;
    enum MHD_Result res;
    if (refused(r, true, &uid, &res))
        return res;
    int64_t t = lg_prof_begin();
    struct lg_buf b;
    lg_buf_init(&b, METRICS_MAX);
    int rc = lg_prof_json(&b);
    lg_prof_end(NULL, t, "profile");
    if (rc < 0) {
        lg_log(&metrics_log, LG_LOG_ERROR, "cannot render /api/profile: %s", lg_strerror(rc));
        lg_buf_free(&b);
        return server_error(r);
    }
    return reply_buf(r, MHD_HTTP_OK, "application/json", &b, NULL);
}

/* --- a trace: recorded while its connection is suspended --- */

/* The response of a trace request. Its body is rendered when the recording
 * ends: until then the reader suspends the connection (no HTTP thread
 * waits) and a timer thread resumes it at the end, or at once when the
 * server stops. One trace records at a time (lg_prof_trace_start), so one
 * is active per process, in trace_active. */
struct trace_resp {
    struct lg_http *http;
    struct MHD_Connection *conn;
    struct lg_req *r; /* until the request completes: its body bytes */
    int64_t end_ns;   /* CLOCK_MONOTONIC */
    bool due;         /* the recording is over (guarded by trace_lock) */
    bool timer_on, timer_joined;
    pthread_t timer;
    bool stopped; /* lg_prof_trace_stop was called */
    struct lg_buf out;
    size_t off;
};

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t trace_cond;
static pthread_once_t trace_once = PTHREAD_ONCE_INIT;
static struct trace_resp *trace_active;

static void trace_cond_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&trace_cond, &a);
    pthread_condattr_destroy(&a);
}

static void *trace_timer(void *arg)
{
    struct trace_resp *t = arg;
    pthread_mutex_lock(&trace_lock);
    while (!t->due) {
        struct timespec ts = { (time_t)(t->end_ns / 1000000000), (long)(t->end_ns % 1000000000) };
        if (pthread_cond_timedwait(&trace_cond, &trace_lock, &ts) == ETIMEDOUT)
            t->due = true;
    }
    /* Under the lock: the reader suspended the connection before it let go. */
    MHD_resume_connection(t->conn);
    pthread_mutex_unlock(&trace_lock);
    return NULL;
}

static ssize_t trace_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct trace_resp *t = cls;
    (void)pos;
    if (!t->stopped) {
        pthread_mutex_lock(&trace_lock);
        if (!t->due && !t->timer_on)
            t->timer_on = pthread_create(&t->timer, NULL, trace_timer, t) == 0;
        if (!t->due && t->timer_on) {
            MHD_suspend_connection(t->conn);
            pthread_mutex_unlock(&trace_lock);
            return 0;
        }
        pthread_mutex_unlock(&trace_lock);
        /* Over (or no timer could start: the trace ends now). */
        int rc = lg_prof_trace_stop(&t->out);
        t->stopped = true;
        if (rc < 0) {
            lg_log(&metrics_log, LG_LOG_ERROR, "cannot render a trace: %s", lg_strerror(rc));
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = t->out.len - t->off < max ? t->out.len - t->off : max;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    memcpy(buf, t->out.data + t->off, n);
    t->off += n;
    if (t->r)
        t->r->body_bytes = (int64_t)t->off;
    return (ssize_t)n;
}

/* Ends a recording whose trace will not be sent: rendering into a buffer
 * too small for it fails at once, and the recording ends all the same. */
static void trace_end_unsent(void)
{
    struct lg_buf s;
    lg_buf_init(&s, 1);
    int rc = lg_prof_trace_stop(&s);
    lg_buf_free(&s);
    if (rc == LG_EINVAL)
        lg_log(&metrics_log, LG_LOG_WARN, "no trace was recording");
}

static void trace_free(void *cls)
{
    struct trace_resp *t = cls;
    pthread_mutex_lock(&trace_lock);
    t->due = true;
    pthread_cond_broadcast(&trace_cond);
    bool join = t->timer_on && !t->timer_joined;
    t->timer_joined = true;
    if (trace_active == t)
        trace_active = NULL;
    pthread_mutex_unlock(&trace_lock);
    if (join)
        pthread_join(t->timer, NULL);
    if (!t->stopped) /* never sent: the recording still ends */
        trace_end_unsent();
    lg_buf_free(&t->out);
    free(t);
}

void lg_metrics_stop(struct lg_http *h)
{
    pthread_mutex_lock(&trace_lock);
    struct trace_resp *t = trace_active && trace_active->http == h ? trace_active : NULL;
    bool join = false;
    pthread_t timer;
    if (t) {
        t->due = true;
        pthread_cond_broadcast(&trace_cond);
        join = t->timer_on && !t->timer_joined;
        t->timer_joined = true;
        timer = t->timer;
    }
    pthread_mutex_unlock(&trace_lock);
    if (join) /* it resumes the connection before it ends */
        pthread_join(timer, NULL);
}

static enum MHD_Result trace(struct lg_req *r)
{
    int64_t uid;
    enum MHD_Result res;
    if (refused(r, true, &uid, &res))
        return res;
    const char *arg = lg_req_param(r, "seconds");
    int64_t seconds = 0;
    if (!arg || lg_str_to_i64(arg, 1, TRACE_SECONDS_MAX, &seconds) < 0)
        return lg_req_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                "seconds must be a whole number from 1 to 60");
    int rc = lg_prof_trace_start(TRACE_EVENTS);
    if (rc == LG_EEXIST)
        return lg_req_api_error(r, MHD_HTTP_CONFLICT, "busy", "a trace is already recording");
    if (rc < 0)
        return server_error(r);
    lg_log(&metrics_log, LG_LOG_INFO, "user %lld records a trace of %lld s", (long long)uid,
           (long long)seconds);
    pthread_once(&trace_once, trace_cond_init);
    struct trace_resp *t = calloc(1, sizeof(*t));
    struct MHD_Response *resp = t ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                                      trace_read, t, trace_free)
                                  : NULL;
    if (!resp) {
        free(t);
        trace_end_unsent();
        return server_error(r);
    }
    t->http = r->http;
    t->conn = r->conn;
    t->r = r;
    t->end_ns = lg_http_now_ns() + seconds * 1000000000;
    lg_buf_init(&t->out, TRACE_OUT_MAX);
    pthread_mutex_lock(&trace_lock);
    trace_active = t;
    pthread_mutex_unlock(&trace_lock);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
                            "attachment; filename=\"legato-trace.json\"");
    return lg_req_reply(r, MHD_HTTP_OK, resp, 0);
}

/* A position in seconds: a finite decimal number from 0 to 1e7. */
static bool position_ok(const char *s)
{
    if (!*s || strlen(s) > 32)
        return false;
    char *end;
    double v = strtod(s, &end);
    return *end == '\0' && isfinite(v) && v >= 0 && v <= 1e7 && s[0] != ' ';
}

/* A track id as the Subsonic API hands them out: letters, digits, - and _. */
static bool track_ok(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
    return n > 0 && n <= TRACK_ID_MAX && s[n] == '\0';
}

static enum MHD_Result stalls(struct lg_req *r)
{
    int64_t uid;
    enum MHD_Result res;
    if (refused(r, false, &uid, &res))
        return res;
    const char *count = lg_req_param(r, "count");
    const char *position = lg_req_param(r, "position");
    const char *track = lg_req_param(r, "track");
    int64_t n = 1;
    if (count && lg_str_to_i64(count, 1, STALLS_PER_REPORT, &n) < 0)
        return lg_req_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                "count must be a whole number from 1 to 100");
    if (position && !position_ok(position))
        return lg_req_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                "position must be a number of seconds");
    if (track && !track_ok(track))
        return lg_req_api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
                                "track must be a track id (letters, digits, - and _)");
    lg_prof_count(LG_PROF_CLIENT_STALLS, n);
    lg_log(&metrics_log, LG_LOG_DEBUG, "user %lld reports %lld stall(s), track %s at %s s",
           (long long)uid, (long long)n, track ? track : "-", position ? position : "-");
    return lg_req_reply_json(r, MHD_HTTP_OK,
                             json_pack("{sssI}", "status", "ok", "counted", (json_int_t)n), NULL);
}

enum MHD_Result lg_metrics_route(struct lg_req *r)
{
    bool get = r->head || strcmp(r->method, "GET") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    name_thread();
    if (strcmp(r->path, "/metrics") == 0)
        return get ? metrics(r) : lg_req_not_allowed(r, "GET, HEAD");
    if (strcmp(r->path, "/api/profile") == 0)
        return get ? profile(r) : lg_req_not_allowed(r, "GET, HEAD");
    if (strcmp(r->path, "/api/profile/trace") == 0)
        return post ? trace(r) : lg_req_not_allowed(r, "POST");
    return post ? stalls(r) : lg_req_not_allowed(r, "POST");
}
