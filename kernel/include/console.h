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
/* Where the text screen is (false: none), for handing it to the root task. */
bool vga_screen(uint64_t *phys, uint32_t *columns, uint32_t *rows);
/* Blank the whole screen in the current colour and home the cursor (the panic screen). */
void vga_clear(void);

/* Graphics framebuffer (kernel/arch/x86_64/fb.c): fb_init checks the multiboot2 tag and starts
 * drawing (false: not usable, the reason is logged); fb_remap moves it to a write-combining
 * mapping once paging_init has run. */
struct mb2_framebuffer;
bool fb_init(const struct mb2_framebuffer *fb);
void fb_remap(void);
void fb_write(const char *s, size_t n);
void fb_set_colour(uint8_t attr);
bool fb_present(void);
/* The framebuffer the console draws on (its checked multiboot2 tag), or NULL. */
const struct mb2_framebuffer *fb_screen(void);
void fb_clear(void);

/* Every screen at once (log.c): a VGA attribute, e.g. 0x4f white on red for the panic screen. */
void console_set_colour(uint8_t attr);

/* The screen belongs to userspace once the root task has it (docs/architecture.md, 4.3): after
 * console_release_screen the log goes to serial only. console_reclaim_screen (the panic path)
 * takes it back: the screen is blanked in the current colour and drawn on again. */
void console_release_screen(void);
void console_reclaim_screen(void);

#endif
