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
