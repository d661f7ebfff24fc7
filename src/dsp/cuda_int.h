/* SPDX-License-Identifier: MIT */
/*
 * Inside src/dsp only: the C face of the CUDA backend (the .cu files of src/dsp/cuda,
 * built when LG_HAVE_CUDA). The host C files call these; only the .cu files
 * include CUDA headers. Every function is thread-safe and returns after its
 * GPU work is done.
 */
#ifndef LG_DSP_CUDA_INT_H
#define LG_DSP_CUDA_INT_H

#include <stddef.h>
#include <stdint.h>

#include "dsp/dsp.h"
#include "dsp/kernels_scan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Probes the CUDA runtime, driver and devices, selects the device the
 * backend uses and checks that a kernel runs on it. 1 usable (why: "NAME,
 * sm_XY"), 0 not (why: the reason). Called once, by lg_dsp_cuda_status(). */
int lg_cuda_probe(char *why, size_t cap);
/* The device lg_cuda_probe() selected (-1 before, or when none is usable);
 * written once by the probe, read-only afterwards. */
extern int lg_cuda_device;

/* Page-locked host memory (cudaMallocHost); NULL on failure. The free
 * function also takes memory from malloc() (it asks the runtime which). */
void *lg_cuda_host_alloc(size_t bytes);
void lg_cuda_host_free(void *p);

/* One chunk of a batch as the loudness kernels see it: n_tracks planned
 * tracks (lg_kw_plan + lg_kw_place from a zero cursor) whose totals are cur. */
struct lg_cuda_chunk {
    const struct lg_kw_track *tracks;
    const struct lg_pcm_track *pcm; /* the tracks' PCM, same order */
    uint32_t n_tracks;
    struct lg_kw_cursor cur;
};

/* Where the results of a chunk land (host memory, written when
 * lg_cuda_loudness_run calls back): per chunk arrays laid out by the plan's
 * offsets. */
struct lg_cuda_results {
    const double *subs, *blocks, *shorts; /* by sub_off, block_off, short_off */
    const float *sample_peak, *true_peak; /* by chan_off + c */
    const float *wave_peak;               /* by wave_off + b (when the plan has buckets) */
    const double *wave_sumsq;
};

/* Called once per chunk, in chunk order, with its results; returns 0 or a
 * negative error that stops the run. */
typedef int lg_cuda_chunk_fn(void *ctx, size_t chunk, const struct lg_cuda_results *res);

/*
 * Measures chunks[0..n_chunks-1] on the GPU: for each, uploads its PCM and
 * plan, runs the K-weighting scan, energy and peak kernels and downloads the
 * results, two chunks in flight on two streams (the upload of one overlaps
 * the kernels of the other). tp_coef holds lg_tp_design()'s coefficients.
 * Adds the CUDA event times to stats (upload_ms, kernels_ms, download_ms,
 * bytes_up, chunks). Returns 0, the callback's error, -ENOMEM (device or
 * page-locked memory) or -EIO with the CUDA error in err.
 */
int lg_cuda_loudness_run(const struct lg_cuda_chunk *chunks, size_t n_chunks, const float *tp_coef,
                         lg_cuda_chunk_fn *fn, void *ctx, struct lg_dsp_batch_stats *stats,
                         char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif
