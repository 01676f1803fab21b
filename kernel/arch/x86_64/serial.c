/* COM1 16550 UART, polled: the kernel's log device. The userspace serial driver takes the port
 * over later through an I/O port capability; the kernel then only writes panics here. */
#include "arch/x86.h"
#include "console.h"

#define COM1 0x3f8
#define REG_DATA 0
#define REG_IER 1
#define REG_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_SCRATCH 7
#define LSR_THR_EMPTY 0x20

static bool present;

bool serial_init(void)
{
    /* A UART keeps what is written to its scratch register; absent hardware floats to 0xff. */
    outb(COM1 + REG_SCRATCH, 0x5a);
    if (inb(COM1 + REG_SCRATCH) != 0x5a)
        return present = false;
    outb(COM1 + REG_IER, 0x00);
    outb(COM1 + REG_LCR, 0x80); /* divisor latch */
    outb(COM1 + REG_DATA, 1);   /* 115200 baud */
    outb(COM1 + REG_IER, 0);
    outb(COM1 + REG_LCR, 0x03); /* 8N1 */
    outb(COM1 + REG_FCR, 0xc7); /* FIFO on, cleared, 14-byte threshold */
    outb(COM1 + REG_MCR, 0x03); /* DTR, RTS; OUT2 stays off: no interrupts from the kernel's use */
    return present = true;
}

bool serial_present(void) { return present; }

static void put(char c)
{
    for (int spins = 0; spins < 100000 && !(inb(COM1 + REG_LSR) & LSR_THR_EMPTY); spins++)
        cpu_relax();
    outb(COM1 + REG_DATA, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
    if (!present)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            put('\r');
        put(s[i]);
    }
}
