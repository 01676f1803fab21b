/* The IPC fastpath: Call and ReplyRecv with a register-only message, no caps, a partner already
 * waiting on this CPU and nothing more urgent to run. It checks those conditions, hands the
 * message over and switches thread and address space directly, without the scheduler or the
 * invocation decoder. Anything else returns false and takes the slow path, which has identical
 * semantics. Every check reads only what the decision needs, in the order most likely to fail
 * first; the counts are in docs/performance.md. */
#include "arch/switch.h"
#include "ipc.h"
#include "object/endpoint.h"
#include "object/vspace.h"
#include "sched.h"

bool fastpath_enabled = true;

#define MSG_LENGTH_AND_CAPS 0x1ffull /* length (bits 0-6) and extra caps (bits 7-8) */

/* Single-level CSpace lookup, the common case: the root CNode's guard and radix cover all 64
 * bits. Anything else (nested CNodes) goes the slow way. */
static inline struct cte *fast_lookup(const struct tcb *t, uint64_t cptr)
{
    const struct cap *root = &t->cspace_root.cap;
    if (root->type != KEEL_OBJ_CNODE || root->guard_bits + root->radix != 64 || (cptr >> root->radix) != root->word1)
        return 0;
    return &cnode_slots(root)[cptr & ((1ull << root->radix) - 1)];
}

/* The VSpace `next` would run in, if it may run now instead of going through the scheduler:
 * only on its own CPU, if nothing queued there outranks it, and if it has an address space. */
static inline struct vspace *may_switch_to(const struct percpu *c, const struct tcb *next)
{
    if (next->cpu != c->index)
        return 0; /* another CPU's thread: the slow path wakes it there */
    const uint64_t *bits = c->rq.bitmap;
    if ((bits[0] | bits[1] | bits[2] | bits[3]) && runq_highest(&c->rq)->priority > next->priority)
        return 0;
    const struct cap *root = &next->vspace_root.cap;
    struct vspace *vs = vspace_of_cap(root);
    return root->type == KEEL_OBJ_PML4 && vs->asid ? vs : 0;
}

static inline void copy_registers(struct tcb *to, const struct tcb *from, keel_msginfo_t info, uint64_t badge)
{
    to->ctx.rdx = from->ctx.rdx;
    to->ctx.r10 = from->ctx.r10;
    to->ctx.r8 = from->ctx.r8;
    to->ctx.r9 = from->ctx.r9;
    to->ctx.rax = info & ((1ull << 62) - 1) & ~0xf80ull; /* label and length: no caps, no flags */
    to->ctx.rdi = badge;
}

bool fastpath_call(struct tcb *t, struct percpu *c, struct cte **slot_out)
{
    keel_msginfo_t info = t->ctx.rsi;
    struct cte *slot = fast_lookup(t, t->ctx.rdi);
    *slot_out = slot && slot->cap.type != KEEL_CAP_NULL ? slot : 0; /* the slow path need not look again */
    if (!slot || slot->cap.type != KEEL_OBJ_ENDPOINT || (info & MSG_LENGTH_AND_CAPS) > KEEL_MSG_REGISTERS ||
        !(slot->cap.rights & KEEL_RIGHT_WRITE))
        return false;
    struct endpoint *ep = cap_endpoint(&slot->cap);
    struct tcb *dest = ep->head;
    if (ep->state != EP_RECEIVERS || !dest->reply || dest->reply->caller)
        return false;
    struct vspace *vs = may_switch_to(c, dest);
    if (!vs)
        return false;

    /* Dequeue the receiver, bind the caller to its reply object, hand over the message. */
    struct tcb *next_waiter = dest->ep_next;
    ep->head = next_waiter;
    if (next_waiter)
        next_waiter->ep_prev = 0;
    else {
        ep->tail = 0;
        ep->state = EP_IDLE;
    }
    dest->ep_next = 0;
    struct reply *r = dest->reply;
    dest->reply = 0;
    r->receiver = 0;
    r->caller = t;
    t->reply = r;
    t->state = TS_BLOCKED_REPLY;
    t->blocked_on = r;
    t->ipc_flags = IPC_CALL | (slot->cap.rights & KEEL_RIGHT_GRANT_REPLY ? IPC_GRANT_REPLY : 0);
    copy_registers(dest, t, info, slot->cap.word1);
    dest->state = TS_RUNNING;
    dest->blocked_on = 0;
    arch_switch_thread(c, t, dest, vs);
    c->current = dest;
    return true;
}

bool fastpath_reply_recv(struct tcb *t, struct percpu *c)
{
    keel_msginfo_t info = t->ctx.rsi;
    if ((info & MSG_LENGTH_AND_CAPS) > KEEL_MSG_REGISTERS)
        return false;
    struct cte *ep_slot = fast_lookup(t, t->ctx.rdi);
    struct cte *reply_slot = fast_lookup(t, t->ctx.r12);
    if (!ep_slot || !reply_slot || ep_slot->cap.type != KEEL_OBJ_ENDPOINT ||
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
    t->state = TS_BLOCKED_RECV;
    t->blocked_on = ep;
    t->ep_next = 0;
    struct tcb *tail = ep->tail;
    t->ep_prev = tail;
    if (tail)
        tail->ep_next = t;
    else
        ep->head = t;
    ep->tail = t;
    ep->state = EP_RECEIVERS;
    arch_switch_thread(c, t, caller, vs);
    c->current = caller;
    return true;
}
