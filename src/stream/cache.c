/* SPDX-License-Identifier: MIT */
/*
 * The on-disk transcode cache: finished transcodes kept as files in one
 * folder, each named by the BLAKE2b-128 hash of its key in hex plus ".bin",
 * and written under "NAME.tmp-XXXXXX" until committed (fsync, then rename, so
 * a name in the folder always holds a whole entry). The job scheduler writes
 * entries and the stream handlers read them, from many threads.
 *
 * Invariants, all under the one mutex: every entry of the folder is in the
 * map; finished entries are also on the LRU list, oldest first, ordered by
 * their stamps (strictly increasing nanoseconds of the real-time clock) and
 * counted in bytes/entries. Entries being written sit in the map only, which
 * is how one writer per key is enforced, and their files' sizes are counted
 * in writing: bytes + writing stays within max_bytes (a write that would
 * pass it evicts finished entries first, or fails). Each stamp is also
 * written as the file's modification time, so that opening the folder again
 * rebuilds the same order. The mutex covers map updates and the single
 * metadata calls that must agree with them (open, rename, unlink); data
 * writes and fsync run outside it. A reader's descriptor survives eviction
 * because eviction only unlinks.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <sodium.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/str.h"
#include "prof/prof.h"
#include "stream/stream.h"

static const struct lg_log log_cache = { "stream/cache" };

enum {
    ID_LEN = 16,                           /* BLAKE2b output bytes: a 128-bit name */
    NAME_LEN = 2 * ID_LEN + 4,             /* hex and ".bin" */
    TMP_RAND_LEN = 6,                      /* the XXXXXX of a temp name */
    TMP_LEN = NAME_LEN + 5 + TMP_RAND_LEN, /* NAME.tmp-XXXXXX */
    TMP_TRIES = 32,
    MIN_BUCKETS = 64,
};

enum entry_state { ENTRY_WRITING, ENTRY_DONE };

struct entry {
    unsigned char id[ID_LEN];
    enum entry_state state;
    int64_t size;
    int64_t stamp_ns;
    struct entry *hnext;         /* hash chain */
    struct entry *older, *newer; /* LRU list; finished entries only */
};

struct lg_cache {
    pthread_mutex_t mu;
    int dfd; /* the folder, flock()ed; -1 when the cache keeps nothing */
    int64_t max_bytes;
    /* Guarded by mu: */
    struct entry **buckets;
    size_t n_buckets; /* a power of two */
    size_t n_map;     /* entries in the map, those being written included */
    struct entry *oldest, *newest;
    int64_t last_stamp_ns;
    bool failing; /* a failure episode is going on: its warning is logged */
    size_t writers;
    int64_t writing; /* bytes in the files being written */
    /* Written under mu, read without it: */
    _Atomic int64_t bytes;
    _Atomic size_t entries;
};

struct lg_cache_writer {
    struct lg_cache *c;
    struct entry *e; /* in the map, ENTRY_WRITING, until commit or abort */
    int fd;
    int err;      /* the first error; every later call returns it */
    int64_t size; /* the end of the furthest write */
    char tmp[TMP_LEN + 1];
};

/* --- names and stamps --- */

static void key_id(const char *key, unsigned char id[ID_LEN])
{
    crypto_generichash(id, ID_LEN, (const unsigned char *)key, strlen(key), NULL, 0);
}

static void id_name(const unsigned char id[ID_LEN], char name[NAME_LEN + 1])
{
    lg_hex_encode(name, id, ID_LEN);
    memcpy(name + 2 * ID_LEN, ".bin", 5);
}

/* Parses an entry's file name: lowercase hex (as id_name writes it) and
 * ".bin". True and *id when it is one. */
static bool parse_name(const char *s, size_t len, unsigned char id[ID_LEN])
{
    if (len != NAME_LEN || memcmp(s + 2 * ID_LEN, ".bin", 4) != 0)
        return false;
    char hex[2 * ID_LEN + 1];
    memcpy(hex, s, 2 * ID_LEN);
    hex[2 * ID_LEN] = '\0';
    for (size_t i = 0; i < 2 * ID_LEN; i++) {
        if (hex[i] >= 'A' && hex[i] <= 'F')
            return false;
    }
    return lg_hex_decode(id, ID_LEN, hex) == ID_LEN;
}

/* True for a temp file this module makes: "NAME.tmp-" and six characters. */
static bool is_tmp_name(const char *s)
{
    unsigned char id[ID_LEN];
    return strlen(s) == TMP_LEN && parse_name(s, NAME_LEN, id) &&
           memcmp(s + NAME_LEN, ".tmp-", 5) == 0;
}

/* The next stamp: now, but always after every stamp given before (the clock
 * may step back, and two calls may read the same time). Under mu. */
static int64_t next_stamp(struct lg_cache *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (now <= c->last_stamp_ns)
        now = c->last_stamp_ns + 1;
    c->last_stamp_ns = now;
    return now;
}

/* Writes stamp as fd's modification time: the LRU order of the next start. A
 * failure only costs that order, so it is logged at debug level. */
static void set_mtime(int fd, int64_t stamp_ns)
{
    struct timespec ts[2] = {
        { .tv_sec = 0, .tv_nsec = UTIME_OMIT },
        { .tv_sec = stamp_ns / 1000000000, .tv_nsec = stamp_ns % 1000000000 },
    };
    if (futimens(fd, ts) != 0)
        lg_log(&log_cache, LG_LOG_DEBUG, "futimens: %s", strerror(errno));
}

/* --- the map and the LRU list (all under mu) --- */

static size_t bucket_of(const struct lg_cache *c, const unsigned char id[ID_LEN])
{
    uint64_t h;
    memcpy(&h, id, sizeof(h)); /* a hash already: any 8 bytes are uniform */
    return (size_t)(h & (c->n_buckets - 1));
}

static struct entry *map_find(const struct lg_cache *c, const unsigned char id[ID_LEN])
{
    struct entry *e = c->buckets[bucket_of(c, id)];
    while (e && memcmp(e->id, id, ID_LEN) != 0)
        e = e->hnext;
    return e;
}

static void map_grow(struct lg_cache *c)
{
    struct entry **old = c->buckets;
    size_t n_old = c->n_buckets;
    c->n_buckets = n_old * 2;
    c->buckets = lg_xcalloc(c->n_buckets, sizeof(*c->buckets));
    for (size_t i = 0; i < n_old; i++) {
        struct entry *e = old[i];
        while (e) {
            struct entry *next = e->hnext;
            size_t b = bucket_of(c, e->id);
            e->hnext = c->buckets[b];
            c->buckets[b] = e;
            e = next;
        }
    }
    free(old);
}

static void map_add(struct lg_cache *c, struct entry *e)
{
    if (c->n_map >= c->n_buckets)
        map_grow(c);
    size_t b = bucket_of(c, e->id);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    c->n_map++;
}

static void map_remove(struct lg_cache *c, struct entry *e)
{
    struct entry **p = &c->buckets[bucket_of(c, e->id)];
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    c->n_map--;
}

static void lru_unlink(struct lg_cache *c, struct entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    e->older = e->newer = NULL;
}

static void lru_push(struct lg_cache *c, struct entry *e)
{
    e->newer = NULL;
    e->older = c->newest;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
}

/* Adds a finished entry as the newest. */
static void done_add(struct lg_cache *c, struct entry *e)
{
    e->state = ENTRY_DONE;
    lru_push(c, e);
    atomic_fetch_add(&c->bytes, e->size);
    atomic_fetch_add(&c->entries, 1);
}

/* Forgets a finished entry (its file is the caller's business) and frees it. */
static void done_drop(struct lg_cache *c, struct entry *e)
{
    lru_unlink(c, e);
    map_remove(c, e);
    atomic_fetch_sub(&c->bytes, e->size);
    atomic_fetch_sub(&c->entries, 1);
    free(e);
}

/* Unlinks the oldest finished entries, never keep, until they and the files
 * being written are within max_bytes together. Under mu. A file that cannot
 * be unlinked is forgotten all the same (the loop must end); it is logged,
 * as the folder then holds more than it says. */
static void evict(struct lg_cache *c, const struct entry *keep)
{
    while (atomic_load(&c->bytes) + c->writing > c->max_bytes && c->oldest && c->oldest != keep) {
        struct entry *e = c->oldest;
        char name[NAME_LEN + 1];
        id_name(e->id, name);
        if (unlinkat(c->dfd, name, 0) != 0 && errno != ENOENT)
            lg_log(&log_cache, LG_LOG_WARN, "cannot remove %s: %s", name, strerror(errno));
        lg_log(&log_cache, LG_LOG_DEBUG, "evicted %s (%lld bytes)", name, (long long)e->size);
        done_drop(c, e);
    }
    lg_prof_gauge_set(LG_PROF_CACHE_SIZE, atomic_load(&c->bytes));
}

/* Starts a failure episode unless one is going on: one warning per episode,
 * however many writes and writers fail in it. */
static void note_failure(struct lg_cache *c, const char *what, int err)
{
    pthread_mutex_lock(&c->mu);
    bool first = !c->failing;
    c->failing = true;
    pthread_mutex_unlock(&c->mu);
    if (first) {
        lg_log(&log_cache, LG_LOG_WARN,
               "%s: %s; transcodes are not cached until writing works again", what,
               lg_strerror(err));
    }
}

/* --- opening --- */

/* Opens, locks and checks the folder: a descriptor, or -1 after one warning. */
static int open_dir(const char *dir)
{
    const char *what = "cannot create the folder";
    int rc = lg_mkdir_p(dir, 0700);
    int fd = -1;
    if (rc == 0) {
        what = "cannot open the folder";
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = fd < 0 ? -errno : 0;
    }
    if (rc == 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        what = "the folder is in use by another process";
        rc = -errno;
    }
    if (rc == 0 && faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
        what = "cannot write in the folder";
        rc = -errno;
    }
    if (rc == 0)
        return fd;
    lg_log(&log_cache, LG_LOG_WARN, "%s: %s (%s); transcodes are not cached", dir, what,
           lg_strerror(rc));
    if (fd >= 0)
        close(fd);
    return -1;
}

struct found {
    unsigned char id[ID_LEN];
    int64_t size;
    int64_t mtime_ns;
};

static int found_cmp(const void *a, const void *b)
{
    const struct found *x = a;
    const struct found *y = b;
    if (x->mtime_ns != y->mtime_ns)
        return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return memcmp(x->id, y->id, ID_LEN);
}

/* Lists the folder: removes temp files, collects entries into *out. */
static size_t scan_dir(struct lg_cache *c, struct found **out)
{
    struct found *v = NULL;
    size_t n = 0, cap = 0;
    int fd = fcntl(c->dfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        lg_log(&log_cache, LG_LOG_WARN, "cannot list the folder: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        *out = NULL;
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        unsigned char id[ID_LEN];
        if (is_tmp_name(de->d_name)) {
            if (unlinkat(c->dfd, de->d_name, 0) != 0 && errno != ENOENT)
                lg_log(&log_cache, LG_LOG_WARN, "cannot remove %s: %s", de->d_name,
                       strerror(errno));
            continue;
        }
        if (!parse_name(de->d_name, strlen(de->d_name), id) ||
            fstatat(c->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            v = lg_xrealloc(v, cap * sizeof(*v));
        }
        memcpy(v[n].id, id, ID_LEN);
        v[n].size = (int64_t)st.st_size;
        v[n].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        n++;
    }
    closedir(d);
    *out = v;
    return n;
}

/* Loads the entries found in the folder, oldest first, and evicts down to
 * max_bytes (the bound may have been lowered since they were written). */
static void load(struct lg_cache *c)
{
    struct found *v;
    size_t n = scan_dir(c, &v);
    if (n > 1)
        qsort(v, n, sizeof(*v), found_cmp);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        struct entry *e = lg_xcalloc(1, sizeof(*e));
        memcpy(e->id, v[i].id, ID_LEN);
        e->size = v[i].size;
        e->stamp_ns = v[i].mtime_ns;
        map_add(c, e);
        done_add(c, e);
        if (e->stamp_ns > c->last_stamp_ns)
            c->last_stamp_ns = e->stamp_ns;
    }
    evict(c, NULL);
    pthread_mutex_unlock(&c->mu);
    free(v);
}

int lg_cache_open(const char *dir, int64_t max_bytes, struct lg_cache **out)
{
    if (!dir || !*dir || max_bytes <= 0)
        return LG_EINVAL;
    if (sodium_init() < 0)
        return -EIO;
    struct lg_cache *c = lg_xcalloc(1, sizeof(*c));
    int rc = pthread_mutex_init(&c->mu, NULL);
    if (rc != 0) {
        free(c);
        return -rc;
    }
    c->max_bytes = max_bytes;
    c->n_buckets = MIN_BUCKETS;
    c->buckets = lg_xcalloc(c->n_buckets, sizeof(*c->buckets));
    c->dfd = open_dir(dir);
    if (c->dfd >= 0) {
        load(c);
        lg_log(&log_cache, LG_LOG_INFO, "%s: %zu entries, %lld of %lld bytes", dir,
               lg_cache_entries(c), (long long)lg_cache_bytes(c), (long long)max_bytes);
    }
    *out = c;
    return 0;
}

void lg_cache_close(struct lg_cache *c)
{
    if (!c)
        return;
    lg_assert(c->writers == 0);
    for (size_t i = 0; i < c->n_buckets; i++) {
        struct entry *e = c->buckets[i];
        while (e) {
            struct entry *next = e->hnext;
            free(e);
            e = next;
        }
    }
    free(c->buckets);
    if (c->dfd >= 0)
        close(c->dfd); /* releases the lock */
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* --- reading --- */

int lg_cache_get(struct lg_cache *c, const char *key, int *fd, int64_t *size)
{
    if (c->dfd < 0)
        return LG_ENOTFOUND;
    unsigned char id[ID_LEN];
    char name[NAME_LEN + 1];
    key_id(key, id);
    id_name(id, name);

    pthread_mutex_lock(&c->mu);
    struct entry *e = map_find(c, id);
    if (!e || e->state != ENTRY_DONE) {
        pthread_mutex_unlock(&c->mu);
        return LG_ENOTFOUND;
    }
    /* Opened under the lock: an eviction or a new commit of the same key
     * cannot come between the lookup and the open. */
    int f = openat(c->dfd, name, O_RDONLY | O_CLOEXEC);
    int rc = f < 0 ? -errno : 0;
    if (rc == -ENOENT) {
        done_drop(c, e); /* removed by someone else: forget it */
        lg_prof_gauge_set(LG_PROF_CACHE_SIZE, atomic_load(&c->bytes));
        rc = LG_ENOTFOUND;
    }
    int64_t stamp = 0;
    if (rc == 0) {
        stamp = next_stamp(c);
        e->stamp_ns = stamp;
        lru_unlink(c, e);
        lru_push(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        return rc;

    struct stat st;
    if (fstat(f, &st) != 0) {
        rc = -errno;
        close(f);
        return rc;
    }
    set_mtime(f, stamp);
    *fd = f;
    *size = (int64_t)st.st_size;
    return 0;
}

/* --- writing --- */

/* Creates the temp file of w (mkstemp's way, but relative to the folder's
 * descriptor and close-on-exec from the start). 0 or -errno. */
static int make_tmp(struct lg_cache_writer *w, const char *name)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < TMP_TRIES; i++) {
        char *p = w->tmp;
        memcpy(p, name, NAME_LEN);
        memcpy(p + NAME_LEN, ".tmp-", 5);
        for (size_t j = 0; j < TMP_RAND_LEN; j++)
            p[NAME_LEN + 5 + j] = chars[randombytes_uniform(sizeof(chars) - 1)];
        p[TMP_LEN] = '\0';
        w->fd = openat(w->c->dfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w->fd >= 0)
            return 0;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Takes e out of the map and frees it: the end of a writer that kept nothing. */
static void writing_drop(struct lg_cache *c, struct entry *e)
{
    pthread_mutex_lock(&c->mu);
    map_remove(c, e);
    c->writers--;
    pthread_mutex_unlock(&c->mu);
    free(e);
}

int lg_cache_begin(struct lg_cache *c, const char *key, struct lg_cache_writer **out)
{
    if (c->dfd < 0)
        return -EIO;
    struct entry *e = lg_xcalloc(1, sizeof(*e));
    key_id(key, e->id);
    e->state = ENTRY_WRITING;

    pthread_mutex_lock(&c->mu);
    bool taken = map_find(c, e->id) != NULL;
    if (!taken) {
        map_add(c, e);
        c->writers++;
    }
    pthread_mutex_unlock(&c->mu);
    if (taken) {
        free(e);
        return LG_EEXIST;
    }

    struct lg_cache_writer *w = lg_xcalloc(1, sizeof(*w));
    w->c = c;
    w->e = e;
    char name[NAME_LEN + 1];
    id_name(e->id, name);
    int rc = make_tmp(w, name);
    if (rc < 0) {
        note_failure(c, "cannot create a temp file", rc);
        writing_drop(c, e);
        free(w);
        return -EIO;
    }
    *out = w;
    return 0;
}

/* Counts the bytes w's file grows by, evicting finished entries to make
 * room: files being written count against max_bytes too, so that many
 * transcodes at once cannot take the folder past it. LG_ETOOBIG when even an
 * empty cache of finished entries leaves no room. */
static int reserve(struct lg_cache_writer *w, int64_t grow)
{
    struct lg_cache *c = w->c;
    pthread_mutex_lock(&c->mu);
    c->writing += grow;
    evict(c, NULL);
    bool room = atomic_load(&c->bytes) + c->writing <= c->max_bytes;
    if (!room)
        c->writing -= grow;
    pthread_mutex_unlock(&c->mu);
    return room ? 0 : LG_ETOOBIG;
}

/* Gives back what w's file counted while it was written. */
static void unreserve(struct lg_cache_writer *w)
{
    pthread_mutex_lock(&w->c->mu);
    w->c->writing -= w->size;
    pthread_mutex_unlock(&w->c->mu);
}

int lg_cache_write(struct lg_cache_writer *w, int64_t off, const void *p, size_t n)
{
    if (w->err)
        return w->err;
    if (off < 0)
        return LG_EINVAL;
    /* Compared without adding, so that the sum cannot overflow. */
    if (n > (uint64_t)w->c->max_bytes || off > w->c->max_bytes - (int64_t)n) {
        w->err = LG_ETOOBIG;
        return w->err;
    }
    int64_t end = off + (int64_t)n;
    if (end > w->size) {
        int rc = reserve(w, end - w->size);
        if (rc < 0) {
            w->err = rc;
            return rc;
        }
        w->size = end; /* counted from here on, written or not */
    }
    int rc = lg_pwrite_all(w->fd, off, p, n);
    if (rc < 0) {
        w->err = rc;
        note_failure(w->c, "cannot write a cache entry", rc);
        return rc;
    }
    return 0;
}

/* Closes and unlinks the temp file, forgets the entry, frees w. */
static void discard(struct lg_cache_writer *w)
{
    unreserve(w);
    close(w->fd);
    if (unlinkat(w->c->dfd, w->tmp, 0) != 0 && errno != ENOENT)
        lg_log(&log_cache, LG_LOG_WARN, "cannot remove %s: %s", w->tmp, strerror(errno));
    writing_drop(w->c, w->e);
    free(w);
}

/* Renames w's file into place and accounts it, under the lock. 0 or -errno
 * of rename; *stamp, *recovered (the end of a failure episode). */
static int publish(struct lg_cache_writer *w, int64_t *stamp, bool *recovered)
{
    struct lg_cache *c = w->c;
    struct entry *e = w->e;
    char name[NAME_LEN + 1];
    id_name(e->id, name);
    pthread_mutex_lock(&c->mu);
    if (renameat(c->dfd, w->tmp, c->dfd, name) != 0) {
        int rc = -errno;
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    e->size = w->size;
    e->stamp_ns = next_stamp(c);
    c->writing -= w->size; /* now counted as a finished entry */
    done_add(c, e);
    c->writers--;
    evict(c, e);
    *stamp = e->stamp_ns;
    *recovered = c->failing;
    c->failing = false;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int lg_cache_commit(struct lg_cache_writer *w)
{
    int rc = w->err;
    if (rc == 0 && w->size > w->c->max_bytes)
        rc = LG_ETOOBIG; /* unreachable through lg_cache_write's check; kept cheap */
    if (rc == 0 && fsync(w->fd) != 0) {
        rc = -errno;
        note_failure(w->c, "cannot sync a cache entry", rc);
    }
    int64_t stamp = 0;
    bool recovered = false;
    if (rc == 0) {
        rc = publish(w, &stamp, &recovered);
        if (rc < 0)
            note_failure(w->c, "cannot rename a cache entry", rc);
    }
    if (rc < 0) {
        discard(w);
        return rc;
    }
    set_mtime(w->fd, stamp);
    close(w->fd);
    if (recovered)
        lg_log(&log_cache, LG_LOG_INFO, "cache entries are written again");
    lg_log(&log_cache, LG_LOG_DEBUG, "stored %.*s (%lld bytes)", NAME_LEN, w->tmp,
           (long long)w->size);
    free(w);
    return 0;
}

void lg_cache_abort(struct lg_cache_writer *w)
{
    if (w)
        discard(w);
}

int64_t lg_cache_bytes(const struct lg_cache *c)
{
    return atomic_load(&c->bytes);
}

size_t lg_cache_entries(const struct lg_cache *c)
{
    return atomic_load(&c->entries);
}
