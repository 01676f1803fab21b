/* Switching the CPU from one thread to another: address space, I/O bitmap, kernel entry stack,
 * FPU state, TLS bases and PKRU. Always inline because the IPC fastpath does it on every call
 * (a call and its frame would cost more than most of the steps); each step is skipped when the
 * value is already right. */
#ifndef KEEL_ARCH_SWITCH_H
#define KEEL_ARCH_SWITCH_H

#include "arch/cpu.h"
#include "arch/features.h"
#include "arch/x86.h"
#include "object/irq.h"
#include "object/vspace.h"

#define SWITCH_INLINE static inline __attribute__((always_inline))

/* The address space and the TSS I/O bitmap, when the cheap cases apply (vspace_switch_fast, and
 * neither VSpace has I/O ports); false when vspace_load or ioport_switch is needed, which
 * arch_switch_space then does. Split so the IPC fastpath can leave the uncommon work to a tail
 * call and keep its own frame free of callee-saved registers. */
SWITCH_INLINE bool arch_switch_space_fast(struct percpu *c, struct vspace *vs)
{
    if (!vspace_switch_fast(c, vs))
        return false;
    struct vspace *io = c->io_vspace;
    if (io != vs) {
        /* The TSS bitmap changes only if either VSpace has ports; usually neither does. */
        if (vs->io_count || (io && io->io_count))
            return false;
        c->io_vspace = vs;
    }
    return true;
}

SWITCH_INLINE void arch_switch_space(struct percpu *c, struct vspace *vs)
{
    if (!arch_switch_space_fast(c, vs)) {
        vspace_switch(c, vs);
        if (c->io_vspace != vs)
            ioport_switch(vs);
    }
}

/* Kernel entry stack and FPU state of `next`. */
SWITCH_INLINE void arch_switch_stack_fpu(struct percpu *c, struct tcb *next)
{
    uint64_t top = (uint64_t)(&next->ctx + 1);
    c->tss.rsp[0] = top;
    c->ctx_top = top;
    /* Eager FPU switch: see docs/abi.md §12 and docs/performance.md for why not lazy. */
    struct tcb *owner = c->fpu_owner;
    if (owner != next) {
        if (owner)
            __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])owner->fpu));
        __asm__ volatile("fxrstor64 %0" ::"m"(*(const uint8_t(*)[512])next->fpu));
        c->fpu_owner = next;
    }
}

/* TLS bases and PKRU, from `prev` (NULL after idling) to another thread `next`. */
SWITCH_INLINE void arch_switch_tls_pkru(struct tcb *prev, struct tcb *next)
{
    if (!prev || prev->fs_base != next->fs_base)
        wrmsr(MSR_FS_BASE, next->fs_base);
    if (!prev || prev->gs_base != next->gs_base)
        wrmsr(MSR_KERNEL_GS_BASE, next->gs_base); /* becomes GS base at swapgs on the way out */
    if (cpu_enabled.pku) {
        uint32_t pkru = rdpkru(); /* the thread may have changed it with WRPKRU */
        if (prev)
            prev->pkru = pkru;
        if (pkru != next->pkru)
            wrpkru(next->pkru);
    }
}

/* Everything of a switch but the address space. */
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
