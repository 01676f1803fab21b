/* IPC between two threads of this address space with register-only messages (the second thread
 * has no IPC buffer), and notifications. */
#include "ktest.h"

/* Shared with the peer thread; static so that a peer outliving a failed test stays harmless. */
static struct box {
    uint64_t ep, ep2, reply, ntfn;
    volatile int done, err;
    volatile uint64_t info, badge, mr[4];
    volatile uint64_t badges[4];
} box;

static void box_reset(void) { memset((void *)&box, 0, sizeof(box)); }

static void store(const struct keel_msg *m)
{
    box.info = m->info;
    box.badge = m->badge;
    for (int i = 0; i < 4; i++)
        box.mr[i] = m->mr[i];
}

/* Receive one message, record it, answer on ep2 with every word plus one. */
static void echo_once(void *arg)
{
    (void)arg;
    struct keel_msg m;
    box.err = keel_recv(box.ep, 0, &m);
    store(&m);
    struct keel_msg r = keel_msg_make(0x99, 4);
    for (int i = 0; i < 4; i++)
        r.mr[i] = m.mr[i] + 1;
    keel_send(box.ep2, &r);
    box.done = 1;
}

KEEL_TEST(ipc_send_recv_registers)
{
    box_reset();
    struct keel_thread *t;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep2));
    ASSERT_OK(kt_thread(echo_once, 0, &t));
    struct keel_msg m = keel_msg_make(0x42, 4);
    m.mr[0] = 1, m.mr[1] = 2, m.mr[2] = 3, m.mr[3] = 0xfedcba9876543210;
    ASSERT_OK(keel_send(box.ep, &m));
    struct keel_msg r;
    ASSERT_OK(keel_recv(box.ep2, 0, &r));
    EXPECT_EQ(box.err, 0);
    EXPECT_EQ(keel_msg_label(box.info), 0x42);
    EXPECT_EQ(keel_msg_length(box.info), 4);
    EXPECT_EQ(box.badge, 0);
    EXPECT_EQ(box.mr[0], 1);
    EXPECT_EQ(box.mr[3], 0xfedcba9876543210);
    EXPECT_EQ(keel_msg_label(r.info), 0x99);
    EXPECT_EQ(keel_msg_length(r.info), 4);
    EXPECT_EQ(r.mr[0], 2);
    EXPECT_EQ(r.mr[2], 4);
}

/* Call / ReplyRecv: a server doubling MR0 and adding one to the label. */
static void doubling_server(void *arg)
{
    (void)arg;
    struct keel_msg m;
    int err = keel_recv(box.ep, box.reply, &m);
    for (;;) {
        box.err = err;
        box.badge = m.badge;
        uint64_t label = keel_msg_label(m.info);
        uint64_t v = m.mr[0];
        m = keel_msg_make(label + 1, 1);
        m.mr[0] = v * 2;
        err = keel_reply_recv(box.ep, box.reply, &m);
    }
}

KEEL_TEST(ipc_call_reply_recv)
{
    box_reset();
    struct keel_thread *t;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &box.reply));
    ASSERT_OK(kt_thread(doubling_server, 0, &t));
    for (uint64_t i = 0; i < 200; i++) {
        struct keel_msg m = keel_msg_make(7 + i, 1);
        m.mr[0] = 21 + i;
        ASSERT_OK(keel_call(box.ep, &m));
        ASSERT_EQ(keel_msg_label(m.info), 8 + i);
        ASSERT_EQ(keel_msg_length(m.info), 1);
        ASSERT_EQ(m.mr[0], 2 * (21 + i));
    }
    EXPECT_EQ(box.err, 0);
}

/* The server answers with Send on the Reply object, then waits again with Recv. */
static void send_reply_server(void *arg)
{
    (void)arg;
    for (;;) {
        struct keel_msg m;
        box.err = keel_recv(box.ep, box.reply, &m);
        struct keel_msg r = keel_msg_make(0x5, 2);
        r.mr[0] = m.mr[0] + 100;
        r.mr[1] = m.mr[1] + 100;
        keel_reply(box.reply, &r);
    }
}

KEEL_TEST(ipc_reply_with_send_on_reply_object)
{
    box_reset();
    struct keel_thread *t;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &box.reply));
    ASSERT_OK(kt_thread(send_reply_server, 0, &t));
    for (int i = 0; i < 3; i++) {
        struct keel_msg m = keel_msg_make(1, 2);
        m.mr[0] = (uint64_t)i;
        m.mr[1] = 50;
        ASSERT_OK(keel_call(box.ep, &m));
        EXPECT_EQ(keel_msg_label(m.info), 5);
        EXPECT_EQ(m.mr[0], 100 + (uint64_t)i);
        EXPECT_EQ(m.mr[1], 150);
    }
}

static void collect_badges(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        struct keel_msg m;
        keel_recv(box.ep, 0, &m);
        box.badges[i] = m.badge;
        box.done = i + 1;
    }
}

KEEL_TEST(ipc_badge_delivery)
{
    box_reset();
    uint64_t b1, b2;
    struct keel_thread *t;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep));
    ASSERT_OK(kt_mint(box.ep, KEEL_RIGHT_WRITE, 0xbeef, &b1));
    ASSERT_OK(kt_mint(box.ep, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, 0x1, &b2));
    ASSERT_OK(kt_thread(collect_badges, 0, &t));
    struct keel_msg m = keel_msg_make(0, 0);
    ASSERT_OK(keel_send(b1, &m));
    m = keel_msg_make(0, 0);
    ASSERT_OK(keel_send(box.ep, &m));
    m = keel_msg_make(0, 0);
    ASSERT_OK(keel_send(b2, &m));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_INACTIVE)); /* it suspends after three */
    EXPECT_EQ(box.badges[0], 0xbeef);
    EXPECT_EQ(box.badges[1], 0);
    EXPECT_EQ(box.badges[2], 0x1);
}

KEEL_TEST(ipc_nonblocking_without_partner)
{
    uint64_t ep;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    struct keel_msg m = keel_msg_make(3, 1);
    EXPECT_ERR(keel_nbsend(ep, &m), KEEL_E_WOULD_BLOCK);
    EXPECT_ERR(keel_nbrecv(ep, 0, &m), KEEL_E_WOULD_BLOCK);
}

static void recv_once(void *arg)
{
    (void)arg;
    struct keel_msg m;
    box.err = keel_recv(box.ep, 0, &m);
    store(&m);
    box.done = 1;
}

KEEL_TEST(ipc_nbsend_to_waiting_receiver)
{
    box_reset();
    struct keel_thread *t;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep));
    ASSERT_OK(kt_thread(recv_once, 0, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_RECV));
    struct keel_msg m = keel_msg_make(0x77, 2);
    m.mr[0] = 10, m.mr[1] = 20;
    ASSERT_OK(keel_nbsend(box.ep, &m));
    ASSERT_TRUE(kt_wait_flag(&box.done));
    EXPECT_EQ(keel_msg_label(box.info), 0x77);
    EXPECT_EQ(keel_msg_length(box.info), 2);
    EXPECT_EQ(box.mr[1], 20);
}

static void send_once(void *arg)
{
    (void)arg;
    struct keel_msg m = keel_msg_make(0x31, 3);
    m.mr[0] = 7, m.mr[1] = 8, m.mr[2] = 9;
    box.err = keel_send(box.ep, &m);
    box.done = 1;
}

KEEL_TEST(ipc_nbrecv_from_waiting_sender)
{
    box_reset();
    struct keel_thread *t;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep));
    ASSERT_OK(kt_thread(send_once, 0, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_SEND));
    struct keel_msg m;
    ASSERT_OK(keel_nbrecv(box.ep, 0, &m));
    EXPECT_EQ(keel_msg_label(m.info), 0x31);
    EXPECT_EQ(keel_msg_length(m.info), 3);
    EXPECT_EQ(m.mr[2], 9);
    ASSERT_TRUE(kt_wait_flag(&box.done));
    EXPECT_EQ(box.err, 0);
}

/* A cap without Write cannot send: refused at once, the waiting receiver gets nothing. */
KEEL_TEST(ipc_rights_enforced)
{
    box_reset();
    struct keel_thread *t;
    uint64_t ro, wo;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep));
    ASSERT_OK(kt_mint(box.ep, KEEL_RIGHT_READ, 0, &ro));
    ASSERT_OK(kt_mint(box.ep, KEEL_RIGHT_WRITE, 0, &wo));
    ASSERT_OK(kt_thread(recv_once, 0, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_RECV));
    struct keel_msg m = keel_msg_make(1, 0);
    EXPECT_ERR(keel_send(ro, &m), KEEL_E_INSUFFICIENT_RIGHTS);
    EXPECT_EQ(m.mr[0], KEEL_RIGHT_WRITE); /* rights needed */
    m = keel_msg_make(1, 0);
    EXPECT_ERR(keel_nbsend(ro, &m), KEEL_E_INSUFFICIENT_RIGHTS);
    EXPECT_ERR(keel_nbrecv(wo, 0, &m), KEEL_E_INSUFFICIENT_RIGHTS);
    EXPECT_EQ(m.mr[0], KEEL_RIGHT_READ);
    EXPECT_EQ(box.done, 0);
    EXPECT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_RECV));
    m = keel_msg_make(2, 0);
    ASSERT_OK(keel_send(wo, &m));
    ASSERT_TRUE(kt_wait_flag(&box.done));
    EXPECT_EQ(keel_msg_label(box.info), 2);
}

/* Invoking nothing: an empty slot, and a cptr whose high bits miss the root CNode's guard. */
KEEL_TEST(invoke_null_and_invalid_cptr)
{
    uint64_t empty;
    ASSERT_OK(kt_slot(&empty));
    struct keel_msg m = keel_msg_make(KEEL_TCB_GET_INFO, 0);
    /* An empty slot is a lookup failure naming the missing cap, for the invoked cptr (MR2 0). */
    EXPECT_ERR(keel_call(KEEL_SLOT_NULL, &m), KEEL_E_FAILED_LOOKUP);
    EXPECT_EQ(m.mr[0], KEEL_LOOKUP_MISSING_CAP);
    EXPECT_EQ(m.mr[2], 0);
    m = keel_msg_make(KEEL_TCB_GET_INFO, 0);
    EXPECT_ERR(keel_call(empty, &m), KEEL_E_FAILED_LOOKUP);
    EXPECT_EQ(m.mr[0], KEEL_LOOKUP_MISSING_CAP);
    m = keel_msg_make(KEEL_TCB_GET_INFO, 0);
    EXPECT_ERR(keel_call(1ull << 63, &m), KEEL_E_FAILED_LOOKUP);
    EXPECT_EQ(m.mr[0], KEEL_LOOKUP_GUARD_MISMATCH);
    EXPECT_EQ(m.mr[1], 64); /* nothing resolved yet */
    EXPECT_EQ(m.mr[2], 0);  /* the invoked cptr */
    /* Send and Recv report a bad cap in their answer just as Call does. */
    m = keel_msg_make(0, 0);
    EXPECT_ERR(keel_nbsend(empty, &m), KEEL_E_FAILED_LOOKUP);
    EXPECT_ERR(keel_nbrecv(empty, 0, &m), KEEL_E_FAILED_LOOKUP);
    /* assumption: Recv on a cap that is neither endpoint nor notification is INVALID_CAPABILITY. */
    EXPECT_ERR(keel_nbrecv(KEEL_SLOT_TCB, 0, &m), KEEL_E_INVALID_CAPABILITY);
}

KEEL_TEST(invoke_unknown_label_is_illegal)
{
    struct keel_msg m = keel_msg_make(1000, 0);
    EXPECT_ERR(keel_call(KEEL_SLOT_DEBUG, &m), KEEL_E_ILLEGAL_OPERATION);
    m = keel_msg_make(KEEL_CNODE_COPY, 0);
    EXPECT_ERR(keel_call(KEEL_SLOT_TCB, &m), KEEL_E_ILLEGAL_OPERATION);
}

/* A thread blocked on an endpoint that is deleted is woken with CANCELLED. */
KEEL_TEST(ipc_endpoint_deleted_under_receiver)
{
    box_reset();
    struct keel_thread *t;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep));
    ASSERT_OK(kt_thread(recv_once, 0, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_RECV));
    ASSERT_OK(keel_free_object(box.ep));
    /* assumption: the receiver's Recv returns KEEL_E_CANCELLED (abi.h: "the object went away"). */
    ASSERT_TRUE(kt_wait_flag(&box.done));
    EXPECT_ERR(box.err, KEEL_E_CANCELLED);
}

/* ---- Notifications ---- */

KEEL_TEST(ntfn_signal_ors_badges_and_poll)
{
    uint64_t n, b1, b4;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &n));
    ASSERT_OK(kt_mint(n, KEEL_RIGHT_WRITE, 1, &b1));
    ASSERT_OK(kt_mint(n, KEEL_RIGHT_WRITE, 4, &b4));
    uint64_t word = 99;
    EXPECT_ERR(keel_poll(n, &word), KEEL_E_WOULD_BLOCK);
    EXPECT_EQ(word, 0);
    ASSERT_OK(keel_signal(b1));
    ASSERT_OK(keel_signal(b4));
    ASSERT_OK(keel_signal(b1));
    ASSERT_OK(keel_poll(n, &word));
    EXPECT_EQ(word, 5);
    EXPECT_ERR(keel_poll(n, &word), KEEL_E_WOULD_BLOCK); /* the wait cleared it */
    /* A signal already pending: Wait returns at once. */
    ASSERT_OK(keel_signal(b4));
    ASSERT_OK(keel_wait(n, &word));
    EXPECT_EQ(word, 4);
}

static void wait_ntfn(void *arg)
{
    (void)arg;
    uint64_t word;
    box.err = keel_wait(box.ntfn, &word);
    box.badge = word;
    box.done = 1;
}

KEEL_TEST(ntfn_wait_wakes_on_signal)
{
    box_reset();
    struct keel_thread *t;
    uint64_t b2;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &box.ntfn));
    ASSERT_OK(kt_mint(box.ntfn, KEEL_RIGHT_WRITE, 2, &b2));
    ASSERT_OK(kt_thread(wait_ntfn, 0, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_NOTIFICATION));
    ASSERT_OK(keel_signal(b2));
    ASSERT_TRUE(kt_wait_flag(&box.done));
    EXPECT_EQ(box.err, 0);
    EXPECT_EQ(box.badge, 2);
}

KEEL_TEST(ntfn_signal_needs_write)
{
    uint64_t n, ro;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &n));
    ASSERT_OK(kt_mint(n, KEEL_RIGHT_READ, 8, &ro));
    EXPECT_ERR(keel_signal(ro), KEEL_E_INSUFFICIENT_RIGHTS);
    struct keel_msg m = keel_msg_make(0, 0);
    EXPECT_ERR(keel_send(ro, &m), KEEL_E_INSUFFICIENT_RIGHTS);
    EXPECT_EQ(m.mr[0], KEEL_RIGHT_WRITE);
    EXPECT_ERR(keel_poll(n, 0), KEEL_E_WOULD_BLOCK);
}

/* A thread waiting on an endpoint is woken by its bound notification. */
static void recv_bound(void *arg)
{
    (void)arg;
    struct keel_msg m;
    box.err = keel_recv(box.ep, 0, &m);
    store(&m);
    box.done = 1;
}

KEEL_TEST(ntfn_bound_wakes_endpoint_receiver)
{
    box_reset();
    struct keel_thread *t;
    uint64_t b8;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &box.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &box.ntfn));
    ASSERT_OK(kt_mint(box.ntfn, KEEL_RIGHT_WRITE, 8, &b8));
    ASSERT_OK(kt_thread_prepare(recv_bound, 0, &t));
    ASSERT_OK(keel_tcb_bind_notification(t->tcb, box.ntfn));
    ASSERT_OK(keel_thread_start(t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_RECV));
    ASSERT_OK(keel_signal(b8));
    ASSERT_TRUE(kt_wait_flag(&box.done));
    EXPECT_EQ(box.err, 0);
    EXPECT_TRUE(box.info & KEEL_MSG_NOTIFICATION);
    EXPECT_EQ(box.badge, 8);
}
