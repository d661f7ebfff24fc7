/* SPDX-License-Identifier: MIT */
/*
 * The audio math of legato: loudness (ITU-R BS.1770-4 / EBU R128), true peak,
 * resampling, gain and limiting, waveform summaries. This library depends on
 * libc and libm alone. The per-sample formulas live in headers marked LG_HD
 * that the CUDA backend compiles too, so the CPU tests cover the math the GPU
 * runs. Each engineer's part has its own section below.
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

#endif
