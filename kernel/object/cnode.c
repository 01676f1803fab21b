/* CNodes: slot operations and the capability lifecycle (delete, revoke, object destruction). */
#include "object/cnode.h"
#include "object/cdt.h"
#include "object/endpoint.h"
#include "object/irq.h"
#include "object/tcb.h"
#include "object/vspace.h"

/* Objects that hold capability slots: a CNode (2^radix slots) and a TCB (its four internal
 * slots, which are consecutive in struct tcb). Deleting the last cap to one deletes its slots,
 * which may hold the last cap to another, and so on without bound: cap_delete walks that chain
 * iteratively, keeping the path in the slots being deleted (marked CAP_FLAG_ZOMBIE while their
 * container is emptied: word2 links to the zombie below, word1 is the scan cursor), so kernel
 * stack use stays constant however deep users nest them. */
#define CAP_FLAG_ZOMBIE 0x80u

static bool has_badge(uint8_t type) { return type == KEEL_OBJ_ENDPOINT || type == KEEL_OBJ_NOTIFICATION; }

static bool is_container(const struct cap *c) { return c->type == KEEL_OBJ_CNODE || c->type == KEEL_OBJ_TCB; }

static uint64_t container_slots(const struct cap *c, struct cte **base)
{
    if (c->type == KEEL_OBJ_TCB) {
        *base = &cap_tcb(c)->cspace_root;
        return 4;
    }
    *base = cnode_slots(c);
    return 1ull << c->radix;
}

static void object_destroy(const struct cap *c)
{
    switch (c->type) {
    case KEEL_OBJ_ENDPOINT:
        endpoint_destroy(cap_endpoint(c));
        break;
    case KEEL_OBJ_NOTIFICATION:
        irq_notification_gone(cap_notification(c));
        notification_destroy(cap_notification(c));
        break;
    case KEEL_OBJ_REPLY:
        reply_destroy(cap_reply(c));
        break;
    case KEEL_OBJ_PML4:
        vspace_destroy(vspace_of_cap(c));
        break;
    case KEEL_CAP_ASID_POOL:
        asid_pool_destroy((void *)c->obj);
        break;
    case KEEL_CAP_IRQ_HANDLER:
        irq_handler_destroy(c);
        break;
    default:
        /* Untyped, paging structures, frames, control caps: nothing else to tear down. */
        break;
    }
}

static void unmap_if_mapping_cap(struct cap *c)
{
    /* Each frame, table or I/O port cap owns the one mapping or binding it made: it goes with
     * the cap. */
    if (c->type >= KEEL_OBJ_PDPT && c->type <= KEEL_OBJ_FRAME_1G)
        mapping_cap_deleted(c);
    else if (c->type == KEEL_CAP_IOPORT)
        ioport_cap_deleted(c);
}

/* Starts emptying the container whose last cap is in `slot`, on top of the zombie `below`. */
static struct cte *push_zombie(struct cte *slot, struct cte *below)
{
    slot->cap.flags |= CAP_FLAG_ZOMBIE;
    slot->cap.word1 = 0;
    slot->cap.word2 = (uint64_t)below;
    if (slot->cap.type == KEEL_OBJ_TCB)
        tcb_destroy_begin(cap_tcb(&slot->cap));
    return slot;
}

void cap_delete(struct cte *slot)
{
    if (slot->cap.type == KEEL_CAP_NULL || (slot->cap.flags & CAP_FLAG_ZOMBIE))
        return;
    unmap_if_mapping_cap(&slot->cap);
    bool final = cdt_is_final(slot);
    if (!final || !is_container(&slot->cap)) {
        struct cap c = slot->cap;
        cdt_remove(slot);
        if (final)
            object_destroy(&c);
        return;
    }
    struct cte *top = push_zombie(slot, 0);
    while (top) {
        struct cte *base;
        uint64_t n = container_slots(&top->cap, &base);
        uint64_t i = top->cap.word1;
        while (i < n && (base[i].cap.type == KEEL_CAP_NULL || (base[i].cap.flags & CAP_FLAG_ZOMBIE)))
            i++;
        top->cap.word1 = i;
        if (i == n) {
            /* Empty: the container is gone; go on with the one below. */
            struct cte *below = (struct cte *)top->cap.word2;
            struct cap c = top->cap;
            cdt_remove(top);
            if (c.type == KEEL_OBJ_TCB)
                tcb_destroy_end(cap_tcb(&c));
            top = below;
            continue;
        }
        struct cte *s = &base[i];
        unmap_if_mapping_cap(&s->cap);
        bool inner_final = cdt_is_final(s);
        if (inner_final && is_container(&s->cap)) {
            top = push_zombie(s, top);
            continue;
        }
        struct cap c = s->cap;
        cdt_remove(s);
        if (inner_final)
            object_destroy(&c);
    }
}

void cap_revoke(struct cte *slot)
{
    struct cte *leaf;
    while ((leaf = cdt_descendant_leaf(slot)))
        cap_delete(leaf);
}

bool cap_derivable(const struct cap *c)
{
    /* An Untyped's watermark and an IRQ handler's line ownership live in their one cap. */
    /* A paging structure's one mapping lives in its one cap too: a copy could map it twice. */
    return c->type != KEEL_CAP_NULL && c->type != KEEL_OBJ_UNTYPED && c->type != KEEL_CAP_IRQ_HANDLER &&
           (c->type < KEEL_OBJ_PDPT || c->type > KEEL_OBJ_PT);
}

struct cap cap_derive(const struct cap *src)
{
    struct cap c = *src;
    if (c.type >= KEEL_OBJ_PDPT && c.type <= KEEL_OBJ_FRAME_1G) {
        c.flags &= (uint8_t)~CAP_FLAG_MAPPED;
        c.word1 = c.word2 = 0;
    } else if (c.type == KEEL_CAP_IOPORT) {
        c.flags &= (uint8_t)~CAP_FLAG_MAPPED; /* word1 is its last port: the range stays */
        c.word2 = 0;
    }
    return c;
}


/* Applies Mint/Mutate data to a new cap: a badge for endpoints and notifications (only on an
 * unbadged cap), a guard for CNodes. */
static int apply_data(struct invocation *inv, struct cap *c, uint64_t data, uint64_t guard_bits, unsigned arg)
{
    if (has_badge(c->type)) {
        if (c->word1 && data != c->word1)
            return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 1, arg, 0, 0); /* already badged */
        c->word1 = data;
    } else if (c->type == KEEL_OBJ_CNODE) {
        if (guard_bits + c->radix > 64)
            return inv_fail(inv, KEEL_E_RANGE, 3, arg + 1, 0, 64 - c->radix);
        if (guard_bits < 64 && (data >> guard_bits))
            return inv_fail(inv, KEEL_E_RANGE, 3, arg, 0, guard_bits ? (1ull << guard_bits) - 1 : 0);
        c->word1 = data;
        c->guard_bits = (uint8_t)guard_bits;
    }
    return 0;
}

int cnode_invoke(struct invocation *inv)
{
    struct tcb *caller = inv->caller;
    const struct cap *root = &inv->slot->cap;
    int err = 0;
    uint64_t label = inv->label;

    if (label == KEEL_CNODE_DELETE || label == KEEL_CNODE_REVOKE) {
        INV_NEED_ARGS(inv, 2);
        struct cte *slot = lookup_slot_in(caller, root, inv_arg(inv, 0), inv_arg(inv, 1), 1, inv, &err);
        if (!slot)
            return err;
        if (label == KEEL_CNODE_DELETE)
            cap_delete(slot);
        else
            cap_revoke(slot);
        return 0;
    }

    if (label == KEEL_CNODE_ROTATE) {
        INV_NEED_ARGS(inv, 8);
        struct cte *dest = lookup_slot_in(caller, root, inv_arg(inv, 0), inv_arg(inv, 1), 1, inv, &err);
        struct cte *pivot = dest ? lookup_slot_in(caller, root, inv_arg(inv, 2), inv_arg(inv, 3), 3, inv, &err) : 0;
        struct cte *src = pivot ? lookup_slot_in(caller, root, inv_arg(inv, 4), inv_arg(inv, 5), 5, inv, &err) : 0;
        if (!src)
            return err;
        if (pivot == src || pivot == dest)
            return inv_fail(inv, KEEL_E_INVALID_ARGUMENT, 1, 2, 0, 0);
        if (pivot->cap.type == KEEL_CAP_NULL || src->cap.type == KEEL_CAP_NULL)
            return inv_fail(inv, KEEL_E_FAILED_LOOKUP, 3, KEEL_LOOKUP_MISSING_CAP, 0,
                            pivot->cap.type == KEEL_CAP_NULL ? 3 : 5);
        if (dest != src && dest->cap.type != KEEL_CAP_NULL)
            return inv_fail(inv, KEEL_E_DELETE_FIRST, 1, 0, 0, 0);
        /* The cap arriving in dest takes the dest badge (MR7), the one arriving in pivot the
         * pivot badge (MR6). */
        struct cap into_dest = pivot->cap, into_pivot = src->cap;
        if ((has_badge(into_dest.type) && (err = apply_data(inv, &into_dest, inv_arg(inv, 7), 0, 7))) ||
            (has_badge(into_pivot.type) && (err = apply_data(inv, &into_pivot, inv_arg(inv, 6), 0, 6))))
            return err;
        if (dest == src) {
            cdt_swap(pivot, src);
        } else {
            cdt_move(pivot, dest);
            cdt_move(src, pivot);
        }
        dest->cap.word1 = into_dest.word1;
        pivot->cap.word1 = into_pivot.word1;
        return 0;
    }

    if (label < KEEL_CNODE_COPY || label > KEEL_CNODE_MUTATE)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);

    /* Copy, Mint, Move, Mutate: destination below the invoked CNode, source below src root. */
    INV_NEED_ARGS(inv, 5);
    struct cte *dest = lookup_slot_in(caller, root, inv_arg(inv, 0), inv_arg(inv, 1), 1, inv, &err);
    if (!dest)
        return err;
    const struct cap *src_root = &caller->cspace_root.cap;
    if (inv_arg(inv, 2)) {
        struct cte *r = lookup_cap_slot(caller, inv_arg(inv, 2), 3, inv, &err);
        if (!r)
            return err;
        if (r->cap.type != KEEL_OBJ_CNODE)
            return inv_fail(inv, KEEL_E_FAILED_LOOKUP, 3, KEEL_LOOKUP_INVALID_ROOT, 0, 3);
        src_root = &r->cap;
    }
    struct cte *src = lookup_slot_in(caller, src_root, inv_arg(inv, 3), inv_arg(inv, 4), 4, inv, &err);
    if (!src)
        return err;
    if (src->cap.type == KEEL_CAP_NULL)
        return inv_fail(inv, KEEL_E_FAILED_LOOKUP, 3, KEEL_LOOKUP_MISSING_CAP, 0, 4);
    if (dest->cap.type != KEEL_CAP_NULL)
        return inv_fail(inv, KEEL_E_DELETE_FIRST, 1, 0, 0, 0);

    bool derive = label == KEEL_CNODE_COPY || label == KEEL_CNODE_MINT;
    struct cap c = derive ? cap_derive(&src->cap) : src->cap;
    if (label != KEEL_CNODE_MOVE) {
        INV_NEED_ARGS(inv, label == KEEL_CNODE_COPY ? 6 : 8);
        c.rights &= (uint8_t)inv_arg(inv, 5);
        if (label != KEEL_CNODE_COPY && (err = apply_data(inv, &c, inv_arg(inv, 6), inv_arg(inv, 7), 6)))
            return err;
    }
    if (derive) {
        if (!cap_derivable(&src->cap))
            return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 1, 4, 0, 0);
        dest->cap = c;
        cdt_insert(src, dest);
    } else {
        cdt_move(src, dest);
        dest->cap = c;
    }
    return 0;
}
