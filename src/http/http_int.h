/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: the server object, the per-request context that
 * handlers receive, and the small parsers the server uses (exposed here so
 * the unit tests can reach them).
 *
 * A struct lg_req lives from the moment libmicrohttpd has read the request
 * line until the request completes; one MHD worker thread owns it throughout.
 * Strings it hands out (parameters, headers, path) are valid until the handler
 * has returned its reply.
 */
#ifndef LG_HTTP_HTTP_INT_H
#define LG_HTTP_HTTP_INT_H

#include <stdbool.h>
#include <string.h>

#include <netinet/in.h>

#include <jansson.h>
#include <microhttpd.h>

#include "auth/auth.h"
#include "core/buf.h"
#include "http/http.h"
#include "stream/stream.h"

struct lg_ratelimit;

struct lg_http {
    struct MHD_Daemon *daemon;
    struct lg_http_deps deps;
    struct lg_stream *stream;           /* NULL without a store or music folder */
    struct lg_jobs *jobs;               /* transcode jobs; NULL with stream */
    struct lg_cache *cache;             /* finished transcodes; NULL: none */
    struct lg_api_cache *api_cache;     /* rendered Subsonic answers; NULL: none */
    struct lg_ratelimit *device_starts; /* device sign-ins started, per IP */
    int port;
};

enum {
    LG_REQ_LOG_URI_MAX = 512,    /* the redacted URI kept for the log line */
    LG_REQ_BODY_MAX = 64 * 1024, /* bytes of form body accepted (413 beyond) */
    /* Form fields of a POST body: as many as LG_REQ_BODY_MAX bytes hold ("a&"
     * each), so that a POST carries more ids than a GET's URL can (about
     * 4,600 "songId=123456" against 2,200). Room is made for what a body
     * holds, 16 bytes a field. */
    LG_REQ_FORM_MAX = LG_REQ_BODY_MAX / 2,
    LG_HTTP_CONN_MEMORY = 32 * 1024, /* per connection: request line + headers */
    LG_CONN_AUTH_HASH = 16,          /* bytes of a connection's credentials memo */
};

/* What outlives a request on a keep-alive connection. One MHD thread owns a
 * connection, so no locking. */
struct lg_conn {
    char ip[INET6_ADDRSTRLEN]; /* the client address, textual */
    /* The credentials last accepted by lg_auth_check on this connection (a
     * hash, never the secrets) and whom they named: identical credentials on
     * the same connection are not checked again until auth_until_ns. */
    unsigned char auth_hash[LG_CONN_AUTH_HASH];
    int64_t auth_until_ns; /* 0: nothing remembered */
    struct lg_principal auth_user;
    /* The last request's context, kept for the next request on this
     * connection (one at a time): no allocation per request. */
    struct lg_req *spare;
};

struct lg_form_field {
    const char *key;
    const char *value;
    size_t key_len; /* strlen(key) */
};

struct lg_req {
    struct lg_http *http;
    struct MHD_Connection *conn;
    struct lg_conn *lconn; /* the connection's context; never NULL */
    const char *method;    /* "GET", ...; "-" before the handler ran */
    const char *path;      /* decoded path, without the query */
    bool head;             /* a HEAD request: MHD sends headers only */
    bool started;          /* the access handler has seen this request */
    bool sent_track;       /* a track's bytes (not an error) were queued */
    unsigned status;       /* the status queued, 0 until then */
    int64_t body_bytes;    /* bytes of body queued (0 for HEAD) */
    int64_t start_ns;      /* CLOCK_MONOTONIC when the request line arrived */
    const char *ip;        /* the client address (in lconn) */
    char log_uri[LG_REQ_LOG_URI_MAX];
    struct lg_buf body; /* POST body; form fields point into it */
    size_t n_form;
    struct lg_form_field *form; /* allocated for POST requests only */
    /* The query string's parameters, decoded, in order (legato parses the
     * query itself: see parse_query in http.c); they point into query.
     * query and query_fields are the two arrays below when they fit. */
    char *query;
    size_t n_query;
    struct lg_form_field *query_fields;
    char query_small[256];
    struct lg_form_field fields_small[16];
};

/* A request parameter: the query string first, then a form-encoded POST
 * body. Names compare case-insensitively (as MHD does for the query). NULL
 * when absent or given without a value ("?key"); "" for "key=". */
const char *lg_req_param_n(const struct lg_req *r, const char *key, size_t len);
/* Inline, so that the length of a literal name is a constant. */
static inline const char *lg_req_param(const struct lg_req *r, const char *key)
{
    return lg_req_param_n(r, key, strlen(key));
}
/* The first max values of a repeated parameter, query first, in order;
 * returns how many it wrote. lg_req_param_count says whether there are more. */
size_t lg_req_params(const struct lg_req *r, const char *key, const char **out, size_t max);
/* How many values the parameter has. */
size_t lg_req_param_count(const struct lg_req *r, const char *key);
/* CLOCK_MONOTONIC in nanoseconds. */
int64_t lg_http_now_ns(void);

/* A request header, or NULL. */
const char *lg_req_header(const struct lg_req *r, const char *name);

/* Queues resp with status and releases it; body_bytes is recorded for the log
 * line. resp NULL (allocation failed) closes the connection. */
enum MHD_Result lg_req_reply(struct lg_req *r, unsigned status, struct MHD_Response *resp,
                             int64_t body_bytes);
/* Replies with a static text (not copied; it must outlive the response). */
enum MHD_Result lg_req_reply_static(struct lg_req *r, unsigned status, const char *ctype,
                                    const char *text);
/* 405 with the Allow header (text/plain). */
enum MHD_Result lg_req_not_allowed(struct lg_req *r, const char *allow);
/* Replies with j (taken) as compact JSON, for legato's own API: no-store,
 * Pragma: no-cache (RFC 6749 §5.1), nosniff; a 401 asks for a Bearer token, a
 * 429 says Retry-After: 60; allow (NULL: none) is a 405's Allow header. */
enum MHD_Result lg_req_reply_json(struct lg_req *r, unsigned status, json_t *j, const char *allow);
/* {"error": error, "error_description": desc} with status, as above. */
enum MHD_Result lg_req_api_error(struct lg_req *r, unsigned status, const char *error,
                                 const char *desc);
/* s as a JSON string, cleaned (U+FFFD) when it is not UTF-8: text stored from
 * outside, which jansson would refuse. NULL for NULL, or on allocation
 * failure. */
json_t *lg_json_text(const char *s);
/* A response that owns len bytes at data (malloc'ed): freed with it, or at
 * once when no response can be made (NULL then). */
struct MHD_Response *lg_response_owning(void *data, size_t len);
/* A response of len bytes of the file fd from offset, sent with sendfile(2);
 * it owns fd. Every file response must be made here: it records where the
 * body ends, which the sendfile64 of sockets.c relies on. */
struct MHD_Response *lg_response_from_file(int fd, uint64_t offset, uint64_t len);
/* Tells sockets.c that conn's socket opened (MHD's "started" notice) or is
 * about to close. */
void lg_http_note_socket(struct MHD_Connection *conn, bool open);
/* Marks the calling thread as one that runs libmicrohttpd's event loop, as
 * a connection's "started" notice does (for tests of sockets.c). */
void lg_http_note_loop_thread(void);
/* Replies with the contents of b (taken; b is left empty). */
enum MHD_Result lg_req_reply_buf(struct lg_req *r, unsigned status, const char *ctype,
                                 struct lg_buf *b);

/* Copies uri into out (cap bytes, always NUL-terminated) for the log: query
 * parameters that carry secrets (p, t, s, apiKey, token, password, the OAuth
 * access_token, refresh_token, device_code, user_code, code and
 * client_secret; h, the QR handle of a device sign-in; url, which carries a
 * hand-off link; in any case, also percent-encoded, also with encoded NULs
 * after the name, which the parameter parser drops) are removed, control bytes
 * become '?', and an over-long result ends in "...". Returns the length. */
size_t lg_http_redact_uri(const char *uri, char *out, size_t cap);

/* Splits cfg->listen: "HOST:PORT", "[IPV6]:PORT" or ":PORT" (any address).
 * Writes host (without brackets) and port. Returns 0 or LG_EINVAL. */
int lg_http_parse_listen(const char *listen, char *host, size_t cap, int *port) LG_MUST_CHECK;

/* Parses an application/x-www-form-urlencoded body in place into at most max
 * fields (pointing into body). Returns the count, or LG_ETOOBIG. */
int lg_http_form_parse(char *body, struct lg_form_field *fields, size_t max) LG_MUST_CHECK;

#endif
