/* ELF64 validation (facts from the System V ABI and its x86-64 supplement). Every field is
 * checked before use, with overflow-safe arithmetic: the image comes from a boot module or a
 * user and may be anything. */
#include <keel/elf.h>

#define PT_LOAD 1
#define ET_EXEC 2
#define EM_X86_64 62
#define PAGE 4096ull

struct ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static void copy_bytes(void *dst, const void *src, uint64_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

/* a + b <= limit, without overflow */
static int fits(uint64_t a, uint64_t b, uint64_t limit) { return a <= limit && b <= limit - a; }

int keel_elf_parse(const void *data, uint64_t size, uint64_t user_top, struct keel_elf_image *out)
{
    const uint8_t *bytes = data;
    struct ehdr h;
    out->entry = 0;
    out->segment_count = 0;
    if (!data || size < sizeof h)
        return KEEL_ELF_TOO_SMALL;
    copy_bytes(&h, bytes, sizeof h); /* the image may be unaligned */
    if (h.ident[0] != 0x7f || h.ident[1] != 'E' || h.ident[2] != 'L' || h.ident[3] != 'F')
        return KEEL_ELF_BAD_MAGIC;
    if (h.ident[4] != 2)
        return KEEL_ELF_NOT_64BIT;
    if (h.ident[5] != 1)
        return KEEL_ELF_NOT_LITTLE_ENDIAN;
    if (h.ident[6] != 1 || h.version != 1)
        return KEEL_ELF_BAD_VERSION;
    if (h.type != ET_EXEC)
        return KEEL_ELF_NOT_EXECUTABLE;
    if (h.machine != EM_X86_64)
        return KEEL_ELF_WRONG_MACHINE;
    if (h.phentsize != sizeof(struct phdr) || h.phnum == 0 ||
        !fits(h.phoff, (uint64_t)h.phnum * sizeof(struct phdr), size))
        return KEEL_ELF_BAD_PHDRS;

    for (uint32_t i = 0; i < h.phnum; i++) {
        struct phdr p;
        copy_bytes(&p, bytes + h.phoff + (uint64_t)i * sizeof p, sizeof p);
        if (p.type != PT_LOAD || p.memsz == 0)
            continue;
        if (out->segment_count == KEEL_ELF_MAX_SEGMENTS)
            return KEEL_ELF_TOO_MANY_SEGMENTS;
        if (!fits(p.offset, p.filesz, size))
            return KEEL_ELF_SEGMENT_BEYOND_FILE;
        if (p.filesz > p.memsz)
            return KEEL_ELF_SEGMENT_FILESZ_GT_MEMSZ;
        if (!fits(p.vaddr, p.memsz, user_top) || p.vaddr < PAGE)
            return KEEL_ELF_SEGMENT_OUTSIDE_USER;
        if ((p.vaddr % PAGE) != (p.offset % PAGE))
            return KEEL_ELF_SEGMENT_MISALIGNED;
        if ((p.flags & KEEL_ELF_PF_W) && (p.flags & KEEL_ELF_PF_X))
            return KEEL_ELF_SEGMENT_WRITE_EXEC;
        /* Insertion in address order, refusing any shared page. */
        uint64_t first = p.vaddr & ~(PAGE - 1);
        uint64_t last = (p.vaddr + p.memsz - 1) & ~(PAGE - 1);
        uint32_t pos = out->segment_count;
        for (uint32_t j = 0; j < out->segment_count; j++) {
            const struct keel_elf_segment *s = &out->segments[j];
            uint64_t s_first = s->vaddr & ~(PAGE - 1);
            uint64_t s_last = (s->vaddr + s->memsz - 1) & ~(PAGE - 1);
            if (first <= s_last && s_first <= last)
                return KEEL_ELF_SEGMENTS_OVERLAP;
            if (first < s_first && pos == out->segment_count)
                pos = j;
        }
        for (uint32_t j = out->segment_count; j > pos; j--)
            out->segments[j] = out->segments[j - 1];
        out->segments[pos] = (struct keel_elf_segment){ p.vaddr, p.memsz, p.offset, p.filesz, p.flags & 7u };
        out->segment_count++;
    }
    if (out->segment_count == 0)
        return KEEL_ELF_NO_SEGMENTS;
    for (uint32_t j = 0; j < out->segment_count; j++) {
        const struct keel_elf_segment *s = &out->segments[j];
        if ((s->flags & KEEL_ELF_PF_X) && h.entry >= s->vaddr && h.entry - s->vaddr < s->memsz) {
            out->entry = h.entry;
            return KEEL_ELF_OK;
        }
    }
    return KEEL_ELF_ENTRY_OUTSIDE;
}

const char *keel_elf_strerror(int err)
{
    static const char *const text[KEEL_ELF_ERROR_COUNT] = {
        [KEEL_ELF_OK] = "ok",
        [KEEL_ELF_TOO_SMALL] = "file too small for an ELF header",
        [KEEL_ELF_BAD_MAGIC] = "not an ELF file (bad magic)",
        [KEEL_ELF_NOT_64BIT] = "not a 64-bit ELF file",
        [KEEL_ELF_NOT_LITTLE_ENDIAN] = "not little-endian",
        [KEEL_ELF_BAD_VERSION] = "unknown ELF version",
        [KEEL_ELF_NOT_EXECUTABLE] = "not an executable (ET_EXEC)",
        [KEEL_ELF_WRONG_MACHINE] = "not an x86-64 executable",
        [KEEL_ELF_BAD_PHDRS] = "program header table malformed or outside the file",
        [KEEL_ELF_TOO_MANY_SEGMENTS] = "too many loadable segments",
        [KEEL_ELF_NO_SEGMENTS] = "no loadable segments",
        [KEEL_ELF_SEGMENT_BEYOND_FILE] = "a segment's file bytes lie beyond the end of the file",
        [KEEL_ELF_SEGMENT_FILESZ_GT_MEMSZ] = "a segment's file size exceeds its memory size",
        [KEEL_ELF_SEGMENT_OUTSIDE_USER] = "a segment lies outside the user half of the address space",
        [KEEL_ELF_SEGMENT_MISALIGNED] = "a segment's address and file offset disagree modulo the page size",
        [KEEL_ELF_SEGMENTS_OVERLAP] = "two segments overlap (share a page)",
        [KEEL_ELF_SEGMENT_WRITE_EXEC] = "a segment is both writable and executable",
        [KEEL_ELF_ENTRY_OUTSIDE] = "the entry point is not inside an executable segment",
    };
    return err >= 0 && err < KEEL_ELF_ERROR_COUNT ? text[err] : "unknown ELF error";
}
