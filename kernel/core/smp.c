/* The big kernel lock and cross-CPU requests (see smp.h). */
#include "smp.h"
#include "arch/apic.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "boot.h"
#include "log.h"
#include "panic.h"
#include "platform.h"
#include "object/irq.h"
#include "object/vspace.h"
#include "sched.h"

uint32_t cpus_online = 1;

/* A ticket lock: FIFO fair, so no CPU starves on a busy kernel. */
struct big_lock bkl = { 0, 0, -1 };

/* The watchdog: a CPU that waits longer than lockwatch=MS (default 1 s) for the lock, or for
 * another CPU to answer a request, panics naming the CPU it waited for. Either wait that long is a
 * kernel bug: the lock is held for microseconds, and a request is answered from an IPI handler or
 * a lock spin. Returns the TSC limit of a wait (0: no watchdog). */
static uint64_t watchdog_limit(void)
{
    return tsc_khz() * boot.options.lockwatch_ms;
}

/* ---- NMI requests: the only way to reach a CPU with interrupts off ---- */

enum { NMI_NONE, NMI_BACKTRACE, NMI_STOP };

/* Sends `c` an NMI request and waits up to `ms` for its answer; false if none came. */
static bool nmi_request(struct percpu *c, uint8_t what, uint32_t ms)
{
    c->nmi_answered = false;
    __atomic_store_n(&c->nmi_request, what, __ATOMIC_RELEASE);
    lapic_send_nmi(c->apic_id);
    uint64_t start = rdtsc(), limit = tsc_khz() * ms;
    while (!__atomic_load_n(&c->nmi_answered, __ATOMIC_ACQUIRE))
        if (rdtsc() - start > limit)
            return false;
    return true;
}

bool smp_nmi(const struct trap_frame *f)
{
    struct percpu *c = this_cpu();
    uint8_t what = __atomic_exchange_n(&c->nmi_request, NMI_NONE, __ATOMIC_ACQ_REL);
    if (what == NMI_BACKTRACE) {
        if (f->cs & 3)
            kprintf("CPU %u was in user mode at %016lx\n", c->index, f->rip);
        else
            panic_backtrace(f->rip, f->rbp);
    }
    if (what == NMI_NONE)
        return false;
    c->progress++;
    __atomic_store_n(&c->nmi_answered, true, __ATOMIC_RELEASE);
    if (what == NMI_STOP)
        platform_halt(); /* NMIs stay blocked: this handler never returns */
    return true;
}

void smp_stop_others(void)
{
    struct percpu *me = this_cpu();
    if (!me || cpus_online < 2)
        return;
    for (uint32_t i = 0; i < cpus_online; i++) {
        struct percpu *c = cpu_get(i);
        if (c && c != me && c->self)
            nmi_request(c, NMI_STOP, 10);
    }
}

/* How far `c` gets in 50 ms: its progress counter (wait-loop iterations and answered NMIs) and
 * its timer ticks. */
struct advance {
    uint64_t progress, ticks;
};
static struct advance advance_over_50ms(const struct percpu *c)
{
    uint64_t p0 = c->progress, t0 = c->ticks, start = rdtsc();
    while (rdtsc() - start < tsc_khz() * 50)
        cpu_relax();
    return (struct advance){ c->progress - p0, c->ticks - t0 };
}

static const char *const mbox_names[] = { "?", "flush", "evict", "forget", "I/O port" };

static const char *mbox_name(const struct percpu *c)
{
    return mbox_names[c->mbox.kind < ARRAY_SIZE(mbox_names) ? c->mbox.kind : 0];
}

/* What CPU `h` (the holder, or the CPU whose ticket is being served) is doing, in words. */
static void describe_cpu(const struct percpu *h)
{
    struct advance a = advance_over_50ms(h);
    uint32_t awaited = h->answer_awaited;
    kprintf("lock watchdog: CPU %u: progress +%lu and timer ticks +%lu in 50 ms, lock acquisitions %lu", h->index,
            a.progress, a.ticks, h->lock_acquired);
    if (awaited && awaited <= cpus_online)
        kprintf("; it waits for CPU %u to answer a %s request", awaited - 1, mbox_name(cpu_get(awaited - 1)));
    else if (h->lock_waiting)
        kprintf("; it waits for ticket %u", h->lock_ticket);
    /* Called once it has answered an NMI, so it runs: a wait loop that advances is a deadlock on
     * the CPU named; none is a hang in the code its backtrace shows. (A CPU the host does not run
     * answers no NMI.) */
    kprintf(a.progress ? " (it spins in a wait)\n" : " (it runs, but in none of the wait loops)\n");
}

static _Noreturn void lock_watchdog_fire(uint32_t ticket)
{
    if (!panic_claim())
        platform_halt(); /* another CPU's watchdog (or panic) reports */
    int32_t holder = bkl.holder;
    uint32_t serving = bkl.serving;
    struct percpu *h = holder >= 0 ? cpu_get((uint32_t)holder) : 0;
    if (!h) {
        /* No holder recorded: the lock has been handed to ticket `serving`, whose CPU has not
         * written itself in yet (it does so right after seeing its turn). Find that CPU. */
        for (uint32_t i = 0; i < cpus_online && !h; i++) {
            struct percpu *c = cpu_get(i);
            if (c && c != this_cpu() && c->lock_waiting && c->lock_ticket == serving)
                h = c;
        }
        if ((int32_t)(serving - ticket) > 0)
            kprintf("\nlock watchdog: ticket %u (CPU %u's) was skipped: the lock serves ticket %u (a release "
                    "without an acquire)\n", ticket, this_cpu()->index, serving);
        else if (h)
            kprintf("\nlock watchdog: no CPU holds the big kernel lock: ticket %u is served, CPU %u's, which "
                    "has not taken it yet\n", serving, h->index);
        else
            kprintf("\nlock watchdog: no CPU holds the big kernel lock: ticket %u is served, and its CPU is "
                    "between taking the ticket and recording itself (its emulated CPU is not being run)\n", serving);
    }
    if (h && h != this_cpu()) {
        if (holder >= 0)
            kprintf("\nlock watchdog: CPU %u has held the big kernel lock too long; where it is:\n", h->index);
        else
            kprintf("lock watchdog: where CPU %u is:\n", h->index);
        if (nmi_request(h, NMI_BACKTRACE, 200))
            describe_cpu(h);
        else
            kprintf("  (CPU %u did not answer an NMI within 200 ms: its emulated CPU is not being run, or it is "
                    "in an NMI handler)\n", h->index);
    }
    panic("lock watchdog: CPU %u waited over %u ms for the big kernel lock, held by CPU %d (running thread %p; "
          "ticket %u, serving %u)",
          this_cpu()->index, boot.options.lockwatch_ms, holder, h ? (void *)h->current : 0, ticket, serving);
}

void bkl_wait(uint32_t ticket, bool in_syscall)
{
    struct percpu *c = this_cpu();
    c->lock_contended++;
    c->in_syscall_entry = in_syscall;
    c->lock_ticket = ticket;
    c->lock_waiting = true;
    /* Spinning with interrupts off: answer requests here, since their sender holds the lock. */
    uint64_t start = rdtsc(), limit = watchdog_limit();
    while (__atomic_load_n(&bkl.serving, __ATOMIC_ACQUIRE) != ticket) {
        smp_mailbox();
        cpu_relax();
        c->progress++;
        if (limit && rdtsc() - start > limit)
            lock_watchdog_fire(ticket);
    }
    c->lock_waiting = false;
    c->in_syscall_entry = false;
}

enum { MBOX_FLUSH = 1, MBOX_EVICT = 2, MBOX_FORGET = 3, MBOX_IOPORT = 4 };

void smp_mailbox(void)
{
    struct percpu *c = this_cpu();
    uint64_t req = __atomic_load_n(&c->mbox.request, __ATOMIC_ACQUIRE);
    if (req == c->mbox.answered)
        return;
    if (c->mbox.kind == MBOX_FLUSH) {
        c->tlb.shootdown_received++;
        vspace_flush_local(c->mbox.vs, c->mbox.n <= MBOX_MAX_PAGES ? c->mbox.vas : 0, c->mbox.n);
    } else if (c->mbox.kind == MBOX_FORGET) {
        vspace_forget_local(c->mbox.vs);
    } else if (c->mbox.kind == MBOX_IOPORT) {
        ioport_update_local(c->mbox.vs, (uint16_t)c->mbox.vas[0], (uint16_t)c->mbox.vas[1], c->mbox.n != 0);
    } else if (c->mbox.kind == MBOX_EVICT && c->current == c->mbox.evict) {
        struct tcb *t = c->current;
        /* Caught between its syscall and the lock: it will issue the syscall again. */
        if (c->in_syscall_entry)
            t->ctx.rip -= 2;
        arch_save_and_forget(t);
        c->current = 0;
        c->ctx_top = 0;
        c->need_resched = true;
    }
    __atomic_store_n(&c->mbox.answered, req, __ATOMIC_RELEASE);
}

static void post(struct percpu *target, uint8_t kind)
{
    target->mbox.kind = kind;
    __atomic_store_n(&target->mbox.request, target->mbox.request + 1, __ATOMIC_RELEASE);
    lapic_send_ipi(target->apic_id, VEC_IPI_SHOOTDOWN);
}

static _Noreturn void answer_watchdog_fire(struct percpu *target)
{
    if (!panic_claim())
        platform_halt();
    kprintf("\nlock watchdog: CPU %u does not answer a %s request; where it is:\n", target->index,
            mbox_name(target));
    if (nmi_request(target, NMI_BACKTRACE, 200))
        describe_cpu(target);
    else
        kprintf("  (CPU %u did not answer an NMI within 200 ms either)\n", target->index);
    panic("lock watchdog: CPU %u waited over %u ms for CPU %u to answer a %s request (it runs thread %p)",
          this_cpu()->index, boot.options.lockwatch_ms, target->index, mbox_name(target), (void *)target->current);
}

static void wait_answered(struct percpu *target)
{
    struct percpu *me = this_cpu();
    me->answer_awaited = target->index + 1;
    uint64_t start = rdtsc(), limit = watchdog_limit();
    while (__atomic_load_n(&target->mbox.answered, __ATOMIC_ACQUIRE) !=
           __atomic_load_n(&target->mbox.request, __ATOMIC_RELAXED)) {
        cpu_relax();
        me->progress++;
        if (limit && rdtsc() - start > limit)
            answer_watchdog_fire(target);
    }
    me->answer_awaited = 0;
}

unsigned smp_shootdown(struct vspace *vs, const uint64_t *vas, unsigned n, bool all)
{
    struct percpu *me = this_cpu();
    unsigned sent = 0;
    struct percpu *targets[MAX_CPUS];
    /* Only the CPUs in the VSpace's set: an unmap in a VSpace used on one CPU costs no loop. */
    for (uint64_t mask = vs->cpu_mask & ~(1ull << me->index); mask; mask &= mask - 1) {
        uint32_t i = (uint32_t)__builtin_ctzll(mask);
        struct percpu *c = cpu_get(i);
        if (!c || i >= cpus_online)
            continue;
        /* Not running it now: its TLB is stale by generation and flushes at its next load. */
        bool running = c->current && vspace_of_cap(&c->current->vspace_root.cap) == vs;
        if (!running && !all)
            continue;
        c->mbox.vs = vs;
        c->mbox.n = vas && n <= MBOX_MAX_PAGES ? n : MBOX_MAX_PAGES + 1;
        if (c->mbox.n <= MBOX_MAX_PAGES)
            me->tlb.shootdown_pages += n;
        else
            me->tlb.shootdown_whole++;
        for (unsigned k = 0; vas && k < n && k < MBOX_MAX_PAGES; k++)
            c->mbox.vas[k] = vas[k];
        post(c, MBOX_FLUSH);
        targets[sent++] = c;
    }
    for (unsigned k = 0; k < sent; k++)
        wait_answered(targets[k]);
    me->tlb.shootdown_sent += sent;
    return sent;
}

void smp_forget_vspace(struct vspace *vs)
{
    struct percpu *me = this_cpu();
    for (uint32_t i = 0; i < cpus_online; i++) {
        struct percpu *c = cpu_get(i);
        if (c == me || (c->active_vspace != vs && !vs->pcid[i] && c->io_vspace != vs))
            continue;
        c->mbox.vs = vs;
        post(c, MBOX_FORGET);
        wait_answered(c);
    }
}

void smp_ioport_update(struct vspace *vs, uint16_t first, uint16_t last, bool open)
{
    struct percpu *me = this_cpu();
    for (uint32_t i = 0; i < cpus_online; i++) {
        struct percpu *c = cpu_get(i);
        if (c == me || c->io_vspace != vs)
            continue;
        c->mbox.vs = vs;
        c->mbox.vas[0] = first;
        c->mbox.vas[1] = last;
        c->mbox.n = open;
        post(c, MBOX_IOPORT);
        wait_answered(c);
    }
}

void smp_evict(struct tcb *t)
{
    struct percpu *c = cpu_get(t->cpu);
    if (!c || c == this_cpu() || c->current != t)
        return;
    c->mbox.evict = t;
    post(c, MBOX_EVICT);
    wait_answered(c);
}

void smp_reschedule(uint32_t index)
{
    struct percpu *c = cpu_get(index);
    if (c && c != this_cpu() && c->self)
        lapic_send_ipi(c->apic_id, VEC_IPI_RESCHEDULE);
}

void smp_take_thread(struct tcb *t)
{
    struct percpu *c = cpu_get(t->cpu);
    if (!c || c == this_cpu() || c->current != t)
        return;
    smp_evict(t);
    sched_wake(t); /* still runnable: queued on its CPU again */
}
