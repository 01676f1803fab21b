/* cspace_resolve: guarded multi-level CNode lookup over CNodes built as arrays of struct cte. */
#define CHECK_MAIN
#include "check.h"
#include "object/cspace.h"
#include <stdlib.h>

static struct cap cnode(struct cte *slots, uint8_t radix, uint8_t guard_bits, uint64_t guard)
{
    return (struct cap){ .type = KEEL_OBJ_CNODE, .rights = KEEL_RIGHTS_ALL, .radix = radix,
                         .guard_bits = guard_bits, .obj = (uint64_t)(uintptr_t)slots, .word1 = guard };
}
static struct cap endpoint(uint64_t badge)
{
    return (struct cap){ .type = KEEL_OBJ_ENDPOINT, .rights = KEEL_RIGHTS_ALL, .obj = 0x1234000, .word1 = badge };
}

static struct lookup_fault f;

/* Resolves and expects success at `want`. */
#define CHECK_RESOLVES(root, cptr, depth, exact, want)                                             \
    do {                                                                                           \
        f.failure = 99;                                                                            \
        f.bits_left = 99;                                                                          \
        struct cte *got_ = cspace_resolve((root), (cptr), (depth), (exact), &f);                   \
        CHECK(got_ == (want));                                                                     \
        CHECK_EQ_U64(f.failure, 0);                                                                \
    } while (0)
/* Resolves and expects NULL with the given failure and bits left. */
#define CHECK_FAILS(root, cptr, depth, exact, fail, left)                                          \
    do {                                                                                           \
        struct cte *got_ = cspace_resolve((root), (cptr), (depth), (exact), &f);                   \
        CHECK(got_ == 0);                                                                          \
        CHECK_EQ_U64(f.failure, (fail));                                                           \
        CHECK_EQ_U64(f.bits_left, (left));                                                         \
    } while (0)

TEST(single_level_radix12_guard52)
{
    static struct cte slots[4096];
    memset(slots, 0, sizeof slots);
    struct cap root = cnode(slots, 12, 52, 0);
    for (uint64_t cptr = 0; cptr < 4096; cptr++) {
        CHECK_RESOLVES(&root, cptr, 64, true, &slots[cptr]); /* empty final slots are returned */
        CHECK_RESOLVES(&root, cptr, 64, false, &slots[cptr]);
    }
    slots[77].cap = endpoint(5);
    CHECK_RESOLVES(&root, 77, 64, false, &slots[77]);
    CHECK_RESOLVES(&root, 77, 64, true, &slots[77]);
    /* Any bit above the radix is guard: each one set is a guard mismatch with all 64 bits left. */
    for (unsigned b = 12; b < 64; b++)
        CHECK_FAILS(&root, (1ull << b) | 77, 64, false, KEEL_LOOKUP_GUARD_MISMATCH, 64);
    CHECK_FAILS(&root, ~0ull, 64, true, KEEL_LOOKUP_GUARD_MISMATCH, 64);
}

TEST(depth_equal_to_one_level_without_guard)
{
    static struct cte slots[256];
    memset(slots, 0, sizeof slots);
    struct cap root = cnode(slots, 8, 0, 0);
    for (uint64_t i = 0; i < 256; i++)
        CHECK_RESOLVES(&root, i, 8, true, &slots[i]);
    /* Bits above `depth` are ignored. */
    CHECK_RESOLVES(&root, 0xabcdef00000000ffull, 8, true, &slots[255]);
    /* A depth of exactly the guard + radix with a guard. */
    struct cap g = cnode(slots, 8, 4, 0x9);
    CHECK_RESOLVES(&g, 0x9ab, 12, true, &slots[0xab]);
    CHECK_FAILS(&g, 0x8ab, 12, true, KEEL_LOOKUP_GUARD_MISMATCH, 12);
}

TEST(two_levels)
{
    static struct cte l1[256], l2[256], l2b[16];
    memset(l1, 0, sizeof l1);
    memset(l2, 0, sizeof l2);
    memset(l2b, 0, sizeof l2b);
    /* Root: radix 8, no guard (top 8 bits). Slot 5: radix 8 with a 48-bit guard 0. Slot 9: radix 4,
     * guard 52 bits 0xabc. */
    struct cap root = cnode(l1, 8, 0, 0);
    l1[5].cap = cnode(l2, 8, 48, 0);
    l1[9].cap = cnode(l2b, 4, 52, 0xabc);
    l1[7].cap = endpoint(1);
    l2[0x42].cap = endpoint(2);
    l2b[3].cap = endpoint(3);
    for (uint64_t i = 0; i < 256; i++)
        CHECK_RESOLVES(&root, 5ull << 56 | i, 64, true, &l2[i]);
    CHECK_RESOLVES(&root, 9ull << 56 | 0xabcull << 4 | 3, 64, true, &l2b[3]);
    CHECK_RESOLVES(&root, 9ull << 56 | 0xabcull << 4 | 15, 64, true, &l2b[15]);
    /* Guard mismatch at the second level: 56 bits left there. */
    CHECK_FAILS(&root, 5ull << 56 | 1ull << 30 | 0x42, 64, true, KEEL_LOOKUP_GUARD_MISMATCH, 56);
    CHECK_FAILS(&root, 9ull << 56 | 0xabdull << 4 | 3, 64, false, KEEL_LOOKUP_GUARD_MISMATCH, 56);
    CHECK_FAILS(&root, 5ull << 56 | 1ull << 55, 64, false, KEEL_LOOKUP_GUARD_MISMATCH, 56);
    /* Addressing the CNode slot itself: depth 8 stops at the first level. */
    CHECK_RESOLVES(&root, 5, 8, true, &l1[5]);
    CHECK_RESOLVES(&root, 9, 8, false, &l1[9]);
    /* Capability addressing stops at the endpoint at the first level with 56 bits left over. */
    CHECK_RESOLVES(&root, 7ull << 56 | 0x1234, 64, false, &l1[7]);
    CHECK_FAILS(&root, 7ull << 56 | 0x1234, 64, true, KEEL_LOOKUP_DEPTH_MISMATCH, 56);
    /* An empty slot on the way. */
    CHECK_FAILS(&root, 6ull << 56, 64, false, KEEL_LOOKUP_MISSING_CAP, 56);
    CHECK_FAILS(&root, 6ull << 56, 64, true, KEEL_LOOKUP_MISSING_CAP, 56);
    /* Depth too small for the second level: 56 - 8 bits are not enough for 48 + 8. */
    CHECK_FAILS(&root, 5ull << 40, 48, true, KEEL_LOOKUP_DEPTH_MISMATCH, 40);
    CHECK_FAILS(&root, 5ull << 55, 63, false, KEEL_LOOKUP_DEPTH_MISMATCH, 55);
}

TEST(three_levels_mixed_guards)
{
    static struct cte a[16], b[32], c[64];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(c, 0, sizeof c);
    /* a: guard 3 bits 0b101, radix 4 (7 bits); b: guard 10 bits 0x155, radix 5 (15 bits);
     * c: guard 36 bits 0, radix 6 (42 bits). 7 + 15 + 42 = 64. */
    struct cap root = cnode(a, 4, 3, 5);
    a[0xc].cap = cnode(b, 5, 10, 0x155);
    b[0x11].cap = cnode(c, 6, 36, 0);
    c[0x2a].cap = endpoint(9);
    uint64_t cptr = 5ull << 61 | 0xcull << 57 | 0x155ull << 47 | 0x11ull << 42 | 0x2a;
    CHECK_RESOLVES(&root, cptr, 64, true, &c[0x2a]);
    CHECK_RESOLVES(&root, cptr, 64, false, &c[0x2a]);
    CHECK_RESOLVES(&root, cptr ^ 0x2a ^ 0x3f, 64, true, &c[0x3f]);
    CHECK_RESOLVES(&root, cptr >> 42, 22, true, &b[0x11]); /* the second level's slot */
    CHECK_RESOLVES(&root, cptr >> 57, 7, true, &a[0xc]);
    CHECK_FAILS(&root, cptr ^ 1ull << 62, 64, true, KEEL_LOOKUP_GUARD_MISMATCH, 64);
    CHECK_FAILS(&root, cptr ^ 1ull << 50, 64, true, KEEL_LOOKUP_GUARD_MISMATCH, 57);
    CHECK_FAILS(&root, cptr ^ 1ull << 30, 64, true, KEEL_LOOKUP_GUARD_MISMATCH, 42);
    CHECK_FAILS(&root, cptr ^ 1ull << 43, 64, true, KEEL_LOOKUP_MISSING_CAP, 42); /* b[0x13] is empty */
    CHECK_FAILS(&root, cptr >> 1, 63, true, KEEL_LOOKUP_DEPTH_MISMATCH, 41);
    CHECK_FAILS(&root, cptr >> 30, 34, false, KEEL_LOOKUP_DEPTH_MISMATCH, 12);
}

TEST(depth_out_of_range)
{
    static struct cte slots[4096];
    memset(slots, 0, sizeof slots);
    struct cap root = cnode(slots, 12, 52, 0);
    CHECK_FAILS(&root, 1, 0, true, KEEL_LOOKUP_DEPTH_MISMATCH, 0);
    CHECK_FAILS(&root, 1, 0, false, KEEL_LOOKUP_DEPTH_MISMATCH, 0);
    CHECK_FAILS(&root, 1, 65, false, KEEL_LOOKUP_DEPTH_MISMATCH, 65);
    CHECK_FAILS(&root, 1, 1000, true, KEEL_LOOKUP_DEPTH_MISMATCH, 1000);
    CHECK_FAILS(&root, 1, UINT32_MAX, true, KEEL_LOOKUP_DEPTH_MISMATCH, UINT32_MAX);
    /* Too small for the root's 64 bits. */
    for (uint32_t d = 1; d < 64; d++)
        CHECK_FAILS(&root, 1, d, true, KEEL_LOOKUP_DEPTH_MISMATCH, d);
    /* A root using 12 bits: depths 13..64 leave bits over at an empty slot. */
    struct cap small = cnode(slots, 12, 0, 0);
    CHECK_RESOLVES(&small, 3, 12, true, &slots[3]);
    CHECK_FAILS(&small, 3, 13, true, KEEL_LOOKUP_MISSING_CAP, 1);
    CHECK_FAILS(&small, 3, 64, false, KEEL_LOOKUP_MISSING_CAP, 52);
}

TEST(exact_and_non_exact_at_a_leaf_cap)
{
    static struct cte slots[16];
    memset(slots, 0, sizeof slots);
    struct cap root = cnode(slots, 4, 0, 0);
    slots[2].cap = endpoint(0);
    /* Non-exact (capability addressing): the endpoint is found with bits left over. */
    CHECK_RESOLVES(&root, 2ull << 60 | 0xfff, 64, false, &slots[2]);
    CHECK_RESOLVES(&root, 2ull << 4 | 1, 8, false, &slots[2]);
    /* Exact (slot addressing): the depth does not fit. */
    CHECK_FAILS(&root, 2ull << 60, 64, true, KEEL_LOOKUP_DEPTH_MISMATCH, 60);
    CHECK_FAILS(&root, 2ull << 4, 8, true, KEEL_LOOKUP_DEPTH_MISMATCH, 4);
    /* Exactly consumed: fine both ways. */
    CHECK_RESOLVES(&root, 2, 4, true, &slots[2]);
    CHECK_RESOLVES(&root, 2, 4, false, &slots[2]);
}

TEST(invalid_root)
{
    static struct cte slots[16];
    struct cap null = { 0 }, ep = endpoint(1);
    struct cap ut = { .type = KEEL_OBJ_UNTYPED, .obj = (uint64_t)(uintptr_t)slots, .word1 = 4096 };
    CHECK_FAILS(&null, 0, 64, false, KEEL_LOOKUP_INVALID_ROOT, 64);
    CHECK_FAILS(&ep, 0, 64, true, KEEL_LOOKUP_INVALID_ROOT, 64);
    CHECK_FAILS(&ut, 5, 12, true, KEEL_LOOKUP_INVALID_ROOT, 12);
    CHECK_FAILS(&ep, 0, 0, true, KEEL_LOOKUP_INVALID_ROOT, 0); /* the root is checked first */
    CHECK_FAILS(&ep, 0, 99, true, KEEL_LOOKUP_INVALID_ROOT, 99);
}

TEST(guard_fills_the_rest_for_every_radix)
{
    /* guard_bits = 64 - radix, a guard with alternating bits, radix 1..20. */
    struct cte *slots = calloc(1u << 20, sizeof *slots);
    CHECK(slots != 0);
    if (!slots)
        return;
    for (uint8_t radix = 1; radix <= 20; radix++) {
        uint8_t gb = (uint8_t)(64 - radix);
        uint64_t guard = 0x5555555555555555ull & ((1ull << gb) - 1);
        struct cap root = cnode(slots, radix, gb, guard);
        uint64_t n = 1ull << radix;
        uint64_t idx[] = { 0, 1, n / 2, n - 2, n - 1 };
        for (unsigned k = 0; k < 5; k++) {
            uint64_t cptr = guard << radix | idx[k];
            CHECK_RESOLVES(&root, cptr, 64, true, &slots[idx[k]]);
            CHECK_RESOLVES(&root, cptr, 64, false, &slots[idx[k]]);
        }
        for (unsigned b = radix; b < 64; b++)
            CHECK_FAILS(&root, (guard << radix) ^ (1ull << b), 64, true, KEEL_LOOKUP_GUARD_MISMATCH, 64);
        CHECK_FAILS(&root, guard << radix, 63, true, KEEL_LOOKUP_DEPTH_MISMATCH, 63);
    }
    free(slots);
}

TEST(guard_of_64_bits_and_radix_0_edge)
{
    /* Not something Mint allows for a real CNode (radix >= 1), but the walk must stay defined:
     * a 64-bit guard consumes the whole cptr and selects slot 0. */
    static struct cte slots[2];
    memset(slots, 0, sizeof slots);
    struct cap root = cnode(slots, 0, 64, 0xfedcba9876543210ull);
    CHECK_RESOLVES(&root, 0xfedcba9876543210ull, 64, true, &slots[0]);
    CHECK_FAILS(&root, 0xfedcba9876543211ull, 64, true, KEEL_LOOKUP_GUARD_MISMATCH, 64);
    /* Neither guard nor radix: no progress is possible, a depth mismatch (not a loop). */
    struct cap empty = cnode(slots, 0, 0, 0);
    CHECK_FAILS(&empty, 0, 64, false, KEEL_LOOKUP_DEPTH_MISMATCH, 64);
    /* A guard wider than 64 - radix can never fit. */
    struct cap wide = cnode(slots, 1, 64, 0);
    CHECK_FAILS(&wide, 0, 64, false, KEEL_LOOKUP_DEPTH_MISMATCH, 64);
}

TEST(radix_20_full_range)
{
    struct cte *slots = calloc(1u << 20, sizeof *slots);
    CHECK(slots != 0);
    if (!slots)
        return;
    struct cap root = cnode(slots, 20, 44, 0);
    int bad = 0;
    for (uint64_t i = 0; i < (1u << 20); i += 4099) {
        struct cte *got = cspace_resolve(&root, i, 64, true, &f);
        bad += got != &slots[i] || f.failure;
    }
    CHECK_EQ_U64(bad, 0);
    CHECK_RESOLVES(&root, (1u << 20) - 1, 64, true, &slots[(1u << 20) - 1]);
    CHECK_FAILS(&root, 1u << 20, 64, true, KEEL_LOOKUP_GUARD_MISMATCH, 64);
    free(slots);
}

TEST(cnode_cycle_terminates)
{
    /* A CNode holding a cap to itself: every level consumes 4 bits, so depth 64 takes 16 levels. */
    static struct cte slots[16];
    memset(slots, 0, sizeof slots);
    struct cap root = cnode(slots, 4, 0, 0);
    for (int i = 0; i < 16; i++)
        slots[i].cap = root;
    CHECK_RESOLVES(&root, 0x0123456789abcdefull, 64, true, &slots[0xf]);
    CHECK_RESOLVES(&root, 0x0123456789abcdefull, 60, false, &slots[0xf]);
    CHECK_RESOLVES(&root, 0x0123456789abcdeeull, 64, false, &slots[0xe]);
    CHECK_FAILS(&root, 0, 62, true, KEEL_LOOKUP_DEPTH_MISMATCH, 2);
    /* A guard of 3 bits on top: 7 bits a level, 64 = 9*7 + 1 leaves a bit. */
    struct cap g = cnode(slots, 4, 3, 0);
    for (int i = 0; i < 16; i++)
        slots[i].cap = g;
    CHECK_FAILS(&g, 0, 64, true, KEEL_LOOKUP_DEPTH_MISMATCH, 1);
    CHECK_RESOLVES(&g, 0x5, 63, true, &slots[5]);
    CHECK_FAILS(&g, 1ull << 60, 63, true, KEEL_LOOKUP_GUARD_MISMATCH, 63);
}

/* A reference resolver written as bit-string consumption, compared on random trees. */
static struct cte *ref_resolve(const struct cap *root, uint64_t cptr, uint32_t depth, bool exact, uint32_t *fail,
                               uint32_t *left_out)
{
    *fail = 0;
    *left_out = depth;
    if (root->type != KEEL_OBJ_CNODE) {
        *fail = KEEL_LOOKUP_INVALID_ROOT;
        return 0;
    }
    if (depth < 1 || depth > 64) {
        *fail = KEEL_LOOKUP_DEPTH_MISMATCH;
        return 0;
    }
    /* The bits to resolve, most significant first, as characters. */
    char bits[65];
    for (uint32_t i = 0; i < depth; i++)
        bits[i] = (char)('0' + ((cptr >> (depth - 1 - i)) & 1));
    uint32_t pos = 0;
    const struct cap *n = root;
    for (;;) {
        uint32_t left = depth - pos;
        *left_out = left;
        if (n->guard_bits + n->radix == 0 || n->guard_bits + n->radix > left) {
            *fail = KEEL_LOOKUP_DEPTH_MISMATCH;
            return 0;
        }
        for (uint32_t i = 0; i < n->guard_bits; i++)
            if (bits[pos + i] - '0' != (int)((n->word1 >> (n->guard_bits - 1 - i)) & 1)) {
                *fail = KEEL_LOOKUP_GUARD_MISMATCH;
                return 0;
            }
        pos += n->guard_bits;
        uint64_t index = 0;
        for (uint32_t i = 0; i < n->radix; i++)
            index = index << 1 | (uint64_t)(bits[pos + i] - '0');
        pos += n->radix;
        struct cte *slot = (struct cte *)(uintptr_t)n->obj + index;
        if (pos == depth)
            return slot;
        *left_out = depth - pos;
        if (slot->cap.type == KEEL_CAP_NULL) {
            *fail = KEEL_LOOKUP_MISSING_CAP;
            return 0;
        }
        if (slot->cap.type != KEEL_OBJ_CNODE) {
            if (exact) {
                *fail = KEEL_LOOKUP_DEPTH_MISMATCH;
                return 0;
            }
            return slot;
        }
        n = &slot->cap;
    }
}

static uint64_t rng = 0x853c49e6748fea9bull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

TEST(random_trees_match_reference)
{
    /* Eight CNodes of radix 1..5 with random small guards; slots hold CNode caps (any of the
     * eight, cycles included), endpoints, or nothing. */
    enum { NODES = 8 };
    static struct cte nodes[NODES][32];
    static struct cap caps[NODES];
    unsigned mismatches = 0, found = 0, failures[5] = { 0 };
    for (int round = 0; round < 200; round++) {
        memset(nodes, 0, sizeof nodes);
        for (int n = 0; n < NODES; n++) {
            uint8_t radix = (uint8_t)(1 + rnd() % 5), gb = (uint8_t)(rnd() % 4);
            caps[n] = cnode(nodes[n], radix, gb, gb ? rnd() & ((1u << gb) - 1) : 0);
        }
        for (int n = 0; n < NODES; n++)
            for (int i = 0; i < 32; i++) {
                unsigned k = (unsigned)(rnd() % 8);
                if (k < 4)
                    nodes[n][i].cap = caps[rnd() % NODES];
                else if (k < 6)
                    nodes[n][i].cap = endpoint(i);
            }
        for (int q = 0; q < 500; q++) {
            /* Cptrs built from guard-matching paths half of the time, random otherwise. */
            uint64_t cptr = rnd();
            uint32_t depth = (uint32_t)(rnd() % 70);
            if (rnd() % 2) {
                const struct cap *n = &caps[0];
                uint32_t used = 0;
                cptr = 0;
                while (used < 64 && n->type == KEEL_OBJ_CNODE && used + n->guard_bits + n->radix <= 64) {
                    uint64_t idx = rnd() & ((1u << n->radix) - 1);
                    cptr = cptr << (n->guard_bits + n->radix) | n->word1 << n->radix | idx;
                    used += n->guard_bits + n->radix;
                    n = &((struct cte *)(uintptr_t)n->obj)[idx].cap;
                    if (rnd() % 4 == 0)
                        break;
                }
                depth = used ? used : 1;
            }
            bool exact = rnd() % 2;
            uint32_t rf, rl;
            struct cte *want = ref_resolve(&caps[0], cptr, depth, exact, &rf, &rl);
            struct cte *got = cspace_resolve(&caps[0], cptr, depth, exact, &f);
            if (got != want || f.failure != rf || (rf && f.bits_left != rl)) {
                if (mismatches++ < 5)
                    check_fail(__FILE__, __LINE__,
                               "cptr 0x%" PRIx64 " depth %u exact %d: got %p fail %u left %u, want %p fail %u left %u",
                               cptr, depth, exact, (void *)got, f.failure, f.bits_left, (void *)want, rf, rl);
            }
            found += want != 0;
            failures[rf]++;
        }
    }
    printf("    %u resolved, failures: guard %u, missing %u, depth %u\n", found,
           failures[KEEL_LOOKUP_GUARD_MISMATCH], failures[KEEL_LOOKUP_MISSING_CAP],
           failures[KEEL_LOOKUP_DEPTH_MISMATCH]);
    CHECK(found > 1000);
    CHECK(failures[KEEL_LOOKUP_GUARD_MISMATCH] > 1000 && failures[KEEL_LOOKUP_MISSING_CAP] > 1000 &&
          failures[KEEL_LOOKUP_DEPTH_MISMATCH] > 1000);
}
