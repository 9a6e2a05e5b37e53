/*
 * The fp32 micro-kernel's own ceiling: ffi/packed_linear.c's register tile (MR tokens x PW features over KC
 * steps of k) on data already in cache, against a fp32 FMA loop, one thread, taking turns every few
 * milliseconds, so that the CPU's drifting speed falls on both sides of each ratio. A forward pass cannot run
 * its linears faster than this fraction of the FMA peak, whatever the blocking and prefetching around the
 * tile do.
 *
 * Cases: x_l1, one token panel over and over (x and the weight slice in L1); x_l2, the token panels of one
 * MC-token block in turn against the same weight slice (weights in L1, x from L2), as in a large batch.
 *
 *   cc -std=c11 -O3 -march=native -ffp-contract=fast -fno-math-errno -pthread -o tile bench/limits/tile.c
 *      ffi/pool.c ffi/cpu.c -lm && ./tile [--rounds N]      (or: deno run -A bench/tile_turns.ts)
 *
 * Prints one JSON line per case: {"kind":"tile_turns","case":...,"mr":...,"pw":...,"kc":...,"rounds":...,
 * "fma_gflops":..., "of_fma":..., "of_fma_p25":..., "of_fma_p75":..., "of_fma_max":...} (of_fma: the median
 * of the rounds' tile / FMA-loop ratios). On a shared host the ratio itself moves between stretches of a few
 * minutes (the tile loads from cache, the FMA loop does not), so run it more than once; the best round can
 * be an outlier (a round in which the host stalled the FMA loop).
 */
#define _GNU_SOURCE /* clock_gettime */
#include "../../ffi/packed_linear.c"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The FMA loop: independent chains in registers, enough to cover the FMA latency on both ports (24 zmm with
 * AVX-512; 12 ymm otherwise, as AVX2 has 16 registers). Named variables, so none is kept in memory. */
#if DBK_VW == 16
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) \
    X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define N_CHAINS 24
#else
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define N_CHAINS 12
#endif

__attribute__((noinline)) static float fma_loop(long iters) {
    const dbk_vf m = dbk_splat(1.0000001f), b = dbk_splat(1e-7f);
#define DECL(i) dbk_vf a##i = dbk_splat((float)(i));
    CHAINS(DECL)
    for (long it = 0; it < iters; it++) {
#define STEP(i) a##i = a##i * m + b;
        CHAINS(STEP)
    }
    float s = 0.0f;
#define SUM(i) s += a##i[0];
    CHAINS(SUM)
    return s;
}

/* One tile call as the kernel makes it for a full tile (accumulating, prefetching one line per step, taking
 * x in the form this CPU's linears do: cpu.h). */
__attribute__((noinline)) static void one_tile(const float *xp, const float *wp, float *c) {
    if (dbk_x_in_register()) tile(xp, wp, KC, MR, c, 0, (const char *)wp, 1, KC, 1);
    else tile(xp, wp, KC, MR, c, 0, (const char *)wp, 1, KC, 0);
}

static double fma_rate(long iters) {
    const double t0 = now();
    volatile float sink = fma_loop(iters);
    (void)sink;
    return (double)iters * N_CHAINS * DBK_VW * 2 / (now() - t0);
}

static double tile_rate(const float *xp, int panels, const float *wp, float *c, long calls) {
    const double t0 = now();
    for (long i = 0; i < calls; i++) one_tile(xp + (i % panels) * (int64_t)KC * MR, wp, c);
    return (double)calls * KC * MR * PW * 2 / (now() - t0);
}

int main(int argc, char **argv) {
    int rounds = 41;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            const long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 10000) {
                fprintf(stderr, "tile: --rounds takes an integer from 1 to 10000, got \"%s\"\n", argv[i]);
                return 2;
            }
            rounds = (int)v;
        } else {
            fprintf(stderr, "usage: tile [--rounds N]\n");
            return 2;
        }
    }
    const int max_panels = MC / MR;
    float *xp = aligned_alloc(64, sizeof(float) * (size_t)max_panels * KC * MR);
    float *wp = aligned_alloc(64, sizeof(float) * KC * PW);
    float *c = aligned_alloc(64, sizeof(float) * MR * PW);
    double *ratio = malloc(sizeof(double) * (size_t)rounds), *fma = malloc(sizeof(double) * (size_t)rounds);
    if (!xp || !wp || !c || !ratio || !fma) {
        fprintf(stderr, "tile: out of memory\n");
        return 1;
    }
    /* Small values, so the sums stay finite over millions of accumulating calls. */
    for (int i = 0; i < max_panels * KC * MR; i++) xp[i] = 1e-4f * (float)(i % 13);
    for (int i = 0; i < KC * PW; i++) wp[i] = 1e-4f * (float)(i % 7);
    memset(c, 0, sizeof(float) * MR * PW);

    /* Sizes for ~4 ms per side, from one calibration run of each. */
    const long fma_iters = (long)(4e-3 * fma_rate(100000) / (N_CHAINS * DBK_VW * 2));
    const long calls = (long)(4e-3 * tile_rate(xp, 1, wp, c, 2000) / ((double)KC * MR * PW * 2));
    const struct {
        const char *name;
        int panels;
    } cases[] = {{"x_l1", 1}, {"x_l2", max_panels}};
    for (int k = 0; k < 2; k++) {
        tile_rate(xp, cases[k].panels, wp, c, calls); /* uncounted: after the switch */
        for (int r = 0; r < rounds; r++) {
            fma[r] = fma_rate(fma_iters);
            ratio[r] = tile_rate(xp, cases[k].panels, wp, c, calls) / fma[r];
        }
        qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
        qsort(fma, (size_t)rounds, sizeof(double), cmp_double);
        printf("{\"kind\":\"tile_turns\",\"case\":\"%s\",\"mr\":%d,\"pw\":%d,\"kc\":%d,\"rounds\":%d,"
               "\"fma_gflops\":%.2f,\"of_fma\":%.4f,\"of_fma_p25\":%.4f,\"of_fma_p75\":%.4f,\"of_fma_max\":%.4f}\n",
               cases[k].name, MR, PW, KC, rounds, fma[rounds / 2] * 1e-9, ratio[rounds / 2], ratio[rounds / 4],
               ratio[(3 * rounds) / 4], ratio[rounds - 1]);
    }
    /* Keeps the tile's sums observable, so no call can be dropped. */
    if (!(c[0] == c[0])) fprintf(stderr, "tile: the sums are not finite\n");
    free(xp), free(wp), free(c), free(ratio), free(fma);
    return 0;
}
