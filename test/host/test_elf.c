/* keel_elf_parse over ELF64 images written byte by byte: a valid executable, then every error. */
#define CHECK_MAIN
#include "check.h"
#include <keel/elf.h>

#define USER_TOP 0x0000800000000000ull
#define PT_NULL 0
#define PT_LOAD 1
#define PT_NOTE 4
#define PT_GNU_STACK 0x6474e551u
#define R KEEL_ELF_PF_R
#define W KEEL_ELF_PF_W
#define X KEEL_ELF_PF_X

/* ---- image builder: little-endian fields at fixed offsets (System V gABI, ELF-64) ---- */

static uint8_t img[0x8000];
static uint64_t img_size;

static void put(uint64_t off, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        img[off + i] = (uint8_t)(v >> (8 * i));
}

/* Ehdr offsets. */
#define E_TYPE 16
#define E_MACHINE 18
#define E_VERSION 20
#define E_ENTRY 24
#define E_PHOFF 32
#define E_PHENTSIZE 54
#define E_PHNUM 56
#define PHDR_SIZE 56

/* A valid header for an x86-64 ET_EXEC with `phnum` program headers at offset 64. */
static void ehdr(uint64_t entry, uint16_t phnum)
{
    memset(img, 0, sizeof img);
    img[0] = 0x7f, img[1] = 'E', img[2] = 'L', img[3] = 'F';
    img[4] = 2; /* ELFCLASS64 */
    img[5] = 1; /* ELFDATA2LSB */
    img[6] = 1; /* EV_CURRENT */
    put(E_TYPE, 2, 2);     /* ET_EXEC */
    put(E_MACHINE, 62, 2); /* EM_X86_64 */
    put(E_VERSION, 1, 4);
    put(E_ENTRY, entry, 8);
    put(E_PHOFF, 64, 8);
    put(40, 0, 8);  /* e_shoff */
    put(48, 0, 4);  /* e_flags */
    put(52, 64, 2); /* e_ehsize */
    put(E_PHENTSIZE, PHDR_SIZE, 2);
    put(E_PHNUM, phnum, 2);
    put(58, 64, 2); /* e_shentsize */
    img_size = 64 + (uint64_t)phnum * PHDR_SIZE;
}

/* Program header i (at phoff 64); the file size stays as it is. */
static void phdr_fixed(unsigned i, uint32_t type, uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t filesz,
                       uint64_t memsz)
{
    uint64_t p = 64 + (uint64_t)i * PHDR_SIZE;
    put(p + 0, type, 4);
    put(p + 4, flags, 4);
    put(p + 8, offset, 8);
    put(p + 16, vaddr, 8);
    put(p + 24, vaddr, 8); /* p_paddr */
    put(p + 32, filesz, 8);
    put(p + 40, memsz, 8);
    put(p + 48, 4096, 8); /* p_align */
}

/* The same, and the file grows to cover offset + filesz. */
static void phdr(unsigned i, uint32_t type, uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t filesz,
                 uint64_t memsz)
{
    phdr_fixed(i, type, flags, offset, vaddr, filesz, memsz);
    if (offset < sizeof img && filesz <= sizeof img - offset && offset + filesz > img_size)
        img_size = offset + filesz;
}

static struct keel_elf_image out;

static int parse(void)
{
    memset(&out, 0xa5, sizeof out);
    return keel_elf_parse(img, img_size, USER_TOP, &out);
}

/* text RX (2 pages), rodata R, data RW with bss, plus a GNU_STACK header; headers out of order. */
#define TEXT_VA 0x401000ull
#define ENTRY (TEXT_VA + 0x10)
static void valid(void)
{
    ehdr(ENTRY, 4);
    phdr(0, PT_LOAD, R | W, 0x3100, 0x404100, 0x200, 0x3000);   /* .data + .bss */
    phdr(1, PT_GNU_STACK, R | W, 0, 0, 0, 0);
    phdr(2, PT_LOAD, R | X, 0x1000, TEXT_VA, 0x1800, 0x1800);   /* .text */
    phdr(3, PT_LOAD, R, 0x3000, 0x403000, 0x100, 0x100);         /* .rodata */
    for (uint64_t i = 0x1000; i < img_size; i++)
        img[i] = (uint8_t)i;
}

#define CHECK_SEG(i, va, msz, off, fsz, fl)                                                        \
    do {                                                                                           \
        CHECK_EQ_U64(out.segments[i].vaddr, (va));                                                 \
        CHECK_EQ_U64(out.segments[i].memsz, (msz));                                                \
        CHECK_EQ_U64(out.segments[i].offset, (off));                                               \
        CHECK_EQ_U64(out.segments[i].filesz, (fsz));                                               \
        CHECK_EQ_U64(out.segments[i].flags, (fl));                                                 \
    } while (0)

#define CHECK_PARSE(err) CHECK_EQ_STR(keel_elf_strerror(parse()), keel_elf_strerror(err))

TEST(valid_image_segments_sorted)
{
    valid();
    CHECK_EQ_U64(img_size, 0x3300);
    CHECK_EQ_U64(parse(), KEEL_ELF_OK);
    CHECK_EQ_U64(out.entry, ENTRY);
    CHECK_EQ_U64(out.segment_count, 3);
    CHECK_SEG(0, TEXT_VA, 0x1800, 0x1000, 0x1800, R | X);
    CHECK_SEG(1, 0x403000, 0x100, 0x3000, 0x100, R);
    CHECK_SEG(2, 0x404100, 0x3000, 0x3100, 0x200, R | W);
}

TEST(valid_image_every_header_order)
{
    /* The three PT_LOAD headers in all six orders give the same sorted result. */
    static const unsigned perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
    static const struct { uint32_t flags; uint64_t off, va, fsz, msz; } seg[3] = {
        { R | X, 0x1000, TEXT_VA, 0x1800, 0x1800 },
        { R, 0x3000, 0x403000, 0x100, 0x100 },
        { R | W, 0x3100, 0x404100, 0x200, 0x3000 },
    };
    for (int p = 0; p < 6; p++) {
        ehdr(ENTRY, 3);
        for (unsigned k = 0; k < 3; k++) {
            unsigned j = perms[p][k];
            phdr(k, PT_LOAD, seg[j].flags, seg[j].off, seg[j].va, seg[j].fsz, seg[j].msz);
        }
        CHECK_EQ_U64(parse(), KEEL_ELF_OK);
        CHECK_EQ_U64(out.segment_count, 3);
        for (unsigned j = 0; j < 3; j++)
            CHECK_SEG(j, seg[j].va, seg[j].msz, seg[j].off, seg[j].fsz, seg[j].flags);
    }
}

TEST(valid_image_typical_layouts)
{
    /* The first segment starting at offset 0 (it includes the headers), pure-bss segment. */
    ehdr(0x400080, 2);
    phdr(0, PT_LOAD, R | X, 0, 0x400000, 0x800, 0x800);
    phdr(1, PT_LOAD, R | W, 0x1000, 0x600000, 0, 0x10000); /* filesz 0 */
    img_size = 0x1000;
    CHECK_EQ_U64(parse(), KEEL_ELF_OK);
    CHECK_EQ_U64(out.segment_count, 2);
    CHECK_SEG(1, 0x600000, 0x10000, 0x1000, 0, R | W);
    /* Flags other than R/W/X (processor-specific bits) are dropped. */
    ehdr(0x400080, 1);
    phdr(0, PT_LOAD, R | X | 0xf0000000u, 0, 0x400000, 0x800, 0x800);
    CHECK_EQ_U64(parse(), KEEL_ELF_OK);
    CHECK_EQ_U64(out.segments[0].flags, R | X);
    /* A segment ending exactly at user_top is inside. */
    ehdr(USER_TOP - 0x1000, 1);
    phdr(0, PT_LOAD, R | X, 0, USER_TOP - 0x2000, 0x100, 0x2000);
    CHECK_EQ_U64(parse(), KEEL_ELF_OK);
    /* Lowest allowed address: one page. */
    ehdr(0x1000, 1);
    phdr(0, PT_LOAD, R | X, 0, 0x1000, 0x100, 0x100);
    CHECK_EQ_U64(parse(), KEEL_ELF_OK);
    /* Segments in adjacent pages do not overlap. */
    ehdr(0x400000, 2);
    phdr(0, PT_LOAD, R | X, 0, 0x400000, 0x1000, 0x1000);
    phdr(1, PT_LOAD, R | W, 0x1000, 0x401000, 0x10, 0x10);
    CHECK_EQ_U64(parse(), KEEL_ELF_OK);
    /* A PT_LOAD with memsz 0 is ignored, wherever it claims to be. */
    ehdr(0x400000, 2);
    phdr(0, PT_LOAD, R | X, 0, 0x400000, 0x100, 0x100);
    phdr(1, PT_LOAD, R | W | X, 0xffffffff, 0xffff800000000000ull, 0, 0);
    CHECK_EQ_U64(parse(), KEEL_ELF_OK);
    CHECK_EQ_U64(out.segment_count, 1);
}

TEST(valid_image_unaligned_buffer)
{
    valid();
    static uint8_t shifted[sizeof img + 3];
    memcpy(shifted + 3, img, img_size);
    memset(&out, 0, sizeof out);
    CHECK_EQ_U64(keel_elf_parse(shifted + 3, img_size, USER_TOP, &out), KEEL_ELF_OK);
    CHECK_EQ_U64(out.segment_count, 3);
    CHECK_EQ_U64(out.entry, ENTRY);
}

TEST(sixteen_segments_fit_seventeen_do_not)
{
    ehdr(0x400000, 17);
    for (unsigned i = 0; i < 16; i++)
        phdr(i, PT_LOAD, R | X, 0x1000, 0x400000 + 0x10000ull * i, 0x100, 0x100);
    phdr(16, PT_NOTE, R, 0x1000, 0, 0x10, 0);
    CHECK_EQ_U64(parse(), KEEL_ELF_OK);
    CHECK_EQ_U64(out.segment_count, KEEL_ELF_MAX_SEGMENTS);
    for (unsigned i = 1; i < 16; i++)
        CHECK(out.segments[i - 1].vaddr < out.segments[i].vaddr);
    phdr(16, PT_LOAD, R, 0x1000, 0x400000 + 0x10000ull * 16, 0x100, 0x100);
    CHECK_PARSE(KEEL_ELF_TOO_MANY_SEGMENTS);
}

/* ---- one test per error ---- */

TEST(too_small)
{
    valid();
    CHECK_EQ_U64(keel_elf_parse(img, 63, USER_TOP, &out), KEEL_ELF_TOO_SMALL);
    CHECK_EQ_U64(out.segment_count, 0);
    CHECK_EQ_U64(out.entry, 0);
    CHECK_EQ_U64(keel_elf_parse(img, 0, USER_TOP, &out), KEEL_ELF_TOO_SMALL);
    CHECK_EQ_U64(keel_elf_parse(0, 4096, USER_TOP, &out), KEEL_ELF_TOO_SMALL);
    /* Exactly a header, with no room for program headers. */
    ehdr(0, 1);
    CHECK_EQ_U64(keel_elf_parse(img, 64, USER_TOP, &out), KEEL_ELF_BAD_PHDRS);
}

TEST(bad_magic)
{
    for (int i = 0; i < 4; i++) {
        valid();
        img[i] ^= 0x20;
        CHECK_PARSE(KEEL_ELF_BAD_MAGIC);
    }
    valid();
    memcpy(img, "\x7f" "ELG", 4);
    CHECK_PARSE(KEEL_ELF_BAD_MAGIC);
}

TEST(not_64bit)
{
    valid();
    img[4] = 1; /* ELFCLASS32 */
    CHECK_PARSE(KEEL_ELF_NOT_64BIT);
    img[4] = 0;
    CHECK_PARSE(KEEL_ELF_NOT_64BIT);
}

TEST(not_little_endian)
{
    valid();
    img[5] = 2; /* ELFDATA2MSB */
    CHECK_PARSE(KEEL_ELF_NOT_LITTLE_ENDIAN);
    img[5] = 0;
    CHECK_PARSE(KEEL_ELF_NOT_LITTLE_ENDIAN);
}

TEST(bad_version)
{
    valid();
    img[6] = 0;
    CHECK_PARSE(KEEL_ELF_BAD_VERSION);
    valid();
    put(E_VERSION, 2, 4);
    CHECK_PARSE(KEEL_ELF_BAD_VERSION);
    put(E_VERSION, 0x80000001u, 4);
    CHECK_PARSE(KEEL_ELF_BAD_VERSION);
}

TEST(not_executable)
{
    uint64_t types[] = { 0, 1, 3, 4, 0xfe00, 0xffff }; /* NONE, REL, DYN (PIE), CORE, OS-specific */
    for (unsigned i = 0; i < sizeof types / sizeof types[0]; i++) {
        valid();
        put(E_TYPE, types[i], 2);
        CHECK_PARSE(KEEL_ELF_NOT_EXECUTABLE);
    }
}

TEST(wrong_machine)
{
    uint64_t machines[] = { 0, 3 /* i386 */, 40 /* ARM */, 183 /* AArch64 */, 243 /* RISC-V */, 62 << 8 };
    for (unsigned i = 0; i < sizeof machines / sizeof machines[0]; i++) {
        valid();
        put(E_MACHINE, machines[i], 2);
        CHECK_PARSE(KEEL_ELF_WRONG_MACHINE);
    }
}

TEST(bad_phdrs_entry_size)
{
    uint64_t sizes[] = { 0, 32, 55, 57, 64 };
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        valid();
        put(E_PHENTSIZE, sizes[i], 2);
        CHECK_PARSE(KEEL_ELF_BAD_PHDRS);
    }
}

TEST(bad_phdrs_none)
{
    valid();
    put(E_PHNUM, 0, 2);
    CHECK_PARSE(KEEL_ELF_BAD_PHDRS);
}

TEST(bad_phdrs_beyond_file)
{
    valid();
    put(E_PHOFF, img_size, 8);
    CHECK_PARSE(KEEL_ELF_BAD_PHDRS);
    put(E_PHOFF, img_size - 4 * PHDR_SIZE + 1, 8); /* the last one sticks out by a byte */
    CHECK_PARSE(KEEL_ELF_BAD_PHDRS);
    /* Moving the table to the very end of the file is fine. */
    valid();
    uint64_t end = img_size;
    memcpy(img + end, img + 64, 4 * PHDR_SIZE);
    img_size = end + 4 * PHDR_SIZE;
    put(E_PHOFF, end, 8);
    CHECK_PARSE(KEEL_ELF_OK);
    /* Too many headers for the file. */
    valid();
    put(E_PHNUM, 0xffff, 2);
    CHECK_PARSE(KEEL_ELF_BAD_PHDRS);
}

TEST(bad_phdrs_offset_overflow)
{
    /* phoff + phnum * phentsize wraps past 2^64 to a small number. */
    uint64_t offs[] = { ~0ull, ~0ull - 4 * PHDR_SIZE + 2, 1ull << 63, ~0ull - 0x1000 };
    for (unsigned i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        valid();
        put(E_PHOFF, offs[i], 8);
        CHECK_PARSE(KEEL_ELF_BAD_PHDRS);
    }
}

TEST(too_many_segments)
{
    ehdr(0x400000, 20);
    for (unsigned i = 0; i < 20; i++)
        phdr(i, PT_LOAD, R | X, 0x1000, 0x400000 + 0x10000ull * i, 0x100, 0x100);
    CHECK_PARSE(KEEL_ELF_TOO_MANY_SEGMENTS);
}

TEST(no_segments)
{
    ehdr(0x400000, 3);
    phdr(0, PT_NOTE, R, 0x1000, 0x400000, 0x10, 0x10);
    phdr(1, PT_GNU_STACK, R | W, 0, 0, 0, 0);
    phdr(2, PT_LOAD, R | X, 0x1000, 0x400000, 0, 0); /* empty: ignored */
    CHECK_PARSE(KEEL_ELF_NO_SEGMENTS);
    ehdr(0, 1);
    phdr(0, PT_NULL, 0, 0, 0, 0, 0);
    CHECK_PARSE(KEEL_ELF_NO_SEGMENTS);
}

TEST(segment_beyond_file)
{
    valid();
    CHECK_EQ_U64(img_size, 0x3300);
    phdr_fixed(3, PT_LOAD, R, 0x3000, 0x403000, img_size - 0x3000 + 1, 0x1000);
    CHECK_PARSE(KEEL_ELF_SEGMENT_BEYOND_FILE);
    phdr_fixed(3, PT_LOAD, R, 0x3000, 0x403000, img_size - 0x3000, 0x1000); /* to the last byte: fine */
    CHECK_PARSE(KEEL_ELF_OK);
    phdr_fixed(3, PT_LOAD, R, img_size + 0x1000, 0x403000, 0, 0x100); /* starts past the end, no bytes */
    CHECK_PARSE(KEEL_ELF_SEGMENT_BEYOND_FILE);
    phdr_fixed(3, PT_LOAD, R, ~0ull - 0xfff, 0x403000, 0x2000, 0x2000); /* offset + filesz wraps */
    CHECK_PARSE(KEEL_ELF_SEGMENT_BEYOND_FILE);
    phdr_fixed(3, PT_LOAD, R, 0x3000, 0x403000, ~0ull, ~0ull);
    CHECK_PARSE(KEEL_ELF_SEGMENT_BEYOND_FILE);
}

TEST(segment_filesz_greater_than_memsz)
{
    valid();
    phdr(0, PT_LOAD, R | W, 0x3100, 0x404100, 0x200, 0x1ff);
    CHECK_PARSE(KEEL_ELF_SEGMENT_FILESZ_GT_MEMSZ);
}

TEST(segment_in_kernel_half)
{
    valid();
    phdr(3, PT_LOAD, R, 0x3000, 0xffffffff80003000ull, 0x100, 0x100);
    CHECK_PARSE(KEEL_ELF_SEGMENT_OUTSIDE_USER);
    phdr(3, PT_LOAD, R, 0x3000, USER_TOP, 0x100, 0x100); /* the first non-user address */
    CHECK_PARSE(KEEL_ELF_SEGMENT_OUTSIDE_USER);
    phdr(3, PT_LOAD, R, 0x3000, USER_TOP - 0x1000, 0x100, 0x1001); /* one byte over */
    CHECK_PARSE(KEEL_ELF_SEGMENT_OUTSIDE_USER);
    /* The same image fits under a larger user_top. */
    phdr(3, PT_LOAD, R, 0x3000, USER_TOP - 0x1000, 0x100, 0x1001);
    memset(&out, 0, sizeof out);
    CHECK_EQ_U64(keel_elf_parse(img, img_size, USER_TOP + 0x1000, &out), KEEL_ELF_OK);
}

TEST(segment_wraps)
{
    valid();
    phdr(3, PT_LOAD, R, 0x3000, 0xfffffffffffff000ull, 0x100, 0x2000);
    CHECK_PARSE(KEEL_ELF_SEGMENT_OUTSIDE_USER);
    memset(&out, 0, sizeof out);
    CHECK_EQ_U64(keel_elf_parse(img, img_size, ~0ull, &out), KEEL_ELF_SEGMENT_OUTSIDE_USER);
    phdr(3, PT_LOAD, R, 0x3000, 0x403000, 0x100, ~0ull - 0x402000); /* vaddr + memsz wraps */
    CHECK_PARSE(KEEL_ELF_SEGMENT_OUTSIDE_USER);
}

TEST(segment_below_first_page)
{
    valid();
    phdr(3, PT_LOAD, R, 0x3000, 0, 0x100, 0x100);
    CHECK_PARSE(KEEL_ELF_SEGMENT_OUTSIDE_USER);
    phdr(3, PT_LOAD, R, 0x2fff, 0xfff, 0x1, 0x10); /* straddles into page 1 */
    CHECK_PARSE(KEEL_ELF_SEGMENT_OUTSIDE_USER);
}

TEST(segment_misaligned)
{
    valid();
    phdr(3, PT_LOAD, R, 0x3010, 0x403000, 0x100, 0x100);
    CHECK_PARSE(KEEL_ELF_SEGMENT_MISALIGNED);
    phdr(3, PT_LOAD, R, 0x3000, 0x403800, 0x100, 0x100);
    CHECK_PARSE(KEEL_ELF_SEGMENT_MISALIGNED);
    phdr(3, PT_LOAD, R, 0x2010, 0x403010, 0x100, 0x100); /* same offset in the page: fine */
    CHECK_PARSE(KEEL_ELF_OK);
}

TEST(segments_overlap)
{
    /* rodata moved into the last text page (which ends at 0x402800). */
    valid();
    phdr(3, PT_LOAD, R, 0x3900, 0x402900, 0x10, 0x10);
    CHECK_PARSE(KEEL_ELF_SEGMENTS_OVERLAP);
    /* data placed inside text. */
    valid();
    phdr(0, PT_LOAD, R | W, 0x2100, 0x401100, 0x200, 0x200); /* inside text */
    CHECK_PARSE(KEEL_ELF_SEGMENTS_OVERLAP);
    /* A segment covering all others. */
    valid();
    phdr(3, PT_LOAD, R, 0x0, 0x400000, 0x100, 0x10000);
    CHECK_PARSE(KEEL_ELF_SEGMENTS_OVERLAP);
    /* The same range twice. */
    ehdr(0x400000, 2);
    phdr(0, PT_LOAD, R | X, 0, 0x400000, 0x100, 0x100);
    phdr(1, PT_LOAD, R | X, 0, 0x400000, 0x100, 0x100);
    CHECK_PARSE(KEEL_ELF_SEGMENTS_OVERLAP);
    /* Sharing only the last page of one and the first page of the next. */
    ehdr(0x400000, 2);
    phdr(0, PT_LOAD, R | X, 0, 0x400000, 0x1001, 0x1001);
    phdr(1, PT_LOAD, R, 0x1800, 0x401800, 0x10, 0x10);
    CHECK_PARSE(KEEL_ELF_SEGMENTS_OVERLAP);
    /* ... in the other header order. */
    ehdr(0x400000, 2);
    phdr(0, PT_LOAD, R, 0x1800, 0x401800, 0x10, 0x10);
    phdr(1, PT_LOAD, R | X, 0, 0x400000, 0x1001, 0x1001);
    CHECK_PARSE(KEEL_ELF_SEGMENTS_OVERLAP);
}

TEST(segment_write_exec)
{
    valid();
    phdr(2, PT_LOAD, R | W | X, 0x1000, TEXT_VA, 0x1800, 0x1800);
    CHECK_PARSE(KEEL_ELF_SEGMENT_WRITE_EXEC);
    phdr(2, PT_LOAD, W | X, 0x1000, TEXT_VA, 0x1800, 0x1800);
    CHECK_PARSE(KEEL_ELF_SEGMENT_WRITE_EXEC);
}

TEST(entry_outside)
{
    uint64_t entries[] = { 0, TEXT_VA - 1, TEXT_VA + 0x1800 /* one past text */, 0x403000 /* rodata */,
                           0x404100 /* data */, 0x405000 /* bss */, ~0ull };
    for (unsigned i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        valid();
        put(E_ENTRY, entries[i], 8);
        CHECK_PARSE(KEEL_ELF_ENTRY_OUTSIDE);
    }
    valid();
    put(E_ENTRY, TEXT_VA, 8);
    CHECK_PARSE(KEEL_ELF_OK);
    put(E_ENTRY, TEXT_VA + 0x17ff, 8);
    CHECK_PARSE(KEEL_ELF_OK);
    /* The entry counts in the bss part of an executable segment (memsz, not filesz). */
    ehdr(0x400f00, 1);
    phdr(0, PT_LOAD, R | X, 0, 0x400000, 0x100, 0x1000);
    CHECK_PARSE(KEEL_ELF_OK);
}

TEST(strerror_every_code)
{
    for (int e = 0; e < KEEL_ELF_ERROR_COUNT; e++) {
        const char *s = keel_elf_strerror(e);
        CHECK(s != 0 && s[0] != 0);
        if (!s)
            continue;
        CHECK(strcmp(s, "unknown ELF error") != 0);
        for (int o = 0; o < e; o++)
            CHECK(strcmp(s, keel_elf_strerror(o)) != 0); /* distinct */
    }
    CHECK_EQ_STR(keel_elf_strerror(KEEL_ELF_OK), "ok");
    CHECK_STR_CONTAINS(keel_elf_strerror(KEEL_ELF_SEGMENT_WRITE_EXEC), "writable and executable");
    CHECK_EQ_STR(keel_elf_strerror(-1), "unknown ELF error");
    CHECK_EQ_STR(keel_elf_strerror(KEEL_ELF_ERROR_COUNT), "unknown ELF error");
    CHECK_EQ_STR(keel_elf_strerror(1000), "unknown ELF error");
    CHECK_EQ_STR(keel_elf_strerror(-2147483647 - 1), "unknown ELF error");
}

/* Random corruption of the valid image: the parser never reads outside the buffer (ASan) and,
 * when it accepts, what it returns obeys the rules it enforces. */
static uint64_t rng = 0x5851f42d4c957f2dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

TEST(random_corruption_is_safe)
{
    unsigned accepted = 0;
    static uint8_t exact[0x4000];
    for (int round = 0; round < 20000; round++) {
        valid();
        int flips = 1 + (int)(rnd() % 4);
        for (int k = 0; k < flips; k++) {
            uint64_t off = rnd() % (64 + 4 * PHDR_SIZE);
            img[off] = rnd() % 2 ? (uint8_t)rnd() : (uint8_t)(img[off] ^ (1u << (rnd() % 8)));
        }
        /* An exactly-sized heap-like copy, so that any overread is caught. */
        uint64_t n = img_size - rnd() % 2 * (rnd() % img_size);
        memcpy(exact + sizeof exact - n, img, n);
        memset(&out, 0, sizeof out);
        int err = keel_elf_parse(exact + sizeof exact - n, n, USER_TOP, &out);
        CHECK(err >= 0 && err < KEEL_ELF_ERROR_COUNT);
        if (err != KEEL_ELF_OK)
            continue;
        accepted++;
        CHECK(out.segment_count >= 1 && out.segment_count <= KEEL_ELF_MAX_SEGMENTS);
        bool entry_ok = false;
        for (uint32_t i = 0; i < out.segment_count && i < KEEL_ELF_MAX_SEGMENTS; i++) {
            const struct keel_elf_segment *s = &out.segments[i];
            CHECK(s->vaddr >= 4096 && s->memsz && s->vaddr + s->memsz <= USER_TOP && s->vaddr + s->memsz > s->vaddr);
            CHECK(s->filesz <= s->memsz && s->offset <= n && s->filesz <= n - s->offset);
            CHECK(s->vaddr % 4096 == s->offset % 4096);
            CHECK(!((s->flags & W) && (s->flags & X)));
            if (i)
                CHECK(((s[-1].vaddr + s[-1].memsz - 1) | 4095) < (s->vaddr & ~4095ull));
            entry_ok |= (s->flags & X) && out.entry >= s->vaddr && out.entry - s->vaddr < s->memsz;
        }
        CHECK(entry_ok);
    }
    printf("    %u of 20000 corrupted images accepted\n", accepted);
    CHECK(accepted > 100);
}
