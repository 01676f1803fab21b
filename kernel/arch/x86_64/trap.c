/* Exception decoding and interrupt dispatch. */
#include "arch/trap.h"
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/x86.h"
#include "klib.h"
#include "log.h"
#include "panic.h"
#include "sched.h"
#include "smp.h"

static irq_handler_fn handlers[256];

static const char *const exception_names[32] = {
    [0] = "divide error", [1] = "debug", [2] = "non-maskable interrupt", [3] = "breakpoint",
    [4] = "overflow", [5] = "bound range exceeded", [6] = "invalid opcode",
    [7] = "device not available", [8] = "double fault", [9] = "coprocessor segment overrun",
    [10] = "invalid TSS", [11] = "segment not present", [12] = "stack-segment fault",
    [13] = "general protection fault", [14] = "page fault", [16] = "x87 floating-point error",
    [17] = "alignment check", [18] = "machine check", [19] = "SIMD floating-point exception",
    [20] = "virtualization exception", [21] = "control protection exception",
    [28] = "hypervisor injection exception", [29] = "VMM communication exception",
    [30] = "security exception",
};

const char *trap_name(uint64_t vector)
{
    if (vector < 32)
        return exception_names[vector] ? exception_names[vector] : "reserved exception";
    if (vector == VEC_LAPIC_TIMER)
        return "timer interrupt";
    if (vector == VEC_SPURIOUS)
        return "spurious interrupt";
    return "interrupt";
}

void trap_describe_error(uint64_t vector, uint64_t error, char *buf, unsigned long len)
{
    switch (vector) {
    case VEC_PAGE_FAULT:
        ksnprintf(buf, len, "%s %s page%s%s from %s mode",
                  (error & PF_FETCH) ? "instruction fetch from" : (error & PF_WRITE) ? "write to" : "read of",
                  (error & PF_PRESENT) ? "a protected" : "a not-present",
                  (error & PF_RESERVED) ? ", reserved bit set in a paging entry" : "",
                  (error & PF_PKEY) ? ", protection-key violation" : "",
                  (error & PF_USER) ? "user" : "kernel");
        break;
    case VEC_INVALID_TSS:
    case VEC_SEGMENT_NOT_PRESENT:
    case VEC_STACK_FAULT:
    case VEC_GENERAL_PROTECTION:
        if (error == 0)
            ksnprintf(buf, len, "no selector involved");
        else
            ksnprintf(buf, len, "selector index %lu in the %s%s", (error >> 3) & 0x1fff,
                      (error & 2) ? "IDT" : (error & 4) ? "LDT" : "GDT",
                      (error & 1) ? " (external event)" : "");
        break;
    case VEC_CONTROL_PROTECTION:
        ksnprintf(buf, len, "control-protection kind %lu", error & 0x7fff);
        break;
    default:
        ksnprintf(buf, len, "-");
        break;
    }
}

void trap_set_handler(uint8_t vector, irq_handler_fn fn) { handlers[vector] = fn; }

/* The GS base each CPU's last NMI/#DF/#MC found (the self-test checks it saw its planted value). */
static uint64_t ist_found_gs[MAX_CPUS];

uint64_t trap_ist_found_gs_base(void) { return ist_found_gs[this_cpu()->index]; }

/* NMI, #DF and #MC, from ist_common (isr.S) on their IST stacks with GS base already this CPU's
 * block, whatever the interrupted code had loaded (`found_gs`, restored on the way out). They
 * never touch the interrupted thread's saved context and never schedule: they may have stopped
 * the kernel anywhere, also halfway into or out of user mode. */
void trap_ist(struct trap_frame *f, uint64_t found_gs)
{
    struct percpu *c = this_cpu();
    ist_found_gs[c->index] = found_gs;
    if (handlers[f->vector]) { /* self-tests */
        handlers[f->vector](f);
        return;
    }
    if (f->vector == VEC_NMI && smp_nmi(f))
        return; /* the kernel's own request: the lock watchdog's backtrace, or a panic's stop */
    if (f->vector == VEC_NMI) {
        /* Apart from those, nothing in Keel sends NMIs; one from the platform (a hardware error report, a
         * watchdog, QEMU's "nmi" command) is reported, not fatal. */
        log_warn("NMI on CPU %u at %016lx in %s mode (ignored)", c->index, f->rip, (f->cs & 3) ? "user" : "kernel");
        return;
    }
    panic_trap(f); /* double fault, machine check */
}

/* ---- The EOI rule (docs/smp.md): every interrupt the LAPIC puts in service gets exactly one EOI
 * before the CPU returns to user mode, idles or releases the big lock. One missed leaves its
 * priority class in service: for the timer and the IPIs (class 0xf) the CPU then takes no
 * interrupt at all, and the next cross-CPU request to it never completes. Debug kernels check
 * it as it happens. ---- */

/* Vectors the LAPIC delivers and must be acknowledged: not the exceptions, not the 8259's
 * (ExtINT through LINT0 leaves the LAPIC's in-service register alone), not the spurious vector. */
static bool needs_lapic_eoi(uint64_t vector)
{
    return vector >= VEC_IOAPIC_BASE && vector != VEC_SPURIOUS;
}

void trap_note_entry(const struct trap_frame *f)
{
    if (!needs_lapic_eoi(f->vector))
        return;
    struct percpu *c = this_cpu();
    if (c->eoi_owed)
        panic("EOI check: CPU %u took interrupt vector %lu while vector %u was still unacknowledged", c->index,
              f->vector, c->eoi_owed);
    c->eoi_owed = (uint16_t)f->vector;
}

void trap_note_eoi(void)
{
    struct percpu *c = this_cpu();
    if (!c->eoi_owed)
        panic("EOI check: CPU %u sent an EOI with no interrupt in service (a second EOI for one interrupt)",
              c->index);
    c->eoi_owed = 0;
}

/* A timer tick from user mode that only counts down the running thread's time slice needs
 * nothing the big lock guards: the tick count is this CPU's, the slice belongs to the thread
 * only this CPU runs, and no other CPU can take that thread from it meanwhile (that needs this
 * CPU's answer, which it gives only with interrupts on or spinning for the lock). So the entry
 * (isr.S) finishes such a tick here and returns to the thread. Without it every CPU running a
 * thread took the lock 100 times a second just to count: on a host that preempts emulated CPUs
 * the lock then waits for the preempted holder of the next ticket so long that every CPU finds
 * its next tick pending when it gets out, and user code stops for minutes (seen at --smp 4 with
 * all four CPUs in bkl_wait, a tick in service and the next one pending). The last tick of a
 * slice, and any tick with a reschedule pending, go the way of every interrupt. */
bool trap_quick_tick(struct trap_frame *f)
{
    if (f->vector != VEC_LAPIC_TIMER || !sched_tick_only_counts(this_cpu()))
        return false;
    handlers[f->vector](f); /* the timer's own handler: the tick count, the EOI, the countdown */
    return true;
}

void trap_dispatch(struct trap_frame *f)
{
    if (f->vector >= VEC_IRQ_BASE) {
        if (handlers[f->vector]) {
            handlers[f->vector](f);
        } else if (f->vector < VEC_IOAPIC_BASE) {
            /* The 8259 pair is masked: a spurious IRQ 7/15, or someone with its I/O ports unmasked
             * a line. Its own EOI, not the LAPIC's. */
            if (pic_acknowledge((unsigned)(f->vector - VEC_IRQ_BASE)))
                log_warn("8259 interrupt (IRQ %lu) on CPU %u: masked again", f->vector - VEC_IRQ_BASE,
                         this_cpu()->index);
        } else if (f->vector != VEC_SPURIOUS) {
            log_warn("unexpected interrupt vector %lu", f->vector);
            lapic_eoi(); /* or it would block every interrupt of lower priority */
        }
        return;
    }
    if (handlers[f->vector]) { /* kernel self-tests catch their own exceptions */
        handlers[f->vector](f);
        return;
    }
    if (f->vector == VEC_NMI && (f->cs & 3)) {
        log_warn("NMI while in user mode (ignored)");
        return;
    }
    /* User faults arrive through trap_from_user; a fault in the kernel is a kernel bug. */
    panic_trap(f);
}
