#ifndef KEEL_OBJECT_TCB_H
#define KEEL_OBJECT_TCB_H

#include "ipc.h"
#include "object/structures.h"

extern struct tcb *tcb_list; /* every live TCB */

void tcb_init(struct tcb *t);
/* Destruction in two steps around the deletion of its internal caps (done by cap_delete, which
 * treats a TCB's four internal slots like a small CNode). */
void tcb_destroy_begin(struct tcb *t);
void tcb_destroy_end(struct tcb *t);
/* Remove `t` from whatever it waits on, without waking it. */
void tcb_cancel_ipc(struct tcb *t);
/* The other side of `t`'s IPC went away (t is off every queue already): the syscall fails with
 * KEEL_E_CANCELLED, or a pending fault leaves the thread stopped. */
void tcb_abort_ipc(struct tcb *t);
void tcb_suspend(struct tcb *t);
void tcb_resume(struct tcb *t);
void tcb_stop_unrunnable(struct tcb *t);
int tcb_invoke(struct invocation *inv);

#endif
