/* The invariant checker: walks every kernel data structure it can reach and reports what is
 * inconsistent. Tests call it after every test, so a bug shows in the test that caused it. */
#include "arch/cpu.h"
#include "arch/layout.h"
#include "log.h"
#include "object/cdt.h"
#include "object/debug.h"
#include "object/tcb.h"
#include "object/threadqueue.h"
#include "sched.h"
#include "smp.h"

static unsigned violations;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            violations++;                                                                          \
            log_error("invariant: " __VA_ARGS__);                                                  \
        }                                                                                          \
    } while (0)

static bool inside(uint64_t lo, uint64_t hi, uint64_t a, uint64_t b) { return a >= lo && b <= hi && a <= b; }

/* Physical extent of an object cap, for the "children lie inside their Untyped" check. */
static bool object_extent(const struct cap *c, uint64_t *start, uint64_t *end)
{
    uint64_t size;
    switch (c->type) {
    case KEEL_OBJ_UNTYPED: *start = c->obj; *end = c->obj + c->word1; return true;
    case KEEL_OBJ_FRAME_4K: *start = c->obj; *end = c->obj + 4096; return true;
    case KEEL_OBJ_FRAME_2M: *start = c->obj; *end = c->obj + (2ull << 20); return true;
    case KEEL_OBJ_FRAME_1G: *start = c->obj; *end = c->obj + (1ull << 30); return true;
    case KEEL_OBJ_TCB: size = 1ull << KEEL_TCB_SIZE_BITS; break;
    case KEEL_OBJ_ENDPOINT: size = 1ull << KEEL_ENDPOINT_SIZE_BITS; break;
    case KEEL_OBJ_NOTIFICATION: size = 1ull << KEEL_NOTIFICATION_SIZE_BITS; break;
    case KEEL_OBJ_REPLY: size = 1ull << KEEL_REPLY_SIZE_BITS; break;
    case KEEL_OBJ_CNODE: size = 1ull << (c->radix + KEEL_SLOT_SIZE_BITS); break;
    case KEEL_OBJ_PML4: size = 1ull << KEEL_PML4_SIZE_BITS; break;
    case KEEL_OBJ_PDPT: case KEEL_OBJ_PD: case KEEL_OBJ_PT: size = 4096; break;
    case KEEL_CAP_ASID_POOL: size = 1ull << KEEL_ASID_POOL_SIZE_BITS; break;
    default: return false;
    }
    *start = virt_to_phys((const void *)c->obj);
    *end = *start + size;
    return true;
}

static void check_slot(struct cte *s)
{
    for (struct cte *c = s->first_child; c; c = c->next) {
        CHECK(c->parent == s, "slot %p: child %p names parent %p", (void *)s, (void *)c, (void *)c->parent);
        CHECK(!c->next || c->next->prev == c, "slot %p: sibling links broken", (void *)c);
        CHECK(c->cap.type != KEEL_CAP_NULL, "slot %p: an empty slot is in the derivation tree", (void *)c);
        if (s != &cdt_root && s->cap.type == KEEL_OBJ_UNTYPED && !cap_same_object(&s->cap, &c->cap)) {
            uint64_t a, b;
            if (object_extent(&c->cap, &a, &b))
                CHECK(inside(s->cap.obj, s->cap.obj + s->cap.word2, a, b),
                      "object %lx-%lx lies outside its Untyped's used part %lx-%lx", a, b, s->cap.obj,
                      s->cap.obj + s->cap.word2);
        }
        /* Only Untyped and the control caps (which issue handler and port caps) have children of
         * other objects; every other child is a copy. */
        bool issuer = s->cap.type == KEEL_OBJ_UNTYPED || s->cap.type == KEEL_CAP_IRQ_CONTROL ||
                      s->cap.type == KEEL_CAP_IOPORT_CONTROL;
        if (s != &cdt_root && !issuer)
            CHECK(cap_same_object(&s->cap, &c->cap), "slot %p: a copy refers to another object", (void *)c);
    }
    if (s != &cdt_root && s->cap.type == KEEL_OBJ_UNTYPED)
        CHECK(s->cap.word2 <= s->cap.word1, "untyped %lx: watermark %lx beyond size %lx", s->cap.obj, s->cap.word2,
              s->cap.word1);
}

/* Depth-first over the whole tree without recursion, using the parent links. */
static void walk_cdt(void)
{
    struct cte *s = &cdt_root;
    unsigned long visited = 0;
    while (s) {
        check_slot(s);
        if (++visited > (1ul << 26)) {
            CHECK(false, "derivation tree walk does not end (a cycle?)");
            return;
        }
        if (s->first_child) {
            s = s->first_child;
            continue;
        }
        while (s && s != &cdt_root && !s->next)
            s = s->parent;
        s = (s && s != &cdt_root) ? s->next : 0;
    }
}

/* Every CPU's run queue. Run queues change only under the big lock, which the caller holds, so
 * another CPU's queue is as stable here as this one's. */
static void check_run_queue(uint32_t index)
{
    struct percpu *c = cpu_get(index);
    for (unsigned p = 0; p < 256; p++) {
        bool bit = (c->rq.bitmap[p >> 6] >> (p & 63)) & 1;
        CHECK(bit == (c->rq.head[p] != 0), "cpu %u run queue %u: bitmap says %d", index, p, bit);
        if (p % 64 == 0)
            CHECK(((c->rq.words >> (p / 64)) & 1) == (c->rq.bitmap[p / 64] != 0), "cpu %u run queue word %u wrong",
                  index, p / 64);
        unsigned long n = 0;
        for (struct tcb *t = c->rq.head[p]; t; t = t->sched_next) {
            CHECK(t->priority == p && t->in_run_queue, "cpu %u: tcb %p in queue %u with priority %u", index,
                  (void *)t, p, t->priority);
            CHECK(t->cpu == index, "tcb %p of cpu %u is queued on cpu %u", (void *)t, t->cpu, index);
            CHECK(t != c->current, "cpu %u: the running thread is also queued", index);
            CHECK(t->sched_next || c->rq.tail[p] == t, "cpu %u run queue %u tail wrong", index, p);
            if (++n > (1ul << 24)) {
                CHECK(false, "cpu %u run queue %u does not end (a cycle?)", index, p);
                break;
            }
        }
    }
    if (c->current) {
        CHECK(c->current->cpu == index, "cpu %u runs tcb %p, which belongs to cpu %u", index, (void *)c->current,
              c->current->cpu);
        for (uint32_t j = 0; j < index; j++)
            CHECK(cpu_get(j)->current != c->current, "tcb %p runs on cpus %u and %u at once", (void *)c->current, j,
                  index);
    }
}

/* The queue `t` says it waits in, walked whole: every member names the queue's object and is in
 * a state that belongs there, the links agree both ways, and `t` is among them. */
static void check_wait_queue(const struct tcb *t)
{
    const struct thread_queue *q;
    uint8_t member_state = t->state;
    if (t->state == TS_BLOCKED_NOTIFICATION) {
        q = &((const struct notification *)t->blocked_on)->waiters;
    } else {
        const struct endpoint *ep = t->blocked_on;
        q = &ep->queue;
        CHECK(ep->state == (t->state == TS_BLOCKED_SEND ? EP_SENDERS : EP_RECEIVERS),
              "endpoint %p state %u disagrees with waiting tcb %p", (void *)ep, ep->state, (void *)t);
    }
    bool found = false;
    unsigned long n = 0;
    const struct tcb *prev = 0;
    for (const struct tcb *m = q->head; m; prev = m, m = m->ep_next) {
        found |= m == t;
        CHECK(m->blocked_on == t->blocked_on && m->state == member_state,
              "tcb %p is in the queue of %p but blocked on %p in state %u", (void *)m, t->blocked_on,
              m->blocked_on, m->state);
        CHECK(m->ep_prev == prev, "queue of %p: tcb %p's back link is wrong", t->blocked_on, (void *)m);
        if (++n > (1ul << 24)) {
            CHECK(false, "queue of %p does not end (a cycle?)", t->blocked_on);
            return;
        }
    }
    CHECK(q->tail == prev, "queue of %p: tail %p, last member %p", t->blocked_on, (void *)q->tail, (void *)prev);
    CHECK(found, "tcb %p blocked on %p but not in its queue", (void *)t, t->blocked_on);
}

static void check_threads(void)
{
    for (struct tcb *t = tcb_list; t; t = t->all_next) {
        CHECK(!t->all_next || t->all_next->all_prev == t, "tcb list links broken at %p", (void *)t);
        CHECK(t->in_run_queue == 0 || t->state == TS_RUNNING, "tcb %p queued to run in state %u", (void *)t,
              t->state);
        /* A runnable thread is running somewhere or queued to run: otherwise nothing would ever
         * pick it again (a wake-up of the current thread that schedule() had already passed). */
        if (t->state == TS_RUNNING && !t->in_run_queue) {
            bool current = false;
            for (uint32_t i = 0; i < cpus_online; i++)
                current |= cpu_get(i)->current == t;
            CHECK(current, "tcb %p is runnable but neither running nor queued to run (lost)", (void *)t);
        }
        CHECK(t->cpu < cpus_online, "tcb %p belongs to cpu %u of %u", (void *)t, t->cpu, cpus_online);
        if (t->state == TS_BLOCKED_REPLY)
            CHECK(t->reply && t->reply->caller == t && t->blocked_on == t->reply,
                  "tcb %p waits for a reply nobody can send", (void *)t);
        if (thread_state_is_queued(t->state)) {
            if (t->blocked_on)
                check_wait_queue(t);
            else
                CHECK(false, "tcb %p blocked on nothing in state %u", (void *)t, t->state);
        } else {
            CHECK(!t->ep_next && !t->ep_prev, "tcb %p in state %u is linked in a wait queue", (void *)t, t->state);
            CHECK(t->state == TS_BLOCKED_REPLY || !t->blocked_on, "tcb %p in state %u is blocked on %p", (void *)t,
                  t->state, t->blocked_on);
        }
        /* A reply object a thread holds: offered while it waits in Recv, bound while it waits for
         * the answer to a Call; never otherwise. */
        if (t->reply) {
            CHECK(t->state == TS_BLOCKED_RECV || t->state == TS_BLOCKED_REPLY,
                  "tcb %p in state %u holds reply object %p", (void *)t, t->state, (void *)t->reply);
            if (t->state == TS_BLOCKED_RECV)
                CHECK(t->reply->receiver == t, "tcb %p offers reply %p, which names receiver %p", (void *)t,
                      (void *)t->reply, (void *)t->reply->receiver);
        }
        if (t->bound_notification)
            CHECK(t->bound_notification->bound_tcb == t, "tcb %p bound one way only", (void *)t);
    }
    for (uint32_t i = 0; i < cpus_online; i++)
        check_run_queue(i);
}

#include "object/vspace.h"

/* No CPU has a destroyed VSpace (or one without an ASID) loaded or recorded (vspace.c). */
static void check_loaded_vspaces(void)
{
    for (uint32_t i = 0; i < cpus_online; i++) {
        const void *vs = 0;
        const char *defect = vspace_cpu_defect(cpu_get(i), &vs);
        CHECK(!defect, "cpu %u: VSpace %p: %s", i, vs, defect);
    }
}

unsigned invariants_check(void)
{
    violations = 0;
    walk_cdt();
    check_threads();
    check_loaded_vspaces();
    return violations;
}
