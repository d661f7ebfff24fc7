/* SPDX-License-Identifier: MIT */
/*
 * The QR image routes. The handle is checked against the base64url alphabet
 * and a length range before anything is drawn, so the rendered text is
 * always PUBLIC + "/device?h=" + a handle that needs no escaping. Replies are
 * never cached (a handle is a short-lived secret) and never sniffed.
 */
#include "http/qr_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/qr.h"
#include "core/buf.h"
#include "core/config.h"
#include "http/http_int.h"

enum { QR_PNG_SCALE = 8, QR_SVG_SCALE = 8, QR_URL_MAX = 1024, QR_HOST_MAX = 255 };

static bool handle_ok(const char *h)
{
    size_t n = h ? strlen(h) : 0;
    if (n < LG_QR_HANDLE_MIN || n > LG_QR_HANDLE_MAX)
        return false;
    return strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

static bool host_ok(const char *host)
{
    size_t n = host ? strlen(host) : 0;
    if (n == 0 || n > QR_HOST_MAX)
        return false;
    return strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-:[]") == n;
}

static int put(char *out, size_t cap, int n)
{
    return n < 0 || (size_t)n >= cap ? LG_ETOOBIG : 0;
}

int lg_http_public_base(const struct lg_http *h, const char *host, char *out, size_t cap)
{
    const char *pub = h->deps.cfg ? h->deps.cfg->public_url : NULL;
    if (pub && *pub) {
        size_t n = strlen(pub);
        while (n > 0 && pub[n - 1] == '/')
            n--;
        return put(out, cap, snprintf(out, cap, "%.*s", (int)n, pub));
    }
    if (host_ok(host))
        return put(out, cap, snprintf(out, cap, "http://%s", host));
    char lhost[256] = "";
    int port = 0;
    const char *listen = h->deps.cfg ? h->deps.cfg->listen : NULL;
    if (!listen || lg_http_parse_listen(listen, lhost, sizeof(lhost), &port) < 0 || !*lhost)
        snprintf(lhost, sizeof(lhost), "127.0.0.1");
    bool v6 = strchr(lhost, ':') != NULL;
    return put(
        out, cap,
        snprintf(out, cap, "http://%s%s%s:%d", v6 ? "[" : "", lhost, v6 ? "]" : "", h->port));
}

static enum MHD_Result bad_request(struct lg_req *r, const char *text)
{
    return lg_req_reply_static(r, MHD_HTTP_BAD_REQUEST, "text/plain", text);
}

/* PUBLIC + "/device?h=" + handle into out. */
static int device_url(struct lg_req *r, const char *handle, char *out, size_t cap)
{
    int rc = lg_http_public_base(r->http, lg_req_header(r, MHD_HTTP_HEADER_HOST), out, cap);
    if (rc < 0)
        return rc;
    size_t n = strlen(out);
    return put(out + n, cap - n, snprintf(out + n, cap - n, "/device?h=%s", handle));
}

enum MHD_Result lg_qr_route(struct lg_req *r, bool png)
{
    const char *handle = lg_req_param(r, "h");
    if (!handle_ok(handle))
        return bad_request(r, "h: expected 16 to 64 base64url characters\n");
    char url[QR_URL_MAX];
    if (device_url(r, handle, url, sizeof(url)) < 0)
        return bad_request(r, "URL does not fit a QR code\n");
    return lg_qr_reply(r, url, png);
}

enum MHD_Result lg_qr_reply(struct lg_req *r, const char *text, bool png)
{
    struct lg_qr q;
    if (lg_qr_encode(text, strlen(text), &q) < 0)
        return bad_request(r, "URL does not fit a QR code\n");
    struct lg_buf b;
    lg_buf_init(&b, 4 << 20);
    int rc = png ? lg_qr_png(&q, QR_PNG_SCALE, &b) : lg_qr_svg(&q, QR_SVG_SCALE, &b);
    lg_qr_free(&q);
    if (rc < 0) {
        lg_buf_free(&b);
        return lg_req_reply_static(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
                                   "cannot render\n");
    }
    size_t len = b.len;
    struct MHD_Response *resp = lg_response_owning(lg_buf_steal(&b), len);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            png ? "image/png" : "image/svg+xml");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    return lg_req_reply(r, MHD_HTTP_OK, resp, (int64_t)len);
}
