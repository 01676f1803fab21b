/* keelbench: hot-cache microbenchmarks of the kernel, measured with the time-stamp counter.
 *
 * Method (the one sel4bench uses, so the numbers compare): every operation is timed by a pair of
 * `lfence; rdtsc` reads; for a one-way IPC the sender reads the counter just before its syscall
 * and the receiver just after its own syscall returns (the timestamps meet in shared memory:
 * a server in another VSpace runs the same image, whose data frames are shared). The cost of the
 * same instruction sequence with the `syscall` replaced by a `nop` (the overhead) is measured on
 * its own and subtracted from every sample. Warm-up iterations are discarded.
 *
 * Under QEMU -icount shift=0 the TSC advances by one per guest instruction, so a delta is an
 * instruction count and repeats exactly run to run (unit "insn"); otherwise it is TSC cycles. */
#ifndef KEELBENCH_H
#define KEELBENCH_H

#include <keel/abi.h>
#include <keel/alloc.h>
#include <keel/bootinfo.h>
#include <keel/errors.h>
#include <keel/invoke.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>
#include <keel/thread.h>
#include <keel/vspace.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- The counter ---- */
static inline uint64_t bench_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Registers of one timed syscall (abi.h: RDI cptr, RSI info, RDX/R10/R8/R9 MR0-3, R12 reply). */
struct bench_regs {
    uint64_t cptr, info, reply, mr0, mr1, mr2, mr3;
};

/* One timed syscall, written out in assembly so that the timed window holds nothing but the
 * syscall and a fixed handful of instructions around it (libkeel's stubs copy a struct in and out,
 * which would land inside the window):
 *
 *   lfence; rdtsc; shl; or; mov %rax,(start)   <- the counter just before
 *   mov MR0,%rdx; mov $NR,%eax; INSN           <- INSN = syscall, or nop for the overhead run
 *   lfence; rdtsc; shl; or; mov %rax,(end)     <- the counter just after it returns
 *
 * Everything else is loaded before the first rdtsc. In a one-way measurement the first half runs
 * in the sender and the second in the receiver (which is itself returning from its own timed
 * syscall), so the instruction sequence around the syscall is exactly the one the nop run times. */
#define BENCH_TIMED_ASM(INSN)                                                                      \
    "lfence\n\trdtsc\n\tshl $32, %%rdx\n\tor %%rdx, %%rax\n\tmov %%rax, (%[s])\n\t"                 \
    "mov %[m0], %%rdx\n\tmov %[nr], %%eax\n\t" INSN "\n\t"                                          \
    "lfence\n\trdtsc\n\tshl $32, %%rdx\n\tor %%rdx, %%rax\n\tmov %%rax, (%[e])"

#define BENCH_TIMED(INSN, NR, start_ptr, end_ptr, regs)                                            \
    do {                                                                                           \
        register uint64_t bt_rdi_ __asm__("rdi") = (regs)->cptr;                                  \
        register uint64_t bt_rsi_ __asm__("rsi") = (regs)->info;                                  \
        register uint64_t bt_r10_ __asm__("r10") = (regs)->mr1;                                   \
        register uint64_t bt_r8_ __asm__("r8") = (regs)->mr2;                                     \
        register uint64_t bt_r9_ __asm__("r9") = (regs)->mr3;                                     \
        register uint64_t bt_r12_ __asm__("r12") = (regs)->reply;                                 \
        __asm__ volatile(BENCH_TIMED_ASM(INSN)                                                     \
                         : "+r"(bt_rdi_), "+r"(bt_r10_), "+r"(bt_r8_), "+r"(bt_r9_)                \
                         : "r"(bt_rsi_), "r"(bt_r12_), [s] "r"(start_ptr), [e] "r"(end_ptr),       \
                           [m0] "r"((regs)->mr0), [nr] "i"(NR)                                     \
                         : "rax", "rcx", "rdx", "r11", "memory");                                  \
    } while (0)

#define BENCH_SYSCALL(NR, start_ptr, end_ptr, regs) BENCH_TIMED("syscall", NR, start_ptr, end_ptr, regs)
#define BENCH_NOP(NR, start_ptr, end_ptr, regs) BENCH_TIMED("nop", NR, start_ptr, end_ptr, regs)

/* ---- Run parameters ---- */
#define BENCH_WARMUP 64          /* iterations discarded before the measured ones */
#define BENCH_ITERS_MAX 2048     /* measured iterations of the fast operations (default) */
#define BENCH_TOTAL_MAX (BENCH_WARMUP + BENCH_ITERS_MAX)
/* Measured iterations this run (iters=N on the command line lowers it, e.g. for a short
 * instruction trace), and warm-up + measured. */
extern unsigned bench_iters, bench_total;

/* Thread priorities: the root task (main) stays at 255 and waits while the measured threads run. */
#define PRIO_LOW 100
#define PRIO_MID 150
#define PRIO_HIGH 200

/* ---- Results ---- */
#define BENCH_MAX_RESULTS 96
#define BENCH_NAME_MAX 40
#define BENCH_NOTE_MAX 96

/* TLB work per operation, in hundredths (the kernel's counters, read before and after the run). */
struct bench_tlb {
    uint64_t cr3_flush, cr3_noflush, invlpg, invpcid, full_flush; /* x100 */
    bool valid;
};

struct bench_result {
    char name[BENCH_NAME_MAX];
    char note[BENCH_NOTE_MAX];  /* what was measured, for the table and the JSON */
    const char *unit;           /* "insn" / "cycles", or e.g. "insn/request" */
    uint64_t iterations;
    uint64_t min, median, max;
    uint64_t mean_x10;          /* mean, tenths */
    uint64_t overhead;          /* subtracted from every sample */
    struct bench_tlb tlb;
    /* extra numbers (channel): name/value x100 pairs */
    unsigned nextra;
    const char *extra_name[4];
    uint64_t extra_x100[4];
    /* SMP group: extra JSON members (",\"smp\":{...}", appended as they are) and a line for the
     * human table; a result that could not run on this machine says why in `skipped`. */
    char json[512];
    char detail[160];
    char skipped[64];
    bool failed;
    char error[80];
};

/* Sample buffers shared by all benchmarks (one benchmark runs at a time). In .bss, so a thread
 * in the cloned VSpace writes the very same memory. */
extern uint64_t bench_t[4][BENCH_TOTAL_MAX + 2];
extern uint64_t bench_samples[BENCH_TOTAL_MAX];

extern const struct keel_bootinfo *bench_bi;
extern bool bench_icount;         /* TSC counts instructions */
extern const char *bench_unit;    /* "insn" or "cycles" */
extern uint64_t bench_clone;      /* a second VSpace running this image */
extern uint64_t bench_dbg;        /* debug cap */

/* Bind (true) or unbind COM1, our console, to our VSpace. Unbound during measurements: output
 * is held back until it is bound again. */
void bench_console(bool on);

/* Overhead (minimum over many runs) of one BENCH_TIMED block with a nop instead of the syscall. */
uint64_t bench_overhead(void);
/* Overhead of an empty `lfence; rdtsc` ... `lfence; rdtsc` pair (for operations timed in C). */
uint64_t bench_overhead_c(void);

/* New result slot; NULL if the table is full. */
struct bench_result *bench_new(const char *name, const char *note);
void bench_fail(struct bench_result *r, const char *what, int err);
/* Fill min/median/mean/max from n samples (samples are sorted in place), minus `overhead`. */
void bench_stats(struct bench_result *r, uint64_t *samples, uint64_t n, uint64_t overhead);
/* TLB counters now; and per-operation difference (x100) of two readings over `ops` operations. */
struct keel_tlb_counters bench_tlb_now(void);
void bench_tlb_per_op(struct bench_result *r, const struct keel_tlb_counters *a, const struct keel_tlb_counters *b,
                      uint64_t ops);
void bench_extra(struct bench_result *r, const char *name, uint64_t value_x100);
/* "12.34" from 1234. */
void bench_fmt_x100(char *buf, size_t size, uint64_t v);

/* ---- Threads for a benchmark ---- */
#define BENCH_MAX_THREADS 3
struct bench_thread_spec {
    void (*fn)(void *);
    void *arg;
    int priority;
    bool cross;               /* run in the cloned VSpace */
    unsigned cpu;             /* affinity (TCB SetAffinity); 0, the boot CPU, is left alone */
};
/* Start the threads in order (each with its own stack and IPC buffer, mapped in both VSpaces),
 * block until one of them signals `bench_done`, then tear them all down. 0 or an error. */
int bench_run_threads(const struct bench_thread_spec *specs, unsigned n);
extern uint64_t bench_done;     /* notification the measuring thread signals when finished */
/* IPC buffer address of measured thread i (MR4.. of its messages live there). */
struct keel_ipc_buffer *bench_ipc_buffer(unsigned i);

/* ---- The benchmark groups ---- */
void bench_group_syscall(void);
void bench_group_ipc(void);
void bench_group_sched(void);
void bench_group_vspace(void);
void bench_group_channel(void);
void bench_group_smp(void);

#endif
