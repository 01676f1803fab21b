/* The operations of the object harness (world.h): each decodes its three argument bytes into
 * operands chosen among the caps that exist (so that most byte strings do something) and makes
 * the invocations and syscalls, or raises the faults, that the operation names. */
#include "arch/layout.h"
#include "arch/trap.h"
#include "object/cdt.h"
#include "object/tcb.h"
#include "object/vspace.h"
#include "sched.h"
#include "world_internal.h"
#include <stdio.h>

/* ---- choosing operands ---- */

static struct cte *slot(unsigned index) { return &world_slots[index]; }
static unsigned fuzz_slot(uint8_t sel) { return FUZZ_FIRST + sel % FUZZ_SLOTS; }

/* "slot 37 = endpoint 82440": a slot and what its cap names (objects by arena offset). */
static const char *desc(unsigned index)
{
    static const char *const types[] = { "empty", "untyped", "tcb", "endpoint", "notification", "reply", "cnode",
                                         "pml4", "pdpt", "pd", "pt", "frame" };
    static char buf[4][48];
    static unsigned next;
    char *out = buf[next++ % 4];
    const struct cap *c = &slot(index)->cap;
    const char *type = c->type < sizeof types / sizeof types[0] ? types[c->type] : "cap";
    uint64_t obj = c->type == KEEL_OBJ_UNTYPED || c->type == KEEL_OBJ_FRAME_4K ? (uint64_t)phys_to_virt(c->obj) : c->obj;
    if (c->type == KEEL_CAP_NULL)
        snprintf(out, sizeof buf[0], "slot %u (empty)", index);
    else
        snprintf(out, sizeof buf[0], "slot %u = %s %lx", index, type, world_name((const void *)obj));
    return out;
}

/* The (sel mod count)-th fuzz slot holding a cap of `type`, or 0 if there is none. */
static unsigned pick(uint8_t sel, uint8_t type)
{
    unsigned count = 0;
    for (unsigned i = FUZZ_FIRST; i < FUZZ_FIRST + FUZZ_SLOTS; i++)
        count += slot(i)->cap.type == type;
    if (!count)
        return 0;
    unsigned k = sel % count;
    for (unsigned i = FUZZ_FIRST; i < FUZZ_FIRST + FUZZ_SLOTS; i++)
        if (slot(i)->cap.type == type && k-- == 0)
            return i;
    return 0;
}

/* A thread of the operations (not a root thread) that could run now. */
static struct tcb *pick_actor(uint8_t sel)
{
    unsigned count = 0;
    for (struct tcb *t = tcb_list; t; t = t->all_next)
        count += t != world_root_thread[0] && t != world_root_thread[1] && t->state == TS_RUNNING && vspace_usable(t);
    if (!count)
        return 0;
    unsigned k = sel % count;
    for (struct tcb *t = tcb_list; t; t = t->all_next)
        if (t != world_root_thread[0] && t != world_root_thread[1] && t->state == TS_RUNNING && vspace_usable(t) && k-- == 0)
            return t;
    return 0;
}

/* Where a thread sends: an endpoint, a reply object, or any slot at all. */
static unsigned pick_send_target(uint8_t sel)
{
    switch (sel % 4) {
    case 0:
    case 1: return pick(sel >> 2, KEEL_OBJ_ENDPOINT);
    case 2: return pick(sel >> 2, KEEL_OBJ_REPLY);
    default: return fuzz_slot(sel >> 2);
    }
}

static const char *const op_names[WORLD_OP_COUNT] = {
    "retype", "configure", "resume", "suspend", "write-registers", "set-priority", "bind-notification",
    "send", "call", "recv", "reply-recv", "fault", "delete", "revoke", "copy", "move", "sub-cnode",
    "tick", "yield", "set-affinity", "set-ipc-buffer", "thread-invokes-tcb", "signal", "wait",
};
const char *world_op_name(unsigned op) { return op < WORLD_OP_COUNT ? op_names[op] : "?"; }

/* The generator's mix: mostly building threads and making them talk, fault and die. */
const unsigned world_op_weight[WORLD_OP_COUNT] = {
    [0] = 10, [1] = 8, [2] = 3, [3] = 3, [4] = 2, [5] = 2, [6] = 2, [7] = 9, [8] = 8, [9] = 9,
    [10] = 4, [11] = 6, [12] = 5, [13] = 2, [14] = 4, [15] = 2, [16] = 2, [17] = 2, [18] = 2,
    [19] = 2, [20] = 2, [21] = 3, [22] = 3, [23] = 3,
};

/* ---- operations by the root thread ---- */

static void op_retype(uint8_t a, uint8_t b, uint8_t c)
{
    static const uint8_t types[] = { KEEL_OBJ_TCB, KEEL_OBJ_TCB, KEEL_OBJ_ENDPOINT, KEEL_OBJ_ENDPOINT,
                                     KEEL_OBJ_NOTIFICATION, KEEL_OBJ_REPLY, KEEL_OBJ_REPLY, KEEL_OBJ_CNODE,
                                     KEEL_OBJ_FRAME_4K, KEEL_OBJ_UNTYPED, KEEL_OBJ_PML4 };
    uint8_t type = types[a % sizeof types];
    if ((type == KEEL_OBJ_FRAME_4K && world_avoid_frames) || (type == KEEL_OBJ_PML4 && world_avoid_vspaces))
        type = KEEL_OBJ_ENDPOINT;
    uint64_t size = type == KEEL_OBJ_CNODE ? 1 + (a >> 4) % 2 : type == KEEL_OBJ_UNTYPED ? 4096ull << ((a >> 4) % 3) : 0;
    unsigned ut = (c & 1) ? pick(c >> 1, KEEL_OBJ_UNTYPED) : 0;
    unsigned dest = fuzz_slot(b), count = 1 + (c >> 6);
    if (!ut)
        ut = SLOT_UNTYPED;
    if (dest + count > FUZZ_FIRST + FUZZ_SLOTS)
        count = FUZZ_FIRST + FUZZ_SLOTS - dest;
    world_note(" type %u from %s into slot %u x%u", type, desc(ut), dest, count);
    uint64_t mr[6] = { type, size, 0, 0, dest, count };
    world_root_call(ut, KEEL_UNTYPED_RETYPE, 6, mr, 0, 0);
}

static void op_configure(uint8_t a, uint8_t b, uint8_t c)
{
    unsigned t = pick(a, KEEL_OBJ_TCB);
    if (!t)
        return;
    unsigned fault_ep = (b & 1) ? 0 : pick(b >> 1, KEEL_OBJ_ENDPOINT);
    unsigned frame = (c & 1) ? pick(c >> 1, KEEL_OBJ_FRAME_4K) : 0;
    unsigned vspace = (c & 0x20) ? pick(c >> 2, KEEL_OBJ_PML4) : 0;
    world_note(" %s fault ep %s buffer %u vspace %u", desc(t), fault_ep ? desc(fault_ep) : "none", frame,
         vspace ? vspace : SLOT_PML4);
    uint64_t mr[4] = { 0x10000 + ((c >> 1) & 7) * 0x1000ull, 0, ROOT_GUARD_BITS, fault_ep };
    uint64_t caps[3] = { SLOT_CNODE, vspace ? vspace : SLOT_PML4, frame };
    world_root_call(t, KEEL_TCB_CONFIGURE, 4, mr, 3, caps);
    if (!(c & 0x40))
        world_root_call(t, KEEL_TCB_RESUME, 0, 0, 0, 0);
}

static void op_tcb_simple(uint8_t a, uint64_t label)
{
    unsigned t = pick(a, KEEL_OBJ_TCB);
    if (!t)
        return;
    world_note(" %s", desc(t));
    world_root_call(t, label, 0, 0, 0, 0);
}

static void write_registers_args(uint64_t *mr, uint8_t b, uint8_t c)
{
    mr[0] = b & 1; /* resume */
    for (unsigned i = 1; i <= KEEL_USER_REGS_WORDS; i++)
        mr[i] = i * 0x101u + c;
    mr[1] = 0x400000 + c * 16ull; /* rip */
    mr[2] = 0x7fff0000;           /* rsp */
}

static void op_write_registers(uint8_t a, uint8_t b, uint8_t c)
{
    unsigned t = pick(a, KEEL_OBJ_TCB);
    if (!t)
        return;
    uint64_t mr[1 + KEEL_USER_REGS_WORDS];
    write_registers_args(mr, b, c);
    world_note(" %s resume %u", desc(t), b & 1);
    world_root_call(t, KEEL_TCB_WRITE_REGISTERS, 1 + KEEL_USER_REGS_WORDS, mr, 0, 0);
}

static const uint64_t priorities[] = { 0, 1, 2, 3, 100, 255 };

static void op_set_priority(uint8_t a, uint8_t b)
{
    unsigned t = pick(a, KEEL_OBJ_TCB);
    if (!t)
        return;
    uint64_t mr[1] = { priorities[b % 6] };
    uint64_t caps[1] = { SLOT_ROOT_TCB };
    world_note(" %s priority %lu", desc(t), (unsigned long)mr[0]);
    world_root_call(t, KEEL_TCB_SET_PRIORITY, 1, mr, 1, caps);
}

static void op_bind(uint8_t a, uint8_t b, uint8_t c)
{
    unsigned t = pick(a, KEEL_OBJ_TCB);
    if (!t)
        return;
    if (c & 1) {
        world_note(" unbind %s", desc(t));
        world_root_call(t, KEEL_TCB_UNBIND_NOTIFICATION, 0, 0, 0, 0);
        return;
    }
    unsigned n = pick(b, KEEL_OBJ_NOTIFICATION);
    uint64_t caps[1] = { n };
    world_note(" %s to %s", desc(t), n ? desc(n) : "none");
    world_root_call(t, KEEL_TCB_BIND_NOTIFICATION, 0, 0, 1, caps);
}

static void op_delete(uint8_t b, uint8_t c)
{
    unsigned s = fuzz_slot(b);
    (void)c;
    world_note(" %s", desc(s));
    uint64_t mr[2] = { s, 64 };
    world_root_call(SLOT_CNODE, KEEL_CNODE_DELETE, 2, mr, 0, 0);
}

static void op_revoke(uint8_t b, uint8_t c)
{
    static const unsigned reserved[] = { SLOT_CNODE, SLOT_UNTYPED, SLOT_UNTYPED, SLOT_PML4 };
    unsigned s = (c % 16 == 0) ? reserved[b % 4] : fuzz_slot(b); /* the whole world, now and then */
    if (s == SLOT_PML4 && world_avoid_vspaces)
        return;
    world_note(" %s", desc(s));
    uint64_t mr[2] = { s, 64 };
    world_root_call(SLOT_CNODE, KEEL_CNODE_REVOKE, 2, mr, 0, 0);
}

static const uint64_t rights_masks[] = { KEEL_RIGHTS_ALL, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, KEEL_RIGHT_READ,
                                         KEEL_RIGHT_WRITE };

static void op_copy(uint8_t a, uint8_t b, uint8_t c)
{
    unsigned src = fuzz_slot(a), dest = fuzz_slot(b);
    bool mint = c & 1;
    uint64_t mr[8] = { dest, 64, 0, src, 64, rights_masks[(c >> 1) % 4], (c >> 3) & 3, 0 };
    world_note(" %s slot %u -> %u rights %lx badge %lu", mint ? "mint" : "copy", src, dest, (unsigned long)mr[5],
         (unsigned long)mr[6]);
    world_root_call(SLOT_CNODE, mint ? KEEL_CNODE_MINT : KEEL_CNODE_COPY, mint ? 8 : 6, mr, 0, 0);
}

static void op_move(uint8_t a, uint8_t b, uint8_t c)
{
    unsigned src = fuzz_slot(a), dest = fuzz_slot(b);
    bool mutate = c & 1;
    uint64_t mr[8] = { dest, 64, 0, src, 64, rights_masks[(c >> 1) % 4], (c >> 3) & 3, 0 };
    world_note(" %s slot %u -> %u", mutate ? "mutate" : "move", src, dest);
    world_root_call(SLOT_CNODE, mutate ? KEEL_CNODE_MUTATE : KEEL_CNODE_MOVE, mutate ? 8 : 5, mr, 0, 0);
}

/* Caps kept inside retyped CNodes: deleting the CNode deletes them (cap_delete's zombie walk). */
static void op_sub_cnode(uint8_t a, uint8_t b, uint8_t c)
{
    unsigned node = pick(a, KEEL_OBJ_CNODE);
    if (!node)
        return;
    unsigned radix = slot(node)->cap.radix;
    uint64_t index = c & ((1u << radix) - 1);
    if (c & 0x80) {
        world_note(" delete cnode slot %u index %lu", node, (unsigned long)index);
        uint64_t mr[2] = { index, radix };
        world_root_call(node, KEEL_CNODE_DELETE, 2, mr, 0, 0);
        return;
    }
    unsigned src = fuzz_slot(b);
    world_note(" copy slot %u into cnode slot %u index %lu", src, node, (unsigned long)index);
    uint64_t mr[6] = { index, radix, 0, src, 64, KEEL_RIGHTS_ALL };
    world_root_call(node, KEEL_CNODE_COPY, 6, mr, 0, 0);
}

static void op_set_affinity(uint8_t a, uint8_t b)
{
    unsigned t = pick(a, KEEL_OBJ_TCB);
    if (!t)
        return;
    uint64_t mr[1] = { b % SIM_CPUS };
    world_note(" %s cpu %lu", desc(t), (unsigned long)mr[0]);
    world_root_call(t, KEEL_TCB_SET_AFFINITY, 1, mr, 0, 0);
}

static void op_set_ipc_buffer(uint8_t a, uint8_t b, uint8_t c)
{
    unsigned t = pick(a, KEEL_OBJ_TCB);
    if (!t)
        return;
    unsigned frame = (c & 1) ? 0 : pick(b, KEEL_OBJ_FRAME_4K);
    uint64_t mr[1] = { 0x20000 };
    uint64_t caps[1] = { frame };
    world_note(" %s frame %u", desc(t), frame);
    world_root_call(t, KEEL_TCB_SET_IPC_BUFFER, 1, mr, 1, caps);
}

/* ---- operations by the other threads ---- */

/* The IPC buffer as the thread's own code sees it: the frame its TCB's buffer cap names, which
 * it has mapped (the kernel derives its view from the same cap: tcb_ipc_buffer). */
static struct keel_ipc_buffer *user_buffer(struct tcb *t)
{
    return tcb_ipc_buffer(t);
}

/* The message a thread sends: label, length (past 4 words only with IPC buffers), maybe a cap. */
static keel_msginfo_t prepare_message(struct tcb *t, uint8_t c)
{
    static const uint64_t labels[] = { 0, 1, 0x55, 0 };
    unsigned length = (c >> 1) & 7;
    unsigned caps = 0;
    t->ctx.rdx = 0x1111 + c;
    t->ctx.r10 = 0x2222;
    t->ctx.r8 = 0x3333;
    t->ctx.r9 = 0x4444;
    struct keel_ipc_buffer *buffer = user_buffer(t);
    if (buffer) {
        for (unsigned i = 4; i < 8; i++)
            buffer->mr[i] = 0x5550 + i;
        if (c & 0x10) {
            buffer->caps[0] = fuzz_slot(c >> 2);
            caps = 1;
        }
    }
    return keel_msginfo(labels[(c >> 5) & 3], caps, length);
}

static void prepare_receive(struct tcb *t, uint8_t sel)
{
    struct keel_ipc_buffer *buffer = user_buffer(t);
    if (!buffer)
        return;
    buffer->receive_cnode = 0;
    buffer->receive_index = fuzz_slot(sel);
    buffer->receive_depth = 64;
}

static struct tcb *actor(uint8_t a)
{
    struct tcb *t = pick_actor(a);
    if (!t || !world_make_current(t))
        return 0;
    world_note(" by t%lx", world_name(t));
    return t;
}

static void op_send(uint8_t a, uint8_t b, uint8_t c, bool call)
{
    struct tcb *t = actor(a);
    unsigned target = pick_send_target(b);
    if (!t || !target)
        return;
    keel_msginfo_t info = prepare_message(t, c);
    uint64_t nr = call ? KEEL_SYS_CALL : (c & 1) ? KEEL_SYS_NB_SEND : KEEL_SYS_SEND;
    world_note(" to %s nr %lu info %lx", desc(target), (unsigned long)nr, (unsigned long)info);
    world_syscall(t, nr, target, info, 0);
}

static void op_recv(uint8_t a, uint8_t b, uint8_t c)
{
    struct tcb *t = actor(a);
    unsigned ep = (b % 8 == 7) ? fuzz_slot(b >> 3) : pick(b, KEEL_OBJ_ENDPOINT);
    unsigned reply = (c & 1) ? 0 : pick(c >> 1, KEEL_OBJ_REPLY);
    if (!t || !ep)
        return;
    prepare_receive(t, c >> 2);
    uint64_t nr = (c & 0x80) ? KEEL_SYS_NB_RECV : KEEL_SYS_RECV;
    world_note(" on %s reply %s nr %lu", desc(ep), reply ? desc(reply) : "none", (unsigned long)nr);
    world_syscall(t, nr, ep, 0, reply);
}

static void op_reply_recv(uint8_t a, uint8_t b, uint8_t c)
{
    struct tcb *t = actor(a);
    unsigned ep = pick(b, KEEL_OBJ_ENDPOINT), reply = pick(c, KEEL_OBJ_REPLY);
    if (!t || !ep)
        return;
    keel_msginfo_t info = prepare_message(t, c & 0x6f); /* no cap: the fastpath's case too */
    prepare_receive(t, b);
    world_note(" on %s reply %s info %lx", desc(ep), reply ? desc(reply) : "none", (unsigned long)info);
    world_syscall(t, KEEL_SYS_REPLY_RECV, ep, info, reply);
}

static void op_fault(uint8_t a, uint8_t b)
{
    static const uint64_t vectors[] = { VEC_DIVIDE, VEC_INVALID_OPCODE, VEC_GENERAL_PROTECTION };
    struct tcb *t = actor(a);
    if (!t)
        return;
    if (b % 4 == 3) {
        world_note(" unknown syscall");
        world_syscall(t, 0x40 + b, 0, 0, 0);
        return;
    }
    world_note(" vector %lu", (unsigned long)vectors[b % 4]);
    world_interrupt(vectors[b % 4]);
}

static void op_tick(uint8_t a, uint8_t b)
{
    unsigned cpu = a % SIM_CPUS;
    world_enter_cpu(cpu);
    world_note(" cpu %u x%u", cpu, 1 + b % TIME_SLICE_TICKS);
    for (unsigned i = 0; i <= b % TIME_SLICE_TICKS; i++)
        world_interrupt(VEC_LAPIC_TIMER);
}

static void op_yield(uint8_t a)
{
    struct tcb *t = actor(a);
    if (t)
        world_syscall(t, KEEL_SYS_YIELD, 0, 0, 0);
}

/* A thread invokes a TCB cap: possibly its own (suspending itself, say). */
static void op_thread_invokes_tcb(uint8_t a, uint8_t b, uint8_t c)
{
    static const uint64_t labels[] = { KEEL_TCB_SUSPEND, KEEL_TCB_RESUME, KEEL_TCB_SET_PRIORITY,
                                       KEEL_TCB_BIND_NOTIFICATION, KEEL_TCB_UNBIND_NOTIFICATION, KEEL_TCB_GET_INFO,
                                       KEEL_TCB_SET_AFFINITY, KEEL_TCB_WRITE_REGISTERS, KEEL_TCB_READ_REGISTERS };
    struct tcb *t = actor(a);
    unsigned target = pick(b, KEEL_OBJ_TCB);
    if (!t || !target)
        return;
    uint64_t label = labels[c % 9];
    unsigned length = 1, caps = 0;
    struct keel_ipc_buffer *buffer = user_buffer(t);
    t->ctx.rdx = (c >> 3) & 1;
    if (label == KEEL_TCB_WRITE_REGISTERS) {
        if (!buffer)
            return;
        uint64_t mr[1 + KEEL_USER_REGS_WORDS];
        write_registers_args(mr, c >> 3, c);
        t->ctx.rdx = mr[0];
        t->ctx.r10 = mr[1];
        t->ctx.r8 = mr[2];
        t->ctx.r9 = mr[3];
        for (unsigned i = KEEL_MSG_REGISTERS; i < 1 + KEEL_USER_REGS_WORDS; i++)
            buffer->mr[i] = mr[i];
        length = 1 + KEEL_USER_REGS_WORDS;
    } else if (label == KEEL_TCB_BIND_NOTIFICATION || label == KEEL_TCB_SET_PRIORITY) {
        if (!buffer)
            return;
        buffer->caps[0] = label == KEEL_TCB_SET_PRIORITY ? target : pick(c >> 3, KEEL_OBJ_NOTIFICATION);
        caps = 1;
        t->ctx.rdx = 0;
    }
    world_note(" %s label %lu", desc(target), (unsigned long)label);
    world_syscall(t, KEEL_SYS_CALL, target, keel_msginfo(label, caps, length), 0);
}

static void op_signal(uint8_t a, uint8_t b, uint8_t c)
{
    struct tcb *t = actor(a);
    unsigned n = pick(b, KEEL_OBJ_NOTIFICATION);
    if (!t || !n)
        return;
    world_note(" %s", desc(n));
    world_syscall(t, (c & 1) ? KEEL_SYS_NB_SEND : KEEL_SYS_SEND, n, 0, 0);
}

static void op_wait(uint8_t a, uint8_t b, uint8_t c)
{
    struct tcb *t = actor(a);
    unsigned n = pick(b, KEEL_OBJ_NOTIFICATION);
    if (!t || !n)
        return;
    world_note(" %s%s", desc(n), (c & 1) ? " polling" : "");
    world_syscall(t, (c & 1) ? KEEL_SYS_NB_RECV : KEEL_SYS_RECV, n, 0, 0);
}

void world_do_op(unsigned code, uint8_t a, uint8_t b, uint8_t c)
{
    switch (code) {
    case 0: op_retype(a, b, c); break;
    case 1: op_configure(a, b, c); break;
    case 2: op_tcb_simple(a, KEEL_TCB_RESUME); break;
    case 3: op_tcb_simple(a, KEEL_TCB_SUSPEND); break;
    case 4: op_write_registers(a, b, c); break;
    case 5: op_set_priority(a, b); break;
    case 6: op_bind(a, b, c); break;
    case 7: op_send(a, b, c, false); break;
    case 8: op_send(a, b, c, true); break;
    case 9: op_recv(a, b, c); break;
    case 10: op_reply_recv(a, b, c); break;
    case 11: op_fault(a, b); break;
    case 12: op_delete(b, c); break;
    case 13: op_revoke(b, c); break;
    case 14: op_copy(a, b, c); break;
    case 15: op_move(a, b, c); break;
    case 16: op_sub_cnode(a, b, c); break;
    case 17: op_tick(a, b); break;
    case 18: op_yield(a); break;
    case 19: op_set_affinity(a, b); break;
    case 20: op_set_ipc_buffer(a, b, c); break;
    case 21: op_thread_invokes_tcb(a, b, c); break;
    case 22: op_signal(a, b, c); break;
    case 23: op_wait(a, b, c); break;
    }
}
