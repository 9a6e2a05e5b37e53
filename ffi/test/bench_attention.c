// Single-threaded CPU-time benchmark of dbk_attention on the model shapes (median of repeats).
// Build and run: ffi/test/bench_attention.sh (same flags as ffi/build.ts).
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../kernels.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float rand_float(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(uint32_t)(rng >> 16) / 4294967296.0f * 2.0f - 1.0f;
}
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(const char *name, int32_t n_seqs, int32_t len, int32_t heads, int32_t hd) {
    const int32_t dim = heads * hd, T = n_seqs * len;
    float *qkv = malloc(sizeof(float) * (size_t)T * 3 * dim), *bias = malloc(sizeof(float) * 3 * (size_t)dim);
    float *out = malloc(sizeof(float) * (size_t)T * dim);
    int32_t *starts = malloc(sizeof(int32_t) * (size_t)(n_seqs + 1));
    uint8_t *uniform = calloc((size_t)n_seqs, 1);
    for (int64_t i = 0; i < (int64_t)T * 3 * dim; i++) qkv[i] = 2.0f * rand_float();
    for (int32_t i = 0; i < 3 * dim; i++) bias[i] = 0.3f * rand_float();
    for (int32_t s = 0; s <= n_seqs; s++) starts[s] = s * len;
    const int64_t per = dbk_attention_scratch_floats(len, hd);
    float *scratch = malloc(sizeof(float) * (size_t)per);
    const double flop = 4.0 * n_seqs * (double)len * len * hd * heads;
    // Repeat each timed sample until it takes ~2 ms so the clock resolution does not matter.
    int reps = 1;
    for (;;) {
        const double t0 = cpu_now();
        for (int r = 0; r < reps; r++)
            dbk_attention(1, qkv, bias, starts, uniform, n_seqs, heads, hd, 0, scratch, (int32_t)per, out);
        if (cpu_now() - t0 > 2e-3) break;
        reps *= 2;
    }
    enum { SAMPLES = 41 };
    double t[SAMPLES];
    for (int k = 0; k < SAMPLES; k++) {
        const double t0 = cpu_now();
        for (int r = 0; r < reps; r++)
            dbk_attention(1, qkv, bias, starts, uniform, n_seqs, heads, hd, 0, scratch, (int32_t)per, out);
        t[k] = (cpu_now() - t0) / reps;
    }
    qsort(t, SAMPLES, sizeof *t, cmp_double);
    const double med = t[SAMPLES / 2];
    printf("%-16s %2dx%-3d heads %2d hd %2d: %9.1f us  %6.1f GFLOP/s  (min %.1f us)\n", name, n_seqs, len, heads, hd,
           med * 1e6, flop / med * 1e-9, t[0] * 1e6);
    free(qkv), free(bias), free(out), free(starts), free(uniform), free(scratch);
}

int main(void) {
    bench("base", 8, 128, 12, 64);
    bench("base", 1, 128, 12, 64); // qkv fits in L2, unlike 8x128
    bench("base", 1, 32, 12, 64);
    bench("tiny", 8, 128, 4, 8);
    bench("tiny", 1, 32, 4, 8);
    bench("sst2", 1, 32, 4, 32);
    bench("sst2", 8, 128, 4, 32);
    return 0;
}
