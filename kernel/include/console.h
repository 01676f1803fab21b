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

/* Graphics framebuffer (kernel/arch/x86_64/fb.c): fb_init checks the multiboot2 tag and starts
 * drawing (false: not usable, the reason is logged); fb_remap moves it to a write-combining
 * mapping once paging_init has run. */
struct mb2_framebuffer;
bool fb_init(const struct mb2_framebuffer *fb);
void fb_remap(void);
void fb_write(const char *s, size_t n);
void fb_set_colour(uint8_t attr);
bool fb_present(void);

/* Every screen at once (log.c): a VGA attribute, e.g. 0x4f white on red for the panic screen. */
void console_set_colour(uint8_t attr);

#endif
