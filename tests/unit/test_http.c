/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of http/: the Subsonic response builder and its XML/JSON
 * renderers, query redaction for the log, listen-address and form parsing,
 * a live server on an ephemeral port for the routes that need neither
 * store nor auth (healthz, 404, 405, limits), and the setsockopt(2),
 * sendfile64 and epoll_wait(2) that take libc's place for libmicrohttpd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/str.h"
#include "http/http.h"
#include "http/http_int.h"
#include "http/subsonic.h"
#include "http/subsonic_api.h"

#include "harness.h"

static char *render(json_t *resp, enum lg_sub_format fmt, const char *cb)
{
    struct lg_buf b;
    lg_buf_init(&b, 1 << 20);
    int rc = lg_sub_render(resp, fmt, cb, &b);
    CHECK_INT(rc, 0);
    json_decref(resp);
    return lg_buf_steal(&b);
}

#define XML_HEAD                                                      \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<subsonic-response " \
    "xmlns=\"http://subsonic.org/restapi\" "

LG_TEST(envelope_error)
{
    char *j = render(lg_sub_new_error(40, "Wrong username or password"), LG_SUB_JSON, NULL);
    CHECK_STR(j, "{\"subsonic-response\":{\"status\":\"failed\",\"version\":\"1.16.1\","
                 "\"type\":\"legato\",\"serverVersion\":\"0.1.0\",\"openSubsonic\":true,"
                 "\"error\":{\"code\":40,\"message\":\"Wrong username or password\"}}}");
    free(j);
    char *x = render(lg_sub_new_error(40, "Wrong username or password"), LG_SUB_XML, NULL);
    CHECK_STR(x, XML_HEAD "status=\"failed\" version=\"1.16.1\" type=\"legato\" "
                          "serverVersion=\"0.1.0\" openSubsonic=\"true\"><error code=\"40\" "
                          "message=\"Wrong username or password\"/></subsonic-response>");
    free(x);
}

LG_TEST(envelope_ok)
{
    char *x = render(lg_sub_new(), LG_SUB_XML, NULL);
    CHECK_STR(x, XML_HEAD "status=\"ok\" version=\"1.16.1\" type=\"legato\" "
                          "serverVersion=\"0.1.0\" openSubsonic=\"true\"/>");
    free(x);
    char *j = render(lg_sub_new(), LG_SUB_JSONP, "cb.x_1");
    CHECK_STR(j, "cb.x_1({\"subsonic-response\":{\"status\":\"ok\",\"version\":\"1.16.1\","
                 "\"type\":\"legato\",\"serverVersion\":\"0.1.0\",\"openSubsonic\":true}});");
    free(j);
}

/* A tree shaped like getGenres/getAlbum: nested objects, runs of elements,
 * text content, escaping, numbers and booleans. */
LG_TEST(tree_mapping)
{
    json_t *r = lg_sub_new();
    json_t *genres = lg_sub_child(r, "genres");
    json_t *g = lg_sub_append(genres, "genre");
    lg_sub_set_int(g, "songCount", 3);
    lg_sub_set_str(g, "value", "Rock & <Roll>");
    g = lg_sub_append(genres, "genre");
    lg_sub_set_int(g, "songCount", 0);
    lg_sub_set_str(g, "value", "Jazz");
    json_t *al = lg_sub_child(r, "album");
    lg_sub_set_str(al, "name", "Q\"uote's\ttab\x01");
    lg_sub_set_bool(al, "starred", false);
    json_object_set_new(al, "gain", json_real(-6.5));
    json_object_set_new(al, "moods", json_pack("[ss]", "calm", "dark"));
    json_object_set_new(al, "skip", json_null());
    lg_sub_set_str(al, "absent", NULL);
    json_t *x = json_object_get(r, "album");
    lg_sub_set_int(x, "year", 1999); /* attributes after children in insertion order */

    char *xml = render(json_incref(r), LG_SUB_XML, NULL);
    const char *body = strstr(xml, "openSubsonic=\"true\">");
    CHECK(body != NULL);
    if (body)
        CHECK_STR(body + 20, "<genres><genre songCount=\"3\">Rock &amp; &lt;Roll&gt;</genre>"
                             "<genre songCount=\"0\">Jazz</genre></genres>"
                             "<album name=\"Q&quot;uote&apos;s&#9;tab\" starred=\"false\" "
                             "gain=\"-6.5\" year=\"1999\"><moods>calm</moods><moods>dark</moods>"
                             "</album></subsonic-response>");
    free(xml);
    char *js = render(r, LG_SUB_JSON, NULL);
    body = strstr(js, "\"openSubsonic\":true,");
    CHECK(body != NULL);
    if (body)
        CHECK_STR(body + 20, "\"genres\":{\"genre\":[{\"songCount\":3,\"value\":\"Rock & <Roll>\"},"
                             "{\"songCount\":0,\"value\":\"Jazz\"}]},\"album\":{\"name\":"
                             "\"Q\\\"uote's\\ttab\\u0001\",\"starred\":false,\"gain\":-6.5,"
                             "\"moods\":[\"calm\",\"dark\"],\"skip\":null,\"year\":1999}}}");
    free(js);
}

/* Text stored from outside: invalid UTF-8 is cleaned, not refused, and
 * U+FFFE and U+FFFF (UTF-8, but not XML characters) become U+FFFD in XML. */
LG_TEST(odd_text)
{
    json_t *r = lg_sub_new();
    json_t *u = lg_sub_child(r, "user");
    lg_sub_set_str(u, "email", "x\xffy");
    lg_sub_set_str(u, "name",
                   "a\xef\xbf\xbe"
                   "b\xef\xbf\xbf"
                   "c");
    char *xml = render(json_incref(r), LG_SUB_XML, NULL);
    const char *want = "email=\"x\xef\xbf\xbdy\" name=\"a\xef\xbf\xbd"
                       "b\xef\xbf\xbd"
                       "c\"";
    bool found = xml && strstr(xml, want);
    if (!found)
        fprintf(stderr, "  %s\n", xml ? xml : "(null)");
    CHECK(found);
    free(xml);
    char *js = render(r, LG_SUB_JSON, NULL);
    CHECK(js && strstr(js, "\"email\":\"x\xef\xbf\xbdy\"") != NULL);
    free(js);
}

LG_TEST(render_limit)
{
    struct lg_buf b;
    lg_buf_init(&b, 40);
    json_t *r = lg_sub_new();
    CHECK_INT(lg_sub_render(r, LG_SUB_XML, NULL, &b), LG_ETOOBIG);
    CHECK_INT(lg_sub_render(r, LG_SUB_JSON, NULL, &b), LG_ETOOBIG);
    json_decref(r);
    lg_buf_free(&b);
}

LG_TEST(format_from)
{
    static const struct {
        const char *f, *cb;
        enum lg_sub_format fmt;
    } rows[] = {
        { NULL, NULL, LG_SUB_XML },          { "xml", NULL, LG_SUB_XML },
        { "json", NULL, LG_SUB_JSON },       { "JSON", NULL, LG_SUB_XML },
        { "jsonp", "cb", LG_SUB_JSONP },     { "jsonp", NULL, LG_SUB_XML },
        { "jsonp", "alert(1)", LG_SUB_XML }, { "jsonp", "", LG_SUB_XML },
        { "yaml", NULL, LG_SUB_XML },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++)
        CHECK_INT(lg_sub_format_from(rows[i].f, rows[i].cb), rows[i].fmt);
    CHECK_STR(lg_sub_content_type(LG_SUB_XML), "text/xml; charset=utf-8");
    CHECK_STR(lg_sub_content_type(LG_SUB_JSON), "application/json; charset=utf-8");
}

LG_TEST(redact)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        { "/rest/ping", "/rest/ping" },
        { "/rest/stream?id=1&u=joe&p=sesame&v=1.16.1&c=x", "/rest/stream?id=1&u=joe&v=1.16.1&c=x" },
        { "/rest/ping?u=joe&t=26719a1196d2a940705a59634eb18eab&s=c19b2d&f=json",
          "/rest/ping?u=joe&f=json" },
        { "/rest/ping?p=enc:736573616d65", "/rest/ping" },
        { "/rest/ping?apiKey=secret&f=json", "/rest/ping?f=json" },
        { "/rest/ping?APIKEY=secret&P=x&Token=y&password=z&access_token=w&id=2",
          "/rest/ping?id=2" },
        { "/rest/ping?%70=sesame&%61piKey=k&id=3", "/rest/ping?id=3" },
        { "/api/device/session?device_code=DC&x=1", "/api/device/session?x=1" },
        { "/x?refresh_token=a&user_code=b&code=c&client_secret=d&y=2", "/x?y=2" },
        { "/device?h=KxbLFJOy6RIZheLwgxZCDQ&y=3", "/device?y=3" },
        { "/api/handoff/claim?url=http%3A%2F%2Fx%2Fhandoff%2FT", "/api/handoff/claim" },
        /* Longer than any name, but "p" once decoded, as the parser takes it. */
        { "/rest/ping?p%00%00%00%00%00%00%00%00%00%00%00=secretpw1&id=4", "/rest/ping?id=4" },
        { "/rest/ping?%61%63%63%65%73%73%5f%74%6f%6b%65%6e=w&id=5", "/rest/ping?id=5" },
        { "/rest/ping?averyveryverylongparameternamethatisnosecret=1",
          "/rest/ping?averyveryverylongparameternamethatisnosecret=1" },
        { "/rest/ping?p", "/rest/ping" },
        { "/rest/ping?&&id=1&&", "/rest/ping?id=1" },
        { "/rest/ping?pp=1&sx=2", "/rest/ping?pp=1&sx=2" },
        /* Unescaped names compare as they are: length and letters. */
        { "/rest/ping?Client_Secret=a&URL=b&Code=c&H=d&T&S=&tt=1&apikey2=3",
          "/rest/ping?tt=1&apikey2=3" },
        { "/rest/ping?p+=1&+p=2&p%2B=3", "/rest/ping?p+=1&+p=2&p%2B=3" },
        { "/x\x01y?a=\x1b", "/x?y?a=?" },
        { "/?", "/" },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        char out[256];
        size_t n = lg_http_redact_uri(rows[i].in, out, sizeof(out));
        CHECK_STR(out, rows[i].out);
        CHECK_INT(n, strlen(rows[i].out));
    }
    char small[16];
    lg_http_redact_uri("/rest/stream?id=123456789", small, sizeof(small));
    CHECK_STR(small, "/rest/stream...");
    lg_http_redact_uri("/rest/ping?p=longsecretvalue", small, sizeof(small));
    CHECK_STR(small, "/rest/ping");
}

LG_TEST(parse_listen)
{
    static const struct {
        const char *in;
        int rc;
        const char *host;
        int port;
    } rows[] = {
        { "127.0.0.1:5342", 0, "127.0.0.1", 5342 },
        { "0.0.0.0:0", 0, "0.0.0.0", 0 },
        { "localhost:80", 0, "localhost", 80 },
        { "[::1]:8080", 0, "::1", 8080 },
        { "[::]:0", 0, "::", 0 },
        { ":9000", 0, "", 9000 },
        { "127.0.0.1", LG_EINVAL, NULL, 0 },
        { "127.0.0.1:", LG_EINVAL, NULL, 0 },
        { "127.0.0.1:65536", LG_EINVAL, NULL, 0 },
        { "127.0.0.1:-1", LG_EINVAL, NULL, 0 },
        { "127.0.0.1:80x", LG_EINVAL, NULL, 0 },
        { "::1:80", LG_EINVAL, NULL, 0 },
        { "[::1]80", LG_EINVAL, NULL, 0 },
        { "[::1:80", LG_EINVAL, NULL, 0 },
        { "", LG_EINVAL, NULL, 0 },
        { NULL, LG_EINVAL, NULL, 0 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        char host[64] = "unchanged";
        int port = -1;
        CHECK_INT(lg_http_parse_listen(rows[i].in, host, sizeof(host), &port), rows[i].rc);
        CHECK_STR(host, rows[i].host ? rows[i].host : "unchanged");
        CHECK_INT(port, rows[i].rc == 0 ? rows[i].port : -1);
    }
}

LG_TEST(form_parse)
{
    char body[] = "u=joe&p=se%26same&c=My+Client&empty=&flag&&id=1&id=2&bad=%zz%4";
    struct lg_form_field f[16];
    int n = lg_http_form_parse(body, f, LG_ARRAY_LEN(f));
    CHECK_INT(n, 8);
    static const char *const want[][2] = {
        { "u", "joe" }, { "p", "se&same" }, { "c", "My Client" }, { "empty", "" },
        { "flag", "" }, { "id", "1" },      { "id", "2" },        { "bad", "%zz%4" },
    };
    for (int i = 0; i < n && i < 8; i++) {
        CHECK_STR(f[i].key, want[i][0]);
        CHECK_STR(f[i].value, want[i][1]);
    }
    char many[] = "a=1&b=2&c=3";
    CHECK_INT(lg_http_form_parse(many, f, 2), LG_ETOOBIG);
    char empty[] = "";
    CHECK_INT(lg_http_form_parse(empty, f, 2), 0);
}

LG_TEST(url_decode)
{
    char s[] = "a%20b+c%2Bd%e2%82%ac%";
    CHECK_INT(lg_percent_decode(s, true), 11);
    CHECK_STR(s, "a b c+d\xe2\x82\xac%");
}

LG_TEST(method_table)
{
    /* The dispatcher's binary search needs the table sorted bytewise, and
     * every name must be found, with and without ".view", but not a prefix
     * or an extension of it. */
    const char *prev = NULL;
    size_t n = 0;
    for (const char *m; (m = lg_sub_method_name(n)) != NULL; n++) {
        if (prev)
            CHECK(strcmp(prev, m) < 0);
        prev = m;
        char name[64];
        CHECK(lg_sub_find_method(m) != NULL);
        snprintf(name, sizeof(name), "%s.view", m);
        CHECK(lg_sub_find_method(name) == lg_sub_find_method(m));
        snprintf(name, sizeof(name), "%sx", m);
        CHECK(lg_sub_find_method(name) == NULL);
        snprintf(name, sizeof(name), "%.*s", (int)strlen(m) - 1, m);
        bool listed = false; /* "search" is, for "search2" */
        for (size_t j = 0; lg_sub_method_name(j); j++)
            listed = listed || strcmp(lg_sub_method_name(j), name) == 0;
        CHECK((lg_sub_find_method(name) != NULL) == listed);
    }
    CHECK(n > 50);
    CHECK(lg_sub_find_method("stream") != lg_sub_find_method("download"));
    CHECK(lg_sub_find_method("") == NULL);
    CHECK(lg_sub_find_method(".view") == NULL);
    CHECK(lg_sub_find_method("Stream") == NULL);
    CHECK(lg_sub_find_method("zzz") == NULL);
    CHECK(lg_sub_find_method("a") == NULL);
}

/* --- a live server --- */

/* Sends req to 127.0.0.1:port and returns the whole answer (caller frees). */
static char *roundtrip(int port, const char *req, size_t req_len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    lg_assert(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lg_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    for (size_t off = 0; off < req_len;) {
        ssize_t n = write(fd, req + off, req_len - off);
        if (n <= 0)
            break; /* the server may answer and close before reading it all */
        off += (size_t)n;
    }
    struct lg_buf b;
    lg_buf_init(&b, 1 << 20);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        lg_assert(lg_buf_append(&b, chunk, (size_t)n) == 0);
    close(fd);
    return lg_buf_steal(&b);
}

static char *get(int port, const char *method, const char *target)
{
    char *req =
        lg_xasprintf("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method, target);
    char *resp = roundtrip(port, req, strlen(req));
    free(req);
    return resp;
}

static bool starts(const char *s, const char *prefix)
{
    bool ok = strncmp(s, prefix, strlen(prefix)) == 0;
    if (!ok)
        fprintf(stderr, "  got: %.80s\n", s);
    return ok;
}

static void check_routes(int port)
{
    char *r = get(port, "GET", "/healthz");
    CHECK(starts(r, "HTTP/1.1 200"));
    CHECK(strstr(r, "\r\n\r\n{\"status\":\"ok\"}") != NULL);
    free(r);
    r = get(port, "HEAD", "/healthz");
    CHECK(starts(r, "HTTP/1.1 200"));
    CHECK(strstr(r, "{\"status\"") == NULL);
    free(r);
    r = get(port, "GET", "/nope");
    CHECK(starts(r, "HTTP/1.1 404"));
    free(r);
    r = get(port, "DELETE", "/healthz");
    CHECK(starts(r, "HTTP/1.1 405"));
    CHECK(strstr(r, "Allow: GET, HEAD") != NULL);
    free(r);
    r = get(port, "PUT", "/rest/ping");
    CHECK(starts(r, "HTTP/1.1 405"));
    free(r);
}

static void check_limits(int port)
{
    /* A request line over the connection's memory: MHD answers 414. */
    size_t big = LG_HTTP_CONN_MEMORY + 1000;
    char *target = lg_xmalloc(big + 1);
    memset(target, 'a', big);
    target[0] = '/';
    target[big] = '\0';
    char *r = get(port, "GET", target);
    CHECK(starts(r, "HTTP/1.1 414"));
    free(r);
    free(target);
    /* A header block over it: 431. */
    char *hdr = lg_xmalloc(big + 1);
    memset(hdr, 'b', big);
    hdr[big] = '\0';
    char *req = lg_xasprintf("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", hdr);
    r = roundtrip(port, req, strlen(req));
    CHECK(starts(r, "HTTP/1.1 431"));
    free(r);
    free(req);
    free(hdr);
    /* A form body over LG_REQ_BODY_MAX: 413; another type: 415. */
    size_t n = LG_REQ_BODY_MAX + 10;
    char *body = lg_xmalloc(n + 1);
    memset(body, 'x', n);
    body[n] = '\0';
    req = lg_xasprintf("POST /rest/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Content-Type: application/x-www-form-urlencoded\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       n, body);
    r = roundtrip(port, req, strlen(req));
    CHECK(starts(r, "HTTP/1.1 413"));
    free(r);
    free(req);
    free(body);
    req = lg_xasprintf("POST /rest/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    r = roundtrip(port, req, strlen(req));
    CHECK(starts(r, "HTTP/1.1 415"));
    free(r);
    free(req);
}

/* The server's end of a connection this process made from client: the
 * descriptor whose peer is client's own address. */
static int server_end(int client)
{
    struct sockaddr_in me, peer;
    socklen_t len = sizeof(me);
    lg_assert(getsockname(client, (struct sockaddr *)&me, &len) == 0);
    for (int fd = 3; fd < 4096; fd++) {
        len = sizeof(peer);
        if (fd != client && getpeername(fd, (struct sockaddr *)&peer, &len) == 0 &&
            len == sizeof(peer) && peer.sin_family == AF_INET && peer.sin_port == me.sin_port &&
            peer.sin_addr.s_addr == me.sin_addr.s_addr)
            return fd;
    }
    return -1;
}

static int tcp_opt(int fd, int name);

/* Two requests on one keep-alive connection: the server's socket is never
 * corked and has TCP_NODELAY, set once (sockets.c). */
static void check_socket_options(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    lg_assert(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lg_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 2; i++) {
        lg_assert(write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1);
        char got[1024];
        size_t n = 0;
        while (n < sizeof(got) - 1) {
            ssize_t k = read(fd, got + n, sizeof(got) - 1 - n);
            lg_assert(k > 0);
            n += (size_t)k;
            got[n] = '\0';
            if (strstr(got, "{\"status\":\"ok\"}"))
                break;
        }
        CHECK(starts(got, "HTTP/1.1 200"));
    }
    int server = server_end(fd);
    CHECK(server >= 0);
    if (server >= 0) {
        CHECK_INT(tcp_opt(server, TCP_CORK), 0);
        CHECK(tcp_opt(server, TCP_NODELAY) != 0);
    }
    close(fd);
}

LG_TEST(live_server)
{
    struct lg_config cfg = { 0 };
    cfg.listen = "127.0.0.1:0";
    cfg.http_threads = 2;
    cfg.max_connections = 64;
    cfg.max_per_ip = 16;
    cfg.conn_timeout_s = 5;
    struct lg_http_deps deps = { .cfg = &cfg };
    struct lg_http *h = NULL;
    CHECK_INT(lg_http_start(&deps, &h), 0);
    if (!h)
        return;
    int port = lg_http_port(h);
    CHECK(port > 0 && port < 65536);
    check_routes(port);
    check_limits(port);
    check_socket_options(port);

    /* The port is taken: a second server on it fails cleanly. */
    char *listen = lg_xasprintf("127.0.0.1:%d", port);
    cfg.listen = listen;
    struct lg_http *h2 = NULL;
    CHECK(lg_http_start(&deps, &h2) < 0);
    CHECK(h2 == NULL);
    cfg.listen = "nonsense";
    CHECK_INT(lg_http_start(&deps, &h2), LG_EINVAL);
    free(listen);
    lg_http_stop(h);
    lg_http_stop(NULL);
}

LG_TEST(live_server_ipv6)
{
    struct lg_config cfg = { 0 };
    cfg.listen = "[::1]:0";
    cfg.http_threads = 1;
    cfg.max_connections = 8;
    cfg.conn_timeout_s = 5;
    struct lg_http_deps deps = { .cfg = &cfg };
    struct lg_http *h = NULL;
    int rc = lg_http_start(&deps, &h);
    if (rc < 0) {
        fprintf(stderr, "  no IPv6 loopback here; skipped\n");
        return;
    }
    CHECK(lg_http_port(h) > 0);
    lg_http_stop(h);
    /* The IPv6 wildcard takes IPv4 clients too. */
    cfg.listen = "[::]:0";
    CHECK_INT(lg_http_start(&deps, &h), 0);
    char *r = get(lg_http_port(h), "GET", "/healthz");
    CHECK(starts(r, "HTTP/1.1 200"));
    free(r);
    lg_http_stop(h);
}

static int tcp_opt(int fd, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);
    lg_assert(getsockopt(fd, IPPROTO_TCP, name, &v, &len) == 0);
    return v;
}

/* The definition in sockets.c is the one every library of the process calls:
 * TCP_CORK on is refused silently, everything else reaches the kernel (on a
 * socket that is not a connection's). */
LG_TEST(uncorked)
{
    int (*own)(int, int, int, const void *, socklen_t) = setsockopt;
    void *mine, *resolved = dlsym(RTLD_DEFAULT, "setsockopt");
    memcpy(&mine, &own, sizeof(mine));
    CHECK(resolved == mine);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    lg_assert(fd >= 0);
    int on = 1, off = 0;
    CHECK_INT(setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)), 0);
    CHECK_INT(tcp_opt(fd, TCP_CORK), 0);
    CHECK_INT(setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off)), 0);
    CHECK_INT(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)), 0);
    CHECK(tcp_opt(fd, TCP_NODELAY) != 0);
    CHECK_INT(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)), 0);
    int v = 0;
    socklen_t len = sizeof(v);
    CHECK_INT(getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    CHECK(v != 0);
    /* Errors still come from the kernel. */
    CHECK_INT(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, 1), -1);
    close(fd);
    CHECK_INT(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)), -1);
    /* Uncorking is skipped on connection sockets only. */
    CHECK_INT(setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off)), -1);
}

/* On a server loop thread, a call that follows a full batch of events on the
 * same epoll set does not wait: libmicrohttpd's drain loop calls again after
 * 128 events with the timeout it worked out first, and must not sleep on
 * the batch it holds. Elsewhere, and after a batch that was not full, the
 * timeout stands. */
LG_TEST(epoll_full_batch)
{
    int (*own)(int, struct epoll_event *, int, int) = epoll_wait;
    void *mine, *resolved = dlsym(RTLD_DEFAULT, "epoll_wait");
    memcpy(&mine, &own, sizeof(mine));
    CHECK(resolved == mine);

    enum { N = 4 };
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK); /* readable at once */
        /* Edge-triggered, as libmicrohttpd adds connections: one event each. */
        struct epoll_event e = { .events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)i };
        CHECK_INT(epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e), 0);
    }
    struct epoll_event ev[N];
    /* A thread that runs no server loop: the second call waits its 200 ms. */
    CHECK_INT(epoll_wait(ep, ev, N, 10000), N);
    int64_t t0 = lg_http_now_ns();
    CHECK_INT(epoll_wait(ep, ev, N, 200), 0);
    CHECK(lg_http_now_ns() - t0 >= 150 * 1000000LL);

    lg_http_note_loop_thread();
    for (int i = 0; i < N; i++) {
        uint64_t one = 1;
        CHECK(write(fds[i], &one, sizeof(one)) == sizeof(one)); /* a new edge */
    }
    CHECK_INT(epoll_wait(ep, ev, N, 10000), N);
    /* The loop going on: nothing pending, and no wait (10 s if it waited). */
    t0 = lg_http_now_ns();
    CHECK_INT(epoll_wait(ep, ev, N, 10000), 0);
    CHECK(lg_http_now_ns() - t0 < 5000 * 1000000LL);
    /* That call returned no full batch: the next one waits again. */
    t0 = lg_http_now_ns();
    CHECK_INT(epoll_wait(ep, ev, N, 200), 0);
    CHECK(lg_http_now_ns() - t0 >= 150 * 1000000LL);
    /* A batch short of maxevents is the whole: the timeout stands. */
    uint64_t one = 1;
    CHECK(write(fds[0], &one, sizeof(one)) == sizeof(one));
    CHECK_INT(epoll_wait(ep, ev, N, 10000), 1);
    t0 = lg_http_now_ns();
    CHECK_INT(epoll_wait(ep, ev, N, 200), 0);
    CHECK(lg_http_now_ns() - t0 >= 150 * 1000000LL);

    /* A loop thread holds its log lines and writes them before a call that
     * may wait. */
    static const struct lg_log tlog = { "http/test" };
    int threshold = lg_log_threshold, p[2];
    lg_assert(pipe(p) == 0 && fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
    int saved = dup(STDERR_FILENO);
    lg_assert(saved >= 0 && dup2(p[1], STDERR_FILENO) == STDERR_FILENO);
    lg_log_setup(LG_LOG_INFO, 0);
    lg_log(&tlog, LG_LOG_INFO, "served");
    char got[512];
    CHECK(read(p[0], got, sizeof(got)) < 0 && errno == EAGAIN);
    CHECK_INT(epoll_wait(ep, ev, N, 0), 0); /* a poll: still held */
    CHECK(read(p[0], got, sizeof(got)) < 0 && errno == EAGAIN);
    CHECK_INT(epoll_wait(ep, ev, N, 1), 0);
    ssize_t n = read(p[0], got, sizeof(got) - 1);
    got[n > 0 ? n : 0] = '\0';
    CHECK(strstr(got, " info  http/test: served\n") != NULL);
    lg_log_hold(false);
    lg_log_setup((enum lg_log_level)threshold, 0);
    lg_assert(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
    close(saved);
    close(p[0]);
    close(p[1]);

    for (int i = 0; i < N; i++)
        close(fds[i]);
    close(ep);
}

ssize_t sendfile64(int out, int in, int64_t *off, size_t count);

/* A file response's body is sent in calls of up to 2 MiB that stop 128 KiB
 * short of its end (libmicrohttpd's own piece); other descriptors and other
 * sizes are left to the kernel as asked. */
LG_TEST(sendfile_pieces)
{
    ssize_t (*own)(int, int, int64_t *, size_t) = sendfile64;
    void *mine, *resolved = dlsym(RTLD_DEFAULT, "sendfile64");
    memcpy(&mine, &own, sizeof(mine));
    CHECK(resolved == mine);

    char *dir = lg_test_tmpdir("http");
    char *path = lg_xasprintf("%s/pieces.bin", dir);
    enum { SIZE = 3 << 20, PIECE = 0x20000 };
    unsigned char *data = lg_xmalloc(SIZE);
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 11));
    FILE *f = fopen(path, "wb");
    lg_assert(f && fwrite(data, 1, SIZE, f) == SIZE && fclose(f) == 0);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int other = open(path, O_RDONLY | O_CLOEXEC); /* never a response's */
    lg_assert(in >= 0 && other >= 0);
    char *out_path = lg_xasprintf("%s/pieces.out", dir);
    int out = open(out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    lg_assert(out >= 0);

    /* The body: 2,500,000 bytes from offset 1000. */
    struct MHD_Response *r = lg_response_from_file(in, 1000, 2500000);
    CHECK(r != NULL);
    int64_t off = 1000;
    CHECK(sendfile64(out, in, &off, PIECE) == 2 * 1024 * 1024);
    CHECK(off == 1000 + 2 * 1024 * 1024);
    /* 402,848 left: all but the last piece. */
    CHECK(sendfile64(out, in, &off, PIECE) == 2500000 - 2 * 1024 * 1024 - PIECE);
    CHECK(sendfile64(out, in, &off, PIECE) == PIECE);
    CHECK(off == 2501000);
    unsigned char *back = lg_xmalloc(2500000);
    CHECK(pread(out, back, 2500000, 0) == 2500000);
    CHECK(memcmp(back, data + 1000, 2500000) == 0);
    /* Another size, or a descriptor no response owns: as asked. */
    off = 0;
    CHECK(sendfile64(out, in, &off, 1000) == 1000);
    off = 0;
    CHECK(sendfile64(out, other, &off, PIECE) == PIECE);
    MHD_destroy_response(r); /* closes in */
    close(other);
    close(out);
    free(back);
    free(data);
    free(out_path);
    free(path);
    free(dir);
}

LG_TEST_MAIN(LG_CASE(envelope_error), LG_CASE(envelope_ok), LG_CASE(tree_mapping),
             LG_CASE(odd_text), LG_CASE(render_limit), LG_CASE(format_from), LG_CASE(redact),
             LG_CASE(parse_listen), LG_CASE(form_parse), LG_CASE(url_decode), LG_CASE(method_table),
             LG_CASE(live_server), LG_CASE(live_server_ipv6), LG_CASE(uncorked),
             LG_CASE(epoll_full_batch), LG_CASE(sendfile_pieces))
