/* SPDX-License-Identifier: MIT */
/*
 * The catalogue as the Subsonic API reads it: songs, albums and artists with
 * one user's annotations joined in, album lists, genres, search, stars,
 * ratings, plays and now-playing entries. Every query binds the user's id as
 * ?1 and joins annotations on it, so a user only ever sees their own. The
 * schema (0002_catalog.sql) keeps album totals, genre counts and the
 * full-text indexes up to date with triggers, so nothing here aggregates
 * the whole library per request. Query plans are in docs/api-queries.md.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"

/* --- songs --- */

/* A song's SELECT list starts with the track columns of TRACK_COLUMNS
 * (store_int.h), in order. */
#define COL_NAME(n) "t." #n ", "

/* Song queries are SONG_COLS FROM <tracks t, perhaps joined> SONG_ANN
 * SONG_REFS WHERE ...; ?1 is always the user. SONG_ANN joins the user's
 * annotation as "an" (queries driven by annotations join it themselves). */
#define SONG_COLS                                                                               \
    "SELECT " TRACK_COLUMNS(                                                                    \
        COL_NAME, COL_NAME,                                                                     \
        COL_NAME) "t.id, t.album_id, al.artist_id, t.created_at, coalesce(an.starred_at, 0), "  \
                  "coalesce(an.rating, 0), coalesce(an.play_count, 0), coalesce(an.played_at, " \
                  "0), ar.name, "                                                               \
                  "coalesce(ta.id, 0), coalesce(tc.id, 0) " LG_SONG_ANALYSIS_COLS
#define SONG_ANN \
    "LEFT JOIN annotations an ON an.user_id = ?1 AND an.type = 'song' AND an.item_id = t.id "
#define SONG_REFS                                                                   \
    "JOIN albums al ON al.id = t.album_id JOIN artists ar ON ar.id = al.artist_id " \
    "LEFT JOIN artists ta ON ta.name = t.artist AND t.artist <> '' "                \
    "LEFT JOIN artists tc ON tc.name = t.composer AND t.composer <> '' " LG_SONG_ANALYSIS_JOIN
#define SONG_FROM "FROM tracks t " SONG_ANN SONG_REFS

/* Reads the current row of a SONG_COLS statement; returns the index of the
 * first column after the song's. */
static int song_read(sqlite3_stmt *st, struct lg_song *out)
{
    struct lg_song s = { 0 };
    struct lg_track *t = &s.t;
    int i = 0;
#define READ_T(n) t->n = lg_store_col_text(st, i++);
#define READ_I(n) t->n = sqlite3_column_int(st, i++);
#define READ_L(n) t->n = sqlite3_column_int64(st, i++);
    TRACK_COLUMNS(READ_T, READ_I, READ_L)
#undef READ_T
#undef READ_I
#undef READ_L
    t->id = sqlite3_column_int64(st, i++);
    t->album_id = sqlite3_column_int64(st, i++);
    t->artist_id = sqlite3_column_int64(st, i++);
    t->created_at = sqlite3_column_int64(st, i++);
    s.starred_at = sqlite3_column_int64(st, i++);
    s.rating = sqlite3_column_int(st, i++);
    s.play_count = sqlite3_column_int64(st, i++);
    s.played_at = sqlite3_column_int64(st, i++);
    s.album_artist_name = lg_store_col_text(st, i++);
    s.track_artist_id = sqlite3_column_int64(st, i++);
    s.composer_id = sqlite3_column_int64(st, i++);
    i = lg_store_song_analysis_read(st, i, &s);
    *out = s;
    return i;
}

void lg_song_free(struct lg_song *s)
{
    if (!s)
        return;
    lg_track_free(&s->t);
    free(s->album_artist_name);
    s->album_artist_name = NULL;
}

void lg_songs_free(struct lg_song *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        lg_song_free(&v[i]);
    free(v);
}

static const char song_by_id_sql[] = SONG_COLS SONG_FROM "WHERE t.id = ?2";

int lg_store_song_get(struct lg_store *s, int64_t user_id, int64_t track_id, struct lg_song *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, song_by_id_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, track_id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    song_read(st, out);
    sqlite3_reset(st);
    return 0;
}

int lg_store_songs_get(struct lg_store *s, int64_t user_id, const int64_t *ids, size_t n,
                       struct lg_song **out, size_t *n_out)
{
    struct lg_song *v = n ? lg_xcalloc(n, sizeof(*v)) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int r = lg_store_song_get(s, user_id, ids[i], &v[k]);
        if (r == LG_ENOTFOUND)
            continue;
        if (r < 0) {
            lg_songs_free(v, k);
            return r;
        }
        k++;
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n_out = k;
    return 0;
}

/* --- collecting rows --- */

static int song_read_any(sqlite3_stmt *st, void *dst)
{
    return song_read(st, dst);
}

static void songs_free_any(void *v, size_t n)
{
    lg_songs_free(v, n);
}

static int collect_songs(sqlite3_stmt *st, struct lg_song **out, size_t *n_out)
{
    void *v = NULL;
    int r = lg_store_collect(st, sizeof(struct lg_song), song_read_any, songs_free_any, &v, n_out);
    if (r == 0)
        *out = v;
    return r;
}

/* --- albums --- */

/* Album queries: ALBUM_COLS FROM albums al ALBUM_ANN ALBUM_REFS WHERE ... */
#define ALBUM_COLS                                                                        \
    "SELECT al.id, al.name, al.artist_id, ar.name, al.year, al.genre, al.compilation, "   \
    "al.mbid, al.created_at, al.song_count, al.duration_ms, coalesce(an.starred_at, 0), " \
    "coalesce(an.rating, 0), coalesce(an.play_count, 0), coalesce(an.played_at, 0) "
#define ALBUM_ANN                                                                         \
    "LEFT JOIN annotations an ON an.user_id = ?1 AND an.type = 'album' AND an.item_id = " \
    "al.id "
#define ALBUM_REFS "JOIN artists ar ON ar.id = al.artist_id "
#define ALBUM_FROM "FROM albums al " ALBUM_ANN ALBUM_REFS
/* Albums ordered by one of the user's annotation columns (partial indexes). */
#define ALBUM_BY_ANN(col)                                                                        \
    ALBUM_COLS "FROM annotations an JOIN albums al ON al.id = an.item_id " ALBUM_REFS            \
               "WHERE an.user_id = ?1 AND an.type = 'album' AND an." col " > 0 ORDER BY an." col \
               " DESC, al.id DESC LIMIT ?2 OFFSET ?3"

static int album_read(sqlite3_stmt *st, void *dst)
{
    struct lg_album *a = dst;
    a->id = sqlite3_column_int64(st, 0);
    a->name = lg_store_col_text(st, 1);
    a->artist_id = sqlite3_column_int64(st, 2);
    a->artist = lg_store_col_text(st, 3);
    a->year = sqlite3_column_int(st, 4);
    a->genre = lg_store_col_text(st, 5);
    a->compilation = sqlite3_column_int(st, 6);
    a->mbid = lg_store_col_text(st, 7);
    a->created_at = sqlite3_column_int64(st, 8);
    a->song_count = sqlite3_column_int64(st, 9);
    a->duration_ms = sqlite3_column_int64(st, 10);
    a->starred_at = sqlite3_column_int64(st, 11);
    a->rating = sqlite3_column_int(st, 12);
    a->play_count = sqlite3_column_int64(st, 13);
    a->played_at = sqlite3_column_int64(st, 14);
    return 15;
}

void lg_album_free(struct lg_album *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->artist);
    free(a->genre);
    free(a->mbid);
    a->name = a->artist = a->genre = a->mbid = NULL;
}

void lg_albums_free(struct lg_album *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        lg_album_free(&v[i]);
    free(v);
}

static void albums_free_any(void *v, size_t n)
{
    lg_albums_free(v, n);
}

static int collect_albums(sqlite3_stmt *st, struct lg_album **out, size_t *n_out)
{
    void *v = NULL;
    int r = lg_store_collect(st, sizeof(struct lg_album), album_read, albums_free_any, &v, n_out);
    if (r == 0)
        *out = v;
    return r;
}

static const char album_by_id_sql[] = ALBUM_COLS ALBUM_FROM "WHERE al.id = ?2";

int lg_store_album_get(struct lg_store *s, int64_t user_id, int64_t album_id, struct lg_album *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, album_by_id_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, album_id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    struct lg_album a = { 0 };
    album_read(st, &a);
    sqlite3_reset(st);
    *out = a;
    return 0;
}

static const char album_songs_sql[] =
    SONG_COLS SONG_FROM "WHERE t.album_id = ?2 ORDER BY t.disc_no, t.track_no, t.id";

int lg_store_album_songs(struct lg_store *s, int64_t user_id, int64_t album_id,
                         struct lg_song **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, album_songs_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, album_id);
    return collect_songs(st, out, n_out);
}

static const char artist_albums_sql[] =
    ALBUM_COLS ALBUM_FROM "WHERE al.artist_id = ?2 ORDER BY al.year, al.name COLLATE NOCASE, al.id";

int lg_store_artist_albums(struct lg_store *s, int64_t user_id, int64_t artist_id,
                           struct lg_album **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, artist_albums_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, artist_id);
    return collect_albums(st, out, n_out);
}

/* --- album lists --- */

/* One statement per order: ?1 user, ?2 limit, ?3 offset, ?4 and ?5 the year
 * range or ?4 the genre. A page is chosen by ids first, in the covering
 * index of the order, so an offset skips index entries instead of joined
 * rows (1 ms at offset 4,000 of 5,000 albums, 0.4 ms so). */
#define ALBUM_PAGE(where_order, order)                                              \
    ALBUM_COLS "FROM (SELECT id FROM albums " where_order " LIMIT ?2 OFFSET ?3) r " \
               "JOIN albums al ON al.id = r.id " ALBUM_ANN ALBUM_REFS "ORDER BY " order
static const char *const album_list_sql[] = {
    [LG_ALBUMS_RANDOM] = ALBUM_COLS "FROM (SELECT id FROM albums ORDER BY random() LIMIT ?2) r "
                                    "JOIN albums al ON al.id = r.id " ALBUM_ANN ALBUM_REFS,
    [LG_ALBUMS_NEWEST] =
        ALBUM_PAGE("ORDER BY created_at DESC, id DESC", "al.created_at DESC, al.id DESC"),
    [LG_ALBUMS_HIGHEST] = ALBUM_BY_ANN("rating"),
    [LG_ALBUMS_FREQUENT] = ALBUM_BY_ANN("play_count"),
    [LG_ALBUMS_RECENT] = ALBUM_BY_ANN("played_at"),
    [LG_ALBUMS_BY_NAME] =
        ALBUM_PAGE("ORDER BY name COLLATE NOCASE, id", "al.name COLLATE NOCASE, al.id"),
    [LG_ALBUMS_BY_ARTIST] =
        ALBUM_PAGE("ORDER BY artist_sort COLLATE NOCASE, name COLLATE NOCASE, id",
                   "al.artist_sort COLLATE NOCASE, al.name COLLATE NOCASE, al.id"),
    [LG_ALBUMS_STARRED] = ALBUM_BY_ANN("starred_at"),
    [LG_ALBUMS_BY_YEAR] = ALBUM_PAGE("WHERE year BETWEEN ?4 AND ?5 "
                                     "ORDER BY year, name COLLATE NOCASE, id",
                                     "al.year, al.name COLLATE NOCASE, al.id"),
    [LG_ALBUMS_BY_GENRE] = ALBUM_PAGE("WHERE genre = ?4 ORDER BY name COLLATE NOCASE, id",
                                      "al.name COLLATE NOCASE, al.id"),
};
static const char albums_by_year_desc_sql[] =
    ALBUM_PAGE("WHERE year BETWEEN ?5 AND ?4 ORDER BY year DESC, name COLLATE NOCASE, id",
               "al.year DESC, al.name COLLATE NOCASE, al.id");

int lg_store_albums_list(struct lg_store *s, int64_t user_id, const struct lg_album_query *q,
                         struct lg_album **out, size_t *n_out)
{
    if ((unsigned)q->order >= LG_ARRAY_LEN(album_list_sql))
        return LG_EINVAL;
    const char *sql = album_list_sql[q->order];
    if (q->order == LG_ALBUMS_BY_YEAR && q->from_year > q->to_year)
        sql = albums_by_year_desc_sql;
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, q->size);
    sqlite3_bind_int64(st, 3, q->offset);
    if (q->order == LG_ALBUMS_BY_GENRE) {
        sqlite3_bind_text(st, 4, q->genre ? q->genre : "", -1, SQLITE_STATIC);
    } else if (q->order == LG_ALBUMS_BY_YEAR) {
        sqlite3_bind_int(st, 4, q->from_year);
        sqlite3_bind_int(st, 5, q->to_year);
    }
    return collect_albums(st, out, n_out);
}

/* --- artists --- */

#define ARTIST_COLS                                                                           \
    "SELECT ar.id, ar.name, ar.sort_name, ar.mbid, "                                          \
    "(SELECT count(*) FROM albums x WHERE x.artist_id = ar.id), coalesce(an.starred_at, 0), " \
    "coalesce(an.rating, 0) "
#define ARTIST_ANN                                                                         \
    "LEFT JOIN annotations an ON an.user_id = ?1 AND an.type = 'artist' AND an.item_id = " \
    "ar.id "

static int artist_read(sqlite3_stmt *st, void *dst)
{
    struct lg_artist *a = dst;
    a->id = sqlite3_column_int64(st, 0);
    a->name = lg_store_col_text(st, 1);
    a->sort_name = lg_store_col_text(st, 2);
    a->mbid = lg_store_col_text(st, 3);
    a->album_count = sqlite3_column_int64(st, 4);
    a->starred_at = sqlite3_column_int64(st, 5);
    a->rating = sqlite3_column_int(st, 6);
    return 7;
}

void lg_artist_free(struct lg_artist *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->sort_name);
    free(a->mbid);
    a->name = a->sort_name = a->mbid = NULL;
}

void lg_artists_free(struct lg_artist *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        lg_artist_free(&v[i]);
    free(v);
}

static void artists_free_any(void *v, size_t n)
{
    lg_artists_free(v, n);
}

static int collect_artists(sqlite3_stmt *st, struct lg_artist **out, size_t *n_out)
{
    void *v = NULL;
    int r =
        lg_store_collect(st, sizeof(struct lg_artist), artist_read, artists_free_any, &v, n_out);
    if (r == 0)
        *out = v;
    return r;
}

static const char artist_by_id_sql[] = ARTIST_COLS "FROM artists ar " ARTIST_ANN "WHERE ar.id = ?2";

int lg_store_artist_get(struct lg_store *s, int64_t user_id, int64_t artist_id,
                        struct lg_artist *out)
{
    sqlite3_stmt *st = lg_store_stmt(s, artist_by_id_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, artist_id);
    int r = lg_store_step_row(st);
    if (r < 0)
        return r;
    struct lg_artist a = { 0 };
    artist_read(st, &a);
    sqlite3_reset(st);
    *out = a;
    return 0;
}

static const char artists_all_sql[] =
    ARTIST_COLS "FROM artists ar " ARTIST_ANN "ORDER BY ar.sort_name COLLATE NOCASE, ar.id";

int lg_store_artists_all(struct lg_store *s, int64_t user_id, struct lg_artist **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, artists_all_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    return collect_artists(st, out, n_out);
}

static const char artist_genre_sql[] =
    "SELECT genre FROM albums WHERE artist_id = ?1 AND genre <> '' GROUP BY genre "
    "ORDER BY count(*) DESC, genre LIMIT 1";

int lg_store_artist_genre(struct lg_store *s, int64_t artist_id, char **out)
{
    sqlite3_stmt *st = lg_store_stmt(s, artist_genre_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, artist_id);
    int r = lg_store_step_row(st);
    if (r == LG_ENOTFOUND) {
        *out = lg_xstrdup("");
        return 0;
    }
    if (r < 0)
        return r;
    *out = lg_store_col_text(st, 0);
    sqlite3_reset(st);
    return 0;
}

static const char artists_similar_sql[] =
    ARTIST_COLS "FROM (SELECT x.artist_id AS aid, count(*) AS shared FROM albums x "
                "WHERE x.genre IN (SELECT genre FROM albums WHERE artist_id = ?2 AND genre <> '') "
                "AND x.artist_id <> ?2 GROUP BY x.artist_id ORDER BY shared DESC, random() "
                "LIMIT ?3) g JOIN artists ar ON ar.id = g.aid " ARTIST_ANN "ORDER BY g.shared DESC";

int lg_store_artists_similar(struct lg_store *s, int64_t user_id, int64_t artist_id, int64_t count,
                             struct lg_artist **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, artists_similar_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, artist_id);
    sqlite3_bind_int64(st, 3, count);
    return collect_artists(st, out, n_out);
}

/* --- genres --- */

static int genre_read(sqlite3_stmt *st, void *dst)
{
    struct lg_genre *g = dst;
    g->name = lg_store_col_text(st, 0);
    g->song_count = sqlite3_column_int64(st, 1);
    g->album_count = sqlite3_column_int64(st, 2);
    return 3;
}

void lg_genres_free(struct lg_genre *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

static void genres_free_any(void *v, size_t n)
{
    lg_genres_free(v, n);
}

static const char genres_sql[] =
    "SELECT name, song_count, album_count FROM genres ORDER BY name COLLATE NOCASE";

int lg_store_genres(struct lg_store *s, struct lg_genre **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, genres_sql);
    if (!st)
        return LG_ESTORE;
    void *v = NULL;
    int r = lg_store_collect(st, sizeof(struct lg_genre), genre_read, genres_free_any, &v, n_out);
    if (r == 0)
        *out = v;
    return r;
}

/* --- song lists --- */

/* The page's ids come from the covering tracks_genre index (genre,
 * album_id, id): the offset is skipped there, not over joined rows. */
static const char songs_by_genre_sql[] =
    SONG_COLS "FROM (SELECT id FROM tracks WHERE genre = ?2 ORDER BY album_id, id "
              "LIMIT ?3 OFFSET ?4) f JOIN tracks t ON t.id = f.id " SONG_ANN SONG_REFS
              "ORDER BY t.album_id, t.id";

int lg_store_songs_by_genre(struct lg_store *s, int64_t user_id, const char *genre, int64_t count,
                            int64_t offset, struct lg_song **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, songs_by_genre_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, genre, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, count);
    sqlite3_bind_int64(st, 4, offset);
    return collect_songs(st, out, n_out);
}

static const char songs_top_sql[] = SONG_COLS SONG_FROM
    "WHERE t.artist = ?2 AND ?2 <> '' ORDER BY coalesce(an.play_count, 0) DESC, t.id "
    "LIMIT ?3";

int lg_store_songs_top(struct lg_store *s, int64_t user_id, const char *artist_name, int64_t count,
                       struct lg_song **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, songs_top_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, artist_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, count);
    return collect_songs(st, out, n_out);
}

/* Random albums of the genre by other artists (albums_genre index), then
 * random songs of theirs: the cost follows count, not the genre's size. */
static const char songs_similar_sql[] =
    SONG_COLS "FROM (SELECT x.id FROM (SELECT id FROM albums WHERE genre = ?2 AND artist_id <> ?3 "
              "ORDER BY random() LIMIT ?4) a JOIN tracks x ON x.album_id = a.id "
              "ORDER BY random() LIMIT ?4) r JOIN tracks t ON t.id = r.id " SONG_ANN SONG_REFS;

int lg_store_songs_similar(struct lg_store *s, int64_t user_id, const char *genre,
                           int64_t exclude_artist_id, int64_t count, struct lg_song **out,
                           size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, songs_similar_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, genre, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, exclude_artist_id);
    sqlite3_bind_int64(st, 4, count);
    return collect_songs(st, out, n_out);
}

/* Random songs with a filter: the filtered set is small enough (one genre,
 * or a range of years) to shuffle whole. The genre's ids come from the
 * covering tracks_genre index; years are the album's (albums_year index). */
static const char songs_random_genre_sql[] =
    SONG_COLS "FROM (SELECT id FROM tracks WHERE genre = ?2 ORDER BY random() LIMIT ?5) r "
              "JOIN tracks t ON t.id = r.id " SONG_ANN SONG_REFS;
static const char songs_random_genre_years_sql[] =
    SONG_COLS "FROM (SELECT x.id FROM tracks x JOIN albums a ON a.id = x.album_id "
              "WHERE x.genre = ?2 AND a.year BETWEEN ?3 AND ?4 ORDER BY random() LIMIT ?5) r "
              "JOIN tracks t ON t.id = r.id " SONG_ANN SONG_REFS;
/* By the album's year: up to size random albums of the range (albums_year
 * index), then random songs of theirs (covering tracks_album index), so
 * the cost follows size, not the number of songs in the range. */
static const char songs_random_years_sql[] =
    SONG_COLS "FROM (SELECT x.id FROM (SELECT id FROM albums WHERE year BETWEEN ?3 AND ?4 "
              "ORDER BY random() LIMIT ?5) a JOIN tracks x ON x.album_id = a.id "
              "ORDER BY random() LIMIT ?5) r JOIN tracks t ON t.id = r.id " SONG_ANN SONG_REFS;
static const char max_track_id_sql[] = "SELECT coalesce(max(id), 0) FROM tracks";
static const char track_at_or_after_sql[] = "SELECT id FROM tracks WHERE id >= ?1 LIMIT 1";

/* Unfiltered: a shuffle of the whole library would read every row, so pick
 * random points in the id range and take the track at or after each. Ids
 * after a gap are a little likelier; duplicates are dropped. */
static int random_ids(struct lg_store *s, int64_t size, int64_t **ids_out, size_t *n_out)
{
    int64_t max_id;
    int r = lg_store_int(s, max_track_id_sql, &max_id);
    if (r < 0)
        return r;
    int64_t *ids = lg_xcalloc((size_t)size + 1, sizeof(*ids));
    size_t n = 0;
    for (int64_t tries = 0; max_id > 0 && (int64_t)n < size && tries < 4 * size; tries++) {
        uint64_t x;
        sqlite3_randomness(sizeof(x), &x);
        sqlite3_stmt *st = lg_store_stmt(s, track_at_or_after_sql);
        if (!st) {
            free(ids);
            return LG_ESTORE;
        }
        sqlite3_bind_int64(st, 1, 1 + (int64_t)(x % (uint64_t)max_id));
        r = lg_store_step_row(st);
        if (r == LG_ENOTFOUND)
            continue;
        if (r < 0) {
            free(ids);
            return r;
        }
        int64_t id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        size_t j = 0;
        while (j < n && ids[j] != id)
            j++;
        if (j == n)
            ids[n++] = id;
    }
    *ids_out = ids;
    *n_out = n;
    return 0;
}

int lg_store_songs_random(struct lg_store *s, int64_t user_id, const struct lg_song_filter *f,
                          struct lg_song **out, size_t *n_out)
{
    bool filtered = (f->genre && *f->genre) || f->from_year > 0 || f->to_year > 0;
    if (!filtered) {
        int64_t *ids;
        size_t n;
        int r = random_ids(s, f->size, &ids, &n);
        if (r < 0)
            return r;
        r = lg_store_songs_get(s, user_id, ids, n, out, n_out);
        free(ids);
        return r;
    }
    bool by_genre = f->genre && *f->genre;
    bool by_years = f->from_year > 0 || f->to_year > 0;
    const char *sql = !by_genre  ? songs_random_years_sql
                      : by_years ? songs_random_genre_years_sql
                                 : songs_random_genre_sql;
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    if (by_genre)
        sqlite3_bind_text(st, 2, f->genre, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, f->from_year > 0 ? f->from_year : 0);
    sqlite3_bind_int(st, 4, f->to_year > 0 ? f->to_year : INT32_MAX);
    sqlite3_bind_int64(st, 5, f->size);
    return collect_songs(st, out, n_out);
}

/* --- starred and search --- */

void lg_starred_free(struct lg_starred *r)
{
    if (!r)
        return;
    lg_artists_free(r->artists, r->n_artists);
    lg_albums_free(r->albums, r->n_albums);
    lg_songs_free(r->songs, r->n_songs);
    *r = (struct lg_starred){ 0 };
}

static const char starred_artists_sql[] = ARTIST_COLS
    "FROM annotations an JOIN artists ar ON ar.id = an.item_id WHERE an.user_id = ?1 "
    "AND an.type = 'artist' AND an.starred_at > 0 ORDER BY an.starred_at DESC, ar.id DESC";
static const char starred_albums_sql[] =
    ALBUM_COLS "FROM annotations an JOIN albums al ON al.id = an.item_id " ALBUM_REFS
               "WHERE an.user_id = ?1 AND an.type = 'album' AND an.starred_at > 0 "
               "ORDER BY an.starred_at DESC, al.id DESC";
static const char starred_songs_sql[] =
    SONG_COLS "FROM annotations an JOIN tracks t ON t.id = an.item_id " SONG_REFS
              "WHERE an.user_id = ?1 AND an.type = 'song' AND an.starred_at > 0 "
              "ORDER BY an.starred_at DESC, t.id DESC";

/* Runs the three statements of a starred or search answer. Each is bound
 * with bind(st, kind, ud) first; a NULL statement text skips that kind. */
typedef void bind_fn(sqlite3_stmt *st, enum lg_item_type kind, const void *ud);

static int three_lists(struct lg_store *s, const char *const sql[3], bind_fn *bind, const void *ud,
                       struct lg_starred *out)
{
    struct lg_starred r = { 0 };
    sqlite3_stmt *st[3] = { NULL, NULL, NULL };
    for (int k = 0; k < 3; k++) {
        if (sql[k] && !(st[k] = lg_store_stmt(s, sql[k])))
            return LG_ESTORE;
        if (st[k])
            bind(st[k], (enum lg_item_type)k, ud);
    }
    int rc = 0;
    if (st[LG_ITEM_ARTIST])
        rc = collect_artists(st[LG_ITEM_ARTIST], &r.artists, &r.n_artists);
    if (rc == 0 && st[LG_ITEM_ALBUM])
        rc = collect_albums(st[LG_ITEM_ALBUM], &r.albums, &r.n_albums);
    if (rc == 0 && st[LG_ITEM_SONG])
        rc = collect_songs(st[LG_ITEM_SONG], &r.songs, &r.n_songs);
    if (rc < 0) {
        lg_starred_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

static void bind_user(sqlite3_stmt *st, enum lg_item_type kind, const void *ud)
{
    sqlite3_bind_int64(st, 1, *(const int64_t *)ud);
}

int lg_store_starred(struct lg_store *s, int64_t user_id, struct lg_starred *out)
{
    static const char *const sql[3] = {
        [LG_ITEM_SONG] = starred_songs_sql,
        [LG_ITEM_ALBUM] = starred_albums_sql,
        [LG_ITEM_ARTIST] = starred_artists_sql,
    };
    return three_lists(s, sql, bind_user, &user_id, out);
}

enum {
    FTS_TEXT_MAX = 256, /* bytes of a query that are looked at */
    FTS_WORDS_MAX = 16,
};

/* A word is a run of ASCII letters and digits and of non-ASCII bytes, so no
 * FTS5 syntax (quotes, operators, parentheses, colons, stars) can survive
 * in it; every word is quoted anyway. */
static bool word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char *lg_store_fts_query(const char *text)
{
    size_t len = strnlen(text, FTS_TEXT_MAX);
    /* Do not cut a UTF-8 sequence in two. */
    if (len == FTS_TEXT_MAX) {
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--;
    }
    /* Each word grows by at most 4 bytes: two quotes, a star, a space. */
    char *q = lg_xmalloc(len + 4 * FTS_WORDS_MAX + 1);
    size_t n = 0;
    int words = 0;
    for (size_t i = 0; i < len && words < FTS_WORDS_MAX;) {
        if (!word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && word_byte((unsigned char)text[j]))
            j++;
        q[n++] = '"';
        memcpy(q + n, text + i, j - i);
        n += j - i;
        memcpy(q + n, "\"* ", 3);
        n += 3;
        words++;
        i = j;
    }
    if (words == 0) {
        free(q);
        return NULL;
    }
    q[n - 1] = '\0';
    return q;
}

/* ?1 user, ?2 FTS query, ?3 limit, ?4 offset. Matches come in rank order. */
/* Matches come in id order, not by relevance: ranking means scoring every
 * match (140 ms for a one-letter prefix over 100k tracks) where id order
 * lets FTS5 stop after the page; it is also stable for paging. The id
 * subqueries skip offsets in an index instead of joining rows to discard. */
static const char search_artists_sql[] = ARTIST_COLS
    "FROM (SELECT rowid AS fid FROM artists_fts WHERE artists_fts MATCH ?2 "
    "LIMIT ?3 OFFSET ?4) f JOIN artists ar ON ar.id = f.fid " ARTIST_ANN "ORDER BY ar.id";
static const char search_albums_sql[] = ALBUM_COLS
    "FROM (SELECT rowid AS fid FROM albums_fts WHERE albums_fts MATCH ?2 "
    "LIMIT ?3 OFFSET ?4) f JOIN albums al ON al.id = f.fid " ALBUM_ANN ALBUM_REFS "ORDER BY al.id";
static const char search_songs_sql[] = SONG_COLS
    "FROM (SELECT rowid AS fid FROM tracks_fts WHERE tracks_fts MATCH ?2 "
    "LIMIT ?3 OFFSET ?4) f JOIN tracks t ON t.id = f.fid " SONG_ANN SONG_REFS "ORDER BY t.id";
/* Everything, by id (?2 unused). */
static const char all_artists_sql[] =
    ARTIST_COLS "FROM (SELECT id FROM artists ORDER BY id LIMIT ?3 OFFSET ?4) f "
                "JOIN artists ar ON ar.id = f.id " ARTIST_ANN "ORDER BY ar.id";
static const char all_albums_sql[] =
    ALBUM_COLS "FROM (SELECT id FROM albums ORDER BY id LIMIT ?3 OFFSET ?4) f "
               "JOIN albums al ON al.id = f.id " ALBUM_ANN ALBUM_REFS "ORDER BY al.id";
static const char all_songs_sql[] =
    SONG_COLS "FROM (SELECT id FROM tracks ORDER BY id LIMIT ?3 OFFSET ?4) f "
              "JOIN tracks t ON t.id = f.id " SONG_ANN SONG_REFS "ORDER BY t.id";

struct search_bind {
    int64_t user_id;
    const char *fts; /* NULL: everything */
    const struct lg_search_query *q;
};

static void bind_search(sqlite3_stmt *st, enum lg_item_type kind, const void *ud)
{
    const struct search_bind *b = ud;
    const struct lg_search_query *q = b->q;
    int64_t count = kind == LG_ITEM_ARTIST  ? q->artist_count
                    : kind == LG_ITEM_ALBUM ? q->album_count
                                            : q->song_count;
    int64_t offset = kind == LG_ITEM_ARTIST  ? q->artist_offset
                     : kind == LG_ITEM_ALBUM ? q->album_offset
                                             : q->song_offset;
    sqlite3_bind_int64(st, 1, b->user_id);
    if (b->fts)
        sqlite3_bind_text(st, 2, b->fts, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, count);
    sqlite3_bind_int64(st, 4, offset);
}

/* Clients sync with an empty query, sent as "" or as two double quotes. */
static bool lists_everything(const char *text)
{
    return !text || !*text || strcmp(text, "\"\"") == 0 || strcmp(text, "*") == 0;
}

int lg_store_search(struct lg_store *s, int64_t user_id, const struct lg_search_query *q,
                    struct lg_starred *out)
{
    struct search_bind b = { .user_id = user_id, .q = q };
    bool all = lists_everything(q->query);
    char *fts = all ? NULL : lg_store_fts_query(q->query);
    if (!all && !fts) {
        *out = (struct lg_starred){ 0 }; /* no word: nothing matches */
        return 0;
    }
    b.fts = fts;
    const char *sql[3] = {
        [LG_ITEM_SONG] = all ? all_songs_sql : search_songs_sql,
        [LG_ITEM_ALBUM] = all ? all_albums_sql : search_albums_sql,
        [LG_ITEM_ARTIST] = all ? all_artists_sql : search_artists_sql,
    };
    if (q->song_count <= 0)
        sql[LG_ITEM_SONG] = NULL;
    if (q->album_count <= 0)
        sql[LG_ITEM_ALBUM] = NULL;
    if (q->artist_count <= 0)
        sql[LG_ITEM_ARTIST] = NULL;
    int r = three_lists(s, sql, bind_search, &b, out);
    free(fts);
    return r;
}

/* --- annotations --- */

static const char *const item_type_name[] = {
    [LG_ITEM_SONG] = "song",
    [LG_ITEM_ALBUM] = "album",
    [LG_ITEM_ARTIST] = "artist",
};

static const char *const item_exists_sql[] = {
    [LG_ITEM_SONG] = "SELECT 1 FROM tracks WHERE id = ?1",
    [LG_ITEM_ALBUM] = "SELECT 1 FROM albums WHERE id = ?1",
    [LG_ITEM_ARTIST] = "SELECT 1 FROM artists WHERE id = ?1",
};

int lg_store_item_exists(struct lg_store *s, enum lg_item_type type, int64_t id)
{
    if ((unsigned)type > LG_ITEM_ARTIST)
        return LG_EINVAL;
    sqlite3_stmt *st = lg_store_stmt(s, item_exists_sql[type]);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int r = lg_store_step_row(st);
    if (r == LG_ENOTFOUND)
        return 0;
    if (r < 0)
        return r;
    sqlite3_reset(st);
    return 1;
}

static const char star_sql[] =
    "INSERT INTO annotations(user_id, type, item_id, starred_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT DO UPDATE SET starred_at = CASE WHEN starred_at > 0 THEN starred_at "
    "ELSE excluded.starred_at END";
static const char unstar_sql[] =
    "UPDATE annotations SET starred_at = 0 WHERE user_id = ?1 AND type = ?2 AND item_id = ?3";
static const char rate_sql[] =
    "INSERT INTO annotations(user_id, type, item_id, rating) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT DO UPDATE SET rating = excluded.rating";

/* Checks the item, then runs sql bound with (user, type, id, value). */
static int annotate(struct lg_store *s, const char *sql, int64_t user_id, enum lg_item_type type,
                    int64_t id, int64_t value)
{
    int r = lg_store_item_exists(s, type, id);
    if (r <= 0)
        return r == 0 ? LG_ENOTFOUND : r;
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, item_type_name[type], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, id);
    sqlite3_bind_int64(st, 4, value);
    return lg_store_step_done(st);
}

int lg_store_star(struct lg_store *s, int64_t user_id, enum lg_item_type type, int64_t id, int star,
                  int64_t now)
{
    if ((unsigned)type > LG_ITEM_ARTIST)
        return LG_EINVAL;
    return annotate(s, star ? star_sql : unstar_sql, user_id, type, id, now > 0 ? now : 1);
}

int lg_store_set_rating(struct lg_store *s, int64_t user_id, enum lg_item_type type, int64_t id,
                        int rating)
{
    if ((unsigned)type > LG_ITEM_ARTIST || rating < 0 || rating > 5)
        return LG_EINVAL;
    return annotate(s, rate_sql, user_id, type, id, rating);
}

/* A play counts for the song, its album and the album's artist; ?1 user,
 * ?2 track, ?3 time. Each is one row whatever exists (no row: unknown). */
#define PLAY_UPSERT                                           \
    "ON CONFLICT DO UPDATE SET play_count = play_count + 1, " \
    "played_at = max(played_at, excluded.played_at)"
static const char *const scrobble_sql[] = {
    "INSERT INTO annotations(user_id, type, item_id, play_count, played_at) "
    "SELECT ?1, 'song', id, 1, ?3 FROM tracks WHERE id = ?2 " PLAY_UPSERT,
    "INSERT INTO annotations(user_id, type, item_id, play_count, played_at) "
    "SELECT ?1, 'album', album_id, 1, ?3 FROM tracks WHERE id = ?2 " PLAY_UPSERT,
    "INSERT INTO annotations(user_id, type, item_id, play_count, played_at) "
    "SELECT ?1, 'artist', al.artist_id, 1, ?3 FROM tracks t JOIN albums al ON al.id = t.album_id "
    "WHERE t.id = ?2 " PLAY_UPSERT,
};

int lg_store_scrobble(struct lg_store *s, int64_t user_id, int64_t track_id, int64_t played_at)
{
    int r = lg_store_begin(s);
    if (r < 0)
        return r;
    for (size_t i = 0; r == 0 && i < LG_ARRAY_LEN(scrobble_sql); i++) {
        sqlite3_stmt *st = lg_store_stmt(s, scrobble_sql[i]);
        if (!st) {
            r = LG_ESTORE;
            break;
        }
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, track_id);
        sqlite3_bind_int64(st, 3, played_at);
        r = lg_store_step_done(st);
        if (r == 0 && sqlite3_changes(sqlite3_db_handle(st)) == 0)
            r = LG_ENOTFOUND;
    }
    if (r < 0) {
        lg_store_rollback(s);
        return r;
    }
    return lg_store_commit(s);
}

/* --- now playing --- */

enum { NOW_PLAYING_MARGIN_S = 60 };

static const char now_playing_expire_sql[] = "DELETE FROM now_playing WHERE expires_at <= ?1";
static const char now_playing_set_sql[] =
    "INSERT INTO now_playing(user_id, player_name, track_id, started_at, expires_at) "
    "SELECT ?1, ?2, id, ?4, ?4 + (duration_ms + 999) / 1000 + ?5 FROM tracks WHERE id = ?3 "
    "ON CONFLICT(user_id, player_name) DO UPDATE SET track_id = excluded.track_id, "
    "started_at = excluded.started_at, expires_at = excluded.expires_at";

int lg_store_now_playing_set(struct lg_store *s, int64_t user_id, const char *player_name,
                             int64_t track_id, int64_t now)
{
    sqlite3_stmt *st = lg_store_stmt(s, now_playing_expire_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, now);
    int r = lg_store_step_done(st);
    if (r < 0)
        return r;
    st = lg_store_stmt(s, now_playing_set_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, player_name ? player_name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, track_id);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int(st, 5, NOW_PLAYING_MARGIN_S);
    r = lg_store_step_done(st);
    if (r == 0 && sqlite3_changes(sqlite3_db_handle(st)) == 0)
        r = LG_ENOTFOUND;
    return r;
}

static const char now_playing_sql[] = SONG_COLS
    ", u.name, np.player_name, np.id, np.started_at FROM now_playing np "
    "JOIN users u ON u.id = np.user_id JOIN tracks t ON t.id = np.track_id " SONG_ANN SONG_REFS
    "WHERE np.expires_at > ?2 ORDER BY np.started_at DESC, np.id DESC";

static int now_playing_read(sqlite3_stmt *st, void *dst)
{
    struct lg_now_playing *e = dst;
    int i = song_read(st, &e->song);
    e->username = lg_store_col_text(st, i++);
    e->player_name = lg_store_col_text(st, i++);
    e->player_id = sqlite3_column_int64(st, i++);
    e->started_at = sqlite3_column_int64(st, i++);
    return i;
}

void lg_now_playing_free(struct lg_now_playing *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        lg_song_free(&v[i].song);
        free(v[i].username);
        free(v[i].player_name);
    }
    free(v);
}

static void now_playing_free_any(void *v, size_t n)
{
    lg_now_playing_free(v, n);
}

int lg_store_now_playing(struct lg_store *s, int64_t user_id, int64_t now,
                         struct lg_now_playing **out, size_t *n_out)
{
    sqlite3_stmt *st = lg_store_stmt(s, now_playing_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, now);
    void *v = NULL;
    int r = lg_store_collect(st, sizeof(struct lg_now_playing), now_playing_read,
                             now_playing_free_any, &v, n_out);
    if (r == 0)
        *out = v;
    return r;
}
