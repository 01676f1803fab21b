/* null: a driver without a device. It serves the channel service "null" (null.h: NOP, ECHO,
 * HOLD, RELEASE, EXIT) the way every driver under init does, and is the driver of the tutorial
 * (docs/tutorial.md, whose snippets are the regions between the tutorial: markers below).
 *
 * Started by init from a manifest line with serves=null, it has two caps: "init" (Calls of
 * keel/initsvc.h) and "service", the notification one thread waits on for everything: init's
 * KEEL_INIT_NEWS (a channel was opened to us) and each channel's doorbell bit (a client submitted
 * requests, or init says that client is gone). keeltest starts it the same way with itself in
 * init's place (apps/keeltest/test_channel.c). */
#include "null.h"
#include <keel/alloc.h>
#include <keel/channel.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/service.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define MAX_CLIENTS 8
#define BATCH 32

/* What this driver keeps per client, beside the library's table (same index). */
struct held {
    struct keel_channel_desc req[KEEL_NULL_MAX_HELD]; /* HOLD requests waiting for a RELEASE */
    unsigned n;
    struct keel_service_subscription events; /* SUBSCRIBE / FIRE */
    uint64_t fired;                          /* events so far (the next one's number - 1) */
};

static struct keel_service service;
static struct keel_service_client clients[MAX_CLIENTS];
static struct held held[MAX_CLIENTS];

static void on_connect(struct keel_service *s, struct keel_service_client *c)
{
    held[keel_service_index(s, c)] = (struct held){ 0 };
}

/* An event's number into a subscription's buffer (when it has room for it). */
static void event_data(struct keel_service_client *c, const struct keel_channel_desc *d, uint64_t number)
{
    uint8_t *p = d->length >= 8 ? keel_channel_data(&c->ch, d->offset, 8) : 0;
    if (p)
        memcpy(p, &number, 8);
}

// tutorial:handle
/* Work out one request: true when it completes now (status and length set in *d). */
static bool handle(struct keel_service_client *c, struct held *h, struct keel_channel_desc *d)
{
    switch (d->opcode) {
    case KEEL_NULL_NOP:
        d->status = 0;
        d->length = 0;
        return true;
    case KEEL_NULL_ECHO: {
        uint8_t *p = keel_channel_data(&c->ch, d->offset, d->length); /* pop checked the range */
        uint32_t sum = keel_null_sum(p, d->length);
        for (uint32_t i = 0; i < d->length; i++)
            p[i] = (uint8_t)~p[i];
        d->status = keel_null_echo_status(d->tag, sum);
        return true;
    }
    // tutorial:end
    case KEEL_NULL_HOLD:
        if (h->n == KEEL_NULL_MAX_HELD) {
            d->status = KEEL_CHANNEL_AGAIN;
            d->length = 0;
            return true;
        }
        d->status = 0; /* what RELEASE will complete it with */
        d->length = 0;
        h->req[h->n++] = *d;
        return false;
    case KEEL_NULL_EXIT: /* what follows it in the batch is never seen */
        keel_printf("null: exiting as client pid %llu asked\n", (unsigned long long)c->pid);
        keel_process_exit(0);
    case KEEL_NULL_RELEASE:
        d->status = (int32_t)h->n;
        d->length = 0;
        return true; /* serve() completes the held ones first */
    case KEEL_NULL_SUBSCRIBE: /* the latest event's number in its buffer, in case it completes now */
        event_data(c, d, h->fired);
        keel_service_subscribe(&service, c, &h->events, d, d->length >= 8 ? 8 : 0);
        return false;
    case KEEL_NULL_FIRE:
        for (uint32_t i = 0; i < d->flags && c->live; i++) {
            h->fired++;
            if (h->events.armed)
                event_data(c, &h->events.req, h->fired);
            keel_service_event(&service, c, &h->events, h->events.req.length >= 8 ? 8 : 0);
        }
        d->status = (int32_t)d->flags;
        d->length = 0;
        return true;
    default:
        d->status = KEEL_CHANNEL_EINVAL;
        d->length = 0;
        return true;
    }
}

// tutorial:serve
/* Serve what the client has queued: pop a batch, work it out, complete it with one publish. */
static void serve(struct keel_service *s, struct keel_service_client *c)
{
    struct held *h = &held[keel_service_index(s, c)];
    struct keel_channel_desc d[BATCH], done[BATCH + KEEL_NULL_MAX_HELD];
    for (;;) {
        int n = keel_service_pop(s, c, d, BATCH);
        if (n <= 0) /* nothing more; or the client ended (PEER_GONE) and was dropped */
            return;
        unsigned k = 0;
        for (int i = 0; i < n; i++) {
            if (d[i].opcode == KEEL_NULL_RELEASE) { /* held requests end before their RELEASE */
                memcpy(&done[k], h->req, h->n * sizeof h->req[0]);
                k += h->n;
            }
            if (handle(c, h, &d[i]))
                done[k++] = d[i];
            if (!c->live) /* an event's completion found the client broken and dropped it */
                return;
            if (d[i].opcode == KEEL_NULL_RELEASE)
                h->n = 0;
        }
        /* An honest client has a completion slot reserved for every request it has in flight,
         * so this publishes all k; anything else means the client broke the protocol. */
        int r = k ? keel_channel_complete_batch(&c->ch, done, k) : 0;
        if (r < 0 || (unsigned)r != k) {
            keel_service_drop(s, c, r < 0 ? r : KEEL_CHANNEL_EPROTO);
            return;
        }
    }
}
// tutorial:end

int main(void)
{
    // tutorial:caps
    if (keel_service_init(&service, "null", clients, MAX_CLIENTS))
        return 1; /* no init or service cap: the manifest line lacks serves=null */
    service.on_connect = on_connect;
    // tutorial:end
    keel_printf("null: ready\n");
    // tutorial:loop
    for (;;) {
        keel_service_wait(&service);            /* and take the channels init opened meanwhile */
        keel_service_serve_all(&service, serve); /* serve, arm, again while requests race in */
    }
    // tutorial:end
}
