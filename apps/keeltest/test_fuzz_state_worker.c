/* The stateful fuzzer's worker threads (see test_fuzz_state.h). A worker runs its script once,
 * suspends itself, and when resumed runs it again. Each operation is one syscall or one fault,
 * so a worker always ends up blocked or suspended: it never spins, whatever the runner does to
 * its registers, its queues or its objects. If even its self-suspend fails (its TCB cap was
 * deleted or replaced), it falls into ud2, which every kernel answers by blocking it (fault
 * endpoint) or suspending it (none). */
#include "test_fuzz_state.h"

struct fz_worker fz_workers[FZ_WORKERS];
uint8_t fz_worker_stacks[FZ_WORKERS][FZ_WORKER_STACK] __attribute__((aligned(16)));

__asm__(".pushsection .text\n"
        ".globl fz_gadget_ud2\n"
        "fz_gadget_ud2: ud2\n"
        "  jmp fz_gadget_ud2\n"
        ".globl fz_gadget_badsys\n"
        "fz_gadget_badsys: movl $99, %eax\n"
        "  syscall\n"
        "  jmp fz_gadget_ud2\n"
        ".popsection\n");

static struct keel_ipc_buffer *ipc_of(const struct fz_worker *w)
{
    return (struct keel_ipc_buffer *)(FZ_IPC_VA + (uint64_t)w->index * 4096);
}

static void ud2(void) { __asm__ volatile("ud2"); }

static void vm_fault(void)
{
    volatile uint64_t *p = (volatile uint64_t *)FZ_UNMAPPED_VA;
    (void)*p;
}

static void bad_syscall(void)
{
    uint64_t rax = 99;
    __asm__ volatile("syscall" : "+a"(rax) : : "rcx", "r11", "memory");
}

static void run_op(struct fz_worker *w, const struct fz_op *op)
{
    struct keel_msg m = { .info = keel_msginfo(op->label, op->ncaps, op->length) };
    m.mr[0] = op->arg;
    m.mr[1] = op->label;
    m.mr[2] = w->index;
    m.mr[3] = w->calls;
    if (op->ncaps || op->length > KEEL_MSG_REGISTERS || op->kind == W_RECV || op->kind == W_NB_RECV ||
        op->kind == W_REPLY_RECV) {
        /* Touching the buffer faults when it is not mapped in this VSpace: also a fault. */
        struct keel_ipc_buffer *ipc = ipc_of(w);
        for (unsigned i = 0; i < KEEL_MSG_MAX_CAPS; i++)
            ipc->caps[i] = op->caps[i];
        ipc->receive_cnode = 0;
        ipc->receive_index = w->inbox;
        ipc->receive_depth = KEEL_CSPACE_DEPTH;
    }
    uint64_t nr = 0;
    switch (op->kind) {
    case W_UD2: w->faults++; ud2(); return;
    case W_VM_FAULT: w->faults++; vm_fault(); return;
    case W_BAD_SYSCALL: w->faults++; bad_syscall(); return;
    case W_SEND: nr = KEEL_SYS_SEND; break;
    case W_NB_SEND: nr = KEEL_SYS_NB_SEND; break;
    case W_CALL: nr = KEEL_SYS_CALL; break;
    case W_RECV: nr = KEEL_SYS_RECV; break;
    case W_NB_RECV: nr = KEEL_SYS_NB_RECV; break;
    case W_REPLY_RECV: nr = KEEL_SYS_REPLY_RECV; break;
    case W_YIELD: nr = KEEL_SYS_YIELD; break;
    case W_INVOKE: nr = KEEL_SYS_CALL; break;
    case W_IRQ_GET:
        m = (struct keel_msg){ .info = keel_msginfo(KEEL_IRQ_CONTROL_GET, 0, 4) };
        m.mr[0] = op->arg;
        m.mr[1] = op->reply;
        m.mr[2] = KEEL_CSPACE_DEPTH;
        m.mr[3] = op->label;
        w->calls++;
        keel_raw_syscall(KEEL_SYS_CALL, KEEL_SLOT_IRQ_CONTROL, 0, &m);
        return;
    default: return;
    }
    w->calls++;
    keel_raw_syscall(nr, op->cap, op->reply, &m);
}

void fz_worker_entry(struct fz_worker *w)
{
    /* Passes are counted: a "self-suspend" through a cap that now names another TCB returns
     * at once, and must not turn into a loop that never blocks. */
    for (unsigned pass = 0; pass < FZ_PASSES; pass++) {
        unsigned n = w->nops <= FZ_SCRIPT ? w->nops : FZ_SCRIPT;
        for (unsigned i = 0; i < n; i++)
            run_op(w, &w->script[i]);
        struct keel_msg m = { .info = keel_msginfo(KEEL_TCB_SUSPEND, 0, 0) };
        w->calls++;
        keel_raw_syscall(KEEL_SYS_CALL, w->self, 0, &m);
        if (keel_msg_is_error(m.info))
            break;
        /* Resumed after suspending itself: run the script again. */
    }
    for (;;)
        ud2();
}
