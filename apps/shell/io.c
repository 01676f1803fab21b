/* The shell's terminal (io.h). Each input service gets one channel (keel/serial.h, keel/keyboard.h:
 * the same READ request shape) with one READ always outstanding; the serial one also carries
 * WRITEs, and so does a channel to the console (keel/console.h: the same WRITE request), which
 * mirrors every byte of output on the screen.
 * init gives a process one notification for all its channels, so one keel_wait covers both
 * devices and init's news. Completions are told apart by their tag. */
#include "io.h"
#include <keel/alloc.h>
#include <keel/channel.h>
#include <keel/console.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/keyboard.h>
#include <keel/serial.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define OUT_OFFSET 0
#define OUT_MAX 1024
#define IN_OFFSET 1024
#define IN_MAX 64
#define TAG_READ 1
#define TAG_WRITE 2

struct conn {
    const char *service;
    uint32_t read_op;
    bool connected, reading, wrote;
    bool denied; /* our manifest line's uses= does not name the service: never ask again */
    uint64_t wslot, sslot, va;
    struct keel_channel ch;
    struct keel_channel_notifications n;
    struct keel_channel_ops ops;
    struct keel_channel_inflight inflight[4];
    char in[IN_MAX];
    size_t in_len;
};

static struct conn conns[IO_SOURCES] = {
    [IO_SERIAL] = { .service = KEEL_SERIAL_SERVICE, .read_op = KEEL_SERIAL_READ },
    [IO_KEYBOARD] = { .service = KEEL_KEYBOARD_SERVICE, .read_op = KEEL_KEYBOARD_READ },
};
/* Output only: no READ is ever submitted on it. */
static struct conn console = { .service = KEEL_CONSOLE_SERVICE };
/* Try to (re)open the console at the next write: set at start and whenever the shell wakes (init's
 * news of a started server among the reasons), cleared after a failed attempt, so a boot without a
 * console costs one OPEN call per wake-up, not one per byte. */
static bool console_retry = true;
static uint64_t init_cap;
static uint64_t notif; /* a cap to the shell's client notification, kept across channels */

static bool connect(struct conn *c);

void io_init(uint64_t cap)
{
    init_cap = cap;
    for (int i = 0; i < IO_SOURCES; i++)
        connect(&conns[i]);
}

const char *io_state(enum io_source s)
{
    return conns[s].connected ? "connected" : "not connected";
}

const char *io_console_state(void)
{
    return console.connected ? "connected" : "not connected";
}

static void free_slot(uint64_t *slot)
{
    if (*slot && *slot != notif) {
        keel_cspace_delete(*slot);
        keel_slot_free(*slot);
    }
    *slot = 0;
}

static void disconnect(struct conn *c)
{
    if (c->connected)
        keel_init_close(init_cap, c->va); /* init unmaps it and may reuse it: never touch it again */
    free_slot(&c->wslot);
    free_slot(&c->sslot);
    c->connected = c->reading = false;
    c->in_len = 0;
}

/* One attempt (no waiting: a missing service is a normal state). */
static bool connect(struct conn *c)
{
    if (c->connected)
        return true;
    if (c->denied)
        return false;
    if (keel_slot_alloc(&c->wslot) || keel_slot_alloc(&c->sslot)) {
        disconnect(c);
        return false;
    }
    struct keel_msg m = keel_msg_make(KEEL_INIT_OPEN, 6);
    keel_init_pack_name(&m, 0, c->service);
    keel_msg_set_mr(&m, 4, c->wslot);
    keel_msg_set_mr(&m, 5, c->sslot);
    int err = keel_call(init_cap, &m);
    if (err || m.mr[0] != 0) {
        if (!err && m.mr[0] == KEEL_INIT_E_DENIED) {
            c->denied = true;
            keel_printf("shell: not allowed to use the %s service (manifest uses=); going on without it\n",
                        c->service);
        }
        disconnect(c);
        return false;
    }
    c->va = m.mr[1];
    c->n = (struct keel_channel_notifications){ .signal_cap = c->sslot, .wait_cap = c->wslot,
                                                .gone_bits = keel_msg_get_mr(&m, 4) };
    keel_channel_bind_notifications(&c->ops, &c->n);
    if (keel_channel_attach_client(&c->ch, (void *)c->va, m.mr[2], &c->ops, c->inflight, 4) != 0) {
        c->connected = true; /* so that disconnect closes it */
        disconnect(c);
        return false;
    }
    c->connected = true;
    if (!notif)
        notif = c->wslot;
    return true;
}

static void completed(struct conn *c, const struct keel_channel_desc *d)
{
    if (d->tag == TAG_WRITE) {
        c->wrote = true;
        return;
    }
    c->reading = false;
    if (d->status <= 0)
        return;
    size_t n = d->length < IN_MAX - c->in_len ? d->length : IN_MAX - c->in_len;
    const char *p = keel_channel_data(&c->ch, IN_OFFSET, (uint32_t)n);
    if (p) {
        memcpy(c->in + c->in_len, p, n);
        c->in_len += n;
    }
}

/* Take the completions that are there; false if the channel died. */
static bool pump(struct conn *c, bool wait)
{
    struct keel_channel_desc d[4];
    int n = wait ? keel_channel_reap_wait(&c->ch, d, 4) : keel_channel_reap(&c->ch, d, 4);
    if (n < 0) {
        disconnect(c);
        return false;
    }
    for (int i = 0; i < n; i++)
        completed(c, &d[i]);
    return true;
}

/* Write to one output channel, waiting for the completion (so the data area is free again). */
static void write_to(struct conn *c, const char *s, size_t len)
{
    int retries = 0;
    while (len && retries < 2) {
        if (!connect(c))
            return; /* no such service: nobody to show it to there */
        size_t chunk = len < OUT_MAX ? len : OUT_MAX;
        memcpy(keel_channel_data(&c->ch, OUT_OFFSET, (uint32_t)chunk), s, chunk);
        struct keel_channel_desc d = { .tag = TAG_WRITE, .opcode = KEEL_SERIAL_WRITE, .offset = OUT_OFFSET,
                                       .length = (uint32_t)chunk };
        c->wrote = false;
        if (keel_channel_submit(&c->ch, &d) != 0) {
            disconnect(c);
            retries++;
            continue;
        }
        while (c->connected && !c->wrote)
            pump(c, true);
        if (!c->wrote) { /* the driver went away with it: write it again on the next one */
            retries++;
            continue;
        }
        s += chunk;
        len -= chunk;
    }
}

void io_write(const char *s, size_t len)
{
    if (!len)
        return; /* (and keep console_retry for the next real write) */
    write_to(&conns[IO_SERIAL], s, len);
    if (console.connected || console_retry) {
        console_retry = false;
        write_to(&console, s, len);
    }
}

size_t io_read(char *buf, size_t max, enum io_source *from)
{
    for (;;) {
        bool work = false;
        for (int i = 0; i < IO_SOURCES; i++) {
            struct conn *c = &conns[i];
            if (!connect(c) || !pump(c, false))
                continue;
            if (c->in_len) {
                size_t n = c->in_len < max ? c->in_len : max;
                memcpy(buf, c->in, n);
                memmove(c->in, c->in + n, c->in_len - n);
                c->in_len -= n;
                *from = (enum io_source)i;
                return n;
            }
            if (!c->reading) {
                struct keel_channel_desc d = { .tag = TAG_READ, .opcode = c->read_op, .offset = IN_OFFSET,
                                               .length = IN_MAX };
                if (keel_channel_submit(&c->ch, &d) != 0) {
                    disconnect(c);
                    continue;
                }
                c->reading = true;
            }
            int a = keel_channel_arm(&c->ch);
            if (a < 0) {
                disconnect(c);
                continue;
            }
            work |= a == 1;
        }
        if (work)
            continue;
        if (!notif) {
            keel_yield(); /* never connected to anything yet: nothing to wait on */
            continue;
        }
        uint64_t word;
        keel_wait(notif, &word); /* doorbells, "server gone", or init's news of a started server */
        console_retry = true;
    }
}
