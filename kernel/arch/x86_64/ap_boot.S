/* Application-processor start-up code. The boot CPU copies this block to AP_TRAMPOLINE (below
 * 1 MiB) and fills in its parameter area; a STARTUP IPI starts each AP here in real mode. It
 * goes to protected mode, then long mode on page tables that map the kernel and identity-map
 * this page, and jumps to ap_main(percpu) on the stack it was given. Position-dependent on
 * AP_TRAMPOLINE: every address below is (label - ap_trampoline) + AP_TRAMPOLINE. */
#define AP_TRAMPOLINE 0x8000
#define REL(x) ((x) - ap_trampoline + AP_TRAMPOLINE)

    .section .rodata
    .balign 16
    .global ap_trampoline, ap_trampoline_end, ap_params
    .code16
ap_trampoline:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    lgdtl REL(ap_gdt_ptr)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $REL(ap_protected)

    .code32
ap_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    /* Take this start's parameters, once: an AP that wakes after the boot CPU gave up on it
     * (and filled the block in for the next one) finds the claim taken and halts, so two CPUs
     * never share a stack. xchg with memory is atomic. */
    xor %eax, %eax
    xchg %eax, REL(ap_param_claim)
    test %eax, %eax
    jz ap_late
    mov %cr4, %eax
    or $(1 << 5), %eax                      /* PAE */
    mov %eax, %cr4
    mov REL(ap_param_cr3), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx                   /* EFER: what the boot CPU uses (LME, NXE, SCE) */
    mov REL(ap_param_efer), %eax
    xor %edx, %edx
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax                    /* PG | WP | PE */
    mov %eax, %cr0
    ljmpl $0x18, $REL(ap_long)

    .code64
ap_long:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov REL(ap_param_stack), %rsp
    mov REL(ap_param_percpu), %rdi
    mov REL(ap_param_entry), %rax
    xor %ebp, %ebp
    jmp *%rax

ap_late:
    cli
    hlt
    jmp ap_late

    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff                /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff                /* 0x10: data */
    .quad 0x00af9a000000ffff                /* 0x18: 64-bit code */
ap_gdt_ptr:
    .short ap_gdt_ptr - ap_gdt - 1
    .long REL(ap_gdt)
    .balign 8
ap_params:
ap_param_cr3:    .quad 0
ap_param_efer:   .quad 0
ap_param_stack:  .quad 0
ap_param_percpu: .quad 0
ap_param_entry:  .quad 0
ap_param_claim:  .quad 0   /* 1 from the boot CPU for each start; the AP that takes it clears it */
ap_trampoline_end:
