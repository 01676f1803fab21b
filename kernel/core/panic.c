/* The panic screen: what went wrong, the registers, and a symbolised backtrace, on serial and
 * the screen (VGA text or the framebuffer console). Then halt, or end the emulator in test images. */
#include "panic.h"
#include "arch/cpu.h"
#include "arch/layout.h"
#include "arch/x86.h"
#include "console.h"
#include "log.h"
#include "platform.h"
#include "smp.h"
#include "symbols.h"

static void print_symbol(uint64_t addr)
{
    uint64_t off = 0;
    const char *name = kernel_symbols.count ? symbols_lookup(&kernel_symbols, addr, &off) : 0;
    if (name)
        kprintf("  %016lx  %s+0x%lx\n", addr, name, off);
    else
        kprintf("  %016lx  ?\n", addr);
}

static bool frame_pointer_ok(uint64_t fp)
{
    /* Only follow frames on a stack: the kernel image's data (the boot CPU's stacks, every IST
     * stack) or this CPU's own kernel stack (an AP's comes from boot memory). */
    if (!IS_ALIGNED(fp, 8))
        return false;
    if (fp >= (uint64_t)__data_start && fp + 16 <= (uint64_t)__kernel_end)
        return true;
    struct percpu *c = this_cpu();
    return c && c->kernel_rsp && fp >= c->kernel_rsp - KERNEL_STACK_SIZE && fp + 16 <= c->kernel_rsp;
}

void panic_backtrace(uint64_t rip, uint64_t rbp)
{
    kprintf("backtrace:\n");
    if (rip)
        print_symbol(rip);
    for (int depth = 0; depth < 24 && frame_pointer_ok(rbp); depth++) {
        const uint64_t *frame = (const uint64_t *)rbp;
        uint64_t ret = frame[1];
        if (ret < KERNEL_VMA_BASE)
            break;
        print_symbol(ret - 1); /* inside the call instruction, not after it */
        if (frame[0] <= rbp)
            break; /* stacks grow down; a frame link must point up */
        rbp = frame[0];
    }
}

/* The CPU index + 1 of the CPU reporting a panic (0: none). */
static uint32_t panic_owner;

bool panic_claim(void)
{
    struct percpu *c = this_cpu();
    uint32_t me = (c ? c->index : 0) + 1, none = 0;
    return __atomic_compare_exchange_n(&panic_owner, &none, me, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
           none == me;
}

static void panic_banner(void)
{
    irq_disable();
    struct percpu *c = this_cpu();
    if (!panic_claim())
        platform_halt(); /* another CPU is reporting one: stop here, print nothing */
    if (c && c->in_panic) {
        kprintf("\nnested panic\n");
        platform_exit_on_panic ? platform_exit(EXIT_PANIC) : platform_halt();
    }
    if (c)
        c->in_panic = true;
    smp_stop_others(); /* the other CPUs halt where they are, so nothing else runs or prints */
    console_set_colour(0x4f);
    console_reclaim_screen(); /* a user console may own it: the panic screen is drawn over it */
    kprintf("\n*** KEEL KERNEL PANIC (cpu %u) ***\n", c ? c->index : 0);
}

static _Noreturn void panic_end(void)
{
    if (platform_exit_on_panic)
        platform_exit(EXIT_PANIC);
    kprintf("system halted\n");
    platform_halt();
}

void panic(const char *fmt, ...)
{
    panic_banner();
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kprintf("%s\n", msg);
    panic_backtrace(0, (uint64_t)__builtin_frame_address(0)); /* from panic's caller on */
    panic_end();
}

void panic_trap(const struct trap_frame *f)
{
    panic_banner();
    char what[160];
    trap_describe_error(f->vector, f->error, what, sizeof what);
    kprintf("%s (vector %lu) in %s mode, error code 0x%lx: %s\n", trap_name(f->vector), f->vector,
            (f->cs & 3) ? "user" : "kernel", f->error, what);
    if (f->vector == VEC_PAGE_FAULT)
        kprintf("faulting address (CR2): %016lx\n", read_cr2());
    kprintf("RIP %016lx  CS %04lx  RFLAGS %016lx\n", f->rip, f->cs, f->rflags);
    kprintf("RSP %016lx  SS %04lx\n", f->rsp, f->ss);
    kprintf("RAX %016lx  RBX %016lx  RCX %016lx  RDX %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
    kprintf("RSI %016lx  RDI %016lx  RBP %016lx  R8  %016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
    kprintf("R9  %016lx  R10 %016lx  R11 %016lx  R12 %016lx\n", f->r9, f->r10, f->r11, f->r12);
    kprintf("R13 %016lx  R14 %016lx  R15 %016lx\n", f->r13, f->r14, f->r15);
    kprintf("CR0 %016lx  CR3 %016lx  CR4 %016lx\n", read_cr0(), read_cr3(), read_cr4());
    if (f->cs & 3)
        kprintf("(user-mode frame: no kernel backtrace)\n");
    else
        panic_backtrace(f->rip, f->rbp);
    panic_end();
}
