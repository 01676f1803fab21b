/* BootInfo, the initial capabilities, the Debug capability, and libkeel's own pieces. */
#include "ktest.h"

KEEL_TEST(bootinfo_valid)
{
    const struct keel_bootinfo *bi = keel_bootinfo_get();
    ASSERT_TRUE(bi != 0);
    EXPECT_EQ(bi->magic, KEEL_BOOTINFO_MAGIC);
    EXPECT_EQ(bi->version, KEEL_BOOTINFO_VERSION);
    EXPECT_EQ((uint64_t)bi, KEEL_ROOT_BOOTINFO);
    EXPECT_EQ(bi->ipc_buffer, KEEL_ROOT_IPC_BUFFER);
    EXPECT_TRUE(bi->cpu_count >= 1);
    EXPECT_TRUE(bi->untyped_count >= 1);
    EXPECT_TRUE(bi->empty.start >= KEEL_SLOT_FIRST_FREE_FIXED);
    EXPECT_TRUE(bi->empty.end > bi->empty.start);
    EXPECT_EQ(bi->empty.end, keel_bootinfo_slot_count(bi)); /* assumption: the free range runs to the end */
    EXPECT_TRUE(keel_bootinfo_largest_ram_untyped(bi) >= 0);
    EXPECT_EQ(keel_bootinfo_has(bi, KEEL_FEATURE_DEBUG_KERNEL), KEEL_DEBUG != 0);
}

KEEL_TEST(initial_caps_identify)
{
    static const struct {
        uint64_t slot, type;
    } want[] = {
        { KEEL_SLOT_NULL, KEEL_CAP_NULL },
        { KEEL_SLOT_TCB, KEEL_OBJ_TCB },
        { KEEL_SLOT_CNODE, KEEL_OBJ_CNODE },
        { KEEL_SLOT_VSPACE, KEEL_OBJ_PML4 },
        { KEEL_SLOT_IRQ_CONTROL, KEEL_CAP_IRQ_CONTROL },
        { KEEL_SLOT_ASID_CONTROL, KEEL_CAP_ASID_CONTROL },
        { KEEL_SLOT_IOPORT_CONTROL, KEEL_CAP_IOPORT_CONTROL },
        { KEEL_SLOT_IPC_BUFFER, KEEL_OBJ_FRAME_4K },
        { KEEL_SLOT_BOOTINFO_FRAME, KEEL_OBJ_FRAME_4K },
        { KEEL_SLOT_DEBUG, KEEL_CAP_DEBUG },
        { KEEL_SLOT_ASID_POOL, KEEL_CAP_ASID_POOL },
        { KEEL_SLOT_LOG, KEEL_CAP_LOG },
    };
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t t = kt_type(want[i].slot);
        ktest_check(t == want[i].type, __FILE__, __LINE__, "slot %llu holds %s, expected %s",
                    (unsigned long long)want[i].slot, keel_cap_type_name(t), keel_cap_type_name(want[i].type));
    }
    EXPECT_EQ(kt_type(kt_bi->untyped.start), KEEL_OBJ_UNTYPED);
    EXPECT_EQ(kt_type(kt_bi->untyped.end - 1), KEEL_OBJ_UNTYPED);
    if (kt_bi->module_frames.end > kt_bi->module_frames.start)
        EXPECT_EQ(kt_type(kt_bi->module_frames.start), KEEL_OBJ_FRAME_4K);
    if (kt_bi->image_frames.end > kt_bi->image_frames.start)
        EXPECT_EQ(kt_type(kt_bi->image_frames.start), KEEL_OBJ_FRAME_4K);
    struct keel_cap_identity id;
    ASSERT_OK(kt_identify(KEEL_SLOT_CNODE, &id));
    EXPECT_EQ(id.badge, 0); /* assumption: Identify's MR2 is the guard for CNodes; the root's is 0 */
}

/* The Log cap (every build): what keel_printf writes through. */
KEEL_TEST(log_write)
{
    EXPECT_EQ(keel_log_cap(), KEEL_SLOT_LOG);
    EXPECT_OK(keel_log_write(KEEL_SLOT_LOG, "", 0)); /* the probe: writes nothing */
    EXPECT_OK(keel_log_write(KEEL_SLOT_LOG, "# log: one write\n", 17));
    const uint64_t too_long[] = { KEEL_LOG_WRITE_MAX + 1 };
    EXPECT_ERR(keel_invoke(KEEL_SLOT_LOG, KEEL_LOG_WRITE, too_long, 1, 0, 0, 0, 0), KEEL_E_RANGE);
    EXPECT_DETAIL(2, KEEL_LOG_WRITE_MAX);
    const uint64_t short_msg[] = { 9, 0 }; /* 9 bytes need two words after MR0 */
    EXPECT_ERR(keel_invoke(KEEL_SLOT_LOG, KEEL_LOG_WRITE, short_msg, 2, 0, 0, 0, 0), KEEL_E_TRUNCATED_MESSAGE);
    EXPECT_DETAIL(0, 3);
    EXPECT_ERR(keel_invoke(KEEL_SLOT_LOG, KEEL_LOG_WRITE + 1, short_msg, 2, 0, 0, 0, 0), KEEL_E_ILLEGAL_OPERATION);
    uint64_t ro;
    ASSERT_OK(kt_slot(&ro));
    ASSERT_OK(keel_cspace_copy(ro, KEEL_SLOT_LOG, KEEL_RIGHT_READ));
    EXPECT_ERR(keel_log_write(ro, "x", 1), KEEL_E_INSUFFICIENT_RIGHTS);
    EXPECT_OK(keel_cspace_delete(ro));
}

KEEL_TEST(identify_bad_cptr)
{
    struct keel_cap_identity id;
    EXPECT_LOOKUP(kt_identify(1ull << 63, &id), KEEL_LOOKUP_GUARD_MISMATCH);
    /* assumption: the cptr argument counts as "argument 0", so MR2 = 1. */
    EXPECT_DETAIL(2, 1);
    EXPECT_ERR(keel_debug_cap_identify(KEEL_SLOT_TCB, KEEL_SLOT_TCB, &id), KEEL_E_ILLEGAL_OPERATION);
}

KEEL_TEST(identify_empty_slot)
{
    uint64_t s;
    ASSERT_OK(kt_slot(&s));
    struct keel_cap_identity id;
    /* assumption: Identify describes whatever the slot holds, and KEEL_CAP_NULL is a type, so an
     * empty slot is reported as type NULL rather than as a failed lookup. */
    ASSERT_OK(kt_identify(s, &id));
    EXPECT_EQ(id.type, KEEL_CAP_NULL);
}

KEEL_TEST(debug_kernel_info)
{
    struct keel_kernel_info a, b;
    ASSERT_OK(keel_debug_kernel_info(KEEL_SLOT_DEBUG, &a));
    EXPECT_TRUE(a.timer_hz > 0);
    EXPECT_EQ((a.flags & KEEL_KERNEL_INFO_DEBUG) != 0, KEEL_DEBUG != 0); /* assumption: one build type */
    for (int i = 0; i < 10; i++)
        keel_yield();
    ASSERT_OK(keel_debug_kernel_info(KEEL_SLOT_DEBUG, &b));
    EXPECT_TRUE(b.ticks >= a.ticks);
    EXPECT_EQ(b.tsc_khz, a.tsc_khz);
}

KEEL_TEST(debug_tlb_counters)
{
    struct keel_tlb_counters c;
    ASSERT_OK(keel_debug_tlb_counters(KEEL_SLOT_DEBUG, 0, &c));
    /* assumption: a CPU index past the last is RANGE on argument 0. */
    EXPECT_ERR(keel_debug_tlb_counters(KEEL_SLOT_DEBUG, kt_bi->cpu_count, &c), KEEL_E_RANGE);
    EXPECT_DETAIL(0, 0);
    EXPECT_DETAIL(2, kt_bi->cpu_count - 1);
}

KEEL_TEST(debug_fault_logging_and_invariants)
{
    EXPECT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, false));
    EXPECT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, true));
    uint64_t v = 1;
    EXPECT_OK(keel_debug_check_invariants(KEEL_SLOT_DEBUG, &v));
    EXPECT_EQ(v, 0);
    /* Debug invocations need the Debug cap. */
    EXPECT_ERR(keel_debug_check_invariants(KEEL_SLOT_CNODE, &v), KEEL_E_ILLEGAL_OPERATION);
}

/* ---- libkeel itself ---- */

static bool fmt_is(const char *want, const char *fmt, ...) KEEL_PRINTF(2, 3);
static bool fmt_is(const char *want, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = keel_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return ktest_check(strcmp(buf, want) == 0 && n == (int)strlen(want), __FILE__, __LINE__,
                       "format \"%s\" gave \"%s\" (%d), expected \"%s\"", fmt, buf, n, want);
}

KEEL_TEST(lib_snprintf)
{
    fmt_is("42|-7|   42|42   |00042", "%d|%i|%5d|%-5d|%05d", 42, -7, 42, 42, 42);
    fmt_is("ff|FF|0xff|0x00ff|0", "%x|%X|%#x|%#06x|%x", 255u, 255u, 255u, 255u, 0u);
    fmt_is("18446744073709551615|-9223372036854775808", "%llu|%lld", ~0ull, (long long)(-9223372036854775807ll - 1));
    fmt_is("0x400000|(null)|abc|  x|ab", "%p|%s|%s|%3c|%.2s", (void *)0x400000, (char *)0, "abc", 'x', "abcdef");
    fmt_is("100%|17|z", "%d%%|%zu|%c", 100, (size_t)17, 'z');
    fmt_is("[   ab][ab   ]", "[%*s][%-*s]", 5, "ab", 5, "ab");
    char small[4];
    EXPECT_EQ(keel_snprintf(small, sizeof(small), "%s", "abcdef"), 6);
    EXPECT_EQ(strcmp(small, "abc"), 0);
}

KEEL_TEST(lib_strerror_covers_every_code)
{
    for (int e = 0; e < KEEL_ERROR_COUNT; e++)
        ktest_check(strcmp(keel_strerror(e), "UNKNOWN_ERROR") != 0, __FILE__, __LINE__, "no name for %d", e);
    EXPECT_EQ(strcmp(keel_strerror(KEEL_E_DELETE_FIRST), "DELETE_FIRST"), 0);
    EXPECT_EQ(strcmp(keel_strerror(KEEL_ERROR_COUNT), "UNKNOWN_ERROR"), 0);
    EXPECT_EQ(strcmp(keel_lookup_failure_name(KEEL_LOOKUP_GUARD_MISMATCH), "GUARD_MISMATCH"), 0);
}

KEEL_TEST(lib_string)
{
    char buf[16];
    memset(buf, 'x', sizeof(buf));
    EXPECT_EQ(strlcpy(buf, "hello", sizeof(buf)), 5);
    EXPECT_EQ(strcmp(buf, "hello"), 0);
    memmove(buf + 1, buf, 5); /* overlapping, destination above: copies backwards */
    EXPECT_EQ(memcmp(buf, "hhello", 6), 0);
    memmove(buf, buf + 1, 5); /* overlapping, destination below: copies forwards */
    EXPECT_EQ(memcmp(buf, "hello", 5), 0);
    EXPECT_TRUE(strncmp("abcd", "abce", 3) == 0 && strncmp("abcd", "abce", 4) < 0);
    EXPECT_EQ(strchr(buf, 'l') - buf, 2);
    EXPECT_TRUE(strchr(buf, 'z') == 0);
    EXPECT_EQ(strnlen("abc", 2), 2);
}

KEEL_TEST(lib_slot_allocator)
{
    uint64_t free0 = keel_slot_free_count(), first, one;
    ASSERT_OK(keel_slot_alloc_range(8, &first));
    for (uint64_t i = 0; i < 8; i++)
        EXPECT_TRUE(keel_slot_is_allocated(first + i));
    EXPECT_EQ(keel_slot_free_count(), free0 - 8);
    keel_slot_free(first + 3);
    EXPECT_TRUE(!keel_slot_is_allocated(first + 3));
    ASSERT_OK(keel_slot_alloc(&one));
    EXPECT_TRUE(keel_slot_is_allocated(one));
    EXPECT_ERR(keel_slot_alloc_range(free0 + 1, &one), KEEL_E_NOT_ENOUGH_MEMORY);
    EXPECT_EQ(keel_last_error(), KEEL_E_NOT_ENOUGH_MEMORY);
    /* The runner frees what the test took. */
}

KEEL_TEST(lib_untyped_allocator)
{
    uint64_t before = keel_untyped_alloc_bytes_free(), a, b;
    ASSERT_OK(keel_alloc_object(KEEL_OBJ_TCB, 0, &a));
    ASSERT_OK(keel_alloc_objects(KEEL_OBJ_ENDPOINT, 0, 3, &b));
    EXPECT_EQ(kt_type(a), KEEL_OBJ_TCB);
    EXPECT_EQ(kt_type(b + 2), KEEL_OBJ_ENDPOINT);
    EXPECT_TRUE(keel_untyped_alloc_bytes_free() <= before - 2048 - 3 * 64);
    EXPECT_ERR(keel_alloc_object(KEEL_OBJ_UNTYPED, 1ull << 40, &a), KEEL_E_NOT_ENOUGH_MEMORY);
    EXPECT_ERR(keel_alloc_object(KEEL_CAP_NULL, 0, &a), KEEL_E_INVALID_ARGUMENT);
    ASSERT_OK(keel_free_object(b));
    EXPECT_TRUE(!keel_slot_is_allocated(b));
}
