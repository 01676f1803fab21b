#ifndef KEEL_OBJECT_TCB_H
#define KEEL_OBJECT_TCB_H

#include "arch/layout.h"
#include "ipc.h"
#include "object/structures.h"

extern struct tcb *tcb_list; /* every live TCB */

/* The kernel's view of a thread's IPC buffer: the 4 KiB frame its internal cap names, through the
 * direct map, or NULL. Derived from the cap at every use, never cached: a cached pointer outlived
 * the cap when the frame was revoked, and ReadRegisters then wrote into freed memory (found by the
 * host fuzzer, test/fuzz/objects). */
static inline struct keel_ipc_buffer *tcb_ipc_buffer(const struct tcb *t)
{
    const struct cap *frame = &t->ipc_buffer_frame.cap;
    return frame->type == KEEL_OBJ_FRAME_4K ? phys_to_virt(frame->obj) : 0;
}

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
