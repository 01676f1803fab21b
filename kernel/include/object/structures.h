/* Kernel object layouts: capabilities, slots, and the objects Untyped memory becomes.
 * Hot fields of the TCB come first and the register file is at offset 0, where the entry code
 * saves into it directly (no copy between a kernel stack and the TCB). */
#ifndef KEEL_OBJECT_STRUCTURES_H
#define KEEL_OBJECT_STRUCTURES_H

#include <keel/abi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A capability: 32 bytes. `obj` is the object's kernel address (direct map) except for Untyped
 * and frames, where it is the physical address. */
struct cap {
    uint8_t type;       /* enum keel_cap_type */
    uint8_t rights;     /* enum keel_rights */
    uint8_t guard_bits; /* CNode: guard length */
    uint8_t radix;      /* CNode: log2 slots */
    uint8_t flags;      /* CAP_FLAG_* */
    uint8_t reserved[3];
    uint64_t obj;
    uint64_t word1;     /* endpoint/notification: badge; CNode: guard; Untyped: size in bytes; IRQ: line */
    uint64_t word2;     /* Untyped: watermark (bytes used) */
};
#define CAP_FLAG_DEVICE 1u /* Untyped: device memory, frames only */

/* A capability slot, with its place in the derivation tree. Every slot with a cap has a parent:
 * the cap it was derived from, or the tree's root for caps made at boot. */
struct cte {
    struct cap cap;
    struct cte *parent, *first_child, *next, *prev;
};
_Static_assert(sizeof(struct cte) == 1u << KEEL_SLOT_SIZE_BITS, "slot size is part of the ABI");

/* The register file, in struct trap_frame's layout. */
struct user_context {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};
/* `vector` of a register file saved by the syscall entry. Its RCX and R11 slots are stale: the
 * thread's RCX and R11 are its RIP and RFLAGS (the ABI's values after a syscall), and it goes
 * back by SYSRET. Anything that rewrites a thread's registers must clear the marker. */
#define CTX_SYSCALL_MARKER 0x100 /* entry.S: SYSCALL_MARKER */
_Static_assert(sizeof(struct user_context) == 22 * 8, "entry.S: CTX_SIZE and the slot offsets");
static inline uint64_t ctx_rcx(const struct user_context *c)
{
    return c->vector == CTX_SYSCALL_MARKER ? c->rip : c->rcx;
}
static inline uint64_t ctx_r11(const struct user_context *c)
{
    return c->vector == CTX_SYSCALL_MARKER ? c->rflags : c->r11;
}

struct endpoint;
struct notification;
struct reply;

enum thread_state {
    TS_INACTIVE = KEEL_THREAD_INACTIVE,
    TS_RUNNING = KEEL_THREAD_RUNNING,
    TS_BLOCKED_SEND = KEEL_THREAD_BLOCKED_SEND,
    TS_BLOCKED_RECV = KEEL_THREAD_BLOCKED_RECV,
    TS_BLOCKED_REPLY = KEEL_THREAD_BLOCKED_REPLY,
    TS_BLOCKED_NOTIFICATION = KEEL_THREAD_BLOCKED_NOTIFICATION,
};

/* What a thread blocked in Send/Call is sending, kept until a receiver takes it. */
#define IPC_CALL (1u << 0)
#define IPC_GRANT KEEL_RIGHT_GRANT             /* the rights' own bits: the fastpath copies them */
#define IPC_GRANT_REPLY KEEL_RIGHT_GRANT_REPLY
#define IPC_FAULT (1u << 4)  /* the message is a fault message built by the kernel */

struct tcb {
    struct user_context ctx;          /* offset 0: the entry code saves here */
    uint64_t fs_base, gs_base;
    uint8_t state;                    /* enum thread_state */
    uint8_t priority, mcp;
    uint8_t cpu;
    uint8_t ipc_flags;                /* IPC_* for a pending send */
    uint8_t in_run_queue;
    uint8_t iret_needed;              /* context saved by an interrupt: RCX/R11 are live */
    uint8_t reserved;
    uint32_t time_slice;
    uint32_t pkru;
    struct tcb *sched_next, *sched_prev;
    struct tcb *ep_next, *ep_prev;    /* endpoint or notification wait queue (threadqueue.h) */
    void *blocked_on;                 /* endpoint, notification or reply object */
    uint64_t ipc_badge;               /* badge of the cap a pending send used */
    struct reply *reply;              /* Recv: the reply object offered; Call: the one bound to us */
    struct notification *bound_notification;
    uint64_t ipc_buffer_va;
    uint64_t fault_label;             /* a pending fault message (IPC_FAULT) */
    uint64_t fault_mr[4];
    struct tcb *all_next, *all_prev;  /* every live TCB, for the invariant checker and ps */
    struct cte cspace_root, vspace_root, ipc_buffer_frame, fault_endpoint;
    uint8_t fpu[512] __attribute__((aligned(16)));
};
_Static_assert(sizeof(struct tcb) <= 1u << KEEL_TCB_SIZE_BITS, "TCB does not fit its object size");
_Static_assert(offsetof(struct tcb, ctx) == 0, "entry code saves registers at the start of the TCB");

/* A FIFO of blocked threads, linked through their ep_next/ep_prev (object/threadqueue.h). */
struct thread_queue {
    struct tcb *head, *tail;
};

enum endpoint_state { EP_IDLE, EP_SENDERS, EP_RECEIVERS };

struct endpoint {
    struct thread_queue queue; /* senders or receivers, as `state` says; empty when EP_IDLE */
    uint8_t state;
};
_Static_assert(sizeof(struct endpoint) <= 1u << KEEL_ENDPOINT_SIZE_BITS, "endpoint size");

struct notification {
    struct thread_queue waiters;
    uint64_t word;            /* pending signal bits */
    struct tcb *bound_tcb;
};
_Static_assert(sizeof(struct notification) <= 1u << KEEL_NOTIFICATION_SIZE_BITS, "notification size");

struct reply {
    struct tcb *caller;       /* the thread waiting for this reply, if any */
    struct tcb *receiver;     /* the thread that offered this reply object in a Recv, if any */
};
_Static_assert(sizeof(struct reply) <= 1u << KEEL_REPLY_SIZE_BITS, "reply size");

static inline struct cte *cnode_slots(const struct cap *c) { return (struct cte *)c->obj; }
static inline struct tcb *cap_tcb(const struct cap *c) { return (struct tcb *)c->obj; }
static inline struct endpoint *cap_endpoint(const struct cap *c) { return (struct endpoint *)c->obj; }
static inline struct notification *cap_notification(const struct cap *c) { return (struct notification *)c->obj; }
static inline struct reply *cap_reply(const struct cap *c) { return (struct reply *)c->obj; }

#endif
