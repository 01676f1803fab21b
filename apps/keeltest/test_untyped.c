/* Untyped: Retype of every object type, its errors, Describe and the watermark, Revoke. */
#include "ktest.h"

static void retype_and_identify(uint64_t type, uint64_t size)
{
    uint64_t cptr;
    ASSERT_OK(kt_new(type, size, &cptr));
    struct keel_cap_identity id;
    ASSERT_OK(kt_identify(cptr, &id));
    EXPECT_EQ(id.type, type);
    EXPECT_NE(id.object, 0);
    /* assumption: a freshly retyped cap carries all rights; badgeable ones start unbadged. */
    EXPECT_EQ(id.rights, KEEL_RIGHTS_ALL);
    if (type == KEEL_OBJ_ENDPOINT || type == KEEL_OBJ_NOTIFICATION)
        EXPECT_EQ(id.badge, 0);
}

KEEL_TEST(retype_tcb) { retype_and_identify(KEEL_OBJ_TCB, 0); }
KEEL_TEST(retype_endpoint) { retype_and_identify(KEEL_OBJ_ENDPOINT, 0); }
KEEL_TEST(retype_notification) { retype_and_identify(KEEL_OBJ_NOTIFICATION, 0); }
KEEL_TEST(retype_reply) { retype_and_identify(KEEL_OBJ_REPLY, 0); }
KEEL_TEST(retype_cnode) { retype_and_identify(KEEL_OBJ_CNODE, 4); }
KEEL_TEST(retype_untyped) { retype_and_identify(KEEL_OBJ_UNTYPED, 3 * 4096); }
KEEL_TEST(retype_pml4) { retype_and_identify(KEEL_OBJ_PML4, 0); }
KEEL_TEST(retype_pdpt) { retype_and_identify(KEEL_OBJ_PDPT, 0); }
KEEL_TEST(retype_pd) { retype_and_identify(KEEL_OBJ_PD, 0); }
KEEL_TEST(retype_pt) { retype_and_identify(KEEL_OBJ_PT, 0); }
KEEL_TEST(retype_frame_4k) { retype_and_identify(KEEL_OBJ_FRAME_4K, 0); }
KEEL_TEST(retype_frame_2m) { retype_and_identify(KEEL_OBJ_FRAME_2M, 0); }

/* The pool is at most 64 MiB: a 1 GiB frame either is unsupported or does not fit. */
KEEL_TEST(retype_frame_1g_refused)
{
    uint64_t slot;
    ASSERT_OK(kt_slot(&slot));
    int want = keel_bootinfo_has(kt_bi, KEEL_FEATURE_1G_PAGES) ? KEEL_E_NOT_ENOUGH_MEMORY : KEEL_E_NOT_SUPPORTED;
    uint64_t ut;
    ASSERT_OK(kt_untyped(1ull << 20, &ut));
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_FRAME_1G, 0, 0, 0, slot, 1), want);
}

/* Several objects land in consecutive slots, packed one after another. */
KEEL_TEST(retype_count_fills_consecutive_slots)
{
    uint64_t ut, first;
    ASSERT_OK(kt_untyped(4096, &ut));
    ASSERT_OK(kt_slots(4, &first));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, first, 4));
    EXPECT_EQ(keel_last_reply_mr(0), 4096 - 4 * 64); /* bytes left */
    struct keel_cap_identity prev;
    ASSERT_OK(kt_identify(first, &prev));
    for (uint64_t i = 1; i < 4; i++) {
        struct keel_cap_identity id;
        ASSERT_OK(kt_identify(first + i, &id));
        EXPECT_EQ(id.type, KEEL_OBJ_ENDPOINT);
        /* assumption: Identify's object address is linear in physical memory (direct map). */
        EXPECT_EQ(id.object, prev.object + 64);
        prev = id;
    }
}

KEEL_TEST(retype_bad_type)
{
    uint64_t ut, slot;
    ASSERT_OK(kt_untyped(4096, &ut));
    ASSERT_OK(kt_slot(&slot));
    const uint64_t bad[] = { KEEL_CAP_NULL, KEEL_OBJECT_TYPE_COUNT, KEEL_CAP_DEBUG, KEEL_CAP_IRQ_HANDLER, ~0ull };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_ERR(keel_untyped_retype(ut, bad[i], 0, 0, 0, slot, 1), KEEL_E_INVALID_ARGUMENT);
        EXPECT_DETAIL(0, 0); /* argument 0: the type */
    }
    EXPECT_EQ(kt_type(slot), KEEL_CAP_NULL);
}

KEEL_TEST(retype_cnode_radix_range)
{
    uint64_t ut, slot;
    ASSERT_OK(kt_untyped(4096, &ut));
    ASSERT_OK(kt_slot(&slot));
    const uint64_t bad[] = { 0, KEEL_CNODE_MAX_RADIX + 1, 64 };
    for (unsigned i = 0; i < 3; i++) {
        EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_CNODE, bad[i], 0, 0, slot, 1), KEEL_E_RANGE);
        EXPECT_DETAIL(0, 1);
        /* assumption: RANGE reports the allowed radix range in MR1/MR2. */
        EXPECT_DETAIL(1, KEEL_CNODE_MIN_RADIX);
        EXPECT_DETAIL(2, KEEL_CNODE_MAX_RADIX);
    }
}

KEEL_TEST(retype_untyped_size_checks)
{
    uint64_t ut, slot;
    ASSERT_OK(kt_untyped(16384, &ut));
    ASSERT_OK(kt_slot(&slot));
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_UNTYPED, 4096 + 8, 0, 0, slot, 1), KEEL_E_ALIGNMENT);
    EXPECT_DETAIL(0, 1);
    EXPECT_DETAIL(1, 4096); /* assumption: MR1 = the required alignment, a page */
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_UNTYPED, 0, 0, 0, slot, 1), KEEL_E_RANGE);
    EXPECT_DETAIL(0, 1);
    EXPECT_OK(keel_untyped_retype(ut, KEEL_OBJ_UNTYPED, 2 * 4096, 0, 0, slot, 1));
}

KEEL_TEST(retype_count_zero)
{
    uint64_t ut, slot;
    ASSERT_OK(kt_untyped(4096, &ut));
    ASSERT_OK(kt_slot(&slot));
    /* assumption: count 0 is a RANGE error on argument 5 (seL4 refuses it the same way). */
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, slot, 0), KEEL_E_RANGE);
    EXPECT_DETAIL(0, 5);
}

KEEL_TEST(retype_destination_occupied)
{
    uint64_t ut, first;
    ASSERT_OK(kt_untyped(4096, &ut));
    ASSERT_OK(kt_slots(2, &first));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, first + 1, 1));
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, first + 1, 1), KEEL_E_DELETE_FIRST);
    /* Two objects, the second slot full: nothing may be made at all. */
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, 0, 0, first, 2), KEEL_E_DELETE_FIRST);
    EXPECT_EQ(kt_type(first), KEEL_CAP_NULL);
    EXPECT_EQ(kt_type(first + 1), KEEL_OBJ_ENDPOINT);
    struct keel_untyped_desc d;
    ASSERT_OK(keel_untyped_describe(ut, &d));
    EXPECT_EQ(d.watermark, 64);
}

KEEL_TEST(retype_slot_out_of_range)
{
    uint64_t ut;
    ASSERT_OK(kt_untyped(4096, &ut));
    uint64_t slots = keel_bootinfo_slot_count(kt_bi);
    /* assumption: a first slot past the CNode is RANGE on argument 4 with the valid range. */
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, slots, 1), KEEL_E_RANGE);
    EXPECT_DETAIL(0, 4);
    EXPECT_DETAIL(1, 0);
    EXPECT_DETAIL(2, slots - 1);
    /* The last slot is free only if the empty range reaches it; the run past it is RANGE either way. */
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, slots - 1, 2), KEEL_E_RANGE);
}

KEEL_TEST(retype_not_enough_memory)
{
    uint64_t ut, first;
    ASSERT_OK(kt_untyped(4096, &ut));
    ASSERT_OK(kt_slots(3, &first));
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, 0, 0, first, 3), KEEL_E_NOT_ENOUGH_MEMORY);
    EXPECT_DETAIL(0, 4096); /* bytes available */
    EXPECT_EQ(kt_type(first), KEEL_CAP_NULL);
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, 0, 0, first, 2));
    EXPECT_EQ(keel_last_reply_mr(0), 0);
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, first + 2, 1), KEEL_E_NOT_ENOUGH_MEMORY);
    EXPECT_DETAIL(0, 0);
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_FRAME_2M, 0, 0, 0, first + 2, 1), KEEL_E_NOT_ENOUGH_MEMORY);
}

KEEL_TEST(retype_device_untyped_only_frames)
{
    int dev = -1;
    for (uint32_t i = 0; i < kt_bi->untyped_count && dev < 0; i++)
        if (kt_bi->untyped_list[i].is_device)
            dev = (int)i;
    if (dev < 0) {
        ktest_skip("no device untyped in the BootInfo");
        return;
    }
    uint64_t ut = keel_bootinfo_untyped_cptr(kt_bi, (uint32_t)dev), slot;
    struct keel_untyped_desc d;
    ASSERT_OK(keel_untyped_describe(ut, &d));
    EXPECT_TRUE(d.is_device);
    ASSERT_OK(kt_slot(&slot));
    /* assumption: kernel objects from device memory are refused as a bad type (argument 0). */
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, slot, 1), KEEL_E_INVALID_ARGUMENT);
    EXPECT_DETAIL(0, 0);
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, 0, 0, slot, 1), KEEL_E_INVALID_ARGUMENT);
    if (d.watermark == 0 && d.size >= 4096) {
        EXPECT_OK(keel_untyped_retype(ut, KEEL_OBJ_FRAME_4K, 0, 0, 0, slot, 1));
        EXPECT_EQ(kt_type(slot), KEEL_OBJ_FRAME_4K);
        EXPECT_OK(keel_cspace_revoke(ut)); /* a boot cap: give the page back ourselves */
        ASSERT_OK(keel_untyped_describe(ut, &d));
        EXPECT_EQ(d.watermark, 0);
    }
}

/* The watermark moves by object size after aligning the physical address to the object size. */
static uint64_t after(uint64_t paddr, uint64_t watermark, uint64_t size)
{
    uint64_t first = (paddr + watermark + size - 1) & ~(size - 1);
    return first + size - paddr;
}

KEEL_TEST(untyped_describe_watermark)
{
    uint64_t ut, first;
    ASSERT_OK(kt_untyped(16384, &ut));
    ASSERT_OK(kt_slots(5, &first));
    struct keel_untyped_desc d;
    ASSERT_OK(keel_untyped_describe(ut, &d));
    EXPECT_EQ(d.size, 16384);
    EXPECT_EQ(d.watermark, 0);
    EXPECT_EQ(d.is_device, 0);
    EXPECT_EQ(d.paddr % 4096, 0);
    const struct {
        uint64_t type, size_param, bytes;
    } steps[] = {
        { KEEL_OBJ_ENDPOINT, 0, 64 },
        { KEEL_OBJ_TCB, 0, 2048 },          /* aligned up to 2 KiB */
        { KEEL_OBJ_NOTIFICATION, 0, 64 },
        { KEEL_OBJ_FRAME_4K, 0, 4096 },     /* aligned up to the next page */
        { KEEL_OBJ_CNODE, 6, 4096 },        /* 64 slots of 64 bytes */
    };
    uint64_t wm = 0;
    for (unsigned i = 0; i < 5; i++) {
        wm = after(d.paddr, wm, steps[i].bytes);
        ASSERT_OK(keel_untyped_retype(ut, steps[i].type, steps[i].size_param, 0, 0, first + i, 1));
        EXPECT_EQ(keel_last_reply_mr(0), 16384 - wm);
        struct keel_untyped_desc now;
        ASSERT_OK(keel_untyped_describe(ut, &now));
        EXPECT_EQ(now.watermark, wm);
    }
    EXPECT_EQ(wm, 16384);
}

KEEL_TEST(untyped_revoke_resets_watermark)
{
    uint64_t ut, first;
    ASSERT_OK(kt_untyped(8192, &ut));
    ASSERT_OK(kt_slots(2, &first));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, first, 2));
    struct keel_cap_identity before;
    ASSERT_OK(kt_identify(first, &before));
    ASSERT_OK(keel_cspace_revoke(ut));
    EXPECT_EQ(kt_type(first), KEEL_CAP_NULL);
    EXPECT_EQ(kt_type(first + 1), KEEL_CAP_NULL);
    EXPECT_EQ(kt_type(ut), KEEL_OBJ_UNTYPED);
    struct keel_untyped_desc d;
    ASSERT_OK(keel_untyped_describe(ut, &d));
    EXPECT_EQ(d.watermark, 0);
    /* The memory is reused from the start. */
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, first, 1));
    struct keel_cap_identity again;
    ASSERT_OK(kt_identify(first, &again));
    EXPECT_EQ(again.object, before.object);
}

KEEL_TEST(untyped_describe_matches_bootinfo)
{
    for (uint32_t i = 0; i < kt_bi->untyped_count; i++) {
        const struct keel_untyped_info *u = &kt_bi->untyped_list[i];
        struct keel_untyped_desc d;
        ASSERT_OK(keel_untyped_describe(keel_bootinfo_untyped_cptr(kt_bi, i), &d));
        EXPECT_EQ(d.paddr, u->paddr);
        EXPECT_EQ(d.size, u->size);
        EXPECT_EQ(d.is_device, u->is_device);
        EXPECT_EQ(u->size % 4096, 0);
    }
}

KEEL_TEST(retype_on_non_untyped_is_illegal)
{
    /* Not an endpoint: a Call on an endpoint is IPC, not an invocation, and would block. */
    uint64_t slot;
    ASSERT_OK(kt_slot(&slot));
    EXPECT_ERR(keel_untyped_retype(KEEL_SLOT_TCB, KEEL_OBJ_ENDPOINT, 0, 0, 0, slot, 1), KEEL_E_ILLEGAL_OPERATION);
    EXPECT_ERR(keel_untyped_retype(KEEL_SLOT_CNODE, KEEL_OBJ_ENDPOINT, 0, 0, 0, slot, 1), KEEL_E_ILLEGAL_OPERATION);
    EXPECT_EQ(kt_type(slot), KEEL_CAP_NULL);
}

KEEL_TEST(retype_truncated_message)
{
    uint64_t ut;
    ASSERT_OK(kt_untyped(4096, &ut));
    const uint64_t mr[] = { KEEL_OBJ_ENDPOINT, 0, 0 };
    EXPECT_ERR(keel_invoke(ut, KEEL_UNTYPED_RETYPE, mr, 3, 0, 0, 0, 0), KEEL_E_TRUNCATED_MESSAGE);
}

KEEL_TEST(retype_into_child_cnode)
{
    uint64_t ut, cn, copy;
    ASSERT_OK(kt_untyped(8192, &ut));
    ASSERT_OK(kt_new(KEEL_OBJ_CNODE, 3, &cn));
    /* Destination CNode named by cptr and depth 64; then slots 2..3 of it. */
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, cn, KEEL_CSPACE_DEPTH, 2, 2));
    EXPECT_ERR(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, cn, KEEL_CSPACE_DEPTH, 7, 2), KEEL_E_RANGE);
    ASSERT_OK(kt_slot(&copy));
    /* A retyped CNode cap has no guard: 3 bits address its slots. */
    ASSERT_OK(keel_cnode_copy(KEEL_SLOT_CNODE, copy, KEEL_CSPACE_DEPTH, cn, 3, 3, KEEL_RIGHTS_ALL));
    EXPECT_EQ(kt_type(copy), KEEL_OBJ_NOTIFICATION);
    /* assumption: a destination that is not a CNode is FAILED_LOOKUP / INVALID_ROOT, as for
     * CNode Copy's source root. */
    EXPECT_LOOKUP(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, copy, KEEL_CSPACE_DEPTH, 0, 1),
                  KEEL_LOOKUP_INVALID_ROOT);
}
