/* runq: the scheduler's ready queues (runq_push/remove/highest), linked from kernel/core/sched.c
 * itself. sched.c's other functions reach per-CPU state through GS (this_cpu() reads gs:0), so
 * the scheduler-policy tests point this process's GS base at a struct percpu with arch_prctl;
 * arch_switch_to and tcb_stop_unrunnable are stubbed below. schedule() is never called with
 * nothing runnable: it would execute sti/hlt. */
#define _GNU_SOURCE
#define CHECK_MAIN
#include "check.h"
#include "sched.h"
#include "smp.h"
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NT 16
static struct tcb t[NT];
static struct run_queue q;

/* ---- stubs for what sched.c needs from the rest of the kernel ---- */

static struct tcb *refuse;      /* arch_switch_to fails for this thread */
static struct tcb *last_prev, *last_next;
static unsigned switches, stops;

bool arch_switch_to(struct tcb *prev, struct tcb *next)
{
    last_prev = prev;
    last_next = next;
    switches++;
    return next != refuse;
}

void tcb_stop_unrunnable(struct tcb *thread)
{
    stops++;
    thread->state = TS_INACTIVE;
}

/* One CPU and no other CPUs to talk to: the SMP hooks sched.c calls do nothing here. */
uint32_t cpus_online = 1;
static unsigned reschedules, evictions;
void smp_reschedule(uint32_t index) { (void)index; reschedules++; }
void smp_evict(struct tcb *t) { (void)t; evictions++; }
struct big_lock bkl;
void bkl_wait(uint32_t ticket, bool in_syscall) { (void)ticket; (void)in_syscall; }
struct percpu *cpu_get(uint32_t index) { return index == 0 ? this_cpu() : 0; }
void arch_save_and_forget(struct tcb *t) { (void)t; }

/* ---- helpers ---- */

static void reset(void)
{
    memset(t, 0, sizeof t);
    memset(&q, 0, sizeof q);
}

static struct tcb *th(int i, uint8_t prio)
{
    t[i].priority = prio;
    t[i].state = TS_RUNNING;
    t[i].time_slice = TIME_SLICE_TICKS;
    return &t[i];
}

#define IX(p) ((p) ? (int)((p) - t) : -1)

/* Every list is a proper doubly linked list of threads of its priority, and the bitmap (and its
 * summary word) says exactly which lists are non-empty. Reports at the caller's line; returns the thread count. */
static int queue_check(const struct run_queue *rq, const char *file, int line)
{
    int total = 0;
    for (int p = 0; p < 256; p++) {
        bool bit = (rq->bitmap[p >> 6] >> (p & 63)) & 1;
        if (bit != (rq->head[p] != 0))
            check_fail(file, line, "priority %d: bitmap bit %d but head %d", p, bit, IX(rq->head[p]));
        if (!rq->head[p] != !rq->tail[p])
            check_fail(file, line, "priority %d: head %d, tail %d", p, IX(rq->head[p]), IX(rq->tail[p]));
        if (p % 64 == 0 && (bool)((rq->words >> (p / 64)) & 1) != (rq->bitmap[p / 64] != 0))
            check_fail(file, line, "bitmap word %d: summary bit wrong", p / 64);
        const struct tcb *prev = 0;
        int n = 0;
        for (const struct tcb *c = rq->head[p]; c; c = c->sched_next) {
            if (++n > NT) {
                check_fail(file, line, "priority %d: cycle", p);
                return total;
            }
            if (c->sched_prev != prev)
                check_fail(file, line, "priority %d: thread %d has prev %d, expected %d", p, IX(c),
                           IX(c->sched_prev), IX(prev));
            if (c->priority != p)
                check_fail(file, line, "thread %d of priority %d is in list %d", IX(c), c->priority, p);
            if (!c->in_run_queue)
                check_fail(file, line, "thread %d is queued but in_run_queue is 0", IX(c));
            prev = c;
        }
        if (prev != rq->tail[p])
            check_fail(file, line, "priority %d: tail %d, last %d", p, IX(rq->tail[p]), IX(prev));
        total += n;
    }
    return total;
}
#define CHECK_QUEUE(rq) queue_check((rq), __FILE__, __LINE__)

/* The list at `prio`, head first, must be exactly the given thread indices. */
#define CHECK_ORDER(rq, prio, ...)                                                                 \
    do {                                                                                           \
        const int want_[] = { __VA_ARGS__ };                                                       \
        int k_ = 0;                                                                                \
        for (const struct tcb *c_ = (rq)->head[prio]; c_ && k_ < NT; c_ = c_->sched_next, k_++)   \
            if (k_ < (int)(sizeof want_ / sizeof want_[0]))                                        \
                CHECK_EQ_U64(IX(c_), want_[k_]);                                                   \
        CHECK_EQ_U64(k_, sizeof want_ / sizeof want_[0]);                                          \
    } while (0)
#define CHECK_EMPTY(rq, prio) CHECK((rq)->head[prio] == 0 && (rq)->tail[prio] == 0)

/* ---- the run queue ---- */

TEST(empty_queue)
{
    reset();
    CHECK(runq_highest(&q) == 0);
    CHECK_EQ_U64(CHECK_QUEUE(&q), 0);
}

TEST(fifo_within_a_priority)
{
    reset();
    for (int i = 0; i < 4; i++)
        runq_push(&q, th(i, 10), false);
    CHECK_EQ_U64(CHECK_QUEUE(&q), 4);
    CHECK_ORDER(&q, 10, 0, 1, 2, 3);
    for (int i = 0; i < 4; i++) {
        struct tcb *h = runq_highest(&q);
        CHECK(h == &t[i]);
        if (!h)
            return;
        runq_remove(&q, h);
        CHECK(!h->in_run_queue && !h->sched_next && !h->sched_prev);
        CHECK_QUEUE(&q);
    }
    CHECK(runq_highest(&q) == 0);
    CHECK_EQ_U64(q.bitmap[0], 0);
}

TEST(head_insertion)
{
    reset();
    runq_push(&q, th(0, 7), true); /* at the head of an empty list */
    CHECK_ORDER(&q, 7, 0);
    CHECK(q.tail[7] == &t[0]);
    runq_push(&q, th(1, 7), false);
    runq_push(&q, th(2, 7), true);
    runq_push(&q, th(3, 7), false);
    runq_push(&q, th(4, 7), true);
    CHECK_EQ_U64(CHECK_QUEUE(&q), 5);
    CHECK_ORDER(&q, 7, 4, 2, 0, 1, 3);
    CHECK(runq_highest(&q) == &t[4]);
    CHECK(q.tail[7] == &t[3]);
}

TEST(priority_bitmap_across_words)
{
    reset();
    static const uint8_t prios[] = { 64, 0, 255, 127, 63, 192, 128, 191 };
    for (int i = 0; i < 8; i++)
        runq_push(&q, th(i, prios[i]), false);
    CHECK_EQ_U64(CHECK_QUEUE(&q), 8);
    for (int w = 0; w < 4; w++)
        CHECK_EQ_U64(q.bitmap[w], 1ull | 1ull << 63);
    static const uint8_t order[] = { 255, 192, 191, 128, 127, 64, 63, 0 };
    for (int k = 0; k < 8; k++) {
        struct tcb *h = runq_highest(&q);
        CHECK(h != 0);
        if (!h)
            return;
        CHECK_EQ_U64(h->priority, order[k]);
        runq_remove(&q, h);
        CHECK_QUEUE(&q);
    }
    CHECK(runq_highest(&q) == 0);
    for (int w = 0; w < 4; w++)
        CHECK_EQ_U64(q.bitmap[w], 0);
}

TEST(highest_of_each_single_priority)
{
    for (int p = 0; p < 256; p++) {
        reset();
        runq_push(&q, th(0, (uint8_t)p), false);
        CHECK(runq_highest(&q) == &t[0]);
        CHECK_EQ_U64(q.bitmap[p / 64], 1ull << (p % 64));
        if (p) {
            runq_push(&q, th(1, (uint8_t)(p - 1)), false); /* one below never wins */
            CHECK(runq_highest(&q) == &t[0]);
        }
        runq_remove(&q, &t[0]);
        CHECK(runq_highest(&q) == (p ? &t[1] : 0));
        CHECK_QUEUE(&q);
    }
}

TEST(remove_middle_head_tail)
{
    reset();
    for (int i = 0; i < 5; i++)
        runq_push(&q, th(i, 100), false);
    runq_push(&q, th(9, 101), false);
    runq_remove(&q, &t[2]); /* middle */
    CHECK_QUEUE(&q);
    CHECK_ORDER(&q, 100, 0, 1, 3, 4);
    CHECK(!t[2].in_run_queue && !t[2].sched_next && !t[2].sched_prev);
    runq_remove(&q, &t[0]); /* head */
    CHECK_QUEUE(&q);
    CHECK_ORDER(&q, 100, 1, 3, 4);
    CHECK(q.head[100] == &t[1] && !t[1].sched_prev);
    runq_remove(&q, &t[4]); /* tail */
    CHECK_QUEUE(&q);
    CHECK_ORDER(&q, 100, 1, 3);
    CHECK(q.tail[100] == &t[3] && !t[3].sched_next);
    CHECK(q.bitmap[1] & 1ull << (100 - 64)); /* still non-empty */
    runq_remove(&q, &t[3]);
    runq_remove(&q, &t[1]); /* the last one */
    CHECK_QUEUE(&q);
    CHECK_EMPTY(&q, 100);
    CHECK_EQ_U64(q.bitmap[1], 1ull << (101 - 64)); /* only the other priority's bit is left */
    CHECK(runq_highest(&q) == &t[9]);
}

TEST(removed_thread_can_be_pushed_again)
{
    reset();
    runq_push(&q, th(0, 5), false);
    runq_push(&q, th(1, 5), false);
    runq_remove(&q, &t[0]);
    runq_push(&q, &t[0], false);
    CHECK_ORDER(&q, 5, 1, 0);
    runq_remove(&q, &t[0]);
    runq_push(&q, &t[0], true);
    CHECK_ORDER(&q, 5, 0, 1);
    /* A priority change while out of the queue moves it to another list. */
    runq_remove(&q, &t[1]);
    t[1].priority = 200;
    runq_push(&q, &t[1], false);
    CHECK_EQ_U64(CHECK_QUEUE(&q), 2);
    CHECK(runq_highest(&q) == &t[1]);
}

/* Random pushes and removals against a model of one array per priority. */
static uint64_t rng = 0x6a09e667f3bcc909ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

TEST(random_against_model)
{
    reset();
    static int model[256][NT];
    static int len[256];
    memset(len, 0, sizeof len);
    static const uint8_t pool[] = { 0, 1, 62, 63, 64, 65, 127, 128, 129, 190, 191, 192, 254, 255 };
    unsigned bad = 0;
    for (int op = 0; op < 50000 && bad < 5; op++) {
        int i = (int)(rnd() % NT);
        if (!t[i].in_run_queue) {
            uint8_t p = pool[rnd() % sizeof pool];
            bool at_head = rnd() % 3 == 0;
            runq_push(&q, th(i, p), at_head);
            if (at_head) {
                memmove(&model[p][1], &model[p][0], (size_t)len[p] * sizeof(int));
                model[p][0] = i;
            } else {
                model[p][len[p]] = i;
            }
            len[p]++;
        } else {
            int p = t[i].priority, k = 0;
            runq_remove(&q, &t[i]);
            while (model[p][k] != i)
                k++;
            memmove(&model[p][k], &model[p][k + 1], (size_t)(len[p] - k - 1) * sizeof(int));
            len[p]--;
        }
        int want = -1;
        for (int p = 255; p >= 0 && want < 0; p--)
            if (len[p])
                want = model[p][0];
        struct tcb *h = runq_highest(&q);
        if (IX(h) != want) {
            bad++;
            check_fail(__FILE__, __LINE__, "op %d: highest is %d, model says %d", op, IX(h), want);
        }
        if (op % 97 == 0)
            for (int p = 0; p < 256; p++) {
                int k = 0;
                for (const struct tcb *c = q.head[p]; c && k < NT; c = c->sched_next, k++)
                    if (k >= len[p] || IX(c) != model[p][k])
                        bad++;
                if (k != len[p])
                    bad++;
            }
    }
    CHECK_EQ_U64(bad, 0);
    CHECK_QUEUE(&q);
}

/* ---- scheduler policy, through a fake per-CPU block in GS ---- */

static struct percpu cpu;

static bool use_fake_cpu(void)
{
    memset(&cpu, 0, sizeof cpu);
    cpu.self = &cpu;
    reset();
    refuse = 0;
    last_prev = last_next = 0;
    switches = stops = 0;
    if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)&cpu) != 0) {
        check_fail(__FILE__, __LINE__, "arch_prctl(ARCH_SET_GS) failed: cannot reach this_cpu() on this host");
        return false;
    }
    return this_cpu() == &cpu;
}

TEST(wake_and_schedule_pick_the_highest)
{
    if (!use_fake_cpu())
        return;
    sched_wake(th(0, 10));
    CHECK(cpu.need_resched); /* nothing runs yet */
    sched_wake(th(1, 30));
    sched_wake(th(2, 20));
    CHECK(t[0].in_run_queue && t[1].in_run_queue && t[2].in_run_queue);
    schedule();
    CHECK(cpu.current == &t[1]);
    CHECK(!t[1].in_run_queue);
    CHECK(!cpu.need_resched);
    CHECK(last_prev == 0 && last_next == &t[1]);
    CHECK_EQ_U64(CHECK_QUEUE(&cpu.rq), 2);
    /* Waking something of lower or equal priority does not ask for a reschedule. */
    cpu.need_resched = false;
    sched_wake(th(3, 30));
    sched_wake(th(4, 5));
    CHECK(!cpu.need_resched);
    /* Waking the current or an already queued thread changes nothing. */
    sched_wake(&t[1]);
    sched_wake(&t[0]);
    CHECK_EQ_U64(CHECK_QUEUE(&cpu.rq), 4);
    CHECK_ORDER(&cpu.rq, 10, 0);
    /* Higher: preempt. */
    sched_wake(th(5, 31));
    CHECK(cpu.need_resched);
}

TEST(preempted_thread_resumes_first_among_equals)
{
    if (!use_fake_cpu())
        return;
    sched_wake(th(0, 10));
    sched_wake(th(1, 10));
    schedule();
    CHECK(cpu.current == &t[0]);
    sched_wake(th(2, 20)); /* preempts 0 */
    CHECK(cpu.need_resched);
    schedule();
    CHECK(cpu.current == &t[2]);
    CHECK(last_prev == &t[0]);
    CHECK_ORDER(&cpu.rq, 10, 0, 1); /* 0 went back to the head */
    /* 2 blocks: 0 runs again before 1. */
    t[2].state = TS_BLOCKED_RECV;
    sched_unready(&t[2]);
    CHECK(cpu.need_resched);
    schedule();
    CHECK(cpu.current == &t[0]);
    CHECK(!t[2].in_run_queue);
    CHECK_ORDER(&cpu.rq, 10, 1);
}

TEST(slice_expiry_goes_to_the_back)
{
    if (!use_fake_cpu())
        return;
    sched_wake(th(0, 10));
    sched_wake(th(1, 10));
    schedule();
    CHECK(cpu.current == &t[0]);
    for (int i = 1; i < TIME_SLICE_TICKS; i++) {
        sched_tick();
        CHECK(!cpu.need_resched);
    }
    sched_tick();
    CHECK(cpu.need_resched && cpu.slice_expired);
    CHECK_EQ_U64(t[0].time_slice, TIME_SLICE_TICKS); /* a fresh slice for next time */
    schedule();
    CHECK(cpu.current == &t[1]);
    CHECK(!cpu.slice_expired);
    CHECK_ORDER(&cpu.rq, 10, 0);
}

TEST(yield_round_robin_and_alone)
{
    if (!use_fake_cpu())
        return;
    sched_wake(th(0, 10));
    schedule();
    sched_yield(); /* alone at its priority: runs again */
    CHECK(cpu.need_resched && cpu.slice_expired);
    schedule();
    CHECK(cpu.current == &t[0]);
    sched_wake(th(1, 10));
    sched_wake(th(2, 10));
    for (int round = 0; round < 6; round++) {
        sched_yield();
        schedule();
        CHECK(cpu.current == &t[(round + 1) % 3]);
    }
    sched_wake(th(3, 9)); /* lower priority never gets a turn */
    for (int round = 0; round < 3; round++) {
        sched_yield();
        schedule();
        CHECK(cpu.current != &t[3]);
    }
}

TEST(unrunnable_thread_is_stopped_and_skipped)
{
    if (!use_fake_cpu())
        return;
    sched_wake(th(0, 10));
    sched_wake(th(1, 50));
    refuse = &t[1];
    schedule();
    CHECK_EQ_U64(stops, 1);
    CHECK_EQ_U64(t[1].state, TS_INACTIVE);
    CHECK(!t[1].in_run_queue);
    CHECK(cpu.current == &t[0]);
    CHECK_EQ_U64(switches, 2);
}

TEST(unready_and_forget_current)
{
    if (!use_fake_cpu())
        return;
    sched_wake(th(0, 10));
    sched_wake(th(1, 10));
    schedule();
    cpu.need_resched = false;
    sched_unready(&t[1]); /* queued, not current */
    CHECK(!t[1].in_run_queue);
    CHECK(!cpu.need_resched);
    CHECK_EMPTY(&cpu.rq, 10);
    sched_unready(&t[1]); /* twice is harmless */
    CHECK_QUEUE(&cpu.rq);
    cpu.fpu_owner = &t[0];
    cpu.ctx_top = 0x1234;
    sched_forget_current(&t[1]); /* not current: nothing */
    CHECK(cpu.current == &t[0] && cpu.fpu_owner == &t[0]);
    sched_forget_current(&t[0]);
    CHECK(cpu.current == 0 && cpu.ctx_top == 0 && cpu.fpu_owner == 0 && cpu.need_resched);
    /* A forgotten thread is not put back by the next schedule. */
    sched_wake(&t[1]);
    schedule();
    CHECK(cpu.current == &t[1]);
    CHECK(!t[0].in_run_queue);
    CHECK(last_prev == 0);
}
