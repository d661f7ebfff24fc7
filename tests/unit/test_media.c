/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of media/: tag mapping across containers (ID3v2, Vorbis
 * comments in FLAC, Ogg and Opus, MP4 atoms), number and year parsing,
 * sanitising of tags that are not UTF-8, stream parameters, embedded
 * pictures, the failures a scan meets (empty, truncated, text and missing
 * files) and the suffix/content-type table. Test files are made with the
 * ffmpeg command line in a temporary folder; without it the test is skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "core/str.h"
#include "media/media.h"
#include "media/media_int.h"

#include "harness.h"

static char *tmp;

/* Runs an ffmpeg command line in tmp (quiet, overwriting). */
static void ffmpeg(const char *args)
{
    char *cmd =
        lg_xasprintf("cd '%s' && ffmpeg -nostdin -hide_banner -loglevel error -y %s", tmp, args);
    int r = system(cmd);
    if (r != 0)
        fprintf(stderr, "  command failed: %s\n", cmd);
    lg_assert(r == 0);
    free(cmd);
}

static char *path_of(const char *name)
{
    return lg_xasprintf("%s/%s", tmp, name);
}

static int probe(const char *name, struct lg_media_info *mi, char *err, size_t err_len)
{
    char *p = path_of(name);
    int r = lg_media_probe(p, mi, err, err_len);
    free(p);
    return r;
}

#define SINE "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=1 -ac 2 "
#define TAGS                                                                                  \
    "-metadata title='Song One' -metadata artist='The Artist' -metadata album='First Album' " \
    "-metadata track=3/12 -metadata disc=1/2 -metadata date=2003-04-05 -metadata genre=Rock " \
    "-metadata composer='A Composer' "

LG_TEST(setup)
{
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        printf("ffmpeg not found: skipping\n");
        exit(77);
    }
    lg_media_init();
    tmp = lg_test_tmpdir("media");
    ffmpeg(SINE TAGS "-metadata album_artist='Album Artist' -metadata compilation=1 "
                     "-metadata 'MusicBrainz Track Id=11111111-1111-1111-1111-111111111111' "
                     "-metadata 'MusicBrainz Album Id=22222222-2222-2222-2222-222222222222' "
                     "-metadata 'MusicBrainz Artist Id=33333333-3333-3333-3333-333333333333' "
                     "-metadata 'MusicBrainz Album Artist Id=44444444-4444-4444-4444-444444444444' "
                     "tagged.mp3");
    ffmpeg(SINE TAGS "-metadata 'album artist=Spaced AA' -metadata TRACKTOTAL=14 "
                     "-metadata MUSICBRAINZ_TRACKID=55555555-5555-5555-5555-555555555555 "
                     "-sample_fmt s16 tagged.flac");
    ffmpeg(SINE TAGS "-metadata ALBUMARTIST=OggAA -c:a libvorbis tagged.ogg");
    ffmpeg(SINE TAGS "-metadata album_artist=OpusAA -c:a libopus tagged.opus");
    ffmpeg(SINE TAGS "-metadata album_artist=M4aAA -metadata compilation=1 -c:a aac tagged.m4a");
    ffmpeg(SINE "-metadata title=$(printf 'Caf\\351') -metadata artist=$(printf 'Bj\\366rk') "
                "latin1.flac");
    ffmpeg(SINE "-metadata title=$(printf 'Caf\\351') latin1.mp3");
    ffmpeg(SINE "untagged.mp3");
    ffmpeg("-f lavfi -i color=c=red:s=32x32:d=1 -frames:v 1 cover.png");
    ffmpeg(SINE "-i cover.png -map 0 -map 1 -c:v png -disposition:v attached_pic "
                "-metadata title=Pictured pictured.mp3");
    ffmpeg("-f lavfi -i sine=frequency=440:sample_rate=48000:duration=1 -ac 1 -sample_fmt s32 "
           "deep.flac");
    char *cmd = lg_xasprintf("cd '%s' && : > empty.mp3 && echo 'not audio at all' > text.mp3 "
                             "&& head -c 200 tagged.flac > truncated.flac "
                             "&& head -c 2000 tagged.m4a > truncated.m4a",
                             tmp);
    int r = system(cmd);
    free(cmd);
    lg_assert(r == 0);
}

/* One row per container: the common tags must read the same everywhere. */
LG_TEST(common_tags)
{
    static const struct {
        const char *file, *album_artist, *codec;
        int sample_rate;
    } rows[] = {
        { "tagged.mp3", "Album Artist", "mp3", 44100 },
        { "tagged.flac", "Spaced AA", "flac", 44100 },
        { "tagged.ogg", "OggAA", "vorbis", 44100 },
        { "tagged.opus", "OpusAA", "opus", 48000 },
        { "tagged.m4a", "M4aAA", "aac", 44100 },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        struct lg_media_info mi = { 0 };
        char err[128] = "";
        int r = probe(rows[i].file, &mi, err, sizeof(err));
        CHECK_INT(r, 0);
        if (r != 0) {
            fprintf(stderr, "  %s: %s\n", rows[i].file, err);
            continue;
        }
        CHECK_STR(mi.title, "Song One");
        CHECK_STR(mi.artist, "The Artist");
        CHECK_STR(mi.album, "First Album");
        CHECK_STR(mi.album_artist, rows[i].album_artist);
        CHECK_STR(mi.genre, "Rock");
        CHECK_STR(mi.codec, rows[i].codec);
        CHECK_INT(mi.track_no, 3);
        CHECK_INT(mi.disc_no, 1);
        CHECK_INT(mi.year, 2003);
        CHECK_INT(mi.sample_rate, rows[i].sample_rate);
        CHECK_INT(mi.channels, 2);
        CHECK(mi.duration_ms > 950 && mi.duration_ms < 1100);
        CHECK(mi.bitrate_kbps > 0);
        CHECK_INT(mi.has_picture, 0);
        lg_media_info_free(&mi);
    }
}

LG_TEST(mp3_specifics)
{
    struct lg_media_info mi = { 0 };
    CHECK_INT(probe("tagged.mp3", &mi, NULL, 0), 0);
    CHECK_STR(mi.composer, "A Composer");
    CHECK_INT(mi.track_total, 12);
    CHECK_INT(mi.disc_total, 2);
    CHECK_INT(mi.compilation, 1);
    CHECK_INT(mi.bits_per_sample, 0);
    CHECK_STR(mi.mb_track_id, "11111111-1111-1111-1111-111111111111");
    CHECK_STR(mi.mb_album_id, "22222222-2222-2222-2222-222222222222");
    CHECK_STR(mi.mb_artist_id, "33333333-3333-3333-3333-333333333333");
    CHECK_STR(mi.mb_album_artist_id, "44444444-4444-4444-4444-444444444444");
    CHECK_STR(mi.container, "mp3");
    lg_media_info_free(&mi);
}

LG_TEST(flac_specifics)
{
    struct lg_media_info mi = { 0 };
    CHECK_INT(probe("tagged.flac", &mi, NULL, 0), 0);
    CHECK_INT(mi.track_total, 14); /* TRACKTOTAL wins over "3/12" */
    CHECK_INT(mi.bits_per_sample, 16);
    CHECK_INT(mi.compilation, 0);
    CHECK_STR(mi.mb_track_id, "55555555-5555-5555-5555-555555555555");
    CHECK_STR(mi.mb_album_id, "");
    lg_media_info_free(&mi);

    CHECK_INT(probe("deep.flac", &mi, NULL, 0), 0);
    CHECK_INT(mi.bits_per_sample, 24); /* FLAC stores s32 input as 24 bits */
    CHECK_INT(mi.channels, 1);
    CHECK_INT(mi.sample_rate, 48000);
    lg_media_info_free(&mi);

    CHECK_INT(probe("tagged.m4a", &mi, NULL, 0), 0);
    CHECK_INT(mi.compilation, 1); /* cpil atom */
    lg_media_info_free(&mi);
}

LG_TEST(untagged_and_invalid_utf8)
{
    struct lg_media_info mi = { 0 };
    CHECK_INT(probe("untagged.mp3", &mi, NULL, 0), 0);
    CHECK_STR(mi.title, "");
    CHECK_STR(mi.artist, "");
    CHECK_STR(mi.album_artist, "");
    CHECK_INT(mi.track_no, 0);
    CHECK_INT(mi.year, 0);
    lg_media_info_free(&mi);

    /* Numbers too long to be true are no numbers, not their first digits. */
    ffmpeg(SINE "-metadata track=999999999999/0 -metadata disc=4294967297 "
                "-metadata date=99999 huge.flac");
    CHECK_INT(probe("huge.flac", &mi, NULL, 0), 0);
    CHECK_INT(mi.track_no, 0);
    CHECK_INT(mi.disc_no, 0);
    CHECK_INT(mi.year, 0);
    lg_media_info_free(&mi);
    ffmpeg(SINE "-metadata track=12/99999 -metadata date=1999-05-04 fine.flac");
    CHECK_INT(probe("fine.flac", &mi, NULL, 0), 0);
    CHECK_INT(mi.track_no, 12);
    CHECK_INT(mi.year, 1999);
    lg_media_info_free(&mi);

    static const char *const files[] = { "latin1.flac", "latin1.mp3" };
    for (size_t i = 0; i < LG_ARRAY_LEN(files); i++) {
        CHECK_INT(probe(files[i], &mi, NULL, 0), 0);
        CHECK_STR(mi.title, "Caf\xef\xbf\xbd"); /* U+FFFD for the stray byte */
        CHECK(lg_utf8_valid(mi.artist, strlen(mi.artist)));
        lg_media_info_free(&mi);
    }
}

LG_TEST(failures)
{
    static const struct {
        const char *file;
        int err;
    } rows[] = {
        { "empty.mp3", LG_EMEDIA },     { "text.mp3", LG_EMEDIA },  { "truncated.flac", LG_EMEDIA },
        { "truncated.m4a", LG_EMEDIA }, { "cover.png", LG_EMEDIA }, { "missing.mp3", -ENOENT },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        struct lg_media_info mi = { 0 };
        mi.title = (char *)"untouched";
        char err[128] = "";
        CHECK_INT(probe(rows[i].file, &mi, err, sizeof(err)), rows[i].err);
        CHECK(*err != '\0'); /* a reason for the log */
        CHECK_STR(mi.title, "untouched");
    }
}

LG_TEST(pictures)
{
    struct lg_media_info mi = { 0 };
    CHECK_INT(probe("pictured.mp3", &mi, NULL, 0), 0);
    CHECK_INT(mi.has_picture, 1);
    CHECK_STR(mi.title, "Pictured");
    CHECK(mi.duration_ms > 950 && mi.duration_ms < 1100);
    lg_media_info_free(&mi);

    char *p = path_of("pictured.mp3");
    unsigned char *data = NULL;
    size_t len = 0;
    const char *mime = NULL;
    CHECK_INT(lg_media_picture(p, 1 << 20, &data, &len, &mime), 0);
    CHECK(len > 8 && data && memcmp(data, "\x89PNG", 4) == 0);
    CHECK_STR(mime, "image/png");
    free(data);
    CHECK_INT(lg_media_picture(p, 8, &data, &len, &mime), LG_ETOOBIG);
    free(p);
    p = path_of("tagged.flac");
    CHECK_INT(lg_media_picture(p, 1 << 20, &data, &len, &mime), LG_ENOTFOUND);
    free(p);
    p = path_of("text.mp3");
    CHECK_INT(lg_media_picture(p, 1 << 20, &data, &len, &mime), LG_EMEDIA);
    free(p);
}

/* name: an ID3v2.3 tag holding one APIC frame of pic_bytes zero bytes (a
 * "JPEG"), then the MPEG frames of bare.mp3 (made without a tag). */
static void write_big_tag(const char *name, size_t pic_bytes)
{
    char *src = path_of("bare.mp3");
    FILE *in = fopen(src, "rb");
    lg_assert(in != NULL);
    char *dst = path_of(name);
    FILE *out = fopen(dst, "wb");
    lg_assert(out != NULL);
    static const char head[] = "\0image/jpeg\0\3\0"; /* encoding, MIME, type, description */
    size_t frame = sizeof(head) - 1 + pic_bytes, tag = 10 + frame;
    unsigned char id3[10] = { 'I', 'D', '3', 3, 0, 0 };
    for (int i = 0; i < 4; i++)
        id3[6 + i] = (unsigned char)((tag >> (7 * (3 - i))) & 0x7f); /* syncsafe */
    unsigned char fh[10] = { 'A', 'P', 'I', 'C' };
    for (int i = 0; i < 4; i++)
        fh[4 + i] = (unsigned char)(frame >> (8 * (3 - i)));
    lg_assert(fwrite(id3, 1, 10, out) == 10 && fwrite(fh, 1, 10, out) == 10);
    lg_assert(fwrite(head, 1, sizeof(head) - 1, out) == sizeof(head) - 1);
    static const unsigned char zeros[65536];
    for (size_t left = pic_bytes; left > 0;) {
        size_t n = left < sizeof(zeros) ? left : sizeof(zeros);
        lg_assert(fwrite(zeros, 1, n, out) == n);
        left -= n;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        lg_assert(fwrite(buf, 1, n, out) == n);
    lg_assert(fclose(out) == 0);
    fclose(in);
    free(dst);
    free(src);
}

/* Opening a file reads at most LG_MEDIA_HEADER_MAX bytes of headers: a tag
 * that claims more is refused with a reason, not read into memory. */
LG_TEST(oversized_tags)
{
    ffmpeg(SINE "-id3v2_version 0 -write_xing 0 bare.mp3");
    write_big_tag("small-tag.mp3", 1 << 20);
    write_big_tag("big-tag.mp3", LG_MEDIA_HEADER_MAX + (1 << 20));
    struct lg_media_info mi = { 0 };
    char err[128] = "";
    CHECK_INT(probe("small-tag.mp3", &mi, err, sizeof(err)), 0); /* the tag is well made */
    CHECK_INT(mi.has_picture, 1);
    lg_media_info_free(&mi);
    mi = (struct lg_media_info){ 0 };
    CHECK_INT(probe("big-tag.mp3", &mi, err, sizeof(err)), LG_EMEDIA);
    CHECK(strstr(err, "larger than 64 MB") != NULL);
    char *p = path_of("big-tag.mp3");
    unsigned char *data = NULL;
    size_t len = 0;
    const char *mime = NULL;
    CHECK_INT(lg_media_picture(p, 1 << 20, &data, &len, &mime), LG_EMEDIA);
    CHECK_INT(unlink(p), 0); /* 65 MB */
    free(p);
}

LG_TEST(content_types)
{
    static const struct {
        const char *suffix, *type;
    } rows[] = {
        { "mp3", "audio/mpeg" },
        { "flac", "audio/flac" },
        { "ogg", "audio/ogg" },
        { "opus", "audio/ogg" },
        { "m4a", "audio/mp4" },
        { "aac", "audio/aac" },
        { "wav", "audio/wav" },
        { "aif", "audio/aiff" },
        { "wma", "audio/x-ms-wma" },
        { "MP3", "audio/mpeg" },
        { "txt", "application/octet-stream" },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++)
        CHECK_STR(lg_media_content_type(rows[i].suffix), rows[i].type);
    CHECK_STR(lg_media_suffix_for_type("audio/mpeg"), "mp3");
    CHECK_STR(lg_media_suffix_for_type("audio/ogg; codecs=opus"), "ogg");
    CHECK_STR(lg_media_suffix_for_type("audio/x-flac"), "flac");
    CHECK(lg_media_suffix_for_type("video/mp4") == NULL);
    /* The probed codec wins over a name that stands for another codec. */
    CHECK_STR(lg_media_content_type_of("mp3", "mp3", "mp3"), "audio/mpeg");
    CHECK_STR(lg_media_content_type_of("mp3", "flac", "flac"), "audio/flac");
    CHECK_STR(lg_media_content_type_of("flac", "mp3", "mp3"), "audio/mpeg");
    CHECK_STR(lg_media_content_type_of("aac", "aac", "mov,mp4,m4a,3gp,3g2,mj2"), "audio/aac");
    CHECK_STR(lg_media_content_type_of("flac", "aac", "mov,mp4,m4a,3gp,3g2,mj2"), "audio/mp4");
    CHECK_STR(lg_media_content_type_of("mp3", "pcm_s16le", "wav"), "audio/wav");
    CHECK_STR(lg_media_content_type_of("ogg", "vorbis", "ogg"), "audio/ogg"); /* many codecs */
    CHECK_STR(lg_media_content_type_of("m4a", "alac", NULL), "audio/mp4");
    CHECK_STR(lg_media_content_type_of("mp3", "", NULL), "audio/mpeg");
    CHECK_STR(lg_media_content_type_of("mp3", "wmav2", "asf"), "audio/mpeg"); /* unknown: name */
}

/* Decodes a whole file; returns the frames and the mean square of channel 0. */
static int64_t decode_all(const char *name, int *rate, int *channels, double *ms)
{
    char *path = path_of(name);
    struct lg_decoder *d = NULL;
    char err[128] = "";
    int r = lg_decoder_open(path, &d, err, sizeof(err));
    free(path);
    CHECK_INT(r, 0);
    if (r < 0)
        return -1;
    *rate = lg_decoder_rate(d);
    *channels = lg_decoder_channels(d);
    int64_t frames = 0;
    double sum = 0;
    const float *pcm;
    int n;
    while ((n = lg_decoder_read(d, &pcm)) > 0) {
        for (int i = 0; i < n; i++)
            sum += (double)pcm[i * *channels] * pcm[i * *channels];
        frames += n;
    }
    CHECK_INT(n, 0);
    lg_decoder_free(d);
    *ms = frames ? sum / (double)frames : 0;
    return frames;
}

LG_TEST(decode_to_float)
{
    /* A 1 kHz sine at half scale: mean square 0.125 in every format. */
    ffmpeg("-f lavfi -i 'aevalsrc=0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t):s=44100:d=2' "
           "dec.flac");
    ffmpeg("-f lavfi -i 'aevalsrc=0.5*sin(2*PI*1000*t):s=48000:d=2' -b:a 192k dec.mp3");
    int rate, ch;
    double ms;
    int64_t n = decode_all("dec.flac", &rate, &ch, &ms);
    CHECK_INT(rate, 44100);
    CHECK_INT(ch, 2);
    CHECK_INT(n, 88200);
    CHECK(ms > 0.124 && ms < 0.126);
    n = decode_all("dec.mp3", &rate, &ch, &ms);
    CHECK_INT(rate, 48000);
    CHECK_INT(ch, 1);
    CHECK_INT(n, 96000);           /* encoder delay and padding trimmed (LAME header) */
    CHECK(ms > 0.11 && ms < 0.13); /* lossy: the first frame fades in */
    /* An MP3 joined from a stereo 44.1 kHz and a mono 22.05 kHz file changes
     * layout and rate between frames: decoded whole, at the rate and channels
     * the decoder opened with (FFmpeg's probe says 22.05 kHz, stereo). */
    ffmpeg("-f lavfi -i 'aevalsrc=0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t):s=44100:d=1' "
           "-b:a 128k st.mp3");
    ffmpeg("-f lavfi -i 'aevalsrc=0.5*sin(2*PI*1000*t):s=22050:d=1' -b:a 64k mono.mp3");
    char *cat = lg_xasprintf("cd '%s' && cat st.mp3 mono.mp3 > joined.mp3", tmp);
    CHECK_INT(system(cat), 0);
    free(cat);
    n = decode_all("joined.mp3", &rate, &ch, &ms);
    CHECK(rate == 22050 || rate == 44100);
    CHECK(ch == 1 || ch == 2);
    CHECK(n > rate * 18 / 10 && n < rate * 23 / 10); /* about two seconds */
    CHECK(ms > 0.08 && ms < 0.16);
    /* Not audio, and missing: clear errors, no crash. */
    struct lg_decoder *d = NULL;
    char err[128] = "";
    char *path = path_of("notes.txt");
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("not audio at all", f);
        fclose(f);
    }
    CHECK(lg_decoder_open(path, &d, err, sizeof(err)) < 0);
    CHECK(d == NULL);
    CHECK(err[0] != '\0');
    free(path);
    CHECK_INT(lg_decoder_open("/nonexistent/x.flac", &d, NULL, 0), -ENOENT);
}

LG_TEST(audio_names)
{
    static const struct {
        const char *name;
        bool audio;
    } rows[] = {
        { "a.mp3", true },      { "b.FLAC", true },     { "c.d.opus", true }, { "x.wv", true },
        { "song.mpc", true },   { "cover.jpg", false }, { "mp3", false },     { ".mp3", false },
        { "a.mp3.txt", false }, { "a.", false },
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(rows); i++) {
        if (lg_media_is_audio_name(rows[i].name) != rows[i].audio) {
            fprintf(stderr, "  %s\n", rows[i].name);
            CHECK(false);
        }
    }
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(common_tags), LG_CASE(mp3_specifics), LG_CASE(flac_specifics),
             LG_CASE(untagged_and_invalid_utf8), LG_CASE(failures), LG_CASE(pictures),
             LG_CASE(oversized_tags), LG_CASE(content_types), LG_CASE(audio_names),
             LG_CASE(decode_to_float))
