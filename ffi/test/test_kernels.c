// Checks every kernel in ffi/ against a naive double-precision reference on random shapes (edge sizes
// included), the vectorised exp/erf/gelu against libm over dense sweeps, NaN/Inf behaviour, and that
// the thread pool gives bit-identical results. Buffers are malloc'd to their exact size so that
// AddressSanitizer catches any overrun. Needs no OpenBLAS. Build and run: ffi/test/run.sh.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cpu.h"
#include "../kernels.h"
#include "../vecmath.h"
#include "check.h"

// Threads the row-wise kernels are called with (the tests of attention and the linears pass their own).
static int32_t th = 1;

static float *falloc(int64_t n) {
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!p) abort();
    return p;
}
static float *frand(int64_t n, float scale) {
    float *p = falloc(n);
    for (int64_t i = 0; i < n; i++) p[i] = rand_float(scale);
    return p;
}
static float *fcopy(const float *src, int64_t n) {
    float *p = falloc(n);
    memcpy(p, src, sizeof(float) * (size_t)n);
    return p;
}

// max |got - want| / (atol + rtol * |want|) over n values; > 1 fails.
static double worst(const float *got, const double *want, int64_t n, double atol, double rtol) {
    double w = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double e = fabs((double)got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (!(e <= w)) w = e; // NaN counts as worst
    }
    return w;
}

// The kernel subtracts a float-rounded mean, as torch does: half an ulp of the mean, amplified by
// rstd * |gamma|, is the error to allow on top of float rounding. Set by ref_layernorm_row.
static double ln_row_tol;
static void ref_layernorm_row(const double *x, int32_t dim, const float *g, const float *b, double eps,
                              double *out) {
    double mean = 0, var = 0;
    for (int32_t i = 0; i < dim; i++) mean += x[i];
    mean /= dim;
    for (int32_t i = 0; i < dim; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= dim;
    const double r = 1.0 / sqrt(var + eps);
    double gmax = 0;
    for (int32_t i = 0; i < dim; i++) out[i] = (x[i] - mean) * r * g[i] + b[i], gmax = fmax(gmax, fabs(g[i]));
    ln_row_tol = 2e-5 + 2.0 * fabs(mean) * 6e-8 * r * gmax;
}

static double ref_gelu(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

// x [M, K] in the packed linears' x layout, written plainly: panels of MR rows (MR is the scratch the
// kernel asks for one row of one column), panel q at q * K * MR, x[q * MR + r][k] at k * MR + r, rows past M
// zero. The caller frees it.
static float *pack_x_ref(const float *x, int32_t M, int32_t K) {
    const int64_t mr = dbk_packed_linear_scratch_floats(1, 1), floats = dbk_packed_linear_scratch_floats(M, K);
    float *xp = falloc(floats);
    for (int64_t i = 0; i < floats; i++) {
        const int64_t q = i / (K * mr), k = i % (K * mr) / mr, r = i % mr, m = q * mr + r;
        xp[i] = m < M ? x[m * K + k] : 0.0f;
    }
    return xp;
}

// ---- elementwise and LayerNorm kernels ----------------------------------------------------------
static void test_rows_kernels(int32_t T, int32_t n) {
    const int64_t tn = (int64_t)T * n;
    float *bias = frand(n, 0.5f), *x0 = frand(tn, 4.0f);
    double *want = calloc((size_t)tn, sizeof(double));

    float *x = fcopy(x0, tn);
    dbk_bias_gelu(th, x, T, n, bias);
    for (int64_t i = 0; i < tn; i++) want[i] = ref_gelu((double)x0[i] + bias[i % n]);
    CHECK(worst(x, want, tn, 1e-6, 1e-6) <= 1.0, "bias_gelu T=%d n=%d err %g", T, n, worst(x, want, tn, 1e-6, 1e-6));
    free(x);

    x = fcopy(x0, tn);
    dbk_bias_add(x, T, n, bias);
    for (int64_t i = 0; i < tn; i++) want[i] = (double)x0[i] + bias[i % n];
    CHECK(worst(x, want, tn, 1e-30, 1e-7) <= 1.0, "bias_add T=%d n=%d", T, n);
    free(x);

    x = fcopy(x0, tn);
    dbk_bias_relu(x, T, n, bias);
    for (int64_t i = 0; i < tn; i++) want[i] = fmax((double)x0[i] + bias[i % n], 0.0);
    CHECK(worst(x, want, tn, 1e-30, 1e-7) <= 1.0, "bias_relu T=%d n=%d", T, n);
    free(x);

    // LayerNorm family, dim = n. Offsets make the mean large against the spread, as a drifting residual.
    float *g = frand(n, 1.5f), *b = frand(n, 0.5f), *res = frand(tn, 3.0f);
    for (int64_t i = 0; i < tn; i++) x0[i] += 20.0f;
    double *row = malloc(sizeof(double) * (size_t)n);
    const float eps = 1e-12f;
    float *out = falloc(tn);
    dbk_layernorm(th, x0, T, n, g, b, eps, out);
    for (int32_t t = 0; t < T; t++) {
        for (int32_t i = 0; i < n; i++) row[i] = x0[(int64_t)t * n + i];
        ref_layernorm_row(row, n, g, b, eps, want + (int64_t)t * n);
        const double e = worst(out + (int64_t)t * n, want + (int64_t)t * n, n, ln_row_tol, 2e-5);
        CHECK(e <= 1.0, "layernorm T=%d dim=%d row %d err %g", T, n, t, e);
    }
    dbk_bias_residual_layernorm(th, x0, bias, res, T, n, g, b, eps, out);
    for (int32_t t = 0; t < T; t++) {
        for (int32_t i = 0; i < n; i++) {
            const int64_t k = (int64_t)t * n + i;
            row[i] = (double)((x0[k] + bias[i]) + res[k]);
        }
        ref_layernorm_row(row, n, g, b, eps, want + (int64_t)t * n);
        const double e = worst(out + (int64_t)t * n, want + (int64_t)t * n, n, ln_row_tol, 2e-5);
        CHECK(e <= 1.0, "bias_residual_layernorm T=%d dim=%d row %d err %g", T, n, t, e);
    }
    float *alias = fcopy(x0, tn); // out aliasing x
    dbk_bias_residual_layernorm(th, alias, bias, res, T, n, g, b, eps, alias);
    CHECK(memcmp(alias, out, sizeof(float) * (size_t)tn) == 0, "bias_residual_layernorm out=x T=%d dim=%d", T, n);
    free(alias);
    alias = fcopy(res, tn); // out aliasing residual
    dbk_bias_residual_layernorm(th, x0, bias, alias, T, n, g, b, eps, alias);
    CHECK(memcmp(alias, out, sizeof(float) * (size_t)tn) == 0, "bias_residual_layernorm out=residual");
    free(alias);
    // The packed form beside it: out the same bits, xp (exact size, NaN-filled) out packed, padding zero.
    const int64_t pf = dbk_packed_linear_scratch_floats(T, n);
    float *xp = falloc(pf), *xp_want = pack_x_ref(out, T, n);
    alias = fcopy(x0, tn);
    for (int64_t i = 0; i < pf; i++) xp[i] = NAN;
    dbk_bias_residual_layernorm_packed(th, alias, bias, res, T, n, g, b, eps, alias, xp);
    CHECK(memcmp(alias, out, sizeof(float) * (size_t)tn) == 0, "bias_residual_layernorm_packed out T=%d dim=%d", T, n);
    CHECK(memcmp(xp, xp_want, sizeof(float) * (size_t)pf) == 0, "bias_residual_layernorm_packed xp T=%d dim=%d", T, n);
    free(alias), free(xp), free(xp_want);

    free(out), free(row), free(g), free(b), free(res), free(bias), free(x0), free(want);
}

static void test_embed_and_rows(int32_t T, int32_t dim) {
    const int32_t vocab = rand_int(1, 50), max_pos = rand_int(1, 20);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)T), *pos = malloc(sizeof(int32_t) * (size_t)T);
    for (int32_t t = 0; t < T; t++) ids[t] = rand_int(0, vocab - 1), pos[t] = rand_int(0, max_pos - 1);
    float *we = frand((int64_t)vocab * dim, 1.0f), *pe = frand((int64_t)max_pos * dim, 1.0f);
    float *g = frand(dim, 1.0f), *b = frand(dim, 1.0f), *out = falloc((int64_t)T * dim);
    double *want = malloc(sizeof(double) * (size_t)T * dim), *row = malloc(sizeof(double) * (size_t)dim);
    dbk_embed_layernorm(th, ids, pos, NULL, T, we, pe, NULL, dim, g, b, 1e-12f, out);
    for (int32_t t = 0; t < T; t++) {
        for (int32_t i = 0; i < dim; i++) row[i] = (double)(we[(int64_t)ids[t] * dim + i] + pe[(int64_t)pos[t] * dim + i]);
        ref_layernorm_row(row, dim, g, b, 1e-12, want + (int64_t)t * dim);
    }
    CHECK(worst(out, want, (int64_t)T * dim, 2e-5, 2e-5) <= 1.0, "embed_layernorm T=%d dim=%d", T, dim);

    // With token types (BERT): each row adds its own type's embedding, and a BERT-like epsilon.
    const int32_t type_vocab = rand_int(1, 3);
    int32_t *types = malloc(sizeof(int32_t) * (size_t)T);
    for (int32_t t = 0; t < T; t++) types[t] = rand_int(0, type_vocab - 1);
    float *ye = frand((int64_t)type_vocab * dim, 1.0f);
    dbk_embed_layernorm(th, ids, pos, types, T, we, pe, ye, dim, g, b, 1e-5f, out);
    for (int32_t t = 0; t < T; t++) {
        for (int32_t i = 0; i < dim; i++) {
            row[i] = (double)we[(int64_t)ids[t] * dim + i] + (double)ye[(int64_t)types[t] * dim + i] +
                     (double)pe[(int64_t)pos[t] * dim + i];
        }
        ref_layernorm_row(row, dim, g, b, 1e-5, want + (int64_t)t * dim);
    }
    CHECK(worst(out, want, (int64_t)T * dim, 2e-5, 2e-5) <= 1.0, "embed_layernorm types T=%d dim=%d", T, dim);
    free(types), free(ye);

    // scatter then gather with a random injective map into R >= T rows.
    const int32_t R = T + rand_int(0, 5);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)R);
    for (int32_t i = 0; i < R; i++) perm[i] = i;
    for (int32_t i = R - 1; i > 0; i--) {
        const int32_t j = rand_int(0, i), tmp = perm[i];
        perm[i] = perm[j], perm[j] = tmp;
    }
    float *dst = falloc((int64_t)R * dim), *back = falloc((int64_t)T * dim);
    for (int64_t i = 0; i < (int64_t)R * dim; i++) dst[i] = -7.0f;
    dbk_scatter_rows(out, T, dim, perm, dst);
    for (int32_t t = 0; t < T; t++) CHECK(memcmp(dst + (int64_t)perm[t] * dim, out + (int64_t)t * dim, sizeof(float) * (size_t)dim) == 0, "scatter row %d", t);
    for (int32_t r = T; r < R; r++) CHECK(dst[(int64_t)perm[r] * dim] == -7.0f, "scatter touched an unlisted row");
    dbk_gather_rows(dst, T, dim, perm, back);
    CHECK(memcmp(back, out, sizeof(float) * (size_t)T * dim) == 0, "gather T=%d dim=%d", T, dim);
    free(perm), free(dst), free(back), free(ids), free(pos), free(we), free(pe), free(g), free(b), free(out), free(want), free(row);
}

// ---- attention ----------------------------------------------------------------------------------
// bf16 (dbk_attention's flag): q, k, v as the kernel forms them in float (bias added, q scaled) then rounded
// to bf16, and each probability rounded to bf16 for P.V (its sum unrounded).
static float rounded_bf16(float f) { return bf16_to_f(ref_bf16(f)); }

static void ref_attention(const float *qkv, const float *bias, const int32_t *starts, const uint8_t *uniform,
                          int32_t n_seqs, int32_t heads, int32_t hd, int bf16, double *out) {
    const float fscale = 1.0f / sqrtf((float)hd);
    const int32_t dim = heads * hd;
    const int64_t row = 3 * (int64_t)dim;
    for (int32_t s = 0; s < n_seqs; s++) {
        const int32_t st = starts[s], n = starts[s + 1] - st;
        double *sc = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
        for (int32_t h = 0; h < heads; h++) {
            const int32_t off = h * hd;
            for (int32_t i = 0; i < n; i++) {
                double mx = -INFINITY, sum = 0;
                for (int32_t j = 0; j < n; j++) {
                    double d = 0;
                    for (int32_t k = 0; k < hd; k++) {
                        if (bf16) {
                            const float q = rounded_bf16((qkv[(st + i) * row + off + k] + bias[off + k]) * fscale);
                            d += (double)q * rounded_bf16(qkv[(st + j) * row + dim + off + k] + bias[dim + off + k]);
                            continue;
                        }
                        const double q = ((double)qkv[(st + i) * row + off + k] + bias[off + k]) / sqrt((double)hd);
                        d += q * ((double)qkv[(st + j) * row + dim + off + k] + bias[dim + off + k]);
                    }
                    sc[j] = uniform[s] ? 0.0 : d;
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int32_t j = 0; j < n; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int32_t k = 0; k < hd; k++) {
                    double o = 0;
                    for (int32_t j = 0; j < n; j++) {
                        if (bf16 && !uniform[s]) // (the uniform case is the mean of V, in fp32)
                            o += rounded_bf16((float)sc[j]) / sum *
                                 rounded_bf16(qkv[(st + j) * row + 2 * dim + off + k] + bias[2 * dim + off + k]);
                        else o += sc[j] / sum * ((double)qkv[(st + j) * row + 2 * dim + off + k] + bias[2 * dim + off + k]);
                    }
                    out[(int64_t)(st + i) * dim + off + k] = o;
                }
            }
        }
        free(sc);
    }
}

// bf16: a probability's bf16 rounding may land one step away from the reference's (its float exp differs
// from the double one in the last bits), up to 2^-8 of that p times |v| in an output; a wrong pairing of
// k or keys in the bf16 kernels is off by O(1).
static void test_attention_dt(int32_t n_seqs, int32_t max_len, int32_t heads, int32_t hd, int32_t threads, int zero_len,
                              float qscale, int bf16) {
    int32_t *starts = malloc(sizeof(int32_t) * (size_t)(n_seqs + 1));
    uint8_t *uniform = malloc((size_t)n_seqs);
    starts[0] = 0;
    int32_t longest = 0;
    for (int32_t s = 0; s < n_seqs; s++) {
        int32_t n = rand_int(1, max_len);
        if (zero_len && rand_int(0, 3) == 0) n = 0;
        if (s == 0) n = max_len;
        if (n > longest) longest = n;
        starts[s + 1] = starts[s] + n;
        uniform[s] = rand_int(0, 5) == 0;
    }
    const int32_t T = starts[n_seqs], dim = heads * hd;
    float *qkv = frand((int64_t)T * 3 * dim, qscale), *bias = frand(3 * dim, 0.3f);
    float *out = falloc((int64_t)T * dim), *out1 = falloc((int64_t)T * dim);
    for (int64_t i = 0; i < (int64_t)T * dim; i++) out[i] = out1[i] = NAN; // every row must be written
    double *want = malloc(sizeof(double) * (size_t)((int64_t)T * dim > 0 ? (int64_t)T * dim : 1));
    const int64_t per = longest > 0 ? dbk_attention_scratch_floats(longest, hd) : 0;
    float *scratch = falloc(per * threads);
    for (int64_t i = 0; i < per * threads; i++) scratch[i] = NAN; // stale scratch must not leak in
    dbk_attention(1, qkv, bias, starts, uniform, n_seqs, heads, hd, bf16, scratch, (int32_t)per, out1);
    dbk_attention(threads, qkv, bias, starts, uniform, n_seqs, heads, hd, bf16, scratch, (int32_t)(per * threads), out);
    ref_attention(qkv, bias, starts, uniform, n_seqs, heads, hd, bf16, want);
    const double e = bf16 ? worst(out, want, (int64_t)T * dim, 4e-3 * qscale, 1e-4) : worst(out, want, (int64_t)T * dim, 2e-6, 2e-5);
    CHECK(e <= 1.0, "attention seqs=%d max_len=%d heads=%d hd=%d threads=%d bf16=%d: err %g", n_seqs, max_len, heads, hd,
          threads, bf16, e);
    CHECK(memcmp(out, out1, sizeof(float) * (size_t)T * dim) == 0, "attention with %d threads differs from 1 thread", threads);
    free(starts), free(uniform), free(qkv), free(bias), free(out), free(out1), free(want), free(scratch);
}

static void test_attention(int32_t n_seqs, int32_t max_len, int32_t heads, int32_t hd, int32_t threads, int zero_len, float qscale) {
    test_attention_dt(n_seqs, max_len, heads, hd, threads, zero_len, qscale, 0);
    test_attention_dt(n_seqs, max_len, heads, hd, threads, zero_len, qscale, 1);
}

// ---- exp / erf / gelu accuracy and special values -----------------------------------------------
static float vexp1(float x) { return dbk_vexp(dbk_splat(x))[0]; }
static float verf1(float x) { return dbk_verf(dbk_splat(x))[0]; }
static float vgelu1(float x) { return dbk_vgelu(dbk_splat(x))[0]; }
static float vgelu_rational1(float x) { return dbk_vgelu_rational(dbk_splat(x))[0]; }

static double ulp_error(float got, double want) {
    const float w = (float)want;
    const float u = nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - want) / u;
}

static void test_math(void) {
    // exp: every 7th float in the normal-result range, then the subnormal-result range.
    double max_ulp = 0, worst_x = 0;
    int64_t count = 0;
    // Every 1021st float of each sign (all exponents, about 2 million points), within range.
    for (uint32_t bits = 0; bits < 0x7f800000u; bits += 1021) {
        for (int sign = 0; sign < 2; sign++) {
        const uint32_t b = bits | (sign ? 0x80000000u : 0);
        float x;
        memcpy(&x, &b, 4);
        if (!(x > -87.33f && x < 88.72f)) continue;
        const double u = ulp_error(vexp1(x), exp((double)x));
        count++;
        if (u > max_ulp) max_ulp = u, worst_x = x;
        }
    }
    printf("exp: max %.3f ulp over %lld points of (-87.33, 88.72) (at x = %.9g)\n", max_ulp, (long long)count, worst_x);
    CHECK(max_ulp <= 2.0, "exp max ulp %g", max_ulp);
    double sub_abs = 0;
    for (float x = -104.0f; x < -87.33f; x += 1e-3f) {
        const double e = fabs((double)vexp1(x) - exp((double)x));
        if (e > sub_abs) sub_abs = e;
    }
    printf("exp: max abs error %.3g for subnormal results (smallest subnormal 1.4e-45)\n", sub_abs);
    CHECK(sub_abs <= 1.5e-45, "exp subnormal error %g", sub_abs);

    double erf_abs = 0, erf_x = 0, gelu_abs = 0, gelu_rel = 0, gelu_x = 0;
    double rat_abs = 0, rat_x = 0, rat_rel = 0, rat_rel_x = 0, rat_rel_tail = 0;
    for (float x = -12.0f; x <= 12.0f; x += 1.0f / 16384.0f) {
        const double e = fabs((double)verf1(x) - erf((double)x));
        if (e > erf_abs) erf_abs = e, erf_x = x;
        const double g = ref_gelu((double)x), ge = fabs((double)vgelu1(x) - g);
        if (ge > gelu_abs) gelu_abs = ge, gelu_x = x;
        if (fabs(g) > 1e-3 && ge / fabs(g) > gelu_rel) gelu_rel = ge / fabs(g);
        const double re = fabs((double)vgelu_rational1(x) - g);
        if (re > rat_abs) rat_abs = re, rat_x = x;
        // Relative error where gelu is not in its negative tail (x > -2: gelu > -0.046), and in it.
        if (x > -2.0f && fabs(g) > 1e-30 && re / fabs(g) > rat_rel) rat_rel = re / fabs(g), rat_rel_x = x;
        if (x <= -2.0f && fabs(g) > 1e-3 && re / fabs(g) > rat_rel_tail) rat_rel_tail = re / fabs(g);
    }
    printf("erf: max abs error %.3g on [-12, 12] (at x = %.6g)\n", erf_abs, erf_x);
    printf("gelu: max abs error %.3g (at x = %.6g), max rel error %.3g where |gelu| > 1e-3\n", gelu_abs, gelu_x, gelu_rel);
    // Abramowitz-Stegun 7.1.26 (as torch's vectorised erf): 1.5e-7 from the formula, plus float rounding
    // of 1 - small near x = 0; the relative gelu error in the far negative tail is the formula's own.
    CHECK(erf_abs <= 6e-7, "erf abs error %g", erf_abs);
    CHECK(gelu_abs <= 6e-7, "gelu abs error %g", gelu_abs);
    printf("gelu_rational: max abs error %.3g (at x = %.6g), max rel error %.3g for x > -2 (at x = %.6g), "
           "%.3g where x <= -2 and |gelu| > 1e-3\n", rat_abs, rat_x, rat_rel, rat_rel_x, rat_rel_tail);
    // The reduced-precision epilogues' GELU (lowp.c): the fit's 1.6e-8 plus float rounding near erf = +-1,
    // where the negative tail's 1 + erf cancels; test_lowp.c's tolerances assume these bounds.
    CHECK(rat_abs <= 1.5e-6, "gelu_rational abs error %g", rat_abs);
    CHECK(rat_rel <= 5e-6, "gelu_rational rel error %g", rat_rel);
    CHECK(rat_rel_tail <= 1e-3, "gelu_rational tail rel error %g", rat_rel_tail);

    CHECK(isnan(vexp1(NAN)), "exp(NaN)");
    CHECK(vexp1(INFINITY) == INFINITY, "exp(inf)");
    CHECK(vexp1(-INFINITY) == 0.0f, "exp(-inf)");
    CHECK(vexp1(89.0f) == INFINITY && vexp1(1e30f) == INFINITY, "exp overflow");
    CHECK(vexp1(-200.0f) == 0.0f && vexp1(-1e30f) == 0.0f, "exp underflow");
    CHECK(vexp1(0.0f) == 1.0f && vexp1(-0.0f) == 1.0f, "exp(0)");
    CHECK(isnan(verf1(NAN)), "erf(NaN)");
    CHECK(verf1(INFINITY) == 1.0f && verf1(-INFINITY) == -1.0f, "erf(+-inf)");
    CHECK(verf1(0.0f) == 0.0f, "erf(0)");
    CHECK(isnan(vgelu1(NAN)), "gelu(NaN)");
    CHECK(vgelu1(INFINITY) == INFINITY, "gelu(inf)");
    CHECK(vgelu1(-INFINITY) == 0.0f, "gelu(-inf)");
    CHECK(vgelu1(1e30f) == 1e30f && vgelu1(-1e30f) == 0.0f && vgelu1(3.4e38f) == 3.4e38f, "gelu of huge values");
    CHECK(isnan(vgelu_rational1(NAN)), "gelu_rational(NaN)");
    CHECK(vgelu_rational1(INFINITY) == INFINITY && vgelu_rational1(-INFINITY) == 0.0f, "gelu_rational(+-inf)");
    CHECK(vgelu_rational1(3.4e38f) == 3.4e38f && vgelu_rational1(-3.4e38f) == 0.0f, "gelu_rational of huge values");
    CHECK(vgelu_rational1(0.0f) == 0.0f, "gelu_rational(0)");

    // The same through the kernel, in every lane position and the scalar tail.
    const int32_t n = 2 * DBK_VW + 5;
    float x[2 * DBK_VW + 5], zero[2 * DBK_VW + 5] = {0};
    for (int32_t lane = 0; lane < n; lane++) {
        for (int32_t i = 0; i < n; i++) x[i] = 0.5f;
        x[lane] = NAN;
        dbk_bias_gelu(th, x, 1, n, zero);
        CHECK(isnan(x[lane]), "bias_gelu NaN lane %d", lane);
        for (int32_t i = 0; i < n; i++) CHECK(i == lane || fabsf(x[i] - 0.345731f) < 1e-5f, "bias_gelu lane %d spoiled lane %d", lane, i);
    }
}

// ---- softmax edge cases through attention --------------------------------------------------------
static void test_attention_specials(void) {
    // A NaN query poisons its own row (every head dim of that head), nothing else.
    const int32_t n = 5, hd = 4, dim = hd;
    float *qkv = frand(n * 3 * dim, 1.0f), *bias = frand(3 * dim, 0.1f), *out = falloc(n * dim);
    int32_t starts[2] = {0, n};
    uint8_t uni[1] = {0};
    const int64_t per = dbk_attention_scratch_floats(n, hd);
    float *scratch = falloc(per);
    qkv[2 * 3 * dim + 1] = NAN;
    dbk_attention(1, qkv, bias, starts, uni, 1, 1, hd, 0, scratch, (int32_t)per, out);
    for (int32_t i = 0; i < n; i++)
        for (int32_t d = 0; d < hd; d++) CHECK((i == 2) == (isnan(out[i * dim + d]) != 0), "NaN query row %d dim %d", i, d);
    // Huge score gaps: softmax saturates to one-hot without NaN or Inf.
    qkv[2 * 3 * dim + 1] = 0.0f;
    for (int32_t d = 0; d < hd; d++) qkv[0 * 3 * dim + d] = 1e18f, qkv[3 * 3 * dim + dim + d] = 1e18f;
    dbk_attention(1, qkv, bias, starts, uni, 1, 1, hd, 0, scratch, (int32_t)per, out);
    for (int32_t d = 0; d < hd; d++) CHECK(fabsf(out[d] - (qkv[3 * 3 * dim + 2 * dim + d] + bias[2 * dim + d])) < 1e-6f, "one-hot row");
    free(qkv), free(bias), free(out), free(scratch);
}

// y = x . w^T against a double reference, with scratch and output allocated at exactly their sizes
// and pre-filled with NaN, so a read of anything the kernel should have written shows up.
static void test_linear(int32_t M, int32_t K, int32_t N, int32_t threads) {
    th = threads;
    float *x = frand((int64_t)M * K, 1.0f), *w = frand((int64_t)N * K, 1.0f);
    const int64_t sf = dbk_linear_scratch_floats(M, K);
    float *scratch = falloc(sf), *y = falloc((int64_t)M * N);
    for (int64_t i = 0; i < sf; i++) scratch[i] = NAN;
    for (int64_t i = 0; i < (int64_t)M * N; i++) y[i] = NAN;
    dbk_linear(th, x, M, K, w, N, scratch, y);
    double *want = malloc(sizeof(double) * (size_t)M * (size_t)N);
    if (!want) abort();
    for (int32_t m = 0; m < M; m++)
        for (int32_t n = 0; n < N; n++) {
            double acc = 0.0;
            for (int32_t k = 0; k < K; k++) acc += (double)x[(int64_t)m * K + k] * w[(int64_t)n * K + k];
            want[(int64_t)m * N + n] = acc;
        }
    const double e = worst(y, want, (int64_t)M * N, 1e-5 * sqrt((double)K), 1e-5);
    CHECK(e <= 1.0, "linear M=%d K=%d N=%d threads=%d: error %.3g of tolerance", M, K, N, threads, e);
    free(x), free(w), free(scratch), free(y), free(want);
    th = 1;
}

// Packed weights: exact-size buffers pre-filled with NaN, with and without bias; M across the token tiles
// (MR = 12 or 6) and blocks (up to MC = 264 tokens, cut equally), K across the slices (128), N across the
// tasks (groups of up to 4 panels; the last block's final threads x group panels one task each).
static void test_packed_linear(int32_t M, int32_t K, int32_t N, int32_t threads, int with_bias, int32_t act) {
    th = threads;
    float *x = frand((int64_t)M * K, 1.0f), *w = frand((int64_t)N * K, 1.0f), *bias = frand(N, 1.0f);
    float *wp = falloc((int64_t)N * K);
    for (int64_t i = 0; i < (int64_t)N * K; i++) wp[i] = NAN;
    dbk_pack_weights(th, w, N, K, wp);
    // In place, with scratch for one panel per thread (exact size, NaN-filled), must give the same bytes.
    const int64_t panel = (int64_t)dbk_packed_panel_width() * K;
    float *wq = fcopy(w, (int64_t)N * K), *pack_scratch = falloc(panel * threads);
    for (int64_t i = 0; i < panel * threads; i++) pack_scratch[i] = NAN;
    dbk_pack_weights_in_place(th, wq, N, K, pack_scratch, panel - 1); // too small: must not touch anything
    CHECK(memcmp(wq, w, sizeof(float) * (size_t)N * (size_t)K) == 0, "in-place pack with short scratch wrote");
    dbk_pack_weights_in_place(th, wq, N, K, pack_scratch, panel * threads);
    CHECK(memcmp(wq, wp, sizeof(float) * (size_t)N * (size_t)K) == 0, "in-place pack M=%d K=%d N=%d differs", M, K, N);
    free(wq), free(pack_scratch);
    const int64_t sf = dbk_packed_linear_scratch_floats(M, K);
    float *scratch = falloc(sf), *y = falloc((int64_t)M * N);
    for (int64_t i = 0; i < sf; i++) scratch[i] = NAN;
    for (int64_t i = 0; i < (int64_t)M * N; i++) y[i] = NAN;
    dbk_packed_linear(th, x, M, K, wp, N, with_bias ? bias : NULL, act, scratch, y);
    if (threads > 1) { // the same bits on one thread
        float *y1 = falloc((int64_t)M * N);
        dbk_packed_linear(1, x, M, K, wp, N, with_bias ? bias : NULL, act, scratch, y1);
        CHECK(memcmp(y, y1, sizeof(float) * (size_t)M * (size_t)N) == 0, "packed linear M=%d K=%d N=%d: %d threads differ from 1",
              M, K, N, threads);
        free(y1);
    }
    { // x NULL: the same bits from x packed beforehand into the scratch
        float *xp = pack_x_ref(x, M, K), *y2 = falloc((int64_t)M * N);
        dbk_packed_linear(th, NULL, M, K, wp, N, with_bias ? bias : NULL, act, xp, y2);
        CHECK(memcmp(y, y2, sizeof(float) * (size_t)M * (size_t)N) == 0, "packed linear M=%d K=%d N=%d: prepacked x differs",
              M, K, N);
        free(xp), free(y2);
    }
    double *want = malloc(sizeof(double) * (size_t)M * (size_t)N);
    if (!want) abort();
    for (int32_t m = 0; m < M; m++)
        for (int32_t n = 0; n < N; n++) {
            double acc = with_bias ? bias[n] : 0.0;
            for (int32_t k = 0; k < K; k++) acc += (double)x[(int64_t)m * K + k] * w[(int64_t)n * K + k];
            want[(int64_t)m * N + n] = act == DBK_ACT_GELU ? ref_gelu(acc) : act == DBK_ACT_RELU && acc < 0 ? 0 : acc;
        }
    const double e = worst(y, want, (int64_t)M * N, 1e-5 * sqrt((double)K), 1e-5);
    CHECK(e <= 1.0, "packed linear M=%d K=%d N=%d threads=%d bias=%d act=%d: error %.3g of tolerance", M, K, N,
          threads, with_bias, act, e);
    free(x), free(w), free(bias), free(wp), free(scratch), free(y), free(want);
    th = 1;
}

// dbk_packed_ffn against two dbk_packed_linear calls (themselves checked against the reference above): the
// same bits, with exact-size, NaN-filled scratch and output, on `threads` threads and on one.
static void test_packed_ffn(int32_t M, int32_t K, int32_t H, int32_t N, int32_t threads, int with_bias, int32_t act) {
    float *x = frand((int64_t)M * K, 1.0f), *w1 = frand((int64_t)H * K, 0.3f), *w2 = frand((int64_t)N * H, 0.3f);
    float *b1 = frand(H, 1.0f), *b2 = frand(N, 1.0f);
    float *p1 = falloc((int64_t)H * K), *p2 = falloc((int64_t)N * H);
    dbk_pack_weights(1, w1, H, K, p1);
    dbk_pack_weights(1, w2, N, H, p2);
    const int64_t s1 = dbk_packed_linear_scratch_floats(M, K), s2 = dbk_packed_linear_scratch_floats(M, H);
    float *scratch = falloc(s1 > s2 ? s1 : s2), *hidden = falloc((int64_t)M * H), *want = falloc((int64_t)M * N);
    dbk_packed_linear(1, x, M, K, p1, H, b1, act, scratch, hidden);
    dbk_packed_linear(1, hidden, M, H, p2, N, with_bias ? b2 : NULL, DBK_ACT_NONE, scratch, want);
    const int64_t sf = dbk_packed_ffn_scratch_floats(M, K, H);
    float *fs = falloc(sf), *y = falloc((int64_t)M * N);
    // On both thread counts, from x and from x packed beforehand (x NULL).
    float *xp = pack_x_ref(x, M, K);
    const int32_t runs[] = {threads, 1};
    for (int i = 0; i < 4; i++) {
        for (int64_t j = 0; j < sf; j++) fs[j] = NAN;
        for (int64_t j = 0; j < (int64_t)M * N; j++) y[j] = NAN;
        dbk_packed_ffn(runs[i % 2], i < 2 ? x : NULL, i < 2 ? NULL : xp, M, K, p1, H, b1, act, p2, N,
                       with_bias ? b2 : NULL, fs, y);
        CHECK(memcmp(y, want, sizeof(float) * (size_t)M * (size_t)N) == 0,
              "packed ffn M=%d K=%d H=%d N=%d threads=%d bias=%d act=%d%s differs from two linears", M, K, H, N,
              runs[i % 2], with_bias, act, i < 2 ? "" : " (prepacked x)");
    }
    free(xp);
    free(x), free(w1), free(w2), free(b1), free(b2), free(p1), free(p2), free(scratch), free(hidden), free(want);
    free(fs), free(y);
}

// The advice leaves the bytes alone (it only changes how untouched pages are backed) and never fails on
// ranges with no aligned 2 MB page inside.
static void test_advise_huge_pages(void) {
    const int64_t bytes = (int64_t)9 << 20;
    unsigned char *p = malloc((size_t)bytes);
    const int32_t whole = dbk_advise_huge_pages(p + 3, bytes - 3);
#if defined(__linux__)
    CHECK(whole == 0, "advise_huge_pages over 9 MB returned %d", whole);
#else
    CHECK(whole == -1, "advise_huge_pages off Linux returned %d", whole);
#endif
    for (int64_t i = 0; i < bytes; i++) p[i] = (unsigned char)(i * 7);
    int64_t bad = 0;
    for (int64_t i = 0; i < bytes; i++) bad += p[i] != (unsigned char)(i * 7);
    CHECK(bad == 0, "advised memory lost %lld bytes", (long long)bad);
    CHECK(dbk_advise_huge_pages(p + 1, 100) == whole && dbk_advise_huge_pages(p, 0) == whole,
          "advise_huge_pages on a range without a whole huge page");
    free(p);
}

// dbk_packed_linear over shapes at every edge of its blocking.
static void packed_linear_cases(void) {
    const int32_t pw = dbk_packed_panel_width();
    const int32_t pms[] = {1, 2, 5, 6, 7, 11, 12, 13, 24, 25, 32, 95, 96, 97, 200};
    const int32_t pks[] = {1, 3, 191, 192, 193, 400}; // about KC (192)
    for (size_t i = 0; i < sizeof pms / sizeof *pms; i++)
        for (size_t j = 0; j < sizeof pks / sizeof *pks; j++)
            test_packed_linear(pms[i], pks[j], pw * rand_int(1, 9), 1, (int)((i + j) % 2), (int32_t)((i + 2 * j) % 3));
    test_packed_linear(32, 768, 2304, 2, 1, DBK_ACT_NONE); // base QKV shape, threaded
    test_packed_linear(130, 768, 3072, 2, 1, DBK_ACT_GELU); // base lin1
    test_packed_linear(130, 3072, 768, 2, 0, DBK_ACT_NONE);
    test_packed_linear(200, 257, 5 * pw, 3, 1, DBK_ACT_RELU); // more threads than tasks
    // Groups then single panels in the last block: a group short of the tail, groups in the blocks before.
    test_packed_linear(529, 200, 13 * pw, 2, 1, DBK_ACT_GELU);
    test_packed_linear(300, 64, 37 * pw, 3, 0, DBK_ACT_NONE);
    // Several token blocks: one block edge either side, equal blocks of a ragged count, many blocks.
    const int32_t block_ms[] = {263, 264, 265, 527, 528, 529, 793, 1031};
    for (size_t i = 0; i < sizeof block_ms / sizeof *block_ms; i++)
        test_packed_linear(block_ms[i], (int32_t)(i % 2 ? 129 : 40), pw * (int32_t)(1 + i % 5), (int32_t)(1 + i % 3),
                           (int)(i % 2), (int32_t)(i % 3));
    // The feed-forward block: partial token panels, a hidden width off the K slices, several token blocks.
    const int32_t ffn_ms[] = {1, 11, 12, 13, 100, 265, 600};
    for (size_t i = 0; i < sizeof ffn_ms / sizeof *ffn_ms; i++)
        test_packed_ffn(ffn_ms[i], (int32_t)(i % 2 ? 129 : 64), pw * (int32_t)(3 + i % 4), pw * (int32_t)(1 + i % 3),
                        (int32_t)(1 + i % 3), (int)(i % 2), (int32_t)(i % 3));
    test_packed_ffn(130, 768, 3072, 768, 2, 0, DBK_ACT_GELU); // base shape
}

int main(void) {
    test_math();
    test_advise_huge_pages();
    const int32_t sizes[] = {1, 2, 3, 7, 15, 16, 17, 31, 33, 37, 64, 100, 129, 768};
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
        for (size_t b = 0; b < sizeof sizes / sizeof *sizes; b += 3) test_rows_kernels(sizes[b], sizes[a]);
        test_embed_and_rows(rand_int(1, 40), sizes[a]);
    }
    // Large enough to cross the threading thresholds, run with the pool on.
    th = 3;
    test_rows_kernels(300, 300);
    test_rows_kernels(129, 1000);
    th = 1;

    const int32_t hds[] = {1, 2, 3, 5, 8, 9, 16, 17, 32, 33, 64};
    for (size_t i = 0; i < sizeof hds / sizeof *hds; i++) {
        test_attention(1, 1, 1, hds[i], 1, 0, 1.0f);                      // one token
        test_attention(3, rand_int(1, 40), rand_int(1, 4), hds[i], 1, 1, 2.0f); // zero-length sequences
        test_attention(rand_int(1, 6), rand_int(33, 130), rand_int(1, 3), hds[i], 3, 1, 1.0f);
    }
    test_attention(8, 128, 4, 8, 2, 0, 1.0f);   // tiny model shape, threaded
    test_attention(2, 64, 12, 64, 2, 0, 0.5f);  // base head size
    test_attention(2, 200, 2, 32, 4, 1, 3.0f);  // more threads than tasks need
    test_attention(1, 1, 1, 1, 2, 0, 1.0f);     // pool on, a single task
    // attention.c's blocking: query blocks of 2 vectors (tail of one), key blocks of 8, head dims in pairs
    // of vectors plus one, small heads through the transposed P.V; lengths just off every block edge.
    const int32_t lens[] = {7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 65, 97};
    const int32_t hds2[] = {4, 7, 15, 16, 31, 48, 64, 80};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        for (size_t j = 0; j < sizeof hds2 / sizeof *hds2; j++) test_attention(1, lens[i], 2, hds2[j], 1, 0, 2.0f);
    test_attention_specials();

    const int32_t ms[] = {1, 2, 3, 4, 15, 16, 17, 31, 32, 33, 40, 64, 65};
    const int32_t ns[] = {1, 2, 11, 12, 13, 25, 37, 96};
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
        for (size_t j = 0; j < sizeof ns / sizeof *ns; j++) test_linear(ms[i], rand_int(1, 70), ns[j], 1);
    test_linear(32, 768, 2304, 2); // base QKV shape, threaded
    test_linear(33, 300, 301, 3);
    test_linear(5, 3072, 13, 2); // fewer weight blocks than tasks would want

    // Both forms of x broadcast in the AVX-512 tile (cpu.h), whichever this CPU would choose.
    printf("fp32 tile: x %s on this CPU\n", dbk_x_in_register() ? "in a register" : "as embedded broadcasts");
    for (int32_t form = 0; form < 2; form++) {
        dbk_force_x_in_register(form);
        packed_linear_cases();
    }
    dbk_force_x_in_register(-1);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all kernel checks passed\n");
    return 0;
}
