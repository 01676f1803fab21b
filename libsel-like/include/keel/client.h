/* The client side of a channel service under init: what keel/service.h is for servers. Open a
 * channel to a service by name (waiting for it to appear if asked), make a synchronous call
 * (submit one request, wait for its own completion) or submit and reap asynchronously, close, and
 * open again after the server died. docs/channels.md ("Clients") and docs/tutorial.md use it.
 *
 *     struct keel_client null;
 *     if (keel_client_open_wait(&null, "null", 1000) == 0) {
 *         struct keel_channel_desc d = { .opcode = KEEL_NULL_NOP };
 *         int err = keel_client_call(&null, &d); // d is now the completion
 *     }
 *
 * Every process has one client notification for all its channels (init makes it at the first
 * OPEN); keel_client_notification() is a cap to it, to sleep on several clients at once. The
 * request buffers are the channel's data area (keel_client_data). A handle is used by one thread.
 *
 * Events: subscribe by submitting the service's subscription request and leaving it outstanding;
 * each completion is one event, status = the events missed before it (keel/service.h, "Events");
 * submit it again for the next.
 *
 * Results: 0 or a count on success; a positive enum keel_init_error from init's OPEN
 * (KEEL_INIT_E_NO_SERVICE while nobody serves the name, KEEL_INIT_E_DENIED when the manifest line's
 * uses= does not name it); a negative enum keel_channel_error (KEEL_CHANNEL_PEER_GONE: the server
 * died or closed; keel_client_reopen then). */
#ifndef KEEL_CLIENT_H
#define KEEL_CLIENT_H

#include <keel/channel.h>
#include <keel/initsvc.h>
#include <stdbool.h>
#include <stdint.h>

#define KEEL_CLIENT_INFLIGHT KEEL_INIT_CHANNEL_ENTRIES

struct keel_client {
    char service[32];
    uint64_t init_cap;       /* the cap named "init" */
    bool open;
    uint64_t wait_slot, signal_slot, va;
    struct keel_channel ch;
    struct keel_channel_notifications n;
    struct keel_channel_ops ops;
    struct keel_channel_inflight inflight[KEEL_CLIENT_INFLIGHT];
    /* completions taken while a call waited for its own, handed out by keel_client_reap */
    struct keel_channel_desc pending[KEEL_CLIENT_INFLIGHT];
    unsigned npending;
    uint64_t next_tag;       /* keel_client_call's own tags: from 1 << 63 up, apart from the caller's */
};

/* One attempt to open a channel to `service` (0, init's error > 0, or a channel error < 0). */
int keel_client_open(struct keel_client *c, const char *service);
/* Open, waiting while nobody serves the name: sleeps on the client notification (init signals
 * KEEL_INIT_CLIENT_NEWS when a server starts) or, before this process has one, yields. Gives up
 * after `tries` attempts (0: never) with KEEL_INIT_E_NO_SERVICE. (A deadline in time once the
 * kernel has a clock for it.) Other errors (DENIED) return at once. */
int keel_client_open_wait(struct keel_client *c, const char *service, unsigned tries);
/* Leave the channel: init unmaps it (the window is reused) and the server sees "client gone".
 * Requests still in flight are dropped. The handle can be opened again. */
void keel_client_close(struct keel_client *c);
/* After PEER_GONE: close, then open_wait the same service again. */
int keel_client_reopen(struct keel_client *c, unsigned tries);
bool keel_client_is_open(const struct keel_client *c);

/* [offset, offset + length) of the channel's data area, NULL if outside (or not open). */
void *keel_client_data(struct keel_client *c, uint32_t offset, uint32_t length);

/* Synchronous: submit *d (its tag is replaced by one of the library's), wait for its completion
 * and return it in *d (status, length, flags). Other requests' completions that arrive meanwhile
 * are kept for keel_client_reap. 0, or PEER_GONE (the request failed; reopen), CLOSED, EPROTO,
 * BUSY (every in-flight slot used by asynchronous requests). */
int keel_client_call(struct keel_client *c, struct keel_channel_desc *d);

/* Asynchronous: queue requests (keel_channel_submit_batch: AGAIN when the ring is full, BUSY at
 * the in-flight limit) and take completions. reap with `wait` sleeps until at least one is there
 * (0 at once when nothing is in flight). Once the server is gone, every request still in flight
 * comes back exactly once with status PEER_GONE (or its real one if the server had completed it);
 * after the last, reap returns PEER_GONE. */
int keel_client_submit(struct keel_client *c, const struct keel_channel_desc *d, uint32_t n);
int keel_client_reap(struct keel_client *c, struct keel_channel_desc *out, uint32_t max, bool wait);
/* Requests submitted and not yet reaped. */
uint32_t keel_client_inflight(const struct keel_client *c);

/* Before sleeping on the notification for several clients: 1 if a completion is already there,
 * 0 if armed (the server will ring), < 0 when the channel is gone. */
int keel_client_arm(struct keel_client *c);
/* A cap to this process's client notification (0 before its first open). */
uint64_t keel_client_notification(void);

#endif
