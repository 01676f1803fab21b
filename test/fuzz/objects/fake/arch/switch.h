/* Host stand-in for kernel/include/arch/switch.h, found first on the include path of the object
 * harness (test/fuzz/objects). The real one writes MSRs and CR3 and runs FXSAVE/FXRSTOR; here a
 * switch only records what the CPU would have loaded, which is all the object layer reads back
 * (the fastpath's vspace_switch_fast bookkeeping is the VSpace code's and is not built here). */
#ifndef KEEL_ARCH_SWITCH_H
#define KEEL_ARCH_SWITCH_H

#include "arch/cpu.h"
#include "object/structures.h"

#define SWITCH_INLINE static inline __attribute__((always_inline))

/* The harness flips this to send the fastpath down its out-of-line switch_space_and_release. */
extern bool sim_switch_space_slow;

SWITCH_INLINE bool arch_switch_space_fast(struct percpu *c, struct vspace *vs)
{
    if (sim_switch_space_slow)
        return false;
    c->active_vspace = vs;
    return true;
}

SWITCH_INLINE void arch_switch_space(struct percpu *c, struct vspace *vs)
{
    c->active_vspace = vs;
    c->io_vspace = vs;
}

SWITCH_INLINE void arch_switch_stack_fpu(struct percpu *c, struct tcb *next)
{
    c->ctx_top = (uint64_t)(&next->ctx + 1);
    c->fpu_owner = next;
}

SWITCH_INLINE void arch_switch_tls_pkru(struct tcb *prev, struct tcb *next)
{
    (void)prev;
    (void)next;
}

SWITCH_INLINE void arch_switch_cpu_state(struct percpu *c, struct tcb *prev, struct tcb *next)
{
    arch_switch_stack_fpu(c, next);
    if (prev != next)
        arch_switch_tls_pkru(prev, next);
}

SWITCH_INLINE void arch_switch_thread(struct percpu *c, struct tcb *prev, struct tcb *next, struct vspace *vs)
{
    arch_switch_space(c, vs);
    arch_switch_cpu_state(c, prev, next);
}

#endif
