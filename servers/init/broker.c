/* init's channel broker (servers/init/README.md, "Channel broker"): OPEN, ACCEPT and CLOSE, and
 * the end of a process's channels when it dies.
 *
 * Memory is reused, so opening and closing channels forever costs nothing lasting:
 *  - a channel table entry keeps its frames (and init's mapping of them) after the channel ends;
 *    the next channel in that entry zeroes and re-lays them out. At most MAX_CHANNELS regions
 *    ever exist.
 *  - a process's channel windows (where a region is mapped in its address space) are a bitmap:
 *    a window is free again once its side of the channel left (CLOSE, or the peer died and this
 *    side closed). The paging structures under a window stay and are used again.
 *  - a client has one notification for all its channels, made at its first OPEN.
 * A survivor keeps its mapping until it CLOSEs (or dies), so it never touches memory that was
 * handed to someone else. */
#include "init.h"
#include <keel/alloc.h>
#include <keel/channel.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/stdio.h>
#include <keel/string.h>

#define MAX_CHANNELS 32
#define CHAN_PAGES KEEL_INIT_CHANNEL_PAGES
#define CHAN_BYTES (CHAN_PAGES * 4096ull)
#define CHILD_CHAN_VA 0x0000500000000000ull /* a process's window k at + k * CHAN_STRIDE */
#define INIT_CHAN_VA 0x0000610000000000ull  /* init's view of channel i at + i * CHAN_STRIDE */
#define CHAN_STRIDE 0x10000ull
#define MAX_WINDOWS KEEL_INIT_CLIENT_WINDOWS

enum { SIDE_INIT, SIDE_CLIENT, SIDE_SERVER };
struct channel {
    bool used, accepted;
    bool has_frames;           /* frames[] and maps[SIDE_INIT] exist (kept for the next channel) */
    struct proc *side[3];      /* [SIDE_CLIENT], [SIDE_SERVER] */
    uint64_t pid[3];
    bool alive[3];
    unsigned bit;              /* bit in the server's service notification */
    unsigned win[3];           /* window index in the client's and the server's address space */
    uint64_t frames[CHAN_PAGES];
    uint64_t maps[3][CHAN_PAGES]; /* the copies mapped into init, the client, the server */
    uint64_t va[3];
    uint64_t to_client;        /* client's notification badged with the doorbell bit: moved to the server at accept */
    uint64_t client_gone_sig;  /* server's notification badged with the channel bit (init's copy) */
    uint64_t server_gone_sig;  /* client's notification badged with the gone bit (init's copy) */
};
static struct channel channels[MAX_CHANNELS];

static void drop(uint64_t *slot)
{
    if (*slot) {
        keel_cspace_delete(*slot);
        keel_slot_free(*slot);
        *slot = 0;
    }
}

/* The process behind side `side`, if it is still the same run of it. */
static struct proc *side_proc(const struct channel *ch, int side)
{
    struct proc *pr = ch->side[side];
    return pr && pr->state == P_RUNNING && pr->p.pid == ch->pid[side] ? pr : 0;
}

static void chan_drop_side(struct channel *ch, int side)
{
    for (unsigned k = 0; k < CHAN_PAGES; k++)
        drop(&ch->maps[side][k]); /* deleting a mapped copy unmaps it */
    if (side != SIDE_INIT && ch->va[side]) {
        struct proc *pr = side_proc(ch, side);
        if (pr)
            pr->windows &= ~(1u << ch->win[side]);
        ch->va[side] = 0;
    }
    ch->alive[side] = false;
}

/* Both sides are gone: give back everything but the region, which the next channel here reuses. */
static void chan_free(struct channel *ch)
{
    chan_drop_side(ch, SIDE_CLIENT);
    chan_drop_side(ch, SIDE_SERVER);
    drop(&ch->to_client);
    drop(&ch->client_gone_sig);
    drop(&ch->server_gone_sig);
    struct proc *srv = side_proc(ch, SIDE_SERVER);
    if (srv)
        srv->chan_bits &= ~(1u << ch->bit);
    struct channel keep = { .has_frames = ch->has_frames, .va = { ch->va[SIDE_INIT] } };
    memcpy(keep.frames, ch->frames, sizeof keep.frames);
    memcpy(keep.maps[SIDE_INIT], ch->maps[SIDE_INIT], sizeof keep.maps[SIDE_INIT]);
    *ch = keep;
}

/* Map the region's frames (fresh copies) at `va` of the process (or of init: pr == 0). */
static int chan_map(struct channel *ch, int side, struct proc *pr, uint64_t va)
{
    for (unsigned k = 0; k < CHAN_PAGES; k++) {
        int err;
        if ((err = keel_slot_alloc(&ch->maps[side][k])))
            return err;
        if ((err = keel_cspace_copy(ch->maps[side][k], ch->frames[k], KEEL_RIGHTS_ALL)) ||
            (err = map_frame(ch->maps[side][k], pr ? pr->p.vspace : KEEL_SLOT_VSPACE, va + k * 4096,
                             KEEL_MAP_READ | KEEL_MAP_WRITE, pr)))
            return err;
    }
    ch->va[side] = va;
    return 0;
}

/* Map the region into a free window of the process. */
static int chan_map_window(struct channel *ch, int side, struct proc *pr)
{
    unsigned w = 0;
    while (w < MAX_WINDOWS && (pr->windows & (1u << w)))
        w++;
    if (w == MAX_WINDOWS)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    int err = chan_map(ch, side, pr, CHILD_CHAN_VA + w * CHAN_STRIDE);
    if (err)
        return err;
    ch->win[side] = w;
    pr->windows |= 1u << w;
    return 0;
}

static bool child_slot_ok(uint64_t slot)
{
    return slot >= KEEL_PROCESS_SLOT_FIRST_CAP && slot < (1ull << KEEL_PROCESS_CNODE_RADIX);
}

/* A fresh region in entry idx: its frames are made (and mapped into init) the first time only. */
static int chan_region(struct channel *ch, unsigned idx)
{
    int err = 0;
    if (!ch->has_frames) {
        for (unsigned k = 0; k < CHAN_PAGES && !err; k++)
            err = keel_alloc_object(KEEL_OBJ_FRAME_4K, 0, &ch->frames[k]);
        if (!err)
            err = chan_map(ch, SIDE_INIT, 0, INIT_CHAN_VA + idx * CHAN_STRIDE);
        if (err) /* frames and mappings made so far are kept for the next try */
            return err;
        ch->has_frames = true;
    }
    /* Nothing of the last channel here may reach the next one's peers. */
    memset((void *)ch->va[SIDE_INIT], 0, CHAN_BYTES);
    uint32_t fixed = (uint32_t)keel_channel_region_size(KEEL_INIT_CHANNEL_ENTRIES, KEEL_INIT_CHANNEL_ENTRIES, 0);
    uint32_t data = ((uint32_t)CHAN_BYTES - fixed) & ~63u;
    struct keel_channel_config cfg = { .sq_entries = KEEL_INIT_CHANNEL_ENTRIES,
                                       .cq_entries = KEEL_INIT_CHANNEL_ENTRIES, .data_size = data };
    return keel_channel_init((void *)ch->va[SIDE_INIT], CHAN_BYTES, &cfg) == 0 ? 0 : KEEL_E_INVALID_ARGUMENT;
}

/* The client's one notification for all its channels, from its own memory. */
static int client_notification(struct proc *cl)
{
    if (cl->client_ntfn)
        return 0;
    uint64_t n, news;
    int err = keel_slot_alloc(&n);
    if (err)
        return err;
    if ((err = keel_untyped_retype(cl->untyped, KEEL_OBJ_NOTIFICATION, 0, 0, 0, n, 1))) {
        keel_slot_free(n);
        return err;
    }
    own(cl, n);
    cl->client_ntfn = n;
    if ((err = keel_slot_alloc(&news)))
        return err;
    own(cl, news);
    if ((err = keel_cspace_mint(news, n, KEEL_RIGHT_WRITE, KEEL_INIT_CLIENT_NEWS)))
        return err;
    cl->client_news = news;
    return 0;
}

int broker_open(struct proc *cl, const struct keel_msg *m, struct keel_msg *r)
{
    char name[32];
    keel_init_unpack_name(m, 0, name);
    uint64_t wslot = keel_msg_get_mr(m, 4), sslot = keel_msg_get_mr(m, 5);
    /* A service is reached only by the processes whose manifest line names it (uses=): holding
     * the init cap, which every process has, is not enough. */
    if (!manifest_may_use(cl->e, name)) {
        keel_printf("init: %s (pid %llu) may not open '%s' (not in its uses=)\n", cl->e->name,
                    (unsigned long long)cl->p.pid, name);
        return KEEL_INIT_E_DENIED;
    }
    struct proc *srv = 0;
    for (unsigned i = 0; i < nprocs && !srv; i++)
        if (procs[i].state == P_RUNNING && procs[i].svc_ntfn && strcmp(procs[i].e->serves, name) == 0)
            srv = &procs[i];
    if (!srv)
        return KEEL_INIT_E_NO_SERVICE;
    if (!child_slot_ok(wslot) || !child_slot_ok(sslot) || wslot == sslot)
        return KEEL_INIT_E_BAD_SLOT;
    struct channel *ch = 0;
    unsigned idx = 0;
    for (; idx < MAX_CHANNELS && !ch; idx++)
        if (!channels[idx].used)
            ch = &channels[idx];
    idx--;
    unsigned bit = 0;
    while (bit < KEEL_INIT_CHANNEL_BITS && (srv->chan_bits & (1u << bit)))
        bit++;
    if (!ch || bit == KEEL_INIT_CHANNEL_BITS || cl->windows == (1u << MAX_WINDOWS) - 1)
        return KEEL_INIT_E_TOO_MANY;
    ch->used = true;
    ch->accepted = false;
    ch->bit = bit;
    ch->side[SIDE_CLIENT] = cl;
    ch->side[SIDE_SERVER] = srv;
    ch->pid[SIDE_CLIENT] = cl->p.pid;
    ch->pid[SIDE_SERVER] = srv->p.pid;
    ch->alive[SIDE_INIT] = ch->alive[SIDE_CLIENT] = true;
    ch->alive[SIDE_SERVER] = false; /* until it is set up: a failure below then frees the entry */
    uint64_t badge = 1ull << (KEEL_INIT_CHANNEL_FIRST_BIT + bit);
    int ret = KEEL_INIT_E_NO_MEMORY;
    int err = chan_region(ch, idx);
    if (!err)
        err = client_notification(cl);
    if (!err)
        err = chan_map_window(ch, SIDE_CLIENT, cl);
    uint64_t doorbell = 1ull << (2 * ch->win[SIDE_CLIENT]), gone = doorbell << 1;
    if (!err && !(err = keel_slot_alloc(&ch->to_client)))
        err = keel_cspace_mint(ch->to_client, cl->client_ntfn, KEEL_RIGHT_WRITE, doorbell);
    if (!err && !(err = keel_slot_alloc(&ch->server_gone_sig)))
        err = keel_cspace_mint(ch->server_gone_sig, cl->client_ntfn, KEEL_RIGHT_WRITE, gone);
    if (!err && !(err = keel_slot_alloc(&ch->client_gone_sig)))
        err = keel_cspace_mint(ch->client_gone_sig, srv->svc_ntfn, KEEL_RIGHT_WRITE, badge);
    if (!err) {
        /* Caps are placed, not transferred: init holds the client's CNode. */
        ret = KEEL_INIT_E_BAD_SLOT;
        err = keel_cnode_copy(cl->p.cnode, wslot, KEEL_PROCESS_CNODE_RADIX, 0, cl->client_ntfn, KEEL_CSPACE_DEPTH,
                              KEEL_RIGHTS_ALL);
        if (!err) {
            err = keel_cnode_mint(cl->p.cnode, sslot, KEEL_PROCESS_CNODE_RADIX, 0, srv->svc_ntfn, KEEL_CSPACE_DEPTH,
                                  KEEL_RIGHT_WRITE, badge);
            if (err)
                keel_cnode_delete(cl->p.cnode, wslot, KEEL_PROCESS_CNODE_RADIX);
        }
    }
    if (err) {
        keel_printf("init: %s: open '%s' failed: %s\n", cl->e->name, name, keel_strerror(err));
        chan_free(ch);
        return ret;
    }
    ch->alive[SIDE_SERVER] = true;
    srv->chan_bits |= 1u << bit;
    keel_signal(srv->svc_news);
    keel_printf("init: channel %u: %s (pid %llu) -> %s (pid %llu)\n", idx, cl->e->name,
                (unsigned long long)cl->p.pid, srv->e->name, (unsigned long long)srv->p.pid);
    keel_msg_set_mr(r, 1, ch->va[SIDE_CLIENT]);
    keel_msg_set_mr(r, 2, CHAN_BYTES);
    keel_msg_set_mr(r, 3, doorbell);
    keel_msg_set_mr(r, 4, gone);
    return 0;
}

int broker_accept(struct proc *srv, const struct keel_msg *m, struct keel_msg *r)
{
    uint64_t slot = keel_msg_get_mr(m, 0);
    for (unsigned i = 0; i < MAX_CHANNELS; i++) {
        struct channel *ch = &channels[i];
        if (!ch->used || ch->accepted || ch->side[SIDE_SERVER] != srv || ch->pid[SIDE_SERVER] != srv->p.pid ||
            !ch->alive[SIDE_CLIENT] || !ch->alive[SIDE_SERVER])
            continue;
        if (!child_slot_ok(slot) ||
            keel_cnode_move(srv->p.cnode, slot, KEEL_PROCESS_CNODE_RADIX, 0, ch->to_client, KEEL_CSPACE_DEPTH))
            return KEEL_INIT_E_BAD_SLOT;
        keel_slot_free(ch->to_client); /* moved out: the slot is empty */
        ch->to_client = 0;
        int err = chan_map_window(ch, SIDE_SERVER, srv);
        if (err) {
            keel_printf("init: %s: accept failed: %s\n", srv->e->name, keel_strerror(err));
            return KEEL_INIT_E_NO_MEMORY;
        }
        ch->accepted = true;
        keel_msg_set_mr(r, 1, ch->va[SIDE_SERVER]);
        keel_msg_set_mr(r, 2, CHAN_BYTES);
        keel_msg_set_mr(r, 3, 1ull << (KEEL_INIT_CHANNEL_FIRST_BIT + ch->bit));
        keel_msg_set_mr(r, 4, ch->pid[SIDE_CLIENT]);
        return 0;
    }
    return KEEL_INIT_E_NONE;
}

/* Side `side` leaves channel ch (it died, or closed): mark it gone in the region, unmap it, tell
 * the other side if that one is there to hear it, and free the entry once both have left. */
static void side_leaves(struct channel *ch, int side)
{
    int other = side == SIDE_CLIENT ? SIDE_SERVER : SIDE_CLIENT;
    keel_channel_region_mark_gone((void *)ch->va[SIDE_INIT],
                                  side == SIDE_CLIENT ? KEEL_CHANNEL_CLIENT : KEEL_CHANNEL_SERVER);
    chan_drop_side(ch, side);
    bool survivor = ch->alive[other] && (other == SIDE_CLIENT || ch->accepted);
    if (survivor)
        keel_signal(other == SIDE_SERVER ? ch->client_gone_sig : ch->server_gone_sig);
    else
        ch->alive[other] = false; /* a server that never accepted has nothing to leave */
    if (!ch->alive[SIDE_CLIENT] && !ch->alive[SIDE_SERVER])
        chan_free(ch);
}

int broker_close(struct proc *pr, const struct keel_msg *m)
{
    uint64_t va = keel_msg_get_mr(m, 0);
    for (unsigned i = 0; i < MAX_CHANNELS; i++) {
        struct channel *ch = &channels[i];
        if (!ch->used)
            continue;
        for (int side = SIDE_CLIENT; side <= SIDE_SERVER; side++)
            if (ch->alive[side] && ch->va[side] == va && side_proc(ch, side) == pr) {
                side_leaves(ch, side);
                return 0;
            }
    }
    return KEEL_INIT_E_NONE;
}

void broker_died(struct proc *pr, uint64_t pid)
{
    for (unsigned i = 0; i < MAX_CHANNELS; i++) {
        struct channel *ch = &channels[i];
        for (int side = SIDE_CLIENT; side <= SIDE_SERVER && ch->used; side++)
            if (ch->side[side] == pr && ch->pid[side] == pid && ch->alive[side])
                side_leaves(ch, side);
    }
}

void broker_service_started(const struct proc *srv)
{
    for (unsigned i = 0; i < nprocs; i++)
        if (&procs[i] != srv && procs[i].state == P_RUNNING && procs[i].client_news)
            keel_signal(procs[i].client_news);
}
