/* SPDX-License-Identifier: MIT */
/*
 * The blocking HTTP/1.1 client: URL parsing, a connect bounded by a timeout
 * (non-blocking connect + poll), the request written in one go, and a small
 * buffered reader over the socket for the status line, the headers and the
 * body (Content-Length, chunked or until close).
 */
#include "http/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netdb.h>
#include <strings.h>

#include "core/str.h"

enum { LINE_MAX_LEN = 8192, HEADERS_MAX = 100 };

struct conn {
    int fd;
    size_t pos, len;
    char buf[16384];
};

/* Where body bytes go: a FILE, or else a buffer. */
struct sink {
    FILE *f;
    struct lg_buf *b;
};

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return LG_EPARSE;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

int lg_http_url_parse(const char *url, struct lg_http_url *out)
{
    if (strncmp(url, "http://", 7) != 0)
        return LG_EPARSE;
    const char *h = url + 7, *path = h + strcspn(h, "/?#"), *colon;
    const char *hend = path;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(path - h));
        if (!rb)
            return LG_EPARSE;
        colon = rb[1] == ':' ? rb + 1 : NULL;
        h++;
        hend = rb;
    } else {
        colon = memchr(h, ':', (size_t)(path - h));
        if (colon)
            hend = colon;
    }
    if (copy_part(out->host, sizeof(out->host), h, (size_t)(hend - h)) < 0)
        return LG_EPARSE;
    if (colon) {
        if (copy_part(out->port, sizeof(out->port), colon + 1, (size_t)(path - colon - 1)) < 0)
            return LG_EPARSE;
    } else {
        memcpy(out->port, "80", 3);
    }
    size_t n = strcspn(path, "#");
    int w = snprintf(out->path, sizeof(out->path), "%s%.*s", *path == '/' ? "" : "/", (int)n, path);
    if (w < 0 || (size_t)w >= sizeof(out->path))
        return LG_EPARSE;
    return 0;
}

int lg_http_form_add(struct lg_buf *b, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *parts[2] = { key, value };
    int rc = b->len ? lg_buf_puts(b, "&") : 0;
    for (int i = 0; rc == 0 && i < 2; i++) {
        for (const unsigned char *s = (const unsigned char *)parts[i]; rc == 0 && *s; s++) {
            if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                strchr("-._~", *s))
                rc = lg_buf_append(b, s, 1);
            else
                rc = lg_buf_printf(b, "%%%c%c", hex[*s >> 4], hex[*s & 15]);
        }
        if (rc == 0 && i == 0)
            rc = lg_buf_puts(b, "=");
    }
    return rc;
}

static int wait_fd(int fd, short ev)
{
    struct pollfd p = { .fd = fd, .events = ev };
    int n;
    do
        n = poll(&p, 1, LG_HTTP_CLIENT_TIMEOUT_MS);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return n == 0 ? -ETIMEDOUT : 0;
}

static int connect_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : -errno;
    if (rc == -EINPROGRESS) {
        int err = 0;
        socklen_t len = sizeof(err);
        rc = wait_fd(fd, POLLOUT);
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            rc = -errno;
        else if (rc == 0)
            rc = -err;
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

static int dial(const struct lg_http_url *u)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g != 0)
        return g == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
    int fd = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = connect_one(ai);
        if (fd >= 0)
            break;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) {
            int rc = wait_fd(fd, POLLOUT);
            if (rc < 0)
                return rc;
            continue;
        }
        if (w < 0 && errno != EINTR)
            return -errno;
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        }
    }
    return 0;
}

/* Reads more bytes into c->buf when it is drained: 1, 0 at EOF, or -errno. */
static int fill(struct conn *c)
{
    if (c->pos < c->len)
        return 1;
    for (;;) {
        ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
        if (n >= 0) {
            c->pos = 0;
            c->len = (size_t)n;
            return n > 0;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int rc = wait_fd(c->fd, POLLIN);
        if (rc < 0)
            return rc;
    }
}

/* Reads one line without its CRLF into out (cap bytes). */
static int read_line(struct conn *c, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        int rc = fill(c);
        if (rc <= 0)
            return rc < 0 ? rc : LG_EPARSE;
        char ch = c->buf[c->pos++];
        if (ch == '\n')
            break;
        if (n + 1 >= cap)
            return LG_ETOOBIG;
        out[n++] = ch;
    }
    if (n > 0 && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    return 0;
}

static int sink_put(struct sink *s, const char *p, size_t n)
{
    if (s->f)
        return fwrite(p, 1, n, s->f) == n ? 0 : -EIO;
    return lg_buf_append(s->b, p, n);
}

/* Passes up to want bytes (SIZE_MAX: until EOF) to the sink. */
static int copy_body(struct conn *c, struct sink *s, size_t want, bool to_eof)
{
    while (to_eof || want > 0) {
        int rc = fill(c);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return to_eof ? 0 : LG_EPARSE;
        size_t n = c->len - c->pos;
        if (!to_eof && n > want)
            n = want;
        rc = sink_put(s, c->buf + c->pos, n);
        if (rc < 0)
            return rc;
        c->pos += n;
        want -= to_eof ? 0 : n;
    }
    return 0;
}

static int read_chunked(struct conn *c, struct sink *s)
{
    char line[256];
    for (;;) {
        int rc = read_line(c, line, sizeof(line));
        if (rc < 0)
            return rc;
        char *end;
        errno = 0;
        unsigned long long n = strtoull(line, &end, 16);
        if (end == line || errno || (*end && *end != ';'))
            return LG_EPARSE;
        if (n == 0)
            break;
        rc = copy_body(c, s, (size_t)n, false);
        if (rc == 0)
            rc = read_line(c, line, sizeof(line));
        if (rc < 0)
            return rc;
    }
    do { /* trailers until the empty line */
        int rc = read_line(c, line, sizeof(line));
        if (rc < 0)
            return rc;
    } while (line[0]);
    return 0;
}

struct head {
    bool chunked;
    bool has_len;
    size_t len;
};

static int parse_header(char *line, struct head *h, struct lg_http_resp *resp)
{
    char *colon = strchr(line, ':');
    if (!colon)
        return LG_EPARSE;
    *colon = '\0';
    char *v = colon + 1;
    v += strspn(v, " \t");
    if (strcasecmp(line, "Content-Length") == 0) {
        int64_t n;
        if (lg_str_to_i64(v, 0, INT64_MAX, &n) < 0)
            return LG_EPARSE;
        h->has_len = true;
        h->len = (size_t)n;
    } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
        h->chunked = lg_str_has_suffix_ci(v, "chunked");
    } else if (strcasecmp(line, "Content-Type") == 0) {
        snprintf(resp->content_type, sizeof(resp->content_type), "%s", v);
    }
    return 0;
}

static int read_response(struct conn *c, bool head_only, FILE *sink, struct lg_http_resp *resp)
{
    char *line = malloc(LINE_MAX_LEN);
    if (!line)
        return -ENOMEM;
    struct head h = { 0 };
    int rc = read_line(c, line, LINE_MAX_LEN);
    if (rc == 0 &&
        (strncmp(line, "HTTP/1.", 7) != 0 || sscanf(line + 8, " %3d", &resp->status) != 1))
        rc = LG_EPARSE;
    for (int i = 0; rc == 0; i++) {
        rc = i > HEADERS_MAX ? LG_ETOOBIG : read_line(c, line, LINE_MAX_LEN);
        if (rc < 0 || !line[0])
            break;
        rc = parse_header(line, &h, resp);
    }
    free(line);
    if (rc < 0 || head_only)
        return rc;
    /* Subsonic errors come as 200 with an XML or JSON document: keep those. */
    const char *ct = resp->content_type;
    bool doc = strstr(ct, "xml") != NULL || strstr(ct, "json") != NULL;
    struct sink s = { resp->status == 200 && !doc ? sink : NULL, &resp->body };
    if (h.chunked)
        return read_chunked(c, &s);
    return copy_body(c, &s, h.len, !h.has_len);
}

static int build_request(struct lg_buf *b, const char *method, const struct lg_http_url *u,
                         const char *form, const char *bearer)
{
    bool v6 = strchr(u->host, ':') != NULL;
    int rc = lg_buf_printf(b,
                           "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nConnection: close\r\n"
                           "User-Agent: legato-device\r\nAccept: */*\r\n",
                           method, u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
    if (rc == 0 && bearer)
        rc = lg_buf_printf(b, "Authorization: Bearer %s\r\n", bearer);
    if (rc == 0 && form)
        rc = lg_buf_printf(b,
                           "Content-Type: application/x-www-form-urlencoded\r\n"
                           "Content-Length: %zu\r\n",
                           strlen(form));
    if (rc == 0)
        rc = lg_buf_puts(b, "\r\n");
    if (rc == 0 && form)
        rc = lg_buf_puts(b, form);
    return rc;
}

int lg_http_request(const char *method, const char *url, const char *form, const char *bearer,
                    FILE *sink, struct lg_http_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    lg_buf_init(&resp->body, LG_HTTP_CLIENT_BODY_MAX);
    struct lg_http_url u;
    int rc = lg_http_url_parse(url, &u);
    if (rc < 0)
        return rc;
    struct lg_buf req;
    lg_buf_init(&req, 64 * 1024);
    rc = build_request(&req, method, &u, form, bearer);
    struct conn *c = rc == 0 ? calloc(1, sizeof(*c)) : NULL;
    if (rc == 0 && !c)
        rc = -ENOMEM;
    if (rc == 0) {
        c->fd = dial(&u);
        rc = c->fd < 0 ? c->fd : send_all(c->fd, req.data, req.len);
    }
    if (rc == 0)
        rc = read_response(c, strcmp(method, "HEAD") == 0, sink, resp);
    if (c && c->fd >= 0)
        close(c->fd);
    free(c);
    lg_buf_free(&req);
    return rc;
}

void lg_http_resp_free(struct lg_http_resp *resp)
{
    lg_buf_free(&resp->body);
}
