/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of library/: a scan of a small generated folder (tags, untagged
 * titles, sidecar covers, hidden and broken files), incremental rescans
 * (stable ids, changed files re-probed, vanished files removed, an unchanged
 * folder causing no write), symbolic link loops, a missing folder, progress
 * reports and the background scanner. Audio files are made with the ffmpeg
 * command line; without it the test is skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "dsp/dsp.h"
#include "library/library.h"
#include "store/store.h"

#include "harness.h"

static char *tmp;

/* Runs a shell command in tmp. */
static void sh(const char *script)
{
    char *cmd = lg_xasprintf("cd '%s' && %s", tmp, script);
    int r = system(cmd);
    if (r != 0)
        fprintf(stderr, "  command failed: %s\n", cmd);
    lg_assert(r == 0);
    free(cmd);
}

static struct lg_store *open_store(const char *name)
{
    char *path = lg_xasprintf("%s/%s.db", tmp, name);
    struct lg_store *s = NULL;
    int r = lg_store_open(path, &s);
    lg_assert(r == 0);
    free(path);
    return s;
}

static char *music(const char *name)
{
    return lg_xasprintf("%s/%s", tmp, name);
}

struct find {
    const char *path;
    int64_t id;
    int n;
};

static int find_fn(void *ud, int64_t id, const char *path, int64_t size, int64_t mtime_ns,
                   int64_t ctime_ns, const char *cover)
{
    (void)cover;
    struct find *f = ud;
    f->n++;
    if (strcmp(path, f->path) == 0)
        f->id = id;
    return 0;
}

/* The id of the track at path (0 when absent); *n_tracks gets the count. */
static int64_t id_of(struct lg_store *s, const char *path, int *n_tracks)
{
    struct find f = { path, 0, 0 };
    int r = lg_store_files_each(s, find_fn, &f);
    lg_assert(r == 0);
    if (n_tracks)
        *n_tracks = f.n;
    return f.id;
}

static struct lg_scan_stats scan(struct lg_store *s, const char *dir)
{
    struct lg_scan_stats st = { 0 };
    char *m = music(dir);
    int r = lg_library_scan(s, m, 2, NULL, NULL, &st);
    CHECK_INT(r, 0);
    free(m);
    return st;
}

#define SINE  "ffmpeg -nostdin -loglevel error -y -f lavfi -i sine=duration=0.5 "
#define IMAGE "ffmpeg -nostdin -loglevel error -y -f lavfi -i color=c=red:s=8x8 -frames:v 1 "

LG_TEST(setup)
{
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        printf("ffmpeg not found: skipping\n");
        exit(77);
    }
    lg_log_setup(getenv("LG_TEST_VERBOSE") ? LG_LOG_DEBUG : LG_LOG_ERROR,
                 0); /* failures below are expected */
    tmp = lg_test_tmpdir("library");
    sh(SINE "-metadata title=One -metadata artist=Ann -metadata album=First -metadata track=1 "
            "one.mp3 && " SINE "-metadata title=Two -metadata artist=Ann -metadata album=First "
            "-metadata track=2 two.flac && " SINE "-metadata title=Changed -metadata artist=Ann "
            "-metadata album=First -metadata track=1 -b:a 64k changed.mp3 && " SINE
            "plain.mp3 && " IMAGE "red.jpg && " IMAGE "red.png");
    sh("mkdir -p m/Ann/First m/.hidden m/Other && cp one.mp3 m/Ann/First/01.mp3 && "
       "cp two.flac m/Ann/First/02.FLAC && cp red.jpg m/Ann/First/cover.JPG && "
       "cp red.png m/Ann/First/folder.png "
       "&& cp plain.mp3 'm/My Song.mp3' && cp plain.mp3 m/.hidden/h.mp3 && cp plain.mp3 m/.h.mp3 "
       "&& echo notes > m/notes.txt && : > m/Other/empty.mp3 && echo text > m/Other/text.mp3 && "
       "head -c 300 two.flac > m/Other/cut.flac && cp plain.mp3 m/Other/front.png");
}

LG_TEST(first_scan)
{
    struct lg_store *s = open_store("first");
    struct lg_scan_stats st = scan(s, "m");
    CHECK_INT(st.files, 6); /* 01.mp3, 02.FLAC, My Song.mp3 and three broken */
    CHECK_INT(st.added, 3);
    CHECK_INT(st.failed, 3);
    CHECK_INT(st.updated + st.removed + st.unchanged, 0);
    CHECK(st.seconds >= 0);

    struct lg_track t = { 0 };
    CHECK_INT(lg_store_track_get(s, id_of(s, "Ann/First/01.mp3", NULL), &t), 0);
    CHECK_STR(t.title, "One");
    CHECK_STR(t.artist, "Ann");
    CHECK_STR(t.album, "First");
    CHECK_INT(t.track_no, 1);
    CHECK_STR(t.codec, "mp3");
    CHECK_STR(t.suffix, "mp3");
    CHECK_STR(t.content_type, "audio/mpeg");
    CHECK_STR(t.cover_path, "Ann/First/cover.JPG"); /* cover before folder */
    CHECK(t.duration_ms > 400 && t.duration_ms < 600);
    CHECK(t.size > 0 && t.mtime_ns > 0);
    lg_track_free(&t);

    CHECK_INT(lg_store_track_get(s, id_of(s, "Ann/First/02.FLAC", NULL), &t), 0);
    CHECK_STR(t.suffix, "flac");
    CHECK_STR(t.content_type, "audio/flac");
    CHECK_INT(t.bits_per_sample, 16);
    lg_track_free(&t);

    CHECK_INT(lg_store_track_get(s, id_of(s, "My Song.mp3", NULL), &t), 0);
    CHECK_STR(t.title, "My Song"); /* untagged: the file name */
    CHECK_STR(t.artist, "");
    CHECK_STR(t.cover_path, "");
    lg_track_free(&t);
    lg_store_close(s);
}

static void wal_size(const char *name, off_t *size)
{
    char *p = lg_xasprintf("%s/%s.db-wal", tmp, name);
    struct stat st;
    *size = stat(p, &st) == 0 ? st.st_size : -1;
    free(p);
}

LG_TEST(incremental)
{
    sh("rm -rf inc && cp -r m inc");
    struct lg_store *s = open_store("inc");
    struct lg_scan_stats st = scan(s, "inc");
    CHECK_INT(st.added, 3);
    int64_t id1 = id_of(s, "Ann/First/01.mp3", NULL);
    int64_t id2 = id_of(s, "Ann/First/02.FLAC", NULL);
    char *changed_at = NULL;
    CHECK_INT(lg_store_meta_get(s, "library.changed_at", &changed_at), 0);

    /* Nothing changed: nothing probed, nothing written. */
    off_t wal_before, wal_after;
    wal_size("inc", &wal_before);
    st = scan(s, "inc");
    wal_size("inc", &wal_after);
    CHECK_INT(st.unchanged, 3);
    CHECK_INT(st.added + st.updated + st.removed, 0);
    CHECK_INT(st.failed, 3); /* broken files are retried and logged again */
    CHECK_INT(wal_after, wal_before);
    CHECK_INT(id_of(s, "Ann/First/01.mp3", NULL), id1);

    /* A changed file is probed again and keeps its id; a deleted one goes. */
    sh("cp changed.mp3 inc/Ann/First/01.mp3 && rm 'inc/My Song.mp3' && cp plain.mp3 inc/new.mp3");
    st = scan(s, "inc");
    CHECK_INT(st.updated, 1);
    CHECK_INT(st.removed, 1);
    CHECK_INT(st.added, 1);
    CHECK_INT(st.unchanged, 1);
    int n = 0;
    CHECK_INT(id_of(s, "Ann/First/01.mp3", &n), id1);
    CHECK_INT(n, 3);
    CHECK_INT(id_of(s, "Ann/First/02.FLAC", NULL), id2);
    CHECK_INT(id_of(s, "My Song.mp3", NULL), 0);
    struct lg_track t = { 0 };
    CHECK_INT(lg_store_track_get(s, id1, &t), 0);
    CHECK_STR(t.title, "Changed");
    lg_track_free(&t);

    /* Only a changed mtime also counts as a change. */
    sh("touch -d '2001-01-01 00:00:00' inc/new.mp3");
    st = scan(s, "inc");
    CHECK_INT(st.updated, 1);
    CHECK_INT(st.unchanged, 2);
    free(changed_at);
    lg_store_close(s);
}

LG_TEST(removed_albums_pruned)
{
    sh("rm -rf pr && mkdir -p pr/a pr/b && cp one.mp3 pr/a/ && cp two.flac pr/ && "
       "cp plain.mp3 pr/b/");
    struct lg_store *s = open_store("pr");
    scan(s, "pr");
    struct lg_store_counts c;
    CHECK_INT(lg_store_counts(s, &c), 0);
    CHECK_INT(c.tracks, 3);
    int albums = (int)c.albums, artists = (int)c.artists;
    sh("rm -rf pr/a pr/two.flac");
    struct lg_scan_stats st = scan(s, "pr");
    CHECK_INT(st.removed, 2);
    CHECK_INT(lg_store_counts(s, &c), 0);
    CHECK_INT(c.tracks, 1); /* plain.mp3, untagged */
    CHECK_INT(c.albums, albums - 1);
    CHECK_INT(c.artists, artists - 1);
    lg_store_close(s);
}

/* A music folder that held tracks and now holds no audio file (a disk not
 * mounted, its mount point left empty) keeps them, and their ids; once it
 * holds files again, what is gone is removed. */
LG_TEST(emptied_folder_keeps_tracks)
{
    sh("rm -rf ef ef.off && mkdir -p ef/a && cp one.mp3 ef/a/ && cp two.flac ef/");
    struct lg_store *s = open_store("ef");
    scan(s, "ef");
    int64_t id = id_of(s, "a/one.mp3", NULL);
    CHECK(id > 0);
    sh("mv ef ef.off && mkdir -p ef/lost+found && echo x > ef/notes.txt");
    struct lg_scan_stats st = scan(s, "ef");
    CHECK_INT(st.files, 0);
    CHECK_INT(st.removed, 0);
    int n = 0;
    CHECK_INT(id_of(s, "a/one.mp3", &n), id);
    CHECK_INT(n, 2);
    sh("rm -rf ef && mv ef.off ef && rm ef/two.flac");
    st = scan(s, "ef");
    CHECK_INT(st.removed, 1);
    CHECK_INT(id_of(s, "a/one.mp3", &n), id);
    CHECK_INT(n, 1);
    lg_store_close(s);
}

LG_TEST(cover_added_later)
{
    sh("rm -rf cv && mkdir -p cv/a && cp one.mp3 cv/a/");
    struct lg_store *s = open_store("cv");
    scan(s, "cv");
    int64_t id = id_of(s, "a/one.mp3", NULL);
    struct lg_track t = { 0 };
    CHECK_INT(lg_store_track_get(s, id, &t), 0);
    CHECK_STR(t.cover_path, "");
    lg_track_free(&t);
    /* A cover placed beside an unchanged file is picked up without a probe. */
    sh("cp red.jpg cv/a/Folder.jpg");
    struct lg_scan_stats st = scan(s, "cv");
    CHECK_INT(st.unchanged, 1);
    CHECK_INT(lg_store_track_get(s, id, &t), 0);
    CHECK_STR(t.cover_path, "a/Folder.jpg");
    lg_track_free(&t);
    sh("rm cv/a/Folder.jpg");
    scan(s, "cv");
    CHECK_INT(lg_store_track_get(s, id, &t), 0);
    CHECK_STR(t.cover_path, "");
    lg_track_free(&t);
    lg_store_close(s);
}

/* Only an image file is a cover: not a link to another file (the server
 * would hand its bytes out), an empty file, a folder, a FIFO or text. */
LG_TEST(cover_must_be_an_image)
{
    sh("rm -rf cx && mkdir -p cx/a cx/a/Cover.png && cp one.mp3 cx/a/ && echo secret > "
       "cx/secret.key && ln -s ../secret.key cx/a/cover.jpg && : > cx/a/folder.jpg && "
       "echo text > cx/a/folder.png && mkfifo cx/a/front.jpeg && cp red.png cx/a/Front.PNG");
    struct lg_store *s = open_store("cx");
    scan(s, "cx");
    struct lg_track t = { 0 };
    CHECK_INT(lg_store_track_get(s, id_of(s, "a/one.mp3", NULL), &t), 0);
    CHECK_STR(t.cover_path, "a/Front.PNG");
    lg_track_free(&t);
    sh("rm cx/a/Front.PNG");
    scan(s, "cx");
    CHECK_INT(lg_store_track_get(s, id_of(s, "a/one.mp3", NULL), &t), 0);
    CHECK_STR(t.cover_path, "");
    lg_track_free(&t);
    lg_store_close(s);
}

/* A file moved or renamed (same size and time to the nanosecond) keeps its
 * track id, so what refers to it stays; two files that look alike are not
 * guessed at: removed and added. */
LG_TEST(moved_files_keep_ids)
{
    sh("rm -rf mv && mkdir -p mv/a && cp one.mp3 mv/a/ && cp two.flac mv/ && cp plain.mp3 mv/p.mp3 "
       "&& cp plain.mp3 mv/q.mp3 && touch -r mv/p.mp3 mv/q.mp3");
    struct lg_store *s = open_store("mv");
    scan(s, "mv");
    int64_t one = id_of(s, "a/one.mp3", NULL), two = id_of(s, "two.flac", NULL);
    int64_t p = id_of(s, "p.mp3", NULL);
    CHECK(one > 0 && two > 0 && p > 0);
    sh("mv mv/a mv/b && mv mv/two.flac mv/b/deux.flac && mv mv/p.mp3 mv/r.mp3 && "
       "mv mv/q.mp3 mv/s.mp3");
    struct lg_scan_stats st = scan(s, "mv");
    CHECK_INT(st.moved, 2);
    CHECK_INT(st.updated, 2);
    CHECK_INT(st.added, 2); /* r.mp3 and s.mp3: which was which? */
    CHECK_INT(st.removed, 2);
    CHECK_INT(id_of(s, "b/one.mp3", NULL), one);
    CHECK_INT(id_of(s, "b/deux.flac", NULL), two);
    CHECK_INT(id_of(s, "a/one.mp3", NULL), 0);
    CHECK(id_of(s, "r.mp3", NULL) != p && id_of(s, "s.mp3", NULL) != p);
    struct lg_track t = { 0 };
    CHECK_INT(lg_store_track_get(s, two, &t), 0);
    CHECK_STR(t.title, "Two");
    CHECK_STR(t.suffix, "flac");
    lg_track_free(&t);
    /* Nothing moves on a scan that changes nothing. */
    st = scan(s, "mv");
    CHECK_INT(st.moved + st.added + st.removed + st.updated, 0);
    lg_store_close(s);
}

LG_TEST(symlink_loops)
{
    sh("rm -rf ln ext && mkdir -p ln/a/b ext && cp one.mp3 ln/a/b/x.mp3 && cp plain.mp3 ext/y.mp3 "
       "&& ln -s .. ln/a/b/up && ln -s . ln/a/self && ln -s ../../a ln/a/b/again && "
       "ln -s ../ext ln/outside && ln -s a/b/x.mp3 ln/linked.mp3 && ln -s nowhere ln/dangling.mp3 "
       "&& ln -s z ln/0-link-to-z && mkdir ln/z && cp two.flac ln/z/");
    struct lg_store *s = open_store("ln");
    struct lg_scan_stats st = scan(s, "ln");
    /* x.mp3 once through its directory, y.mp3 through the link to ext,
     * linked.mp3 as a file of its own, z/two.flac; the dangling link fails. */
    CHECK_INT(st.added, 4);
    CHECK_INT(st.failed, 1);
    CHECK(id_of(s, "a/b/x.mp3", NULL) > 0);
    /* A folder reachable through a link and directly is listed by its real
     * path, though the link comes first in the walk. */
    CHECK(id_of(s, "z/two.flac", NULL) > 0);
    CHECK(id_of(s, "outside/y.mp3", NULL) > 0);
    CHECK(id_of(s, "linked.mp3", NULL) > 0);
    lg_store_close(s);
}

/* A link whose target is gone (a disk not mounted) keeps the tracks it led
 * to, with their ids; a link that is itself removed does not. */
LG_TEST(link_target_missing_keeps_tracks)
{
    sh("rm -rf nl nas nas.off usb usb.off && mkdir -p nl nas/Ann usb && cp one.mp3 nas/Ann/x.mp3 "
       "&& cp two.flac usb/y.flac && ln -s ../nas nl/NAS && ln -s ../usb/y.flac nl/y.flac && "
       "cp plain.mp3 nl/local.mp3");
    struct lg_store *s = open_store("nl");
    struct lg_scan_stats st = scan(s, "nl");
    CHECK_INT(st.added, 3);
    int64_t x = id_of(s, "NAS/Ann/x.mp3", NULL), y = id_of(s, "y.flac", NULL);
    CHECK(x > 0 && y > 0);

    sh("mv nas nas.off && mv usb usb.off");
    st = scan(s, "nl");
    CHECK_INT(st.removed, 0);
    CHECK_INT(st.failed, 2); /* both links, each logged */
    CHECK_INT(id_of(s, "NAS/Ann/x.mp3", NULL), x);
    CHECK_INT(id_of(s, "y.flac", NULL), y);

    sh("mv nas.off nas && mv usb.off usb");
    st = scan(s, "nl");
    CHECK_INT(st.added, 0);
    CHECK_INT(st.removed, 0);
    CHECK_INT(id_of(s, "NAS/Ann/x.mp3", NULL), x);

    sh("rm nl/NAS");
    st = scan(s, "nl");
    CHECK_INT(st.removed, 1);
    CHECK(id_of(s, "NAS/Ann/x.mp3", NULL) == 0);
    lg_store_close(s);
}

/* The first line of sqlite3's answer to query on store name, as a number. */
static long sql_long(const char *name, const char *query)
{
    char *cmd = lg_xasprintf("sqlite3 '%s/%s.db' \"%s\"", tmp, name, query);
    FILE *p = popen(cmd, "r");
    long v = -1;
    if (p && fscanf(p, "%ld", &v) != 1)
        v = -1;
    if (p)
        pclose(p);
    free(cmd);
    return v;
}

/* An album's genre, year and MusicBrainz id follow its tracks: the most
 * common genre (ties: the first by name), the latest year; a tag removed
 * from every track leaves the album without it. */
LG_TEST(album_tags_follow_tracks)
{
    sh("rm -rf at && mkdir -p at && " SINE
       "-metadata title=A -metadata album=Tags -metadata artist=Z -metadata genre=Rock "
       "-metadata date=1999 at/a.mp3 && " SINE "-metadata title=B -metadata album=Tags "
       "-metadata artist=Z -metadata genre=Jazz -metadata date=2005 at/b.mp3");
    struct lg_store *s = open_store("at");
    scan(s, "at");
    CHECK_INT(
        sql_long("at", "SELECT genre = 'Jazz' AND year = 2005 FROM albums WHERE name = 'Tags'"), 1);
    sh(SINE "-metadata title=A -metadata album=Tags -metadata artist=Z at/a2.mp3 && " SINE
            "-metadata title=B -metadata album=Tags -metadata artist=Z at/b2.mp3 && "
            "touch -d '2001-01-01' at/a2.mp3 at/b2.mp3 && mv at/a2.mp3 at/a.mp3 && "
            "mv at/b2.mp3 at/b.mp3");
    struct lg_scan_stats st = scan(s, "at");
    CHECK_INT(st.updated, 2);
    CHECK_INT(sql_long("at", "SELECT genre = '' AND year = 0 FROM albums WHERE name = 'Tags'"), 1);
    lg_store_close(s);
}

/* A dangling link keeps the tracks below its own path only: a-1/ and a0/
 * sort around a/ (byte by byte, '-' < '/' < '0') and are not kept when
 * their files are gone. */
LG_TEST(dangling_link_keeps_its_own_tracks)
{
    sh("rm -rf kp kp.store && mkdir -p kp/a-1 kp/a0 kp.store && cp one.mp3 kp.store/x.mp3 && "
       "ln -s ../kp.store kp/a && cp two.flac kp/a-1/y.flac && cp plain.mp3 kp/a0/z.mp3 && "
       "cp changed.mp3 kp/b.mp3");
    struct lg_store *s = open_store("kp");
    struct lg_scan_stats st = scan(s, "kp");
    CHECK_INT(st.added, 4);
    int64_t x = id_of(s, "a/x.mp3", NULL);
    sh("rm -rf kp.store kp/a-1/y.flac kp/a0/z.mp3");
    st = scan(s, "kp");
    CHECK_INT(st.removed, 2);
    int n = 0;
    CHECK_INT(id_of(s, "a/x.mp3", &n), x);
    CHECK_INT(n, 2);
    lg_store_close(s);
}

/* A retag that keeps the modification time (a tagger's option) at the same
 * size is seen by the status change time; rows from before that column
 * get it on the next scan without a probe. */
LG_TEST(retag_keeping_mtime)
{
    sh("rm -rf rt && mkdir -p rt && " SINE "-metadata title=Tyop rt/a.mp3 && " SINE
       "-metadata title=Typo rt/b.mp3 && touch -r rt/a.mp3 rt/b.mp3");
    struct lg_store *s = open_store("rt");
    scan(s, "rt");
    int64_t id = id_of(s, "a.mp3", NULL);
    /* The same size (one letter swapped) and the old time, kept. */
    sh("sleep 0.05 && cp rt/b.mp3 rt/a2.mp3 && touch -r rt/a.mp3 rt/a2.mp3 && rm rt/b.mp3 && "
       "cat rt/a2.mp3 > rt/a.mp3 && touch -r rt/a2.mp3 rt/a.mp3 && rm rt/a2.mp3");
    struct lg_scan_stats st = scan(s, "rt");
    CHECK_INT(st.updated, 1);
    struct lg_track t = { 0 };
    CHECK_INT(lg_store_track_get(s, id, &t), 0);
    CHECK_STR(t.title, "Typo");
    lg_track_free(&t);
    /* A row without the time (made before it was kept) is filled in. */
    CHECK_INT(sql_long("rt", "UPDATE tracks SET ctime_ns = 0 RETURNING 0"), 0);
    st = scan(s, "rt");
    CHECK_INT(st.unchanged, 1);
    CHECK_INT(st.updated, 0);
    CHECK_INT(sql_long("rt", "SELECT count(*) FROM tracks WHERE ctime_ns <> 0"), 1);
    st = scan(s, "rt");
    CHECK_INT(st.unchanged, 1);
    lg_store_close(s);
}

/* An id is never given out twice: after the newest track is deleted, the
 * next new file gets an id of its own (clients keep ids), and so do albums
 * and artists. */
LG_TEST(ids_not_reused)
{
    sh("rm -rf ir && mkdir -p ir && cp plain.mp3 ir/ && cp two.flac ir/");
    struct lg_store *s = open_store("ir");
    scan(s, "ir");
    int64_t two = id_of(s, "two.flac", NULL);
    long album = sql_long("ir", "SELECT album_id FROM tracks WHERE path = 'two.flac'");
    CHECK(two > id_of(s, "plain.mp3", NULL));
    sh("rm ir/two.flac");
    CHECK_INT(scan(s, "ir").removed, 1);
    sh("cp changed.mp3 ir/new.mp3");
    CHECK_INT(scan(s, "ir").added, 1);
    CHECK(id_of(s, "new.mp3", NULL) > two);
    CHECK(sql_long("ir", "SELECT album_id FROM tracks WHERE path = 'new.mp3'") > album);
    lg_store_close(s);
}

/* An album stops being a compilation when a retag clears the flag on every
 * track: the upsert of a track only ever sets it. */
LG_TEST(compilation_cleared_by_retag)
{
    /* Album artist Y throughout: the album row stays the same. */
    sh("rm -rf cm && mkdir -p cm && " SINE
       "-metadata title=A -metadata album=Mix -metadata album_artist=Y -metadata compilation=1 "
       "cm/a.mp3 && " SINE "-metadata title=B -metadata album=Mix -metadata album_artist=Y "
       "cm/b.mp3");
    struct lg_store *s = open_store("cm");
    scan(s, "cm");
    CHECK_INT(sql_long("cm", "SELECT count(*) FROM albums WHERE name = 'Mix'"), 1);
    CHECK_INT(sql_long("cm", "SELECT compilation FROM albums WHERE name = 'Mix'"), 1);
    sh(SINE "-metadata title=A -metadata album=Mix -metadata album_artist=Y cm/a2.mp3 && "
            "touch -d '2001-01-01' cm/a2.mp3 && mv cm/a2.mp3 cm/a.mp3");
    struct lg_scan_stats st = scan(s, "cm");
    CHECK_INT(st.updated, 1);
    CHECK_INT(sql_long("cm", "SELECT count(*) FROM albums WHERE name = 'Mix'"), 1);
    CHECK_INT(sql_long("cm", "SELECT compilation FROM albums WHERE name = 'Mix'"), 0);
    lg_store_close(s);
}

LG_TEST(missing_folder)
{
    struct lg_store *s = open_store("first");
    int n = 0;
    id_of(s, "", &n);
    struct lg_scan_stats st = { 0 };
    char *m = music("does-not-exist");
    CHECK_INT(lg_library_scan(s, m, 1, NULL, NULL, &st), -ENOENT);
    free(m);
    int n_after = 0;
    id_of(s, "", &n_after);
    CHECK_INT(n_after, n); /* nothing deleted */
    lg_store_close(s);
}

LG_TEST(unreadable_folder_keeps_tracks)
{
    if (geteuid() == 0)
        return; /* root reads everything */
    sh("rm -rf ur && cp -r m ur");
    struct lg_store *s = open_store("ur");
    scan(s, "ur");
    sh("chmod 000 ur/Ann");
    struct lg_scan_stats st = scan(s, "ur");
    sh("chmod 755 ur/Ann");
    CHECK_INT(st.removed, 0);
    CHECK(id_of(s, "Ann/First/01.mp3", NULL) > 0);
    lg_store_close(s);
}

struct progress {
    int calls;
    int64_t last_done, last_total;
};

static void progress_fn(void *ud, int64_t done, int64_t total)
{
    struct progress *p = ud;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

LG_TEST(progress)
{
    struct lg_store *s = open_store("prog");
    struct progress p = { 0 };
    char *m = music("m");
    struct lg_scan_stats st;
    CHECK_INT(lg_library_scan(s, m, 0, progress_fn, &p, &st), 0);
    CHECK(p.calls >= 1);
    CHECK_INT(p.last_done, st.files);
    CHECK_INT(p.last_total, st.files);
    free(m);
    lg_store_close(s);
}

static void wait_idle(struct lg_scanner *sc)
{
    for (int i = 0; i < 500; i++) {
        int scanning = 1;
        lg_scanner_status(sc, &scanning, NULL);
        if (!scanning)
            return;
        nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
    }
    CHECK(!"scanner did not finish");
}

LG_TEST(background_scanner)
{
    sh("rm -rf bg && cp -r m bg");
    struct lg_store *s = open_store("bg");
    char *m = music("bg");
    struct lg_scanner *sc = NULL;
    CHECK_INT(lg_scanner_start(s, m, 0, LG_DSP_AUTO, &sc), 0);
    int scanning = 0;
    lg_scanner_status(sc, &scanning, NULL);
    CHECK_INT(scanning, 1); /* the first scan starts at once */
    wait_idle(sc);
    int64_t count = 0;
    lg_scanner_status(sc, &scanning, &count);
    CHECK_INT(count, 6);
    int n = 0;
    id_of(s, "", &n);
    CHECK_INT(n, 3);

    sh("cp plain.mp3 bg/later.mp3");
    lg_scanner_trigger(sc);
    for (int i = 0; i < 500 && !id_of(s, "later.mp3", NULL); i++)
        nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
    CHECK(id_of(s, "later.mp3", NULL) > 0);
    wait_idle(sc);
    lg_scanner_stop(sc);
    lg_scanner_stop(NULL);
    free(m);
    lg_store_close(s);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(first_scan), LG_CASE(incremental),
             LG_CASE(removed_albums_pruned), LG_CASE(emptied_folder_keeps_tracks),
             LG_CASE(cover_added_later), LG_CASE(cover_must_be_an_image),
             LG_CASE(moved_files_keep_ids), LG_CASE(symlink_loops),
             LG_CASE(link_target_missing_keeps_tracks), LG_CASE(album_tags_follow_tracks),
             LG_CASE(dangling_link_keeps_its_own_tracks), LG_CASE(retag_keeping_mtime),
             LG_CASE(ids_not_reused), LG_CASE(compilation_cleared_by_retag),
             LG_CASE(missing_folder), LG_CASE(unreadable_folder_keeps_tracks), LG_CASE(progress),
             LG_CASE(background_scanner))
