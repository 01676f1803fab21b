/* tutorial: the client of docs/tutorial.md, for the null driver (servers/null). Started by init
 * (boot/manifest-tutorial.txt) with one cap, "init", it opens a channel to the service "null"
 * with the client library (keel/client.h) and, printing what happens:
 *   1. makes a NOP and an ECHO call and checks their completions;
 *   2. streams many ECHO requests through the 16-entry rings, handling a full ring;
 *   3. makes the driver exit (KEEL_NULL_EXIT) with requests outstanding, gets each of them back
 *      exactly once with PEER_GONE, reopens the channel to the restarted driver and uses it;
 *   4. subscribes to the driver's events (KEEL_NULL_SUBSCRIBE), gets one, then lets five happen
 *      with no subscription outstanding and checks the next one reports four missed.
 * It exits 0 when everything went as expected, 1 otherwise. The regions between the tutorial:
 * markers are the snippets of docs/tutorial.md (test/tutorial-snippets.sh keeps them in step). */
#include "null.h"
#include <keel/client.h>
#include <keel/stdio.h>
#include <keel/string.h>

#define STREAM 1000
#define SLOT 64 /* bytes of data area per request */
#define SLOTS (2 * KEEL_CLIENT_INFLIGHT)

// tutorial:client-state
static struct keel_client null; /* our channel to the driver; the library's state for it */
// tutorial:end

// tutorial:one-shot
/* Open a channel to the service "null" (waiting while the driver has not started yet) and make
 * one call: submit a NOP, wait for its completion. */
static int nop(void)
{
    int err = keel_client_open_wait(&null, KEEL_NULL_SERVICE, 1000);
    if (err)
        return err; /* > 0 init's answer (e.g. KEEL_INIT_E_DENIED), < 0 a channel error */
    struct keel_channel_desc d = { .opcode = KEEL_NULL_NOP };
    err = keel_client_call(&null, &d); /* d is now the completion */
    keel_printf("tutorial: NOP status %d\n", d.status);
    return err;
}
// tutorial:end

// tutorial:request
/* One ECHO call: the driver inverts the bytes in our buffer and returns a checksum. */
static int echo(const char *text)
{
    uint32_t len = (uint32_t)strlen(text);
    uint8_t *buf = keel_client_data(&null, 0, len); /* our buffer: data area bytes [0, len) */
    memcpy(buf, text, len);
    struct keel_channel_desc d = { .opcode = KEEL_NULL_ECHO, .offset = 0, .length = len };
    int err = keel_client_call(&null, &d);
    if (err)
        return err; /* PEER_GONE: the driver died with it */
    if (d.status != keel_null_echo_status(d.tag, keel_null_sum((const uint8_t *)text, len)))
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
    memset(keel_client_data(&null, off, SLOT), (int)(tag & 0xff), SLOT);
    return (struct keel_channel_desc){ .tag = tag, .opcode = KEEL_NULL_ECHO, .offset = off, .length = SLOT };
}

static bool stream_ok(const struct keel_channel_desc *d)
{
    const uint8_t *p = keel_client_data(&null, d->offset, SLOT);
    for (unsigned i = 0; i < SLOT; i++)
        if (p[i] != (uint8_t)~d->tag)
            return false;
    return d->status >= 0 && d->length == SLOT;
}

/* Many requests, as fast as the rings take them. */
static int stream(unsigned count, unsigned *full)
{
    uint64_t next = 0, done = 0;
    struct keel_channel_desc c[KEEL_CLIENT_INFLIGHT];
    // tutorial:stream
    while (done < count) {
        if (next < count) {
            struct keel_channel_desc d = stream_request(next);
            int err = keel_client_submit(&null, &d, 1);
            if (err == 1) {
                next++;
                continue; /* queue as many as fit before waiting */
            }
            if (err != KEEL_CHANNEL_AGAIN && err != KEEL_CHANNEL_BUSY)
                return err; /* PEER_GONE and the like: the channel is finished */
            (*full)++;      /* ring full or in-flight limit: reap, then try again */
        }
        int got = keel_client_reap(&null, c, KEEL_CLIENT_INFLIGHT, true); /* sleeps until one is there */
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
    int err = keel_client_submit(&null, d, 3);
    if (err != 3)
        return err < 0 ? err : KEEL_CHANNEL_EPROTO;
    // tutorial:gone
    /* Once the driver is gone, every request still in flight comes back once, with PEER_GONE (or
     * its real status if the driver completed it before it went); after the last, reap itself
     * answers PEER_GONE. */
    struct keel_channel_desc c[KEEL_CLIENT_INFLIGHT];
    int got;
    while ((got = keel_client_reap(&null, c, KEEL_CLIENT_INFLIGHT, true)) > 0)
        for (int i = 0; i < got; i++)
            if (c[i].status == KEEL_CHANNEL_PEER_GONE)
                (*failed)++;
    // tutorial:end
    return got == KEEL_CHANNEL_PEER_GONE ? 0 : KEEL_CHANNEL_EPROTO;
}

/* Events: a subscription is a request left outstanding; each completion is one event. */
static int events(void)
{
    uint64_t number;
    // tutorial:events
    struct keel_channel_desc sub = { .tag = 100, .opcode = KEEL_NULL_SUBSCRIBE, .offset = 0, .length = 8 };
    struct keel_channel_desc fire = { .opcode = KEEL_NULL_FIRE, .flags = 1 }, ev;
    int err = keel_client_submit(&null, &sub, 1); /* outstanding until an event happens */
    if (err != 1 || (err = keel_client_call(&null, &fire)) ||     /* one event happens ... */
        (err = keel_client_reap(&null, &ev, 1, true)) != 1)      /* ... and completes the subscription */
        return err < 0 ? err : KEEL_CHANNEL_EPROTO;
    memcpy(&number, keel_client_data(&null, 0, 8), 8);
    keel_printf("tutorial: event %llu, %d missed\n", (unsigned long long)number, ev.status);
    fire.flags = 5; /* five events while we hold no subscription: the driver only counts them */
    if ((err = keel_client_call(&null, &fire)) || (err = keel_client_submit(&null, &sub, 1)) != 1 ||
        (err = keel_client_reap(&null, &ev, 1, true)) != 1) /* the new subscription completes at once */
        return err < 0 ? err : KEEL_CHANNEL_EPROTO;
    memcpy(&number, keel_client_data(&null, 0, 8), 8);
    keel_printf("tutorial: event %llu, %d missed\n", (unsigned long long)number, ev.status);
    // tutorial:end
    if (ev.tag != 100 || number != 6 || ev.status != 4)
        return KEEL_CHANNEL_EPROTO;
    /* One subscription per kind: a second one while the first is outstanding comes back BUSY at
     * once, and the first still gets the next event. */
    struct keel_channel_desc two[2] = { sub, sub };
    two[0].tag = 101;
    two[1].tag = 102;
    fire.flags = 1;
    if ((err = keel_client_submit(&null, two, 2)) != 2 || (err = keel_client_reap(&null, &ev, 1, true)) != 1 ||
        ev.tag != 102 || ev.status != KEEL_CHANNEL_BUSY || (err = keel_client_call(&null, &fire)) ||
        (err = keel_client_reap(&null, &ev, 1, true)) != 1 || ev.tag != 101 || ev.status != 0)
        return err < 0 ? err : KEEL_CHANNEL_EPROTO;
    keel_printf("tutorial: a second subscription is refused (BUSY); the first gets the next event\n");
    return 0;
}

int main(void)
{
    int err = nop();
    if (err) {
        keel_printf("tutorial: no NOP through '%s': %d\n", KEEL_NULL_SERVICE, err);
        return 1;
    }
    if ((err = echo("hello, driver"))) {
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
    // tutorial:reopen
    /* init restarts the driver (restart=always); reopen waits until it serves the name again. */
    if ((err = keel_client_reopen(&null, 1000)) || (err = echo("hello again"))) {
        keel_printf("tutorial: no channel to the restarted driver: %d\n", err);
        return 1;
    }
    // tutorial:end
    keel_printf("tutorial: restarted driver answers\n");
    if ((err = events())) {
        keel_printf("tutorial: events not seen right: %s\n", keel_channel_strerror(err));
        return 1;
    }
    keel_printf("tutorial: done\n");
    keel_client_close(&null);
    return 0;
}
