// What the single-threaded C test harnesses share: a failure counter and CHECK, which reports a failed
// condition with its place and carries on, a small deterministic random source (xorshift64), and the
// reference for rounding to bf16.
#ifndef DBK_TEST_CHECK_H
#define DBK_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond, ...)                                                                             \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            failures++;                                                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                     \
            fprintf(stderr, __VA_ARGS__);                                                            \
            fprintf(stderr, "\n");                                                                   \
        }                                                                                            \
    } while (0)

// The state; a harness may reseed it before its first draw.
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static inline uint32_t next_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static inline int32_t rand_int(int32_t lo, int32_t hi) {
    return lo + (int32_t)(next_u32() % (uint32_t)(hi - lo + 1));
}
static inline float rand_float(float scale) {
    return ((float)next_u32() / 4294967296.0f * 2.0f - 1.0f) * scale;
}

static inline float bf16_to_f(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Round to nearest even, the reference for the library's conversion.
static inline uint16_t ref_bf16(float f) {
    if (isnan(f)) return 0x7fc0;
    double d = f;
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
    if (isinf(f)) return lo;
    // Past the largest bf16 the candidate above is infinity, which IEEE rounding treats as 2^128.
    const double dlo = bf16_to_f(lo), dhi = (hi & 0x7fff) == 0x7f80 ? copysign(ldexp(1.0, 128), d) : bf16_to_f(hi);
    const double elo = fabs(d - dlo), ehi = fabs(d - dhi);
    if (elo < ehi) return lo;
    if (ehi < elo) return hi;
    return (lo & 1) ? hi : lo;
}

#endif
