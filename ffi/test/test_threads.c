// Concurrent callers: several threads run the parallel kernels at the same time, each with its own thread
// count (1 to 4, changing from call to call), and every result must be bit-identical to a single-threaded
// run of the same inputs; sgemm calls from every thread go through dbk_sgemm_nt to a stand-in BLAS that
// fails if two calls overlap or if a call runs with another caller's thread count. Built and run under
// ThreadSanitizer (and AddressSanitizer) by tests/kernels_c_test.ts. Needs no OpenBLAS.
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../blas.h"
#include "../kernels.h"

#define CALLERS 4
#define ROUNDS 12

static atomic_int failures;
#define CHECK(cond, ...)                                                                             \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            atomic_fetch_add(&failures, 1);                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                     \
            fprintf(stderr, __VA_ARGS__);                                                            \
            fprintf(stderr, "\n");                                                                   \
        }                                                                                            \
    } while (0)

static float *falloc(int64_t n) {
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!p) abort();
    return p;
}
static float *frand(uint64_t *rng, int64_t n, float scale) {
    float *p = falloc(n);
    for (int64_t i = 0; i < n; i++) {
        *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
        p[i] = ((float)(uint32_t)(*rng >> 16) / 4294967296.0f * 2.0f - 1.0f) * scale;
    }
    return p;
}

// ---- a stand-in BLAS: plain globals, so overlapping calls are a data race TSan reports ----------
static int fake_threads;      // what set_num_threads was last given
static int fake_in_flight;    // calls inside sgemm right now (must stay 0 or 1)
static atomic_int overlapped; // counted too, so a build without TSan still fails
static _Thread_local int expect_threads;

static void fake_set_num_threads(int n) { fake_threads = n; }

static void fake_sgemm(int order, int ta, int tb, int M, int N, int K, float alpha, const float *a, int lda,
                       const float *b, int ldb, float beta, float *c, int ldc) {
    if (fake_in_flight++ != 0) atomic_fetch_add(&overlapped, 1);
    CHECK(order == 101 && ta == 111 && tb == 112 && alpha == 1.0f && beta == 0.0f && lda == K && ldb == K && ldc == N,
          "sgemm arguments");
    CHECK(fake_threads == expect_threads, "sgemm ran with %d OpenBLAS threads, not %d", fake_threads,
          expect_threads);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += a[(int64_t)m * K + k] * b[(int64_t)n * K + k];
            c[(int64_t)m * N + n] = acc;
        }
    fake_in_flight--;
}

// ---- one caller's work: a small encoder layer's kernels, then an sgemm ---------------------------
enum { M = 70, K = 128, N = 256, HEADS = 4, HD = 32, DIM = HEADS * HD, SEQS = 3 };

struct work {
    float *x, *w, *wp, *bias, *g, *b, *qkv, *qkv_bias, *scratch, *att_scratch, *lin_scratch;
    int32_t starts[SEQS + 1];
    uint8_t uniform[SEQS];
    int64_t att_per;
    // outputs
    float *y_packed, *y_linear, *y_att, *y_ln, *y_gelu, *y_sgemm;
};

static void run(struct work *k, int32_t threads) {
    dbk_packed_linear(threads, k->x, M, K, k->wp, N, k->bias, DBK_ACT_GELU, k->scratch, k->y_packed);
    dbk_linear(threads, k->x, 40, K, k->w, N, k->lin_scratch, k->y_linear);
    dbk_attention(threads, k->qkv, k->qkv_bias, k->starts, k->uniform, SEQS, HEADS, HD, 0, k->att_scratch,
                  (int32_t)(k->att_per * 4), k->y_att);
    dbk_bias_residual_layernorm(threads, k->y_att, k->bias, k->y_att, M, DIM, k->g, k->b, 1e-12f, k->y_ln);
    memcpy(k->y_gelu, k->y_packed, sizeof(float) * M * N);
    dbk_bias_gelu(threads, k->y_gelu, M, N, k->bias);
    expect_threads = 1; // OpenBLAS always on one thread (kernels.h)
    CHECK(dbk_sgemm_nt(M, N, K, k->x, k->w, k->y_sgemm) == 0, "dbk_sgemm_nt refused");
}

static void work_init(struct work *k, uint64_t seed) {
    uint64_t rng = seed;
    k->x = frand(&rng, (int64_t)M * K, 1.0f);
    k->w = frand(&rng, (int64_t)N * K, 0.1f);
    k->wp = falloc((int64_t)N * K);
    dbk_pack_weights(2, k->w, N, K, k->wp);
    k->bias = frand(&rng, N, 0.1f);
    k->g = frand(&rng, DIM, 1.0f), k->b = frand(&rng, DIM, 0.1f);
    k->qkv = frand(&rng, (int64_t)M * 3 * DIM, 1.0f), k->qkv_bias = frand(&rng, 3 * DIM, 0.1f);
    k->starts[0] = 0, k->starts[1] = 30, k->starts[2] = 31, k->starts[3] = M;
    k->uniform[0] = 0, k->uniform[1] = 1, k->uniform[2] = 0;
    k->att_per = dbk_attention_scratch_floats(M - 31, HD);
    k->att_scratch = falloc(k->att_per * 4);
    k->scratch = falloc(dbk_packed_linear_scratch_floats(M, K));
    k->lin_scratch = falloc(dbk_linear_scratch_floats(40, K));
    k->y_packed = falloc((int64_t)M * N), k->y_linear = falloc((int64_t)40 * N), k->y_att = falloc((int64_t)M * DIM);
    k->y_ln = falloc((int64_t)M * DIM), k->y_gelu = falloc((int64_t)M * N), k->y_sgemm = falloc((int64_t)M * N);
}

static void work_free(struct work *k) {
    free(k->x), free(k->w), free(k->wp), free(k->bias), free(k->g), free(k->b), free(k->qkv), free(k->qkv_bias);
    free(k->att_scratch), free(k->scratch), free(k->lin_scratch);
    free(k->y_packed), free(k->y_linear), free(k->y_att), free(k->y_ln), free(k->y_gelu), free(k->y_sgemm);
}

#define OUTPUTS 6
static float **outputs(struct work *k, float **o) {
    o[0] = k->y_packed, o[1] = k->y_linear, o[2] = k->y_att, o[3] = k->y_ln, o[4] = k->y_gelu, o[5] = k->y_sgemm;
    return o;
}
static const int64_t output_len[OUTPUTS] = {M * N, 40 * N, M * DIM, M * DIM, M * N, M * N};
static const char *output_name[OUTPUTS] = {"packed_linear", "linear", "attention", "layernorm", "bias_gelu", "sgemm"};

struct caller {
    int id;
    struct work work;
    float *want[OUTPUTS]; // single-threaded answers, computed before any caller starts
};

static void *caller_main(void *arg) {
    struct caller *c = arg;
    for (int r = 0; r < ROUNDS; r++) {
        const int32_t threads = 1 + (c->id + r) % 4;
        run(&c->work, threads);
        float *o[OUTPUTS];
        outputs(&c->work, o);
        for (int i = 0; i < OUTPUTS; i++)
            CHECK(memcmp(o[i], c->want[i], sizeof(float) * (size_t)output_len[i]) == 0,
                  "caller %d round %d (%d threads): %s differs from the single-threaded run", c->id, r, threads,
                  output_name[i]);
    }
    return NULL;
}

int main(void) {
    dbk_blas_bind(fake_sgemm, fake_set_num_threads);
    struct caller callers[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
        callers[i].id = i;
        work_init(&callers[i].work, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
        run(&callers[i].work, 1);
        float *o[OUTPUTS];
        outputs(&callers[i].work, o);
        for (int j = 0; j < OUTPUTS; j++) {
            callers[i].want[j] = falloc(output_len[j]);
            memcpy(callers[i].want[j], o[j], sizeof(float) * (size_t)output_len[j]);
        }
    }
    pthread_t t[CALLERS];
    for (int i = 0; i < CALLERS; i++)
        if (pthread_create(&t[i], NULL, caller_main, &callers[i]) != 0) abort();
    for (int i = 0; i < CALLERS; i++) pthread_join(t[i], NULL);
    CHECK(atomic_load(&overlapped) == 0, "%d sgemm calls overlapped another", atomic_load(&overlapped));
    for (int i = 0; i < CALLERS; i++) {
        work_free(&callers[i].work);
        for (int j = 0; j < OUTPUTS; j++) free(callers[i].want[j]);
    }
    dbk_blas_bind(NULL, NULL);
    float z = 0;
    CHECK(dbk_sgemm_nt(1, 1, 1, &z, &z, &z) == -1, "dbk_sgemm_nt without a BLAS must refuse");
    if (atomic_load(&failures)) {
        fprintf(stderr, "%d check(s) failed\n", atomic_load(&failures));
        return 1;
    }
    printf("all concurrency checks passed (%d callers x %d rounds)\n", CALLERS, ROUNDS);
    return 0;
}
