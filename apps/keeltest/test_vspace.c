/* Address spaces: paging structures, frames, ASIDs, access rights, cache attributes, protection
 * keys, and the TLB: stale translations and the flush counters. */
#include "ktest.h"
#include <keel/vspace.h>

#define DBG KEEL_SLOT_DEBUG
#define VS KEEL_SLOT_VSPACE
/* A region of the root VSpace the kernel put nothing in (one PDPT slot = 1 GiB of room). */
#define TEST_VA 0x0000004000000000ull

/* PTE bits, as the hardware defines them (Intel SDM Vol. 3A, 4.5). */
#define PTE_W (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define PF_PRESENT 1u
#define PF_WRITE 2u
#define PF_USER 4u
#define PF_FETCH 16u
#define PF_PKEY 32u

/* Maps `frame` at `va` in `vspace`, creating whichever paging structures are missing on the way:
 * the kernel names the missing type, so this also checks MISSING_TABLE's detail. */
static int map_with_tables(uint64_t frame, uint64_t vspace, uint64_t va, uint64_t access, uint64_t attr)
{
    for (int tries = 0; tries < 4; tries++) {
        int err = keel_frame_map(frame, vspace, va, access, attr);
        if (err != KEEL_E_MISSING_TABLE)
            return err;
        uint64_t type = keel_last_error_detail(0), table;
        if (type != KEEL_OBJ_PDPT && type != KEEL_OBJ_PD && type != KEEL_OBJ_PT)
            return KEEL_E_INVALID_ARGUMENT;
        if ((err = kt_new(type, 0, &table)) || (err = keel_paging_map(table, vspace, va)))
            return err;
    }
    return KEEL_E_MISSING_TABLE;
}

static int new_frame_at(uint64_t va, uint64_t access, uint64_t *frame)
{
    int err = kt_new(KEEL_OBJ_FRAME_4K, 0, frame);
    return err ? err : map_with_tables(*frame, VS, va, access, KEEL_CACHE_WB);
}

KEEL_TEST(frame_map_read_write_unmap)
{
    uint64_t f;
    ASSERT_OK(new_frame_at(TEST_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, &f));
    volatile uint64_t *p = (volatile uint64_t *)TEST_VA;
    EXPECT_EQ(*p, 0); /* fresh frames are zeroed */
    *p = 0x1234abcd;
    EXPECT_EQ(*p, 0x1234abcd);
    struct keel_frame_info info;
    ASSERT_OK(keel_frame_get_address(f, &info));
    EXPECT_EQ(info.size, 4096);
    EXPECT_EQ(info.mapped_vaddr, TEST_VA);
    EXPECT_TRUE(info.paddr != 0 && (info.paddr & 4095) == 0);
    uint64_t pte, level;
    ASSERT_OK(keel_debug_read_pte(DBG, VS, TEST_VA, &pte, &level));
    EXPECT_EQ(level, 1);
    EXPECT_EQ(pte & 0x000ffffffffff000ull, info.paddr);
    EXPECT_TRUE(pte & PTE_W);
    EXPECT_OK(keel_frame_unmap(f));
    ASSERT_OK(keel_debug_read_pte(DBG, VS, TEST_VA, &pte, &level));
    EXPECT_EQ(pte, 0);
    ASSERT_OK(keel_frame_get_address(f, &info));
    EXPECT_EQ(info.mapped_vaddr, 0);
    EXPECT_OK(keel_frame_unmap(f)); /* unmapping twice is harmless */
}

KEEL_TEST(frame_map_errors)
{
    uint64_t f, g, pml4, ro, ep;
    ASSERT_OK(new_frame_at(TEST_VA, KEEL_MAP_READ, &f));
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &g));
    EXPECT_ERR(keel_frame_map(g, VS, TEST_VA + 1, KEEL_MAP_READ, 0), KEEL_E_ALIGNMENT);
    EXPECT_DETAIL(1, 4096);
    EXPECT_ERR(keel_frame_map(g, VS, 0x0000800000000000ull, KEEL_MAP_READ, 0), KEEL_E_RANGE);
    EXPECT_ERR(keel_frame_map(g, VS, 0xffff800000000000ull, KEEL_MAP_READ, 0), KEEL_E_RANGE);
    EXPECT_ERR(keel_frame_map(g, VS, TEST_VA, KEEL_MAP_READ, 0), KEEL_E_DELETE_FIRST); /* slot taken */
    EXPECT_ERR(keel_frame_map(f, VS, TEST_VA + 4096, KEEL_MAP_READ, 0), KEEL_E_MAPPED); /* cap taken */
    EXPECT_ERR(keel_frame_map(g, VS, TEST_VA + 4096, KEEL_MAP_WRITE | KEEL_MAP_EXEC | KEEL_MAP_READ, 0),
               KEEL_E_INVALID_ARGUMENT); /* W^X */
    EXPECT_ERR(keel_frame_map(g, VS, TEST_VA + 4096, 0, 0), KEEL_E_INVALID_ARGUMENT);
    EXPECT_ERR(keel_frame_map(g, VS, TEST_VA + 4096, KEEL_MAP_READ, 3), KEEL_E_INVALID_ARGUMENT);
    EXPECT_ERR(keel_frame_map(g, VS, TEST_VA + 4096, KEEL_MAP_READ, KEEL_MAP_PKEY(16)), KEEL_E_RANGE);
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    EXPECT_ERR(keel_frame_map(g, ep, TEST_VA + 4096, KEEL_MAP_READ, 0), KEEL_E_INVALID_CAPABILITY);
    /* A new VSpace has no ASID until a pool assigns one. */
    ASSERT_OK(kt_new(KEEL_OBJ_PML4, 0, &pml4));
    EXPECT_ERR(keel_frame_map(g, pml4, TEST_VA, KEEL_MAP_READ, 0), KEEL_E_NO_ASID);
    /* A read-only cap cannot make a writable mapping. */
    ASSERT_OK(kt_mint(g, KEEL_RIGHT_READ, 0, &ro));
    EXPECT_ERR(keel_frame_map(ro, VS, TEST_VA + 4096, KEEL_MAP_READ | KEEL_MAP_WRITE, 0), KEEL_E_INSUFFICIENT_RIGHTS);
    EXPECT_OK(keel_frame_map(ro, VS, TEST_VA + 4096, KEEL_MAP_READ, 0));
    /* Remap of an unmapped cap is refused. */
    EXPECT_ERR(keel_frame_remap(g, KEEL_MAP_READ, 0), KEEL_E_ILLEGAL_OPERATION);
}

KEEL_TEST(frame_map_missing_table_names_level)
{
    uint64_t f;
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &f));
    /* PML4 slot 1 (512 GiB) has nothing below it: the PDPT is missing first. */
    EXPECT_ERR(keel_frame_map(f, VS, 1ull << 39, KEEL_MAP_READ, 0), KEEL_E_MISSING_TABLE);
    EXPECT_DETAIL(0, KEEL_OBJ_PDPT);
    uint64_t pdpt;
    ASSERT_OK(kt_new(KEEL_OBJ_PDPT, 0, &pdpt));
    ASSERT_OK(keel_paging_map(pdpt, VS, 1ull << 39));
    EXPECT_ERR(keel_frame_map(f, VS, 1ull << 39, KEEL_MAP_READ, 0), KEEL_E_MISSING_TABLE);
    EXPECT_DETAIL(0, KEEL_OBJ_PD);
    uint64_t pd;
    ASSERT_OK(kt_new(KEEL_OBJ_PD, 0, &pd));
    ASSERT_OK(keel_paging_map(pd, VS, 1ull << 39));
    EXPECT_ERR(keel_frame_map(f, VS, 1ull << 39, KEEL_MAP_READ, 0), KEEL_E_MISSING_TABLE);
    EXPECT_DETAIL(0, KEEL_OBJ_PT);
    /* Paging structure errors: mapped twice, slot taken, wrong vspace cap. */
    EXPECT_ERR(keel_paging_map(pd, VS, 2ull << 39), KEEL_E_MAPPED);
    uint64_t pd2;
    ASSERT_OK(kt_new(KEEL_OBJ_PD, 0, &pd2));
    EXPECT_ERR(keel_paging_map(pd2, VS, 1ull << 39), KEEL_E_DELETE_FIRST);
    EXPECT_ERR(keel_paging_map(pd2, KEEL_SLOT_CNODE, 3ull << 39), KEEL_E_INVALID_CAPABILITY);
    EXPECT_ERR(keel_paging_map(pd2, VS, 0xffff800000000000ull), KEEL_E_RANGE);
}

KEEL_TEST(delete_frame_cap_unmaps)
{
    uint64_t f, pte, level;
    ASSERT_OK(new_frame_at(TEST_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, &f));
    *(volatile uint64_t *)TEST_VA = 7;
    ASSERT_OK(keel_cspace_delete(f));
    ASSERT_OK(keel_debug_read_pte(DBG, VS, TEST_VA, &pte, &level));
    EXPECT_EQ(pte, 0);
    EXPECT_EQ(level, 0);
}

KEEL_TEST(delete_page_table_unmaps_it)
{
    uint64_t f, pt = 0, pte, level;
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &f));
    ASSERT_OK(map_with_tables(f, VS, TEST_VA, KEEL_MAP_READ, 0));
    /* Find the PT just made: the most recent PT cap the pool handed out maps TEST_VA. */
    ASSERT_OK(kt_new(KEEL_OBJ_PT, 0, &pt));
    EXPECT_ERR(keel_paging_map(pt, VS, TEST_VA), KEEL_E_DELETE_FIRST);
    ASSERT_OK(keel_debug_read_pte(DBG, VS, TEST_VA, &pte, &level));
    EXPECT_EQ(level, 1);
    /* Revoking the pool at the end deletes the PT; do it now through a fresh mapping instead. */
    uint64_t f2, pt2;
    const uint64_t va2 = TEST_VA + (64ull << 21); /* another 2 MiB region: needs its own PT */
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &f2));
    EXPECT_ERR(keel_frame_map(f2, VS, va2, KEEL_MAP_READ, 0), KEEL_E_MISSING_TABLE);
    ASSERT_OK(kt_new(KEEL_OBJ_PT, 0, &pt2));
    ASSERT_OK(keel_paging_map(pt2, VS, va2));
    ASSERT_OK(keel_frame_map(f2, VS, va2, KEEL_MAP_READ, 0));
    ASSERT_OK(keel_debug_read_pte(DBG, VS, va2, &pte, &level));
    EXPECT_EQ(level, 1);
    ASSERT_OK(keel_cspace_delete(pt2));
    ASSERT_OK(keel_debug_read_pte(DBG, VS, va2, &pte, &level));
    EXPECT_EQ(pte, 0); /* the PD entry is gone with the table */
    /* The frame cap still believes it is mapped; unmapping it is a harmless no-op. */
    EXPECT_OK(keel_frame_unmap(f2));
}

KEEL_TEST(remap_to_another_frame_reads_new_contents)
{
    uint64_t a, b;
    ASSERT_OK(new_frame_at(TEST_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, &a));
    volatile uint64_t *p = (volatile uint64_t *)TEST_VA;
    *p = 0xaaaa;
    EXPECT_EQ(*p, 0xaaaa); /* now cached in the TLB */
    ASSERT_OK(keel_frame_unmap(a));
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &b));
    ASSERT_OK(keel_frame_map(b, VS, TEST_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, 0));
    EXPECT_EQ(*p, 0); /* b's contents, not a's */
    *p = 0xbbbb;
    ASSERT_OK(keel_frame_unmap(b));
    ASSERT_OK(keel_frame_map(a, VS, TEST_VA, KEEL_MAP_READ, 0));
    EXPECT_EQ(*p, 0xaaaa);
}

/* ---- Faults seen by a fault handler (the root task) ---- */

struct fault_box {
    uint64_t va;
    volatile int done;
};

static uint8_t fault_stack[8192] __attribute__((aligned(16)));
static struct keel_thread fault_thread;

/* Starts fn(arg) in our VSpace with `ep` as its fault endpoint. */
static int start_faulting_thread(void (*fn)(void *), void *arg, uint64_t ep)
{
    struct keel_thread_config cfg = {
        .entry = fn,
        .arg = arg,
        .stack_top = fault_stack + sizeof fault_stack,
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
        .fault_ep = ep,
    };
    int err = keel_thread_create(&fault_thread, &cfg);
    return err ? err : keel_thread_start(&fault_thread);
}

static void write_va(void *arg)
{
    struct fault_box *b = arg;
    *(volatile uint64_t *)b->va = 1;
    b->done = 1;
}

static void call_va(void *arg)
{
    struct fault_box *b = arg;
    ((void (*)(void))b->va)();
    b->done = 1;
}

/* Waits for the fault message; returns its label (0 on an error). */
static uint64_t receive_fault(uint64_t ep, uint64_t reply, struct keel_msg *m)
{
    *m = keel_msg_make(0, 0);
    if (keel_recv(ep, reply, m))
        return 0;
    return keel_msg_label(m->info);
}

KEEL_TEST(write_to_read_only_page_faults)
{
    uint64_t f, ep, reply;
    ASSERT_OK(new_frame_at(TEST_VA, KEEL_MAP_READ, &f));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &reply));
    static struct fault_box box;
    box = (struct fault_box){ .va = TEST_VA };
    ASSERT_OK(start_faulting_thread(write_va, &box, ep));
    struct keel_msg m;
    ASSERT_EQ(receive_fault(ep, reply, &m), KEEL_FAULT_VM);
    EXPECT_EQ(m.mr[1], TEST_VA);
    EXPECT_EQ(m.mr[2] & (PF_PRESENT | PF_WRITE | PF_USER), PF_PRESENT | PF_WRITE | PF_USER);
    EXPECT_EQ(box.done, 0);
    /* Make it writable and resume the thread where it faulted: the write now succeeds. */
    ASSERT_OK(keel_frame_remap(f, KEEL_MAP_READ | KEEL_MAP_WRITE, 0));
    m = keel_msg_make(0, 0);
    ASSERT_OK(keel_reply(reply, &m));
    ASSERT_TRUE(kt_wait_flag(&box.done));
    EXPECT_EQ(*(volatile uint64_t *)TEST_VA, 1);
}

KEEL_TEST(execute_from_no_exec_page_faults)
{
    uint64_t f, ep, reply;
    ASSERT_OK(new_frame_at(TEST_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, &f));
    *(volatile uint8_t *)TEST_VA = 0xc3; /* ret */
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &reply));
    static struct fault_box box;
    box = (struct fault_box){ .va = TEST_VA };
    ASSERT_OK(start_faulting_thread(call_va, &box, ep));
    struct keel_msg m;
    ASSERT_EQ(receive_fault(ep, reply, &m), KEEL_FAULT_VM);
    EXPECT_EQ(m.mr[0], TEST_VA); /* RIP: the fetch itself */
    EXPECT_EQ(m.mr[2] & (PF_FETCH | PF_USER), PF_FETCH | PF_USER);
    /* W^X: make it read+execute, then resume: the `ret` runs. */
    ASSERT_OK(keel_frame_remap(f, KEEL_MAP_READ | KEEL_MAP_EXEC, 0));
    m = keel_msg_make(0, 0);
    ASSERT_OK(keel_reply(reply, &m));
    ASSERT_TRUE(kt_wait_flag(&box.done));
}

KEEL_TEST(unmap_then_access_faults)
{
    uint64_t f, ep, reply;
    ASSERT_OK(new_frame_at(TEST_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, &f));
    *(volatile uint64_t *)TEST_VA = 5; /* a translation in the TLB */
    ASSERT_OK(keel_frame_unmap(f));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &reply));
    static struct fault_box box;
    box = (struct fault_box){ .va = TEST_VA };
    ASSERT_OK(start_faulting_thread(write_va, &box, ep));
    struct keel_msg m;
    ASSERT_EQ(receive_fault(ep, reply, &m), KEEL_FAULT_VM);
    EXPECT_EQ(m.mr[1], TEST_VA);
    EXPECT_EQ(m.mr[2] & PF_PRESENT, 0);
    EXPECT_EQ(box.done, 0);
}

KEEL_TEST(cache_attributes_in_pte)
{
    uint64_t f, pte, level;
    ASSERT_OK(new_frame_at(TEST_VA, KEEL_MAP_READ, &f));
    ASSERT_OK(keel_debug_read_pte(DBG, VS, TEST_VA, &pte, &level));
    EXPECT_EQ(pte & (PTE_PWT | PTE_PCD), 0); /* write-back */
    ASSERT_OK(keel_frame_remap(f, KEEL_MAP_READ, KEEL_CACHE_WC));
    ASSERT_OK(keel_debug_read_pte(DBG, VS, TEST_VA, &pte, &level));
    EXPECT_EQ(pte & (PTE_PWT | PTE_PCD), PTE_PWT); /* PAT entry 1: write-combining */
    ASSERT_OK(keel_frame_remap(f, KEEL_MAP_READ, KEEL_CACHE_UC));
    ASSERT_OK(keel_debug_read_pte(DBG, VS, TEST_VA, &pte, &level));
    EXPECT_EQ(pte & (PTE_PWT | PTE_PCD), PTE_PWT | PTE_PCD); /* PAT entry 3: uncached */
    bool nx = keel_bootinfo_has(kt_bi, KEEL_FEATURE_NX);
    EXPECT_EQ(!!(pte & PTE_NX), nx);
    EXPECT_EQ(pte & PTE_W, 0);
}

static void write_with_key(void *arg)
{
    struct fault_box *b = arg;
    *(volatile uint64_t *)b->va = 42;
    b->done = 1;
}

KEEL_TEST(protection_key_denies_then_allows_write)
{
    uint64_t f;
    if (!keel_bootinfo_has(kt_bi, KEEL_FEATURE_PKU)) {
        ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &f));
        EXPECT_ERR(map_with_tables(f, VS, TEST_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, KEEL_MAP_PKEY(1)),
                   KEEL_E_NOT_SUPPORTED);
        return;
    }
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &f));
    ASSERT_OK(map_with_tables(f, VS, TEST_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, KEEL_MAP_PKEY(1)));
    uint64_t pte, level;
    ASSERT_OK(keel_debug_read_pte(DBG, VS, TEST_VA, &pte, &level));
    EXPECT_EQ((pte >> 59) & 15, 1);
    uint64_t ep, reply;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &reply));
    static struct fault_box box;
    box = (struct fault_box){ .va = TEST_VA };
    struct keel_thread_config cfg = {
        .entry = write_with_key, .arg = &box, .stack_top = fault_stack + sizeof fault_stack,
        .priority = KEEL_THREAD_PRIORITY_INHERIT, .fault_ep = ep,
    };
    ASSERT_OK(keel_thread_create(&fault_thread, &cfg));
    ASSERT_OK(keel_tcb_set_pkru(fault_thread.tcb, 1u << 3)); /* key 1: write disabled */
    ASSERT_OK(keel_thread_start(&fault_thread));
    struct keel_msg m;
    ASSERT_EQ(receive_fault(ep, reply, &m), KEEL_FAULT_VM);
    EXPECT_EQ(m.mr[1], TEST_VA);
    EXPECT_TRUE(m.mr[2] & PF_PKEY);
    EXPECT_EQ(box.done, 0);
    ASSERT_OK(keel_tcb_set_pkru(fault_thread.tcb, 0)); /* allow, then resume */
    m = keel_msg_make(0, 0);
    ASSERT_OK(keel_reply(reply, &m));
    ASSERT_TRUE(kt_wait_flag(&box.done));
    EXPECT_EQ(*(volatile uint64_t *)TEST_VA, 42);
}

KEEL_TEST(large_frame_2m_map)
{
    uint64_t f, pte, level, ut;
    /* A 2 MiB frame needs 2 MiB alignment inside its Untyped: give it room. */
    ASSERT_OK(kt_untyped(4ull << 20, &ut));
    uint64_t slot;
    ASSERT_OK(kt_slot(&slot));
    ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_FRAME_2M, 0, 0, 0, slot, 1));
    f = slot;
    const uint64_t va = TEST_VA + (128ull << 21);
    EXPECT_ERR(keel_frame_map(f, VS, va + 4096, KEEL_MAP_READ, 0), KEEL_E_ALIGNMENT);
    EXPECT_DETAIL(1, 2ull << 20);
    int err = keel_frame_map(f, VS, va, KEEL_MAP_READ | KEEL_MAP_WRITE, 0);
    if (err == KEEL_E_MISSING_TABLE) { /* the PD for this GiB may not exist yet */
        uint64_t pd;
        ASSERT_OK(kt_new(keel_last_error_detail(0), 0, &pd));
        ASSERT_OK(keel_paging_map(pd, VS, va));
        err = keel_frame_map(f, VS, va, KEEL_MAP_READ | KEEL_MAP_WRITE, 0);
    }
    ASSERT_OK(err);
    ASSERT_OK(keel_debug_read_pte(DBG, VS, va + 12345, &pte, &level));
    EXPECT_EQ(level, 2);
    EXPECT_TRUE(pte & PTE_PS);
    volatile uint64_t *end = (volatile uint64_t *)(va + (2ull << 20) - 8);
    *end = 99;
    EXPECT_EQ(*end, 99);
    EXPECT_OK(keel_frame_unmap(f));
}

KEEL_TEST(asid_pool_make_and_assign)
{
    uint64_t ut, pool, pml4, pml4b, asid, asid2;
    ASSERT_OK(kt_untyped(16384, &ut));
    ASSERT_OK(kt_slot(&pool));
    ASSERT_OK(keel_asid_control_make_pool(KEEL_SLOT_ASID_CONTROL, ut, pool));
    EXPECT_EQ(kt_type(pool), KEEL_CAP_ASID_POOL);
    ASSERT_OK(kt_new(KEEL_OBJ_PML4, 0, &pml4));
    ASSERT_OK(keel_asid_pool_assign(pool, pml4, &asid));
    EXPECT_TRUE(asid >= KEEL_ASID_POOL_ENTRIES); /* not pool 0: the boot pool */
    EXPECT_ERR(keel_asid_pool_assign(pool, pml4, &asid2), KEEL_E_ILLEGAL_OPERATION); /* has one */
    ASSERT_OK(kt_new(KEEL_OBJ_PML4, 0, &pml4b));
    ASSERT_OK(keel_asid_pool_assign(KEEL_SLOT_ASID_POOL, pml4b, &asid2));
    EXPECT_NE(asid, asid2);
    struct keel_vspace_info vi;
    ASSERT_OK(keel_debug_vspace_info(DBG, pml4, &vi));
    EXPECT_EQ(vi.asid, asid);
    EXPECT_ERR(keel_asid_pool_assign(pool, ut, &asid2), KEEL_E_INVALID_CAPABILITY);
    uint64_t taken;
    ASSERT_OK(kt_slot(&taken));
    EXPECT_ERR(keel_asid_control_make_pool(KEEL_SLOT_ASID_CONTROL, KEEL_SLOT_TCB, taken), KEEL_E_INVALID_CAPABILITY);
    EXPECT_ERR(keel_asid_control_make_pool(KEEL_SLOT_ASID_CONTROL, ut, pool), KEEL_E_DELETE_FIRST);
    /* Deleting the pool takes the ASIDs away: the VSpace can no longer be mapped into. */
    ASSERT_OK(keel_cspace_delete(pool));
    ASSERT_OK(keel_debug_vspace_info(DBG, pml4, &vi));
    EXPECT_EQ(vi.asid, 0);
}

/* ---- The TLB: counters, flush policy, PCIDs ---- */

static struct keel_tlb_counters tlb_now(void)
{
    struct keel_tlb_counters c = { 0 };
    keel_debug_tlb_counters(DBG, 0, &c);
    return c;
}

KEEL_TEST(unmap_one_page_flushes_one_page)
{
    uint64_t f;
    ASSERT_OK(new_frame_at(TEST_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, &f));
    *(volatile uint64_t *)TEST_VA = 1;
    struct keel_tlb_counters a = tlb_now();
    ASSERT_OK(keel_frame_unmap(f));
    struct keel_tlb_counters b = tlb_now();
    EXPECT_EQ(b.invlpg - a.invlpg, 1);
    EXPECT_EQ(b.full_flush - a.full_flush, 0);
    EXPECT_EQ(b.cr3_flush - a.cr3_flush, 0);
}

#define BATCH 24 /* above KEEL_UNMAP_FLUSH_THRESHOLD */

KEEL_TEST(unmap_batch_flushes_whole_pcid_past_threshold)
{
    uint64_t frames[BATCH];
    for (unsigned i = 0; i < BATCH; i++)
        ASSERT_OK(new_frame_at(TEST_VA + i * 4096ull, KEEL_MAP_READ | KEEL_MAP_WRITE, &frames[i]));
    for (unsigned i = 0; i < BATCH; i++)
        *(volatile uint64_t *)(TEST_VA + i * 4096ull) = i;
    struct keel_tlb_counters a = tlb_now();
    uint64_t n = 0;
    ASSERT_OK(keel_vspace_unmap_batch(VS, frames, 4, &n)); /* few: page by page */
    EXPECT_EQ(n, 4);
    struct keel_tlb_counters b = tlb_now();
    EXPECT_EQ(b.invlpg - a.invlpg, 4);
    EXPECT_EQ(b.full_flush - a.full_flush, 0);
    ASSERT_OK(keel_vspace_unmap_batch(VS, frames + 4, BATCH - 4, &n)); /* many: one full flush */
    EXPECT_EQ(n, BATCH - 4);
    struct keel_tlb_counters c = tlb_now();
    EXPECT_EQ(c.invlpg - b.invlpg, 0);
    EXPECT_EQ(c.full_flush - b.full_flush, 1);
    uint64_t pte, level;
    ASSERT_OK(keel_debug_read_pte(DBG, VS, TEST_VA + (BATCH - 1) * 4096ull, &pte, &level));
    EXPECT_EQ(pte, 0);
    /* Errors: count out of range, a cap that is not a frame; nothing is unmapped then. */
    EXPECT_ERR(keel_vspace_unmap_batch(VS, frames, 0, &n), KEEL_E_RANGE);
    uint64_t bad[2] = { frames[0], KEEL_SLOT_TCB };
    EXPECT_ERR(keel_vspace_unmap_batch(VS, bad, 2, &n), KEEL_E_INVALID_CAPABILITY);
}

/* A second VSpace running our own image (keel/vspace.h): every image frame mapped again (through
 * copies) at the same address with the same access, so code and data are shared. Objects and
 * slots come from libkeel's allocators, i.e. the test pool, exactly as kt_new/kt_slot would. */
static int clone_image_vspace(uint64_t *vspace_out)
{
    return keel_vspace_clone_image(kt_bi, vspace_out, 0);
}

struct pingpong {
    uint64_t ep, reply;
    volatile int ready;
};

static void pong_server(void *arg)
{
    struct pingpong *pp = arg;
    struct keel_msg m = keel_msg_make(0, 0);
    pp->ready = 1;
    keel_recv(pp->ep, pp->reply, &m);
    for (;;) {
        m = keel_msg_make(keel_msg_label(m.info) + 1, 0);
        keel_reply_recv(pp->ep, pp->reply, &m);
    }
}

/* A pong server in a clone of our VSpace, waiting on pp's endpoint. */
static int start_pong_in_clone(struct pingpong *pp, uint64_t *v2, struct keel_thread **t)
{
    int err;
    *pp = (struct pingpong){ 0 };
    if ((err = clone_image_vspace(v2)) || (err = kt_new(KEEL_OBJ_ENDPOINT, 0, &pp->ep)) ||
        (err = kt_new(KEEL_OBJ_REPLY, 0, &pp->reply)) || (err = kt_thread_prepare(pong_server, pp, t)) ||
        (err = keel_tcb_configure((*t)->tcb, 0, *v2, 0, 0, 0, 0, 0)) || /* move it into the clone */
        (err = keel_thread_start(*t)))
        return err;
    return kt_wait_state((*t)->tcb, KEEL_THREAD_BLOCKED_RECV) ? 0 : KEEL_E_CANCELLED;
}

#define ROUND_TRIPS 1000

KEEL_TEST(tlb_pingpong_two_vspaces)
{
    uint64_t v2;
    static struct pingpong pp;
    struct keel_thread *t;
    ASSERT_OK(start_pong_in_clone(&pp, &v2, &t));
    struct keel_msg m = keel_msg_make(1, 0);
    ASSERT_OK(keel_call(pp.ep, &m)); /* warm-up: both VSpaces have run, PCIDs are assigned */
    EXPECT_EQ(keel_msg_label(m.info), 2);
    struct keel_tlb_counters a = tlb_now();
    for (unsigned i = 0; i < ROUND_TRIPS; i++) {
        m = keel_msg_make(i, 0);
        if (keel_call(pp.ep, &m) || keel_msg_label(m.info) != i + 1) {
            EXPECT_TRUE(false);
            break;
        }
    }
    struct keel_tlb_counters b = tlb_now();
    uint64_t flushing = b.cr3_flush - a.cr3_flush, keeping = b.cr3_noflush - a.cr3_noflush;
    keel_printf("#   %u round trips: %lu flushing CR3 loads, %lu non-flushing (%s)\n", ROUND_TRIPS, flushing,
                keeping, keel_bootinfo_has(kt_bi, KEEL_FEATURE_PCID) ? "PCID" : "no PCID");
    if (keel_bootinfo_has(kt_bi, KEEL_FEATURE_PCID)) {
        EXPECT_EQ(flushing, 0);
        EXPECT_EQ(keeping, 2 * ROUND_TRIPS);
    } else {
        EXPECT_EQ(flushing, 2 * ROUND_TRIPS);
        EXPECT_EQ(keeping, 0);
    }
    struct keel_vspace_info vi;
    ASSERT_OK(keel_debug_vspace_info(DBG, v2, &vi));
    EXPECT_EQ(vi.pcid != 0, keel_bootinfo_has(kt_bi, KEEL_FEATURE_PCID));
    ASSERT_OK(keel_tcb_suspend(t->tcb));
}

KEEL_TEST(unmap_in_inactive_vspace_is_flushed_before_reuse)
{
    /* A VSpace that is not loaded: with INVPCID the kernel flushes its PCID's entry at once;
     * with PCID but no INVPCID its next load flushes; without PCID every load flushes anyway. */
    uint64_t v2;
    static struct pingpong pp;
    struct keel_thread *t;
    ASSERT_OK(start_pong_in_clone(&pp, &v2, &t));
    struct keel_msg m = keel_msg_make(1, 0);
    ASSERT_OK(keel_call(pp.ep, &m));
    /* Map a scratch frame in v2 only, then unmap it while v2 is not loaded. */
    uint64_t f;
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &f));
    ASSERT_OK(map_with_tables(f, v2, TEST_VA, KEEL_MAP_READ, 0));
    struct keel_vspace_info before, after;
    ASSERT_OK(keel_debug_vspace_info(DBG, v2, &before));
    struct keel_tlb_counters a = tlb_now();
    ASSERT_OK(keel_frame_unmap(f));
    struct keel_tlb_counters b = tlb_now();
    ASSERT_OK(keel_debug_vspace_info(DBG, v2, &after));
    EXPECT_EQ(after.tlb_gen, before.tlb_gen + 1);
    EXPECT_EQ(b.invlpg - a.invlpg, 0); /* not loaded: INVLPG would hit the wrong VSpace */
    bool pcid = keel_bootinfo_has(kt_bi, KEEL_FEATURE_PCID);
    bool invpcid = keel_bootinfo_has(kt_bi, KEEL_FEATURE_INVPCID);
    EXPECT_EQ(b.invpcid_single - a.invpcid_single, pcid && invpcid ? 1 : 0);
    m = keel_msg_make(1, 0);
    ASSERT_OK(keel_call(pp.ep, &m)); /* loads v2 and back */
    struct keel_tlb_counters c = tlb_now();
    if (pcid && !invpcid)
        EXPECT_EQ(c.cr3_flush - b.cr3_flush, 1); /* v2's load flushed: its generation moved */
    else if (pcid)
        EXPECT_EQ(c.cr3_flush - b.cr3_flush, 0);
    else
        EXPECT_EQ(c.cr3_flush - b.cr3_flush, 2);
    ASSERT_OK(keel_tcb_suspend(t->tcb));
}
