/* Threads and the scheduler: 256 priorities, round-robin within one, O(1) pick from a bitmap.
 * The running thread is not in the ready queue; it goes back in when something else is chosen. */
#ifndef KEEL_SCHED_H
#define KEEL_SCHED_H

#include "arch/cpu.h"
#include "object/structures.h"

#define TIME_SLICE_TICKS 5

static inline struct tcb *current_thread(void) { return this_cpu()->current; }

void runq_push(struct run_queue *q, struct tcb *t, bool at_head);
void runq_remove(struct run_queue *q, struct tcb *t);
/* The first thread of the highest non-empty queue, or NULL. */
static inline struct tcb *runq_highest(const struct run_queue *q)
{
    if (!q->words)
        return 0;
    unsigned w = 63 - (unsigned)__builtin_clzll(q->words);
    return q->head[w * 64 + 63 - (unsigned)__builtin_clzll(q->bitmap[w])];
}

/* Make `t` runnable; asks for a reschedule when it should preempt what runs now. */
void sched_wake(struct tcb *t);
/* Take `t` out of the ready queue (it blocked or stopped). */
void sched_unready(struct tcb *t);
void sched_yield(void);
/* Is another thread runnable on `c` at `t`'s priority or above? Inline: every Yield asks. */
static inline bool sched_has_peer(const struct percpu *c, const struct tcb *t)
{
    return c->rq.words && runq_highest(&c->rq)->priority >= t->priority;
}
void sched_tick(void);
/* Would sched_tick only count down the running thread's slice (no slice end, no reschedule
 * pending)? Such a tick needs nothing the big lock guards: the entry finishes it without the lock
 * (trap_quick_tick). Reads only this CPU's state and its running thread's slice. */
static inline bool sched_tick_only_counts(const struct percpu *c)
{
    return c->current && !c->need_resched && c->current->time_slice > 1;
}
/* Picks the thread to run next and switches to it; idles (interrupts on) when there is none.
 * Called before every return to user mode when a reschedule is pending. */
void schedule(void);
/* The current thread died or stopped running for good: forget it without saving its state. */
void sched_forget_current(struct tcb *t);

/* arch: load `t`'s address space, FPU state, kernel entry stack and TLS bases. */
bool arch_switch_to(struct tcb *prev, struct tcb *next);
void arch_fpu_init(struct tcb *t);
/* `t` stops running on this CPU for good or for now: keep its FPU and PKRU state in its TCB. */
void arch_save_and_forget(struct tcb *t);
_Noreturn void arch_return_to_user(void);

#endif
