/* Process creation from an ELF image (see keel/process.h for the layout and the contract).
 *
 * Every object is retyped from the process's Untyped. Objects the caller must invoke (TCB, CNode,
 * VSpace) sit in caller slots; every frame and paging structure of the child is made in a caller
 * slot, used (filled through the scratch window, mapped into the child), then moved into the
 * process's "frames" CNode, which only the caller holds. A failure at any step revokes the
 * Untyped, so nothing made so far survives. */
#include <keel/alloc.h>
#include <keel/elf.h>
#include <keel/errors.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/string.h>
#include <keel/syscall.h>
#include <keel/tls.h>

#define PAGE 4096ull
#define USER_TOP 0x0000800000000000ull
#define ROOT_DEPTH KEEL_CSPACE_DEPTH
#define CHILD_DEPTH (s->p->cnode_radix) /* its CNode's radix: depth of a slot below it */
#define SCRATCH_TABLES 16
#define MAX_FRAMES_RADIX 20

struct spawn {
    const struct keel_process_config *cfg;
    struct keel_process *p;
    uint64_t scratch;                 /* scratch window in the caller's VSpace */
    uint64_t temp, temp2;             /* caller slots for objects on their way */
    uint64_t mod_copies, mod_pages;   /* read-only copies of the module's frame caps */
    uint64_t tables[SCRATCH_TABLES];  /* paging structures of the scratch window (caller slots) */
    unsigned table_count;
    uint64_t frames_radix, frames_next;
    const uint8_t *file;
    uint64_t file_size;
    struct keel_elf_image img;
    uint64_t stack_base, startinfo_va;
    uint64_t supervisor_slot;         /* in the child's CNode */
    uint64_t log;                     /* caller's Log cap for the child, or 0 */
    unsigned placed;                  /* caller caps already in the child */
    int temp_holds;                   /* 1 + index of a moved caller cap now in `temp`, or 0 */
    bool ut_ok;                       /* cfg->untyped is a RAM Untyped: failures revoke it */
};

static uint8_t top_page[PAGE] __attribute__((aligned(16))); /* image of the stack's top page */
static uint64_t next_pid = 1;

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

/* ---- Caller slots ---- */

static int take_slot(uint64_t *slot)
{
    *slot = 0;
    return keel_slot_alloc(slot);
}

static void drop_slot(uint64_t *slot)
{
    if (*slot) {
        keel_cspace_delete(*slot);
        keel_slot_free(*slot);
        *slot = 0;
    }
}

/* The process's own caller slots (emptied by the Revoke of its Untyped). */
static void release_slots(struct keel_process *p)
{
    drop_slot(&p->tcb);
    drop_slot(&p->vspace);
    drop_slot(&p->frames);
    drop_slot(&p->cnode);
}

/* ---- Mapping ---- */

/* The child's frames and tables end in the frames CNode: move the cap there from `slot`. */
static int keep(struct spawn *s, uint64_t slot)
{
    if (s->frames_next >= (1ull << s->frames_radix))
        return KEEL_E_NOT_ENOUGH_MEMORY;
    return keel_cnode_move(s->p->frames, s->frames_next++, s->frames_radix, 0, slot, ROOT_DEPTH);
}

static int new_table(struct spawn *s, uint64_t type, uint64_t vspace, uint64_t va, bool child)
{
    uint64_t slot = s->temp2;
    int err;
    if (!child) {
        if (s->table_count == SCRATCH_TABLES)
            return KEEL_E_NOT_ENOUGH_MEMORY;
        if ((err = take_slot(&slot)))
            return err;
        s->tables[s->table_count++] = slot;
    }
    if ((err = keel_untyped_retype(s->cfg->untyped, type, 0, 0, 0, slot, 1)) ||
        (err = keel_paging_map(slot, vspace, va)))
        return err;
    if (!child)
        return 0;
    s->p->tables++;
    return keep(s, slot);
}

/* Map `frame` at `va`, making the paging structures the kernel reports missing. */
static int map_page(struct spawn *s, uint64_t frame, uint64_t vspace, uint64_t va, uint64_t access, bool child)
{
    for (int tries = 0; tries < 4; tries++) {
        int err = keel_frame_map(frame, vspace, va, access, KEEL_CACHE_WB);
        if (err != KEEL_E_MISSING_TABLE)
            return err;
        uint64_t type = keel_last_error_detail(0);
        if (type != KEEL_OBJ_PDPT && type != KEEL_OBJ_PD && type != KEEL_OBJ_PT)
            return KEEL_E_INVALID_ARGUMENT;
        if ((err = new_table(s, type, vspace, va, child)))
            return err;
    }
    return KEEL_E_MISSING_TABLE;
}

/* Copy n bytes to offset `off` of the (fresh, zeroed) frame in `frame` through the scratch page. */
static int fill_frame(struct spawn *s, uint64_t frame, uint64_t off, const void *src, uint64_t n)
{
    int err = map_page(s, frame, KEEL_SLOT_VSPACE, s->scratch, KEEL_MAP_READ | KEEL_MAP_WRITE, false);
    if (err)
        return err;
    memcpy((uint8_t *)s->scratch + off, src, n);
    return keel_frame_unmap(frame);
}

/* Map read-only copies of the module's frames after the scratch page: the file, contiguous. */
static int map_module(struct spawn *s)
{
    const struct keel_module_info *m = s->cfg->module;
    s->mod_pages = align_up(m->size, PAGE) / PAGE;
    int err = keel_slot_alloc_range(s->mod_pages, &s->mod_copies);
    if (err) {
        s->mod_pages = 0;
        return err;
    }
    for (uint64_t i = 0; i < s->mod_pages; i++) {
        uint64_t copy = s->mod_copies + i;
        if ((err = keel_cspace_copy(copy, m->first_frame_slot + i, KEEL_RIGHT_READ)) ||
            (err = map_page(s, copy, KEEL_SLOT_VSPACE, s->scratch + (i + 1) * PAGE, KEEL_MAP_READ, false)))
            return err;
    }
    s->file = (const uint8_t *)(s->scratch + PAGE);
    s->file_size = m->size;
    return 0;
}

/* Give back the caller-side helpers: module copies (deleting unmaps them) and scratch tables. */
static void unmap_scratch(struct spawn *s)
{
    for (uint64_t i = 0; i < s->mod_pages; i++) {
        keel_cspace_delete(s->mod_copies + i);
        keel_slot_free(s->mod_copies + i);
    }
    s->mod_pages = 0;
    while (s->table_count)
        drop_slot(&s->tables[--s->table_count]);
}

/* ---- Layout ---- */

static bool overlaps(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end) { return a < b_end && b < a_end; }

/* Paging structures a region can need at most: one per 2 MiB, 1 GiB and 512 GiB block it touches. */
static uint64_t tables_for(uint64_t start, uint64_t end)
{
    uint64_t n = 0;
    for (unsigned shift = 21; shift <= 39; shift += 9)
        n += ((end - 1) >> shift) - (start >> shift) + 1;
    return n;
}

static int check_layout(struct spawn *s, uint64_t *pages, uint64_t *tables)
{
    uint64_t stack_top = KEEL_PROCESS_STACK_TOP;
    *pages = (stack_top - s->stack_base) / PAGE + 1;
    *tables = tables_for(s->stack_base, stack_top) + tables_for(KEEL_PROCESS_IPC_BUFFER, KEEL_PROCESS_IPC_BUFFER + PAGE);
    for (uint32_t i = 0; i < s->img.segment_count; i++) {
        const struct keel_elf_segment *g = &s->img.segments[i];
        uint64_t start = align_down(g->vaddr, PAGE), end = align_up(g->vaddr + g->memsz, PAGE);
        if (overlaps(start, end, s->stack_base - PAGE, stack_top) ||
            overlaps(start, end, KEEL_PROCESS_IPC_BUFFER, KEEL_PROCESS_IPC_BUFFER + PAGE))
            return KEEL_PROCESS_E_LAYOUT;
        *pages += (end - start) / PAGE;
        *tables += tables_for(start, end);
    }
    return 0;
}

/* The stack's top page: argument strings at the very top, the argv array below them, the
 * startinfo below that; the initial RSP is the startinfo's (16-byte aligned) address. */
static int build_top_page(struct spawn *s)
{
    const struct keel_process_config *cfg = s->cfg;
    const uint64_t page_va = KEEL_PROCESS_STACK_TOP - PAGE;
    uint64_t str_va[KEEL_PROCESS_MAX_ARGS];
    uint64_t pos = PAGE, total = 0;
    memset(top_page, 0, sizeof top_page);
    for (unsigned i = cfg->argc; i-- > 0;) {
        const char *a = cfg->argv[i] ? cfg->argv[i] : "";
        uint64_t len = strlen(a) + 1;
        if ((total += len) > KEEL_PROCESS_ARGS_MAX_BYTES)
            return KEEL_PROCESS_E_ARGS_TOO_LONG;
        pos -= len;
        memcpy(top_page + pos, a, len);
        str_va[i] = page_va + pos;
    }
    pos = align_down(pos, 8) - (cfg->argc + 1) * 8;
    uint64_t argv_va = page_va + pos;
    for (unsigned i = 0; i < cfg->argc; i++)
        memcpy(top_page + pos + i * 8, &str_va[i], 8);
    pos = align_down(pos - sizeof(struct keel_startinfo), 16);
    struct keel_startinfo *si = (struct keel_startinfo *)(top_page + pos);
    *si = (struct keel_startinfo){
        .magic = KEEL_STARTINFO_MAGIC,
        .version = KEEL_STARTINFO_VERSION,
        .pid = s->p->pid,
        .ipc_buffer = KEEL_PROCESS_IPC_BUFFER,
        .cnode_radix = s->p->cnode_radix,
        .argc = cfg->argc,
        .argv = (char **)argv_va,
        .stack_base = s->stack_base,
        .stack_top = KEEL_PROCESS_STACK_TOP,
        .supervisor = cfg->fault_ep ? s->supervisor_slot : 0,
        .empty = { KEEL_PROCESS_SLOT_FIRST_CAP + cfg->cap_count, 1ull << s->p->cnode_radix },
        .cap_count = cfg->cap_count,
        .log = s->log ? KEEL_PROCESS_SLOT_LOG : 0,
    };
    for (unsigned i = 0; i < cfg->cap_count; i++) {
        si->caps[i].slot = KEEL_PROCESS_SLOT_FIRST_CAP + i;
        if (cfg->caps[i].name && strlen(cfg->caps[i].name) >= KEEL_PROCESS_CAP_NAME_MAX)
            return KEEL_PROCESS_E_BAD_CONFIG;
        strlcpy(si->caps[i].name, cfg->caps[i].name ? cfg->caps[i].name : "", KEEL_PROCESS_CAP_NAME_MAX);
    }
    strlcpy(si->name, s->p->name, sizeof si->name);
    s->startinfo_va = page_va + pos;
    return 0;
}

/* ---- Loading ---- */

/* A fresh frame, filled from `src` at `off` (n bytes; none if n = 0), mapped in the child at va. */
static int child_page(struct spawn *s, uint64_t va, uint64_t access, uint64_t off, const void *src, uint64_t n)
{
    int err = keel_untyped_retype(s->cfg->untyped, KEEL_OBJ_FRAME_4K, 0, 0, 0, s->temp, 1);
    if (!err && n)
        err = fill_frame(s, s->temp, off, src, n);
    if (!err)
        err = map_page(s, s->temp, s->p->vspace, va, access, true);
    if (err)
        return err;
    s->p->pages++;
    if (!s->cfg->image_slot)
        return keep(s, s->temp);
    /* A root-like child holds its image frames itself, the mapped caps (as the root task does). */
    uint64_t slot = s->cfg->image_slot + s->p->image_frames;
    if (slot >= (1ull << CHILD_DEPTH))
        return KEEL_E_NOT_ENOUGH_MEMORY;
    s->p->image_frames++;
    return keel_cnode_move(s->p->cnode, slot, CHILD_DEPTH, 0, s->temp, ROOT_DEPTH);
}

static int load_segments(struct spawn *s)
{
    for (uint32_t i = 0; i < s->img.segment_count; i++) {
        const struct keel_elf_segment *g = &s->img.segments[i];
        uint64_t access = KEEL_MAP_READ | ((g->flags & KEEL_ELF_PF_W) ? KEEL_MAP_WRITE : 0) |
                          ((g->flags & KEEL_ELF_PF_X) ? KEEL_MAP_EXEC : 0);
        uint64_t file_end = g->vaddr + g->filesz;
        for (uint64_t va = align_down(g->vaddr, PAGE); va < g->vaddr + g->memsz; va += PAGE) {
            /* The file's bytes in this page: [lo, hi) of the segment's addresses. */
            uint64_t lo = va > g->vaddr ? va : g->vaddr;
            uint64_t hi = va + PAGE < file_end ? va + PAGE : file_end;
            const uint8_t *src = s->file + g->offset + (lo - g->vaddr);
            int err = child_page(s, va, access, lo - va, src, hi > lo ? hi - lo : 0);
            if (err)
                return err;
        }
    }
    return 0;
}

static int load_stack(struct spawn *s)
{
    const uint64_t rw = KEEL_MAP_READ | KEEL_MAP_WRITE;
    for (uint64_t va = s->stack_base; va < KEEL_PROCESS_STACK_TOP; va += PAGE) {
        bool top = va + PAGE == KEEL_PROCESS_STACK_TOP;
        int err = child_page(s, va, rw, 0, top ? top_page : 0, top ? PAGE : 0);
        if (err)
            return err;
    }
    return 0;
}

/* The IPC buffer frame stays in `temp` until the TCB is configured with it. */
static int map_ipc_buffer(struct spawn *s)
{
    int err = keel_untyped_retype(s->cfg->untyped, KEEL_OBJ_FRAME_4K, 0, 0, 0, s->temp, 1);
    if (!err)
        err = map_page(s, s->temp, s->p->vspace, KEEL_PROCESS_IPC_BUFFER, KEEL_MAP_READ | KEEL_MAP_WRITE, true);
    if (!err)
        s->p->pages++;
    return err;
}

/* ---- Capabilities ---- */

static int give_cap(struct spawn *s, unsigned i)
{
    const struct keel_process_cap *c = &s->cfg->caps[i];
    struct keel_process *p = s->p;
    uint64_t dest = KEEL_PROCESS_SLOT_FIRST_CAP + i;
    uint64_t rights = c->rights ? c->rights : KEEL_RIGHTS_ALL;
    bool move = c->flags & KEEL_PROCESS_CAP_MOVE;
    bool plain = rights == KEEL_RIGHTS_ALL && !c->badge;
    /* Without a binding the cap goes straight into the child's CNode; with one it goes through
     * `temp`, where we can invoke it. */
    bool bind = c->flags & KEEL_PROCESS_CAP_BIND_IOPORT;
    uint64_t root = bind ? KEEL_SLOT_CNODE : p->cnode, at = bind ? s->temp : dest;
    uint64_t depth = bind ? ROOT_DEPTH : CHILD_DEPTH;
    int err;
    if (move && plain)
        err = keel_cnode_move(root, at, depth, 0, c->cptr, ROOT_DEPTH);
    else if (move)
        err = keel_cnode_mutate(root, at, depth, 0, c->cptr, ROOT_DEPTH, rights, c->badge, 0);
    else if (c->badge)
        err = keel_cnode_mint(root, at, depth, 0, c->cptr, ROOT_DEPTH, rights, c->badge);
    else
        err = keel_cnode_copy(root, at, depth, 0, c->cptr, ROOT_DEPTH, rights);
    if (err || !bind)
        return err;
    s->temp_holds = move ? (int)i + 1 : 0;
    if ((err = keel_ioport_bind(s->temp, p->vspace)) ||
        (err = keel_cnode_move(p->cnode, dest, CHILD_DEPTH, 0, s->temp, ROOT_DEPTH)))
        return err;
    s->temp_holds = 0;
    return 0;
}

/* After a failure: moved caps go back where they came from (best effort), unbound from the
 * child's VSpace before it goes. */
static void return_moved_caps(struct spawn *s)
{
    const struct keel_process_config *cfg = s->cfg;
    if (s->temp_holds) {
        const struct keel_process_cap *c = &cfg->caps[s->temp_holds - 1];
        keel_ioport_unbind(s->temp);
        keel_cspace_move(c->cptr, s->temp);
    }
    for (unsigned i = 0; i < s->placed; i++) {
        const struct keel_process_cap *c = &cfg->caps[i];
        if (!(c->flags & KEEL_PROCESS_CAP_MOVE))
            continue;
        keel_cnode_move(KEEL_SLOT_CNODE, c->cptr, ROOT_DEPTH, s->p->cnode, KEEL_PROCESS_SLOT_FIRST_CAP + i,
                        CHILD_DEPTH);
        if (c->flags & KEEL_PROCESS_CAP_BIND_IOPORT)
            keel_ioport_unbind(c->cptr);
    }
}

/* The child's own caps, its fault endpoint and supervisor cap; `temp` holds its IPC buffer frame. */
static int configure(struct spawn *s)
{
    const struct keel_process_config *cfg = s->cfg;
    struct keel_process *p = s->p;
    uint64_t me = keel_tls()->tcb;
    int err;
    if (cfg->fault_ep &&
        (err = keel_cspace_mint(s->temp2, cfg->fault_ep, KEEL_RIGHT_WRITE, p->pid)))
        return err;
    if ((err = keel_tcb_configure(p->tcb, p->cnode, p->vspace, s->temp, cfg->fault_ep ? s->temp2 : 0,
                                  KEEL_PROCESS_IPC_BUFFER, 0, 64 - CHILD_DEPTH)))
        return err;
    uint64_t prio = (uint64_t)cfg->priority;
    if (cfg->priority < 0) {
        struct keel_tcb_info self;
        if ((err = keel_tcb_get_info(me, &self)))
            return err;
        prio = self.priority;
    }
    if ((err = keel_tcb_set_mc_priority(p->tcb, me, prio)) || (err = keel_tcb_set_priority(p->tcb, me, prio)))
        return err;
    const uint64_t c = p->cnode;
    if ((err = keel_cnode_copy(c, KEEL_PROCESS_SLOT_TCB, CHILD_DEPTH, 0, p->tcb, ROOT_DEPTH, KEEL_RIGHTS_ALL)) ||
        (err = keel_cnode_mint_guard(c, KEEL_PROCESS_SLOT_CNODE, CHILD_DEPTH, 0, c, ROOT_DEPTH, KEEL_RIGHTS_ALL, 0,
                                     64 - CHILD_DEPTH)) ||
        (err = keel_cnode_copy(c, KEEL_PROCESS_SLOT_VSPACE, CHILD_DEPTH, 0, p->vspace, ROOT_DEPTH, KEEL_RIGHTS_ALL)) ||
        (err = keel_cnode_copy(c, KEEL_PROCESS_SLOT_IPC_BUFFER, CHILD_DEPTH, 0, s->temp, ROOT_DEPTH, KEEL_RIGHTS_ALL)))
        return err;
    if ((err = keep(s, s->temp)))
        return err;
    if (cfg->fault_ep &&
        (err = keel_cnode_move(c, s->supervisor_slot, CHILD_DEPTH, 0, s->temp2, ROOT_DEPTH)))
        return err;
    if (s->log && (err = keel_cnode_copy(c, KEEL_PROCESS_SLOT_LOG, CHILD_DEPTH, 0, s->log, ROOT_DEPTH,
                                         KEEL_RIGHT_WRITE)))
        return err;
    return 0;
}

/* ---- Spawn ---- */

static int check_config(const struct keel_process_config *cfg, struct spawn *s)
{
    if (!cfg->module == !cfg->image)
        return KEEL_PROCESS_E_NO_IMAGE;
    if (cfg->module && cfg->module->size > KEEL_PROCESS_MAX_MODULE_BYTES)
        return KEEL_PROCESS_E_IMAGE_TOO_LARGE;
    if (cfg->cap_count > KEEL_PROCESS_MAX_CAPS || (cfg->cap_count && !cfg->caps))
        return KEEL_PROCESS_E_TOO_MANY_CAPS;
    if (cfg->argc > KEEL_PROCESS_MAX_ARGS || (cfg->argc && !cfg->argv))
        return KEEL_PROCESS_E_ARGS_TOO_LONG;
    uint64_t stack = cfg->stack_size ? cfg->stack_size : KEEL_PROCESS_DEFAULT_STACK;
    if (!cfg->untyped || !cfg->asid_pool || stack % PAGE || stack > KEEL_PROCESS_MAX_STACK ||
        cfg->priority > KEEL_MAX_PRIORITY || cfg->priority < -1 ||
        (cfg->name && strlen(cfg->name) >= KEEL_PROCESS_NAME_MAX))
        return KEEL_PROCESS_E_BAD_CONFIG;
    s->stack_base = KEEL_PROCESS_STACK_TOP - stack;
    uint32_t radix = cfg->cnode_radix ? cfg->cnode_radix : KEEL_PROCESS_CNODE_RADIX;
    uint64_t sup = cfg->supervisor_slot ? cfg->supervisor_slot : KEEL_PROCESS_SLOT_SUPERVISOR;
    uint64_t slots = 1ull << radix;
    /* The fixed slots 1-3, 7 and 12 (Log), and the given caps from 16, are taken; so is the image
     * range. */
    bool sup_clash = sup < 4 || sup == KEEL_PROCESS_SLOT_IPC_BUFFER || sup == KEEL_PROCESS_SLOT_LOG || sup >= slots ||
                     (sup >= KEEL_PROCESS_SLOT_FIRST_CAP && sup < KEEL_PROCESS_SLOT_FIRST_CAP + cfg->cap_count) ||
                     (cfg->image_slot && sup >= cfg->image_slot);
    if (radix < KEEL_PROCESS_CNODE_RADIX || radix > KEEL_CNODE_MAX_RADIX || sup_clash ||
        (cfg->image_slot && (cfg->image_slot < KEEL_PROCESS_SLOT_FIRST_CAP + cfg->cap_count || cfg->image_slot >= slots)))
        return KEEL_PROCESS_E_BAD_CONFIG;
    s->p->cnode_radix = radix;
    s->supervisor_slot = sup;
    s->log = cfg->log == KEEL_PROCESS_NO_LOG ? 0 : cfg->log ? cfg->log : keel_log_cap();
    return 0;
}

/* Revoking anything but a RAM Untyped would destroy unrelated objects: make sure first. Describe
 * cannot be the first probe (on an endpoint it is an IPC Call that may never return), but a Copy
 * can: only Untyped and IRQ handler caps refuse to be copied. */
static int check_untyped(uint64_t ut, uint64_t probe)
{
    int err = keel_cspace_copy(probe, ut, KEEL_RIGHTS_ALL);
    if (!err) {
        keel_cspace_delete(probe);
        return KEEL_E_INVALID_CAPABILITY;
    }
    if (err != KEEL_E_ILLEGAL_OPERATION)
        return err;
    struct keel_untyped_desc d;
    if ((err = keel_untyped_describe(ut, &d)))
        return err;
    return d.is_device ? KEEL_E_INVALID_CAPABILITY : 0;
}

#define STEP(what, call)                                                                                 \
    do {                                                                                                 \
        p->failed_step = (what);                                                                         \
        if ((err = (call)))                                                                              \
            goto fail;                                                                                   \
    } while (0)

int keel_process_spawn(const struct keel_process_config *cfg, struct keel_process *out)
{
    struct spawn s = { .cfg = cfg, .p = out };
    struct keel_process *p = out;
    const uint64_t ut = cfg->untyped;
    int err;
    *p = (struct keel_process){ .untyped = cfg->untyped, .start_arg = cfg->start_arg,
                                .failed_step = "check the configuration" };
    if ((err = check_config(cfg, &s)))
        return err;
    p->pid = cfg->pid ? cfg->pid : next_pid++;
    strlcpy(p->name, cfg->name ? cfg->name : cfg->module ? cfg->module->name : "process", sizeof p->name);
    s.scratch = cfg->scratch_va ? cfg->scratch_va : KEEL_PROCESS_SCRATCH_VA;
    p->failed_step = "build the start-up record";
    if ((err = build_top_page(&s)))
        return err;

    STEP("allocate caller slots", take_slot(&p->cnode) || take_slot(&p->frames) || take_slot(&p->vspace) ||
                                      take_slot(&p->tcb) || take_slot(&s.temp) || take_slot(&s.temp2)
                                      ? KEEL_E_NOT_ENOUGH_MEMORY : 0);
    STEP("check the untyped", check_untyped(ut, s.temp));
    s.ut_ok = true;
    if (cfg->module) {
        STEP("map the module", map_module(&s));
    } else {
        s.file = cfg->image;
        s.file_size = cfg->image_size;
    }
    p->failed_step = "parse the ELF image";
    int elf = keel_elf_parse(s.file, s.file_size, USER_TOP, &s.img);
    if (elf) {
        err = KEEL_PROCESS_E_ELF(elf);
        goto fail;
    }
    p->entry = s.img.entry;
    uint64_t pages, tables;
    STEP("check the address-space layout", check_layout(&s, &pages, &tables));
    s.frames_radix = 1;
    while ((1ull << s.frames_radix) < pages + tables && s.frames_radix < MAX_FRAMES_RADIX)
        s.frames_radix++;

    /* Largest alignment first, so little of the Untyped is lost to padding. */
    STEP("retype the CNode", keel_untyped_retype(ut, KEEL_OBJ_CNODE, p->cnode_radix, 0, 0, p->cnode, 1));
    STEP("retype the frames CNode", keel_untyped_retype(ut, KEEL_OBJ_CNODE, s.frames_radix, 0, 0, p->frames, 1));
    STEP("retype the VSpace", keel_untyped_retype(ut, KEEL_OBJ_PML4, 0, 0, 0, p->vspace, 1));
    STEP("assign an ASID", keel_asid_pool_assign(cfg->asid_pool, p->vspace, &p->asid));
    STEP("load the segments", load_segments(&s));
    STEP("map the stack", load_stack(&s));
    STEP("map the IPC buffer", map_ipc_buffer(&s));
    STEP("retype the TCB", keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, 0, 0, p->tcb, 1));
    STEP("configure the TCB", configure(&s));
    for (unsigned i = 0; i < cfg->cap_count; i++) {
        STEP("give a capability", give_cap(&s, i));
        s.placed = i + 1;
    }
    unmap_scratch(&s);
    drop_slot(&s.temp);
    drop_slot(&s.temp2);
    struct keel_untyped_desc d;
    if (!keel_untyped_describe(ut, &d))
        p->bytes = d.watermark;
    p->startinfo = s.startinfo_va;
    p->state = KEEL_PROCESS_READY;
    p->failed_step = 0;
    if (cfg->suspended)
        return 0;
    if ((err = keel_process_start(p))) {
        p->failed_step = "start the thread";
        goto fail;
    }
    return 0;

fail:;
    struct keel_last_result saved = keel_tls()->last;
    unmap_scratch(&s);
    if (p->cnode)
        return_moved_caps(&s);
    if (s.ut_ok)
        keel_cspace_revoke(ut);
    drop_slot(&s.temp);
    drop_slot(&s.temp2);
    release_slots(p);
    keel_tls()->last = saved;
    p->state = KEEL_PROCESS_NONE;
    return err;
}

int keel_process_start(struct keel_process *p)
{
    if (p->state != KEEL_PROCESS_READY)
        return KEEL_E_ILLEGAL_OPERATION;
    struct keel_user_regs r = { 0 };
    r.rip = p->entry;
    r.rsp = p->startinfo;
    r.rdi = p->start_arg ? p->start_arg : p->startinfo;
    r.rflags = 0x202;
    int err = keel_tcb_write_registers(p->tcb, true, &r);
    if (!err)
        p->state = KEEL_PROCESS_RUNNING;
    return err;
}

int keel_process_kill(struct keel_process *p)
{
    if (p->state == KEEL_PROCESS_NONE)
        return KEEL_E_ILLEGAL_OPERATION;
    int err = keel_tcb_suspend(p->tcb);
    if (!err)
        p->state = KEEL_PROCESS_KILLED;
    return err;
}

int keel_process_destroy(struct keel_process *p)
{
    if (p->state == KEEL_PROCESS_NONE)
        return 0;
    keel_tcb_suspend(p->tcb);
    int err = keel_cspace_revoke(p->untyped);
    if (err)
        return err;
    release_slots(p);
    p->state = KEEL_PROCESS_NONE;
    return 0;
}

const char *keel_process_strerror(int err)
{
    static const char *const text[] = {
        [KEEL_PROCESS_E_NO_IMAGE - 0x80] = "give exactly one of a module and an image",
        [KEEL_PROCESS_E_IMAGE_TOO_LARGE - 0x80] = "the module is too large to load",
        [KEEL_PROCESS_E_TOO_MANY_CAPS - 0x80] = "too many capabilities for the child's CNode",
        [KEEL_PROCESS_E_ARGS_TOO_LONG - 0x80] = "too many arguments, or too long",
        [KEEL_PROCESS_E_LAYOUT - 0x80] = "a segment collides with the stack, its guard page or the IPC buffer",
        [KEEL_PROCESS_E_BAD_CONFIG - 0x80] = "bad configuration (untyped, ASID pool, stack, priority or a name)",
    };
    if (keel_process_is_elf_error(err))
        return keel_elf_strerror(err - KEEL_PROCESS_E_ELF_BASE);
    if (err >= 0x80 && err < 0x80 + (int)(sizeof text / sizeof text[0]))
        return text[err - 0x80];
    return keel_strerror(err);
}
