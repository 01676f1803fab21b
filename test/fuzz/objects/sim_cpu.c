/* The simulated CPU layer under the kernel's object code: what kernel/arch/ and the VSpace code
 * provide, reduced to what the object layer observes. Single host thread; "CPUs" are per-CPU
 * blocks that GS points at in turn (under the big lock only one CPU is in the kernel at a time,
 * so running them one after another loses nothing the object layer can see). Cross-CPU requests
 * are answered at once, as the target CPU's mailbox handler would.
 *
 * Object memory is poisoned (ASan manual poisoning) when the object dies and unpoisoned when an
 * Untyped Retype hands the memory out again, so a stale pointer faults at its first use. The
 * hooks are the linker's --wrap of the calls cnode.c and syscall.c make across files (see
 * CMakeLists.txt): no kernel file knows about them. */
#define _GNU_SOURCE
#include "sim.h"
#include "arch/layout.h"
#include "arch/features.h"
#include "arch/trap.h"
#include "ipc.h"
#include "log.h"
#include "object/cdt.h"
#include "object/endpoint.h"
#include "object/irq.h"
#include "object/retype.h"
#include "object/tcb.h"
#include "object/vspace.h"
#include "panic.h"
#include "sched.h"
#include "smp.h"
#include <asm/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SIM_ASAN 1
#endif
#ifdef SIM_ASAN
#include <sanitizer/asan_interface.h>
#endif

struct percpu sim_cpu[SIM_CPUS];
uint8_t *sim_arena;
unsigned sim_errors_logged;
bool sim_log_verbose;
bool sim_switch_space_slow;
static unsigned current_cpu_index;
void sim_forget_pending(void);

uint32_t cpus_online = SIM_CPUS;
struct big_lock bkl;
struct cpu_features cpu_features;
struct cpu_enabled cpu_enabled; /* no PCID, PKU or 1 GiB pages: none of their paths is simulated */

uint64_t sim_phys(const void *p) { return (uint64_t)p - DIRECT_MAP_BASE; }

void sim_poison(const void *p, size_t n)
{
#ifdef SIM_ASAN
    ASAN_POISON_MEMORY_REGION(p, n);
#else
    (void)p, (void)n;
#endif
}

void sim_unpoison(const void *p, size_t n)
{
#ifdef SIM_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
    (void)p, (void)n;
#endif
}

static bool gs_set;

void sim_enter_cpu(unsigned index)
{
    if (index >= SIM_CPUS)
        abort();
    if (gs_set && index == current_cpu_index)
        return;
    gs_set = true;
    if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)&sim_cpu[index]) != 0) {
        perror("arch_prctl(ARCH_SET_GS)");
        abort();
    }
    current_cpu_index = index;
}

unsigned sim_current_cpu(void) { return current_cpu_index; }

void sim_reset(void)
{
    if (!sim_arena) {
        void *p = 0;
        if (posix_memalign(&p, SIM_ARENA_SIZE, SIM_ARENA_SIZE) != 0)
            abort();
        sim_arena = p;
    }
    /* Boot memory is cleared; the rest is poisoned by the world, and Retype clears what it hands
     * out, so its old contents never matter. */
    sim_unpoison(sim_arena, SIM_ARENA_SIZE);
    memset(sim_arena, 0, SIM_BOOT_MEMORY);
    memset(sim_cpu, 0, sizeof sim_cpu);
    for (unsigned i = 0; i < SIM_CPUS; i++) {
        sim_cpu[i].self = &sim_cpu[i];
        sim_cpu[i].index = i;
        sim_cpu[i].apic_id = i;
    }
    memset(&bkl, 0, sizeof bkl);
    bkl.holder = -1;
    sim_switch_space_slow = false;
    sim_forget_pending();
    sim_enter_cpu(0);
}

/* ---- CPUs, the lock, cross-CPU requests ---- */

struct percpu *cpu_get(uint32_t index) { return index < SIM_CPUS ? &sim_cpu[index] : 0; }

void bkl_wait(uint32_t ticket, bool in_syscall)
{
    (void)in_syscall;
    /* One host thread: a ticket that is not served at once was never released. */
    fprintf(stderr, "sim: big lock not released (ticket %u, serving %u)\n", ticket, bkl.serving);
    abort();
}

void smp_evict(struct tcb *t)
{
    /* The target CPU's mailbox handler, run at once (smp.c: MBOX_EVICT). */
    struct percpu *c = cpu_get(t->cpu);
    if (!c || c == this_cpu() || c->current != t)
        return;
    arch_save_and_forget(t);
    c->current = 0;
    c->ctx_top = 0;
    c->need_resched = true;
}

/* smp.h, where the kernel has it: `t`, running on another CPU, is taken off it and requeued. */
void smp_take_thread(struct tcb *t);
void smp_take_thread(struct tcb *t)
{
    struct percpu *c = cpu_get(t->cpu);
    if (!c || c == this_cpu() || c->current != t)
        return;
    smp_evict(t);
    sched_wake(t);
}

void smp_reschedule(uint32_t index)
{
    struct percpu *c = cpu_get(index);
    if (c && c != this_cpu())
        c->need_resched = true; /* the IPI: the harness runs that CPU's scheduler when it enters it */
}

void smp_mailbox(void) {}
void lapic_eoi(void) {}
void lapic_send_ipi(uint32_t apic_id, uint8_t vector) { (void)apic_id, (void)vector; }

void trap_dispatch(struct trap_frame *f)
{
    if (f->vector == VEC_LAPIC_TIMER)
        sched_tick();
    else if (f->vector == VEC_IPI_RESCHEDULE)
        this_cpu()->need_resched = true;
}

/* ---- threads: address space and FPU switching ---- */

void arch_fpu_init(struct tcb *t) { memset(t->fpu, 0, sizeof t->fpu); }
void arch_save_and_forget(struct tcb *t)
{
    for (unsigned i = 0; i < SIM_CPUS; i++)
        if (sim_cpu[i].fpu_owner == t)
            sim_cpu[i].fpu_owner = 0;
}

bool arch_switch_to(struct tcb *prev, struct tcb *next)
{
    (void)prev;
    if (!vspace_usable(next))
        return false;
    struct percpu *c = this_cpu();
    c->active_vspace = vspace_of_cap(&next->vspace_root.cap);
    c->fpu_owner = next;
    c->ctx_top = (uint64_t)(&next->ctx + 1);
    return true;
}

_Noreturn void arch_return_to_user(void) { abort(); }

/* ---- VSpaces: only the root's existence and ASID matter to the object layer ---- */

void vspace_init_root(uint64_t *pml4)
{
    memset(pml4, 0, 1u << KEEL_PML4_SIZE_BITS);
    ((struct vspace *)((uint8_t *)pml4 + 4096))->asid = 1; /* as if assigned from a pool */
}

void vspace_destroy(struct vspace *vs)
{
    for (unsigned i = 0; i < SIM_CPUS; i++) {
        if (sim_cpu[i].active_vspace == vs)
            sim_cpu[i].active_vspace = 0; /* smp_forget_vspace / vspace_forget_local */
        if (sim_cpu[i].io_vspace == vs)
            sim_cpu[i].io_vspace = 0;
    }
    sim_poison((uint8_t *)vs - 4096, 1u << KEEL_PML4_SIZE_BITS);
}

void vspace_load(struct vspace *vs) { this_cpu()->active_vspace = vs; }
void ioport_switch(struct vspace *vs) { this_cpu()->io_vspace = vs; }
void mapping_cap_deleted(struct cap *c) { (void)c; } /* frames are never mapped here */
void ioport_cap_deleted(struct cap *c) { (void)c; }
void irq_notification_gone(const struct notification *n) { (void)n; }
void irq_handler_destroy(const struct cap *c) { (void)c; }
void asid_pool_destroy(void *pool) { (void)pool; }

/* Invocations of objects the harness never creates. */
#define NOT_SIMULATED(fn)                                                                          \
    int fn(struct invocation *inv) { return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0); }
NOT_SIMULATED(vspace_invoke)
NOT_SIMULATED(paging_invoke)
NOT_SIMULATED(frame_invoke)
NOT_SIMULATED(asid_control_invoke)
NOT_SIMULATED(asid_pool_invoke)
NOT_SIMULATED(irq_control_invoke)
NOT_SIMULATED(irq_handler_invoke)
NOT_SIMULATED(ioport_control_invoke)
NOT_SIMULATED(ioport_invoke)
NOT_SIMULATED(debug_invoke)
int log_invoke(struct invocation *inv); /* the log cap (object/log.h), where the kernel has one */
NOT_SIMULATED(log_invoke)

/* The invariant checker's question about each CPU's VSpace bookkeeping: here only whether a
 * destroyed VSpace is still named (its memory is poisoned by then). */
const char *vspace_cpu_defect(const struct percpu *c, const void **which)
{
    const struct vspace *named[2] = { c->active_vspace, c->io_vspace };
    for (unsigned i = 0; i < 2; i++) {
        *which = named[i];
#ifdef SIM_ASAN
        if (named[i] && __asan_address_is_poisoned(named[i]))
            return "a destroyed VSpace is still loaded";
#endif
    }
    return 0;
}

/* ---- log, console, panic ---- */

static enum log_level level = LOG_WARN;
void log_set_level(enum log_level l) { level = l; }
enum log_level log_get_level(void) { return level; }

void kvlog(enum log_level l, const char *fmt, va_list ap)
{
    if (l == LOG_ERROR)
        sim_errors_logged++;
    if (l > LOG_ERROR && !sim_log_verbose)
        return;
    char buf[512];
    kvsnprintf(buf, sizeof buf, fmt, ap);
    fprintf(stderr, "kernel: %s\n", buf);
}

void klog(enum log_level l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvlog(l, fmt, ap);
    va_end(ap);
}

void kprintf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs(buf, stderr);
}

void console_write(const char *s, size_t n) { (void)s, (void)n; }

_Noreturn void panic(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "kernel panic: %s\n", buf);
    abort();
}

/* ---- poisoning: the linker wraps (--wrap=<symbol>) ---- */

void __real_endpoint_destroy(struct endpoint *ep);
void __wrap_endpoint_destroy(struct endpoint *ep);
void __real_notification_destroy(struct notification *n);
void __wrap_notification_destroy(struct notification *n);
void __real_reply_destroy(struct reply *r);
void __wrap_reply_destroy(struct reply *r);
void __real_tcb_destroy_end(struct tcb *t);
void __wrap_tcb_destroy_end(struct tcb *t);
void __real_cdt_remove(struct cte *slot);
void __wrap_cdt_remove(struct cte *slot);
int __real_untyped_invoke(struct invocation *inv);
int __wrap_untyped_invoke(struct invocation *inv);

void __wrap_endpoint_destroy(struct endpoint *ep)
{
    __real_endpoint_destroy(ep);
    sim_poison(ep, 1u << KEEL_ENDPOINT_SIZE_BITS);
}

void __wrap_notification_destroy(struct notification *n)
{
    __real_notification_destroy(n);
    sim_poison(n, 1u << KEEL_NOTIFICATION_SIZE_BITS);
}

void __wrap_reply_destroy(struct reply *r)
{
    __real_reply_destroy(r);
    sim_poison(r, 1u << KEEL_REPLY_SIZE_BITS);
}

/* Containers (CNodes, TCBs) can die while a slot inside them is still on cap_delete's zombie
 * chain (a CNode holding the last cap to a TCB holding the last cap to that CNode): the walk goes
 * on through that slot before the operation ends. Such a container is poisoned once none of its
 * slots is a zombie any more; every other dead object at once. */
#define CNODE_ZOMBIE_FLAG 0x80u /* object/cnode.c: CAP_FLAG_ZOMBIE */
#define MAX_PENDING 64
static struct {
    struct cte *slots;
    unsigned count;
    void *start;
    size_t bytes;
} pending[MAX_PENDING];
static unsigned pending_count;

void sim_forget_pending(void) { pending_count = 0; }

static bool has_zombie(const struct cte *slots, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        if (slots[i].cap.type != KEEL_CAP_NULL && (slots[i].cap.flags & CNODE_ZOMBIE_FLAG))
            return true;
    return false;
}

static void poison_pending(void)
{
    for (unsigned i = 0; i < pending_count;) {
        if (has_zombie(pending[i].slots, pending[i].count)) {
            i++;
            continue;
        }
        sim_poison(pending[i].start, pending[i].bytes);
        pending[i] = pending[--pending_count];
    }
}

/* `slots` (count of them) are the container's; `start`/`bytes` all its memory. */
static void container_died(struct cte *slots, unsigned count, void *start, size_t bytes)
{
    if (!has_zombie(slots, count)) {
        sim_poison(start, bytes);
        return;
    }
    if (pending_count == MAX_PENDING)
        abort();
    pending[pending_count].slots = slots;
    pending[pending_count].count = count;
    pending[pending_count].start = start;
    pending[pending_count].bytes = bytes;
    pending_count++;
}

void sim_poison_flush(void)
{
    poison_pending();
    if (pending_count) {
        fprintf(stderr, "sim: a dead container still holds a zombie slot after the kernel returned\n");
        abort();
    }
}

void __wrap_tcb_destroy_end(struct tcb *t)
{
    __real_tcb_destroy_end(t);
    container_died(&t->cspace_root, 4, t, 1u << KEEL_TCB_SIZE_BITS);
    poison_pending();
}

/* CNodes and frames have no destroy call: they die when their last cap leaves the tree (a CNode
 * after cap_delete has emptied it). Endpoints, notifications, replies, TCBs and VSpaces are
 * poisoned by their destroy calls above, after the kernel's own teardown. */
void __wrap_cdt_remove(struct cte *slot)
{
    struct cap c = slot->cap;
    bool dies = (c.type == KEEL_OBJ_CNODE || c.type == KEEL_OBJ_FRAME_4K) && cdt_is_final(slot);
    __real_cdt_remove(slot);
    if (dies && c.type == KEEL_OBJ_CNODE)
        container_died((struct cte *)c.obj, 1u << c.radix, (void *)c.obj, (size_t)1 << (c.radix + KEEL_SLOT_SIZE_BITS));
    else if (dies)
        sim_poison(phys_to_virt(c.obj), 4096);
    poison_pending();
}

/* Retype: the memory the kernel is about to hand out becomes addressable first (the kernel
 * clears and initialises it), computed as untyped.c computes it; back to poisoned if the
 * invocation fails. Untyped children stay poisoned: only objects carved from them are used. */
int __wrap_untyped_invoke(struct invocation *inv)
{
    const struct cte *slot = inv->slot;
    void *start = 0;
    size_t bytes = 0;
    if (inv->label == KEEL_UNTYPED_RETYPE && inv->length >= 6) {
        uint64_t type = inv_arg(inv, 0), count = inv_arg(inv, 5), size, align, bad;
        struct retype_plan plan;
        uint64_t available;
        uint64_t watermark = cdt_has_children(slot) ? slot->cap.word2 : 0;
        if (type != KEEL_OBJ_UNTYPED && type < KEEL_OBJECT_TYPE_COUNT && count && count <= 4096 &&
            !object_size((uint32_t)type, inv_arg(inv, 1), false, &size, &align, &bad) &&
            !retype_plan(slot->cap.obj, slot->cap.word1, watermark, size, align, count, &plan, &available)) {
            start = phys_to_virt(plan.first);
            bytes = (size_t)(count * size);
            sim_unpoison(start, bytes);
        }
    }
    int err = __real_untyped_invoke(inv);
    if (err && bytes)
        sim_poison(start, bytes);
    return err;
}
