/* Starting the application processors: INIT-SIPI-SIPI to each enabled CPU in the MADT, through
 * a trampoline at AP_TRAMPOLINE (the first MiB is never handed out). A CPU that does not answer
 * in time is reported and skipped; the boot goes on. */
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "boot.h"
#include "log.h"
#include "sched.h"
#include "smp.h"

#define AP_TRAMPOLINE 0x8000ul
#define AP_START_TIMEOUT_MS 1000 /* generous: an emulated CPU on a loaded host starts slowly */

extern char ap_trampoline[], ap_trampoline_end[], ap_params[];

struct ap_params {
    uint64_t cr3, efer, stack, percpu, entry;
    uint64_t claim; /* 1 per start; the AP that starts takes it (ap_boot.S), a late one finds 0 */
};

static uint64_t ap_cr3;                     /* kernel mappings + identity of the first 2 MiB */
static uint64_t ap_stacks[MAX_CPUS];        /* physical bases, KERNEL_STACK_SIZE each */
static uint64_t bsp_cr4;
static volatile uint32_t ap_ready;

static void ipi_reschedule(struct trap_frame *f)
{
    (void)f;
    lapic_eoi();
    this_cpu()->need_resched = true;
}

static void ipi_mailbox(struct trap_frame *f)
{
    (void)f;
    smp_mailbox();
    lapic_eoi();
}

void smp_prepare(void)
{
    trap_set_handler(VEC_IPI_RESCHEDULE, ipi_reschedule);
    trap_set_handler(VEC_IPI_SHOOTDOWN, ipi_mailbox);
    if (!boot.have_acpi || boot.acpi.cpu_count < 2)
        return;
    /* Three pages below 4 GiB (the trampoline loads CR3 in 32-bit mode). */
    uint64_t pml4 = memmap_alloc(&boot.memory, 3 * PAGE_SIZE, PAGE_SIZE, 1ul << 32);
    if (!pml4) {
        log_warn("smp: no memory below 4 GiB for the AP page tables; one CPU only");
        return;
    }
    uint64_t *t = phys_to_virt(pml4);
    memset(t, 0, 3 * PAGE_SIZE);
    memcpy(t + KERNEL_PML4_FIRST, (uint64_t *)phys_to_virt(paging_kernel_root()) + KERNEL_PML4_FIRST,
           (512 - KERNEL_PML4_FIRST) * sizeof(uint64_t));
    t[0] = (pml4 + PAGE_SIZE) | PTE_P | PTE_W;
    t[512] = (pml4 + 2 * PAGE_SIZE) | PTE_P | PTE_W; /* PDPT[0] -> PD */
    t[1024] = 0 | PTE_P | PTE_W | PTE_PS;            /* PD[0]: 2 MiB identity at 0 */
    ap_cr3 = pml4;
    for (uint32_t i = 1; i < MAX_CPUS && i < boot.acpi.cpu_count; i++)
        ap_stacks[i] = memmap_alloc(&boot.memory, KERNEL_STACK_SIZE, PAGE_SIZE, paging_direct_map_end());
}

void ap_main(struct percpu *c);
void ap_main(struct percpu *c)
{
    /* A CPU that answered after the boot CPU gave up on it finds its block given to another
     * CPU: it must not touch it, so it stops here. */
    uint32_t my_id = cpuid(1, 0).ebx >> 24;
    if (my_id != c->apic_id)
        for (;;)
            __asm__ volatile("cli; hlt");
    write_cr3(paging_kernel_root());
    cpu_init_ap(c, c->kernel_rsp);
    idt_load();
    cpu_init_syscall();
    write_cr4(bsp_cr4);
    if (cpu_features.pat)
        wrmsr(MSR_PAT, PAT_VALUE);
    lapic_init_local();
    c->apic_id = lapic_id();
    lapic_timer_start(boot.options.timer_hz);
    __atomic_store_n(&ap_ready, 1, __ATOMIC_RELEASE);
    /* Idle in the scheduler until work for this CPU turns up. */
    bkl_acquire();
    schedule();
    bkl_release();
    arch_return_to_user();
}

void smp_start_aps(void)
{
    if (!ap_cr3)
        return;
    bsp_cr4 = read_cr4();
    memcpy(phys_to_virt(AP_TRAMPOLINE), ap_trampoline, (uint64_t)(ap_trampoline_end - ap_trampoline));
    struct ap_params *p = (struct ap_params *)((uint8_t *)phys_to_virt(AP_TRAMPOLINE) + (ap_params - ap_trampoline));
    uint32_t bsp = this_cpu()->apic_id;
    for (uint32_t i = 0; i < boot.acpi.cpu_count && cpus_online < MAX_CPUS; i++) {
        const struct acpi_cpu *cpu = &boot.acpi.cpus[i];
        if (!cpu->enabled || cpu->apic_id == bsp)
            continue;
        uint32_t index = cpus_online;
        if (!ap_stacks[index]) {
            log_warn("smp: no stack for CPU with APIC id %u; skipped", cpu->apic_id);
            continue;
        }
        struct percpu *c = cpu_get(index);
        c->index = index;
        c->apic_id = cpu->apic_id;
        c->kernel_rsp = (uint64_t)phys_to_virt(ap_stacks[index]) + KERNEL_STACK_SIZE;
        *p = (struct ap_params){
            .cr3 = ap_cr3,
            .efer = rdmsr(MSR_EFER) & (EFER_SCE | EFER_LME | EFER_NXE),
            .stack = c->kernel_rsp,
            .percpu = (uint64_t)c,
            .entry = (uint64_t)ap_main,
            .claim = 1,
        };
        ap_ready = 0;
        lapic_start_ap(cpu->apic_id, (uint8_t)(AP_TRAMPOLINE >> 12));
        for (int ms = 0; ms < AP_START_TIMEOUT_MS && !__atomic_load_n(&ap_ready, __ATOMIC_ACQUIRE); ms++)
            pit_wait_us(1000);
        if (!ap_ready) {
            log_warn("smp: CPU with APIC id %u did not start; skipped", cpu->apic_id);
            c->self = 0;
            c->apic_id = ~0u; /* if it starts after all, it finds this and stops (ap_main) */
            __atomic_store_n(&p->claim, 0, __ATOMIC_RELEASE); /* and a later wake-up halts at once */
            continue;
        }
        cpus_online++;
    }
    if (cpus_online > 1)
        log_info("smp: %u CPUs online", cpus_online);
}
