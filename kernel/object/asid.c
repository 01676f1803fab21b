/* ASID control and ASID pools. An ASID names a VSpace for the kernel: mapping caps record the
 * ASID rather than a pointer, so a dead VSpace (its ASID freed) is recognised safely. A pool is
 * one page of 512 VSpace pointers; KEEL_ASID_POOLS pools give the ASID space. */
#include "klib.h"
#include "arch/layout.h"
#include "object/cdt.h"
#include "object/retype.h"
#include "object/vspace.h"

struct asid_pool {
    struct vspace *entry[KEEL_ASID_POOL_ENTRIES];
};
_Static_assert(sizeof(struct asid_pool) == 1u << KEEL_ASID_POOL_SIZE_BITS, "pool is a page");

static struct asid_pool *pools[KEEL_ASID_POOLS];
/* ASID 0 means "none": pool 0's first entry is never handed out. */
#define RESERVED ((struct vspace *)1)

struct vspace *asid_lookup(uint32_t asid)
{
    uint32_t p = asid / KEEL_ASID_POOL_ENTRIES, i = asid % KEEL_ASID_POOL_ENTRIES;
    if (asid == 0 || p >= KEEL_ASID_POOLS || !pools[p])
        return 0;
    struct vspace *vs = pools[p]->entry[i];
    return vs == RESERVED ? 0 : vs;
}

static uint32_t assign(uint32_t p, struct vspace *vs)
{
    for (uint32_t i = 0; i < KEEL_ASID_POOL_ENTRIES; i++)
        if (!pools[p]->entry[i]) {
            pools[p]->entry[i] = vs;
            vs->asid = p * KEEL_ASID_POOL_ENTRIES + i;
            return vs->asid;
        }
    return 0;
}

void asid_boot_pool(void *pool_page, struct vspace *root_vs)
{
    pools[0] = pool_page;
    memset(pools[0], 0, sizeof *pools[0]);
    pools[0]->entry[0] = RESERVED;
    assign(0, root_vs);
}

void asid_release(struct vspace *vs)
{
    uint32_t p = vs->asid / KEEL_ASID_POOL_ENTRIES;
    if (vs->asid && p < KEEL_ASID_POOLS && pools[p] && pools[p]->entry[vs->asid % KEEL_ASID_POOL_ENTRIES] == vs)
        pools[p]->entry[vs->asid % KEEL_ASID_POOL_ENTRIES] = 0;
    vs->asid = 0;
}

void asid_pool_destroy(void *pool)
{
    struct asid_pool *ap = pool;
    for (uint32_t p = 0; p < KEEL_ASID_POOLS; p++) {
        if (pools[p] != ap)
            continue;
        for (uint32_t i = 0; i < KEEL_ASID_POOL_ENTRIES; i++) {
            struct vspace *vs = ap->entry[i];
            if (vs && vs != RESERVED)
                vspace_asid_lost(vs); /* its threads can no longer run, nor its mappings outlive the ASID */
        }
        pools[p] = 0;
    }
}

int asid_control_invoke(struct invocation *inv)
{
    int err = 0;
    if (inv->label != KEEL_ASID_CONTROL_MAKE_POOL)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    INV_NEED_ARGS(inv, 2);
    struct cte *ut = inv->extra_caps ? inv->extra[0] : 0;
    if (!ut || ut->cap.type != KEEL_OBJ_UNTYPED || (ut->cap.flags & CAP_FLAG_DEVICE))
        return inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 1, 0, 0);
    struct cte *dest = lookup_slot_in(inv->caller, &inv->caller->cspace_root.cap, inv_arg(inv, 0), inv_arg(inv, 1),
                                      1, inv, &err);
    if (!dest)
        return err;
    if (dest->cap.type != KEEL_CAP_NULL)
        return inv_fail(inv, KEEL_E_DELETE_FIRST, 1, 0, 0, 0);
    uint32_t p = 1; /* pool 0 is the boot pool's, whose entry 0 means "no ASID": never reused */
    while (p < KEEL_ASID_POOLS && pools[p])
        p++;
    if (p == KEEL_ASID_POOLS)
        return inv_fail(inv, KEEL_E_NOT_ENOUGH_MEMORY, 1, 0, 0, 0); /* every pool exists */
    uint64_t watermark = cdt_has_children(ut) ? ut->cap.word2 : 0, available;
    struct retype_plan plan;
    const uint64_t size = 1ull << KEEL_ASID_POOL_SIZE_BITS;
    if ((err = retype_plan(ut->cap.obj, ut->cap.word1, watermark, size, size, 1, &plan, &available)))
        return inv_fail(inv, err, 1, available, 0, 0);
    ut->cap.word2 = plan.new_watermark;
    pools[p] = phys_to_virt(plan.first);
    memset(pools[p], 0, size);
    memset(&dest->cap, 0, sizeof dest->cap);
    dest->cap.type = KEEL_CAP_ASID_POOL;
    dest->cap.rights = KEEL_RIGHTS_ALL;
    dest->cap.obj = (uint64_t)pools[p];
    cdt_insert(ut, dest);
    return 0;
}

int asid_pool_invoke(struct invocation *inv)
{
    if (inv->label != KEEL_ASID_POOL_ASSIGN)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    struct cte *root = inv->extra_caps ? inv->extra[0] : 0;
    if (!root || root->cap.type != KEEL_OBJ_PML4)
        return inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 1, 0, 0);
    struct vspace *vs = vspace_of_cap(&root->cap);
    if (vs->asid)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 1, vs->asid, 0, 0); /* it has one */
    uint32_t p = 0;
    while (p < KEEL_ASID_POOLS && pools[p] != (struct asid_pool *)inv->slot->cap.obj)
        p++;
    if (p == KEEL_ASID_POOLS)
        return inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 0, 0, 0); /* a dead pool */
    uint32_t asid = assign(p, vs);
    if (!asid)
        return inv_fail(inv, KEEL_E_NOT_ENOUGH_MEMORY, 1, 0, 0, 0); /* pool full */
    inv_reply(inv, 0, asid);
    return 0;
}
