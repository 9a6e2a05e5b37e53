// The SIMD micro-kernels of the reduced-precision linears (driver and contract: lowp.c, lowp.h). Each is
// compiled for its own instruction set through target attributes, whatever -march the library is built
// with, and runs only where CPUID says the CPU has it (lp_x86_supported), so one build serves every x86 CPU.
//
// Tile: MR rows x 32 features (AMX: see its section). Per k group the panel slice is 128 bytes: two zmm
// (AVX-512) or four ymm of weights; each row's x group is broadcast from memory (AVX-512: embedded in each
// dot product, or once into a register the row's two share, as cpu.h chooses). Register budget (AVX-512, 32
// zmm): 12 rows x 2 accumulators + 2 weight vectors (+ 1 broadcast x); ymm paths (16 registers): 2 rows x 4
// accumulators + temporaries.
#define _GNU_SOURCE // syscall()
#include "cpu.h"
#include "kernels.h"
#include "lowp.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define T512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define T512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define TAVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define TAVX2 __attribute__((target("avx2,fma")))

// The driver's prefetch at step k of steps (lowp.h): line k, and line steps + k while pf_lines asks for more.
#define PREFETCH_STEP(k, steps)                                                                               \
    {                                                                                                         \
        if ((k) < pf_lines) _mm_prefetch(pf + 64 * (int64_t)(k), _MM_HINT_T0);                                \
        if ((k) + (steps) < pf_lines) _mm_prefetch(pf + 64 * (int64_t)((k) + (steps)), _MM_HINT_T0);          \
    }

static inline int32_t load32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// ---- AVX-512: vdpbf16ps / vpdpbusd, 12 x 32

#define MR512 12

// One macro per row, so each accumulator is a named variable: with an array of vectors GCC kept part of
// the tile on the stack, a load and a store per multiply-add.
#define ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
// 8 rows: for few tokens, where 12-row strips would compute padding (32 tokens: 36 rows in 12s, 32 in 8s).
#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

#define BF16_DECL(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = _mm512_setzero_ps();
// x is broadcast by the instruction itself ({1to16}): GCC loads it into a register with vpbroadcastd
// first, an extra vector instruction per row and step.
#define DOT_BCAST(OP, acc, wv, ptr) __asm__(OP " %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(wv), "m"(*(const int32_t *)(ptr)))
#define BF16_STEP(r)                                                                                          \
    {                                                                                                         \
        DOT_BCAST("vdpbf16ps", a##r##0, w0, xp + 2 * r);                                                      \
        DOT_BCAST("vdpbf16ps", a##r##1, w1, xp + 2 * r);                                                      \
    }
// The same with x broadcast once into a register both accumulators use (cpu.h: which CPUs want which).
#define BF16_STEP_XREG(r)                                                                                     \
    {                                                                                                         \
        const __m512bh xv = (__m512bh)_mm512_set1_epi32(load32(xp + 2 * r));                                 \
        a##r##0 = _mm512_dpbf16_ps(a##r##0, w0, xv);                                                          \
        a##r##1 = _mm512_dpbf16_ps(a##r##1, w1, xv);                                                          \
    }
#define BF16_STORE(r)                                                                                         \
    if (first) {                                                                                              \
        _mm512_storeu_ps(c + r * LP_PW, a##r##0);                                                             \
        _mm512_storeu_ps(c + r * LP_PW + 16, a##r##1);                                                        \
    } else {                                                                                                  \
        _mm512_storeu_ps(c + r * LP_PW, _mm512_add_ps(_mm512_loadu_ps(c + r * LP_PW), a##r##0));              \
        _mm512_storeu_ps(c + r * LP_PW + 16, _mm512_add_ps(_mm512_loadu_ps(c + r * LP_PW + 16), a##r##1));    \
    }

// A tile function of MRV rows (ROWS lists them), each row's step STEP.
#define BF16_TILE_512(NAME, MRV, ROWS, STEP)                                                                  \
    T512BF16 static void NAME(const uint16_t *xp, int32_t kp, const uint16_t *w, float *c, int32_t first, const char *pf, int32_t pf_lines) {    \
        ROWS(BF16_DECL)                                                                                       \
        for (int32_t k = 0; k < kp; k++, xp += 2 * MRV, w += 2 * LP_PW) {                                     \
            PREFETCH_STEP(k, kp)                                                                              \
            const __m512bh w0 = (__m512bh)_mm512_loadu_si512(w), w1 = (__m512bh)_mm512_loadu_si512(w + 32);  \
            ROWS(STEP)                                                                                        \
        }                                                                                                     \
        ROWS(BF16_STORE)                                                                                      \
    }
BF16_TILE_512(bf16_tile_avx512, MR512, ROWS12, BF16_STEP)
BF16_TILE_512(bf16_tile_avx512_8, 8, ROWS8, BF16_STEP)
BF16_TILE_512(bf16_tile_avx512_xreg, MR512, ROWS12, BF16_STEP_XREG)
BF16_TILE_512(bf16_tile_avx512_8_xreg, 8, ROWS8, BF16_STEP_XREG)

#define Q8_DECL(r) __m512i a##r##0 = _mm512_setzero_si512(), a##r##1 = _mm512_setzero_si512();
#define Q8_STEP(r)                                                                                            \
    {                                                                                                         \
        DOT_BCAST("vpdpbusd", a##r##0, w0, xp + 4 * r);                                                       \
        DOT_BCAST("vpdpbusd", a##r##1, w1, xp + 4 * r);                                                       \
    }
#define Q8_STEP_XREG(r)                                                                                       \
    {                                                                                                         \
        const __m512i xv = _mm512_set1_epi32(load32(xp + 4 * r));                                             \
        a##r##0 = _mm512_dpbusd_epi32(a##r##0, w0, xv);                                                       \
        a##r##1 = _mm512_dpbusd_epi32(a##r##1, w1, xv);                                                       \
    }
#define Q8_STORE(r)                                                                                           \
    if (first) {                                                                                              \
        _mm512_storeu_si512(c + r * LP_PW, a##r##0);                                                          \
        _mm512_storeu_si512(c + r * LP_PW + 16, a##r##1);                                                     \
    } else {                                                                                                  \
        _mm512_storeu_si512(c + r * LP_PW, _mm512_add_epi32(_mm512_loadu_si512(c + r * LP_PW), a##r##0));     \
        _mm512_storeu_si512(c + r * LP_PW + 16,                                                               \
                            _mm512_add_epi32(_mm512_loadu_si512(c + r * LP_PW + 16), a##r##1));               \
    }

#define Q8_TILE_512(NAME, MRV, ROWS, STEP)                                                                    \
    T512VNNI static void NAME(const int8_t *xp, int32_t kq, const uint8_t *w, int32_t *c, int32_t first, const char *pf, int32_t pf_lines) {     \
        ROWS(Q8_DECL)                                                                                         \
        for (int32_t k = 0; k < kq; k++, xp += 4 * MRV, w += 4 * LP_PW) {                                     \
            PREFETCH_STEP(k, kq)                                                                              \
            const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);                       \
            ROWS(STEP)                                                                                        \
        }                                                                                                     \
        ROWS(Q8_STORE)                                                                                        \
    }
Q8_TILE_512(q8_tile_avx512, MR512, ROWS12, Q8_STEP)
Q8_TILE_512(q8_tile_avx512_8, 8, ROWS8, Q8_STEP)
Q8_TILE_512(q8_tile_avx512_xreg, MR512, ROWS12, Q8_STEP_XREG)
Q8_TILE_512(q8_tile_avx512_8_xreg, 8, ROWS8, Q8_STEP_XREG)

// ---- AMX: tdpbf16ps / tdpbsud, 32 x 32 (or 16 x 32) from 16 x 16 tiles

// Tiles 0-3 hold the sums (rows 0-15 / 16-31 x features 0-15 / 16-31), 4-5 x (16 rows x 64 bytes: 32 bf16
// or 64 int8 k), 6-7 the two halves of the panel (16 k groups x 16 features x 4 bytes). The panel's k group
// rows are 128 bytes, so each half is a strided load of the packed weights as they are.
#define TAMX __attribute__((target("amx-tile,amx-bf16,amx-int8")))
#define MR_AMX 32

struct amx_config {
    uint8_t palette, start_row, reserved[14]; // the 64-byte layout ldtilecfg reads
    uint16_t colsb[16];
    uint8_t rows[16];
};

// One constant configuration (palette 1, eight tiles of 16 rows x 64 bytes). Kept in memory rather than built
// on the stack: GCC 12's _tile_loadconfig declares an 8-byte operand, so at -O2 it dropped the stores of a
// local configuration's later fields, and tilezero then faulted on unconfigured tiles.
static const struct amx_config AMX_CONFIG = {
    .palette = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

TAMX static void amx_begin(void) { _tile_loadconfig(&AMX_CONFIG); }

// Returns the tile registers to their initial state, so the thread's context switches stop saving 8 KB.
TAMX static void amx_end(void) { _tile_release(); }

#define AMX_ZERO(TWO_ROW_BLOCKS)                                                                              \
    _tile_zero(0);                                                                                            \
    _tile_zero(1);                                                                                            \
    if (TWO_ROW_BLOCKS) {                                                                                     \
        _tile_zero(2);                                                                                        \
        _tile_zero(3);                                                                                        \
    }
#define AMX_STORE(c, TWO_ROW_BLOCKS)                                                                          \
    _tile_stored(0, c, 128);                                                                                  \
    _tile_stored(1, c + 16, 128);                                                                             \
    if (TWO_ROW_BLOCKS) {                                                                                     \
        _tile_stored(2, c + 16 * LP_PW, 128);                                                                 \
        _tile_stored(3, c + 16 * LP_PW + 16, 128);                                                            \
    }

// A step: 16 k pairs (bf16) or quads (int8): x rows from xp (xs elements apart), the panel slice from w
// (AMX_STEP_BYTES of it, either dtype). The panel slice two steps ahead is prefetched into L1: the tile
// loads of the weights were where the kernel waited, and this ran 3-15% faster than none or 4 or 8 ahead.
// Near a panel's end that reaches into the next panel or past the array: a prefetch never faults.
#define AMX_STEP_BYTES 2048
#define AMX_TILE(NAME, T, W, C, DOT, KPER, TWO)                                                              \
    TAMX static void NAME(const T *xp, int64_t xs, int32_t kg, const W *w, C *c) {                           \
        const int64_t stride = xs * (int64_t)sizeof(T);                                                       \
        AMX_ZERO(TWO)                                                                                         \
        for (int32_t k = 0; k < kg; k += 16, xp += 16 * KPER, w += 16 * KPER * LP_PW) {                      \
            for (int l = 0; l < AMX_STEP_BYTES / 64; l++)                                                     \
                _mm_prefetch((const char *)w + 2 * AMX_STEP_BYTES + l * 64, _MM_HINT_T0);                     \
            _tile_loadd(4, xp, stride);                                                                       \
            _tile_loadd(6, w, 128);                                                                           \
            _tile_loadd(7, w + 16 * KPER, 128);                                                               \
            DOT(0, 4, 6);                                                                                     \
            DOT(1, 4, 7);                                                                                     \
            if (TWO) {                                                                                        \
                _tile_loadd(5, xp + 16 * xs, stride);                                                         \
                DOT(2, 5, 6);                                                                                 \
                DOT(3, 5, 7);                                                                                 \
            }                                                                                                 \
        }                                                                                                     \
        AMX_STORE(c, TWO)                                                                                     \
    }
AMX_TILE(bf16_rows_amx, uint16_t, uint16_t, float, _tile_dpbf16ps, 2, 1)
AMX_TILE(bf16_rows_amx_16, uint16_t, uint16_t, float, _tile_dpbf16ps, 2, 0)
AMX_TILE(q8_rows_amx, int8_t, uint8_t, int32_t, _tile_dpbsud, 4, 1)
AMX_TILE(q8_rows_amx_16, int8_t, uint8_t, int32_t, _tile_dpbsud, 4, 0)

// CPUID and XCR0 say the CPU has AMX and the OS saves its state; Linux then gives a process the tile data
// only once asked (arch_prctl ARCH_REQ_XCOMP_PERM, process-wide, idempotent). Asked once; -1: refused.
static int amx_usable(void) {
    static int state; // 0 not asked yet, 1 granted, -1 not available
    int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (s) return s > 0;
    s = -1;
#if defined(__linux__)
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 22 & 1) && (d >> 24 & 1) && (d >> 25 & 1) &&
        __get_cpuid(1, &a, &b, &c, &d) && (c >> 27 & 1)) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        const uint64_t xtile = (1u << 17) | (1u << 18); // XTILECFG, XTILEDATA
        if ((lo & xtile) == xtile && syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18) == 0) s = 1;
    }
#endif
    __atomic_store_n(&state, s, __ATOMIC_RELEASE);
    return s > 0;
}

// ---- ymm: 2 x 32

#define MRY 2

// Stores or accumulates a 2 x 32 int32 tile held as acc[row][quarter].
#define STORE_YMM_I32(acc, c, first)                                                                              \
    for (int r = 0; r < MRY; r++)                                                                              \
        for (int i = 0; i < 4; i++) {                                                                          \
            __m256i *dst = (__m256i *)(c + r * LP_PW + 8 * i);                                                 \
            _mm256_storeu_si256(dst, first ? acc[r][i] : _mm256_add_epi32(_mm256_loadu_si256(dst), acc[r][i])); \
        }

// vpdpbusd on ymm, once VEX-encoded (AVX-VNNI: CPUs without AVX-512) and once EVEX-encoded (AVX512-VNNI +
// VL), from one body: the EVEX twin is the same algorithm, runnable (and so tested) on AVX-512 machines.
#define Q8_TILE_YMM_VNNI(NAME, TARGET, DPBUSD)                                                                 \
    TARGET static void NAME(const int8_t *xp, int32_t kq, const uint8_t *w, int32_t *c, int32_t first, const char *pf, int32_t pf_lines) {       \
        __m256i acc[MRY][4];                                                                                   \
        for (int r = 0; r < MRY; r++)                                                                          \
            for (int i = 0; i < 4; i++) acc[r][i] = _mm256_setzero_si256();                                    \
        for (int32_t k = 0; k < kq; k++, xp += 4 * MRY, w += 4 * LP_PW) {                                     \
            PREFETCH_STEP(k, kq)                                                                               \
            const __m256i x0 = _mm256_set1_epi32(load32(xp)), x1 = _mm256_set1_epi32(load32(xp + 4));          \
            for (int i = 0; i < 4; i++) {                                                                      \
                const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + 32 * i));                          \
                acc[0][i] = DPBUSD(acc[0][i], wv, x0);                                                         \
                acc[1][i] = DPBUSD(acc[1][i], wv, x1);                                                         \
            }                                                                                                  \
        }                                                                                                      \
        STORE_YMM_I32(acc, c, first)                                                                           \
    }

Q8_TILE_YMM_VNNI(q8_tile_avxvnni, TAVXVNNI, _mm256_dpbusd_avx_epi32)
Q8_TILE_YMM_VNNI(q8_tile_vnni_ymm, T512VNNI, _mm256_dpbusd_epi32)

// AVX2 without VNNI: w = (q + 128) ^ 0x80 is q as s8; |q| * sign(x, q) = x * q on vpmaddubsw, whose pair sums
// (at most 2 * 127 * 127) cannot saturate int16; vpmaddwd by ones adds the pairs into int32 lanes.
TAVX2 static void q8_tile_avx2(const int8_t *xp, int32_t kq, const uint8_t *w, int32_t *c, int32_t first, const char *pf, int32_t pf_lines) {
    __m256i acc[MRY][4];
    for (int r = 0; r < MRY; r++)
        for (int i = 0; i < 4; i++) acc[r][i] = _mm256_setzero_si256();
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    for (int32_t k = 0; k < kq; k++, xp += 4 * MRY, w += 4 * LP_PW) {
        PREFETCH_STEP(k, kq)
        const __m256i x0 = _mm256_set1_epi32(load32(xp)), x1 = _mm256_set1_epi32(load32(xp + 4));
        for (int i = 0; i < 4; i++) {
            const __m256i q = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w + 32 * i)), flip);
            const __m256i aq = _mm256_abs_epi8(q);
            const __m256i p0 = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(x0, q));
            const __m256i p1 = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(x1, q));
            acc[0][i] = _mm256_add_epi32(acc[0][i], _mm256_madd_epi16(p0, ones));
            acc[1][i] = _mm256_add_epi32(acc[1][i], _mm256_madd_epi16(p1, ones));
        }
    }
    STORE_YMM_I32(acc, c, first)
}

// bf16 on AVX2: each 32-bit lane holds (even k, odd k); shifting / masking widens them to fp32 exactly.
TAVX2 static void bf16_tile_avx2(const uint16_t *xp, int32_t kp, const uint16_t *w, float *c, int32_t first, const char *pf, int32_t pf_lines) {
    __m256 acc[MRY][4];
    for (int r = 0; r < MRY; r++)
        for (int i = 0; i < 4; i++) acc[r][i] = _mm256_setzero_ps();
    const __m256i hi = _mm256_set1_epi32((int32_t)0xffff0000u);
    for (int32_t k = 0; k < kp; k++, xp += 2 * MRY, w += 2 * LP_PW) {
        PREFETCH_STEP(k, kp)
        __m256 xe[MRY], xo[MRY];
        for (int r = 0; r < MRY; r++) {
            const __m256i xv = _mm256_set1_epi32(load32(xp + 2 * r));
            xe[r] = _mm256_castsi256_ps(_mm256_slli_epi32(xv, 16));
            xo[r] = _mm256_castsi256_ps(_mm256_and_si256(xv, hi));
        }
        for (int i = 0; i < 4; i++) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + 16 * i));
            const __m256 we = _mm256_castsi256_ps(_mm256_slli_epi32(wv, 16));
            const __m256 wo = _mm256_castsi256_ps(_mm256_and_si256(wv, hi));
            for (int r = 0; r < MRY; r++) acc[r][i] = _mm256_fmadd_ps(we, xe[r], _mm256_fmadd_ps(wo, xo[r], acc[r][i]));
        }
    }
    for (int r = 0; r < MRY; r++)
        for (int i = 0; i < 4; i++) {
            float *dst = c + r * LP_PW + 8 * i;
            _mm256_storeu_ps(dst, first ? acc[r][i] : _mm256_add_ps(_mm256_loadu_ps(dst), acc[r][i]));
        }
}

// The AVX-512 path's tiles, those with x broadcast into registers when SUFFIX is _xreg (cpu.h).
#define AVX512_PATH(SUFFIX)                                                                                   \
    {.bf16_mr = MR512, .q8_mr = MR512, .bf16 = bf16_tile_avx512##SUFFIX, .q8 = q8_tile_avx512##SUFFIX,        \
     .q8_biased = 1, .small_mr = 8, .bf16_small = bf16_tile_avx512_8##SUFFIX, .q8_small = q8_tile_avx512_8##SUFFIX}

static const struct lp_path PATHS[DBK_PATH_COUNT] = {
    [DBK_PATH_AVX2] = {.bf16_mr = MRY, .q8_mr = MRY, .bf16 = bf16_tile_avx2, .q8 = q8_tile_avx2},
    [DBK_PATH_AVX_VNNI] = {.q8_mr = MRY, .q8 = q8_tile_avxvnni, .q8_biased = 1},
    [DBK_PATH_VNNI_YMM] = {.q8_mr = MRY, .q8 = q8_tile_vnni_ymm, .q8_biased = 1},
    [DBK_PATH_AVX512] = AVX512_PATH(),
    [DBK_PATH_AMX] = {.bf16_mr = MR_AMX, .q8_mr = MR_AMX, .q8_biased = 1, .small_mr = 16,
                      .bf16_rows = bf16_rows_amx, .bf16_rows_small = bf16_rows_amx_16,
                      .q8_rows = q8_rows_amx, .q8_rows_small = q8_rows_amx_16, .begin = amx_begin, .end = amx_end},
};

// The AVX-512 path for the CPUs that want x in registers (cpu.h).
static const struct lp_path AVX512_XREG = AVX512_PATH(_xreg);

const struct lp_path *lp_x86_path(int32_t path) {
    if (path <= DBK_PATH_SCALAR || path >= DBK_PATH_COUNT) return NULL;
    if (path == DBK_PATH_AVX512 && dbk_x_in_register()) return &AVX512_XREG;
    return &PATHS[path];
}

int32_t lp_x86_supported(int32_t dtype, int32_t path) {
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl");
    switch (path) {
    case DBK_PATH_AVX2: return avx2;
    case DBK_PATH_AVX_VNNI: return dtype == DBK_DTYPE_Q8 && avx2 && __builtin_cpu_supports("avxvnni");
    case DBK_PATH_VNNI_YMM: return dtype == DBK_DTYPE_Q8 && avx512 && __builtin_cpu_supports("avx512vnni");
    case DBK_PATH_AVX512:
        if (dtype == DBK_DTYPE_BF16) return avx512 && __builtin_cpu_supports("avx512bf16");
        return avx512 && __builtin_cpu_supports("avx512vnni");
    case DBK_PATH_AMX: return avx2 && amx_usable(); // avx2: the conversions and epilogue's vector code
    default: return 0;
    }
}

#else

const struct lp_path *lp_x86_path(int32_t path) {
    (void)path;
    return NULL;
}

int32_t lp_x86_supported(int32_t dtype, int32_t path) {
    (void)dtype;
    (void)path;
    return 0;
}

#endif
