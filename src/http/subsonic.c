/* SPDX-License-Identifier: MIT */
/*
 * The Subsonic response tree and its XML, JSON and JSONP renderers (see
 * subsonic.h for the mapping). JSON is jansson's own output; XML is written
 * here by walking the same tree, escaping every attribute and text.
 */
#include "http/subsonic.h"

#include <stdio.h>
#include <string.h>

#include "lg_build.h"

static json_t *envelope(const char *status)
{
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
    int rc = json_object_set_new(obj, name, value);
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
    if (value)
        set_new(obj, name, json_string(value));
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
        if (!rep)
            continue;
        rc = lg_buf_append(b, run, (size_t)(p - run));
        if (rc == 0)
            rc = lg_buf_puts(b, rep);
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
    if (json_is_integer(v))
        return lg_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
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
        rc = lg_buf_printf(b, " %s=\"", key);
        if (rc == 0)
            rc = xml_scalar(b, v);
        if (rc == 0)
            rc = lg_buf_puts(b, "\"");
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
    int rc = lg_buf_printf(b, "<%s%s", name, attrs ? attrs : "");
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
    return rc ? rc : lg_buf_printf(b, "</%s>", name);
}

/* --- JSON --- */

/* jansson ignores the callback's result for some writes, and lg_buf resets
 * itself on overflow, so a failure must stick: once full, stay full. */
struct json_sink {
    struct lg_buf *b;
    bool full;
};

static int json_to_buf(const char *p, size_t len, void *ud)
{
    struct json_sink *s = ud;
    if (!s->full && lg_buf_append(s->b, p, len) != 0)
        s->full = true;
    return s->full ? -1 : 0;
}

static int render_json(const json_t *resp, struct lg_buf *out)
{
    int rc = lg_buf_puts(out, "{\"subsonic-response\":");
    if (rc)
        return rc;
    struct json_sink sink = { out, false };
    int dumped =
        json_dump_callback(resp, json_to_buf, &sink, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (dumped != 0 || sink.full) {
        lg_buf_free(out);
        return LG_ETOOBIG;
    }
    return lg_buf_puts(out, "}");
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
