/* SPDX-License-Identifier: MIT */
/*
 * HTTP endpoints of the profiler (prof/prof.h):
 *
 *   GET  /metrics                   Prometheus text format 0.0.4, open to
 *                                   anyone: it holds no user data (no track,
 *                                   user or stream names), as scrapers expect.
 *   GET  /api/profile               the profile as JSON (lg_prof_json),
 *                                   administrators only.
 *   POST /api/profile/trace?seconds=N
 *                                   records a trace for N seconds (1..60) and
 *                                   answers it as Chrome trace-event JSON
 *                                   (for Perfetto), administrators only.
 *   POST /api/stalls                a player reports stalls (form fields
 *                                   count 1..100, default 1; position in
 *                                   seconds and track, both optional); any
 *                                   signed-in user.
 *
 * Credentials, as for /api/sessions (lg_oauth_request_user): an
 * "Authorization: Bearer" device access token, or Subsonic credentials (u +
 * p, u + t + s, or apiKey) in the query or form. Missing or wrong ones
 * answer 401, too many wrong ones 429, a user who is not an administrator
 * 403.
 *
 * A trace request holds no thread while it records: its connection is
 * suspended (the 200 and headers go out at once) and a timer thread resumes
 * it after N seconds, when the trace is rendered and sent; a server that
 * stops ends the recording early. Only one trace records at a time (409 for
 * a second). Thread-safe.
 */
#ifndef LG_HTTP_METRICS_H
#define LG_HTTP_METRICS_H

#include <stdbool.h>

#include <microhttpd.h>

struct lg_req;

/* Whether path is one of the endpoints above. */
bool lg_metrics_is_route(const char *path);
/* Answers a request for one of them (405 for another method). */
enum MHD_Result lg_metrics_route(struct lg_req *r);
struct lg_http;
/* Before h's daemon stops: a trace recording for h ends now (its connection
 * is resumed and answers what was recorded). */
void lg_metrics_stop(struct lg_http *h);

#endif
