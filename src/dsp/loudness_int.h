/* SPDX-License-Identifier: MIT */
/*
 * Inside src/dsp only: a loudness meter filled from measurements made
 * elsewhere (the CUDA backend's block energies and peaks), so that a batch
 * analysis hands back the same struct lg_loudness as the streaming meter and
 * every getter of dsp.h works on it unchanged.
 */
#ifndef LG_DSP_LOUDNESS_INT_H
#define LG_DSP_LOUDNESS_INT_H

#include <stddef.h>

#include "dsp/dsp.h"

/* What a meter of one track would have gathered. Arrays are borrowed (copied
 * by the constructor); a NULL peak array leaves those peaks at silence. */
struct lg_loudness_parts {
    const double *subs; /* energies of the complete 100 ms sub-blocks, in order */
    size_t n_subs;
    const double *blocks; /* 400 ms gating-block energies, ungated (n_subs - 3) */
    size_t n_blocks;
    const double *shorts; /* 3 s energies every 1 s, ungated (LRA mode) */
    size_t n_shorts;
    const float *sample_peak; /* per channel, linear */
    const float *true_peak;   /* per channel, linear, phases 1..3 */
};

/* A meter of rate_hz, channels and mode_flags (as lg_loudness_new) holding
 * p: the absolute gate is applied to the block and short-term energies as
 * the streaming meter does, and momentary and short-term loudness read the
 * last sub-blocks. The meter is complete: lg_loudness_add() on it returns
 * -EINVAL (its filter state and partial sub-block are not known). NULL on
 * bad arguments or no memory; caller owns the result (lg_loudness_free). */
struct lg_loudness *lg_loudness_from_parts(int rate_hz, int channels, unsigned mode_flags,
                                           const struct lg_loudness_parts *p);

#endif
