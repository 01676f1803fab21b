/* CSpace addressing: resolving a capability pointer through guarded CNodes. */
#ifndef KEEL_OBJECT_CSPACE_H
#define KEEL_OBJECT_CSPACE_H

#include "object/structures.h"

struct lookup_fault {
    uint32_t failure;   /* enum keel_lookup_failure, 0 if none */
    uint32_t bits_left;
};

/* Resolves `depth` bits of `cptr` starting at the CNode cap `root`.
 * exact: all `depth` bits must be consumed (slot addressing for CNode operations); otherwise the
 * walk may stop early at a slot holding a non-CNode cap (capability addressing, depth 64).
 * Returns the slot, or NULL with `fault` filled in. An empty final slot is returned as such. */
struct cte *cspace_resolve(const struct cap *root, uint64_t cptr, uint32_t depth, bool exact,
                           struct lookup_fault *fault);

/* The common layout, resolved inline: a CSpace root that is one CNode whose guard and radix cover
 * all 64 bits. Then a depth-64 lookup is a guard comparison and one index, and cspace_resolve
 * would return the same slot (exact or not: no bits are left). cspace_flat_slot returns NULL
 * when the guard does not match; the caller then asks cspace_resolve for the failure. A radix is
 * at most KEEL_CNODE_MAX_RADIX (retype), so the shifts below are defined. */
static inline bool cspace_is_flat(const struct cap *root)
{
    return root->type == KEEL_OBJ_CNODE && root->guard_bits + root->radix == 64;
}
static inline struct cte *cspace_flat_slot(const struct cap *root, uint64_t cptr, bool *found)
{
    *found = (cptr >> root->radix) == root->word1;
    return &cnode_slots(root)[cptr & ((1ull << root->radix) - 1)];
}

#endif
