#include <math.h>
#include <stddef.h>

#include "kernels.h"
#include "packed.h"
#include "pool.h"

// One row: out = (x - mean) / sqrt(var + eps) * gamma + beta, var biased as torch's layer_norm.
// Two passes, accumulated in double over 16 independent lanes (so the compiler vectorises them without
// reassociating anything) and combined at the end: exact enough that float32 drift comes only from the
// output, and no longer a chain of dependent scalar adds.
#define LANES 16
static void layernorm_row(const float *x, int32_t dim, const float *gamma, const float *beta, float eps,
                          float *out) {
    double acc[LANES] = {0};
    int32_t i = 0;
    for (; i + LANES <= dim; i += LANES) {
        for (int l = 0; l < LANES; l++) acc[l] += x[i + l];
    }
    double sum = 0.0;
    for (; i < dim; i++) sum += x[i];
    for (int l = 0; l < LANES; l++) sum += acc[l];
    const double mean = sum / dim;

    double sq[LANES] = {0};
    i = 0;
    for (; i + LANES <= dim; i += LANES) {
        for (int l = 0; l < LANES; l++) {
            const double d = x[i + l] - mean;
            sq[l] += d * d;
        }
    }
    double var = 0.0;
    for (; i < dim; i++) {
        const double d = x[i] - mean;
        var += d * d;
    }
    for (int l = 0; l < LANES; l++) var += sq[l];
    const float rstd = (float)(1.0 / sqrt(var / dim + (double)eps));
    const float m = (float)mean;
    for (i = 0; i < dim; i++) out[i] = (x[i] - m) * rstd * gamma[i] + beta[i];
}

#define LN_MIN_ELEMS_PER_TASK 32768

struct ln_job {
    const float *x, *bias, *residual, *gamma, *beta;
    float *out, *xp; // xp: NULL, or out again in the packed linears' x layout
    int32_t T, dim, rows_per_task;
    float eps;
};

static void ln_row_range(const struct ln_job *j, int32_t t0, int32_t t1) {
    const int32_t dim = j->dim;
    for (int32_t t = t0; t < t1; t++) {
        const float *xr = j->x + (int64_t)t * dim;
        float *o = j->out + (int64_t)t * dim;
        if (j->bias) {
            const float *rr = j->residual + (int64_t)t * dim;
            // Same order as torch: (linear output incl. bias) + residual.
            for (int32_t i = 0; i < dim; i++) o[i] = (xr[i] + j->bias[i]) + rr[i];
            xr = o;
        }
        layernorm_row(xr, dim, j->gamma, j->beta, j->eps, o);
    }
}

// Rows t0 .. t1 (t0 a multiple of MR when packing): with xp, each panel of MR rows is packed as soon as its
// rows are done, while they are still in L1, instead of the next linear reading all of out back to pack it.
static void ln_rows(const struct ln_job *j, int32_t t0, int32_t t1) {
    if (!j->xp) {
        ln_row_range(j, t0, t1);
        return;
    }
    for (int32_t p0 = t0; p0 < t1; p0 += MR) {
        ln_row_range(j, p0, p0 + MR < t1 ? p0 + MR : t1);
        dbk_pack_x_panel(j->out, j->T, j->dim, p0 / MR, j->xp);
    }
}

static void ln_task(void *ctx, int32_t task, int32_t slot) {
    (void)slot;
    const struct ln_job *j = ctx;
    const int32_t t0 = task * j->rows_per_task;
    const int32_t t1 = j->T - t0 < j->rows_per_task ? j->T : t0 + j->rows_per_task;
    ln_rows(j, t0, t1);
}

static void ln_run(int32_t threads, struct ln_job *j) {
    const int64_t total = (int64_t)j->T * j->dim;
    threads = dbk_clamp_threads(threads);
    if (threads <= 1 || total < 2 * LN_MIN_ELEMS_PER_TASK || j->T < 2) {
        ln_rows(j, 0, j->T);
        return;
    }
    int64_t tasks = total / LN_MIN_ELEMS_PER_TASK;
    if (tasks > 4 * threads) tasks = 4 * threads;
    if (tasks > j->T) tasks = j->T;
    j->rows_per_task = (int32_t)((j->T + tasks - 1) / tasks);
    if (j->xp) j->rows_per_task = (j->rows_per_task + MR - 1) / MR * MR; // a task packs whole panels
    dbk_parallel(threads, ln_task, j, (j->T + j->rows_per_task - 1) / j->rows_per_task);
}

void dbk_layernorm(int32_t threads, const float *x, int32_t T, int32_t dim, const float *gamma, const float *beta,
                   float eps, float *out) {
    struct ln_job j = {x, NULL, NULL, gamma, beta, out, NULL, T, dim, T, eps};
    ln_run(threads, &j);
}

void dbk_bias_residual_layernorm(int32_t threads, const float *x, const float *bias, const float *residual, int32_t T,
                                 int32_t dim, const float *gamma, const float *beta, float eps,
                                 float *out) {
    struct ln_job j = {x, bias, residual, gamma, beta, out, NULL, T, dim, T, eps};
    ln_run(threads, &j);
}

void dbk_bias_residual_layernorm_packed(int32_t threads, const float *x, const float *bias, const float *residual,
                                        int32_t T, int32_t dim, const float *gamma, const float *beta, float eps,
                                        float *out, float *xp) {
    struct ln_job j = {x, bias, residual, gamma, beta, out, xp, T, dim, T, eps};
    ln_run(threads, &j);
}
