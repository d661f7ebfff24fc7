/* SPDX-License-Identifier: MIT */
/*
 * Loads or creates DATA_DIR/secret.key; see keyfile.h. The key never goes to
 * the log; buffers that held it are wiped.
 */
#include "auth/keyfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/fs.h"
#include "core/log.h"

static const struct lg_log log_auth = { "auth" };

static int read_all(int fd, unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return LG_EINVAL; /* shrank since fstat */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Refuses what we would not have created: a key that others may read is no
 * longer secret, and a key of another size is not ours. */
static int check_file(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || st.st_size != LG_KEYFILE_LEN) {
        lg_log(&log_auth, LG_LOG_ERROR, "%s: not a regular file of exactly %d bytes; refusing it",
               path, LG_KEYFILE_LEN);
        return LG_EINVAL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        lg_log(&log_auth, LG_LOG_ERROR,
               "%s: group or others may access it (mode %03o); run chmod 600 on it", path,
               (unsigned)(st.st_mode & 0777));
        return LG_EINVAL;
    }
    return 0;
}

static int load(const char *path, unsigned char key[LG_KEYFILE_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unsigned char buf[LG_KEYFILE_LEN];
    int rc = check_file(fd, path);
    if (rc == 0)
        rc = read_all(fd, buf, sizeof buf);
    if (rc == 0)
        memcpy(key, buf, sizeof buf);
    sodium_memzero(buf, sizeof buf);
    close(fd);
    return rc;
}

/* Writes a new key under a temporary name (mkstemp creates it 0600) and links
 * it to path. Returns 1 when this call created path, 0 when link() found that
 * another process won the race (its key is then the one to use), or -errno. */
static int create(const char *dir, const char *path)
{
    char *tmp = lg_xasprintf("%s/.secret.key.XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = -errno;
        free(tmp);
        return rc;
    }
    unsigned char key[LG_KEYFILE_LEN];
    randombytes_buf(key, sizeof key);
    int rc = fchmod(fd, 0600) != 0 ? -errno : 0;
    if (rc == 0)
        rc = lg_write_all(fd, key, sizeof key);
    sodium_memzero(key, sizeof key);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0)
        rc = link(tmp, path) == 0 ? 1 : errno == EEXIST ? 0 : -errno;
    unlink(tmp);
    free(tmp);
    return rc;
}

/* Makes the new directory entry durable; failure only costs durability. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int lg_keyfile_load(const char *data_dir, unsigned char key[LG_KEYFILE_LEN])
{
    if (!data_dir || !*data_dir)
        return LG_EINVAL;
    int rc = lg_mkdir_p(data_dir, 0700);
    if (rc < 0) {
        lg_log(&log_auth, LG_LOG_ERROR, "%s: cannot create the data folder: %s", data_dir,
               lg_strerror(rc));
        return rc;
    }
    char *path = lg_xasprintf("%s/secret.key", data_dir);
    rc = load(path, key);
    if (rc == -ENOENT) {
        rc = create(data_dir, path);
        if (rc == 1) {
            sync_dir(data_dir);
            lg_log(&log_auth, LG_LOG_INFO, "%s: created a new secret key", path);
        }
        if (rc >= 0)
            rc = load(path, key);
    }
    if (rc < 0 && rc != LG_EINVAL)
        lg_log(&log_auth, LG_LOG_ERROR, "%s: %s", path, lg_strerror(rc));
    free(path);
    return rc;
}
