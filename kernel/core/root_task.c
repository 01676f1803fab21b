/* Creating the root task: the one thread the kernel builds by itself, from the first boot module.
 * It gets a CNode with every capability there is (its own objects, the control caps, the module
 * frames and all free memory as Untyped) and a BootInfo page that says where they are. After
 * this the kernel allocates nothing on its own. */
#include "arch/apic.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "boot.h"
#include "console.h"
#include "klib.h"
#include "log.h"
#include "object/cdt.h"
#include "object/cnode.h"
#include "object/tcb.h"
#include "object/vspace.h"
#include "sched.h"
#include "smp.h"
#include <keel/elf.h>

#define ROOT_CNODE_RADIX 12
#define MAX_ROOT_PAGING 64

struct builder {
    struct cte *slots;
    uint64_t next_slot;
    uint64_t *pml4;
    uint64_t paging[MAX_ROOT_PAGING];
    uint8_t paging_level[MAX_ROOT_PAGING];
    uint64_t paging_va[MAX_ROOT_PAGING];
    uint32_t asid;
    uint32_t paging_count;
    bool failed;
};

static uint64_t boot_alloc(uint64_t size, uint64_t align)
{
    uint64_t phys = memmap_alloc(&boot.memory, size, align, paging_direct_map_end());
    if (phys)
        memset(phys_to_virt(phys), 0, size);
    return phys;
}

static uint64_t alloc_page(void *ctx)
{
    (void)ctx;
    return boot_alloc(PAGE_SIZE, PAGE_SIZE);
}

static struct cte *new_cap(struct builder *b, uint64_t slot, uint8_t type, uint64_t obj)
{
    if (slot >= (1ull << ROOT_CNODE_RADIX)) {
        b->failed = true;
        return 0;
    }
    struct cte *s = &b->slots[slot];
    memset(&s->cap, 0, sizeof s->cap);
    s->cap.type = type;
    s->cap.rights = KEEL_RIGHTS_ALL;
    s->cap.obj = obj;
    cdt_insert(&cdt_root, s);
    return s;
}

static struct cte *next_cap(struct builder *b, uint8_t type, uint64_t obj)
{
    return new_cap(b, b->next_slot++, type, obj);
}

/* The cap records its mapping, so the root task can unmap and remap its own pages. */
static void mark_mapped(struct builder *b, struct cte *c, uint64_t va)
{
    c->cap.flags |= CAP_FLAG_MAPPED;
    c->cap.word1 = va;
    c->cap.word2 = b->asid;
}

/* Backs [va, va + size) with fresh frames, filled from `src` (src_len bytes, then zeros). */
static bool map_region(struct builder *b, uint64_t va, uint64_t size, const uint8_t *src, uint64_t src_len,
                       uint64_t pte_flags, uint64_t first_slot_out[1])
{
    for (uint64_t off = 0; off < size; off += PAGE_SIZE) {
        uint64_t frame = alloc_page(0);
        if (!frame)
            return false;
        if (src && off < src_len)
            memcpy(phys_to_virt(frame), src + off, MIN(PAGE_SIZE, src_len - off));
        if (!vspace_boot_map(b->pml4, va + off, frame, pte_flags, alloc_page, 0, b->paging, &b->paging_count,
                             MAX_ROOT_PAGING, b->paging_level, b->paging_va))
            return false;
        struct cte *c = next_cap(b, KEEL_OBJ_FRAME_4K, frame);
        if (!c)
            return false;
        mark_mapped(b, c, va + off);
        if (off == 0 && first_slot_out)
            first_slot_out[0] = (uint64_t)(c - b->slots);
    }
    return true;
}

static bool load_segments(struct builder *b, const struct keel_elf_image *img, const uint8_t *file)
{
    for (uint32_t i = 0; i < img->segment_count; i++) {
        const struct keel_elf_segment *s = &img->segments[i];
        uint64_t start = ALIGN_DOWN(s->vaddr, PAGE_SIZE);
        uint64_t end = ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE);
        uint64_t lead = s->vaddr - start;
        uint64_t flags = ((s->flags & KEEL_ELF_PF_W) ? PTE_W : 0) |
                         ((s->flags & KEEL_ELF_PF_X) || !cpu_enabled.nx ? 0 : PTE_NX);
        /* The file bytes start `lead` bytes into the first page. */
        for (uint64_t va = start; va < end; va += PAGE_SIZE) {
            uint64_t frame = alloc_page(0);
            if (!frame)
                return false;
            uint8_t *dst = phys_to_virt(frame);
            for (uint64_t k = 0; k < PAGE_SIZE; k++) {
                uint64_t seg_off = va - start + k; /* offset from the page-aligned start */
                if (seg_off >= lead && seg_off - lead < s->filesz)
                    dst[k] = file[s->offset + seg_off - lead];
            }
            if (!vspace_boot_map(b->pml4, va, frame, flags, alloc_page, 0, b->paging, &b->paging_count,
                                 MAX_ROOT_PAGING, b->paging_level, b->paging_va))
                return false;
            struct cte *c = next_cap(b, KEEL_OBJ_FRAME_4K, frame);
            if (!c)
                return false;
            mark_mapped(b, c, va);
        }
    }
    return true;
}

/* The screen's pages [base, end), handed out as an Untyped of their own (0, 0: none). */
static uint64_t screen_base, screen_end;

/* Kernel-owned device pages never handed out as device Untyped. */
static bool kernel_owns(uint64_t page)
{
    if (page == ALIGN_DOWN(boot.have_acpi ? boot.acpi.lapic_phys : 0xfee00000ul, PAGE_SIZE))
        return true;
    for (uint32_t i = 0; i < boot.acpi.ioapic_count; i++)
        if (page == ALIGN_DOWN((uint64_t)boot.acpi.ioapics[i].phys, PAGE_SIZE))
            return true;
    return boot.acpi.has_hpet && page == ALIGN_DOWN(boot.acpi.hpet_phys, PAGE_SIZE);
}

/* `screen`: this is the screen's own entry, so its pages are not split out of it. */
static void add_untyped(struct builder *b, struct keel_bootinfo *bi, uint64_t base, uint64_t end, bool device,
                        bool screen)
{
    base = ALIGN_UP(base, PAGE_SIZE);
    end = ALIGN_DOWN(end, PAGE_SIZE);
    while (base < end) {
        /* Split device ranges around the pages the kernel keeps, and the screen (its own entry). */
        uint64_t stop = base;
        while (stop < end && !(device && (kernel_owns(stop) || (!screen && stop >= screen_base && stop < screen_end))))
            stop += PAGE_SIZE;
        if (stop > base) {
            if (bi->untyped_count == KEEL_BOOTINFO_MAX_UNTYPED) {
                log_warn("root task: more than %d Untyped regions; %lu KiB at %#lx left out",
                         KEEL_BOOTINFO_MAX_UNTYPED, (stop - base) >> 10, base);
            } else {
                struct cte *c = next_cap(b, KEEL_OBJ_UNTYPED, base);
                if (!c)
                    return;
                c->cap.word1 = stop - base;
                c->cap.flags = device ? CAP_FLAG_DEVICE : 0;
                bi->untyped_list[bi->untyped_count++] =
                    (struct keel_untyped_info){ .paddr = base, .size = stop - base, .is_device = device };
            }
        }
        base = stop + PAGE_SIZE;
    }
}

/* Physical address space below 4 GiB that no memory-map entry describes: device memory. */
static void add_device_untyped(struct builder *b, struct keel_bootinfo *bi)
{
    uint64_t cursor = 1ul << 20;
    const uint64_t limit = 4ul << 30;
    while (cursor < limit) {
        uint64_t next_start = limit, covered_end = 0;
        for (uint32_t i = 0; i < boot.mb.mmap_count; i++) {
            const struct mb2_region *r = &boot.mb.mmap[i];
            if (r->base <= cursor && r->base + r->length > cursor)
                covered_end = MAX(covered_end, r->base + r->length);
            else if (r->base > cursor && r->base < next_start)
                next_start = r->base;
        }
        if (covered_end) {
            cursor = ALIGN_UP(covered_end, PAGE_SIZE);
            continue;
        }
        add_untyped(b, bi, cursor, next_start, true, false);
        cursor = ALIGN_UP(next_start, PAGE_SIZE);
    }
}

/* The screen the kernel logged on, as described to the root task; false (logged) if there is none
 * or it cannot be handed out safely. Its range must hold no RAM (it could then also be a RAM
 * Untyped, or the kernel's) and none of the pages the kernel keeps. */
static bool describe_screen(struct keel_screen_info *s)
{
    uint64_t phys;
    uint32_t cols, rows;
    const struct mb2_framebuffer *fb = fb_screen();
    memset(s, 0, sizeof *s);
    if (vga_screen(&phys, &cols, &rows)) {
        *s = (struct keel_screen_info){ .type = KEEL_SCREEN_TEXT, .paddr = phys, .width = cols, .height = rows,
                                        .pitch = cols * 2, .bpp = 16 };
    } else if (fb) {
        *s = (struct keel_screen_info){ .type = KEEL_SCREEN_RGB, .paddr = fb->addr, .width = fb->width,
                                        .height = fb->height, .pitch = fb->pitch, .bpp = fb->bpp,
                                        .red_pos = fb->red_pos, .red_size = fb->red_size,
                                        .green_pos = fb->green_pos, .green_size = fb->green_size,
                                        .blue_pos = fb->blue_pos, .blue_size = fb->blue_size };
    } else {
        return false;
    }
    s->size = (uint64_t)s->pitch * s->height;
    uint64_t base = ALIGN_DOWN(s->paddr, PAGE_SIZE), end = ALIGN_UP(s->paddr + s->size, PAGE_SIZE);
    const char *why = 0;
    for (uint32_t i = 0; i < boot.mb.mmap_count && !why; i++) {
        const struct mb2_region *r = &boot.mb.mmap[i];
        bool ram = r->type == MB2_MEM_AVAILABLE || r->type == MB2_MEM_ACPI_RECLAIMABLE || r->type == MB2_MEM_NVS;
        if (ram && r->base < end && base < r->base + r->length)
            why = "it overlaps RAM in the memory map";
    }
    for (uint64_t p = base; p < end && !why; p += PAGE_SIZE)
        if (kernel_owns(p))
            why = "it holds a device page the kernel keeps";
    if (base < virt_to_phys(__kernel_end) && (uint64_t)__kernel_phys_start < end)
        why = "it overlaps the kernel image";
    if (why) {
        log_warn("console: the screen at %#lx+%#lx is not handed to the root task: %s", s->paddr, s->size, why);
        memset(s, 0, sizeof *s);
        return false;
    }
    screen_base = base;
    screen_end = end;
    return true;
}

static void add_screen_untyped(struct builder *b, struct keel_bootinfo *bi)
{
    if (!screen_end)
        return;
    uint32_t index = bi->untyped_count;
    add_untyped(b, bi, screen_base, screen_end, true, true);
    if (bi->untyped_count != index + 1) { /* no room left in untyped_list (logged) */
        memset(&bi->screen, 0, sizeof bi->screen);
        screen_base = screen_end = 0;
        return;
    }
    bi->untyped_list[index].flags = KEEL_UNTYPED_SCREEN;
    bi->screen.untyped_index = index;
}

static void fill_bootinfo(struct keel_bootinfo *bi)
{
    bi->magic = KEEL_BOOTINFO_MAGIC;
    bi->version = KEEL_BOOTINFO_VERSION;
    bi->ipc_buffer = KEEL_ROOT_IPC_BUFFER;
    bi->cnode_radix = ROOT_CNODE_RADIX;
    bi->cpu_count = cpus_online;
    bi->tsc_khz = tsc_khz();
    bi->features = (cpu_enabled.pcid ? KEEL_FEATURE_PCID : 0) | (cpu_enabled.invpcid ? KEEL_FEATURE_INVPCID : 0) |
                   (cpu_enabled.pku ? KEEL_FEATURE_PKU : 0) | (cpu_enabled.smep ? KEEL_FEATURE_SMEP : 0) |
                   (cpu_enabled.smap ? KEEL_FEATURE_SMAP : 0) | (cpu_enabled.nx ? KEEL_FEATURE_NX : 0) |
                   (cpu_enabled.page1g ? KEEL_FEATURE_1G_PAGES : 0) | (KEEL_DEBUG ? KEEL_FEATURE_DEBUG_KERNEL : 0);
    ksnprintf(bi->cmdline, sizeof bi->cmdline, "%s", boot.mb.cmdline);
}

bool root_task_create(void)
{
    if (boot.mb.module_count == 0) {
        log_info("root task: no boot modules; nothing to run");
        return false;
    }
    const struct mb2_module *mod = &boot.mb.modules[0];
    const uint8_t *file = phys_to_virt(mod->start);
    struct keel_elf_image img;
    int err = keel_elf_parse(file, mod->end - mod->start, USER_TOP, &img);
    if (err) {
        log_error("root task '%s': not loadable: %s", mod->cmdline, keel_elf_strerror(err));
        return false;
    }

    struct builder b = { .next_slot = KEEL_SLOT_FIRST_FREE_FIXED };
    uint64_t cnode_size = (1ull << ROOT_CNODE_RADIX) << KEEL_SLOT_SIZE_BITS;
    uint64_t cnode = boot_alloc(cnode_size, cnode_size);
    uint64_t tcb_page = alloc_page(0), pool = alloc_page(0);
    uint64_t pml4 = boot_alloc(1ull << KEEL_PML4_SIZE_BITS, 1ull << KEEL_PML4_SIZE_BITS);
    uint64_t bootinfo_size = ALIGN_UP(sizeof(struct keel_bootinfo), PAGE_SIZE);
    if (!cnode || !tcb_page || !pml4 || !pool) {
        log_error("root task: out of boot memory");
        return false;
    }
    b.slots = phys_to_virt(cnode);
    b.pml4 = phys_to_virt(pml4);
    vspace_init_root(b.pml4);
    asid_boot_pool(phys_to_virt(pool), (struct vspace *)((uint8_t *)b.pml4 + 4096));
    b.asid = ((struct vspace *)((uint8_t *)b.pml4 + 4096))->asid;
    struct tcb *t = phys_to_virt(tcb_page);
    tcb_init(t);

    struct cte *cn = new_cap(&b, KEEL_SLOT_CNODE, KEEL_OBJ_CNODE, (uint64_t)b.slots);
    cn->cap.radix = ROOT_CNODE_RADIX;
    cn->cap.guard_bits = 64 - ROOT_CNODE_RADIX; /* guard 0: a cptr is just the slot number */
    new_cap(&b, KEEL_SLOT_TCB, KEEL_OBJ_TCB, (uint64_t)t);
    new_cap(&b, KEEL_SLOT_VSPACE, KEEL_OBJ_PML4, (uint64_t)b.pml4);
    new_cap(&b, KEEL_SLOT_IRQ_CONTROL, KEEL_CAP_IRQ_CONTROL, 0);
    new_cap(&b, KEEL_SLOT_ASID_CONTROL, KEEL_CAP_ASID_CONTROL, 0);
    new_cap(&b, KEEL_SLOT_IOPORT_CONTROL, KEEL_CAP_IOPORT_CONTROL, 0);
    new_cap(&b, KEEL_SLOT_DEBUG, KEEL_CAP_DEBUG, 0);
    new_cap(&b, KEEL_SLOT_LOG, KEEL_CAP_LOG, 0);
    new_cap(&b, KEEL_SLOT_ASID_POOL, KEEL_CAP_ASID_POOL, (uint64_t)phys_to_virt(pool));

    struct keel_bootinfo *bi;
    uint64_t ipc_slot[1] = { 0 }, bootinfo_slot[1] = { 0 };
    b.next_slot = KEEL_SLOT_FIRST_FREE_FIXED;
    uint64_t image_start = b.next_slot;
    bool ok = load_segments(&b, &img, file) &&
              map_region(&b, KEEL_ROOT_STACK_TOP - KEEL_ROOT_STACK_SIZE, KEEL_ROOT_STACK_SIZE, 0, 0,
                         PTE_W | (cpu_enabled.nx ? PTE_NX : 0), 0) &&
              map_region(&b, KEEL_ROOT_IPC_BUFFER, PAGE_SIZE, 0, 0, PTE_W | (cpu_enabled.nx ? PTE_NX : 0), ipc_slot) &&
              map_region(&b, KEEL_ROOT_BOOTINFO, bootinfo_size, 0, 0, cpu_enabled.nx ? PTE_NX : 0, bootinfo_slot);
    if (!ok || b.failed) {
        log_error("root task: out of boot memory or slots while building its address space");
        return false;
    }
    /* The IPC buffer and BootInfo frames also sit at their fixed slots (as copies). */
    struct cte *ipc = &b.slots[ipc_slot[0]];
    b.slots[KEEL_SLOT_IPC_BUFFER].cap = cap_derive(&ipc->cap);
    cdt_insert(ipc, &b.slots[KEEL_SLOT_IPC_BUFFER]);
    b.slots[KEEL_SLOT_BOOTINFO_FRAME].cap = cap_derive(&b.slots[bootinfo_slot[0]].cap);
    cdt_insert(&b.slots[bootinfo_slot[0]], &b.slots[KEEL_SLOT_BOOTINFO_FRAME]);
    bi = phys_to_virt(b.slots[bootinfo_slot[0]].cap.obj);
    /* BootInfo spans consecutive frames only if the allocator gave consecutive pages: write it
     * through a bounce buffer page by page instead. */
    static struct keel_bootinfo info;
    memset(&info, 0, sizeof info);
    info.image_frames = (struct keel_slot_range){ image_start, b.next_slot };

    uint64_t paging_start = b.next_slot;
    for (uint32_t i = 0; i < b.paging_count; i++) {
        static const uint8_t types[4] = { 0, KEEL_OBJ_PDPT, KEEL_OBJ_PD, KEEL_OBJ_PT };
        struct cte *c = next_cap(&b, types[b.paging_level[i]], (uint64_t)phys_to_virt(b.paging[i]));
        if (c)
            mark_mapped(&b, c, b.paging_va[i]);
    }
    info.image_paging = (struct keel_slot_range){ paging_start, b.next_slot };

    uint64_t modules_start = b.next_slot;
    for (uint32_t m = 0; m < boot.mb.module_count && m < KEEL_BOOTINFO_MAX_MODULES; m++) {
        const struct mb2_module *md = &boot.mb.modules[m];
        struct keel_module_info *mi = &info.modules[info.module_count++];
        mi->size = md->end - md->start;
        mi->first_frame_slot = b.next_slot;
        ksnprintf(mi->name, sizeof mi->name, "%s", md->cmdline);
        for (uint64_t p = ALIGN_DOWN(md->start, PAGE_SIZE); p < md->end; p += PAGE_SIZE)
            next_cap(&b, KEEL_OBJ_FRAME_4K, p);
    }
    info.module_frames = (struct keel_slot_range){ modules_start, b.next_slot };

    /* From here on the kernel takes no more boot memory: all of it goes to the root task. */
    uint64_t untyped_start = b.next_slot;
    for (uint32_t i = 0; i < boot.memory.count; i++)
        add_untyped(&b, &info, boot.memory.free[i].base, boot.memory.free[i].end, false, false);
    describe_screen(&info.screen);
    add_device_untyped(&b, &info);
    add_screen_untyped(&b, &info);
    boot.memory.count = 0;
    info.untyped = (struct keel_slot_range){ untyped_start, b.next_slot };
    info.empty = (struct keel_slot_range){ b.next_slot, 1ull << ROOT_CNODE_RADIX };
    if (b.failed) {
        log_error("root task: its CNode of %u slots is too small", 1u << ROOT_CNODE_RADIX);
        return false;
    }
    fill_bootinfo(&info);
    for (uint64_t off = 0; off < bootinfo_size; off += PAGE_SIZE) {
        uint64_t frame = b.slots[bootinfo_slot[0] + off / PAGE_SIZE].cap.obj;
        memcpy(phys_to_virt(frame), (const uint8_t *)&info + off, MIN(PAGE_SIZE, sizeof info - off));
    }
    (void)bi;

    /* The thread: highest priority, its CSpace and VSpace, its IPC buffer. */
    t->priority = t->mcp = KEEL_MAX_PRIORITY;
    t->ctx.rip = img.entry;
    t->ctx.rsp = KEEL_ROOT_STACK_TOP;
    t->ctx.rdi = KEEL_ROOT_BOOTINFO;
    t->cspace_root.cap = b.slots[KEEL_SLOT_CNODE].cap;
    cdt_insert(&b.slots[KEEL_SLOT_CNODE], &t->cspace_root);
    t->vspace_root.cap = b.slots[KEEL_SLOT_VSPACE].cap;
    cdt_insert(&b.slots[KEEL_SLOT_VSPACE], &t->vspace_root);
    t->ipc_buffer_frame.cap = cap_derive(&ipc->cap);
    cdt_insert(ipc, &t->ipc_buffer_frame);
    t->ipc_buffer_va = KEEL_ROOT_IPC_BUFFER;
    sched_wake(t);

    uint64_t ram = 0;
    for (uint32_t i = 0; i < info.untyped_count; i++)
        ram += info.untyped_list[i].is_device ? 0 : info.untyped_list[i].size;
    log_info("root task '%s': entry %#lx, %u segments, %lu slots used, %u Untyped (%lu MiB RAM), %u modules",
             mod->cmdline, img.entry, img.segment_count, b.next_slot, info.untyped_count, ram >> 20,
             info.module_count);
    if (screen_end) {
        /* From here on the screen is userspace's: the kernel only draws on it again to panic. */
        log_info("console: the screen (%s %ux%u at %#lx) now belongs to the root task; kernel log on serial only",
                 info.screen.type == KEEL_SCREEN_TEXT ? "text" : "framebuffer", info.screen.width,
                 info.screen.height, info.screen.paddr);
        console_release_screen();
    }
    return true;
}
