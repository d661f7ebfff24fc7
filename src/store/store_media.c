/* SPDX-License-Identifier: MIT */
/*
 * Lookups for media retrieval: which file holds the cover of a track, an
 * album or an artist, and which tracks a (artist, title) pair names, for the
 * old getLyrics call. Each is one query served by an index (tracks by album,
 * albums by artist, tracks by title ignoring case). Called by the cover art
 * and lyrics handlers.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

static const char track_cover_sql[] = "SELECT path, cover_path, has_picture FROM tracks "
                                      "WHERE id = ?1";
/* A folder image first (one file serves the whole album and is cheaper to
 * read than a picture inside an audio file), then the first track in play
 * order that embeds one. */
static const char album_cover_sql[] =
    "SELECT path, cover_path, has_picture FROM tracks "
    "WHERE album_id = ?1 AND (cover_path <> '' OR has_picture <> 0) "
    "ORDER BY cover_path = '', disc_no, track_no, id LIMIT 1";
static const char artist_cover_sql[] =
    "SELECT t.path, t.cover_path, t.has_picture FROM albums a JOIN tracks t ON t.album_id = a.id "
    "WHERE a.artist_id = ?1 AND (t.cover_path <> '' OR t.has_picture <> 0) "
    "ORDER BY a.year, a.name, a.id, t.cover_path = '', t.disc_no, t.track_no, t.id LIMIT 1";
static const char track_exists_sql[] = "SELECT 1 FROM tracks WHERE id = ?1";
static const char album_exists_sql[] = "SELECT 1 FROM albums WHERE id = ?1";
static const char artist_exists_sql[] = "SELECT 1 FROM artists WHERE id = ?1";
static const char by_title_sql[] =
    "SELECT id FROM tracks WHERE title = ?1 COLLATE NOCASE AND (?2 = '' "
    "OR artist = ?2 COLLATE NOCASE OR album_artist = ?2 COLLATE NOCASE) ORDER BY id LIMIT ?3";

void lg_cover_source_free(struct lg_cover_source *c)
{
    if (!c)
        return;
    free(c->path);
    c->path = NULL;
}

/* For an item without a picture: 0 when it exists, else LG_ENOTFOUND. */
static int exists(struct lg_store *s, enum lg_cover_kind kind, int64_t id)
{
    const char *sql = kind == LG_COVER_TRACK   ? track_exists_sql
                      : kind == LG_COVER_ALBUM ? album_exists_sql
                                               : artist_exists_sql;
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int r = lg_store_step_row(st);
    if (r == 0)
        sqlite3_reset(st);
    return r;
}

int lg_store_cover_source(struct lg_store *s, enum lg_cover_kind kind, int64_t id,
                          struct lg_cover_source *out)
{
    const char *sql = kind == LG_COVER_TRACK   ? track_cover_sql
                      : kind == LG_COVER_ALBUM ? album_cover_sql
                                               : artist_cover_sql;
    sqlite3_stmt *st = lg_store_stmt(s, sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_int64(st, 1, id);
    int r = lg_store_step_row(st);
    if (r == LG_ENOTFOUND) {
        r = exists(s, kind, id);
        if (r == 0) {
            out->path = NULL; /* the item is there, without a picture */
            out->embedded = 0;
        }
        return r;
    }
    if (r < 0)
        return r;
    const char *cover = (const char *)sqlite3_column_text(st, 1);
    bool has_picture = sqlite3_column_int(st, 2) != 0;
    bool has_cover = cover && *cover;
    /* A track's own picture is more specific than its folder's image; for
     * albums and artists the query has already preferred the folder image. */
    bool embedded = has_picture && (kind == LG_COVER_TRACK || !has_cover);
    if (embedded || has_cover)
        out->path = embedded ? lg_store_col_text(st, 0) : lg_xstrdup(cover);
    else
        out->path = NULL; /* a track without a picture */
    out->embedded = embedded;
    sqlite3_reset(st);
    return 0;
}

int lg_store_tracks_by_title(struct lg_store *s, const char *artist, const char *title,
                             int64_t *ids, size_t max)
{
    sqlite3_stmt *st = lg_store_stmt(s, by_title_sql);
    if (!st)
        return LG_ESTORE;
    sqlite3_bind_text(st, 1, title ? title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, artist ? artist : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)max);
    size_t n = 0;
    int rc = SQLITE_DONE;
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    if (n < max && rc != SQLITE_DONE) {
        int r = lg_store_fail(sqlite3_db_handle(st), "finding tracks by title");
        sqlite3_reset(st);
        return r;
    }
    sqlite3_reset(st);
    return (int)n;
}
