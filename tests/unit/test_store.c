/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the SQLite store: migrations (and the album table's rebuild
 * in 0015), track upsert with stable ids, album grouping, pruning, users and API keys, per-thread
 * connections, writers contending for the write lock, lazy durability, and the generation that
 * moves on with every commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"

#include "harness.h"

static char *tmp;

static struct lg_store *open_fresh(const char *name)
{
    char *path = lg_xasprintf("%s/%s/sub/legato.db", tmp, name);
    struct lg_store *s = NULL;
    int r = lg_store_open(path, &s);
    lg_assert(r == 0);
    free(path);
    return s;
}

static struct lg_track track(const char *path, const char *artist, const char *album_artist,
                             const char *album)
{
    struct lg_track t = { 0 };
    t.path = (char *)path;
    t.size = 1000;
    t.mtime_ns = 1;
    t.title = (char *)"Title";
    t.artist = (char *)artist;
    t.album_artist = (char *)album_artist;
    t.album = (char *)album;
    t.suffix = (char *)"mp3";
    return t;
}

LG_TEST(setup)
{
    tmp = lg_test_tmpdir("store");
}

LG_TEST(migrations)
{
    struct lg_store *s = open_fresh("mig");
    CHECK(lg_store_migrations_count() >= 1);
    CHECK_INT(lg_store_schema_version(s), lg_store_migrations_count());
    lg_store_close(s);
    /* Reopening applies nothing and keeps the version. */
    s = open_fresh("mig");
    CHECK_INT(lg_store_schema_version(s), lg_store_migrations_count());
    char *v = NULL;
    CHECK_INT(lg_store_meta_get(s, "nothing", &v), LG_ENOTFOUND);
    CHECK_INT(lg_store_meta_set(s, "k", "v1"), 0);
    CHECK_INT(lg_store_meta_set(s, "k", "v2"), 0);
    CHECK_INT(lg_store_meta_get(s, "k", &v), 0);
    CHECK_STR(v, "v2");
    free(v);
    lg_store_close(s);
}

LG_TEST(track_upsert_stable_ids)
{
    struct lg_store *s = open_fresh("tracks");
    struct lg_track t = track("A/B/01.mp3", "Artist", "", "Album");
    t.track_no = 1;
    t.year = 2001;
    int64_t id1 = 0, id2 = 0, id3 = 0;
    CHECK_INT(lg_store_begin(s), 0);
    CHECK_INT(lg_store_track_upsert(s, &t, &id1), 0);
    struct lg_track u = track("A/B/02.mp3", "Artist", "", "Album");
    CHECK_INT(lg_store_track_upsert(s, &u, &id2), 0);
    CHECK_INT(lg_store_commit(s), 0);
    CHECK(id1 > 0 && id2 > 0 && id1 != id2);
    /* Updating the same path keeps the id. */
    t.title = (char *)"New Title";
    t.size = 2000;
    CHECK_INT(lg_store_track_upsert(s, &t, &id3), 0);
    CHECK_INT(id3, id1);
    struct lg_track got;
    CHECK_INT(lg_store_track_get(s, id1, &got), 0);
    CHECK_STR(got.title, "New Title");
    CHECK_STR(got.path, "A/B/01.mp3");
    CHECK_INT(got.size, 2000);
    CHECK_INT(got.track_no, 1);
    CHECK_INT(got.year, 2001);
    CHECK_STR(got.genre, "");
    struct lg_track got2;
    CHECK_INT(lg_store_track_get(s, id2, &got2), 0);
    CHECK_INT(got.album_id, got2.album_id);
    CHECK_INT(got.artist_id, got2.artist_id);
    lg_track_free(&got);
    lg_track_free(&got2);
    CHECK_INT(lg_store_track_get(s, 99999, &got), LG_ENOTFOUND);
    lg_store_close(s);
}

LG_TEST(grouping)
{
    struct lg_store *s = open_fresh("group");
    /* A compilation: different track artists, one album. */
    struct lg_track a = track("c/1.mp3", "One", "", "Hits");
    a.compilation = 1;
    struct lg_track b = track("c/2.mp3", "Two", "", "Hits");
    b.compilation = 1;
    /* Album artist wins over track artist. */
    struct lg_track c = track("d/1.mp3", "Guest", "Band", "Record");
    struct lg_track d = track("d/2.mp3", "Band", "Band", "Record");
    /* Untagged. */
    struct lg_track e = track("e.mp3", "", "", "");
    int64_t ids[5];
    struct lg_track *all[] = { &a, &b, &c, &d, &e };
    for (int i = 0; i < 5; i++)
        CHECK_INT(lg_store_track_upsert(s, all[i], &ids[i]), 0);
    struct lg_track g[5];
    for (int i = 0; i < 5; i++)
        CHECK_INT(lg_store_track_get(s, ids[i], &g[i]), 0);
    CHECK_INT(g[0].album_id, g[1].album_id);
    CHECK_INT(g[2].album_id, g[3].album_id);
    CHECK(g[0].album_id != g[2].album_id);
    struct lg_store_counts n;
    CHECK_INT(lg_store_counts(s, &n), 0);
    CHECK_INT(n.albums, 3);
    CHECK_INT(n.artists, 3); /* Various Artists, Band, Unknown Artist */
    for (int i = 0; i < 5; i++)
        lg_track_free(&g[i]);
    /* Deleting the tracks of an album and pruning removes album and artist. */
    CHECK_INT(lg_store_track_delete(s, ids[2]), 0);
    CHECK_INT(lg_store_track_delete(s, ids[3]), 0);
    CHECK_INT(lg_store_prune(s), 2);
    CHECK_INT(lg_store_counts(s, &n), 0);
    CHECK_INT(n.tracks, 3);
    CHECK_INT(n.albums, 2);
    CHECK_INT(n.artists, 2);
    lg_store_close(s);
}

/* Albums of one name by one album artist: one per MusicBrainz release, and
 * one for the tracks without the tag. */
LG_TEST(grouping_by_release)
{
    struct lg_store *s = open_fresh("release");
    struct lg_track t[5] = {
        track("gh81/1.mp3", "Queen", "Queen", "Greatest Hits"),
        track("gh81/2.mp3", "Queen", "Queen", "Greatest Hits"),
        track("gh04/1.mp3", "Queen", "Queen", "Greatest Hits"),
        track("rip/1.mp3", "Queen", "Queen", "Greatest Hits"),
        track("rip/2.mp3", "Queen", "Queen", "Greatest Hits"),
    };
    t[0].mb_album_id = t[1].mb_album_id = (char *)"a6c5f0ad-0000-4000-8000-000000001981";
    t[2].mb_album_id = (char *)"a6c5f0ad-0000-4000-8000-000000002004";
    int64_t id[5], album[5];
    for (int i = 0; i < 5; i++) {
        CHECK_INT(lg_store_track_upsert(s, &t[i], &id[i]), 0);
        struct lg_track g;
        CHECK_INT(lg_store_track_get(s, id[i], &g), 0);
        album[i] = g.album_id;
        lg_track_free(&g);
    }
    CHECK_INT(album[0], album[1]);
    CHECK(album[2] != album[0]);
    CHECK_INT(album[3], album[4]);
    CHECK(album[3] != album[0] && album[3] != album[2]);
    struct lg_store_counts n;
    CHECK_INT(lg_store_counts(s, &n), 0);
    CHECK_INT(n.albums, 3);
    CHECK_INT(n.artists, 1);
    lg_store_close(s);
}

/* Runs sql on db, which must succeed. */
static void sql_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, msg ? msg : "?");
        lg_assert(0);
    }
}

static int64_t sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    lg_assert(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

/* A database of schema 14, where one album held two releases and untagged
 * tracks, migrated: the album keeps its id, star, analysis and the tracks of
 * its main release; the others are probed again and find their own albums. */
LG_TEST(album_release_migration)
{
    char *dir = lg_xasprintf("%s/v14", tmp);
    lg_assert(mkdir(dir, 0700) == 0);
    char *path = lg_xasprintf("%s/legato.db", dir);
    sqlite3 *db;
    lg_assert(sqlite3_open(path, &db) == SQLITE_OK);
    sql_ok(db, "PRAGMA foreign_keys = ON");
    for (int i = 0; i < 14; i++)
        sql_ok(db, (const char *)lg_migration_files[i].data);
    sql_ok(db, "PRAGMA user_version = 14;"
               "INSERT INTO users(id, name, pass_hash, pass_box) VALUES (1, 'u', 'h', x'00');"
               "INSERT INTO artists(id, name) VALUES (3, 'Queen');"
               "INSERT INTO albums(id, artist_id, name, genre, mbid) "
               "VALUES (7, 3, 'Greatest Hits', 'Rock', 'x');"
               "INSERT INTO tracks(id, path, size, mtime_ns, ctime_ns, album_id, title, album, "
               "genre, mb_album_id) "
               "VALUES (10, 'a/1.mp3', 9, 5, 6, 7, 'A1', 'Greatest Hits', 'Rock', 'x'),"
               "       (11, 'a/2.mp3', 9, 5, 6, 7, 'A2', 'Greatest Hits', 'Rock', 'x'),"
               "       (12, 'b/1.mp3', 9, 5, 6, 7, 'B1', 'Greatest Hits', '', 'y'),"
               "       (13, 'c/1.mp3', 9, 5, 6, 7, 'C1', 'Greatest Hits', '', '');"
               "INSERT INTO annotations(user_id, type, item_id, starred_at) "
               "VALUES (1, 'album', 7, 100);"
               "INSERT INTO album_analysis(album_id, integrated_lufs) VALUES (7, -9.5);"
               /* A row broken before (a user deleted by hand, with the sqlite3
                * tool's foreign keys off): the migration goes on. */
               "PRAGMA foreign_keys = OFF;"
               "INSERT INTO api_keys(user_id, key_hash) VALUES (99, x'01');");
    CHECK_INT(sql_int(db, "SELECT song_count FROM albums WHERE id = 7"), 4);
    sqlite3_close(db);

    struct lg_store *s = NULL;
    int r = lg_store_open(path, &s);
    CHECK_INT(r, 0);
    if (r != 0) {
        free(path);
        free(dir);
        return;
    }
    CHECK_INT(lg_store_schema_version(s), lg_store_migrations_count());
    int64_t fk = 0;
    CHECK_INT(lg_store_int(s, "PRAGMA foreign_keys", &fk), 0);
    CHECK_INT(fk, 1); /* on again after the migrations */
    /* The tracks of another release, or of none, are due for a probe (a
     * status change time no file has); size and mtime stay, for the scan's
     * move detection. */
    int64_t m[4], mt = 0;
    CHECK_INT(lg_store_int(s, "SELECT ctime_ns FROM tracks WHERE id = 10", &m[0]), 0);
    CHECK_INT(lg_store_int(s, "SELECT ctime_ns FROM tracks WHERE id = 11", &m[1]), 0);
    CHECK_INT(lg_store_int(s, "SELECT ctime_ns FROM tracks WHERE id = 12", &m[2]), 0);
    CHECK_INT(lg_store_int(s, "SELECT ctime_ns FROM tracks WHERE id = 13", &m[3]), 0);
    CHECK(m[0] == 6 && m[1] == 6 && m[2] == -1 && m[3] == -1);
    CHECK_INT(lg_store_int(s, "SELECT sum(mtime_ns) FROM tracks", &mt), 0);
    CHECK_INT(mt, 20);
    int64_t kept = 0;
    CHECK_INT(lg_store_int(s, "SELECT count(*) FROM album_analysis WHERE album_id = 7", &kept), 0);
    CHECK_INT(kept, 1); /* the rebuild cascades nothing */
    /* The scan's probes of the two tracks of other releases. */
    struct lg_track b = track("b/1.mp3", "Queen", "Queen", "Greatest Hits");
    b.mb_album_id = (char *)"y";
    struct lg_track c = track("c/1.mp3", "Queen", "Queen", "Greatest Hits");
    struct lg_track a = track("a/1.mp3", "Queen", "Queen", "Greatest Hits");
    a.mb_album_id = (char *)"x";
    a.genre = (char *)"Rock";
    int64_t ib, ic, ia;
    CHECK_INT(lg_store_track_upsert(s, &b, &ib), 0);
    CHECK_INT(lg_store_track_upsert(s, &c, &ic), 0);
    CHECK_INT(lg_store_track_upsert(s, &a, &ia), 0);
    CHECK_INT(ib, 12);
    CHECK_INT(ic, 13);
    CHECK_INT(ia, 10);
    CHECK(lg_store_prune(s) >= 0);
    lg_store_close(s);

    lg_assert(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK_INT(sql_int(db, "SELECT count(*) FROM albums WHERE id = 7 AND release = 'x'"), 1);
    CHECK_INT(sql_int(db, "SELECT album_id FROM tracks WHERE id = 10"), 7);
    CHECK_INT(sql_int(db, "SELECT album_id FROM tracks WHERE id = 11"), 7);
    CHECK(sql_int(db, "SELECT album_id FROM tracks WHERE id = 12") > 7);
    CHECK(sql_int(db, "SELECT album_id FROM tracks WHERE id = 13") > 7);
    CHECK(sql_int(db, "SELECT album_id FROM tracks WHERE id = 12") !=
          sql_int(db, "SELECT album_id FROM tracks WHERE id = 13"));
    CHECK_INT(sql_int(db, "SELECT count(*) FROM albums WHERE name = 'Greatest Hits'"), 3);
    CHECK_INT(sql_int(db, "SELECT song_count FROM albums WHERE id = 7"), 2);
    CHECK_INT(sql_int(db, "SELECT count(*) FROM annotations WHERE item_id = 7"), 1);
    /* Two tracks left the album: its values went, for the analysis to
     * measure again (test_analysis.c). */
    CHECK_INT(sql_int(db, "SELECT count(*) FROM album_analysis WHERE album_id = 7"), 0);
    CHECK_INT(sql_int(db, "SELECT album_count FROM genres WHERE name = 'Rock'"), 1);
    CHECK_INT(sql_int(db, "SELECT count(*) FROM albums_fts WHERE albums_fts MATCH 'greatest'"), 3);
    CHECK_INT(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                          "AND tbl_name = 'albums'"),
              8);
    CHECK_INT(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                          "AND name LIKE 'tracks_album_analysis_%'"),
              2);
    CHECK_INT(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 1); /* the old one */
    CHECK_INT(sql_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE "
                          "integrity_check <> 'ok'"),
              0);
    sqlite3_close(db);
    free(path);
    free(dir);
}

static int count_files(void *ud, int64_t id, const char *path, int64_t size, int64_t mtime_ns,
                       int64_t ctime_ns, const char *cover_path)
{
    (void)cover_path;
    (void)id;
    (void)path;
    (void)size;
    (void)mtime_ns;
    (void)ctime_ns;
    (*(int *)ud)++;
    return 0;
}

LG_TEST(rollback_keeps_nothing)
{
    struct lg_store *s = open_fresh("rollback");
    struct lg_track t = track("x.mp3", "A", "", "B");
    CHECK_INT(lg_store_begin(s), 0);
    CHECK_INT(lg_store_track_upsert(s, &t, NULL), 0);
    lg_store_rollback(s);
    int n = 0;
    CHECK_INT(lg_store_files_each(s, count_files, &n), 0);
    CHECK_INT(n, 0);
    lg_store_close(s);
}

LG_TEST(users_and_keys)
{
    struct lg_store *s = open_fresh("users");
    struct lg_user u = { 0 };
    u.name = (char *)"alice";
    u.pass_hash = (char *)"$argon2id$fake";
    unsigned char box[4] = { 1, 2, 3, 4 };
    u.pass_box = box;
    u.pass_box_len = sizeof(box);
    u.is_admin = 1;
    int64_t id = 0;
    CHECK_INT(lg_store_user_add(s, &u, &id), 0);
    CHECK(id > 0);
    CHECK_INT(lg_store_user_add(s, &u, NULL), LG_EEXIST);
    struct lg_user got;
    CHECK_INT(lg_store_user_get_by_name(s, "alice", &got), 0);
    CHECK_INT(got.id, id);
    CHECK_INT(got.is_admin, 1);
    CHECK_INT(got.pass_box_len, 4);
    CHECK(memcmp(got.pass_box, box, 4) == 0);
    lg_user_free(&got);
    CHECK_INT(lg_store_user_get_by_name(s, "bob", &got), LG_ENOTFOUND);
    CHECK_INT(lg_store_user_set_password(s, id, "$argon2id$new", box, 2), 0);
    CHECK_INT(lg_store_user_get(s, id, &got), 0);
    CHECK_STR(got.pass_hash, "$argon2id$new");
    lg_user_free(&got);
    CHECK_INT(lg_store_user_set_password(s, 9999, "x", box, 2), LG_ENOTFOUND);

    unsigned char h[32] = { 7 };
    int64_t who = 0;
    CHECK_INT(lg_store_apikey_find(s, h, &who), LG_ENOTFOUND);
    CHECK_INT(lg_store_apikey_add(s, id, h, "phone"), 0);
    CHECK_INT(lg_store_apikey_find(s, h, &who), 0);
    CHECK_INT(who, id);
    CHECK_INT(lg_store_apikey_add(s, id, h, "again"), LG_EEXIST);
    lg_store_close(s);
}

static void *reader(void *p)
{
    struct lg_store *s = p;
    struct lg_store_counts n;
    intptr_t bad = 0;
    for (int i = 0; i < 200; i++)
        bad += lg_store_counts(s, &n) != 0 || n.tracks != 1;
    return (void *)bad;
}

LG_TEST(threads_have_own_connections)
{
    struct lg_store *s = open_fresh("threads");
    struct lg_track t = track("t.mp3", "A", "", "B");
    CHECK_INT(lg_store_track_upsert(s, &t, NULL), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, reader, s);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        CHECK(bad == NULL);
    }
    lg_store_close(s);
}

static void *writer(void *arg)
{
    struct lg_store *s = arg;
    for (int i = 0; i < 100; i++) {
        char key[64];
        snprintf(key, sizeof(key), "w%p-%d", (void *)&key, i);
        if (lg_store_meta_set(s, key, "v") < 0)
            return (void *)1;
    }
    return NULL;
}

/* Eight threads, each on its own connection, write at once: every write
 * waits for the lock and none fails with SQLITE_BUSY. */
LG_TEST(contending_writers)
{
    struct lg_store *s = open_fresh("writers");
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, writer, s);
    for (int i = 0; i < 8; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        CHECK(bad == NULL);
    }
    lg_store_close(s);
}

static int synchronous(struct lg_store *s)
{
    sqlite3_stmt *st = lg_store_stmt(s, "PRAGMA synchronous");
    int v = -1;
    if (st && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return v;
}

LG_TEST(lazy_durability)
{
    struct lg_store *s = open_fresh("lazy");
    CHECK_INT(synchronous(s), 2); /* FULL */
    CHECK_INT(lg_store_lazy(s, true), 0);
    CHECK_INT(synchronous(s), 1); /* NORMAL */
    CHECK_INT(lg_store_lazy(s, false), 0);
    CHECK_INT(synchronous(s), 2);
    lg_store_close(s);
}

LG_TEST(newer_schema_refused)
{
    struct lg_store *s = open_fresh("newer");
    lg_store_close(s);
    char *cmd = lg_xasprintf("sqlite3 %s/newer/sub/legato.db 'PRAGMA user_version = 999'", tmp);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    char *path = lg_xasprintf("%s/newer/sub/legato.db", tmp);
    struct lg_store *s2 = NULL;
    CHECK_INT(lg_store_open(path, &s2), LG_ESTORE);
    CHECK(s2 == NULL);
    free(path);
}

static uint64_t gen_of(struct lg_store *s)
{
    uint64_t g = 0;
    lg_assert(lg_store_generation(s, &g) == 0);
    return g;
}

static void *meta_writer(void *arg)
{
    return lg_store_meta_set(arg, "from", "thread") == 0 ? NULL : (void *)1;
}

/* Reads leave the generation; a commit moves it, from this thread, another
 * thread or another process (a connection the store does not know). */
LG_TEST(generation)
{
    struct lg_store *s = open_fresh("generation");
    uint64_t g0 = gen_of(s);
    char *v = NULL;
    CHECK_INT(lg_store_meta_get(s, "none", &v), LG_ENOTFOUND);
    CHECK(gen_of(s) == g0);
    CHECK_INT(lg_store_meta_set(s, "k", "1"), 0);
    uint64_t g1 = gen_of(s);
    CHECK(g1 != g0);
    CHECK(gen_of(s) == g1);

    pthread_t th;
    void *bad = (void *)1;
    pthread_create(&th, NULL, meta_writer, s);
    pthread_join(th, &bad);
    CHECK(bad == NULL);
    uint64_t g2 = gen_of(s);
    CHECK(g2 != g1);

    /* Another process: its own connection, none of the store's hooks. */
    char *path = lg_xasprintf("%s/generation/sub/legato.db", tmp);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "INSERT INTO meta (key, value) VALUES ('ext', 'x')", NULL, NULL, NULL) ==
          SQLITE_OK);
    sqlite3_close(db);
    free(path);
    uint64_t g3 = gen_of(s);
    CHECK(g3 != g2);
    CHECK(gen_of(s) == g3);
    CHECK_INT(lg_store_meta_get(s, "ext", &v), 0);
    CHECK_STR(v, "x");
    free(v);
    /* A rolled-back transaction changes nothing it would have to report,
     * but may move the number: only "unchanged means unchanged" is owed. */
    CHECK_INT(lg_store_begin(s), 0);
    CHECK_INT(lg_store_meta_set(s, "gone", "1"), 0);
    lg_store_rollback(s);
    CHECK_INT(lg_store_meta_get(s, "gone", &v), LG_ENOTFOUND);
    lg_store_close(s);
}

/* The store's WAL hook replaces SQLite's automatic checkpoint: the log must
 * still be checkpointed and reused, not grow with every write. */
LG_TEST(wal_checkpoints)
{
    struct lg_store *s = open_fresh("wal");
    enum { VALUE = 64 * 1024 };
    char *value = lg_xmalloc(VALUE);
    char key[32];
    /* 1,000 commits of 64 KiB: 64 MB of log without checkpoints. */
    for (int i = 0; i < 1000; i++) {
        memset(value, 'a' + i % 26, VALUE - 1); /* a new value each time */
        value[VALUE - 1] = '\0';
        snprintf(key, sizeof(key), "k%d", i % 50);
        CHECK_INT(lg_store_meta_set(s, key, value), 0);
    }
    char *wal = lg_xasprintf("%s/wal/sub/legato.db-wal", tmp);
    struct stat st;
    CHECK(stat(wal, &st) == 0);
    CHECK(st.st_size < 16 * 1024 * 1024);
    free(wal);
    free(value);
    lg_store_close(s);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(migrations), LG_CASE(album_release_migration),
             LG_CASE(track_upsert_stable_ids), LG_CASE(grouping_by_release), LG_CASE(grouping),
             LG_CASE(rollback_keeps_nothing), LG_CASE(users_and_keys),
             LG_CASE(threads_have_own_connections), LG_CASE(contending_writers),
             LG_CASE(lazy_durability), LG_CASE(newer_schema_refused), LG_CASE(generation),
             LG_CASE(wal_checkpoints))
