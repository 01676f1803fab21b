#ifndef KEEL_OBJECT_LOG_H
#define KEEL_OBJECT_LOG_H

#include "ipc.h"

/* Log.Write: MR0 bytes, MR1.. the bytes (keel/abi.h, KEEL_LOG_WRITE). */
int log_invoke(struct invocation *inv);

#endif
