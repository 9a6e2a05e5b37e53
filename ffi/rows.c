#include <string.h>

#include "kernels.h"

void dbk_scatter_rows(const float *src, int32_t T, int32_t dim, const int32_t *rows, float *dst) {
    for (int32_t t = 0; t < T; t++) {
        memcpy(dst + (int64_t)rows[t] * dim, src + (int64_t)t * dim, sizeof(float) * (size_t)dim);
    }
}

void dbk_gather_rows(const float *src, int32_t T, int32_t dim, const int32_t *rows, float *dst) {
    for (int32_t t = 0; t < T; t++) {
        memcpy(dst + (int64_t)t * dim, src + (int64_t)rows[t] * dim, sizeof(float) * (size_t)dim);
    }
}
