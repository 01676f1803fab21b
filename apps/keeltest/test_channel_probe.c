/* chanprobe: not a test file but a program of its own (a boot module of the test image) that
 * test_channel_nocap.c starts as a process, once with no caps beyond its own and once with one
 * "bait" cap, to see what a process can reach. In order, it:
 *   1. Signals every slot a creator can put caps in (KEEL_PROCESS_SLOT_FIRST_CAP up to the end
 *      of its CNode): each should fail with FAILED_LOOKUP, unless it was given a cap there;
 *   2. Calls KEEL_INIT_OPEN("null") on the slot a client's "init" cap would be in;
 *   3. Sends what happened to its supervisor (label CHANPROBE_REPORT: MR0 how many signals went
 *      through, MR1 the first slot that took one, MR2 the first other error as slot | err << 32,
 *      MR3 the Call's error);
 *   4. Reads the 64-bit word at the address argv[1] (hex), where a channel would be mapped: a page
 *      fault unless its creator mapped something there, else it exits with the word's low 16 bits. */
#include "test_channel_probe.h"
#include <keel/errors.h>
#include <keel/initsvc.h>
#include <keel/process.h>
#include <keel/syscall.h>

static uint64_t parse_hex(const char *s)
{
    uint64_t v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    for (; *s; s++)
        v = v * 16 + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
    return v;
}

int main(void)
{
    const struct keel_startinfo *si = keel_startinfo_get();
    if (!si || si->argc < 2)
        return 1;
    uint64_t reached = 0, first = 0, other = 0;
    for (uint64_t s = KEEL_PROCESS_SLOT_FIRST_CAP; s < (1ull << si->cnode_radix); s++) {
        int err = keel_signal(s);
        if (!err && reached++ == 0)
            first = s;
        else if (err && err != KEEL_E_FAILED_LOOKUP && !other)
            other = s | (uint64_t)err << 32;
    }
    struct keel_msg m = keel_msg_make(KEEL_INIT_OPEN, 6);
    keel_init_pack_name(&m, 0, "null");
    keel_msg_set_mr(&m, 4, si->empty.start);
    keel_msg_set_mr(&m, 5, si->empty.start + 1);
    int call = keel_call(KEEL_PROCESS_SLOT_FIRST_CAP, &m);

    struct keel_msg r = keel_msg_make(CHANPROBE_REPORT, 4);
    r.mr[0] = reached;
    r.mr[1] = first;
    r.mr[2] = other;
    r.mr[3] = (uint64_t)call;
    keel_send(KEEL_PROCESS_SLOT_SUPERVISOR, &r);

    volatile const uint64_t *p = (const uint64_t *)parse_hex(si->argv[1]);
    return (int)(*p & 0xffff);
}
