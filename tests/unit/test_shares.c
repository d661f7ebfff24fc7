/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of shares: the store (create with songs, albums and playlists,
 * the expansion to tracks in play order, which tracks a share lets through,
 * update, delete and their ownership rules, visits, expiry, cascades when
 * tracks or users go, lookup by token hash) and the tokens of
 * http/share_token.c (shape, hashing, the sealed copy's round trip and its
 * refusals, the derived key, and that no raw token reaches the database
 * file), and the page player's div (escaping, fallbacks). Tracks are stored
 * directly, so no audio files are needed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <sodium.h>

#include "core/log.h"
#include "http/share_page.h"
#include "http/share_token.h"
#include "store/store.h"

#include "harness.h"
#include "store_fixture.h"

static char *tmp;

static int64_t add_track(struct lg_store *s, const char *path, const char *album, int track_no)
{
    struct lg_track t = { 0 };
    t.path = (char *)path;
    t.size = 1000;
    t.mtime_ns = 1;
    t.title = (char *)path;
    t.artist = (char *)"Artist";
    t.album_artist = (char *)"Artist";
    t.album = (char *)album;
    t.suffix = (char *)"mp3";
    t.track_no = track_no;
    t.duration_ms = 1000;
    int64_t id = 0;
    int r = lg_store_track_upsert(s, &t, &id);
    lg_assert(r == 0);
    return id;
}

static int64_t album_of(struct lg_store *s, int64_t track)
{
    struct lg_track t;
    int r = lg_store_track_get(s, track, &t);
    lg_assert(r == 0);
    int64_t id = t.album_id;
    lg_track_free(&t);
    return id;
}

/* A share of owner with the given items, a fixed fake box and a hash made
 * from seed; returns the store's answer, the id in *id. */
static int make_share(struct lg_store *s, int64_t owner, bool admin, const struct lg_share_item *it,
                      size_t n, unsigned char seed, int64_t *id)
{
    unsigned char hash[32], box[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
    memset(hash, seed, sizeof(hash));
    struct lg_share_new in = {
        .owner_id = owner,
        .owner_admin = admin,
        .description = "For you",
        .created_ms = 1700000000123,
        .items = it,
        .n_items = n,
        .token_hash = hash,
        .token_box = box,
        .token_box_len = sizeof(box),
    };
    return lg_store_share_create(s, &in, id);
}

/* The tracks of share id as "1,2,3". */
static char *tracks_of(struct lg_store *s, int64_t id)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (lg_store_share_tracks(s, id, &ids, &n) != 0)
        return lg_xstrdup("(error)");
    char buf[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(buf) - 32; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%lld", i ? "," : "",
                                (long long)ids[i]);
    free(ids);
    return lg_xstrdup(buf);
}

/* Whether needle occurs in the n bytes at p. */
static bool contains(const void *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp((const char *)p + i, needle, k) == 0)
            return true;
    }
    return false;
}

#define CHECK_TRACKS(s, id, ...)                     \
    do {                                             \
        char want_[256];                             \
        snprintf(want_, sizeof(want_), __VA_ARGS__); \
        char *got_ = tracks_of((s), (id));           \
        CHECK_STR(got_, want_);                      \
        free(got_);                                  \
    } while (0)

LG_TEST(setup)
{
    tmp = lg_test_tmpdir("shares");
    lg_log_setup(LG_LOG_ERROR, 0);
    CHECK(sodium_init() >= 0);
}

LG_TEST(create_and_expand)
{
    struct lg_store *s = lg_fx_store(tmp, "expand");
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t a2 = add_track(s, "a/2.mp3", "A", 2);
    int64_t a1 = add_track(s, "a/1.mp3", "A", 1);
    int64_t b1 = add_track(s, "b/1.mp3", "B", 1);
    int64_t c1 = add_track(s, "c/1.mp3", "C", 1);
    int64_t pl_ids[] = { c1, a2 };
    int64_t pl = 0;
    CHECK_INT(lg_store_playlist_create(s, ann, "Mix", pl_ids, 2, &pl), 0);
    /* A song, an album (its tracks by number, not by id), a playlist (in its
     * order), and the song again. */
    struct lg_share_item it[] = {
        { LG_SHARE_SONG, b1 },
        { LG_SHARE_ALBUM, album_of(s, a1) },
        { LG_SHARE_PLAYLIST, pl },
        { LG_SHARE_SONG, b1 },
    };
    int64_t id = 0;
    CHECK_INT(make_share(s, ann, false, it, 4, 1, &id), 0);
    CHECK(id > 0);
    CHECK_TRACKS(s, id, "%lld,%lld,%lld,%lld,%lld,%lld", (long long)b1, (long long)a1,
                 (long long)a2, (long long)c1, (long long)a2, (long long)b1);
    struct lg_share sh;
    CHECK_INT(lg_store_share_get(s, id, &sh), 0);
    CHECK_INT(sh.id, id);
    CHECK_INT(sh.owner_id, ann);
    CHECK_STR(sh.owner, "ann");
    CHECK_STR(sh.description, "For you");
    CHECK_INT(sh.created_ms, 1700000000123);
    CHECK_INT(sh.expires_ms, 0);
    CHECK_INT(sh.last_visited_ms, 0);
    CHECK_INT(sh.visit_count, 0);
    CHECK_INT(sh.allow_download, 0);
    CHECK_INT(sh.token_box_len, 8);
    CHECK(sh.token_hash[0] == 1 && sh.token_hash[31] == 1);
    lg_share_free(&sh);
    /* Which tracks it lets through: exactly those it plays. */
    CHECK_INT(lg_store_share_has_track(s, id, b1), 1);
    CHECK_INT(lg_store_share_has_track(s, id, a1), 1);
    CHECK_INT(lg_store_share_has_track(s, id, c1), 1);
    int64_t d1 = add_track(s, "d/1.mp3", "D", 1);
    CHECK_INT(lg_store_share_has_track(s, id, d1), 0);
    CHECK_INT(lg_store_share_has_track(s, id, 99999), 0);
    CHECK_INT(lg_store_share_has_track(s, 99999, b1), 0);
    /* The playlist entry follows the playlist. */
    struct lg_playlist_edit e = { .is_public = -1, .replace = true, .add = &d1, .n_add = 1 };
    CHECK_INT(lg_store_playlist_edit(s, ann, false, pl, &e), 0);
    CHECK_TRACKS(s, id, "%lld,%lld,%lld,%lld,%lld", (long long)b1, (long long)a1, (long long)a2,
                 (long long)d1, (long long)b1);
    CHECK_INT(lg_store_share_has_track(s, id, d1), 1);
    CHECK_INT(lg_store_share_has_track(s, id, c1), 0);
    lg_store_close(s);
}

LG_TEST(create_refusals)
{
    struct lg_store *s = lg_fx_store(tmp, "refusals");
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t bob = lg_fx_user(s, "bob", 0);
    int64_t root = lg_fx_user(s, "root", 1);
    int64_t t = add_track(s, "a/1.mp3", "A", 1);
    int64_t bob_pl = 0;
    CHECK_INT(lg_store_playlist_create(s, bob, "Private", &t, 1, &bob_pl), 0);
    int64_t id = 0;
    struct lg_share_item unknown[] = { { LG_SHARE_SONG, t }, { LG_SHARE_SONG, 4242 } };
    CHECK_INT(make_share(s, ann, false, unknown, 2, 1, &id), LG_EINVAL);
    struct lg_share_item no_album[] = { { LG_SHARE_ALBUM, 4242 } };
    CHECK_INT(make_share(s, ann, false, no_album, 1, 1, &id), LG_EINVAL);
    /* Another user's private playlist: not for ann, but for an admin. */
    struct lg_share_item other[] = { { LG_SHARE_PLAYLIST, bob_pl } };
    CHECK_INT(make_share(s, ann, false, other, 1, 1, &id), LG_EINVAL);
    CHECK_INT(id, 0);
    CHECK_INT(make_share(s, ann, false, NULL, 0, 1, &id), LG_EINVAL);
    struct lg_share *v = NULL;
    size_t n = 9;
    CHECK_INT(lg_store_shares_list(s, ann, &v, &n), 0);
    CHECK_INT(n, 0); /* nothing half-made */
    lg_shares_free(v, n);
    CHECK_INT(make_share(s, root, true, other, 1, 2, &id), 0);
    CHECK_TRACKS(s, id, "%lld", (long long)t);
    /* The same hash twice. */
    struct lg_share_item song[] = { { LG_SHARE_SONG, t } };
    CHECK_INT(make_share(s, ann, false, song, 1, 2, &id), LG_EEXIST);
    lg_store_close(s);
}

LG_TEST(lookup_by_hash_list_update_delete)
{
    struct lg_store *s = lg_fx_store(tmp, "update");
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t bob = lg_fx_user(s, "bob", 0);
    int64_t t = add_track(s, "a/1.mp3", "A", 1);
    struct lg_share_item song[] = { { LG_SHARE_SONG, t } };
    int64_t s1 = 0, s2 = 0, s3 = 0;
    CHECK_INT(make_share(s, ann, false, song, 1, 1, &s1), 0);
    CHECK_INT(make_share(s, ann, false, song, 1, 2, &s2), 0);
    CHECK_INT(make_share(s, bob, false, song, 1, 3, &s3), 0);
    unsigned char h[32];
    memset(h, 2, sizeof(h));
    struct lg_share sh;
    CHECK_INT(lg_store_share_by_hash(s, h, &sh), 0);
    CHECK_INT(sh.id, s2);
    lg_share_free(&sh);
    memset(h, 7, sizeof(h));
    CHECK_INT(lg_store_share_by_hash(s, h, &sh), LG_ENOTFOUND);
    struct lg_share *v = NULL;
    size_t n = 0;
    CHECK_INT(lg_store_shares_list(s, ann, &v, &n), 0);
    CHECK_INT(n, 2);
    if (n == 2)
        CHECK(v[0].id == s1 && v[1].id == s2);
    lg_shares_free(v, n);
    /* Update: owner yes, other user no, admin yes; NULL and -1 keep. */
    CHECK_INT(lg_store_share_update(s, ann, false, s1, "New words", 1800000000000), 0);
    CHECK_INT(lg_store_share_update(s, bob, false, s1, "Hijacked", -1), LG_EDENIED);
    CHECK_INT(lg_store_share_update(s, ann, false, 99999, NULL, -1), LG_ENOTFOUND);
    CHECK_INT(lg_store_share_get(s, s1, &sh), 0);
    CHECK_STR(sh.description, "New words");
    CHECK_INT(sh.expires_ms, 1800000000000);
    lg_share_free(&sh);
    CHECK_INT(lg_store_share_update(s, bob, true, s1, NULL, -1), 0);
    CHECK_INT(lg_store_share_get(s, s1, &sh), 0);
    CHECK_STR(sh.description, "New words");
    CHECK_INT(sh.expires_ms, 1800000000000);
    lg_share_free(&sh);
    CHECK_INT(lg_store_share_update(s, ann, false, s1, "", 0), 0);
    CHECK_INT(lg_store_share_get(s, s1, &sh), 0);
    CHECK_STR(sh.description, "");
    CHECK_INT(sh.expires_ms, 0);
    lg_share_free(&sh);
    /* Delete: the same rules. */
    CHECK_INT(lg_store_share_delete(s, bob, false, s1), LG_EDENIED);
    CHECK_INT(lg_store_share_delete(s, ann, false, s1), 0);
    CHECK_INT(lg_store_share_delete(s, ann, false, s1), LG_ENOTFOUND);
    CHECK_INT(lg_store_share_get(s, s1, &sh), LG_ENOTFOUND);
    CHECK_INT(lg_store_share_delete(s, ann, true, s3), 0);
    CHECK_INT(lg_store_share_get(s, s3, &sh), LG_ENOTFOUND);
    lg_store_close(s);
}

LG_TEST(visits_and_expiry)
{
    struct lg_store *s = lg_fx_store(tmp, "visits");
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t t = add_track(s, "a/1.mp3", "A", 1);
    struct lg_share_item song[] = { { LG_SHARE_SONG, t } };
    int64_t id = 0;
    CHECK_INT(make_share(s, ann, false, song, 1, 1, &id), 0);
    CHECK_INT(lg_store_share_visit(s, id, 1700000001000), 0);
    CHECK_INT(lg_store_share_visit(s, id, 1700000002000), 0);
    CHECK_INT(lg_store_share_visit(s, 99999, 1700000002000), LG_ENOTFOUND);
    struct lg_share sh;
    CHECK_INT(lg_store_share_get(s, id, &sh), 0);
    CHECK_INT(sh.visit_count, 2);
    CHECK_INT(sh.last_visited_ms, 1700000002000);
    CHECK(!lg_share_expired(&sh, 1700000000000));
    CHECK(!lg_share_expired(&sh, INT64_MAX)); /* no expiry: lives forever */
    lg_share_free(&sh);
    CHECK_INT(lg_store_share_update(s, ann, false, id, NULL, 1700000005000), 0);
    CHECK_INT(lg_store_share_get(s, id, &sh), 0);
    CHECK(!lg_share_expired(&sh, 1700000004999));
    CHECK(lg_share_expired(&sh, 1700000005000));
    CHECK(lg_share_expired(&sh, 1700000009000));
    lg_share_free(&sh);
    lg_store_close(s);
}

LG_TEST(cascades)
{
    struct lg_store *s = lg_fx_store(tmp, "cascades");
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t t1 = add_track(s, "a/1.mp3", "A", 1);
    int64_t t2 = add_track(s, "b/1.mp3", "B", 1);
    struct lg_share_item it[] = { { LG_SHARE_SONG, t1 }, { LG_SHARE_ALBUM, album_of(s, t2) } };
    int64_t id = 0;
    CHECK_INT(make_share(s, ann, false, it, 2, 1, &id), 0);
    CHECK_INT(lg_store_track_delete(s, t1), 0);
    CHECK_TRACKS(s, id, "%lld", (long long)t2);
    CHECK_INT(lg_store_track_delete(s, t2), 0);
    CHECK_INT(lg_store_prune(s) >= 0, 1);
    CHECK_TRACKS(s, id, "%s", "");
    CHECK_INT(lg_store_user_delete(s, ann), 0);
    struct lg_share sh;
    CHECK_INT(lg_store_share_get(s, id, &sh), LG_ENOTFOUND);
    lg_store_close(s);
}

LG_TEST(tokens)
{
    char a[LG_SHARE_TOKEN_LEN], b[LG_SHARE_TOKEN_LEN];
    lg_share_token_new(a);
    lg_share_token_new(b);
    CHECK_INT((int)strlen(a), LG_SHARE_TOKEN_CHARS);
    CHECK(lg_share_token_valid(a));
    CHECK(strcmp(a, b) != 0);
    /* Shape: exactly 32 base64url characters. */
    static const struct {
        const char *s;
        bool ok;
    } shapes[] = {
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd-_", true },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd-", false },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd-_0", false },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd+/", false },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd.%", false },
        { "", false },
        { NULL, false },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(shapes); i++)
        CHECK_INT(lg_share_token_valid(shapes[i].s), shapes[i].ok);
    unsigned char h1[32], h2[32], h3[32];
    CHECK_INT(lg_share_token_hash(a, h1), 0);
    CHECK_INT(lg_share_token_hash(a, h2), 0);
    CHECK_INT(lg_share_token_hash(b, h3), 0);
    CHECK(memcmp(h1, h2, 32) == 0);
    CHECK(memcmp(h1, h3, 32) != 0);
    CHECK_INT(lg_share_token_hash("' OR 1=1 --", h3), LG_EPARSE);
    CHECK_INT(lg_share_token_hash(NULL, h3), LG_EPARSE);
}

LG_TEST(sealed_round_trip)
{
    unsigned char key[LG_SHARE_KEY_LEN], other[LG_SHARE_KEY_LEN];
    char *dir = lg_xasprintf("%s/data", tmp);
    CHECK_INT(lg_share_key_load(dir, key), 0);
    CHECK_INT(lg_share_key_load(dir, other), 0);
    CHECK(memcmp(key, other, sizeof(key)) == 0); /* the same file, the same key */
    /* Derived, not the server key itself. */
    char *path = lg_xasprintf("%s/secret.key", dir);
    FILE *fp = fopen(path, "rb");
    unsigned char raw[32] = { 0 };
    CHECK(fp && fread(raw, 1, sizeof(raw), fp) == sizeof(raw));
    if (fp)
        fclose(fp);
    CHECK(memcmp(raw, key, sizeof(key)) != 0);
    free(path);
    free(dir);

    char token[LG_SHARE_TOKEN_LEN], back[LG_SHARE_TOKEN_LEN] = "";
    unsigned char hash[32], *box = NULL;
    size_t len = 0;
    lg_share_token_new(token);
    CHECK_INT(lg_share_token_hash(token, hash), 0);
    CHECK_INT(lg_share_token_seal(key, token, &box, &len), 0);
    CHECK(!contains(box, len, token));
    CHECK_INT(lg_share_token_open(key, box, len, hash, back), 0);
    CHECK_STR(back, token);
    /* Another key, another share's hash, a damaged box, a cut box. */
    memset(back, 0, sizeof(back));
    randombytes_buf(other, sizeof(other));
    CHECK_INT(lg_share_token_open(other, box, len, hash, back), LG_EAUTH);
    unsigned char wrong[32];
    memset(wrong, 5, sizeof(wrong));
    CHECK_INT(lg_share_token_open(key, box, len, wrong, back), LG_EAUTH);
    box[len - 1] ^= 1;
    CHECK_INT(lg_share_token_open(key, box, len, hash, back), LG_EAUTH);
    box[len - 1] ^= 1;
    CHECK_INT(lg_share_token_open(key, box, len - 1, hash, back), LG_EAUTH);
    CHECK_INT(lg_share_token_open(key, NULL, 0, hash, back), LG_EAUTH);
    CHECK_STR(back, ""); /* written only on success */
    CHECK_INT(lg_share_token_seal(key, "short", &box, &len), LG_EPARSE);
    free(box);
}

static bool file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    return contains(buf, n, needle);
}

LG_TEST(no_token_in_the_database)
{
    char *path = lg_xasprintf("%s/clear.db", tmp);
    unlink(path);
    struct lg_store *s = NULL;
    CHECK_INT(lg_store_open(path, &s), 0);
    int64_t ann = lg_fx_user(s, "ann", 0);
    int64_t t = add_track(s, "a/1.mp3", "A", 1);
    unsigned char key[LG_SHARE_KEY_LEN];
    randombytes_buf(key, sizeof(key));
    char token[LG_SHARE_TOKEN_LEN], back[LG_SHARE_TOKEN_LEN];
    unsigned char hash[32], *box = NULL;
    size_t len = 0;
    lg_share_token_new(token);
    CHECK_INT(lg_share_token_hash(token, hash), 0);
    CHECK_INT(lg_share_token_seal(key, token, &box, &len), 0);
    struct lg_share_item song[] = { { LG_SHARE_SONG, t } };
    struct lg_share_new in = { .owner_id = ann,
                               .created_ms = 1,
                               .items = song,
                               .n_items = 1,
                               .token_hash = hash,
                               .token_box = box,
                               .token_box_len = len };
    int64_t id = 0;
    CHECK_INT(lg_store_share_create(s, &in, &id), 0);
    free(box);
    /* Found by the hash of what a visitor presents; the URL comes back. */
    unsigned char h[32];
    CHECK_INT(lg_share_token_hash(token, h), 0);
    struct lg_share sh;
    CHECK_INT(lg_store_share_by_hash(s, h, &sh), 0);
    CHECK_INT(sh.id, id);
    CHECK_INT(lg_share_token_open(key, sh.token_box, sh.token_box_len, sh.token_hash, back), 0);
    CHECK_STR(back, token);
    lg_share_free(&sh);
    lg_store_close(s);
    char *wal = lg_xasprintf("%s-wal", path);
    CHECK(!file_has(path, token));
    CHECK(!file_has(wal, token));
    free(wal);
    free(path);
}

LG_TEST(player_div)
{
    /* Tag text with markup, quotes and a byte that is not UTF-8. */
    struct lg_player_track t[] = {
        { "A \"quoted\" <b>title</b>", "It's me & you", "Album\xff", 61, "/share/x/stream/1",
          "/share/x/cover/1", NULL },
        { "Two", "", "", 2, "/share/x/stream/2", NULL, "/share/x/download/2" },
    };
    struct lg_buf b;
    lg_buf_init(&b, 1 << 16);
    CHECK_INT(lg_player_div(&b, t, 2, 1, 12.5), 0);
    CHECK_STR(b.data,
              "<div id=\"player\" data-tracks=\"[{&quot;title&quot;:&quot;A \\&quot;quoted"
              "\\&quot; &lt;b&gt;title&lt;/b&gt;&quot;,&quot;artist&quot;:&quot;It&#39;s me &amp; "
              "you&quot;,&quot;album&quot;:&quot;Album\xef\xbf\xbd&quot;,&quot;duration&quot;:61,"
              "&quot;src&quot;:&quot;/share/x/stream/1&quot;,&quot;cover&quot;:&quot;/share/x/"
              "cover/1&quot;},{&quot;title&quot;:&quot;Two&quot;,&quot;artist&quot;:&quot;&quot;,"
              "&quot;album&quot;:&quot;&quot;,&quot;duration&quot;:2,&quot;src&quot;:&quot;/share/"
              "x/stream/2&quot;,&quot;download&quot;:&quot;/share/x/download/2&quot;}]\" "
              "data-start=\"1\" data-position=\"12.500\"></div>"
              "<script src=\"/static/player.js\"></script>");
    lg_buf_free(&b);
    /* A start out of range and a position that is no time fall back to 0. */
    static const struct {
        size_t start;
        double pos;
        const char *want;
    } rows[] = {
        { 5, -3, "data-start=\"0\" data-position=\"0.000\"" },
        { 0, NAN, "data-start=\"0\" data-position=\"0.000\"" },
        { 1, INFINITY, "data-start=\"1\" data-position=\"0.000\"" },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        lg_buf_init(&b, 1 << 16);
        CHECK_INT(lg_player_div(&b, t, 2, rows[i].start, rows[i].pos), 0);
        CHECK(b.data && strstr(b.data, rows[i].want) != NULL);
        lg_buf_free(&b);
    }
    /* A full buffer is an error, not a cut attribute. */
    lg_buf_init(&b, 64);
    CHECK_INT(lg_player_div(&b, t, 2, 0, 0), LG_ETOOBIG);
    lg_buf_free(&b);
}

LG_TEST(teardown)
{
    free(tmp);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(create_and_expand), LG_CASE(create_refusals),
             LG_CASE(lookup_by_hash_list_update_delete), LG_CASE(visits_and_expiry),
             LG_CASE(cascades), LG_CASE(tokens), LG_CASE(sealed_round_trip),
             LG_CASE(no_token_in_the_database), LG_CASE(player_div), LG_CASE(teardown))
