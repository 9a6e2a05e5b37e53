#include <math.h>

#include "kernels.h"

// One row: out = (x - mean) / sqrt(var + eps) * gamma + beta, var biased as torch's layer_norm.
// Two passes in double keep the statistics exact enough that float32 drift comes only from the output.
static void layernorm_row(const float *x, int32_t dim, const float *gamma, const float *beta, float eps,
                          float *out) {
    double sum = 0.0;
    for (int32_t i = 0; i < dim; i++) sum += x[i];
    const double mean = sum / dim;
    double sq = 0.0;
    for (int32_t i = 0; i < dim; i++) {
        const double d = x[i] - mean;
        sq += d * d;
    }
    const float rstd = (float)(1.0 / sqrt(sq / dim + (double)eps));
    const float m = (float)mean;
    for (int32_t i = 0; i < dim; i++) out[i] = (x[i] - m) * rstd * gamma[i] + beta[i];
}

void dbk_layernorm(const float *x, int32_t T, int32_t dim, const float *gamma, const float *beta,
                   float eps, float *out) {
    for (int32_t t = 0; t < T; t++) {
        layernorm_row(x + (int64_t)t * dim, dim, gamma, beta, eps, out + (int64_t)t * dim);
    }
}

void dbk_bias_residual_layernorm(const float *x, const float *bias, const float *residual, int32_t T,
                                 int32_t dim, const float *gamma, const float *beta, float eps,
                                 float *out) {
    for (int32_t t = 0; t < T; t++) {
        const float *xr = x + (int64_t)t * dim;
        const float *rr = residual + (int64_t)t * dim;
        float *o = out + (int64_t)t * dim;
        // Same order as torch: (linear output incl. bias) + residual.
        for (int32_t i = 0; i < dim; i++) o[i] = (xr[i] + bias[i]) + rr[i];
        layernorm_row(o, dim, gamma, beta, eps, o);
    }
}
