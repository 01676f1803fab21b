/* Multiboot2 boot information parser. Everything the loader hands us is validated before use:
 * a corrupt structure must produce a clear message, never a wild read. Fields are read with
 * memcpy because several (ELF section headers, strings) sit at unaligned offsets. */
#include "multiboot2.h"

enum {
    TAG_END = 0,
    TAG_CMDLINE = 1,
    TAG_LOADER_NAME = 2,
    TAG_MODULE = 3,
    TAG_BASIC_MEMINFO = 4,
    TAG_BOOTDEV = 5,
    TAG_MMAP = 6,
    TAG_VBE = 7,
    TAG_FRAMEBUFFER = 8,
    TAG_ELF_SECTIONS = 9,
    TAG_APM = 10,
    TAG_EFI32 = 11,
    TAG_EFI64 = 12,
    TAG_SMBIOS = 13,
    TAG_ACPI_OLD = 14,
    TAG_ACPI_NEW = 15,
    TAG_NETWORK = 16,
    TAG_EFI_MMAP = 17,
    TAG_EFI_BS = 18,
    TAG_EFI32_IH = 19,
    TAG_EFI64_IH = 20,
    TAG_LOAD_BASE = 21,
    TAG_KNOWN_COUNT,
};

static const char *const tag_names[TAG_KNOWN_COUNT] = {
    [TAG_END] = "end",
    [TAG_CMDLINE] = "command line",
    [TAG_LOADER_NAME] = "boot loader name",
    [TAG_MODULE] = "module",
    [TAG_BASIC_MEMINFO] = "basic memory info",
    [TAG_BOOTDEV] = "BIOS boot device",
    [TAG_MMAP] = "memory map",
    [TAG_VBE] = "VBE info",
    [TAG_FRAMEBUFFER] = "framebuffer",
    [TAG_ELF_SECTIONS] = "ELF sections",
    [TAG_APM] = "APM table",
    [TAG_EFI32] = "EFI32 system table",
    [TAG_EFI64] = "EFI64 system table",
    [TAG_SMBIOS] = "SMBIOS tables",
    [TAG_ACPI_OLD] = "ACPI old RSDP",
    [TAG_ACPI_NEW] = "ACPI new RSDP",
    [TAG_NETWORK] = "networking info",
    [TAG_EFI_MMAP] = "EFI memory map",
    [TAG_EFI_BS] = "EFI boot services not terminated",
    [TAG_EFI32_IH] = "EFI32 image handle",
    [TAG_EFI64_IH] = "EFI64 image handle",
    [TAG_LOAD_BASE] = "image load base",
};

/* Smallest size each tag can legally have (header included); strings need at least their NUL. */
static const uint8_t tag_min_size[TAG_KNOWN_COUNT] = {
    [TAG_END] = 8,          [TAG_CMDLINE] = 9,  [TAG_LOADER_NAME] = 9, [TAG_MODULE] = 17,
    [TAG_BASIC_MEMINFO] = 16, [TAG_BOOTDEV] = 20, [TAG_MMAP] = 16,     [TAG_VBE] = 8,
    [TAG_FRAMEBUFFER] = 32, [TAG_ELF_SECTIONS] = 20, [TAG_APM] = 8,     [TAG_EFI32] = 12,
    [TAG_EFI64] = 16,       [TAG_SMBIOS] = 16,  [TAG_ACPI_OLD] = 28,   [TAG_ACPI_NEW] = 44,
    [TAG_NETWORK] = 8,      [TAG_EFI_MMAP] = 16, [TAG_EFI_BS] = 8,     [TAG_EFI32_IH] = 12,
    [TAG_EFI64_IH] = 16,    [TAG_LOAD_BASE] = 12,
};

/* Tags that describe one thing each; a second copy means the loader or the data is broken. */
#define SINGLETON_TAGS                                                                             \
    ((1u << TAG_CMDLINE) | (1u << TAG_LOADER_NAME) | (1u << TAG_BASIC_MEMINFO) | (1u << TAG_MMAP) | \
     (1u << TAG_FRAMEBUFFER) | (1u << TAG_ELF_SECTIONS) | (1u << TAG_ACPI_OLD) |                   \
     (1u << TAG_ACPI_NEW))

#define ELF_SHDR_SIZE 64
#define ELF_SYM_SIZE 24
#define SHT_SYMTAB 2
#define SHT_STRTAB 3
#define MMAP_ENTRY_MIN 24

struct tag {
    const uint8_t *p; /* start of the tag */
    uint32_t off, type, size;
};

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static const char *tag_name(uint32_t type)
{
    return type < TAG_KNOWN_COUNT ? tag_names[type] : "unknown";
}

/* "multiboot2: tag 6 (memory map) at offset 0x58 <what>" */
__attribute__((format(printf, 3, 4))) static int tag_fail(const struct tag *t, struct diag *d,
                                                         const char *fmt, ...)
{
    if (!d)
        return -1;
    int n = ksnprintf(d->msg, sizeof d->msg, "multiboot2: tag %u (%s) at offset 0x%x ", t->type,
                      tag_name(t->type), t->off);
    if (n >= 0 && (size_t)n < sizeof d->msg) {
        va_list ap;
        va_start(ap, fmt);
        kvsnprintf(d->msg + n, sizeof d->msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Copies the NUL-terminated string at tag offset `at` into dst, truncating to fit. */
static int tag_string(const struct tag *t, uint32_t at, char *dst, size_t dst_size, struct diag *d)
{
    const char *s = (const char *)t->p + at;
    size_t room = t->size - at;
    size_t len = strnlen(s, room);
    if (len == room)
        return tag_fail(t, d, "has a string that is not NUL-terminated within its %u bytes",
                        t->size);
    size_t copy = MIN(len, dst_size - 1);
    memcpy(dst, s, copy);
    dst[copy] = '\0';
    return 0;
}

static bool ranges_overlap(uint64_t a_base, uint64_t a_end, uint64_t b_base, uint64_t b_end)
{
    return a_base < b_end && b_base < a_end;
}

static int parse_module(const struct tag *t, struct mb2_info *out, struct diag *d)
{
    uint32_t start = rd32(t->p + 8), end = rd32(t->p + 12);
    if (out->module_count == MB2_MAX_MODULES)
        return tag_fail(t, d, "is module %u; at most %u modules are supported",
                        out->module_count + 1, MB2_MAX_MODULES);
    if (start > end)
        return tag_fail(t, d, "has start 0x%x above end 0x%x", start, end);
    struct mb2_module *m = &out->modules[out->module_count];
    m->start = start;
    m->end = end;
    if (tag_string(t, 16, m->cmdline, sizeof m->cmdline, d))
        return -1;
    for (uint32_t i = 0; i < out->module_count; i++) {
        const struct mb2_module *o = &out->modules[i];
        if (ranges_overlap(start, end, o->start, o->end))
            return tag_fail(t, d, "[0x%x, 0x%x) overlaps module %u [0x%llx, 0x%llx)", start, end,
                            i, (unsigned long long)o->start, (unsigned long long)o->end);
    }
    out->module_count++;
    return 0;
}

static int parse_mmap(const struct tag *t, struct mb2_info *out, struct diag *d)
{
    uint32_t entry_size = rd32(t->p + 8);
    if (entry_size < MMAP_ENTRY_MIN)
        return tag_fail(t, d, "has entry_size %u, below %u", entry_size, MMAP_ENTRY_MIN);
    if (entry_size % 8)
        return tag_fail(t, d, "has entry_size %u, not a multiple of 8", entry_size);
    uint32_t bytes = t->size - 16;
    if (bytes % entry_size)
        return tag_fail(t, d, "has %u bytes of entries, not a multiple of entry_size %u", bytes,
                        entry_size);
    /* entry_version is not checked: the spec keeps later versions compatible via entry_size. */
    for (uint32_t i = 0; i < bytes / entry_size; i++) {
        const uint8_t *e = t->p + 16 + (size_t)i * entry_size;
        uint64_t base = rd64(e), length = rd64(e + 8);
        uint32_t type = rd32(e + 16);
        if (length == 0)
            continue;
        if (base + length < base)
            return tag_fail(t, d, "entry %u [0x%llx, +0x%llx) wraps past 2^64", i,
                            (unsigned long long)base, (unsigned long long)length);
        if (out->mmap_count == MB2_MAX_MMAP)
            return tag_fail(t, d, "has more than %u non-empty entries", MB2_MAX_MMAP);
        out->mmap[out->mmap_count++] = (struct mb2_region){ base, length, type };
    }
    /* Real loaders never emit overlapping entries; overlap means we cannot trust either type. */
    for (uint32_t i = 0; i < out->mmap_count; i++) {
        const struct mb2_region *a = &out->mmap[i];
        for (uint32_t j = i + 1; j < out->mmap_count; j++) {
            const struct mb2_region *b = &out->mmap[j];
            if (ranges_overlap(a->base, a->base + a->length, b->base, b->base + b->length))
                return tag_fail(t, d, "has overlapping entries [0x%llx, 0x%llx) and [0x%llx, 0x%llx)",
                                (unsigned long long)a->base,
                                (unsigned long long)(a->base + a->length),
                                (unsigned long long)b->base,
                                (unsigned long long)(b->base + b->length));
        }
    }
    return 0;
}

static int parse_framebuffer(const struct tag *t, struct mb2_info *out, struct diag *d)
{
    struct mb2_framebuffer fb = {
        .addr = rd64(t->p + 8),
        .pitch = rd32(t->p + 16),
        .width = rd32(t->p + 20),
        .height = rd32(t->p + 24),
        .bpp = t->p[28],
        .type = t->p[29],
    };
    switch (fb.type) {
    case MB2_FB_INDEXED:
        if (fb.bpp < 1 || fb.bpp > 8)
            return tag_fail(t, d, "is indexed with bpp %u, expected 1..8", fb.bpp);
        break;
    case MB2_FB_RGB:
        if (fb.bpp != 8 && fb.bpp != 15 && fb.bpp != 16 && fb.bpp != 24 && fb.bpp != 32)
            return tag_fail(t, d, "is RGB with bpp %u, expected 8, 15, 16, 24 or 32", fb.bpp);
        if (t->size < 38)
            return tag_fail(t, d, "is RGB but its size %u is below 38 (no colour info)", t->size);
        fb.red_pos = t->p[32];
        fb.red_size = t->p[33];
        fb.green_pos = t->p[34];
        fb.green_size = t->p[35];
        fb.blue_pos = t->p[36];
        fb.blue_size = t->p[37];
        if (fb.red_pos + fb.red_size > fb.bpp || fb.green_pos + fb.green_size > fb.bpp ||
            fb.blue_pos + fb.blue_size > fb.bpp)
            return tag_fail(t, d, "has a colour field outside its %u bits per pixel", fb.bpp);
        break;
    case MB2_FB_EGA_TEXT:
        if (fb.bpp != 16)
            return tag_fail(t, d, "is EGA text with bpp %u, expected 16", fb.bpp);
        break;
    default: return tag_fail(t, d, "has unknown framebuffer type %u", fb.type);
    }
    if (fb.addr == 0 || fb.width == 0 || fb.height == 0)
        return tag_fail(t, d, "has address 0x%llx, width %u, height %u; none may be zero",
                        (unsigned long long)fb.addr, fb.width, fb.height);
    uint64_t row = ((uint64_t)fb.width * fb.bpp + 7) / 8;
    if (fb.pitch < row)
        return tag_fail(t, d, "has pitch %u, below width %u * bpp %u / 8 = %llu", fb.pitch,
                        fb.width, fb.bpp, (unsigned long long)row);
    uint64_t bytes = (uint64_t)fb.pitch * fb.height;
    if (fb.addr + bytes < fb.addr)
        return tag_fail(t, d, "has memory [0x%llx, +0x%llx) wrapping past 2^64",
                        (unsigned long long)fb.addr, (unsigned long long)bytes);
    out->fb = fb;
    out->has_framebuffer = true;
    return 0;
}

/* ELF64 section header fields we use, at their byte offsets. */
static uint32_t sh_type(const uint8_t *sh) { return rd32(sh + 4); }
static uint64_t sh_addr(const uint8_t *sh) { return rd64(sh + 16); }
static uint64_t sh_size(const uint8_t *sh) { return rd64(sh + 32); }
static uint32_t sh_link(const uint8_t *sh) { return rd32(sh + 40); }
static uint64_t sh_entsize(const uint8_t *sh) { return rd64(sh + 56); }

static int parse_elf_sections(const struct tag *t, struct mb2_info *out, struct diag *d)
{
    /* Real loaders use 32-bit num/entsize/shndx here (the spec text shows 16-bit fields). */
    uint32_t num = rd32(t->p + 8), entsize = rd32(t->p + 12), shndx = rd32(t->p + 16);
    if (entsize != ELF_SHDR_SIZE)
        return tag_fail(t, d, "has entsize %u; ELF64 section headers are %u bytes", entsize,
                        ELF_SHDR_SIZE);
    if (20 + (uint64_t)num * entsize > t->size)
        return tag_fail(t, d, "claims %u section headers (%llu bytes) but has room for %u", num,
                        (unsigned long long)num * entsize, (t->size - 20) / entsize);
    if (num && shndx >= num)
        return tag_fail(t, d, "has shndx %u but only %u sections", shndx, num);
    const uint8_t *headers = t->p + 20;
    if (num && shndx && sh_type(headers + (size_t)shndx * entsize) != SHT_STRTAB)
        return tag_fail(t, d, "has shndx %u naming a section of type %u, not SHT_STRTAB", shndx,
                        sh_type(headers + (size_t)shndx * entsize));
    for (uint32_t i = 0; i < num; i++) {
        const uint8_t *sym = headers + (size_t)i * entsize;
        if (sh_type(sym) != SHT_SYMTAB)
            continue;
        uint32_t link = sh_link(sym);
        if (link == 0 || link >= num)
            return tag_fail(t, d, "has symbol table section %u with sh_link %u outside 1..%u", i,
                            link, num - 1);
        const uint8_t *str = headers + (size_t)link * entsize;
        if (sh_type(str) != SHT_STRTAB)
            return tag_fail(t, d, "has symbol table section %u linking section %u of type %u, "
                            "not SHT_STRTAB", i, link, sh_type(str));
        if (sh_entsize(sym) != ELF_SYM_SIZE || sh_size(sym) % ELF_SYM_SIZE)
            return tag_fail(t, d, "has symbol table section %u with entsize %llu and size %llu; "
                            "expected whole %u-byte entries", i,
                            (unsigned long long)sh_entsize(sym), (unsigned long long)sh_size(sym),
                            ELF_SYM_SIZE);
        if (sh_addr(sym) + sh_size(sym) < sh_addr(sym) || sh_addr(str) + sh_size(str) < sh_addr(str))
            return tag_fail(t, d, "has symbol or string table section wrapping past 2^64");
        /* Address 0: the loader did not load the section; run without symbols. */
        if (sh_addr(sym) && sh_addr(str) && sh_size(sym) && sh_size(str)) {
            out->has_symbols = true;
            out->symtab_phys = sh_addr(sym);
            out->symtab_size = sh_size(sym);
            out->symtab_entsize = sh_entsize(sym);
            out->strtab_phys = sh_addr(str);
            out->strtab_size = sh_size(str);
        }
        break; /* ELF allows one SHT_SYMTAB per file */
    }
    return 0;
}

static int parse_rsdp(const struct tag *t, struct mb2_info *out, bool v2)
{
    if (!v2 && out->has_rsdp && out->rsdp_len == 36)
        return 0; /* keep the v2 copy */
    uint32_t len = v2 ? 36 : 20;
    memset(out->rsdp, 0, sizeof out->rsdp);
    memcpy(out->rsdp, t->p + 8, len);
    out->rsdp_len = len;
    out->rsdp_revision = out->rsdp[15];
    out->has_rsdp = true;
    return 0;
}

static int parse_tag(const struct tag *t, struct mb2_info *out, struct diag *d)
{
    switch (t->type) {
    case TAG_CMDLINE:
        out->has_cmdline = true;
        return tag_string(t, 8, out->cmdline, sizeof out->cmdline, d);
    case TAG_LOADER_NAME: return tag_string(t, 8, out->loader_name, sizeof out->loader_name, d);
    case TAG_MODULE: return parse_module(t, out, d);
    case TAG_BASIC_MEMINFO:
        out->mem_lower_kb = rd32(t->p + 8);
        out->mem_upper_kb = rd32(t->p + 12);
        out->has_basic_meminfo = true;
        return 0;
    case TAG_MMAP: return parse_mmap(t, out, d);
    case TAG_FRAMEBUFFER: return parse_framebuffer(t, out, d);
    case TAG_ELF_SECTIONS: return parse_elf_sections(t, out, d);
    case TAG_EFI64:
    case TAG_EFI_BS: out->efi_boot = true; return 0;
    case TAG_ACPI_OLD: return parse_rsdp(t, out, false);
    case TAG_ACPI_NEW: return parse_rsdp(t, out, true);
    default: return 0; /* unknown or unused tags are skipped */
    }
}

int mb2_parse(const void *info, uint64_t info_phys, struct mb2_info *out, struct diag *d)
{
    memset(out, 0, sizeof *out);
    if (d)
        d->msg[0] = '\0';
    if (!info) {
        diag_set(d, "multiboot2: no boot information (NULL pointer)");
        return -1;
    }
    if ((uintptr_t)info % 8 || info_phys % 8) {
        diag_set(d, "multiboot2: boot information at 0x%llx is not 8-byte aligned",
                 (unsigned long long)info_phys);
        return -1;
    }
    const uint8_t *base = info;
    uint32_t total = rd32(base), reserved = rd32(base + 4);
    if (total < 16) {
        diag_set(d, "multiboot2: total_size %u is below 16 (8-byte header plus end tag)", total);
        return -1;
    }
    if (total > MB2_MAX_INFO_SIZE) {
        diag_set(d, "multiboot2: total_size %u is above the %u-byte limit", total,
                 MB2_MAX_INFO_SIZE);
        return -1;
    }
    if (reserved != 0) {
        diag_set(d, "multiboot2: header reserved field is 0x%x, expected 0", reserved);
        return -1;
    }
    out->info_phys = info_phys;
    out->total_size = total;

    uint32_t seen = 0, first_off[TAG_KNOWN_COUNT] = { 0 };
    uint32_t off = 8; /* always 8-aligned: we only ever advance by padded sizes */
    for (;;) {
        if (total - off < 8) {
            diag_set(d, "multiboot2: no end tag before total_size %u (tags run to offset 0x%x)",
                     total, off);
            return -1;
        }
        struct tag t = { base + off, off, rd32(base + off), rd32(base + off + 4) };
        if (t.size < 8)
            return tag_fail(&t, d, "has size %u, below the 8-byte tag header", t.size);
        if (t.size > total - off)
            return tag_fail(&t, d, "has size %u, overrunning total_size %u", t.size, total);
        if (t.type < TAG_KNOWN_COUNT && t.size < tag_min_size[t.type])
            return tag_fail(&t, d, "has size %u, below the minimum %u", t.size,
                            tag_min_size[t.type]);
        if (t.type == TAG_END) {
            if (t.size != 8)
                return tag_fail(&t, d, "has size %u, expected 8", t.size);
            break; /* anything after the end tag is ignored */
        }
        if (t.type < TAG_KNOWN_COUNT && (SINGLETON_TAGS >> t.type) & 1) {
            if (seen & (1u << t.type))
                return tag_fail(&t, d, "is a duplicate (first copy at offset 0x%x)",
                                first_off[t.type]);
            seen |= 1u << t.type;
            first_off[t.type] = off;
        }
        if (parse_tag(&t, out, d))
            return -1;
        uint32_t padded = ALIGN_UP(t.size, 8u);
        if (padded > total - off) {
            /* The padding of the last tag would run past total_size: no room for an end tag. */
            diag_set(d, "multiboot2: no end tag before total_size %u (last tag at offset 0x%x)",
                     total, off);
            return -1;
        }
        off += padded;
    }
    return 0;
}

const char *mb2_mem_type_name(uint32_t type)
{
    switch (type) {
    case MB2_MEM_AVAILABLE: return "available";
    case MB2_MEM_RESERVED: return "reserved";
    case MB2_MEM_ACPI_RECLAIMABLE: return "ACPI reclaimable";
    case MB2_MEM_NVS: return "ACPI NVS";
    case MB2_MEM_BAD: return "bad";
    default: return "unknown";
    }
}
