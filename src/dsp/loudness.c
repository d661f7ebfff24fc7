/* SPDX-License-Identifier: MIT */
/*
 * The streaming loudness meter: ITU-R BS.1770-4 / EBU R128 momentary,
 * short-term and integrated loudness, EBU Tech 3342 loudness range, sample
 * and true peak. Input is cut into chunks of at most CHUNK frames which are
 * de-interleaved into per-channel float buffers that keep LG_TP_TAPS - 1
 * samples of history (for the true-peak interpolator). Each channel is
 * K-weighted in double and its squares summed per 100 ms sub-block; a ring of
 * the last 30 sub-block energies gives momentary (4) and short-term (30)
 * values, and each completed sub-block yields one 400 ms gating block
 * energy and (LRA mode) one 3 s short-term energy, kept in growing lists so
 * album values need no audio. The true-peak kernel has an AVX2+FMA variant
 * chosen at run time and a portable one (kernels_loudness.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp.h"
#include "dsp/kernels_loudness.h"
#include "dsp/loudness_int.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_X86_DISPATCH 1
#else
#define HAVE_X86_DISPATCH 0
#endif

#define CHUNK    1024
#define HIST     (LG_TP_TAPS - 1)
#define RING     30 /* sub-blocks in the short-term window */
#define MAX_CH   64
#define GATE_ABS -70.0
/* Sub-blocks between the short-term values that feed the loudness range:
 * 3 s windows every 1 s (2/3 overlap), as libebur128 does, so that ranges
 * agree with it to 0.1 LU; a 100 ms hop reads up to ~1.5 LU higher on
 * bursty material. */
#define LRA_HOP 10

typedef float tp_kernel_fn(const float *coef, const float *x, size_t n);

struct energy_list {
    double *v;
    size_t len, cap;
};

struct channel {
    double shelf_z[2], hp_z[2];
    double sum_sq;     /* K-weighted squares in the current sub-block */
    float sample_peak; /* linear */
    float true_peak;   /* linear, phases 1..3 only */
    float *buf;        /* HIST history samples, then up to CHUNK new ones */
};

struct lg_loudness {
    int rate_hz, channels;
    unsigned mode;
    int sealed;        /* filled by lg_loudness_from_parts(): takes no audio */
    size_t sub_len;    /* frames per 100 ms sub-block */
    size_t sub_pos;    /* frames in the current sub-block */
    size_t n_subs;     /* completed sub-blocks */
    double ring[RING]; /* energies of the last completed sub-blocks */
    double abs_gate;   /* energy of -70 LUFS */
    struct lg_biquad shelf, hp;
    float tp_coef[LG_TP_PHASES * LG_TP_TAPS];
    tp_kernel_fn *tp_kernel;
    struct energy_list blocks, shorts;
    struct channel ch[];
};

/* Portable true-peak kernel: the largest interpolated magnitude of n samples. */
static float tp_kernel_c(const float *coef, const float *x, size_t n)
{
    float peak = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = lg_tp_peak_at(coef, x + i);
        peak = a > peak ? a : peak;
    }
    return peak;
}

#if HAVE_X86_DISPATCH
/* AVX2 true-peak kernel: 8 consecutive outputs of each phase per step. */
__attribute__((target("avx2,fma"))) static float tp_kernel_avx2(const float *coef, const float *x,
                                                                size_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 vmax = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps();
        for (int k = 0; k < LG_TP_TAPS; k++) {
            __m256 xv = _mm256_loadu_ps(x + i - k);
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(coef[0 * LG_TP_TAPS + k]), xv, a0);
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(coef[1 * LG_TP_TAPS + k]), xv, a1);
            a2 = _mm256_fmadd_ps(_mm256_set1_ps(coef[2 * LG_TP_TAPS + k]), xv, a2);
        }
        vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, a0));
        vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, a1));
        vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, a2));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    float peak = tp_kernel_c(coef, x + i, n - i);
    for (int l = 0; l < 8; l++)
        peak = lanes[l] > peak ? lanes[l] : peak;
    return peak;
}
#endif

static tp_kernel_fn *pick_tp_kernel(unsigned mode)
{
#if HAVE_X86_DISPATCH
    __builtin_cpu_init();
    if (!(mode & LG_LOUDNESS_PORTABLE) && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        return tp_kernel_avx2;
#else
    (void)mode;
#endif
    return tp_kernel_c;
}

struct lg_loudness *lg_loudness_new(int rate_hz, int channels, unsigned mode_flags)
{
    if (rate_hz < 8000 || rate_hz > 768000 || channels < 1 || channels > MAX_CH)
        return NULL;
    struct lg_loudness *m = calloc(1, sizeof(*m) + (size_t)channels * sizeof(m->ch[0]));
    if (!m)
        return NULL;
    m->rate_hz = rate_hz;
    m->channels = channels;
    m->mode = mode_flags;
    m->sub_len = ((size_t)rate_hz + 5) / 10;
    m->abs_gate = lg_loudness_energy(GATE_ABS);
    lg_kweight_design(rate_hz, &m->shelf, &m->hp);
    lg_tp_design(m->tp_coef);
    m->tp_kernel = pick_tp_kernel(mode_flags);
    for (int c = 0; c < channels; c++) {
        m->ch[c].buf = calloc(HIST + CHUNK, sizeof(float));
        if (!m->ch[c].buf) {
            lg_loudness_free(m);
            return NULL;
        }
    }
    return m;
}

void lg_loudness_free(struct lg_loudness *m)
{
    if (!m)
        return;
    for (int c = 0; c < m->channels; c++)
        free(m->ch[c].buf);
    free(m->blocks.v);
    free(m->shorts.v);
    free(m);
}

static int list_push(struct energy_list *l, double e)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        double *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->len++] = e;
    return 0;
}

/* The mean of the last n sub-block energies; missing ones count as silence. */
static double ring_mean(const struct lg_loudness *m, size_t n)
{
    double sum = 0.0;
    size_t have = m->n_subs < n ? m->n_subs : n;
    for (size_t i = 0; i < have; i++)
        sum += m->ring[(m->n_subs - 1 - i) % RING];
    return sum / (double)n;
}

/* Closes a 100 ms sub-block: ring, gating block and short-term energies. */
static int finish_subblock(struct lg_loudness *m)
{
    double e = 0.0;
    for (int c = 0; c < m->channels; c++) {
        e += lg_loudness_channel_weight(m->channels, c) * m->ch[c].sum_sq;
        m->ch[c].sum_sq = 0.0;
        /* Flush denormal filter states so that silence stays fast. */
        for (int s = 0; s < 2; s++) {
            if (fabs(m->ch[c].shelf_z[s]) < 1e-300)
                m->ch[c].shelf_z[s] = 0.0;
            if (fabs(m->ch[c].hp_z[s]) < 1e-300)
                m->ch[c].hp_z[s] = 0.0;
        }
    }
    m->ring[m->n_subs % RING] = e / (double)m->sub_len;
    m->n_subs++;
    m->sub_pos = 0;
    int rc = 0;
    if (m->n_subs >= 4) {
        double block = ring_mean(m, 4);
        if (block >= m->abs_gate)
            rc = list_push(&m->blocks, block);
    }
    if ((m->mode & LG_LOUDNESS_LRA) && m->n_subs >= RING && (m->n_subs - RING) % LRA_HOP == 0) {
        double st = ring_mean(m, RING);
        if (st >= m->abs_gate && list_push(&m->shorts, st) < 0)
            rc = -ENOMEM;
    }
    return rc;
}

/* K-weights n samples of one channel and returns the sum of their squares. */
static double kweight_run(const struct lg_loudness *m, struct channel *ch, const float *x, size_t n)
{
    double s0 = ch->shelf_z[0], s1 = ch->shelf_z[1], h0 = ch->hp_z[0], h1 = ch->hp_z[1];
    double sum = 0.0;
    const struct lg_biquad sh = m->shelf, hp = m->hp;
    for (size_t i = 0; i < n; i++) {
        double zs[2] = { s0, s1 }, zh[2] = { h0, h1 };
        double y = lg_biquad_step(&hp, zh, lg_biquad_step(&sh, zs, x[i]));
        s0 = zs[0];
        s1 = zs[1];
        h0 = zh[0];
        h1 = zh[1];
        sum += y * y;
    }
    ch->shelf_z[0] = s0;
    ch->shelf_z[1] = s1;
    ch->hp_z[0] = h0;
    ch->hp_z[1] = h1;
    return sum;
}

/* kweight_run() of two channels at once: their recursions are independent,
 * so the CPU overlaps the two latency-bound chains (about 1.7x faster). */
static void kweight_run2(const struct lg_loudness *m, struct channel *a, struct channel *b,
                         size_t off, size_t n)
{
    double za[4] = { a->shelf_z[0], a->shelf_z[1], a->hp_z[0], a->hp_z[1] };
    double zb[4] = { b->shelf_z[0], b->shelf_z[1], b->hp_z[0], b->hp_z[1] };
    const float *xa = a->buf + HIST + off, *xb = b->buf + HIST + off;
    const struct lg_biquad sh = m->shelf, hp = m->hp;
    double sa = 0.0, sb = 0.0;
    for (size_t i = 0; i < n; i++) {
        double ya = lg_biquad_step(&hp, za + 2, lg_biquad_step(&sh, za, xa[i]));
        double yb = lg_biquad_step(&hp, zb + 2, lg_biquad_step(&sh, zb, xb[i]));
        sa += ya * ya;
        sb += yb * yb;
    }
    memcpy(a->shelf_z, za, sizeof(a->shelf_z));
    memcpy(a->hp_z, za + 2, sizeof(a->hp_z));
    memcpy(b->shelf_z, zb, sizeof(b->shelf_z));
    memcpy(b->hp_z, zb + 2, sizeof(b->hp_z));
    a->sum_sq += sa;
    b->sum_sq += sb;
}

/* De-interleaves n <= CHUNK frames behind each channel's history. */
static void deinterleave(struct lg_loudness *m, const float *in, size_t n)
{
    int nch = m->channels;
    for (int c = 0; c < nch; c++) {
        float *dst = m->ch[c].buf + HIST;
        for (size_t i = 0; i < n; i++)
            dst[i] = in[i * (size_t)nch + (size_t)c];
    }
}

static void peaks_run(struct lg_loudness *m, size_t n)
{
    for (int c = 0; c < m->channels; c++) {
        struct channel *ch = &m->ch[c];
        const float *x = ch->buf + HIST;
        if (m->mode & (LG_LOUDNESS_SAMPLE_PEAK | LG_LOUDNESS_TRUE_PEAK)) {
            float peak = ch->sample_peak;
            for (size_t i = 0; i < n; i++) {
                float a = fabsf(x[i]);
                peak = a > peak ? a : peak;
            }
            ch->sample_peak = peak;
        }
        if (m->mode & LG_LOUDNESS_TRUE_PEAK) {
            float tp = m->tp_kernel(m->tp_coef, x, n);
            ch->true_peak = tp > ch->true_peak ? tp : ch->true_peak;
        }
        memmove(ch->buf, ch->buf + n, HIST * sizeof(float));
    }
}

/* Measures one chunk of at most CHUNK frames. */
static int add_chunk(struct lg_loudness *m, const float *in, size_t n)
{
    int rc = 0;
    deinterleave(m, in, n);
    for (size_t off = 0; off < n;) {
        size_t seg = m->sub_len - m->sub_pos;
        seg = seg < n - off ? seg : n - off;
        int c = 0;
        for (; c + 1 < m->channels; c += 2)
            kweight_run2(m, &m->ch[c], &m->ch[c + 1], off, seg);
        if (c < m->channels)
            m->ch[c].sum_sq += kweight_run(m, &m->ch[c], m->ch[c].buf + HIST + off, seg);
        m->sub_pos += seg;
        off += seg;
        if (m->sub_pos == m->sub_len && finish_subblock(m) < 0)
            rc = -ENOMEM;
    }
    peaks_run(m, n);
    return rc;
}

int lg_loudness_add(struct lg_loudness *m, const float *interleaved, size_t n_frames)
{
    if (m->sealed)
        return -EINVAL;
    int rc = 0;
    for (size_t off = 0; off < n_frames; off += CHUNK) {
        size_t n = n_frames - off < CHUNK ? n_frames - off : CHUNK;
        if (add_chunk(m, interleaved + off * (size_t)m->channels, n) < 0)
            rc = -ENOMEM;
    }
    return rc;
}

int lg_loudness_momentary(const struct lg_loudness *m, double *out_lufs)
{
    *out_lufs = lg_loudness_lufs(ring_mean(m, 4));
    return 0;
}

int lg_loudness_shortterm(const struct lg_loudness *m, double *out_lufs)
{
    *out_lufs = lg_loudness_lufs(ring_mean(m, RING));
    return 0;
}

/* A run of energies: the gates see the union of several meters' lists. */
struct span {
    const double *v;
    size_t n;
};

/* The mean of the energies >= threshold across spans; -1 if there are none. */
static double gated_mean(const struct span *s, size_t n_spans, double threshold)
{
    double sum = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < n_spans; i++) {
        for (size_t j = 0; j < s[i].n; j++) {
            if (s[i].v[j] >= threshold) {
                sum += s[i].v[j];
                count++;
            }
        }
    }
    return count ? sum / (double)count : -1.0;
}

static double gate_integrated(const struct span *s, size_t n_spans)
{
    double abs_gate = lg_loudness_energy(GATE_ABS);
    double mean = gated_mean(s, n_spans, abs_gate);
    if (mean < 0.0)
        return -HUGE_VAL;
    double rel = mean * 0.1; /* -10 LU */
    mean = gated_mean(s, n_spans, rel > abs_gate ? rel : abs_gate);
    return mean < 0.0 ? -HUGE_VAL : lg_loudness_lufs(mean);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Tech 3342: -70 LUFS and -20 LU gates, then L95 - L10 (percentiles by
 * rounding the rank, as libebur128 does). */
static int gate_range(const struct span *s, size_t n_spans, double *out_lu)
{
    double abs_gate = lg_loudness_energy(GATE_ABS);
    double mean = gated_mean(s, n_spans, abs_gate);
    if (mean < 0.0) {
        *out_lu = 0.0;
        return 0;
    }
    double rel = mean * 0.01; /* -20 LU */
    double gate = rel > abs_gate ? rel : abs_gate;
    size_t total = 0;
    for (size_t i = 0; i < n_spans; i++)
        total += s[i].n;
    double *v = malloc(total * sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < n_spans; i++) {
        for (size_t j = 0; j < s[i].n; j++) {
            if (s[i].v[j] >= gate)
                v[n++] = s[i].v[j];
        }
    }
    qsort(v, n, sizeof(*v), cmp_double);
    double lo = v[(size_t)((double)(n - 1) * 0.10 + 0.5)];
    double hi = v[(size_t)((double)(n - 1) * 0.95 + 0.5)];
    free(v);
    *out_lu = 10.0 * log10(hi / lo);
    return 0;
}

int lg_loudness_gate_integrated(const double *energies, size_t n, double *out_lufs)
{
    struct span s = { energies, n };
    *out_lufs = gate_integrated(&s, 1);
    return 0;
}

int lg_loudness_gate_range(const double *energies, size_t n, double *out_lu)
{
    struct span s = { energies, n };
    return gate_range(&s, 1, out_lu);
}

int lg_loudness_integrated(const struct lg_loudness *m, double *out_lufs)
{
    return lg_loudness_gate_integrated(m->blocks.v, m->blocks.len, out_lufs);
}

int lg_loudness_range(const struct lg_loudness *m, double *out_lu)
{
    if (!(m->mode & LG_LOUDNESS_LRA))
        return -EINVAL;
    return lg_loudness_gate_range(m->shorts.v, m->shorts.len, out_lu);
}

/* Collects the lists of n meters into spans (caller frees *out). */
static int collect(const struct lg_loudness *const *v, size_t n, int shorts, struct span **out)
{
    struct span *s = malloc((n ? n : 1) * sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (shorts && !(v[i]->mode & LG_LOUDNESS_LRA)) {
            free(s);
            return -EINVAL;
        }
        const struct energy_list *l = shorts ? &v[i]->shorts : &v[i]->blocks;
        s[i].v = l->v;
        s[i].n = l->len;
    }
    *out = s;
    return 0;
}

int lg_loudness_integrated_multi(const struct lg_loudness *const *v, size_t n, double *out_lufs)
{
    struct span *s;
    int rc = collect(v, n, 0, &s);
    if (rc < 0)
        return rc;
    *out_lufs = gate_integrated(s, n);
    free(s);
    return 0;
}

int lg_loudness_range_multi(const struct lg_loudness *const *v, size_t n, double *out_lu)
{
    struct span *s;
    int rc = collect(v, n, 1, &s);
    if (rc < 0)
        return rc;
    rc = gate_range(s, n, out_lu);
    free(s);
    return rc;
}

size_t lg_loudness_block_energies(const struct lg_loudness *m, const double **out)
{
    *out = m->blocks.v;
    return m->blocks.len;
}

size_t lg_loudness_shortterm_energies(const struct lg_loudness *m, const double **out)
{
    *out = m->shorts.v;
    return m->shorts.len;
}

static double to_db(double linear)
{
    return linear > 0.0 ? 20.0 * log10(linear) : -HUGE_VAL;
}

/* The largest of field (sample or true peak) over channel ch or all (-1). */
static int peak_of(const struct lg_loudness *m, int ch, int true_peak, double *out_db)
{
    if (ch < -1 || ch >= m->channels)
        return -EINVAL;
    float peak = 0.0f;
    for (int c = ch < 0 ? 0 : ch; c < (ch < 0 ? m->channels : ch + 1); c++) {
        float p = m->ch[c].sample_peak;
        if (true_peak && m->ch[c].true_peak > p)
            p = m->ch[c].true_peak;
        peak = p > peak ? p : peak;
    }
    *out_db = to_db(peak);
    return 0;
}

int lg_loudness_sample_peak(const struct lg_loudness *m, int ch, double *out_dbfs)
{
    if (!(m->mode & LG_LOUDNESS_SAMPLE_PEAK))
        return -EINVAL;
    return peak_of(m, ch, 0, out_dbfs);
}

int lg_loudness_true_peak(const struct lg_loudness *m, int ch, double *out_dbtp)
{
    if (!(m->mode & LG_LOUDNESS_TRUE_PEAK))
        return -EINVAL;
    return peak_of(m, ch, 1, out_dbtp);
}

/* Pushes the energies of v at or above the absolute gate, as finish_subblock
 * does while measuring. */
static int push_gated(struct energy_list *l, const double *v, size_t n, double gate)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] >= gate && list_push(l, v[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

struct lg_loudness *lg_loudness_from_parts(int rate_hz, int channels, unsigned mode_flags,
                                           const struct lg_loudness_parts *p)
{
    struct lg_loudness *m = lg_loudness_new(rate_hz, channels, mode_flags);
    if (!m)
        return NULL;
    m->sealed = 1;
    m->n_subs = p->n_subs;
    for (size_t j = p->n_subs > RING ? p->n_subs - RING : 0; j < p->n_subs; j++)
        m->ring[j % RING] = p->subs[j];
    int rc = push_gated(&m->blocks, p->blocks, p->n_blocks, m->abs_gate);
    if (rc == 0 && (mode_flags & LG_LOUDNESS_LRA))
        rc = push_gated(&m->shorts, p->shorts, p->n_shorts, m->abs_gate);
    if (rc < 0) {
        lg_loudness_free(m);
        return NULL;
    }
    for (int c = 0; c < channels; c++) {
        if (p->sample_peak && (mode_flags & (LG_LOUDNESS_SAMPLE_PEAK | LG_LOUDNESS_TRUE_PEAK)))
            m->ch[c].sample_peak = p->sample_peak[c];
        if (p->true_peak && (mode_flags & LG_LOUDNESS_TRUE_PEAK))
            m->ch[c].true_peak = p->true_peak[c];
    }
    return m;
}
