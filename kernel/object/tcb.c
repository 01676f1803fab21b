/* Thread control blocks and their invocations. */
#include "object/tcb.h"
#include "arch/cpu.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/x86.h"
#include "log.h"
#include "object/cdt.h"
#include "object/cnode.h"
#include "object/endpoint.h"
#include "object/vspace.h"
#include "sched.h"
#include "smp.h"

struct tcb *tcb_list;

#define USER_RFLAGS_MASK 0xcd5ul /* CF PF AF ZF SF DF OF: what user code may set (not TF) */
#define RFLAGS_RESERVED1 0x2ul

void tcb_init(struct tcb *t)
{
    memset(t, 0, sizeof *t);
    t->state = TS_INACTIVE;
    t->ctx.cs = GDT_USER_CODE | 3;
    t->ctx.ss = GDT_USER_DATA | 3;
    t->ctx.rflags = RFLAGS_IF | RFLAGS_RESERVED1;
    t->time_slice = TIME_SLICE_TICKS;
    t->pkru = 0;
    arch_fpu_init(t);
    t->all_next = tcb_list;
    if (tcb_list)
        tcb_list->all_prev = t;
    tcb_list = t;
}

void tcb_cancel_ipc(struct tcb *t)
{
    switch (t->state) {
    case TS_BLOCKED_SEND:
    case TS_BLOCKED_RECV:
        endpoint_take(t->blocked_on, t);
        break;
    case TS_BLOCKED_NOTIFICATION:
        notification_take(t->blocked_on, t);
        break;
    case TS_BLOCKED_REPLY:
        if (t->reply)
            reply_unbind_caller(t->reply);
        t->state = TS_INACTIVE;
        t->blocked_on = 0;
        break;
    default:
        break;
    }
}

void tcb_abort_ipc(struct tcb *t)
{
    t->blocked_on = 0;
    if (t->ipc_flags & IPC_FAULT) {
        t->ipc_flags = 0;
        t->state = TS_INACTIVE;
        return;
    }
    t->ipc_flags = 0;
    msg_error(t, KEEL_E_CANCELLED, 0, 0);
    sched_wake(t);
}

void tcb_suspend(struct tcb *t)
{
    bool in_syscall = t->state >= TS_BLOCKED_SEND && !(t->ipc_flags & IPC_FAULT);
    tcb_cancel_ipc(t);
    if (in_syscall)
        msg_error(t, KEEL_E_CANCELLED, 0, 0); /* seen when the thread is resumed */
    t->ipc_flags = 0;
    t->state = TS_INACTIVE;
    sched_unready(t);
}

void tcb_resume(struct tcb *t)
{
    if (t->state == TS_INACTIVE)
        sched_wake(t);
}

void tcb_stop_unrunnable(struct tcb *t)
{
    /* Its VSpace was deleted or lost its ASID: a fault its supervisor can see, else it stops. */
    t->state = TS_INACTIVE;
    fault_raise(t, KEEL_FAULT_NO_VSPACE, t->ctx.rip, 0, 0, 0);
}

void tcb_destroy_begin(struct tcb *t)
{
    tcb_suspend(t); /* off every queue and reply object: an INACTIVE thread holds none */
    notification_unbind(t);
}

void tcb_destroy_end(struct tcb *t)
{
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        tcb_list = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    sched_forget_current(t);
}

/* Replace an internal cap of a TCB with a copy of `src` (NULL: leave it). */
static void set_internal_cap(struct cte *internal, struct cte *src)
{
    if (!src)
        return;
    cap_delete(internal);
    internal->cap = cap_derive(&src->cap);
    cdt_insert(src, internal);
}

static void set_priority(struct tcb *t, uint8_t prio)
{
    struct percpu *c = cpu_get(t->cpu); /* its own CPU's queue, not the caller's */
    if (!c || !c->self)
        c = this_cpu();
    if (t->in_run_queue) {
        runq_remove(&c->rq, t);
        t->priority = prio;
        runq_push(&c->rq, t, false);
        if (c->current && prio > c->current->priority)
            c->need_resched = true;
    } else {
        if (t == c->current && prio < t->priority)
            c->need_resched = true;
        t->priority = prio;
    }
    if (c->need_resched && c != this_cpu())
        smp_reschedule(c->index); /* that CPU decides at its next entry */
}

/* Moves `t` to CPU `cpu`: off its old CPU (which lets go of it if running it) into the new
 * CPU's queue if runnable. */
static void set_affinity(struct tcb *t, uint8_t cpu)
{
    if (t->cpu == cpu)
        return;
    struct percpu *me = this_cpu();
    bool runnable = t->state == TS_RUNNING;
    if (t == me->current) {
        t->cpu = cpu; /* schedule() queues it on its new CPU */
        me->need_resched = true;
        return;
    }
    sched_unready(t);
    t->cpu = cpu;
    if (runnable)
        sched_wake(t);
}

/* Extra cap `i` if present and non-null and of `type`; *err set when it has the wrong type. */
static struct cte *extra_of_type(struct invocation *inv, unsigned i, uint8_t type, int *err)
{
    if (i >= inv->extra_caps || !inv->extra[i] || inv->extra[i]->cap.type == KEEL_CAP_NULL)
        return 0;
    if (inv->extra[i]->cap.type != type) {
        *err = inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, i + 1, 0, 0);
        return 0;
    }
    return inv->extra[i];
}

static int configure(struct invocation *inv, struct tcb *t)
{
    int err = 0;
    INV_NEED_ARGS(inv, 4);
    struct cte *cspace = extra_of_type(inv, 0, KEEL_OBJ_CNODE, &err);
    struct cte *vspace = err ? 0 : extra_of_type(inv, 1, KEEL_OBJ_PML4, &err);
    struct cte *buffer = err ? 0 : extra_of_type(inv, 2, KEEL_OBJ_FRAME_4K, &err);
    if (err)
        return err;
    /* Only three caps fit a message: the fault endpoint is named by a cptr in MR3. */
    struct cte *fault = 0;
    if (inv_arg(inv, 3)) {
        fault = lookup_cap_slot(inv->caller, inv_arg(inv, 3), 4, inv, &err);
        if (!fault)
            return err;
        if (fault->cap.type != KEEL_OBJ_ENDPOINT)
            return inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 4, 0, 0);
    }
    uint64_t va = inv_arg(inv, 0), guard = inv_arg(inv, 1), guard_bits = inv_arg(inv, 2);
    if (buffer && !IS_ALIGNED(va, 4096))
        return inv_fail(inv, KEEL_E_ALIGNMENT, 2, 0, 4096, 0);
    if (buffer && va >= USER_TOP)
        return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, USER_TOP - 4096);
    if (cspace) {
        if (guard_bits + cspace->cap.radix > 64)
            return inv_fail(inv, KEEL_E_RANGE, 3, 2, 0, 64 - cspace->cap.radix);
        if (guard_bits < 64 && (guard >> guard_bits) != 0)
            return inv_fail(inv, KEEL_E_RANGE, 3, 1, 0, guard_bits ? (1ull << guard_bits) - 1 : 0);
    }
    set_internal_cap(&t->cspace_root, cspace);
    if (cspace) {
        t->cspace_root.cap.word1 = guard;
        t->cspace_root.cap.guard_bits = (uint8_t)guard_bits;
    }
    set_internal_cap(&t->vspace_root, vspace);
    set_internal_cap(&t->fault_endpoint, fault);
    if (buffer) {
        set_internal_cap(&t->ipc_buffer_frame, buffer);
        t->ipc_buffer_va = va;
    }
    return 0;
}

/* Can `t` be resumed? 0, or the error Resume gives (MR0 1: no VSpace, 2: no CSpace). */
static int resume_check(struct invocation *inv, const struct tcb *t)
{
    if (!vspace_usable(t))
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 1, 1, 0, 0);
    if (t->cspace_root.cap.type != KEEL_OBJ_CNODE)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 1, 2, 0, 0);
    return 0;
}

static int write_registers(struct invocation *inv, struct tcb *t)
{
    INV_NEED_ARGS(inv, 1 + KEEL_USER_REGS_WORDS);
    if (t == inv->caller)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    uint64_t r[KEEL_USER_REGS_WORDS];
    for (unsigned i = 0; i < KEEL_USER_REGS_WORDS; i++)
        r[i] = inv_arg(inv, 1 + i);
    /* A non-canonical or kernel RIP would fault on the way out of the kernel: refuse it here. */
    if (r[0] >= USER_TOP)
        return inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, 1, 0, 0);
    if (r[1] >= USER_TOP)
        return inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, 2, 0, 0);
    if (r[18] >= USER_TOP || r[19] >= USER_TOP)
        return inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, r[18] >= USER_TOP ? 19 : 20, 0, 0);
    int unrunnable = resume_check(inv, t);
    if (inv_arg(inv, 0) && unrunnable)
        return unrunnable; /* resuming needs what Resume needs */
    /* The thread keeps its state: a fault handler fixes a faulting thread's registers and then
     * replies to resume it, so this must not cancel the pending fault IPC. Running on another
     * CPU, its register file is that CPU's (where an interrupt from user mode saves its frame)
     * until that CPU lets go of it. */
    smp_take_thread(t);
    struct user_context *c = &t->ctx;
    c->rip = r[0];
    c->rsp = r[1];
    c->rflags = (r[2] & USER_RFLAGS_MASK) | RFLAGS_IF | RFLAGS_RESERVED1;
    c->rax = r[3]; c->rbx = r[4]; c->rcx = r[5]; c->rdx = r[6]; c->rsi = r[7]; c->rdi = r[8];
    c->rbp = r[9]; c->r8 = r[10]; c->r9 = r[11]; c->r10 = r[12]; c->r11 = r[13]; c->r12 = r[14];
    c->r13 = r[15]; c->r14 = r[16]; c->r15 = r[17];
    c->vector = 0; /* every register as written, RCX and R11 too: the way out is IRETQ */
    t->fs_base = r[18];
    t->gs_base = r[19];
    if (inv_arg(inv, 0))
        tcb_resume(t);
    return 0;
}

static int read_registers(struct invocation *inv, struct tcb *t)
{
    if (t == inv->caller)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0); /* its registers are in flux */
    if (!tcb_ipc_buffer(inv->caller))
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0); /* 20 words need an IPC buffer */
    const struct user_context *c = &t->ctx;
    const uint64_t r[KEEL_USER_REGS_WORDS] = {
        c->rip, c->rsp, c->rflags, c->rax, c->rbx, ctx_rcx(c), c->rdx, c->rsi, c->rdi, c->rbp,
        c->r8, c->r9, c->r10, ctx_r11(c), c->r12, c->r13, c->r14, c->r15, t->fs_base, t->gs_base,
    };
    for (unsigned i = 0; i < KEEL_USER_REGS_WORDS; i++)
        inv_reply(inv, i, r[i]);
    return 0;
}

int tcb_invoke(struct invocation *inv)
{
    struct tcb *t = cap_tcb(&inv->slot->cap);
    int err = 0;
    switch (inv->label) {
    case KEEL_TCB_CONFIGURE:
        return configure(inv, t);
    case KEEL_TCB_SET_PRIORITY:
    case KEEL_TCB_SET_MC_PRIORITY: {
        INV_NEED_ARGS(inv, 1);
        struct cte *auth = extra_of_type(inv, 0, KEEL_OBJ_TCB, &err);
        if (err)
            return err;
        if (!auth)
            return inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 1, 0, 0);
        uint64_t limit = cap_tcb(&auth->cap)->mcp;
        uint64_t prio = inv_arg(inv, 0);
        if (prio > limit)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, limit);
        if (inv->label == KEEL_TCB_SET_PRIORITY)
            set_priority(t, (uint8_t)prio);
        else
            t->mcp = (uint8_t)prio;
        return 0;
    }
    case KEEL_TCB_SET_IPC_BUFFER: {
        INV_NEED_ARGS(inv, 1);
        struct cte *frame = extra_of_type(inv, 0, KEEL_OBJ_FRAME_4K, &err);
        if (err)
            return err;
        uint64_t va = inv_arg(inv, 0);
        if (frame && !IS_ALIGNED(va, 4096))
            return inv_fail(inv, KEEL_E_ALIGNMENT, 2, 0, 4096, 0);
        if (va >= USER_TOP)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, USER_TOP - 4096);
        if (frame)
            set_internal_cap(&t->ipc_buffer_frame, frame);
        else
            cap_delete(&t->ipc_buffer_frame);
        t->ipc_buffer_va = va;
        return 0;
    }
    case KEEL_TCB_READ_REGISTERS:
        return read_registers(inv, t);
    case KEEL_TCB_WRITE_REGISTERS:
        return write_registers(inv, t);
    case KEEL_TCB_RESUME:
        if ((err = resume_check(inv, t)))
            return err;
        tcb_resume(t);
        return 0;
    case KEEL_TCB_SUSPEND:
        tcb_suspend(t);
        return 0;
    case KEEL_TCB_BIND_NOTIFICATION: {
        struct cte *n = extra_of_type(inv, 0, KEEL_OBJ_NOTIFICATION, &err);
        if (err)
            return err;
        if (!n)
            return inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 1, 0, 0);
        if (t->bound_notification || cap_notification(&n->cap)->bound_tcb)
            return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
        notification_bind(cap_notification(&n->cap), t);
        return 0;
    }
    case KEEL_TCB_UNBIND_NOTIFICATION:
        if (!t->bound_notification)
            return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
        notification_unbind(t);
        return 0;
    case KEEL_TCB_SET_AFFINITY:
        INV_NEED_ARGS(inv, 1);
        if (inv_arg(inv, 0) >= cpus_online)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, cpus_online - 1);
        set_affinity(t, (uint8_t)inv_arg(inv, 0));
        return 0;
    case KEEL_TCB_SET_PKRU:
        INV_NEED_ARGS(inv, 1);
        if (!cpu_enabled.pku)
            return inv_fail(inv, KEEL_E_NOT_SUPPORTED, 0, 0, 0, 0);
        if (inv_arg(inv, 0) > 0xffffffffu)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, 0xffffffffu);
        t->pkru = (uint32_t)inv_arg(inv, 0);
        if (t == this_cpu()->current)
            wrpkru(t->pkru);
        return 0;
    case KEEL_TCB_GET_INFO:
        inv_reply(inv, 0, t->state);
        inv_reply(inv, 1, t->priority);
        inv_reply(inv, 2, t->mcp);
        inv_reply(inv, 3, t->cpu);
        return 0;
    default:
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    }
}
