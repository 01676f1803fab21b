/* mb2_parse: a GRUB-like boot information list, then every malformation we guard against. */
#define CHECK_MAIN
#include "mb2_fixture.h"

static const struct mb_mmap_entry grub_mmap[] = {
    { 0x0, 0x9fc00, MB2_MEM_AVAILABLE },
    { 0x9fc00, 0x400, MB2_MEM_RESERVED },
    { 0xf0000, 0x10000, MB2_MEM_RESERVED },
    { 0x100000, 0x7ee0000, MB2_MEM_AVAILABLE },
    { 0x7fe0000, 0x20000, MB2_MEM_ACPI_RECLAIMABLE },
    { 0x50000000, 0, MB2_MEM_AVAILABLE }, /* zero length: dropped */
    { 0xfffc0000, 0x40000, MB2_MEM_RESERVED },
    { 0x100000000, 0x40000000, MB2_MEM_AVAILABLE },
};

/* A list shaped like GRUB's for a BIOS boot with two modules. */
static void build_grub_like(void)
{
    mb_init(&b);
    mb_string_tag(&b, 1, "log=debug selftest");
    mb_string_tag(&b, 2, "GRUB 2.06-13");
    mb_begin(&b, 4);
    mb_u32(&b, 639);
    mb_u32(&b, 130048);
    mb_end(&b);
    mb_module(&b, 0x200000, 0x210000, "/boot/init");
    mb_module(&b, 0x210000, 0x212345, "/boot/serial irq=4");
    mb_mmap(&b, grub_mmap, sizeof grub_mmap / sizeof grub_mmap[0]);
    mb_begin(&b, 8);
    mb_u64(&b, 0xfd000000);
    mb_u32(&b, 4096);
    mb_u32(&b, 1024);
    mb_u32(&b, 768);
    mb_u8(&b, 32);
    mb_u8(&b, 1);
    mb_u16(&b, 0);
    mb_u8(&b, 16), mb_u8(&b, 8), mb_u8(&b, 8), mb_u8(&b, 8), mb_u8(&b, 0), mb_u8(&b, 8);
    mb_end(&b);
    mb_elf_sections(&b, 64, 4, 3, 3, 0x400000);
    uint8_t r[36];
    mb_rsdp_bytes(r, 0);
    mb_begin(&b, 14);
    mb_put(&b, r, 20);
    mb_end(&b);
    mb_rsdp_bytes(r, 2);
    mb_begin(&b, 15);
    mb_put(&b, r, 36);
    mb_end(&b);
    mb_begin(&b, 99); /* unknown tag: skipped */
    mb_u32(&b, 0xdeadbeef);
    mb_end(&b);
    mb_finish(&b);
}

TEST(grub_like_list_parses_completely)
{
    build_grub_like();
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_STR(d.msg, "");
    CHECK_EQ_U64(info.info_phys, INFO_PHYS);
    CHECK_EQ_U64(info.total_size, b.len);
    CHECK(info.has_cmdline);
    CHECK_EQ_STR(info.cmdline, "log=debug selftest");
    CHECK_EQ_STR(info.loader_name, "GRUB 2.06-13");
    CHECK(info.has_basic_meminfo);
    CHECK_EQ_U64(info.mem_lower_kb, 639);
    CHECK_EQ_U64(info.mem_upper_kb, 130048);

    CHECK_EQ_U64(info.module_count, 2);
    CHECK_EQ_U64(info.modules[0].start, 0x200000);
    CHECK_EQ_U64(info.modules[0].end, 0x210000);
    CHECK_EQ_STR(info.modules[0].cmdline, "/boot/init");
    CHECK_EQ_U64(info.modules[1].end, 0x212345);
    CHECK_EQ_STR(info.modules[1].cmdline, "/boot/serial irq=4");

    CHECK_EQ_U64(info.mmap_count, 7); /* the zero-length entry is dropped */
    CHECK_EQ_U64(info.mmap[0].base, 0);
    CHECK_EQ_U64(info.mmap[0].length, 0x9fc00);
    CHECK_EQ_U64(info.mmap[0].type, MB2_MEM_AVAILABLE);
    CHECK_EQ_U64(info.mmap[4].type, MB2_MEM_ACPI_RECLAIMABLE);
    CHECK_EQ_U64(info.mmap[5].base, 0xfffc0000);
    CHECK_EQ_U64(info.mmap[6].base, 0x100000000);
    CHECK_EQ_U64(info.mmap[6].length, 0x40000000);

    CHECK(info.has_framebuffer);
    CHECK_EQ_U64(info.fb.addr, 0xfd000000);
    CHECK_EQ_U64(info.fb.pitch, 4096);
    CHECK_EQ_U64(info.fb.width, 1024);
    CHECK_EQ_U64(info.fb.height, 768);
    CHECK_EQ_U64(info.fb.bpp, 32);
    CHECK_EQ_U64(info.fb.type, MB2_FB_RGB);
    CHECK_EQ_U64(info.fb.red_pos, 16);
    CHECK_EQ_U64(info.fb.green_pos, 8);
    CHECK_EQ_U64(info.fb.blue_pos, 0);
    CHECK_EQ_U64(info.fb.blue_size, 8);

    CHECK(info.has_symbols);
    CHECK_EQ_U64(info.symtab_phys, 0x400000);
    CHECK_EQ_U64(info.symtab_size, 24 * 40);
    CHECK_EQ_U64(info.symtab_entsize, 24);
    CHECK_EQ_U64(info.strtab_phys, 0x401000);
    CHECK_EQ_U64(info.strtab_size, 0x900);

    CHECK(info.has_rsdp); /* v2 preferred */
    CHECK_EQ_U64(info.rsdp_len, 36);
    CHECK_EQ_U64(info.rsdp_revision, 2);
    CHECK(memcmp(info.rsdp, "RSD PTR ", 8) == 0);
    CHECK(!info.efi_boot);
}

TEST(minimal_list_is_just_the_end_tag)
{
    mb_init(&b);
    mb_finish(&b);
    CHECK_EQ_U64(b.len, 16);
    CHECK_EQ_U64(parse(), 0);
    CHECK(!info.has_cmdline && !info.has_framebuffer && !info.has_rsdp && !info.has_symbols);
    CHECK_EQ_U64(info.mmap_count, 0);
    CHECK_EQ_U64(info.module_count, 0);
}

TEST(bytes_after_end_tag_are_ignored)
{
    mb_init(&b);
    mb_finish(&b);
    mb_set_total(&b, 64); /* the loader over-reported: still fine, the end tag terminates */
    CHECK_EQ_U64(parse(), 0);
}

TEST(null_and_misaligned_pointer)
{
    CHECK_EQ_U64(mb2_parse(NULL, 0, &info, &d), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "NULL");
    mb_init(&b);
    mb_finish(&b);
    CHECK_EQ_U64(mb2_parse(mb_bytes(&b) + 4, INFO_PHYS + 4, &info, &d), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "not 8-byte aligned");
    CHECK_EQ_U64(mb2_parse(b.words, INFO_PHYS + 4, &info, &d), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "0x10004 is not 8-byte aligned");
}

TEST(total_size_too_small_or_too_large)
{
    mb_init(&b);
    mb_finish(&b);
    mb_set_total(&b, 8);
    EXPECT_ERROR("total_size 8 is below 16");
    mb_set_total(&b, 0);
    EXPECT_ERROR("total_size 0 is below 16");
    mb_set_total(&b, (1u << 20) + 8);
    EXPECT_ERROR("total_size 1048584 is above the 1048576-byte limit");
}

TEST(reserved_header_field_must_be_zero)
{
    mb_init(&b);
    mb_finish(&b);
    mb_set32(&b, 4, 0x1234);
    EXPECT_ERROR("reserved field is 0x1234, expected 0");
}

TEST(truncated_total_size_cuts_a_tag)
{
    build_grub_like();
    mb_set_total(&b, 48); /* ends inside the loader-name tag at offset 0x28 */
    EXPECT_ERROR("tag 2 (boot loader name) at offset 0x28 has size 21, overrunning total_size 48");
}

TEST(tag_smaller_than_its_header)
{
    mb_init(&b);
    mb_begin(&b, 1);
    mb_set32(&b, b.tag + 4, 4);
    mb_u32(&b, 0);
    mb_finish(&b);
    EXPECT_ERROR("tag 1 (command line) at offset 0x8 has size 4, below the 8-byte tag header");
}

TEST(tag_overrunning_the_end)
{
    mb_init(&b);
    mb_string_tag(&b, 1, "abc");
    mb_finish(&b);
    mb_set32(&b, 8 + 4, 200);
    EXPECT_ERROR("tag 1 (command line) at offset 0x8 has size 200, overrunning total_size 32");
}

TEST(missing_end_tag)
{
    mb_init(&b);
    mb_string_tag(&b, 1, "abc");
    mb_set_total(&b, b.len); /* no end tag appended */
    EXPECT_ERROR("no end tag before total_size 24");
}

TEST(padding_of_last_tag_runs_past_total_size)
{
    /* A tag of size 12 ending exactly at total_size: its padding (and any end tag) is missing. */
    mb_init(&b);
    mb_begin(&b, 100);
    mb_u32(&b, 1);
    mb_end(&b);
    mb_set_total(&b, 20);
    EXPECT_ERROR("no end tag before total_size 20");
}

TEST(misaligned_tag_is_caught_as_a_broken_chain)
{
    /* Tag sizes round up to 8; a loader that packed the next tag right after an odd-sized one
     * makes us read padding as a tag header, whose size 0 is rejected. */
    mb_init(&b);
    mb_begin(&b, 1);
    mb_u8(&b, 'x');
    mb_u8(&b, 0);
    mb_set32(&b, b.tag + 4, 10);
    mb_u32(&b, 0); /* end tag packed at offset 18 instead of 24 */
    mb_u32(&b, 8);
    while (b.len % 8)
        mb_u8(&b, 0);
    mb_set_total(&b, b.len);
    CHECK_EQ_U64(parse(), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, "multiboot2: ");
}

TEST(end_tag_must_have_size_8)
{
    mb_init(&b);
    mb_begin(&b, 0);
    mb_u64(&b, 0);
    mb_end(&b);
    mb_set_total(&b, b.len);
    EXPECT_ERROR("tag 0 (end) at offset 0x8 has size 16, expected 8");
}

TEST(tag_below_its_minimum_size)
{
    mb_init(&b);
    mb_begin(&b, 4);
    mb_u32(&b, 639); /* mem_upper missing */
    mb_end(&b);
    mb_finish(&b);
    EXPECT_ERROR("tag 4 (basic memory info) at offset 0x8 has size 12, below the minimum 16");

    mb_init(&b);
    mb_begin(&b, 15);
    mb_put(&b, "RSD PTR ", 8); /* far short of 36 bytes */
    mb_end(&b);
    mb_finish(&b);
    EXPECT_ERROR("tag 15 (ACPI new RSDP) at offset 0x8 has size 16, below the minimum 44");
}

TEST(mmap_entry_size_below_24)
{
    mb_init(&b);
    mb_begin(&b, 6);
    mb_u32(&b, 12);
    mb_u32(&b, 0);
    mb_u64(&b, 0);
    mb_u32(&b, 1);
    mb_end(&b);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), (uint64_t)-1);
    CHECK_EQ_STR(d.msg, "multiboot2: tag 6 (memory map) at offset 0x8 has entry_size 12, below 24");
}

TEST(mmap_entry_size_not_multiple_of_8)
{
    mb_init(&b);
    mb_begin(&b, 6);
    mb_u32(&b, 28);
    mb_u32(&b, 0);
    for (int i = 0; i < 7; i++)
        mb_u32(&b, 0);
    mb_end(&b);
    mb_finish(&b);
    EXPECT_ERROR("entry_size 28, not a multiple of 8");
}

TEST(mmap_entries_must_fill_the_tag)
{
    mb_init(&b);
    mb_begin(&b, 6);
    mb_u32(&b, 24);
    mb_u32(&b, 0);
    for (int i = 0; i < 5; i++)
        mb_u64(&b, 0x1000); /* 40 bytes: one entry and a bit */
    mb_end(&b);
    mb_finish(&b);
    EXPECT_ERROR("has 40 bytes of entries, not a multiple of entry_size 24");
}

TEST(mmap_larger_entry_size_is_honoured)
{
    mb_init(&b);
    mb_begin(&b, 6);
    mb_u32(&b, 32);
    mb_u32(&b, 0);
    for (int i = 0; i < 3; i++) {
        mb_u64(&b, 0x100000 * (uint64_t)(i + 1));
        mb_u64(&b, 0x80000);
        mb_u32(&b, (uint32_t)(i + 1));
        mb_u32(&b, 0);
        mb_u64(&b, 0xffffffffffffffff); /* a future field we must skip */
    }
    mb_end(&b);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_U64(info.mmap_count, 3);
    CHECK_EQ_U64(info.mmap[2].base, 0x300000);
    CHECK_EQ_U64(info.mmap[2].length, 0x80000);
    CHECK_EQ_U64(info.mmap[2].type, 3);
}

TEST(mmap_overlapping_entries_name_both_ranges)
{
    static const struct mb_mmap_entry e[] = {
        { 0x0, 0x180000, MB2_MEM_AVAILABLE },
        { 0x200000, 0x1000, MB2_MEM_RESERVED },
        { 0x100000, 0x100000, MB2_MEM_RESERVED },
    };
    mb_init(&b);
    mb_mmap(&b, e, 3);
    mb_finish(&b);
    EXPECT_ERROR("overlapping entries [0x0, 0x180000) and [0x100000, 0x200000)");
}

TEST(mmap_adjacent_entries_are_not_overlap)
{
    static const struct mb_mmap_entry e[] = {
        { 0x0, 0x100000, MB2_MEM_AVAILABLE },
        { 0x100000, 0x100000, MB2_MEM_RESERVED },
    };
    mb_init(&b);
    mb_mmap(&b, e, 2);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_U64(info.mmap_count, 2);
}

TEST(mmap_entry_wrapping_past_2_64)
{
    static const struct mb_mmap_entry e[] = {
        { 0xfffffffffffff000, 0x2000, MB2_MEM_AVAILABLE },
    };
    mb_init(&b);
    mb_mmap(&b, e, 1);
    mb_finish(&b);
    EXPECT_ERROR("entry 0 [0xfffffffffffff000, +0x2000) wraps past 2^64");
}

static void build_mmap_entries(uint32_t n)
{
    static struct mb_mmap_entry e[200];
    for (uint32_t i = 0; i < n; i++)
        e[i] = (struct mb_mmap_entry){ (uint64_t)i * 0x10000, 0x8000, 1 + i % 5 };
    mb_init(&b);
    mb_mmap(&b, e, n);
    mb_finish(&b);
}

TEST(mmap_at_most_128_entries)
{
    build_mmap_entries(MB2_MAX_MMAP);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_U64(info.mmap_count, MB2_MAX_MMAP);
    CHECK_EQ_U64(info.mmap[127].base, 127 * 0x10000);
    build_mmap_entries(MB2_MAX_MMAP + 1);
    EXPECT_ERROR("tag 6 (memory map) at offset 0x8 has more than 128 non-empty entries");
}

TEST(duplicate_mmap_tag)
{
    mb_init(&b);
    mb_mmap(&b, grub_mmap, 2);
    uint32_t second = b.len;
    mb_mmap(&b, grub_mmap + 3, 1);
    mb_finish(&b);
    char want[96];
    snprintf(want, sizeof want, "tag 6 (memory map) at offset 0x%x is a duplicate (first copy at offset 0x8)",
             second);
    EXPECT_ERROR(want);
}

TEST(duplicate_cmdline_tag)
{
    mb_init(&b);
    mb_string_tag(&b, 1, "a");
    mb_string_tag(&b, 1, "b");
    mb_finish(&b);
    EXPECT_ERROR("tag 1 (command line) at offset 0x18 is a duplicate");
}

TEST(module_start_above_end)
{
    mb_init(&b);
    mb_module(&b, 0x300000, 0x2ff000, "bad");
    mb_finish(&b);
    EXPECT_ERROR("tag 3 (module) at offset 0x8 has start 0x300000 above end 0x2ff000");
}

TEST(modules_overlapping)
{
    mb_init(&b);
    mb_module(&b, 0x200000, 0x210000, "a");
    mb_module(&b, 0x20f000, 0x220000, "b");
    mb_finish(&b);
    EXPECT_ERROR("tag 3 (module) at offset 0x20 [0x20f000, 0x220000) overlaps module 0 "
                 "[0x200000, 0x210000)");
}

TEST(empty_and_adjacent_modules_are_fine)
{
    mb_init(&b);
    mb_module(&b, 0x200000, 0x210000, "a");
    mb_module(&b, 0x210000, 0x210000, "empty");
    mb_module(&b, 0x210000, 0x211000, "b");
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_U64(info.module_count, 3);
}

TEST(at_most_32_modules)
{
    mb_init(&b);
    for (uint32_t i = 0; i < MB2_MAX_MODULES; i++)
        mb_module(&b, 0x1000000 + i * 0x1000, 0x1000000 + i * 0x1000 + 0x800, "m");
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_U64(info.module_count, MB2_MAX_MODULES);

    mb_init(&b);
    for (uint32_t i = 0; i <= MB2_MAX_MODULES; i++)
        mb_module(&b, 0x1000000 + i * 0x1000, 0x1000000 + i * 0x1000 + 0x800, "m");
    mb_finish(&b);
    EXPECT_ERROR("is module 33; at most 32 modules are supported");
}

TEST(unterminated_strings)
{
    mb_init(&b);
    mb_begin(&b, 1);
    mb_put(&b, "abcdefgh", 8); /* no NUL inside the tag; the padding has zeros but is outside */
    mb_end(&b);
    mb_finish(&b);
    EXPECT_ERROR("tag 1 (command line) at offset 0x8 has a string that is not NUL-terminated "
                 "within its 16 bytes");

    mb_init(&b);
    mb_begin(&b, 3);
    mb_u32(&b, 0x1000);
    mb_u32(&b, 0x2000);
    mb_put(&b, "init", 4);
    mb_end(&b);
    mb_finish(&b);
    EXPECT_ERROR("tag 3 (module) at offset 0x8 has a string that is not NUL-terminated");
}

TEST(long_strings_are_truncated_safely)
{
    char long_str[400];
    memset(long_str, 'x', sizeof long_str - 1);
    long_str[sizeof long_str - 1] = '\0';
    mb_init(&b);
    mb_string_tag(&b, 1, long_str);
    mb_string_tag(&b, 2, long_str);
    mb_module(&b, 0x1000, 0x2000, long_str);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_U64(strlen(info.cmdline), sizeof info.cmdline - 1);
    CHECK_EQ_U64(strlen(info.loader_name), sizeof info.loader_name - 1);
    CHECK_EQ_U64(strlen(info.modules[0].cmdline), sizeof info.modules[0].cmdline - 1);
    CHECK_EQ_U64(info.cmdline[0], 'x');
}

TEST(empty_cmdline_string)
{
    mb_init(&b);
    mb_string_tag(&b, 1, "");
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK(info.has_cmdline);
    CHECK_EQ_STR(info.cmdline, "");
}

TEST(unknown_tags_are_skipped)
{
    mb_init(&b);
    mb_begin(&b, 1000);
    mb_put(&b, "whatever the future brings", 26);
    mb_end(&b);
    mb_string_tag(&b, 1, "after");
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_STR(info.cmdline, "after");
}

TEST(a_failed_parse_never_leaves_stale_results)
{
    build_grub_like();
    CHECK_EQ_U64(parse(), 0);
    mb_init(&b);
    mb_string_tag(&b, 1, "x");
    mb_set_total(&b, b.len);
    CHECK_EQ_U64(parse(), (uint64_t)-1);
    CHECK_EQ_U64(info.module_count, 0);
    /* d may be NULL */
    CHECK_EQ_U64(mb2_parse(b.words, INFO_PHYS, &info, NULL), (uint64_t)-1);
}

TEST(mem_type_names)
{
    CHECK_EQ_STR(mb2_mem_type_name(MB2_MEM_AVAILABLE), "available");
    CHECK_EQ_STR(mb2_mem_type_name(MB2_MEM_RESERVED), "reserved");
    CHECK_EQ_STR(mb2_mem_type_name(MB2_MEM_ACPI_RECLAIMABLE), "ACPI reclaimable");
    CHECK_EQ_STR(mb2_mem_type_name(MB2_MEM_NVS), "ACPI NVS");
    CHECK_EQ_STR(mb2_mem_type_name(MB2_MEM_BAD), "bad");
    CHECK_EQ_STR(mb2_mem_type_name(0), "unknown");
    CHECK_EQ_STR(mb2_mem_type_name(7), "unknown");
}
