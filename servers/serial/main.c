/* serial: the COM1 (16550) driver. Started by init with exactly the ports 0x3f8-0x3ff, IRQ 4 and
 * serves=serial (servers/init/README.md). One thread waits on its service notification, whose
 * word says what happened: bit 4 the UART's interrupt, KEEL_INIT_NEWS a channel opened to it,
 * the channel bits a client's doorbell (or init's "client gone").
 *
 * RX is interrupt driven: IER enables the "received data" interrupt; on IRQ 4 the driver drains
 * the receive FIFO into a ring buffer, then Acks the handler. TX polls LSR (THR empty) per byte.
 * Requests (keel/serial.h): WRITE completes when the bytes are written; READ waits until at
 * least one byte has arrived. The kernel also writes its log to COM1 by polling; the two may
 * interleave. */
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
#define IRQ_LINE 4

#define MAX_CLIENTS 8
#define MAX_PENDING 8
#define RX_SIZE 1024


/* What the driver keeps per client, beside the library's table (same index). */
struct pending {
    struct keel_channel_desc pending[MAX_PENDING]; /* READs waiting for input */
    unsigned npending;
};

static struct keel_service service;
static struct keel_service_client clients[MAX_CLIENTS];
static struct pending pend[MAX_CLIENTS];
static uint8_t rx[RX_SIZE];
static unsigned rx_head, rx_tail; /* free-running */
static uint64_t irq;
static uint64_t rx_bytes, irqs;

static void tx_byte(uint8_t c)
{
    while (!(inb(COM1 + UART_LSR) & LSR_THRE))
        ;
    outb(COM1 + UART_THR, c);
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
    pend[keel_service_index(s, c)].npending = 0;
}

/* Serve one client: new requests, then the READs input can satisfy. */
static void serve(struct keel_service *s, struct keel_service_client *c)
{
    struct pending *q = &pend[keel_service_index(s, c)];
    struct keel_channel_desc d[KEEL_INIT_CHANNEL_ENTRIES];
    int n = keel_channel_pop(&c->ch, d, KEEL_INIT_CHANNEL_ENTRIES);
    if (n < 0) {
        keel_service_drop(s, c, n);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (d[i].opcode == KEEL_SERIAL_READ && q->npending < MAX_PENDING) {
            q->pending[q->npending++] = d[i];
            continue;
        }
        const uint8_t *p = keel_channel_data(&c->ch, d[i].offset, d[i].length);
        if (d[i].opcode == KEEL_SERIAL_WRITE && (p || d[i].length == 0)) {
            for (uint32_t k = 0; k < d[i].length; k++)
                tx_byte(p[k]);
            d[i].status = (int32_t)d[i].length;
        } else {
            d[i].status = KEEL_CHANNEL_EINVAL; /* unknown opcode, bad range, or too many READs */
        }
        d[i].length = 0;
        if (keel_service_complete(s, c, &d[i])) /* never waits on a client */
            return;
    }
    while (q->npending && rx_head != rx_tail) {
        struct keel_channel_desc *r = &q->pending[0];
        uint8_t *p = keel_channel_data(&c->ch, r->offset, r->length);
        uint32_t k = 0;
        while (p && k < r->length && rx_head != rx_tail)
            p[k++] = rx[rx_head++ % RX_SIZE];
        r->length = k;
        r->status = (int32_t)k;
        int err = keel_service_complete(s, c, r);
        memmove(&q->pending[0], &q->pending[1], (q->npending - 1) * sizeof q->pending[0]);
        q->npending--;
        if (err)
            return;
    }
}

int main(void)
{
    if (keel_service_init(&service, "serial", clients, MAX_CLIENTS))
        return 1;
    service.on_connect = on_connect;
    irq = keel_startinfo_cap("irq4");
    if (!irq || !keel_startinfo_cap("ioport0")) {
        keel_printf("serial: missing caps (need ioport0, irq4, service, init: manifest serves=serial)\n");
        return 1;
    }
    drain_rx();
    outb(COM1 + UART_FCR, 0x07);                             /* FIFOs on and cleared, trigger at 1 byte */
    outb(COM1 + UART_MCR, (uint8_t)(inb(COM1 + UART_MCR) | 0x08)); /* OUT2: the UART's IRQ line */
    outb(COM1 + UART_IER, 0x01);                             /* interrupt on received data */
    (void)inb(COM1 + UART_IIR);
    rx_head = rx_tail = 0;
    int err = keel_irq_handler_ack(irq); /* unmask the line */
    if (err)
        keel_printf("serial: IRQ ack failed: %s\n", keel_strerror(err));
    keel_printf("serial: COM1 driver ready (IRQ %d, RX interrupt driven)\n", IRQ_LINE);
    for (;;) {
        uint64_t word = keel_service_wait(&service); /* also takes new channels */
        if (word & (1ull << IRQ_LINE)) {
            irqs++;
            drain_rx();
            keel_irq_handler_ack(irq);
        }
        drain_rx(); /* bytes that came while the line was masked */
        keel_service_serve_all(&service, serve);
    }
}
