#ifndef KEEL_OBJECT_IRQ_H
#define KEEL_OBJECT_IRQ_H

#include "ipc.h"
#include "object/structures.h"

void irq_init(void);
int irq_control_invoke(struct invocation *inv);
int irq_handler_invoke(struct invocation *inv);
void irq_handler_destroy(const struct cap *c);
/* A notification is going away: no interrupt may signal it any more. */
void irq_notification_gone(const struct notification *n);

int ioport_control_invoke(struct invocation *inv);
int ioport_invoke(struct invocation *inv);
/* An I/O port cap is deleted: its range leaves the VSpace it was bound to, at once. */
void ioport_cap_deleted(struct cap *c);
/* Make this CPU's I/O permission bitmap match `vs` (only when it differs from the last one). */
struct vspace;
void ioport_switch(struct vspace *vs);
void ioport_vspace_gone(struct vspace *vs);
/* This CPU's I/O bitmap follows a change of vs's ranges (from the mailbox, smp.c). */
void ioport_update_local(struct vspace *vs, uint16_t first, uint16_t last, bool open);

#endif
