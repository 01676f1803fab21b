/* C side of program start: library state from the BootInfo (the root task) or the startinfo (a
 * process made by keel_process_spawn), then main(), then a quiet end. The two records are told
 * apart by the magic word at offset 0. */
#include <keel/alloc.h>
#include <keel/bootinfo.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>
#include <keel/tls.h>

int main(struct keel_bootinfo *bi);
_Noreturn void keel__crt_start(void *arg, uint64_t initial_sp);
void keel__tls_main_stack(uint64_t lo, uint64_t hi);

extern struct keel_bootinfo *keel__bootinfo;
static const struct keel_startinfo *keel__startinfo;
static uint64_t keel__log; /* keel_log_cap() */

static bool startinfo_ok(const struct keel_startinfo *si)
{
    return si->version == KEEL_STARTINFO_VERSION && si->cnode_radix >= KEEL_CNODE_MIN_RADIX &&
           si->cnode_radix <= KEEL_CNODE_MAX_RADIX && si->cap_count <= KEEL_PROCESS_MAX_CAPS &&
           si->argc <= KEEL_PROCESS_MAX_ARGS && si->stack_base < si->stack_top &&
           si->empty.start <= si->empty.end && si->empty.end <= (1ull << si->cnode_radix);
}

static _Noreturn void start_process(const struct keel_startinfo *si, uint64_t initial_sp)
{
    bool valid = startinfo_ok(si);
    keel_tls_init_main(initial_sp, (struct keel_ipc_buffer *)(valid ? si->ipc_buffer : KEEL_PROCESS_IPC_BUFFER),
                       KEEL_PROCESS_SLOT_TCB);
    if (!valid) {
        keel_printf("keel: bad startinfo at %p (version %llu)\n", (void *)si, (unsigned long long)si->version);
        keel_process_exit(127);
    }
    keel__startinfo = si;
    keel__log = si->log;
    keel__tls_main_stack(si->stack_base, si->stack_top);
    keel_slot_alloc_init(si->empty.start, si->empty.end);
    /* A process has no BootInfo: main gets NULL and reads keel_startinfo_get(). */
    keel_process_exit(main(NULL));
}

_Noreturn void keel__crt_start(void *arg, uint64_t initial_sp)
{
    if (arg && ((uint64_t)arg & 7) == 0 && *(const uint64_t *)arg == KEEL_STARTINFO_MAGIC)
        start_process(arg, initial_sp);

    struct keel_bootinfo *bi = arg;
    keel__bootinfo = bi;
    bool valid = keel_bootinfo_check(bi) == 0;
    struct keel_ipc_buffer *ipc = (struct keel_ipc_buffer *)(valid ? bi->ipc_buffer : KEEL_ROOT_IPC_BUFFER);
    keel_tls_init_main(initial_sp, ipc, KEEL_SLOT_TCB);
    /* The kernel gives the root task a Log cap, init gives a root-like child one at the same slot;
     * a zero-byte write tells whether it is there. */
    if (keel_log_write(KEEL_SLOT_LOG, "", 0) == 0)
        keel__log = KEEL_SLOT_LOG;
    if (valid)
        keel_slot_alloc_init(bi->empty.start, bi->empty.end);
    else
        keel_printf("keel: warning: no valid BootInfo at %p\n", (void *)bi);

    int status = main(valid ? bi : NULL);
    if (valid && keel_bootinfo_is_child(bi))
        keel_process_exit(status); /* a root-like child: its supervisor learns the status */
    keel_printf("keel: main returned %d\n", status);
    for (;;)
        keel_tcb_suspend(KEEL_SLOT_TCB);
}

const struct keel_startinfo *keel_startinfo_get(void) { return keel__startinfo; }

uint64_t keel_log_cap(void) { return keel__log; }

uint64_t keel_startinfo_cap(const char *name)
{
    const struct keel_startinfo *si = keel__startinfo;
    for (uint32_t i = 0; si && i < si->cap_count; i++)
        if (strncmp(si->caps[i].name, name, KEEL_PROCESS_CAP_NAME_MAX) == 0)
            return si->caps[i].slot;
    return 0;
}

_Noreturn void keel_process_exit(int status)
{
    const struct keel_startinfo *si = keel__startinfo;
    /* A root-like child (started with a BootInfo) names its supervisor cap there. */
    uint64_t sup = si ? si->supervisor : keel_bootinfo_is_child(keel__bootinfo) ? keel__bootinfo->supervisor : 0;
    if (sup) {
        struct keel_msg m = keel_msg_make(KEEL_PROCESS_MSG_EXIT, 1);
        m.mr[0] = (uint64_t)(int64_t)status;
        keel_send(sup, &m);
    }
    for (;;)
        keel_tcb_suspend(keel_tls()->tcb);
}
