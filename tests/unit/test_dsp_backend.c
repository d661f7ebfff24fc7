/* SPDX-License-Identifier: MIT */
/*
 * Tests of the DSP backend selection (src/dsp/backend.c): backend names, the
 * CUDA status ("not built" without LG_HAVE_CUDA; a device or a documented
 * reason with it), the same answer from many threads at once, the
 * "backends:" report, host memory, and batch analysis refusing CUDA when it
 * is not usable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "dsp/dsp.h"

#include "harness.h"

LG_TEST(parse_names)
{
    static const struct {
        const char *name;
        int want;
    } rows[] = {
        { "cpu", LG_DSP_CPU }, { "cuda", LG_DSP_CUDA }, { "auto", LG_DSP_AUTO },
        { "CPU", -EINVAL },    { "gpu", -EINVAL },      { "", -EINVAL },
        { "cuda ", -EINVAL },  { "autox", -EINVAL },    { NULL, -EINVAL },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK_INT(lg_dsp_backend_parse(rows[i].name), rows[i].want);
    for (int b = LG_DSP_CPU; b <= LG_DSP_AUTO; b++)
        CHECK_INT(lg_dsp_backend_parse(lg_dsp_backend_name(b)), b);
    CHECK_STR(lg_dsp_backend_name(7), "?");
}

/* A reason the header documents for an unusable CUDA backend. */
static int documented_reason(const char *why)
{
    static const char *const prefixes[] = { "no CUDA driver", "no device", "CUDA driver ",
                                            "cudaGetDeviceCount: ", "cannot run a kernel" };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (strncmp(why, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    }
    return strstr(why, "needs sm_80 or newer") != NULL;
}

LG_TEST(cuda_status)
{
    char why[160];
    memset(why, 'x', sizeof(why));
    int usable = lg_dsp_cuda_status(why, sizeof(why));
    CHECK(memchr(why, '\0', sizeof(why)) != NULL);
    if (!LG_HAVE_CUDA) {
        CHECK_INT(usable, 0);
        CHECK_STR(why, "not built");
    } else if (usable) {
        CHECK(strstr(why, ", sm_") != NULL);
    } else {
        fprintf(stderr, "  cuda: %s\n", why);
        CHECK(documented_reason(why));
    }
    /* Later calls give the kept answer, truncated safely; NULL is allowed. */
    char small[5];
    CHECK_INT(lg_dsp_cuda_status(small, sizeof(small)), usable);
    CHECK_INT((int)strlen(small), (int)(strlen(why) < 4 ? strlen(why) : 4));
    CHECK(strncmp(small, why, strlen(small)) == 0);
    CHECK_INT(lg_dsp_cuda_status(NULL, 0), usable);
}

struct probe_result {
    int usable;
    char why[160];
};

static void *probe_thread(void *arg)
{
    struct probe_result *r = arg;
    r->usable = lg_dsp_cuda_status(r->why, sizeof(r->why));
    return NULL;
}

LG_TEST(status_same_in_every_thread)
{
    enum { N = 8 };
    pthread_t th[N];
    struct probe_result res[N];
    for (int i = 0; i < N; i++)
        CHECK_INT(pthread_create(&th[i], NULL, probe_thread, &res[i]), 0);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    char why[160];
    int usable = lg_dsp_cuda_status(why, sizeof(why));
    for (int i = 0; i < N; i++) {
        CHECK_INT(res[i].usable, usable);
        CHECK_STR(res[i].why, why);
    }
}

LG_TEST(backends_report)
{
    char out[256], why[160];
    lg_dsp_backends(out, sizeof(out));
    int usable = lg_dsp_cuda_status(why, sizeof(why));
    int avx2 = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    char want[256];
    const char *cpu = avx2 ? "cpu-avx2" : "cpu";
    if (usable)
        snprintf(want, sizeof(want), "%s cuda(%s)", cpu, why);
    else if (LG_HAVE_CUDA)
        snprintf(want, sizeof(want), "%s cuda(built, %s)", cpu, why);
    else
        snprintf(want, sizeof(want), "%s", cpu);
    CHECK_STR(out, want);
    fprintf(stderr, "  backends: %s\n", out);
    char tiny[4];
    lg_dsp_backends(tiny, sizeof(tiny));
    CHECK_STR(tiny, "cpu");
}

LG_TEST(host_memory)
{
    float *p = lg_dsp_host_alloc(1 << 20);
    CHECK(p != NULL);
    if (p) {
        p[0] = 1.0f;
        p[(1 << 18) - 1] = 2.0f;
        CHECK(p[0] + p[(1 << 18) - 1] == 3.0f);
    }
    lg_dsp_host_free(p);
    lg_dsp_host_free(NULL);
    void *z = lg_dsp_host_alloc(0);
    CHECK(z != NULL);
    lg_dsp_host_free(z);
}

LG_TEST(batch_refuses_unusable_cuda)
{
    char why[160];
    if (lg_dsp_cuda_status(why, sizeof(why)))
        return; /* usable: test_gpu covers this machine */
    float pcm[4800] = { 0 };
    struct lg_pcm_track t = { .pcm = pcm, .frames = 4800, .rate = 48000, .channels = 1 };
    struct lg_loudness *out[1] = { (struct lg_loudness *)&out }; /* must stay untouched */
    struct lg_dsp_batch_stats st;
    CHECK_INT(lg_dsp_analyze_batch_stats(LG_DSP_CUDA, &t, 1, LG_LOUDNESS_ALL, out, &st), -ENODEV);
    CHECK(out[0] == (struct lg_loudness *)&out);
    CHECK(strstr(st.note, why) != NULL);
    /* AUTO measures on the CPU and says why. */
    CHECK_INT(lg_dsp_analyze_batch_stats(LG_DSP_AUTO, &t, 1, LG_LOUDNESS_ALL, out, &st), 0);
    CHECK_INT(st.backend, LG_DSP_CPU);
    CHECK(strstr(st.note, why) != NULL);
    lg_loudness_free(out[0]);
}

/* The threads case runs first, so that the probe itself races. */
LG_TEST_MAIN(LG_CASE(status_same_in_every_thread), LG_CASE(parse_names), LG_CASE(cuda_status),
             LG_CASE(backends_report), LG_CASE(host_memory), LG_CASE(batch_refuses_unusable_cuda))
