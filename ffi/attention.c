#include <math.h>
#include <string.h>

#include "kernels.h"
#include "pool.h"
#include "vecmath.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// Attention for one (sequence, head) pair at a time, in blocks of QB queries held across vector lanes
// (QV vectors of DBK_VW lanes; the last block may use one vector). Working on the transposed scores
// S^T[key, query] keeps the softmax free of horizontal reductions and of key masking:
//   S^T[n, QB] = K . Q_block^T     register-blocked: KR keys x QV vectors of queries, over head_dim;
//                                  the per-query max is kept in registers while the scores are stored
//   P^T = exp(S^T - max)           exp specialised for x <= 0 (dbk_vexp_nonpos); sum per lane
//   out = P . V / sum              head_dim >= DBK_VW: R query rows x CV vectors of dims, over keys;
//                                  smaller heads: O^T[hd, QB] = V^T . P^T (dims x query vectors), then
//                                  transposed into out
// bf16 (the model's dtype is bf16): Q, K, V and the probabilities P are rounded to bf16 before the two
// products, which sum their exact products in fp32, so any kernel computes the same numbers up to the order
// of additions. Where the build has AVX512-BF16 and head_dim is a multiple of 32 the products run on
// vdpbf16ps over pairs (qk_bf16, pv_bf16); elsewhere the fp32 kernels take the rounded values.
// One slot of scratch (a thread's share) holds, for n = max_len, nk = n rounded up to KR and
// hdv = head_dim (< DBK_VW) or head_dim rounded up to DBK_VW:
//   k   [nk, hd]   K with bias, zero rows past n
//   v   [n, hdv]   V with bias, zero in the padding dims
//   qt  [hd, QB]   the query block transposed, biased and scaled; lanes past the block's rows zero
//   st  [nk, QB]   scores, then unnormalised probabilities
//   inv [QB]       1 / (sum of the probabilities) per query
//   ot  [hd, QB]   O^T before the write-out (small heads); the mean of V (uniform sequences)
//   q   [n, hd]    Q with bias, scaled
#define QV 2
#define QB (QV * DBK_VW)
#define KR 8
#define PREFETCH_ROWS 8 // how far ahead the copy of Q, K and V prefetches rows
// -DDBK_ATTN_PROFILE keeps the stages below out of line, so that perf attributes time to each one.
#ifdef DBK_ATTN_PROFILE
#define AI static __attribute__((noinline))
#else
#define AI static inline __attribute__((always_inline))
#endif

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static int32_t padded_head(int32_t hd) { return hd < DBK_VW ? hd : (int32_t)round_up(hd, DBK_VW); }

int64_t dbk_attention_scratch_floats(int32_t max_len, int32_t head_dim) {
    const int64_t nk = round_up(max_len, KR), hd = head_dim, hdv = padded_head(head_dim);
    return nk * hd + (int64_t)max_len * hdv + hd * QB + nk * QB + QB + hd * QB + (int64_t)max_len * hd;
}

// f rounded to the nearest bf16 (vecmath.h), as a float.
static inline float round_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u = dbk_bf16_round_bits1(u);
    memcpy(&f, &u, 4);
    return f;
}
static inline dbk_vf round_bf16_v(dbk_vf f) {
    dbk_vu u;
    memcpy(&u, &f, sizeof u);
    u = dbk_bf16_round_bits(u);
    memcpy(&f, &u, sizeof f);
    return f;
}
// Two rows of bf16-valued floats (a, b; b NULL: zeros) -> u32 pairs (a's bf16 low, b's high), n values (a
// multiple of DBK_VW), into out, which may be a itself or end before a and b begin.
static inline void pair_rows(const float *a, const float *b, int32_t n, uint32_t *out) {
    for (int32_t i = 0; i < n; i += DBK_VW) {
        dbk_vu x, y = {0};
        memcpy(&x, a + i, sizeof x);
        if (b) memcpy(&y, b + i, sizeof y);
        const dbk_vu o = (x >> 16) | (y & 0xffff0000u);
        memcpy(out + i, &o, sizeof o);
    }
}

// Walks the cache lines of another (sequence, head) pair's Q, K and V slices, a few per call, to pull
// them towards this core (into L2) while the current pair computes: a head's slices are hd floats in
// rows 3*dim floats apart, a pattern the hardware prefetchers do not follow.
struct prefetcher {
    const char *row, *at, *end;
    int64_t row_bytes;
    int32_t dim_bytes, slice_bytes, rows_left, part;
};

static void pf_start(struct prefetcher *p, const char *first_row, int64_t row_bytes, int32_t dim_bytes,
                     int32_t slice_bytes, int32_t rows) {
    p->row = first_row, p->row_bytes = row_bytes, p->dim_bytes = dim_bytes, p->slice_bytes = slice_bytes;
    p->rows_left = rows, p->part = 0;
    p->at = (const char *)((uintptr_t)first_row & ~(uintptr_t)63);
    p->end = first_row + slice_bytes - 1;
}

static inline void pf_step(struct prefetcher *p, int32_t count) {
    while (count > 0 && p->rows_left > 0) {
        if (p->at > p->end) {
            if (++p->part == 3) {
                p->part = 0;
                p->row += p->row_bytes;
                if (--p->rows_left == 0) return;
            }
            const char *slice = p->row + (int64_t)p->part * p->dim_bytes;
            p->at = (const char *)((uintptr_t)slice & ~(uintptr_t)63);
            p->end = slice + p->slice_bytes - 1;
        }
        __builtin_prefetch(p->at, 0, 2);
        p->at += 64;
        count--;
    }
}

#if defined(__AVX512BF16__) && DBK_VW == 16
#define FAST_BF16 1
// st[j, :] = k[j, :] . q for keys j in [0, nk) from bf16 pairs (k2: [nk, hd / 2] pairs of k, qt2:
// [hd / 2, QB] pairs of the block's queries), and mx the per-lane max over the n real keys, as qk_block.
AI void qk_bf16(const uint32_t *k2, int32_t hd, int32_t n, const uint32_t *qt2, float *st, const int NV,
                dbk_vf *mx, struct prefetcher *pf, int32_t pf_lines) {
    const int32_t hp = hd / 2;
    __m512 m[QV];
    for (int v = 0; v < NV; v++) m[v] = _mm512_set1_ps(-INFINITY);
    for (int32_t j0 = 0; j0 < n; j0 += KR) {
        __m512 acc[KR][QV];
        for (int r = 0; r < KR; r++)
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
        const uint32_t *kj = k2 + (int64_t)j0 * hp;
        for (int32_t i = 0; i < hp; i++) {
            if ((i & 3) == 0) pf_step(pf, pf_lines); // qk_block's pace: one call per 8 of head_dim
            __m512bh q[QV];
            for (int v = 0; v < NV; v++) q[v] = (__m512bh)_mm512_loadu_si512(qt2 + (int64_t)i * QB + v * 16);
            for (int r = 0; r < KR; r++) {
                const __m512bh kb = (__m512bh)_mm512_set1_epi32((int32_t)kj[(int64_t)r * hp + i]);
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], q[v], kb);
            }
        }
        const int32_t valid = n - j0;
        for (int r = 0; r < KR; r++)
            for (int v = 0; v < NV; v++) {
                _mm512_storeu_ps(st + (int64_t)(j0 + r) * QB + v * 16, acc[r][v]);
                if (r < valid) m[v] = _mm512_max_ps(acc[r][v], m[v]);
            }
    }
    for (int v = 0; v < NV; v++) memcpy(&mx[v], &m[v], sizeof m[v]);
}

// out[r0 + r, c0 : c0 + 32] = inv[r0 + r] * sum_j p[j, r0 + r] v[j, c0 : c0 + 32] for r < 8, r0 + r < rows,
// from pairs of keys: pp [ceil(n / 2), QB] (p of keys 2i, 2i + 1 per query), v2 [ceil(n / 2), hdv].
static void pv_bf16(const uint32_t *pp, const uint32_t *v2, int32_t np, int32_t hdv, int32_t c0, int32_t r0,
                    int32_t rows, const float *inv, float *out, int32_t dim) {
    __m512 acc[8][2];
    for (int r = 0; r < 8; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int32_t i = 0; i < np; i++) {
        const __m512bh v0 = (__m512bh)_mm512_loadu_si512(v2 + (int64_t)i * hdv + c0);
        const __m512bh v1 = (__m512bh)_mm512_loadu_si512(v2 + (int64_t)i * hdv + c0 + 16);
        const uint32_t *pi = pp + (int64_t)i * QB + r0;
        for (int r = 0; r < 8; r++) {
            const __m512bh pb = (__m512bh)_mm512_set1_epi32((int32_t)pi[r]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], v0, pb);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], v1, pb);
        }
    }
    for (int r = 0; r < 8 && r0 + r < rows; r++) {
        float *o = out + (int64_t)(r0 + r) * dim + c0;
        const __m512 sc = _mm512_set1_ps(inv[r0 + r]);
        _mm512_storeu_ps(o, _mm512_mul_ps(acc[r][0], sc));
        _mm512_storeu_ps(o + 16, _mm512_mul_ps(acc[r][1], sc));
    }
}
#else
#define FAST_BF16 0
#endif

// st[j, :] = k[j, :] . qt for keys j in [0, nk) (nk = n rounded up to KR; k is zero past n), and mx =
// the per-lane max over the n real keys. NaN scores never win the max; their exp is NaN anyway.
AI void qk_block(const float *k, int32_t hd, int32_t n, const float *qt, float *st, const int NV, dbk_vf *mx,
                struct prefetcher *pf, int32_t pf_lines) {
    dbk_vf m[QV];
    for (int v = 0; v < NV; v++) m[v] = dbk_splat(-INFINITY);
    for (int32_t j0 = 0; j0 < n; j0 += KR) {
        dbk_vf acc[KR][QV];
        for (int r = 0; r < KR; r++)
            for (int v = 0; v < NV; v++) acc[r][v] = dbk_splat(0.0f);
        const float *kj = k + (int64_t)j0 * hd;
#pragma GCC unroll 8
        for (int32_t d = 0; d < hd; d++) {
            if ((d & 7) == 0) pf_step(pf, pf_lines); // a few lines at a time: a burst would stall
            dbk_vf q[QV];
            for (int v = 0; v < NV; v++) q[v] = dbk_loadu(qt + (int64_t)d * QB + v * DBK_VW);
            for (int r = 0; r < KR; r++) {
                const float kd = kj[(int64_t)r * hd + d];
                for (int v = 0; v < NV; v++) acc[r][v] += q[v] * kd;
            }
        }
        const int32_t valid = n - j0;
        for (int r = 0; r < KR; r++) {
            for (int v = 0; v < NV; v++) {
                dbk_storeu(st + (int64_t)(j0 + r) * QB + v * DBK_VW, acc[r][v]);
                if (r < valid) m[v] = dbk_select(acc[r][v] > m[v], acc[r][v], m[v]);
            }
        }
    }
    for (int v = 0; v < NV; v++) mx[v] = m[v];
}

// st[j, :] = exp(st[j, :] - mx) for j < n; inv = 1 / the per-lane sums.
// bf16: the probabilities are stored rounded to bf16 (their sum is of the unrounded ones).
AI void softmax_block(float *st, int32_t n, const dbk_vf *mx, const int NV, float *inv, const int bf16) {
    dbk_vf sum[QV];
    for (int v = 0; v < NV; v++) sum[v] = dbk_splat(0.0f);
    for (int32_t j = 0; j < n; j++) {
        for (int v = 0; v < NV; v++) {
            float *p = st + (int64_t)j * QB + v * DBK_VW;
            const dbk_vf e = dbk_vexp_nonpos(dbk_loadu(p) - mx[v]);
            dbk_storeu(p, bf16 ? round_bf16_v(e) : e);
            sum[v] += e;
        }
    }
    for (int v = 0; v < NV; v++) dbk_storeu(inv + v * DBK_VW, 1.0f / sum[v]);
}

// out[r0 + r, c0 : c0 + CV*DBK_VW] = inv[r0 + r] * sum_j pt[j, r0 + r] v[j, c0 : ...] for r < R with
// r0 + r < rows; only the first hd dims of a row are written.
AI void pv_rows(const float *pt, const float *v, int32_t n, int32_t hdv, int32_t hd, int32_t c0, int32_t r0,
                int32_t rows, const float *inv, float *out, int32_t dim, const int R, const int CV) {
    dbk_vf acc[8][2];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < CV; c++) acc[r][c] = dbk_splat(0.0f);
    const float *vj = v + c0, *pj = pt + r0;
#pragma GCC unroll 4
    for (int32_t j = 0; j < n; j++, vj += hdv, pj += QB) {
        dbk_vf vv[2];
        for (int c = 0; c < CV; c++) vv[c] = dbk_loadu(vj + c * DBK_VW);
        for (int r = 0; r < R; r++) {
            const float p = pj[r];
            for (int c = 0; c < CV; c++) acc[r][c] += vv[c] * p;
        }
    }
    for (int r = 0; r < R && r0 + r < rows; r++) {
        float *o = out + (int64_t)(r0 + r) * dim + c0;
        const float s = inv[r0 + r];
        for (int c = 0; c < CV; c++) {
            const int32_t left = hd - c0 - c * DBK_VW;
            if (left >= DBK_VW)
                dbk_storeu(o + c * DBK_VW, acc[r][c] * s);
            else
                dbk_store_partial(o + c * DBK_VW, acc[r][c] * s, left);
        }
    }
}

// ot[d0 + r, :] = (sum_j v[j, d0 + r] pt[j, :]) * inv for r < DR (small heads, v's row stride hdv).
AI void pv_transposed(const float *pt, const float *v, int32_t n, int32_t hdv, int32_t d0, const float *inv,
                      float *ot, const int DR, const int NV) {
    dbk_vf acc[8][QV];
    for (int r = 0; r < DR; r++)
        for (int c = 0; c < NV; c++) acc[r][c] = dbk_splat(0.0f);
    const float *vj = v + d0, *pj = pt;
    for (int32_t j = 0; j < n; j++, vj += hdv, pj += QB) {
        dbk_vf p[QV];
        for (int c = 0; c < NV; c++) p[c] = dbk_loadu(pj + c * DBK_VW);
        for (int r = 0; r < DR; r++) {
            const float x = vj[r];
            for (int c = 0; c < NV; c++) acc[r][c] += p[c] * x;
        }
    }
    for (int r = 0; r < DR; r++)
        for (int c = 0; c < NV; c++)
            dbk_storeu(ot + (int64_t)(d0 + r) * QB + c * DBK_VW, acc[r][c] * dbk_loadu(inv + c * DBK_VW));
}

#define PVT_CASE(DR)                                                                                        \
    case DR:                                                                                                \
        if (NV == 1)                                                                                        \
            pv_transposed(pt, v, n, hdv, d0, inv, ot, DR, 1);                                               \
        else                                                                                                \
            pv_transposed(pt, v, n, hdv, d0, inv, ot, DR, 2);                                               \
        break;

static void pv_small(const float *pt, const float *v, int32_t n, int32_t hd, int32_t hdv, const float *inv,
                     float *ot, int NV) {
    for (int32_t d0 = 0; d0 < hd; d0 += 8) {
        switch (hd - d0 < 8 ? hd - d0 : 8) {
            PVT_CASE(1)
            PVT_CASE(2)
            PVT_CASE(3)
            PVT_CASE(4)
            PVT_CASE(5)
            PVT_CASE(6)
            PVT_CASE(7)
            PVT_CASE(8)
        }
    }
}

static void pv_wide(const float *pt, const float *v, int32_t n, int32_t hd, int32_t hdv, int32_t rows,
                    const float *inv, float *out, int32_t dim) {
    int32_t c0 = 0;
    for (; c0 + 2 * DBK_VW <= hdv; c0 += 2 * DBK_VW)
        for (int32_t r0 = 0; r0 < rows; r0 += 8) pv_rows(pt, v, n, hdv, hd, c0, r0, rows, inv, out, dim, 8, 2);
    if (c0 < hdv)
        for (int32_t r0 = 0; r0 < rows; r0 += 8) pv_rows(pt, v, n, hdv, hd, c0, r0, rows, inv, out, dim, 8, 1);
}

// qt[d, l] = q[l, d] for l < rows (the block's queries, q: [rows, hd]); lanes from rows to the block's
// vector width are zero. In 4 x 4 blocks transposed in registers, which cost far less than gathers; the
// edges one value at a time.
static void load_qt(const float *q, int32_t hd, int32_t rows, float *qt) {
    const int32_t lanes = rows > DBK_VW ? QB : DBK_VW, r4 = rows / 4 * 4, h4 = hd / 4 * 4;
    for (int32_t l = 0; l < r4; l += 4)
        for (int32_t d = 0; d < h4; d += 4) dbk_transpose4(q + (int64_t)l * hd + d, hd, qt + (int64_t)d * QB + l, QB);
    for (int32_t l = 0; l < rows; l++)
        for (int32_t d = l < r4 ? h4 : 0; d < hd; d++) qt[(int64_t)d * QB + l] = q[(int64_t)l * hd + d];
    if (rows < lanes)
        for (int32_t d = 0; d < hd; d++)
            for (int32_t l = rows; l < lanes; l++) qt[(int64_t)d * QB + l] = 0.0f;
}

struct attn_job {
    const float *qkv, *qkv_bias;
    const int32_t *seq_starts;
    const uint8_t *uniform;
    int32_t n_heads, head_dim, dim, n_tasks, slots, bf16;
    float *scratch;
    int64_t slot_floats;
    float *out;
};

static void attend_one_head(const struct attn_job *job, int32_t s, int32_t head, float *scratch,
                            struct prefetcher *pf) {
    const int32_t start = job->seq_starts[s], n = job->seq_starts[s + 1] - start;
    if (n <= 0) return;
    const int32_t dim = job->dim, hd = job->head_dim;
    const int64_t row = 3 * (int64_t)dim;
    const int32_t off = head * hd;
    const float *qkv = job->qkv + (int64_t)start * row;
    float *out = job->out + (int64_t)start * dim + off;
    const float *bq = job->qkv_bias + off, *bk = job->qkv_bias + dim + off, *bv = job->qkv_bias + 2 * dim + off;
    const int32_t nk = (int32_t)round_up(n, KR), hdv = padded_head(hd);
    float *k = scratch;                   // [nk, hd]
    float *v = k + (int64_t)nk * hd;      // [n, hdv]
    float *qt = v + (int64_t)n * hdv;     // [hd, QB]
    float *st = qt + (int64_t)hd * QB;    // [nk, QB]
    float *inv = st + (int64_t)nk * QB;   // [QB]
    float *ot = inv + QB;                 // [hd, QB]
    float *q = ot + (int64_t)hd * QB;     // [n, hd]

    if (job->uniform[s]) {
        // Every key masked: softmax over equal scores is 1/n each, so each output row is the mean of V.
        float *acc = ot;
        for (int32_t d = 0; d < hd; d++) acc[d] = 0.0f;
        for (int32_t j = 0; j < n; j++)
            for (int32_t d = 0; d < hd; d++) acc[d] += qkv[j * row + 2 * dim + off + d] + bv[d];
        const float inv_n = 1.0f / (float)n;
        for (int32_t i = 0; i < n; i++)
            for (int32_t d = 0; d < hd; d++) out[(int64_t)i * dim + d] = acc[d] * inv_n;
        return;
    }
    // One pass over the sequence's rows for Q, K and V (a head's slices are strided by 3*dim floats, so
    // the next rows are prefetched).
    const float scale = 1.0f / sqrtf((float)hd);
    for (int32_t j = 0; j < n; j++) {
        const float *r = qkv + j * row + off;
        if (j + PREFETCH_ROWS < n) {
            const char *pr = (const char *)(r + PREFETCH_ROWS * row);
            for (int32_t b = 0; b < hd * 4; b += 64) {
                __builtin_prefetch(pr + b);
                __builtin_prefetch(pr + 4 * dim + b);
                __builtin_prefetch(pr + 8 * dim + b);
            }
        }
        float *qr = q + (int64_t)j * hd, *kr = k + (int64_t)j * hd, *vr = v + (int64_t)j * hdv;
        int32_t d = 0;
        if (job->bf16) {
            for (; d + DBK_VW <= hd; d += DBK_VW) {
                dbk_storeu(qr + d, round_bf16_v((dbk_loadu(r + d) + dbk_loadu(bq + d)) * scale));
                dbk_storeu(kr + d, round_bf16_v(dbk_loadu(r + dim + d) + dbk_loadu(bk + d)));
                dbk_storeu(vr + d, round_bf16_v(dbk_loadu(r + 2 * dim + d) + dbk_loadu(bv + d)));
            }
            for (; d < hd; d++) {
                qr[d] = round_bf16((r[d] + bq[d]) * scale);
                kr[d] = round_bf16(r[dim + d] + bk[d]);
                vr[d] = round_bf16(r[2 * dim + d] + bv[d]);
            }
        }
        for (; d + DBK_VW <= hd; d += DBK_VW) {
            dbk_storeu(qr + d, (dbk_loadu(r + d) + dbk_loadu(bq + d)) * scale);
            dbk_storeu(kr + d, dbk_loadu(r + dim + d) + dbk_loadu(bk + d));
            dbk_storeu(vr + d, dbk_loadu(r + 2 * dim + d) + dbk_loadu(bv + d));
        }
        for (; d < hd; d++) {
            qr[d] = (r[d] + bq[d]) * scale;
            kr[d] = r[dim + d] + bk[d];
            vr[d] = r[2 * dim + d] + bv[d];
        }
        for (; d < hdv; d++) vr[d] = 0.0f;
    }
    for (int64_t i = (int64_t)n * hd; i < (int64_t)nk * hd; i++) k[i] = 0.0f;
    const int fast = FAST_BF16 && job->bf16 && hd % 32 == 0;
    const int32_t np = (n + 1) / 2; // key pairs
    if (fast) {
        // In place: k2 [nk, hd / 2] pairs of k over its own rows; v2 [np, hdv] pairs of keys 2i, 2i + 1.
        uint32_t *k2 = (uint32_t *)k, *v2 = (uint32_t *)v;
        // Adjacent k of a row pair up: the high halves of 32 floats, in order, are 16 pairs.
        typedef uint16_t halves __attribute__((vector_size(64)));
        const halves odd = {1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
                            33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
        for (int64_t i = 0; i < (int64_t)nk * hd; i += 32) {
            halves lo, hi;
            memcpy(&lo, k + i, 64);
            memcpy(&hi, k + i + 16, 64);
            const halves o = __builtin_shuffle(lo, hi, odd);
            memcpy(k2 + i / 2, &o, 64);
        }
        for (int32_t i = 0; i < np; i++)
            pair_rows(v + (int64_t)2 * i * hdv, 2 * i + 1 < n ? v + (int64_t)(2 * i + 1) * hdv : NULL, hdv,
                      v2 + (int64_t)i * hdv);
    }

    // Spread the next pair's lines (about 3 * n * (hd / 16 + 1) of them) over this pair's QK steps.
    const int64_t steps = (int64_t)((n + QB - 1) / QB) * (nk / KR) * ((hd + 7) / 8);
    const int32_t pf_lines = (int32_t)((3 * (int64_t)pf->rows_left * (hd / 16 + 1) + steps - 1) / steps);
    for (int32_t i0 = 0; i0 < n; i0 += QB) {
        const int32_t rows = n - i0 < QB ? n - i0 : QB;
        const int NV = rows > DBK_VW ? 2 : 1;
        load_qt(q + (int64_t)i0 * hd, hd, rows, qt);
        dbk_vf mx[QV];
        float *o = out + (int64_t)i0 * dim;
#if FAST_BF16
        if (fast) {
            // qt2 [hd / 2, QB]: pairs of the block's queries, in place over qt; then pp [np, QB]: pairs of
            // keys' probabilities per query, in place over st (rows past n are scores, not probabilities).
            uint32_t *qt2 = (uint32_t *)qt, *pp = (uint32_t *)st;
            for (int32_t i = 0; i < hd / 2; i++)
                pair_rows(qt + (int64_t)2 * i * QB, qt + (int64_t)(2 * i + 1) * QB, QB, qt2 + (int64_t)i * QB);
            // NV a constant in each, and head_dim too for the common 64: compiled for a variable NV every
            // step tested it, and with a variable head_dim the eight keys' row pointers did not fit in
            // registers (reloaded each step); with 64 they are one pointer and constant offsets.
            if (hd == 64 && NV == 2) qk_bf16((const uint32_t *)k, 64, n, qt2, st, 2, mx, pf, pf_lines);
            else if (hd == 64) qk_bf16((const uint32_t *)k, 64, n, qt2, st, 1, mx, pf, pf_lines);
            else if (NV == 2) qk_bf16((const uint32_t *)k, hd, n, qt2, st, 2, mx, pf, pf_lines);
            else qk_bf16((const uint32_t *)k, hd, n, qt2, st, 1, mx, pf, pf_lines);
            if (NV == 2) softmax_block(st, n, mx, 2, inv, 1);
            else softmax_block(st, n, mx, 1, inv, 1);
            for (int32_t i = 0; i < np; i++)
                pair_rows(st + (int64_t)2 * i * QB, 2 * i + 1 < n ? st + (int64_t)(2 * i + 1) * QB : NULL, QB,
                          pp + (int64_t)i * QB);
            for (int32_t c0 = 0; c0 < hd; c0 += 32)
                for (int32_t r0 = 0; r0 < rows; r0 += 8) pv_bf16(pp, (const uint32_t *)v, np, hdv, c0, r0, rows, inv, o, dim);
            continue;
        }
#endif
        if (NV == 2) {
            qk_block(k, hd, n, qt, st, 2, mx, pf, pf_lines);
            softmax_block(st, n, mx, 2, inv, job->bf16);
        } else {
            qk_block(k, hd, n, qt, st, 1, mx, pf, pf_lines);
            softmax_block(st, n, mx, 1, inv, job->bf16);
        }
        if (hd >= DBK_VW) {
            pv_wide(st, v, n, hd, hdv, rows, inv, o, dim);
        } else {
            pv_small(st, v, n, hd, hdv, inv, ot, NV);
            for (int32_t l = 0; l < rows; l++)
                for (int32_t d = 0; d < hd; d++) o[(int64_t)l * dim + d] = ot[(int64_t)d * QB + l];
        }
    }
}

static void attn_task(void *ctx, int32_t task, int32_t slot) {
    const struct attn_job *job = ctx;
    // The task this slot probably runs next (exactly so with one slot; tasks are claimed in order).
    struct prefetcher pf = {0};
    const int32_t next = task + job->slots;
    if (next < job->n_tasks) {
        const int32_t s = next / job->n_heads, h = next % job->n_heads;
        const int32_t start = job->seq_starts[s], n = job->seq_starts[s + 1] - start;
        const int64_t row = 3 * (int64_t)job->dim;
        if (n > 0)
            pf_start(&pf, (const char *)(job->qkv + start * row + (int64_t)h * job->head_dim), row * 4,
                     job->dim * 4, job->head_dim * 4, n);
    }
    attend_one_head(job, task / job->n_heads, task % job->n_heads, job->scratch + slot * job->slot_floats, &pf);
}

// Below this many multiply-adds in the two products, waking a thread costs more than it saves.
#define ATTN_MIN_PARALLEL_MACS 262144

void dbk_attention(int32_t threads, const float *qkv, const float *qkv_bias, const int32_t *seq_starts,
                   const uint8_t *uniform, int32_t n_seqs, int32_t n_heads, int32_t head_dim, int32_t bf16,
                   float *scratch, int32_t scratch_floats, float *out) {
    int32_t max_len = 0;
    int64_t macs = 0;
    for (int32_t s = 0; s < n_seqs; s++) {
        const int32_t n = seq_starts[s + 1] - seq_starts[s];
        if (n > max_len) max_len = n;
        macs += 2 * (int64_t)n * n * head_dim * n_heads;
    }
    if (max_len == 0) return;
    const int64_t slot_floats = dbk_attention_scratch_floats(max_len, head_dim);
    int64_t slots = scratch_floats / slot_floats;
    if (slots > dbk_clamp_threads(threads)) slots = dbk_clamp_threads(threads);
    if (macs < ATTN_MIN_PARALLEL_MACS) slots = 1;
    struct attn_job job = {qkv,         qkv_bias,       seq_starts,      uniform, n_heads, head_dim,
                           n_heads * head_dim, n_seqs * n_heads, (int32_t)slots, bf16 != 0, scratch, slot_floats, out};
    dbk_parallel((int32_t)slots, attn_task, &job, n_seqs * n_heads);
}
