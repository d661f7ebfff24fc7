/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the transcode pipeline (media/encode.c, stream/transcode.c):
 * a synthetic source (tones and noise) goes through every format and is
 * decoded back with FFmpeg's decoders. Checked: lossless formats give the
 * source back sample for sample; lossy ones correlate with it and keep its
 * loudness; gapless lengths are exact (Opus pre-skip and end trimming, the
 * LAME tag); a resampled encode has exactly round(n * out / in) frames; an
 * offset start is sample-accurate; normalisation reaches its gain under the
 * true-peak ceiling; damaged input fails cleanly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"
#include "media/media.h"
#include "stream/stream.h"

#include "harness.h"

static char *tmp;

enum { CH = 2 };

/* A stereo test signal: three tones per channel and a little noise, at about
 * -14 dBFS RMS, deterministic. */
static float *make_signal(int rate, size_t n)
{
    float *v = malloc(n * CH * sizeof(float));
    uint32_t seed = 12345;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        for (int c = 0; c < CH; c++) {
            seed = seed * 1664525u + 1013904223u;
            double noise = ((double)(seed >> 8) / 16777216.0 - 0.5) * 0.02;
            double s = 0.2 * sin(2 * M_PI * (220.0 + 110 * c) * t) +
                       0.1 * sin(2 * M_PI * 1234.5 * t + c) + 0.05 * sin(2 * M_PI * 5000.0 * t);
            v[i * CH + (size_t)c] = (float)(s + noise);
        }
    }
    return v;
}

struct mem {
    unsigned char *p;
    size_t len, cap, pos;
};

static int mem_write(void *ctx, const uint8_t *data, size_t len)
{
    struct mem *m = ctx;
    if (m->pos + len > m->cap) {
        m->cap = (m->pos + len) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->pos, data, len);
    m->pos += len;
    if (m->pos > m->len)
        m->len = m->pos;
    return 0;
}

static int mem_seek(void *ctx, int64_t off)
{
    struct mem *m = ctx;
    m->pos = (size_t)off;
    return 0;
}

static void save(const char *path, const struct mem *m)
{
    FILE *f = fopen(path, "wb");
    lg_assert(f);
    lg_assert(fwrite(m->p, 1, m->len, f) == m->len);
    fclose(f);
}

/* Encodes pcm into a file with the encoder alone (the source files). */
static char *write_source(const char *name, int format, int rate, const float *pcm, size_t n)
{
    struct mem m = { 0 };
    struct lg_encode_opts o = { .format = format, .rate = rate, .channels = CH, .complexity = -1 };
    struct lg_encoder *e = NULL;
    char err[128];
    CHECK_INT(lg_encoder_open(&o, mem_write, mem_seek, &m, &e, err, sizeof(err)), 0);
    CHECK_INT(lg_encoder_write(e, pcm, n), 0);
    CHECK_INT(lg_encoder_finish(e), 0);
    lg_encoder_free(e);
    char *path = lg_xasprintf("%s/%s", tmp, name);
    save(path, &m);
    free(m.p);
    return path;
}

/* Decodes a whole file to interleaved float; returns the frame count. */
static size_t decode_all(const char *path, float **out, int *rate)
{
    struct lg_decoder *d = NULL;
    char err[128];
    *out = NULL;
    *rate = 0;
    int r = lg_decoder_open(path, &d, err, sizeof(err));
    CHECK_INT(r, 0);
    if (r < 0)
        return 0;
    *rate = lg_decoder_rate(d);
    CHECK_INT(lg_decoder_channels(d), CH);
    size_t n = 0, cap = 0;
    float *v = NULL;
    const float *pcm;
    int k;
    while ((k = lg_decoder_read(d, &pcm)) > 0) {
        if (n + (size_t)k > cap) {
            cap = (n + (size_t)k) * 2;
            v = realloc(v, cap * CH * sizeof(float));
        }
        memcpy(v + n * CH, pcm, (size_t)k * CH * sizeof(float));
        n += (size_t)k;
    }
    CHECK_INT(k, 0);
    lg_decoder_free(d);
    *out = v;
    return n;
}

/* Normalised cross-correlation of a and b (n frames each) at the lag in
 * [-maxlag, maxlag] where it is largest; writes that lag. */
static double best_correlation(const float *a, size_t na, const float *b, size_t nb, int maxlag,
                               int *lag_out)
{
    double best = -2;
    for (int lag = -maxlag; lag <= maxlag; lag++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = 4096; i + 4096 < na; i += 3) {
            long j = (long)i + lag;
            if (j < 0 || (size_t)j >= nb)
                continue;
            for (int c = 0; c < CH; c++) {
                double x = a[i * CH + (size_t)c], y = b[(size_t)j * CH + (size_t)c];
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
        }
        double r = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
        if (r > best) {
            best = r;
            *lag_out = lag;
        }
    }
    return best;
}

static double loudness(const float *v, size_t n, int rate, double *tp)
{
    struct lg_loudness *m = lg_loudness_new(rate, CH, LG_LOUDNESS_TRUE_PEAK);
    lg_assert(m);
    lg_assert(lg_loudness_add(m, v, n) == 0);
    double l = NAN;
    lg_assert(lg_loudness_integrated(m, &l) == 0);
    if (tp) {
        double a, b;
        lg_assert(lg_loudness_true_peak(m, 0, &a) == 0 && lg_loudness_true_peak(m, 1, &b) == 0);
        *tp = a > b ? a : b;
    }
    lg_loudness_free(m);
    return l;
}

static const int RATE = 48000;
static const size_t N = 48000 * 3 + 777; /* not a multiple of any frame size */
static float *src;
static char *src_flac;

LG_TEST(setup)
{
    tmp = lg_test_tmpdir("transcode");
    src = make_signal(RATE, N);
    src_flac = write_source("src.flac", LG_FORMAT_FLAC, RATE, src, N);
}

LG_TEST(formats_names_and_rates)
{
    CHECK_INT(lg_format_parse("OPUS"), LG_FORMAT_OPUS);
    CHECK_INT(lg_format_parse("ogg"), LG_FORMAT_OPUS);
    CHECK_INT(lg_format_parse("m4a"), LG_FORMAT_AAC);
    CHECK_INT(lg_format_parse("raw"), LG_EINVAL);
    CHECK_INT(lg_format_parse(NULL), LG_EINVAL);
    CHECK_STR(lg_format_mime(LG_FORMAT_MP3), "audio/mpeg");
    CHECK_INT(lg_format_bitrate(LG_FORMAT_MP3, 300), 256);
    CHECK_INT(lg_format_bitrate(LG_FORMAT_MP3, 0), 320);
    CHECK_INT(lg_format_bitrate(LG_FORMAT_OPUS, 100000), 510);
    CHECK_INT(lg_format_bitrate(LG_FORMAT_FLAC, 128), 0);
    CHECK_INT(lg_format_rate(LG_FORMAT_OPUS, 44100), 48000);
    CHECK_INT(lg_format_rate(LG_FORMAT_MP3, 44100), 44100);
    CHECK_INT(lg_format_rate(LG_FORMAT_MP3, 96000), 48000);
    CHECK_INT(lg_format_rate(LG_FORMAT_MP3, 88200), 44100);
    CHECK_INT(lg_format_rate(LG_FORMAT_FLAC, 96000), 96000);
}

static void transcode(const char *in, const char *out, const struct lg_transcode_opts *o)
{
    char err[256] = "";
    int r = lg_transcode_file(in, out, o, err, sizeof(err));
    if (r != 0)
        fprintf(stderr, "transcode %s: %s\n", out, err);
    CHECK_INT(r, 0);
}

/* FLAC and WAV give the source back sample for sample (16-bit: within one
 * quantisation step of the float source, and exactly the FLAC source's). */
LG_TEST(lossless_exact)
{
    float *ref;
    int rate;
    size_t nref = decode_all(src_flac, &ref, &rate);
    CHECK(nref == N);
    const int fmts[] = { LG_FORMAT_FLAC, LG_FORMAT_WAV };
    for (size_t f = 0; f < 2; f++) {
        char *out = lg_xasprintf("%s/lossless.%s", tmp, lg_format_suffix(fmts[f]));
        struct lg_transcode_opts o = { .format = fmts[f], .complexity = -1 };
        transcode(src_flac, out, &o);
        float *v;
        size_t n = decode_all(out, &v, &rate);
        CHECK(n == N);
        CHECK_INT(rate, RATE);
        size_t diff = 0;
        for (size_t i = 0; i < n * CH && i < N * CH; i++)
            diff += v[i] != ref[i];
        CHECK(diff == 0);
        free(v);
        free(out);
    }
    free(ref);
}

/* Lossy formats: exact gapless lengths where the container signals them,
 * high correlation at lag 0, loudness kept. */
LG_TEST(lossy_close_and_gapless)
{
    const struct {
        int format, kbps;
        bool exact; /* delay and padding signalled */
        double min_corr;
    } cases[] = {
        { LG_FORMAT_OPUS, 128, true, 0.99 },
        { LG_FORMAT_MP3, 320, true, 0.99 },
        { LG_FORMAT_AAC, 192, false, 0.99 },
    };
    double l0 = loudness(src, N, RATE, NULL);
    for (size_t k = 0; k < LG_ARRAY_LEN(cases); k++) {
        char *out = lg_xasprintf("%s/lossy.%s", tmp, lg_format_suffix(cases[k].format));
        struct lg_transcode_opts o = { .format = cases[k].format,
                                       .bitrate_kbps = cases[k].kbps,
                                       .complexity = -1 };
        transcode(src_flac, out, &o);
        float *v;
        int rate;
        size_t n = decode_all(out, &v, &rate);
        CHECK_INT(rate, RATE);
        if (cases[k].exact && n != N)
            fprintf(stderr, "%s: %zu frames, source %zu\n", out, n, N);
        if (cases[k].exact)
            CHECK(n == N);
        int lag = 99999;
        double r = best_correlation(src, N, v, n, 2200, &lag);
        if (r < cases[k].min_corr || (cases[k].exact && lag != 0))
            fprintf(stderr, "%s: correlation %.4f at lag %d\n", out, r, lag);
        CHECK(r >= cases[k].min_corr);
        if (cases[k].exact)
            CHECK_INT(lag, 0);
        double l = loudness(v, n, rate, NULL);
        CHECK(fabs(l - l0) < 0.5);
        free(v);
        free(out);
    }
}

/* A 44.1 kHz source to Opus: resampled to 48 kHz with exactly
 * round(n * 48000 / 44100) frames. */
LG_TEST(resampled_length_exact)
{
    size_t n44 = 44100 * 2 + 123;
    float *s44 = make_signal(44100, n44);
    char *in = write_source("src44.wav", LG_FORMAT_WAV, 44100, s44, n44);
    char *out = lg_xasprintf("%s/rs.opus", tmp);
    struct lg_transcode_opts o = { .format = LG_FORMAT_OPUS, .complexity = -1 };
    transcode(in, out, &o);
    float *v;
    int rate;
    size_t n = decode_all(out, &v, &rate);
    CHECK_INT(rate, 48000);
    size_t want = (size_t)llround((double)n44 * 48000 / 44100);
    if (n != want)
        fprintf(stderr, "resampled: %zu frames, want %zu\n", n, want);
    CHECK(n == want);
    free(v);
    free(out);
    free(in);
    free(s44);
}

/* An offset start is sample-accurate: the output is the source from
 * round(offset * rate) on, exactly. */
LG_TEST(offset_sample_accurate)
{
    float *ref;
    int rate;
    size_t nref = decode_all(src_flac, &ref, &rate);
    const double offsets[] = { 0.5, 1.2345, 2.99 };
    for (size_t k = 0; k < LG_ARRAY_LEN(offsets); k++) {
        char *out = lg_xasprintf("%s/offset%zu.wav", tmp, k);
        struct lg_transcode_opts o = { .format = LG_FORMAT_WAV,
                                       .offset_s = offsets[k],
                                       .complexity = -1 };
        transcode(src_flac, out, &o);
        float *v;
        size_t n = decode_all(out, &v, &rate);
        size_t start = (size_t)llround(offsets[k] * RATE);
        CHECK(n == nref - start);
        size_t diff = 0;
        for (size_t i = 0; i < n * CH && start * CH + i < nref * CH; i++)
            diff += v[i] != ref[start * CH + i];
        CHECK(diff == 0);
        free(v);
        free(out);
    }
    free(ref);
}

/* Normalisation: +10 dB with the limiter raises the loudness by about the
 * gain (a little less where the limiter works) and keeps true peaks under
 * -1 dBTP; the length stays exact (the limiter's delay is compensated). */
LG_TEST(gain_and_limiter)
{
    char *out = lg_xasprintf("%s/norm.flac", tmp);
    struct lg_transcode_opts o = {
        .format = LG_FORMAT_FLAC, .gain_db = 10, .limit = true, .complexity = -1
    };
    transcode(src_flac, out, &o);
    float *v;
    int rate;
    size_t n = decode_all(out, &v, &rate);
    CHECK(n == N);
    double tp, l0 = loudness(src, N, RATE, NULL), l = loudness(v, n, rate, &tp);
    CHECK(l > l0 + 7 && l < l0 + 10.2);
    CHECK(tp <= -0.9);
    /* Below the ceiling the limiter is transparent: -10 dB gives the source
     * at a third of its amplitude, aligned to the sample. */
    struct lg_transcode_opts q = {
        .format = LG_FORMAT_FLAC, .gain_db = -10, .limit = true, .bits = 24, .complexity = -1
    };
    transcode(src_flac, out, &q);
    float *w;
    n = decode_all(out, &w, &rate);
    CHECK(n == N);
    double g = pow(10, -10 / 20.0), err = 0;
    float *ref;
    size_t nref = decode_all(src_flac, &ref, &rate);
    for (size_t i = 0; i < N * CH && i < nref * CH; i++)
        err = fmax(err, fabs(w[i] - ref[i] * g));
    CHECK(err < 1e-4);
    free(ref);
    free(w);
    free(v);
    free(out);
}

LG_TEST(bad_input)
{
    char err[256] = "";
    struct lg_transcode_opts o = { .format = LG_FORMAT_OPUS, .complexity = -1 };
    char *out = lg_xasprintf("%s/bad.opus", tmp);
    /* Not audio at all. */
    char *junk = lg_xasprintf("%s/junk.flac", tmp);
    FILE *f = fopen(junk, "wb");
    for (int i = 0; i < 5000; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    CHECK(lg_transcode_file(junk, out, &o, err, sizeof(err)) < 0);
    CHECK(err[0] != '\0');
    FILE *g = fopen(out, "rb");
    CHECK(g == NULL); /* nothing left under the target's name */
    if (g)
        fclose(g);
    /* A truncated FLAC: what decodes goes out, the stream ends cleanly. */
    char *cut = lg_xasprintf("%s/cut.flac", tmp);
    char *cmd = lg_xasprintf("head -c 60000 %s > %s", src_flac, cut);
    CHECK_INT(system(cmd), 0);
    CHECK_INT(lg_transcode_file(cut, out, &o, err, sizeof(err)), 0);
    /* Bad options. */
    struct lg_transcode_opts bad = { .format = 99 };
    CHECK_INT(lg_transcode_file(src_flac, out, &bad, err, sizeof(err)), LG_EINVAL);
    struct lg_transcode_opts neg = { .format = LG_FORMAT_MP3, .offset_s = -1 };
    CHECK_INT(lg_transcode_file(src_flac, out, &neg, err, sizeof(err)), LG_EINVAL);
    /* An offset past the end: an empty but valid stream. */
    struct lg_transcode_opts past = { .format = LG_FORMAT_WAV, .offset_s = 99, .complexity = -1 };
    CHECK_INT(lg_transcode_file(src_flac, out, &past, err, sizeof(err)), 0);
    free(cmd);
    free(cut);
    free(junk);
    free(out);
}

/* Damaged files: a source with bytes overwritten at random places, in every
 * container the encoder can write, transcodes to an end or fails cleanly,
 * never crashes (ASan watches) or hangs. */
LG_TEST(mutated_sources)
{
    const int fmts[] = { LG_FORMAT_FLAC, LG_FORMAT_MP3, LG_FORMAT_OPUS, LG_FORMAT_AAC,
                         LG_FORMAT_WAV };
    uint32_t seed = 99;
    int ended = 0, failed = 0;
    for (size_t f = 0; f < LG_ARRAY_LEN(fmts); f++) {
        char *clean = write_source(fmts[f] == LG_FORMAT_FLAC   ? "m.flac"
                                   : fmts[f] == LG_FORMAT_MP3  ? "m.mp3"
                                   : fmts[f] == LG_FORMAT_OPUS ? "m.opus"
                                   : fmts[f] == LG_FORMAT_AAC  ? "m.aac"
                                                               : "m.wav",
                                   fmts[f], RATE, src, N);
        FILE *in = fopen(clean, "rb");
        lg_assert(in);
        fseek(in, 0, SEEK_END);
        long len = ftell(in);
        unsigned char *data = malloc((size_t)len);
        fseek(in, 0, SEEK_SET);
        lg_assert(fread(data, 1, (size_t)len, in) == (size_t)len);
        fclose(in);
        for (int round = 0; round < 6; round++) {
            unsigned char *bad = malloc((size_t)len);
            memcpy(bad, data, (size_t)len);
            /* The first rounds hit the headers, later ones anywhere. */
            long span = round < 3 ? (len < 512 ? len : 512) : len;
            for (int k = 0; k < 40; k++) {
                seed = seed * 1664525u + 1013904223u;
                bad[(seed >> 8) % (uint32_t)span] ^= (unsigned char)(seed >> 3);
            }
            char *path = lg_xasprintf("%s/bad%zu-%d.%s", tmp, f, round, lg_format_suffix(fmts[f]));
            FILE *o = fopen(path, "wb");
            fwrite(bad, 1, (size_t)len, o);
            fclose(o);
            char *out = lg_xasprintf("%s/bad-out.opus", tmp);
            char err[256];
            struct lg_transcode_opts opt = { .format = LG_FORMAT_OPUS, .complexity = 0 };
            int r = lg_transcode_file(path, out, &opt, err, sizeof(err));
            if (r == 0)
                ended++;
            else
                failed++;
            free(out);
            free(path);
            free(bad);
        }
        free(data);
        free(clean);
    }
    CHECK_INT(ended + failed, 30);
}

LG_TEST(teardown)
{
    free(src);
    free(src_flac);
    free(tmp);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(formats_names_and_rates), LG_CASE(lossless_exact),
             LG_CASE(lossy_close_and_gapless), LG_CASE(resampled_length_exact),
             LG_CASE(offset_sample_accurate), LG_CASE(gain_and_limiter), LG_CASE(bad_input),
             LG_CASE(mutated_sources), LG_CASE(teardown))
