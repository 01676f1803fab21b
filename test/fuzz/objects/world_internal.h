/* Shared by world.c (the machine, the world, the checks) and ops.c (the operations). */
#ifndef KEEL_FUZZ_OBJECTS_WORLD_INTERNAL_H
#define KEEL_FUZZ_OBJECTS_WORLD_INTERNAL_H

#include "ipc.h"
#include "object/structures.h"
#include "sim.h"
#include "world.h"

/* The root CNode: radix 8 with a 56-bit guard of 0, so that a cptr is a slot index (a flat
 * CSpace, the fastpath's case). Slots below FUZZ_FIRST hold the root task's authority; the
 * operations create, copy, move and delete caps only in the FUZZ_SLOTS slots above. */
enum {
    SLOT_CNODE = 1,    /* a copy of the root CNode cap: every thread's CSpace root is copied from it */
    SLOT_ROOT_TCB = 2, /* root thread 0 (MCP 255): the authority for SetPriority */
    SLOT_UNTYPED = 3,
    SLOT_PML4 = 4,     /* a VSpace every configured thread can run in */
    FUZZ_FIRST = 8,
    FUZZ_SLOTS = 40,
};
#define ROOT_RADIX 8
#define ROOT_GUARD_BITS (64 - ROOT_RADIX)

extern struct cte *world_slots;
/* KEEL_OBJFUZZ_AVOID=frames,vspaces: Retype makes no frames (so no IPC buffers); no VSpace is
 * made or revoked (no thread loses its VSpace). To fuzz past known, still open findings
 * (docs/fuzzing.md) while they are open. */
extern bool world_avoid_frames, world_avoid_vspaces;
/* One per CPU: always runnable (so no CPU ever idles in hlt), never blocked, out of the
 * operations' reach; root thread 0 makes every management invocation. */
extern struct tcb *world_root_thread[SIM_CPUS];

_Noreturn void world_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends to this step's line of the report / trace. */
void world_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Objects are named by their offset in the arena (stable from run to run). */
unsigned long world_name(const void *p);

/* An interrupt or exception on the current CPU, through the kernel's trap entry. */
void world_interrupt(uint64_t vector);
/* Switch to CPU `index`, first running its scheduler if an IPI asked for it (or it is idle). */
void world_enter_cpu(unsigned index);
/* Make `t` (ready to run) the running thread of its CPU, as schedule() would; false if it
 * cannot run now. */
bool world_make_current(struct tcb *t);
/* A syscall by the current thread `t`, through the kernel's syscall entry. */
void world_syscall(struct tcb *t, uint64_t nr, uint64_t cptr, keel_msginfo_t info, uint64_t reply_cptr);
/* An invocation by root thread 0 with `n` message words and `ncaps` extra caps; returns the
 * reply's message info. */
uint64_t world_root_call(uint64_t cptr, uint64_t label, unsigned n, const uint64_t *mr, unsigned ncaps,
                         const uint64_t *caps);

/* ops.c: runs operation `code` with its argument bytes. */
void world_do_op(unsigned code, uint8_t a, uint8_t b, uint8_t c);

#endif
