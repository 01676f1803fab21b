/* Faults: what a thread's fault endpoint receives for page faults, exceptions and unknown
 * syscalls, what becomes of a faulting thread without one, and how the handler's reply resumes
 * (label 0) or leaves stopped (any other label) the faulting thread.
 *
 * The faulting code is in the assembly below, with a label on every faulting instruction
 * (kf_X_at) and right after it (kf_X_after), so RIPs can be checked exactly. A fault thread
 * runs one such routine; if the routine returns (no fault, or the thread was resumed past it),
 * the thread sets `reached` and sends SENTINEL to the fault endpoint, so the handler (this root
 * task) never waits for a fault that does not come. The handler polls (NBRecv + Yield, bounded)
 * instead of blocking for the same reason. */
#include "ktest.h"

__asm__(".pushsection .rodata\n"
        ".balign 8\n"
        ".globl kf_ro_word\n"
        "kf_ro_word: .quad 0x1234567890abcdef\n"
        ".popsection\n"
        ".pushsection .text\n"
        /* Read of a kernel (supervisor) address: the direct map's first page. */
        ".globl kf_kread, kf_kread_at, kf_kread_after\n"
        "kf_kread: movabs $0xffff800000000000, %rax\n"
        "kf_kread_at: movq (%rax), %rax\n"
        "kf_kread_after: ret\n"
        /* Write to our own read-only data. */
        ".globl kf_rowrite, kf_rowrite_at, kf_rowrite_after\n"
        "kf_rowrite: leaq kf_ro_word(%rip), %rax\n"
        "kf_rowrite_at: movq $1, (%rax)\n"
        "kf_rowrite_after: ret\n"
        /* Write to our own code. */
        ".globl kf_textwrite, kf_textwrite_at, kf_textwrite_after\n"
        "kf_textwrite: leaq kf_textwrite(%rip), %rax\n"
        "kf_textwrite_at: movb $0x90, (%rax)\n"
        "kf_textwrite_after: ret\n"
        /* Privileged instructions. */
        ".globl kf_hlt_at, kf_hlt_after\n"
        "kf_hlt_at: hlt\n"
        "kf_hlt_after: ret\n"
        ".globl kf_cli_at, kf_cli_after\n"
        "kf_cli_at: cli\n"
        "kf_cli_after: ret\n"
        ".globl kf_cr3_at, kf_cr3_after\n"
        "kf_cr3_at: movq %rax, %cr3\n"
        "kf_cr3_after: ret\n"
        ".globl kf_wrmsr_at, kf_wrmsr_after\n"
        "kf_wrmsr_at: wrmsr\n"
        "kf_wrmsr_after: ret\n"
        ".globl kf_inb_at, kf_inb_after\n"
        "kf_inb_at: inb $0x80, %al\n"
        "kf_inb_after: ret\n"
        ".globl kf_outb_at, kf_outb_after\n"
        "kf_outb_at: outb %al, $0x80\n"
        "kf_outb_after: ret\n"
        /* Exceptions. */
        ".globl kf_ud2_at, kf_ud2_after\n"
        "kf_ud2_at: ud2\n"
        "kf_ud2_after: ret\n"
        ".globl kf_div0, kf_div0_at, kf_div0_after\n"
        "kf_div0: xorl %ecx, %ecx\n"
        "  xorl %edx, %edx\n"
        "  movl $1, %eax\n"
        "kf_div0_at: divl %ecx\n"
        "kf_div0_after: ret\n"
        ".globl kf_int3_at, kf_int3_after\n"
        "kf_int3_at: int3\n"
        "kf_int3_after: ret\n"
        /* Read of a non-canonical address: #GP, not a page fault. */
        ".globl kf_noncanon, kf_noncanon_at, kf_noncanon_after\n"
        "kf_noncanon: movabs $0x0000800000000000, %rax\n"
        "kf_noncanon_at: movq (%rax), %rax\n"
        "kf_noncanon_after: ret\n"
        /* Yield through a `syscall` in the last two bytes of the user half (see the test). */
        ".globl kf_top_syscall\n"
        "kf_top_syscall: movl $7, %eax\n"
        "  movabs $0x00007ffffffffffe, %rcx\n"
        "  jmp *%rcx\n"
        /* A syscall number the kernel does not know: RAX = RDI (the argument). */
        ".globl kf_badsys, kf_badsys_at, kf_badsys_after\n"
        "kf_badsys: movq %rdi, %rax\n"
        "kf_badsys_at: syscall\n"
        "kf_badsys_after: ret\n"
        ".popsection\n");

extern const uint64_t kf_ro_word;
extern char kf_kread[], kf_kread_at[], kf_kread_after[];
extern char kf_rowrite[], kf_rowrite_at[], kf_rowrite_after[];
extern char kf_textwrite[], kf_textwrite_at[], kf_textwrite_after[];
extern char kf_hlt_at[], kf_hlt_after[], kf_cli_at[], kf_cli_after[], kf_cr3_at[], kf_cr3_after[];
extern char kf_wrmsr_at[], kf_wrmsr_after[], kf_inb_at[], kf_inb_after[], kf_outb_at[], kf_outb_after[];
extern char kf_ud2_at[], kf_ud2_after[], kf_div0[], kf_div0_at[], kf_div0_after[];
extern char kf_int3_at[], kf_int3_after[];
extern char kf_badsys[], kf_badsys_at[], kf_badsys_after[];
extern char kf_noncanon[], kf_noncanon_at[], kf_noncanon_after[], kf_top_syscall[];

#define KERNEL_ADDR 0xffff800000000000ull
#define SENTINEL 0x5e17 /* label of "the routine returned" */
#define PF_PRESENT 1u
#define PF_WRITE 2u
#define PF_USER 4u
#define PF_FETCH 16u
#define VEC_DE 0
#define VEC_UD 6
#define VEC_GP 13
#define FBADGE 0xfa17

/* ---- Fault threads ---- */

struct fcase {
    const char *entry; /* code to call */
    uint64_t arg;      /* its RDI */
};

static struct {
    uint64_t ep;       /* fault endpoint (unbadged original: we receive on it) */
    uint64_t reply;
    volatile int reached;
} fx;

#define FT_MAX 2
#define FT_STACK 8192
static struct keel_thread fthreads[FT_MAX];
static uint8_t fstacks[FT_MAX][FT_STACK] __attribute__((aligned(16)));
static struct fcase fcases[FT_MAX];

static void fault_entry(void *arg)
{
    const struct fcase *c = arg;
    ((void (*)(uint64_t))(uintptr_t)c->entry)(c->arg);
    fx.reached = 1;
    struct keel_msg m = keel_msg_make(SENTINEL, 0);
    keel_send(fx.ep, &m);
}

/* Thread i (0..FT_MAX-1) running `entry(arg)` with fault endpoint `fault_ep` (0: none), at our
 * priority, started. */
static int fault_thread(unsigned i, const char *entry, uint64_t arg, uint64_t fault_ep, struct keel_thread **out)
{
    fcases[i] = (struct fcase){ entry, arg };
    struct keel_thread_config cfg = {
        .entry = fault_entry,
        .arg = &fcases[i],
        .stack_top = fstacks[i] + FT_STACK,
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
        .fault_ep = fault_ep,
    };
    *out = &fthreads[i];
    int err = keel_thread_create(&fthreads[i], &cfg);
    return err ? err : keel_thread_start(&fthreads[i]);
}

/* Fresh endpoint + reply object, and a copy of the endpoint badged FBADGE for the threads. */
static int fault_setup(uint64_t *badged)
{
    memset((void *)&fx, 0, sizeof(fx));
    int err = kt_new(KEEL_OBJ_ENDPOINT, 0, &fx.ep);
    if (!err)
        err = kt_new(KEEL_OBJ_REPLY, 0, &fx.reply);
    if (!err)
        err = kt_mint(fx.ep, KEEL_RIGHTS_ALL, FBADGE, badged);
    return err;
}

/* The next message on the fault endpoint, polling so that a missing fault fails instead of hanging. */
static int fault_recv(struct keel_msg *m)
{
    for (int i = 0; i < 10000; i++) {
        int err = keel_nbrecv(fx.ep, fx.reply, m);
        if (err != KEEL_E_WOULD_BLOCK)
            return err;
        keel_yield();
    }
    return KEEL_E_WOULD_BLOCK;
}

static uint64_t state_of(uint64_t tcb)
{
    struct keel_tcb_info info;
    return keel_tcb_get_info(tcb, &info) ? ~0ull : info.state;
}

/* Starts a thread on `entry` with a badged fault endpoint and receives its first message. */
static bool run_to_fault(const char *entry, uint64_t arg, struct keel_thread **t, struct keel_msg *m)
{
    uint64_t badged;
    if (!ktest_check(fault_setup(&badged) == 0, __FILE__, __LINE__, "fault endpoint setup failed"))
        return false;
    if (!ktest_check(fault_thread(0, entry, arg, badged, t) == 0, __FILE__, __LINE__, "fault thread failed"))
        return false;
    int err = fault_recv(m);
    if (!ktest_check(err == 0, __FILE__, __LINE__, "no message from the fault thread: %s", keel_strerror(err)))
        return false;
    return ktest_check(keel_msg_label(m->info) != SENTINEL, __FILE__, __LINE__,
                       "the thread did not fault: its routine returned");
}

/* Run fault thread `t` again from the start on fcases[0] (changed by the caller): Suspend ends
 * its pending fault, WriteRegisters + resume starts it afresh. */
static int restart(struct keel_thread *t)
{
    int err = keel_tcb_suspend(t->tcb);
    return err ? err : keel_thread_start(t);
}

/* An exception fault message: label, RIP, vector, error code; RSP inside the thread's stack. */
static void expect_exception(const struct keel_msg *m, const char *rip, uint64_t vector, uint64_t error)
{
    EXPECT_EQ(keel_msg_label(m->info), KEEL_FAULT_EXCEPTION);
    EXPECT_EQ(keel_msg_length(m->info), 4);
    EXPECT_EQ(m->mr[0], (uint64_t)rip);
    EXPECT_EQ(m->mr[1], vector);
    EXPECT_EQ(m->mr[2], error);
    EXPECT_TRUE(m->mr[3] > (uint64_t)fstacks[0] && m->mr[3] < (uint64_t)fstacks[0] + FT_STACK);
}

/* ---- Page faults ---- */

KEEL_TEST(fault_vm_read_of_kernel_address)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_kread, 0, &t, &m))
        return;
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_VM);
    EXPECT_EQ(keel_msg_length(m.info), 4);
    EXPECT_EQ(keel_msg_extra_caps(m.info), 0);
    EXPECT_EQ(m.badge, FBADGE);
    EXPECT_EQ(m.mr[0], (uint64_t)kf_kread_at);
    EXPECT_EQ(m.mr[1], KERNEL_ADDR);
    /* The direct map covers physical page 0, so the page is present but supervisor-only: a
     * protection violation (P=1) on a read (W=0, I=0) from user mode (U=1). */
    EXPECT_EQ(m.mr[2], PF_PRESENT | PF_USER);
    /* It waits for our reply. */
    EXPECT_EQ(state_of(t->tcb), KEEL_THREAD_BLOCKED_REPLY);
    EXPECT_EQ(fx.reached, 0);
}

KEEL_TEST(fault_vm_write_to_rodata)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_rowrite, 0, &t, &m))
        return;
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_VM);
    EXPECT_EQ(m.mr[0], (uint64_t)kf_rowrite_at);
    EXPECT_EQ(m.mr[1], (uint64_t)&kf_ro_word);
    EXPECT_EQ(m.mr[2], PF_PRESENT | PF_WRITE | PF_USER);
    EXPECT_EQ(kf_ro_word, 0x1234567890abcdefull); /* unchanged */
}

KEEL_TEST(fault_vm_write_to_text)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_textwrite, 0, &t, &m))
        return;
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_VM);
    EXPECT_EQ(m.mr[0], (uint64_t)kf_textwrite_at);
    EXPECT_EQ(m.mr[1], (uint64_t)kf_textwrite);
    EXPECT_EQ(m.mr[2], PF_PRESENT | PF_WRITE | PF_USER);
}

/* ---- Exceptions ---- */

/* Every privileged instruction is a #GP(0) from user mode (IOPL 0, every port denied in the
 * TSS I/O bitmap). One thread is restarted on each routine in turn. */
KEEL_TEST(fault_privileged_instructions_are_gp)
{
    static const struct {
        const char *name, *at;
    } cases[] = {
        { "hlt", kf_hlt_at }, { "cli", kf_cli_at }, { "mov cr3", kf_cr3_at },
        { "wrmsr", kf_wrmsr_at }, { "in", kf_inb_at }, { "out", kf_outb_at },
    };
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(cases[0].at, 0, &t, &m))
        return;
    for (unsigned i = 0;; i++) {
        ktest_check(keel_msg_label(m.info) == KEEL_FAULT_EXCEPTION && m.mr[0] == (uint64_t)cases[i].at &&
                        m.mr[1] == VEC_GP && m.mr[2] == 0,
                    __FILE__, __LINE__, "%s: label %llu rip %#llx vector %llu error %#llx", cases[i].name,
                    (unsigned long long)keel_msg_label(m.info), (unsigned long long)m.mr[0],
                    (unsigned long long)m.mr[1], (unsigned long long)m.mr[2]);
        if (i + 1 == sizeof(cases) / sizeof(cases[0]))
            break;
        fcases[0].entry = cases[i + 1].at;
        ASSERT_OK(restart(t));
        int err = fault_recv(&m);
        ASSERT_OK(err);
        if (!ktest_check(keel_msg_label(m.info) != SENTINEL, __FILE__, __LINE__, "%s did not fault",
                         cases[i + 1].name))
            return;
    }
    EXPECT_EQ(fx.reached, 0);
}

KEEL_TEST(fault_ud2_is_invalid_opcode)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_ud2_at, 0, &t, &m))
        return;
    expect_exception(&m, kf_ud2_at, VEC_UD, 0);
    EXPECT_EQ(m.badge, FBADGE);
}

KEEL_TEST(fault_divide_by_zero_is_vector_0)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_div0, 0, &t, &m))
        return;
    expect_exception(&m, kf_div0_at, VEC_DE, 0);
}

/* A non-canonical address is not a page fault: the CPU raises #GP(0) before any translation. */
KEEL_TEST(fault_noncanonical_access_is_gp)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_noncanon, 0, &t, &m))
        return;
    expect_exception(&m, kf_noncanon_at, VEC_GP, 0);
}

/* idt.c gives every gate DPL 0, so INT3 from user mode is not a breakpoint (#BP, vector 3) but
 * a #GP whose error code names IDT entry 3 with the IDT bit (2) set and EXT clear; RIP is the
 * int3 itself. The CPU puts the vector in the selector-index field: 3 << 3 | 2 = 0x1a. QEMU's
 * TCG (target/i386 do_interrupt64) reports the gate's byte offset instead, 3 * 16 + 2 = 0x32;
 * both are accepted, anything else is not. */
KEEL_TEST(fault_int3_is_gp_through_dpl0_gate)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_int3_at, 0, &t, &m))
        return;
    uint64_t err = m.mr[2];
    expect_exception(&m, kf_int3_at, VEC_GP, err == 0x32 ? 0x32 : (3u << 3) | 2u);
    EXPECT_EQ(err & 3, 2);
}

/* Unknown syscall numbers: MR0 = the thread's RIP, which after `syscall` is the next
 * instruction (the kernel reports the saved RIP: resuming continues after the syscall). */
KEEL_TEST(fault_unknown_syscall)
{
    static const uint64_t numbers[] = { 0, KEEL_SYSCALL_COUNT + 1, 99, 1ull << 40 };
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_badsys, numbers[0], &t, &m))
        return;
    for (unsigned i = 0;; i++) {
        ktest_check(keel_msg_label(m.info) == KEEL_FAULT_UNKNOWN_SYSCALL && m.mr[0] == (uint64_t)kf_badsys_after &&
                        m.mr[1] == numbers[i] && m.badge == FBADGE,
                    __FILE__, __LINE__, "syscall %#llx: label %llu rip %#llx number %#llx badge %#llx",
                    (unsigned long long)numbers[i], (unsigned long long)keel_msg_label(m.info),
                    (unsigned long long)m.mr[0], (unsigned long long)m.mr[1], (unsigned long long)m.badge);
        if (i + 1 == sizeof(numbers) / sizeof(numbers[0]))
            break;
        fcases[0].arg = numbers[i + 1];
        ASSERT_OK(restart(t));
        ASSERT_OK(fault_recv(&m));
        ASSERT_TRUE(keel_msg_label(m.info) != SENTINEL);
    }
}

/* The badge of each thread's fault endpoint cap tells the handler which thread faulted. */
KEEL_TEST(fault_badge_identifies_thread)
{
    uint64_t b1;
    ASSERT_OK(fault_setup(&b1));
    uint64_t b2;
    ASSERT_OK(kt_mint(fx.ep, KEEL_RIGHTS_ALL, 0xb2, &b2));
    struct keel_thread *t1, *t2;
    ASSERT_OK(fault_thread(0, kf_ud2_at, 0, b1, &t1));
    ASSERT_OK(fault_thread(1, kf_kread, 0, b2, &t2));
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        struct keel_msg m;
        ASSERT_OK(fault_recv(&m));
        if (m.badge == FBADGE) {
            EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_EXCEPTION);
            EXPECT_EQ(m.mr[0], (uint64_t)kf_ud2_at);
            seen |= 1;
        } else {
            EXPECT_EQ(m.badge, 0xb2);
            EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_VM);
            EXPECT_EQ(m.mr[0], (uint64_t)kf_kread_at);
            seen |= 2;
        }
        /* Don't reply: each one stays blocked on its reply; take the next call with a fresh
         * reply object so that the first caller is not told its call was dropped. */
        ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &fx.reply));
    }
    EXPECT_EQ(seen, 3);
    EXPECT_EQ(state_of(t1->tcb), KEEL_THREAD_BLOCKED_REPLY);
    EXPECT_EQ(state_of(t2->tcb), KEEL_THREAD_BLOCKED_REPLY);
}

/* ---- No fault endpoint ---- */

static volatile int plain_reached;

static void plain_ud2(void *arg)
{
    (void)arg;
    ((void (*)(void))(uintptr_t)kf_ud2_at)();
    plain_reached = 1;
}

static void plain_badsys(void *arg)
{
    (void)arg;
    ((void (*)(uint64_t))(uintptr_t)kf_badsys)(77);
    plain_reached = 1;
}

static void expect_stopped_at(void (*fn)(void *), const char *rip)
{
    struct keel_thread *t;
    plain_reached = 0;
    ASSERT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, false));
    int err = kt_thread(fn, 0, &t);
    bool stopped = !err && kt_wait_state(t->tcb, KEEL_THREAD_INACTIVE);
    EXPECT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, true));
    ASSERT_OK(err);
    ASSERT_TRUE(stopped);
    EXPECT_EQ(plain_reached, 0);
    struct keel_user_regs r;
    ASSERT_OK(keel_tcb_read_registers(t->tcb, &r));
    EXPECT_EQ(r.rip, (uint64_t)rip);
    /* The kernel carries on: invocations work and its invariants hold. */
    uint64_t v = 1;
    EXPECT_OK(keel_debug_check_invariants(KEEL_SLOT_DEBUG, &v));
    EXPECT_EQ(v, 0);
}

KEEL_TEST(fault_without_endpoint_suspends_thread)
{
    expect_stopped_at(plain_ud2, kf_ud2_at);
}

KEEL_TEST(fault_unknown_syscall_without_endpoint_suspends_thread)
{
    expect_stopped_at(plain_badsys, kf_badsys_after);
}

/* A fault endpoint cap that is not an endpoint is refused by Configure. */
KEEL_TEST(fault_endpoint_must_be_endpoint)
{
    uint64_t tcb, ntfn;
    ASSERT_OK(kt_new(KEEL_OBJ_TCB, 0, &tcb));
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    EXPECT_ERR(keel_tcb_configure(tcb, 0, 0, 0, ntfn, 0, 0, 0), KEEL_E_INVALID_CAPABILITY);
    EXPECT_DETAIL(0, 4);
}

/* A fault endpoint cap without Write cannot carry the fault (seL4 requires CanSend on the fault
 * handler cap): either Configure refuses the cap (INSUFFICIENT_RIGHTS), or the faulting thread is
 * treated as having no handler (suspended) and nothing arrives on the endpoint. */
KEEL_TEST(fault_endpoint_without_write_carries_nothing)
{
    uint64_t badged, read_only;
    ASSERT_OK(fault_setup(&badged));
    ASSERT_OK(kt_mint(fx.ep, KEEL_RIGHT_READ, 0x33, &read_only));
    struct keel_thread *t;
    ASSERT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, false));
    int err = fault_thread(0, kf_ud2_at, 0, read_only, &t);
    if (err) {
        EXPECT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, true));
        EXPECT_ERR(err, KEEL_E_INSUFFICIENT_RIGHTS);
        return;
    }
    bool stopped = kt_wait_state(t->tcb, KEEL_THREAD_INACTIVE);
    struct keel_msg m;
    int got = keel_nbrecv(fx.ep, fx.reply, &m);
    EXPECT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, true));
    ktest_check(got == KEEL_E_WOULD_BLOCK, __FILE__, __LINE__,
                "a fault arrived through a cap without Write: %s, label %llu, badge %#llx", keel_strerror(got),
                (unsigned long long)keel_msg_label(m.info), (unsigned long long)m.badge);
    EXPECT_TRUE(stopped);
    EXPECT_EQ(fx.reached, 0);
}

/* ---- Replies to faults ---- */

static void reply_label(uint64_t label)
{
    struct keel_msg r = keel_msg_make(label, 0);
    EXPECT_OK(keel_reply(fx.reply, &r));
}

/* Fix the registers (RIP past the faulting instruction) while the thread waits for the reply,
 * then reply with label 0: it resumes with the fixed registers and runs to the end. */
KEEL_TEST(fault_reply_after_fixing_registers_resumes)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_kread, 0, &t, &m))
        return;
    ASSERT_EQ(keel_msg_label(m.info), KEEL_FAULT_VM);
    struct keel_user_regs r;
    ASSERT_OK(keel_tcb_read_registers(t->tcb, &r));
    EXPECT_EQ(r.rip, (uint64_t)kf_kread_at);
    r.rip = (uint64_t)kf_kread_after;
    ASSERT_OK(keel_tcb_write_registers(t->tcb, false, &r));
    EXPECT_EQ(state_of(t->tcb), KEEL_THREAD_BLOCKED_REPLY); /* still waiting for its handler */
    reply_label(0);
    ASSERT_OK(fault_recv(&m));
    EXPECT_EQ(keel_msg_label(m.info), SENTINEL);
    EXPECT_EQ(fx.reached, 1);
}

/* Label 0 without fixing anything: the instruction runs again and faults again. */
KEEL_TEST(fault_reply_label0_reexecutes_instruction)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_ud2_at, 0, &t, &m))
        return;
    reply_label(0);
    ASSERT_OK(fault_recv(&m));
    expect_exception(&m, kf_ud2_at, VEC_UD, 0);
    EXPECT_EQ(state_of(t->tcb), KEEL_THREAD_BLOCKED_REPLY);
    EXPECT_EQ(fx.reached, 0);
}

/* Suspend ends a pending fault (the reply is gone); WriteRegisters with resume then starts the
 * thread afresh at the RIP the handler chose. */
KEEL_TEST(fault_suspend_then_restart_at_new_rip)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_div0, 0, &t, &m))
        return;
    struct keel_user_regs r;
    ASSERT_OK(keel_tcb_read_registers(t->tcb, &r));
    EXPECT_EQ(r.rip, (uint64_t)kf_div0_at);
    ASSERT_OK(keel_tcb_suspend(t->tcb));
    EXPECT_EQ(state_of(t->tcb), KEEL_THREAD_INACTIVE);
    struct keel_msg r0 = keel_msg_make(0, 0);
    EXPECT_ERR(keel_reply(fx.reply, &r0), KEEL_E_ILLEGAL_OPERATION);
    r.rip = (uint64_t)kf_div0_after;
    ASSERT_OK(keel_tcb_write_registers(t->tcb, true, &r));
    ASSERT_OK(fault_recv(&m));
    EXPECT_EQ(keel_msg_label(m.info), SENTINEL);
    EXPECT_EQ(fx.reached, 1);
}

/* WriteRegisters without resume on a thread waiting for its fault reply changes the registers
 * and nothing else: it still waits, and a second fix before the reply wins. */
KEEL_TEST(fault_write_registers_keeps_thread_waiting)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_ud2_at, 0, &t, &m))
        return;
    struct keel_user_regs r;
    ASSERT_OK(keel_tcb_read_registers(t->tcb, &r));
    r.rip = (uint64_t)kf_hlt_at; /* would fault again */
    ASSERT_OK(keel_tcb_write_registers(t->tcb, false, &r));
    for (int i = 0; i < 20; i++)
        keel_yield();
    EXPECT_EQ(state_of(t->tcb), KEEL_THREAD_BLOCKED_REPLY);
    EXPECT_ERR(keel_nbrecv(fx.ep, fx.reply, &m), KEEL_E_WOULD_BLOCK);
    r.rip = (uint64_t)kf_ud2_after;
    ASSERT_OK(keel_tcb_write_registers(t->tcb, false, &r));
    reply_label(0);
    ASSERT_OK(fault_recv(&m));
    EXPECT_EQ(keel_msg_label(m.info), SENTINEL);
    EXPECT_EQ(fx.reached, 1);
}

/* Any other label leaves the thread stopped where it faulted: no new fault, no progress. */
KEEL_TEST(fault_reply_nonzero_label_leaves_thread_stopped)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_ud2_at, 0, &t, &m))
        return;
    reply_label(1);
    EXPECT_EQ(state_of(t->tcb), KEEL_THREAD_INACTIVE);
    for (int i = 0; i < 50; i++)
        keel_yield();
    EXPECT_ERR(keel_nbrecv(fx.ep, fx.reply, &m), KEEL_E_WOULD_BLOCK);
    EXPECT_EQ(state_of(t->tcb), KEEL_THREAD_INACTIVE);
    EXPECT_EQ(fx.reached, 0);
    struct keel_user_regs r;
    ASSERT_OK(keel_tcb_read_registers(t->tcb, &r));
    EXPECT_EQ(r.rip, (uint64_t)kf_ud2_at);
    /* The reply was used up. */
    struct keel_msg again = keel_msg_make(0, 0);
    EXPECT_ERR(keel_reply(fx.reply, &again), KEEL_E_ILLEGAL_OPERATION);
}

/* A stopped faulted thread resumed with Resume executes the instruction again: a second fault. */
KEEL_TEST(fault_resume_after_stop_faults_again)
{
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_ud2_at, 0, &t, &m))
        return;
    reply_label(7);
    ASSERT_EQ(state_of(t->tcb), KEEL_THREAD_INACTIVE);
    ASSERT_OK(keel_tcb_resume(t->tcb));
    ASSERT_OK(fault_recv(&m));
    expect_exception(&m, kf_ud2_at, VEC_UD, 0);
    EXPECT_EQ(m.badge, FBADGE);
}

/* A fault endpoint with nobody receiving: the thread waits in the endpoint's send queue. */
KEEL_TEST(fault_waits_for_handler)
{
    uint64_t badged;
    ASSERT_OK(fault_setup(&badged));
    struct keel_thread *t;
    ASSERT_OK(fault_thread(0, kf_ud2_at, 0, badged, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_SEND));
    struct keel_msg m;
    ASSERT_OK(fault_recv(&m));
    expect_exception(&m, kf_ud2_at, VEC_UD, 0);
    EXPECT_EQ(state_of(t->tcb), KEEL_THREAD_BLOCKED_REPLY);
}

/* A `syscall` in the last two bytes of the user half: the RIP to return to (RCX) is
 * 0x800000000000, not canonical. The kernel must not try to return there from kernel mode (an
 * IRETQ or SYSRETQ to a non-canonical RIP raises #GP at CPL 0 on Intel CPUs): the thread gets a
 * fault, and the kernel carries on. Either RIP (the syscall's, or the non-canonical next one) is
 * accepted in the fault message. */
#define TOP_PAGE 0x00007ffffffff000ull

static int map_with_tables(uint64_t frame, uint64_t va, uint64_t access)
{
    for (int tries = 0; tries < 4; tries++) {
        int err = keel_frame_map(frame, KEEL_SLOT_VSPACE, va, access, KEEL_CACHE_WB);
        if (err != KEEL_E_MISSING_TABLE)
            return err;
        uint64_t type = keel_last_error_detail(0), table;
        if ((err = kt_new(type, 0, &table)) || (err = keel_paging_map(table, KEEL_SLOT_VSPACE, va)))
            return err;
    }
    return KEEL_E_MISSING_TABLE;
}

KEEL_TEST(fault_syscall_at_top_of_user_space)
{
    uint64_t frame;
    ASSERT_OK(kt_new(KEEL_OBJ_FRAME_4K, 0, &frame));
    ASSERT_OK(map_with_tables(frame, TOP_PAGE, KEEL_MAP_READ | KEEL_MAP_WRITE));
    volatile uint8_t *code = (volatile uint8_t *)TOP_PAGE;
    for (int i = 0; i < 4094; i++)
        code[i] = 0xcc;
    code[4094] = 0x0f; /* syscall */
    code[4095] = 0x05;
    ASSERT_OK(keel_frame_remap(frame, KEEL_MAP_READ | KEEL_MAP_EXEC, 0));
    struct keel_thread *t;
    struct keel_msg m;
    if (!run_to_fault(kf_top_syscall, 0, &t, &m))
        return;
    uint64_t label = keel_msg_label(m.info);
    ktest_check((label == KEEL_FAULT_EXCEPTION && m.mr[1] == VEC_GP) || label == KEEL_FAULT_VM, __FILE__, __LINE__,
                "fault label %llu vector %llu", (unsigned long long)label, (unsigned long long)m.mr[1]);
    ktest_check(m.mr[0] == TOP_PAGE + 4094 || m.mr[0] == TOP_PAGE + 4096, __FILE__, __LINE__, "fault RIP %#llx",
                (unsigned long long)m.mr[0]);
    EXPECT_EQ(fx.reached, 0);
    uint64_t v = 1;
    EXPECT_OK(keel_debug_check_invariants(KEEL_SLOT_DEBUG, &v));
    EXPECT_EQ(v, 0);
}
