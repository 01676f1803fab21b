/* The eight syscalls as inline stubs, following abi.h's register convention exactly.
 * Every stub passes MR0-3 in and takes MR0-3, the badge and the message info back out, so error
 * details (which the kernel puts in MR0..) are never lost. Words past MR3 live in the calling
 * thread's IPC buffer: use keel_msg_set_mr()/keel_msg_get_mr(). */
#ifndef KEEL_SYSCALL_H
#define KEEL_SYSCALL_H

#include <keel/abi.h>
#include <keel/tls.h>
#include <stdint.h>

struct keel_msg {
    keel_msginfo_t info;               /* in: what is sent; out: what arrived (or the error) */
    uint64_t badge;                    /* out: badge of the sender's cap / notification word */
    uint64_t mr[KEEL_MSG_REGISTERS];   /* MR0-3 */
};

static inline void keel_raw_syscall(uint64_t nr, uint64_t cptr, uint64_t reply, struct keel_msg *m)
{
    register uint64_t rax __asm__("rax") = nr;
    register uint64_t rdi __asm__("rdi") = cptr;
    register uint64_t rsi __asm__("rsi") = m->info;
    register uint64_t rdx __asm__("rdx") = m->mr[0];
    register uint64_t r10 __asm__("r10") = m->mr[1];
    register uint64_t r8 __asm__("r8") = m->mr[2];
    register uint64_t r9 __asm__("r9") = m->mr[3];
    register uint64_t r12 __asm__("r12") = reply;
    __asm__ volatile("syscall"
                     : "+r"(rax), "+r"(rdi), "+r"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
                     : "r"(rsi), "r"(r12)
                     : "rcx", "r11", "memory");
    m->info = rax;
    m->badge = rdi;
    m->mr[0] = rdx;
    m->mr[1] = r10;
    m->mr[2] = r8;
    m->mr[3] = r9;
}

/* 0, or the enum keel_error the kernel answered with (details then in m->mr). */
static inline int keel_msg_error(const struct keel_msg *m)
{
    return keel_msg_is_error(m->info) ? (int)keel_msg_label(m->info) : 0;
}

static inline struct keel_msg keel_msg_make(uint64_t label, uint64_t length)
{
    struct keel_msg m = { .info = keel_msginfo(label, 0, length) };
    return m;
}

/* MR i of a message: registers for i < 4, the calling thread's IPC buffer above. */
static inline void keel_msg_set_mr(struct keel_msg *m, unsigned i, uint64_t v)
{
    if (i < KEEL_MSG_REGISTERS)
        m->mr[i] = v;
    else
        keel_ipc_buffer()->mr[i] = v;
}
static inline uint64_t keel_msg_get_mr(const struct keel_msg *m, unsigned i)
{
    return i < KEEL_MSG_REGISTERS ? m->mr[i] : keel_ipc_buffer()->mr[i];
}

/* Call: send m, wait for the answer, which replaces m. */
static inline int keel_call(uint64_t cptr, struct keel_msg *m)
{
    keel_raw_syscall(KEEL_SYS_CALL, cptr, 0, m);
    return keel_msg_error(m);
}

/* Blocking send on an endpoint (also: signal a notification, answer through a reply object). */
static inline int keel_send(uint64_t cptr, struct keel_msg *m)
{
    keel_raw_syscall(KEEL_SYS_SEND, cptr, 0, m);
    return keel_msg_error(m);
}

/* Send only if a receiver is waiting: KEEL_E_WOULD_BLOCK otherwise. */
static inline int keel_nbsend(uint64_t cptr, struct keel_msg *m)
{
    keel_raw_syscall(KEEL_SYS_NB_SEND, cptr, 0, m);
    return keel_msg_error(m);
}

/* Wait for a message on `ep`; `reply` (a Reply object cptr, 0 for none) receives the caller
 * when the sender used Call. The message lands in m (m->badge = the sender's badge). */
static inline int keel_recv(uint64_t ep, uint64_t reply, struct keel_msg *m)
{
    m->info = 0;
    keel_raw_syscall(KEEL_SYS_RECV, ep, reply, m);
    return keel_msg_error(m);
}

/* As keel_recv, but KEEL_E_WOULD_BLOCK when nothing is waiting. */
static inline int keel_nbrecv(uint64_t ep, uint64_t reply, struct keel_msg *m)
{
    m->info = 0;
    keel_raw_syscall(KEEL_SYS_NB_RECV, ep, reply, m);
    return keel_msg_error(m);
}

/* Answer the caller held in `reply` with m, then wait on `ep` (the next message replaces m). */
static inline int keel_reply_recv(uint64_t ep, uint64_t reply, struct keel_msg *m)
{
    keel_raw_syscall(KEEL_SYS_REPLY_RECV, ep, reply, m);
    return keel_msg_error(m);
}

/* Answer through a Reply object: Send on the reply cap. */
static inline int keel_reply(uint64_t reply, struct keel_msg *m)
{
    return keel_send(reply, m);
}

/* Signal a notification: OR the cap's badge into its word. */
static inline int keel_signal(uint64_t ntfn)
{
    struct keel_msg m = { 0 };
    return keel_send(ntfn, &m);
}

/* Wait on a notification; *word = the bits signalled since the last wait (cleared by it). */
static inline int keel_wait(uint64_t ntfn, uint64_t *word)
{
    struct keel_msg m = { 0 };
    int err = keel_recv(ntfn, 0, &m);
    if (word)
        *word = err ? 0 : m.badge;
    return err;
}

/* As keel_wait without blocking: KEEL_E_WOULD_BLOCK when no bit is set. */
static inline int keel_poll(uint64_t ntfn, uint64_t *word)
{
    struct keel_msg m = { 0 };
    int err = keel_nbrecv(ntfn, 0, &m);
    if (word)
        *word = err ? 0 : m.badge;
    return err;
}

static inline void keel_yield(void)
{
    struct keel_msg m = { 0 };
    keel_raw_syscall(KEEL_SYS_YIELD, 0, 0, &m);
}

/* Debug kernels only: one byte to the kernel console. */
static inline void keel_debug_putchar(char c)
{
    struct keel_msg m = { 0 };
    keel_raw_syscall(KEEL_SYS_DEBUG_PUTCHAR, (uint8_t)c, 0, &m);
}

#endif
