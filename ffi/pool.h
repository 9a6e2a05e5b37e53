// Internal to the kernels: the thread pool shared by every caller in the process (see pool.c). Not part of
// the FFI surface.
#ifndef DISTILBERT_POOL_H
#define DISTILBERT_POOL_H

#include <stdint.h>

// Runs fn(ctx, task, slot) for every task in [0, n_tasks) on the calling thread (slot 0) and up to
// threads - 1 pool workers (slots 1..), and returns when all of them are done. Tasks are claimed
// dynamically; a slot runs one task at a time, so per-slot scratch needs no locking. Callable from any
// number of threads at once: their jobs take turns on the pool (threads <= 1 never touches it).
typedef void (*dbk_task_fn)(void *ctx, int32_t task, int32_t slot);
void dbk_parallel(int32_t threads, dbk_task_fn fn, void *ctx, int32_t n_tasks);

// The most slots a job can get: the requested count clamped to what the pool can ever have.
int32_t dbk_clamp_threads(int32_t threads);

// How many of `units` equal pieces of work (weight panels) to put in one task, at most max_group, so that
// `threads` threads finish together: the group size whose busiest thread gets the fewest units, the larger
// on a tie. (4 panels per task gave 384-wide outputs 3 tasks, one thread doing two thirds of the work.)
int32_t dbk_task_group(int32_t units, int32_t threads, int32_t max_group);

#endif
