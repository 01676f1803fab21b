/* keeltest's channel tests against a real driver process: the null driver (servers/null) spawned
 * from its boot module, with keeltest in init's place. keeltest is the root task of the test
 * image, so for these tests it plays init's broker role exactly as servers/init/README.md and
 * keel/initsvc.h describe it (the driver cannot tell the difference), and is the client too:
 *   - the driver gets an "init" cap (an endpoint minted with its pid, Write + GrantReply) and a
 *     "service" notification retyped from its own Untyped, as under init;
 *   - opening a channel: keeltest makes the region (pool frames, laid out with the geometry the
 *     test wants), maps it into itself and, at ACCEPT, into the driver (paging structures from
 *     the driver's Untyped), makes the client's notification, signals KEEL_INIT_NEWS and answers
 *     the driver's KEEL_INIT_ACCEPT Calls until it says KEEL_INIT_E_NONE;
 *   - the driver's death: destroy (one Revoke), mark the channel gone in the region, signal the
 *     client with KEEL_INIT_CLIENT_GONE, as init does when a process ends. */
#ifndef KEELTEST_TEST_CHANNEL_H
#define KEELTEST_TEST_CHANNEL_H

#include "ktest.h"
#include <keel/channel.h>
#include <keel/process.h>

#define KT_CHAN_PAGES 2
#define KT_CHAN_BYTES (KT_CHAN_PAGES * 4096ull)
#define KT_CHAN_INFLIGHT 16
#define KT_CHAN_TABLES 3
#define KT_DRIVER_BYTES (1ull << 20)
#define KT_DRIVER_OWNED 24
#define KT_DRIVER_PID 0x4e554c4cull /* "NULL" */
#define KT_CHAN_BIT 3                /* the channel's bit in the driver's service notification */

struct kt_driver {
    uint64_t ep, reply, ut;  /* supervision + service endpoint, reply object, the driver's Untyped */
    uint64_t svc, news;      /* its service notification (from ut), and that badged KEEL_INIT_NEWS */
    struct keel_process p;
    uint64_t owned[KT_DRIVER_OWNED]; /* our slots of what we made for it (tables, region copies) */
    unsigned nowned;
    unsigned windows;        /* channel windows handed out in its address space */
};

struct kt_chan {
    uint64_t frames[KT_CHAN_PAGES]; /* the region, mapped in keeltest */
    uint64_t tables[KT_CHAN_TABLES]; /* paging structures made for that mapping */
    unsigned ntables;
    uint64_t cn;             /* the client's notification: its wait cap */
    uint64_t to_client;      /* cn badged KEEL_INIT_CLIENT_DOORBELL: moved to the driver at ACCEPT */
    uint64_t gone_sig;       /* cn badged KEEL_INIT_CLIENT_GONE: "the server died" */
    uint64_t doorbell;       /* the driver's service notification badged with the channel bit */
    void *region;
    struct keel_channel ch;
    struct keel_channel_notifications n;
    struct keel_channel_ops ops;
    struct keel_channel_inflight inflight[KT_CHAN_INFLIGHT];
};

/* Endpoint, reply object and a KT_DRIVER_BYTES Untyped for the driver. */
int kt_driver_init(struct kt_driver *d);
/* Spawn the null driver from its boot module with its "init" and "service" caps. */
int kt_driver_start(struct kt_driver *d);
/* Make a channel with `cfg`'s geometry (data_size 0: the rest of KT_CHAN_BYTES) at keeltest's
 * window `index`, attach as its client, and broker it to the driver: NEWS, then answer its
 * ACCEPTs (the channel, then KEEL_INIT_E_NONE). */
int kt_chan_open(struct kt_driver *d, struct kt_chan *c, unsigned index, const struct keel_channel_config *cfg);
/* The driver dies the way init sees a process end: destroy it (its Untyped revoked), mark the
 * channel's server side gone (c may be NULL) and signal the client; our slots for it freed. */
int kt_driver_kill(struct kt_driver *d, struct kt_chan *c);
/* Give back the channel's slots (its frames stay in the pool until the test ends). */
void kt_chan_free(struct kt_chan *c);
/* Receive the next message on the driver's endpoint, waiting a few seconds at most. */
int kt_driver_recv(struct kt_driver *d, struct keel_msg *m);
/* The Untyped's watermark (~0 if Describe fails). */
uint64_t kt_watermark(uint64_t ut);

#endif
