/* SPDX-License-Identifier: MIT */
/*
 * Per-sample math of the gain stage and the true-peak limiter, shared by the
 * CPU objects in gain.c and the streaming kernels of the batcher (LG_HD: the
 * CUDA backend compiles the same functions). Everything that needs pow, exp
 * or a Bessel series (the linear gain, the limiter's ceiling, margin,
 * release and interpolator taps) is computed once on the host and passed in,
 * so device and host run the same arithmetic on the same constants.
 *
 * The limiter is split along its data dependencies: the rating of a frame
 * (lg_lim_rate) depends on the input alone and can run for many frames at
 * once; the hold and the smoothing (lg_lim_hold_min, lg_lim_smooth) carry a
 * state from frame to frame and run in order; applying the gain
 * (lg_lim_apply) is again independent per frame. gain.c documents the
 * limiter's design and invariants.
 */
#ifndef LG_DSP_KERNELS_GAIN_H
#define LG_DSP_KERNELS_GAIN_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "dsp/dsp.h"
#include "dsp/kernels_resample.h"

#define LG_LIM_T         64  /* detector half-length (taps per phase / 2) */
#define LG_LIM_FC        0.5 /* detector cutoff, cycles per sample */
#define LG_LIM_BETA      12.0
#define LG_LIM_MARGIN_DB 0.3

/* ---- gain ramp ---- */

/* A gain that moves to a new target linearly over ramp_frames frames. */
struct lg_gain_ramp {
    uint64_t ramp_frames;
    uint64_t left; /* frames of the ramp still to go */
    double cur, target, step;
};

/* Ramps from the present gain to target (linear, not dB) from the next frame. */
static inline LG_HD void lg_gain_ramp_set(struct lg_gain_ramp *g, double target)
{
    g->target = target;
    g->left = g->ramp_frames;
    if (g->left == 0)
        g->cur = g->target;
    else
        g->step = (g->target - g->cur) / (double)g->left;
}

/* The factor of the next frame (the ramp advances by one frame). */
static inline LG_HD float lg_gain_ramp_next(struct lg_gain_ramp *g)
{
    if (g->left > 0) {
        g->left--;
        g->cur = g->left == 0 ? g->target : g->cur + g->step;
    }
    return (float)g->cur;
}

/* ---- true-peak limiter ---- */

/* The constants and the sequential state of one limiter. The hold's deque
 * (hold entries of value and index) and the W-frame box of envelope values
 * are arrays the caller owns and passes in. */
struct lg_lim_env {
    double ceiling, margin, release; /* linear ceiling, linear margin, release per frame */
    uint32_t hold, box;              /* K + 1 = W + 2T + 2 ratings; W frames */
    uint32_t dq_head, dq_len;
    uint32_t box_pos, box_below; /* entries < 1 in the box */
    double env, box_sum;
    uint64_t n; /* frames rated */
};

/* The interpolator's taps: coef[p][j] for phases 1..3 of 4 (p = 0..2). */
static inline LG_HD void lg_lim_coefs(float coef[3][2 * LG_LIM_T])
{
    double i0_beta = lg_rs_bessel_i0(LG_LIM_BETA);
    for (int p = 0; p < 3; p++)
        for (int j = 0; j < 2 * LG_LIM_T; j++)
            coef[p][j] = (float)lg_rs_kernel((p + 1) / 4.0 + LG_LIM_T - 1 - j, LG_LIM_FC, LG_LIM_T,
                                             LG_LIM_BETA, i0_beta);
}

/* Constants for rate_hz with the look-ahead box of box frames; state reset. */
static inline void lg_lim_env_init(struct lg_lim_env *e, int rate_hz, double ceiling_dbtp,
                                   double release_ms, int box)
{
    e->ceiling = pow(10.0, ceiling_dbtp / 20.0);
    e->margin = pow(10.0, LG_LIM_MARGIN_DB / 20.0);
    e->release = 1.0 - exp(-1000.0 / (release_ms * rate_hz));
    e->box = (uint32_t)box;
    e->hold = (uint32_t)box + 2 * LG_LIM_T + 2;
}

/* Back to the state of a new limiter; env_box holds box entries. */
static inline LG_HD void lg_lim_env_reset(struct lg_lim_env *e, double *env_box)
{
    e->dq_head = e->dq_len = 0;
    for (uint32_t i = 0; i < e->box; i++)
        env_box[i] = 1.0;
    e->box_sum = e->box;
    e->box_below = 0;
    e->box_pos = 0;
    e->env = 1.0;
    e->n = 0;
}

/* The peak of one channel around the window's centre: w holds the newest 2T
 * frames of the channel (oldest first); the sample at T - 1 and three 4x
 * interpolated points after it. */
static inline LG_HD double lg_lim_peak(const float *w, const float coef[3][2 * LG_LIM_T])
{
    double v = fabs(w[LG_LIM_T - 1]);
    for (int p = 0; p < 3; p++)
        v = fmax(v, fabs(lg_rs_dot(w, coef[p], 2 * LG_LIM_T)));
    return v;
}

/* The needed gain for a peak (the max of lg_lim_peak over channels). */
static inline LG_HD double lg_lim_rate(const struct lg_lim_env *e, double peak)
{
    peak *= e->margin;
    return peak > e->ceiling ? e->ceiling / peak : 1.0;
}

/* Sliding minimum of the last hold ratings (monotonic deque); counts the frame. */
static inline LG_HD double lg_lim_hold_min(struct lg_lim_env *e, double *dq_val, uint64_t *dq_idx,
                                           double r)
{
    while (e->dq_len > 0 && dq_val[(e->dq_head + e->dq_len - 1) % e->hold] >= r)
        e->dq_len--;
    uint32_t slot = (e->dq_head + e->dq_len) % e->hold;
    dq_val[slot] = r;
    dq_idx[slot] = e->n;
    e->dq_len++;
    if (dq_idx[e->dq_head] + e->hold <= e->n) {
        e->dq_head = (e->dq_head + 1) % e->hold;
        e->dq_len--;
    }
    double m = dq_val[e->dq_head];
    e->n++;
    return m;
}

/* Release, then the W-frame average; exactly 1 while nothing is limited. */
static inline LG_HD double lg_lim_smooth(struct lg_lim_env *e, double *env_box, double hmin)
{
    double v = e->env + (1.0 - e->env) * e->release;
    e->env = v < hmin ? v : hmin;
    if (e->env > 1.0 - 1e-12)
        e->env = 1.0;
    double old = env_box[e->box_pos];
    e->box_below -= old < 1.0;
    e->box_below += e->env < 1.0;
    e->box_sum += e->env - old;
    env_box[e->box_pos] = e->env;
    e->box_pos = (e->box_pos + 1) % e->box;
    if (e->box_below == 0) {
        e->box_sum = e->box; /* drops rounding drift */
        return 1.0;
    }
    return e->box_sum / e->box;
}

/* One delayed sample under the gain a: a bit-exact copy while a is 1. */
static inline LG_HD float lg_lim_apply(float x, double a)
{
    return a == 1.0 ? x : x * (float)a;
}

#endif
