/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: the Subsonic system and scanning methods: getLicense,
 * getScanStatus, startScan and getOpenSubsonicExtensions. The last is public
 * (OpenSubsonic requires it to answer without credentials): the dispatcher
 * calls it before authenticating, so it must not look at c->user.
 */
#ifndef LG_HTTP_SUBSONIC_SYSTEM_H
#define LG_HTTP_SUBSONIC_SYSTEM_H

#include "http/subsonic_api.h"

enum MHD_Result lg_sub_get_license(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_get_scan_status(struct lg_sub_ctx *c);
/* Administrators only (error 50 otherwise). */
enum MHD_Result lg_sub_start_scan(struct lg_sub_ctx *c);
/* Public: runs without authentication. */
enum MHD_Result lg_sub_get_open_subsonic_extensions(struct lg_sub_ctx *c);

#endif
