// Internal to the kernels (not part of the FFI surface): what the reduced-precision driver (lowp.c) needs
// from a micro-kernel path (lowp_x86.c has the SIMD ones, lowp.c the plain C reference).
//
// A micro-kernel computes one tile: MR token rows x 32 output features (one weight panel) over a slice of k,
// into c (MR rows of 32 sums, contiguous), storing when `first` and accumulating otherwise. x arrives
// packed per call in strips of MR rows, k-group-major: bf16 strip [Kp/2][MR][2] (a pair of k per 32 bits),
// q8 strip [Kp/4][MR][4] (4 k per 32 bits), so every broadcast of x is one aligned 32-bit load. Rows of a
// strip past M are zero, so a micro-kernel always computes all MR rows. Row-major paths (AMX, whose tiles
// load rows of x) take strips [MR][Kp] instead, with the row stride, and need K in whole tile steps.
//
// pf, pf_lines: cache lines the tile fetches into L1 for the driver while it runs (the weight slice used
// next), one per k step from the first, and a second per step once pf_lines exceeds the steps; at most twice
// the steps. A hint: the plain C reference ignores it.
#ifndef DISTILBERT_LOWP_H
#define DISTILBERT_LOWP_H

#include <stdint.h>

#define LP_PW 32 // output features per weight panel
#define LP_KG 64 // K is padded to a multiple of this: one AMX int8 step (64 k), two bf16 steps (32 k each)

// xp: strip at the slice's first k; kp: k-pairs in the slice; w: panel slice [kp][32][2]; c: [MR][32].
typedef void (*lp_bf16_tile_fn)(const uint16_t *xp, int32_t kp, const uint16_t *w, float *c, int32_t first,
                                const char *pf, int32_t pf_lines);
// xp: strip at the slice's first k (s8 values); kq: k-quads; w: panel slice [kq][32][4] (q + 128, u8);
// c: [MR][32] int32 sums of x * (q + 128) when `biased` (the VNNI paths' u8 x s8 products), else of x * q.
typedef void (*lp_q8_tile_fn)(const int8_t *xp, int32_t kq, const uint8_t *w, int32_t *c, int32_t first,
                              const char *pf, int32_t pf_lines);
// The row-major forms, over all of K (kp pairs / kq quads), storing c: xp at row 0 of the tile, rows xs
// elements apart.
typedef void (*lp_bf16_rows_fn)(const uint16_t *xp, int64_t xs, int32_t kp, const uint16_t *w, float *c);
typedef void (*lp_q8_rows_fn)(const int8_t *xp, int64_t xs, int32_t kq, const uint8_t *w, int32_t *c);

struct lp_path {
    int32_t bf16_mr, q8_mr; // rows per tile (0: the path has no kernel for that dtype)
    lp_bf16_tile_fn bf16;
    lp_q8_tile_fn q8;
    int32_t q8_biased;
    // Optional tiles of fewer rows (small_mr, same kernels otherwise), used when they pad M less.
    int32_t small_mr;
    lp_bf16_tile_fn bf16_small;
    lp_q8_tile_fn q8_small;
    // Row-major paths: these instead of bf16 / q8 (and of the small ones), with begin / end called on the
    // thread around each task's tiles (AMX: load the tile configuration, release the tiles).
    lp_bf16_rows_fn bf16_rows, bf16_rows_small;
    lp_q8_rows_fn q8_rows, q8_rows_small;
    void (*begin)(void);
    void (*end)(void);
};

// The SIMD paths compiled into this build, or NULL for a path it has none for (any non-x86 build).
const struct lp_path *lp_x86_path(int32_t path);
// Whether the CPU can run the x86 path for dtype (0 on non-x86 builds).
int32_t lp_x86_supported(int32_t dtype, int32_t path);

#endif
