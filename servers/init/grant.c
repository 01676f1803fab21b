/* Root-like runs (KEEL_INIT_RUN with KEEL_INIT_RUN_BOOTINFO; servers/init/README.md, "Root-like
 * runs"): a boot module written as a root task (keeltest, keelbench) started as an ordinary
 * process of init's, with a BootInfo of its own that describes exactly what init gave it.
 *
 * Nothing here weakens the capability model: every cap the child gets is a copy of one init
 * holds (the control caps, the Debug cap, the ASID pool, read-only module frames) or an object
 * made from memory init set aside for these runs at start-up, and all of it goes with one Revoke
 * of that memory when the child ends. Caps already handed to other processes (IRQ handlers,
 * device Untyped, the rest of the machine's memory) are not init's to give, so the child does not
 * get them; a program that needs them has to skip what it cannot do.
 *
 * The memory is one Untyped made once, at start-up, and reused by every run, so running the tests
 * a hundred times costs nothing lasting (init's allocator only gives memory back by revoking a
 * whole boot Untyped, which it cannot do while it lives on it). One run at a time. */
#include "init.h"
#include <keel/alloc.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/string.h>

#define GRANT_RADIX 13                        /* 8192 slots: keeltest allocates thousands */
#define GRANT_MEM_MAX ((64ull + 4) << 20)     /* a 64 MiB Untyped for the child + its image, CNode, stack */
#define GRANT_MEM_MIN (12ull << 20)
#define GRANT_STACK (128ull << 10)
#define GRANT_PRIORITY MANIFEST_MAX_PRIORITY  /* like a root task: above every other process, below init */
#define GRANT_SLOT_SUPERVISOR 11              /* slot 8 is the BootInfo frame in a root task's layout */
#define GRANT_SLOT_UNTYPED KEEL_SLOT_FIRST_FREE_FIXED
#define GRANT_SLOT_MODULES (GRANT_SLOT_UNTYPED + 1)
#define GRANT_INIT_VA 0x0000620000000000ull   /* where init writes a child's BootInfo */
#define BI_PAGES ((sizeof(struct keel_bootinfo) + 4095) / 4096)
#define MAX_GRANT_NAMES 4

static uint64_t grant_ut, grant_bytes;        /* the memory set aside (0: none) */
static struct proc *grant_user;               /* the row using it while it runs */
static struct manifest_entry entries[MAX_GRANT_NAMES];
static unsigned nentries;
static char cmdline[KEEL_INIT_RUN_CMDLINE_WORDS * 8];
static struct keel_bootinfo cbi;              /* the child's BootInfo, built here, then copied */

/* A caller waiting for a process to end (KEEL_INIT_RUN_WAIT): the reply object holding it. */
static uint64_t waiter_reply, waiter_pid;

void grant_reserve(void)
{
    for (uint64_t size = GRANT_MEM_MAX; size >= GRANT_MEM_MIN; size = (size - (4ull << 20)) / 2 + (4ull << 20)) {
        if (keel_alloc_object(KEEL_OBJ_UNTYPED, size, &grant_ut) == 0) {
            grant_bytes = size;
            keel_printf("init: %llu KiB set aside for root-like runs (the shell's test and bench)\n",
                        (unsigned long long)(size >> 10));
            return;
        }
    }
    grant_ut = 0;
    keel_printf("init: no memory to set aside for root-like runs: test and bench cannot run\n");
}

uint64_t grant_reserved(void) { return grant_bytes; }

static uint64_t module_pages(void)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < bi->module_count; i++)
        n += (bi->modules[i].size + 4095) / 4096;
    return n;
}

/* Copies of init's caps at the root task's fixed slots of the child's CNode. */
static int give_control_caps(struct proc *pr)
{
    static const uint64_t slots[] = { KEEL_SLOT_IRQ_CONTROL, KEEL_SLOT_ASID_CONTROL, KEEL_SLOT_IOPORT_CONTROL,
                                      KEEL_SLOT_DEBUG, KEEL_SLOT_ASID_POOL };
    for (unsigned i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        int err = keel_cnode_copy(pr->p.cnode, slots[i], GRANT_RADIX, 0, slots[i], KEEL_CSPACE_DEPTH,
                                  KEEL_RIGHTS_ALL);
        if (err)
            return err;
    }
    return 0;
}

/* Read-only copies of every boot module's frames, from GRANT_SLOT_MODULES on, as the BootInfo
 * lists them: the child may load them, never change what init and the next processes load. */
static int give_modules(struct proc *pr)
{
    uint64_t at = GRANT_SLOT_MODULES;
    for (uint32_t i = 0; i < bi->module_count; i++) {
        const struct keel_module_info *m = &bi->modules[i];
        cbi.modules[i] = *m;
        cbi.modules[i].first_frame_slot = at;
        for (uint64_t k = 0; k < (m->size + 4095) / 4096; k++, at++) {
            int err = keel_cnode_copy(pr->p.cnode, at, GRANT_RADIX, 0, m->first_frame_slot + k, KEEL_CSPACE_DEPTH,
                                      KEEL_RIGHT_READ);
            if (err)
                return err;
        }
    }
    cbi.module_count = bi->module_count;
    cbi.module_frames = (struct keel_slot_range){ GRANT_SLOT_MODULES, at };
    return 0;
}

/* A fresh object from the run's memory into a fresh init slot that dies with it. */
static int grant_object(struct proc *pr, uint64_t type, uint64_t size, uint64_t *slot)
{
    int err = keel_slot_alloc(slot);
    if (err)
        return err;
    if ((err = keel_untyped_retype(pr->untyped, type, size, 0, 0, *slot, 1))) {
        keel_slot_free(*slot);
        return err;
    }
    own(pr, *slot);
    return 0;
}

/* The BootInfo pages: mapped into init (from the run's memory too) to be written, and read-only
 * at KEEL_ROOT_BOOTINFO in the child, with a read-only copy of the first at KEEL_SLOT_BOOTINFO_FRAME. */
static int map_bootinfo(struct proc *pr, uint64_t frames[BI_PAGES])
{
    for (unsigned i = 0; i < BI_PAGES; i++) {
        uint64_t theirs;
        int err;
        if ((err = grant_object(pr, KEEL_OBJ_FRAME_4K, 0, &frames[i])) ||
            (err = map_frame(frames[i], KEEL_SLOT_VSPACE, GRANT_INIT_VA + i * 4096, KEEL_MAP_READ | KEEL_MAP_WRITE, pr)))
            return err;
        if ((err = keel_slot_alloc(&theirs)))
            return err;
        own(pr, theirs);
        if ((err = keel_cspace_copy(theirs, frames[i], KEEL_RIGHT_READ)) ||
            (err = map_frame(theirs, pr->p.vspace, KEEL_ROOT_BOOTINFO + i * 4096, KEEL_MAP_READ, pr)))
            return err;
    }
    return keel_cnode_copy(pr->p.cnode, KEEL_SLOT_BOOTINFO_FRAME, GRANT_RADIX, 0, frames[0], KEEL_CSPACE_DEPTH,
                           KEEL_RIGHT_READ);
}

/* What is left of the run's memory, as one Untyped in the child's GRANT_SLOT_UNTYPED. */
static int give_untyped(struct proc *pr)
{
    struct keel_untyped_desc d;
    uint64_t ut;
    int err = keel_untyped_describe(pr->untyped, &d);
    if (err)
        return err;
    uint64_t used = (d.watermark + 4095) & ~4095ull;
    if (used + (1ull << 20) > d.size)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    if ((err = grant_object(pr, KEEL_OBJ_UNTYPED, d.size - used, &ut)) || (err = keel_untyped_describe(ut, &d)) ||
        (err = keel_cnode_move(pr->p.cnode, GRANT_SLOT_UNTYPED, GRANT_RADIX, 0, ut, KEEL_CSPACE_DEPTH)))
        return err;
    cbi.untyped = (struct keel_slot_range){ GRANT_SLOT_UNTYPED, GRANT_SLOT_UNTYPED + 1 };
    cbi.untyped_count = 1;
    cbi.untyped_list[0] = (struct keel_untyped_info){ .paddr = d.paddr, .size = d.size };
    return 0;
}

/* The rest of the BootInfo. Fields this code does not know (added to the ABI later) stay 0,
 * which every such field must read as "none". */
static void fill_bootinfo(struct proc *pr, uint64_t image_slot)
{
    cbi.magic = KEEL_BOOTINFO_MAGIC;
    cbi.version = KEEL_BOOTINFO_VERSION;
    cbi.ipc_buffer = KEEL_PROCESS_IPC_BUFFER;
    cbi.cnode_radix = GRANT_RADIX;
    cbi.cpu_count = bi->cpu_count;
    cbi.tsc_khz = bi->tsc_khz;
    cbi.features = bi->features;
    uint64_t image_end = image_slot + pr->p.image_frames;
    cbi.image_frames = (struct keel_slot_range){ image_slot, image_end };
    cbi.image_paging = (struct keel_slot_range){ image_end, image_end }; /* its tables stay init's */
    cbi.empty = (struct keel_slot_range){ image_end, 1ull << GRANT_RADIX };
    memcpy(cbi.cmdline, cmdline, sizeof cmdline < sizeof cbi.cmdline ? sizeof cmdline : sizeof cbi.cmdline);
    cbi.cmdline[sizeof cbi.cmdline - 1] = 0;
    cbi.flags = KEEL_BOOTINFO_CHILD;
    cbi.supervisor = GRANT_SLOT_SUPERVISOR;
}

#define STEP(w, call)                                                                                    \
    do {                                                                                                 \
        what = (w);                                                                                      \
        if ((err = (call)))                                                                              \
            goto fail;                                                                                   \
    } while (0)

bool grant_start(struct proc *pr, uint64_t fault_ep)
{
    const struct manifest_entry *e = pr->e;
    const char *what = "spawn";
    uint64_t image_slot = GRANT_SLOT_MODULES + module_pages();
    uint64_t frames[BI_PAGES];
    int err;
    memset(&cbi, 0, sizeof cbi);
    pr->untyped = grant_ut;
    struct keel_process_config cfg = {
        .name = e->name,
        .module = pr->module,
        .untyped = grant_ut,
        .asid_pool = KEEL_SLOT_ASID_POOL,
        .fault_ep = fault_ep,
        .pid = pr->p.pid,
        .priority = e->priority,
        .stack_size = e->stack,
        .argc = e->argc,
        .argv = e->argv,
        .suspended = true,
        .cnode_radix = GRANT_RADIX,
        .supervisor_slot = GRANT_SLOT_SUPERVISOR,
        .image_slot = image_slot,
        .start_arg = KEEL_ROOT_BOOTINFO,
    };
    if ((err = keel_process_spawn(&cfg, &pr->p))) {
        what = pr->p.failed_step ? pr->p.failed_step : "spawn";
        goto fail;
    }
    grant_user = pr;
    STEP("give the control caps", give_control_caps(pr));
    STEP("give the module frames", give_modules(pr));
    STEP("map the BootInfo", map_bootinfo(pr, frames));
    STEP("give the untyped", give_untyped(pr));
    fill_bootinfo(pr, image_slot);
    for (unsigned i = 0; i < BI_PAGES; i++) {
        uint64_t n = sizeof cbi - i * 4096 < 4096 ? sizeof cbi - i * 4096 : 4096;
        memcpy((void *)(GRANT_INIT_VA + i * 4096), (const uint8_t *)&cbi + i * 4096, n);
    }
    STEP("start the thread", keel_process_start(&pr->p));
    keel_snprintf(pr->caps, sizeof pr->caps, "root-like: untyped %lluK, control caps, debug, %llu module frames",
                  (unsigned long long)(cbi.untyped_list[0].size >> 10),
                  (unsigned long long)(cbi.module_frames.end - cbi.module_frames.start));
    pr->cap_count = 0;
    pr->state = P_RUNNING;
    note(pr, "started");
    keel_printf("init: started %s (pid %llu, program %s, root-like: %llu KiB untyped, IRQ/IOPort/ASID control, "
                "debug, %u module(s) read-only; cmdline '%s')\n",
                e->name, (unsigned long long)pr->p.pid, e->program,
                (unsigned long long)(cbi.untyped_list[0].size >> 10), cbi.module_count, cbi.cmdline);
    return true;

fail:
    keel_process_destroy(&pr->p); /* the Revoke of the run's memory: everything made for it goes */
    keel_cspace_revoke(grant_ut);
    grant_user = 0;
    pr->state = P_FAILED;
    note(pr, "cannot start: %s: %s", what, keel_process_strerror(err));
    keel_printf("init: %s: cannot start as a root-like run: %s: %s\n", e->name, what, keel_process_strerror(err));
    return false;
}

/* A RUN with KEEL_INIT_RUN_BOOTINFO from a privileged caller. */
int grant_run(const char *name, const struct keel_msg *m, struct keel_msg *r, struct proc **out)
{
    for (unsigned i = 0; i < KEEL_INIT_RUN_CMDLINE_WORDS; i++) {
        uint64_t w = keel_msg_length(m->info) > KEEL_INIT_RUN_CMDLINE_MR + i
                   ? keel_msg_get_mr(m, KEEL_INIT_RUN_CMDLINE_MR + i) : 0;
        memcpy(cmdline + 8 * i, &w, 8);
    }
    cmdline[sizeof cmdline - 1] = 0;
    if (grant_user && grant_user->state == P_RUNNING) {
        keel_msg_set_mr(r, 1, grant_user->p.pid);
        return KEEL_INIT_E_BUSY;
    }
    if (!grant_ut)
        return KEEL_INIT_E_NO_MEMORY;
    const struct keel_module_info *mod = name[0] ? keel_bootinfo_module(bi, name) : 0;
    if (!mod)
        return KEEL_INIT_E_NO_PROGRAM;
    struct proc *pr = 0;
    for (unsigned i = 0; i < nprocs && !pr; i++)
        if (procs[i].grant && strcmp(procs[i].e->name, name) == 0)
            pr = &procs[i];
    if (!pr) { /* a table row per program, made once and reused by its later runs */
        if (nprocs == MAX_PROCS || nentries == MAX_GRANT_NAMES)
            return KEEL_INIT_E_TOO_MANY;
        struct manifest_entry *e = &entries[nentries++];
        *e = (struct manifest_entry){ .restart = RESTART_NEVER, .limit = 0, .priority = GRANT_PRIORITY,
                                      .mem = grant_bytes, .stack = GRANT_STACK, .argc = 1 };
        memcpy(e->name, name, sizeof e->name);
        memcpy(e->program, name, sizeof e->program);
        e->argv[0] = e->name;
        pr = &procs[nprocs++];
        *pr = (struct proc){ .e = e, .module = mod, .grant = true };
    }
    pr->restarts = 0;
    *out = pr;
    return 0;
}

int wait_for_end(struct proc *pr)
{
    if (waiter_reply)
        return KEEL_INIT_E_BUSY;
    waiter_reply = take_reply();
    if (!waiter_reply)
        return KEEL_INIT_E_NO_MEMORY;
    waiter_pid = pr->p.pid;
    return INIT_DEFERRED;
}

void grant_stopped(struct proc *pr, uint64_t pid)
{
    if (pr == grant_user) {
        keel_cspace_revoke(grant_ut); /* already done by the teardown; makes sure of it */
        grant_user = 0;
    }
    if (!waiter_reply || waiter_pid != pid)
        return;
    struct keel_msg r = keel_msg_make(0, 4);
    r.mr[0] = 0;
    r.mr[1] = pid;
    r.mr[2] = pr->ended == KEEL_INIT_ENDED_EXIT ? (uint64_t)pr->status : 0;
    r.mr[3] = pr->ended;
    keel_reply(waiter_reply, &r);
    give_back_reply(waiter_reply);
    waiter_reply = waiter_pid = 0;
}

const char *grant_slot_name(uint64_t s)
{
    static const char *const fixed[] = { "", "tcb", "cnode", "vspace", "irq-control", "asid-control",
                                         "ioport-control", "ipc-buffer", "bootinfo", "debug", "asid-pool",
                                         "supervisor", "log" };
    if (s < sizeof fixed / sizeof fixed[0])
        return fixed[s];
    if (s == GRANT_SLOT_UNTYPED)
        return "untyped";
    if (s >= cbi.module_frames.start && s < cbi.module_frames.end)
        return "module frame";
    if (s >= cbi.image_frames.start && s < cbi.image_frames.end)
        return "image frame";
    return "";
}
