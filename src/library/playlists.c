/* SPDX-License-Identifier: MIT */
/*
 * M3U playlists in the music folder. lg_m3u_parse turns a file's bytes into
 * paths relative to the music folder: lines are split on LF, CR or CRLF, a
 * UTF-8 byte order mark is dropped, "#" lines (#EXTM3U, #EXTINF, comments)
 * are skipped, backslashes become slashes, file:// URLs are decoded, relative
 * entries are resolved against the playlist's folder and absolute ones must
 * lie under the music folder; both are normalised lexically, and an entry
 * whose ".." climbs out of the folder is refused. Text of a .m3u that is not
 * valid UTF-8 is read as Latin-1; a line of a .m3u8 that is not UTF-8 is
 * taken as the bytes of a file name. An entry not found by its path is
 * looked up by the path's Latin-1 bytes (a file named in Latin-1).
 *
 * lg_library_import_playlists, called by the scan after the tracks are
 * stored, walks the folder as the scan does (real directories first, linked
 * ones after, each directory once), imports a playlist file whose mtime
 * changed (or every one, when tracks came or went), and deletes the playlists
 * of files that vanished, keeping those below a directory it could not read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "library/library.h"
#include "store/store.h"

#define M3U_MAX_BYTES (16 * 1024 * 1024) /* the largest playlist file read */
#define M3U_MAX_PATH  4000               /* bytes of a resolved path */
#define M3U_MAX_DEPTH 64                 /* directory nesting followed */

static const struct lg_log pl_log = { "library/playlists" };

/* --- parsing --- */

void lg_m3u_free(struct lg_m3u *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->paths[i]);
    free(m->paths);
    free(m->first_skipped);
    *m = (struct lg_m3u){ 0 };
}

/* Appends the '/'-separated segments of p to the normalised path out (of
 * length *n): "" and "." vanish, ".." drops the last segment. False when
 * ".." would climb above the start of out or out would overflow. */
static bool push_segments(char *out, size_t *n, const char *p)
{
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (*n == 0)
                return false;
            while (*n > 0 && out[*n - 1] != '/')
                (*n)--;
            if (*n > 0)
                (*n)--;
        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (*n + len + 2 > M3U_MAX_PATH)
                return false;
            if (*n > 0)
                out[(*n)++] = '/';
            memcpy(out + *n, p, len);
            *n += len;
        }
        p += len + (slash != NULL);
    }
    out[*n] = '\0';
    return true;
}

/* The music folder as normalised segments without the leading slash ("" for
 * "/"), into out; false when root is not absolute. */
static bool norm_root(const char *root, char *out)
{
    size_t n = 0;
    out[0] = '\0';
    return root && root[0] == '/' && push_segments(out, &n, root + 1);
}

/* The relative path of absolute path abs when it lies under one of the
 * roots; NULL otherwise. */
static char *under_root(const char *abs, const char *const roots[2])
{
    char norm[M3U_MAX_PATH + 2];
    size_t n = 0;
    if (!push_segments(norm, &n, abs + 1))
        return NULL;
    for (int i = 0; i < 2; i++) {
        char r[M3U_MAX_PATH + 2];
        if (!norm_root(roots[i], r))
            continue;
        size_t rn = strlen(r);
        if (rn == 0 && n > 0)
            return lg_xstrdup(norm);
        if (n > rn && strncmp(norm, r, rn) == 0 && norm[rn] == '/')
            return lg_xstrdup(norm + rn + 1);
    }
    return NULL;
}

/* Whether s starts with prefix, ignoring ASCII case. */
static bool has_prefix_ci(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char a = *s >= 'A' && *s <= 'Z' ? (char)(*s + 32) : *s;
        if (a != *prefix)
            return false;
    }
    return true;
}

/* Turns a file:// URL into its path in place; false for other URLs. */
static bool strip_url(char *e)
{
    if (!has_prefix_ci(e, "file://"))
        return strstr(e, "://") == NULL;
    size_t skip = 7;
    if (e[skip] != '/') { /* file://host/path: only the local host */
        if (!has_prefix_ci(e + skip, "localhost/"))
            return false;
        skip += 9;
    }
    memmove(e, e + skip, strlen(e + skip) + 1);
    lg_percent_decode(e, false);
    return true;
}

/* Resolves one entry (modified in place) to a path relative to the music
 * folder; NULL when it is outside the folder or not a local file. */
static char *resolve(char *e, const char *const roots[2], const char *dir_rel)
{
    for (char *p = e; *p; p++) {
        if (*p == '\\')
            *p = '/';
    }
    if (!strip_url(e))
        return NULL;
    char *rel;
    if (e[0] == '/') {
        rel = under_root(e, roots);
    } else {
        char out[M3U_MAX_PATH + 2];
        size_t n = 0;
        out[0] = '\0';
        bool ok = push_segments(out, &n, dir_rel) && push_segments(out, &n, e);
        rel = ok ? lg_xstrdup(out) : NULL;
    }
    if (rel && !lg_path_rel_safe(rel)) {
        free(rel);
        rel = NULL;
    }
    return rel;
}

static void add_path(struct lg_m3u *m, char *path, size_t *cap)
{
    if (m->n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        m->paths = lg_xrealloc(m->paths, *cap * sizeof(*m->paths));
    }
    m->paths[m->n++] = path;
}

static void skip_entry(struct lg_m3u *m, const char *line, size_t len)
{
    if (!m->first_skipped)
        m->first_skipped = lg_utf8_sanitize(line, len);
    m->n_skipped++;
}

/* Latin-1 to UTF-8: every byte >= 0x80 becomes two bytes. */
static char *latin1_to_utf8(const char *s, size_t len, size_t *out_len)
{
    char *out = lg_xmalloc(2 * len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[n++] = (char)c;
        } else {
            out[n++] = (char)(0xc0 | (c >> 6));
            out[n++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

/* Handles one line (without its end) of a playlist. */
static void parse_line(struct lg_m3u *m, size_t *cap, const char *line, size_t len,
                       const char *const roots[2], const char *dir_rel)
{
    while (len > 0 && is_space(*line)) {
        line++;
        len--;
    }
    while (len > 0 && is_space(line[len - 1]))
        len--;
    if (len == 0 || line[0] == '#')
        return;
    if (len > M3U_MAX_PATH || memchr(line, '\0', len)) {
        skip_entry(m, line, len);
        return;
    }
    char *e = lg_xstrndup(line, len);
    char *rel = resolve(e, roots, dir_rel);
    free(e);
    if (rel)
        add_path(m, rel, cap);
    else
        skip_entry(m, line, len);
}

int lg_m3u_parse(const char *data, size_t len, bool utf8, const char *root, const char *root_alt,
                 const char *dir_rel, struct lg_m3u *out)
{
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data += 3;
        len -= 3;
        utf8 = true;
    }
    char *conv = NULL;
    if (!utf8 && !lg_utf8_valid(data, len)) {
        conv = latin1_to_utf8(data, len, &len);
        data = conv;
    }
    const char *const roots[2] = { root, root_alt };
    struct lg_m3u m = { 0 };
    size_t cap = 0;
    const char *end = data + len;
    for (const char *p = data; p < end;) {
        const char *q = p;
        while (q < end && *q != '\n' && *q != '\r')
            q++;
        parse_line(&m, &cap, p, (size_t)(q - p), roots, dir_rel ? dir_rel : "");
        p = q < end && *q == '\r' && q + 1 < end && q[1] == '\n' ? q + 2 : q + 1;
    }
    free(conv);
    *out = m;
    return 0;
}

bool lg_m3u_is_playlist_name(const char *name)
{
    return name[0] != '.' &&
           (lg_str_has_suffix_ci(name, ".m3u") || lg_str_has_suffix_ci(name, ".m3u8"));
}

/* --- finding playlist files --- */

struct found {
    char *rel;
    int64_t mtime_ns;
};

struct walk {
    const char *root;
    struct found *files;
    size_t n_files, cap_files;
    char **deferred; /* links to directories, walked after the real tree */
    size_t n_deferred, cap_deferred;
    char **unreadable; /* directories that could not be read */
    size_t n_unreadable, cap_unreadable;
    uint64_t *dirs; /* (dev, ino) pairs entered, open addressing */
    size_t cap_dirs, n_dirs;
};

static void push_str(char ***v, size_t *n, size_t *cap, char *s)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = lg_xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = s;
}

static size_t dir_slot(const uint64_t *keys, size_t cap, uint64_t dev, uint64_t ino)
{
    size_t i = (size_t)((ino * 0x9e3779b97f4a7c15ull) ^ dev) & (cap - 1);
    while ((keys[2 * i] || keys[2 * i + 1]) && (keys[2 * i] != dev || keys[2 * i + 1] != ino))
        i = (i + 1) & (cap - 1);
    return i;
}

/* Records a directory; false when it was entered before. */
static bool dir_enter(struct walk *w, const struct stat *st)
{
    uint64_t dev = (uint64_t)st->st_dev, ino = (uint64_t)st->st_ino;
    if (2 * (w->n_dirs + 1) > w->cap_dirs) {
        size_t cap = w->cap_dirs ? w->cap_dirs * 2 : 128;
        uint64_t *keys = lg_xcalloc(2 * cap, sizeof(*keys));
        for (size_t i = 0; i < w->cap_dirs; i++) {
            if (w->dirs[2 * i] || w->dirs[2 * i + 1]) {
                size_t j = dir_slot(keys, cap, w->dirs[2 * i], w->dirs[2 * i + 1]);
                keys[2 * j] = w->dirs[2 * i];
                keys[2 * j + 1] = w->dirs[2 * i + 1];
            }
        }
        free(w->dirs);
        w->dirs = keys;
        w->cap_dirs = cap;
    }
    size_t i = dir_slot(w->dirs, w->cap_dirs, dev, ino);
    if (w->dirs[2 * i] || w->dirs[2 * i + 1])
        return false;
    w->dirs[2 * i] = dev;
    w->dirs[2 * i + 1] = ino;
    w->n_dirs++;
    return true;
}

static char *join_rel(const char *rel, const char *name)
{
    return *rel ? lg_xasprintf("%s/%s", rel, name) : lg_xstrdup(name);
}

static void walk_dir(struct walk *w, int dfd, const char *rel, int depth);

/* Opens directory rel (relative to the root, or name in dfd) and walks it. */
static void walk_sub(struct walk *w, int dfd, const char *name, const char *rel, int depth)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        push_str(&w->unreadable, &w->n_unreadable, &w->cap_unreadable, lg_xstrdup(rel));
        if (fd >= 0)
            close(fd);
        return;
    }
    if (depth >= M3U_MAX_DEPTH || !dir_enter(w, &st)) {
        close(fd);
        return;
    }
    walk_dir(w, fd, rel, depth + 1);
}

static void add_found(struct walk *w, char *rel, const struct stat *st)
{
    if (w->n_files == w->cap_files) {
        w->cap_files = w->cap_files ? w->cap_files * 2 : 16;
        w->files = lg_xrealloc(w->files, w->cap_files * sizeof(*w->files));
    }
    int64_t mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    w->files[w->n_files++] = (struct found){ rel, mtime_ns };
}

static void walk_entry(struct walk *w, int dfd, const struct dirent *de, const char *rel, int depth)
{
    bool playlist = lg_m3u_is_playlist_name(de->d_name);
    if (de->d_type != DT_DIR && de->d_type != DT_LNK && de->d_type != DT_UNKNOWN && !playlist)
        return;
    struct stat st;
    if (de->d_type != DT_DIR && fstatat(dfd, de->d_name, &st, 0) != 0) {
        /* Vanished since listed: nothing. A link whose target is missing
         * (a disk not mounted) or an entry that cannot be read: the
         * playlists below it are kept, as the tracks are. */
        if (errno != ENOENT || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            push_str(&w->unreadable, &w->n_unreadable, &w->cap_unreadable,
                     join_rel(rel, de->d_name));
        return;
    }
    char *child = join_rel(rel, de->d_name);
    if (de->d_type == DT_LNK && S_ISDIR(st.st_mode)) {
        push_str(&w->deferred, &w->n_deferred, &w->cap_deferred, child);
        return;
    }
    if (de->d_type == DT_DIR || S_ISDIR(st.st_mode))
        walk_sub(w, dfd, de->d_name, child, depth);
    else if (S_ISREG(st.st_mode) && playlist)
        add_found(w, lg_xstrdup(child), &st);
    free(child);
}

/* Walks the directory open as dfd (taking it), whose relative path is rel. */
static void walk_dir(struct walk *w, int dfd, const char *rel, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        push_str(&w->unreadable, &w->n_unreadable, &w->cap_unreadable, lg_xstrdup(rel));
        close(dfd);
        return;
    }
    struct dirent *de;
    for (;;) {
        errno = 0;
        if ((de = readdir(d)) == NULL)
            break;
        if (de->d_name[0] != '.')
            walk_entry(w, dirfd(d), de, rel, depth);
    }
    if (errno != 0) /* the listing broke off: what it did not list is kept */
        push_str(&w->unreadable, &w->n_unreadable, &w->cap_unreadable, lg_xstrdup(rel));
    closedir(d);
}

static void walk_free(struct walk *w)
{
    for (size_t i = 0; i < w->n_files; i++)
        free(w->files[i].rel);
    free(w->files);
    for (size_t i = 0; i < w->n_deferred; i++)
        free(w->deferred[i]);
    free(w->deferred);
    for (size_t i = 0; i < w->n_unreadable; i++)
        free(w->unreadable[i]);
    free(w->unreadable);
    free(w->dirs);
}

static int found_cmp(const void *a, const void *b)
{
    return strcmp(((const struct found *)a)->rel, ((const struct found *)b)->rel);
}

/* Finds the playlist files below root (sorted by path). -errno when the root
 * cannot be opened. */
static int walk_root(struct walk *w)
{
    int fd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return -e;
    }
    dir_enter(w, &st);
    int walk_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (walk_fd >= 0)
        walk_dir(w, walk_fd, "", 0);
    /* Walking a link may defer more links (and move the array). */
    for (size_t i = 0; i < w->n_deferred; i++) {
        char *rel = lg_xstrdup(w->deferred[i]);
        walk_sub(w, fd, rel, rel, 1);
        free(rel);
    }
    close(fd);
    if (w->n_files > 1)
        qsort(w->files, w->n_files, sizeof(*w->files), found_cmp);
    return walk_fd < 0 ? -EMFILE : 0;
}

/* Whether rel lies below an entry that could not be read, or is one. */
static bool below_unreadable(const struct walk *w, const char *rel)
{
    for (size_t i = 0; i < w->n_unreadable; i++) {
        size_t n = strlen(w->unreadable[i]);
        /* Below it, or the entry itself (a playlist that is a link to a
         * missing file). */
        if (n == 0 || (strncmp(rel, w->unreadable[i], n) == 0 && (rel[n] == '/' || rel[n] == '\0')))
            return true;
    }
    return false;
}

/* --- importing --- */

struct import {
    struct lg_store *store;
    const char *root;
    char *root_real; /* realpath of root, or NULL */
    int64_t owner_id;
    int imported;
};

/* Reads a whole file of at most M3U_MAX_BYTES into b. */
static int read_file(const char *path, struct lg_buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char chunk[16384];
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        r = lg_buf_append(b, chunk, (size_t)n);
        if (r < 0)
            break;
    }
    close(fd);
    return r;
}

/* The playlist's name: the file name without its suffix, valid UTF-8. */
static char *name_of(const char *rel)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return lg_utf8_sanitize(base, n);
}

/* The Latin-1 bytes of UTF-8 text whose characters all lie below U+0100
 * and not all below U+0080, or NULL: the name of a file written in Latin-1
 * (the library keeps file names as their bytes), as a playlist read as
 * Latin-1, or written in UTF-8, names it. */
static char *utf8_to_latin1(const char *s)
{
    size_t len = strlen(s);
    if (!lg_utf8_valid(s, len))
        return NULL;
    char *out = lg_xmalloc(len + 1);
    size_t n = 0;
    bool wide = false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80) {
            out[n++] = (char)*p;
        } else if ((*p == 0xc2 || *p == 0xc3) && (p[1] & 0xc0) == 0x80) {
            out[n++] = (char)(((*p & 0x03) << 6) | (p[1] & 0x3f));
            wide = true;
            p++;
        } else {
            free(out);
            return NULL;
        }
    }
    out[n] = '\0';
    if (!wide) {
        free(out);
        return NULL;
    }
    return out;
}

/* A playlist entry's track: by its path, else by the path's Latin-1 bytes. */
static int track_id_of(struct lg_store *s, const char *path, int64_t *id)
{
    int r = lg_store_track_id_by_path(s, path, id);
    if (r != LG_ENOTFOUND)
        return r;
    char *latin1 = utf8_to_latin1(path);
    if (latin1) {
        r = lg_store_track_id_by_path(s, latin1, id);
        free(latin1);
    }
    return r;
}

/* Looks the parsed paths up as tracks; unknown ones count as skipped. */
static int64_t *track_ids(struct lg_store *s, struct lg_m3u *m, size_t *n_ids, int *err)
{
    int64_t *ids = lg_xcalloc(m->n ? m->n : 1, sizeof(*ids));
    size_t n = 0;
    *err = 0;
    for (size_t i = 0; i < m->n; i++) {
        int r = track_id_of(s, m->paths[i], &ids[n]);
        if (r == 0) {
            n++;
        } else if (r == LG_ENOTFOUND) {
            if (!m->first_skipped)
                m->first_skipped = lg_utf8_sanitize(m->paths[i], strlen(m->paths[i]));
            m->n_skipped++;
        } else {
            *err = r;
            break;
        }
    }
    *n_ids = n;
    return ids;
}

/* Imports one playlist file; store errors are returned, others logged. */
static int import_file(struct import *im, const struct found *f)
{
    char *path = lg_xasprintf("%s/%s", im->root, f->rel);
    struct lg_buf b;
    lg_buf_init(&b, M3U_MAX_BYTES);
    int r = read_file(path, &b);
    free(path);
    if (r < 0) {
        lg_log(&pl_log, LG_LOG_WARN, "cannot read playlist %s: %s", f->rel, lg_strerror(r));
        lg_buf_free(&b);
        return 0;
    }
    char *dir = lg_xstrdup(f->rel);
    char *slash = strrchr(dir, '/');
    *(slash ? slash : dir) = '\0';
    struct lg_m3u m;
    r = lg_m3u_parse(b.data ? b.data : "", b.len, lg_str_has_suffix_ci(f->rel, ".m3u8"), im->root,
                     im->root_real, dir, &m);
    free(dir);
    lg_buf_free(&b);
    if (r < 0)
        return 0;
    size_t n = 0;
    int64_t *ids = track_ids(im->store, &m, &n, &r);
    if (m.n_skipped > 0)
        lg_log(&pl_log, LG_LOG_WARN,
               "playlist %s: %zu entries skipped (outside the music folder or "
               "not in the library), the first: %s",
               f->rel, m.n_skipped, m.first_skipped);
    char *name = name_of(f->rel);
    struct lg_playlist_import pi = { im->owner_id, f->rel, name, f->mtime_ns, ids, n };
    if (r == 0)
        r = lg_store_playlist_import(im->store, &pi);
    im->imported += r > 0;
    free(name);
    free(ids);
    lg_m3u_free(&m);
    return r < 0 ? r : 0;
}

static int source_cmp(const void *a, const void *b)
{
    return strcmp(((const struct lg_playlist_source *)a)->path,
                  ((const struct lg_playlist_source *)b)->path);
}

/* Imports new and changed files, marking the known sources seen (mtime_ns
 * set to -1), then deletes the playlists of files that vanished. */
static int sync_sources(struct import *im, const struct walk *w, struct lg_playlist_source *src,
                        size_t n_src, bool force)
{
    if (n_src > 1)
        qsort(src, n_src, sizeof(*src), source_cmp);
    int r = 0;
    for (size_t i = 0; i < w->n_files && r == 0; i++) {
        const struct found *f = &w->files[i];
        struct lg_playlist_source key = { 0, f->rel, 0 };
        struct lg_playlist_source *k =
            n_src ? bsearch(&key, src, n_src, sizeof(*src), source_cmp) : NULL;
        bool same = k && k->mtime_ns == f->mtime_ns;
        if (k)
            k->mtime_ns = -1;
        if (!same || force)
            r = import_file(im, f);
    }
    for (size_t i = 0; i < n_src && r == 0; i++) {
        if (src[i].mtime_ns == -1 || below_unreadable(w, src[i].path))
            continue;
        r = lg_store_playlist_remove(im->store, src[i].id);
        if (r == 0)
            lg_log(&pl_log, LG_LOG_INFO, "playlist %s removed: its file is gone", src[i].path);
        if (r == LG_ENOTFOUND)
            r = 0;
    }
    return r;
}

int lg_library_import_playlists(struct lg_store *s, const char *music_dir, bool force)
{
    struct walk w = { .root = music_dir };
    int r = walk_root(&w);
    if (r < 0) {
        walk_free(&w);
        return 0; /* the scan has reported the folder */
    }
    struct lg_playlist_source *src = NULL;
    size_t n_src = 0;
    struct import im = { .store = s, .root = music_dir };
    r = lg_store_playlist_sources(s, &src, &n_src);
    if (r == 0 && (w.n_files > 0 || n_src > 0)) {
        r = lg_store_first_admin(s, &im.owner_id);
        if (r == LG_ENOTFOUND)
            lg_log(&pl_log, LG_LOG_INFO, "no administrator yet: M3U playlists not imported");
    }
    if (r == 0 && (w.n_files > 0 || n_src > 0)) {
        im.root_real = realpath(music_dir, NULL);
        r = sync_sources(&im, &w, src, n_src, force);
        if (im.imported > 0)
            lg_log(&pl_log, LG_LOG_INFO, "%d playlists imported or updated", im.imported);
    }
    free(im.root_real);
    lg_playlist_sources_free(src, n_src);
    walk_free(&w);
    return r == LG_ENOTFOUND ? 0 : r;
}
