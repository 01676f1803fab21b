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

#endif
