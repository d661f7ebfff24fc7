/* SPDX-License-Identifier: MIT */
/*
 * The library scan, in three phases. (1) The files the store knows are loaded
 * into a hash table keyed by relative path. (2) The music folder is walked
 * (directories opened with openat; symbolic links to directories followed
 * after the real tree, so a folder reachable both ways keeps its real path;
 * each directory entered once by device and inode, so loops end, and entries
 * sorted, so new tracks get ids in folder order); a file whose size and mtime
 * match the store is marked seen and costs nothing more, any other audio file
 * becomes a job. (3) Worker threads probe the jobs while the scanning thread,
 * the only one that writes to SQLite, consumes the results in job order and
 * upserts them, committing every BATCH_TRACKS. Known files not seen are then
 * deleted, unless they sit below a directory that could not be read (a
 * transient error must not empty the catalogue), and the store is pruned.
 *
 * A probe that fails is logged and counted, and the track (if known) stays as
 * it was; the next scan tries again because its size or mtime still differs.
 */
#include "library/library.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <strings.h>

#include "core/log.h"
#include "core/str.h"
#include "dsp/dsp.h"
#include "media/media.h"
#include "store/store.h"

#define BATCH_TRACKS  500  /* upserts or deletes per transaction, at most ... */
#define BATCH_SECONDS 0.2  /* ... and seconds a transaction stays open, at most */
#define PROBE_WINDOW  1024 /* how far probing may run ahead of the writer */
#define MAX_DEPTH     64   /* directory nesting followed */
#define MAX_REL_PATH  4000 /* bytes of a relative path */
#define WALK_PROGRESS 1000 /* files between progress calls while walking */
#define JOB_PROGRESS  100  /* jobs between progress calls while probing */

static const struct lg_log scan_log = { "library/scan" };

/* --- known files: an open-addressing hash table keyed by path --- */

struct known {
    char *path; /* NULL = empty slot */
    uint64_t hash;
    int64_t id;
    int64_t size;
    int64_t mtime_ns;
    int64_t ctime_ns;  /* 0: not known (a row from before the column) */
    char *cover;       /* sidecar cover as stored, "" for none */
    char *new_cover;   /* sidecar cover found now when it differs, else NULL */
    int64_t new_ctime; /* the file's ctime to record, when ctime_ns is 0 */
    bool seen;
};

struct known_table {
    struct known *slots;
    size_t cap; /* a power of two */
    size_t n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct known *known_slot(struct known_table *t, const char *path, uint64_t h)
{
    size_t i = (size_t)h & (t->cap - 1);
    while (t->slots[i].path && (t->slots[i].hash != h || strcmp(t->slots[i].path, path) != 0))
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

static void known_grow(struct known_table *t)
{
    struct known_table g = { lg_xcalloc(t->cap ? t->cap * 2 : 1024, sizeof(struct known)),
                             t->cap ? t->cap * 2 : 1024, t->n };
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].path)
            *known_slot(&g, t->slots[i].path, t->slots[i].hash) = t->slots[i];
    }
    free(t->slots);
    *t = g;
}

static void known_slot_free(struct known *k)
{
    free(k->path);
    free(k->cover);
    free(k->new_cover);
}

static int known_add(void *ud, int64_t id, const char *path, int64_t size, int64_t mtime_ns,
                     int64_t ctime_ns, const char *cover)
{
    struct known_table *t = ud;
    if (2 * (t->n + 1) > t->cap)
        known_grow(t);
    uint64_t h = hash_str(path);
    struct known *k = known_slot(t, path, h);
    if (!k->path)
        t->n++;
    else
        known_slot_free(k);
    *k = (struct known){ .path = lg_xstrdup(path),
                         .hash = h,
                         .id = id,
                         .size = size,
                         .mtime_ns = mtime_ns,
                         .ctime_ns = ctime_ns,
                         .cover = lg_xstrdup(cover) };
    return 0;
}

static struct known *known_find(struct known_table *t, const char *path)
{
    if (!t->cap)
        return NULL;
    struct known *k = known_slot(t, path, hash_str(path));
    return k->path ? k : NULL;
}

static void known_free(struct known_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        known_slot_free(&t->slots[i]);
    free(t->slots);
}

/* --- directories already entered, by device and inode --- */

struct dir_set {
    uint64_t *keys; /* pairs (dev, ino); dev == ino == 0 never occurs in practice */
    size_t cap;     /* pairs; a power of two */
    size_t n;
};

static size_t dir_slot(const struct dir_set *d, uint64_t dev, uint64_t ino)
{
    size_t i = (size_t)((ino * 0x9e3779b97f4a7c15ull) ^ dev) & (d->cap - 1);
    while ((d->keys[2 * i] || d->keys[2 * i + 1]) &&
           (d->keys[2 * i] != dev || d->keys[2 * i + 1] != ino))
        i = (i + 1) & (d->cap - 1);
    return i;
}

/* Adds (dev, ino); returns false when it was there already. */
static bool dir_set_add(struct dir_set *d, uint64_t dev, uint64_t ino)
{
    if (2 * (d->n + 1) > d->cap) {
        struct dir_set g = { lg_xcalloc(d->cap ? d->cap * 4 : 256, sizeof(uint64_t)),
                             d->cap ? d->cap * 2 : 128, d->n };
        for (size_t i = 0; i < d->cap; i++) {
            if (d->keys[2 * i] || d->keys[2 * i + 1]) {
                size_t j = dir_slot(&g, d->keys[2 * i], d->keys[2 * i + 1]);
                g.keys[2 * j] = d->keys[2 * i];
                g.keys[2 * j + 1] = d->keys[2 * i + 1];
            }
        }
        free(d->keys);
        *d = g;
    }
    size_t i = dir_slot(d, dev, ino);
    if (d->keys[2 * i] || d->keys[2 * i + 1])
        return false;
    d->keys[2 * i] = dev;
    d->keys[2 * i + 1] = ino;
    d->n++;
    return true;
}

/* --- the scan --- */

/* A file to probe; the result fields are written by one worker, then read by
 * the scanning thread after it sees done under the lock. */
struct job {
    char *rel;   /* relative path */
    char *cover; /* sidecar cover, relative, or NULL */
    int64_t id;  /* known track id, 0 when new */
    int64_t size;
    int64_t mtime_ns, ctime_ns;
    bool done;
    int status; /* 0 or the probe's error */
    struct lg_media_info mi;
    char err[160];
};

/* A symbolic link to a directory, entered after the real tree so that a
 * directory reachable both ways is listed under its real path. */
struct deferred {
    char *rel;
    int depth;
};

struct scan {
    struct lg_store *store;
    const char *root;
    lg_scan_progress_fn *progress;
    void *ud;
    atomic_bool *cancel; /* may be NULL */
    struct known_table known;
    struct known **by_path; /* known tracks sorted by path, made by keep_known */
    struct dir_set dirs;
    struct deferred *deferred; /* links to directories, walked last */
    size_t n_deferred;
    size_t cap_deferred;
    struct job *jobs;
    size_t n_jobs;
    size_t cap_jobs;
    struct lg_scan_stats stats;
    /* Work distribution, guarded by lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond_done; /* a job finished */
    pthread_cond_t cond_room; /* the writer consumed a job, or stop */
    size_t next_job;
    size_t consumed;
    bool stop;
};

static bool cancelled(const struct scan *sc)
{
    return sc->cancel && atomic_load(sc->cancel);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(struct scan *sc, int64_t done, int64_t total)
{
    if (sc->progress)
        sc->progress(sc->ud, done, total);
}

/* A growable relative path: "" at the root, "a/b" below it. */
struct relpath {
    char buf[MAX_REL_PATH + 1];
    size_t len;
};

/* Appends "/name" (or "name" at the root); returns the old length to restore,
 * or -1 when the path would be too long. */
static long relpath_push(struct relpath *p, const char *name)
{
    size_t n = strlen(name);
    if (p->len + n + 1 > MAX_REL_PATH)
        return -1;
    size_t old = p->len;
    if (p->len)
        p->buf[p->len++] = '/';
    memcpy(p->buf + p->len, name, n + 1);
    p->len += n;
    return (long)old;
}

static void relpath_pop(struct relpath *p, long old)
{
    p->len = (size_t)old;
    p->buf[p->len] = '\0';
}

static void warn_file(struct scan *sc, const char *rel, const char *reason)
{
    lg_log(&scan_log, LG_LOG_WARN, "skipping %s: %s", rel, reason);
    sc->stats.failed++;
}

/* Known files at rel or below it count as seen: rel could not be read (a
 * directory or file the scan may not enter, a link whose target is missing,
 * such as an unmounted disk), the files may be back next time, and deleting
 * them would lose their ids and with them playlists, stars and shares.
 * Returns how many there are. */
static int known_cmp(const void *a, const void *b)
{
    return strcmp((*(struct known *const *)a)->path, (*(struct known *const *)b)->path);
}

static size_t keep_known(struct scan *sc, const char *rel)
{
    size_t n = strlen(rel), kept = 0, count = sc->known.n;
    if (!sc->by_path && count > 0) {
        /* Sorted once, so that each failing entry (thousands of links to
         * a disk not mounted) costs a search, not a pass over the library. */
        sc->by_path = lg_xmalloc(count * sizeof(*sc->by_path));
        size_t m = 0;
        for (size_t i = 0; i < sc->known.cap; i++)
            if (sc->known.slots[i].path)
                sc->by_path[m++] = &sc->known.slots[i];
        qsort(sc->by_path, m, sizeof(*sc->by_path), known_cmp);
    }
    /* rel itself, then the paths under rel/: a run in sorted order that
     * starts at the first path not below rel. */
    struct known *k = n ? known_find(&sc->known, rel) : NULL;
    if (k) {
        k->seen = true;
        kept++;
    }
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(sc->by_path[mid]->path, rel, n);
        if (c < 0 || (c == 0 && n > 0 && (unsigned char)sc->by_path[mid]->path[n] < '/'))
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < count; i++) {
        k = sc->by_path[i];
        if (strncmp(k->path, rel, n) != 0 || (n > 0 && k->path[n] != '/'))
            break;
        k->seen = true;
        kept++;
    }
    return kept;
}

static void mark_unreadable(struct scan *sc, const char *rel, int err)
{
    lg_log(&scan_log, LG_LOG_WARN, "cannot read directory %s: %s", *rel ? rel : ".",
           lg_strerror(-err));
    keep_known(sc, rel);
}

static int64_t mtime_ns_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int64_t ctime_ns_of(const struct stat *st)
{
    return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static void add_job(struct scan *sc, const char *rel, const char *cover, const struct known *k,
                    const struct stat *st)
{
    if (sc->n_jobs == sc->cap_jobs) {
        sc->cap_jobs = sc->cap_jobs ? sc->cap_jobs * 2 : 256;
        sc->jobs = lg_xrealloc(sc->jobs, sc->cap_jobs * sizeof(*sc->jobs));
    }
    struct job *j = &sc->jobs[sc->n_jobs++];
    *j = (struct job){ 0 };
    j->rel = lg_xstrdup(rel);
    j->cover = cover ? lg_xstrdup(cover) : NULL;
    j->id = k ? k->id : 0;
    j->size = st->st_size;
    j->mtime_ns = mtime_ns_of(st);
    j->ctime_ns = ctime_ns_of(st);
}

/* One audio file found by the walk. */
static void visit_file(struct scan *sc, const char *rel, const char *cover, const struct stat *st)
{
    sc->stats.files++;
    if (sc->stats.files % WALK_PROGRESS == 0)
        report(sc, sc->stats.files, 0);
    struct known *k = known_find(&sc->known, rel);
    if (k) {
        k->seen = true;
        /* Unchanged: the same size and times. The status change time
         * catches a retag that kept the modification time (a tagger's
         * option); a row from before it was recorded has it filled in. */
        int64_t ctime = ctime_ns_of(st);
        if (k->size == st->st_size && k->mtime_ns == mtime_ns_of(st) &&
            (k->ctime_ns == ctime || k->ctime_ns == 0))
        {
            /* A cover image added or removed beside an unchanged file. */
            if (strcmp(k->cover, cover ? cover : "") != 0)
                k->new_cover = lg_xstrdup(cover ? cover : "");
            if (k->ctime_ns == 0)
                k->new_ctime = ctime;
            sc->stats.unchanged++;
            return;
        }
    }
    if (st->st_size == 0) {
        warn_file(sc, rel, "empty file");
        return;
    }
    add_job(sc, rel, cover, k, st);
}

struct entry {
    char *name;
    unsigned char type; /* DT_* from readdir */
};

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Reads the visible entries of d, sorted by name so that new tracks are
 * added (and get their ids) in a stable order. Returns 0, or -errno when
 * reading stopped early (the entries read so far are still listed). */
static int list_dir(DIR *d, struct entry **out, size_t *n_out)
{
    struct entry *v = NULL;
    size_t n = 0;
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            rc = -errno;
            break;
        }
        if (de->d_name[0] == '.')
            continue; /* hidden, "." and ".." */
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            v = lg_xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = (struct entry){ lg_xstrdup(de->d_name), de->d_type };
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), entry_cmp);
    *out = v;
    *n_out = n;
    return rc;
}

/* Whether name in dfd is an image file: a regular file (links followed)
 * whose first bytes are an image's. A folder, a FIFO, an empty file, a
 * dangling link or a link to something else named cover.jpg is no cover:
 * the server would hand its bytes to whoever asks for the cover. */
static bool image_file(int dfd, const char *name)
{
    struct stat st;
    if (fstatat(dfd, name, &st, 0) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return false; /* checked before opening: no device behind a link is opened */
    int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return false;
    unsigned char head[16];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    ssize_t got = ok ? pread(fd, head, sizeof(head), 0) : -1;
    close(fd);
    return got > 0 && lg_image_sniff(head, (size_t)got) != NULL;
}

/* The sidecar cover among a directory's entries: cover, folder, front (in
 * that order), each .jpg, .jpeg or .png, in any case, and an image file
 * (image_file). NULL when none. */
static const char *find_cover(int dfd, const struct entry *v, size_t n)
{
    static const char *const stems[] = { "cover", "folder", "front" };
    static const char *const exts[] = { "jpg", "jpeg", "png" };
    for (size_t s = 0; s < LG_ARRAY_LEN(stems); s++) {
        size_t sl = strlen(stems[s]);
        for (size_t i = 0; i < n; i++) {
            const char *name = v[i].name;
            if (strncasecmp(name, stems[s], sl) != 0 || name[sl] != '.')
                continue;
            for (size_t e = 0; e < LG_ARRAY_LEN(exts); e++) {
                if (lg_str_casecmp(name + sl + 1, exts[e]) == 0 && image_file(dfd, name))
                    return name;
            }
        }
    }
    return NULL;
}

static void walk_dir(struct scan *sc, int dfd, struct relpath *rel, int depth);

/* Enters the subdirectory name of dfd unless it was entered before. */
static void walk_subdir(struct scan *sc, int dfd, const char *name, struct relpath *rel, int depth)
{
    int cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (cfd < 0 || fstat(cfd, &st) != 0) {
        mark_unreadable(sc, rel->buf, errno);
        if (cfd >= 0)
            close(cfd);
        return;
    }
    if (!dir_set_add(&sc->dirs, (uint64_t)st.st_dev, (uint64_t)st.st_ino)) {
        lg_log(&scan_log, LG_LOG_DEBUG, "%s: directory seen before (link loop?)", rel->buf);
        close(cfd);
        return;
    }
    if (depth >= MAX_DEPTH) {
        lg_log(&scan_log, LG_LOG_WARN, "%s: nested too deep, not scanned", rel->buf);
        close(cfd);
        return;
    }
    walk_dir(sc, cfd, rel, depth + 1);
}

static void defer_dir(struct scan *sc, const char *rel, int depth)
{
    if (sc->n_deferred == sc->cap_deferred) {
        sc->cap_deferred = sc->cap_deferred ? sc->cap_deferred * 2 : 16;
        sc->deferred = lg_xrealloc(sc->deferred, sc->cap_deferred * sizeof(*sc->deferred));
    }
    sc->deferred[sc->n_deferred++] = (struct deferred){ lg_xstrdup(rel), depth };
}

/* Handles one directory entry; rel already names it. */
static void walk_entry(struct scan *sc, int dfd, const struct entry *e, const char *cover,
                       struct relpath *rel, int depth)
{
    bool maybe_audio = lg_media_is_audio_name(e->name);
    if (e->type != DT_DIR && e->type != DT_LNK && e->type != DT_UNKNOWN && !maybe_audio)
        return;
    struct stat st;
    if (e->type != DT_DIR && fstatat(dfd, e->name, &st, 0) != 0) {
        int err = errno;
        if (err == ENOENT && fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return; /* gone since the directory was listed */
        /* Logged when it could be music: an audio name, or known tracks. */
        if (keep_known(sc, rel->buf) > 0 || maybe_audio)
            warn_file(sc, rel->buf,
                      err == ENOENT ? "link to a missing file or folder" : lg_strerror(-err));
        return;
    }
    if (e->type == DT_LNK && S_ISDIR(st.st_mode)) {
        defer_dir(sc, rel->buf, depth);
    } else if (e->type == DT_DIR || S_ISDIR(st.st_mode)) {
        walk_subdir(sc, dfd, e->name, rel, depth);
    } else if (S_ISREG(st.st_mode) && maybe_audio) {
        visit_file(sc, rel->buf, cover, &st);
    }
}

static void walk_named(struct scan *sc, int dfd, const struct entry *e, const char *cover,
                       struct relpath *rel, int depth)
{
    long old = relpath_push(rel, e->name);
    if (old < 0) {
        lg_log(&scan_log, LG_LOG_WARN, "%s/%s: path too long, skipped", rel->buf, e->name);
        return;
    }
    walk_entry(sc, dfd, e, cover, rel, depth);
    relpath_pop(rel, old);
}

/* Walks the directory open as dfd (taking ownership of it), whose relative
 * path is rel. */
static void walk_dir(struct scan *sc, int dfd, struct relpath *rel, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        mark_unreadable(sc, rel->buf, errno);
        close(dfd);
        return;
    }
    struct entry *v = NULL;
    size_t n = 0;
    int rc = list_dir(d, &v, &n);
    if (rc < 0)
        mark_unreadable(sc, rel->buf, -rc);
    const char *cover_name = find_cover(dfd, v, n);
    char *cover = NULL;
    if (cover_name)
        cover = *rel->buf ? lg_xasprintf("%s/%s", rel->buf, cover_name) : lg_xstrdup(cover_name);
    for (size_t i = 0; i < n; i++) {
        if (!cancelled(sc))
            walk_named(sc, dfd, &v[i], cover, rel, depth);
        free(v[i].name);
    }
    free(cover);
    free(v);
    closedir(d); /* closes dfd */
}

/* Walks the linked directories found so far (and those they contain). */
static void walk_deferred(struct scan *sc, int root_fd, struct relpath *rel)
{
    /* The walk may defer more (and move the array): copy before walking. */
    for (size_t i = 0; i < sc->n_deferred; i++) {
        char *drel = sc->deferred[i].rel;
        int depth = sc->deferred[i].depth;
        if (!cancelled(sc)) {
            rel->len = strlen(drel);
            memcpy(rel->buf, drel, rel->len + 1);
            walk_subdir(sc, root_fd, drel, rel, depth);
        }
        free(drel);
    }
    free(sc->deferred);
    sc->deferred = NULL;
    sc->n_deferred = sc->cap_deferred = 0;
}

static int walk_root(struct scan *sc)
{
    int fd = open(sc->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    int walk_fd = -1;
    if (fd >= 0 && fstat(fd, &st) == 0)
        walk_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* walk_dir takes ownership */
    if (walk_fd < 0) {
        int e = errno;
        lg_log(&scan_log, LG_LOG_ERROR, "cannot open music folder %s: %s", sc->root,
               lg_strerror(-e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    dir_set_add(&sc->dirs, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    struct relpath *rel = lg_xcalloc(1, sizeof(*rel));
    walk_dir(sc, walk_fd, rel, 0);
    walk_deferred(sc, fd, rel);
    free(rel);
    close(fd);
    return 0;
}

/* --- probing on worker threads --- */

static void *worker_main(void *arg)
{
    struct scan *sc = arg;
    for (;;) {
        pthread_mutex_lock(&sc->lock);
        while (!sc->stop && sc->next_job < sc->n_jobs &&
               sc->next_job >= sc->consumed + PROBE_WINDOW)
            pthread_cond_wait(&sc->cond_room, &sc->lock);
        if (sc->stop || sc->next_job >= sc->n_jobs) {
            pthread_mutex_unlock(&sc->lock);
            return NULL;
        }
        struct job *j = &sc->jobs[sc->next_job++];
        pthread_mutex_unlock(&sc->lock);

        char *path = lg_xasprintf("%s/%s", sc->root, j->rel);
        j->status = lg_media_probe(path, &j->mi, j->err, sizeof(j->err));
        free(path);

        pthread_mutex_lock(&sc->lock);
        j->done = true;
        pthread_cond_broadcast(&sc->cond_done);
        pthread_mutex_unlock(&sc->lock);
    }
}

/* The title of an untagged file: its name without directory and suffix, as
 * UTF-8 text (a name in another encoding, say Latin-1 from an old disk, has
 * its stray bytes as U+FFFD; the path itself is kept as it is, byte for
 * byte, and clients get it cleaned the same way). */
static char *title_from_path(const char *rel)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return lg_utf8_sanitize(base, n);
}

/* The lowercase suffix of a file name, into out. */
static void suffix_of(const char *rel, char *out, size_t cap)
{
    const char *dot = strrchr(rel, '.');
    size_t n = 0;
    for (const char *p = dot ? dot + 1 : ""; *p && n + 1 < cap; p++)
        out[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
    out[n] = '\0';
}

static int store_job(struct scan *sc, struct job *j)
{
    const struct lg_media_info *mi = &j->mi;
    char suffix[16];
    suffix_of(j->rel, suffix, sizeof(suffix));
    char *title = *mi->title ? NULL : title_from_path(j->rel);
    struct lg_track t = {
        .path = j->rel,
        .size = j->size,
        .mtime_ns = j->mtime_ns,
        .ctime_ns = j->ctime_ns,
        .title = title ? title : mi->title,
        .artist = mi->artist,
        .album_artist = mi->album_artist,
        .album = mi->album,
        .genre = mi->genre,
        .composer = mi->composer,
        .track_no = mi->track_no,
        .disc_no = mi->disc_no,
        .year = mi->year,
        .compilation = mi->compilation,
        .duration_ms = mi->duration_ms,
        .bitrate_kbps = mi->bitrate_kbps,
        .sample_rate = mi->sample_rate,
        .channels = mi->channels,
        .bits_per_sample = mi->bits_per_sample,
        .codec = (char *)mi->codec,
        .suffix = suffix,
        .content_type = (char *)lg_media_content_type_of(suffix, mi->codec, mi->container),
        .mb_track_id = mi->mb_track_id,
        .mb_album_id = mi->mb_album_id,
        .mb_artist_id = mi->mb_artist_id,
        .mb_album_artist_id = mi->mb_album_artist_id,
        .has_picture = mi->has_picture,
        .cover_path = j->cover ? j->cover : (char *)"",
    };
    int r = lg_store_track_upsert(sc->store, &t, NULL);
    free(title);
    return r;
}

/* --- writing: transactions of BATCH_TRACKS writes or BATCH_SECONDS --- */

/* The write lock is the database's: a transaction held while slow probes
 * trickle in (a NAS, a spinning disk) would hold up every other writer (a
 * star, a scrobble, a playlist saved) and could outlast their busy
 * timeout; a writer that commits and at once begins again lets none of
 * them in. So the scan writes probe results in bursts (next_job), and a
 * transaction ends when the next result is not ready, after BATCH_SECONDS,
 * or after BATCH_TRACKS writes. */
struct batch {
    struct lg_store *store;
    int n;
    bool open;
    double opened_s;
};

/* Makes room for one more write in the current transaction. */
static int batch_step(struct batch *b)
{
    bool held_long = b->open && now_s() - b->opened_s > BATCH_SECONDS;
    if (b->open && (b->n >= BATCH_TRACKS || held_long)) {
        b->open = false;
        int r = lg_store_commit(b->store);
        if (r < 0)
            return r;
        /* After holding the lock a while, a pause before the next BEGIN: a
         * writer waiting for it (the store's busy handler retries every
         * millisecond) gets in. */
        if (held_long)
            nanosleep(&(struct timespec){ 0, 5 * 1000000L }, NULL);
    }
    if (!b->open) {
        int r = lg_store_begin(b->store);
        if (r < 0)
            return r;
        b->open = true;
        b->n = 0;
        b->opened_s = now_s();
    }
    b->n++;
    return 0;
}

static int batch_end(struct batch *b, int r)
{
    if (!b->open)
        return r;
    b->open = false;
    if (r < 0) {
        lg_store_rollback(b->store);
        return r;
    }
    return lg_store_commit(b->store);
}

/* Probe results written in one go, at most, and how long the writer waits
 * for that many before it writes what is there (see struct batch). */
#define BURST      256
#define BURST_WAIT 1.0 /* seconds */

/* Marks job i consumed and waits for job i (when there is one). With a
 * transaction open the writer takes only results that are ready: when job
 * i is not, the transaction ends first. Without one, it waits until the
 * next BURST jobs are done (or BURST_WAIT has passed with job i done), so
 * that the write lock is held while results are written, not while files
 * are probed. 0 or the commit's error. */
static int next_job(struct scan *sc, size_t i, struct batch *b)
{
    int r = 0;
    pthread_mutex_lock(&sc->lock);
    sc->consumed = i;
    pthread_cond_broadcast(&sc->cond_room);
    if (i < sc->n_jobs && !sc->jobs[i].done && b->open) {
        pthread_mutex_unlock(&sc->lock);
        r = batch_end(b, 0);
        pthread_mutex_lock(&sc->lock);
    }
    size_t want = sc->n_jobs - i < BURST ? sc->n_jobs : i + BURST;
    double deadline = now_s() + BURST_WAIT;
    while (r == 0 && i < sc->n_jobs && !b->open) {
        size_t k = i;
        while (k < want && sc->jobs[k].done)
            k++;
        if (k == want || (k > i && now_s() >= deadline))
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000L; /* rechecks the deadline */
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&sc->cond_done, &sc->lock, &until);
    }
    while (i < sc->n_jobs && !sc->jobs[i].done)
        pthread_cond_wait(&sc->cond_done, &sc->lock);
    pthread_mutex_unlock(&sc->lock);
    return r;
}

static int consume_job(struct scan *sc, struct batch *b, struct job *j)
{
    if (j->status < 0) {
        warn_file(sc, j->rel, *j->err ? j->err : lg_strerror(j->status));
        return 0;
    }
    int r = batch_step(b);
    if (r == 0)
        r = store_job(sc, j);
    lg_media_info_free(&j->mi);
    if (r < 0) {
        lg_log(&scan_log, LG_LOG_ERROR, "storing %s failed: %s", j->rel, lg_strerror(r));
        return r;
    }
    if (j->id)
        sc->stats.updated++;
    else
        sc->stats.added++;
    return 0;
}

/* --- files moved or renamed --- */

struct sig {
    int64_t size, mtime_ns;
    size_t i; /* known slot or job */
};

static int sig_cmp(const void *a, const void *b)
{
    const struct sig *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return x->mtime_ns < y->mtime_ns ? -1 : x->mtime_ns > y->mtime_ns;
}

/* Whether v[i] has the same size and time as a neighbour. */
static bool sig_shared(const struct sig *v, size_t n, size_t i)
{
    return (i > 0 && sig_cmp(&v[i - 1], &v[i]) == 0) ||
           (i + 1 < n && sig_cmp(&v[i], &v[i + 1]) == 0);
}

/* A new file with the size and modification time (to the nanosecond) of
 * exactly one known track whose file is gone, when no other new file has
 * them, is that track's file moved or renamed (mv and rsync keep both).
 * The track keeps its id, and with it its stars, plays, playlist entries
 * and shares: it is renamed in the store now, and the probe that follows
 * updates the rest as for a changed file. */
static int find_moves(struct scan *sc, struct batch *b)
{
    size_t nv = 0, nn = 0;
    for (size_t i = 0; i < sc->known.cap; i++)
        nv += sc->known.slots[i].path && !sc->known.slots[i].seen;
    for (size_t i = 0; i < sc->n_jobs; i++)
        nn += sc->jobs[i].id == 0;
    if (nv == 0 || nn == 0)
        return 0;
    struct sig *v = lg_xmalloc(nv * sizeof(*v)), *n = lg_xmalloc(nn * sizeof(*n));
    nv = nn = 0;
    for (size_t i = 0; i < sc->known.cap; i++) {
        const struct known *k = &sc->known.slots[i];
        if (k->path && !k->seen)
            v[nv++] = (struct sig){ k->size, k->mtime_ns, i };
    }
    for (size_t i = 0; i < sc->n_jobs; i++) {
        if (sc->jobs[i].id == 0)
            n[nn++] = (struct sig){ sc->jobs[i].size, sc->jobs[i].mtime_ns, i };
    }
    qsort(v, nv, sizeof(*v), sig_cmp);
    qsort(n, nn, sizeof(*n), sig_cmp);
    int r = 0;
    for (size_t x = 0, y = 0; x < nn && r == 0; x++) {
        while (y < nv && sig_cmp(&v[y], &n[x]) < 0)
            y++;
        if (y == nv || sig_cmp(&v[y], &n[x]) != 0 || sig_shared(v, nv, y) || sig_shared(n, nn, x))
            continue;
        struct known *k = &sc->known.slots[v[y].i];
        struct job *j = &sc->jobs[n[x].i];
        r = batch_step(b);
        if (r == 0)
            r = lg_store_track_rename(sc->store, k->id, j->rel);
        if (r == 0) {
            lg_log(&scan_log, LG_LOG_DEBUG, "%s moved to %s", k->path, j->rel);
            j->id = k->id;
            k->seen = true;
            sc->stats.moved++;
        }
    }
    free(v);
    free(n);
    return r;
}

static int start_workers(struct scan *sc, int n_threads, pthread_t *tids)
{
    int n = 0;
    for (int i = 0; i < n_threads && (size_t)i < sc->n_jobs; i++) {
        if (pthread_create(&tids[n], NULL, worker_main, sc) == 0)
            n++;
    }
    if (n == 0 && sc->n_jobs > 0)
        lg_log(&scan_log, LG_LOG_ERROR, "cannot start probing threads");
    return n;
}

/* Probes the jobs on n_threads workers and stores the results. */
static int probe_and_store(struct scan *sc, int n_threads, struct batch *b)
{
    if (sc->n_jobs == 0)
        return 0;
    pthread_t *tids = lg_xcalloc((size_t)n_threads, sizeof(*tids));
    int n = start_workers(sc, n_threads, tids);
    int r = n > 0 ? 0 : -EAGAIN;
    int64_t total = sc->stats.files;
    for (size_t i = 0; i < sc->n_jobs && r == 0 && n > 0 && !cancelled(sc); i++) {
        r = next_job(sc, i, b);
        if (r == 0)
            r = consume_job(sc, b, &sc->jobs[i]);
        if ((i + 1) % JOB_PROGRESS == 0)
            report(sc, sc->stats.unchanged + (int64_t)i + 1, total);
    }
    pthread_mutex_lock(&sc->lock);
    sc->stop = true;
    pthread_cond_broadcast(&sc->cond_room);
    pthread_mutex_unlock(&sc->lock);
    for (int i = 0; i < n; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    return r;
}

/* Deletes the tracks whose files were not seen, records sidecar covers that
 * appeared or went beside unchanged files, removes unused albums and artists,
 * and notes the time of the change. */
static int remove_vanished(struct scan *sc, struct batch *b)
{
    int r = 0;
    int64_t covers = 0;
    for (size_t i = 0; i < sc->known.cap && r == 0; i++) {
        const struct known *k = &sc->known.slots[i];
        if (!k->path || (k->seen && !k->new_cover && !k->new_ctime))
            continue;
        r = batch_step(b);
        if (r == 0 && !k->seen) {
            r = lg_store_track_delete(sc->store, k->id);
            sc->stats.removed += r == 0;
            continue;
        }
        if (r == 0 && k->new_cover) {
            r = lg_store_track_set_cover(sc->store, k->id, k->new_cover);
            covers += r == 0;
        }
        if (r == 0 && k->new_ctime)
            r = lg_store_track_set_ctime(sc->store, k->id, k->new_ctime);
    }
    if (r < 0 ||
        sc->stats.added + sc->stats.updated + sc->stats.removed + sc->stats.moved + covers == 0)
        return r;
    r = batch_step(b);
    if (r == 0)
        r = lg_store_prune(sc->store);
    if (r >= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char ms[32];
        snprintf(ms, sizeof(ms), "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        r = lg_store_meta_set(sc->store, "library.changed_at", ms);
    }
    return r < 0 ? r : 0;
}

static void scan_free(struct scan *sc)
{
    for (size_t i = 0; i < sc->n_jobs; i++) {
        free(sc->jobs[i].rel);
        free(sc->jobs[i].cover);
        lg_media_info_free(&sc->jobs[i].mi);
    }
    free(sc->jobs);
    for (size_t i = 0; i < sc->n_deferred; i++)
        free(sc->deferred[i].rel);
    free(sc->deferred);
    known_free(&sc->known);
    free(sc->by_path);
    free(sc->dirs.keys);
    pthread_cond_destroy(&sc->cond_room);
    pthread_cond_destroy(&sc->cond_done);
    pthread_mutex_destroy(&sc->lock);
    free(sc);
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)LG_MIN(n, 64);
}

static void log_summary(const struct scan *sc, int r)
{
    const struct lg_scan_stats *st = &sc->stats;
    if (r < 0 && r != -ECANCELED) {
        lg_log(&scan_log, LG_LOG_ERROR, "scan of %s failed: %s", sc->root, lg_strerror(r));
        return;
    }
    lg_log(&scan_log, LG_LOG_INFO,
           "scan of %s%s: %lld files, %lld added, %lld updated (%lld moved), %lld removed, "
           "%lld unchanged, %lld failed, %.2f s",
           sc->root, r < 0 ? " stopped" : "", (long long)st->files, (long long)st->added,
           (long long)st->updated, (long long)st->moved, (long long)st->removed,
           (long long)st->unchanged, (long long)st->failed, st->seconds);
}

/* The scan, stopped early (with -ECANCELED) when *cancel becomes true. */
static int scan_run(struct lg_store *s, const char *music_dir, int n_threads,
                    lg_scan_progress_fn *progress, void *ud, atomic_bool *cancel,
                    struct lg_scan_stats *stats)
{
    lg_media_init();
    double t0 = now_s();
    struct scan *sc = lg_xcalloc(1, sizeof(*sc));
    *sc = (struct scan){
        .store = s, .root = music_dir, .progress = progress, .ud = ud, .cancel = cancel
    };
    pthread_mutex_init(&sc->lock, NULL);
    pthread_cond_init(&sc->cond_done, NULL);
    pthread_cond_init(&sc->cond_room, NULL);
    struct batch b = { .store = s };
    int r = lg_store_files_each(s, known_add, &sc->known);
    if (r == 0)
        r = walk_root(sc);
    if (r == 0 && !cancelled(sc))
        r = find_moves(sc, &b);
    if (r == 0) {
        report(sc, sc->stats.unchanged, sc->stats.files);
        r = probe_and_store(sc, n_threads > 0 ? n_threads : default_threads(), &b);
    }
    /* A folder that held tracks and now holds no audio file at all is an
     * unplugged disk or a share that is down far more often than a library
     * emptied on purpose: removing its tracks would take every star,
     * playlist entry and share of them along. They stay until a scan finds
     * files again. */
    bool gone = sc->stats.files == 0 && sc->known.n > 0;
    if (gone)
        lg_log(&scan_log, LG_LOG_WARN,
               "%s holds no audio files now: keeping its %zu tracks; if its disk or share is "
               "not mounted, mount it and scan again",
               sc->root, sc->known.n);
    if (r == 0 && !cancelled(sc) && !gone)
        r = remove_vanished(sc, &b);
    r = batch_end(&b, r);
    /* M3U playlists name tracks, so they come after the tracks' batches. */
    if (r == 0 && !cancelled(sc) && !gone)
        r = lg_library_import_playlists(s, music_dir,
                                        sc->stats.added + sc->stats.removed + sc->stats.moved > 0);
    if (r == 0 && cancelled(sc))
        r = -ECANCELED;
    sc->stats.seconds = now_s() - t0;
    if (r == 0)
        report(sc, sc->stats.files, sc->stats.files);
    log_summary(sc, r);
    if (r == 0 && stats)
        *stats = sc->stats;
    scan_free(sc);
    return r;
}

int lg_library_scan(struct lg_store *s, const char *music_dir, int n_threads,
                    lg_scan_progress_fn *progress, void *ud, struct lg_scan_stats *stats)
{
    return scan_run(s, music_dir, n_threads, progress, ud, NULL, stats);
}

/* --- the background scanner --- */

struct lg_scanner {
    struct lg_store *store;
    const char *music_dir;
    int64_t interval_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    bool triggered;      /* guarded by lock */
    bool stopping;       /* guarded by lock */
    atomic_bool cancel;
    atomic_bool analysis_stop; /* a scan is asked for, or stop: end the analysis */
    atomic_int scanning;
    atomic_int_fast64_t count;
    int backend; /* of the analysis passes (enum lg_dsp_backend) */
};

static void scanner_progress(void *ud, int64_t done, int64_t total)
{
    struct lg_scanner *sc = ud;
    atomic_store(&sc->count, done);
}

/* Waits for a trigger, the interval or stop; returns false on stop. */
static bool scanner_wait(struct lg_scanner *sc)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += sc->interval_s;
    pthread_mutex_lock(&sc->lock);
    int r = 0;
    while (!sc->stopping && !sc->triggered && r != ETIMEDOUT) {
        if (sc->interval_s > 0)
            r = pthread_cond_timedwait(&sc->cond, &sc->lock, &deadline);
        else
            pthread_cond_wait(&sc->cond, &sc->lock);
    }
    bool go = !sc->stopping;
    sc->triggered = false;
    if (go)
        atomic_store(&sc->scanning, 1);
    pthread_mutex_unlock(&sc->lock);
    return go;
}

static void *scanner_main(void *arg)
{
    struct lg_scanner *sc = arg;
    do {
        atomic_store(&sc->count, 0);
        int r = scan_run(sc->store, sc->music_dir, 0, scanner_progress, sc, &sc->cancel, NULL);
        (void)r; /* logged by scan_run; the next scan tries again */
        atomic_store(&sc->analysis_stop, atomic_load(&sc->cancel)); /* before triggers count */
        atomic_store(&sc->scanning, 0);
        if (r == 0) /* logged too; a trigger or stop ends it, the next pass goes on */
            r = lg_library_analyze_pending(sc->store, sc->music_dir, 0, sc->backend,
                                           &sc->analysis_stop, NULL);
    } while (scanner_wait(sc));
    return NULL;
}

int lg_scanner_start(struct lg_store *s, const char *music_dir, int64_t interval_s, int dsp_backend,
                     struct lg_scanner **out)
{
    if (interval_s < 0)
        return LG_EINVAL;
    lg_media_init();
    struct lg_scanner *sc = lg_xcalloc(1, sizeof(*sc));
    sc->store = s;
    sc->music_dir = music_dir;
    sc->interval_s = interval_s;
    atomic_init(&sc->cancel, false);
    atomic_init(&sc->analysis_stop, false);
    sc->backend = dsp_backend;
    atomic_init(&sc->scanning, 1); /* the first scan starts at once */
    atomic_init(&sc->count, 0);
    pthread_mutex_init(&sc->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sc->cond, &ca);
    pthread_condattr_destroy(&ca);
    int r = pthread_create(&sc->thread, NULL, scanner_main, sc);
    if (r != 0) {
        pthread_cond_destroy(&sc->cond);
        pthread_mutex_destroy(&sc->lock);
        free(sc);
        return -r;
    }
    *out = sc;
    return 0;
}

void lg_scanner_trigger(struct lg_scanner *sc)
{
    pthread_mutex_lock(&sc->lock);
    if (!atomic_load(&sc->scanning)) {
        sc->triggered = true;
        atomic_store(&sc->analysis_stop, true);
        pthread_cond_signal(&sc->cond);
    }
    pthread_mutex_unlock(&sc->lock);
}

void lg_scanner_status(struct lg_scanner *sc, int *scanning, int64_t *count)
{
    if (scanning)
        *scanning = atomic_load(&sc->scanning);
    if (count)
        *count = atomic_load(&sc->count);
}

void lg_scanner_stop(struct lg_scanner *sc)
{
    if (!sc)
        return;
    atomic_store(&sc->cancel, true);
    atomic_store(&sc->analysis_stop, true);
    pthread_mutex_lock(&sc->lock);
    sc->stopping = true;
    pthread_cond_signal(&sc->cond);
    pthread_mutex_unlock(&sc->lock);
    pthread_join(sc->thread, NULL);
    pthread_cond_destroy(&sc->cond);
    pthread_mutex_destroy(&sc->lock);
    free(sc);
}
