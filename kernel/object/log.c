/* The Log capability: how a process writes to the kernel console, in every build. The root task
 * gets one (KEEL_SLOT_LOG) and hands copies on (init gives every process one; libkeel's printf
 * writes through it), so logging needs no debug-only syscall and no driver: it works before the
 * serial driver runs, without it, and in release kernels. The bytes travel in message registers
 * (no user memory is read) and are written as one piece, so one Write is never interleaved with
 * another line. The cost is the caller's: console_write is synchronous on the serial port. */
#include "object/log.h"
#include "log.h"

int log_invoke(struct invocation *inv)
{
    if (inv->label != KEEL_LOG_WRITE)
        return inv_fail(inv, KEEL_E_ILLEGAL_OPERATION, 0, 0, 0, 0);
    if (!(inv->slot->cap.rights & KEEL_RIGHT_WRITE))
        return inv_fail(inv, KEEL_E_INSUFFICIENT_RIGHTS, 1, KEEL_RIGHT_WRITE, 0, 0);
    INV_NEED_ARGS(inv, 1);
    uint64_t n = inv_arg(inv, 0);
    if (n > KEEL_LOG_WRITE_MAX)
        return inv_fail(inv, KEEL_E_RANGE, 3, 0, 0, KEEL_LOG_WRITE_MAX);
    unsigned words = (unsigned)((n + 7) / 8);
    INV_NEED_ARGS(inv, 1 + words);
    char text[KEEL_LOG_WRITE_MAX];
    for (unsigned i = 0; i < words; i++) {
        uint64_t w = inv_arg(inv, 1 + i);
        for (unsigned b = 0; b < 8 && 8 * i + b < n; b++)
            text[8 * i + b] = (char)(w >> (8 * b));
    }
    if (n)
        console_write(text, (size_t)n); /* n = 0 is a no-op: a process may probe for its cap */
    return 0;
}
