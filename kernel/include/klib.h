/* Freestanding helpers shared by the kernel and its host unit tests.
 * The string functions keep their standard names and prototypes so that clang's builtins and a
 * hosted libc agree with them; the kernel links libkeel's implementation (libsel-like/src/string.c). */
#ifndef KEEL_KLIB_H
#define KEEL_KLIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* snprintf subset: %d %i %u %x %X %o %p %s %c %%, flags '-' '0' '+' ' ' '#', width and precision
 * (also '*'), length modifiers hh h l ll z t j. Always NUL-terminates when n > 0 and returns
 * the length the full output would have had. */
int kvsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Parse-error reporting for the pure parsers: a fixed buffer the caller owns. */
struct diag {
    char msg[192];
};
void diag_set(struct diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
