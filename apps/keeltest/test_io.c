/* Device access for userspace drivers: IRQ handler caps bound to notifications, and I/O port
 * caps opened in the I/O permission bitmap (in/out without a syscall; without the cap: #GP). */
#include "ktest.h"
#include <keel/portio.h>

#define COM1 0x3f8
#define UART_IER 1
#define UART_IIR 2
#define UART_MCR 4
#define UART_SCRATCH 7
#define VS KEEL_SLOT_VSPACE


struct port_box {
    uint16_t port;
    volatile int done;
    volatile uint8_t value;
};

static void touch_port(void *arg)
{
    struct port_box *b = arg;
    outb(b->port, 0xa5);
    b->value = inb(b->port);
    b->done = 1;
}

static uint8_t io_stack[8192] __attribute__((aligned(16)));
static struct keel_thread io_thread;

static int start_port_thread(struct port_box *box, uint64_t fault_ep)
{
    struct keel_thread_config cfg = {
        .entry = touch_port, .arg = box, .stack_top = io_stack + sizeof io_stack,
        .priority = KEEL_THREAD_PRIORITY_INHERIT, .fault_ep = fault_ep,
    };
    int err = keel_thread_create(&io_thread, &cfg);
    return err ? err : keel_thread_start(&io_thread);
}

KEEL_TEST(ioport_without_cap_faults)
{
    uint64_t ep, reply;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &reply));
    static struct port_box box;
    box = (struct port_box){ .port = COM1 + UART_SCRATCH };
    ASSERT_OK(start_port_thread(&box, ep));
    struct keel_msg m = keel_msg_make(0, 0);
    ASSERT_OK(keel_recv(ep, reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_EXCEPTION);
    EXPECT_EQ(m.mr[1], 13); /* #GP: the port is closed in the bitmap */
    EXPECT_EQ(box.done, 0);
}

KEEL_TEST(ioport_cap_opens_and_delete_closes)
{
    uint64_t io, ep, reply;
    ASSERT_OK(kt_slot(&io));
    ASSERT_OK(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, COM1 + UART_SCRATCH, COM1 + UART_SCRATCH, io));
    EXPECT_EQ(kt_type(io), KEEL_CAP_IOPORT);
    ASSERT_OK(keel_ioport_bind(io, VS));
    EXPECT_ERR(keel_ioport_bind(io, VS), KEEL_E_MAPPED); /* one binding per cap */
    static struct port_box box;
    box = (struct port_box){ .port = COM1 + UART_SCRATCH };
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep));
    ASSERT_OK(kt_new(KEEL_OBJ_REPLY, 0, &reply));
    ASSERT_OK(start_port_thread(&box, ep));
    ASSERT_TRUE(kt_wait_flag(&box.done));
    EXPECT_EQ(box.value, 0xa5); /* the UART's scratch register keeps what was written */
    /* Deleting the cap closes the port at once: the same access now faults. */
    ASSERT_OK(keel_cspace_delete(io));
    box = (struct port_box){ .port = COM1 + UART_SCRATCH };
    ASSERT_OK(keel_tcb_suspend(io_thread.tcb));
    ASSERT_OK(start_port_thread(&box, ep));
    struct keel_msg m = keel_msg_make(0, 0);
    ASSERT_OK(keel_recv(ep, reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_EXCEPTION);
    EXPECT_EQ(m.mr[1], 13);
}

KEEL_TEST(ioport_issue_and_bind_errors)
{
    uint64_t io, io2, pml4;
    ASSERT_OK(kt_slot(&io));
    EXPECT_ERR(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, 0x10, 0x10000, io), KEEL_E_RANGE);
    EXPECT_ERR(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, 0x20, 0x10, io), KEEL_E_RANGE);
    ASSERT_OK(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, 0x80, 0x80, io));
    EXPECT_ERR(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, 0x80, 0x80, io), KEEL_E_DELETE_FIRST);
    EXPECT_ERR(keel_ioport_bind(io, KEEL_SLOT_TCB), KEEL_E_INVALID_CAPABILITY);
    ASSERT_OK(kt_new(KEEL_OBJ_PML4, 0, &pml4));
    EXPECT_ERR(keel_ioport_bind(io, pml4), KEEL_E_NO_ASID);
    EXPECT_OK(keel_ioport_unbind(io)); /* unbinding an unbound cap is harmless */
    /* A copy starts unbound, so it can be bound on its own. */
    ASSERT_OK(keel_ioport_bind(io, VS));
    ASSERT_OK(kt_slot(&io2));
    ASSERT_OK(keel_cspace_copy(io2, io, KEEL_RIGHTS_ALL));
    EXPECT_OK(keel_ioport_bind(io2, VS));
    EXPECT_OK(keel_ioport_unbind(io2));
    EXPECT_OK(keel_ioport_unbind(io));
}

KEEL_TEST(irq_handler_delivers_to_notification)
{
    /* COM1 raises IRQ 4 when its transmit holding register is empty and that interrupt is enabled
     * (16550: IER bit 1, MCR OUT2 gates the line): a device interrupt we can cause on demand. */
    uint64_t irq, ntfn, badged, io, gsi;
    ASSERT_OK(kt_slot(&irq));
    int got = keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, 4, 0, irq, &gsi);
    if (got == KEEL_E_REVOKE_FIRST && kt_child) { /* a running system's serial driver has COM1 */
        ktest_skip("IRQ 4 and COM1 belong to the serial driver of the running system");
        return;
    }
    ASSERT_OK(got);
    EXPECT_EQ(kt_type(irq), KEEL_CAP_IRQ_HANDLER);
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &ntfn));
    ASSERT_OK(kt_mint(ntfn, KEEL_RIGHTS_ALL, 0x40, &badged));
    ASSERT_OK(keel_irq_handler_set_notification(irq, badged));
    ASSERT_OK(kt_slot(&io));
    ASSERT_OK(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, COM1, COM1 + 7, io));
    ASSERT_OK(keel_ioport_bind(io, VS));
    uint8_t mcr = inb(COM1 + UART_MCR);
    outb(COM1 + UART_MCR, (uint8_t)(mcr | 0x08)); /* OUT2: connect the UART's interrupt line */
    outb(COM1 + UART_IER, 0x02);                  /* interrupt when the transmitter is empty */
    uint64_t word = 0;
    int err = keel_wait(ntfn, &word);
    outb(COM1 + UART_IER, 0x00);
    (void)inb(COM1 + UART_IIR); /* reading IIR clears the THR-empty condition */
    outb(COM1 + UART_MCR, mcr);
    EXPECT_OK(err);
    EXPECT_EQ(word, 0x40); /* the notification cap's badge */
    EXPECT_OK(keel_irq_handler_ack(irq));
    /* One handler per line; the line is free again once the handler cap is deleted. */
    uint64_t again;
    ASSERT_OK(kt_slot(&again));
    EXPECT_ERR(keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, 4, 0, again, 0), KEEL_E_REVOKE_FIRST);
    ASSERT_OK(keel_cspace_delete(irq));
    EXPECT_OK(keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, 4, 0, again, 0));
}

KEEL_TEST(irq_control_errors)
{
    uint64_t slot, copy;
    ASSERT_OK(kt_slot(&slot));
    EXPECT_ERR(keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, 16, 0, slot, 0), KEEL_E_RANGE);
    EXPECT_ERR(keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, 200, KEEL_IRQ_GSI, slot, 0), KEEL_E_RANGE);
    EXPECT_ERR(keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, 3, 8, slot, 0), KEEL_E_INVALID_ARGUMENT);
    EXPECT_ERR(keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, 3, 0, KEEL_SLOT_TCB, 0), KEEL_E_DELETE_FIRST);
    ASSERT_OK(keel_irq_control_get(KEEL_SLOT_IRQ_CONTROL, 3, 0, slot, 0));
    EXPECT_ERR(keel_irq_handler_ack(slot), KEEL_E_ILLEGAL_OPERATION); /* no notification yet */
    EXPECT_ERR(keel_irq_handler_set_notification(slot, KEEL_SLOT_TCB), KEEL_E_INVALID_CAPABILITY);
    ASSERT_OK(kt_slot(&copy));
    EXPECT_ERR(keel_cspace_copy(copy, slot, KEEL_RIGHTS_ALL), KEEL_E_ILLEGAL_OPERATION); /* one cap per line */
}
