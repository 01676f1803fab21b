/* The scheduler. Priorities 0..255, higher runs first; round-robin inside a priority with a time
 * slice of TIME_SLICE_TICKS timer ticks. Per-CPU queues (DESIGN.md §7); one CPU for now. */
#include "sched.h"
#include "arch/x86.h"
#include "log.h"
#include "object/tcb.h"
#include "panic.h"
#include "smp.h"

void runq_push(struct run_queue *q, struct tcb *t, bool at_head)
{
    uint8_t p = t->priority;
    t->sched_prev = t->sched_next = 0;
    if (!q->head[p]) {
        q->head[p] = q->tail[p] = t;
    } else if (at_head) {
        t->sched_next = q->head[p];
        q->head[p]->sched_prev = t;
        q->head[p] = t;
    } else {
        t->sched_prev = q->tail[p];
        q->tail[p]->sched_next = t;
        q->tail[p] = t;
    }
    q->bitmap[p >> 6] |= 1ull << (p & 63);
    q->words |= 1ull << (p >> 6);
    t->in_run_queue = 1;
}

void runq_remove(struct run_queue *q, struct tcb *t)
{
    uint8_t p = t->priority;
    if (t->sched_prev)
        t->sched_prev->sched_next = t->sched_next;
    else
        q->head[p] = t->sched_next;
    if (t->sched_next)
        t->sched_next->sched_prev = t->sched_prev;
    else
        q->tail[p] = t->sched_prev;
    if (!q->head[p] && !(q->bitmap[p >> 6] &= ~(1ull << (p & 63))))
        q->words &= ~(1ull << (p >> 6));
    t->sched_prev = t->sched_next = 0;
    t->in_run_queue = 0;
}


/* The CPU a thread belongs to (its affinity). */
static struct percpu *home(const struct tcb *t)
{
    struct percpu *c = cpu_get(t->cpu);
    return c && c->self ? c : this_cpu();
}

void sched_wake(struct tcb *t)
{
    struct percpu *c = home(t);
    t->state = TS_RUNNING;
    t->blocked_on = 0;
    if (t == c->current || t->in_run_queue)
        return;
    runq_push(&c->rq, t, false);
    if (!c->current || t->priority > c->current->priority) {
        c->need_resched = true;
        if (c != this_cpu())
            smp_reschedule(c->index); /* it may be idle or running something less urgent */
    }
}

void sched_unready(struct tcb *t)
{
    struct percpu *c = home(t);
    if (t->in_run_queue)
        runq_remove(&c->rq, t);
    if (t == c->current) {
        if (c == this_cpu())
            c->need_resched = true;
        else
            smp_evict(t); /* running elsewhere: that CPU lets go of it before we go on */
    }
}

void sched_yield(void)
{
    struct percpu *c = this_cpu();
    if (c->current)
        c->current->time_slice = TIME_SLICE_TICKS;
    c->slice_expired = true;
    c->need_resched = true;
}

void sched_tick(void)
{
    struct percpu *c = this_cpu();
    struct tcb *t = c->current;
    if (!t)
        return;
    if (t->time_slice > 1) {
        t->time_slice--;
        return;
    }
    t->time_slice = TIME_SLICE_TICKS;
    c->slice_expired = true;
    c->need_resched = true;
}

void sched_forget_current(struct tcb *t)
{
    for (uint32_t i = 0; i < cpus_online; i++)
        if (cpu_get(i)->fpu_owner == t)
            cpu_get(i)->fpu_owner = 0; /* its FPU state must not be saved into a dead TCB */
    struct percpu *c = this_cpu();
    if (c->current == t) {
        c->current = 0;
        c->ctx_top = 0;
        c->need_resched = true;
    }
}

/* The current thread, if still runnable and not queued (preempted, yielded, its slice over, moved
 * to another CPU, or woken while schedule() was choosing), goes back in a run queue. Preempted:
 * first among equals; otherwise the back of the line; another CPU's: queued there. */
static inline __attribute__((always_inline)) void requeue_current(struct percpu *c)
{
    struct tcb *t = c->current;
    if (!t || t->state != TS_RUNNING || t->in_run_queue)
        return;
    struct percpu *h = home(t);
    runq_push(&h->rq, t, h == c && !c->slice_expired);
    if (h != c)
        smp_reschedule(h->index);
}

void schedule(void)
{
    struct percpu *c = this_cpu();
    c->need_resched = false;
    requeue_current(c);
    c->slice_expired = false;
    for (;;) {
        struct tcb *next = runq_highest(&c->rq);
        if (next) {
            runq_remove(&c->rq, next);
            if (!arch_switch_to(c->current, next)) {
                /* No usable address space: the thread cannot run (it gets a NO_VSPACE fault).
                 * That fault may wake the thread still current here, which blocked just now:
                 * sched_wake leaves the current thread to us, so look at it again. */
                tcb_stop_unrunnable(next);
                requeue_current(c);
                continue;
            }
            c->current = next;
            return;
        }
        /* Nothing to run: idle with interrupts on until an interrupt makes something runnable. */
        if (c->current)
            arch_save_and_forget(c->current); /* its PKRU and FPU state outlive this CPU's registers */
        c->current = 0;
        c->ctx_top = 0;
        bkl_release();
        irq_enable();
        halt();
        irq_disable();
        bkl_acquire();
    }
}
