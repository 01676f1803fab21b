/* Channels between processes: keeltest as the client of the null driver (servers/null), a
 * separate process brokered the way init does it (test_channel.h). A stress of 10^5 requests
 * through small rings, and the driver killed with requests outstanding, then restarted. */
#include "test_channel.h"
#include "null.h"
#include <keel/initsvc.h>

#define STRESS_REQUESTS 100000u
#define STRESS_MIN_REQUESTS 20000u /* what a slow emulator must still get through */
#define STRESS_BUDGET_MS 20000u    /* past this, a slow emulator stops early (see below) */
#define SQ 4                       /* smaller than the in-flight limit: the ring fills up */
#define CQ 8
#define SLOT_BYTES 64

/* The bytes of request `tag`'s buffer, and its length: both from the tag, so the client can
 * check every completion against the request it belongs to. */
static uint8_t pattern(uint64_t tag, uint32_t i) { return (uint8_t)(tag * 131u + i * 7u + (tag >> 8)); }
static uint32_t req_length(uint64_t tag) { return 1 + (uint32_t)(tag % (SLOT_BYTES - 1)); }
static uint32_t req_opcode(uint64_t tag) { return tag % 5 == 4 ? KEEL_NULL_NOP : KEEL_NULL_ECHO; }

static uint64_t ms_since(uint64_t t0)
{
    uint64_t khz = kt_bi->tsc_khz ? kt_bi->tsc_khz : 1000000;
    return (kt_now() - t0) / khz;
}

/* Fill request `tag` (its buffer is slot tag % CQ: at most CQ are in flight, completed in order). */
static void make_request(struct kt_chan *c, uint64_t tag, struct keel_channel_desc *d)
{
    uint32_t off = (uint32_t)(tag % CQ) * SLOT_BYTES, len = req_length(tag);
    uint8_t *p = keel_channel_data(&c->ch, off, len);
    for (uint32_t i = 0; i < len; i++)
        p[i] = pattern(tag, i);
    *d = (struct keel_channel_desc){ .tag = tag, .opcode = req_opcode(tag), .offset = off, .length = len };
}

/* Whether completion d is exactly what the driver owes request d->tag. */
static bool completion_ok(struct kt_chan *c, const struct keel_channel_desc *d)
{
    uint64_t tag = d->tag;
    if (d->opcode != req_opcode(tag) || d->offset != (tag % CQ) * SLOT_BYTES)
        return false;
    if (d->opcode == KEEL_NULL_NOP)
        return d->status == 0 && d->length == 0;
    uint32_t len = req_length(tag), sum = 2166136261u;
    const uint8_t *p = keel_channel_data(&c->ch, d->offset, len);
    for (uint32_t i = 0; i < len; i++) {
        uint8_t b = pattern(tag, i);
        sum = (sum ^ b) * 16777619u;
        if (p[i] != (uint8_t)~b) /* the driver inverts what it read */
            return false;
    }
    return d->length == len && d->status == keel_null_echo_status(tag, sum);
}

static uint8_t seen[STRESS_REQUESTS / 8];

KEEL_TEST(channel_null_driver_1e5_requests_small_rings)
{
    struct kt_driver drv;
    struct kt_chan c;
    ASSERT_OK(kt_driver_init(&drv));
    ASSERT_OK(kt_driver_start(&drv));
    /* Indices start just below 2^32, so the free-running counters wrap during the run too. */
    const uint32_t first = 0xffffffffu - 100;
    struct keel_channel_config cfg = { .sq_entries = SQ, .cq_entries = CQ, .first_index = first };
    ASSERT_OK(kt_chan_open(&drv, &c, 0, &cfg));
    memset(seen, 0, sizeof seen);

    uint64_t t0 = kt_now(), submitted = 0, reaped = 0, total = STRESS_REQUESTS;
    uint64_t full = 0, busy = 0, waits = 0, max_inflight = 0, bad = 0, dup = 0, out_of_order = 0;
    struct keel_channel_desc batch[CQ], done[CQ];
    int err = 0;
    while (reaped < total && !err) {
        /* Submit as many as the in-flight limit allows, without blocking. */
        while (submitted < total) {
            uint32_t k = (uint32_t)(CQ - (submitted - reaped));
            if (k > total - submitted)
                k = (uint32_t)(total - submitted);
            if (k == 0) {
                busy++; /* in-flight limit: a BUSY from submit would say the same */
                break;
            }
            for (uint32_t i = 0; i < k; i++)
                make_request(&c, submitted + i, &batch[i]);
            int n = keel_channel_submit_batch(&c.ch, batch, k);
            if (n == KEEL_CHANNEL_AGAIN) { /* the submission ring is full: try again after reaping */
                full++;
                break;
            }
            if (n <= 0) {
                err = n ? n : KEEL_CHANNEL_EPROTO;
                break;
            }
            submitted += (uint32_t)n;
            if (submitted - reaped > max_inflight)
                max_inflight = submitted - reaped;
            if ((uint32_t)n < k) { /* partly queued: the ring filled up */
                full++;
                break;
            }
        }
        int n = keel_channel_reap(&c.ch, done, CQ);
        if (n == 0) {
            waits++;
            n = keel_channel_reap_wait(&c.ch, done, CQ);
        }
        if (n < 0)
            err = n;
        for (int i = 0; i < n; i++) {
            uint64_t tag = done[i].tag;
            if (tag >= STRESS_REQUESTS || (seen[tag / 8] >> (tag % 8)) & 1) {
                dup++;
                continue;
            }
            seen[tag / 8] |= (uint8_t)(1u << (tag % 8));
            out_of_order += tag != reaped;
            bad += !completion_ok(&c, &done[i]);
            reaped++;
        }
        /* A slow emulator (Bochs runs the suite too) stops at a time budget, never below
         * STRESS_MIN_REQUESTS; QEMU gets through all 10^5 well within it. */
        if (total == STRESS_REQUESTS && reaped >= STRESS_MIN_REQUESTS && ms_since(t0) > STRESS_BUDGET_MS)
            total = submitted;
    }
    uint64_t ms = ms_since(t0);
    const struct keel_channel_stats *st = keel_channel_get_stats(&c.ch);
    keel_printf("# %llu requests in %llu ms: ring full %llu times, in-flight limit %llu times (max %llu), "
                "%llu waits, doorbells %llu sent / %llu suppressed\n",
                (unsigned long long)reaped, (unsigned long long)ms, (unsigned long long)full,
                (unsigned long long)busy, (unsigned long long)max_inflight, (unsigned long long)waits, (unsigned long long)st->doorbells_sent,
                (unsigned long long)st->doorbells_suppressed);
    EXPECT_OK(err);
    if (total != STRESS_REQUESTS)
        keel_printf("# slow emulator: stopped after %llu requests\n", (unsigned long long)total);
    ASSERT_TRUE(total >= STRESS_MIN_REQUESTS);
    EXPECT_EQ(reaped, total);
    EXPECT_EQ(submitted, total);
    for (uint64_t t = 0; t < total; t++) /* none lost */
        if (!((seen[t / 8] >> (t % 8)) & 1)) {
            EXPECT_TRUE(!"request lost");
            keel_printf("# tag %llu never completed\n", (unsigned long long)t);
            break;
        }
    EXPECT_EQ(dup, 0);
    EXPECT_EQ(out_of_order, 0);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(st->requests, total);
    EXPECT_EQ(st->completions, total);
    EXPECT_EQ(st->rejected, 0);
    EXPECT_EQ(keel_channel_inflight(&c.ch), 0);
    /* What the small rings are there for did happen: the submission ring ran full (AGAIN, and
     * the requests went in on a later try), the ring slots wrapped (every SQ requests) and so
     * did the free-running indices, past 2^32. */
    EXPECT_NE(full, 0);
    struct keel_channel_header *h = c.region;
    uint32_t tail = atomic_load(&h->sq_tail.v);
    EXPECT_EQ(tail, (uint32_t)(first + total));
    EXPECT_TRUE(tail < first);
    EXPECT_EQ(atomic_load(&h->cq_tail.v), tail);
    /* The driver is still well: no fault or exit waiting on its endpoint. */
    struct keel_msg m = keel_msg_make(0, 0);
    EXPECT_ERR(keel_nbrecv(drv.ep, drv.reply, &m), KEEL_E_WOULD_BLOCK);
    EXPECT_OK(kt_driver_kill(&drv, &c));
    EXPECT_EQ(kt_watermark(drv.ut), 0);
    kt_chan_free(&c);
}

/* ---- The driver dies with requests outstanding ---- */

struct sleeper {
    struct kt_chan *c;
    volatile int done;
    int result;
};

/* A client thread asleep in reap_wait when the driver dies: it must wake up with an error. */
static void sleep_in_reap(void *arg)
{
    struct sleeper *s = arg;
    struct keel_channel_desc d[CQ];
    s->result = keel_channel_reap_wait(&s->c->ch, d, CQ);
    s->done = 1;
}

/* `count` requests from tag `first_tag`, all completed correctly (the channel works). */
static void round_trips(struct kt_chan *c, uint64_t first_tag, unsigned count)
{
    struct keel_channel_desc d;
    for (unsigned i = 0; i < count; i++) {
        make_request(c, first_tag + i, &d);
        ASSERT_EQ(keel_channel_submit(&c->ch, &d), 0);
        int n = keel_channel_reap_wait(&c->ch, &d, 1);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(d.tag, first_tag + i);
        ASSERT_TRUE(completion_ok(c, &d));
    }
}

KEEL_TEST(channel_null_driver_killed_midstream_then_restarted)
{
    struct kt_driver drv;
    struct kt_chan c, c2;
    ASSERT_OK(kt_driver_init(&drv));
    uint64_t free_slots = keel_slot_free_count();
    ASSERT_OK(kt_driver_start(&drv));
    uint64_t bytes = drv.p.bytes;
    struct keel_channel_config cfg = { .sq_entries = SQ, .cq_entries = CQ };
    ASSERT_OK(kt_chan_open(&drv, &c, 1, &cfg));
    round_trips(&c, 0, 100);

    /* Four requests the driver takes and keeps (a slow device), then it stops for good ... */
    struct keel_channel_desc d[CQ];
    for (unsigned i = 0; i < 4; i++)
        d[i] = (struct keel_channel_desc){ .tag = 1000 + i, .opcode = KEEL_NULL_HOLD };
    ASSERT_EQ(keel_channel_submit_batch(&c.ch, d, 4), 4);
    struct keel_channel_header *h = c.region;
    for (uint64_t t = kt_now(); atomic_load(&h->sq_head.v) != atomic_load(&h->sq_tail.v) && kt_patient(t);)
        keel_yield();
    ASSERT_EQ(atomic_load(&h->sq_head.v), atomic_load(&h->sq_tail.v));
    ASSERT_OK(keel_process_kill(&drv.p));
    /* ... and four more that it never sees: eight outstanding, the in-flight limit. */
    for (unsigned i = 0; i < 4; i++)
        make_request(&c, 2000 + i, &d[i]);
    ASSERT_EQ(keel_channel_submit_batch(&c.ch, d, 4), 4);
    ASSERT_EQ(keel_channel_inflight(&c.ch), 8);
    ASSERT_EQ(keel_channel_reap(&c.ch, d, CQ), 0);

    /* A client thread goes to sleep waiting for them; then the driver dies as init sees it. */
    static struct sleeper s;
    s = (struct sleeper){ .c = &c };
    struct keel_thread *t;
    ASSERT_OK(kt_thread(sleep_in_reap, &s, &t));
    ASSERT_TRUE(kt_wait_state(t->tcb, KEEL_THREAD_BLOCKED_NOTIFICATION));
    ASSERT_EQ(s.done, 0);
    ASSERT_OK(kt_driver_kill(&drv, &c));
    EXPECT_EQ(kt_watermark(drv.ut), 0); /* everything it had went with one Revoke */
    ASSERT_TRUE(kt_wait_flag(&s.done)); /* woken, not left hanging */
    EXPECT_ERR(s.result, KEEL_CHANNEL_PEER_GONE);
    EXPECT_OK(keel_thread_destroy(t));

    /* Every outstanding request ends exactly once, with PEER_GONE. */
    unsigned got = 0, held = 0, queued = 0, other = 0;
    for (int round = 0; round < 4; round++) {
        int n = keel_channel_fail_inflight(&c.ch, d, 3); /* a few at a time */
        ASSERT_TRUE(n >= 0);
        if (n == 0)
            break;
        for (int i = 0; i < n; i++) {
            EXPECT_EQ(d[i].status, KEEL_CHANNEL_PEER_GONE);
            EXPECT_EQ(d[i].length, 0);
            if (d[i].tag >= 1000 && d[i].tag < 1004 && !(held & (1u << (d[i].tag - 1000))))
                held |= 1u << (d[i].tag - 1000);
            else if (d[i].tag >= 2000 && d[i].tag < 2004 && !(queued & (1u << (d[i].tag - 2000))))
                queued |= 1u << (d[i].tag - 2000);
            else
                other++; /* a stranger or a second completion */
        }
        got += (unsigned)n;
    }
    EXPECT_EQ(got, 8);
    EXPECT_EQ(held, 0xf);
    EXPECT_EQ(queued, 0xf);
    EXPECT_EQ(other, 0);
    EXPECT_EQ(keel_channel_fail_inflight(&c.ch, d, CQ), 0); /* nothing twice */
    EXPECT_EQ(keel_channel_inflight(&c.ch), 0);
    /* The channel stays dead: new requests fail at once, nothing blocks. */
    make_request(&c, 3000, &d[0]);
    EXPECT_ERR(keel_channel_submit(&c.ch, &d[0]), KEEL_CHANNEL_PEER_GONE);
    EXPECT_ERR(keel_channel_submit_wait(&c.ch, &d[0], 1), KEEL_CHANNEL_PEER_GONE);
    EXPECT_ERR(keel_channel_reap_wait(&c.ch, d, CQ), KEEL_CHANNEL_PEER_GONE);
    EXPECT_ERR(keel_channel_status(&c.ch), KEEL_CHANNEL_PEER_GONE);
    EXPECT_EQ(atomic_load(&h->state.v), KEEL_CHANNEL_STATE_SERVER_GONE);
    /* Its doorbell cap went with the driver's memory. */
    EXPECT_EQ(kt_type(c.doorbell), KEEL_CAP_NULL);
    kt_chan_free(&c);

    /* Restarted from the same Untyped, with a new channel: requests succeed again. */
    ASSERT_OK(kt_driver_start(&drv));
    EXPECT_EQ(drv.p.bytes, bytes);
    ASSERT_OK(kt_chan_open(&drv, &c2, 2, &cfg));
    round_trips(&c2, 5000, 100);
    for (unsigned i = 0; i < 3; i++)
        d[i] = (struct keel_channel_desc){ .tag = 6000 + i, .opcode = KEEL_NULL_HOLD };
    d[3] = (struct keel_channel_desc){ .tag = 6003, .opcode = KEEL_NULL_RELEASE };
    ASSERT_EQ(keel_channel_submit_batch(&c2.ch, d, 4), 4);
    struct keel_channel_desc r[CQ];
    unsigned n = 0;
    while (n < 4) {
        int k = keel_channel_reap_wait(&c2.ch, r + n, CQ - n);
        ASSERT_TRUE(k > 0);
        n += (unsigned)k;
    }
    for (unsigned i = 0; i < 4; i++) /* the held ones end first, then the RELEASE that freed them */
        EXPECT_EQ(r[i].tag, 6000 + i);
    EXPECT_EQ(r[3].status, 3);
    ASSERT_OK(kt_driver_kill(&drv, &c2));
    kt_chan_free(&c2);
    EXPECT_EQ(kt_watermark(drv.ut), 0);
    EXPECT_EQ(keel_slot_free_count(), free_slots); /* every slot we used for it is back */
}
