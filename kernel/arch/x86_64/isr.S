/* Interrupt and exception entry stubs: push a uniform frame (see struct trap_frame) and call
 * trap_dispatch. Vectors without a CPU-pushed error code push 0 so the frame is the same. */
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
    /* Entered from user mode? Then switch to the kernel GS base. */
    testb $3, 24(%rsp)                      /* CS, above vector and error */
    jz 1f
    swapgs
1:  pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    mov %rsp, %rdi
    call trap_dispatch
    .global trap_return
trap_return:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp                          /* vector, error */
    testb $3, 8(%rsp)
    jz 2f
    swapgs
2:  iretq
