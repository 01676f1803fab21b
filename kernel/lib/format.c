/* A small snprintf for the kernel: enough for logs, panics and parse errors. */
#include "klib.h"

struct out {
    char *buf;
    size_t cap;
    size_t len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void put_repeat(struct out *o, char c, int count)
{
    while (count-- > 0)
        put(o, c);
}

struct spec {
    bool left, zero, plus, space, alt;
    int width;
    int precision; /* -1: none */
};

static void put_padded(struct out *o, const struct spec *sp, const char *prefix, const char *body,
                       int body_len)
{
    int prefix_len = (int)strlen(prefix);
    int digits = body_len;
    int zeros = 0;
    if (sp->precision >= 0 && sp->precision > digits)
        zeros = sp->precision - digits;
    int total = prefix_len + zeros + digits;
    int pad = sp->width > total ? sp->width - total : 0;
    if (sp->zero && !sp->left && sp->precision < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!sp->left)
        put_repeat(o, ' ', pad);
    for (int i = 0; i < prefix_len; i++)
        put(o, prefix[i]);
    put_repeat(o, '0', zeros);
    for (int i = 0; i < digits; i++)
        put(o, body[i]);
    if (sp->left)
        put_repeat(o, ' ', pad);
}

static void put_unsigned(struct out *o, const struct spec *sp, uint64_t v, unsigned base, bool upper,
                         const char *prefix)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (sp->precision == 0 && n == 1 && tmp[0] == '0')
        n = 0; /* "%.0d" of zero prints nothing, as in C */
    char body[24];
    for (int i = 0; i < n; i++)
        body[i] = tmp[n - 1 - i];
    put_padded(o, sp, prefix, body, n);
}

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE };

static uint64_t fetch_unsigned(va_list *ap, enum length len)
{
    switch (len) {
    case LEN_CHAR: return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_SHORT: return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_LONG: return va_arg(*ap, unsigned long);
    case LEN_LLONG: return va_arg(*ap, unsigned long long);
    case LEN_SIZE: return va_arg(*ap, size_t);
    default: return va_arg(*ap, unsigned int);
    }
}

static int64_t fetch_signed(va_list *ap, enum length len)
{
    switch (len) {
    case LEN_CHAR: return (signed char)va_arg(*ap, int);
    case LEN_SHORT: return (short)va_arg(*ap, int);
    case LEN_LONG: return va_arg(*ap, long);
    case LEN_LLONG: return va_arg(*ap, long long);
    case LEN_SIZE: return va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, int);
    }
}

int kvsnprintf(char *buf, size_t n, const char *fmt, va_list args)
{
    struct out o = { buf, n, 0 };
    va_list ap;
    va_copy(ap, args);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        struct spec sp = { .precision = -1 };
        for (;; p++) {
            if (p[1] == '-') sp.left = true;
            else if (p[1] == '0') sp.zero = true;
            else if (p[1] == '+') sp.plus = true;
            else if (p[1] == ' ') sp.space = true;
            else if (p[1] == '#') sp.alt = true;
            else break;
        }
        p++;
        if (*p == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                sp.width = sp.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            sp.precision = 0;
            if (*p == '*') {
                sp.precision = va_arg(ap, int);
                p++;
            } else {
                while (*p >= '0' && *p <= '9')
                    sp.precision = sp.precision * 10 + (*p++ - '0');
            }
        }
        enum length len = LEN_INT;
        if (*p == 'h') {
            len = LEN_SHORT;
            if (*++p == 'h') {
                len = LEN_CHAR;
                p++;
            }
        } else if (*p == 'l') {
            len = LEN_LONG;
            if (*++p == 'l') {
                len = LEN_LLONG;
                p++;
            }
        } else if (*p == 'z' || *p == 't' || *p == 'j') {
            len = *p == 'j' ? LEN_LLONG : LEN_SIZE;
            p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = fetch_signed(&ap, len);
            const char *sign = v < 0 ? "-" : sp.plus ? "+" : sp.space ? " " : "";
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_unsigned(&o, &sp, mag, 10, false, sign);
            break;
        }
        case 'u': put_unsigned(&o, &sp, fetch_unsigned(&ap, len), 10, false, ""); break;
        case 'o': put_unsigned(&o, &sp, fetch_unsigned(&ap, len), 8, false, ""); break;
        case 'x':
        case 'X': {
            uint64_t v = fetch_unsigned(&ap, len);
            const char *prefix = sp.alt && v ? (*p == 'x' ? "0x" : "0X") : "";
            put_unsigned(&o, &sp, v, 16, *p == 'X', prefix);
            break;
        }
        case 'p': {
            struct spec ps = sp;
            ps.zero = false;
            put_unsigned(&o, &ps, (uintptr_t)va_arg(ap, void *), 16, false, "0x");
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            struct spec cs = sp;
            cs.precision = -1;
            cs.zero = false;
            put_padded(&o, &cs, "", &c, 1);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int slen = (int)(sp.precision >= 0 ? strnlen(s, (size_t)sp.precision) : strlen(s));
            struct spec ss = sp;
            ss.precision = -1;
            ss.zero = false;
            put_padded(&o, &ss, "", s, slen);
            break;
        }
        case '%': put(&o, '%'); break;
        case '\0': p--; break; /* a lone '%' at the end prints nothing */
        default:
            /* Unknown conversion: print it verbatim so the mistake is visible. */
            put(&o, '%');
            put(&o, *p);
            break;
        }
    }
    va_end(ap);
    if (n)
        buf[o.len < n ? o.len : n - 1] = '\0';
    return (int)o.len;
}

int ksnprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = kvsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

void diag_set(struct diag *d, const char *fmt, ...)
{
    if (!d)
        return;
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
}
