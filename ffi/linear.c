#include <string.h>

#include "kernels.h"
#include "pool.h"
#include "vecmath.h"

// y[M, N] = x[M, K] . w[N, K]^T for small M (a few hundred tokens at most), reading the weights in their
// checkpoint layout exactly once.
//
// Why not OpenBLAS here: a BLAS call packs the whole weight matrix into its panel layout on every call.
// With M = 32 tokens that copy costs as much as the multiply, and at batch 1 the encoder is bound by
// streaming its 340 MB of weights. Here the multiply is an outer product over k with x transposed once
// (xT: Mp / MB panels of [K, MB], Mp = M rounded up to MB): for a block of NR weight rows and MB tokens,
//   acc[r][0..MB) += w[n0 + r][k] * xT[k][m0 .. m0 + MB)
// so every weight is a broadcast from its own row stream and no horizontal sums are needed.
// Loop order: weight-row blocks outermost (each block, NR x K floats, stays in L1/L2 while every token
// block passes over it), split across the pool's threads.
#define NR 12
#define MB (2 * DBK_VW)

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

int64_t dbk_linear_scratch_floats(int32_t M, int32_t K) { return (int64_t)K * round_up(M, MB); }

// One NRR x MB tile of y^T: rows n0 .. n0 + NRR of w against tokens m0 .. m0 + MB.
static inline __attribute__((always_inline)) void tile(const float *xT, int32_t m0,
                                                       const float *w, int32_t K, const int NRR,
                                                       int32_t M, int32_t N, int32_t n0, float *y) {
    dbk_vf acc[NR][2];
    for (int r = 0; r < NRR; r++) acc[r][0] = acc[r][1] = dbk_splat(0.0f);
    const float *xk = xT + (int64_t)m0 * K; // panel m0 / MB: [K, MB], contiguous over k
    const float *wk = w + (int64_t)n0 * K;
    for (int32_t k = 0; k < K; k++, xk += MB, wk++) {
        const dbk_vf x0 = dbk_loadu(xk), x1 = dbk_loadu(xk + DBK_VW);
        for (int r = 0; r < NRR; r++) {
            const float wv = wk[(int64_t)r * K];
            acc[r][0] += x0 * wv;
            acc[r][1] += x1 * wv;
        }
    }
    const int32_t cols = M - m0 < MB ? M - m0 : MB;
    for (int r = 0; r < NRR; r++) {
        float out[MB];
        dbk_storeu(out, acc[r][0]);
        dbk_storeu(out + DBK_VW, acc[r][1]);
        for (int32_t j = 0; j < cols; j++) y[(int64_t)(m0 + j) * N + n0 + r] = out[j];
    }
}

struct linear_job {
    const float *xT, *w;
    float *y;
    int32_t M, K, N, blocks_per_task;
};

static void weight_rows(const struct linear_job *j, int32_t n0, int32_t nrows) {
    for (int32_t m0 = 0; m0 < j->M; m0 += MB) {
        switch (nrows) {
#define CASE(R) \
    case R: tile(j->xT, m0, j->w, j->K, R, j->M, j->N, n0, j->y); break;
            CASE(12) CASE(11) CASE(10) CASE(9) CASE(8) CASE(7) CASE(6) CASE(5) CASE(4) CASE(3) CASE(2) CASE(1)
#undef CASE
        }
    }
}

static void linear_task(void *ctx, int32_t task, int32_t slot) {
    (void)slot;
    const struct linear_job *j = ctx;
    const int32_t first = task * j->blocks_per_task * NR;
    const int32_t last = first + j->blocks_per_task * NR < j->N ? first + j->blocks_per_task * NR : j->N;
    for (int32_t n0 = first; n0 < last; n0 += NR) weight_rows(j, n0, last - n0 < NR ? last - n0 : NR);
}

// Below this many multiply-adds one thread finishes before a second would have started.
#define LINEAR_MIN_PARALLEL_MACS 1048576

void dbk_linear(int32_t threads, const float *x, int32_t M, int32_t K, const float *w, int32_t N, float *scratch, float *y) {
    // x transposed in panels of MB tokens, panel p = [K, MB] holding xT[k][p*MB + j], so a tile reads
    // one contiguous stream; zero in the padding tokens (their outputs are computed and dropped).
    const int64_t mp = round_up(M, MB);
    for (int64_t m = M; m < mp; m++) {
        float *col = scratch + (m / MB) * K * MB + m % MB;
        for (int32_t k = 0; k < K; k++) col[(int64_t)k * MB] = 0.0f;
    }
    for (int32_t m = 0; m < M; m++) {
        const float *xr = x + (int64_t)m * K;
        float *col = scratch + (int64_t)(m / MB) * K * MB + m % MB;
        for (int32_t k = 0; k < K; k++) col[(int64_t)k * MB] = xr[k];
    }
    const int32_t blocks = (N + NR - 1) / NR;
    threads = dbk_clamp_threads(threads);
    if ((int64_t)M * K * N < LINEAR_MIN_PARALLEL_MACS) threads = 1;
    // A few tasks per thread so one that starts late still gets a share.
    int32_t tasks = threads == 1 ? 1 : 4 * threads;
    if (tasks > blocks) tasks = blocks;
    struct linear_job job = {scratch, w, y, M, K, N, (blocks + tasks - 1) / tasks};
    const int32_t n_tasks = (blocks + job.blocks_per_task - 1) / job.blocks_per_task;
    if (threads == 1) {
        for (int32_t t = 0; t < n_tasks; t++) linear_task(&job, t, 0);
    } else {
        dbk_parallel(threads, linear_task, &job, n_tasks);
    }
}
