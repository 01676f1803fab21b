/* Per-thread library state (see keel/tls.h for how a thread finds its own). */
#include <keel/tls.h>
#include <stdbool.h>

static struct keel_tls main_tls = { .self = &main_tls, .tcb = KEEL_SLOT_TCB };
static uint64_t main_stack_lo, main_stack_hi;
/* Set once a thread with an FS-based keel_tls exists; until then every caller is the main thread. */
bool keel__fs_threads;

void keel_tls_init_main(uint64_t initial_sp, struct keel_ipc_buffer *ipc, uint64_t tcb)
{
    main_stack_hi = initial_sp;
    main_stack_lo = initial_sp - KEEL_ROOT_STACK_SIZE;
    main_tls.ipc = ipc;
    main_tls.tcb = tcb;
}

/* A process's stack is described by its startinfo (libkeel start code). */
void keel__tls_main_stack(uint64_t lo, uint64_t hi);
void keel__tls_main_stack(uint64_t lo, uint64_t hi)
{
    main_stack_lo = lo;
    main_stack_hi = hi;
}

struct keel_tls *keel_tls(void)
{
    if (!keel__fs_threads)
        return &main_tls;
    uint64_t sp = (uint64_t)__builtin_frame_address(0);
    if (sp >= main_stack_lo && sp <= main_stack_hi)
        return &main_tls;
    struct keel_tls *t;
    __asm__("mov %%fs:0, %0" : "=r"(t));
    return t;
}

int keel_last_error(void) { return keel_tls()->last.error; }

uint64_t keel_last_error_detail(unsigned i)
{
    const struct keel_tls *t = keel_tls();
    return t->last.error && i < KEEL_MSG_REGISTERS ? t->last.mr[i] : 0;
}

uint64_t keel_last_reply_mr(unsigned i)
{
    return i < KEEL_MSG_REGISTERS ? keel_tls()->last.mr[i] : 0;
}
