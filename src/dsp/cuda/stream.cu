/* SPDX-License-Identifier: MIT */
/*
 * The CUDA side of the streaming batcher (batch_int.h): device buffers, a
 * CUDA stream per part of a run, CUDA events and NVTX ranges around every
 * part, and the three
 * stage kernels. The kernels are thin: every element of work is a function
 * of kernels_stream.h, which batch.c also runs on the host, so the host
 * tests cover the arithmetic and the indexing run here.
 *
 * A run is cut in LG_SK_PARTS parts at job boundaries (batch.c balances
 * the input); each part has its own range of the packed buffers and its own
 * CUDA stream, and goes upload -> resample -> gain -> limit -> download as
 * soon as batch.c has packed its input, so one part's copies overlap
 * another's kernels and the host's packing and unpacking overlap the GPU.
 * Each stage is one launch per part across all its jobs: a block per (job,
 * channel) for the resampler (its history copied to shared memory when it
 * fits; a thread computes outputs that share a row of coefficients, from
 * lg_sk_rs_device_table's layout), a block per job for the gain and the
 * limiter (the limiter's hold and smoothing, sequential, run on one thread
 * of the block between two parallel phases).
 *
 * Buffers grow to the largest run seen and are kept: page-locked host
 * buffers for steps, input and output (batch.c writes into them directly),
 * device buffers for those and for the resampled frames and scratch. The
 * job state blocks and the resampler tables are separate device
 * allocations that batch.c owns through lg_sk_cuda_upload_new().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

/* dsp.h declares C functions, some of which are defined below. */
extern "C" {
#include "dsp/dsp.h"
}
#include "dsp/batch_int.h"
#include "dsp/cuda_int.h"
#include "dsp/kernels_stream.h"

#define THREADS 256

struct lg_sk_cuda {
    cudaStream_t st[LG_SK_PARTS];
    cudaEvent_t ev[LG_SK_PARTS][4]; /* per part: start, uploaded, computed, downloaded */
    int events;
    float *d_coef; /* the limiter's interpolator, 3 x 2T */
    /* page-locked host */
    struct lg_sk_step *h_steps;
    float *h_in, *h_out;
    size_t c_steps, c_in, c_out;
    /* device */
    struct lg_sk_step *d_steps;
    float *d_in, *d_mid, *d_out;
    double *d_scr;
    size_t cd_steps, cd_in, cd_mid, cd_out, cd_scr;
};

/* ---- kernels ---- */

/* grid (jobs, channels): one block per job and channel. */
extern "C" __global__ void __launch_bounds__(THREADS, 2)
    lg_sk_resample(const struct lg_sk_step *steps, const float *in, float *mid,
                   uint32_t smem_floats)
{
    extern __shared__ float sh[];
    __shared__ struct lg_sk_step st;
    if (threadIdx.x == 0)
        st = steps[blockIdx.x];
    __syncthreads();
    uint32_t c = blockIdx.y;
    if (c >= st.slot->channels)
        return;
    const float *h = NULL;
    if (st.slot->rs) {
        uint32_t len = lg_sk_rs_len(&st);
        int use_sh = len <= smem_floats;
        float *dst = lg_sk_rs_new(&st, c);
        for (uint32_t k = threadIdx.x; k < len; k += blockDim.x) {
            float v = lg_sk_rs_fill(&st, in, c, k);
            dst[k] = v;
            if (use_sh)
                sh[k] = v;
        }
        __syncthreads();
        h = use_sh ? sh : dst;
    }
    if (st.coef_t)
        for (uint32_t w = threadIdx.x, n = lg_sk_rs_items(&st); w < n; w += blockDim.x)
            lg_sk_rs_out_t(&st, h, mid, c, w);
    else
        for (uint32_t j = threadIdx.x; j < st.n_mid; j += blockDim.x)
            lg_sk_rs_out(&st, h, in, mid, c, j);
}

/* One block per job. */
extern "C" __global__ void __launch_bounds__(THREADS)
    lg_sk_gain(const struct lg_sk_step *steps, float *mid, double *scr)
{
    __shared__ struct lg_sk_step st;
    __shared__ int ramp;
    __shared__ float k;
    if (threadIdx.x == 0)
        st = steps[blockIdx.x];
    __syncthreads();
    if (!st.gain_on)
        return;
    float *fac = (float *)(void *)(scr + st.scr_off);
    if (threadIdx.x == 0) {
        float kk = 1.0f;
        ramp = lg_sk_gain_prepare(&st, fac, &kk);
        k = kk;
    }
    __syncthreads();
    uint32_t n = st.n_mid * st.slot->channels;
    for (uint32_t idx = threadIdx.x; idx < n; idx += blockDim.x)
        lg_sk_gain_apply(&st, mid, fac, ramp, k, idx);
}

/* Doubles of shared memory for the limiter's hold deque and look-ahead box
 * (hold values, hold indices, box): enough for a 5 ms look-ahead up to
 * 192 kHz; a longer one runs on global memory. */
#define LIM_SMEM_DOUBLES 3072

/* lg_sk_lim_seq, the one sequential part of a step, with the block's help:
 * the threads copy the hold deque and the box into shared memory, thread 0
 * runs the frames in order on them with the limiter's state in registers
 * (each frame's deque and box operations then wait on shared memory, not on
 * global memory), and the threads copy them back. The same operations in
 * the same order as lg_sk_lim_seq: the same doubles. Called by every thread
 * of the block. */
static __device__ void lim_seq(const struct lg_sk_step *st, double *scr)
{
    __shared__ double sh[LIM_SMEM_DOUBLES];
    struct lg_sk_slot *s = st->slot;
    uint32_t hold = s->e.hold, box = s->e.box;
    if ((size_t)hold * 2 + box > LIM_SMEM_DOUBLES) {
        if (threadIdx.x == 0)
            lg_sk_lim_seq(st, scr);
        return;
    }
    double *dq_val = (double *)(void *)((char *)s + s->dq_val_off);
    uint64_t *dq_idx = (uint64_t *)(void *)((char *)s + s->dq_idx_off);
    double *env_box = (double *)(void *)((char *)s + s->env_box_off);
    double *v = sh, *b = sh + 2 * (size_t)hold;
    uint64_t *ix = (uint64_t *)(void *)(sh + hold);
    for (uint32_t i = threadIdx.x; i < hold; i += blockDim.x) {
        v[i] = dq_val[i];
        ix[i] = dq_idx[i];
    }
    for (uint32_t i = threadIdx.x; i < box; i += blockDim.x)
        b[i] = env_box[i];
    __syncthreads();
    if (threadIdx.x == 0) {
        struct lg_lim_env e = s->e;
        double *r = scr + st->scr_off;
        for (uint32_t i = 0; i < st->n_lim; i++)
            r[i] = lg_lim_smooth(&e, b, lg_lim_hold_min(&e, v, ix, r[i]));
        s->e = e;
    }
    __syncthreads();
    for (uint32_t i = threadIdx.x; i < hold; i += blockDim.x) {
        dq_val[i] = v[i];
        dq_idx[i] = ix[i];
    }
    for (uint32_t i = threadIdx.x; i < box; i += blockDim.x)
        env_box[i] = b[i];
}

/* One block per job: fill, rate (parallel), hold and smooth (one thread, on
 * shared memory), apply (parallel). */
extern "C" __global__ void __launch_bounds__(THREADS, 2)
    lg_sk_limit(const struct lg_sk_step *steps, const float *lim_coef, const float *mid,
                double *scr, float *out)
{
    __shared__ struct lg_sk_step st;
    __shared__ float coef[3][2 * LG_LIM_T];
    if (threadIdx.x == 0)
        st = steps[blockIdx.x];
    for (uint32_t i = threadIdx.x; i < 3 * 2 * LG_LIM_T; i += blockDim.x)
        coef[i / (2 * LG_LIM_T)][i % (2 * LG_LIM_T)] = lim_coef[i];
    __syncthreads();
    uint32_t ch = st.slot->channels;
    if (!st.slot->lim) {
        for (uint32_t idx = threadIdx.x; idx < st.n_mid * ch; idx += blockDim.x)
            lg_sk_lim_out(&st, mid, scr, out, idx);
        return;
    }
    uint32_t len = lg_sk_lim_len(&st);
    for (uint32_t k = threadIdx.x; k < len * ch; k += blockDim.x) {
        uint32_t c = k / len, kk = k % len;
        lg_sk_lim_new(&st, c)[kk] = lg_sk_lim_fill(&st, mid, c, kk);
    }
    __syncthreads();
    for (uint32_t i = threadIdx.x; i < st.n_lim; i += blockDim.x)
        lg_sk_lim_rate(&st, coef, scr, i);
    __syncthreads();
    lim_seq(&st, scr);
    __syncthreads();
    for (uint32_t idx = threadIdx.x; idx < st.n_lim * ch; idx += blockDim.x)
        lg_sk_lim_out(&st, mid, scr, out, idx);
}

/* ---- host side ---- */

static int fail(cudaError_t e, const char *what, char *why, size_t cap)
{
    if (why && cap)
        snprintf(why, cap, "%s: %s", what, cudaGetErrorString(e));
    return e == cudaErrorMemoryAllocation ? -ENOMEM : -EIO;
}

extern "C" int lg_sk_cuda_open(struct lg_sk_cuda **out, char *why, size_t cap)
{
    if (lg_cuda_device < 0) {
        snprintf(why, cap, "no usable device");
        return -ENODEV;
    }
    struct lg_sk_cuda *d = (struct lg_sk_cuda *)calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->events = 1;
    cudaError_t e = cudaSetDevice(lg_cuda_device);
    for (int h = 0; h < LG_SK_PARTS && e == cudaSuccess; h++) {
        e = cudaStreamCreateWithFlags(&d->st[h], cudaStreamNonBlocking);
        for (int i = 0; i < 4 && e == cudaSuccess; i++)
            e = cudaEventCreate(&d->ev[h][i]);
    }
    float coef[3][2 * LG_LIM_T];
    lg_lim_coefs(coef);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&d->d_coef, sizeof(coef));
    if (e == cudaSuccess)
        e = cudaMemcpy(d->d_coef, coef, sizeof(coef), cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
        int rc = fail(e, "opening the stream batcher", why, cap);
        lg_sk_cuda_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

extern "C" void lg_sk_cuda_close(struct lg_sk_cuda *d)
{
    if (!d)
        return;
    cudaSetDevice(lg_cuda_device);
    for (int h = 0; h < LG_SK_PARTS; h++) {
        if (d->st[h])
            cudaStreamDestroy(d->st[h]);
        for (int i = 0; i < 4; i++)
            if (d->ev[h][i])
                cudaEventDestroy(d->ev[h][i]);
    }
    cudaFree(d->d_coef);
    cudaFreeHost(d->h_steps);
    cudaFreeHost(d->h_in);
    cudaFreeHost(d->h_out);
    cudaFree(d->d_steps);
    cudaFree(d->d_in);
    cudaFree(d->d_mid);
    cudaFree(d->d_out);
    cudaFree(d->d_scr);
    free(d);
}

extern "C" void *lg_sk_cuda_upload_new(struct lg_sk_cuda *d, const void *host, size_t bytes)
{
    void *p = NULL;
    (void)d;
    cudaSetDevice(lg_cuda_device);
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess)
        return NULL;
    if (bytes && cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess) {
        cudaFree(p);
        return NULL;
    }
    return p;
}

extern "C" void lg_sk_cuda_free(struct lg_sk_cuda *d, void *dev)
{
    (void)d;
    if (dev)
        cudaFree(dev);
}

extern "C" int lg_sk_cuda_copy_blocks(struct lg_sk_cuda *d, void *const *host, void *const *dev,
                                      const size_t *bytes, size_t n, int to_host)
{
    cudaSetDevice(lg_cuda_device);
    cudaError_t e = cudaSuccess;
    for (size_t i = 0; i < n && e == cudaSuccess; i++)
        e = to_host ? cudaMemcpyAsync(host[i], dev[i], bytes[i], cudaMemcpyDeviceToHost, d->st[0])
                    : cudaMemcpyAsync(dev[i], host[i], bytes[i], cudaMemcpyHostToDevice, d->st[0]);
    cudaError_t s = cudaStreamSynchronize(d->st[0]);
    return e == cudaSuccess && s == cudaSuccess ? 0 : -EIO;
}

/* Grows a page-locked (host != 0) or device buffer to need elements; the
 * contents are not kept. */
static int grow(void **p, size_t *cap, size_t need, size_t elem, int host)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap * 2 > need ? *cap * 2 : need;
    n = n < 1024 ? 1024 : n;
    if (host)
        cudaFreeHost(*p);
    else
        cudaFree(*p);
    *p = NULL;
    *cap = 0;
    cudaError_t e = host ? cudaMallocHost(p, n * elem) : cudaMalloc(p, n * elem);
    if (e != cudaSuccess) {
        *p = NULL;
        return -ENOMEM;
    }
    *cap = n;
    return 0;
}

extern "C" int lg_sk_cuda_reserve(struct lg_sk_cuda *d, const struct lg_sk_run *r,
                                  struct lg_sk_host_bufs *out)
{
    cudaSetDevice(lg_cuda_device);
    if (grow((void **)&d->h_steps, &d->c_steps, r->n_steps, sizeof(struct lg_sk_step), 1) < 0 ||
        grow((void **)&d->h_in, &d->c_in, r->in_floats, sizeof(float), 1) < 0 ||
        grow((void **)&d->h_out, &d->c_out, r->out_floats, sizeof(float), 1) < 0 ||
        grow((void **)&d->d_steps, &d->cd_steps, r->n_steps, sizeof(struct lg_sk_step), 0) < 0 ||
        grow((void **)&d->d_in, &d->cd_in, r->in_floats, sizeof(float), 0) < 0 ||
        grow((void **)&d->d_mid, &d->cd_mid, r->mid_floats, sizeof(float), 0) < 0 ||
        grow((void **)&d->d_out, &d->cd_out, r->out_floats, sizeof(float), 0) < 0 ||
        grow((void **)&d->d_scr, &d->cd_scr, r->scr_doubles, sizeof(double), 0) < 0)
        return -ENOMEM;
    out->steps = d->h_steps;
    out->in = d->h_in;
    out->out = d->h_out;
    return 0;
}

extern "C" void lg_sk_cuda_events(struct lg_sk_cuda *d, int on)
{
    d->events = on != 0;
}

static void record(struct lg_sk_cuda *d, int h, int i)
{
    if (d->events)
        cudaEventRecord(d->ev[h][i], d->st[h]);
}

static double elapsed(cudaEvent_t a, cudaEvent_t b)
{
    float ms = 0;
    return cudaEventElapsedTime(&ms, a, b) == cudaSuccess ? ms : 0;
}

extern "C" int lg_sk_cuda_start(struct lg_sk_cuda *d, const struct lg_sk_run *r, int h)
{
    uint32_t s0 = r->bound[h], s1 = r->bound[h + 1];
    if (h == 0) {
        cudaSetDevice(lg_cuda_device);
        cudaGetLastError(); /* a stale error of an earlier query is not this run's */
    }
    if (s0 >= s1)
        return 0;
    cudaStream_t s = d->st[h];
    const struct lg_sk_step *hs = d->h_steps;
    uint64_t in0 = hs[s0].in_off, in1 = s1 < r->n_steps ? hs[s1].in_off : r->in_floats;
    uint64_t out0 = hs[s0].out_off, out1 = s1 < r->n_steps ? hs[s1].out_off : r->out_floats;
    record(d, h, 0);
    nvtxRangePushA("upload");
    cudaMemcpyAsync(d->d_steps + s0, hs + s0, (s1 - s0) * sizeof(*hs), cudaMemcpyHostToDevice, s);
    if (in1 > in0)
        cudaMemcpyAsync(d->d_in + in0, d->h_in + in0, (in1 - in0) * sizeof(float),
                        cudaMemcpyHostToDevice, s);
    nvtxRangePop();
    record(d, h, 1);
    nvtxRangePushA("kernels");
    dim3 grid(s1 - s0, r->max_channels ? r->max_channels : 1);
    lg_sk_resample<<<grid, THREADS, r->smem_floats * sizeof(float), s>>>(d->d_steps + s0, d->d_in,
                                                                         d->d_mid, r->smem_floats);
    lg_sk_gain<<<s1 - s0, THREADS, 0, s>>>(d->d_steps + s0, d->d_mid, d->d_scr);
    lg_sk_limit<<<s1 - s0, THREADS, 0, s>>>(d->d_steps + s0, d->d_coef, d->d_mid, d->d_scr,
                                            d->d_out);
    nvtxRangePop();
    record(d, h, 2);
    nvtxRangePushA("download");
    if (out1 > out0)
        cudaMemcpyAsync(d->h_out + out0, d->d_out + out0, (out1 - out0) * sizeof(float),
                        cudaMemcpyDeviceToHost, s);
    nvtxRangePop();
    record(d, h, 3);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        fprintf(stderr, "lg_dsp_batcher: queueing a CUDA run failed: %s\n", cudaGetErrorString(e));
        return -EIO;
    }
    return 0;
}

extern "C" int lg_sk_cuda_wait(struct lg_sk_cuda *d, int h)
{
    cudaError_t e = cudaStreamSynchronize(d->st[h]);
    if (e != cudaSuccess) {
        fprintf(stderr, "lg_dsp_batcher: CUDA run failed: %s\n", cudaGetErrorString(e));
        return -EIO;
    }
    return 0;
}

extern "C" void lg_sk_cuda_times(struct lg_sk_cuda *d, const struct lg_sk_run *r,
                                 struct lg_sk_times *t)
{
    memset(t, 0, sizeof(*t));
    if (!d->events)
        return;
    int first = -1;
    for (int h = 0; h < LG_SK_PARTS; h++) {
        if (r->bound[h] >= r->bound[h + 1])
            continue;
        first = first < 0 ? h : first;
        t->upload_ms += elapsed(d->ev[h][0], d->ev[h][1]);
        t->kernels_ms += elapsed(d->ev[h][1], d->ev[h][2]);
        t->download_ms += elapsed(d->ev[h][2], d->ev[h][3]);
        /* The parts overlap: the GPU is done when the last to end is. */
        double end = elapsed(d->ev[first][0], d->ev[h][3]);
        t->gpu_ms = end > t->gpu_ms ? end : t->gpu_ms;
    }
}

/* ---- NVTX ---- */

extern "C" void lg_sk_nvtx_push(const char *name)
{
    nvtxRangePushA(name);
}

extern "C" void lg_sk_nvtx_pop(void)
{
    nvtxRangePop();
}

extern "C" void lg_dsp_nvtx_push(const char *name)
{
    nvtxRangePushA(name);
}

extern "C" void lg_dsp_nvtx_pop(void)
{
    nvtxRangePop();
}
