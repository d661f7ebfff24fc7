/* SPDX-License-Identifier: MIT */
/*
 * The streaming kernels of the batcher (batch.c): resampling, gain and the
 * true-peak limiter of many jobs at once, written as per-element functions
 * (LG_HD) that the CUDA kernels in cuda/stream.cu call from their threads
 * and that batch.c calls in plain loops when it runs the same steps on the
 * host (the CPU side of the auto backend, and the emulated device of the
 * tests). The output is that of lg_resampler, lg_gain and lg_limiter
 * (bit-exact on the host against the portable resampler kernel).
 *
 * State. Each job (slot) keeps its whole state in one block of memory
 * (struct lg_sk_slot followed by its arrays, reached by byte offsets from the
 * block's start, so a block can be copied between host and device as it
 * is): the resampler's input history, the gain ramp, the limiter's input
 * history, hold deque and envelope box. Histories are double-buffered: a
 * step reads buffer [parity] and writes the one it keeps into [parity ^ 1],
 * so that no thread overwrites what another still reads.
 *
 * Steps. For one run, the host writes one struct lg_sk_step per job with the
 * job's offsets into the packed buffers of the run (input, resampled
 * "mid", output, scratch) and the resampler's integer position, which the
 * host tracks as resample.c does. The stages run in order over all jobs:
 *
 *   resample  per (job, channel): fill the new history (kept frames, the
 *             input deinterleaved, flush zeros), then every output frame
 *             (independent dot products) into mid, interleaved;
 *   gain      per job: the factors (sequential only while a ramp moves),
 *             then every sample of mid;
 *   limit     per job: fill the new history (last D frames, mid, flush
 *             zeros), rate every frame (independent), run the hold and the
 *             smoothing in order (one thread), then every output sample.
 *
 * Within a stage the functions named *_fill must all finish before *_out,
 * *_rate and so on start (a __syncthreads() in the kernels).
 */
#ifndef LG_DSP_KERNELS_STREAM_H
#define LG_DSP_KERNELS_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "dsp/dsp.h"
#include "dsp/kernels_gain.h"
#include "dsp/kernels_resample.h"

#define LG_SK_MAX_CH 8 /* LG_DSP_BATCH_MAX_CHANNELS */

/* One job's state block: this header, then its arrays (offsets in bytes
 * from the start of the block). Written by the host at add; the kernels
 * change the histories, g and e. */
struct lg_sk_slot {
    uint32_t channels;
    uint32_t rs, lim; /* stages on (1) or off (0) */
    /* resampler */
    uint64_t up, down;   /* L and M (out_rate / in_rate reduced) */
    uint32_t half, taps; /* H and 2H */
    uint32_t dense;      /* 0: one row per phase; else rows for dense phases, blended */
    uint32_t rs_cap;     /* floats per channel of each history buffer */
    uint64_t rs_hist_off[2];
    /* limiter */
    uint32_t delay;   /* D */
    uint32_t lim_cap; /* floats per channel of each history buffer */
    uint64_t lim_hist_off[2];
    uint64_t dq_val_off, dq_idx_off, env_box_off;
    struct lg_gain_ramp g;
    struct lg_lim_env e;
};

/* One job's part of a run. Offsets count floats (scr_off: doubles) from the
 * start of the run's packed buffers. */
struct lg_sk_step {
    struct lg_sk_slot *slot; /* the block on the side that runs the step */
    const float *coef;       /* resampler table: row-major, or the device's (coef_t) */
    uint32_t coef_t;         /* 1: the device table of lg_sk_rs_out_t (exact tables only) */
    uint32_t r0;             /* coef_t: (output 0's index since the start) mod L */
    uint32_t parity;         /* histories: read [parity], write [parity ^ 1] */
    uint32_t n_in;           /* input frames */
    uint32_t n_mid;          /* frames out of the resampler (n_in without one) */
    uint32_t n_lim;          /* frames through the limiter: n_mid, + D when flushing */
    uint32_t keep_src;       /* resampler: first kept frame of the old history */
    uint32_t kept, zeros;    /* frames kept; flush zeros after the input */
    uint32_t lim_src;        /* limiter: the old history's last D frames start here */
    uint64_t f0;             /* resampler: output 0's (k M) mod L */
    uint64_t in_off, mid_off, out_off, scr_off;
    uint32_t gain_on;  /* the gain stage runs */
    uint32_t gain_set; /* 1: ramp to gain_target from the first frame */
    double gain_target;
};

static inline LG_HD float *lg_sk_f(struct lg_sk_slot *s, uint64_t off)
{
    return (float *)(void *)((char *)s + off);
}

/* ---- resample ---- */

/* Frames in the new history of a resampling step. */
static inline LG_HD uint32_t lg_sk_rs_len(const struct lg_sk_step *st)
{
    return st->kept + st->n_in + st->zeros;
}

/* The new history of channel c (written by lg_sk_rs_fill). */
static inline LG_HD float *lg_sk_rs_new(const struct lg_sk_step *st, uint32_t c)
{
    struct lg_sk_slot *s = st->slot;
    return lg_sk_f(s, s->rs_hist_off[st->parity ^ 1u]) + (size_t)c * s->rs_cap;
}

/* Element k of channel c's new history: kept frames, input, zeros. */
static inline LG_HD float lg_sk_rs_fill(const struct lg_sk_step *st, const float *in, uint32_t c,
                                        uint32_t k)
{
    struct lg_sk_slot *s = st->slot;
    if (k < st->kept) {
        const float *old = lg_sk_f(s, s->rs_hist_off[st->parity]) + (size_t)c * s->rs_cap;
        return old[st->keep_src + k];
    }
    k -= st->kept;
    if (k < st->n_in)
        return in[st->in_off + (size_t)k * s->channels + c];
    return 0.0f;
}

/* Output frame j, channel c: from hist (channel c's new history, or a copy
 * of it) into mid; without resampling, the input frame j. Row-major tables
 * (coef_t 0): the CPU resampler's sums, bit for bit on the host. */
static inline LG_HD void lg_sk_rs_out(const struct lg_sk_step *st, const float *hist,
                                      const float *in, float *mid, uint32_t c, uint32_t j)
{
    const struct lg_sk_slot *s = st->slot;
    size_t at = st->mid_off + (size_t)j * s->channels + c;
    if (!s->rs) {
        mid[at] = in[st->in_off + (size_t)j * s->channels + c];
        return;
    }
    uint64_t t = st->f0 + (uint64_t)j * s->down;
    uint64_t f = t % s->up;
    const float *x = hist + t / s->up;
    if (!s->dense) {
        mid[at] = lg_rs_dot(x, st->coef + f * s->taps, s->taps);
        return;
    }
    /* Dense tables: the two neighbouring rows' results blended linearly. */
    double pos = (double)f * s->dense / (double)s->up;
    size_t p = (size_t)pos;
    float a = (float)(pos - (double)p);
    const float *h0 = st->coef + p * s->taps;
    float d0 = lg_rs_dot(x, h0, s->taps);
    float d1 = lg_rs_dot(x, h0 + s->taps, s->taps);
    mid[at] = d0 + a * (d1 - d0);
}

/* The device's exact tables (coef_t 1). Output k of a stream (k counted
 * from its start) has phase (k M) mod L, so outputs k and k + L share a row
 * of coefficients, and consecutive outputs use rows (k M) mod L, ((k + 1) M)
 * mod L, ... The device table is therefore stored transposed and permuted:
 * float (tap i, r) is tap i of the row of phase (r M) mod L, at i L + r, and
 * neighbouring threads, computing neighbouring outputs, read neighbouring
 * floats of each table row and of the history. One item computes
 * LG_SK_RS_GROUP outputs j, j + L, j + 2L, ... that share a row, loading
 * each coefficient once for all of them. Each output sums its taps as
 * lg_rs_dot does, in the same order: run on the host (no fused multiply-add)
 * that is the portable resampler's result bit for bit; on the device, whose
 * multiply-adds are fused (nvcc --fmad=true), the AVX2 resampler's, which
 * fuses them too (bit-equal on an H100, bench/gpu). */
#ifndef LG_SK_RS_GROUP /* 2 was the fastest on an H100; from 3 on, the sums spill */
#define LG_SK_RS_GROUP 2
#endif

/* Items of one channel of a step (coef_t 1): P = min(L, n_mid) items per
 * round, one round per LG_SK_RS_GROUP L outputs. */
static inline LG_HD uint32_t lg_sk_rs_items(const struct lg_sk_step *st)
{
    uint64_t L = st->slot->up, n = st->n_mid;
    uint64_t p = L < n ? L : n, span = L * LG_SK_RS_GROUP;
    return (uint32_t)(p * ((n + span - 1) / span));
}

/* Item w of channel c: outputs j = (w / P) G L + w % P, j + L, ... below
 * n_mid, from hist into mid. */
static inline LG_HD void lg_sk_rs_out_t(const struct lg_sk_step *st, const float *hist, float *mid,
                                        uint32_t c, uint32_t w)
{
    enum { G = LG_SK_RS_GROUP };
    const struct lg_sk_slot *s = st->slot;
    uint32_t L = (uint32_t)s->up, p = L < st->n_mid ? L : st->n_mid;
    uint32_t j = (w / p) * G * L + w % p;
    if (j >= st->n_mid)
        return;
    uint32_t n = (st->n_mid - j + L - 1) / L;
    n = n < G ? n : G;
    uint64_t t = st->f0 + (uint64_t)j * s->down;
    const float *x[G];
    for (uint32_t g = 0; g < G; g++) /* a missing output reads the first one's */
        x[g] = hist + t / L + (g < n ? (size_t)g * s->down : 0);
    const float *h = st->coef + (st->r0 + j) % L;
    /* lg_rs_dot's 32 partial sums per output: tap i in block (i / 8) % 4,
     * lane i % 8; taps past the last whole 32 in block 0. */
    float acc[G][4][8] = { { { 0 } } };
    uint32_t i = 0, full = s->taps & ~31u;
    for (; i < full; i += 32) {
        for (int b = 0; b < 4; b++) {
            float hv[8];
            for (int l = 0; l < 8; l++)
                hv[l] = h[(size_t)(i + 8 * b + l) * L];
            for (uint32_t g = 0; g < G; g++)
                for (int l = 0; l < 8; l++)
                    acc[g][b][l] += x[g][i + 8 * b + l] * hv[l];
        }
    }
    for (; i + 8 <= s->taps; i += 8) {
        float hv[8];
        for (int l = 0; l < 8; l++)
            hv[l] = h[(size_t)(i + l) * L];
        for (uint32_t g = 0; g < G; g++)
            for (int l = 0; l < 8; l++)
                acc[g][0][l] += x[g][i + l] * hv[l];
    }
    for (uint32_t g = 0; g < n; g++)
        mid[st->mid_off + (size_t)(j + g * L) * s->channels + c] = lg_rs_dot_sum(acc[g]);
}

/* The device table (coef_t 1) from the row-major rows of an exact design
 * (L rows of taps floats) into dst (L * taps floats). */
static inline void lg_sk_rs_device_table(float *dst, const float *rows, uint64_t up, uint64_t down,
                                         uint32_t taps)
{
    for (uint64_t r = 0; r < up; r++) {
        const float *row = rows + ((r * down) % up) * taps;
        for (uint32_t i = 0; i < taps; i++)
            dst[(size_t)i * up + r] = row[i];
    }
}

/* ---- gain ---- */

/* Runs once per job before lg_sk_gain_apply: starts a requested ramp and,
 * while a ramp moves, writes the factor of every frame to fac (n_mid
 * floats) and returns 1; otherwise returns 0 and *k is every frame's
 * factor. */
static inline LG_HD int lg_sk_gain_prepare(const struct lg_sk_step *st, float *fac, float *k)
{
    struct lg_sk_slot *s = st->slot;
    if (st->gain_set)
        lg_gain_ramp_set(&s->g, st->gain_target);
    if (s->g.left == 0) {
        *k = lg_gain_ramp_next(&s->g); /* no ramp: the state does not move */
        return 0;
    }
    for (uint32_t i = 0; i < st->n_mid; i++)
        fac[i] = lg_gain_ramp_next(&s->g);
    return 1;
}

/* Sample idx (frame idx / channels) of mid. */
static inline LG_HD void lg_sk_gain_apply(const struct lg_sk_step *st, float *mid, const float *fac,
                                          int ramp, float k, uint32_t idx)
{
    uint32_t i = idx / st->slot->channels;
    mid[st->mid_off + idx] *= ramp ? fac[i] : k;
}

/* ---- limit ---- */

/* Frames in the new limiter history: D before this step's first frame. */
static inline LG_HD uint32_t lg_sk_lim_len(const struct lg_sk_step *st)
{
    return st->slot->delay + st->n_lim;
}

static inline LG_HD float *lg_sk_lim_new(const struct lg_sk_step *st, uint32_t c)
{
    struct lg_sk_slot *s = st->slot;
    return lg_sk_f(s, s->lim_hist_off[st->parity ^ 1u]) + (size_t)c * s->lim_cap;
}

/* Element k of channel c's new limiter history: the last D frames of the
 * old one, mid, then zeros. */
static inline LG_HD float lg_sk_lim_fill(const struct lg_sk_step *st, const float *mid, uint32_t c,
                                         uint32_t k)
{
    struct lg_sk_slot *s = st->slot;
    if (k < s->delay) {
        const float *old = lg_sk_f(s, s->lim_hist_off[st->parity]) + (size_t)c * s->lim_cap;
        return old[st->lim_src + k];
    }
    k -= s->delay;
    if (k < st->n_mid)
        return mid[st->mid_off + (size_t)k * s->channels + c];
    return 0.0f;
}

/* The rating of frame i (needed gain) into scr[i]; coef is lg_lim_coefs(). */
static inline LG_HD void lg_sk_lim_rate(const struct lg_sk_step *st,
                                        const float coef[3][2 * LG_LIM_T], double *scr, uint32_t i)
{
    struct lg_sk_slot *s = st->slot;
    double peak = 0;
    for (uint32_t c = 0; c < s->channels; c++) {
        const float *w = lg_sk_lim_new(st, c) + s->delay + i + 1 - 2 * LG_LIM_T;
        peak = fmax(peak, lg_lim_peak(w, coef));
    }
    scr[st->scr_off + i] = lg_lim_rate(&s->e, peak);
}

/* Hold and smoothing of all frames in order: ratings in scr become gains. */
static inline LG_HD void lg_sk_lim_seq(const struct lg_sk_step *st, double *scr)
{
    struct lg_sk_slot *s = st->slot;
    double *dq_val = (double *)(void *)((char *)s + s->dq_val_off);
    uint64_t *dq_idx = (uint64_t *)(void *)((char *)s + s->dq_idx_off);
    double *env_box = (double *)(void *)((char *)s + s->env_box_off);
    for (uint32_t i = 0; i < st->n_lim; i++) {
        double *r = &scr[st->scr_off + i];
        *r = lg_lim_smooth(&s->e, env_box, lg_lim_hold_min(&s->e, dq_val, dq_idx, *r));
    }
}

/* Output sample idx (frame idx / channels): frame i - D under frame i's
 * gain; without a limiter, mid as it is. */
static inline LG_HD void lg_sk_lim_out(const struct lg_sk_step *st, const float *mid,
                                       const double *scr, float *out, uint32_t idx)
{
    const struct lg_sk_slot *s = st->slot;
    if (!s->lim) {
        out[st->out_off + idx] = mid[st->mid_off + idx];
        return;
    }
    uint32_t i = idx / s->channels, c = idx % s->channels;
    float x = lg_sk_lim_new(st, c)[i];
    out[st->out_off + idx] = lg_lim_apply(x, scr[st->scr_off + i]);
}

#endif
