/* A process without caps cannot reach a service: chanprobe (test_channel_probe.c) tries every
 * slot a cap could be in, the Call a client makes to open a channel, and the address where a
 * channel would be mapped, while the null driver serves a channel next to it. The same probe with
 * one cap and the region mapped shows that it does notice when it can reach something. */
#include "test_channel.h"
#include "test_channel_probe.h"
#include "null.h"
#include <keel/initsvc.h>
#include <keel/vspace.h>

#define PROBE_BYTES (1ull << 20)
#define PROBE_VA 0x0000500000000000ull /* where init maps a process's first channel */
#define BAIT_BADGE 0x5a

struct probe {
    uint64_t ep, reply, ut;
    struct keel_process p;
};

static int probe_recv(struct probe *pr, struct keel_msg *m)
{
    for (uint64_t start = kt_now(); kt_patient(start);) {
        int err = keel_nbrecv(pr->ep, pr->reply, m);
        if (err != KEEL_E_WOULD_BLOCK)
            return err;
        keel_yield();
    }
    return KEEL_E_WOULD_BLOCK;
}

/* Spawn chanprobe (suspended) with `caps`, told to read PROBE_VA. */
static int probe_spawn(struct probe *pr, const struct keel_process_cap *caps, unsigned ncaps)
{
    int err;
    if ((err = kt_new(KEEL_OBJ_ENDPOINT, 0, &pr->ep)) || (err = kt_new(KEEL_OBJ_REPLY, 0, &pr->reply)) ||
        (err = kt_untyped(PROBE_BYTES, &pr->ut)))
        return err;
    static const char *const argv[] = { "chanprobe", "0x500000000000" };
    struct keel_process_config cfg = {
        .module = keel_bootinfo_module(kt_bi, "chanprobe"),
        .untyped = pr->ut,
        .asid_pool = KEEL_SLOT_ASID_POOL,
        .fault_ep = pr->ep,
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
        .argc = 2,
        .argv = argv,
        .cap_count = ncaps,
        .caps = caps,
        .suspended = true,
    };
    return keel_process_spawn(&cfg, &pr->p);
}

/* Its report: 0, or -1 after printing what came instead. */
static int probe_report(struct probe *pr, struct keel_msg *m)
{
    *m = keel_msg_make(0, 0);
    int err = probe_recv(pr, m);
    if (err || keel_msg_label(m->info) != CHANPROBE_REPORT || m->badge != pr->p.pid) {
        keel_printf("# chanprobe: recv %s, label %#llx, MR0-1 %#llx %#llx instead of its report\n",
                    keel_strerror(err), (unsigned long long)keel_msg_label(m->info),
                    (unsigned long long)m->mr[0], (unsigned long long)m->mr[1]);
        return -1;
    }
    return 0;
}

KEEL_TEST(channel_service_unreachable_without_caps)
{
    /* The service is there and works. */
    struct kt_driver drv;
    struct kt_chan c;
    ASSERT_OK(kt_driver_init(&drv));
    ASSERT_OK(kt_driver_start(&drv));
    struct keel_channel_config cfg = { .sq_entries = 4, .cq_entries = 4 };
    ASSERT_OK(kt_chan_open(&drv, &c, 0, &cfg));

    /* With one cap and the region mapped where it looks, the probe finds both. */
    uint64_t bait, bait_cap;
    ASSERT_OK(kt_new(KEEL_OBJ_NOTIFICATION, 0, &bait));
    ASSERT_OK(kt_mint(bait, KEEL_RIGHT_WRITE, BAIT_BADGE, &bait_cap));
    struct keel_process_cap caps[] = { { .cptr = bait_cap, .name = "bait" } };
    struct probe seen;
    ASSERT_OK(probe_spawn(&seen, caps, 1));
    for (unsigned k = 0; k < KT_CHAN_PAGES; k++) {
        uint64_t copy;
        ASSERT_OK(kt_slot(&copy));
        ASSERT_OK(keel_cspace_copy(copy, c.frames[k], KEEL_RIGHT_READ));
        ASSERT_OK(keel_vspace_map_frame(copy, seen.p.vspace, PROBE_VA + k * 4096, KEEL_MAP_READ, KEEL_CACHE_WB, 0));
    }
    ASSERT_OK(keel_process_start(&seen.p));
    struct keel_msg m;
    ASSERT_TRUE(probe_report(&seen, &m) == 0);
    EXPECT_EQ(m.mr[0], 1);                          /* one signal went through ... */
    EXPECT_EQ(m.mr[1], KEEL_PROCESS_SLOT_FIRST_CAP); /* ... on the cap it was given */
    EXPECT_EQ(m.mr[2], 0);
    uint64_t word = 0;
    EXPECT_OK(keel_poll(bait, &word));
    EXPECT_EQ(word, BAIT_BADGE);
    m = keel_msg_make(0, 0);
    ASSERT_OK(probe_recv(&seen, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_PROCESS_MSG_EXIT);
    EXPECT_EQ(m.mr[0], KEEL_CHANNEL_MAGIC & 0xffff); /* it read the channel's header */
    EXPECT_OK(keel_process_destroy(&seen.p));

    /* Without caps: every slot is empty to it, the Call to open a channel finds no cap, and the
     * channel's memory is not in its address space (a page fault for its supervisor). */
    struct probe blind;
    ASSERT_OK(probe_spawn(&blind, 0, 0));
    ASSERT_OK(keel_process_start(&blind.p));
    ASSERT_TRUE(probe_report(&blind, &m) == 0);
    EXPECT_EQ(m.mr[0], 0);
    EXPECT_EQ(m.mr[2], 0); /* every failure was FAILED_LOOKUP */
    EXPECT_EQ(m.mr[3], KEEL_E_FAILED_LOOKUP);
    m = keel_msg_make(0, 0);
    ASSERT_OK(probe_recv(&blind, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_VM);
    EXPECT_EQ(m.badge, blind.p.pid);
    EXPECT_EQ(m.mr[1], PROBE_VA);
    EXPECT_OK(keel_process_destroy(&blind.p));

    /* The driver is unaffected: it still serves its client, and nothing else came to us. */
    struct keel_channel_desc d = { .tag = 77, .opcode = KEEL_NULL_NOP };
    ASSERT_OK(keel_channel_submit(&c.ch, &d));
    ASSERT_EQ(keel_channel_reap_wait(&c.ch, &d, 1), 1);
    EXPECT_EQ(d.tag, 77);
    EXPECT_EQ(d.status, 0);
    EXPECT_EQ(keel_channel_get_stats(&c.ch)->rejected, 0);
    EXPECT_ERR(keel_nbrecv(drv.ep, drv.reply, &m), KEEL_E_WOULD_BLOCK); /* no stray ACCEPT or fault */
    EXPECT_OK(kt_driver_kill(&drv, &c));
    kt_chan_free(&c);
}
