/* SPDX-License-Identifier: MIT */
/*
 * Cover art: decoding images with libavcodec, scaling them with libswscale
 * and encoding JPEG thumbnails with the mjpeg encoder, plus the on-disk cache
 * of thumbnails. The image format is taken from the data's first bytes, never
 * from a name; decoders run on one thread with a pixel budget (max_pixels) so
 * that a file claiming enormous dimensions fails before any allocation.
 *
 * A thumbnail goes source -> RGBA at the target size (one swscale pass) ->
 * alpha laid over white -> YUV 4:2:0 full range -> mjpeg. The cache keeps a
 * thumbnail with the modification time of its source copied onto it: a file
 * whose time differs in any nanosecond is stale, so replacing a cover (or an
 * album's cover moving to another file) is noticed without any index.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/fs.h"
#include "core/log.h"
#include "media/media.h"

static const struct lg_log ilog = { "media/image" };

#define MAX_PIXELS  (32 * 1024 * 1024)           /* decoded area allowed: about 5800 x 5800 */
#define MAX_DECODED ((int64_t)128 * 1024 * 1024) /* bytes of a decoded PNG allowed */
#define JPEG_QSCALE 3 /* mjpeg qscale: 2 best .. 31 worst; 3 is about q90 */
#define PICTURE_MAX LG_IMAGE_BYTES_MAX

struct magic {
    const char *bytes;
    size_t len;
    size_t at;
    enum AVCodecID codec;
    const char *mime;
};

static const struct magic magics[] = {
    { "\xff\xd8\xff", 3, 0, AV_CODEC_ID_MJPEG, "image/jpeg" },
    { "\x89PNG\r\n\x1a\n", 8, 0, AV_CODEC_ID_PNG, "image/png" },
    { "GIF87a", 6, 0, AV_CODEC_ID_GIF, "image/gif" },
    { "GIF89a", 6, 0, AV_CODEC_ID_GIF, "image/gif" },
    { "WEBP", 4, 8, AV_CODEC_ID_WEBP, "image/webp" }, /* after "RIFF" and a size */
    { "BM", 2, 0, AV_CODEC_ID_BMP, "image/bmp" },
};

static const struct magic *sniff(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < LG_ARRAY_LEN(magics); i++) {
        const struct magic *m = &magics[i];
        if (len >= m->at + m->len && memcmp(p + m->at, m->bytes, m->len) == 0) {
            if (m->codec == AV_CODEC_ID_WEBP && memcmp(p, "RIFF", 4) != 0)
                continue;
            return m;
        }
    }
    return NULL;
}

const char *lg_image_sniff(const void *data, size_t len)
{
    const struct magic *m = sniff(data, len);
    return m ? m->mime : NULL;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* For a PNG, what its header says it decodes to, checked before decoding:
 * the pixel cap alone lets 16-bit RGBA take 8 bytes a pixel (256 MB), and
 * the sides were known only after the whole image was decoded. 0 or
 * LG_ETOOBIG; other formats pass. */
static int png_fits(const unsigned char *data, size_t len)
{
    /* Signature (8), IHDR's length and type (8), width, height, depth, colour. */
    if (len < 26 || memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(data + 12, "IHDR", 4) != 0)
        return 0;
    uint32_t w = be32(data + 16), h = be32(data + 20);
    int depth = data[24], colour = data[25];
    int channels = colour == 2 ? 3 : colour == 4 ? 2 : colour == 6 ? 4 : 1;
    int64_t bytes = (int64_t)w * h * channels * (depth > 8 ? 2 : 1);
    if (w > LG_IMAGE_DIM_MAX || h > LG_IMAGE_DIM_MAX || bytes > MAX_DECODED)
        return LG_ETOOBIG;
    return 0;
}

/* Decodes the first frame of data into *out (caller frees). */
static int decode(const unsigned char *data, size_t len, AVFrame **out)
{
    const struct magic *m = sniff(data, len);
    const AVCodec *codec = m ? avcodec_find_decoder(m->codec) : NULL;
    if (!codec || len > PICTURE_MAX)
        return LG_EMEDIA;
    if (png_fits(data, len) < 0)
        return LG_ETOOBIG;
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int r = -ENOMEM;
    if (!ctx || !pkt || !frame || av_new_packet(pkt, (int)len) < 0)
        goto out;
    memcpy(pkt->data, data, len); /* av_new_packet zeroed the padding */
    ctx->thread_count = 1;
    ctx->max_pixels = MAX_PIXELS;
    ctx->err_recognition = AV_EF_EXPLODE;
    r = LG_EMEDIA;
    if (avcodec_open2(ctx, codec, NULL) < 0 || avcodec_send_packet(ctx, pkt) < 0)
        goto out;
    avcodec_send_packet(ctx, NULL); /* drain: a decoder may hold the frame back */
    if (avcodec_receive_frame(ctx, frame) < 0 || frame->width <= 0 || frame->height <= 0)
        goto out;
    if (frame->width > LG_IMAGE_DIM_MAX || frame->height > LG_IMAGE_DIM_MAX) {
        r = LG_ETOOBIG;
        goto out;
    }
    *out = frame;
    frame = NULL;
    r = 0;
out:
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return r;
}

/* The target size: the longer side becomes max_side, the other keeps the
 * ratio (at least one pixel). Never larger than the image: enlarging only
 * costs bytes, and clients scale up better than a JPEG of an upscale. */
static void fit(int w, int h, int max_side, int *dw, int *dh)
{
    max_side = LG_MIN(max_side, LG_MAX(w, h));
    if (w >= h) {
        *dw = max_side;
        *dh = (int)LG_MAX(1, ((int64_t)h * max_side + w / 2) / w);
    } else {
        *dh = max_side;
        *dw = (int)LG_MAX(1, ((int64_t)w * max_side + h / 2) / h);
    }
}

static AVFrame *frame_new(int w, int h, enum AVPixelFormat fmt)
{
    AVFrame *f = av_frame_alloc();
    if (!f)
        return NULL;
    f->width = w;
    f->height = h;
    f->format = fmt;
    if (av_frame_get_buffer(f, 0) < 0)
        av_frame_free(&f);
    return f;
}

/* Runs one swscale conversion from src into a new frame of w x h in fmt. */
static int convert(const AVFrame *src, int w, int h, enum AVPixelFormat fmt, AVFrame **out)
{
    struct SwsContext *sws =
        sws_getContext(src->width, src->height, src->format, w, h, fmt,
                       SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    AVFrame *dst = frame_new(w, h, fmt);
    int r = LG_EMEDIA;
    if (sws && dst &&
        sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data,
                  dst->linesize) == h)
    {
        *out = dst;
        dst = NULL;
        r = 0;
    }
    av_frame_free(&dst);
    sws_freeContext(sws);
    return r;
}

/* Lays RGBA pixels over white, leaving them opaque. */
static void over_white(AVFrame *f)
{
    for (int y = 0; y < f->height; y++) {
        uint8_t *p = f->data[0] + (ptrdiff_t)y * f->linesize[0];
        for (int x = 0; x < f->width; x++, p += 4) {
            unsigned a = p[3];
            for (int c = 0; c < 3; c++)
                p[c] = (uint8_t)((p[c] * a + 255u * (255u - a) + 127u) / 255u);
            p[3] = 255;
        }
    }
}

/* Encodes a YUVJ420P frame as one JPEG; caller owns *out. */
static int encode_jpeg(AVFrame *f, unsigned char **out, size_t *out_len)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *ctx = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    int r = LG_EMEDIA;
    if (!ctx || !pkt)
        goto out;
    ctx->width = f->width;
    ctx->height = f->height;
    ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
    ctx->color_range = AVCOL_RANGE_JPEG;
    ctx->time_base = (AVRational){ 1, 25 };
    ctx->thread_count = 1;
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = FF_QP2LAMBDA * JPEG_QSCALE;
    f->quality = ctx->global_quality;
    f->pts = 0;
    if (avcodec_open2(ctx, codec, NULL) < 0 || avcodec_send_frame(ctx, f) < 0 ||
        avcodec_send_frame(ctx, NULL) < 0 || avcodec_receive_packet(ctx, pkt) < 0 || pkt->size <= 0)
        goto out;
    *out = lg_xmalloc((size_t)pkt->size);
    memcpy(*out, pkt->data, (size_t)pkt->size);
    *out_len = (size_t)pkt->size;
    r = 0;
out:
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return r;
}

int lg_image_thumbnail(const void *data, size_t len, int max_side, unsigned char **out,
                       size_t *out_len)
{
    if (max_side < 1 || max_side > LG_IMAGE_SIZE_MAX)
        return LG_EINVAL;
    AVFrame *src = NULL;
    AVFrame *rgba = NULL;
    AVFrame *yuv = NULL;
    int r = decode(data, len, &src);
    if (r < 0)
        return r;
    int w;
    int h;
    fit(src->width, src->height, max_side, &w, &h);
    r = convert(src, w, h, AV_PIX_FMT_RGBA, &rgba);
    if (r == 0) {
        over_white(rgba);
        r = convert(rgba, w, h, AV_PIX_FMT_YUVJ420P, &yuv);
    }
    if (r == 0)
        r = encode_jpeg(yuv, out, out_len);
    av_frame_free(&yuv);
    av_frame_free(&rgba);
    av_frame_free(&src);
    return r;
}

/* Luma of the placeholder at (x, y): rings from the centre outwards. */
static uint8_t placeholder_luma(int x, int y, int side)
{
    int64_t dx = 2 * (int64_t)x + 1 - side;
    int64_t dy = 2 * (int64_t)y + 1 - side;
    int64_t r2 = dx * dx + dy * dy; /* (2 * distance)^2 */
    int64_t s2 = (int64_t)side * side;
    if (r2 < s2 / 1600) /* the spindle hole */
        return 40;
    if (r2 < s2 / 10) /* the label */
        return 150;
    if (r2 < s2 * 16 / 25) /* the record */
        return 72;
    return 40;
}

int lg_image_placeholder(int side, unsigned char **out, size_t *out_len)
{
    if (side < 1 || side > LG_IMAGE_SIZE_MAX)
        return LG_EINVAL;
    AVFrame *f = frame_new(side, side, AV_PIX_FMT_YUVJ420P);
    if (!f)
        return -ENOMEM;
    for (int y = 0; y < side; y++) {
        uint8_t *row = f->data[0] + (ptrdiff_t)y * f->linesize[0];
        for (int x = 0; x < side; x++)
            row[x] = placeholder_luma(x, y, side);
    }
    for (int p = 1; p <= 2; p++) {
        for (int y = 0; y < (side + 1) / 2; y++)
            memset(f->data[p] + (ptrdiff_t)y * f->linesize[p], 128, (size_t)(side + 1) / 2);
    }
    int r = encode_jpeg(f, out, out_len);
    av_frame_free(&f);
    return r;
}

/* --- reading files and the cache --------------------------------------- */

/* Reads a regular file of at most limit bytes; caller owns *data. */
static int read_file(const char *path, size_t limit, unsigned char **data, size_t *len,
                     struct stat *st_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? LG_ENOTFOUND : -errno;
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (!S_ISREG(st.st_mode))
        r = LG_ENOTFOUND;
    else if ((uint64_t)st.st_size > limit)
        r = LG_ETOOBIG;
    unsigned char *buf = NULL;
    size_t n = 0;
    if (r == 0) {
        buf = lg_xmalloc((size_t)st.st_size + 1);
        while (n < (size_t)st.st_size) {
            ssize_t got = read(fd, buf + n, (size_t)st.st_size - n);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break; /* shrank while read, or failed: take what is there */
            n += (size_t)got;
        }
    }
    close(fd);
    if (r < 0)
        return r;
    *data = buf;
    *len = n;
    if (st_out)
        *st_out = st;
    return 0;
}

static bool same_time(const struct stat *a, const struct stat *b)
{
    return a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The cached thumbnail at path when it was made from the source as it is;
 * LG_EMEDIA when making it failed (an empty file says so: a picture that
 * cannot be read is not decoded again on every request). */
static int cache_get(const char *path, const struct stat *src, unsigned char **data, size_t *len)
{
    unsigned char *buf;
    size_t n;
    struct stat st;
    int r = read_file(path, PICTURE_MAX, &buf, &n, &st);
    if (r < 0)
        return r;
    if (n == 0 && same_time(&st, src)) {
        free(buf);
        return LG_EMEDIA;
    }
    if (n == 0 || !same_time(&st, src) || !lg_image_sniff(buf, n)) {
        free(buf);
        return LG_ENOTFOUND;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Stores a thumbnail: a temporary file beside path, stamped with the source's
 * time, renamed over path. Readers see the old file or the new, never half. */
static int cache_put(const char *path, const struct stat *src, const unsigned char *data,
                     size_t len)
{
    int r = lg_mkdir_parent(path, 0755);
    if (r < 0)
        return r;
    char *tmp = lg_xasprintf("%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        r = -errno;
        free(tmp);
        return r;
    }
    r = lg_write_all(fd, data, len);
    struct timespec times[2] = { src->st_mtim, src->st_mtim };
    if (r == 0 && futimens(fd, times) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    free(tmp);
    return r;
}

/* The source's own bytes: the embedded picture, or the image file. */
static int read_original(const struct lg_cover_req *rq, unsigned char **data, size_t *len,
                         const char **mime)
{
    if (rq->embedded) {
        int r = lg_media_picture(rq->path, PICTURE_MAX, data, len, mime);
        return r == -ENOENT ? LG_ENOTFOUND : r;
    }
    int r = read_file(rq->path, PICTURE_MAX, data, len, NULL);
    if (r < 0)
        return r;
    /* Only an image: the file may have been replaced since the scan (by a
     * link to any file the server can read). */
    *mime = lg_image_sniff(*data, *len);
    if (!*mime) {
        free(*data);
        *data = NULL;
        return LG_EMEDIA;
    }
    return 0;
}

int lg_cover_read(const struct lg_cover_req *rq, unsigned char **data, size_t *len,
                  const char **mime)
{
    struct stat src;
    if (stat(rq->path, &src) < 0)
        return errno == ENOENT || errno == ENOTDIR ? LG_ENOTFOUND : -errno;
    int cached =
        rq->size > 0 && rq->cache_path ? cache_get(rq->cache_path, &src, data, len) : LG_ENOTFOUND;
    if (cached == 0) {
        *mime = "image/jpeg";
        return 0;
    }
    if (cached == LG_EMEDIA)
        return LG_EMEDIA; /* it failed before, for this very source */
    unsigned char *orig;
    size_t orig_len;
    const char *orig_mime;
    int r = read_original(rq, &orig, &orig_len, &orig_mime);
    if (r < 0 || rq->size <= 0) {
        if (r == 0) {
            *data = orig;
            *len = orig_len;
            *mime = orig_mime;
        }
        return r;
    }
    unsigned char *thumb;
    size_t thumb_len;
    r = lg_image_thumbnail(orig, orig_len, rq->size, &thumb, &thumb_len);
    free(orig);
    if ((r == LG_EMEDIA || r == LG_ETOOBIG) && rq->cache_path)
        (void)cache_put(rq->cache_path, &src, NULL, 0); /* remembered: see cache_get */
    if (r < 0)
        return r;
    if (rq->cache_path) {
        int c = cache_put(rq->cache_path, &src, thumb, thumb_len);
        if (c < 0)
            lg_log(&ilog, LG_LOG_WARN, "cannot cache a cover in %s: %s", rq->cache_path,
                   lg_strerror(c));
    }
    *data = thumb;
    *len = thumb_len;
    *mime = "image/jpeg";
    return 0;
}

int lg_cover_etag(const char *path, int size, char out[LG_COVER_ETAG_MAX])
{
    struct stat st;
    if (stat(path, &st) < 0)
        return errno == ENOENT || errno == ENOTDIR ? LG_ENOTFOUND : -errno;
    int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    snprintf(out, LG_COVER_ETAG_MAX, "\"c%llx-%llx-%llx-%d\"", (unsigned long long)st.st_ino,
             (unsigned long long)st.st_size, (unsigned long long)mtime_ns, size);
    return 0;
}
