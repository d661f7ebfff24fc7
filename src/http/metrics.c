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
    char *data = lg_buf_steal(b);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
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
    if (lg_oauth_request_user(r, uid) < 0) {
        *res = lg_req_api_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                                "wrong or missing credentials");
        return true;
    }
    if (!admin)
        return false;
    struct lg_user u = { 0 };
    int rc = lg_store_user_get(r->http->deps.store, *uid, &u);
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

static void sleep_seconds(int64_t s)
{
    struct timespec left = { (time_t)s, 0 };
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        continue;
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
    sleep_seconds(seconds);
    struct lg_buf b;
    lg_buf_init(&b, TRACE_OUT_MAX);
    rc = lg_prof_trace_stop(&b);
    if (rc < 0) {
        lg_log(&metrics_log, LG_LOG_ERROR, "cannot render a trace: %s", lg_strerror(rc));
        lg_buf_free(&b);
        return server_error(r);
    }
    return reply_buf(r, MHD_HTTP_OK, "application/json", &b,
                     "attachment; filename=\"legato-trace.json\"");
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
