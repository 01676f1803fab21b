/* SMP: IPC between CPUs, and Frame Unmap in a VSpace that runs on 0, 1 and 3 other CPUs, next to
 * the kernel's per-CPU counters (shootdown IPIs sent and received, INVLPG and whole flushes done
 * for them, lazy flushes, big-lock acquisitions and contended acquisitions).
 *
 * What the counter counts here. Under QEMU -icount TCG runs every vCPU on one host thread, one
 * after the other, and the TSC of every vCPU is the same virtual clock: the instructions executed
 * by all vCPUs together (plus jumps to the next timer when every vCPU is halted). So timestamps
 * taken on different CPUs are comparable, and a delta is the number of instructions *all* CPUs
 * executed in between, idle ones contributing nothing. The unit is therefore "insn_all_cpus".
 * A vCPU keeps the host thread until it halts, executes PAUSE (TCG's PAUSE hands the thread to
 * the next vCPU) or reaches the next timer deadline; the kernel's lock and answer-wait loops use
 * PAUSE, and so do the remote threads below, so a waiting CPU gives way at once and a spinning
 * remote adds only a few instructions per turn instead of a whole time slice.
 *
 * Remote CPUs in a VSpace's set: threads of the measuring VSpace pinned to CPUs 1..n with TCB
 * SetAffinity. "rN" keeps them spinning in user mode (PAUSE loop): those CPUs are running the
 * VSpace, so every unmap must interrupt each of them. "r3idle" lets them run once and then block
 * on a notification: the CPUs stay in the set (their CR3 still holds the VSpace while idle) but
 * run nothing of it, so an unmap must not interrupt them; they flush lazily when they next load
 * it, which the run checks at the end by waking them once. */
#include "bench.h"

#define SMP_CPUS_MAX 8                     /* counters are read for at most this many CPUs */
#define SMP_VA 0x0000007000000000ull       /* an empty 2 MiB of our VSpace */
#define REMOTES_MAX 3
#define BIG_PAGES 512
#define BIG_WARMUP 4
#define BIG_ITERS 32
#define WAIT_TURNS 20000000ull             /* PAUSE turns to wait for a remote thread before giving up */

static unsigned ncpu;

/* ---- Counters of every CPU ---- */

struct smp_snap {
    struct keel_tlb_counters c[SMP_CPUS_MAX];
};

static void snap(struct smp_snap *s)
{
    for (unsigned i = 0; i < ncpu; i++)
        keel_debug_tlb_counters(bench_dbg, i, &s->c[i]);
}

static uint64_t x100(uint64_t delta, uint64_t ops) { return ops ? (delta * 100 + ops / 2) / ops : 0; }

/* Appends `"key":[v0,v1,...]` (per op, two decimals) for one counter of every CPU. */
static size_t put_array(char *buf, size_t size, size_t n, const char *key, const uint64_t *delta, uint64_t ops)
{
    n += (size_t)keel_snprintf(buf + n, n < size ? size - n : 0, ",\"%s\":[", key);
    for (unsigned i = 0; i < ncpu; i++) {
        char v[24];
        bench_fmt_x100(v, sizeof v, x100(delta[i], ops));
        n += (size_t)keel_snprintf(buf + n, n < size ? size - n : 0, "%s%s", i ? "," : "", v);
    }
    return n + (size_t)keel_snprintf(buf + n, n < size ? size - n : 0, "]");
}

/* The counter deltas between two readings, per operation, into r->json and r->detail. The
 * reading thread ran on CPU 0: its 2 * ncpu Debug invocations took the lock there ncpu times
 * inside the window, which is taken out. `mask` is the VSpace's CPU set during the run (or
 * NO_MASK). */
#define NO_MASK (~0ull)
static void smp_report(struct bench_result *r, const struct smp_snap *a, const struct smp_snap *b, uint64_t ops,
                       uint64_t mask)
{
    uint64_t sent = 0, recv = 0, rinvlpg = 0, rfull = 0;
    uint64_t d_recv[SMP_CPUS_MAX], d_lazy[SMP_CPUS_MAX], d_acq[SMP_CPUS_MAX], d_cont[SMP_CPUS_MAX];
    for (unsigned i = 0; i < ncpu; i++) {
        sent += b->c[i].shootdown_sent - a->c[i].shootdown_sent;
        d_recv[i] = b->c[i].shootdown_received - a->c[i].shootdown_received;
        d_lazy[i] = b->c[i].lazy_flush - a->c[i].lazy_flush;
        d_acq[i] = b->c[i].lock_acquired - a->c[i].lock_acquired;
        d_cont[i] = b->c[i].lock_contended - a->c[i].lock_contended;
        if (i) { /* the remote CPUs' flush work: everything they flushed was for a shootdown */
            recv += d_recv[i];
            rinvlpg += b->c[i].invlpg - a->c[i].invlpg;
            rfull += b->c[i].full_flush - a->c[i].full_flush;
        }
    }
    d_acq[0] = d_acq[0] >= ncpu ? d_acq[0] - ncpu : 0;
    bench_tlb_per_op(r, &a->c[0], &b->c[0], ops);

    char s_sent[24], s_pages[24], s_full[24];
    bench_fmt_x100(s_sent, sizeof s_sent, x100(sent, ops));
    bench_fmt_x100(s_pages, sizeof s_pages, x100(rinvlpg, recv));
    bench_fmt_x100(s_full, sizeof s_full, x100(rfull, recv));
    size_t n = 0, size = sizeof r->json;
    n += (size_t)keel_snprintf(r->json, size, ",\"smp\":{\"cpus\":%u,\"ops\":%llu", ncpu, (unsigned long long)ops);
    if (mask != NO_MASK)
        n += (size_t)keel_snprintf(r->json + n, n < size ? size - n : 0, ",\"cpu_mask\":\"0x%llx\"",
                                   (unsigned long long)mask);
    n += (size_t)keel_snprintf(r->json + n, n < size ? size - n : 0,
                               ",\"ipi_sent\":%s,\"remote_invlpg_per_ipi\":%s,\"remote_full_flush_per_ipi\":%s", s_sent,
                               s_pages, s_full);
    n = put_array(r->json, size, n, "ipi_received", d_recv, ops);
    n = put_array(r->json, size, n, "lazy_flush", d_lazy, ops);
    n = put_array(r->json, size, n, "lock_acquired", d_acq, ops);
    n = put_array(r->json, size, n, "lock_contended", d_cont, ops);
    keel_snprintf(r->json + n, n < size ? size - n : 0, "}");

    /* The table gets the same in short: IPIs sent, received per CPU, lock per CPU. */
    size_t m = 0;
    if (mask != NO_MASK)
        m = (size_t)keel_snprintf(r->detail, sizeof r->detail, "mask 0x%llx ", (unsigned long long)mask);
    m += (size_t)keel_snprintf(r->detail + m, sizeof r->detail - m, "IPIs %s/op recv", s_sent);
    for (unsigned i = 0; i < ncpu && m < sizeof r->detail; i++) {
        char v[24];
        bench_fmt_x100(v, sizeof v, x100(d_recv[i], ops));
        m += (size_t)keel_snprintf(r->detail + m, sizeof r->detail - m, " %s", v);
    }
    for (unsigned i = 0; i < ncpu && m < sizeof r->detail; i++) {
        char v[24], w[24];
        bench_fmt_x100(v, sizeof v, x100(d_acq[i], ops));
        bench_fmt_x100(w, sizeof w, x100(d_cont[i], ops));
        m += (size_t)keel_snprintf(r->detail + m, sizeof r->detail - m, "%s%s/%s", i ? " " : "; lock ", v, w);
    }
}

static struct bench_result *smp_new(const char *name, const char *note, unsigned need_cpus)
{
    struct bench_result *r = bench_new(name, note);
    if (r) {
        r->unit = bench_icount ? "insn_all_cpus" : bench_unit;
        if (bench_bi->cpu_count < need_cpus)
            keel_snprintf(r->skipped, sizeof r->skipped, "needs %u CPUs, %u online", need_cpus, bench_bi->cpu_count);
    }
    return r;
}

static uint64_t vspace_mask(uint64_t vspace)
{
    struct keel_vspace_info info = { 0 };
    keel_debug_vspace_info(bench_dbg, vspace, &info);
    return info.cpu_mask;
}

/* ---- IPC between CPUs: client on CPU 0, server on CPU 0 or 1 ---- */

struct xipc {
    uint64_t ep, reply;
    struct smp_snap a, b;
};

static void xclient(void *arg)
{
    struct xipc *x = arg;
    struct bench_regs regs = { .cptr = x->ep, .info = keel_msginfo(1, 0, 0) };
    unsigned i;
    for (i = 0; i < BENCH_WARMUP; i++)
        BENCH_SYSCALL(KEEL_SYS_CALL, &bench_t[0][i], &bench_t[1][i], &regs);
    snap(&x->a);
    for (; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_CALL, &bench_t[0][i], &bench_t[1][i], &regs);
    snap(&x->b);
    keel_signal(bench_done);
}

static void xserver(void *arg)
{
    struct xipc *x = arg;
    struct bench_regs regs = { .cptr = x->ep, .reply = x->reply, .info = keel_msginfo(2, 0, 0) };
    uint64_t scratch;
    BENCH_SYSCALL(KEEL_SYS_RECV, &scratch, &bench_t[3][0], &regs);
    for (unsigned i = 0; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_REPLY_RECV, &bench_t[2][i], &bench_t[3][i + 1], &regs);
}

static bool deltas(const uint64_t *start, const uint64_t *end)
{
    for (unsigned i = BENCH_WARMUP; i < bench_total; i++) {
        if (end[i] < start[i] || start[i] == 0)
            return false;
        bench_samples[i - BENCH_WARMUP] = end[i] - start[i];
    }
    return true;
}

static void ipc_pair(const char *suffix, unsigned server_cpu, bool cross, uint64_t ovh)
{
    static const char *const what[3] = { "Call one-way", "ReplyRecv one-way back", "Call->ReplyRecv round trip" };
    static const char *const kind[3] = { "call", "replyrecv", "roundtrip" };
    struct bench_result *res[3];
    for (unsigned k = 0; k < 3; k++) {
        char name[BENCH_NAME_MAX], note[BENCH_NOTE_MAX];
        keel_snprintf(name, sizeof name, "smp_ipc_%s_%s", kind[k], suffix);
        keel_snprintf(note, sizeof note, "%s, 0 words, %s, client CPU 0, server CPU %u", what[k],
                      cross ? "two VSpaces" : "one VSpace", server_cpu);
        if (!(res[k] = smp_new(name, note, server_cpu + 1)))
            return;
    }
    if (res[0]->skipped[0])
        return;
    static struct xipc x;
    x = (struct xipc){ 0 };
    memset(bench_t, 0, sizeof bench_t);
    int err = keel_alloc_object(KEEL_OBJ_ENDPOINT, 0, &x.ep);
    if (!err)
        err = keel_alloc_object(KEEL_OBJ_REPLY, 0, &x.reply);
    if (!err) {
        const struct bench_thread_spec specs[] = {
            { xserver, &x, PRIO_MID, cross, server_cpu },
            { xclient, &x, PRIO_MID, false, 0 },
        };
        err = bench_run_threads(specs, 2);
    }
    keel_free_object(x.ep);
    keel_free_object(x.reply);
    /* Call: client before -> server after; ReplyRecv: server before -> client after; round trip:
     * the client's own pair. The first two mix two CPUs' timestamps: one clock, so comparable. */
    const uint64_t *from[3] = { bench_t[0], bench_t[2], bench_t[0] }, *to[3] = { bench_t[3], bench_t[1], bench_t[1] };
    for (unsigned k = 0; k < 3; k++) {
        if (err) {
            bench_fail(res[k], "run", err);
            continue;
        }
        if (!deltas(from[k], to[k])) {
            bench_fail(res[k], "timestamps out of order", KEEL_E_ILLEGAL_OPERATION);
            continue;
        }
        bench_stats(res[k], bench_samples, bench_iters, ovh);
        /* Per one-way message for the one-way results, per round trip for the round trip. */
        smp_report(res[k], &x.a, &x.b, k == 2 ? bench_iters : 2 * bench_iters, NO_MASK);
    }
}

/* ---- Threads of our VSpace on other CPUs ---- */

struct remote {
    volatile uint64_t count;
    volatile int stop;
    bool park;      /* block on ntfn after each turn instead of spinning */
    uint64_t ntfn;
};

static struct remote remotes[REMOTES_MAX];
static struct keel_thread remote_threads[REMOTES_MAX];
static uint8_t remote_stacks[REMOTES_MAX][8192] __attribute__((aligned(16)));
static unsigned nremotes;

static void remote_fn(void *arg)
{
    struct remote *r = arg;
    while (!r->stop) {
        r->count++;
        if (r->park) {
            uint64_t word;
            keel_wait(r->ntfn, &word);
        } else {
            __asm__ volatile("pause"); /* lets the next vCPU have QEMU's thread (see the top) */
        }
    }
}

/* Until every remote has counted to `target` (parked ones: and blocked again). */
static int remotes_reach(uint64_t target)
{
    for (unsigned i = 0; i < nremotes; i++) {
        uint64_t turns = 0;
        while (remotes[i].count < target && ++turns < WAIT_TURNS)
            __asm__ volatile("pause");
        if (remotes[i].count < target)
            return KEEL_E_RANGE;
        struct keel_tcb_info info = { 0 };
        while (remotes[i].park && ++turns < WAIT_TURNS) {
            if (keel_tcb_get_info(remote_threads[i].tcb, &info) == 0 && info.state == KEEL_THREAD_BLOCKED_NOTIFICATION)
                break;
            __asm__ volatile("pause");
        }
        if (turns >= WAIT_TURNS)
            return KEEL_E_RANGE;
    }
    return 0;
}

static void remotes_stop(void)
{
    for (unsigned i = 0; i < nremotes; i++) {
        remotes[i].stop = 1;
        keel_thread_destroy(&remote_threads[i]); /* evicts a spinning one from its CPU */
        keel_free_object(remotes[i].ntfn);
    }
    nremotes = 0;
}

/* n threads of our VSpace on CPUs 1..n, each running once at least before this returns. */
static int remotes_start(unsigned n, bool park)
{
    int err = 0;
    for (unsigned i = 0; i < n && !err; i++) {
        remotes[i] = (struct remote){ .park = park };
        err = keel_alloc_object(KEEL_OBJ_NOTIFICATION, 0, &remotes[i].ntfn);
        if (err)
            break;
        struct keel_thread_config cfg = {
            .entry = remote_fn, .arg = &remotes[i], .stack_top = remote_stacks[i] + sizeof remote_stacks[i],
            .priority = PRIO_MID,
        };
        err = keel_thread_create(&remote_threads[i], &cfg);
        if (err) {
            keel_free_object(remotes[i].ntfn);
            break;
        }
        nremotes++;
        err = keel_tcb_set_affinity(remote_threads[i].tcb, i + 1);
        if (!err)
            err = keel_thread_start(&remote_threads[i]);
    }
    if (!err)
        err = remotes_reach(1);
    if (err)
        remotes_stop();
    return err;
}

/* ---- Unmaps ---- */

static uint64_t big_frames[BIG_PAGES];

static int map_all(unsigned pages)
{
    int err = 0;
    for (unsigned p = 0; p < pages && !err; p++)
        err = keel_frame_map(big_frames[p], KEEL_SLOT_VSPACE, SMP_VA + p * 4096ull, KEEL_MAP_READ | KEEL_MAP_WRITE,
                             KEEL_CACHE_WB);
    return err;
}

/* kind 0: Frame Unmap of 1 page; 1: 512 Frame Unmaps; 2: the 512 pages with UnmapBatch. */
static void unmap_run(struct bench_result *r, unsigned kind, uint64_t ovh)
{
    unsigned pages = kind ? BIG_PAGES : 1, warm = kind ? BIG_WARMUP : BENCH_WARMUP;
    unsigned iters = kind ? BIG_ITERS : bench_iters;
    unsigned calls = kind == 0 ? 1 : kind == 1 ? BIG_PAGES : (BIG_PAGES + KEEL_UNMAP_BATCH_MAX - 1) / KEEL_UNMAP_BATCH_MAX;
    static struct smp_snap a, b;
    uint64_t mask = vspace_mask(KEEL_SLOT_VSPACE);
    int err = 0;
    for (unsigned it = 0; it < warm + iters && !err; it++) {
        if (it == warm) {
            mask = vspace_mask(KEEL_SLOT_VSPACE);
            snap(&a);
        }
        err = map_all(pages);
        uint64_t t0 = bench_rdtsc();
        if (kind == 2) {
            for (unsigned p = 0; p < pages && !err; p += KEEL_UNMAP_BATCH_MAX) {
                unsigned n = pages - p < KEEL_UNMAP_BATCH_MAX ? pages - p : KEEL_UNMAP_BATCH_MAX;
                uint64_t done = 0;
                err = keel_vspace_unmap_batch(KEEL_SLOT_VSPACE, &big_frames[p], n, &done);
            }
        } else {
            for (unsigned p = 0; p < pages && !err; p++)
                err = keel_frame_unmap(big_frames[p]);
        }
        uint64_t t1 = bench_rdtsc();
        if (it >= warm)
            bench_samples[it - warm] = t1 - t0;
    }
    snap(&b);
    if (err) {
        bench_fail(r, "unmap", err);
        return;
    }
    bench_stats(r, bench_samples, iters, ovh);
    smp_report(r, &a, &b, (uint64_t)iters * calls, mask);
}

/* One remote set-up ("r0", "r1", "r3", "r3idle"): 1 page, 512 pages one by one, 512 batched. */
static void unmap_config(unsigned n, bool park, uint64_t ovh)
{
    char sfx[12], how[48];
    keel_snprintf(sfx, sizeof sfx, "r%u%s", n, park ? "idle" : "");
    if (!n)
        keel_snprintf(how, sizeof how, "no other CPU runs the VSpace");
    else if (n == 1)
        keel_snprintf(how, sizeof how, "CPU 1 %s", park ? "in its set, idle" : "spins in it");
    else
        keel_snprintf(how, sizeof how, "CPUs 1-%u %s", n, park ? "in its set, idle" : "spin in it");
    static const char *const what[3] = { "Frame Unmap of 1 page", "512 Frame Unmaps (one 2 MiB PT), per 512",
                                         "UnmapBatch of 512 pages (9 calls), per 512" };
    static const char *const kind[3] = { "1", "512", "512_batch" };
    struct bench_result *res[3];
    for (unsigned k = 0; k < 3; k++) {
        char name[BENCH_NAME_MAX], note[BENCH_NOTE_MAX];
        keel_snprintf(name, sizeof name, "smp_unmap_%s_%s", kind[k], sfx);
        keel_snprintf(note, sizeof note, "%s; %s", what[k], how);
        if (!(res[k] = smp_new(name, note, n + 1)))
            return;
    }
    if (res[0]->skipped[0])
        return;
    int err = remotes_start(n, park);
    for (unsigned k = 0; k < 3; k++) {
        if (err)
            bench_fail(res[k], "remote threads", err);
        else
            unmap_run(res[k], k, ovh);
    }
    if (!err && park) {
        /* Wake each parked thread once: its CPU loads the VSpace, which went stale, and flushes. */
        static struct smp_snap a, b;
        snap(&a);
        for (unsigned i = 0; i < nremotes; i++)
            keel_signal(remotes[i].ntfn);
        err = remotes_reach(2);
        snap(&b);
        size_t m = strlen(res[0]->detail);
        m += (size_t)keel_snprintf(res[0]->detail + m, sizeof res[0]->detail - m, "; lazy flushes at wake-up:");
        size_t j = strlen(res[0]->json) - 1; /* before the closing brace of "smp" */
        j += (size_t)keel_snprintf(res[0]->json + j, sizeof res[0]->json - j, ",\"lazy_flush_at_wakeup\":[");
        for (unsigned i = 0; i < ncpu; i++) {
            unsigned long long d = b.c[i].lazy_flush - a.c[i].lazy_flush;
            m += (size_t)keel_snprintf(res[0]->detail + m, m < sizeof res[0]->detail ? sizeof res[0]->detail - m : 0,
                                       " %llu", d);
            j += (size_t)keel_snprintf(res[0]->json + j, j < sizeof res[0]->json ? sizeof res[0]->json - j : 0,
                                       "%s%llu", i ? "," : "", d);
        }
        keel_snprintf(res[0]->json + j, j < sizeof res[0]->json ? sizeof res[0]->json - j : 0, "]}");
        if (err)
            bench_fail(res[0], "parked threads did not wake", err);
    }
    remotes_stop();
}

void bench_group_smp(void)
{
    ncpu = bench_bi->cpu_count < SMP_CPUS_MAX ? bench_bi->cpu_count : SMP_CPUS_MAX;
    if (bench_bi->cpu_count < 2) {
        struct bench_result *r = bench_new("smp", "SMP group: IPC across CPUs, unmap with remote CPUs");
        if (r)
            keel_snprintf(r->skipped, sizeof r->skipped, "needs 2 CPUs, %u online", bench_bi->cpu_count);
        return;
    }
    /* Unmaps first: until then only CPU 0 has run our VSpace, so "r0" has a set of {0}. */
    uint64_t ovh_c = bench_overhead_c();
    int err = 0;
    unsigned made = 0;
    for (; made < BIG_PAGES && !err; made++)
        err = keel_alloc_object(KEEL_OBJ_FRAME_4K, 0, &big_frames[made]);
    if (!err) /* the page tables for SMP_VA, made once */
        err = keel_vspace_map_frame(big_frames[0], KEEL_SLOT_VSPACE, SMP_VA, KEEL_MAP_READ, KEEL_CACHE_WB, 0);
    if (!err)
        err = keel_frame_unmap(big_frames[0]);
    if (err) {
        bench_fail(bench_new("smp_unmap", "set-up"), "frames", err);
    } else {
        unmap_config(0, false, ovh_c);
        unmap_config(1, false, ovh_c);
        unmap_config(3, false, ovh_c);
        unmap_config(3, true, ovh_c);
    }
    for (unsigned p = 0; p < made; p++)
        keel_free_object(big_frames[p]);

    uint64_t ovh = bench_overhead();
    ipc_pair("cpu0_cross", 0, true, ovh);
    ipc_pair("xcpu_cross", 1, true, ovh);
    ipc_pair("xcpu_same", 1, false, ovh);
}
