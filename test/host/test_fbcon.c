/* The framebuffer console (kernel/core/fbcon.c) drawing into memory: tag checks, colour packing
 * for 32/24/16/15 bpp, glyph rendering, wrapping, control characters, scrolling, and staying
 * inside the buffer (each buffer is its own allocation, so ASan catches a stray pixel; the
 * padding at the end of each row is filled with a canary that must survive). */
#define CHECK_MAIN
#include "check.h"
#include "fbcon.h"
#include "font.h"
#include <stdlib.h>
#include <string.h>

#define CANARY 0xa5

struct screen {
    uint8_t *mem;
    size_t size;
    struct mb2_framebuffer tag;
    struct fbcon con;
};

static const struct fbcon_limits limits = { 1ul << 36, 0x100000, 0x400000 };

static struct mb2_framebuffer rgb_tag(uint32_t w, uint32_t h, uint8_t bpp, uint32_t pad)
{
    struct mb2_framebuffer t = { .addr = 0xc0000000, .width = w, .height = h, .bpp = bpp, .type = MB2_FB_RGB };
    t.pitch = w * ((bpp + 7u) / 8u) + pad;
    if (bpp == 32 || bpp == 24) {
        t.red_pos = 16, t.red_size = 8, t.green_pos = 8, t.green_size = 8, t.blue_pos = 0, t.blue_size = 8;
    } else if (bpp == 16) {
        t.red_pos = 11, t.red_size = 5, t.green_pos = 5, t.green_size = 6, t.blue_pos = 0, t.blue_size = 5;
    } else {
        t.red_pos = 10, t.red_size = 5, t.green_pos = 5, t.green_size = 5, t.blue_pos = 0, t.blue_size = 5;
    }
    return t;
}

static void screen_open(struct screen *s, uint32_t w, uint32_t h, uint8_t bpp, uint32_t pad)
{
    s->tag = rgb_tag(w, h, bpp, pad);
    struct diag d = { "" };
    CHECK_EQ_U64(fbcon_check(&s->tag, &limits, &d), 0);
    s->size = (size_t)s->tag.pitch * h;
    s->mem = malloc(s->size);
    memset(s->mem, CANARY, s->size);
    fbcon_init(&s->con, &s->tag, s->mem);
}

static void screen_close(struct screen *s) { free(s->mem); }

static uint32_t pixel(const struct screen *s, uint32_t x, uint32_t y)
{
    uint32_t v = 0;
    memcpy(&v, s->mem + (size_t)y * s->tag.pitch + (size_t)x * s->con.bytes, s->con.bytes);
    return v;
}

/* Does text cell (col, row) show character ch in the current colours? */
static bool cell_is(const struct screen *s, uint32_t col, uint32_t row, unsigned char ch)
{
    const uint8_t *g = font_glyph(ch);
    for (uint32_t gy = 0; gy < FONT_HEIGHT; gy++)
        for (uint32_t gx = 0; gx < FONT_WIDTH; gx++) {
            uint32_t want = (g[gy] & (0x80 >> gx)) ? s->con.fg : s->con.bg;
            if (pixel(s, col * FONT_WIDTH + gx, row * FONT_HEIGHT + gy) != want)
                return false;
        }
    return true;
}

static bool row_is(const struct screen *s, uint32_t row, const char *text)
{
    size_t n = strlen(text);
    for (uint32_t col = 0; col < s->con.cols; col++)
        if (!cell_is(s, col, row, col < n ? (unsigned char)text[col] : ' '))
            return false;
    return true;
}

static bool padding_intact(const struct screen *s)
{
    size_t used = (size_t)s->tag.width * s->con.bytes;
    for (uint32_t y = 0; y < s->tag.height; y++)
        for (size_t i = used; i < s->tag.pitch; i++)
            if (s->mem[(size_t)y * s->tag.pitch + i] != CANARY)
                return false;
    return true;
}

static void write_str(struct screen *s, const char *text) { fbcon_write(&s->con, text, strlen(text)); }

/* ---- tag checks ---- */

static void expect_reject(struct mb2_framebuffer t, const char *reason)
{
    struct diag d = { "" };
    CHECK_EQ_U64(fbcon_check(&t, &limits, &d), (uint64_t)-1);
    CHECK_STR_CONTAINS(d.msg, reason);
}

TEST(check_accepts_common_formats)
{
    struct diag d = { "" };
    uint8_t bpps[] = { 32, 24, 16, 15 };
    for (size_t i = 0; i < sizeof bpps; i++) {
        struct mb2_framebuffer t = rgb_tag(1280, 800, bpps[i], 0);
        CHECK_EQ_U64(fbcon_check(&t, &limits, &d), 0);
    }
    struct mb2_framebuffer t = rgb_tag(8, 16, 32, 4096); /* one cell, large pitch */
    CHECK_EQ_U64(fbcon_check(&t, &limits, &d), 0);
    t = rgb_tag(1024, 768, 32, 0);
    t.addr = 0x400000; /* right after the kernel: adjacent is fine */
    CHECK_EQ_U64(fbcon_check(&t, &limits, &d), 0);
}

TEST(check_rejects_bad_tags)
{
    struct mb2_framebuffer t = rgb_tag(640, 480, 32, 0);
    t.type = MB2_FB_INDEXED;
    expect_reject(t, "indexed-colour framebuffer");
    t.type = MB2_FB_EGA_TEXT;
    expect_reject(t, "EGA text framebuffer");
    t = rgb_tag(640, 480, 32, 0);
    t.bpp = 8;
    expect_reject(t, "8 bits per pixel");
    t = rgb_tag(640, 480, 32, 0);
    t.green_size = 0;
    expect_reject(t, "green field is 0 bits");
    t.green_size = 9;
    expect_reject(t, "green field is 9 bits");
    t = rgb_tag(640, 480, 16, 0);
    t.red_pos = 12; /* 12 + 5 > 16 */
    expect_reject(t, "red field (bits 12..16) lies outside the 16-bit pixel");
    t = rgb_tag(640, 480, 32, 0);
    t.blue_pos = 12;
    expect_reject(t, "colour fields overlap");
    t = rgb_tag(7, 480, 32, 0);
    expect_reject(t, "7x480 pixels");
    t = rgb_tag(640, 15, 32, 0);
    expect_reject(t, "640x15 pixels");
    t = rgb_tag(16385, 16, 32, 0);
    expect_reject(t, "16385x16 pixels");
    t = rgb_tag(640, 480, 24, 0);
    t.pitch = 640 * 3 - 1;
    expect_reject(t, "pitch 1919 is less than a row of 640x3 bytes");
    t = rgb_tag(8192, 8192, 32, 0); /* 256 MiB exactly is fine, one more row is not */
    struct diag d = { "" };
    CHECK_EQ_U64(fbcon_check(&t, &limits, &d), 0);
    t.pitch += 4;
    expect_reject(t, "at most 256 MiB");
    t = rgb_tag(640, 480, 32, 0);
    t.addr = 0;
    expect_reject(t, "not below the physical address limit");
    t.addr = 1ul << 36;
    expect_reject(t, "not below the physical address limit");
    t.addr = (1ul << 36) - 4096; /* starts below the limit, ends past it */
    expect_reject(t, "not below the physical address limit");
    t.addr = UINT64_MAX - 4095; /* would wrap */
    expect_reject(t, "not below the physical address limit");
    t.addr = 0x3ff000;
    expect_reject(t, "overlaps the kernel");
    t.addr = 0x80000; /* starts below the kernel, reaches into it */
    expect_reject(t, "overlaps the kernel");
}

/* ---- colour packing ---- */

TEST(pack_32bpp_both_orders)
{
    struct fbcon c = { 0 };
    c.red_pos = 16, c.red_size = 8, c.green_pos = 8, c.green_size = 8, c.blue_pos = 0, c.blue_size = 8;
    CHECK_EQ_U64(fbcon_pack(&c, 0x123456), 0x123456);
    c.red_pos = 0, c.blue_pos = 16; /* BGR byte order */
    CHECK_EQ_U64(fbcon_pack(&c, 0x123456), 0x563412);
    CHECK_EQ_U64(fbcon_pack(&c, 0xffffff), 0xffffff);
}

TEST(pack_16bpp_and_15bpp)
{
    struct fbcon c = { 0 };
    c.red_pos = 11, c.red_size = 5, c.green_pos = 5, c.green_size = 6, c.blue_pos = 0, c.blue_size = 5;
    CHECK_EQ_U64(fbcon_pack(&c, 0xffffff), 0xffff);
    CHECK_EQ_U64(fbcon_pack(&c, 0xff0000), 0xf800);
    CHECK_EQ_U64(fbcon_pack(&c, 0x00ff00), 0x07e0);
    CHECK_EQ_U64(fbcon_pack(&c, 0x0000ff), 0x001f);
    CHECK_EQ_U64(fbcon_pack(&c, 0x808080), (16u << 11) | (32u << 5) | 16u); /* rounded to nearest */
    CHECK_EQ_U64(fbcon_pack(&c, 0x000000), 0);
    c.red_pos = 10, c.green_size = 5;
    CHECK_EQ_U64(fbcon_pack(&c, 0xffffff), 0x7fff);
    CHECK_EQ_U64(fbcon_pack(&c, 0xaa0000), 21u << 10);
}

/* ---- drawing ---- */

TEST(init_clears_and_sizes)
{
    struct screen s;
    screen_open(&s, 100, 50, 32, 12); /* 12 cols, 3 rows; 4x2 pixels of margin */
    CHECK_EQ_U64(s.con.cols, 12);
    CHECK_EQ_U64(s.con.rows, 3);
    CHECK_EQ_U64(pixel(&s, 99, 49), 0); /* margins cleared too */
    CHECK(padding_intact(&s));
    screen_close(&s);
}

TEST(glyphs_drawn_in_every_depth)
{
    uint8_t bpps[] = { 32, 24, 16, 15 };
    for (size_t i = 0; i < sizeof bpps; i++) {
        struct screen s;
        screen_open(&s, 83, 40, bpps[i], 3);
        fbcon_set_colours(&s.con, 0xffffff, 0xaa0000);
        write_str(&s, "Keel~");
        CHECK(cell_is(&s, 0, 0, 'K') && cell_is(&s, 1, 0, 'e') && cell_is(&s, 3, 0, 'l'));
        CHECK(cell_is(&s, 4, 0, '~'));
        CHECK(pixel(&s, 5 * FONT_WIDTH, 0) == fbcon_pack(&s.con, 0)); /* the rest still as cleared */
        CHECK(padding_intact(&s));
        screen_close(&s);
    }
}

TEST(fallback_glyph_for_non_printable)
{
    struct screen s;
    screen_open(&s, 64, 32, 32, 0);
    write_str(&s, "\x01\x7f\xff");
    for (uint32_t col = 0; col < 3; col++)
        CHECK(cell_is(&s, col, 0, 0x7f));
    CHECK(font_glyph(0x01) == font8x16[FONT_GLYPHS - 1] && font_glyph(0x80) == font8x16[FONT_GLYPHS - 1]);
    screen_close(&s);
}

TEST(wraps_at_right_edge)
{
    struct screen s;
    screen_open(&s, 4 * 8 + 5, 3 * 16, 32, 0);
    write_str(&s, "abcdefghi");
    CHECK(row_is(&s, 0, "abcd"));
    CHECK(row_is(&s, 1, "efgh"));
    CHECK(row_is(&s, 2, "i"));
    screen_close(&s);
}

TEST(control_characters)
{
    struct screen s;
    screen_open(&s, 20 * 8, 6 * 16, 32, 0);
    write_str(&s, "ab\bc\n");        /* backspace: back one column */
    write_str(&s, "\bx\n");          /* not past the line start */
    write_str(&s, "long\rS\n");      /* carriage return */
    write_str(&s, "a\tb\tc\n");      /* tabs to columns 8 and 16 */
    write_str(&s, "0123456789abcdef\tX"); /* tab past the last stop: next line */
    CHECK(row_is(&s, 0, "ac"));
    CHECK(row_is(&s, 1, "x"));
    CHECK(row_is(&s, 2, "Song"));
    CHECK(row_is(&s, 3, "a       b       c"));
    CHECK(row_is(&s, 4, "0123456789abcdef"));
    CHECK(row_is(&s, 5, "X"));
    screen_close(&s);
}

TEST(scrolls_keeping_blank_lines)
{
    struct screen s;
    screen_open(&s, 10 * 8, 3 * 16 + 7, 24, 5); /* 7 pixel rows of margin below the text */
    write_str(&s, "one\ntwo\nthree\n");
    CHECK(row_is(&s, 0, "one") && row_is(&s, 2, "three"));
    write_str(&s, "four");              /* the pending line scrolls in only now */
    CHECK(row_is(&s, 0, "two") && row_is(&s, 1, "three") && row_is(&s, 2, "four"));
    write_str(&s, "\n\nfive");          /* an empty line survives scrolling */
    CHECK(row_is(&s, 0, "four") && row_is(&s, 1, "") && row_is(&s, 2, "five"));
    for (uint32_t y = 3 * 16; y < s.tag.height; y++)
        CHECK(pixel(&s, 0, y) == 0 && pixel(&s, 79, y) == 0);
    CHECK(padding_intact(&s));
    screen_close(&s);
}

TEST(colours_apply_to_later_text)
{
    struct screen s;
    screen_open(&s, 10 * 8, 2 * 16, 32, 0);
    write_str(&s, "a");
    fbcon_set_colours(&s.con, 0xffffff, 0xaa0000);
    write_str(&s, "b");
    CHECK(cell_is(&s, 1, 0, 'b'));
    CHECK_EQ_U64(pixel(&s, 8, 0), 0xaa0000);        /* b's background */
    CHECK_EQ_U64(pixel(&s, 0, 0), 0);               /* a's, unchanged */
    fbcon_set_colours(&s.con, 0xc0c0c0, 0);
    CHECK(cell_is(&s, 0, 0, 'a'));
    screen_close(&s);
}

TEST(wild_cursor_stays_inside)
{
    struct screen s;
    screen_open(&s, 5 * 8, 2 * 16, 16, 2);
    s.con.x = 1000000, s.con.y = 1000000; /* as a racing writer could leave them */
    write_str(&s, "xyz\tq\b\r\n\nabcdefghijklmnop");
    CHECK(s.con.x < s.con.cols && s.con.y <= s.con.rows);
    CHECK(padding_intact(&s));
    s.con.x = s.con.cols, s.con.y = s.con.rows;
    write_str(&s, "z");
    CHECK(row_is(&s, 1, "z"));
    screen_close(&s);
}

TEST(font_shape)
{
    /* Rows 0-2 and column 7 stay dark (spacing), every glyph but the space has pixels, and no two
     * glyphs are the same. */
    for (int g = 0; g < FONT_GLYPHS; g++) {
        int lit = 0;
        for (int y = 0; y < FONT_HEIGHT; y++) {
            CHECK((font8x16[g][y] & 1) == 0);
            if (y < 3)
                CHECK(font8x16[g][y] == 0);
            lit += __builtin_popcount(font8x16[g][y]);
        }
        CHECK(g == 0 ? lit == 0 : lit > 0);
        for (int h = 0; h < g; h++)
            CHECK(memcmp(font8x16[g], font8x16[h], FONT_HEIGHT) != 0);
    }
}
