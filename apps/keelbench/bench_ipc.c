/* IPC: one-way Call and ReplyRecv with 0, 4 and 10 words, in one VSpace and across two, client
 * and server at the same and at different priorities; the Call->ReplyRecv round trip; Send->Recv
 * one-way (receiver at the higher priority, as sel4bench's seL4_Send).
 *
 * A run of the Call/ReplyRecv pair records four timestamps per iteration i:
 *   bench_t[0][i]  client, just before its Call          (Call one-way starts)
 *   bench_t[3][i]  server, just after Recv/ReplyRecv returns with call i   (Call one-way ends)
 *   bench_t[2][i]  server, just before the ReplyRecv that answers call i   (ReplyRecv one-way starts)
 *   bench_t[1][i]  client, just after its Call returns    (ReplyRecv one-way and round trip end)
 */
#include "bench.h"

struct ipc_run {
    uint64_t ep, reply;
    uint64_t length;                 /* message words, 0..10 */
    unsigned client_idx, server_idx; /* thread slots: which IPC buffer each one has */
    struct keel_tlb_counters c0, c1; /* the client's readings around the measured iterations */
};

#define MR_CLIENT(k) (0xc11e000ull + (k))
#define MR_SERVER(k) (0x5e77000ull + (k))

static void fill_buffer(struct keel_ipc_buffer *b, uint64_t length, bool client)
{
    for (uint64_t k = KEEL_MSG_REGISTERS; k < length; k++)
        b->mr[k] = client ? MR_CLIENT(k) : MR_SERVER(k);
}

static void call_client(void *arg)
{
    struct ipc_run *r = arg;
    struct bench_regs regs = {
        .cptr = r->ep, .info = keel_msginfo(1, 0, r->length),
        .mr0 = MR_CLIENT(0), .mr1 = MR_CLIENT(1), .mr2 = MR_CLIENT(2), .mr3 = MR_CLIENT(3),
    };
    fill_buffer(bench_ipc_buffer(r->client_idx), r->length, true);
    unsigned i;
    for (i = 0; i < BENCH_WARMUP; i++)
        BENCH_SYSCALL(KEEL_SYS_CALL, &bench_t[0][i], &bench_t[1][i], &regs);
    r->c0 = bench_tlb_now();
    /* The counters came back in MR0-9, i.e. over MR4-9 of our IPC buffer: put our words back. */
    fill_buffer(bench_ipc_buffer(r->client_idx), r->length, true);
    for (; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_CALL, &bench_t[0][i], &bench_t[1][i], &regs);
    r->c1 = bench_tlb_now();
    keel_signal(bench_done);
}

static void replyrecv_server(void *arg)
{
    struct ipc_run *r = arg;
    struct bench_regs regs = {
        .cptr = r->ep, .reply = r->reply, .info = keel_msginfo(2, 0, r->length),
        .mr0 = MR_SERVER(0), .mr1 = MR_SERVER(1), .mr2 = MR_SERVER(2), .mr3 = MR_SERVER(3),
    };
    fill_buffer(bench_ipc_buffer(r->server_idx), r->length, false);
    uint64_t scratch;
    BENCH_SYSCALL(KEEL_SYS_RECV, &scratch, &bench_t[3][0], &regs);
    /* The last ReplyRecv answers the last call and then waits until the thread is destroyed. */
    for (unsigned i = 0; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_REPLY_RECV, &bench_t[2][i], &bench_t[3][i + 1], &regs);
}

/* samples[i] = end[i] - start[i] over the measured iterations; false if any is out of order
 * (a syscall that failed instead of blocking leaves a stale or zero timestamp). */
static bool deltas(const uint64_t *start, const uint64_t *end, uint64_t *out)
{
    for (unsigned i = BENCH_WARMUP; i < bench_total; i++) {
        if (end[i] < start[i] || start[i] == 0)
            return false;
        out[i - BENCH_WARMUP] = end[i] - start[i];
    }
    return true;
}

static int new_ipc_objects(struct ipc_run *r)
{
    int err = keel_alloc_object(KEEL_OBJ_ENDPOINT, 0, &r->ep);
    return err ? err : keel_alloc_object(KEEL_OBJ_REPLY, 0, &r->reply);
}

static void free_ipc_objects(struct ipc_run *r)
{
    keel_free_object(r->ep);
    keel_free_object(r->reply);
}

/* Appended to the notes of the next call_replyrecv() results. */
static const char *note_extra = "";

/* One Call/ReplyRecv run; its one-way results are named ipc_call_<suffix> and
 * ipc_replyrecv_<suffix>, and with `roundtrip` also ipc_roundtrip_<suffix>. */
static void call_replyrecv(const char *suffix, bool cross, uint64_t length, int client_prio, int server_prio,
                           bool roundtrip, uint64_t overhead)
{
    char name[BENCH_NAME_MAX], note[BENCH_NOTE_MAX];
    char where[48];
    keel_snprintf(where, sizeof where, "%s%s", cross ? "two VSpaces" : "one VSpace", note_extra);
    char prio[40];
    if (client_prio == server_prio)
        keel_snprintf(prio, sizeof prio, "same prio %d", client_prio);
    else
        keel_snprintf(prio, sizeof prio, "client prio %d, server %d", client_prio, server_prio);
    keel_snprintf(name, sizeof name, "ipc_call_%s", suffix);
    keel_snprintf(note, sizeof note, "Call one-way, %llu words, %s, %s", (unsigned long long)length, where, prio);
    struct bench_result *rc = bench_new(name, note);
    keel_snprintf(name, sizeof name, "ipc_replyrecv_%s", suffix);
    keel_snprintf(note, sizeof note, "ReplyRecv one-way back, %llu words, %s, %s", (unsigned long long)length, where,
                  prio);
    struct bench_result *rr = bench_new(name, note);
    struct bench_result *rt = 0;
    if (roundtrip) {
        keel_snprintf(name, sizeof name, "ipc_roundtrip_%s", suffix);
        keel_snprintf(note, sizeof note, "Call->ReplyRecv round trip, %llu words, %s, %s", (unsigned long long)length,
                      where, prio);
        rt = bench_new(name, note);
    }
    if (!rc || !rr)
        return;

    static struct ipc_run r;
    r = (struct ipc_run){ .length = length, .client_idx = 1, .server_idx = 0 };
    memset(bench_t, 0, sizeof bench_t);
    int err = new_ipc_objects(&r);
    if (!err) {
        const struct bench_thread_spec specs[] = {
            { replyrecv_server, &r, server_prio, cross, 0 },
            { call_client, &r, client_prio, false, 0 },
        };
        err = bench_run_threads(specs, 2);
    }
    free_ipc_objects(&r);
    if (err) {
        bench_fail(rc, "run", err);
        bench_fail(rr, "run", err);
        bench_fail(rt, "run", err);
        return;
    }
    /* The words past MR3 really travelled: the server's buffer, filled with its own words at the
     * start, now holds the client's (the server echoes what it received, so its replies carry the
     * client's words back and the client's buffer cannot tell). */
    for (uint64_t k = KEEL_MSG_REGISTERS; k < length; k++) {
        if (bench_ipc_buffer(r.server_idx)->mr[k] != MR_CLIENT(k)) {
            bench_fail(rc, "message words past MR3 not delivered", KEEL_E_TRUNCATED_MESSAGE);
            bench_fail(rr, "message words past MR3 not delivered", KEEL_E_TRUNCATED_MESSAGE);
            bench_fail(rt, "message words past MR3 not delivered", KEEL_E_TRUNCATED_MESSAGE);
            return;
        }
    }
    if (!deltas(bench_t[0], bench_t[3], bench_samples))
        bench_fail(rc, "timestamps out of order", KEEL_E_ILLEGAL_OPERATION);
    else
        bench_stats(rc, bench_samples, bench_iters, overhead);
    if (!deltas(bench_t[2], bench_t[1], bench_samples))
        bench_fail(rr, "timestamps out of order", KEEL_E_ILLEGAL_OPERATION);
    else
        bench_stats(rr, bench_samples, bench_iters, overhead);
    /* Counters over the measured round trips; each one-way IPC is half a round trip. */
    bench_tlb_per_op(rc, &r.c0, &r.c1, 2 * bench_iters);
    bench_tlb_per_op(rr, &r.c0, &r.c1, 2 * bench_iters);
    if (rt) {
        if (!deltas(bench_t[0], bench_t[1], bench_samples))
            bench_fail(rt, "timestamps out of order", KEEL_E_ILLEGAL_OPERATION);
        else
            bench_stats(rt, bench_samples, bench_iters, overhead);
        bench_tlb_per_op(rt, &r.c0, &r.c1, bench_iters);
    }
}

/* ---- Send -> Recv ---- */

static void send_client(void *arg)
{
    struct ipc_run *r = arg;
    struct bench_regs regs = { .cptr = r->ep, .info = keel_msginfo(1, 0, r->length) };
    unsigned i;
    for (i = 0; i < BENCH_WARMUP; i++)
        BENCH_SYSCALL(KEEL_SYS_SEND, &bench_t[0][i], &bench_t[1][i], &regs);
    r->c0 = bench_tlb_now();
    for (; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_SEND, &bench_t[0][i], &bench_t[1][i], &regs);
    r->c1 = bench_tlb_now();
    keel_signal(bench_done);
}

static void recv_server(void *arg)
{
    struct ipc_run *r = arg;
    struct bench_regs regs = { .cptr = r->ep };
    for (unsigned i = 0; i < bench_total; i++)
        BENCH_SYSCALL(KEEL_SYS_RECV, &bench_t[2][i], &bench_t[3][i], &regs);
}

static void send_recv(const char *name, bool cross, uint64_t overhead)
{
    char note[BENCH_NOTE_MAX];
    keel_snprintf(note, sizeof note, "Send->Recv one-way, 0 words, %s, receiver prio %d > sender %d",
                  cross ? "two VSpaces" : "one VSpace", PRIO_HIGH, PRIO_MID);
    struct bench_result *res = bench_new(name, note);
    if (!res)
        return;
    static struct ipc_run r;
    r = (struct ipc_run){ .length = 0 };
    memset(bench_t, 0, sizeof bench_t);
    int err = new_ipc_objects(&r);
    if (!err) {
        const struct bench_thread_spec specs[] = {
            { recv_server, &r, PRIO_HIGH, cross, 0 },
            { send_client, &r, PRIO_MID, false, 0 },
        };
        err = bench_run_threads(specs, 2);
    }
    free_ipc_objects(&r);
    if (err)
        bench_fail(res, "run", err);
    else if (!deltas(bench_t[0], bench_t[3], bench_samples))
        bench_fail(res, "timestamps out of order", KEEL_E_ILLEGAL_OPERATION);
    else
        bench_stats(res, bench_samples, bench_iters, overhead);
    /* Per Send (each wakes the receiver and comes back when it blocks again: two switches). */
    bench_tlb_per_op(res, &r.c0, &r.c1, bench_iters);
}

void bench_group_ipc(void)
{
    uint64_t ovh = bench_overhead();
    /* Headline: same priority, 0 / 4 / 10 words, both VSpace set-ups. */
    call_replyrecv("cross_0", true, 0, PRIO_MID, PRIO_MID, true, ovh);
    call_replyrecv("same_0", false, 0, PRIO_MID, PRIO_MID, true, ovh);
    call_replyrecv("cross_4", true, 4, PRIO_MID, PRIO_MID, false, ovh);
    call_replyrecv("same_4", false, 4, PRIO_MID, PRIO_MID, false, ovh);
    call_replyrecv("cross_10", true, 10, PRIO_MID, PRIO_MID, true, ovh);
    call_replyrecv("same_10", false, 10, PRIO_MID, PRIO_MID, false, ovh);
    /* Different priorities: server above the client, and below it. */
    call_replyrecv("cross_0_srvhigh", true, 0, PRIO_MID, PRIO_HIGH, false, ovh);
    call_replyrecv("cross_0_srvlow", true, 0, PRIO_HIGH, PRIO_MID, false, ovh);
    call_replyrecv("same_0_srvhigh", false, 0, PRIO_MID, PRIO_HIGH, false, ovh);
    call_replyrecv("same_0_srvlow", false, 0, PRIO_HIGH, PRIO_MID, false, ovh);
    /* A VSpace with I/O ports (a driver's): the client's has COM1 bound during this run. */
    bench_console(true);
    note_extra = " (client's has 8 I/O ports)";
    call_replyrecv("cross_0_ioports", true, 0, PRIO_MID, PRIO_MID, false, ovh);
    note_extra = "";
    bench_console(false);
    send_recv("ipc_send_cross_0", true, ovh);
    send_recv("ipc_send_same_0", false, ovh);
}
