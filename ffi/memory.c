// Memory advice for the weights buffer. Linux only; elsewhere a no-op that says so.
#if defined(__linux__)
#define _GNU_SOURCE
#include <sys/mman.h>
#endif
#include <stdint.h>

#include "kernels.h"

#define HUGE_PAGE ((uintptr_t)2 << 20)

int32_t dbk_advise_huge_pages(void *p, int64_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Only the 2 MB-aligned interior: madvise needs a page-aligned start, and the pages at either end are
    // shared with whatever else the allocator put there.
    const uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    const uintptr_t end = ((uintptr_t)p + (uintptr_t)bytes) & ~(HUGE_PAGE - 1);
    if (bytes <= 0 || end <= start) return 0;
    return madvise((void *)start, end - start, MADV_HUGEPAGE) == 0 ? 0 : -1;
#else
    (void)p;
    (void)bytes;
    return -1;
#endif
}
