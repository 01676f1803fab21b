/* Builds multiboot2 boot information byte by byte, the way a loader lays it out, for the
 * multiboot2 and memmap tests. */
#ifndef KEEL_MB2_BUILDER_H
#define KEEL_MB2_BUILDER_H

#include <stdint.h>
#include <string.h>

struct mb {
    uint64_t words[4096]; /* 32 KiB, 8-byte aligned like the real structure */
    uint32_t len;
    uint32_t tag; /* offset of the open tag */
};

static inline uint8_t *mb_bytes(struct mb *b) { return (uint8_t *)b->words; }

static inline void mb_put(struct mb *b, const void *p, size_t n)
{
    memcpy(mb_bytes(b) + b->len, p, n);
    b->len += (uint32_t)n;
}
static inline void mb_u8(struct mb *b, uint8_t v) { mb_put(b, &v, 1); }
static inline void mb_u16(struct mb *b, uint16_t v) { mb_put(b, &v, 2); }
static inline void mb_u32(struct mb *b, uint32_t v) { mb_put(b, &v, 4); }
static inline void mb_u64(struct mb *b, uint64_t v) { mb_put(b, &v, 8); }
static inline void mb_str(struct mb *b, const char *s) { mb_put(b, s, strlen(s) + 1); }

static inline void mb_set32(struct mb *b, uint32_t off, uint32_t v)
{
    memcpy(mb_bytes(b) + off, &v, 4);
}
static inline uint32_t mb_get32(struct mb *b, uint32_t off)
{
    uint32_t v;
    memcpy(&v, mb_bytes(b) + off, 4);
    return v;
}

static inline void mb_init(struct mb *b)
{
    memset(b, 0, sizeof *b);
    b->len = 8; /* total_size and reserved, filled by mb_finish */
}

/* Opens a tag; returns its offset. */
static inline uint32_t mb_begin(struct mb *b, uint32_t type)
{
    b->tag = b->len;
    mb_u32(b, type);
    mb_u32(b, 0);
    return b->tag;
}

/* Closes the open tag: writes its size and pads to 8 bytes with zeros. */
static inline void mb_end(struct mb *b)
{
    mb_set32(b, b->tag + 4, b->len - b->tag);
    while (b->len % 8)
        mb_u8(b, 0);
}

/* Appends the end tag and writes total_size. */
static inline void mb_finish(struct mb *b)
{
    mb_begin(b, 0);
    mb_end(b);
    mb_set32(b, 0, b->len);
    mb_set32(b, 4, 0);
}

/* Header only; used for malformed lists that the test finishes by hand. */
static inline void mb_set_total(struct mb *b, uint32_t total) { mb_set32(b, 0, total); }

static inline void mb_string_tag(struct mb *b, uint32_t type, const char *s)
{
    mb_begin(b, type);
    mb_str(b, s);
    mb_end(b);
}

static inline void mb_module(struct mb *b, uint32_t start, uint32_t end, const char *cmdline)
{
    mb_begin(b, 3);
    mb_u32(b, start);
    mb_u32(b, end);
    mb_str(b, cmdline);
    mb_end(b);
}

struct mb_mmap_entry {
    uint64_t base, length;
    uint32_t type;
};

static inline void mb_mmap(struct mb *b, const struct mb_mmap_entry *e, size_t n)
{
    mb_begin(b, 6);
    mb_u32(b, 24);
    mb_u32(b, 0);
    for (size_t i = 0; i < n; i++) {
        mb_u64(b, e[i].base);
        mb_u64(b, e[i].length);
        mb_u32(b, e[i].type);
        mb_u32(b, 0);
    }
    mb_end(b);
}

/* One ELF64 section header (64 bytes). */
static inline void mb_shdr(struct mb *b, uint32_t name, uint32_t type, uint64_t addr, uint64_t size,
                           uint32_t link, uint64_t entsize)
{
    mb_u32(b, name);
    mb_u32(b, type);
    mb_u64(b, 0); /* flags */
    mb_u64(b, addr);
    mb_u64(b, 0); /* offset */
    mb_u64(b, size);
    mb_u32(b, link);
    mb_u32(b, 0); /* info */
    mb_u64(b, 8); /* addralign */
    mb_u64(b, entsize);
}

static inline void mb_rsdp_bytes(uint8_t *r, uint8_t revision)
{
    memset(r, 0, 36);
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, "BOCHS ", 6);
    r[15] = revision;
}

/* Five sections: null, .text, .symtab (linking section 3), .strtab (of type str_type),
 * .shstrtab; entsize, shndx, the symtab's link and address are the caller's to break. */
static inline void mb_elf_sections(struct mb *m, uint32_t entsize, uint32_t shndx,
                                   uint32_t sym_link, uint32_t str_type, uint64_t sym_addr)
{
    mb_begin(m, 9);
    mb_u32(m, 5);
    mb_u32(m, entsize);
    mb_u32(m, shndx);
    mb_shdr(m, 0, 0, 0, 0, 0, 0);                       /* null section */
    mb_shdr(m, 1, 1, 0xffffffff80100000, 0x8000, 0, 0); /* .text */
    mb_shdr(m, 7, 2, sym_addr, 24 * 40, sym_link, 24);  /* .symtab */
    mb_shdr(m, 15, str_type, 0x401000, 0x900, 0, 0);    /* .strtab */
    mb_shdr(m, 23, 3, 0x402000, 0x40, 0, 0);            /* .shstrtab */
    mb_end(m);
}

#endif
