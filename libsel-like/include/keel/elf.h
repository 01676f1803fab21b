/* ELF64 executable parsing, shared by the kernel (the root task) and libkeel (every other
 * process). Pure: it reads the image and validates it; loading is the caller's business. */
#ifndef KEEL_ELF_H
#define KEEL_ELF_H

#include <stdint.h>

#define KEEL_ELF_MAX_SEGMENTS 16
#define KEEL_ELF_PF_X 1u
#define KEEL_ELF_PF_W 2u
#define KEEL_ELF_PF_R 4u

struct keel_elf_segment {
    uint64_t vaddr, memsz;   /* where it goes and how much memory it takes */
    uint64_t offset, filesz; /* what of the file fills it; the rest is zero */
    uint32_t flags;          /* KEEL_ELF_PF_* */
};

struct keel_elf_image {
    uint64_t entry;
    uint32_t segment_count;
    struct keel_elf_segment segments[KEEL_ELF_MAX_SEGMENTS];
};

enum keel_elf_error {
    KEEL_ELF_OK = 0,
    KEEL_ELF_TOO_SMALL,          /* shorter than an ELF header */
    KEEL_ELF_BAD_MAGIC,
    KEEL_ELF_NOT_64BIT,
    KEEL_ELF_NOT_LITTLE_ENDIAN,
    KEEL_ELF_BAD_VERSION,
    KEEL_ELF_NOT_EXECUTABLE,     /* not ET_EXEC */
    KEEL_ELF_WRONG_MACHINE,      /* not x86-64 */
    KEEL_ELF_BAD_PHDRS,          /* program header table malformed or outside the file */
    KEEL_ELF_TOO_MANY_SEGMENTS,
    KEEL_ELF_NO_SEGMENTS,
    KEEL_ELF_SEGMENT_BEYOND_FILE,
    KEEL_ELF_SEGMENT_FILESZ_GT_MEMSZ,
    KEEL_ELF_SEGMENT_OUTSIDE_USER, /* reaches into the kernel half, or wraps */
    KEEL_ELF_SEGMENT_MISALIGNED,   /* vaddr and offset disagree modulo the page size */
    KEEL_ELF_SEGMENTS_OVERLAP,     /* two segments share a page */
    KEEL_ELF_SEGMENT_WRITE_EXEC,   /* writable and executable: W^X */
    KEEL_ELF_ENTRY_OUTSIDE,        /* entry point not in an executable segment */
    KEEL_ELF_ERROR_COUNT
};

/* Validates `data` (`size` bytes) as an x86-64 executable whose loadable segments lie below
 * `user_top`; fills `out` with the PT_LOAD segments sorted by address. */
int keel_elf_parse(const void *data, uint64_t size, uint64_t user_top, struct keel_elf_image *out);
const char *keel_elf_strerror(int err);

#endif
