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
#include <keel/channel.h>
#include <keel/alloc.h>
#include <keel/console.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define MAX_CLIENTS 8
#define CRTC_INDEX 0x3d4
#define CRTC_DATA 0x3d5
#define CRTC_CURSOR_START 0x0a
#define CURSOR_DISABLE 0x20

struct client {
    bool live;
    uint64_t pid, va;
    struct keel_channel ch;
    struct keel_channel_notifications n;
    struct keel_channel_ops ops;
};

static struct client clients[MAX_CLIENTS];
static uint64_t svc, init_cap;

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }

static void close_slot(uint64_t slot)
{
    keel_cspace_delete(slot);
    keel_slot_free(slot);
}

static void accept_all(void)
{
    for (;;) {
        uint64_t slot;
        if (keel_slot_alloc(&slot))
            return;
        struct keel_msg m = keel_msg_make(KEEL_INIT_ACCEPT, 1);
        m.mr[0] = slot;
        if (keel_call(init_cap, &m) || m.mr[0] != 0) {
            keel_slot_free(slot);
            return;
        }
        uint64_t va = m.mr[1], size = m.mr[2], pid = keel_msg_get_mr(&m, 4);
        struct client *c = 0;
        for (unsigned i = 0; i < MAX_CLIENTS && !c; i++)
            if (!clients[i].live)
                c = &clients[i];
        int err = 0;
        if (c) {
            *c = (struct client){ .live = true, .pid = pid, .va = va };
            c->n = (struct keel_channel_notifications){ .signal_cap = slot, .wait_cap = svc };
            keel_channel_bind_notifications(&c->ops, &c->n);
            err = keel_channel_attach_server(&c->ch, (void *)va, size, &c->ops);
        }
        if (!c || err) {
            keel_printf("console: client pid %llu refused: %s\n", (unsigned long long)pid,
                        c ? keel_channel_strerror(err) : "too many clients");
            if (c)
                c->live = false;
            keel_init_close(init_cap, va); /* the client sees "peer gone" */
            close_slot(slot);
            continue;
        }
        keel_printf("console: client pid %llu connected\n", (unsigned long long)pid);
    }
}

static void drop(struct client *c, int why)
{
    keel_printf("console: client pid %llu gone (%s)\n", (unsigned long long)c->pid, keel_channel_strerror(why));
    keel_channel_close(&c->ch);
    keel_init_close(init_cap, c->va); /* so init can reuse the region and this window */
    close_slot(c->n.signal_cap);
    c->live = false;
}

static void serve(struct client *c)
{
    struct keel_channel_desc d[KEEL_INIT_CHANNEL_ENTRIES];
    int n = keel_channel_pop(&c->ch, d, KEEL_INIT_CHANNEL_ENTRIES);
    if (n < 0) {
        drop(c, n);
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *p = d[i].opcode == KEEL_CONSOLE_WRITE ? keel_channel_data(&c->ch, d[i].offset, d[i].length) : 0;
        if (p) {
            screen_write(p, d[i].length);
            d[i].status = (int32_t)d[i].length;
        } else {
            d[i].status = KEEL_CHANNEL_EINVAL; /* another opcode, or a range outside the data area */
        }
        d[i].length = 0;
        int err = keel_channel_complete_wait(&c->ch, &d[i], 1);
        if (err < 0) {
            drop(c, err);
            return;
        }
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
    svc = keel_startinfo_cap("service");
    init_cap = keel_startinfo_cap("init");
    const char *arg = screen_argument();
    if (!svc || !init_cap || !arg) {
        keel_printf("console: missing %s (the manifest line needs serves=console caps=screen)\n",
                    !arg ? "the screen" : "the service and init caps");
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
        uint64_t word = 0;
        keel_wait(svc, &word);
        if (word & KEEL_INIT_NEWS)
            accept_all();
        bool again;
        do {
            again = false;
            for (unsigned i = 0; i < MAX_CLIENTS; i++) {
                struct client *c = &clients[i];
                if (!c->live)
                    continue;
                serve(c);
                if (!c->live)
                    continue;
                int a = keel_channel_arm(&c->ch);
                if (a == 1)
                    again = true;
                else if (a < 0)
                    drop(c, a);
            }
        } while (again);
    }
}
