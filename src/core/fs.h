/* SPDX-License-Identifier: MIT */
/*
 * File helpers: whole writes that survive short writes and EINTR, and
 * creating a folder with its parents. Thread-safe.
 */
#ifndef LG_CORE_FS_H
#define LG_CORE_FS_H

#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

/* Writes all len bytes of data to fd (at offset off for lg_pwrite_all),
 * retrying short writes and EINTR. 0, -errno, or -EIO when the file takes
 * nothing more. */
int lg_write_all(int fd, const void *data, size_t len) LG_MUST_CHECK;
int lg_pwrite_all(int fd, int64_t off, const void *data, size_t len) LG_MUST_CHECK;

/* Creates dir and the parents it lacks, like mkdir -p, with mode for the
 * folders it creates. 0 (also when all exist) or -errno. */
int lg_mkdir_p(const char *dir, unsigned mode) LG_MUST_CHECK;
/* lg_mkdir_p for the folder that holds path (nothing when path has no
 * '/'). */
int lg_mkdir_parent(const char *path, unsigned mode) LG_MUST_CHECK;

#endif
