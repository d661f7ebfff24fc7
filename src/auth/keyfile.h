/* SPDX-License-Identifier: MIT */
/*
 * The server's secret key file, DATA_DIR/secret.key: 32 random bytes that seal
 * the reversible copy of each password (the Subsonic token scheme needs the
 * password itself). Private to src/auth; called once by lg_auth_new. The file
 * is created once and atomically: written and synced under a temporary name,
 * then hard-linked into place, so no reader ever sees it half-written and two
 * processes starting together agree on one key. It is created with mode 0600;
 * a file of the wrong size or that group or others may access is refused with
 * a logged explanation, never repaired.
 */
#ifndef LG_AUTH_KEYFILE_H
#define LG_AUTH_KEYFILE_H

#include "core/common.h"

#define LG_KEYFILE_LEN 32

/* Loads DATA_DIR/secret.key into key, creating data_dir (mode 0700, with its
 * parents) and the file when missing. Returns 0, LG_EINVAL for an empty
 * data_dir or a refused file, or -errno. key is written only on success. */
int lg_keyfile_load(const char *data_dir, unsigned char key[LG_KEYFILE_LEN]) LG_MUST_CHECK;

#endif
