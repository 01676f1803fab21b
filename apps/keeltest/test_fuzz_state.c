/* The stateful, sequence-based guest fuzzer (issue 11). The runner builds a world of objects
 * (test_fuzz_state_world.c) and workers in several VSpaces (test_fuzz_state_worker.c), then
 * takes random steps: it restarts workers on new scripts (faults, Send/Call/Recv with and
 * without reply objects, ReplyRecv, notification waits, cross-CPU Suspends, IRQ routing),
 * receives and answers their calls and faults, suspends, resumes, rewrites the registers of and
 * reprioritises blocked threads, deletes and revokes objects threads are queued on, retypes the
 * freed memory, binds notifications and routes IOAPIC lines with every trigger and polarity.
 * Every `check` steps it runs the kernel's invariant checker and stops at the first report,
 * printing the seed and step to replay with.
 *
 * The runner never blocks: it uses NBSend/NBRecv for IPC, Call only on caps its exact model
 * says are not endpoints, and lets the lower-priority workers run by dropping its own priority
 * below theirs (they always end blocked or suspended: see the worker file).
 *
 * Kernel command line (replay in one boot): keeltest=fuzz_state fuzz.seed=S fuzz.steps=N
 * fuzz.calls=C (stop once this many syscalls were made) fuzz.rounds=R (rounds with seeds S,
 * S+1, ...; a fresh world each) fuzz.check=K (steps between invariant checks) fuzz.trace=T
 * (print every step from step T on) fuzz.progress=P (a line every P steps) fuzz.irq=0 (no IRQ
 * routing). See docs/fuzzing.md. */
#include "test_fuzz_state.h"

#define DEFAULT_SEED 0x6b65656c2d667a31ull
#define DEFAULT_STEPS 4000 /* the ordinary suite: a few seconds */
#define DEFAULT_CHECK 16
#define TRACE_RING 24

struct fz_options {
    uint64_t seed, steps, calls, rounds, check, trace, progress, irq;
};

static struct fz_options read_options(uint64_t seed, uint64_t steps)
{
    struct fz_options o = { seed, steps, 0, 1, DEFAULT_CHECK, 0, 0, 1 };
    char cmd[sizeof(kt_bi->cmdline) + 1];
    memcpy(cmd, kt_bi->cmdline, sizeof(kt_bi->cmdline));
    cmd[sizeof(kt_bi->cmdline)] = 0;
    fz_option(cmd, "fuzz.seed=", &o.seed);
    fz_option(cmd, "fuzz.steps=", &o.steps);
    fz_option(cmd, "fuzz.calls=", &o.calls);
    fz_option(cmd, "fuzz.rounds=", &o.rounds);
    fz_option(cmd, "fuzz.check=", &o.check);
    fz_option(cmd, "fuzz.trace=", &o.trace);
    fz_option(cmd, "fuzz.progress=", &o.progress);
    fz_option(cmd, "fuzz.irq=", &o.irq);
    if (o.calls && !fz_option(cmd, "fuzz.steps=", &o.steps))
        o.steps = ~0ull; /* a call budget alone: as many steps as it takes */
    if (!o.check)
        o.check = DEFAULT_CHECK;
    if (!o.rounds)
        o.rounds = 1;
    return o;
}

/* ---- The trace: the last steps, printed when something fails ---- */

static struct trace_entry {
    uint64_t step;
    const char *what;
    uint64_t a, b;
    int err;
} trace[TRACE_RING];
static uint64_t trace_next;
static uint64_t trace_from; /* print every step from this one on (0: never) */

static void note(uint64_t step, const char *what, uint64_t a, uint64_t b, int err)
{
    trace[trace_next++ % TRACE_RING] = (struct trace_entry){ step, what, a, b, err };
    if (trace_from && step >= trace_from)
        keel_printf("# fz %llu %s %#llx %#llx: %s\n", (unsigned long long)step, what, (unsigned long long)a,
                    (unsigned long long)b, err ? keel_strerror(err) : "ok");
}

static void print_trace(void)
{
    uint64_t first = trace_next > TRACE_RING ? trace_next - TRACE_RING : 0;
    for (uint64_t k = first; k < trace_next; k++) {
        const struct trace_entry *t = &trace[k % TRACE_RING];
        keel_printf("#   step %llu: %s %#llx %#llx -> %s\n", (unsigned long long)t->step, t->what,
                    (unsigned long long)t->a, (unsigned long long)t->b, t->err ? keel_strerror(t->err) : "ok");
    }
}

/* ---- Statistics ---- */

static struct {
    uint64_t steps, faults_received, calls_received, replies, deletes, revokes, arena_revokes, retypes,
        drains, checks, irq_routed[4], irq_refused;
} st;

/* ---- Steps ---- */

static uint64_t step_now;
#define SYS(e) (fz.calls++, (e))

static int live_worker(void)
{
    int start = (int)fz_below(FZ_WORKERS);
    for (int k = 0; k < FZ_WORKERS; k++) {
        int i = (start + k) % FZ_WORKERS;
        if (fz.worker_cell[i] >= 0)
            return i;
    }
    return -1;
}

static uint64_t tcb_of(int i) { return fz.cell[fz.worker_cell[i]].slot; }

/* Let the workers run: below their priorities until they have all blocked or suspended. */
static void drain(void)
{
    st.drains++;
    SYS(keel_tcb_set_priority(KEEL_SLOT_TCB, KEEL_SLOT_TCB, 1));
    SYS(keel_tcb_set_priority(KEEL_SLOT_TCB, KEEL_SLOT_TCB, fz.runner_priority));
}

static void step_restart(void)
{
    int i = live_worker();
    if (i < 0)
        return;
    int err = SYS(keel_tcb_suspend(tcb_of(i)));
    fz_worker_script((unsigned)i);
    struct keel_user_regs r;
    fz_worker_regs((unsigned)i, &r);
    if (!err)
        err = SYS(keel_tcb_write_registers(tcb_of(i), true, &r));
    note(step_now, "restart", (uint64_t)i, fz_workers[i].nops, err);
}

static void step_tcb_control(void)
{
    int i = live_worker();
    if (i < 0)
        return;
    uint64_t tcb = tcb_of(i);
    int err = 0;
    switch (fz_below(9)) {
    case 0: case 1: err = SYS(keel_tcb_suspend(tcb)); note(step_now, "suspend", (uint64_t)i, 0, err); break;
    case 2: case 3: err = SYS(keel_tcb_resume(tcb)); note(step_now, "resume", (uint64_t)i, 0, err); break;
    case 4: { /* rewrite the registers of a thread that may be blocked, and maybe resume it */
        struct keel_user_regs r;
        fz_worker_regs((unsigned)i, &r);
        static char *const rips[] = { fz_gadget_ud2, fz_gadget_badsys };
        uint64_t pick = fz_below(4);
        if (pick < 2)
            r.rip = (uint64_t)rips[pick];
        else if (pick == 2)
            r.rip = FZ_UNMAPPED_VA;
        bool resume = fz_below(2);
        err = SYS(keel_tcb_write_registers(tcb, resume, &r));
        note(step_now, "write_registers", (uint64_t)i, r.rip | resume, err);
        break;
    }
    case 5:
        err = SYS(keel_tcb_set_priority(tcb, KEEL_SLOT_TCB, 2 + fz_below(fz.worker_priority_max - 1)));
        note(step_now, "set_priority", (uint64_t)i, 0, err);
        break;
    case 6:
        err = SYS(keel_tcb_set_affinity(tcb, fz_below(fz.cpus)));
        note(step_now, "set_affinity", (uint64_t)i, 0, err);
        break;
    case 7: { /* fault endpoint and VSpace: image, bare (faults at once) or unchanged */
        int ep = fz_pick_cell(KEEL_OBJ_ENDPOINT), bare = fz_pick_cell(KEEL_OBJ_PML4);
        uint64_t vs = fz_below(3) ? fz.image_vspace[fz_below(FZ_IMAGE_VSPACES)] : bare >= 0 ? fz.cell[bare].slot : 0;
        uint64_t fep = ep >= 0 && fz_below(4) ? fz.cell[ep].slot : 0;
        err = SYS(keel_tcb_configure(tcb, 0, vs, 0, fep, 0, 0, 0));
        note(step_now, "configure", (uint64_t)i, vs << 16 | fep, err);
        break;
    }
    default: {
        int n = fz_pick_cell(KEEL_OBJ_NOTIFICATION);
        if (fz_below(2) && n >= 0) {
            err = SYS(keel_tcb_bind_notification(tcb, fz.cell[n].slot));
            note(step_now, "bind", (uint64_t)i, (uint64_t)n, err);
        } else {
            err = SYS(keel_tcb_unbind_notification(tcb));
            note(step_now, "unbind", (uint64_t)i, 0, err);
        }
        break;
    }
    }
}

/* Receive what a worker sent or a fault, with or without a reply object to hold the caller. */
static void step_receive(void)
{
    bool ntfn = fz_below(6) == 0;
    int c = fz_pick_cell(ntfn ? KEEL_OBJ_NOTIFICATION : KEEL_OBJ_ENDPOINT);
    if (c < 0)
        return;
    int r = fz_below(3) ? fz_pick_cell(KEEL_OBJ_REPLY) : -1;
    uint64_t reply = r >= 0 ? fz.cell[r].slot : 0;
    struct keel_msg m = { 0 };
    fz.calls++;
    int err = keel_nbrecv(fz.cell[c].slot, reply, &m);
    if (!err) {
        uint64_t label = keel_msg_label(m.info);
        if (label >= KEEL_FAULT_VM && label <= KEEL_FAULT_NO_VSPACE && m.badge == 0)
            st.faults_received++;
        else
            st.calls_received++;
    }
    note(step_now, reply ? "nbrecv+reply" : "nbrecv", (uint64_t)c, keel_msg_label(m.info), err);
}

static void step_send(void)
{
    int kind = (int)fz_below(3);
    int c = fz_pick_cell(kind == 0 ? KEEL_OBJ_ENDPOINT : kind == 1 ? KEEL_OBJ_NOTIFICATION : KEEL_OBJ_REPLY);
    if (c < 0)
        return;
    /* A reply: label 0 resumes a faulted thread where it faulted, others leave it stopped. */
    uint64_t label = kind == 2 ? (fz_below(3) ? 0 : 1 + fz_below(3)) : fz_below(8);
    unsigned ncaps = fz_below(4) ? 0 : (unsigned)fz_below(KEEL_MSG_MAX_CAPS + 1);
    struct keel_ipc_buffer *ipc = keel_ipc_buffer();
    for (unsigned k = 0; k < ncaps; k++)
        ipc->caps[k] = fz.cell[fz_any_cell()].slot;
    struct keel_msg m = { .info = keel_msginfo(label, ncaps, fz_below(6)) };
    m.mr[0] = step_now;
    fz.calls++;
    int err = keel_nbsend(fz.cell[c].slot, &m);
    if (kind == 2 && !err)
        st.replies++;
    note(step_now, kind == 0 ? "nbsend" : kind == 1 ? "signal" : "reply", (uint64_t)c, label, err);
}

static const uint8_t retype_types[] = {
    KEEL_OBJ_ENDPOINT, KEEL_OBJ_ENDPOINT, KEEL_OBJ_NOTIFICATION, KEEL_OBJ_REPLY, KEEL_OBJ_REPLY,
    KEEL_OBJ_CNODE, KEEL_OBJ_FRAME_4K, KEEL_OBJ_PML4, KEEL_OBJ_TCB,
};

static void step_cells(void)
{
    int c = fz_any_cell(), err = 0;
    struct fz_cell *cell = &fz.cell[c];
    switch (fz_below(10)) {
    case 0: case 1: case 2: /* delete: threads queued on the object are cancelled */
        err = SYS(keel_cspace_delete(cell->slot));
        if (!err && cell->type != KEEL_CAP_NULL) {
            st.deletes++;
            fz_cell_emptied(c);
        }
        note(step_now, "delete", (uint64_t)c, 0, err);
        break;
    case 3: /* revoke: every copy (and a worker's fault endpoint copy) goes */
        err = SYS(keel_cspace_revoke(cell->slot));
        st.revokes++;
        fz_resync();
        note(step_now, "revoke", (uint64_t)c, 0, err);
        break;
    case 4: case 5: { /* a badged copy (endpoints and notifications), or a plain one */
        int dst = fz_pick_cell(KEEL_CAP_NULL);
        if (dst < 0 || cell->type == KEEL_CAP_NULL || cell->type == KEEL_OBJ_TCB)
            return;
        uint64_t badge = fz_below(2) ? 1 + fz_below(1000) : 0;
        uint64_t rights = fz_below(4) ? KEEL_RIGHTS_ALL : fz_below(16);
        err = SYS(keel_cspace_mint(fz.cell[dst].slot, cell->slot, rights, badge));
        if (!err)
            fz.cell[dst] = (struct fz_cell){ fz.cell[dst].slot, cell->type, cell->arena };
        note(step_now, "mint", (uint64_t)c, (uint64_t)dst, err);
        break;
    }
    case 6: { /* move (not TCBs: a worker knows its TCB's slot) */
        int dst = fz_pick_cell(KEEL_CAP_NULL);
        if (dst < 0 || cell->type == KEEL_CAP_NULL || cell->type == KEEL_OBJ_TCB)
            return;
        err = SYS(keel_cspace_move(fz.cell[dst].slot, cell->slot));
        if (!err) {
            fz.cell[dst] = (struct fz_cell){ fz.cell[dst].slot, cell->type, cell->arena };
            fz_cell_emptied(c);
        }
        note(step_now, "move", (uint64_t)c, (uint64_t)dst, err);
        break;
    }
    default: { /* retype into an empty cell: after revokes, into memory that held other objects */
        c = fz_pick_cell(KEEL_CAP_NULL);
        if (c < 0)
            return;
        uint8_t type = retype_types[fz_below(sizeof retype_types)];
        for (unsigned i = 0; type == KEEL_OBJ_TCB && i < FZ_WORKERS; i++)
            if (fz.worker_cell[i] < 0) {
                err = fz_worker_revive(i);
                note(step_now, "revive", i, (uint64_t)fz.worker_cell[i], err);
                return;
            }
        if (type == KEEL_OBJ_TCB)
            type = KEEL_OBJ_ENDPOINT;
        int a = (int)fz_below(FZ_ARENAS);
        err = SYS(keel_untyped_retype(fz.arena[a], type, type == KEEL_OBJ_CNODE ? 1 + fz_below(4) : 0, 0, 0,
                                      fz.cell[c].slot, 1));
        if (!err) {
            st.retypes++;
            fz.cell[c].type = type;
            fz.cell[c].arena = (int8_t)a;
            if (type == KEEL_OBJ_PML4 && fz_below(4))
                SYS(keel_asid_pool_assign(KEEL_SLOT_ASID_POOL, fz.cell[c].slot, 0));
        }
        note(step_now, "retype", (uint64_t)c, type, err);
        break;
    }
    }
}

/* A dead worker (its TCB deleted or revoked) gets a new TCB, in memory that held other objects. */
static void step_revive(void)
{
    for (unsigned k = 0, i = (unsigned)fz_below(FZ_WORKERS); k < FZ_WORKERS; k++, i = (i + 1) % FZ_WORKERS)
        if (fz.worker_cell[i] < 0) {
            int err = fz_worker_revive(i);
            note(step_now, "revive", i, (uint64_t)fz.worker_cell[i], err);
            return;
        }
}

/* Address spaces: ASID pools made from (and revoked with) arenas, bare VSpaces given ASIDs from
 * them, frames and paging structures mapped into bare VSpaces one level per step (the next
 * missing table is retyped into a cell) and unmapped again. A worker configured into a bare
 * VSpace runs there (its CR3 is loaded) and faults; the VSpace may then die under it and its
 * memory become a CNode (issue 11's Bochs triple fault). */
static void step_vspace(void)
{
    int c, err, pml4 = fz_pick_cell(KEEL_OBJ_PML4);
    switch (fz_below(6)) {
    case 0: {
        if ((c = fz_pick_cell(KEEL_CAP_NULL)) < 0)
            return;
        int a = (int)fz_below(FZ_ARENAS);
        err = SYS(keel_asid_control_make_pool(KEEL_SLOT_ASID_CONTROL, fz.arena[a], fz.cell[c].slot));
        if (!err)
            fz.cell[c] = (struct fz_cell){ fz.cell[c].slot, KEEL_CAP_ASID_POOL, (int8_t)a };
        note(step_now, "make_pool", (uint64_t)c, (uint64_t)a, err);
        break;
    }
    case 1: {
        int pool = fz_pick_cell(KEEL_CAP_ASID_POOL);
        if (pml4 < 0)
            return;
        err = SYS(keel_asid_pool_assign(pool >= 0 && fz_below(2) ? fz.cell[pool].slot : KEEL_SLOT_ASID_POOL,
                                        fz.cell[pml4].slot, 0));
        note(step_now, "asid_assign", (uint64_t)pml4, (uint64_t)pool, err);
        break;
    }
    case 2: case 3: {
        int frame = fz_pick_cell(KEEL_OBJ_FRAME_4K);
        if (frame < 0 || pml4 < 0)
            return;
        /* Where workers' code, IPC buffers or nothing at all would be. */
        uint64_t va = fz_below(2) ? ((uint64_t)fz_worker_entry & ~0xfffull)
                                  : fz_below(2) ? FZ_IPC_VA + fz_below(FZ_WORKERS) * 4096 : fz_below(8) << 21;
        uint64_t access = fz_below(2) ? KEEL_MAP_READ | KEEL_MAP_EXEC : KEEL_MAP_READ | KEEL_MAP_WRITE;
        err = SYS(keel_frame_map(fz.cell[frame].slot, fz.cell[pml4].slot, va, access, KEEL_CACHE_WB));
        uint64_t type = keel_last_error_detail(0);
        if (err == KEEL_E_MISSING_TABLE && (c = fz_pick_cell(KEEL_CAP_NULL)) >= 0 &&
            (type == KEEL_OBJ_PDPT || type == KEEL_OBJ_PD || type == KEEL_OBJ_PT)) {
            int a = (int)fz_below(FZ_ARENAS);
            err = SYS(keel_untyped_retype(fz.arena[a], type, 0, 0, 0, fz.cell[c].slot, 1));
            if (!err) {
                fz.cell[c] = (struct fz_cell){ fz.cell[c].slot, (uint8_t)type, (int8_t)a };
                err = SYS(keel_paging_map(fz.cell[c].slot, fz.cell[pml4].slot, va));
            }
        }
        note(step_now, "map", (uint64_t)frame, va, err);
        break;
    }
    case 4: {
        int frame = fz_pick_cell(KEEL_OBJ_FRAME_4K);
        if (frame < 0)
            return;
        err = SYS(keel_frame_unmap(fz.cell[frame].slot));
        note(step_now, "unmap", (uint64_t)frame, 0, err);
        break;
    }
    default: {
        static const uint8_t tables[] = { KEEL_OBJ_PDPT, KEEL_OBJ_PD, KEEL_OBJ_PT };
        if ((c = fz_pick_cell(tables[fz_below(3)])) < 0)
            return;
        err = SYS(keel_paging_unmap(fz.cell[c].slot));
        note(step_now, "unmap_table", (uint64_t)c, 0, err);
        break;
    }
    }
}

/* Revoke a whole arena: every object in it dies at once, threads queued on them included, and
 * the next retypes reuse the memory. */
static void step_arena_revoke(void)
{
    int a = (int)fz_below(FZ_ARENAS);
    int err = SYS(keel_cspace_revoke(fz.arena[a]));
    fz_arena_revoked(a);
    st.arena_revokes++;
    note(step_now, "arena_revoke", (uint64_t)a, 0, err);
}

/* Route an IOAPIC line with a random trigger and polarity to this CPU, bind it, ack it, or
 * delete the handler. */
static void step_irq(void)
{
    if (!fz.irqs)
        return;
    uint64_t slot = fz.irq_cell[fz_below(FZ_IRQ_CELLS)];
    int err, n = fz_pick_cell(KEEL_OBJ_NOTIFICATION);
    switch (fz_below(4)) {
    case 0: {
        uint64_t mode = fz_below(4);
        err = SYS(keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, fz_below(24), KEEL_IRQ_GSI | mode << 1, slot, 0));
        if (!err)
            st.irq_routed[mode]++;
        else
            st.irq_refused++;
        note(step_now, "irq_get", slot, mode, err);
        break;
    }
    case 1:
        if (n < 0)
            return;
        err = SYS(keel_irq_handler_set_notification(slot, fz.cell[n].slot));
        note(step_now, "irq_set_ntfn", slot, (uint64_t)n, err);
        break;
    case 2:
        err = SYS(keel_irq_handler_ack(slot));
        note(step_now, "irq_ack", slot, 0, err);
        break;
    default:
        err = SYS(keel_cspace_delete(slot));
        note(step_now, "irq_delete", slot, 0, err);
        break;
    }
}

static const struct {
    void (*fn)(void);
    unsigned weight;
    const char *name;
} step_kinds[] = {
    { step_restart, 16, "restart" }, { step_tcb_control, 18, "tcb" }, { step_receive, 14, "recv" },
    { step_send, 10, "send" },       { step_cells, 12, "cells" },     { step_arena_revoke, 1, "arena" },
    { step_irq, 3, "irq" },          { drain, 10, "drain" },          { step_revive, 6, "revive" },
    { step_vspace, 5, "vspace" },
};
#define STEP_KINDS (sizeof step_kinds / sizeof step_kinds[0])
static uint64_t step_tsc[STEP_KINDS], step_count[STEP_KINDS];

static void step(void)
{
    unsigned total = 0;
    for (unsigned k = 0; k < STEP_KINDS; k++)
        total += step_kinds[k].weight;
    unsigned r = (unsigned)fz_below(total), k = 0;
    while (r >= step_kinds[k].weight)
        r -= step_kinds[k++].weight;
    uint64_t t0 = kt_now();
    step_kinds[k].fn();
    step_tsc[k] += kt_now() - t0;
    step_count[k]++;
}

/* Where the time went, per kind of step (on SMP, cross-CPU requests dominate). */
static void print_step_times(uint64_t khz)
{
    char line[400];
    int n = keel_snprintf(line, sizeof line, "#   us per step:");
    for (unsigned k = 0; k < STEP_KINDS && n > 0 && (size_t)n < sizeof line; k++)
        n += keel_snprintf(line + n, sizeof line - (size_t)n, " %s %llu", step_kinds[k].name,
                           (unsigned long long)(step_count[k] ? step_tsc[k] * 1000 / khz / step_count[k] : 0));
    keel_printf("%s\n", line);
}

static uint64_t worker_calls(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < FZ_WORKERS; i++)
        n += fz_workers[i].calls;
    return n;
}

/* One round: a fresh world, `o->steps` steps (or until `o->calls` syscalls), then teardown.
 * False after an invariant report (the test has failed then). */
static bool round_run(const struct fz_options *o, uint64_t seed)
{
    memset(&st, 0, sizeof st);
    memset(step_tsc, 0, sizeof step_tsc);
    memset(step_count, 0, sizeof step_count);
    trace_next = 0;
    fz_seed(seed);
    /* Named first: a kernel panic mid-round still says which seed to replay (find the step
     * with fuzz.progress or fuzz.trace). */
    keel_printf("# fuzz_state: seed %#llx: %llu CPU(s), check every %llu steps\n", (unsigned long long)seed,
                (unsigned long long)kt_bi->cpu_count, (unsigned long long)o->check);
    uint64_t t0 = kt_now();
    EXPECT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, false)); /* workers fault by the thousand */
    int err = fz_world_build();
    if (!ktest_check(err == 0, __FILE__, __LINE__, "seed %#llx: world build failed: %s", (unsigned long long)seed,
                     keel_strerror(err))) {
        fz_world_teardown();
        EXPECT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, true));
        return false;
    }
    fz.calls = 0;
    fz.irqs = fz.irqs && o->irq;
    bool ok = true;
    for (step_now = 1; step_now <= o->steps; step_now++) {
        step();
        st.steps++;
        if (o->progress && step_now % o->progress == 0)
            keel_printf("# fz progress: seed %#llx step %llu, %llu calls\n", (unsigned long long)seed,
                        (unsigned long long)step_now, (unsigned long long)(fz.calls + worker_calls()));
        if (step_now % o->check == 0 || step_now == o->steps) {
            drain();
            uint64_t v = 0;
            st.checks++;
            err = keel_debug_check_invariants(KEEL_SLOT_DEBUG, &v);
            if (err || v) {
                keel_printf("# FUZZ FAILURE: seed %#llx step %llu: %llu invariant violation(s) (%s); replay: "
                            "keeltest=fuzz_state fuzz.seed=%#llx fuzz.steps=%llu fuzz.check=%llu\n",
                            (unsigned long long)seed, (unsigned long long)step_now, (unsigned long long)v,
                            keel_strerror(err), (unsigned long long)seed, (unsigned long long)step_now,
                            (unsigned long long)o->check);
                print_trace();
                ktest_check(false, __FILE__, __LINE__, "seed %#llx step %llu: %llu invariant violation(s)",
                            (unsigned long long)seed, (unsigned long long)step_now, (unsigned long long)v);
                ok = false;
                break;
            }
            if (o->calls && fz.calls + worker_calls() >= o->calls)
                break;
        }
    }
    EXPECT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, true));
    uint64_t runner = fz.calls, workers = worker_calls(), faults = 0;
    if (ok && o->calls)
        ktest_check(runner + workers >= o->calls, __FILE__, __LINE__, "seed %#llx: %llu calls, fewer than %llu",
                    (unsigned long long)seed, (unsigned long long)(runner + workers), (unsigned long long)o->calls);
    for (unsigned i = 0; i < FZ_WORKERS; i++)
        faults += fz_workers[i].faults;
    fz_world_teardown();
    uint64_t khz = kt_bi->tsc_khz ? kt_bi->tsc_khz : 1000000;
    uint64_t ms = (kt_now() - t0) / khz;
    keel_printf("# fuzz_state: seed %#llx: %llu steps, %llu calls (runner %llu, workers %llu), %llu checks, "
                "%llu ms, %llu calls/s, %s\n",
                (unsigned long long)seed, (unsigned long long)st.steps, (unsigned long long)(runner + workers),
                (unsigned long long)runner, (unsigned long long)workers, (unsigned long long)st.checks,
                (unsigned long long)ms, (unsigned long long)(ms ? (runner + workers) * 1000 / ms : 0),
                ok ? "0 invariant reports" : "INVARIANT REPORT");
    keel_printf("#   worker faults %llu, faults received %llu, calls received %llu, replies %llu, deletes %llu, "
                "revokes %llu, arena revokes %llu, retypes %llu, drains %llu, irq routed edge/high %llu "
                "edge/low %llu level/high %llu level/low %llu (refused %llu)\n",
                (unsigned long long)faults, (unsigned long long)st.faults_received,
                (unsigned long long)st.calls_received, (unsigned long long)st.replies,
                (unsigned long long)st.deletes, (unsigned long long)st.revokes,
                (unsigned long long)st.arena_revokes, (unsigned long long)st.retypes,
                (unsigned long long)st.drains, (unsigned long long)st.irq_routed[0],
                (unsigned long long)st.irq_routed[1], (unsigned long long)st.irq_routed[2],
                (unsigned long long)st.irq_routed[3], (unsigned long long)st.irq_refused);
    print_step_times(khz);
    return ok;
}

static void fuzz_state(uint64_t seed, uint64_t steps)
{
    struct fz_options o = read_options(seed, steps);
    trace_from = o.trace;
    memset(&fz, 0, sizeof fz);
    for (uint64_t r = 0; r < o.rounds; r++)
        if (!round_run(&o, o.seed + r))
            break;
    /* We are still in charge. */
    struct keel_tcb_info self;
    ASSERT_OK(keel_tcb_get_info(KEEL_SLOT_TCB, &self));
    EXPECT_EQ(self.state, KEEL_THREAD_RUNNING);
    EXPECT_EQ(self.priority, fz.runner_priority);
}

KEEL_TEST(fuzz_state)
{
    fuzz_state(DEFAULT_SEED, DEFAULT_STEPS);
}
