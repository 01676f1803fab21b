#ifndef KEEL_PANIC_H
#define KEEL_PANIC_H

#include "arch/trap.h"
#include <stdbool.h>
#include <stdint.h>

_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void panic_trap(const struct trap_frame *f);
/* Makes this CPU the one that reports a panic; false if another CPU already does (this one should
 * then stop quietly, so that two reports never interleave). Repeated calls on the owner: true. */
bool panic_claim(void);
/* Prints a symbolised backtrace from rip (if non-zero) up the frame-pointer chain from rbp. */
void panic_backtrace(uint64_t rip, uint64_t rbp);

#define KASSERT(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);                      \
    } while (0)

#endif
