/* ps2kbd: the PS/2 keyboard driver (an i8042 controller, port 1). Started by init with exactly the
 * ports 0x60 (data) and 0x64 (status/command), IRQ 1 and serves=keyboard (boot/manifest.txt). One
 * thread waits on its service notification: bit 1 is the keyboard's interrupt, KEEL_INIT_NEWS a
 * channel opened to it, the channel bits a client's doorbell or init's "client gone".
 *
 * Set-up: both ports are disabled while the controller is reprogrammed, so no byte arrives
 * half-way; the output buffer is flushed; the configuration byte is read and kept except for what
 * the driver needs (port 1 interrupt on, port 1 clock on, translation on so the keyboard's scan
 * code set 2 arrives as set 1, port 2 — the mouse — interrupt off); then port 1 is enabled and the
 * keyboard told to scan. On IRQ 1 the driver reads every byte the controller has, decodes it
 * (keymap.c) into key events and terminal text, then Acks the handler.
 *
 * Requests (keel/keyboard.h): READ returns text, READ_EVENTS key events; both complete once there
 * is at least one. */
#include "keymap.h"
#include <keel/alloc.h>
#include <keel/channel.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/keyboard.h>
#include <keel/portio.h>
#include <keel/process.h>
#include <keel/service.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define DATA 0x60
#define STATUS 0x64 /* read: status; write: command */
#define ST_OUT_FULL 0x01
#define ST_IN_FULL 0x02
#define ST_AUX 0x20 /* the byte in the output buffer is from port 2 (the mouse) */
#define CMD_READ_CONFIG 0x20
#define CMD_WRITE_CONFIG 0x60
#define CMD_DISABLE_PORT2 0xa7
#define CMD_DISABLE_PORT1 0xad
#define CMD_ENABLE_PORT1 0xae
#define CFG_PORT1_IRQ 0x01
#define CFG_PORT2_IRQ 0x02
#define CFG_PORT1_CLOCK_OFF 0x10
#define CFG_TRANSLATE 0x40
#define KBD_ENABLE_SCANNING 0xf4
#define IRQ_LINE 1
#define SPIN_LIMIT 100000 /* polls of the status register before giving up on the controller */

#define MAX_CLIENTS 8
#define TEXT_SIZE 256
#define EVENT_SIZE 128


static struct keel_service service;
static struct keel_service_client clients[MAX_CLIENTS];
static struct keel_service_queue reads[MAX_CLIENTS]; /* per client (same index): READs waiting for keys */
static char text[TEXT_SIZE];
static unsigned text_head, text_tail; /* free-running */
static struct keel_key_event events[EVENT_SIZE];
static unsigned ev_head, ev_tail;
static struct kbd_state kbd;
static uint64_t irq;

/* ---- The controller ---- */

static bool wait_writable(void)
{
    for (unsigned i = 0; i < SPIN_LIMIT; i++)
        if (!(inb(STATUS) & ST_IN_FULL))
            return true;
    return false;
}

static bool wait_readable(void)
{
    for (unsigned i = 0; i < SPIN_LIMIT; i++)
        if (inb(STATUS) & ST_OUT_FULL)
            return true;
    return false;
}

static bool command(uint8_t cmd)
{
    if (!wait_writable())
        return false;
    outb(STATUS, cmd);
    return true;
}

static void flush_output(void)
{
    for (unsigned i = 0; i < 64 && (inb(STATUS) & ST_OUT_FULL); i++)
        (void)inb(DATA);
}

/* Returns a reason on failure. */
static const char *controller_init(void)
{
    if (inb(STATUS) == 0xff)
        return "no i8042 controller (status reads 0xff)";
    if (!command(CMD_DISABLE_PORT1) || !command(CMD_DISABLE_PORT2))
        return "controller does not take commands";
    flush_output();
    if (!command(CMD_READ_CONFIG) || !wait_readable())
        return "cannot read the configuration byte";
    uint8_t cfg = inb(DATA);
    uint8_t want = (uint8_t)((cfg | CFG_PORT1_IRQ | CFG_TRANSLATE) & ~(CFG_PORT2_IRQ | CFG_PORT1_CLOCK_OFF));
    if (!command(CMD_WRITE_CONFIG) || !wait_writable())
        return "cannot write the configuration byte";
    outb(DATA, want);
    if (!command(CMD_ENABLE_PORT1))
        return "cannot enable port 1";
    /* The keyboard answers ACK (0xFA) through the output buffer; the decoder skips it. */
    if (wait_writable())
        outb(DATA, KBD_ENABLE_SCANNING);
    keel_printf("ps2kbd: i8042 config %#x -> %#x (IRQ 1 on, translation on, port 2 off)\n", cfg, want);
    return 0;
}

static void push_event(const struct keel_key_event *ev)
{
    if (ev_tail - ev_head < EVENT_SIZE)
        events[ev_tail++ % EVENT_SIZE] = *ev;
    char t[8];
    size_t n = kbd_text(ev, t);
    if (text_tail - text_head + n <= TEXT_SIZE) /* a sequence goes in whole or not at all */
        for (size_t i = 0; i < n; i++)
            text[text_tail++ % TEXT_SIZE] = t[i];
}

static void drain(void)
{
    uint8_t st;
    for (unsigned i = 0; i < 64 && ((st = inb(STATUS)) & ST_OUT_FULL); i++) {
        uint8_t byte = inb(DATA);
        struct keel_key_event ev;
        if (!(st & ST_AUX) && kbd_decode(&kbd, byte, &ev))
            push_event(&ev);
    }
}

/* ---- Clients ---- */

static void on_connect(struct keel_service *s, struct keel_service_client *c)
{
    reads[keel_service_index(s, c)].n = 0;
}

/* Fill one pending READ / READ_EVENTS; false if there is nothing for it yet. */
static bool fill(struct keel_service_client *c, struct keel_channel_desc *r)
{
    uint8_t *p = keel_channel_data(&c->ch, r->offset, r->length);
    uint32_t k = 0;
    if (r->opcode == KEEL_KEYBOARD_READ) {
        if (text_head == text_tail)
            return false;
        while (p && k < r->length && text_head != text_tail)
            p[k++] = (uint8_t)text[text_head++ % TEXT_SIZE];
        r->status = (int32_t)k;
    } else {
        if (ev_head == ev_tail)
            return false;
        uint32_t n = 0;
        while (p && k + sizeof(struct keel_key_event) <= r->length && ev_head != ev_tail) {
            memcpy(p + k, &events[ev_head++ % EVENT_SIZE], sizeof(struct keel_key_event));
            k += sizeof(struct keel_key_event);
            n++;
        }
        r->status = (int32_t)n;
    }
    r->length = k;
    return true;
}

static void serve(struct keel_service *s, struct keel_service_client *c)
{
    struct keel_service_queue *q = &reads[keel_service_index(s, c)];
    struct keel_channel_desc d[KEEL_INIT_CHANNEL_ENTRIES];
    int n = keel_service_pop(s, c, d, KEEL_INIT_CHANNEL_ENTRIES);
    if (n < 0)
        return; /* dropped */
    for (int i = 0; i < n; i++) {
        bool read = d[i].opcode == KEEL_KEYBOARD_READ ||
                    (d[i].opcode == KEEL_KEYBOARD_READ_EVENTS && d[i].length >= sizeof(struct keel_key_event));
        if (read && keel_service_queue_add(q, &d[i]))
            continue;
        d[i].status = KEEL_CHANNEL_EINVAL; /* unknown opcode, too short for an event, or too many */
        d[i].length = 0;
        if (keel_service_complete(s, c, &d[i])) /* never waits on a client */
            return;
    }
    for (unsigned i = 0; i < q->n;) {
        if (!fill(c, &q->d[i]))
            i++;
        else if (keel_service_complete_queued(s, c, q, i))
            return;
    }
}

int main(void)
{
    if (keel_service_init(&service, "ps2kbd", clients, MAX_CLIENTS))
        return 1;
    service.on_connect = on_connect;
    irq = keel_startinfo_cap("irq1");
    if (!irq || !keel_startinfo_cap("ioport0") || !keel_startinfo_cap("ioport1")) {
        keel_printf("ps2kbd: missing caps (need ioport0 = 0x60, ioport1 = 0x64, irq1, service, init: "
                    "manifest ioports=0x60 ioports=0x64 irq=1 serves=keyboard)\n");
        return 1;
    }
    const char *why = controller_init();
    if (why) {
        keel_printf("ps2kbd: %s; no keyboard\n", why);
        return 0; /* nothing is wrong with the driver: restart=on-crash leaves it stopped */
    }
    int err = keel_irq_handler_ack(irq); /* unmask the line */
    if (err)
        keel_printf("ps2kbd: IRQ ack failed: %s\n", keel_strerror(err));
    drain(); /* the ACK, and keys pressed while the line was masked */
    keel_printf("ps2kbd: PS/2 keyboard driver ready (IRQ %d, scan code set 1)\n", IRQ_LINE);
    for (;;) {
        uint64_t word = keel_service_wait(&service); /* also takes new channels */
        if (word & (1ull << IRQ_LINE)) {
            drain();
            keel_irq_handler_ack(irq);
        }
        keel_service_serve_all(&service, serve);
    }
}
