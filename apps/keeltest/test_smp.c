/* Multiprocessor behaviour: threads pinned to CPUs run in parallel, IPC and notifications work
 * across CPUs, and TLB shootdowns go exactly where a translation can live. Tests that need more
 * CPUs than the machine has are skipped (the boot matrix runs this suite at -smp 1, 2 and 4). */
#include "ktest.h"
#include <keel/portio.h>

#define DBG KEEL_SLOT_DEBUG
#define VS KEEL_SLOT_VSPACE
#define SMP_VA 0x0000004080000000ull

static struct keel_tlb_counters counters(uint64_t cpu)
{
    struct keel_tlb_counters c = { 0 };
    keel_debug_tlb_counters(DBG, cpu, &c);
    return c;
}

KEEL_TEST(smp_cpu_count_and_affinity_range)
{
    EXPECT_TRUE(kt_bi->cpu_count >= 1);
    struct keel_tlb_counters c;
    EXPECT_OK(keel_debug_tlb_counters(DBG, kt_bi->cpu_count - 1, &c));
    EXPECT_ERR(keel_debug_tlb_counters(DBG, kt_bi->cpu_count, &c), KEEL_E_RANGE);
    EXPECT_DETAIL(2, kt_bi->cpu_count - 1);
    static struct kt_spinner idle;
    struct keel_thread *t;
    ASSERT_OK(kt_thread_prepare(kt_spin, &idle, &t));
    EXPECT_ERR(keel_tcb_set_affinity(t->tcb, kt_bi->cpu_count), KEEL_E_RANGE);
    EXPECT_OK(keel_tcb_set_affinity(t->tcb, kt_bi->cpu_count - 1));
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(t->tcb, &info));
    EXPECT_EQ(info.cpu, kt_bi->cpu_count - 1);
}

KEEL_TEST(smp_threads_run_in_parallel)
{
    if (!kt_need_cpus(2))
        return;
    /* A spinner on CPU 1 makes progress while this thread (CPU 0) never blocks or yields. */
    static struct kt_spinner s;
    s = (struct kt_spinner){ 0 };
    struct keel_thread *t;
    ASSERT_OK(kt_pinned_thread(kt_spin, &s, 1, &t));
    uint64_t seen = 0;
    for (uint64_t t0 = kt_now(); seen < 1000 && kt_patient(t0);)
        seen = s.count;
    s.stop = 1;
    EXPECT_TRUE(seen >= 1000);
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(t->tcb, &info));
    EXPECT_EQ(info.cpu, 1);
}

struct server {
    uint64_t ep, reply;
    volatile int ready;
};

static void echo_server(void *arg)
{
    struct server *sv = arg;
    struct keel_msg m = keel_msg_make(0, 0);
    sv->ready = 1;
    keel_recv(sv->ep, sv->reply, &m);
    for (;;) {
        uint64_t word = m.mr[0];
        m = keel_msg_make(keel_msg_label(m.info) * 2, 1);
        m.mr[0] = word + 1;
        keel_reply_recv(sv->ep, sv->reply, &m);
    }
}

KEEL_TEST(smp_ipc_across_cpus)
{
    if (!kt_need_cpus(2))
        return;
    static struct server sv;
    sv = (struct server){ 0 };
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &sv.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &sv.reply));
    struct keel_thread *t;
    ASSERT_OK(kt_pinned_thread(echo_server, &sv, kt_bi->cpu_count - 1, &t));
    for (unsigned i = 1; i <= 500; i++) {
        struct keel_msg m = keel_msg_make(i, 1);
        m.mr[0] = i * 3;
        ASSERT_OK(keel_call(sv.ep, &m));
        ASSERT_EQ(keel_msg_label(m.info), 2 * i);
        ASSERT_EQ(m.mr[0], i * 3 + 1);
    }
    ASSERT_OK(keel_tcb_suspend(t->tcb));
}

struct waiter {
    uint64_t ntfn;
    volatile uint64_t word;
    volatile int done;
};

static void wait_once(void *arg)
{
    struct waiter *w = arg;
    uint64_t word = 0;
    keel_wait(w->ntfn, &word);
    w->word = word;
    w->done = 1;
}

KEEL_TEST(smp_notification_wakes_other_cpu)
{
    if (!kt_need_cpus(2))
        return;
    static struct waiter w;
    w = (struct waiter){ 0 };
    uint64_t badged;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &w.ntfn));
    ASSERT_OK(kt_mint(w.ntfn, KEEL_RIGHTS_ALL, 0x5, &badged));
    struct keel_thread *t;
    ASSERT_OK(kt_pinned_thread(wait_once, &w, 1, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_NOTIFICATION));
    ASSERT_OK(keel_signal(badged));
    ASSERT_TRUE(kt_wait_flag(&w.done));
    EXPECT_EQ(w.word, 0x5);
}

static int map_scratch(uint64_t *frame)
{
    int err = kt_new(KEEL_OBJ_FRAME_4K, 0, frame);
    for (int tries = 0; !err && tries < 4; tries++) {
        err = keel_frame_map(*frame, VS, SMP_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, 0);
        if (err != KEEL_E_MISSING_TABLE)
            return err;
        uint64_t table;
        if ((err = kt_new(keel_last_error_detail(0), 0, &table)) || (err = keel_paging_map(table, VS, SMP_VA)))
            return err;
    }
    return err;
}

KEEL_TEST(smp_unmap_in_one_cpu_vspace_sends_no_ipi)
{
    /* Only CPU 0 has run this VSpace while the test runs (other threads of it are parked), so
     * 10^4 map/unmap cycles never interrupt anyone. */
    uint64_t f;
    ASSERT_OK(map_scratch(&f));
    struct keel_tlb_counters before = counters(0);
    for (unsigned i = 0; i < 10000; i++) {
        *(volatile uint64_t *)SMP_VA = i;
        if (keel_frame_unmap(f) || keel_frame_map(f, VS, SMP_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, 0)) {
            EXPECT_TRUE(false);
            break;
        }
    }
    struct keel_tlb_counters after = counters(0);
    EXPECT_EQ(after.shootdown_sent - before.shootdown_sent, 0);
    EXPECT_EQ(after.shootdown_pages - before.shootdown_pages, 0);
}

KEEL_TEST(smp_unmap_interrupts_only_cpus_running_the_vspace)
{
    if (!kt_need_cpus(4))
        return;
    /* A thread of our VSpace spins on CPU 2: one unmap sends exactly one IPI, to CPU 2. */
    uint64_t f;
    ASSERT_OK(map_scratch(&f));
    *(volatile uint64_t *)SMP_VA = 1;
    static struct kt_spinner s;
    s = (struct kt_spinner){ 0 };
    struct keel_thread *t;
    ASSERT_OK(kt_pinned_thread(kt_spin, &s, 2, &t));
    for (uint64_t t0 = kt_now(); s.count < 1000 && kt_patient(t0);)
        ;
    ASSERT_TRUE(s.count >= 1000);
    struct keel_tlb_counters b[4], a[4];
    for (unsigned i = 0; i < 4; i++)
        b[i] = counters(i);
    ASSERT_OK(keel_frame_unmap(f));
    for (unsigned i = 0; i < 4; i++)
        a[i] = counters(i);
    s.stop = 1;
    EXPECT_EQ(a[0].shootdown_sent - b[0].shootdown_sent, 1);
    EXPECT_EQ(a[0].shootdown_pages - b[0].shootdown_pages, 1); /* carrying the one page */
    EXPECT_EQ(a[0].shootdown_whole - b[0].shootdown_whole, 0);
    EXPECT_EQ(a[2].shootdown_received - b[2].shootdown_received, 1);
    EXPECT_EQ(a[1].shootdown_received - b[1].shootdown_received, 0);
    EXPECT_EQ(a[3].shootdown_received - b[3].shootdown_received, 0);
}

KEEL_TEST(smp_migrated_thread_stale_cpu_flushes_lazily)
{
    if (!kt_need_cpus(4))
        return;
    uint64_t f;
    ASSERT_OK(map_scratch(&f));
    static struct kt_spinner s;
    s = (struct kt_spinner){ 0 };
    struct keel_thread *t;
    /* Run on CPU 1 (CPU 1 joins the VSpace's set), then move to CPU 3: CPU 1 idles. */
    ASSERT_OK(kt_pinned_thread(kt_spin, &s, 1, &t));
    for (uint64_t t0 = kt_now(); s.count < 1000 && kt_patient(t0);)
        ;
    ASSERT_TRUE(s.count >= 1000);
    ASSERT_OK(keel_tcb_set_affinity(t->tcb, 3));
    uint64_t c0 = s.count;
    for (uint64_t t0 = kt_now(); s.count < c0 + 1000 && kt_patient(t0);)
        ;
    ASSERT_TRUE(s.count >= c0 + 1000);
    struct keel_tlb_counters b1 = counters(1), b3 = counters(3), b0 = counters(0);
    ASSERT_OK(keel_frame_unmap(f));
    struct keel_tlb_counters a1 = counters(1), a3 = counters(3), a0 = counters(0);
    struct keel_vspace_info vi;
    ASSERT_OK(keel_debug_vspace_info(DBG, VS, &vi));
    bool cpu1_in_set = vi.cpu_mask & 2; /* CPU 1 idled with the VSpace loaded (or kept its PCID) */
    EXPECT_EQ(a0.shootdown_sent - b0.shootdown_sent, 1);       /* one IPI ... */
    EXPECT_EQ(a3.shootdown_received - b3.shootdown_received, 1); /* ... to CPU 3 */
    EXPECT_EQ(a1.shootdown_received - b1.shootdown_received, 0); /* CPU 1 not interrupted */
    /* When CPU 1 next runs this VSpace it flushes first (stale by generation). */
    ASSERT_OK(keel_tcb_set_affinity(t->tcb, 1));
    c0 = s.count;
    for (uint64_t t0 = kt_now(); s.count < c0 + 1000 && kt_patient(t0);)
        ;
    ASSERT_TRUE(s.count >= c0 + 1000);
    struct keel_tlb_counters c1 = counters(1);
    if (cpu1_in_set) /* it may hold stale translations: its next load must flush them */
        EXPECT_TRUE(c1.lazy_flush > a1.lazy_flush);
    else /* it left the set by loading another VSpace (no PCID), a flushing load coming back */
        EXPECT_TRUE(c1.cr3_flush > a1.cr3_flush);
    s.stop = 1;
}

/* The one thread on CPU 1 whose faults the test receives on `ep` (tests run one at a time). */
static uint8_t cpu1_stack[8192] __attribute__((aligned(16)));
static struct keel_thread cpu1_thread;

static int start_on_cpu1(void (*fn)(void *), void *arg, uint64_t ep)
{
    struct keel_thread_config cfg = {
        .entry = fn, .arg = arg, .stack_top = cpu1_stack + sizeof cpu1_stack,
        .priority = KEEL_THREAD_PRIORITY_INHERIT, .fault_ep = ep,
    };
    int err = keel_thread_create(&cpu1_thread, &cfg);
    if (!err)
        err = keel_tcb_set_affinity(cpu1_thread.tcb, 1);
    return err ? err : keel_thread_start(&cpu1_thread);
}

/* A fault message on ep within the patience window: 0 (in *m), or WOULD_BLOCK. */
static int wait_fault(uint64_t ep, uint64_t reply, struct keel_msg *m)
{
    int got = KEEL_E_WOULD_BLOCK;
    for (uint64_t t0 = kt_now(); got == KEEL_E_WOULD_BLOCK && kt_patient(t0);) {
        *m = keel_msg_make(0, 0);
        got = keel_nbrecv(ep, reply, m);
    }
    return got;
}

struct reader {
    volatile uint64_t phase;       /* 1 once the remap has returned */
    volatile uint64_t stale_reads; /* old value read after the remap returned */
    volatile uint64_t reads;
    volatile int stop;
};

static void read_loop(void *arg)
{
    struct reader *r = arg;
    while (!r->stop) {
        uint64_t phase = r->phase;
        uint64_t v = *(volatile uint64_t *)SMP_VA;
        if (phase && v == 0x01d)
            r->stale_reads++;
        r->reads++;
    }
    keel_thread_exit();
}

KEEL_TEST(smp_remap_never_leaves_a_stale_translation)
{
    if (!kt_need_cpus(2))
        return;
    uint64_t a, b, ep, reply;
    ASSERT_OK(map_scratch(&a));
    *(volatile uint64_t *)SMP_VA = 0x01d;
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &b));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &reply));
    static struct reader r;
    r = (struct reader){ 0 };
    ASSERT_OK(start_on_cpu1(read_loop, &r, ep));
    for (uint64_t t0 = kt_now(); r.reads < 1000 && kt_patient(t0);)
        ;
    ASSERT_TRUE(r.reads >= 1000);
    /* Take the old frame away and put the new one (holding 0x2e) in its place. */
    ASSERT_OK(keel_frame_unmap(a));
    ASSERT_OK(keel_frame_map(b, VS, SMP_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, 0));
    *(volatile uint64_t *)SMP_VA = 0x2e;
    r.phase = 1;
    /* The reader may fault in the gap (no page): whenever it does, let it retry; the page is back. */
    uint64_t r0 = r.reads;
    for (uint64_t t0 = kt_now(); r.reads < r0 + 10000 && kt_patient(t0);) {
        struct keel_msg m = keel_msg_make(0, 0);
        if (keel_nbrecv(ep, reply, &m) == 0) {
            m = keel_msg_make(0, 0);
            keel_reply(reply, &m);
        }
    }
    r.stop = 1;
    EXPECT_TRUE(r.reads >= r0 + 10000);
    EXPECT_EQ(r.stale_reads, 0);
}

/* Remap to read-only on CPU 0 while a thread on CPU 1 writes the page in a loop: once the Remap
 * has returned, no write of CPU 1 may land (its TLB entry allowed writing); the next one faults. */
struct writer {
    volatile uint64_t phase; /* 1 once the Remap has returned */
    volatile uint64_t writes, late_writes;
};

static void write_loop(void *arg)
{
    struct writer *w = arg;
    for (;;) {
        uint64_t phase = w->phase;
        *(volatile uint64_t *)SMP_VA = w->writes;
        if (phase)
            w->late_writes++; /* a write that landed after the Remap returned */
        w->writes++;
    }
}

KEEL_TEST(smp_remap_read_only_stops_writes_on_other_cpus)
{
    if (!kt_need_cpus(2))
        return;
    uint64_t f, ep, reply;
    ASSERT_OK(map_scratch(&f));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &reply));
    static struct writer w;
    w = (struct writer){ 0 };
    ASSERT_OK(start_on_cpu1(write_loop, &w, ep));
    for (uint64_t t0 = kt_now(); w.writes < 1000 && kt_patient(t0);)
        ;
    ASSERT_TRUE(w.writes >= 1000); /* CPU 1 has a writable translation cached */
    struct keel_tlb_counters b0 = counters(0);
    ASSERT_OK(keel_frame_remap(f, KEEL_MAP_READ, 0));
    w.phase = 1;
    struct keel_tlb_counters a0 = counters(0);
    struct keel_msg m;
    EXPECT_OK(wait_fault(ep, reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_VM);
    EXPECT_EQ(m.mr[1], SMP_VA);    /* the write to the now read-only page: */
    EXPECT_EQ(m.mr[2] & 3, 3);     /* present, write */
    EXPECT_EQ(w.late_writes, 0);
    EXPECT_EQ(a0.shootdown_sent - b0.shootdown_sent, 1); /* CPU 1 was told, once */
    keel_tcb_suspend(cpu1_thread.tcb);
}

/* Debug HoldLock: its argument checks, and a hold shorter than the watchdog's second, which other
 * CPUs (spinning on the lock meanwhile) must survive. */
KEEL_TEST(smp_debug_hold_lock_checks_and_short_hold)
{
    struct keel_kernel_info info;
    ASSERT_OK(keel_debug_kernel_info(DBG, &info));
    if (!(info.flags & KEEL_KERNEL_INFO_DEBUG)) {
        EXPECT_ERR(keel_debug_hold_lock(DBG, 10), KEEL_E_ILLEGAL_OPERATION);
        ktest_skip("release kernel: HoldLock is refused");
        return;
    }
    EXPECT_ERR(keel_debug_hold_lock(DBG, 0), KEEL_E_RANGE);
    EXPECT_DETAIL(1, 1);
    EXPECT_DETAIL(2, 10000);
    EXPECT_ERR(keel_debug_hold_lock(DBG, 10001), KEEL_E_RANGE);
    static struct kt_spinner s;
    s = (struct kt_spinner){ 0 };
    struct keel_thread *t = 0;
    if (kt_bi->cpu_count >= 2)
        ASSERT_OK(kt_pinned_thread(kt_spin, &s, 1, &t)); /* its timer ticks wait for the lock */
    uint64_t t0 = kt_now();
    EXPECT_OK(keel_debug_hold_lock(DBG, 50));
    EXPECT_TRUE(kt_now() - t0 >= 50 * (info.tsc_khz ? info.tsc_khz : 1) / 2);
    uint64_t before = s.count;
    for (uint64_t t1 = kt_now(); t && s.count == before && kt_patient(t1);)
        keel_yield();
    EXPECT_TRUE(!t || s.count != before); /* the other CPU is alive after the hold */
    s.stop = 1;
}

static void hold_lock_5s(void *arg)
{
    *(volatile int *)arg = 1;
    keel_debug_hold_lock(DBG, 5000);
}

/* Run only when named (keeltest=panic_lock_watchdog; boot.smp.lockwatch): CPU 1 holds the big lock
 * for 5 s while this thread (CPU 0) enters the kernel, so the watchdog must panic after 1 s,
 * naming CPU 1 as the holder. Reaching the end is the failure. */
KEEL_TEST(panic_lock_watchdog)
{
    if (!kt_need_cpus(2))
        return;
    static volatile int holding;
    struct keel_thread *t;
    ASSERT_OK(kt_thread_prepare(hold_lock_5s, (void *)&holding, &t));
    ASSERT_OK(keel_tcb_set_affinity(t->tcb, 1));
    ASSERT_OK(keel_thread_start(t));
    for (uint64_t t0 = kt_now(); !holding && kt_patient(t0);)
        ;
    ASSERT_TRUE(holding);
    for (volatile int i = 0; i < 100000; i++) /* let CPU 1 get into the kernel */
        ;
    keel_yield(); /* waits for the lock: the watchdog ends this boot here */
    EXPECT_TRUE(!"the lock watchdog did not fire");
}

/* I/O port caps on several CPUs: Bind opens the range, and Delete closes it, on every CPU that
 * holds the VSpace's ranges, before the invocation returns -- not only on the calling CPU. */
struct io_spin {
    volatile int phase; /* 1: touch the port once (bound); 2: touch it again (deleted) */
    volatile int done;
    volatile uint8_t value;
};

#define SMP_IO_PORT 0x3ff /* COM1's scratch register */

static void io_spinner(void *arg)
{
    struct io_spin *s = arg;
    while (s->phase == 0)
        __builtin_ia32_pause();
    outb(SMP_IO_PORT, 0x5a);
    s->value = inb(SMP_IO_PORT);
    s->done = 1;
    while (s->phase == 1)
        __builtin_ia32_pause();
    outb(SMP_IO_PORT, 0x33); /* must fault: the cap is gone */
    s->done = 2;
}


KEEL_TEST(smp_ioport_bind_and_delete_reach_other_cpus)
{
    if (!kt_need_cpus(2))
        return;
    uint64_t io, ep, reply;
    ASSERT_OK(kt_slot(&io));
    ASSERT_OK(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, SMP_IO_PORT, SMP_IO_PORT, io));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &reply));
    static struct io_spin s;
    s = (struct io_spin){ 0 };
    ASSERT_OK(start_on_cpu1(io_spinner, &s, ep));
    ASSERT_TRUE(kt_wait_state(cpu1_thread.tcb, KEEL_THREAD_RUNNING));
    for (volatile int i = 0; i < 20000; i++) /* let CPU 1 load our VSpace (and its port bitmap) */
        ;
    ASSERT_OK(keel_ioport_bind(io, VS)); /* from CPU 0, while CPU 1 runs a thread of VS */
    s.phase = 1;
    ASSERT_TRUE(kt_wait_flag(&s.done));
    EXPECT_EQ(s.value, 0x5a); /* CPU 1 could use the port at once: no fault */
    ASSERT_OK(keel_cspace_delete(io));
    s.phase = 2;
    struct keel_msg m;
    EXPECT_OK(wait_fault(ep, reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_EXCEPTION);
    EXPECT_EQ(m.mr[1], 13); /* #GP on CPU 1: the port closed there when Delete returned */
    EXPECT_EQ(s.done, 1);
    keel_tcb_suspend(cpu1_thread.tcb);
}
