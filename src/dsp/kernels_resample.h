/* SPDX-License-Identifier: MIT */
/*
 * Per-sample math of the resampler, shared by the CPU code and the future CUDA
 * backend (LG_HD): the Kaiser-windowed sinc kernel that fills the polyphase
 * tables, and the portable dot product of one output sample. The filter is
 * designed once per rate pair; these functions are pure and hold no state.
 */
#ifndef LG_DSP_KERNELS_RESAMPLE_H
#define LG_DSP_KERNELS_RESAMPLE_H

#include <math.h>
#include <stddef.h>

#include "dsp/dsp.h"

#define LG_RS_PI 3.14159265358979323846

/* Zeroth-order modified Bessel function of the first kind, by its power
 * series; converges to double precision for the betas used here (< 20). */
static inline LG_HD double lg_rs_bessel_i0(double x)
{
    double sum = 1.0;
    double term = 1.0;
    double q = x * x / 4.0;
    for (int k = 1; k < 64; k++) {
        term *= q / ((double)k * (double)k);
        sum += term;
        if (term < sum * 1e-17)
            break;
    }
    return sum;
}

/* The low-pass kernel at offset tau (input samples) from the output instant:
 * 2 fc sinc(2 fc tau) times a Kaiser window of half-width half_width. fc is
 * the cutoff in cycles per input sample; the DC gain over integer steps is 1.
 * i0_beta is lg_rs_bessel_i0(beta), computed once by the caller. */
static inline LG_HD double lg_rs_kernel(double tau, double fc, double half_width, double beta,
                                        double i0_beta)
{
    double x = tau / half_width;
    if (x <= -1.0 || x >= 1.0)
        return 0.0;
    double arg = 2.0 * fc * tau;
    double s = fabs(arg) < 1e-12 ? 1.0 : sin(LG_RS_PI * arg) / (LG_RS_PI * arg);
    double w = lg_rs_bessel_i0(beta * sqrt(1.0 - x * x)) / i0_beta;
    return 2.0 * fc * s * w;
}

/* lg_rs_dot's 32 partial sums combined, in its fixed order. */
static inline LG_HD float lg_rs_dot_sum(float acc[4][8])
{
    float v[8], w[4];
    for (int l = 0; l < 8; l++)
        v[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
    for (int l = 0; l < 4; l++)
        w[l] = v[l] + v[l + 4];
    return (w[0] + w[2]) + (w[1] + w[3]);
}

/* One output sample: sum of x[j] * h[j] for j < n (n a multiple of 8), in
 * float with 32 partial sums (tap j in block (j / 8) % 4, lane j % 8; taps
 * past the last whole 32 go to block 0) combined in a fixed order: the order
 * the AVX2 path follows register by register, so both agree closely. Four
 * independent blocks keep a pipelined multiply-add unit busy. */
static inline LG_HD float lg_rs_dot(const float *x, const float *h, size_t n)
{
    float acc[4][8] = { { 0 } };
    size_t j = 0;
    for (; j + 32 <= n; j += 32)
        for (int b = 0; b < 4; b++)
            for (int l = 0; l < 8; l++)
                acc[b][l] += x[j + 8 * b + l] * h[j + 8 * b + l];
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            acc[0][l] += x[j + l] * h[j + l];
    return lg_rs_dot_sum(acc);
}

#endif
