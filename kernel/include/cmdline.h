/* Kernel command line options. */
#ifndef KEEL_CMDLINE_H
#define KEEL_CMDLINE_H

#include "klib.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };
enum tristate { TRI_AUTO = -1, TRI_OFF = 0, TRI_ON = 1 };

#define CMDLINE_TIMER_HZ_MIN 10u
#define CMDLINE_TIMER_HZ_MAX 10000u

struct kernel_options {
    enum log_level log_level; /* log=error|warn|info|debug|trace, default info */
    /* pcid=on|off|auto etc., default auto (use when present). "on" for a feature the CPU lacks is
     * a warning, not an error: the caller handles that. */
    enum tristate pcid, invpcid, pku, smep, smap, umip;
    enum tristate fastpath; /* fastpath=on|off|auto: the IPC fastpath (default on) */
    bool selftest;     /* "selftest" (also =1, =0): run the kernel self-tests then exit QEMU */
    bool quiet_boot;   /* "quiet" (also =1, =0) */
    bool test_panic;   /* "test_panic": with selftest, provoke a kernel page fault to check the panic path */
    uint32_t timer_hz; /* timer_hz=N, 10..10000, default 100 */
    /* lockwatch=MS, 0..60000, default 1000: panic when a CPU waits longer than this for the big
     * lock or for another CPU to answer a request (0: never). */
    uint32_t lockwatch_ms;
};

void cmdline_defaults(struct kernel_options *o);
/* Parses space-separated words "key" or "key=value" (spaces, tabs and newlines separate words;
 * a repeated option: the last one wins). Every problem is reported and its word ignored; parsing
 * continues. Returns the number of problems; their messages, joined with "; " and truncated with
 * "..." when they do not fit, go to d->msg (d may be NULL). */
int cmdline_parse(const char *cmdline, struct kernel_options *o, struct diag *d);

#endif
