#ifndef KEEL_OBJECT_CNODE_H
#define KEEL_OBJECT_CNODE_H

#include "ipc.h"
#include "object/structures.h"

/* Deletes the cap in `slot`; the object dies with its last cap. */
void cap_delete(struct cte *slot);
/* Deletes every descendant of `slot`'s cap. */
void cap_revoke(struct cte *slot);
/* May this cap be copied or minted? (Untyped: no; its watermark lives in its one cap.) */
bool cap_derivable(const struct cap *c);
/* The cap a copy of `src` starts as: same object and rights, none of `src`'s own state (a frame
 * or table copy is unmapped: each cap owns at most one mapping). */
struct cap cap_derive(const struct cap *src);
int cnode_invoke(struct invocation *inv);

#endif
