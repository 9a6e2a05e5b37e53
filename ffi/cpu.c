// Choices made from the CPU at run time (cpu.h).
#include "cpu.h"

static int32_t forced = -1;

int32_t dbk_x_in_register(void) {
    const int32_t f = __atomic_load_n(&forced, __ATOMIC_RELAXED);
    if (f >= 0) return f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_is("amd") ? 1 : 0;
#else
    return 0; // only the AVX-512 tiles read it
#endif
}

void dbk_force_x_in_register(int32_t mode) { __atomic_store_n(&forced, mode < 0 ? -1 : mode ? 1 : 0, __ATOMIC_RELAXED); }
