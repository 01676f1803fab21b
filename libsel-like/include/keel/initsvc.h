/* init's service endpoint: the protocol between init (servers/init) and the processes it starts.
 * Every process gets a cap named "init" (the supervision endpoint minted with its pid, Write +
 * GrantReply): it Calls it with one of the labels below. servers/init/README.md, "Channel broker",
 * describes the design.
 *
 * Channels (keel/channel.h) are brokered by init: a client asks for a channel to a named service
 * (a process whose manifest line says serves=NAME); init makes the region (its own frames, mapped
 * into both processes), lays it out, and places the notification caps straight into the slots
 * the two sides name (init holds their CNodes): no cap transfer over IPC. */
#ifndef KEEL_INITSVC_H
#define KEEL_INITSVC_H

#include <keel/syscall.h>
#include <keel/string.h>
#include <stdint.h>

/* Client: open a channel to a service its manifest line names in uses= (else KEEL_INIT_E_DENIED).
 *   MR0..MR3 the service name (NUL-padded, up to 31 characters), MR4 a free slot of the caller's
 *   CNode for its wait notification, MR5 a free slot for its doorbell to the server.
 *   Reply: MR0 = 0 or enum keel_init_error; MR1 the region's address in the caller; MR2 its size;
 *   MR3 the badge of the server's doorbells in the wait notification, MR4 that of init's "server
 *   gone" (use it as gone_bits). The wait notification is the caller's one client notification,
 *   the same object for every channel it opens (a copy is placed in each wait slot). */
#define KEEL_INIT_OPEN 0x4e45504full   /* "OPEN" */
/* Server (after KEEL_INIT_NEWS on its service notification): take the next channel opened to it.
 *   MR0 a free slot for its doorbell to the client.
 *   Reply: MR0 = 0 or KEEL_INIT_E_NONE (no more); MR1 region address; MR2 size; MR3 the badge bit
 *   the client's doorbells (and init's "client gone") set in the service notification; MR4 the
 *   client's pid. */
#define KEEL_INIT_ACCEPT 0x50434341ull /* "ACCP" */
/* Process table row MR0 (from 0; row 0 is init itself: pid 0, limit 0, memory 0, see MEM).
 * Reply: MR0 = 0 or KEEL_INIT_E_NONE; MR1.. a struct keel_init_ps_row (keel_init_ps_unpack): MR1
 * pid; MR2 state (enum keel_init_proc_state); MR3 restarts used; MR4 restart limit; MR5 memory
 * bytes; MR6..MR9 the name, MR10..MR13 the program, MR14..MR15 the restart policy, MR16..MR23 its
 * last event (text, NUL-padded). */
#define KEEL_INIT_PS 0x53505350ull     /* "PSPS" */
/* Memory. Reply: MR0 = 0; MR1 bytes free in init's untyped; MR2 bytes given to processes; MR3
 * bytes init set aside at start-up for root-like runs (KEEL_INIT_RUN_BOOTINFO), used or not. */
#define KEEL_INIT_MEM 0x494d454dull    /* "MEMI" */

/* Either side of a channel: done with it. MR0 the region's address in the caller. init unmaps it
 * from the caller (the window is reused for its next channel), marks the caller's side gone in the
 * region and signals the peer (as if the caller had died), and once both sides have left keeps
 * the region's frames for the next channel opened. Reply: MR0 = 0 or KEEL_INIT_E_NONE (no channel
 * of the caller's there). */
#define KEEL_INIT_CLOSE 0x534f4c43ull  /* "CLOS" */

/* The calls below need authority over the system: only processes whose manifest line gives them
 * caps=debug may make them (others get KEEL_INIT_E_DENIED). */

/* Stop process MR0 (a pid). MR1 = 0: for good (state "killed", not restarted whatever its policy);
 * MR1 = KEEL_INIT_KILL_RESTART: tear it down and start it again at once (not counted against its
 * restart limit). Its memory is revoked, its channels end (peers see "peer gone").
 * Reply: MR0 = 0 or E_NO_SUCH_PID, E_REFUSED (init itself, pid 0, or the caller: use exit),
 * E_NOT_RUNNING, E_START_FAILED (restart: the new start failed; see init's log); MR1 the new pid. */
#define KEEL_INIT_KILL 0x4c4c494bull   /* "KILL" */
#define KEEL_INIT_KILL_RESTART 1ull
/* Start a program: MR0..MR3 a name (as keel_init_pack_name). A manifest line of that name that is
 * not running is started again (its caps, policy and arguments; the restart count starts afresh);
 * otherwise a boot module of that name is started with the defaults (1M, no caps, restart=never).
 * Reply: MR0 = 0 or E_NO_PROGRAM, E_RUNNING, E_TOO_MANY (process table full), E_START_FAILED;
 * MR1 its pid. */
#define KEEL_INIT_RUN 0x504e5552ull    /* "RUNP" */
/* RUN's MR4 flags (MR4 absent or 0: as above).
 *   KEEL_INIT_RUN_BOOTINFO: start the boot module as a root-like child: a BootInfo of its own
 *     (KEEL_BOOTINFO_CHILD) and copies of init's control caps at the root task's slots, an Untyped
 *     from the memory init set aside for this, read-only frames of the boot modules; MR5..MR20
 *     its BootInfo command line (NUL-padded, up to 127 bytes). One such run at a time: another
 *     gets E_BUSY. servers/init/README.md, "Root-like runs", lists what it gets.
 *   KEEL_INIT_RUN_WAIT: reply only when the process has ended: MR1 pid, MR2 its exit status
 *     (0 when it crashed or was killed), MR3 how it ended (KEEL_INIT_ENDED_*). */
#define KEEL_INIT_RUN_BOOTINFO 1ull
#define KEEL_INIT_RUN_WAIT 2ull
#define KEEL_INIT_RUN_CMDLINE_MR 5
#define KEEL_INIT_RUN_CMDLINE_WORDS 16
enum keel_init_ended { KEEL_INIT_ENDED_EXIT = 0, KEEL_INIT_ENDED_CRASH = 1, KEEL_INIT_ENDED_KILLED = 2 };
/* A process's capabilities: MR0 pid (0 = init), MR1 the first slot to look at. Reply: MR0 = 0,
 * E_NO_SUCH_PID, E_NOT_RUNNING or E_NONE (no occupied slot from there on); MR1 the first occupied
 * slot >= MR1; MR2 its type (enum keel_cap_type); MR3 rights; MR4 its data word (badge, CNode
 * guard, I/O port cap's last port...); MR5 the kernel's object id; MR6 KEEL_INIT_CAP_* flags;
 * MR7..MR8 init's name for it (as given at start, or "" ; 16 bytes, NUL-padded). */
#define KEEL_INIT_CAPS 0x53504143ull   /* "CAPS" */
#define KEEL_INIT_CAP_UNCOPYABLE 1ull  /* the slot holds a cap the kernel will not copy (IRQ handler,
                                          Untyped, paging table): only its presence is known */
/* Reset the machine (the i8042's reset line, then the chipset's reset control at 0xCF9). No reply
 * when it works; else MR0 = E_FAILED. */
#define KEEL_INIT_REBOOT 0x544f4f42ull /* "BOOT" */

enum keel_init_error {
    KEEL_INIT_E_NO_SERVICE = 1, /* nobody running serves that name */
    KEEL_INIT_E_NO_MEMORY = 2,
    KEEL_INIT_E_BAD_SLOT = 3,   /* a slot is outside the CNode or not empty */
    KEEL_INIT_E_TOO_MANY = 4,   /* channel table full */
    KEEL_INIT_E_NONE = 5,       /* nothing (more) to accept / no such row */
    KEEL_INIT_E_BAD_REQUEST = 6,
    KEEL_INIT_E_NO_SUCH_PID = 7,  /* no process has (or had) that pid */
    KEEL_INIT_E_REFUSED = 8,      /* init itself, or the caller */
    KEEL_INIT_E_NOT_RUNNING = 9,
    KEEL_INIT_E_NO_PROGRAM = 10,  /* neither a manifest line nor a boot module of that name */
    KEEL_INIT_E_RUNNING = 11,     /* already running */
    KEEL_INIT_E_START_FAILED = 12,/* the spawn failed (init's log says which step) */
    KEEL_INIT_E_DENIED = 13,      /* the caller may not make that call (no caps=debug), or OPEN a
                                     service its manifest line's uses= does not name */
    KEEL_INIT_E_FAILED = 14,      /* REBOOT: the machine did not reset */
    KEEL_INIT_E_BUSY = 15,        /* RUN_BOOTINFO: a root-like run is going on (one at a time) */
};

/* Text for the codes above ("ok" for 0). */
static inline const char *keel_init_strerror(uint64_t e)
{
    static const char *const names[] = { "ok", "no such service", "out of memory", "bad slot",
                                         "too many", "none", "bad request", "no such pid",
                                         "refused", "not running", "no such program",
                                         "already running", "start failed", "denied", "failed",
                                         "busy" };
    return e < sizeof names / sizeof names[0] ? names[e] : "unknown error";
}

/* KILLED: stopped for good by KEEL_INIT_KILL. */
enum keel_init_proc_state { KEEL_INIT_NEW, KEEL_INIT_RUNNING, KEEL_INIT_EXITED, KEEL_INIT_CRASHED, KEEL_INIT_FAILED,
                            KEEL_INIT_KILLED };

/* One process-table row. init's table (in its log) and the shell's ps print the same columns:
 * NAME PID STATE RESTARTS POLICY MEMORY PROGRAM LAST EVENT (keel_init_ps_header/format). */
struct keel_init_ps_row {
    uint64_t pid, state, restarts, limit, memory; /* init's own row: limit 0, memory 0 (shown "-") */
    char name[32], program[32], policy[16], event[64];
};
#define KEEL_INIT_PS_WORDS 24 /* the reply's length */
void keel_init_ps_pack(struct keel_msg *m, const struct keel_init_ps_row *r);
void keel_init_ps_unpack(const struct keel_msg *m, struct keel_init_ps_row *r);
/* "running", "exited", ... for enum keel_init_proc_state. */
const char *keel_init_state_name(uint64_t state);
/* The header line and a row, without a newline; keel_snprintf's result. */
int keel_init_ps_header(char *buf, size_t size);
int keel_init_ps_format(char *buf, size_t size, const struct keel_init_ps_row *r);

/* Badges in a service's notification: IRQ N sets bit N; init's "a channel was opened to you" sets
 * KEEL_INIT_NEWS; channel doorbells use the bits from KEEL_INIT_CHANNEL_FIRST_BIT. */
#define KEEL_INIT_NEWS (1ull << 62)
#define KEEL_INIT_CHANNEL_FIRST_BIT 16
#define KEEL_INIT_CHANNEL_BITS 32
/* Badges in a client's notification. A process has one client notification for all the channels
 * it opens (so one wait covers them all); its k-th channel window uses bit 2k for the server's
 * doorbell and bit 2k+1 for init's "server gone" (OPEN's reply MR3 and MR4). The first channel's
 * are KEEL_INIT_CLIENT_DOORBELL and KEEL_INIT_CLIENT_GONE. init sets KEEL_INIT_CLIENT_NEWS in every
 * client notification when a process that serves= a name starts, so a client whose service went
 * away knows when to open it again. */
#define KEEL_INIT_CLIENT_DOORBELL 1ull
#define KEEL_INIT_CLIENT_GONE 2ull
#define KEEL_INIT_CLIENT_NEWS (1ull << 63)
#define KEEL_INIT_CLIENT_WINDOWS 31

/* KEEL_INIT_CLOSE of the channel at `va` (in the caller): 0 or enum keel_init_error. */
static inline int keel_init_close(uint64_t init_ep, uint64_t va)
{
    struct keel_msg m = keel_msg_make(KEEL_INIT_CLOSE, 1);
    m.mr[0] = va;
    int err = keel_call(init_ep, &m);
    return err ? KEEL_INIT_E_BAD_REQUEST : (int)m.mr[0];
}

/* Region geometry init uses for every channel. */
#define KEEL_INIT_CHANNEL_PAGES 2
#define KEEL_INIT_CHANNEL_ENTRIES 16

static inline void keel_init_pack_name(struct keel_msg *m, unsigned first_mr, const char *name)
{
    char buf[32] = { 0 };
    size_t n = strlen(name);
    memcpy(buf, name, n < 31 ? n : 31);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t w;
        memcpy(&w, buf + 8 * i, 8);
        keel_msg_set_mr(m, first_mr + i, w);
    }
}

static inline void keel_init_unpack_name(const struct keel_msg *m, unsigned first_mr, char out[32])
{
    for (unsigned i = 0; i < 4; i++) {
        uint64_t w = keel_msg_get_mr(m, first_mr + i);
        memcpy(out + 8 * i, &w, 8);
    }
    out[31] = 0;
}

#endif
