/* The object harness's world and its operations: a root CNode, two root threads (one per CPU,
 * never blocked, holding the authority caps), an Untyped to build from, and a sequence of
 * operations decoded from bytes. The same decoder serves libFuzzer (fuzz_objects.c) and the
 * seeded generator (gen_objects.c). */
#ifndef KEEL_FUZZ_OBJECTS_WORLD_H
#define KEEL_FUZZ_OBJECTS_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORLD_OP_BYTES 4   /* opcode, then three argument bytes */
#define WORLD_OP_COUNT 24  /* opcodes 0..23; a byte is taken modulo this */

/* Builds a fresh world (every input starts from the same one). */
void world_reset(void);
/* Runs one operation; after it the kernel's invariant checker and the harness's own checks run,
 * and any report aborts (after printing the recent operations). */
void world_step(const uint8_t op[WORLD_OP_BYTES]);
/* Runs every whole operation in data[0..n). */
void world_run(const uint8_t *data, size_t n);

/* Print each operation as it runs (KEEL_OBJFUZZ_TRACE=1 does the same). */
extern bool world_trace;
/* Printed in failure reports, so that a generator run can be replayed: e.g. "seed 7 run 3". */
extern char world_origin[96];
/* Operations run since world_reset. */
extern unsigned long world_steps;
/* Frequency of each opcode in the generator (weights, any scale). */
extern const unsigned world_op_weight[WORLD_OP_COUNT];
const char *world_op_name(unsigned op);
/* Prints where the run is and its last operations (failure reports). */
void world_print_recent(void);

#endif
