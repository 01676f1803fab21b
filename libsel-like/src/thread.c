/* Thread creation in the caller's CSpace and VSpace. */
#include <keel/alloc.h>
#include <keel/bootinfo.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/syscall.h>
#include <keel/thread.h>

extern bool keel__fs_threads;

/* Suspend through the raw stub: nothing here may depend on keel_tls (FS could be wrong). */
static _Noreturn void suspend_forever(uint64_t tcb)
{
    for (;;) {
        struct keel_msg m = keel_msg_make(KEEL_TCB_SUSPEND, 0);
        keel_call(tcb, &m);
    }
}

/* First code of every library thread, entered like a function called with RDI = the thread. */
static _Noreturn void thread_trampoline(struct keel_thread *t)
{
    t->entry(t->arg);
    suspend_forever(t->tcb);
}

int keel_thread_create(struct keel_thread *t, const struct keel_thread_config *cfg)
{
    const struct keel_bootinfo *bi = keel_bootinfo_get();
    const struct keel_startinfo *si = keel_startinfo_get();
    uint64_t guard_bits = bi ? keel_bootinfo_guard_bits(bi) : si ? 64 - si->cnode_radix : 0;
    int err;

    if (!cfg->entry || !cfg->stack_top)
        return KEEL_E_INVALID_ARGUMENT;
    *t = (struct keel_thread){ .entry = cfg->entry, .arg = cfg->arg, .tcb = cfg->tcb };
    t->tls.self = &t->tls;
    t->tls.ipc = (struct keel_ipc_buffer *)cfg->ipc_addr;
    /* 16-byte aligned, minus the return address slot a call would have pushed (SysV entry). */
    uint64_t *top = (uint64_t *)((uint64_t)cfg->stack_top & ~15ull);
    top[-1] = 0;
    t->sp = (uint64_t)&top[-1];
    if (!t->tcb) {
        err = keel_alloc_object(KEEL_OBJ_TCB, 0, &t->tcb);
        if (err)
            return err;
        t->owns_tcb = true;
    }
    /* The thread shares our CSpace, so its own TCB cptr is the same number. */
    t->tls.tcb = t->tcb;
    /* Same root CNode with the same guard (value 0, 64 - radix bits), so the new thread
     * addresses slots exactly as we do. */
    err = keel_tcb_configure(t->tcb, KEEL_SLOT_CNODE, KEEL_SLOT_VSPACE, cfg->ipc_frame, cfg->fault_ep,
                             cfg->ipc_addr, 0, guard_bits);
    if (!err) {
        uint64_t prio = (uint64_t)cfg->priority;
        if (cfg->priority < 0) {
            struct keel_tcb_info self;
            err = keel_tcb_get_info(keel_tls()->tcb, &self);
            prio = self.priority;
        }
        if (!err)
            err = keel_tcb_set_priority(t->tcb, keel_tls()->tcb, prio);
    }
    if (err && t->owns_tcb) {
        /* Keep the failing invocation's details for the caller, not those of the cleanup. */
        struct keel_last_result saved = keel_tls()->last;
        keel_free_object(t->tcb);
        keel_tls()->last = saved;
        t->tcb = 0;
        t->owns_tcb = false;
    }
    return err;
}

int keel_thread_start(struct keel_thread *t)
{
    struct keel_user_regs r = { 0 };
    r.rip = (uint64_t)thread_trampoline;
    r.rsp = t->sp;
    r.rdi = (uint64_t)t;
    r.rflags = 0x202; /* IF and the always-one bit */
    r.fs_base = (uint64_t)&t->tls;
    /* From now on keel_tls() must tell threads apart. */
    keel__fs_threads = true;
    return keel_tcb_write_registers(t->tcb, true, &r);
}

int keel_thread_destroy(struct keel_thread *t)
{
    if (!t->tcb)
        return 0;
    int err = keel_tcb_suspend(t->tcb);
    if (!err && t->owns_tcb) {
        err = keel_free_object(t->tcb);
        if (!err) {
            t->tcb = 0;
            t->owns_tcb = false;
        }
    }
    return err;
}

_Noreturn void keel_thread_exit(void)
{
    suspend_forever(keel_tls()->tcb);
}
