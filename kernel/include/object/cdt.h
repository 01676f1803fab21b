/* The capability derivation tree: every cap knows the cap it was derived from. Copies and mints
 * are children of their source; objects retyped from an Untyped are children of its cap. All caps
 * to one object form a subtree whose top's parent is a different object (or the root), which is
 * how the kernel knows when the last cap to an object goes away. */
#ifndef KEEL_OBJECT_CDT_H
#define KEEL_OBJECT_CDT_H

#include "object/structures.h"

extern struct cte cdt_root; /* parent of every cap made at boot */

/* Links `child` (holding its cap already) as the newest child of `parent`. */
void cdt_insert(struct cte *parent, struct cte *child);
/* Unlinks `slot`; its descendants stay in the tree: a copy of the same object takes its place,
 * children of other objects move up to its parent. Clears the slot. */
void cdt_remove(struct cte *slot);
/* `to` (empty) takes over `from`'s cap and place in the tree; `from` becomes empty. */
void cdt_move(struct cte *from, struct cte *to);
/* Exchanges two slots' caps and places in the tree. */
void cdt_swap(struct cte *a, struct cte *b);

bool cap_same_object(const struct cap *a, const struct cap *b);
/* True when no other cap refers to this slot's object. */
bool cdt_is_final(const struct cte *slot);
static inline bool cdt_has_children(const struct cte *slot) { return slot->first_child != 0; }
/* Deepest-first traversal helper: a leaf among `top`'s descendants, or NULL if it has none. */
struct cte *cdt_descendant_leaf(const struct cte *top);

#endif
