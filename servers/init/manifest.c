/* Boot manifest parser (format in docs/manifest.md). Every check names the line, the token
 * and what is wrong with it; a bad line is left out as a whole. */
#include "manifest.h"
#include <keel/stdio.h>
#include <keel/string.h>

static const char *const keys[] = { "program", "ioports", "irq", "restart", "limit", "priority", "mem", "stack",
                                    "serves", "caps", "uses" };
enum key { K_PROGRAM, K_IOPORTS, K_IRQ, K_RESTART, K_LIMIT, K_PRIORITY, K_MEM, K_STACK, K_SERVES, K_CAPS, K_USES,
           K_COUNT };

static void error(struct manifest *m, unsigned line, const char *fmt, ...) KEEL_PRINTF(3, 4);
static void error(struct manifest *m, unsigned line, const char *fmt, ...)
{
    m->errors_total++;
    if (m->error_count == MANIFEST_MAX_ERRORS)
        return;
    struct manifest_error *e = &m->errors[m->error_count++];
    e->line = line;
    va_list ap;
    va_start(ap, fmt);
    keel_vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

const char *manifest_restart_name(enum restart_policy r)
{
    return r == RESTART_ALWAYS ? "always" : r == RESTART_ON_CRASH ? "on-crash" : "never";
}

/* Decimal or 0x-hexadecimal, the whole string, at most `max`. */
static bool parse_number(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0, base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
            d = (unsigned)((*s | 0x20) - 'a' + 10);
        else
            return false;
        if (d > max || v > (max - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

/* A size: a number with an optional K, M or G suffix, a multiple of 4 KiB within [min, max]. */
static bool parse_size(struct manifest *m, unsigned line, const char *key, const char *v, uint64_t min,
                       uint64_t max, uint64_t *out)
{
    char num[24];
    size_t n = strlen(v);
    unsigned shift = 0;
    if (n && (v[n - 1] | 0x20) == 'k')
        shift = 10;
    else if (n && (v[n - 1] | 0x20) == 'm')
        shift = 20;
    else if (n && (v[n - 1] | 0x20) == 'g')
        shift = 30;
    if (shift)
        n--;
    uint64_t x;
    if (n == 0 || n >= sizeof num) {
        error(m, line, "%s=%s: not a size (a number with an optional K, M or G)", key, v);
        return false;
    }
    memcpy(num, v, n);
    num[n] = 0;
    if (!parse_number(num, max >> shift, &x)) {
        error(m, line, "%s=%s: not a size up to %lluK", key, v, (unsigned long long)(max >> 10));
        return false;
    }
    x <<= shift;
    if (x < min || x > max || x % 4096) {
        error(m, line, "%s=%s: must be a multiple of 4K between %lluK and %lluK", key, v,
              (unsigned long long)(min >> 10), (unsigned long long)(max >> 10));
        return false;
    }
    *out = x;
    return true;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= MANIFEST_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

static bool option(struct manifest *m, struct manifest_entry *e, const char *tok, bool seen[K_COUNT])
{
    const char *eq = strchr(tok, '=');
    size_t klen = (size_t)(eq - tok);
    const char *v = eq + 1;
    int k = -1;
    for (int i = 0; i < K_COUNT; i++)
        if (strlen(keys[i]) == klen && strncmp(tok, keys[i], klen) == 0)
            k = i;
    if (k < 0) {
        error(m, e->line, "unknown key '%.*s' (known: program ioports irq restart limit priority mem stack serves caps uses)",
              (int)klen, tok);
        return false;
    }
    if (!*v) {
        error(m, e->line, "%s= needs a value", keys[k]);
        return false;
    }
    if (seen[k] && k != K_IOPORTS && k != K_IRQ) {
        error(m, e->line, "%s given twice", keys[k]);
        return false;
    }
    seen[k] = true;
    uint64_t x;
    switch (k) {
    case K_PROGRAM:
        if (!name_ok(v)) {
            error(m, e->line, "program=%s: not a module name (letters, digits, _ - ., under %d characters)", v,
                  MANIFEST_NAME_MAX);
            return false;
        }
        memcpy(e->program, v, strlen(v) + 1);
        return true;
    case K_IOPORTS: {
        if (e->ioport_count == MANIFEST_MAX_IOPORTS) {
            error(m, e->line, "ioports=%s: more than %d port ranges", v, MANIFEST_MAX_IOPORTS);
            return false;
        }
        char first[24];
        const char *dash = strchr(v, '-');
        size_t n = dash ? (size_t)(dash - v) : strlen(v);
        uint64_t a, b;
        if (n >= sizeof first) {
            error(m, e->line, "ioports=%s: not a port range (FIRST-LAST or PORT)", v);
            return false;
        }
        memcpy(first, v, n);
        first[n] = 0;
        if (!parse_number(first, 0xffff, &a) || !parse_number(dash ? dash + 1 : first, 0xffff, &b)) {
            error(m, e->line, "ioports=%s: not a port range (FIRST-LAST or PORT, each 0..0xffff)", v);
            return false;
        }
        if (a > b) {
            error(m, e->line, "ioports=%s: first port %#llx above last %#llx", v, (unsigned long long)a,
                  (unsigned long long)b);
            return false;
        }
        e->ioports[e->ioport_count].first = (uint16_t)a;
        e->ioports[e->ioport_count++].last = (uint16_t)b;
        return true;
    }
    case K_IRQ:
        if (!parse_number(v, 15, &x)) {
            error(m, e->line, "irq=%s: not an ISA IRQ line (0..15)", v);
            return false;
        }
        if (x == 2) { /* the PIC cascade: never raised (ISA IRQ 0 usually arrives on GSI 2) */
            error(m, e->line, "irq=2: the cascade line of the legacy PICs, never raised by a device");
            return false;
        }
        for (unsigned i = 0; i < e->irq_count; i++)
            if (e->irqs[i] == x) {
                error(m, e->line, "irq=%s given twice", v);
                return false;
            }
        if (e->irq_count == MANIFEST_MAX_IRQS) {
            error(m, e->line, "irq=%s: more than %d IRQs", v, MANIFEST_MAX_IRQS);
            return false;
        }
        e->irqs[e->irq_count++] = (uint8_t)x;
        return true;
    case K_RESTART:
        if (strcmp(v, "never") == 0)
            e->restart = RESTART_NEVER;
        else if (strcmp(v, "always") == 0)
            e->restart = RESTART_ALWAYS;
        else if (strcmp(v, "on-crash") == 0)
            e->restart = RESTART_ON_CRASH;
        else {
            error(m, e->line, "restart=%s: expected never, always or on-crash", v);
            return false;
        }
        return true;
    case K_LIMIT:
        if (!parse_number(v, MANIFEST_MAX_LIMIT, &x)) {
            error(m, e->line, "limit=%s: expected 0..%d restarts", v, MANIFEST_MAX_LIMIT);
            return false;
        }
        e->limit = (unsigned)x;
        return true;
    case K_PRIORITY:
        if (!parse_number(v, MANIFEST_MAX_PRIORITY, &x)) {
            error(m, e->line, "priority=%s: expected 0..%d", v, MANIFEST_MAX_PRIORITY);
            return false;
        }
        e->priority = (int)x;
        return true;
    case K_SERVES:
        if (!name_ok(v)) {
            error(m, e->line, "serves=%s: not a service name (letters, digits, _ - ., under %d characters)", v,
                  MANIFEST_NAME_MAX);
            return false;
        }
        memcpy(e->serves, v, strlen(v) + 1);
        return true;
    case K_CAPS: /* a comma-separated list: debug, screen */
        for (const char *p = v; *p;) {
            size_t n = strchr(p, ',') ? (size_t)(strchr(p, ',') - p) : strlen(p);
            bool *flag = n == 5 && strncmp(p, "debug", 5) == 0    ? &e->debug_cap
                         : n == 6 && strncmp(p, "screen", 6) == 0 ? &e->screen
                                                                  : 0;
            if (!flag) {
                error(m, e->line, "caps=%s: '%.*s' is not a cap init gives (known: debug, screen)", v, (int)n, p);
                return false;
            }
            if (*flag) {
                error(m, e->line, "caps=%s: '%.*s' given twice", v, (int)n, p);
                return false;
            }
            *flag = true;
            p += n;
            if (*p == ',' && !*++p) {
                error(m, e->line, "caps=%s: empty name after ','", v);
                return false;
            }
        }
        return true;
    case K_USES: /* a comma-separated list of service names */
        for (const char *p = v; *p;) {
            size_t n = strchr(p, ',') ? (size_t)(strchr(p, ',') - p) : strlen(p);
            char name[MANIFEST_NAME_MAX];
            if (n == 0 || n >= sizeof name) {
                error(m, e->line, "uses=%s: '%.*s' is not a service name", v, (int)n, p);
                return false;
            }
            memcpy(name, p, n);
            name[n] = 0;
            if (!name_ok(name)) {
                error(m, e->line, "uses=%s: '%s' is not a service name (letters, digits, _ - .)", v, name);
                return false;
            }
            if (manifest_may_use(e, name)) {
                error(m, e->line, "uses=%s: '%s' given twice", v, name);
                return false;
            }
            if (e->use_count == MANIFEST_MAX_USES) {
                error(m, e->line, "uses=%s: more than %d services", v, MANIFEST_MAX_USES);
                return false;
            }
            memcpy(e->uses[e->use_count++], name, n + 1);
            p += n;
            if (*p == ',' && !*++p) {
                error(m, e->line, "uses=%s: empty name after ','", v);
                return false;
            }
        }
        return true;
    case K_MEM:
        return parse_size(m, e->line, "mem", v, MANIFEST_MIN_MEM, MANIFEST_MAX_MEM, &e->mem);
    default:
        return parse_size(m, e->line, "stack", v, 4096, MANIFEST_MAX_STACK, &e->stack);
    }
}

/* Tokens of one line (comment removed) into e->text; false on a bad line (reported). */
static bool parse_line(struct manifest *m, struct manifest_entry *e, const char *s, size_t len)
{
    const char *tok[MANIFEST_MAX_LINE / 2];
    unsigned ntok = 0;
    size_t at = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == len)
            break;
        tok[ntok++] = e->text + at;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            e->text[at++] = s[i++];
        e->text[at++] = 0;
    }
    if (ntok == 0)
        return false; /* blank: not an error */
    if (strchr(tok[0], '=') || !name_ok(tok[0])) {
        error(m, e->line, "'%s': a line starts with the process name (letters, digits, _ - ., under %d characters)",
              tok[0], MANIFEST_NAME_MAX);
        return false;
    }
    memcpy(e->name, tok[0], strlen(tok[0]) + 1);
    memcpy(e->program, tok[0], strlen(tok[0]) + 1);
    e->restart = RESTART_NEVER;
    e->limit = MANIFEST_DEFAULT_LIMIT;
    e->priority = MANIFEST_DEFAULT_PRIORITY;
    e->mem = MANIFEST_DEFAULT_MEM;
    e->stack = MANIFEST_DEFAULT_STACK;
    e->argv[0] = e->name;
    e->argc = 1;
    bool seen[K_COUNT] = { false };
    unsigned i = 1;
    for (; i < ntok && strchr(tok[i], '=') && strcmp(tok[i], "--") != 0; i++)
        if (!option(m, e, tok[i], seen))
            return false;
    if (i < ntok && strcmp(tok[i], "--") == 0)
        i++;
    for (; i < ntok; i++) {
        if (e->argc == MANIFEST_MAX_ARGS) {
            error(m, e->line, "more than %d arguments", MANIFEST_MAX_ARGS - 1);
            return false;
        }
        e->argv[e->argc++] = tok[i];
    }
    return true;
}

/* Clashes with the entries already accepted. */
static bool check_against(struct manifest *m, const struct manifest_entry *e)
{
    for (unsigned j = 0; j < m->count; j++) {
        const struct manifest_entry *o = &m->entries[j];
        if (strcmp(o->name, e->name) == 0) {
            error(m, e->line, "process name '%s' already used on line %u", e->name, o->line);
            return false;
        }
        if (e->screen && o->screen) {
            error(m, e->line, "caps=screen already given to '%s' (line %u): one process owns the screen", o->name,
                  o->line);
            return false;
        }
        if (e->serves[0] && strcmp(o->serves, e->serves) == 0) {
            error(m, e->line, "service '%s' already served by '%s' (line %u)", e->serves, o->name, o->line);
            return false;
        }
        for (unsigned a = 0; a < e->irq_count; a++)
            for (unsigned b = 0; b < o->irq_count; b++)
                if (e->irqs[a] == o->irqs[b]) {
                    error(m, e->line, "irq=%u already given to '%s' (line %u)", e->irqs[a], o->name, o->line);
                    return false;
                }
        for (unsigned a = 0; a < e->ioport_count; a++)
            for (unsigned b = 0; b < o->ioport_count; b++)
                if (e->ioports[a].first <= o->ioports[b].last && o->ioports[b].first <= e->ioports[a].last) {
                    error(m, e->line, "ioports=%#x-%#x overlap those of '%s' (line %u)", e->ioports[a].first,
                          e->ioports[a].last, o->name, o->line);
                    return false;
                }
    }
    return true;
}

unsigned manifest_parse(struct manifest *m, const char *text, uint64_t size)
{
    memset(m, 0, sizeof *m);
    unsigned line = 0;
    for (uint64_t pos = 0; pos < size && text[pos];) {
        line++;
        uint64_t end = pos;
        while (end < size && text[end] && text[end] != '\n')
            end++;
        uint64_t len = end - pos;
        const char *hash = 0;
        for (uint64_t i = pos; i < end && !hash; i++)
            if (text[i] == '#')
                hash = &text[i];
        if (hash)
            len = (uint64_t)(hash - &text[pos]);
        while (len && (text[pos + len - 1] == '\r' || text[pos + len - 1] == ' ' || text[pos + len - 1] == '\t'))
            len--;
        const char *s = &text[pos];
        pos = end < size && text[end] == '\n' ? end + 1 : end;
        if (len >= MANIFEST_MAX_LINE) {
            error(m, line, "line longer than %d characters", MANIFEST_MAX_LINE - 1);
            continue;
        }
        if (m->count == MANIFEST_MAX_ENTRIES) {
            bool blank = true;
            for (uint64_t i = 0; i < len; i++)
                blank = blank && (s[i] == ' ' || s[i] == '\t');
            if (!blank)
                error(m, line, "more than %d processes", MANIFEST_MAX_ENTRIES);
            continue;
        }
        struct manifest_entry *e = &m->entries[m->count];
        memset(e, 0, sizeof *e);
        e->line = line;
        if (parse_line(m, e, s, len) && check_against(m, e))
            m->count++;
    }
    return m->count;
}

bool manifest_may_use(const struct manifest_entry *e, const char *service)
{
    for (unsigned i = 0; e && i < e->use_count; i++)
        if (strcmp(e->uses[i], service) == 0)
            return true;
    return false;
}
