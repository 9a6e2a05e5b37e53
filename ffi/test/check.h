// What the single-threaded C test harnesses share: a failure counter and CHECK, which reports a failed
// condition with its place and carries on, and a small deterministic random source (xorshift64).
#ifndef DBK_TEST_CHECK_H
#define DBK_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>

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

#endif
