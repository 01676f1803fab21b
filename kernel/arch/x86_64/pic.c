/* The legacy 8259 pair: remapped off the exception vectors, then fully masked. Keel takes
 * device interrupts through the IOAPIC; a spurious PIC interrupt must still not look like #DF. */
#include "arch/apic.h"
#include "arch/trap.h"
#include "arch/x86.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

void pic_disable(void)
{
    outb(PIC1_CMD, 0x11); /* ICW1: init, ICW4 follows */
    io_wait();
    outb(PIC2_CMD, 0x11);
    io_wait();
    outb(PIC1_DATA, VEC_IRQ_BASE); /* ICW2: vector offsets */
    io_wait();
    outb(PIC2_DATA, VEC_IRQ_BASE + 8);
    io_wait();
    outb(PIC1_DATA, 4); /* ICW3: slave on IRQ2 */
    io_wait();
    outb(PIC2_DATA, 2);
    io_wait();
    outb(PIC1_DATA, 1); /* ICW4: 8086 mode */
    io_wait();
    outb(PIC2_DATA, 1);
    io_wait();
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
}

#define OCW3_READ_ISR 0x0b
#define PIC_EOI 0x20

bool pic_acknowledge(unsigned irq)
{
    uint16_t cmd = irq < 8 ? PIC1_CMD : PIC2_CMD;
    outb(cmd, OCW3_READ_ISR);
    bool in_service = inb(cmd) & (1u << (irq & 7));
    if (!in_service) {
        /* Spurious (the request went away before the acknowledge cycle): nothing to end, but a
         * spurious IRQ 15 did put the cascade line of the master in service. */
        if (irq >= 8)
            outb(PIC1_CMD, PIC_EOI);
        return false;
    }
    if (irq >= 8)
        outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
    outb(PIC1_DATA, 0xff); /* Keel takes nothing through the 8259 */
    outb(PIC2_DATA, 0xff);
    return true;
}
