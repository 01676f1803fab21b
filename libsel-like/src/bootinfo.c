/* BootInfo validation and accessors. */
#include <keel/bootinfo.h>
#include <keel/stdio.h>
#include <keel/string.h>

struct keel_bootinfo *keel__bootinfo; /* set by crt0 from RDI */

static bool range_ok(const struct keel_slot_range *r, uint64_t slots)
{
    return r->start <= r->end && r->end <= slots;
}

int keel_bootinfo_check(const struct keel_bootinfo *bi)
{
    if (!bi || bi->magic != KEEL_BOOTINFO_MAGIC || bi->version != KEEL_BOOTINFO_VERSION)
        return KEEL_E_INVALID_ARGUMENT;
    if (bi->cnode_radix < KEEL_CNODE_MIN_RADIX || bi->cnode_radix > KEEL_CNODE_MAX_RADIX)
        return KEEL_E_INVALID_ARGUMENT;
    uint64_t slots = 1ull << bi->cnode_radix;
    if (!range_ok(&bi->empty, slots) || !range_ok(&bi->untyped, slots) || !range_ok(&bi->module_frames, slots) ||
        !range_ok(&bi->image_frames, slots) || !range_ok(&bi->image_paging, slots))
        return KEEL_E_INVALID_ARGUMENT;
    if (bi->untyped_count > KEEL_BOOTINFO_MAX_UNTYPED || bi->module_count > KEEL_BOOTINFO_MAX_MODULES ||
        bi->untyped.end - bi->untyped.start != bi->untyped_count)
        return KEEL_E_INVALID_ARGUMENT;
    return 0;
}

struct keel_bootinfo *keel_bootinfo_get(void)
{
    return keel_bootinfo_check(keel__bootinfo) ? NULL : keel__bootinfo;
}

const struct keel_module_info *keel_bootinfo_module(const struct keel_bootinfo *bi, const char *name)
{
    for (uint32_t i = 0; i < bi->module_count; i++) {
        /* The name field need not be terminated when it is full. */
        if (strncmp(bi->modules[i].name, name, sizeof(bi->modules[i].name)) == 0 &&
            strlen(name) <= sizeof(bi->modules[i].name))
            return &bi->modules[i];
    }
    return NULL;
}

int keel_bootinfo_largest_ram_untyped(const struct keel_bootinfo *bi)
{
    int best = -1;
    for (uint32_t i = 0; i < bi->untyped_count; i++) {
        const struct keel_untyped_info *u = &bi->untyped_list[i];
        if (!u->is_device && (best < 0 || u->size > bi->untyped_list[best].size))
            best = (int)i;
    }
    return best;
}

static void print_range(const char *what, const struct keel_slot_range *r)
{
    keel_printf("  %-14s slots [%llu, %llu)\n", what, (unsigned long long)r->start, (unsigned long long)r->end);
}

void keel_bootinfo_print(const struct keel_bootinfo *bi)
{
    keel_printf("bootinfo: version %llu, root CNode radix %u, %u CPU(s), features %#llx\n",
                (unsigned long long)bi->version, bi->cnode_radix, bi->cpu_count,
                (unsigned long long)bi->features);
    print_range("empty", &bi->empty);
    print_range("untyped", &bi->untyped);
    print_range("module frames", &bi->module_frames);
    print_range("image frames", &bi->image_frames);
    print_range("image paging", &bi->image_paging);
    uint64_t ram = 0;
    for (uint32_t i = 0; i < bi->untyped_count; i++)
        ram += bi->untyped_list[i].is_device ? 0 : bi->untyped_list[i].size;
    keel_printf("  %u untyped (%llu KiB RAM), %u module(s)\n", bi->untyped_count,
                (unsigned long long)(ram >> 10), bi->module_count);
}
