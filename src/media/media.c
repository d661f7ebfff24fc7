/* SPDX-License-Identifier: MIT */
/*
 * Probing audio files with libavformat. Speed matters here because the
 * library scan probes every new file: avformat_find_stream_info decodes
 * frames, so it runs only when the container did not state the stream
 * parameters (raw MP3 without a Xing/Info header, ADTS AAC, ...), and format
 * probing reads at most PROBE_BYTES. Tag keys are matched after folding case
 * and dropping spaces, underscores and hyphens, so "album_artist", "Album
 * Artist" and ALBUMARTIST are one key; a table says which key fills which
 * field and with what rank when several are present.
 */
#include "media/media.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <strings.h>

#include "core/str.h"
#include "media/media_int.h"

/* Bytes format detection may read. Larger ID3v2 tags are handled by
 * libavformat's extension fallback, so this bounds the cost of non-audio. */
#define PROBE_BYTES 65536
/* Bytes and time avformat_find_stream_info may spend when it has to run. */
#define ANALYZE_BYTES   262144
#define ANALYZE_USEC    2000000
#define TAG_VALUE_LIMIT 4096 /* longer tag values are cut (at a UTF-8 boundary) */

enum field {
    F_TITLE,
    F_ARTIST,
    F_ALBUM_ARTIST,
    F_ALBUM,
    F_GENRE,
    F_COMPOSER,
    F_MB_TRACK,
    F_MB_ALBUM,
    F_MB_ARTIST,
    F_MB_ALBUM_ARTIST,
    F_N_STRINGS, /* fields above are strings, copied into the info */
    F_TRACK = F_N_STRINGS,
    F_TRACK_TOTAL,
    F_DISC,
    F_DISC_TOTAL,
    F_DATE,
    F_COMPILATION,
    F_COUNT,
};

struct tag_key {
    const char *key; /* folded: lowercase, no ' ', '_' or '-' */
    enum field field;
    int rank; /* lower wins when several keys fill one field */
};

static const struct tag_key tag_keys[] = {
    { "title", F_TITLE, 0 },
    { "tit2", F_TITLE, 1 },
    { "artist", F_ARTIST, 0 },
    { "tpe1", F_ARTIST, 1 },
    { "albumartist", F_ALBUM_ARTIST, 0 },
    { "tpe2", F_ALBUM_ARTIST, 1 },
    { "album", F_ALBUM, 0 },
    { "talb", F_ALBUM, 1 },
    { "genre", F_GENRE, 0 },
    { "tcon", F_GENRE, 1 },
    { "composer", F_COMPOSER, 0 },
    { "tcom", F_COMPOSER, 1 },
    { "musicbrainztrackid", F_MB_TRACK, 0 },
    { "musicbrainzrecordingid", F_MB_TRACK, 1 },
    { "musicbrainzalbumid", F_MB_ALBUM, 0 },
    { "musicbrainzartistid", F_MB_ARTIST, 0 },
    { "musicbrainzalbumartistid", F_MB_ALBUM_ARTIST, 0 },
    { "track", F_TRACK, 0 },
    { "tracknumber", F_TRACK, 1 },
    { "trck", F_TRACK, 2 },
    { "tracktotal", F_TRACK_TOTAL, 0 },
    { "totaltracks", F_TRACK_TOTAL, 1 },
    { "disc", F_DISC, 0 },
    { "discnumber", F_DISC, 1 },
    { "tpos", F_DISC, 2 },
    { "disctotal", F_DISC_TOTAL, 0 },
    { "totaldiscs", F_DISC_TOTAL, 1 },
    { "date", F_DATE, 0 },
    { "tdrc", F_DATE, 1 },
    { "year", F_DATE, 2 },
    { "tyer", F_DATE, 3 },
    { "originaldate", F_DATE, 4 },
    { "tdor", F_DATE, 5 },
    { "originalyear", F_DATE, 6 },
    { "compilation", F_COMPILATION, 0 },
    { "tcmp", F_COMPILATION, 1 },
    { "cpil", F_COMPILATION, 2 },
    { "itunescompilation", F_COMPILATION, 3 },
};

/* The raw tag values found, borrowed from the demuxer's dictionaries. */
struct tags {
    const char *val[F_COUNT];
    int rank[F_COUNT];
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void)
{
    av_log_set_level(AV_LOG_QUIET);
}

void lg_media_init(void)
{
    /* Once only: FFmpeg reads the level unlocked from every thread. */
    pthread_once(&init_once, init);
}

void lg_media_info_free(struct lg_media_info *mi)
{
    if (!mi)
        return;
    char **strs[] = { &mi->title,        &mi->artist,
                      &mi->album_artist, &mi->album,
                      &mi->genre,        &mi->composer,
                      &mi->mb_track_id,  &mi->mb_album_id,
                      &mi->mb_artist_id, &mi->mb_album_artist_id };
    for (size_t i = 0; i < LG_ARRAY_LEN(strs); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

/* Folds a tag key for matching; returns false when it is too long to be one
 * we know. */
static bool fold_key(const char *key, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = key; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '_' || c == '-')
            continue;
        if (n + 1 >= cap)
            return false;
        out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return true;
}

static void collect_tags(struct tags *t, const AVDictionary *dict)
{
    const AVDictionaryEntry *e = NULL;
    while ((e = av_dict_get(dict, "", e, AV_DICT_IGNORE_SUFFIX)) != NULL) {
        char key[40];
        if (!e->value || !*e->value || !fold_key(e->key, key, sizeof(key)))
            continue;
        for (size_t i = 0; i < LG_ARRAY_LEN(tag_keys); i++) {
            const struct tag_key *k = &tag_keys[i];
            if (strcmp(k->key, key) == 0 && (!t->val[k->field] || k->rank < t->rank[k->field])) {
                t->val[k->field] = e->value;
                t->rank[k->field] = k->rank;
                break;
            }
        }
    }
}

/* A tag value as an owned, valid UTF-8 string with surrounding spaces
 * dropped and its length bounded. */
static char *tag_string(const char *v)
{
    if (!v)
        return lg_xstrdup("");
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strnlen(v, TAG_VALUE_LIMIT);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\n'))
        len--;
    char *s = lg_utf8_valid(v, len) ? lg_xstrndup(v, len) : lg_utf8_sanitize(v, len);
    if (len == TAG_VALUE_LIMIT) {
        /* The cut may have split a character: drop the replacement char. */
        size_t n = strlen(s);
        if (n >= 3 && memcmp(s + n - 3, "\xef\xbf\xbd", 3) == 0)
            s[n - 3] = '\0';
    }
    return s;
}

/* A MusicBrainz id: the first of several ("id1;id2", "id1/id2"). */
static char *mbid_string(const char *v)
{
    char *s = tag_string(v);
    s[strcspn(s, ";/, ")] = '\0';
    return s;
}

/* Parses the leading decimal number of s (after spaces); 0 when none, and
 * when it has more than five digits (a track "999999999999" is no track
 * number; keeping its first digits would show a made-up one). The number
 * after a '/' goes to *total when total is not NULL. */
static int leading_int(const char *s, int *total)
{
    if (!s)
        return 0;
    while (*s == ' ')
        s++;
    long v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++)
        v = digits < 5 ? v * 10 + (*s - '0') : 0;
    if (total && *s == '/') {
        int t = leading_int(s + 1, NULL);
        if (t > 0)
            *total = t;
    }
    return (int)v;
}

/* The first run of exactly four digits in a date ("2003-04-05",
 * "05/04/2003"); 0 when none ("99999" is no year). */
static int year_of(const char *s)
{
    if (!s)
        return 0;
    for (const char *p = s; *p; p++) {
        int n = 0;
        while (p[n] >= '0' && p[n] <= '9')
            n++;
        if (n == 4)
            return (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
        p += n ? n - 1 : 0;
    }
    return 0;
}

static int truthy(const char *s)
{
    if (!s)
        return 0;
    return leading_int(s, NULL) > 0 || lg_str_casecmp(s, "true") == 0 ||
           lg_str_casecmp(s, "yes") == 0;
}

static void fill_tags(struct lg_media_info *mi, const struct tags *t)
{
    mi->title = tag_string(t->val[F_TITLE]);
    mi->artist = tag_string(t->val[F_ARTIST]);
    mi->album_artist = tag_string(t->val[F_ALBUM_ARTIST]);
    mi->album = tag_string(t->val[F_ALBUM]);
    mi->genre = tag_string(t->val[F_GENRE]);
    mi->composer = tag_string(t->val[F_COMPOSER]);
    mi->mb_track_id = mbid_string(t->val[F_MB_TRACK]);
    mi->mb_album_id = mbid_string(t->val[F_MB_ALBUM]);
    mi->mb_artist_id = mbid_string(t->val[F_MB_ARTIST]);
    mi->mb_album_artist_id = mbid_string(t->val[F_MB_ALBUM_ARTIST]);
    mi->track_no = leading_int(t->val[F_TRACK], &mi->track_total);
    mi->disc_no = leading_int(t->val[F_DISC], &mi->disc_total);
    if (t->val[F_TRACK_TOTAL])
        mi->track_total = leading_int(t->val[F_TRACK_TOTAL], NULL);
    if (t->val[F_DISC_TOTAL])
        mi->disc_total = leading_int(t->val[F_DISC_TOTAL], NULL);
    mi->year = year_of(t->val[F_DATE]);
    mi->compilation = truthy(t->val[F_COMPILATION]);
}

static void set_err(char *err, size_t err_len, const char *what, int averr)
{
    if (!err || !err_len)
        return;
    char reason[AV_ERROR_MAX_STRING_SIZE] = "";
    if (averr < 0)
        av_strerror(averr, reason, sizeof(reason));
    snprintf(err, err_len, "%s%s%s", what, averr < 0 && *what ? ": " : "", reason);
}

/* Demuxers a probe may use: the audio formats legato serves. Playlist and
 * concatenation demuxers (hls, concat, ...) would open other files or URLs
 * named inside a file, so they are ruled out, as is every protocol but file. */
static const char format_whitelist[] = "mp3,flac,ogg,mov,aac,wav,aiff,asf,ape,wv,mpc,mpc8";

static int open_error(int averr, char *err, size_t err_len)
{
    if (averr == AVERROR(EINVAL)) {
        set_err(err, err_len, "not a supported audio format", 0);
        return LG_EMEDIA;
    }
    if (averr == AVERROR_EOF) {
        set_err(err, err_len, "truncated file", 0);
        return LG_EMEDIA;
    }
    set_err(err, err_len, "", averr);
    if (averr == AVERROR(ENOENT) || averr == AVERROR(EACCES) || averr == AVERROR(EISDIR))
        return averr; /* AVERROR(e) is -e on POSIX systems */
    return averr == AVERROR(ENOMEM) ? -ENOMEM : LG_EMEDIA;
}

/*
 * Files are read through an I/O context of legato's own rather than
 * libavformat's "file:" protocol, to bound what opening one may read into
 * memory: libavformat reads tags and embedded pictures whole as it opens a
 * file (an ID3 tag may claim 256 MB, a FLAC file up to a thousand 16 MB
 * pictures), allocating before it reads. It reads such a block straight
 * into its own allocation, with one request larger than the I/O buffer;
 * those requests may take LG_MEDIA_HEADER_MAX bytes in all while the file is
 * opened (memory allocated but never read into is never touched), and the
 * open then fails with a clear reason. Refills of the buffer itself (headers,
 * frames, a fragmented MP4's skipped media) take no memory beyond it and
 * are not counted; after the open nothing is.
 */
enum { IO_BUFFER = 64 * 1024 };

struct media_io {
    int fd;
    int64_t budget; /* bytes left to read while opening; -1: no bound */
    bool over;      /* the bound was reached */
};

static int io_read(void *opaque, uint8_t *buf, int size)
{
    struct media_io *io = opaque;
    bool counted = io->budget >= 0 && size > IO_BUFFER;
    if (counted) {
        if (io->budget == 0) {
            io->over = true;
            return AVERROR(EFBIG);
        }
        if (size > io->budget)
            size = (int)io->budget;
    }
    ssize_t n;
    do
        n = read(io->fd, buf, (size_t)size);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return AVERROR(errno);
    if (n == 0)
        return AVERROR_EOF;
    if (counted)
        io->budget -= n;
    return (int)n;
}

static int64_t io_seek(void *opaque, int64_t offset, int whence)
{
    struct media_io *io = opaque;
    if (whence & AVSEEK_SIZE) {
        struct stat st;
        return fstat(io->fd, &st) == 0 ? (int64_t)st.st_size : AVERROR(errno);
    }
    off_t r = lseek(io->fd, (off_t)offset, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(errno) : (int64_t)r;
}

static void io_free(AVIOContext *pb)
{
    if (!pb)
        return;
    struct media_io *io = pb->opaque;
    av_freep(&pb->buffer);
    avio_context_free(&pb);
    if (io) {
        close(io->fd);
        free(io);
    }
}

void lg_media_close_input(AVFormatContext **fmt)
{
    if (!fmt || !*fmt)
        return;
    AVIOContext *pb = (*fmt)->pb;
    avformat_close_input(fmt); /* leaves a caller's I/O context alone */
    io_free(pb);
}

int lg_media_open_input(const char *path, AVFormatContext **out, char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return open_error(AVERROR(errno), err, err_len);
    struct media_io *io = malloc(sizeof(*io));
    if (io)
        *io = (struct media_io){ .fd = fd, .budget = LG_MEDIA_HEADER_MAX };
    unsigned char *buf = av_malloc(IO_BUFFER);
    AVIOContext *pb =
        io && buf ? avio_alloc_context(buf, IO_BUFFER, 0, io, io_read, NULL, io_seek) : NULL;
    AVFormatContext *fmt = pb ? avformat_alloc_context() : NULL;
    if (!fmt) {
        if (pb) {
            io_free(pb); /* its buffer and io; and the file */
        } else {
            av_free(buf);
            free(io);
            close(fd);
        }
        return -ENOMEM;
    }
    fmt->pb = pb;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    fmt->format_probesize = PROBE_BYTES;
    fmt->probesize = ANALYZE_BYTES;
    fmt->max_analyze_duration = ANALYZE_USEC;
    fmt->format_whitelist = av_strdup(format_whitelist);
    /* For the files a container may name (none is read: see the formats). */
    fmt->protocol_whitelist = av_strdup("file");
    /* "file:" keeps a name such as "a:b.mp3" from being read as a protocol. */
    char *url = lg_xasprintf("file:%s", path);
    int r = avformat_open_input(&fmt, url, NULL, NULL); /* frees fmt on failure */
    free(url);
    if (r >= 0 && io->over) { /* opened on a cut header: not what the file says */
        avformat_close_input(&fmt);
        r = AVERROR(EFBIG);
    }
    if (r < 0) {
        bool over = io->over;
        io_free(pb);
        if (over) {
            set_err(err, err_len,
                    "tags or pictures larger than 64 MB (not read: save the file with smaller "
                    "embedded pictures)",
                    0);
            return LG_EMEDIA;
        }
        return open_error(r, err, err_len);
    }
    io->budget = -1;
    *out = fmt;
    return 0;
}

AVStream *lg_media_audio_stream(const AVFormatContext *fmt)
{
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO &&
            !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
            return st;
    }
    return NULL;
}

static bool params_known(const AVFormatContext *fmt, const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    bool has_duration = st->duration > 0 || fmt->duration > 0;
    return par->codec_id != AV_CODEC_ID_NONE && par->sample_rate > 0 &&
           par->ch_layout.nb_channels > 0 && has_duration;
}

static int64_t duration_ms(const AVFormatContext *fmt, const AVStream *st)
{
    if (fmt->duration > 0)
        return av_rescale(fmt->duration, 1000, AV_TIME_BASE);
    if (st->duration > 0)
        return av_rescale_q(st->duration, st->time_base, (AVRational){ 1, 1000 });
    return 0;
}

/* Bytes of embedded pictures, which an average bit rate must not count. */
static int64_t picture_bytes(const AVFormatContext *fmt, int *has_picture)
{
    int64_t n = 0;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (st->disposition & AV_DISPOSITION_ATTACHED_PIC) {
            *has_picture = 1;
            n += st->attached_pic.size;
        }
    }
    return n;
}

static void fill_params(struct lg_media_info *mi, AVFormatContext *fmt, const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    mi->sample_rate = par->sample_rate;
    mi->channels = par->ch_layout.nb_channels;
    mi->duration_ms = duration_ms(fmt, st);
    snprintf(mi->codec, sizeof(mi->codec), "%s", avcodec_get_name(par->codec_id));
    snprintf(mi->container, sizeof(mi->container), "%s", fmt->iformat->name);
    const AVCodecDescriptor *desc = avcodec_descriptor_get(par->codec_id);
    if (desc && (desc->props & AV_CODEC_PROP_LOSSLESS)) {
        mi->bits_per_sample =
            par->bits_per_raw_sample > 0 ? par->bits_per_raw_sample : par->bits_per_coded_sample;
    }
    /* The stream's own figure (a CBR rate, a Xing average, an MP4 avg
     * bitrate) when there is one, else the average over the audio bytes. */
    int64_t pics = picture_bytes(fmt, &mi->has_picture);
    int64_t size = fmt->pb ? avio_size(fmt->pb) : -1;
    if (par->bit_rate > 0)
        mi->bitrate_kbps = (int)LG_MIN(par->bit_rate / 1000, INT32_MAX);
    else if (size > pics && mi->duration_ms > 0)
        mi->bitrate_kbps = (int)LG_MIN((size - pics) * 8 / mi->duration_ms, INT32_MAX);
    else if (fmt->bit_rate > 0)
        mi->bitrate_kbps = (int)LG_MIN(fmt->bit_rate / 1000, INT32_MAX);
}

int lg_media_probe(const char *path, struct lg_media_info *out, char *err, size_t err_len)
{
    AVFormatContext *fmt = NULL;
    int r = lg_media_open_input(path, &fmt, err, err_len);
    if (r < 0)
        return r;
    AVStream *st = lg_media_audio_stream(fmt);
    if (st && !params_known(fmt, st)) {
        /* The container did not say: let libavformat parse a few frames. */
        r = avformat_find_stream_info(fmt, NULL);
        st = r >= 0 ? lg_media_audio_stream(fmt) : NULL;
    }
    if (!st || !params_known(fmt, st)) {
        set_err(err, err_len, st ? "no playable audio" : "no audio stream", r < 0 ? r : 0);
        r = LG_EMEDIA;
        goto out;
    }
    struct lg_media_info mi = { 0 };
    struct tags t = { 0 };
    collect_tags(&t, fmt->metadata);
    collect_tags(&t, st->metadata);
    fill_tags(&mi, &t);
    fill_params(&mi, fmt, st);
    *out = mi;
    r = 0;
out:
    lg_media_close_input(&fmt);
    return r;
}

static const char *picture_mime(enum AVCodecID id)
{
    switch (id) {
    case AV_CODEC_ID_MJPEG:
        return "image/jpeg";
    case AV_CODEC_ID_PNG:
        return "image/png";
    case AV_CODEC_ID_GIF:
        return "image/gif";
    case AV_CODEC_ID_BMP:
        return "image/bmp";
    case AV_CODEC_ID_WEBP:
        return "image/webp";
    case AV_CODEC_ID_TIFF:
        return "image/tiff";
    default:
        return "application/octet-stream";
    }
}

int lg_media_picture(const char *path, size_t limit_bytes, unsigned char **data, size_t *len,
                     const char **mime)
{
    AVFormatContext *fmt = NULL;
    int r = lg_media_open_input(path, &fmt, NULL, 0);
    if (r < 0)
        return r == -ENOMEM ? r : LG_EMEDIA;
    r = LG_ENOTFOUND;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (!(st->disposition & AV_DISPOSITION_ATTACHED_PIC) || st->attached_pic.size <= 0)
            continue;
        size_t n = (size_t)st->attached_pic.size;
        if (n > limit_bytes) {
            r = LG_ETOOBIG;
            break;
        }
        unsigned char *copy = lg_xmalloc(n);
        memcpy(copy, st->attached_pic.data, n);
        *data = copy;
        *len = n;
        *mime = picture_mime(st->codecpar->codec_id);
        r = 0;
        break;
    }
    lg_media_close_input(&fmt);
    return r;
}

struct type_row {
    const char *suffix;
    const char *type;
};

/* The first row for a type is the suffix that type maps back to. */
static const struct type_row type_rows[] = {
    { "mp3", "audio/mpeg" },    { "flac", "audio/flac" },    { "ogg", "audio/ogg" },
    { "oga", "audio/ogg" },     { "opus", "audio/ogg" },     { "m4a", "audio/mp4" },
    { "mp4", "audio/mp4" },     { "aac", "audio/aac" },      { "wav", "audio/wav" },
    { "aiff", "audio/aiff" },   { "aif", "audio/aiff" },     { "wma", "audio/x-ms-wma" },
    { "ape", "audio/x-ape" },   { "wv", "audio/x-wavpack" }, { "mpc", "audio/x-musepack" },
    { "mp3", "audio/mp3" },     { "flac", "audio/x-flac" },  { "opus", "audio/opus" },
    { "m4a", "audio/x-m4a" },   { "wav", "audio/x-wav" },    { "wav", "audio/wave" },
    { "aiff", "audio/x-aiff" }, { "aac", "audio/aacp" },     { "mp3", "audio/mpeg3" },
};

/* Rows above this index map types to suffixes only. */
#define N_AUDIO_SUFFIXES 15

const char *lg_media_content_type(const char *suffix)
{
    for (size_t i = 0; i < N_AUDIO_SUFFIXES; i++) {
        if (lg_str_casecmp(type_rows[i].suffix, suffix) == 0)
            return type_rows[i].type;
    }
    return "application/octet-stream";
}

/* The suffix a file holding codec in container would have; NULL when legato
 * has no better name for it than the one it has. */
static const char *codec_suffix(const char *codec, const char *container)
{
    bool mp4 = container && strstr(container, "mp4");
    if (strcmp(codec, "mp3") == 0 || strcmp(codec, "flac") == 0)
        return codec;
    if (strcmp(codec, "vorbis") == 0 || strcmp(codec, "opus") == 0)
        return "ogg";
    if (strcmp(codec, "alac") == 0)
        return "m4a";
    if (strcmp(codec, "aac") == 0)
        return mp4 ? "m4a" : "aac";
    if (strncmp(codec, "pcm_", 4) == 0)
        return container && strstr(container, "aiff") ? "aiff" : "wav";
    return NULL;
}

const char *lg_media_content_type_of(const char *suffix, const char *codec, const char *container)
{
    /* Names that stand for one codec, and the codec. */
    static const char *const single[][2] = {
        { "mp3", "mp3" }, { "flac", "flac" }, { "opus", "opus" },
        { "aac", "aac" }, { "ape", "ape" },   { "wv", "wavpack" },
    };
    for (size_t i = 0; codec && *codec && i < LG_ARRAY_LEN(single); i++) {
        if (lg_str_casecmp(suffix, single[i][0]) == 0 && strcmp(codec, single[i][1]) != 0) {
            const char *truer = codec_suffix(codec, container);
            return lg_media_content_type(truer ? truer : suffix);
        }
    }
    return lg_media_content_type(suffix);
}

const char *lg_media_suffix_for_type(const char *content_type)
{
    size_t n = strcspn(content_type, "; ");
    for (size_t i = 0; i < LG_ARRAY_LEN(type_rows); i++) {
        const char *t = type_rows[i].type;
        if (strlen(t) == n && strncasecmp(t, content_type, n) == 0)
            return type_rows[i].suffix;
    }
    return NULL;
}

bool lg_media_is_audio_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return false;
    for (size_t i = 0; i < N_AUDIO_SUFFIXES; i++) {
        if (lg_str_casecmp(type_rows[i].suffix, dot + 1) == 0)
            return true;
    }
    return false;
}
