/* The kernel half of every address space, built once at boot:
 *   DIRECT_MAP_BASE + p  ->  p   for all physical memory (RW, NX, global; 1 GiB or 2 MiB pages)
 *   KERNEL_VMA_BASE + p  ->  p   for the image, 4 KiB pages, text RX, rodata R, data RW+NX
 *   MMIO window               device registers, uncached; the framebuffer, write-combining
 * Kernel-half PML4 slots are filled here (MMIO mappings are boot-time only) and never change
 * afterwards, so each VSpace copies them once and no kernel mapping change needs a shootdown. */
#include "arch/paging.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/x86.h"
#include "klib.h"
#include "log.h"
#include "panic.h"

#define MMIO_BASE 0xffffffffc0000000ul /* last GiB: PML4 511, PDPT 511 */
#define MMIO_SIZE (1ul << 30)

static uint64_t *kernel_pml4;
static uint64_t kernel_pml4_phys;
static uint64_t direct_map_end;
static uint64_t mmio_next = MMIO_BASE;
static struct memmap *boot_mem;
static uint64_t global_bit, nx_bit;

static uint64_t *table_at(uint64_t phys) { return phys_to_virt(phys); }

static uint64_t alloc_table(void)
{
    /* Below 4 GiB: the boot tables map only that much, and we write the new tables through them. */
    uint64_t phys = memmap_alloc(boot_mem, PAGE_SIZE, PAGE_SIZE, 4ul << 30);
    if (!phys)
        panic("paging: out of boot memory for page tables");
    memset(table_at(phys), 0, PAGE_SIZE);
    return phys;
}

/* The table one level down from entry `*e`, created if absent. */
static uint64_t *next_level(uint64_t *e)
{
    if (!(*e & PTE_P))
        *e = alloc_table() | PTE_P | PTE_W;
    KASSERT(!(*e & PTE_PS));
    return table_at(*e & PTE_ADDR_MASK);
}

static void map_4k(uint64_t va, uint64_t pa, uint64_t flags)
{
    uint64_t *pdpt = next_level(&kernel_pml4[PML4_INDEX(va)]);
    uint64_t *pd = next_level(&pdpt[PDPT_INDEX(va)]);
    uint64_t *pt = next_level(&pd[PD_INDEX(va)]);
    pt[PT_INDEX(va)] = pa | flags | PTE_P;
}

static void map_image_range(const char *start, const char *end, uint64_t flags)
{
    for (uint64_t va = (uint64_t)start; va < (uint64_t)end; va += PAGE_SIZE)
        map_4k(va, va - KERNEL_VMA_BASE, flags | global_bit);
}

static void build_direct_map(void)
{
    uint64_t data_flags = PTE_P | PTE_W | PTE_PS | global_bit | nx_bit;
    for (uint64_t pa = 0; pa < direct_map_end;) {
        uint64_t va = DIRECT_MAP_BASE + pa;
        uint64_t *pdpt = next_level(&kernel_pml4[PML4_INDEX(va)]);
        if (cpu_enabled.page1g && IS_ALIGNED(pa, HUGE_PAGE_SIZE) && pa + HUGE_PAGE_SIZE <= direct_map_end) {
            pdpt[PDPT_INDEX(va)] = pa | data_flags;
            pa += HUGE_PAGE_SIZE;
            continue;
        }
        uint64_t *pd = next_level(&pdpt[PDPT_INDEX(va)]);
        pd[PD_INDEX(va)] = pa | data_flags;
        pa += LARGE_PAGE_SIZE;
    }
}

void paging_init(struct memmap *boot_memory, uint64_t phys_limit)
{
    boot_mem = boot_memory;
    direct_map_end = ALIGN_UP(MAX(phys_limit, 4ul << 30), HUGE_PAGE_SIZE);
    if (direct_map_end > DIRECT_MAP_MAX)
        direct_map_end = DIRECT_MAP_MAX;
    global_bit = cpu_features.pge ? PTE_G : 0;
    nx_bit = cpu_enabled.nx ? PTE_NX : 0;

    kernel_pml4_phys = alloc_table();
    kernel_pml4 = table_at(kernel_pml4_phys);

    if (cpu_features.pat)
        wrmsr(MSR_PAT, PAT_VALUE);

    build_direct_map();
    map_image_range(__text_start, __text_end, 0);
    map_image_range(__rodata_start, __rodata_end, nx_bit);
    map_image_range(__data_start, __bss_end, PTE_W | nx_bit);

    if (cpu_features.pge)
        write_cr4(read_cr4() | CR4_PGE);
    write_cr3(kernel_pml4_phys);
}

static void *map_mmio(uint64_t phys, uint64_t size, uint64_t cache)
{
    uint64_t offset = phys & (PAGE_SIZE - 1);
    uint64_t pages = ALIGN_UP(size + offset, PAGE_SIZE) / PAGE_SIZE;
    if (pages * PAGE_SIZE > MMIO_SIZE - (mmio_next - MMIO_BASE)) /* MMIO_BASE + MMIO_SIZE wraps to 0 */
        panic("paging: MMIO window exhausted mapping %lx", phys);
    uint64_t va = mmio_next;
    for (uint64_t i = 0; i < pages; i++)
        map_4k(va + i * PAGE_SIZE, ALIGN_DOWN(phys, PAGE_SIZE) + i * PAGE_SIZE, PTE_W | cache | global_bit | nx_bit);
    mmio_next += pages * PAGE_SIZE;
    return (void *)(va + offset);
}

void *paging_map_mmio(uint64_t phys, uint64_t size) { return map_mmio(phys, size, PTE_CACHE_UC); }

/* Without PAT, PWT alone is write-through: still right for a framebuffer, only slower. */
void *paging_map_mmio_wc(uint64_t phys, uint64_t size) { return map_mmio(phys, size, PTE_CACHE_WC); }

uint64_t paging_kernel_root(void) { return kernel_pml4_phys; }
uint64_t paging_direct_map_end(void) { return direct_map_end; }

uint64_t paging_kernel_lookup(uint64_t va, unsigned *level)
{
    uint64_t *t = kernel_pml4;
    static const unsigned shifts[4] = { 39, 30, 21, 12 };
    for (unsigned l = 0; l < 4; l++) {
        uint64_t e = t[(va >> shifts[l]) & 511];
        if (!(e & PTE_P))
            return 0;
        if (l == 3 || (l > 0 && (e & PTE_PS))) {
            if (level)
                *level = 4 - l; /* 1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB */
            return e;
        }
        t = table_at(e & PTE_ADDR_MASK);
    }
    return 0;
}
