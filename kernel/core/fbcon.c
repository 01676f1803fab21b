/* Framebuffer text console: see fbcon.h. Everything here works on plain memory, so it runs in a
 * panic (no allocation, no locks) and under the host tests. Pixels are written with memcpy of
 * 2, 3 or 4 bytes, which the compiler turns into single stores and which stays correct for any
 * pitch alignment. */
#include "fbcon.h"
#include "font.h"
#include <stdbool.h>

static const char *fb_type_name(uint8_t type)
{
    switch (type) {
    case MB2_FB_INDEXED: return "indexed-colour";
    case MB2_FB_EGA_TEXT: return "EGA text";
    default: return "unknown-type";
    }
}

static int check_field(const char *name, uint8_t pos, uint8_t size, uint8_t bpp, struct diag *d)
{
    if (size == 0 || size > 8) {
        diag_set(d, "%s field is %u bits wide; 1 to 8 supported", name, size);
        return -1;
    }
    if ((unsigned)pos + size > bpp) {
        diag_set(d, "%s field (bits %u..%u) lies outside the %u-bit pixel", name, pos, pos + size - 1, bpp);
        return -1;
    }
    return 0;
}

static uint32_t field_mask(uint8_t pos, uint8_t size) { return ((1u << size) - 1) << pos; }

int fbcon_check(const struct mb2_framebuffer *fb, const struct fbcon_limits *lim, struct diag *d)
{
    if (fb->type != MB2_FB_RGB) {
        diag_set(d, "%s framebuffer; only direct RGB is drawn on", fb_type_name(fb->type));
        return -1;
    }
    if (fb->bpp != 15 && fb->bpp != 16 && fb->bpp != 24 && fb->bpp != 32) {
        diag_set(d, "%u bits per pixel; 15, 16, 24 and 32 are supported", fb->bpp);
        return -1;
    }
    if (check_field("red", fb->red_pos, fb->red_size, fb->bpp, d) ||
        check_field("green", fb->green_pos, fb->green_size, fb->bpp, d) ||
        check_field("blue", fb->blue_pos, fb->blue_size, fb->bpp, d))
        return -1;
    uint32_t r = field_mask(fb->red_pos, fb->red_size), g = field_mask(fb->green_pos, fb->green_size),
             b = field_mask(fb->blue_pos, fb->blue_size);
    if ((r & g) || (r & b) || (g & b)) {
        diag_set(d, "colour fields overlap (red %u+%u, green %u+%u, blue %u+%u)", fb->red_pos, fb->red_size,
                 fb->green_pos, fb->green_size, fb->blue_pos, fb->blue_size);
        return -1;
    }
    if (fb->width < FONT_WIDTH || fb->height < FONT_HEIGHT || fb->width > FBCON_MAX_DIM ||
        fb->height > FBCON_MAX_DIM) {
        diag_set(d, "%ux%u pixels; %ux%u to %ux%u supported", fb->width, fb->height, FONT_WIDTH, FONT_HEIGHT,
                 FBCON_MAX_DIM, FBCON_MAX_DIM);
        return -1;
    }
    uint64_t bytes = (fb->bpp + 7u) / 8u;
    uint64_t row = (uint64_t)fb->width * bytes;
    if (fb->pitch < row) {
        diag_set(d, "pitch %u is less than a row of %ux%lu bytes", fb->pitch, fb->width, bytes);
        return -1;
    }
    uint64_t size = (uint64_t)fb->pitch * fb->height;
    if (size > FBCON_MAX_BYTES) {
        diag_set(d, "%lu bytes (pitch %u x %u rows); at most %lu MiB supported", size, fb->pitch, fb->height,
                 FBCON_MAX_BYTES >> 20);
        return -1;
    }
    if (fb->addr == 0 || fb->addr >= lim->phys_limit || size > lim->phys_limit - fb->addr) {
        diag_set(d, "buffer 0x%lx+0x%lx is not below the physical address limit 0x%lx", fb->addr, size,
                 lim->phys_limit);
        return -1;
    }
    if (fb->addr < lim->avoid_end && lim->avoid_start < fb->addr + size) {
        diag_set(d, "buffer 0x%lx+0x%lx overlaps the kernel at 0x%lx-0x%lx", fb->addr, size, lim->avoid_start,
                 lim->avoid_end);
        return -1;
    }
    return 0;
}

/* One 8-bit channel scaled to a field of `size` bits, rounding to nearest. */
static uint32_t channel(uint32_t v8, uint8_t pos, uint8_t size)
{
    uint32_t max = (1u << size) - 1;
    return ((v8 * max + 127) / 255) << pos;
}

uint32_t fbcon_pack(const struct fbcon *c, uint32_t rgb)
{
    return channel((rgb >> 16) & 0xff, c->red_pos, c->red_size) |
           channel((rgb >> 8) & 0xff, c->green_pos, c->green_size) | channel(rgb & 0xff, c->blue_pos, c->blue_size);
}

void fbcon_set_colours(struct fbcon *c, uint32_t fg_rgb, uint32_t bg_rgb)
{
    c->fg = fbcon_pack(c, fg_rgb);
    c->bg = fbcon_pack(c, bg_rgb);
}

/* Little-endian: the low bytes of `v` are the pixel, whatever its size. */
static inline void put_pixel(uint8_t *p, uint8_t bytes, uint32_t v) { __builtin_memcpy(p, &v, bytes); }

static void fill_span(uint8_t *p, uint32_t pixels, uint8_t bytes, uint32_t v)
{
    uint8_t px[4];
    __builtin_memcpy(px, &v, sizeof px);
    bool uniform = true;
    for (uint8_t i = 1; i < bytes; i++)
        uniform = uniform && px[i] == px[0];
    if (uniform) { /* black or white: one string store */
        __builtin_memset(p, px[0], (size_t)pixels * bytes);
        return;
    }
    for (uint32_t i = 0; i < pixels; i++, p += bytes)
        put_pixel(p, bytes, v);
}

/* Fills text rows [first, first + count) across the whole width, margins included. */
static void clear_text_rows(struct fbcon *c, uint32_t first, uint32_t count)
{
    uint8_t *line = c->base + (size_t)first * FONT_HEIGHT * c->pitch;
    for (uint32_t i = 0; i < count * FONT_HEIGHT; i++, line += c->pitch)
        fill_span(line, c->width, c->bytes, c->bg);
}

void fbcon_clear(struct fbcon *c)
{
    uint8_t *line = c->base;
    for (uint32_t i = 0; i < c->height; i++, line += c->pitch)
        fill_span(line, c->width, c->bytes, c->bg);
    c->x = c->y = 0;
}

void fbcon_init(struct fbcon *c, const struct mb2_framebuffer *fb, void *base)
{
    c->base = base;
    c->pitch = fb->pitch;
    c->width = fb->width;
    c->height = fb->height;
    c->bytes = (uint8_t)((fb->bpp + 7) / 8);
    c->red_pos = fb->red_pos, c->red_size = fb->red_size;
    c->green_pos = fb->green_pos, c->green_size = fb->green_size;
    c->blue_pos = fb->blue_pos, c->blue_size = fb->blue_size;
    c->cols = fb->width / FONT_WIDTH;
    c->rows = fb->height / FONT_HEIGHT;
    fbcon_set_colours(c, 0xc0c0c0, 0x000000);
    fbcon_clear(c);
}

static void draw_glyph(const struct fbcon *c, uint32_t col, uint32_t row, unsigned char ch)
{
    const uint8_t *glyph = font_glyph(ch);
    uint8_t *line = c->base + (size_t)row * FONT_HEIGHT * c->pitch + (size_t)col * FONT_WIDTH * c->bytes;
    for (int gy = 0; gy < FONT_HEIGHT; gy++, line += c->pitch) {
        uint8_t bits = glyph[gy];
        uint8_t *p = line;
        for (int gx = 0; gx < FONT_WIDTH; gx++, p += c->bytes)
            put_pixel(p, c->bytes, (bits & (0x80 >> gx)) ? c->fg : c->bg);
    }
}

/* Moves every text row up by one and clears the last. Reads the framebuffer back: slow on
 * write-combining memory of real hardware (uncached reads), but a log line costs one scroll. */
static void scroll(struct fbcon *c)
{
    size_t row_bytes = (size_t)FONT_HEIGHT * c->pitch;
    __builtin_memmove(c->base, c->base + row_bytes, (size_t)(c->rows - 1) * row_bytes);
    clear_text_rows(c, c->rows - 1, 1);
}

/* To the start of the next line; from the pending row below the last, the blank line it was
 * scrolls in and another is pending. */
static void new_line(struct fbcon *c, uint32_t *x, uint32_t *y)
{
    *x = 0;
    if (*y < c->rows)
        (*y)++;
    else
        scroll(c);
}

void fbcon_write(struct fbcon *c, const char *s, size_t n)
{
    if (!c->base || !c->cols || !c->rows)
        return;
    /* Work on copies brought into range first: another CPU printing at the same time (the log
     * has no lock a panic could deadlock on) may garble the text, never the bounds. */
    uint32_t x = c->x, y = c->y;
    if (x >= c->cols)
        x = 0, y++;
    if (y > c->rows)
        y = c->rows;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '\n':
            new_line(c, &x, &y);
            break;
        case '\r':
            x = 0;
            break;
        case '\t':
            x = (x + 8) & ~7u;
            if (x >= c->cols)
                new_line(c, &x, &y);
            break;
        case '\b':
            if (x > 0)
                x--;
            break;
        default:
            if (y >= c->rows) {
                scroll(c);
                y = c->rows - 1;
            }
            draw_glyph(c, x, y, ch);
            if (++x == c->cols) {
                x = 0;
                y++; /* at most c->rows: pending, scrolled when the next glyph comes */
            }
            break;
        }
    }
    c->x = x;
    c->y = y;
}
