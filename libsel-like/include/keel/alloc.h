/* Allocators for the root task: free slots of its root CNode, and memory from Untyped caps.
 * Not thread-safe: allocate from one thread. */
#ifndef KEEL_ALLOC_H
#define KEEL_ALLOC_H

#include <keel/abi.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- Slots of the root CNode (addressed at depth 64) ---- */
#define KEEL_SLOT_ALLOC_MAX 65536  /* slots managed; a larger empty range is used up to this many */

/* Manage [start, end); crt0 does this with the BootInfo empty range. */
void keel_slot_alloc_init(uint64_t start, uint64_t end);
/* One free slot, or KEEL_E_NOT_ENOUGH_MEMORY (last error detail MR0 = 0) when none is left. */
int keel_slot_alloc(uint64_t *slot);
/* `count` consecutive free slots (for Retype of several objects). */
int keel_slot_alloc_range(uint64_t count, uint64_t *first);
/* Give a slot back; the caller must have emptied it. Freeing an unmanaged slot is ignored. */
void keel_slot_free(uint64_t slot);
bool keel_slot_is_allocated(uint64_t slot);
uint64_t keel_slot_free_count(void);
void keel_slot_range(uint64_t *start, uint64_t *end);

/* ---- Untyped memory ---- */
#define KEEL_UNTYPED_ALLOC_MAX KEEL_BOOTINFO_MAX_UNTYPED

/* Size and alignment (bytes) of one object as the kernel lays it out; 0 or KEEL_E_INVALID_ARGUMENT
 * / KEEL_E_RANGE like Retype would answer. */
int keel_object_size(uint64_t type, uint64_t size_param, uint64_t *bytes, uint64_t *align);

/* Use every RAM untyped listed in the BootInfo (assumed unused: watermark 0). */
int keel_untyped_alloc_init(const struct keel_bootinfo *bi);
/* Forget all untyped caps (nothing is deleted). */
void keel_untyped_alloc_clear(void);
/* Add one untyped cap, reading its geometry and watermark with Describe. Device untyped are refused
 * (KEEL_E_INVALID_ARGUMENT). */
int keel_untyped_alloc_add(uint64_t ut);
/* Re-read every watermark (after a Revoke of one of the caps gave memory back). */
int keel_untyped_alloc_refresh(void);
/* Bytes left over all untyped caps (before alignment losses). */
uint64_t keel_untyped_alloc_bytes_free(void);

/* Retype one object (size_param as for Retype: CNode radix, Untyped bytes, else 0) into a fresh
 * slot of the root CNode; *cptr = that slot. KEEL_E_NOT_ENOUGH_MEMORY when no untyped has room
 * (detail MR0 = 0) or no slot is free. */
int keel_alloc_object(uint64_t type, uint64_t size_param, uint64_t *cptr);
/* `count` objects into consecutive slots starting at *first. */
int keel_alloc_objects(uint64_t type, uint64_t size_param, uint64_t count, uint64_t *first);
/* Delete the cap and free its slot. The memory returns only when its untyped is revoked. */
int keel_free_object(uint64_t cptr);

#endif
