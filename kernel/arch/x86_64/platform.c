/* Emulator exits. QEMU: isa-debug-exit at port 0xf4 (status (v << 1) | 1). Bochs: the string
 * "Shutdown" written to port 0x8900. On real hardware neither port does anything, and we halt.
 * The verdict is also printed, so a serial log alone tells how a run ended. */
#include "arch/x86.h"
#include "log.h"
#include "platform.h"

#define QEMU_DEBUG_EXIT_PORT 0xf4
#define QEMU_EXIT_BASE 0x10 /* QEMU exits with 33 (pass), 35 (fail), 37 (panic) */
#define BOCHS_SHUTDOWN_PORT 0x8900

bool platform_exit_on_panic;

void platform_halt(void)
{
    for (;;) {
        irq_disable();
        halt();
    }
}

void platform_exit(enum exit_status status)
{
    static const char *const verdict[] = { "pass", "fail", "panic" };
    irq_disable();
    kprintf("KEEL-EXIT: %s\n", verdict[status]);
    outb(QEMU_DEBUG_EXIT_PORT, (uint8_t)(QEMU_EXIT_BASE + status));
    for (const char *s = "Shutdown"; *s; s++)
        outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*s);
    platform_halt();
}
