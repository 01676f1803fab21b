/* Channel region validation (libsel-like/src/channel.c): attaching to a region whose every byte
 * the fuzzer wrote (header, indices, rings, data), as a process attaching to memory shared with an
 * untrusted peer. An accepted geometry must keep the rings and the data area inside the region;
 * whatever the rings then hold, pop/complete/submit/reap stay inside it (ASan: the region is a heap
 * block of exactly the input's size) and hand out only buffers inside the data area. */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include "fuzz_assert.h"
#include <keel/channel.h>
#include <stdlib.h>
#include <string.h>

static int ring_ok(void *ctx) { (void)ctx; return 0; }
static int wait_hangs(void *ctx) { (void)ctx; return -1; } /* single thread: a wait never ends */
static const struct keel_channel_ops ops = { ring_ok, wait_hangs, NULL };

/* The handle's areas lie inside [region, region + size). */
static void check_geometry(const struct keel_channel *ch, const uint8_t *region, size_t size)
{
    const uint8_t *sq = (const uint8_t *)ch->sq, *cq = (const uint8_t *)ch->cq;
    FUZZ_ASSERT(ch->hdr == (const void *)region);
    FUZZ_ASSERT(ch->sq_entries && (ch->sq_entries & (ch->sq_entries - 1)) == 0);
    FUZZ_ASSERT(ch->cq_entries && (ch->cq_entries & (ch->cq_entries - 1)) == 0);
    FUZZ_ASSERT(sq >= region + KEEL_CHANNEL_HEADER_SIZE && (size_t)(sq - region) + ch->sq_entries * 32ull <= size);
    FUZZ_ASSERT(cq >= region + KEEL_CHANNEL_HEADER_SIZE && (size_t)(cq - region) + ch->cq_entries * 32ull <= size);
    FUZZ_ASSERT(ch->data >= region + KEEL_CHANNEL_HEADER_SIZE && (size_t)(ch->data - region) + ch->data_size <= size);
}

/* A buffer the library hands out (a popped request's) lies in the data area. */
static void check_buffer(const struct keel_channel *ch, const struct keel_channel_desc *d)
{
    FUZZ_ASSERT((uint64_t)d->offset + d->length <= ch->data_size);
    volatile uint8_t *p = keel_channel_data(ch, d->offset, d->length);
    FUZZ_ASSERT(p != NULL && (uint8_t *)p >= ch->data && (uint8_t *)p + d->length <= ch->data + ch->data_size);
    if (d->length)
        p[0] = p[d->length - 1]; /* a server reads and writes it: ASan checks */
}

static void as_server(uint8_t *region, size_t size)
{
    struct keel_channel ch;
    if (keel_channel_attach_server(&ch, region, size, &ops) != 0)
        return;
    check_geometry(&ch, region, size);
    struct keel_channel_desc req[8];
    for (int round = 0; round < 3; round++) {
        int n = keel_channel_pop(&ch, req, 8);
        FUZZ_ASSERT(n <= 8);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            check_buffer(&ch, &req[i]);
            req[i].status = 0;
        }
        int rc = keel_channel_complete_batch(&ch, req, (uint32_t)n);
        FUZZ_ASSERT(rc <= n && rc != 0);
    }
}

static void as_client(uint8_t *region, size_t size)
{
    struct keel_channel ch;
    struct keel_channel_inflight inflight[4];
    if (keel_channel_attach_client(&ch, region, size, &ops, inflight, 4) != 0)
        return;
    check_geometry(&ch, region, size);
    uint32_t len = ch.data_size < 16 ? ch.data_size : 16;
    struct keel_channel_desc d = { .tag = 7, .opcode = 1, .offset = 0, .length = len };
    FUZZ_ASSERT(keel_channel_submit(&ch, &d) == 0);
    struct keel_channel_desc c[4];
    int n = keel_channel_reap(&ch, c, 4);
    FUZZ_ASSERT(n <= 1); /* one request in flight: at most one completion, whatever the ring says */
    if (n == 1)
        FUZZ_ASSERT(c[0].tag == 7 && c[0].offset == 0 && (c[0].status == KEEL_CHANNEL_EPROTO || c[0].length <= len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    void *region;
    if (posix_memalign(&region, KEEL_CHANNEL_CACHE_LINE, size))
        return 0;
    memcpy(region, data, size);
    as_server(region, size);
    memcpy(region, data, size);
    as_client(region, size);
    free(region);
    return 0;
}
