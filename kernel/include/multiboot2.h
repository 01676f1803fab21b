/* The multiboot2 boot information structure, parsed into a fixed-size summary so that the rest of
 * the kernel never walks loader-provided memory itself. */
#ifndef KEEL_MULTIBOOT2_H
#define KEEL_MULTIBOOT2_H

#include "klib.h"

#define MB2_BOOTLOADER_MAGIC 0x36d76289u
#define MB2_MAX_MMAP 128
#define MB2_MAX_MODULES 32
/* Far larger than any real loader produces; a bigger total_size means corruption. */
#define MB2_MAX_INFO_SIZE (1u << 20)

enum mb2_mem_type {
    MB2_MEM_AVAILABLE = 1,
    MB2_MEM_RESERVED = 2,
    MB2_MEM_ACPI_RECLAIMABLE = 3,
    MB2_MEM_NVS = 4,
    MB2_MEM_BAD = 5,
};

struct mb2_region {
    uint64_t base, length;
    uint32_t type; /* raw loader value; types outside enum mb2_mem_type are kept as given */
};

struct mb2_module {
    uint64_t start, end; /* [start, end) physical */
    char cmdline[128];
};

enum mb2_fb_type { MB2_FB_INDEXED = 0, MB2_FB_RGB = 1, MB2_FB_EGA_TEXT = 2 };

struct mb2_framebuffer {
    uint64_t addr;
    uint32_t pitch, width, height; /* EGA text: width and height in characters */
    uint8_t bpp, type;             /* type: enum mb2_fb_type */
    uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size; /* RGB only */
};

struct mb2_info {
    uint64_t info_phys;
    uint32_t total_size;
    bool has_cmdline;
    char cmdline[256];
    char loader_name[64];
    uint32_t mem_lower_kb, mem_upper_kb;
    bool has_basic_meminfo;
    struct mb2_region mmap[MB2_MAX_MMAP]; /* zero-length entries dropped, loader order kept */
    uint32_t mmap_count;
    struct mb2_module modules[MB2_MAX_MODULES];
    uint32_t module_count;
    bool has_framebuffer;
    struct mb2_framebuffer fb;
    /* Copy of the RSDP from tag 14 (v1, 20 bytes) or 15 (v2, 36 bytes); v2 wins when both exist. */
    uint8_t rsdp[36];
    uint32_t rsdp_len;
    uint8_t rsdp_revision;
    bool has_rsdp;
    /* From the ELF-sections tag (9): the SHT_SYMTAB section and the string table its sh_link names. */
    bool has_symbols;
    uint64_t symtab_phys, symtab_size, symtab_entsize, strtab_phys, strtab_size;
    bool efi_boot; /* EFI64 system table tag (12) or "EFI boot services not terminated" tag (18) */
};

/* `info` points at the boot information (readable), `info_phys` is its physical address (recorded
 * only). Returns 0, or -1 with a human-readable reason in d->msg (d may be NULL). */
int mb2_parse(const void *info, uint64_t info_phys, struct mb2_info *out, struct diag *d);
const char *mb2_mem_type_name(uint32_t type);

#endif
