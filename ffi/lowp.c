// Reduced precision linear layers (bf16 and int8, contract in kernels.h): weight packing at load, and the
// per-call driver shared by every micro-kernel path: x converted (bf16) or quantized (q8) into strips, the
// tiles blocked for the caches and split over threads, and one epilogue (dequantization, bias, activation).
// dbk_bf16_ffn chains two bf16 linears, the first's epilogue writing the second's x strips (finish_tile_strips).
//
// Blocking as in packed_linear.c: a task is GROUP output panels against one block of at most MC tokens (the
// block's x slice stays in L2), so each task owns its part of y; k in slices of KC (a 24 KB weight slice
// stays in L1 while every strip of the block passes over it); a block's sums wait in a buffer on the stack
// across the k slices. The row-major (AMX) paths keep a tile's sums in tile registers over all of K instead
// (rows_task).
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "lowp.h"
#include "pool.h"
#include "vecmath.h"

#define GROUP 4
#define MC_MAX 264
#define KC_Q8 768   // k per slice: 768 x 32 int8 = 24 KB of weights (a 768-wide input in one slice)
#define KC_BF16 384 // 384 x 32 bf16 = 24 KB (a 768-wide input in two slices)
#define MIN_PARALLEL_MACS 1048576
#define MIN_SPLIT_CONVERT 16384 // x elements below which one thread converts a lone strip
#define ROWS_MR_MAX 32 // the most rows of a row-major path's tile

static inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// ---- bf16 and int8 conversions

// fp32 -> bf16, round to nearest even; NaN stays NaN (quiet), infinities stay infinite.
static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(dbk_bf16_round_bits1(u) >> 16);
}

static inline float from_bf16(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---- the plain C reference path (any CPU; the SIMD paths are checked against it)

#define REF_MR 4

static void bf16_tile_ref(const uint16_t *xp, int32_t kp, const uint16_t *w, float *c, int32_t first,
                          const char *pf, int32_t pf_lines) {
    (void)pf, (void)pf_lines;
    float acc[REF_MR][LP_PW];
    for (int r = 0; r < REF_MR; r++)
        for (int j = 0; j < LP_PW; j++) acc[r][j] = first ? 0.0f : c[r * LP_PW + j];
    for (int32_t k = 0; k < kp; k++, xp += 2 * REF_MR, w += 2 * LP_PW)
        for (int r = 0; r < REF_MR; r++) {
            const float x0 = from_bf16(xp[2 * r]), x1 = from_bf16(xp[2 * r + 1]);
            // Odd k first, as vdpbf16ps is specified; each product of two bf16 is exact in fp32.
            for (int j = 0; j < LP_PW; j++) {
                acc[r][j] += from_bf16(w[2 * j + 1]) * x1;
                acc[r][j] += from_bf16(w[2 * j]) * x0;
            }
        }
    for (int r = 0; r < REF_MR; r++)
        for (int j = 0; j < LP_PW; j++) c[r * LP_PW + j] = acc[r][j];
}

static void q8_tile_ref(const int8_t *xp, int32_t kq, const uint8_t *w, int32_t *c, int32_t first, const char *pf,
                        int32_t pf_lines) {
    (void)pf, (void)pf_lines;
    int32_t acc[REF_MR][LP_PW];
    for (int r = 0; r < REF_MR; r++)
        for (int j = 0; j < LP_PW; j++) acc[r][j] = first ? 0 : c[r * LP_PW + j];
    for (int32_t k = 0; k < kq; k++, xp += 4 * REF_MR, w += 4 * LP_PW)
        for (int r = 0; r < REF_MR; r++)
            for (int j = 0; j < LP_PW; j++)
                for (int i = 0; i < 4; i++) acc[r][j] += (int32_t)xp[4 * r + i] * ((int32_t)w[4 * j + i] - 128);
    for (int r = 0; r < REF_MR; r++)
        for (int j = 0; j < LP_PW; j++) c[r * LP_PW + j] = acc[r][j];
}

static const struct lp_path REF_PATH = {.bf16_mr = REF_MR, .q8_mr = REF_MR, .bf16 = bf16_tile_ref, .q8 = q8_tile_ref};

static const struct lp_path *path_of(int32_t path) {
    return path == DBK_PATH_SCALAR ? &REF_PATH : lp_x86_path(path);
}

int32_t dbk_lowp_path_supported(int32_t dtype, int32_t path) {
    if (dtype != DBK_DTYPE_BF16 && dtype != DBK_DTYPE_Q8) return 0;
    if (path < 0 || path >= DBK_PATH_COUNT) return 0;
    const struct lp_path *p = path_of(path);
    if (!p || (dtype == DBK_DTYPE_BF16 ? !p->bf16 && !p->bf16_rows : !p->q8 && !p->q8_rows)) return 0;
    return path == DBK_PATH_SCALAR ? 1 : lp_x86_supported(dtype, path);
}

int32_t dbk_lowp_best_path(int32_t dtype) {
    if (dtype != DBK_DTYPE_BF16 && dtype != DBK_DTYPE_Q8) return -1;
    static const int32_t order[] = {DBK_PATH_AMX, DBK_PATH_AVX512, DBK_PATH_AVX_VNNI, DBK_PATH_AVX2};
    for (int i = 0; i < 4; i++)
        if (dbk_lowp_path_supported(dtype, order[i])) return order[i];
    return DBK_PATH_SCALAR;
}

// ---- weight packing (once, at load)

int64_t dbk_lowp_packed_elems(int32_t N, int32_t K) { return round_up(N, LP_PW) * round_up(K, LP_KG); }

struct pack_job {
    const float *w;
    const uint16_t *bits;
    uint16_t *wp;
    uint8_t *wq;
    float *scale;
    int32_t N, K;
};

static void pack_bf16_task(void *ctx, int32_t p, int32_t slot) {
    (void)slot;
    const struct pack_job *j = ctx;
    const int64_t Kp = round_up(j->K, LP_KG);
    uint16_t *dst = j->wp + (int64_t)p * LP_PW * Kp;
    for (int32_t jj = 0; jj < LP_PW; jj++) {
        const int32_t n = p * LP_PW + jj;
        for (int64_t k = 0; k < Kp; k++) {
            uint16_t v = 0;
            if (n < j->N && k < j->K) {
                v = j->bits ? j->bits[(int64_t)n * j->K + k] : to_bf16(j->w[(int64_t)n * j->K + k]);
            }
            dst[(k / 2) * 2 * LP_PW + jj * 2 + k % 2] = v;
        }
    }
}

void dbk_pack_bf16(int32_t threads, const float *w, int32_t N, int32_t K, uint16_t *wp) {
    struct pack_job job = {w, NULL, wp, NULL, NULL, N, K};
    dbk_parallel(threads, pack_bf16_task, &job, (int32_t)(round_up(N, LP_PW) / LP_PW));
}

void dbk_pack_bf16_bits(int32_t threads, const uint16_t *w, int32_t N, int32_t K, uint16_t *wp) {
    struct pack_job job = {NULL, w, wp, NULL, NULL, N, K};
    dbk_parallel(threads, pack_bf16_task, &job, (int32_t)(round_up(N, LP_PW) / LP_PW));
}

static void pack_q8_task(void *ctx, int32_t p, int32_t slot) {
    (void)slot;
    const struct pack_job *j = ctx;
    const int64_t Kp = round_up(j->K, LP_KG);
    uint8_t *dst = j->wq + (int64_t)p * LP_PW * Kp;
    for (int32_t jj = 0; jj < LP_PW; jj++) {
        const int32_t n = p * LP_PW + jj;
        const float *row = n < j->N ? j->w + (int64_t)n * j->K : NULL;
        float amax = 0.0f;
        int nan = 0;
        for (int32_t k = 0; row && k < j->K; k++) amax = fmaxf(amax, fabsf(row[k])), nan |= isnan(row[k]);
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        // fmaxf skips NaN, so a row holding one would get a finite scale and (its q taken as 0) finite
        // outputs where the float computation gives NaN: its scale is NaN instead, so every output of the
        // feature is NaN, as x's NaN rows are. An infinity makes inv 0 and the scale infinite (NaN outputs).
        j->scale[n] = nan ? NAN : amax / 127.0f;
        for (int64_t k = 0; k < Kp; k++) {
            float q = row && k < j->K ? rintf(row[k] * inv) : 0.0f;
            // NaN (a NaN weight, or infinity * 0) would reach the int conversion below, which is undefined.
            q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q == q ? q : 0.0f;
            dst[(k / 4) * 4 * LP_PW + jj * 4 + k % 4] = (uint8_t)((int32_t)q + 128);
        }
    }
}

void dbk_pack_q8(int32_t threads, const float *w, int32_t N, int32_t K, uint8_t *wq, float *scale) {
    struct pack_job job = {w, NULL, NULL, wq, scale, N, K};
    dbk_parallel(threads, pack_q8_task, &job, (int32_t)(round_up(N, LP_PW) / LP_PW));
}

// ---- per call: x into strips, then the tiles

// Scratch layout: x strips (elements of 1 or 2 bytes), then per padded row its scale (float) and, for q8,
// the sum of its quantized values (int32), each part 64-byte aligned.
struct layout {
    int64_t strips_bytes, rows;
};

// The tile a call uses: the path's rows per tile, or its smaller tile where that pads M by 5% fewer rows
// (32 tokens: 8-row tiles instead of 12). mr = 0 when the path has no kernel for the dtype.
struct tiles {
    int32_t mr;
    lp_bf16_tile_fn bf16;
    lp_q8_tile_fn q8;
    lp_bf16_rows_fn bf16_rows; // row-major paths: these instead
    lp_q8_rows_fn q8_rows;
    int32_t rows; // whether the dtype's kernel is row-major: strips [mr][Kp], rows_task
};

static struct tiles tiles_for(const struct lp_path *p, int32_t dtype, int32_t M) {
    struct tiles t = {dtype == DBK_DTYPE_BF16 ? p->bf16_mr : p->q8_mr, p->bf16, p->q8, p->bf16_rows, p->q8_rows, 0};
    const int small_fn = dtype == DBK_DTYPE_BF16 ? p->bf16_small || p->bf16_rows_small
                                                 : p->q8_small || p->q8_rows_small;
    if (t.mr > 0 && p->small_mr > 0 && small_fn && round_up(M, p->small_mr) * 20 < round_up(M, t.mr) * 19) {
        t.mr = p->small_mr;
        t.bf16 = p->bf16_small;
        t.q8 = p->q8_small;
        t.bf16_rows = p->bf16_rows_small;
        t.q8_rows = p->q8_rows_small;
    }
    t.rows = dtype == DBK_DTYPE_BF16 ? t.bf16_rows != NULL : t.q8_rows != NULL;
    return t;
}

static struct layout layout_of(int32_t dtype, int32_t mr, int32_t M, int32_t K) {
    const int64_t rows = round_up(M, mr), Kp = round_up(K, LP_KG);
    struct layout l = {round_up(rows * Kp * (dtype == DBK_DTYPE_BF16 ? 2 : 1), 64), rows};
    return l;
}

int64_t dbk_lowp_scratch_bytes(int32_t dtype, int32_t path, int32_t M, int32_t K) {
    const struct lp_path *p = path_of(path);
    if (!p || (dtype != DBK_DTYPE_BF16 && dtype != DBK_DTYPE_Q8)) return 0;
    const int32_t mr = tiles_for(p, dtype, M).mr;
    if (mr <= 0) return 0;
    const struct layout l = layout_of(dtype, mr, M, K);
    return l.strips_bytes + 2 * round_up(l.rows * 4, 64);
}

struct lp_job {
    const struct lp_path *path;
    struct tiles tiles;
    int32_t dtype, mr, M, K, Kp, N, activation;
    const float *x, *bias, *wscale;
    const void *w;
    void *strips;
    float *xscale;
    int32_t *xsum;
    float *y;
    int32_t mc, threads;
    struct dbk_panel_units units; // which panels each task takes (pool.h)
    int32_t rows, convert_rows; // x's rows padded to whole strips; rows per conversion task
    // bf16 only: when not NULL, y goes here instead, as the bf16 strips (mr rows, Kp of round_up(N, LP_KG))
    // a next linear on the same path takes as its x (dbk_bf16_ffn).
    void *out_strips;
};

// k per chunk of a row converted at once: the conversion loops run over a contiguous buffer, a vector at a
// time, then the chunk's 32-bit groups go to their places in the strip.
#define CHUNK 256

typedef uint32_t lp_vu __attribute__((vector_size(DBK_VW * 4)));
typedef uint16_t lp_vu16 __attribute__((vector_size(DBK_VW * 2)));
typedef int8_t lp_vs8 __attribute__((vector_size(DBK_VW)));

// Keeps the compiler from fusing the multiply before it into the rounding's add (-ffp-contract=fast): the
// integer a product rounds to must not depend on the build.
#if defined(__x86_64__) || defined(__i386__)
#define NO_CONTRACT(v) __asm__("" : "+x"(v))
#elif defined(__aarch64__)
#define NO_CONTRACT(v) __asm__("" : "+w"(v))
#else
#define NO_CONTRACT(v) __asm__("" : "+m"(v))
#endif

// fp32 -> bf16 (nearest even, NaN kept quiet), a vector at a time: to_bf16 on every lane, in its low half.
static inline lp_vu to_bf16_lanes(dbk_vf f) {
    dbk_vu u;
    memcpy(&u, &f, sizeof u);
    return dbk_bf16_round_bits(u) >> 16;
}

// Two vectors (2 * DBK_VW consecutive values) -> one of their bf16 in order: lanes of k pairs, as a strip
// holds them. One two-source permute, and a whole vector to store: storing half vectors that a whole-vector
// load then reads back stalls that load until both stores are done.
typedef uint16_t lp_vh __attribute__((vector_size(DBK_VW * 4))); // 2 * DBK_VW halves
#if DBK_VW == 16
#define EVEN_HALVES {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62}
#else
#define EVEN_HALVES {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}
#endif
// AVX512-BF16 builds convert with vcvtne2ps2bf16 / vcvtneps2bf16: the same nearest-even rounding and quiet
// NaNs in one instruction instead of about eight integer operations per vector, except that they flush
// subnormal inputs to zero; a vector with a subnormal lane (vfpclassps, rare) takes the integer rounding,
// so the bits are those of to_bf16 everywhere.
#if defined(__AVX512BF16__) && defined(__AVX512DQ__) && DBK_VW == 16
#include <immintrin.h>
#define CVT_BF16 1
#else
#define CVT_BF16 0
#endif
static inline lp_vu to_bf16_pairs(dbk_vf lo, dbk_vf hi) {
#if CVT_BF16
    if (!(_mm512_fpclass_ps_mask((__m512)lo, 0x20) | _mm512_fpclass_ps_mask((__m512)hi, 0x20)))
        return (lp_vu)_mm512_cvtne2ps_pbh((__m512)hi, (__m512)lo);
#endif
    const lp_vh even = EVEN_HALVES;
    return (lp_vu)__builtin_shuffle((lp_vh)to_bf16_lanes(lo), (lp_vh)to_bf16_lanes(hi), even);
}

static inline lp_vu16 to_bf16_v(dbk_vf f) {
#if CVT_BF16
    if (!_mm512_fpclass_ps_mask((__m512)f, 0x20)) return (lp_vu16)_mm512_cvtneps_pbh((__m512)f);
#endif
    return __builtin_convertvector(to_bf16_lanes(f), lp_vu16);
}

// Lane-wise unsigned max (GCC: vpmaxud).
static inline lp_vu max_u(lp_vu a, lp_vu b) {
    const lp_vu m = (lp_vu)(a > b);
    return (a & m) | (b & ~m);
}

// round(v) to nearest even for |v| <= 2^22 by adding and subtracting 1.5 * 2^23.
// The barrier is on v, the input: on the sum it left the multiply that made v free to fuse into the add
// (a haswell build then rounded x * inv exactly instead of as the float product, one step off at near-ties).
static inline dbk_vf round_even_v(dbk_vf v) {
    const dbk_vf magic = dbk_splat(12582912.0f);
    NO_CONTRACT(v);
    const dbk_vf t = v + magic;
    return t - magic;
}

// The largest |x| of a row (K floats) as its bit pattern: unsigned integers are ordered as the magnitudes
// are, with NaNs above +inf. An integer max is one short instruction, and four running maxima keep the
// loop from waiting on one chain of them.
static uint32_t row_abs_max_bits(const float *row, int32_t K) {
    lp_vu m0 = {0}, m1 = {0}, m2 = {0}, m3 = {0};
    int32_t k = 0;
    for (; k + 4 * DBK_VW <= K; k += 4 * DBK_VW) {
        lp_vu a0, a1, a2, a3;
        memcpy(&a0, row + k, sizeof a0);
        memcpy(&a1, row + k + DBK_VW, sizeof a1);
        memcpy(&a2, row + k + 2 * DBK_VW, sizeof a2);
        memcpy(&a3, row + k + 3 * DBK_VW, sizeof a3);
        a0 &= 0x7fffffffu, a1 &= 0x7fffffffu, a2 &= 0x7fffffffu, a3 &= 0x7fffffffu;
        m0 = max_u(a0, m0), m1 = max_u(a1, m1), m2 = max_u(a2, m2), m3 = max_u(a3, m3);
    }
    for (; k + DBK_VW <= K; k += DBK_VW) {
        lp_vu a0;
        memcpy(&a0, row + k, sizeof a0);
        a0 &= 0x7fffffffu;
        m0 = max_u(a0, m0);
    }
    m0 = max_u(m1, m0), m2 = max_u(m3, m2), m0 = max_u(m2, m0);
    uint32_t abits = 0;
    for (int32_t i = 0; i < DBK_VW; i++) abits = m0[i] > abits ? m0[i] : abits;
    for (; k < K; k++) {
        uint32_t a;
        memcpy(&a, row + k, 4);
        a &= 0x7fffffffu;
        abits = a > abits ? a : abits;
    }
    return abits;
}

// x[0 .. kr) of a row to bf16 in out, zeros up to kn; fetching into L1 the same k of the row `ahead`
// floats on (0: none), the one converted next: the rows come from L3 or from the core that wrote them,
// and the hardware prefetchers did not keep up with four rows' chunks taken in turn.
static void bf16_chunk(const float *x, int64_t kr, int64_t kn, uint16_t *out, int64_t ahead) {
    int64_t k = 0;
    for (; k + 2 * DBK_VW <= kr; k += 2 * DBK_VW) {
        if (ahead) __builtin_prefetch(x + k + ahead, 0, 3), __builtin_prefetch(x + k + DBK_VW + ahead, 0, 3);
        const lp_vu h = to_bf16_pairs(dbk_loadu(x + k), dbk_loadu(x + k + DBK_VW));
        memcpy(out + k, &h, sizeof h);
    }
    for (; k + DBK_VW <= kr; k += DBK_VW) {
        const lp_vu16 h = to_bf16_v(dbk_loadu(x + k));
        memcpy(out + k, &h, sizeof h);
    }
    for (; k < kr; k++) out[k] = to_bf16(x[k]);
    for (; k < kn; k++) out[k] = 0;
}

// x[0 .. kr) of a row quantized with inv (127 / the row's largest |x|) into out, zeros up to kn; returns
// the sum of the quantized values.
static int32_t q8_chunk(const float *x, int64_t kr, int64_t kn, float inv, int8_t *out) {
    dbk_vi vsum = (dbk_vi){0};
    int32_t sum = 0;
    int64_t i = 0;
    for (; i + DBK_VW <= kr; i += DBK_VW) {
        dbk_vf v = dbk_loadu(x + i) * inv;
        v = round_even_v(v);
        v = dbk_select(v > 127.0f, dbk_splat(127.0f), v);
        v = dbk_select(v < -127.0f, dbk_splat(-127.0f), v);
        v = dbk_select(v == v, v, dbk_splat(0.0f));
        const dbk_vi q = __builtin_convertvector(v, dbk_vi);
        vsum += q;
        const lp_vs8 b = __builtin_convertvector(q, lp_vs8);
        memcpy(out + i, &b, sizeof b);
    }
    for (; i < kr; i++) {
        float v = round_even_v(dbk_splat(x[i] * inv))[0];
        v = v > 127.0f ? 127.0f : v;
        v = v < -127.0f ? -127.0f : v;
        v = v == v ? v : 0.0f;
        sum += (int32_t)v;
        out[i] = (int8_t)(int32_t)v;
    }
    for (; i < kn; i++) out[i] = 0;
    for (int32_t l = 0; l < DBK_VW; l++) sum += vsum[l];
    return sum;
}

// Four converted rows' groups (row q at src + q * stride bytes: `groups` 4-byte values, a multiple of
// DBK_VW) into a strip, dst at the first row's first group, mr groups between one k group and the next.
// A 4 x 4 transpose per 128 bits puts the four rows' values of one group side by side, so each store writes
// 16 contiguous bytes: one 4-byte store per row and group kept the conversion store-bound.
#if DBK_VW == 16
#define LANES4(F) F(0) F(1) F(2) F(3)
#else
#define LANES4(F) F(0) F(1)
#endif
#define LO32(L) 4 * L, DBK_VW + 4 * L, 4 * L + 1, DBK_VW + 4 * L + 1,
#define HI32(L) 4 * L + 2, DBK_VW + 4 * L + 2, 4 * L + 3, DBK_VW + 4 * L + 3,
#define LO64(L) 4 * L, 4 * L + 1, DBK_VW + 4 * L, DBK_VW + 4 * L + 1,
#define HI64(L) 4 * L + 2, 4 * L + 3, DBK_VW + 4 * L + 2, DBK_VW + 4 * L + 3,
static void place_quad(const char *src, int64_t stride, int64_t groups, uint32_t *dst, int32_t mr) {
    const lp_vu lo32 = {LANES4(LO32)}, hi32 = {LANES4(HI32)}, lo64 = {LANES4(LO64)}, hi64 = {LANES4(HI64)};
    for (int64_t g = 0; g < groups; g += DBK_VW) {
        lp_vu a, b, c, d;
        memcpy(&a, src + 4 * g, sizeof a);
        memcpy(&b, src + stride + 4 * g, sizeof b);
        memcpy(&c, src + 2 * stride + 4 * g, sizeof c);
        memcpy(&d, src + 3 * stride + 4 * g, sizeof d);
        const lp_vu ab0 = __builtin_shuffle(a, b, lo32), ab1 = __builtin_shuffle(a, b, hi32);
        const lp_vu cd0 = __builtin_shuffle(c, d, lo32), cd1 = __builtin_shuffle(c, d, hi32);
        // o[i], 128-bit lane l: group g + 4 l + i of rows 0-3.
        const lp_vu o[4] = {__builtin_shuffle(ab0, cd0, lo64), __builtin_shuffle(ab0, cd0, hi64),
                            __builtin_shuffle(ab1, cd1, lo64), __builtin_shuffle(ab1, cd1, hi64)};
        uint32_t *out = dst + g * mr;
        for (int l = 0; l < DBK_VW / 4; l++)
            for (int i = 0; i < 4; i++) memcpy(out + (4 * l + i) * mr, (const uint32_t *)&o[i] + 4 * l, 16);
    }
}

// Rows task * j->convert_rows .. + convert_rows of the padded x (strips of mr rows): converted (bf16) or
// quantized (q8), rows past M zero. A task is a whole strip, unless a row-major path has fewer strips than
// threads and enough of x: then the strip's rows (each a contiguous run of it) are shared out, so that at a
// few dozen tokens every thread converts. Strip-layout rows interleave in 4-byte groups, whose cache lines
// two threads would share, so those strips stay whole. Rows go four at a time where they can (place_quad),
// a chunk of k at a time: each row's chunk converted into a buffer, then the buffers placed.
static void convert_rows_task(void *ctx, int32_t task, int32_t slot) {
    (void)slot;
    const struct lp_job *j = ctx;
    const int32_t mr = j->mr, K = j->K, bf16 = j->dtype == DBK_DTYPE_BF16;
    const int64_t Kp = j->Kp, elem = bf16 ? 2 : 1;
    const int rowmajor = j->tiles.rows;
    const int32_t t_first = task * j->convert_rows;
    const int32_t t_end = t_first + j->convert_rows < j->rows ? t_first + j->convert_rows : j->rows;
    // A chunk of up to 4 rows, converted.
    uint16_t tb[4][CHUNK] __attribute__((aligned(64)));
    int8_t tq[4][CHUNK] __attribute__((aligned(64)));
    const char *tmp = bf16 ? (const char *)tb : (const char *)tq;
    const int64_t stride = bf16 ? sizeof tb[0] : sizeof tq[0];
    for (int32_t t = t_first, n; t < t_end; t += n) {
        const int32_t r = t % mr;
        uint32_t *strip = (uint32_t *)((char *)j->strips + (int64_t)(t - r) * Kp * elem);
        if (t >= j->M) {
            n = 1;
            if (rowmajor) memset((char *)strip + r * Kp * elem, 0, (size_t)(Kp * elem));
            else
                for (int64_t g = 0; g < Kp * elem / 4; g++) strip[g * mr + r] = 0;
            if (!bf16) j->xscale[t] = 0.0f, j->xsum[t] = 0;
            continue;
        }
        n = !rowmajor && mr % 4 == 0 && r % 4 == 0 && t + 4 <= j->M && t + 4 <= t_end ? 4 : 1;
        // q8: each row's scale first. A NaN in the row makes its scale NaN, and an infinity makes inv 0 and
        // the scale infinite: either way the row's outputs come out NaN, as the float computation's would,
        // never a finite guess.
        float inv[4] = {0};
        int32_t sum[4] = {0};
        for (int32_t q = 0; q < n && !bf16; q++) {
            const uint32_t abits = row_abs_max_bits(j->x + (int64_t)(t + q) * K, K);
            float amax;
            memcpy(&amax, &abits, 4);
            inv[q] = amax > 0.0f ? 127.0f / amax : 0.0f;
            j->xscale[t + q] = abits > 0x7f800000u ? NAN : amax / 127.0f;
        }
        for (int64_t k0 = 0; k0 < Kp; k0 += CHUNK) {
            const int64_t kn = Kp - k0 < CHUNK ? Kp - k0 : CHUNK, kr = K - k0 < kn ? K - k0 : kn;
            for (int32_t q = 0; q < n; q++) {
                const float *x = j->x + (int64_t)(t + q) * K + k0;
                if (bf16) bf16_chunk(x, kr, kn, tb[q], t + n + q < j->M ? (int64_t)n * K : 0);
                else sum[q] += q8_chunk(x, kr, kn, inv[q], tq[q]);
            }
            const int64_t groups = kn * elem / 4, g0 = k0 * elem / 4;
            if (rowmajor) memcpy((char *)strip + (int64_t)r * Kp * elem + k0 * elem, tmp, (size_t)(kn * elem));
            else if (n == 4) place_quad(tmp, stride, groups, strip + g0 * mr + r, mr);
            else
                for (int64_t g = 0; g < groups; g++) memcpy(&strip[(g0 + g) * mr + r], tmp + 4 * g, 4);
        }
        for (int32_t q = 0; q < n && !bf16; q++) j->xsum[t + q] = sum[q];
    }
}

typedef int32_t lp_vi __attribute__((vector_size(DBK_VW * 4)));

// The epilogue's activation. GELU as one rational function, without an exp (vecmath.h gives its error
// bounds): far below the rounding of the bf16 or int8 inputs behind these sums and of the bf16 or int8
// values this output becomes in the next linear, so the exact form would buy nothing here.
static inline dbk_vf lp_activate(dbk_vf v, int32_t activation) {
    return activation == DBK_ACT_GELU ? dbk_vgelu_rational(v) : dbk_vactivate(v, activation);
}

// Panel p's bias (n0 = 32 p, width = its features below N) in vectors, zero past N or without a bias.
static inline void panel_bias(const struct lp_job *j, int32_t n0, int32_t width, dbk_vf *bias) {
    for (int32_t v = 0; v < LP_PW / DBK_VW; v++) {
        const int32_t i = v * DBK_VW, left = width - i;
        bias[v] = !j->bias || left <= 0 ? dbk_splat(0.0f)
                  : left >= DBK_VW      ? dbk_loadu(j->bias + n0 + i)
                                        : dbk_load_partial(j->bias + n0 + i, left, 0.0f);
    }
}

// Rows m .. m + rows of y, panel p, from the tile's sums: dequantization (q8), bias, activation, store.
static void finish_tile(const struct lp_job *j, const void *csum, int32_t m, int32_t rows, int32_t p) {
    const int32_t n0 = p * LP_PW, width = j->N - n0 < LP_PW ? j->N - n0 : LP_PW;
    dbk_vf bias[LP_PW / DBK_VW], wscale[LP_PW / DBK_VW];
    panel_bias(j, n0, width, bias);
    for (int32_t v = 0; v < LP_PW / DBK_VW; v++) // scale is padded to 32s
        wscale[v] = j->wscale ? dbk_loadu(j->wscale + n0 + v * DBK_VW) : dbk_splat(0.0f);
    for (int32_t r = 0; r < rows; r++) {
        const int32_t t = m + r;
        float *y = j->y + (int64_t)t * j->N + n0;
        const int32_t comp = j->dtype == DBK_DTYPE_Q8 && j->path->q8_biased ? 128 * j->xsum[t] : 0;
        const float xs = j->dtype == DBK_DTYPE_Q8 ? j->xscale[t] : 0.0f;
        for (int32_t v = 0; v < LP_PW / DBK_VW; v++) {
            const int32_t i = v * DBK_VW;
            if (i >= width) break;
            dbk_vf a;
            if (j->dtype == DBK_DTYPE_BF16) {
                a = dbk_loadu((const float *)csum + (int64_t)r * LP_PW + i);
            } else {
                lp_vi c;
                memcpy(&c, (const int32_t *)csum + (int64_t)r * LP_PW + i, sizeof c);
                a = __builtin_convertvector(c - comp, dbk_vf) * (xs * wscale[v]);
            }
            a = lp_activate(a + bias[v], j->activation);
            if (width - i >= DBK_VW) dbk_storeu(y + i, a);
            else dbk_store_partial(y + i, a, width - i);
        }
    }
}

// The tile of rows m .. m + mr (its strip), panel p, from its sums as bf16 x strips for a next linear
// (j->out_strips): bias and activation as finish_tile, then rounded as convert_rows_task rounds y, so the
// next linear gets the very strips it would have made from fp32 y. Rows past M and features past N are
// zero, and the last panel's task zeroes the features up to the next linear's Kp.
static void finish_tile_strips(const struct lp_job *j, const float *csum, int32_t m, int32_t rows, int32_t p) {
    const int32_t mr = j->mr, n0 = p * LP_PW, width = j->N - n0 < LP_PW ? j->N - n0 : LP_PW;
    const int64_t Kp = round_up(j->N, LP_KG);
    uint16_t h[ROWS_MR_MAX][LP_PW] __attribute__((aligned(64)));
    dbk_vf bias[LP_PW / DBK_VW];
    panel_bias(j, n0, width, bias);
    for (int32_t r = 0; r < mr; r++)
        for (int32_t i = 0; i < LP_PW; i += 2 * DBK_VW) {
            dbk_vf a[2] = {dbk_splat(0.0f), dbk_splat(0.0f)};
            for (int32_t h2 = 0; h2 < 2; h2++) {
                const int32_t at = i + h2 * DBK_VW, left = width - at;
                if (r >= rows || left <= 0) continue;
                a[h2] = lp_activate(dbk_loadu(csum + (int64_t)r * LP_PW + at) + bias[at / DBK_VW], j->activation);
                if (left < DBK_VW) a[h2] = dbk_load_partial((const float *)&a[h2], left, 0.0f);
            }
            const lp_vu v = to_bf16_pairs(a[0], a[1]);
            memcpy(&h[r][i], &v, sizeof v);
        }
    char *strip = (char *)j->out_strips + (int64_t)m * Kp * 2;
    if (j->tiles.rows) {
        for (int32_t r = 0; r < mr; r++) memcpy(strip + ((int64_t)r * Kp + n0) * 2, h[r], sizeof h[r]);
    } else if (mr % 4 == 0) {
        // The tile's strip part is one contiguous block (its 16 k groups x mr rows): put together here, then
        // written a whole cache line at a time.
        uint32_t blk[LP_PW / 2 * ROWS_MR_MAX] __attribute__((aligned(64)));
        for (int32_t r = 0; r < mr; r += 4) place_quad((const char *)h[r], sizeof h[r], LP_PW / 2, blk + r, mr);
        char *dst = strip + (int64_t)(n0 / 2) * mr * 4;
        for (int32_t b = 0; b < LP_PW / 2 * mr * 4; b += 64) memcpy(dst + b, (const char *)blk + b, 64);
    } else {
        for (int32_t r = 0; r < mr; r++)
            for (int32_t g = 0; g < LP_PW / 2; g++) memcpy(strip + ((int64_t)(n0 / 2 + g) * mr + r) * 4, &h[r][2 * g], 4);
    }
    if (n0 + LP_PW < Kp && n0 + LP_PW >= j->N) { // the features past the last panel, up to Kp
        const int64_t from = n0 + LP_PW;
        if (j->tiles.rows)
            for (int32_t r = 0; r < mr; r++) memset(strip + ((int64_t)r * Kp + from) * 2, 0, (size_t)(Kp - from) * 2);
        else memset(strip + from / 2 * mr * 4, 0, (size_t)((Kp - from) / 2 * mr * 4));
    }
}

// A task of the strip-layout paths: a unit of up to GROUP panels (dbk_panel_units) against one block of at
// most mc tokens. Tasks go unit by unit, each unit's blocks in turn (the unit's weights stay in L2 while
// both threads take its blocks). With one task per group over all of M, two threads shared a 1024-token
// FFN2 as 6 tasks of ~1.5 ms each, and one waited for the other at the end.
static void tiles_task(void *ctx, int32_t task, int32_t slot) {
    (void)slot;
    const struct lp_job *j = ctx;
    // Sums of the block: GROUP panels x mc rows x 32 (4-byte float or int32 either way).
    int32_t cbuf[GROUP * MC_MAX * LP_PW] __attribute__((aligned(64)));
    const int32_t panels = (int32_t)(round_up(j->N, LP_PW) / LP_PW), blocks = (j->M + j->mc - 1) / j->mc;
    const int32_t m_block = task % blocks * j->mc;
    int32_t p_first, p_last, p_after = panels, unused;
    dbk_unit_panels(&j->units, task / blocks, &p_first, &p_last);
    const int32_t mr = j->mr, bf16 = j->dtype == DBK_DTYPE_BF16;
    const int32_t kc = bf16 ? KC_BF16 : KC_Q8;
    const int64_t elem = bf16 ? 2 : 1;
    // The first panel of the task this thread probably takes next (tasks are claimed in order).
    const int32_t next_task = task + j->threads;
    if (next_task < j->units.count * blocks) dbk_unit_panels(&j->units, next_task / blocks, &p_after, &unused);
    const int32_t m_end = m_block + j->mc < j->M ? m_block + j->mc : j->M;
    for (int32_t k0 = 0; k0 < j->Kp; k0 += kc) {
        const int32_t kn = j->Kp - k0 < kc ? j->Kp - k0 : kc, last = k0 + kn == j->Kp;
        for (int32_t p = p_first; p < p_last; p++) {
            const char *w = (const char *)j->w + ((int64_t)p * j->Kp + k0) * LP_PW * elem;
            // The weight slice used next (the next panel, the next k slice, or the first of the task this
            // thread probably takes next), fetched into L1 a share per tile while this one is multiplied:
            // at a few dozen tokens the layer streams its weights from memory, and the hardware
            // prefetcher does not follow the jump from one panel to the next. Into L1, not L2: with
            // the slice in L2 only, the tiles waited on it there (AMD Zen 5). The tile itself issues
            // them a line per k step: a burst before each tile held up the tile's own loads.
            const char *next = p + 1 < p_last ? w + (int64_t)j->Kp * LP_PW * elem
                               : k0 + kc < j->Kp ? (const char *)j->w + ((int64_t)p_first * j->Kp + k0 + kc) * LP_PW * elem
                               : p_after < panels ? (const char *)j->w + (int64_t)p_after * j->Kp * LP_PW * elem
                                                  : NULL;
            const int64_t next_bytes = (int64_t)(k0 + kc < j->Kp ? (j->Kp - k0 - kc < kc ? j->Kp - k0 - kc : kc) : kn) * LP_PW * elem;
            const int32_t n_tiles = (m_end - m_block + mr - 1) / mr;
            const int64_t share = (next_bytes / n_tiles + 63) / 64 * 64;
            for (int32_t m0 = m_block; m0 < m_end; m0 += mr) {
                // This tile's share of the next slice, at most two lines per k step (lowp.h).
                const int64_t from = (int64_t)((m0 - m_block) / mr) * share;
                const int64_t bytes = !next || from >= next_bytes ? 0 : from + share < next_bytes ? share : next_bytes - from;
                const int32_t steps = kn / (bf16 ? 2 : 4), lines = (int32_t)((bytes + 63) / 64);
                const char *pf = next ? next + from : NULL;
                const int32_t pf_lines = lines < 2 * steps ? lines : 2 * steps;
                const char *xp = (const char *)j->strips + ((int64_t)m0 * j->Kp + (int64_t)k0 * mr) * elem;
                int32_t *c = cbuf + ((int64_t)(p - p_first) * MC_MAX + (m0 - m_block)) * LP_PW;
                if (bf16) j->tiles.bf16((const uint16_t *)xp, kn / 2, (const uint16_t *)w, (float *)c, k0 == 0, pf,
                                       pf_lines);
                else j->tiles.q8((const int8_t *)xp, kn / 4, (const uint8_t *)w, c, k0 == 0, pf, pf_lines);
                if (last && j->out_strips) finish_tile_strips(j, (const float *)c, m0, m_end - m0 < mr ? m_end - m0 : mr, p);
                else if (last) finish_tile(j, c, m0, m_end - m0 < mr ? m_end - m0 : mr, p);
            }
        }
    }
}

// The row-major (AMX) paths' task: each tile of sums stays in the tile registers over the whole of K, so a
// tile is finished as soon as it is computed. Tokens outer, the task's panels inner: the x strip (mr rows x
// Kp) is read from L1 / L2 once per panel of the task, the task's panels (GROUP x Kp x 32, contiguous, a
// stream the hardware prefetcher follows) stay in L2 across every strip, and y gets mr rows of GROUP x 32
// contiguous features at a time.
static void rows_task(void *ctx, int32_t task, int32_t slot) {
    (void)slot;
    const struct lp_job *j = ctx;
    int32_t c[ROWS_MR_MAX * LP_PW] __attribute__((aligned(64)));
    int32_t p_first, p_last;
    dbk_unit_panels(&j->units, task, &p_first, &p_last);
    const int32_t mr = j->mr, bf16 = j->dtype == DBK_DTYPE_BF16;
    const int64_t elem = bf16 ? 2 : 1;
    if (j->path->begin) j->path->begin();
    for (int32_t m0 = 0; m0 < j->M; m0 += mr) {
        const char *xp = (const char *)j->strips + (int64_t)m0 * j->Kp * elem;
        for (int32_t p = p_first; p < p_last; p++) {
            const char *w = (const char *)j->w + (int64_t)p * j->Kp * LP_PW * elem;
            if (bf16) j->tiles.bf16_rows((const uint16_t *)xp, j->Kp, j->Kp / 2, (const uint16_t *)w, (float *)c);
            else j->tiles.q8_rows((const int8_t *)xp, j->Kp, j->Kp / 4, (const uint8_t *)w, c);
            if (j->out_strips) finish_tile_strips(j, (const float *)c, m0, j->M - m0 < mr ? j->M - m0 : mr, p);
            else finish_tile(j, c, m0, j->M - m0 < mr ? j->M - m0 : mr, p);
        }
    }
    if (j->path->end) j->path->end();
}

// Blocks of equal size (multiples of mr) no longer than MC_MAX, as in packed_linear.c: the rows of each
// but the last.
static int32_t block_rows(int32_t M, int32_t mr) {
    const int32_t mc_max = MC_MAX / mr * mr, blocks = (M + mc_max - 1) / mc_max;
    return (int32_t)round_up((M + blocks - 1) / blocks, mr);
}

// One linear: x converted into strips (unless `converted`: strips already hold x, as a previous linear's
// out_strips left them), then the tiles, into y or (bf16) into out_strips. The tiles are those chosen for
// tiles_m rows (M itself, or the whole of which these M rows are a block).
static void lowp_run(int32_t threads, int32_t dtype, int32_t path, const float *x, int32_t M, int32_t tiles_m,
                     int32_t K, const void *w, const float *wscale, int32_t N, const float *bias, int32_t activation,
                     uint8_t *scratch, int converted, void *out_strips, float *y) {
    const struct lp_path *p = path_of(path);
    const struct tiles tl = tiles_for(p, dtype, tiles_m);
    const int32_t mr = tl.mr;
    const struct layout l = layout_of(dtype, mr, M, K);
    const int32_t mc = block_rows(M, mr), blocks = (M + mc - 1) / mc;
    threads = dbk_clamp_threads(threads);
    if ((int64_t)M * K * N < MIN_PARALLEL_MACS) threads = 1;
    const struct dbk_panel_units units = dbk_panel_units((int32_t)(round_up(N, LP_PW) / LP_PW), threads, GROUP);
    const int32_t rows = (int32_t)l.rows, strips = rows / mr;
    const int32_t tasks = tl.rows ? units.count : units.count * blocks; // rows_task: a unit against every token
    const int split = tl.rows && strips < threads && (int64_t)M * K >= MIN_SPLIT_CONVERT;
    const int32_t convert_rows = split ? (rows + threads - 1) / threads : mr;
    struct lp_job job = {
        p, tl, dtype, mr, M, K, (int32_t)round_up(K, LP_KG), N, activation, x, bias, wscale, w, scratch,
        (float *)(scratch + l.strips_bytes), (int32_t *)(scratch + l.strips_bytes + round_up(l.rows * 4, 64)),
        y, mc, threads, units, rows, convert_rows, out_strips,
    };
    if (!converted) dbk_parallel(threads, convert_rows_task, &job, (rows + convert_rows - 1) / convert_rows);
    dbk_parallel(threads, tl.rows ? rows_task : tiles_task, &job, tasks);
}

static void lowp_linear(int32_t threads, int32_t dtype, int32_t path, const float *x, int32_t M, int32_t K,
                        const void *w, const float *wscale, int32_t N, const float *bias, int32_t activation,
                        uint8_t *scratch, float *y) {
    lowp_run(threads, dtype, path, x, M, M, K, w, wscale, N, bias, activation, scratch, 0, NULL, y);
}

void dbk_bf16_linear(int32_t threads, int32_t path, const float *x, int32_t M, int32_t K, const uint16_t *wp,
                     int32_t N, const float *bias, int32_t activation, uint8_t *scratch, float *y) {
    lowp_linear(threads, DBK_DTYPE_BF16, path, x, M, K, wp, NULL, N, bias, activation, scratch, y);
}

void dbk_q8_linear(int32_t threads, int32_t path, const float *x, int32_t M, int32_t K, const uint8_t *wq,
                   const float *scale, int32_t N, const float *bias, int32_t activation, uint8_t *scratch, float *y) {
    lowp_linear(threads, DBK_DTYPE_Q8, path, x, M, K, wq, scale, N, bias, activation, scratch, y);
}

// ---- a bf16 feed-forward block: the hidden layer stays in bf16 strips between its two linears

int64_t dbk_bf16_ffn_scratch_bytes(int32_t path, int32_t M, int32_t K, int32_t H) {
    const struct lp_path *p = path_of(path);
    if (!p) return 0;
    const int32_t mr = tiles_for(p, DBK_DTYPE_BF16, M).mr;
    if (mr <= 0) return 0;
    return layout_of(DBK_DTYPE_BF16, mr, M, K).strips_bytes + dbk_lowp_scratch_bytes(DBK_DTYPE_BF16, path, M, H);
}

void dbk_bf16_ffn(int32_t threads, int32_t path, const float *x, int32_t M, int32_t K, const uint16_t *w1,
                  int32_t H, const float *b1, int32_t activation, const uint16_t *w2, int32_t N, const float *b2,
                  uint8_t *scratch, float *y) {
    // Both linears on one path with the tiles chosen for M, so the same tile (mr) and strip layout: the
    // first's output strips are the second's input as they are. Token block by token block (the blocks the
    // linears would cut M into), both linears, so that a block's hidden strips are still in cache when the
    // second reads them (8x128: 0.98-0.99x the bf16 forward's time, bursts taking turns).
    const int32_t mr = tiles_for(path_of(path), DBK_DTYPE_BF16, M).mr, mc = block_rows(M, mr);
    uint8_t *hidden = scratch + layout_of(DBK_DTYPE_BF16, mr, mc, K).strips_bytes;
    for (int32_t m0 = 0; m0 < M; m0 += mc) {
        const int32_t rows = M - m0 < mc ? M - m0 : mc;
        lowp_run(threads, DBK_DTYPE_BF16, path, x + (int64_t)m0 * K, rows, M, K, w1, NULL, H, b1, activation,
                 scratch, 0, hidden, NULL);
        lowp_run(threads, DBK_DTYPE_BF16, path, NULL, rows, M, H, w2, NULL, N, b2, DBK_ACT_NONE, hidden, 1, NULL,
                 y + (int64_t)m0 * N);
    }
}
