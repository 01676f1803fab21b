/* init's internals, shared by its parts: main.c (start-up, starting processes, supervision),
 * broker.c (the channel broker) and control.c (the calls that inspect and control processes:
 * PS, MEM, CAPS, RUN, KILL, REBOOT). servers/init/README.md describes what they do. */
#ifndef INIT_INIT_H
#define INIT_INIT_H

#include "manifest.h"
#include <keel/initsvc.h>
#include <keel/bootinfo.h>
#include <keel/process.h>
#include <keel/stdio.h>
#include <keel/syscall.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_CAPS (MANIFEST_MAX_IOPORTS + 2 * MANIFEST_MAX_IRQS + 3) /* + init, service, debug */
#define MAX_OWNED 48       /* init slots of objects made from a process's memory */
#define MAX_PROCS (MANIFEST_MAX_ENTRIES + 8) /* the manifest's, and programs started with RUN */

enum proc_state { P_NEW, P_RUNNING, P_EXITED, P_CRASHED, P_FAILED, P_KILLED };

struct proc {
    const struct manifest_entry *e;
    const struct keel_module_info *module;
    enum proc_state state;
    uint64_t untyped;       /* init's slot of the Untyped the process is made from */
    struct keel_process p;
    unsigned restarts;
    char caps[MAX_CAPS * 24]; /* what it was given, for the table */
    char cap_names[MAX_CAPS][KEEL_PROCESS_CAP_NAME_MAX]; /* slot KEEL_PROCESS_SLOT_FIRST_CAP + i */
    unsigned cap_count;
    char note[96];          /* its last event */
    /* channel broker state, reset at each start */
    uint64_t svc_ntfn;      /* serves=: init's cap to its service notification (from its memory) */
    uint64_t svc_news;      /* the same, badged KEEL_INIT_NEWS, for init to signal */
    uint32_t chan_bits;     /* serves=: channel bits in use */
    uint64_t client_ntfn;   /* its client notification (made at its first OPEN, from its memory) */
    uint64_t client_news;   /* the same, badged KEEL_INIT_CLIENT_NEWS */
    uint32_t windows;       /* channel windows of its address space in use (bit k: window k) */
    uint64_t owned[MAX_OWNED]; /* init slots (tables, notifications) that die with its memory */
    unsigned nowned;
    bool grant;             /* a root-like run (grant.c): its memory is the set-aside Untyped */
    int ended;              /* how its last run ended (enum keel_init_ended) */
    int64_t status;         /* and its exit status */
};

extern const struct keel_bootinfo *bi;
extern struct proc procs[MAX_PROCS];
extern unsigned nprocs;

/* main.c */
void own(struct proc *pr, uint64_t slot);
int map_frame(uint64_t frame, uint64_t vspace, uint64_t va, uint64_t access, struct proc *pr);
int map_frame_attr(uint64_t frame, uint64_t vspace, uint64_t va, uint64_t access, uint64_t attr, struct proc *pr);
void note(struct proc *pr, const char *fmt, ...) KEEL_PRINTF(2, 3);
bool start(struct proc *pr);
/* Tear a running process down (Revoke of its memory; its channels end). */
int stop(struct proc *pr);
/* Answers that come later: the reply object holding the caller of the call being served (init
 * receives with another one from then on; 0 if there is none), and giving it back once used. */
#define INIT_DEFERRED (-1) /* a call's result: no reply now */
uint64_t take_reply(void);
void give_back_reply(uint64_t reply);
void print_table(void);
/* Row i of the process table as KEEL_INIT_PS reports it (row 0: init itself, then procs[i - 1]). */
void table_row(unsigned i, struct keel_init_ps_row *r);
struct proc *proc_by_pid(uint64_t pid);

/* broker.c */
int broker_open(struct proc *cl, const struct keel_msg *m, struct keel_msg *r);
int broker_accept(struct proc *srv, const struct keel_msg *m, struct keel_msg *r);
int broker_close(struct proc *pr, const struct keel_msg *m);
/* A process ended (its memory already revoked): its channels are gone; tell the survivors. */
void broker_died(struct proc *pr, uint64_t pid);
/* A server started: tell every client (KEEL_INIT_CLIENT_NEWS). */
void broker_service_started(const struct proc *srv);

/* screen.c: the screen for the process with caps=screen */
/* Why this boot's screen cannot be handed out, or NULL if it can. */
const char *screen_missing(void);
/* The argument that tells the process the screen's geometry (keel/console.h). */
void screen_arg(char *buf, size_t size);
/* Map the screen into the (suspended) process; *what names the failing step. */
int screen_map(struct proc *pr, const char **what);

/* control.c */
int control_ps(const struct keel_msg *m, struct keel_msg *r);
int control_mem(struct keel_msg *r);
int control_caps(struct proc *caller, const struct keel_msg *m, struct keel_msg *r);
int control_kill(struct proc *caller, const struct keel_msg *m, struct keel_msg *r);
int control_run(struct proc *caller, const struct keel_msg *m, struct keel_msg *r);
int control_reboot(struct proc *caller);

/* grant.c: root-like runs (KEEL_INIT_RUN_BOOTINFO) and waiting for a process's end */
void grant_reserve(void);
uint64_t grant_reserved(void);
int grant_run(const char *name, const struct keel_msg *m, struct keel_msg *r, struct proc **out);
bool grant_start(struct proc *pr, uint64_t fault_ep);
/* KEEL_INIT_RUN_WAIT: answer the caller when pr ends (returns INIT_DEFERRED) */
int wait_for_end(struct proc *pr);
void grant_stopped(struct proc *pr, uint64_t pid);
/* init's name for a slot of a root-like run's CNode (CAPS) */
const char *grant_slot_name(uint64_t slot);

#endif
