/* The kernel's virtual memory layout (see docs/architecture.md). */
#ifndef KEEL_ARCH_LAYOUT_H
#define KEEL_ARCH_LAYOUT_H

#include <stdint.h>

#define PAGE_SIZE 4096ul
#define PAGE_SHIFT 12
#define LARGE_PAGE_SIZE (2ul << 20)
#define HUGE_PAGE_SIZE (1ul << 30)

/* All of physical memory, mapped read/write, no-execute, global, from here. PML4 slots 256..383. */
#define DIRECT_MAP_BASE 0xffff800000000000ul
#define DIRECT_MAP_MAX (64ul << 40) /* 64 TiB of physical address space at most */
/* The kernel image: linked here, loaded at KERNEL_PHYS_BASE. PML4 slot 511, PDPT slot 510. */
#define KERNEL_VMA_BASE 0xffffffff80000000ul
#define KERNEL_PHYS_BASE 0x100000ul
/* First PML4 slot of the kernel half: every VSpace shares slots 256..511. */
#define KERNEL_PML4_FIRST 256
#define USER_TOP 0x0000800000000000ul

static inline void *phys_to_virt(uint64_t phys) { return (void *)(DIRECT_MAP_BASE + phys); }
static inline uint64_t virt_to_phys(const void *va)
{
    uint64_t v = (uint64_t)va;
    return v >= KERNEL_VMA_BASE ? v - KERNEL_VMA_BASE : v - DIRECT_MAP_BASE;
}

/* Linker-script symbols bounding the image's parts. */
extern char __kernel_phys_start[], __boot_end[];
extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __bss_end[], __kernel_end[];

#endif
