/* Interrupt and exception entry stubs: push a uniform frame (see struct trap_frame) and call
 * trap_dispatch. Vectors without a CPU-pushed error code push 0 so the frame is the same. */
#include "regs.inc"
    .text
    .code64


/* Vectors 8, 10-14, 17, 21, 29 and 30 come with a CPU-pushed error code. NMI (2), #DF (8) and
 * #MC (18) run on IST stacks and take ist_common instead of trap_common. */
    .macro stub v
    .balign 16
isr_\v:
    .if !(\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21 || \v == 29 || \v == 30)
    pushq $0
    .endif
    pushq $\v
    .if \v == 2 || \v == 8 || \v == 18
    jmp ist_common
    .else
    jmp trap_common
    .endif
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
    mov %rsp, %rbx                          /* the frame (the user's RBX is in it already) */
    mov %gs:8, %rsp                         /* PERCPU_KERNEL_RSP */
    xor %ebp, %ebp
#if KEEL_DEBUG
    mov %rbx, %rdi
    call trap_note_entry                    /* the EOI check (trap.c) */
#endif
    mov %rbx, %rdi
    call trap_quick_tick                    /* a tick that needs no lock (trap.c) */
    test %al, %al
    jnz return_to_user
    mov %rbx, %rdi
    call trap_from_user
    jmp return_to_user

from_kernel:
    push_gprs
    cld
#if KEEL_DEBUG
    mov %rsp, %rdi
    call trap_note_entry
#endif
    mov %rsp, %rdi
    call trap_dispatch
    pop_gprs
    addq $16, %rsp                          /* vector, error */
    iretq

/* NMI, #DF and #MC can arrive at any instruction, including where the interrupted CS does not tell
 * whose GS base is loaded: between the exit path's swapgs and its iretq (CPL 0, the user's GS
 * base) and at syscall_entry before its swapgs (likewise). So they never swapgs: they save the GS
 * base as found, load this CPU's per-CPU pointer, which gdt.c stores just above the hardware frame
 * at the top of each IST stack, run the handler on the IST stack (also when they came from user
 * mode: the thread's saved context is not touched), and put the saved GS base back. KERNEL_GS_BASE
 * is never touched, so a pending swapgs still swaps the right values.
 * Frame: 15 registers + vector + error + 5 hardware words = 22 words below the per-CPU slot. */
#define MSR_GS_BASE 0xc0000101
#define IST_PERCPU_SLOT (22 * 8)
ist_common:
    push_gprs
    cld
    mov $MSR_GS_BASE, %ecx
    rdmsr
    shl $32, %rdx
    or %rax, %rdx
    mov %rdx, %rbx                          /* GS base as found; RBX survives the call */
    mov IST_PERCPU_SLOT(%rsp), %rax
    mov %rax, %rdx
    shr $32, %rdx
    wrmsr                                   /* GS base = this CPU's block */
    mov %rsp, %rdi
    mov %rbx, %rsi
    call trap_ist
    mov $MSR_GS_BASE, %ecx
    mov %ebx, %eax
    mov %rbx, %rdx
    shr $32, %rdx
    wrmsr                                   /* back to what the interrupted code had */
    pop_gprs
    addq $16, %rsp                          /* vector, error */
    iretq
