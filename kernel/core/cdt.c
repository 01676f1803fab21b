/* Capability derivation tree operations. Pure pointer manipulation: no allocation, no object
 * side effects (the callers in object/cnode.c destroy objects), so it is unit-tested on the host. */
#include "object/cdt.h"
#include "klib.h"

struct cte cdt_root;

static void link_child(struct cte *parent, struct cte *child)
{
    child->parent = parent;
    child->prev = 0;
    child->next = parent->first_child;
    if (parent->first_child)
        parent->first_child->prev = child;
    parent->first_child = child;
}

static void unlink_from_siblings(struct cte *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else if (s->parent)
        s->parent->first_child = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = 0;
}

void cdt_insert(struct cte *parent, struct cte *child)
{
    child->first_child = 0;
    link_child(parent ? parent : &cdt_root, child);
}

bool cap_same_object(const struct cap *a, const struct cap *b)
{
    if (a->type != b->type || a->obj != b->obj)
        return false;
    /* Untyped regions with the same base but different sizes are parent and child. */
    return a->type != KEEL_OBJ_UNTYPED || a->word1 == b->word1;
}

bool cdt_is_final(const struct cte *slot)
{
    if (slot->parent && slot->parent != &cdt_root && cap_same_object(&slot->parent->cap, &slot->cap))
        return false;
    for (const struct cte *c = slot->first_child; c; c = c->next)
        if (cap_same_object(&c->cap, &slot->cap))
            return false;
    return true;
}

void cdt_remove(struct cte *slot)
{
    struct cte *parent = slot->parent;
    /* The first child that refers to the same object inherits the slot's place. */
    struct cte *heir = 0;
    for (struct cte *c = slot->first_child; c; c = c->next)
        if (cap_same_object(&c->cap, &slot->cap)) {
            heir = c;
            break;
        }
    unlink_from_siblings(slot);
    if (heir) {
        unlink_from_siblings(heir); /* from slot's children: heir->parent is still slot */
        link_child(parent, heir);
    }
    struct cte *c = slot->first_child;
    slot->first_child = 0;
    while (c) {
        struct cte *next = c->next;
        c->prev = c->next = 0;
        link_child(heir && cap_same_object(&c->cap, &heir->cap) ? heir : parent, c);
        c = next;
    }
    memset(slot, 0, sizeof *slot);
}

void cdt_move(struct cte *from, struct cte *to)
{
    if (from == to)
        return;
    *to = *from;
    if (to->prev)
        to->prev->next = to;
    else if (to->parent)
        to->parent->first_child = to;
    if (to->next)
        to->next->prev = to;
    for (struct cte *c = to->first_child; c; c = c->next)
        c->parent = to;
    memset(from, 0, sizeof *from);
}

void cdt_swap(struct cte *a, struct cte *b)
{
    if (a == b)
        return;
    struct cte tmp = { 0 };
    cdt_move(a, &tmp);
    cdt_move(b, a);
    cdt_move(&tmp, b);
}

struct cte *cdt_descendant_leaf(const struct cte *top)
{
    struct cte *c = top->first_child;
    if (!c)
        return 0;
    while (c->first_child)
        c = c->first_child;
    return c;
}
