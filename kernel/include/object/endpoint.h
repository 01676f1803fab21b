#ifndef KEEL_OBJECT_ENDPOINT_H
#define KEEL_OBJECT_ENDPOINT_H

#include "object/structures.h"

/* Send from `sender` (IPC_* flags). Rendezvous with a waiting receiver, or queue (blocking), or
 * fail with KEEL_E_WOULD_BLOCK (non-blocking). A Call binds the caller to the receiver's reply. */
void endpoint_send(struct endpoint *ep, struct tcb *sender, uint64_t badge, uint8_t flags, bool blocking);
/* Receive into `receiver`, offering `reply` (may be NULL) for a Call. */
void endpoint_recv(struct endpoint *ep, struct tcb *receiver, struct reply *reply, bool blocking);
/* Take `t` off the endpoint's queue, leaving it TS_INACTIVE and blocked on nothing
 * (object/threadqueue.h). A receiver's offered reply object is withdrawn and returned (NULL for
 * a sender, or a receiver that offered none). */
struct reply *endpoint_take(struct endpoint *ep, struct tcb *t);
/* The endpoint's last cap is gone: every waiting thread gets KEEL_E_CANCELLED. */
void endpoint_destroy(struct endpoint *ep);

/* Notifications. A cap with badge 0 signals bit 0 (value 1), so no signal is ever a no-op. */
void notification_signal(struct notification *n, uint64_t badge);
void notification_wait(struct notification *n, struct tcb *t, bool blocking);
/* Take a waiter off the notification's queue, leaving it TS_INACTIVE (threadqueue.h). */
void notification_take(struct notification *n, struct tcb *t);
void notification_destroy(struct notification *n);
void notification_bind(struct notification *n, struct tcb *t);
void notification_unbind(struct tcb *t);

/* Reply objects. */
void reply_bind(struct reply *r, struct tcb *caller);
void reply_offer(struct reply *r, struct tcb *receiver);
/* Replies through `r` with `replier`'s message; false if nobody waits on it. */
bool reply_deliver(struct reply *r, struct tcb *replier);
void reply_unbind_caller(struct reply *r);
void reply_destroy(struct reply *r);

#endif
