/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of playlists, bookmarks and play queues in the store (order,
 * removal by index, isolation between users, cascades when tracks or users
 * go) and of M3U playlists: parsing, table-driven, and the import that the
 * scan runs (new, unchanged, changed, vanished files; entries that are not
 * tracks). Tracks are stored directly, so no audio files are needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "library/library.h"
#include "store/store.h"

#include "harness.h"
#include "store_fixture.h"

static char *tmp;

static int64_t add_track(struct lg_store *s, const char *path, const char *album, int64_t dur_ms)
{
    struct lg_track t = { 0 };
    t.path = (char *)path;
    t.size = 1000;
    t.mtime_ns = 1;
    t.title = (char *)path;
    t.artist = (char *)"Artist";
    t.album = (char *)album;
    t.suffix = (char *)"mp3";
    t.duration_ms = dur_ms;
    int64_t id = 0;
    int r = lg_store_track_upsert(s, &t, &id);
    lg_assert(r == 0);
    return id;
}

/* The track ids of playlist id as user_id sees them, as "1,2,3". */
static char *entries_of(struct lg_store *s, int64_t user_id, int64_t id)
{
    struct lg_playlist p;
    int64_t *ids = NULL;
    size_t n = 0;
    if (lg_store_playlist_get(s, user_id, false, id, &p, &ids, &n) != 0)
        return lg_xstrdup("(hidden)");
    char buf[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(buf) - 32; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%lld", i ? "," : "",
                                (long long)ids[i]);
    free(ids);
    lg_playlist_free(&p);
    return lg_xstrdup(buf);
}

#define CHECK_ENTRIES(s, user, id, want)            \
    do {                                            \
        char *got_ = entries_of((s), (user), (id)); \
        CHECK_STR(got_, (want));                    \
        free(got_);                                 \
    } while (0)

LG_TEST(setup)
{
    tmp = lg_test_tmpdir("playlists");
    lg_log_setup(LG_LOG_ERROR, 0);
}

LG_TEST(playlist_order_and_summary)
{
    struct lg_store *s = lg_fx_store(tmp, "order");
    int64_t u = lg_fx_user(s, "ann", 0);
    int64_t t1 = add_track(s, "a/1.mp3", "A", 1000);
    int64_t t2 = add_track(s, "a/2.mp3", "A", 2000);
    int64_t t3 = add_track(s, "b/3.mp3", "B", 4000);
    int64_t ids[] = { t3, t1, t2, t1 };
    int64_t pl = 0;
    CHECK_INT(lg_store_playlist_create(s, u, "Mix", ids, 4, &pl), 0);
    CHECK(pl > 0);
    CHECK_ENTRIES(s, u, pl, "3,1,2,1");
    struct lg_playlist p;
    CHECK_INT(lg_store_playlist_get(s, u, false, pl, &p, NULL, NULL), 0);
    CHECK_STR(p.name, "Mix");
    CHECK_STR(p.owner, "ann");
    CHECK_STR(p.comment, "");
    CHECK_STR(p.source_path, "");
    CHECK_INT(p.is_public, 0);
    CHECK_INT(p.song_count, 4);
    CHECK_INT(p.duration_ms, 8000);
    struct lg_track tr;
    CHECK_INT(lg_store_track_get(s, t3, &tr), 0);
    CHECK_INT(p.cover_album_id, tr.album_id);
    CHECK(p.created_at > 0 && p.changed_at >= p.created_at);
    lg_track_free(&tr);
    lg_playlist_free(&p);
    /* An empty playlist, and an unknown track refused without a trace. */
    int64_t empty = 0;
    CHECK_INT(lg_store_playlist_create(s, u, "Empty", NULL, 0, &empty), 0);
    CHECK_ENTRIES(s, u, empty, "");
    int64_t bad[] = { t1, 999 };
    int64_t none = 0;
    CHECK_INT(lg_store_playlist_create(s, u, "Bad", bad, 2, &none), LG_EINVAL);
    CHECK_INT(none, 0);
    struct lg_playlist *v = NULL;
    size_t n = 0;
    CHECK_INT(lg_store_playlists_list(s, u, &v, &n), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(v[0].name, "Empty"); /* by name */
        CHECK_STR(v[1].name, "Mix");
        CHECK_INT(v[0].cover_album_id, 0);
    }
    lg_playlists_free(v, n);
    lg_store_close(s);
}

LG_TEST(playlist_edit)
{
    struct lg_store *s = lg_fx_store(tmp, "edit");
    int64_t u = lg_fx_user(s, "ann", 0);
    int64_t t[5];
    for (int i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof(path), "t%d.mp3", i);
        t[i] = add_track(s, path, "A", 1000);
    }
    int64_t ids[] = { t[0], t[1], t[2], t[3] };
    int64_t pl = 0;
    CHECK_INT(lg_store_playlist_create(s, u, "P", ids, 4, &pl), 0);
    /* Indexes refer to the order before the edit, in any order, repeats ok;
     * additions go after the removals. */
    int64_t rm[] = { 3, 1, 3 };
    int64_t add[] = { t[4], t[0] };
    struct lg_playlist_edit e = { .name = "Q",
                                  .comment = "note",
                                  .is_public = 1,
                                  .remove = rm,
                                  .n_remove = 3,
                                  .add = add,
                                  .n_add = 2 };
    CHECK_INT(lg_store_playlist_edit(s, u, false, pl, &e), 0);
    CHECK_ENTRIES(s, u, pl, "1,3,5,1");
    struct lg_playlist p;
    CHECK_INT(lg_store_playlist_get(s, u, false, pl, &p, NULL, NULL), 0);
    CHECK_STR(p.name, "Q");
    CHECK_STR(p.comment, "note");
    CHECK_INT(p.is_public, 1);
    lg_playlist_free(&p);
    /* Out of range or unknown: nothing changes. */
    int64_t far[] = { 0, 4 };
    e = (struct lg_playlist_edit){ .name = "R", .is_public = -1, .remove = far, .n_remove = 2 };
    CHECK_INT(lg_store_playlist_edit(s, u, false, pl, &e), LG_ERANGE);
    int64_t neg[] = { -1 };
    e = (struct lg_playlist_edit){ .is_public = -1, .remove = neg, .n_remove = 1 };
    CHECK_INT(lg_store_playlist_edit(s, u, false, pl, &e), LG_ERANGE);
    int64_t unknown[] = { t[1], 12345 };
    e = (struct lg_playlist_edit){ .is_public = -1, .add = unknown, .n_add = 2 };
    CHECK_INT(lg_store_playlist_edit(s, u, false, pl, &e), LG_EINVAL);
    CHECK_ENTRIES(s, u, pl, "1,3,5,1");
    CHECK_INT(lg_store_playlist_get(s, u, false, pl, &p, NULL, NULL), 0);
    CHECK_STR(p.name, "Q");
    lg_playlist_free(&p);
    /* Replace (createPlaylist with playlistId). */
    int64_t repl[] = { t[2], t[2] };
    e = (struct lg_playlist_edit){ .is_public = -1, .replace = true, .add = repl, .n_add = 2 };
    CHECK_INT(lg_store_playlist_edit(s, u, false, pl, &e), 0);
    CHECK_ENTRIES(s, u, pl, "3,3");
    e = (struct lg_playlist_edit){ .is_public = -1, .replace = true };
    CHECK_INT(lg_store_playlist_edit(s, u, false, pl, &e), 0);
    CHECK_ENTRIES(s, u, pl, "");
    CHECK_INT(lg_store_playlist_delete(s, u, false, pl), 0);
    CHECK_INT(lg_store_playlist_delete(s, u, false, pl), LG_ENOTFOUND);
    CHECK_INT(lg_store_playlist_edit(s, u, false, pl, &e), LG_ENOTFOUND);
    lg_store_close(s);
}

LG_TEST(playlist_isolation)
{
    struct lg_store *s = lg_fx_store(tmp, "iso");
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t bob = lg_fx_user(s, "bob", 0);
    int64_t root = lg_fx_user(s, "root", 1);
    int64_t t1 = add_track(s, "1.mp3", "A", 1000);
    int64_t priv = 0, pub = 0;
    CHECK_INT(lg_store_playlist_create(s, ann, "ann private", &t1, 1, &priv), 0);
    CHECK_INT(lg_store_playlist_create(s, ann, "ann public", &t1, 1, &pub), 0);
    struct lg_playlist_edit mk_public = { .is_public = 1 };
    CHECK_INT(lg_store_playlist_edit(s, ann, false, pub, &mk_public), 0);

    struct lg_playlist *v = NULL;
    size_t n = 0;
    CHECK_INT(lg_store_playlists_list(s, bob, &v, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_INT(v[0].id, pub);
    lg_playlists_free(v, n);
    CHECK_INT(lg_store_playlists_list(s, ann, &v, &n), 0);
    CHECK_INT(n, 2);
    lg_playlists_free(v, n);

    /* Hidden: not found; visible but another's: denied. */
    CHECK_ENTRIES(s, bob, priv, "(hidden)");
    CHECK_ENTRIES(s, bob, pub, "1");
    struct lg_playlist_edit rename = { .name = "mine", .is_public = -1 };
    CHECK_INT(lg_store_playlist_edit(s, bob, false, priv, &rename), LG_ENOTFOUND);
    CHECK_INT(lg_store_playlist_edit(s, bob, false, pub, &rename), LG_EDENIED);
    CHECK_INT(lg_store_playlist_delete(s, bob, false, priv), LG_ENOTFOUND);
    CHECK_INT(lg_store_playlist_delete(s, bob, false, pub), LG_EDENIED);
    /* An administrator may read any playlist but change only their own. */
    struct lg_playlist p;
    CHECK_INT(lg_store_playlist_get(s, root, true, priv, &p, NULL, NULL), 0);
    lg_playlist_free(&p);
    CHECK_INT(lg_store_playlist_get(s, root, false, priv, &p, NULL, NULL), LG_ENOTFOUND);
    CHECK_INT(lg_store_playlist_edit(s, root, true, priv, &rename), LG_EDENIED);
    CHECK_INT(lg_store_playlist_get(s, ann, false, priv, &p, NULL, NULL), 0);
    CHECK_STR(p.name, "ann private");
    lg_playlist_free(&p);
    lg_store_close(s);
}

LG_TEST(cascades)
{
    struct lg_store *s = lg_fx_store(tmp, "cascade");
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t bob = lg_fx_user(s, "bob", 0);
    int64_t t1 = add_track(s, "1.mp3", "A", 1000);
    int64_t t2 = add_track(s, "2.mp3", "A", 1000);
    int64_t t3 = add_track(s, "3.mp3", "A", 1000);
    int64_t ids[] = { t1, t2, t3, t2 };
    int64_t pl = 0;
    CHECK_INT(lg_store_playlist_create(s, ann, "P", ids, 4, &pl), 0);
    CHECK_INT(lg_store_bookmark_set(s, ann, t2, 5000, "here"), 0);
    struct lg_play_queue q = { .ids = ids, .n = 4, .current_id = t2, .position_ms = 7 };
    CHECK_INT(lg_store_play_queue_save(s, ann, &q), 0);

    CHECK_INT(lg_store_track_delete(s, t2), 0);
    CHECK_ENTRIES(s, ann, pl, "1,3");
    struct lg_playlist p;
    CHECK_INT(lg_store_playlist_get(s, ann, false, pl, &p, NULL, NULL), 0);
    CHECK_INT(p.song_count, 2);
    lg_playlist_free(&p);
    /* Indexes are ranks in what is left, gaps or not. */
    int64_t rm = 1;
    int64_t add = t1;
    struct lg_playlist_edit e = {
        .is_public = -1, .remove = &rm, .n_remove = 1, .add = &add, .n_add = 1
    };
    CHECK_INT(lg_store_playlist_edit(s, ann, false, pl, &e), 0);
    CHECK_ENTRIES(s, ann, pl, "1,1");
    struct lg_bookmark *bm = NULL;
    size_t n = 0;
    CHECK_INT(lg_store_bookmarks_list(s, ann, &bm, &n), 0);
    CHECK_INT(n, 0);
    lg_bookmarks_free(bm, n);
    struct lg_play_queue got;
    CHECK_INT(lg_store_play_queue_get(s, ann, &got), 0);
    CHECK_INT(got.n, 2);
    CHECK_INT(got.current_id, 0); /* its track went */
    lg_play_queue_free(&got);

    /* A user's things go with the user. */
    CHECK_INT(lg_store_bookmark_set(s, bob, t1, 1, NULL), 0);
    CHECK_INT(lg_store_user_delete(s, ann), 0);
    struct lg_playlist *v = NULL;
    CHECK_INT(lg_store_playlists_list(s, bob, &v, &n), 0);
    CHECK_INT(n, 0);
    lg_playlists_free(v, n);
    CHECK_INT(lg_store_play_queue_get(s, ann, &got), LG_ENOTFOUND);
    CHECK_INT(lg_store_bookmarks_list(s, bob, &bm, &n), 0);
    CHECK_INT(n, 1);
    lg_bookmarks_free(bm, n);
    lg_store_close(s);
}

LG_TEST(bookmarks)
{
    struct lg_store *s = lg_fx_store(tmp, "bookmarks");
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t bob = lg_fx_user(s, "bob", 0);
    int64_t t1 = add_track(s, "1.mp3", "A", 1000);
    int64_t t2 = add_track(s, "2.mp3", "A", 1000);
    CHECK_INT(lg_store_bookmark_set(s, ann, t1, 1000, "first"), 0);
    CHECK_INT(lg_store_bookmark_set(s, ann, t1, 2000, NULL), 0); /* replaces */
    CHECK_INT(lg_store_bookmark_set(s, bob, t2, 3000, "bob's"), 0);
    CHECK_INT(lg_store_bookmark_set(s, ann, 999, 1, NULL), LG_ENOTFOUND);
    struct lg_bookmark *v = NULL;
    size_t n = 0;
    CHECK_INT(lg_store_bookmarks_list(s, ann, &v, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_INT(v[0].track_id, t1);
        CHECK_INT(v[0].position_ms, 2000);
        CHECK_STR(v[0].comment, "");
        CHECK(v[0].created_at > 0 && v[0].changed_at >= v[0].created_at);
    }
    lg_bookmarks_free(v, n);
    /* Deleting is per user. */
    CHECK_INT(lg_store_bookmark_delete(s, ann, t2), LG_ENOTFOUND);
    CHECK_INT(lg_store_bookmark_delete(s, ann, t1), 0);
    CHECK_INT(lg_store_bookmark_delete(s, ann, t1), LG_ENOTFOUND);
    CHECK_INT(lg_store_bookmarks_list(s, bob, &v, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_STR(v[0].comment, "bob's");
    lg_bookmarks_free(v, n);
    lg_store_close(s);
}

LG_TEST(play_queue)
{
    struct lg_store *s = lg_fx_store(tmp, "queue");
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t bob = lg_fx_user(s, "bob", 0);
    int64_t t1 = add_track(s, "1.mp3", "A", 1000);
    int64_t t2 = add_track(s, "2.mp3", "A", 1000);
    struct lg_play_queue got;
    CHECK_INT(lg_store_play_queue_get(s, ann, &got), LG_ENOTFOUND);
    int64_t ids[] = { t2, t1, t2 };
    struct lg_play_queue q = {
        .ids = ids, .n = 3, .current_id = t1, .position_ms = 4200, .changed_by = (char *)"player"
    };
    CHECK_INT(lg_store_play_queue_save(s, ann, &q), 0);
    CHECK_INT(lg_store_play_queue_get(s, ann, &got), 0);
    CHECK_INT(got.n, 3);
    if (got.n == 3) {
        CHECK_INT(got.ids[0], t2);
        CHECK_INT(got.ids[1], t1);
        CHECK_INT(got.ids[2], t2);
    }
    CHECK_INT(got.current_id, t1);
    CHECK_INT(got.position_ms, 4200);
    CHECK_STR(got.changed_by, "player");
    CHECK(got.changed_at > 0);
    lg_play_queue_free(&got);
    CHECK_INT(lg_store_play_queue_get(s, bob, &got), LG_ENOTFOUND);
    /* An unknown track keeps the old queue. */
    int64_t bad[] = { t1, 999 };
    struct lg_play_queue qb = { .ids = bad, .n = 2, .current_id = t1 };
    CHECK_INT(lg_store_play_queue_save(s, ann, &qb), LG_EINVAL);
    qb = (struct lg_play_queue){ .ids = ids, .n = 1, .current_id = 999 };
    CHECK_INT(lg_store_play_queue_save(s, ann, &qb), LG_EINVAL);
    CHECK_INT(lg_store_play_queue_get(s, ann, &got), 0);
    CHECK_INT(got.n, 3);
    lg_play_queue_free(&got);
    /* An empty queue clears. */
    struct lg_play_queue empty = { 0 };
    CHECK_INT(lg_store_play_queue_save(s, ann, &empty), 0);
    CHECK_INT(lg_store_play_queue_get(s, ann, &got), LG_ENOTFOUND);
    lg_store_close(s);
}

/* --- M3U parsing --- */

static const struct {
    const char *name;
    const char *text;
    bool utf8;
    const char *dir;  /* the playlist's folder, relative */
    const char *want; /* resolved paths joined with '|' */
    size_t skipped;
} m3u_rows[] = {
    { "plain relative", "a.mp3\nsub/b.flac\n", false, "", "a.mp3|sub/b.flac", 0 },
    { "relative to the folder", "a.mp3\n../x/b.mp3\n", false, "lists", "lists/a.mp3|x/b.mp3", 0 },
    { "dot segments", "./a/./b.mp3\na//c.mp3\n", false, "d", "d/a/b.mp3|d/a/c.mp3", 0 },
    { "traversal out of the root", "../a.mp3\nx/../../b.mp3\n", false, "", "", 2 },
    { "traversal from a subfolder", "../../a.mp3\n", false, "lists", "", 1 },
    { "absolute inside", "/music/A/a.mp3\n/music/./B/../b.mp3\n", false, "z", "A/a.mp3|b.mp3", 0 },
    { "absolute through the real root", "/real/music/a.mp3\n", false, "", "a.mp3", 0 },
    { "absolute outside", "/etc/passwd\n/musicx/a.mp3\n/music\n/music/../etc/a.mp3\n", false, "",
      "", 4 },
    { "windows backslashes and CRLF", "#EXTM3U\r\nsub\\a.mp3\r\n..\\b.mp3\r\n", false, "d",
      "d/sub/a.mp3|b.mp3", 0 },
    { "bare CR", "a.mp3\rb.mp3", false, "", "a.mp3|b.mp3", 0 },
    { "BOM",
      "\xef\xbb\xbf"
      "a.mp3\n",
      false, "", "a.mp3", 0 },
    { "extended", "#EXTM3U\n#EXTINF:123,Artist - Title\na.mp3\n#EXTINF:-1,x\n\n  b.mp3  \n", false,
      "", "a.mp3|b.mp3", 0 },
    { "comments and blanks", "# a comment\n\n#another\n   \n", false, "", "", 0 },
    { "latin-1 .m3u", "caf\xe9.mp3\n", false, "", "caf\xc3\xa9.mp3", 0 },
    { "utf-8 .m3u", "caf\xc3\xa9.mp3\n", false, "", "caf\xc3\xa9.mp3", 0 },
    { "not utf-8 in .m3u8: the bytes", "caf\xe9.mp3\nok.mp3\n", true, "", "caf\xe9.mp3|ok.mp3", 0 },
    { "urls", "http://host/a.mp3\nfile:///music/My%20Song.mp3\nfile://localhost/music/b.mp3\n",
      false, "", "My Song.mp3|b.mp3", 1 },
    { "no final newline", "a.mp3", false, "", "a.mp3", 0 },
};

LG_TEST(m3u_parse_table)
{
    for (size_t i = 0; i < LG_ARRAY_LEN(m3u_rows); i++) {
        struct lg_m3u m;
        const char *text = m3u_rows[i].text;
        CHECK_INT(lg_m3u_parse(text, strlen(text), m3u_rows[i].utf8, "/music/", "/real/music",
                               m3u_rows[i].dir, &m),
                  0);
        char got[1024] = "";
        size_t len = 0;
        for (size_t k = 0; k < m.n; k++)
            len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s", k ? "|" : "", m.paths[k]);
        if (strcmp(got, m3u_rows[i].want) != 0 || m.n_skipped != m3u_rows[i].skipped)
            fprintf(stderr, "  row \"%s\":\n", m3u_rows[i].name);
        CHECK_STR(got, m3u_rows[i].want);
        CHECK_INT(m.n_skipped, m3u_rows[i].skipped);
        CHECK((m.n_skipped > 0) == (m.first_skipped != NULL));
        lg_m3u_free(&m);
    }
    CHECK(lg_m3u_is_playlist_name("Mix.M3U"));
    CHECK(lg_m3u_is_playlist_name("a.m3u8"));
    CHECK(!lg_m3u_is_playlist_name(".hidden.m3u"));
    CHECK(!lg_m3u_is_playlist_name("a.mp3"));
}

/* --- M3U import --- */

static void write_file(const char *dir, const char *rel, const char *text, time_t mtime)
{
    char *path = lg_xasprintf("%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    lg_assert(f != NULL);
    fputs(text, f);
    fclose(f);
    char *cmd = lg_xasprintf("touch -d @%lld '%s'", (long long)mtime, path);
    int r = system(cmd);
    lg_assert(r == 0);
    free(cmd);
    free(path);
}

/* The one playlist user_id sees named name: its id (0 when none). */
static int64_t find_playlist(struct lg_store *s, int64_t user_id, const char *name,
                             struct lg_playlist *out)
{
    struct lg_playlist *v = NULL;
    size_t n = 0;
    int64_t id = 0;
    int r = lg_store_playlists_list(s, user_id, &v, &n);
    lg_assert(r == 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, name) == 0) {
            id = v[i].id;
            if (out) {
                *out = v[i];
                v[i] = (struct lg_playlist){ 0 };
            }
        }
    }
    lg_playlists_free(v, n);
    return id;
}

/* Runs the shell command cmd (taking it), which must succeed. */
static void shell(char *cmd)
{
    CHECK_INT(system(cmd), 0);
    free(cmd);
}

/* Imports playlist name from dir, then again with the folder target moved
 * out of the way (a disk not mounted): the playlist stays, with its id. */
static void kept_while_gone(struct lg_store *s, const char *dir, int64_t user, const char *name,
                            const char *target)
{
    CHECK_INT(lg_library_import_playlists(s, dir, true), 0);
    int64_t id = find_playlist(s, user, name, NULL);
    CHECK(id > 0);
    shell(lg_xasprintf("mv '%s' '%s.off'", target, target));
    CHECK_INT(lg_library_import_playlists(s, dir, true), 0);
    CHECK_INT(find_playlist(s, user, name, NULL), id);
}

LG_TEST(m3u_import)
{
    struct lg_store *s = lg_fx_store(tmp, "import");
    char *dir = lg_xasprintf("%s/music", tmp);
    shell(lg_xasprintf("rm -rf '%s' && mkdir -p '%s/lists' '%s/A'", dir, dir, dir));
    int64_t t1 = add_track(s, "A/1.mp3", "A", 1000);
    int64_t t2 = add_track(s, "A/2.mp3", "A", 1000);
    /* A file named in Latin-1 (kept as its bytes), named by a Latin-1 .m3u
     * (read as Latin-1: U+00E9), a UTF-8 .m3u8 and a .m3u8 with the bytes. */
    int64_t t4 = add_track(s, "A/caf\xe9.mp3", "A", 1000);
    write_file(dir, "Latin.m3u", "A/caf\xe9.mp3\n", 1000);
    write_file(dir, "Utf.m3u8", "A/caf\xc3\xa9.mp3\n", 1000);
    write_file(dir, "Bytes.m3u8", "A/caf\xe9.mp3\n", 1000);
    write_file(dir, "lists/Road Trip.m3u", "#EXTM3U\n../A/2.mp3\n../A/missing.mp3\n../A/1.mp3\n",
               1000);
    char *abs = lg_xasprintf("%s/A/1.mp3\n", dir);
    write_file(dir, "Abs.m3u8", abs, 1000);
    free(abs);

    /* Without an administrator nothing is imported. */
    int64_t bob = lg_fx_user(s, "bob", 0);
    CHECK_INT(lg_library_import_playlists(s, dir, false), 0);
    CHECK_INT(find_playlist(s, bob, "Road Trip", NULL), 0);

    int64_t root = lg_fx_user(s, "root", 1);
    lg_fx_user(s, "root2", 1);
    CHECK_INT(lg_library_import_playlists(s, dir, false), 0);
    struct lg_playlist p = { 0 };
    int64_t id = find_playlist(s, bob, "Road Trip", &p); /* public: bob sees it */
    CHECK(id > 0);
    CHECK_INT(p.owner_id, root);
    CHECK_INT(p.is_public, 1);
    CHECK_STR(p.source_path, "lists/Road Trip.m3u");
    int64_t changed = p.changed_at;
    lg_playlist_free(&p);
    char *want = lg_xasprintf("%lld,%lld", (long long)t2, (long long)t1);
    CHECK_ENTRIES(s, bob, id, want);
    free(want);
    int64_t abs_id = find_playlist(s, bob, "Abs", NULL);
    CHECK(abs_id > 0);
    want = lg_xasprintf("%lld", (long long)t1);
    CHECK_ENTRIES(s, bob, abs_id, want);
    free(want);
    want = lg_xasprintf("%lld", (long long)t4);
    static const char *const latin_lists[] = { "Latin", "Utf", "Bytes" };
    for (size_t i = 0; i < LG_ARRAY_LEN(latin_lists); i++) {
        int64_t lid = find_playlist(s, bob, latin_lists[i], NULL);
        CHECK(lid > 0);
        CHECK_ENTRIES(s, bob, lid, want);
    }
    free(want);

    /* Unchanged files are left alone, even when forced. */
    CHECK_INT(lg_library_import_playlists(s, dir, true), 0);
    CHECK_INT(find_playlist(s, bob, "Road Trip", &p), id);
    CHECK_INT(p.changed_at, changed);
    lg_playlist_free(&p);

    /* A changed file updates the same playlist; a newly known track counts. */
    int64_t t3 = add_track(s, "A/missing.mp3", "A", 1000);
    write_file(dir, "lists/Road Trip.m3u", "../A/missing.mp3\r\n", 2000);
    CHECK_INT(lg_library_import_playlists(s, dir, false), 0);
    CHECK_INT(find_playlist(s, bob, "Road Trip", NULL), id);
    want = lg_xasprintf("%lld", (long long)t3);
    CHECK_ENTRIES(s, bob, id, want);
    free(want);

    /* A vanished file takes its playlist along; user playlists stay. */
    int64_t mine = 0;
    CHECK_INT(lg_store_playlist_create(s, bob, "Mine", &t1, 1, &mine), 0);
    char *gone = lg_xasprintf("%s/lists/Road Trip.m3u", dir);
    CHECK_INT(unlink(gone), 0);
    free(gone);
    CHECK_INT(lg_library_import_playlists(s, dir, false), 0);
    CHECK_INT(find_playlist(s, bob, "Road Trip", NULL), 0);
    CHECK_INT(find_playlist(s, bob, "Abs", NULL), abs_id);
    CHECK_INT(find_playlist(s, bob, "Mine", NULL), mine);
    /* A playlist under a linked folder whose target is missing (a disk not
     * mounted) stays, with its id, as the tracks there do. */
    shell(lg_xasprintf("mkdir -p '%s/usb.disk/Album' && ln -s '%s/usb.disk' '%s/usb'", tmp, tmp,
                       dir));
    char *usb = lg_xasprintf("%s/usb.disk", tmp);
    write_file(usb, "Album/pl.m3u", "../../A/1.mp3\n", 1000);
    kept_while_gone(s, dir, bob, "pl", usb);
    /* So does a playlist that is itself a link to a missing file. */
    shell(lg_xasprintf("mv '%s.off' '%s' && ln -s '%s/Album/pl.m3u' '%s/linked.m3u'", usb, usb, usb,
                       dir));
    kept_while_gone(s, dir, bob, "linked", usb);
    free(usb);
    /* A missing music folder changes nothing. */
    char *nowhere = lg_xasprintf("%s/nowhere", tmp);
    CHECK_INT(lg_library_import_playlists(s, nowhere, false), 0);
    CHECK_INT(find_playlist(s, bob, "Abs", NULL), abs_id);
    free(nowhere);
    free(dir);
    lg_store_close(s);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(playlist_order_and_summary), LG_CASE(playlist_edit),
             LG_CASE(playlist_isolation), LG_CASE(cascades), LG_CASE(bookmarks),
             LG_CASE(play_queue), LG_CASE(m3u_parse_table), LG_CASE(m3u_import))
