/* Kernel log: serial (COM1) and the boot console, filtered by level (cmdline log=...). */
#ifndef KEEL_LOG_H
#define KEEL_LOG_H

#include "cmdline.h"
#include "klib.h"

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void klog(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kvlog(enum log_level level, const char *fmt, va_list ap);
/* Unfiltered output, used by panic and the test harness. */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_write(const char *s, size_t n);

#define log_error(...) klog(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) klog(LOG_WARN, __VA_ARGS__)
#define log_info(...) klog(LOG_INFO, __VA_ARGS__)
#define log_debug(...) klog(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) klog(LOG_TRACE, __VA_ARGS__)

#endif
