/* Channels: requests through a null driver (a server in the other VSpace that completes every
 * request at once without touching its data) at batch sizes 1, 8 and 32. The client submits a
 * batch of 64-byte requests with one submit_batch and reaps them all with reap_wait; both sides
 * sleep on notifications when idle (keel_channel_bind_notifications), at the same priority.
 *
 * Reported per request: the time from the submit to the last completion of its batch, divided by
 * the batch size; and the doorbells (notification signals, both directions) per request. */
#include "bench.h"
#include <keel/channel.h>

#define CH_ENTRIES 64
#define CH_REQ_BYTES 64
#define CH_DATA (CH_ENTRIES * CH_REQ_BYTES)
#define CH_REGION 16384

static uint8_t region[CH_REGION] __attribute__((aligned(4096)));

struct channel_run {
    uint32_t batch;
    uint64_t batches;                 /* warm-up + measured */
    uint64_t client_ntfn, server_ntfn;
    struct keel_channel client, server;
    struct keel_channel_notifications client_n, server_n;
    struct keel_channel_inflight inflight[CH_ENTRIES];
    struct keel_channel_desc req[CH_ENTRIES], done[CH_ENTRIES], work[CH_ENTRIES];
    struct keel_channel_stats client_mark, server_mark; /* stats when the measured batches began */
    struct keel_tlb_counters c0, c1;
    volatile uint64_t server_requests;
    int error;
};

static void null_driver(void *arg)
{
    struct channel_run *r = arg;
    struct keel_channel_ops ops;
    keel_channel_bind_notifications(&ops, &r->server_n);
    int rc = keel_channel_attach_server(&r->server, region, sizeof region, &ops);
    while (rc == 0) {
        int n = keel_channel_pop_wait(&r->server, r->work, CH_ENTRIES);
        if (n < 0) {
            rc = n;
            break;
        }
        r->server_requests += (uint64_t)n;
        if (r->server_requests == (uint64_t)BENCH_WARMUP * r->batch)
            r->server_mark = *keel_channel_get_stats(&r->server);
        int k = keel_channel_complete_wait(&r->server, r->work, (uint32_t)n);
        if (k != n)
            rc = k < 0 ? k : KEEL_CHANNEL_EPROTO;
    }
    if (!r->error)
        r->error = rc;
}

static void channel_client(void *arg)
{
    struct channel_run *r = arg;
    struct keel_channel_ops ops;
    keel_channel_bind_notifications(&ops, &r->client_n);
    int rc = keel_channel_attach_client(&r->client, region, sizeof region, &ops, r->inflight, CH_ENTRIES);
    for (uint32_t i = 0; i < r->batch; i++)
        r->req[i] = (struct keel_channel_desc){
            .tag = i, .opcode = 1, .offset = i * CH_REQ_BYTES, .length = CH_REQ_BYTES,
        };
    for (uint64_t b = 0; b < r->batches && rc == 0; b++) {
        if (b == BENCH_WARMUP) {
            r->client_mark = *keel_channel_get_stats(&r->client);
            r->c0 = bench_tlb_now();
        }
        uint64_t t0 = bench_rdtsc();
        int n = keel_channel_submit_batch(&r->client, r->req, r->batch);
        uint32_t got = 0;
        if (n != (int)r->batch)
            rc = n < 0 ? n : KEEL_CHANNEL_AGAIN;
        while (rc == 0 && got < r->batch) {
            int k = keel_channel_reap_wait(&r->client, r->done, r->batch - got);
            if (k <= 0)
                rc = k < 0 ? k : KEEL_CHANNEL_EPROTO;
            else
                got += (uint32_t)k;
        }
        uint64_t t1 = bench_rdtsc();
        bench_t[0][b] = t1 - t0;
    }
    r->c1 = bench_tlb_now();
    if (rc)
        r->error = rc;
    keel_signal(bench_done);
}

static void channel_batch(uint32_t batch, uint64_t ovh)
{
    char name[BENCH_NAME_MAX], note[BENCH_NOTE_MAX];
    keel_snprintf(name, sizeof name, "channel_batch_%u", batch);
    keel_snprintf(note, sizeof note, "per 64-byte request, batches of %u through a null driver in another VSpace",
                  batch);
    struct bench_result *res = bench_new(name, note);
    if (!res)
        return;
    res->unit = bench_icount ? "insn/request" : "cycles/request";
    static struct channel_run r;
    r = (struct channel_run){ .batch = batch, .batches = bench_total };
    memset(bench_t, 0, sizeof bench_t);
    struct keel_channel_config cfg = { .sq_entries = CH_ENTRIES, .cq_entries = CH_ENTRIES, .data_size = CH_DATA };
    int err = keel_channel_init(region, sizeof region, &cfg) ? KEEL_E_INVALID_ARGUMENT : 0;
    if (!err)
        err = keel_alloc_object(KEEL_OBJ_NOTIFICATION, 0, &r.client_ntfn);
    if (!err)
        err = keel_alloc_object(KEEL_OBJ_NOTIFICATION, 0, &r.server_ntfn);
    if (!err) {
        r.client_n = (struct keel_channel_notifications){ .signal_cap = r.server_ntfn, .wait_cap = r.client_ntfn };
        r.server_n = (struct keel_channel_notifications){ .signal_cap = r.client_ntfn, .wait_cap = r.server_ntfn };
        const struct bench_thread_spec specs[] = {
            { null_driver, &r, PRIO_MID, true, 0 },
            { channel_client, &r, PRIO_MID, false, 0 },
        };
        err = bench_run_threads(specs, 2);
    }
    keel_free_object(r.client_ntfn);
    keel_free_object(r.server_ntfn);
    if (err) {
        bench_fail(res, "run", err);
        return;
    }
    if (r.error) {
        keel_snprintf(res->error, sizeof res->error, "channel: %s", keel_channel_strerror(r.error));
        res->failed = true;
        return;
    }
    memcpy(bench_samples, &bench_t[0][BENCH_WARMUP], bench_iters * sizeof(uint64_t));
    bench_stats(res, bench_samples, bench_iters, ovh);
    /* Per request: divide the per-batch figures by the batch size. */
    res->min /= batch;
    res->median /= batch;
    res->max /= batch;
    res->mean_x10 /= batch;
    uint64_t requests = (uint64_t)bench_iters * batch;
    bench_tlb_per_op(res, &r.c0, &r.c1, requests);
    const struct keel_channel_stats *cs = keel_channel_get_stats(&r.client), *ss = keel_channel_get_stats(&r.server);
    uint64_t up = cs->doorbells_sent - r.client_mark.doorbells_sent;
    uint64_t down = ss->doorbells_sent - r.server_mark.doorbells_sent;
    uint64_t waits = (cs->waits - r.client_mark.waits) + (ss->waits - r.server_mark.waits);
    bench_extra(res, "requests_per_doorbell", up + down ? requests * 100 / (up + down) : 0);
    bench_extra(res, "submit_doorbells_per_request", (up * 100 + requests / 2) / requests);
    bench_extra(res, "completion_doorbells_per_request", (down * 100 + requests / 2) / requests);
    bench_extra(res, "waits_per_request", (waits * 100 + requests / 2) / requests);
}

void bench_group_channel(void)
{
    uint64_t ovh = bench_overhead_c();
    channel_batch(1, ovh);
    channel_batch(8, ovh);
    channel_batch(32, ovh);
}
