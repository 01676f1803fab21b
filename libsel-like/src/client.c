/* The client side of a channel service under init (keel/client.h): init's OPEN and CLOSE, the
 * channel attached with Keel notifications, and calls that wait for their own completion. */
#include <keel/alloc.h>
#include <keel/client.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

/* The process's client notification (the first wait slot init ever filled, kept for good) and how
 * many handles have a channel open: waiting on the notification for a service to appear would
 * take doorbell bits meant for those channels, so open_wait then yields instead. */
static uint64_t client_notif;
static unsigned clients_open;

static void free_slot(uint64_t *slot)
{
    if (*slot && *slot != client_notif) {
        keel_cspace_delete(*slot);
        keel_slot_free(*slot);
    }
    *slot = 0;
}

int keel_client_open(struct keel_client *c, const char *service)
{
    if (c->open)
        return 0;
    strlcpy(c->service, service, sizeof c->service);
    if (!c->init_cap)
        c->init_cap = keel_startinfo_cap("init");
    if (!c->init_cap)
        return KEEL_INIT_E_BAD_REQUEST; /* not started by init */
    c->wait_slot = c->signal_slot = 0;
    if (keel_slot_alloc(&c->wait_slot) || keel_slot_alloc(&c->signal_slot)) {
        free_slot(&c->wait_slot);
        free_slot(&c->signal_slot);
        return KEEL_INIT_E_NO_MEMORY;
    }
    /* init places our notification in wait_slot and a doorbell to the server in signal_slot, maps
     * the region and answers where it is. */
    struct keel_msg m = keel_msg_make(KEEL_INIT_OPEN, 6);
    keel_init_pack_name(&m, 0, service);
    keel_msg_set_mr(&m, 4, c->wait_slot);
    keel_msg_set_mr(&m, 5, c->signal_slot);
    int err = keel_call(c->init_cap, &m) ? KEEL_INIT_E_BAD_REQUEST : (int)m.mr[0];
    if (!err) {
        c->va = m.mr[1];
        /* init signals the badge of MR4 in our notification when the server is gone */
        c->n = (struct keel_channel_notifications){ .signal_cap = c->signal_slot, .wait_cap = c->wait_slot,
                                                    .gone_bits = keel_msg_get_mr(&m, 4) };
        keel_channel_bind_notifications(&c->ops, &c->n);
        err = keel_channel_attach_client(&c->ch, (void *)c->va, m.mr[2], &c->ops, c->inflight,
                                         KEEL_CLIENT_INFLIGHT);
        if (err)
            keel_init_close(c->init_cap, c->va);
    }
    if (err) {
        free_slot(&c->wait_slot);
        free_slot(&c->signal_slot);
        return err;
    }
    if (!client_notif)
        client_notif = c->wait_slot;
    c->open = true;
    c->npending = 0;
    c->next_tag = 1ull << 63;
    clients_open++;
    return 0;
}

int keel_client_open_wait(struct keel_client *c, const char *service, unsigned tries)
{
    for (unsigned i = 1;; i++) {
        int err = keel_client_open(c, service);
        if (err != KEEL_INIT_E_NO_SERVICE || (tries && i >= tries))
            return err;
        uint64_t word;
        if (client_notif && clients_open == 0)
            keel_wait(client_notif, &word); /* KEEL_INIT_CLIENT_NEWS: a server started */
        else
            keel_yield();
    }
}

void keel_client_close(struct keel_client *c)
{
    if (!c->open)
        return;
    keel_init_close(c->init_cap, c->va); /* init unmaps it: never touch the region again */
    free_slot(&c->wait_slot);
    free_slot(&c->signal_slot);
    c->open = false;
    c->npending = 0;
    clients_open--;
}

int keel_client_reopen(struct keel_client *c, unsigned tries)
{
    keel_client_close(c);
    return keel_client_open_wait(c, c->service, tries);
}

bool keel_client_is_open(const struct keel_client *c) { return c->open; }

void *keel_client_data(struct keel_client *c, uint32_t offset, uint32_t length)
{
    return c->open ? keel_channel_data(&c->ch, offset, length) : 0;
}

uint64_t keel_client_notification(void) { return client_notif; }

/* Completions from the channel; once the server is gone, the requests still in flight (each
 * once), then PEER_GONE. */
static int take(struct keel_client *c, struct keel_channel_desc *out, uint32_t max, bool wait)
{
    int n = wait ? keel_channel_reap_wait(&c->ch, out, max) : keel_channel_reap(&c->ch, out, max);
    if (n == KEEL_CHANNEL_PEER_GONE) {
        n = keel_channel_fail_inflight(&c->ch, out, max);
        if (n == 0)
            return KEEL_CHANNEL_PEER_GONE;
    }
    return n;
}

int keel_client_call(struct keel_client *c, struct keel_channel_desc *d)
{
    if (!c->open)
        return KEEL_CHANNEL_CLOSED;
    struct keel_channel_desc req = *d;
    req.tag = c->next_tag++;
    int err = keel_channel_submit_wait(&c->ch, &req, 1); /* sleeps while the ring is full */
    if (err != 1)
        return err < 0 ? err : KEEL_CHANNEL_EPROTO;
    for (;;) {
        struct keel_channel_desc got[KEEL_CLIENT_INFLIGHT];
        int n = take(c, got, KEEL_CLIENT_INFLIGHT, true);
        if (n <= 0)
            return n < 0 ? n : KEEL_CHANNEL_EPROTO; /* (0: ours is no longer in flight) */
        int mine = -1;
        for (int i = 0; i < n; i++) {
            if (got[i].tag == req.tag)
                mine = i;
            else if (c->npending < KEEL_CLIENT_INFLIGHT)
                c->pending[c->npending++] = got[i]; /* at most one per request in flight: room */
        }
        if (mine >= 0) {
            *d = got[mine];
            d->tag = req.tag;
            return d->status == KEEL_CHANNEL_PEER_GONE ? KEEL_CHANNEL_PEER_GONE : 0;
        }
    }
}

int keel_client_submit(struct keel_client *c, const struct keel_channel_desc *d, uint32_t n)
{
    return c->open ? keel_channel_submit_batch(&c->ch, d, n) : KEEL_CHANNEL_CLOSED;
}

int keel_client_reap(struct keel_client *c, struct keel_channel_desc *out, uint32_t max, bool wait)
{
    if (!c->open)
        return KEEL_CHANNEL_CLOSED;
    if (c->npending) { /* kept by a call: older than anything still in the ring */
        uint32_t k = c->npending < max ? c->npending : max;
        memcpy(out, c->pending, k * sizeof *out);
        memmove(c->pending, c->pending + k, (c->npending - k) * sizeof *out);
        c->npending -= k;
        return (int)k;
    }
    return take(c, out, max, wait);
}

uint32_t keel_client_inflight(const struct keel_client *c)
{
    return c->open ? keel_channel_inflight(&c->ch) + c->npending : 0;
}

int keel_client_arm(struct keel_client *c)
{
    if (!c->open)
        return KEEL_CHANNEL_CLOSED;
    if (c->npending)
        return 1;
    return keel_channel_arm(&c->ch);
}
