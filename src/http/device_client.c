/* SPDX-License-Identifier: MIT */
/*
 * The terminal device's commands over the HTTP client: the device
 * authorization request, the token polling loop (honouring slow_down) with
 * the session state shown as it changes, the token file, the refresh
 * before a stream, and the revocation at logout.
 */
#include "http/device_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/qr.h"
#include "http/client.h"

static const char client_id[] = "legato-device";
enum { INTERVAL_MAX = 60 }; /* the longest wait between polls, s */
static const char device_grant[] = "urn:ietf:params:oauth:grant-type:device_code";

/* The saved sign-in. */
struct tokens {
    char *server, *access, *refresh;
    int64_t expires_at;
};

/* The integer field key of j within [lo, hi], dflt when it is missing or
 * not positive: the server's numbers set times and sleeps here, and a
 * hostile one must not overflow them or hang the command. */
static int64_t bounded(const json_t *j, const char *key, int64_t lo, int64_t hi, int64_t dflt)
{
    json_int_t v = json_integer_value(json_object_get(j, key));
    if (v <= 0)
        return dflt;
    return v < lo ? lo : v > hi ? hi : (int64_t)v;
}

/* s for the terminal: at most cap - 1 bytes, control bytes as '?', so that
 * a server's text cannot move the cursor or rewrite what was shown. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[n] = '\0';
    return buf;
}

static void tokens_free(struct tokens *t)
{
    free(t->server);
    free(t->access);
    free(t->refresh);
}

static char *token_path(const char *data_dir)
{
    static const char name[] = "/device.json";
    size_t n = strlen(data_dir);
    char *p = lg_xcalloc(n + sizeof(name), 1);
    memcpy(p, data_dir, n);
    memcpy(p + n, name, sizeof(name));
    return p;
}

/* Sends a request to server + path; the JSON body is parsed into *out when
 * the reply is JSON. Returns the HTTP status, or < 0 for a network error. */
static int call(const char *server, const char *method, const char *path, const char *form,
                const char *bearer, json_t **out)
{
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", server, path);
    struct lg_http_resp resp;
    int rc = lg_http_request(method, url, form, bearer, NULL, &resp);
    *out = NULL;
    if (rc == 0) {
        *out = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
        rc = resp.status;
    } else {
        fprintf(stderr, "legato: %s: %s\n", url, lg_strerror(rc));
    }
    lg_http_resp_free(&resp);
    return rc;
}

static const char *jstr(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

static int save_tokens(const char *data_dir, const struct tokens *t)
{
    char *path = token_path(data_dir), tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    mkdir(data_dir, 0700);
    json_t *j = json_pack("{ss ss ss sI}", "server", t->server, "access_token", t->access,
                          "refresh_token", t->refresh, "expires_at", (json_int_t)t->expires_at);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    int fd = text ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    int rc = fd < 0 ? -errno : 0;
    size_t n = text ? strlen(text) : 0;
    if (rc == 0 && (write(fd, text, n) != (ssize_t)n || fsync(fd) < 0))
        rc = -errno;
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        fprintf(stderr, "legato: cannot save %s: %s\n", path, lg_strerror(rc));
        unlink(tmp);
    }
    free(text);
    free(path);
    return rc;
}

static int load_tokens(const char *data_dir, struct tokens *t)
{
    char *path = token_path(data_dir);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    memset(t, 0, sizeof(*t));
    if (!j || !json_is_string(json_object_get(j, "server")) ||
        !json_is_string(json_object_get(j, "access_token")) ||
        !json_is_string(json_object_get(j, "refresh_token")))
    {
        fprintf(stderr, "legato: no sign-in in %s (run legato device first)\n", path);
        json_decref(j);
        free(path);
        return LG_ENOTFOUND;
    }
    t->server = lg_xstrdup(jstr(j, "server"));
    t->access = lg_xstrdup(jstr(j, "access_token"));
    t->refresh = lg_xstrdup(jstr(j, "refresh_token"));
    t->expires_at = json_integer_value(json_object_get(j, "expires_at"));
    json_decref(j);
    free(path);
    return 0;
}

/* Takes access_token, refresh_token and expires_in of a token reply. */
static int take_tokens(json_t *j, struct tokens *t)
{
    if (!json_is_string(json_object_get(j, "access_token")) ||
        !json_is_string(json_object_get(j, "refresh_token")))
        return LG_EPARSE;
    free(t->access);
    free(t->refresh);
    t->access = lg_xstrdup(jstr(j, "access_token"));
    t->refresh = lg_xstrdup(jstr(j, "refresh_token"));
    t->expires_at = (int64_t)time(NULL) + bounded(j, "expires_in", 1, 86400, 3600);
    return 0;
}

/* Prints the session's state when it differs from last (at most 31 chars). */
static void show_state(const char *server, const char *device_code, char *last)
{
    struct lg_buf q;
    lg_buf_init(&q, 4096);
    json_t *j = NULL;
    if (lg_buf_puts(&q, "/api/device/session?") == 0 &&
        lg_http_form_add(&q, "device_code", device_code) == 0 &&
        call(server, "GET", q.data, NULL, NULL, &j) == 200)
    {
        char buf[32];
        const char *s = shown(jstr(j, "state"), buf, sizeof(buf));
        if (*s && strcmp(s, last) != 0) {
            snprintf(last, 32, "%s", s);
            printf("state: %s\n", last);
            fflush(stdout);
        }
    }
    json_decref(j);
    lg_buf_free(&q);
}

/* Asks the token endpoint once: 0 signed in (tokens in t), 1 pending, or
 * an exit status (1) for an error already printed, reported as -1. */
static int poll_token(const char *server, const char *device_code, int *interval, struct tokens *t)
{
    struct lg_buf f;
    lg_buf_init(&f, 4096);
    json_t *j = NULL;
    int st = -1, res = -1;
    if (lg_http_form_add(&f, "grant_type", device_grant) == 0 &&
        lg_http_form_add(&f, "device_code", device_code) == 0 &&
        lg_http_form_add(&f, "client_id", client_id) == 0)
        st = call(server, "POST", "/oauth/token", f.data, NULL, &j);
    char ebuf[64];
    const char *e = shown(jstr(j, "error"), ebuf, sizeof(ebuf));
    if (st == 200 && take_tokens(j, t) == 0)
        res = 0;
    else if (strcmp(e, "authorization_pending") == 0)
        res = 1;
    else if (strcmp(e, "slow_down") == 0)
        res = 1, *interval = *interval + 5 > INTERVAL_MAX ? INTERVAL_MAX : *interval + 5;
    else if (*e)
        printf("state: %s\n", strcmp(e, "access_denied") == 0 ? "denied" : e),
            fprintf(stderr, "legato: %s\n", e);
    else if (st >= 0)
        fprintf(stderr, "legato: unexpected token reply (HTTP %d)\n", st);
    json_decref(j);
    lg_buf_free(&f);
    return res;
}

/* Posts the device authorization request; *out is its JSON reply. */
static int authorize(const char *server, const char *name, json_t **out)
{
    struct lg_buf f;
    lg_buf_init(&f, 4096);
    int st = -1;
    if (lg_http_form_add(&f, "client_id", client_id) == 0 &&
        lg_http_form_add(&f, "device_name", name ? name : "legato") == 0)
        st = call(server, "POST", "/oauth/device_authorization", f.data, NULL, out);
    lg_buf_free(&f);
    if (st == 200 && *jstr(*out, "device_code") && *jstr(*out, "user_code"))
        return 0;
    if (st >= 0)
        fprintf(stderr, "legato: the server refused the device (HTTP %d)\n", st);
    json_decref(*out);
    *out = NULL;
    return -1;
}

static int wait_for_approval(const char *server, json_t *a, struct tokens *t)
{
    const char *code = jstr(a, "device_code");
    int interval = (int)bounded(a, "interval", 1, INTERVAL_MAX, 5);
    time_t end = time(NULL) + (time_t)bounded(a, "expires_in", 1, 3600, 600);
    char state[32] = "scanning";
    printf("state: scanning\n");
    fflush(stdout);
    for (;;) {
        sleep((unsigned)interval);
        show_state(server, code, state);
        int r = poll_token(server, code, &interval, t);
        if (r <= 0)
            return r;
        if (time(NULL) > end) {
            printf("state: expired\n");
            return -1;
        }
    }
}

int lg_device_cli_login(const char *server, const char *name, const char *data_dir)
{
    if (!server || strncmp(server, "http://", 7) != 0) {
        fprintf(stderr, "legato: --server http://HOST:PORT is required\n");
        return 1;
    }
    struct tokens t = { lg_xstrdup(server), NULL, NULL, 0 };
    size_t n = strlen(t.server);
    while (n > 7 && t.server[n - 1] == '/')
        t.server[--n] = '\0';
    json_t *a = NULL;
    int rc = authorize(t.server, name, &a);
    if (rc == 0) {
        lg_qr_print_terminal(stdout, jstr(a, "verification_uri_complete"));
        char code[64], uri[512];
        printf("code: %s\nopen: %s\n", shown(jstr(a, "user_code"), code, sizeof(code)),
               shown(jstr(a, "verification_uri"), uri, sizeof(uri)));
        fflush(stdout);
        rc = wait_for_approval(t.server, a, &t);
    }
    if (rc == 0)
        rc = save_tokens(data_dir, &t);
    if (rc == 0)
        printf("state: ready\n");
    fflush(stdout);
    json_decref(a);
    tokens_free(&t);
    return rc == 0 ? 0 : 1;
}

/* Rotates the tokens when the access token has expired (or nearly). */
static int refresh_if_needed(const char *data_dir, struct tokens *t)
{
    if ((int64_t)time(NULL) < t->expires_at - 30)
        return 0;
    struct lg_buf f;
    lg_buf_init(&f, 8192);
    json_t *j = NULL;
    int st = -1;
    if (lg_http_form_add(&f, "grant_type", "refresh_token") == 0 &&
        lg_http_form_add(&f, "refresh_token", t->refresh) == 0 &&
        lg_http_form_add(&f, "client_id", client_id) == 0)
        st = call(t->server, "POST", "/oauth/token", f.data, NULL, &j);
    int rc = st == 200 ? take_tokens(j, t) : LG_EAUTH;
    if (rc == 0)
        rc = save_tokens(data_dir, t);
    else if (st >= 0)
        fprintf(stderr, "legato: cannot refresh the sign-in: %s\n",
                *jstr(j, "error") ? jstr(j, "error") : "bad reply");
    json_decref(j);
    lg_buf_free(&f);
    return rc;
}

/* Prints the message of a Subsonic error reply (JSON, as f=json asks). */
static void print_subsonic_error(const struct lg_http_resp *resp)
{
    json_t *j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
    json_t *e = json_object_get(json_object_get(j, "subsonic-response"), "error");
    if (e)
        fprintf(stderr, "legato: error %lld: %s\n",
                (long long)json_integer_value(json_object_get(e, "code")), jstr(e, "message"));
    else
        fprintf(stderr, "legato: the server answered HTTP %d\n", resp->status);
    json_decref(j);
}

static int stream_to(const struct tokens *t, const char *id, FILE *f)
{
    struct lg_buf u;
    lg_buf_init(&u, 16384);
    int rc = lg_buf_printf(&u, "%s/rest/stream?", t->server);
    if (rc == 0)
        rc = lg_http_form_add(&u, "id", id);
    if (rc == 0)
        rc = lg_http_form_add(&u, "apiKey", t->access);
    if (rc == 0)
        rc = lg_buf_puts(&u, "&v=1.16.1&c=legato-device&f=json");
    struct lg_http_resp resp = { 0 };
    if (rc == 0)
        rc = lg_http_request("GET", u.data, NULL, NULL, f, &resp);
    if (rc < 0) {
        fprintf(stderr, "legato: stream: %s\n", lg_strerror(rc));
    } else if (resp.status != 200 || resp.body.len > 0) {
        print_subsonic_error(&resp);
        rc = -1;
    }
    if (rc == 0 && fflush(f) != 0)
        rc = -errno;
    lg_http_resp_free(&resp);
    lg_buf_free(&u);
    return rc;
}

int lg_device_cli_play(const char *data_dir, const char *id, const char *out_path)
{
    struct tokens t;
    if (load_tokens(data_dir, &t) < 0)
        return 1;
    int rc = refresh_if_needed(data_dir, &t);
    bool to_stdout = !out_path || strcmp(out_path, "-") == 0;
    FILE *f = rc < 0 ? NULL : to_stdout ? stdout : fopen(out_path, "wbe");
    if (rc == 0 && !f) {
        rc = -errno;
        fprintf(stderr, "legato: %s: %s\n", out_path, lg_strerror(rc));
    }
    if (rc == 0)
        rc = stream_to(&t, id, f);
    if (f && !to_stdout && fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0 && f && !to_stdout)
        unlink(out_path);
    tokens_free(&t);
    return rc == 0 ? 0 : 1;
}

static void revoke_one(const struct tokens *t, const char *token)
{
    struct lg_buf f;
    lg_buf_init(&f, 8192);
    json_t *j = NULL;
    if (lg_http_form_add(&f, "token", token) == 0 &&
        lg_http_form_add(&f, "client_id", client_id) == 0)
        call(t->server, "POST", "/oauth/revoke", f.data, NULL, &j);
    json_decref(j);
    lg_buf_free(&f);
}

int lg_device_cli_logout(const char *data_dir)
{
    struct tokens t;
    if (load_tokens(data_dir, &t) < 0)
        return 1;
    revoke_one(&t, t.refresh);
    revoke_one(&t, t.access);
    char *path = token_path(data_dir);
    int rc = unlink(path) == 0 ? 0 : -errno;
    if (rc < 0)
        fprintf(stderr, "legato: cannot delete %s: %s\n", path, lg_strerror(rc));
    free(path);
    tokens_free(&t);
    return rc == 0 ? 0 : 1;
}
