/* shell: a line-oriented shell on the serial console. It opens a channel to the "serial" service
 * through init (keel/initsvc.h) and talks to the UART only through it (keel/serial.h): READ
 * requests for input, WRITE requests for output. It echoes what is typed, handles backspace
 * (BS and DEL), and runs:
 *   help             the commands
 *   echo ARGS...     print the arguments
 *   ps               init's process table (KEEL_INIT_PS)
 *   mem              memory: init's free untyped and what it gave to processes (KEEL_INIT_MEM)
 *   tlb              the kernel's TLB counters of CPU 0 (needs the "debug" cap: caps=debug)
 * If the serial driver goes away (crash, restart) the shell opens a new channel. */
#include <keel/alloc.h>
#include <keel/channel.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/serial.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define PROMPT "keel> "
#define LINE_MAX 128
#define OUT_OFFSET 0
#define OUT_MAX 1024
#define IN_OFFSET 1024
#define IN_MAX 64

static uint64_t init_cap;
static struct keel_channel ch;
static struct keel_channel_notifications n;
static struct keel_channel_ops ops;
static struct keel_channel_inflight inflight[4];
static bool connected;
static uint64_t wslot, sslot;

static void disconnect(void)
{
    if (wslot) {
        keel_cspace_delete(wslot);
        keel_slot_free(wslot);
    }
    if (sslot) {
        keel_cspace_delete(sslot);
        keel_slot_free(sslot);
    }
    wslot = sslot = 0;
    connected = false;
}

static bool connect(void)
{
    for (int tries = 0; tries < 1000; tries++) {
        disconnect();
        if (keel_slot_alloc(&wslot) || keel_slot_alloc(&sslot))
            return false;
        struct keel_msg m = keel_msg_make(KEEL_INIT_OPEN, 6);
        keel_init_pack_name(&m, 0, KEEL_SERIAL_SERVICE);
        keel_msg_set_mr(&m, 4, wslot);
        keel_msg_set_mr(&m, 5, sslot);
        int err = keel_call(init_cap, &m);
        if (!err && m.mr[0] == 0) {
            n = (struct keel_channel_notifications){ .signal_cap = sslot, .wait_cap = wslot,
                                                     .gone_bits = KEEL_INIT_CLIENT_GONE };
            keel_channel_bind_notifications(&ops, &n);
            int cerr = keel_channel_attach_client(&ch, (void *)m.mr[1], m.mr[2], &ops, inflight, 4);
            if (cerr == 0) {
                connected = true;
                return true;
            }
            keel_printf("shell: attach failed: %s\n", keel_channel_strerror(cerr));
        }
        keel_yield(); /* the driver may be restarting */
    }
    keel_printf("shell: cannot open the serial service\n");
    return false;
}

/* One request, waited for: the completion's status (bytes), or a negative channel error. */
static int request(uint32_t opcode, uint32_t offset, uint32_t length)
{
    struct keel_channel_desc d = { .tag = opcode, .opcode = opcode, .offset = offset, .length = length };
    int err = keel_channel_submit(&ch, &d);
    if (err)
        return err;
    struct keel_channel_desc c;
    for (;;) {
        int got = keel_channel_reap_wait(&ch, &c, 1);
        if (got < 0)
            return got;
        if (got == 1)
            return c.status;
    }
}

static void put(const char *s, size_t len)
{
    while (len) {
        if (!connected && !connect())
            return;
        size_t chunk = len < OUT_MAX ? len : OUT_MAX;
        memcpy(keel_channel_data(&ch, OUT_OFFSET, (uint32_t)chunk), s, chunk);
        int r = request(KEEL_SERIAL_WRITE, OUT_OFFSET, (uint32_t)chunk);
        if (r < 0) {
            disconnect(); /* the driver is gone: reconnect and write it again */
            continue;
        }
        s += chunk;
        len -= chunk;
    }
}

static void say(const char *fmt, ...) KEEL_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int k = keel_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k > (int)sizeof buf - 1)
        k = sizeof buf - 1;
    /* the terminal wants CR LF */
    for (int i = 0, start = 0; i <= k; i++)
        if (i == k || buf[i] == '\n') {
            put(buf + start, (size_t)(i - start));
            if (i < k)
                put("\r\n", 2);
            start = i + 1;
        }
}

static int get(char *buf, size_t max)
{
    for (;;) {
        if (!connected && !connect())
            return -1;
        int r = request(KEEL_SERIAL_READ, IN_OFFSET, (uint32_t)(max < IN_MAX ? max : IN_MAX));
        if (r < 0) {
            disconnect();
            continue;
        }
        memcpy(buf, keel_channel_data(&ch, IN_OFFSET, (uint32_t)r), (size_t)r);
        return r;
    }
}

static const char *const state_names[] = { "new", "running", "exited", "crashed", "failed" };

static void cmd_ps(void)
{
    say("%-12s %5s %-8s %-8s %8s\n", "NAME", "PID", "STATE", "RESTARTS", "MEMORY");
    for (uint64_t i = 0;; i++) {
        struct keel_msg m = keel_msg_make(KEEL_INIT_PS, 1);
        m.mr[0] = i;
        if (keel_call(init_cap, &m) || m.mr[0] != 0)
            break;
        char name[32];
        keel_init_unpack_name(&m, 6, name);
        uint64_t st = m.mr[2];
        char restarts[24];
        keel_snprintf(restarts, sizeof restarts, "%llu/%llu", (unsigned long long)m.mr[3],
                      (unsigned long long)keel_msg_get_mr(&m, 4));
        say("%-12s %5llu %-8s %-8s %7lluK\n", name, (unsigned long long)m.mr[1], st < 5 ? state_names[st] : "?",
            restarts, (unsigned long long)(keel_msg_get_mr(&m, 5) >> 10));
    }
}

static void cmd_mem(void)
{
    struct keel_msg m = keel_msg_make(KEEL_INIT_MEM, 0);
    if (keel_call(init_cap, &m) || m.mr[0] != 0) {
        say("mem: init did not answer\n");
        return;
    }
    say("init: %llu KiB free; %llu KiB given to processes\n", (unsigned long long)(m.mr[1] >> 10),
        (unsigned long long)(m.mr[2] >> 10));
    const struct keel_startinfo *si = keel_startinfo_get();
    say("shell: stack %llu KiB, %llu free slot(s)\n", (unsigned long long)((si->stack_top - si->stack_base) >> 10),
        (unsigned long long)keel_slot_free_count());
}

static void cmd_tlb(void)
{
    uint64_t dbg = keel_startinfo_cap("debug");
    if (!dbg) {
        say("tlb: no debug cap (give it with caps=debug in the manifest)\n");
        return;
    }
    struct keel_tlb_counters c;
    int err = keel_debug_tlb_counters(dbg, 0, &c);
    if (err) {
        say("tlb: %s\n", keel_strerror(err));
        return;
    }
    say("cpu0: cr3_flush %llu cr3_noflush %llu invlpg %llu invpcid single/context/all/non-global %llu/%llu/%llu/%llu\n"
        "      full_flush %llu shootdown sent/received %llu/%llu lazy_flush %llu lock acquired/contended %llu/%llu\n",
        (unsigned long long)c.cr3_flush, (unsigned long long)c.cr3_noflush, (unsigned long long)c.invlpg,
        (unsigned long long)c.invpcid_single, (unsigned long long)c.invpcid_context,
        (unsigned long long)c.invpcid_all, (unsigned long long)c.invpcid_all_non_global,
        (unsigned long long)c.full_flush, (unsigned long long)c.shootdown_sent,
        (unsigned long long)c.shootdown_received, (unsigned long long)c.lazy_flush,
        (unsigned long long)c.lock_acquired, (unsigned long long)c.lock_contended);
}

static void run(char *line)
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
    if (strcmp(argv[0], "help") == 0)
        say("commands: help, echo ARGS..., ps, mem, tlb\n");
    else if (strcmp(argv[0], "echo") == 0) {
        for (int i = 1; i < argc; i++)
            say("%s%s", i > 1 ? " " : "", argv[i]);
        say("\n");
    } else if (strcmp(argv[0], "ps") == 0)
        cmd_ps();
    else if (strcmp(argv[0], "mem") == 0)
        cmd_mem();
    else if (strcmp(argv[0], "tlb") == 0)
        cmd_tlb();
    else
        say("%s: unknown command; usage: help | echo ARGS... | ps | mem | tlb\n", argv[0]);
}

int main(void)
{
    init_cap = keel_startinfo_cap("init");
    if (!init_cap) {
        keel_printf("shell: no 'init' cap\n");
        return 1;
    }
    if (!connect())
        return 2;
    say("\nKeel shell. Type 'help'.\n" PROMPT);
    char line[LINE_MAX];
    size_t len = 0;
    char last = 0;
    for (;;) {
        char in[IN_MAX];
        int got = get(in, sizeof in);
        if (got < 0)
            return 3;
        for (int i = 0; i < got; i++) {
            char c = in[i], prev = last;
            last = c;
            if (c == '\n' && prev == '\r')
                continue; /* CR LF is one end of line */
            if (c == '\r' || c == '\n') {
                put("\r\n", 2);
                line[len] = 0;
                run(line);
                len = 0;
                put(PROMPT, sizeof PROMPT - 1);
            } else if (c == 0x7f || c == '\b') {
                if (len) {
                    len--;
                    put("\b \b", 3);
                }
            } else if (c >= ' ' && c < 0x7f && len + 1 < LINE_MAX) {
                line[len++] = c;
                put(&c, 1);
            }
        }
    }
}
