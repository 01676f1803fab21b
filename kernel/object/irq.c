/* Interrupts for userspace drivers. IRQControl issues one IRQHandler cap per line; a handler is
 * bound to a notification. When the line fires, the kernel masks it, signals the notification
 * with the notification cap's badge and sends the EOI; the driver's Ack unmasks the line once it
 * has dealt with the device, so a level-triggered line cannot storm the CPU meanwhile. */
#include "object/irq.h"
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/trap.h"
#include "boot.h"
#include "log.h"
#include "object/cdt.h"
#include "object/endpoint.h"
#include "smp.h"

#define IRQ_LINES 64 /* GSIs 0..63: vectors VEC_IOAPIC_BASE .. VEC_IOAPIC_BASE + 63 */

struct irq_line {
    bool issued;
    struct notification *ntfn;
    uint64_t badge;
};

static struct irq_line lines[IRQ_LINES];

static void irq_fire(struct trap_frame *f)
{
    uint32_t gsi = (uint32_t)(f->vector - VEC_IOAPIC_BASE);
    /* From user mode the lock is held already; an idle CPU takes it here. */
    bool take = !bkl_held();
    if (take)
        bkl_acquire();
    ioapic_set_masked(gsi, true);
    lapic_eoi();
    if (gsi < IRQ_LINES && lines[gsi].ntfn)
        notification_signal(lines[gsi].ntfn, lines[gsi].badge);
    if (take)
        bkl_release();
}

void irq_init(void)
{
    for (unsigned i = 0; i < IRQ_LINES; i++)
        trap_set_handler((uint8_t)(VEC_IOAPIC_BASE + i), irq_fire);
}

/* ISA IRQ → GSI, trigger and polarity, from the MADT's interrupt source overrides (ACPI 5.2.12.5:
 * flags bits 0-1 polarity, 3 = active low; bits 2-3 trigger mode, 3 = level). */
static uint32_t isa_to_gsi(uint32_t irq, bool *level, bool *active_low)
{
    *level = false;
    *active_low = false;
    for (uint32_t i = 0; i < boot.acpi.override_count; i++) {
        const struct acpi_override *o = &boot.acpi.overrides[i];
        if (o->source_irq != irq)
            continue;
        *active_low = (o->flags & 3) == 3;
        *level = ((o->flags >> 2) & 3) == 3;
        return o->gsi;
    }
    return irq;
}

int irq_control_invoke(struct invocation *inv)
{
    int err = 0;
    if (inv->label != KEEL_IRQ_CONTROL_GET)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    INV_NEED_ARGS(inv, 4);
    uint64_t line = inv_arg(inv, 0), flags = inv_arg(inv, 3);
    bool level, active_low;
    uint32_t gsi;
    if (flags & ~7ull)
        return inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, 3, 0, 0);
    if (flags & KEEL_IRQ_GSI) {
        gsi = (uint32_t)line;
        level = flags & KEEL_IRQ_LEVEL;
        active_low = flags & KEEL_IRQ_ACTIVE_LOW;
        if (line >= IRQ_LINES || line >= ioapic_gsi_count())
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, MIN(IRQ_LINES, ioapic_gsi_count()) - 1);
    } else {
        if (line > 15)
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, 15);
        gsi = isa_to_gsi((uint32_t)line, &level, &active_low);
        if (gsi >= IRQ_LINES || gsi >= ioapic_gsi_count())
            return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, 15);
    }
    if (lines[gsi].issued)
        return inv_fail(inv, KEEL_E_REVOKE_FIRST, 1, gsi, 0, 0); /* one handler per line */
    struct cte *dest =
        lookup_slot_in(inv->caller, &inv->caller->cspace_root.cap, inv_arg(inv, 1), inv_arg(inv, 2), 2, inv, &err);
    if (!dest)
        return err;
    if (dest->cap.type != KEEL_CAP_NULL)
        return inv_fail(inv, KEEL_E_DELETE_FIRST, 1, 1, 0, 0);
    if (!ioapic_route(gsi, (uint8_t)(VEC_IOAPIC_BASE + gsi), level, active_low, this_cpu()->apic_id))
        return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, 15);
    lines[gsi] = (struct irq_line){ .issued = true };
    memset(&dest->cap, 0, sizeof dest->cap);
    dest->cap.type = KEEL_CAP_IRQ_HANDLER;
    dest->cap.rights = KEEL_RIGHTS_ALL;
    dest->cap.word1 = gsi;
    cdt_insert(inv->slot, dest);
    inv_reply(inv, 0, gsi);
    return 0;
}

int irq_handler_invoke(struct invocation *inv)
{
    uint32_t gsi = (uint32_t)inv->slot->cap.word1;
    struct irq_line *l = &lines[gsi];
    switch (inv->label) {
    case KEEL_IRQ_HANDLER_SET_NOTIFICATION: {
        struct cte *n = inv->extra_caps ? inv->extra[0] : 0;
        if (!n || n->cap.type != KEEL_OBJ_NOTIFICATION)
            return inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 1, 0, 0);
        if (!(n->cap.rights & KEEL_RIGHT_WRITE))
            return inv_fail(inv, KEEL_E_INSUFFICIENT_RIGHTS, 1, KEEL_RIGHT_WRITE, 0, 0);
        l->ntfn = cap_notification(&n->cap);
        l->badge = n->cap.word1;
        ioapic_set_masked(gsi, false);
        return 0;
    }
    case KEEL_IRQ_HANDLER_ACK:
        if (!l->ntfn)
            return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0); /* nothing to deliver to */
        ioapic_set_masked(gsi, false);
        return 0;
    case KEEL_IRQ_HANDLER_CLEAR:
        ioapic_set_masked(gsi, true);
        l->ntfn = 0;
        return 0;
    default:
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    }
}

void irq_handler_destroy(const struct cap *c)
{
    uint32_t gsi = (uint32_t)c->word1;
    if (gsi >= IRQ_LINES)
        return;
    ioapic_set_masked(gsi, true);
    lines[gsi] = (struct irq_line){ 0 };
}

void irq_notification_gone(const struct notification *n)
{
    for (unsigned i = 0; i < IRQ_LINES; i++)
        if (lines[i].ntfn == n) {
            ioapic_set_masked(i, true);
            lines[i].ntfn = 0;
        }
}
