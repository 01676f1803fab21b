#ifndef KEEL_PANIC_H
#define KEEL_PANIC_H

#include "arch/trap.h"

_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void panic_trap(const struct trap_frame *f);

#define KASSERT(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);                      \
    } while (0)

#endif
