/* Exhaustive interleaving test of the channel ring protocol: a tiny explicit-state model checker.
 *
 * One ring with a producer P (the client submitting) and a consumer C (the server popping), each
 * written as a state machine whose steps are the atomic shared-memory accesses that
 * libsel-like/src/channel.c performs, in the same order:
 *
 *   P, keel_channel_submit_batch + submit_wait          C, keel_channel_pop/reap + _wait_n
 *   ------------------------------------------          ----------------------------------
 *   load state (check_open)                             load state (check_open)
 *   pick a batch size (1..left)                         pick max (1..SIZE), min (1..max, left)
 *   if cached space < batch: load head (acquire),       if cached avail < max: load tail (acquire),
 *     validate as client_refresh_sq_head()                validate as server_refresh_sq_tail()
 *   space 0 -> arm head_event = tail-SIZE+1; fence;     avail < min -> arm tail_event = head+min;
 *     re-load head; changed -> retry; else load           fence; re-load tail; changed -> retry;
 *     state; gone -> stop; else wait (sleep)              else load state; gone -> stop; else wait
 *   store each slot                                     load each slot (check value: in order)
 *   store tail (release); fence; load tail_event;       store head (release); fence; load head_event;
 *     keel_channel_need_event() -> ring C                 keel_channel_need_event() -> ring P
 *
 * The completion ring is the same protocol with the roles swapped, so one ring covers both;
 * min = 1 is pop_wait / reap_wait, min > 1 is reap_wait_n (one doorbell per `min` entries; min
 * is at most what is still to come, as reap_wait_n clamps it to the requests in flight).
 *
 * Memory model: x86-TSO, the target. Each thread has a FIFO store buffer; a store enters it, a
 * separate "flush" transition (any time) moves the oldest one to memory; a load reads the newest
 * buffered store to that word, else memory; the seq_cst fence (MFENCE) can only execute with an
 * empty buffer. Acquire/release compile to plain MOVs on x86, so TSO is exactly what they give.
 * ring() and wait() do NOT drain the buffer (weaker than the real syscalls, so a stronger test).
 * A doorbell is a latched bit per side (a notification); wait() sleeps until it is set and
 * clears it.
 *
 * Indices are 32-bit and start just below 2^32, so every run wraps. They are stored in the
 * state as a signed 8-bit offset from the base (all values stay in a small window), and turned
 * back into uint32_t for every comparison and for keel_channel_need_event().
 *
 * Checked on every reachable state (breadth-first search over all interleavings, states
 * deduplicated in a hash set):
 *   - no overrun: P never writes a slot C has not read yet; C reads exactly the values 1, 2, 3...
 *     in order (nothing lost, duplicated or stale);
 *   - the validation of the peer's index never fires (an honest peer is never EPROTO);
 *   - no lost wakeup / deadlock: every state without successors is a good end (P and C both
 *     done; with a death: the survivor saw "peer gone" or finished), so nobody sleeps while work
 *     is pending and no doorbell is coming;
 *   - and, stronger, from every reachable state a good end is still reachable (no livelock).
 * Scenarios: ring size 1, 2 and 4; 1 to 3 requests (4 with size 2); with no death, with P
 * killed or C killed at any point (the supervisor then marks the state word and rings the
 * survivor, as keel_channel_region_mark_gone() + a signal).
 * Mutants (the fence on either side removed, the re-check after arming removed, the event index
 * armed one too low) must each be caught, which shows the checker can see the races. */
#include "check.h"

#include <keel/channel.h>
#include <stdlib.h>

enum { V_TAIL, V_HEAD, V_TAIL_EV, V_HEAD_EV, V_STATE, V_SLOT0, NV = V_SLOT0 + 4 };
#define SB_MAX 6
#define MAX_SIZE 4

enum { TP = 0, TC = 1 };

enum p_pc {
    P_START, P_PICK, P_CHECK, P_LOAD_HEAD, P_WRITE, P_PUBLISH, P_FENCE1, P_LOAD_EV, P_RING,
    P_ARM, P_FENCE2, P_RECHECK, P_STATE, P_WAIT, P_DONE, P_GONE, P_DEAD,
};
enum c_pc {
    C_START, C_PICK, C_CHECK, C_LOAD_TAIL, C_READ, C_PUBLISH, C_FENCE1, C_LOAD_EV, C_RING,
    C_ARM, C_FENCE2, C_RECHECK, C_STATE, C_WAIT, C_DONE, C_GONE, C_DEAD,
};

enum mutant {
    MUT_NONE = 0,
    MUT_NO_PUBLISH_FENCE = 1,   /* publish_doorbell() without its fence */
    MUT_NO_SLEEP_FENCE = 2,     /* armed_progress() without its fence */
    MUT_NO_RECHECK = 4,         /* sleep right after arming, without re-reading the index */
    MUT_ARM_TOO_LOW = 8,        /* consumer arms tail_event = head + min - 1 instead of head + min */
};

enum death { DEATH_NONE, DEATH_P, DEATH_C };

struct mconfig {
    uint32_t size, n, base;
    enum death death;
    unsigned mutant;
};

/* All uint8_t: no padding, hashed and compared as bytes. */
struct mstate {
    uint8_t mem[NV];                 /* indices as offsets from base; slots hold seq + 1 */
    uint8_t sb_var[2][SB_MAX], sb_val[2][SB_MAX], sb_n[2];
    uint8_t pc[2], pend[2];
    uint8_t sup;                     /* supervisor: 0 idle, 1 killed (mark next), 2 marked (ring next), 3 done */
    uint8_t p_tail, p_head_seen, p_next, p_want, p_k, p_i;
    uint8_t c_head, c_tail_seen, c_read, c_max, c_min, c_k, c_i;
};

struct mresult {
    uint64_t states, transitions;
    int violation;                   /* 0 none, else a V_* code below */
    const char *what;
    uint32_t trace_len;
};
enum { VIOL_NONE, VIOL_OVERRUN, VIOL_ORDER, VIOL_EPROTO, VIOL_DEADLOCK, VIOL_NO_PROGRESS, VIOL_MODEL };

/* ---- the explored graph ---- */
struct graph {
    struct mstate *st;
    uint32_t *parent;
    uint32_t count, cap;
    uint32_t *hash;                  /* open addressing: index + 1, 0 = empty */
    uint32_t hcap;
    uint32_t *edge_from, *edge_to;   /* for the "good end still reachable" check */
    uint64_t ecount, ecap;
};

static uint32_t st_hash(const struct mstate *s)
{
    const uint8_t *b = (const uint8_t *)s;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof(*s); i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static void graph_grow_hash(struct graph *g)
{
    uint32_t ncap = g->hcap ? g->hcap * 2 : 1u << 16;
    uint32_t *nh = calloc(ncap, sizeof(uint32_t));
    for (uint32_t i = 0; i < g->hcap; i++) {
        if (!g->hash[i])
            continue;
        uint32_t j = st_hash(&g->st[g->hash[i] - 1]) & (ncap - 1);
        while (nh[j])
            j = (j + 1) & (ncap - 1);
        nh[j] = g->hash[i];
    }
    free(g->hash);
    g->hash = nh;
    g->hcap = ncap;
}

/* Index of s in the graph, adding it if new (*added = 1). */
static uint32_t graph_intern(struct graph *g, const struct mstate *s, uint32_t parent, int *added)
{
    if ((uint64_t)(g->count + 1) * 2 > g->hcap)
        graph_grow_hash(g);
    uint32_t j = st_hash(s) & (g->hcap - 1);
    while (g->hash[j]) {
        uint32_t i = g->hash[j] - 1;
        if (memcmp(&g->st[i], s, sizeof(*s)) == 0) {
            *added = 0;
            return i;
        }
        j = (j + 1) & (g->hcap - 1);
    }
    if (g->count == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 1u << 14;
        g->st = realloc(g->st, g->cap * sizeof(*g->st));
        g->parent = realloc(g->parent, g->cap * sizeof(uint32_t));
    }
    g->st[g->count] = *s;
    g->parent[g->count] = parent;
    g->hash[j] = g->count + 1;
    *added = 1;
    return g->count++;
}

static void graph_edge(struct graph *g, uint32_t from, uint32_t to)
{
    if (g->ecount == g->ecap) {
        g->ecap = g->ecap ? g->ecap * 2 : 1u << 16;
        g->edge_from = realloc(g->edge_from, g->ecap * sizeof(uint32_t));
        g->edge_to = realloc(g->edge_to, g->ecap * sizeof(uint32_t));
    }
    g->edge_from[g->ecount] = from;
    g->edge_to[g->ecount] = to;
    g->ecount++;
}

static void graph_free(struct graph *g)
{
    free(g->st);
    free(g->parent);
    free(g->hash);
    free(g->edge_from);
    free(g->edge_to);
    memset(g, 0, sizeof(*g));
}

/* ---- the model ---- */
struct ctx {
    const struct mconfig *cfg;
    int violation;
    const char *what;
    /* successors of the state being expanded */
    struct mstate succ[16];
    int nsucc;
};

static uint32_t real(const struct ctx *x, uint8_t off)
{
    return x->cfg->base + (uint32_t)(int32_t)(int8_t)off;
}
static uint8_t off8(const struct ctx *x, uint32_t v)
{
    return (uint8_t)(v - x->cfg->base);
}

static void fail(struct ctx *x, int v, const char *what)
{
    if (!x->violation) {
        x->violation = v;
        x->what = what;
    }
}

static uint8_t load(const struct mstate *s, int t, int var)
{
    for (int i = s->sb_n[t] - 1; i >= 0; i--)
        if (s->sb_var[t][i] == var)
            return s->sb_val[t][i];
    return s->mem[var];
}

static void store(struct ctx *x, struct mstate *s, int t, int var, uint8_t val)
{
    if (s->sb_n[t] == SB_MAX) {
        fail(x, VIOL_MODEL, "store buffer overflow (model too small)");
        return;
    }
    s->sb_var[t][s->sb_n[t]] = (uint8_t)var;
    s->sb_val[t][s->sb_n[t]] = val;
    s->sb_n[t]++;
}

static void emit(struct ctx *x, const struct mstate *s)
{
    if (x->nsucc < (int)(sizeof(x->succ) / sizeof(x->succ[0])))
        x->succ[x->nsucc++] = *s;
    else
        fail(x, VIOL_MODEL, "too many successors");
}

static bool fence_ok(const struct mstate *s, int t, unsigned mutant, unsigned which)
{
    return (mutant & which) || s->sb_n[t] == 0;
}

/* One step of the producer; emits its successors (none if blocked). */
static void step_p(struct ctx *x, const struct mstate *cur)
{
    const struct mconfig *cfg = x->cfg;
    struct mstate s = *cur;
    uint32_t tail = real(x, s.p_tail), seen = real(x, s.p_head_seen);
    switch (s.pc[TP]) {
    case P_START:
        if (s.p_next == cfg->n) {
            s.pc[TP] = P_DONE;
        } else {
            s.pc[TP] = load(&s, TP, V_STATE) ? P_GONE : P_PICK;
        }
        emit(x, &s);
        return;
    case P_PICK: /* batch size: every choice */
        for (uint32_t w = 1; w <= cfg->n - s.p_next; w++) {
            s.p_want = (uint8_t)w;
            s.pc[TP] = P_CHECK;
            emit(x, &s);
        }
        return;
    case P_CHECK: {
        uint32_t space = cfg->size - (tail - seen);
        if (space < s.p_want) {
            s.pc[TP] = P_LOAD_HEAD;
        } else {
            s.p_k = s.p_want;
            s.p_i = 0;
            s.pc[TP] = P_WRITE;
        }
        emit(x, &s);
        return;
    }
    case P_LOAD_HEAD: {
        uint32_t h = real(x, load(&s, TP, V_HEAD));
        if ((uint32_t)(h - seen) > (uint32_t)(tail - seen))
            fail(x, VIOL_EPROTO, "producer: head out of range");
        s.p_head_seen = off8(x, h);
        uint32_t space = cfg->size - (tail - h);
        if (space == 0) {
            s.pc[TP] = P_ARM;
        } else {
            s.p_k = (uint8_t)(space < s.p_want ? space : s.p_want);
            s.p_i = 0;
            s.pc[TP] = P_WRITE;
        }
        emit(x, &s);
        return;
    }
    case P_WRITE: {
        uint32_t pos = tail + s.p_i;
        uint32_t c_pos = cfg->base + s.c_read; /* next slot the consumer will read */
        if ((uint32_t)(pos - c_pos) >= cfg->size)
            fail(x, VIOL_OVERRUN, "producer overwrote a slot the consumer had not read");
        store(x, &s, TP, V_SLOT0 + (int)(pos & (cfg->size - 1)), (uint8_t)(s.p_next + s.p_i + 1));
        if (++s.p_i == s.p_k)
            s.pc[TP] = P_PUBLISH;
        emit(x, &s);
        return;
    }
    case P_PUBLISH:
        s.p_tail = off8(x, tail + s.p_k);
        s.p_next += s.p_k;
        store(x, &s, TP, V_TAIL, s.p_tail);
        s.pc[TP] = P_FENCE1;
        emit(x, &s);
        return;
    case P_FENCE1:
        if (!fence_ok(&s, TP, cfg->mutant, MUT_NO_PUBLISH_FENCE))
            return;
        s.pc[TP] = P_LOAD_EV;
        emit(x, &s);
        return;
    case P_LOAD_EV: {
        uint32_t ev = real(x, load(&s, TP, V_TAIL_EV));
        s.pc[TP] = keel_channel_need_event(ev, tail, tail - s.p_k) ? P_RING : P_START;
        emit(x, &s);
        return;
    }
    case P_RING:
        if (s.pc[TC] != C_DEAD)
            s.pend[TC] = 1;
        s.pc[TP] = P_START;
        emit(x, &s);
        return;
    case P_ARM:
        store(x, &s, TP, V_HEAD_EV, off8(x, tail - cfg->size + 1));
        s.pc[TP] = (cfg->mutant & MUT_NO_RECHECK) ? P_STATE : P_FENCE2;
        emit(x, &s);
        return;
    case P_FENCE2:
        if (!fence_ok(&s, TP, cfg->mutant, MUT_NO_SLEEP_FENCE))
            return;
        s.pc[TP] = P_RECHECK;
        emit(x, &s);
        return;
    case P_RECHECK:
        s.pc[TP] = real(x, load(&s, TP, V_HEAD)) != seen ? P_CHECK : P_STATE;
        emit(x, &s);
        return;
    case P_STATE:
        s.pc[TP] = load(&s, TP, V_STATE) ? P_GONE : P_WAIT;
        emit(x, &s);
        return;
    case P_WAIT:
        if (!s.pend[TP])
            return; /* asleep */
        s.pend[TP] = 0;
        s.pc[TP] = P_START; /* the loop calls submit_batch again */
        emit(x, &s);
        return;
    default:
        return; /* done, gone, dead */
    }
}

static void step_c(struct ctx *x, const struct mstate *cur)
{
    const struct mconfig *cfg = x->cfg;
    struct mstate s = *cur;
    uint32_t head = real(x, s.c_head), seen = real(x, s.c_tail_seen);
    switch (s.pc[TC]) {
    case C_START:
        if (s.c_read == cfg->n)
            s.pc[TC] = C_DONE;
        else
            s.pc[TC] = load(&s, TC, V_STATE) ? C_GONE : C_PICK;
        emit(x, &s);
        return;
    case C_PICK: {
        uint32_t left = cfg->n - s.c_read, top = left < cfg->size ? left : cfg->size;
        for (uint32_t m = 1; m <= cfg->size; m++)
            for (uint32_t w = 1; w <= top && w <= m; w++) {
                s.c_max = (uint8_t)m;
                s.c_min = (uint8_t)w;
                s.pc[TC] = C_CHECK;
                emit(x, &s);
            }
        return;
    }
    case C_CHECK: {
        uint32_t avail = seen - head;
        if (avail < s.c_max) {
            s.pc[TC] = C_LOAD_TAIL;
        } else {
            s.c_k = s.c_max;
            s.c_i = 0;
            s.pc[TC] = C_READ;
        }
        emit(x, &s);
        return;
    }
    case C_LOAD_TAIL: {
        uint32_t t = real(x, load(&s, TC, V_TAIL));
        uint32_t avail = t - head, before = seen - head;
        if (avail > cfg->size || avail < before)
            fail(x, VIOL_EPROTO, "consumer: tail out of range");
        s.c_tail_seen = off8(x, t);
        if (avail < s.c_min) {
            s.pc[TC] = C_ARM;
        } else {
            s.c_k = (uint8_t)(avail < s.c_max ? avail : s.c_max);
            s.c_i = 0;
            s.pc[TC] = C_READ;
        }
        emit(x, &s);
        return;
    }
    case C_READ: {
        uint32_t pos = head + s.c_i;
        uint8_t v = load(&s, TC, V_SLOT0 + (int)(pos & (cfg->size - 1)));
        if (v != (uint8_t)(s.c_read + 1))
            fail(x, VIOL_ORDER, "consumer read a stale, overwritten or out-of-order slot");
        s.c_read++;
        if (++s.c_i == s.c_k)
            s.pc[TC] = C_PUBLISH;
        emit(x, &s);
        return;
    }
    case C_PUBLISH:
        s.c_head = off8(x, head + s.c_k);
        store(x, &s, TC, V_HEAD, s.c_head);
        s.pc[TC] = C_FENCE1;
        emit(x, &s);
        return;
    case C_FENCE1:
        if (!fence_ok(&s, TC, cfg->mutant, MUT_NO_PUBLISH_FENCE))
            return;
        s.pc[TC] = C_LOAD_EV;
        emit(x, &s);
        return;
    case C_LOAD_EV: {
        uint32_t ev = real(x, load(&s, TC, V_HEAD_EV));
        s.pc[TC] = keel_channel_need_event(ev, head, head - s.c_k) ? C_RING : C_START;
        emit(x, &s);
        return;
    }
    case C_RING:
        if (s.pc[TP] != P_DEAD)
            s.pend[TP] = 1;
        s.pc[TC] = C_START;
        emit(x, &s);
        return;
    case C_ARM:
        store(x, &s, TC, V_TAIL_EV, off8(x, head + s.c_min - ((cfg->mutant & MUT_ARM_TOO_LOW) ? 1 : 0)));
        s.pc[TC] = (cfg->mutant & MUT_NO_RECHECK) ? C_STATE : C_FENCE2;
        emit(x, &s);
        return;
    case C_FENCE2:
        if (!fence_ok(&s, TC, cfg->mutant, MUT_NO_SLEEP_FENCE))
            return;
        s.pc[TC] = C_RECHECK;
        emit(x, &s);
        return;
    case C_RECHECK:
        s.pc[TC] = real(x, load(&s, TC, V_TAIL)) != seen ? C_CHECK : C_STATE;
        emit(x, &s);
        return;
    case C_STATE:
        s.pc[TC] = load(&s, TC, V_STATE) ? C_GONE : C_WAIT;
        emit(x, &s);
        return;
    case C_WAIT:
        if (!s.pend[TC])
            return;
        s.pend[TC] = 0;
        s.pc[TC] = C_START;
        emit(x, &s);
        return;
    default:
        return;
    }
}

static void step_flush(struct ctx *x, const struct mstate *cur, int t)
{
    if (!cur->sb_n[t])
        return;
    struct mstate s = *cur;
    s.mem[s.sb_var[t][0]] = s.sb_val[t][0];
    for (int i = 1; i < s.sb_n[t]; i++) {
        s.sb_var[t][i - 1] = s.sb_var[t][i];
        s.sb_val[t][i - 1] = s.sb_val[t][i];
    }
    s.sb_n[t]--;
    s.sb_var[t][s.sb_n[t]] = 0;
    s.sb_val[t][s.sb_n[t]] = 0;
    emit(x, &s);
}

/* The supervisor: kills the victim at any point, then marks the state word, then rings the
 * survivor (keel_channel_region_mark_gone() and a notification signal). */
static void step_sup(struct ctx *x, const struct mstate *cur)
{
    const struct mconfig *cfg = x->cfg;
    if (cfg->death == DEATH_NONE || cur->sup == 3)
        return;
    struct mstate s = *cur;
    int victim = cfg->death == DEATH_P ? TP : TC;
    switch (s.sup) {
    case 0:
        s.pc[victim] = victim == TP ? P_DEAD : C_DEAD;
        s.pend[victim] = 0;
        break;
    case 1:
        s.mem[V_STATE] = 1;
        break;
    case 2:
        s.pend[!victim] = 1;
        break;
    }
    s.sup++;
    emit(x, &s);
}

static bool good_end(const struct mconfig *cfg, const struct mstate *s)
{
    if (s->sb_n[TP] || s->sb_n[TC])
        return false;
    switch (cfg->death) {
    case DEATH_NONE:
        return s->pc[TP] == P_DONE && s->pc[TC] == C_DONE && s->c_read == cfg->n;
    case DEATH_P:
        return s->sup == 3 && (s->pc[TC] == C_DONE || s->pc[TC] == C_GONE);
    case DEATH_C:
        return s->sup == 3 && (s->pc[TP] == P_DONE || s->pc[TP] == P_GONE);
    }
    return false;
}

static void print_trace(const struct graph *g, uint32_t idx, const struct mconfig *cfg)
{
    uint32_t path[4096], n = 0;
    for (uint32_t i = idx; n < 4096; i = g->parent[i]) {
        path[n++] = i;
        if (g->parent[i] == i)
            break;
    }
    printf("    trace (%u states, base 0x%08x):\n", n, cfg->base);
    for (uint32_t k = n; k-- > 0;) {
        const struct mstate *s = &g->st[path[k]];
        printf("      P pc=%2u tail=%+d next=%u | C pc=%2u head=%+d read=%u | mem tail=%+d head=%+d tev=%+d hev=%+d st=%u"
               " | sb %u/%u pend %u/%u sup %u\n",
               s->pc[TP], (int8_t)s->p_tail, s->p_next, s->pc[TC], (int8_t)s->c_head, s->c_read,
               (int8_t)s->mem[V_TAIL], (int8_t)s->mem[V_HEAD], (int8_t)s->mem[V_TAIL_EV],
               (int8_t)s->mem[V_HEAD_EV], s->mem[V_STATE], s->sb_n[TP], s->sb_n[TC], s->pend[TP],
               s->pend[TC], s->sup);
    }
}

static struct mresult explore(const struct mconfig *cfg, bool verbose)
{
    struct graph g = { 0 };
    struct mresult r = { 0 };
    struct ctx x = { .cfg = cfg };
    struct mstate init;
    memset(&init, 0, sizeof(init)); /* every index and event index at base: nothing armed */
    init.pc[TP] = P_START;
    init.pc[TC] = C_START;
    int added;
    graph_intern(&g, &init, 0, &added);
    uint32_t bad = UINT32_MAX;
    for (uint32_t i = 0; i < g.count && !x.violation; i++) {
        struct mstate cur = g.st[i];
        x.nsucc = 0;
        step_p(&x, &cur);
        step_c(&x, &cur);
        step_flush(&x, &cur, TP);
        step_flush(&x, &cur, TC);
        step_sup(&x, &cur);
        if (x.violation) {
            bad = i;
            break;
        }
        if (x.nsucc == 0 && !good_end(cfg, &cur)) {
            fail(&x, VIOL_DEADLOCK, "lost wakeup: no step possible, but not finished");
            bad = i;
            break;
        }
        for (int k = 0; k < x.nsucc; k++) {
            uint32_t j = graph_intern(&g, &x.succ[k], i, &added);
            graph_edge(&g, i, j);
            r.transitions++;
        }
    }
    if (!x.violation) {
        /* every state must still be able to reach a good end: backward search from them */
        uint8_t *ok = calloc(g.count, 1);
        uint32_t *indeg = calloc((size_t)g.count + 1, sizeof(uint32_t));
        uint32_t *radj = malloc((g.ecount ? g.ecount : 1) * sizeof(uint32_t));
        uint32_t *stack = malloc((size_t)g.count * sizeof(uint32_t));
        for (uint64_t e = 0; e < g.ecount; e++)
            indeg[g.edge_to[e] + 1]++;
        for (uint32_t i = 0; i < g.count; i++)
            indeg[i + 1] += indeg[i];
        uint32_t *fill = malloc(((size_t)g.count + 1) * sizeof(uint32_t));
        memcpy(fill, indeg, ((size_t)g.count + 1) * sizeof(uint32_t));
        for (uint64_t e = 0; e < g.ecount; e++)
            radj[fill[g.edge_to[e]]++] = g.edge_from[e];
        uint32_t sp = 0;
        for (uint32_t i = 0; i < g.count; i++)
            if (good_end(cfg, &g.st[i])) {
                ok[i] = 1;
                stack[sp++] = i;
            }
        while (sp) {
            uint32_t v = stack[--sp];
            for (uint32_t k = indeg[v]; k < indeg[v + 1]; k++)
                if (!ok[radj[k]]) {
                    ok[radj[k]] = 1;
                    stack[sp++] = radj[k];
                }
        }
        for (uint32_t i = 0; i < g.count; i++)
            if (!ok[i]) {
                fail(&x, VIOL_NO_PROGRESS, "a state from which no good end is reachable");
                bad = i;
                break;
            }
        free(ok);
        free(indeg);
        free(radj);
        free(stack);
        free(fill);
    }
    r.states = g.count;
    r.violation = x.violation;
    r.what = x.what;
    if (bad != UINT32_MAX) {
        uint32_t n = 0;
        for (uint32_t i = bad; n < 100000; i = g.parent[i]) {
            n++;
            if (g.parent[i] == i)
                break;
        }
        r.trace_len = n;
        if (verbose)
            print_trace(&g, bad, cfg);
    }
    graph_free(&g);
    return r;
}

static const char *death_name(enum death d)
{
    return d == DEATH_NONE ? "none" : d == DEATH_P ? "producer" : "consumer";
}

TEST(channel_model_exhaustive)
{
    static const struct { uint32_t size, n; } shapes[] = {
        { 1, 1 }, { 1, 2 }, { 1, 3 }, { 2, 1 }, { 2, 2 }, { 2, 3 }, { 2, 4 }, { 4, 3 },
    };
    uint64_t total_states = 0, total_transitions = 0;
    for (unsigned i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        for (int d = DEATH_NONE; d <= DEATH_C; d++) {
            struct mconfig cfg = { shapes[i].size, shapes[i].n, UINT32_MAX - 1, (enum death)d, MUT_NONE };
            struct mresult r = explore(&cfg, true);
            total_states += r.states;
            total_transitions += r.transitions;
            if (r.violation)
                check_fail(__FILE__, __LINE__, "size %u, %u requests, death %s: %s", cfg.size, cfg.n,
                           death_name(cfg.death), r.what);
        }
    }
    printf("    model: %" PRIu64 " states, %" PRIu64 " transitions, no violation\n", total_states,
           total_transitions);
    /* the base where indices start: at 0 too, and exactly at the wrap */
    for (uint32_t b = 0; b < 3; b++) {
        uint32_t bases[3] = { 0, UINT32_MAX, 0x80000000u };
        struct mconfig cfg = { 2, 3, bases[b], DEATH_NONE, MUT_NONE };
        struct mresult r = explore(&cfg, true);
        CHECK_EQ_U64(r.violation, VIOL_NONE);
    }
}

TEST(channel_model_catches_mutants)
{
    static const struct { unsigned mutant; const char *name; } mutants[] = {
        { MUT_NO_PUBLISH_FENCE, "no fence between publishing the index and reading the event index" },
        { MUT_NO_SLEEP_FENCE, "no fence between arming the event index and re-reading the index" },
        { MUT_NO_RECHECK, "no re-check after arming" },
        { MUT_ARM_TOO_LOW, "event index armed one too low" },
    };
    for (unsigned m = 0; m < sizeof(mutants) / sizeof(mutants[0]); m++) {
        struct mconfig cfg = { 2, 3, UINT32_MAX - 1, DEATH_NONE, mutants[m].mutant };
        struct mresult r = explore(&cfg, false);
        if (r.violation != VIOL_DEADLOCK && r.violation != VIOL_NO_PROGRESS)
            check_fail(__FILE__, __LINE__, "mutant \"%s\" not caught (violation %d)", mutants[m].name,
                       r.violation);
        else
            printf("    mutant \"%s\": %s after %u steps\n", mutants[m].name, r.what, r.trace_len);
    }
}
