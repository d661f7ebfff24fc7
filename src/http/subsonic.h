/* SPDX-License-Identifier: MIT */
/*
 * Subsonic responses: one tree, rendered as XML (the default), JSON or JSONP.
 *
 * A response is a jansson object that stands for the <subsonic-response>
 * element. Handlers add to it with plain jansson calls or the helpers below;
 * the renderers map the tree the way the Subsonic XML schema and its JSON
 * twin correspond:
 *   - a string, integer, real or boolean member is an XML attribute;
 *   - an object member is a child element with the member's name;
 *   - an array member is a run of child elements with the member's name (an
 *     array of scalars gives elements whose text is the scalar);
 *   - the member "value" holding a scalar is the element's text (as in
 *     <genre songCount="3">Rock</genre>, {"songCount":3,"value":"Rock"});
 *   - null members are left out.
 * Attributes come before children in XML whatever the member order; JSON keeps
 * the order of insertion. Strings in the tree must be valid UTF-8 (jansson
 * refuses others; use lg_utf8_sanitize on tag data first).
 *
 * Functions are thread-safe on distinct trees. Allocation failures in jansson
 * abort (trees are small and built from our own data).
 */
#ifndef LG_HTTP_SUBSONIC_H
#define LG_HTTP_SUBSONIC_H

#include <stdbool.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/common.h"

#define LG_SUBSONIC_API_VERSION "1.16.1"
#define LG_SUBSONIC_SERVER_TYPE "legato"

enum lg_sub_format {
    LG_SUB_XML = 0,
    LG_SUB_JSON,
    LG_SUB_JSONP,
};

/* Subsonic error codes (Responses/error.md). */
enum lg_sub_error {
    LG_SUB_ERR_GENERIC = 0,
    LG_SUB_ERR_MISSING_PARAM = 10,
    LG_SUB_ERR_CLIENT_TOO_OLD = 20,
    LG_SUB_ERR_SERVER_TOO_OLD = 30,
    LG_SUB_ERR_WRONG_CREDS = 40,
    LG_SUB_ERR_TOKEN_UNSUPPORTED = 41,
    LG_SUB_ERR_AUTH_UNSUPPORTED = 42,
    LG_SUB_ERR_AUTH_CONFLICT = 43,
    LG_SUB_ERR_BAD_API_KEY = 44,
    LG_SUB_ERR_NOT_AUTHORIZED = 50,
    LG_SUB_ERR_NOT_FOUND = 70,
};

/* A new response with status "ok" and the envelope attributes (version,
 * type, serverVersion, openSubsonic). Caller owns it (json_decref). */
json_t *lg_sub_new(void);
/* A new response with status "failed" and error {code, message}. message may
 * be NULL. Caller owns it (json_decref). */
json_t *lg_sub_new_error(int code, const char *message);

/* Adds (or replaces) member name of parent as an empty object and returns it,
 * borrowed from parent: one child element. */
json_t *lg_sub_child(json_t *parent, const char *name);
/* Appends an empty object to the array member name of parent (created on
 * first use) and returns it, borrowed: one of a run of child elements. */
json_t *lg_sub_append(json_t *parent, const char *name);
/* Sets attribute-like members; a NULL string leaves the member out. */
void lg_sub_set_str(json_t *obj, const char *name, const char *value);
void lg_sub_set_int(json_t *obj, const char *name, int64_t value);
void lg_sub_set_bool(json_t *obj, const char *name, bool value);

/* Ends this thread's response window: from here until the next lg_sub_new or
 * lg_sub_new_error, jansson allocates with malloc again (so strings such as
 * json_dumps results may be released with free()). The dispatcher calls it
 * after every Subsonic request. */
void lg_sub_window_end(void);

/* Chooses the format from the f and callback parameters (either may be NULL):
 * "json" -> JSON, "jsonp" with a callback made of [A-Za-z0-9_.$] -> JSONP,
 * anything else -> XML, the default. */
enum lg_sub_format lg_sub_format_from(const char *f, const char *callback);
/* The Content-Type header for a format, with charset. Static string. */
const char *lg_sub_content_type(enum lg_sub_format fmt);

/* Renders resp into out (appending). callback is used for JSONP only.
 * Returns 0, or LG_ETOOBIG when out's limit is reached (out is reset then). */
int lg_sub_render(const json_t *resp, enum lg_sub_format fmt, const char *callback,
                  struct lg_buf *out) LG_MUST_CHECK;

#endif
