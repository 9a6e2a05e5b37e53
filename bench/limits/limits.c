/*
 * limits.c - this machine's compute and memory limits, the denominators of bench/report.ts's "% of limit".
 *
 * What it measures, on --threads threads at once (default: the online CPUs):
 *   fp32_fma  vfmadd*ps     GFLOP/s   a 16-lane (zmm) FMA counts 32 FLOP, an 8-lane (ymm) one 16
 *   bf16_dot  vdpbf16ps     GFLOP/s   zmm: 32 bf16 pairs multiplied and added = 64 FLOP
 *   int8_dot  vpdpbusd      Gop/s     zmm: 64 u8 x s8 products added = 128 int ops (ymm: 64)
 *             AMX instead, where the CPU has it and Linux grants the tiles (the library runs bf16 / q8 there;
 *             --max-isa below avx512 leaves it out):
 *   bf16_dot  tdpbf16ps     GFLOP/s   16x16 fp32 sums of 32 bf16 pairs = 16,384 FLOP per instruction
 *   int8_dot  tdpbsud       Gop/s     16x16 int32 sums of 64 s8 x u8 products = 32,768 int ops
 *   mem_read  vector loads  GB/s      a buffer of max(512 MiB, 8x L3) read end to end, summed
 * The compute peaks run 24 (zmm) or 12 (ymm) independent accumulator chains per thread, all in registers
 * (more than pipes x latency on the x86 cores we know of, 2-4 x 4-5), so the figure is the issue rate of the
 * vector units, without dependency waits or memory: no kernel using that instruction can beat it. Each measurement repeats (--repeats, default 5) for about --seconds (default 0.2) and keeps the
 * best repetition, as a peak should: a slower one is other tenants of the machine, not its limit.
 *
 * How it builds everywhere: each kernel carries its own __attribute__((target(...))) and is only called when
 * CPUID (and XGETBV: the OS saves the registers) says the CPU has it, so a plain `cc -O2 -pthread` build
 * needs no -march and runs on any x86-64; elsewhere only mem_read (plain C) is measured. The widest registers
 * the CPU has are used (zmm, else ymm); an instruction set it lacks leaves its line out. CPUID is read
 * directly rather than through __builtin_cpu_supports because the latter's names (avxvnni, avx512bf16)
 * are unknown to older compilers and fail the build there.
 *
 * Output, one JSON object per line: first {"kind":"cpu","model":...,"flags":[...]}, then per measurement
 * {"kind":"limit","what":...,"unit":...,"value":...,"threads":N,"isa":...,"instruction":...}.
 *
 *   cc -O2 -pthread -o limits bench/limits/limits.c && ./limits [--threads N] [--seconds S] [--repeats R]
 *      [--mem-mib M] [--max-isa avx512|avx2|scalar] [--only fp32_fma,mem_read,...]
 *      (or: deno run -A bench/limits.ts, which builds it under bench/out/)
 */
#define _GNU_SOURCE /* syscall() */
#define _POSIX_C_SOURCE 200809L
#define _DARWIN_C_SOURCE /* macOS hides _SC_NPROCESSORS_ONLN under strict POSIX */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#define LIMITS_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define LIMITS_X86 0
#endif

/* ---------------------------------------------------------------------------------------------------- */
/* CPU features */

struct features {
  int fma, avx2, avx512f, avx512_bf16, avx512_vnni, avx_vnni, amx;
};

static struct features detect_features(void) {
  struct features f = {0};
#if LIMITS_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
  if (!osxsave || !avx) return f;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  (void)hi;
  int ymm_state = (lo & 0x6) == 0x6;           /* SSE + AVX state saved by the OS */
  int zmm_state = ymm_state && (lo & 0xe0) == 0xe0; /* opmask, upper ZMM0-15, ZMM16-31 */
  if (!ymm_state) return f;
  unsigned max_leaf = __get_cpuid_max(0, NULL);
  unsigned b7 = 0, c7 = 0, a71 = 0;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    b7 = b;
    c7 = c;
    unsigned sub_max = a;
    if (sub_max >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      a71 = a;
    }
  }
  f.fma = fma;
  f.avx2 = (b7 >> 5) & 1;
  f.avx_vnni = f.avx2 && ((a71 >> 4) & 1);
  if (zmm_state && ((b7 >> 16) & 1)) {
    f.avx512f = 1;
    f.avx512_vnni = (c7 >> 11) & 1;
    f.avx512_bf16 = (a71 >> 5) & 1;
  }
#if defined(__linux__)
  /* AMX-BF16, AMX-TILE, AMX-INT8; XTILECFG + XTILEDATA saved; the process granted the tile data. */
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    if ((d >> 22 & 1) && (d >> 24 & 1) && (d >> 25 & 1) && (lo & 0x60000) == 0x60000 &&
        syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0)
      f.amx = 1;
  }
#endif
#endif
  return f;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Kernels. Every chain starts from its own value so the compiler cannot merge identical chains into one,
 * the operands come from the caller (no constant folding), and the chains are summed into the result. */

#define CHAINS_ZMM(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) \
  X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define N_ZMM 24 /* 24 accumulators + 2 operands of 32 zmm registers */
#define CHAINS_YMM(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define N_YMM 12 /* 12 accumulators + 2 operands of 16 ymm registers */

#if LIMITS_X86

__attribute__((target("avx512f"))) static double fp32_zmm(uint64_t iters, float m, float a) {
  __m512 x = _mm512_set1_ps(m), y = _mm512_set1_ps(a);
#define INIT(k) __m512 c##k = _mm512_set1_ps(a * (float)((k) + 1));
#define STEP(k) c##k = _mm512_fmadd_ps(c##k, x, y);
#define SUM(k) s = _mm512_add_ps(s, c##k);
  CHAINS_ZMM(INIT)
  for (uint64_t i = 0; i < iters; i++) { CHAINS_ZMM(STEP) }
  __m512 s = _mm512_setzero_ps();
  CHAINS_ZMM(SUM)
#undef INIT
#undef STEP
#undef SUM
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static double fp32_ymm(uint64_t iters, float m, float a) {
  __m256 x = _mm256_set1_ps(m), y = _mm256_set1_ps(a);
#define INIT(k) __m256 c##k = _mm256_set1_ps(a * (float)((k) + 1));
#define STEP(k) c##k = _mm256_fmadd_ps(c##k, x, y);
#define SUM(k) s = _mm256_add_ps(s, c##k);
  CHAINS_YMM(INIT)
  for (uint64_t i = 0; i < iters; i++) { CHAINS_YMM(STEP) }
  __m256 s = _mm256_setzero_ps();
  CHAINS_YMM(SUM)
#undef INIT
#undef STEP
#undef SUM
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

__attribute__((target("avx512f,avx512bf16"))) static double bf16_zmm(uint64_t iters, float m, float a) {
  __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(m), _mm512_set1_ps(m));
  __m512bh y = _mm512_cvtne2ps_pbh(_mm512_set1_ps(a), _mm512_set1_ps(a));
#define INIT(k) __m512 c##k = _mm512_set1_ps(a * (float)((k) + 1));
#define STEP(k) c##k = _mm512_dpbf16_ps(c##k, x, y);
#define SUM(k) s = _mm512_add_ps(s, c##k);
  CHAINS_ZMM(INIT)
  for (uint64_t i = 0; i < iters; i++) { CHAINS_ZMM(STEP) }
  __m512 s = _mm512_setzero_ps();
  CHAINS_ZMM(SUM)
#undef INIT
#undef STEP
#undef SUM
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"))) static double int8_zmm(uint64_t iters, float m, float a) {
  __m512i x = _mm512_set1_epi8((char)(1 + (int)m)), y = _mm512_set1_epi8((char)(1 + (int)(a * 1000)));
#define INIT(k) __m512i c##k = _mm512_set1_epi32((int)(a * 1000) + (k));
#define STEP(k) c##k = _mm512_dpbusd_epi32(c##k, x, y);
#define SUM(k) s = _mm512_add_epi32(s, c##k);
  CHAINS_ZMM(INIT)
  for (uint64_t i = 0; i < iters; i++) { CHAINS_ZMM(STEP) }
  __m512i s = _mm512_setzero_si512();
  CHAINS_ZMM(SUM)
#undef INIT
#undef STEP
#undef SUM
  /* Summed as unsigned: the chains wrap around, and signed overflow in C would be undefined. */
  uint32_t out[16], sum = 0;
  _mm512_storeu_si512((void *)out, s);
  for (int i = 0; i < 16; i++) sum += out[i];
  return (double)sum;
}

/* AMX: four independent 16x16 accumulator tiles against two operand tiles loaded once, so only the tile
 * unit's issue rate counts. The configuration is a constant in memory (GCC 12's _tile_loadconfig declares
 * an 8-byte operand: a configuration built on the stack may lose its stores). */
struct amx_config {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static const struct amx_config AMX_CONFIG = {1, 0, {0}, {64, 64, 64, 64, 64, 64, 64, 64}, {16, 16, 16, 16, 16, 16, 16, 16}};
static uint8_t amx_operand[2][1024] __attribute__((aligned(64)));

#define AMX_PEAK(NAME, DOT)                                                                                \
  __attribute__((target("amx-tile,amx-bf16,amx-int8"))) static double NAME(uint64_t iters, float m, float a) { \
    (void)m, (void)a;                                                                                     \
    _tile_loadconfig(&AMX_CONFIG);                                                                        \
    _tile_zero(0);                                                                                        \
    _tile_zero(1);                                                                                        \
    _tile_zero(2);                                                                                        \
    _tile_zero(3);                                                                                        \
    _tile_loadd(4, amx_operand[0], 64);                                                                   \
    _tile_loadd(5, amx_operand[1], 64);                                                                   \
    _tile_loadd(6, amx_operand[1], 64);                                                                   \
    _tile_loadd(7, amx_operand[0], 64);                                                                   \
    for (uint64_t i = 0; i < iters; i++) {                                                                \
      DOT(0, 4, 6);                                                                                       \
      DOT(1, 4, 7);                                                                                       \
      DOT(2, 5, 6);                                                                                       \
      DOT(3, 5, 7);                                                                                       \
    }                                                                                                     \
    float out[256];                                                                                       \
    _tile_stored(0, out, 64);                                                                             \
    _tile_release();                                                                                      \
    return out[0];                                                                                        \
  }
AMX_PEAK(bf16_amx, _tile_dpbf16ps)
AMX_PEAK(int8_amx, _tile_dpbsud)

__attribute__((target("avx2,avxvnni"))) static double int8_ymm(uint64_t iters, float m, float a) {
  __m256i x = _mm256_set1_epi8((char)(1 + (int)m)), y = _mm256_set1_epi8((char)(1 + (int)(a * 1000)));
#define INIT(k) __m256i c##k = _mm256_set1_epi32((int)(a * 1000) + (k));
#define STEP(k) c##k = _mm256_dpbusd_avx_epi32(c##k, x, y);
#define SUM(k) s = _mm256_add_epi32(s, c##k);
  CHAINS_YMM(INIT)
  for (uint64_t i = 0; i < iters; i++) { CHAINS_YMM(STEP) }
  __m256i s = _mm256_setzero_si256();
  CHAINS_YMM(SUM)
#undef INIT
#undef STEP
#undef SUM
  uint32_t out[8], sum = 0;
  _mm256_storeu_si256((__m256i *)out, s);
  for (int i = 0; i < 8; i++) sum += out[i];
  return (double)sum;
}

/* Memory reads: 4 accumulators of 64-bit adds (integer, so no FP latency limits the loop). The empty asm
 * with a "memory" clobber before each pass makes the compiler reload the buffer every pass. */
__attribute__((target("avx512f"))) static uint64_t read_zmm(const uint8_t *p, size_t n, uint64_t passes) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  for (uint64_t pass = 0; pass < passes; pass++) {
    __asm__ volatile("" ::: "memory");
    for (size_t i = 0; i < n; i += 256) {
      s0 = _mm512_add_epi64(s0, _mm512_load_si512((const void *)(p + i)));
      s1 = _mm512_add_epi64(s1, _mm512_load_si512((const void *)(p + i + 64)));
      s2 = _mm512_add_epi64(s2, _mm512_load_si512((const void *)(p + i + 128)));
      s3 = _mm512_add_epi64(s3, _mm512_load_si512((const void *)(p + i + 192)));
    }
  }
  s0 = _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3));
  uint64_t out[8], sum = 0;
  _mm512_storeu_si512((void *)out, s0);
  for (int i = 0; i < 8; i++) sum += out[i];
  return sum;
}

__attribute__((target("avx2"))) static uint64_t read_ymm(const uint8_t *p, size_t n, uint64_t passes) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (uint64_t pass = 0; pass < passes; pass++) {
    __asm__ volatile("" ::: "memory");
    for (size_t i = 0; i < n; i += 128) {
      s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(p + i)));
      s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(p + i + 32)));
      s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(p + i + 64)));
      s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
  }
  s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  uint64_t out[4];
  _mm256_storeu_si256((__m256i *)out, s0);
  return out[0] + out[1] + out[2] + out[3];
}

#endif /* LIMITS_X86 */

static uint64_t read_scalar(const uint8_t *p, size_t n, uint64_t passes) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (uint64_t pass = 0; pass < passes; pass++) {
#if defined(__GNUC__)
    __asm__ volatile("" ::: "memory");
#endif
    const uint64_t *q = (const uint64_t *)(const void *)p;
    for (size_t i = 0; i < n / 8; i += 4) {
      s0 += q[i];
      s1 += q[i + 1];
      s2 += q[i + 2];
      s3 += q[i + 3];
    }
  }
  return s0 + s1 + s2 + s3;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Running a job on every thread at once */

typedef double (*compute_fn)(uint64_t iters, float m, float a);
typedef uint64_t (*read_fn)(const uint8_t *p, size_t n, uint64_t passes);

struct job {
  compute_fn compute; /* either this ... */
  read_fn read;       /* ... or this, or neither: first-touch the memory chunk */
  uint64_t count;     /* loop iterations, or passes over the chunk */
  uint8_t *chunk;
  size_t chunk_bytes;
  double result; /* consumed by main so nothing is dead code */
};

struct shared {
  atomic_int ready;
  atomic_int go;
};

struct worker_arg {
  struct job *job;
  struct shared *sh;
};

/* The kernels' operands, read at run time so no compiler can fold them. The FMA chains converge (x*m + a
 * with m < 1), the dot products grow slowly: no chain reaches Inf or a denormal, either of which can slow
 * some CPUs down. */
static volatile float op_m = 0.999999f, op_a = 0.001f;

static void run_job(struct job *j) {
  if (j->compute) {
    j->result = j->compute(j->count, op_m, op_a);
  } else if (j->read) {
    j->result = (double)j->read(j->chunk, j->chunk_bytes, j->count);
  } else {
    /* Non-zero bytes, written by the thread that will read them (first touch places the pages). */
    memset(j->chunk, 1, j->chunk_bytes);
    j->result = 0;
  }
}

static void *worker(void *p) {
  struct worker_arg *w = p;
  atomic_fetch_add(&w->sh->ready, 1);
  while (!atomic_load(&w->sh->go)) sched_yield();
  run_job(w->job);
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile double sink;

/* Runs jobs[0..n) on n threads (the calling thread is one of them), timed from the moment all are ready
 * until the last finishes. */
static double run_parallel(struct job *jobs, int n) {
  struct shared sh;
  atomic_init(&sh.ready, 0);
  atomic_init(&sh.go, 0);
  pthread_t *tids = calloc((size_t)n, sizeof *tids);
  struct worker_arg *args = calloc((size_t)n, sizeof *args);
  if (!tids || !args) {
    fprintf(stderr, "limits: out of memory for %d threads\n", n);
    exit(1);
  }
  for (int t = 1; t < n; t++) {
    args[t] = (struct worker_arg){&jobs[t], &sh};
    int err = pthread_create(&tids[t], NULL, worker, &args[t]);
    if (err) {
      fprintf(stderr, "limits: could not start thread %d of %d: %s\n", t + 1, n, strerror(err));
      exit(1);
    }
  }
  while (atomic_load(&sh.ready) < n - 1) sched_yield();
  double t0 = now_s();
  atomic_store(&sh.go, 1);
  run_job(&jobs[0]);
  for (int t = 1; t < n; t++) pthread_join(tids[t], NULL);
  double elapsed = now_s() - t0;
  for (int t = 0; t < n; t++) sink += jobs[t].result;
  free(tids);
  free(args);
  return elapsed;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Measurements */

struct options {
  int threads;
  double seconds;
  int repeats;
  uint64_t mem_bytes; /* 0: the default */
  int max_isa;        /* ISA_* : the widest code path used, so the narrower ones can be run on a wide CPU */
  unsigned only;      /* bit i: measure LIMIT_NAMES[i]; all of them when --only is not given */
};

enum { ISA_SCALAR, ISA_AVX2, ISA_AVX512 };

/* Best rate of `ops_per_iter` operations per loop iteration per thread, in G per second. */
static double measure_compute(const struct options *o, compute_fn fn, double ops_per_iter) {
  int n = o->threads;
  struct job *jobs = calloc((size_t)n, sizeof *jobs);
  if (!jobs) exit(1);
  /* Calibrate: double the iterations until a run lasts a tenth of the target, then scale to it. */
  uint64_t iters = 1u << 12;
  double t;
  for (;;) {
    for (int i = 0; i < n; i++) jobs[i] = (struct job){.compute = fn, .count = iters};
    t = run_parallel(jobs, n);
    if (t >= o->seconds / 10 || iters >= (UINT64_C(1) << 40)) break;
    iters *= 2;
  }
  uint64_t target = (uint64_t)((double)iters * o->seconds / (t > 0 ? t : 1e-9));
  if (target < iters) target = iters;
  double best = 0;
  for (int r = 0; r < o->repeats; r++) {
    for (int i = 0; i < n; i++) jobs[i] = (struct job){.compute = fn, .count = target};
    double e = run_parallel(jobs, n);
    double rate = (double)n * (double)target * ops_per_iter / e / 1e9;
    if (rate > best) best = rate;
  }
  free(jobs);
  return best;
}

/* The size of the L3 (or last-level) cache cpu0 sees, from Linux's sysfs; 0 when unknown. */
static uint64_t l3_bytes(void) {
  uint64_t best = 0;
  for (int i = 0; i < 8; i++) {
    char path[96], buf[64];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    int level = 0;
    if (fscanf(f, "%d", &level) != 1) level = 0;
    fclose(f);
    if (level < 3) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    f = fopen(path, "r");
    if (!f) continue;
    if (fgets(buf, sizeof buf, f)) {
      char *end;
      unsigned long long v = strtoull(buf, &end, 10);
      if (*end == 'K') v <<= 10;
      else if (*end == 'M') v <<= 20;
      if (v > best) best = v;
    }
    fclose(f);
  }
  return best;
}

static double measure_read(const struct options *o, read_fn fn, uint64_t total, uint64_t *bytes_out) {
  int n = o->threads;
  /* Each thread reads its own chunk, a multiple of 256 bytes (one iteration of the widest loop). */
  size_t chunk = (size_t)(total / (uint64_t)n) / 256 * 256;
  if (chunk == 0) chunk = 256;
  uint8_t *buf = NULL;
  int err = posix_memalign((void **)&buf, 4096, chunk * (size_t)n);
  if (err) {
    fprintf(stderr, "limits: could not allocate %zu MiB for the memory read (%s); try --mem-mib\n",
            (chunk * (size_t)n) >> 20, strerror(err));
    exit(1);
  }
  struct job *jobs = calloc((size_t)n, sizeof *jobs);
  if (!jobs) exit(1);
  for (int i = 0; i < n; i++) jobs[i] = (struct job){.chunk = buf + (size_t)i * chunk, .chunk_bytes = chunk};
  run_parallel(jobs, n); /* first touch */
  for (int i = 0; i < n; i++) jobs[i].read = fn, jobs[i].count = 1;
  double t = run_parallel(jobs, n); /* one pass: warm-up, and the time a pass takes */
  uint64_t passes = (uint64_t)(o->seconds / (t > 0 ? t : 1e-9) + 0.5);
  if (passes < 1) passes = 1;
  double best = 0;
  for (int r = 0; r < o->repeats; r++) {
    for (int i = 0; i < n; i++) jobs[i].count = passes;
    double e = run_parallel(jobs, n);
    double rate = (double)chunk * (double)n * (double)passes / e / 1e9;
    if (rate > best) best = rate;
  }
  *bytes_out = (uint64_t)chunk * (uint64_t)n;
  free(jobs);
  free(buf);
  return best;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Output */

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') printf("\\%c", ch);
    else if (ch < 0x20) printf("\\u%04x", ch);
    else putchar(ch);
  }
  putchar('"');
}

static void trim(char *s) {
  size_t len = strlen(s);
  while (len && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\t')) s[--len] = 0;
  size_t lead = strspn(s, " \t");
  memmove(s, s + lead, len - lead + 1);
}

/* The CPU's name: /proc/cpuinfo's "model name", else the CPUID brand string, else "unknown". */
static void cpu_model(char *out, size_t size) {
  snprintf(out, size, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "model name", 10) == 0) {
        char *colon = strchr(line, ':');
        if (colon) {
          snprintf(out, size, "%s", colon + 1);
          trim(out);
          fclose(f);
          return;
        }
      }
    }
    fclose(f);
  }
#if LIMITS_X86
  if (__get_cpuid_max(0x80000000, NULL) >= 0x80000004) {
    unsigned r[12];
    for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    char brand[49];
    memcpy(brand, r, 48);
    brand[48] = 0;
    trim(brand);
    if (brand[0]) snprintf(out, size, "%s", brand);
  }
#endif
}

static void print_limit(const char *what, const char *unit, double value, int threads, const char *isa,
                        const char *instruction) {
  printf("{\"kind\":\"limit\",\"what\":\"%s\",\"unit\":\"%s\",\"value\":%.2f,\"threads\":%d,\"isa\":\"%s\","
         "\"instruction\":\"%s\"}\n",
         what, unit, value, threads, isa, instruction);
  fflush(stdout);
}

/* ---------------------------------------------------------------------------------------------------- */

/* The measurements, in the order printed; --only names a subset. */
static const char *const LIMIT_NAMES[] = {"fp32_fma", "bf16_dot", "int8_dot", "mem_read"};
#define N_LIMITS 4
enum { ONLY_FP32 = 1, ONLY_BF16 = 2, ONLY_INT8 = 4, ONLY_MEM = 8 };

/* The bit mask of a comma-separated list of LIMIT_NAMES; exits naming an unknown or empty entry. */
static unsigned parse_only(const char *text) {
  unsigned mask = 0;
  const char *p = text;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    int found = -1;
    for (int i = 0; i < N_LIMITS; i++)
      if (strlen(LIMIT_NAMES[i]) == len && strncmp(LIMIT_NAMES[i], p, len) == 0) found = i;
    if (found < 0) {
      fprintf(stderr, "limits: --only takes a comma-separated list of fp32_fma, bf16_dot, int8_dot, mem_read; "
                      "got \"%s\"\n", text);
      exit(2);
    }
    mask |= 1u << found;
    if (!end) return mask;
    p = end + 1;
  }
}

static void usage(FILE *to) {
  fprintf(to, "usage: limits [--threads N] [--seconds S] [--repeats R] [--mem-mib M] [--max-isa I] [--only L]\n"
              "  --threads N   threads per measurement, 1-1024 (default: online CPUs)\n"
              "  --seconds S   length of one repetition, 0.001-60 (default 0.2)\n"
              "  --repeats R   repetitions per measurement, the best kept, 1-100 (default 5)\n"
              "  --mem-mib M   memory read buffer in MiB, 1-1048576 (default: max(512, 8x L3))\n"
              "  --max-isa I   widest code used: avx512 (default), avx2 or scalar\n"
              "  --only L      measure only these, comma-separated: fp32_fma, bf16_dot, int8_dot, mem_read\n");
}

static double parse_number(const char *flag, const char *text, double lo, double hi, int integer) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || end == text || *end || v < lo || v > hi || (integer && v != (double)(long long)v)) {
    fprintf(stderr, "limits: %s must be %s from %g to %g, got \"%s\"\n", flag, integer ? "an integer" : "a number",
            lo, hi, text);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  struct options o = {
      .threads = online > 0 ? (int)online : 1, .seconds = 0.2, .repeats = 5, .mem_bytes = 0, .max_isa = ISA_AVX512,
      .only = (1u << N_LIMITS) - 1};
  for (int i = 1; i < argc; i++) {
    const char *flag = argv[i];
    if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
      usage(stdout);
      return 0;
    }
    int known = strcmp(flag, "--threads") == 0 || strcmp(flag, "--seconds") == 0 ||
                strcmp(flag, "--repeats") == 0 || strcmp(flag, "--mem-mib") == 0 || strcmp(flag, "--max-isa") == 0 ||
                strcmp(flag, "--only") == 0;
    if (!known) {
      fprintf(stderr, "limits: unknown argument \"%s\"\n", flag);
      usage(stderr);
      return 2;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "limits: %s needs a value\n", flag);
      return 2;
    }
    const char *v = argv[++i];
    if (strcmp(flag, "--threads") == 0) o.threads = (int)parse_number(flag, v, 1, 1024, 1);
    else if (strcmp(flag, "--seconds") == 0) o.seconds = parse_number(flag, v, 0.001, 60, 0);
    else if (strcmp(flag, "--repeats") == 0) o.repeats = (int)parse_number(flag, v, 1, 100, 1);
    else if (strcmp(flag, "--mem-mib") == 0) o.mem_bytes = (uint64_t)parse_number(flag, v, 1, 1 << 20, 1) << 20;
    else if (strcmp(flag, "--only") == 0) o.only = parse_only(v);
    else if (strcmp(v, "avx512") == 0) o.max_isa = ISA_AVX512;
    else if (strcmp(v, "avx2") == 0) o.max_isa = ISA_AVX2;
    else if (strcmp(v, "scalar") == 0) o.max_isa = ISA_SCALAR;
    else {
      fprintf(stderr, "limits: --max-isa must be avx512, avx2 or scalar, got \"%s\"\n", v);
      return 2;
    }
  }

  struct features f = detect_features();
  char model[256];
  cpu_model(model, sizeof model);
  printf("{\"kind\":\"cpu\",\"model\":");
  json_string(model);
  printf(",\"flags\":[");
  const char *names[] = {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx"};
  int has[] = {f.avx2, f.fma, f.avx512f, f.avx512_bf16, f.avx512_vnni, f.avx_vnni, f.amx};
  int first = 1;
  for (int i = 0; i < 7; i++) {
    if (!has[i]) continue;
    printf("%s\"%s\"", first ? "" : ",", names[i]);
    first = 0;
  }
  printf("]}\n");
  fflush(stdout);

  /* The cpu line names what the CPU has; what runs may be capped below it. */
  if (o.max_isa < ISA_AVX512) f.avx512f = f.avx512_bf16 = f.avx512_vnni = f.amx = 0;
  if (o.max_isa < ISA_AVX2) f.avx2 = f.fma = f.avx_vnni = 0;

  int n = o.threads;
#if LIMITS_X86
  const int fp32 = (o.only & ONLY_FP32) != 0, bf16 = (o.only & ONLY_BF16) != 0, int8 = (o.only & ONLY_INT8) != 0;
  if (fp32 && f.avx512f) {
    print_limit("fp32_fma", "GFLOP/s", measure_compute(&o, fp32_zmm, N_ZMM * 32.0), n, "avx512", "vfmadd*ps zmm");
  } else if (fp32 && f.avx2 && f.fma) {
    print_limit("fp32_fma", "GFLOP/s", measure_compute(&o, fp32_ymm, N_YMM * 16.0), n, "avx2", "vfmadd*ps ymm");
  }
  if (bf16 && f.amx) {
    print_limit("bf16_dot", "GFLOP/s", measure_compute(&o, bf16_amx, 4 * 16384.0), n, "amx", "tdpbf16ps");
  } else if (bf16 && f.avx512_bf16) {
    print_limit("bf16_dot", "GFLOP/s", measure_compute(&o, bf16_zmm, N_ZMM * 64.0), n, "avx512", "vdpbf16ps zmm");
  }
  if (int8 && f.amx) {
    print_limit("int8_dot", "Gop/s", measure_compute(&o, int8_amx, 4 * 32768.0), n, "amx", "tdpbsud");
  } else if (int8 && f.avx512_vnni) {
    print_limit("int8_dot", "Gop/s", measure_compute(&o, int8_zmm, N_ZMM * 128.0), n, "avx512", "vpdpbusd zmm");
  } else if (int8 && f.avx_vnni) {
    print_limit("int8_dot", "Gop/s", measure_compute(&o, int8_ymm, N_YMM * 64.0), n, "avx_vnni",
                "vpdpbusd ymm");
  }
#endif

  if (!(o.only & ONLY_MEM)) return 0;
  uint64_t total = o.mem_bytes;
  if (total == 0) {
    total = UINT64_C(512) << 20;
    uint64_t l3 = l3_bytes();
    if (8 * l3 > total) total = 8 * l3;
  }
  uint64_t bytes = 0;
  const char *isa = "scalar", *instruction = "add r64, m64";
  read_fn rd = read_scalar;
#if LIMITS_X86
  if (f.avx512f) rd = read_zmm, isa = "avx512", instruction = "vpaddq zmm, m512";
  else if (f.avx2) rd = read_ymm, isa = "avx2", instruction = "vpaddq ymm, m256";
#endif
  double gbs = measure_read(&o, rd, total, &bytes);
  printf("{\"kind\":\"limit\",\"what\":\"mem_read\",\"unit\":\"GB/s\",\"value\":%.2f,\"threads\":%d,\"isa\":\"%s\","
         "\"instruction\":\"%s\",\"bytes\":%llu}\n",
         gbs, n, isa, instruction, (unsigned long long)bytes);
  return 0;
}
