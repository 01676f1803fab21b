/* A minimal unit-test harness for the host tests: TEST(name) registers a test, CHECK* record
 * failures without stopping the test, main() runs everything and prints one line per test and a
 * summary. Exactly one file of each executable defines CHECK_MAIN before including this, which
 * provides main() and the harness state; an executable may have further test files. */
#ifndef KEEL_CHECK_H
#define KEEL_CHECK_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHECK_MAX_TESTS 256

struct check_test {
    const char *name;
    void (*fn)(void);
};

void check_register(const char *name, void (*fn)(void));
void check_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Constructors run before main in definition order, so tests run in the order they are written
 * (file by file in link order). */
#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void check_register_##name(void)                           \
    {                                                                                              \
        check_register(#name, name);                                                               \
    }                                                                                              \
    static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            check_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                             \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);                               \
        if (check_a_ != check_b_)                                                                  \
            check_fail(__FILE__, __LINE__, "%s == %s failed: 0x%" PRIx64 " (%" PRIu64             \
                       ") != 0x%" PRIx64 " (%" PRIu64 ")", #a, #b, check_a_, check_a_, check_b_,  \
                       check_b_);                                                                  \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0)                             \
            check_fail(__FILE__, __LINE__, "%s == %s failed: \"%s\" != \"%s\"", #a, #b,            \
                       check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");            \
    } while (0)

#define CHECK_STR_CONTAINS(haystack, needle)                                                       \
    do {                                                                                           \
        const char *check_h_ = (haystack), *check_n_ = (needle);                                   \
        if (!check_h_ || !strstr(check_h_, check_n_))                                              \
            check_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",                       \
                       check_h_ ? check_h_ : "(null)", check_n_);                                  \
    } while (0)

#ifdef CHECK_MAIN
static struct check_test check_tests[CHECK_MAX_TESTS];
static int check_test_count;
static int check_current_failures;

void check_register(const char *name, void (*fn)(void))
{
    if (check_test_count == CHECK_MAX_TESTS) {
        fprintf(stderr, "check.h: more than %d tests; raise CHECK_MAX_TESTS\n", CHECK_MAX_TESTS);
        return;
    }
    check_tests[check_test_count++] = (struct check_test){ name, fn };
}

void check_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "    %s:%d: ", file, line);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    check_current_failures++;
}

int main(void)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < check_test_count; i++) {
        check_current_failures = 0;
        check_tests[i].fn();
        if (check_current_failures) {
            failed++;
            printf("FAIL %s (%d failed checks)\n", check_tests[i].name, check_current_failures);
        } else {
            passed++;
            printf("PASS %s\n", check_tests[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed || check_test_count == 0 ? 1 : 0;
}
#endif

#endif
