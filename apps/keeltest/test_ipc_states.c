/* Thread states around IPC: a thread queued on an endpoint or a notification, and every call
 * that can take it off (fault delivery with and without a reply object, a Call received without
 * one, deletion of the object or of a queued thread, Suspend, WriteRegisters, SetPriority, a
 * bound notification's signal). The rule they guard: a thread is linked in a queue exactly when
 * its state says it waits there (kernel/include/object/threadqueue.h). After every test the
 * runner's invariant check walks each waiting thread's queue, so a thread left in a queue it
 * does not belong to, or a state naming a queue that lost the thread, fails the test that did it.
 *
 * The threads here run in our CSpace and VSpace at our priority; the root task takes their
 * messages with NBRecv and waits for their states with bounded Yield loops, so a mistake fails
 * instead of hanging. */
#include "ktest.h"
#include <keel/vspace.h>

#define QT_MAX 4
#define QT_STACK 4096
#define FAULT_BADGE 0xfa17
#define MSG_LABEL 0x51

enum qt_role { QT_FAULT, QT_SEND, QT_CALL, QT_WAIT, QT_RECV };

static struct {
    uint64_t ep, ntfn, reply;       /* reply: what a QT_RECV thread offers (0: none) */
    struct keel_thread threads[QT_MAX];
    enum qt_role role[QT_MAX];
    volatile int result[QT_MAX];  /* the thread's syscall result, once it returns */
    volatile int returned[QT_MAX];
    volatile uint64_t label[QT_MAX]; /* QT_RECV, QT_WAIT: the label or word received */
} qs;
static uint8_t qstacks[QT_MAX][QT_STACK] __attribute__((aligned(16)));

static void queued_thread(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    struct keel_msg m = keel_msg_make(MSG_LABEL + i, 1);
    keel_msg_set_mr(&m, 0, i);
    int err = 0;
    switch (qs.role[i]) {
    case QT_FAULT: __builtin_trap(); /* #UD: a fault message to the fault endpoint */
    case QT_SEND: err = keel_send(qs.ep, &m); break;
    case QT_CALL: err = keel_call(qs.ep, &m); break;
    case QT_WAIT: {
        uint64_t word = 0;
        err = keel_wait(qs.ntfn, &word);
        qs.label[i] = word;
        break;
    }
    case QT_RECV:
        err = keel_recv(qs.ep, qs.reply, &m);
        qs.label[i] = err ? 0 : (m.info & KEEL_MSG_NOTIFICATION ? ~0ull : keel_msg_label(m.info));
        break;
    }
    qs.result[i] = err;
    qs.returned[i] = 1;
}

static uint64_t state_of(unsigned i)
{
    struct keel_tcb_info info;
    return keel_tcb_get_info(qs.threads[i].tcb, &info) ? ~0ull : info.state;
}

/* Start thread i in `role` and wait until it is blocked in `state`. The fault thread's fault
 * endpoint is a badged copy of qs.ep. */
static bool start_queued(unsigned i, enum qt_role role, uint64_t state)
{
    uint64_t fault_ep = 0;
    if (role == QT_FAULT && kt_mint(qs.ep, KEEL_RIGHTS_ALL, FAULT_BADGE, &fault_ep))
        return ktest_check(false, __FILE__, __LINE__, "mint of the fault endpoint failed");
    qs.role[i] = role;
    struct keel_thread_config cfg = {
        .entry = queued_thread,
        .arg = (void *)(uintptr_t)i,
        .stack_top = qstacks[i] + QT_STACK,
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
        .fault_ep = fault_ep,
    };
    int err = keel_thread_create(&qs.threads[i], &cfg);
    if (!err)
        err = keel_thread_start(&qs.threads[i]);
    if (!ktest_check(err == 0, __FILE__, __LINE__, "thread %u: %s", i, keel_strerror(err)))
        return false;
    return ktest_check(kt_wait_state(qs.threads[i].tcb, state), __FILE__, __LINE__,
                       "thread %u never reached state %llu (it is in %llu)", i, (unsigned long long)state,
                       (unsigned long long)state_of(i));
}

static bool setup(void)
{
    memset((void *)&qs, 0, sizeof qs);
    return ktest_check(kt_new(KEEL_OBJ_ENDPOINT, 0, &qs.ep) == 0 && kt_new(KEEL_OBJ_NOTIFICATION, 0, &qs.ntfn) == 0,
                       __FILE__, __LINE__, "objects");
}

/* Queue a faulting thread (0) and then two senders (1, 2) on qs.ep, in that order. */
static bool queue_fault_then_senders(enum qt_role second, enum qt_role third)
{
    return setup() && start_queued(0, QT_FAULT, KEEL_THREAD_BLOCKED_SEND) &&
           start_queued(1, second, KEEL_THREAD_BLOCKED_SEND) && start_queued(2, third, KEEL_THREAD_BLOCKED_SEND);
}

static void expect_message_from(unsigned i, uint64_t reply)
{
    struct keel_msg m;
    EXPECT_OK(keel_nbrecv(qs.ep, reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), MSG_LABEL + i);
    EXPECT_EQ(m.mr[0], i);
}

/* The fuzzer's find (issue 11): a fault queued on an endpoint, taken by a Recv that offers no
 * reply object. The faulting thread stops (nobody can answer it); the senders queued behind it
 * stay queued, in order, and each message still arrives. */
KEEL_TEST(ipc_state_fault_received_without_reply_keeps_queue)
{
    if (!queue_fault_then_senders(QT_SEND, QT_CALL))
        return;
    struct keel_msg m;
    ASSERT_OK(keel_nbrecv(qs.ep, 0, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_EXCEPTION);
    EXPECT_EQ(m.badge, FAULT_BADGE);
    EXPECT_EQ(state_of(0), KEEL_THREAD_INACTIVE);
    EXPECT_EQ(state_of(1), KEEL_THREAD_BLOCKED_SEND);
    EXPECT_EQ(state_of(2), KEEL_THREAD_BLOCKED_SEND);
    /* What the orphaned senders used to be exposed to: suspended (a second unlink) and the
     * endpoint deleted. Thread 1 leaves the queue cleanly; thread 2 is still the one queued. */
    EXPECT_OK(keel_tcb_suspend(qs.threads[1].tcb));
    EXPECT_EQ(state_of(1), KEEL_THREAD_INACTIVE);
    EXPECT_EQ(state_of(2), KEEL_THREAD_BLOCKED_SEND);
    expect_message_from(2, 0); /* a Call without a reply object: the caller gets CANCELLED */
    EXPECT_TRUE(kt_wait_flag(&qs.returned[2]));
    EXPECT_EQ(qs.result[2], KEEL_E_CANCELLED);
    EXPECT_ERR(keel_nbrecv(qs.ep, 0, &m), KEEL_E_WOULD_BLOCK);
}

/* The same queue, the fault taken with a reply object: the faulting thread waits for the reply,
 * the others stay queued, and a label-0 reply resumes it (it faults again, queued at the back). */
KEEL_TEST(ipc_state_fault_received_with_reply_keeps_queue)
{
    uint64_t reply;
    if (!queue_fault_then_senders(QT_SEND, QT_SEND) || !ktest_check(kt_new(KEEL_OBJ_REPLY, 0, &reply) == 0,
                                                                   __FILE__, __LINE__, "reply"))
        return;
    struct keel_msg m;
    ASSERT_OK(keel_nbrecv(qs.ep, reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_EXCEPTION);
    EXPECT_EQ(state_of(0), KEEL_THREAD_BLOCKED_REPLY);
    EXPECT_EQ(state_of(1), KEEL_THREAD_BLOCKED_SEND);
    struct keel_msg r = keel_msg_make(0, 0);
    EXPECT_OK(keel_reply(reply, &r));
    EXPECT_TRUE(kt_wait_state(qs.threads[0].tcb, KEEL_THREAD_BLOCKED_SEND)); /* faulted again */
    expect_message_from(1, 0);
    expect_message_from(2, 0);
    EXPECT_OK(keel_nbrecv(qs.ep, 0, &m)); /* the second fault, last in line */
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_EXCEPTION);
    EXPECT_EQ(state_of(0), KEEL_THREAD_INACTIVE);
}

/* The endpoint deleted with a fault, a Send and a Call queued: the fault stops its thread, the
 * others' syscalls fail with CANCELLED, and the memory can be retyped and used at once. */
KEEL_TEST(ipc_state_endpoint_deleted_with_mixed_queue)
{
    if (!queue_fault_then_senders(QT_SEND, QT_CALL))
        return;
    EXPECT_OK(keel_cspace_revoke(qs.ep)); /* the fault thread's copy too */
    EXPECT_OK(keel_cspace_delete(qs.ep));
    EXPECT_EQ(state_of(0), KEEL_THREAD_INACTIVE);
    EXPECT_TRUE(kt_wait_flag(&qs.returned[1]) && kt_wait_flag(&qs.returned[2]));
    EXPECT_EQ(qs.result[1], KEEL_E_CANCELLED);
    EXPECT_EQ(qs.result[2], KEEL_E_CANCELLED);
    /* Suspending and deleting a thread that was queued touches nothing of the dead endpoint. */
    EXPECT_OK(keel_tcb_suspend(qs.threads[0].tcb));
    EXPECT_OK(keel_thread_destroy(&qs.threads[0]));
    uint64_t cnode;
    EXPECT_OK(kt_new(KEEL_OBJ_CNODE, 4, &cnode));
}

/* A thread in the middle of the queue deleted, another suspended: the rest arrive in order. */
KEEL_TEST(ipc_state_queued_threads_deleted_and_suspended_mid_queue)
{
    if (!setup() || !start_queued(0, QT_SEND, KEEL_THREAD_BLOCKED_SEND) ||
        !start_queued(1, QT_SEND, KEEL_THREAD_BLOCKED_SEND) || !start_queued(2, QT_SEND, KEEL_THREAD_BLOCKED_SEND) ||
        !start_queued(3, QT_CALL, KEEL_THREAD_BLOCKED_SEND))
        return;
    EXPECT_OK(keel_thread_destroy(&qs.threads[1]));
    EXPECT_OK(keel_tcb_suspend(qs.threads[3].tcb));
    EXPECT_OK(keel_tcb_suspend(qs.threads[3].tcb)); /* twice: the second finds nothing to undo */
    expect_message_from(0, 0);
    expect_message_from(2, 0);
    struct keel_msg m;
    EXPECT_ERR(keel_nbrecv(qs.ep, 0, &m), KEEL_E_WOULD_BLOCK);
}

/* WriteRegisters and SetPriority of a queued sender leave it queued where it was; WriteRegisters
 * with resume does not resume a blocked thread. */
KEEL_TEST(ipc_state_write_registers_and_priority_of_queued_sender)
{
    if (!setup() || !start_queued(0, QT_SEND, KEEL_THREAD_BLOCKED_SEND) ||
        !start_queued(1, QT_SEND, KEEL_THREAD_BLOCKED_SEND))
        return;
    struct keel_user_regs regs;
    ASSERT_OK(keel_tcb_read_registers(qs.threads[0].tcb, &regs));
    EXPECT_OK(keel_tcb_write_registers(qs.threads[0].tcb, true, &regs));
    EXPECT_EQ(state_of(0), KEEL_THREAD_BLOCKED_SEND);
    EXPECT_OK(keel_tcb_set_priority(qs.threads[0].tcb, KEEL_SLOT_TCB, 10));
    EXPECT_OK(keel_tcb_set_priority(qs.threads[1].tcb, KEEL_SLOT_TCB, 200));
    EXPECT_EQ(state_of(0), KEEL_THREAD_BLOCKED_SEND);
    EXPECT_EQ(state_of(1), KEEL_THREAD_BLOCKED_SEND);
    expect_message_from(0, 0);
    expect_message_from(1, 0);
}

/* A receiver queued with a reply object, then the reply object deleted: a Call that then arrives
 * finds no reply object and fails with CANCELLED; the receiver gets the message. */
KEEL_TEST(ipc_state_offered_reply_deleted_while_receiver_queued)
{
    if (!setup() || !ktest_check(kt_new(KEEL_OBJ_REPLY, 0, &qs.reply) == 0, __FILE__, __LINE__, "reply") ||
        !start_queued(0, QT_RECV, KEEL_THREAD_BLOCKED_RECV))
        return;
    EXPECT_OK(keel_cspace_delete(qs.reply));
    EXPECT_EQ(state_of(0), KEEL_THREAD_BLOCKED_RECV);
    struct keel_msg m = keel_msg_make(0x77, 0);
    EXPECT_ERR(keel_call(qs.ep, &m), KEEL_E_CANCELLED);
    EXPECT_TRUE(kt_wait_flag(&qs.returned[0]));
    EXPECT_EQ(qs.result[0], 0);
    EXPECT_EQ(qs.label[0], 0x77);
}

/* A receiver queued with a reply object, woken by a signal of its bound notification: the reply
 * object is free again (another Recv may offer it), and the receiver is off the queue. */
KEEL_TEST(ipc_state_bound_signal_withdraws_offered_reply)
{
    if (!setup() || !ktest_check(kt_new(KEEL_OBJ_REPLY, 0, &qs.reply) == 0, __FILE__, __LINE__, "reply"))
        return;
    qs.role[0] = QT_RECV;
    struct keel_thread_config cfg = {
        .entry = queued_thread, .arg = 0, .stack_top = qstacks[0] + QT_STACK,
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
    };
    ASSERT_OK(keel_thread_create(&qs.threads[0], &cfg));
    ASSERT_OK(keel_tcb_bind_notification(qs.threads[0].tcb, qs.ntfn));
    ASSERT_OK(keel_thread_start(&qs.threads[0]));
    ASSERT_TRUE(kt_wait_state(qs.threads[0].tcb, KEEL_THREAD_BLOCKED_RECV));
    struct keel_msg m;
    EXPECT_ERR(keel_nbrecv(qs.ep, qs.reply, &m), KEEL_E_ILLEGAL_OPERATION); /* offered by thread 0 */
    EXPECT_OK(keel_signal(qs.ntfn));
    EXPECT_TRUE(kt_wait_flag(&qs.returned[0]));
    EXPECT_EQ(qs.label[0], ~0ull); /* woken by the notification */
    EXPECT_ERR(keel_nbrecv(qs.ep, qs.reply, &m), KEEL_E_WOULD_BLOCK); /* the reply is ours to offer now */
}

/* A receiver with a reply object suspended while queued: the same holds. */
KEEL_TEST(ipc_state_suspended_receiver_withdraws_offered_reply)
{
    if (!setup() || !ktest_check(kt_new(KEEL_OBJ_REPLY, 0, &qs.reply) == 0, __FILE__, __LINE__, "reply") ||
        !start_queued(0, QT_RECV, KEEL_THREAD_BLOCKED_RECV))
        return;
    EXPECT_OK(keel_tcb_suspend(qs.threads[0].tcb));
    EXPECT_EQ(state_of(0), KEEL_THREAD_INACTIVE);
    struct keel_msg m;
    EXPECT_ERR(keel_nbrecv(qs.ep, qs.reply, &m), KEEL_E_WOULD_BLOCK);
    m = keel_msg_make(1, 0);
    EXPECT_ERR(keel_nbsend(qs.ep, &m), KEEL_E_WOULD_BLOCK); /* nobody receives any more */
}

/* Notification waiters: the middle one deleted, the last suspended; signals wake the others in
 * order, and a notification deleted with a waiter cancels its Wait. */
KEEL_TEST(ipc_state_notification_waiters_deleted_and_suspended)
{
    if (!setup() || !start_queued(0, QT_WAIT, KEEL_THREAD_BLOCKED_NOTIFICATION) ||
        !start_queued(1, QT_WAIT, KEEL_THREAD_BLOCKED_NOTIFICATION) ||
        !start_queued(2, QT_WAIT, KEEL_THREAD_BLOCKED_NOTIFICATION) ||
        !start_queued(3, QT_WAIT, KEEL_THREAD_BLOCKED_NOTIFICATION))
        return;
    EXPECT_OK(keel_thread_destroy(&qs.threads[1]));
    EXPECT_OK(keel_tcb_suspend(qs.threads[2].tcb));
    EXPECT_OK(keel_signal(qs.ntfn));
    EXPECT_TRUE(kt_wait_flag(&qs.returned[0]));
    EXPECT_EQ(qs.result[0], 0);
    EXPECT_EQ(state_of(3), KEEL_THREAD_BLOCKED_NOTIFICATION);
    EXPECT_OK(keel_cspace_delete(qs.ntfn));
    EXPECT_TRUE(kt_wait_flag(&qs.returned[3]));
    EXPECT_EQ(qs.result[3], KEEL_E_CANCELLED);
    EXPECT_EQ(qs.returned[2], 0);
}

/* ---- Found by the host object-layer fuzzer (test/fuzz/objects) ---- */

static struct {
    uint64_t ep;
    volatile int done;
    volatile uint64_t label;
    volatile int err;
} lw;

static void receive_one_fault(void *arg)
{
    (void)arg;
    struct keel_msg m = keel_msg_make(0, 0);
    lw.err = keel_recv(lw.ep, 0, &m);
    lw.label = keel_msg_label(m.info);
    lw.done = 1;
}

static void never_runs(void *arg)
{
    (void)arg;
}

/* A thread blocks in Recv, and the next thread schedule() picks cannot run (its VSpace was
 * deleted while it was queued): its NO_VSPACE fault goes to the endpoint the first thread just
 * blocked on. That wakes the first thread while it is still the CPU's current thread, which
 * sched_wake leaves to schedule(); schedule() must then queue it, or it is lost for good. */
KEEL_TEST(ipc_state_fault_of_unrunnable_thread_wakes_the_thread_that_just_blocked)
{
    uint64_t vspace, asid;
    struct keel_thread *receiver, *doomed;
    memset((void *)&lw, 0, sizeof lw);
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &lw.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_PML4, 0, &vspace));
    ASSERT_OK(keel_asid_pool_assign(KEEL_SLOT_ASID_POOL, vspace, &asid));
    keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, false);
    /* Queued in this order behind us: the receiver, then the thread whose VSpace goes. */
    ASSERT_OK(kt_thread(receive_one_fault, 0, &receiver));
    ASSERT_OK(kt_thread_prepare(never_runs, 0, &doomed));
    ASSERT_OK(keel_tcb_configure(doomed->tcb, 0, vspace, 0, lw.ep, 0, 0, 0));
    ASSERT_OK(keel_thread_start(doomed));
    ASSERT_OK(keel_cspace_revoke(vspace)); /* the thread's copy too: the VSpace dies */
    ASSERT_OK(keel_cspace_delete(vspace));
    bool done = kt_wait_flag(&lw.done);
    keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, true);
    ASSERT_TRUE(done);
    EXPECT_EQ(lw.err, 0);
    EXPECT_EQ(lw.label, KEEL_FAULT_NO_VSPACE);
    EXPECT_EQ(kt_type(doomed->tcb), KEEL_OBJ_TCB);
}

/* A thread's IPC buffer is the frame its TCB's buffer cap names, at every use: once that cap is
 * revoked, the thread has no buffer, and an invocation whose answer needs one (ReadRegisters: 20
 * words) is refused rather than written into the frame it no longer holds. */
static struct {
    uint64_t target;
    volatile int done, err;
} rb;

static void read_registers_of_target(void *arg)
{
    (void)arg;
    struct keel_user_regs regs;
    rb.err = keel_tcb_read_registers(rb.target, &regs);
    rb.done = 1;
}

KEEL_TEST(ipc_state_revoked_ipc_buffer_is_not_written)
{
    static uint8_t stack[4096] __attribute__((aligned(16)));
    uint64_t frame;
    struct keel_thread *target;
    memset((void *)&rb, 0, sizeof rb);
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &frame));
    ASSERT_OK(kt_thread_prepare(never_runs, 0, &target));
    rb.target = target->tcb;
    /* The reader's IPC buffer: `frame`, mapped in our VSpace at a free address. */
    uint64_t va = 0x0000500000000000ull;
    ASSERT_OK(keel_vspace_map_frame(frame, KEEL_SLOT_VSPACE, va, KEEL_MAP_READ | KEEL_MAP_WRITE, KEEL_CACHE_WB, 0));
    struct keel_thread reader;
    struct keel_thread_config cfg = {
        .entry = read_registers_of_target, .stack_top = stack + sizeof stack,
        .priority = KEEL_THREAD_PRIORITY_INHERIT, .ipc_frame = frame, .ipc_addr = va,
    };
    ASSERT_OK(keel_thread_create(&reader, &cfg));
    memset((void *)va, 0x5a, 4096);
    /* The reader's copy of the buffer cap is a child of ours: Revoke takes it, the frame stays. */
    ASSERT_OK(keel_cspace_revoke(frame));
    ASSERT_OK(keel_thread_start(&reader));
    ASSERT_TRUE(kt_wait_flag(&rb.done));
    EXPECT_EQ(rb.err, KEEL_E_ILLEGAL_OPERATION);
    bool untouched = true;
    for (unsigned i = 0; i < 4096; i++)
        untouched &= ((volatile uint8_t *)va)[i] == 0x5a;
    EXPECT_TRUE(untouched);
    EXPECT_OK(keel_frame_unmap(frame));
}
