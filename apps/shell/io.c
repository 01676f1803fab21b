/* The shell's terminal (io.h). Each input service gets one channel (keel/serial.h, keel/keyboard.h:
 * the same READ request shape) with one READ always outstanding; the serial one also carries
 * WRITEs, and so does a channel to the console (keel/console.h: the same WRITE request), which
 * mirrors every byte of output on the screen.
 * init gives a process one notification for all its channels, so one keel_wait covers both
 * devices and init's news. Completions are told apart by their tag. */
#include "io.h"
#include <keel/client.h>
#include <keel/console.h>
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

struct conn {
    const char *service;
    uint32_t read_op;
    bool reading;
    bool denied; /* our manifest line's uses= does not name the service: never ask again */
    struct keel_client cl;
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

static bool connect(struct conn *c);

void io_init(uint64_t cap)
{
    for (int i = 0; i < IO_SOURCES; i++) {
        conns[i].cl.init_cap = cap;
        connect(&conns[i]);
    }
    console.cl.init_cap = cap;
}

const char *io_state(enum io_source s)
{
    return keel_client_is_open(&conns[s].cl) ? "connected" : "not connected";
}

const char *io_console_state(void)
{
    return keel_client_is_open(&console.cl) ? "connected" : "not connected";
}

static void disconnect(struct conn *c)
{
    keel_client_close(&c->cl);
    c->reading = false;
    c->in_len = 0;
}

/* One attempt (no waiting: a missing service is a normal state). */
static bool connect(struct conn *c)
{
    if (keel_client_is_open(&c->cl))
        return true;
    if (c->denied)
        return false;
    int err = keel_client_open(&c->cl, c->service);
    if (err == KEEL_INIT_E_DENIED) {
        c->denied = true;
        keel_printf("shell: not allowed to use the %s service (manifest uses=); going on without it\n", c->service);
    }
    return err == 0;
}

static void completed(struct conn *c, const struct keel_channel_desc *d)
{
    c->reading = false;
    if (d->status <= 0)
        return;
    size_t n = d->length < IN_MAX - c->in_len ? d->length : IN_MAX - c->in_len;
    const char *p = keel_client_data(&c->cl, IN_OFFSET, (uint32_t)n);
    if (p) {
        memcpy(c->in + c->in_len, p, n);
        c->in_len += n;
    }
}

/* Take the READ completions that are there; false if the channel died. */
static bool pump(struct conn *c)
{
    struct keel_channel_desc d[4];
    int n = keel_client_reap(&c->cl, d, 4, false);
    if (n < 0) {
        disconnect(c);
        return false;
    }
    for (int i = 0; i < n; i++)
        completed(c, &d[i]);
    return true;
}

/* Write to one output channel: one call per chunk (the data area is free again when it returns;
 * a READ completing meanwhile is kept for pump). */
static void write_to(struct conn *c, const char *s, size_t len)
{
    int retries = 0;
    while (len && retries < 2) {
        if (!connect(c))
            return; /* no such service: nobody to show it to there */
        size_t chunk = len < OUT_MAX ? len : OUT_MAX;
        memcpy(keel_client_data(&c->cl, OUT_OFFSET, (uint32_t)chunk), s, chunk);
        struct keel_channel_desc d = { .opcode = KEEL_SERIAL_WRITE, .offset = OUT_OFFSET, .length = (uint32_t)chunk };
        if (keel_client_call(&c->cl, &d) != 0) { /* the driver went away with it: write it again on the next one */
            disconnect(c);
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
    if (keel_client_is_open(&console.cl) || console_retry) {
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
            if (!connect(c) || !pump(c))
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
                if (keel_client_submit(&c->cl, &d, 1) != 1) {
                    disconnect(c);
                    continue;
                }
                c->reading = true;
            }
            int a = keel_client_arm(&c->cl);
            if (a < 0) {
                disconnect(c);
                continue;
            }
            work |= a == 1;
        }
        if (work)
            continue;
        uint64_t notif = keel_client_notification();
        if (!notif) {
            keel_yield(); /* never connected to anything yet: nothing to wait on */
            continue;
        }
        uint64_t word;
        keel_wait(notif, &word); /* doorbells, "server gone", or init's news of a started server */
        console_retry = true;
    }
}
