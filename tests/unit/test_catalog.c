/* SPDX-License-Identifier: MIT */
/*
 * Catalogue tests: store queries with annotations per user, list ordering,
 * genre and album totals kept by triggers, search (hostile input, the index
 * kept in step with rescans and deletions), now playing, the song, album and
 * artist renderers against the OpenSubsonic schemas' required fields, id
 * parsing and ISO 8601 formatting.
 */
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "http/subsonic_render.h"
#include "store/store.h"

#include "harness.h"
#include "store_fixture.h"

static char *tmp;

LG_TEST(setup)
{
    tmp = lg_test_tmpdir("catalog");
}

/* --- ISO 8601 and ids --- */

LG_TEST(iso8601)
{
    static const struct {
        int64_t t;
        const char *want;
    } rows[] = {
        { 0, "1970-01-01T00:00:00.000Z" },
        { -1, "1969-12-31T23:59:59.000Z" },
        { 951782400, "2000-02-29T00:00:00.000Z" },
        { 951868799, "2000-02-29T23:59:59.000Z" },
        { 1704164645, "2024-01-02T03:04:05.000Z" },
        { 4107542400, "2100-03-01T00:00:00.000Z" },
        { 253402300799, "9999-12-31T23:59:59.000Z" },
        { INT64_MAX, "9999-12-31T23:59:59.000Z" }, /* clamped */
        { INT64_MIN, "0001-01-01T00:00:00.000Z" },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        char buf[32];
        lg_sub_iso8601(buf, rows[i].t);
        CHECK_STR(buf, rows[i].want);
    }
}

LG_TEST(id_parse)
{
    static const struct {
        const char *s, *prefix;
        int64_t want; /* 0: must fail */
    } rows[] = {
        { "42", "", 42 },      { "al-7", "al-", 7 }, { "ar-123", "ar-", 123 },
        { "pl-1", "pl-", 1 },  { "al-0", "al-", 0 }, { "al-", "al-", 0 },
        { "al-7x", "al-", 0 }, { "ar-7", "al-", 0 }, { "al-7", "", 0 },
        { "-1", "", 0 },       { " 3", "", 0 },      { "AL-7", "al-", 0 },
        { "al--7", "al-", 0 }, { "", "", 0 },        { "99999999999999999999", "", 0 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        int64_t v = -5;
        int r = lg_sub_id_parse(rows[i].s, rows[i].prefix, &v);
        if (rows[i].want) {
            CHECK_INT(r, 0);
            CHECK_INT(v, rows[i].want);
        } else {
            CHECK_INT(r, LG_EPARSE);
            CHECK_INT(v, -5);
        }
    }
}

/* --- a small catalogue --- */

static struct lg_store *open_fresh(const char *name)
{
    char *path = lg_xasprintf("%s/%s/legato.db", tmp, name);
    struct lg_store *s = NULL;
    int r = lg_store_open(path, &s);
    lg_assert(r == 0);
    free(path);
    return s;
}

struct spec {
    const char *path, *title, *artist, *album_artist, *album, *genre, *composer;
    int year, track_no;
};

static int64_t add_track(struct lg_store *s, const struct spec *sp)
{
    struct lg_track t = {
        .path = (char *)sp->path,
        .size = 1000,
        .mtime_ns = 1,
        .title = (char *)sp->title,
        .artist = (char *)sp->artist,
        .album_artist = (char *)sp->album_artist,
        .album = (char *)sp->album,
        .genre = (char *)sp->genre,
        .composer = (char *)sp->composer,
        .year = sp->year,
        .track_no = sp->track_no,
        .disc_no = 1,
        .duration_ms = 60000,
        .suffix = (char *)"mp3",
        .content_type = (char *)"audio/mpeg",
    };
    int64_t id = 0;
    int r = lg_store_track_upsert(s, &t, &id);
    lg_assert(r == 0);
    return id;
}

static const struct spec lib[] = {
    { "a/1.mp3", "Come Together", "The Beatles", "", "Abbey Road", "Rock", "Lennon", 1969, 1 },
    { "a/2.mp3", "Something", "The Beatles", "", "Abbey Road", "Rock", "", 1969, 2 },
    { "b/1.mp3", "Yellow", "Coldplay", "", "Parachutes", "Pop", "", 2000, 1 },
    { "c/1.mp3", "Halo", "Beyoncé", "", "I Am", "Pop", "", 2008, 1 },
    { "d/1.mp3", "Zebra", "Los Lobos", "", "Kiko", "Rock", "", 1992, 1 },
    { "e/1.mp3", "Remix", "Coldplay", "", "Hits", "Dance", "", 2010, 1 },
};
enum { N_LIB = LG_ARRAY_LEN(lib) };

static void add_lib(struct lg_store *s, int64_t ids[N_LIB])
{
    CHECK_INT(lg_store_begin(s), 0);
    for (int i = 0; i < N_LIB; i++)
        ids[i] = add_track(s, &lib[i]);
    CHECK_INT(lg_store_commit(s), 0);
}

static int64_t album_of(struct lg_store *s, int64_t track_id)
{
    struct lg_track t;
    int r = lg_store_track_get(s, track_id, &t);
    lg_assert(r == 0);
    lg_track_free(&t);
    return t.album_id;
}

static int64_t artist_of(struct lg_store *s, int64_t track_id)
{
    struct lg_track t;
    int r = lg_store_track_get(s, track_id, &t);
    lg_assert(r == 0);
    lg_track_free(&t);
    return t.artist_id;
}

LG_TEST(songs_and_totals)
{
    struct lg_store *s = open_fresh("songs");
    int64_t u = lg_fx_user(s, "u", 0);
    int64_t ids[N_LIB];
    add_lib(s, ids);
    struct lg_song song;
    CHECK_INT(lg_store_song_get(s, u, ids[0], &song), 0);
    CHECK_STR(song.t.title, "Come Together");
    CHECK_STR(song.album_artist_name, "The Beatles");
    CHECK_INT(song.track_artist_id, song.t.artist_id);
    CHECK_INT(song.composer_id, 0); /* Lennon files no album */
    CHECK_INT(song.starred_at, 0);
    lg_song_free(&song);
    CHECK_INT(lg_store_song_get(s, u, 999, &song), LG_ENOTFOUND);
    /* songs_get keeps the order and skips unknown ids. */
    int64_t want[] = { ids[3], 999, ids[0], ids[3] };
    struct lg_song *v;
    size_t n;
    CHECK_INT(lg_store_songs_get(s, u, want, 4, &v, &n), 0);
    CHECK_INT(n, 3);
    CHECK_INT(v[0].t.id, ids[3]);
    CHECK_INT(v[1].t.id, ids[0]);
    lg_songs_free(v, n);
    /* Album totals and genre counts follow inserts and deletes. */
    struct lg_album al;
    CHECK_INT(lg_store_album_get(s, u, album_of(s, ids[0]), &al), 0);
    CHECK_INT(al.song_count, 2);
    CHECK_INT(al.duration_ms, 120000);
    lg_album_free(&al);
    CHECK_INT(lg_store_track_delete(s, ids[1]), 0);
    CHECK_INT(lg_store_album_get(s, u, album_of(s, ids[0]), &al), 0);
    CHECK_INT(al.song_count, 1);
    lg_album_free(&al);
    struct lg_genre *g;
    CHECK_INT(lg_store_genres(s, &g, &n), 0);
    CHECK_INT(n, 3);
    CHECK_STR(g[0].name, "Dance");
    CHECK_STR(g[2].name, "Rock");
    CHECK_INT(g[2].song_count, 2);
    CHECK_INT(g[2].album_count, 2);
    lg_genres_free(g, n);
    CHECK_INT(lg_store_track_delete(s, ids[5]), 0);
    CHECK(lg_store_prune(s) > 0);
    CHECK_INT(lg_store_genres(s, &g, &n), 0);
    CHECK_INT(n, 2); /* Dance went with its last track and album */
    lg_genres_free(g, n);
    lg_store_close(s);
}

LG_TEST(annotations_per_user)
{
    struct lg_store *s = open_fresh("annotations");
    int64_t u1 = lg_fx_user(s, "one", 0), u2 = lg_fx_user(s, "two", 0);
    int64_t ids[N_LIB];
    add_lib(s, ids);
    int64_t al = album_of(s, ids[0]), ar = artist_of(s, ids[0]);
    CHECK_INT(lg_store_star(s, u1, LG_ITEM_SONG, ids[0], 1, 1000), 0);
    CHECK_INT(lg_store_star(s, u1, LG_ITEM_SONG, ids[0], 1, 2000), 0); /* keeps 1000 */
    CHECK_INT(lg_store_star(s, u1, LG_ITEM_ALBUM, al, 1, 1100), 0);
    CHECK_INT(lg_store_star(s, u1, LG_ITEM_ARTIST, ar, 1, 1200), 0);
    CHECK_INT(lg_store_star(s, u1, LG_ITEM_SONG, 999, 1, 1000), LG_ENOTFOUND);
    CHECK_INT(lg_store_set_rating(s, u1, LG_ITEM_SONG, ids[0], 4), 0);
    CHECK_INT(lg_store_set_rating(s, u1, LG_ITEM_SONG, ids[0], 6), LG_EINVAL);
    CHECK_INT(lg_store_scrobble(s, u1, ids[0], 5000), 0);
    CHECK_INT(lg_store_scrobble(s, u1, ids[0], 4000), 0);
    CHECK_INT(lg_store_scrobble(s, u1, 999, 4000), LG_ENOTFOUND);
    struct lg_song song;
    CHECK_INT(lg_store_song_get(s, u1, ids[0], &song), 0);
    CHECK_INT(song.starred_at, 1000);
    CHECK_INT(song.rating, 4);
    CHECK_INT(song.play_count, 2);
    CHECK_INT(song.played_at, 5000);
    lg_song_free(&song);
    /* The other user sees none of it. */
    CHECK_INT(lg_store_song_get(s, u2, ids[0], &song), 0);
    CHECK_INT(song.starred_at + song.rating + song.play_count + song.played_at, 0);
    lg_song_free(&song);
    struct lg_starred st;
    CHECK_INT(lg_store_starred(s, u2, &st), 0);
    CHECK_INT(st.n_songs + st.n_albums + st.n_artists, 0);
    lg_starred_free(&st);
    CHECK_INT(lg_store_starred(s, u1, &st), 0);
    CHECK_INT(st.n_songs, 1);
    CHECK_INT(st.n_albums, 1);
    CHECK_INT(st.n_artists, 1);
    CHECK_INT(st.albums[0].play_count, 2); /* plays count for the album too */
    lg_starred_free(&st);
    struct lg_artist a;
    CHECK_INT(lg_store_artist_get(s, u1, ar, &a), 0);
    CHECK_INT(a.starred_at, 1200);
    lg_artist_free(&a);
    /* Unstar and rating 0 clear; deleting the track drops its annotations. */
    CHECK_INT(lg_store_star(s, u1, LG_ITEM_SONG, ids[0], 0, 0), 0);
    CHECK_INT(lg_store_set_rating(s, u1, LG_ITEM_SONG, ids[0], 0), 0);
    CHECK_INT(lg_store_song_get(s, u1, ids[0], &song), 0);
    CHECK_INT(song.starred_at + song.rating, 0);
    lg_song_free(&song);
    CHECK_INT(lg_store_track_delete(s, ids[0]), 0);
    int64_t again = add_track(s, &lib[0]);
    CHECK_INT(lg_store_song_get(s, u1, again, &song), 0);
    CHECK_INT(song.play_count, 0);
    lg_song_free(&song);
    lg_store_close(s);
}

static size_t list_names(struct lg_store *s, int64_t u, struct lg_album_query q, char *out,
                         size_t cap)
{
    struct lg_album *v;
    size_t n;
    int r = lg_store_albums_list(s, u, &q, &v, &n);
    CHECK_INT(r, 0);
    out[0] = '\0';
    for (size_t i = 0; r == 0 && i < n; i++) {
        strncat(out, v[i].name, cap - strlen(out) - 1);
        strncat(out, "|", cap - strlen(out) - 1);
    }
    if (r == 0)
        lg_albums_free(v, n);
    return r == 0 ? n : 0;
}

LG_TEST(album_lists)
{
    struct lg_store *s = open_fresh("lists");
    int64_t u = lg_fx_user(s, "u", 0);
    int64_t ids[N_LIB];
    add_lib(s, ids);
    char buf[512];
    struct lg_album_query q = { .order = LG_ALBUMS_BY_NAME, .size = 10 };
    CHECK_INT(list_names(s, u, q, buf, sizeof(buf)), 5);
    CHECK_STR(buf, "Abbey Road|Hits|I Am|Kiko|Parachutes|");
    q.offset = 3;
    list_names(s, u, q, buf, sizeof(buf));
    CHECK_STR(buf, "Kiko|Parachutes|");
    /* By artist, articles ignored: Beatles, Beyoncé, Coldplay (2), Lobos. */
    q = (struct lg_album_query){ .order = LG_ALBUMS_BY_ARTIST, .size = 10 };
    list_names(s, u, q, buf, sizeof(buf));
    CHECK_STR(buf, "Abbey Road|I Am|Hits|Parachutes|Kiko|");
    q = (struct lg_album_query){
        .order = LG_ALBUMS_BY_YEAR, .size = 10, .from_year = 1990, .to_year = 2008
    };
    list_names(s, u, q, buf, sizeof(buf));
    CHECK_STR(buf, "Kiko|Parachutes|I Am|");
    q.from_year = 2008;
    q.to_year = 1990;
    list_names(s, u, q, buf, sizeof(buf));
    CHECK_STR(buf, "I Am|Parachutes|Kiko|");
    q = (struct lg_album_query){ .order = LG_ALBUMS_BY_GENRE, .size = 10, .genre = "Pop" };
    list_names(s, u, q, buf, sizeof(buf));
    CHECK_STR(buf, "I Am|Parachutes|");
    q = (struct lg_album_query){ .order = LG_ALBUMS_RANDOM, .size = 3 };
    CHECK_INT(list_names(s, u, q, buf, sizeof(buf)), 3);
    q = (struct lg_album_query){ .order = LG_ALBUMS_NEWEST, .size = 10 };
    CHECK_INT(list_names(s, u, q, buf, sizeof(buf)), 5);
    /* Annotation lists: only the user's, in their order. */
    CHECK_INT(lg_store_scrobble(s, u, ids[2], 100), 0);
    CHECK_INT(lg_store_scrobble(s, u, ids[2], 101), 0);
    CHECK_INT(lg_store_scrobble(s, u, ids[4], 300), 0);
    CHECK_INT(lg_store_set_rating(s, u, LG_ITEM_ALBUM, album_of(s, ids[3]), 5), 0);
    CHECK_INT(lg_store_set_rating(s, u, LG_ITEM_ALBUM, album_of(s, ids[0]), 3), 0);
    q = (struct lg_album_query){ .order = LG_ALBUMS_FREQUENT, .size = 10 };
    list_names(s, u, q, buf, sizeof(buf));
    CHECK_STR(buf, "Parachutes|Kiko|");
    q.order = LG_ALBUMS_RECENT;
    list_names(s, u, q, buf, sizeof(buf));
    CHECK_STR(buf, "Kiko|Parachutes|");
    q.order = LG_ALBUMS_HIGHEST;
    list_names(s, u, q, buf, sizeof(buf));
    CHECK_STR(buf, "I Am|Abbey Road|");
    q.order = LG_ALBUMS_STARRED;
    CHECK_INT(list_names(s, u, q, buf, sizeof(buf)), 0);
    int64_t other = lg_fx_user(s, "other", 0);
    q.order = LG_ALBUMS_HIGHEST;
    CHECK_INT(list_names(s, other, q, buf, sizeof(buf)), 0);
    lg_store_close(s);
}

LG_TEST(artists_and_songs)
{
    struct lg_store *s = open_fresh("artists");
    int64_t u = lg_fx_user(s, "u", 0);
    int64_t ids[N_LIB];
    add_lib(s, ids);
    struct lg_artist *a;
    size_t n;
    CHECK_INT(lg_store_artists_all(s, u, &a, &n), 0);
    CHECK_INT(n, 4);
    CHECK_STR(a[0].name, "The Beatles");
    CHECK_STR(a[0].sort_name, "Beatles");
    CHECK_STR(a[3].name, "Los Lobos");
    CHECK_STR(a[3].sort_name, "Lobos");
    CHECK_INT(a[2].album_count, 2); /* Coldplay */
    lg_artists_free(a, n);
    struct lg_song *v;
    CHECK_INT(lg_store_album_songs(s, u, album_of(s, ids[0]), &v, &n), 0);
    CHECK_INT(n, 2);
    CHECK_STR(v[0].t.title, "Come Together");
    lg_songs_free(v, n);
    struct lg_song_filter f = { .size = 3 };
    CHECK_INT(lg_store_songs_random(s, u, &f, &v, &n), 0);
    CHECK_INT(n, 3);
    CHECK(v[0].t.id != v[1].t.id && v[1].t.id != v[2].t.id && v[0].t.id != v[2].t.id);
    lg_songs_free(v, n);
    f = (struct lg_song_filter){ .size = 10, .genre = "Rock", .from_year = 1990 };
    CHECK_INT(lg_store_songs_random(s, u, &f, &v, &n), 0);
    CHECK_INT(n, 1);
    CHECK_STR(v[0].t.title, "Zebra");
    lg_songs_free(v, n);
    CHECK_INT(lg_store_songs_by_genre(s, u, "Pop", 1, 1, &v, &n), 0);
    CHECK_INT(n, 1);
    CHECK_STR(v[0].t.title, "Halo");
    lg_songs_free(v, n);
    CHECK_INT(lg_store_scrobble(s, u, ids[1], 10), 0);
    CHECK_INT(lg_store_songs_top(s, u, "The Beatles", 5, &v, &n), 0);
    CHECK_INT(n, 2);
    CHECK_STR(v[0].t.title, "Something");
    lg_songs_free(v, n);
    CHECK_INT(lg_store_songs_similar(s, u, "Rock", artist_of(s, ids[0]), 5, &v, &n), 0);
    CHECK_INT(n, 1);
    CHECK_STR(v[0].t.title, "Zebra");
    lg_songs_free(v, n);
    CHECK_INT(lg_store_artists_similar(s, u, artist_of(s, ids[0]), 5, &a, &n), 0);
    CHECK_INT(n, 1);
    CHECK_STR(a[0].name, "Los Lobos");
    lg_artists_free(a, n);
    char *genre;
    CHECK_INT(lg_store_artist_genre(s, artist_of(s, ids[2]), &genre), 0);
    CHECK(strcmp(genre, "Pop") == 0 || strcmp(genre, "Dance") == 0);
    free(genre);
    lg_store_close(s);
}

/* --- search --- */

LG_TEST(fts_query)
{
    static const struct {
        const char *in, *want;
    } rows[] = {
        { "beat", "\"beat\"*" },
        { "  Abbey   road ", "\"Abbey\"* \"road\"*" },
        { "\"a\" OR b*", "\"a\"* \"OR\"* \"b\"*" },
        { "title:x NEAR(y)", "\"title\"* \"x\"* \"NEAR\"* \"y\"*" },
        { "AC/DC", "\"AC\"* \"DC\"*" },
        { "Beyoncé", "\"Beyoncé\"*" },
        { "\"\"", NULL },
        { "*-^()", NULL },
        { "", NULL },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        char *q = lg_store_fts_query(rows[i].in);
        if (rows[i].want)
            CHECK_STR(q, rows[i].want);
        else
            CHECK(q == NULL);
        free(q);
    }
    /* Long input stops at a word limit and never splits a UTF-8 character. */
    char *longs = lg_xmalloc(5001);
    for (int i = 0; i < 5000; i++)
        longs[i] = i % 2 ? (char)0xA9 : (char)0xC3;
    longs[5000] = '\0';
    char *q = lg_store_fts_query(longs);
    CHECK(q && strlen(q) < 300 && ((unsigned char)q[strlen(q) - 3] == 0xA9));
    free(q);
    /* The cut backs off over every byte of a 4-byte character it splits. */
    memset(longs, 'a', 254);
    memcpy(longs + 254, "\xf0\x9f\x98\x80", 5);
    q = lg_store_fts_query(longs);
    CHECK(q && lg_utf8_valid(q, strlen(q)));
    if (q)
        CHECK_STR(q + strlen(q) - 3, "a\"*");
    free(q);
    free(longs);
}

static size_t search_songs(struct lg_store *s, int64_t u, const char *text)
{
    struct lg_search_query q = {
        .query = text, .artist_count = 20, .album_count = 20, .song_count = 20
    };
    struct lg_starred r;
    int rc = lg_store_search(s, u, &q, &r);
    CHECK_INT(rc, 0);
    if (rc < 0)
        return (size_t)-1;
    size_t n = r.n_songs;
    lg_starred_free(&r);
    return n;
}

LG_TEST(search)
{
    struct lg_store *s = open_fresh("search");
    int64_t u = lg_fx_user(s, "u", 0);
    int64_t ids[N_LIB];
    add_lib(s, ids);
    CHECK_INT(search_songs(s, u, "beat"), 2);     /* prefix of an artist word */
    CHECK_INT(search_songs(s, u, "COME tog"), 1); /* case, prefixes, all words */
    CHECK_INT(search_songs(s, u, "beyonce"), 1);  /* accents ignored */
    CHECK_INT(search_songs(s, u, "abbey something"), 1);
    CHECK_INT(search_songs(s, u, "nothing here"), 0);
    static const char *const hostile[] = {
        "\"",       "\"\"\"", "'",
        "a\"b",     "*",      "**",
        "-",        "NOT",    "a OR",
        "AND AND",  "(",      ")",
        "NEAR(",    "title:", ":",
        "^",        "{x}",    "\\",
        "%",        "_",      "'; DROP TABLE tracks; --",
        "\xff\xfe", "\xc3",   "beat\"* OR \"",
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(hostile); i++)
        CHECK(search_songs(s, u, hostile[i]) != (size_t)-1);
    /* Everything, stable by id, paged. */
    struct lg_search_query q = {
        .query = "\"\"", .artist_count = 2, .album_count = 2, .song_count = 4, .song_offset = 4
    };
    struct lg_starred r;
    CHECK_INT(lg_store_search(s, u, &q, &r), 0);
    CHECK_INT(r.n_artists, 2);
    CHECK_INT(r.n_albums, 2);
    CHECK_INT(r.n_songs, 2);
    CHECK(r.n_songs == 2 && r.songs[0].t.id == ids[4] && r.songs[1].t.id == ids[5]);
    CHECK(r.n_artists == 2 && r.artists[0].id < r.artists[1].id);
    lg_starred_free(&r);
    /* A rescan that deletes and renames keeps the index in step. */
    CHECK_INT(lg_store_track_delete(s, ids[0]), 0);
    CHECK_INT(lg_store_track_delete(s, ids[1]), 0);
    struct spec renamed = lib[2];
    renamed.title = "Amarillo";
    add_track(s, &renamed);
    CHECK(lg_store_prune(s) >= 2);
    CHECK_INT(search_songs(s, u, "beat"), 0);
    CHECK_INT(search_songs(s, u, "yellow"), 0);
    CHECK_INT(search_songs(s, u, "amar"), 1);
    q = (struct lg_search_query){ .query = "beat abbey", .artist_count = 5, .album_count = 5 };
    CHECK_INT(lg_store_search(s, u, &q, &r), 0);
    CHECK_INT(r.n_artists + r.n_albums, 0);
    lg_starred_free(&r);
    q = (struct lg_search_query){ .query = "cold", .artist_count = 5, .album_count = 5 };
    CHECK_INT(lg_store_search(s, u, &q, &r), 0);
    CHECK_INT(r.n_artists, 1);
    CHECK_INT(r.n_albums, 2); /* by the artist's name */
    lg_starred_free(&r);
    lg_store_close(s);
}

LG_TEST(now_playing)
{
    struct lg_store *s = open_fresh("nowplaying");
    int64_t u1 = lg_fx_user(s, "one", 0), u2 = lg_fx_user(s, "two", 0);
    int64_t ids[N_LIB];
    add_lib(s, ids);
    CHECK_INT(lg_store_now_playing_set(s, u1, "phone", ids[0], 1000), 0);
    CHECK_INT(lg_store_now_playing_set(s, u1, "phone", ids[2], 1010), 0); /* replaces */
    CHECK_INT(lg_store_now_playing_set(s, u2, "tv", ids[3], 1020), 0);
    CHECK_INT(lg_store_now_playing_set(s, u2, "tv", 999, 1020), LG_ENOTFOUND);
    struct lg_now_playing *v;
    size_t n;
    CHECK_INT(lg_store_now_playing(s, u1, 1030, &v, &n), 0);
    CHECK_INT(n, 2);
    CHECK(n == 2 && strcmp(v[0].username, "two") == 0 && strcmp(v[1].player_name, "phone") == 0);
    CHECK(n == 2 && v[1].song.t.id == ids[2]);
    lg_now_playing_free(v, n);
    /* Tracks last 60 s; entries lapse after that and a margin. */
    CHECK_INT(lg_store_now_playing(s, u1, 1010 + 60 + 60, &v, &n), 0);
    CHECK_INT(n, 1);
    CHECK(n == 1 && strcmp(v[0].username, "two") == 0);
    lg_now_playing_free(v, n);
    CHECK_INT(lg_store_now_playing(s, u1, 1020 + 60 + 60, &v, &n), 0);
    CHECK_INT(n, 0);
    lg_now_playing_free(v, n);
    lg_store_close(s);
}

/* --- renderers --- */

static void check_required(json_t *o, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!json_object_get(o, names[i])) {
            fprintf(stderr, "  missing member %s\n", names[i]);
            lg_test_failed++;
        }
    }
}

LG_TEST(render)
{
    struct lg_store *s = open_fresh("render");
    int64_t u = lg_fx_user(s, "u", 0);
    int64_t ids[N_LIB];
    add_lib(s, ids);
    CHECK_INT(lg_store_star(s, u, LG_ITEM_SONG, ids[0], 1, 1704164645), 0);
    json_t *root = json_object();
    struct lg_song song;
    CHECK_INT(lg_store_song_get(s, u, ids[0], &song), 0);
    json_t *o = lg_sub_song(root, "song", &song);
    static const char *const child_req[] = { "id", "isDir", "title" };
    check_required(o, child_req, LG_ARRAY_LEN(child_req));
    CHECK(json_is_string(json_object_get(o, "id")));
    CHECK(json_is_false(json_object_get(o, "isDir")));
    CHECK(json_is_integer(json_object_get(o, "duration")));
    CHECK_STR(json_string_value(json_object_get(o, "starred")), "2024-01-02T03:04:05.000Z");
    CHECK(!json_object_get(o, "userRating"));
    CHECK(!json_object_get(o, "played"));
    CHECK_STR(json_string_value(json_object_get(o, "mediaType")), "song");
    json_t *contrib = json_array_get(json_object_get(o, "contributors"), 0);
    CHECK_STR(json_string_value(json_object_get(contrib, "role")), "composer");
    lg_song_free(&song);
    struct lg_album al;
    CHECK_INT(lg_store_album_get(s, u, album_of(s, ids[0]), &al), 0);
    o = lg_sub_album(root, "album", &al);
    static const char *const album_req[] = { "id", "name", "songCount", "duration", "created" };
    check_required(o, album_req, LG_ARRAY_LEN(album_req));
    CHECK(!json_object_get(o, "starred"));
    CHECK_INT(json_integer_value(json_object_get(o, "duration")), 120);
    o = lg_sub_album_dir(root, "dir", &al);
    check_required(o, child_req, LG_ARRAY_LEN(child_req));
    CHECK(json_is_true(json_object_get(o, "isDir")));
    lg_album_free(&al);
    struct lg_artist ar;
    CHECK_INT(lg_store_artist_get(s, u, artist_of(s, ids[0]), &ar), 0);
    static const char *const artist_req[] = { "id", "name" };
    check_required(lg_sub_artist(root, "artist", &ar), artist_req, 2);
    check_required(lg_sub_artist_folder(root, "artist1", &ar), artist_req, 2);
    lg_artist_free(&ar);
    /* Invalid UTF-8 from a store never reaches jansson. */
    json_t *x = json_object();
    lg_sub_set_text(x, "name", "bad \xff byte");
    CHECK(json_is_string(json_object_get(x, "name")));
    json_decref(x);
    json_decref(root);
    lg_store_close(s);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(iso8601), LG_CASE(id_parse), LG_CASE(songs_and_totals),
             LG_CASE(annotations_per_user), LG_CASE(album_lists), LG_CASE(artists_and_songs),
             LG_CASE(fts_query), LG_CASE(search), LG_CASE(now_playing), LG_CASE(render))
