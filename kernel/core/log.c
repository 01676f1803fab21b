/* The kernel log. Lines are formatted into a stack buffer and written whole, so a log line is
 * never interleaved with another (once SMP lands, a lock goes around console_write). */
#include "log.h"
#include "console.h"

static enum log_level current_level = LOG_INFO;

static const char *const level_prefix[] = {
    [LOG_ERROR] = "error: ", [LOG_WARN] = "warning: ", [LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
    [LOG_TRACE] = "trace: ",
};

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }

/* Set once the root task owns the screen; read by every CPU that logs, hence the atomics. */
static bool screen_released;

void console_write(const char *s, size_t n)
{
    serial_write(s, n);
    if (__atomic_load_n(&screen_released, __ATOMIC_ACQUIRE))
        return;
    vga_write(s, n);
    fb_write(s, n);
}

void console_release_screen(void) { __atomic_store_n(&screen_released, true, __ATOMIC_RELEASE); }

void console_reclaim_screen(void)
{
    if (!__atomic_exchange_n(&screen_released, false, __ATOMIC_ACQ_REL))
        return;
    /* Whatever userspace drew is still there, and the kernel's cursor is stale: start on a blank
     * screen so the panic report is readable from its first line. */
    vga_clear();
    fb_clear();
}

void console_set_colour(uint8_t attr)
{
    vga_set_colour(attr);
    fb_set_colour(attr);
}

/* klog lines get their newline here; kprintf output is written as given. */
static void emit(const char *prefix, const char *fmt, va_list ap, bool newline)
{
    char line[512];
    int len = ksnprintf(line, sizeof line, "%s", prefix);
    int body = kvsnprintf(line + len, sizeof line - 1 - (size_t)len, fmt, ap);
    size_t total = (size_t)len + (size_t)body;
    if (total > sizeof line - 2)
        total = sizeof line - 2;
    if (newline)
        line[total++] = '\n';
    console_write(line, total);
}

void kvlog(enum log_level level, const char *fmt, va_list ap)
{
    if (level > current_level)
        return;
    emit(level_prefix[level], fmt, ap, true);
}

void klog(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvlog(level, fmt, ap);
    va_end(ap);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap, false);
    va_end(ap);
}
