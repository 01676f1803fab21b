#ifndef KEEL_OBJECT_UNTYPED_H
#define KEEL_OBJECT_UNTYPED_H

#include "ipc.h"

int untyped_invoke(struct invocation *inv);

#endif
