/* The console's drawing (screen.h). An RGB framebuffer is drawn by the kernel's own framebuffer
 * console code (kernel/core/fbcon.c and the font, compiled into this program as well: they are
 * pure drawing logic on memory the caller maps). VGA text mode is simple enough to do here: a
 * cell is a character byte and an attribute byte.
 *
 * The cursor is drawn by inverting its cell (text: the attribute's colours swapped; RGB: the
 * foreground and background pixels swapped), so hiding it again restores exactly what was there,
 * a glyph under it included. It is hidden before each write and shown after. */
#include "screen.h"
#include "fbcon.h"
#include "font.h"
#include <keel/stdio.h>
#include <keel/string.h>

#define ATTR_TEXT 0x07  /* light grey on black */
#define ATTR_TITLE 0x1f /* white on blue */

static struct screen_geom geom;
static struct fbcon fb;                /* RGB */
static volatile uint16_t *cells;       /* text */
static uint32_t cols, rows, tx, ty;    /* text: size and cursor */
static uint8_t attr = ATTR_TEXT;
static bool cursor_shown;
static uint32_t cursor_x, cursor_y;

/* fbcon_check reports through klib.h's diag_set, which the kernel implements with its printf. */
void diag_set(struct diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    keel_vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
}

/* ---- The geometry argument ---- */

/* The first `c` in s[0, n), or NULL (libkeel has no memchr). */
static const char *find(const char *s, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == c)
            return s + i;
    return 0;
}

static bool number(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0, base = 10;
    if (n > 2 && s[0] == '0' && (s[1] | 0x20) == 'x') {
        base = 16;
        s += 2;
        n -= 2;
    }
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = (char)(s[i] | 0x20);
        uint64_t d = (s[i] >= '0' && s[i] <= '9') ? (uint64_t)(s[i] - '0')
                     : (base == 16 && c >= 'a' && c <= 'f') ? (uint64_t)(c - 'a' + 10)
                                                            : 99;
        if (d >= base || v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

/* "POS/SIZE" of a colour field. */
static bool field(const char *s, size_t n, uint8_t *pos, uint8_t *size)
{
    const char *slash = find(s, n, '/');
    uint64_t p, z;
    if (!slash || !number(s, (size_t)(slash - s), &p) || !number(slash + 1, n - (size_t)(slash - s) - 1, &z) ||
        p > 255 || z > 255)
        return false;
    *pos = (uint8_t)p;
    *size = (uint8_t)z;
    return true;
}

int screen_parse(const char *s, struct screen_geom *g, char *why, size_t why_size)
{
    enum { TYPE, WIDTH, HEIGHT, PITCH, BPP, RED, GREEN, BLUE, VA, SIZE, NKEYS };
    static const char *const keys[NKEYS] = { "type", "width", "height", "pitch", "bpp",
                                             "red",  "green", "blue",   "va",    "size" };
    bool seen[NKEYS] = { false };
    uint64_t v[NKEYS] = { 0 };
    memset(g, 0, sizeof *g);
    while (*s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *eq = find(s, n, '=');
        int k = -1;
        for (int i = 0; i < NKEYS && eq; i++)
            if (strlen(keys[i]) == (size_t)(eq - s) && strncmp(s, keys[i], (size_t)(eq - s)) == 0)
                k = i;
        if (k < 0 || seen[k]) {
            keel_snprintf(why, why_size, "'%.*s': %s", (int)n, s, k < 0 ? "not a known key=value" : "given twice");
            return -1;
        }
        seen[k] = true;
        const char *val = eq + 1;
        size_t vn = n - (size_t)(val - s);
        bool ok;
        if (k == TYPE) {
            ok = (vn == 4 && strncmp(val, "text", 4) == 0) || (vn == 3 && strncmp(val, "rgb", 3) == 0);
            g->text = vn == 4;
        } else if (k == RED) {
            ok = field(val, vn, &g->red_pos, &g->red_size);
        } else if (k == GREEN) {
            ok = field(val, vn, &g->green_pos, &g->green_size);
        } else if (k == BLUE) {
            ok = field(val, vn, &g->blue_pos, &g->blue_size);
        } else {
            ok = number(val, vn, &v[k]) && (k == VA || k == SIZE || v[k] <= 0xffffffffu);
        }
        if (!ok) {
            keel_snprintf(why, why_size, "'%.*s': bad value", (int)n, s);
            return -1;
        }
        s += n + (end ? 1 : 0);
    }
    for (int k = 0; k < NKEYS; k++)
        if (!seen[k]) {
            keel_snprintf(why, why_size, "no %s= given", keys[k]);
            return -1;
        }
    g->width = (uint32_t)v[WIDTH], g->height = (uint32_t)v[HEIGHT], g->pitch = (uint32_t)v[PITCH];
    g->va = v[VA], g->size = v[SIZE];
    if (v[BPP] > 32 || g->va == 0 || g->va + g->size < g->va || (uint64_t)g->pitch * g->height != g->size) {
        keel_snprintf(why, why_size, "bpp %llu, va %#llx, size %llu do not add up (size = pitch x height)",
                      (unsigned long long)v[BPP], (unsigned long long)g->va, (unsigned long long)g->size);
        return -1;
    }
    g->bpp = (uint8_t)v[BPP];
    if (g->text) {
        if (g->bpp != 16 || g->width == 0 || g->width > 256 || g->height == 0 || g->height > 128 ||
            g->pitch < g->width * 2) {
            keel_snprintf(why, why_size, "text %ux%u, pitch %u, bpp %u: need 1-256 x 1-128 cells of 16 bits",
                          g->width, g->height, g->pitch, g->bpp);
            return -1;
        }
        return 0;
    }
    /* The same checks the kernel made before drawing on it. */
    struct mb2_framebuffer t = { .addr = g->va, .pitch = g->pitch, .width = g->width, .height = g->height,
                                 .bpp = g->bpp, .type = MB2_FB_RGB, .red_pos = g->red_pos,
                                 .red_size = g->red_size, .green_pos = g->green_pos, .green_size = g->green_size,
                                 .blue_pos = g->blue_pos, .blue_size = g->blue_size };
    struct fbcon_limits lim = { .phys_limit = 1ull << 47 };
    struct diag d = { "" };
    if (fbcon_check(&t, &lim, &d) != 0) {
        keel_snprintf(why, why_size, "%s", d.msg);
        return -1;
    }
    return 0;
}

/* ---- Text mode ---- */

static void text_scroll(void)
{
    for (uint32_t i = 0; i < cols * (rows - 1); i++)
        cells[i] = cells[i + cols];
    for (uint32_t i = cols * (rows - 1); i < cols * rows; i++)
        cells[i] = (uint16_t)(attr << 8 | ' ');
    ty = rows - 1;
}

static void text_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            tx = 0;
            ty++;
        } else if (c == '\r') {
            tx = 0;
        } else if (c == '\b') {
            tx -= tx > 0;
        } else if (c == '\t') {
            tx = (tx + 8) & ~7u;
            if (tx >= cols)
                tx = 0, ty++;
        } else {
            /* Code page 437 has glyphs for everything; keep to ASCII like the RGB font (0xfe: a box). */
            cells[ty * cols + tx] = (uint16_t)(attr << 8 | (c >= 0x20 && c < 0x7f ? c : 0xfe));
            if (++tx == cols)
                tx = 0, ty++;
        }
        if (ty >= rows)
            text_scroll();
    }
}

static void text_clear(void)
{
    for (uint32_t i = 0; i < cols * rows; i++)
        cells[i] = (uint16_t)(attr << 8 | ' ');
    tx = ty = 0;
}

/* ---- The cursor ---- */

static void invert_cell(uint32_t x, uint32_t y)
{
    if (geom.text) {
        uint16_t v = cells[y * cols + x];
        uint8_t a = (uint8_t)(v >> 8);
        cells[y * cols + x] = (uint16_t)((((a << 4) & 0x70) | ((a >> 4) & 0x07) | (a & 0x88)) << 8 | (v & 0xff));
        return;
    }
    uint8_t *line = fb.base + (size_t)y * FONT_HEIGHT * fb.pitch + (size_t)x * FONT_WIDTH * fb.bytes;
    for (int gy = 0; gy < FONT_HEIGHT; gy++, line += fb.pitch)
        for (int gx = 0; gx < FONT_WIDTH; gx++) {
            uint8_t *p = line + gx * fb.bytes;
            uint32_t px = 0;
            memcpy(&px, p, fb.bytes);
            uint32_t swapped = px == fb.fg ? fb.bg : fb.fg;
            memcpy(p, &swapped, fb.bytes);
        }
}

static void cursor(bool show)
{
    if (cursor_shown) {
        invert_cell(cursor_x, cursor_y);
        cursor_shown = false;
    }
    if (!show)
        return;
    uint32_t x = geom.text ? tx : fb.x, y = geom.text ? ty : fb.y;
    if (x >= cols || y >= rows)
        return; /* RGB: the pending row below the last; it scrolls in with the next glyph */
    cursor_x = x, cursor_y = y;
    invert_cell(x, y);
    cursor_shown = true;
}

/* ---- Both ---- */

static void raw_write(const char *s, size_t n)
{
    if (geom.text)
        text_write(s, n);
    else
        fbcon_write(&fb, s, n);
}

static void set_attr(uint8_t a)
{
    static const uint32_t palette[16] = { 0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa,
                                          0xaa5500, 0xc0c0c0, 0x555555, 0x5555ff, 0x55ff55, 0x55ffff,
                                          0xff5555, 0xff55ff, 0xffff55, 0xffffff };
    attr = a;
    if (!geom.text)
        fbcon_set_colours(&fb, palette[a & 15], palette[a >> 4]);
}

void screen_init(const struct screen_geom *g, const char *title)
{
    geom = *g;
    if (g->text) {
        cells = (volatile uint16_t *)g->va;
        cols = g->width;
        rows = g->height;
        text_clear();
    } else {
        struct mb2_framebuffer t = { .addr = g->va, .pitch = g->pitch, .width = g->width, .height = g->height,
                                     .bpp = g->bpp, .type = MB2_FB_RGB, .red_pos = g->red_pos,
                                     .red_size = g->red_size, .green_pos = g->green_pos,
                                     .green_size = g->green_size, .blue_pos = g->blue_pos,
                                     .blue_size = g->blue_size };
        fbcon_init(&fb, &t, (void *)g->va); /* clears it */
        cols = fb.cols;
        rows = fb.rows;
    }
    /* The title fills the first row (the rest of it in spaces). */
    set_attr(ATTR_TITLE);
    size_t n = strlen(title);
    if (n > cols)
        n = cols;
    raw_write(title, n);
    for (size_t i = n; i < cols; i++)
        raw_write(" ", 1);
    set_attr(ATTR_TEXT);
    if (geom.text ? tx != 0 : fb.x != 0) /* the title did not fill the row exactly */
        raw_write("\r\n", 2);
    cursor(true);
}

void screen_size(uint32_t *c, uint32_t *r)
{
    *c = cols;
    *r = rows;
}

void screen_write(const char *s, size_t n)
{
    cursor(false);
    raw_write(s, n);
    cursor(true);
}
