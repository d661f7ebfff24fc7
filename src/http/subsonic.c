/* SPDX-License-Identifier: MIT */
/*
 * The Subsonic response tree and its XML, JSON and JSONP renderers (see
 * subsonic.h for the mapping). Both are written here by walking the tree,
 * escaping every key, attribute and text.
 *
 * A tree of 500 songs is some 50,000 small allocations, and freeing them
 * made malloc consolidate its bins on every large request; jansson's memory
 * therefore comes from a per-thread arena (below) that is reused once all
 * its nodes are freed.
 */
#include "http/subsonic.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <stdalign.h>

#include "core/str.h"
#include "http/http_int.h"

#include "lg_build.h"

/* --- the arena --- */

/* One block per thread, bump-allocated; live counts the blocks handed out
 * and not freed yet, and the arena starts over when it drops to zero. When
 * the block is full, or on a thread that cannot get one, allocation falls
 * back to malloc. A pointer is the arena's iff it lies in this thread's
 * block, so anything freed elsewhere (or allocated before the switch) goes
 * to free(). Trees never cross threads: each is built, rendered and freed
 * by the request's thread. The arena serves only from lg_sub_new or
 * lg_sub_new_error until the arena is empty again or lg_sub_window_end (the
 * dispatcher calls it after every request), so jansson used elsewhere
 * (json_dumps, whose result is free()d) gets malloc's memory; while a
 * response is being built on a thread, free jansson's strings there with
 * jansson's free function, not free(). */
enum { ARENA_SIZE = 16 << 20 };

struct arena {
    char *base;
    size_t used;
    size_t live;
    bool active; /* from a new response until its last node is freed */
};

static _Thread_local struct arena tl_arena;
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void arena_release(void *p)
{
    free(p);
}

static void *arena_malloc(size_t n)
{
    struct arena *a = &tl_arena;
    if (!a->active)
        return malloc(n);
    if (!a->base) {
        a->base = malloc(ARENA_SIZE);
        if (!a->base)
            return malloc(n);
        pthread_setspecific(arena_key, a->base);
    }
    size_t step = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    if (n == 0 || step > ARENA_SIZE - a->used)
        return malloc(n);
    void *p = a->base + a->used;
    a->used += step;
    a->live++;
    return p;
}

static void arena_free(void *p)
{
    struct arena *a = &tl_arena;
    uintptr_t u = (uintptr_t)p, b = (uintptr_t)a->base;
    if (!a->base || u < b || u >= b + ARENA_SIZE) {
        free(p);
        return;
    }
    if (--a->live == 0) {
        a->used = 0;
        a->active = false;
    }
}

void lg_sub_window_end(void)
{
    /* Nodes still live (a tree not freed) keep their memory, which is then
     * never reused: the arena fills and allocation falls back to malloc. */
    tl_arena.active = false;
}

static void arena_setup(void)
{
    lg_assert(pthread_key_create(&arena_key, arena_release) == 0);
    json_set_alloc_funcs(arena_malloc, arena_free);
}

static json_t *envelope(const char *status)
{
    pthread_once(&arena_once, arena_setup);
    tl_arena.active = true;
    json_t *r = json_object();
    lg_assert(r);
    lg_sub_set_str(r, "status", status);
    lg_sub_set_str(r, "version", LG_SUBSONIC_API_VERSION);
    lg_sub_set_str(r, "type", LG_SUBSONIC_SERVER_TYPE);
    lg_sub_set_str(r, "serverVersion", LG_VERSION);
    lg_sub_set_bool(r, "openSubsonic", true);
    return r;
}

json_t *lg_sub_new(void)
{
    return envelope("ok");
}

json_t *lg_sub_new_error(int code, const char *message)
{
    json_t *r = envelope("failed");
    json_t *e = lg_sub_child(r, "error");
    lg_sub_set_int(e, "code", code);
    lg_sub_set_str(e, "message", message);
    return r;
}

/* jansson fails only on allocation failure or invalid UTF-8 in a key or
 * string; both are programming errors here (STYLE: small fixed allocations
 * abort on OOM). */
static void set_new(json_t *obj, const char *name, json_t *value)
{
    lg_assert(value);
    /* Member names are our own ASCII literals: no UTF-8 check. */
    int rc = json_object_set_new_nocheck(obj, name, value);
    lg_assert(rc == 0);
}

json_t *lg_sub_child(json_t *parent, const char *name)
{
    json_t *o = json_object();
    set_new(parent, name, o);
    return o;
}

json_t *lg_sub_append(json_t *parent, const char *name)
{
    json_t *arr = json_object_get(parent, name);
    if (!json_is_array(arr)) {
        arr = json_array();
        set_new(parent, name, arr);
    }
    json_t *o = json_object();
    lg_assert(o && json_array_append_new(arr, o) == 0);
    return o;
}

void lg_sub_set_str(json_t *obj, const char *name, const char *value)
{
    if (value) /* text stored from outside: cleaned, not refused */
        set_new(obj, name, lg_json_text(value));
}

void lg_sub_set_int(json_t *obj, const char *name, int64_t value)
{
    set_new(obj, name, json_integer((json_int_t)value));
}

void lg_sub_set_bool(json_t *obj, const char *name, bool value)
{
    set_new(obj, name, json_boolean(value));
}

static bool callback_ok(const char *cb)
{
    if (!cb || !*cb || strlen(cb) > 128)
        return false;
    for (const char *p = cb; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '$';
        if (!ok)
            return false;
    }
    return true;
}

enum lg_sub_format lg_sub_format_from(const char *f, const char *callback)
{
    if (f && strcmp(f, "json") == 0)
        return LG_SUB_JSON;
    if (f && strcmp(f, "jsonp") == 0 && callback_ok(callback))
        return LG_SUB_JSONP;
    return LG_SUB_XML;
}

const char *lg_sub_content_type(enum lg_sub_format fmt)
{
    switch (fmt) {
    case LG_SUB_JSON:
        return "application/json; charset=utf-8";
    case LG_SUB_JSONP:
        return "application/javascript; charset=utf-8";
    case LG_SUB_XML:
    default:
        return "text/xml; charset=utf-8";
    }
}

/* --- output --- */

/* lg_buf_append without the call when the piece fits. */
static inline int put(struct lg_buf *b, const char *p, size_t n)
{
    if (b->len + n < b->cap && b->len + n <= b->limit) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return lg_buf_append(b, p, n);
}

/* Decimal digits of v, written backwards from end; returns the start. */
static char *int_text(char *end, int64_t v)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--end = '-';
    return end;
}

/* --- XML --- */

/* The replacement of c in XML text and attribute values, or NULL to keep c.
 * Characters that XML 1.0 cannot carry (controls other than tab, LF, CR) are
 * dropped; tab, LF and CR are written as references so that attribute-value
 * normalisation keeps them. */
static const char *xml_entity(unsigned char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&apos;";
    case '\t':
        return "&#9;";
    case '\n':
        return "&#10;";
    case '\r':
        return "&#13;";
    default:
        return c < 0x20 ? "" : NULL;
    }
}

static int xml_escape(struct lg_buf *b, const char *s)
{
    int rc = 0;
    const char *run = s;
    for (const char *p = s; *p && rc == 0; p++) {
        const char *rep = xml_entity((unsigned char)*p);
        size_t skip = 1;
        /* U+FFFE and U+FFFF are UTF-8 but not XML characters: U+FFFD. */
        if (!rep && (unsigned char)p[0] == 0xef && (unsigned char)p[1] == 0xbf &&
            ((unsigned char)p[2] == 0xbe || (unsigned char)p[2] == 0xbf))
        {
            rep = "\xef\xbf\xbd";
            skip = 3;
        }
        if (!rep)
            continue;
        rc = put(b, run, (size_t)(p - run));
        if (rc == 0)
            rc = put(b, rep, strlen(rep));
        p += skip - 1;
        run = p + 1;
    }
    return rc ? rc : lg_buf_puts(b, run);
}

static bool is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static int xml_scalar(struct lg_buf *b, const json_t *v)
{
    if (json_is_string(v))
        return xml_escape(b, json_string_value(v));
    if (json_is_integer(v)) {
        char tmp[24];
        char *start = int_text(tmp + sizeof(tmp), (int64_t)json_integer_value(v));
        return put(b, start, (size_t)(tmp + sizeof(tmp) - start));
    }
    if (json_is_real(v))
        return lg_buf_printf(b, "%.15g", json_real_value(v));
    return lg_buf_puts(b, json_is_true(v) ? "true" : "false");
}

static int xml_element(struct lg_buf *b, const char *name, const json_t *obj, const char *attrs);

/* The attributes of obj: its scalar members other than "value". */
static int xml_attrs(struct lg_buf *b, const json_t *obj)
{
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (rc || !is_scalar(v) || strcmp(key, "value") == 0)
            continue;
        rc = put(b, " ", 1);
        rc = rc ? rc : put(b, key, strlen(key));
        rc = rc ? rc : put(b, "=\"", 2);
        rc = rc ? rc : xml_scalar(b, v);
        rc = rc ? rc : put(b, "\"", 1);
    }
    return rc;
}

/* One member that becomes children: an object or an array of them. */
static int xml_children(struct lg_buf *b, const char *key, const json_t *v)
{
    if (json_is_object(v))
        return xml_element(b, key, v, NULL);
    int rc = 0;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (rc)
            break;
        if (json_is_object(item)) {
            rc = xml_element(b, key, item, NULL);
        } else if (is_scalar(item)) {
            rc = lg_buf_printf(b, "<%s>", key);
            rc = rc ? rc : xml_scalar(b, item);
            rc = rc ? rc : lg_buf_printf(b, "</%s>", key);
        }
    }
    return rc;
}

static bool has_content(const json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (json_is_object(v) || json_is_array(v) || (strcmp(key, "value") == 0 && is_scalar(v)))
            return true;
    }
    return false;
}

static int xml_element(struct lg_buf *b, const char *name, const json_t *obj, const char *attrs)
{
    int rc = put(b, "<", 1);
    rc = rc ? rc : put(b, name, strlen(name));
    rc = rc ? rc : lg_buf_puts(b, attrs ? attrs : "");
    rc = rc ? rc : xml_attrs(b, obj);
    if (rc || !has_content(obj))
        return rc ? rc : lg_buf_puts(b, "/>");
    rc = lg_buf_puts(b, ">");
    const json_t *text = json_object_get(obj, "value");
    if (rc == 0 && is_scalar(text))
        rc = xml_scalar(b, text);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (rc == 0 && (json_is_object(v) || json_is_array(v)))
            rc = xml_children(b, key, v);
    }
    rc = rc ? rc : put(b, "</", 2);
    rc = rc ? rc : put(b, name, strlen(name));
    return rc ? rc : put(b, ">", 1);
}

/* --- JSON --- */

/* --- JSON --- */

/* Written here rather than by json_dump_callback, which hands the output
 * over a few bytes per call: the same compact form (no spaces, members in
 * insertion order, UTF-8 kept, \uXXXX in upper-case hex for the other
 * control characters), reals through jansson itself. */
/* The index of the first byte from i on that JSON must escape (a control
 * character, '"' or '\\'), or len; eight bytes at a time (the classic
 * "has a byte less than n" bit trick). */
static size_t plain_run(const char *s, size_t i, size_t len)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
        uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs);
        if (hit & highs)
            break;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\')
            break;
    }
    return i;
}

static int jw_escape(struct lg_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        i = plain_run(s, i, len);
        if (i == len)
            break;
        unsigned char c = (unsigned char)s[i];
        char esc[6] = { '\\', (char)c, 0, 0, 0, 0 };
        size_t n = 2;
        switch (c) {
        case '"':
        case '\\':
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        rc = put(b, s + run, i - run);
        rc = rc ? rc : put(b, esc, n);
        run = i + 1;
    }
    rc = rc ? rc : put(b, s + run, len - run);
    return rc ? rc : put(b, "\"", 1);
}

static int jw_real(struct lg_buf *b, const json_t *v)
{
    char tmp[64];
    size_t n = json_dumpb(v, tmp, sizeof(tmp), JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    return n > 0 && n <= sizeof(tmp) ? put(b, tmp, n) : LG_ETOOBIG;
}

static int jw_value(struct lg_buf *b, const json_t *v);

static int jw_members(struct lg_buf *b, const json_t *obj)
{
    int rc = put(b, "{", 1);
    bool first = true;
    for (void *it = json_object_iter((json_t *)obj); it && rc == 0;
         it = json_object_iter_next((json_t *)obj, it))
    {
        if (!first)
            rc = put(b, ",", 1);
        first = false;
        const char *key = json_object_iter_key(it);
        rc = rc ? rc : jw_escape(b, key, json_object_iter_key_len(it));
        rc = rc ? rc : put(b, ":", 1);
        rc = rc ? rc : jw_value(b, json_object_iter_value(it));
    }
    return rc ? rc : put(b, "}", 1);
}

static int jw_elements(struct lg_buf *b, const json_t *arr)
{
    int rc = put(b, "[", 1);
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            rc = put(b, ",", 1);
        rc = rc ? rc : jw_value(b, json_array_get(arr, i));
    }
    return rc ? rc : put(b, "]", 1);
}

static int jw_value(struct lg_buf *b, const json_t *v)
{
    char tmp[24];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return jw_members(b, v);
    case JSON_ARRAY:
        return jw_elements(b, v);
    case JSON_STRING:
        return jw_escape(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        char *start = int_text(tmp + sizeof(tmp), (int64_t)json_integer_value(v));
        return put(b, start, (size_t)(tmp + sizeof(tmp) - start));
    }
    case JSON_REAL:
        return jw_real(b, v);
    case JSON_TRUE:
        return put(b, "true", 4);
    case JSON_FALSE:
        return put(b, "false", 5);
    case JSON_NULL:
    default:
        return put(b, "null", 4);
    }
}

static int render_json(const json_t *resp, struct lg_buf *out)
{
    int rc = lg_buf_puts(out, "{\"subsonic-response\":");
    rc = rc ? rc : jw_value(out, resp);
    return rc ? rc : lg_buf_puts(out, "}");
}

int lg_sub_render(const json_t *resp, enum lg_sub_format fmt, const char *callback,
                  struct lg_buf *out)
{
    int rc;
    switch (fmt) {
    case LG_SUB_JSON:
        return render_json(resp, out);
    case LG_SUB_JSONP:
        rc = lg_buf_printf(out, "%s(", callback_ok(callback) ? callback : "callback");
        rc = rc ? rc : render_json(resp, out);
        return rc ? rc : lg_buf_puts(out, ");");
    case LG_SUB_XML:
    default:
        rc = lg_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        return rc ? rc
                  : xml_element(out, "subsonic-response", resp,
                                " xmlns=\"http://subsonic.org/restapi\"");
    }
}
