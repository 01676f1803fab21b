/* One typed wrapper per kernel invocation in abi.h. Each returns 0 or an enum keel_error; the
 * reply's words (error details or results) stay available through keel_last_error_detail() and
 * keel_last_reply_mr() (keel/tls.h). Wrappers that send more than four message registers or any
 * extra capability use the calling thread's IPC buffer; from a thread without one they fail with
 * KEEL_E_ILLEGAL_OPERATION before entering the kernel (detail MR0 = KEEL_NO_IPC_BUFFER). */
#ifndef KEEL_INVOKE_H
#define KEEL_INVOKE_H

#include <keel/abi.h>
#include <stdbool.h>
#include <stdint.h>

#define KEEL_NO_IPC_BUFFER 0x4e4f425546ull /* detail word of the library's own "no IPC buffer" error */
#define KEEL_CSPACE_DEPTH 64               /* depth that resolves a slot of the root CNode */

/* Generic Call-style invocation: nmr words from mr (MR0..), ncaps extra caps; on success the
 * first nout reply words are stored in out (out may alias mr). */
int keel_invoke(uint64_t cptr, uint64_t label, const uint64_t *mr, unsigned nmr, const uint64_t *caps,
                unsigned ncaps, uint64_t *out, unsigned nout);

/* ---- Untyped ---- */
int keel_untyped_retype(uint64_t ut, uint64_t type, uint64_t size, uint64_t dest_cnode, uint64_t dest_depth,
                        uint64_t first_slot, uint64_t count);
struct keel_untyped_desc {
    uint64_t paddr, size, watermark;
    bool is_device;
};
int keel_untyped_describe(uint64_t ut, struct keel_untyped_desc *d);

/* ---- CNode: `root` is the invoked CNode, (index, depth) name a slot below it ---- */
int keel_cnode_copy(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                    uint64_t src_index, uint64_t src_depth, uint64_t rights);
int keel_cnode_mint(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                    uint64_t src_index, uint64_t src_depth, uint64_t rights, uint64_t badge);
int keel_cnode_mint_guard(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                          uint64_t src_index, uint64_t src_depth, uint64_t rights, uint64_t guard,
                          uint64_t guard_bits);
int keel_cnode_move(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                    uint64_t src_index, uint64_t src_depth);
int keel_cnode_mutate(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t src_root,
                      uint64_t src_index, uint64_t src_depth, uint64_t rights, uint64_t badge_or_guard,
                      uint64_t guard_bits);
int keel_cnode_delete(uint64_t root, uint64_t index, uint64_t depth);
int keel_cnode_revoke(uint64_t root, uint64_t index, uint64_t depth);
int keel_cnode_rotate(uint64_t root, uint64_t dest_index, uint64_t dest_depth, uint64_t pivot_index,
                      uint64_t pivot_depth, uint64_t src_index, uint64_t src_depth, uint64_t pivot_badge,
                      uint64_t dest_badge);

/* Shorthands for slots of the caller's root CNode (KEEL_SLOT_CNODE, depth 64). */
int keel_cspace_copy(uint64_t dest, uint64_t src, uint64_t rights);
int keel_cspace_mint(uint64_t dest, uint64_t src, uint64_t rights, uint64_t badge);
int keel_cspace_move(uint64_t dest, uint64_t src);
int keel_cspace_mutate(uint64_t dest, uint64_t src, uint64_t rights, uint64_t badge);
int keel_cspace_delete(uint64_t slot);
int keel_cspace_revoke(uint64_t slot);

/* ---- TCB ---- */
int keel_tcb_configure(uint64_t tcb, uint64_t cspace_root, uint64_t vspace_root, uint64_t ipc_frame,
                       uint64_t fault_ep, uint64_t ipc_addr, uint64_t cspace_guard, uint64_t cspace_guard_bits);
int keel_tcb_set_priority(uint64_t tcb, uint64_t authority, uint64_t priority);
int keel_tcb_set_mc_priority(uint64_t tcb, uint64_t authority, uint64_t mcp);
int keel_tcb_set_ipc_buffer(uint64_t tcb, uint64_t frame, uint64_t addr);
int keel_tcb_read_registers(uint64_t tcb, struct keel_user_regs *regs);
int keel_tcb_write_registers(uint64_t tcb, bool resume, const struct keel_user_regs *regs);
int keel_tcb_resume(uint64_t tcb);
int keel_tcb_suspend(uint64_t tcb);
int keel_tcb_bind_notification(uint64_t tcb, uint64_t ntfn);
int keel_tcb_unbind_notification(uint64_t tcb);
int keel_tcb_set_affinity(uint64_t tcb, uint64_t cpu);
int keel_tcb_set_pkru(uint64_t tcb, uint64_t pkru);
struct keel_tcb_info {
    uint64_t state;    /* enum keel_thread_state */
    uint64_t priority, mcp, cpu;
};
int keel_tcb_get_info(uint64_t tcb, struct keel_tcb_info *info);

/* ---- Log capability (every build) ---- */
/* Write n bytes to the kernel console through a Log cap, in pieces of KEEL_LOG_WRITE_MAX (each
 * written whole). n = 0 writes nothing and tells whether `log` is a usable Log cap. */
int keel_log_write(uint64_t log, const char *s, uint64_t n);
/* This program's Log cap (the root task's KEEL_SLOT_LOG; a process's KEEL_PROCESS_SLOT_LOG when
 * its creator gave it one), or 0: where keel_printf writes by default. */
uint64_t keel_log_cap(void);

/* ---- Debug capability ---- */
int keel_debug_check_invariants(uint64_t dbg, uint64_t *violations);
struct keel_cap_identity {
    uint64_t type;     /* enum keel_cap_type */
    uint64_t rights;   /* enum keel_rights mask */
    uint64_t badge;    /* badge, or a CNode's guard */
    uint64_t object;   /* kernel's object address (compare for "same object") */
};
int keel_debug_cap_identify(uint64_t dbg, uint64_t cptr, struct keel_cap_identity *id);
int keel_debug_tlb_counters(uint64_t dbg, uint64_t cpu, struct keel_tlb_counters *c);
int keel_debug_exit(uint64_t dbg, uint64_t status);
struct keel_kernel_info {
    uint64_t ticks, tsc_khz, timer_hz, flags;
};
#define KEEL_KERNEL_INFO_DEBUG (1ull << 0)
#define KEEL_KERNEL_INFO_FASTPATH (1ull << 1)
int keel_debug_kernel_info(uint64_t dbg, struct keel_kernel_info *info);
int keel_debug_set_fault_logging(uint64_t dbg, bool on);
struct keel_cpu_state {
    uint64_t ticks, running, top_priority_plus_1, need_resched, unanswered;
};
/* One CPU's scheduling state (any kernel): for reports when something stalls. */
int keel_debug_cpu_state(uint64_t dbg, uint64_t cpu, struct keel_cpu_state *st);
/* Debug kernels: hold the big lock for `ms` (1..10000) ms; tests the lock watchdog. */
int keel_debug_hold_lock(uint64_t dbg, uint64_t ms);

/* ---- Address spaces ---- */
/* Map a PDPT, PD or PT into `vspace` covering `vaddr`. */
int keel_paging_map(uint64_t table, uint64_t vspace, uint64_t vaddr);
int keel_paging_unmap(uint64_t table);
/* Map a frame at `vaddr` with `access` (KEEL_MAP_*) and `attr` (KEEL_CACHE_* | KEEL_MAP_PKEY(k)). */
int keel_frame_map(uint64_t frame, uint64_t vspace, uint64_t vaddr, uint64_t access, uint64_t attr);
int keel_frame_remap(uint64_t frame, uint64_t access, uint64_t attr);
int keel_frame_unmap(uint64_t frame);
struct keel_frame_info {
    uint64_t paddr, size, mapped_vaddr;
};
int keel_frame_get_address(uint64_t frame, struct keel_frame_info *info);
/* Unmap up to KEEL_UNMAP_BATCH_MAX frames of `vspace` in one invocation; *unmapped counts them. */
int keel_vspace_unmap_batch(uint64_t vspace, const uint64_t *frames, unsigned count, uint64_t *unmapped);
int keel_asid_control_make_pool(uint64_t control, uint64_t untyped, uint64_t dest_slot);
int keel_asid_pool_assign(uint64_t pool, uint64_t vspace, uint64_t *asid);
int keel_debug_read_pte(uint64_t dbg, uint64_t vspace, uint64_t vaddr, uint64_t *pte, uint64_t *level);
struct keel_vspace_info {
    uint64_t asid, pcid, tlb_gen, cpu_mask;
};
int keel_debug_vspace_info(uint64_t dbg, uint64_t vspace, struct keel_vspace_info *info);

/* ---- Interrupts and I/O ports ---- */
/* A handler cap for ISA IRQ `irq` (or a GSI with KEEL_IRQ_GSI in flags) in `dest_slot`; *gsi = its line. */
int keel_irq_control_get(uint64_t control, uint64_t irq, uint64_t flags, uint64_t dest_slot, uint64_t *gsi);
int keel_irq_handler_set_notification(uint64_t handler, uint64_t ntfn);
int keel_irq_handler_ack(uint64_t handler);
int keel_irq_handler_clear(uint64_t handler);
/* A cap for ports [first, last] in `dest_slot`. */
int keel_ioport_control_issue(uint64_t control, uint64_t first, uint64_t last, uint64_t dest_slot);
/* Open the range to every thread of `vspace` (they then use in/out directly). */
int keel_ioport_bind(uint64_t ioport, uint64_t vspace);
int keel_ioport_unbind(uint64_t ioport);

#endif
