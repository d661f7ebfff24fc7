/* SPDX-License-Identifier: MIT */
/*
 * Batch loudness analysis on the GPU: for each chunk of tracks, the PCM and
 * the plan (struct lg_kw_track, kernels_scan.h) go up, then
 *   k_from_s16    makes 16-bit PCM float, in place beside its upload;
 *   k_zero_state  runs every segment (track, channel, k) of the K-weighting
 *                 cascade from rest: its zero-state response r;
 *   k_scan        one block per (track, channel) composes the segments' affine
 *                 maps (transition, r) by a chunked Hillis-Steele scan, giving
 *                 every segment its true initial state;
 *   k_energy      runs every segment again from that state and writes the
 *                 sums of squares of its 100 ms sub-blocks;
 *   k_sub_energy  weights the channels' sums into sub-block energies;
 *   k_windows     averages them into 400 ms gating blocks (75 % overlap) and
 *                 3 s short-term windows every 1 s;
 *   k_peaks       sample peak and 4x true peak per channel (warp reductions,
 *                 then atomics on the bit patterns of non-negative floats);
 *   k_wave        the waveform buckets' peaks and sums of squares, a warp
 *                 per bucket;
 * and the energies and peaks come down; the host gates them (loudness.c).
 * Double precision where the CPU meter uses it. Two chunks are in flight on
 * two streams with their own buffers, so one chunk's upload overlaps the
 * other's kernels; CUDA events time upload, kernels and download.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cuda_runtime.h>

#include "dsp/cuda_int.h"

#define THREADS      256 /* per block, every kernel */
#define SCAN_THREADS LG_KW_SCAN_THREADS

__constant__ float c_tp_coef[LG_TP_PHASES * LG_TP_TAPS];

/* Segment item -> track, segment k and channel c. */
static __device__ const lg_kw_track *item_track(const lg_kw_track *t, uint32_t n, uint64_t item,
                                                uint32_t *k, uint32_t *c)
{
    const lg_kw_track *tr = &t[lg_kw_find(t, n, item, LG_KW_BY_ITEM)];
    uint64_t rel = item - tr->item_off;
    *k = (uint32_t)(rel / tr->channels);
    *c = (uint32_t)(rel % tr->channels);
    return tr;
}

__global__ void k_zero_state(const lg_kw_track *t, uint32_t n, uint64_t n_items, const float *pcm,
                             double *zs)
{
    uint64_t item = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (item >= n_items)
        return;
    uint32_t k, c, j0, ns;
    const lg_kw_track *tr = item_track(t, n, item, &k, &c);
    const float *x;
    lg_kw_segment(tr, k, &j0, &ns, &x, pcm, c);
    const lg_biquad shelf = tr->shelf, hp = tr->hp;
    lg_kw_zero_state(&shelf, &hp, x, tr->channels, (size_t)ns * tr->sub_len, zs + item * 4);
}

__global__ void k_scan(const lg_kw_track *t, uint32_t n, const double *zs, double *states)
{
    __shared__ lg_kw_affine sh[SCAN_THREADS];
    const lg_kw_track *tr = &t[lg_kw_find(t, n, blockIdx.x, LG_KW_BY_CHAN)];
    uint32_t c = blockIdx.x - tr->chan_off, tid = threadIdx.x;
    uint32_t per = (tr->n_segs + SCAN_THREADS - 1) / SCAN_THREADS;
    uint32_t k0 = tid * per < tr->n_segs ? tid * per : tr->n_segs;
    uint32_t k1 = k0 + per < tr->n_segs ? k0 + per : tr->n_segs;
    /* Segment k of channel c is item item_off + k * channels + c. */
    const double *r = zs + (tr->item_off + c) * 4;
    size_t r_stride = 4 * (size_t)tr->channels;
    lg_kw_affine mine;
    lg_kw_scan_aggregate(tr->seg_m, 0, r, r_stride, k0, k1, &mine);
    /* Inclusive Hillis-Steele scan of the threads' aggregates, earlier maps
     * applied first. */
    sh[tid] = mine;
    for (uint32_t d = 1; d < SCAN_THREADS; d <<= 1) {
        __syncthreads();
        if (tid >= d) {
            lg_kw_affine before = sh[tid - d];
            lg_kw_affine_then(&before, mine.m, mine.r, &mine);
        }
        __syncthreads();
        sh[tid] = mine;
    }
    __syncthreads();
    /* The state entering k0: the exclusive prefix applied to rest, i.e. its r. */
    double s[LG_KW_STATES] = { 0.0, 0.0, 0.0, 0.0 };
    if (tid > 0) {
        for (int i = 0; i < LG_KW_STATES; i++)
            s[i] = sh[tid - 1].r[i];
    }
    lg_kw_scan_walk(tr->seg_m, 0, r, r_stride, k0, k1, s, states + (tr->item_off + c) * 4,
                    r_stride);
}

__global__ void k_energy(const lg_kw_track *t, uint32_t n, uint64_t n_items, const float *pcm,
                         const double *states, double *sums)
{
    uint64_t item = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (item >= n_items)
        return;
    uint32_t k, c, j0, ns;
    const lg_kw_track *tr = item_track(t, n, item, &k, &c);
    const float *x;
    lg_kw_segment(tr, k, &j0, &ns, &x, pcm, c);
    const lg_biquad shelf = tr->shelf, hp = tr->hp;
    double z[LG_KW_STATES];
    for (int i = 0; i < LG_KW_STATES; i++)
        z[i] = states[item * 4 + i];
    lg_kw_energy_run(&shelf, &hp, z, x, tr->channels, ns, tr->sub_len,
                     sums + tr->sum_off + (uint64_t)j0 * tr->channels + c, tr->channels);
}

__global__ void k_sub_energy(const lg_kw_track *t, uint32_t n, uint64_t n_subs, const double *sums,
                             double *subs)
{
    uint64_t g = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (g >= n_subs)
        return;
    const lg_kw_track *tr = &t[lg_kw_find(t, n, g, LG_KW_BY_SUB)];
    subs[g] = lg_kw_sub_energy(tr, sums, (uint32_t)(g - tr->sub_off));
}

__global__ void k_windows(const lg_kw_track *t, uint32_t n, uint64_t n_subs, const double *subs,
                          double *blocks, double *shorts)
{
    uint64_t g = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (g >= n_subs)
        return;
    const lg_kw_track *tr = &t[lg_kw_find(t, n, g, LG_KW_BY_SUB)];
    uint32_t j = (uint32_t)(g - tr->sub_off), done = j + 1;
    const double *e = subs + tr->sub_off;
    if (done >= LG_KW_BLOCK_SUBS)
        blocks[tr->block_off + j - (LG_KW_BLOCK_SUBS - 1)] =
            lg_kw_window_mean(e, j, LG_KW_BLOCK_SUBS);
    if (done >= LG_KW_SHORT_SUBS && (done - LG_KW_SHORT_SUBS) % LG_KW_SHORT_HOP == 0)
        shorts[tr->short_off + (done - LG_KW_SHORT_SUBS) / LG_KW_SHORT_HOP] =
            lg_kw_window_mean(e, j, LG_KW_SHORT_SUBS);
}

/* A non-negative float whose bit pattern orders as an unsigned int; NaN
 * (which the CPU meter's comparisons skip) counts as 0. */
static __device__ unsigned peak_bits(float v)
{
    return v == v ? __float_as_uint(v) : 0u;
}

/* One block per tile of LG_KW_TILE_FRAMES frames of one track. Every lane of
 * a warp runs the same iterations, as the warp reductions require. */
__global__ void k_peaks(const lg_kw_track *t, uint32_t n, const float *pcm, unsigned *sp,
                        unsigned *tp)
{
    __shared__ unsigned s_sp[64], s_tp[64];
    const lg_kw_track *tr = &t[lg_kw_find(t, n, blockIdx.x, LG_KW_BY_TILE)];
    uint32_t nch = tr->channels;
    for (uint32_t c = threadIdx.x; c < nch; c += blockDim.x) {
        s_sp[c] = 0;
        s_tp[c] = 0;
    }
    __syncthreads();
    const float *x = pcm + tr->pcm_off;
    uint64_t f0 = (blockIdx.x - tr->tile_off) * (uint64_t)LG_KW_TILE_FRAMES;
    bool lane0 = (threadIdx.x & 31) == 0;
    for (uint32_t i = 0; i < LG_KW_TILE_FRAMES; i += THREADS) {
        uint64_t f = f0 + i + threadIdx.x;
        bool in = f < tr->frames;
        for (uint32_t c = 0; c < nch; c++) {
            float a = in ? fabsf(x[f * nch + c]) : 0.0f;
            float p = in ? lg_kw_tp_frame(c_tp_coef, x, f, c, nch) : 0.0f;
            unsigned ua = __reduce_max_sync(0xffffffffu, peak_bits(a));
            unsigned up = __reduce_max_sync(0xffffffffu, peak_bits(p));
            if (lane0) {
                atomicMax(&s_sp[c], ua);
                atomicMax(&s_tp[c], up);
            }
        }
    }
    __syncthreads();
    for (uint32_t c = threadIdx.x; c < nch; c += blockDim.x) {
        atomicMax(&sp[tr->chan_off + c], s_sp[c]);
        atomicMax(&tp[tr->chan_off + c], s_tp[c]);
    }
}

/* One warp per waveform bucket: each lane takes every 32nd sample of the
 * bucket (lg_kw_wave_part), then the warp combines the lanes' peaks and
 * sums. A warp past the last bucket leaves as a whole. */
__global__ void k_wave(const lg_kw_track *t, uint32_t n, uint64_t waves, const float *pcm,
                       float *peak, double *sumsq)
{
    uint64_t w = ((uint64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    uint32_t lane = threadIdx.x & 31;
    if (w >= waves)
        return;
    const lg_kw_track *tr = &t[lg_kw_find(t, n, w, LG_KW_BY_WAVE)];
    float p;
    double sq;
    lg_kw_wave_part(tr, pcm, (uint32_t)(w - tr->wave_off), lane, 32, &p, &sq);
    unsigned pb = __reduce_max_sync(0xffffffffu, peak_bits(p));
    for (int off = 16; off > 0; off >>= 1)
        sq += __shfl_down_sync(0xffffffffu, sq, off);
    if (lane == 0) {
        peak[w] = __uint_as_float(pb);
        sumsq[w] = sq;
    }
}

/* 16-bit PCM, uploaded as it is, made float on the device. */
__global__ void k_from_s16(const int16_t *in, float *out, uint64_t n)
{
    uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = lg_pcm_s16(in[i]);
}

/* ---- host side ---- */

/* Sizes of the largest chunk, per array (s16: of a chunk with 16-bit PCM). */
struct sizes {
    uint64_t pcm, items, sums, res, chans, tracks, waves, s16;
};

/* One set of buffers and a stream: two of them alternate between chunks. */
struct set {
    cudaStream_t stream;
    cudaEvent_t ev[4]; /* before upload, after upload, after kernels, after download */
    float *d_pcm;
    int16_t *d_s16; /* 16-bit PCM as uploaded, at the offsets of d_pcm */
    lg_kw_track *d_tracks;
    double *d_zs, *d_states, *d_sums, *d_res;
    unsigned *d_peaks;
    float *d_wpeak;        /* waveform bucket peaks ... */
    double *d_wsq;         /* ... and sums of squares */
    lg_kw_track *h_tracks; /* page-locked */
    double *h_res;         /* page-locked: subs, blocks, shorts */
    float *h_peaks;        /* page-locked: sample peaks, true peaks */
    float *h_wpeak;        /* page-locked: waveform */
    double *h_wsq;
    long chunk; /* in flight, or -1 */
};

struct run {
    const lg_cuda_chunk *chunks;
    lg_cuda_chunk_fn *fn;
    void *ctx;
    lg_dsp_batch_stats *stats;
    char *err;
    size_t err_cap;
    set sets[2];
};

/* Maps a CUDA error to ours, with its text in r->err. */
static int fail(run *r, const char *what, cudaError_t e)
{
    snprintf(r->err, r->err_cap, "%s: %s", what, cudaGetErrorString(e));
    return e == cudaErrorMemoryAllocation ? -ENOMEM : -EIO;
}

#define TRY(r, what, call)                \
    do {                                  \
        cudaError_t e_ = (call);          \
        if (e_ != cudaSuccess)            \
            return fail((r), (what), e_); \
    } while (0)

static sizes max_sizes(const lg_cuda_chunk *chunks, size_t n)
{
    sizes m = {};
    for (size_t i = 0; i < n; i++) {
        const lg_kw_cursor &c = chunks[i].cur;
        uint64_t res = c.subs + c.blocks + c.shorts;
        m.pcm = c.pcm > m.pcm ? c.pcm : m.pcm;
        m.items = c.items > m.items ? c.items : m.items;
        m.sums = c.sums > m.sums ? c.sums : m.sums;
        m.res = res > m.res ? res : m.res;
        m.chans = c.chans > m.chans ? c.chans : m.chans;
        m.tracks = chunks[i].n_tracks > m.tracks ? chunks[i].n_tracks : m.tracks;
        m.waves = c.waves > m.waves ? c.waves : m.waves;
        for (uint32_t k = 0; k < chunks[i].n_tracks; k++)
            if (chunks[i].pcm[k].s16)
                m.s16 = c.pcm > m.s16 ? c.pcm : m.s16;
    }
    return m;
}

/* cudaMalloc of n elements (at least one, so that empty chunks have valid
 * pointers). */
template <typename T> static cudaError_t dev_alloc(T **p, uint64_t n)
{
    return cudaMalloc((void **)p, (n ? n : 1) * sizeof(T));
}

template <typename T> static cudaError_t host_alloc(T **p, uint64_t n)
{
    return cudaMallocHost((void **)p, (n ? n : 1) * sizeof(T));
}

static int set_init(run *r, set *s, const sizes &m)
{
    s->chunk = -1;
    TRY(r, "cudaStreamCreate", cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    for (int i = 0; i < 4; i++)
        TRY(r, "cudaEventCreate", cudaEventCreate(&s->ev[i]));
    TRY(r, "cudaMalloc", dev_alloc(&s->d_pcm, m.pcm));
    if (m.s16)
        TRY(r, "cudaMalloc", dev_alloc(&s->d_s16, m.s16));
    TRY(r, "cudaMalloc", dev_alloc(&s->d_tracks, m.tracks));
    TRY(r, "cudaMalloc", dev_alloc(&s->d_zs, m.items * 4));
    TRY(r, "cudaMalloc", dev_alloc(&s->d_states, m.items * 4));
    TRY(r, "cudaMalloc", dev_alloc(&s->d_sums, m.sums));
    TRY(r, "cudaMalloc", dev_alloc(&s->d_res, m.res));
    TRY(r, "cudaMalloc", dev_alloc(&s->d_peaks, m.chans * 2));
    TRY(r, "cudaMallocHost", host_alloc(&s->h_tracks, m.tracks));
    TRY(r, "cudaMallocHost", host_alloc(&s->h_res, m.res));
    TRY(r, "cudaMallocHost", host_alloc(&s->h_peaks, m.chans * 2));
    if (m.waves) {
        TRY(r, "cudaMalloc", dev_alloc(&s->d_wpeak, m.waves));
        TRY(r, "cudaMalloc", dev_alloc(&s->d_wsq, m.waves));
        TRY(r, "cudaMallocHost", host_alloc(&s->h_wpeak, m.waves));
        TRY(r, "cudaMallocHost", host_alloc(&s->h_wsq, m.waves));
    }
    return 0;
}

/* Releases what set_init() made (all pointers start NULL). */
static void set_free(set *s)
{
    if (s->stream) {
        cudaStreamSynchronize(s->stream);
        cudaStreamDestroy(s->stream);
    }
    for (int i = 0; i < 4; i++) {
        if (s->ev[i])
            cudaEventDestroy(s->ev[i]);
    }
    cudaFree(s->d_pcm);
    cudaFree(s->d_s16);
    cudaFree(s->d_tracks);
    cudaFree(s->d_zs);
    cudaFree(s->d_states);
    cudaFree(s->d_sums);
    cudaFree(s->d_res);
    cudaFree(s->d_peaks);
    cudaFreeHost(s->h_tracks);
    cudaFreeHost(s->h_res);
    cudaFreeHost(s->h_peaks);
    cudaFree(s->d_wpeak);
    cudaFree(s->d_wsq);
    cudaFreeHost(s->h_wpeak);
    cudaFreeHost(s->h_wsq);
}

static unsigned grid_of(uint64_t n)
{
    return (unsigned)((n + THREADS - 1) / THREADS);
}

/* Queues the kernels of chunk ch on s (its plan and PCM already queued). */
static int launch(run *r, set *s, const lg_cuda_chunk *ch)
{
    const lg_kw_cursor &c = ch->cur;
    uint32_t n = ch->n_tracks;
    double *subs = s->d_res, *blocks = subs + c.subs, *shorts = blocks + c.blocks;
    unsigned *sp = s->d_peaks, *tp = sp + c.chans;
    cudaStream_t st = s->stream;
    TRY(r, "cudaMemsetAsync", cudaMemsetAsync(s->d_peaks, 0, 2 * c.chans * sizeof(unsigned), st));
    if (c.items) {
        k_zero_state<<<grid_of(c.items), THREADS, 0, st>>>(s->d_tracks, n, c.items, s->d_pcm,
                                                           s->d_zs);
        k_scan<<<c.chans, SCAN_THREADS, 0, st>>>(s->d_tracks, n, s->d_zs, s->d_states);
        k_energy<<<grid_of(c.items), THREADS, 0, st>>>(s->d_tracks, n, c.items, s->d_pcm,
                                                       s->d_states, s->d_sums);
        k_sub_energy<<<grid_of(c.subs), THREADS, 0, st>>>(s->d_tracks, n, c.subs, s->d_sums, subs);
        k_windows<<<grid_of(c.subs), THREADS, 0, st>>>(s->d_tracks, n, c.subs, subs, blocks,
                                                       shorts);
    }
    if (c.tiles)
        k_peaks<<<(unsigned)c.tiles, THREADS, 0, st>>>(s->d_tracks, n, s->d_pcm, sp, tp);
    if (c.waves)
        k_wave<<<grid_of(c.waves * 32), THREADS, 0, st>>>(s->d_tracks, n, c.waves, s->d_pcm,
                                                          s->d_wpeak, s->d_wsq);
    TRY(r, "kernel launch", cudaGetLastError());
    return 0;
}

/* Queues chunk i on s: upload, kernels, download, with events between. */
static int enqueue(run *r, set *s, size_t i)
{
    const lg_cuda_chunk *ch = &r->chunks[i];
    const lg_kw_cursor &c = ch->cur;
    cudaStream_t st = s->stream;
    TRY(r, "cudaEventRecord", cudaEventRecord(s->ev[0], st));
    memcpy(s->h_tracks, ch->tracks, ch->n_tracks * sizeof(lg_kw_track));
    TRY(r, "cudaMemcpyAsync",
        cudaMemcpyAsync(s->d_tracks, s->h_tracks, ch->n_tracks * sizeof(lg_kw_track),
                        cudaMemcpyHostToDevice, st));
    uint64_t bytes = ch->n_tracks * sizeof(lg_kw_track);
    for (uint32_t k = 0; k < ch->n_tracks; k++) {
        uint64_t off = ch->tracks[k].pcm_off;
        uint64_t samples = (uint64_t)ch->tracks[k].frames * ch->tracks[k].channels;
        size_t size = ch->pcm[k].s16 ? sizeof(int16_t) : sizeof(float);
        if (samples)
            TRY(r, "cudaMemcpyAsync",
                ch->pcm[k].s16 ? cudaMemcpyAsync(s->d_s16 + off, ch->pcm[k].s16, samples * size,
                                                 cudaMemcpyHostToDevice, st)
                               : cudaMemcpyAsync(s->d_pcm + off, ch->pcm[k].pcm, samples * size,
                                                 cudaMemcpyHostToDevice, st));
        bytes += samples * size;
    }
    /* 16-bit PCM made float, a launch per run of neighbouring 16-bit tracks
     * once all copies are queued (a kernel between two copies of a stream
     * would hold the second back); counted with the upload. */
    for (uint32_t k = 0; k < ch->n_tracks;) {
        uint32_t e = k;
        while (e < ch->n_tracks && ch->pcm[e].s16)
            e++;
        if (e > k) {
            uint64_t off = ch->tracks[k].pcm_off;
            uint64_t end = ch->tracks[e - 1].pcm_off +
                           (uint64_t)ch->tracks[e - 1].frames * ch->tracks[e - 1].channels;
            if (end > off)
                k_from_s16<<<grid_of(end - off), THREADS, 0, st>>>(s->d_s16 + off, s->d_pcm + off,
                                                                   end - off);
        }
        k = e > k ? e : k + 1;
    }
    TRY(r, "cudaEventRecord", cudaEventRecord(s->ev[1], st));
    int rc = launch(r, s, ch);
    if (rc < 0)
        return rc;
    TRY(r, "cudaEventRecord", cudaEventRecord(s->ev[2], st));
    uint64_t res = c.subs + c.blocks + c.shorts;
    TRY(r, "cudaMemcpyAsync",
        cudaMemcpyAsync(s->h_res, s->d_res, res * sizeof(double), cudaMemcpyDeviceToHost, st));
    TRY(r, "cudaMemcpyAsync",
        cudaMemcpyAsync(s->h_peaks, s->d_peaks, 2 * c.chans * sizeof(unsigned),
                        cudaMemcpyDeviceToHost, st));
    if (c.waves) {
        TRY(r, "cudaMemcpyAsync",
            cudaMemcpyAsync(s->h_wpeak, s->d_wpeak, c.waves * sizeof(float), cudaMemcpyDeviceToHost,
                            st));
        TRY(r, "cudaMemcpyAsync",
            cudaMemcpyAsync(s->h_wsq, s->d_wsq, c.waves * sizeof(double), cudaMemcpyDeviceToHost,
                            st));
    }
    TRY(r, "cudaEventRecord", cudaEventRecord(s->ev[3], st));
    r->stats->bytes_up += bytes;
    s->chunk = (long)i;
    return 0;
}

/* Waits for the chunk in flight on s, adds its times and hands its results
 * to the callback. */
static int finish(run *r, set *s)
{
    if (s->chunk < 0)
        return 0;
    size_t i = (size_t)s->chunk;
    s->chunk = -1;
    TRY(r, "chunk", cudaStreamSynchronize(s->stream));
    float ms[3];
    for (int k = 0; k < 3; k++)
        TRY(r, "cudaEventElapsedTime", cudaEventElapsedTime(&ms[k], s->ev[k], s->ev[k + 1]));
    r->stats->upload_ms += ms[0];
    r->stats->kernels_ms += ms[1];
    r->stats->download_ms += ms[2];
    r->stats->chunks++;
    const lg_kw_cursor &c = r->chunks[i].cur;
    lg_cuda_results res;
    res.subs = s->h_res;
    res.blocks = s->h_res + c.subs;
    res.shorts = s->h_res + c.subs + c.blocks;
    res.sample_peak = s->h_peaks;
    res.true_peak = s->h_peaks + c.chans;
    res.wave_peak = s->h_wpeak;
    res.wave_sumsq = s->h_wsq;
    return r->fn(r->ctx, i, &res);
}

/* Chunk i goes on set i % 2; chunk i - 1 is finished while chunk i runs. */
static int run_chunks(run *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        set *s = &r->sets[i % 2];
        int rc = finish(r, s);
        if (rc == 0)
            rc = enqueue(r, s, i);
        if (rc == 0 && i > 0)
            rc = finish(r, &r->sets[(i - 1) % 2]);
        if (rc < 0)
            return rc;
    }
    return n ? finish(r, &r->sets[(n - 1) % 2]) : 0;
}

extern "C" int lg_cuda_loudness_run(const lg_cuda_chunk *chunks, size_t n_chunks,
                                    const float *tp_coef, lg_cuda_chunk_fn *fn, void *ctx,
                                    lg_dsp_batch_stats *stats, char *err, size_t err_cap)
{
    run r;
    memset(&r, 0, sizeof(r));
    r.chunks = chunks;
    r.fn = fn;
    r.ctx = ctx;
    r.stats = stats;
    r.err = err;
    r.err_cap = err_cap;
    int rc = 0;
    cudaError_t e = cudaSetDevice(lg_cuda_device);
    if (e != cudaSuccess)
        rc = fail(&r, "cudaSetDevice", e);
    e = rc == 0 ? cudaMemcpyToSymbol(c_tp_coef, tp_coef, sizeof(float) * LG_TP_PHASES * LG_TP_TAPS)
                : cudaSuccess;
    if (e != cudaSuccess)
        rc = fail(&r, "cudaMemcpyToSymbol", e);
    sizes m = max_sizes(chunks, n_chunks);
    for (int i = 0; rc == 0 && i < 2; i++)
        rc = set_init(&r, &r.sets[i], m);
    if (rc == 0)
        rc = run_chunks(&r, n_chunks);
    for (int i = 0; i < 2; i++)
        set_free(&r.sets[i]);
    return rc;
}
