/* The object harness's machine and world (world.h; the operations are in ops.c). Everything a thread does goes through the
 * kernel's own entry points -- handle_syscall (fastpath and slow path, cap lookup, invocation
 * decoding) and trap_from_user (faults, timer ticks, reschedule IPIs) -- with the thread made
 * current on its CPU first, as the scheduler would have. Management (Retype, Configure, Delete,
 * Revoke, ...) is done by a root thread per CPU through its invocations, like a root task. */
#include "world_internal.h"
#include "arch/layout.h"
#include "arch/trap.h"
#include "ipc.h"
#include "object/cdt.h"
#include "object/cnode.h"
#include "object/debug.h"
#include "object/tcb.h"
#include "object/vspace.h"
#include "sched.h"
#include "sim.h"
#include "smp.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void handle_syscall(void);
void trap_from_user(struct trap_frame *f);

bool world_trace;
bool world_avoid_frames, world_avoid_vspaces;
static bool check_invariants = true;
char world_origin[96];
unsigned long world_steps;

#define UNTYPED_OFFSET (256u << 10)
#define UNTYPED_SIZE (256u << 10)

struct cte *world_slots;
struct tcb *world_root_thread[SIM_CPUS];
static struct cte boot_cnode, boot_pml4, boot_root_tcb[SIM_CPUS]; /* the originals, out of reach of any operation */

/* ---- reports ---- */

#define RECENT 48
static char recent[RECENT][160];

void world_print_recent(void)
{
    fprintf(stderr, "objects harness: %s, step %lu; the last operations:\n", world_origin[0] ? world_origin : "input",
            world_steps);
    unsigned long first = world_steps >= RECENT ? world_steps - RECENT + 1 : 0;
    for (unsigned long i = first; i <= world_steps; i++)
        if (recent[i % RECENT][0])
            fprintf(stderr, "  %s\n", recent[i % RECENT]);
}

unsigned long world_name(const void *p) { return (unsigned long)((const uint8_t *)p - sim_arena); }

static void print_threads(void)
{
    fprintf(stderr, "objects harness: threads (t<arena offset>; arena at %p):\n", (void *)sim_arena);
    for (struct tcb *t = tcb_list; t; t = t->all_next)
        fprintf(stderr, "  t%lx state %u ipc_flags %#x blocked_on %lx cpu %u priority %u%s\n", world_name(t), t->state,
                t->ipc_flags, t->blocked_on ? world_name(t->blocked_on) : 0ul, t->cpu, t->priority,
                t == sim_cpu[0].current ? " (running on cpu 0)" : t == sim_cpu[1].current ? " (running on cpu 1)" : "");
}

_Noreturn void world_fail(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "objects harness: FAILED: %s\n", msg);
    print_threads();
    world_print_recent();
    abort();
}

static char *note_op(void) { return recent[world_steps % RECENT]; }

void world_note(const char *fmt, ...)
{
    char *line = note_op();
    size_t used = strlen(line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + used, sizeof recent[0] - used, fmt, ap);
    va_end(ap);
}

/* ---- the machine ---- */

static void check_lock(void)
{
    if (bkl.next != bkl.serving)
        world_fail("the big lock is still held after a kernel entry (next %u, serving %u)", bkl.next, bkl.serving);
}

/* An world_interrupt or exception on the current CPU, through the kernel's trap entry. The entry code
 * saves the frame into the current thread's TCB; with no thread, the frame is on the stack. */
void world_interrupt(uint64_t vector)
{
    struct tcb *t = this_cpu()->current;
    struct trap_frame idle = { .vector = vector, .cs = 8 };
    struct trap_frame *f = &idle;
    if (t) {
        t->ctx.vector = vector;
        t->ctx.error = 0;
        f = (struct trap_frame *)&t->ctx;
    }
    trap_from_user(f);
    check_lock();
    sim_poison_flush();
}

void world_enter_cpu(unsigned index)
{
    sim_enter_cpu(index);
    if (sim_cpu[index].need_resched || !sim_cpu[index].current)
        world_interrupt(VEC_IPI_RESCHEDULE);
}

bool world_make_current(struct tcb *t)
{
    unsigned home = t->cpu;
    if (home >= SIM_CPUS)
        return false;
    for (unsigned j = 0; j < SIM_CPUS; j++)
        if (j != home && sim_cpu[j].current == t)
            world_enter_cpu(j); /* moved away while running there: that CPU lets go at its next entry */
    world_enter_cpu(home);
    struct percpu *c = &sim_cpu[home];
    if (c->current == t)
        return true;
    if (t->state != TS_RUNNING || !vspace_usable(t))
        return false;
    for (unsigned j = 0; j < SIM_CPUS; j++)
        if (sim_cpu[j].current == t)
            return false;
    struct tcb *prev = c->current;
    if (prev && prev->state == TS_RUNNING && !prev->in_run_queue)
        runq_push(&sim_cpu[prev->cpu < SIM_CPUS ? prev->cpu : home].rq, prev, false);
    if (t->in_run_queue)
        runq_remove(&c->rq, t);
    if (!arch_switch_to(prev, t))
        world_fail("a runnable thread with a VSpace could not be switched to");
    c->current = t;
    return true;
}

void world_syscall(struct tcb *t, uint64_t nr, uint64_t cptr, keel_msginfo_t info, uint64_t reply_cptr)
{
    t->ctx.rax = nr;
    t->ctx.rdi = cptr;
    t->ctx.rsi = info;
    t->ctx.r12 = reply_cptr;
    t->ctx.vector = CTX_SYSCALL_MARKER;
    handle_syscall();
    check_lock();
    sim_poison_flush();
}

uint64_t world_root_call(uint64_t cptr, uint64_t label, unsigned n, const uint64_t *mr, unsigned ncaps,
                          const uint64_t *caps)
{
    struct tcb *r = world_root_thread[0];
    if (r->state != TS_RUNNING)
        world_fail("root thread 0 is not runnable (state %u)", r->state);
    if (!world_make_current(r))
        world_fail("root thread 0 cannot be made current");
    for (unsigned i = 0; i < n; i++)
        msg_set(r, i, mr[i]);
    for (unsigned i = 0; i < ncaps; i++)
        tcb_ipc_buffer(r)->caps[i] = caps[i];
    world_syscall(r, KEEL_SYS_CALL, cptr, keel_msginfo(label, ncaps, n), 0);
    uint64_t info = r->ctx.rax;
    world_note(" -> %s %lu", keel_msg_is_error(info) ? "error" : "ok",
         (unsigned long)(keel_msg_is_error(info) ? keel_msg_label(info) : 0));
    return info;
}

/* ---- the world ---- */

static struct cap make_cap(uint8_t type, const void *obj)
{
    struct cap c = { .type = type, .rights = KEEL_RIGHTS_ALL, .obj = (uint64_t)obj };
    return c;
}

static void install(struct cte *parent, struct cte *slot, struct cap c)
{
    slot->cap = c;
    cdt_insert(parent, slot);
}

static struct tcb *boot_thread(void *mem, unsigned cpu, struct cte *cap_slot)
{
    struct tcb *t = mem;
    tcb_init(t);
    install(0, cap_slot, make_cap(KEEL_OBJ_TCB, t));
    install(&boot_cnode, &t->cspace_root, cap_derive(&boot_cnode.cap));
    install(&boot_pml4, &t->vspace_root, cap_derive(&boot_pml4.cap));
    t->priority = 0;
    t->mcp = 255;
    t->cpu = (uint8_t)cpu;
    t->state = TS_RUNNING;
    t->ctx.rip = 0x400000;
    sim_cpu[cpu].current = t;
    sim_cpu[cpu].active_vspace = vspace_of_cap(&t->vspace_root.cap);
    return t;
}

void world_reset(void)
{
    sim_reset();
    tcb_list = 0;
    memset(&cdt_root, 0, sizeof cdt_root);
    memset(&boot_cnode, 0, sizeof boot_cnode);
    memset(&boot_pml4, 0, sizeof boot_pml4);
    memset(boot_root_tcb, 0, sizeof boot_root_tcb);
    fault_logging = false;
    syscall_set_fastpath(true);
    world_steps = 0;
    memset(recent, 0, sizeof recent);
    const char *trace = getenv("KEEL_OBJFUZZ_TRACE");
    if (trace && *trace == '1')
        world_trace = true;
    /* KEEL_OBJFUZZ_INVARIANTS=0: ASan alone (to see what poisoning catches by itself). */
    const char *invariants = getenv("KEEL_OBJFUZZ_INVARIANTS");
    check_invariants = !(invariants && *invariants == '0');
    const char *avoid = getenv("KEEL_OBJFUZZ_AVOID");
    world_avoid_frames = avoid && strstr(avoid, "frames");
    world_avoid_vspaces = avoid && strstr(avoid, "vspaces");

    /* Boot memory: the root CNode (16 KiB), the two root threads, root thread 0's IPC buffer and
     * a VSpace root; then the Untyped the operations build from, poisoned until retyped. */
    uint8_t *a = sim_arena;
    world_slots = (struct cte *)a;
    boot_cnode.cap = make_cap(KEEL_OBJ_CNODE, world_slots);
    boot_cnode.cap.radix = ROOT_RADIX;
    boot_cnode.cap.guard_bits = ROOT_GUARD_BITS;
    cdt_insert(0, &boot_cnode);
    uint64_t *pml4 = (uint64_t *)(a + (24u << 10));
    vspace_init_root(pml4);
    install(0, &boot_pml4, make_cap(KEEL_OBJ_PML4, pml4));

    world_root_thread[0] = boot_thread(a + (16u << 10), 0, &boot_root_tcb[0]);
    world_root_thread[1] = boot_thread(a + (18u << 10), 1, &boot_root_tcb[1]);
    /* Its IPC buffer: a frame cap in its TCB's buffer slot, as the kernel finds it (tcb_ipc_buffer). */
    struct cap buffer = { .type = KEEL_OBJ_FRAME_4K, .rights = KEEL_RIGHTS_ALL, .obj = sim_phys(a + (20u << 10)) };
    install(0, &world_root_thread[0]->ipc_buffer_frame, buffer);

    install(&boot_cnode, &world_slots[SLOT_CNODE], cap_derive(&boot_cnode.cap));
    install(&boot_root_tcb[0], &world_slots[SLOT_ROOT_TCB], cap_derive(&boot_root_tcb[0].cap));
    struct cap ut = { .type = KEEL_OBJ_UNTYPED, .rights = KEEL_RIGHTS_ALL, .obj = sim_phys(a + UNTYPED_OFFSET),
                      .word1 = UNTYPED_SIZE };
    install(0, &world_slots[SLOT_UNTYPED], ut);
    install(&boot_pml4, &world_slots[SLOT_PML4], cap_derive(&boot_pml4.cap));
    sim_poison(a + UNTYPED_OFFSET, UNTYPED_SIZE);
    sim_enter_cpu(0);
    if (invariants_check())
        world_fail("the initial world breaks an invariant");
}

/* ---- checks after every operation ---- */

static void check_world(void)
{
    if (check_invariants && invariants_check())
        world_fail("the kernel's invariant checker reported the violations above");
    for (struct tcb *t = tcb_list; t; t = t->all_next) {
        bool running = false;
        for (unsigned j = 0; j < SIM_CPUS; j++)
            running |= sim_cpu[j].current == t;
        if (t->state == TS_RUNNING && !t->in_run_queue && !running)
            world_fail("thread t%lx is runnable but neither running nor queued to run (lost)", world_name(t));
    }
    if (world_root_thread[0]->state != TS_RUNNING || world_root_thread[1]->state != TS_RUNNING)
        world_fail("a root thread was stopped");
}

void world_step(const uint8_t op[WORLD_OP_BYTES])
{
    unsigned code = op[0] % WORLD_OP_COUNT;
    uint8_t a = op[1], b = op[2], c = op[3];
    snprintf(note_op(), sizeof recent[0], "%lu: %s %u %u %u:", world_steps, world_op_name(code), a, b, c);
    sim_switch_space_slow = op[0] >= 0x80;
    world_do_op(code, a, b, c);
    if (world_trace) {
        for (unsigned i = 0; i < SIM_CPUS; i++)
            world_note(" [cpu %u: t%lx]", i, sim_cpu[i].current ? world_name(sim_cpu[i].current) : 0ul);
        fprintf(stderr, "%s\n", note_op());
    }
    check_world();
    world_steps++;
    recent[world_steps % RECENT][0] = 0;
}

void world_run(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i + WORLD_OP_BYTES <= n; i += WORLD_OP_BYTES)
        world_step(data + i);
}
