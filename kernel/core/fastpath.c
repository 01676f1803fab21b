/* The IPC fastpath: Call and ReplyRecv with a register-only message, no caps, a partner already
 * waiting and nothing more urgent to run. It checks those conditions, hands the message over and
 * switches thread and address space directly, without the scheduler or the invocation decoder.
 * Anything else returns false and takes the slow path, which has identical semantics. */
#include "arch/cpu.h"
#include "boot.h"
#include "ipc.h"
#include "object/endpoint.h"
#include "object/vspace.h"
#include "sched.h"

bool fastpath_enabled = true;

/* Single-level CSpace lookup, the common case: the root CNode's guard and radix cover all 64
 * bits. Anything else (nested CNodes) goes the slow way. */
static inline struct cte *fast_lookup(const struct tcb *t, uint64_t cptr)
{
    const struct cap *root = &t->cspace_root.cap;
    if (root->type != KEEL_OBJ_CNODE || root->guard_bits + root->radix != 64 || (cptr >> root->radix) != root->word1)
        return 0;
    return &cnode_slots(root)[cptr & ((1ull << root->radix) - 1)];
}

/* May `next` run now instead of going through the scheduler? Only on its own CPU, if nothing
 * queued there outranks it, and if it has an address space. */
static inline bool may_switch_to(const struct percpu *c, const struct tcb *next)
{
    if (next->cpu != c->index)
        return false; /* another CPU's thread: the slow path wakes it there */
    const struct run_queue *q = &c->rq;
    for (int w = 3; w >= 0; w--)
        if (q->bitmap[w]) {
            if (w * 64 + 63 - __builtin_clzll(q->bitmap[w]) > next->priority)
                return false;
            break;
        }
    const struct cap *vs = &next->vspace_root.cap;
    return vs->type == KEEL_OBJ_PML4 && vspace_of_cap(vs)->asid;
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

static inline void switch_now(struct percpu *c, struct tcb *from, struct tcb *to)
{
    arch_switch_to(from, to);
    c->current = to;
}

bool fastpath_call(struct tcb *t)
{
    keel_msginfo_t info = t->ctx.rsi;
    if ((info & 0x7f) > KEEL_MSG_REGISTERS || (info & (3ull << 7)))
        return false;
    struct cte *slot = fast_lookup(t, t->ctx.rdi);
    if (!slot || slot->cap.type != KEEL_OBJ_ENDPOINT || !(slot->cap.rights & KEEL_RIGHT_WRITE))
        return false;
    struct endpoint *ep = cap_endpoint(&slot->cap);
    struct tcb *dest = ep->head;
    if (ep->state != EP_RECEIVERS || !dest->reply || dest->reply->caller)
        return false;
    struct percpu *c = this_cpu();
    if (!may_switch_to(c, dest))
        return false;

    /* Dequeue the receiver, bind the caller to its reply object, hand over the message. */
    ep->head = dest->ep_next;
    if (ep->head)
        ep->head->ep_prev = 0;
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
    switch_now(c, t, dest);
    return true;
}

bool fastpath_reply_recv(struct tcb *t)
{
    keel_msginfo_t info = t->ctx.rsi;
    if ((info & 0x7f) > KEEL_MSG_REGISTERS || (info & (3ull << 7)))
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
    struct percpu *c = this_cpu();
    if (!may_switch_to(c, caller))
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
    t->ep_prev = ep->tail;
    if (ep->tail)
        ep->tail->ep_next = t;
    else
        ep->head = t;
    ep->tail = t;
    ep->state = EP_RECEIVERS;
    switch_now(c, t, caller);
    return true;
}
