/* init's calls to inspect and control processes (keel/initsvc.h): PS, MEM, CAPS, RUN, KILL and
 * REBOOT. The last four need authority over the system: only a process whose manifest line gives
 * it caps=debug (already trusted with the kernel's Debug cap) may make them. */
#include "init.h"
#include <keel/alloc.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/portio.h>
#include <keel/stdio.h>
#include <keel/string.h>

#define I8042_STATUS 0x64
#define I8042_RESET 0xfe   /* pulse the reset line */
#define CHIPSET_RESET 0xcf9
#define CHIPSET_HARD_RESET 0x06

static struct manifest_entry adhoc[MAX_PROCS - MANIFEST_MAX_ENTRIES]; /* RUN of a bare boot module */
static unsigned nadhoc;

static bool privileged(const struct proc *pr)
{
    return pr->e->debug_cap;
}

int control_ps(const struct keel_msg *m, struct keel_msg *r)
{
    uint64_t i = keel_msg_get_mr(m, 0);
    if (i > nprocs)
        return KEEL_INIT_E_NONE;
    struct keel_init_ps_row row;
    table_row((unsigned)i, &row);
    keel_init_ps_pack(r, &row);
    r->info = keel_msginfo(0, 0, KEEL_INIT_PS_WORDS);
    return 0;
}

int control_mem(struct keel_msg *r)
{
    uint64_t given = 0;
    for (unsigned i = 0; i < nprocs; i++)
        if (procs[i].untyped && !procs[i].grant) /* root-like runs use the set-aside memory */
            given += procs[i].e->mem;
    keel_msg_set_mr(r, 1, keel_untyped_alloc_bytes_free());
    keel_msg_set_mr(r, 2, given);
    keel_msg_set_mr(r, 3, grant_reserved());
    return 0;
}

/* ---- CAPS ---- */

static void pack_cap_name(struct keel_msg *r, const char *name)
{
    char buf[16] = { 0 };
    size_t n = strlen(name);
    memcpy(buf, name, n < 15 ? n : 15);
    uint64_t w[2];
    memcpy(w, buf, 16);
    keel_msg_set_mr(r, 7, w[0]);
    keel_msg_set_mr(r, 8, w[1]);
}

static void reply_cap(struct keel_msg *r, uint64_t slot, const struct keel_cap_identity *id, uint64_t flags,
                      const char *name)
{
    keel_msg_set_mr(r, 1, slot);
    keel_msg_set_mr(r, 2, id->type);
    keel_msg_set_mr(r, 3, id->rights);
    keel_msg_set_mr(r, 4, id->badge);
    keel_msg_set_mr(r, 5, id->object);
    keel_msg_set_mr(r, 6, flags);
    pack_cap_name(r, name);
}

static bool in_range(const struct keel_slot_range *rg, uint64_t s)
{
    return s >= rg->start && s < rg->end;
}

static const char *init_slot_name(uint64_t s)
{
    static const char *const fixed[] = { "", "tcb", "cnode", "vspace", "irq-control", "asid-control",
                                         "ioport-control", "ipc-buffer", "bootinfo", "debug", "asid-pool" };
    if (s < sizeof fixed / sizeof fixed[0])
        return fixed[s];
    if (in_range(&bi->untyped, s))
        return "boot untyped";
    if (in_range(&bi->module_frames, s))
        return "module frame";
    if (in_range(&bi->image_frames, s))
        return "image frame";
    if (in_range(&bi->image_paging, s))
        return "image table";
    return "";
}

/* init's own CNode: identified in place. Slots the allocator manages but has not handed out are
 * empty and skipped without asking the kernel; past its range nothing is used. */
static int init_caps(uint64_t from, struct keel_msg *r)
{
    uint64_t first, end;
    keel_slot_range(&first, &end);
    for (uint64_t s = from; s < end; s++) {
        if (s >= first && !keel_slot_is_allocated(s))
            continue;
        struct keel_cap_identity id;
        if (keel_debug_cap_identify(KEEL_SLOT_DEBUG, s, &id))
            return KEEL_INIT_E_BAD_REQUEST;
        if (id.type != KEEL_CAP_NULL) {
            reply_cap(r, s, &id, 0, init_slot_name(s));
            return 0;
        }
    }
    return KEEL_INIT_E_NONE;
}

/* The kernel identifies caps of the caller's CSpace only, so each slot of the child's CNode is
 * copied into a scratch slot of init's, identified there and deleted: a copy has the original's
 * type, rights, badge and object. Caps the kernel will not copy are reported as present only. */
int control_caps(struct proc *caller, const struct keel_msg *m, struct keel_msg *r)
{
    static uint64_t scratch;
    if (!privileged(caller))
        return KEEL_INIT_E_DENIED;
    uint64_t pid = keel_msg_get_mr(m, 0), from = keel_msg_get_mr(m, 1);
    if (pid == 0)
        return init_caps(from, r);
    struct proc *pr = proc_by_pid(pid);
    if (!pr) {
        for (unsigned i = 0; i < nprocs; i++)
            if (procs[i].p.pid == pid)
                return KEEL_INIT_E_NOT_RUNNING;
        return KEEL_INIT_E_NO_SUCH_PID;
    }
    if (!scratch && keel_slot_alloc(&scratch))
        return KEEL_INIT_E_NO_MEMORY;
    uint32_t radix = pr->p.cnode_radix; /* a root-like run's CNode is larger */
    for (uint64_t s = from; s < (1ull << radix); s++) {
        const char *name = s == KEEL_PROCESS_SLOT_TCB ? "tcb" : s == KEEL_PROCESS_SLOT_CNODE ? "cnode"
                         : s == KEEL_PROCESS_SLOT_VSPACE ? "vspace" : s == KEEL_PROCESS_SLOT_IPC_BUFFER ? "ipc-buffer"
                         : s == KEEL_PROCESS_SLOT_SUPERVISOR ? "supervisor" : s == KEEL_PROCESS_SLOT_LOG ? "log" : "";
        if (pr->grant)
            name = grant_slot_name(s);
        else if (s >= KEEL_PROCESS_SLOT_FIRST_CAP && s - KEEL_PROCESS_SLOT_FIRST_CAP < pr->cap_count)
            name = pr->cap_names[s - KEEL_PROCESS_SLOT_FIRST_CAP];
        int err = keel_cnode_copy(KEEL_SLOT_CNODE, scratch, KEEL_CSPACE_DEPTH, pr->p.cnode, s, radix, KEEL_RIGHTS_ALL);
        if (err == KEEL_E_FAILED_LOOKUP)
            continue; /* empty */
        struct keel_cap_identity id = { .type = KEEL_CAP_NULL };
        if (err == KEEL_E_ILLEGAL_OPERATION) {
            reply_cap(r, s, &id, KEEL_INIT_CAP_UNCOPYABLE, name);
            return 0;
        }
        if (err)
            return KEEL_INIT_E_BAD_REQUEST;
        err = keel_debug_cap_identify(KEEL_SLOT_DEBUG, scratch, &id);
        keel_cspace_delete(scratch);
        if (err)
            return KEEL_INIT_E_BAD_REQUEST;
        reply_cap(r, s, &id, 0, name);
        return 0;
    }
    return KEEL_INIT_E_NONE;
}

/* ---- KILL and RUN ---- */

int control_kill(struct proc *caller, const struct keel_msg *m, struct keel_msg *r)
{
    if (!privileged(caller))
        return KEEL_INIT_E_DENIED;
    uint64_t pid = keel_msg_get_mr(m, 0);
    bool again = keel_msg_get_mr(m, 1) == KEEL_INIT_KILL_RESTART;
    if (pid == 0 || pid == caller->p.pid)
        return KEEL_INIT_E_REFUSED;
    struct proc *pr = proc_by_pid(pid);
    if (!pr) {
        for (unsigned i = 0; i < nprocs; i++)
            if (procs[i].p.pid == pid)
                return KEEL_INIT_E_NOT_RUNNING;
        return KEEL_INIT_E_NO_SUCH_PID;
    }
    const char *name = pr->e->name;
    pr->ended = KEEL_INIT_ENDED_KILLED;
    keel_printf("init: %s (pid %llu) killed by %s (pid %llu)%s\n", name, (unsigned long long)pid, caller->e->name,
                (unsigned long long)caller->p.pid, again ? "; starting it again" : "; not restarted");
    int err = stop(pr);
    if (err)
        keel_printf("init: %s: teardown failed: %s\n", name, keel_strerror(err));
    pr->state = P_KILLED;
    note(pr, "killed by %s (pid %llu)", caller->e->name, (unsigned long long)caller->p.pid);
    if (again && !err) {
        if (!start(pr))
            return KEEL_INIT_E_START_FAILED;
        keel_msg_set_mr(r, 1, pr->p.pid);
        return 0;
    }
    print_table();
    return err ? KEEL_INIT_E_START_FAILED : 0;
}

int control_run(struct proc *caller, const struct keel_msg *m, struct keel_msg *r)
{
    if (!privileged(caller))
        return KEEL_INIT_E_DENIED;
    char name[32];
    keel_init_unpack_name(m, 0, name);
    /* MR4 and up live in the IPC buffer: read them before any invocation overwrites it. */
    uint64_t flags = keel_msg_length(m->info) > 4 ? keel_msg_get_mr(m, 4) : 0;
    struct proc *pr = 0;
    for (unsigned i = 0; i < nprocs && !pr; i++)
        if (strcmp(procs[i].e->name, name) == 0)
            pr = &procs[i];
    if ((flags & KEEL_INIT_RUN_BOOTINFO) || (pr && pr->grant && pr->state != P_RUNNING)) {
        int err = grant_run(name, m, r, &pr); /* a program run root-like before runs so again */
        if (err)
            return err;
    } else if (pr && pr->state == P_RUNNING) {
        return KEEL_INIT_E_RUNNING;
    }
    if (!pr) {
        const struct keel_module_info *mod = name[0] ? keel_bootinfo_module(bi, name) : 0;
        if (!mod)
            return KEEL_INIT_E_NO_PROGRAM;
        if (mod == &bi->modules[0]) /* init's own module: a second root task cannot start */
            return KEEL_INIT_E_REFUSED;
        if (nprocs == MAX_PROCS || nadhoc == sizeof adhoc / sizeof adhoc[0])
            return KEEL_INIT_E_TOO_MANY;
        struct manifest_entry *e = &adhoc[nadhoc++];
        *e = (struct manifest_entry){ .restart = RESTART_NEVER, .limit = 0, .priority = MANIFEST_DEFAULT_PRIORITY,
                                      .mem = MANIFEST_DEFAULT_MEM, .stack = MANIFEST_DEFAULT_STACK, .argc = 1 };
        memcpy(e->name, name, sizeof e->name);
        memcpy(e->program, name, sizeof e->program);
        e->argv[0] = e->name;
        pr = &procs[nprocs++];
        *pr = (struct proc){ .e = e, .module = mod };
    }
    if (!pr->untyped && !pr->grant) { /* made once per table row, reused by every start of it */
        int err = keel_alloc_object(KEEL_OBJ_UNTYPED, pr->e->mem, &pr->untyped);
        if (err) {
            pr->untyped = 0;
            keel_printf("init: run %s: no memory for it (%lluK): %s\n", name,
                        (unsigned long long)(pr->e->mem >> 10), keel_strerror(err));
            return KEEL_INIT_E_NO_MEMORY;
        }
    }
    keel_printf("init: run %s%s (asked by %s, pid %llu)\n", name, pr->grant ? " root-like" : "", caller->e->name,
                (unsigned long long)caller->p.pid);
    pr->restarts = 0;
    if (!start(pr)) /* its row stays (failed, with the reason) and is reused by the next run of it */
        return KEEL_INIT_E_START_FAILED;
    keel_msg_set_mr(r, 1, pr->p.pid);
    if (flags & KEEL_INIT_RUN_WAIT)
        return wait_for_end(pr);
    return 0;
}

/* ---- REBOOT ---- */


/* A port cap for init itself, bound to its VSpace. */
static int port_access(uint16_t first, uint16_t last)
{
    uint64_t slot;
    int err = keel_slot_alloc(&slot);
    if (err)
        return err;
    if ((err = keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, first, last, slot)) ||
        (err = keel_ioport_bind(slot, KEEL_SLOT_VSPACE))) {
        keel_free_object(slot);
        return err;
    }
    return 0;
}

/* Two ways, because machines differ: the i8042's reset line (every PC-compatible emulator and most
 * machines with a keyboard controller), then the chipset's reset control register at 0xCF9 (PIIX
 * and ICH chipsets, QEMU's q35 and Bochs). The keyboard driver holds 0x64 too; init issues its own
 * cap for the moment it needs it. */
int control_reboot(struct proc *caller)
{
    if (!privileged(caller))
        return KEEL_INIT_E_DENIED;
    keel_printf("init: reboot asked by %s (pid %llu)\n", caller->e->name, (unsigned long long)caller->p.pid);
    if (port_access(I8042_STATUS, I8042_STATUS) == 0) {
        for (unsigned i = 0; i < 100000 && (inb(I8042_STATUS) & 0x02); i++)
            ;
        outb(I8042_STATUS, I8042_RESET);
        for (unsigned i = 0; i < 1000; i++)
            keel_yield();
    }
    if (port_access(CHIPSET_RESET, CHIPSET_RESET) == 0) {
        outb(CHIPSET_RESET, 0x02);
        outb(CHIPSET_RESET, CHIPSET_HARD_RESET);
        for (unsigned i = 0; i < 1000; i++)
            keel_yield();
    }
    keel_printf("init: reboot: the machine did not reset\n");
    return KEEL_INIT_E_FAILED;
}
