/* Address spaces: VSpace roots (PML4 + bookkeeping), paging structures, frames, ASIDs, and the
 * TLB policy (PCIDs, generations, targeted flushes). See docs/vspace.md. */
#ifndef KEEL_OBJECT_VSPACE_H
#define KEEL_OBJECT_VSPACE_H

#include "arch/cpu.h"
#include "arch/features.h"
#include "arch/layout.h"
#include "arch/x86.h"
#include "ipc.h"
#include "object/structures.h"

#define CAP_FLAG_MAPPED 2u /* frame / paging-structure cap: word1 = vaddr, word2 = ASID */

/* The second page of a PML4 object. */
struct vspace {
    uint64_t *pml4;
    uint64_t root_phys;          /* physical address of pml4: CR3 without a PCID */
    uint32_t asid;               /* 0: none assigned, cannot run or be mapped into */
    uint32_t reserved;
    uint64_t tlb_gen;            /* bumped by every change that may leave stale translations */
    uint64_t cpu_gen[MAX_CPUS];  /* tlb_gen this CPU's TLB is known to match */
    uint16_t pcid[MAX_CPUS];     /* this VSpace's PCID on each CPU (0: none) */
    uint64_t cpu_mask;           /* CPUs that may hold its translations */
    uint32_t io_count;           /* I/O port ranges bound to it (IOPort caps) */
    struct {
        uint16_t first, last;
    } io[KEEL_IOPORT_RANGES];
};

static inline struct vspace *vspace_of_cap(const struct cap *c) { return (struct vspace *)(c->obj + 4096); }

/* A VSpace a CPU may load or keep: its ASID names it (a destroyed VSpace, and one whose pool is
 * gone, have none), its root is its own first page, and that page's kernel half is the kernel's.
 * NULL if so, else what is wrong. For the debug checks below and the invariant checker. */
const char *vspace_defect(const struct vspace *vs);
/* What is wrong with what CPU `c` has loaded or recorded -- the VSpace it runs in, the one its
 * I/O bitmap belongs to, the owners of its PCIDs, and (for this CPU only) CR3 itself -- or NULL;
 * *which names the VSpace concerned. For the invariant checker. */
const char *vspace_cpu_defect(const struct percpu *c, const void **which);

/* Debug kernels check every CR3 load of a VSpace, and every switch that keeps the loaded one
 * (then CR3 must really hold it): a dead VSpace's page may be anything by now, and loading it
 * fails only at the next TLB miss on a kernel address, far from the cause. Release kernels
 * compile the check away: the IPC fastpath's instruction counts are those of a kernel without
 * it. */
#if KEEL_DEBUG
void vspace_check_root(const struct percpu *c, const struct vspace *vs, bool kept);
#define VSPACE_CHECK_ROOT(c, vs, kept) vspace_check_root(c, vs, kept)
#else
#define VSPACE_CHECK_ROOT(c, vs, kept) ((void)0)
#endif

/* Physical address of the thread's VSpace root if it can run in it, or 0. */
static inline uint64_t vspace_root_of(const struct tcb *t)
{
    const struct cap *c = &t->vspace_root.cap;
    if (c->type != KEEL_OBJ_PML4 || !vspace_of_cap(c)->asid)
        return 0;
    return virt_to_phys((const void *)c->obj);
}
static inline bool vspace_usable(const struct tcb *t) { return vspace_root_of(t) != 0; }
/* Loads `t`'s VSpace on this CPU (PCID-tagged when enabled, flushing only when needed). */
void vspace_activate_thread(const struct tcb *t);
void vspace_load(struct vspace *vs);
#define CR3_NOFLUSH (1ull << 63)

/* Make `vs` the address space of this CPU (`c`). The IPC fastpath switches on every call, so the
 * cases that need no bookkeeping beyond the CR3 write are inline (vspace_switch_fast): already
 * loaded and current; without PCIDs, a flushing load of another VSpace; with PCIDs, a VSpace
 * that still owns its PCID here with a matching generation (no flush). It returns false, having
 * done nothing, for everything else (a PCID to hand out or recycle, a stale generation), which
 * vspace_load does. The rules are vspace_load's; see there. */
static inline __attribute__((always_inline)) bool vspace_switch_fast(struct percpu *c, struct vspace *vs)
{
    unsigned cpu = c->index;
    struct vspace *old = c->active_vspace;
    if (old == vs) {
        VSPACE_CHECK_ROOT(c, vs, true);
        return vs->cpu_gen[cpu] == vs->tlb_gen; /* stale: it went out of date while loaded here */
    }
    uint64_t bit = 1ull << cpu;
    if (!cpu_enabled.pcid) {
        /* Switching away flushes the old VSpace's entries: it leaves this CPU's set. */
        if (old)
            old->cpu_mask &= ~bit;
        VSPACE_CHECK_ROOT(c, vs, false);
        write_cr3(vs->root_phys);
        c->tlb.cr3_flush++;
        vs->cpu_gen[cpu] = vs->tlb_gen;
    } else {
        uint16_t pcid = vs->pcid[cpu];
        if (!pcid || c->pcids.owner[pcid] != vs || vs->cpu_gen[cpu] != vs->tlb_gen)
            return false;
        VSPACE_CHECK_ROOT(c, vs, false);
        write_cr3(vs->root_phys | pcid | CR3_NOFLUSH);
        c->tlb.cr3_noflush++;
    }
    vs->cpu_mask |= bit;
    c->active_vspace = vs;
    return true;
}

static inline __attribute__((always_inline)) void vspace_switch(struct percpu *c, struct vspace *vs)
{
    if (!vspace_switch_fast(c, vs))
        vspace_load(vs);
}
void vspace_init_root(uint64_t *pml4);
void vspace_destroy(struct vspace *vs);
/* `vs` loses its ASID (its pool is deleted). Mapping and I/O-port caps name their VSpace by
 * ASID, so from now on theirs are stale records: whatever they describe must go with the ASID,
 * or deleting a paging-structure cap would empty and free a table `vs` still links to (and a
 * new ASID would make `vs` run on it). So the user half of its table is cleared (its paging
 * structures stay, unlinked, and are emptied when their caps go), its I/O ranges are closed,
 * and no CPU keeps it loaded or recorded. A new ASID gives an empty address space. */
void vspace_asid_lost(struct vspace *vs);
void vspace_forget_local(struct vspace *vs);
/* Translations of `vs` changed: flush the pages `vas[0..n)` (vas == NULL or n above the
 * threshold: all of vs) on this CPU and on the others that need it. `table`: a paging structure
 * went away, so every CPU in vs's set is interrupted. */
void vspace_flush(struct vspace *vs, const uint64_t *vas, unsigned n, bool table);
void vspace_flush_local(struct vspace *vs, const uint64_t *vas, unsigned n);

/* Paging-structure walk: the entry for `va` at `level` (4 PML4 .. 1 PT), or NULL with the type
 * of the missing table in *missing. */
uint64_t *vspace_entry(struct vspace *vs, uint64_t va, unsigned level, uint32_t *missing);

struct vspace *asid_lookup(uint32_t asid);
void asid_boot_pool(void *pool_page, struct vspace *root_vs);
int asid_control_invoke(struct invocation *inv);
int asid_pool_invoke(struct invocation *inv);
void asid_pool_destroy(void *pool);
void asid_release(struct vspace *vs);

int frame_invoke(struct invocation *inv);
int paging_invoke(struct invocation *inv);
int vspace_invoke(struct invocation *inv);
/* A mapped frame or paging-structure cap is being deleted: remove its mapping. */
void mapping_cap_deleted(struct cap *c);
int debug_vspace_invoke(struct invocation *inv);

/* Boot-time: map one 4 KiB page into the root task's VSpace, taking paging structures from
 * `alloc` (zeroed pages' physical addresses) and recording each (address, level, vaddr). */
typedef uint64_t (*boot_page_alloc_fn)(void *ctx);
bool vspace_boot_map(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t pte_flags, boot_page_alloc_fn alloc,
                     void *ctx, uint64_t *made, uint32_t *made_count, uint32_t made_max, uint8_t *made_level,
                     uint64_t *made_va);

#endif
