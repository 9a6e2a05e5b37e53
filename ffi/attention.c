#include <math.h>
#include <string.h>

#include "kernels.h"
#include "pool.h"
#include "vecmath.h"

// Attention for one (sequence, head) pair at a time, QR query rows per step:
//   scores[QR, n] = q_block . K^T      register-blocked: QR rows x 2 vectors of keys, over head_dim
//   p = exp(scores - rowmax)            vectorised exp (vecmath.h), padding keys at -inf -> 0
//   out[QR, hd] = (p . V) / rowsum      register-blocked: QR rows x up to 4 chunks of 8 dims, over keys
// One slot of scratch (a thread's share) holds, for n = max_len, np = n rounded up to KB keys and
// hdp = head_dim rounded up to 8:
//   kT [hd, np]  K^T with bias, zero in the padding keys
//   v  [n, hdp]  V with bias, zero in the padding dims
//   p  [QR, np]  scores, then unnormalised probabilities
//   q  [QR, hd]  the query block, biased and scaled
//   acc[QR, hdp] p . V before normalisation
#define QR 4
#define KB (2 * DBK_VW)

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

int64_t dbk_attention_scratch_floats(int32_t max_len, int32_t head_dim) {
    const int64_t np = round_up(max_len, KB), hdp = round_up(head_dim, 8);
    return (int64_t)head_dim * np + (int64_t)max_len * hdp + QR * np + QR * (int64_t)head_dim + QR * hdp;
}

static void qk_block(const float *q, const float *kT, int32_t hd, int32_t np, float *p) {
    for (int32_t j0 = 0; j0 < np; j0 += KB) {
        dbk_vf acc[QR][2];
        for (int r = 0; r < QR; r++) acc[r][0] = acc[r][1] = dbk_splat(0.0f);
        const float *k = kT + j0;
        for (int32_t d = 0; d < hd; d++, k += np) {
            const dbk_vf k0 = dbk_loadu(k), k1 = dbk_loadu(k + DBK_VW);
            for (int r = 0; r < QR; r++) {
                const float qd = q[r * hd + d];
                acc[r][0] += k0 * qd;
                acc[r][1] += k1 * qd;
            }
        }
        for (int r = 0; r < QR; r++) {
            dbk_storeu(p + (int64_t)r * np + j0, acc[r][0]);
            dbk_storeu(p + (int64_t)r * np + j0 + DBK_VW, acc[r][1]);
        }
    }
}

// Softmax numerators in place over np keys (the padding ones already -inf); returns 1 / rowsum in inv.
static void softmax_rows(float *p, int32_t np, float *inv) {
    for (int r = 0; r < QR; r++) {
        float *row = p + (int64_t)r * np;
        dbk_vf m = dbk_loadu(row);
        for (int32_t j = DBK_VW; j < np; j += DBK_VW) {
            const dbk_vf s = dbk_loadu(row + j);
            m = dbk_select(s > m, s, m);
        }
        const float max = dbk_hmax(m);
        dbk_vf sum = dbk_splat(0.0f);
        for (int32_t j = 0; j < np; j += DBK_VW) {
            const dbk_vf e = dbk_vexp(dbk_loadu(row + j) - max);
            dbk_storeu(row + j, e);
            sum += e;
        }
        inv[r] = 1.0f / dbk_hsum(sum);
    }
}

// acc[r, c0 : c0 + 8*CG] = sum_j p[r, j] v[j, c0 : c0 + 8*CG]. With few chunks, two key streams
// (even and odd j) keep enough independent FMA chains in flight.
static inline __attribute__((always_inline)) void pv_chunks(const float *p, int32_t np, const float *v,
                                                            int32_t n, int32_t hdp, int32_t c0,
                                                            const int CG, float *acc_out) {
    enum { U = 2 };
    const int streams = CG >= 4 ? 1 : U;
    dbk_v8 acc[U][QR][4];
    for (int u = 0; u < U; u++)
        for (int r = 0; r < QR; r++)
            for (int c = 0; c < CG; c++) acc[u][r][c] = (dbk_v8){0};
    int32_t j = 0;
    for (; j + streams <= n; j += streams) {
        for (int u = 0; u < streams; u++) {
            const float *vj = v + (int64_t)(j + u) * hdp + c0;
            dbk_v8 vv[4];
            for (int c = 0; c < CG; c++) vv[c] = dbk_loadu8(vj + 8 * c);
            for (int r = 0; r < QR; r++) {
                const float pr = p[(int64_t)r * np + j + u];
                for (int c = 0; c < CG; c++) acc[u][r][c] += vv[c] * pr;
            }
        }
    }
    for (; j < n; j++) {
        const float *vj = v + (int64_t)j * hdp + c0;
        for (int r = 0; r < QR; r++) {
            const float pr = p[(int64_t)r * np + j];
            for (int c = 0; c < CG; c++) acc[0][r][c] += dbk_loadu8(vj + 8 * c) * pr;
        }
    }
    for (int r = 0; r < QR; r++)
        for (int c = 0; c < CG; c++) {
            dbk_v8 a = acc[0][r][c];
            if (streams > 1) a += acc[1][r][c];
            dbk_storeu8(acc_out + (int64_t)r * hdp + c0 + 8 * c, a);
        }
}

struct attn_job {
    const float *qkv, *qkv_bias;
    const int32_t *seq_starts;
    const uint8_t *uniform;
    int32_t n_heads, head_dim, dim;
    float *scratch;
    int64_t slot_floats;
    float *out;
};

static void attend_one_head(const struct attn_job *job, int32_t s, int32_t head, float *scratch) {
    const int32_t start = job->seq_starts[s], n = job->seq_starts[s + 1] - start;
    if (n <= 0) return;
    const int32_t dim = job->dim, hd = job->head_dim;
    const int64_t row = 3 * (int64_t)dim;
    const int32_t off = head * hd;
    const float *qkv = job->qkv + (int64_t)start * row;
    float *out = job->out + (int64_t)start * dim + off;
    const float *bq = job->qkv_bias + off, *bk = job->qkv_bias + dim + off, *bv = job->qkv_bias + 2 * dim + off;
    const int32_t np = (int32_t)round_up(n, KB), hdp = (int32_t)round_up(hd, 8);
    float *kT = scratch;                     // [hd, np]
    float *v = kT + (int64_t)hd * np;        // [n, hdp]
    float *p = v + (int64_t)n * hdp;         // [QR, np]
    float *q = p + (int64_t)QR * np;         // [QR, hd]
    float *acc = q + (int64_t)QR * hd;       // [QR, hdp]

    for (int32_t j = 0; j < n; j++) {
        const float *r = qkv + j * row + 2 * dim + off;
        float *vr = v + (int64_t)j * hdp;
        for (int32_t d = 0; d < hd; d++) vr[d] = r[d] + bv[d];
        for (int32_t d = hd; d < hdp; d++) vr[d] = 0.0f;
    }
    if (job->uniform[s]) {
        // Every key masked: softmax over equal scores is 1/n each, so each output row is the mean of V.
        for (int32_t d = 0; d < hd; d++) acc[d] = 0.0f;
        for (int32_t j = 0; j < n; j++)
            for (int32_t d = 0; d < hd; d++) acc[d] += v[(int64_t)j * hdp + d];
        const float inv = 1.0f / (float)n;
        for (int32_t i = 0; i < n; i++)
            for (int32_t d = 0; d < hd; d++) out[(int64_t)i * dim + d] = acc[d] * inv;
        return;
    }
    for (int32_t d = 0; d < hd; d++) {
        float *kd = kT + (int64_t)d * np;
        for (int32_t j = n; j < np; j++) kd[j] = 0.0f;
    }
    for (int32_t j = 0; j < n; j++) {
        const float *r = qkv + j * row + dim + off;
        for (int32_t d = 0; d < hd; d++) kT[(int64_t)d * np + j] = r[d] + bk[d];
    }

    const float scale = 1.0f / sqrtf((float)hd);
    float inv[QR];
    for (int32_t i0 = 0; i0 < n; i0 += QR) {
        const int32_t rows = n - i0 < QR ? n - i0 : QR;
        for (int32_t r = 0; r < QR; r++) {
            float *qb = q + r * hd;
            if (r >= rows) {
                for (int32_t d = 0; d < hd; d++) qb[d] = 0.0f; // a row past the end: harmless zeros
                continue;
            }
            const float *qr = qkv + (int64_t)(i0 + r) * row + off;
            for (int32_t d = 0; d < hd; d++) qb[d] = (qr[d] + bq[d]) * scale;
        }
        qk_block(q, kT, hd, np, p);
        for (int r = 0; r < QR; r++)
            for (int32_t j = n; j < np; j++) p[(int64_t)r * np + j] = -INFINITY;
        softmax_rows(p, np, inv);
        int32_t c0 = 0;
        for (; c0 + 32 <= hdp; c0 += 32) pv_chunks(p, np, v, n, hdp, c0, 4, acc);
        for (; c0 < hdp; c0 += 8) pv_chunks(p, np, v, n, hdp, c0, 1, acc);
        for (int32_t r = 0; r < rows; r++) {
            float *o = out + (int64_t)(i0 + r) * dim;
            const float *a = acc + (int64_t)r * hdp;
            for (int32_t d = 0; d < hd; d++) o[d] = a[d] * inv[r];
        }
    }
}

static void attn_task(void *ctx, int32_t task, int32_t slot) {
    const struct attn_job *job = ctx;
    attend_one_head(job, task / job->n_heads, task % job->n_heads, job->scratch + slot * job->slot_floats);
}

// Below this many multiply-adds in the two products, waking a thread costs more than it saves.
#define ATTN_MIN_PARALLEL_MACS 262144

void dbk_attention(const float *qkv, const float *qkv_bias, const int32_t *seq_starts,
                   const uint8_t *uniform, int32_t n_seqs, int32_t n_heads, int32_t head_dim,
                   float *scratch, int32_t scratch_floats, float *out) {
    int32_t max_len = 0;
    int64_t macs = 0;
    for (int32_t s = 0; s < n_seqs; s++) {
        const int32_t n = seq_starts[s + 1] - seq_starts[s];
        if (n > max_len) max_len = n;
        macs += 2 * (int64_t)n * n * head_dim * n_heads;
    }
    if (max_len == 0) return;
    struct attn_job job = {qkv,     qkv_bias, seq_starts, uniform, n_heads, head_dim, n_heads * head_dim,
                           scratch, dbk_attention_scratch_floats(max_len, head_dim), out};
    int64_t slots = scratch_floats / job.slot_floats;
    if (slots > dbk_pool_threads()) slots = dbk_pool_threads();
    if (macs < ATTN_MIN_PARALLEL_MACS) slots = 1;
    dbk_parallel(attn_task, &job, n_seqs * n_heads, (int32_t)slots);
}
