/* tutorial: the client of docs/tutorial.md, for the null driver (servers/null). Started by init
 * (boot/manifest-tutorial.txt) with one cap, "init", it opens a channel to the service "null"
 * and, printing what happens:
 *   1. sends a NOP and an ECHO and checks their completions;
 *   2. streams many ECHO requests through the 16-entry rings, handling a full ring;
 *   3. makes the driver exit (KEEL_NULL_EXIT) with requests outstanding, gets each of them back
 *      exactly once with PEER_GONE, opens a new channel to the restarted driver and uses it.
 * It exits 0 when everything went as expected, 1 otherwise. The regions between the tutorial:
 * markers are the snippets of docs/tutorial.md (test/tutorial-snippets.sh keeps them in step). */
#include "null.h"
#include <keel/alloc.h>
#include <keel/channel.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define STREAM 1000
#define SLOT 64 /* bytes of data area per request */
#define SLOTS (2 * KEEL_INIT_CHANNEL_ENTRIES)

// tutorial:client-state
static uint64_t init_cap;
static uint64_t wait_slot, signal_slot; /* our notification; our doorbell to the driver */
static void *region;                    /* the channel's shared memory, where init mapped it */
static struct keel_channel ch;
static struct keel_channel_notifications n;
static struct keel_channel_ops ops;
static struct keel_channel_inflight inflight[KEEL_INIT_CHANNEL_ENTRIES];
// tutorial:end

static void free_slots(void)
{
    keel_cspace_delete(wait_slot);
    keel_slot_free(wait_slot);
    keel_cspace_delete(signal_slot);
    keel_slot_free(signal_slot);
}

// tutorial:open
/* Ask init for a channel to the service "null". init places our notification in wait_slot and
 * a doorbell to the driver in signal_slot (two empty slots we name), maps the region into our
 * address space and replies with where. 0, init's error (> 0) or a channel error (< 0). */
static int open_channel(void)
{
    if (keel_slot_alloc(&wait_slot) || keel_slot_alloc(&signal_slot))
        return KEEL_INIT_E_NO_MEMORY;
    struct keel_msg m = keel_msg_make(KEEL_INIT_OPEN, 6);
    keel_init_pack_name(&m, 0, KEEL_NULL_SERVICE);
    keel_msg_set_mr(&m, 4, wait_slot);
    keel_msg_set_mr(&m, 5, signal_slot);
    int err = keel_call(init_cap, &m) ? KEEL_CHANNEL_EINVAL : (int)m.mr[0];
    if (err) { /* KEEL_INIT_E_NO_SERVICE while the driver is not running */
        free_slots();
        return err;
    }
    region = (void *)m.mr[1];
    size_t size = m.mr[2];
    /* Doorbells: we ring signal_slot and sleep on wait_slot. When the driver dies, init signals
     * our notification with the badge of MR4: those are the bits that mean "peer gone". */
    n = (struct keel_channel_notifications){ .signal_cap = signal_slot, .wait_cap = wait_slot,
                                             .gone_bits = keel_msg_get_mr(&m, 4) };
    keel_channel_bind_notifications(&ops, &n);
    return keel_channel_attach_client(&ch, region, size, &ops, inflight, KEEL_INIT_CHANNEL_ENTRIES);
}
// tutorial:end

// tutorial:close
/* Leave a dead channel: tell init (it unmaps the region and can use it again), clear a "gone"
 * signal that may still be pending in our notification (the next channel may get the same badge
 * bits; the library would take it for a spurious wake, but why wake for nothing) and empty the
 * two slots so they can be named in the next OPEN. */
static void close_channel(void)
{
    keel_init_close(init_cap, (uint64_t)region);
    uint64_t stale;
    keel_poll(wait_slot, &stale);
    free_slots();
}
// tutorial:end

// tutorial:request
/* One ECHO request, waited for: the driver inverts the bytes and returns a checksum. */
static int echo(const char *text, uint64_t tag)
{
    uint32_t len = (uint32_t)strlen(text);
    uint8_t *buf = keel_channel_data(&ch, 0, len); /* our buffer: data area bytes [0, len) */
    memcpy(buf, text, len);
    struct keel_channel_desc d = { .tag = tag, .opcode = KEEL_NULL_ECHO, .offset = 0, .length = len };
    int err = keel_channel_submit(&ch, &d);
    if (err)
        return err; /* AGAIN, BUSY, PEER_GONE, ... */
    err = keel_channel_reap_wait(&ch, &d, 1); /* sleeps until the completion is there */
    if (err < 0)
        return err;
    if (d.status != keel_null_echo_status(tag, keel_null_sum((const uint8_t *)text, len)))
        return KEEL_CHANNEL_EPROTO;
    for (uint32_t i = 0; i < len; i++)
        if (buf[i] != (uint8_t)~text[i])
            return KEEL_CHANNEL_EPROTO;
    return 0;
}
// tutorial:end

/* Request `tag` of the stream: ECHO of SLOT bytes in data area slot tag % SLOTS. There are
 * twice as many slots as requests can be in flight, so preparing one the ring then refuses
 * never writes over the buffer of a request still in flight. */
static struct keel_channel_desc stream_request(uint64_t tag)
{
    uint32_t off = (uint32_t)(tag % SLOTS) * SLOT;
    memset(keel_channel_data(&ch, off, SLOT), (int)(tag & 0xff), SLOT);
    return (struct keel_channel_desc){ .tag = tag, .opcode = KEEL_NULL_ECHO, .offset = off, .length = SLOT };
}

static bool stream_ok(const struct keel_channel_desc *d)
{
    const uint8_t *p = keel_channel_data(&ch, d->offset, SLOT);
    for (unsigned i = 0; i < SLOT; i++)
        if (p[i] != (uint8_t)~d->tag)
            return false;
    return d->status >= 0 && d->length == SLOT;
}

/* Many requests, as fast as the rings take them. */
static int stream(unsigned count, unsigned *full)
{
    uint64_t next = 0, done = 0;
    struct keel_channel_desc c[KEEL_INIT_CHANNEL_ENTRIES];
    // tutorial:stream
    while (done < count) {
        if (next < count) {
            struct keel_channel_desc d = stream_request(next);
            int err = keel_channel_submit(&ch, &d);
            if (err == 0) {
                next++;
                continue; /* queue as many as fit before waiting */
            }
            if (err != KEEL_CHANNEL_AGAIN && err != KEEL_CHANNEL_BUSY)
                return err; /* PEER_GONE and the like: the channel is finished */
            (*full)++;      /* ring full or in-flight limit: reap, then try again */
        }
        int got = keel_channel_reap_wait(&ch, c, KEEL_INIT_CHANNEL_ENTRIES);
        if (got < 0)
            return got;
        for (int i = 0; i < got; i++)
            if (!stream_ok(&c[i]))
                return KEEL_CHANNEL_EPROTO;
        done += (uint64_t)got;
    }
    // tutorial:end
    return 0;
}

/* Requests outstanding when the driver exits come back exactly once each, failed. */
static int driver_exits(unsigned *failed)
{
    struct keel_channel_desc d[3] = {
        { .tag = 1, .opcode = KEEL_NULL_HOLD }, /* the driver keeps these two ... */
        { .tag = 2, .opcode = KEEL_NULL_HOLD },
        { .tag = 3, .opcode = KEEL_NULL_EXIT }, /* ... and then exits */
    };
    int err = keel_channel_submit_batch(&ch, d, 3);
    if (err != 3)
        return err < 0 ? err : KEEL_CHANNEL_EPROTO;
    // tutorial:gone
    struct keel_channel_desc c[KEEL_INIT_CHANNEL_ENTRIES];
    err = keel_channel_reap_wait(&ch, c, KEEL_INIT_CHANNEL_ENTRIES);
    if (err == KEEL_CHANNEL_PEER_GONE) {
        /* Every request still in flight comes back once, with PEER_GONE (or its real status
         * if the driver completed it before it went). Call until it returns 0. */
        int k;
        while ((k = keel_channel_fail_inflight(&ch, c, KEEL_INIT_CHANNEL_ENTRIES)) > 0)
            for (int i = 0; i < k; i++)
                if (c[i].status == KEEL_CHANNEL_PEER_GONE)
                    (*failed)++;
        close_channel();
    }
    // tutorial:end
    return err == KEEL_CHANNEL_PEER_GONE ? 0 : KEEL_CHANNEL_EPROTO;
}

int main(void)
{
    // tutorial:client-caps
    init_cap = keel_startinfo_cap("init");
    if (!init_cap) {
        keel_printf("tutorial: no init cap\n");
        return 1;
    }
    // tutorial:end
    int err;
    /* The driver may start after us: NO_SERVICE until it runs. */
    for (unsigned tries = 0; (err = open_channel()) == KEEL_INIT_E_NO_SERVICE && tries < 1000; tries++)
        keel_yield();
    if (err) {
        keel_printf("tutorial: cannot open a channel to '%s': %d\n", KEEL_NULL_SERVICE, err);
        return 1;
    }
    keel_printf("tutorial: channel to '%s' open\n", KEEL_NULL_SERVICE);

    struct keel_channel_desc d = { .tag = 7, .opcode = KEEL_NULL_NOP };
    if ((err = keel_channel_submit(&ch, &d)) || (err = keel_channel_reap_wait(&ch, &d, 1)) != 1) {
        keel_printf("tutorial: NOP failed: %s\n", keel_channel_strerror(err));
        return 1;
    }
    keel_printf("tutorial: NOP tag %llu status %d\n", (unsigned long long)d.tag, d.status);
    if ((err = echo("hello, driver", 8))) {
        keel_printf("tutorial: ECHO failed: %s\n", keel_channel_strerror(err));
        return 1;
    }
    keel_printf("tutorial: ECHO checked\n");

    unsigned full = 0;
    if ((err = stream(STREAM, &full))) {
        keel_printf("tutorial: stream failed: %s\n", keel_channel_strerror(err));
        return 1;
    }
    keel_printf("tutorial: %u requests checked (ring full %u times)\n", STREAM, full);

    unsigned failed = 0;
    if ((err = driver_exits(&failed)) || failed != 3) {
        keel_printf("tutorial: driver exit not seen right: %s, %u failed\n", keel_channel_strerror(err), failed);
        return 1;
    }
    keel_printf("tutorial: driver gone, %u requests failed with PEER_GONE\n", failed);
    for (unsigned tries = 0; (err = open_channel()) == KEEL_INIT_E_NO_SERVICE && tries < 1000; tries++)
        keel_yield(); /* init restarts the driver; KEEL_INIT_CLIENT_NEWS would also tell us when */
    if (err || (err = echo("hello again", 9))) {
        keel_printf("tutorial: no channel to the restarted driver: %d\n", err);
        return 1;
    }
    keel_printf("tutorial: restarted driver answers; done\n");
    return 0;
}
