/* Channel descriptor validation (libsel-like/src/channel.c) against a malicious peer: an honest
 * side runs the library on a region laid out by keel_channel_init, and the fuzzer plays the other
 * side by writing whatever it likes into the peer's part of the shared memory (its ring, its
 * indices, its event words, the state word) between the honest side's calls.
 *
 * Input: 4 bytes of geometry and side, then operations (one byte each plus operands).
 * Contract checked:
 *   honest client: every reaped or failed-back completion names a request in flight (tag, opcode,
 *     offset as submitted), with length <= the request's or status EPROTO; each request ends
 *     exactly once (after the peer is gone, fail_inflight hands back the rest); the in-flight
 *     count matches.
 *   honest server: every popped request's buffer lies in the data area; completions more than
 *     popped are refused.
 * And for both: no access outside the region (a heap block of exactly its size, under ASan). */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include "fuzz_assert.h"
#include <keel/channel.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REQ 4096

struct input {
    const uint8_t *p;
    size_t left;
};

static uint32_t take(struct input *in, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
        v |= (uint32_t)*in->p++ << (8 * i);
    return v;
}

/* Doorbells work until an operation revokes the peer's notification (ring() then fails, as on
 * Keel when the peer died); a wait would never end in one thread, so it fails too. */
static bool ring_broken;
static int ring(void *ctx) { (void)ctx; return ring_broken ? -1 : 0; }
static int wait_hangs(void *ctx) { (void)ctx; return -1; }
static const struct keel_channel_ops ops = { ring, wait_hangs, NULL };

/* The honest client's own record of what it submitted, by tag (tags are 0, 1, 2...). */
struct request {
    uint32_t opcode, offset, length;
    bool inflight, done;
};
static struct request req[MAX_REQ];
static uint32_t submitted, inflight;

/* One completion handed back by reap or fail_inflight. */
static void client_check(const struct keel_channel_desc *c)
{
    FUZZ_ASSERT(c->tag < submitted);
    struct request *r = &req[c->tag];
    FUZZ_ASSERT(r->inflight && !r->done);
    FUZZ_ASSERT(c->opcode == r->opcode && c->offset == r->offset);
    FUZZ_ASSERT(c->length <= r->length);
    r->inflight = false;
    r->done = true;
    inflight--;
}

static void client_take(const struct keel_channel *ch, const struct keel_channel_desc *c, int n, uint32_t max)
{
    FUZZ_ASSERT(n < 0 || (uint32_t)n <= max);
    for (int i = 0; i < n; i++)
        client_check(&c[i]);
    FUZZ_ASSERT(keel_channel_inflight(ch) == inflight);
}

/* The words a malicious server may write: its indices and event words, and the state word. */
static _Atomic uint32_t *peer_word(struct keel_channel_header *h, enum keel_channel_side honest, uint32_t which)
{
    _Atomic uint32_t *server[] = { &h->cq_tail.v, &h->sq_head.v, &h->sq_tail_event.v, &h->cq_head_event.v,
                                   &h->state.v };
    _Atomic uint32_t *client[] = { &h->sq_tail.v, &h->cq_head.v, &h->sq_head_event.v, &h->cq_tail_event.v,
                                   &h->state.v };
    return (honest == KEEL_CHANNEL_CLIENT ? server : client)[which % 5];
}

static void run_client(struct keel_channel *ch, struct keel_channel_header *h, struct input *in)
{
    struct keel_channel_desc out[8];
    while (in->left) {
        uint8_t op = (uint8_t)take(in, 1);
        switch (op % 8) {
        case 0: /* submit one, or a batch (sleeping while the ring is full) */
        case 1: {
            uint32_t n = op & 0x80 ? 1 + (op >> 4) % 4 : 1;
            if (submitted + n > MAX_REQ)
                break;
            struct keel_channel_desc d[4];
            for (uint32_t i = 0; i < n; i++)
                d[i] = (struct keel_channel_desc){ .tag = submitted + i, .opcode = op, .offset = take(in, 2),
                                                   .length = take(in, 2) };
            int rc = n == 1 ? keel_channel_submit_batch(ch, d, 1) : keel_channel_submit_wait(ch, d, n);
            FUZZ_ASSERT(rc != 0 && rc <= (int)n);
            for (int i = 0; i < rc; i++) {
                req[submitted++] = (struct request){ d[i].opcode, d[i].offset, d[i].length, true, false };
                inflight++;
            }
            FUZZ_ASSERT(keel_channel_inflight(ch) == inflight);
            break;
        }
        case 2: { /* reap */
            uint32_t max = take(in, 1) % 9;
            client_take(ch, out, keel_channel_reap(ch, out, max), max);
            break;
        }
        case 3: { /* the server completes: copy a submitted slot into a completion slot */
            uint32_t from = take(in, 1) & (ch->sq_entries - 1), to = take(in, 1) & (ch->cq_entries - 1);
            struct keel_channel_desc c = ch->sq[from];
            c.length = take(in, 2);
            c.status = (int32_t)take(in, 1) - 8;
            ch->cq[to] = c;
            break;
        }
        case 4: { /* the server writes a completion slot byte */
            uint32_t at = take(in, 1) % (32 * ch->cq_entries);
            ((uint8_t *)ch->cq)[at] = (uint8_t)take(in, 1);
            break;
        }
        case 5: { /* the server moves one of its words forward a little, or anywhere */
            _Atomic uint32_t *w = peer_word(h, KEEL_CHANNEL_CLIENT, take(in, 1));
            uint8_t by = (uint8_t)take(in, 1);
            *w = by & 0x80 ? take(in, 4) : *w + (by & 0x7f) % 17;
            break;
        }
        case 6: { /* the client gives up on the server */
            keel_channel_mark_peer_gone(ch);
            break;
        }
        default: { /* any other client call that reads the region */
            uint8_t which = (uint8_t)take(in, 1) % 5;
            if (which == 0)
                (void)keel_channel_arm(ch);
            else if (which == 1)
                client_take(ch, out, keel_channel_reap_wait(ch, out, 8), 8);
            else if (which == 2)
                (void)keel_channel_status(ch);
            else if (which == 3)
                FUZZ_ASSERT(keel_channel_close(ch) == 0);
            else
                ring_broken = true;
            break;
        }
        }
    }
    /* The end: the server is gone; every request still in flight comes back exactly once. */
    keel_channel_mark_peer_gone(ch);
    for (int guard = 0; guard <= MAX_REQ; guard++) {
        int n = keel_channel_fail_inflight(ch, out, 8);
        FUZZ_ASSERT(n >= 0);
        if (n == 0)
            break;
        client_take(ch, out, n, 8);
    }
    FUZZ_ASSERT(inflight == 0);
    for (uint32_t t = 0; t < submitted; t++)
        FUZZ_ASSERT(req[t].done);
}

static void run_server(struct keel_channel *ch, struct keel_channel_header *h, struct input *in)
{
    struct keel_channel_desc popped[8];
    uint32_t npopped = 0, outstanding = 0;
    while (in->left) {
        uint8_t op = (uint8_t)take(in, 1);
        switch (op % 7) {
        case 0: { /* pop */
            int n = keel_channel_pop(ch, popped, 8);
            FUZZ_ASSERT(n <= 8);
            npopped = n > 0 ? (uint32_t)n : 0;
            for (uint32_t i = 0; i < npopped; i++) {
                const struct keel_channel_desc *d = &popped[i];
                FUZZ_ASSERT((uint64_t)d->offset + d->length <= ch->data_size && d->status == 0);
                volatile uint8_t *p = keel_channel_data(ch, d->offset, d->length);
                FUZZ_ASSERT(p != NULL);
                if (d->length)
                    p[d->length - 1] = p[0];
            }
            outstanding += npopped;
            break;
        }
        case 1: { /* complete one popped request, with some length */
            if (npopped == 0) {
                struct keel_channel_desc c = { 0 };
                int rc = keel_channel_complete(ch, &c);
                FUZZ_ASSERT(outstanding > 0 || rc != 0);
                if (rc == 0)
                    outstanding--;
                break;
            }
            struct keel_channel_desc c = popped[--npopped];
            c.length = take(in, 2);
            c.status = 0;
            int rc = keel_channel_complete(ch, &c);
            if (rc == 0) {
                FUZZ_ASSERT(outstanding > 0 && (uint64_t)c.offset + c.length <= ch->data_size);
                outstanding--;
            }
            break;
        }
        case 2: { /* the client writes a request slot */
            uint32_t to = take(in, 1) & (ch->sq_entries - 1);
            struct keel_channel_desc d = { .tag = take(in, 1), .opcode = take(in, 1), .offset = take(in, 2),
                                           .length = take(in, 2), .status = (int32_t)take(in, 1), .id = take(in, 1) };
            if (take(in, 1) & 1)
                d.offset = take(in, 4), d.length = take(in, 4);
            ch->sq[to] = d;
            break;
        }
        case 3: { /* the client moves one of its words forward a little, or anywhere */
            _Atomic uint32_t *w = peer_word(h, KEEL_CHANNEL_SERVER, take(in, 1));
            uint8_t by = (uint8_t)take(in, 1);
            *w = by & 0x80 ? take(in, 4) : *w + (by & 0x7f) % 17;
            break;
        }
        case 4: { /* the client writes a data byte (harmless, but it is shared) */
            if (ch->data_size)
                ch->data[take(in, 2) % ch->data_size] = (uint8_t)take(in, 1);
            break;
        }
        case 5: { /* the other server calls that read the region */
            uint8_t which = (uint8_t)take(in, 1) % 4;
            if (which == 3) {
                ring_broken = true;
            } else if (which == 0) {
                (void)keel_channel_arm(ch);
            } else if (which == 1 && npopped) {
                popped[npopped - 1].length = take(in, 1);
                int rc = keel_channel_complete_wait(ch, &popped[npopped - 1], 1);
                if (rc == 1)
                    npopped--, outstanding--;
            } else if (which == 2) {
                FUZZ_ASSERT(keel_channel_close(ch) == 0);
            }
            break;
        }
        default: {
            int n = keel_channel_pop_wait(ch, popped, 8);
            npopped = n > 0 ? (uint32_t)n : 0;
            for (uint32_t i = 0; i < npopped; i++)
                FUZZ_ASSERT((uint64_t)popped[i].offset + popped[i].length <= ch->data_size);
            outstanding += npopped;
            break;
        }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { data, size };
    uint32_t geometry = take(&in, 4);
    struct keel_channel_config cfg = {
        .sq_entries = 1u << (geometry & 3),
        .cq_entries = 1u << ((geometry >> 2) & 3),
        .data_size = (geometry >> 8) & 0xfff,
        .first_index = (geometry >> 4) & 1 ? 0xfffffff0u : 0, /* indices wrap during the run */
    };
    enum keel_channel_side side = (geometry >> 5) & 1 ? KEEL_CHANNEL_SERVER : KEEL_CHANNEL_CLIENT;
    size_t region_size = keel_channel_region_size(cfg.sq_entries, cfg.cq_entries, cfg.data_size);
    FUZZ_ASSERT(region_size >= KEEL_CHANNEL_HEADER_SIZE);
    void *region;
    if (posix_memalign(&region, KEEL_CHANNEL_CACHE_LINE, region_size))
        return 0;
    FUZZ_ASSERT(keel_channel_init(region, region_size, &cfg) == 0);
    struct keel_channel ch;
    ring_broken = false;
    if (side == KEEL_CHANNEL_CLIENT) {
        static struct keel_channel_inflight table[16];
        uint32_t n = 1 + ((geometry >> 6) & 3) * 5; /* 1, 6, 11, 16: below, at and above cq_entries */
        FUZZ_ASSERT(keel_channel_attach_client(&ch, region, region_size, &ops, table, n) == 0);
        submitted = inflight = 0;
        run_client(&ch, region, &in);
    } else {
        FUZZ_ASSERT(keel_channel_attach_server(&ch, region, region_size, &ops) == 0);
        run_server(&ch, region, &in);
    }
    free(region);
    return 0;
}
