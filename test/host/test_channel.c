/* Channel library, single-threaded: layout, init/attach validation, full/empty, wrap-around of
 * the 32-bit indices, batches, doorbell suppression, a corrupt or malicious peer, peer-gone
 * semantics and fail-all-in-flight, the blocking calls (with the peer acting inside wait()), the
 * data-slot allocator. The two-thread stress test is test_channel_threads.c, the exhaustive
 * interleaving test test_channel_model.c. */
#define CHECK_MAIN
#include "check.h"

#include "channel_fixture.h"

#include <keel/channel.h>
#include <stdlib.h>

#define INFLIGHT_MAX 64

struct pair {
    void *region;
    size_t size;
    struct keel_channel_header *h;
    struct fx_doors d;
    struct keel_channel cl, sv;
    struct keel_channel_inflight infl[INFLIGHT_MAX];
};

/* Init a region and attach both sides (in place: the fixture points into itself). */
static int pair_open(struct pair *p, uint32_t sq, uint32_t cq, uint32_t data, uint32_t first)
{
    memset(p, 0, sizeof(*p));
    fx_doors_init(&p->d);
    p->size = keel_channel_region_size(sq, cq, data);
    if (!p->size)
        return -100;
    p->region = fx_region_alloc(p->size);
    p->h = p->region;
    struct keel_channel_config cfg = { sq, cq, data, first };
    int rc = keel_channel_init(p->region, p->size, &cfg);
    if (rc)
        return rc;
    rc = keel_channel_attach_server(&p->sv, p->region, p->size, &p->d.ops[KEEL_CHANNEL_SERVER]);
    if (rc)
        return rc;
    return keel_channel_attach_client(&p->cl, p->region, p->size, &p->d.ops[KEEL_CHANNEL_CLIENT], p->infl,
                                      INFLIGHT_MAX);
}

static void pair_free(struct pair *p)
{
    free(p->region);
    p->region = NULL;
}

static struct keel_channel_desc req(uint64_t tag, uint32_t op, uint32_t off, uint32_t len)
{
    return (struct keel_channel_desc){ .tag = tag, .opcode = op, .offset = off, .length = len };
}

/* Server: pop everything there, complete it with status = opcode and length = length / 2. */
static int serve_all(struct pair *p)
{
    struct keel_channel_desc d[32];
    int total = 0, n;
    while ((n = keel_channel_pop(&p->sv, d, 32)) > 0) {
        for (int i = 0; i < n; i++) {
            d[i].status = (int32_t)d[i].opcode;
            d[i].length /= 2;
        }
        int done = keel_channel_complete_batch(&p->sv, d, (uint32_t)n);
        if (done != n)
            return -1000 + done;
        total += n;
    }
    return n < 0 ? n : total;
}

/* ---- layout and setup ---- */

TEST(channel_layout)
{
    CHECK_EQ_U64(sizeof(struct keel_channel_desc), 32);
    CHECK_EQ_U64(sizeof(struct keel_channel_header), 0x280);
    /* header 0x280, sq 4*32 = 0x80 -> cq at 0x300, cq 8*32 = 0x100 -> data at 0x400 */
    CHECK_EQ_U64(keel_channel_region_size(4, 8, 100), 0x400 + 100);
    CHECK_EQ_U64(keel_channel_region_size(1, 1, 0), 0x280 + 0x40 + 0x40);
    CHECK_EQ_U64(keel_channel_region_size(3, 4, 0), 0);
    CHECK_EQ_U64(keel_channel_region_size(4, 0, 0), 0);
    CHECK_EQ_U64(keel_channel_region_size(65536, 4, 0), 0);
    CHECK_EQ_U64(keel_channel_region_size(4, 4, 0xFFFFFFFFu), 0);
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 8, 100, 0), 0);
    CHECK_EQ_U64(p.h->magic, KEEL_CHANNEL_MAGIC);
    CHECK_EQ_U64(p.h->version, KEEL_CHANNEL_VERSION);
    CHECK_EQ_U64(p.h->desc_size, 32);
    CHECK_EQ_U64(p.h->sq_offset, 0x280);
    CHECK_EQ_U64(p.h->cq_offset, 0x300);
    CHECK_EQ_U64(p.h->data_offset, 0x400);
    CHECK_EQ_U64(p.h->data_size, 100);
    CHECK_EQ_U64(p.h->region_size, 0x464);
    CHECK_EQ_U64(atomic_load(&p.h->state.v), KEEL_CHANNEL_STATE_OPEN);
    CHECK_EQ_U64(keel_channel_status(&p.cl), 0);
    CHECK_EQ_U64(keel_channel_status(&p.sv), 0);
    /* both sides see the same data area, through offsets */
    uint8_t *c = keel_channel_data(&p.cl, 10, 4), *s = keel_channel_data(&p.sv, 10, 4);
    CHECK(c && c == s && c == (uint8_t *)p.region + 0x400 + 10);
    CHECK(keel_channel_data(&p.cl, 100, 0) != NULL);
    CHECK(keel_channel_data(&p.cl, 97, 4) == NULL);
    CHECK(keel_channel_data(&p.cl, 0xFFFFFFFFu, 2) == NULL);
    pair_free(&p);
}

TEST(channel_init_rejects_bad_geometry)
{
    size_t size = keel_channel_region_size(4, 4, 64);
    uint8_t *r = fx_region_alloc(size + 64);
    struct keel_channel_config ok = { 4, 4, 64, 0 };
    CHECK_EQ_U64(keel_channel_init(r, size, &ok), 0);
    CHECK_EQ_U64(keel_channel_init(r, size - 1, &ok), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_init(r + 8, size, &ok), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_init(NULL, size, &ok), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_init(r, size, NULL), (uint64_t)KEEL_CHANNEL_EINVAL);
    struct keel_channel_config bad[] = {
        { 3, 4, 64, 0 }, { 4, 6, 64, 0 }, { 0, 4, 64, 0 }, { 4, 0, 64, 0 }, { 65536, 4, 0, 0 },
        { 4, 4, 0xFFFFFFF0u, 0 },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_U64(keel_channel_init(r, size + 64, &bad[i]), (uint64_t)KEEL_CHANNEL_EINVAL);
    free(r);
}

TEST(channel_attach_validates_header)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 4, 256, 0), 0);
    struct keel_channel ch;
    struct keel_channel_inflight infl[4];
    const struct keel_channel_ops *ops = &p.d.ops[KEEL_CHANNEL_SERVER];
    struct keel_channel_header saved = *p.h;
#define RESTORE() memcpy(p.h, &saved, 0x40)
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), 0);
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size - 1, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, 0x100, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    CHECK_EQ_U64(keel_channel_attach_server(&ch, (uint8_t *)p.region + 4, p.size, ops), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, NULL), (uint64_t)KEEL_CHANNEL_EINVAL);
    struct keel_channel_ops no_wait = { p.d.ops[0].ring, NULL, p.d.ops[0].ctx };
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, &no_wait), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_attach_client(&ch, p.region, p.size, ops, infl, 0), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_attach_client(&ch, p.region, p.size, ops, NULL, 4), (uint64_t)KEEL_CHANNEL_EINVAL);

    p.h->magic ^= 1;
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->version = 2;
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->desc_size = 64;
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->sq_entries = 3;
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->cq_entries = 8; /* the completion ring would run into the data area */
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->sq_offset = 0x200; /* inside the header */
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->cq_offset = p.h->sq_offset + 64; /* overlaps the submission ring */
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->cq_offset += 8; /* misaligned ring */
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->data_size = 0xFFFFFF00u; /* beyond region_size */
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->data_offset = 0xFFFFFFC0u; /* offset + size wraps 32 bits */
    p.h->data_size = 0x100;
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    p.h->region_size = (uint32_t)p.size + 4096; /* claims more than is mapped */
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    RESTORE();
    atomic_store(&p.h->state.v, 77);
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    atomic_store(&p.h->state.v, KEEL_CHANNEL_STATE_CLIENT_GONE);
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    atomic_store(&p.h->state.v, KEEL_CHANNEL_STATE_OPEN);

    /* indices: a queue longer than the ring, or a client attaching to a used channel */
    atomic_store(&p.h->sq_tail.v, 5);
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), (uint64_t)KEEL_CHANNEL_EBADREGION);
    atomic_store(&p.h->sq_tail.v, 2);
    CHECK_EQ_U64(keel_channel_attach_server(&ch, p.region, p.size, ops), 0);
    CHECK_EQ_U64(keel_channel_attach_client(&ch, p.region, p.size, ops, infl, 4), (uint64_t)KEEL_CHANNEL_EBADREGION);
    atomic_store(&p.h->sq_tail.v, 0);
    atomic_store(&p.h->cq_tail.v, 1);
    CHECK_EQ_U64(keel_channel_attach_client(&ch, p.region, p.size, ops, infl, 4), (uint64_t)KEEL_CHANNEL_EBADREGION);
    atomic_store(&p.h->cq_tail.v, 0);
    CHECK_EQ_U64(keel_channel_attach_client(&ch, p.region, p.size, ops, infl, 4), 0);
#undef RESTORE
    pair_free(&p);
}

TEST(channel_round_trip)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 4, 256, 0), 0);
    memcpy(keel_channel_data(&p.cl, 16, 5), "hello", 5);
    struct keel_channel_desc r = req(0x1122334455667788ull, 7, 16, 5);
    r.flags = 3;
    r.status = 99; /* ignored in requests */
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), 0);
    CHECK_EQ_U64(keel_channel_inflight(&p.cl), 1);
    struct keel_channel_desc got[4];
    CHECK_EQ_U64(keel_channel_pop(&p.sv, got, 4), 1);
    CHECK_EQ_U64(got[0].tag, 0x1122334455667788ull);
    CHECK_EQ_U64(got[0].opcode, 7);
    CHECK_EQ_U64(got[0].flags, 3);
    CHECK_EQ_U64(got[0].offset, 16);
    CHECK_EQ_U64(got[0].length, 5);
    CHECK_EQ_U64(got[0].status, 0);
    CHECK(memcmp(keel_channel_data(&p.sv, got[0].offset, got[0].length), "hello", 5) == 0);
    memcpy(keel_channel_data(&p.sv, 16, 3), "abc", 3);
    got[0].status = 42;
    got[0].length = 3;
    got[0].flags = 9;
    got[0].tag = 1; /* a server cannot change the tag the client sees */
    CHECK_EQ_U64(keel_channel_complete(&p.sv, &got[0]), 0);
    CHECK_EQ_U64(keel_channel_complete(&p.sv, &got[0]), (uint64_t)KEEL_CHANNEL_EINVAL); /* nothing outstanding */
    struct keel_channel_desc c[4];
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 4), 1);
    CHECK_EQ_U64(c[0].tag, 0x1122334455667788ull);
    CHECK_EQ_U64(c[0].opcode, 7);
    CHECK_EQ_U64(c[0].offset, 16);
    CHECK_EQ_U64(c[0].length, 3);
    CHECK_EQ_U64(c[0].status, 42);
    CHECK_EQ_U64(c[0].flags, 9);
    CHECK(memcmp(keel_channel_data(&p.cl, 16, 3), "abc", 3) == 0);
    CHECK_EQ_U64(keel_channel_inflight(&p.cl), 0);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 4), 0);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, got, 4), 0);
    /* wrong side, bad arguments */
    CHECK_EQ_U64(keel_channel_submit(&p.sv, &r), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_pop(&p.cl, got, 1), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_reap(&p.sv, c, 1), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_complete(&p.cl, &got[0]), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, &r, 0), 0);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 0), 0);
    r = req(1, 0, 250, 7);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), (uint64_t)KEEL_CHANNEL_EINVAL);
    r = req(1, 0, 0xFFFFFFFFu, 2);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), (uint64_t)KEEL_CHANNEL_EINVAL);
    r = req(1, 0, 256, 0);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), 0);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, got, 1), 1);
    got[0].length = 300; /* a completion must stay in the data area too */
    CHECK_EQ_U64(keel_channel_complete(&p.sv, &got[0]), (uint64_t)KEEL_CHANNEL_EINVAL);
    got[0].length = 0;
    CHECK_EQ_U64(keel_channel_complete(&p.sv, &got[0]), 0);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 4), 1);
    pair_free(&p);
}

TEST(channel_full_and_empty)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 8, 0, 0), 0);
    struct keel_channel_desc r[8], got[8];
    for (int i = 0; i < 8; i++)
        r[i] = req((uint64_t)i, 0, 0, 0);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, got, 8), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_U64(keel_channel_submit(&p.cl, &r[i]), 0);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r[4]), (uint64_t)KEEL_CHANNEL_AGAIN);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, &r[4], 4), (uint64_t)KEEL_CHANNEL_AGAIN);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, got, 1), 1);
    CHECK_EQ_U64(got[0].tag, 0);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, &r[4], 4), 1);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, got, 8), 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_U64(got[i].tag, (uint64_t)i + 1);
    /* 5 in flight of the cq_entries = 8 allowed: three more, then BUSY (the ring has room) */
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, &r[5], 3), 3);
    CHECK_EQ_U64(keel_channel_inflight(&p.cl), 8);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, got, 8), 3);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r[0]), (uint64_t)KEEL_CHANNEL_BUSY);
    CHECK_EQ_U64(keel_channel_submit_wait(&p.cl, &r[0], 1), (uint64_t)KEEL_CHANNEL_BUSY);
    /* complete them all: the completion ring (8) is exactly big enough for 8 in flight */
    CHECK_EQ_U64(keel_channel_complete_batch(&p.sv, got, 3), 3);
    CHECK_EQ_U64(serve_all(&p), 0);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r[0]), (uint64_t)KEEL_CHANNEL_BUSY); /* not reaped yet */
    struct keel_channel_desc c[16];
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 16), 3);
    CHECK_EQ_U64(keel_channel_inflight(&p.cl), 5);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 16), 0);
    pair_free(&p);
}

TEST(channel_inflight_limit_protects_completion_ring)
{
    /* sq 8 > cq 2: at most 2 in flight, so the server never finds the completion ring full */
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 8, 2, 0, 0), 0);
    struct keel_channel_desc r[4] = { req(1, 0, 0, 0), req(2, 0, 0, 0), req(3, 0, 0, 0), req(4, 0, 0, 0) };
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 4), 2);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, &r[2], 2), (uint64_t)KEEL_CHANNEL_BUSY);
    CHECK_EQ_U64(serve_all(&p), 2);
    struct keel_channel_desc c[4];
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 1), 1);
    CHECK_EQ_U64(c[0].tag, 1);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, &r[2], 2), 1);
    CHECK_EQ_U64(serve_all(&p), 1);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 4), 2);
    CHECK_EQ_U64(c[0].tag, 2);
    CHECK_EQ_U64(c[1].tag, 3);
    pair_free(&p);
}

/* ---- wrap-around of the free-running 32-bit indices ---- */

static void run_wrap(uint32_t sq, uint32_t cq, uint32_t first, int reverse)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, sq, cq, 64 * 16, first), 0);
    enum { TOTAL = 300 };
    static uint8_t seen[TOTAL];
    memset(seen, 0, sizeof(seen));
    uint64_t next = 0, reaped = 0;
    unsigned round = 0;
    while (reaped < TOTAL) {
        round++;
        uint32_t want = 1 + round % 5;
        struct keel_channel_desc r[8];
        uint32_t n = 0;
        for (; n < want && next + n < TOTAL; n++)
            r[n] = req(next + n, (uint32_t)((next + n) & 0xFF), (uint32_t)(((next + n) % 16) * 64), 64);
        if (n) {
            for (uint32_t i = 0; i < n; i++)
                *(uint64_t *)keel_channel_data(&p.cl, r[i].offset, 8) = r[i].tag;
            int q = keel_channel_submit_batch(&p.cl, r, n);
            CHECK(q > 0 || q == KEEL_CHANNEL_AGAIN || q == KEEL_CHANNEL_BUSY);
            if (q > 0)
                next += (uint64_t)q;
        }
        if (round % 3 != 0) {
            struct keel_channel_desc d[8];
            int got = keel_channel_pop(&p.sv, d, 1 + round % 4);
            CHECK(got >= 0);
            for (int i = 0; i < got; i++) {
                CHECK_EQ_U64(*(uint64_t *)keel_channel_data(&p.sv, d[i].offset, 8), d[i].tag);
                d[i].status = (int32_t)(d[i].tag & 0x7FFF);
            }
            if (reverse)
                for (int i = 0; i < got / 2; i++) {
                    struct keel_channel_desc t = d[i];
                    d[i] = d[got - 1 - i];
                    d[got - 1 - i] = t;
                }
            if (got > 0)
                CHECK_EQ_U64(keel_channel_complete_batch(&p.sv, d, (uint32_t)got), (uint64_t)got);
        }
        struct keel_channel_desc c[8];
        int k = keel_channel_reap(&p.cl, c, 1 + round % 7);
        CHECK(k >= 0);
        for (int i = 0; i < k; i++) {
            CHECK(c[i].tag < TOTAL);
            if (c[i].tag < TOTAL) {
                CHECK(!seen[c[i].tag]);
                seen[c[i].tag] = 1;
            }
            CHECK_EQ_U64(c[i].status, c[i].tag & 0x7FFF);
            CHECK_EQ_U64(c[i].opcode, c[i].tag & 0xFF);
            if (!reverse)
                CHECK_EQ_U64(c[i].tag, reaped + (uint64_t)i);
        }
        if (k > 0)
            reaped += (uint64_t)k;
        if (round > 100000) {
            CHECK(!"no progress");
            break;
        }
    }
    CHECK_EQ_U64(atomic_load(&p.h->sq_tail.v), (uint32_t)(first + TOTAL));
    CHECK_EQ_U64(atomic_load(&p.h->sq_head.v), (uint32_t)(first + TOTAL));
    CHECK_EQ_U64(atomic_load(&p.h->cq_tail.v), (uint32_t)(first + TOTAL));
    CHECK_EQ_U64(atomic_load(&p.h->cq_head.v), (uint32_t)(first + TOTAL));
    CHECK_EQ_U64(keel_channel_inflight(&p.cl), 0);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->rejected, 0);
    CHECK_EQ_U64(keel_channel_get_stats(&p.sv)->rejected, 0);
    pair_free(&p);
}

TEST(channel_wraps_across_2_pow_32)
{
    run_wrap(4, 4, UINT32_MAX - 5, 0);
    run_wrap(2, 4, UINT32_MAX - 1, 0);
    run_wrap(4, 8, UINT32_MAX - 100, 1);
    run_wrap(1, 1, UINT32_MAX, 0);
    run_wrap(8, 2, 0x7FFFFFF0u, 1);
}

TEST(channel_full_at_wrap)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 8, 0, UINT32_MAX - 1), 0);
    struct keel_channel_desc r[5], d[5];
    for (int i = 0; i < 5; i++)
        r[i] = req((uint64_t)i, 0, 0, 0);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 5), 4); /* indices MAX-1 .. 1 */
    CHECK_EQ_U64(atomic_load(&p.h->sq_tail.v), 2);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r[4]), (uint64_t)KEEL_CHANNEL_AGAIN);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 5), 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_U64(d[i].tag, (uint64_t)i);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 5), 0);
    pair_free(&p);
}

TEST(channel_batch_partial_when_nearly_full)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 8, 16, 0, 0), 0);
    struct keel_channel_desc r[8], d[8];
    for (int i = 0; i < 8; i++)
        r[i] = req((uint64_t)i, 0, 0, 0);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 6), 6);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 5), 2);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 5), (uint64_t)KEEL_CHANNEL_AGAIN);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 3), 3);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, &r[2], 5), 3);
    /* a bad descriptor inside a batch stops it there: the good prefix is queued */
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 8), 8);
    struct keel_channel_desc mixed[3] = { req(100, 0, 0, 0), req(101, 0, 0, 1), req(102, 0, 0, 0) };
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, mixed, 3), 1);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, &mixed[1], 2), (uint64_t)KEEL_CHANNEL_EINVAL);
    /* one publish and at most one doorbell per batch */
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->doorbells_sent + keel_channel_get_stats(&p.cl)->doorbells_suppressed, 4);
    pair_free(&p);
}

/* ---- doorbells and event indices ---- */

/* Hook: when the server is about to sleep, the client submits (as if concurrently). */
static void hook_client_submits(struct fx_doors *d, int side)
{
    struct pair *p = d->hook_arg;
    if (side == KEEL_CHANNEL_SERVER && d->door[KEEL_CHANNEL_SERVER].waits == 1) {
        /* the lost-wakeup window: the server has armed its event index and found the ring empty */
        struct keel_channel_desc r = req(55, 0, 0, 0);
        CHECK_EQ_U64(keel_channel_submit(&p->cl, &r), 0);
    }
}

TEST(channel_doorbell_only_when_armed)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 4, 0, 0), 0);
    struct keel_channel_desc r = req(1, 0, 0, 0), d[4];
    /* the server never asked: no doorbell */
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), 0);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_SERVER].rings, 0);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->doorbells_suppressed, 1);
    CHECK_EQ_U64(keel_channel_pop_wait(&p.sv, d, 4), 1); /* work there: no sleep */
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_SERVER].waits, 0);
    /* server sleeps with the ring empty; the client submits inside that window: exactly one
     * doorbell, and pop_wait returns the request */
    p.d.hook = hook_client_submits;
    p.d.hook_arg = &p;
    CHECK_EQ_U64(keel_channel_pop_wait(&p.sv, d, 4), 1);
    CHECK_EQ_U64(d[0].tag, 55);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_SERVER].waits, 1);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_SERVER].rings, 1);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_SERVER].hangs, 0);
    p.d.hook = NULL;
    /* the event index is spent: later submits need no doorbell */
    for (int i = 0; i < 2; i++) {
        r.tag = 10 + (uint64_t)i;
        CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), 0);
    }
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_SERVER].rings, 1);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->doorbells_sent, 1);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->doorbells_suppressed, 3);
    pair_free(&p);
}

TEST(channel_arm_for_shared_notification)
{
    /* a server with two channels arms both, then would sleep once on its notification */
    struct pair a, b;
    CHECK_EQ_U64(pair_open(&a, 4, 4, 0, 0), 0);
    CHECK_EQ_U64(pair_open(&b, 4, 4, 0, UINT32_MAX), 0);
    CHECK_EQ_U64(keel_channel_arm(&a.sv), 0);
    CHECK_EQ_U64(keel_channel_arm(&b.sv), 0);
    struct keel_channel_desc r = req(9, 0, 0, 0), d[4];
    CHECK_EQ_U64(keel_channel_submit(&b.cl, &r), 0);
    CHECK_EQ_U64(b.d.door[KEEL_CHANNEL_SERVER].rings, 1); /* armed: rung */
    CHECK_EQ_U64(a.d.door[KEEL_CHANNEL_SERVER].rings, 0);
    CHECK_EQ_U64(keel_channel_arm(&b.sv), 1);              /* work there: do not sleep */
    CHECK_EQ_U64(keel_channel_pop(&b.sv, d, 4), 1);
    CHECK_EQ_U64(keel_channel_arm(&b.sv), 0);
    /* client side: arm for completions */
    CHECK_EQ_U64(keel_channel_arm(&b.cl), 0);
    CHECK_EQ_U64(keel_channel_complete(&b.sv, &d[0]), 0);
    CHECK_EQ_U64(b.d.door[KEEL_CHANNEL_CLIENT].rings, 1);
    CHECK_EQ_U64(keel_channel_arm(&b.cl), 1);
    keel_channel_mark_peer_gone(&a.sv);
    CHECK_EQ_U64(keel_channel_arm(&a.sv), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    pair_free(&a);
    pair_free(&b);
}

/* Hook for the client waiting on completions / space: the server serves everything. */
static void hook_server_serves(struct fx_doors *d, int side)
{
    struct pair *p = d->hook_arg;
    if (side == KEEL_CHANNEL_CLIENT)
        CHECK(serve_all(p) >= 0);
}

TEST(channel_blocking_calls)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 2, 8, 0, UINT32_MAX - 2), 0);
    p.d.hook = hook_server_serves;
    p.d.hook_arg = &p;
    struct keel_channel_desc r[6], c[8];
    for (int i = 0; i < 6; i++)
        r[i] = req((uint64_t)i, (uint32_t)i, 0, 0);
    /* 6 requests through a 2-entry ring: submit_wait sleeps while full, the server frees room */
    CHECK_EQ_U64(keel_channel_submit_wait(&p.cl, r, 6), 6);
    CHECK(p.d.door[KEEL_CHANNEL_CLIENT].waits >= 2);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].hangs, 0);
    int got = 0;
    while (got < 6) {
        int n = keel_channel_reap_wait(&p.cl, c, 8);
        CHECK(n > 0);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++)
            CHECK_EQ_U64(c[i].tag, (uint64_t)(got + i));
        got += n;
    }
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].hangs, 0);
    /* nothing in flight: reap_wait does not sleep forever */
    CHECK_EQ_U64(keel_channel_reap_wait(&p.cl, c, 8), 0);
    /* poll-for-N: nothing arrives, gives up with 0 after the spins */
    CHECK_EQ_U64(keel_channel_reap_poll(&p.cl, c, 8, 100), 0);
    CHECK_EQ_U64(keel_channel_pop_poll(&p.sv, c, 8, 100), 0);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r[0]), 0);
    CHECK_EQ_U64(keel_channel_pop_poll(&p.sv, c, 8, 100), 1);
    CHECK_EQ_U64(keel_channel_complete(&p.sv, &c[0]), 0);
    CHECK_EQ_U64(keel_channel_reap_poll(&p.cl, c, 8, 0), 1);
    pair_free(&p);
}

/* Hook: while the client sleeps, the server completes one request at a time until the
 * client's doorbell rings; records how many it had completed by then. */
static int trickled;
static void hook_server_trickles(struct fx_doors *d, int side)
{
    struct pair *p = d->hook_arg;
    struct keel_channel_desc x[8];
    if (side != KEEL_CHANNEL_CLIENT)
        return;
    int n = keel_channel_pop(&p->sv, x, 8);
    CHECK(n >= 0);
    static struct keel_channel_desc held[8];
    static int nheld;
    for (int i = 0; i < n; i++)
        held[nheld++] = x[i];
    trickled = 0;
    while (!d->door[KEEL_CHANNEL_CLIENT].pending && nheld > 0) {
        CHECK_EQ_U64(keel_channel_complete(&p->sv, &held[0]), 0);
        memmove(held, held + 1, (size_t)--nheld * sizeof(held[0]));
        trickled++;
    }
}

TEST(channel_reap_wait_n_coalesces_doorbells)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 8, 8, 0, UINT32_MAX - 1), 0);
    struct keel_channel_desc r[6], c[8];
    for (int i = 0; i < 6; i++)
        r[i] = req((uint64_t)i, 0, 0, 0);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 6), 6);
    p.d.hook = hook_server_trickles;
    p.d.hook_arg = &p;
    /* wake me after 4: the server, completing one by one, rings exactly when the 4th lands */
    CHECK_EQ_U64(keel_channel_reap_wait_n(&p.cl, c, 8, 4), 4);
    CHECK_EQ_U64(trickled, 4);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].rings, 1);
    /* suppressed: the pop (sq_head moved, the client was not waiting for room) + 3 completions */
    CHECK_EQ_U64(keel_channel_get_stats(&p.sv)->doorbells_suppressed, 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_U64(c[i].tag, (uint64_t)i);
    /* min above what is in flight is clamped: 2 left, so it waits for 2, not 5 */
    CHECK_EQ_U64(keel_channel_reap_wait_n(&p.cl, c, 8, 5), 2);
    CHECK_EQ_U64(trickled, 2);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].rings, 2);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].hangs, 0);
    /* nothing in flight: returns 0 without sleeping */
    int waits = p.d.door[KEEL_CHANNEL_CLIENT].waits;
    CHECK_EQ_U64(keel_channel_reap_wait_n(&p.cl, c, 8, 3), 0);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].waits, waits);
    pair_free(&p);
}

/* Hook: while the server waits for completion-ring space, the client reaps. */
static void hook_client_reaps(struct fx_doors *d, int side)
{
    struct pair *p = d->hook_arg;
    struct keel_channel_desc c[8];
    if (side == KEEL_CHANNEL_SERVER)
        CHECK(keel_channel_reap(&p->cl, c, 8) >= 0);
}

TEST(channel_complete_wait_on_full_completion_ring)
{
    /* An honest client never lets the completion ring fill (in-flight limit); one that queues
     * behind the library's back can. complete returns AGAIN, complete_wait waits for space. */
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 2, 0, 0), 0);
    struct keel_channel_desc r[2] = { req(1, 0, 0, 0), req(2, 0, 0, 0) }, d[4];
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 2), 2);
    /* two more written by hand, ids copied from the real ones */
    p.sv.sq[2] = p.sv.sq[0];
    p.sv.sq[3] = p.sv.sq[1];
    atomic_store(&p.h->sq_tail.v, 4);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 4), 4);
    CHECK_EQ_U64(keel_channel_complete_batch(&p.sv, d, 4), 2);
    CHECK_EQ_U64(keel_channel_complete_batch(&p.sv, &d[2], 2), (uint64_t)KEEL_CHANNEL_AGAIN);
    p.d.hook = hook_client_reaps;
    p.d.hook_arg = &p;
    CHECK_EQ_U64(keel_channel_complete_wait(&p.sv, &d[2], 2), 2);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_SERVER].hangs, 0);
    CHECK(p.d.door[KEEL_CHANNEL_SERVER].rings >= 1);
    /* the two extra completions repeat ids already completed: the client drops them */
    struct keel_channel_desc c[4];
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 4), 0);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->rejected, 2);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->completions, 2);
    pair_free(&p);
}

/* ---- a corrupt or malicious peer ---- */

TEST(channel_corrupt_indices)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 4, 64, 0), 0);
    struct keel_channel_desc r = req(1, 0, 0, 0), d[8];
    /* the client claims more requests than the ring holds */
    atomic_store(&p.h->sq_tail.v, 5);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 8), (uint64_t)KEEL_CHANNEL_EPROTO);
    atomic_store(&p.h->sq_tail.v, 0xFFFFFFFFu);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 8), (uint64_t)KEEL_CHANNEL_EPROTO);
    atomic_store(&p.h->sq_tail.v, 0);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), 0);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), 0);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 1), 1);  /* server saw tail 2, took 1 */
    atomic_store(&p.h->sq_tail.v, 1);                 /* tail goes back */
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 8), (uint64_t)KEEL_CHANNEL_EPROTO);
    atomic_store(&p.h->sq_tail.v, 2);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 8), 1);
    /* the server moves sq_head past the client's tail, or cq_tail too far */
    atomic_store(&p.h->sq_head.v, 3);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, (struct keel_channel_desc[]){ r, r, r }, 3), (uint64_t)KEEL_CHANNEL_EPROTO);
    atomic_store(&p.h->sq_head.v, 2);
    atomic_store(&p.h->cq_tail.v, 9);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, d, 8), (uint64_t)KEEL_CHANNEL_EPROTO);
    atomic_store(&p.h->cq_tail.v, 0);
    /* the client moves cq_head past the server's tail */
    CHECK_EQ_U64(keel_channel_complete(&p.sv, &d[0]), 0);
    atomic_store(&p.h->cq_head.v, 7);
    CHECK_EQ_U64(keel_channel_complete_batch(&p.sv, d, 4), (uint64_t)KEEL_CHANNEL_EPROTO);
    atomic_store(&p.h->cq_head.v, 0);
    /* garbage in the state word reads as "peer gone", never as open */
    atomic_store(&p.h->state.v, 0xDEAD);
    CHECK_EQ_U64(keel_channel_status(&p.sv), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_status(&p.cl), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    atomic_store(&p.h->state.v, KEEL_CHANNEL_STATE_OPEN);
    CHECK_EQ_U64(keel_channel_status(&p.sv), (uint64_t)KEEL_CHANNEL_PEER_GONE); /* sticky */
    pair_free(&p);
}

TEST(channel_invalid_request_is_failed_not_lost)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 4, 128, 0), 0);
    struct keel_channel_desc r[3] = { req(1, 5, 0, 16), req(2, 6, 16, 16), req(3, 7, 32, 16) }, d[4];
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 3), 3);
    /* the client's mapping is scribbled on after the library checked: offset/length out of range */
    p.sv.sq[1].offset = 120;         /* 120 + 16 > 128 */
    p.sv.sq[2].offset = 0xFFFFFFF8u; /* would wrap 32 bits */
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 4), 1);
    CHECK_EQ_U64(d[0].tag, 1);
    CHECK_EQ_U64(keel_channel_get_stats(&p.sv)->rejected, 2);
    CHECK_EQ_U64(keel_channel_get_stats(&p.sv)->requests, 1);
    d[0].status = 0;
    CHECK_EQ_U64(keel_channel_complete(&p.sv, &d[0]), 0);
    struct keel_channel_desc c[4];
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 4), 3);
    CHECK_EQ_U64(c[0].tag, 2);
    CHECK_EQ_U64(c[0].status, (uint64_t)(int64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(c[0].offset, 16); /* the client's own record, not the scribbled value */
    CHECK_EQ_U64(c[1].tag, 3);
    CHECK_EQ_U64(c[1].status, (uint64_t)(int64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(c[2].tag, 1);
    CHECK_EQ_U64(c[2].status, 0);
    CHECK_EQ_U64(keel_channel_inflight(&p.cl), 0);
    pair_free(&p);
}

TEST(channel_bad_completions_from_server)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 4, 128, 0), 0);
    struct keel_channel_desc r[2] = { req(1, 0, 0, 16), req(2, 0, 16, 16) }, d[4], c[8];
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 2), 2);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 4), 2);
    /* a malicious server writes the completion ring by hand */
    struct keel_channel_desc *cq = p.sv.cq;
    cq[0] = d[0];
    cq[0].id ^= 1u << 16;           /* wrong generation */
    cq[1] = d[0];
    cq[1].id = (cq[1].id & ~0xFFFFu) | 60; /* slot not in flight */
    cq[2] = d[0];
    cq[2].id = 0xFFFF;              /* slot beyond the table */
    cq[3] = d[1];
    cq[3].length = 17;              /* more than the client's buffer */
    atomic_store(&p.h->cq_tail.v, 4);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 8), 1);
    CHECK_EQ_U64(c[0].tag, 2);
    CHECK_EQ_U64(c[0].status, (uint64_t)(int64_t)KEEL_CHANNEL_EPROTO);
    CHECK_EQ_U64(c[0].length, 0);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->rejected, 4);
    /* the real completion, then the same one again: delivered once */
    cq[0] = d[0];
    cq[0].status = 5;
    cq[1] = d[0];
    atomic_store(&p.h->cq_tail.v, 6);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 8), 1);
    CHECK_EQ_U64(c[0].tag, 1);
    CHECK_EQ_U64(c[0].status, 5);
    CHECK_EQ_U64(keel_channel_inflight(&p.cl), 0);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->rejected, 5);
    pair_free(&p);
}

/* ---- peer gone ---- */

TEST(channel_server_gone_fails_inflight_once)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 8, 0, 0), 0);
    struct keel_channel_desc r[8], d[8], c[8];
    for (int i = 0; i < 8; i++)
        r[i] = req(100 + (uint64_t)i, (uint32_t)i, 0, 0);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 4), 4);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 3), 3);    /* 100..102 taken by the server */
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, &r[4], 3), 3); /* 104..106 queued */
    d[1].status = 7;
    CHECK_EQ_U64(keel_channel_complete(&p.sv, &d[1]), 0); /* 101 done, not reaped yet */
    CHECK_EQ_U64(keel_channel_fail_inflight(&p.cl, c, 8), (uint64_t)KEEL_CHANNEL_EINVAL); /* still open */
    /* the server dies; the root task marks the region */
    CHECK_EQ_U64(keel_channel_region_mark_gone(p.region, KEEL_CHANNEL_SERVER), 0);
    CHECK_EQ_U64(atomic_load(&p.h->state.v), KEEL_CHANNEL_STATE_SERVER_GONE);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r[7]), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 8), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_reap_wait(&p.cl, c, 8), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_submit_wait(&p.cl, &r[7], 1), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_status(&p.cl), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].hangs, 0);
    /* every request in flight comes back exactly once: 101 with its real status first */
    uint8_t seen[8] = { 0 };
    int total = 0, n;
    int first = 1;
    while ((n = keel_channel_fail_inflight(&p.cl, c, 2)) > 0) {
        for (int i = 0; i < n; i++) {
            uint64_t k = c[i].tag - 100;
            CHECK(k < 8 && !seen[k]);
            if (k < 8)
                seen[k] = 1;
            if (first) {
                CHECK_EQ_U64(c[i].tag, 101);
                CHECK_EQ_U64(c[i].status, 7);
                first = 0;
            } else {
                CHECK_EQ_U64(c[i].status, (uint64_t)(int64_t)KEEL_CHANNEL_PEER_GONE);
            }
            CHECK_EQ_U64(c[i].opcode, k);
        }
        total += n;
    }
    CHECK_EQ_U64(n, 0);
    CHECK_EQ_U64(total, 7);
    for (int k = 0; k < 7; k++)
        CHECK(seen[k]); /* 100..102 taken by the server, 103..106 still queued */
    CHECK(!seen[7]);    /* never submitted */
    CHECK_EQ_U64(keel_channel_inflight(&p.cl), 0);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->failed, 6);
    /* a zombie server completing afterwards cannot produce a duplicate */
    CHECK_EQ_U64(keel_channel_fail_inflight(&p.cl, c, 8), 0);
    CHECK_EQ_U64(keel_channel_reap(&p.cl, c, 8), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    pair_free(&p);
}

TEST(channel_client_gone)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 4, 0, 0), 0);
    struct keel_channel_desc r = req(1, 0, 0, 0), d[4];
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), 0);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), 0);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 1), 1);
    /* the client closes: the server is rung even though it never armed its event index */
    CHECK_EQ_U64(keel_channel_close(&p.cl), 0);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_SERVER].rings, 1);
    CHECK_EQ_U64(atomic_load(&p.h->state.v), KEEL_CHANNEL_STATE_CLIENT_GONE);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), (uint64_t)KEEL_CHANNEL_CLOSED);
    CHECK_EQ_U64(keel_channel_status(&p.cl), (uint64_t)KEEL_CHANNEL_CLOSED);
    CHECK_EQ_U64(keel_channel_pop(&p.sv, d, 4), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_pop_wait(&p.sv, d, 4), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_complete(&p.sv, &d[0]), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_SERVER].hangs, 0);
    /* the server leaves too: closed */
    CHECK_EQ_U64(keel_channel_close(&p.sv), 0);
    CHECK_EQ_U64(atomic_load(&p.h->state.v), KEEL_CHANNEL_STATE_CLOSED);
    CHECK_EQ_U64(keel_channel_status(&p.sv), (uint64_t)KEEL_CHANNEL_CLOSED);
    /* the closed client may still take back what it had in flight */
    struct keel_channel_desc c[4];
    CHECK_EQ_U64(keel_channel_fail_inflight(&p.cl, c, 4), 2);
    CHECK_EQ_U64(keel_channel_inflight(&p.cl), 0);
    pair_free(&p);
}

/* Hook: the server dies while the client sleeps; the supervisor marks the region and rings. */
static void hook_server_dies(struct fx_doors *d, int side)
{
    struct pair *p = d->hook_arg;
    if (side == KEEL_CHANNEL_CLIENT && d->door[KEEL_CHANNEL_CLIENT].waits == 1) {
        CHECK_EQ_U64(keel_channel_region_mark_gone(p->region, KEEL_CHANNEL_SERVER), 0);
        d->door[KEEL_CHANNEL_CLIENT].pending = 1;
    }
}

TEST(channel_peer_dies_while_sleeping)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 2, 2, 0, 0), 0);
    struct keel_channel_desc r[2] = { req(1, 0, 0, 0), req(2, 0, 0, 0) }, c[2];
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 2), 2);
    p.d.hook = hook_server_dies;
    p.d.hook_arg = &p;
    CHECK_EQ_U64(keel_channel_reap_wait(&p.cl, c, 2), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].waits, 1);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].hangs, 0);
    CHECK_EQ_U64(keel_channel_fail_inflight(&p.cl, c, 2), 2);
    pair_free(&p);

    /* the supervisor marks the region and says so through the notification word (wait() ->
     * PEER_GONE) */
    CHECK_EQ_U64(pair_open(&p, 2, 2, 0, 0), 0);
    CHECK_EQ_U64(keel_channel_submit_batch(&p.cl, r, 1), 1);
    CHECK_EQ_U64(keel_channel_region_mark_gone(p.region, KEEL_CHANNEL_SERVER), 0);
    p.d.door[KEEL_CHANNEL_CLIENT].wait_result = KEEL_CHANNEL_PEER_GONE;
    CHECK_EQ_U64(keel_channel_reap_wait(&p.cl, c, 2), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, r), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_fail_inflight(&p.cl, c, 2), 1);
    pair_free(&p);
}

/* Hook: the first client wait finds a stale "gone" bit (an earlier channel's, left in a reused
 * notification) while the server is alive; meanwhile the server completes the request. */
static void hook_stale_gone(struct fx_doors *d, int side)
{
    struct pair *p = d->hook_arg;
    if (side != KEEL_CHANNEL_CLIENT)
        return;
    struct fx_door *me = &d->door[KEEL_CHANNEL_CLIENT];
    if (me->waits == 1) {
        struct keel_channel_desc got;
        CHECK_EQ_U64(keel_channel_pop(&p->sv, &got, 1), 1);
        CHECK_EQ_U64(keel_channel_complete(&p->sv, &got), 0);
        me->wait_result = KEEL_CHANNEL_PEER_GONE;
    } else {
        me->wait_result = 0;
    }
}

TEST(channel_stale_gone_signal_is_spurious)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 2, 2, 0, 0), 0);
    struct keel_channel_desc r = req(7, 0, 0, 0), c[2];
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r), 0);
    p.d.hook = hook_stale_gone;
    p.d.hook_arg = &p;
    CHECK_EQ_U64(keel_channel_reap_wait(&p.cl, c, 2), 1);
    CHECK_EQ_U64(c[0].tag, 7);
    CHECK_EQ_U64(c[0].status, 0);
    CHECK_EQ_U64(keel_channel_status(&p.cl), 0);
    CHECK_EQ_U64(p.d.door[KEEL_CHANNEL_CLIENT].hangs, 0);
    pair_free(&p);
}

TEST(channel_doorbell_failure_means_peer_gone)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 4, 0, 0), 0);
    struct keel_channel_desc r[2] = { req(1, 0, 0, 0), req(2, 0, 0, 0) }, d[4], c[4];
    /* server armed (pop_wait found nothing and would sleep; make that wait fail -> PEER_GONE) */
    p.d.door[KEEL_CHANNEL_SERVER].wait_result = -5;
    CHECK_EQ_U64(keel_channel_pop_wait(&p.sv, d, 4), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(p.sv.ops_error, (uint64_t)-5);
    /* the client's doorbell cannot be delivered: the request stays queued and counted, the
     * next call says PEER_GONE, and fail_inflight gives it back */
    p.d.door[KEEL_CHANNEL_CLIENT].fail_ring = 1;
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r[0]), 0);
    CHECK_EQ_U64(keel_channel_get_stats(&p.cl)->doorbells_sent, 1);
    CHECK_EQ_U64(keel_channel_submit(&p.cl, &r[1]), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_fail_inflight(&p.cl, c, 4), 1);
    CHECK_EQ_U64(c[0].tag, 1);
    CHECK_EQ_U64(c[0].status, (uint64_t)(int64_t)KEEL_CHANNEL_PEER_GONE);
    pair_free(&p);
}

TEST(channel_state_transitions)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 1, 1, 0, 0), 0);
    /* declared gone by the supervisor while alive: this side is closed, not "peer gone" */
    CHECK_EQ_U64(keel_channel_region_mark_gone(p.region, KEEL_CHANNEL_CLIENT), 0);
    CHECK_EQ_U64(keel_channel_status(&p.cl), (uint64_t)KEEL_CHANNEL_CLOSED);
    CHECK_EQ_U64(keel_channel_status(&p.sv), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_region_mark_gone(p.region, KEEL_CHANNEL_CLIENT), 0);
    CHECK_EQ_U64(atomic_load(&p.h->state.v), KEEL_CHANNEL_STATE_CLIENT_GONE);
    CHECK_EQ_U64(keel_channel_region_mark_gone(p.region, KEEL_CHANNEL_SERVER), 0);
    CHECK_EQ_U64(atomic_load(&p.h->state.v), KEEL_CHANNEL_STATE_CLOSED);
    CHECK_EQ_U64(keel_channel_region_mark_gone((uint8_t *)p.region + 64, KEEL_CHANNEL_SERVER),
                 (uint64_t)KEEL_CHANNEL_EBADREGION);
    pair_free(&p);
    CHECK_EQ_U64(pair_open(&p, 1, 1, 0, 0), 0);
    keel_channel_mark_peer_gone(&p.sv);
    CHECK_EQ_U64(atomic_load(&p.h->state.v), KEEL_CHANNEL_STATE_CLIENT_GONE);
    CHECK_EQ_U64(keel_channel_status(&p.sv), (uint64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(keel_channel_close(&p.sv), 0);
    CHECK_EQ_U64(keel_channel_status(&p.sv), (uint64_t)KEEL_CHANNEL_CLOSED);
    CHECK_EQ_U64(atomic_load(&p.h->state.v), KEEL_CHANNEL_STATE_CLOSED);
    pair_free(&p);
}

/* ---- helpers ---- */

TEST(channel_data_slots)
{
    struct pair p;
    CHECK_EQ_U64(pair_open(&p, 4, 4, 1000, 0), 0);
    struct keel_channel_slots s;
    CHECK_EQ_U64(keel_channel_slots_init(&s, &p.cl, 2000), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_slots_init(&s, &p.cl, 0), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_slots_init(&s, &p.cl, 300), 0);
    uint32_t off[4];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_U64(keel_channel_slots_alloc(&s, &off[i]), 0);
        CHECK_EQ_U64(off[i], (uint64_t)i * 300);
        CHECK(keel_channel_data(&p.cl, off[i], 300) != NULL);
    }
    CHECK_EQ_U64(keel_channel_slots_alloc(&s, &off[3]), (uint64_t)KEEL_CHANNEL_AGAIN);
    CHECK_EQ_U64(keel_channel_slots_free(&s, 301), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_slots_free(&s, 900), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_slots_free(&s, 300), 0);
    CHECK_EQ_U64(keel_channel_slots_free(&s, 300), (uint64_t)KEEL_CHANNEL_EINVAL);
    CHECK_EQ_U64(keel_channel_slots_alloc(&s, &off[3]), 0);
    CHECK_EQ_U64(off[3], 300);
    pair_free(&p);
    /* more slots than the bitmap: capped at KEEL_CHANNEL_SLOTS_MAX */
    CHECK_EQ_U64(pair_open(&p, 4, 4, 4096, 0), 0);
    CHECK_EQ_U64(keel_channel_slots_init(&s, &p.cl, 1), 0);
    CHECK_EQ_U64(s.count, KEEL_CHANNEL_SLOTS_MAX);
    for (uint32_t i = 0; i < KEEL_CHANNEL_SLOTS_MAX; i++) {
        uint32_t o = 0;
        CHECK_EQ_U64(keel_channel_slots_alloc(&s, &o), 0);
        CHECK_EQ_U64(o, i);
    }
    CHECK_EQ_U64(keel_channel_slots_alloc(&s, &off[0]), (uint64_t)KEEL_CHANNEL_AGAIN);
    pair_free(&p);
}

TEST(channel_strerror_and_binding)
{
    CHECK_EQ_STR(keel_channel_strerror(0), "OK");
    CHECK_EQ_STR(keel_channel_strerror(KEEL_CHANNEL_AGAIN), "AGAIN");
    CHECK_EQ_STR(keel_channel_strerror(KEEL_CHANNEL_PEER_GONE), "PEER_GONE");
    CHECK_EQ_STR(keel_channel_strerror(KEEL_CHANNEL_EPROTO), "EPROTO");
    CHECK_EQ_STR(keel_channel_strerror(-99), "UNKNOWN");
    /* the Keel binding only wires callbacks here (calling them would make Keel syscalls) */
    struct keel_channel_notifications n = { .signal_cap = 5, .wait_cap = 6, .gone_bits = 1ull << 63 };
    struct keel_channel_ops ops = { 0 };
    keel_channel_bind_notifications(&ops, &n);
    CHECK(ops.ring != NULL && ops.wait != NULL && ops.ctx == &n);
}
