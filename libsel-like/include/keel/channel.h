/* Channels: a shared-memory request/completion queue between exactly two processes, a client and
 * a server (usually a driver). See docs/channels.md for the layout, the protocol, the memory
 * ordering and the failure semantics.
 *
 * One contiguous region, mapped by both sides (possibly at different addresses: the region holds
 * offsets, never pointers):
 *   header (magic, version, sizes; state word; the four ring indices and the four event indices,
 *   each on its own cache line) | submission ring (client -> server) | completion ring
 *   (server -> client) | data area.
 * Rings are single-producer/single-consumer arrays of 32-byte descriptors indexed by free-running
 * 32-bit counters (slot = index & (entries - 1)). A doorbell is sent only when the other side has
 * asked to be woken (event index), so a busy channel costs no syscall per request.
 *
 * The ring code does not know the kernel: the doorbell and the sleep are callbacks
 * (struct keel_channel_ops). keel_channel_bind_notifications() plugs in Keel notifications.
 *
 * Everything read from shared memory is validated; a peer that breaks the protocol gets errors
 * (KEEL_CHANNEL_EPROTO, rejected descriptors), never memory outside the region.
 *
 * Return values: functions returning int give 0 (or a count >= 0) on success and a negative
 * enum keel_channel_error otherwise. A struct keel_channel is used by one thread at a time. */
#ifndef KEEL_CHANNEL_H
#define KEEL_CHANNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Errors (negative) and library-made completion statuses ---- */
enum keel_channel_error {
    KEEL_CHANNEL_OK = 0,
    KEEL_CHANNEL_AGAIN = -1,      /* ring full: nothing was queued; retry later or use a _wait call */
    KEEL_CHANNEL_BUSY = -2,       /* client: every in-flight slot is used; reap completions first */
    KEEL_CHANNEL_PEER_GONE = -3,  /* the other side died or closed (also a completion status) */
    KEEL_CHANNEL_CLOSED = -4,     /* this side closed the channel (or was declared gone) */
    KEEL_CHANNEL_EINVAL = -5,     /* bad argument: offset/length outside the data area, bad sizes;
                                     as a completion status: the server rejected a bad descriptor */
    KEEL_CHANNEL_EBADREGION = -6, /* attach/init: bad magic, version, sizes or layout */
    KEEL_CHANNEL_EPROTO = -7,     /* the peer broke the protocol (index out of range or going back;
                                     as a completion status: the server's completion was malformed) */
};

/* "OK", "AGAIN", ...; "UNKNOWN" for other values. */
const char *keel_channel_strerror(int err);

/* ---- Shared layout ---- */
#define KEEL_CHANNEL_MAGIC 0x4E48434Bu /* "KCHN" little-endian */
#define KEEL_CHANNEL_VERSION 1u
#define KEEL_CHANNEL_CACHE_LINE 64u
#define KEEL_CHANNEL_MAX_ENTRIES 32768u  /* per ring; in-flight ids hold a 16-bit slot number */
#define KEEL_CHANNEL_MAX_REGION 0x80000000u /* offsets are 32-bit */

/* state word */
enum keel_channel_state {
    KEEL_CHANNEL_STATE_OPEN = 1,        /* 0 (zeroed memory) is never "open" */
    KEEL_CHANNEL_STATE_CLIENT_GONE = 2,
    KEEL_CHANNEL_STATE_SERVER_GONE = 3,
    KEEL_CHANNEL_STATE_CLOSED = 4,      /* both sides gone */
};

enum keel_channel_side {
    KEEL_CHANNEL_CLIENT = 0,
    KEEL_CHANNEL_SERVER = 1,
};

/* One ring entry, 32 bytes, the same in both rings. */
struct keel_channel_desc {
    uint64_t tag;     /* client's id for matching; a reaped completion carries the submitted tag */
    uint32_t opcode;  /* request type, defined by the service */
    uint32_t flags;   /* service-defined */
    uint32_t offset;  /* start of the request's buffer in the data area */
    uint32_t length;  /* request: buffer bytes; completion: bytes produced (<= request length) */
    int32_t status;   /* completion: >= 0 service result or a negative error; 0 in requests */
    uint32_t id;      /* library-owned in-flight id (slot | generation << 16); servers echo it */
};

/* One 64-byte line holding a single 32-bit word, so the two sides never write the same line. */
struct keel_channel_line {
    _Atomic uint32_t v;
    uint8_t pad[KEEL_CHANNEL_CACHE_LINE - sizeof(uint32_t)];
};

/* Region header. Lines 0 (geometry, written once by init) and 1 (state) are shared; every other
 * line is written by one side only (noted) and read by the other. */
struct keel_channel_header {
    uint32_t magic;          /* 0x00 KEEL_CHANNEL_MAGIC, stored last by init (release) */
    uint16_t version;        /* 0x04 KEEL_CHANNEL_VERSION */
    uint16_t desc_size;      /* 0x06 sizeof(struct keel_channel_desc) */
    uint32_t sq_entries;     /* 0x08 power of two, 1..KEEL_CHANNEL_MAX_ENTRIES */
    uint32_t cq_entries;     /* 0x0C power of two, 1..KEEL_CHANNEL_MAX_ENTRIES */
    uint32_t sq_offset;      /* 0x10 submission ring, from the region start */
    uint32_t cq_offset;      /* 0x14 completion ring */
    uint32_t data_offset;    /* 0x18 data area */
    uint32_t data_size;      /* 0x1C data area bytes */
    uint32_t region_size;    /* 0x20 bytes from the header to the end of the data area */
    uint32_t reserved[7];    /* 0x24 zero */
    struct keel_channel_line state;          /* 0x040 enum keel_channel_state */
    struct keel_channel_line sq_tail;        /* 0x080 client: requests published */
    struct keel_channel_line sq_head;        /* 0x0C0 server: requests consumed */
    struct keel_channel_line cq_tail;        /* 0x100 server: completions published */
    struct keel_channel_line cq_head;        /* 0x140 client: completions consumed */
    struct keel_channel_line sq_tail_event;  /* 0x180 server: ring me when sq_tail reaches this */
    struct keel_channel_line sq_head_event;  /* 0x1C0 client: ring me when sq_head reaches this */
    struct keel_channel_line cq_tail_event;  /* 0x200 client: ring me when cq_tail reaches this */
    struct keel_channel_line cq_head_event;  /* 0x240 server: ring me when cq_head reaches this */
};
#define KEEL_CHANNEL_HEADER_SIZE 0x280u

/* Event-index rule: the side that moved an index from `old` to `now` rings the other side iff the
 * other side's event index `event` lies in (old, now] (modulo 2^32), i.e. the move reached it. */
static inline bool keel_channel_need_event(uint32_t event, uint32_t now, uint32_t old)
{
    return (uint32_t)(now - event) < (uint32_t)(now - old);
}

/* ---- Callbacks ---- */
/* ring(): send the doorbell to the peer. wait(): sleep until our doorbell rings (a doorbell sent
 * before the wait must not be lost: notifications and semaphores latch). Both return 0, or
 * non-zero on failure, which the library treats as the peer being gone (never a hang);
 * wait() may return KEEL_CHANNEL_PEER_GONE when a supervisor says so. */
struct keel_channel_ops {
    int (*ring)(void *ctx);
    int (*wait)(void *ctx);
    void *ctx;
};

/* Per-side counters, private to this side. */
struct keel_channel_stats {
    uint64_t requests;             /* client: submitted; server: valid requests popped */
    uint64_t completions;          /* client: completions reaped; server: completions published */
    uint64_t doorbells_sent;       /* ring() calls */
    uint64_t doorbells_suppressed; /* publishes after which the peer had not asked to be woken */
    uint64_t waits;                /* wait() calls */
    uint64_t rejected;             /* malformed descriptors from the peer (failed or dropped) */
    uint64_t failed;               /* client: requests failed by keel_channel_fail_inflight() */
};

/* Client's private record of one request in flight (the caller provides the array). */
struct keel_channel_inflight {
    uint64_t tag;
    uint32_t opcode, flags, offset, length;
    uint16_t gen;   /* bumped on each use: a stale or repeated completion is recognised */
    uint16_t busy;
    uint32_t next;  /* free list */
};

/* One side's handle: private memory, never shared. Treat the fields as opaque. */
struct keel_channel {
    struct keel_channel_header *hdr;
    struct keel_channel_desc *sq, *cq;
    uint8_t *data;
    uint32_t sq_entries, cq_entries, data_size;
    enum keel_channel_side side;
    /* indices this side owns (never re-read from shared memory) */
    uint32_t sq_idx;       /* client: sq tail; server: sq head */
    uint32_t cq_idx;       /* client: cq head; server: cq tail */
    /* last values seen of the peer's indices (validated: they only move forward) */
    uint32_t sq_peer;      /* client: sq head; server: sq tail */
    uint32_t cq_peer;      /* client: cq tail; server: cq head */
    bool peer_gone;        /* sticky */
    bool closed;
    bool cq_drained;       /* client: fail_inflight() has taken what the server published */
    int ops_error;         /* last non-zero ring()/wait() result */
    struct keel_channel_ops ops;
    struct keel_channel_stats stats;
    /* client: in-flight table */
    struct keel_channel_inflight *inflight;
    uint32_t inflight_max, inflight_count, free_head;
    /* server: requests popped and not yet completed */
    uint32_t outstanding;
};

/* ---- Setting up ---- */
struct keel_channel_config {
    uint32_t sq_entries;   /* power of two, 1..KEEL_CHANNEL_MAX_ENTRIES */
    uint32_t cq_entries;   /* idem; also the client's in-flight limit */
    uint32_t data_size;    /* data area bytes (may be 0) */
    uint32_t first_index;  /* starting value of all indices; 0 normally (tests use ~UINT32_MAX) */
};

/* Bytes a region needs for this geometry, or 0 if the geometry is invalid. */
size_t keel_channel_region_size(uint32_t sq_entries, uint32_t cq_entries, uint32_t data_size);
/* Lay out a fresh channel in `region` (64-byte aligned, `size` bytes): server or root task,
 * before either side attaches. EINVAL: bad geometry, region too small or misaligned. */
int keel_channel_init(void *region, size_t size, const struct keel_channel_config *cfg);
/* Client side: validate the region (EBADREGION) and attach. `inflight` (n >= 1 entries) records
 * requests in flight; the in-flight limit is min(n, cq_entries). The channel must be fresh (no
 * request queued: EBADREGION otherwise). */
int keel_channel_attach_client(struct keel_channel *ch, void *region, size_t size,
                               const struct keel_channel_ops *ops,
                               struct keel_channel_inflight *inflight, uint32_t n);
/* Server side: validate the region (EBADREGION) and attach; requests already queued are kept. */
int keel_channel_attach_server(struct keel_channel *ch, void *region, size_t size,
                               const struct keel_channel_ops *ops);

/* ---- Client ---- */
/* Queue one request (d->id and d->status are ignored). 0, AGAIN (ring full), BUSY (in-flight
 * limit), EINVAL (buffer outside the data area), PEER_GONE, CLOSED, EPROTO. Never blocks. */
int keel_channel_submit(struct keel_channel *ch, const struct keel_channel_desc *d);
/* Queue up to n requests in order with one publish and at most one doorbell: the number queued
 * (> 0, possibly < n), or the error that stopped the first one (AGAIN when the ring is full). */
int keel_channel_submit_batch(struct keel_channel *ch, const struct keel_channel_desc *d, uint32_t n);
/* As submit_batch, but sleeps while the ring is full until all n are queued. Returns n, the count
 * queued before an error, or the error (BUSY is returned, not waited for: only reaping frees it). */
int keel_channel_submit_wait(struct keel_channel *ch, const struct keel_channel_desc *d, uint32_t n);
/* Take up to max completions (tag, opcode, offset as submitted; length, status, flags from the
 * server): the count (0 when none), PEER_GONE, CLOSED, EPROTO. Never blocks. */
int keel_channel_reap(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max);
/* As reap, but sleeps until at least one completion is there (or an error). Returns 0 at once
 * when nothing is in flight (nothing could arrive). */
int keel_channel_reap_wait(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max);
/* As reap_wait, but sleeps until `min` completions are there (clamped to the requests in flight):
 * the server rings once per `min` completions instead of once per completion. */
int keel_channel_reap_wait_n(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max,
                             uint32_t min);
/* As reap, but polls (no syscall) up to `spins` times before giving up with 0. */
int keel_channel_reap_poll(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max,
                           uint32_t spins);
/* Once the server is gone (or this side closed): hand back every request still in flight exactly
 * once, first the completions the server had published (their real status), then the others with
 * status PEER_GONE and length 0. Returns the count written (call until 0); EINVAL while open. */
int keel_channel_fail_inflight(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max);
/* Requests submitted and not yet handed back by reap/fail_inflight. */
uint32_t keel_channel_inflight(const struct keel_channel *ch);

/* ---- Server ---- */
/* Take up to max requests, validated (offset/length inside the data area). A malformed one is
 * completed at once with status EINVAL and not returned. Count (0 when none), PEER_GONE, CLOSED,
 * EPROTO. Never blocks. */
int keel_channel_pop(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max);
/* As pop, but sleeps until at least one request is there (or an error). */
int keel_channel_pop_wait(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max);
/* As pop, but polls (no syscall) up to `spins` times before giving up with 0. */
int keel_channel_pop_poll(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max,
                          uint32_t spins);
/* Publish the completion of a popped request (a popped desc with status/length/flags set; tag and
 * id unchanged). 0, AGAIN (ring full), EINVAL (more completions than requests popped, or length
 * outside the data area), PEER_GONE, CLOSED, EPROTO. Never blocks. */
int keel_channel_complete(struct keel_channel *ch, const struct keel_channel_desc *c);
/* Up to n completions with one publish and at most one doorbell: count (> 0) or the error. */
int keel_channel_complete_batch(struct keel_channel *ch, const struct keel_channel_desc *c, uint32_t n);
/* As complete_batch, but sleeps while the ring is full until all n are published. */
int keel_channel_complete_wait(struct keel_channel *ch, const struct keel_channel_desc *c, uint32_t n);

/* ---- Both sides ---- */
/* For a thread serving several channels with one notification: ask to be rung when new work
 * arrives (server: a request; client: a completion). 1: work is already there, do not sleep;
 * 0: armed, the doorbell will come, safe to wait; or PEER_GONE / CLOSED / EPROTO. Arm every
 * channel, then wait once. */
int keel_channel_arm(struct keel_channel *ch);
/* 0 while open, PEER_GONE once the peer is gone (sticky), CLOSED after this side closed. */
int keel_channel_status(struct keel_channel *ch);
/* This side leaves: state becomes <side>_GONE (or CLOSED if the peer left already) and the peer
 * is rung unconditionally so it cannot sleep through it. Later calls return CLOSED. */
int keel_channel_close(struct keel_channel *ch);
/* The survivor learned (e.g. from the root task) that the peer is gone: record it locally and in
 * the state word. Later calls return PEER_GONE. */
void keel_channel_mark_peer_gone(struct keel_channel *ch);
/* Root task / supervisor: record in the region that `side` is gone (then signal the survivor).
 * EBADREGION if the region has no channel. */
int keel_channel_region_mark_gone(void *region, enum keel_channel_side side);
/* Pointer to [offset, offset + length) of the data area in this side's mapping, NULL if outside. */
void *keel_channel_data(const struct keel_channel *ch, uint32_t offset, uint32_t length);
/* This side's counters. */
const struct keel_channel_stats *keel_channel_get_stats(const struct keel_channel *ch);

/* ---- Optional fixed-slot allocator for the data area (client side, private memory) ---- */
#define KEEL_CHANNEL_SLOTS_MAX 256u
struct keel_channel_slots {
    uint32_t slot_size, count, used;
    uint64_t map[KEEL_CHANNEL_SLOTS_MAX / 64];
};
/* Cut the data area into min(data_size / slot_size, KEEL_CHANNEL_SLOTS_MAX) slots of slot_size
 * bytes (slot_size >= 1). EINVAL if not even one fits. */
int keel_channel_slots_init(struct keel_channel_slots *s, const struct keel_channel *ch,
                            uint32_t slot_size);
/* A free slot's data-area offset in *offset: 0, or AGAIN when all are used. */
int keel_channel_slots_alloc(struct keel_channel_slots *s, uint32_t *offset);
/* Give a slot back: 0, or EINVAL (not a slot offset, or not allocated). */
int keel_channel_slots_free(struct keel_channel_slots *s, uint32_t offset);

/* ---- Keel binding: doorbells are Notification signals ---- */
struct keel_channel_notifications {
    uint64_t signal_cap;   /* the peer's notification (badged cap): our doorbell */
    uint64_t wait_cap;     /* our notification: we sleep on it */
    uint64_t gone_bits;    /* badge bits the supervisor signals to say the peer is gone (0: none) */
    uint64_t last_word;    /* out: notification word of the last wake */
};
/* Fill ops with keel_signal(n->signal_cap) / keel_wait(n->wait_cap); n must outlive the channel. */
void keel_channel_bind_notifications(struct keel_channel_ops *ops, struct keel_channel_notifications *n);

#endif
