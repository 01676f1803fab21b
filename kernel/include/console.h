/* Output devices behind the kernel log. */
#ifndef KEEL_CONSOLE_H
#define KEEL_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool serial_init(void);
void serial_write(const char *s, size_t n);
bool serial_present(void);

/* VGA/EGA text mode at a physical address (0xb8000 on BIOS machines). */
void vga_init(uint64_t phys, uint32_t columns, uint32_t rows);
void vga_write(const char *s, size_t n);
void vga_set_colour(uint8_t attr);
bool vga_present(void);

#endif
