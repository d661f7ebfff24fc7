/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the transcode pipeline (media/encode.c, stream/transcode.c):
 * a synthetic source (tones and noise) goes through every format and is
 * decoded back with FFmpeg's decoders. Checked: lossless formats give the
 * source back sample for sample; lossy ones correlate with it and keep its
 * loudness; gapless lengths are exact (Opus pre-skip and end trimming, the
 * LAME tag); a resampled encode has exactly round(n * out / in) frames; an
 * offset start is sample-accurate; normalisation reaches its gain under the
 * true-peak ceiling; damaged input fails cleanly. The process stage runs
 * through the streaming batcher: on the CPU it gives exactly what the CPU
 * objects of one job give (the pipeline before batching, rebuilt here as a
 * reference), with the kernels of the CUDA path run on the host
 * (LG_DSP_BATCH_EMULATE) within 1e-5 of that, at every length; a shared
 * batch, a failed one and an unusable GPU are errors said clearly.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "dsp/dsp.h"
#include "media/media.h"
#include "prof/prof.h"
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

/* Encodes n frames of pcm with the encoder alone into the file tmp/name;
 * returns its path. */
static char *encode_file(const char *name, const struct lg_encode_opts *o, const float *pcm,
                         size_t n)
{
    struct mem m = { 0 };
    struct lg_encoder *e = NULL;
    char err[128];
    CHECK_INT(lg_encoder_open(o, mem_write, mem_seek, &m, &e, err, sizeof(err)), 0);
    CHECK_INT(lg_encoder_write(e, pcm, n), 0);
    CHECK_INT(lg_encoder_finish(e), 0);
    lg_encoder_free(e);
    char *path = lg_xasprintf("%s/%s", tmp, name);
    save(path, &m);
    free(m.p);
    return path;
}

/* The source files. */
static char *write_source(const char *name, int format, int rate, const float *pcm, size_t n)
{
    struct lg_encode_opts o = { .format = format, .rate = rate, .channels = CH, .complexity = -1 };
    return encode_file(name, &o, pcm, n);
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

/* A 22.05 kHz source, normalised (limited): the limiter's look-ahead needs a
 * higher rate, so it comes out at 44.1 kHz rather than being refused. */
LG_TEST(limited_low_rate)
{
    float *pcm = make_signal(22050, 22050);
    char *low = write_source("low.flac", LG_FORMAT_FLAC, 22050, pcm, 22050);
    char *out = lg_xasprintf("%s/low-norm.mp3", tmp);
    struct lg_transcode_opts o = {
        .format = LG_FORMAT_MP3, .gain_db = 6, .limit = true, .complexity = -1
    };
    transcode(low, out, &o);
    float *v;
    int rate = 0;
    size_t n = decode_all(out, &v, &rate);
    CHECK_INT(rate, 44100);
    CHECK(n > 43000 && n < 46000);
    free(v);
    /* A source under 4 kHz is refused with a reason, not resampled. */
    char *slow = lg_xasprintf("%s/slow.wav", tmp);
    char *cmd = lg_xasprintf("ffmpeg -nostdin -loglevel error -y -f lavfi -i "
                             "sine=frequency=300:duration=1:sample_rate=2000 '%s'",
                             slow);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    char err[256] = "";
    CHECK(lg_transcode_file(slow, out, &o, err, sizeof(err)) < 0);
    CHECK(strstr(err, "under 4000") != NULL);
    free(slow);
    free(out);
    free(low);
    free(pcm);
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

/* The pipeline before batching: decode (from round(offset * rate) on),
 * then the CPU objects of one job over the whole source (resampler, gain
 * set at once, limiter with its look-ahead cut), then the encoder, into
 * tmp/name. */
static char *reference_transcode(const char *in, const char *name,
                                 const struct lg_transcode_opts *o)
{
    float *pcm;
    int rate;
    size_t n = decode_all(in, &pcm, &rate);
    size_t skip = (size_t)llround(o->offset_s * rate);
    skip = skip < n ? skip : n;
    memmove(pcm, pcm + skip * CH, (n - skip) * CH * sizeof(float));
    n -= skip;
    int out_rate = lg_format_rate(o->format, rate);
    size_t m = n;
    if (out_rate != rate) {
        struct lg_resampler *rs = lg_resampler_new(rate, out_rate, CH);
        size_t cap = lg_resampler_out_max(rs, n) + 1;
        float *v = malloc(cap * CH * sizeof(float));
        m = lg_resampler_process(rs, pcm, n, v, cap);
        cap = m + lg_resampler_flush_max(rs) + 1; /* what is held now */
        v = realloc(v, cap * CH * sizeof(float));
        size_t k;
        while ((k = lg_resampler_flush(rs, v + m * CH, cap - m)) > 0)
            m += k;
        lg_resampler_free(rs);
        free(pcm);
        pcm = v;
    }
    if (o->gain_db != 0) {
        struct lg_gain *g = lg_gain_new(out_rate, CH, 0);
        lg_gain_set_db(g, o->gain_db);
        lg_gain_process(g, pcm, m);
        lg_gain_free(g);
    }
    if (o->limit) {
        struct lg_limiter *lim = lg_limiter_new(out_rate, CH, -1.0, 5.0, 150.0);
        size_t d = (size_t)lg_limiter_latency_frames(lim);
        float *w = malloc((m + d) * CH * sizeof(float));
        lg_limiter_process(lim, pcm, w, m);
        lg_limiter_flush(lim, w + m * CH);
        memcpy(pcm, w + d * CH, m * CH * sizeof(float));
        free(w);
        lg_limiter_free(lim);
    }
    struct lg_encode_opts eo = { .format = o->format,
                                 .bitrate_kbps = o->bitrate_kbps,
                                 .rate = out_rate,
                                 .channels = CH,
                                 .bits = o->bits,
                                 .complexity = o->complexity };
    char *path = encode_file(name, &eo, pcm, m);
    free(pcm);
    return path;
}

/* The largest difference between two decoded files; SIZE_MAX frames when
 * their lengths differ. */
static double max_diff(const char *a, const char *b, size_t *frames)
{
    float *x, *y;
    int ra, rb;
    size_t na = decode_all(a, &x, &ra), nb = decode_all(b, &y, &rb);
    CHECK_INT(ra, rb);
    if (na != nb)
        fprintf(stderr, "%s: %zu frames, %s: %zu\n", a, na, b, nb);
    *frames = na == nb ? na : SIZE_MAX;
    double d = na == nb ? 0 : INFINITY;
    for (size_t i = 0; na == nb && i < na * CH; i++)
        d = fmax(d, fabs((double)x[i] - y[i]));
    free(x);
    free(y);
    return d;
}

/* Sources and settings that take every path of the process stage: gain and
 * limiter without resampling, an offset start, 44.1 to 48 kHz (Opus), and
 * 352.8 kHz to 48 kHz, whose 500 ms chunks exceed the batch's block and are
 * cut to it. */
struct dsp_case {
    const char *src; /* in tmp */
    struct lg_transcode_opts o;
    const char *suffix;
};

static char *src44, *src352;

static const struct dsp_case dsp_cases[] = {
    { "src.flac",
      { .format = LG_FORMAT_FLAC, .gain_db = 10, .limit = true, .bits = 24, .complexity = -1 },
      "flac" },
    { "src.flac",
      { .format = LG_FORMAT_WAV, .offset_s = 1.2345, .gain_db = -4, .complexity = -1 },
      "wav" },
    { "dsp44.wav",
      { .format = LG_FORMAT_OPUS,
        .bitrate_kbps = 128,
        .gain_db = 6,
        .limit = true,
        .complexity = -1 },
      "opus" },
    { "dsp352.wav",
      { .format = LG_FORMAT_FLAC, .gain_db = 3, .limit = true, .bits = 24, .complexity = -1 },
      "flac" },
};

LG_TEST(dsp_sources)
{
    size_t n44 = 44100 * 2 + 321, n352 = 352800 + 4567;
    float *a = make_signal(44100, n44), *b = make_signal(352800, n352);
    src44 = write_source("dsp44.wav", LG_FORMAT_WAV, 44100, a, n44);
    src352 = write_source("dsp352.wav", LG_FORMAT_WAV, 352800, b, n352);
    free(a);
    free(b);
}

/* On the CPU the batcher runs the objects the pipeline ran before: the
 * decoded output equals the reference's, sample for sample (Opus too: the
 * encoder gets the same samples). */
LG_TEST(cpu_batch_is_the_pipeline_before)
{
    for (size_t k = 0; k < LG_ARRAY_LEN(dsp_cases); k++) {
        const struct dsp_case *c = &dsp_cases[k];
        char *in = lg_xasprintf("%s/%s", tmp, c->src);
        char *out = lg_xasprintf("%s/cpu%zu.%s", tmp, k, c->suffix);
        char *name = lg_xasprintf("ref%zu.%s", k, c->suffix);
        struct lg_transcode_opts o = c->o;
        o.backend = LG_DSP_CPU;
        transcode(in, out, &o);
        char *ref = reference_transcode(in, name, &o);
        size_t frames;
        double d = max_diff(out, ref, &frames);
        if (d != 0)
            fprintf(stderr, "case %zu: differs from the reference by %g\n", k, d);
        CHECK(frames != SIZE_MAX && frames > 0);
        CHECK(d == 0);
        free(ref);
        free(name);
        free(out);
        free(in);
    }
}

/* The CUDA path's kernels on the host: the same lengths, samples within
 * 1e-5 of the CPU's (plus a 24-bit step; the lossless cases). */
LG_TEST(emulated_cuda_close_to_cpu)
{
    for (size_t k = 0; k < LG_ARRAY_LEN(dsp_cases); k++) {
        const struct dsp_case *c = &dsp_cases[k];
        if (c->o.format == LG_FORMAT_OPUS)
            continue; /* a lossy encoder does not keep differences small */
        char *in = lg_xasprintf("%s/%s", tmp, c->src);
        char *cpu = lg_xasprintf("%s/cpu%zu.%s", tmp, k, c->suffix);
        char *emu = lg_xasprintf("%s/emu%zu.%s", tmp, k, c->suffix);
        struct lg_transcode_opts o = c->o;
        o.backend = LG_DSP_CUDA | LG_DSP_BATCH_EMULATE;
        transcode(in, emu, &o);
        size_t frames;
        double d = max_diff(emu, cpu, &frames);
        double step = o.format == LG_FORMAT_WAV ? 1.0 / 32768 : 1.0 / 8388608;
        if (!(d <= 1e-5 + step))
            fprintf(stderr, "case %zu: emulated CUDA differs from the cpu by %g\n", k, d);
        CHECK(frames != SIZE_MAX && frames > 0);
        CHECK(d <= 1e-5 + step);
        free(emu);
        free(cpu);
        free(in);
    }
    /* Lengths are exact on the lossy path too: 44.1 to 48 kHz. */
    char *in = lg_xasprintf("%s/dsp44.wav", tmp);
    char *emu = lg_xasprintf("%s/emu.opus", tmp);
    struct lg_transcode_opts o = dsp_cases[2].o;
    o.backend = LG_DSP_CUDA | LG_DSP_BATCH_EMULATE;
    transcode(in, emu, &o);
    float *v;
    int rate;
    size_t n = decode_all(emu, &v, &rate);
    CHECK(n == (size_t)llround((44100.0 * 2 + 321) * 48000 / 44100));
    free(v);
    free(emu);
    free(in);
}

static int count_bytes(void *ctx, const uint8_t *data, size_t len)
{
    (void)data;
    *(size_t *)ctx += len;
    return 0;
}

/* A batch shared by two transcodes: their halves around one run each chunk;
 * step refuses it; a failed run fails the batch for good, clearly. */
LG_TEST(shared_batch_and_failure)
{
    struct lg_transcode_batch *tb = NULL;
    CHECK_INT(lg_transcode_batch_new(LG_DSP_CPU, 2, &tb, NULL, 0), 0);
    struct lg_transcode_opts o = { .format = LG_FORMAT_WAV, .complexity = -1, .batch = tb };
    struct lg_transcode *a = NULL, *b = NULL, *c = NULL;
    size_t na = 0, nb = 0;
    char err[160] = "";
    CHECK_INT(lg_transcode_open(src_flac, &o, count_bytes, NULL, &na, &a, err, sizeof(err)), 0);
    CHECK_INT(lg_transcode_open(src_flac, &o, count_bytes, NULL, &nb, &b, err, sizeof(err)), 0);
    /* Full: a third transcode is refused with a reason. */
    CHECK_INT(lg_transcode_open(src_flac, &o, count_bytes, NULL, &nb, &c, err, sizeof(err)),
              -ENOSPC);
    CHECK(err[0] != '\0');
    CHECK_INT(lg_transcode_step(a), LG_EINVAL);
    struct lg_transcode *ran[2];
    int64_t due;
    CHECK_INT(lg_transcode_batch_due(tb, lg_prof_now_ns(), &due), 0);
    CHECK(due == INT64_MAX); /* nothing queued */
    int ra = 1, rb = 1;
    while (ra > 0 || rb > 0) {
        if (ra > 0)
            CHECK_INT(lg_transcode_submit(a, lg_prof_now_ns()), 1);
        /* One queued of two live: due by its deadline (now), not full. */
        CHECK_INT(lg_transcode_batch_due(tb, lg_prof_now_ns(), &due), 1);
        if (rb > 0)
            CHECK_INT(lg_transcode_submit(b, INT64_MAX), 1);
        CHECK_INT(lg_transcode_batch_run(tb, ran, 2), (ra > 0) + (rb > 0));
        if (ra > 0)
            ra = lg_transcode_generate(a);
        if (rb > 0)
            rb = lg_transcode_generate(b);
        CHECK(ra >= 0 && rb >= 0);
        if (ra < 0 || rb < 0)
            break;
    }
    CHECK(na == nb && na > 44 + N * CH * 2);
    CHECK_INT(lg_transcode_frames(a), (long long)N);
    CHECK_INT(lg_transcode_submit(a, 0), 0); /* finished */
    lg_transcode_free(a);
    lg_transcode_free(b);
    /* A run that fails on the GPU (injected here): -EIO from then on. */
    CHECK_INT(lg_transcode_open(src_flac, &o, count_bytes, NULL, &na, &a, err, sizeof(err)), 0);
    CHECK_INT(lg_transcode_submit(a, 0), 1);
    lg_transcode_batch_fail_next(tb);
    CHECK_INT(lg_transcode_batch_run(tb, ran, 2), -EIO);
    CHECK_INT(lg_transcode_generate(a), -EIO);
    CHECK_INT(lg_transcode_submit(a, 0), -EIO);
    CHECK_INT(lg_transcode_batch_run(tb, ran, 2), -EIO);
    CHECK_INT(lg_transcode_batch_due(tb, lg_prof_now_ns(), &due), 0);
    CHECK_INT(lg_transcode_open(src_flac, &o, count_bytes, NULL, &nb, &b, err, sizeof(err)), -EIO);
    CHECK(strstr(err, "failed") != NULL);
    lg_transcode_free(a);
    lg_transcode_batch_free(tb);
}

/* Asking for CUDA where it cannot run is -ENODEV with the reason, before
 * anything is written; a bad backend is LG_EINVAL. */
LG_TEST(cuda_without_gpu)
{
    char err[256] = "", why[160];
    struct lg_transcode_batch *tb = NULL;
    CHECK_INT(lg_transcode_batch_new(7, 1, &tb, NULL, 0), LG_EINVAL);
    CHECK_INT(lg_transcode_batch_new(LG_DSP_CPU, 0, &tb, NULL, 0), LG_EINVAL);
    if (lg_dsp_cuda_status(why, sizeof(why)))
        return; /* a GPU here: nothing to refuse */
    char *out = lg_xasprintf("%s/nogpu.wav", tmp);
    struct lg_transcode_opts o = { .format = LG_FORMAT_WAV,
                                   .complexity = -1,
                                   .backend = LG_DSP_CUDA };
    CHECK_INT(lg_transcode_file(src_flac, out, &o, err, sizeof(err)), -ENODEV);
    CHECK(strstr(err, "the CUDA backend cannot run here") != NULL);
    CHECK(strstr(err, why) != NULL);
    CHECK(access(out, F_OK) != 0);
    CHECK_INT(lg_transcode_batch_new(LG_DSP_CUDA, 4, &tb, err, sizeof(err)), -ENODEV);
    /* auto falls back to the cpu and says why. */
    CHECK_INT(lg_transcode_batch_new(LG_DSP_AUTO, 4, &tb, NULL, 0), 0);
    CHECK_INT(lg_transcode_batch_choice(tb, err, sizeof(err)), LG_DSP_CPU);
    CHECK(strstr(err, why) != NULL);
    lg_transcode_batch_free(tb);
    free(out);
}

LG_TEST(teardown)
{
    free(src44);
    free(src352);
    free(src);
    free(src_flac);
    free(tmp);
}

LG_TEST_MAIN(LG_CASE(setup), LG_CASE(formats_names_and_rates), LG_CASE(lossless_exact),
             LG_CASE(lossy_close_and_gapless), LG_CASE(resampled_length_exact),
             LG_CASE(offset_sample_accurate), LG_CASE(gain_and_limiter), LG_CASE(limited_low_rate),
             LG_CASE(bad_input), LG_CASE(mutated_sources), LG_CASE(dsp_sources),
             LG_CASE(cpu_batch_is_the_pipeline_before), LG_CASE(emulated_cuda_close_to_cpu),
             LG_CASE(shared_batch_and_failure), LG_CASE(cuda_without_gpu), LG_CASE(teardown))
