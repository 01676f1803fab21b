/* Scheduling: strict priorities, round-robin among equals with Yield, time-slice preemption,
 * and SetPriority's effect on the running thread. The order of events is observed through a
 * shared log. The root task (priority 255) lets lower workers run by lowering its own priority
 * and takes it back afterwards (its MCP is 255); every test restores it even when it fails.
 * Workers only ever run while the root task is below them, and they all finish or block, so the
 * root task always gets the CPU back. */
#include "ktest.h"

#define LOG_MAX 64

static struct {
    volatile int n;
    volatile int ev[LOG_MAX];
} lg;

static void log_reset(void) { memset((void *)&lg, 0, sizeof(lg)); }

static void log_event(int v)
{
    int i = lg.n;
    if (i < LOG_MAX)
        lg.ev[i] = v;
    lg.n = i + 1;
}

/* The log as text ("1,2,3") for failure messages, and a check against an expected sequence. */
static const char *log_text(void)
{
    static char buf[3 * LOG_MAX + 8];
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < lg.n && i < LOG_MAX && at + 8 < sizeof(buf); i++)
        at += (size_t)keel_snprintf(buf + at, sizeof(buf) - at, i ? ",%d" : "%d", lg.ev[i]);
    return buf;
}

static bool log_is(const int *want, int n, const char *file, int line)
{
    bool same = lg.n == n;
    for (int i = 0; same && i < n; i++)
        same = lg.ev[i] == want[i];
    return ktest_check(same, file, line, "event order %s", log_text());
}
#define EXPECT_LOG(...)                                                                                  \
    do {                                                                                                 \
        static const int want_[] = { __VA_ARGS__ };                                                      \
        (void)log_is(want_, (int)(sizeof(want_) / sizeof(want_[0])), __FILE__, __LINE__);                \
    } while (0)

static int set_prio(uint64_t tcb, uint64_t prio) { return keel_tcb_set_priority(tcb, KEEL_SLOT_TCB, prio); }
static int set_root_prio(uint64_t prio) { return set_prio(KEEL_SLOT_TCB, prio); }

/* A test body that may lower the root task's priority: the wrapper puts it back whatever happens. */
#define SCHED_TEST(name_)                                                                                \
    static void sched_body_##name_(void);                                                                \
    KEEL_TEST(name_)                                                                                     \
    {                                                                                                    \
        struct keel_tcb_info self_;                                                                      \
        if (!ktest_check(keel_tcb_get_info(KEEL_SLOT_TCB, &self_) == 0, __FILE__, __LINE__,             \
                         "GetInfo of the root task failed"))                                              \
            return;                                                                                      \
        log_reset();                                                                                     \
        sched_body_##name_();                                                                            \
        EXPECT_OK(set_root_prio(self_.priority));                                                        \
    }                                                                                                    \
    static void sched_body_##name_(void)

/* A worker at `prio`, configured but not started. */
static int worker(void (*fn)(void *), void *arg, uint64_t prio, struct keel_thread **t)
{
    int err = kt_thread_prepare(fn, arg, t);
    return err ? err : set_prio((*t)->tcb, prio);
}

/* Invocations with an extra cap (SetPriority's authority) need an IPC buffer: one worker at a
 * time can have one of our own image's pages, found among the BootInfo's image frames (Frame
 * GetAddress names the address each is mapped at). */
static uint8_t ipc_page[4096] __attribute__((aligned(4096)));
static uint8_t ipc_worker_stack[16384] __attribute__((aligned(16)));
static struct keel_thread ipc_worker_thread;

static int ipc_worker(void (*fn)(void *), void *arg, uint64_t prio, struct keel_thread **t)
{
    uint64_t frame = 0;
    for (uint64_t s = kt_bi->image_frames.start; s < kt_bi->image_frames.end && !frame; s++) {
        struct keel_frame_info fi;
        if (keel_frame_get_address(s, &fi) == 0 && fi.mapped_vaddr == (uint64_t)ipc_page)
            frame = s;
    }
    if (!ktest_check(frame != 0, __FILE__, __LINE__, "no image frame cap maps %p", (void *)ipc_page))
        return KEEL_E_FAILED_LOOKUP;
    struct keel_thread_config cfg = {
        .entry = fn,
        .arg = arg,
        .stack_top = ipc_worker_stack + sizeof(ipc_worker_stack),
        .priority = (int)prio,
        .ipc_frame = frame,
        .ipc_addr = (uint64_t)ipc_page,
    };
    *t = &ipc_worker_thread;
    return keel_thread_create(&ipc_worker_thread, &cfg);
}

static uint64_t prio_of(uint64_t tcb)
{
    struct keel_tcb_info info;
    return keel_tcb_get_info(tcb, &info) ? ~0ull : info.priority;
}

static uint64_t state_of(uint64_t tcb)
{
    struct keel_tcb_info info;
    return keel_tcb_get_info(tcb, &info) ? ~0ull : info.state;
}

/* ---- Strict priorities ---- */

static uint64_t wake_ntfn;

static void high_waiter(void *arg)
{
    (void)arg;
    keel_wait(wake_ntfn, 0);
    log_event(2);
}

static void low_signaller(void *arg)
{
    (void)arg;
    log_event(1);
    keel_signal(wake_ntfn); /* wakes the higher thread: it must run before the next line */
    log_event(3);
}

/* A higher-priority thread made runnable preempts the lower one that woke it. */
SCHED_TEST(sched_higher_priority_preempts_lower)
{
    struct keel_thread *hi, *lo;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &wake_ntfn));
    ASSERT_OK(worker(high_waiter, 0, 200, &hi));
    ASSERT_OK(worker(low_signaller, 0, 100, &lo));
    ASSERT_OK(keel_thread_start(hi));
    ASSERT_OK(keel_thread_start(lo));
    /* Both are below us: starting them preempted nothing. */
    EXPECT_EQ(lg.n, 0);
    EXPECT_EQ(state_of(hi->tcb), KEEL_THREAD_RUNNING);
    ASSERT_OK(set_root_prio(10)); /* hi blocks on the notification, then lo runs */
    EXPECT_LOG(1, 2, 3);
    EXPECT_EQ(state_of(hi->tcb), KEEL_THREAD_INACTIVE);
    EXPECT_EQ(state_of(lo->tcb), KEEL_THREAD_INACTIVE);
}

static void note_arg(void *arg) { log_event((int)(uintptr_t)arg); }

/* Only the highest ready priority runs: workers at 50, 150 and 100 run highest first, and a
 * worker above the root task's lowered priority runs before the root task's next instruction. */
SCHED_TEST(sched_highest_ready_priority_runs_first)
{
    struct keel_thread *a, *b, *c;
    ASSERT_OK(worker(note_arg, (void *)1, 50, &a));
    ASSERT_OK(worker(note_arg, (void *)3, 150, &b));
    ASSERT_OK(worker(note_arg, (void *)2, 100, &c));
    ASSERT_OK(keel_thread_start(a));
    ASSERT_OK(keel_thread_start(b));
    ASSERT_OK(keel_thread_start(c));
    EXPECT_EQ(lg.n, 0);
    ASSERT_OK(set_root_prio(120)); /* b (150) is above us now */
    log_event(9);
    ASSERT_OK(set_root_prio(10));
    log_event(8);
    EXPECT_LOG(3, 9, 2, 1, 8);
}

/* ---- Round-robin among equal priorities ---- */

static void yielder(void *arg)
{
    int id = (int)(uintptr_t)arg;
    for (int i = 0; i < 4; i++) {
        log_event(id);
        keel_yield();
    }
}

/* Three threads at one priority, each logging then yielding: strict rotation in start order. */
SCHED_TEST(sched_round_robin_with_yield)
{
    struct keel_thread *t[3];
    for (int i = 0; i < 3; i++)
        ASSERT_OK(worker(yielder, (void *)(uintptr_t)(i + 1), 100, &t[i]));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(keel_thread_start(t[i]));
    ASSERT_OK(set_root_prio(10));
    EXPECT_LOG(1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3);
}

/* Yield with nobody else at the caller's priority: it simply goes on (lower threads stay put). */
SCHED_TEST(sched_yield_does_not_run_lower_priority)
{
    struct keel_thread *t;
    ASSERT_OK(worker(note_arg, (void *)1, 100, &t));
    ASSERT_OK(keel_thread_start(t));
    for (int i = 0; i < 50; i++)
        keel_yield();
    EXPECT_EQ(lg.n, 0);
    EXPECT_EQ(state_of(t->tcb), KEEL_THREAD_RUNNING);
    ASSERT_OK(set_root_prio(10));
    EXPECT_LOG(1);
}

/* ---- Time slices ---- */

static struct {
    volatile uint64_t count[2];
    volatile int last;        /* which spinner counted last */
    volatile int switches;    /* how often the CPU went from one spinner to the other */
    volatile int stop, timed_out;
    uint64_t deadline;        /* kernel tick after which the spinners give up */
} spin;

static uint64_t ticks_now(void)
{
    struct keel_kernel_info ki;
    return keel_debug_kernel_info(KEEL_SLOT_DEBUG, &ki) ? ~0ull : ki.ticks;
}

/* Counts without ever yielding; only the timer can take the CPU away. Stops when both spinners
 * have taken turns a few times, or (failure) when the deadline passes. */
static void spinner(void *arg)
{
    int me = (int)(uintptr_t)arg;
    for (uint64_t i = 0; !spin.stop; i++) {
        spin.count[me]++;
        if (spin.last != me) {
            spin.last = me;
            spin.switches++;
        }
        if (spin.switches >= 6)
            spin.stop = 1;
        if ((i & 0xfff) == 0 && ticks_now() > spin.deadline) {
            spin.timed_out = 1;
            spin.stop = 1;
        }
    }
}

SCHED_TEST(sched_time_slice_preempts_equal_priority)
{
    struct keel_kernel_info ki;
    ASSERT_OK(keel_debug_kernel_info(KEEL_SLOT_DEBUG, &ki));
    memset((void *)&spin, 0, sizeof(spin));
    spin.last = -1;
    spin.deadline = ki.ticks + 5 * ki.timer_hz; /* 5 s; a slice is a few ticks */
    struct keel_thread *a, *b;
    ASSERT_OK(worker(spinner, (void *)0, 100, &a));
    ASSERT_OK(worker(spinner, (void *)1, 100, &b));
    ASSERT_OK(keel_thread_start(a));
    ASSERT_OK(keel_thread_start(b));
    ASSERT_OK(set_root_prio(10)); /* back here once both spinners have stopped */
    EXPECT_EQ(spin.timed_out, 0);
    EXPECT_TRUE(spin.switches >= 6);
    EXPECT_TRUE(spin.count[0] > 0);
    EXPECT_TRUE(spin.count[1] > 0);
    EXPECT_EQ(state_of(a->tcb), KEEL_THREAD_INACTIVE);
    EXPECT_EQ(state_of(b->tcb), KEEL_THREAD_INACTIVE);
}

/* A busy thread at a higher priority is not time-sliced with a lower one: the lower thread gets
 * nothing until the higher one stops, however many slices that takes. */
static void busy_until_ticks(void *arg)
{
    (void)arg;
    log_event(1);
    while (ticks_now() <= spin.deadline)
        ;
    log_event(3);
}

SCHED_TEST(sched_time_slice_never_runs_lower_priority)
{
    struct keel_kernel_info ki;
    ASSERT_OK(keel_debug_kernel_info(KEEL_SLOT_DEBUG, &ki));
    memset((void *)&spin, 0, sizeof(spin));
    spin.deadline = ki.ticks + 30; /* several time slices */
    struct keel_thread *hi, *lo;
    ASSERT_OK(worker(busy_until_ticks, 0, 100, &hi));
    ASSERT_OK(worker(note_arg, (void *)2, 50, &lo));
    ASSERT_OK(keel_thread_start(lo));
    ASSERT_OK(keel_thread_start(hi));
    ASSERT_OK(set_root_prio(10));
    EXPECT_LOG(1, 3, 2);
}

/* ---- SetPriority and the running thread ---- */

static uint64_t mid_tcb;

static void lowers_itself(void *arg)
{
    (void)arg;
    log_event(1);
    set_prio(mid_tcb, 100); /* below the other worker (150): it runs now */
    log_event(3);
}

/* A thread lowering its own priority below a ready thread yields to it at once. */
SCHED_TEST(sched_lowering_own_priority_yields_immediately)
{
    struct keel_thread *self_lowering, *other;
    ASSERT_OK(ipc_worker(lowers_itself, 0, 200, &self_lowering));
    ASSERT_OK(worker(note_arg, (void *)2, 150, &other));
    mid_tcb = self_lowering->tcb;
    ASSERT_OK(keel_thread_start(self_lowering));
    ASSERT_OK(keel_thread_start(other));
    ASSERT_OK(set_root_prio(10));
    EXPECT_LOG(1, 2, 3);
    EXPECT_EQ(prio_of(self_lowering->tcb), 100);
}

/* The root task lowering itself below a ready worker: the worker runs before SetPriority returns. */
SCHED_TEST(sched_root_lowering_itself_yields_immediately)
{
    struct keel_thread *t;
    ASSERT_OK(worker(note_arg, (void *)1, 200, &t));
    ASSERT_OK(keel_thread_start(t));
    EXPECT_EQ(lg.n, 0);
    ASSERT_OK(set_root_prio(150));
    log_event(2);
    EXPECT_LOG(1, 2);
    EXPECT_EQ(prio_of(KEEL_SLOT_TCB), 150);
}

/* Raising a ready thread above the running one preempts at once. */
SCHED_TEST(sched_raising_ready_thread_preempts)
{
    struct keel_thread *t;
    ASSERT_OK(worker(note_arg, (void *)1, 50, &t));
    ASSERT_OK(keel_thread_start(t));
    ASSERT_OK(set_root_prio(100));
    EXPECT_EQ(lg.n, 0); /* 50 < 100: still waiting */
    ASSERT_OK(set_prio(t->tcb, 200));
    log_event(2);
    EXPECT_LOG(1, 2);
}

/* Raising a blocked thread's priority takes effect when it wakes: it then preempts its waker. */
static void wait_then_note(void *arg)
{
    (void)arg;
    keel_wait(wake_ntfn, 0);
    log_event(1);
}

SCHED_TEST(sched_priority_of_blocked_thread_applies_on_wake)
{
    struct keel_thread *t;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &wake_ntfn));
    ASSERT_OK(worker(wait_then_note, 0, 50, &t));
    ASSERT_OK(keel_thread_start(t));
    ASSERT_OK(set_root_prio(10)); /* t runs and blocks */
    ASSERT_OK(set_root_prio(100));
    ASSERT_EQ(state_of(t->tcb), KEEL_THREAD_BLOCKED_NOTIFICATION);
    ASSERT_OK(set_prio(t->tcb, 200));
    EXPECT_EQ(prio_of(t->tcb), 200);
    EXPECT_EQ(lg.n, 0);
    ASSERT_OK(keel_signal(wake_ntfn));
    log_event(2);
    EXPECT_LOG(1, 2);
}

/* A thread cannot raise itself (or its MCP) above its own MCP when it is its own authority;
 * refused requests change nothing. */
static struct {
    volatile int err_prio, err_mcp, err_ok, done;
    volatile uint64_t detail_max;
    uint64_t tcb;
} esc;

static void try_escalate(void *arg)
{
    (void)arg;
    esc.err_prio = keel_tcb_set_priority(esc.tcb, esc.tcb, 51);
    esc.detail_max = keel_last_error_detail(2);
    esc.err_mcp = keel_tcb_set_mc_priority(esc.tcb, esc.tcb, 51);
    esc.err_ok = keel_tcb_set_priority(esc.tcb, esc.tcb, 50); /* up to the MCP is fine */
    esc.done = 1;
}

SCHED_TEST(sched_thread_cannot_raise_itself_above_its_mcp)
{
    struct keel_thread *t;
    memset((void *)&esc, 0, sizeof(esc));
    ASSERT_OK(ipc_worker(try_escalate, 0, 40, &t));
    ASSERT_OK(keel_tcb_set_mc_priority(t->tcb, KEEL_SLOT_TCB, 50));
    esc.tcb = t->tcb;
    ASSERT_OK(keel_thread_start(t));
    ASSERT_OK(set_root_prio(10));
    ASSERT_TRUE(esc.done);
    EXPECT_ERR(esc.err_prio, KEEL_E_RANGE);
    EXPECT_EQ(esc.detail_max, 50);
    EXPECT_ERR(esc.err_mcp, KEEL_E_RANGE);
    EXPECT_OK(esc.err_ok);
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(t->tcb, &info));
    EXPECT_EQ(info.priority, 50);
    EXPECT_EQ(info.mcp, 50);
}

/* SetPriority needs an authority: none, or one that is not a TCB, is refused. */
KEEL_TEST(sched_set_priority_without_authority_refused)
{
    struct keel_thread *t;
    ASSERT_OK(worker(note_arg, 0, 40, &t));
    struct keel_msg m = keel_msg_make(KEEL_TCB_SET_PRIORITY, 1);
    m.mr[0] = 10;
    EXPECT_ERR(keel_call(t->tcb, &m), KEEL_E_INVALID_CAPABILITY); /* no extra cap at all */
    EXPECT_EQ(m.mr[0], 1);
    EXPECT_ERR(keel_tcb_set_priority(t->tcb, KEEL_SLOT_NULL, 10), KEEL_E_INVALID_CAPABILITY);
    EXPECT_DETAIL(0, 1);
    EXPECT_EQ(prio_of(t->tcb), 40);
}
