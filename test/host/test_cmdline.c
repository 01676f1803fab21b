/* cmdline_parse: every option, every kind of bad word, and message joining/truncation. */
#define CHECK_MAIN
#include "check.h"
#include "cmdline.h"

static struct kernel_options o;
static struct diag d;

static int parse(const char *s)
{
    cmdline_defaults(&o);
    return cmdline_parse(s, &o, &d);
}

static void check_defaults(void)
{
    CHECK_EQ_U64(o.log_level, LOG_INFO);
    CHECK_EQ_U64(o.pcid, (uint64_t)TRI_AUTO);
    CHECK_EQ_U64(o.invpcid, (uint64_t)TRI_AUTO);
    CHECK_EQ_U64(o.pku, (uint64_t)TRI_AUTO);
    CHECK_EQ_U64(o.smep, (uint64_t)TRI_AUTO);
    CHECK_EQ_U64(o.smap, (uint64_t)TRI_AUTO);
    CHECK_EQ_U64(o.umip, (uint64_t)TRI_AUTO);
    CHECK(!o.selftest);
    CHECK(!o.quiet_boot);
    CHECK_EQ_U64(o.timer_hz, 100);
    CHECK_EQ_U64(o.lockwatch_ms, 1000);
}

TEST(defaults)
{
    memset(&o, 0x5a, sizeof o);
    cmdline_defaults(&o);
    check_defaults();
}

TEST(null_empty_and_blank_lines)
{
    CHECK_EQ_U64(parse(NULL), 0);
    CHECK_EQ_STR(d.msg, "");
    check_defaults();
    CHECK_EQ_U64(parse(""), 0);
    check_defaults();
    CHECK_EQ_U64(parse("   \t \n  "), 0);
    CHECK_EQ_STR(d.msg, "");
    check_defaults();
    cmdline_defaults(&o);
    CHECK_EQ_U64(cmdline_parse("log=debug", &o, NULL), 0); /* d may be NULL */
    CHECK_EQ_U64(cmdline_parse("bogus", &o, NULL), 1);
}

TEST(log_levels)
{
    static const char *const names[] = { "error", "warn", "info", "debug", "trace" };
    for (int i = 0; i < 5; i++) {
        char line[32];
        snprintf(line, sizeof line, "log=%s", names[i]);
        CHECK_EQ_U64(parse(line), 0);
        CHECK_EQ_U64(o.log_level, (uint64_t)i);
    }
}

TEST(tristates)
{
    CHECK_EQ_U64(parse("pcid=on invpcid=off pku=on smep=off smap=auto umip=on"), 0);
    CHECK_EQ_STR(d.msg, "");
    CHECK_EQ_U64(o.pcid, TRI_ON);
    CHECK_EQ_U64(o.invpcid, TRI_OFF);
    CHECK_EQ_U64(o.pku, TRI_ON);
    CHECK_EQ_U64(o.smep, TRI_OFF);
    CHECK_EQ_U64(o.smap, (uint64_t)TRI_AUTO);
    CHECK_EQ_U64(o.umip, TRI_ON);
    CHECK_EQ_U64(parse("pcid=off pcid=auto"), 0); /* last one wins */
    CHECK_EQ_U64(o.pcid, (uint64_t)TRI_AUTO);
}

TEST(flags)
{
    CHECK_EQ_U64(parse("selftest quiet"), 0);
    CHECK(o.selftest);
    CHECK(o.quiet_boot);
    CHECK_EQ_U64(parse("selftest=1"), 0);
    CHECK(o.selftest);
    CHECK_EQ_U64(parse("selftest selftest=0 quiet=1"), 0);
    CHECK(!o.selftest);
    CHECK(o.quiet_boot);
}

TEST(timer_hz)
{
    CHECK_EQ_U64(parse("timer_hz=250"), 0);
    CHECK_EQ_U64(o.timer_hz, 250);
    CHECK_EQ_U64(parse("timer_hz=10"), 0);
    CHECK_EQ_U64(o.timer_hz, 10);
    CHECK_EQ_U64(parse("timer_hz=10000"), 0);
    CHECK_EQ_U64(o.timer_hz, 10000);
    CHECK_EQ_U64(parse("timer_hz=0100"), 0); /* leading zeros are still decimal */
    CHECK_EQ_U64(o.timer_hz, 100);
}

TEST(lockwatch)
{
    CHECK_EQ_U64(parse("lockwatch=0"), 0); /* 0: no watchdog */
    CHECK_EQ_U64(o.lockwatch_ms, 0);
    CHECK_EQ_U64(parse("lockwatch=60000"), 0);
    CHECK_EQ_U64(o.lockwatch_ms, 60000);
    CHECK_EQ_U64(parse("lockwatch=60001"), 1);
    CHECK_STR_CONTAINS(d.msg, "lockwatch");
    CHECK_EQ_U64(parse("lockwatch=-1"), 1);
}

TEST(everything_at_once_with_odd_whitespace)
{
    CHECK_EQ_U64(parse("\t log=trace   pcid=off\t\tselftest\n timer_hz=1000 quiet  "), 0);
    CHECK_EQ_STR(d.msg, "");
    CHECK_EQ_U64(o.log_level, LOG_TRACE);
    CHECK_EQ_U64(o.pcid, TRI_OFF);
    CHECK(o.selftest);
    CHECK(o.quiet_boot);
    CHECK_EQ_U64(o.timer_hz, 1000);
}

TEST(unknown_option)
{
    CHECK_EQ_U64(parse("foo"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: unknown option 'foo' (known: log pcid invpcid pku smep smap umip fastpath "
                        "selftest quiet test_panic timer_hz lockwatch)");
    CHECK_EQ_U64(parse("foo=bar"), 1);
    CHECK_STR_CONTAINS(d.msg, "unknown option 'foo'");
    CHECK_EQ_U64(parse("Log=debug"), 1); /* names are case-sensitive */
    CHECK_STR_CONTAINS(d.msg, "unknown option 'Log'");
    CHECK_EQ_U64(parse("logx=1 lo=1"), 2); /* no prefix matching */
    check_defaults();
}

TEST(program_options_are_passed_over)
{
    /* PROGRAM.KEY=VALUE belongs to a program (init.manifest=, fuzz.seed=): no warning. */
    CHECK_EQ_U64(parse("init.manifest=manifest-demo.txt fuzz.seed=0x1 a.b log=debug"), 0);
    CHECK_EQ_STR(d.msg, "");
    CHECK_EQ_U64(o.log_level, LOG_DEBUG);
    CHECK_EQ_U64(parse("log.level=debug"), 0); /* not the kernel's log= */
    CHECK_EQ_U64(parse("x=a.b"), 1);           /* a dot in the value does not count */
}

TEST(bad_enum_values)
{
    CHECK_EQ_U64(parse("log=loud"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: log=loud: expected error|warn|info|debug|trace");
    CHECK_EQ_U64(o.log_level, LOG_INFO);
    CHECK_EQ_U64(parse("log=DEBUG"), 1);
    CHECK_EQ_U64(parse("pcid=maybe"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: pcid=maybe: expected on|off|auto");
    CHECK_EQ_U64(o.pcid, (uint64_t)TRI_AUTO);
    CHECK_EQ_U64(parse("umip=1"), 1);
    CHECK_STR_CONTAINS(d.msg, "umip=1: expected on|off|auto");
    CHECK_EQ_U64(parse("log==debug"), 1); /* the value is "=debug" */
    CHECK_STR_CONTAINS(d.msg, "log==debug: expected");
}

TEST(missing_values)
{
    CHECK_EQ_U64(parse("log"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: log: missing value, expected error|warn|info|debug|trace");
    CHECK_EQ_U64(parse("log="), 1);
    CHECK_EQ_STR(d.msg, "cmdline: log: missing value, expected error|warn|info|debug|trace");
    CHECK_EQ_U64(parse("smap"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: smap: missing value, expected on|off|auto");
    CHECK_EQ_U64(parse("timer_hz"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: timer_hz: missing value, expected a number 10..10000");
    CHECK_EQ_U64(parse("timer_hz="), 1);
    check_defaults();
}

TEST(value_on_a_flag)
{
    CHECK_EQ_U64(parse("quiet=yes"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: quiet=yes: 'quiet' is a flag and takes no value (or =1/=0)");
    CHECK(!o.quiet_boot);
    CHECK_EQ_U64(parse("selftest="), 1);
    CHECK_STR_CONTAINS(d.msg, "'selftest' is a flag");
    CHECK(!o.selftest);
}

TEST(bad_numbers)
{
    CHECK_EQ_U64(parse("timer_hz=9"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: timer_hz=9: out of range 10..10000");
    CHECK_EQ_U64(parse("timer_hz=10001"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: timer_hz=10001: out of range 10..10000");
    CHECK_EQ_U64(parse("timer_hz=4294967396"), 1); /* 2^32 + 100 must not wrap to 100 */
    CHECK_STR_CONTAINS(d.msg, "out of range");
    CHECK_EQ_U64(parse("timer_hz=18446744073709551716"), 1); /* 2^64 + 100 must not wrap either */
    CHECK_STR_CONTAINS(d.msg, "out of range");
    CHECK_EQ_U64(parse("timer_hz=184467440737095516160000"), 1);
    CHECK_STR_CONTAINS(d.msg, "out of range");
    CHECK_EQ_U64(parse("timer_hz=abc"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: timer_hz=abc: expected a number 10..10000");
    CHECK_EQ_U64(parse("timer_hz=-5"), 1);
    CHECK_STR_CONTAINS(d.msg, "expected a number");
    CHECK_EQ_U64(parse("timer_hz=12x"), 1);
    CHECK_STR_CONTAINS(d.msg, "timer_hz=12x: expected a number");
    CHECK_EQ_U64(parse("timer_hz=0x64"), 1);
    CHECK_EQ_U64(parse("timer_hz=+100"), 1);
    check_defaults();
}

TEST(empty_option_name)
{
    CHECK_EQ_U64(parse("=5"), 1);
    CHECK_EQ_STR(d.msg, "cmdline: '=5': empty option name");
    CHECK_EQ_U64(parse("="), 1);
}

TEST(problems_are_counted_joined_and_skipped)
{
    CHECK_EQ_U64(parse("log=debug pcid=maybe timer_hz=500 quiet=2 smep=off timer_hz=5"), 3);
    CHECK_EQ_STR(d.msg, "cmdline: pcid=maybe: expected on|off|auto; "
                        "cmdline: quiet=2: 'quiet' is a flag and takes no value (or =1/=0); "
                        "cmdline: timer_hz=5: out of range 10..10000");
    /* The good words around the bad ones still apply; bad ones change nothing. */
    CHECK_EQ_U64(o.log_level, LOG_DEBUG);
    CHECK_EQ_U64(o.timer_hz, 500);
    CHECK_EQ_U64(o.smep, TRI_OFF);
    CHECK_EQ_U64(o.pcid, (uint64_t)TRI_AUTO);
    CHECK(!o.quiet_boot);
}

TEST(many_problems_truncate_with_ellipsis)
{
    CHECK_EQ_U64(parse("a1 b2 c3 d4 e5 f6 g7 h8 i9 timer_hz=20"), 9);
    CHECK_EQ_U64(strlen(d.msg), sizeof d.msg - 1);
    CHECK_EQ_STR(d.msg + sizeof d.msg - 4, "...");
    CHECK_STR_CONTAINS(d.msg, "unknown option 'a1'");
    CHECK_EQ_U64(o.timer_hz, 20);

    /* Short messages that together just overflow also end in "...". */
    CHECK_EQ_U64(parse("=1 =2 =3 =4 =5 =6 =7 =8 =9 =a =b =c =d =e =f =g"), 16);
    CHECK_EQ_U64(strlen(d.msg), sizeof d.msg - 1);
    CHECK_EQ_STR(d.msg + sizeof d.msg - 4, "...");
}

TEST(long_words_are_quoted_briefly)
{
    char line[600];
    memset(line, 'z', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    CHECK_EQ_U64(parse(line), 1);
    CHECK_STR_CONTAINS(d.msg, "unknown option 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz' (known:");
    memcpy(line, "log=", 4);
    CHECK_EQ_U64(parse(line), 1);
    CHECK_STR_CONTAINS(d.msg, "cmdline: log=zzzz");
    CHECK_STR_CONTAINS(d.msg, ": expected error|warn|info|debug|trace");
}
