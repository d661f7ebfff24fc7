/* SPDX-License-Identifier: MIT */
/*
 * lg_analyze_files_backend (src/library/analyze.c): the path CUDA takes
 * (decoder threads fill memory, the calling thread measures batches) run
 * with the CPU batch backend (LG_ANALYZE_BATCHED) agrees with the streaming
 * path on every file, reports the same failures for files that are not
 * audio or missing, and --backend values are checked. Files are WAVs
 * written here: float, 16-bit (held as 16-bit PCM by the batched path) and
 * float whose first half holds 16-bit values (held as 16-bit, then float).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "dsp/dsp.h"
#include "library/library.h"

#include "harness.h"

#define PI 3.14159265358979323846

static void put_le(FILE *f, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        fputc((int)((v >> (8 * i)) & 0xff), f);
}

enum wav_kind {
    WAV_FLOAT, /* float32 */
    WAV_S16,   /* 16-bit integer PCM: held as 16-bit by the batched path */
    WAV_MIXED, /* float32, 16-bit values in its first half only */
};

/* A WAV of a sine with level steps and a little noise. */
static void write_wav(const char *path, int rate, int channels, double seconds, uint32_t seed,
                      enum wav_kind kind)
{
    FILE *f = fopen(path, "wb");
    lg_assert(f != NULL);
    uint32_t frames = (uint32_t)llround(seconds * rate);
    uint32_t size = kind == WAV_S16 ? 2 : 4;
    uint32_t data = frames * (uint32_t)channels * size;
    fputs("RIFF", f);
    put_le(f, 36 + data, 4);
    fputs("WAVEfmt ", f);
    put_le(f, 16, 4);
    put_le(f, kind == WAV_S16 ? 1 : 3, 2); /* integer PCM or IEEE float */
    put_le(f, (uint32_t)channels, 2);
    put_le(f, (uint32_t)rate, 4);
    put_le(f, (uint32_t)rate * (uint32_t)channels * size, 4);
    put_le(f, (uint32_t)channels * size, 2);
    put_le(f, size * 8, 2);
    fputs("data", f);
    put_le(f, data, 4);
    for (uint32_t i = 0; i < frames; i++) {
        double t = (double)i / rate;
        double amp = pow(10.0, (-30.0 + 10.0 * (double)(((int)(t / 1.3) + (int)seed) % 3)) / 20.0);
        for (int c = 0; c < channels; c++) {
            seed = seed * 1664525u + 1013904223u;
            float v = (float)(amp * (0.8 * sin(2.0 * PI * (300.0 + 50.0 * c) * t) +
                                     0.2 * ((double)(seed >> 8) / 8388608.0 - 1.0)));
            int16_t q = (int16_t)lrintf(v * 32767.0f);
            if (kind == WAV_S16)
                fwrite(&q, sizeof(q), 1, f);
            else if (kind == WAV_MIXED && i < frames / 2)
                fwrite(&(float){ lg_pcm_s16(q) }, sizeof(float), 1, f);
            else
                fwrite(&v, sizeof(v), 1, f);
        }
    }
    fclose(f);
}

static int same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= 1e-9;
}

LG_TEST(batched_path_equals_streaming)
{
    enum { N = 26 };
    char *dir = lg_test_tmpdir("analyze_files");
    char *paths[N];
    for (int i = 0; i < N; i++) {
        paths[i] = lg_xasprintf("%s/t%02d.wav", dir, i);
        if (i == N - 2) {
            FILE *f = fopen(paths[i], "w");
            fputs("not audio at all", f);
            fclose(f);
        } else if (i < N - 1) {
            write_wav(paths[i], i % 3 ? 48000 : 44100, 1 + i % 2, 0.05 + 0.37 * i, (uint32_t)i,
                      (enum wav_kind)((i / 2) % 3));
        } /* the last one is missing */
    }
    struct lg_analysis a[N], b[N];
    int sa[N], sb[N];
    char(*ea)[160] = calloc(N, sizeof(*ea));
    char(*eb)[160] = calloc(N, sizeof(*eb));
    CHECK_INT(lg_analyze_files((const char *const *)paths, N, 3, a, sa, ea), 0);
    CHECK_INT(lg_analyze_files_backend((const char *const *)paths, N, 3,
                                       LG_DSP_CPU | LG_ANALYZE_BATCHED, b, sb, eb),
              0);
    for (int i = 0; i < N; i++) {
        CHECK_INT(sb[i] < 0, sa[i] < 0);
        CHECK_INT(sb[i] < 0, i >= N - 2);
        if (sb[i] < 0) {
            CHECK(eb[i][0] != '\0');
            continue;
        }
        CHECK_INT(b[i].frames, a[i].frames);
        CHECK_INT(b[i].rate, a[i].rate);
        CHECK_INT(b[i].channels, a[i].channels);
        CHECK(same(b[i].integrated_lufs, a[i].integrated_lufs));
        CHECK(same(b[i].range_lu, a[i].range_lu));
        CHECK(same(b[i].true_peak_dbtp, a[i].true_peak_dbtp));
        CHECK(same(b[i].sample_peak_dbfs, a[i].sample_peak_dbfs));
        CHECK(b[i].meter != NULL);
    }
    /* Album values from the batched meters match too. */
    struct lg_analysis al_a, al_b;
    CHECK_INT(lg_analyze_album(a, N, &al_a), 0);
    CHECK_INT(lg_analyze_album(b, N, &al_b), 0);
    CHECK(same(al_a.integrated_lufs, al_b.integrated_lufs));
    CHECK(same(al_a.range_lu, al_b.range_lu));
    for (int i = 0; i < N; i++) {
        lg_analysis_free(&a[i]);
        lg_analysis_free(&b[i]);
        free(paths[i]);
    }
    free(ea);
    free(eb);
    free(dir);
}

LG_TEST(backend_values)
{
    const char *paths[1] = { "/nonexistent/x.wav" };
    struct lg_analysis a[1];
    int st[1];
    char err[1][160];
    CHECK_INT(lg_analyze_files_backend(paths, 1, 1, 7, a, st, err), -EINVAL);
    CHECK_INT(lg_analyze_files_backend(paths, 1, 1, -1, a, st, err), -EINVAL);
    int usable = lg_dsp_cuda_status(NULL, 0);
    int r = lg_analyze_files_backend(paths, 1, 1, LG_DSP_CUDA, a, st, err);
    CHECK_INT(r, usable ? 0 : -ENODEV);
    if (r == 0)
        CHECK(st[0] < 0);
    /* auto without a usable GPU is the CPU path: the missing file fails. */
    CHECK_INT(lg_analyze_files_backend(paths, 1, 1, LG_DSP_AUTO, a, st, err), 0);
    CHECK(st[0] < 0);
}

LG_TEST_MAIN(LG_CASE(batched_path_equals_streaming), LG_CASE(backend_values))
