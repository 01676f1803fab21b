/* Untyped memory: Retype carves objects out of it above a watermark; Revoke on its cap deletes
 * every object made from it, after which the next Retype starts from the bottom again. */
#include "object/untyped.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "klib.h"
#include "object/cdt.h"
#include "object/retype.h"
#include "object/tcb.h"
#include "object/vspace.h"

#define MAX_RETYPE_COUNT 4096 /* objects per invocation: keeps one invocation's latency bounded */

static void init_object(uint32_t type, uint64_t phys, uint64_t size, bool device)
{
    void *p = phys_to_virt(phys);
    switch (type) {
    case KEEL_OBJ_TCB:
        tcb_init(p);
        break;
    case KEEL_OBJ_PML4:
        vspace_init_root(p);
        break;
    case KEEL_OBJ_UNTYPED:
        break; /* cleared when it is retyped in turn */
    default:
        if (!device)
            memset(p, 0, size); /* never hand out another object's old contents */
        break;
    }
}

static int retype(struct invocation *inv, struct cte *ut_slot)
{
    struct cap *ut = &ut_slot->cap;
    struct tcb *caller = inv->caller;
    int err = 0;
    INV_NEED_ARGS(inv, 6);
    uint64_t type = inv_arg(inv, 0), size_param = inv_arg(inv, 1);
    uint64_t node_cptr = inv_arg(inv, 2), node_depth = inv_arg(inv, 3);
    uint64_t offset = inv_arg(inv, 4), count = inv_arg(inv, 5);
    bool device = ut->flags & CAP_FLAG_DEVICE;

    if (type == KEEL_CAP_NULL || type >= KEEL_OBJECT_TYPE_COUNT)
        return inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, 0, 0, 0);
    if (device && type != KEEL_OBJ_FRAME_4K && type != KEEL_OBJ_FRAME_2M && type != KEEL_OBJ_FRAME_1G &&
        type != KEEL_OBJ_UNTYPED)
        return inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, 0, 0, 0); /* device memory: frames only */
    uint64_t size, align, bad = 0;
    if ((err = object_size((uint32_t)type, size_param, cpu_enabled.page1g, &size, &align, &bad)))
        return inv_fail(inv, err, err == KEEL_E_RANGE ? 3 : err == KEEL_E_ALIGNMENT ? 2 : 1, bad,
                        err == KEEL_E_ALIGNMENT ? 4096 : (type == KEEL_OBJ_CNODE ? KEEL_CNODE_MIN_RADIX : 4096),
                        type == KEEL_OBJ_CNODE ? KEEL_CNODE_MAX_RADIX : ut->word1);

    /* The destination CNode: the caller's CSpace root, or one named by (cptr, depth). */
    const struct cap *node = &caller->cspace_root.cap;
    if (node_depth) {
        struct cte *s = lookup_slot_in(caller, node, node_cptr, node_depth, 3, inv, &err);
        if (!s)
            return err;
        if (s->cap.type != KEEL_OBJ_CNODE)
            return inv_fail(inv, KEEL_E_FAILED_LOOKUP, 3, KEEL_LOOKUP_INVALID_ROOT, 0, 3);
        node = &s->cap;
    }
    uint64_t slots = 1ull << node->radix;
    if (count == 0 || count > MAX_RETYPE_COUNT)
        return inv_fail(inv, KEEL_E_RANGE, 3, 5, 1, MAX_RETYPE_COUNT);
    if (offset >= slots || count > slots - offset)
        return inv_fail(inv, KEEL_E_RANGE, 3, 4, 0, slots - 1);
    struct cte *dest = cnode_slots(node) + offset;
    for (uint64_t i = 0; i < count; i++)
        if (dest[i].cap.type != KEEL_CAP_NULL)
            return inv_fail(inv, KEEL_E_DELETE_FIRST, 1, offset + i, 0, 0);

    /* No children left: everything made before is gone, start again from the bottom. */
    uint64_t watermark = cdt_has_children(ut_slot) ? ut->word2 : 0;
    struct retype_plan plan;
    uint64_t available;
    if ((err = retype_plan(ut->obj, ut->word1, watermark, size, align, count, &plan, &available)))
        return inv_fail(inv, err, 1, available, 0, 0);

    ut->word2 = plan.new_watermark;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t phys = plan.first + i * size;
        init_object((uint32_t)type, phys, size, device);
        struct cap *c = &dest[i].cap;
        memset(c, 0, sizeof *c);
        c->type = (uint8_t)type;
        c->rights = KEEL_RIGHTS_ALL;
        switch (type) {
        case KEEL_OBJ_UNTYPED:
            c->obj = phys;
            c->word1 = size;
            c->flags = ut->flags & CAP_FLAG_DEVICE;
            break;
        case KEEL_OBJ_FRAME_4K:
        case KEEL_OBJ_FRAME_2M:
        case KEEL_OBJ_FRAME_1G:
            c->obj = phys;
            c->flags = ut->flags & CAP_FLAG_DEVICE;
            break;
        case KEEL_OBJ_CNODE:
            c->radix = (uint8_t)size_param;
            c->obj = (uint64_t)phys_to_virt(phys);
            break;
        default:
            c->obj = (uint64_t)phys_to_virt(phys);
            break;
        }
        cdt_insert(ut_slot, &dest[i]);
    }
    inv_reply(inv, 0, ut->word1 - ut->word2);
    return 0;
}

int untyped_invoke(struct invocation *inv)
{
    struct cte *slot = inv->slot;
    switch (inv->label) {
    case KEEL_UNTYPED_RETYPE:
        return retype(inv, slot);
    case KEEL_UNTYPED_DESCRIBE:
        inv_reply(inv, 0, slot->cap.obj);
        inv_reply(inv, 1, slot->cap.word1);
        inv_reply(inv, 2, cdt_has_children(slot) ? slot->cap.word2 : 0);
        inv_reply(inv, 3, (slot->cap.flags & CAP_FLAG_DEVICE) ? 1 : 0);
        return 0;
    default:
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    }
}
