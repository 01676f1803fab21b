/* The debug capability: kernel introspection for tests, benchmarks and the shell. */
#include "object/debug.h"
#include "object/tcb.h"
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/x86.h"
#include "boot.h"
#include "log.h"
#include "smp.h"
#include "object/cspace.h"
#include "object/vspace.h"
#include "platform.h"
#include "sched.h"

/* Spins `ms` milliseconds with the big lock held and interrupts off, as a kernel bug that forgets
 * to release the lock would: every other CPU entering the kernel waits, and the lock watchdog
 * (smp.c) must end the wait with a panic that shows this function in the holder's backtrace. */
__attribute__((noinline)) static void debug_hold_lock(uint64_t ms)
{
    uint64_t start = rdtsc(), span = tsc_khz() * ms;
    /* Only the lock holder posts mailbox requests, so none can be waiting for this CPU here; and
     * staying in this frame is what lets the watchdog's backtrace of it name this function (an
     * NMI that lands on the first instruction of a callee would skip it in the frame walk). */
    while (rdtsc() - start < span)
        cpu_relax();
}

int debug_invoke(struct invocation *inv)
{
    switch (inv->label) {
    case KEEL_DEBUG_CHECK_INVARIANTS:
        inv_reply(inv, 0, invariants_check());
        return 0;
    case KEEL_DEBUG_CAP_IDENTIFY: {
        INV_NEED_ARGS(inv, 1);
        /* An empty slot is a fine answer here (type 0); only an unresolvable cptr is an error. */
        struct lookup_fault f;
        struct cte *s = cspace_resolve(&inv->caller->cspace_root.cap, inv_arg(inv, 0), 64, false, &f);
        if (!s)
            return inv_fail(inv, KEEL_E_FAILED_LOOKUP, 3, f.failure, f.bits_left, 1);
        inv_reply(inv, 0, s->cap.type);
        inv_reply(inv, 1, s->cap.rights);
        inv_reply(inv, 2, s->cap.word1);
        inv_reply(inv, 3, s->cap.obj);
        return 0;
    }
    case KEEL_DEBUG_TLB_COUNTERS: {
        INV_NEED_ARGS(inv, 1);
        struct percpu *c = inv_arg(inv, 0) < MAX_CPUS ? cpu_get((uint32_t)inv_arg(inv, 0)) : 0;
        if (!c || !c->self)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, cpus_online - 1);
        if (!tcb_ipc_buffer(inv->caller))
            return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
        const struct tlb_counters *t = &c->tlb;
        const uint64_t v[KEEL_TLB_COUNTER_WORDS] = {
            t->cr3_flush, t->cr3_noflush, t->invlpg, t->invpcid[0], t->invpcid[1], t->invpcid[2],
            t->invpcid[3], t->full_flush, t->shootdown_sent, t->shootdown_received, c->lazy_flushes,
            c->lock_acquired, c->lock_contended, t->shootdown_pages, t->shootdown_whole,
        };
        for (unsigned i = 0; i < KEEL_TLB_COUNTER_WORDS; i++)
            inv_reply(inv, i, v[i]);
        return 0;
    }
    case KEEL_DEBUG_EXIT:
        INV_NEED_ARGS(inv, 1);
        platform_exit(inv_arg(inv, 0) == 0 ? EXIT_PASS : EXIT_FAIL);
    case KEEL_DEBUG_KERNEL_INFO:
        inv_reply(inv, 0, this_cpu()->ticks);
        inv_reply(inv, 1, tsc_khz());
        inv_reply(inv, 2, boot.options.timer_hz);
        inv_reply(inv, 3, (KEEL_DEBUG ? 1u : 0u) | (fastpath_enabled ? 2u : 0u));
        return 0;
    case KEEL_DEBUG_READ_PTE:
    case KEEL_DEBUG_VSPACE_INFO:
        return debug_vspace_invoke(inv);
    case KEEL_DEBUG_HOLD_LOCK:
        if (!KEEL_DEBUG)
            return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
        INV_NEED_ARGS(inv, 1);
        if (inv_arg(inv, 0) < 1 || inv_arg(inv, 0) > 10000)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 1, 10000);
        debug_hold_lock(inv_arg(inv, 0));
        return 0;
    case KEEL_DEBUG_CPU_STATE: {
        INV_NEED_ARGS(inv, 1);
        struct percpu *c = inv_arg(inv, 0) < MAX_CPUS ? cpu_get((uint32_t)inv_arg(inv, 0)) : 0;
        if (!c || !c->self)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, cpus_online - 1);
        const uint64_t *bits = c->rq.bitmap;
        bool queued = bits[0] | bits[1] | bits[2] | bits[3];
        inv_reply(inv, 0, c->ticks);
        inv_reply(inv, 1, c->current != 0);
        inv_reply(inv, 2, queued ? runq_highest(&c->rq)->priority + 1u : 0);
        inv_reply(inv, 3, c->need_resched);
        inv_reply(inv, 4, c->mbox.request - c->mbox.answered);
        return 0;
    }
    case KEEL_DEBUG_SET_FAULT_LOGGING:
        INV_NEED_ARGS(inv, 1);
        fault_logging = inv_arg(inv, 0) != 0;
        return 0;
    default:
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    }
}
