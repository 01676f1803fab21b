/* Untyped retype arithmetic: object sizes, alignment and the watermark. */
#ifndef KEEL_OBJECT_RETYPE_H
#define KEEL_OBJECT_RETYPE_H

#include <stdbool.h>
#include <stdint.h>

/* Size and alignment of one object; returns 0 or a keel_error (RANGE: *bad_arg = 1 for size,
 * INVALID_ARGUMENT: *bad_arg = 0 for type). `page1g` says whether 1 GiB frames exist. */
int object_size(uint32_t type, uint64_t size_param, bool page1g, uint64_t *size, uint64_t *align,
                uint64_t *bad_arg);

struct retype_plan {
    uint64_t first;          /* physical address of the first object */
    uint64_t new_watermark;  /* bytes used after the retype */
};

/* Places `count` objects of `size` aligned to `align` above `watermark` in [base, base + ut_size).
 * Returns 0, or KEEL_E_NOT_ENOUGH_MEMORY with *available = bytes usable at the aligned start. */
int retype_plan(uint64_t base, uint64_t ut_size, uint64_t watermark, uint64_t size, uint64_t align,
                uint64_t count, struct retype_plan *plan, uint64_t *available);

#endif
