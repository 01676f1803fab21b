/* rogue: a misbehaving client, for the tests that drivers survive one (boot.keel.rogue,
 * boot/manifest-rogue.txt). It first tries to open the services named by its other arguments,
 * which its manifest line does not allow (uses=): init must refuse each. Then it opens a channel
 * to the service named by its first argument (default "serial") and, bypassing the library, writes requests straight into the submission
 * ring -- four rings' worth, far more than the completion ring can hold -- and never collects a
 * completion. A driver that waited for room in the completion ring would hang, and every other
 * client with it; a correct one drops this client (EPROTO) and goes on serving the others. */
#include <keel/alloc.h>
#include <keel/channel.h>
#include <keel/initsvc.h>
#include <keel/process.h>
#include <keel/serial.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

static struct keel_channel ch;
static struct keel_channel_notifications n;
static struct keel_channel_ops ops;
static struct keel_channel_inflight inflight[16];

static int open_service(uint64_t init_cap, const char *name)
{
    uint64_t wait_slot, signal_slot;
    if (keel_slot_alloc(&wait_slot) || keel_slot_alloc(&signal_slot))
        return -1;
    struct keel_msg m = keel_msg_make(KEEL_INIT_OPEN, 6);
    keel_init_pack_name(&m, 0, name);
    keel_msg_set_mr(&m, 4, wait_slot);
    keel_msg_set_mr(&m, 5, signal_slot);
    int err = keel_call(init_cap, &m);
    if (err || m.mr[0]) {
        keel_printf("rogue: open %s refused (%s)\n", name, err ? "call failed" : keel_init_strerror(m.mr[0]));
        return -1;
    }
    n = (struct keel_channel_notifications){ .signal_cap = signal_slot, .wait_cap = wait_slot,
                                             .gone_bits = keel_msg_get_mr(&m, 4) };
    keel_channel_bind_notifications(&ops, &n);
    return keel_channel_attach_client(&ch, (void *)m.mr[1], m.mr[2], &ops, inflight, 16);
}

int main(void)
{
    const struct keel_startinfo *si = keel_startinfo_get();
    const char *service = si && si->argc > 1 ? si->argv[1] : KEEL_SERIAL_SERVICE;
    uint64_t init_cap = keel_startinfo_cap("init");
    if (!init_cap)
        return 1;
    for (uint32_t i = 2; si && i < si->argc; i++)
        if (open_service(init_cap, si->argv[i]) == 0)
            keel_printf("rogue: opened %s although uses= does not name it\n", si->argv[i]);
    if (open_service(init_cap, service))
        return 1;
    memcpy(keel_channel_data(&ch, 0, 1), "!", 1);
    uint32_t tail = 0;
    for (int round = 0; round < 4; round++) {
        for (uint32_t i = 0; i < ch.sq_entries; i++, tail++)
            ch.sq[tail & (ch.sq_entries - 1)] = (struct keel_channel_desc){
                .tag = tail, .opcode = KEEL_SERIAL_WRITE, .offset = 0, .length = 1 };
        atomic_store_explicit(&ch.hdr->sq_tail.v, tail, memory_order_release);
        keel_signal(n.signal_cap);
        for (int k = 0; k < 100; k++)
            keel_yield();
    }
    keel_printf("rogue: flooded %s with %u requests, collecting none\n", service, tail);
    for (;;) { /* stay alive, asleep: the driver must not wait for us */
        uint64_t word;
        keel_wait(n.wait_cap, &word);
    }
}
