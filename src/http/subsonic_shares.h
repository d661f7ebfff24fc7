/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: the Subsonic share methods. createShare makes a
 * public link (PUBLIC/share/TOKEN, served by share_page.c) to songs ("N"),
 * albums ("al-N") and playlists ("pl-N", ones the caller may see), with a
 * description, an expiry (expires, ms since 1970) and, as legato's
 * extension, download=true|false (default false; true needs the download
 * role) saying whether visitors may download the files. getShares lists the
 * caller's own shares (administrators included, as Navidrome does);
 * updateShare changes description and expiry (expires=0: never);
 * deleteShare removes one. Every method needs the share role (error 50);
 * only the owner or an administrator may change or delete a share (50), and
 * an unknown share id is error 70. Share ids are decimal numbers.
 */
#ifndef LG_HTTP_SUBSONIC_SHARES_H
#define LG_HTTP_SUBSONIC_SHARES_H

#include "http/subsonic_api.h"

enum MHD_Result lg_sub_create_share(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_get_shares(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_update_share(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_delete_share(struct lg_sub_ctx *c);

#endif
