/* keeltest in init's place for the null driver (see test_channel.h): what servers/init does for a
 * manifest line "null serves=null" and a client's KEEL_INIT_OPEN, cut down to one driver and the
 * channels a test opens. No tests here. */
#include "test_channel.h"
#include <keel/initsvc.h>
#include <keel/vspace.h>

/* keeltest's channel `index` at CLIENT_VA + index GiB: each in a page directory of its own, made
 * for it and deleted with it (kt_chan_free), so no slot stays used. */
#define CLIENT_VA 0x0000005200000000ull
#define CLIENT_WINDOW (1ull << 30)
#define DRIVER_VA 0x0000500000000000ull /* the driver's k-th channel, where init would put it */
#define WINDOW 0x10000ull

static void release(uint64_t *slot)
{
    if (*slot) {
        keel_cspace_delete(*slot);
        keel_slot_free(*slot);
        *slot = 0;
    }
}

uint64_t kt_watermark(uint64_t ut)
{
    struct keel_untyped_desc desc;
    return keel_untyped_describe(ut, &desc) ? ~0ull : desc.watermark;
}

int kt_driver_init(struct kt_driver *d)
{
    *d = (struct kt_driver){ .nowned = 0 };
    int err;
    if ((err = kt_new(KEEL_OBJ_ENDPOINT, 0, &d->ep)) || (err = kt_new(KEEL_OBJ_REPLY, 0, &d->reply)))
        return err;
    return kt_untyped(KT_DRIVER_BYTES, &d->ut);
}

int kt_driver_recv(struct kt_driver *d, struct keel_msg *m)
{
    for (uint64_t start = kt_now(); kt_patient(start);) {
        int err = keel_nbrecv(d->ep, d->reply, m);
        if (err != KEEL_E_WOULD_BLOCK)
            return err;
        keel_yield(); /* the driver runs at our priority */
    }
    return KEEL_E_WOULD_BLOCK;
}

/* Paging structures for the driver's VSpace come from its own Untyped, as under init, so they go
 * with it; we keep our slots of them to free after its death. */
static int driver_object(void *ctx, uint64_t type, uint64_t size_param, uint64_t *cptr)
{
    struct kt_driver *d = ctx;
    if (d->nowned == KT_DRIVER_OWNED)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    int err = keel_slot_alloc(cptr);
    if (err)
        return err;
    if ((err = keel_untyped_retype(d->ut, type, size_param, 0, 0, *cptr, 1))) {
        keel_slot_free(*cptr);
        return err;
    }
    d->owned[d->nowned++] = *cptr;
    return 0;
}

int kt_driver_start(struct kt_driver *d)
{
    d->nowned = d->windows = 0;
    d->svc = d->news = 0;
    uint64_t init_cap = 0;
    int err;
    /* One notification for everything the driver waits for, made from its memory (it dies with
     * the driver, and with it every doorbell cap a client holds to it). */
    if ((err = keel_slot_alloc(&d->svc)) ||
        (err = keel_untyped_retype(d->ut, KEEL_OBJ_NOTIFICATION, 0, 0, 0, d->svc, 1)) ||
        (err = keel_slot_alloc(&d->news)) ||
        (err = keel_cspace_mint(d->news, d->svc, KEEL_RIGHT_WRITE, KEEL_INIT_NEWS)) ||
        (err = keel_slot_alloc(&init_cap)) ||
        (err = keel_cspace_mint(init_cap, d->ep, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, KT_DRIVER_PID))) {
        release(&init_cap);
        return err;
    }
    struct keel_process_cap caps[] = {
        { .cptr = init_cap, .flags = KEEL_PROCESS_CAP_MOVE, .name = "init" },
        { .cptr = d->svc, .name = "service" },
    };
    static const char *const argv[] = { "null" };
    struct keel_process_config cfg = {
        .module = keel_bootinfo_module(kt_bi, "null"),
        .untyped = d->ut,
        .asid_pool = KEEL_SLOT_ASID_POOL,
        .fault_ep = d->ep,
        .pid = KT_DRIVER_PID,
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
        .argc = 1,
        .argv = argv,
        .cap_count = 2,
        .caps = caps,
    };
    err = keel_process_spawn(&cfg, &d->p);
    if (err)
        keel_printf("# null driver: spawn failed at %s: %s\n", d->p.failed_step ? d->p.failed_step : "?",
                    keel_process_strerror(err));
    release(&init_cap); /* moved into the driver (or back here after a failure) */
    return err;
}

/* One KEEL_INIT_ACCEPT from the driver, answered with channel c (NULL: KEEL_INIT_E_NONE). */
static int answer_accept(struct kt_driver *d, struct kt_chan *c)
{
    struct keel_msg m = keel_msg_make(0, 0);
    int err = kt_driver_recv(d, &m);
    if (err)
        return err;
    if (m.badge != KT_DRIVER_PID || keel_msg_label(m.info) != KEEL_INIT_ACCEPT) {
        keel_printf("# null driver: label %#llx badge %#llx MR0-2 %#llx %#llx %#llx instead of ACCEPT\n",
                    (unsigned long long)keel_msg_label(m.info), (unsigned long long)m.badge,
                    (unsigned long long)m.mr[0], (unsigned long long)m.mr[1], (unsigned long long)m.mr[2]);
        return KEEL_E_ILLEGAL_OPERATION;
    }
    uint64_t slot = m.mr[0];
    struct keel_msg r = keel_msg_make(0, 5);
    keel_msg_set_mr(&r, 0, KEEL_INIT_E_NONE);
    if (c) {
        /* Caps are placed, not transferred: the doorbell to the client goes straight into the
         * slot the driver named, in its CNode. */
        if (slot < KEEL_PROCESS_SLOT_FIRST_CAP || slot >= (1ull << KEEL_PROCESS_CNODE_RADIX) ||
            (err = keel_cnode_move(d->p.cnode, slot, KEEL_PROCESS_CNODE_RADIX, 0, c->to_client, KEEL_CSPACE_DEPTH)))
            return err ? err : KEEL_E_RANGE;
        keel_slot_free(c->to_client);
        c->to_client = 0;
        uint64_t va = DRIVER_VA + d->windows++ * WINDOW;
        struct keel_vspace_alloc alloc = { .object = driver_object, .ctx = d };
        for (unsigned k = 0; k < KT_CHAN_PAGES; k++) {
            if (d->nowned == KT_DRIVER_OWNED)
                return KEEL_E_NOT_ENOUGH_MEMORY;
            uint64_t *copy = &d->owned[d->nowned];
            if ((err = keel_slot_alloc(copy)))
                return err;
            d->nowned++;
            if ((err = keel_cspace_copy(*copy, c->frames[k], KEEL_RIGHTS_ALL)) ||
                (err = keel_vspace_map_frame(*copy, d->p.vspace, va + k * 4096, KEEL_MAP_READ | KEEL_MAP_WRITE,
                                             KEEL_CACHE_WB, &alloc)))
                return err;
        }
        keel_msg_set_mr(&r, 0, 0);
        keel_msg_set_mr(&r, 1, va);
        keel_msg_set_mr(&r, 2, KT_CHAN_BYTES);
        keel_msg_set_mr(&r, 3, 1ull << (KEEL_INIT_CHANNEL_FIRST_BIT + KT_CHAN_BIT));
        keel_msg_set_mr(&r, 4, 0); /* the client's pid: keeltest is not a process */
    }
    return keel_reply(d->reply, &r);
}

/* Paging structures for keeltest's own window of a channel, recorded to delete with it. */
static int client_table(void *ctx, uint64_t type, uint64_t size_param, uint64_t *cptr)
{
    struct kt_chan *c = ctx;
    if (c->ntables == KT_CHAN_TABLES)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    int err = kt_new(type, size_param, cptr);
    if (!err)
        c->tables[c->ntables++] = *cptr;
    return err;
}

int kt_chan_open(struct kt_driver *d, struct kt_chan *c, unsigned index, const struct keel_channel_config *cfg_in)
{
    *c = (struct kt_chan){ .region = (void *)(CLIENT_VA + index * CLIENT_WINDOW) };
    int err;
    struct keel_vspace_alloc alloc = { .object = client_table, .ctx = c };
    for (unsigned k = 0; k < KT_CHAN_PAGES; k++)
        if ((err = kt_new(KEEL_OBJ_FRAME_4K, 0, &c->frames[k])) ||
            (err = keel_vspace_map_frame(c->frames[k], KEEL_SLOT_VSPACE, (uint64_t)c->region + k * 4096,
                                         KEEL_MAP_READ | KEEL_MAP_WRITE, KEEL_CACHE_WB, &alloc)))
            return err;
    struct keel_channel_config cfg = *cfg_in;
    if (cfg.data_size == 0)
        cfg.data_size = ((uint32_t)KT_CHAN_BYTES -
                         (uint32_t)keel_channel_region_size(cfg.sq_entries, cfg.cq_entries, 0)) & ~63u;
    if (keel_channel_init(c->region, KT_CHAN_BYTES, &cfg))
        return KEEL_E_INVALID_ARGUMENT;
    if ((err = kt_new(KEEL_OBJ_NOTIFICATION, 0, &c->cn)) ||
        (err = kt_mint(c->cn, KEEL_RIGHT_WRITE, KEEL_INIT_CLIENT_DOORBELL, &c->to_client)) ||
        (err = kt_mint(c->cn, KEEL_RIGHT_WRITE, KEEL_INIT_CLIENT_GONE, &c->gone_sig)) ||
        (err = kt_mint(d->svc, KEEL_RIGHT_WRITE, 1ull << (KEEL_INIT_CHANNEL_FIRST_BIT + KT_CHAN_BIT), &c->doorbell)))
        return err;
    c->n = (struct keel_channel_notifications){ .signal_cap = c->doorbell, .wait_cap = c->cn,
                                                .gone_bits = KEEL_INIT_CLIENT_GONE };
    keel_channel_bind_notifications(&c->ops, &c->n);
    if (keel_channel_attach_client(&c->ch, c->region, KT_CHAN_BYTES, &c->ops, c->inflight, KT_CHAN_INFLIGHT))
        return KEEL_E_INVALID_ARGUMENT;
    /* "A channel was opened to you": the driver ACCEPTs until we say there is no more. */
    if ((err = keel_signal(d->news)) || (err = answer_accept(d, c)) || (err = answer_accept(d, 0)))
        return err;
    return 0;
}

int kt_driver_kill(struct kt_driver *d, struct kt_chan *c)
{
    int err = keel_process_destroy(&d->p);
    if (c) {
        keel_channel_region_mark_gone(c->region, KEEL_CHANNEL_SERVER);
        keel_signal(c->gone_sig);
    }
    /* The tables died with the driver's Untyped; the region copies we delete (which unmaps them). */
    for (unsigned i = 0; i < d->nowned; i++)
        release(&d->owned[i]);
    d->nowned = 0;
    release(&d->svc);
    release(&d->news);
    return err;
}

void kt_chan_free(struct kt_chan *c)
{
    release(&c->to_client);
    release(&c->gone_sig);
    release(&c->doorbell);
    release(&c->cn);
    for (unsigned k = 0; k < KT_CHAN_PAGES; k++)
        release(&c->frames[k]);
    for (unsigned i = c->ntables; i-- > 0;) /* the deepest first */
        release(&c->tables[i]);
    c->ntables = 0;
}
