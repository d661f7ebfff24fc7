/* SPDX-License-Identifier: MIT */
/*
 * The CUDA backend's device handling: probes the runtime, the driver and the
 * devices once (lg_dsp_cuda_status() calls lg_cuda_probe() under
 * pthread_once), selects the device with the most multiprocessors among
 * those of compute capability 8.0 or newer (the code is built for sm_80 and
 * sm_90 plus PTX for later ones), and checks that a kernel runs there. Also
 * page-locked host memory for PCM. The CUDA runtime is linked statically; the
 * driver (libcuda.so.1) is loaded by the runtime at the first call, so a
 * machine without it gets "no CUDA driver" here rather than a failed start.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime.h>

#include "dsp/cuda_int.h"

/* The device lg_cuda_probe() chose: written once, before any run. */
int lg_cuda_device = -1;

__global__ void probe_kernel(int *out)
{
    *out = 42;
}

/* Runs probe_kernel on the current device; 0 when it wrote its answer. */
static cudaError_t run_probe_kernel(void)
{
    int *d = NULL, h = 0;
    cudaError_t e = cudaMalloc(&d, sizeof(int));
    if (e != cudaSuccess)
        return e;
    probe_kernel<<<1, 1>>>(d);
    e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost);
    cudaFree(d);
    if (e == cudaSuccess && h != 42)
        e = cudaErrorUnknown;
    return e;
}

/* The usable device with the most multiprocessors, or -1; *first gets
 * device 0's properties for the error message. */
static int pick_device(int n, cudaDeviceProp *first)
{
    int best = -1, best_sms = 0;
    for (int d = 0; d < n; d++) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, d) != cudaSuccess)
            continue;
        if (d == 0)
            *first = p;
        if (p.major >= 8 && p.multiProcessorCount > best_sms) {
            best = d;
            best_sms = p.multiProcessorCount;
        }
    }
    return best;
}

extern "C" int lg_cuda_probe(char *why, size_t cap)
{
    int drv = 0, rt = 0;
    cudaRuntimeGetVersion(&rt);
    if (cudaDriverGetVersion(&drv) != cudaSuccess || drv == 0) {
        snprintf(why, cap, "no CUDA driver");
        return 0;
    }
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorInsufficientDriver) {
        snprintf(why, cap, "CUDA driver %d.%d is older than the runtime %d.%d", drv / 1000,
                 drv % 1000 / 10, rt / 1000, rt % 1000 / 10);
        return 0;
    }
    if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0)) {
        snprintf(why, cap, "no device");
        return 0;
    }
    if (e != cudaSuccess) {
        /* AddressSanitizer's shadow gap overlaps the driver's address range. */
        snprintf(why, cap, "cudaGetDeviceCount: %s%s", cudaGetErrorString(e),
                 e == cudaErrorMemoryAllocation
                     ? " (under AddressSanitizer, set ASAN_OPTIONS=protect_shadow_gap=0)"
                     : "");
        return 0;
    }
    cudaDeviceProp first = {};
    int d = pick_device(n, &first);
    if (d < 0) {
        snprintf(why, cap, "%s is sm_%d%d; the CUDA backend needs sm_80 or newer", first.name,
                 first.major, first.minor);
        return 0;
    }
    cudaDeviceProp p;
    e = cudaSetDevice(d);
    if (e == cudaSuccess)
        e = cudaGetDeviceProperties(&p, d);
    if (e == cudaSuccess)
        e = run_probe_kernel();
    if (e != cudaSuccess) {
        snprintf(why, cap, "cannot run a kernel on device %d: %s", d, cudaGetErrorString(e));
        return 0;
    }
    lg_cuda_device = d;
    snprintf(why, cap, "%s, sm_%d%d", p.name, p.major, p.minor);
    return 1;
}

extern "C" void *lg_cuda_host_alloc(size_t bytes)
{
    void *p = NULL;
    if (cudaSetDevice(lg_cuda_device) != cudaSuccess ||
        cudaMallocHost(&p, bytes ? bytes : 1) != cudaSuccess)
        return NULL;
    return p;
}

/* Frees page-locked memory, or memory that lg_dsp_host_alloc() had to take
 * from malloc() when page-locking failed. */
extern "C" void lg_cuda_host_free(void *p)
{
    unsigned flags = 0;
    if (!p)
        return;
    if (cudaHostGetFlags(&flags, p) == cudaSuccess) {
        cudaFreeHost(p);
    } else {
        cudaGetLastError(); /* clear the error of the query */
        free(p);
    }
}
