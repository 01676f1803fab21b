/* mb2_parse (kernel/core/multiboot2.c) on boot information as a loader might lay it out, then
 * memmap_from_mb2 (kernel/core/memmap.c) on what it accepted: the kernel's first use of it.
 * mb2_parse trusts total_size to say how much is readable (the loader's word: there is nothing
 * else), so a total_size beyond the input is clamped to the input size. */
#include "fuzz_assert.h"
#include "memmap.h"
#include "multiboot2.h"
#include <stdlib.h>

#define INFO_PHYS 0x10000ull

/* Whether [a, a_end) and [b, b_end) share a byte (an empty range shares none). */
static bool overlaps(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end)
{
    return a < a_end && b < b_end && a < b_end && b < a_end;
}

static void check_info(const struct mb2_info *mb, uint32_t total)
{
    FUZZ_ASSERT(mb->total_size == total && mb->info_phys == INFO_PHYS);
    FUZZ_ASSERT_TERMINATED(mb->cmdline, sizeof mb->cmdline);
    FUZZ_ASSERT_TERMINATED(mb->loader_name, sizeof mb->loader_name);
    FUZZ_ASSERT(mb->mmap_count <= MB2_MAX_MMAP);
    for (uint32_t i = 0; i < mb->mmap_count; i++) {
        const struct mb2_region *r = &mb->mmap[i];
        FUZZ_ASSERT(r->length > 0 && r->base + r->length > r->base);
        for (uint32_t j = 0; j < i; j++)
            FUZZ_ASSERT(!overlaps(r->base, r->base + r->length, mb->mmap[j].base,
                                  mb->mmap[j].base + mb->mmap[j].length));
    }
    FUZZ_ASSERT(mb->module_count <= MB2_MAX_MODULES);
    for (uint32_t i = 0; i < mb->module_count; i++) {
        const struct mb2_module *m = &mb->modules[i];
        FUZZ_ASSERT(m->start <= m->end && m->end <= UINT32_MAX);
        FUZZ_ASSERT_TERMINATED(m->cmdline, sizeof m->cmdline);
        for (uint32_t j = 0; j < i; j++)
            FUZZ_ASSERT(!overlaps(m->start, m->end, mb->modules[j].start, mb->modules[j].end));
    }
    if (mb->has_framebuffer) {
        const struct mb2_framebuffer *fb = &mb->fb;
        FUZZ_ASSERT(fb->addr && fb->width && fb->height && fb->type <= MB2_FB_EGA_TEXT);
        FUZZ_ASSERT(fb->pitch >= ((uint64_t)fb->width * fb->bpp + 7) / 8);
        FUZZ_ASSERT(fb->addr + (uint64_t)fb->pitch * fb->height >= fb->addr);
        if (fb->type == MB2_FB_RGB)
            FUZZ_ASSERT(fb->red_pos + fb->red_size <= fb->bpp && fb->green_pos + fb->green_size <= fb->bpp &&
                        fb->blue_pos + fb->blue_size <= fb->bpp);
    }
    FUZZ_ASSERT(mb->has_rsdp ? (mb->rsdp_len == 20 || mb->rsdp_len == 36) : mb->rsdp_len == 0);
    if (mb->has_symbols) {
        FUZZ_ASSERT(mb->symtab_entsize == 24 && mb->symtab_size % 24 == 0 && mb->symtab_size && mb->strtab_size);
        FUZZ_ASSERT(mb->symtab_phys + mb->symtab_size > mb->symtab_phys);
        FUZZ_ASSERT(mb->strtab_phys + mb->strtab_size > mb->strtab_phys);
    }
}

/* Free RAM is sorted, page-aligned, disjoint and never adjacent, whatever happened. */
static void check_memmap_shape(const struct memmap *m)
{
    FUZZ_ASSERT(m->count <= MEMMAP_MAX);
    for (uint32_t i = 0; i < m->count; i++) {
        const struct phys_range *r = &m->free[i];
        FUZZ_ASSERT(r->base < r->end && r->base % MEMMAP_PAGE == 0 && r->end % MEMMAP_PAGE == 0);
        if (i)
            FUZZ_ASSERT(m->free[i - 1].end < r->base);
    }
}

/* On success: every free page is available RAM, and none is the low 1 MiB, the boot information,
 * a module or the symbol tables. */
static void check_memmap_complete(const struct memmap *m, const struct mb2_info *mb)
{
    for (uint32_t i = 0; i < m->count; i++) {
        const struct phys_range *r = &m->free[i];
        FUZZ_ASSERT(r->base >= MEMMAP_LOW_RESERVED);
        FUZZ_ASSERT(!overlaps(r->base, r->end, mb->info_phys, mb->info_phys + mb->total_size));
        for (uint32_t j = 0; j < mb->module_count; j++)
            FUZZ_ASSERT(!overlaps(r->base, r->end, mb->modules[j].start, mb->modules[j].end));
        if (mb->has_symbols) {
            FUZZ_ASSERT(!overlaps(r->base, r->end, mb->symtab_phys, mb->symtab_phys + mb->symtab_size));
            FUZZ_ASSERT(!overlaps(r->base, r->end, mb->strtab_phys, mb->strtab_phys + mb->strtab_size));
        }
        /* Covered by available regions (adjacent ones merge into one free range). */
        for (uint64_t at = r->base; at < r->end;) {
            uint64_t next = at;
            for (uint32_t j = 0; j < mb->mmap_count && next == at; j++) {
                const struct mb2_region *a = &mb->mmap[j];
                if (a->type == MB2_MEM_AVAILABLE && a->base <= at && at - a->base < a->length)
                    next = a->base + a->length;
            }
            FUZZ_ASSERT(next > at);
            at = next;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > MB2_MAX_INFO_SIZE)
        return 0;
    /* The structure is 8-byte aligned (malloc's are 16); exactly `size` bytes, so ASan sees any
     * read past them. */
    uint8_t *info = malloc(size);
    memcpy(info, data, size);
    uint32_t total;
    memcpy(&total, info, 4);
    if (total > size) {
        total = (uint32_t)size;
        memcpy(info, &total, 4);
    }
    static struct mb2_info mb;
    struct diag d;
    memset(&d, 0x5a, sizeof d);
    int rc = mb2_parse(info, INFO_PHYS, &mb, &d);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    FUZZ_ASSERT_TERMINATED(d.msg, sizeof d.msg);
    if (rc) {
        FUZZ_ASSERT(strncmp(d.msg, "multiboot2: ", 12) == 0);
    } else {
        FUZZ_ASSERT(d.msg[0] == 0);
        check_info(&mb, total);
        static struct memmap m;
        memmap_init(&m);
        int mrc = memmap_from_mb2(&m, &mb, &d);
        check_memmap_shape(&m);
        if (mrc == 0)
            check_memmap_complete(&m, &mb);
    }
    free(info);
    return 0;
}
