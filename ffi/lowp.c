// Reduced precision linear layers (bf16 and int8, contract in kernels.h): weight packing at load, and the
// per-call driver shared by every micro-kernel path: x converted (bf16) or quantized (q8) into strips, the
// tiles blocked for the caches and split over threads, and one epilogue (dequantization, bias, activation).
//
// Blocking as in packed_linear.c: threads split the output panels (GROUP per task), so each owns its columns
// of y; tokens in blocks of at most MC rows (the block's x slice stays in L2), k in slices of KC (a 16 KB
// weight slice stays in L1 while every strip of the block passes over it); a block's sums wait in a buffer
// on the stack across the k slices.
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "lowp.h"
#include "pool.h"
#include "vecmath.h"

#define GROUP 4
#define MC_MAX 264
#define KC_Q8 512   // k per slice: 512 x 32 int8 = 16 KB of weights
#define KC_BF16 256 // 256 x 32 bf16 = 16 KB
#define MIN_PARALLEL_MACS 1048576

static inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// ---- bf16 and int8 conversions

// fp32 -> bf16, round to nearest even; NaN stays NaN (quiet), infinities stay infinite.
static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

static inline float from_bf16(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---- the plain C reference path (any CPU; the SIMD paths are checked against it)

#define REF_MR 4

static void bf16_tile_ref(const uint16_t *xp, int32_t kp, const uint16_t *w, float *c, int32_t first) {
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

static void q8_tile_ref(const int8_t *xp, int32_t kq, const uint8_t *w, int32_t *c, int32_t first) {
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

static const struct lp_path REF_PATH = {REF_MR, REF_MR, bf16_tile_ref, q8_tile_ref, 0};

static const struct lp_path *path_of(int32_t path) {
    return path == DBK_PATH_SCALAR ? &REF_PATH : lp_x86_path(path);
}

int32_t dbk_lowp_path_supported(int32_t dtype, int32_t path) {
    if (dtype != DBK_DTYPE_BF16 && dtype != DBK_DTYPE_Q8) return 0;
    if (path < 0 || path >= DBK_PATH_COUNT) return 0;
    const struct lp_path *p = path_of(path);
    if (!p || (dtype == DBK_DTYPE_BF16 ? !p->bf16 : !p->q8)) return 0;
    return path == DBK_PATH_SCALAR ? 1 : lp_x86_supported(dtype, path);
}

int32_t dbk_lowp_best_path(int32_t dtype) {
    if (dtype != DBK_DTYPE_BF16 && dtype != DBK_DTYPE_Q8) return -1;
    static const int32_t order[] = {DBK_PATH_AVX512, DBK_PATH_AVX_VNNI, DBK_PATH_AVX2};
    for (int i = 0; i < 3; i++)
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
        for (int32_t k = 0; row && k < j->K; k++) amax = fmaxf(amax, fabsf(row[k]));
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        j->scale[n] = amax / 127.0f;
        for (int64_t k = 0; k < Kp; k++) {
            float q = row && k < j->K ? rintf(row[k] * inv) : 0.0f;
            q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
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

static struct layout layout_of(int32_t dtype, int32_t mr, int32_t M, int32_t K) {
    const int64_t rows = round_up(M, mr), Kp = round_up(K, LP_KG);
    struct layout l = {round_up(rows * Kp * (dtype == DBK_DTYPE_BF16 ? 2 : 1), 64), rows};
    return l;
}

int64_t dbk_lowp_scratch_bytes(int32_t dtype, int32_t path, int32_t M, int32_t K) {
    const struct lp_path *p = path_of(path);
    if (!p || (dtype != DBK_DTYPE_BF16 && dtype != DBK_DTYPE_Q8)) return 0;
    const int32_t mr = dtype == DBK_DTYPE_BF16 ? p->bf16_mr : p->q8_mr;
    if (mr <= 0) return 0;
    const struct layout l = layout_of(dtype, mr, M, K);
    return l.strips_bytes + 2 * round_up(l.rows * 4, 64);
}

struct lp_job {
    const struct lp_path *path;
    int32_t dtype, mr, M, K, Kp, N, activation;
    const float *x, *bias, *wscale;
    const void *w;
    void *strips;
    float *xscale;
    int32_t *xsum;
    float *y;
    int32_t mc;
};

// Strip s of x: rows s * mr .. s * mr + mr, converted (bf16) or quantized (q8), rows past M zero.
static void convert_strip_task(void *ctx, int32_t s, int32_t slot) {
    (void)slot;
    const struct lp_job *j = ctx;
    const int32_t mr = j->mr;
    const int64_t Kp = j->Kp, base = (int64_t)s * mr * Kp;
    for (int32_t r = 0; r < mr; r++) {
        const int32_t t = s * mr + r;
        const float *row = j->x + (int64_t)t * j->K;
        if (j->dtype == DBK_DTYPE_BF16) {
            uint16_t *dst = (uint16_t *)j->strips + base;
            for (int64_t k = 0; k < Kp; k++)
                dst[(k / 2) * 2 * mr + 2 * r + k % 2] = t < j->M && k < j->K ? to_bf16(row[k]) : 0;
            continue;
        }
        int8_t *dst = (int8_t *)j->strips + base;
        float amax = 0.0f;
        int32_t nan = 0;
        if (t < j->M)
            for (int32_t k = 0; k < j->K; k++) {
                amax = fmaxf(amax, fabsf(row[k]));
                nan |= row[k] != row[k];
            }
        // A NaN in the row makes its scale NaN, and an infinity makes inv 0 and the scale infinite: either
        // way the row's outputs come out NaN, as the float computation's would, never a finite guess.
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (int64_t k = 0; k < Kp; k++) {
            int32_t q = 0;
            if (t < j->M && k < j->K) {
                // rintf of the rounded product (no fused multiply-add can change which integer a tie goes to).
                float v = rintf(row[k] * inv);
                v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
                q = v == v ? (int32_t)v : 0;
            }
            sum += q;
            dst[(k / 4) * 4 * mr + 4 * r + k % 4] = (int8_t)q;
        }
        j->xscale[t] = t >= j->M ? 0.0f : nan ? NAN : amax / 127.0f;
        j->xsum[t] = sum;
    }
}

// Rows m .. m + rows of y, panel p, from the tile's sums.
static void finish_tile(const struct lp_job *j, const void *csum, int32_t m, int32_t rows, int32_t p) {
    const int32_t n0 = p * LP_PW, width = j->N - n0 < LP_PW ? j->N - n0 : LP_PW;
    for (int32_t r = 0; r < rows; r++) {
        const int32_t t = m + r;
        float v[LP_PW] __attribute__((aligned(64)));
        if (j->dtype == DBK_DTYPE_BF16) {
            memcpy(v, (const float *)csum + (int64_t)r * LP_PW, sizeof v);
        } else {
            const int32_t *c = (const int32_t *)csum + (int64_t)r * LP_PW;
            const int32_t comp = j->path->q8_biased ? 128 * j->xsum[t] : 0;
            const float xs = j->xscale[t];
            for (int32_t i = 0; i < LP_PW; i++) v[i] = (float)(c[i] - comp) * (xs * j->wscale[n0 + i]);
        }
        if (j->bias)
            for (int32_t i = 0; i < width; i++) v[i] += j->bias[n0 + i];
        float *y = j->y + (int64_t)t * j->N + n0;
        for (int32_t i = 0; i < LP_PW; i += DBK_VW) {
            if (i >= width) break;
            const dbk_vf a = dbk_vactivate(dbk_loadu(v + i), j->activation);
            if (width - i >= DBK_VW) dbk_storeu(y + i, a);
            else dbk_store_partial(y + i, a, width - i);
        }
    }
}

// A task: GROUP panels against every token, a block of at most mc rows at a time.
static void tiles_task(void *ctx, int32_t task, int32_t slot) {
    (void)slot;
    const struct lp_job *j = ctx;
    // Sums of the block: GROUP panels x mc rows x 32 (4-byte float or int32 either way).
    int32_t cbuf[GROUP * MC_MAX * LP_PW] __attribute__((aligned(64)));
    const int32_t panels = (int32_t)(round_up(j->N, LP_PW) / LP_PW), p_first = task * GROUP;
    const int32_t p_last = p_first + GROUP < panels ? p_first + GROUP : panels;
    const int32_t mr = j->mr, bf16 = j->dtype == DBK_DTYPE_BF16;
    const int32_t kc = bf16 ? KC_BF16 : KC_Q8;
    const int64_t elem = bf16 ? 2 : 1;
    for (int32_t m_block = 0; m_block < j->M; m_block += j->mc) {
        const int32_t m_end = m_block + j->mc < j->M ? m_block + j->mc : j->M;
        for (int32_t k0 = 0; k0 < j->Kp; k0 += kc) {
            const int32_t kn = j->Kp - k0 < kc ? j->Kp - k0 : kc, last = k0 + kn == j->Kp;
            for (int32_t p = p_first; p < p_last; p++) {
                const char *w = (const char *)j->w + ((int64_t)p * j->Kp + k0) * LP_PW * elem;
                for (int32_t m0 = m_block; m0 < m_end; m0 += mr) {
                    const char *xp = (const char *)j->strips + ((int64_t)m0 * j->Kp + (int64_t)k0 * mr) * elem;
                    int32_t *c = cbuf + ((int64_t)(p - p_first) * MC_MAX + (m0 - m_block)) * LP_PW;
                    if (bf16) j->path->bf16((const uint16_t *)xp, kn / 2, (const uint16_t *)w, (float *)c, k0 == 0);
                    else j->path->q8((const int8_t *)xp, kn / 4, (const uint8_t *)w, c, k0 == 0);
                    if (last) finish_tile(j, c, m0, m_end - m0 < mr ? m_end - m0 : mr, p);
                }
            }
        }
    }
}

static void lowp_linear(int32_t threads, int32_t dtype, int32_t path, const float *x, int32_t M, int32_t K,
                        const void *w, const float *wscale, int32_t N, const float *bias, int32_t activation,
                        uint8_t *scratch, float *y) {
    const struct lp_path *p = path_of(path);
    const int32_t mr = dtype == DBK_DTYPE_BF16 ? p->bf16_mr : p->q8_mr;
    const struct layout l = layout_of(dtype, mr, M, K);
    // Blocks of equal size (multiples of mr) no longer than MC_MAX, as in packed_linear.c.
    const int32_t mc_max = MC_MAX / mr * mr, blocks = (M + mc_max - 1) / mc_max;
    const int32_t mc = (int32_t)round_up((M + blocks - 1) / blocks, mr);
    struct lp_job job = {
        p, dtype, mr, M, K, (int32_t)round_up(K, LP_KG), N, activation, x, bias, wscale, w, scratch,
        (float *)(scratch + l.strips_bytes), (int32_t *)(scratch + l.strips_bytes + round_up(l.rows * 4, 64)),
        y, mc,
    };
    threads = dbk_clamp_threads(threads);
    if ((int64_t)M * K * N < MIN_PARALLEL_MACS) threads = 1;
    const int32_t strips = (int32_t)(l.rows / mr);
    const int32_t tasks = (int32_t)((round_up(N, LP_PW) / LP_PW + GROUP - 1) / GROUP);
    dbk_parallel(threads, convert_strip_task, &job, strips);
    dbk_parallel(threads, tiles_task, &job, tasks);
}

void dbk_bf16_linear(int32_t threads, int32_t path, const float *x, int32_t M, int32_t K, const uint16_t *wp,
                     int32_t N, const float *bias, int32_t activation, uint8_t *scratch, float *y) {
    lowp_linear(threads, DBK_DTYPE_BF16, path, x, M, K, wp, NULL, N, bias, activation, scratch, y);
}

void dbk_q8_linear(int32_t threads, int32_t path, const float *x, int32_t M, int32_t K, const uint8_t *wq,
                   const float *scale, int32_t N, const float *bias, int32_t activation, uint8_t *scratch, float *y) {
    lowp_linear(threads, DBK_DTYPE_Q8, path, x, M, K, wq, scale, N, bias, activation, scratch, y);
}
