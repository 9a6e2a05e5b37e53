// Kernels for the DistilBERT encoder, called from TypeScript through Deno FFI.
//
// Conventions shared by every function here:
// - Activations are packed: T rows (real tokens of every sequence, padding removed), row-major.
// - Sizes are int32_t because that is what V8's fast FFI path passes without conversion.
// - The TypeScript layer (src/kernels.ts) is the only caller. It checks, before every call, that each
//   buffer holds at least the number of elements the shape comment says, that every index array's
//   values are in range, and that sizes are positive. These functions trust that and do no checks,
//   so a bad call from anywhere else is undefined behaviour.
#ifndef DISTILBERT_KERNELS_H
#define DISTILBERT_KERNELS_H

#include <stdint.h>

// Bumped whenever a signature changes so a stale build is detected instead of misused.
#define DBK_ABI_VERSION 1
int32_t dbk_abi_version(void);

// out[t] = LayerNorm(word_emb[ids[t]] + pos_emb[positions[t]])
// ids, positions: [T]; word_emb: [vocab, dim]; pos_emb: [max_pos, dim]; out: [T, dim]
void dbk_embed_layernorm(const int32_t *ids, const int32_t *positions, int32_t T,
                         const float *word_emb, const float *pos_emb, int32_t dim,
                         const float *gamma, const float *beta, float eps, float *out);

// out = LayerNorm(x) row by row. x, out: [T, dim] (out may alias x)
void dbk_layernorm(const float *x, int32_t T, int32_t dim, const float *gamma, const float *beta,
                   float eps, float *out);

// out = LayerNorm(x + bias + residual). x, residual, out: [T, dim]; bias: [dim].
// out may alias x or residual.
void dbk_bias_residual_layernorm(const float *x, const float *bias, const float *residual, int32_t T,
                                 int32_t dim, const float *gamma, const float *beta, float eps,
                                 float *out);

// x = gelu(x + bias), exact erf form. x: [T, n]; bias: [n]
void dbk_bias_gelu(float *x, int32_t T, int32_t n, const float *bias);

// x = x + bias. x: [T, n]; bias: [n]
void dbk_bias_add(float *x, int32_t T, int32_t n, const float *bias);

// x = max(x + bias, 0). x: [T, n]; bias: [n]
void dbk_bias_relu(float *x, int32_t T, int32_t n, const float *bias);

// Multi-head self-attention over packed sequences, with the Q/K/V projection bias and the 1/sqrt(head_dim)
// query scaling applied here.
// qkv: [T, 3*dim] as [q | k | v] per row (dim = n_heads * head_dim); qkv_bias: [3*dim]
// seq_starts: [n_seqs + 1], sequence s owns rows [seq_starts[s], seq_starts[s+1])
// uniform: [n_seqs], 1 where every key of the sequence was masked: Hugging Face then fills every score
//   with the float32 minimum, so the softmax is uniform and each output is the mean of V.
// scratch: at least dbk_attention_scratch_floats(max_len, head_dim) floats
// out: [T, dim]
void dbk_attention(const float *qkv, const float *qkv_bias, const int32_t *seq_starts,
                   const uint8_t *uniform, int32_t n_seqs, int32_t n_heads, int32_t head_dim,
                   float *scratch, float *out);
int64_t dbk_attention_scratch_floats(int32_t max_len, int32_t head_dim);

// dst[rows[t]] = src[t]. src: [T, dim]; rows: [T]; dst: [R, dim] with every rows[t] < R
void dbk_scatter_rows(const float *src, int32_t T, int32_t dim, const int32_t *rows, float *dst);

// dst[t] = src[rows[t]]. src: [R, dim]; rows: [T]; dst: [T, dim]
void dbk_gather_rows(const float *src, int32_t T, int32_t dim, const int32_t *rows, float *dst);

#endif
