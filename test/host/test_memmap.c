/* memmap: free-range bookkeeping, reservation splitting, boot allocation, and the multiboot2
 * bridge. */
#define CHECK_MAIN
#include "check.h"
#include "mb2_builder.h"
#include "memmap.h"

static struct memmap m;
static struct diag d;

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

#define CHECK_RANGE(i, b, e)                                                                       \
    do {                                                                                           \
        CHECK_EQ_U64(m.free[i].base, b);                                                           \
        CHECK_EQ_U64(m.free[i].end, e);                                                            \
    } while (0)

/* Sorted, disjoint, never adjacent, page aligned, non-empty: the invariant every operation keeps. */
static void check_invariant(void)
{
    CHECK(m.count <= MEMMAP_MAX);
    for (uint32_t i = 0; i < m.count; i++) {
        CHECK(m.free[i].base < m.free[i].end);
        CHECK(m.free[i].base % 4096 == 0 && m.free[i].end % 4096 == 0);
        if (i)
            CHECK(m.free[i - 1].end < m.free[i].base);
    }
}

TEST(init_is_empty)
{
    memset(&m, 0xa5, sizeof m);
    memmap_init(&m);
    CHECK_EQ_U64(m.count, 0);
    CHECK_EQ_U64(m.dropped, 0);
    CHECK_EQ_U64(memmap_total(&m), 0);
}

TEST(add_rounds_inward_and_ignores_empty)
{
    memmap_init(&m);
    CHECK_EQ_U64(memmap_add_free(&m, 0x1001, 0x3000, &d), 0);
    CHECK_EQ_U64(m.count, 1);
    CHECK_RANGE(0, 0x2000, 0x4000);
    CHECK_EQ_U64(memmap_add_free(&m, 0x10001, 0x1ffe, &d), 0); /* no whole page inside */
    CHECK_EQ_U64(memmap_add_free(&m, 0x20000, 0, &d), 0);
    CHECK_EQ_U64(memmap_add_free(&m, 0xfffffffffffff800, 0x7ff, &d), 0); /* inside the last page */
    CHECK_EQ_U64(m.count, 1);
    CHECK_EQ_U64(memmap_total(&m), 0x2000);
    check_invariant();
}

TEST(add_keeps_sorted_and_merges_neighbours)
{
    memmap_init(&m);
    CHECK_EQ_U64(memmap_add_free(&m, 0x100000, 0x100000, &d), 0);
    CHECK_EQ_U64(memmap_add_free(&m, 0x400000, 0x100000, &d), 0);
    CHECK_EQ_U64(memmap_add_free(&m, 0x10000, 0x1000, &d), 0); /* goes first */
    CHECK_EQ_U64(m.count, 3);
    CHECK_RANGE(0, 0x10000, 0x11000);
    CHECK_RANGE(1, 0x100000, 0x200000);
    CHECK_RANGE(2, 0x400000, 0x500000);
    CHECK_EQ_U64(memmap_add_free(&m, 0x200000, 0x80000, &d), 0); /* joins the one before */
    CHECK_RANGE(1, 0x100000, 0x280000);
    CHECK_EQ_U64(memmap_add_free(&m, 0x300000, 0x100000, &d), 0); /* joins the one after */
    CHECK_RANGE(2, 0x300000, 0x500000);
    CHECK_EQ_U64(memmap_add_free(&m, 0x280000, 0x80000, &d), 0); /* joins both */
    CHECK_EQ_U64(m.count, 2);
    CHECK_RANGE(1, 0x100000, 0x500000);
    CHECK_EQ_U64(memmap_total(&m), 0x1000 + 0x400000);
    check_invariant();
}

TEST(add_rejects_overlap_and_wrap)
{
    memmap_init(&m);
    CHECK_EQ_U64(memmap_add_free(&m, 0x100000, 0x100000, &d), 0);
    CHECK_EQ_U64(memmap_add_free(&m, 0x1ff000, 0x2000, &d), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "memmap: free range [0x1ff000, 0x201000) overlaps free range "
                        "[0x100000, 0x200000)");
    CHECK_EQ_U64(memmap_add_free(&m, 0x80000, 0x81000, &d), (uint64_t)-1); /* overlaps the start */
    CHECK_STR_CONTAINS(d.msg, "overlaps free range [0x100000, 0x200000)");
    CHECK_EQ_U64(memmap_add_free(&m, 0x100000, 0x1000, &d), (uint64_t)-1); /* same base */
    CHECK_EQ_U64(memmap_add_free(&m, 0x0, 0x10000000, &d), (uint64_t)-1); /* covers it */
    CHECK_EQ_U64(memmap_add_free(&m, 0xfffffffffffff000, 0x2000, &d), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "wraps past 2^64");
    CHECK_EQ_U64(m.count, 1);
    CHECK_RANGE(0, 0x100000, 0x200000);
}

static void fill_table(void)
{
    memmap_init(&m);
    for (uint64_t i = 0; i < MEMMAP_MAX; i++)
        CHECK_EQ_U64(memmap_add_free(&m, i * 0x100000, 0x10000, &d), 0);
    CHECK_EQ_U64(m.count, MEMMAP_MAX);
}

TEST(add_to_full_table)
{
    fill_table();
    CHECK_EQ_U64(memmap_add_free(&m, 0x50000, 0x1000, &d), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "memmap: table full (128 ranges), dropped free range [0x50000, 0x51000)");
    CHECK_EQ_U64(m.dropped, 1);
    /* A range that merges needs no new slot, so it still fits. */
    CHECK_EQ_U64(memmap_add_free(&m, 0x10000, 0x10000, &d), 0);
    CHECK_RANGE(0, 0, 0x20000);
    CHECK_EQ_U64(m.count, MEMMAP_MAX);
    check_invariant();
}

TEST(reserve_splits_trims_and_removes)
{
    memmap_init(&m);
    memmap_add_free(&m, 0x100000, 0x400000, &d); /* [1M, 5M) */
    CHECK_EQ_U64(memmap_reserve(&m, 0x200000, 0x100000, &d), 0);
    CHECK_EQ_U64(m.count, 2);
    CHECK_RANGE(0, 0x100000, 0x200000);
    CHECK_RANGE(1, 0x300000, 0x500000);
    CHECK_EQ_U64(memmap_reserve(&m, 0x100000, 0x10000, &d), 0); /* trims the front */
    CHECK_RANGE(0, 0x110000, 0x200000);
    CHECK_EQ_U64(memmap_reserve(&m, 0x4f0000, 0x10000, &d), 0); /* trims the back */
    CHECK_RANGE(1, 0x300000, 0x4f0000);
    CHECK_EQ_U64(memmap_reserve(&m, 0x300000, 0x1f0000, &d), 0); /* removes it exactly */
    CHECK_EQ_U64(m.count, 1);
    CHECK_EQ_U64(memmap_reserve(&m, 0x600000, 0x100000, &d), 0); /* no free RAM there */
    CHECK_EQ_U64(memmap_reserve(&m, 0x150000, 0, &d), 0);        /* empty */
    CHECK_EQ_U64(m.count, 1);
    CHECK_RANGE(0, 0x110000, 0x200000);
    check_invariant();
}

TEST(reserve_rounds_outward)
{
    memmap_init(&m);
    memmap_add_free(&m, 0x0, 0x10000, &d);
    CHECK_EQ_U64(memmap_reserve(&m, 0x3001, 1, &d), 0); /* one byte costs its whole page */
    CHECK_EQ_U64(m.count, 2);
    CHECK_RANGE(0, 0x0, 0x3000);
    CHECK_RANGE(1, 0x4000, 0x10000);
    CHECK_EQ_U64(memmap_reserve(&m, 0x4fff, 0x1002, &d), 0); /* straddles two page boundaries */
    CHECK_RANGE(1, 0x7000, 0x10000);
    check_invariant();
}

TEST(reserve_spanning_several_ranges)
{
    memmap_init(&m);
    for (uint64_t i = 0; i < 6; i++)
        memmap_add_free(&m, i * 0x100000, 0x80000, &d);
    CHECK_EQ_U64(memmap_reserve(&m, 0x140000, 0x300000, &d), 0); /* [1.25M, 4.25M) */
    CHECK_EQ_U64(m.count, 4);
    CHECK_RANGE(0, 0x0, 0x80000);
    CHECK_RANGE(1, 0x100000, 0x140000);
    CHECK_RANGE(2, 0x440000, 0x480000);
    CHECK_RANGE(3, 0x500000, 0x580000);
    check_invariant();
}

TEST(reserve_wrapping_reserves_to_the_top_and_reports)
{
    memmap_init(&m);
    memmap_add_free(&m, 0x100000, 0x100000, &d);
    memmap_add_free(&m, 0xfffffffffff00000, 0xff000, &d);
    CHECK_EQ_U64(m.count, 2);
    CHECK_EQ_U64(memmap_reserve(&m, 0x180000, UINT64_MAX, &d), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "memmap: reserved range [0x180000, +0xffffffffffffffff) wraps past 2^64");
    CHECK_EQ_U64(m.count, 1);
    CHECK_RANGE(0, 0x100000, 0x180000);
    /* Ending in the last partial page: rounded up to "the top", no wrap. */
    memmap_add_free(&m, 0xfffffffffff00000, 0xff000, &d);
    CHECK_EQ_U64(memmap_reserve(&m, 0xffffffffffffe000, 0x1fff, &d), 0);
    CHECK_RANGE(1, 0xfffffffffff00000, 0xffffffffffffe000);
    CHECK_EQ_U64(memmap_reserve(&m, 0xfffffffffff80000, 0x7ffff, &d), 0);
    CHECK_RANGE(1, 0xfffffffffff00000, 0xfffffffffff80000);
}

TEST(reserve_split_with_full_table_keeps_larger_piece)
{
    fill_table();
    /* Range 5 is [0x500000, 0x510000): the hole leaves 0x3000 below and 0xc000 above. */
    CHECK_EQ_U64(memmap_reserve(&m, 0x503000, 0x1000, &d), 0);
    CHECK_EQ_U64(m.count, MEMMAP_MAX);
    CHECK_EQ_U64(m.dropped, 1);
    CHECK_RANGE(5, 0x504000, 0x510000);
    CHECK_EQ_U64(memmap_reserve(&m, 0x60c000, 0x1000, &d), 0); /* larger piece below */
    CHECK_RANGE(6, 0x600000, 0x60c000);
    CHECK_EQ_U64(m.dropped, 2);
    check_invariant();
}

TEST(alloc_takes_highest_aligned_block)
{
    memmap_init(&m);
    memmap_add_free(&m, 0x100000, 0x700000, &d); /* [1M, 8M) */
    memmap_add_free(&m, 0x10001000, 0x10000, &d); /* [256M+4K, 256M+68K): no 2M boundary */
    uint64_t p = memmap_alloc(&m, 0x1000, 0x1000, UINT64_MAX);
    CHECK_EQ_U64(p, 0x10010000);
    CHECK_RANGE(1, 0x10001000, 0x10010000);
    p = memmap_alloc(&m, 0x1000, 2 * MiB, UINT64_MAX); /* only the low range has a 2M boundary */
    CHECK_EQ_U64(p, 6 * MiB);
    CHECK_EQ_U64(m.count, 3);
    CHECK_RANGE(0, 0x100000, 6 * MiB);
    CHECK_RANGE(1, 6 * MiB + 0x1000, 8 * MiB);
    CHECK_EQ_U64(memmap_total(&m), 0x700000 - 0x1000 + 0xf000);
    check_invariant();
}

TEST(alloc_respects_limit_and_rounds_size)
{
    memmap_init(&m);
    memmap_add_free(&m, 0x100000, 0x100000, &d); /* [1M, 2M) */
    memmap_add_free(&m, 4 * GiB, GiB, &d);       /* above 4G */
    uint64_t p = memmap_alloc(&m, 10, 0x1000, 4 * GiB);
    CHECK_EQ_U64(p, 0x1ff000); /* rounded to one page, below the limit */
    p = memmap_alloc(&m, 0x1000, 0x1000, 0x180800); /* unaligned limit */
    CHECK_EQ_U64(p, 0x17f000);
    CHECK(p + 0x1000 <= 0x180800);
    p = memmap_alloc(&m, 0x1000, 0x1000, UINT64_MAX);
    CHECK_EQ_U64(p, 5 * GiB - 0x1000);
    check_invariant();
}

TEST(alloc_failures_return_zero)
{
    memmap_init(&m);
    CHECK_EQ_U64(memmap_alloc(&m, 0x1000, 0x1000, UINT64_MAX), 0); /* empty map */
    memmap_add_free(&m, 0x100000, 0x10000, &d);
    CHECK_EQ_U64(memmap_alloc(&m, 0x20000, 0x1000, UINT64_MAX), 0); /* too big */
    CHECK_EQ_U64(memmap_alloc(&m, 0x1000, 0x1000, 0x100800), 0);   /* limit too low */
    CHECK_EQ_U64(memmap_alloc(&m, 0x1000, 2 * MiB, UINT64_MAX), 0); /* no aligned spot */
    CHECK_EQ_U64(memmap_alloc(&m, 0, 0x1000, UINT64_MAX), 0);
    CHECK_EQ_U64(memmap_alloc(&m, 0x1000, 0x3000, UINT64_MAX), 0); /* not a power of two */
    CHECK_EQ_U64(memmap_alloc(&m, 0x1000, 0x800, UINT64_MAX), 0);  /* below a page */
    CHECK_EQ_U64(memmap_alloc(&m, UINT64_MAX, 0x1000, UINT64_MAX), 0);
    CHECK_EQ_U64(memmap_total(&m), 0x10000); /* failures take nothing */
}

TEST(alloc_never_returns_address_zero)
{
    memmap_init(&m);
    memmap_add_free(&m, 0, 0x1000, &d);
    CHECK_EQ_U64(memmap_alloc(&m, 0x1000, 0x1000, UINT64_MAX), 0);
    CHECK_EQ_U64(m.count, 1);
    memmap_add_free(&m, 0x1000, 0x1000, &d);
    CHECK_EQ_U64(memmap_alloc(&m, 0x1000, 0x1000, UINT64_MAX), 0x1000);
}

TEST(alloc_until_exhausted)
{
    memmap_init(&m);
    memmap_add_free(&m, 0x100000, 0x8000, &d);
    uint64_t last = UINT64_MAX;
    for (int i = 0; i < 8; i++) {
        uint64_t p = memmap_alloc(&m, 0x1000, 0x1000, UINT64_MAX);
        CHECK(p != 0 && p < last);
        last = p;
    }
    CHECK_EQ_U64(last, 0x100000);
    CHECK_EQ_U64(memmap_alloc(&m, 0x1000, 0x1000, UINT64_MAX), 0);
    CHECK_EQ_U64(m.count, 0);
}

TEST(from_mb2_adds_available_and_reserves_boot_data)
{
    static struct mb2_info mb;
    memset(&mb, 0, sizeof mb);
    mb.info_phys = 0x9000;
    mb.total_size = 0x800;
    mb.mmap[mb.mmap_count++] = (struct mb2_region){ 0x0, 0x9fc00, MB2_MEM_AVAILABLE };
    mb.mmap[mb.mmap_count++] = (struct mb2_region){ 0x9fc00, 0x400, MB2_MEM_RESERVED };
    mb.mmap[mb.mmap_count++] = (struct mb2_region){ 0x100000, 0x7ee0000, MB2_MEM_AVAILABLE };
    mb.mmap[mb.mmap_count++] = (struct mb2_region){ 0x7fe0000, 0x20000, MB2_MEM_ACPI_RECLAIMABLE };
    mb.mmap[mb.mmap_count++] = (struct mb2_region){ 0x100000000, 0x40000000, MB2_MEM_AVAILABLE };
    mb.modules[mb.module_count++] = (struct mb2_module){ 0x200000, 0x210000, "init" };
    mb.modules[mb.module_count++] = (struct mb2_module){ 0x210000, 0x212345, "serial" };
    mb.has_symbols = true;
    mb.symtab_phys = 0x300000;
    mb.symtab_size = 0x1800;
    mb.strtab_phys = 0x302000;
    mb.strtab_size = 0x900;
    memmap_init(&m);
    CHECK_EQ_U64(memmap_from_mb2(&m, &mb, &d), 0);
    CHECK_EQ_U64(m.count, 4);
    CHECK_RANGE(0, 0x100000, 0x200000); /* below 1 MiB all gone, boot info with it */
    CHECK_RANGE(1, 0x213000, 0x300000); /* modules, second one rounded up */
    CHECK_RANGE(2, 0x303000, 0x7fe0000); /* symtab and strtab */
    CHECK_RANGE(3, 0x100000000, 0x140000000);
    check_invariant();
}

TEST(from_mb2_reserves_boot_info_above_1m)
{
    static struct mb2_info mb;
    memset(&mb, 0, sizeof mb);
    mb.info_phys = 0x500010;
    mb.total_size = 0x1000;
    mb.mmap[mb.mmap_count++] = (struct mb2_region){ 0x100000, 0x1000000, MB2_MEM_AVAILABLE };
    memmap_init(&m);
    CHECK_EQ_U64(memmap_from_mb2(&m, &mb, &d), 0);
    CHECK_EQ_U64(m.count, 2);
    CHECK_RANGE(0, 0x100000, 0x500000);
    CHECK_RANGE(1, 0x502000, 0x1100000); /* [0x500010, 0x501010) touches two pages */
}

TEST(from_mb2_via_parsed_boot_info)
{
    static struct mb b;
    static struct mb2_info mb;
    static const struct mb_mmap_entry e[] = {
        { 0x0, 0x9fc00, MB2_MEM_AVAILABLE },
        { 0x100000, 0x3f00000, MB2_MEM_AVAILABLE },
        { 0x4000000, 0x1000000, MB2_MEM_RESERVED },
    };
    mb_init(&b);
    mb_mmap(&b, e, 3);
    mb_module(&b, 0x800000, 0x900000, "init");
    mb_finish(&b);
    CHECK_EQ_U64(mb2_parse(b.words, 0x1000000, &mb, &d), 0);
    memmap_init(&m);
    CHECK_EQ_U64(memmap_from_mb2(&m, &mb, &d), 0);
    CHECK_EQ_U64(m.count, 3);
    CHECK_RANGE(0, 0x100000, 0x800000);
    CHECK_RANGE(1, 0x900000, 0x1000000);
    CHECK_RANGE(2, 0x1001000, 0x4000000);
    CHECK_EQ_U64(memmap_total(&m), 0x3f00000 - 0x100000 - 0x1000);
}

TEST(from_mb2_propagates_add_errors)
{
    static struct mb2_info mb;
    memset(&mb, 0, sizeof mb);
    /* mb2_parse would reject this overlap; a hand-made mb2_info must still be caught. */
    mb.mmap[mb.mmap_count++] = (struct mb2_region){ 0x100000, 0x100000, MB2_MEM_AVAILABLE };
    mb.mmap[mb.mmap_count++] = (struct mb2_region){ 0x180000, 0x100000, MB2_MEM_AVAILABLE };
    memmap_init(&m);
    CHECK_EQ_U64(memmap_from_mb2(&m, &mb, &d), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "overlaps");
}
