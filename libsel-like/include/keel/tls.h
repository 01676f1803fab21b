/* Per-thread library state: the IPC buffer pointer and the result of the last invocation.
 *
 * How a thread finds its own state: threads made by keel_thread_create() run with FS base =
 * their struct keel_tls (written through TCB WriteRegisters), so %fs:0 is a self pointer.
 * The root task's initial thread starts with FS base 0 and cannot set it itself (no FSGSBASE
 * assumption, and a thread cannot WriteRegisters itself), so it is recognised by its stack:
 * any RSP inside [initial RSP - KEEL_ROOT_STACK_SIZE, initial RSP] uses a static keel_tls.
 * A thread created by hand with FS base 0 must not call the invocation wrappers. */
#ifndef KEEL_TLS_H
#define KEEL_TLS_H

#include <keel/abi.h>
#include <stdint.h>

/* Words of the last reply: error details when `error` != 0, else the reply's MR0-3. */
struct keel_last_result {
    int error;                         /* 0 or enum keel_error */
    uint64_t label;                    /* raw reply label */
    uint64_t mr[KEEL_MSG_REGISTERS];
};

struct keel_tls {
    struct keel_tls *self;             /* %fs:0, must stay first */
    struct keel_ipc_buffer *ipc;       /* NULL: this thread has no IPC buffer (register-only messages) */
    uint64_t tcb;                      /* the thread's own TCB cptr, for keel_thread_exit() */
    struct keel_last_result last;
};

struct keel_tls *keel_tls(void);
static inline struct keel_ipc_buffer *keel_ipc_buffer(void) { return keel_tls()->ipc; }

/* Set up by crt0 for the initial thread; exposed for programs started without crt0. */
void keel_tls_init_main(uint64_t initial_sp, struct keel_ipc_buffer *ipc, uint64_t tcb);

/* Result of the calling thread's last invocation made through libkeel. */
int keel_last_error(void);
uint64_t keel_last_error_detail(unsigned i); /* MR i of the last error reply (0 if none / i > 3) */
uint64_t keel_last_reply_mr(unsigned i);     /* MR i of the last reply, error or not */

#endif
