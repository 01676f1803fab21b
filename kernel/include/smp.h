/* Multiprocessor support: the big kernel lock, cross-CPU requests (TLB shootdowns, evicting a
 * thread from a CPU) and AP bring-up. One initiator at a time holds the big lock, so each CPU
 * has a single request mailbox; a target answers from its IPI handler or while it spins on the
 * lock, never needing the lock itself, so waiting for it under the lock cannot deadlock. */
#ifndef KEEL_SMP_H
#define KEEL_SMP_H

#include "arch/cpu.h"
#include "object/structures.h"
#include "panic.h"

extern uint32_t cpus_online;

/* The big lock: a ticket lock. Taking it uncontended is one atomic add and one load. */
struct big_lock {
    volatile uint32_t next, serving;
    volatile int32_t holder;
};
extern struct big_lock bkl;
/* Waits for `ticket` (answering cross-CPU requests meanwhile); `in_syscall`: this CPU is between
 * a syscall and the lock, so an evicted thread must reissue it. */
void bkl_wait(uint32_t ticket, bool in_syscall);

/* Returns this CPU. */
static inline struct percpu *bkl_acquire_from(bool in_syscall)
{
    uint32_t ticket = __atomic_fetch_add(&bkl.next, 1, __ATOMIC_RELAXED);
    if (__builtin_expect(__atomic_load_n(&bkl.serving, __ATOMIC_ACQUIRE) != ticket, 0))
        bkl_wait(ticket, in_syscall);
    /* this_cpu() only now: nothing is kept across the (rare) call, so callers on hot paths need
     * no callee-saved register for it. */
    struct percpu *c = this_cpu();
    bkl.holder = (int32_t)c->index;
    c->lock_acquired++;
    return c;
}
static inline void bkl_acquire(void) { bkl_acquire_from(false); }
static inline void bkl_release(void)
{
#if defined(KEEL_DEBUG) && KEEL_DEBUG
    /* Every path to user mode or to idle releases the lock: none may owe an EOI (trap.c). */
    if (__builtin_expect(this_cpu()->eoi_owed != 0, 0))
        panic("EOI check: CPU %u releases the big lock (for user mode or idle) with interrupt vector %u "
              "unacknowledged", this_cpu()->index, this_cpu()->eoi_owed);
#endif
    bkl.holder = -1;
    /* Only the holder writes `serving`: a plain increment in place (one instruction) is the
     * release; x86 stores are not reordered with earlier loads and stores, and the asm is a
     * compiler barrier. */
    __asm__ volatile("addl $1, %0" : "+m"(bkl.serving)::"memory");
}
static inline bool bkl_held(void) { return bkl.holder == (int32_t)this_cpu()->index; }

#define MBOX_MAX_PAGES 16 /* == KEEL_UNMAP_FLUSH_THRESHOLD: more means "the whole PCID" */

struct vspace;
/* Flush `vs`'s translations on every other CPU that runs it now, waiting until they have;
 * vas == NULL (or n > MBOX_MAX_PAGES) means everything of vs. `all` interrupts every CPU in its
 * set, running it or not (a freed page-table page: speculative walks). Returns IPIs sent. */
unsigned smp_shootdown(struct vspace *vs, const uint64_t *vas, unsigned n, bool all);
/* Every other CPU that has `vs` loaded or holds a PCID for it lets go of it (before it dies). */
void smp_forget_vspace(struct vspace *vs);
/* Every other CPU whose I/O bitmap holds vs's ranges opens or closes [first, last] (then reopens
 * what vs still grants), waiting until they have. */
void smp_ioport_update(struct vspace *vs, uint16_t first, uint16_t last, bool open);
/* `t` runs on another CPU: make that CPU drop it (saving its state) before returning. */
void smp_evict(struct tcb *t);
/* This CPU is about to write `t`'s register file (TCB WriteRegisters): if another CPU runs `t`,
 * that CPU lets go of it first and `t` is queued to run again. A running thread's register file
 * belongs to its CPU: that CPU's next interrupt entry saves its frame there and decides from it
 * (issue 11: a timer tick rewritten into "vector 0" was never acknowledged, and the CPU took no
 * interrupt again). */
void smp_take_thread(struct tcb *t);
/* Ask CPU `index` to run its scheduler soon. */
void smp_reschedule(uint32_t index);
/* Answer this CPU's pending request, if any (IPI handler, lock spin). */
void smp_mailbox(void);

/* NMI requests (they reach a CPU with interrupts off). From the NMI handler: handles this CPU's
 * pending request, if any (a backtrace of where it was; or stop for good); false if there was
 * none (the NMI came from elsewhere). */
struct trap_frame;
bool smp_nmi(const struct trap_frame *f);
/* A panic: every other CPU halts where it is (each answers within 10 ms or is left alone). */
void smp_stop_others(void);

void smp_start_aps(void);
void smp_prepare(void); /* boot memory for AP stacks and the trampoline page tables */

#endif
