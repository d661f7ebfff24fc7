/* SPDX-License-Identifier: MIT */
/*
 * The batched loudness analysis as per-item formulas that the CUDA kernels
 * (src/dsp/cuda/loudness.cu) run per thread and the CPU tests run in loops:
 * the K-weighting cascade (shelf then high-pass, 4 states) cut into segments
 * whose filter states are found by a scan, 100 ms sub-block sums of squares,
 * gating-block and short-term window energies, and the per-frame true peak.
 *
 * The scan: the cascade is linear, so the state after a segment is an affine
 * function of the state before it, s' = M s + r, where M is the segment's
 * zero-input transition (the one-step matrix to the power of its length) and
 * r its zero-state response (the state reached from rest). Composing these
 * maps is associative, so the initial state of every segment is a prefix of
 * the maps before it: each thread first runs its segment from rest (r), a
 * parallel scan composes the maps, and each segment is run again from its
 * true initial state. The result equals the sequential filter up to rounding.
 *
 * The batch layout (struct lg_kw_track): tracks' interleaved PCM lie back to
 * back; segment items are numbered track by track, segment-major (item =
 * item_off + k * channels + c) so that neighbouring threads read neighbouring
 * samples; per-channel sub-block sums are sum_off + j * channels + c. Every
 * function here is pure; the plan functions run on the host only.
 */
#ifndef LG_DSP_KERNELS_SCAN_H
#define LG_DSP_KERNELS_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "dsp/kernels_loudness.h"

/* States of the cascade: shelf z0 z1, then high-pass z0 z1. */
#define LG_KW_STATES 4
/* At most this many segments per channel; longer tracks get longer ones. */
#define LG_KW_MAX_SEGS 4096
/* Threads of a scan block: one block per (track, channel), each thread
 * composing a run of consecutive segments before the block-wide scan. */
#define LG_KW_SCAN_THREADS 256
/* Frames per tile of the peak pass. */
#define LG_KW_TILE_FRAMES 2048
/* Sub-blocks in a gating block (400 ms), a short-term window (3 s), and
 * between the short-term values that feed the loudness range (1 s); the
 * values of loudness.c. */
#define LG_KW_BLOCK_SUBS 4
#define LG_KW_SHORT_SUBS 30
#define LG_KW_SHORT_HOP  10

/* The affine map s -> m s + r of one or more segments (m row-major). */
struct lg_kw_affine {
    double m[LG_KW_STATES * LG_KW_STATES];
    double r[LG_KW_STATES];
};

/* One track of a batch: filter, shape, and where its data lie. */
struct lg_kw_track {
    struct lg_biquad shelf, hp;
    double seg_m[LG_KW_STATES * LG_KW_STATES]; /* transition over one whole segment */
    uint64_t frames;
    uint64_t pcm_off;   /* first float of the track in the batch's PCM */
    uint64_t item_off;  /* first segment item (n_segs * channels of them) */
    uint64_t sum_off;   /* first sub-block sum (n_subs * channels of them) */
    uint64_t sub_off;   /* first sub-block energy (n_subs) */
    uint64_t block_off; /* first gating-block energy (n_blocks) */
    uint64_t short_off; /* first short-term energy (n_shorts) */
    uint64_t tile_off;  /* first peak tile (n_tiles) */
    uint32_t chan_off;  /* first channel of the batch: peaks, scan blocks */
    uint32_t channels;
    uint32_t sub_len;  /* frames per 100 ms sub-block */
    uint32_t n_subs;   /* complete sub-blocks */
    uint32_t seg_subs; /* sub-blocks per segment */
    uint32_t n_segs;   /* segments per channel */
    uint32_t n_blocks, n_shorts, n_tiles;
    uint64_t wave_off; /* first waveform bucket (n_wave of them) */
    uint32_t n_wave;   /* waveform buckets (0: none) */
};

/* Running totals of a batch while tracks are placed (all start at 0). */
struct lg_kw_cursor {
    uint64_t pcm, items, sums, subs, blocks, shorts, tiles, waves;
    uint32_t chans;
};

/* ---- the cascade and affine maps ---- */

/* One step of the cascade, exactly as the CPU meter runs it. */
static inline LG_HD double lg_kw_step(const struct lg_biquad *shelf, const struct lg_biquad *hp,
                                      double *z, double x)
{
    return lg_biquad_step(hp, z + 2, lg_biquad_step(shelf, z, x));
}

/* The one-step zero-input transition of the cascade: column j is the state
 * that state e_j reaches after one step of silence. */
static inline LG_HD void lg_kw_transition(const struct lg_biquad *shelf, const struct lg_biquad *hp,
                                          double *a)
{
    for (int j = 0; j < LG_KW_STATES; j++) {
        double z[LG_KW_STATES] = { 0.0, 0.0, 0.0, 0.0 };
        z[j] = 1.0;
        lg_kw_step(shelf, hp, z, 0.0);
        for (int i = 0; i < LG_KW_STATES; i++)
            a[i * LG_KW_STATES + j] = z[i];
    }
}

/* out = a b (4x4; out may not alias a or b). */
static inline LG_HD void lg_kw_mat_mul(const double *a, const double *b, double *out)
{
    for (int i = 0; i < LG_KW_STATES; i++) {
        for (int j = 0; j < LG_KW_STATES; j++) {
            double s = 0.0;
            for (int k = 0; k < LG_KW_STATES; k++)
                s += a[i * LG_KW_STATES + k] * b[k * LG_KW_STATES + j];
            out[i * LG_KW_STATES + j] = s;
        }
    }
}

/* out = a to the power n, by squaring. */
static inline LG_HD void lg_kw_mat_pow(const double *a, uint64_t n, double *out)
{
    double base[16], acc[16], tmp[16];
    for (int i = 0; i < 16; i++) {
        base[i] = a[i];
        acc[i] = i % 5 == 0 ? 1.0 : 0.0;
    }
    while (n) {
        if (n & 1) {
            lg_kw_mat_mul(base, acc, tmp);
            for (int i = 0; i < 16; i++)
                acc[i] = tmp[i];
        }
        n >>= 1;
        if (n) {
            lg_kw_mat_mul(base, base, tmp);
            for (int i = 0; i < 16; i++)
                base[i] = tmp[i];
        }
    }
    for (int i = 0; i < 16; i++)
        out[i] = acc[i];
}

static inline LG_HD void lg_kw_affine_identity(struct lg_kw_affine *f)
{
    for (int i = 0; i < 16; i++)
        f->m[i] = i % 5 == 0 ? 1.0 : 0.0;
    for (int i = 0; i < LG_KW_STATES; i++)
        f->r[i] = 0.0;
}

/* out = m s + r (out may not alias s). */
static inline LG_HD void lg_kw_affine_apply(const double *m, const double *r, const double *s,
                                            double *out)
{
    for (int i = 0; i < LG_KW_STATES; i++) {
        double v = r[i];
        for (int k = 0; k < LG_KW_STATES; k++)
            v += m[i * LG_KW_STATES + k] * s[k];
        out[i] = v;
    }
}

/* out = the map "first, then (m, r)": m first.m, m first.r + r. out may be
 * first. */
static inline LG_HD void lg_kw_affine_then(const struct lg_kw_affine *first, const double *m,
                                           const double *r, struct lg_kw_affine *out)
{
    double mm[16], rr[LG_KW_STATES];
    lg_kw_mat_mul(m, first->m, mm);
    lg_kw_affine_apply(m, r, first->r, rr);
    for (int i = 0; i < 16; i++)
        out->m[i] = mm[i];
    for (int i = 0; i < LG_KW_STATES; i++)
        out->r[i] = rr[i];
}

/* ---- segments ---- */

/* Runs n frames (every stride-th float of x) from rest; r gets the state
 * reached: the segment's zero-state response. */
static inline LG_HD void lg_kw_zero_state(const struct lg_biquad *shelf, const struct lg_biquad *hp,
                                          const float *x, size_t stride, size_t n, double *r)
{
    double z[LG_KW_STATES] = { 0.0, 0.0, 0.0, 0.0 };
    for (size_t i = 0; i < n; i++)
        lg_kw_step(shelf, hp, z, x[i * stride]);
    for (int i = 0; i < LG_KW_STATES; i++)
        r[i] = z[i];
}

/* Runs n_subs sub-blocks of sub_len frames from state z (updated) and writes
 * each sub-block's sum of squared K-weighted samples to sums[j * sum_stride]. */
static inline LG_HD void lg_kw_energy_run(const struct lg_biquad *shelf, const struct lg_biquad *hp,
                                          double *z, const float *x, size_t stride, uint32_t n_subs,
                                          uint32_t sub_len, double *sums, size_t sum_stride)
{
    for (uint32_t j = 0; j < n_subs; j++) {
        double s = 0.0;
        const float *xs = x + (size_t)j * sub_len * stride;
        for (uint32_t i = 0; i < sub_len; i++) {
            double y = lg_kw_step(shelf, hp, z, xs[(size_t)i * stride]);
            s += y * y;
        }
        sums[(size_t)j * sum_stride] = s;
    }
}

/*
 * Scan over segments k0..k1-1 whose maps are (m + k * m_stride, r + k *
 * r_stride): m_stride 0 when all segments share one transition (the kernels),
 * 16 when each has its own (tests). lg_kw_scan_aggregate composes them in
 * order into *out; lg_kw_scan_walk starts from state s (the prefix of the
 * segments before k0 applied to the first state) and writes each segment's
 * initial state to states + k * states_stride.
 */
static inline LG_HD void lg_kw_scan_aggregate(const double *m, size_t m_stride, const double *r,
                                              size_t r_stride, size_t k0, size_t k1,
                                              struct lg_kw_affine *out)
{
    lg_kw_affine_identity(out);
    for (size_t k = k0; k < k1; k++)
        lg_kw_affine_then(out, m + k * m_stride, r + k * r_stride, out);
}

static inline LG_HD void lg_kw_scan_walk(const double *m, size_t m_stride, const double *r,
                                         size_t r_stride, size_t k0, size_t k1, const double *s,
                                         double *states, size_t states_stride)
{
    double cur[LG_KW_STATES], next[LG_KW_STATES];
    for (int i = 0; i < LG_KW_STATES; i++)
        cur[i] = s[i];
    for (size_t k = k0; k < k1; k++) {
        for (int i = 0; i < LG_KW_STATES; i++)
            states[k * states_stride + (size_t)i] = cur[i];
        lg_kw_affine_apply(m + k * m_stride, r + k * r_stride, cur, next);
        for (int i = 0; i < LG_KW_STATES; i++)
            cur[i] = next[i];
    }
}

/* ---- per-item work of the kernels ---- */

/* Which offset lg_kw_find() searches by. */
enum { LG_KW_BY_ITEM, LG_KW_BY_SUB, LG_KW_BY_TILE, LG_KW_BY_CHAN, LG_KW_BY_WAVE };

static inline LG_HD uint64_t lg_kw_key(const struct lg_kw_track *t, int by)
{
    switch (by) {
    case LG_KW_BY_ITEM:
        return t->item_off;
    case LG_KW_BY_SUB:
        return t->sub_off;
    case LG_KW_BY_TILE:
        return t->tile_off;
    case LG_KW_BY_WAVE:
        return t->wave_off;
    default:
        return t->chan_off;
    }
}

/* The track that owns index idx of the numbering by (the last of the n > 0
 * tracks whose offset is <= idx: tracks with nothing to number are skipped). */
static inline LG_HD uint32_t lg_kw_find(const struct lg_kw_track *t, uint32_t n, uint64_t idx,
                                        int by)
{
    uint32_t lo = 0, hi = n; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (lg_kw_key(&t[mid], by) <= idx)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Segment k of channel c of t: its first sub-block, sub-block count and first
 * sample. */
static inline LG_HD void lg_kw_segment(const struct lg_kw_track *t, uint32_t k, uint32_t *j0,
                                       uint32_t *n_subs, const float **x, const float *pcm,
                                       uint32_t c)
{
    *j0 = k * t->seg_subs;
    uint32_t left = t->n_subs - *j0;
    *n_subs = left < t->seg_subs ? left : t->seg_subs;
    *x = pcm + t->pcm_off + (uint64_t)*j0 * t->sub_len * t->channels + c;
}

/* The energy of sub-block j: channel-weighted sums over the sub-block length,
 * summed over channels in order as the CPU meter does. */
static inline LG_HD double lg_kw_sub_energy(const struct lg_kw_track *t, const double *sums,
                                            uint32_t j)
{
    double e = 0.0;
    const double *s = sums + t->sum_off + (uint64_t)j * t->channels;
    for (uint32_t c = 0; c < t->channels; c++)
        e += lg_loudness_channel_weight((int)t->channels, (int)c) * s[c];
    return e / (double)t->sub_len;
}

/* The mean of the n sub-block energies ending at j (newest first, as the CPU
 * meter's ring is read). */
static inline LG_HD double lg_kw_window_mean(const double *e, uint32_t j, uint32_t n)
{
    double sum = 0.0;
    for (uint32_t i = 0; i < n; i++)
        sum += e[j - i];
    return sum / (double)n;
}

/* The true peak between frames f-1 and f of channel c (phases 1..3), with
 * silence before the first frame as in the CPU meter. */
static inline LG_HD float lg_kw_tp_frame(const float *coef, const float *x, uint64_t f, uint32_t c,
                                         uint32_t channels)
{
    float h[LG_TP_TAPS];
    for (int k = 0; k < LG_TP_TAPS; k++)
        h[LG_TP_TAPS - 1 - k] = (uint64_t)k <= f ? x[(f - (uint64_t)k) * channels + c] : 0.0f;
    return lg_tp_peak_at(coef, h + LG_TP_TAPS - 1);
}

/* ---- waveform buckets ---- */

/* Bucket b of t holds frames [b * frames / n_wave, (b + 1) * frames /
 * n_wave), the buckets of lg_waveform for a known length. Lane lane of
 * lanes takes samples lane, lane + lanes, ... of the bucket: *peak gets the
 * largest |x| (NaN skipped, as fmaxf does), *sumsq the sum of x * x. The
 * kernel runs a warp per bucket and combines the lanes; the host, one lane. */
static inline LG_HD void lg_kw_wave_part(const struct lg_kw_track *t, const float *pcm, uint32_t b,
                                         uint32_t lane, uint32_t lanes, float *peak, double *sumsq)
{
    uint64_t ch = t->channels;
    uint64_t s0 = (uint64_t)b * t->frames / t->n_wave * ch;
    uint64_t s1 = ((uint64_t)b + 1) * t->frames / t->n_wave * ch;
    const float *x = pcm + t->pcm_off;
    float p = 0.0f;
    double s = 0.0;
    for (uint64_t i = s0 + lane; i < s1; i += lanes) {
        float v = x[i], a = v < 0.0f ? -v : v;
        p = a > p ? a : p;
        s += (double)v * v;
    }
    *peak = p;
    *sumsq = s;
}

/* ---- planning (host) ---- */

/* Fills the filter and shape of t for a track; offsets come from
 * lg_kw_place(). The shape depends on rate, channels and frames only. */
static inline void lg_kw_plan(struct lg_kw_track *t, int rate_hz, int channels, uint64_t frames)
{
    lg_kweight_design((double)rate_hz, &t->shelf, &t->hp);
    t->frames = frames;
    t->channels = (uint32_t)channels;
    t->sub_len = (uint32_t)(((uint64_t)rate_hz + 5) / 10);
    t->n_subs = (uint32_t)(frames / t->sub_len);
    t->seg_subs =
        t->n_subs > LG_KW_MAX_SEGS ? (t->n_subs + LG_KW_MAX_SEGS - 1) / LG_KW_MAX_SEGS : 1;
    t->n_segs = (t->n_subs + t->seg_subs - 1) / t->seg_subs;
    t->n_blocks = t->n_subs >= LG_KW_BLOCK_SUBS ? t->n_subs - (LG_KW_BLOCK_SUBS - 1) : 0;
    t->n_shorts =
        t->n_subs >= LG_KW_SHORT_SUBS ? (t->n_subs - LG_KW_SHORT_SUBS) / LG_KW_SHORT_HOP + 1 : 0;
    t->n_tiles = (uint32_t)((frames + LG_KW_TILE_FRAMES - 1) / LG_KW_TILE_FRAMES);
    t->n_wave = 0;
    double a[16];
    lg_kw_transition(&t->shelf, &t->hp, a);
    lg_kw_mat_pow(a, (uint64_t)t->seg_subs * t->sub_len, t->seg_m);
}

/* After lg_kw_plan(): n_buckets waveform buckets for t (none when it has no
 * frames). n_buckets <= LG_KW_MAX_WAVE. */
#define LG_KW_MAX_WAVE 65536
static inline void lg_kw_plan_wave(struct lg_kw_track *t, uint32_t n_buckets)
{
    t->n_wave = t->frames ? n_buckets : 0;
}

/* Gives t its offsets in the batch and advances the cursor. */
static inline void lg_kw_place(struct lg_kw_track *t, struct lg_kw_cursor *cur)
{
    t->pcm_off = cur->pcm;
    t->item_off = cur->items;
    t->sum_off = cur->sums;
    t->sub_off = cur->subs;
    t->block_off = cur->blocks;
    t->short_off = cur->shorts;
    t->tile_off = cur->tiles;
    t->wave_off = cur->waves;
    t->chan_off = cur->chans;
    cur->pcm += t->frames * t->channels;
    cur->items += (uint64_t)t->n_segs * t->channels;
    cur->sums += (uint64_t)t->n_subs * t->channels;
    cur->subs += t->n_subs;
    cur->blocks += t->n_blocks;
    cur->shorts += t->n_shorts;
    cur->tiles += t->n_tiles;
    cur->waves += t->n_wave;
    cur->chans += t->channels;
}

#endif
