/* Shared state and helpers of the multiboot2 test files. */
#ifndef KEEL_MB2_FIXTURE_H
#define KEEL_MB2_FIXTURE_H

#include "check.h"
#include "mb2_builder.h"
#include "multiboot2.h"

static struct mb b;
static struct mb2_info info;
static struct diag d;

#define INFO_PHYS 0x10000ull

static inline int parse(void) { return mb2_parse(b.words, INFO_PHYS, &info, &d); }

/* Parses and expects failure with a message containing `needle`. */
#define EXPECT_ERROR(needle)                                                                       \
    do {                                                                                           \
        CHECK_EQ_U64(parse(), (uint64_t)-1);                                                       \
        CHECK_STR_CONTAINS(d.msg, "multiboot2: ");                                                 \
        CHECK_STR_CONTAINS(d.msg, needle);                                                         \
    } while (0)

#endif
