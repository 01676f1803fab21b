/* Processes: a program from an ELF image (a boot module or bytes in memory) in its own CSpace and
 * VSpace, with exactly the capabilities its creator names. See docs/api.md, "Processes".
 *
 * Everything a process is made of (its CNode, VSpace and paging structures, TCB, every frame of
 * its segments, stack and IPC buffer) is retyped from one Untyped the creator dedicates to it, so
 * tearing it down is one Revoke of that Untyped: nothing can leak. Capabilities given to it are
 * copies (or minted/moved caps) in its CNode and die with it.
 *
 * The child's CSpace is one CNode of 2^KEEL_PROCESS_CNODE_RADIX slots whose guard makes depth 64,
 * like the root task's, so libkeel's shorthands (KEEL_SLOT_CNODE at depth 64) work unchanged:
 *   1 KEEL_PROCESS_SLOT_TCB          its TCB
 *   2 KEEL_PROCESS_SLOT_CNODE        its CNode (guard set: depth 64)
 *   3 KEEL_PROCESS_SLOT_VSPACE       its VSpace root
 *   7 KEEL_PROCESS_SLOT_IPC_BUFFER   its IPC buffer frame (an unmapped copy)
 *   8 KEEL_PROCESS_SLOT_SUPERVISOR   its supervisor's endpoint, Write only, badged with its pid
 *                                    (only when the creator gave a fault endpoint)
 *  12 KEEL_PROCESS_SLOT_LOG          a Log cap, Write only (the creator's own unless it says
 *                                    otherwise): where its keel_printf goes
 *  16 KEEL_PROCESS_SLOT_FIRST_CAP    the creator's caps, in the order given
 *  then free slots up to the end (keel_slot_alloc in the child hands them out).
 *
 * Its address space: the ELF's PT_LOAD segments (R, RW or RX per p_flags, never W and X), a stack
 * of cfg->stack_size below KEEL_PROCESS_STACK_TOP with an unmapped guard page under it, the IPC
 * buffer at KEEL_PROCESS_IPC_BUFFER. The stack's top page holds the struct keel_startinfo and the
 * argument strings; the thread starts at the ELF entry with RDI = the startinfo's address and
 * RSP 16-byte aligned below it (as the root task starts with RDI = its BootInfo). libkeel's start
 * code tells the two apart by the magic word at offset 0.
 *
 * Faults of the process go to the creator's fault endpoint as Calls badged with the process id
 * (enum keel_fault labels). When its main() returns (or it calls keel_process_exit) a process
 * sends KEEL_PROCESS_MSG_EXIT (MR0 = status) on its supervisor cap, badged the same way, and stops.
 *
 * Not thread-safe: spawn from one thread (it uses the caller's slot allocator, a static page
 * buffer and a scratch window of the caller's VSpace). */
#ifndef KEEL_PROCESS_H
#define KEEL_PROCESS_H

#include <keel/abi.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- The start-up record (in the child) ---- */
#define KEEL_STARTINFO_MAGIC 0x464e495452415453ull /* "STARTINF" */
#define KEEL_STARTINFO_VERSION 1
#define KEEL_PROCESS_NAME_MAX 32     /* bytes with the terminating NUL */
#define KEEL_PROCESS_CAP_NAME_MAX 16 /* bytes with the terminating NUL */
#define KEEL_PROCESS_MAX_CAPS 32
#define KEEL_PROCESS_MAX_ARGS 32
#define KEEL_PROCESS_ARGS_MAX_BYTES 2048 /* argument strings with their NULs */

struct keel_startinfo_cap {
    uint64_t slot;                         /* where it is in the child's CNode */
    char name[KEEL_PROCESS_CAP_NAME_MAX];  /* the creator's name for it ("" if none) */
};

struct keel_startinfo {
    uint64_t magic, version;
    uint64_t pid;                   /* the badge its faults and exit message carry */
    uint64_t ipc_buffer;            /* virtual address of its IPC buffer */
    uint32_t cnode_radix;           /* its CNode has 2^radix slots; its cap's guard makes depth 64 */
    uint32_t argc;
    char **argv;                    /* argc strings, then NULL */
    uint64_t stack_base, stack_top; /* [base, top) is mapped; the page below base is a guard */
    uint64_t supervisor;            /* KEEL_PROCESS_SLOT_SUPERVISOR, or 0 without one */
    struct keel_slot_range empty;   /* free slots of its CNode */
    uint32_t cap_count;
    uint32_t log;                   /* KEEL_PROCESS_SLOT_LOG if it has a Log cap, else 0 */
    struct keel_startinfo_cap caps[KEEL_PROCESS_MAX_CAPS];
    char name[KEEL_PROCESS_NAME_MAX];
};

enum keel_process_slot {
    KEEL_PROCESS_SLOT_TCB = KEEL_SLOT_TCB,
    KEEL_PROCESS_SLOT_CNODE = KEEL_SLOT_CNODE,
    KEEL_PROCESS_SLOT_VSPACE = KEEL_SLOT_VSPACE,
    KEEL_PROCESS_SLOT_IPC_BUFFER = KEEL_SLOT_IPC_BUFFER,
    KEEL_PROCESS_SLOT_SUPERVISOR = 8,
    KEEL_PROCESS_SLOT_LOG = KEEL_SLOT_LOG,
    KEEL_PROCESS_SLOT_FIRST_CAP = KEEL_SLOT_FIRST_FREE_FIXED,
};

#define KEEL_PROCESS_CNODE_RADIX 8
#define KEEL_PROCESS_STACK_TOP KEEL_ROOT_STACK_TOP
#define KEEL_PROCESS_IPC_BUFFER KEEL_ROOT_IPC_BUFFER
#define KEEL_PROCESS_DEFAULT_STACK (64ull * 1024)
#define KEEL_PROCESS_MAX_STACK (8ull << 20)
/* Where spawn maps pages of the caller's VSpace for a moment (module frames to read the ELF, fresh
 * frames to fill them): one PML4 entry that nothing else uses. */
#define KEEL_PROCESS_SCRATCH_VA 0x0000700000000000ull
#define KEEL_PROCESS_MAX_MODULE_BYTES (16ull << 20)

#define KEEL_PROCESS_NO_LOG (~0ull)

/* Label of the message a process sends its supervisor when it ends (MR0 = exit status). */
#define KEEL_PROCESS_MSG_EXIT 0x45584954ull /* "EXIT" */

/* The start-up record of this program if it was started as a process, else NULL. */
const struct keel_startinfo *keel_startinfo_get(void);
/* Slot of the cap the creator named `name`, or 0. */
uint64_t keel_startinfo_cap(const char *name);
/* Tell the supervisor (if any) and stop for good. */
_Noreturn void keel_process_exit(int status);

/* ---- Creating processes ---- */

/* Errors beyond enum keel_error (which spawn also returns: NOT_ENOUGH_MEMORY when the Untyped
 * or the caller's CNode is full, and the kernel's answers to the invocations it makes). */
enum keel_process_error {
    KEEL_PROCESS_E_NO_IMAGE = 0x80,  /* neither a module nor an image, or both */
    KEEL_PROCESS_E_IMAGE_TOO_LARGE,  /* module above KEEL_PROCESS_MAX_MODULE_BYTES */
    KEEL_PROCESS_E_TOO_MANY_CAPS,    /* more than KEEL_PROCESS_MAX_CAPS */
    KEEL_PROCESS_E_ARGS_TOO_LONG,    /* more than KEEL_PROCESS_MAX_ARGS, or their bytes do not fit */
    KEEL_PROCESS_E_LAYOUT,           /* a segment collides with the stack, its guard page or the IPC buffer */
    KEEL_PROCESS_E_BAD_CONFIG,       /* no untyped or ASID pool, stack size, priority, name too long */
    KEEL_PROCESS_E_ELF_BASE = 0x100, /* + enum keel_elf_error: the image is not a loadable ELF */
};
#define KEEL_PROCESS_E_ELF(e) (KEEL_PROCESS_E_ELF_BASE + (e))
static inline bool keel_process_is_elf_error(int err)
{
    return err > KEEL_PROCESS_E_ELF_BASE && err < KEEL_PROCESS_E_ELF_BASE + 0x80;
}

/* Text for any code spawn returns: keel_elf_strerror's for ELF errors, keel_strerror's for the
 * kernel's. */
const char *keel_process_strerror(int err);

/* Flags of a cap given to a process. */
#define KEEL_PROCESS_CAP_MOVE (1u << 0)        /* move it (the caller's slot ends empty): for caps that
                                                  cannot be copied, such as IRQ handlers. On a failed
                                                  spawn it is moved back. */
#define KEEL_PROCESS_CAP_BIND_IOPORT (1u << 1) /* an I/O port cap: bind the child's cap to its VSpace.
                                                  Use it with MOVE of a freshly issued cap: the kernel's
                                                  cap_derive (kernel/object/cnode.c) clears word1, which
                                                  holds an I/O port cap's last port, so a copy grants
                                                  an empty range. */

struct keel_process_cap {
    uint64_t cptr;     /* in the caller's CSpace */
    uint64_t rights;   /* mask of enum keel_rights; 0 keeps all of them */
    uint64_t badge;    /* non-zero: mint with this badge (unbadged endpoints and notifications) */
    uint32_t flags;    /* KEEL_PROCESS_CAP_* */
    const char *name;  /* for keel_startinfo_cap() in the child; NULL: "" */
};

struct keel_process_config {
    const char *name;                      /* NULL: the module's name, or "process" */
    /* The image: exactly one of a module (frames in the caller's CSpace, e.g. from
     * keel_bootinfo_module()) or `image_size` bytes at `image` in the caller's memory. */
    const struct keel_module_info *module;
    const void *image;
    uint64_t image_size;
    uint64_t untyped;     /* caller's cptr of a RAM Untyped dedicated to this process */
    uint64_t asid_pool;   /* caller's cptr of an ASID pool (the root task: KEEL_SLOT_ASID_POOL) */
    uint64_t fault_ep;    /* caller's cptr of an unbadged endpoint for faults and exits, or 0 */
    uint64_t pid;         /* badge for fault_ep; 0: the next number of a counter (from 1) */
    int priority;         /* 0..255, or -1 (KEEL_THREAD_PRIORITY_INHERIT): the caller's own.
                             Also the child's maximum controlled priority. */
    uint64_t stack_size;  /* bytes, a page multiple; 0: KEEL_PROCESS_DEFAULT_STACK */
    unsigned argc;
    const char *const *argv;               /* argv[0] is conventionally the name */
    unsigned cap_count;
    const struct keel_process_cap *caps;   /* to slots KEEL_PROCESS_SLOT_FIRST_CAP + i */
    bool suspended;                        /* build it but do not start it (keel_process_start) */
    uint64_t log;                          /* caller's Log cap for it (KEEL_PROCESS_SLOT_LOG, Write
                                              only): 0 = the caller's own (keel_log_cap()), as a
                                              shell's children inherit its stderr;
                                              KEEL_PROCESS_NO_LOG = none (it prints nothing) */
    uint64_t scratch_va;                   /* 0: KEEL_PROCESS_SCRATCH_VA */
    /* For a root-like child (one its creator gives a BootInfo of its own, see servers/init):
     * 0 in each keeps the usual process. */
    uint32_t cnode_radix;                  /* its CNode's size, KEEL_PROCESS_CNODE_RADIX..20 */
    uint64_t supervisor_slot;              /* where the supervisor cap goes (KEEL_PROCESS_SLOT_SUPERVISOR) */
    uint64_t image_slot;                   /* non-zero: the frames of its segments and stack are
                                              moved to its own CNode from this slot on (the
                                              mapped caps, as a root task has its image frames),
                                              not kept out of its reach; keel_process.image_frames
                                              says how many */
    uint64_t start_arg;                    /* non-zero: RDI at start instead of the startinfo */
};

enum keel_process_state {
    KEEL_PROCESS_NONE = 0,      /* never spawned, or destroyed */
    KEEL_PROCESS_READY,         /* built, not started */
    KEEL_PROCESS_RUNNING,
    KEEL_PROCESS_KILLED,        /* suspended by keel_process_kill; memory still held */
};

struct keel_process {
    enum keel_process_state state;
    uint64_t pid;
    char name[KEEL_PROCESS_NAME_MAX];
    /* caller's slots of its objects (all retyped from `untyped`) */
    uint64_t untyped, tcb, cnode, vspace;
    uint64_t frames;        /* a CNode holding its frame and paging caps (out of its reach) */
    uint64_t entry, startinfo; /* in the child's address space */
    uint64_t pages;         /* frames mapped into it (segments, stack, IPC buffer) */
    uint64_t tables;        /* paging structures made for it */
    uint64_t bytes;         /* the Untyped's watermark after the spawn */
    uint64_t asid;
    uint32_t cnode_radix;   /* its CNode has 2^cnode_radix slots */
    uint64_t image_frames;  /* cfg->image_slot: frames moved to its CNode from there */
    uint64_t start_arg;     /* RDI at start (0: the startinfo's address) */
    const char *failed_step; /* after an error: what spawn was doing (static text) */
};

/* Build the process and (unless cfg->suspended) start it. 0, or an error: then everything made
 * is gone again (the Untyped revoked, caller slots freed, moved caps moved back) and
 * out->failed_step says where it stopped; keel_last_error_detail() has the kernel's details if
 * the error came from an invocation. */
int keel_process_spawn(const struct keel_process_config *cfg, struct keel_process *out);
/* Start a process spawned with cfg->suspended. */
int keel_process_start(struct keel_process *p);
/* Stop its thread for good; its memory stays until keel_process_destroy. */
int keel_process_kill(struct keel_process *p);
/* Stop it and give everything back: Revoke of its Untyped (watermark back to 0), caller slots
 * freed. The Untyped cap itself stays the caller's. */
int keel_process_destroy(struct keel_process *p);

#endif
