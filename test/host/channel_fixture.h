/* Helpers for the channel host tests: an aligned region, and doorbell/wait callbacks.
 *
 * Single-threaded doorbells (struct fx_doors): ring() latches a bit in the peer's door, like a
 * Keel notification; wait() first runs an optional hook (the peer acting "while we sleep"), then
 * consumes the latched bit. A wait with no bit latched would sleep forever: it is recorded as a
 * hang and fails with -1, which the library turns into PEER_GONE, so a test sees it instead of
 * hanging.
 *
 * Threaded doorbells (struct fx_sems): POSIX semaphores; a post before the wait is remembered,
 * as a notification's bit is. */
#ifndef KEEL_CHANNEL_FIXTURE_H
#define KEEL_CHANNEL_FIXTURE_H

#include <keel/channel.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static inline void *fx_region_alloc(size_t size)
{
    size_t rounded = (size + 4095) & ~(size_t)4095;
    void *p = aligned_alloc(4096, rounded);
    if (p)
        memset(p, 0xA5, rounded); /* init must not rely on zeroed memory */
    return p;
}

/* ---- single-threaded doorbells ---- */
struct fx_doors;
typedef void (*fx_hook)(struct fx_doors *d, int side);

struct fx_door {
    int pending;    /* latched doorbell for this side */
    int rings;      /* doorbells received */
    int waits;      /* wait() calls by this side */
    int hangs;      /* waits that would have slept forever */
    int fail_ring;  /* this side's ring() fails (peer's cap revoked) */
    int wait_result;/* non-zero: wait() returns it (supervisor says peer gone) */
};

struct fx_ctx {
    struct fx_doors *d;
    int side;
};

struct fx_doors {
    struct fx_door door[2];     /* indexed by enum keel_channel_side */
    struct fx_ctx ctx[2];
    struct keel_channel_ops ops[2];
    fx_hook hook;               /* run inside wait(), before looking at the door */
    void *hook_arg;
};

static inline int fx_ring(void *ctx)
{
    struct fx_ctx *c = ctx;
    if (c->d->door[c->side].fail_ring)
        return -1;
    struct fx_door *peer = &c->d->door[!c->side];
    peer->pending = 1;
    peer->rings++;
    return 0;
}

static inline int fx_wait(void *ctx)
{
    struct fx_ctx *c = ctx;
    struct fx_door *me = &c->d->door[c->side];
    me->waits++;
    if (c->d->hook)
        c->d->hook(c->d, c->side);
    if (me->wait_result)
        return me->wait_result;
    if (!me->pending) {
        me->hangs++;
        return -1;
    }
    me->pending = 0;
    return 0;
}

static inline void fx_doors_init(struct fx_doors *d)
{
    memset(d, 0, sizeof(*d));
    for (int s = 0; s < 2; s++) {
        d->ctx[s] = (struct fx_ctx){ d, s };
        d->ops[s] = (struct keel_channel_ops){ fx_ring, fx_wait, &d->ctx[s] };
    }
}

/* ---- threaded doorbells ---- */
struct fx_sems;
struct fx_sem_ctx {
    struct fx_sems *sems;
    int side;
};

struct fx_sems {
    sem_t sem[2];               /* counting: extra posts only cause spurious wakes */
    atomic_long rings[2];       /* doorbells received per side */
    struct fx_sem_ctx ctx[2];
    struct keel_channel_ops ops[2];
};

static inline int fx_sem_ring(void *ctx)
{
    struct fx_sem_ctx *c = ctx;
    atomic_fetch_add(&c->sems->rings[!c->side], 1);
    return sem_post(&c->sems->sem[!c->side]);
}

static inline int fx_sem_wait(void *ctx)
{
    struct fx_sem_ctx *c = ctx;
    while (sem_wait(&c->sems->sem[c->side]) != 0) {
    }
    return 0;
}

static inline int fx_sems_init(struct fx_sems *ss)
{
    memset(ss, 0, sizeof(*ss));
    for (int s = 0; s < 2; s++) {
        if (sem_init(&ss->sem[s], 0, 0))
            return -1;
        ss->ctx[s] = (struct fx_sem_ctx){ ss, s };
        ss->ops[s] = (struct keel_channel_ops){ fx_sem_ring, fx_sem_wait, &ss->ctx[s] };
    }
    return 0;
}

static inline void fx_sems_destroy(struct fx_sems *ss)
{
    sem_destroy(&ss->sem[0]);
    sem_destroy(&ss->sem[1]);
}

#endif
