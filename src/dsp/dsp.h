/* SPDX-License-Identifier: MIT */
/*
 * The audio math of legato: loudness (ITU-R BS.1770-4 / EBU R128), true peak,
 * resampling, gain and limiting, waveform summaries. This library depends on
 * libc and libm alone. The per-sample formulas live in headers marked LG_HD
 * that the CUDA backend compiles too, so the CPU tests cover the math the GPU
 * runs. Each part (loudness, resampling and gain) has its own section below.
 */
#ifndef LG_DSP_DSP_H
#define LG_DSP_DSP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define LG_HD __host__ __device__
#else
#define LG_HD
#endif

/* The version of the DSP library's formulas; bumped when results change so
 * stored analyses can be redone. */
int lg_dsp_version(void);

/* ---- Loudness and peaks (ITU-R BS.1770-4, EBU R128, EBU Tech 3342) ---- */

/* Mode flags of lg_loudness_new(). Gating blocks (integrated loudness) and
 * momentary/short-term loudness are always measured. */
enum {
    LG_LOUDNESS_LRA = 1u << 0,         /* keep short-term energies: loudness range */
    LG_LOUDNESS_SAMPLE_PEAK = 1u << 1, /* per-channel sample peak */
    LG_LOUDNESS_TRUE_PEAK = 1u << 2,   /* per-channel true peak, 4x oversampled */
    LG_LOUDNESS_PORTABLE = 1u << 3,    /* use the portable C kernels only (tests) */
    LG_LOUDNESS_ALL = 7u
};

/* A streaming loudness meter of one track. Not thread-safe; one per thread. */
struct lg_loudness;

/* A meter for interleaved float audio of rate_hz (8000..768000) and channels
 * (1..64; 1 mono, 2 L R, 3 L R C, 4 L R Ls Rs, 5 L R C Ls Rs, 6 L R C LFE Ls Rs;
 * channels past the sixth weigh 1). NULL on bad arguments or no memory.
 * Caller owns the result; release with lg_loudness_free(). */
struct lg_loudness *lg_loudness_new(int rate_hz, int channels, unsigned mode_flags);
void lg_loudness_free(struct lg_loudness *m);

/* Feeds n_frames frames (any count, 0 included). Returns 0, or -ENOMEM when
 * a gating list could not grow (the meter stays usable but has lost blocks). */
int lg_loudness_add(struct lg_loudness *m, const float *interleaved, size_t n_frames);

/* Loudness in LUFS (or LU for range) of what was fed so far; -HUGE_VAL for
 * silence or too little audio. Momentary is the last 400 ms, short-term the
 * last 3 s (both on the 100 ms grid, absent audio counted as silence),
 * integrated gated at -70 LUFS and -10 LU, range per Tech 3342 (-70 LUFS and
 * -20 LU gates, 10th to 95th percentile). -EINVAL if the mode was not on. */
int lg_loudness_momentary(const struct lg_loudness *m, double *out_lufs);
int lg_loudness_shortterm(const struct lg_loudness *m, double *out_lufs);
int lg_loudness_integrated(const struct lg_loudness *m, double *out_lufs);
int lg_loudness_range(const struct lg_loudness *m, double *out_lu);

/* Peaks in dBFS / dBTP of channel ch, or of all channels with ch == -1;
 * -HUGE_VAL for silence. The true peak is never below the sample peak.
 * -EINVAL for a bad channel or a mode that was not on. */
int lg_loudness_sample_peak(const struct lg_loudness *m, int ch, double *out_dbfs);
int lg_loudness_true_peak(const struct lg_loudness *m, int ch, double *out_dbtp);

/* The mean-square energies (channel-weighted, K-weighted) of the 400 ms
 * gating blocks (75 % overlap) at or above -70 LUFS, and of the 3 s
 * short-term windows (every 1 s, LRA mode) at or above -70 LUFS. *out is
 * borrowed and valid until the next lg_loudness_add(); returns the count. */
size_t lg_loudness_block_energies(const struct lg_loudness *m, const double **out);
size_t lg_loudness_shortterm_energies(const struct lg_loudness *m, const double **out);

/* Gating from energies alone (e.g. computed on a GPU): integrated loudness of
 * gating-block energies, loudness range of short-term energies. */
int lg_loudness_gate_integrated(const double *energies, size_t n, double *out_lufs);
int lg_loudness_gate_range(const double *energies, size_t n, double *out_lu);

/* Album values of n meters without re-reading audio: the gates run over the
 * union of their blocks. -EINVAL if a meter lacks the mode, -ENOMEM. */
int lg_loudness_integrated_multi(const struct lg_loudness *const *v, size_t n, double *out_lufs);
int lg_loudness_range_multi(const struct lg_loudness *const *v, size_t n, double *out_lu);

/* ---- Resampling, gain, limiter, ReplayGain, waveform ---- */

/* A streaming resampler of interleaved float32 audio from in_rate to
 * out_rate (any positive rates) with channels (1..64) channels. Polyphase
 * Kaiser-windowed sinc: passband flat to 0.91 of the lower Nyquist frequency,
 * stopband from the lower Nyquist frequency, >= 120 dB. Output frame k is the
 * input at time k / out_rate (the filter delay is compensated). For n input
 * frames in total, process + flush give exactly round(n * out_rate / in_rate)
 * frames (halves round up), whatever the block sizes, and the same samples.
 * NULL on bad arguments or no memory. Caller owns the result; release with
 * lg_resampler_free(). Not thread-safe; one per stream. */
struct lg_resampler;
struct lg_resampler *lg_resampler_new(int in_rate, int out_rate, int channels);
void lg_resampler_free(struct lg_resampler *r);

/* Feeds n_in frames (all consumed) and writes up to out_cap frames to out;
 * returns the frames written. With out_cap >= lg_resampler_out_max(r, n_in)
 * nothing is left pending; otherwise the rest comes out on later calls. */
size_t lg_resampler_process(struct lg_resampler *r, const float *in, size_t n_in, float *out,
                            size_t out_cap);
/* The frames the next process call of n_in frames would write (exact). */
size_t lg_resampler_out_max(const struct lg_resampler *r, size_t n_in);

/* Ends the input: writes the remaining frames (up to out_cap, the rest on
 * the next flush call); returns the frames written, 0 when done. Further
 * process calls are ignored until lg_resampler_reset(). */
size_t lg_resampler_flush(struct lg_resampler *r, float *out, size_t out_cap);
size_t lg_resampler_flush_max(const struct lg_resampler *r);

/* Input frames held back before an output can be computed (the filter's
 * half-length); output timing is already compensated for it. */
int lg_resampler_latency_frames(const struct lg_resampler *r);
/* Back to the state of a new object (same rates). */
void lg_resampler_reset(struct lg_resampler *r);
/* Tests and benchmarks: enable (1) or disable (0) the AVX2+FMA kernel;
 * returns 1 when the AVX2 kernel is now in use. */
int lg_resampler_set_simd(struct lg_resampler *r, int enable);

/* Gain with smooth changes: a new gain is reached by a linear ramp over
 * ramp_ms, so steps make no zipper noise or click. Starts at 0 dB. */
struct lg_gain;
struct lg_gain *lg_gain_new(int rate_hz, int channels, double ramp_ms);
void lg_gain_free(struct lg_gain *g);
/* Ramps from the present gain to db (starting with the next frame). */
void lg_gain_set_db(struct lg_gain *g, double db);
/* Multiplies n_frames interleaved frames in place. */
void lg_gain_process(struct lg_gain *g, float *buf, size_t n_frames);

/* A linked look-ahead true-peak limiter: output never exceeds ceiling_dbtp
 * measured at 4x oversampling (by BS.1770-4 meters and long windowed-sinc
 * interpolators alike: the sidechain uses 128 taps per phase and keeps
 * 0.3 dB in reserve, so limited peaks sit near ceiling - 0.3 dB). The gain
 * follows the sidechain (max over channels), attacks within the look-ahead
 * and releases exponentially over release_ms. Output is the input delayed by
 * lg_limiter_latency_frames() (round(lookahead_ms * rate / 1000), at least
 * 136 frames), and is a bit-exact delayed copy while the signal stays below
 * the ceiling. Typical: ceiling -1 dBTP, look-ahead 5 ms, release 150 ms.
 * NULL on bad arguments. */
struct lg_limiter;
struct lg_limiter *lg_limiter_new(int rate_hz, int channels, double ceiling_dbtp,
                                  double lookahead_ms, double release_ms);
void lg_limiter_free(struct lg_limiter *l);
int lg_limiter_latency_frames(const struct lg_limiter *l);
/* n_frames in, n_frames out (in == out allowed). */
void lg_limiter_process(struct lg_limiter *l, const float *in, float *out, size_t n_frames);
/* Writes the last lg_limiter_latency_frames() frames (the held tail). */
void lg_limiter_flush(struct lg_limiter *l, float *out);
void lg_limiter_reset(struct lg_limiter *l);

/* ReplayGain 2.0: the gain in dB that brings loudness_lufs (track or album
 * integrated loudness) to target_lufs (LG_REPLAYGAIN_TARGET_LUFS by default).
 * Without a limiter (limited == 0) the gain is lowered so that
 * peak_dbtp + gain <= ceiling_dbtp; with one, the limiter catches the peaks. */
#define LG_REPLAYGAIN_TARGET_LUFS (-18.0)
double lg_replaygain_db(double loudness_lufs, double peak_dbtp, double target_lufs,
                        double ceiling_dbtp, int limited);

/* A waveform summary: peak (max |sample| over channels) and RMS (over all
 * samples of the bucket) for n_buckets buckets. With total_frames known,
 * bucket b covers frames [b*total/n, (b+1)*total/n) exactly. With
 * total_frames == 0 (unknown length) buckets start one frame wide and merge
 * pairwise whenever n_buckets are full, so the result has between
 * n_buckets/2 and n_buckets buckets of equal power-of-two width (the last
 * may be partial). NULL on bad arguments or no memory. */
struct lg_waveform;
struct lg_waveform *lg_waveform_new(int channels, size_t n_buckets, uint64_t total_frames);
void lg_waveform_free(struct lg_waveform *w);
void lg_waveform_add(struct lg_waveform *w, const float *interleaved, size_t n_frames);
/* Copies the buckets so far into peak[] and rms[] (room for n_buckets each);
 * returns the count. */
size_t lg_waveform_get(const struct lg_waveform *w, float *peak, float *rms);

#endif
