/* Endpoints: synchronous rendezvous. One FIFO queue holds either waiting senders or waiting
 * receivers (never both), as the endpoint's state says. */
#include "object/endpoint.h"
#include "ipc.h"
#include "object/tcb.h"
#include "object/threadqueue.h"
#include "sched.h"

struct reply *endpoint_take(struct endpoint *ep, struct tcb *t)
{
    thread_queue_remove(&ep->queue, t, TS_INACTIVE);
    if (!ep->queue.head)
        ep->state = EP_IDLE;
    /* A queued thread's reply is one it offered in Recv (a caller gets one only once delivered). */
    struct reply *offered = t->reply;
    if (offered) {
        offered->receiver = 0;
        t->reply = 0;
    }
    return offered;
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
        struct tcb *receiver = ep->queue.head;
        struct reply *reply = endpoint_take(ep, receiver);
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
    sender->ipc_badge = badge;
    thread_queue_block(&ep->queue, sender, TS_BLOCKED_SEND, ep);
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
        struct tcb *sender = ep->queue.head;
        endpoint_take(ep, sender);
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
    thread_queue_block(&ep->queue, receiver, TS_BLOCKED_RECV, ep);
    ep->state = EP_RECEIVERS;
    sched_unready(receiver);
}

void endpoint_destroy(struct endpoint *ep)
{
    while (ep->queue.head) {
        struct tcb *t = ep->queue.head;
        endpoint_take(ep, t);
        tcb_abort_ipc(t);
    }
}
