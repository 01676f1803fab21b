/* What kernel_main learned while booting, for the rest of the kernel. */
#ifndef KEEL_BOOT_H
#define KEEL_BOOT_H

#include "acpi.h"
#include "cmdline.h"
#include "memmap.h"
#include "multiboot2.h"

struct boot_state {
    struct mb2_info mb;
    struct kernel_options options;
    struct memmap memory;   /* free RAM after the kernel's boot allocations */
    struct acpi_info acpi;
    bool have_acpi;
    uint64_t boot_us;
};

extern struct boot_state boot;
extern uint64_t boot_tsc;

/* Kernel self-tests for the test image until the guest suite exists; returns failures. */
int selftest_run(void);
/* Builds the root task from the first boot module; false if there is none or it is unusable. */
bool root_task_create(void);

#endif
