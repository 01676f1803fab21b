/* Multiboot2 header and the 32-bit entry: GRUB leaves us in protected mode with paging off
 * (EAX = magic, EBX = boot information). Build boot page tables, enter long mode and jump to
 * the higher-half kernel. Everything here runs at its physical address. */

#define KERNEL_VMA 0xffffffff80000000
#define MB2_MAGIC 0xe85250d6
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long 0                                   /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (MB2_MAGIC + (mb2_header_end - mb2_header))
    .balign 8                                 /* module alignment tag: page-aligned modules */
    .short 6, 0
    .long 8
    .balign 8                                 /* console flags (optional): EGA text supported */
    .short 4, 1
    .long 12
    .long 2
    .balign 8                                 /* framebuffer (optional), no preferred mode: */
    .short 5, 1                               /* where the firmware has no text mode (UEFI), */
    .long 20                                  /* GRUB hands over its graphics framebuffer */
    .long 0, 0, 0
    .balign 8                                 /* end tag */
    .short 0, 0
    .long 8
mb2_header_end:

    .section .boot.bss, "aw", @nobits
    .balign 4096
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4          /* 4 GiB in 2 MiB pages */
boot_stack:     .skip 4096
boot_stack_top:

    .section .boot.text, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    mov $boot_stack_top, %esp
    mov %eax, %edi                          /* magic: first argument of kernel_main */
    mov %ebx, %esi                          /* boot information: second argument */
    rdtsc                                   /* boot-time accounting starts here */
    mov %eax, boot_tsc
    mov %edx, boot_tsc + 4

    /* Long mode available? */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode

    /* Zero the tables: do not rely on the loader clearing NOLOAD space. */
    push %edi
    mov $boot_pml4, %edi
    mov $(4096 * 7 / 4), %ecx
    xor %eax, %eax
    rep stosl
    pop %edi

    /* boot_pd: identity of the first 4 GiB with 2 MiB pages. */
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $(PTE_P | PTE_W | PTE_PS), %eax
    mov %eax, boot_pd(, %ecx, 8)
    mov %ecx, %eax
    shr $11, %eax
    mov %eax, boot_pd + 4(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 1b

    /* boot_pdpt_low[0..3] -> the four page directories. */
    mov $(boot_pd + PTE_P + PTE_W), %eax
    xor %ecx, %ecx
2:  mov %eax, boot_pdpt_low(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jb 2b

    /* Identity (slot 0), the start of the direct map (slot 256) and the kernel image
     * (slot 511, PDPT slot 510 -> first GiB) all share these tables until paging_init. */
    mov $(boot_pdpt_low + PTE_P + PTE_W), %eax
    mov %eax, boot_pml4
    mov %eax, boot_pml4 + 256 * 8
    mov $(boot_pdpt_high + PTE_P + PTE_W), %eax
    mov %eax, boot_pml4 + 511 * 8
    mov $(boot_pd + PTE_P + PTE_W), %eax
    mov %eax, boot_pdpt_high + 510 * 8

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(1 << 5), %eax                      /* PAE */
    mov %eax, %cr4
    mov $0xc0000080, %ecx                   /* EFER.LME */
    rdmsr
    or $(1 << 8), %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax                    /* PG | WP | PE */
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode_low

no_long_mode:
    /* Say why on VGA text and COM1, then stop. */
    mov $no_lm_msg, %esi
    mov $0xb8000, %edi
3:  lodsb
    test %al, %al
    jz 4f
    mov %al, %bl
    mov $0x3f8, %dx
    outb %al, %dx
    mov %bl, %al
    mov $0x4f, %ah
    stosw
    jmp 3b
4:  hlt
    jmp 4b

    .code64
long_mode_low:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    movabs $long_mode_high, %rax
    jmp *%rax

    .section .boot.data, "aw"
    .balign 8
    .global boot_tsc
boot_tsc:
    .quad 0
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff                /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff                /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
no_lm_msg:
    .asciz "Keel: this CPU has no 64-bit long mode; cannot boot."

    .text
    .code64
    .type long_mode_high, @function
long_mode_high:
    movabs $kernel_boot_stack_top, %rsp
    xor %ebp, %ebp
    mov %edi, %edi                          /* upper halves are undefined after the mode switch */
    mov %esi, %esi
    call kernel_main
5:  cli
    hlt
    jmp 5b

    .bss
    .balign 16
    .global kernel_boot_stack, kernel_boot_stack_top
kernel_boot_stack:
    .skip 16384
kernel_boot_stack_top:
