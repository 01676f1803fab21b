/* Port I/O for drivers holding an I/O port cap bound to their VSpace (keel/invoke.h: IOPort
 * Bind): the range is open in the CPU's I/O permission bitmap while their threads run, so they use
 * in/out directly; without the cap the instruction faults (#GP). */
#ifndef KEEL_PORTIO_H
#define KEEL_PORTIO_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

#endif
