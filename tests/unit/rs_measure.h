/* SPDX-License-Identifier: MIT */
/*
 * Measurement helpers shared by the resampler tests (test_resample.c and the
 * libsoxr comparison test_resample_ref.c): sine generation in double, a
 * least-squares fit of a sine of known frequency (amplitude, phase and the
 * RMS of the residual, i.e. THD+N), and the three quality figures the issue
 * asks for, computed through a caller-supplied one-shot resampling function
 * so that legato and libsoxr are measured by the same code.
 */
#ifndef LG_TEST_RS_MEASURE_H
#define LG_TEST_RS_MEASURE_H

#include <math.h>
#include <stdlib.h>

#define RS_PI 3.14159265358979323846

/* Resamples mono in[n_in] from in_rate to out_rate; returns a malloc'd buffer
 * and its length in *n_out. */
typedef float *rs_oneshot_fn(int in_rate, int out_rate, const float *in, size_t n_in,
                             size_t *n_out);

static inline float *rs_sine(double freq_hz, int rate, size_t n, double amp)
{
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(amp * sin(2.0 * RS_PI * freq_hz * (double)i / rate));
    return x;
}

struct rs_fit {
    double amp, phase, resid_rms;
};

/* Fits y[i] ~ a cos(w i) + b sin(w i) for i in [from, to). */
static inline struct rs_fit rs_fit_sine(const float *y, size_t from, size_t to, double w)
{
    double cc = 0, ss = 0, cs = 0, yc = 0, ys = 0;
    for (size_t i = from; i < to; i++) {
        double c = cos(w * (double)i), s = sin(w * (double)i);
        cc += c * c;
        ss += s * s;
        cs += c * s;
        yc += y[i] * c;
        ys += y[i] * s;
    }
    double det = cc * ss - cs * cs;
    double a = (yc * ss - ys * cs) / det;
    double b = (ys * cc - yc * cs) / det;
    double e = 0;
    for (size_t i = from; i < to; i++) {
        double d = y[i] - (a * cos(w * (double)i) + b * sin(w * (double)i));
        e += d * d;
    }
    struct rs_fit f = { sqrt(a * a + b * b), atan2(a, b), sqrt(e / (double)(to - from)) };
    return f;
}

static inline double rs_db(double v)
{
    return 20.0 * log10(v > 1e-30 ? v : 1e-30);
}

/* Gain (dB) of a sine at freq_hz through the resampler, and its residual
 * relative to the sine's RMS (dB) in *resid_db. Edges (an eighth, at most 2048 frames) skipped. */
static inline double rs_tone(rs_oneshot_fn *fn, int in_rate, int out_rate, double freq_hz,
                             double amp, double *resid_db)
{
    size_t n_in = (size_t)in_rate / 2;
    float *x = rs_sine(freq_hz, in_rate, n_in, amp);
    size_t n_out = 0;
    float *y = fn(in_rate, out_rate, x, n_in, &n_out);
    size_t skip = n_out / 8 < 2048 ? n_out / 8 : 2048;
    struct rs_fit f = rs_fit_sine(y, skip, n_out - skip, 2.0 * RS_PI * freq_hz / out_rate);
    if (resid_db)
        *resid_db = rs_db(f.resid_rms / (amp / sqrt(2.0)));
    free(x);
    free(y);
    return rs_db(f.amp / amp);
}

/* Largest |gain| (dB) over tones from 20 Hz to 0.91 of the lower Nyquist. */
static inline double rs_passband_db(rs_oneshot_fn *fn, int in_rate, int out_rate)
{
    double nyq = 0.5 * (in_rate < out_rate ? in_rate : out_rate);
    static const double fr[] = { 0.002, 0.05, 0.2, 0.4, 0.6, 0.8, 0.85, 0.88, 0.9, 0.91 };
    double worst = 0;
    for (size_t i = 0; i < sizeof(fr) / sizeof(fr[0]); i++) {
        double g = fabs(rs_tone(fn, in_rate, out_rate, fr[i] * nyq, 0.5, NULL));
        worst = g > worst ? g : worst;
    }
    return worst;
}

/* Worst rejection (dB, negative) of what must vanish: downsampling, tones
 * above the output Nyquist (output RMS relative to input); upsampling, the
 * images of tones at 0.91 of the input Nyquist (residual of the fit). */
static inline double rs_stopband_db(rs_oneshot_fn *fn, int in_rate, int out_rate)
{
    double worst = -400;
    if (out_rate < in_rate) {
        double lo = 0.5 * out_rate * 1.005, hi = 0.5 * in_rate;
        for (int i = 0; i < 6; i++) {
            double f = lo + (hi - lo) * i / 6.0;
            size_t n_in = (size_t)in_rate / 2, n_out = 0;
            float *x = rs_sine(f, in_rate, n_in, 1.0);
            float *y = fn(in_rate, out_rate, x, n_in, &n_out);
            size_t skip = n_out / 8 < 2048 ? n_out / 8 : 2048;
            double e = 0;
            for (size_t k = skip; k < n_out - skip; k++)
                e += (double)y[k] * y[k];
            double db = rs_db(sqrt(e / (double)(n_out - 2 * skip)) / sqrt(0.5));
            worst = db > worst ? db : worst;
            free(x);
            free(y);
        }
        return worst;
    }
    static const double fr[] = { 0.5, 0.8, 0.91 };
    for (size_t i = 0; i < 3; i++) {
        double r = 0;
        rs_tone(fn, in_rate, out_rate, fr[i] * 0.5 * in_rate, 1.0, &r);
        worst = r > worst ? r : worst;
    }
    return worst;
}

/* THD+N (dB) of a full-scale 1 kHz sine. */
static inline double rs_thdn_db(rs_oneshot_fn *fn, int in_rate, int out_rate)
{
    double r = 0;
    rs_tone(fn, in_rate, out_rate, 1000.0, 1.0, &r);
    return r;
}

#endif
