/* keelbench: the root task of the keel-bench image. Sets up its console (COM1 through an I/O port
 * cap: a console of its own, off the kernel's lock while it measures), a second VSpace running this image,
 * finds out whether the TSC counts instructions (QEMU -icount), runs every benchmark group, prints
 * a table and one `BENCH {json}` line per result, then `BENCH-DONE`, and ends the emulator.
 *
 * Kernel command line words it reads: icount / noicount (force the unit instead of detecting it),
 * bench=SUBSTRING (run only the groups whose name contains it: syscall, ipc, sched, vspace,
 * channel, smp), iters=N (measured iterations, default and maximum BENCH_ITERS_MAX; fewer for a short
 * instruction trace). The kernel warns that it does not know these words, and goes on.
 *
 * init can also run it as a root-like child (the shell's `bench [GROUP]`; its BootInfo then says
 * KEEL_BOOTINFO_CHILD and carries the command line): it exits with its status instead of ending
 * the emulator, and prints through the kernel console in debug kernels. */
#include "bench.h"
#include <keel/portio.h>
#include <keel/process.h>

uint64_t bench_t[4][BENCH_TOTAL_MAX + 2];
uint64_t bench_samples[BENCH_TOTAL_MAX];
unsigned bench_iters = BENCH_ITERS_MAX, bench_total = BENCH_TOTAL_MAX;
const struct keel_bootinfo *bench_bi;
bool bench_icount;
const char *bench_unit = "cycles";
uint64_t bench_clone;
uint64_t bench_dbg = KEEL_SLOT_DEBUG;
uint64_t bench_done;

static struct bench_result results[BENCH_MAX_RESULTS];
static unsigned nresults;

/* ---- Console: COM1 directly when we can have the ports, else the Log cap (the kernel console) ---- */
#define COM1 0x3f8


static void serial_byte(char c)
{
    for (unsigned spin = 0; spin < 100000 && !(inb(COM1 + 5) & 0x20); spin++)
        ;
    outb(COM1, (uint8_t)c);
}

/* While the measurements run, COM1 is not bound to our VSpace: a VSpace with I/O ports costs
 * the kernel extra work on every switch to or from it (the TSS bitmap), which would land in the
 * results. Output meanwhile waits in a buffer and goes out when the port is bound again. */
static uint64_t console_port;
static bool console_bound;
static char held[8192];
static size_t held_len;

static void serial_console(const char *s, size_t n)
{
    if (!console_bound) {
        for (size_t i = 0; i < n && held_len < sizeof held; i++)
            held[held_len++] = s[i];
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            serial_byte('\r');
        serial_byte(s[i]);
    }
}

void bench_console(bool on)
{
    if (!console_port || on == console_bound)
        return;
    if (on) {
        console_bound = keel_ioport_bind(console_port, KEEL_SLOT_VSPACE) == 0;
        if (console_bound && held_len) {
            size_t n = held_len;
            held_len = 0;
            serial_console(held, n);
        }
    } else {
        console_bound = keel_ioport_unbind(console_port) != 0;
    }
}

static bool setup_console(void)
{
    uint64_t slot;
    if (keel_slot_alloc(&slot))
        return false;
    if (keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, COM1, COM1 + 7, slot))
        return false;
    console_port = slot;
    bench_console(true);
    if (!console_bound)
        return false;
    keel_set_console(serial_console);
    return true;
}

/* ---- Is the TSC an instruction counter? ---- */

/* TSC delta across a loop of `n` two-instruction iterations. */
static uint64_t spin_delta(uint64_t n)
{
    uint64_t a = bench_rdtsc();
    __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n)::"cc");
    return bench_rdtsc() - a;
}

/* Under -icount shift=0 every instruction advances the TSC by exactly one: 1000 more iterations
 * of the loop take exactly 2000 more ticks, every time. On real time that coincidence does not
 * repeat three times. */
static bool detect_icount(void)
{
    for (int i = 0; i < 3; i++) {
        uint64_t a = spin_delta(1000), b = spin_delta(2000);
        if (b - a != 2000)
            return false;
    }
    return true;
}

/* `word` or `word=value` on the kernel command line; with need_value only the second form counts
 * (the image's command line starts with the word "bench", which is not "bench=GROUP"). */
static bool cmdline_find(const char *word, char *value, size_t vsize, bool need_value)
{
    const char *c = bench_bi->cmdline;
    size_t n = strlen(word);
    for (size_t i = 0; i < sizeof(bench_bi->cmdline) && c[i]; i++) {
        if ((i == 0 || c[i - 1] == ' ') && strncmp(c + i, word, n) == 0 &&
            (c[i + n] == '=' || (!need_value && (c[i + n] == 0 || c[i + n] == ' ')))) {
            if (value && vsize) {
                size_t k = 0;
                if (c[i + n] == '=')
                    for (const char *p = c + i + n + 1; *p && *p != ' ' && k + 1 < vsize; p++)
                        value[k++] = *p;
                value[k] = 0;
            }
            return true;
        }
    }
    return false;
}

static bool cmdline_has(const char *word, char *value, size_t vsize)
{
    return cmdline_find(word, value, vsize, false);
}

/* ---- Results ---- */

struct bench_result *bench_new(const char *name, const char *note)
{
    if (nresults == BENCH_MAX_RESULTS)
        return 0;
    struct bench_result *r = &results[nresults++];
    memset(r, 0, sizeof *r);
    strlcpy(r->name, name, sizeof r->name);
    strlcpy(r->note, note, sizeof r->note);
    r->unit = bench_unit;
    return r;
}

void bench_fail(struct bench_result *r, const char *what, int err)
{
    if (!r || r->failed)
        return;
    r->failed = true;
    keel_snprintf(r->error, sizeof r->error, "%s: %s", what, keel_strerror(err));
}

static void sort_u64(uint64_t *a, uint64_t n)
{
    /* Heapsort: no recursion, no extra memory, n log n. */
    for (uint64_t start = n / 2; start-- > 0;) {
        for (uint64_t root = start;;) {
            uint64_t child = 2 * root + 1;
            if (child >= n)
                break;
            if (child + 1 < n && a[child] < a[child + 1])
                child++;
            if (a[root] >= a[child])
                break;
            uint64_t t = a[root];
            a[root] = a[child];
            a[child] = t;
            root = child;
        }
    }
    for (uint64_t end = n; end-- > 1;) {
        uint64_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        for (uint64_t root = 0;;) {
            uint64_t child = 2 * root + 1;
            if (child >= end)
                break;
            if (child + 1 < end && a[child] < a[child + 1])
                child++;
            if (a[root] >= a[child])
                break;
            t = a[root];
            a[root] = a[child];
            a[child] = t;
            root = child;
        }
    }
}

void bench_stats(struct bench_result *r, uint64_t *s, uint64_t n, uint64_t overhead)
{
    if (!n) {
        bench_fail(r, "no samples", KEEL_E_RANGE);
        return;
    }
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        s[i] = s[i] > overhead ? s[i] - overhead : 0;
        sum += s[i];
    }
    sort_u64(s, n);
    r->iterations = n;
    r->overhead = overhead;
    r->min = s[0];
    r->max = s[n - 1];
    r->median = n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    r->mean_x10 = (sum * 10 + n / 2) / n;
}

struct keel_tlb_counters bench_tlb_now(void)
{
    struct keel_tlb_counters c = { 0 };
    keel_debug_tlb_counters(bench_dbg, 0, &c);
    return c;
}

static uint64_t per_op(uint64_t a, uint64_t b, uint64_t ops) { return ops ? ((b - a) * 100 + ops / 2) / ops : 0; }

void bench_tlb_per_op(struct bench_result *r, const struct keel_tlb_counters *a, const struct keel_tlb_counters *b,
                      uint64_t ops)
{
    r->tlb.valid = true;
    r->tlb.cr3_flush = per_op(a->cr3_flush, b->cr3_flush, ops);
    r->tlb.cr3_noflush = per_op(a->cr3_noflush, b->cr3_noflush, ops);
    r->tlb.invlpg = per_op(a->invlpg, b->invlpg, ops);
    uint64_t ia = a->invpcid_single + a->invpcid_context + a->invpcid_all + a->invpcid_all_non_global;
    uint64_t ib = b->invpcid_single + b->invpcid_context + b->invpcid_all + b->invpcid_all_non_global;
    r->tlb.invpcid = per_op(ia, ib, ops);
    r->tlb.full_flush = per_op(a->full_flush, b->full_flush, ops);
}

void bench_extra(struct bench_result *r, const char *name, uint64_t value_x100)
{
    if (r->nextra < 4) {
        r->extra_name[r->nextra] = name;
        r->extra_x100[r->nextra++] = value_x100;
    }
}

/* ---- Overheads ---- */

uint64_t bench_overhead(void)
{
    struct bench_regs regs = { 0 };
    uint64_t best = ~0ull;
    for (unsigned i = 0; i < bench_total; i++) {
        BENCH_NOP(KEEL_SYS_CALL, &bench_t[0][i], &bench_t[1][i], &regs);
        uint64_t d = bench_t[1][i] - bench_t[0][i];
        if (i >= BENCH_WARMUP && d < best)
            best = d;
    }
    return best;
}

uint64_t bench_overhead_c(void)
{
    uint64_t best = ~0ull;
    for (unsigned i = 0; i < bench_total; i++) {
        uint64_t a = bench_rdtsc();
        uint64_t b = bench_rdtsc();
        if (i >= BENCH_WARMUP && b - a < best)
            best = b - a;
    }
    return best;
}

/* ---- Threads ---- */

#define THREAD_STACK 16384
/* IPC buffers of the measured threads: a fixed place in both VSpaces, far from the image. */
#define BENCH_IPC_VA 0x0000005000000000ull

static uint8_t stacks[BENCH_MAX_THREADS][THREAD_STACK] __attribute__((aligned(16)));
static struct keel_thread threads[BENCH_MAX_THREADS];
static uint64_t ipc_frames[BENCH_MAX_THREADS];

struct keel_ipc_buffer *bench_ipc_buffer(unsigned i) { return (struct keel_ipc_buffer *)(BENCH_IPC_VA + i * 4096ull); }

/* One IPC buffer frame per thread slot, mapped at the same address in our VSpace and the clone. */
static int setup_thread_slots(void)
{
    for (unsigned i = 0; i < BENCH_MAX_THREADS; i++) {
        uint64_t copy, va = (uint64_t)bench_ipc_buffer(i);
        int err = keel_alloc_object(KEEL_OBJ_FRAME_4K, 0, &ipc_frames[i]);
        if (!err)
            err = keel_vspace_map_frame(ipc_frames[i], KEEL_SLOT_VSPACE, va, KEEL_MAP_READ | KEEL_MAP_WRITE,
                                        KEEL_CACHE_WB, 0);
        if (!err)
            err = keel_slot_alloc(&copy);
        if (!err)
            err = keel_cspace_copy(copy, ipc_frames[i], KEEL_RIGHTS_ALL);
        if (!err)
            err = keel_vspace_map_frame(copy, bench_clone, va, KEEL_MAP_READ | KEEL_MAP_WRITE, KEEL_CACHE_WB, 0);
        if (err)
            return err;
    }
    return 0;
}

int bench_run_threads(const struct bench_thread_spec *specs, unsigned n)
{
    int err = 0;
    unsigned made = 0;
    uint64_t word;
    while (keel_poll(bench_done, &word) == 0) /* a stale signal must not end this run early */
        ;
    for (unsigned i = 0; i < n && !err; i++) {
        struct keel_thread_config cfg = {
            .entry = specs[i].fn,
            .arg = specs[i].arg,
            .stack_top = stacks[i] + THREAD_STACK,
            .priority = specs[i].priority,
            .ipc_frame = ipc_frames[i],
            .ipc_addr = (uint64_t)bench_ipc_buffer(i),
        };
        err = keel_thread_create(&threads[i], &cfg);
        if (err)
            break;
        made++;
        if (specs[i].cross)
            err = keel_tcb_configure(threads[i].tcb, 0, bench_clone, 0, 0, 0, 0, 0);
        if (!err && specs[i].cpu) /* only then: the one-CPU runs make exactly the calls they made before */
            err = keel_tcb_set_affinity(threads[i].tcb, specs[i].cpu);
    }
    for (unsigned i = 0; i < made && !err; i++)
        err = keel_thread_start(&threads[i]);
    if (!err)
        err = keel_wait(bench_done, &word); /* we are at 255: the measured threads run only now */
    for (unsigned i = 0; i < made; i++)
        keel_thread_destroy(&threads[i]);
    return err;
}

/* ---- Output ---- */

static void fmt_x10(char *buf, size_t size, uint64_t v)
{
    keel_snprintf(buf, size, "%llu.%llu", (unsigned long long)(v / 10), (unsigned long long)(v % 10));
}
void bench_fmt_x100(char *buf, size_t size, uint64_t v)
{
    keel_snprintf(buf, size, "%llu.%02llu", (unsigned long long)(v / 100), (unsigned long long)(v % 100));
}

static void print_table(void)
{
    keel_printf("\nkeelbench results (unit: %s%s; overhead subtracted; TLB columns per operation)\n", bench_unit,
                bench_icount ? " = guest instructions, QEMU -icount" : " = TSC cycles, not repeatable");
    keel_printf("%-28s %8s %8s %10s %8s %6s %5s %5s %5s %5s  %s\n", "benchmark", "min", "median", "mean", "max", "ovh",
                "cr3F", "cr3K", "invlp", "invpc", "what");
    for (unsigned i = 0; i < nresults; i++) {
        const struct bench_result *r = &results[i];
        if (r->skipped[0]) {
            keel_printf("%-28s skipped: %s\n", r->name, r->skipped);
            continue;
        }
        if (r->failed) {
            keel_printf("%-28s FAILED: %s\n", r->name, r->error);
            continue;
        }
        char mean[24], f[12] = "-", k[12] = "-", l[12] = "-", p[12] = "-";
        fmt_x10(mean, sizeof mean, r->mean_x10);
        if (r->tlb.valid) {
            bench_fmt_x100(f, sizeof f, r->tlb.cr3_flush);
            bench_fmt_x100(k, sizeof k, r->tlb.cr3_noflush);
            bench_fmt_x100(l, sizeof l, r->tlb.invlpg);
            bench_fmt_x100(p, sizeof p, r->tlb.invpcid);
        }
        keel_printf("%-28s %8llu %8llu %10s %8llu %6llu %5s %5s %5s %5s  %s\n", r->name, (unsigned long long)r->min,
                    (unsigned long long)r->median, mean, (unsigned long long)r->max,
                    (unsigned long long)r->overhead, f, k, l, p, r->note);
        for (unsigned e = 0; e < r->nextra; e++) {
            char v[24];
            bench_fmt_x100(v, sizeof v, r->extra_x100[e]);
            keel_printf("%-28s   %s = %s\n", "", r->extra_name[e], v);
        }
        if (r->detail[0])
            keel_printf("%-28s   %s\n", "", r->detail);
    }
    keel_printf("\n");
}

static void print_json(const struct bench_result *r)
{
    char line[1280];
    size_t n = 0;
#define PUT(...) n += (size_t)keel_snprintf(line + n, n < sizeof line ? sizeof line - n : 0, __VA_ARGS__)
    PUT("BENCH {\"name\":\"%s\"", r->name);
    if (r->skipped[0]) {
        PUT(",\"skipped\":\"%s\"}", r->skipped);
    } else if (r->failed) {
        PUT(",\"error\":\"%s\"}", r->error);
    } else {
        char mean[24];
        fmt_x10(mean, sizeof mean, r->mean_x10);
        PUT(",\"iterations\":%llu,\"unit\":\"%s\",\"min\":%llu,\"median\":%llu,\"mean\":%s,\"max\":%llu,"
            "\"overhead\":%llu,\"icount\":%s",
            (unsigned long long)r->iterations, r->unit, (unsigned long long)r->min, (unsigned long long)r->median, mean,
            (unsigned long long)r->max, (unsigned long long)r->overhead, bench_icount ? "true" : "false");
        if (r->tlb.valid) {
            char f[12], k[12], l[12], p[12], ff[12];
            bench_fmt_x100(f, sizeof f, r->tlb.cr3_flush);
            bench_fmt_x100(k, sizeof k, r->tlb.cr3_noflush);
            bench_fmt_x100(l, sizeof l, r->tlb.invlpg);
            bench_fmt_x100(p, sizeof p, r->tlb.invpcid);
            bench_fmt_x100(ff, sizeof ff, r->tlb.full_flush);
            PUT(",\"counters\":{\"cr3_flush\":%s,\"cr3_noflush\":%s,\"invlpg\":%s,\"invpcid\":%s,"
                "\"full_flush\":%s}",
                f, k, l, p, ff);
        } else {
            PUT(",\"counters\":{}");
        }
        for (unsigned e = 0; e < r->nextra; e++) {
            char v[24];
            bench_fmt_x100(v, sizeof v, r->extra_x100[e]);
            PUT(",\"%s\":%s", r->extra_name[e], v);
        }
        PUT("%s", r->json);
        PUT(",\"note\":\"%s\"}", r->note);
    }
#undef PUT
    keel_printf("%s\n", line);
}

static _Noreturn void finish(int status)
{
    if (keel_bootinfo_is_child(bench_bi)) /* run by init (the shell's bench): exit, the machine runs on */
        keel_process_exit(status);
    keel_debug_exit(bench_dbg, (uint64_t)status);
    for (;;)
        keel_tcb_suspend(KEEL_SLOT_TCB);
}

static bool contains(const char *s, const char *sub)
{
    size_t n = strlen(sub);
    for (; *s; s++)
        if (strncmp(s, sub, n) == 0)
            return true;
    return n == 0;
}

static const struct {
    const char *name;
    void (*fn)(void);
} groups[] = {
    { "syscall", bench_group_syscall }, { "ipc", bench_group_ipc },         { "sched", bench_group_sched },
    { "vspace", bench_group_vspace },   { "channel", bench_group_channel }, { "smp", bench_group_smp },
};

int main(struct keel_bootinfo *bi)
{
    if (!bi)
        finish(1);
    bench_bi = bi;
    /* As init's root-like child the serial driver owns COM1: print through the kernel console
     * (the Log cap init gave it, every build) instead of sharing the UART with the driver. */
    bool child = keel_bootinfo_is_child(bi);
    bool serial = !child && setup_console();
    if (child)
        keel_printf("keelbench: run by init inside the running system: other processes add noise\n");
    keel_printf("keelbench: console %s\n", serial ? "COM1 (I/O port cap)" : "the kernel console (Log cap)");

    char forced[8];
    if (cmdline_has("icount", forced, sizeof forced))
        bench_icount = true;
    else if (cmdline_has("noicount", forced, sizeof forced))
        bench_icount = false;
    else
        bench_icount = detect_icount();
    bench_unit = bench_icount ? "insn" : "cycles";

    char iters[12];
    if (cmdline_has("iters", iters, sizeof iters)) {
        unsigned v = 0;
        for (const char *p = iters; *p >= '0' && *p <= '9'; p++)
            v = v * 10 + (unsigned)(*p - '0');
        if (v >= 1 && v <= BENCH_ITERS_MAX) {
            bench_iters = v;
            bench_total = BENCH_WARMUP + v;
        }
    }

    struct keel_kernel_info ki = { 0 };
    keel_debug_kernel_info(bench_dbg, &ki);
    keel_printf("keelbench: %s kernel, fastpath %s, TSC %llu kHz, timer %llu Hz, PCID %s, INVPCID %s\n",
                (ki.flags & KEEL_KERNEL_INFO_DEBUG) ? "DEBUG" : "release",
                (ki.flags & KEEL_KERNEL_INFO_FASTPATH) ? "on" : "off", (unsigned long long)ki.tsc_khz,
                (unsigned long long)ki.timer_hz, keel_bootinfo_has(bi, KEEL_FEATURE_PCID) ? "on" : "off",
                keel_bootinfo_has(bi, KEEL_FEATURE_INVPCID) ? "on" : "off");
    keel_printf("keelbench: unit %s (%s)\n", bench_unit,
                bench_icount ? "QEMU -icount: each TSC tick is one guest instruction, repeatable"
                             : "TSC cycles of the host: not repeatable, compare only within a run");
    if (ki.flags & KEEL_KERNEL_INFO_DEBUG)
        keel_printf("keelbench: WARNING: debug kernel, numbers are not the release ones\n");
    keel_printf("keelbench: %u warm-up + %u measured iterations per benchmark\n", BENCH_WARMUP, bench_iters);
    keel_printf("keelbench: %u CPU%s online\n", bi->cpu_count, bi->cpu_count == 1 ? "" : "s");

    int err = keel_untyped_alloc_init(bi);
    if (!err)
        err = keel_alloc_object(KEEL_OBJ_NOTIFICATION, 0, &bench_done);
    if (!err) {
        err = keel_vspace_clone_image(bi, &bench_clone, 0);
        if (err)
            keel_printf("keelbench: cannot clone the image VSpace: %s\n", keel_strerror(err));
    }
    if (!err)
        err = setup_thread_slots();
    if (err) {
        keel_printf("keelbench: set-up failed: %s\n", keel_strerror(err));
        keel_printf("BENCH-DONE\n");
        finish(1);
    }

    char filter[32] = "";
    cmdline_find("bench", filter, sizeof filter, true);
    for (unsigned g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        if (filter[0] && !contains(groups[g].name, filter))
            continue;
        keel_printf("keelbench: running %s\n", groups[g].name);
        bench_console(false);
        groups[g].fn();
        bench_console(true);
    }

    print_table();
    unsigned failed = 0;
    for (unsigned i = 0; i < nresults; i++) {
        print_json(&results[i]);
        failed += results[i].failed;
    }
    keel_printf("BENCH-DONE\n");
    finish(failed ? 1 : 0);
}
