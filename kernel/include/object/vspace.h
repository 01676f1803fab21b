/* Address spaces: PML4 objects (VSpace roots), paging structures and frames. The invocations
 * that map and unmap arrive with the address-space work; this is the part threads need. */
#ifndef KEEL_OBJECT_VSPACE_H
#define KEEL_OBJECT_VSPACE_H

#include "object/structures.h"

/* Physical address of the thread's VSpace root, or 0 if it has none. */
uint64_t vspace_root_of(const struct tcb *t);
/* Loads the address space with root `root` on this CPU if it is not loaded already. */
void vspace_activate(uint64_t root);
/* A fresh PML4: empty user half, the kernel half shared. */
void vspace_init_root(uint64_t *pml4);

/* Boot-time: map one 4 KiB page into a root task's VSpace, taking paging structures from
 * `alloc` (which returns zeroed pages' physical addresses) and recording each one in `made`. */
typedef uint64_t (*boot_page_alloc_fn)(void *ctx);
bool vspace_boot_map(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t pte_flags, boot_page_alloc_fn alloc,
                     void *ctx, uint64_t *made, uint32_t *made_count, uint32_t made_max, uint8_t *made_level);

static inline bool vspace_usable(const struct tcb *t) { return vspace_root_of(t) != 0; }

#endif
