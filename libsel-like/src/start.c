/* C side of program start: library state from the BootInfo, then main(), then a quiet end. */
#include <keel/alloc.h>
#include <keel/bootinfo.h>
#include <keel/invoke.h>
#include <keel/stdio.h>
#include <keel/syscall.h>
#include <keel/tls.h>

int main(struct keel_bootinfo *bi);
_Noreturn void keel__crt_start(struct keel_bootinfo *bi, uint64_t initial_sp);

extern struct keel_bootinfo *keel__bootinfo;

_Noreturn void keel__crt_start(struct keel_bootinfo *bi, uint64_t initial_sp)
{
    keel__bootinfo = bi;
    bool valid = keel_bootinfo_check(bi) == 0;
    struct keel_ipc_buffer *ipc = (struct keel_ipc_buffer *)(valid ? bi->ipc_buffer : KEEL_ROOT_IPC_BUFFER);
    keel_tls_init_main(initial_sp, ipc, KEEL_SLOT_TCB);
    if (valid)
        keel_slot_alloc_init(bi->empty.start, bi->empty.end);
    else
        keel_printf("keel: warning: no valid BootInfo at %p\n", (void *)bi);

    int status = main(valid ? bi : NULL);
    keel_printf("keel: main returned %d\n", status);
    for (;;)
        keel_tcb_suspend(KEEL_SLOT_TCB);
}
