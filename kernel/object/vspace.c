/* VSpace roots and the TLB policy.
 *
 * Every PML4 object is two pages: the table, then a struct vspace with its ASID, its PCID on
 * each CPU and a TLB generation. A change that may leave stale translations bumps the generation;
 * a CPU records the generation its TLB matches whenever it flushes for that VSpace. Loading a
 * VSpace whose PCID is still its own on this CPU and whose generation matches keeps the TLB
 * (CR3 no-flush bit); anything else flushes with the CR3 load itself, never in a separate step.
 * Without PCIDs every switch is a flushing CR3 load and the generations only matter while a
 * VSpace is loaded. */
#include "object/vspace.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/paging.h"
#include "arch/x86.h"
#include "klib.h"
#include "object/irq.h"
#include "object/pcid.h"
#include "panic.h"
#include "smp.h"

static inline void invpcid(uint64_t type, uint64_t pcid, uint64_t va)
{
    struct {
        uint64_t pcid, va;
    } desc = { pcid, va };
    __asm__ volatile("invpcid %0, %1" ::"m"(desc), "r"(type) : "memory");
    this_cpu()->tlb.invpcid[type & 3]++;
}

void vspace_init_root(uint64_t *pml4)
{
    const uint64_t *kernel = phys_to_virt(paging_kernel_root());
    memset(pml4, 0, KERNEL_PML4_FIRST * sizeof(uint64_t));
    memcpy(pml4 + KERNEL_PML4_FIRST, kernel + KERNEL_PML4_FIRST, (512 - KERNEL_PML4_FIRST) * sizeof(uint64_t));
    struct vspace *vs = (struct vspace *)((uint8_t *)pml4 + 4096);
    memset(vs, 0, sizeof *vs);
    vs->pml4 = pml4;
    vs->root_phys = virt_to_phys(pml4);
}

const char *vspace_defect(const struct vspace *vs)
{
    const uint64_t *table = (const uint64_t *)((const uint8_t *)vs - 4096);
    if (vs->pml4 != table || vs->root_phys != virt_to_phys(table))
        return "its root is not its own table";
    if (!vs->asid || asid_lookup(vs->asid) != vs)
        return "no ASID names it (destroyed, or its pool is gone)";
    const uint64_t *kernel = phys_to_virt(paging_kernel_root());
    if (memcmp(table + KERNEL_PML4_FIRST, kernel + KERNEL_PML4_FIRST, (512 - KERNEL_PML4_FIRST) * sizeof(uint64_t)))
        return "its kernel half is not the kernel's";
    return 0;
}

const char *vspace_cpu_defect(const struct percpu *c, const void **which)
{
    const char *defect = 0;
    if ((*which = c->active_vspace) && (defect = vspace_defect(c->active_vspace)))
        return defect;
    if ((*which = c->io_vspace) && (defect = vspace_defect(c->io_vspace)))
        return defect;
    for (unsigned p = 1; p < PCID_COUNT; p++) {
        const struct vspace *owner = c->pcids.owner[p];
        if (!owner)
            continue;
        *which = owner;
        if ((defect = vspace_defect(owner)))
            return defect;
        if (owner->pcid[c->index] != p)
            return "it owns a PCID it does not know of";
    }
    *which = c->active_vspace;
    uint64_t root = c->active_vspace ? c->active_vspace->root_phys : paging_kernel_root();
    if (c == this_cpu() && (read_cr3() & PTE_ADDR_MASK) != root)
        return "CR3 is not the root the CPU's bookkeeping names";
    return 0;
}

#if KEEL_DEBUG
void vspace_check_root(const struct percpu *c, const struct vspace *vs, bool kept)
{
    const char *defect = vspace_defect(vs);
    if (defect)
        panic("CPU %u %s VSpace %p (root %lx, ASID %u): %s", c->index, kept ? "keeps" : "loads", (const void *)vs,
              vs->root_phys, vs->asid, defect);
    if (kept && (read_cr3() & PTE_ADDR_MASK) != vs->root_phys)
        panic("CPU %u records VSpace %p (root %lx) as loaded, but CR3 is %lx", c->index, (const void *)vs,
              vs->root_phys, read_cr3());
}
#endif

void vspace_load(struct vspace *vs)
{
    struct percpu *c = this_cpu();
    unsigned cpu = c->index;
    uint64_t bit = 1ull << cpu;
    uint64_t root = virt_to_phys(vs->pml4);
    VSPACE_CHECK_ROOT(c, vs, c->active_vspace == vs);
    if (c->active_vspace == vs) {
        /* Still loaded here (e.g. the CPU idled in it); flush only if it went stale meanwhile. */
        if (vs->cpu_gen[cpu] != vs->tlb_gen) {
            write_cr3(root | (cpu_enabled.pcid ? vs->pcid[cpu] : 0));
            c->tlb.cr3_flush++;
            c->lazy_flushes++;
            vs->cpu_gen[cpu] = vs->tlb_gen;
        }
        return;
    }
    if (!cpu_enabled.pcid) {
        /* Switching away flushes the old VSpace's entries: it leaves this CPU's set. */
        if (c->active_vspace)
            c->active_vspace->cpu_mask &= ~bit;
        write_cr3(root);
        c->tlb.cr3_flush++;
    } else {
        bool fresh;
        const void *evicted;
        uint16_t pcid = pcid_get(&c->pcids, vs, &vs->pcid[cpu], &fresh, &evicted);
        if (evicted) {
            struct vspace *old = (struct vspace *)evicted;
            old->pcid[cpu] = 0;
            old->cpu_mask &= ~bit;
        }
        bool flush = fresh || vs->cpu_gen[cpu] != vs->tlb_gen;
        write_cr3(root | pcid | (flush ? 0 : CR3_NOFLUSH));
        if (flush && !fresh)
            c->lazy_flushes++;
        if (flush)
            c->tlb.cr3_flush++;
        else
            c->tlb.cr3_noflush++;
    }
    vs->cpu_gen[cpu] = vs->tlb_gen;
    vs->cpu_mask |= bit;
    c->active_vspace = vs;
}

void vspace_activate_thread(const struct tcb *t) { vspace_load(vspace_of_cap(&t->vspace_root.cap)); }

void vspace_flush_local(struct vspace *vs, const uint64_t *vas, unsigned n)
{
    struct percpu *c = this_cpu();
    unsigned cpu = c->index;
    bool whole = !vas || n > KEEL_UNMAP_FLUSH_THRESHOLD;
    if (c->active_vspace == vs) { /* CR3 holds it: INVLPG reaches its entries */
        if (whole) {
            if (cpu_enabled.invpcid) {
                invpcid(1, vs->pcid[cpu], 0);
            } else {
                VSPACE_CHECK_ROOT(c, vs, true);
                write_cr3(virt_to_phys(vs->pml4) | (cpu_enabled.pcid ? vs->pcid[cpu] : 0));
                c->tlb.cr3_flush++;
            }
            c->tlb.full_flush++;
        } else {
            for (unsigned i = 0; i < n; i++) {
                invlpg(vas[i]);
                c->tlb.invlpg++;
            }
        }
        vs->cpu_gen[cpu] = vs->tlb_gen;
    } else if (cpu_enabled.invpcid && vs->pcid[cpu]) {
        /* Cached here under its PCID but not loaded: flush that PCID's entries only. */
        if (whole) {
            invpcid(1, vs->pcid[cpu], 0);
            c->tlb.full_flush++;
        } else {
            for (unsigned i = 0; i < n; i++)
                invpcid(0, vs->pcid[cpu], vas[i]);
        }
        vs->cpu_gen[cpu] = vs->tlb_gen;
    }
    /* Otherwise this CPU's entries for it are stale by generation and go at its next load. */
}

void vspace_flush(struct vspace *vs, const uint64_t *vas, unsigned n, bool table)
{
    vs->tlb_gen++;
    vspace_flush_local(vs, vas, n);
    smp_shootdown(vs, vas, n, table); /* one request per CPU that needs it, whatever n is */
}

uint64_t *vspace_entry(struct vspace *vs, uint64_t va, unsigned level, uint32_t *missing)
{
    static const uint32_t table_type[5] = { 0, KEEL_OBJ_PT, KEEL_OBJ_PD, KEEL_OBJ_PDPT, KEEL_OBJ_PML4 };
    uint64_t *table = vs->pml4;
    for (unsigned l = 4; l > level; l--) {
        uint64_t e = table[(va >> (12 + 9 * (l - 1))) & 511];
        if (!(e & PTE_P) || (e & PTE_PS)) {
            *missing = table_type[l - 1];
            return 0;
        }
        table = phys_to_virt(e & PTE_ADDR_MASK);
    }
    return &table[(va >> (12 + 9 * (level - 1))) & 511];
}

/* This CPU lets go of `vs` (it is being destroyed): no CR3, PCID or I/O bitmap of it remains. */
void vspace_forget_local(struct vspace *vs)
{
    struct percpu *c = this_cpu();
    ioport_vspace_gone(vs);
    if (vs->pcid[c->index])
        pcid_release(&c->pcids, vs, &vs->pcid[c->index]);
    if (c->active_vspace == vs) {
        /* Its memory may become something else: stop using it as CR3 right now. */
        write_cr3(paging_kernel_root());
        c->tlb.cr3_flush++;
        c->active_vspace = 0;
    }
}

void vspace_asid_lost(struct vspace *vs)
{
    smp_forget_vspace(vs); /* first: forgetting closes its I/O ranges in the CPUs' bitmaps */
    vspace_forget_local(vs);
    vs->asid = 0;
    vs->io_count = 0;
    vs->cpu_mask = 0; /* no CPU holds a translation of it now */
    memset(vs->pml4, 0, KERNEL_PML4_FIRST * sizeof(uint64_t));
    vs->tlb_gen++;
}

void vspace_destroy(struct vspace *vs)
{
    asid_release(vs);
    smp_forget_vspace(vs); /* the other CPUs first, then this one */
    vspace_forget_local(vs);
}

bool vspace_boot_map(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t pte_flags, boot_page_alloc_fn alloc,
                     void *ctx, uint64_t *made, uint32_t *made_count, uint32_t made_max, uint8_t *made_level,
                     uint64_t *made_va)
{
    static const unsigned shifts[3] = { 39, 30, 21 };
    uint64_t *table = pml4;
    for (unsigned level = 0; level < 3; level++) {
        uint64_t *e = &table[(va >> shifts[level]) & 511];
        if (!(*e & PTE_P)) {
            if (*made_count == made_max)
                return false;
            uint64_t page = alloc(ctx);
            if (!page)
                return false;
            made[*made_count] = page;
            made_level[*made_count] = (uint8_t)(level + 1); /* 1 PDPT, 2 PD, 3 PT */
            made_va[*made_count] = va & ~((1ull << shifts[level]) - 1);
            (*made_count)++;
            *e = page | PTE_P | PTE_W | PTE_U;
        }
        table = phys_to_virt(*e & PTE_ADDR_MASK);
    }
    table[(va >> 12) & 511] = pa | pte_flags | PTE_P | PTE_U;
    return true;
}

/* The VSpace named by extra cap `i`, which must be a PML4. */
static struct vspace *vspace_arg(struct invocation *inv, unsigned i, int *err)
{
    struct cte *s = i < inv->extra_caps ? inv->extra[i] : 0;
    if (!s || s->cap.type != KEEL_OBJ_PML4) {
        *err = inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, i + 1, 0, 0);
        return 0;
    }
    return vspace_of_cap(&s->cap);
}

int debug_vspace_invoke(struct invocation *inv)
{
    int err = 0;
    struct vspace *vs = vspace_arg(inv, 0, &err);
    if (!vs)
        return err;
    if (inv->label == KEEL_DEBUG_VSPACE_INFO) {
        inv_reply(inv, 0, vs->asid);
        inv_reply(inv, 1, vs->pcid[this_cpu()->index]);
        inv_reply(inv, 2, vs->tlb_gen);
        inv_reply(inv, 3, vs->cpu_mask);
        return 0;
    }
    INV_NEED_ARGS(inv, 1);
    uint64_t va = inv_arg(inv, 0);
    uint64_t pte = 0, level = 0;
    for (unsigned l = 3; l >= 1 && va < USER_TOP; l--) {
        uint32_t missing;
        uint64_t *e = vspace_entry(vs, va, l, &missing);
        if (!e)
            break;
        if ((*e & PTE_P) && (l == 1 || (*e & PTE_PS))) {
            pte = *e;
            level = l;
            break;
        }
    }
    inv_reply(inv, 0, pte);
    inv_reply(inv, 1, level);
    return 0;
}
