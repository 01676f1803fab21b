/* mb2_parse, tag by tag: ELF sections, framebuffer, ACPI RSDP and EFI tags. */
#include "mb2_fixture.h"

static void add_fb(struct mb *m, uint64_t addr, uint32_t pitch, uint32_t w, uint32_t h, uint8_t bpp,
                   uint8_t type, bool colour)
{
    mb_begin(m, 8);
    mb_u64(m, addr);
    mb_u32(m, pitch);
    mb_u32(m, w);
    mb_u32(m, h);
    mb_u8(m, bpp);
    mb_u8(m, type);
    mb_u16(m, 0);
    if (colour) {
        mb_u8(m, 11), mb_u8(m, 5), mb_u8(m, 5), mb_u8(m, 6), mb_u8(m, 0), mb_u8(m, 5);
    }
    mb_end(m);
}

TEST(elf_sections_bad_entsize)
{
    mb_init(&b);
    mb_elf_sections(&b, 40, 4, 3, 3, 0x400000);
    mb_finish(&b);
    EXPECT_ERROR("tag 9 (ELF sections) at offset 0x8 has entsize 40; ELF64 section headers are 64 bytes");
}

TEST(elf_sections_headers_must_fit)
{
    mb_init(&b);
    mb_elf_sections(&b, 64, 4, 3, 3, 0x400000);
    mb_set32(&b, 8 + 8, 6); /* num 6, but only 5 headers present */
    mb_finish(&b);
    EXPECT_ERROR("claims 6 section headers (384 bytes) but has room for 5");
}

TEST(elf_sections_shndx_out_of_range)
{
    mb_init(&b);
    mb_elf_sections(&b, 64, 5, 3, 3, 0x400000);
    mb_finish(&b);
    EXPECT_ERROR("has shndx 5 but only 5 sections");
    mb_init(&b);
    mb_elf_sections(&b, 64, 1, 3, 3, 0x400000); /* .text is not a string table */
    mb_finish(&b);
    EXPECT_ERROR("has shndx 1 naming a section of type 1, not SHT_STRTAB");
}

TEST(elf_sections_symtab_link_must_name_a_strtab)
{
    mb_init(&b);
    mb_elf_sections(&b, 64, 4, 9, 3, 0x400000);
    mb_finish(&b);
    EXPECT_ERROR("symbol table section 2 with sh_link 9 outside 1..4");
    mb_init(&b);
    mb_elf_sections(&b, 64, 4, 0, 3, 0x400000);
    mb_finish(&b);
    EXPECT_ERROR("symbol table section 2 with sh_link 0 outside 1..4");
    mb_init(&b);
    mb_elf_sections(&b, 64, 4, 3, 8 /* SHT_NOBITS */, 0x400000);
    mb_finish(&b);
    EXPECT_ERROR("symbol table section 2 linking section 3 of type 8, not SHT_STRTAB");
}

TEST(elf_sections_symtab_entsize)
{
    mb_init(&b);
    mb_elf_sections(&b, 64, 4, 3, 3, 0x400000);
    /* symtab header is the third: tag(8) + 12 + 2*64, sh_entsize at +56 */
    uint32_t entsize_off = 8 + 20 + 2 * 64 + 56;
    mb_set32(&b, entsize_off, 16);
    mb_finish(&b);
    EXPECT_ERROR("symbol table section 2 with entsize 16 and size 960");
}

TEST(elf_sections_without_loaded_symtab_means_no_symbols)
{
    mb_init(&b);
    mb_elf_sections(&b, 64, 4, 3, 3, 0); /* sh_addr 0: not loaded */
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK(!info.has_symbols);

    mb_init(&b);
    mb_begin(&b, 9);
    mb_u32(&b, 0);
    mb_u32(&b, 64);
    mb_u32(&b, 0);
    mb_end(&b);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK(!info.has_symbols);
}

TEST(framebuffer_variants)
{
    mb_init(&b);
    add_fb(&b, 0xb8000, 160, 80, 25, 16, MB2_FB_EGA_TEXT, false);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK(info.has_framebuffer);
    CHECK_EQ_U64(info.fb.type, MB2_FB_EGA_TEXT);
    CHECK_EQ_U64(info.fb.width, 80);

    mb_init(&b);
    add_fb(&b, 0xe0000000, 2048, 1024, 768, 16, MB2_FB_RGB, true);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_U64(info.fb.red_pos, 11);
    CHECK_EQ_U64(info.fb.green_size, 6);

    mb_init(&b);
    add_fb(&b, 0xe0000000, 640, 640, 480, 8, MB2_FB_INDEXED, false);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_U64(info.fb.bpp, 8);
}

TEST(framebuffer_errors)
{
    mb_init(&b);
    add_fb(&b, 0xe0000000, 4096, 1024, 768, 33, MB2_FB_RGB, true);
    mb_finish(&b);
    EXPECT_ERROR("tag 8 (framebuffer) at offset 0x8 is RGB with bpp 33");
    mb_init(&b);
    add_fb(&b, 0xe0000000, 4096, 1024, 768, 0, MB2_FB_RGB, true);
    mb_finish(&b);
    EXPECT_ERROR("is RGB with bpp 0");
    mb_init(&b);
    add_fb(&b, 0xe0000000, 4000, 1024, 768, 32, MB2_FB_RGB, true);
    mb_finish(&b);
    EXPECT_ERROR("has pitch 4000, below width 1024 * bpp 32 / 8 = 4096");
    mb_init(&b);
    add_fb(&b, 0xe0000000, 4096, 1024, 768, 32, MB2_FB_RGB, false);
    mb_finish(&b);
    EXPECT_ERROR("is RGB but its size 32 is below 38");
    mb_init(&b);
    add_fb(&b, 0xe0000000, 4096, 1024, 768, 32, 3, false);
    mb_finish(&b);
    EXPECT_ERROR("has unknown framebuffer type 3");
    mb_init(&b);
    add_fb(&b, 0xb8000, 160, 80, 25, 8, MB2_FB_EGA_TEXT, false);
    mb_finish(&b);
    EXPECT_ERROR("is EGA text with bpp 8, expected 16");
    mb_init(&b);
    add_fb(&b, 0xe0000000, 4096, 0, 768, 32, MB2_FB_RGB, true);
    mb_finish(&b);
    EXPECT_ERROR("width 0");
    mb_init(&b);
    add_fb(&b, 0xe0000000, 2048, 1024, 768, 8, MB2_FB_RGB, true); /* red field at bits 11..15 */
    mb_finish(&b);
    EXPECT_ERROR("colour field outside its 8 bits per pixel");
    mb_init(&b);
    add_fb(&b, 0xffffffffffff0000, 4096, 1024, 768, 32, MB2_FB_INDEXED + 1, true);
    mb_finish(&b);
    EXPECT_ERROR("wrapping past 2^64");
}

TEST(rsdp_v1_only_and_v2_before_v1)
{
    uint8_t r[36];
    mb_rsdp_bytes(r, 0);
    mb_init(&b);
    mb_begin(&b, 14);
    mb_put(&b, r, 20);
    mb_end(&b);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK(info.has_rsdp);
    CHECK_EQ_U64(info.rsdp_len, 20);
    CHECK_EQ_U64(info.rsdp_revision, 0);

    mb_init(&b);
    mb_rsdp_bytes(r, 2);
    mb_begin(&b, 15);
    mb_put(&b, r, 36);
    mb_end(&b);
    mb_rsdp_bytes(r, 0);
    mb_begin(&b, 14);
    mb_put(&b, r, 20);
    mb_end(&b);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK_EQ_U64(info.rsdp_len, 36); /* the later v1 tag does not replace v2 */
    CHECK_EQ_U64(info.rsdp_revision, 2);
}

TEST(efi_tags_set_efi_boot)
{
    mb_init(&b);
    mb_begin(&b, 12);
    mb_u64(&b, 0x7f9e0000);
    mb_end(&b);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK(info.efi_boot);

    mb_init(&b);
    mb_begin(&b, 18);
    mb_end(&b);
    mb_finish(&b);
    CHECK_EQ_U64(parse(), 0);
    CHECK(info.efi_boot);
}
