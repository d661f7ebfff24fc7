/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the transcode cache (src/stream/cache.c) against a real
 * folder: the round trip with a header rewritten at offset 0, file names, the
 * LRU order in memory and after a restart, readers that outlive eviction, one
 * writer per key, many threads at once, temp files of a killed writer,
 * folders that cannot be created, written or locked, a file size limit hit
 * mid-write (RLIMIT_FSIZE in a child process), and the configuration keys.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <sodium.h>

#include "core/config.h"
#include "core/str.h"
#include "prof/prof.h"
#include "stream/stream.h"

#include "harness.h"

enum { NOBODY = 65534 };

/* The byte at position i of the entry of key: content tells its key. */
static unsigned char pattern(const char *key, size_t i)
{
    size_t h = 5381;
    for (const char *p = key; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return (unsigned char)(h + i * 7 + i / 251);
}

static unsigned char *make_body(const char *key, size_t n)
{
    unsigned char *p = lg_xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(key, i);
    return p;
}

/* Stores n bytes of key's pattern: the body from offset 16 first, then a
 * placeholder header, then the real header rewritten at offset 0 (the way a
 * muxer finishes a file). The commit's result. */
static int put(struct lg_cache *c, const char *key, size_t n)
{
    lg_assert(n >= 16);
    struct lg_cache_writer *w;
    int rc = lg_cache_begin(c, key, &w);
    if (rc < 0)
        return rc;
    unsigned char *body = make_body(key, n);
    static const unsigned char zeros[16];
    rc = lg_cache_write(w, 16, body + 16, n - 16);
    if (rc == 0)
        rc = lg_cache_write(w, 0, zeros, sizeof(zeros));
    if (rc == 0)
        rc = lg_cache_write(w, 0, body, 16);
    free(body);
    int rc2 = lg_cache_commit(w);
    return rc < 0 ? rc : rc2;
}

/* Reads all of fd from offset 0; the count. */
static size_t read_all(int fd, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t k = pread(fd, buf + n, cap - n, (off_t)n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    return n;
}

/* True when fd holds exactly n bytes of key's pattern. */
static bool holds(int fd, const char *key, size_t n)
{
    unsigned char *buf = lg_xmalloc(n + 1);
    size_t got = read_all(fd, buf, n + 1);
    bool ok = got == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = buf[i] == pattern(key, i);
    free(buf);
    return ok;
}

/* The path of key's entry in dir (caller frees). */
static char *entry_path(const char *dir, const char *key)
{
    unsigned char id[16];
    char hex[33];
    crypto_generichash(id, sizeof(id), (const unsigned char *)key, strlen(key), NULL, 0);
    lg_hex_encode(hex, id, sizeof(id));
    return lg_xasprintf("%s/%s.bin", dir, hex);
}

/* Whether key has a file in dir, without touching the cache's LRU order. */
static bool on_disk(const char *dir, const char *key)
{
    char *p = entry_path(dir, key);
    struct stat st;
    bool r = stat(p, &st) == 0;
    free(p);
    return r;
}

/* Counts the files of dir whose names contain s; their total size in *bytes. */
static int count_files(const char *dir, const char *s, int64_t *bytes)
{
    DIR *d = opendir(dir);
    lg_assert(d);
    int n = 0;
    int64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        char *p = lg_xasprintf("%s/%s", dir, de->d_name);
        if (strstr(de->d_name, s) && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            n++;
            total += st.st_size;
        }
        free(p);
    }
    closedir(d);
    if (bytes)
        *bytes = total;
    return n;
}

/* Standard error goes to a file between capture_begin and capture_end, which
 * returns the number of warnings the cache logged meanwhile (-1 when none
 * contains must_contain). The file is read through the descriptor opened at
 * the start, so a process that drops its privileges meanwhile still can. */
static int saved_stderr = -1;
static int capture_fd = -1;

static void capture_begin(const char *dir)
{
    char *path = lg_xasprintf("%s/stderr.%ld", dir, (long)getpid());
    capture_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    lg_assert(capture_fd >= 0);
    unlink(path);
    free(path);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    dup2(capture_fd, STDERR_FILENO);
}

static int capture_end(const char *must_contain)
{
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    FILE *f = fdopen(capture_fd, "r");
    lg_assert(f);
    rewind(f);
    char line[4096];
    int warnings = 0;
    bool found = must_contain == NULL;
    while (fgets(line, sizeof(line), f)) {
        fputs(line, stderr); /* still shown in the test log */
        if (strstr(line, " warn ") && strstr(line, "stream/cache:")) {
            warnings++;
            if (must_contain && strstr(line, must_contain))
                found = true;
        }
    }
    fclose(f);
    capture_fd = -1;
    return found ? warnings : -1;
}

/* Runs fn in a child process; its exit status (77: skipped). */
static int in_child(void (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    lg_assert(pid >= 0);
    if (pid == 0) {
        lg_test_failed = 0;
        fn(arg);
        _exit(lg_test_failed ? 1 : 0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

LG_TEST(round_trip)
{
    char *dir = lg_test_tmpdir("cache-rt");
    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, 1 << 20, &c), 0);
    CHECK_INT(lg_cache_entries(c), 0);
    const char *key = "opus|128|/music/a b.flac|gain=-3.5";
    CHECK_INT(put(c, key, 5000), 0);
    CHECK_INT(lg_cache_entries(c), 1);
    CHECK_INT(lg_cache_bytes(c), 5000);
    CHECK_INT(lg_prof_gauge_get(LG_PROF_CACHE_SIZE), 5000);

    int fd = -1;
    int64_t size = -1;
    CHECK_INT(lg_cache_get(c, key, &fd, &size), 0);
    CHECK_INT(size, 5000);
    CHECK(holds(fd, key, 5000)); /* the header rewrite at 0 replaced the zeros */
    close(fd);

    /* The file is named by the key's BLAKE2b-128, private to the server. */
    char *path = entry_path(dir, key);
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(st.st_size, 5000);
    free(path);
    CHECK_INT(count_files(dir, ".tmp-", NULL), 0);

    CHECK_INT(lg_cache_get(c, "opus|128|/music/other.flac", &fd, &size), LG_ENOTFOUND);
    struct lg_cache_writer *w;
    CHECK_INT(lg_cache_begin(c, key, &w), LG_EEXIST);
    lg_cache_close(c);
    free(dir);
}

LG_TEST(lru_order_and_restart)
{
    char *dir = lg_test_tmpdir("cache-lru");
    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, 3000, &c), 0);
    CHECK_INT(put(c, "a", 1000), 0);
    CHECK_INT(put(c, "b", 1000), 0);
    CHECK_INT(put(c, "c", 1000), 0);
    int fd;
    int64_t size;
    CHECK_INT(lg_cache_get(c, "a", &fd, &size), 0); /* order now b, c, a */
    close(fd);
    CHECK_INT(put(c, "d", 1000), 0); /* evicts b */
    CHECK(on_disk(dir, "a") && !on_disk(dir, "b") && on_disk(dir, "c") && on_disk(dir, "d"));
    CHECK_INT(lg_cache_get(c, "b", &fd, &size), LG_ENOTFOUND);
    CHECK_INT(lg_cache_entries(c), 3);
    CHECK_INT(lg_cache_bytes(c), 3000);
    /* Order now c, d, a; by commit times alone it would be a, c, d. */
    CHECK_INT(lg_cache_get(c, "a", &fd, &size), 0);
    close(fd);
    lg_cache_close(c);

    /* A restart keeps the entries and their order. */
    CHECK_INT(lg_cache_open(dir, 3000, &c), 0);
    CHECK_INT(lg_cache_entries(c), 3);
    CHECK_INT(lg_cache_bytes(c), 3000);
    CHECK_INT(put(c, "e", 1000), 0); /* evicts c */
    CHECK(on_disk(dir, "a") && !on_disk(dir, "c") && on_disk(dir, "d") && on_disk(dir, "e"));
    CHECK_INT(lg_cache_get(c, "d", &fd, &size), 0);
    CHECK(holds(fd, "d", 1000));
    close(fd); /* order now a, e, d */
    lg_cache_close(c);

    /* A smaller bound at start evicts the oldest at once. */
    CHECK_INT(lg_cache_open(dir, 2000, &c), 0);
    CHECK_INT(lg_cache_entries(c), 2);
    CHECK_INT(lg_cache_bytes(c), 2000);
    CHECK(!on_disk(dir, "a") && on_disk(dir, "e") && on_disk(dir, "d"));

    /* An entry larger than the whole cache is never kept, and evicts nothing. */
    CHECK_INT(put(c, "huge", 2001), LG_ETOOBIG);
    CHECK_INT(lg_cache_entries(c), 2);
    CHECK(!on_disk(dir, "huge") && on_disk(dir, "e") && on_disk(dir, "d"));
    CHECK_INT(count_files(dir, ".tmp-", NULL), 0);
    /* One that fills it exactly evicts everything else. */
    CHECK_INT(put(c, "full", 2000), 0);
    CHECK_INT(lg_cache_entries(c), 1);
    CHECK(on_disk(dir, "full") && !on_disk(dir, "e") && !on_disk(dir, "d"));
    int64_t disk;
    CHECK_INT(count_files(dir, ".bin", &disk), 1);
    CHECK_INT(disk, 2000);
    lg_cache_close(c);
    free(dir);
}

LG_TEST(reader_survives_eviction)
{
    char *dir = lg_test_tmpdir("cache-evict");
    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, 2000, &c), 0);
    CHECK_INT(put(c, "a", 1500), 0);
    int fd;
    int64_t size;
    CHECK_INT(lg_cache_get(c, "a", &fd, &size), 0);
    CHECK_INT(put(c, "b", 1000), 0); /* evicts a while it is open */
    CHECK(!on_disk(dir, "a"));
    CHECK_INT(lg_cache_entries(c), 1);
    int fd2;
    CHECK_INT(lg_cache_get(c, "a", &fd2, &size), LG_ENOTFOUND);
    CHECK(holds(fd, "a", 1500));

    /* A new entry under the same key does not disturb the old reader. */
    struct lg_cache_writer *w;
    CHECK_INT(lg_cache_begin(c, "a", &w), 0);
    CHECK_INT(lg_cache_write(w, 0, "new", 3), 0);
    CHECK_INT(lg_cache_commit(w), 0);
    CHECK(holds(fd, "a", 1500));
    close(fd);
    CHECK_INT(lg_cache_get(c, "a", &fd, &size), 0);
    CHECK_INT(size, 3);
    close(fd);
    lg_cache_close(c);
    free(dir);
}

LG_TEST(one_writer_per_key)
{
    char *dir = lg_test_tmpdir("cache-writer");
    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, 1 << 20, &c), 0);
    struct lg_cache_writer *w1 = NULL, *w2 = NULL, *w3 = NULL, *dup = NULL;
    CHECK_INT(lg_cache_begin(c, "k", &w1), 0);
    CHECK_INT(lg_cache_write(w1, 0, "partial", 7), 0);
    CHECK_INT(lg_cache_begin(c, "k", &dup), LG_EEXIST);
    int fd;
    int64_t size;
    CHECK_INT(lg_cache_get(c, "k", &fd, &size), LG_ENOTFOUND); /* not finished */
    CHECK_INT(lg_cache_entries(c), 0);
    CHECK_INT(lg_cache_bytes(c), 0);
    CHECK_INT(lg_cache_begin(c, "other", &w2), 0);
    CHECK_INT(count_files(dir, ".tmp-", NULL), 2);
    lg_cache_abort(w1);
    CHECK_INT(count_files(dir, ".tmp-", NULL), 1);
    CHECK_INT(lg_cache_write(w2, -1, "x", 1), LG_EINVAL);
    CHECK_INT(lg_cache_begin(c, "k", &w3), 0); /* free again */
    CHECK_INT(lg_cache_write(w3, 0, "whole", 5), 0);
    CHECK_INT(lg_cache_commit(w3), 0);
    CHECK_INT(lg_cache_write(w2, 0, "xy", 2), 0);
    CHECK_INT(lg_cache_commit(w2), 0);
    CHECK_INT(lg_cache_entries(c), 2);
    CHECK_INT(lg_cache_bytes(c), 7);
    CHECK_INT(count_files(dir, ".tmp-", NULL), 0);
    lg_cache_abort(NULL);
    lg_cache_close(c);
    lg_cache_close(NULL);
    free(dir);
}

/* Files being written count against the bound with the finished ones: a
 * writer that would take the folder past it first evicts finished entries,
 * then is refused, and what it counted is given back when it ends. */
LG_TEST(writers_within_bound)
{
    char *dir = lg_test_tmpdir("cache-bound");
    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, 1000, &c), 0);
    static char block[600];
    memset(block, 'x', sizeof(block));
    struct lg_cache_writer *done = NULL, *a = NULL, *b = NULL;
    CHECK_INT(lg_cache_begin(c, "done", &done), 0);
    CHECK_INT(lg_cache_write(done, 0, block, 300), 0);
    CHECK_INT(lg_cache_commit(done), 0);
    CHECK_INT(lg_cache_bytes(c), 300);
    CHECK_INT(lg_cache_begin(c, "a", &a), 0);
    CHECK_INT(lg_cache_begin(c, "b", &b), 0);
    CHECK_INT(lg_cache_write(a, 0, block, 600), 0); /* 300 + 600: room */
    CHECK_INT(lg_cache_write(b, 0, block, 200), 0); /* evicts "done" */
    CHECK_INT(lg_cache_entries(c), 0);
    CHECK_INT(lg_cache_write(b, 200, block, 300), LG_ETOOBIG); /* 600 + 500 */
    CHECK_INT(lg_cache_write(b, 0, block, 1), LG_ETOOBIG);     /* b stays failed */
    int64_t on_disk = 0;
    count_files(dir, ".tmp-", &on_disk);
    CHECK(on_disk <= 1000);
    lg_cache_abort(b);
    CHECK_INT(lg_cache_commit(a), 0);
    CHECK_INT(lg_cache_bytes(c), 600);
    struct lg_cache_writer *d = NULL;
    CHECK_INT(lg_cache_begin(c, "d", &d), 0);
    CHECK_INT(lg_cache_write(d, 0, block, 500), 0); /* evicts "a": b's 200 were given back */
    CHECK_INT(lg_cache_commit(d), 0);
    CHECK_INT(lg_cache_bytes(c), 500);
    lg_cache_close(c);
    free(dir);
}

/* --- many threads --- */

enum { N_THREADS = 4, N_OPS = 400, N_KEYS = 12, MT_MAX = 6000 };

struct mt {
    struct lg_cache *c;
    unsigned seed;
    int bad; /* contents that did not match their key */
};

static size_t size_of_key(int k)
{
    return 400 + (size_t)k * 100;
}

static void *mt_run(void *arg)
{
    struct mt *m = arg;
    for (int i = 0; i < N_OPS; i++) {
        int k = (int)(rand_r(&m->seed) % N_KEYS);
        char key[16];
        snprintf(key, sizeof(key), "key%d", k);
        int fd;
        int64_t size;
        int op = (int)(rand_r(&m->seed) % 4);
        if (op < 2 && lg_cache_get(m->c, key, &fd, &size) == 0) {
            if (size != (int64_t)size_of_key(k) || !holds(fd, key, size_of_key(k)))
                m->bad++;
            close(fd);
            continue;
        }
        struct lg_cache_writer *w;
        if (lg_cache_begin(m->c, key, &w) != 0)
            continue;
        if (op == 3) {
            lg_cache_abort(w);
            continue;
        }
        unsigned char *body = make_body(key, size_of_key(k));
        if (lg_cache_write(w, 0, body, size_of_key(k)) != 0)
            m->bad++;
        free(body);
        if (lg_cache_commit(w) != 0)
            m->bad++;
    }
    return NULL;
}

LG_TEST(many_threads)
{
    char *dir = lg_test_tmpdir("cache-mt");
    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, MT_MAX, &c), 0);
    pthread_t th[N_THREADS];
    struct mt m[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        m[i] = (struct mt){ .c = c, .seed = 1234u + (unsigned)i };
        CHECK_INT(pthread_create(&th[i], NULL, mt_run, &m[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(m[i].bad, 0);
    }
    /* What the cache counts is exactly what the folder holds. */
    int64_t disk;
    CHECK_INT(count_files(dir, ".bin", &disk) - count_files(dir, ".tmp-", NULL),
              lg_cache_entries(c));
    CHECK_INT(count_files(dir, ".tmp-", NULL), 0);
    CHECK_INT(disk, lg_cache_bytes(c));
    CHECK(lg_cache_bytes(c) <= MT_MAX);
    CHECK(lg_cache_entries(c) > 0);
    lg_cache_close(c);
    free(dir);
}

/* --- failures --- */

static void killed_writer(void *arg)
{
    const char *dir = arg;
    struct lg_cache *c;
    if (lg_cache_open(dir, 1 << 20, &c) != 0)
        _exit(1);
    if (put(c, "kept", 100) != 0)
        _exit(1);
    struct lg_cache_writer *w;
    if (lg_cache_begin(c, "half", &w) != 0 || lg_cache_write(w, 0, "0123456789", 10) != 0)
        _exit(1);
    raise(SIGKILL);
}

LG_TEST(killed_writer_temp_removed)
{
    char *dir = lg_test_tmpdir("cache-killed");
    CHECK_INT(in_child(killed_writer, dir), 128 + SIGKILL);
    CHECK_INT(count_files(dir, ".tmp-", NULL), 1);
    /* Files that are not the cache's own are left alone. */
    char *other = lg_xasprintf("%s/notes.tmp-123456", dir);
    int fd = open(other, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);

    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, 1 << 20, &c), 0);
    CHECK_INT(count_files(dir, ".tmp-", NULL), 1);
    CHECK_INT(access(other, F_OK), 0);
    CHECK_INT(lg_cache_entries(c), 1);
    CHECK_INT(lg_cache_bytes(c), 100);
    int64_t size;
    CHECK_INT(lg_cache_get(c, "kept", &fd, &size), 0);
    CHECK(holds(fd, "kept", 100));
    close(fd);
    CHECK_INT(lg_cache_get(c, "half", &fd, &size), LG_ENOTFOUND);
    CHECK_INT(put(c, "half", 20), 0);
    lg_cache_close(c);
    free(other);
    free(dir);
}

/* Checks that a cache opened on dir keeps nothing, with one warning that
 * contains why. With as_nobody (in a child process run as root), the checks
 * run as user nobody; exits 77 when that user cannot reach dir. */
static void check_disabled(const char *dir, const char *why, bool as_nobody)
{
    char *log_dir = lg_test_tmpdir("cache-log");
    capture_begin(log_dir);
    if (as_nobody && (setgid(NOBODY) != 0 || setuid(NOBODY) != 0 || access(dir, R_OK | X_OK) != 0))
        _exit(77);
    struct lg_cache *c;
    int rc = lg_cache_open(dir, 1 << 20, &c);
    CHECK_INT(rc, 0);
    if (rc == 0) {
        int fd;
        int64_t size;
        struct lg_cache_writer *w;
        CHECK_INT(lg_cache_entries(c), 0);
        CHECK_INT(lg_cache_get(c, "kept", &fd, &size), LG_ENOTFOUND);
        CHECK_INT(lg_cache_begin(c, "new", &w), -EIO);
        CHECK_INT(lg_cache_begin(c, "new", &w), -EIO);
        lg_cache_close(c);
    }
    CHECK_INT(capture_end(why), 1);
    free(log_dir);
}

static void read_only_as_nobody(void *arg)
{
    check_disabled(arg, "cannot write in the folder", true);
}

LG_TEST(unusable_folders)
{
    /* A folder that cannot be created: its parent is a regular file. */
    char *base = lg_test_tmpdir("cache-unusable");
    char *file = lg_xasprintf("%s/file", base);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    close(fd);
    char *under_file = lg_xasprintf("%s/sub/cache", file);
    check_disabled(under_file, "cannot create the folder", false);

    /* A folder used by another cache (another process, in real life). */
    char *dir = lg_test_tmpdir("cache-locked");
    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, 1 << 20, &c), 0);
    CHECK_INT(put(c, "kept", 100), 0);
    check_disabled(dir, "in use by another process", false);
    lg_cache_close(c);

    /* A read-only folder, with an entry in it. Root ignores modes, so as root
     * the check runs in a child that has become nobody. */
    CHECK_INT(chmod(dir, 0500), 0);
    if (geteuid() != 0) {
        check_disabled(dir, "cannot write in the folder", false);
    } else {
        CHECK_INT(chown(dir, NOBODY, NOBODY), 0);
        int st = in_child(read_only_as_nobody, dir);
        if (st == 77)
            fprintf(stderr, "  read-only folder: skipped (nobody cannot reach %s)\n", dir);
        else
            CHECK_INT(st, 0);
        CHECK_INT(chown(dir, 0, 0), 0);
    }
    CHECK_INT(chmod(dir, 0700), 0);
    CHECK(on_disk(dir, "kept")); /* a disabled cache removes nothing */
    free(under_file);
    free(file);
    free(base);
    free(dir);
}

enum { FSIZE_LIMIT = 64 * 1024 };

/* Writes an entry that runs into the file size limit; its checks. */
static void fail_big(struct lg_cache *c, const char *dir, const char *key)
{
    struct lg_cache_writer *w;
    CHECK_INT(lg_cache_begin(c, key, &w), 0);
    unsigned char *body = make_body(key, 40000);
    CHECK_INT(lg_cache_write(w, 0, body, 40000), 0);
    CHECK_INT(lg_cache_write(w, 40000, body, 40000), -EFBIG); /* past 64 KiB */
    CHECK_INT(lg_cache_write(w, 0, "hdr", 3), -EFBIG);        /* failed: at once */
    CHECK_INT(lg_cache_write(w, 0, body, 40000), -EFBIG);
    free(body);
    CHECK_INT(lg_cache_commit(w), -EFBIG);
    CHECK(!on_disk(dir, key));
    CHECK_INT(count_files(dir, ".tmp-", NULL), 0);
}

static void file_size_limit(void *arg)
{
    const char *dir = arg;
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
        _exit(77);
    rl.rlim_cur = FSIZE_LIMIT;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        _exit(77);
    signal(SIGXFSZ, SIG_IGN);
    char *log_dir = lg_test_tmpdir("cache-fsize-log");
    capture_begin(log_dir);

    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, 1 << 20, &c), 0);
    CHECK_INT(put(c, "small", 1000), 0);
    fail_big(c, dir, "big");
    fail_big(c, dir, "big"); /* the key is free again; same episode */
    CHECK_INT(lg_cache_entries(c), 1);
    CHECK_INT(lg_cache_bytes(c), 1000);
    CHECK_INT(lg_prof_gauge_get(LG_PROF_CACHE_SIZE), 1000);
    int fd;
    int64_t size;
    CHECK_INT(lg_cache_get(c, "small", &fd, &size), 0);
    CHECK(holds(fd, "small", 1000));
    close(fd);
    int one = capture_end("cannot write a cache entry");
    CHECK_INT(one, 1);

    /* A commit ends the episode; the next failure warns again. */
    capture_begin(log_dir);
    CHECK_INT(put(c, "small2", 2000), 0);
    fail_big(c, dir, "big2");
    CHECK_INT(lg_cache_entries(c), 2);
    CHECK_INT(lg_cache_bytes(c), 3000);
    lg_cache_close(c);
    CHECK_INT(capture_end("File too large"), 1);
    int64_t disk;
    CHECK_INT(count_files(dir, ".bin", &disk), 2);
    CHECK_INT(disk, 3000);
    free(log_dir);
}

LG_TEST(full_disk)
{
    char *dir = lg_test_tmpdir("cache-fsize");
    int st = in_child(file_size_limit, dir);
    if (st == 77)
        fprintf(stderr, "  file size limit: skipped (setrlimit failed)\n");
    else
        CHECK_INT(st, 0);
    /* The folder opens afterwards with exactly the committed entries. */
    struct lg_cache *c;
    CHECK_INT(lg_cache_open(dir, 1 << 20, &c), 0);
    CHECK_INT(lg_cache_entries(c), 2);
    CHECK_INT(lg_cache_bytes(c), 3000);
    lg_cache_close(c);
    free(dir);
}

LG_TEST(config_keys)
{
    char *dir = lg_test_tmpdir("cache-config");
    static const char *const vars[] = { "LEGATO_CONFIG", "LEGATO_CACHE_DIR", "LEGATO_CACHE_SIZE",
                                        "LEGATO_DB", "XDG_DATA_HOME" };
    for (size_t i = 0; i < LG_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
    setenv("XDG_CONFIG_HOME", dir, 1); /* no file there */
    setenv("LEGATO_DATA", "/srv/legato", 1);
    static const struct {
        const char *cache_dir, *cache_size;
        int rc;
        const char *want_dir;
        int64_t want_mib;
    } rows[] = {
        { NULL, NULL, 0, "/srv/legato/cache/transcode", 2048 },
        { "", "0", 0, "/srv/legato/cache/transcode", 0 },
        { "/var/cache/legato", "1048576", 0, "/var/cache/legato", 1048576 },
        { NULL, "1048577", LG_EINVAL, NULL, 0 },
        { NULL, "-1", LG_EINVAL, NULL, 0 },
        { NULL, "2G", LG_EINVAL, NULL, 0 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        if (rows[i].cache_dir)
            setenv("LEGATO_CACHE_DIR", rows[i].cache_dir, 1);
        else
            unsetenv("LEGATO_CACHE_DIR");
        if (rows[i].cache_size)
            setenv("LEGATO_CACHE_SIZE", rows[i].cache_size, 1);
        else
            unsetenv("LEGATO_CACHE_SIZE");
        struct lg_config cfg;
        char err[256] = "";
        lg_config_init(&cfg);
        int rc = lg_config_finish(&cfg, err, sizeof(err));
        CHECK_INT(rc, rows[i].rc);
        if (rc == 0) {
            char *p = lg_config_cache_dir(&cfg);
            CHECK_STR(p, rows[i].want_dir);
            CHECK_INT(cfg.cache_size_mib, rows[i].want_mib);
            free(p);
        } else {
            CHECK(strstr(err, "cache_size") != NULL);
        }
        lg_config_free(&cfg);
    }
    unsetenv("LEGATO_CACHE_DIR");
    unsetenv("LEGATO_CACHE_SIZE");
    unsetenv("LEGATO_DATA");
    free(dir);
}

LG_TEST(bad_arguments)
{
    struct lg_cache *c = NULL;
    CHECK_INT(lg_cache_open("", 1000, &c), LG_EINVAL);
    CHECK_INT(lg_cache_open("/tmp/x", 0, &c), LG_EINVAL);
    CHECK_INT(lg_cache_open(NULL, 1000, &c), LG_EINVAL);
    CHECK(c == NULL);
}

LG_TEST_MAIN(LG_CASE(round_trip), LG_CASE(lru_order_and_restart), LG_CASE(reader_survives_eviction),
             LG_CASE(one_writer_per_key), LG_CASE(writers_within_bound), LG_CASE(many_threads),
             LG_CASE(killed_writer_temp_removed), LG_CASE(unusable_folders), LG_CASE(full_disk),
             LG_CASE(config_keys), LG_CASE(bad_arguments))
