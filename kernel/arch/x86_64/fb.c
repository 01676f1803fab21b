/* The framebuffer console behind the log and the panic screen on machines that boot with a
 * graphics framebuffer (UEFI): the kernel's glue around fbcon.c.
 *
 * Two steps, because the log should reach the screen from the first lines on:
 *  - fb_init (before paging_init): check the tag, and draw through the boot direct map when the
 *    buffer lies below 4 GiB (all the boot tables map);
 *  - fb_remap (after paging_init): map the buffer write-combining in the MMIO window and draw
 *    through that from then on (or start drawing now, for a buffer above 4 GiB). */
#include "arch/layout.h"
#include "arch/paging.h"
#include "arch/x86.h"
#include "console.h"
#include "fbcon.h"
#include "log.h"

static struct fbcon con;
static struct mb2_framebuffer fb_tag;
static bool drawing, waiting_for_paging;

/* The 16 text-mode colours, so that callers keep speaking VGA attributes (panic: 0x4f). */
static const uint32_t palette[16] = {
    0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xc0c0c0,
    0x555555, 0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff,
};

static uint64_t phys_limit(void)
{
    /* CPUID's physical-address width; 36 bits when the leaf is missing (as features.c assumes). */
    unsigned bits = 36;
    if (cpuid(0x80000000, 0).eax >= 0x80000008)
        bits = cpuid(0x80000008, 0).eax & 0xff;
    if (bits < 32 || bits > 52)
        bits = 36;
    return 1ul << bits;
}

static void announce(const char *how)
{
    log_info("console: framebuffer %ux%ux%u at 0x%lx, %ux%u characters%s", fb_tag.width, fb_tag.height,
             fb_tag.bpp, fb_tag.addr, con.cols, con.rows, how);
}

bool fb_init(const struct mb2_framebuffer *fb)
{
    struct fbcon_limits lim = { phys_limit(), (uint64_t)__kernel_phys_start, virt_to_phys(__kernel_end) };
    struct diag d = { "" };
    if (fbcon_check(fb, &lim, &d) != 0) {
        log_warn("console: %ux%u %u-bpp framebuffer not usable: %s; log on serial only", fb->width, fb->height,
                 fb->bpp, d.msg);
        return false;
    }
    fb_tag = *fb;
    uint64_t size = (uint64_t)fb->pitch * fb->height;
    if (fb->addr + size <= (4ul << 30)) {
        fbcon_init(&con, fb, phys_to_virt(fb->addr));
        drawing = true;
        announce("");
    } else {
        waiting_for_paging = true; /* the boot tables map only 4 GiB */
        log_info("console: framebuffer at 0x%lx above 4 GiB; drawing starts after paging is set up", fb->addr);
    }
    return true;
}

void fb_remap(void)
{
    if (!drawing && !waiting_for_paging)
        return;
    void *va = paging_map_mmio_wc(fb_tag.addr, (uint64_t)fb_tag.pitch * fb_tag.height);
    if (waiting_for_paging) {
        fbcon_init(&con, &fb_tag, va);
        waiting_for_paging = false;
        drawing = true;
        announce(", mapped write-combining");
    } else {
        fbcon_rebase(&con, va);
        log_debug("console: framebuffer mapped write-combining at %p", va);
    }
}

bool fb_present(void) { return drawing; }

const struct mb2_framebuffer *fb_screen(void) { return drawing ? &fb_tag : 0; }

void fb_clear(void)
{
    if (drawing)
        fbcon_clear(&con);
}

void fb_write(const char *s, size_t n)
{
    if (drawing)
        fbcon_write(&con, s, n);
}

void fb_set_colour(uint8_t attr)
{
    if (drawing)
        fbcon_set_colours(&con, palette[attr & 15], palette[(attr >> 4) & 15]);
}
