/* Kernel entry from user mode by `syscall`, and the single way back to user mode.
 * Registers are saved straight into the current thread's register file (struct user_context at
 * the start of its TCB): %gs:PERCPU_CTX_TOP points just past it, and the TSS's RSP0 holds the
 * same address so interrupts from user mode save there too. The kernel then runs on the per-CPU
 * kernel stack, and leaves by restoring whichever thread is current by then. */
#define PERCPU_KERNEL_RSP 8
#define PERCPU_USER_RSP 16
#define PERCPU_CTX_TOP 24
#define USER_CS (0x20 | 3)
#define USER_SS (0x18 | 3)
#define CTX_SIZE (22 * 8)
#define SYSCALL_MARKER 0x100

    .text
    .code64
    .global syscall_entry
    .type syscall_entry, @function
syscall_entry:
    swapgs
    mov %rsp, %gs:PERCPU_USER_RSP
    mov %gs:PERCPU_CTX_TOP, %rsp
    pushq $USER_SS
    pushq %gs:PERCPU_USER_RSP
    pushq %r11                              /* RFLAGS */
    pushq $USER_CS
    pushq %rcx                              /* RIP */
    pushq $0                                /* error */
    pushq $SYSCALL_MARKER                   /* vector */
    pushq %rax
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
    mov %gs:PERCPU_KERNEL_RSP, %rsp
    xor %ebp, %ebp                          /* backtraces stop here */
    call handle_syscall
    jmp return_to_user
    .size syscall_entry, . - syscall_entry

    .global return_to_user, arch_return_to_user
    .type return_to_user, @function
arch_return_to_user:
return_to_user:
    cli
    mov %gs:PERCPU_CTX_TOP, %rsp
    sub $CTX_SIZE, %rsp
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
    swapgs
    iretq
    .size return_to_user, . - return_to_user
