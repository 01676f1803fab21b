/* retype: object sizes and alignments, and placing objects above an Untyped's watermark. */
#define CHECK_MAIN
#include "check.h"
#include "object/retype.h"
#include <keel/abi.h>

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static uint64_t size, align, bad;

static int osize(uint32_t type, uint64_t param, bool page1g)
{
    size = align = bad = 0xdeadull;
    return object_size(type, param, page1g, &size, &align, &bad);
}

#define CHECK_SIZE(type, param, page1g, want_size, want_align)                                     \
    do {                                                                                           \
        CHECK_EQ_U64(osize((type), (param), (page1g)), 0);                                         \
        CHECK_EQ_U64(size, (want_size));                                                           \
        CHECK_EQ_U64(align, (want_align));                                                         \
    } while (0)
#define CHECK_SIZE_ERR(type, param, page1g, err, want_bad)                                         \
    do {                                                                                           \
        CHECK_EQ_U64(osize((type), (param), (page1g)), (err));                                     \
        CHECK_EQ_U64(bad, (want_bad));                                                             \
    } while (0)

/* ---- object_size ---- */

TEST(fixed_size_objects)
{
    for (int g = 0; g < 2; g++) {
        bool p1g = g;
        CHECK_SIZE(KEEL_OBJ_TCB, 0, p1g, 2048, 2048);
        CHECK_SIZE(KEEL_OBJ_ENDPOINT, 0, p1g, 64, 64);
        CHECK_SIZE(KEEL_OBJ_NOTIFICATION, 0, p1g, 64, 64);
        CHECK_SIZE(KEEL_OBJ_REPLY, 0, p1g, 64, 64);
        /* A VSpace root is its table page plus bookkeeping: KEEL_PML4_SIZE_BITS in the ABI. */
        CHECK_SIZE(KEEL_OBJ_PML4, 0, p1g, 1ull << KEEL_PML4_SIZE_BITS, 1ull << KEEL_PML4_SIZE_BITS);
        CHECK_SIZE(KEEL_OBJ_PDPT, 0, p1g, 4096, 4096);
        CHECK_SIZE(KEEL_OBJ_PD, 0, p1g, 4096, 4096);
        CHECK_SIZE(KEEL_OBJ_PT, 0, p1g, 4096, 4096);
        CHECK_SIZE(KEEL_OBJ_FRAME_4K, 0, p1g, 4096, 4096);
        CHECK_SIZE(KEEL_OBJ_FRAME_2M, 0, p1g, 2 * MiB, 2 * MiB);
    }
    /* The size parameter means nothing to fixed-size objects. */
    CHECK_SIZE(KEEL_OBJ_TCB, 12345, false, 2048, 2048);
    CHECK_SIZE(KEEL_OBJ_FRAME_4K, ~0ull, false, 4096, 4096);
    /* The sizes agree with the ABI constants and the kernel structures fit. */
    CHECK_EQ_U64(1u << KEEL_TCB_SIZE_BITS, 2048);
    CHECK_EQ_U64(1u << KEEL_ENDPOINT_SIZE_BITS, 64);
    CHECK(KEEL_PML4_SIZE_BITS >= 12);
}

TEST(frame_1g_needs_the_feature)
{
    CHECK_SIZE(KEEL_OBJ_FRAME_1G, 0, true, GiB, GiB);
    CHECK_SIZE_ERR(KEEL_OBJ_FRAME_1G, 0, false, KEEL_E_NOT_SUPPORTED, 0);
}

TEST(cnode_sizes_by_radix)
{
    for (uint64_t r = 1; r <= 20; r++)
        CHECK_SIZE(KEEL_OBJ_CNODE, r, false, 1ull << (r + 6), 1ull << (r + 6));
    CHECK_SIZE(KEEL_OBJ_CNODE, 12, false, 256 * KiB, 256 * KiB);
    CHECK_SIZE_ERR(KEEL_OBJ_CNODE, 0, false, KEEL_E_RANGE, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_CNODE, 21, false, KEEL_E_RANGE, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_CNODE, 64, false, KEEL_E_RANGE, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_CNODE, 1ull << 32 | 4, false, KEEL_E_RANGE, 1); /* not truncated to 4 */
    CHECK_SIZE_ERR(KEEL_OBJ_CNODE, ~0ull, true, KEEL_E_RANGE, 1);
}

TEST(untyped_sizes)
{
    CHECK_SIZE(KEEL_OBJ_UNTYPED, 4096, false, 4096, 4096);
    CHECK_SIZE(KEEL_OBJ_UNTYPED, 8192, false, 8192, 4096);
    CHECK_SIZE(KEEL_OBJ_UNTYPED, 3 * 4096, false, 3 * 4096, 4096); /* not a power of two */
    CHECK_SIZE(KEEL_OBJ_UNTYPED, 5 * MiB + 4096, false, 5 * MiB + 4096, 4096);
    CHECK_SIZE(KEEL_OBJ_UNTYPED, 1ull << 47, false, 1ull << 47, 4096);
    CHECK_SIZE(KEEL_OBJ_UNTYPED, (1ull << 47) - 4096, false, (1ull << 47) - 4096, 4096);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, 0, false, KEEL_E_RANGE, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, 1, false, KEEL_E_ALIGNMENT, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, 4095, false, KEEL_E_ALIGNMENT, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, 4097, false, KEEL_E_ALIGNMENT, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, 6144, false, KEEL_E_ALIGNMENT, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, (1ull << 47) + 4096, false, KEEL_E_RANGE, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, (1ull << 47) + 1, false, KEEL_E_ALIGNMENT, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, 1ull << 63, false, KEEL_E_RANGE, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, ~0ull - 4095, false, KEEL_E_RANGE, 1);
    CHECK_SIZE_ERR(KEEL_OBJ_UNTYPED, ~0ull, false, KEEL_E_ALIGNMENT, 1);
}

TEST(bad_types)
{
    uint32_t types[] = { KEEL_CAP_NULL, KEEL_OBJECT_TYPE_COUNT, 15, 31, KEEL_CAP_IRQ_CONTROL, KEEL_CAP_IRQ_HANDLER,
                         KEEL_CAP_IOPORT_CONTROL, KEEL_CAP_IOPORT, KEEL_CAP_ASID_CONTROL, KEEL_CAP_ASID_POOL,
                         KEEL_CAP_DEBUG, 255, 256 + KEEL_OBJ_TCB, UINT32_MAX };
    for (unsigned i = 0; i < sizeof types / sizeof types[0]; i++) {
        CHECK_SIZE_ERR(types[i], 0, true, KEEL_E_INVALID_ARGUMENT, 0);
        CHECK_SIZE_ERR(types[i], 8, false, KEEL_E_INVALID_ARGUMENT, 0);
    }
}

TEST(every_object_type_is_known)
{
    /* Each type 1..KEEL_OBJECT_TYPE_COUNT-1 has a size with a sensible parameter; the size is a
     * multiple of the alignment and the alignment a power of two. */
    for (uint32_t t = 1; t < KEEL_OBJECT_TYPE_COUNT; t++) {
        uint64_t param = t == KEEL_OBJ_CNODE ? 4 : t == KEEL_OBJ_UNTYPED ? 64 * KiB : 0;
        CHECK_EQ_U64(osize(t, param, true), 0);
        CHECK(align && (align & (align - 1)) == 0);
        CHECK(size >= align && size % align == 0);
    }
}

/* ---- retype_plan ---- */

static struct retype_plan plan;
static uint64_t avail;

static int place(uint64_t base, uint64_t ut_size, uint64_t wm, uint64_t sz, uint64_t al, uint64_t count)
{
    plan.first = plan.new_watermark = 0xdead;
    avail = 0xdead;
    return retype_plan(base, ut_size, wm, sz, al, count, &plan, &avail);
}

#define CHECK_PLACED(want_first, want_wm)                                                          \
    do {                                                                                           \
        CHECK_EQ_U64(plan.first, (want_first));                                                    \
        CHECK_EQ_U64(plan.new_watermark, (want_wm));                                               \
    } while (0)
#define CHECK_NEM(avail_want)                                                                      \
    do {                                                                                           \
        CHECK_EQ_U64(avail, (avail_want));                                                         \
    } while (0)

TEST(plan_exact_fit_and_one_too_many)
{
    const uint64_t base = 0x100000, usz = MiB;
    CHECK_EQ_U64(place(base, usz, 0, 2048, 2048, 512), 0);
    CHECK_PLACED(base, MiB);
    CHECK_EQ_U64(avail, MiB);
    CHECK_EQ_U64(place(base, usz, 0, 2048, 2048, 513), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(MiB);
    CHECK_EQ_U64(place(base, usz, 0, 64, 64, MiB / 64), 0);
    CHECK_PLACED(base, MiB);
    CHECK_EQ_U64(place(base, usz, 0, 64, 64, MiB / 64 + 1), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_EQ_U64(place(base, usz, 0, MiB, MiB, 1), 0);
    CHECK_PLACED(base, MiB);
    CHECK_EQ_U64(place(base, usz, 0, 2 * MiB, 2 * MiB, 1), KEEL_E_NOT_ENOUGH_MEMORY); /* base not 2M aligned */
    CHECK_NEM(0);
}

TEST(plan_aligns_above_the_watermark)
{
    const uint64_t base = 0x100000, usz = MiB;
    /* One endpoint used; a TCB goes to the next 2 KiB boundary. */
    CHECK_EQ_U64(place(base, usz, 64, 2048, 2048, 1), 0);
    CHECK_PLACED(base + 2048, 4096);
    CHECK_EQ_U64(avail, MiB - 2048);
    CHECK_EQ_U64(place(base, usz, 64, 2048, 2048, 511), 0);
    CHECK_PLACED(base + 2048, MiB);
    CHECK_EQ_U64(place(base, usz, 64, 2048, 2048, 512), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(MiB - 2048);
    /* Already aligned watermark: no gap. */
    CHECK_EQ_U64(place(base, usz, 4096, 4096, 4096, 2), 0);
    CHECK_PLACED(base + 4096, 3 * 4096);
    /* Endpoints after one endpoint: packed. */
    CHECK_EQ_U64(place(base, usz, 64, 64, 64, 3), 0);
    CHECK_PLACED(base + 64, 256);
}

TEST(plan_untyped_base_not_aligned_to_the_object)
{
    /* A 4 MiB + 4 KiB region at 0x201000: one 2 MiB frame fits at 0x400000, two do not. */
    const uint64_t base = 0x201000, usz = 4 * MiB + 4096;
    CHECK_EQ_U64(place(base, usz, 0, 2 * MiB, 2 * MiB, 1), 0);
    CHECK_PLACED(0x400000, 0x400000 + 2 * MiB - base);
    CHECK_EQ_U64(avail, base + usz - 0x400000);
    CHECK_EQ_U64(place(base, usz, 0, 2 * MiB, 2 * MiB, 2), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(base + usz - 0x400000);
    /* The aligned start lies beyond the end: nothing available. */
    CHECK_EQ_U64(place(0x1000, 0x1000, 0, 2 * MiB, 2 * MiB, 1), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(0);
    /* The aligned start is exactly the end. */
    CHECK_EQ_U64(place(0x1ff000, 0x1000, 0, 2 * MiB, 2 * MiB, 1), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(0);
}

TEST(plan_non_power_of_two_untyped)
{
    const uint64_t base = 0x3000, usz = 3 * 4096;
    CHECK_EQ_U64(place(base, usz, 0, 4096, 4096, 3), 0);
    CHECK_PLACED(base, usz);
    CHECK_EQ_U64(place(base, usz, 0, 4096, 4096, 4), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(usz);
    CHECK_EQ_U64(place(base, usz, 0, 64, 64, 192), 0);
    CHECK_EQ_U64(place(base, usz, 0, 8192, 8192, 1), 0); /* a radix-7 CNode at 0x4000 */
    CHECK_PLACED(0x4000, 0x4000 + 8192 - base);
    CHECK_EQ_U64(place(base, usz, 0, 8192, 8192, 2), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(base + usz - 0x4000);
    /* Untyped children of a page-multiple size, page aligned. */
    CHECK_EQ_U64(place(base, usz, 4096, 8192, 4096, 1), 0);
    CHECK_PLACED(base + 4096, usz);
}

TEST(plan_full_and_overfull_watermark)
{
    const uint64_t base = 0x100000, usz = 64 * KiB;
    CHECK_EQ_U64(place(base, usz, usz, 64, 64, 1), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(0);
    CHECK_EQ_U64(place(base, usz, usz - 64, 64, 64, 1), 0);
    CHECK_PLACED(base + usz - 64, usz);
    CHECK_EQ_U64(place(base, usz, usz + 4096, 64, 64, 1), KEEL_E_NOT_ENOUGH_MEMORY); /* never underflows */
    CHECK_NEM(0);
}

TEST(plan_count_and_size_zero)
{
    CHECK_EQ_U64(place(0x100000, MiB, 0, 4096, 4096, 0), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_EQ_U64(plan.first, 0xdead); /* no plan */
    CHECK_EQ_U64(place(0x100000, MiB, 0, 0, 4096, 1), KEEL_E_NOT_ENOUGH_MEMORY); /* no division by zero */
    CHECK_EQ_U64(plan.first, 0xdead);
}

TEST(plan_huge_counts_do_not_overflow)
{
    const uint64_t base = 0x100000, usz = MiB;
    uint64_t counts[] = { 1ull << 32, (1ull << 52) + 1, 1ull << 58, 1ull << 63, ~0ull, ~0ull / 64 + 1 };
    for (unsigned i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        CHECK_EQ_U64(place(base, usz, 0, 64, 64, counts[i]), KEEL_E_NOT_ENOUGH_MEMORY);
        CHECK_NEM(MiB);
        CHECK_EQ_U64(place(base, usz, 0, 1ull << 30, 1ull << 12, counts[i]), KEEL_E_NOT_ENOUGH_MEMORY);
    }
    /* count * size wrapping to something small must not pass: 2^58 * 64 = 2^64 = 0. */
    CHECK_EQ_U64(place(0, ~0ull - 4095, 0, 64, 64, 1ull << 58), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_EQ_U64(place(0, 1ull << 47, 0, 1ull << 47, 4096, 1), 0);
    CHECK_PLACED(0, 1ull << 47);
}

TEST(plan_near_the_top_of_the_address_space)
{
    /* A region ending one page below 2^64. */
    const uint64_t base = 0xffffffffffffe000ull, usz = 4096;
    CHECK_EQ_U64(place(base, usz, 0, 4096, 4096, 1), 0);
    CHECK_PLACED(base, 4096);
    CHECK_EQ_U64(place(base, usz, 0, 64, 64, 64), 0);
    CHECK_EQ_U64(place(base, usz, 0, 64, 64, 65), KEEL_E_NOT_ENOUGH_MEMORY);
    /* Rounding the start up to 2 MiB would wrap past 2^64. */
    CHECK_EQ_U64(place(base, usz, 0, 2 * MiB, 2 * MiB, 1), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(0);
    CHECK_EQ_U64(place(base, usz, 64, 1ull << 63, 1ull << 63, 1), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(0);
    CHECK_EQ_U64(place(base, usz, 64, 4096, 4096, 1), KEEL_E_NOT_ENOUGH_MEMORY);
    CHECK_NEM(0);
}

TEST(plan_consecutive_retypes_do_not_overlap)
{
    /* Retype a mix of objects one after another, feeding the watermark back in. */
    const uint64_t base = 0x40000000, usz = 2 * MiB + 3 * 4096;
    struct { uint32_t type; uint64_t param, count; } seq[] = {
        { KEEL_OBJ_ENDPOINT, 0, 3 }, { KEEL_OBJ_TCB, 0, 2 },  { KEEL_OBJ_CNODE, 5, 1 },
        { KEEL_OBJ_REPLY, 0, 1 },    { KEEL_OBJ_FRAME_4K, 0, 2 }, { KEEL_OBJ_UNTYPED, 12288, 1 },
        { KEEL_OBJ_NOTIFICATION, 0, 5 }, { KEEL_OBJ_PT, 0, 1 }, { KEEL_OBJ_FRAME_2M, 0, 1 },
    };
    uint64_t wm = 0, prev_end = base;
    for (unsigned i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        CHECK_EQ_U64(osize(seq[i].type, seq[i].param, false), 0);
        uint64_t sz = size, al = align;
        int err = place(base, usz, wm, sz, al, seq[i].count);
        if (seq[i].type == KEEL_OBJ_FRAME_2M) { /* does not fit any more */
            CHECK_EQ_U64(err, KEEL_E_NOT_ENOUGH_MEMORY);
            CHECK_EQ_U64(avail, usz - 2 * MiB); /* from the 2 MiB boundary to the end */
            continue;
        }
        CHECK_EQ_U64(err, 0);
        CHECK(plan.first >= prev_end);
        CHECK_EQ_U64(plan.first % al, 0);
        CHECK_EQ_U64(plan.new_watermark, plan.first + seq[i].count * sz - base);
        CHECK(plan.new_watermark <= usz);
        prev_end = base + plan.new_watermark;
        wm = plan.new_watermark;
    }
}

/* Random inputs against arithmetic done in 128 bits. Regions are page aligned and end below
 * 2^64, as Untyped regions do. */
static uint64_t rng = 0xda942042e4dd58b5ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

TEST(plan_matches_128_bit_reference)
{
    unsigned ok = 0, nem = 0, wrong = 0;
    for (int i = 0; i < 200000; i++) {
        unsigned bits = (unsigned)(12 + rnd() % 52);
        uint64_t base = (rnd() & ((1ull << bits) - 1)) & ~4095ull;
        uint64_t usz = ((rnd() % (1ull << (rnd() % 36))) + 1) * 4096;
        if (base + usz < base || base + usz == 0)
            continue;
        uint64_t wm = rnd() % 4 == 0 ? usz : rnd() % (usz + 1);
        unsigned ab = (unsigned)(rnd() % 31);
        uint64_t al = 1ull << ab, sz = al * (rnd() % 3 == 0 ? 1 + rnd() % 4 : 1);
        uint64_t count = rnd() % 8 == 0 ? rnd() : rnd() % 70;
        unsigned __int128 end = (unsigned __int128)base + usz, start = (unsigned __int128)base + wm;
        unsigned __int128 first = (start + al - 1) / al * al;
        bool fits = count && first <= end && first + (unsigned __int128)count * sz <= end;
        uint64_t want_avail = first <= end ? (uint64_t)(end - first) : 0;
        int err = place(base, usz, wm, sz, al, count);
        bool bad_result = fits ? err != 0 || plan.first != (uint64_t)first ||
                                     plan.new_watermark != (uint64_t)(first + (unsigned __int128)count * sz - base)
                               : err != KEEL_E_NOT_ENOUGH_MEMORY || avail != want_avail;
        if (bad_result && wrong++ < 5)
            check_fail(__FILE__, __LINE__,
                       "base 0x%" PRIx64 " size 0x%" PRIx64 " wm 0x%" PRIx64 " obj 0x%" PRIx64 "/0x%" PRIx64
                       " count %" PRIu64 ": err %d first 0x%" PRIx64 " avail 0x%" PRIx64 ", want fits=%d avail 0x%" PRIx64,
                       base, usz, wm, sz, al, count, err, plan.first, avail, fits, want_avail);
        ok += fits;
        nem += !fits;
    }
    printf("    %u placed, %u refused\n", ok, nem);
    CHECK(ok > 10000 && nem > 10000);
}
