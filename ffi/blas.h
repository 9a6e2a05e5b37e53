// Internal to the kernels: the OpenBLAS entry points blas.c calls. Not part of the FFI surface.
#ifndef DISTILBERT_BLAS_H
#define DISTILBERT_BLAS_H

#include <stdint.h>

typedef void (*dbk_cblas_sgemm_fn)(int order, int trans_a, int trans_b, int M, int N, int K, float alpha,
                                   const float *a, int lda, const float *b, int ldb, float beta, float *c,
                                   int ldc);
typedef void (*dbk_set_num_threads_fn)(int n);

// Uses these functions instead of a loaded OpenBLAS (the C tests bind instrumented stand-ins), or
// forgets the current ones when sgemm is NULL.
void dbk_blas_bind(dbk_cblas_sgemm_fn sgemm, dbk_set_num_threads_fn set_threads);

#endif
