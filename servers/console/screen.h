/* The console's screen: the geometry init passes (keel/console.h) and the text drawing on it, VGA
 * text mode or an RGB framebuffer (through the kernel's fbcon.c, compiled in here too). */
#ifndef CONSOLE_SCREEN_H
#define CONSOLE_SCREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct screen_geom {
    bool text;                       /* VGA text cells, else RGB pixels */
    uint32_t width, height, pitch;   /* cells or pixels; bytes per row */
    uint8_t bpp;
    uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size;
    uint64_t va, size;
};

/* Parse the text after KEEL_CONSOLE_SCREEN_ARG; 0, or -1 with the reason in `why`. */
int screen_parse(const char *s, struct screen_geom *g, char *why, size_t why_size);

/* Start drawing on the mapped screen: cleared, a title line, the cursor below it. */
void screen_init(const struct screen_geom *g, const char *title);
/* Columns and rows of text. */
void screen_size(uint32_t *cols, uint32_t *rows);
/* Draw bytes at the cursor (\n \r \b \t handled, anything unprintable as a box), then the cursor. */
void screen_write(const char *s, size_t n);

#endif
