// Internal to the kernels (not part of the FFI surface): fixed-width float vectors through GCC/Clang
// vector extensions, and branch-free exp / erf / gelu on them. Plain C, no intrinsics: on x86 with
// -march=native the vector type maps to one zmm (AVX-512) or ymm (AVX/AVX2) register; elsewhere the
// compiler splits it into the native width. FMAs come from -ffp-contract=fast (see ffi/build.ts).
//
// Accuracy (checked by ffi/test/test_kernels.c against double-precision libm over a dense sweep):
// - dbk_vexp: Cephes expf (split ln2, degree-6 polynomial), <= 2 ulp on [-87.3, 88.7]; subnormal
//   results to within one subnormal step; x > 88.72 -> +inf; x < -104 -> 0; NaN -> NaN.
// - dbk_verf: Abramowitz-Stegun 7.1.26 (what PyTorch's vectorised CPU GELU uses), absolute error
//   about 2e-7 (1.5e-7 from the formula, the rest float rounding); +-inf -> +-1; NaN -> NaN.
// - dbk_vgelu: 0.5*x*(1 + erf(x/sqrt(2))) as torch computes it; gelu(+inf) = +inf, gelu(x) = 0 for
//   x < -16 including -inf (the true value is below 1e-57 in magnitude), NaN -> NaN.
// - dbk_vgelu_rational: erf(x/sqrt(2)) as one rational function of x (scripts/fit_gelu_rational.py), for the
//   reduced-precision linears' epilogues: absolute error 1.1e-6 at worst (near |x| = 5.5, float rounding of
//   erf near +-1), relative 4e-6 for x > -2 and 3e-4 in the negative tail (where 1 + erf cancels), against
//   the 4e-3 steps of the bf16 (or coarser int8) values around it; 0.6x dbk_vgelu's time. Same special
//   values.
#ifndef DISTILBERT_VECMATH_H
#define DISTILBERT_VECMATH_H

#include <stdint.h>
#include <string.h>

#include "kernels.h"

#if defined(__AVX512F__)
#define DBK_VW 16
#else
#define DBK_VW 8
#endif

typedef float dbk_vf __attribute__((vector_size(DBK_VW * 4)));
typedef int32_t dbk_vi __attribute__((vector_size(DBK_VW * 4)));
typedef uint32_t dbk_vu __attribute__((vector_size(DBK_VW * 4)));
typedef float dbk_v8 __attribute__((vector_size(32)));
typedef float dbk_v4 __attribute__((vector_size(16)));
typedef int32_t dbk_v4i __attribute__((vector_size(16)));

// fp32 bits -> bf16, rounded to nearest even, NaN kept NaN (quieted), infinities infinite: the bf16 in the
// high 16 bits, the low 16 zero (so the word, read as a float, is the bf16 value). Per lane, and for one.
static inline dbk_vu dbk_bf16_round_bits(dbk_vu u) {
    const dbk_vu rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    const dbk_vu nan = (dbk_vu)((u & 0x7fffffffu) > 0x7f800000u); // all ones where NaN
    return (((u | 0x00400000u) & 0xffff0000u) & nan) | (rounded & ~nan);
}
static inline uint32_t dbk_bf16_round_bits1(uint32_t u) {
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u | 0x00400000u) & 0xffff0000u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
}

static inline dbk_vf dbk_loadu(const float *p) {
    dbk_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void dbk_storeu(float *p, dbk_vf v) { memcpy(p, &v, sizeof v); }
static inline dbk_v8 dbk_loadu8(const float *p) {
    dbk_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void dbk_storeu8(float *p, dbk_v8 v) { memcpy(p, &v, sizeof v); }
// 4-float vectors, for 4 x 4 transposes.
static inline dbk_v4 dbk_loadu4(const float *p) {
    dbk_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void dbk_storeu4(float *p, dbk_v4 v) { memcpy(p, &v, sizeof v); }
// dst[c * dst_stride + r] = src[r * src_stride + c] for r, c < 4: a 4 x 4 block transposed in registers,
// four 16-byte loads and stores instead of sixteen scalar ones (or gathers).
static inline void dbk_transpose4(const float *src, int64_t src_stride, float *dst, int64_t dst_stride) {
    const dbk_v4 a = dbk_loadu4(src), b = dbk_loadu4(src + src_stride), c = dbk_loadu4(src + 2 * src_stride),
                 d = dbk_loadu4(src + 3 * src_stride);
    const dbk_v4 ab_lo = __builtin_shuffle(a, b, (dbk_v4i){0, 4, 1, 5});
    const dbk_v4 ab_hi = __builtin_shuffle(a, b, (dbk_v4i){2, 6, 3, 7});
    const dbk_v4 cd_lo = __builtin_shuffle(c, d, (dbk_v4i){0, 4, 1, 5});
    const dbk_v4 cd_hi = __builtin_shuffle(c, d, (dbk_v4i){2, 6, 3, 7});
    dbk_storeu4(dst, __builtin_shuffle(ab_lo, cd_lo, (dbk_v4i){0, 1, 4, 5}));
    dbk_storeu4(dst + dst_stride, __builtin_shuffle(ab_lo, cd_lo, (dbk_v4i){2, 3, 6, 7}));
    dbk_storeu4(dst + 2 * dst_stride, __builtin_shuffle(ab_hi, cd_hi, (dbk_v4i){0, 1, 4, 5}));
    dbk_storeu4(dst + 3 * dst_stride, __builtin_shuffle(ab_hi, cd_hi, (dbk_v4i){2, 3, 6, 7}));
}

// Loads the first n (< DBK_VW) floats of p, the other lanes set to fill.
static inline dbk_vf dbk_load_partial(const float *p, int32_t n, float fill) {
    float tmp[DBK_VW];
    for (int32_t i = 0; i < DBK_VW; i++) tmp[i] = fill;
    memcpy(tmp, p, sizeof(float) * (size_t)n);
    return dbk_loadu(tmp);
}
static inline void dbk_store_partial(float *p, dbk_vf v, int32_t n) {
    float tmp[DBK_VW];
    dbk_storeu(tmp, v);
    memcpy(p, tmp, sizeof(float) * (size_t)n);
}

// mask ? a : b, mask lanes all-ones or all-zeros (the result of a vector comparison).
static inline dbk_vf dbk_select(dbk_vi mask, dbk_vf a, dbk_vf b) {
    return (dbk_vf)(((dbk_vi)a & mask) | ((dbk_vi)b & ~mask));
}

static inline dbk_vf dbk_splat(float x) { return (dbk_vf){0} + x; }

static inline float dbk_hsum(dbk_vf v) {
    float s = 0.0f;
    for (int i = 0; i < DBK_VW; i++) s += v[i];
    return s;
}

// The shared core of the exp variants: y = exp(r) for r = x - n ln2 (Cephes expf: split ln2, degree-6
// polynomial), with n = round(x / ln2) left in the low mantissa bits of *t by the 1.5 * 2^23 trick
// (*t = 12582912 + n). The caller scales y by 2^n in the way its input range needs.
static inline dbk_vf dbk_exp_mantissa(dbk_vf x, dbk_vf *t) {
    const dbk_vf magic = dbk_splat(12582912.0f);
    *t = x * 1.44269504088896341f + magic;
    const dbk_vf n = *t - magic;
    dbk_vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    const dbk_vf z = r * r;
    dbk_vf y = dbk_splat(1.9875691500e-4f);
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    return y * z + r + 1.0f;
}

// exp(x). Comparisons are written so that NaN lanes keep their NaN through the clamps.
static inline dbk_vf dbk_vexp(dbk_vf x) {
    const dbk_vf hi = dbk_splat(88.8f), lo = dbk_splat(-104.0f);
    x = dbk_select(x > hi, hi, x);
    x = dbk_select(x < lo, lo, x);
    dbk_vf t;
    const dbk_vf y = dbk_exp_mantissa(x, &t);
    const dbk_vi ni = (dbk_vi)t - (dbk_vi)dbk_splat(12582912.0f); // n, in [-150, 128]
    // 2^n as 2^n1 * 2^n2 with n1 = floor(n / 2), so both halves are normal floats down to n = -150.
    // Unsigned arithmetic: a NaN lane carries garbage here but its NaN y decides the result.
    const dbk_vu m = (dbk_vu)ni + 256u;
    const dbk_vu n1 = (m >> 1) - 128u;
    const dbk_vu n2 = (dbk_vu)ni - n1;
    const dbk_vf s1 = (dbk_vf)((n1 + 127u) << 23);
    const dbk_vf s2 = (dbk_vf)((n2 + 127u) << 23);
    return y * s1 * s2;
}

// exp(x) for x <= 0 or NaN (attention's scores minus their max, erf's -x^2): dbk_vexp's polynomial with
// one 2^n scale, the same value down to -87. Below -87 (exp < 1.7e-38: nothing beside a 1 in a float sum,
// and erf takes it times a factor below 1 from 1) the result is 0, so no subnormal is ever formed; -inf -> 0;
// NaN -> NaN.
static inline dbk_vf dbk_vexp_nonpos(dbk_vf x) {
    dbk_vf t;
    const dbk_vf y = dbk_exp_mantissa(x, &t);
    // 2^n from t's bits: (magic bits + n + 127) << 23 keeps only n + 127 in the exponent field.
    const dbk_vf s = (dbk_vf)(((dbk_vu)t + 127u) << 23);
    return dbk_select(x < -87.0f, dbk_splat(0.0f), y * s);
}

// erf(x) by Abramowitz-Stegun 7.1.26, as PyTorch's vectorised CPU erf (so exact GELU matches torch):
// erf(|x|) = 1 - t(a1 + t(a2 + t(a3 + t(a4 + t a5)))) exp(-x^2), t = 1 / (1 + p|x|); sign restored after.
static inline dbk_vf dbk_verf(dbk_vf x) {
    const dbk_vi sign = (dbk_vi)x & (int32_t)0x80000000;
    const dbk_vf ax = (dbk_vf)((dbk_vi)x ^ sign);
    const dbk_vf t = 1.0f / (ax * 0.3275911f + 1.0f);
    dbk_vf r = dbk_splat(1.061405429f);
    r = r * t + -1.453152027f;
    r = r * t + 1.421413741f;
    r = r * t + -0.284496736f;
    r = r * t + 0.254829592f;
    const dbk_vf y = 1.0f - r * t * dbk_vexp_nonpos(-(ax * ax));
    return (dbk_vf)((dbk_vi)y ^ sign);
}

// gelu(x) = 0.5 * x * (1 + erf(x / sqrt(2))).
static inline dbk_vf dbk_vgelu(dbk_vf x) {
    const dbk_vf g = 0.5f * x * (1.0f + dbk_verf(x * 0.70710678118654752440f));
    // Below -16 the product would be -huge * 0 (NaN for -inf); the true value rounds to -0.
    return dbk_select(x < -16.0f, dbk_splat(0.0f), g);
}

// gelu(x) = h + h erf(x/sqrt(2)), h = x/2, with erf(x/sqrt(2)) = x P(x^2) / Q(x^2) on |x| <= 5.5437 (outside,
// erf is +-1 to within float rounding): ten FMAs and one division, no exp. Coefficients from
// scripts/fit_gelu_rational.py.
static inline dbk_vf dbk_vgelu_rational(dbk_vf x) {
    const dbk_vf hi = dbk_splat(5.5437f), lo = dbk_splat(-5.5437f);
    const dbk_vi above = x > hi, below = x < lo;
    const dbk_vf xc = dbk_select(above, hi, dbk_select(below, lo, x)), u = xc * xc;
    dbk_vf p = dbk_splat(4.495849382e-08f);
    p = p * u + 1.270431221e-05f;
    p = p * u + 3.419081913e-04f;
    p = p * u + 9.379813448e-03f;
    p = p * u + 6.815233082e-02f;
    p = p * u + 7.978844643e-01f;
    dbk_vf q = dbk_splat(1.189637373e-06f);
    q = q * u + 7.425458170e-05f;
    q = q * u + 1.896520378e-03f;
    q = q * u + 2.877108753e-02f;
    q = q * u + 2.520821095e-01f;
    q = q * u + 1.0f;
    const dbk_vf h = 0.5f * x, g = h + h * xc * p / q;
    // Past the ends: x itself and 0 (so gelu(+-inf) = +inf, 0; the true values differ by under 1e-7).
    return dbk_select(above, x, dbk_select(below, dbk_splat(0.0f), g));
}

// A linear layer's epilogue: the activation (one of DBK_ACT_*) on one vector of biased sums.
static inline dbk_vf dbk_vactivate(dbk_vf v, int32_t activation) {
    if (activation == DBK_ACT_GELU) return dbk_vgelu(v);
    // NaN propagates as in torch.relu (a comparison-based max would turn it into 0).
    if (activation == DBK_ACT_RELU) return dbk_select(v < 0.0f, dbk_splat(0.0f), v);
    return v;
}

#endif
