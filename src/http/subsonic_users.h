/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http/: the Subsonic user management methods: getUser,
 * getUsers, createUser, updateUser, deleteUser and changePassword. Who may do
 * what is decided by lg_auth_user_may (auth/); passwords are hashed by auth/.
 * Error codes: 10 for a missing parameter, 0 for a bad value (naming the
 * parameter), 50 when not allowed, 70 for an unknown user.
 */
#ifndef LG_HTTP_SUBSONIC_USERS_H
#define LG_HTTP_SUBSONIC_USERS_H

#include "http/subsonic_api.h"

enum MHD_Result lg_sub_get_user(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_get_users(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_create_user(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_update_user(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_delete_user(struct lg_sub_ctx *c);
enum MHD_Result lg_sub_change_password(struct lg_sub_ctx *c);

/* Parses a Subsonic boolean parameter: "true"/"false" in any case, or
 * "1"/"0". Returns 0 or LG_EPARSE. Pure. */
int lg_sub_bool_parse(const char *s, bool *out) LG_MUST_CHECK;
/* Decodes a password parameter, plain or "enc:" + hex, into buf (cap bytes,
 * NUL-terminated). Returns 0; LG_EPARSE for bad hex, an empty result or one
 * holding NUL; LG_ETOOBIG when it does not fit. Pure. */
int lg_sub_password_decode(const char *p, char *buf, size_t cap) LG_MUST_CHECK;

#endif
