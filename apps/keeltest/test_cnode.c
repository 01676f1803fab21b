/* CNode: Copy, Mint, Move, Mutate, Delete, Revoke, Rotate, guards and lookup failures. */
#include "ktest.h"

#define D KEEL_CSPACE_DEPTH
#define ROOT KEEL_SLOT_CNODE

static int new_ep(uint64_t *ep) { return kt_new(KEEL_OBJ_ENDPOINT, 0, ep); }

KEEL_TEST(cnode_copy_same_object)
{
    uint64_t ep, s;
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&s));
    ASSERT_OK(keel_cspace_copy(s, ep, KEEL_RIGHTS_ALL));
    struct keel_cap_identity a, b;
    ASSERT_OK(kt_identify(ep, &a));
    ASSERT_OK(kt_identify(s, &b));
    EXPECT_EQ(b.type, KEEL_OBJ_ENDPOINT);
    EXPECT_EQ(b.object, a.object);
    EXPECT_EQ(b.rights, a.rights);
    EXPECT_EQ(b.badge, 0);
}

KEEL_TEST(cnode_copy_masks_rights)
{
    uint64_t ep, w, again;
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&w));
    ASSERT_OK(kt_slot(&again));
    ASSERT_OK(keel_cspace_copy(w, ep, KEEL_RIGHT_WRITE));
    struct keel_cap_identity id;
    ASSERT_OK(kt_identify(w, &id));
    EXPECT_EQ(id.rights, KEEL_RIGHT_WRITE);
    /* A mask can only take rights away. */
    ASSERT_OK(keel_cspace_copy(again, w, KEEL_RIGHTS_ALL));
    ASSERT_OK(kt_identify(again, &id));
    EXPECT_EQ(id.rights, KEEL_RIGHT_WRITE);
}

KEEL_TEST(cnode_copy_errors)
{
    uint64_t ep, empty, empty2, full;
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&empty));
    ASSERT_OK(kt_slot(&empty2));
    ASSERT_OK(new_ep(&full));
    /* assumption: an empty source slot is FAILED_LOOKUP / MISSING_CAP (seL4 does the same). */
    EXPECT_LOOKUP(keel_cspace_copy(empty2, empty, KEEL_RIGHTS_ALL), KEEL_LOOKUP_MISSING_CAP);
    EXPECT_ERR(keel_cspace_copy(full, ep, KEEL_RIGHTS_ALL), KEEL_E_DELETE_FIRST);
    /* The root CNode resolves exactly 64 bits (guard + radix): anything else is a depth mismatch. */
    EXPECT_LOOKUP(keel_cnode_copy(ROOT, empty, 32, ROOT, ep, D, KEEL_RIGHTS_ALL), KEEL_LOOKUP_DEPTH_MISMATCH);
    EXPECT_LOOKUP(keel_cnode_copy(ROOT, empty, D, ROOT, ep, 63, KEEL_RIGHTS_ALL), KEEL_LOOKUP_DEPTH_MISMATCH);
    /* assumption: depth 0 is not a lookup at all but an argument out of 1..64 (RANGE). */
    EXPECT_ERR(keel_cnode_copy(ROOT, empty, D, ROOT, ep, 0, KEEL_RIGHTS_ALL), KEEL_E_RANGE);
    EXPECT_DETAIL(0, 4);
    EXPECT_DETAIL(1, 1);
    EXPECT_DETAIL(2, 64);
    /* Bits above the radix must match the root cap's guard (0). */
    EXPECT_LOOKUP(keel_cnode_copy(ROOT, empty | (1ull << 63), D, ROOT, ep, D, KEEL_RIGHTS_ALL),
                  KEEL_LOOKUP_GUARD_MISMATCH);
    EXPECT_EQ(kt_type(empty), KEEL_CAP_NULL);
}

KEEL_TEST(cnode_copy_source_root_not_a_cnode)
{
    uint64_t ep, s;
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&s));
    /* assumption: a source root that is not a CNode is FAILED_LOOKUP / INVALID_ROOT. */
    EXPECT_LOOKUP(keel_cnode_copy(ROOT, s, D, ep, 0, 1, KEEL_RIGHTS_ALL), KEEL_LOOKUP_INVALID_ROOT);
    /* A CNode label on a TCB is not an operation of that object. (Not on an endpoint: a Call on
     * an endpoint is IPC and would wait for a receiver.) */
    EXPECT_ERR(keel_cnode_copy(KEEL_SLOT_TCB, s, D, ROOT, ep, D, KEEL_RIGHTS_ALL), KEEL_E_ILLEGAL_OPERATION);
}

KEEL_TEST(cnode_mint_badge_and_rights)
{
    uint64_t ep, ntfn, m1, m2;
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(kt_mint(ep, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, 0x1234, &m1));
    ASSERT_OK(kt_mint(ntfn, KEEL_RIGHT_WRITE, 0x10, &m2));
    struct keel_cap_identity a, b;
    ASSERT_OK(kt_identify(ep, &a));
    ASSERT_OK(kt_identify(m1, &b));
    EXPECT_EQ(b.type, KEEL_OBJ_ENDPOINT);
    EXPECT_EQ(b.object, a.object);
    EXPECT_EQ(b.badge, 0x1234);
    EXPECT_EQ(b.rights, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE);
    ASSERT_OK(kt_identify(m2, &b));
    EXPECT_EQ(b.type, KEEL_OBJ_NOTIFICATION);
    EXPECT_EQ(b.badge, 0x10);
    EXPECT_EQ(b.rights, KEEL_RIGHT_WRITE);
    /* The original is untouched. */
    EXPECT_EQ(a.badge, 0);
    EXPECT_EQ(a.rights, KEEL_RIGHTS_ALL);
}

KEEL_TEST(cnode_move)
{
    uint64_t ep, s;
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&s));
    struct keel_cap_identity a, b;
    ASSERT_OK(kt_identify(ep, &a));
    ASSERT_OK(keel_cspace_move(s, ep));
    ASSERT_OK(kt_identify(s, &b));
    EXPECT_EQ(b.object, a.object);
    EXPECT_EQ(b.rights, a.rights);
    EXPECT_EQ(kt_type(ep), KEEL_CAP_NULL);
    /* Moving back and forth keeps it alive and revocable through the pool. */
    ASSERT_OK(keel_cspace_move(ep, s));
    EXPECT_EQ(kt_type(ep), KEEL_OBJ_ENDPOINT);
}

KEEL_TEST(cnode_move_errors)
{
    uint64_t a, b, empty, empty2;
    ASSERT_OK(new_ep(&a));
    ASSERT_OK(new_ep(&b));
    ASSERT_OK(kt_slot(&empty));
    ASSERT_OK(kt_slot(&empty2));
    EXPECT_ERR(keel_cspace_move(b, a), KEEL_E_DELETE_FIRST);
    /* assumption: as for Copy, an empty source is FAILED_LOOKUP / MISSING_CAP. */
    EXPECT_LOOKUP(keel_cspace_move(empty2, empty), KEEL_LOOKUP_MISSING_CAP);
    EXPECT_EQ(kt_type(a), KEEL_OBJ_ENDPOINT);
    EXPECT_EQ(kt_type(b), KEEL_OBJ_ENDPOINT);
}

KEEL_TEST(cnode_mutate)
{
    uint64_t ep, s;
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&s));
    struct keel_cap_identity a, b;
    ASSERT_OK(kt_identify(ep, &a));
    ASSERT_OK(keel_cspace_mutate(s, ep, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, 0x77));
    ASSERT_OK(kt_identify(s, &b));
    EXPECT_EQ(b.object, a.object);
    EXPECT_EQ(b.badge, 0x77);
    EXPECT_EQ(b.rights, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY);
    EXPECT_EQ(kt_type(ep), KEEL_CAP_NULL);
}

KEEL_TEST(cnode_delete)
{
    uint64_t ep, s, empty;
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&s));
    ASSERT_OK(kt_slot(&empty));
    ASSERT_OK(keel_cspace_copy(s, ep, KEEL_RIGHTS_ALL));
    ASSERT_OK(keel_cspace_delete(s));
    EXPECT_EQ(kt_type(s), KEEL_CAP_NULL);
    EXPECT_EQ(kt_type(ep), KEEL_OBJ_ENDPOINT);
    /* assumption: deleting an empty slot succeeds (nothing to do), as in seL4. */
    EXPECT_OK(keel_cspace_delete(empty));
    EXPECT_LOOKUP(keel_cnode_delete(ROOT, s, 12), KEEL_LOOKUP_DEPTH_MISMATCH);
}

KEEL_TEST(cnode_revoke_removes_descendants)
{
    uint64_t ep, c1, c2, m;
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&c1));
    ASSERT_OK(kt_slot(&c2));
    ASSERT_OK(keel_cspace_copy(c1, ep, KEEL_RIGHTS_ALL));
    ASSERT_OK(keel_cspace_copy(c2, c1, KEEL_RIGHTS_ALL));
    ASSERT_OK(kt_mint(ep, KEEL_RIGHT_WRITE, 9, &m));
    /* Revoking a leaf does nothing. */
    EXPECT_OK(keel_cspace_revoke(c2));
    EXPECT_EQ(kt_type(c2), KEEL_OBJ_ENDPOINT);
    /* c1's only descendant is c2. */
    ASSERT_OK(keel_cspace_revoke(c1));
    EXPECT_EQ(kt_type(c2), KEEL_CAP_NULL);
    EXPECT_EQ(kt_type(c1), KEEL_OBJ_ENDPOINT);
    EXPECT_EQ(kt_type(m), KEEL_OBJ_ENDPOINT);
    ASSERT_OK(keel_cspace_revoke(ep));
    EXPECT_EQ(kt_type(c1), KEEL_CAP_NULL);
    EXPECT_EQ(kt_type(m), KEEL_CAP_NULL);
    EXPECT_EQ(kt_type(ep), KEEL_OBJ_ENDPOINT);
}

KEEL_TEST(cnode_rotate)
{
    uint64_t a, b, c;
    ASSERT_OK(new_ep(&a));
    ASSERT_OK(new_ep(&b));
    ASSERT_OK(kt_slot(&c));
    struct keel_cap_identity ia, ib, id;
    ASSERT_OK(kt_identify(a, &ia));
    ASSERT_OK(kt_identify(b, &ib));
    /* pivot (b) -> dest (c), src (a) -> pivot (b). assumption (as seL4): each badge names the slot
     * the cap ends up in, so c gets the dest badge (6) and b the pivot badge (5). */
    ASSERT_OK(keel_cnode_rotate(ROOT, c, D, b, D, a, D, 5, 6));
    EXPECT_EQ(kt_type(a), KEEL_CAP_NULL);
    ASSERT_OK(kt_identify(c, &id));
    EXPECT_EQ(id.object, ib.object);
    EXPECT_EQ(id.badge, 6);
    ASSERT_OK(kt_identify(b, &id));
    EXPECT_EQ(id.object, ia.object);
    EXPECT_EQ(id.badge, 5);
}

KEEL_TEST(cnode_rotate_swap_and_errors)
{
    uint64_t a, b, c;
    ASSERT_OK(new_ep(&a));
    ASSERT_OK(new_ep(&b));
    ASSERT_OK(new_ep(&c));
    struct keel_cap_identity ia, ib, id;
    ASSERT_OK(kt_identify(a, &ia));
    ASSERT_OK(kt_identify(b, &ib));
    /* A full destination other than the source: refused, nothing moves. */
    EXPECT_ERR(keel_cnode_rotate(ROOT, c, D, b, D, a, D, 0, 0), KEEL_E_DELETE_FIRST);
    EXPECT_EQ(kt_type(a), KEEL_OBJ_ENDPOINT);
    /* assumption: dest == src swaps the two caps (seL4's Rotate allows this). */
    ASSERT_OK(keel_cnode_rotate(ROOT, a, D, b, D, a, D, 0, 0));
    ASSERT_OK(kt_identify(a, &id));
    EXPECT_EQ(id.object, ib.object);
    ASSERT_OK(kt_identify(b, &id));
    EXPECT_EQ(id.object, ia.object);
}

/* A CNode cap minted with a guard: the guard bits of a cptr must match. */
KEEL_TEST(cnode_guard_mint_and_lookup)
{
    uint64_t cn, guarded, ep, back;
    ASSERT_OK(kt_new(KEEL_OBJ_CNODE, 4, &cn));
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&guarded));
    ASSERT_OK(kt_slot(&back));
    ASSERT_OK(keel_cnode_mint_guard(ROOT, guarded, D, ROOT, cn, D, KEEL_RIGHTS_ALL, 0x5, 4));
    EXPECT_EQ(kt_type(guarded), KEEL_OBJ_CNODE);
    /* 8 bits: 4 of guard (0x5) then 4 of index. */
    ASSERT_OK(keel_cnode_copy(guarded, (0x5 << 4) | 1, 8, ROOT, ep, D, KEEL_RIGHTS_ALL));
    EXPECT_LOOKUP(keel_cnode_copy(guarded, (0x3 << 4) | 2, 8, ROOT, ep, D, KEEL_RIGHTS_ALL),
                  KEEL_LOOKUP_GUARD_MISMATCH);
    EXPECT_DETAIL(1, 8); /* bits left when the guard did not match */
    EXPECT_LOOKUP(keel_cnode_copy(guarded, 2, 4, ROOT, ep, D, KEEL_RIGHTS_ALL), KEEL_LOOKUP_DEPTH_MISMATCH);
    /* The unguarded cap reaches the same slot with 4 bits. */
    ASSERT_OK(keel_cnode_copy(ROOT, back, D, cn, 1, 4, KEEL_RIGHTS_ALL));
    struct keel_cap_identity a, b;
    ASSERT_OK(kt_identify(ep, &a));
    ASSERT_OK(kt_identify(back, &b));
    EXPECT_EQ(b.object, a.object);
    EXPECT_ERR(keel_cnode_copy(guarded, (0x5 << 4) | 1, 8, ROOT, ep, D, KEEL_RIGHTS_ALL), KEEL_E_DELETE_FIRST);
}

/* Two levels: a slot on the way that is empty is MISSING_CAP, with the bits not yet resolved. */
KEEL_TEST(cnode_lookup_missing_cap_on_the_way)
{
    uint64_t cn, s;
    ASSERT_OK(kt_new(KEEL_OBJ_CNODE, 4, &cn));
    ASSERT_OK(kt_slot(&s));
    /* 8 bits through cn: its slot 3 (empty) would have to be a CNode for the last 4 bits. */
    EXPECT_LOOKUP(keel_cnode_copy(ROOT, s, D, cn, (3 << 4) | 1, 8, KEEL_RIGHTS_ALL), KEEL_LOOKUP_MISSING_CAP);
    EXPECT_DETAIL(1, 4);
}

/* Two levels that resolve: cn2 sits in slot 7 of cn1. */
KEEL_TEST(cnode_two_level_addressing)
{
    uint64_t cn1, cn2, ep, back;
    ASSERT_OK(kt_new(KEEL_OBJ_CNODE, 4, &cn1));
    ASSERT_OK(kt_new(KEEL_OBJ_CNODE, 2, &cn2));
    ASSERT_OK(new_ep(&ep));
    ASSERT_OK(kt_slot(&back));
    ASSERT_OK(keel_cnode_copy(cn1, 7, 4, ROOT, cn2, D, KEEL_RIGHTS_ALL));
    ASSERT_OK(keel_cnode_copy(cn1, (7 << 2) | 3, 6, ROOT, ep, D, KEEL_RIGHTS_ALL));
    ASSERT_OK(keel_cnode_copy(ROOT, back, D, cn2, 3, 2, KEEL_RIGHTS_ALL));
    struct keel_cap_identity a, b;
    ASSERT_OK(kt_identify(ep, &a));
    ASSERT_OK(kt_identify(back, &b));
    EXPECT_EQ(b.object, a.object);
}

KEEL_TEST(cnode_truncated_message)
{
    uint64_t s;
    ASSERT_OK(kt_slot(&s));
    const uint64_t mr[] = { s, D };
    EXPECT_ERR(keel_invoke(ROOT, KEEL_CNODE_COPY, mr, 2, 0, 0, 0, 0), KEEL_E_TRUNCATED_MESSAGE);
    EXPECT_ERR(keel_invoke(ROOT, KEEL_CNODE_DELETE, mr, 1, 0, 0, 0, 0), KEEL_E_TRUNCATED_MESSAGE);
}
