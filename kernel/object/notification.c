/* Notifications: a word of pending signal bits, a queue of waiters, and optionally one bound
 * TCB that a signal also wakes from an endpoint receive. */
#include "object/endpoint.h"
#include "ipc.h"
#include "object/tcb.h"
#include "sched.h"

static void enqueue(struct notification *n, struct tcb *t)
{
    t->ep_next = 0;
    t->ep_prev = n->tail;
    if (n->tail)
        n->tail->ep_next = t;
    else
        n->head = t;
    n->tail = t;
}

void notification_dequeue(struct notification *n, struct tcb *t)
{
    if (t->ep_prev)
        t->ep_prev->ep_next = t->ep_next;
    else
        n->head = t->ep_next;
    if (t->ep_next)
        t->ep_next->ep_prev = t->ep_prev;
    else
        n->tail = t->ep_prev;
    t->ep_next = t->ep_prev = 0;
}

void notification_signal(struct notification *n, uint64_t badge)
{
    if (!badge)
        badge = 1;
    if (n->head) {
        struct tcb *t = n->head;
        notification_dequeue(n, t);
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
    t->state = TS_BLOCKED_NOTIFICATION;
    t->blocked_on = n;
    enqueue(n, t);
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
    while (n->head) {
        struct tcb *t = n->head;
        notification_dequeue(n, t);
        tcb_abort_ipc(t);
    }
    if (n->bound_tcb)
        notification_unbind(n->bound_tcb);
}
