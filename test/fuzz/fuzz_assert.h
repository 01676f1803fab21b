/* Contract assertions for the libFuzzer harnesses: a broken one prints what failed and aborts,
 * which libFuzzer reports as a crash and saves the input as an artifact. Unlike assert() it is
 * never compiled out. */
#ifndef KEEL_FUZZ_ASSERT_H
#define KEEL_FUZZ_ASSERT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A string the parser wrote into a buffer of `size` bytes is NUL-terminated inside it. */
#define FUZZ_ASSERT_TERMINATED(buf, size) FUZZ_ASSERT(memchr((buf), 0, (size)) != NULL)

#endif
