/* manifest_parse (servers/init/manifest.c): the boot manifest init reads. What it accepts is what
 * init hands out (ports, IRQs, memory, caps), so each accepted entry is checked against the
 * format's rules (servers/init/README.md) and against the other entries. */
#include "fuzz_assert.h"
#include "manifest.h"
#include <keel/string.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* manifest.c formats its messages with libkeel's printf; the host's does the same job. */
int keel_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int keel_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) { return vsnprintf(buf, size, fmt, ap); }

static bool name_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == 0 || n == cap)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

static bool size_ok(uint64_t v, uint64_t min, uint64_t max) { return v >= min && v <= max && v % 4096 == 0; }

static void check_entry(const struct manifest_entry *e)
{
    FUZZ_ASSERT(e->line >= 1);
    FUZZ_ASSERT(name_ok(e->name, sizeof e->name) && name_ok(e->program, sizeof e->program));
    FUZZ_ASSERT(e->serves[0] == 0 || name_ok(e->serves, sizeof e->serves));
    FUZZ_ASSERT(e->ioport_count <= MANIFEST_MAX_IOPORTS);
    for (unsigned i = 0; i < e->ioport_count; i++)
        FUZZ_ASSERT(e->ioports[i].first <= e->ioports[i].last);
    FUZZ_ASSERT(e->irq_count <= MANIFEST_MAX_IRQS);
    for (unsigned i = 0; i < e->irq_count; i++) {
        FUZZ_ASSERT(e->irqs[i] <= 15 && e->irqs[i] != 2);
        for (unsigned j = 0; j < i; j++)
            FUZZ_ASSERT(e->irqs[i] != e->irqs[j]);
    }
    FUZZ_ASSERT(e->restart == RESTART_NEVER || e->restart == RESTART_ALWAYS || e->restart == RESTART_ON_CRASH);
    FUZZ_ASSERT(e->limit <= MANIFEST_MAX_LIMIT);
    FUZZ_ASSERT(e->priority >= 0 && e->priority <= MANIFEST_MAX_PRIORITY);
    FUZZ_ASSERT(size_ok(e->mem, MANIFEST_MIN_MEM, MANIFEST_MAX_MEM));
    FUZZ_ASSERT(size_ok(e->stack, 4096, MANIFEST_MAX_STACK));
    FUZZ_ASSERT(e->use_count <= MANIFEST_MAX_USES);
    for (unsigned i = 0; i < e->use_count; i++) {
        FUZZ_ASSERT(name_ok(e->uses[i], sizeof e->uses[i]));
        FUZZ_ASSERT(manifest_may_use(e, e->uses[i]));
        for (unsigned j = 0; j < i; j++)
            FUZZ_ASSERT(strcmp(e->uses[i], e->uses[j]) != 0);
    }
    /* argv[0] is the name; the others are NUL-terminated words inside e->text. */
    FUZZ_ASSERT(e->argc >= 1 && e->argc <= MANIFEST_MAX_ARGS && e->argv[0] == e->name);
    for (unsigned i = 1; i < e->argc; i++) {
        const char *a = e->argv[i];
        FUZZ_ASSERT(a >= e->text && a < e->text + sizeof e->text);
        size_t room = (size_t)(e->text + sizeof e->text - a);
        size_t n = strnlen(a, room);
        FUZZ_ASSERT(n > 0 && n < room && !strchr(a, ' ') && !strchr(a, '\t') && !strchr(a, '#'));
    }
}

/* What init relies on across processes: one owner per name, service, IRQ, port and the screen. */
static void check_pair(const struct manifest_entry *a, const struct manifest_entry *b)
{
    FUZZ_ASSERT(a->line < b->line);
    FUZZ_ASSERT(strcmp(a->name, b->name) != 0);
    FUZZ_ASSERT(!(a->screen && b->screen));
    FUZZ_ASSERT(a->serves[0] == 0 || strcmp(a->serves, b->serves) != 0);
    for (unsigned i = 0; i < a->irq_count; i++)
        for (unsigned j = 0; j < b->irq_count; j++)
            FUZZ_ASSERT(a->irqs[i] != b->irqs[j]);
    for (unsigned i = 0; i < a->ioport_count; i++)
        for (unsigned j = 0; j < b->ioport_count; j++)
            FUZZ_ASSERT(a->ioports[i].last < b->ioports[j].first || b->ioports[j].last < a->ioports[i].first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct manifest m;
    unsigned count = manifest_parse(&m, (const char *)data, size);
    FUZZ_ASSERT(count == m.count && count <= MANIFEST_MAX_ENTRIES);
    FUZZ_ASSERT(m.error_count <= MANIFEST_MAX_ERRORS && m.error_count <= m.errors_total);
    FUZZ_ASSERT(m.error_count == m.errors_total || m.error_count == MANIFEST_MAX_ERRORS);
    for (unsigned i = 0; i < m.error_count; i++) {
        FUZZ_ASSERT(m.errors[i].line >= 1);
        FUZZ_ASSERT_TERMINATED(m.errors[i].msg, sizeof m.errors[i].msg);
        FUZZ_ASSERT(m.errors[i].msg[0] != 0);
    }
    for (unsigned i = 0; i < count; i++) {
        check_entry(&m.entries[i]);
        for (unsigned j = i + 1; j < count; j++)
            check_pair(&m.entries[i], &m.entries[j]);
    }
    return 0;
}
