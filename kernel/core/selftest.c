/* Kernel self-tests run by the test image (cmdline "selftest") before any userspace exists:
 * they check what the boot set up, on the machine it booted on. Output follows the guest suite's
 * format: one "ok N name" / "not ok N name: reason" line each, then "N passed, N failed". */
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "boot.h"
#include "log.h"
#include "symbols.h"

static int number, passed, failed;
static char reason[160];

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ksnprintf(reason, sizeof reason, __VA_ARGS__);                                         \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

/* Catching an exception the test provokes: the handler records it and resumes at `resume`. */
static volatile uint64_t caught_vector, caught_error, caught_cr2, resume_rip;

static void catch_trap(struct trap_frame *f)
{
    caught_vector = f->vector;
    caught_error = f->error;
    caught_cr2 = f->vector == VEC_PAGE_FAULT ? read_cr2() : 0;
    f->rip = resume_rip;
}

static bool test_wx_image(void)
{
    unsigned level;
    uint64_t e = paging_kernel_lookup((uint64_t)&test_wx_image, &level);
    EXPECT(e && level == 1, "text not mapped with 4 KiB pages");
    EXPECT(!(e & PTE_W), "kernel text is writable");
    EXPECT(!(e & PTE_NX), "kernel text is not executable");
    e = paging_kernel_lookup((uint64_t)__rodata_start, &level);
    EXPECT(e && !(e & PTE_W), "rodata is writable");
    EXPECT(!cpu_enabled.nx || (e & PTE_NX), "rodata is executable");
    e = paging_kernel_lookup((uint64_t)&number, &level);
    EXPECT(e && (e & PTE_W), "data is not writable");
    EXPECT(!cpu_enabled.nx || (e & PTE_NX), "data is executable");
    EXPECT(!cpu_features.pge || (e & PTE_G), "kernel data is not global");
    return true;
}

static bool test_direct_map(void)
{
    static volatile uint64_t probe = 0x6b65656c;
    volatile uint64_t *alias = phys_to_virt(virt_to_phys((const void *)&probe));
    EXPECT(*alias == 0x6b65656c, "direct-map alias reads %lx", (uint64_t)*alias);
    probe = 42;
    EXPECT(*alias == 42, "direct-map alias does not follow a write");
    unsigned level;
    uint64_t e = paging_kernel_lookup((uint64_t)alias, &level);
    EXPECT(e && (e & PTE_W) && (!cpu_enabled.nx || (e & PTE_NX)), "direct map entry %lx", e);
    EXPECT(level == (cpu_enabled.page1g ? 3u : 2u), "direct map uses level-%u pages", level);
    return true;
}

static bool test_user_half_unmapped(void)
{
    EXPECT(paging_kernel_lookup(0x1000, 0) == 0, "low memory is still identity-mapped");
    EXPECT(paging_kernel_lookup(USER_TOP - PAGE_SIZE, 0) == 0, "user half has mappings");
    return true;
}

static bool test_page_fault_reported(void)
{
    caught_vector = ~0ul;
    trap_set_handler(VEC_PAGE_FAULT, catch_trap);
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
                     "movq %%rax, %0\n\t"
                     "movq 0x10000, %%rax\n"
                     "1:"
                     : "=m"(resume_rip)
                     :
                     : "rax", "memory");
    trap_set_handler(VEC_PAGE_FAULT, 0);
    EXPECT(caught_vector == VEC_PAGE_FAULT, "no page fault (vector %lu)", caught_vector);
    EXPECT(caught_cr2 == 0x10000, "CR2 %lx", caught_cr2);
    EXPECT(!(caught_error & (PF_PRESENT | PF_WRITE | PF_USER)), "error code %lx", caught_error);
    char what[160];
    trap_describe_error(VEC_PAGE_FAULT, caught_error, what, sizeof what);
    EXPECT(strcmp(what, "read of a not-present page from kernel mode") == 0, "decoded as '%s'", what);
    return true;
}

static bool test_invalid_opcode_reported(void)
{
    caught_vector = ~0ul;
    trap_set_handler(VEC_INVALID_OPCODE, catch_trap);
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
                     "movq %%rax, %0\n\t"
                     "ud2\n"
                     "1:"
                     : "=m"(resume_rip)
                     :
                     : "rax", "memory");
    trap_set_handler(VEC_INVALID_OPCODE, 0);
    EXPECT(caught_vector == VEC_INVALID_OPCODE, "vector %lu", caught_vector);
    return true;
}

static bool test_write_protect(void)
{
    /* CR0.WP: even the kernel may not write through a read-only mapping. */
    caught_vector = ~0ul;
    trap_set_handler(VEC_PAGE_FAULT, catch_trap);
    uint64_t target = (uint64_t)__rodata_start;
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
                     "movq %%rax, %0\n\t"
                     "movb $0, (%1)\n"
                     "1:"
                     : "=m"(resume_rip)
                     : "r"(target)
                     : "rax", "memory");
    trap_set_handler(VEC_PAGE_FAULT, 0);
    EXPECT(caught_vector == VEC_PAGE_FAULT, "write to rodata did not fault");
    EXPECT((caught_error & (PF_PRESENT | PF_WRITE)) == (PF_PRESENT | PF_WRITE), "error code %lx", caught_error);
    return true;
}

static bool test_protections_enabled(void)
{
    uint64_t cr4 = read_cr4();
    EXPECT(!!(cr4 & CR4_SMEP) == cpu_enabled.smep, "CR4.SMEP %d, expected %d", !!(cr4 & CR4_SMEP), cpu_enabled.smep);
    EXPECT(!!(cr4 & CR4_SMAP) == cpu_enabled.smap, "CR4.SMAP mismatch");
    EXPECT(!!(cr4 & CR4_UMIP) == cpu_enabled.umip, "CR4.UMIP mismatch");
    EXPECT(!!(cr4 & CR4_PKE) == cpu_enabled.pku, "CR4.PKE mismatch");
    EXPECT(!!(cr4 & CR4_PCIDE) == cpu_enabled.pcid, "CR4.PCIDE mismatch");
    EXPECT(read_cr0() & CR0_WP, "CR0.WP clear");
    EXPECT(!cpu_enabled.nx || (rdmsr(MSR_EFER) & EFER_NXE), "EFER.NXE clear");
    EXPECT(cpu_enabled.smep == (cpu_features.smep && boot.options.smep != TRI_OFF), "smep choice ignores cmdline");
    return true;
}

static bool test_timer_ticks(void)
{
    uint64_t start = this_cpu()->ticks;
    uint64_t tsc0 = rdtsc();
    while (this_cpu()->ticks < start + 3)
        halt();
    uint64_t elapsed_us = (rdtsc() - tsc0) * 1000 / (tsc_khz() ? tsc_khz() : 1);
    /* Three ticks at timer_hz, with generous slack for a loaded emulator host. */
    uint64_t expect_us = 3ull * 1000000 / boot.options.timer_hz;
    EXPECT(elapsed_us >= expect_us / 4, "3 ticks in %lu us, expected about %lu", elapsed_us, expect_us);
    return true;
}

static bool test_boot_info(void)
{
    EXPECT(boot.mb.mmap_count > 0, "no memory map");
    EXPECT(memmap_total(&boot.memory) >= (16ul << 20), "only %lu KiB free", memmap_total(&boot.memory) >> 10);
    uint64_t image = virt_to_phys(__text_start);
    for (uint32_t i = 0; i < boot.memory.count; i++)
        EXPECT(image < boot.memory.free[i].base || image >= boot.memory.free[i].end,
               "kernel image %lx lies in free range %lx-%lx", image, boot.memory.free[i].base,
               boot.memory.free[i].end);
    EXPECT(boot.memory.count == 0 || boot.memory.free[0].base >= (1ul << 20), "first MiB handed out as free");
    return true;
}

static bool test_acpi_found(void)
{
    EXPECT(boot.have_acpi, "ACPI tables not found");
    EXPECT(boot.acpi.cpu_count >= 1, "no CPU in the MADT");
    EXPECT(boot.acpi.ioapic_count >= 1, "no IOAPIC in the MADT");
    bool found = false;
    for (uint32_t i = 0; i < boot.acpi.cpu_count; i++)
        found |= boot.acpi.cpus[i].apic_id == this_cpu()->apic_id;
    EXPECT(found, "boot CPU's APIC id %u not in the MADT", this_cpu()->apic_id);
    return true;
}

static bool test_symbols(void)
{
    uint64_t off = ~0ul;
    const char *name = symbols_lookup(&kernel_symbols, (uint64_t)&test_symbols + 3, &off);
    EXPECT(name && strcmp(name, "test_symbols") == 0, "looked up '%s'", name ? name : "(none)");
    EXPECT(off == 3, "offset %lu", off);
    return true;
}

static bool test_percpu(void)
{
    struct percpu *c = this_cpu();
    EXPECT(c == cpu_get(0) && c->self == c, "GS does not point at CPU 0's block");
    EXPECT(rdmsr(MSR_GS_BASE) == (uint64_t)c, "GS base MSR");
    uint16_t tr;
    __asm__ volatile("str %0" : "=r"(tr));
    EXPECT(tr == GDT_TSS, "task register %x", tr);
    return true;
}

/* NMI with a foreign GS base at CPL 0, the state between the exit path's swapgs and its iretq
 * (or at syscall_entry before its swapgs): the handler must find this CPU's block all the same,
 * and the foreign base must be back afterwards. The NMI is sent to this CPU through its LAPIC,
 * with interrupts off and nothing in between that uses GS. Rounds: the kernel's own GS base; a
 * decoy whose self pointer is wrong (a CS-based entry would report the decoy); 0, a typical user
 * value (a CS-based entry would fault on gs:0). */
static volatile uint64_t nmi_count;
static struct percpu *volatile nmi_found_cpu;

static void catch_nmi(struct trap_frame *f)
{
    (void)f;
    nmi_found_cpu = this_cpu();
    nmi_count++;
}

static bool nmi_round(uint64_t planted_gs, const char *what)
{
    struct percpu *c = this_cpu();
    uint32_t apic = c->apic_id;
    uint64_t kernel_gs_swap = rdmsr(MSR_KERNEL_GS_BASE);
    uint64_t before = nmi_count;
    nmi_found_cpu = 0;
    irq_disable();
    wrmsr(MSR_GS_BASE, planted_gs);
    lapic_send_nmi(apic);
    for (uint32_t spin = 0; spin < 50000000 && nmi_count == before; spin++)
        cpu_relax();
    uint64_t after = rdmsr(MSR_GS_BASE);
    wrmsr(MSR_GS_BASE, (uint64_t)c);
    irq_enable();
    EXPECT(nmi_count == before + 1, "%s: %lu NMIs arrived, expected 1", what, nmi_count - before);
    EXPECT(nmi_found_cpu == c, "%s: the handler found per-CPU block %p, not %p", what, (void *)nmi_found_cpu,
           (void *)c);
    EXPECT(trap_ist_found_gs_base() == planted_gs, "%s: the entry found GS base %lx, not the planted %lx", what,
           trap_ist_found_gs_base(), planted_gs);
    EXPECT(after == planted_gs, "%s: GS base %lx after the NMI, expected %lx back", what, after, planted_gs);
    EXPECT(rdmsr(MSR_KERNEL_GS_BASE) == kernel_gs_swap, "%s: KERNEL_GS_BASE changed", what);
    return true;
}

static bool test_nmi_foreign_gs_base(void)
{
    static uint64_t decoy[8];
    decoy[0] = (uint64_t)decoy; /* gs:0 of the decoy: a self pointer that is not a CPU's */
    trap_set_handler(VEC_NMI, catch_nmi);
    bool ok = nmi_round((uint64_t)this_cpu(), "kernel GS base") && nmi_round((uint64_t)decoy, "decoy GS base") &&
              nmi_round(0, "GS base 0");
    trap_set_handler(VEC_NMI, 0);
    return ok;
}

static void run(const char *name, bool (*fn)(void))
{
    reason[0] = '\0';
    number++;
    if (fn()) {
        passed++;
        kprintf("ok %d %s\n", number, name);
    } else {
        failed++;
        kprintf("not ok %d %s: %s\n", number, name, reason);
    }
}

/* Checks the panic screen end to end (boot test "boot.panic"): a kernel page fault at a known
 * address from a known function. */
__attribute__((noinline)) static void selftest_provoke_panic(void)
{
    kprintf("selftest: provoking a kernel page fault at 0xdead0000\n");
    *(volatile uint64_t *)0xdead0000ul = 1;
}

int selftest_run(void)
{
    if (boot.options.test_panic)
        selftest_provoke_panic();
    kprintf("selftest: kernel self-tests\n");
    run("kernel_image_wx", test_wx_image);
    run("direct_map", test_direct_map);
    run("user_half_unmapped", test_user_half_unmapped);
    run("page_fault_reported", test_page_fault_reported);
    run("invalid_opcode_reported", test_invalid_opcode_reported);
    run("kernel_write_protect", test_write_protect);
    run("protections_enabled", test_protections_enabled);
    run("timer_ticks", test_timer_ticks);
    run("boot_info_memory", test_boot_info);
    run("acpi_madt", test_acpi_found);
    run("kernel_symbols", test_symbols);
    run("percpu_gdt_tss", test_percpu);
    run("nmi_foreign_gs_base", test_nmi_foreign_gs_base);
    kprintf("%d passed, %d failed\n", passed, failed);
    return failed;
}
