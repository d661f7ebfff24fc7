/* SPDX-License-Identifier: MIT */
/*
 * Backend selection of src/dsp: names, whether the CUDA backend is built and
 * usable (probed once per process under pthread_once, so every thread sees
 * the same answer), the "backends:" report of --version and the logs, and
 * host memory that the CUDA backend copies fastest. Without LG_HAVE_CUDA the
 * CUDA backend is "not built" and everything runs on the CPU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "dsp/dsp.h"

#if LG_HAVE_CUDA
#include "dsp/cuda_int.h"
#endif

int lg_dsp_backend_parse(const char *name)
{
    static const char *const names[] = { "cpu", "cuda", "auto" };
    for (int i = 0; name && i < 3; i++) {
        if (strcmp(name, names[i]) == 0)
            return i;
    }
    return -EINVAL;
}

const char *lg_dsp_backend_name(int backend)
{
    switch (backend) {
    case LG_DSP_CPU:
        return "cpu";
    case LG_DSP_CUDA:
        return "cuda";
    case LG_DSP_AUTO:
        return "auto";
    default:
        return "?";
    }
}

/* The probe's answer: written once under probe_once, read-only afterwards. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int cuda_usable;
static char cuda_why[160];

static void probe(void)
{
#if LG_HAVE_CUDA
    cuda_usable = lg_cuda_probe(cuda_why, sizeof(cuda_why));
#else
    cuda_usable = 0;
    snprintf(cuda_why, sizeof(cuda_why), "not built");
#endif
}

int lg_dsp_cuda_status(char *why, size_t cap)
{
    pthread_once(&probe_once, probe);
    if (why && cap)
        snprintf(why, cap, "%s", cuda_why);
    return cuda_usable;
}

/* Whether the CPU kernels' AVX2+FMA variants run here (as loudness.c and
 * resample.c decide). */
static int cpu_has_avx2(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

void lg_dsp_backends(char *out, size_t cap)
{
    char why[160];
    int usable = lg_dsp_cuda_status(why, sizeof(why));
    const char *cpu = cpu_has_avx2() ? "cpu-avx2" : "cpu";
    if (!cap)
        return;
    if (usable)
        snprintf(out, cap, "%s cuda(%s)", cpu, why);
    else if (LG_HAVE_CUDA)
        snprintf(out, cap, "%s cuda(built, %s)", cpu, why);
    else
        snprintf(out, cap, "%s", cpu);
}

void *lg_dsp_host_alloc(size_t bytes)
{
#if LG_HAVE_CUDA
    if (lg_dsp_cuda_status(NULL, 0)) {
        void *p = lg_cuda_host_alloc(bytes);
        if (p)
            return p;
    }
#endif
    return malloc(bytes ? bytes : 1);
}

void lg_dsp_host_free(void *p)
{
#if LG_HAVE_CUDA
    if (p && lg_dsp_cuda_status(NULL, 0)) {
        lg_cuda_host_free(p);
        return;
    }
#endif
    free(p);
}
