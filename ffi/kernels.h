// Kernels for the DistilBERT encoder, called from TypeScript through Deno FFI.
//
// Conventions shared by every function here:
// - Activations are packed: T rows (real tokens of every sequence, padding removed), row-major.
// - Sizes are int32_t because that is what V8's fast FFI path passes without conversion.
// - The TypeScript layer (src/backend.ts, class Backend) is the only caller. These functions trust their
//   arguments and do no checks, so a bad call from anywhere else is undefined behaviour. Before every
//   call Backend checks:
//   1. every size argument (T, dim, n, n_seqs, n_heads, head_dim) is an integer in [1, 2^31 - 1], and
//      so are the products the C side forms as 32-bit values (n_heads * head_dim, n_seqs * n_heads);
//   2. every buffer holds at least the number of elements its shape comment below says (T from
//      seq_starts[n_seqs] for attention), float buffers as Float32Array, index buffers as Int32Array;
//   3. every index is in range: ids[t] < vocab, positions[t] < max_pos, rows[t] < R, all >= 0;
//   4. seq_starts starts at >= 0 and never decreases (zero-length sequences are allowed);
//   5. attention's scratch_floats is at most scratch's length and at least
//      dbk_attention_scratch_floats(longest sequence, head_dim) (one thread's share) whenever some
//      sequence is non-empty.
//   Buffers may alias only where a comment says so.
// - Threads: a kernel whose first parameter is `threads` may split a large job over that many threads,
//   the caller's included (1 runs everything on the caller; more than 256 counts as 256). Any number of
//   threads may call any kernel at the same time, on buffers that do not overlap: jobs that use the
//   process-wide pool take turns on it (pool.c), and the result is bit-identical for every thread count.
//   Every call returns only when all of its work is done.
// - OpenBLAS is opened by this library (dbk_blas_open) and called only through dbk_sgemm_nt, which
//   serialises every call in the process (some OpenBLAS builds compute wrong results under concurrent
//   sgemm calls) and runs it on one OpenBLAS thread (see dbk_sgemm_nt).
#ifndef DISTILBERT_KERNELS_H
#define DISTILBERT_KERNELS_H

#include <stdint.h>

// Bumped whenever a signature changes so a stale build is detected instead of misused.
#define DBK_ABI_VERSION 13
int32_t dbk_abi_version(void);

// Loads OpenBLAS from `path` (a file name or path, NUL-terminated) for dbk_sgemm_nt, once per process:
// returns 0 when it is loaded (now or by an earlier call, whatever path that one named), else -1 with the
// loader's message copied into err (NUL-terminated, at most err_len bytes).
int32_t dbk_blas_open(const char *path, char *err, int32_t err_len);
// c[M, N] = a[M, K] . b[N, K]^T on OpenBLAS's cblas_sgemm, serialised with every other call, on one
// OpenBLAS thread (set through openblas_set_num_threads when OpenBLAS exposes it): OpenBLAS 0.3.21 splits a
// product between its threads in a way that changes low bits (256 x 37 x 37: 29% of the outputs differ
// between 1 and 2 threads on an AMD EPYC), and every kernel here gives the same result for every thread
// count. Needs dbk_blas_open first (else c is left untouched and -1 returned; 0 on success). a, b, c: must
// not alias.
int32_t dbk_sgemm_nt(int32_t M, int32_t N, int32_t K, const float *a, const float *b, float *c);
// What OpenBLAS says of itself, copied into buf (NUL-terminated, at most len bytes): what = 0 its build
// configuration, 1 the kernel set it chose for this CPU. Returns the string's length, or -1 when OpenBLAS
// is not loaded or does not tell.
int32_t dbk_blas_info(int32_t what, char *buf, int32_t len);

// Activation codes of dbk_packed_linear, written to codes[0..2] as none, gelu, relu: the caller asks
// instead of copying the numbers.
void dbk_activation_codes(int32_t *codes);

// out[t] = LayerNorm(word_emb[ids[t]] + type_emb[types[t]] + pos_emb[positions[t]]), the type term only
// when type_emb is not NULL (then types must be [T]; when it is NULL, types is not read and may be NULL).
// ids, positions, types: [T]; word_emb: [vocab, dim]; pos_emb: [max_pos, dim]; type_emb: [type_vocab, dim];
// out: [T, dim]. Every index must be in range: the caller checks them.
void dbk_embed_layernorm(int32_t threads, const int32_t *ids, const int32_t *positions, const int32_t *types,
                         int32_t T, const float *word_emb, const float *pos_emb, const float *type_emb,
                         int32_t dim, const float *gamma, const float *beta, float eps, float *out);

// out = LayerNorm(x) row by row. x, out: [T, dim] (out may alias x)
void dbk_layernorm(int32_t threads, const float *x, int32_t T, int32_t dim, const float *gamma, const float *beta,
                   float eps, float *out);

// out = LayerNorm(x + bias + residual). x, residual, out: [T, dim]; bias: [dim].
// out may alias x or residual.
void dbk_bias_residual_layernorm(int32_t threads, const float *x, const float *bias, const float *residual, int32_t T,
                                 int32_t dim, const float *gamma, const float *beta, float eps,
                                 float *out);
// The same, and out's rows also written into xp in the form dbk_packed_linear / dbk_packed_ffn take for a
// NULL x (so the linear that reads out next skips packing it). xp: dbk_packed_linear_scratch_floats(T, dim),
// must not alias any other argument.
void dbk_bias_residual_layernorm_packed(int32_t threads, const float *x, const float *bias, const float *residual,
                                        int32_t T, int32_t dim, const float *gamma, const float *beta, float eps,
                                        float *out, float *xp);

// x = gelu(x + bias), exact erf form. x: [T, n]; bias: [n]
void dbk_bias_gelu(int32_t threads, float *x, int32_t T, int32_t n, const float *bias);

// x = x + bias. x: [T, n]; bias: [n]
void dbk_bias_add(float *x, int32_t T, int32_t n, const float *bias);

// x = max(x + bias, 0). x: [T, n]; bias: [n]
void dbk_bias_relu(float *x, int32_t T, int32_t n, const float *bias);

// Multi-head self-attention over packed sequences, with the Q/K/V projection bias and the 1/sqrt(head_dim)
// query scaling applied here.
// qkv: [T, 3*dim] as [q | k | v] per row (dim = n_heads * head_dim); qkv_bias: [3*dim]
// seq_starts: [n_seqs + 1], sequence s owns rows [seq_starts[s], seq_starts[s+1]); T = seq_starts[n_seqs]
// uniform: [n_seqs], 1 where every key of the sequence was masked: Hugging Face then fills every score
//   with the float32 minimum, so the softmax is uniform and each output is the mean of V.
// scratch: [scratch_floats], scratch_floats >= dbk_attention_scratch_floats(max_len, head_dim) for the
//   longest sequence; each multiple of that is one more thread's share (threads used: at most
//   min(threads, scratch_floats / that)).
// bf16: nonzero to round Q, K, V and the probabilities to bf16 for the two products (sums stay fp32), as a
//   bf16 model does; 0 for fp32 throughout.
// out: [T, dim]; rows of empty sequences are untouched.
void dbk_attention(int32_t threads, const float *qkv, const float *qkv_bias, const int32_t *seq_starts,
                   const uint8_t *uniform, int32_t n_seqs, int32_t n_heads, int32_t head_dim, int32_t bf16,
                   float *scratch, int32_t scratch_floats, float *out);
// Scratch floats one thread needs for sequences of up to max_len tokens.
int64_t dbk_attention_scratch_floats(int32_t max_len, int32_t head_dim);

// y = x . w^T without bias, for few rows: reads w in place once (see linear.c for when it beats BLAS).
// x: [M, K]; w: [N, K]; scratch: dbk_linear_scratch_floats(M, K); y: [M, N] (must not alias x or w)
void dbk_linear(int32_t threads, const float *x, int32_t M, int32_t K, const float *w, int32_t N, float *scratch, float *y);
int64_t dbk_linear_scratch_floats(int32_t M, int32_t K);

// Linear layers with weights packed once at load (packed_linear.c): w [N, K] -> panels of PW features,
// packed[p][k][j] = w[p * PW + j][k]. PW = dbk_packed_panel_width() (32 with AVX-512, else 16).
// dbk_pack_weights: w: [N, K], N a multiple of PW; packed: [N * K] (must not alias w).
// dbk_packed_linear: y = act(x . w^T (+ bias when bias is not NULL)), act one of DBK_ACT_*.
//   x: [M, K]; wp: packed [N * K]; bias: [N] or NULL; scratch: dbk_packed_linear_scratch_floats(M, K); y: [M, N] (must not alias
//   x, wp, bias or scratch). Every M from 1 up; threads as for the other kernels. x NULL: scratch already
//   holds x packed (written by dbk_bias_residual_layernorm_packed) and is only read.
#define DBK_ACT_NONE 0
#define DBK_ACT_GELU 1 // exact (erf) GELU, as dbk_bias_gelu
#define DBK_ACT_RELU 2
int32_t dbk_packed_panel_width(void);
void dbk_pack_weights(int32_t threads, const float *w, int32_t N, int32_t K, float *packed);
// The same in place: w [N, K] becomes its packed form. scratch: [scratch_floats], at least PW * K (one
// panel); each further PW * K lets one more thread help. Does nothing when scratch_floats < PW * K.
void dbk_pack_weights_in_place(int32_t threads, float *w, int32_t N, int32_t K, float *scratch, int64_t scratch_floats);
void dbk_packed_linear(int32_t threads, const float *x, int32_t M, int32_t K, const float *wp, int32_t N, const float *bias,
                       int32_t activation, float *scratch, float *y);
int64_t dbk_packed_linear_scratch_floats(int32_t M, int32_t K);
// y = lin2(act(lin1(x) + b1)) + b2 with both weights packed as above (a transformer's feed-forward block), bit
// for bit as the two dbk_packed_linear calls would give it, but run token block by token block through both
// (the block's hidden layer stays in cache), and lin1's epilogue writes the hidden layer straight into the
// packed form lin2 reads (no [M, H] written row-major and packed again). x: [M, K], or NULL with xp: x
// already packed (dbk_bias_residual_layernorm_packed's xp; xp is not read when x is given); w1: packed
// [H, K]; b1: [H] or NULL; w2: packed [N, H]; b2: [N] or NULL; H and N multiples of PW; scratch:
// dbk_packed_ffn_scratch_floats(M, K, H); y: [M, N] (must not alias any input or scratch).
int64_t dbk_packed_ffn_scratch_floats(int32_t M, int32_t K, int32_t H);
void dbk_packed_ffn(int32_t threads, const float *x, const float *xp, int32_t M, int32_t K, const float *w1, int32_t H,
                    const float *b1, int32_t activation, const float *w2, int32_t N, const float *b2, float *scratch,
                    float *y);

// ---- Reduced precision linear layers (lowp.c; micro-kernels in lowp_x86.c) ----
// y = act(x . w^T + bias) with w stored in bf16 or int8, x converted per call, fp32 out:
// - bf16: x rounded to bf16 (nearest even), products summed in fp32.
// - q8: w int8 per output channel, w[n][k] ~ scale[n] * q[n][k], q in [-127, 127], scale[n] = max_k
//   |w[n][k]| / 127; x quantized per row the same way (symmetric, its own scale per token row); int32 sums;
//   y[t][n] = act(xscale[t] * scale[n] * sum_k qx[t][k] q[n][k] + bias[n]).
// Layout (both): output features in panels of 32, Np = N rounded up to 32, Kp = K rounded up to 64, padding
// zero. bf16: wp[(p * Kp/2 + k/2) * 64 + j * 2 + k % 2] = bf16(w[32p + j][k]);
// q8: wq[(p * Kp/4 + k/4) * 128 + j * 4 + k % 4] = q[32p + j][k] + 128 (unsigned, so VNNI's u8 x s8 dot
// takes the weights as its unsigned side and broadcasts x from memory).
// Paths: each call names the code that runs it, so a caller (or a test) can force any path the CPU has;
// dbk_lowp_best_path is the fastest. Every path gives the same q8 result bit for bit; bf16 paths differ only
// in the order of fp32 additions, and in that the AVX512 and AMX paths take subnormal bf16 inputs (below
// 1.2e-38 in magnitude) as zero, as vdpbf16ps and tdpbf16ps do. GELU (act) is vecmath.h's rational form,
// within 1.1e-6 of the exact one.
#define DBK_DTYPE_BF16 1
#define DBK_DTYPE_Q8 2
#define DBK_PATH_SCALAR 0      // plain C, any CPU: the reference
#define DBK_PATH_AVX2 1        // bf16: widened to fp32 + FMA; q8: vpmaddubsw / vpmaddwd (AVX2)
#define DBK_PATH_AVX_VNNI 2    // q8 only: vpdpbusd on ymm, VEX-encoded (AVX-VNNI)
#define DBK_PATH_VNNI_YMM 3    // q8 only: the AVX-VNNI kernel, EVEX-encoded (AVX512-VNNI + VL)
#define DBK_PATH_AVX512 4      // bf16: vdpbf16ps (AVX512-BF16); q8: vpdpbusd on zmm (AVX512-VNNI)
#define DBK_PATH_AMX 5         // bf16: tdpbf16ps (AMX-BF16); q8: tdpbsud (AMX-INT8); the OS must grant AMX
#define DBK_PATH_COUNT 6
// 1 when this CPU (CPUID, and the OS's saved register state) can run path for dtype, else 0.
int32_t dbk_lowp_path_supported(int32_t dtype, int32_t path);
// The fastest supported path for dtype (DBK_PATH_SCALAR at worst); -1 for an unknown dtype.
int32_t dbk_lowp_best_path(int32_t dtype);
// Elements of the packed weights: Np * Kp.
int64_t dbk_lowp_packed_elems(int32_t N, int32_t K);
// w: [N, K] fp32 -> wp: [Np * Kp] bf16 bits.
void dbk_pack_bf16(int32_t threads, const float *w, int32_t N, int32_t K, uint16_t *wp);
// The same from bf16 bits (a BF16 checkpoint), bits copied unchanged. w: [N, K] uint16.
void dbk_pack_bf16_bits(int32_t threads, const uint16_t *w, int32_t N, int32_t K, uint16_t *wp);
// w: [N, K] fp32 -> wq: [Np * Kp], scale: [Np] (0 for all-zero rows and for padding, NaN for rows holding
// a NaN: their outputs are NaN, as in fp32).
void dbk_pack_q8(int32_t threads, const float *w, int32_t N, int32_t K, uint8_t *wq, float *scale);
// Scratch bytes a call with M rows of K needs on path.
int64_t dbk_lowp_scratch_bytes(int32_t dtype, int32_t path, int32_t M, int32_t K);
// x: [M, K]; wp / wq, scale: packed as above for [N, K]; bias: [N] or NULL; scratch: dbk_lowp_scratch_bytes;
// y: [M, N] (must not alias any input). path must be supported for the dtype (the caller checks). q8: K at
// most 65536, so that int32 sums of 255 * 127 per k cannot overflow.
void dbk_bf16_linear(int32_t threads, int32_t path, const float *x, int32_t M, int32_t K, const uint16_t *wp,
                     int32_t N, const float *bias, int32_t activation, uint8_t *scratch, float *y);
void dbk_q8_linear(int32_t threads, int32_t path, const float *x, int32_t M, int32_t K, const uint8_t *wq,
                   const float *scale, int32_t N, const float *bias, int32_t activation, uint8_t *scratch, float *y);
// y = lin2(act(lin1(x) + b1)) + b2 in bf16 (a transformer's feed-forward block), bit for bit as the two
// dbk_bf16_linear calls would give it, but the hidden layer never leaves bf16: lin1's epilogue writes it
// straight into the strips lin2 reads (no fp32 [M, H] written and converted again), token block by token
// block through both, as dbk_packed_ffn. x: [M, K]; w1: packed
// [H, K]; b1: [H] or NULL; w2: packed [N, H]; b2: [N] or NULL; scratch: dbk_bf16_ffn_scratch_bytes; y: [M, N].
int64_t dbk_bf16_ffn_scratch_bytes(int32_t path, int32_t M, int32_t K, int32_t H);
void dbk_bf16_ffn(int32_t threads, int32_t path, const float *x, int32_t M, int32_t K, const uint16_t *w1,
                  int32_t H, const float *b1, int32_t activation, const uint16_t *w2, int32_t N, const float *b2,
                  uint8_t *scratch, float *y);

// Asks the OS to back the 2 MB-aligned interior of [p, p + bytes) with huge pages (Linux transparent huge
// pages, which the default "madvise" mode grants only where asked). Useful only before the memory is first
// written. Returns 0 (also for a range with no aligned 2 MB page inside), -1 where unsupported or refused.
int32_t dbk_advise_huge_pages(void *p, int64_t bytes);

// dst[rows[t]] = src[t]. src: [T, dim]; rows: [T]; dst: [R, dim] with every rows[t] < R
void dbk_scatter_rows(const float *src, int32_t T, int32_t dim, const int32_t *rows, float *dst);

// dst[t] = src[rows[t]]. src: [R, dim]; rows: [T]; dst: [T, dim]
void dbk_gather_rows(const float *src, int32_t T, int32_t dim, const int32_t *rows, float *dst);

#endif
