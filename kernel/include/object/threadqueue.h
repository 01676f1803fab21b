/* Wait queues of threads: an endpoint's senders or receivers, a notification's waiters.
 *
 * One rule, kept here and nowhere else: a thread is linked in a queue exactly when its state is
 * TS_BLOCKED_SEND, TS_BLOCKED_RECV or TS_BLOCKED_NOTIFICATION and its blocked_on names the
 * object that owns the queue. thread_queue_block links a thread and sets both; every way off a
 * queue (thread_queue_remove, thread_queue_pop) unlinks it and sets both again, to the state the
 * caller names, which is never one of those three. So no path can take a thread off a queue and
 * leave a state that says it is still there (which once let a second dequeue of the same thread
 * empty the queue and orphan every other waiter), nor change the state of a queued thread
 * without unlinking it.
 *
 * Always inline: the IPC fastpath uses them, where a call costs as much as the work. */
#ifndef KEEL_OBJECT_THREADQUEUE_H
#define KEEL_OBJECT_THREADQUEUE_H

#include "object/structures.h"

#define TQ_INLINE static inline __attribute__((always_inline))

TQ_INLINE bool thread_state_is_queued(uint8_t state)
{
    return state == TS_BLOCKED_SEND || state == TS_BLOCKED_RECV || state == TS_BLOCKED_NOTIFICATION;
}

/* Block `t` at the tail of `q`, owned by `owner`, in `state` (one of the three queued states). */
TQ_INLINE void thread_queue_block(struct thread_queue *q, struct tcb *t, enum thread_state state, void *owner)
{
    t->state = state;
    t->blocked_on = owner;
    t->ep_next = 0;
    t->ep_prev = q->tail;
    if (q->tail)
        q->tail->ep_next = t;
    else
        q->head = t;
    q->tail = t;
}

/* Unlink `t`, which is linked in `q`, and leave it in `state` (not a queued state), blocked on
 * nothing: TS_INACTIVE while its caller decides what it becomes (woken, bound to a reply,
 * suspended), or TS_RUNNING directly. */
TQ_INLINE void thread_queue_remove(struct thread_queue *q, struct tcb *t, enum thread_state state)
{
    if (t->ep_prev)
        t->ep_prev->ep_next = t->ep_next;
    else
        q->head = t->ep_next;
    if (t->ep_next)
        t->ep_next->ep_prev = t->ep_prev;
    else
        q->tail = t->ep_prev;
    t->ep_next = t->ep_prev = 0;
    t->state = state;
    t->blocked_on = 0;
}

/* thread_queue_remove of `head`, the head of `q`; returns the new head (NULL: `q` is empty).
 * Written out because the head has no predecessor: the fastpath saves the test. */
TQ_INLINE struct tcb *thread_queue_pop(struct thread_queue *q, struct tcb *head, enum thread_state state)
{
    struct tcb *next = head->ep_next;
    head->ep_next = 0;
    head->state = state;
    head->blocked_on = 0;
    q->head = next;
    /* Expected: a server usually waits alone. A branch of its own, which the caller's "now
     * empty" work joins (as a select it would cost the fastpath a callee-saved register). */
    if (__builtin_expect(!next, 1)) {
        q->tail = 0;
        return 0;
    }
    next->ep_prev = 0;
    return next;
}

#endif
