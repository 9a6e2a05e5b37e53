// The reduced-precision linears (lowp.c, lowp_x86.c) against plain references, on every path this CPU can
// run (each forced in turn): packing, bf16 rounding and int8 quantization checked element by element; the
// q8 result of every path equal bit for bit to the plain C path's and within rounding of a double-precision
// dot product of the same integers; bf16 within fp32 summation error of a double dot product of the same
// bf16 values; odd shapes (K not a multiple of 4, N not of 32, M = 1 .. 300), every activation, thread
// counts 1-3 giving identical bits; the fused bf16 feed-forward block giving two linears' bits. Built and
// run under ASan + UBSan by tests/kernels_c_test.ts.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cpu.h"
#include "../kernels.h"
#include "check.h"

static void *xalloc(int64_t bytes) {
    void *p = malloc((size_t)(bytes > 0 ? bytes : 1));
    if (!p) abort();
    return p;
}

static double ref_act(double v, int32_t act) {
    if (act == DBK_ACT_GELU) return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    if (act == DBK_ACT_RELU) return v < 0 ? 0 : v;
    return v;
}

static const char *path_name(int32_t p) {
    static const char *names[] = {"scalar", "avx2", "avx_vnni", "vnni_ymm", "avx512", "amx"};
    return p >= 0 && p < DBK_PATH_COUNT ? names[p] : "?";
}

static void test_bf16_rounding(void) {
    const float cases[] = {1.0f, 1.00390625f, 1.001953125f, 1.005859375f, -3.3f, 0.0f, -0.0f, 1e-40f, 3.4e38f,
                           INFINITY, -INFINITY, 65504.0f, 1.0f + 1.0f / 256.0f, 1.0f + 3.0f / 256.0f};
    const int n = (int)(sizeof cases / sizeof cases[0]);
    float w[32 * 4] = {0};
    for (int i = 0; i < n; i++) w[i] = cases[i];
    uint16_t wp[32 * 64]; // K = 4 padded to 64
    dbk_pack_bf16(1, w, 32, 4, wp);
    for (int i = 0; i < n; i++) {
        const int j = i / 4, k = i % 4; // w[i] is row j, column k
        const uint16_t got = wp[(k / 2) * 64 + j * 2 + k % 2];
        CHECK(got == ref_bf16(cases[i]), "bf16(%g) = %04x, want %04x", (double)cases[i], got, ref_bf16(cases[i]));
    }
    float nan_w[32 * 4] = {NAN};
    dbk_pack_bf16(1, nan_w, 32, 4, wp);
    CHECK(isnan(bf16_to_f(wp[0])), "bf16(NaN) is not NaN");
}

// x's conversion to bf16 keeps subnormals as to_bf16 rounds them (AVX512-BF16's conversion instructions
// would flush them to zero; lowp.c falls back to integer rounding for such vectors): each output picks one
// x through a single weight of 2^100, so y is exactly bf16(x) * 2^100, or 0 for a subnormal x on the paths
// whose dot instructions take subnormal inputs as zero (kernels.h). Subnormals sit in a 32-value pair, a
// 16-value vector and the scalar tail of each row, beside vectors with none.
static void test_bf16_subnormal_x(void) {
    const int32_t M = 2, K = 120, N = 32;
    const int32_t pick[32] = {0,  5,  31,  32,  40,  41,  63,  64,  95,  96,  100, 101, 111, 112, 115, 119,
                              1,  30, 33,  47,  62,  70,  90,  97,  105, 110, 113, 114, 116, 117, 118, 50};
    float x[2 * 120], w[32 * 120] = {0}, y[2 * 32];
    for (int32_t i = 0; i < M * K; i++) x[i] = rand_float(1.0f);
    const float subs[] = {1e-40f, -3.3e-39f, 1.1754942e-38f, 1.4e-45f, -7.7e-41f};
    const int32_t at[] = {40, 41, 100, 115, 119, 47, 105, 116, 33, 62};
    for (int32_t i = 0; i < 10; i++) x[(i % 2) * K + at[i]] = subs[i % 5];
    for (int32_t n = 0; n < N; n++) w[(int64_t)n * K + pick[n]] = 0x1p100f;
    uint16_t *wp = xalloc(2 * dbk_lowp_packed_elems(N, K));
    dbk_pack_bf16(1, w, N, K, wp);
    for (int32_t path = 0; path < DBK_PATH_COUNT; path++) {
        if (!dbk_lowp_path_supported(DBK_DTYPE_BF16, path)) continue;
        uint8_t *scratch = xalloc(dbk_lowp_scratch_bytes(DBK_DTYPE_BF16, path, M, K));
        dbk_bf16_linear(1, path, x, M, K, wp, N, NULL, DBK_ACT_NONE, scratch, y);
        free(scratch);
        const int daz = path == DBK_PATH_AVX512 || path == DBK_PATH_AMX;
        int bad = 0;
        for (int32_t t = 0; t < M; t++)
            for (int32_t n = 0; n < N; n++) {
                const float xb = bf16_to_f(ref_bf16(x[t * K + pick[n]]));
                bad += y[t * N + n] != (daz && fabsf(xb) < 0x1p-126f ? 0.0f : xb * 0x1p100f);
            }
        CHECK(bad == 0, "bf16 %s: %d outputs not bf16(x) * 2^100 around subnormal x", path_name(path), bad);
    }
    free(wp);
}

// Packing: every element lands where kernels.h says, padding zero (bf16) or 128 (q8: q = 0).
static void test_packing(int32_t N, int32_t K) {
    float *w = xalloc(4LL * N * K);
    uint16_t *bits = xalloc(2LL * N * K);
    for (int64_t i = 0; i < (int64_t)N * K; i++) {
        w[i] = rand_float(2.0f);
        bits[i] = (uint16_t)next_u32();
    }
    if (N > 1) memset(w + (int64_t)(N - 1) * K, 0, 4 * (size_t)K); // an all-zero row: scale 0
    const int64_t Np = (N + 31) / 32 * 32, Kp = (K + 63) / 64 * 64, elems = dbk_lowp_packed_elems(N, K);
    CHECK(elems == Np * Kp, "packed elems %lld for %dx%d", (long long)elems, N, K);
    uint16_t *wp = xalloc(2 * elems), *wb = xalloc(2 * elems);
    uint8_t *wq = xalloc(elems);
    float *scale = xalloc(4 * Np);
    dbk_pack_bf16(2, w, N, K, wp);
    dbk_pack_bf16_bits(2, bits, N, K, wb);
    dbk_pack_q8(2, w, N, K, wq, scale);
    int bad_bf16 = 0, bad_bits = 0, bad_q8 = 0, bad_scale = 0;
    for (int64_t n = 0; n < Np; n++) {
        float amax = 0;
        for (int64_t k = 0; n < N && k < K; k++) amax = fmaxf(amax, fabsf(w[n * K + k]));
        if (n < N && fabsf(scale[n] - amax / 127.0f) > 0) bad_scale++;
        if (n >= N && scale[n] != 0.0f) bad_scale++;
        for (int64_t k = 0; k < Kp; k++) {
            const int64_t p = n / 32, j = n % 32;
            const uint16_t gb = wp[(p * Kp / 2 + k / 2) * 64 + j * 2 + k % 2];
            const uint16_t gbits = wb[(p * Kp / 2 + k / 2) * 64 + j * 2 + k % 2];
            const uint8_t gq = wq[(p * Kp / 4 + k / 4) * 128 + j * 4 + k % 4];
            const int in = n < N && k < K;
            if (gb != (in ? ref_bf16(w[n * K + k]) : 0)) bad_bf16++;
            if (gbits != (in ? bits[n * K + k] : 0)) bad_bits++;
            int32_t want = 0;
            if (in && amax > 0) {
                want = (int32_t)lrint((double)(w[n * K + k] * (127.0f / amax)));
                want = want > 127 ? 127 : want < -127 ? -127 : want;
            }
            if ((int32_t)gq - 128 != want) bad_q8++;
        }
    }
    CHECK(!bad_bf16 && !bad_bits && !bad_q8 && !bad_scale, "packing %dx%d: bad bf16 %d, bits %d, q8 %d, scales %d",
          N, K, bad_bf16, bad_bits, bad_q8, bad_scale);
    free(w), free(bits), free(wp), free(wb), free(wq), free(scale);
}

// One shape on every supported path of both dtypes.
static void test_linear(int32_t M, int32_t K, int32_t N, int with_bias, int32_t act, int32_t threads) {
    float *x = xalloc(4LL * M * K), *w = xalloc(4LL * N * K), *bias = xalloc(4LL * N);
    for (int64_t i = 0; i < (int64_t)M * K; i++) x[i] = rand_float(3.0f);
    for (int64_t i = 0; i < (int64_t)N * K; i++) w[i] = rand_float(0.2f);
    for (int32_t n = 0; n < N; n++) bias[n] = rand_float(1.0f);
    if (M > 2) memset(x + K, 0, 4 * (size_t)K); // an all-zero row
    const int64_t elems = dbk_lowp_packed_elems(N, K), Np = (N + 31) / 32 * 32;
    uint16_t *wp = xalloc(2 * elems);
    uint8_t *wq = xalloc(elems);
    float *scale = xalloc(4 * Np);
    dbk_pack_bf16(threads, w, N, K, wp);
    dbk_pack_q8(threads, w, N, K, wq, scale);
    float *y = xalloc(4LL * M * N), *y1 = xalloc(4LL * M * N), *yq_ref = xalloc(4LL * M * N);
    const float *b = with_bias ? bias : NULL;

    // q8: the plain C path is the reference for the others; it is checked against doubles here.
    int64_t sb = dbk_lowp_scratch_bytes(DBK_DTYPE_Q8, DBK_PATH_SCALAR, M, K);
    uint8_t *scratch = xalloc(sb);
    dbk_q8_linear(threads, DBK_PATH_SCALAR, x, M, K, wq, scale, N, b, act, scratch, yq_ref);
    free(scratch);
    double worst_q = 0;
    for (int32_t t = 0; t < M; t++) {
        float amax = 0;
        for (int32_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(x[(int64_t)t * K + k]));
        const float inv = amax > 0 ? 127.0f / amax : 0.0f;
        for (int32_t n = 0; n < N; n++) {
            int64_t dot = 0;
            for (int32_t k = 0; k < K; k++) {
                int32_t qx = (int32_t)lrint((double)(x[(int64_t)t * K + k] * inv));
                qx = qx > 127 ? 127 : qx < -127 ? -127 : qx;
                dot += (int64_t)qx * ((int32_t)wq[((n / 32) * ((K + 63) / 64 * 16) + k / 4) * 128 + (n % 32) * 4 + k % 4] - 128);
            }
            const double v = ref_act((double)dot * ((double)amax / 127.0) * scale[n] + (b ? b[n] : 0.0), act);
            const double e = fabs(yq_ref[(int64_t)t * N + n] - v) / (1e-5 + 1e-5 * fabs(v));
            if (e > worst_q) worst_q = e;
        }
    }
    CHECK(worst_q <= 1.0, "q8 scalar M=%d K=%d N=%d act=%d: off the double reference by %g tolerances", M, K, N, act,
          worst_q);
    for (int32_t path = 1; path < DBK_PATH_COUNT; path++) {
        if (!dbk_lowp_path_supported(DBK_DTYPE_Q8, path)) continue;
        sb = dbk_lowp_scratch_bytes(DBK_DTYPE_Q8, path, M, K);
        scratch = xalloc(sb);
        dbk_q8_linear(threads, path, x, M, K, wq, scale, N, b, act, scratch, y);
        dbk_q8_linear(1, path, x, M, K, wq, scale, N, b, act, scratch, y1);
        free(scratch);
        CHECK(memcmp(y, yq_ref, 4 * (size_t)M * N) == 0, "q8 %s M=%d K=%d N=%d act=%d differs from the C path",
              path_name(path), M, K, N, act);
        CHECK(memcmp(y, y1, 4 * (size_t)M * N) == 0, "q8 %s: %d threads differ from 1", path_name(path), threads);
    }

    // bf16: every path against a double dot product of the same bf16 values, within fp32 summation error.
    for (int32_t path = 0; path < DBK_PATH_COUNT; path++) {
        if (!dbk_lowp_path_supported(DBK_DTYPE_BF16, path)) continue;
        sb = dbk_lowp_scratch_bytes(DBK_DTYPE_BF16, path, M, K);
        scratch = xalloc(sb);
        dbk_bf16_linear(threads, path, x, M, K, wp, N, b, act, scratch, y);
        dbk_bf16_linear(1, path, x, M, K, wp, N, b, act, scratch, y1);
        free(scratch);
        CHECK(memcmp(y, y1, 4 * (size_t)M * N) == 0, "bf16 %s: %d threads differ from 1", path_name(path), threads);
        double worst_b = 0;
        for (int32_t t = 0; t < M; t++)
            for (int32_t n = 0; n < N; n++) {
                double dot = 0, mag = 0;
                for (int32_t k = 0; k < K; k++) {
                    const double p = (double)bf16_to_f(ref_bf16(x[(int64_t)t * K + k])) *
                                     bf16_to_f(ref_bf16(w[(int64_t)n * K + k]));
                    dot += p;
                    mag += fabs(p);
                }
                const double pre = dot + (b ? b[n] : 0.0), v = ref_act(pre, act);
                // fp32 sums of K terms: a few ulps of the magnitude sum per term in the worst case; then the
                // activation (gelu's slope is at most 1.13) and the epilogue's rational GELU (1.1e-6 absolute
                // at worst, vecmath.h).
                const double tol = 1e-6 + 2.0 * 6e-8 * sqrt((double)K) * (mag + fabs(pre)) * 4 + 1e-6 * fabs(v);
                const double e = fabs(y[(int64_t)t * N + n] - v) / tol;
                if (e > worst_b) worst_b = e;
            }
        CHECK(worst_b <= 1.0, "bf16 %s M=%d K=%d N=%d act=%d: error %g tolerances", path_name(path), M, K, N, act,
              worst_b);
    }
    free(x), free(w), free(bias), free(wp), free(wq), free(scale), free(y), free(y1), free(yq_ref);
}

// y = x . w^T on one thread, no bias or activation, in dtype dt on path: w packed as q8 (wq, scale) or bf16 (wp).
static void plain_linear(int32_t dt, int32_t path, const float *x, int32_t M, int32_t K, const uint8_t *wq,
                         const float *scale, const uint16_t *wp, int32_t N, float *y) {
    uint8_t *scratch = xalloc(dbk_lowp_scratch_bytes(dt, path, M, K));
    if (dt == DBK_DTYPE_Q8) dbk_q8_linear(1, path, x, M, K, wq, scale, N, NULL, DBK_ACT_NONE, scratch, y);
    else dbk_bf16_linear(1, path, x, M, K, wp, N, NULL, DBK_ACT_NONE, scratch, y);
    free(scratch);
}

// Special values: NaN in a row of x makes that row's outputs NaN on every path, and leaves the other rows.
static void test_nan_rows(void) {
    const int32_t M = 5, K = 64, N = 32;
    float x[5 * 64], w[32 * 64], y[5 * 32];
    for (int i = 0; i < M * K; i++) x[i] = rand_float(1.0f);
    for (int i = 0; i < N * K; i++) w[i] = rand_float(1.0f);
    x[2 * K + 7] = NAN;
    uint8_t wq[32 * 64];
    uint16_t wp[32 * 64];
    float scale[32];
    dbk_pack_q8(1, w, N, K, wq, scale);
    dbk_pack_bf16(1, w, N, K, wp);
    for (int32_t path = 0; path < DBK_PATH_COUNT; path++)
        for (int32_t dt = DBK_DTYPE_BF16; dt <= DBK_DTYPE_Q8; dt++) {
            if (!dbk_lowp_path_supported(dt, path)) continue;
            plain_linear(dt, path, x, M, K, wq, scale, wp, N, y);
            int nan_row = 1, other_finite = 1;
            for (int32_t t = 0; t < M; t++)
                for (int32_t n = 0; n < N; n++) {
                    if (t == 2) nan_row &= isnan(y[t * N + n]) != 0;
                    else other_finite &= isfinite(y[t * N + n]) != 0;
                }
            CHECK(nan_row && other_finite, "%s %s: NaN row not NaN (%d) or other rows not finite (%d)",
                  dt == DBK_DTYPE_Q8 ? "q8" : "bf16", path_name(path), nan_row, other_finite);
        }
}

// Special values in the weights: a NaN makes its output feature NaN for every row on every path, as in
// fp32 (q8's scale for the row is NaN: fmaxf alone would skip the NaN and give finite outputs), an infinity
// makes its feature non-finite, and the other features stay finite. N and K off the panel widths.
static void test_nan_weights(void) {
    const int32_t M = 3, K = 70, N = 40, nan_n = 3, inf_n = 35;
    float x[3 * 70], w[40 * 70], y[3 * 40];
    for (int i = 0; i < M * K; i++) x[i] = rand_float(1.0f);
    for (int i = 0; i < N * K; i++) w[i] = rand_float(1.0f);
    w[nan_n * K + 5] = NAN;
    w[inf_n * K + 69] = INFINITY;
    const int64_t elems = dbk_lowp_packed_elems(N, K);
    uint8_t *wq = xalloc(elems);
    uint16_t *wp = xalloc(2 * elems);
    float scale[64];
    dbk_pack_q8(1, w, N, K, wq, scale);
    dbk_pack_bf16(1, w, N, K, wp);
    CHECK(isnan(scale[nan_n]) && isfinite(scale[0]), "q8 scale of a row with NaN: %g (row 0: %g)",
          (double)scale[nan_n], (double)scale[0]);
    for (int32_t path = 0; path < DBK_PATH_COUNT; path++)
        for (int32_t dt = DBK_DTYPE_BF16; dt <= DBK_DTYPE_Q8; dt++) {
            if (!dbk_lowp_path_supported(dt, path)) continue;
            plain_linear(dt, path, x, M, K, wq, scale, wp, N, y);
            int nan_col = 1, inf_col = 1, other_finite = 1;
            for (int32_t t = 0; t < M; t++)
                for (int32_t n = 0; n < N; n++) {
                    const float v = y[t * N + n];
                    if (n == nan_n) nan_col &= isnan(v) != 0;
                    else if (n == inf_n) inf_col &= !isfinite(v);
                    else other_finite &= isfinite(v) != 0;
                }
            CHECK(nan_col && inf_col && other_finite,
                  "%s %s: NaN weight's feature not NaN (%d), inf weight's finite (%d) or others not finite (%d)",
                  dt == DBK_DTYPE_Q8 ? "q8" : "bf16", path_name(path), nan_col, inf_col, other_finite);
        }
    free(wq), free(wp);
}

// dbk_bf16_ffn against two dbk_bf16_linear calls on every bf16 path: the same bits (its hidden layer goes
// into the second linear's strips straight from the first's epilogue), including rows with NaN and inf,
// hidden widths not a multiple of 32 or 64 (the strips' zero padding), and M at the tile and block edges.
static void test_ffn(int32_t M, int32_t K, int32_t H, int32_t N, int with_bias, int32_t act, int32_t threads) {
    float *x = xalloc(4LL * M * K), *w1 = xalloc(4LL * H * K), *w2 = xalloc(4LL * N * H);
    float *b1 = xalloc(4LL * H), *b2 = xalloc(4LL * N);
    for (int64_t i = 0; i < (int64_t)M * K; i++) x[i] = rand_float(3.0f);
    for (int64_t i = 0; i < (int64_t)H * K; i++) w1[i] = rand_float(0.2f);
    for (int64_t i = 0; i < (int64_t)N * H; i++) w2[i] = rand_float(0.2f);
    for (int32_t i = 0; i < H; i++) b1[i] = rand_float(1.0f);
    for (int32_t i = 0; i < N; i++) b2[i] = rand_float(1.0f);
    if (M > 3) x[(int64_t)2 * K] = NAN, x[(int64_t)3 * K + K / 2] = INFINITY;
    uint16_t *p1 = xalloc(2 * dbk_lowp_packed_elems(H, K)), *p2 = xalloc(2 * dbk_lowp_packed_elems(N, H));
    dbk_pack_bf16(threads, w1, H, K, p1);
    dbk_pack_bf16(threads, w2, N, H, p2);
    float *h = xalloc(4LL * M * H), *y_two = xalloc(4LL * M * N), *y_ffn = xalloc(4LL * M * N);
    for (int32_t path = 0; path < DBK_PATH_COUNT; path++) {
        if (!dbk_lowp_path_supported(DBK_DTYPE_BF16, path)) continue;
        const int64_t s1 = dbk_lowp_scratch_bytes(DBK_DTYPE_BF16, path, M, K);
        const int64_t s2 = dbk_lowp_scratch_bytes(DBK_DTYPE_BF16, path, M, H);
        const int64_t sf = dbk_bf16_ffn_scratch_bytes(path, M, K, H);
        uint8_t *scratch = xalloc(s1 > s2 ? s1 : s2), *fscratch = xalloc(sf);
        dbk_bf16_linear(threads, path, x, M, K, p1, H, with_bias ? b1 : NULL, act, scratch, h);
        dbk_bf16_linear(threads, path, h, M, H, p2, N, with_bias ? b2 : NULL, DBK_ACT_NONE, scratch, y_two);
        memset(fscratch, 0xff, (size_t)sf); // stale bytes (bf16 NaNs), as a reused scratch may hold
        memset(y_ffn, 0, 4 * (size_t)M * N);
        dbk_bf16_ffn(threads, path, x, M, K, p1, H, with_bias ? b1 : NULL, act, p2, N, with_bias ? b2 : NULL,
                     fscratch, y_ffn);
        CHECK(memcmp(y_two, y_ffn, 4 * (size_t)M * N) == 0,
              "bf16 ffn %dx%dx%dx%d path %s act %d threads %d: not the bits of two linears", M, K, H, N,
              path_name(path), act, threads);
        free(scratch), free(fscratch);
    }
    free(x), free(w1), free(w2), free(b1), free(b2), free(p1), free(p2), free(h), free(y_two), free(y_ffn);
}

static void ffn_cases(void) {
    test_ffn(1, 64, 128, 64, 1, DBK_ACT_GELU, 1);
    test_ffn(5, 37, 70, 33, 0, DBK_ACT_RELU, 2);
    test_ffn(13, 96, 200, 40, 1, DBK_ACT_GELU, 3);
    test_ffn(32, 768, 3072, 768, 1, DBK_ACT_GELU, 2); // base, 32 tokens
    test_ffn(300, 130, 96, 70, 1, DBK_ACT_NONE, 2);    // two token blocks
    test_ffn(601, 64, 96, 40, 0, DBK_ACT_GELU, 3);     // three, the last short
    test_ffn(1024, 96, 128, 64, 1, DBK_ACT_GELU, 2);   // 8x128's four
    test_ffn(37, 64, 1030, 32, 1, DBK_ACT_GELU, 2);    // H past a panel and a k group
}

// Every path against the reference, over shapes at the edges of the driver's blocking.
static void linear_cases(void) {
    ffn_cases();
    test_nan_rows();
    test_nan_weights();
    const int32_t ms[] = {1, 2, 3, 5, 11, 12, 13, 25, 64, 130, 300};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        const int32_t K = (int32_t[]){4, 37, 64, 255, 768, 1030}[i % 6];
        const int32_t N = (int32_t[]){32, 37, 96, 5, 64}[i % 5];
        test_linear(ms[i], K, N, (int)(i % 2), (int32_t)(i % 3), 1 + (int32_t)(i % 3));
    }
    test_linear(26, 768, 3072, 1, DBK_ACT_GELU, 2); // base lin1, threaded
    test_linear(40, 3072, 768, 1, DBK_ACT_NONE, 2);  // base lin2 (several k slices)
    test_linear(270, 200, 70, 0, DBK_ACT_RELU, 3);   // two row blocks
    test_linear(300, 64, 13 * 32, 1, DBK_ACT_GELU, 2); // groups, then single panels, over two row blocks
    test_linear(12, 3072, 64, 1, DBK_ACT_NONE, 3);  // a lone AMX strip converted by three threads
}

int main(void) {
    rng = 0x2545f4914f6cdd1dull; // this harness's own sequence
    printf("lowp paths on this CPU: bf16");
    for (int32_t p = 0; p < DBK_PATH_COUNT; p++)
        if (dbk_lowp_path_supported(DBK_DTYPE_BF16, p)) printf(" %s", path_name(p));
    printf("; q8");
    for (int32_t p = 0; p < DBK_PATH_COUNT; p++)
        if (dbk_lowp_path_supported(DBK_DTYPE_Q8, p)) printf(" %s", path_name(p));
    printf("; best bf16 %s, q8 %s\n", path_name(dbk_lowp_best_path(DBK_DTYPE_BF16)),
           path_name(dbk_lowp_best_path(DBK_DTYPE_Q8)));
    CHECK(dbk_lowp_path_supported(DBK_DTYPE_Q8, DBK_PATH_SCALAR) && dbk_lowp_path_supported(DBK_DTYPE_BF16, 0),
          "the plain C path must always run");
    CHECK(!dbk_lowp_path_supported(DBK_DTYPE_BF16, DBK_PATH_AVX_VNNI) && !dbk_lowp_path_supported(7, 0) &&
              !dbk_lowp_path_supported(DBK_DTYPE_Q8, DBK_PATH_COUNT) && dbk_lowp_best_path(9) == -1,
          "unknown dtypes and paths must be refused");
    test_bf16_rounding();
    test_bf16_subnormal_x();
    const int32_t shapes[][2] = {{32, 4}, {32, 768}, {37, 37}, {64, 3}, {1, 1}, {33, 130}, {96, 1030}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_packing(shapes[i][0], shapes[i][1]);
    // Both forms of x broadcast in the AVX-512 tiles (cpu.h), whichever this CPU would choose.
    printf("AVX-512 tiles: x %s on this CPU\n", dbk_x_in_register() ? "in a register" : "as embedded broadcasts");
    for (int32_t form = 0; form < 2; form++) {
        dbk_force_x_in_register(form);
        linear_cases();
    }
    dbk_force_x_in_register(-1);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("test_lowp: all checks passed\n");
    return 0;
}
