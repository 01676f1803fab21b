/* Capability transfer in IPC (the Grant and GrantReply rights, receive slots, unwrapping), and
 * objects deleted while threads are blocked on them.
 *
 * Cap transfer needs an IPC buffer on both sides. The peer thread gets one of our own image's
 * pages: a page-aligned static array whose frame cap is found among the BootInfo's image frames
 * (Frame GetAddress names the address each is mapped at). */
#include "ktest.h"

static uint8_t peer_page[4096] __attribute__((aligned(4096)));

#define PEER_STACK 16384
static uint8_t peer_stack[PEER_STACK] __attribute__((aligned(16)));
static struct keel_thread peer;

/* The image frame cap backing our page at `va`. */
static int image_frame_of(uint64_t va, uint64_t *slot)
{
    for (uint64_t s = kt_bi->image_frames.start; s < kt_bi->image_frames.end; s++) {
        struct keel_frame_info fi;
        if (keel_frame_get_address(s, &fi) == 0 && fi.mapped_vaddr == va) {
            *slot = s;
            return 0;
        }
    }
    return KEEL_E_FAILED_LOOKUP;
}

/* A thread of ours with peer_page as its IPC buffer, at our priority, not started. */
static int peer_prepare(void (*fn)(void *), struct keel_thread **out)
{
    uint64_t frame;
    int err = image_frame_of((uint64_t)peer_page, &frame);
    if (err) {
        ktest_check(false, __FILE__, __LINE__, "no image frame cap maps %p", (void *)peer_page);
        return err;
    }
    memset(peer_page, 0, sizeof(peer_page));
    struct keel_thread_config cfg = {
        .entry = fn,
        .stack_top = peer_stack + PEER_STACK,
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
        .ipc_frame = frame,
        .ipc_addr = (uint64_t)peer_page,
    };
    *out = &peer;
    return keel_thread_create(&peer, &cfg);
}

static int peer_start(void (*fn)(void *), struct keel_thread **out)
{
    int err = peer_prepare(fn, out);
    return err ? err : keel_thread_start(*out);
}

/* Shared with the peer. */
static struct {
    uint64_t ep, reply, recv_slot, give;   /* set up by the test */
    uint64_t reply_label;
    volatile int done, err;
    volatile uint64_t info, badge, mr0, caps[3];
} gb;

static void gb_reset(void) { memset((void *)&gb, 0, sizeof(gb)); }

/* Where a received cap goes: slot `slot` of our (shared) CSpace root; 0 for none. */
static void set_receive_slot(struct keel_ipc_buffer *b, uint64_t slot)
{
    b->receive_cnode = 0;
    b->receive_index = slot;
    b->receive_depth = slot ? KEEL_CSPACE_DEPTH : 0;
}

/* Peer: receive one message into gb.recv_slot, record what arrived. */
static void grant_receiver(void *arg)
{
    (void)arg;
    struct keel_ipc_buffer *b = keel_ipc_buffer();
    set_receive_slot(b, gb.recv_slot);
    for (int i = 0; i < 3; i++)
        b->caps[i] = 0xdeadull; /* so we see what the kernel wrote */
    struct keel_msg m;
    gb.err = keel_recv(gb.ep, 0, &m);
    gb.info = m.info;
    gb.badge = m.badge;
    gb.mr0 = m.mr[0];
    for (int i = 0; i < 3; i++)
        gb.caps[i] = b->caps[i];
    gb.done = 1;
}

/* Send on `ep` from the root task, label 0x66, MR0 0x1234, with `n` caps. */
static int send_caps(uint64_t ep, const uint64_t *caps, unsigned n)
{
    struct keel_ipc_buffer *b = keel_ipc_buffer();
    for (unsigned i = 0; i < n; i++)
        b->caps[i] = caps[i];
    struct keel_msg m = { .info = keel_msginfo(0x66, n, 1) };
    m.mr[0] = 0x1234;
    return keel_send(ep, &m);
}

/* Start the receiver, wait until it waits, send `caps` through `send_ep`, wait for the result. */
static bool transfer(uint64_t send_ep, const uint64_t *caps, unsigned n)
{
    struct keel_thread *t;
    if (!ktest_check(peer_start(grant_receiver, &t) == 0, __FILE__, __LINE__, "peer thread failed"))
        return false;
    if (!ktest_check(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_RECV), __FILE__, __LINE__, "peer not receiving"))
        return false;
    int err = send_caps(send_ep, caps, n);
    if (!ktest_check(err == 0, __FILE__, __LINE__, "send: %s", keel_strerror(err)))
        return false;
    if (!ktest_check(kt_wait_flag(&gb.done), __FILE__, __LINE__, "peer got nothing"))
        return false;
    return ktest_check(gb.err == 0, __FILE__, __LINE__, "peer's Recv: %s", keel_strerror(gb.err)) &&
           ktest_check(keel_msg_label(gb.info) == 0x66 && gb.mr0 == 0x1234, __FILE__, __LINE__,
                       "message damaged: label %#llx MR0 %#llx", (unsigned long long)keel_msg_label(gb.info),
                       (unsigned long long)gb.mr0);
}

static bool same_object(uint64_t a, uint64_t b)
{
    struct keel_cap_identity ia, ib;
    return kt_identify(a, &ia) == 0 && kt_identify(b, &ib) == 0 && ia.type == ib.type && ia.object == ib.object &&
           ia.type != KEEL_CAP_NULL;
}

/* Tests that set our own receive slot go through this, so it is cleared whatever happens. */
#define GRANT_TEST(name_)                                                                                \
    static void grant_body_##name_(void);                                                                \
    KEEL_TEST(name_)                                                                                     \
    {                                                                                                    \
        gb_reset();                                                                                      \
        grant_body_##name_();                                                                            \
        set_receive_slot(keel_ipc_buffer(), 0);                                                          \
    }                                                                                                    \
    static void grant_body_##name_(void)

/* ---- Grant ---- */

GRANT_TEST(grant_transfers_cap_to_receive_slot)
{
    uint64_t ntfn, word;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    if (!transfer(gb.ep, &ntfn, 1))
        return;
    EXPECT_EQ(keel_msg_extra_caps(gb.info), 1);
    EXPECT_EQ(keel_msg_unwrapped(gb.info), 0);
    EXPECT_EQ(keel_msg_length(gb.info), 1);
    EXPECT_EQ(gb.badge, 0);
    EXPECT_EQ(kt_type(gb.recv_slot), KEEL_OBJ_NOTIFICATION);
    EXPECT_TRUE(same_object(gb.recv_slot, ntfn));
    struct keel_cap_identity id;
    ASSERT_OK(kt_identify(gb.recv_slot, &id));
    EXPECT_EQ(id.rights, KEEL_RIGHTS_ALL);
    /* The copy works: a signal through it arrives at the original. */
    ASSERT_OK(keel_signal(gb.recv_slot));
    ASSERT_OK(keel_poll(ntfn, &word));
    EXPECT_EQ(word, 1);
    /* The sender keeps its cap. */
    EXPECT_EQ(kt_type(ntfn), KEEL_OBJ_NOTIFICATION);
}

/* The transferred cap keeps the sender's cap's rights and badge. */
GRANT_TEST(grant_keeps_rights_and_badge)
{
    uint64_t ntfn, minted;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(kt_mint(ntfn, KEEL_RIGHT_WRITE, 0x40, &minted));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    if (!transfer(gb.ep, &minted, 1))
        return;
    EXPECT_EQ(keel_msg_extra_caps(gb.info), 1);
    struct keel_cap_identity id;
    ASSERT_OK(kt_identify(gb.recv_slot, &id));
    EXPECT_EQ(id.type, KEEL_OBJ_NOTIFICATION);
    EXPECT_EQ(id.rights, KEEL_RIGHT_WRITE);
    EXPECT_EQ(id.badge, 0x40);
}

/* Without Grant on the sender's endpoint cap the message arrives but the cap does not. */
GRANT_TEST(grant_right_needed_for_transfer)
{
    uint64_t ntfn, no_grant;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(kt_mint(gb.ep, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, 0, &no_grant));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    if (!transfer(no_grant, &ntfn, 1))
        return;
    EXPECT_EQ(keel_msg_extra_caps(gb.info), 0);
    EXPECT_EQ(keel_msg_unwrapped(gb.info), 0);
    EXPECT_EQ(kt_type(gb.recv_slot), KEEL_CAP_NULL);
}

/* The receiver's copy is a child of the sender's cap: revoking the sender's cap deletes it. */
GRANT_TEST(grant_transferred_cap_is_child_of_sender_cap)
{
    uint64_t ntfn;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    if (!transfer(gb.ep, &ntfn, 1))
        return;
    ASSERT_EQ(kt_type(gb.recv_slot), KEEL_OBJ_NOTIFICATION);
    ASSERT_OK(keel_cspace_revoke(ntfn));
    EXPECT_EQ(kt_type(gb.recv_slot), KEEL_CAP_NULL);
    EXPECT_EQ(kt_type(ntfn), KEEL_OBJ_NOTIFICATION);
    EXPECT_OK(keel_signal(ntfn));
}

/* A cap to the endpoint the message travels through arrives as its badge (unwrapped), not in
 * the receive slot. */
GRANT_TEST(grant_unwraps_cap_to_same_endpoint)
{
    uint64_t badged;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_mint(gb.ep, KEEL_RIGHT_WRITE, 0x55, &badged));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    if (!transfer(gb.ep, &badged, 1))
        return;
    EXPECT_EQ(keel_msg_extra_caps(gb.info), 1);
    EXPECT_EQ(keel_msg_unwrapped(gb.info), 1);
    EXPECT_EQ(gb.caps[0], 0x55);
    EXPECT_EQ(kt_type(gb.recv_slot), KEEL_CAP_NULL);
}

/* Unwrapped and transferred caps in one message: bit i of "unwrapped" says which is which. */
GRANT_TEST(grant_unwrapped_and_transferred_together)
{
    uint64_t badged, ntfn;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(kt_mint(gb.ep, KEEL_RIGHT_WRITE, 0x77, &badged));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    const uint64_t caps[2] = { badged, ntfn };
    if (!transfer(gb.ep, caps, 2))
        return;
    EXPECT_EQ(keel_msg_extra_caps(gb.info), 2);
    EXPECT_EQ(keel_msg_unwrapped(gb.info), 1);
    EXPECT_EQ(gb.caps[0], 0x77);
    EXPECT_TRUE(same_object(gb.recv_slot, ntfn));
}

/* An occupied receive slot: the message arrives, the cap does not, the slot keeps its cap. */
GRANT_TEST(grant_receive_slot_occupied)
{
    uint64_t ntfn, other;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &other));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    ASSERT_OK(keel_cspace_copy(gb.recv_slot, other, KEEL_RIGHTS_ALL));
    if (!transfer(gb.ep, &ntfn, 1))
        return;
    EXPECT_EQ(keel_msg_extra_caps(gb.info), 0);
    EXPECT_TRUE(same_object(gb.recv_slot, other));
}

/* A receiver that named no receive slot (depth 0) gets the message without the cap. */
GRANT_TEST(grant_without_receive_slot)
{
    uint64_t ntfn;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    gb.recv_slot = 0;
    if (!transfer(gb.ep, &ntfn, 1))
        return;
    EXPECT_EQ(keel_msg_extra_caps(gb.info), 0);
}

/* Only one slot per message: the second transferable cap stops the transfer (seL4's rule); the
 * count says how many arrived. */
GRANT_TEST(grant_two_caps_one_receive_slot)
{
    uint64_t n1, n2;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &n1));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &n2));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    const uint64_t caps[2] = { n1, n2 };
    if (!transfer(gb.ep, caps, 2))
        return;
    EXPECT_EQ(keel_msg_extra_caps(gb.info), 1);
    EXPECT_TRUE(same_object(gb.recv_slot, n1));
}

/* An Untyped cap cannot be copied, so it cannot be granted either; the message still arrives. */
GRANT_TEST(grant_untyped_not_transferred)
{
    uint64_t ut;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_untyped(4096, &ut));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    if (!transfer(gb.ep, &ut, 1))
        return;
    EXPECT_EQ(keel_msg_extra_caps(gb.info), 0);
    EXPECT_EQ(kt_type(gb.recv_slot), KEEL_CAP_NULL);
}

/* ---- GrantReply: a cap in the reply to a Call ---- */

/* Peer: take one Call, answer it with gb.give as extra cap and label gb.reply_label. */
static void grant_server(void *arg)
{
    (void)arg;
    struct keel_ipc_buffer *b = keel_ipc_buffer();
    struct keel_msg m;
    gb.err = keel_recv(gb.ep, gb.reply, &m);
    gb.info = m.info;
    b->caps[0] = gb.give;
    struct keel_msg r = { .info = keel_msginfo(gb.reply_label, 1, 1) };
    r.mr[0] = 0xabc;
    keel_reply(gb.reply, &r);
    gb.done = 1;
}

/* Call through `call_ep` with our receive slot set; the answer in *m. */
static bool call_server(uint64_t call_ep, struct keel_msg *m)
{
    struct keel_thread *t;
    if (!ktest_check(peer_start(grant_server, &t) == 0, __FILE__, __LINE__, "server thread failed") ||
        !ktest_check(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_RECV), __FILE__, __LINE__, "server not receiving"))
        return false;
    set_receive_slot(keel_ipc_buffer(), gb.recv_slot);
    *m = keel_msg_make(0x10, 0);
    int err = keel_call(call_ep, m);
    return ktest_check(err == 0, __FILE__, __LINE__, "call: %s", keel_strerror(err)) &&
           ktest_check(keel_msg_label(m->info) == 0x42 && m->mr[0] == 0xabc, __FILE__, __LINE__,
                       "reply damaged: label %#llx MR0 %#llx", (unsigned long long)keel_msg_label(m->info),
                       (unsigned long long)m->mr[0]);
}

GRANT_TEST(grant_reply_with_grant_reply_right)
{
    uint64_t ntfn, caller_cap;
    struct keel_msg m;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &gb.reply));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    /* GrantReply without Grant: the caller may not send caps, but accepts them in the reply. */
    ASSERT_OK(kt_mint(gb.ep, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, 0, &caller_cap));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    gb.give = ntfn;
    gb.reply_label = 0x42;
    if (!call_server(caller_cap, &m))
        return;
    EXPECT_EQ(keel_msg_extra_caps(m.info), 1);
    EXPECT_TRUE(same_object(gb.recv_slot, ntfn));
}

GRANT_TEST(grant_reply_without_grant_reply_right)
{
    uint64_t ntfn, caller_cap;
    struct keel_msg m;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &gb.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &gb.reply));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    /* Grant alone says nothing about the reply. */
    ASSERT_OK(kt_mint(gb.ep, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT, 0, &caller_cap));
    ASSERT_OK(kt_slot(&gb.recv_slot));
    gb.give = ntfn;
    gb.reply_label = 0x42;
    if (!call_server(caller_cap, &m))
        return;
    EXPECT_EQ(keel_msg_extra_caps(m.info), 0);
    EXPECT_EQ(kt_type(gb.recv_slot), KEEL_CAP_NULL);
}

/* ---- Objects deleted while a thread is blocked on them ---- */

static struct {
    uint64_t ep, ntfn, reply;
    volatile int err[2], done[2];
    volatile uint64_t label[2];
} db;

static void db_reset(void) { memset((void *)&db, 0, sizeof(db)); }

static void blocked_sender(void *arg)
{
    int i = (int)(uintptr_t)arg;
    struct keel_msg m = keel_msg_make(0x100 + (uint64_t)i, 0);
    db.err[i] = keel_send(db.ep, &m);
    db.done[i] = 1;
}

static void blocked_caller(void *arg)
{
    int i = (int)(uintptr_t)arg;
    struct keel_msg m = keel_msg_make(0x200 + (uint64_t)i, 0);
    db.err[i] = keel_call(db.ep, &m);
    db.label[i] = keel_msg_label(m.info);
    db.done[i] = 1;
}

static void blocked_waiter(void *arg)
{
    int i = (int)(uintptr_t)arg;
    db.err[i] = keel_wait(db.ntfn, 0);
    db.done[i] = 1;
}

static void blocked_receiver(void *arg)
{
    int i = (int)(uintptr_t)arg;
    struct keel_msg m;
    db.err[i] = keel_recv(db.ep, db.reply, &m);
    db.done[i] = 1;
}

/* Deleting a thread queued in Send takes it off the queue: a receiver gets the next sender's
 * message, then nothing. */
KEEL_TEST(delete_tcb_blocked_in_send_leaves_queue)
{
    db_reset();
    struct keel_thread *a, *b;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &db.ep));
    ASSERT_OK(kt_thread(blocked_sender, (void *)0, &a));
    ASSERT_TRUE(kt_wait_state(a->tcb, KEEL_THREAD_BLOCKED_SEND));
    ASSERT_OK(kt_thread(blocked_sender, (void *)1, &b));
    ASSERT_TRUE(kt_wait_state(b->tcb, KEEL_THREAD_BLOCKED_SEND));
    ASSERT_OK(keel_cspace_delete(a->tcb));
    EXPECT_EQ(kt_type(a->tcb), KEEL_CAP_NULL);
    struct keel_msg m;
    ASSERT_OK(keel_nbrecv(db.ep, 0, &m));
    EXPECT_EQ(keel_msg_label(m.info), 0x101);
    EXPECT_ERR(keel_nbrecv(db.ep, 0, &m), KEEL_E_WOULD_BLOCK);
    ASSERT_TRUE(kt_wait_flag(&db.done[1]));
    EXPECT_OK(db.err[1]);
    EXPECT_EQ(db.done[0], 0);
}

/* The only sender deleted: the endpoint is idle again (a receiver would block). */
KEEL_TEST(delete_only_sender_empties_endpoint)
{
    db_reset();
    struct keel_thread *a;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &db.ep));
    ASSERT_OK(kt_thread(blocked_sender, (void *)0, &a));
    ASSERT_TRUE(kt_wait_state(a->tcb, KEEL_THREAD_BLOCKED_SEND));
    ASSERT_OK(keel_cspace_delete(a->tcb));
    struct keel_msg m;
    EXPECT_ERR(keel_nbrecv(db.ep, 0, &m), KEEL_E_WOULD_BLOCK);
    /* And it works as an endpoint for the next pair. */
    EXPECT_ERR(keel_nbsend(db.ep, &m), KEEL_E_WOULD_BLOCK);
}

/* A caller deleted while it waits for the reply: the server's reply has nobody to go to. */
KEEL_TEST(delete_caller_then_reply_fails)
{
    db_reset();
    struct keel_thread *a;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &db.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &db.reply));
    ASSERT_OK(kt_thread(blocked_caller, (void *)0, &a));
    ASSERT_TRUE(kt_wait_state(a->tcb, KEEL_THREAD_BLOCKED_SEND));
    struct keel_msg m;
    ASSERT_OK(keel_nbrecv(db.ep, db.reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), 0x200);
    ASSERT_EQ(kt_type(a->tcb), KEEL_OBJ_TCB);
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(a->tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_BLOCKED_REPLY);
    ASSERT_OK(keel_cspace_delete(a->tcb));
    struct keel_msg r = keel_msg_make(1, 0);
    EXPECT_ERR(keel_reply(db.reply, &r), KEEL_E_ILLEGAL_OPERATION);
    /* The reply object is free for the next call. */
    EXPECT_ERR(keel_nbrecv(db.ep, db.reply, &m), KEEL_E_WOULD_BLOCK);
}

/* The reply object deleted while its caller waits: the Call fails with CANCELLED. */
KEEL_TEST(delete_reply_object_cancels_caller)
{
    db_reset();
    struct keel_thread *a;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &db.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &db.reply));
    ASSERT_OK(kt_thread(blocked_caller, (void *)0, &a));
    ASSERT_TRUE(kt_wait_state(a->tcb, KEEL_THREAD_BLOCKED_SEND));
    struct keel_msg m;
    ASSERT_OK(keel_nbrecv(db.ep, db.reply, &m));
    ASSERT_OK(keel_free_object(db.reply));
    ASSERT_TRUE(kt_wait_flag(&db.done[0]));
    EXPECT_ERR(db.err[0], KEEL_E_CANCELLED);
}

/* A notification deleted under a waiting thread: its Wait fails with CANCELLED. */
KEEL_TEST(delete_notification_cancels_waiter)
{
    db_reset();
    struct keel_thread *a, *b;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &db.ntfn));
    ASSERT_OK(kt_thread(blocked_waiter, (void *)0, &a));
    ASSERT_OK(kt_thread(blocked_waiter, (void *)1, &b));
    ASSERT_TRUE(kt_wait_state(a->tcb, KEEL_THREAD_BLOCKED_NOTIFICATION));
    ASSERT_TRUE(kt_wait_state(b->tcb, KEEL_THREAD_BLOCKED_NOTIFICATION));
    ASSERT_OK(keel_free_object(db.ntfn));
    ASSERT_TRUE(kt_wait_flag(&db.done[0]));
    ASSERT_TRUE(kt_wait_flag(&db.done[1]));
    EXPECT_ERR(db.err[0], KEEL_E_CANCELLED);
    EXPECT_ERR(db.err[1], KEEL_E_CANCELLED);
}

/* An endpoint deleted under a blocked sender: its Send fails with CANCELLED. */
KEEL_TEST(delete_endpoint_cancels_sender)
{
    db_reset();
    struct keel_thread *a;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &db.ep));
    ASSERT_OK(kt_thread(blocked_sender, (void *)0, &a));
    ASSERT_TRUE(kt_wait_state(a->tcb, KEEL_THREAD_BLOCKED_SEND));
    ASSERT_OK(keel_free_object(db.ep));
    ASSERT_TRUE(kt_wait_flag(&db.done[0]));
    EXPECT_ERR(db.err[0], KEEL_E_CANCELLED);
}

/* A receiver deleted while it waits with a reply object: the reply object is free again. */
KEEL_TEST(delete_receiver_frees_its_reply_object)
{
    db_reset();
    struct keel_thread *a;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &db.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &db.reply));
    ASSERT_OK(kt_thread(blocked_receiver, (void *)0, &a));
    ASSERT_TRUE(kt_wait_state(a->tcb, KEEL_THREAD_BLOCKED_RECV));
    struct keel_msg m;
    /* While it waits, the reply object is taken. */
    EXPECT_ERR(keel_nbrecv(db.ep, db.reply, &m), KEEL_E_ILLEGAL_OPERATION);
    ASSERT_OK(keel_cspace_delete(a->tcb));
    EXPECT_ERR(keel_nbrecv(db.ep, db.reply, &m), KEEL_E_WOULD_BLOCK);
    m = keel_msg_make(1, 0);
    EXPECT_ERR(keel_nbsend(db.ep, &m), KEEL_E_WOULD_BLOCK); /* no receiver left */
}

/* A caller suspended while it waits for its reply: the reply has nobody to go to, and the
 * resumed caller sees its Call end with CANCELLED. */
KEEL_TEST(suspend_caller_waiting_for_reply)
{
    db_reset();
    struct keel_thread *a;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &db.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &db.reply));
    ASSERT_OK(kt_thread(blocked_caller, (void *)0, &a));
    ASSERT_TRUE(kt_wait_state(a->tcb, KEEL_THREAD_BLOCKED_SEND));
    struct keel_msg m;
    ASSERT_OK(keel_nbrecv(db.ep, db.reply, &m));
    ASSERT_OK(keel_tcb_suspend(a->tcb));
    struct keel_msg r = keel_msg_make(1, 0);
    EXPECT_ERR(keel_reply(db.reply, &r), KEEL_E_ILLEGAL_OPERATION);
    EXPECT_EQ(db.done[0], 0);
    ASSERT_OK(keel_tcb_resume(a->tcb));
    ASSERT_TRUE(kt_wait_flag(&db.done[0]));
    EXPECT_ERR(db.err[0], KEEL_E_CANCELLED);
}

/* A thread deleting its own TCB: it never runs again and the kernel carries on. */
static volatile int self_delete_after;

static void delete_self(void *arg)
{
    keel_cspace_delete(*(uint64_t *)arg);
    self_delete_after = 1;
}

KEEL_TEST(delete_own_tcb)
{
    static uint64_t tcb;
    struct keel_thread *a;
    self_delete_after = 0;
    ASSERT_OK(kt_thread_prepare(delete_self, &tcb, &a));
    tcb = a->tcb;
    ASSERT_OK(keel_thread_start(a));
    for (int i = 0; i < 50 && kt_type(tcb) != KEEL_CAP_NULL; i++)
        keel_yield();
    EXPECT_EQ(kt_type(tcb), KEEL_CAP_NULL);
    for (int i = 0; i < 20; i++)
        keel_yield();
    EXPECT_EQ(self_delete_after, 0);
    uint64_t v = 1;
    EXPECT_OK(keel_debug_check_invariants(KEEL_SLOT_DEBUG, &v));
    EXPECT_EQ(v, 0);
}

/* Revoking an endpoint's original cap deletes the derived copies: using a copy's slot is a
 * lookup failure (missing cap), while the original still works. */
KEEL_TEST(revoke_then_use_derived_copy)
{
    uint64_t ep, copy, minted;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_slot(&copy));
    ASSERT_OK(keel_cspace_copy(copy, ep, KEEL_RIGHTS_ALL));
    ASSERT_OK(kt_mint(ep, KEEL_RIGHT_WRITE, 0x9, &minted));
    ASSERT_OK(keel_cspace_revoke(ep));
    struct keel_msg m = keel_msg_make(1, 0);
    EXPECT_ERR(keel_nbsend(copy, &m), KEEL_E_FAILED_LOOKUP);
    EXPECT_EQ(m.mr[0], KEEL_LOOKUP_MISSING_CAP);
    EXPECT_EQ(m.mr[2], 0);
    m = keel_msg_make(1, 0);
    EXPECT_ERR(keel_nbsend(minted, &m), KEEL_E_FAILED_LOOKUP);
    EXPECT_EQ(m.mr[0], KEEL_LOOKUP_MISSING_CAP);
    m = keel_msg_make(1, 0);
    EXPECT_ERR(keel_nbsend(ep, &m), KEEL_E_WOULD_BLOCK);
}
