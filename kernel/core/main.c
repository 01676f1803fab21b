/* kernel_main: from the 64-bit entry to a running system. The order matters: a console first,
 * then exception handling (so every later mistake is reported), then memory, then devices. */
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "boot.h"
#include "console.h"
#include "ipc.h"
#include "log.h"
#include "panic.h"
#include "platform.h"
#include "object/irq.h"
#include "sched.h"
#include "smp.h"
#include "symbols.h"

#ifndef KEEL_VERSION
#define KEEL_VERSION "unknown"
#endif

struct boot_state boot;

static void choose_features(void)
{
    const struct cpu_features *f = &cpu_features;
    const struct kernel_options *o = &boot.options;
    struct {
        const char *name;
        bool present;
        enum tristate want;
        bool *use;
    } choices[] = {
        { "pcid", f->pcid, o->pcid, &cpu_enabled.pcid },
        { "invpcid", f->invpcid, o->invpcid, &cpu_enabled.invpcid },
        { "pku", f->pku, o->pku, &cpu_enabled.pku },
        { "smep", f->smep, o->smep, &cpu_enabled.smep },
        { "smap", f->smap, o->smap, &cpu_enabled.smap },
        { "umip", f->umip, o->umip, &cpu_enabled.umip },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(choices); i++) {
        *choices[i].use = choices[i].present && choices[i].want != TRI_OFF;
        if (choices[i].want == TRI_ON && !choices[i].present)
            log_warn("%s=on requested but this CPU does not have it; running without", choices[i].name);
    }
    /* INVPCID is only meaningful with PCIDs in use. */
    cpu_enabled.invpcid = cpu_enabled.invpcid && cpu_enabled.pcid;
    cpu_enabled.nx = f->nx;
    cpu_enabled.page1g = f->page1g;
}

static void enable_protections(void)
{
    if (cpu_enabled.nx)
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    uint64_t cr4 = read_cr4();
    if (cpu_enabled.smep)
        cr4 |= CR4_SMEP;
    if (cpu_enabled.smap)
        cr4 |= CR4_SMAP;
    if (cpu_enabled.umip)
        cr4 |= CR4_UMIP;
    if (cpu_enabled.pku)
        cr4 |= CR4_PKE;
    /* CR4.PCIDE may only be set while CR3's PCID field is 0, which it is until VSpaces exist. */
    if (cpu_enabled.pcid)
        cr4 |= CR4_PCIDE;
    write_cr4(cr4);
    write_cr0(read_cr0() | CR0_WP);
}

static void setup_console(void)
{
    const struct mb2_info *mb = &boot.mb;
    if (mb->has_framebuffer && mb->fb.type == 2)
        vga_init(mb->fb.addr, mb->fb.width, mb->fb.height);
    else if (!mb->has_framebuffer && !mb->efi_boot)
        vga_init(0xb8000, 80, 25);
    else if (mb->has_framebuffer)
        fb_init(&mb->fb); /* a graphics framebuffer: drawn on if usable, else serial only (logged) */
}

static void setup_memory(void)
{
    struct diag d = { "" };
    memmap_init(&boot.memory);
    if (memmap_from_mb2(&boot.memory, &boot.mb, &d) != 0)
        panic("memory map unusable: %s", d.msg);
    uint64_t image_start = (uint64_t)__kernel_phys_start;
    uint64_t image_end = virt_to_phys(__kernel_end);
    if (memmap_reserve(&boot.memory, image_start, image_end - image_start, &d) != 0)
        panic("cannot reserve the kernel image: %s", d.msg);
    if (boot.memory.dropped)
        log_warn("memory: %u free ranges did not fit the table and are unused", boot.memory.dropped);

    uint64_t ram_end = 0;
    for (uint32_t i = 0; i < boot.mb.mmap_count; i++) {
        const struct mb2_region *r = &boot.mb.mmap[i];
        log_debug("  mmap %016lx-%016lx %s", r->base, r->base + r->length - 1, mb2_mem_type_name(r->type));
        if (r->type == MB2_MEM_AVAILABLE || r->type == MB2_MEM_ACPI_RECLAIMABLE || r->type == MB2_MEM_NVS)
            ram_end = MAX(ram_end, r->base + r->length);
    }
    paging_init(&boot.memory, ram_end);
    log_info("memory: %lu MiB free in %u ranges; direct map of %lu MiB at %#lx", memmap_total(&boot.memory) >> 20,
             boot.memory.count, paging_direct_map_end() >> 20, DIRECT_MAP_BASE);
}

static void setup_symbols(void)
{
    const struct mb2_info *mb = &boot.mb;
    if (!mb->has_symbols || mb->symtab_phys + mb->symtab_size > paging_direct_map_end() ||
        mb->strtab_phys + mb->strtab_size > paging_direct_map_end() ||
        !symbols_init(&kernel_symbols, phys_to_virt(mb->symtab_phys), mb->symtab_size, mb->symtab_entsize,
                      phys_to_virt(mb->strtab_phys), mb->strtab_size))
        log_warn("symbols: no usable kernel symbol table; backtraces will show addresses only");
    else
        log_debug("symbols: %lu kernel symbols", kernel_symbols.count);
}

static const void *acpi_map(uint64_t phys, uint64_t len, void *ctx)
{
    (void)ctx;
    if (phys + len < phys || phys + len > paging_direct_map_end())
        return 0;
    return phys_to_virt(phys);
}

static void setup_acpi(void)
{
    struct diag d = { "" };
    if (!boot.mb.has_rsdp) {
        log_warn("acpi: the boot loader passed no RSDP; assuming one CPU and default APIC addresses");
        return;
    }
    if (acpi_parse(boot.mb.rsdp, boot.mb.rsdp_len, acpi_map, 0, &boot.acpi, &d) != 0) {
        log_warn("%s; assuming one CPU and default APIC addresses", d.msg);
        return;
    }
    if (d.msg[0])
        log_warn("%s", d.msg);
    if (boot.acpi.cpus_dropped)
        log_warn("acpi: %u more CPUs than the kernel's table of %u; they stay offline", boot.acpi.cpus_dropped,
                 ACPI_MAX_CPUS);
    boot.have_acpi = true;
    const struct acpi_info *a = &boot.acpi;
    char cpus[128] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < a->cpu_count && used < sizeof cpus; i++)
        used += (size_t)ksnprintf(cpus + used, sizeof cpus - used, "%s%u%s", i ? " " : "", a->cpus[i].apic_id,
                                  a->cpus[i].enabled ? "" : "(off)");
    log_info("acpi: rev %u (%s) oem '%s'; %u CPUs (APIC ids %s), %u IOAPICs, LAPIC at %#lx%s",
             a->revision, a->used_xsdt ? "XSDT" : "RSDT", a->oem_id, a->cpu_count, cpus, a->ioapic_count,
             a->lapic_phys, a->has_hpet ? ", HPET" : "");
}

static void timer_tick(struct trap_frame *f)
{
    (void)f;
    this_cpu()->ticks++;
    lapic_eoi();
    sched_tick();
}

static void lapic_error(struct trap_frame *f)
{
    (void)f;
    log_warn("lapic: error interrupt");
    lapic_eoi();
}

static void setup_interrupts(void)
{
    pic_disable();
    uint64_t lapic_phys = boot.have_acpi ? boot.acpi.lapic_phys : 0xfee00000ul;
    lapic_init(lapic_phys);
    this_cpu()->apic_id = lapic_id();
    if (boot.have_acpi && boot.acpi.ioapic_count) {
        for (uint32_t i = 0; i < boot.acpi.ioapic_count; i++)
            ioapic_init(boot.acpi.ioapics[i].id, boot.acpi.ioapics[i].phys, boot.acpi.ioapics[i].gsi_base);
    } else {
        ioapic_init(0, 0xfec00000ul, 0);
    }
    if (!lapic_timer_calibrate())
        panic("lapic: the timer does not count; cannot schedule");
    trap_set_handler(VEC_LAPIC_TIMER, timer_tick);
    irq_init();
    trap_set_handler(VEC_LAPIC_ERROR, lapic_error);
    lapic_timer_start(boot.options.timer_hz);
    log_info("timer: LAPIC %lu kHz, TSC %lu kHz, tick %u Hz", lapic_timer_hz() / 1000, tsc_khz(),
             boot.options.timer_hz);
    irq_enable();
}

void kernel_main(uint32_t magic, uint32_t mbi_phys);
void kernel_main(uint32_t magic, uint32_t mbi_phys)
{
    serial_init();
    cpu_init_boot();
    idt_init();
    cpu_init_syscall();
    kprintf("\nKeel %s (x86-64) booting\n", KEEL_VERSION);
    if (magic != MB2_BOOTLOADER_MAGIC)
        panic("not started by a multiboot2 loader (EAX = %#x, expected %#x)", magic, MB2_BOOTLOADER_MAGIC);

    struct diag d = { "" };
    if (mb2_parse(phys_to_virt(mbi_phys), mbi_phys, &boot.mb, &d) != 0)
        panic("boot information rejected: %s", d.msg);

    cmdline_defaults(&boot.options);
    d.msg[0] = '\0';
    if (cmdline_parse(boot.mb.cmdline, &boot.options, &d) != 0)
        log_warn("%s", d.msg);
    log_set_level(boot.options.log_level);
    syscall_set_fastpath(boot.options.fastpath != TRI_OFF);
    platform_exit_on_panic = boot.options.selftest;
    setup_console();
    log_info("boot: loader '%s', %s, command line '%s', %u modules", boot.mb.loader_name,
             boot.mb.efi_boot ? "UEFI" : "BIOS", boot.mb.cmdline, boot.mb.module_count);

    features_detect(&cpu_features);
    choose_features();
    char line[160];
    features_format(&cpu_features, line, sizeof line);
    log_info("cpu: %s (%s family %u model %u stepping %u)%s", cpu_features.brand, cpu_features.vendor,
             cpu_features.family, cpu_features.model, cpu_features.stepping,
             cpu_features.hypervisor ? " under a hypervisor" : "");
    log_info("cpu features: %s", line);
    enable_protections();
    log_info("cpu protections: NX%c SMEP%c SMAP%c UMIP%c PKE%c WP+; TLB mode: %s", cpu_enabled.nx ? '+' : '-',
             cpu_enabled.smep ? '+' : '-', cpu_enabled.smap ? '+' : '-', cpu_enabled.umip ? '+' : '-',
             cpu_enabled.pku ? '+' : '-',
             cpu_enabled.pcid ? (cpu_enabled.invpcid ? "PCID+INVPCID" : "PCID") : "no PCID");

    setup_memory();
    fb_remap(); /* the framebuffer console, if any, moves to a write-combining mapping */
    setup_symbols();
    setup_acpi();
    setup_interrupts();

    uint64_t khz = tsc_khz();
    /* boot_tsc sits in the identity-mapped boot part, reachable now only through the direct map. */
    uint64_t entry_tsc = *(const uint64_t *)phys_to_virt((uint64_t)&boot_tsc);
    boot.boot_us = khz ? (rdtsc() - entry_tsc) * 1000 / khz : 0;
    log_info("boot: kernel initialised in %lu us", boot.boot_us);

    if (boot.options.selftest && selftest_run() != 0)
        platform_exit(EXIT_FAIL);
    smp_prepare(); /* before the root task takes every free page */
    bkl_acquire(); /* from here on, kernel state is shared with the other CPUs */
    smp_start_aps();
    bool started = root_task_create();
    if (!started && boot.options.selftest)
        platform_exit(boot.mb.module_count ? EXIT_FAIL : EXIT_PASS);
    if (!started)
        log_info("Keel is up with no root task: idling");
    irq_disable();
    schedule(); /* idles until a thread is runnable */
    bkl_release();
    arch_return_to_user();
}
