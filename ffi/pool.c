// One persistent thread pool for the whole process, shared by every caller (the main thread and any
// number of Deno Workers, each with its own thread count).
//
// - Jobs from different calling threads take turns: `job_mu` is held from publishing a job until its last
//   joined worker finished, so the job fields below have one writer at a time. A caller asking for one
//   thread (or a job of one task) runs inline and never waits for anyone.
// - The pool grows (never shrinks) to the largest thread count any caller asked for; a job uses at most
//   the slots its caller asked for, so one model's setting never changes another's.
// - Results never depend on the number of slots: every kernel partitions its output so that each value
//   is computed by one task in a fixed order.
//
// Between jobs a worker spins for up to SPIN_NS (yielding the CPU every few checks, so it does not starve
// OpenBLAS's own threads or another caller), then sleeps on a condition variable. The spin is timed, not
// counted: how long a pause takes differs by CPU, and the gaps a forward leaves between jobs (a LayerNorm
// on the calling thread alone, ~40-130 us at 32 tokens) must not put the worker to sleep, since waking it
// again costs more than the gap.

#define _POSIX_C_SOURCE 200809L // clock_gettime under -std=c11
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "kernels.h"
#include "pool.h"

#define MAX_THREADS 256
#define SPIN_NS 250000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// The job word: generation << 32 | closed << 31 | allowed workers << 16 | joined workers.
#define CLOSED (1ull << 31)
#define JOINED_MASK 0xffffull
#define ALLOWED_SHIFT 16
#define ALLOWED_MASK 0x7fffull

static struct {
    pthread_mutex_t job_mu; // held by the caller whose job owns the pool, from publish to last finish
    pthread_mutex_t mu;     // guards the sleep/wake hand-off only
    pthread_cond_t wake;
    pthread_t threads[MAX_THREADS];
    int32_t n_workers; // written under job_mu while no job runs
    atomic_int stop;
    _Atomic uint64_t job;
    // The current job, written under job_mu before `job` is published (release) and read only by workers
    // that joined it (acquire); rewritten only after every joined worker finished.
    dbk_task_fn fn;
    void *ctx;
    int32_t n_tasks;
    atomic_int next;     // next task to claim
    atomic_int finished; // joined workers done with the current job
} pool = {.job_mu = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void run_tasks(int32_t slot) {
    for (;;) {
        const int32_t t = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed);
        if (t >= pool.n_tasks) return;
        pool.fn(pool.ctx, t, slot);
    }
}

// Joins the job in word w if it is open and has room; returns the slot (>= 1) or 0.
static int32_t try_join(uint64_t w) {
    for (;;) {
        const uint64_t joined = w & JOINED_MASK, allowed = (w >> ALLOWED_SHIFT) & ALLOWED_MASK;
        if ((w & CLOSED) || joined >= allowed) return 0;
        if (atomic_compare_exchange_weak_explicit(&pool.job, &w, w + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            return (int32_t)joined + 1;
        }
        // w now holds the current word; a different generation means this job is gone.
    }
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void *worker_main(void *arg) {
    uint32_t seen = (uint32_t)(uintptr_t)arg; // the generation current when this worker was started
    for (;;) {
        uint64_t w = 0;
        int fresh = 0;
        const int64_t spin_until = now_ns() + SPIN_NS;
        for (int i = 1;; i++) {
            w = atomic_load_explicit(&pool.job, memory_order_acquire);
            fresh = (uint32_t)(w >> 32) != seen || atomic_load_explicit(&pool.stop, memory_order_relaxed);
            if (fresh) break;
            if ((i & 15) != 0) {
                cpu_relax();
            } else {
                if (now_ns() > spin_until) break;
                sched_yield();
            }
        }
        if (!fresh) {
            pthread_mutex_lock(&pool.mu);
            for (;;) {
                w = atomic_load_explicit(&pool.job, memory_order_acquire);
                if ((uint32_t)(w >> 32) != seen || atomic_load_explicit(&pool.stop, memory_order_relaxed)) break;
                pthread_cond_wait(&pool.wake, &pool.mu);
            }
            pthread_mutex_unlock(&pool.mu);
        }
        if (atomic_load_explicit(&pool.stop, memory_order_acquire)) return NULL;
        seen = (uint32_t)(w >> 32);
        const int32_t slot = try_join(w);
        if (slot == 0) continue; // finished (or full) before this worker woke: nothing to do
        run_tasks(slot);
        atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release);
    }
}

// Under job_mu. A worker that cannot be started leaves the pool smaller; jobs then get fewer slots.
static void grow_to(int32_t n_workers) {
    const uint32_t gen = (uint32_t)(atomic_load_explicit(&pool.job, memory_order_relaxed) >> 32);
    while (pool.n_workers < n_workers) {
        if (pthread_create(&pool.threads[pool.n_workers], NULL, worker_main, (void *)(uintptr_t)gen) != 0) return;
        pool.n_workers++;
    }
}

int32_t dbk_task_group(int32_t units, int32_t threads, int32_t max_group) {
    if (threads < 1) threads = 1;
    int32_t best = max_group, best_load = -1;
    for (int32_t g = max_group; g >= 1; g--) {
        const int32_t tasks = (units + g - 1) / g, load = (tasks + threads - 1) / threads * g;
        if (best_load < 0 || load < best_load) best = g, best_load = load;
    }
    return best;
}

struct dbk_panel_units dbk_panel_units(int32_t panels, int32_t threads, int32_t max_group) {
    const int32_t group = dbk_task_group(panels, threads, max_group), tail = threads > 1 ? threads * group : 0;
    const int32_t split = panels > tail ? (panels - tail) / group * group : 0;
    return (struct dbk_panel_units){group, split, split / group + panels - split};
}

int32_t dbk_clamp_threads(int32_t threads) {
    return threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
}

void dbk_parallel(int32_t threads, dbk_task_fn fn, void *ctx, int32_t n_tasks) {
    int32_t helpers = dbk_clamp_threads(threads) - 1;
    if (helpers > n_tasks - 1) helpers = n_tasks - 1;
    if (helpers <= 0) {
        for (int32_t t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&pool.job_mu);
    grow_to(helpers);
    if (helpers > pool.n_workers) helpers = pool.n_workers;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    const uint64_t gen = (atomic_load_explicit(&pool.job, memory_order_relaxed) >> 32) + 1;
    pthread_mutex_lock(&pool.mu);
    atomic_store_explicit(&pool.job, (gen << 32) | ((uint64_t)helpers << ALLOWED_SHIFT), memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    run_tasks(0);
    // Close the job so no late worker joins, then wait only for those that did: a worker the OS has
    // not scheduled yet costs nothing. With more runnable threads than cores (several callers), a joined
    // worker may be descheduled: yield now and then instead of spinning it out of its core.
    const uint64_t w = atomic_fetch_or_explicit(&pool.job, CLOSED, memory_order_acq_rel);
    const int32_t joined = (int32_t)(w & JOINED_MASK);
    for (int i = 1; atomic_load_explicit(&pool.finished, memory_order_acquire) < joined; i++) {
        if ((i & 63) == 0) sched_yield();
        else cpu_relax();
    }
    pthread_mutex_unlock(&pool.job_mu);
}

// Joins the workers when the library is unloaded (dlclose) or the process exits, so no thread is left
// running code that is about to be unmapped. No job can be running then: every caller has returned.
__attribute__((destructor)) static void pool_shutdown(void) {
    if (pool.n_workers == 0) return;
    pthread_mutex_lock(&pool.mu);
    atomic_store_explicit(&pool.stop, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int32_t i = 0; i < pool.n_workers; i++) pthread_join(pool.threads[i], NULL);
    pool.n_workers = 0;
}
