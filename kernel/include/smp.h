/* Multiprocessor support: the big kernel lock, cross-CPU requests (TLB shootdowns, evicting a
 * thread from a CPU) and AP bring-up. One initiator at a time holds the big lock, so each CPU
 * has a single request mailbox; a target answers from its IPI handler or while it spins on the
 * lock, never needing the lock itself, so waiting for it under the lock cannot deadlock. */
#ifndef KEEL_SMP_H
#define KEEL_SMP_H

#include "arch/cpu.h"
#include "object/structures.h"

extern uint32_t cpus_online;

void bkl_acquire(void);
void bkl_release(void);
bool bkl_held(void);

#define MBOX_MAX_PAGES 16 /* == KEEL_UNMAP_FLUSH_THRESHOLD: more means "the whole PCID" */

struct vspace;
/* Flush `vs`'s translations on every other CPU that runs it now, waiting until they have;
 * vas == NULL (or n > MBOX_MAX_PAGES) means everything of vs. `all` interrupts every CPU in its
 * set, running it or not (a freed page-table page: speculative walks). Returns IPIs sent. */
unsigned smp_shootdown(struct vspace *vs, const uint64_t *vas, unsigned n, bool all);
/* Every other CPU that has `vs` loaded or holds a PCID for it lets go of it (before it dies). */
void smp_forget_vspace(struct vspace *vs);
/* `t` runs on another CPU: make that CPU drop it (saving its state) before returning. */
void smp_evict(struct tcb *t);
/* Ask CPU `index` to run its scheduler soon. */
void smp_reschedule(uint32_t index);
/* Answer this CPU's pending request, if any (IPI handler, lock spin). */
void smp_mailbox(void);

void smp_start_aps(void);
void smp_prepare(void); /* boot memory for AP stacks and the trampoline page tables */

#endif
