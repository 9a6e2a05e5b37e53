#include <math.h>
#include <string.h>

#include "kernels.h"

// Per (sequence, head) the scratch holds q: [n, hd], kT: [hd, n], v: [n, hd], scores: [n]. Laying K out
// transposed lets both products run over a contiguous inner loop the compiler vectorises.
int64_t dbk_attention_scratch_floats(int32_t max_len, int32_t head_dim) {
    return (int64_t)max_len * head_dim * 3 + max_len;
}

static void attend_one_head(const float *qkv, const float *qkv_bias, int32_t n, int32_t dim, int32_t head,
                            int32_t head_dim, int uniform, float *scratch, float *out) {
    const int64_t row = 3 * (int64_t)dim;
    const int32_t off = head * head_dim;
    float *q = scratch;                        // [n, hd]
    float *kT = q + (int64_t)n * head_dim;     // [hd, n]
    float *v = kT + (int64_t)n * head_dim;     // [n, hd]
    float *scores = v + (int64_t)n * head_dim; // [n]
    const float scale = 1.0f / sqrtf((float)head_dim);
    const float *bq = qkv_bias + off, *bk = qkv_bias + dim + off, *bv = qkv_bias + 2 * dim + off;

    for (int32_t j = 0; j < n; j++) {
        const float *r = qkv + j * row;
        for (int32_t d = 0; d < head_dim; d++) {
            q[(int64_t)j * head_dim + d] = (r[off + d] + bq[d]) * scale;
            kT[(int64_t)d * n + j] = r[dim + off + d] + bk[d];
            v[(int64_t)j * head_dim + d] = r[2 * dim + off + d] + bv[d];
        }
    }

    for (int32_t i = 0; i < n; i++) {
        float *o = out + (int64_t)i * dim + off;
        if (uniform) {
            // Every key masked: softmax over equal scores is 1/n each.
            for (int32_t d = 0; d < head_dim; d++) o[d] = 0.0f;
            for (int32_t j = 0; j < n; j++) {
                const float *vj = v + (int64_t)j * head_dim;
                for (int32_t d = 0; d < head_dim; d++) o[d] += vj[d];
            }
            const float inv = 1.0f / (float)n;
            for (int32_t d = 0; d < head_dim; d++) o[d] *= inv;
            continue;
        }
        // scores[j] = q_i . k_j
        const float *qi = q + (int64_t)i * head_dim;
        for (int32_t j = 0; j < n; j++) scores[j] = 0.0f;
        for (int32_t d = 0; d < head_dim; d++) {
            const float qd = qi[d];
            const float *kd = kT + (int64_t)d * n;
            for (int32_t j = 0; j < n; j++) scores[j] += qd * kd[j];
        }
        float max = scores[0];
        for (int32_t j = 1; j < n; j++) max = scores[j] > max ? scores[j] : max;
        float sum = 0.0f;
        for (int32_t j = 0; j < n; j++) {
            scores[j] = expf(scores[j] - max);
            sum += scores[j];
        }
        const float inv = 1.0f / sum;
        // out_i = sum_j softmax_j * v_j
        for (int32_t d = 0; d < head_dim; d++) o[d] = 0.0f;
        for (int32_t j = 0; j < n; j++) {
            const float p = scores[j] * inv;
            const float *vj = v + (int64_t)j * head_dim;
            for (int32_t d = 0; d < head_dim; d++) o[d] += p * vj[d];
        }
    }
}

void dbk_attention(const float *qkv, const float *qkv_bias, const int32_t *seq_starts,
                   const uint8_t *uniform, int32_t n_seqs, int32_t n_heads, int32_t head_dim,
                   float *scratch, float *out) {
    const int32_t dim = n_heads * head_dim;
    for (int32_t s = 0; s < n_seqs; s++) {
        const int32_t start = seq_starts[s], n = seq_starts[s + 1] - start;
        if (n <= 0) continue;
        for (int32_t h = 0; h < n_heads; h++) {
            attend_one_head(qkv + (int64_t)start * 3 * dim, qkv_bias, n, dim, h, head_dim, uniform[s],
                            scratch, out + (int64_t)start * dim);
        }
    }
}
