#include <string.h>

#include "cpu.h"
#include "kernels.h"
#include "packed.h"
#include "pool.h"
#include "vecmath.h"

// y[M, N] = act(x[M, K] . w[N, K]^T + bias), with w packed once at load into panels of PW output features:
//   packed[p][k][j] = w[p * PW + j][k]     (p < N / PW, k < K, j < PW)
// so the kernel reads every weight as part of one contiguous stream, and no call repacks it (a BLAS call
// copies the whole weight matrix into its own panel layout every time, which at a few dozen tokens costs
// as much as the multiply: the encoder at batch 1 is bound by streaming its weights).
//
// The micro-kernel computes an MR-token x PW-feature tile of y in registers: per k, two vector loads of
// the weight panel and MR broadcasts of x (x packed per call into panels of MR tokens, [K, MR] each).
// Blocking: K in slices of KC (a KC x PW weight panel stays in L1 while every token panel of the block
// passes over it), tokens in blocks of up to MC (the block's x slice, MC x KC, stays in L2). A task is one
// block against a group of output features, so each task owns its part of y outright.
// KC x PW = 24 KB (AVX-512; AVX2 12 KB): with the next slice coming in beside it, the two fill a 48 KB L1.
#define KC 192
// Tokens per block, at most: M is cut into equal blocks (multiples of MR) no longer than this, so that 128
// and 256 tokens are one block each instead of leaving a short last block that reuses every weight slice in
// L1 only a few times (1-3% on the base linears at 128-256 tokens, measured interleaved).
#define MC 264
// Panels per task: enough tasks that two threads stay balanced on a 768-wide output.
#define GROUP 4

int32_t dbk_packed_panel_width(void) { return PW; }

struct pack_job {
    const float *w;
    float *packed, *scratch; // scratch: one panel (PW x K) per slot, for packing in place
    int32_t K;
};

// Panel p of packed from rows p * PW .. p * PW + PW of w (src, row stride K).
static void pack_panel(const float *src, int32_t K, float *dst) {
    // In blocks of 64 k, so the 8 KB of the panel being written stays in L1 (as in pack_x_task).
    for (int32_t k0 = 0; k0 < K; k0 += 64) {
        const int32_t k1 = k0 + 64 < K ? k0 + 64 : K;
        for (int32_t r = 0; r < PW; r++)
            for (int32_t k = k0; k < k1; k++) dst[(int64_t)k * PW + r] = src[(int64_t)r * K + k];
    }
}

static void pack_panel_task(void *ctx, int32_t p, int32_t slot) {
    const struct pack_job *j = ctx;
    const int64_t panel = (int64_t)PW * j->K;
    if (j->scratch) {
        // Panel p of the packed matrix occupies exactly the bytes of rows p * PW .. of the original, so
        // packing in place needs a copy of one panel's rows only.
        float *copy = j->scratch + (int64_t)slot * panel;
        memcpy(copy, j->packed + p * panel, sizeof(float) * (size_t)panel);
        pack_panel(copy, j->K, j->packed + p * panel);
    } else {
        pack_panel(j->w + p * panel, j->K, j->packed + p * panel);
    }
}

// Once per weight matrix at load, split over the pool's threads by panel.
void dbk_pack_weights(int32_t threads, const float *w, int32_t N, int32_t K, float *packed) {
    struct pack_job job = {w, packed, NULL, K};
    dbk_parallel(threads, pack_panel_task, &job, N / PW);
}

void dbk_pack_weights_in_place(int32_t threads, float *w, int32_t N, int32_t K, float *scratch, int64_t scratch_floats) {
    int64_t slots = scratch_floats / ((int64_t)PW * K);
    if (slots < 1) return; // the caller checks the size; never write past the scratch
    if (slots > dbk_clamp_threads(threads)) slots = dbk_clamp_threads(threads);
    struct pack_job job = {w, w, scratch, K};
    dbk_parallel((int32_t)slots, pack_panel_task, &job, N / PW);
}

int64_t dbk_packed_linear_scratch_floats(int32_t M, int32_t K) {
    return (int64_t)(M + MR - 1) / MR * MR * K;
}

// One RR x PW tile (RR <= MR tokens) over kc steps of k, into c: RR rows of PW floats, contiguous.
// first: store instead of accumulate. Prefetches from pf: PF = 2, two lines every k step (the slice's only
// tile); PF = 1, pf_lines lines (at most kc), spread evenly over the kc steps.
// (c is a small per-task buffer, not y: rows of y are N floats apart, and with N = 3072 all of a tile's rows
// fall into the same L1 set.)
static inline __attribute__((always_inline)) void tile(const float *xp, const float *wp, int32_t kc,
                                                       const int RR, float *c, int first, const char *pf,
                                                       const int PF, const int32_t pf_lines, const int XREG) {
    (void)XREG; // AVX2 builds: one form only
    dbk_vf acc[MR][2];
    for (int r = 0; r < RR; r++) acc[r][0] = acc[r][1] = dbk_splat(0.0f);
    // Spread rather than one per step from the tile's start: that burst of misses held up the tile's own
    // loads (spread, the base linears ran 1.5-6% faster at 32 and at 1024 tokens).
    int32_t due = 0;
    // Unrolled: the rolled loop ran at ~55% of the FMA peak, unrolled by 4 at ~95%.
#pragma GCC unroll 4
    for (int32_t k = 0; k < kc; k++, xp += MR, wp += PW) {
        if (PF == 2) {
            __builtin_prefetch(pf, 0, 3); // into L1, which has room beside the slice being multiplied
            __builtin_prefetch(pf + 64, 0, 3);
            pf += 128;
        } else if ((due += pf_lines) >= kc) {
            due -= kc;
            __builtin_prefetch(pf, 0, 3);
            pf += 64;
        }
        const dbk_vf w0 = dbk_loadu(wp), w1 = dbk_loadu(wp + DBK_VW);
        // With AVX-512 and !XREG each FMA takes its x from memory as an embedded broadcast ({1to16})
        // instead of the two sharing one vbroadcastss (cpu.h says which CPUs want which). The compiler
        // folds a broadcast into an FMA only when it has one use, so the second column reads x through a
        // pointer it cannot see is the same one. Same arithmetic, same results; AVX2 has no embedded
        // broadcasts.
        const float *x1 = xp;
#if DBK_VW == 16
        if (!XREG) __asm__("" : "+r"(x1));
#endif
        for (int r = 0; r < RR; r++) {
            acc[r][0] += w0 * xp[r];
            acc[r][1] += w1 * x1[r];
        }
    }
    for (int r = 0; r < RR; r++) {
        float *cr = c + r * PW;
        if (first) {
            dbk_storeu(cr, acc[r][0]);
            dbk_storeu(cr + DBK_VW, acc[r][1]);
        } else {
            dbk_storeu(cr, dbk_loadu(cr) + acc[r][0]);
            dbk_storeu(cr + DBK_VW, dbk_loadu(cr + DBK_VW) + acc[r][1]);
        }
    }
}

struct packed_job {
    const float *x, *wp, *bias;
    float *xp, *y;
    float *yp; // not NULL: y goes out packed as the next linear's x (pack_x_task's layout, N wide), not to y
    int32_t M, K, N, activation, threads, xreg;
    int32_t groups, tasks, mc; // tasks = token blocks of mc tokens (the last may be shorter) x groups
    int32_t blocks;
    struct dbk_panel_units units; // the last block's tasks (pool.h)
};

// Task t's token block and panels [*p_first, *p_last). Every block but the last is cut into groups of
// j->units.group panels; the last block into dbk_panel_units, its final panels one task each, so that the
// threads finish together (at a few dozen tokens, the wait at the end of each of a forward's linears).
static void task_panels(const struct packed_job *j, int32_t t, int32_t *block, int32_t *p_first, int32_t *p_last) {
    const int32_t panels = j->N / PW, full = (j->blocks - 1) * j->groups;
    if (t < full) {
        *block = t / j->groups;
        *p_first = t % j->groups * j->units.group;
        *p_last = *p_first + j->units.group < panels ? *p_first + j->units.group : panels;
        return;
    }
    *block = j->blocks - 1;
    dbk_unit_panels(&j->units, t - full, p_first, p_last);
}

// MR rows of src (row stride `stride`), columns 0 .. cols (a multiple of 4), into dst in pack_x_task's layout
// (dst[k * MR + r] = src[r * stride + k]): 4 x 4 blocks transposed in registers, one 16-byte store per 4
// values instead of 4 scalar ones (the scalar stores bounded packing, ~5% of a large-M linear).
static inline void rows_to_panel(const float *src, int64_t stride, int32_t cols, float *dst) {
    for (int32_t k0 = 0; k0 < cols; k0 += 4) {
        int32_t r = 0;
        for (; r + 4 <= MR; r += 4)
            dbk_transpose4(src + (int64_t)r * stride + k0, stride, dst + (int64_t)k0 * MR + r, MR);
        // MR = 6 (AVX2 builds): the last two rows one value at a time.
        for (; r < MR; r++)
            for (int32_t k = k0; k < k0 + 4; k++) dst[(int64_t)k * MR + r] = src[(int64_t)r * stride + k];
    }
}

// y rows m .. m + rows, panel p, from their sums in c (rows x PW, contiguous, room for MR rows): bias,
// activation, store; into y, or (yp) into the next linear's x panel m / MR at columns p * PW .., the panel's
// rows past M zero.
static inline __attribute__((always_inline)) void finish_tile(const struct packed_job *j, float *c, int32_t rows,
                                                             int32_t m, int32_t p) {
    const dbk_vf b0 = j->bias ? dbk_loadu(j->bias + (int64_t)p * PW) : dbk_splat(0.0f);
    const dbk_vf b1 = j->bias ? dbk_loadu(j->bias + (int64_t)p * PW + DBK_VW) : dbk_splat(0.0f);
    if (j->yp) {
        for (int32_t r = 0; r < MR; r++) {
            float *cr = c + r * PW;
            dbk_storeu(cr, r < rows ? dbk_vactivate(dbk_loadu(cr) + b0, j->activation) : dbk_splat(0.0f));
            dbk_storeu(cr + DBK_VW,
                       r < rows ? dbk_vactivate(dbk_loadu(cr + DBK_VW) + b1, j->activation) : dbk_splat(0.0f));
        }
        rows_to_panel(c, PW, PW, j->yp + ((int64_t)(m / MR) * j->N + (int64_t)p * PW) * MR);
        return;
    }
    for (int32_t r = 0; r < rows; r++, c += PW) {
        float *y = j->y + (int64_t)(m + r) * j->N + (int64_t)p * PW;
        dbk_storeu(y, dbk_vactivate(dbk_loadu(c) + b0, j->activation));
        dbk_storeu(y + DBK_VW, dbk_vactivate(dbk_loadu(c + DBK_VW) + b1, j->activation));
    }
}

// Tokens m_first .. m_last (at most MC, a multiple of MR apart unless m_last = M) against panels
// p_first .. p_last over K slice k0 .. k0 + kc, into cbuf[p - p_first][m - m_first][PW].
// p_after: the first panel of the task this thread probably claims next (-1: none).
static inline __attribute__((always_inline)) void tiles_of(const struct packed_job *j, int32_t p_first,
                                                          int32_t p_last, int32_t p_after, int32_t m_first,
                                                          int32_t m_last, int32_t k0, int32_t kc, float *cbuf,
                                                          const int XREG) {
    const int32_t n_tiles = (m_last - m_first + MR - 1) / MR;
    for (int32_t p = p_first; p < p_last; p++) {
        const float *wp = j->wp + ((int64_t)p * j->K + k0) * PW;
        // The weight slice used next (panel p + 1, or the next K slice), fetched from memory while this
        // one is multiplied: its 2 kc lines are shared out evenly between the panel's tiles, so requests
        // keep going out during every tile and none is issued twice (one tile: two lines per k step).
        // After the task's last slice: the first slice of the task this thread probably claims next.
        const float *next = p + 1 < p_last ? wp + (int64_t)j->K * PW
                            : k0 + KC < j->K ? j->wp + ((int64_t)p_first * j->K + k0 + KC) * PW
                            : p_after >= 0   ? j->wp + (int64_t)p_after * j->K * PW
                                             : wp;
        for (int32_t m0 = m_first; m0 < m_last; m0 += MR) {
            const int32_t t = (m0 - m_first) / MR;
            // This tile's share of the slice's lines: [l0, l1) (one tile: all of them, two per k step).
            const int32_t l0 = (int32_t)((int64_t)t * 2 * kc / n_tiles);
            const int32_t l1 = (int32_t)((int64_t)(t + 1) * 2 * kc / n_tiles);
            const int32_t pf_lines = l1 - l0;
            const char *pf = (const char *)next + (int64_t)l0 * 64;
            const float *xp = j->xp + ((int64_t)(m0 / MR) * j->K + k0) * MR;
            float *c = cbuf + ((int64_t)(p - p_first) * MC + (m0 - m_first)) * PW;
            const int32_t rows = m_last - m0 < MR ? m_last - m0 : MR;
            if (rows == MR) {
                if (n_tiles == 1) {
                    tile(xp, wp, kc, MR, c, k0 == 0, pf, 2, pf_lines, XREG);
                } else {
                    tile(xp, wp, kc, MR, c, k0 == 0, pf, 1, pf_lines, XREG);
                }
            } else {
                switch (rows) {
#define CASE(R) \
    case R: tile(xp, wp, kc, R, c, k0 == 0, pf, n_tiles == 1 ? 2 : 1, pf_lines, XREG); break;
#if MR > 6
                    CASE(11) CASE(10) CASE(9) CASE(8) CASE(7) CASE(6)
#endif
                    CASE(5) CASE(4) CASE(3) CASE(2) CASE(1)
#undef CASE
                }
            }
            // The last K slice: the tile's sums are complete and still in L1.
            if (k0 + kc == j->K) finish_tile(j, c, rows, m0, p);
        }
    }
}

// The tiles in the job's form of x broadcast (cpu.h), each form compiled on its own.
static void tiles(const struct packed_job *j, int32_t p_first, int32_t p_last, int32_t p_after, int32_t m_first,
                  int32_t m_last, int32_t k0, int32_t kc, float *cbuf) {
    if (j->xreg) tiles_of(j, p_first, p_last, p_after, m_first, m_last, k0, kc, cbuf, 1);
    else tiles_of(j, p_first, p_last, p_after, m_first, m_last, k0, kc, cbuf, 0);
}

// A task: one block of at most MC tokens against up to GROUP weight panels (task_panels says
// which). Tasks go block by block, so the threads work on the same block at once and each reads one
// block of x, which stays in its L2, rather than every task streaming all of x from L3 (a group against every
// block was 0.90-0.97x as fast at 1024 tokens on two threads). The block's sums stay in a 132 KB buffer on the
// stack across the K slices; each tile goes to y (bias, activation) right after its last slice, while its
// sums are still in L1 (a separate pass over the buffer afterwards read them back from L2: 2-4% of the base
// linears).
static void packed_task(void *ctx, int32_t task, int32_t slot) {
    (void)slot;
    const struct packed_job *j = ctx;
    float cbuf[GROUP * MC * PW] __attribute__((aligned(64)));
    int32_t block, p_first, p_last, unused, p_after = -1;
    task_panels(j, task, &block, &p_first, &p_last);
    // Tasks are claimed in order, so this thread's next one is probably `threads` further on.
    const int32_t next_task = task + j->threads;
    if (next_task < j->tasks) task_panels(j, next_task, &unused, &p_after, &unused);
    const int32_t m_block = block * j->mc, m_end = m_block + j->mc < j->M ? m_block + j->mc : j->M;
    for (int32_t k0 = 0; k0 < j->K; k0 += KC)
        tiles(j, p_first, p_last, p_after, m_block, m_end, k0, j->K - k0 < KC ? j->K - k0 : KC, cbuf);
}

void dbk_pack_x_panel(const float *x, int32_t M, int32_t K, int32_t q, float *xp) {
    float *dst = xp + (int64_t)q * K * MR;
    const int32_t rows = M - q * MR < MR ? M - q * MR : MR;
    if (rows < MR) memset(dst, 0, sizeof(float) * (size_t)K * MR);
    int32_t k_done = 0;
    if (rows == MR) {
        k_done = K / 4 * 4;
        rows_to_panel(x + (int64_t)q * MR * K, K, k_done, dst);
    }
    // The rest (a partial panel, or the last K % 4 columns) in blocks of 64 k: the block's 3 KB of the
    // panel stays in L1 while every row writes its column.
    for (int32_t k0 = k_done; k0 < K; k0 += 64) {
        const int32_t k1 = k0 + 64 < K ? k0 + 64 : K;
        for (int32_t r = 0; r < rows; r++) {
            const float *src = x + (int64_t)(q * MR + r) * K;
            for (int32_t k = k0; k < k1; k++) dst[(int64_t)k * MR + r] = src[k];
        }
    }
}

static void pack_x_task(void *ctx, int32_t q, int32_t slot) {
    (void)slot;
    const struct packed_job *j = ctx;
    dbk_pack_x_panel(j->x, j->M, j->K, q, j->xp);
}

#define PACKED_MIN_PARALLEL_MACS 1048576

// M in equal blocks (multiples of MR) of at most MC tokens: how many, and the tokens in each but the last.
static int32_t token_blocks(int32_t M) { return (M + MC - 1) / MC; }
static int32_t block_tokens(int32_t M) {
    const int32_t blocks = token_blocks(M);
    return ((M + blocks - 1) / blocks + MR - 1) / MR * MR;
}

// One linear: x (row-major, packed here into xp) or, with x NULL, xp already packed; out to y or (yp) packed.
static void run_linear(int32_t threads, const float *x, float *xp, int32_t M, int32_t K, const float *wp, int32_t N,
                       const float *bias, int32_t activation, float *y, float *yp) {
    const int32_t x_panels = (M + MR - 1) / MR;
    threads = dbk_clamp_threads(threads);
    if ((int64_t)M * K * N < PACKED_MIN_PARALLEL_MACS) threads = 1;
    const struct dbk_panel_units units = dbk_panel_units(N / PW, threads, GROUP);
    const int32_t groups = (N / PW + units.group - 1) / units.group;
    const int32_t blocks = token_blocks(M), mc = block_tokens(M), tasks = groups * (blocks - 1) + units.count;
    struct packed_job job = {x,     wp,    bias,  xp, y, yp, M, K, N, activation, threads, dbk_x_in_register(),
                             groups, tasks, mc, blocks, units};
    if (threads == 1) {
        if (x)
            for (int32_t q = 0; q < x_panels; q++) pack_x_task(&job, q, 0);
        for (int32_t t = 0; t < tasks; t++) packed_task(&job, t, 0);
    } else {
        if (x) dbk_parallel(threads, pack_x_task, &job, x_panels);
        dbk_parallel(threads, packed_task, &job, tasks);
    }
}

void dbk_packed_linear(int32_t threads, const float *x, int32_t M, int32_t K, const float *wp, int32_t N, const float *bias,
                       int32_t activation, float *scratch, float *y) {
    if (M < 1) return; // the contract says M >= 1; the block count below divides by it
    run_linear(threads, x, scratch, M, K, wp, N, bias, activation, y, NULL); // x NULL: scratch is x packed
}

int64_t dbk_packed_ffn_scratch_floats(int32_t M, int32_t K, int32_t H) {
    if (M < 1) return 0;
    const int32_t mc = block_tokens(M);
    return dbk_packed_linear_scratch_floats(mc, K) + dbk_packed_linear_scratch_floats(mc, H);
}

// Token block by token block (the linears' own blocks), both linears: the block's hidden layer (at most
// MC x H, ~3 MB at H = 3072) is still in L3 when lin2 reads it, instead of all [M, H] going out to memory
// between the two. On its way it goes from lin1's epilogue (finish_tile, while its sums are in L1) straight
// into the x panels lin2 reads, instead of written row-major and read back by lin2's packing.
void dbk_packed_ffn(int32_t threads, const float *x, const float *xp, int32_t M, int32_t K, const float *w1, int32_t H,
                    const float *b1, int32_t activation, const float *w2, int32_t N, const float *b2, float *scratch,
                    float *y) {
    if (M < 1) return;
    const int32_t mc = block_tokens(M); // a multiple of MR: block m0's rows start panel m0 / MR of xp
    float *hidden = scratch + dbk_packed_linear_scratch_floats(mc, K);
    for (int32_t m0 = 0; m0 < M; m0 += mc) {
        const int32_t rows = M - m0 < mc ? M - m0 : mc;
        // Only read when x is NULL (run_linear packs into its xp argument only when given x).
        float *x_block = x ? scratch : (float *)xp + (int64_t)(m0 / MR) * K * MR;
        run_linear(threads, x ? x + (int64_t)m0 * K : NULL, x_block, rows, K, w1, H, b1, activation, NULL, hidden);
        run_linear(threads, NULL, hidden, rows, H, w2, N, b2, DBK_ACT_NONE, y + (int64_t)m0 * N, NULL);
    }
}

void dbk_activation_codes(int32_t *codes) {
    codes[0] = DBK_ACT_NONE;
    codes[1] = DBK_ACT_GELU;
    codes[2] = DBK_ACT_RELU;
}
