/* SMP stress. Three worker threads, homed on CPUs 1, 2, 3 (with fewer CPUs they wrap round to CPU
 * 0, which they then share with the root task), each with its own IPC buffer, run a seeded
 * (xorshift, one stream per worker) random mix of: map/unmap/remap/batch-unmap of their own frames
 * in their own VA range, with every page's contents checked after each map (a stale translation
 * shows the wrong frame); retype into their own slots from their own Untyped (frames mapped and
 * written, a PT mapped with a frame in it, endpoints, notifications, replies, a CNode holding a
 * copy, an Untyped with a child), delete, and revoke with the mappings checked gone; notification
 * pings to the next worker; and invocations that must fail with a given error. Worker 0 also
 * moves the others (and now and then itself) to random CPUs with SetAffinity; workers 1 and 2
 * play IPC ping-pong (Recv / ReplyRecv / Reply against Call, register-only and IPC-buffer
 * messages) with every word, label, length and badge checked. Every invocation's answer is
 * predictable from the worker's own state (workers only touch their own objects; all are made
 * by the root task beforehand, its allocators not being thread-safe), so any other answer is
 * recorded with its iteration and reported.
 *
 * The root task (CPU 0) runs the kernel's invariant checker every few milliseconds while it
 * waits, polling the done notification and the workers' fault endpoint, all with bounds: a lost
 * wakeup or a stall (no worker progress for STALL_MS) fails the test instead of hanging it. A CPU
 * stuck waiting for the big kernel lock is the kernel's own lock watchdog's (a panic naming the
 * holder). Each worker runs ITERS iterations, or stops early once BUDGET_MS has passed (a slow or
 * overloaded host), the ping-pong pair ending together. Afterwards a probe thread visits every
 * CPU: each must still run a thread moved to it and take timer ticks.
 *
 * A second test reproduces a specific hazard deterministically: an interrupt (a reschedule IPI)
 * taken from user mode on CPU 1, whose thread is evicted while CPU 1 waits for the lock. */
#include "ktest.h"

#define DBG KEEL_SLOT_DEBUG
#define VS KEEL_SLOT_VSPACE

#define NW 3              /* workers */
#define ITERS 2000        /* iterations per worker */
#define NFRAMES 4         /* persistent frames per worker */
#define NVA 8             /* page slots of a worker's own VA range */
#define NSLOTS 8          /* CNode slots a worker retypes into */
#define UT_BYTES (16 * 1024) /* small enough to fill now and then */
#define MAX_ERRS 4        /* error records kept per worker (all are counted) */
#define CHECK_EVERY_MS 5  /* invariant checker period */
#define POLL_EVERY_MS 1    /* done notification, fault endpoint, progress */
#define STALL_MS 10000    /* no worker progress for this long: fail */
#define BUDGET_MS 20000   /* then the workers are told to stop early (a slow or overloaded host) */
#define LIMIT_MS 120000   /* the whole run, stopping included */

/* 1 GiB aligned, one PDPT entry of its own. Worker w: pages at +w * 2 MiB (a PT made by the root
 * task), and a second 2 MiB range at +(8 + w) * 2 MiB where it maps PTs it retypes itself. */
#define STRESS_VA 0x0000005000000000ull
#define REGION(w) (STRESS_VA + (uint64_t)(w) * (2ull << 20))
#define DYN_REGION(w) (STRESS_VA + (uint64_t)(8 + (w)) * (2ull << 20))
#define SIG(w, k) (0x5157000000000000ull | ((uint64_t)(w) << 8) | (uint64_t)(k))
#define PP_BADGE 0xc0ffeeull
#define FAULT_BADGE(w) (0x100ull + (w))

enum op {
    OP_MAP, OP_UNMAP, OP_BADMAP, OP_REMAP, OP_BATCH, OP_RETYPE, OP_REVOKE, OP_DELETE, OP_SIGNAL, OP_POLL,
    OP_NBSEND, OP_MIGRATE, OP_IPC, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "map", "unmap", "badmap", "remap", "batch", "retype", "revoke", "delete", "signal", "poll", "nbsend",
    "migrate", "ipc",
};

/* What a retype slot holds. */
enum { SK_EMPTY, SK_FRAME, SK_EP, SK_NTFN, SK_REPLY, SK_CNODE, SK_PT, SK_UT, SK_UT_CHILD };

struct err_rec {
    uint32_t line, op;
    uint64_t iter;
    uint64_t got, want;
    uint64_t detail[3];
};

struct worker {
    /* Set by the root task before the start. */
    unsigned id, cpus;
    uint64_t seed;
    uint64_t tcb;
    uint64_t frames[NFRAMES];
    uint64_t ut, slot0;            /* own Untyped; first of NSLOTS empty slots */
    uint64_t ntfn;                 /* own notification */
    uint64_t ntfn_next;            /* the next worker's notification, badged 1 << id */
    uint64_t ep_nobody;            /* an endpoint nobody ever receives on */
    uint64_t done;                 /* the done notification, badged 1 << id */
    uint64_t fault_ep;             /* badged FAULT_BADGE(id) */
    /* Progress, read by the root task while the worker runs. */
    volatile uint64_t iter;
    volatile uint32_t op;
    uint64_t done_iters;
    volatile int finished;
    /* Results. */
    uint64_t counts[OP_COUNT];
    uint64_t signals_sent, signals_seen, full;
    unsigned nerr;
    struct err_rec errs[MAX_ERRS];
    /* The worker's own view of its objects. */
    int at[NVA];                   /* -1 empty, k < NFRAMES persistent frame, 16 + s retyped frame in slot s */
    int where[NFRAMES];            /* VA slot of persistent frame k, or -1 */
    uint8_t sk[NSLOTS];
    int slot_va[NSLOTS];           /* VA slot of a retyped frame, -1 none */
    uint64_t slot_nonce[NSLOTS];
    bool dyn_mapped;
    uint64_t map_count;
};

static struct worker W[NW];
static struct keel_thread th[NW];
static uint8_t stacks[NW][16384] __attribute__((aligned(16)));
static uint8_t ipc_pages[NW][4096] __attribute__((aligned(4096)));

/* Shared between the workers. */
static struct {
    uint64_t ep, ep_client, reply;       /* ping-pong: server = worker 1, client = worker 2 */
    volatile uint64_t last_cpu[NW];      /* affinity worker 0 last gave each worker */
    volatile uint64_t migrations;
    volatile uint64_t round_trips;
    volatile int stop;                   /* the time budget is spent: finish the current iteration */
} sh;

/* ---- Small helpers ---- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static volatile uint64_t *page(const struct worker *w, int s)
{
    return (volatile uint64_t *)(REGION(w->id) + (uint64_t)s * 4096);
}

static void note(struct worker *w, uint32_t line, uint64_t got, uint64_t want)
{
    if (w->nerr < MAX_ERRS) {
        struct err_rec *e = &w->errs[w->nerr];
        *e = (struct err_rec){ line, w->op, w->iter, got, want, { 0 } };
        for (unsigned i = 0; i < 3; i++)
            e->detail[i] = keel_last_error_detail(i);
    }
    w->nerr++;
}

/* Record got != want; true when they agree. */
#define WANT(w, got, want) want_((w), __LINE__, (uint64_t)(got), (uint64_t)(want))
static bool want_(struct worker *w, uint32_t line, uint64_t got, uint64_t want)
{
    if (got == want)
        return true;
    note(w, line, got, want);
    return false;
}

static int free_va(struct worker *w, uint64_t *seed)
{
    int start = (int)(rnd(seed) % NVA);
    for (int i = 0; i < NVA; i++)
        if (w->at[(start + i) % NVA] < 0)
            return (start + i) % NVA;
    return -1;
}

static int pick_frame(struct worker *w, uint64_t *seed, bool mapped)
{
    int start = (int)(rnd(seed) % NFRAMES);
    for (int i = 0; i < NFRAMES; i++) {
        int k = (start + i) % NFRAMES;
        if ((w->where[k] >= 0) == mapped)
            return k;
    }
    return -1;
}

static uint64_t pte_of(struct worker *w, uint64_t va)
{
    uint64_t pte = ~0ull, level = 0;
    WANT(w, keel_debug_read_pte(DBG, VS, va, &pte, &level), 0);
    return pte;
}

/* ---- Persistent frames: map, unmap, remap, batch unmap, and the errors they must give ---- */

static void op_map(struct worker *w, uint64_t *seed)
{
    int k = pick_frame(w, seed, false), s = free_va(w, seed);
    if (k < 0 || s < 0)
        return;
    w->op = OP_MAP;
    if (!WANT(w, keel_frame_map(w->frames[k], VS, (uint64_t)page(w, s), KEEL_MAP_READ | KEEL_MAP_WRITE, 0), 0))
        return;
    w->at[s] = k;
    w->where[k] = s;
    /* Whatever this VA showed before (another frame, a retyped frame now revoked), it must show
     * this frame now, on whichever CPU we are. */
    WANT(w, page(w, s)[0], SIG(w->id, k));
    page(w, s)[1] = ++w->map_count;
    WANT(w, page(w, s)[1], w->map_count);
    w->counts[OP_MAP]++;
}

static void op_unmap(struct worker *w, uint64_t *seed)
{
    int k = pick_frame(w, seed, true);
    if (k < 0)
        return;
    w->op = OP_UNMAP;
    int s = w->where[k];
    WANT(w, page(w, s)[0], SIG(w->id, k));
    if (!WANT(w, keel_frame_unmap(w->frames[k]), 0))
        return;
    w->at[s] = -1;
    w->where[k] = -1;
    w->counts[OP_UNMAP]++;
}

static void op_badmap(struct worker *w, uint64_t *seed)
{
    w->op = OP_BADMAP;
    int k = pick_frame(w, seed, true), s = free_va(w, seed);
    if (k >= 0 && s >= 0) /* already mapped */
        WANT(w, keel_frame_map(w->frames[k], VS, (uint64_t)page(w, s), KEEL_MAP_READ, 0), KEEL_E_MAPPED);
    k = pick_frame(w, seed, false);
    int busy = -1;
    for (int i = 0; i < NVA && busy < 0; i++)
        if (w->at[i] >= 0)
            busy = i;
    if (k >= 0 && busy >= 0) { /* the entry is taken */
        WANT(w, keel_frame_map(w->frames[k], VS, (uint64_t)page(w, busy), KEEL_MAP_READ, 0), KEEL_E_DELETE_FIRST);
        WANT(w, keel_frame_remap(w->frames[k], KEEL_MAP_READ, 0), KEEL_E_ILLEGAL_OPERATION); /* not mapped */
    }
    for (int i = 0; i < NSLOTS; i++) {
        if (w->sk[i] != SK_EMPTY) { /* retype into an occupied slot */
            WANT(w, keel_untyped_retype(w->ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, w->slot0 + (uint64_t)i, 1),
                 KEEL_E_DELETE_FIRST);
            break;
        }
    }
    WANT(w, keel_tcb_set_affinity(w->tcb, w->cpus), KEEL_E_RANGE);
    w->counts[OP_BADMAP]++;
}

static void op_remap(struct worker *w, uint64_t *seed)
{
    int k = pick_frame(w, seed, true);
    if (k < 0)
        return;
    w->op = OP_REMAP;
    int s = w->where[k];
    WANT(w, keel_frame_remap(w->frames[k], KEEL_MAP_READ, 0), 0);
    WANT(w, page(w, s)[0], SIG(w->id, k));
    WANT(w, keel_frame_remap(w->frames[k], KEEL_MAP_READ | KEEL_MAP_WRITE, 0), 0);
    page(w, s)[1] = ++w->map_count;
    w->counts[OP_REMAP]++;
}

static void op_batch(struct worker *w)
{
    uint64_t list[NFRAMES];
    unsigned n = 0;
    for (int k = 0; k < NFRAMES; k++)
        if (w->where[k] >= 0)
            list[n++] = w->frames[k];
    if (!n)
        return;
    w->op = OP_BATCH;
    uint64_t unmapped = 0;
    if (!WANT(w, keel_vspace_unmap_batch(VS, list, n, &unmapped), 0))
        return;
    WANT(w, unmapped, n);
    for (int k = 0; k < NFRAMES; k++) {
        if (w->where[k] >= 0) {
            w->at[w->where[k]] = -1;
            w->where[k] = -1;
        }
    }
    w->counts[OP_BATCH]++;
}

/* ---- Retype, delete, revoke ---- */

static int free_slots(struct worker *w, uint64_t *seed, int n)
{
    int start = (int)(rnd(seed) % NSLOTS);
    for (int i = 0; i < NSLOTS; i++) {
        int s = (start + i) % NSLOTS;
        if (s + n > NSLOTS)
            continue;
        bool ok = true;
        for (int j = 0; j < n; j++)
            ok &= w->sk[s + j] == SK_EMPTY;
        if (ok)
            return s;
    }
    return -1;
}

/* Retype one object into slot s; false if the Untyped is full (then nothing changed). */
static bool retype_one(struct worker *w, uint64_t ut, uint64_t type, uint64_t size, int s, uint8_t kind)
{
    int err = keel_untyped_retype(ut, type, size, 0, 0, w->slot0 + (uint64_t)s, 1);
    if (err == KEEL_E_NOT_ENOUGH_MEMORY) {
        w->full++;
        return false;
    }
    if (!WANT(w, err, 0))
        return false;
    w->sk[s] = kind;
    w->slot_va[s] = -1;
    return true;
}

static void use_new_frame(struct worker *w, int slot, uint64_t va, int vslot)
{
    uint64_t cptr = w->slot0 + (uint64_t)slot;
    if (!WANT(w, keel_frame_map(cptr, VS, va, KEEL_MAP_READ | KEEL_MAP_WRITE, 0), 0))
        return;
    volatile uint64_t *p = (volatile uint64_t *)va;
    WANT(w, p[0], 0); /* Retype hands out zeroed memory */
    WANT(w, p[511], 0);
    w->slot_nonce[slot] = mix64(w->iter ^ ((uint64_t)w->id << 40)) | 1;
    p[0] = w->slot_nonce[slot];
    WANT(w, p[0], w->slot_nonce[slot]);
    w->slot_va[slot] = vslot;
    if (vslot >= 0)
        w->at[vslot] = 16 + slot;
}

static void op_retype(struct worker *w, uint64_t *seed)
{
    w->op = OP_RETYPE;
    uint64_t kind = rnd(seed) % 7;
    int s;
    switch (kind) {
    case 0: { /* a frame, mapped at a free VA slot of ours */
        if ((s = free_slots(w, seed, 1)) < 0 || !retype_one(w, w->ut, KEEL_OBJ_FRAME_4K, 0, s, SK_FRAME))
            return;
        int v = free_va(w, seed);
        if (v >= 0)
            use_new_frame(w, s, (uint64_t)page(w, v), v);
        break;
    }
    case 1: /* an endpoint: nobody waits on it */
        if ((s = free_slots(w, seed, 1)) < 0 || !retype_one(w, w->ut, KEEL_OBJ_ENDPOINT, 0, s, SK_EP))
            return;
        {
            struct keel_msg m = keel_msg_make(1, 1);
            WANT(w, keel_nbsend(w->slot0 + (uint64_t)s, &m), KEEL_E_WOULD_BLOCK);
        }
        break;
    case 2: /* a notification: an unbadged signal sets bit 0 */
        if ((s = free_slots(w, seed, 1)) < 0 || !retype_one(w, w->ut, KEEL_OBJ_NOTIFICATION, 0, s, SK_NTFN))
            return;
        {
            uint64_t word = 0;
            WANT(w, keel_poll(w->slot0 + (uint64_t)s, &word), KEEL_E_WOULD_BLOCK);
            WANT(w, keel_signal(w->slot0 + (uint64_t)s), 0);
            WANT(w, keel_poll(w->slot0 + (uint64_t)s, &word), 0);
            WANT(w, word, 1);
        }
        break;
    case 3:
        if ((s = free_slots(w, seed, 1)) < 0 || !retype_one(w, w->ut, KEEL_OBJ_REPLY, 0, s, SK_REPLY))
            return;
        break;
    case 4: /* a small CNode holding a copy of our notification cap (deleted with it) */
        if ((s = free_slots(w, seed, 1)) < 0 || !retype_one(w, w->ut, KEEL_OBJ_CNODE, 2, s, SK_CNODE))
            return;
        WANT(w, keel_cnode_copy(w->slot0 + (uint64_t)s, rnd(seed) % 4, 2, KEEL_SLOT_CNODE, w->ntfn,
                                KEEL_CSPACE_DEPTH, KEEL_RIGHTS_ALL),
             0);
        break;
    case 5: /* a page table mapped in our second range, and a frame in it */
        if (w->dyn_mapped || (s = free_slots(w, seed, 2)) < 0 ||
            !retype_one(w, w->ut, KEEL_OBJ_PT, 0, s, SK_PT))
            return;
        if (!WANT(w, keel_paging_map(w->slot0 + (uint64_t)s, VS, DYN_REGION(w->id)), 0))
            return;
        w->dyn_mapped = true;
        if (!retype_one(w, w->ut, KEEL_OBJ_FRAME_4K, 0, s + 1, SK_FRAME))
            return;
        use_new_frame(w, s + 1, DYN_REGION(w->id) + 4096 * (rnd(seed) % 512), -1);
        break;
    case 6: /* a small Untyped and an endpoint retyped from it (revoking ours takes both) */
        if ((s = free_slots(w, seed, 2)) < 0 || !retype_one(w, w->ut, KEEL_OBJ_UNTYPED, 4096, s, SK_UT))
            return;
        retype_one(w, w->slot0 + (uint64_t)s, KEEL_OBJ_ENDPOINT, 0, s + 1, SK_UT_CHILD);
        break;
    }
    w->counts[OP_RETYPE]++;
}

static void op_delete(struct worker *w, uint64_t *seed)
{
    int start = (int)(rnd(seed) % NSLOTS), s = -1;
    for (int i = 0; i < NSLOTS && s < 0; i++) {
        int c = (start + i) % NSLOTS;
        uint8_t k = w->sk[c];
        /* Plain objects only: the PT, the nested Untyped and its child go with the revoke. */
        if (k == SK_FRAME || k == SK_EP || k == SK_NTFN || k == SK_REPLY || k == SK_CNODE)
            s = c;
    }
    if (s < 0)
        return;
    w->op = OP_DELETE;
    int v = w->slot_va[s];
    if (v >= 0)
        WANT(w, page(w, v)[0], w->slot_nonce[s]);
    if (!WANT(w, keel_cspace_delete(w->slot0 + (uint64_t)s), 0))
        return;
    WANT(w, kt_type(w->slot0 + (uint64_t)s), KEEL_CAP_NULL);
    if (v >= 0) { /* deleting a mapped frame cap unmaps it */
        WANT(w, pte_of(w, (uint64_t)page(w, v)), 0);
        w->at[v] = -1;
    }
    w->sk[s] = SK_EMPTY;
    w->slot_va[s] = -1;
    w->counts[OP_DELETE]++;
}

static void op_revoke(struct worker *w)
{
    w->op = OP_REVOKE;
    for (int s = 0; s < NSLOTS; s++)
        if (w->sk[s] == SK_FRAME && w->slot_va[s] >= 0)
            WANT(w, page(w, w->slot_va[s])[0], w->slot_nonce[s]);
    if (!WANT(w, keel_cspace_revoke(w->ut), 0))
        return;
    struct keel_untyped_desc d = { 0 };
    if (WANT(w, keel_untyped_describe(w->ut, &d), 0))
        WANT(w, d.watermark, 0);
    for (int s = 0; s < NSLOTS; s++) {
        if (w->sk[s] == SK_EMPTY)
            continue;
        WANT(w, kt_type(w->slot0 + (uint64_t)s), KEEL_CAP_NULL);
        int v = w->slot_va[s];
        if (v >= 0) { /* its mapping went with it */
            WANT(w, pte_of(w, (uint64_t)page(w, v)), 0);
            w->at[v] = -1;
        }
        w->sk[s] = SK_EMPTY;
        w->slot_va[s] = -1;
    }
    if (w->dyn_mapped) { /* the PT is unmapped: nothing translates in that range */
        WANT(w, pte_of(w, DYN_REGION(w->id)), 0);
        w->dyn_mapped = false;
    }
    w->counts[OP_REVOKE]++;
}

/* ---- Notifications: worker w signals worker w+1 with bit w, so w sees only bit w-1 ---- */

static void op_signal(struct worker *w)
{
    w->op = OP_SIGNAL;
    if (WANT(w, keel_signal(w->ntfn_next), 0))
        w->signals_sent++;
    w->counts[OP_SIGNAL]++;
}

static void op_poll(struct worker *w)
{
    w->op = OP_POLL;
    uint64_t word = 0;
    int err = keel_poll(w->ntfn, &word);
    if (err == 0) {
        WANT(w, word, 1ull << ((w->id + NW - 1) % NW));
        w->signals_seen++;
    } else {
        WANT(w, err, KEEL_E_WOULD_BLOCK);
    }
    w->counts[OP_POLL]++;
}

static void op_nbsend(struct worker *w)
{
    w->op = OP_NBSEND;
    struct keel_msg m = keel_msg_make(7, 2);
    m.mr[0] = 1;
    m.mr[1] = 2;
    WANT(w, keel_nbsend(w->ep_nobody, &m), KEEL_E_WOULD_BLOCK);
    struct keel_tcb_info info;
    if (WANT(w, keel_tcb_get_info(w->tcb, &info), 0)) {
        WANT(w, info.state, KEEL_THREAD_RUNNING);
        /* Only worker 0 moves threads: its own affinity is known; another worker's may change
         * under this very call, but never leaves the valid range. */
        if (w->id == 0)
            WANT(w, info.cpu, sh.last_cpu[0]);
        else
            WANT(w, info.cpu < w->cpus, true);
    }
    w->counts[OP_NBSEND]++;
}

/* ---- Migration (worker 0 only) ---- */

static void op_migrate(struct worker *w, uint64_t *seed)
{
    w->op = OP_MIGRATE;
    /* Mostly the others; now and then itself. */
    unsigned j = rnd(seed) % 8 == 0 ? 0 : 1 + (unsigned)(rnd(seed) % (NW - 1));
    uint64_t cpu = rnd(seed) % w->cpus;
    if (!WANT(w, keel_tcb_set_affinity(W[j].tcb, cpu), 0))
        return;
    sh.last_cpu[j] = cpu;
    struct keel_tcb_info info;
    if (WANT(w, keel_tcb_get_info(W[j].tcb, &info), 0))
        WANT(w, info.cpu, cpu);
    sh.migrations++;
    w->counts[OP_MIGRATE]++;
}

/* ---- Ping-pong between workers 1 (server) and 2 (client) ---- */

/* Messages in iteration i: both sides compute the same number. */
static unsigned pp_len(uint64_t i) { return (unsigned)(mix64(i ^ 0x5eedull) % 4); }

static uint64_t req_word(uint64_t seq, unsigned j) { return mix64(seq * 16 + j + 1); }
static uint64_t rep_word(uint64_t seq, unsigned j) { return ~mix64(seq * 16 + j + 1) ^ seq; }
static unsigned req_len(uint64_t seq) { return seq % 3 == 0 ? 6 : 3; } /* 6: words 4-5 in the IPC buffer */
static unsigned rep_len(uint64_t seq) { return seq % 4 == 1 ? 5 : 2; }

static void check_request(struct worker *w, const struct keel_msg *m, uint64_t seq)
{
    WANT(w, m->badge, PP_BADGE);
    WANT(w, keel_msg_label(m->info), 1000 + seq);
    WANT(w, keel_msg_length(m->info), req_len(seq));
    WANT(w, keel_msg_extra_caps(m->info), 0);
    for (unsigned j = 0; j < req_len(seq); j++)
        WANT(w, keel_msg_get_mr(m, j), req_word(seq, j));
}

static struct keel_msg make_reply(uint64_t seq)
{
    struct keel_msg m = keel_msg_make(2000000 + seq, rep_len(seq));
    for (unsigned j = 0; j < rep_len(seq); j++)
        keel_msg_set_mr(&m, j, rep_word(seq, j));
    return m;
}

/* The client's last message: it stopped (budget or ITERS) after its previous burst. */
#define PP_END_LABEL 999
#define PP_END_REPLY 998

static bool is_end(struct worker *w, const struct keel_msg *m)
{
    if (keel_msg_label(m->info) != PP_END_LABEL)
        return false;
    WANT(w, m->badge, PP_BADGE);
    struct keel_msg ack = keel_msg_make(PP_END_REPLY, 0);
    WANT(w, keel_reply(sh.reply, &ack), 0);
    return true;
}

/* Iteration i's burst; true once the client has said it is done. */
static bool pp_server(struct worker *w, uint64_t i, uint64_t *seq)
{
    unsigned n = pp_len(i);
    if (!n)
        return false;
    w->op = OP_IPC;
    struct keel_msg m;
    for (unsigned k = 0; k < n; k++) {
        int err = k == 0 ? keel_recv(sh.ep, sh.reply, &m) : keel_reply_recv(sh.ep, sh.reply, &m);
        WANT(w, err, 0);
        if (is_end(w, &m))
            return true;
        check_request(w, &m, *seq);
        m = make_reply(*seq);
        (*seq)++;
        w->counts[OP_IPC]++;
    }
    WANT(w, keel_reply(sh.reply, &m), 0);
    return false;
}

/* After the server's last iteration: the client's end message, if it has not come yet. */
static void pp_server_end(struct worker *w)
{
    w->op = OP_IPC;
    struct keel_msg m;
    WANT(w, keel_recv(sh.ep, sh.reply, &m), 0);
    WANT(w, is_end(w, &m), true);
}

static void pp_client_end(struct worker *w)
{
    w->op = OP_IPC;
    struct keel_msg m = keel_msg_make(PP_END_LABEL, 0);
    if (WANT(w, keel_call(sh.ep_client, &m), 0))
        WANT(w, keel_msg_label(m.info), PP_END_REPLY);
}

static void pp_client(struct worker *w, uint64_t i, uint64_t *seq)
{
    unsigned n = pp_len(i);
    if (!n)
        return;
    w->op = OP_IPC;
    for (unsigned k = 0; k < n; k++, (*seq)++) {
        struct keel_msg m = keel_msg_make(1000 + *seq, req_len(*seq));
        for (unsigned j = 0; j < req_len(*seq); j++)
            keel_msg_set_mr(&m, j, req_word(*seq, j));
        if (!WANT(w, keel_call(sh.ep_client, &m), 0))
            continue;
        WANT(w, keel_msg_label(m.info), 2000000 + *seq);
        WANT(w, keel_msg_length(m.info), rep_len(*seq));
        for (unsigned j = 0; j < rep_len(*seq); j++)
            WANT(w, keel_msg_get_mr(&m, j), rep_word(*seq, j));
        sh.round_trips++;
        w->counts[OP_IPC]++;
    }
}

/* ---- The worker ---- */

static void worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t seed = w->seed, seq = 0, i;
    bool ended = false;
    /* Stop at ITERS, or earlier when the root task calls time; the server stops when the
     * client says so (the pair's bursts must match). */
    for (i = 0; i < ITERS && (w->id == 1 ? !ended : !sh.stop); i++) {
        w->iter = i;
        if (w->id == 1)
            ended = pp_server(w, i, &seq);
        else if (w->id == 2)
            pp_client(w, i, &seq);
        if (w->id == 0 && rnd(&seed) % 8 == 0)
            op_migrate(w, &seed);
        uint64_t r = rnd(&seed) % 100;
        if (r < 30)
            op_map(w, &seed);
        else if (r < 50)
            op_unmap(w, &seed);
        else if (r < 53)
            op_badmap(w, &seed);
        else if (r < 57)
            op_remap(w, &seed);
        else if (r < 60)
            op_batch(w);
        else if (r < 75)
            op_retype(w, &seed);
        else if (r < 80)
            op_revoke(w);
        else if (r < 85)
            op_delete(w, &seed);
        else if (r < 91)
            op_signal(w);
        else if (r < 97)
            op_poll(w);
        else
            op_nbsend(w);
    }
    if (w->id == 2)
        pp_client_end(w);
    else if (w->id == 1 && !ended)
        pp_server_end(w);
    w->done_iters = i;
    /* Leave nothing behind that a later revoke would have to unmap under the runner. */
    op_batch(w);
    op_revoke(w);
    w->iter = ITERS + 1;
    w->finished = 1;
    WANT(w, keel_signal(w->done), 0);
}

/* ---- The root task ---- */

static int map_with_tables(uint64_t frame, uint64_t va)
{
    int err = 0;
    for (int tries = 0; tries < 4; tries++) {
        err = keel_frame_map(frame, VS, va, KEEL_MAP_READ | KEEL_MAP_WRITE, 0);
        if (err != KEEL_E_MISSING_TABLE)
            return err;
        uint64_t table;
        if ((err = kt_new(keel_last_error_detail(0), 0, &table)) || (err = keel_paging_map(table, VS, va)))
            return err;
    }
    return err;
}

static uint64_t image_frame_at(const void *va)
{
    for (uint64_t s = kt_bi->image_frames.start; s < kt_bi->image_frames.end; s++) {
        struct keel_frame_info fi;
        if (keel_frame_get_address(s, &fi) == 0 && fi.mapped_vaddr == (uint64_t)va)
            return s;
    }
    return 0;
}

/* ---- Afterwards: every CPU still takes timer interrupts and runs a thread moved to it ---- */

#define PROBE_MAX_CPUS 64

static struct {
    uint64_t cpus, spin;           /* CPUs to visit; TSC ticks to spin on each */
    volatile uint64_t at;          /* CPUs measured so far */
    volatile uint64_t before[PROBE_MAX_CPUS], after[PROBE_MAX_CPUS];
    volatile int err;
} probe;

static uint64_t my_ticks(void)
{
    struct keel_kernel_info ki;
    return keel_debug_kernel_info(DBG, &ki) ? ~0ull : ki.ticks; /* the calling CPU's count */
}

/* Moves itself to each CPU in turn and watches that CPU's tick count while it spins. */
static void report_cpus(const char *why);

static void probe_main(void *arg)
{
    (void)arg;
    for (uint64_t k = 0; k < probe.cpus; k++) {
        int err = keel_tcb_set_affinity(keel_tls()->tcb, k);
        if (err) {
            probe.err = err;
            return;
        }
        probe.before[k] = my_ticks();
        for (uint64_t end = rdtsc() + probe.spin; rdtsc() < end;)
            __asm__ volatile("pause");
        probe.after[k] = my_ticks();
        probe.at = k + 1;
    }
}

/* A CPU left with its timer interrupt in service (no EOI) gets no more ticks, reschedule IPIs or
 * shootdown IPIs: this finds it even when no shootdown happened to need it. */
static void check_cpus_alive(uint64_t khz)
{
    struct keel_kernel_info ki;
    if (!ktest_check(keel_debug_kernel_info(DBG, &ki) == 0 && ki.timer_hz, __FILE__, __LINE__, "KERNEL_INFO"))
        return;
    memset((void *)&probe, 0, sizeof probe);
    probe.cpus = kt_bi->cpu_count < PROBE_MAX_CPUS ? kt_bi->cpu_count : PROBE_MAX_CPUS;
    probe.spin = khz * 1000 * 6 / ki.timer_hz; /* six ticks' worth */
    struct keel_thread *t;
    if (!ktest_check(kt_thread(probe_main, 0, &t) == 0, __FILE__, __LINE__, "probe thread"))
        return;
    uint64_t seen = 0, since = rdtsc();
    while (probe.at < probe.cpus && !probe.err) {
        keel_yield();
        if (probe.at != seen) {
            seen = probe.at;
            since = rdtsc();
        } else if (rdtsc() - since > 3000 * khz) {
            ktest_check(false, __FILE__, __LINE__,
                        "CPU %llu never ran a thread moved to it within 3 s (its reschedule IPI blocked or lost?)",
                        (unsigned long long)seen);
            report_cpus("probe");
            keel_tcb_suspend(t->tcb);
            return;
        }
    }
    EXPECT_OK(probe.err);
    for (uint64_t k = 0; k < probe.at; k++)
        ktest_check(probe.after[k] > probe.before[k] && probe.after[k] != ~0ull, __FILE__, __LINE__,
                    "CPU %llu took no timer tick in six ticks' time (%llu -> %llu): an interrupt left in service?",
                    (unsigned long long)k, (unsigned long long)probe.before[k], (unsigned long long)probe.after[k]);
}

static uint64_t lock_stats(uint64_t *contended, uint64_t *shootdowns)
{
    uint64_t acquired = 0;
    *contended = *shootdowns = 0;
    for (uint64_t c = 0; c < kt_bi->cpu_count; c++) {
        struct keel_tlb_counters t = { 0 };
        if (keel_debug_tlb_counters(DBG, c, &t) == 0) {
            acquired += t.lock_acquired;
            *contended += t.lock_contended;
            *shootdowns += t.shootdown_sent;
        }
    }
    return acquired;
}

/* Each CPU's state, twice 200 ms apart: do its timer ticks advance, does it run a thread, what
 * waits in its queue? (A CPU that stops taking ticks, or idles with work queued, is the bug.) */
static void report_cpus(const char *why)
{
    struct keel_cpu_state a[16], b[16];
    uint32_t n = kt_bi->cpu_count < 16 ? kt_bi->cpu_count : 16;
    for (uint32_t i = 0; i < n; i++)
        keel_debug_cpu_state(KEEL_SLOT_DEBUG, i, &a[i]);
    for (uint64_t t0 = kt_now(); kt_now() - t0 < kt_bi->tsc_khz * 200;)
        ;
    for (uint32_t i = 0; i < n; i++) {
        keel_debug_cpu_state(KEEL_SLOT_DEBUG, i, &b[i]);
        keel_printf("#   %s: cpu %u ticks %llu -> %llu, %s, queue top %lld, need_resched %llu, unanswered %llu\n", why,
                    i, (unsigned long long)a[i].ticks, (unsigned long long)b[i].ticks,
                    b[i].running ? "running a thread" : "idle", (long long)b[i].top_priority_plus_1 - 1,
                    (unsigned long long)b[i].need_resched, (unsigned long long)b[i].unanswered);
    }
}

static void report_workers(const char *why)
{
    report_cpus(why);
    for (unsigned w = 0; w < NW; w++) {
        struct keel_tcb_info info = { ~0ull, 0, 0, ~0ull };
        keel_tcb_get_info(W[w].tcb, &info);
        keel_printf("#   %s: worker %u at iteration %llu (op %s), finished %d, state %llu, cpu %llu, %u error(s)\n",
                    why, w, (unsigned long long)W[w].iter, op_names[W[w].op < OP_COUNT ? W[w].op : 0],
                    W[w].finished, (unsigned long long)info.state, (unsigned long long)info.cpu, W[w].nerr);
    }
}

static int setup_worker(unsigned w, uint64_t done, uint64_t fault_ep, uint64_t *ntfns)
{
    struct worker *x = &W[w];
    int err;
    *x = (struct worker){ .id = w, .cpus = kt_bi->cpu_count, .seed = mix64(0x5eed0000ull + w) | 1 };
    for (int i = 0; i < NVA; i++)
        x->at[i] = -1;
    for (int k = 0; k < NFRAMES; k++)
        x->where[k] = -1;
    for (int s = 0; s < NSLOTS; s++)
        x->slot_va[s] = -1;
    /* Persistent frames, each signed once (the first also makes the PT of the worker's range). */
    for (int k = 0; k < NFRAMES; k++) {
        if ((err = kt_new(KEEL_OBJ_FRAME_4K, 0, &x->frames[k])) || (err = map_with_tables(x->frames[k], REGION(w))))
            return err;
        *(volatile uint64_t *)REGION(w) = SIG(w, k);
        if ((err = keel_frame_unmap(x->frames[k])))
            return err;
    }
    if ((err = kt_untyped(UT_BYTES, &x->ut)) || (err = kt_slots(NSLOTS, &x->slot0)) ||
        (err = kt_new(KEEL_OBJ_ENDPOINT, 0, &x->ep_nobody)) ||
        (err = kt_mint(ntfns[(w + 1) % NW], KEEL_RIGHTS_ALL, 1ull << w, &x->ntfn_next)) ||
        (err = kt_mint(done, KEEL_RIGHTS_ALL, 1ull << w, &x->done)) ||
        (err = kt_mint(fault_ep, KEEL_RIGHTS_ALL, FAULT_BADGE(w), &x->fault_ep)))
        return err;
    x->ntfn = ntfns[w];
    uint64_t ipc_frame = image_frame_at(ipc_pages[w]);
    if (!ipc_frame)
        return KEEL_E_FAILED_LOOKUP;
    struct keel_thread_config cfg = {
        .entry = worker_main,
        .arg = x,
        .stack_top = stacks[w] + sizeof(stacks[w]),
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
        .ipc_frame = ipc_frame,
        .ipc_addr = (uint64_t)ipc_pages[w],
        .fault_ep = x->fault_ep,
    };
    if ((err = keel_thread_create(&th[w], &cfg)))
        return err;
    x->tcb = th[w].tcb;
    /* Home CPUs 1, 2, 3 with four CPUs; with fewer, wrap round to CPU 0 so that the ping-pong
     * pair (workers 1 and 2) still starts on different CPUs. */
    sh.last_cpu[w] = (w + 1) % kt_bi->cpu_count;
    return keel_tcb_set_affinity(x->tcb, sh.last_cpu[w]);
}

KEEL_TEST(smp_stress_ipc_vspace_retype_migration)
{
    if (kt_bi->cpu_count < 2) {
        ktest_skip("needs 2 CPUs");
        return;
    }
    uint64_t violations = 0;
    int inv = keel_debug_check_invariants(DBG, &violations);
    bool checker = inv != KEEL_E_NOT_SUPPORTED;
    ASSERT_TRUE(!checker || inv == 0);
    ASSERT_EQ(violations, 0);

    memset((void *)&sh, 0, sizeof sh);
    uint64_t done, fault_ep, fault_reply, ntfns[NW];
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &done));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &fault_ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &fault_reply));
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &sh.ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &sh.reply));
    ASSERT_OK(kt_mint(sh.ep, KEEL_RIGHTS_ALL, PP_BADGE, &sh.ep_client));
    for (unsigned w = 0; w < NW; w++)
        ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfns[w]));
    for (unsigned w = 0; w < NW; w++)
        ASSERT_OK(setup_worker(w, done, fault_ep, ntfns));

    uint64_t contended0, shoot0, acquired0 = lock_stats(&contended0, &shoot0);
    uint64_t khz = kt_bi->tsc_khz ? kt_bi->tsc_khz : 1000000;
    uint64_t t0 = rdtsc();
    for (unsigned w = 0; w < NW; w++)
        ASSERT_OK(keel_thread_start(&th[w]));

    /* Wait with a bound: poll the done notification and the fault endpoint, run the checker. */
    const uint64_t all = (1ull << NW) - 1;
    uint64_t done_bits = 0, checks = 0, bad_checks = 0, total_violations = 0, first_bad_ms = 0;
    uint64_t next_check = t0, next_poll = t0, last_move = t0, last_sum = 0;
    bool stalled = false, timed_out = false, faulted = false;
    struct keel_msg fault = { 0 };
    while (done_bits != all) {
        /* Between polls only user-mode spinning: the workers get the lock, not us. */
        uint64_t now = rdtsc();
        if (now < next_poll && now < next_check) {
            __asm__ volatile("pause");
            continue;
        }
        keel_yield(); /* a worker may share this CPU */
        if (checker && now >= next_check) {
            next_check = now + CHECK_EVERY_MS * khz;
            inv = keel_debug_check_invariants(DBG, &violations);
            checks++;
            if (inv || violations) {
                if (!bad_checks)
                    first_bad_ms = (now - t0) / khz;
                bad_checks++;
                total_violations += inv ? 1 : violations;
            }
        }
        if (now < next_poll)
            continue;
        next_poll = now + POLL_EVERY_MS * khz;
        uint64_t word = 0;
        if (keel_poll(done, &word) == 0)
            done_bits |= word;
        if (keel_nbrecv(fault_ep, fault_reply, &fault) == 0) {
            faulted = true; /* the faulting worker stays blocked; the pool's revoke removes it */
            break;
        }
        uint64_t sum = 0;
        for (unsigned w = 0; w < NW; w++)
            sum += W[w].iter + W[w].finished;
        if (sum != last_sum) {
            last_sum = sum;
            last_move = now;
        } else if (now - last_move > (uint64_t)STALL_MS * khz) {
            stalled = true;
            break;
        }
        if (!sh.stop && now - t0 > (uint64_t)BUDGET_MS * khz)
            sh.stop = 1;
        if (now - t0 > (uint64_t)LIMIT_MS * khz) {
            timed_out = true;
            break;
        }
    }
    uint64_t elapsed_ms = (rdtsc() - t0) / khz;
    uint64_t contended1, shoot1, acquired1 = lock_stats(&contended1, &shoot1);

    if (faulted) {
        ktest_check(false, __FILE__, __LINE__,
                    "a worker faulted (badge %#llx, fault %llu, RIP %#llx, addr %#llx, code %#llx)",
                    (unsigned long long)fault.badge, (unsigned long long)keel_msg_label(fault.info),
                    (unsigned long long)fault.mr[0], (unsigned long long)fault.mr[1],
                    (unsigned long long)fault.mr[2]);
        report_workers("fault");
    }
    if (stalled || timed_out) {
        ktest_check(false, __FILE__, __LINE__, "%s after %llu ms: done bits %#llx of %#llx",
                    stalled ? "no worker progress" : "time limit", (unsigned long long)elapsed_ms,
                    (unsigned long long)done_bits, (unsigned long long)all);
        report_workers(stalled ? "stall" : "timeout");
    }
    if (done_bits != all) { /* stop them before the runner's revoke */
        for (unsigned w = 0; w < NW; w++)
            keel_tcb_suspend(W[w].tcb);
    }

    /* Every worker finished, saw only expected answers and ended inactive. */
    for (unsigned w = 0; w < NW; w++) {
        struct worker *x = &W[w];
        if (done_bits == all) {
            EXPECT_EQ(x->finished, 1);
            EXPECT_TRUE(kt_wait_state(x->tcb, KEEL_THREAD_INACTIVE));
        }
        for (unsigned e = 0; e < x->nerr && e < MAX_ERRS; e++) {
            const struct err_rec *r = &x->errs[e];
            ktest_check(false, __FILE__, (int)r->line,
                        "worker %u iteration %llu op %s: got %#llx, expected %#llx (details %#llx %#llx %#llx)", w,
                        (unsigned long long)r->iter, op_names[r->op < OP_COUNT ? r->op : 0],
                        (unsigned long long)r->got, (unsigned long long)r->want,
                        (unsigned long long)r->detail[0], (unsigned long long)r->detail[1],
                        (unsigned long long)r->detail[2]);
        }
        if (x->nerr > MAX_ERRS)
            ktest_check(false, __FILE__, __LINE__, "worker %u: %u errors in all", w, x->nerr);
    }
    if (checker) {
        EXPECT_TRUE(checks > 0);
        if (bad_checks)
            ktest_check(false, __FILE__, __LINE__,
                        "%llu of %llu invariant checks failed (%llu violations, first at %llu ms), see the kernel log",
                        (unsigned long long)bad_checks, (unsigned long long)checks,
                        (unsigned long long)total_violations, (unsigned long long)first_bad_ms);
    }
    if (done_bits != all)
        return;

    /* No signal lost: what worker w sent to w+1 was seen by it or is still pending. */
    for (unsigned w = 0; w < NW; w++) {
        unsigned to = (w + 1) % NW;
        uint64_t word = 0;
        int err = keel_poll(W[to].ntfn, &word);
        EXPECT_TRUE(err == 0 || err == KEEL_E_WOULD_BLOCK);
        EXPECT_EQ(word & ~(1ull << w), 0);
        if (W[w].signals_sent)
            EXPECT_TRUE(W[to].signals_seen > 0 || (word & (1ull << w)));
    }
    /* Each worker is where worker 0 last put it. */
    for (unsigned w = 0; w < NW; w++) {
        struct keel_tcb_info info;
        ASSERT_OK(keel_tcb_get_info(W[w].tcb, &info));
        EXPECT_EQ(info.cpu, sh.last_cpu[w]);
    }
    check_cpus_alive(khz);
    /* Both ends of the ping-pong saw every message. */
    EXPECT_EQ(W[1].counts[OP_IPC], W[2].counts[OP_IPC]);
    EXPECT_EQ(sh.round_trips, W[2].counts[OP_IPC]);
    /* The work really happened (stopped early by the time budget, a slow host did less; the
     * stall check above still caught a lack of progress). */
    if (!sh.stop) {
        EXPECT_TRUE(sh.migrations > 0);
        EXPECT_TRUE(W[2].counts[OP_IPC] > 0);
        for (unsigned w = 0; w < NW; w++) {
            EXPECT_EQ(W[w].done_iters, ITERS);
            EXPECT_TRUE(W[w].counts[OP_MAP] > 0 && W[w].counts[OP_UNMAP] > 0);
            EXPECT_TRUE(W[w].counts[OP_RETYPE] > 0 && W[w].counts[OP_REVOKE] > 0);
        }
    }

    uint64_t maps = 0, unmaps = 0, retypes = 0, revokes = 0, full = 0;
    for (unsigned w = 0; w < NW; w++) {
        maps += W[w].counts[OP_MAP];
        unmaps += W[w].counts[OP_UNMAP] + W[w].counts[OP_BATCH];
        retypes += W[w].counts[OP_RETYPE];
        revokes += W[w].counts[OP_REVOKE];
        full += W[w].full;
    }
    keel_printf("# smp_stress: %u CPUs, %u workers, %llu/%llu/%llu of %u iterations%s in %llu ms: %llu migrations, "
                "%llu round trips, %llu maps, %llu unmaps, %llu retypes (%llu full), %llu revokes; %llu invariant "
                "checks; lock %llu taken, %llu contended; %llu shootdown IPIs\n",
                kt_bi->cpu_count, NW, (unsigned long long)W[0].done_iters, (unsigned long long)W[1].done_iters,
                (unsigned long long)W[2].done_iters, ITERS, sh.stop ? " (time budget reached)" : "",
                (unsigned long long)elapsed_ms, (unsigned long long)sh.migrations,
                (unsigned long long)sh.round_trips, (unsigned long long)maps, (unsigned long long)unmaps,
                (unsigned long long)retypes, (unsigned long long)full, (unsigned long long)revokes,
                (unsigned long long)checks, (unsigned long long)(acquired1 - acquired0),
                (unsigned long long)(contended1 - contended0), (unsigned long long)(shoot1 - shoot0));
}

/* An interrupt taken on the way into the kernel must be handled even if the thread it interrupted
 * is taken away from that CPU while the CPU waits for the lock. One Revoke on CPU 0 first wakes a
 * high-priority thread of CPU 1 (deleting the endpoint it waits on: a reschedule IPI, which CPU 1
 * takes from user mode and then waits for the lock), then deletes the TCB of the thread running
 * on CPU 1 (an eviction, answered while CPU 1 waits). Children of an Untyped are deleted newest
 * first, so the endpoint is retyped last and the TCB first, with filler objects in between to
 * give the IPI time to arrive. Afterwards CPU 1 must still run the woken thread, take ticks and
 * answer IPIs: a CPU left with the IPI in service (no EOI) does none of these. */
#define EVICT_ROUNDS 40
#define EVICT_FILLERS 32

static struct {
    uint64_t start;              /* notification the waiter blocks on between rounds */
    volatile uint64_t ep;        /* this round's endpoint */
    volatile uint64_t rounds, cancelled;
    volatile int stop;
    volatile uint64_t count;     /* the victim's progress */
} ev;

static struct keel_thread ev_victim;
static uint8_t ev_victim_stack[8192] __attribute__((aligned(16)));

/* Mostly in user mode; a Yield now and then (nobody else to run: it only passes through the
 * kernel), so that even a CPU that no longer takes interrupts answers an eviction there and the
 * runner's cleanup cannot hang on this thread. */
static void ev_victim_spin(void *arg)
{
    (void)arg;
    for (;;)
        if ((++ev.count & 0xfffff) == 0) /* about a millisecond or more: rarely in the kernel */
            keel_yield();
}

static void ev_waiter(void *arg)
{
    (void)arg;
    for (;;) {
        keel_wait(ev.start, 0);
        if (ev.stop)
            return;
        struct keel_msg m;
        if (keel_recv(ev.ep, 0, &m) == KEEL_E_CANCELLED) /* its endpoint was deleted */
            ev.cancelled++;
        ev.rounds++;
    }
}

static bool wait_until(volatile uint64_t *v, uint64_t value, uint64_t khz, bool yield)
{
    for (uint64_t since = rdtsc(); *v < value;) {
        if (rdtsc() - since > 2000 * khz)
            return false;
        if (yield)
            keel_yield();
        else
            __asm__ volatile("pause");
    }
    return true;
}

KEEL_TEST(smp_stress_interrupt_then_eviction_keeps_cpu_alive)
{
    if (kt_bi->cpu_count < 2) {
        ktest_skip("needs 2 CPUs");
        return;
    }
    uint64_t khz = kt_bi->tsc_khz ? kt_bi->tsc_khz : 1000000;
    memset((void *)&ev, 0, sizeof ev);
    uint64_t ut, victim_slot, filler_slots, ep_slot;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ev.start));
    ASSERT_OK(kt_untyped(64 * 1024, &ut));
    ASSERT_OK(kt_slot(&victim_slot));
    ASSERT_OK(kt_slots(EVICT_FILLERS, &filler_slots));
    ASSERT_OK(kt_slot(&ep_slot));
    struct keel_thread *w;
    ASSERT_OK(kt_thread_prepare(ev_waiter, 0, &w));
    ASSERT_OK(keel_tcb_set_priority(w->tcb, KEEL_SLOT_TCB, 200));
    ASSERT_OK(keel_tcb_set_affinity(w->tcb, 1));
    ASSERT_OK(keel_thread_start(w));
    ASSERT_TRUE(kt_wait_state(w->tcb, KEEL_THREAD_BLOCKED_NOTIFICATION));

    unsigned r;
    for (r = 0; r < EVICT_ROUNDS; r++) {
        /* The victim: a TCB from the Untyped, spinning in user mode on CPU 1 at priority 100. */
        ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_TCB, 0, 0, 0, victim_slot, 1));
        struct keel_thread_config cfg = {
            .entry = ev_victim_spin, .stack_top = ev_victim_stack + sizeof ev_victim_stack,
            .priority = 100, .tcb = victim_slot,
        };
        ASSERT_OK(keel_thread_create(&ev_victim, &cfg));
        ASSERT_OK(keel_tcb_set_affinity(victim_slot, 1));
        ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_NOTIFICATION, 0, 0, 0, filler_slots, EVICT_FILLERS));
        ASSERT_OK(keel_untyped_retype(ut, KEEL_OBJ_ENDPOINT, 0, 0, 0, ep_slot, 1));
        /* The waiter (priority 200, CPU 1) blocks on the new endpoint; then the victim runs. */
        ev.ep = ep_slot;
        uint64_t c0 = ev.count;
        ASSERT_OK(keel_thread_start(&ev_victim));
        ASSERT_OK(keel_signal(ev.start));
        if (!ktest_check(kt_wait_state(w->tcb, KEEL_THREAD_BLOCKED_RECV), __FILE__, __LINE__,
                         "round %u: CPU 1 never ran the waiter woken for it (%s)", r,
                         r ? "an interrupt of the last round left in service?" : "first round")) {
            report_cpus("eviction");
            break;
        }
        if (!ktest_check(wait_until(&ev.count, c0 + 1000, khz, false), __FILE__, __LINE__,
                         "round %u: the victim never ran on CPU 1", r)) {
            report_cpus("eviction");
            break;
        }
        /* One invocation: wake the waiter (IPI to CPU 1), ..., delete the running victim. */
        ASSERT_OK(keel_cspace_revoke(ut));
        if (!ktest_check(wait_until(&ev.rounds, r + 1, khz, true), __FILE__, __LINE__,
                         "round %u: the woken waiter never ran on CPU 1 (its IPI left in service?)", r)) {
            report_cpus("eviction");
            break;
        }
        ASSERT_TRUE(kt_wait_state(w->tcb, KEEL_THREAD_BLOCKED_NOTIFICATION));
    }
    EXPECT_EQ(ev.cancelled, r);
    check_cpus_alive(khz);
    ev.stop = 1;
    keel_signal(ev.start);
}
