/* x86-64 4-level paging: entry bits and the kernel's own mappings. */
#ifndef KEEL_ARCH_PAGING_H
#define KEEL_ARCH_PAGING_H

#include <stdint.h>
#include "memmap.h"

#define PTE_P (1ul << 0)
#define PTE_W (1ul << 1)
#define PTE_U (1ul << 2)
#define PTE_PWT (1ul << 3)
#define PTE_PCD (1ul << 4)
#define PTE_A (1ul << 5)
#define PTE_D (1ul << 6)
#define PTE_PS (1ul << 7)       /* in a PDPTE/PDE: a 1 GiB / 2 MiB page */
#define PTE_PAT_4K (1ul << 7)   /* in a PTE: PAT index bit 2 */
#define PTE_G (1ul << 8)
#define PTE_PAT_LARGE (1ul << 12)
#define PTE_PKEY_SHIFT 59
#define PTE_NX (1ul << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ul

/* Our PAT layout (index = PAT:PCD:PWT): 0 WB, 1 WC, 2 UC-, 3 UC, 4 WB, 5 WC, 6 UC-, 7 UC.
 * So write-back needs no bits, write-combining is PWT, uncached is PCD|PWT. */
#define PAT_VALUE 0x0007010600070106ul
#define PTE_CACHE_WB 0ul
#define PTE_CACHE_WC PTE_PWT
#define PTE_CACHE_UC (PTE_PCD | PTE_PWT)

#define PML4_INDEX(va) (((va) >> 39) & 511)
#define PDPT_INDEX(va) (((va) >> 30) & 511)
#define PD_INDEX(va) (((va) >> 21) & 511)
#define PT_INDEX(va) (((va) >> 12) & 511)

/* Builds the final kernel address space (direct map, W^X image, MMIO window) from boot memory
 * and switches to it. `phys_limit` is the end of the physical range the direct map must cover. */
void paging_init(struct memmap *boot_memory, uint64_t phys_limit);
/* Maps device registers uncached into the kernel's MMIO window (boot time only). */
void *paging_map_mmio(uint64_t phys, uint64_t size);
/* The same, write-combining: for a framebuffer, whose stores may be merged and reordered. */
void *paging_map_mmio_wc(uint64_t phys, uint64_t size);
uint64_t paging_kernel_root(void);
/* The leaf entry mapping `va` in the kernel's tables (0 if unmapped), for tests and the panic screen. */
uint64_t paging_kernel_lookup(uint64_t va, unsigned *level);
uint64_t paging_direct_map_end(void);

#endif
