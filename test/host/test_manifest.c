/* init's boot manifest parser (servers/init/manifest.c): defaults, every key, arguments, and a
 * precise message for each kind of bad line (which is left out while the good ones stand). */
#define CHECK_MAIN
#include "check.h"
#include "manifest.h"

/* manifest.c formats its messages with libkeel's printf; the host's does the same job. */
int keel_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int keel_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) { return vsnprintf(buf, size, fmt, ap); }

static struct manifest m;

static unsigned parse(const char *text) { return manifest_parse(&m, text, strlen(text)); }

/* The one error of a text with one bad line. */
static const char *only_error(const char *text, unsigned *line)
{
    parse(text);
    if (m.error_count != 1)
        return "(not exactly one error)";
    *line = m.errors[0].line;
    return m.errors[0].msg;
}

#define CHECK_BAD(text, want_line, want_msg)                                                       \
    do {                                                                                           \
        unsigned line_ = 0;                                                                        \
        CHECK_STR_CONTAINS(only_error(text, &line_), want_msg);                                    \
        CHECK_EQ_U64(line_, want_line);                                                            \
    } while (0)

TEST(defaults_for_a_bare_name)
{
    CHECK_EQ_U64(parse("hello\n"), 1);
    const struct manifest_entry *e = &m.entries[0];
    CHECK_EQ_STR(e->name, "hello");
    CHECK_EQ_STR(e->program, "hello");
    CHECK_EQ_U64(e->line, 1);
    CHECK_EQ_U64(e->restart, RESTART_NEVER);
    CHECK_EQ_U64(e->limit, MANIFEST_DEFAULT_LIMIT);
    CHECK_EQ_U64(e->priority, MANIFEST_DEFAULT_PRIORITY);
    CHECK_EQ_U64(e->mem, MANIFEST_DEFAULT_MEM);
    CHECK_EQ_U64(e->stack, MANIFEST_DEFAULT_STACK);
    CHECK_EQ_U64(e->ioport_count + e->irq_count, 0);
    CHECK_EQ_U64(e->argc, 1);
    CHECK_EQ_STR(e->argv[0], "hello");
    CHECK_EQ_U64(m.errors_total, 0);
}

TEST(every_key_and_arguments)
{
    CHECK_EQ_U64(parse("# drivers\n\n  serial   program=uart ioports=0x3f8-0x3ff ioports=0x2f8 irq=4 irq=3 "
                       "restart=on-crash limit=5 priority=200 mem=2M stack=16K --speed 9600 x=y  # note\r\n"),
                 1);
    const struct manifest_entry *e = &m.entries[0];
    CHECK_EQ_U64(e->line, 3);
    CHECK_EQ_STR(e->name, "serial");
    CHECK_EQ_STR(e->program, "uart");
    CHECK_EQ_U64(e->ioport_count, 2);
    CHECK_EQ_U64(e->ioports[0].first, 0x3f8);
    CHECK_EQ_U64(e->ioports[0].last, 0x3ff);
    CHECK_EQ_U64(e->ioports[1].first, 0x2f8);
    CHECK_EQ_U64(e->ioports[1].last, 0x2f8);
    CHECK_EQ_U64(e->irq_count, 2);
    CHECK_EQ_U64(e->irqs[0], 4);
    CHECK_EQ_U64(e->irqs[1], 3);
    CHECK_EQ_U64(e->restart, RESTART_ON_CRASH);
    CHECK_EQ_U64(e->limit, 5);
    CHECK_EQ_U64(e->priority, 200);
    CHECK_EQ_U64(e->mem, 2ull << 20);
    CHECK_EQ_U64(e->stack, 16 * 1024);
    /* "--" ends the options: what follows is arguments even with '='. */
    CHECK_EQ_U64(e->argc, 4);
    CHECK_EQ_STR(e->argv[1], "--speed");
    CHECK_EQ_STR(e->argv[2], "9600");
    CHECK_EQ_STR(e->argv[3], "x=y");
    CHECK_EQ_U64(m.errors_total, 0);
}

TEST(arguments_start_at_the_first_plain_word)
{
    CHECK_EQ_U64(parse("hello restart=always greetings a=b\n"), 1);
    const struct manifest_entry *e = &m.entries[0];
    CHECK_EQ_U64(e->restart, RESTART_ALWAYS);
    CHECK_EQ_U64(e->argc, 3);
    CHECK_EQ_STR(e->argv[1], "greetings");
    CHECK_EQ_STR(e->argv[2], "a=b");
}

TEST(bad_values_are_named)
{
    CHECK_BAD("a\nb restrat=always\n", 2, "unknown key 'restrat'");
    CHECK_BAD("b irq=16\n", 1, "irq=16: not an ISA IRQ line (0..15)");
    CHECK_BAD("b irq=4 irq=4\n", 1, "irq=4 given twice");
    CHECK_BAD("b irq=1 irq=3 irq=4\n", 1, "more than 2 IRQs");
    CHECK_BAD("b ioports=0x3ff-0x3f8\n", 1, "first port 0x3ff above last 0x3f8");
    CHECK_BAD("b ioports=0x10000\n", 1, "ioports=0x10000: not a port range");
    CHECK_BAD("b ioports=0x3f8-\n", 1, "ioports=0x3f8-: not a port range");
    CHECK_BAD("b ioports=1 ioports=2 ioports=3 ioports=4 ioports=5\n", 1, "more than 4 port ranges");
    CHECK_BAD("b restart=sometimes\n", 1, "restart=sometimes: expected never, always or on-crash");
    CHECK_BAD("b restart=never restart=always\n", 1, "restart given twice");
    CHECK_BAD("b limit=101\n", 1, "limit=101: expected 0..100");
    CHECK_BAD("b priority=255\n", 1, "priority=255: expected 0..254");
    CHECK_BAD("b mem=3000\n", 1, "mem=3000: must be a multiple of 4K");
    CHECK_BAD("b mem=1G\n", 1, "mem=1G: not a size up to 262144K");
    CHECK_BAD("b mem=12Q\n", 1, "mem=12Q: not a size up to");
    CHECK_BAD("b stack=0\n", 1, "stack=0: must be a multiple of 4K between 4K and 8192K");
    CHECK_BAD("b irq=\n", 1, "irq= needs a value");
    CHECK_BAD("b program=a/b\n", 1, "program=a/b: not a module name");
    CHECK_BAD("irq=4 hello\n", 1, "'irq=4': a line starts with the process name");
    CHECK_BAD("na!me\n", 1, "'na!me': a line starts with the process name");
    CHECK_BAD("b 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", 1, "more than 15 arguments");
}

TEST(clashes_between_lines)
{
    CHECK_BAD("serial irq=4\nhello\nserial\n", 3, "process name 'serial' already used on line 1");
    CHECK_BAD("serial irq=4\nmouse irq=4\n", 2, "irq=4 already given to 'serial' (line 1)");
    CHECK_BAD("serial ioports=0x3f8-0x3ff\nother ioports=0x3fc-0x400\n", 2,
              "ioports=0x3fc-0x400 overlap those of 'serial' (line 1)");
    CHECK_EQ_U64(m.count, 1); /* the good line stays */
}

TEST(caps_lists)
{
    CHECK_EQ_U64(parse("console caps=screen\nshell caps=debug\nboth caps=debug,screen\n"), 2);
    CHECK(m.entries[0].screen && !m.entries[0].debug_cap);
    CHECK(m.entries[1].debug_cap && !m.entries[1].screen);
    CHECK_STR_CONTAINS(m.errors[0].msg, "caps=screen already given to 'console' (line 1)");
    CHECK_EQ_U64(parse("both caps=screen,debug\n"), 1);
    CHECK(m.entries[0].screen && m.entries[0].debug_cap);
    CHECK_BAD("b caps=tlb\n", 1, "caps=tlb: 'tlb' is not a cap init gives (known: debug, screen)");
    CHECK_BAD("b caps=debug,\n", 1, "caps=debug,: empty name after ','");
    CHECK_BAD("b caps=screen,screen\n", 1, "caps=screen,screen: 'screen' given twice");
    CHECK_BAD("b caps=,debug\n", 1, "'' is not a cap init gives");
}

TEST(irq_2_is_the_cascade)
{
    CHECK_BAD("timer irq=2\n", 1, "irq=2: the cascade line of the legacy PICs");
    CHECK_EQ_U64(parse("a irq=0\nb irq=9\n"), 2);
}

TEST(uses_lists)
{
    CHECK_EQ_U64(parse("shell uses=serial,keyboard,console\nhello\n"), 2);
    const struct manifest_entry *e = &m.entries[0];
    CHECK_EQ_U64(e->use_count, 3);
    CHECK(manifest_may_use(e, "serial") && manifest_may_use(e, "keyboard") && manifest_may_use(e, "console"));
    CHECK(!manifest_may_use(e, "null"));
    CHECK(!manifest_may_use(e, "seria")); /* whole names only */
    CHECK(!manifest_may_use(&m.entries[1], "serial")); /* no uses=: nothing */
    CHECK(!manifest_may_use(NULL, "serial"));
    CHECK_BAD("a uses=serial,serial\n", 1, "uses=serial,serial: 'serial' given twice");
    CHECK_BAD("a uses=serial,\n", 1, "uses=serial,: empty name after ','");
    CHECK_BAD("a uses=,serial\n", 1, "uses=,serial: '' is not a service name");
    CHECK_BAD("a uses=se/rial\n", 1, "uses=se/rial: 'se/rial' is not a service name");
    CHECK_BAD("a uses=a,b,c,d,e\n", 1, "uses=a,b,c,d,e: more than 4 services");
    CHECK_BAD("a uses=x uses=y\n", 1, "uses given twice");
    CHECK_BAD("a uses=\n", 1, "uses= needs a value");
}

TEST(limits_of_the_file)
{
    char text[4096] = "";
    for (int i = 0; i < MANIFEST_MAX_ENTRIES + 2; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "p%d\n", i);
    CHECK_EQ_U64(parse(text), MANIFEST_MAX_ENTRIES);
    CHECK_EQ_U64(m.errors_total, 2);
    CHECK_STR_CONTAINS(m.errors[0].msg, "more than 16 processes");
    CHECK_EQ_U64(m.errors[0].line, MANIFEST_MAX_ENTRIES + 1);

    char longline[400];
    memset(longline, 'a', sizeof longline);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = 0;
    CHECK_BAD(longline, 1, "line longer than 255 characters");

    /* Text ends at a NUL or at the size given, with or without a final newline. */
    CHECK_EQ_U64(manifest_parse(&m, "one\ntwo", 7), 2);
    CHECK_EQ_U64(manifest_parse(&m, "one\ntwo", 5), 2);
    CHECK_EQ_STR(m.entries[1].name, "t");
    CHECK_EQ_U64(manifest_parse(&m, "one\0two\n", 8), 1);
    CHECK_EQ_U64(parse("# only a comment\n\n   \n\t# another\n"), 0);
    CHECK_EQ_U64(m.errors_total, 0);
}
