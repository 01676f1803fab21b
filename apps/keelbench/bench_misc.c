/* Syscall entry/exit, scheduling (Yield, notification wake-up) and memory management (frame
 * map/unmap, Untyped retype). */
#include "bench.h"

/* ---- Null syscalls, measured by the root task itself (priority 255: nobody else can run) ---- */

static void timed_self(const char *name, const char *note, uint64_t nr, struct bench_regs *regs, uint64_t ovh)
{
    struct bench_result *r = bench_new(name, note);
    if (!r)
        return;
    struct keel_tlb_counters a = { 0 }, b;
    for (unsigned i = 0; i < bench_total; i++) {
        if (i == BENCH_WARMUP)
            a = bench_tlb_now();
        /* nr is one of a few constants: the asm needs it as an immediate */
        switch (nr) {
        case KEEL_SYS_YIELD: BENCH_SYSCALL(KEEL_SYS_YIELD, &bench_t[0][i], &bench_t[1][i], regs); break;
        case KEEL_SYS_CALL: BENCH_SYSCALL(KEEL_SYS_CALL, &bench_t[0][i], &bench_t[1][i], regs); break;
        case KEEL_SYS_SEND: BENCH_SYSCALL(KEEL_SYS_SEND, &bench_t[0][i], &bench_t[1][i], regs); break;
        case KEEL_SYS_NB_RECV: BENCH_SYSCALL(KEEL_SYS_NB_RECV, &bench_t[0][i], &bench_t[1][i], regs); break;
        }
    }
    b = bench_tlb_now();
    for (unsigned i = BENCH_WARMUP; i < bench_total; i++)
        bench_samples[i - BENCH_WARMUP] = bench_t[1][i] - bench_t[0][i];
    bench_stats(r, bench_samples, bench_iters, ovh);
    bench_tlb_per_op(r, &a, &b, bench_iters);
}

void bench_group_syscall(void)
{
    uint64_t ovh = bench_overhead();
    struct bench_regs regs = { 0 };
    timed_self("null_syscall", "Yield with no other thread at its priority: syscall round trip", KEEL_SYS_YIELD, &regs,
               ovh);

    uint64_t empty = 0;
    if (keel_slot_alloc(&empty) == 0) {
        regs = (struct bench_regs){ .cptr = empty };
        timed_self("syscall_invalid_cap", "Call on an empty slot: FAILED_LOOKUP error round trip", KEEL_SYS_CALL, &regs,
                   ovh);
    }

    uint64_t ntfn, ep;
    if (keel_alloc_object(KEEL_OBJ_NOTIFICATION, 0, &ntfn) == 0) {
        regs = (struct bench_regs){ .cptr = ntfn };
        timed_self("signal_no_waiter", "Signal a notification nobody waits on", KEEL_SYS_SEND, &regs, ovh);
        regs = (struct bench_regs){ .cptr = ntfn };
        timed_self("poll_empty_notification", "NBRecv (poll) on a notification with no bits set", KEEL_SYS_NB_RECV,
                   &regs, ovh);
    }
    if (keel_alloc_object(KEEL_OBJ_ENDPOINT, 0, &ep) == 0) {
        regs = (struct bench_regs){ .cptr = ep };
        timed_self("nbrecv_empty_endpoint", "NBRecv on an endpoint with no sender", KEEL_SYS_NB_RECV, &regs, ovh);
    }
}

/* ---- Yield between two threads; Signal -> Wait wake-up ---- */

struct pair_run {
    uint64_t obj;                    /* notification (signal) */
    struct keel_tlb_counters c0, c1; /* first thread's readings around its measured iterations */
};

/* Thread A: timestamps in bench_t[0] (before its yield) and [1] (after it returns). */
static void yield_a(void *arg)
{
    struct pair_run *r = arg;
    struct bench_regs regs = { 0 };
    unsigned i;
    for (i = 0; i < BENCH_WARMUP; i++)
        BENCH_SYSCALL(KEEL_SYS_YIELD, &bench_t[0][i], &bench_t[1][i], &regs);
    r->c0 = bench_tlb_now();
    for (; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_YIELD, &bench_t[0][i], &bench_t[1][i], &regs);
    r->c1 = bench_tlb_now();
    keel_signal(bench_done);
}

/* Thread B: [2] and [3]. B's i-th yield hands the CPU back to A's i-th yield, which returns:
 * one switch B -> A is bench_t[1][i] - bench_t[2][i]. */
static void yield_b(void *arg)
{
    struct bench_regs regs = { 0 };
    for (unsigned i = 0; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_YIELD, &bench_t[2][i], &bench_t[3][i], &regs);
    for (;;)
        keel_yield(); /* A must always find someone to yield to */
}

static void signaller(void *arg)
{
    struct pair_run *r = arg;
    struct bench_regs regs = { .cptr = r->obj };
    unsigned i;
    for (i = 0; i < BENCH_WARMUP; i++)
        BENCH_SYSCALL(KEEL_SYS_SEND, &bench_t[0][i], &bench_t[1][i], &regs);
    r->c0 = bench_tlb_now();
    for (; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_SEND, &bench_t[0][i], &bench_t[1][i], &regs);
    r->c1 = bench_tlb_now();
    keel_signal(bench_done);
}

static void waiter(void *arg)
{
    struct pair_run *r = arg;
    struct bench_regs regs = { .cptr = r->obj };
    for (unsigned i = 0; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_RECV, &bench_t[2][i], &bench_t[3][i], &regs);
}

static bool pair_deltas(const uint64_t *start, const uint64_t *end)
{
    for (unsigned i = BENCH_WARMUP; i < bench_total; i++) {
        if (end[i] < start[i] || start[i] == 0)
            return false;
        bench_samples[i - BENCH_WARMUP] = end[i] - start[i];
    }
    return true;
}

static void yield_pair(const char *name, bool cross, uint64_t ovh)
{
    char note[BENCH_NOTE_MAX];
    keel_snprintf(note, sizeof note, "Yield to the other thread at the same prio, %s, one switch",
                  cross ? "two VSpaces" : "one VSpace");
    struct bench_result *res = bench_new(name, note);
    if (!res)
        return;
    static struct pair_run r;
    r = (struct pair_run){ 0 };
    memset(bench_t, 0, sizeof bench_t);
    const struct bench_thread_spec specs[] = {
        { yield_a, &r, PRIO_MID, false, 0 },
        { yield_b, &r, PRIO_MID, cross, 0 },
    };
    int err = bench_run_threads(specs, 2);
    if (err)
        bench_fail(res, "run", err);
    else if (!pair_deltas(bench_t[2], bench_t[1]))
        bench_fail(res, "timestamps out of order", KEEL_E_ILLEGAL_OPERATION);
    else
        bench_stats(res, bench_samples, bench_iters, ovh);
    bench_tlb_per_op(res, &r.c0, &r.c1, 2 * bench_iters); /* A's loop covers two switches per iteration */
}

static void signal_wake(const char *name, bool cross, uint64_t ovh)
{
    char note[BENCH_NOTE_MAX];
    keel_snprintf(note, sizeof note, "Signal -> Wait returns in a higher-prio thread (%d > %d), %s", PRIO_HIGH,
                  PRIO_MID, cross ? "two VSpaces" : "one VSpace");
    struct bench_result *res = bench_new(name, note);
    if (!res)
        return;
    static struct pair_run r;
    r = (struct pair_run){ 0 };
    memset(bench_t, 0, sizeof bench_t);
    int err = keel_alloc_object(KEEL_OBJ_NOTIFICATION, 0, &r.obj);
    if (!err) {
        const struct bench_thread_spec specs[] = {
            { waiter, &r, PRIO_HIGH, cross, 0 },
            { signaller, &r, PRIO_MID, false, 0 },
        };
        err = bench_run_threads(specs, 2);
        keel_free_object(r.obj);
    }
    if (err)
        bench_fail(res, "run", err);
    else if (!pair_deltas(bench_t[0], bench_t[3]))
        bench_fail(res, "timestamps out of order", KEEL_E_ILLEGAL_OPERATION);
    else
        bench_stats(res, bench_samples, bench_iters, ovh);
    bench_tlb_per_op(res, &r.c0, &r.c1, bench_iters);
}

void bench_group_sched(void)
{
    uint64_t ovh = bench_overhead();
    yield_pair("yield_switch_same", false, ovh);
    yield_pair("yield_switch_cross", true, ovh);
    signal_wake("signal_wake_higher", true, ovh);
    signal_wake("signal_wake_higher_same", false, ovh);
}

/* ---- Frames and Untyped, timed in C around libkeel's wrappers (what a program really calls) ---- */

#define MAP_VA 0x0000006000000000ull /* a 2 MiB-aligned region of our VSpace with nothing in it */
#define BIG_PAGES 512
#define BIG_WARMUP 4
#define BIG_ITERS 32

static uint64_t big_frames[BIG_PAGES];

static void frame_one(uint64_t ovh)
{
    struct bench_result *rm = bench_new("frame_map_1", "Frame Map of 1 page (4 KiB, RW) into a present page table");
    struct bench_result *ru = bench_new("frame_unmap_1", "Frame Unmap of that page (INVLPG)");
    struct bench_result *rb = bench_new("frame_map_unmap_1", "Frame Map + Unmap of 1 page");
    if (!rm || !ru || !rb)
        return;
    uint64_t f;
    int err = keel_alloc_object(KEEL_OBJ_FRAME_4K, 0, &f);
    if (!err) /* makes the page tables on the way, which then stay */
        err = keel_vspace_map_frame(f, KEEL_SLOT_VSPACE, MAP_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, KEEL_CACHE_WB, 0);
    if (!err)
        err = keel_frame_unmap(f);
    struct keel_tlb_counters a = { 0 }, b;
    for (unsigned i = 0; i < bench_total && !err; i++) {
        if (i == BENCH_WARMUP)
            a = bench_tlb_now();
        uint64_t t0 = bench_rdtsc();
        err = keel_frame_map(f, KEEL_SLOT_VSPACE, MAP_VA, KEEL_MAP_READ | KEEL_MAP_WRITE, KEEL_CACHE_WB);
        uint64_t t1 = bench_rdtsc();
        if (!err)
            err = keel_frame_unmap(f);
        uint64_t t2 = bench_rdtsc();
        bench_t[0][i] = t1 - t0;
        bench_t[1][i] = t2 - t1;
        bench_t[2][i] = t2 - t0;
    }
    b = bench_tlb_now();
    keel_free_object(f);
    if (err) {
        bench_fail(rm, "map/unmap", err);
        bench_fail(ru, "map/unmap", err);
        bench_fail(rb, "map/unmap", err);
        return;
    }
    struct bench_result *res[3] = { rm, ru, rb };
    for (unsigned k = 0; k < 3; k++) {
        memcpy(bench_samples, &bench_t[k][BENCH_WARMUP], bench_iters * sizeof(uint64_t));
        bench_stats(res[k], bench_samples, bench_iters, ovh);
    }
    /* The counters cover map + unmap together (the unmap is the one that flushes). */
    bench_tlb_per_op(rb, &a, &b, bench_iters);
}

static void frame_512(uint64_t ovh, bool batch)
{
    struct bench_result *r =
        batch ? bench_new("frame_map_unmap_512_batch",
                          "Map 512 pages one by one, unmap them with UnmapBatch (60 a call)")
              : bench_new("frame_map_unmap_512", "Map + Unmap of 512 pages (one 2 MiB page table), one call each");
    if (!r)
        return;
    int err = 0;
    unsigned made = 0;
    for (; made < BIG_PAGES && !err; made++)
        err = keel_alloc_object(KEEL_OBJ_FRAME_4K, 0, &big_frames[made]);
    /* Page tables first (the same PT as frame_one if that ran: MAP_VA's 2 MiB). */
    if (!err)
        err = keel_vspace_map_frame(big_frames[0], KEEL_SLOT_VSPACE, MAP_VA, KEEL_MAP_READ, KEEL_CACHE_WB, 0);
    if (!err)
        err = keel_frame_unmap(big_frames[0]);
    struct keel_tlb_counters a = { 0 }, b;
    for (unsigned it = 0; it < BIG_WARMUP + BIG_ITERS && !err; it++) {
        if (it == BIG_WARMUP)
            a = bench_tlb_now();
        uint64_t t0 = bench_rdtsc();
        for (unsigned p = 0; p < BIG_PAGES && !err; p++)
            err = keel_frame_map(big_frames[p], KEEL_SLOT_VSPACE, MAP_VA + p * 4096ull, KEEL_MAP_READ | KEEL_MAP_WRITE,
                                 KEEL_CACHE_WB);
        if (batch) {
            for (unsigned p = 0; p < BIG_PAGES && !err; p += KEEL_UNMAP_BATCH_MAX) {
                unsigned n = BIG_PAGES - p < KEEL_UNMAP_BATCH_MAX ? BIG_PAGES - p : KEEL_UNMAP_BATCH_MAX;
                uint64_t done = 0;
                err = keel_vspace_unmap_batch(KEEL_SLOT_VSPACE, &big_frames[p], n, &done);
            }
        } else {
            for (unsigned p = 0; p < BIG_PAGES && !err; p++)
                err = keel_frame_unmap(big_frames[p]);
        }
        uint64_t t1 = bench_rdtsc();
        if (it >= BIG_WARMUP)
            bench_samples[it - BIG_WARMUP] = t1 - t0;
    }
    b = bench_tlb_now();
    for (unsigned p = 0; p < made; p++)
        keel_free_object(big_frames[p]);
    if (err) {
        bench_fail(r, "map/unmap", err);
        return;
    }
    bench_stats(r, bench_samples, BIG_ITERS, ovh);
    bench_tlb_per_op(r, &a, &b, BIG_ITERS);
}

static void retype_delete(uint64_t ovh)
{
    struct bench_result *r =
        bench_new("untyped_retype_delete", "Untyped Retype of one 4 KiB frame, then delete its cap");
    if (!r)
        return;
    uint64_t ut, slot;
    /* Deleting the frame does not lower the watermark: give every iteration its own 4 KiB. */
    int err = keel_alloc_object(KEEL_OBJ_UNTYPED, 16ull << 20, &ut);
    if (!err)
        err = keel_slot_alloc(&slot);
    struct keel_tlb_counters a = { 0 }, b;
    for (unsigned i = 0; i < bench_total && !err; i++) {
        if (i == BENCH_WARMUP)
            a = bench_tlb_now();
        uint64_t t0 = bench_rdtsc();
        err = keel_untyped_retype(ut, KEEL_OBJ_FRAME_4K, 0, 0, 0, slot, 1);
        if (!err)
            err = keel_cspace_delete(slot);
        uint64_t t1 = bench_rdtsc();
        if (i >= BENCH_WARMUP)
            bench_samples[i - BENCH_WARMUP] = t1 - t0;
    }
    b = bench_tlb_now();
    if (err) {
        bench_fail(r, "retype/delete", err);
        return;
    }
    keel_cspace_revoke(ut);
    keel_free_object(ut);
    bench_stats(r, bench_samples, bench_iters, ovh);
    bench_tlb_per_op(r, &a, &b, bench_iters);
}

void bench_group_vspace(void)
{
    uint64_t ovh = bench_overhead_c();
    frame_one(ovh);
    frame_512(ovh, false);
    frame_512(ovh, true);
    retype_delete(ovh);
}
