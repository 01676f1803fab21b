/* console: the screen's owner. init maps the screen memory the kernel handed over into this
 * process (manifest caps=screen) and passes its geometry as an argument (keel/console.h); the
 * console draws text on it (VGA text mode or an RGB framebuffer, screen.c) for clients that open
 * a channel to the service "console" and submit WRITE requests, the same request as the serial
 * driver's. One thread waits on the service notification: KEEL_INIT_NEWS says a channel was
 * opened, the channel bits are clients' doorbells (or init's "client gone").
 *
 * With the optional I/O port cap for the VGA CRTC (ioports=0x3d4-0x3d5) the blinking hardware
 * cursor of text mode is switched off, so only the console's own cursor shows. */
#include "screen.h"
#include <keel/alloc.h>
#include <keel/channel.h>
#include <keel/console.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/portio.h>
#include <keel/process.h>
#include <keel/service.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define MAX_CLIENTS 8
#define CRTC_INDEX 0x3d4
#define CRTC_DATA 0x3d5
#define CRTC_CURSOR_START 0x0a
#define CURSOR_DISABLE 0x20

static struct keel_service service;
static struct keel_service_client clients[MAX_CLIENTS];


static void serve(struct keel_service *s, struct keel_service_client *c)
{
    struct keel_channel_desc d[KEEL_INIT_CHANNEL_ENTRIES];
    int n = keel_service_pop(s, c, d, KEEL_INIT_CHANNEL_ENTRIES);
    for (int i = 0; i < n; i++) {
        const char *p = d[i].opcode == KEEL_CONSOLE_WRITE ? keel_channel_data(&c->ch, d[i].offset, d[i].length) : 0;
        if (p || (d[i].opcode == KEEL_CONSOLE_WRITE && d[i].length == 0)) {
            screen_write(p, d[i].length);
            d[i].status = (int32_t)d[i].length;
        } else {
            d[i].status = KEEL_CHANNEL_EINVAL; /* another opcode, or a range outside the data area */
        }
        d[i].length = 0;
        if (keel_service_complete(s, c, &d[i])) /* never waits on a client */
            return;
    }
}

static const char *screen_argument(void)
{
    const struct keel_startinfo *si = keel_startinfo_get();
    size_t k = strlen(KEEL_CONSOLE_SCREEN_ARG);
    for (uint32_t i = 1; si && i < si->argc; i++)
        if (strncmp(si->argv[i], KEEL_CONSOLE_SCREEN_ARG, k) == 0)
            return si->argv[i] + k;
    return 0;
}

int main(void)
{
    if (keel_service_init(&service, "console", clients, MAX_CLIENTS))
        return 1; /* the manifest line needs serves=console */
    const char *arg = screen_argument();
    if (!arg) {
        keel_printf("console: no screen (the manifest line needs caps=screen)\n");
        return 1;
    }
    struct screen_geom g;
    char why[120];
    if (screen_parse(arg, &g, why, sizeof why) != 0) {
        keel_printf("console: bad screen description: %s\n", why);
        return 1;
    }
    if (g.text && keel_startinfo_cap("ioport0")) {
        outb(CRTC_INDEX, CRTC_CURSOR_START);
        outb(CRTC_DATA, CURSOR_DISABLE);
    }
    char title[96];
    keel_snprintf(title, sizeof title, " Keel console  (%ux%u %s)", g.width, g.height,
                  g.text ? "text" : "framebuffer");
    screen_init(&g, title);
    uint32_t cols, rows;
    screen_size(&cols, &rows);
    keel_printf("console: %ux%u %s screen ready, %ux%u characters\n", g.width, g.height,
                g.text ? "text" : "framebuffer", cols, rows);
    for (;;) {
        keel_service_wait(&service); /* also takes new channels */
        keel_service_serve_all(&service, serve);
    }
}
