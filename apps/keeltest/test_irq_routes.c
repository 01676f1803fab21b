/* Interrupt paths on several CPUs: every taken interrupt must be acknowledged (EOI) exactly once,
 * or the LAPIC keeps its priority class in service and that CPU takes no more timer ticks or IPIs
 * (then the next cross-CPU request to it never completes: the "--smp 4 wedge" of issue 11).
 *
 * - WriteRegisters of a thread running on another CPU, thousands of times: the writes land in
 *   the thread's register file, which is also where that CPU's interrupt entry saves the frame
 *   it is handling; the interrupt must still be handled as the interrupt it was.
 * - Every IOAPIC line in every trigger mode and polarity (edge/level, active-high/low): IRQ-control
 *   Get, bind, Ack, Clear, Delete, routed from the CPUs in turn; and a line that really fires (the
 *   RTC's periodic interrupt, GSI 8) in every mode from every CPU: each firing masks the line until
 *   the Ack, also while a level-triggered line stays asserted, and the Ack fires it again at once.
 *   Meanwhile the other CPUs take shootdowns.
 * After each, every CPU must still take timer ticks. (Debug kernels also check every interrupt's
 * EOI as it happens: a panic names the vector.) */
#include "ktest.h"
#include <keel/portio.h>

#define DBG KEEL_SLOT_DEBUG
#define VS KEEL_SLOT_VSPACE
#define IRQ_VA 0x0000004100000000ull

/* ---- Patience in the guest's time ----
 * On a loaded host (2 cores, load 10) the emulated CPUs of a 4-CPU guest were measured runnable
 * but not running 75% of the wall time, and they spend much of the rest spinning for the big
 * lock with interrupts off behind a CPU the host preempted: one Unmap then takes up to 3 s of
 * wall time, and a CPU goes 5 s without a tick. A healthy kernel fails wall-clock budgets there.
 * The timer ticks a CPU takes count only time it ran with interrupts on, so a wait gives up when
 * - the CPU doing the awaited work took PATIENCE_S seconds of ticks without progress (it had the
 *   time: the work is stuck), or
 * - some CPU took fewer than 2 ticks while another took PATIENCE_S seconds of them (it takes no
 *   interrupts: the failure these tests look for), or
 * - WALL_LIMIT_S seconds of wall time passed without either (nothing runs at all). */
#define PATIENCE_S 3
#define WALL_LIMIT_S 120
#define CHECKED_CPUS 16

struct patience {
    int cpu; /* whose progress is awaited; -1: none in particular */
    bool based;
    uint64_t wall0, sampled, hz, n;
    uint64_t ticks0[CHECKED_CPUS], delta[CHECKED_CPUS];
    char verdict[160];
};

static void patience_start(struct patience *p, int cpu)
{
    struct keel_kernel_info ki;
    uint64_t hz = keel_debug_kernel_info(DBG, &ki) == 0 && ki.timer_hz ? ki.timer_hz : 100;
    *p = (struct patience){ .cpu = cpu, .wall0 = kt_now(), .hz = hz };
    p->n = kt_bi->cpu_count < CHECKED_CPUS ? kt_bi->cpu_count : CHECKED_CPUS;
}

/* Progress seen: count from now. */
static void patience_renew(struct patience *p)
{
    p->based = false;
    p->wall0 = kt_now();
}

static bool patience_left(struct patience *p)
{
    uint64_t now = kt_now(), ms = kt_bi->tsc_khz ? kt_bi->tsc_khz : 1000000;
    if (p->based && now - p->sampled < 10 * ms)
        return true;
    p->sampled = now;
    uint64_t ticks[CHECKED_CPUS], most = 0, busiest = 0, limit = PATIENCE_S * p->hz;
    for (uint64_t c = 0; c < p->n; c++) {
        struct keel_cpu_state st;
        if (keel_debug_cpu_state(DBG, c, &st)) {
            keel_snprintf(p->verdict, sizeof p->verdict, "Debug CPUState %llu failed", (unsigned long long)c);
            return false;
        }
        ticks[c] = st.ticks;
    }
    if (!p->based) {
        for (uint64_t c = 0; c < p->n; c++)
            p->ticks0[c] = ticks[c], p->delta[c] = 0;
        p->based = true;
        return true;
    }
    for (uint64_t c = 0; c < p->n; c++) {
        p->delta[c] = ticks[c] - p->ticks0[c];
        if (p->delta[c] > most)
            most = p->delta[c], busiest = c;
    }
    if (p->cpu >= 0 && p->delta[p->cpu] >= limit) {
        keel_snprintf(p->verdict, sizeof p->verdict, "no progress while CPU %d took %llu timer ticks", p->cpu,
                      (unsigned long long)p->delta[p->cpu]);
        return false;
    }
    for (uint64_t c = 0; c < p->n; c++)
        if (p->delta[c] < 2 && most >= limit) {
            keel_snprintf(p->verdict, sizeof p->verdict, "CPU %llu took %llu timer ticks while CPU %llu took %llu",
                          (unsigned long long)c, (unsigned long long)p->delta[c], (unsigned long long)busiest,
                          (unsigned long long)most);
            return false;
        }
    if (now - p->wall0 > WALL_LIMIT_S * 1000 * ms) {
        keel_snprintf(p->verdict, sizeof p->verdict, "no progress in %d s of wall time (most ticks on a CPU: %llu)",
                      WALL_LIMIT_S, (unsigned long long)most);
        return false;
    }
    return true;
}

static void spin_us(uint64_t us)
{
    for (uint64_t t0 = kt_now(); kt_now() - t0 < us * kt_bi->tsc_khz / 1000;)
        __asm__ volatile("pause");
}

/* Waits until *count differs from `from`, with the patience of the CPU it runs on. */
static bool wait_count_moves(volatile uint64_t *count, uint64_t from, int cpu, const char *what)
{
    struct patience p;
    patience_start(&p, cpu);
    while (*count == from) {
        if (!patience_left(&p))
            return ktest_check(false, __FILE__, __LINE__, "%s: %s", what, p.verdict);
        keel_yield();
    }
    return true;
}

/* Every CPU takes timer ticks: false (with a message) when one does not. */
static bool every_cpu_ticks(const char *when)
{
    struct patience p;
    patience_start(&p, -1);
    for (;;) {
        if (!patience_left(&p))
            return ktest_check(false, __FILE__, __LINE__, "%s: %s", when, p.verdict);
        bool all = p.based;
        for (uint64_t c = 0; all && c < p.n; c++)
            all = p.delta[c] >= 2;
        if (all)
            return true;
        keel_yield();
        p.sampled = 0; /* sample again at once */
    }
}

/* ---- WriteRegisters racing the interrupts of the CPU that runs the thread ---- */

static struct kt_spinner wr_spin;

static __attribute__((noreturn)) void spin_forever(void *arg)
{
    struct kt_spinner *s = arg;
    for (;;)
        s->count++;
}

KEEL_TEST(irq_write_registers_of_running_thread)
{
    if (!kt_need_cpus(2))
        return;
    wr_spin = (struct kt_spinner){ 0 };
    struct keel_thread *t;
    ASSERT_OK(kt_pinned_thread(kt_spin, &wr_spin, 1, &t));
    ASSERT_TRUE(wait_count_moves(&wr_spin.count, 0, 1, "the thread on CPU 1 does not start"));
    struct keel_user_regs regs;
    ASSERT_OK(keel_tcb_read_registers(t->tcb, &regs));
    static uint8_t stack[4096] __attribute__((aligned(16)));
    /* A fresh start in spin_forever on its own stack each time: whatever instant the write lands,
     * the thread goes on spinning (as if called: RSP 8 below a 16-byte boundary). */
    regs.rip = (uint64_t)spin_forever;
    regs.rsp = (uint64_t)(stack + sizeof stack - 8);
    regs.rdi = (uint64_t)&wr_spin;
    /* Timer ticks on CPU 1 arrive at 100 Hz; each write holds the lock for a few microseconds, so
     * over 1 s of CPU 1's ticks many find the lock taken and wait for it, frame saved, while a
     * write lands. Between writes a pause of 0-127 us lets CPU 1 back into user mode (back to back,
     * the writes keep it in the kernel answering evictions, interrupts off). Counted in CPU 1's
     * ticks: on a loaded host a single write took 500 ms of wall time. */
    struct keel_cpu_state st0, st;
    ASSERT_OK(keel_debug_cpu_state(DBG, 1, &st0));
    st = st0;
    uint64_t writes = 0, t0 = kt_now(), wall_cap = kt_bi->tsc_khz * 30000;
    while (writes < 20000 && (writes < 50 || st.ticks < st0.ticks + 100) && kt_now() - t0 < wall_cap) {
        ASSERT_OK(keel_tcb_write_registers(t->tcb, false, &regs));
        if (++writes % 16 == 0)
            ASSERT_OK(keel_debug_cpu_state(DBG, 1, &st));
        spin_us(writes % 128);
    }
    keel_printf("#   %llu writes while CPU 1 took %llu ticks\n", (unsigned long long)writes,
                (unsigned long long)(st.ticks - st0.ticks));
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(t->tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_RUNNING); /* no fault made up from a rewritten frame */
    EXPECT_TRUE(wait_count_moves(&wr_spin.count, wr_spin.count, 1, "the rewritten thread does not run"));
    EXPECT_TRUE(every_cpu_ticks("after WriteRegisters of a running thread"));
    EXPECT_OK(keel_tcb_suspend(t->tcb)); /* an eviction: CPU 1 must answer its mailbox */
    EXPECT_TRUE(writes >= 50);
}

/* ---- Every IOAPIC line in every mode, routed from every CPU, under shootdowns ---- */

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

/* The MC146818 RTC's periodic interrupt: a device line we can raise at will in QEMU and Bochs.
 * It stays raised until register C is read (a level source); with it enabled the RTC raises it
 * again every period after that (edges for an edge-triggered line). */
#define RTC_GSI 8
#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define RTC_A 0x0a
#define RTC_B 0x0b
#define RTC_C 0x0c
#define RTC_B_PERIODIC 0x40
#define RTC_A_1024HZ 0x26 /* 32.768 kHz time base, rate 6 */
#define RTC_FIRINGS 4

static uint8_t rtc_read(uint8_t reg)
{
    outb(RTC_INDEX, reg);
    return inb(RTC_DATA);
}

static void rtc_write(uint8_t reg, uint8_t v)
{
    outb(RTC_INDEX, reg);
    outb(RTC_DATA, v);
}

static void rtc_periodic(bool on)
{
    if (on)
        rtc_write(RTC_A, RTC_A_1024HZ);
    uint8_t b = rtc_read(RTC_B);
    rtc_write(RTC_B, on ? b | RTC_B_PERIODIC : b & (uint8_t)~RTC_B_PERIODIC);
    (void)rtc_read(RTC_C); /* ends (or re-arms) the interrupt */
}

static const uint64_t modes[4] = {
    KEEL_IRQ_GSI,
    KEEL_IRQ_GSI | KEEL_IRQ_ACTIVE_LOW,
    KEEL_IRQ_GSI | KEEL_IRQ_LEVEL,
    KEEL_IRQ_GSI | KEEL_IRQ_LEVEL | KEEL_IRQ_ACTIVE_LOW,
};

struct router {
    uint64_t ntfn, idle, slot;
    uint32_t cpu, ncpu;
    volatile uint64_t steps, rtc_firings, latched, other_firings, skipped;
    volatile int done, failed, line, mode, err;
    const char *volatile what;
};

/* One step of the router: true if it gave `want`; the first that did not is recorded. */
static bool step(struct router *r, int got, int want, const char *what)
{
    r->steps++;
    if (got == want)
        return true;
    if (!r->failed) {
        r->err = got;
        r->what = what;
        r->failed = 1;
    }
    return false;
}

static void drain(struct router *r)
{
    uint64_t word;
    while (keel_poll(r->ntfn, &word) == 0)
        ;
}

/* Get and bind. A line that has a handler already (E_REVOKE_FIRST) is skipped if `may_be_taken`. */
static bool take_line(struct router *r, uint32_t line, unsigned m, bool may_be_taken, bool *skipped)
{
    r->line = (int)line;
    r->mode = (int)m;
    int got = keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, line, modes[m], r->slot, 0);
    *skipped = may_be_taken && got == KEEL_E_REVOKE_FIRST;
    if (*skipped) {
        r->steps++;
        r->skipped++;
        return false;
    }
    return step(r, got, 0, "Get") && step(r, keel_irq_handler_set_notification(r->slot, r->ntfn), 0, "SetNotification");
}

/* Clear masks the line and unbinds it: nothing arrives afterwards, and there is nothing to Ack. */
static bool release_line(struct router *r, bool ok)
{
    ok = ok && step(r, keel_irq_handler_clear(r->slot), 0, "Clear");
    drain(r);
    ok = ok && step(r, keel_irq_handler_ack(r->slot), KEEL_E_ILLEGAL_OPERATION, "Ack after Clear");
    return step(r, keel_cspace_delete(r->slot), 0, "Delete") && ok;
}

/* A line without a device that we can drive: route, bind, Ack, release. */
static bool other_line(struct router *r, uint32_t line, unsigned m)
{
    bool skipped; /* a handler of an earlier test, or of the running system */
    bool ok = take_line(r, line, m, true, &skipped);
    if (skipped)
        return true;
    uint64_t word;
    if (ok && keel_poll(r->ntfn, &word) == 0)
        r->other_firings++; /* a device is there (the PIT on GSI 2, a PCI function's INTx) */
    ok = ok && step(r, keel_irq_handler_ack(r->slot), 0, "Ack");
    return release_line(r, ok);
}

/* The RTC's line in mode m: RTC_FIRINGS firings, each masking the line until its Ack. */
static bool rtc_line(struct router *r, unsigned m)
{
    bool skipped;
    bool ok = take_line(r, RTC_GSI, m, false, &skipped); /* this test needs the RTC's line */
    /* When the interrupt is ended (register C read) decides what the line does:
     * - active-high level: not before the Ack, so the line stays asserted and every Ack must fire
     *   it again at once (a line that asserts forever);
     * - edge: after the Ack. A masked pin ignores edges (82093AA; Bochs does, QEMU sees every
     *   periodic raise as an edge), and the RTC raises its line once and holds it until C is
     *   read: read before the Ack, the next edge would come while masked and be the last;
     * - active-low level: before the Ack (the line is low then: asserted on a model that honours
     *   the polarity, and raised again a period later on one that does not: it fires either way). */
    bool level = modes[m] & KEEL_IRQ_LEVEL, keep_asserted = level && !(modes[m] & KEEL_IRQ_ACTIVE_LOW);
    rtc_periodic(true);
    for (unsigned f = 0; ok && f < RTC_FIRINGS; f++) {
        uint64_t word;
        if (!(ok = step(r, keel_wait(r->ntfn, &word), 0, "wait for the RTC")))
            break;
        r->rtc_firings++;
        /* An edge that reached the CPU before the kernel masked the line is taken right after the
         * first (the next period is 1 ms away): it is no loss, not a second firing. A level line
         * cannot do that: it is not delivered again before the EOI, which comes after the mask. */
        if (!level && keel_poll(r->ntfn, &word) == 0)
            r->latched++;
        if (level && (!keep_asserted || f == RTC_FIRINGS - 1))
            (void)rtc_read(RTC_C);
        /* Masked by its firing: the line stays asserted or is raised again within the 2 ms, yet
         * nothing may arrive before the Ack. */
        spin_us(2000);
        ok = step(r, keel_poll(r->ntfn, &word), KEEL_E_WOULD_BLOCK, "a second firing before the Ack") &&
             step(r, keel_irq_handler_ack(r->slot), 0, "Ack");
        if (!level)
            (void)rtc_read(RTC_C);
    }
    rtc_periodic(false);
    return release_line(r, ok);
}

/* Runs on the CPU being tested: a line routes to the CPU that asks for it. */
static void route_lines(void *arg)
{
    struct router *r = arg;
    drain(r);
    for (uint32_t line = 0; line < 24 && !r->failed; line++)
        for (unsigned m = 0; m < 4 && !r->failed; m++) {
            if (line == RTC_GSI)
                rtc_line(r, m);
            else if ((line * 4 + m) % r->ncpu == r->cpu) /* each once, spread over the CPUs */
                other_line(r, line, m);
        }
    r->done = 1;
    uint64_t word;
    for (;;)
        keel_wait(r->idle, &word); /* never signalled: the test suspends this thread */
}

static uint8_t router_ipc[4096] __attribute__((aligned(4096))); /* SetNotification carries a cap */
static uint8_t router_stack[8192] __attribute__((aligned(16)));

static int router_thread(struct router *r, struct keel_thread *t)
{
    uint64_t ipc = 0;
    for (uint64_t s = kt_bi->image_frames.start; s < kt_bi->image_frames.end && !ipc; s++) {
        struct keel_frame_info fi;
        if (keel_frame_get_address(s, &fi) == 0 && fi.mapped_vaddr == (uint64_t)router_ipc)
            ipc = s;
    }
    if (!ipc)
        return KEEL_E_FAILED_LOOKUP;
    struct keel_thread_config cfg = {
        .entry = route_lines, .arg = r, .stack_top = router_stack + sizeof router_stack,
        .priority = KEEL_THREAD_PRIORITY_INHERIT, .ipc_frame = ipc, .ipc_addr = (uint64_t)router_ipc,
    };
    return keel_thread_create(t, &cfg);
}

/* Until the router is done or stuck: one map/unmap cycle (a shootdown to every other CPU, all
 * running this VSpace) per step it takes, so both interleave without a flood of shootdowns. */
static bool watch_router(struct router *r, uint32_t cpu, uint64_t frame, uint64_t *cycles, char *why, size_t len)
{
    struct patience p;
    patience_start(&p, (int)cpu);
    uint64_t seen = 0;
    while (!r->done && !r->failed) {
        if (r->steps != seen) {
            seen = r->steps;
            patience_renew(&p);
            int err = map_frame(frame);
            if (!err)
                *(volatile uint64_t *)IRQ_VA = *cycles;
            if (err || (err = keel_frame_unmap(frame))) {
                keel_snprintf(why, len, "map/unmap: %s", keel_strerror(err));
                return false;
            }
            ++*cycles;
        } else if (!patience_left(&p)) {
            keel_snprintf(why, len, "%s", p.verdict);
            return false;
        }
        spin_us(500); /* watch in user mode: no lock taken while the router works */
        if (cpu == 0)
            keel_yield(); /* the router shares this CPU */
    }
    return true;
}

KEEL_TEST(irq_every_line_and_mode_from_every_cpu)
{
    uint64_t frame, io;
    static struct router r;
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &frame));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &r.ntfn));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &r.idle));
    ASSERT_OK(kt_slot(&r.slot));
    ASSERT_OK(kt_slot(&io));
    ASSERT_OK(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, RTC_INDEX, RTC_DATA, io));
    ASSERT_OK(keel_ioport_bind(io, VS));
    uint8_t rtc_a = rtc_read(RTC_A), rtc_b = rtc_read(RTC_B);
    uint32_t ncpu = kt_bi->cpu_count < 4 ? kt_bi->cpu_count : 4;
    /* Spinners on CPUs 1.. run in this VSpace: each Unmap below is a shootdown to them. */
    static struct kt_spinner spinners[3];
    struct keel_thread *spinner_threads[3];
    for (uint32_t cpu = 1; cpu < ncpu; cpu++) {
        spinners[cpu - 1] = (struct kt_spinner){ 0 };
        ASSERT_OK(kt_pinned_thread(kt_spin, &spinners[cpu - 1], cpu, &spinner_threads[cpu - 1]));
    }
    /* One router thread, moved to each CPU in turn and started afresh there. */
    static struct keel_thread router;
    ASSERT_OK(router_thread(&r, &router));
    struct keel_user_regs regs = { 0 };
    regs.fs_base = (uint64_t)&router.tls; /* its thread-local block, as keel_thread_start sets it */
    regs.rflags = 0x202;
    regs.rip = (uint64_t)route_lines;
    regs.rsp = (uint64_t)(router_stack + sizeof router_stack - 8);
    regs.rdi = (uint64_t)&r;
    bool ok = true;
    for (uint32_t cpu = 0; cpu < ncpu && ok; cpu++) {
        r.cpu = cpu;
        r.ncpu = ncpu;
        r.steps = r.rtc_firings = r.latched = r.other_firings = r.skipped = 0;
        r.done = r.failed = r.line = r.mode = r.err = 0;
        r.what = 0;
        ASSERT_OK(keel_tcb_set_affinity(router.tcb, cpu));
        ASSERT_OK(keel_tcb_write_registers(router.tcb, true, &regs));
        uint64_t cycles = 0, t0 = kt_now();
        char why[200] = "";
        bool watched = watch_router(&r, cpu, frame, &cycles, why, sizeof why);
        EXPECT_OK(keel_tcb_suspend(router.tcb));
        rtc_periodic(false);
        keel_cspace_delete(r.slot); /* if it stopped halfway */
        if (r.failed)
            ok = ktest_check(false, __FILE__, __LINE__, "CPU %u: line %d mode %#llx: %s gave %s", cpu, r.line,
                             (unsigned long long)modes[r.mode], r.what, keel_strerror(r.err));
        else if (!watched)
            ok = ktest_check(false, __FILE__, __LINE__, "CPU %u: router stuck at line %d mode %#llx after %llu "
                             "steps: %s", cpu, r.line, (unsigned long long)modes[r.mode], (unsigned long long)r.steps,
                             why);
        keel_printf("#   CPU %u: %llu steps, %llu RTC firings (+%llu latched edges), %llu others, %llu lines "
                    "taken already, %llu shootdown cycles, %llu ms\n",
                    cpu, (unsigned long long)r.steps, (unsigned long long)r.rtc_firings, (unsigned long long)r.latched,
                    (unsigned long long)r.other_firings, (unsigned long long)r.skipped, (unsigned long long)cycles,
                    (unsigned long long)((kt_now() - t0) / kt_bi->tsc_khz));
        if (ok)
            EXPECT_EQ(r.rtc_firings, 4 * RTC_FIRINGS);
        ok = ok && every_cpu_ticks("after routing lines");
    }
    for (uint32_t cpu = 1; cpu < ncpu; cpu++) {
        spinners[cpu - 1].stop = 1;
        EXPECT_OK(keel_tcb_suspend(spinner_threads[cpu - 1]->tcb));
    }
    rtc_write(RTC_A, rtc_a);
    rtc_write(RTC_B, rtc_b);
    (void)rtc_read(RTC_C);
    EXPECT_OK(keel_cspace_delete(io));
}
