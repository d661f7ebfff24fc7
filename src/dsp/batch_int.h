/* SPDX-License-Identifier: MIT */
/*
 * Private to the batcher: the CUDA side of it (cuda/stream.cu, built when
 * LG_HAVE_CUDA), called by batch.c. The device keeps one state block per job
 * (struct lg_sk_slot, copied in whole from and to the host); a run uploads
 * the steps and the packed input, launches the three stage kernels and
 * downloads the packed output. All functions are called by the batcher's
 * owner thread only; the device context is the process's primary one.
 */
#ifndef LG_DSP_BATCH_INT_H
#define LG_DSP_BATCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "dsp/kernels_stream.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lg_sk_cuda;

/* Page-locked host buffers of the current run, as lg_sk_cuda_reserve()
 * sized them; valid until the next reserve. */
struct lg_sk_host_bufs {
    struct lg_sk_step *steps;
    float *in;
    float *out;
};

/* Sizes of a run, cut at job boundaries into LG_SK_PARTS parts of about
 * equal input: part p is steps [bound[p], bound[p + 1]) (possibly empty),
 * on CUDA stream p with its own copies, so that one part's copies overlap
 * another's kernels, and batch.c packs the next part's input and unpacks
 * the last one's output while the GPU works. Offsets in the steps count
 * from the start of each packed buffer; each part's input and output are
 * contiguous. */
#define LG_SK_PARTS 4
struct lg_sk_run {
    uint32_t n_steps;
    uint32_t bound[LG_SK_PARTS + 1];
    uint32_t max_channels; /* of the jobs in the run */
    uint32_t smem_floats;  /* resampler history copied to shared memory when it fits */
    uint64_t in_floats, mid_floats, out_floats, scr_doubles;
};

/* Milliseconds by CUDA events (0 with events off), summed over the parts;
 * gpu_ms from the first part's start to the last one's end. */
struct lg_sk_times {
    double upload_ms, kernels_ms, download_ms, gpu_ms;
};

/* Opens the device side: streams, events, limiter taps in device memory.
 * 0, or -ENODEV / -ENOMEM / -EIO with why (cap bytes) saying why. */
int lg_sk_cuda_open(struct lg_sk_cuda **out, char *why, size_t cap);
void lg_sk_cuda_close(struct lg_sk_cuda *d);

/* Device memory of bytes (a state block or a table), copied from host;
 * NULL on failure. lg_sk_cuda_free(NULL) does nothing. */
void *lg_sk_cuda_upload_new(struct lg_sk_cuda *d, const void *host, size_t bytes);
void lg_sk_cuda_free(struct lg_sk_cuda *d, void *dev);
/* Copies n state blocks between host and device (to_host 1: device to
 * host), then waits; 0 or -EIO. */
int lg_sk_cuda_copy_blocks(struct lg_sk_cuda *d, void *const *host, void *const *dev,
                           const size_t *bytes, size_t n, int to_host);

/* Makes room for a run of the given sizes and returns the page-locked host
 * buffers to fill; 0, -ENOMEM. */
int lg_sk_cuda_reserve(struct lg_sk_cuda *d, const struct lg_sk_run *r,
                       struct lg_sk_host_bufs *out);
/* Starts part p of a run whose steps and that part's input are in the
 * reserved buffers: its upload, kernels and download are queued on the
 * part's stream. 0, or -EIO when queueing failed. */
int lg_sk_cuda_start(struct lg_sk_cuda *d, const struct lg_sk_run *r, int p);
/* Waits for part p: its output is then in the host buffer. 0, or -EIO (the
 * device state is then undefined). */
int lg_sk_cuda_wait(struct lg_sk_cuda *d, int p);
/* After every started part was waited for: the run's event times in *t
 * (zeros with events off). */
void lg_sk_cuda_times(struct lg_sk_cuda *d, const struct lg_sk_run *r, struct lg_sk_times *t);
/* CUDA events around the phases of every run: on (1) or off (0). */
void lg_sk_cuda_events(struct lg_sk_cuda *d, int on);

/* NVTX ranges (cuda/stream.cu). */
void lg_sk_nvtx_push(const char *name);
void lg_sk_nvtx_pop(void);

#ifdef __cplusplus
}
#endif

#endif
