/* A text console drawn into a linear RGB framebuffer (the multiboot2 framebuffer tag of a UEFI
 * boot): glyphs from font.h, a cursor, scrolling. Pure drawing logic on a memory address the
 * caller maps, shared with the host tests; the kernel's glue is kernel/arch/x86_64/fb.c. */
#ifndef KEEL_FBCON_H
#define KEEL_FBCON_H

#include <stddef.h>
#include <stdint.h>
#include "klib.h"
#include "multiboot2.h"

/* Bounds a usable framebuffer must respect besides its own consistency. */
struct fbcon_limits {
    uint64_t phys_limit;              /* the whole buffer below this (CPU physical address width) */
    uint64_t avoid_start, avoid_end;  /* and outside this range (the kernel image) */
};

#define FBCON_MAX_DIM 16384                /* pixels per side */
#define FBCON_MAX_BYTES (256ul << 20)      /* pitch x height: fits the MMIO window with room left */

struct fbcon {
    uint8_t *base; /* pixel (0, 0), as mapped by the caller */
    uint32_t pitch, width, height;
    uint8_t bytes; /* per pixel: 2, 3 or 4 */
    uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size;
    uint32_t cols, rows; /* text cells */
    uint32_t x, y;       /* cursor; y == rows means "scroll before the next glyph" */
    uint32_t fg, bg;     /* packed pixel values */
};

/* 0 if the console can draw into `fb`, else -1 with the reason in `d` (the caller then logs on
 * serial only). Checks the type (RGB), bpp (15/16/24/32), colour fields, sizes, pitch and where
 * the buffer lies. The multiboot2 parser has checked the tag's own syntax already. */
int fbcon_check(const struct mb2_framebuffer *fb, const struct fbcon_limits *lim, struct diag *d);

/* Sets up `c` for a checked `fb` mapped at `base`: light grey on black, screen cleared, cursor
 * at the top left. */
void fbcon_init(struct fbcon *c, const struct mb2_framebuffer *fb, void *base);

/* The same pixels seen through another mapping (the write-combining one, once paging is up). */
static inline void fbcon_rebase(struct fbcon *c, void *base) { c->base = base; }

/* The pixel value of colour 0xRRGGBB in this framebuffer's format. */
uint32_t fbcon_pack(const struct fbcon *c, uint32_t rgb);

void fbcon_set_colours(struct fbcon *c, uint32_t fg_rgb, uint32_t bg_rgb);
void fbcon_clear(struct fbcon *c);

/* Draws bytes at the cursor: \n (to the start of the next line), \r, \t (to the next multiple of
 * 8 columns), \b (one column back, not past the line start); other bytes are glyphs, with the
 * fallback glyph for anything but printable ASCII. Wraps at the right edge, scrolls at the
 * bottom. Never writes outside the framebuffer, whatever state a racing writer left behind. */
void fbcon_write(struct fbcon *c, const char *s, size_t n);

#endif
