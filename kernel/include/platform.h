/* Ending a run: test images stop the emulator with a verdict the launch script reads. */
#ifndef KEEL_PLATFORM_H
#define KEEL_PLATFORM_H

enum exit_status { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_PANIC = 2 };

/* Set from the command line (test images): a panic ends the emulator instead of halting. */
extern bool platform_exit_on_panic;
_Noreturn void platform_exit(enum exit_status status);
_Noreturn void platform_halt(void);

#endif
