/* SPDX-License-Identifier: MIT */
/*
 * Private to src/dsp: the resampler's filter design, shared by the CPU
 * resampler (resample.c) and the batcher's device tables (batch.c), so that
 * both run exactly the same coefficients.
 */
#ifndef LG_DSP_RESAMPLE_INT_H
#define LG_DSP_RESAMPLE_INT_H

#include <stddef.h>
#include <stdint.h>

struct lg_rs_design {
    int half, taps;      /* H, and 2H taps per row (H a multiple of 4) */
    uint32_t dense;      /* 0: one row per phase; else the dense phase count */
    size_t phases, rows; /* phases, and rows in the table (dense: phases + 1) */
    double fc, beta;     /* cutoff (cycles per input sample), Kaiser beta */
};

/* The greatest common divisor, to reduce a rate ratio. */
static inline uint64_t lg_rs_gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The design for a rate ratio up/down (reduced): Kaiser's estimates of beta
 * and of the length for the stopband attenuation over the transition band. */
void lg_rs_design(uint64_t up, uint64_t down, struct lg_rs_design *d);
/* Fills d->rows rows of d->taps coefficients, stride floats apart. 0 or
 * -ENOMEM (scratch memory). */
int lg_rs_fill_rows(float *rows, size_t stride, const struct lg_rs_design *d);

#endif
