/* Interrupt paths on several CPUs: every taken interrupt must be acknowledged (EOI) exactly once,
 * or the LAPIC keeps its priority class in service and that CPU takes no more timer ticks or IPIs
 * (then the next cross-CPU request to it never completes: the "--smp 4 wedge" of issue 11).
 *
 * - WriteRegisters of a thread running on another CPU, thousands of times: the writes land in
 *   the thread's register file, which is also where that CPU's interrupt entry saves the frame
 *   it is handling; the interrupt must still be handled as the interrupt it was.
 * - IRQ-control Get of every IOAPIC line in every trigger mode and polarity (edge/level,
 *   active-high/low), routed from each CPU in turn, bound, acked while the line fires, cleared
 *   and deleted, while threads on the other CPUs keep the shootdown mailbox busy.
 * After each, every CPU must still take timer ticks and answer a shootdown. (Debug kernels also
 * check every interrupt's EOI as it happens: a panic names the vector.) */
#include "ktest.h"

#define DBG KEEL_SLOT_DEBUG
#define VS KEEL_SLOT_VSPACE
#define IRQ_VA 0x0000004100000000ull

static bool need_cpus(uint32_t n)
{
    if (kt_bi->cpu_count >= n)
        return true;
    ktest_skip("needs more CPUs");
    return false;
}

static int pinned_thread(void (*fn)(void *), void *arg, uint64_t cpu, struct keel_thread **out)
{
    int err = kt_thread_prepare(fn, arg, out);
    if (!err)
        err = keel_tcb_set_affinity((*out)->tcb, cpu);
    return err ? err : keel_thread_start(*out);
}

struct spinner {
    volatile uint64_t count;
    volatile int stop;
};

static void spin(void *arg)
{
    struct spinner *s = arg;
    while (!s->stop)
        s->count++;
}

/* The timer ticks of every CPU must advance: false (with a message) for the first that does not
 * within a few seconds. */
static bool every_cpu_ticks(const char *when)
{
    for (uint64_t cpu = 0; cpu < kt_bi->cpu_count; cpu++) {
        struct keel_cpu_state a, b;
        if (keel_debug_cpu_state(DBG, cpu, &a))
            return false;
        b = a;
        for (uint64_t t0 = kt_now(); b.ticks < a.ticks + 3 && kt_patient(t0);) {
            keel_yield();
            if (keel_debug_cpu_state(DBG, cpu, &b))
                return false;
        }
        if (b.ticks < a.ticks + 3) {
            ktest_check(false, __FILE__, __LINE__, "%s: CPU %llu took no timer tick in 5 s (ticks %llu, running %llu, "
                        "unanswered requests %llu)", when, (unsigned long long)cpu, (unsigned long long)b.ticks,
                        (unsigned long long)b.running, (unsigned long long)b.unanswered);
            return false;
        }
    }
    return true;
}

/* ---- WriteRegisters racing the interrupts of the CPU that runs the thread ---- */

static struct spinner wr_spin;

static __attribute__((noreturn)) void spin_forever(void *arg)
{
    struct spinner *s = arg;
    for (;;)
        s->count++;
}

KEEL_TEST(irq_write_registers_of_running_thread)
{
    if (!need_cpus(2))
        return;
    wr_spin = (struct spinner){ 0 };
    struct keel_thread *t;
    ASSERT_OK(pinned_thread(spin, &wr_spin, 1, &t));
    ASSERT_TRUE(kt_wait_flag((volatile int *)&wr_spin.count));
    struct keel_user_regs regs;
    ASSERT_OK(keel_tcb_read_registers(t->tcb, &regs));
    static uint8_t stack[4096] __attribute__((aligned(16)));
    /* A fresh start in spin_forever on its own stack each time: whatever instant the write lands,
     * the thread goes on spinning (as if called: RSP 8 below a 16-byte boundary). */
    regs.rip = (uint64_t)spin_forever;
    regs.rsp = (uint64_t)(stack + sizeof stack - 8);
    regs.rdi = (uint64_t)&wr_spin;
    /* Timer ticks on CPU 1 arrive at 100 Hz; each write holds the lock for a few microseconds, so
     * over 2 s many ticks find the lock taken and wait for it, frame saved, while a write lands. */
    uint64_t writes = 0;
    for (uint64_t t0 = kt_now(); writes < 5000 && kt_now() - t0 < kt_bi->tsc_khz * 2000; writes++)
        ASSERT_OK(keel_tcb_write_registers(t->tcb, false, &regs));
    keel_printf("#   %llu writes\n", (unsigned long long)writes);
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(t->tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_RUNNING); /* no fault made up from a rewritten frame */
    uint64_t before = wr_spin.count;
    for (uint64_t t0 = kt_now(); wr_spin.count == before && kt_patient(t0);)
        keel_yield();
    EXPECT_NE(wr_spin.count, before);
    EXPECT_TRUE(every_cpu_ticks("after WriteRegisters of a running thread"));
    EXPECT_OK(keel_tcb_suspend(t->tcb)); /* an eviction: CPU 1 must answer its mailbox */
    EXPECT_TRUE(writes >= 20);
}

/* Maps `frame` at IRQ_VA, making the paging structures it lacks. */
static int map_frame(uint64_t frame)
{
    int err = 0;
    for (int tries = 0; tries < 4; tries++) {
        err = keel_frame_map(frame, VS, IRQ_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, 0);
        if (err != KEEL_E_MISSING_TABLE)
            return err;
        uint64_t table;
        if ((err = kt_new(keel_last_error_detail(0), 0, &table)) || (err = keel_paging_map(table, VS, IRQ_VA)))
            return err;
    }
    return err;
}

/* ---- Every IOAPIC line in every mode, routed from every CPU, under shootdowns ---- */

struct router {
    uint64_t ntfn, first_slot;
    uint32_t lines;
    volatile int done, err, err_line, err_flags, err_step, fired;
    volatile int want_bind, bound; /* SetNotification carries a cap: an IPC buffer, the root task's */
};

static const uint64_t modes[4] = {
    KEEL_IRQ_GSI,
    KEEL_IRQ_GSI | KEEL_IRQ_ACTIVE_LOW,
    KEEL_IRQ_GSI | KEEL_IRQ_LEVEL,
    KEEL_IRQ_GSI | KEEL_IRQ_LEVEL | KEEL_IRQ_ACTIVE_LOW,
};

/* Runs on the CPU being tested: the lines route to the CPU that asks for them. */
static void route_all(void *arg)
{
    struct router *r = arg;
    for (uint32_t line = 0; line < r->lines && !r->err; line++) {
        for (unsigned m = 0; m < 4 && !r->err; m++) {
            uint64_t slot = r->first_slot, gsi;
            int step = 0, err = keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, line, modes[m], slot, &gsi);
            if (err == KEEL_E_REVOKE_FIRST)
                break; /* someone else's line */
            if (!err && (step = 1)) {
                r->bound = 0;
                r->want_bind = 1;
                while (!r->bound)
                    keel_yield();
                err = r->bound < 0 ? KEEL_E_INVALID_CAPABILITY : 0;
            }
            /* Let it fire: each firing masks the line until the Ack; a line that asserts forever
             * fires again at once and must still leave the CPU its timer and IPIs. */
            for (unsigned i = 0; !err && i < 200; i++) {
                uint64_t word;
                if (keel_poll(r->ntfn, &word) == 0) {
                    r->fired++;
                    step = 2;
                    err = keel_irq_handler_ack(slot);
                }
            }
            if (!err && (step = 3))
                err = keel_irq_handler_clear(slot);
            int del = keel_cspace_delete(slot);
            if (err || del) {
                r->err = err ? err : del;
                r->err_line = (int)line;
                r->err_flags = (int)modes[m];
                r->err_step = err ? step : 4;
            }
        }
    }
    r->done = 1;
    for (;;)
        keel_yield();
}

KEEL_TEST(irq_every_line_and_mode_from_every_cpu)
{
    uint64_t frame, ntfn, slot;
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &frame));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(kt_slot(&slot));
    uint32_t ncpu = kt_bi->cpu_count < 4 ? kt_bi->cpu_count : 4;
    /* Spinners on CPUs 1.. run in this VSpace: each Unmap below is a shootdown to them. */
    static struct spinner spinners[3];
    struct keel_thread *spinner_threads[3];
    for (uint32_t cpu = 1; cpu < ncpu; cpu++) {
        spinners[cpu - 1] = (struct spinner){ 0 };
        ASSERT_OK(pinned_thread(spin, &spinners[cpu - 1], cpu, &spinner_threads[cpu - 1]));
    }
    /* One router thread, moved to each CPU in turn and started afresh there. */
    static struct router r;
    static uint8_t router_stack[8192] __attribute__((aligned(16)));
    struct keel_thread *router;
    ASSERT_OK(kt_thread_prepare(route_all, &r, &router));
    struct keel_user_regs regs = { 0 };
    regs.fs_base = (uint64_t)&router->tls; /* its thread-local block, as keel_thread_start sets it */
    regs.rflags = 0x202;
    regs.rip = (uint64_t)route_all;
    regs.rsp = (uint64_t)(router_stack + sizeof router_stack - 8);
    regs.rdi = (uint64_t)&r;
    for (uint32_t cpu = 0; cpu < ncpu; cpu++) {
        /* Every IOAPIC of QEMU and Bochs has 24 pins; Get answers E_RANGE past the last one. */
        r = (struct router){ .ntfn = ntfn, .first_slot = slot, .lines = 24 };
        ASSERT_OK(keel_tcb_set_affinity(router->tcb, cpu));
        ASSERT_OK(keel_tcb_write_registers(router->tcb, true, &regs));
        uint64_t cycles = 0;
        for (uint64_t t0 = kt_now(); !r.done && kt_patient(t0); cycles++) {
            if (r.want_bind) {
                r.want_bind = 0;
                r.bound = keel_irq_handler_set_notification(slot, ntfn) ? -1 : 1;
                t0 = kt_now(); /* patience counts from the last step of the router */
            }
            ASSERT_OK(map_frame(frame));
            *(volatile uint64_t *)IRQ_VA = cycles;
            ASSERT_OK(keel_frame_unmap(frame));
            if (cpu == 0)
                keel_yield(); /* the router shares this CPU */
        }
        ASSERT_OK(keel_tcb_suspend(router->tcb));
        ASSERT_TRUE(r.done);
        if (r.err && r.err != KEEL_E_RANGE)
            ktest_check(false, __FILE__, __LINE__, "CPU %u: line %d flags %#x, step %d: %s", cpu, r.err_line,
                        r.err_flags, r.err_step, keel_strerror(r.err));
        keel_printf("#   lines routed to CPU %u: %llu map/unmap cycles meanwhile, %d firings\n", cpu,
                    (unsigned long long)cycles, r.fired);
        keel_cspace_delete(slot);
        if (!every_cpu_ticks("after routing every line"))
            return;
    }
    for (uint32_t cpu = 1; cpu < ncpu; cpu++) {
        spinners[cpu - 1].stop = 1;
        EXPECT_OK(keel_tcb_suspend(spinner_threads[cpu - 1]->tcb));
    }
}
