/* Invocation wrappers: marshal typed arguments into message registers, make the Call, and keep
 * the reply words in the thread's keel_tls so tests can inspect error details. */
#include <keel/invoke.h>
#include <keel/syscall.h>
#include <keel/tls.h>

static void record(struct keel_tls *t, int err, const struct keel_msg *m)
{
    t->last.error = err;
    t->last.label = keel_msg_label(m->info);
    for (unsigned i = 0; i < KEEL_MSG_REGISTERS; i++)
        t->last.mr[i] = m->mr[i];
}

int keel_invoke(uint64_t cptr, uint64_t label, const uint64_t *mr, unsigned nmr, const uint64_t *caps,
                unsigned ncaps, uint64_t *out, unsigned nout)
{
    struct keel_tls *t = keel_tls();
    struct keel_ipc_buffer *ipc = t->ipc;
    struct keel_msg m = { 0 };
    bool need_ipc = nmr > KEEL_MSG_REGISTERS || ncaps > 0 || nout > KEEL_MSG_REGISTERS;
    if (nmr > KEEL_MSG_MAX_LENGTH || ncaps > KEEL_MSG_MAX_CAPS || nout > KEEL_MSG_MAX_LENGTH ||
        (need_ipc && !ipc)) {
        m.mr[0] = KEEL_NO_IPC_BUFFER;
        record(t, KEEL_E_ILLEGAL_OPERATION, &m);
        return KEEL_E_ILLEGAL_OPERATION;
    }
    for (unsigned i = 0; i < nmr; i++) {
        if (i < KEEL_MSG_REGISTERS)
            m.mr[i] = mr[i];
        else
            ipc->mr[i] = mr[i];
    }
    for (unsigned i = 0; i < ncaps; i++)
        ipc->caps[i] = caps[i];
    m.info = keel_msginfo(label, ncaps, nmr);
    int err = keel_call(cptr, &m);
    record(t, err, &m);
    if (err)
        return err;
    for (unsigned i = 0; i < nout; i++)
        out[i] = i < KEEL_MSG_REGISTERS ? m.mr[i] : ipc->mr[i];
    return 0;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
static int invoke1(uint64_t cptr, uint64_t label, uint64_t mr0)
{
    return keel_invoke(cptr, label, &mr0, 1, 0, 0, 0, 0);
}

/* ---- Untyped ---- */

int keel_untyped_retype(uint64_t ut, uint64_t type, uint64_t size, uint64_t dest_cnode, uint64_t dest_depth,
                        uint64_t first_slot, uint64_t count)
{
    const uint64_t mr[] = { type, size, dest_cnode, dest_depth, first_slot, count };
    return keel_invoke(ut, KEEL_UNTYPED_RETYPE, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_untyped_describe(uint64_t ut, struct keel_untyped_desc *d)
{
    uint64_t out[4];
    int err = keel_invoke(ut, KEEL_UNTYPED_DESCRIBE, 0, 0, 0, 0, out, 4);
    if (!err && d) {
        d->paddr = out[0];
        d->size = out[1];
        d->watermark = out[2];
        d->is_device = out[3] != 0;
    }
    return err;
}

/* ---- CNode ---- */

int keel_cnode_copy(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                    uint64_t src_index, uint64_t src_depth, uint64_t rights)
{
    const uint64_t mr[] = { dest_index, dest_depth, src_root, src_index, src_depth, rights };
    return keel_invoke(root, KEEL_CNODE_COPY, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_cnode_mint(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                    uint64_t src_index, uint64_t src_depth, uint64_t rights, uint64_t badge)
{
    const uint64_t mr[] = { dest_index, dest_depth, src_root, src_index, src_depth, rights, badge, 0 };
    return keel_invoke(root, KEEL_CNODE_MINT, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_cnode_mint_guard(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                          uint64_t src_index, uint64_t src_depth, uint64_t rights, uint64_t guard,
                          uint64_t guard_bits)
{
    const uint64_t mr[] = { dest_index, dest_depth, src_root, src_index, src_depth, rights, guard, guard_bits };
    return keel_invoke(root, KEEL_CNODE_MINT, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_cnode_move(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                    uint64_t src_index, uint64_t src_depth)
{
    const uint64_t mr[] = { dest_index, dest_depth, src_root, src_index, src_depth };
    return keel_invoke(root, KEEL_CNODE_MOVE, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_cnode_mutate(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                      uint64_t src_index, uint64_t src_depth, uint64_t rights, uint64_t badge_or_guard,
                      uint64_t guard_bits)
{
    const uint64_t mr[] = { dest_index, dest_depth, src_root, src_index, src_depth, rights, badge_or_guard,
                            guard_bits };
    return keel_invoke(root, KEEL_CNODE_MUTATE, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_cnode_delete(uint64_t root, uint64_t index, uint64_t depth)
{
    const uint64_t mr[] = { index, depth };
    return keel_invoke(root, KEEL_CNODE_DELETE, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_cnode_revoke(uint64_t root, uint64_t index, uint64_t depth)
{
    const uint64_t mr[] = { index, depth };
    return keel_invoke(root, KEEL_CNODE_REVOKE, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_cnode_rotate(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t pivot_index,
                      uint64_t pivot_depth, uint64_t src_index, uint64_t src_depth, uint64_t pivot_badge,
                      uint64_t dest_badge)
{
    const uint64_t mr[] = { dest_index, dest_depth, pivot_index, pivot_depth, src_index, src_depth,
                            pivot_badge, dest_badge };
    return keel_invoke(root, KEEL_CNODE_ROTATE, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_cspace_copy(uint64_t dest, uint64_t src, uint64_t rights)
{
    return keel_cnode_copy(KEEL_SLOT_CNODE, dest, KEEL_CSPACE_DEPTH, KEEL_SLOT_CNODE, src, KEEL_CSPACE_DEPTH,
                           rights);
}

int keel_cspace_mint(uint64_t dest, uint64_t src, uint64_t rights, uint64_t badge)
{
    return keel_cnode_mint(KEEL_SLOT_CNODE, dest, KEEL_CSPACE_DEPTH, KEEL_SLOT_CNODE, src, KEEL_CSPACE_DEPTH,
                           rights, badge);
}

int keel_cspace_move(uint64_t dest, uint64_t src)
{
    return keel_cnode_move(KEEL_SLOT_CNODE, dest, KEEL_CSPACE_DEPTH, KEEL_SLOT_CNODE, src, KEEL_CSPACE_DEPTH);
}

int keel_cspace_mutate(uint64_t dest, uint64_t src, uint64_t rights, uint64_t badge)
{
    return keel_cnode_mutate(KEEL_SLOT_CNODE, dest, KEEL_CSPACE_DEPTH, KEEL_SLOT_CNODE, src, KEEL_CSPACE_DEPTH,
                             rights, badge, 0);
}

int keel_cspace_delete(uint64_t slot)
{
    return keel_cnode_delete(KEEL_SLOT_CNODE, slot, KEEL_CSPACE_DEPTH);
}

int keel_cspace_revoke(uint64_t slot)
{
    return keel_cnode_revoke(KEEL_SLOT_CNODE, slot, KEEL_CSPACE_DEPTH);
}

/* ---- TCB ---- */

int keel_tcb_configure(uint64_t tcb, uint64_t cspace_root, uint64_t vspace_root, uint64_t ipc_frame,
                       uint64_t fault_ep, uint64_t ipc_addr, uint64_t cspace_guard, uint64_t cspace_guard_bits)
{
    /* A message carries at most three caps: the fault endpoint travels as a cptr in MR3. */
    const uint64_t mr[] = { ipc_addr, cspace_guard, cspace_guard_bits, fault_ep };
    const uint64_t caps[] = { cspace_root, vspace_root, ipc_frame };
    return keel_invoke(tcb, KEEL_TCB_CONFIGURE, mr, COUNT(mr), caps, COUNT(caps), 0, 0);
}

int keel_tcb_set_priority(uint64_t tcb, uint64_t authority, uint64_t priority)
{
    const uint64_t caps[] = { authority };
    return keel_invoke(tcb, KEEL_TCB_SET_PRIORITY, &priority, 1, caps, 1, 0, 0);
}

int keel_tcb_set_mc_priority(uint64_t tcb, uint64_t authority, uint64_t mcp)
{
    const uint64_t caps[] = { authority };
    return keel_invoke(tcb, KEEL_TCB_SET_MC_PRIORITY, &mcp, 1, caps, 1, 0, 0);
}

int keel_tcb_set_ipc_buffer(uint64_t tcb, uint64_t frame, uint64_t addr)
{
    const uint64_t caps[] = { frame };
    return keel_invoke(tcb, KEEL_TCB_SET_IPC_BUFFER, &addr, 1, caps, 1, 0, 0);
}

int keel_tcb_read_registers(uint64_t tcb, struct keel_user_regs *regs)
{
    uint64_t out[KEEL_USER_REGS_WORDS];
    _Static_assert(sizeof(*regs) == sizeof(out), "register file layout");
    int err = keel_invoke(tcb, KEEL_TCB_READ_REGISTERS, 0, 0, 0, 0, out, KEEL_USER_REGS_WORDS);
    if (!err)
        __builtin_memcpy(regs, out, sizeof(out));
    return err;
}

int keel_tcb_write_registers(uint64_t tcb, bool resume, const struct keel_user_regs *regs)
{
    uint64_t mr[1 + KEEL_USER_REGS_WORDS];
    mr[0] = resume;
    __builtin_memcpy(&mr[1], regs, sizeof(*regs));
    return keel_invoke(tcb, KEEL_TCB_WRITE_REGISTERS, mr, COUNT(mr), 0, 0, 0, 0);
}

int keel_tcb_resume(uint64_t tcb) { return keel_invoke(tcb, KEEL_TCB_RESUME, 0, 0, 0, 0, 0, 0); }
int keel_tcb_suspend(uint64_t tcb) { return keel_invoke(tcb, KEEL_TCB_SUSPEND, 0, 0, 0, 0, 0, 0); }

int keel_tcb_bind_notification(uint64_t tcb, uint64_t ntfn)
{
    const uint64_t caps[] = { ntfn };
    return keel_invoke(tcb, KEEL_TCB_BIND_NOTIFICATION, 0, 0, caps, 1, 0, 0);
}

int keel_tcb_unbind_notification(uint64_t tcb)
{
    return keel_invoke(tcb, KEEL_TCB_UNBIND_NOTIFICATION, 0, 0, 0, 0, 0, 0);
}

int keel_tcb_set_affinity(uint64_t tcb, uint64_t cpu) { return invoke1(tcb, KEEL_TCB_SET_AFFINITY, cpu); }
int keel_tcb_set_pkru(uint64_t tcb, uint64_t pkru) { return invoke1(tcb, KEEL_TCB_SET_PKRU, pkru); }

int keel_tcb_get_info(uint64_t tcb, struct keel_tcb_info *info)
{
    uint64_t out[4];
    int err = keel_invoke(tcb, KEEL_TCB_GET_INFO, 0, 0, 0, 0, out, 4);
    if (!err && info) {
        info->state = out[0];
        info->priority = out[1];
        info->mcp = out[2];
        info->cpu = out[3];
    }
    return err;
}

/* ---- Log ---- */

int keel_log_write(uint64_t log, const char *s, uint64_t n)
{
    uint64_t mr[1 + KEEL_LOG_WRITE_MAX / 8];
    do {
        uint64_t piece = n < KEEL_LOG_WRITE_MAX ? n : KEEL_LOG_WRITE_MAX;
        unsigned words = (unsigned)((piece + 7) / 8);
        mr[0] = piece;
        for (unsigned i = 0; i < words; i++) {
            uint64_t w = 0;
            for (unsigned b = 0; b < 8 && 8 * i + b < piece; b++)
                w |= (uint64_t)(uint8_t)s[8 * i + b] << (8 * b);
            mr[1 + i] = w;
        }
        int err = keel_invoke(log, KEEL_LOG_WRITE, mr, 1 + words, 0, 0, 0, 0);
        if (err)
            return err;
        s += piece;
        n -= piece;
    } while (n);
    return 0;
}

/* ---- Debug ---- */

int keel_debug_check_invariants(uint64_t dbg, uint64_t *violations)
{
    uint64_t out[1];
    int err = keel_invoke(dbg, KEEL_DEBUG_CHECK_INVARIANTS, 0, 0, 0, 0, out, 1);
    if (violations)
        *violations = err ? 0 : out[0];
    return err;
}

int keel_debug_cap_identify(uint64_t dbg, uint64_t cptr, struct keel_cap_identity *id)
{
    uint64_t out[4];
    int err = keel_invoke(dbg, KEEL_DEBUG_CAP_IDENTIFY, &cptr, 1, 0, 0, out, 4);
    if (!err && id) {
        id->type = out[0];
        id->rights = out[1];
        id->badge = out[2];
        id->object = out[3];
    }
    return err;
}

int keel_debug_tlb_counters(uint64_t dbg, uint64_t cpu, struct keel_tlb_counters *c)
{
    uint64_t out[KEEL_TLB_COUNTER_WORDS];
    _Static_assert(sizeof(*c) == sizeof(out), "counter layout");
    int err = keel_invoke(dbg, KEEL_DEBUG_TLB_COUNTERS, &cpu, 1, 0, 0, out, KEEL_TLB_COUNTER_WORDS);
    if (!err)
        __builtin_memcpy(c, out, sizeof(out));
    return err;
}

int keel_debug_exit(uint64_t dbg, uint64_t status) { return invoke1(dbg, KEEL_DEBUG_EXIT, status); }

int keel_debug_kernel_info(uint64_t dbg, struct keel_kernel_info *info)
{
    uint64_t out[4];
    int err = keel_invoke(dbg, KEEL_DEBUG_KERNEL_INFO, 0, 0, 0, 0, out, 4);
    if (!err && info) {
        info->ticks = out[0];
        info->tsc_khz = out[1];
        info->timer_hz = out[2];
        info->flags = out[3];
    }
    return err;
}

int keel_debug_set_fault_logging(uint64_t dbg, bool on)
{
    return invoke1(dbg, KEEL_DEBUG_SET_FAULT_LOGGING, (uint64_t)on);
}

int keel_debug_cpu_state(uint64_t dbg, uint64_t cpu, struct keel_cpu_state *st)
{
    uint64_t out[5];
    _Static_assert(sizeof(*st) == sizeof(out), "layout");
    int err = keel_invoke(dbg, KEEL_DEBUG_CPU_STATE, &cpu, 1, 0, 0, out, 5);
    if (!err)
        __builtin_memcpy(st, out, sizeof(out));
    return err;
}

int keel_debug_hold_lock(uint64_t dbg, uint64_t ms) { return invoke1(dbg, KEEL_DEBUG_HOLD_LOCK, ms); }

/* ---- Address spaces ---- */

int keel_paging_map(uint64_t table, uint64_t vspace, uint64_t vaddr)
{
    return keel_invoke(table, KEEL_PAGING_MAP, &vaddr, 1, &vspace, 1, 0, 0);
}

int keel_paging_unmap(uint64_t table) { return keel_invoke(table, KEEL_PAGING_UNMAP, 0, 0, 0, 0, 0, 0); }

int keel_frame_map(uint64_t frame, uint64_t vspace, uint64_t vaddr, uint64_t access, uint64_t attr)
{
    const uint64_t mr[] = { vaddr, access, attr };
    return keel_invoke(frame, KEEL_FRAME_MAP, mr, 3, &vspace, 1, 0, 0);
}

int keel_frame_remap(uint64_t frame, uint64_t access, uint64_t attr)
{
    const uint64_t mr[] = { access, attr };
    return keel_invoke(frame, KEEL_FRAME_REMAP, mr, 2, 0, 0, 0, 0);
}

int keel_frame_unmap(uint64_t frame) { return keel_invoke(frame, KEEL_FRAME_UNMAP, 0, 0, 0, 0, 0, 0); }

int keel_frame_get_address(uint64_t frame, struct keel_frame_info *info)
{
    uint64_t out[3];
    int err = keel_invoke(frame, KEEL_FRAME_GET_ADDRESS, 0, 0, 0, 0, out, 3);
    if (!err)
        *info = (struct keel_frame_info){ out[0], out[1], out[2] };
    return err;
}

int keel_vspace_unmap_batch(uint64_t vspace, const uint64_t *frames, unsigned count, uint64_t *unmapped)
{
    uint64_t mr[1 + KEEL_UNMAP_BATCH_MAX];
    if (count > KEEL_UNMAP_BATCH_MAX)
        count = KEEL_UNMAP_BATCH_MAX + 1; /* let the kernel say RANGE */
    mr[0] = count;
    for (unsigned i = 0; i < count && i < KEEL_UNMAP_BATCH_MAX; i++)
        mr[1 + i] = frames[i];
    uint64_t out = 0;
    unsigned n = count <= KEEL_UNMAP_BATCH_MAX ? 1 + count : 1;
    int err = keel_invoke(vspace, KEEL_VSPACE_UNMAP_BATCH, mr, n, 0, 0, &out, 1);
    if (!err && unmapped)
        *unmapped = out;
    return err;
}

int keel_asid_control_make_pool(uint64_t control, uint64_t untyped, uint64_t dest_slot)
{
    const uint64_t mr[] = { dest_slot, 64 };
    return keel_invoke(control, KEEL_ASID_CONTROL_MAKE_POOL, mr, 2, &untyped, 1, 0, 0);
}

int keel_asid_pool_assign(uint64_t pool, uint64_t vspace, uint64_t *asid)
{
    uint64_t out = 0;
    int err = keel_invoke(pool, KEEL_ASID_POOL_ASSIGN, 0, 0, &vspace, 1, &out, 1);
    if (!err && asid)
        *asid = out;
    return err;
}

int keel_debug_read_pte(uint64_t dbg, uint64_t vspace, uint64_t vaddr, uint64_t *pte, uint64_t *level)
{
    uint64_t out[2] = { 0, 0 };
    int err = keel_invoke(dbg, KEEL_DEBUG_READ_PTE, &vaddr, 1, &vspace, 1, out, 2);
    if (!err) {
        *pte = out[0];
        *level = out[1];
    }
    return err;
}

int keel_debug_vspace_info(uint64_t dbg, uint64_t vspace, struct keel_vspace_info *info)
{
    uint64_t out[4];
    int err = keel_invoke(dbg, KEEL_DEBUG_VSPACE_INFO, 0, 0, &vspace, 1, out, 4);
    if (!err)
        *info = (struct keel_vspace_info){ out[0], out[1], out[2], out[3] };
    return err;
}

/* ---- Interrupts and I/O ports ---- */

int keel_irq_control_get(uint64_t control, uint64_t irq, uint64_t flags, uint64_t dest_slot, uint64_t *gsi)
{
    const uint64_t mr[] = { irq, dest_slot, 64, flags };
    uint64_t out = 0;
    int err = keel_invoke(control, KEEL_IRQ_CONTROL_GET, mr, 4, 0, 0, &out, 1);
    if (!err && gsi)
        *gsi = out;
    return err;
}

int keel_irq_handler_set_notification(uint64_t handler, uint64_t ntfn)
{
    return keel_invoke(handler, KEEL_IRQ_HANDLER_SET_NOTIFICATION, 0, 0, &ntfn, 1, 0, 0);
}

int keel_irq_handler_ack(uint64_t handler) { return keel_invoke(handler, KEEL_IRQ_HANDLER_ACK, 0, 0, 0, 0, 0, 0); }
int keel_irq_handler_clear(uint64_t handler) { return keel_invoke(handler, KEEL_IRQ_HANDLER_CLEAR, 0, 0, 0, 0, 0, 0); }

int keel_ioport_control_issue(uint64_t control, uint64_t first, uint64_t last, uint64_t dest_slot)
{
    const uint64_t mr[] = { first, last, dest_slot, 64 };
    return keel_invoke(control, KEEL_IOPORT_CONTROL_ISSUE, mr, 4, 0, 0, 0, 0);
}

int keel_ioport_bind(uint64_t ioport, uint64_t vspace)
{
    return keel_invoke(ioport, KEEL_IOPORT_BIND, 0, 0, &vspace, 1, 0, 0);
}

int keel_ioport_unbind(uint64_t ioport) { return keel_invoke(ioport, KEEL_IOPORT_UNBIND, 0, 0, 0, 0, 0, 0); }
