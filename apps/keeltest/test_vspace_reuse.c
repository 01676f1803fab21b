/* Memory that was a VSpace, or was under one, used again at once: the CPU must never run on a
 * root that is not a live PML4 (the debug kernel checks every CR3 load, and the invariant
 * checker what each CPU has loaded or recorded). Each test ends with a blocking Recv, so that
 * schedule() switches into the VSpace concerned: a stale or corrupt root shows there, in Bochs
 * (whose TLB keeps no global kernel entries across it) as a triple fault. */
#include "ktest.h"
#include <keel/vspace.h>

#define DBG KEEL_SLOT_DEBUG
#define FAULT_SENTINEL 0x5e7 /* what an unexpected fault handler reply would never carry */

static void spin(void *arg)
{
    (void)arg;
    for (;;)
        keel_yield();
}

/* A thread of ours moved into `vspace` (empty: its first instruction fetch faults) with fault
 * endpoint `ep`, and started. */
static int start_in(uint64_t vspace, uint64_t ep, struct keel_thread **t)
{
    int err = kt_thread_prepare(spin, 0, t);
    if (!err)
        err = keel_tcb_configure((*t)->tcb, 0, vspace, 0, ep, 0, 0, 0);
    return err ? err : keel_thread_start(*t);
}

/* Blocks in Recv on `ep` (so schedule() switches) until the fault of a thread started by start_in
 * arrives, which has then run in its VSpace: true if it is the page fault of its first fetch. */
static bool fault_arrives(uint64_t ep)
{
    struct keel_msg m = keel_msg_make(0, 0);
    int err = keel_recv(ep, 0, &m);
    if (err) {
        keel_printf("#   recv: %s\n", keel_strerror(err));
        return false;
    }
    if (keel_msg_label(m.info) != KEEL_FAULT_VM || m.mr[1] != m.mr[0]) {
        keel_printf("#   got label %llu, rip %llx, address %llx\n", (unsigned long long)keel_msg_label(m.info),
                    (unsigned long long)m.mr[0], (unsigned long long)m.mr[1]);
        return false;
    }
    return true;
}

/* The sequence the fuzzer found (issue 11): a thread in an empty VSpace faults to an
 * endpoint nobody waits on, and so does a second; a Recv without a reply object takes the first
 * fault. The second sender must still be queued on the endpoint: if it were left orphaned
 * (blocked on the endpoint, not in its queue), deleting the endpoint and retyping its memory as
 * a PML4 (whose second page, struct vspace, lies exactly where the endpoint was) would let the
 * orphan's later dequeue write over that VSpace's root: the next switch into it would load a
 * CR3 of 0. */
KEEL_TEST(vspace_reuse_root_survives_retype_over_faulted_endpoint)
{
    uint64_t ut, filler, ep, empty, pml4, pool_ut, pool, asid, fault_ep;
    struct keel_thread *a, *b, *g;
    ASSERT_OK(kt_untyped(16384, &ut));
    ASSERT_OK(kt_slot(&filler));
    ASSERT_OK(kt_slot(&ep));
    ASSERT_OK(kt_slot(&pml4));
    ASSERT_OK(kt_slot(&pool));
    /* The endpoint at offset 4096 of the Untyped: a 4 KiB frame below it. */
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_FRAME_4K, 0, 0, 0, filler, 1));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, ep, 1));
    ASSERT_OK(kt_new(KEEL_OBJ_PML4, 0, &empty));
    ASSERT_OK(keel_asid_pool_assign(KEEL_SLOT_ASID_POOL, empty, &asid));
    keel_debug_set_fault_logging(DBG, false);
    ASSERT_OK(start_in(empty, ep, &a));
    ASSERT_OK(start_in(empty, ep, &b));
    ASSERT_TRUE(kt_wait_state(a->tcb, KEEL_THREAD_BLOCKED_SEND));
    ASSERT_TRUE(kt_wait_state(b->tcb, KEEL_THREAD_BLOCKED_SEND));
    /* One fault taken without a reply object: its sender stops; the other stays queued. */
    struct keel_msg m = keel_msg_make(0, 0);
    ASSERT_OK(keel_recv(ep, 0, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_VM);
    /* The endpoint goes (dequeuing the other sender), and a PML4 takes its memory. */
    ASSERT_OK(keel_cspace_revoke(ut));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_PML4, 0, 0, 0, pml4, 1));
    ASSERT_OK(kt_untyped(4096, &pool_ut)); /* a pool of our own: its ASIDs are 512 and up */
    ASSERT_OK(kt_slot(&fault_ep));
    ASSERT_OK(keel_asid_control_make_pool(KEEL_SLOT_ASID_CONTROL, pool_ut, pool));
    ASSERT_OK(keel_asid_pool_assign(pool, pml4, &asid));
    /* Stop the other sender, whatever state it was left in, then run a thread in the new PML4. */
    EXPECT_OK(keel_tcb_suspend(b->tcb));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &fault_ep));
    ASSERT_OK(start_in(pml4, fault_ep, &g));
    EXPECT_TRUE(fault_arrives(fault_ep));
    struct keel_vspace_info vi;
    ASSERT_OK(keel_debug_vspace_info(DBG, pml4, &vi));
    EXPECT_EQ(vi.asid, asid);
    keel_debug_set_fault_logging(DBG, true);
}

#define TEST_VA 0x0000004000000000ull /* PML4 entry 0, PDPT entry 256: nothing of ours is there */
#define SCRATCH_VA 0x0000005000000000ull
#define PTE_P 1ull
#define PTE_U 4ull
#define PTE_PS (1ull << 7)

/* A VSpace whose pool is deleted loses its ASID, and with it every mapping: its paging-structure
 * caps record it by that ASID, so after a new Assign they no longer find it. Were its tables
 * left linked, deleting such a cap would empty and free a table the VSpace still walks: here
 * the PDPT's memory becomes a frame we map and write, and its contents would be the VSpace's
 * page tables -- a user-made 1 GiB mapping of physical memory. */
KEEL_TEST(vspace_reuse_losing_asid_unlinks_tables)
{
    uint64_t pool_ut, pool, vs, table_ut, pdpt, fault_ep, frame, asid, pte, level;
    struct keel_thread *t;
    ASSERT_OK(kt_untyped(4096, &pool_ut));
    ASSERT_OK(kt_slot(&pool));
    ASSERT_OK(keel_asid_control_make_pool(KEEL_SLOT_ASID_CONTROL, pool_ut, pool));
    ASSERT_OK(kt_new(KEEL_OBJ_PML4, 0, &vs));
    ASSERT_OK(keel_asid_pool_assign(pool, vs, &asid));
    ASSERT_OK(kt_untyped(4096, &table_ut));
    ASSERT_OK(kt_slot(&pdpt));
    ASSERT_OK(keel_untyped_retype(table_ut, KEEL_OBJ_PDPT, 0, 0, 0, pdpt, 1));
    ASSERT_OK(keel_paging_map(pdpt, vs, TEST_VA));
    /* A thread runs in it (the CPU loads it, and with PCIDs keeps a PCID for it), then the pool goes. */
    keel_debug_set_fault_logging(DBG, false);
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &fault_ep));
    ASSERT_OK(start_in(vs, fault_ep, &t));
    EXPECT_TRUE(fault_arrives(fault_ep));
    keel_debug_set_fault_logging(DBG, true);
    ASSERT_OK(keel_cspace_delete(pool));
    uint64_t violations = ~0ull;
    ASSERT_OK(keel_debug_check_invariants(DBG, &violations));
    EXPECT_EQ(violations, 0); /* no CPU keeps a VSpace without an ASID */
    ASSERT_OK(keel_asid_pool_assign(KEEL_SLOT_ASID_POOL, vs, &asid));
    /* The PDPT's cap goes (its record names the old ASID), its memory becomes our frame. */
    ASSERT_OK(keel_cspace_revoke(table_ut));
    ASSERT_OK(kt_slot(&frame));
    ASSERT_OK(keel_untyped_retype(table_ut, KEEL_OBJ_FRAME_4K, 0, 0, 0, frame, 1));
    ASSERT_OK(keel_vspace_map_frame(frame, KEEL_SLOT_VSPACE, SCRATCH_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, 0, 0));
    volatile uint64_t *forged = (volatile uint64_t *)SCRATCH_VA;
    forged[(TEST_VA >> 30) & 511] = (1ull << 30) | PTE_PS | PTE_U | PTE_P;
    ASSERT_OK(keel_debug_read_pte(DBG, vs, TEST_VA, &pte, &level));
    EXPECT_EQ(pte, 0);
    EXPECT_EQ(level, 0);
    /* And the VSpace works afresh: a table maps into it again. */
    uint64_t pdpt2;
    ASSERT_OK(kt_new(KEEL_OBJ_PDPT, 0, &pdpt2));
    EXPECT_OK(keel_paging_map(pdpt2, vs, TEST_VA));
}
