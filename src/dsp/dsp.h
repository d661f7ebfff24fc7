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
/* A waveform of a known length (total_frames > 0) from its buckets' peaks
 * and sums of squared samples, as lg_waveform_add() of the whole track
 * would hold them (the batch analysis builds them so). NULL on bad
 * arguments or no memory. */
struct lg_waveform *lg_waveform_from_parts(int channels, size_t n_buckets, uint64_t total_frames,
                                           const float *peak, const double *sumsq);

/* ---- Backends: CPU and CUDA; batch analysis ---- */

/* Where DSP runs. LG_DSP_AUTO: on CUDA when lg_dsp_cuda_status() says it is
 * usable, on the CPU otherwise. */
enum lg_dsp_backend { LG_DSP_CPU, LG_DSP_CUDA, LG_DSP_AUTO };

/* "cpu", "cuda" or "auto" -> the enum value; -EINVAL for anything else. */
int lg_dsp_backend_parse(const char *name);
/* "cpu", "cuda", "auto" ("?" for a bad value); a static string. */
const char *lg_dsp_backend_name(int backend);

/* Whether the CUDA backend can run here: 1 usable (why gets the device, e.g.
 * "NVIDIA H100, sm_90"), 0 not (why gets the reason: "not built", "no CUDA
 * driver", "no device", "CUDA driver 12.2 is older than the runtime 13.0",
 * "NVIDIA ... is sm_75; the CUDA backend needs sm_80 or newer", ...). The
 * first call probes the driver and devices (and creates the CUDA context,
 * which takes a fraction of a second); later calls return the answer kept.
 * Thread-safe. why (cap bytes, may be NULL) is always NUL-terminated. */
int lg_dsp_cuda_status(char *why, size_t cap);

/* The backends built in and whether they are usable, for --version and logs:
 * "cpu-avx2 cuda(NVIDIA H100, sm_90)", "cpu-avx2 cuda(built, no device)",
 * "cpu-avx2" (no CUDA built in); "cpu" instead of "cpu-avx2" on a CPU
 * without AVX2 and FMA. Probes CUDA as lg_dsp_cuda_status(). Thread-safe. */
void lg_dsp_backends(char *out, size_t cap);

/* Host memory for PCM that the CUDA backend copies fastest: page-locked when
 * CUDA is usable (it copies asynchronously, at full bus speed), plain
 * malloc() otherwise. NULL when there is no memory. Release with
 * lg_dsp_host_free() (NULL does nothing); thread-safe. */
void *lg_dsp_host_alloc(size_t bytes);
void lg_dsp_host_free(void *p);

/* One track of a batch: interleaved PCM (borrowed for the call), float in
 * pcm or 16-bit in s16 (the other NULL). 16-bit samples are what CD-quality
 * sources decode to; they take half the memory, and half the copy to a GPU,
 * and are measured as lg_pcm_s16() makes them float. */
struct lg_pcm_track {
    const float *pcm;
    size_t frames;
    int rate, channels; /* as lg_loudness_new() accepts */
    const int16_t *s16;
};

/* A 16-bit sample as float, exactly (v / 32768), on the CPU and the GPU. */
static inline LG_HD float lg_pcm_s16(int16_t v)
{
    return (float)v * (1.0f / 32768.0f);
}

/* What a batch analysis did (all times in milliseconds). */
struct lg_dsp_batch_stats {
    int backend; /* where it ran: LG_DSP_CPU or LG_DSP_CUDA */
    double wall_ms;
    /* CUDA only, from CUDA events, summed over the chunks the batch was cut
     * into (copies of one chunk overlap kernels of the other, so the sum can
     * exceed wall_ms): host to device, kernels, device to host. */
    double upload_ms, kernels_ms, download_ms;
    size_t chunks;
    size_t bytes_up; /* PCM and tables copied to the device */
    char note[160];  /* why AUTO fell back to the CPU, or the CUDA error */
};

/*
 * Measures n tracks at once on backend and writes one meter per track to
 * out[0..n-1] (each as lg_loudness_new(rate, channels, mode_flags) fed the
 * whole track would read: every getter above works on it). LG_DSP_CPU runs
 * the streaming meters on a thread per core and gives exactly their results;
 * LG_DSP_CUDA measures on the GPU (K-weighting by segments whose filter
 * states are found by a parallel scan, energies, peaks) and gates on the
 * host: integrated loudness within 0.01 LU of the CPU, true peak within
 * 0.05 dB, range within 0.1 LU; LG_DSP_AUTO takes CUDA when usable and falls
 * back to the CPU if the CUDA run fails. Do not add audio to the returned
 * meters (CUDA ones refuse with -EINVAL). Returns 0; -EINVAL for a bad
 * backend or track (NULL pcm with frames, rate or channels out of range);
 * -ENODEV when LG_DSP_CUDA is asked for and not usable; -ENOMEM; -EIO when
 * the CUDA run failed (stats->note says why). On failure nothing is written
 * to out. stats may be NULL. Thread-safe; blocks until done. Caller owns the
 * meters (lg_loudness_free each).
 */
int lg_dsp_analyze_batch(int backend, const struct lg_pcm_track *t, size_t n, unsigned mode_flags,
                         struct lg_loudness **out);
int lg_dsp_analyze_batch_stats(int backend, const struct lg_pcm_track *t, size_t n,
                               unsigned mode_flags, struct lg_loudness **out,
                               struct lg_dsp_batch_stats *stats);
/* The same, and with waves != NULL each track's waveform too: waves[i] as
 * lg_waveform_new(channels, n_buckets, frames) fed the whole track holds it
 * (2 <= n_buckets <= 65536; on CUDA a warp per bucket on the PCM already
 * uploaded: peaks equal, sums of squares in another order, RMS within 1e-6
 * relative). On failure nothing is written to out or waves. Caller owns the
 * waveforms (lg_waveform_free each). */
int lg_dsp_analyze_batch_wave(int backend, const struct lg_pcm_track *t, size_t n,
                              unsigned mode_flags, size_t n_buckets, struct lg_loudness **out,
                              struct lg_waveform **waves, struct lg_dsp_batch_stats *stats);

/* ---- Streaming batcher: the DSP of many live streams in one run ---- */

/* One streaming job: resampling from in_rate to out_rate (none when they
 * are equal), then gain, then the true-peak limiter, with the semantics,
 * samples and lengths of lg_resampler, lg_gain and lg_limiter. */
struct lg_dsp_job_params {
    int in_rate, out_rate; /* 1..768000 Hz */
    int channels;          /* 1..LG_DSP_BATCH_MAX_CHANNELS */
    /* The gain starts at 0 dB and ramps to gain_db over gain_ramp_ms (0: at
     * once), as lg_gain_new(out_rate, channels, gain_ramp_ms) and
     * lg_gain_set_db(gain_db) would; the ramp is also that of later
     * lg_dsp_batcher_set_gain() calls. No gain stage runs while the gain
     * has never been set to anything but 0 dB. |gain_db| <= 60. */
    double gain_db, gain_ramp_ms;
    /* limit != 0: a limiter as lg_limiter_new(out_rate, channels,
     * ceiling_dbtp, lookahead_ms, release_ms) makes (typical: -1 dBTP, 5 ms,
     * 150 ms). */
    int limit;
    double ceiling_dbtp, lookahead_ms, release_ms;
};

#define LG_DSP_BATCH_MAX_CHANNELS 8
/* Tests: ORed into the backend of lg_dsp_batcher_new(), LG_DSP_CUDA and
 * LG_DSP_AUTO run the CUDA side's kernels on the host ("emulated": same
 * code path, state blocks and copies, no GPU). */
#define LG_DSP_BATCH_EMULATE 0x100

/*
 * A batcher owns the DSP state of up to max_jobs streaming jobs and runs the
 * blocks they submit together: on the CPU, one job after the other with the
 * CPU objects; on CUDA, one upload, one kernel launch per stage across all
 * jobs and one download per run, in four parts on four CUDA streams (one
 * part's copies overlap another's kernels, and the host packs and unpacks
 * parts while the GPU works), each job's state staying on the device
 * between runs. Output is time-aligned with the input: the
 * limiter's look-ahead is cut from the front and its tail comes out at the
 * end, so a job fed n frames in all and flushed yields exactly
 * round(n * out_rate / in_rate) frames (halves round up; n without
 * resampling), whatever the block sizes: the samples lg_resampler_process +
 * _flush, lg_gain_process and lg_limiter_process + _flush give with the
 * look-ahead cut (bit-exact on the CPU; within 1e-5 on CUDA).
 *
 * backend: LG_DSP_CPU; LG_DSP_CUDA (NULL when lg_dsp_cuda_status() says it
 * is not usable: it tells why); LG_DSP_AUTO: each run goes where the cost
 * model (lg_dsp_cost_*) predicts it ends sooner for its size, the jobs'
 * state moving along with it; without a usable GPU, the CPU. max_jobs
 * 1..65536, max_block_frames 1..1048576 (input frames a job may submit per
 * run). NULL on bad arguments or no memory. Caller owns the result; release
 * with lg_dsp_batcher_free(). Not thread-safe: one thread drives it (or the
 * caller serialises every call); it starts no thread.
 */
struct lg_dsp_batcher;
struct lg_dsp_batcher *lg_dsp_batcher_new(int backend, int max_jobs, int max_block_frames);
void lg_dsp_batcher_free(struct lg_dsp_batcher *b);

/* A new job: returns its id (>= 0, the lowest free slot), -EINVAL for bad
 * params, -ENOSPC when max_jobs are live, -ENOMEM, -EIO after a failed CUDA
 * run (the batcher is then unusable). */
int lg_dsp_batcher_add(struct lg_dsp_batcher *b, const struct lg_dsp_job_params *p);
/* Ends job id at once: its pending input and untaken output are dropped and
 * the id is free for lg_dsp_batcher_add(). Bad ids are ignored. */
void lg_dsp_batcher_remove(struct lg_dsp_batcher *b, int id);

/* Queues n frames of interleaved input (copied) for the next run, which
 * should end by deadline_ns (CLOCK_MONOTONIC; the earliest of a job's
 * submits counts). 0; -EINVAL for a bad id or a flushed job; -E2BIG when
 * the job's input for the next run would exceed max_block_frames. */
int lg_dsp_batcher_submit(struct lg_dsp_batcher *b, int id, const float *in, size_t n,
                          int64_t deadline_ns);
/* Ramps job id's gain to db (|db| <= 60) over its gain_ramp_ms, from the
 * first frame of its next run. 0 or -EINVAL. */
int lg_dsp_batcher_set_gain(struct lg_dsp_batcher *b, int id, double db);
/* Ends job id's input: its next run also makes the resampler's and the
 * limiter's tails (due at its submit's deadline, or at once when nothing
 * was submitted). Further submits fail. 0 or -EINVAL. */
int lg_dsp_batcher_flush(struct lg_dsp_batcher *b, int id);

/* The flush policy. A run is due when every live job has submitted (or
 * flushed), or when the earliest deadline minus the predicted cost of running
 * what is pending (times 1.25, plus the slack, 1 ms unless set) has come:
 * waiting longer for more jobs could make a listener late. should_run is 1
 * when a run is due at now_ns, else 0 (also when nothing is pending);
 * due_ns is the latest start time by deadline (INT64_MIN when full,
 * INT64_MAX when nothing is pending). Before any measurement the cost is a
 * conservative guess (200 ns a sample on the CPU, 2 ms + 5 ns a sample on
 * CUDA). */
int lg_dsp_batcher_should_run(const struct lg_dsp_batcher *b, int64_t now_ns);
int64_t lg_dsp_batcher_due_ns(const struct lg_dsp_batcher *b);
void lg_dsp_batcher_set_slack(struct lg_dsp_batcher *b, int64_t slack_ns);

/* Runs everything submitted (and flushes requested) since the last run and
 * makes the output available to lg_dsp_batcher_take(); now_ns is the
 * caller's clock at the start (deadlines are checked against now_ns plus
 * the measured run time). Returns the jobs run (0 when nothing was
 * pending); -ENOMEM (nothing was run; try again); -EIO when a CUDA call
 * failed (the batcher is then unusable: jobs' device state is lost). */
int lg_dsp_batcher_run(struct lg_dsp_batcher *b, int64_t now_ns);

/* Output frames of job id ready to take (0 for a bad id). */
size_t lg_dsp_batcher_available(const struct lg_dsp_batcher *b, int id);
/* Copies up to cap frames of job id's output into out (interleaved) and
 * removes them; returns the frames copied. */
size_t lg_dsp_batcher_take(struct lg_dsp_batcher *b, int id, float *out, size_t cap);
/* 1 when job id was flushed, run and all its output taken, else 0. */
int lg_dsp_batcher_done(const struct lg_dsp_batcher *b, int id);

/* What one run did, for the profiler (the pipeline feeds these into its
 * stage histograms with backend="cuda" or "cpu"). Times in milliseconds. */
struct lg_dsp_batcher_stats {
    int backend;   /* where the last run went: LG_DSP_CPU or LG_DSP_CUDA */
    int emulated;  /* LG_DSP_BATCH_EMULATE: "CUDA" ran on the host */
    unsigned jobs; /* jobs in the last run */
    uint64_t frames_in, frames_out;
    uint64_t size;       /* input samples (frames x channels): the cost model's size */
    int64_t begin_ns;    /* the now_ns given to the run */
    double wall_ms;      /* host clock over the whole run, staging included */
    double cpu_ms;       /* CPU runs: processing and unpacking (0 on CUDA) */
    double upload_ms;    /* CUDA events: host to device ... */
    double kernels_ms;   /* ... the three stage kernels ... */
    double download_ms;  /* ... device to host, each summed over the parts */
    double gpu_ms;       /* CUDA events: first upload to last download */
    double migrate_ms;   /* auto: moving the jobs' state to this side first */
    unsigned late_jobs;  /* jobs whose deadline came before the run ended */
    uint64_t runs;       /* runs so far ... */
    uint64_t runs_cuda;  /* ... of which on CUDA */
    uint64_t late_total; /* late jobs so far */
};
/* The last run's stats (zeros before the first run). */
void lg_dsp_batcher_stats(const struct lg_dsp_batcher *b, struct lg_dsp_batcher_stats *out);
/* fn is called at the end of every run with its stats (NULL: none). */
typedef void lg_dsp_batcher_fn(const struct lg_dsp_batcher_stats *s, void *ctx);
void lg_dsp_batcher_on_run(struct lg_dsp_batcher *b, lg_dsp_batcher_fn *fn, void *ctx);
/* CUDA events around every run's phases: on (1, the default) or off. Off,
 * the phase times read 0 (to measure the events' own cost). */
void lg_dsp_batcher_set_events(struct lg_dsp_batcher *b, int on);

/* Where the next run goes (LG_DSP_CPU or LG_DSP_CUDA) and why, as one line
 * in why (cap bytes, may be NULL): the backend asked for, the reason auto
 * has no GPU, or the last auto decision with its predicted costs. */
int lg_dsp_batcher_choice(const struct lg_dsp_batcher *b, char *why, size_t cap);
/* The batcher's cost model (auto; NULL otherwise), borrowed. */
struct lg_dsp_cost *lg_dsp_batcher_cost(struct lg_dsp_batcher *b);

/*
 * The cost model of the auto backend: the measured time of runs per backend
 * (LG_DSP_CPU, LG_DSP_CUDA) and size (input samples), kept per power-of-two
 * size class as moving averages (the last few runs weigh most); a size
 * without its own measurements is predicted from the nearest classes
 * (interpolated between two, or scaled linearly up from a smaller one).
 * choose() takes the backend predicted to finish sooner and now and then
 * explores the other one, so that a change in either is noticed: when it has
 * no measurement of its own at this size, or explore_every decisions at this
 * size (times how many times slower it looked) have passed since its last
 * one; never when its predicted cost exceeds budget_ns (the time left before
 * the earliest deadline). A side never measured counts at the guesses that
 * lg_dsp_batcher_due_ns() uses. Not thread-safe.
 */
struct lg_dsp_cost;
struct lg_dsp_cost *lg_dsp_cost_new(int explore_every);
void lg_dsp_cost_free(struct lg_dsp_cost *m);
void lg_dsp_cost_observe(struct lg_dsp_cost *m, int backend, uint64_t size, int64_t ns);
/* 0 and *out_ns, or -ENOENT when backend has no measurement at all. */
int lg_dsp_cost_predict(const struct lg_dsp_cost *m, int backend, uint64_t size, int64_t *out_ns);
/* LG_DSP_CPU or LG_DSP_CUDA for a run of size; why (cap bytes, may be
 * NULL) gets the reason, e.g. "cuda: 1.20 ms predicted for 2048000
 * samples, cpu 96.00 ms". */
int lg_dsp_cost_choose(struct lg_dsp_cost *m, uint64_t size, int64_t budget_ns, char *why,
                       size_t cap);

/* ---- GPU profiler hooks ---- */

/* NVTX ranges (Nsight Systems) named after pipeline stages ("load",
 * "process", "generate", "send"); nested push/pop per thread. No-ops
 * without CUDA. name is copied. */
void lg_dsp_nvtx_push(const char *name);
void lg_dsp_nvtx_pop(void);

/* One GPU activity recorded by CUPTI, on the CLOCK_MONOTONIC time line. */
struct lg_dsp_gpu_event {
    const char *name; /* kernel name, or "HtoD 2.1 MB" and so on; valid during the callback */
    const char *cat;  /* "kernel" or "memcpy" */
    uint32_t stream;  /* CUDA stream id */
    int64_t begin_ns, end_ns;
    uint64_t bytes; /* copies; 0 for kernels */
};
typedef void lg_dsp_gpu_event_fn(const struct lg_dsp_gpu_event *e, void *ctx);

/* Starts recording every kernel and copy with CUPTI's Activity API
 * (libcupti.so is loaded at run time; the binary does not link it).
 * 0; -ENOTSUP without CUDA built in; -ENODEV without a usable GPU; -ENOENT
 * when libcupti cannot be loaded; -EBUSY when another tool (Nsight Systems,
 * compute-sanitizer) holds CUPTI; -EIO when CUPTI refuses; -EALREADY. why
 * (cap bytes, may be NULL) says why. Process-wide; call from one thread. */
int lg_dsp_gpu_profile_start(char *why, size_t cap);
/* Hands the activities recorded so far to fn (on the calling thread, in
 * no particular order) and forgets them; returns how many, or -EINVAL when
 * not recording. stop does the same and ends the recording. Records beyond
 * 1,048,576 waiting ones are dropped (counted in lg_dsp_gpu_profile_dropped). */
int lg_dsp_gpu_profile_flush(lg_dsp_gpu_event_fn *fn, void *ctx);
int lg_dsp_gpu_profile_stop(lg_dsp_gpu_event_fn *fn, void *ctx);
uint64_t lg_dsp_gpu_profile_dropped(void);

#endif
