/* serial: the COM1 (16550) driver. Started by init with exactly the ports 0x3f8-0x3ff, IRQ 4 and
 * serves=serial (servers/init/README.md). One thread waits on its service notification, whose
 * word says what happened: bit 4 the UART's interrupt, KEEL_INIT_NEWS a channel opened to it,
 * the channel bits a client's doorbell (or init's "client gone").
 *
 * Both directions are interrupt driven and buffered. RX: IER enables the "received data"
 * interrupt; on IRQ 4 the driver drains the receive FIFO into a ring. TX: WRITE copies the bytes
 * into a transmit ring and completes once they are all in it (a WRITE that does not fit waits in
 * the client's queue, in order); the driver fills the UART's 16-byte FIFO from the ring and enables
 * the "transmitter empty" interrupt only while the ring holds bytes, so the next IRQ 4 refills it.
 * READ waits until at least one byte has arrived. The kernel also writes its log to COM1 by
 * polling; the two may interleave. */
#include <keel/alloc.h>
#include <keel/channel.h>
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/invoke.h>
#include <keel/portio.h>
#include <keel/process.h>
#include <keel/serial.h>
#include <keel/service.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define COM1 0x3f8
#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DATA 0x01
#define LSR_THRE 0x20
#define IER_RX 0x01
#define IER_THRE 0x02
#define UART_FIFO 16 /* bytes the 16550's transmit FIFO takes at once */
#define IRQ_LINE 4

#define MAX_CLIENTS 8
#define RX_SIZE 1024
#define TX_SIZE 4096


/* What the driver keeps per client, beside the library's table (same index). */
struct pending {
    struct keel_service_queue reads;  /* READs waiting for input */
    struct keel_service_queue writes; /* WRITEs waiting for room in the TX ring */
    uint32_t written;                 /* bytes of writes.d[0] already in the ring */
};

static struct keel_service service;
static struct keel_service_client clients[MAX_CLIENTS];
static struct pending pend[MAX_CLIENTS];
static uint8_t rx[RX_SIZE], tx[TX_SIZE];
static unsigned rx_head, rx_tail, tx_head, tx_tail; /* free-running */
static uint64_t irq;
static uint64_t rx_bytes, tx_bytes, irqs;
static bool tx_irq_on;

/* Moves bytes from the TX ring into the UART while it has room, and keeps the "transmitter
 * empty" interrupt on exactly while bytes wait in the ring (an idle UART raises none). */
static void pump_tx(void)
{
    if (tx_head != tx_tail && (inb(COM1 + UART_LSR) & LSR_THRE))
        for (unsigned k = 0; k < UART_FIFO && tx_head != tx_tail; k++, tx_bytes++)
            outb(COM1 + UART_THR, tx[tx_head++ % TX_SIZE]);
    bool want = tx_head != tx_tail;
    if (want != tx_irq_on) {
        outb(COM1 + UART_IER, (uint8_t)(IER_RX | (want ? IER_THRE : 0)));
        tx_irq_on = want;
    }
}

/* Copies what fits of a WRITE (from byte `done`) into the TX ring; the new count. */
static uint32_t queue_tx(const uint8_t *p, uint32_t length, uint32_t done)
{
    while (done < length && tx_tail - tx_head < TX_SIZE)
        tx[tx_tail++ % TX_SIZE] = p[done++];
    return done;
}

static void drain_rx(void)
{
    while (inb(COM1 + UART_LSR) & LSR_DATA) {
        uint8_t c = inb(COM1 + UART_RBR);
        rx_bytes++;
        if (rx_tail - rx_head < RX_SIZE)
            rx[rx_tail++ % RX_SIZE] = c;
    }
}

static void on_connect(struct keel_service *s, struct keel_service_client *c)
{
    struct pending *q = &pend[keel_service_index(s, c)];
    q->reads.n = q->writes.n = 0;
    q->written = 0;
}

/* Serve one client: new requests, then the READs input can satisfy. */
static void serve(struct keel_service *s, struct keel_service_client *c)
{
    struct pending *q = &pend[keel_service_index(s, c)];
    struct keel_channel_desc d[KEEL_INIT_CHANNEL_ENTRIES];
    int n = keel_service_pop(s, c, d, KEEL_INIT_CHANNEL_ENTRIES);
    if (n < 0)
        return; /* dropped */
    for (int i = 0; i < n; i++) {
        if (d[i].opcode == KEEL_SERIAL_READ && keel_service_queue_add(&q->reads, &d[i]))
            continue;
        const uint8_t *p = keel_channel_data(&c->ch, d[i].offset, d[i].length);
        bool write = d[i].opcode == KEEL_SERIAL_WRITE && (p || d[i].length == 0);
        if (write && keel_service_queue_add(&q->writes, &d[i])) /* in order, behind the waiting ones */
            continue;
        d[i].status = KEEL_CHANNEL_EINVAL; /* unknown opcode, bad range, or too many waiting */
        d[i].length = 0;
        if (keel_service_complete(s, c, &d[i])) /* never waits on a client */
            return;
    }
    /* WRITEs in order: each completes (with its length) once all its bytes are in the TX ring. */
    while (q->writes.n) {
        struct keel_channel_desc *w = &q->writes.d[0];
        q->written = queue_tx(keel_channel_data(&c->ch, w->offset, w->length), w->length, q->written);
        if (q->written < w->length)
            break; /* the ring is full: the rest goes in as the UART drains it */
        w->status = (int32_t)w->length;
        w->length = 0;
        q->written = 0;
        if (keel_service_complete_queued(s, c, &q->writes, 0))
            return;
    }
    pump_tx();
    while (q->reads.n && rx_head != rx_tail) {
        struct keel_channel_desc *r = &q->reads.d[0];
        uint8_t *p = keel_channel_data(&c->ch, r->offset, r->length);
        uint32_t k = 0;
        while (p && k < r->length && rx_head != rx_tail)
            p[k++] = rx[rx_head++ % RX_SIZE];
        r->length = k;
        r->status = (int32_t)k;
        if (keel_service_complete_queued(s, c, &q->reads, 0))
            return;
    }
}

int main(void)
{
    if (keel_service_init(&service, "serial", clients, MAX_CLIENTS))
        return 1;
    service.on_connect = on_connect;
    // tutorial:irq-setup
    irq = keel_startinfo_cap("irq4");
    if (!irq || !keel_startinfo_cap("ioport0")) {
        keel_printf("serial: missing caps (need ioport0, irq4, service, init: manifest serves=serial)\n");
        return 1;
    }
    drain_rx();
    outb(COM1 + UART_FCR, 0x07);                             /* FIFOs on and cleared, trigger at 1 byte */
    outb(COM1 + UART_MCR, (uint8_t)(inb(COM1 + UART_MCR) | 0x08)); /* OUT2: the UART's IRQ line */
    outb(COM1 + UART_IER, IER_RX);                           /* interrupt on received data */
    (void)inb(COM1 + UART_IIR);
    rx_head = rx_tail = 0;
    int err = keel_irq_handler_ack(irq); /* the line starts masked: this first Ack unmasks it */
    if (err)
        keel_printf("serial: IRQ ack failed: %s\n", keel_strerror(err));
    // tutorial:end
    keel_printf("serial: COM1 driver ready (IRQ %d, RX and TX interrupt driven, %u-byte TX ring)\n", IRQ_LINE,
                TX_SIZE);
    // tutorial:irq-loop
    for (;;) {
        uint64_t word = keel_service_wait(&service); /* also takes new channels */
        if (word & (1ull << IRQ_LINE)) {
            irqs++;
            drain_rx();
            (void)inb(COM1 + UART_IIR); /* reading IIR clears a "transmitter empty" condition */
            pump_tx();
            keel_irq_handler_ack(irq);
        }
        drain_rx(); /* bytes that came while the line was masked */
        keel_service_serve_all(&service, serve);
    }
    // tutorial:end
}
