/* The shell's commands. Each one checks its arguments and answers a bad one with its usage line;
 * the calls to init (keel/initsvc.h) answer with an error code, printed as text. */
#include "io.h"
#include "shell.h"
#include <keel/alloc.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/string.h>

void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int k = keel_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k > (int)sizeof buf - 1)
        k = sizeof buf - 1;
    for (int i = 0, start = 0; i <= k; i++) /* the terminal wants CR LF */
        if (i == k || buf[i] == '\n') {
            io_write(buf + start, (size_t)(i - start));
            if (i < k)
                io_write("\r\n", 2);
            start = i + 1;
        }
}

/* A decimal pid (digits only, no overflow). */
static bool parse_pid(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* Call init; the reply's MR0 (0 or enum keel_init_error), or E_BAD_REQUEST if the call failed. */
static uint64_t call_init(struct keel_msg *m)
{
    if (keel_call(init_cap, m))
        return KEEL_INIT_E_BAD_REQUEST;
    return m->mr[0];
}


static void cmd_ps(void)
{
    char line[160];
    keel_init_ps_header(line, sizeof line);
    say("%s\n", line); /* init's table in its log has the same columns */
    for (uint64_t i = 0;; i++) {
        struct keel_msg m = keel_msg_make(KEEL_INIT_PS, 1);
        m.mr[0] = i;
        if (call_init(&m) != 0)
            break;
        struct keel_init_ps_row row;
        keel_init_ps_unpack(&m, &row);
        keel_init_ps_format(line, sizeof line, &row);
        say("%s\n", line);
    }
}

static void cmd_mem(void)
{
    struct keel_msg m = keel_msg_make(KEEL_INIT_MEM, 0);
    if (call_init(&m) != 0) {
        say("mem: init did not answer\n");
        return;
    }
    say("init: %llu KiB free; %llu KiB given to processes; %llu KiB set aside for test and bench\n",
        (unsigned long long)(m.mr[1] >> 10), (unsigned long long)(m.mr[2] >> 10), (unsigned long long)(m.mr[3] >> 10));
    const struct keel_startinfo *si = keel_startinfo_get();
    say("shell: stack %llu KiB, %llu free slot(s); serial %s, keyboard %s\n",
        (unsigned long long)((si->stack_top - si->stack_base) >> 10), (unsigned long long)keel_slot_free_count(),
        io_state(IO_SERIAL), io_state(IO_KEYBOARD));
}

static void tlb_one(uint64_t cpu, const struct keel_tlb_counters *c)
{
    uint64_t sent_pages = c->shootdown_sent - c->shootdown_whole;
    say("cpu%llu: cr3_flush %llu cr3_noflush %llu invlpg %llu invpcid single/context/all/non-global %llu/%llu/%llu/%llu\n"
        "      full_flush %llu lazy_flush %llu lock acquired/contended %llu/%llu\n"
        "      shootdown sent/received %llu/%llu, pages %llu (%llu.%02llu per request), whole-PCID %llu\n",
        (unsigned long long)cpu, (unsigned long long)c->cr3_flush, (unsigned long long)c->cr3_noflush,
        (unsigned long long)c->invlpg, (unsigned long long)c->invpcid_single, (unsigned long long)c->invpcid_context,
        (unsigned long long)c->invpcid_all, (unsigned long long)c->invpcid_all_non_global,
        (unsigned long long)c->full_flush, (unsigned long long)c->lazy_flush, (unsigned long long)c->lock_acquired,
        (unsigned long long)c->lock_contended, (unsigned long long)c->shootdown_sent,
        (unsigned long long)c->shootdown_received, (unsigned long long)c->shootdown_pages,
        (unsigned long long)(sent_pages ? c->shootdown_pages / sent_pages : 0),
        (unsigned long long)(sent_pages ? c->shootdown_pages * 100 / sent_pages % 100 : 0),
        (unsigned long long)c->shootdown_whole);
}

/* tlb: every CPU's counters; tlb CPU: that one's. */
static void cmd_tlb(const char *which)
{
    uint64_t dbg = keel_startinfo_cap("debug");
    if (!dbg) {
        say("tlb: no debug cap (give it with caps=debug in the manifest)\n");
        return;
    }
    uint64_t cpu = 0;
    if (which && !parse_pid(which, &cpu)) {
        say("usage: tlb [CPU] (a CPU number; without it, every CPU)\n");
        return;
    }
    for (uint64_t i = which ? cpu : 0;; i++) {
        struct keel_tlb_counters c;
        int err = keel_debug_tlb_counters(dbg, i, &c);
        if (err == KEEL_E_RANGE && (!which || i > 0)) {
            if (which)
                say("tlb: no CPU %llu (CPUs 0-%llu)\n", (unsigned long long)i,
                    (unsigned long long)keel_last_error_detail(2));
            return;
        }
        if (err) {
            say("tlb: %s\n", keel_strerror(err));
            return;
        }
        tlb_one(i, &c);
        if (which)
            return;
    }
}

static const char *type_name(uint64_t t)
{
    static const char *const objs[] = { "empty", "untyped", "tcb", "endpoint", "notification", "reply",
                                        "cnode", "vspace", "pdpt", "pd", "pt", "frame-4k", "frame-2m",
                                        "frame-1g" };
    static const char *const devs[] = { "irq-control", "irq-handler", "ioport-control", "ioport",
                                        "asid-control", "asid-pool", "debug", "log" };
    if (t < sizeof objs / sizeof objs[0])
        return objs[t];
    if (t >= KEEL_CAP_IRQ_CONTROL && t - KEEL_CAP_IRQ_CONTROL < sizeof devs / sizeof devs[0])
        return devs[t - KEEL_CAP_IRQ_CONTROL];
    return "?";
}

static void cmd_caps(uint64_t pid)
{
    unsigned shown = 0;
    for (uint64_t slot = 0;; slot++) {
        struct keel_msg m = keel_msg_make(KEEL_INIT_CAPS, 2);
        keel_msg_set_mr(&m, 0, pid);
        keel_msg_set_mr(&m, 1, slot);
        uint64_t err = call_init(&m);
        if (err == KEEL_INIT_E_NONE)
            break;
        if (err) {
            say("caps: pid %llu: %s\n", (unsigned long long)pid, keel_init_strerror(err));
            return;
        }
        if (shown++ == 0)
            say("%5s  %-14s %-6s %-18s %s\n", "SLOT", "TYPE", "RIGHTS", "DATA", "NAME");
        slot = m.mr[1];
        uint64_t type = m.mr[2], rights = m.mr[3], data = keel_msg_get_mr(&m, 4);
        uint64_t w[2] = { keel_msg_get_mr(&m, 7), keel_msg_get_mr(&m, 8) };
        char name[17] = { 0 };
        memcpy(name, w, 16);
        if (keel_msg_get_mr(&m, 6) & KEEL_INIT_CAP_UNCOPYABLE) {
            say("%5llu  %-14s %-6s %-18s %s\n", (unsigned long long)slot, "(not copyable)", "?", "?", name);
            continue;
        }
        char r[5] = { (rights & KEEL_RIGHT_READ) ? 'r' : '-', (rights & KEEL_RIGHT_WRITE) ? 'w' : '-',
                      (rights & KEEL_RIGHT_GRANT) ? 'g' : '-', (rights & KEEL_RIGHT_GRANT_REPLY) ? 'G' : '-', 0 };
        say("%5llu  %-14s %-6s %#-18llx %s\n", (unsigned long long)slot, type_name(type), r,
            (unsigned long long)data, name);
    }
    say("%u cap(s)%s\n", shown, pid == 0 ? " (init)" : "");
}

static void cmd_kill(uint64_t pid, bool again)
{
    struct keel_msg m = keel_msg_make(KEEL_INIT_KILL, 2);
    keel_msg_set_mr(&m, 0, pid);
    keel_msg_set_mr(&m, 1, again ? KEEL_INIT_KILL_RESTART : 0);
    uint64_t err = call_init(&m);
    const char *cmd = again ? "restart" : "kill";
    if (err == KEEL_INIT_E_REFUSED)
        say("%s: refused: pid %llu is %s\n", cmd, (unsigned long long)pid, pid == 0 ? "init" : "this shell");
    else if (err)
        say("%s: pid %llu: %s\n", cmd, (unsigned long long)pid, keel_init_strerror(err));
    else if (again)
        say("restart: pid %llu stopped and started again as pid %llu\n", (unsigned long long)pid,
            (unsigned long long)m.mr[1]);
    else
        say("kill: pid %llu stopped for good (not restarted; 'run NAME' starts it again)\n",
            (unsigned long long)pid);
}

static void cmd_run(const char *name)
{
    struct keel_msg m = keel_msg_make(KEEL_INIT_RUN, 4);
    keel_init_pack_name(&m, 0, name);
    uint64_t err = call_init(&m);
    if (err)
        say("run: %s: %s%s\n", name, keel_init_strerror(err),
            err == KEEL_INIT_E_REFUSED             ? " (that is init, the root task)"
            : err == KEEL_INIT_E_START_FAILED ? " (not a program? init's log line says which step failed)"
                                                     : "");
    else
        say("run: %s started as pid %llu\n", name, (unsigned long long)m.mr[1]);
}

/* `test [FILTER]` and `bench [GROUP]`: init runs keeltest / keelbench as a root-like child (a
 * BootInfo of its own, copies of init's control caps, the memory init set aside for this) and
 * answers when it has ended. The shell waits meanwhile, like a foreground job; the program's own
 * lines come through the kernel console (the serial line in debug kernels), not through us. */
static void cmd_root_like(const char *cmd, const char *program, const char *key, const char *arg)
{
    struct keel_msg m = keel_msg_make(KEEL_INIT_RUN, KEEL_INIT_RUN_CMDLINE_MR + KEEL_INIT_RUN_CMDLINE_WORDS);
    keel_init_pack_name(&m, 0, program);
    keel_msg_set_mr(&m, 4, KEEL_INIT_RUN_BOOTINFO | KEEL_INIT_RUN_WAIT);
    char line[KEEL_INIT_RUN_CMDLINE_WORDS * 8] = { 0 };
    if (arg)
        keel_snprintf(line, sizeof line, "%s=%s", key, arg);
    for (unsigned i = 0; i < KEEL_INIT_RUN_CMDLINE_WORDS; i++) {
        uint64_t w;
        memcpy(&w, line + 8 * i, 8);
        keel_msg_set_mr(&m, KEEL_INIT_RUN_CMDLINE_MR + i, w);
    }
    uint64_t err = call_init(&m);
    if (err == KEEL_INIT_E_BUSY)
        say("%s: a test or bench run (pid %llu) is still going on: one at a time\n", cmd, (unsigned long long)m.mr[1]);
    else if (err == KEEL_INIT_E_NO_MEMORY)
        say("%s: init has no memory set aside for it (see its start-up log)\n", cmd);
    else if (err)
        say("%s: %s: %s\n", cmd, program, keel_init_strerror(err));
    else if (m.mr[3] == KEEL_INIT_ENDED_CRASH)
        say("%s: %s (pid %llu) crashed (init's log says how)\n", cmd, program, (unsigned long long)m.mr[1]);
    else if (m.mr[3] == KEEL_INIT_ENDED_KILLED)
        say("%s: %s (pid %llu) was killed\n", cmd, program, (unsigned long long)m.mr[1]);
    else if (cmd[0] == 't')
        say("test: keeltest (pid %llu) exited with status %lld: %s\n", (unsigned long long)m.mr[1],
            (long long)m.mr[2], m.mr[2] ? "some tests failed (the count, at most 125)" : "all passed");
    else
        say("bench: keelbench (pid %llu) exited with status %lld%s\n", (unsigned long long)m.mr[1],
            (long long)m.mr[2], m.mr[2] ? ": some benchmarks failed" : "");
}

static void cmd_reboot(void)
{
    say("reboot: resetting the machine\n");
    struct keel_msg m = keel_msg_make(KEEL_INIT_REBOOT, 0);
    uint64_t err = call_init(&m);
    say("reboot: %s\n", keel_init_strerror(err ? err : KEEL_INIT_E_FAILED));
}

#define USAGE "usage: help | echo ARGS... | ps | mem | tlb [CPU] | caps PID | run NAME | kill PID | restart PID | " \
              "history | reboot | test [FILTER] | bench [GROUP]"

void run_line(char *line)
{
    char *argv[16];
    int argc = 0;
    for (char *p = line; *p && argc < 16;) {
        while (*p == ' ' || *p == '\t')
            *p++ = 0;
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    if (argc == 0)
        return;
    const char *c = argv[0];
    uint64_t pid = 0;
    bool one_arg = argc == 2, no_arg = argc == 1;
    if (strcmp(c, "help") == 0 && no_arg)
        say("commands:\n  help  echo ARGS...  ps  mem  history\n"
            "  tlb [CPU]      the kernel's TLB, shootdown and lock counters (every CPU, or one)\n"
            "  caps PID       a process's capabilities (slot, type, rights, data)\n"
            "  run NAME       start a manifest program or a boot module\n"
            "  kill PID       stop a process for good;  restart PID  stop it and start it again\n"
            "  reboot         reset the machine\n"
            "  test [FILTER]  run keeltest (the tests whose name contains FILTER) and wait for it\n"
            "  bench [GROUP]  run keelbench (syscall ipc sched vspace channel smp) and wait for it\n"
            "keys: Up/Down history, Left/Right/Home/End move, Ctrl-U clear, Ctrl-C cancel\n");
    else if (strcmp(c, "echo") == 0) {
        for (int i = 1; i < argc; i++)
            say("%s%s", i > 1 ? " " : "", argv[i]);
        say("\n");
    } else if (strcmp(c, "ps") == 0 && no_arg)
        cmd_ps();
    else if (strcmp(c, "mem") == 0 && no_arg)
        cmd_mem();
    else if (strcmp(c, "tlb") == 0 && argc <= 2)
        cmd_tlb(one_arg ? argv[1] : 0);
    else if (strcmp(c, "history") == 0 && no_arg) {
        for (unsigned i = 0; i < history_count(); i++)
            say("%4u  %s\n", i + 1, history_get(i));
    } else if (strcmp(c, "caps") == 0)
        one_arg && parse_pid(argv[1], &pid) ? cmd_caps(pid) : say("usage: caps PID (a number; 'ps' lists them)\n");
    else if (strcmp(c, "kill") == 0 || strcmp(c, "restart") == 0)
        one_arg && parse_pid(argv[1], &pid) ? cmd_kill(pid, c[0] == 'r')
                                            : say("usage: %s PID (a number; 'ps' lists them)\n", c);
    else if (strcmp(c, "run") == 0)
        one_arg ? cmd_run(argv[1]) : say("usage: run NAME (a manifest name or a boot module, e.g. run hello)\n");
    else if (strcmp(c, "reboot") == 0 && no_arg)
        cmd_reboot();
    else if (strcmp(c, "test") == 0 && argc <= 2)
        cmd_root_like("test", "keeltest", "keeltest", one_arg ? argv[1] : 0);
    else if (strcmp(c, "bench") == 0 && argc <= 2)
        cmd_root_like("bench", "keelbench", "bench", one_arg ? argv[1] : 0);
    else if (strcmp(c, "test") == 0 || strcmp(c, "bench") == 0)
        say("usage: %s\n", c[0] == 't' ? "test [FILTER] (e.g. test cnode)" : "bench [GROUP] (e.g. bench ipc)");
    else if (strcmp(c, "help") == 0 || strcmp(c, "ps") == 0 || strcmp(c, "mem") == 0 ||
             strcmp(c, "history") == 0 || strcmp(c, "reboot") == 0)
        say("%s: takes no arguments; " USAGE "\n", c);
    else
        say("%s: unknown command; " USAGE "\n", c);
}
