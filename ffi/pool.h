// Internal to the kernels: a small persistent thread pool (see pool.c). Not part of the FFI surface.
#ifndef DISTILBERT_POOL_H
#define DISTILBERT_POOL_H

#include <stdint.h>

// Runs fn(ctx, task, slot) for every task in [0, n_tasks), on the calling thread (slot 0) and up to
// max_slots - 1 pool workers (slots 1..), and returns when all of them are done. Tasks are claimed
// dynamically; a slot runs one task at a time, so per-slot scratch needs no locking.
typedef void (*dbk_task_fn)(void *ctx, int32_t task, int32_t slot);
void dbk_parallel(dbk_task_fn fn, void *ctx, int32_t n_tasks, int32_t max_slots);

// Threads the pool runs jobs on, the caller included (>= 1).
int32_t dbk_pool_threads(void);

#endif
