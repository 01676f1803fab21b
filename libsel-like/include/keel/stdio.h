/* Formatted output. Conversions: %d %i %u %x %X %p %s %c %%, flags '-' '0' '#', a width (digits
 * or '*'), a precision for %s (".N" or ".*"), length modifiers l, ll, z. Output goes to the
 * console sink: by default the kernel console through the program's Log cap (keel_log_cap(), every
 * build); a program without one prints nothing. */
#ifndef KEEL_STDIO_H
#define KEEL_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define KEEL_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Like C's: return the length the full output has (excluding the NUL), even when truncated. */
int keel_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int keel_snprintf(char *buf, size_t size, const char *fmt, ...) KEEL_PRINTF(3, 4);
/* Return the number of characters written. */
int keel_vprintf(const char *fmt, va_list ap);
int keel_printf(const char *fmt, ...) KEEL_PRINTF(1, 2);
/* s and a newline. */
int keel_puts(const char *s);
int keel_putchar(int c);

/* Where console output goes: called with whole lines (or chunks of long ones). NULL restores the
 * default, the Log cap. */
typedef void (*keel_console_fn)(const char *s, size_t n);
void keel_set_console(keel_console_fn fn);

#endif
