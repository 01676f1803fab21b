/* Frames and paging structures: mapping them into a VSpace and taking them out again. A frame
 * or table cap records its one mapping (vaddr and ASID) so that Unmap, and deleting the cap,
 * remove exactly that mapping; a copy of the cap can map the same memory elsewhere. */
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "klib.h"
#include "object/vspace.h"

static uint64_t frame_size(uint8_t type)
{
    return type == KEEL_OBJ_FRAME_1G ? HUGE_PAGE_SIZE : type == KEEL_OBJ_FRAME_2M ? LARGE_PAGE_SIZE : PAGE_SIZE;
}

static unsigned frame_level(uint8_t type)
{
    return type == KEEL_OBJ_FRAME_1G ? 3 : type == KEEL_OBJ_FRAME_2M ? 2 : 1;
}

/* The level whose entry a paging structure occupies: a PT sits in a PD entry, and so on. */
static unsigned table_level(uint8_t type)
{
    return type == KEEL_OBJ_PT ? 2 : type == KEEL_OBJ_PD ? 3 : 4;
}

static uint64_t table_phys(const struct cap *c) { return virt_to_phys((const void *)c->obj); }

/* Leaf entry bits for access/attribute words; 0 with *err set on a bad combination. */
static uint64_t leaf_bits(struct invocation *inv, const struct cap *c, uint64_t access, uint64_t attr, unsigned arg,
                          int *err)
{
    if (!(access & KEEL_MAP_READ) || (access & ~7ull)) {
        *err = inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, arg, 0, 0);
        return 0;
    }
    if ((access & KEEL_MAP_WRITE) && (access & KEEL_MAP_EXEC)) {
        *err = inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, arg, 0, 0); /* W^X */
        return 0;
    }
    if (!(c->rights & KEEL_RIGHT_READ)) {
        *err = inv_fail(inv, KEEL_E_INSUFFICIENT_RIGHTS, 1, KEEL_RIGHT_READ, 0, 0);
        return 0;
    }
    if ((access & KEEL_MAP_WRITE) && !(c->rights & KEEL_RIGHT_WRITE)) {
        *err = inv_fail(inv, KEEL_E_INSUFFICIENT_RIGHTS, 1, KEEL_RIGHT_WRITE, 0, 0);
        return 0;
    }
    uint64_t cache = attr & 0xff, pkey = (attr >> 8) & 0xff;
    if (cache > KEEL_CACHE_UC || (attr >> 16)) {
        *err = inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, arg + 1, 0, 0);
        return 0;
    }
    if (pkey > 15) {
        *err = inv_fail(inv, KEEL_E_RANGE, 3, arg + 1, 0, 15);
        return 0;
    }
    if (pkey && !cpu_enabled.pku) {
        *err = inv_fail(inv, KEEL_E_NOT_SUPPORTED, 1, arg + 1, 0, 0);
        return 0;
    }
    static const uint64_t cache_bits[3] = { PTE_CACHE_WB, PTE_CACHE_WC, PTE_CACHE_UC };
    uint64_t bits = PTE_P | PTE_U | cache_bits[cache] | (pkey << PTE_PKEY_SHIFT);
    if (access & KEEL_MAP_WRITE)
        bits |= PTE_W;
    if (!(access & KEEL_MAP_EXEC) && cpu_enabled.nx)
        bits |= PTE_NX;
    if (c->type != KEEL_OBJ_FRAME_4K)
        bits |= PTE_PS;
    return bits;
}

/* The entry a mapped cap occupies now, if its VSpace still exists and the entry still points at
 * this object (a VSpace can die, or an ASID be reused, while the cap lives on). */
static uint64_t *current_entry(const struct cap *c, struct vspace **vs_out)
{
    struct vspace *vs = asid_lookup((uint32_t)c->word2);
    if (!vs)
        return 0;
    bool frame = c->type >= KEEL_OBJ_FRAME_4K;
    uint32_t missing;
    uint64_t *e = vspace_entry(vs, c->word1, frame ? frame_level(c->type) : table_level(c->type), &missing);
    uint64_t phys = frame ? c->obj : table_phys(c);
    if (!e || !(*e & PTE_P) || (*e & PTE_ADDR_MASK) != phys)
        return 0;
    *vs_out = vs;
    return e;
}

static void clear_mapping(struct cap *c)
{
    c->flags &= (uint8_t)~CAP_FLAG_MAPPED;
    c->word1 = c->word2 = 0;
}

/* Removes the mapping of `c` without flushing; returns its VSpace if an entry was cleared. */
static struct vspace *unmap_entry(struct cap *c)
{
    struct vspace *vs = 0;
    uint64_t *e = (c->flags & CAP_FLAG_MAPPED) ? current_entry(c, &vs) : 0;
    if (e)
        *e = 0;
    return e ? vs : 0;
}

void mapping_cap_deleted(struct cap *c)
{
    if (!(c->flags & CAP_FLAG_MAPPED))
        return;
    uint64_t va = c->word1;
    bool frame = c->type >= KEEL_OBJ_FRAME_4K;
    struct vspace *vs = unmap_entry(c);
    /* A table may have held many translations, and the walker may have cached the path. */
    if (vs)
        vspace_flush(vs, frame ? &va : 0, 1, !frame);
    /* An unmapped table is emptied, even if its VSpace is gone: mapped again somewhere, its old
     * entries would revive mappings whose frame caps no longer know about them. */
    if (!frame)
        memset((void *)c->obj, 0, PAGE_SIZE);
    clear_mapping(c);
}

static int map_checks(struct invocation *inv, struct cap *c, struct vspace **vs, int *err)
{
    struct cte *root = inv->extra_caps ? inv->extra[0] : 0;
    if (!root || root->cap.type != KEEL_OBJ_PML4)
        return *err = inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 1, 0, 0);
    *vs = vspace_of_cap(&root->cap);
    if (!(*vs)->asid)
        return *err = inv_fail(inv, KEEL_E_NO_ASID, 0, 0, 0, 0);
    if (c->flags & CAP_FLAG_MAPPED)
        return *err = inv_fail(inv, KEEL_E_MAPPED, 1, c->word1, 0, 0);
    return 0;
}

int frame_invoke(struct invocation *inv)
{
    struct cap *c = &inv->slot->cap;
    uint64_t size = frame_size(c->type);
    int err = 0;
    switch (inv->label) {
    case KEEL_FRAME_MAP: {
        INV_NEED_ARGS(inv, 3);
        struct vspace *vs;
        if (map_checks(inv, c, &vs, &err))
            return err;
        uint64_t va = inv_arg(inv, 0);
        if (!IS_ALIGNED(va, size))
            return inv_fail(inv, KEEL_E_ALIGNMENT, 2, 0, size, 0);
        if (va >= USER_TOP || USER_TOP - va < size)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, USER_TOP - size);
        uint64_t bits = leaf_bits(inv, c, inv_arg(inv, 1), inv_arg(inv, 2), 1, &err);
        if (err)
            return err;
        uint32_t missing;
        uint64_t *e = vspace_entry(vs, va, frame_level(c->type), &missing);
        if (!e)
            return inv_fail(inv, KEEL_E_MISSING_TABLE, 1, missing, 0, 0);
        if (*e & PTE_P)
            return inv_fail(inv, KEEL_E_DELETE_FIRST, 1, va, 0, 0);
        *e = c->obj | bits; /* a not-present entry is never cached: no flush needed */
        c->flags |= CAP_FLAG_MAPPED;
        c->word1 = va;
        c->word2 = vs->asid;
        return 0;
    }
    case KEEL_FRAME_REMAP: {
        INV_NEED_ARGS(inv, 2);
        struct vspace *vs = 0;
        uint64_t *e = (c->flags & CAP_FLAG_MAPPED) ? current_entry(c, &vs) : 0;
        if (!e)
            return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0); /* not mapped */
        uint64_t bits = leaf_bits(inv, c, inv_arg(inv, 0), inv_arg(inv, 1), 0, &err);
        if (err)
            return err;
        *e = c->obj | bits;
        vspace_flush(vs, &c->word1, 1, false);
        return 0;
    }
    case KEEL_FRAME_UNMAP:
        mapping_cap_deleted(c); /* unmapping an unmapped frame is a no-op */
        return 0;
    case KEEL_FRAME_GET_ADDRESS:
        inv_reply(inv, 0, c->obj);
        inv_reply(inv, 1, size);
        inv_reply(inv, 2, (c->flags & CAP_FLAG_MAPPED) ? c->word1 : 0);
        return 0;
    default:
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    }
}

int paging_invoke(struct invocation *inv)
{
    struct cap *c = &inv->slot->cap;
    int err = 0;
    switch (inv->label) {
    case KEEL_PAGING_MAP: {
        INV_NEED_ARGS(inv, 1);
        struct vspace *vs;
        if (map_checks(inv, c, &vs, &err))
            return err;
        unsigned level = table_level(c->type);
        uint64_t va = ALIGN_DOWN(inv_arg(inv, 0), 1ull << (12 + 9 * (level - 1)));
        if (va >= USER_TOP)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, USER_TOP - 1);
        uint32_t missing;
        uint64_t *e = vspace_entry(vs, va, level, &missing);
        if (!e)
            return inv_fail(inv, KEEL_E_MISSING_TABLE, 1, missing, 0, 0);
        if (*e & PTE_P)
            return inv_fail(inv, KEEL_E_DELETE_FIRST, 1, va, 0, 0);
        /* Access is decided at the leaves; the upper levels allow everything. */
        *e = table_phys(c) | PTE_P | PTE_W | PTE_U;
        c->flags |= CAP_FLAG_MAPPED;
        c->word1 = va;
        c->word2 = vs->asid;
        return 0;
    }
    case KEEL_PAGING_UNMAP:
        mapping_cap_deleted(c);
        return 0;
    default:
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    }
}

int vspace_invoke(struct invocation *inv)
{
    struct vspace *vs = vspace_of_cap(&inv->slot->cap);
    if (inv->label != KEEL_VSPACE_UNMAP_BATCH)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    INV_NEED_ARGS(inv, 1);
    uint64_t n = inv_arg(inv, 0);
    if (n == 0 || n > KEEL_UNMAP_BATCH_MAX)
        return inv_fail(inv, KEEL_E_RANGE, 3, 0, 1, KEEL_UNMAP_BATCH_MAX);
    INV_NEED_ARGS(inv, 1 + n);
    /* Decode everything first: either every frame is unmapped or none is. */
    struct cte *frames[KEEL_UNMAP_BATCH_MAX];
    for (uint64_t i = 0; i < n; i++) {
        int err;
        frames[i] = lookup_cap_slot(inv->caller, inv_arg(inv, 1 + (unsigned)i), 2 + (unsigned)i, inv, &err);
        if (!frames[i])
            return err;
        const struct cap *f = &frames[i]->cap;
        if (f->type < KEEL_OBJ_FRAME_4K || f->type > KEEL_OBJ_FRAME_1G)
            return inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 2 + i, 0, 0);
        if ((f->flags & CAP_FLAG_MAPPED) && f->word2 != vs->asid)
            return inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, 1 + i, 0, 0); /* MR(1+i) is mapped elsewhere */
    }
    uint64_t vas[KEEL_UNMAP_BATCH_MAX], cleared = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct cap *f = &frames[i]->cap;
        uint64_t va = f->word1;
        if (unmap_entry(f))
            vas[cleared++] = va;
        clear_mapping(f);
    }
    /* One flush decision for the whole invocation: a few INVLPGs, or the whole PCID. */
    if (cleared)
        vspace_flush(vs, vas, (unsigned)cleared, false);
    inv_reply(inv, 0, cleared);
    return 0;
}
