/* Interrupt and exception entry stubs: push a uniform frame (see struct trap_frame) and call
 * trap_dispatch. Vectors without a CPU-pushed error code push 0 so the frame is the same. */
#include "regs.inc"
    .text
    .code64


/* Vectors 8, 10-14, 17, 21, 29 and 30 come with a CPU-pushed error code. */
    .macro stub v
    .balign 16
isr_\v:
    .if !(\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21 || \v == 29 || \v == 30)
    pushq $0
    .endif
    pushq $\v
    jmp trap_common
    .endm

    .balign 16
    .global isr_table_start
isr_table_start:
    .altmacro
    .set vec, 0
    .rept 256
    stub %vec
    .set vec, vec + 1
    .endr

trap_common:
    testb $3, 24(%rsp)                      /* CS, above vector and error */
    jz from_kernel
    /* From user mode: the CPU switched to TSS.RSP0, the end of the current thread's register
     * file, so these pushes complete the thread's saved context in its TCB. */
    swapgs
    push_gprs
    cld
    mov %rsp, %rdi
    mov %gs:8, %rsp                         /* PERCPU_KERNEL_RSP */
    xor %ebp, %ebp
    call trap_from_user
    jmp return_to_user

from_kernel:
    push_gprs
    cld
    mov %rsp, %rdi
    call trap_dispatch
    pop_gprs
    addq $16, %rsp                          /* vector, error */
    iretq
