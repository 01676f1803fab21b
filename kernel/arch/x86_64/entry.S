/* Kernel entry from user mode by `syscall`, and the single way back to user mode.
 * Registers are saved straight into the current thread's register file (struct user_context at
 * the start of its TCB): %gs:PERCPU_CTX_TOP points just past it, and the TSS's RSP0 holds the
 * same address so interrupts from user mode save there too. The kernel then runs on the per-CPU
 * kernel stack, and leaves by restoring whichever thread is current by then. */
#include "regs.inc"
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
    push_gprs
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
    pop_gprs
    addq $16, %rsp                          /* vector, error */
    swapgs
    iretq
    .size return_to_user, . - return_to_user
