/* init's boot manifest: which programs to start, with which devices, and what to do when they end.
 * Pure text parsing (no kernel calls), so the host tests can run it. The format is described in
 * docs/manifest.md:
 *
 *   # comment
 *   NAME [key=value ...] [--] [ARG ...]
 *
 * Each bad line is reported (line number, token, reason) and left out; the good ones stand. */
#ifndef INIT_MANIFEST_H
#define INIT_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>

#define MANIFEST_MAX_ENTRIES 16
#define MANIFEST_MAX_LINE 256
#define MANIFEST_NAME_MAX 32        /* with the NUL */
#define MANIFEST_MAX_IOPORTS 4
#define MANIFEST_MAX_IRQS 2
#define MANIFEST_MAX_ARGS 16        /* argv[0] (the name) included */
#define MANIFEST_MAX_ERRORS 16
#define MANIFEST_MAX_USES 4         /* services a process may open */

enum restart_policy {
    RESTART_NEVER,
    RESTART_ALWAYS,   /* after an exit or a crash */
    RESTART_ON_CRASH, /* after a fault or a non-zero exit status */
};

struct manifest_entry {
    unsigned line;                      /* where it was in the file (1-based) */
    char name[MANIFEST_NAME_MAX];       /* the process name, argv[0] */
    char program[MANIFEST_NAME_MAX];    /* boot module with the ELF (default: name) */
    struct { uint16_t first, last; } ioports[MANIFEST_MAX_IOPORTS];
    unsigned ioport_count;
    uint8_t irqs[MANIFEST_MAX_IRQS];    /* ISA IRQ lines */
    unsigned irq_count;
    enum restart_policy restart;
    unsigned limit;                     /* restarts allowed */
    int priority;
    uint64_t mem, stack;                /* bytes */
    char serves[MANIFEST_NAME_MAX];     /* service name it provides over channels ("" if none) */
    char uses[MANIFEST_MAX_USES][MANIFEST_NAME_MAX]; /* uses=: the services it may open channels to */
    unsigned use_count;
    bool debug_cap;                     /* caps=debug: a copy of the kernel's Debug cap */
    bool screen;                        /* caps=screen: the screen mapped in (one process at most) */
    unsigned argc;
    const char *argv[MANIFEST_MAX_ARGS];/* point into `text` */
    char text[MANIFEST_MAX_LINE];       /* the line's tokens, NUL-separated */
};

struct manifest_error {
    unsigned line;
    char msg[120];
};

struct manifest {
    struct manifest_entry entries[MANIFEST_MAX_ENTRIES];
    unsigned count;
    struct manifest_error errors[MANIFEST_MAX_ERRORS];
    unsigned error_count;               /* errors recorded (at most MANIFEST_MAX_ERRORS) */
    unsigned errors_total;              /* errors found */
};

/* Defaults for the keys not given. */
#define MANIFEST_DEFAULT_LIMIT 3
#define MANIFEST_DEFAULT_PRIORITY 100
#define MANIFEST_DEFAULT_MEM (1ull << 20)
#define MANIFEST_DEFAULT_STACK (64ull * 1024)
#define MANIFEST_MIN_MEM (256ull * 1024)
#define MANIFEST_MAX_MEM (256ull << 20)
#define MANIFEST_MAX_STACK (8ull << 20)
#define MANIFEST_MAX_LIMIT 100
#define MANIFEST_MAX_PRIORITY 254       /* below init's own 255 */

/* Parse `size` bytes of text (NULs end it early). Returns the number of good entries. */
unsigned manifest_parse(struct manifest *m, const char *text, uint64_t size);

const char *manifest_restart_name(enum restart_policy r);
/* Whether the entry's uses= names `service` (no entry: nothing is allowed). */
bool manifest_may_use(const struct manifest_entry *e, const char *service);

#endif
