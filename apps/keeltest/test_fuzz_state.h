/* The stateful guest fuzzer (test_fuzz_state*.c): what the runner and its worker threads share.
 *
 * The runner (keeltest's own thread) owns a world of kernel objects in "cells" (slots of its
 * CSpace, each cell's content tracked exactly) and a few worker threads. A worker runs a short
 * script of IPC operations and faults written by the runner, then suspends itself; it never
 * spins, so a runner that lets the workers run (by lowering its own priority below theirs)
 * always gets the CPU back. See docs/fuzzing.md. */
#ifndef TEST_FUZZ_STATE_H
#define TEST_FUZZ_STATE_H

#include "ktest.h"

#define FZ_WORKERS 8
#define FZ_SCRIPT 4
#define FZ_PASSES 4 /* script runs per restart, then the worker only faults */
#define FZ_WORKER_STACK 8192
/* Worker i's IPC buffer is mapped at this address + i pages in every image VSpace. */
#define FZ_IPC_VA 0x0000005000000000ull
/* Never mapped anywhere: reads fault. */
#define FZ_UNMAPPED_VA 0x0000006000000000ull

/* One operation of a worker's script. */
enum fz_op_kind {
    W_UD2,         /* exception fault */
    W_VM_FAULT,    /* read of FZ_UNMAPPED_VA */
    W_BAD_SYSCALL, /* unknown syscall number: a fault that resumes after the syscall */
    W_SEND,
    W_NB_SEND,
    W_CALL,
    W_RECV,
    W_NB_RECV,
    W_REPLY_RECV,
    W_YIELD,
    W_INVOKE,      /* a Call with `label` on `cap` (e.g. Suspend of another TCB, from another CPU) */
    W_IRQ_GET,     /* IRQControl Get of line `arg` with flags `label` into slot `reply` */
    W_OP_COUNT
};

struct fz_op {
    uint8_t kind;
    uint8_t length;   /* message words */
    uint8_t ncaps;    /* extra caps (from caps[]) */
    uint64_t label;
    uint64_t cap;     /* the cptr the syscall names */
    uint64_t reply;   /* R12: reply object cptr (Recv, NBRecv, ReplyRecv), or the IRQ destination slot */
    uint64_t arg;     /* MR0 */
    uint64_t caps[KEEL_MSG_MAX_CAPS];
};

struct fz_worker {
    struct keel_tls tls;      /* FS base: keel_tls() works in the worker */
    uint64_t self;            /* cptr of the worker's TCB (it suspends itself through it) */
    uint64_t inbox;           /* receive slot for granted caps (root CNode, depth 64) */
    unsigned index;
    unsigned nops;
    struct fz_op script[FZ_SCRIPT];
    volatile uint64_t calls;  /* syscalls the worker made */
    volatile uint64_t faults; /* faults it raised on purpose */
};

extern struct fz_worker fz_workers[FZ_WORKERS];
extern uint8_t fz_worker_stacks[FZ_WORKERS][FZ_WORKER_STACK];

/* ---- The runner's world (test_fuzz_state_world.c) ---- */
#define FZ_CELLS 40       /* slots whose contents the fuzz creates, uses and destroys */
#define FZ_ARENAS 4       /* Untyped the cells' objects come from; revoking one frees its memory */
#define FZ_ARENA_BYTES (64 * 1024)
#define FZ_IMAGE_VSPACES 3 /* the runner's own VSpace and two clones of the image */
#define FZ_IRQ_CELLS 4
#define FZ_CLONE_SLOTS 2048 /* slots the clones' frame copies take */

struct fz_cell {
    uint64_t slot;
    uint8_t type;   /* enum keel_cap_type of what the slot holds (KEEL_CAP_NULL: empty) */
    int8_t arena;   /* the arena its object came from (copies too) */
};

struct fz_world {
    uint64_t round_ut;                   /* everything of a round comes from it (revoked at the end) */
    uint64_t arena[FZ_ARENAS];
    struct fz_cell cell[FZ_CELLS];
    int worker_cell[FZ_WORKERS];         /* cell holding worker i's TCB, -1: dead */
    uint64_t image_vspace[FZ_IMAGE_VSPACES];
    uint64_t ipc_frame[FZ_WORKERS];      /* worker i's IPC buffer frame (mapped in every image VSpace) */
    uint64_t inbox[FZ_WORKERS + 1];      /* receive slots for granted caps; [FZ_WORKERS]: the runner's */
    uint64_t irq_cell[FZ_IRQ_CELLS];
    uint64_t clone_slot[FZ_CLONE_SLOTS];
    unsigned clone_slots;
    uint64_t guard_bits;                 /* of our CSpace root, for Configure */
    uint64_t runner_priority;
    uint64_t worker_priority_max;
    uint32_t cpus;
    bool irqs;                           /* IRQControl is ours (not when run inside a live system) */
    uint64_t calls;                      /* syscalls the runner made for the fuzz */
};

extern struct fz_world fz;

/* Random numbers (xorshift64; the seed decides everything the runner does). */
uint64_t fz_rand(void);
void fz_seed(uint64_t seed);
static inline uint64_t fz_below(uint64_t n) { return n ? fz_rand() % n : 0; }

/* KEY=NUMBER (decimal or 0x hex) as a word of the command line `cmd`: true and *value set. */
bool fz_option(const char *cmd, const char *key, uint64_t *value);
/* Build the world inside a fresh Untyped of the test pool; 0 or the first error. */
int fz_world_build(void);
/* Stop every worker and give everything back (slots emptied, the round's Untyped revoked). */
void fz_world_teardown(void);
/* A cell holding `type` (KEEL_CAP_NULL: an empty one), at random; -1 if there is none. */
int fz_pick_cell(uint8_t type);
/* Any cell at random. */
static inline int fz_any_cell(void) { return (int)fz_below(FZ_CELLS); }
/* Re-read every cell's type from the kernel (after a revoke removed unknown descendants). */
void fz_resync(void);
/* Forget cells emptied by a revoke of arena `a`. */
void fz_arena_revoked(int a);
/* A cell that held a worker's TCB has been emptied. */
void fz_cell_emptied(int c);
/* Worker i's registers for a fresh start of its script. */
void fz_worker_regs(unsigned i, struct keel_user_regs *r);
/* Make (retype into an empty cell), configure and start worker i; 0 or the error. */
int fz_worker_revive(unsigned i);
/* A random script for worker i. */
void fz_worker_script(unsigned i);

/* Entry point of every worker: RDI = its struct fz_worker. */
void fz_worker_entry(struct fz_worker *w);
/* Gadgets a restarted thread may be pointed at: they fault at once. */
extern char fz_gadget_ud2[], fz_gadget_badsys[];

#endif
