/* Messages: registers, IPC buffers, transfers between threads, invocation replies, faults. */
#ifndef KEEL_IPC_H
#define KEEL_IPC_H

#include "object/structures.h"

uint64_t msg_get(const struct tcb *t, unsigned i);
void msg_set(struct tcb *t, unsigned i, uint64_t v);
static inline keel_msginfo_t msg_info(const struct tcb *t) { return t->ctx.rsi; }

/* Completes a syscall of `t` with message info `info` (RAX) and badge (RDI). */
static inline void msg_complete(struct tcb *t, keel_msginfo_t info, uint64_t badge)
{
    t->ctx.rax = info;
    t->ctx.rdi = badge;
}
/* Completes a syscall with an error: KEEL_MSG_ERROR | label err, `n` detail words. */
void msg_error(struct tcb *t, int err, unsigned n, const uint64_t *detail);

/* A decoded invocation (a Call on a kernel object's capability). */
struct invocation {
    struct tcb *caller;
    struct cte *slot;          /* the invoked cap's slot */
    uint64_t label, length, extra_caps;
    struct cte *extra[KEEL_MSG_MAX_CAPS];
    uint64_t detail[3];        /* error details for the reply */
    unsigned ndetail;
    unsigned nreply;           /* message registers set by a successful invocation */
};

static inline uint64_t inv_arg(const struct invocation *inv, unsigned i) { return msg_get(inv->caller, i); }
static inline int inv_fail(struct invocation *inv, int err, unsigned n, uint64_t d0, uint64_t d1, uint64_t d2)
{
    inv->ndetail = n;
    inv->detail[0] = d0;
    inv->detail[1] = d1;
    inv->detail[2] = d2;
    return err;
}
static inline void inv_reply(struct invocation *inv, unsigned i, uint64_t v)
{
    msg_set(inv->caller, i, v);
    if (i + 1 > inv->nreply)
        inv->nreply = i + 1;
}
/* Check that the message carries at least `n` words. */
#define INV_NEED_ARGS(inv, n)                                                                      \
    do {                                                                                           \
        if ((inv)->length < (n))                                                                   \
            return inv_fail((inv), KEEL_E_TRUNCATED_MESSAGE, 1, (n), 0, 0);                        \
    } while (0)

/* Looks up `cptr` (depth 64) in `t`'s CSpace for invocation purposes; on failure fills `inv`'s
 * error with which = 0 for the invoked cap, i + 1 for argument/extra cap i. */
struct cte *lookup_cap_slot(struct tcb *t, uint64_t cptr, unsigned which, struct invocation *inv, int *err);
/* Looks up a slot by (root CNode cptr or 0 for the CSpace root, index, depth) exactly. */
struct cte *lookup_slot_in(struct tcb *t, const struct cap *root, uint64_t index, uint64_t depth, unsigned which,
                           struct invocation *inv, int *err);

/* Copies a message from `sender` to `receiver`, with cap transfer when `grant`; sets the
 * receiver's message info and badge. `ep` is the endpoint used (for unwrapping), or NULL. */
void ipc_transfer(struct tcb *sender, struct tcb *receiver, uint64_t badge, bool grant, const void *ep);

/* A user-mode fault in `t`: sent to its fault endpoint as a Call, or the thread stops. */
void fault_raise(struct tcb *t, uint64_t label, uint64_t mr0, uint64_t mr1, uint64_t mr2, uint64_t mr3);
extern bool fault_logging;

/* Syscall handlers (core/syscall.c, core/fastpath.c). Each is entered with the big lock held and
 * returns with it released, so handle_syscall can tail-call them. Call and ReplyRecv try the IPC
 * fastpath first (unless fastpath=off); syscall_slow does everything with the general code. Its
 * `slot` is the slot RDI names when the caller has looked it up already (else NULL). */
extern bool fastpath_enabled; /* read-only: set it with syscall_set_fastpath */
void syscall_set_fastpath(bool on);
struct percpu;
void syscall_call(struct tcb *t, struct percpu *c);
void syscall_reply_recv(struct tcb *t, struct percpu *c);
void syscall_slow(struct tcb *t, uint64_t nr, struct cte *slot);

#endif
