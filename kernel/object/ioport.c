/* I/O ports without a syscall per access: an IOPort cap (a port range) is bound to a VSpace, and
 * while a thread of that VSpace runs, the range is open in the CPU's I/O permission bitmap (in
 * the TSS), so the driver uses in/out directly. The bitmap is rewritten only when the running
 * VSpace's ranges differ from the ones already open. Binding opens, and unbinding or deleting the
 * cap closes, the range at once on every CPU that holds the VSpace's ranges; a thread touching a
 * closed port takes #GP, which becomes a fault. */
#include "object/irq.h"
#include "arch/cpu.h"
#include "klib.h"
#include "object/cdt.h"
#include "object/vspace.h"
#include "smp.h"

static void set_range(struct percpu *c, uint16_t first, uint16_t last, bool open)
{
    uint32_t p = first;
    for (; p <= last && (p & 7); p++) /* leading bits, up to a byte boundary */
        c->tss.iomap[p >> 3] = open ? c->tss.iomap[p >> 3] & (uint8_t)~(1u << (p & 7))
                                    : c->tss.iomap[p >> 3] | (uint8_t)(1u << (p & 7));
    for (; p + 7 <= last; p += 8) /* whole bytes */
        c->tss.iomap[p >> 3] = open ? 0x00 : 0xff;
    for (; p <= last; p++)
        c->tss.iomap[p >> 3] = open ? c->tss.iomap[p >> 3] & (uint8_t)~(1u << (p & 7))
                                    : c->tss.iomap[p >> 3] | (uint8_t)(1u << (p & 7));
}

static void apply(struct percpu *c, const struct vspace *vs, bool open)
{
    for (uint32_t i = 0; vs && i < vs->io_count; i++)
        set_range(c, vs->io[i].first, vs->io[i].last, open);
}

void ioport_switch(struct vspace *vs)
{
    struct percpu *c = this_cpu();
    if (c->io_vspace == vs)
        return;
    if ((!c->io_vspace || !c->io_vspace->io_count) && !vs->io_count) {
        c->io_vspace = vs; /* nothing open before or after: no bitmap work */
        return;
    }
    apply(c, c->io_vspace, false);
    apply(c, vs, true);
    c->io_vspace = vs;
}

void ioport_vspace_gone(struct vspace *vs)
{
    struct percpu *c = this_cpu();
    if (c->io_vspace == vs) {
        apply(c, vs, false);
        c->io_vspace = 0;
    }
}

int ioport_control_invoke(struct invocation *inv)
{
    int err = 0;
    if (inv->label != KEEL_IOPORT_CONTROL_ISSUE)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    INV_NEED_ARGS(inv, 4);
    uint64_t first = inv_arg(inv, 0), last = inv_arg(inv, 1);
    if (last > 0xffff)
        return inv_fail(inv, KEEL_E_RANGE, 3, 1, 0, 0xffff);
    if (first > last)
        return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, last);
    struct cte *dest =
        lookup_slot_in(inv->caller, &inv->caller->cspace_root.cap, inv_arg(inv, 2), inv_arg(inv, 3), 3, inv, &err);
    if (!dest)
        return err;
    if (dest->cap.type != KEEL_CAP_NULL)
        return inv_fail(inv, KEEL_E_DELETE_FIRST, 1, 2, 0, 0);
    memset(&dest->cap, 0, sizeof dest->cap);
    dest->cap.type = KEEL_CAP_IOPORT;
    dest->cap.rights = KEEL_RIGHTS_ALL;
    dest->cap.obj = first;
    dest->cap.word1 = last;
    cdt_insert(inv->slot, dest);
    return 0;
}

/* `vs`'s ranges changed by [first, last] (opened or closed): bring this CPU's bitmap in line if
 * it holds vs's ranges. A closed range may overlap one another cap still grants, so closing
 * closes the range and then reopens everything vs still has. */
void ioport_update_local(struct vspace *vs, uint16_t first, uint16_t last, bool open)
{
    struct percpu *cpu = this_cpu();
    if (cpu->io_vspace != vs)
        return;
    set_range(cpu, first, last, open);
    if (!open)
        apply(cpu, vs, true);
}

/* Every CPU whose bitmap holds vs's ranges follows at once: this one directly, the others through
 * their mailbox (smp_ioport_update waits for them), so a thread of vs running on another CPU can
 * use a port the moment Bind returns, and cannot once Unbind or Delete has returned. */
static void update_everywhere(struct vspace *vs, uint16_t first, uint16_t last, bool open)
{
    ioport_update_local(vs, first, last, open);
    smp_ioport_update(vs, first, last, open);
}

static void unbind(struct cap *c)
{
    struct vspace *vs = (c->flags & CAP_FLAG_MAPPED) ? asid_lookup((uint32_t)c->word2) : 0;
    c->flags &= (uint8_t)~CAP_FLAG_MAPPED;
    c->word2 = 0;
    if (!vs)
        return;
    for (uint32_t i = 0; i < vs->io_count; i++)
        if (vs->io[i].first == c->obj && vs->io[i].last == c->word1) {
            vs->io[i] = vs->io[--vs->io_count];
            break;
        }
    update_everywhere(vs, (uint16_t)c->obj, (uint16_t)c->word1, false);
}

void ioport_cap_deleted(struct cap *c)
{
    if (c->flags & CAP_FLAG_MAPPED)
        unbind(c);
}

int ioport_invoke(struct invocation *inv)
{
    struct cap *c = &inv->slot->cap;
    switch (inv->label) {
    case KEEL_IOPORT_BIND: {
        struct cte *root = inv->extra_caps ? inv->extra[0] : 0;
        if (!root || root->cap.type != KEEL_OBJ_PML4)
            return inv_fail(inv, KEEL_E_INVALID_CAPABILITY, 1, 1, 0, 0);
        struct vspace *vs = vspace_of_cap(&root->cap);
        if (!vs->asid)
            return inv_fail(inv, KEEL_E_NO_ASID, 0, 0, 0, 0);
        if (c->flags & CAP_FLAG_MAPPED)
            return inv_fail(inv, KEEL_E_MAPPED, 1, c->word2, 0, 0); /* bound already: unbind or copy */
        if (vs->io_count == KEEL_IOPORT_RANGES)
            return inv_fail(inv, KEEL_E_NOT_ENOUGH_MEMORY, 1, 0, 0, 0);
        vs->io[vs->io_count].first = (uint16_t)c->obj;
        vs->io[vs->io_count].last = (uint16_t)c->word1;
        vs->io_count++;
        c->flags |= CAP_FLAG_MAPPED;
        c->word2 = vs->asid;
        update_everywhere(vs, (uint16_t)c->obj, (uint16_t)c->word1, true);
        return 0;
    }
    case KEEL_IOPORT_UNBIND:
        unbind(c);
        return 0;
    default:
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    }
}
