/* VSpace roots and paging structures. */
#include "object/vspace.h"
#include "arch/cpu.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "arch/x86.h"
#include "klib.h"

uint64_t vspace_root_of(const struct tcb *t)
{
    const struct cap *c = &t->vspace_root.cap;
    return c->type == KEEL_OBJ_PML4 ? virt_to_phys((const void *)c->obj) : 0;
}

void vspace_activate(uint64_t root)
{
    if ((read_cr3() & PTE_ADDR_MASK) == root)
        return;
    write_cr3(root);
    this_cpu()->tlb.cr3_flush++;
}

void vspace_init_root(uint64_t *pml4)
{
    const uint64_t *kernel = phys_to_virt(paging_kernel_root());
    memset(pml4, 0, KERNEL_PML4_FIRST * sizeof(uint64_t));
    memcpy(pml4 + KERNEL_PML4_FIRST, kernel + KERNEL_PML4_FIRST, (512 - KERNEL_PML4_FIRST) * sizeof(uint64_t));
}

bool vspace_boot_map(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t pte_flags, boot_page_alloc_fn alloc,
                     void *ctx, uint64_t *made, uint32_t *made_count, uint32_t made_max, uint8_t *made_level)
{
    static const unsigned shifts[3] = { 39, 30, 21 };
    uint64_t *table = pml4;
    for (unsigned level = 0; level < 3; level++) {
        uint64_t *e = &table[(va >> shifts[level]) & 511];
        if (!(*e & PTE_P)) {
            if (*made_count == made_max)
                return false;
            uint64_t page = alloc(ctx);
            if (!page)
                return false;
            made[*made_count] = page;
            made_level[*made_count] = (uint8_t)(level + 1); /* 1 PDPT, 2 PD, 3 PT */
            (*made_count)++;
            *e = page | PTE_P | PTE_W | PTE_U;
        }
        table = phys_to_virt(*e & PTE_ADDR_MASK);
    }
    table[(va >> 12) & 511] = pa | pte_flags | PTE_P | PTE_U;
    return true;
}
