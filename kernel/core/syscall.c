/* Syscall dispatch. Eight syscalls; everything else is a Call on a capability, decoded by the
 * object's own file. Errors come back as a message with KEEL_MSG_ERROR set (see abi.h). */
#include "arch/apic.h"
#include "arch/layout.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "console.h"
#include "ipc.h"
#include "log.h"
#include "object/cnode.h"
#include "object/debug.h"
#include "object/endpoint.h"
#include "object/log.h"
#include "object/irq.h"
#include "object/tcb.h"
#include "object/untyped.h"
#include "object/vspace.h"
#include "sched.h"
#include "smp.h"

void handle_syscall(void);
void trap_from_user(struct trap_frame *f);
static void trap_locked(struct trap_frame *f);

static void finish_invocation(struct invocation *inv, int err)
{
    if (err) {
        msg_error(inv->caller, err, inv->ndetail, inv->detail);
        return;
    }
    msg_complete(inv->caller, keel_msginfo(0, 0, inv->nreply), 0);
}

/* Looks up the extra caps named in the caller's IPC buffer. */
static int lookup_extra_caps(struct invocation *inv)
{
    if (!inv->extra_caps)
        return 0;
    struct keel_ipc_buffer *b = tcb_ipc_buffer(inv->caller);
    if (!b)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0); /* caps travel in the IPC buffer */
    for (unsigned i = 0; i < inv->extra_caps; i++) {
        int err;
        if (b->caps[i] == 0) {
            inv->extra[i] = 0; /* cptr 0: the null slot, "no cap" */
            continue;
        }
        inv->extra[i] = lookup_cap_slot(inv->caller, b->caps[i], i + 1, inv, &err);
        if (!inv->extra[i])
            return err;
    }
    return 0;
}

static void invoke(struct tcb *caller, struct cte *slot, keel_msginfo_t info)
{
    struct invocation inv = {
        .caller = caller,
        .slot = slot,
        .label = keel_msg_label(info),
        .length = keel_msg_length(info),
        .extra_caps = keel_msg_extra_caps(info),
    };
    int err = lookup_extra_caps(&inv);
    if (!err) {
        switch (slot->cap.type) {
        case KEEL_OBJ_UNTYPED: err = untyped_invoke(&inv); break;
        case KEEL_OBJ_CNODE: err = cnode_invoke(&inv); break;
        case KEEL_OBJ_TCB: err = tcb_invoke(&inv); break;
        case KEEL_CAP_DEBUG: err = debug_invoke(&inv); break;
        case KEEL_CAP_LOG: err = log_invoke(&inv); break;
        case KEEL_OBJ_PML4: err = vspace_invoke(&inv); break;
        case KEEL_OBJ_PDPT:
        case KEEL_OBJ_PD:
        case KEEL_OBJ_PT: err = paging_invoke(&inv); break;
        case KEEL_OBJ_FRAME_4K:
        case KEEL_OBJ_FRAME_2M:
        case KEEL_OBJ_FRAME_1G: err = frame_invoke(&inv); break;
        case KEEL_CAP_ASID_CONTROL: err = asid_control_invoke(&inv); break;
        case KEEL_CAP_ASID_POOL: err = asid_pool_invoke(&inv); break;
        case KEEL_CAP_IRQ_CONTROL: err = irq_control_invoke(&inv); break;
        case KEEL_CAP_IRQ_HANDLER: err = irq_handler_invoke(&inv); break;
        case KEEL_CAP_IOPORT_CONTROL: err = ioport_control_invoke(&inv); break;
        case KEEL_CAP_IOPORT: err = ioport_invoke(&inv); break;
        default: err = inv_fail(&inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0); break;
        }
    }
    finish_invocation(&inv, err);
}

static void fail(struct tcb *t, int err, uint64_t d0, uint64_t d1, uint64_t d2, unsigned n)
{
    uint64_t d[3] = { d0, d1, d2 };
    msg_error(t, err, n, d);
}

static bool need_rights(struct tcb *t, const struct cap *c, uint8_t rights)
{
    if ((c->rights & rights) == rights)
        return true;
    fail(t, KEEL_E_INSUFFICIENT_RIGHTS, rights, 0, 0, 1);
    return false;
}

/* The reply object named by R12 (0: none). */
static bool lookup_reply(struct tcb *t, struct reply **out)
{
    *out = 0;
    if (!t->ctx.r12)
        return true;
    struct invocation scratch = { 0 };
    int err;
    struct cte *s = lookup_cap_slot(t, t->ctx.r12, 1, &scratch, &err);
    if (!s) {
        msg_error(t, err, scratch.ndetail, scratch.detail);
        return false;
    }
    if (s->cap.type != KEEL_OBJ_REPLY) {
        fail(t, KEEL_E_INVALID_CAPABILITY, 1, 0, 0, 1);
        return false;
    }
    *out = cap_reply(&s->cap);
    if ((*out)->receiver && (*out)->receiver != t) {
        fail(t, KEEL_E_ILLEGAL_OPERATION, 1, 0, 0, 1); /* another thread is waiting with it */
        return false;
    }
    return true;
}

static void do_recv(struct tcb *t, struct cte *slot, bool blocking)
{
    struct cap *c = &slot->cap;
    if (c->type == KEEL_OBJ_ENDPOINT) {
        struct reply *reply;
        if (!need_rights(t, c, KEEL_RIGHT_READ) || !lookup_reply(t, &reply))
            return;
        endpoint_recv(cap_endpoint(c), t, reply, blocking);
    } else if (c->type == KEEL_OBJ_NOTIFICATION) {
        if (!need_rights(t, c, KEEL_RIGHT_READ))
            return;
        struct notification *n = cap_notification(c);
        if (n->bound_tcb && n->bound_tcb != t) {
            fail(t, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 1); /* bound to another thread */
            return;
        }
        notification_wait(n, t, blocking);
    } else {
        fail(t, KEEL_E_INVALID_CAPABILITY, 0, 0, 0, 1);
    }
}

static void do_send(struct tcb *t, struct cte *slot, bool blocking, bool call)
{
    struct cap *c = &slot->cap;
    switch (c->type) {
    case KEEL_OBJ_ENDPOINT: {
        if (!need_rights(t, c, KEEL_RIGHT_WRITE))
            return;
        uint8_t flags = (c->rights & KEEL_RIGHT_GRANT ? IPC_GRANT : 0) |
                        (c->rights & KEEL_RIGHT_GRANT_REPLY ? IPC_GRANT_REPLY : 0) | (call ? IPC_CALL : 0);
        endpoint_send(cap_endpoint(c), t, c->word1, flags, blocking);
        return;
    }
    case KEEL_OBJ_NOTIFICATION:
        if (call) {
            fail(t, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 1);
            return;
        }
        if (!need_rights(t, c, KEEL_RIGHT_WRITE))
            return;
        notification_signal(cap_notification(c), c->word1);
        msg_complete(t, 0, 0);
        return;
    case KEEL_OBJ_REPLY:
        if (call) {
            fail(t, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 1);
            return;
        }
        if (!reply_deliver(cap_reply(c), t)) {
            fail(t, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 1); /* nobody waits for this reply */
            return;
        }
        msg_complete(t, 0, 0);
        return;
    default:
        if (call) {
            invoke(t, slot, msg_info(t));
            return;
        }
        fail(t, KEEL_E_INVALID_CAPABILITY, 0, 0, 0, 1);
        return;
    }
}

/* The thread about to return to user mode must have a user-half RIP: IRETQ to a non-canonical
 * one faults inside the kernel after SWAPGS. That happens when a syscall was the last
 * instruction below the top of the user half: the thread takes the #GP it would have taken
 * running on (a fault message, or it stops), and someone else runs. */
static void ensure_returnable(void)
{
    for (;;) {
        struct tcb *t = current_thread();
        if (t && !vspace_usable(t)) {
            /* Its VSpace died or lost its ASID while it was in the kernel. */
            struct percpu *c = this_cpu();
            c->current = 0;
            c->ctx_top = 0;
            tcb_stop_unrunnable(t);
            schedule();
            continue;
        }
        if (t && this_cpu()->active_vspace != vspace_of_cap(&t->vspace_root.cap))
            arch_switch_to(t, t); /* it was given another VSpace (TCB Configure on itself) */
        if (t && t->ctx.rip < USER_TOP)
            return;
        if (t)
            fault_raise(t, KEEL_FAULT_EXCEPTION, t->ctx.rip, VEC_GENERAL_PROTECTION, 0, t->ctx.rsp);
        schedule();
    }
}

/* Out of line: its large frame would otherwise be set up on the fast paths too. Returns with the
 * big lock released (see ipc.h). */
__attribute__((noinline)) void syscall_slow(struct tcb *t, uint64_t nr, struct cte *slot)
{
    if (nr == KEEL_SYS_YIELD) {
        msg_complete(t, 0, 0);
        sched_yield();
    } else if (nr == KEEL_SYS_DEBUG_PUTCHAR && KEEL_DEBUG) {
        char ch = (char)t->ctx.rdi;
        console_write(&ch, 1);
        msg_complete(t, 0, 0);
    } else if (nr >= KEEL_SYS_CALL && nr <= KEEL_SYS_NB_RECV) {
        struct invocation scratch = { 0 };
        int err = 0;
        if (!slot)
            slot = lookup_cap_slot(t, t->ctx.rdi, 0, &scratch, &err);
        if (!slot) {
            msg_error(t, err, scratch.ndetail, scratch.detail);
        } else {
            switch (nr) {
            case KEEL_SYS_CALL: do_send(t, slot, true, true); break;
            case KEEL_SYS_SEND: do_send(t, slot, true, false); break;
            case KEEL_SYS_NB_SEND: do_send(t, slot, false, false); break;
            case KEEL_SYS_RECV: do_recv(t, slot, true); break;
            case KEEL_SYS_NB_RECV: do_recv(t, slot, false); break;
            case KEEL_SYS_REPLY_RECV: {
                struct reply *reply;
                if (slot->cap.type != KEEL_OBJ_ENDPOINT) {
                    fail(t, KEEL_E_INVALID_CAPABILITY, 0, 0, 0, 1);
                    break;
                }
                if (!need_rights(t, &slot->cap, KEEL_RIGHT_READ) || !lookup_reply(t, &reply))
                    break;
                if (reply)
                    reply_deliver(reply, t); /* no caller waiting: just receive */
                endpoint_recv(cap_endpoint(&slot->cap), t, reply, true); /* rights checked above */
                break;
            }
            }
        }
    } else {
        fault_raise(t, KEEL_FAULT_UNKNOWN_SYSCALL, t->ctx.rip, nr, 0, 0);
    }
    if (this_cpu()->need_resched)
        schedule();
    ensure_returnable();
    bkl_release();
}

/* Yield with nobody else to run changes nothing: answered here, without syscall_slow. */
static void syscall_yield(struct tcb *t, struct percpu *c)
{
    if (sched_has_peer(c, t)) {
        syscall_slow(t, KEEL_SYS_YIELD, 0);
        return;
    }
    msg_complete(t, 0, 0);
    bkl_release();
}

static void syscall_other(struct tcb *t, struct percpu *c)
{
    (void)c;
    syscall_slow(t, t->ctx.rax, 0);
}

/* Handlers by syscall number; numbers past the table are syscall_other's (an unknown-syscall
 * fault). Each is entered with the big lock held and releases it (ipc.h). Call and ReplyRecv are
 * the fastpath's unless the command line says fastpath=off (syscall_set_fastpath), so the hot
 * paths do not test the option. */
typedef void syscall_handler(struct tcb *t, struct percpu *c);
#define SYSCALL_TABLE_SIZE 16
_Static_assert(KEEL_SYS_DEBUG_PUTCHAR < SYSCALL_TABLE_SIZE, "every syscall has its entry");
static syscall_handler *syscall_table[SYSCALL_TABLE_SIZE] = {
    syscall_other, syscall_call,  syscall_reply_recv, syscall_other, syscall_other, syscall_other,
    syscall_other, syscall_yield, syscall_other,      syscall_other, syscall_other, syscall_other,
    syscall_other, syscall_other, syscall_other,      syscall_other,
};
_Static_assert(KEEL_SYS_CALL == 1 && KEEL_SYS_REPLY_RECV == 2 && KEEL_SYS_YIELD == 7, "syscall_table's order");

bool fastpath_enabled = true;

void syscall_set_fastpath(bool on)
{
    fastpath_enabled = on;
    syscall_table[KEEL_SYS_CALL] = on ? syscall_call : syscall_other;
    syscall_table[KEEL_SYS_REPLY_RECV] = on ? syscall_reply_recv : syscall_other;
}

/* The syscall entry (entry.S) calls this with the caller's registers saved in its TCB. It takes
 * the big lock and tail-calls the syscall's handler, which releases it. The RIP the thread goes
 * back to is checked by return_to_user (return_fixup below). */
void handle_syscall(void)
{
    struct percpu *c = bkl_acquire_from(true);
    struct tcb *t = c->current;
    if (__builtin_expect(!t, 0)) { /* evicted while waiting for the lock: it will issue the syscall again */
        schedule();
        ensure_returnable();
        bkl_release();
        return;
    }
    uint64_t nr = t->ctx.rax;
    /* The index is clamped rather than only compared, so that not even a mispredicted bounds
     * check reads past the table (the number is the caller's). */
    syscall_table[nr < SYSCALL_TABLE_SIZE ? nr : 0](t, c);
}

/* return_to_user (entry.S) found the current thread's RIP outside the user half: a `syscall` at
 * the very top of it. The fast exits leave this case to here; ensure_returnable turns it into
 * the #GP fault the thread would have taken running on, and someone else runs. */
void return_fixup(void);
void return_fixup(void)
{
    bkl_acquire();
    ensure_returnable();
    bkl_release();
}

void trap_from_user(struct trap_frame *f)
{
    /* `f` lives in the thread's TCB, which another CPU may take over (and rewrite: WriteRegisters)
     * as soon as this one lets go of the thread -- by the mailbox below or while waiting for the
     * lock. So the entry is decided from a copy taken now, never from `f` again: a rewritten
     * vector would turn a timer tick into a made-up fault of the thread and leave the tick without
     * EOI, and then this CPU would take no timer or IPI again (issue 11). */
    struct trap_frame copy = *f;
    /* A cross-CPU request is answered without the big lock: its sender holds it. */
    if (copy.vector == VEC_IPI_SHOOTDOWN) {
        smp_mailbox();
        lapic_eoi();
        if (this_cpu()->current)
            return; /* back to the same thread at once */
    }
    bkl_acquire();
    if (!this_cpu()->current && copy.vector >= VEC_IRQ_BASE && copy.vector != VEC_IPI_SHOOTDOWN)
        trap_dispatch(&copy);
    trap_locked(&copy);
    bkl_release();
}

static void trap_locked(struct trap_frame *f)
{
    struct tcb *t = current_thread();
    if (!t) {
        /* Evicted by another CPU while waiting for the lock. The interrupt that brought us in must
         * still be handled (and acknowledged: a timer or IPI left in service would block every
         * later one of its priority on this CPU); an exception belonged to the evicted thread. */
        schedule(); /* its interrupt was handled from a copy in trap_from_user */
        ensure_returnable();
        return;
    }
    if (f->vector == VEC_IPI_SHOOTDOWN)
        return; /* answered above */
    if (f->vector == VEC_NMI || f->vector == VEC_MACHINE_CHECK) {
        trap_dispatch(f); /* not the thread's doing */
    } else if (f->vector < 32) {
        if (f->vector == VEC_PAGE_FAULT)
            fault_raise(t, KEEL_FAULT_VM, f->rip, read_cr2(), f->error, 0);
        else
            fault_raise(t, KEEL_FAULT_EXCEPTION, f->rip, f->vector, f->error, f->rsp);
    } else {
        trap_dispatch(f);
    }
    if (this_cpu()->need_resched || !this_cpu()->current)
        schedule();
    ensure_returnable();
}
