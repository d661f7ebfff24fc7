/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of media/image.c: sniffing, thumbnails of images made with the
 * ffmpeg command-line tool (sizes, aspect ratio, transparency), hostile
 * inputs (empty, random, truncated, huge claimed dimensions, too wide), and
 * the cover cache (miss, hit, stale source, unwritable cache, originals).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/media.h"

#include "harness.h"

static char *tmp;

static void run(const char *cmd)
{
    int r = system(cmd);
    lg_assert(r == 0);
}

/* Makes tmp/name with ffmpeg from a lavfi source (one frame). */
static char *make_image(const char *name, const char *lavfi)
{
    char *path = lg_xasprintf("%s/%s", tmp, name);
    char *cmd = lg_xasprintf("ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i '%s' "
                             "-frames:v 1 '%s'",
                             lavfi, path);
    run(cmd);
    free(cmd);
    return path;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    lg_assert(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = lg_xmalloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    lg_assert(got == (size_t)n);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    lg_assert(f != NULL);
    size_t put = fwrite(data, 1, len, f);
    lg_assert(put == len);
    fclose(f);
}

/* Width and height of a JPEG, as ffprobe reads them. */
static void probe_size(const unsigned char *jpeg, size_t len, int *w, int *h)
{
    char *path = lg_xasprintf("%s/probe.jpg", tmp);
    spit(path, jpeg, len);
    char *cmd =
        lg_xasprintf("ffprobe -v error -select_streams v:0 -show_entries stream=width,height "
                     "-of csv=p=0 '%s'",
                     path);
    FILE *p = popen(cmd, "r");
    lg_assert(p != NULL);
    *w = *h = -1;
    if (fscanf(p, "%d,%d", w, h) != 2)
        *w = *h = -1;
    pclose(p);
    free(cmd);
    free(path);
}

static char *png_640x480;
static char *jpg_300x600;
static char *png_alpha;
static char *png_wide;

LG_TEST(setup)
{
    lg_media_init();
    tmp = lg_test_tmpdir("image");
    png_640x480 = make_image("a.png", "testsrc=size=640x480");
    jpg_300x600 = make_image("b.jpg", "testsrc=size=300x600");
    png_alpha = make_image("alpha.png", "color=c=red@0.0:s=40x20,format=rgba");
    png_wide = make_image("wide.png", "color=c=blue:s=17000x8");
}

LG_TEST(sniff)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *mime;
    } rows[] = {
        { "\xff\xd8\xff\xe0", 4, "image/jpeg" },
        { "\x89PNG\r\n\x1a\n", 8, "image/png" },
        { "GIF89a..", 8, "image/gif" },
        { "GIF87a..", 8, "image/gif" },
        { "RIFF\x10\0\0\0WEBPVP8 ", 16, "image/webp" },
        { "RIFX\x10\0\0\0WEBPVP8 ", 16, NULL },
        { "BM\0\0", 4, "image/bmp" },
        { "\x89PN", 3, NULL },
        { "", 0, NULL },
        { "ID3\x03", 4, NULL },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        const char *got = lg_image_sniff(rows[i].bytes, rows[i].len);
        if (rows[i].mime)
            CHECK_STR(got, rows[i].mime);
        else
            CHECK(got == NULL);
    }
}

LG_TEST(thumbnail_sizes)
{
    static const struct {
        char **path;
        int size, w, h;
    } rows[] = {
        { &png_640x480, 100, 100, 75 },   { &png_640x480, 1, 1, 1 },
        { &png_640x480, 2048, 640, 480 }, { &jpg_300x600, 50, 25, 50 },
        { &jpg_300x600, 601, 300, 600 },  { &png_alpha, 8, 8, 4 },
        { &png_alpha, 100, 40, 20 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        size_t len;
        unsigned char *in = slurp(*rows[i].path, &len);
        unsigned char *out = NULL;
        size_t out_len = 0;
        CHECK_INT(lg_image_thumbnail(in, len, rows[i].size, &out, &out_len), 0);
        CHECK_STR(lg_image_sniff(out, out_len), "image/jpeg");
        int w, h;
        probe_size(out, out_len, &w, &h);
        CHECK_INT(w, rows[i].w);
        CHECK_INT(h, rows[i].h);
        free(out);
        free(in);
    }
}

/* A transparent image comes out white, not black. */
LG_TEST(thumbnail_alpha_over_white)
{
    size_t len;
    unsigned char *in = slurp(png_alpha, &len);
    unsigned char *out = NULL;
    size_t out_len = 0;
    CHECK_INT(lg_image_thumbnail(in, len, 16, &out, &out_len), 0);
    char *path = lg_xasprintf("%s/white.jpg", tmp);
    spit(path, out, out_len);
    char *cmd = lg_xasprintf("ffmpeg -v error -nostdin -i '%s' -f rawvideo -pix_fmt gray - | "
                             "od -An -tu1 -N1",
                             path);
    FILE *p = popen(cmd, "r");
    int luma = -1;
    CHECK(p && fscanf(p, "%d", &luma) == 1);
    if (p)
        pclose(p);
    CHECK(luma > 240);
    free(cmd);
    free(path);
    free(out);
    free(in);
}

LG_TEST(thumbnail_bad_sizes)
{
    size_t len;
    unsigned char *in = slurp(png_640x480, &len);
    unsigned char *out = NULL;
    size_t out_len = 0;
    CHECK_INT(lg_image_thumbnail(in, len, 0, &out, &out_len), LG_EINVAL);
    CHECK_INT(lg_image_thumbnail(in, len, -5, &out, &out_len), LG_EINVAL);
    CHECK_INT(lg_image_thumbnail(in, len, LG_IMAGE_SIZE_MAX + 1, &out, &out_len), LG_EINVAL);
    CHECK(out == NULL);
    free(in);
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Hostile and broken inputs fail with an error and never crash. */
LG_TEST(thumbnail_hostile)
{
    size_t png_len, jpg_len, wide_len;
    unsigned char *png = slurp(png_640x480, &png_len);
    unsigned char *jpg = slurp(jpg_300x600, &jpg_len);
    unsigned char *wide = slurp(png_wide, &wide_len);
    /* A valid PNG whose header (with a correct CRC) claims 30000 x 30000. */
    unsigned char *huge = lg_xmalloc(png_len);
    memcpy(huge, png, png_len);
    put_be32(huge + 16, 30000);
    put_be32(huge + 20, 30000);
    put_be32(huge + 29, crc32_of(huge + 12, 17));
    unsigned char noise[4096];
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (unsigned char)(i * 2654435761u >> 13);
    static const unsigned char fake_gif[] = "GIF89a\xff\xff\xff\xff\0\0\0";
    static const unsigned char fake_webp[] = "RIFF\xff\xff\xff\x7fWEBPVP8 \xff\xff\xff\x7f";
    static const unsigned char fake_bmp[] = "BM\xff\xff\xff\x7f\0\0\0\0\x36\0\0\0\x28\0\0\0";
    const struct {
        const void *data;
        size_t len;
    } rows[] = {
        { "", 0 },
        { noise, sizeof(noise) },
        { png, 40 },
        { png, png_len / 3 },
        { jpg, 4 },
        { jpg, 200 },
        { huge, png_len },
        { wide, wide_len },
        { fake_gif, sizeof(fake_gif) - 1 },
        { fake_webp, sizeof(fake_webp) - 1 },
        { fake_bmp, sizeof(fake_bmp) - 1 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        unsigned char *out = NULL;
        size_t out_len = 0;
        int r = lg_image_thumbnail(rows[i].data, rows[i].len, 64, &out, &out_len);
        if (r == 0)
            fprintf(stderr, "  row %zu decoded\n", i);
        CHECK(r < 0);
        CHECK(out == NULL);
    }
    unsigned char *out = NULL;
    size_t out_len = 0;
    CHECK_INT(lg_image_thumbnail(wide, wide_len, 64, &out, &out_len), LG_ETOOBIG);
    /* Refused by its header, before decoding: 30000 x 30000, and 5000 x 5000
     * of 16-bit RGBA (200 MB decoded, within the pixel cap). */
    CHECK_INT(lg_image_thumbnail(huge, png_len, 64, &out, &out_len), LG_ETOOBIG);
    put_be32(huge + 16, 5000);
    put_be32(huge + 20, 5000);
    huge[24] = 16;
    huge[25] = 6;
    put_be32(huge + 29, crc32_of(huge + 12, 17));
    CHECK_INT(lg_image_thumbnail(huge, png_len, 64, &out, &out_len), LG_ETOOBIG);
    free(huge);
    free(wide);
    free(jpg);
    free(png);
}

static int64_t mtime_ns(const char *path)
{
    struct stat st;
    lg_assert(stat(path, &st) == 0);
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static void set_mtime(const char *path, int64_t ns)
{
    struct timespec t[2] = { { (time_t)(ns / 1000000000), (long)(ns % 1000000000) },
                             { (time_t)(ns / 1000000000), (long)(ns % 1000000000) } };
    lg_assert(utimensat(AT_FDCWD, path, t, 0) == 0);
}

LG_TEST(cover_original)
{
    struct lg_cover_req rq = { .path = png_640x480 };
    unsigned char *data = NULL;
    size_t len = 0;
    const char *mime = NULL;
    CHECK_INT(lg_cover_read(&rq, &data, &len, &mime), 0);
    size_t want_len;
    unsigned char *want = slurp(png_640x480, &want_len);
    CHECK(len == want_len && memcmp(data, want, len) == 0);
    CHECK_STR(mime, "image/png");
    free(want);
    free(data);
    rq.path = "/nonexistent/cover.jpg";
    CHECK_INT(lg_cover_read(&rq, &data, &len, &mime), LG_ENOTFOUND);
    /* A cover file replaced by something else since the scan (a link to a
     * key, say) is not handed out. */
    char *text = lg_xasprintf("%s/not-an-image.jpg", tmp);
    spit(text, (const unsigned char *)"secret key bytes", 16);
    rq.path = text;
    data = NULL;
    CHECK_INT(lg_cover_read(&rq, &data, &len, &mime), LG_EMEDIA);
    CHECK(data == NULL);
    free(text);
}

LG_TEST(cover_cache)
{
    char *src = lg_xasprintf("%s/cover.png", tmp);
    char *cmd = lg_xasprintf("cp '%s' '%s'", png_640x480, src);
    run(cmd);
    free(cmd);
    char *cache = lg_xasprintf("%s/cache/covers/al-1-100.jpg", tmp);
    struct lg_cover_req rq = { .path = src, .size = 100, .cache_path = cache };
    unsigned char *a = NULL;
    size_t a_len = 0;
    const char *mime = NULL;
    /* Miss: made and stored with the source's time. */
    CHECK_INT(lg_cover_read(&rq, &a, &a_len, &mime), 0);
    CHECK_STR(mime, "image/jpeg");
    CHECK_INT(mtime_ns(cache), mtime_ns(src));
    size_t c_len;
    unsigned char *c = slurp(cache, &c_len);
    CHECK(c_len == a_len && memcmp(c, a, a_len) == 0);
    free(c);
    /* Hit: a different (valid JPEG) file with the right time is served. */
    unsigned char *marker = NULL;
    size_t marker_len = 0;
    CHECK_INT(lg_image_thumbnail(a, a_len, 10, &marker, &marker_len), 0);
    spit(cache, marker, marker_len);
    set_mtime(cache, mtime_ns(src));
    unsigned char *b = NULL;
    size_t b_len = 0;
    CHECK_INT(lg_cover_read(&rq, &b, &b_len, &mime), 0);
    CHECK(b_len == marker_len && memcmp(b, marker, b_len) == 0);
    free(b);
    /* A changed source makes the cached file stale: made again. */
    char etag1[LG_COVER_ETAG_MAX], etag2[LG_COVER_ETAG_MAX], etag3[LG_COVER_ETAG_MAX];
    CHECK_INT(lg_cover_etag(src, 100, etag1), 0);
    CHECK_INT(lg_cover_etag(src, 200, etag3), 0);
    CHECK(strcmp(etag1, etag3) != 0);
    set_mtime(src, mtime_ns(src) + 1000);
    CHECK_INT(lg_cover_etag(src, 100, etag2), 0);
    CHECK(strcmp(etag1, etag2) != 0);
    CHECK_INT(lg_cover_read(&rq, &b, &b_len, &mime), 0);
    CHECK(b_len == a_len && memcmp(b, a, b_len) == 0);
    CHECK_INT(mtime_ns(cache), mtime_ns(src));
    free(b);
    /* A cache that cannot be written does not fail the read. */
    rq.cache_path = "/proc/legato-no-such-dir/x.jpg";
    CHECK_INT(lg_cover_read(&rq, &b, &b_len, &mime), 0);
    free(b);
    CHECK_INT(lg_cover_etag("/nonexistent/x", 1, etag1), LG_ENOTFOUND);
    free(marker);
    free(a);
    free(cache);
    free(src);
}

/* A picture that cannot be made a thumbnail is remembered (an empty file
 * with the source's time) and not decoded again until the source changes. */
LG_TEST(cover_failure_remembered)
{
    char *src = lg_xasprintf("%s/broken.png", tmp);
    size_t png_len;
    unsigned char *png = slurp(png_640x480, &png_len);
    spit(src, png, png_len / 3); /* cut short */
    char *cache = lg_xasprintf("%s/cache/covers/al-9-100.jpg", tmp);
    struct lg_cover_req rq = { .path = src, .size = 100, .cache_path = cache };
    unsigned char *out = NULL;
    size_t len = 0;
    const char *mime = NULL;
    CHECK(lg_cover_read(&rq, &out, &len, &mime) < 0);
    struct stat st;
    CHECK(stat(cache, &st) == 0 && st.st_size == 0);
    CHECK_INT(mtime_ns(cache), mtime_ns(src));
    CHECK_INT(lg_cover_read(&rq, &out, &len, &mime), LG_EMEDIA);
    /* Fixed, the source has another time: made now. */
    spit(src, png, png_len);
    set_mtime(src, mtime_ns(src) + 1000);
    CHECK_INT(lg_cover_read(&rq, &out, &len, &mime), 0);
    CHECK_STR(mime, "image/jpeg");
    free(out);
    free(cache);
    free(png);
    free(src);
}

LG_TEST(cover_embedded)
{
    char *audio = lg_xasprintf("%s/song.flac", tmp);
    char *cmd = lg_xasprintf("ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -t 0.2 "
                             "-i anullsrc=r=44100:cl=mono -i '%s' -map 0 -map 1 -c:a flac "
                             "-c:v copy -disposition:v attached_pic '%s'",
                             jpg_300x600, audio);
    run(cmd);
    free(cmd);
    struct lg_cover_req rq = { .path = audio, .embedded = true };
    unsigned char *data = NULL;
    size_t len = 0;
    const char *mime = NULL;
    CHECK_INT(lg_cover_read(&rq, &data, &len, &mime), 0);
    CHECK_STR(mime, "image/jpeg");
    free(data);
    rq.size = 30;
    CHECK_INT(lg_cover_read(&rq, &data, &len, &mime), 0);
    int w, h;
    probe_size(data, len, &w, &h);
    CHECK_INT(w, 15);
    CHECK_INT(h, 30);
    free(data);
    /* An image file taken for an audio file has no embedded picture. */
    rq.path = png_640x480;
    CHECK(lg_cover_read(&rq, &data, &len, &mime) < 0);
    free(audio);
}

LG_TEST(placeholder)
{
    unsigned char *out = NULL;
    size_t len = 0;
    CHECK_INT(lg_image_placeholder(0, &out, &len), LG_EINVAL);
    CHECK_INT(lg_image_placeholder(LG_IMAGE_SIZE_MAX + 1, &out, &len), LG_EINVAL);
    static const int sides[] = { 1, 7, 64, 512 };
    for (size_t i = 0; i < LG_ARRAY_LEN(sides); i++) {
        CHECK_INT(lg_image_placeholder(sides[i], &out, &len), 0);
        CHECK_STR(lg_image_sniff(out, len), "image/jpeg");
        int w, h;
        probe_size(out, len, &w, &h);
        CHECK_INT(w, sides[i]);
        CHECK_INT(h, sides[i]);
        free(out);
    }
}

LG_TEST(teardown)
{
    free(png_640x480);
    free(jpg_300x600);
    free(png_alpha);
    free(png_wide);
    free(tmp);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(sniff), LG_CASE(thumbnail_sizes),
             LG_CASE(thumbnail_alpha_over_white), LG_CASE(thumbnail_bad_sizes),
             LG_CASE(thumbnail_hostile), LG_CASE(cover_original), LG_CASE(cover_cache),
             LG_CASE(cover_failure_remembered), LG_CASE(cover_embedded), LG_CASE(placeholder),
             LG_CASE(teardown))
