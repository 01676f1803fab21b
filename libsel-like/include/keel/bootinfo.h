/* The root task's BootInfo page: where its capabilities are and what memory it owns. */
#ifndef KEEL_BOOTINFO_H
#define KEEL_BOOTINFO_H

#include <keel/abi.h>
#include <stdbool.h>
#include <stddef.h>

/* The BootInfo the program started with (crt0 records RDI), or NULL if it is missing or its
 * magic/version/counts do not check out. */
struct keel_bootinfo *keel_bootinfo_get(void);
/* 0 if bi looks sane, else KEEL_E_INVALID_ARGUMENT (bad magic, version, counts or ranges). */
int keel_bootinfo_check(const struct keel_bootinfo *bi);

static inline uint64_t keel_bootinfo_untyped_cptr(const struct keel_bootinfo *bi, uint32_t i)
{
    return bi->untyped.start + i;
}
static inline uint64_t keel_bootinfo_slot_count(const struct keel_bootinfo *bi)
{
    return 1ull << bi->cnode_radix;
}
static inline bool keel_bootinfo_has(const struct keel_bootinfo *bi, uint64_t feature)
{
    return (bi->features & feature) != 0;
}
/* Guard bits on the root CNode cap (so that a slot is addressed with depth 64). */
static inline uint64_t keel_bootinfo_guard_bits(const struct keel_bootinfo *bi)
{
    return 64 - bi->cnode_radix;
}
/* A process started with a BootInfo of its own (KEEL_BOOTINFO_CHILD): it has the root task's
 * slot layout but only what its creator gave it, and it ends by exiting (main's return value goes
 * to bi->supervisor as the exit status), never by ending the machine. */
static inline bool keel_bootinfo_is_child(const struct keel_bootinfo *bi)
{
    return bi && (bi->flags & KEEL_BOOTINFO_CHILD) != 0;
}
/* The module called `name`, or NULL. */
const struct keel_module_info *keel_bootinfo_module(const struct keel_bootinfo *bi, const char *name);
/* Index of the largest RAM (non-device) untyped, or -1 if there is none. */
int keel_bootinfo_largest_ram_untyped(const struct keel_bootinfo *bi);
/* Print the BootInfo through keel_printf. */
void keel_bootinfo_print(const struct keel_bootinfo *bi);

#endif
