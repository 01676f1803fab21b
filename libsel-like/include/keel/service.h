/* The server side of a channel service under init (servers/init/README.md, "Channel broker";
 * docs/tutorial.md): taking the channels init opens to us, the client table, dropping a client
 * that left, and the serve-then-arm loop that lets a busy channel run without doorbells. Every
 * driver that serves channels (serial, ps2kbd, console, null) is built on it.
 *
 * A driver declares a table of clients and, if it keeps state per client, a parallel array
 * indexed by keel_service_index(). One thread waits on the service notification for everything
 * (keel_service_wait: news from init, doorbells, "client gone", and the driver's IRQ bits). */
#ifndef KEEL_SERVICE_H
#define KEEL_SERVICE_H

#include <keel/channel.h>
#include <stdbool.h>
#include <stdint.h>

struct keel_service_client {
    bool live;
    uint64_t pid; /* the client's process id (init's) */
    uint64_t va;  /* where init mapped the channel in our address space */
    uint64_t bit; /* the channel's bit in our service notification */
    struct keel_channel ch;
    struct keel_channel_notifications n; /* ring the client through n.signal_cap (a slot of ours) */
    struct keel_channel_ops ops;
};

struct keel_service;
typedef void (*keel_service_fn)(struct keel_service *s, struct keel_service_client *c);

struct keel_service {
    const char *name;     /* the prefix of its log lines, e.g. "serial" */
    uint64_t init_cap;    /* the caps named "init" and "service" */
    uint64_t svc;
    struct keel_service_client *clients;
    unsigned max_clients;
    keel_service_fn on_connect; /* optional: reset the driver's state for a new client */
};

/* Finds the caps "init" and "service" (a manifest line with serves=NAME gives both). Returns 0,
 * or KEEL_E_INVALID_CAPABILITY after printing which is missing. */
int keel_service_init(struct keel_service *s, const char *name, struct keel_service_client *clients,
                      unsigned max_clients);
/* Waits on the service notification; takes the channels init opened meanwhile (KEEL_INIT_NEWS).
 * Returns the notification word, for the driver's own bits (IRQ N sets bit N). */
uint64_t keel_service_wait(struct keel_service *s);
/* Takes every channel init has opened to us. A client beyond the table, or whose region does not
 * attach, is refused: init is told at once (KEEL_INIT_CLOSE) and the client sees "peer gone".
 * Returns how many were taken. */
unsigned keel_service_accept_all(struct keel_service *s);
/* The client left or broke the protocol (`why`, a channel error, for the log line): closes our
 * side, tells init we are done with the channel (it reuses the region and our window), gives back
 * the doorbell cap and frees the table entry. */
void keel_service_drop(struct keel_service *s, struct keel_service_client *c, int why);
/* Calls serve() for every live client, then arms its channel (the client rings on its next
 * request); when a request raced in after serve() looked, serves again instead of sleeping. A
 * channel that arm() finds gone is dropped. */
void keel_service_serve_all(struct keel_service *s, keel_service_fn serve);

/* Completes one popped request without ever blocking on the client: a full completion ring means
 * the client submitted more than it has room to collect (an honest client never does: the library
 * keeps its requests in flight within the completion ring), so the client is dropped with EPROTO
 * rather than left to stall the driver and every other client. 0, or the (negative) error after
 * which `c` is no longer live. */
int keel_service_complete(struct keel_service *s, struct keel_service_client *c, const struct keel_channel_desc *d);

/* Takes up to max requests from c (keel_channel_pop). The count, or -- when the client is gone or
 * broke the protocol -- the (negative) error after which `c` has been dropped. */
int keel_service_pop(struct keel_service *s, struct keel_service_client *c, struct keel_channel_desc *d,
                     uint32_t max);

/* Requests a driver holds until it can answer them (READs waiting for input, WRITEs waiting for
 * room), in arrival order. */
#define KEEL_SERVICE_QUEUE_MAX 8
struct keel_service_queue {
    struct keel_channel_desc d[KEEL_SERVICE_QUEUE_MAX];
    unsigned n;
};
/* Appends a copy of *d; false when the queue is full (answer the request with an error then). */
bool keel_service_queue_add(struct keel_service_queue *q, const struct keel_channel_desc *d);
/* Completes q->d[i] (status and length set by the caller) and removes it from the queue. 0, or
 * the error after which `c` has been dropped (keel_service_complete). */
int keel_service_complete_queued(struct keel_service *s, struct keel_service_client *c,
                                 struct keel_service_queue *q, unsigned i);

/* Events ("tell me when X happens"). A client subscribes by submitting a request of the service's
 * subscription opcode and leaving it outstanding; the server keeps it here and completes it when
 * the event happens, with status = how many events the client MISSED before this one, and the
 * client submits it again for the next. Events that happen while no subscription is outstanding
 * (a slow client, busy elsewhere) are counted, not queued: a server never holds more than one
 * request per subscription, and the next subscription completes at once, reporting the latest
 * event and the number missed before it. One per client and kind of event (reset it in
 * on_connect). */
struct keel_service_subscription {
    struct keel_channel_desc req; /* the outstanding subscription, when armed */
    bool armed;
    uint32_t undelivered;         /* events since the last one delivered */
};
/* A subscription request d arrived: keep it, or complete it at once when events are waiting (the
 * server writes the latest event's data into d's buffer first and passes its length). A second
 * subscription while one is outstanding completes with KEEL_CHANNEL_BUSY. 0, or the error after
 * which c has been dropped. */
int keel_service_subscribe(struct keel_service *s, struct keel_service_client *c,
                           struct keel_service_subscription *sub, const struct keel_channel_desc *d,
                           uint32_t length);
/* The event happened: complete the outstanding subscription (`length` bytes of event data already
 * written into sub->req's buffer, if any) or count it as missed. 0, or the error after which c
 * has been dropped. */
int keel_service_event(struct keel_service *s, struct keel_service_client *c, struct keel_service_subscription *sub,
                       uint32_t length);

static inline unsigned keel_service_index(const struct keel_service *s, const struct keel_service_client *c)
{
    return (unsigned)(c - s->clients);
}

#endif
