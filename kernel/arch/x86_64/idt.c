/* The IDT: 256 interrupt gates onto the stubs in isr.S, which are laid out 16 bytes apart.
 * NMI, #DF and #MC run on their own IST stacks so that a broken kernel stack still reports. */
#include "arch/cpu.h"
#include "arch/trap.h"
#include "klib.h"

struct __attribute__((packed)) idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern char isr_table_start[];

#define STUB_STRIDE 16

static void set_gate(unsigned vector, uint64_t handler, uint8_t ist)
{
    idt[vector] = (struct idt_gate){
        .offset_low = (uint16_t)handler,
        .selector = GDT_KERNEL_CODE,
        .ist = ist,
        .type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate: IF cleared on entry */
        .offset_mid = (uint16_t)(handler >> 16),
        .offset_high = (uint32_t)(handler >> 32),
    };
}

void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, (uint64_t)isr_table_start + v * STUB_STRIDE, 0);
    idt[VEC_NMI].ist = IST_NMI;
    idt[VEC_DOUBLE_FAULT].ist = IST_DOUBLE_FAULT;
    idt[VEC_MACHINE_CHECK].ist = IST_MACHINE_CHECK;
    idt_load();
}

void idt_load(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr = { sizeof idt - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" ::"m"(idtr));
}
