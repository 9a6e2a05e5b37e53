#include "kernels.h"
#include "pool.h"
#include "vecmath.h"

// Exact GELU as torch's default: 0.5 * x * (1 + erf(x / sqrt(2))), erf vectorised (see vecmath.h).
static void bias_gelu_rows(float *x, int32_t T, int32_t n, const float *bias) {
    for (int32_t t = 0; t < T; t++) {
        float *r = x + (int64_t)t * n;
        int32_t i = 0;
        for (; i + DBK_VW <= n; i += DBK_VW) dbk_storeu(r + i, dbk_vgelu(dbk_loadu(r + i) + dbk_loadu(bias + i)));
        if (i < n) {
            const int32_t k = n - i;
            dbk_store_partial(r + i, dbk_vgelu(dbk_load_partial(r + i, k, 0.0f) + dbk_load_partial(bias + i, k, 0.0f)), k);
        }
    }
}

// Rows split into this many row blocks at most; a block is worth a thread only when it is large.
#define GELU_MIN_ELEMS_PER_TASK 16384

struct gelu_job {
    float *x;
    int32_t T, n, rows_per_task;
    const float *bias;
};

static void gelu_task(void *ctx, int32_t task, int32_t slot) {
    (void)slot;
    const struct gelu_job *j = ctx;
    const int32_t t0 = task * j->rows_per_task;
    const int32_t rows = j->T - t0 < j->rows_per_task ? j->T - t0 : j->rows_per_task;
    bias_gelu_rows(j->x + (int64_t)t0 * j->n, rows, j->n, j->bias);
}

void dbk_bias_gelu(int32_t threads, float *x, int32_t T, int32_t n, const float *bias) {
    const int64_t total = (int64_t)T * n;
    threads = dbk_clamp_threads(threads);
    if (threads <= 1 || total < 2 * GELU_MIN_ELEMS_PER_TASK || T < 2) {
        bias_gelu_rows(x, T, n, bias);
        return;
    }
    // A few tasks per thread so a thread that starts late still gets a share.
    int64_t tasks = total / GELU_MIN_ELEMS_PER_TASK;
    if (tasks > 4 * threads) tasks = 4 * threads;
    if (tasks > T) tasks = T;
    const int32_t rows_per_task = (int32_t)((T + tasks - 1) / tasks);
    struct gelu_job job = {x, T, n, rows_per_task, bias};
    dbk_parallel(threads, gelu_task, &job, (T + rows_per_task - 1) / rows_per_task);
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
            // NaN propagates as in torch.relu (a comparison-based max would turn it into 0).
            r[i] = v < 0.0f ? 0.0f : v;
        }
    }
}
