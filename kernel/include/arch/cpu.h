/* Per-CPU state, reached through GS in the kernel (GS base = &percpu). Designed for SMP from
 * the start: nothing CPU-specific lives in plain globals. */
#ifndef KEEL_ARCH_CPU_H
#define KEEL_ARCH_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include "object/pcid.h"

#define MAX_CPUS 16
#define IST_STACK_SIZE 8192
#define IST_PERCPU_RESERVE 16 /* top of each IST stack: the per-CPU pointer for NMI/#DF/#MC entry */
#define KERNEL_STACK_SIZE 16384

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_USER_DATA 0x18 /* sysret: user SS = STAR[63:48] + 8 */
#define GDT_USER_CODE 0x20 /* sysret: user CS = STAR[63:48] + 16 */
#define GDT_TSS 0x28
#define GDT_ENTRIES 7

enum ist_slot { IST_DOUBLE_FAULT = 1, IST_NMI = 2, IST_MACHINE_CHECK = 3 };

struct __attribute__((packed)) tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
    /* I/O permission bitmap: one bit per port, set = denied; one extra 0xff byte ends it. */
    uint8_t iomap[65536 / 8 + 1];
};

/* Counters of TLB work, per CPU (DESIGN.md §6). */
struct tlb_counters {
    uint64_t cr3_flush;    /* CR3 loads that flush non-global entries */
    uint64_t cr3_noflush;  /* CR3 loads with the PCID no-flush bit */
    uint64_t invlpg;
    uint64_t invpcid[4];   /* by INVPCID type */
    uint64_t full_flush;
    uint64_t shootdown_sent, shootdown_received;
    uint64_t shootdown_pages, shootdown_whole; /* what the requests sent carried: pages, or "all" */
};

struct tcb;
struct vspace;

/* Per-CPU scheduler state: one ready queue per priority and a two-level bitmap of non-empty ones:
 * bit p of bitmap[] for queue p, bit w of `words` for a non-zero bitmap[w]. `words` == 0 says "no
 * thread ready" in one load, which the IPC fastpath and Yield ask on every call. */
struct run_queue {
    struct tcb *head[256], *tail[256];
    uint64_t bitmap[4];
    uint64_t words;
};

struct percpu {
    struct percpu *self;   /* gs:0, so C can find its own block */
    uint64_t kernel_rsp;   /* gs:8, the kernel stack, loaded by every entry from user mode */
    uint64_t user_rsp;     /* gs:16, user RSP parked by the syscall entry */
    uint64_t ctx_top;      /* gs:24, end of the current thread's register file (entry saves below it) */
    struct tcb *current;   /* gs:32, NULL while idle */
    uint32_t index;        /* 0 = boot CPU */
    uint32_t apic_id;
    uint64_t ticks;
    bool in_panic;
    bool need_resched;
    bool slice_expired;
    struct tlb_counters tlb;
    struct run_queue rq;
    struct tcb *fpu_owner; /* whose FPU state the registers hold */
    struct vspace *active_vspace; /* whose translations CR3 selects now (NULL: kernel only) */
    struct vspace *io_vspace;     /* whose I/O port ranges are open in this CPU's TSS bitmap */
    struct pcid_table pcids;
    /* Cross-CPU request mailbox (see smp.h): written by the lock holder, answered by this CPU. */
    struct {
        volatile uint64_t request, answered;
        uint8_t kind;
        struct vspace *vs;
        struct tcb *evict;
        uint32_t n;
        uint64_t vas[16];
    } mbox;
    bool in_syscall_entry;  /* between the syscall entry and taking the big lock */
    /* An NMI request (smp.c: a backtrace for the lock watchdog, or stop for a panic) and its answer. */
    volatile uint8_t nmi_request;
    volatile bool nmi_answered;
    uint64_t lock_acquired, lock_contended, lazy_flushes;
    /* Debug kernels (trap.c): the vector of the interrupt taken and not yet acknowledged by an
     * EOI (0: none). One at most: interrupts stay off until the handler has sent its EOI. */
    uint16_t eoi_owed;
    /* For the lock watchdog's report (smp.c): while this CPU waits in bkl_wait, the ticket it
     * waits for (lock_waiting set); while it waits for another CPU's mailbox answer, that CPU's
     * index + 1 (0: none); and `progress`, which every wait loop iteration advances, so a CPU that
     * spins can be told from one whose emulated CPU the host does not run. */
    volatile bool lock_waiting;
    volatile uint32_t lock_ticket;
    volatile uint32_t answer_awaited;
    volatile uint64_t progress;
    uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
    struct tss tss __attribute__((aligned(16)));
    uint8_t ist_stacks[3][IST_STACK_SIZE] __attribute__((aligned(16)));
};

#define PERCPU_KERNEL_RSP 8
#define PERCPU_USER_RSP 16
#define PERCPU_CTX_TOP 24
#define PERCPU_CURRENT 32

static inline struct percpu *this_cpu(void)
{
    struct percpu *p;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(p));
    return p;
}

void cpu_init_boot(void);       /* GDT, TSS, GS for the boot CPU */
void cpu_init_syscall(void);    /* SYSCALL/SYSRET MSRs and FPU control for this CPU */
void cpu_init_ap(struct percpu *c, uint64_t stack_top); /* GDT, TSS, GS for an AP */
struct percpu *cpu_get(uint32_t index);
void idt_init(void);
void idt_load(void);

#endif
