/* Guarded CNode lookup. Each CNode cap carries a guard (value and length); each level consumes
 * the guard bits and then radix bits of the capability pointer, from the most significant end of
 * the `depth` bits being resolved. Pure: unit-tested on the host. */
#include "object/cspace.h"

static uint64_t bits_at(uint64_t value, uint32_t shift, uint32_t width)
{
    if (width == 0)
        return 0;
    uint64_t v = shift >= 64 ? 0 : value >> shift;
    return width >= 64 ? v : v & ((1ull << width) - 1);
}

struct cte *cspace_resolve(const struct cap *root, uint64_t cptr, uint32_t depth, bool exact,
                           struct lookup_fault *fault)
{
    const struct cap *node = root;
    uint32_t left = depth;
    fault->failure = 0;
    fault->bits_left = depth;
    if (node->type != KEEL_OBJ_CNODE || depth == 0 || depth > 64) {
        fault->failure = node->type != KEEL_OBJ_CNODE ? KEEL_LOOKUP_INVALID_ROOT : KEEL_LOOKUP_DEPTH_MISMATCH;
        return 0;
    }
    for (;;) {
        uint32_t level = (uint32_t)node->guard_bits + node->radix;
        if (level > left || level == 0) {
            fault->failure = KEEL_LOOKUP_DEPTH_MISMATCH;
            fault->bits_left = left;
            return 0;
        }
        if (bits_at(cptr, left - node->guard_bits, node->guard_bits) != node->word1) {
            fault->failure = KEEL_LOOKUP_GUARD_MISMATCH;
            fault->bits_left = left;
            return 0;
        }
        left -= level;
        struct cte *slot = &cnode_slots(node)[bits_at(cptr, left, node->radix)];
        if (left == 0)
            return slot;
        if (slot->cap.type != KEEL_OBJ_CNODE) {
            if (slot->cap.type == KEEL_CAP_NULL) {
                fault->failure = KEEL_LOOKUP_MISSING_CAP;
                fault->bits_left = left;
                return 0;
            }
            if (exact) {
                fault->failure = KEEL_LOOKUP_DEPTH_MISMATCH;
                fault->bits_left = left;
                return 0;
            }
            return slot;
        }
        node = &slot->cap;
    }
}
