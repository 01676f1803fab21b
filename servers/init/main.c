/* init: the root task of the default image, and the system builder. It reads the boot manifest (a
 * text module, servers/init/README.md), starts each listed program from its boot module as a
 * process of its own (keel/process.h) with exactly the caps the manifest names (I/O port ranges
 * bound to its VSpace, IRQ handlers with a notification), and supervises them: every fault and
 * exit arrives on one endpoint, badged with the process id, and the restart policy decides what
 * happens next. One line is printed per start, exit, crash and restart, and the process table at
 * the end of start-up and whenever a process stops for good. */
#include "manifest.h"
#include <keel/alloc.h>
#include <keel/bootinfo.h>
#include <keel/channel.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define DEFAULT_MANIFEST "manifest.txt"
#define MANIFEST_VA 0x0000600000000000ull /* where init maps the manifest module to read it */
#define MANIFEST_MAX_BYTES (16u * 1024)
#define MAX_CAPS (MANIFEST_MAX_IOPORTS + 2 * MANIFEST_MAX_IRQS + 3) /* + init, service, debug */
#define MAX_OWNED 48                                  /* init slots of objects made from a process's memory */

enum proc_state { P_NEW, P_RUNNING, P_EXITED, P_CRASHED, P_FAILED };
static const char *const state_names[] = { "new", "running", "exited", "crashed", "failed" };

struct proc {
    const struct manifest_entry *e;
    const struct keel_module_info *module;
    enum proc_state state;
    uint64_t untyped;       /* init's slot of the Untyped the process is made from */
    struct keel_process p;
    unsigned restarts;
    char caps[MAX_CAPS * 24]; /* what it was given, for the table */
    char note[96];          /* its last event */
    /* channel broker state, reset at each start */
    uint64_t svc_ntfn;      /* serves=: init's cap to its service notification (from its memory) */
    uint64_t svc_news;      /* the same, badged KEEL_INIT_NEWS, for init to signal */
    uint32_t chan_bits;     /* serves=: channel bits in use */
    unsigned next_chan;     /* next channel window in its address space */
    uint64_t owned[MAX_OWNED]; /* init slots (tables, notifications) that die with its memory */
    unsigned nowned;
};

/* A channel brokered by init (servers/init/README.md, "Channel broker"). */
#define MAX_CHANNELS 32
#define CHAN_PAGES KEEL_INIT_CHANNEL_PAGES
#define CHAN_BYTES (CHAN_PAGES * 4096ull)
#define CHILD_CHAN_VA 0x0000500000000000ull /* a process's k-th channel at + k * CHAN_STRIDE */
#define INIT_CHAN_VA 0x0000610000000000ull  /* init's view of channel i at + i * CHAN_STRIDE */
#define CHAN_STRIDE 0x10000ull
enum { SIDE_INIT, SIDE_CLIENT, SIDE_SERVER };
struct channel {
    bool used, accepted;
    struct proc *side[3];      /* [SIDE_CLIENT], [SIDE_SERVER] */
    uint64_t pid[3];
    bool alive[3];
    unsigned bit;              /* bit in the server's service notification */
    uint64_t frames[CHAN_PAGES];
    uint64_t maps[3][CHAN_PAGES]; /* the copies mapped into init, the client, the server */
    uint64_t va[3];
    uint64_t to_client;        /* client's notification badged DOORBELL: moved to the server at accept */
    uint64_t client_gone_sig;  /* server's notification badged with the channel bit (init's copy) */
    uint64_t server_gone_sig;  /* client's notification badged GONE (init's copy) */
};
static struct channel channels[MAX_CHANNELS];

static const struct keel_bootinfo *bi;
static struct manifest manifest;
static char manifest_text[MANIFEST_MAX_BYTES + 1];
static struct proc procs[MANIFEST_MAX_ENTRIES];
static unsigned nprocs;
static uint64_t sup_ep, sup_reply;
static uint64_t next_pid;

/* ---- Reading the manifest module ---- */

static void own(struct proc *pr, uint64_t slot)
{
    if (pr->nowned < MAX_OWNED)
        pr->owned[pr->nowned++] = slot;
}

/* Map `frame` at `va` of `vspace`, making the paging structures on the way: from init's memory
 * for init's own VSpace (pr == 0), else from the process's Untyped (they die with it). */
static int map_frame(uint64_t frame, uint64_t vspace, uint64_t va, uint64_t access, struct proc *pr)
{
    for (int tries = 0; tries < 4; tries++) {
        int err = keel_frame_map(frame, vspace, va, access, KEEL_CACHE_WB);
        if (err != KEEL_E_MISSING_TABLE)
            return err;
        uint64_t table, type = keel_last_error_detail(0);
        if (!pr)
            err = keel_alloc_object(type, 0, &table);
        else if (!(err = keel_slot_alloc(&table))) {
            err = keel_untyped_retype(pr->untyped, type, 0, 0, 0, table, 1);
            if (err)
                keel_slot_free(table);
            else
                own(pr, table);
        }
        if (err || (err = keel_paging_map(table, vspace, va)))
            return err;
    }
    return KEEL_E_MISSING_TABLE;
}

static int map_with_tables(uint64_t frame, uint64_t va)
{
    return map_frame(frame, KEEL_SLOT_VSPACE, va, KEEL_MAP_READ, 0);
}

/* Copy the module's text into manifest_text (through read-only copies of its frame caps). */
static int read_module(const struct keel_module_info *mod, uint64_t *size)
{
    *size = mod->size < MANIFEST_MAX_BYTES ? mod->size : MANIFEST_MAX_BYTES;
    uint64_t pages = (*size + 4095) / 4096;
    int err = 0;
    for (uint64_t i = 0; i < pages && !err; i++) {
        uint64_t copy;
        if ((err = keel_slot_alloc(&copy)))
            break;
        err = keel_cspace_copy(copy, mod->first_frame_slot + i, KEEL_RIGHT_READ);
        if (!err)
            err = map_with_tables(copy, MANIFEST_VA + i * 4096);
        if (!err) {
            uint64_t n = *size - i * 4096 < 4096 ? *size - i * 4096 : 4096;
            memcpy(manifest_text + i * 4096, (const void *)(MANIFEST_VA + i * 4096), n);
        }
        keel_free_object(copy); /* deleting the copy unmaps it */
    }
    manifest_text[*size] = 0;
    return err;
}

static const char *manifest_name(char *buf, size_t size)
{
    const char *key = "init.manifest=";
    for (const char *p = bi->cmdline; (p = strchr(p, 'i')) != 0; p++) {
        if (strncmp(p, key, strlen(key)) != 0 || (p != bi->cmdline && p[-1] != ' '))
            continue;
        p += strlen(key);
        size_t n = 0;
        while (p[n] && p[n] != ' ' && n + 1 < size)
            n++;
        memcpy(buf, p, n);
        buf[n] = 0;
        return buf;
    }
    return DEFAULT_MANIFEST;
}

/* ---- Starting a process ---- */

static void note(struct proc *pr, const char *fmt, ...) KEEL_PRINTF(2, 3);
static void note(struct proc *pr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    keel_vsnprintf(pr->note, sizeof pr->note, fmt, ap);
    va_end(ap);
}

struct cap_set {
    struct keel_process_cap caps[MAX_CAPS];
    char names[MAX_CAPS][KEEL_PROCESS_CAP_NAME_MAX];
    unsigned count;
};

static int add_cap(struct cap_set *cs, uint64_t *slot, uint32_t flags, const char *fmt, unsigned v)
{
    int err = keel_slot_alloc(slot);
    if (err)
        return err;
    struct keel_process_cap *c = &cs->caps[cs->count];
    keel_snprintf(cs->names[cs->count], KEEL_PROCESS_CAP_NAME_MAX, fmt, v);
    *c = (struct keel_process_cap){ .cptr = *slot, .flags = flags, .name = cs->names[cs->count] };
    cs->count++;
    return 0;
}

/* The device caps of a manifest entry, made afresh for each start (the last ones died with the
 * process). Everything is moved into the child; what is left (after a failure) is deleted. */
static int make_caps(struct proc *pr, struct cap_set *cs, const char **what)
{
    const struct manifest_entry *e = pr->e;
    uint64_t slot;
    int err;
    for (unsigned i = 0; i < e->ioport_count; i++) {
        *what = "I/O port cap";
        if ((err = add_cap(cs, &slot, KEEL_PROCESS_CAP_MOVE | KEEL_PROCESS_CAP_BIND_IOPORT, "ioport%u", i)) ||
            (err = keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, e->ioports[i].first, e->ioports[i].last, slot)))
            return err;
    }
    *what = "init cap";
    if ((err = add_cap(cs, &slot, KEEL_PROCESS_CAP_MOVE, "init", 0)) ||
        (err = keel_cspace_mint(slot, sup_ep, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, pr->p.pid)))
        return err;
    if (e->debug_cap) {
        *what = "debug cap";
        if ((err = add_cap(cs, &slot, KEEL_PROCESS_CAP_MOVE, "debug", 0)) ||
            (err = keel_cspace_copy(slot, KEEL_SLOT_DEBUG, KEEL_RIGHTS_ALL)))
            return err;
    }
    if (e->serves[0]) {
        /* One notification for everything the server waits for: its IRQs (bit N), init's news
         * and the channels' doorbells. init keeps the original (it dies with the process). */
        *what = "service notification";
        if ((err = keel_slot_alloc(&pr->svc_ntfn)))
            return err;
        if ((err = keel_untyped_retype(pr->untyped, KEEL_OBJ_NOTIFICATION, 0, 0, 0, pr->svc_ntfn, 1))) {
            keel_slot_free(pr->svc_ntfn);
            pr->svc_ntfn = 0;
            return err;
        }
        own(pr, pr->svc_ntfn);
        if ((err = keel_slot_alloc(&pr->svc_news)))
            return err;
        own(pr, pr->svc_news);
        if ((err = keel_cspace_mint(pr->svc_news, pr->svc_ntfn, KEEL_RIGHT_WRITE, KEEL_INIT_NEWS)) ||
            (err = add_cap(cs, &slot, KEEL_PROCESS_CAP_MOVE, "service", 0)) ||
            (err = keel_cspace_copy(slot, pr->svc_ntfn, KEEL_RIGHTS_ALL)))
            return err;
    }
    for (unsigned i = 0; i < e->irq_count; i++) {
        uint64_t handler, ntfn, gsi;
        *what = "IRQ notification";
        if ((err = add_cap(cs, &ntfn, KEEL_PROCESS_CAP_MOVE, "irq%u-ntfn", e->irqs[i])))
            return err;
        if (e->serves[0]) /* the service notification, signalled with bit N */
            err = keel_cspace_mint(ntfn, pr->svc_ntfn, KEEL_RIGHTS_ALL, 1ull << e->irqs[i]);
        else
            err = keel_untyped_retype(pr->untyped, KEEL_OBJ_NOTIFICATION, 0, 0, 0, ntfn, 1);
        if (err)
            return err;
        *what = "IRQ handler";
        if ((err = add_cap(cs, &handler, KEEL_PROCESS_CAP_MOVE, "irq%u", e->irqs[i])) ||
            (err = keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, e->irqs[i], 0, handler, &gsi)) ||
            (err = keel_irq_handler_set_notification(handler, ntfn)))
            return err;
    }
    return 0;
}

static void describe_caps(struct proc *pr, const struct cap_set *cs)
{
    const struct manifest_entry *e = pr->e;
    size_t at = 0;
    pr->caps[0] = 0;
    for (unsigned i = 0; i < cs->count && at < sizeof pr->caps; i++) {
        const char *n = cs->names[i];
        if (strncmp(n, "ioport", 6) == 0) {
            unsigned k = (unsigned)(n[6] - '0');
            at += (size_t)keel_snprintf(pr->caps + at, sizeof pr->caps - at, "%s%s=%#x-%#x", at ? " " : "", n,
                                        e->ioports[k].first, e->ioports[k].last);
        } else {
            at += (size_t)keel_snprintf(pr->caps + at, sizeof pr->caps - at, "%s%s", at ? " " : "", n);
        }
    }
}

static void free_owned(struct proc *pr)
{
    for (unsigned i = 0; i < pr->nowned; i++)
        keel_free_object(pr->owned[i]);
    pr->nowned = 0;
    pr->svc_ntfn = pr->svc_news = 0;
    pr->chan_bits = 0;
    pr->next_chan = 0;
}

static bool start(struct proc *pr)
{
    const struct manifest_entry *e = pr->e;
    struct cap_set cs = { .count = 0 };
    free_owned(pr);
    pr->p.pid = ++next_pid;
    const char *what = "";
    int err = make_caps(pr, &cs, &what);
    if (!err) {
        struct keel_process_config cfg = {
            .name = e->name,
            .module = pr->module,
            .untyped = pr->untyped,
            .asid_pool = KEEL_SLOT_ASID_POOL,
            .fault_ep = sup_ep,
            .pid = pr->p.pid,
            .priority = e->priority,
            .stack_size = e->stack,
            .argc = e->argc,
            .argv = e->argv,
            .cap_count = cs.count,
            .caps = cs.caps,
        };
        err = keel_process_spawn(&cfg, &pr->p);
        what = pr->p.failed_step ? pr->p.failed_step : "spawn";
    }
    /* Moved into the child on success; after a failure whatever is left goes. */
    for (unsigned i = 0; i < cs.count; i++)
        keel_free_object(cs.caps[i].cptr);
    if (err) {
        keel_cspace_revoke(pr->untyped); /* the notifications made for it, if the spawn did not get that far */
        free_owned(pr);
        pr->state = P_FAILED;
        note(pr, "cannot start: %s: %s", what, keel_process_strerror(err));
        keel_printf("init: %s: cannot start (line %u): %s: %s\n", e->name, e->line, what, keel_process_strerror(err));
        return false;
    }
    describe_caps(pr, &cs);
    pr->state = P_RUNNING;
    note(pr, "started");
    keel_printf("init: started %s (pid %llu, program %s, %llu KiB, %u cap(s)%s%s)\n", e->name,
                (unsigned long long)pr->p.pid, e->program, (unsigned long long)(pr->p.bytes >> 10), cs.count,
                cs.count ? ": " : "", pr->caps);
    return true;
}


/* ---- Channel broker ---- */

static void drop(uint64_t *slot)
{
    if (*slot) {
        keel_cspace_delete(*slot);
        keel_slot_free(*slot);
        *slot = 0;
    }
}

static void chan_drop_side(struct channel *ch, int side)
{
    for (unsigned k = 0; k < CHAN_PAGES; k++)
        drop(&ch->maps[side][k]); /* deleting a mapped copy unmaps it */
    ch->alive[side] = false;
}

static void chan_free(struct channel *ch)
{
    for (int s = SIDE_INIT; s <= SIDE_SERVER; s++)
        chan_drop_side(ch, s);
    for (unsigned k = 0; k < CHAN_PAGES; k++)
        drop(&ch->frames[k]); /* the memory stays with init's allocator (not reused) */
    drop(&ch->to_client);
    drop(&ch->client_gone_sig);
    drop(&ch->server_gone_sig);
    struct proc *srv = ch->side[SIDE_SERVER];
    if (srv && ch->alive[SIDE_SERVER] == false && srv->p.pid == ch->pid[SIDE_SERVER])
        srv->chan_bits &= ~(1u << ch->bit);
    *ch = (struct channel){ .used = false };
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

static bool child_slot_ok(uint64_t slot)
{
    return slot >= KEEL_PROCESS_SLOT_FIRST_CAP && slot < (1ull << KEEL_PROCESS_CNODE_RADIX);
}

static int broker_open(struct proc *cl, const struct keel_msg *m, struct keel_msg *r)
{
    char name[32];
    keel_init_unpack_name(m, 0, name);
    uint64_t wslot = keel_msg_get_mr(m, 4), sslot = keel_msg_get_mr(m, 5);
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
    if (!ch || bit == KEEL_INIT_CHANNEL_BITS)
        return KEEL_INIT_E_TOO_MANY;
    *ch = (struct channel){ .used = true, .bit = bit };
    ch->side[SIDE_CLIENT] = cl;
    ch->side[SIDE_SERVER] = srv;
    ch->pid[SIDE_CLIENT] = cl->p.pid;
    ch->pid[SIDE_SERVER] = srv->p.pid;
    ch->alive[SIDE_INIT] = ch->alive[SIDE_CLIENT] = ch->alive[SIDE_SERVER] = true;
    srv->chan_bits |= 1u << bit;
    uint64_t badge = 1ull << (KEEL_INIT_CHANNEL_FIRST_BIT + bit);
    int err = 0, ret = KEEL_INIT_E_NO_MEMORY;
    uint64_t cn = 0;
    for (unsigned k = 0; k < CHAN_PAGES && !err; k++)
        err = keel_alloc_object(KEEL_OBJ_FRAME_4K, 0, &ch->frames[k]);
    if (!err)
        err = chan_map(ch, SIDE_INIT, 0, INIT_CHAN_VA + idx * CHAN_STRIDE);
    if (!err) {
        uint32_t fixed = (uint32_t)keel_channel_region_size(KEEL_INIT_CHANNEL_ENTRIES, KEEL_INIT_CHANNEL_ENTRIES, 0);
        uint32_t data = ((uint32_t)CHAN_BYTES - fixed) & ~63u;
        struct keel_channel_config cfg = { .sq_entries = KEEL_INIT_CHANNEL_ENTRIES,
                                           .cq_entries = KEEL_INIT_CHANNEL_ENTRIES, .data_size = data };
        if (keel_channel_init((void *)ch->va[SIDE_INIT], CHAN_BYTES, &cfg) != 0)
            err = KEEL_E_INVALID_ARGUMENT;
    }
    if (!err)
        err = chan_map(ch, SIDE_CLIENT, cl, CHILD_CHAN_VA + cl->next_chan++ * CHAN_STRIDE);
    /* The client's notification, from its own memory: its wait cap, the server's doorbell to it
     * (moved to the server at accept) and init's "server gone" signal. */
    if (!err && !(err = keel_slot_alloc(&cn))) {
        if ((err = keel_untyped_retype(cl->untyped, KEEL_OBJ_NOTIFICATION, 0, 0, 0, cn, 1)))
            keel_slot_free(cn);
        else
            own(cl, cn);
    }
    if (!err && !(err = keel_slot_alloc(&ch->to_client)))
        err = keel_cspace_mint(ch->to_client, cn, KEEL_RIGHT_WRITE, KEEL_INIT_CLIENT_DOORBELL);
    if (!err && !(err = keel_slot_alloc(&ch->server_gone_sig)))
        err = keel_cspace_mint(ch->server_gone_sig, cn, KEEL_RIGHT_WRITE, KEEL_INIT_CLIENT_GONE);
    if (!err && !(err = keel_slot_alloc(&ch->client_gone_sig)))
        err = keel_cspace_mint(ch->client_gone_sig, srv->svc_ntfn, KEEL_RIGHT_WRITE, badge);
    if (!err) {
        ret = KEEL_INIT_E_BAD_SLOT;
        err = keel_cnode_copy(cl->p.cnode, wslot, KEEL_PROCESS_CNODE_RADIX, 0, cn, KEEL_CSPACE_DEPTH,
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
        ch->alive[SIDE_SERVER] = false;
        chan_free(ch);
        return ret;
    }
    keel_signal(srv->svc_news);
    keel_printf("init: channel %u: %s (pid %llu) -> %s (pid %llu)\n", idx, cl->e->name,
                (unsigned long long)cl->p.pid, srv->e->name, (unsigned long long)srv->p.pid);
    keel_msg_set_mr(r, 1, ch->va[SIDE_CLIENT]);
    keel_msg_set_mr(r, 2, CHAN_BYTES);
    return 0;
}

static int broker_accept(struct proc *srv, const struct keel_msg *m, struct keel_msg *r)
{
    uint64_t slot = keel_msg_get_mr(m, 0);
    for (unsigned i = 0; i < MAX_CHANNELS; i++) {
        struct channel *ch = &channels[i];
        if (!ch->used || ch->accepted || ch->side[SIDE_SERVER] != srv || ch->pid[SIDE_SERVER] != srv->p.pid ||
            !ch->alive[SIDE_CLIENT])
            continue;
        if (!child_slot_ok(slot) ||
            keel_cnode_move(srv->p.cnode, slot, KEEL_PROCESS_CNODE_RADIX, 0, ch->to_client, KEEL_CSPACE_DEPTH))
            return KEEL_INIT_E_BAD_SLOT;
        int err = chan_map(ch, SIDE_SERVER, srv, CHILD_CHAN_VA + srv->next_chan++ * CHAN_STRIDE);
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

/* A process ended (its memory already revoked): its channels are gone; tell the survivors. */
static void broker_died(struct proc *pr, uint64_t pid)
{
    for (unsigned i = 0; i < MAX_CHANNELS; i++) {
        struct channel *ch = &channels[i];
        if (!ch->used)
            continue;
        for (int side = SIDE_CLIENT; side <= SIDE_SERVER; side++) {
            if (ch->side[side] != pr || ch->pid[side] != pid || !ch->alive[side])
                continue;
            int other = side == SIDE_CLIENT ? SIDE_SERVER : SIDE_CLIENT;
            keel_channel_region_mark_gone((void *)ch->va[SIDE_INIT],
                                          side == SIDE_CLIENT ? KEEL_CHANNEL_CLIENT : KEEL_CHANNEL_SERVER);
            chan_drop_side(ch, side);
            bool survivor = ch->alive[other] && (other == SIDE_CLIENT || ch->accepted);
            if (survivor)
                keel_signal(other == SIDE_SERVER ? ch->client_gone_sig : ch->server_gone_sig);
            else
                ch->alive[other] = false;
            if (!ch->alive[SIDE_CLIENT] && !ch->alive[SIDE_SERVER])
                chan_free(ch);
        }
    }
}

static int service_ps(const struct keel_msg *m, struct keel_msg *r)
{
    uint64_t i = keel_msg_get_mr(m, 0);
    if (i >= nprocs)
        return KEEL_INIT_E_NONE;
    const struct proc *pr = &procs[i];
    keel_msg_set_mr(r, 1, pr->p.pid);
    keel_msg_set_mr(r, 2, (uint64_t)pr->state);
    keel_msg_set_mr(r, 3, pr->restarts);
    keel_msg_set_mr(r, 4, pr->e->limit);
    keel_msg_set_mr(r, 5, pr->e->mem);
    keel_init_pack_name(r, 6, pr->e->name);
    return 0;
}

static void serve(struct proc *pr, const struct keel_msg *m)
{
    uint64_t label = keel_msg_label(m->info);
    struct keel_msg r = keel_msg_make(0, 10);
    int ret;
    if (label == KEEL_INIT_OPEN)
        ret = broker_open(pr, m, &r);
    else if (label == KEEL_INIT_ACCEPT)
        ret = broker_accept(pr, m, &r);
    else if (label == KEEL_INIT_PS)
        ret = service_ps(m, &r);
    else if (label == KEEL_INIT_MEM) {
        uint64_t given = 0;
        for (unsigned i = 0; i < nprocs; i++)
            if (procs[i].untyped)
                given += procs[i].e->mem;
        keel_msg_set_mr(&r, 1, keel_untyped_alloc_bytes_free());
        keel_msg_set_mr(&r, 2, given);
        ret = 0;
    } else
        ret = KEEL_INIT_E_BAD_REQUEST;
    r.mr[0] = (uint64_t)ret;
    keel_reply(sup_reply, &r);
}

/* ---- Supervision ---- */

static void print_table(void)
{
    keel_printf("init: process table\n");
    keel_printf("  %-12s %-12s %5s %-8s %-8s %-9s %7s  %s\n", "NAME", "PROGRAM", "PID", "STATE", "RESTARTS",
                "POLICY", "MEMORY", "CAPS / LAST EVENT");
    for (unsigned i = 0; i < nprocs; i++) {
        const struct proc *pr = &procs[i];
        const struct manifest_entry *e = pr->e;
        char restarts[16], mem[16];
        keel_snprintf(restarts, sizeof restarts, "%u/%u", pr->restarts, e->limit);
        keel_snprintf(mem, sizeof mem, "%lluK", (unsigned long long)(e->mem >> 10));
        keel_printf("  %-12s %-12s %5llu %-8s %-8s %-9s %7s  %s%s%s\n", e->name, e->program,
                    (unsigned long long)pr->p.pid, state_names[pr->state], restarts, manifest_restart_name(e->restart),
                    mem, pr->caps[0] ? pr->caps : "-", pr->note[0] ? "; " : "", pr->note);
    }
}

static const char *vector_name(uint64_t v)
{
    static const char *const names[] = { "divide error", "debug", "NMI", "breakpoint", "overflow",
                                         "bound range", "invalid opcode", "device not available",
                                         "double fault", "coprocessor overrun", "invalid TSS",
                                         "segment not present", "stack fault", "general protection",
                                         "page fault", "reserved", "x87 error", "alignment check",
                                         "machine check", "SIMD error" };
    return v < sizeof names / sizeof names[0] ? names[v] : "exception";
}

static void describe_fault(const struct keel_msg *m, char *buf, size_t size)
{
    uint64_t label = keel_msg_label(m->info);
    if (label == KEEL_FAULT_VM)
        keel_snprintf(buf, size, "page fault: %s %#llx (%s page) at rip %#llx",
                      (m->mr[2] & 16) ? "fetch at" : (m->mr[2] & 2) ? "write to" : "read of",
                      (unsigned long long)m->mr[1], (m->mr[2] & 1) ? "protected" : "unmapped",
                      (unsigned long long)m->mr[0]);
    else if (label == KEEL_FAULT_EXCEPTION)
        keel_snprintf(buf, size, "%s (vector %llu, error code %#llx) at rip %#llx", vector_name(m->mr[1]),
                      (unsigned long long)m->mr[1], (unsigned long long)m->mr[2], (unsigned long long)m->mr[0]);
    else if (label == KEEL_FAULT_UNKNOWN_SYSCALL)
        keel_snprintf(buf, size, "unknown syscall %llu at rip %#llx", (unsigned long long)m->mr[1],
                      (unsigned long long)m->mr[0]);
    else if (label == KEEL_FAULT_NO_VSPACE)
        keel_snprintf(buf, size, "no usable VSpace at rip %#llx", (unsigned long long)m->mr[0]);
    else
        keel_snprintf(buf, size, "unexpected message (label %#llx)", (unsigned long long)label);
}

static void handle(struct proc *pr, const struct keel_msg *m)
{
    const struct manifest_entry *e = pr->e;
    uint64_t pid = pr->p.pid;
    bool exited = keel_msg_label(m->info) == KEEL_PROCESS_MSG_EXIT;
    int64_t status = exited ? (int64_t)m->mr[0] : -1;
    char what[96];
    if (exited)
        keel_snprintf(what, sizeof what, "exited with status %lld", (long long)status);
    else
        describe_fault(m, what, sizeof what);
    keel_printf("init: %s (pid %llu) %s%s\n", e->name, (unsigned long long)pid, exited ? "" : "crashed: ", what);
    note(pr, "%s%s", exited ? "" : "crashed: ", what);
    int err = keel_process_destroy(&pr->p);
    if (err)
        keel_printf("init: %s: teardown failed: %s\n", e->name, keel_strerror(err));
    free_owned(pr);
    broker_died(pr, pid);
    pr->p.pid = pid; /* keep showing the last one */
    pr->state = exited ? P_EXITED : P_CRASHED;

    bool failed = !exited || status != 0;
    bool wanted = e->restart == RESTART_ALWAYS || (e->restart == RESTART_ON_CRASH && failed);
    if (wanted && pr->restarts < e->limit && !err) {
        pr->restarts++;
        keel_printf("init: restarting %s (restart %u of %u)\n", e->name, pr->restarts, e->limit);
        if (start(pr))
            return;
    } else if (wanted) {
        keel_printf("init: %s: restart limit (%u) reached; leaving it stopped\n", e->name, e->limit);
        note(pr, "%s; restart limit reached", what);
        pr->state = P_FAILED;
    } else {
        keel_printf("init: %s: not restarted (restart=%s)\n", e->name, manifest_restart_name(e->restart));
    }
    print_table();
}

static _Noreturn void supervise(void)
{
    for (;;) {
        struct keel_msg m = keel_msg_make(0, 0);
        int err = keel_recv(sup_ep, sup_reply, &m);
        if (err) {
            keel_printf("init: receive on the supervision endpoint failed: %s\n", keel_strerror(err));
            continue;
        }
        struct proc *pr = 0;
        for (unsigned i = 0; i < nprocs && !pr; i++)
            if (procs[i].state == P_RUNNING && procs[i].p.pid == m.badge)
                pr = &procs[i];
        if (!pr) {
            keel_printf("init: message (label %#llx) from unknown pid %llu ignored\n",
                        (unsigned long long)keel_msg_label(m.info), (unsigned long long)m.badge);
            continue;
        }
        uint64_t label = keel_msg_label(m.info);
        if (label == KEEL_PROCESS_MSG_EXIT || (label >= KEEL_FAULT_VM && label <= KEEL_FAULT_NO_VSPACE))
            handle(pr, &m);
        else
            serve(pr, &m);
    }
}

/* ---- Start-up ---- */

static unsigned load_manifest(void)
{
    char buf[64];
    const char *name = manifest_name(buf, sizeof buf);
    const struct keel_module_info *mod = keel_bootinfo_module(bi, name);
    if (!mod) {
        keel_printf("init: no boot module '%s': nothing to start\n", name);
        return 0;
    }
    uint64_t size;
    int err = read_module(mod, &size);
    if (err) {
        keel_printf("init: cannot read the manifest '%s': %s\n", name, keel_strerror(err));
        return 0;
    }
    if (mod->size > MANIFEST_MAX_BYTES)
        keel_printf("init: %s: only the first %u bytes are read\n", name, MANIFEST_MAX_BYTES);
    manifest_parse(&manifest, manifest_text, size);
    for (unsigned i = 0; i < manifest.error_count; i++)
        keel_printf("init: %s:%u: %s (line skipped)\n", name, manifest.errors[i].line, manifest.errors[i].msg);
    if (manifest.errors_total > manifest.error_count)
        keel_printf("init: %s: %u more error(s)\n", name, manifest.errors_total - manifest.error_count);
    for (unsigned i = 0; i < manifest.count; i++) {
        const struct manifest_entry *e = &manifest.entries[i];
        const struct keel_module_info *prog = keel_bootinfo_module(bi, e->program);
        if (!prog) {
            keel_printf("init: %s:%u: program '%s' is not a boot module (line skipped)\n", name, e->line, e->program);
            continue;
        }
        procs[nprocs++] = (struct proc){ .e = e, .module = prog };
    }
    keel_printf("init: manifest '%s': %u process(es) to start, %u bad line(s)\n", name, nprocs,
                manifest.errors_total + manifest.count - nprocs);
    return nprocs;
}

int main(struct keel_bootinfo *boot_info)
{
    bi = boot_info;
    if (!bi) {
        keel_printf("init: no BootInfo\n");
        return 1;
    }
    keel_printf("init: Keel root task running\n");
    keel_bootinfo_print(bi);
    keel_untyped_alloc_init(bi);
    int err = keel_alloc_object(KEEL_OBJ_ENDPOINT, 0, &sup_ep);
    if (!err)
        err = keel_alloc_object(KEEL_OBJ_REPLY, 0, &sup_reply);
    if (err) {
        keel_printf("init: cannot make the supervision endpoint: %s\n", keel_strerror(err));
        return 1;
    }
    load_manifest();
    for (unsigned i = 0; i < nprocs; i++) {
        struct proc *pr = &procs[i];
        err = keel_alloc_object(KEEL_OBJ_UNTYPED, pr->e->mem, &pr->untyped);
        if (err) {
            pr->state = P_FAILED;
            note(pr, "no memory for it (%lluK): %s", (unsigned long long)(pr->e->mem >> 10), keel_strerror(err));
            keel_printf("init: %s: %s\n", pr->e->name, pr->note);
            continue;
        }
        start(pr);
    }
    keel_printf("init: start-up done\n");
    print_table();
    supervise();
}
