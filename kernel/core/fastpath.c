/* The IPC fastpath: Call and ReplyRecv with a register-only message, no caps, a partner already
 * waiting on this CPU and nothing more urgent to run. It checks those conditions, hands the
 * message over and switches thread and address space directly, without the scheduler or the
 * invocation decoder. Anything else takes the slow path, which has identical semantics. Every
 * check reads only what the decision needs, in the order most likely to fail first; the counts
 * are in docs/performance.md.
 *
 * handle_syscall (syscall.c) tail-calls syscall_call and syscall_reply_recv with the big lock
 * held; they return with it released. Everything the fastpath uses is inlined into them: each
 * call and frame would cost about as much as the step it wraps. */
#include "arch/switch.h"
#include "ipc.h"
#include "object/cspace.h"
#include "object/endpoint.h"
#include "object/threadqueue.h"
#include "object/vspace.h"
#include "sched.h"
#include "smp.h"

#define MSG_LENGTH_AND_CAPS 0x1ffull /* length (bits 0-6) and extra caps (bits 7-8) */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* The VSpace `next` would run in, if it may run now instead of going through the scheduler:
 * only on its own CPU, if nothing queued there outranks it, and if it has an address space.
 * (Its RIP is checked on the way out, by return_to_user.) */
ALWAYS_INLINE struct vspace *may_switch_to(const struct percpu *c, const struct tcb *next)
{
    if (next->cpu != c->index)
        return 0; /* another CPU's thread: the slow path wakes it there */
    if (c->rq.words && runq_highest(&c->rq)->priority > next->priority)
        return 0;
    const struct cap *root = &next->vspace_root.cap;
    struct vspace *vs = vspace_of_cap(root);
    return root->type == KEEL_OBJ_PML4 && vs->asid ? vs : 0;
}

ALWAYS_INLINE void copy_registers(struct tcb *to, const struct tcb *from, keel_msginfo_t info, uint64_t badge)
{
    to->ctx.rdx = from->ctx.rdx;
    to->ctx.r10 = from->ctx.r10;
    to->ctx.r8 = from->ctx.r8;
    to->ctx.r9 = from->ctx.r9;
    to->ctx.rax = info & ((1ull << 62) - 1) & ~0xf80ull; /* label and length: no caps, no flags */
    to->ctx.rdi = badge;
}

/* The address-space switch when the inline cases do not cover it, then the lock: out of line
 * and called last, so that the fastpath keeps nothing live across a call. */
static __attribute__((noinline)) void switch_space_and_release(struct percpu *c, struct vspace *vs)
{
    arch_switch_space(c, vs);
    bkl_release();
}

/* Switch to `next` (another thread of this CPU, checked by may_switch_to) and leave. */
ALWAYS_INLINE void fast_switch(struct percpu *c, struct tcb *prev, struct tcb *next, struct vspace *vs)
{
    arch_switch_stack_fpu(c, next);
    arch_switch_tls_pkru(prev, next); /* prev != next: one was running, the other waiting */
    c->current = next;
    if (__builtin_expect(!arch_switch_space_fast(c, vs), 0)) {
        switch_space_and_release(c, vs);
        return;
    }
    bkl_release();
}

/* The Call's second half, once every check has passed: dequeue the receiver, bind the caller to
 * its reply object, hand over the message, switch. A function of its own (tail-called, its
 * arguments in registers) because each half then fits the caller-saved registers, where the
 * whole would need callee-saved ones pushed and popped on every call. */
static __attribute__((noinline)) void fastpath_call_commit(struct tcb *t, struct percpu *c, const struct cte *slot,
                                                           struct tcb *dest, struct vspace *vs)
{
    struct endpoint *ep = cap_endpoint(&slot->cap);
    struct reply *r = dest->reply;
    if (!thread_queue_pop(&ep->queue, dest, TS_RUNNING)) /* dest is the head (fastpath_call checked) */
        ep->state = EP_IDLE;
    dest->reply = 0;
    r->receiver = 0;
    r->caller = t;
    t->reply = r;
    t->state = TS_BLOCKED_REPLY;
    t->blocked_on = r;
    _Static_assert(IPC_GRANT_REPLY == KEEL_RIGHT_GRANT_REPLY, "the right is the flag");
    t->ipc_flags = IPC_CALL | (slot->cap.rights & KEEL_RIGHT_GRANT_REPLY);
    copy_registers(dest, t, t->ctx.rsi, slot->cap.word1);
    fast_switch(c, t, dest, vs);
}

/* Returns only when the fastpath does not apply, with *slot_out the slot RDI names (or NULL), so
 * the slow path need not look it up again. */
ALWAYS_INLINE bool fastpath_call(struct tcb *t, struct percpu *c, struct cte **slot_out)
{
    keel_msginfo_t info = t->ctx.rsi;
    const struct cap *root = &t->cspace_root.cap;
    if (!cspace_is_flat(root))
        return false;
    bool found;
    struct cte *slot = cspace_flat_slot(root, t->ctx.rdi, &found);
    if (!found)
        return false;
    if (slot->cap.type != KEEL_OBJ_ENDPOINT || (info & MSG_LENGTH_AND_CAPS) > KEEL_MSG_REGISTERS ||
        !(slot->cap.rights & KEEL_RIGHT_WRITE))
        goto slow;
    struct endpoint *ep = cap_endpoint(&slot->cap);
    struct tcb *dest = ep->queue.head;
    if (ep->state != EP_RECEIVERS)
        goto slow;
    struct reply *r = dest->reply;
    if (!r || r->caller)
        goto slow;
    struct vspace *vs = may_switch_to(c, dest);
    if (!vs)
        goto slow;
    fastpath_call_commit(t, c, slot, dest, vs);
    return true;
slow:
    *slot_out = slot->cap.type != KEEL_CAP_NULL ? slot : 0; /* the slow path need not look again */
    return false;
}

ALWAYS_INLINE bool fastpath_reply_recv(struct tcb *t, struct percpu *c)
{
    keel_msginfo_t info = t->ctx.rsi;
    const struct cap *root = &t->cspace_root.cap;
    if ((info & MSG_LENGTH_AND_CAPS) > KEEL_MSG_REGISTERS || !cspace_is_flat(root))
        return false;
    bool ep_found, reply_found;
    struct cte *ep_slot = cspace_flat_slot(root, t->ctx.rdi, &ep_found);
    struct cte *reply_slot = cspace_flat_slot(root, t->ctx.r12, &reply_found);
    if (!ep_found || !reply_found || ep_slot->cap.type != KEEL_OBJ_ENDPOINT ||
        !(ep_slot->cap.rights & KEEL_RIGHT_READ) || reply_slot->cap.type != KEEL_OBJ_REPLY)
        return false;
    struct endpoint *ep = cap_endpoint(&ep_slot->cap);
    struct reply *r = cap_reply(&reply_slot->cap);
    struct tcb *caller = r->caller;
    /* A sender already waiting, a pending notification or a fault reply: slow path. */
    if (!caller || (caller->ipc_flags & IPC_FAULT) || ep->state == EP_SENDERS || r->receiver ||
        (t->bound_notification && t->bound_notification->word))
        return false;
    struct vspace *vs = may_switch_to(c, caller);
    if (!vs)
        return false;

    /* Reply. */
    r->caller = 0;
    caller->reply = 0;
    caller->blocked_on = 0;
    caller->ipc_flags = 0;
    copy_registers(caller, t, info, 0);
    caller->state = TS_RUNNING;
    /* Then wait on the endpoint, offering the same reply object. */
    r->receiver = t;
    t->reply = r;
    thread_queue_block(&ep->queue, t, TS_BLOCKED_RECV, ep);
    ep->state = EP_RECEIVERS;
    fast_switch(c, t, caller, vs);
    return true;
}

/* With fastpath=off, syscall_set_fastpath leaves these out of the syscall table. */
void syscall_call(struct tcb *t, struct percpu *c)
{
    struct cte *slot = 0;
    if (fastpath_call(t, c, &slot))
        return;
    syscall_slow(t, KEEL_SYS_CALL, slot);
}

void syscall_reply_recv(struct tcb *t, struct percpu *c)
{
    if (fastpath_reply_recv(t, c))
        return;
    syscall_slow(t, KEEL_SYS_REPLY_RECV, 0);
}
