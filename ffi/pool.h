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

// Weight panels cut into task units: groups of `group` panels (dbk_task_group's size) below `split`, then
// single panels, the final threads x group of them (one thread: none), so that the threads run out of work
// within about one panel's time of each other instead of one group's. count: the units.
struct dbk_panel_units {
    int32_t group, split, count;
};
struct dbk_panel_units dbk_panel_units(int32_t panels, int32_t threads, int32_t max_group);

// Unit u's panels: [*first, *last).
static inline void dbk_unit_panels(const struct dbk_panel_units *p, int32_t u, int32_t *first, int32_t *last) {
    const int32_t groups = p->split / p->group;
    *first = u < groups ? u * p->group : p->split + (u - groups);
    *last = u < groups ? *first + p->group : *first + 1;
}

#endif
