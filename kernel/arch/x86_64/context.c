/* Thread context on x86-64: SYSCALL set-up, FPU state (saved eagerly on a thread switch: the
 * kernel itself never touches SSE/x87, so only switches between user threads pay), TLS bases,
 * protection keys and the address space. */
#include "arch/cpu.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "arch/x86.h"
#include "arch/switch.h"
#include "object/irq.h"
#include "object/vspace.h"
#include "sched.h"

extern char syscall_entry[];

void cpu_init_syscall(void)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    /* SYSRET: CS = base + 16, SS = base + 8 (user code 0x20, user data 0x18); SYSCALL: CS 0x08, SS 0x10. */
    wrmsr(MSR_STAR, ((uint64_t)(GDT_USER_DATA - 8) << 48) | ((uint64_t)GDT_KERNEL_CODE << 32));
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
    /* Enter with interrupts off, direction clear, no single-step, and AC clear so SMAP holds. */
    wrmsr(MSR_FMASK, RFLAGS_IF | RFLAGS_AC | (1u << 8) /* TF */ | (1u << 10) /* DF */ | (1u << 14) /* NT */);
    write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
}

void arch_fpu_init(struct tcb *t)
{
    for (unsigned i = 0; i < sizeof t->fpu; i++)
        t->fpu[i] = 0;
    t->fpu[0] = 0x7f; /* FCW 0x037f: all x87 exceptions masked, extended precision */
    t->fpu[1] = 0x03;
    uint32_t mxcsr = 0x1f80; /* all SSE exceptions masked, round to nearest */
    __builtin_memcpy(&t->fpu[24], &mxcsr, 4);
}

void arch_save_and_forget(struct tcb *t)
{
    struct percpu *c = this_cpu();
    if (c->fpu_owner == t) {
        __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])t->fpu));
        c->fpu_owner = 0;
    }
    if (cpu_enabled.pku)
        t->pkru = rdpkru();
}

bool arch_switch_to(struct tcb *prev, struct tcb *next)
{
    const struct cap *root = &next->vspace_root.cap;
    if (root->type != KEEL_OBJ_PML4 || !vspace_of_cap(root)->asid)
        return false;
    arch_switch_thread(this_cpu(), prev, next, vspace_of_cap(root));
    return true;
}
