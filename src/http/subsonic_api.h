/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: the Subsonic API under /rest/. One table maps method
 * names (with or without ".view") to handlers; the dispatcher picks the
 * response format, checks credentials with auth/, and calls the handler with
 * a struct lg_sub_ctx. Handlers answer through lg_sub_reply* so that every
 * answer, success or error, has the same envelope.
 */
#ifndef LG_HTTP_SUBSONIC_API_H
#define LG_HTTP_SUBSONIC_API_H

#include "auth/auth.h"
#include "http/http_int.h"
#include "http/subsonic.h"

struct lg_sub_ctx {
    struct lg_req *req;
    enum lg_sub_format fmt;
    const char *callback; /* JSONP callback, or NULL */
    struct lg_principal user;
    /* Set by the dispatcher when the answer may be cached (api_cache.h): a
     * successful answer is kept under this key for this store generation. */
    const struct lg_buf *cache_key;
    uint64_t cache_gen;
};

typedef enum MHD_Result lg_sub_handler_fn(struct lg_sub_ctx *c);

/* The handler of a method name, with or without ".view"; NULL if unknown. */
lg_sub_handler_fn *lg_sub_find_method(const char *name);
/* The i-th name of the method table (sorted bytewise), NULL past its end. */
const char *lg_sub_method_name(size_t i);

/* Handles /rest/NAME; name is what follows "/rest/". */
enum MHD_Result lg_sub_api_handle(struct lg_req *r, const char *name);

/* Renders resp in the request's format and replies with HTTP status. Takes
 * ownership of resp. */
enum MHD_Result lg_sub_reply_status(struct lg_sub_ctx *c, unsigned status, json_t *resp);
/* The same with HTTP 200, as Subsonic clients expect for errors too. */
enum MHD_Result lg_sub_reply(struct lg_sub_ctx *c, json_t *resp);
/* A "failed" response with a Subsonic error code and message, HTTP 200. */
enum MHD_Result lg_sub_reply_error(struct lg_sub_ctx *c, int code, const char *message);
/* An internal failure (store down, ...): HTTP 500 with a generic error body;
 * the detail goes to the log, never to the client. */
enum MHD_Result lg_sub_reply_internal(struct lg_sub_ctx *c, int err, const char *what);

#endif
