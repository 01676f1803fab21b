/* Program entry. The kernel starts the root task with RSP 16-byte aligned and no return address
 * pushed, and RDI = the BootInfo address; keel_process_spawn starts a process the same way with
 * RDI = its startinfo (start.c tells them apart). C needs RSP = 8 (mod 16) at function entry,
 * which the call below provides. */
    .section .text.start, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    xor %ebp, %ebp              /* end of the frame-pointer chain */
    mov %rsp, %rsi              /* initial stack pointer: marks the main thread's stack */
    and $-16, %rsp
    call keel__crt_start        /* (bootinfo or startinfo, initial_sp): does not return */
    ud2
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits
