/* keel_elf_parse (libsel-like/src/elf.c), which the kernel runs on the root task's boot module and
 * libkeel on every spawned program. The loaders then copy [offset, offset + filesz) of the file
 * and map [vaddr, vaddr + memsz): what the parser accepts must make both safe. */
#include "fuzz_assert.h"
#include <keel/elf.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define USER_TOP 0x0000800000000000ull
#define PAGE 4096ull

static void check_accepted(const uint8_t *data, size_t size, uint64_t user_top, const struct keel_elf_image *img)
{
    FUZZ_ASSERT(img->segment_count >= 1 && img->segment_count <= KEEL_ELF_MAX_SEGMENTS);
    int entry_in_text = 0;
    volatile uint8_t sink = 0;
    for (uint32_t i = 0; i < img->segment_count; i++) {
        const struct keel_elf_segment *s = &img->segments[i];
        /* The file bytes lie inside the file, without wrapping. */
        FUZZ_ASSERT(s->offset <= size && s->filesz <= size - s->offset);
        FUZZ_ASSERT(s->filesz <= s->memsz && s->memsz > 0);
        /* The memory lies in [one page, user_top), without wrapping. */
        FUZZ_ASSERT(s->vaddr >= PAGE && s->vaddr <= user_top && s->memsz <= user_top - s->vaddr);
        FUZZ_ASSERT(s->vaddr % PAGE == s->offset % PAGE);
        FUZZ_ASSERT((s->flags & ~7u) == 0);
        FUZZ_ASSERT(!((s->flags & KEEL_ELF_PF_W) && (s->flags & KEEL_ELF_PF_X)));
        /* Sorted, and no two segments share a page (the loader maps each page once). */
        if (i > 0) {
            const struct keel_elf_segment *p = &img->segments[i - 1];
            FUZZ_ASSERT(((p->vaddr + p->memsz - 1) & ~(PAGE - 1)) < (s->vaddr & ~(PAGE - 1)));
        }
        if ((s->flags & KEEL_ELF_PF_X) && img->entry >= s->vaddr && img->entry - s->vaddr < s->memsz)
            entry_in_text = 1;
        /* Read what the loader would copy: ASan checks it is inside the input. */
        if (s->filesz) {
            sink ^= data[s->offset];
            sink ^= data[s->offset + s->filesz - 1];
        }
    }
    (void)sink;
    FUZZ_ASSERT(entry_in_text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The last input byte picks a lower user_top too, so the bound is exercised, not just the
     * kernel half. */
    uint64_t tops[2] = { USER_TOP, size ? 0x10000ull << (data[size - 1] % 24) : USER_TOP };
    for (int t = 0; t < 2; t++) {
        struct keel_elf_image img;
        memset(&img, 0xa5, sizeof img);
        int err = keel_elf_parse(data, size, tops[t], &img);
        FUZZ_ASSERT(err >= 0 && err < KEEL_ELF_ERROR_COUNT);
        FUZZ_ASSERT(strcmp(keel_elf_strerror(err), "unknown ELF error") != 0);
        if (err == KEEL_ELF_OK)
            check_accepted(data, size, tops[t], &img);
        else
            FUZZ_ASSERT(img.entry == 0 && img.segment_count <= KEEL_ELF_MAX_SEGMENTS);
    }
    return 0;
}
