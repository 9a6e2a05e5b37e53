/**
 * The FFI symbol tables: one for OpenBLAS, one for our kernels (`ffi/*.c`). Each parameter carries its C
 * type. Typed arrays are passed as `"buffer"`; sizes are i32 so V8's fast-call path needs no conversion.
 *
 * @module
 */

/** OpenBLAS: only what the encoder needs. */
export const OPENBLAS_SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // enum CBLAS_ORDER order (101 = row-major)
      "i32", // enum CBLAS_TRANSPOSE transA (111 = no, 112 = transpose)
      "i32", // enum CBLAS_TRANSPOSE transB
      "i32", // blasint M
      "i32", // blasint N
      "i32", // blasint K
      "f32", // float alpha
      "buffer", // const float *A
      "i32", // blasint lda
      "buffer", // const float *B
      "i32", // blasint ldb
      "f32", // float beta
      "buffer", // float *C
      "i32", // blasint ldc
    ],
    result: "void",
  },
  openblas_set_num_threads: {
    parameters: ["i32"], // int num_threads
    result: "void",
    optional: true,
  },
  openblas_get_num_threads: {
    parameters: [],
    result: "i32", // int
    optional: true,
  },
  openblas_get_config: {
    parameters: [],
    result: "pointer", // char * (static string)
    optional: true,
  },
  openblas_get_corename: {
    parameters: [],
    result: "pointer", // char * (static string)
    optional: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** Our kernels; see `ffi/kernels.h` for the shape of every buffer. */
export const KERNEL_SYMBOLS = {
  dbk_abi_version: { parameters: [], result: "i32" },
  dbk_set_threads: {
    parameters: ["i32"], // int32_t n
    result: "i32", // int32_t threads in use
  },
  dbk_get_threads: { parameters: [], result: "i32" },
  dbk_embed_layernorm: {
    parameters: [
      "buffer", // const int32_t *ids [T]
      "buffer", // const int32_t *positions [T]
      "i32", // int32_t T
      "buffer", // const float *word_emb [vocab, dim]
      "buffer", // const float *pos_emb [max_pos, dim]
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
  dbk_bias_gelu: {
    parameters: [
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
      "buffer", // const float *qkv [T, 3*dim]
      "buffer", // const float *qkv_bias [3*dim]
      "buffer", // const int32_t *seq_starts [n_seqs + 1]
      "buffer", // const uint8_t *uniform [n_seqs]
      "i32", // int32_t n_seqs
      "i32", // int32_t n_heads
      "i32", // int32_t head_dim
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
      "buffer", // const float *w [N, K]
      "i32", // int32_t N (a multiple of the panel width)
      "i32", // int32_t K
      "buffer", // float *packed [N * K]
    ],
    result: "void",
  },
  dbk_pack_weights_in_place: {
    parameters: [
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
      "buffer", // const float *x [M, K]
      "i32", // int32_t M
      "i32", // int32_t K
      "buffer", // const float *wp [N * K], packed by dbk_pack_weights
      "i32", // int32_t N
      "buffer", // const float *bias [N] or NULL
      "i32", // int32_t activation: DBK_ACT_NONE 0, DBK_ACT_GELU 1, DBK_ACT_RELU 2
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
export const KERNEL_ABI_VERSION = 5;
