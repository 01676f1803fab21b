/* TCB: Configure, priorities and MCP, registers, Resume/Suspend, info, and library threads. */
#include "ktest.h"

static int configured_tcb(uint64_t *tcb)
{
    int err = kt_new(KEEL_OBJ_TCB, 0, tcb);
    if (err)
        return err;
    return keel_tcb_configure(*tcb, KEEL_SLOT_CNODE, KEEL_SLOT_VSPACE, 0, 0, 0, 0, keel_bootinfo_guard_bits(kt_bi));
}

KEEL_TEST(tcb_configure_and_get_info)
{
    uint64_t tcb;
    ASSERT_OK(configured_tcb(&tcb));
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_INACTIVE);
    EXPECT_TRUE(info.priority <= KEEL_MAX_PRIORITY);
    EXPECT_TRUE(info.cpu < kt_bi->cpu_count);
}

KEEL_TEST(tcb_configure_wrong_cap_types)
{
    uint64_t tcb, ep;
    ASSERT_OK(kt_new(KEEL_OBJ_TCB, 0, &tcb));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    uint64_t gb = keel_bootinfo_guard_bits(kt_bi);
    EXPECT_ERR(keel_tcb_configure(tcb, ep, KEEL_SLOT_VSPACE, 0, 0, 0, 0, gb), KEEL_E_INVALID_CAPABILITY);
    EXPECT_DETAIL(0, 1); /* extra cap 0 */
    EXPECT_ERR(keel_tcb_configure(tcb, KEEL_SLOT_CNODE, ep, 0, 0, 0, 0, gb), KEEL_E_INVALID_CAPABILITY);
    EXPECT_DETAIL(0, 2);
    EXPECT_ERR(keel_tcb_configure(KEEL_SLOT_CNODE, KEEL_SLOT_CNODE, KEEL_SLOT_VSPACE, 0, 0, 0, 0, gb),
               KEEL_E_ILLEGAL_OPERATION);
}

KEEL_TEST(tcb_get_info_self)
{
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(KEEL_SLOT_TCB, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_RUNNING);
    EXPECT_TRUE(info.priority <= info.mcp);
    EXPECT_TRUE(info.mcp <= KEEL_MAX_PRIORITY);
}

KEEL_TEST(tcb_priority_and_mcp_rules)
{
    struct keel_tcb_info self, info;
    ASSERT_OK(keel_tcb_get_info(KEEL_SLOT_TCB, &self));
    uint64_t lim = self.mcp < 100 ? self.mcp : 100;
    ASSERT_TRUE(lim > 0);
    uint64_t a, b, ep;
    ASSERT_OK(configured_tcb(&a));
    ASSERT_OK(configured_tcb(&b));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));

    ASSERT_OK(keel_tcb_set_priority(a, KEEL_SLOT_TCB, lim - 1));
    ASSERT_OK(keel_tcb_set_mc_priority(a, KEEL_SLOT_TCB, lim));
    ASSERT_OK(keel_tcb_get_info(a, &info));
    EXPECT_EQ(info.priority, lim - 1);
    EXPECT_EQ(info.mcp, lim);

    /* With a as the authority, lim is the ceiling for priority and MCP alike. */
    EXPECT_OK(keel_tcb_set_priority(b, a, lim));
    /* assumption: above the authority's MCP is RANGE with MR1 = 0, MR2 = that MCP (as seL4). */
    EXPECT_ERR(keel_tcb_set_priority(b, a, lim + 1), KEEL_E_RANGE);
    EXPECT_DETAIL(1, 0);
    EXPECT_DETAIL(2, lim);
    EXPECT_ERR(keel_tcb_set_mc_priority(b, a, lim + 1), KEEL_E_RANGE);
    ASSERT_OK(keel_tcb_get_info(b, &info));
    EXPECT_EQ(info.priority, lim);

    EXPECT_ERR(keel_tcb_set_priority(b, KEEL_SLOT_TCB, KEEL_MAX_PRIORITY + 1), KEEL_E_RANGE);
    EXPECT_ERR(keel_tcb_set_priority(b, ep, 1), KEEL_E_INVALID_CAPABILITY);
    EXPECT_DETAIL(0, 1);
}

static void fill_regs(struct keel_user_regs *r, uint64_t seed)
{
    uint64_t *w = (uint64_t *)r;
    for (unsigned i = 0; i < KEEL_USER_REGS_WORDS; i++)
        w[i] = seed + i * 0x1111;
    r->rip = 0x401000;
    r->rsp = 0x7fff0000;
    r->rflags = 0x202;
    r->fs_base = 0x10000000;
    r->gs_base = 0x20000000;
}

KEEL_TEST(tcb_registers_round_trip)
{
    uint64_t tcb;
    ASSERT_OK(configured_tcb(&tcb));
    struct keel_user_regs in, out;
    fill_regs(&in, 0xabc000);
    ASSERT_OK(keel_tcb_write_registers(tcb, false, &in));
    ASSERT_OK(keel_tcb_read_registers(tcb, &out));
    /* assumption: a thread that has not run reads back exactly what was written, except that
     * RFLAGS may be sanitised (we only check IF). */
    const uint64_t *a = (const uint64_t *)&in, *b = (const uint64_t *)&out;
    for (unsigned i = 0; i < KEEL_USER_REGS_WORDS; i++) {
        if (&a[i] == &in.rflags)
            continue;
        EXPECT_EQ(b[i], a[i]);
    }
    EXPECT_TRUE(out.rflags & 0x200);
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_INACTIVE);
}

KEEL_TEST(tcb_read_own_registers_refused)
{
    struct keel_user_regs r;
    /* assumption: a thread cannot read or write its own registers (ILLEGAL_OPERATION, as seL4). */
    EXPECT_ERR(keel_tcb_read_registers(KEEL_SLOT_TCB, &r), KEEL_E_ILLEGAL_OPERATION);
}

/* A thread blocked in a syscall went in by SYSCALL and comes back by SYSRET; its TCB holds RCX =
 * RIP and R11 = RFLAGS, the values the ABI gives those registers after a syscall, and every
 * callee-saved register. Registers written while it waits must reach it as written, RCX and R11
 * included (the kernel returns by IRETQ then). */
static volatile uint64_t woke_rcx, woke_r11, woke_rbx, woke_r15, woke_done;

static void recv_with_marked_registers(void *arg)
{
    uint64_t ep = *(uint64_t *)arg;
    register uint64_t rax __asm__("rax") = KEEL_SYS_RECV;
    register uint64_t rdi __asm__("rdi") = ep;
    register uint64_t r12 __asm__("r12") = 0; /* no reply object */
    register uint64_t r15 __asm__("r15") = 0x1234f;
    register uint64_t r11 __asm__("r11");
    uint64_t rbx = 0x1234b, rcx;
    __asm__ volatile("syscall"
                     : "+r"(rax), "+r"(rdi), "+b"(rbx), "+r"(r15), "=c"(rcx), "=r"(r11), "+r"(r12)
                     :
                     : "rdx", "rsi", "r8", "r9", "r10", "memory");
    woke_rcx = rcx;
    woke_r11 = r11;
    woke_rbx = rbx;
    woke_r15 = r15;
    woke_done = 1;
    for (;;) {
        struct keel_msg m;
        keel_recv(ep, 0, &m);
    }
}

KEEL_TEST(tcb_registers_of_thread_in_syscall)
{
    static uint64_t ep;
    struct keel_thread *t;
    woke_done = 0;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_thread(recv_with_marked_registers, &ep, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_RECV));
    struct keel_user_regs r;
    ASSERT_OK(keel_tcb_read_registers(t->tcb, &r));
    EXPECT_EQ(r.rcx, r.rip); /* after `syscall` */
    EXPECT_EQ(r.r11, r.rflags);
    EXPECT_TRUE(r.rflags & 0x200);
    EXPECT_EQ(r.rbx, 0x1234b);
    EXPECT_EQ(r.r15, 0x1234f);
    EXPECT_EQ(r.rax, KEEL_SYS_RECV);
    r.rcx = 0xc0ffee;
    r.r11 = 0x5a5a;
    r.rbx = 0x77;
    ASSERT_OK(keel_tcb_write_registers(t->tcb, false, &r));
    struct keel_msg m = keel_msg_make(1, 0);
    ASSERT_OK(keel_send(ep, &m));
    for (int i = 0; i < 1000 && !woke_done; i++)
        keel_yield();
    ASSERT_TRUE(woke_done);
    EXPECT_EQ(woke_rcx, 0xc0ffee);
    EXPECT_EQ(woke_r11, 0x5a5a);
    EXPECT_EQ(woke_rbx, 0x77);
    EXPECT_EQ(woke_r15, 0x1234f);
    ASSERT_OK(keel_tcb_suspend(t->tcb));
}

static volatile uint64_t spin_count;

static void spinner(void *arg)
{
    (void)arg;
    for (;;) {
        spin_count++;
        keel_yield();
    }
}

static bool wait_count_above(uint64_t v)
{
    for (int i = 0; i < 1000; i++) {
        if (spin_count > v)
            return true;
        keel_yield();
    }
    return false;
}

KEEL_TEST(tcb_resume_suspend)
{
    struct keel_thread *t;
    spin_count = 0;
    ASSERT_OK(kt_thread(spinner, 0, &t));
    ASSERT_TRUE(wait_count_above(0));
    ASSERT_OK(keel_tcb_suspend(t->tcb));
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(t->tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_INACTIVE);
    uint64_t c = spin_count;
    for (int i = 0; i < 20; i++)
        keel_yield();
    EXPECT_EQ(spin_count, c);
    ASSERT_OK(keel_tcb_resume(t->tcb));
    EXPECT_TRUE(wait_count_above(c));
    ASSERT_OK(keel_tcb_suspend(t->tcb));
}

static void receive_forever(void *arg)
{
    uint64_t ep = *(uint64_t *)arg;
    for (;;) {
        struct keel_msg m;
        keel_recv(ep, 0, &m);
    }
}

KEEL_TEST(tcb_suspend_leaves_endpoint_queue)
{
    static uint64_t ep;
    struct keel_thread *t;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_thread(receive_forever, &ep, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_RECV));
    ASSERT_OK(keel_tcb_suspend(t->tcb));
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(t->tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_INACTIVE);
    /* Nobody waits any more. */
    struct keel_msg m = keel_msg_make(1, 0);
    EXPECT_ERR(keel_nbsend(ep, &m), KEEL_E_WOULD_BLOCK);
}

/* Library threads find their keel_tls through FS: the kernel must restore fs_base. */
static volatile uint64_t seen_fs0;
static volatile int thread_err, thread_done;

static void tls_probe(void *arg)
{
    uint64_t ntfn = *(uint64_t *)arg;
    uint64_t v;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(v));
    seen_fs0 = v;
    /* A wrapper that fails: its details must land in this thread's keel_tls, not main's. */
    thread_err = keel_tcb_suspend(KEEL_SLOT_NULL);
    thread_done = keel_last_error() == thread_err;
    keel_signal(ntfn);
}

KEEL_TEST(thread_fs_base_and_tls)
{
    static uint64_t ntfn;
    struct keel_thread *t;
    seen_fs0 = 0;
    thread_err = thread_done = 0;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(keel_tcb_get_info(KEEL_SLOT_TCB, 0)); /* main's last result: OK */
    ASSERT_OK(kt_thread(tls_probe, &ntfn, &t));
    uint64_t word;
    ASSERT_OK(keel_wait(ntfn, &word));
    EXPECT_EQ(seen_fs0, (uint64_t)&t->tls);
    EXPECT_NE(thread_err, 0); /* which error is tested in test_ipc.c */
    EXPECT_TRUE(thread_done);
    EXPECT_EQ(keel_last_error(), 0);
}

KEEL_TEST(tcb_set_affinity)
{
    uint64_t tcb;
    ASSERT_OK(configured_tcb(&tcb));
    EXPECT_OK(keel_tcb_set_affinity(tcb, 0));
    /* assumption: a CPU index past the last CPU is RANGE on argument 0. */
    EXPECT_ERR(keel_tcb_set_affinity(tcb, kt_bi->cpu_count), KEEL_E_RANGE);
    EXPECT_DETAIL(0, 0);
}

KEEL_TEST(tcb_set_pkru_needs_pku)
{
    uint64_t tcb;
    ASSERT_OK(configured_tcb(&tcb));
    if (keel_bootinfo_has(kt_bi, KEEL_FEATURE_PKU))
        EXPECT_OK(keel_tcb_set_pkru(tcb, 0x55555554));
    else
        EXPECT_ERR(keel_tcb_set_pkru(tcb, 0x55555554), KEEL_E_NOT_SUPPORTED);
}

KEEL_TEST(tcb_bind_notification_rules)
{
    uint64_t tcb, n1, n2;
    ASSERT_OK(configured_tcb(&tcb));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &n1));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &n2));
    ASSERT_OK(keel_tcb_bind_notification(tcb, n1));
    /* assumption: binding a second notification, or unbinding twice, is ILLEGAL_OPERATION (seL4). */
    EXPECT_ERR(keel_tcb_bind_notification(tcb, n2), KEEL_E_ILLEGAL_OPERATION);
    EXPECT_OK(keel_tcb_unbind_notification(tcb));
    EXPECT_ERR(keel_tcb_unbind_notification(tcb), KEEL_E_ILLEGAL_OPERATION);
    EXPECT_ERR(keel_tcb_bind_notification(tcb, tcb), KEEL_E_INVALID_CAPABILITY);
    EXPECT_DETAIL(0, 1);
}
