/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server. libmicrohttpd runs a pool of threads, each with its own
 * epoll set, that share the listening socket; every socket is non-blocking
 * and file bodies go out with sendfile(2), so a slow or vanished client only
 * ever occupies its own connection (until conn_timeout_s closes it). Limits on
 * connections (total, per IP) and on the memory of one connection are MHD's;
 * a request line or header block that does not fit is answered with MHD's own
 * 414 or 431.
 *
 * Life of a request: the URI callback sets up the struct lg_req (and keeps
 * a redacted copy of the URI for the log), the access handler routes it
 * (after gathering a POST body), and the completion callback writes the one
 * log line per request and releases the context, which the connection keeps
 * for its next request.
 */
#include "http/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netdb.h>
#include <strings.h>

#include "auth/ratelimit.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "http/api_cache.h"
#include "http/device_page.h"
#include "http/handoff.h"
#include "http/http_int.h"
#include "http/metrics.h"
#include "http/oauth.h"
#include "http/qr_routes.h"
#include "http/settings.h"
#include "http/share_page.h"
#include "http/static.h"
#include "http/subsonic_api.h"
#include "http/subsonic_render.h"
#include "http/web_page.h"

/* A connection keeps its last request struct for the next request (req_free).
 * Under AddressSanitizer the kept struct is poisoned until then, so a use
 * after the request completed is still caught as one. */
#if defined(__SANITIZE_ADDRESS__)
#define LG_HTTP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LG_HTTP_ASAN 1
#endif
#endif
#ifdef LG_HTTP_ASAN
#include <sanitizer/asan_interface.h>
#define REQ_PARK(r)   ASAN_POISON_MEMORY_REGION((r), sizeof(*(r)))
#define REQ_UNPARK(r) ASAN_UNPOISON_MEMORY_REGION((r), sizeof(*(r)))
#else
#define REQ_PARK(r)   ((void)(r))
#define REQ_UNPARK(r) ((void)(r))
#endif

static struct lg_log http_log = { "http" };

int64_t lg_http_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- parameters, headers, replies --- */

/* Whether field f is named key (len bytes), ignoring ASCII case. Lengths
 * first: a stream request asks for a dozen names among half a dozen
 * fields, and most are turned away there. */
static inline bool name_is(const struct lg_form_field *f, const char *key, size_t len)
{
    return f->key_len == len && strncasecmp(f->key, key, len) == 0;
}

const char *lg_req_param_n(const struct lg_req *r, const char *key, size_t len)
{
    for (size_t i = 0; i < r->n_query; i++) {
        if (name_is(&r->query_fields[i], key, len) && r->query_fields[i].value)
            return r->query_fields[i].value;
    }
    for (size_t i = 0; i < r->n_form; i++) {
        if (name_is(&r->form[i], key, len))
            return r->form[i].value;
    }
    return NULL;
}

struct collect {
    const char *key;
    size_t key_len;
    const char **out;
    size_t max;
    size_t n;
};

static void collect_one(struct collect *c, const struct lg_form_field *f)
{
    if (!name_is(f, c->key, c->key_len))
        return;
    const char *value = f->value;
    if (c->n < c->max)
        c->out[c->n] = value ? value : "";
    c->n++;
}

/* Writes up to max values of key to out; returns how many there are in all. */
static size_t collect_all(const struct lg_req *r, const char *key, const char **out, size_t max)
{
    struct collect c = { key, strlen(key), out, max, 0 };
    for (size_t i = 0; i < r->n_query; i++)
        collect_one(&c, &r->query_fields[i]);
    for (size_t i = 0; i < r->n_form; i++)
        collect_one(&c, &r->form[i]);
    return c.n;
}

size_t lg_req_params(const struct lg_req *r, const char *key, const char **out, size_t max)
{
    return LG_MIN(collect_all(r, key, out, max), max);
}

size_t lg_req_param_count(const struct lg_req *r, const char *key)
{
    return collect_all(r, key, NULL, 0);
}

const char *lg_req_header(const struct lg_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

enum MHD_Result lg_req_reply(struct lg_req *r, unsigned status, struct MHD_Response *resp,
                             int64_t body_bytes)
{
    if (!resp)
        return MHD_NO;
    r->status = status;
    r->body_bytes = r->head ? 0 : body_bytes;
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result lg_req_reply_static(struct lg_req *r, unsigned status, const char *ctype,
                                    const char *text)
{
    size_t len = strlen(text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return lg_req_reply(r, status, resp, (int64_t)len);
}

struct MHD_Response *lg_response_owning(void *data, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(data);
    return resp;
}

enum MHD_Result lg_req_reply_buf(struct lg_req *r, unsigned status, const char *ctype,
                                 struct lg_buf *b)
{
    size_t len = b->len;
    struct MHD_Response *resp = lg_response_owning(lg_buf_steal(b), len);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return lg_req_reply(r, status, resp, (int64_t)len);
}

/* --- pure helpers --- */

/* Splits s at '&' and '=' in place and decodes the pieces (form encoding:
 * '+' is a space); a piece without '=' has the value NULL when bare_null,
 * else "". Returns how many, or LG_ETOOBIG past max. */
static int parse_pairs(char *s, struct lg_form_field *fields, size_t max, bool bare_null)
{
    size_t n = 0;
    char *p = s;
    while (p) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = '\0';
        if (*p) {
            if (n == max)
                return LG_ETOOBIG;
            char *eq = strchr(p, '=');
            char *value = eq ? eq + 1 : bare_null ? NULL : p + strlen(p);
            if (eq)
                *eq = '\0';
            lg_percent_decode(p, true);
            /* A decoded NUL ends the name ("p%00" is "p"), as for the log. */
            fields[n].key_len = strlen(p);
            if (value)
                lg_percent_decode(value, true);
            fields[n].key = p;
            fields[n].value = value;
            n++;
        }
        p = amp ? amp + 1 : NULL;
    }
    return (int)n;
}

int lg_http_form_parse(char *body, struct lg_form_field *fields, size_t max)
{
    return parse_pairs(body, fields, max, false);
}

/* Whether the query key of len bytes names a secret once decoded as the
 * parameter parser decodes it (so "p%00%00" is "p", and "%70" too). */
static bool secret_key(const char *key, size_t len)
{
    /* Subsonic's and legato's credentials, OAuth's codes and tokens, the QR
     * handle of a device sign-in (h) and a hand-off link to claim (url). */
#define SECRET(name)           \
    {                          \
        name, sizeof(name) - 1 \
    }
    static const struct {
        const char *name;
        size_t len;
    } secrets[] = {
        SECRET("p"),
        SECRET("t"),
        SECRET("s"),
        SECRET("apiKey"),
        SECRET("token"),
        SECRET("password"),
        SECRET("access_token"),
        SECRET("refresh_token"),
        SECRET("device_code"),
        SECRET("user_code"),
        SECRET("code"),
        SECRET("client_secret"),
        SECRET("h"),
        SECRET("url"),
    };
#undef SECRET
    /* Without '%' decoding changes at most '+' into ' ', which no name
     * holds: the raw bytes compare (one per request and parameter). */
    if (!memchr(key, '%', len)) {
        for (size_t i = 0; i < LG_ARRAY_LEN(secrets); i++) {
            if (secrets[i].len == len && strncasecmp(key, secrets[i].name, len) == 0)
                return true;
        }
        return false;
    }
    char small[32];
    char *name = len < sizeof(small) ? small : lg_xmalloc(len + 1);
    memcpy(name, key, len);
    name[len] = '\0';
    lg_percent_decode(name, true);
    bool found = false;
    for (size_t i = 0; i < LG_ARRAY_LEN(secrets) && !found; i++)
        found = lg_str_casecmp(name, secrets[i].name) == 0;
    if (name != small)
        free(name);
    return found;
}

/* Appends n bytes of s to out: all of them when cap keeps room for "..."
 * and the NUL after them, else what fits and "..."; false when full. */
static bool log_span(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    size_t room = cap - 4 - *len;
    if (n <= room) {
        memcpy(out + *len, s, n);
        *len += n;
        return true;
    }
    memcpy(out + *len, s, room);
    memcpy(out + *len + room, "...", 3);
    *len += room + 3;
    return false;
}

size_t lg_http_redact_uri(const char *uri, char *out, size_t cap)
{
    lg_assert(cap >= 8);
    size_t len = 0;
    const char *q = strchr(uri, '?');
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);
    if (log_span(out, cap, &len, uri, path_len) && q) {
        char sep = '?';
        for (const char *p = q + 1; *p;) {
            const char *amp = strchr(p, '&');
            size_t n = amp ? (size_t)(amp - p) : strlen(p);
            const char *eq = memchr(p, '=', n);
            size_t key_len = eq ? (size_t)(eq - p) : n;
            if (n > 0 && !secret_key(p, key_len)) {
                if (!log_span(out, cap, &len, &sep, 1) || !log_span(out, cap, &len, p, n))
                    break;
                sep = '&';
            }
            p += amp ? n + 1 : n;
        }
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f)
            out[i] = '?';
    }
    out[len] = '\0';
    return len;
}

int lg_http_parse_listen(const char *listen, char *host, size_t cap, int *port)
{
    if (!listen)
        return LG_EINVAL;
    const char *colon;
    const char *h = listen;
    size_t hlen;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return LG_EINVAL;
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strchr(listen, ':');
        if (!colon || strchr(colon + 1, ':'))
            return LG_EINVAL; /* no port, or an IPv6 address without brackets */
        hlen = (size_t)(colon - listen);
    }
    int64_t p;
    if (hlen >= cap || lg_str_to_i64(colon + 1, 0, 65535, &p) != 0)
        return LG_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

/* --- the request cycle --- */

static void client_ip(struct MHD_Connection *conn, char out[INET6_ADDRSTRLEN])
{
    snprintf(out, INET6_ADDRSTRLEN, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, INET6_ADDRSTRLEN);
        return;
    }
    if (sa->sa_family != AF_INET6)
        return;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    /* A v4 client on a dual-stack socket counts as its v4 address, so that
     * rate limits see one client as one address. */
    if (IN6_IS_ADDR_V4MAPPED(a6))
        inet_ntop(AF_INET, &a6->s6_addr[12], out, INET6_ADDRSTRLEN);
    else
        inet_ntop(AF_INET6, a6, out, INET6_ADDRSTRLEN);
}

/* Creates and frees the per-connection context. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        lg_http_note_socket(conn, false);
        struct lg_conn *c = *socket_context;
        if (c && c->spare) {
            REQ_UNPARK(c->spare);
            free(c->spare);
        }
        free(c);
        *socket_context = NULL;
        /* Clients gone: a thread that may now sit idle keeps no music file
         * open (it reopens them in a couple of microseconds when needed). */
        lg_stream_idle(((struct lg_http *)cls)->stream);
        return;
    }
    lg_http_note_socket(conn, true);
    struct lg_conn *c = lg_xcalloc(1, sizeof(*c));
    client_ip(conn, c->ip);
    *socket_context = c;
}

/* The most '&'-separated pieces s can hold: the room parse_pairs needs. */
static size_t pieces_max(const char *s)
{
    size_t n = 1;
    for (const char *p = s; (p = strchr(p, '&')) != NULL; p++)
        n++;
    return n;
}

/*
 * The query string is parsed here, not by libmicrohttpd. The library keeps
 * each argument in the connection's 32 KiB memory pool, and a GET with more
 * than about 550 of them (a player saving a long play queue) used it up:
 * the library then had no memory left for its 431 either and closed the
 * connection without an answer. legato copies and parses the query on the
 * heap, bounded only by the URL the pool holds, and clears the query's
 * first byte in the library's buffer so that it parses nothing. The URI
 * callback runs before the library's own parse, which starts after the '?'
 * (a library that parsed first would only find the same parameters twice).
 * Keys compare case-insensitively, as the library's do; "?key" without '='
 * has no value (NULL), "key=" an empty one.
 */
static void parse_query(struct lg_req *r, char *uri)
{
    r->query = NULL;
    r->query_fields = NULL;
    r->n_query = 0;
    char *q = strchr(uri, '?');
    if (!q || !q[1])
        return;
    size_t len = strlen(q + 1);
    r->query = len < sizeof(r->query_small) ? r->query_small : lg_xmalloc(len + 1);
    memcpy(r->query, q + 1, len + 1);
    q[1] = '\0'; /* the library's copy: see above */
    size_t max = pieces_max(r->query);
    r->query_fields = max <= LG_ARRAY_LEN(r->fields_small)
                          ? r->fields_small
                          : lg_xmalloc(max * sizeof(*r->query_fields));
    int n = parse_pairs(r->query, r->query_fields, max, true);
    r->n_query = n > 0 ? (size_t)n : 0;
}

static struct lg_req *req_new(struct lg_http *h, struct MHD_Connection *conn, const char *uri)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    lg_assert(ci && ci->socket_context); /* made by on_connection at accept */
    struct lg_conn *c = ci->socket_context;
    struct lg_req *r = c->spare;
    if (r)
        REQ_UNPARK(r);
    else
        r = lg_xmalloc(sizeof(*r));
    c->spare = NULL;
    r->http = h;
    r->conn = conn;
    r->lconn = c;
    r->ip = r->lconn->ip;
    r->method = "-";
    r->path = "";
    r->head = false;
    r->started = false;
    r->sent_track = false;
    r->status = 0;
    r->body_bytes = 0;
    r->start_ns = lg_http_now_ns();
    lg_http_redact_uri(uri, r->log_uri, sizeof(r->log_uri));
    lg_buf_init(&r->body, LG_REQ_BODY_MAX);
    r->n_form = 0;
    r->form = NULL;
    /* libmicrohttpd hands the URI as const, but it lies in the connection's
     * read buffer, which the library itself writes as it parses. */
    parse_query(r, (char *)uri);
    return r;
}

static void req_free(struct lg_req *r)
{
    lg_buf_free(&r->body);
    free(r->form);
    if (r->query != r->query_small)
        free(r->query);
    if (r->query_fields != r->fields_small)
        free(r->query_fields);
    if (r->lconn->spare) {
        free(r);
    } else {
        r->lconn->spare = r; /* for the connection's next request */
        REQ_PARK(r);
    }
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    return req_new(cls, conn, uri);
}

static const char *termination_note(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return "";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return " (timeout)";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return " (shutdown)";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return " (client closed)";
    default:
        return " (error)";
    }
}

/* Appends s, at most max bytes of it (lg_log_text replaces control bytes). */
static void put_str(char *out, size_t *n, const char *s, size_t max)
{
    size_t len = strnlen(s, max);
    memcpy(out + *n, s, len);
    *n += len;
}

/* The request's log line, "METHOD URI STATUS BYTES MS.ccms IP[ (note)]",
 * put together by hand: there is one per request, and printf's parsing of it
 * cost more than the rest of a range request's user-space work. */
static void log_request(const struct lg_req *r, enum MHD_RequestTerminationCode toe)
{
    enum { METHOD_MAX = 32 }; /* a longer method token is cut */
    /* Hundredths of a millisecond, rounded. */
    int64_t cms = (lg_http_now_ns() - r->start_ns + 5000) / 10000;
    char msg[METHOD_MAX + LG_REQ_LOG_URI_MAX + INET6_ADDRSTRLEN + 4 * LG_FMT_INT_MAX + 32];
    size_t n = 0;
    put_str(msg, &n, r->method, METHOD_MAX);
    msg[n++] = ' ';
    put_str(msg, &n, r->log_uri, LG_REQ_LOG_URI_MAX);
    msg[n++] = ' ';
    n += lg_fmt_u64(msg + n, r->status);
    msg[n++] = ' ';
    n += lg_fmt_i64(msg + n, r->body_bytes);
    msg[n++] = ' ';
    n += lg_fmt_i64(msg + n, cms / 100);
    msg[n++] = '.';
    msg[n++] = (char)('0' + cms % 100 / 10);
    msg[n++] = (char)('0' + cms % 10);
    put_str(msg, &n, "ms ", 3);
    put_str(msg, &n, r->ip, INET6_ADDRSTRLEN);
    put_str(msg, &n, termination_note(toe), 32);
    lg_log_text(&http_log, LG_LOG_INFO, msg, n);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct lg_req *r = *req_cls;
    if (!r)
        return;
    if (LG_LOG_INFO <= lg_log_threshold)
        log_request(r, toe);
    req_free(r);
    *req_cls = NULL;
}

enum MHD_Result lg_req_not_allowed(struct lg_req *r, const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(19, (void *)"method not allowed\n", MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    }
    return lg_req_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, resp, 19);
}

json_t *lg_json_text(const char *s)
{
    if (!s)
        return NULL;
    json_t *v = json_string(s);
    if (!v) {
        char *clean = lg_utf8_sanitize(s, strlen(s));
        v = json_string(clean);
        free(clean);
    }
    return v;
}

enum MHD_Result lg_req_reply_json(struct lg_req *r, unsigned status, json_t *j, const char *allow)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        /* No answer could be made (out of memory, or text that is not UTF-8). */
        lg_log(&http_log, LG_LOG_ERROR, "%s: cannot make the JSON answer", r->path);
        return lg_req_reply_static(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                                   "{\"error\":\"server_error\",\"error_description\":"
                                   "\"internal error (see the server log)\"}");
    }
    size_t len = strlen(text);
    struct MHD_Response *resp = lg_response_owning(text, len);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_PRAGMA, "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"legato\"");
    if (status == MHD_HTTP_TOO_MANY_REQUESTS)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "60");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return lg_req_reply(r, status, resp, (int64_t)len);
}

enum MHD_Result lg_req_api_error(struct lg_req *r, unsigned status, const char *error,
                                 const char *desc)
{
    return lg_req_reply_json(r, status,
                             json_pack("{ssss}", "error", error, "error_description", desc), NULL);
}

static enum MHD_Result route(struct lg_req *r)
{
    bool get = r->head || strcmp(r->method, "GET") == 0;
    bool post = strcmp(r->method, "POST") == 0;
    if (strcmp(r->path, "/healthz") == 0) {
        if (!get)
            return lg_req_not_allowed(r, "GET, HEAD");
        return lg_req_reply_static(r, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}");
    }
    if (lg_metrics_is_route(r->path))
        return lg_metrics_route(r);
    if (strncmp(r->path, "/rest/", 6) == 0) {
        if (!get && !post)
            return lg_req_not_allowed(r, "GET, HEAD, POST");
        return lg_sub_api_handle(r, r->path + 6);
    }
    if (lg_oauth_is_route(r->path))
        return lg_oauth_route(r);
    if (strcmp(r->path, "/device/qr.svg") == 0 || strcmp(r->path, "/device/qr.png") == 0) {
        if (!get)
            return lg_req_not_allowed(r, "GET, HEAD");
        return lg_qr_route(r, r->path[11] == 'p');
    }
    if (lg_share_page_is_route(r->path))
        return lg_share_page_route(r);
    if (lg_static_is_route(r->path))
        return lg_static_route(r);
    if (lg_device_page_is_route(r->path))
        return lg_device_page_route(r);
    if (lg_handoff_is_route(r->path))
        return lg_handoff_route(r);
    if (lg_settings_is_route(r->path))
        return lg_settings_route(r);
    if (lg_web_page_is_route(r->path))
        return lg_web_page_route(r);
    return lg_req_reply_static(r, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

/* A POST body is accepted when it is a form (or has no declared type). */
static bool form_body(const struct lg_req *r)
{
    const char *ct = lg_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct)
        return true;
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof(form) - 1;
    return strncasecmp(ct, form, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result too_large(struct lg_req *r)
{
    return lg_req_reply_static(r, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain",
                               "request body too large\n");
}

/* Checks a POST before its body arrives: MHD accepts a reply only now or once
 * the whole body is in, so a declared length over the limit is refused here. */
static enum MHD_Result begin_body(struct lg_req *r)
{
    if (!form_body(r))
        return lg_req_reply_static(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "text/plain",
                                   "use application/x-www-form-urlencoded\n");
    const char *cl = lg_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t len;
    if (cl && lg_str_to_i64(cl, 0, INT64_MAX, &len) == 0 && len > LG_REQ_BODY_MAX)
        return too_large(r);
    return MHD_YES;
}

static enum MHD_Result take_body(struct lg_req *r, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    if (lg_buf_append(&r->body, data, n) == 0)
        return MHD_YES;
    /* A chunked body grew past the limit: no reply is possible mid-body, so
     * the connection is closed; the log line still says why. */
    r->status = MHD_HTTP_CONTENT_TOO_LARGE;
    return MHD_NO;
}

static enum MHD_Result finish_body(struct lg_req *r)
{
    if (r->body.len && strcmp(r->method, "POST") == 0) {
        size_t max = LG_MIN(pieces_max(r->body.data), (size_t)LG_REQ_FORM_MAX);
        r->form = lg_xmalloc(max * sizeof(*r->form));
        int n = lg_http_form_parse(r->body.data, r->form, max);
        if (n < 0)
            return too_large(r);
        r->n_form = (size_t)n;
    }
    return route(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct lg_req *r = *req_cls;
    if (!r) {
        r = req_new(cls, conn, url);
        *req_cls = r;
    }
    if (!r->started) {
        r->started = true;
        r->method = method;
        r->path = url;
        r->head = strcmp(method, "HEAD") == 0;
        /* MHD treats a reply queued on this first call as "early" and closes
         * the connection after it, so requests are routed on the next call,
         * once any body is in. Refusing a POST body is the exception. */
        return strcmp(method, "POST") == 0 ? begin_body(r) : MHD_YES;
    }
    if (r->status) {
        *upload_data_size = 0; /* answered already: drop the rest */
        return MHD_YES;
    }
    if (*upload_data_size)
        return take_body(r, upload_data, upload_data_size);
    return finish_body(r);
}

/* --- start and stop --- */

LG_PRINTF(2, 0) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* Malformed or oversized requests, and listeners who hang up during a
     * stream, are the client's doing, not a fault of ours. */
    bool client = strncmp(msg, "Error processing request", 24) == 0 ||
                  strstr(msg, "socket is no longer available") != NULL;
    lg_log(&http_log, client ? LG_LOG_DEBUG : LG_LOG_WARN, "libmicrohttpd: %s", msg);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = { 0 };
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(*host ? host : NULL, service, &hints, &res);
    if (rc != 0) {
        lg_log(&http_log, LG_LOG_ERROR, "cannot resolve listen address %s: %s", host,
               gai_strerror(rc));
        return LG_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static unsigned pool_size(const struct lg_config *cfg)
{
    long n = cfg->http_threads > 0 ? (long)cfg->http_threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    /* MHD splits the connection limit between the threads: each needs one. */
    if (n > cfg->max_connections)
        n = (long)cfg->max_connections;
    return (unsigned)n;
}

static struct MHD_Daemon *start_daemon(struct lg_http *h, const struct sockaddr_storage *ss)
{
    const struct lg_config *cfg = h->deps.cfg;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (ss->ss_family == AF_INET6) {
        /* "[::]:PORT" means every address, IPv4 ones included. */
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        flags |= IN6_IS_ADDR_UNSPECIFIED(a) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    }
    unsigned threads = pool_size(cfg);
    struct MHD_OptionItem opts[] = {
        /* The logger goes first so that MHD never writes to stderr itself. */
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, h },
        { MHD_OPTION_SOCK_ADDR, 0, (void *)ss },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL },
        { MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->max_per_ip, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->conn_timeout_s, NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, LG_HTTP_CONN_MEMORY, NULL },
        { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h },
        /* A pool of one is no pool; MHD warns when asked for one. */
        { threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
}

int lg_http_start(const struct lg_http_deps *deps, struct lg_http **out)
{
    const struct lg_config *cfg = deps->cfg;
    char host[256];
    int port;
    if (lg_http_parse_listen(cfg->listen, host, sizeof(host), &port) != 0) {
        lg_log(&http_log, LG_LOG_ERROR, "bad listen address \"%s\" (want HOST:PORT)",
               cfg->listen ? cfg->listen : "");
        return LG_EINVAL;
    }
    struct sockaddr_storage ss;
    int rc = resolve(host, port, &ss);
    if (rc < 0)
        return rc;
    struct lg_http *h = lg_xcalloc(1, sizeof(*h));
    h->deps = *deps;
    lg_sub_render_set_target((double)cfg->replaygain_target_lufs);
    if (deps->store)
        h->api_cache = lg_api_cache_new((size_t)cfg->api_cache_mib * 1024 * 1024);
    h->device_starts =
        lg_ratelimit_new(cfg->device_starts_per_min > 0 ? cfg->device_starts_per_min : 30, 4096);
    if (deps->store && cfg->music_dir) {
        rc = lg_stream_new(deps->store, cfg->music_dir, &h->stream);
        if (rc < 0)
            goto fail;
        if (cfg->cache_size_mib > 0) {
            char *dir = lg_config_cache_dir(cfg);
            rc = lg_cache_open(dir, cfg->cache_size_mib * 1024 * 1024, &h->cache);
            free(dir);
            if (rc < 0)
                goto fail;
        }
        struct lg_jobs_opts jo = {
            .workers = (int)cfg->transcode_workers,
            .ahead_s = (double)cfg->transcode_ahead_s,
            .burst_s = (double)cfg->transcode_burst_s,
            .late_s = (double)cfg->overload_late_ms / 1000,
            .cache = h->cache,
            .backend = cfg->dsp_backend,
            .max_buffered = cfg->transcode_memory_mib * 1024 * 1024,
        };
        rc = lg_jobs_new(&jo, &h->jobs);
        if (rc < 0)
            goto fail;
    }
    errno = 0;
    h->daemon = start_daemon(h, &ss);
    if (!h->daemon) {
        rc = errno ? -errno : LG_EINVAL;
        lg_log(&http_log, LG_LOG_ERROR, "cannot listen on %s: %s", cfg->listen, lg_strerror(rc));
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : port;
    lg_log(&http_log, LG_LOG_INFO, "serving on %s port %d with %u threads", host, h->port,
           pool_size(cfg));
    *out = h;
    return 0;
fail:
    lg_jobs_free(h->jobs);
    lg_cache_close(h->cache);
    lg_stream_free(h->stream);
    lg_api_cache_free(h->api_cache);
    lg_ratelimit_free(h->device_starts);
    free(h);
    return rc;
}

int lg_http_port(const struct lg_http *h)
{
    return h->port;
}

void lg_http_stop(struct lg_http *h)
{
    if (!h)
        return;
    lg_metrics_stop(h);         /* a trace's suspended connection goes on */
    lg_jobs_cancel(h->jobs);    /* wakes waiting listeners: MHD stops only without */
    MHD_stop_daemon(h->daemon); /* joins the threads: nothing uses h after */
    lg_jobs_free(h->jobs);      /* every listener has detached */
    lg_cache_close(h->cache);
    lg_stream_free(h->stream);
    lg_api_cache_free(h->api_cache);
    lg_ratelimit_free(h->device_starts);
    free(h);
}
