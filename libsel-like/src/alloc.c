/* Slot bitmap over the root CNode's empty range, and a first-fit untyped allocator that mirrors
 * the kernel's watermark arithmetic so that it picks an untyped that will accept the Retype. */
#include <keel/alloc.h>
#include <keel/invoke.h>
#include <keel/tls.h>

/* ---- Slots ---- */

static uint64_t slot_bits[KEEL_SLOT_ALLOC_MAX / 64]; /* bit set = allocated */
static uint64_t slot_start, slot_count, slot_used, slot_hint;

void keel_slot_alloc_init(uint64_t start, uint64_t end)
{
    slot_start = start;
    slot_count = end > start ? end - start : 0;
    if (slot_count > KEEL_SLOT_ALLOC_MAX)
        slot_count = KEEL_SLOT_ALLOC_MAX;
    for (unsigned i = 0; i < KEEL_SLOT_ALLOC_MAX / 64; i++)
        slot_bits[i] = 0;
    slot_used = 0;
    slot_hint = 0;
}

static bool bit_get(uint64_t i) { return (slot_bits[i / 64] >> (i % 64)) & 1; }
static void bit_set(uint64_t i) { slot_bits[i / 64] |= 1ull << (i % 64); }
static void bit_clear(uint64_t i) { slot_bits[i / 64] &= ~(1ull << (i % 64)); }

/* Record the library's own out-of-resource error so keel_last_error() agrees with the result. */
static int exhausted(void)
{
    struct keel_tls *t = keel_tls();
    t->last.error = KEEL_E_NOT_ENOUGH_MEMORY;
    t->last.label = KEEL_E_NOT_ENOUGH_MEMORY;
    for (unsigned i = 0; i < KEEL_MSG_REGISTERS; i++)
        t->last.mr[i] = 0;
    return KEEL_E_NOT_ENOUGH_MEMORY;
}

int keel_slot_alloc_range(uint64_t count, uint64_t *first)
{
    if (count == 0 || count > slot_count - slot_used)
        return exhausted();
    /* Next fit from the hint, then from the start: slots freed by a test are reused late. */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t run = 0;
        uint64_t from = pass == 0 ? slot_hint : 0;
        for (uint64_t i = from; i < slot_count; i++) {
            if (bit_get(i)) {
                run = 0;
                continue;
            }
            if (++run == count) {
                uint64_t base = i + 1 - count;
                for (uint64_t j = base; j <= i; j++)
                    bit_set(j);
                slot_used += count;
                slot_hint = i + 1 < slot_count ? i + 1 : 0;
                *first = slot_start + base;
                return 0;
            }
        }
    }
    return exhausted();
}

int keel_slot_alloc(uint64_t *slot) { return keel_slot_alloc_range(1, slot); }

void keel_slot_free(uint64_t slot)
{
    if (slot < slot_start || slot - slot_start >= slot_count || !bit_get(slot - slot_start))
        return;
    bit_clear(slot - slot_start);
    slot_used--;
}

bool keel_slot_is_allocated(uint64_t slot)
{
    return slot >= slot_start && slot - slot_start < slot_count && bit_get(slot - slot_start);
}

uint64_t keel_slot_free_count(void) { return slot_count - slot_used; }

void keel_slot_range(uint64_t *start, uint64_t *end)
{
    *start = slot_start;
    *end = slot_start + slot_count;
}

/* ---- Untyped ---- */

struct ut_entry {
    uint64_t cptr, paddr, size, used;
};
static struct ut_entry uts[KEEL_UNTYPED_ALLOC_MAX];
static unsigned ut_count;

int keel_object_size(uint64_t type, uint64_t size_param, uint64_t *bytes, uint64_t *align)
{
    unsigned bits;
    switch (type) {
    case KEEL_OBJ_TCB: bits = KEEL_TCB_SIZE_BITS; break;
    case KEEL_OBJ_ENDPOINT: bits = KEEL_ENDPOINT_SIZE_BITS; break;
    case KEEL_OBJ_NOTIFICATION: bits = KEEL_NOTIFICATION_SIZE_BITS; break;
    case KEEL_OBJ_REPLY: bits = KEEL_REPLY_SIZE_BITS; break;
    case KEEL_OBJ_PML4:
    case KEEL_OBJ_PDPT:
    case KEEL_OBJ_PD:
    case KEEL_OBJ_PT:
    case KEEL_OBJ_FRAME_4K: bits = KEEL_PAGE_BITS; break;
    case KEEL_OBJ_FRAME_2M: bits = 21; break;
    case KEEL_OBJ_FRAME_1G: bits = 30; break;
    case KEEL_OBJ_CNODE:
        if (size_param < KEEL_CNODE_MIN_RADIX || size_param > KEEL_CNODE_MAX_RADIX)
            return KEEL_E_RANGE;
        bits = (unsigned)size_param + KEEL_SLOT_SIZE_BITS;
        break;
    case KEEL_OBJ_UNTYPED:
        if (size_param % KEEL_UNTYPED_MIN_SIZE)
            return KEEL_E_ALIGNMENT;
        if (size_param < KEEL_UNTYPED_MIN_SIZE)
            return KEEL_E_RANGE;
        *bytes = size_param;
        *align = 1ull << KEEL_PAGE_BITS;
        return 0;
    default:
        return KEEL_E_INVALID_ARGUMENT;
    }
    *bytes = *align = 1ull << bits;
    return 0;
}

void keel_untyped_alloc_clear(void) { ut_count = 0; }

int keel_untyped_alloc_init(const struct keel_bootinfo *bi)
{
    ut_count = 0;
    for (uint32_t i = 0; i < bi->untyped_count && ut_count < KEEL_UNTYPED_ALLOC_MAX; i++) {
        const struct keel_untyped_info *u = &bi->untyped_list[i];
        if (u->is_device)
            continue;
        uts[ut_count++] = (struct ut_entry){ bi->untyped.start + i, u->paddr, u->size, 0 };
    }
    return 0;
}

int keel_untyped_alloc_add(uint64_t ut)
{
    struct keel_untyped_desc d;
    if (ut_count == KEEL_UNTYPED_ALLOC_MAX)
        return exhausted();
    int err = keel_untyped_describe(ut, &d);
    if (err)
        return err;
    if (d.is_device)
        return KEEL_E_INVALID_ARGUMENT;
    uts[ut_count++] = (struct ut_entry){ ut, d.paddr, d.size, d.watermark };
    return 0;
}

int keel_untyped_alloc_refresh(void)
{
    for (unsigned i = 0; i < ut_count; i++) {
        struct keel_untyped_desc d;
        int err = keel_untyped_describe(uts[i].cptr, &d);
        if (err)
            return err;
        uts[i].used = d.watermark;
    }
    return 0;
}

uint64_t keel_untyped_alloc_bytes_free(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < ut_count; i++)
        total += uts[i].size - uts[i].used;
    return total;
}

/* Does `count` objects fit above the watermark with the kernel's physical alignment? */
static bool fits(const struct ut_entry *u, uint64_t bytes, uint64_t align, uint64_t count)
{
    uint64_t start = u->paddr + u->used;
    uint64_t first = (start + align - 1) & ~(align - 1);
    uint64_t end = u->paddr + u->size;
    return first >= start && first <= end && count <= (end - first) / bytes;
}

int keel_alloc_objects(uint64_t type, uint64_t size_param, uint64_t count, uint64_t *first)
{
    uint64_t bytes, align;
    int err = keel_object_size(type, size_param, &bytes, &align);
    if (err)
        return err;
    uint64_t slot;
    err = keel_slot_alloc_range(count, &slot);
    if (err)
        return err;
    for (unsigned i = 0; i < ut_count; i++) {
        struct ut_entry *u = &uts[i];
        if (!fits(u, bytes, align, count))
            continue;
        err = keel_untyped_retype(u->cptr, type, size_param, 0, 0, slot, count);
        if (err == KEEL_E_NOT_ENOUGH_MEMORY) {
            /* Our watermark was stale (someone else retyped from it): learn and move on. */
            struct keel_untyped_desc d;
            if (!keel_untyped_describe(u->cptr, &d))
                u->used = d.watermark;
            continue;
        }
        if (!err)
            u->used = u->size - keel_last_reply_mr(0); /* reply MR0: bytes left */
        if (err) {
            for (uint64_t j = 0; j < count; j++)
                keel_slot_free(slot + j);
            return err;
        }
        *first = slot;
        return 0;
    }
    for (uint64_t j = 0; j < count; j++)
        keel_slot_free(slot + j);
    return exhausted();
}

int keel_alloc_object(uint64_t type, uint64_t size_param, uint64_t *cptr)
{
    return keel_alloc_objects(type, size_param, 1, cptr);
}

int keel_free_object(uint64_t cptr)
{
    int err = keel_cspace_delete(cptr);
    if (!err)
        keel_slot_free(cptr);
    return err;
}
