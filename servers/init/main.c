/* init: the root task of the default image, and the system builder. It reads the boot manifest (a
 * text module, servers/init/README.md), starts each listed program from its boot module as a
 * process of its own (keel/process.h) with exactly the caps the manifest names (I/O port ranges
 * bound to its VSpace, IRQ handlers with a notification), and supervises them: every fault and
 * exit arrives on one endpoint, badged with the process id, and the restart policy decides what
 * happens next. One line is printed per start, exit, crash and restart, and the process table at
 * the end of start-up and whenever a process stops for good. The calls processes make on their
 * "init" cap (keel/initsvc.h) are dispatched here and served by broker.c (channels) and
 * control.c (PS, MEM, CAPS, RUN, KILL, REBOOT). */
#include "init.h"
#include <keel/alloc.h>
#include <keel/bootinfo.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define DEFAULT_MANIFEST "manifest.txt"
#define MANIFEST_VA 0x0000600000000000ull /* where init maps the manifest module to read it */
#define MANIFEST_MAX_BYTES (16u * 1024)


const struct keel_bootinfo *bi;
static struct manifest manifest;
static char manifest_text[MANIFEST_MAX_BYTES + 1];
struct proc procs[MAX_PROCS];
unsigned nprocs;
static uint64_t sup_ep, sup_reply, spare_reply;
static uint64_t next_pid;

/* ---- Reading the manifest module ---- */

void own(struct proc *pr, uint64_t slot)
{
    if (pr->nowned < MAX_OWNED)
        pr->owned[pr->nowned++] = slot;
}

/* Map `frame` at `va` of `vspace`, making the paging structures on the way: from init's memory
 * for init's own VSpace (pr == 0), else from the process's Untyped (they die with it). */
int map_frame(uint64_t frame, uint64_t vspace, uint64_t va, uint64_t access, struct proc *pr)
{
    return map_frame_attr(frame, vspace, va, access, KEEL_CACHE_WB, pr);
}

/* The same with a cache attribute (KEEL_CACHE_*): the screen is mapped uncached or write-combining. */
int map_frame_attr(uint64_t frame, uint64_t vspace, uint64_t va, uint64_t access, uint64_t attr, struct proc *pr)
{
    for (int tries = 0; tries < 4; tries++) {
        int err = keel_frame_map(frame, vspace, va, access, attr);
        if (err != KEEL_E_MISSING_TABLE)
            return err;
        uint64_t table, type = keel_last_error_detail(0);
        if (!pr)
            err = keel_alloc_object(type, 0, &table);
        else if (!(err = keel_slot_alloc(&table))) {
            err = keel_untyped_retype(pr->untyped, type, 0, 0, 0, table, 1);
            if (err)
                keel_slot_free(table);
            else
                own(pr, table);
        }
        if (err || (err = keel_paging_map(table, vspace, va)))
            return err;
    }
    return KEEL_E_MISSING_TABLE;
}

static int map_with_tables(uint64_t frame, uint64_t va)
{
    return map_frame(frame, KEEL_SLOT_VSPACE, va, KEEL_MAP_READ, 0);
}

/* Copy the module's text into manifest_text (through read-only copies of its frame caps). */
static int read_module(const struct keel_module_info *mod, uint64_t *size)
{
    *size = mod->size < MANIFEST_MAX_BYTES ? mod->size : MANIFEST_MAX_BYTES;
    uint64_t pages = (*size + 4095) / 4096;
    int err = 0;
    for (uint64_t i = 0; i < pages && !err; i++) {
        uint64_t copy;
        if ((err = keel_slot_alloc(&copy)))
            break;
        err = keel_cspace_copy(copy, mod->first_frame_slot + i, KEEL_RIGHT_READ);
        if (!err)
            err = map_with_tables(copy, MANIFEST_VA + i * 4096);
        if (!err) {
            uint64_t n = *size - i * 4096 < 4096 ? *size - i * 4096 : 4096;
            memcpy(manifest_text + i * 4096, (const void *)(MANIFEST_VA + i * 4096), n);
        }
        keel_free_object(copy); /* deleting the copy unmaps it */
    }
    manifest_text[*size] = 0;
    return err;
}

static const char *manifest_name(char *buf, size_t size)
{
    const char *key = "init.manifest=";
    for (const char *p = bi->cmdline; (p = strchr(p, 'i')) != 0; p++) {
        if (strncmp(p, key, strlen(key)) != 0 || (p != bi->cmdline && p[-1] != ' '))
            continue;
        p += strlen(key);
        size_t n = 0;
        while (p[n] && p[n] != ' ' && n + 1 < size)
            n++;
        memcpy(buf, p, n);
        buf[n] = 0;
        return buf;
    }
    return DEFAULT_MANIFEST;
}

/* ---- Starting a process ---- */

void note(struct proc *pr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    keel_vsnprintf(pr->note, sizeof pr->note, fmt, ap);
    va_end(ap);
}

struct cap_set {
    struct keel_process_cap caps[MAX_CAPS];
    char names[MAX_CAPS][KEEL_PROCESS_CAP_NAME_MAX];
    unsigned count;
};

static int add_cap(struct cap_set *cs, uint64_t *slot, uint32_t flags, const char *fmt, unsigned v)
{
    int err = keel_slot_alloc(slot);
    if (err)
        return err;
    struct keel_process_cap *c = &cs->caps[cs->count];
    keel_snprintf(cs->names[cs->count], KEEL_PROCESS_CAP_NAME_MAX, fmt, v);
    *c = (struct keel_process_cap){ .cptr = *slot, .flags = flags, .name = cs->names[cs->count] };
    cs->count++;
    return 0;
}

/* The device caps of a manifest entry, made afresh for each start (the last ones died with the
 * process). Everything is moved into the child; what is left (after a failure) is deleted. */
static int make_caps(struct proc *pr, struct cap_set *cs, const char **what)
{
    const struct manifest_entry *e = pr->e;
    uint64_t slot;
    int err;
    for (unsigned i = 0; i < e->ioport_count; i++) {
        *what = "I/O port cap";
        if ((err = add_cap(cs, &slot, KEEL_PROCESS_CAP_MOVE | KEEL_PROCESS_CAP_BIND_IOPORT, "ioport%u", i)) ||
            (err = keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, e->ioports[i].first, e->ioports[i].last, slot)))
            return err;
    }
    *what = "init cap";
    if ((err = add_cap(cs, &slot, KEEL_PROCESS_CAP_MOVE, "init", 0)) ||
        (err = keel_cspace_mint(slot, sup_ep, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, pr->p.pid)))
        return err;
    if (e->debug_cap) {
        *what = "debug cap";
        if ((err = add_cap(cs, &slot, KEEL_PROCESS_CAP_MOVE, "debug", 0)) ||
            (err = keel_cspace_copy(slot, KEEL_SLOT_DEBUG, KEEL_RIGHTS_ALL)))
            return err;
    }
    if (e->serves[0]) {
        /* One notification for everything the server waits for: its IRQs (bit N), init's news
         * and the channels' doorbells. init keeps the original (it dies with the process). */
        *what = "service notification";
        if ((err = keel_slot_alloc(&pr->svc_ntfn)))
            return err;
        if ((err = keel_untyped_retype(pr->untyped, KEEL_OBJ_NOTIFICATION, 0, 0, 0, pr->svc_ntfn, 1))) {
            keel_slot_free(pr->svc_ntfn);
            pr->svc_ntfn = 0;
            return err;
        }
        own(pr, pr->svc_ntfn);
        if ((err = keel_slot_alloc(&pr->svc_news)))
            return err;
        own(pr, pr->svc_news);
        if ((err = keel_cspace_mint(pr->svc_news, pr->svc_ntfn, KEEL_RIGHT_WRITE, KEEL_INIT_NEWS)) ||
            (err = add_cap(cs, &slot, KEEL_PROCESS_CAP_MOVE, "service", 0)) ||
            (err = keel_cspace_copy(slot, pr->svc_ntfn, KEEL_RIGHTS_ALL)))
            return err;
    }
    for (unsigned i = 0; i < e->irq_count; i++) {
        uint64_t handler, ntfn, gsi;
        *what = "IRQ notification";
        if ((err = add_cap(cs, &ntfn, KEEL_PROCESS_CAP_MOVE, "irq%u-ntfn", e->irqs[i])))
            return err;
        if (e->serves[0]) /* the service notification, signalled with bit N */
            err = keel_cspace_mint(ntfn, pr->svc_ntfn, KEEL_RIGHTS_ALL, 1ull << e->irqs[i]);
        else
            err = keel_untyped_retype(pr->untyped, KEEL_OBJ_NOTIFICATION, 0, 0, 0, ntfn, 1);
        if (err)
            return err;
        *what = "IRQ handler";
        if ((err = add_cap(cs, &handler, KEEL_PROCESS_CAP_MOVE, "irq%u", e->irqs[i])) ||
            (err = keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, e->irqs[i], 0, handler, &gsi)) ||
            (err = keel_irq_handler_set_notification(handler, ntfn)))
            return err;
    }
    return 0;
}

static void describe_caps(struct proc *pr, const struct cap_set *cs)
{
    const struct manifest_entry *e = pr->e;
    size_t at = 0;
    pr->caps[0] = 0;
    for (unsigned i = 0; i < cs->count && at < sizeof pr->caps; i++) {
        const char *n = cs->names[i];
        if (strncmp(n, "ioport", 6) == 0) {
            unsigned k = (unsigned)(n[6] - '0');
            at += (size_t)keel_snprintf(pr->caps + at, sizeof pr->caps - at, "%s%s=%#x-%#x", at ? " " : "", n,
                                        e->ioports[k].first, e->ioports[k].last);
        } else {
            at += (size_t)keel_snprintf(pr->caps + at, sizeof pr->caps - at, "%s%s", at ? " " : "", n);
        }
    }
}

static void free_owned(struct proc *pr)
{
    for (unsigned i = 0; i < pr->nowned; i++)
        keel_free_object(pr->owned[i]);
    pr->nowned = 0;
    pr->svc_ntfn = pr->svc_news = 0;
    pr->client_ntfn = pr->client_news = 0;
    pr->chan_bits = 0;
    pr->windows = 0;
}

bool start(struct proc *pr)
{
    const struct manifest_entry *e = pr->e;
    struct cap_set cs = { .count = 0 };
    free_owned(pr);
    pr->p.pid = ++next_pid;
    if (pr->grant) /* a root-like run: grant.c builds it */
        return grant_start(pr, sup_ep);
    const char *what = "";
    /* caps=screen: the geometry goes in one more argument, and the process starts only once the
     * screen is mapped (screen.c). */
    const char *argv[MANIFEST_MAX_ARGS + 1];
    char screen[160];
    memcpy(argv, e->argv, e->argc * sizeof argv[0]);
    if (e->screen && screen_missing()) {
        pr->state = P_FAILED;
        note(pr, "cannot start: caps=screen: %s", screen_missing());
        keel_printf("init: %s: cannot start (line %u): caps=screen: %s\n", e->name, e->line, screen_missing());
        return false;
    }
    if (e->screen) {
        screen_arg(screen, sizeof screen);
        argv[e->argc] = screen;
    }
    int err = make_caps(pr, &cs, &what);
    if (!err) {
        struct keel_process_config cfg = {
            .name = e->name,
            .module = pr->module,
            .untyped = pr->untyped,
            .asid_pool = KEEL_SLOT_ASID_POOL,
            .fault_ep = sup_ep,
            .pid = pr->p.pid,
            .priority = e->priority,
            .stack_size = e->stack,
            .argc = e->argc + (e->screen ? 1 : 0),
            .argv = argv,
            .cap_count = cs.count,
            .caps = cs.caps,
            .suspended = e->screen,
        };
        err = keel_process_spawn(&cfg, &pr->p);
        what = pr->p.failed_step ? pr->p.failed_step : "spawn";
        if (!err && e->screen && ((err = screen_map(pr, &what)) || (what = "start", err = keel_process_start(&pr->p))))
            keel_process_destroy(&pr->p);
    }
    /* Moved into the child on success; after a failure whatever is left goes. */
    for (unsigned i = 0; i < cs.count; i++)
        keel_free_object(cs.caps[i].cptr);
    if (err) {
        keel_cspace_revoke(pr->untyped); /* the notifications made for it, if the spawn did not get that far */
        free_owned(pr);
        pr->state = P_FAILED;
        note(pr, "cannot start: %s: %s", what, keel_process_strerror(err));
        keel_printf("init: %s: cannot start (line %u): %s: %s\n", e->name, e->line, what, keel_process_strerror(err));
        return false;
    }
    describe_caps(pr, &cs);
    if (e->screen) {
        size_t at = strlen(pr->caps);
        keel_snprintf(pr->caps + at, sizeof pr->caps - at, "%sscreen", at ? " " : "");
    }
    pr->cap_count = cs.count;
    memcpy(pr->cap_names, cs.names, sizeof cs.names);
    pr->state = P_RUNNING;
    note(pr, "started");
    keel_printf("init: started %s (pid %llu, program %s, %llu KiB, %u cap(s)%s%s)\n", e->name,
                (unsigned long long)pr->p.pid, e->program, (unsigned long long)(pr->p.bytes >> 10), cs.count,
                cs.count ? ": " : "", pr->caps);
    if (e->serves[0])
        broker_service_started(pr);
    return true;
}

struct proc *proc_by_pid(uint64_t pid)
{
    for (unsigned i = 0; i < nprocs; i++)
        if (procs[i].state == P_RUNNING && procs[i].p.pid == pid)
            return &procs[i];
    return 0;
}

int stop(struct proc *pr)
{
    uint64_t pid = pr->p.pid;
    int err = keel_process_destroy(&pr->p);
    free_owned(pr);
    broker_died(pr, pid);
    grant_stopped(pr, pid);
    pr->p.pid = pid; /* keep showing the last one */
    return err;
}

uint64_t take_reply(void)
{
    if (!spare_reply)
        return 0;
    uint64_t held = sup_reply;
    sup_reply = spare_reply;
    spare_reply = 0;
    return held;
}

void give_back_reply(uint64_t reply)
{
    spare_reply = reply;
}


/* ---- init's service (keel/initsvc.h) ---- */

static void serve(struct proc *pr, const struct keel_msg *m)
{
    uint64_t label = keel_msg_label(m->info);
    struct keel_msg r = keel_msg_make(0, 10);
    int ret;
    switch (label) {
    case KEEL_INIT_OPEN: ret = broker_open(pr, m, &r); break;
    case KEEL_INIT_ACCEPT: ret = broker_accept(pr, m, &r); break;
    case KEEL_INIT_CLOSE: ret = broker_close(pr, m); break;
    case KEEL_INIT_PS: ret = control_ps(m, &r); break;
    case KEEL_INIT_MEM: ret = control_mem(&r); break;
    case KEEL_INIT_CAPS: ret = control_caps(pr, m, &r); break;
    case KEEL_INIT_KILL: ret = control_kill(pr, m, &r); break;
    case KEEL_INIT_RUN: ret = control_run(pr, m, &r); break;
    case KEEL_INIT_REBOOT: ret = control_reboot(pr); break;
    default: ret = KEEL_INIT_E_BAD_REQUEST; break;
    }
    if (ret == INIT_DEFERRED)
        return; /* answered when what it waits for happens */
    r.mr[0] = (uint64_t)ret;
    keel_reply(sup_reply, &r);
}

/* ---- Supervision ---- */

void table_row(unsigned i, struct keel_init_ps_row *r)
{
    *r = (struct keel_init_ps_row){ .state = KEEL_INIT_RUNNING };
    if (i == 0) { /* init itself: pid 0, always running, no policy; its memory is MEM's business */
        strlcpy(r->name, "init", sizeof r->name);
        strlcpy(r->program, bi->modules[0].name, sizeof r->program);
        strlcpy(r->event, "root task", sizeof r->event);
        return;
    }
    const struct proc *pr = &procs[i - 1];
    const struct manifest_entry *e = pr->e;
    *r = (struct keel_init_ps_row){ .pid = pr->p.pid, .state = (uint64_t)pr->state, .restarts = pr->restarts,
                                    .limit = e->limit, .memory = e->mem };
    strlcpy(r->name, e->name, sizeof r->name);
    strlcpy(r->program, e->program, sizeof r->program);
    strlcpy(r->policy, manifest_restart_name(e->restart), sizeof r->policy);
    strlcpy(r->event, pr->note, sizeof r->event);
}

/* The same columns as the shell's ps (keel_init_ps_format); what each process holds is in its
 * "started" line and in the shell's caps PID. */
void print_table(void)
{
    char line[160];
    keel_printf("init: process table\n");
    keel_init_ps_header(line, sizeof line);
    keel_printf("  %s\n", line);
    for (unsigned i = 0; i <= nprocs; i++) {
        struct keel_init_ps_row r;
        table_row(i, &r);
        keel_init_ps_format(line, sizeof line, &r);
        keel_printf("  %s\n", line);
    }
}

static const char *vector_name(uint64_t v)
{
    static const char *const names[] = { "divide error", "debug", "NMI", "breakpoint", "overflow",
                                         "bound range", "invalid opcode", "device not available",
                                         "double fault", "coprocessor overrun", "invalid TSS",
                                         "segment not present", "stack fault", "general protection",
                                         "page fault", "reserved", "x87 error", "alignment check",
                                         "machine check", "SIMD error" };
    return v < sizeof names / sizeof names[0] ? names[v] : "exception";
}

static void describe_fault(const struct keel_msg *m, char *buf, size_t size)
{
    uint64_t label = keel_msg_label(m->info);
    if (label == KEEL_FAULT_VM)
        keel_snprintf(buf, size, "page fault: %s %#llx (%s page) at rip %#llx",
                      (m->mr[2] & 16) ? "fetch at" : (m->mr[2] & 2) ? "write to" : "read of",
                      (unsigned long long)m->mr[1], (m->mr[2] & 1) ? "protected" : "unmapped",
                      (unsigned long long)m->mr[0]);
    else if (label == KEEL_FAULT_EXCEPTION)
        keel_snprintf(buf, size, "%s (vector %llu, error code %#llx) at rip %#llx", vector_name(m->mr[1]),
                      (unsigned long long)m->mr[1], (unsigned long long)m->mr[2], (unsigned long long)m->mr[0]);
    else if (label == KEEL_FAULT_UNKNOWN_SYSCALL)
        keel_snprintf(buf, size, "unknown syscall %llu at rip %#llx", (unsigned long long)m->mr[1],
                      (unsigned long long)m->mr[0]);
    else if (label == KEEL_FAULT_NO_VSPACE)
        keel_snprintf(buf, size, "no usable VSpace at rip %#llx", (unsigned long long)m->mr[0]);
    else
        keel_snprintf(buf, size, "unexpected message (label %#llx)", (unsigned long long)label);
}

static void handle(struct proc *pr, const struct keel_msg *m)
{
    const struct manifest_entry *e = pr->e;
    uint64_t pid = pr->p.pid;
    bool exited = keel_msg_label(m->info) == KEEL_PROCESS_MSG_EXIT;
    int64_t status = exited ? (int64_t)m->mr[0] : -1;
    char what[96];
    if (exited)
        keel_snprintf(what, sizeof what, "exited with status %lld", (long long)status);
    else
        describe_fault(m, what, sizeof what);
    keel_printf("init: %s (pid %llu) %s%s\n", e->name, (unsigned long long)pid, exited ? "" : "crashed: ", what);
    note(pr, "%s%s", exited ? "" : "crashed: ", what);
    pr->ended = exited ? KEEL_INIT_ENDED_EXIT : KEEL_INIT_ENDED_CRASH;
    pr->status = status;
    int err = stop(pr);
    if (err)
        keel_printf("init: %s: teardown failed: %s\n", e->name, keel_strerror(err));
    pr->state = exited ? P_EXITED : P_CRASHED;

    bool failed = !exited || status != 0;
    bool wanted = e->restart == RESTART_ALWAYS || (e->restart == RESTART_ON_CRASH && failed);
    if (wanted && pr->restarts < e->limit && !err) {
        pr->restarts++;
        keel_printf("init: restarting %s (restart %u of %u)\n", e->name, pr->restarts, e->limit);
        if (start(pr))
            return;
    } else if (wanted) {
        keel_printf("init: %s: restart limit (%u) reached; leaving it stopped\n", e->name, e->limit);
        note(pr, "%s; restart limit reached", what);
        pr->state = P_FAILED;
    } else {
        keel_printf("init: %s: not restarted (restart=%s)\n", e->name, manifest_restart_name(e->restart));
    }
    print_table();
}

static _Noreturn void supervise(void)
{
    for (;;) {
        struct keel_msg m = keel_msg_make(0, 0);
        int err = keel_recv(sup_ep, sup_reply, &m);
        if (err) {
            keel_printf("init: receive on the supervision endpoint failed: %s\n", keel_strerror(err));
            continue;
        }
        struct proc *pr = 0;
        for (unsigned i = 0; i < nprocs && !pr; i++)
            if (procs[i].state == P_RUNNING && procs[i].p.pid == m.badge)
                pr = &procs[i];
        if (!pr) {
            keel_printf("init: message (label %#llx) from unknown pid %llu ignored\n",
                        (unsigned long long)keel_msg_label(m.info), (unsigned long long)m.badge);
            continue;
        }
        uint64_t label = keel_msg_label(m.info);
        if (label == KEEL_PROCESS_MSG_EXIT || (label >= KEEL_FAULT_VM && label <= KEEL_FAULT_NO_VSPACE))
            handle(pr, &m);
        else
            serve(pr, &m);
    }
}

/* ---- Start-up ---- */

static unsigned load_manifest(void)
{
    char buf[64];
    const char *name = manifest_name(buf, sizeof buf);
    const struct keel_module_info *mod = keel_bootinfo_module(bi, name);
    if (!mod) {
        keel_printf("init: no boot module '%s': nothing to start\n", name);
        return 0;
    }
    uint64_t size;
    int err = read_module(mod, &size);
    if (err) {
        keel_printf("init: cannot read the manifest '%s': %s\n", name, keel_strerror(err));
        return 0;
    }
    if (mod->size > MANIFEST_MAX_BYTES)
        keel_printf("init: %s: only the first %u bytes are read\n", name, MANIFEST_MAX_BYTES);
    manifest_parse(&manifest, manifest_text, size);
    for (unsigned i = 0; i < manifest.error_count; i++)
        keel_printf("init: %s:%u: %s (line skipped)\n", name, manifest.errors[i].line, manifest.errors[i].msg);
    if (manifest.errors_total > manifest.error_count)
        keel_printf("init: %s: %u more error(s)\n", name, manifest.errors_total - manifest.error_count);
    for (unsigned i = 0; i < manifest.count; i++) {
        const struct manifest_entry *e = &manifest.entries[i];
        const struct keel_module_info *prog = keel_bootinfo_module(bi, e->program);
        if (!prog) {
            keel_printf("init: %s:%u: program '%s' is not a boot module (line skipped)\n", name, e->line, e->program);
            continue;
        }
        procs[nprocs++] = (struct proc){ .e = e, .module = prog };
    }
    keel_printf("init: manifest '%s': %u process(es) to start, %u bad line(s)\n", name, nprocs,
                manifest.errors_total + manifest.count - nprocs);
    return nprocs;
}

int main(struct keel_bootinfo *boot_info)
{
    bi = boot_info;
    if (!bi) {
        keel_printf("init: no BootInfo\n");
        return 1;
    }
    keel_printf("init: Keel root task running\n");
    keel_bootinfo_print(bi);
    keel_untyped_alloc_init(bi);
    int err = keel_alloc_object(KEEL_OBJ_ENDPOINT, 0, &sup_ep);
    if (!err)
        err = keel_alloc_object(KEEL_OBJ_REPLY, 0, &sup_reply);
    if (!err) /* made now, so that a deferred answer never costs memory later */
        err = keel_alloc_object(KEEL_OBJ_REPLY, 0, &spare_reply);
    if (err) {
        keel_printf("init: cannot make the supervision endpoint: %s\n", keel_strerror(err));
        return 1;
    }
    load_manifest();
    for (unsigned i = 0; i < nprocs; i++) {
        struct proc *pr = &procs[i];
        err = keel_alloc_object(KEEL_OBJ_UNTYPED, pr->e->mem, &pr->untyped);
        if (err) {
            pr->state = P_FAILED;
            note(pr, "no memory for it (%lluK): %s", (unsigned long long)(pr->e->mem >> 10), keel_strerror(err));
            keel_printf("init: %s: %s\n", pr->e->name, pr->note);
            continue;
        }
        start(pr);
    }
    grant_reserve();
    keel_printf("init: start-up done\n");
    print_table();
    supervise();
}
