/* init's service endpoint: the protocol between init (servers/init) and the processes it starts.
 * Every process gets a cap named "init" (the supervision endpoint minted with its pid, Write +
 * GrantReply): it Calls it with one of the labels below. servers/init/README.md, "Channel broker",
 * describes the design.
 *
 * Channels (keel/channel.h) are brokered by init: a client asks for a channel to a named service
 * (a process whose manifest line says serves=NAME); init makes the region (its own frames, mapped
 * into both processes), lays it out, and places the notification caps straight into the slots
 * the two sides name (init holds their CNodes): no cap transfer over IPC. */
#ifndef KEEL_INITSVC_H
#define KEEL_INITSVC_H

#include <keel/syscall.h>
#include <keel/string.h>
#include <stdint.h>

/* Client: open a channel to a service.
 *   MR0..MR3 the service name (NUL-padded, up to 31 characters), MR4 a free slot of the caller's
 *   CNode for its wait notification, MR5 a free slot for its doorbell to the server.
 *   Reply: MR0 = 0 or enum keel_init_error; MR1 the region's address in the caller; MR2 its size. */
#define KEEL_INIT_OPEN 0x4e45504full   /* "OPEN" */
/* Server (after KEEL_INIT_NEWS on its service notification): take the next channel opened to it.
 *   MR0 a free slot for its doorbell to the client.
 *   Reply: MR0 = 0 or KEEL_INIT_E_NONE (no more); MR1 region address; MR2 size; MR3 the badge bit
 *   the client's doorbells (and init's "client gone") set in the service notification; MR4 the
 *   client's pid. */
#define KEEL_INIT_ACCEPT 0x50434341ull /* "ACCP" */
/* Process table row MR0 (from 0). Reply: MR0 = 0 or KEEL_INIT_E_NONE; MR1 pid; MR2 state
 * (enum keel_init_proc_state); MR3 restarts used; MR4 restart limit; MR5 memory bytes; MR6..MR9
 * the name (NUL-padded). */
#define KEEL_INIT_PS 0x53505350ull     /* "PSPS" */
/* Memory. Reply: MR0 = 0; MR1 bytes free in init's untyped; MR2 bytes given to processes. */
#define KEEL_INIT_MEM 0x494d454dull    /* "MEMI" */

enum keel_init_error {
    KEEL_INIT_E_NO_SERVICE = 1, /* nobody running serves that name */
    KEEL_INIT_E_NO_MEMORY = 2,
    KEEL_INIT_E_BAD_SLOT = 3,   /* a slot is outside the CNode or not empty */
    KEEL_INIT_E_TOO_MANY = 4,   /* channel table full */
    KEEL_INIT_E_NONE = 5,       /* nothing (more) to accept / no such row */
    KEEL_INIT_E_BAD_REQUEST = 6,
};

enum keel_init_proc_state { KEEL_INIT_NEW, KEEL_INIT_RUNNING, KEEL_INIT_EXITED, KEEL_INIT_CRASHED, KEEL_INIT_FAILED };

/* Badges in a service's notification: IRQ N sets bit N; init's "a channel was opened to you" sets
 * KEEL_INIT_NEWS; channel doorbells use the bits from KEEL_INIT_CHANNEL_FIRST_BIT. */
#define KEEL_INIT_NEWS (1ull << 62)
#define KEEL_INIT_CHANNEL_FIRST_BIT 16
#define KEEL_INIT_CHANNEL_BITS 32
/* Badges in a client's notification: the server's doorbell, and init's "server gone". */
#define KEEL_INIT_CLIENT_DOORBELL 1ull
#define KEEL_INIT_CLIENT_GONE 2ull

/* Region geometry init uses for every channel. */
#define KEEL_INIT_CHANNEL_PAGES 2
#define KEEL_INIT_CHANNEL_ENTRIES 16

static inline void keel_init_pack_name(struct keel_msg *m, unsigned first_mr, const char *name)
{
    char buf[32] = { 0 };
    size_t n = strlen(name);
    memcpy(buf, name, n < 31 ? n : 31);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t w;
        memcpy(&w, buf + 8 * i, 8);
        keel_msg_set_mr(m, first_mr + i, w);
    }
}

static inline void keel_init_unpack_name(const struct keel_msg *m, unsigned first_mr, char out[32])
{
    for (unsigned i = 0; i < 4; i++) {
        uint64_t w = keel_msg_get_mr(m, first_mr + i);
        memcpy(out + 8 * i, &w, 8);
    }
    out[31] = 0;
}

#endif
