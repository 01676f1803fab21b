/* Per-CPU GDT and TSS. Each CPU has its own TSS (its own interrupt stacks and I/O bitmap), so
 * the GDT, which holds the TSS descriptor, is per CPU too. */
#include "arch/cpu.h"
#include "arch/x86.h"
#include "klib.h"

static struct percpu cpus[MAX_CPUS] __attribute__((aligned(4096)));
extern char kernel_boot_stack_top[];

struct __attribute__((packed)) table_ptr {
    uint16_t limit;
    uint64_t base;
};

static uint64_t segment(uint32_t flags_access)
{
    /* Base 0, limit 0xfffff; long-mode code/data ignore both. */
    return 0x000f00000000fffful | ((uint64_t)flags_access << 40);
}

_Static_assert(__builtin_offsetof(struct percpu, kernel_rsp) == PERCPU_KERNEL_RSP, "entry code offset");
_Static_assert(__builtin_offsetof(struct percpu, user_rsp) == PERCPU_USER_RSP, "entry code offset");
_Static_assert(__builtin_offsetof(struct percpu, ctx_top) == PERCPU_CTX_TOP, "entry code offset");
_Static_assert(__builtin_offsetof(struct percpu, current) == PERCPU_CURRENT, "entry code offset");

struct percpu *cpu_get(uint32_t index) { return index < MAX_CPUS ? &cpus[index] : 0; }

static void gdt_setup(struct percpu *c)
{
    c->gdt[0] = 0;
    c->gdt[GDT_KERNEL_CODE / 8] = segment(0xa09a); /* L, present, DPL0, code exec/read */
    c->gdt[GDT_KERNEL_DATA / 8] = segment(0xc092); /* present, DPL0, data read/write */
    c->gdt[GDT_USER_DATA / 8] = segment(0xc0f2);   /* DPL3 data */
    c->gdt[GDT_USER_CODE / 8] = segment(0xa0fa);   /* L, DPL3 code */

    uint64_t base = (uint64_t)&c->tss;
    uint64_t limit = sizeof(struct tss) - 1;
    c->gdt[GDT_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ul << 40) |
                          (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    c->gdt[GDT_TSS / 8 + 1] = base >> 32;
}

static void tss_setup(struct percpu *c, uint64_t kernel_stack_top)
{
    memset(&c->tss, 0, sizeof c->tss);
    c->tss.rsp[0] = kernel_stack_top;
    /* Each IST stack starts 16 bytes below its top (keeping 16-byte alignment); the word at that
     * start is this CPU's per-CPU pointer, which ist_common (isr.S) loads into GS base. */
    for (int i = 0; i < 3; i++) {
        uint64_t top = (uint64_t)&c->ist_stacks[i][IST_STACK_SIZE - IST_PERCPU_RESERVE];
        *(struct percpu **)top = c;
        c->tss.ist[i] = top;
    }
    c->tss.iomap_base = (uint16_t)__builtin_offsetof(struct tss, iomap);
    memset(c->tss.iomap, 0xff, sizeof c->tss.iomap); /* no port is reachable until granted */
}

static void cpu_load(struct percpu *c)
{
    struct table_ptr gdtr = { sizeof c->gdt - 1, (uint64_t)c->gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "mov %2, %%ds\n\t"
                     "mov %2, %%es\n\t"
                     "mov %2, %%ss\n\t"
                     :
                     : "m"(gdtr), "i"(GDT_KERNEL_CODE), "r"(GDT_KERNEL_DATA)
                     : "rax", "memory");
    __asm__ volatile("ltr %w0" ::"r"(GDT_TSS));
    /* FS/GS selectors null; the bases are set by MSR. */
    __asm__ volatile("mov %w0, %%fs\n\tmov %w0, %%gs" ::"r"(0));
    wrmsr(MSR_GS_BASE, (uint64_t)c);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
}

void cpu_init_ap(struct percpu *c, uint64_t stack_top)
{
    c->self = c;
    c->kernel_rsp = stack_top;
    gdt_setup(c);
    tss_setup(c, stack_top);
    cpu_load(c);
}

void cpu_init_boot(void)
{
    struct percpu *c = &cpus[0];
    c->self = c;
    c->index = 0;
    c->kernel_rsp = (uint64_t)kernel_boot_stack_top;
    gdt_setup(c);
    tss_setup(c, c->kernel_rsp);
    cpu_load(c);
}
