/* Channels: the ring code (no kernel dependency) and the Keel notification binding.
 * Protocol, layout and memory ordering: docs/channels.md; API: <keel/channel.h>.
 *
 * Who writes what in shared memory (everything else is read-only after init):
 *   client: sq slots, sq_tail, cq_head, sq_head_event, cq_tail_event, the data area (requests)
 *   server: cq slots, cq_tail, sq_head, sq_tail_event, cq_head_event, the data area (results)
 * Each side keeps private copies of the indices it owns and never re-reads them from the region
 * (the peer could scribble on them); the peer's indices are re-read, validated, and cached. */
#include <keel/channel.h>
#include <keel/syscall.h>

_Static_assert(sizeof(struct keel_channel_desc) == 32, "descriptor is 32 bytes");
_Static_assert(sizeof(struct keel_channel_line) == KEEL_CHANNEL_CACHE_LINE, "one cache line");
_Static_assert(sizeof(struct keel_channel_header) == KEEL_CHANNEL_HEADER_SIZE, "header size");
_Static_assert(offsetof(struct keel_channel_header, state) == 0x040, "layout");
_Static_assert(offsetof(struct keel_channel_header, sq_tail) == 0x080, "layout");
_Static_assert(offsetof(struct keel_channel_header, sq_head) == 0x0C0, "layout");
_Static_assert(offsetof(struct keel_channel_header, cq_tail) == 0x100, "layout");
_Static_assert(offsetof(struct keel_channel_header, cq_head) == 0x140, "layout");
_Static_assert(offsetof(struct keel_channel_header, sq_tail_event) == 0x180, "layout");
_Static_assert(offsetof(struct keel_channel_header, sq_head_event) == 0x1C0, "layout");
_Static_assert(offsetof(struct keel_channel_header, cq_tail_event) == 0x200, "layout");
_Static_assert(offsetof(struct keel_channel_header, cq_head_event) == 0x240, "layout");
/* Two processes share these words: the atomics must be lock-free (hence address-free). */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

#define SLOT_BITS 16u
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define NO_SLOT 0xFFFFFFFFu

/* ---- Atomic accessors: every access to a shared index or event index goes through these ---- */
static inline uint32_t ld_acq(_Atomic uint32_t *p)
{
    return atomic_load_explicit(p, memory_order_acquire);
}
static inline uint32_t ld_rlx(_Atomic uint32_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}
static inline void st_rel(_Atomic uint32_t *p, uint32_t v)
{
    atomic_store_explicit(p, v, memory_order_release);
}
static inline void st_rlx(_Atomic uint32_t *p, uint32_t v)
{
    atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline void fence_sc(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Descriptors are copied out of shared memory field by field through a volatile pointer, once:
 * validation then looks at the private copy, so a peer changing the slot meanwhile cannot make
 * us use a value we did not check (no double fetch). */
static void desc_read(const struct keel_channel_desc *slot, struct keel_channel_desc *out)
{
    const volatile struct keel_channel_desc *s = slot;
    out->tag = s->tag;
    out->opcode = s->opcode;
    out->flags = s->flags;
    out->offset = s->offset;
    out->length = s->length;
    out->status = s->status;
    out->id = s->id;
}

static void desc_write(struct keel_channel_desc *slot, const struct keel_channel_desc *d)
{
    volatile struct keel_channel_desc *s = slot;
    s->tag = d->tag;
    s->opcode = d->opcode;
    s->flags = d->flags;
    s->offset = d->offset;
    s->length = d->length;
    s->status = d->status;
    s->id = d->id;
}

static bool buffer_ok(uint32_t data_size, uint32_t offset, uint32_t length)
{
    return (uint64_t)offset + length <= data_size;
}

const char *keel_channel_strerror(int err)
{
    switch (err) {
    case KEEL_CHANNEL_OK: return "OK";
    case KEEL_CHANNEL_AGAIN: return "AGAIN";
    case KEEL_CHANNEL_BUSY: return "BUSY";
    case KEEL_CHANNEL_PEER_GONE: return "PEER_GONE";
    case KEEL_CHANNEL_CLOSED: return "CLOSED";
    case KEEL_CHANNEL_EINVAL: return "EINVAL";
    case KEEL_CHANNEL_EBADREGION: return "EBADREGION";
    case KEEL_CHANNEL_EPROTO: return "EPROTO";
    default: return "UNKNOWN";
    }
}

/* ---- Layout ---- */
struct layout {
    uint32_t sq_offset, cq_offset, data_offset, total;
};

static bool entries_ok(uint32_t n)
{
    return n >= 1 && n <= KEEL_CHANNEL_MAX_ENTRIES && (n & (n - 1)) == 0;
}

static uint64_t align_line(uint64_t x)
{
    return (x + KEEL_CHANNEL_CACHE_LINE - 1) & ~(uint64_t)(KEEL_CHANNEL_CACHE_LINE - 1);
}

static bool compute_layout(uint32_t sq_entries, uint32_t cq_entries, uint32_t data_size, struct layout *l)
{
    if (!entries_ok(sq_entries) || !entries_ok(cq_entries))
        return false;
    uint64_t sq = KEEL_CHANNEL_HEADER_SIZE;
    uint64_t cq = align_line(sq + (uint64_t)sq_entries * sizeof(struct keel_channel_desc));
    uint64_t data = align_line(cq + (uint64_t)cq_entries * sizeof(struct keel_channel_desc));
    uint64_t total = data + data_size;
    if (total > KEEL_CHANNEL_MAX_REGION)
        return false;
    *l = (struct layout){ (uint32_t)sq, (uint32_t)cq, (uint32_t)data, (uint32_t)total };
    return true;
}

size_t keel_channel_region_size(uint32_t sq_entries, uint32_t cq_entries, uint32_t data_size)
{
    struct layout l;
    return compute_layout(sq_entries, cq_entries, data_size, &l) ? l.total : 0;
}

int keel_channel_init(void *region, size_t size, const struct keel_channel_config *cfg)
{
    struct layout l;
    if (!region || !cfg || ((uintptr_t)region & (KEEL_CHANNEL_CACHE_LINE - 1)))
        return KEEL_CHANNEL_EINVAL;
    if (!compute_layout(cfg->sq_entries, cfg->cq_entries, cfg->data_size, &l) || size < l.total)
        return KEEL_CHANNEL_EINVAL;
    struct keel_channel_header *h = region;
    /* Hide a previous channel first, then clear header and rings (not the data area). */
    __atomic_store_n(&h->magic, 0, __ATOMIC_RELAXED);
    volatile uint8_t *p = region;
    for (uint32_t i = sizeof(h->magic); i < l.data_offset; i++)
        p[i] = 0;
    h->version = KEEL_CHANNEL_VERSION;
    h->desc_size = sizeof(struct keel_channel_desc);
    h->sq_entries = cfg->sq_entries;
    h->cq_entries = cfg->cq_entries;
    h->sq_offset = l.sq_offset;
    h->cq_offset = l.cq_offset;
    h->data_offset = l.data_offset;
    h->data_size = cfg->data_size;
    h->region_size = l.total;
    uint32_t first = cfg->first_index;
    st_rlx(&h->sq_tail.v, first);
    st_rlx(&h->sq_head.v, first);
    st_rlx(&h->cq_tail.v, first);
    st_rlx(&h->cq_head.v, first);
    /* An event index equal to the current index is "not armed": the next move, (first, first+k],
     * does not contain it. */
    st_rlx(&h->sq_tail_event.v, first);
    st_rlx(&h->sq_head_event.v, first);
    st_rlx(&h->cq_tail_event.v, first);
    st_rlx(&h->cq_head_event.v, first);
    st_rlx(&h->state.v, KEEL_CHANNEL_STATE_OPEN);
    /* Magic last, with release: whoever sees it (acquire) sees a complete header. */
    __atomic_store_n(&h->magic, KEEL_CHANNEL_MAGIC, __ATOMIC_RELEASE);
    return 0;
}

/* Reads the geometry once and checks it against itself and the mapping; fills the handle. */
static int attach_common(struct keel_channel *ch, void *region, size_t size,
                         const struct keel_channel_ops *ops, enum keel_channel_side side)
{
    if (!ch || !region || !ops || !ops->ring || !ops->wait ||
        ((uintptr_t)region & (KEEL_CHANNEL_CACHE_LINE - 1)))
        return KEEL_CHANNEL_EINVAL;
    *ch = (struct keel_channel){ 0 };
    if (size < KEEL_CHANNEL_HEADER_SIZE)
        return KEEL_CHANNEL_EBADREGION;
    struct keel_channel_header *h = region;
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != KEEL_CHANNEL_MAGIC)
        return KEEL_CHANNEL_EBADREGION;
    const volatile struct keel_channel_header *vh = h;
    uint32_t version = vh->version, desc_size = vh->desc_size;
    uint32_t sq_entries = vh->sq_entries, cq_entries = vh->cq_entries;
    uint64_t sq_off = vh->sq_offset, cq_off = vh->cq_offset, data_off = vh->data_offset;
    uint64_t data_size = vh->data_size, region_size = vh->region_size;
    if (version != KEEL_CHANNEL_VERSION || desc_size != sizeof(struct keel_channel_desc) ||
        !entries_ok(sq_entries) || !entries_ok(cq_entries) || region_size > size ||
        region_size > KEEL_CHANNEL_MAX_REGION)
        return KEEL_CHANNEL_EBADREGION;
    /* Three areas: after the header, inside region_size, line-aligned rings, pairwise disjoint. */
    uint64_t start[3] = { sq_off, cq_off, data_off };
    uint64_t end[3] = { sq_off + (uint64_t)sq_entries * sizeof(struct keel_channel_desc),
                        cq_off + (uint64_t)cq_entries * sizeof(struct keel_channel_desc),
                        data_off + data_size };
    if ((sq_off | cq_off) & (KEEL_CHANNEL_CACHE_LINE - 1))
        return KEEL_CHANNEL_EBADREGION;
    for (int i = 0; i < 3; i++) {
        if (start[i] < KEEL_CHANNEL_HEADER_SIZE || end[i] > region_size)
            return KEEL_CHANNEL_EBADREGION;
        for (int j = 0; j < i; j++)
            if (start[i] < end[j] && start[j] < end[i] && start[i] != end[i] && start[j] != end[j])
                return KEEL_CHANNEL_EBADREGION;
    }
    uint32_t state = ld_acq(&h->state.v);
    if (state == KEEL_CHANNEL_STATE_CLIENT_GONE || state == KEEL_CHANNEL_STATE_SERVER_GONE ||
        state == KEEL_CHANNEL_STATE_CLOSED)
        return KEEL_CHANNEL_PEER_GONE;
    if (state != KEEL_CHANNEL_STATE_OPEN)
        return KEEL_CHANNEL_EBADREGION;

    uint8_t *base = region;
    ch->hdr = h;
    ch->sq = (struct keel_channel_desc *)(base + sq_off);
    ch->cq = (struct keel_channel_desc *)(base + cq_off);
    ch->data = base + data_off;
    ch->sq_entries = sq_entries;
    ch->cq_entries = cq_entries;
    ch->data_size = (uint32_t)data_size;
    ch->side = side;
    ch->ops = *ops;
    return 0;
}

int keel_channel_attach_client(struct keel_channel *ch, void *region, size_t size,
                               const struct keel_channel_ops *ops,
                               struct keel_channel_inflight *inflight, uint32_t n)
{
    if (!inflight || n == 0)
        return KEEL_CHANNEL_EINVAL;
    int rc = attach_common(ch, region, size, ops, KEEL_CHANNEL_CLIENT);
    if (rc)
        return rc;
    struct keel_channel_header *h = ch->hdr;
    uint32_t sq_tail = ld_acq(&h->sq_tail.v), sq_head = ld_acq(&h->sq_head.v);
    uint32_t cq_tail = ld_acq(&h->cq_tail.v), cq_head = ld_acq(&h->cq_head.v);
    /* The in-flight table starts empty, so nothing may be queued yet. */
    if (sq_tail != sq_head || cq_tail != cq_head) {
        *ch = (struct keel_channel){ 0 };
        return KEEL_CHANNEL_EBADREGION;
    }
    ch->sq_idx = ch->sq_peer = sq_tail;
    ch->cq_idx = ch->cq_peer = cq_head;
    ch->inflight = inflight;
    ch->inflight_max = min_u32(n, ch->cq_entries);
    for (uint32_t i = 0; i < ch->inflight_max; i++)
        inflight[i] = (struct keel_channel_inflight){ .next = i + 1 < ch->inflight_max ? i + 1 : NO_SLOT };
    ch->free_head = 0;
    return 0;
}

int keel_channel_attach_server(struct keel_channel *ch, void *region, size_t size,
                               const struct keel_channel_ops *ops)
{
    int rc = attach_common(ch, region, size, ops, KEEL_CHANNEL_SERVER);
    if (rc)
        return rc;
    struct keel_channel_header *h = ch->hdr;
    uint32_t sq_tail = ld_acq(&h->sq_tail.v), sq_head = ld_acq(&h->sq_head.v);
    uint32_t cq_tail = ld_acq(&h->cq_tail.v), cq_head = ld_acq(&h->cq_head.v);
    if ((uint32_t)(sq_tail - sq_head) > ch->sq_entries || cq_tail != cq_head) {
        *ch = (struct keel_channel){ 0 };
        return KEEL_CHANNEL_EBADREGION;
    }
    ch->sq_idx = sq_head;
    ch->sq_peer = sq_tail;
    ch->cq_idx = ch->cq_peer = cq_tail;
    return 0;
}

/* ---- State ---- */
static uint32_t gone_state(enum keel_channel_side side)
{
    return side == KEEL_CHANNEL_CLIENT ? KEEL_CHANNEL_STATE_CLIENT_GONE : KEEL_CHANNEL_STATE_SERVER_GONE;
}

/* 0 if the channel is usable by this side; PEER_GONE / CLOSED (sticky) otherwise. Any state
 * value other than OPEN that does not name this side counts as the peer gone: fail safe. */
static int check_open(struct keel_channel *ch)
{
    if (ch->closed)
        return KEEL_CHANNEL_CLOSED;
    if (ch->peer_gone)
        return KEEL_CHANNEL_PEER_GONE;
    uint32_t s = ld_acq(&ch->hdr->state.v);
    if (s == KEEL_CHANNEL_STATE_OPEN)
        return 0;
    if (s == gone_state(ch->side)) {
        ch->closed = true; /* the supervisor declared us gone */
        return KEEL_CHANNEL_CLOSED;
    }
    ch->peer_gone = true;
    return KEEL_CHANNEL_PEER_GONE;
}

static int check_side(struct keel_channel *ch, enum keel_channel_side side)
{
    if (!ch || !ch->hdr || ch->side != side)
        return KEEL_CHANNEL_EINVAL;
    return check_open(ch);
}

/* Moves the state word to "`side` gone" (or CLOSED when the other side is gone already). */
static void state_mark_gone(struct keel_channel_header *h, enum keel_channel_side side)
{
    uint32_t mine = gone_state(side);
    uint32_t s = atomic_load_explicit(&h->state.v, memory_order_relaxed);
    for (;;) {
        uint32_t next;
        if (s == KEEL_CHANNEL_STATE_OPEN)
            next = mine;
        else if (s == mine)
            return;
        else
            next = KEEL_CHANNEL_STATE_CLOSED;
        if (s == next)
            return;
        if (atomic_compare_exchange_weak_explicit(&h->state.v, &s, next, memory_order_seq_cst,
                                                  memory_order_relaxed))
            return;
    }
}

int keel_channel_status(struct keel_channel *ch)
{
    if (!ch || !ch->hdr)
        return KEEL_CHANNEL_EINVAL;
    return check_open(ch);
}

int keel_channel_close(struct keel_channel *ch)
{
    if (!ch || !ch->hdr)
        return KEEL_CHANNEL_EINVAL;
    if (ch->closed)
        return 0;
    ch->closed = true;
    state_mark_gone(ch->hdr, ch->side);
    /* Unconditional doorbell: the peer may be asleep in any of its waits. Its wait loop re-reads
     * the state word after waking. A failure here just means the peer is gone already. */
    ch->stats.doorbells_sent++;
    (void)ch->ops.ring(ch->ops.ctx);
    return 0;
}

void keel_channel_mark_peer_gone(struct keel_channel *ch)
{
    if (!ch || !ch->hdr)
        return;
    ch->peer_gone = true;
    state_mark_gone(ch->hdr, ch->side == KEEL_CHANNEL_CLIENT ? KEEL_CHANNEL_SERVER : KEEL_CHANNEL_CLIENT);
}

int keel_channel_region_mark_gone(void *region, enum keel_channel_side side)
{
    struct keel_channel_header *h = region;
    if (!h || ((uintptr_t)region & (KEEL_CHANNEL_CACHE_LINE - 1)) ||
        __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != KEEL_CHANNEL_MAGIC ||
        (side != KEEL_CHANNEL_CLIENT && side != KEEL_CHANNEL_SERVER))
        return KEEL_CHANNEL_EBADREGION;
    state_mark_gone(h, side);
    return 0;
}

/* ---- Doorbells and sleeping ---- */
static void ring_peer(struct keel_channel *ch)
{
    ch->stats.doorbells_sent++;
    int rc = ch->ops.ring(ch->ops.ctx);
    if (rc) {
        /* The doorbell cannot reach the peer (on Keel: its notification cap was revoked because
         * it died). What was published stays published; the next call reports PEER_GONE and
         * keel_channel_fail_inflight() hands the requests back. */
        ch->ops_error = rc;
        ch->peer_gone = true;
    }
}

/* Called right after this side moved one of its indices from `old` to `now` with a release
 * store; `event` is the peer's "ring me when this index reaches N" word.
 *
 * Why the seq_cst fence: the publisher does   store index; load peer's event index
 * and a side going to sleep does               store my event index; load the index
 * (see wait_armed()). This is the store-buffer (Dekker) pattern: with only acquire/release, both
 * loads may return the old values (on x86 the stores can still sit in the store buffers), so the
 * publisher sees "not armed" and skips the doorbell while the sleeper sees "no new work" and
 * sleeps: a lost wakeup, the sleeper never wakes although work is pending. A seq_cst fence
 * between the store and the load on BOTH sides (C11 7.17.4: of two seq_cst fences one precedes
 * the other in the total order S, so the load after the later fence sees the store before the
 * earlier one) guarantees that at least one side sees the other's store: either we see the armed
 * event index and ring, or the sleeper sees our new index and does not sleep. On x86 it is one
 * MFENCE per publish (per batch), not a syscall. test_channel_model.c checks this exhaustively
 * under x86-TSO, and that removing either fence loses a wakeup. */
static void publish_doorbell(struct keel_channel *ch, _Atomic uint32_t *event, uint32_t now, uint32_t old)
{
    fence_sc();
    uint32_t ev = ld_rlx(event);
    if (keel_channel_need_event(ev, now, old))
        ring_peer(ch);
    else
        ch->stats.doorbells_suppressed++;
}

/* The sleeping side: arm `event` with `value` ("ring me when your index reaches value"), then
 * re-read `index`: returns true if it differs from `seen` (progress happened: do not sleep). The
 * fence pairs with the one in publish_doorbell(); the re-check after arming closes the window
 * where the peer published before seeing our event index. */
static bool armed_progress(_Atomic uint32_t *event, uint32_t value, _Atomic uint32_t *index, uint32_t seen)
{
    st_rlx(event, value);
    fence_sc();
    return ld_acq(index) != seen;
}

/* Sleep until the doorbell rings. Wakes may be spurious (a doorbell meant for another condition,
 * or a stale one): callers loop and re-check. */
static int sleep_once(struct keel_channel *ch)
{
    ch->stats.waits++;
    int rc = ch->ops.wait(ch->ops.ctx);
    /* A "peer gone" wake is a hint; the state word is the truth (the supervisor marks the region
     * before it signals). A gone bit while the state still says OPEN is stale -- left in a
     * notification shared with, or reused from, an earlier channel -- so the wake is spurious. */
    if (rc == KEEL_CHANNEL_PEER_GONE && ld_acq(&ch->hdr->state.v) == KEEL_CHANNEL_STATE_OPEN)
        return 0;
    if (rc) {
        ch->ops_error = rc;
        ch->peer_gone = true;
        return KEEL_CHANNEL_PEER_GONE;
    }
    return 0;
}

/* ---- Client ---- */
/* Re-read the server's sq head: it may only move forward, and not past our tail. */
static int client_refresh_sq_head(struct keel_channel *ch)
{
    uint32_t h = ld_acq(&ch->hdr->sq_head.v); /* acquire: the server's reads of those slots are
                                                 done before we overwrite them */
    if ((uint32_t)(h - ch->sq_peer) > (uint32_t)(ch->sq_idx - ch->sq_peer))
        return KEEL_CHANNEL_EPROTO;
    ch->sq_peer = h;
    return 0;
}

/* Re-read the server's cq tail: it may only move forward, by at most cq_entries past our head. */
static int client_refresh_cq_tail(struct keel_channel *ch)
{
    uint32_t t = ld_acq(&ch->hdr->cq_tail.v); /* acquire: see the completions (and data) */
    uint32_t avail = t - ch->cq_idx, before = ch->cq_peer - ch->cq_idx;
    if (avail > ch->cq_entries || avail < before)
        return KEEL_CHANNEL_EPROTO;
    ch->cq_peer = t;
    return 0;
}

int keel_channel_submit_batch(struct keel_channel *ch, const struct keel_channel_desc *d, uint32_t n)
{
    int rc = check_side(ch, KEEL_CHANNEL_CLIENT);
    if (rc)
        return rc;
    if (n == 0)
        return 0;
    if (!d)
        return KEEL_CHANNEL_EINVAL;
    if (ch->inflight_count == ch->inflight_max)
        return KEEL_CHANNEL_BUSY;
    uint32_t space = ch->sq_entries - (ch->sq_idx - ch->sq_peer);
    if (space < n) {
        rc = client_refresh_sq_head(ch);
        if (rc)
            return rc;
        space = ch->sq_entries - (ch->sq_idx - ch->sq_peer);
    }
    if (space == 0)
        return KEEL_CHANNEL_AGAIN;
    uint32_t k = min_u32(min_u32(n, space), ch->inflight_max - ch->inflight_count);
    for (uint32_t i = 0; i < k; i++) {
        if (!buffer_ok(ch->data_size, d[i].offset, d[i].length)) {
            if (i == 0)
                return KEEL_CHANNEL_EINVAL;
            k = i;
            break;
        }
    }
    uint32_t mask = ch->sq_entries - 1;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t slot = ch->free_head;
        struct keel_channel_inflight *e = &ch->inflight[slot];
        ch->free_head = e->next;
        e->tag = d[i].tag;
        e->opcode = d[i].opcode;
        e->flags = d[i].flags;
        e->offset = d[i].offset;
        e->length = d[i].length;
        e->gen++;
        e->busy = 1;
        e->next = NO_SLOT;
        struct keel_channel_desc w = d[i];
        w.status = 0;
        w.id = ((uint32_t)e->gen << SLOT_BITS) | slot;
        desc_write(&ch->sq[(ch->sq_idx + i) & mask], &w);
    }
    ch->inflight_count += k;
    uint32_t old = ch->sq_idx;
    ch->sq_idx += k;
    /* release: the descriptors and the request data written before are visible to a server that
     * reads this tail with acquire */
    st_rel(&ch->hdr->sq_tail.v, ch->sq_idx);
    ch->stats.requests += k;
    publish_doorbell(ch, &ch->hdr->sq_tail_event.v, ch->sq_idx, old);
    return (int)k;
}

int keel_channel_submit(struct keel_channel *ch, const struct keel_channel_desc *d)
{
    int rc = keel_channel_submit_batch(ch, d, 1);
    return rc == 1 ? 0 : rc;
}

/* Pushes all n descriptors with `push` (submit_batch or complete_batch), sleeping while the ring
 * is full. The ring's producer index is *idx (entries long); the consumer moves *head and looks
 * at *head_event to know whom to ring. A full ring (idx - head == entries) frees a slot when the
 * head reaches idx - entries + 1. Returns n, or what was pushed before an error, or the error. */
static int push_wait(struct keel_channel *ch, const struct keel_channel_desc *d, uint32_t n,
                     int (*push)(struct keel_channel *, const struct keel_channel_desc *, uint32_t),
                     const uint32_t *idx, uint32_t entries, _Atomic uint32_t *head_event, _Atomic uint32_t *head,
                     const uint32_t *peer)
{
    uint32_t total = 0;
    while (total < n) {
        int rc = push(ch, d + total, n - total);
        if (rc > 0) {
            total += (uint32_t)rc;
            continue;
        }
        if (rc != KEEL_CHANNEL_AGAIN)
            return total ? (int)total : rc;
        if (armed_progress(head_event, *idx - entries + 1, head, *peer))
            continue;
        rc = check_open(ch);
        if (!rc)
            rc = sleep_once(ch);
        if (rc)
            return total ? (int)total : rc;
    }
    return (int)total;
}

int keel_channel_submit_wait(struct keel_channel *ch, const struct keel_channel_desc *d, uint32_t n)
{
    return push_wait(ch, d, n, keel_channel_submit_batch, &ch->sq_idx, ch->sq_entries, &ch->hdr->sq_head_event.v,
                     &ch->hdr->sq_head.v, &ch->sq_peer);
}

static void inflight_free(struct keel_channel *ch, uint32_t slot)
{
    struct keel_channel_inflight *e = &ch->inflight[slot];
    e->busy = 0;
    e->next = ch->free_head;
    ch->free_head = slot;
    ch->inflight_count--;
}

/* Takes up to max published completions, whatever the state word says. Completions that match no
 * request in flight (bad id, stale generation, a repeat) are dropped and counted as rejected; a
 * matching one with a bad length is delivered with status EPROTO (never lost: that request is
 * then done). */
static int client_reap(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max)
{
    if (max == 0)
        return 0;
    if (!out)
        return KEEL_CHANNEL_EINVAL;
    uint32_t avail = ch->cq_peer - ch->cq_idx;
    if (avail < max) {
        int rc = client_refresh_cq_tail(ch);
        if (rc)
            return rc;
        avail = ch->cq_peer - ch->cq_idx;
    }
    if (avail == 0)
        return 0;
    uint32_t k = min_u32(avail, max), n = 0, mask = ch->cq_entries - 1;
    for (uint32_t i = 0; i < k; i++) {
        struct keel_channel_desc c;
        desc_read(&ch->cq[(ch->cq_idx + i) & mask], &c);
        uint32_t slot = c.id & SLOT_MASK;
        struct keel_channel_inflight *e = slot < ch->inflight_max ? &ch->inflight[slot] : NULL;
        if (!e || !e->busy || e->gen != (uint16_t)(c.id >> SLOT_BITS)) {
            ch->stats.rejected++;
            continue;
        }
        struct keel_channel_desc *o = &out[n++];
        o->tag = e->tag;
        o->opcode = e->opcode;
        o->offset = e->offset;
        o->flags = c.flags;
        o->id = c.id;
        if (c.length > e->length) {
            ch->stats.rejected++;
            o->length = 0;
            o->status = KEEL_CHANNEL_EPROTO;
        } else {
            o->length = c.length;
            o->status = c.status;
        }
        inflight_free(ch, slot);
    }
    uint32_t old = ch->cq_idx;
    ch->cq_idx += k;
    /* release: our reads of those slots (and of the result data) happen before the server
     * reuses them */
    st_rel(&ch->hdr->cq_head.v, ch->cq_idx);
    ch->stats.completions += n;
    publish_doorbell(ch, &ch->hdr->cq_head_event.v, ch->cq_idx, old);
    return (int)n;
}

int keel_channel_reap(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max)
{
    int rc = check_side(ch, KEEL_CHANNEL_CLIENT);
    if (rc)
        return rc;
    return client_reap(ch, out, max);
}

int keel_channel_reap_poll(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max,
                           uint32_t spins)
{
    for (uint32_t i = 0;; i++) {
        int rc = keel_channel_reap(ch, out, max);
        if (rc != 0 || i >= spins || max == 0)
            return rc;
        cpu_relax();
    }
}

int keel_channel_reap_wait_n(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max,
                             uint32_t min)
{
    int rc = check_side(ch, KEEL_CHANNEL_CLIENT);
    if (rc)
        return rc;
    for (;;) {
        /* Nothing in flight: nothing can arrive, so do not sleep forever. */
        uint32_t target = min_u32(min ? min : 1, ch->inflight_count);
        if (max == 0 || target == 0)
            return keel_channel_reap(ch, out, max);
        rc = client_refresh_cq_tail(ch);
        if (rc)
            return rc;
        if (ch->cq_peer - ch->cq_idx >= target) {
            rc = keel_channel_reap(ch, out, max);
            if (rc != 0)
                return rc;
            continue; /* all of them were malformed and dropped: wait again */
        }
        /* "ring me when cq_tail reaches head + target": one doorbell for `target` completions */
        if (armed_progress(&ch->hdr->cq_tail_event.v, ch->cq_idx + target, &ch->hdr->cq_tail.v, ch->cq_peer))
            continue;
        rc = check_open(ch);
        if (!rc)
            rc = sleep_once(ch);
        if (rc)
            return rc;
    }
}

int keel_channel_reap_wait(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max)
{
    return keel_channel_reap_wait_n(ch, out, max, 1);
}

int keel_channel_fail_inflight(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max)
{
    if (!ch || !ch->hdr || ch->side != KEEL_CHANNEL_CLIENT)
        return KEEL_CHANNEL_EINVAL;
    if (check_open(ch) == 0)
        return KEEL_CHANNEL_EINVAL;
    if (max == 0)
        return 0;
    if (!out)
        return KEEL_CHANNEL_EINVAL;
    uint32_t n = 0;
    if (ch->inflight_count && !ch->cq_drained) {
        /* What the server published before it went is a real result: deliver it. */
        int rc = client_reap(ch, out, max);
        if (rc < 0 || (uint32_t)rc < max)
            ch->cq_drained = true; /* empty now (or corrupt: ignore the rest) */
        if (rc > 0)
            n = (uint32_t)rc;
    }
    for (uint32_t s = 0; s < ch->inflight_max && n < max && ch->inflight_count; s++) {
        struct keel_channel_inflight *e = &ch->inflight[s];
        if (!e->busy)
            continue;
        out[n++] = (struct keel_channel_desc){
            .tag = e->tag, .opcode = e->opcode, .flags = e->flags, .offset = e->offset,
            .length = 0, .status = KEEL_CHANNEL_PEER_GONE,
            .id = ((uint32_t)e->gen << SLOT_BITS) | s,
        };
        inflight_free(ch, s);
        ch->stats.failed++;
    }
    return (int)n;
}

uint32_t keel_channel_inflight(const struct keel_channel *ch)
{
    return ch ? ch->inflight_count : 0;
}

/* ---- Server ---- */
/* Re-read the client's sq tail: forward only, at most sq_entries past our head. */
static int server_refresh_sq_tail(struct keel_channel *ch)
{
    uint32_t t = ld_acq(&ch->hdr->sq_tail.v); /* acquire: see the requests (and their data) */
    uint32_t avail = t - ch->sq_idx, before = ch->sq_peer - ch->sq_idx;
    if (avail > ch->sq_entries || avail < before)
        return KEEL_CHANNEL_EPROTO;
    ch->sq_peer = t;
    return 0;
}

/* Re-read the client's cq head: forward only, not past our tail. */
static int server_refresh_cq_head(struct keel_channel *ch)
{
    uint32_t h = ld_acq(&ch->hdr->cq_head.v); /* acquire: the client is done with those slots */
    if ((uint32_t)(h - ch->cq_peer) > (uint32_t)(ch->cq_idx - ch->cq_peer))
        return KEEL_CHANNEL_EPROTO;
    ch->cq_peer = h;
    return 0;
}

static int server_publish_cq(struct keel_channel *ch, uint32_t k)
{
    uint32_t old = ch->cq_idx;
    ch->cq_idx += k;
    /* release: completions and result data visible to a client reading the tail with acquire */
    st_rel(&ch->hdr->cq_tail.v, ch->cq_idx);
    ch->stats.completions += k;
    publish_doorbell(ch, &ch->hdr->cq_tail_event.v, ch->cq_idx, old);
    return 0;
}

int keel_channel_pop(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max)
{
    int rc = check_side(ch, KEEL_CHANNEL_SERVER);
    if (rc)
        return rc;
    if (max == 0)
        return 0;
    if (!out)
        return KEEL_CHANNEL_EINVAL;
    uint32_t avail = ch->sq_peer - ch->sq_idx;
    if (avail < max) {
        rc = server_refresh_sq_tail(ch);
        if (rc)
            return rc;
        avail = ch->sq_peer - ch->sq_idx;
    }
    uint32_t n = 0, used = 0, rejected = 0;
    uint32_t sq_mask = ch->sq_entries - 1, cq_mask = ch->cq_entries - 1;
    while (used < avail && n < max) {
        struct keel_channel_desc d;
        desc_read(&ch->sq[(ch->sq_idx + used) & sq_mask], &d);
        if (buffer_ok(ch->data_size, d.offset, d.length)) {
            d.status = 0;
            out[n++] = d;
            used++;
            continue;
        }
        /* A malformed request is completed at once with EINVAL so it is not lost. An honest
         * client keeps at most cq_entries requests in flight, so there is always room; no room
         * means the client broke that rule. */
        if (ch->cq_entries - (ch->cq_idx + rejected - ch->cq_peer) == 0) {
            rc = server_refresh_cq_head(ch);
            if (rc)
                return rc;
            if (ch->cq_entries - (ch->cq_idx + rejected - ch->cq_peer) == 0)
                break;
        }
        struct keel_channel_desc c = { .tag = d.tag, .opcode = d.opcode, .status = KEEL_CHANNEL_EINVAL, .id = d.id };
        desc_write(&ch->cq[(ch->cq_idx + rejected) & cq_mask], &c);
        rejected++;
        used++;
    }
    if (used == 0)
        return avail ? KEEL_CHANNEL_EPROTO : 0;
    uint32_t old = ch->sq_idx;
    ch->sq_idx += used;
    /* release: our reads of the slots are done before the client overwrites them */
    st_rel(&ch->hdr->sq_head.v, ch->sq_idx);
    publish_doorbell(ch, &ch->hdr->sq_head_event.v, ch->sq_idx, old);
    if (rejected) {
        ch->stats.rejected += rejected;
        server_publish_cq(ch, rejected);
    }
    ch->outstanding += n;
    ch->stats.requests += n;
    return (int)n;
}

int keel_channel_pop_poll(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max,
                          uint32_t spins)
{
    for (uint32_t i = 0;; i++) {
        int rc = keel_channel_pop(ch, out, max);
        if (rc != 0 || i >= spins || max == 0)
            return rc;
        cpu_relax();
    }
}

int keel_channel_pop_wait(struct keel_channel *ch, struct keel_channel_desc *out, uint32_t max)
{
    for (;;) {
        int rc = keel_channel_pop(ch, out, max);
        if (rc != 0 || max == 0)
            return rc;
        if (armed_progress(&ch->hdr->sq_tail_event.v, ch->sq_idx + 1, &ch->hdr->sq_tail.v, ch->sq_idx))
            continue;
        rc = check_open(ch);
        if (!rc)
            rc = sleep_once(ch);
        if (rc)
            return rc;
    }
}

int keel_channel_complete_batch(struct keel_channel *ch, const struct keel_channel_desc *c, uint32_t n)
{
    int rc = check_side(ch, KEEL_CHANNEL_SERVER);
    if (rc)
        return rc;
    if (n == 0)
        return 0;
    if (!c || ch->outstanding == 0)
        return KEEL_CHANNEL_EINVAL;
    uint32_t space = ch->cq_entries - (ch->cq_idx - ch->cq_peer);
    if (space < n) {
        rc = server_refresh_cq_head(ch);
        if (rc)
            return rc;
        space = ch->cq_entries - (ch->cq_idx - ch->cq_peer);
    }
    if (space == 0)
        return KEEL_CHANNEL_AGAIN;
    uint32_t k = min_u32(min_u32(n, space), ch->outstanding);
    for (uint32_t i = 0; i < k; i++) {
        if (!buffer_ok(ch->data_size, c[i].offset, c[i].length)) {
            if (i == 0)
                return KEEL_CHANNEL_EINVAL;
            k = i;
            break;
        }
    }
    uint32_t mask = ch->cq_entries - 1;
    for (uint32_t i = 0; i < k; i++)
        desc_write(&ch->cq[(ch->cq_idx + i) & mask], &c[i]);
    ch->outstanding -= k;
    server_publish_cq(ch, k);
    return (int)k;
}

int keel_channel_complete(struct keel_channel *ch, const struct keel_channel_desc *c)
{
    int rc = keel_channel_complete_batch(ch, c, 1);
    return rc == 1 ? 0 : rc;
}

int keel_channel_complete_wait(struct keel_channel *ch, const struct keel_channel_desc *c, uint32_t n)
{
    return push_wait(ch, c, n, keel_channel_complete_batch, &ch->cq_idx, ch->cq_entries, &ch->hdr->cq_head_event.v,
                     &ch->hdr->cq_head.v, &ch->cq_peer);
}

/* ---- Both sides ---- */
int keel_channel_arm(struct keel_channel *ch)
{
    if (!ch || !ch->hdr)
        return KEEL_CHANNEL_EINVAL;
    int rc = check_open(ch);
    if (rc)
        return rc;
    struct keel_channel_header *h = ch->hdr;
    if (ch->side == KEEL_CHANNEL_SERVER) {
        if (ch->sq_peer != ch->sq_idx)
            return 1; /* popped-but-cached work */
        return armed_progress(&h->sq_tail_event.v, ch->sq_idx + 1, &h->sq_tail.v, ch->sq_idx) ? 1 : 0;
    }
    if (ch->cq_peer != ch->cq_idx)
        return 1;
    return armed_progress(&h->cq_tail_event.v, ch->cq_idx + 1, &h->cq_tail.v, ch->cq_idx) ? 1 : 0;
}

void *keel_channel_data(const struct keel_channel *ch, uint32_t offset, uint32_t length)
{
    if (!ch || !ch->hdr || !buffer_ok(ch->data_size, offset, length))
        return NULL;
    return ch->data + offset;
}

const struct keel_channel_stats *keel_channel_get_stats(const struct keel_channel *ch)
{
    return &ch->stats;
}

/* ---- Fixed-slot data allocator ---- */
int keel_channel_slots_init(struct keel_channel_slots *s, const struct keel_channel *ch, uint32_t slot_size)
{
    if (!s || !ch || !ch->hdr || slot_size == 0 || ch->data_size / slot_size == 0)
        return KEEL_CHANNEL_EINVAL;
    *s = (struct keel_channel_slots){ .slot_size = slot_size,
                                      .count = min_u32(ch->data_size / slot_size, KEEL_CHANNEL_SLOTS_MAX) };
    return 0;
}

int keel_channel_slots_alloc(struct keel_channel_slots *s, uint32_t *offset)
{
    if (!s || !offset)
        return KEEL_CHANNEL_EINVAL;
    for (uint32_t w = 0; w * 64 < s->count; w++) {
        uint64_t valid = s->count - w * 64 >= 64 ? ~0ull : (1ull << (s->count - w * 64)) - 1;
        uint64_t free = ~s->map[w] & valid;
        if (free) {
            uint32_t bit = (uint32_t)__builtin_ctzll(free);
            s->map[w] |= 1ull << bit;
            s->used++;
            *offset = (w * 64 + bit) * s->slot_size;
            return 0;
        }
    }
    return KEEL_CHANNEL_AGAIN;
}

int keel_channel_slots_free(struct keel_channel_slots *s, uint32_t offset)
{
    if (!s || s->slot_size == 0 || offset % s->slot_size)
        return KEEL_CHANNEL_EINVAL;
    uint32_t i = offset / s->slot_size;
    if (i >= s->count || !(s->map[i / 64] & (1ull << (i % 64))))
        return KEEL_CHANNEL_EINVAL;
    s->map[i / 64] &= ~(1ull << (i % 64));
    s->used--;
    return 0;
}

/* ---- Keel binding ---- */
static int ntfn_ring(void *ctx)
{
    struct keel_channel_notifications *n = ctx;
    return keel_signal(n->signal_cap);
}

static int ntfn_wait(void *ctx)
{
    struct keel_channel_notifications *n = ctx;
    uint64_t word = 0;
    int err = keel_wait(n->wait_cap, &word);
    if (err)
        return err;
    n->last_word = word;
    return (word & n->gone_bits) ? KEEL_CHANNEL_PEER_GONE : 0;
}

void keel_channel_bind_notifications(struct keel_channel_ops *ops, struct keel_channel_notifications *n)
{
    ops->ring = ntfn_ring;
    ops->wait = ntfn_wait;
    ops->ctx = n;
}
