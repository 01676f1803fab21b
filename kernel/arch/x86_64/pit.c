/* PIT channel 2 as a one-shot stopwatch (its output is readable in port 0x61 bit 5), used only to
 * calibrate the LAPIC timer and the TSC at boot. */
#include "arch/apic.h"
#include "arch/x86.h"

#define PIT_HZ 1193182u
#define PIT_CH2 0x42
#define PIT_MODE 0x43
#define PORT_B 0x61

bool pit_wait_us(uint32_t us)
{
    uint32_t count = (uint32_t)((uint64_t)PIT_HZ * us / 1000000u);
    if (count > 0xffff)
        count = 0xffff;
    if (count == 0)
        count = 1;
    uint8_t b = inb(PORT_B);
    outb(PORT_B, b & ~0x03);            /* gate off, speaker off */
    outb(PIT_MODE, 0xb0);               /* channel 2, lo/hi byte, mode 0, binary */
    outb(PIT_CH2, (uint8_t)count);
    outb(PIT_CH2, (uint8_t)(count >> 8));
    outb(PORT_B, (b & ~0x02) | 0x01);   /* gate on: counting starts */
    /* Bounded: a machine without a working PIT must not hang the boot here. */
    uint64_t spins = 0;
    while (!(inb(PORT_B) & 0x20))
        if (++spins > 100000000ull) {
            outb(PORT_B, b & ~0x03);
            return false;
        }
    outb(PORT_B, b & ~0x03);
    return true;
}
