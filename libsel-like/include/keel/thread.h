/* Threads in the caller's own CSpace and VSpace. A thread runs entry(arg) on a stack the caller
 * provides; when entry returns the thread suspends itself. Its FS base points at its struct
 * keel_thread (whose first member is its keel_tls), which is how libkeel finds per-thread state:
 * keep the struct alive as long as the thread. The CSpace guard comes from the BootInfo (root
 * task) or the startinfo (a process made by keel_process_spawn, keel/process.h). */
#ifndef KEEL_THREAD_H
#define KEEL_THREAD_H

#include <keel/abi.h>
#include <keel/tls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keel_thread {
    struct keel_tls tls;           /* first: FS base = &tls */
    uint64_t tcb;                  /* TCB cptr */
    bool owns_tcb;                 /* allocated by keel_thread_create: freed by keel_thread_destroy */
    void (*entry)(void *arg);
    void *arg;
    uint64_t sp;                   /* initial RSP */
};

#define KEEL_THREAD_PRIORITY_INHERIT (-1)

struct keel_thread_config {
    void (*entry)(void *arg);
    void *arg;
    void *stack_top;           /* one past the highest byte of the stack; aligned down to 16 */
    int priority;              /* 0..255, or KEEL_THREAD_PRIORITY_INHERIT: the caller's own */
    uint64_t tcb;              /* an unconfigured TCB cptr, or 0 to allocate one (keel_alloc_object) */
    uint64_t ipc_frame;        /* IPC buffer frame cap and its address in this VSpace; both 0 for */
    uint64_t ipc_addr;         /*   a thread with register-only messages (no IPC buffer) */
    uint64_t fault_ep;         /* fault endpoint cptr, or 0 */
};

/* Make and configure the thread; it does not run until keel_thread_start(). Errors are those of
 * keel_alloc_object, TCB Configure and TCB SetPriority. */
int keel_thread_create(struct keel_thread *t, const struct keel_thread_config *cfg);
/* Write the initial registers and resume the thread. */
int keel_thread_start(struct keel_thread *t);
/* Suspend the thread and, if keel_thread_create allocated its TCB, delete it. */
int keel_thread_destroy(struct keel_thread *t);
/* Suspend the calling thread for good. */
_Noreturn void keel_thread_exit(void);

#endif
