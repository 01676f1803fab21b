/* kvsnprintf/ksnprintf/diag_set: the kernel's only formatter, used for every log line. */
#define CHECK_MAIN
#include "check.h"
#include "klib.h"

#include <limits.h>

static char buf[256];

/* Formats with ksnprintf and checks both the text and the returned length. */
#define FMT_IS(expected, ...)                                                                      \
    do {                                                                                           \
        int r_ = ksnprintf(buf, sizeof buf, __VA_ARGS__);                                          \
        CHECK_EQ_STR(buf, expected);                                                               \
        CHECK_EQ_U64(r_, strlen(expected));                                                        \
    } while (0)

/* Unchecked by the compiler: for formats its format check rightly dislikes (int passed to %hhd,
 * '0' with '-') but whose behaviour we still define. */
static int fmt_dyn(char *b, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = kvsnprintf(b, n, fmt, ap);
    va_end(ap);
    return r;
}

#define FMT_DYN_IS(expected, ...)                                                                  \
    do {                                                                                           \
        int r_ = fmt_dyn(buf, sizeof buf, __VA_ARGS__);                                            \
        CHECK_EQ_STR(buf, expected);                                                               \
        CHECK_EQ_U64(r_, strlen(expected));                                                        \
    } while (0)

/* Same format through the host libc for conversions where C fully defines the result. */
#define SAME_AS_LIBC(...)                                                                          \
    do {                                                                                           \
        char ours_[128], libc_[128];                                                               \
        int a_ = ksnprintf(ours_, sizeof ours_, __VA_ARGS__);                                      \
        int b_ = snprintf(libc_, sizeof libc_, __VA_ARGS__);                                       \
        CHECK_EQ_STR(ours_, libc_);                                                                \
        CHECK_EQ_U64(a_, b_);                                                                      \
    } while (0)

TEST(plain_text_and_percent)
{
    FMT_IS("", "%s", "");
    FMT_IS("hello", "hello");
    FMT_IS("100%", "100%%");
    FMT_IS("a%b", "a%%b");
}

TEST(signed_decimal)
{
    FMT_IS("0", "%d", 0);
    FMT_IS("-1", "%d", -1);
    FMT_IS("42", "%i", 42);
    FMT_IS("2147483647", "%d", INT_MAX);
    FMT_IS("-2147483648", "%d", INT_MIN);
    FMT_IS("-9223372036854775808", "%lld", (long long)INT64_MIN);
    FMT_IS("9223372036854775807", "%lld", (long long)INT64_MAX);
    FMT_IS("-9223372036854775808", "%ld", (long)INT64_MIN);
}

TEST(unsigned_octal_hex)
{
    FMT_IS("4294967295", "%u", UINT_MAX);
    FMT_IS("18446744073709551615", "%llu", (unsigned long long)UINT64_MAX);
    FMT_IS("ffffffffffffffff", "%llx", (unsigned long long)UINT64_MAX);
    FMT_IS("FFFFFFFFFFFFFFFF", "%llX", (unsigned long long)UINT64_MAX);
    FMT_IS("deadbeefcafebabe", "%lx", 0xdeadbeefcafebabeul);
    FMT_IS("ffffffff80000000", "%lx", 0xffffffff80000000ul);
    FMT_IS("0", "%x", 0u);
    FMT_IS("10", "%o", 8u);
    FMT_IS("1777777777777777777777", "%llo", (unsigned long long)UINT64_MAX);
    FMT_IS("7fe1234", "%x", 0x7fe1234u);
}

TEST(length_modifiers)
{
    FMT_DYN_IS("1", "%hhd", 257);
    FMT_DYN_IS("-1", "%hhd", 255);
    FMT_DYN_IS("255", "%hhu", -1);
    FMT_DYN_IS("1", "%hd", 65537);
    FMT_DYN_IS("65535", "%hu", -1);
    FMT_IS("18446744073709551615", "%zu", SIZE_MAX);
    FMT_IS("-5", "%td", (ptrdiff_t)-5);
    FMT_IS("-9223372036854775808", "%jd", INTMAX_MIN);
    FMT_IS("ffffffffffffffff", "%jx", UINTMAX_MAX);
}

TEST(width_and_flags)
{
    FMT_IS("   42", "%5d", 42);
    FMT_IS("42   |", "%-5d|", 42);
    FMT_IS("00042", "%05d", 42);
    FMT_IS("-0042", "%05d", -42);
    FMT_IS("+5", "%+d", 5);
    FMT_IS("-5", "%+d", -5);
    FMT_IS(" 5", "% d", 5);
    FMT_DYN_IS("+5", "%+ d", 5);
    FMT_DYN_IS("42   ", "%-05d", 42);
    FMT_IS("0x00ff", "0x%04x", 0xffu);
    FMT_IS("42", "%1d", 42);
    FMT_IS("    x", "%5c", 'x');
    FMT_IS("x    |", "%-5c|", 'x');
    FMT_IS("   ab", "%5s", "ab");
    FMT_IS("ab   |", "%-5s|", "ab");
    FMT_DYN_IS("   ab", "%05s", "ab"); /* '0' does not apply to strings */
}

TEST(precision)
{
    FMT_IS("042", "%.3d", 42);
    FMT_IS("  042", "%5.3d", 42);
    FMT_IS("-042", "%.3d", -42);
    FMT_IS("  042", "%05.3d", 42); /* a precision disables '0' */
    FMT_IS("", "%.0d", 0);
    FMT_IS("   ", "%3.0d", 0);
    FMT_IS("|", "%.0d|", 0);
    FMT_IS("0", "%.1d", 0);
    FMT_IS("he", "%.2s", "hello");
    FMT_IS("   he", "%5.2s", "hello");
    FMT_IS("hello", "%.9s", "hello");
    FMT_IS("", "%.0s", "hello");
}

TEST(star_width_and_precision)
{
    FMT_IS("   42", "%*d", 5, 42);
    FMT_IS("42   |", "%*d|", -5, 42); /* negative width means left-justify */
    FMT_IS("042", "%.*d", 3, 42);
    FMT_IS("42", "%.*d", -1, 42); /* negative precision means none */
    FMT_IS("hel", "%.*s", 3, "hello");
    FMT_IS("  hel", "%*.*s", 5, 3, "hello");
}

TEST(strings_chars_pointers)
{
    FMT_IS("(null)", "%s", (const char *)NULL);
    FMT_IS("  (null)", "%8s", (const char *)NULL);
    FMT_IS("abc", "%c%c%c", 'a', 'b', 'c');
    FMT_IS("0x0", "%p", (void *)0);
    FMT_IS("0xdeadbeef", "%p", (void *)(uintptr_t)0xdeadbeef);
    FMT_IS("0xffffffff80001000", "%p", (void *)(uintptr_t)0xffffffff80001000ull);
    FMT_IS("       0x10", "%11p", (void *)(uintptr_t)0x10);
}

TEST(unknown_conversion_and_lone_percent)
{
    /* An unknown conversion is printed verbatim so the mistake shows in the log. */
    char b[32];
    const char *bad = "a%qb"; /* a variable, so the compiler's format check stays quiet */
    int r = ksnprintf(b, sizeof b, bad, 1);
    CHECK_EQ_STR(b, "a%qb");
    CHECK_EQ_U64(r, 4);
    const char *lone = "end%";
    r = ksnprintf(b, sizeof b, lone, 0);
    CHECK_EQ_STR(b, "end");
    CHECK_EQ_U64(r, 3);
}

TEST(truncation_and_return_value)
{
    char b[8];
    memset(b, 'X', sizeof b);
    int r = ksnprintf(b, sizeof b, "hello world %d", 12345);
    CHECK_EQ_U64(r, 17);
    CHECK_EQ_STR(b, "hello w");
    memset(b, 'X', sizeof b);
    r = ksnprintf(b, 1, "abc");
    CHECK_EQ_U64(r, 3);
    CHECK_EQ_U64(b[0], 0);
    CHECK_EQ_U64((unsigned char)b[1], 'X'); /* nothing written past n */
    r = ksnprintf(NULL, 0, "%d-%s", 123, "abcd");
    CHECK_EQ_U64(r, 8);
    memset(b, 'X', sizeof b);
    r = ksnprintf(b, 4, "%lld", (long long)INT64_MIN);
    CHECK_EQ_U64(r, 20);
    CHECK_EQ_STR(b, "-92");
    r = ksnprintf(b, sizeof b, "1234567");
    CHECK_EQ_U64(r, 7);
    CHECK_EQ_STR(b, "1234567"); /* exactly fills, NUL included */
    r = ksnprintf(b, sizeof b, "%8s", "x");
    CHECK_EQ_U64(r, 8);
    CHECK_EQ_STR(b, "       ");
}

static int via_va_list(char *b, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int via_va_list(char *b, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = kvsnprintf(b, n, fmt, ap);
    va_end(ap);
    return r;
}

TEST(kvsnprintf_leaves_caller_va_list_usable)
{
    char b[64];
    int r = via_va_list(b, sizeof b, "%s=%u %llx", "x", 7u, 0x123456789abcull);
    CHECK_EQ_STR(b, "x=7 123456789abc");
    CHECK_EQ_U64(r, 16);
}

TEST(matches_libc_for_standard_conversions)
{
    SAME_AS_LIBC("%d|%5d|%-5d|%05d|%+d|% d", -17, -17, -17, -17, 17, 17);
    SAME_AS_LIBC("%u|%x|%X|%o", 3000000000u, 0xabcdefu, 0xabcdefu, 0777u);
    SAME_AS_LIBC("%.5d|%8.5d|%-8.5d|%.0d|%5.0d", 123, -123, 123, 0, 0);
    SAME_AS_LIBC("%lld|%llu|%llx", (long long)INT64_MIN, (unsigned long long)UINT64_MAX,
                 (unsigned long long)UINT64_MAX);
    SAME_AS_LIBC("%hhd|%hhu|%hd|%hu", (signed char)-3, (unsigned char)200, (short)-300,
                 (unsigned short)60000);
    SAME_AS_LIBC("%zu|%zx|%td|%jd", (size_t)12345, (size_t)0xfff, (ptrdiff_t)-99, (intmax_t)-7);
    SAME_AS_LIBC("%s|%10s|%-10s|%.3s|%10.3s", "abcdef", "abcdef", "abc", "abcdef", "abcdef");
    SAME_AS_LIBC("%c|%3c|%-3c|", 'q', 'q', 'q');
    SAME_AS_LIBC("%*d|%-*d|%.*d", 6, 42, 6, 42, 4, 42);
    SAME_AS_LIBC("%08x|%-8x|%8.4x", 0xbeefu, 0xbeefu, 0xbeu);
    SAME_AS_LIBC("%%|%d%%", 1);
}

TEST(diag_set_formats_and_truncates)
{
    struct diag d;
    diag_set(&d, "tag %u at 0x%x", 6u, 0x58u);
    CHECK_EQ_STR(d.msg, "tag 6 at 0x58");
    char long_word[400];
    memset(long_word, 'a', sizeof long_word - 1);
    long_word[sizeof long_word - 1] = '\0';
    diag_set(&d, "%s", long_word);
    CHECK_EQ_U64(strlen(d.msg), sizeof d.msg - 1);
    diag_set(NULL, "ignored %d", 1); /* NULL diag is allowed */
}
