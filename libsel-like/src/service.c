/* The server side of a channel service under init (keel/service.h). The regions between the
 * tutorial: markers are quoted verbatim by docs/tutorial.md. */
#include <keel/alloc.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/service.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

int keel_service_init(struct keel_service *s, const char *name, struct keel_service_client *clients,
                      unsigned max_clients)
{
    *s = (struct keel_service){ .name = name, .clients = clients, .max_clients = max_clients };
    for (unsigned i = 0; i < max_clients; i++)
        clients[i].live = false;
    s->init_cap = keel_startinfo_cap("init");
    s->svc = keel_startinfo_cap("service");
    if (!s->init_cap || !s->svc) {
        keel_printf("%s: missing the %s cap (a manifest line with serves=NAME gives init and service)\n", name,
                    s->init_cap ? "service" : "init");
        return KEEL_E_INVALID_CAPABILITY;
    }
    return 0;
}

/* Refuses a channel we cannot serve: init marks it gone for the client and takes the region back. */
static void refuse(struct keel_service *s, uint64_t va, uint64_t slot)
{
    keel_init_close(s->init_cap, va);
    keel_cspace_delete(slot);
    keel_slot_free(slot);
}

// tutorial:accept
unsigned keel_service_accept_all(struct keel_service *s)
{
    unsigned taken = 0;
    for (;;) {
        uint64_t slot; /* where init puts our doorbell cap to the client's notification */
        if (keel_slot_alloc(&slot))
            return taken;
        struct keel_msg m = keel_msg_make(KEEL_INIT_ACCEPT, 1);
        m.mr[0] = slot;
        if (keel_call(s->init_cap, &m) || m.mr[0] != 0) { /* KEEL_INIT_E_NONE: no more */
            keel_slot_free(slot);
            return taken;
        }
        uint64_t va = m.mr[1], size = m.mr[2], bit = m.mr[3], pid = keel_msg_get_mr(&m, 4);
        struct keel_service_client *c = 0;
        for (unsigned i = 0; i < s->max_clients && !c; i++)
            if (!s->clients[i].live)
                c = &s->clients[i];
        if (!c) {
            keel_printf("%s: too many clients; pid %llu refused\n", s->name, (unsigned long long)pid);
            refuse(s, va, slot);
            continue;
        }
        *c = (struct keel_service_client){ .pid = pid, .va = va, .bit = bit };
        /* Our doorbell rings the client; we sleep on the service notification for all clients. */
        c->n = (struct keel_channel_notifications){ .signal_cap = slot, .wait_cap = s->svc };
        keel_channel_bind_notifications(&c->ops, &c->n);
        int err = keel_channel_attach_server(&c->ch, (void *)va, size, &c->ops);
        if (err) { /* a driver trusts the region no more than the requests in it */
            keel_printf("%s: bad channel from pid %llu: %s\n", s->name, (unsigned long long)pid,
                        keel_channel_strerror(err));
            refuse(s, va, slot);
            continue;
        }
        c->live = true;
        taken++;
        if (s->on_connect)
            s->on_connect(s, c);
        keel_printf("%s: client pid %llu connected\n", s->name, (unsigned long long)pid);
    }
}
// tutorial:end

uint64_t keel_service_wait(struct keel_service *s)
{
    uint64_t word = 0;
    keel_wait(s->svc, &word); /* news, doorbells, "client gone" and IRQs all arrive here */
    if (word & KEEL_INIT_NEWS)
        keel_service_accept_all(s);
    return word;
}

// tutorial:drop
void keel_service_drop(struct keel_service *s, struct keel_service_client *c, int why)
{
    keel_printf("%s: client pid %llu gone (%s)\n", s->name, (unsigned long long)c->pid, keel_channel_strerror(why));
    keel_channel_close(&c->ch);
    keel_init_close(s->init_cap, c->va); /* init may now reuse the region and our window */
    keel_cspace_delete(c->n.signal_cap);
    keel_slot_free(c->n.signal_cap);
    c->live = false;
}
// tutorial:end

int keel_service_complete(struct keel_service *s, struct keel_service_client *c, const struct keel_channel_desc *d)
{
    int err = keel_channel_complete(&c->ch, d);
    if (err == KEEL_CHANNEL_AGAIN)
        err = KEEL_CHANNEL_EPROTO; /* more in flight than it can collect: a broken client */
    if (err)
        keel_service_drop(s, c, err);
    return err;
}

int keel_service_pop(struct keel_service *s, struct keel_service_client *c, struct keel_channel_desc *d,
                     uint32_t max)
{
    int n = keel_channel_pop(&c->ch, d, max);
    if (n < 0)
        keel_service_drop(s, c, n);
    return n;
}

bool keel_service_queue_add(struct keel_service_queue *q, const struct keel_channel_desc *d)
{
    if (q->n == KEEL_SERVICE_QUEUE_MAX)
        return false;
    q->d[q->n++] = *d;
    return true;
}

int keel_service_complete_queued(struct keel_service *s, struct keel_service_client *c,
                                 struct keel_service_queue *q, unsigned i)
{
    int err = keel_service_complete(s, c, &q->d[i]);
    memmove(&q->d[i], &q->d[i + 1], (q->n - i - 1) * sizeof q->d[0]);
    q->n--;
    return err;
}

// tutorial:serve-all
void keel_service_serve_all(struct keel_service *s, keel_service_fn serve)
{
    bool again;
    do {
        again = false;
        for (unsigned i = 0; i < s->max_clients; i++) {
            struct keel_service_client *c = &s->clients[i];
            if (c->live)
                serve(s, c);
            if (!c->live) /* not connected, or serve() dropped it */
                continue;
            /* Ask for a doorbell on the next request; 1 means one came in meanwhile. */
            int a = keel_channel_arm(&c->ch);
            if (a == 1)
                again = true;
            else if (a < 0)
                keel_service_drop(s, c, a);
        }
    } while (again);
}
// tutorial:end

/* One event to the subscriber: status = the events before it that it never saw. */
static int deliver(struct keel_service *s, struct keel_service_client *c, struct keel_service_subscription *sub,
                   struct keel_channel_desc *d, uint32_t length)
{
    d->status = (int32_t)(sub->undelivered - 1);
    d->length = length < d->length ? length : d->length;
    sub->undelivered = 0;
    sub->armed = false;
    return keel_service_complete(s, c, d);
}

int keel_service_subscribe(struct keel_service *s, struct keel_service_client *c,
                           struct keel_service_subscription *sub, const struct keel_channel_desc *d,
                           uint32_t length)
{
    struct keel_channel_desc req = *d;
    if (sub->armed) { /* one outstanding subscription per kind: refuse the second */
        req.status = KEEL_CHANNEL_BUSY;
        req.length = 0;
        return keel_service_complete(s, c, &req);
    }
    if (sub->undelivered)
        return deliver(s, c, sub, &req, length);
    sub->req = req;
    sub->armed = true;
    return 0;
}

int keel_service_event(struct keel_service *s, struct keel_service_client *c, struct keel_service_subscription *sub,
                       uint32_t length)
{
    sub->undelivered++;
    return sub->armed ? deliver(s, c, sub, &sub->req, length) : 0;
}
