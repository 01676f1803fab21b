/* Retype arithmetic, kept apart from the object code so that the host tests can hammer it. */
#include "object/retype.h"
#include <keel/abi.h>

int object_size(uint32_t type, uint64_t size_param, bool page1g, uint64_t *size, uint64_t *align,
                uint64_t *bad_arg)
{
    uint32_t bits;
    switch (type) {
    case KEEL_OBJ_TCB: bits = KEEL_TCB_SIZE_BITS; break;
    case KEEL_OBJ_ENDPOINT: bits = KEEL_ENDPOINT_SIZE_BITS; break;
    case KEEL_OBJ_NOTIFICATION: bits = KEEL_NOTIFICATION_SIZE_BITS; break;
    case KEEL_OBJ_REPLY: bits = KEEL_REPLY_SIZE_BITS; break;
    case KEEL_OBJ_PML4: bits = KEEL_PML4_SIZE_BITS; break;
    case KEEL_OBJ_PDPT:
    case KEEL_OBJ_PD:
    case KEEL_OBJ_PT:
    case KEEL_OBJ_FRAME_4K: bits = 12; break;
    case KEEL_OBJ_FRAME_2M: bits = 21; break;
    case KEEL_OBJ_FRAME_1G:
        if (!page1g) {
            *bad_arg = 0;
            return KEEL_E_NOT_SUPPORTED;
        }
        bits = 30;
        break;
    case KEEL_OBJ_CNODE:
        if (size_param < KEEL_CNODE_MIN_RADIX || size_param > KEEL_CNODE_MAX_RADIX) {
            *bad_arg = 1;
            return KEEL_E_RANGE;
        }
        bits = (uint32_t)size_param + KEEL_SLOT_SIZE_BITS;
        break;
    case KEEL_OBJ_UNTYPED:
        /* Any multiple of a page: not only powers of two. */
        if (size_param < KEEL_UNTYPED_MIN_SIZE || size_param % 4096 || size_param > (1ull << 47)) {
            *bad_arg = 1;
            return size_param % 4096 ? KEEL_E_ALIGNMENT : KEEL_E_RANGE;
        }
        *size = size_param;
        *align = 4096;
        return 0;
    default:
        *bad_arg = 0;
        return KEEL_E_INVALID_ARGUMENT;
    }
    *size = 1ull << bits;
    *align = 1ull << bits;
    return 0;
}

int retype_plan(uint64_t base, uint64_t ut_size, uint64_t watermark, uint64_t size, uint64_t align,
                uint64_t count, struct retype_plan *plan, uint64_t *available)
{
    uint64_t end = base + ut_size;
    uint64_t start = base + watermark;
    uint64_t first = (start + align - 1) & ~(align - 1);
    *available = 0;
    if (first < start || first > end)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    *available = end - first;
    if (count == 0 || size == 0 || count > *available / size)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    plan->first = first;
    plan->new_watermark = first + count * size - base;
    return 0;
}
