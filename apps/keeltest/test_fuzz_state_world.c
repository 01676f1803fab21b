/* The stateful fuzzer's world: cells, arenas, image VSpaces, worker set-up and scripts, and the
 * teardown that gives a round's memory back. The actions that change the world are in
 * test_fuzz_state.c.
 *
 * The runner's model of the cells is exact for what matters to its own safety: only the runner
 * fills a cell (Retype, Mint, Move), so a cell it believes is not an endpoint never is one, and
 * its Call-style invocations never block. Revokes empty cells it may not know about; those are
 * re-read from the kernel (fz_resync). */
#include "test_fuzz_state.h"
#include <keel/vspace.h>

struct fz_world fz;
static uint64_t rng_state;

void fz_seed(uint64_t seed) { rng_state = seed ? seed : 0x9e3779b97f4a7c15ull; }

uint64_t fz_rand(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

int fz_pick_cell(uint8_t type)
{
    int start = (int)fz_below(FZ_CELLS);
    for (int k = 0; k < FZ_CELLS; k++) {
        int c = (start + k) % FZ_CELLS;
        if (fz.cell[c].type == type)
            return c;
    }
    return -1;
}

void fz_cell_emptied(int c)
{
    if (fz.cell[c].type == KEEL_OBJ_TCB)
        for (unsigned i = 0; i < FZ_WORKERS; i++)
            if (fz.worker_cell[i] == c)
                fz.worker_cell[i] = -1;
    fz.cell[c].type = KEEL_CAP_NULL;
    fz.cell[c].arena = -1;
}

void fz_arena_revoked(int a)
{
    for (int c = 0; c < FZ_CELLS; c++)
        if (fz.cell[c].arena == a && fz.cell[c].type != KEEL_CAP_NULL)
            fz_cell_emptied(c);
}

void fz_resync(void)
{
    for (int c = 0; c < FZ_CELLS; c++) {
        if (fz.cell[c].type == KEEL_CAP_NULL)
            continue;
        fz.calls++;
        uint64_t t = kt_type(fz.cell[c].slot);
        if (t == KEEL_CAP_NULL)
            fz_cell_emptied(c);
    }
}

/* ---- Options from the kernel command line (as keeltest=) ---- */

bool fz_option(const char *cmd, const char *key, uint64_t *value)
{
    size_t klen = strlen(key);
    for (const char *p = cmd; (p = strchr(p, key[0])) != 0; p++) {
        if (strncmp(p, key, klen) != 0 || (p != cmd && p[-1] != ' '))
            continue;
        const char *v = p + klen;
        uint64_t n = 0, base = 10;
        if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
            base = 16;
            v += 2;
        }
        for (;; v++) {
            unsigned d;
            if (*v >= '0' && *v <= '9')
                d = (unsigned)(*v - '0');
            else if (base == 16 && *v >= 'a' && *v <= 'f')
                d = (unsigned)(*v - 'a' + 10);
            else if (base == 16 && *v >= 'A' && *v <= 'F')
                d = (unsigned)(*v - 'A' + 10);
            else
                break;
            n = n * base + d;
        }
        *value = n;
        return true;
    }
    return false;
}

/* ---- Workers ---- */

void fz_worker_regs(unsigned i, struct keel_user_regs *r)
{
    memset(r, 0, sizeof *r);
    r->rip = (uint64_t)fz_worker_entry;
    r->rsp = (uint64_t)(fz_worker_stacks[i] + FZ_WORKER_STACK) - 8; /* as if called */
    r->rdi = (uint64_t)&fz_workers[i];
    r->rflags = 0x202;
    r->fs_base = (uint64_t)&fz_workers[i].tls;
}

/* A cptr a script names: mostly a cell of the wanted type, sometimes any cell, rarely garbage. */
static uint64_t script_cap(uint8_t type)
{
    int c = fz_below(8) ? fz_pick_cell(type) : -1;
    if (c < 0)
        c = fz_any_cell();
    return fz_below(32) ? fz.cell[c].slot : fz_rand();
}

static uint64_t script_reply(void)
{
    if (fz_below(3) == 0)
        return 0; /* Recv without a reply object: the path of issue 11 */
    return script_cap(KEEL_OBJ_REPLY);
}

static void random_op(unsigned i, struct fz_op *op)
{
    memset(op, 0, sizeof *op);
    static const uint8_t weights[W_OP_COUNT] = {
        [W_UD2] = 4, [W_VM_FAULT] = 3, [W_BAD_SYSCALL] = 2, [W_SEND] = 4, [W_NB_SEND] = 2, [W_CALL] = 5,
        [W_RECV] = 5, [W_NB_RECV] = 2, [W_REPLY_RECV] = 3, [W_YIELD] = 1, [W_INVOKE] = 2, [W_IRQ_GET] = 1,
    };
    unsigned total = 0;
    for (unsigned k = 0; k < W_OP_COUNT; k++)
        total += weights[k];
    unsigned r = (unsigned)fz_below(total), kind = 0;
    while (r >= weights[kind])
        r -= weights[kind++];
    op->kind = (uint8_t)kind;
    op->label = fz_below(4) ? fz_below(8) : fz_rand() & 0xffff;
    op->length = (uint8_t)(fz_below(4) ? fz_below(5) : fz_below(KEEL_MSG_MAX_LENGTH + 1));
    op->ncaps = (uint8_t)(fz_below(4) ? 0 : fz_below(KEEL_MSG_MAX_CAPS + 1));
    op->arg = fz_rand();
    for (unsigned k = 0; k < KEEL_MSG_MAX_CAPS; k++)
        op->caps[k] = fz.cell[fz_any_cell()].slot;
    switch (kind) {
    case W_SEND: case W_NB_SEND: case W_CALL:
        /* Mostly endpoints; a notification (signal) or a reply object (an answer) now and then. */
        op->cap = script_cap(fz_below(6) == 0 ? KEEL_OBJ_NOTIFICATION
                             : fz_below(6) == 0 ? KEEL_OBJ_REPLY : KEEL_OBJ_ENDPOINT);
        break;
    case W_RECV: case W_NB_RECV: case W_REPLY_RECV:
        op->cap = script_cap(fz_below(5) == 0 ? KEEL_OBJ_NOTIFICATION : KEEL_OBJ_ENDPOINT);
        op->reply = script_reply();
        break;
    case W_INVOKE: {
        /* Another thread's TCB, from wherever this one runs: cross-CPU suspends and resumes. */
        static const uint64_t labels[] = { KEEL_TCB_SUSPEND, KEEL_TCB_RESUME, KEEL_TCB_GET_INFO,
                                           KEEL_TCB_UNBIND_NOTIFICATION };
        op->cap = script_cap(KEEL_OBJ_TCB);
        op->label = labels[fz_below(4)];
        op->length = 0;
        op->ncaps = 0;
        break;
    }
    case W_IRQ_GET:
        if (!fz.irqs) {
            op->kind = W_YIELD;
            break;
        }
        op->arg = fz_below(24);
        op->label = KEEL_IRQ_GSI | (fz_below(4) << 1); /* every trigger and polarity */
        op->reply = fz.irq_cell[fz_below(FZ_IRQ_CELLS)];
        break;
    default:
        break;
    }
    (void)i;
}

void fz_worker_script(unsigned i)
{
    struct fz_worker *w = &fz_workers[i];
    w->nops = 1 + (unsigned)fz_below(FZ_SCRIPT);
    for (unsigned k = 0; k < w->nops; k++)
        random_op(i, &w->script[k]);
}

static int retype_into(int c, uint8_t type, uint64_t size)
{
    /* Arenas in a random order: a full one is skipped. */
    int start = (int)fz_below(FZ_ARENAS), err = KEEL_E_NOT_ENOUGH_MEMORY;
    for (int k = 0; k < FZ_ARENAS && err == KEEL_E_NOT_ENOUGH_MEMORY; k++) {
        int a = (start + k) % FZ_ARENAS;
        fz.calls++;
        err = keel_untyped_retype(fz.arena[a], type, size, 0, 0, fz.cell[c].slot, 1);
        if (!err) {
            fz.cell[c].type = type;
            fz.cell[c].arena = (int8_t)a;
        }
    }
    return err;
}

int fz_worker_revive(unsigned i)
{
    int c = fz_pick_cell(KEEL_CAP_NULL);
    if (c < 0)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    int err = retype_into(c, KEEL_OBJ_TCB, 0);
    if (err)
        return err;
    fz.worker_cell[i] = c;
    struct fz_worker *w = &fz_workers[i];
    w->self = fz.cell[c].slot;
    w->tls.self = &w->tls;
    w->tls.ipc = (struct keel_ipc_buffer *)(FZ_IPC_VA + (uint64_t)i * 4096);
    w->tls.tcb = w->self;
    int ep = fz_pick_cell(KEEL_OBJ_ENDPOINT);
    fz.calls += 3;
    err = keel_tcb_configure(w->self, KEEL_SLOT_CNODE, fz.image_vspace[fz_below(FZ_IMAGE_VSPACES)], fz.ipc_frame[i],
                             ep >= 0 && fz_below(6) ? fz.cell[ep].slot : 0, FZ_IPC_VA + (uint64_t)i * 4096, 0,
                             fz.guard_bits);
    if (!err)
        err = keel_tcb_set_priority(w->self, KEEL_SLOT_TCB, 2 + fz_below(fz.worker_priority_max - 1));
    if (!err && fz.cpus > 1) {
        fz.calls++;
        err = keel_tcb_set_affinity(w->self, fz_below(fz.cpus));
    }
    if (err)
        return err;
    fz_worker_script(i);
    struct keel_user_regs r;
    fz_worker_regs(i, &r);
    return keel_tcb_write_registers(w->self, true, &r);
}

/* ---- Building and tearing down ---- */

static int clone_slot(void *ctx, uint64_t *slot)
{
    (void)ctx;
    if (fz.clone_slots == FZ_CLONE_SLOTS)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    int err = kt_slot(slot);
    if (!err)
        fz.clone_slot[fz.clone_slots++] = *slot;
    return err;
}

static int clone_object(void *ctx, uint64_t type, uint64_t size_param, uint64_t *cptr)
{
    int err = clone_slot(ctx, cptr);
    return err ? err : keel_untyped_retype(fz.round_ut, type, size_param, 0, 0, *cptr, 1);
}

static const struct keel_vspace_alloc round_alloc = { clone_object, clone_slot, 0 };

static int alloc_slots(void)
{
    int err = 0;
    for (int c = 0; c < FZ_CELLS && !err; c++)
        if (!fz.cell[c].slot)
            err = kt_slot(&fz.cell[c].slot);
    for (unsigned i = 0; i <= FZ_WORKERS && !err; i++)
        if (!fz.inbox[i])
            err = kt_slot(&fz.inbox[i]);
    for (unsigned i = 0; i < FZ_IRQ_CELLS && !err; i++)
        if (!fz.irq_cell[i])
            err = kt_slot(&fz.irq_cell[i]);
    if (!err && !fz.round_ut)
        err = kt_untyped(4u << 20, &fz.round_ut);
    return err;
}

int fz_world_build(void)
{
    int err = alloc_slots();
    if (err)
        return err;
    struct keel_tcb_info self;
    if ((err = keel_tcb_get_info(KEEL_SLOT_TCB, &self)))
        return err;
    fz.runner_priority = self.priority;
    fz.worker_priority_max = self.priority > 101 ? 100 : self.priority - 1;
    if (fz.worker_priority_max < 3)
        return KEEL_E_RANGE; /* no room below us for workers above the drain priority */
    fz.guard_bits = keel_bootinfo_guard_bits(kt_bi);
    fz.cpus = kt_bi->cpu_count;
    fz.irqs = !kt_child;
    for (unsigned a = 0; a < FZ_ARENAS && !err; a++)
        if ((err = clone_slot(0, &fz.arena[a])) ||
            (err = keel_untyped_retype(fz.round_ut, KEEL_OBJ_UNTYPED, FZ_ARENA_BYTES, 0, 0, fz.arena[a], 1)))
            return err;
    fz.image_vspace[0] = KEEL_SLOT_VSPACE;
    for (unsigned v = 1; v < FZ_IMAGE_VSPACES && !err; v++)
        err = keel_vspace_clone_image(kt_bi, &fz.image_vspace[v], &round_alloc);
    for (unsigned i = 0; i < FZ_WORKERS && !err; i++) {
        err = clone_object(0, KEEL_OBJ_FRAME_4K, 0, &fz.ipc_frame[i]);
        for (unsigned v = 0; v < FZ_IMAGE_VSPACES && !err; v++) {
            uint64_t copy;
            if (!(err = clone_slot(0, &copy)) && !(err = keel_cspace_copy(copy, fz.ipc_frame[i], KEEL_RIGHTS_ALL)))
                err = keel_vspace_map_frame(copy, fz.image_vspace[v], FZ_IPC_VA + (uint64_t)i * 4096,
                                            KEEL_MAP_READ | KEEL_MAP_WRITE, KEEL_CACHE_WB, &round_alloc);
        }
    }
    if (err)
        return err;
    for (int c = 0; c < FZ_CELLS; c++)
        fz.cell[c].arena = -1;
    /* The initial objects: endpoints, notifications, reply objects, two bare VSpaces. */
    static const uint8_t initial[] = {
        KEEL_OBJ_ENDPOINT, KEEL_OBJ_ENDPOINT, KEEL_OBJ_ENDPOINT, KEEL_OBJ_ENDPOINT,
        KEEL_OBJ_NOTIFICATION, KEEL_OBJ_NOTIFICATION, KEEL_OBJ_NOTIFICATION,
        KEEL_OBJ_REPLY, KEEL_OBJ_REPLY, KEEL_OBJ_REPLY, KEEL_OBJ_REPLY, KEEL_OBJ_PML4, KEEL_OBJ_PML4,
    };
    for (unsigned k = 0; k < sizeof initial && !err; k++) {
        err = retype_into((int)k, initial[k], 0);
        if (!err && initial[k] == KEEL_OBJ_PML4)
            err = keel_asid_pool_assign(KEEL_SLOT_ASID_POOL, fz.cell[k].slot, 0);
    }
    for (unsigned i = 0; i < FZ_WORKERS && !err; i++) {
        memset(&fz_workers[i], 0, sizeof fz_workers[i]);
        fz_workers[i].index = i;
        fz_workers[i].inbox = fz.inbox[i];
        fz.worker_cell[i] = -1;
        err = fz_worker_revive(i);
    }
    /* The runner's own granted caps land in its inbox. */
    struct keel_ipc_buffer *ipc = keel_ipc_buffer();
    ipc->receive_cnode = 0;
    ipc->receive_index = fz.inbox[FZ_WORKERS];
    ipc->receive_depth = KEEL_CSPACE_DEPTH;
    return err;
}

void fz_world_teardown(void)
{
    /* Workers first, so that nothing runs while the world goes away; then the IRQ handlers
     * (children of IRQControl, not of our memory); then the round's memory, and with it every
     * object, cell and inbox; last the copies of image frames (copies of our own caps). */
    for (int c = 0; c < FZ_CELLS; c++)
        if (fz.cell[c].type == KEEL_OBJ_TCB)
            keel_tcb_suspend(fz.cell[c].slot);
    for (unsigned i = 0; i < FZ_IRQ_CELLS; i++)
        EXPECT_OK(keel_cspace_delete(fz.irq_cell[i]));
    EXPECT_OK(keel_cspace_revoke(fz.round_ut));
    for (unsigned k = 0; k < fz.clone_slots; k++) {
        EXPECT_OK(keel_cspace_delete(fz.clone_slot[k]));
        keel_slot_free(fz.clone_slot[k]);
    }
    fz.clone_slots = 0;
    for (int c = 0; c < FZ_CELLS; c++) {
        EXPECT_OK(keel_cspace_delete(fz.cell[c].slot)); /* empty already: all came from round_ut */
        fz.cell[c].type = KEEL_CAP_NULL;
    }
    for (unsigned i = 0; i <= FZ_WORKERS; i++)
        EXPECT_OK(keel_cspace_delete(fz.inbox[i]));
    struct keel_ipc_buffer *ipc = keel_ipc_buffer();
    ipc->receive_cnode = ipc->receive_index = ipc->receive_depth = 0;
}
