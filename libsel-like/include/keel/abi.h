/* Keel's user-visible ABI: syscall numbers and registers, the message-info word, error codes,
 * object and capability types, rights, and every invocation label. Shared verbatim by the
 * kernel and libkeel; fixed-width types only. See docs/abi.md and docs/objects.md. */
#ifndef KEEL_ABI_H
#define KEEL_ABI_H

#include <stdint.h>

/* ---- Syscalls --------------------------------------------------------------------------------
 * `syscall` with RAX = number. In:  RDI = capability pointer, RSI = message info,
 * RDX, R10, R8, R9 = message registers 0-3, R12 = reply capability pointer (Recv, NBRecv,
 * ReplyRecv). Out: RAX = message info, RDI = badge, RDX, R10, R8, R9 = message registers 0-3.
 * RCX and R11 are clobbered (the CPU uses them); every other register is preserved. */
enum keel_syscall {
    KEEL_SYS_CALL = 1,       /* send, then wait for the reply (invocations are Calls) */
    KEEL_SYS_REPLY_RECV = 2, /* reply through the reply object, then Recv on the endpoint */
    KEEL_SYS_SEND = 3,       /* blocking send (endpoint), signal (notification), reply (reply object) */
    KEEL_SYS_NB_SEND = 4,    /* send only if a receiver waits; never blocks */
    KEEL_SYS_RECV = 5,       /* wait on an endpoint or notification */
    KEEL_SYS_NB_RECV = 6,    /* poll: returns KEEL_E_WOULD_BLOCK if nothing is there */
    KEEL_SYS_YIELD = 7,      /* give up the rest of the time slice */
    KEEL_SYS_DEBUG_PUTCHAR = 8, /* debug kernels only: write RDI's low byte to the kernel console (a
                                   kernel-hacking aid; programs log through their Log cap) */
};
#define KEEL_SYSCALL_COUNT 8

/* ---- Message info ----------------------------------------------------------------------------
 *   bits 0-6   length: message registers used (0..KEEL_MSG_MAX_LENGTH)
 *   bits 7-8   extra caps: capabilities sent (sender) / received (receiver), 0..3
 *   bits 9-11  caps unwrapped: bit i set = extra cap i arrived as its badge in the IPC buffer
 *   bits 12-61 label
 *   bit 62     notification: the receiver was woken by its bound notification; badge = the word
 *   bit 63     error: the kernel answered with an error; label = enum keel_error
 */
#define KEEL_MSG_MAX_LENGTH 64
#define KEEL_MSG_REGISTERS 4    /* message registers passed in CPU registers */
#define KEEL_MSG_MAX_CAPS 3
#define KEEL_MSG_LABEL_BITS 50
#define KEEL_MSG_NOTIFICATION (1ull << 62)
#define KEEL_MSG_ERROR (1ull << 63)

typedef uint64_t keel_msginfo_t;

static inline keel_msginfo_t keel_msginfo(uint64_t label, uint64_t caps, uint64_t length)
{
    return ((label & ((1ull << KEEL_MSG_LABEL_BITS) - 1)) << 12) | ((caps & 3) << 7) | (length & 0x7f);
}
static inline uint64_t keel_msg_label(keel_msginfo_t m) { return (m >> 12) & ((1ull << KEEL_MSG_LABEL_BITS) - 1); }
static inline uint64_t keel_msg_length(keel_msginfo_t m) { return m & 0x7f; }
static inline uint64_t keel_msg_extra_caps(keel_msginfo_t m) { return (m >> 7) & 3; }
static inline uint64_t keel_msg_unwrapped(keel_msginfo_t m) { return (m >> 9) & 7; }
static inline int keel_msg_is_error(keel_msginfo_t m) { return (m & KEEL_MSG_ERROR) != 0; }

/* ---- Errors ----------------------------------------------------------------------------------
 * An error reply has KEEL_MSG_ERROR set, label = the code, and detail words in MR0.. as noted.
 * "which" in a detail word names a capability pointer: 0 for the invoked cptr, otherwise its
 * 1-based position among the invocation's arguments (extra cap i: i + 1; a cptr passed in MR k:
 * k + 1; the reply cptr of Recv/ReplyRecv: 1). */
enum keel_error {
    KEEL_OK = 0,
    KEEL_E_INVALID_ARGUMENT = 1,   /* MR0 = index of the bad argument */
    KEEL_E_INVALID_CAPABILITY = 2, /* a cap of the wrong type; MR0 = 0 for the invoked cap, i+1 for extra cap i.
                                      An empty slot is KEEL_E_FAILED_LOOKUP with KEEL_LOOKUP_MISSING_CAP. */
    KEEL_E_ILLEGAL_OPERATION = 3,  /* not an operation of this object, or not in its current state */
    KEEL_E_RANGE = 4,              /* MR0 = argument index, MR1 = minimum, MR2 = maximum allowed */
    KEEL_E_ALIGNMENT = 5,          /* MR0 = argument index, MR1 = required alignment */
    KEEL_E_FAILED_LOOKUP = 6,      /* MR0 = enum keel_lookup_failure, MR1 = bits left, MR2 = which cptr (0 invoked, i+1 extra/argument) */
    KEEL_E_TRUNCATED_MESSAGE = 7,  /* the message is too short for the invocation; MR0 = words needed */
    KEEL_E_DELETE_FIRST = 8,       /* the destination slot (or page-table entry) is occupied; MR0 = which one */
    KEEL_E_REVOKE_FIRST = 9,       /* the resource is taken by another cap (an IRQ line with a handler); MR0 which */
    KEEL_E_NOT_ENOUGH_MEMORY = 10, /* MR0 = bytes available */
    KEEL_E_INSUFFICIENT_RIGHTS = 11, /* MR0 = rights needed (enum keel_rights) */
    KEEL_E_WOULD_BLOCK = 12,       /* NBSend with no receiver, NBRecv with nothing to receive */
    KEEL_E_NOT_SUPPORTED = 13,     /* this CPU or kernel build lacks the feature */
    KEEL_E_CANCELLED = 14,         /* the IPC partner or its object went away mid-operation */
    KEEL_E_MAPPED = 15,            /* this frame/table cap is already mapped: unmap it, or map a copy */
    KEEL_E_MISSING_TABLE = 16,     /* no paging structure at a level on the way; MR0 = the type needed (KEEL_OBJ_PDPT/PD/PT) */
    KEEL_E_NO_ASID = 17,           /* the VSpace has no ASID yet (ASIDPool.Assign) */
    KEEL_ERROR_COUNT
};

enum keel_lookup_failure {
    KEEL_LOOKUP_INVALID_ROOT = 1,   /* the root is not a CNode */
    KEEL_LOOKUP_MISSING_CAP = 2,    /* an empty slot on the way */
    KEEL_LOOKUP_DEPTH_MISMATCH = 3, /* depth too small or too large for the CNodes on the way */
    KEEL_LOOKUP_GUARD_MISMATCH = 4, /* the cptr's bits do not match a CNode's guard */
};

/* ---- Rights ------------------------------------------------------------------------------- */
enum keel_rights {
    KEEL_RIGHT_READ = 1 << 0,        /* endpoints and notifications: receive/wait; frames: map readable */
    KEEL_RIGHT_WRITE = 1 << 1,       /* endpoints: send; notifications: signal; frames: map writable */
    KEEL_RIGHT_GRANT = 1 << 2,       /* endpoints: send capabilities along with a message */
    KEEL_RIGHT_GRANT_REPLY = 1 << 3, /* endpoints: a Call through this cap accepts caps in the reply */
    KEEL_RIGHTS_ALL = 0xf,
};

/* ---- Object and capability types ----------------------------------------------------------
 * Objects (1..KEEL_OBJECT_TYPE_COUNT-1) can be made by Untyped.Retype; the rest exist from boot. */
enum keel_cap_type {
    KEEL_CAP_NULL = 0,
    KEEL_OBJ_UNTYPED = 1,
    KEEL_OBJ_TCB = 2,
    KEEL_OBJ_ENDPOINT = 3,
    KEEL_OBJ_NOTIFICATION = 4,
    KEEL_OBJ_REPLY = 5,
    KEEL_OBJ_CNODE = 6,
    KEEL_OBJ_PML4 = 7,       /* a VSpace root */
    KEEL_OBJ_PDPT = 8,
    KEEL_OBJ_PD = 9,
    KEEL_OBJ_PT = 10,
    KEEL_OBJ_FRAME_4K = 11,
    KEEL_OBJ_FRAME_2M = 12,
    KEEL_OBJ_FRAME_1G = 13,
    KEEL_OBJECT_TYPE_COUNT = 14,
    KEEL_CAP_IRQ_CONTROL = 32,
    KEEL_CAP_IRQ_HANDLER = 33,
    KEEL_CAP_IOPORT_CONTROL = 34,
    KEEL_CAP_IOPORT = 35,
    KEEL_CAP_ASID_CONTROL = 36,
    KEEL_CAP_ASID_POOL = 37,
    KEEL_CAP_DEBUG = 38,     /* kernel introspection: invariant checks, counters, identify */
    KEEL_CAP_LOG = 39,       /* write to the kernel console (every build; docs/objects.md) */
};

/* Object sizes (log2 bytes); objects are naturally aligned inside their Untyped. */
#define KEEL_TCB_SIZE_BITS 11
#define KEEL_ENDPOINT_SIZE_BITS 6
#define KEEL_NOTIFICATION_SIZE_BITS 6
#define KEEL_REPLY_SIZE_BITS 6
#define KEEL_SLOT_SIZE_BITS 6    /* a CNode of radix r takes 2^(r + 6) bytes */
#define KEEL_PML4_SIZE_BITS 13   /* the table page plus a page of per-VSpace TLB bookkeeping */
#define KEEL_ASID_POOL_SIZE_BITS 12
#define KEEL_ASID_POOL_ENTRIES 512
#define KEEL_ASID_POOLS 64
#define KEEL_CNODE_MIN_RADIX 1
#define KEEL_CNODE_MAX_RADIX 20
#define KEEL_PAGE_BITS 12
#define KEEL_UNTYPED_MIN_SIZE 4096ull

/* ---- Invocation labels (the label of a Call on an object's capability) -------------------- */
enum keel_invocation {
    /* Untyped */
    KEEL_UNTYPED_RETYPE = 1,   /* MR0 type, MR1 size (CNode: radix; Untyped: bytes, page multiple; else ignored),
                                  MR2 destination CNode cptr, MR3 its depth (0: the caller's root CNode),
                                  MR4 first slot, MR5 count. Reply: MR0 bytes left. Device Untyped
                                  become only frames or smaller device Untyped. */
    KEEL_UNTYPED_DESCRIBE,     /* reply: MR0 physical base, MR1 size, MR2 watermark (bytes used), MR3 is device */

    /* CNode: the invoked CNode is the destination root; (index, depth) address a slot below it. */
    KEEL_CNODE_COPY = 16,      /* MR0 dest index, MR1 dest depth, MR2 src root cptr, MR3 src index, MR4 src depth, MR5 rights mask */
    KEEL_CNODE_MINT,           /* as Copy, MR6 badge (endpoints, notifications) or guard (CNodes: MR6 guard, MR7 guard
                                  bits); always 8 words. Only an unbadged cap can be badged. */
    KEEL_CNODE_MOVE,           /* MR0-4 as Copy */
    KEEL_CNODE_MUTATE,         /* as Move, MR5 rights mask, MR6 badge/guard, MR7 guard bits */
    KEEL_CNODE_DELETE,         /* MR0 index, MR1 depth */
    KEEL_CNODE_REVOKE,         /* MR0 index, MR1 depth: delete every descendant */
    KEEL_CNODE_ROTATE,         /* MR0 dest index, MR1 dest depth, MR2 pivot index, MR3 pivot depth,
                                  MR4 src index, MR5 src depth, MR6 pivot badge, MR7 dest badge:
                                  pivot -> dest (gets the dest badge), src -> pivot (gets the pivot
                                  badge), all within the invoked CNode; dest == src swaps */

    /* TCB */
    KEEL_TCB_CONFIGURE = 32,   /* extra caps: CSpace root CNode, VSpace root, IPC buffer frame;
                                  MR0 IPC buffer virtual address, MR1 CSpace guard, MR2 guard bits,
                                  MR3 fault endpoint cptr (in the invoker's CSpace).
                                  A null cap (cptr 0) leaves that part as it is. */
    KEEL_TCB_SET_PRIORITY,     /* MR0 priority (<= the authority's MCP); extra cap 0: the authority TCB */
    KEEL_TCB_SET_MC_PRIORITY,  /* MR0 maximum controlled priority (<= the authority's MCP); extra cap 0: authority */
    KEEL_TCB_SET_IPC_BUFFER,   /* MR0 virtual address; extra cap 0: the frame */
    KEEL_TCB_READ_REGISTERS,   /* reply: MR0.. = struct keel_user_regs in order */
    KEEL_TCB_WRITE_REGISTERS,  /* MR0 resume (0/1), MR1.. = struct keel_user_regs in order */
    KEEL_TCB_RESUME,
    KEEL_TCB_SUSPEND,
    KEEL_TCB_BIND_NOTIFICATION,   /* extra cap 0: the notification */
    KEEL_TCB_UNBIND_NOTIFICATION,
    KEEL_TCB_SET_AFFINITY,     /* MR0 CPU index */
    KEEL_TCB_SET_PKRU,         /* MR0 PKRU value (needs PKU) */
    KEEL_TCB_GET_INFO,         /* reply: MR0 state (enum keel_thread_state), MR1 priority, MR2 MCP, MR3 CPU */

    /* Notifications are signalled with Send and waited on with Recv; no invocations. */

    /* Debug capability */
    KEEL_DEBUG_CHECK_INVARIANTS = 64, /* reply: MR0 violations found (0 = all good); details in the kernel log */
    KEEL_DEBUG_CAP_IDENTIFY,          /* MR0 cptr: reply MR0 cap type (0 for an empty slot), MR1 rights, MR2 the
                                         cap's data word (badge; CNode guard; Untyped size), MR3 object address */
    KEEL_DEBUG_TLB_COUNTERS,          /* MR0 CPU: reply MR0.. = struct keel_tlb_counters in order */
    KEEL_DEBUG_EXIT,                  /* MR0 status (0 pass, 1 fail): end the emulator (test images) */
    KEEL_DEBUG_KERNEL_INFO,           /* reply: MR0 tick count, MR1 TSC kHz, MR2 timer Hz, MR3 flags (bit 0 debug build, bit 1 fastpath) */
    KEEL_DEBUG_SET_FAULT_LOGGING,     /* MR0 0/1: log unhandled user faults (default 1) */
    KEEL_DEBUG_READ_PTE,              /* extra cap 0: VSpace root; MR0 vaddr: reply MR0 the leaf entry (0 if
                                         unmapped), MR1 its level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB, 0 none) */
    KEEL_DEBUG_VSPACE_INFO,           /* extra cap 0: VSpace root: reply MR0 ASID, MR1 PCID on this CPU (0 none),
                                         MR2 TLB generation, MR3 CPU mask */
    KEEL_DEBUG_HOLD_LOCK,             /* MR0 ms (1..10000): spin that long holding the big kernel lock (debug
                                         kernels only; tests the lock watchdog, which then panics) */
    KEEL_DEBUG_CPU_STATE,             /* MR0 CPU: reply MR0 timer ticks, MR1 1 if it runs a thread (0 idle),
                                         MR2 highest queued priority + 1 (0: queue empty), MR3 need_resched,
                                         MR4 mailbox requests not yet answered (for stall reports) */

    /* Paging structures (PDPT, PD, PT): map into a VSpace at the level their type implies. */
    KEEL_PAGING_MAP = 80,      /* extra cap 0: VSpace root (PML4); MR0 vaddr (low bits ignored) */
    KEEL_PAGING_UNMAP,

    /* Frames (4 KiB, 2 MiB, 1 GiB) */
    KEEL_FRAME_MAP = 88,       /* extra cap 0: VSpace root; MR0 vaddr (aligned to the frame size),
                                  MR1 access (KEEL_MAP_*), MR2 attributes (KEEL_CACHE_* | KEEL_MAP_PKEY(k)) */
    KEEL_FRAME_REMAP,          /* MR0 access, MR1 attributes: change a mapping in place */
    KEEL_FRAME_UNMAP,
    KEEL_FRAME_GET_ADDRESS,    /* reply MR0 physical address, MR1 size in bytes, MR2 mapped vaddr (0 if not) */

    /* VSpace roots */
    KEEL_VSPACE_UNMAP_BATCH = 96, /* MR0 count (1..KEEL_UNMAP_BATCH_MAX), MR1.. frame cptrs mapped in this VSpace:
                                     one invocation, one flush decision (per page or whole PCID) */

    /* ASID control and pools */
    KEEL_ASID_CONTROL_MAKE_POOL = 104, /* extra cap 0: Untyped (4 KiB is taken from it); MR0 destination slot
                                          index, MR1 its depth, in the invoker's CSpace root */
    KEEL_ASID_POOL_ASSIGN = 108,       /* extra cap 0: VSpace root without an ASID; reply MR0 the ASID */

    /* Interrupts: IRQControl makes one handler cap per line; the line is masked until Ack. */
    KEEL_IRQ_CONTROL_GET = 112,  /* MR0 line (ISA IRQ 0-15, or a GSI with KEEL_IRQ_GSI), MR1 destination slot,
                                    MR2 its depth (invoker's CSpace root), MR3 flags KEEL_IRQ_*; reply MR0 GSI */
    KEEL_IRQ_HANDLER_SET_NOTIFICATION = 116, /* extra cap 0: notification (Write right); signalled with its badge */
    KEEL_IRQ_HANDLER_ACK,        /* the driver has handled it: unmask the line */
    KEEL_IRQ_HANDLER_CLEAR,      /* unbind the notification */

    /* I/O ports: a port range cap is bound to a VSpace, whose threads then use in/out directly
     * (the kernel installs the range in the CPU's I/O permission bitmap when the VSpace runs). */
    KEEL_IOPORT_CONTROL_ISSUE = 120, /* MR0 first port, MR1 last port, MR2 destination slot, MR3 its depth */
    KEEL_IOPORT_BIND = 124,      /* extra cap 0: VSpace root (at most KEEL_IOPORT_RANGES per VSpace) */
    KEEL_IOPORT_UNBIND,          /* also happens when the cap is deleted or revoked: access ends at once */

    /* Log: the kernel console for processes, in every build (libkeel's printf writes through it). */
    KEEL_LOG_WRITE = 128,        /* MR0 bytes (0..KEEL_LOG_WRITE_MAX; 0 writes nothing), MR1.. the bytes,
                                    8 per word, first byte lowest; needs the Write right */
};
#define KEEL_LOG_WRITE_MAX ((KEEL_MSG_MAX_LENGTH - 1) * 8)

#define KEEL_IRQ_GSI (1u << 0)          /* MR0 is a global system interrupt number, not an ISA IRQ */
#define KEEL_IRQ_LEVEL (1u << 1)        /* level-triggered (GSIs; ISA IRQs follow the ACPI overrides) */
#define KEEL_IRQ_ACTIVE_LOW (1u << 2)
#define KEEL_IOPORT_RANGES 8

/* Frame mapping access and attributes. Writable and executable together is refused (W^X). */
#define KEEL_MAP_READ 1u
#define KEEL_MAP_WRITE 2u
#define KEEL_MAP_EXEC 4u
#define KEEL_CACHE_WB 0u  /* write-back (normal memory) */
#define KEEL_CACHE_WC 1u  /* write-combining (framebuffers) */
#define KEEL_CACHE_UC 2u  /* uncached (device registers) */
#define KEEL_MAP_PKEY(k) ((uint64_t)(k) << 8) /* protection key 0-15, needs PKU */
#define KEEL_UNMAP_BATCH_MAX 60
#define KEEL_UNMAP_FLUSH_THRESHOLD 16 /* more pages than this in one invocation: flush the whole PCID */

/* Fault messages: a faulting thread sends a Call to its fault endpoint (which needs the Write
 * right) with one of these labels. Reply with label 0 to resume the thread where it faulted (fix
 * its registers first with WriteRegisters, resume = 0, if needed); a non-zero label leaves it
 * stopped (inactive). With no usable fault endpoint the thread is suspended and the kernel logs it. */
enum keel_fault {
    KEEL_FAULT_VM = 2,         /* MR0 RIP, MR1 faulting address, MR2 page-fault error code (bit 5: protection key) */
    KEEL_FAULT_EXCEPTION = 3,  /* MR0 RIP, MR1 vector, MR2 error code, MR3 RSP */
    KEEL_FAULT_UNKNOWN_SYSCALL = 4, /* MR0 RIP, MR1 the syscall number */
    KEEL_FAULT_NO_VSPACE = 5,  /* MR0 RIP: the thread's VSpace is gone or has lost its ASID */
};

enum keel_thread_state {
    KEEL_THREAD_INACTIVE = 0,
    KEEL_THREAD_RUNNING = 1,       /* running or ready to run */
    KEEL_THREAD_BLOCKED_SEND = 2,
    KEEL_THREAD_BLOCKED_RECV = 3,
    KEEL_THREAD_BLOCKED_REPLY = 4,
    KEEL_THREAD_BLOCKED_NOTIFICATION = 5,
};

#define KEEL_MAX_PRIORITY 255

/* Register file order for Read/WriteRegisters. */
struct keel_user_regs {
    uint64_t rip, rsp, rflags, rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15,
        fs_base, gs_base;
};
#define KEEL_USER_REGS_WORDS 20

/* Per CPU. lazy_flush: loads that flushed because the VSpace went stale while this CPU was not
 * running it (a shootdown it was spared). lock_*: big-kernel-lock acquisitions and contended ones. */
struct keel_tlb_counters {
    uint64_t cr3_flush, cr3_noflush, invlpg, invpcid_single, invpcid_context, invpcid_all, invpcid_all_non_global,
        full_flush, shootdown_sent, shootdown_received, lazy_flush, lock_acquired, lock_contended,
        shootdown_pages, /* pages named by the shootdown requests sent (pages per shootdown: / sent) */
        shootdown_whole; /* requests sent that flush the whole PCID (past the page threshold) */
};
#define KEEL_TLB_COUNTER_WORDS 15

/* ---- The IPC buffer: one 4 KiB frame per thread, set with TCB Configure/SetIPCBuffer ------- */
struct keel_ipc_buffer {
    uint64_t tag;
    uint64_t mr[KEEL_MSG_MAX_LENGTH];  /* mr[0..3] travel in registers; mr[4..] live here */
    uint64_t caps[KEEL_MSG_MAX_CAPS];  /* sender: cptrs of the caps to send; receiver: badges of unwrapped caps */
    uint64_t receive_cnode;            /* where a received capability goes: CNode cptr (0 = CSpace root), */
    uint64_t receive_index;            /*   slot index below it, */
    uint64_t receive_depth;            /*   and the depth of that index */
    uint64_t user_data;                /* free for the thread library (e.g. its own address) */
};

/* ---- Boot information, mapped read-only into the root task -------------------------------- */
#define KEEL_BOOTINFO_MAGIC 0x4f464e49544f4f42ull /* "BOOTINFO" */
#define KEEL_BOOTINFO_VERSION 2 /* 2: the screen (struct keel_screen_info) */
#define KEEL_BOOTINFO_MAX_UNTYPED 160
#define KEEL_BOOTINFO_MAX_MODULES 24

/* Fixed slots of the root CNode. */
enum keel_initial_slot {
    KEEL_SLOT_NULL = 0,
    KEEL_SLOT_TCB = 1,
    KEEL_SLOT_CNODE = 2,
    KEEL_SLOT_VSPACE = 3,
    KEEL_SLOT_IRQ_CONTROL = 4,
    KEEL_SLOT_ASID_CONTROL = 5,
    KEEL_SLOT_IOPORT_CONTROL = 6,
    KEEL_SLOT_IPC_BUFFER = 7,
    KEEL_SLOT_BOOTINFO_FRAME = 8,
    KEEL_SLOT_DEBUG = 9,
    KEEL_SLOT_ASID_POOL = 10,
    KEEL_SLOT_LOG = 12,      /* the Log cap (11 is a root-like child's supervisor cap, servers/init) */
    KEEL_SLOT_FIRST_FREE_FIXED = 16,
};

struct keel_slot_range {
    uint64_t start, end; /* [start, end) */
};

struct keel_untyped_info {
    uint64_t paddr;
    uint64_t size;       /* bytes, a multiple of 4096 */
    uint8_t is_device;
    uint8_t flags;       /* KEEL_UNTYPED_* */
    uint8_t reserved[6];
};
#define KEEL_UNTYPED_SCREEN 1u /* device Untyped: the screen described by keel_bootinfo.screen */

/* The screen the kernel drew its boot log on, handed to the root task as one device Untyped
 * (untyped_list[untyped_index], flagged KEEL_UNTYPED_SCREEN) once the kernel stops drawing on it.
 * type KEEL_SCREEN_NONE: no screen (serial-only machine, or a framebuffer the kernel could not use). */
enum keel_screen_type {
    KEEL_SCREEN_NONE = 0,
    KEEL_SCREEN_TEXT = 1, /* VGA text: 2 bytes per cell (character, attribute), width x height cells */
    KEEL_SCREEN_RGB = 2,  /* linear direct-colour framebuffer, width x height pixels */
};
struct keel_screen_info {
    uint32_t type;          /* enum keel_screen_type */
    uint32_t untyped_index; /* its entry in untyped_list */
    uint64_t paddr;         /* first byte of the screen; inside the Untyped, maybe not page-aligned */
    uint64_t size;          /* pitch * height bytes from paddr, all inside the Untyped */
    uint32_t width, height; /* pixels (RGB) or character cells (text) */
    uint32_t pitch;         /* bytes from one pixel row (text row) to the next */
    uint8_t bpp;            /* bits per pixel: 15, 16, 24 or 32 (RGB); 16 (text) */
    uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size; /* RGB colour fields */
    uint8_t reserved;
};

struct keel_module_info {
    uint64_t size;       /* bytes */
    uint64_t first_frame_slot; /* 4 KiB frame caps, (size + 4095) / 4096 of them */
    char name[48];
};

struct keel_bootinfo {
    uint64_t magic, version;
    uint64_t ipc_buffer;            /* virtual address of the root task's IPC buffer */
    uint32_t cnode_radix;           /* root CNode size: 2^radix slots; its cap's guard makes depth 64 */
    uint32_t cpu_count;
    uint64_t tsc_khz;
    uint64_t features;              /* KEEL_FEATURE_* */
    struct keel_slot_range empty;         /* free slots of the root CNode */
    struct keel_slot_range untyped;       /* Untyped caps, described by untyped_list in order */
    struct keel_slot_range module_frames; /* frames of all modules */
    struct keel_slot_range image_frames;  /* the root task's own frames (code, data, stack) */
    struct keel_slot_range image_paging;  /* the root task's page tables */
    uint32_t untyped_count, module_count;
    struct keel_untyped_info untyped_list[KEEL_BOOTINFO_MAX_UNTYPED];
    struct keel_module_info modules[KEEL_BOOTINFO_MAX_MODULES];
    char cmdline[256];
    /* Appended later; the kernel leaves them 0. A root-like process that init (or another
     * creator) starts with a BootInfo of its own has KEEL_BOOTINFO_CHILD set: it is not the
     * machine's root task, so it ends by exiting to its supervisor, not by ending the machine. */
    uint64_t flags;                 /* KEEL_BOOTINFO_* */
    uint64_t supervisor;            /* KEEL_BOOTINFO_CHILD: slot of its Write-only cap to the
                                       supervisor's endpoint (exit message, faults), else 0 */
    struct keel_screen_info screen; /* version 2 on */
};

#define KEEL_BOOTINFO_CHILD (1ull << 0) /* a process given a BootInfo, not the root task */

#define KEEL_FEATURE_PCID (1ull << 0)
#define KEEL_FEATURE_INVPCID (1ull << 1)
#define KEEL_FEATURE_PKU (1ull << 2)
#define KEEL_FEATURE_SMEP (1ull << 3)
#define KEEL_FEATURE_SMAP (1ull << 4)
#define KEEL_FEATURE_NX (1ull << 5)
#define KEEL_FEATURE_1G_PAGES (1ull << 6)
#define KEEL_FEATURE_DEBUG_KERNEL (1ull << 7)

/* Root task address space: where the kernel puts things. */
#define KEEL_ROOT_IPC_BUFFER 0x00007ffff0000000ull
#define KEEL_ROOT_BOOTINFO 0x00007fffe0000000ull
#define KEEL_ROOT_STACK_TOP 0x00007fffd0000000ull
#define KEEL_ROOT_STACK_SIZE (64ull * 1024)

#endif
