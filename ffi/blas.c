// OpenBLAS, loaded here once per process and called only through dbk_sgemm_nt: one lock serialises every
// sgemm of every caller (main thread and Workers), each on one OpenBLAS thread (kernels.h says why; the
// setting is process-wide, so it is made here, before the first call, whatever else set it).
#if defined(__linux__)
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "blas.h"
#include "kernels.h"

#define CBLAS_ROW_MAJOR 101
#define CBLAS_NO_TRANS 111
#define CBLAS_TRANS 112

static struct {
    pthread_mutex_t mu;
    int opened;
    dbk_cblas_sgemm_fn sgemm;
    dbk_set_num_threads_fn set_threads; // may be NULL (not every BLAS has it)
    const char *(*get_config)(void);
    const char *(*get_corename)(void);
    int32_t threads; // what set_threads was last given, 0 before the first call
} blas = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void copy_str(char *dst, int32_t len, const char *src) {
    if (!dst || len <= 0) return;
    snprintf(dst, (size_t)len, "%s", src ? src : "");
}

int32_t dbk_blas_open(const char *path, char *err, int32_t err_len) {
    pthread_mutex_lock(&blas.mu);
    int32_t rc = 0;
    if (!blas.opened) {
        // Never closed: OpenBLAS's threads may still be parked in its code when this library unloads.
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        void *sgemm = h ? dlsym(h, "cblas_sgemm") : NULL;
        if (!h) {
            copy_str(err, err_len, dlerror());
            rc = -1;
        } else if (!sgemm) {
            copy_str(err, err_len, "the library has no cblas_sgemm");
            dlclose(h);
            rc = -1;
        } else {
            // The function pointers come from dlsym as void *; POSIX guarantees the conversion.
            blas.sgemm = (dbk_cblas_sgemm_fn)sgemm;
            blas.set_threads = (dbk_set_num_threads_fn)dlsym(h, "openblas_set_num_threads");
            blas.get_config = (const char *(*)(void))dlsym(h, "openblas_get_config");
            blas.get_corename = (const char *(*)(void))dlsym(h, "openblas_get_corename");
            blas.opened = 1;
        }
    }
    pthread_mutex_unlock(&blas.mu);
    return rc;
}

void dbk_blas_bind(dbk_cblas_sgemm_fn sgemm, dbk_set_num_threads_fn set_threads) {
    pthread_mutex_lock(&blas.mu);
    blas.sgemm = sgemm;
    blas.set_threads = set_threads;
    blas.get_config = NULL;
    blas.get_corename = NULL;
    blas.threads = 0;
    blas.opened = sgemm != NULL;
    pthread_mutex_unlock(&blas.mu);
}

int32_t dbk_sgemm_nt(int32_t M, int32_t N, int32_t K, const float *a, const float *b, float *c) {
    const int32_t threads = 1;
    pthread_mutex_lock(&blas.mu);
    if (!blas.opened) {
        pthread_mutex_unlock(&blas.mu);
        return -1;
    }
    if (blas.set_threads && blas.threads != threads) {
        blas.set_threads(threads);
        blas.threads = threads;
    }
    blas.sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
    pthread_mutex_unlock(&blas.mu);
    return 0;
}

int32_t dbk_blas_info(int32_t what, char *buf, int32_t len) {
    pthread_mutex_lock(&blas.mu);
    const char *(*get)(void) = !blas.opened ? NULL : what == 0 ? blas.get_config : what == 1 ? blas.get_corename : NULL;
    const char *s = get ? get() : NULL;
    const int32_t n = s ? (int32_t)strlen(s) : -1;
    if (s) copy_str(buf, len, s);
    pthread_mutex_unlock(&blas.mu);
    return n;
}
