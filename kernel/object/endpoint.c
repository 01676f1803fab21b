/* Endpoints: synchronous rendezvous. One FIFO queue holds either waiting senders or waiting
 * receivers (never both), as the endpoint's state says. */
#include "object/endpoint.h"
#include "ipc.h"
#include "object/tcb.h"
#include "sched.h"

static void enqueue(struct endpoint *ep, struct tcb *t)
{
    t->ep_next = 0;
    t->ep_prev = ep->tail;
    if (ep->tail)
        ep->tail->ep_next = t;
    else
        ep->head = t;
    ep->tail = t;
}

void endpoint_dequeue(struct endpoint *ep, struct tcb *t)
{
    if (t->ep_prev)
        t->ep_prev->ep_next = t->ep_next;
    else
        ep->head = t->ep_next;
    if (t->ep_next)
        t->ep_next->ep_prev = t->ep_prev;
    else
        ep->tail = t->ep_prev;
    t->ep_next = t->ep_prev = 0;
    if (!ep->head)
        ep->state = EP_IDLE;
}

/* A Call has been delivered: wait for the reply, or fail the call if the receiver offered none. */
static void finish_call(struct tcb *caller, struct reply *reply)
{
    if (reply) {
        reply_bind(reply, caller);
        return;
    }
    if (caller->ipc_flags & IPC_FAULT) {
        tcb_suspend(caller); /* nobody can answer the fault */
        return;
    }
    msg_error(caller, KEEL_E_CANCELLED, 0, 0);
    caller->ipc_flags = 0;
    sched_wake(caller);
}

void endpoint_send(struct endpoint *ep, struct tcb *sender, uint64_t badge, uint8_t flags, bool blocking)
{
    sender->ipc_flags = flags;
    if (ep->state == EP_RECEIVERS) {
        struct tcb *receiver = ep->head;
        endpoint_dequeue(ep, receiver);
        struct reply *reply = receiver->reply;
        if (reply) {
            receiver->reply = 0;
            reply->receiver = 0;
        }
        ipc_transfer(sender, receiver, badge, flags & IPC_GRANT, ep);
        sched_wake(receiver);
        if (flags & IPC_CALL) {
            finish_call(sender, reply);
        } else {
            sender->ipc_flags = 0;
            msg_complete(sender, 0, 0);
        }
        return;
    }
    if (!blocking) {
        sender->ipc_flags = 0;
        msg_error(sender, KEEL_E_WOULD_BLOCK, 0, 0);
        return;
    }
    sender->state = TS_BLOCKED_SEND;
    sender->blocked_on = ep;
    sender->ipc_badge = badge;
    enqueue(ep, sender);
    ep->state = EP_SENDERS;
    sched_unready(sender);
}

void endpoint_recv(struct endpoint *ep, struct tcb *receiver, struct reply *reply, bool blocking)
{
    struct notification *bound = receiver->bound_notification;
    if (bound && bound->word) {
        msg_complete(receiver, KEEL_MSG_NOTIFICATION, bound->word);
        bound->word = 0;
        return;
    }
    if (ep->state == EP_SENDERS) {
        struct tcb *sender = ep->head;
        endpoint_dequeue(ep, sender);
        ipc_transfer(sender, receiver, sender->ipc_badge, sender->ipc_flags & IPC_GRANT, ep);
        if (sender->ipc_flags & IPC_CALL) {
            finish_call(sender, reply);
        } else {
            sender->ipc_flags = 0;
            msg_complete(sender, 0, 0);
            sched_wake(sender);
        }
        return;
    }
    if (!blocking) {
        msg_error(receiver, KEEL_E_WOULD_BLOCK, 0, 0);
        return;
    }
    if (reply)
        reply_offer(reply, receiver);
    receiver->state = TS_BLOCKED_RECV;
    receiver->blocked_on = ep;
    enqueue(ep, receiver);
    ep->state = EP_RECEIVERS;
    sched_unready(receiver);
}

void endpoint_destroy(struct endpoint *ep)
{
    while (ep->head) {
        struct tcb *t = ep->head;
        endpoint_dequeue(ep, t);
        tcb_abort_ipc(t);
    }
}
