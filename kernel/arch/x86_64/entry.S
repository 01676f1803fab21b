/* Kernel entry from user mode by `syscall`, and the single way back to user mode.
 * Registers are saved straight into the current thread's register file (struct user_context at
 * the start of its TCB): %gs:PERCPU_CTX_TOP points just past it, and the TSS's RSP0 holds the
 * same address so interrupts from user mode save there too. The kernel then runs on the per-CPU
 * kernel stack, and leaves by restoring whichever thread is current by then.
 *
 * A register file saved by `syscall` is marked with vector SYSCALL_MARKER. Its RCX and R11 slots
 * are not written: after a syscall those registers hold the return RIP and RFLAGS (docs/abi.md
 * §2), which the RIP and RFLAGS slots have, and SYSRET loads them from there. Such a thread goes
 * back by SYSRET; a register file saved by an interrupt or exception (RCX and R11 are the
 * thread's own values then), or rewritten by TCB WriteRegisters (which clears the marker), goes
 * back by IRETQ with every register. See docs/abi.md §11. */
#include "regs.inc"
#define PERCPU_KERNEL_RSP 8
#define PERCPU_USER_RSP 16
#define PERCPU_CTX_TOP 24
#define CTX_SIZE (22 * 8)
#define SYSCALL_MARKER 0x100

/* Offsets of struct user_context's slots from its end (PERCPU_CTX_TOP). */
#define CTX_R15 (0 * 8 - CTX_SIZE)
#define CTX_R14 (1 * 8 - CTX_SIZE)
#define CTX_R13 (2 * 8 - CTX_SIZE)
#define CTX_R12 (3 * 8 - CTX_SIZE)
#define CTX_R10 (5 * 8 - CTX_SIZE)
#define CTX_R9 (6 * 8 - CTX_SIZE)
#define CTX_R8 (7 * 8 - CTX_SIZE)
#define CTX_RBP (8 * 8 - CTX_SIZE)
#define CTX_RDI (9 * 8 - CTX_SIZE)
#define CTX_RSI (10 * 8 - CTX_SIZE)
#define CTX_RDX (11 * 8 - CTX_SIZE)
#define CTX_RBX (13 * 8 - CTX_SIZE)
#define CTX_RAX (14 * 8 - CTX_SIZE)
#define CTX_VECTOR (15 * 8 - CTX_SIZE)
#define CTX_RIP (17 * 8 - CTX_SIZE)
#define CTX_RFLAGS (19 * 8 - CTX_SIZE)
#define CTX_RSP (20 * 8 - CTX_SIZE)

    .text
    .code64
    .global syscall_entry
    .type syscall_entry, @function
syscall_entry:
    swapgs
    mov %rsp, %gs:PERCPU_USER_RSP
    mov %gs:PERCPU_CTX_TOP, %rsp
    /* What an interrupt frame would hold: RIP, RFLAGS, RSP. CS and SS are always the user
     * selectors in a TCB (tcb_init), and the error slot means nothing for a syscall. */
    mov %rcx, CTX_RIP(%rsp)
    mov %r11, CTX_RFLAGS(%rsp)
    mov %gs:PERCPU_USER_RSP, %rcx
    mov %rcx, CTX_RSP(%rsp)
    movq $SYSCALL_MARKER, CTX_VECTOR(%rsp)
    /* All general registers but RCX and R11 (see above). The callee-saved ones are needed too:
     * the thread may be switched away from, evicted to another CPU or read with ReadRegisters
     * before it returns, and then they must be in its TCB. */
    mov %rax, CTX_RAX(%rsp)
    mov %rbx, CTX_RBX(%rsp)
    mov %rdx, CTX_RDX(%rsp)
    mov %rsi, CTX_RSI(%rsp)
    mov %rdi, CTX_RDI(%rsp)
    mov %rbp, CTX_RBP(%rsp)
    mov %r8, CTX_R8(%rsp)
    mov %r9, CTX_R9(%rsp)
    mov %r10, CTX_R10(%rsp)
    mov %r12, CTX_R12(%rsp)
    mov %r13, CTX_R13(%rsp)
    mov %r14, CTX_R14(%rsp)
    mov %r15, CTX_R15(%rsp)
    mov %gs:PERCPU_KERNEL_RSP, %rsp
    xor %ebp, %ebp                          /* backtraces stop here */
    call handle_syscall
    /* fall through */
    .size syscall_entry, . - syscall_entry

/* Back to user mode with the current thread. Interrupts are off here, as everywhere in the
 * kernel but the idle loop (which turns them off again before it returns): nothing may interrupt
 * the last instructions, which run on the thread's register file or, before SYSRET, on the user
 * stack. NMI, #DF and #MC use IST stacks and do not depend on the GS base (isr.S). */
    .global return_to_user, arch_return_to_user
    .type return_to_user, @function
return_to_user:
    mov %gs:PERCPU_CTX_TOP, %rsp
    /* The RIP must be in the user half: SYSRET to a non-canonical RCX raises #GP in ring 0 with
     * the user's RSP on Intel CPUs, and IRETQ to one faults in the kernel. It is not only after a
     * `syscall` at the very top of the user half (WriteRegisters refuses such values); the slow
     * paths turn that into a fault (ensure_returnable), and the fast ones leave it to this check,
     * which sends it to return_fixup to do the same. */
    mov CTX_RIP(%rsp), %rcx
    mov %rcx, %r11
    shr $47, %r11
    jnz bad_rip
    cmpq $SYSCALL_MARKER, CTX_VECTOR(%rsp)
    jne iret_exit
    /* SYSRET: RIP from RCX, RFLAGS from R11. RFLAGS is the thread's as SYSCALL captured it (IF
     * set: user mode cannot clear it at IOPL 0, nor raise IOPL), since anything that rewrites it
     * (WriteRegisters) also clears the marker; SYSRET itself clears RF and VM. */
    mov CTX_RFLAGS(%rsp), %r11
    mov CTX_R15(%rsp), %r15
    mov CTX_R14(%rsp), %r14
    mov CTX_R13(%rsp), %r13
    mov CTX_R12(%rsp), %r12
    mov CTX_R10(%rsp), %r10
    mov CTX_R9(%rsp), %r9
    mov CTX_R8(%rsp), %r8
    mov CTX_RBP(%rsp), %rbp
    mov CTX_RDI(%rsp), %rdi
    mov CTX_RSI(%rsp), %rsi
    mov CTX_RDX(%rsp), %rdx
    mov CTX_RBX(%rsp), %rbx
    mov CTX_RAX(%rsp), %rax
    mov CTX_RSP(%rsp), %rsp
    swapgs
    sysretq

arch_return_to_user:                        /* first entry to user mode on a CPU (boot, AP start) */
    cli
    jmp return_to_user

bad_rip:
    mov %gs:PERCPU_KERNEL_RSP, %rsp
    call return_fixup
    jmp return_to_user

iret_exit:
    sub $CTX_SIZE, %rsp
    pop_gprs
    addq $16, %rsp                          /* vector, error */
    swapgs
    iretq
    .size return_to_user, . - return_to_user
