#include <math.h>

#include "kernels.h"

// Exact GELU as torch's default: 0.5 * x * (1 + erf(x / sqrt(2))).
static inline float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f)); }

void dbk_bias_gelu(float *x, int32_t T, int32_t n, const float *bias) {
    for (int32_t t = 0; t < T; t++) {
        float *r = x + (int64_t)t * n;
        for (int32_t i = 0; i < n; i++) r[i] = gelu_erf(r[i] + bias[i]);
    }
}

void dbk_bias_add(float *x, int32_t T, int32_t n, const float *bias) {
    for (int32_t t = 0; t < T; t++) {
        float *r = x + (int64_t)t * n;
        for (int32_t i = 0; i < n; i++) r[i] += bias[i];
    }
}

void dbk_bias_relu(float *x, int32_t T, int32_t n, const float *bias) {
    for (int32_t t = 0; t < T; t++) {
        float *r = x + (int64_t)t * n;
        for (int32_t i = 0; i < n; i++) {
            const float v = r[i] + bias[i];
            r[i] = v > 0.0f ? v : 0.0f;
        }
    }
}
