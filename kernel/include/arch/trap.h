/* The register frame every interrupt and exception entry builds on the kernel stack. */
#ifndef KEEL_ARCH_TRAP_H
#define KEEL_ARCH_TRAP_H

#include <stdbool.h>
#include <stdint.h>

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    /* pushed by the CPU */
    uint64_t rip, cs, rflags, rsp, ss;
};

enum {
    VEC_DIVIDE = 0, VEC_DEBUG = 1, VEC_NMI = 2, VEC_BREAKPOINT = 3, VEC_OVERFLOW = 4,
    VEC_BOUND = 5, VEC_INVALID_OPCODE = 6, VEC_NO_FPU = 7, VEC_DOUBLE_FAULT = 8,
    VEC_INVALID_TSS = 10, VEC_SEGMENT_NOT_PRESENT = 11, VEC_STACK_FAULT = 12,
    VEC_GENERAL_PROTECTION = 13, VEC_PAGE_FAULT = 14, VEC_X87 = 16, VEC_ALIGNMENT = 17,
    VEC_MACHINE_CHECK = 18, VEC_SIMD = 19, VEC_VIRTUALIZATION = 20, VEC_CONTROL_PROTECTION = 21,
    VEC_IRQ_BASE = 32,       /* legacy PIC remapped here, then masked */
    VEC_IOAPIC_BASE = 48,    /* GSI n arrives at VEC_IOAPIC_BASE + n */
    VEC_LAPIC_TIMER = 0xf0,
    VEC_IPI_RESCHEDULE = 0xf1,
    VEC_IPI_SHOOTDOWN = 0xf2,
    VEC_LAPIC_ERROR = 0xfe,
    VEC_SPURIOUS = 0xff,
};

/* Page-fault error code bits. */
#define PF_PRESENT (1u << 0)
#define PF_WRITE (1u << 1)
#define PF_USER (1u << 2)
#define PF_RESERVED (1u << 3)
#define PF_FETCH (1u << 4)
#define PF_PKEY (1u << 5)
#define PF_SHADOW_STACK (1u << 6)
#define PF_SGX (1u << 15)

const char *trap_name(uint64_t vector);
/* Human description of an error code ("write to a not-present page from kernel mode"). */
void trap_describe_error(uint64_t vector, uint64_t error, char *buf, unsigned long len);
void trap_dispatch(struct trap_frame *f);
/* From user mode, before the big lock: true if `f` was a timer tick finished here (it only
 * counted down the running thread's slice), so the thread resumes at once. */
bool trap_quick_tick(struct trap_frame *f);

/* The debug EOI check (trap.c; docs/smp.md "The EOI rule"). isr.S calls trap_note_entry on every
 * entry through trap_common in debug kernels: it records an interrupt that needs an EOI (and
 * panics if one is already owed); lapic_eoi calls trap_note_eoi (a panic if none is owed); and
 * releasing the big lock panics if one is still owed (smp.h). */
void trap_note_entry(const struct trap_frame *f);
void trap_note_eoi(void);

typedef void (*irq_handler_fn)(struct trap_frame *f);
void trap_set_handler(uint8_t vector, irq_handler_fn fn);
/* NMI/#DF/#MC entry (isr.S) and the GS base the last one on this CPU interrupted. */
void trap_ist(struct trap_frame *f, uint64_t found_gs);
uint64_t trap_ist_found_gs_base(void);

#endif
