#ifndef KEEL_OBJECT_DEBUG_H
#define KEEL_OBJECT_DEBUG_H

#include "ipc.h"

int debug_invoke(struct invocation *inv);
/* Walks the derivation tree, wait queues, run queues and Untyped watermarks; logs each broken
 * invariant and returns how many there were. Compiled in every build; cheap enough for tests. */
unsigned invariants_check(void);

#endif
