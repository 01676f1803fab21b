/* Address-space helpers (see keel/vspace.h). */
#include <keel/alloc.h>
#include <keel/invoke.h>
#include <keel/tls.h>
#include <keel/vspace.h>

/* PTE bits, as the hardware defines them (Intel SDM Vol. 3A, 4.5). */
#define PTE_W (1ull << 1)
#define PTE_NX (1ull << 63)

static int new_object(const struct keel_vspace_alloc *a, uint64_t type, uint64_t size_param, uint64_t *cptr)
{
    if (a && a->object)
        return a->object(a->ctx, type, size_param, cptr);
    return keel_alloc_object(type, size_param, cptr);
}

static int new_slot(const struct keel_vspace_alloc *a, uint64_t *slot)
{
    if (a && a->slot)
        return a->slot(a->ctx, slot);
    return keel_slot_alloc(slot);
}

int keel_vspace_map_frame(uint64_t frame, uint64_t vspace, uint64_t va, uint64_t access, uint64_t attr,
                          const struct keel_vspace_alloc *alloc)
{
    /* At most PDPT, PD and PT can be missing: the fourth try maps or fails for good. */
    for (int tries = 0; tries < 4; tries++) {
        int err = keel_frame_map(frame, vspace, va, access, attr);
        if (err != KEEL_E_MISSING_TABLE)
            return err;
        uint64_t type = keel_last_error_detail(0), table;
        if (type != KEEL_OBJ_PDPT && type != KEEL_OBJ_PD && type != KEEL_OBJ_PT)
            return KEEL_E_INVALID_ARGUMENT;
        if ((err = new_object(alloc, type, 0, &table)) || (err = keel_paging_map(table, vspace, va)))
            return err;
    }
    return KEEL_E_MISSING_TABLE;
}

int keel_vspace_clone_image(const struct keel_bootinfo *bi, uint64_t *vspace_out,
                            const struct keel_vspace_alloc *alloc)
{
    uint64_t pml4 = 0;
    int err = new_object(alloc, KEEL_OBJ_PML4, 0, &pml4);
    if (err)
        pml4 = 0;
    else
        err = keel_asid_pool_assign(KEEL_SLOT_ASID_POOL, pml4, 0);
    for (uint64_t s = bi->image_frames.start; !err && s < bi->image_frames.end; s++) {
        struct keel_frame_info fi;
        uint64_t pte, level, copy;
        if ((err = keel_frame_get_address(s, &fi)) || !fi.mapped_vaddr)
            continue;
        if ((err = keel_debug_read_pte(KEEL_SLOT_DEBUG, KEEL_SLOT_VSPACE, fi.mapped_vaddr, &pte, &level)))
            break;
        uint64_t access = KEEL_MAP_READ | ((pte & PTE_W) ? KEEL_MAP_WRITE : 0) |
                          ((pte & PTE_NX) || (pte & PTE_W) ? 0 : KEEL_MAP_EXEC);
        if ((err = new_slot(alloc, &copy)) || (err = keel_cspace_copy(copy, s, KEEL_RIGHTS_ALL)))
            break;
        err = keel_vspace_map_frame(copy, pml4, fi.mapped_vaddr, access, KEEL_CACHE_WB, alloc);
    }
    *vspace_out = pml4;
    return err;
}
