/* Reply objects: one-shot return paths. A receiver offers one in Recv; a Call that it receives
 * binds the caller to it; a Send on its cap (or ReplyRecv) answers the caller exactly once. */
#include "object/endpoint.h"
#include "ipc.h"
#include "object/tcb.h"
#include "sched.h"

void reply_unbind_caller(struct reply *r)
{
    if (r->caller) {
        r->caller->reply = 0;
        r->caller = 0;
    }
}

void reply_bind(struct reply *r, struct tcb *caller)
{
    if (r->caller) {
        /* The server took a new call without answering the old one: the old caller is told. */
        struct tcb *old = r->caller;
        reply_unbind_caller(r);
        tcb_abort_ipc(old);
    }
    r->caller = caller;
    caller->reply = r;
    caller->state = TS_BLOCKED_REPLY;
    caller->blocked_on = r;
    sched_unready(caller);
}

void reply_offer(struct reply *r, struct tcb *receiver)
{
    r->receiver = receiver;
    receiver->reply = r;
}

bool reply_deliver(struct reply *r, struct tcb *replier)
{
    struct tcb *caller = r->caller;
    if (!caller)
        return false;
    reply_unbind_caller(r);
    caller->blocked_on = 0;
    if (caller->ipc_flags & IPC_FAULT) {
        /* Label 0 resumes the faulting thread where it faulted; anything else leaves it stopped. */
        caller->ipc_flags = 0;
        if (keel_msg_label(msg_info(replier)) == 0)
            sched_wake(caller);
        else
            caller->state = TS_INACTIVE;
        return true;
    }
    bool grant = caller->ipc_flags & IPC_GRANT_REPLY;
    caller->ipc_flags = 0;
    replier->ipc_flags = 0;
    ipc_transfer(replier, caller, 0, grant, 0);
    sched_wake(caller);
    return true;
}

void reply_destroy(struct reply *r)
{
    if (r->caller) {
        struct tcb *caller = r->caller;
        reply_unbind_caller(r);
        tcb_abort_ipc(caller);
    }
    if (r->receiver) {
        r->receiver->reply = 0;
        r->receiver = 0;
    }
}
