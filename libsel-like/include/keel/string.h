/* The C library's memory and string functions that freestanding code needs. They keep their
 * standard names because the compiler itself emits calls to memcpy, memset and memmove. */
#ifndef KEEL_STRING_H
#define KEEL_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
/* Copies at most size-1 bytes and always terminates (if size > 0); returns strlen(src). */
size_t strlcpy(char *restrict dst, const char *restrict src, size_t size);

#endif
