/**
 * The FFI symbol table of our kernel library (`ffi/*.c`), the only native library Deno opens: OpenBLAS is
 * loaded and called by that library (`ffi/blas.c`), which serialises its calls across threads. Each
 * parameter carries its C type. Typed arrays are passed as `"buffer"`; sizes are i32 so V8's fast-call path needs no conversion.
 *
 * @module
 */

/** Our kernels; see `ffi/kernels.h` for the shape of every buffer. */
export const KERNEL_SYMBOLS = {
  dbk_abi_version: { parameters: [], result: "i32" },
  dbk_blas_open: {
    parameters: [
      "buffer", // const char *path, NUL-terminated
      "buffer", // char *err
      "i32", // int32_t err_len
    ],
    result: "i32", // int32_t 0 or -1
  },
  dbk_sgemm_nt: {
    parameters: [
      "i32", // int32_t M
      "i32", // int32_t N
      "i32", // int32_t K
      "buffer", // const float *a [M, K]
      "buffer", // const float *b [N, K]
      "buffer", // float *c [M, N]
    ],
    result: "i32", // int32_t 0, or -1 when OpenBLAS is not loaded
  },
  dbk_blas_info: {
    parameters: [
      "i32", // int32_t what: 0 config, 1 core name
      "buffer", // char *buf
      "i32", // int32_t len
    ],
    result: "i32", // int32_t length, or -1
  },
  dbk_activation_codes: {
    parameters: ["buffer"], // int32_t *codes [3]: none, gelu, relu
    result: "void",
  },
  dbk_embed_layernorm: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const int32_t *ids [T]
      "buffer", // const int32_t *positions [T]
      "buffer", // const int32_t *types [T] or NULL (read only with type_emb)
      "i32", // int32_t T
      "buffer", // const float *word_emb [vocab, dim]
      "buffer", // const float *pos_emb [max_pos, dim]
      "buffer", // const float *type_emb [type_vocab, dim] or NULL
      "i32", // int32_t dim
      "buffer", // const float *gamma [dim]
      "buffer", // const float *beta [dim]
      "f32", // float eps
      "buffer", // float *out [T, dim]
    ],
    result: "void",
  },
  dbk_layernorm: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *x [T, dim]
      "i32", // int32_t T
      "i32", // int32_t dim
      "buffer", // const float *gamma [dim]
      "buffer", // const float *beta [dim]
      "f32", // float eps
      "buffer", // float *out [T, dim]
    ],
    result: "void",
  },
  dbk_bias_residual_layernorm: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *x [T, dim]
      "buffer", // const float *bias [dim]
      "buffer", // const float *residual [T, dim]
      "i32", // int32_t T
      "i32", // int32_t dim
      "buffer", // const float *gamma [dim]
      "buffer", // const float *beta [dim]
      "f32", // float eps
      "buffer", // float *out [T, dim]
    ],
    result: "void",
  },
  dbk_bias_residual_layernorm_packed: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *x [T, dim]
      "buffer", // const float *bias [dim]
      "buffer", // const float *residual [T, dim]
      "i32", // int32_t T
      "i32", // int32_t dim
      "buffer", // const float *gamma [dim]
      "buffer", // const float *beta [dim]
      "f32", // float eps
      "buffer", // float *out [T, dim]
      "buffer", // float *xp [dbk_packed_linear_scratch_floats(T, dim)]
    ],
    result: "void",
  },
  dbk_bias_gelu: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // float *x [T, n]
      "i32", // int32_t T
      "i32", // int32_t n
      "buffer", // const float *bias [n]
    ],
    result: "void",
  },
  dbk_bias_add: {
    parameters: [
      "buffer", // float *x [T, n]
      "i32", // int32_t T
      "i32", // int32_t n
      "buffer", // const float *bias [n]
    ],
    result: "void",
  },
  dbk_bias_relu: {
    parameters: [
      "buffer", // float *x [T, n]
      "i32", // int32_t T
      "i32", // int32_t n
      "buffer", // const float *bias [n]
    ],
    result: "void",
  },
  dbk_attention: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *qkv [T, 3*dim]
      "buffer", // const float *qkv_bias [3*dim]
      "buffer", // const int32_t *seq_starts [n_seqs + 1]
      "buffer", // const uint8_t *uniform [n_seqs]
      "i32", // int32_t n_seqs
      "i32", // int32_t n_heads
      "i32", // int32_t head_dim
      "i32", // int32_t bf16 (nonzero: Q, K, V and the probabilities rounded to bf16)
      "buffer", // float *scratch [scratch_floats]
      "i32", // int32_t scratch_floats, >= dbk_attention_scratch_floats(max_len, head_dim)
      "buffer", // float *out [T, dim]
    ],
    result: "void",
  },
  dbk_attention_scratch_floats: {
    parameters: [
      "i32", // int32_t max_len
      "i32", // int32_t head_dim
    ],
    result: "i64", // int64_t
  },
  dbk_linear: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *x [M, K]
      "i32", // int32_t M
      "i32", // int32_t K
      "buffer", // const float *w [N, K]
      "i32", // int32_t N
      "buffer", // float *scratch [dbk_linear_scratch_floats(M, K)]
      "buffer", // float *y [M, N]
    ],
    result: "void",
  },
  dbk_linear_scratch_floats: {
    parameters: [
      "i32", // int32_t M
      "i32", // int32_t K
    ],
    result: "i64", // int64_t
  },
  dbk_packed_panel_width: {
    parameters: [],
    result: "i32", // int32_t
  },
  dbk_pack_weights: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *w [N, K]
      "i32", // int32_t N (a multiple of the panel width)
      "i32", // int32_t K
      "buffer", // float *packed [N * K]
    ],
    result: "void",
  },
  dbk_pack_weights_in_place: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // float *w [N, K], packed in place
      "i32", // int32_t N (a multiple of the panel width)
      "i32", // int32_t K
      "buffer", // float *scratch [scratch_floats]
      "i64", // int64_t scratch_floats (>= panel width * K)
    ],
    result: "void",
  },
  dbk_packed_linear: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *x [M, K], or NULL: scratch holds x packed
      "i32", // int32_t M
      "i32", // int32_t K
      "buffer", // const float *wp [N * K], packed by dbk_pack_weights
      "i32", // int32_t N
      "buffer", // const float *bias [N] or NULL
      "i32", // int32_t activation, a code from dbk_activation_codes
      "buffer", // float *scratch [dbk_packed_linear_scratch_floats(M, K)]
      "buffer", // float *y [M, N]
    ],
    result: "void",
  },
  dbk_packed_linear_scratch_floats: {
    parameters: [
      "i32", // int32_t M
      "i32", // int32_t K
    ],
    result: "i64", // int64_t
  },
  dbk_advise_huge_pages: {
    parameters: [
      "buffer", // void *p
      "i64", // int64_t bytes
    ],
    result: "i32", // int32_t 0 or -1
  },
  dbk_scatter_rows: {
    parameters: [
      "buffer", // const float *src [T, dim]
      "i32", // int32_t T
      "i32", // int32_t dim
      "buffer", // const int32_t *rows [T]
      "buffer", // float *dst [R, dim]
    ],
    result: "void",
  },
  dbk_lowp_path_supported: {
    parameters: [
      "i32", // int32_t dtype: DBK_DTYPE_BF16 1, DBK_DTYPE_Q8 2
      "i32", // int32_t path: DBK_PATH_*
    ],
    result: "i32", // int32_t 1 when this CPU runs it
  },
  dbk_lowp_best_path: {
    parameters: ["i32"], // int32_t dtype
    result: "i32", // int32_t path, -1 for an unknown dtype
  },
  dbk_lowp_packed_elems: {
    parameters: ["i32", "i32"], // int32_t N, int32_t K
    result: "i64", // int64_t Np * Kp
  },
  dbk_pack_bf16: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *w [N, K]
      "i32", // int32_t N
      "i32", // int32_t K
      "buffer", // uint16_t *wp [Np * Kp]
    ],
    result: "void",
  },
  dbk_pack_bf16_bits: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const uint16_t *w [N, K] bf16 bits
      "i32", // int32_t N
      "i32", // int32_t K
      "buffer", // uint16_t *wp [Np * Kp]
    ],
    result: "void",
  },
  dbk_pack_q8: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *w [N, K]
      "i32", // int32_t N
      "i32", // int32_t K
      "buffer", // uint8_t *wq [Np * Kp]
      "buffer", // float *scale [Np]
    ],
    result: "void",
  },
  dbk_lowp_scratch_bytes: {
    parameters: ["i32", "i32", "i32", "i32"], // int32_t dtype, int32_t path, int32_t M, int32_t K
    result: "i64", // int64_t bytes
  },
  dbk_bf16_linear: {
    parameters: [
      "i32", // int32_t threads
      "i32", // int32_t path
      "buffer", // const float *x [M, K]
      "i32", // int32_t M
      "i32", // int32_t K
      "buffer", // const uint16_t *wp (packed)
      "i32", // int32_t N
      "buffer", // const float *bias [N] or NULL
      "i32", // int32_t activation
      "buffer", // uint8_t *scratch
      "buffer", // float *y [M, N]
    ],
    result: "void",
  },
  dbk_q8_linear: {
    parameters: [
      "i32", // int32_t threads
      "i32", // int32_t path
      "buffer", // const float *x [M, K]
      "i32", // int32_t M
      "i32", // int32_t K
      "buffer", // const uint8_t *wq (packed)
      "buffer", // const float *scale [Np]
      "i32", // int32_t N
      "buffer", // const float *bias [N] or NULL
      "i32", // int32_t activation
      "buffer", // uint8_t *scratch
      "buffer", // float *y [M, N]
    ],
    result: "void",
  },
  dbk_bf16_ffn_scratch_bytes: {
    parameters: ["i32", "i32", "i32", "i32"], // int32_t path, int32_t M, int32_t K, int32_t H
    result: "i64", // int64_t bytes
  },
  dbk_bf16_ffn: {
    parameters: [
      "i32", // int32_t threads
      "i32", // int32_t path
      "buffer", // const float *x [M, K]
      "i32", // int32_t M
      "i32", // int32_t K
      "buffer", // const uint16_t *w1 (packed [H, K])
      "i32", // int32_t H
      "buffer", // const float *b1 [H] or NULL
      "i32", // int32_t activation
      "buffer", // const uint16_t *w2 (packed [N, H])
      "i32", // int32_t N
      "buffer", // const float *b2 [N] or NULL
      "buffer", // uint8_t *scratch
      "buffer", // float *y [M, N]
    ],
    result: "void",
  },
  dbk_packed_ffn_scratch_floats: {
    parameters: ["i32", "i32", "i32"], // int32_t M, int32_t K, int32_t H
    result: "i64", // int64_t floats
  },
  dbk_packed_ffn: {
    parameters: [
      "i32", // int32_t threads
      "buffer", // const float *x [M, K] or NULL
      "buffer", // const float *xp [dbk_packed_linear_scratch_floats(M, K)] when x is NULL, else NULL
      "i32", // int32_t M
      "i32", // int32_t K
      "buffer", // const float *w1 [H * K], packed by dbk_pack_weights
      "i32", // int32_t H
      "buffer", // const float *b1 [H] or NULL
      "i32", // int32_t activation, a code from dbk_activation_codes
      "buffer", // const float *w2 [N * H], packed by dbk_pack_weights
      "i32", // int32_t N
      "buffer", // const float *b2 [N] or NULL
      "buffer", // float *scratch [dbk_packed_ffn_scratch_floats(M, K, H)]
      "buffer", // float *y [M, N]
    ],
    result: "void",
  },
  dbk_gather_rows: {
    parameters: [
      "buffer", // const float *src [R, dim]
      "i32", // int32_t T
      "i32", // int32_t dim
      "buffer", // const int32_t *rows [T]
      "buffer", // float *dst [T, dim]
    ],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** Must equal `DBK_ABI_VERSION` in `ffi/kernels.h`. */
export const KERNEL_ABI_VERSION = 13;
