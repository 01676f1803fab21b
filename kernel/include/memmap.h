/* The physical memory map of free RAM during boot: a sorted list of disjoint page ranges. */
#ifndef KEEL_MEMMAP_H
#define KEEL_MEMMAP_H

#include "klib.h"
#include "multiboot2.h"

#define MEMMAP_MAX 128
#define MEMMAP_PAGE 4096u
/* Below this lie the real-mode IVT/BDA/EBDA, the BIOS and the future SMP trampoline. */
#define MEMMAP_LOW_RESERVED 0x100000u

struct phys_range {
    uint64_t base, end; /* [base, end), both 4 KiB aligned */
};

struct memmap {
    struct phys_range free[MEMMAP_MAX]; /* sorted by base, disjoint, never adjacent */
    uint32_t count;
    uint32_t dropped; /* ranges lost to MEMMAP_MAX */
};

void memmap_init(struct memmap *m);
/* Add RAM: rounded inward to 4 KiB; empty after rounding → ignored. Merges with neighbours, keeps
 * the list sorted. Returns 0, or -1 (with diag) if the table is full (the range is then counted
 * in `dropped`), it overlaps an existing free range, or base + length wraps past 2^64. */
int memmap_add_free(struct memmap *m, uint64_t base, uint64_t length, struct diag *d);
/* Remove [base, base+length) rounded outward to 4 KiB from the free ranges (may split a range).
 * With the table full, a split drops the smaller remainder (counted in `dropped`): losing free
 * RAM is safe, handing out reserved RAM is not. Returns -1 (with diag) only if base + length
 * wraps past 2^64; everything from base up is reserved anyway. */
int memmap_reserve(struct memmap *m, uint64_t base, uint64_t length, struct diag *d);
/* Take `size` bytes (rounded up to 4 KiB) aligned to `align` (power of two, ≥ 4096) from the
 * highest free range below `limit` that fits, placing the block as high as possible with
 * base + size ≤ limit. Returns the physical base, or 0 when nothing fits or the arguments are
 * invalid. Used for boot-time page tables only. */
uint64_t memmap_alloc(struct memmap *m, uint64_t size, uint64_t align, uint64_t limit);
uint64_t memmap_total(const struct memmap *m);

/* Adds every MB2_MEM_AVAILABLE region, then reserves the first 1 MiB, the boot information, every
 * module and the symbol/string tables. The kernel image itself is reserved by the caller. */
int memmap_from_mb2(struct memmap *m, const struct mb2_info *mb, struct diag *d);

#endif
