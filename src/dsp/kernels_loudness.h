/* SPDX-License-Identifier: MIT */
/*
 * Per-sample formulas of the loudness meter (ITU-R BS.1770-4) shared by the
 * CPU code in loudness.c and the future CUDA backend: the K-weighting filter
 * designed for any sample rate from its analog prototype by the bilinear
 * transform, the biquad step (double precision, transposed direct form II),
 * the BS.1770 channel weights, energy <-> LUFS conversion, and the true-peak
 * interpolator (4x polyphase windowed sinc whose phase 0 is the input sample
 * itself, so only phases 1..3 are computed and the sample peak covers phase
 * 0). Everything here is a pure function of its arguments.
 */
#ifndef LG_DSP_KERNELS_LOUDNESS_H
#define LG_DSP_KERNELS_LOUDNESS_H

#include <math.h>

#include "dsp/dsp.h"

/* One second-order section, normalised so that a0 == 1. */
struct lg_biquad {
    double b0, b1, b2, a1, a2;
};

/* Taps per computed phase of the true-peak interpolator and its phase count. */
#define LG_TP_TAPS   16
#define LG_TP_PHASES 3
/* Kaiser window shape of the interpolator. */
#define LG_TP_BETA 7.0

/*
 * The BS.1770 analog prototypes (the values libebur128 and others derive
 * from the standard's 48 kHz table): a high shelf of +4 dB at 1682 Hz and a
 * second-order high-pass at 38 Hz, mapped to the z-plane by the bilinear
 * transform with the corner frequency pre-warped for rate_hz.
 */
static inline LG_HD void lg_kweight_design(double rate_hz, struct lg_biquad *shelf,
                                           struct lg_biquad *hp)
{
    const double pi = 3.14159265358979323846;
    double f0 = 1681.974450955533, gain_db = 3.999843853973347, q = 0.7071752369554196;
    double k = tan(pi * f0 / rate_hz);
    double vh = pow(10.0, gain_db / 20.0);
    double vb = pow(vh, 0.4996667741545416);
    double a0 = 1.0 + k / q + k * k;
    shelf->b0 = (vh + vb * k / q + k * k) / a0;
    shelf->b1 = 2.0 * (k * k - vh) / a0;
    shelf->b2 = (vh - vb * k / q + k * k) / a0;
    shelf->a1 = 2.0 * (k * k - 1.0) / a0;
    shelf->a2 = (1.0 - k / q + k * k) / a0;

    f0 = 38.13547087602444;
    q = 0.5003270373238773;
    k = tan(pi * f0 / rate_hz);
    a0 = 1.0 + k / q + k * k;
    /* The standard's table keeps the high-pass numerator at 1, -2, 1. */
    hp->b0 = 1.0;
    hp->b1 = -2.0;
    hp->b2 = 1.0;
    hp->a1 = 2.0 * (k * k - 1.0) / a0;
    hp->a2 = (1.0 - k / q + k * k) / a0;
}

/* One step of a biquad in transposed direct form II; z holds its 2 states. */
static inline LG_HD double lg_biquad_step(const struct lg_biquad *c, double *z, double x)
{
    double y = c->b0 * x + z[0];
    z[0] = c->b1 * x - c->a1 * y + z[1];
    z[1] = c->b2 * x - c->a2 * y;
    return y;
}

/*
 * The BS.1770 weight of channel ch in a stream of n channels, in the order
 * L R C LFE Ls Rs (4 channels: L R Ls Rs; 5 channels: L R C Ls Rs). The LFE
 * weighs 0; surrounds weigh 1.41 (+1.5 dB); channels past the sixth weigh 1.
 */
static inline LG_HD double lg_loudness_channel_weight(int n, int ch)
{
    if (n == 4)
        return ch >= 2 ? 1.41 : 1.0;
    if (n == 5)
        return ch >= 3 ? 1.41 : 1.0;
    if (n >= 6 && ch == 3)
        return 0.0;
    if (n >= 6 && (ch == 4 || ch == 5))
        return 1.41;
    return 1.0;
}

/* Loudness in LUFS of a mean-square energy; -HUGE_VAL for zero. */
static inline LG_HD double lg_loudness_lufs(double energy)
{
    return energy > 0.0 ? -0.691 + 10.0 * log10(energy) : -HUGE_VAL;
}

/* The energy whose loudness is lufs. */
static inline LG_HD double lg_loudness_energy(double lufs)
{
    return pow(10.0, (lufs + 0.691) / 10.0);
}

/* Modified Bessel function I0 by its power series (enough for beta < 20). */
static inline LG_HD double lg_bessel_i0(double x)
{
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 50; k++) {
        double t = x / (2.0 * k);
        term *= t * t;
        sum += term;
    }
    return sum;
}

/*
 * Coefficients of the true-peak interpolator: coef[p * LG_TP_TAPS + k]
 * (LG_TP_PHASES * LG_TP_TAPS floats) multiplies x[n - k]
 * to give the upsampled value at n + (p + 1) / 4 - LG_TP_TAPS / 2. The
 * prototype is a Kaiser-windowed sinc of 4 * LG_TP_TAPS + 1 taps centred on a
 * multiple of 4, so its phase 0 is the identity. Each phase is normalised to
 * unit gain at DC.
 */
static inline LG_HD void lg_tp_design(float *coef)
{
    const double pi = 3.14159265358979323846;
    const double centre = 2.0 * LG_TP_TAPS;
    for (int p = 0; p < LG_TP_PHASES; p++) {
        double tmp[LG_TP_TAPS], sum = 0.0;
        for (int k = 0; k < LG_TP_TAPS; k++) {
            double j = (double)(p + 1 + 4 * k);
            double x = (j - centre) / 4.0;
            double r = (j - centre) / centre;
            double w = lg_bessel_i0(LG_TP_BETA * sqrt(1.0 - r * r)) / lg_bessel_i0(LG_TP_BETA);
            tmp[k] = sin(pi * x) / (pi * x) * w;
            sum += tmp[k];
        }
        for (int k = 0; k < LG_TP_TAPS; k++)
            coef[p * LG_TP_TAPS + k] = (float)(tmp[k] / sum);
    }
}

/*
 * The largest magnitude among the 3 interpolated values between x[-1] and
 * x[0] (x points at the newest sample; x[-LG_TP_TAPS + 1] must be valid).
 */
static inline LG_HD float lg_tp_peak_at(const float *coef, const float *x)
{
    float peak = 0.0f;
    for (int p = 0; p < LG_TP_PHASES; p++) {
        float acc = 0.0f;
        for (int k = 0; k < LG_TP_TAPS; k++)
            acc += coef[p * LG_TP_TAPS + k] * x[-k];
        float a = fabsf(acc);
        peak = a > peak ? a : peak;
    }
    return peak;
}

#endif
