/* Thread states around IPC: every combination of a queued thread and a call that takes it off
 * its queue (fault delivery with and without a reply object, deletion mid-queue, suspend,
 * WriteRegisters, SetPriority of a blocked thread). Each test ends with the kernel's invariant
 * check (the runner's), which walks every queue. */
#include "ktest.h"
