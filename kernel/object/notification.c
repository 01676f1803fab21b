/* Notifications: a word of pending signal bits, a queue of waiters, and optionally one bound
 * TCB that a signal also wakes from an endpoint receive. */
#include "object/endpoint.h"
#include "ipc.h"
#include "object/tcb.h"
#include "object/threadqueue.h"
#include "sched.h"

void notification_take(struct notification *n, struct tcb *t)
{
    thread_queue_remove(&n->waiters, t, TS_INACTIVE);
}

void notification_signal(struct notification *n, uint64_t badge)
{
    if (!badge)
        badge = 1;
    if (n->waiters.head) {
        struct tcb *t = n->waiters.head;
        thread_queue_pop(&n->waiters, t, TS_INACTIVE);
        msg_complete(t, 0, badge);
        sched_wake(t);
        return;
    }
    struct tcb *b = n->bound_tcb;
    if (b && b->state == TS_BLOCKED_RECV) {
        tcb_cancel_ipc(b);
        msg_complete(b, KEEL_MSG_NOTIFICATION, badge);
        sched_wake(b);
        return;
    }
    n->word |= badge;
}

void notification_wait(struct notification *n, struct tcb *t, bool blocking)
{
    if (n->word) {
        msg_complete(t, 0, n->word);
        n->word = 0;
        return;
    }
    if (!blocking) {
        msg_error(t, KEEL_E_WOULD_BLOCK, 0, 0);
        return;
    }
    thread_queue_block(&n->waiters, t, TS_BLOCKED_NOTIFICATION, n);
    sched_unready(t);
}

void notification_bind(struct notification *n, struct tcb *t)
{
    n->bound_tcb = t;
    t->bound_notification = n;
}

void notification_unbind(struct tcb *t)
{
    if (t->bound_notification) {
        t->bound_notification->bound_tcb = 0;
        t->bound_notification = 0;
    }
}

void notification_destroy(struct notification *n)
{
    while (n->waiters.head) {
        struct tcb *t = n->waiters.head;
        thread_queue_pop(&n->waiters, t, TS_INACTIVE);
        tcb_abort_ipc(t);
    }
    if (n->bound_tcb)
        notification_unbind(n->bound_tcb);
}
