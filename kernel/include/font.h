/* The console font: 8x16-pixel glyphs for printable ASCII, drawn for Keel (tools/font/). */
#ifndef KEEL_FONT_H
#define KEEL_FONT_H

#include <stdint.h>

#define FONT_WIDTH 8
#define FONT_HEIGHT 16
#define FONT_FIRST 0x20 /* glyph 0 is the space */
#define FONT_GLYPHS 96  /* 0x20-0x7e, then the fallback glyph */

extern const uint8_t font8x16[FONT_GLYPHS][FONT_HEIGHT];

/* The glyph for byte c: its own for printable ASCII, the fallback box for anything else. */
static inline const uint8_t *font_glyph(unsigned char c)
{
    return font8x16[c >= FONT_FIRST && c < 0x7f ? c - FONT_FIRST : FONT_GLYPHS - 1];
}

#endif
