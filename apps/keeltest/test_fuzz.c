/* Garbage in: a deterministic fuzz of invocations. Random labels (0..100), lengths, argument
 * words and extra caps go to random caps among a set made for the purpose in the test pool:
 * an Untyped, a CNode, a TCB, an endpoint, a notification, a reply object, a copy of the Debug
 * cap, a VSpace (with an ASID), a page table and a frame. Every call must come back (nothing
 * here can block) with success or an error code the ABI defines, and the kernel's invariants
 * must hold throughout.
 *
 * What is kept out, so that the root task and the runner survive: Debug EXIT and HoldLock (a
 * second-long hold would trip the lock watchdog on purpose); Call on the
 * endpoint (it would wait for a receiver) - the endpoint only gets NBSend/NBRecv; CNode
 * Copy/Mint/Move/Mutate take their source from the fuzz CNode itself (a source root of 0 would
 * be our own CSpace, and Move/Mutate would take the runner's caps away); Retype puts its objects
 * in the fuzz CNode. Extra caps are only fuzz targets (or the null cptr), so the fuzz TCB can
 * get only the fuzz VSpace and CSpace, and it never runs (priority 0, and we never block). */
#include "ktest.h"

#define FUZZ_SEED 0x9e3779b97f4a7c15ull
#define FUZZ_ITERATIONS 2000
#define FUZZ_CHECK_EVERY 100

enum { T_UNTYPED, T_CNODE, T_TCB, T_EP, T_NTFN, T_REPLY, T_DEBUG, T_PML4, T_PT, T_FRAME, T_COUNT };

static uint64_t rng;

static uint64_t next(void)
{
    uint64_t x = rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng = x;
}

static uint64_t below(uint64_t n) { return next() % n; }

static uint64_t targets[T_COUNT];

/* A word that is sometimes small, sometimes a cptr of ours, sometimes anything. */
static uint64_t fuzz_word(void)
{
    switch (below(8)) {
    case 0: case 1: case 2: return below(70);
    case 3: return targets[below(T_COUNT)];
    case 4: return 64;
    case 5: return 1ull << below(64);
    case 6: return ~0ull - below(4);
    default: return next();
    }
}

static uint64_t fuzz_cap(void)
{
    return below(5) == 0 ? 0 : targets[below(T_COUNT)];
}

struct outcome {
    unsigned ok, errors[KEEL_ERROR_COUNT];
};

/* One random operation; false if the answer is outside the ABI. */
static bool fuzz_one(unsigned iter, struct outcome *out)
{
    struct keel_ipc_buffer *ipc = keel_ipc_buffer();
    unsigned which = (unsigned)below(T_COUNT);
    uint64_t cptr = targets[which];
    /* Half the time a label the target's type answers to, so that the fuzz gets past the
     * label check into argument decoding. */
    static const uint64_t valid[T_COUNT][2] = {
        [T_UNTYPED] = { KEEL_UNTYPED_RETYPE, KEEL_UNTYPED_DESCRIBE },
        [T_CNODE] = { KEEL_CNODE_COPY, KEEL_CNODE_ROTATE },
        [T_TCB] = { KEEL_TCB_CONFIGURE, KEEL_TCB_GET_INFO },
        [T_DEBUG] = { KEEL_DEBUG_CHECK_INVARIANTS, KEEL_DEBUG_VSPACE_INFO },
        [T_PML4] = { KEEL_VSPACE_UNMAP_BATCH, KEEL_VSPACE_UNMAP_BATCH },
        [T_PT] = { KEEL_PAGING_MAP, KEEL_PAGING_UNMAP },
        [T_FRAME] = { KEEL_FRAME_MAP, KEEL_FRAME_GET_ADDRESS },
    };
    uint64_t label = below(101);
    if (valid[which][0] && below(2))
        label = valid[which][0] + below(valid[which][1] - valid[which][0] + 1);
    unsigned length = (unsigned)below(KEEL_MSG_MAX_LENGTH + 1);
    unsigned ncaps = (unsigned)below(KEEL_MSG_MAX_CAPS + 1);
    if (which == T_DEBUG && (label == KEEL_DEBUG_EXIT || label == KEEL_DEBUG_HOLD_LOCK))
        label = KEEL_DEBUG_CHECK_INVARIANTS;

    struct keel_msg m = { .info = keel_msginfo(label, ncaps, length) };
    for (unsigned i = 0; i < KEEL_MSG_MAX_LENGTH; i++) {
        uint64_t w = fuzz_word();
        if (i < KEEL_MSG_REGISTERS)
            m.mr[i] = w;
        else
            ipc->mr[i] = w;
    }
    for (unsigned i = 0; i < KEEL_MSG_MAX_CAPS; i++)
        ipc->caps[i] = fuzz_cap();
    if (which == T_CNODE && label >= KEEL_CNODE_COPY && label <= KEEL_CNODE_MUTATE)
        m.mr[2] = targets[T_CNODE]; /* source root: the fuzz CNode, never our CSpace */
    if (which == T_UNTYPED && label == KEEL_UNTYPED_RETYPE) {
        m.mr[2] = targets[T_CNODE]; /* destination: the fuzz CNode */
        m.mr[3] = KEEL_CSPACE_DEPTH;
        m.mr[1] = below(4) ? below(13) : m.mr[1]; /* mostly sizes that can succeed */
        m.mr[0] = below(4) ? below(KEEL_OBJECT_TYPE_COUNT + 1) : m.mr[0];
        if (below(2))
            ipc->mr[5] = 1 + below(4); /* count */
    }

    uint64_t nr, reply = 0;
    switch (which) {
    case T_EP:
        nr = below(2) ? KEEL_SYS_NB_SEND : KEEL_SYS_NB_RECV;
        reply = below(2) ? targets[T_REPLY] : fuzz_word();
        break;
    case T_NTFN: {
        static const uint64_t choice[] = { KEEL_SYS_SEND, KEEL_SYS_NB_SEND, KEEL_SYS_NB_RECV, KEEL_SYS_CALL };
        nr = choice[below(4)];
        break;
    }
    case T_REPLY: {
        static const uint64_t choice[] = { KEEL_SYS_SEND, KEEL_SYS_NB_SEND, KEEL_SYS_NB_RECV, KEEL_SYS_CALL };
        nr = choice[below(4)];
        break;
    }
    default:
        nr = KEEL_SYS_CALL; /* an invocation of a kernel object: answered at once */
        break;
    }
    keel_raw_syscall(nr, cptr, reply, &m);

    if (!keel_msg_is_error(m.info)) {
        out->ok++;
        return true;
    }
    uint64_t err = keel_msg_label(m.info);
    if (err == 0 || err >= KEEL_ERROR_COUNT)
        return ktest_check(false, __FILE__, __LINE__,
                           "iteration %u: syscall %llu on target %u label %llu len %u caps %u: error code %llu",
                           iter, (unsigned long long)nr, which, (unsigned long long)label, length, ncaps,
                           (unsigned long long)err);
    out->errors[err]++;
    return true;
}

static void print_outcome(const struct outcome *out)
{
    char line[240];
    int n = keel_snprintf(line, sizeof(line), "# fuzz: %u ok; errors:", out->ok);
    for (int e = 1; e < KEEL_ERROR_COUNT && n > 0 && (size_t)n < sizeof(line); e++)
        if (out->errors[e])
            n += keel_snprintf(line + n, sizeof(line) - (size_t)n, " %s %u", keel_strerror(e), out->errors[e]);
    keel_printf("%s\n", line);
}

/* The fuzz targets, fresh in the test pool. The VSpace gets an ASID so that maps into it can
 * succeed; the TCB may be configured with the fuzz CNode as CSpace and the fuzz endpoint as
 * fault endpoint. Its priority stays 0 and we never block, so it never runs. */
static int make_targets(uint64_t cnode_radix, bool configure_tcb)
{
    int err;
    if ((err = kt_untyped(256 * 1024, &targets[T_UNTYPED])) ||
        (err = kt_new(KEEL_OBJ_CNODE, cnode_radix, &targets[T_CNODE])) ||
        (err = kt_new(KEEL_OBJ_TCB, 0, &targets[T_TCB])) || (err = kt_new(KEEL_OBJ_ENDPOINT, 0, &targets[T_EP])) ||
        (err = kt_new(KEEL_OBJ_NOTIFICATION, 0, &targets[T_NTFN])) ||
        (err = kt_new(KEEL_OBJ_REPLY, 0, &targets[T_REPLY])) || (err = kt_slot(&targets[T_DEBUG])) ||
        (err = keel_cspace_copy(targets[T_DEBUG], KEEL_SLOT_DEBUG, KEEL_RIGHTS_ALL)) ||
        (err = kt_new(KEEL_OBJ_PML4, 0, &targets[T_PML4])) ||
        (err = keel_asid_pool_assign(KEEL_SLOT_ASID_POOL, targets[T_PML4], 0)) ||
        (err = kt_new(KEEL_OBJ_PT, 0, &targets[T_PT])) || (err = kt_new(KEEL_OBJ_FRAME_4K, 0, &targets[T_FRAME])))
        return err;
    if (configure_tcb)
        err = keel_tcb_configure(targets[T_TCB], targets[T_CNODE], 0, 0, targets[T_EP], 0, 0, 64 - cnode_radix);
    return err;
}

static void fuzz_run(uint64_t seed)
{
    rng = seed;
    struct outcome out;
    memset(&out, 0, sizeof(out));
    unsigned bad = 0;
    for (unsigned i = 1; i <= FUZZ_ITERATIONS; i++) {
        if (!fuzz_one(i, &out) && ++bad >= 5)
            break;
        if (i % FUZZ_CHECK_EVERY == 0) {
            uint64_t v = 1;
            int err = keel_debug_check_invariants(KEEL_SLOT_DEBUG, &v);
            if (!ktest_check(err == 0 && v == 0, __FILE__, __LINE__, "after iteration %u: %s, %llu violation(s)", i,
                             keel_strerror(err), (unsigned long long)v))
                break;
        }
    }
    EXPECT_OK(keel_debug_set_fault_logging(KEEL_SLOT_DEBUG, true)); /* the fuzz may have turned it off */
    /* We are still in charge: our own caps are where they were, we run at our priority. */
    EXPECT_EQ(kt_type(KEEL_SLOT_TCB), KEEL_OBJ_TCB);
    EXPECT_EQ(kt_type(KEEL_SLOT_CNODE), KEEL_OBJ_CNODE);
    EXPECT_EQ(kt_type(KEEL_SLOT_VSPACE), KEEL_OBJ_PML4);
    EXPECT_EQ(kt_type(KEEL_SLOT_DEBUG), KEEL_CAP_DEBUG);
    struct keel_tcb_info self;
    ASSERT_OK(keel_tcb_get_info(KEEL_SLOT_TCB, &self));
    EXPECT_EQ(self.state, KEEL_THREAD_RUNNING);
    EXPECT_EQ(self.priority, kt_child ? self.mcp : KEEL_MAX_PRIORITY); /* a child runs at what init gave it */
    /* Both outcomes happened: the fuzz got past argument checking. */
    EXPECT_TRUE(out.ok > 0);
    EXPECT_TRUE(out.errors[KEEL_E_ILLEGAL_OPERATION] > 0);
    print_outcome(&out);
}

KEEL_TEST(fuzz_invocations_with_garbage)
{
    ASSERT_OK(make_targets(6, false));
    fuzz_run(FUZZ_SEED);
}

/* A second seed, with the fuzz TCB configured so that its invocations get past Configure. */
KEEL_TEST(fuzz_invocations_second_seed)
{
    ASSERT_OK(make_targets(4, true));
    fuzz_run(0x243f6a8885a308d3ull);
}
