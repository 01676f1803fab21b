/* printf-family formatting into a buffer or the console. One formatter, two sinks. */
#include <keel/invoke.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>
#include <stdbool.h>
#include <stdint.h>

struct sink {
    void (*put)(struct sink *s, char c);
    size_t count;        /* characters produced so far */
    char *buf;           /* snprintf: destination; console: line buffer */
    size_t size;
};

static void emit(struct sink *s, char c)
{
    s->put(s, c);
    s->count++;
}

static void emit_n(struct sink *s, char c, int n)
{
    while (n-- > 0)
        emit(s, c);
}

struct spec {
    bool left, zero, alt;
    int width, prec;     /* prec < 0: none */
};

static void emit_padded(struct sink *s, const struct spec *sp, const char *prefix, const char *body, int len)
{
    int plen = (int)strlen(prefix);
    int zeros = 0;
    if (sp->prec > len)
        zeros = sp->prec - len;
    int total = plen + zeros + len;
    int pad = sp->width > total ? sp->width - total : 0;
    if (sp->zero && !sp->left && sp->prec < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!sp->left)
        emit_n(s, ' ', pad);
    for (int i = 0; i < plen; i++)
        emit(s, prefix[i]);
    emit_n(s, '0', zeros);
    for (int i = 0; i < len; i++)
        emit(s, body[i]);
    if (sp->left)
        emit_n(s, ' ', pad);
}

static void emit_number(struct sink *s, const struct spec *sp, unsigned long long v, bool negative, unsigned base,
                        bool upper, const char *prefix)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = sizeof(tmp);
    do {
        tmp[--n] = digits[v % base];
        v /= base;
    } while (v);
    if (sp->prec == 0 && n == (int)sizeof(tmp) - 1 && tmp[n] == '0')
        n = sizeof(tmp); /* C: precision 0 prints nothing for a zero value */
    emit_padded(s, sp, negative ? "-" : prefix, tmp + n, (int)sizeof(tmp) - n);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(s, *fmt);
            continue;
        }
        const char *start = fmt;
        struct spec sp = { .prec = -1 };
        for (;; fmt++) {
            if (fmt[1] == '-')
                sp.left = true;
            else if (fmt[1] == '0')
                sp.zero = true;
            else if (fmt[1] == '#')
                sp.alt = true;
            else
                break;
        }
        fmt++;
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                sp.width = sp.width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            sp.prec = 0;
            if (*fmt == '*') {
                sp.prec = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    sp.prec = sp.prec * 10 + (*fmt++ - '0');
            }
        }
        int longs = 0;
        bool size_t_arg = false;
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        if (*fmt == 'z') {
            size_t_arg = true;
            fmt++;
        }
        unsigned long long u;
        switch (*fmt) {
        case 'd':
        case 'i': {
            long long v = size_t_arg ? (long long)va_arg(ap, size_t)
                          : longs >= 2 ? va_arg(ap, long long)
                          : longs == 1 ? va_arg(ap, long)
                                       : va_arg(ap, int);
            u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            emit_number(s, &sp, u, v < 0, 10, false, "");
            break;
        }
        case 'u':
        case 'x':
        case 'X':
            u = size_t_arg ? va_arg(ap, size_t)
                : longs >= 2 ? va_arg(ap, unsigned long long)
                : longs == 1 ? va_arg(ap, unsigned long)
                             : va_arg(ap, unsigned int);
            if (*fmt == 'u')
                emit_number(s, &sp, u, false, 10, false, "");
            else
                emit_number(s, &sp, u, false, 16, *fmt == 'X',
                            sp.alt && u ? (*fmt == 'X' ? "0X" : "0x") : "");
            break;
        case 'p':
            emit_number(s, &sp, (uintptr_t)va_arg(ap, void *), false, 16, false, "0x");
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            int len = (int)(sp.prec >= 0 ? strnlen(str, (size_t)sp.prec) : strlen(str));
            sp.prec = -1;
            sp.zero = false;
            emit_padded(s, &sp, "", str, len);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            sp.prec = -1;
            sp.zero = false;
            emit_padded(s, &sp, "", &c, 1);
            break;
        }
        case '%':
            emit(s, '%');
            break;
        default:
            /* Unknown conversion: show it as written so the mistake is visible. */
            for (; start <= fmt && *start; start++)
                emit(s, *start);
            if (!*fmt)
                return;
            break;
        }
    }
}

/* ---- Into a buffer ---- */

static void put_buf(struct sink *s, char c)
{
    if (s->count + 1 < s->size)
        s->buf[s->count] = c;
}

int keel_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = { .put = put_buf, .buf = buf, .size = size };
    format(&s, fmt, ap);
    if (size)
        buf[s.count < size ? s.count : size - 1] = 0;
    return (int)s.count;
}

int keel_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = keel_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- To the console, a line at a time so that threads interleave by lines ---- */

/* The kernel console through the program's Log cap; without one, output goes nowhere (a creator
 * that gives no Log cap wants a silent process). */
static void log_console(const char *str, size_t n)
{
    uint64_t log = keel_log_cap();
    if (log)
        keel_log_write(log, str, n);
}

static keel_console_fn console = log_console;

void keel_set_console(keel_console_fn fn) { console = fn ? fn : log_console; }

struct line_sink {
    struct sink s;
    size_t fill;
    char line[160];
};

static void put_line(struct sink *s, char c)
{
    struct line_sink *l = (struct line_sink *)s;
    l->line[l->fill++] = c;
    if (c == '\n' || l->fill == sizeof(l->line)) {
        console(l->line, l->fill);
        l->fill = 0;
    }
}

int keel_vprintf(const char *fmt, va_list ap)
{
    struct line_sink l = { .s = { .put = put_line } };
    format(&l.s, fmt, ap);
    if (l.fill)
        console(l.line, l.fill);
    return (int)l.s.count;
}

int keel_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = keel_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int keel_puts(const char *s) { return keel_printf("%s\n", s); }

int keel_putchar(int c)
{
    char ch = (char)c;
    console(&ch, 1);
    return (unsigned char)ch;
}
