/* libFuzzer entry of the object harness: each input is a sequence of 4-byte operations
 * (world.h) run on a fresh world. Replay one input with its operations printed:
 *   KEEL_OBJFUZZ_TRACE=1 ./fuzz_objects <file> */
#include "world.h"
#include <stddef.h>
#include <stdint.h>

#define MAX_OPS 512 /* longer inputs are cut: each step runs the invariant checker */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_OPS * WORLD_OP_BYTES)
        size = MAX_OPS * WORLD_OP_BYTES;
    world_reset();
    world_run(data, size);
    return 0;
}
