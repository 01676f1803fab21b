/* The object harness's simulated machine: CPUs (per-CPU blocks reached through GS, as in the
 * kernel), the big lock, a host-allocated "physical memory" arena, the arch and VSpace calls the
 * object layer makes, and ASan poisoning of objects that are gone. See sim_cpu.c. */
#ifndef KEEL_FUZZ_OBJECTS_SIM_H
#define KEEL_FUZZ_OBJECTS_SIM_H

#include "arch/cpu.h"
#include "object/structures.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_CPUS 2u

/* Physical memory: phys_to_virt (arch/layout.h) is DIRECT_MAP_BASE + phys, so an arena at host
 * address A has "physical" address A - DIRECT_MAP_BASE (mod 2^64) and the kernel's own
 * conversions work on it unchanged. */
#define SIM_ARENA_SIZE (512u << 10)
#define SIM_BOOT_MEMORY (64u << 10) /* the start of the arena, cleared at every reset */
extern uint8_t *sim_arena;
uint64_t sim_phys(const void *p);

extern struct percpu sim_cpu[SIM_CPUS];
/* Run on CPU `index` from now on (points GS at its per-CPU block). */
void sim_enter_cpu(unsigned index);
unsigned sim_current_cpu(void);

/* Resets the machine: CPUs, lock, arena (unpoisoned and cleared). */
void sim_reset(void);

/* Manual ASan poisoning of dead object memory (no-ops without ASan). */
void sim_poison(const void *p, size_t n);
void sim_unpoison(const void *p, size_t n);
/* After a kernel entry: every dead container is poisoned by now (aborts if one is not). */
void sim_poison_flush(void);

/* Invariant and harness reports: counted here (log_error from invariants.c lands in klog). */
extern unsigned sim_errors_logged;
extern bool sim_log_verbose; /* print every kernel log line, not only errors */
/* The fastpath's address-space switch takes its out-of-line path (fake arch/switch.h). */
extern bool sim_switch_space_slow;

#endif
