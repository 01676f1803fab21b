/* Message transfer. Message registers 0-3 live in the thread's saved RDX, R10, R8, R9; the rest
 * in its IPC buffer, which the kernel reaches through the direct map of the buffer's frame, never
 * through a user pointer. */
#include "ipc.h"
#include "klib.h"
#include "log.h"
#include "object/cdt.h"
#include "object/cnode.h"
#include "object/cspace.h"
#include "object/endpoint.h"
#include "object/tcb.h"
#include "sched.h"

bool fault_logging = true;

static uint64_t *reg_mr(struct user_context *c, unsigned i)
{
    switch (i) {
    case 0: return &c->rdx;
    case 1: return &c->r10;
    case 2: return &c->r8;
    default: return &c->r9;
    }
}

uint64_t msg_get(const struct tcb *t, unsigned i)
{
    if (i < KEEL_MSG_REGISTERS)
        return *reg_mr((struct user_context *)&t->ctx, i);
    const struct keel_ipc_buffer *b = tcb_ipc_buffer(t);
    if (i < KEEL_MSG_MAX_LENGTH && b)
        return b->mr[i];
    return 0;
}

void msg_set(struct tcb *t, unsigned i, uint64_t v)
{
    struct keel_ipc_buffer *b;
    if (i < KEEL_MSG_REGISTERS)
        *reg_mr(&t->ctx, i) = v;
    else if (i < KEEL_MSG_MAX_LENGTH && (b = tcb_ipc_buffer(t)))
        b->mr[i] = v;
}

void msg_error(struct tcb *t, int err, unsigned n, const uint64_t *detail)
{
    for (unsigned i = 0; i < n; i++)
        msg_set(t, i, detail[i]);
    msg_complete(t, KEEL_MSG_ERROR | keel_msginfo((uint64_t)err, 0, n), 0);
}

struct cte *lookup_cap_slot(struct tcb *t, uint64_t cptr, unsigned which, struct invocation *inv, int *err)
{
    struct lookup_fault f;
    const struct cap *root = &t->cspace_root.cap;
    bool found = false;
    struct cte *slot = cspace_is_flat(root) ? cspace_flat_slot(root, cptr, &found) : 0;
    if (!found)
        slot = cspace_resolve(root, cptr, 64, false, &f);
    if (!slot) {
        *err = inv_fail(inv, KEEL_E_FAILED_LOOKUP, 3, f.failure, f.bits_left, which);
        return 0;
    }
    if (slot->cap.type == KEEL_CAP_NULL) {
        *err = inv_fail(inv, KEEL_E_FAILED_LOOKUP, 3, KEEL_LOOKUP_MISSING_CAP, 0, which);
        return 0;
    }
    return slot;
}

struct cte *lookup_slot_in(struct tcb *t, const struct cap *root, uint64_t index, uint64_t depth, unsigned which,
                           struct invocation *inv, int *err)
{
    struct lookup_fault f;
    if (depth == 0 || depth > 64) {
        *err = inv_fail(inv, KEEL_E_RANGE, 3, which, 1, 64);
        return 0;
    }
    struct cte *slot = cspace_resolve(root, index, (uint32_t)depth, true, &f);
    if (!slot)
        *err = inv_fail(inv, KEEL_E_FAILED_LOOKUP, 3, f.failure, f.bits_left, which);
    return slot;
}

/* The slot a receiver named for an incoming cap, if it is usable and empty. */
static struct cte *receive_slot(struct tcb *r)
{
    struct keel_ipc_buffer *b = tcb_ipc_buffer(r);
    if (!b)
        return 0;
    struct invocation scratch = { 0 };
    int err;
    const struct cap *root = &r->cspace_root.cap;
    if (b->receive_cnode) {
        struct cte *node = lookup_cap_slot(r, b->receive_cnode, 0, &scratch, &err);
        if (!node || node->cap.type != KEEL_OBJ_CNODE)
            return 0;
        root = &node->cap;
    }
    struct cte *slot = lookup_slot_in(r, root, b->receive_index, b->receive_depth, 0, &scratch, &err);
    return slot && slot->cap.type == KEEL_CAP_NULL ? slot : 0;
}

static unsigned transfer_caps(struct tcb *sender, struct tcb *receiver, keel_msginfo_t info, bool grant,
                              const void *ep, uint64_t *unwrapped)
{
    unsigned n = (unsigned)keel_msg_extra_caps(info);
    unsigned moved = 0;
    bool slot_used = false;
    *unwrapped = 0;
    if (!n || !grant)
        return 0;
    struct keel_ipc_buffer *from = tcb_ipc_buffer(sender), *to = tcb_ipc_buffer(receiver);
    if (!from || !to)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        struct invocation scratch = { 0 };
        int err;
        struct cte *src = lookup_cap_slot(sender, from->caps[i], 0, &scratch, &err);
        if (!src)
            break;
        /* A cap to the very endpoint the message travels through arrives as its badge. */
        if (ep && src->cap.type == KEEL_OBJ_ENDPOINT && (const void *)src->cap.obj == ep) {
            to->caps[i] = src->cap.word1;
            *unwrapped |= 1ull << i;
            moved++;
            continue;
        }
        struct cte *dst = slot_used ? 0 : receive_slot(receiver);
        if (!dst || !cap_derivable(&src->cap))
            break;
        dst->cap = cap_derive(&src->cap);
        cdt_insert(src, dst);
        slot_used = true;
        moved++;
    }
    return moved;
}

void ipc_transfer(struct tcb *sender, struct tcb *receiver, uint64_t badge, bool grant, const void *ep)
{
    keel_msginfo_t info;
    unsigned length;
    if (sender->ipc_flags & IPC_FAULT) {
        length = 4;
        info = keel_msginfo(sender->fault_label, 0, length);
        for (unsigned i = 0; i < 4; i++)
            msg_set(receiver, i, sender->fault_mr[i]);
    } else {
        info = msg_info(sender);
        length = (unsigned)keel_msg_length(info);
        if (length > KEEL_MSG_MAX_LENGTH)
            length = KEEL_MSG_MAX_LENGTH;
        receiver->ctx.rdx = sender->ctx.rdx;
        receiver->ctx.r10 = sender->ctx.r10;
        receiver->ctx.r8 = sender->ctx.r8;
        receiver->ctx.r9 = sender->ctx.r9;
        if (length > KEEL_MSG_REGISTERS) {
            const struct keel_ipc_buffer *from = tcb_ipc_buffer(sender);
            struct keel_ipc_buffer *to = tcb_ipc_buffer(receiver);
            if (from && to)
                for (unsigned i = KEEL_MSG_REGISTERS; i < length; i++)
                    to->mr[i] = from->mr[i];
            else
                length = KEEL_MSG_REGISTERS; /* no buffer to carry the rest: the receiver sees the cut */
        }
    }
    uint64_t unwrapped = 0;
    unsigned caps = (sender->ipc_flags & IPC_FAULT) ? 0 : transfer_caps(sender, receiver, info, grant, ep, &unwrapped);
    msg_complete(receiver, keel_msginfo(keel_msg_label(info), caps, length) | (unwrapped << 9), badge);
}

static const char *const fault_names[] = {
    [KEEL_FAULT_VM] = "page fault", [KEEL_FAULT_EXCEPTION] = "exception",
    [KEEL_FAULT_UNKNOWN_SYSCALL] = "unknown syscall", [KEEL_FAULT_NO_VSPACE] = "loss of its address space",
};

void fault_raise(struct tcb *t, uint64_t label, uint64_t mr0, uint64_t mr1, uint64_t mr2, uint64_t mr3)
{
    struct cte *ep = &t->fault_endpoint;
    if (ep->cap.type != KEEL_OBJ_ENDPOINT || !(ep->cap.rights & KEEL_RIGHT_WRITE)) {
        if (fault_logging)
            log_warn("thread %p: unhandled %s (rip %#lx, %#lx, %#lx, %#lx) and no fault endpoint: suspended",
                     (void *)t, label < ARRAY_SIZE(fault_names) && fault_names[label] ? fault_names[label] : "fault",
                     mr0, mr1, mr2, mr3);
        tcb_suspend(t);
        return;
    }
    t->fault_label = label;
    t->fault_mr[0] = mr0;
    t->fault_mr[1] = mr1;
    t->fault_mr[2] = mr2;
    t->fault_mr[3] = mr3;
    sched_unready(t);
    endpoint_send(cap_endpoint(&ep->cap), t, ep->cap.word1, IPC_CALL | IPC_FAULT, true);
}
