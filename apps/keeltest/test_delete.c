/* Deletion of nested containers: the last cap to a CNode or TCB may sit inside another one,
 * to any depth. The kernel empties such chains iteratively; these tests build deep ones and
 * check that one Delete reclaims all of it (the Untyped has no children left). */
#include "ktest.h"

#define CHAIN 200

/* Moves the cap in our root slot `src` into slot 0 of the CNode `cnode` (radix 1, no guard). */
static int move_into(uint64_t cnode, uint64_t src)
{
    return keel_cnode_move(cnode, 0, 1, 0, src, 64);
}

KEEL_TEST(delete_deep_cnode_chain)
{
    uint64_t ut, first;
    ASSERT_OK(kt_untyped((CHAIN * 128 + 4095) / 4096 * 4096 + 4096, &ut));
    ASSERT_OK(kt_slots(CHAIN, &first));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_CNODE, 1, 0, 0, first, CHAIN));
    /* C[i+1] goes into C[i], from the deep end: afterwards only C[0] is reachable from here. */
    for (int i = CHAIN - 2; i >= 0; i--)
        ASSERT_OK(move_into(first + (uint64_t)i, first + (uint64_t)i + 1));
    uint64_t ep;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    EXPECT_EQ(kt_type(first + 1), KEEL_CAP_NULL);
    struct keel_untyped_desc d;
    ASSERT_OK(keel_untyped_describe(ut, &d));
    EXPECT_EQ(d.watermark, CHAIN * 128);
    ASSERT_OK(keel_cspace_delete(first)); /* the whole chain goes */
    ASSERT_OK(keel_untyped_describe(ut, &d));
    EXPECT_EQ(d.watermark, 0); /* no children left: everything was destroyed */
    uint64_t v;
    ASSERT_OK(keel_debug_check_invariants(KEEL_SLOT_DEBUG, &v));
    EXPECT_EQ(v, 0);
    /* The memory is reusable at once. */
    EXPECT_OK(keel_untyped_retype(ut, KEEL_OBJ_CNODE, 1, 0, 0, first, CHAIN));
}

#define TCB_CHAIN 40

KEEL_TEST(delete_chain_through_tcbs)
{
    /* C[k] holds the only cap to T[k]; T[k]'s CSpace root is the only cap to C[k+1]. */
    uint64_t ut, cn, tc;
    const uint64_t tcb_size = 1ull << KEEL_TCB_SIZE_BITS;
    ASSERT_OK(kt_untyped(((TCB_CHAIN + 1) * (128 + tcb_size) + 4095) / 4096 * 4096 + 8192, &ut));
    ASSERT_OK(kt_slots(TCB_CHAIN + 1, &cn));
    ASSERT_OK(kt_slots(TCB_CHAIN, &tc));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, 0, 0, tc, TCB_CHAIN));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_CNODE, 1, 0, 0, cn, TCB_CHAIN + 1));
    for (int k = TCB_CHAIN - 1; k >= 0; k--) {
        uint64_t t = tc + (uint64_t)k, inner = cn + (uint64_t)k + 1;
        ASSERT_OK(keel_tcb_configure(t, inner, 0, 0, 0, 0, 0, 63));
        ASSERT_OK(keel_cspace_delete(inner)); /* the TCB's copy is now the only cap */
        ASSERT_OK(move_into(cn + (uint64_t)k, t));
    }
    struct keel_untyped_desc d;
    ASSERT_OK(keel_cspace_delete(cn));
    ASSERT_OK(keel_untyped_describe(ut, &d));
    EXPECT_EQ(d.watermark, 0);
}

KEEL_TEST(delete_cnode_holding_its_own_cap)
{
    /* A CNode whose only other cap lives in one of its own slots: deleting our cap leaves the
     * object alive (a cap still refers to it); revoking the Untyped reclaims it. */
    uint64_t ut, c, copy_slot;
    ASSERT_OK(kt_untyped(4096, &ut));
    ASSERT_OK(kt_slot(&c));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_CNODE, 1, 0, 0, c, 1));
    ASSERT_OK(keel_cnode_copy(c, 1, 1, 0, c, 64, KEEL_RIGHTS_ALL)); /* into its own slot 1 */
    copy_slot = c;
    ASSERT_OK(keel_cspace_delete(copy_slot));
    struct keel_untyped_desc d;
    ASSERT_OK(keel_untyped_describe(ut, &d));
    EXPECT_EQ(d.watermark, 128); /* still alive through its self-reference */
    ASSERT_OK(keel_cspace_revoke(ut));
    ASSERT_OK(keel_untyped_describe(ut, &d));
    EXPECT_EQ(d.watermark, 0);
}
