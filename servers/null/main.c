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
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define MAX_CLIENTS 8
#define BATCH 32

struct client {
    bool live;
    uint64_t pid, va;   /* the client's pid; where init mapped the channel in our address space */
    struct keel_channel ch;
    struct keel_channel_notifications n;
    struct keel_channel_ops ops;
    struct keel_channel_desc held[KEEL_NULL_MAX_HELD]; /* HOLD requests waiting for a RELEASE */
    unsigned nheld;
};

static struct client clients[MAX_CLIENTS];
static uint64_t svc, init_cap;

// tutorial:accept
/* Take every channel init has opened to us since the last KEEL_INIT_NEWS. */
static void accept_all(void)
{
    for (;;) {
        uint64_t slot; /* where init puts our doorbell cap to the client's notification */
        if (keel_slot_alloc(&slot))
            return;
        struct keel_msg m = keel_msg_make(KEEL_INIT_ACCEPT, 1);
        m.mr[0] = slot;
        if (keel_call(init_cap, &m) || m.mr[0] != 0) { /* KEEL_INIT_E_NONE: no more */
            keel_slot_free(slot);
            return;
        }
        uint64_t va = m.mr[1], size = m.mr[2], pid = keel_msg_get_mr(&m, 4);
        struct client *c = 0;
        for (unsigned i = 0; i < MAX_CLIENTS && !c; i++)
            if (!clients[i].live)
                c = &clients[i];
        if (!c) { /* full: leave it; the client's requests stay queued until it gives up */
            keel_printf("null: too many clients, pid %llu not served\n", (unsigned long long)pid);
            continue;
        }
        *c = (struct client){ .pid = pid, .va = va };
        /* Our doorbell rings the client; we sleep on the service notification for all clients. */
        c->n = (struct keel_channel_notifications){ .signal_cap = slot, .wait_cap = svc };
        keel_channel_bind_notifications(&c->ops, &c->n);
        int err = keel_channel_attach_server(&c->ch, (void *)va, size, &c->ops);
        if (err) {
            keel_printf("null: bad channel from pid %llu: %s\n", (unsigned long long)pid,
                        keel_channel_strerror(err));
            continue;
        }
        c->live = true;
        keel_printf("null: client pid %llu connected\n", (unsigned long long)pid);
    }
}
// tutorial:end

// tutorial:drop
/* The client left (or broke the protocol): close our side, tell init we are done with the channel
 * (it unmaps it and can use the region and our window again), give back the doorbell cap. */
static void drop(struct client *c, int why)
{
    keel_printf("null: client pid %llu gone (%s)\n", (unsigned long long)c->pid, keel_channel_strerror(why));
    keel_channel_close(&c->ch);
    keel_init_close(init_cap, c->va);
    keel_cspace_delete(c->n.signal_cap);
    keel_slot_free(c->n.signal_cap);
    c->live = false;
}
// tutorial:end

// tutorial:handle
/* Work out one request: true when it completes now (status and length set in *d). */
static bool handle(struct client *c, struct keel_channel_desc *d)
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
        if (c->nheld == KEEL_NULL_MAX_HELD) {
            d->status = KEEL_CHANNEL_AGAIN;
            d->length = 0;
            return true;
        }
        d->status = 0; /* what RELEASE will complete it with */
        d->length = 0;
        c->held[c->nheld++] = *d;
        return false;
    case KEEL_NULL_EXIT: /* what follows it in the batch is never seen */
        keel_printf("null: exiting as client pid %llu asked\n", (unsigned long long)c->pid);
        keel_process_exit(0);
    case KEEL_NULL_RELEASE:
        d->status = (int32_t)c->nheld;
        d->length = 0;
        return true; /* serve() completes the held ones first */
    default:
        d->status = KEEL_CHANNEL_EINVAL;
        d->length = 0;
        return true;
    }
}

// tutorial:serve
/* Serve what the client has queued: pop a batch, work it out, complete it with one publish. */
static void serve(struct client *c)
{
    struct keel_channel_desc d[BATCH], done[BATCH + KEEL_NULL_MAX_HELD];
    for (;;) {
        int n = keel_channel_pop(&c->ch, d, BATCH);
        if (n <= 0) {
            if (n < 0) /* KEEL_CHANNEL_PEER_GONE: the client ended */
                drop(c, n);
            return;
        }
        unsigned k = 0;
        for (int i = 0; i < n; i++) {
            if (d[i].opcode == KEEL_NULL_RELEASE) { /* held requests end before their RELEASE */
                memcpy(&done[k], c->held, c->nheld * sizeof c->held[0]);
                k += c->nheld;
            }
            if (handle(c, &d[i]))
                done[k++] = d[i];
            if (d[i].opcode == KEEL_NULL_RELEASE)
                c->nheld = 0;
        }
        /* An honest client has a completion slot reserved for every request it has in flight,
         * so this publishes all k; anything else means the client broke the protocol. */
        int r = k ? keel_channel_complete_batch(&c->ch, done, k) : 0;
        if (r < 0 || (unsigned)r != k) {
            drop(c, r < 0 ? r : KEEL_CHANNEL_EPROTO);
            return;
        }
    }
}
// tutorial:end

int main(void)
{
    // tutorial:caps
    svc = keel_startinfo_cap("service");
    init_cap = keel_startinfo_cap("init");
    if (!svc || !init_cap) {
        keel_printf("null: missing caps (need init and service: manifest serves=null)\n");
        return 1;
    }
    // tutorial:end
    keel_printf("null: ready\n");
    // tutorial:loop
    for (;;) {
        uint64_t word = 0;
        keel_wait(svc, &word); /* news, doorbells and "client gone" all arrive here */
        if (word & KEEL_INIT_NEWS)
            accept_all();
        bool again;
        do {
            again = false;
            for (unsigned i = 0; i < MAX_CLIENTS; i++) {
                struct client *c = &clients[i];
                if (c->live)
                    serve(c);
                if (!c->live)
                    continue;
                /* Ask for a doorbell on the next request; 1 means one came in meanwhile. */
                int a = keel_channel_arm(&c->ch);
                if (a == 1)
                    again = true;
                else if (a < 0)
                    drop(c, a);
            }
        } while (again);
    }
    // tutorial:end
}
