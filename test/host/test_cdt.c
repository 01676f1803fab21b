/* cdt: the capability derivation tree. Trees of struct cte are built in an array; after every
 * operation the whole tree is validated from cdt_root (links, reachability, one subtree per
 * object) and finality is checked against what the scenario says. */
#define CHECK_MAIN
#include "cdt_tree.h"
#include "check.h"
#include "object/cdt.h"

#define N 32
static struct cte s[N];

static void reset(void)
{
    memset(s, 0, sizeof s);
    memset(&cdt_root, 0, sizeof cdt_root);
}

/* An object cap (an endpoint; `id` names the object) and an Untyped cap. */
static struct cap obj(uint64_t id)
{
    return (struct cap){ .type = KEEL_OBJ_ENDPOINT, .rights = KEEL_RIGHTS_ALL, .obj = 0x10000 + id * 64 };
}
static struct cap ut(uint64_t base, uint64_t size)
{
    return (struct cap){ .type = KEEL_OBJ_UNTYPED, .rights = KEEL_RIGHTS_ALL, .obj = base, .word1 = size };
}

/* Puts `c` into s[i] as the newest child of `parent` (NULL: the root). */
static struct cte *put(struct cte *parent, int i, struct cap c)
{
    s[i].cap = c;
    cdt_insert(parent, &s[i]);
    return &s[i];
}
static struct cte *copy(struct cte *src, int i) { return put(src, i, src->cap); }

#define IDX(p) cdt_tree_index(s, N, (p))
#define CHECK_PARENT(i, p) CHECK_EQ_U64((int64_t)IDX(s[i].parent), (int64_t)(p))
#define ROOT (-1)
#define NONE (-2)
/* The child list of `p` (NULL: the root), as indices, into out; returns the count. */
static int children(const struct cte *p, int *out)
{
    int k = 0;
    for (const struct cte *c = (p ? p : &cdt_root)->first_child; c && k < N; c = c->next)
        out[k++] = IDX(c);
    return k;
}
#define CHECK_CHILDREN(p, ...)                                                                     \
    do {                                                                                           \
        const int want_[] = { __VA_ARGS__ };                                                       \
        int got_[N], n_ = children((p), got_);                                                     \
        CHECK_EQ_U64(n_, sizeof want_ / sizeof want_[0]);                                          \
        for (int k_ = 0; k_ < n_ && k_ < (int)(sizeof want_ / sizeof want_[0]); k_++)              \
            CHECK_EQ_U64((int64_t)got_[k_], (int64_t)want_[k_]);                                   \
    } while (0)
#define CHECK_NO_CHILDREN(p) CHECK(!(p ? (struct cte *)(p) : &cdt_root)->first_child)
static bool slot_empty(int i)
{
    static const struct cte zero;
    return memcmp(&s[i], &zero, sizeof zero) == 0;
}

/* ---- insertion and object identity ---- */

TEST(insert_links_newest_first)
{
    reset();
    struct cte *a = put(0, 0, obj(1));
    put(0, 1, obj(2));
    CHECK_CHILDREN(0, 1, 0);
    CHECK(a->parent == &cdt_root);
    copy(a, 2);
    copy(a, 3);
    copy(&s[2], 4);
    CHECK_CHILDREN(a, 3, 2);
    CHECK_CHILDREN(&s[2], 4);
    CHECK_PARENT(4, 2);
    CHECK(s[3].prev == 0 && s[3].next == &s[2] && s[2].prev == &s[3] && s[2].next == 0);
    CHECK(cdt_has_children(a) && !cdt_has_children(&s[3]));
    CHECK_TREE(s, N);
}

TEST(insert_resets_stale_child_link)
{
    reset();
    put(0, 0, obj(1));
    s[1].first_child = &s[5]; /* garbage from an earlier life must not survive */
    copy(&s[0], 1);
    CHECK(s[1].first_child == 0);
    CHECK_TREE(s, N);
}

TEST(same_object_rules)
{
    struct cap a = obj(1), b = obj(1), c = obj(2);
    CHECK(cap_same_object(&a, &b));
    CHECK(!cap_same_object(&a, &c));
    b.word1 = 42; /* a badge (mint) does not make another object */
    b.rights = KEEL_RIGHT_READ;
    CHECK(cap_same_object(&a, &b));
    struct cap n = a;
    n.type = KEEL_OBJ_NOTIFICATION; /* same address, other type */
    CHECK(!cap_same_object(&a, &n));
    struct cap u1 = ut(0x100000, 0x100000), u2 = ut(0x100000, 0x1000), u3 = ut(0x100000, 0x100000);
    CHECK(!cap_same_object(&u1, &u2)); /* parent and child region with one base */
    CHECK(cap_same_object(&u1, &u3));
    u3.word2 = 0x2000; /* the watermark is not part of the identity */
    CHECK(cap_same_object(&u1, &u3));
    struct cap f = { .type = KEEL_OBJ_FRAME_4K, .obj = 0x100000 };
    CHECK(!cap_same_object(&u1, &f)); /* a frame at the untyped's base */
}

/* ---- finality ---- */

TEST(final_single_cap)
{
    reset();
    put(0, 0, obj(1));
    CHECK(cdt_is_final(&s[0]));
    put(0, 1, obj(1 + 1));
    CHECK(cdt_is_final(&s[0]) && cdt_is_final(&s[1]));
}

TEST(final_original_and_copies)
{
    reset();
    struct cte *o = put(0, 0, obj(7));
    copy(o, 1);
    copy(o, 2);
    copy(&s[1], 3);
    for (int i = 0; i < 4; i++)
        CHECK(!cdt_is_final(&s[i]));
    /* Delete copies leaf first: the last one standing is final. */
    cdt_remove(&s[3]);
    CHECK(slot_empty(3));
    CHECK_TREE(s, N);
    CHECK(!cdt_is_final(&s[1]));
    cdt_remove(&s[1]);
    CHECK_TREE(s, N);
    CHECK(!cdt_is_final(o) && !cdt_is_final(&s[2]));
    cdt_remove(&s[2]);
    CHECK_TREE(s, N);
    CHECK(cdt_is_final(o));
    CHECK_NO_CHILDREN(o);
    cdt_remove(o);
    CHECK(slot_empty(0));
    CHECK_NO_CHILDREN(0);
    CHECK_TREE(s, N);
}

TEST(final_ignores_other_objects_around)
{
    reset();
    struct cte *u = put(0, 0, ut(0x200000, 0x10000));
    struct cte *e = put(u, 1, obj(1));
    put(u, 2, obj(2));
    copy(&s[2], 3);
    CHECK(cdt_is_final(u)); /* children of other objects do not count */
    CHECK(cdt_is_final(e)); /* nor does a parent of another object */
    CHECK(!cdt_is_final(&s[2]) && !cdt_is_final(&s[3]));
    CHECK_TREE(s, N);
}

/* ---- removal ---- */

TEST(remove_original_heir_takes_its_place)
{
    reset();
    put(0, 10, obj(100)); /* a neighbour under the root */
    struct cte *o = put(0, 0, obj(1));
    copy(o, 1);           /* older copy */
    copy(&s[1], 4);       /* grandchild under the older copy */
    copy(o, 2);           /* newest copy: first in the list, so the heir */
    copy(&s[2], 3);
    CHECK_CHILDREN(o, 2, 1);
    cdt_remove(o);
    CHECK(slot_empty(0));
    CHECK_TREE(s, N);
    CHECK_PARENT(2, ROOT); /* the heir is where the original was */
    CHECK_PARENT(1, 2);    /* the other copy went under the heir */
    CHECK_PARENT(3, 2);    /* the heir kept its own children */
    CHECK_PARENT(4, 1);    /* grandchildren stay with their parent */
    CHECK_PARENT(10, ROOT);
    for (int i = 1; i <= 4; i++)
        CHECK(!cdt_is_final(&s[i])); /* the object lives on */
    CHECK(cdt_is_final(&s[10]));
}

TEST(remove_middle_copy)
{
    reset();
    struct cte *o = put(0, 0, obj(1));
    struct cte *c1 = copy(o, 1);
    copy(o, 2);
    copy(c1, 3);
    copy(c1, 4);
    copy(&s[3], 5);
    cdt_remove(c1);
    CHECK_TREE(s, N);
    CHECK_PARENT(4, 0); /* heir: c1's newest child, now under o */
    CHECK_PARENT(3, 4);
    CHECK_PARENT(5, 3);
    CHECK_PARENT(2, 0);
    CHECK(!cdt_is_final(o));
}

TEST(remove_untyped_reparents_objects_to_its_parent)
{
    reset();
    struct cte *big = put(0, 0, ut(0x400000, 0x400000));
    struct cte *u = put(big, 1, ut(0x400000, 0x200000)); /* child region, same base */
    put(big, 9, ut(0x600000, 0x200000));
    put(u, 2, obj(1));
    put(u, 3, obj(2));
    copy(&s[2], 4);
    CHECK(cdt_is_final(big) && cdt_is_final(u));
    CHECK_TREE(s, N);

    cdt_remove(u);
    CHECK(slot_empty(1));
    CHECK_TREE(s, N);
    CHECK_PARENT(2, 0);
    CHECK_PARENT(3, 0);
    CHECK_PARENT(4, 2);
    CHECK_PARENT(9, 0);
    CHECK(cdt_is_final(big));
    CHECK(!cdt_is_final(&s[2]) && cdt_is_final(&s[3]));

    /* The top-level untyped goes too: its objects move to the root. */
    cdt_remove(big);
    CHECK_TREE(s, N);
    CHECK_PARENT(2, ROOT);
    CHECK_PARENT(3, ROOT);
    CHECK_PARENT(9, ROOT);
    CHECK_PARENT(4, 2);
}

TEST(remove_keeps_sibling_lists_intact)
{
    reset();
    struct cte *p = put(0, 0, ut(0x100000, 0x100000));
    for (int i = 1; i <= 5; i++)
        put(p, i, obj((uint64_t)i));
    /* Remove the middle, the head and the tail of the child list. */
    cdt_remove(&s[3]);
    CHECK_TREE(s, N);
    CHECK_CHILDREN(p, 5, 4, 2, 1);
    cdt_remove(&s[5]);
    CHECK_TREE(s, N);
    CHECK_CHILDREN(p, 4, 2, 1);
    cdt_remove(&s[1]);
    CHECK_TREE(s, N);
    CHECK_CHILDREN(p, 4, 2);
}

/* The header's contract: a copy of the same object takes the removed slot's place, children of
 * other objects move up. Here the heir is not the first child of the removed slot (an Untyped
 * cap with an object made from it after its same-region copy). */
TEST(remove_heir_not_first_child_parent_has_no_other_children)
{
    reset();
    struct cte *p = put(0, 0, ut(0x100000, 0x200000));
    struct cte *x = put(p, 1, ut(0x100000, 0x100000));
    put(x, 4, obj(3));     /* other object, oldest */
    copy(x, 2);            /* same object: the heir */
    put(x, 3, obj(2));     /* other object, newest: first in the list */
    CHECK_CHILDREN(x, 3, 2, 4);
    CHECK_TREE(s, N);
    cdt_remove(x);
    CHECK(slot_empty(1));
    if (!CHECK_TREE(s, N))
        return;
    CHECK_PARENT(2, 0); /* the heir takes x's place */
    CHECK_PARENT(3, 0); /* other objects move up to x's parent */
    CHECK_PARENT(4, 0);
    CHECK(cdt_is_final(&s[2]));
}

TEST(remove_heir_not_first_child_parent_has_other_children)
{
    reset();
    struct cte *p = put(0, 0, ut(0x100000, 0x200000));
    put(p, 5, obj(9));     /* x's sibling */
    struct cte *x = put(p, 1, ut(0x100000, 0x100000));
    copy(x, 2);            /* the heir */
    put(x, 3, obj(2));     /* first in the list */
    CHECK_CHILDREN(p, 1, 5);
    CHECK_CHILDREN(x, 3, 2);
    cdt_remove(x);
    if (!CHECK_TREE(s, N))
        return;
    CHECK_PARENT(2, 0);
    CHECK_PARENT(3, 0);
    CHECK_PARENT(5, 0);
    int got[N];
    CHECK_EQ_U64(children(p, got), 3);
}

TEST(remove_twice_from_the_top_with_objects)
{
    /* An Untyped with two copies of itself at the bottom of a chain (a full-size child region is
     * the same region) and objects under the last one: deleting from the top keeps one subtree. */
    reset();
    struct cte *u = put(0, 0, ut(0x100000, 0x100000));
    struct cte *u2 = put(u, 1, ut(0x100000, 0x100000));
    put(u2, 2, obj(1));
    put(u2, 3, obj(2));
    CHECK(!cdt_is_final(u) && !cdt_is_final(u2));
    cdt_remove(u);
    CHECK_TREE(s, N);
    CHECK_PARENT(1, ROOT);
    CHECK_CHILDREN(u2, 3, 2);
    CHECK(cdt_is_final(u2));
    cdt_remove(u2);
    CHECK_TREE(s, N);
    CHECK_PARENT(2, ROOT);
    CHECK_PARENT(3, ROOT);
}

/* ---- revoke: delete leaves until the top has no descendants ---- */

TEST(descendant_leaf_follows_first_children)
{
    reset();
    struct cte *o = put(0, 0, obj(1));
    CHECK(cdt_descendant_leaf(o) == 0);
    copy(o, 1);
    copy(o, 2);
    copy(&s[2], 3);
    copy(&s[3], 4);
    CHECK(cdt_descendant_leaf(o) == &s[4]);
    CHECK(cdt_descendant_leaf(&s[1]) == 0);
    CHECK(cdt_descendant_leaf(&cdt_root) == &s[4]);
}

static bool is_descendant(const struct cte *d, const struct cte *top)
{
    for (const struct cte *p = d->parent; p; p = p->parent)
        if (p == top)
            return true;
    return false;
}

TEST(revoke_loop_deletes_every_descendant)
{
    reset();
    struct cte *keep = put(0, 20, obj(50));
    copy(keep, 21);
    struct cte *u = put(0, 0, ut(0x800000, 0x100000));
    put(u, 1, obj(1));
    copy(&s[1], 2);
    copy(&s[2], 3);
    copy(&s[1], 4);
    struct cte *sub = put(u, 5, ut(0x800000, 0x10000));
    put(sub, 6, obj(2));
    put(sub, 7, obj(3));
    copy(&s[7], 8);
    CHECK_TREE(s, N);
    int removed = 0;
    struct cte *leaf;
    while ((leaf = cdt_descendant_leaf(u)) && removed < N) {
        CHECK(is_descendant(leaf, u));
        CHECK(!cdt_has_children(leaf));
        cdt_remove(leaf);
        removed++;
        if (!CHECK_TREE(s, N))
            return;
    }
    CHECK_EQ_U64(removed, 8);
    CHECK_NO_CHILDREN(u);
    CHECK(cdt_is_final(u));
    for (int i = 1; i <= 8; i++)
        CHECK(slot_empty(i));
    CHECK_PARENT(21, 20); /* unrelated subtrees are untouched */
    CHECK(!cdt_is_final(keep));
}

/* ---- move ---- */

TEST(move_takes_over_place_and_children)
{
    reset();
    struct cte *p = put(0, 0, obj(1));
    copy(p, 1);
    copy(p, 2);
    copy(p, 3); /* list: 3 2 1 */
    copy(&s[2], 4);
    copy(&s[2], 5);
    cdt_move(&s[2], &s[10]); /* middle of the list, with children */
    CHECK(slot_empty(2));
    CHECK_TREE(s, N);
    CHECK_CHILDREN(p, 3, 10, 1);
    CHECK_CHILDREN(&s[10], 5, 4);
    CHECK_EQ_U64(s[10].cap.obj, obj(1).obj);
    cdt_move(&s[3], &s[11]); /* head of the list */
    CHECK_TREE(s, N);
    CHECK_CHILDREN(p, 11, 10, 1);
    cdt_move(&s[1], &s[12]); /* tail */
    CHECK_TREE(s, N);
    CHECK_CHILDREN(p, 11, 10, 12);
    cdt_move(p, &s[13]); /* a top-level slot with children */
    CHECK_TREE(s, N);
    CHECK_CHILDREN(0, 13);
    CHECK_CHILDREN(&s[13], 11, 10, 12);
    cdt_move(&s[13], &s[13]); /* onto itself: nothing happens */
    CHECK_TREE(s, N);
    CHECK_CHILDREN(&s[13], 11, 10, 12);
    CHECK(!cdt_is_final(&s[13]));
}

TEST(move_keeps_finality)
{
    reset();
    put(0, 0, obj(1));
    cdt_move(&s[0], &s[1]);
    CHECK(cdt_is_final(&s[1]));
    copy(&s[1], 2);
    cdt_move(&s[2], &s[3]);
    CHECK(!cdt_is_final(&s[1]) && !cdt_is_final(&s[3]));
    CHECK_TREE(s, N);
}

/* ---- swap ---- */

/* A fixed shape: root: 0(u) -> [3 2 1]; 1 -> [5 4]; 2 -> [6]; root also has 7 (obj 9). */
static void shape(void)
{
    reset();
    put(0, 7, obj(9));
    struct cte *u = put(0, 0, ut(0x100000, 0x100000));
    put(u, 1, obj(1));
    put(u, 2, obj(2));
    put(u, 3, obj(3));
    copy(&s[1], 4);
    copy(&s[1], 5);
    copy(&s[2], 6);
}

TEST(swap_unrelated_slots)
{
    shape();
    cdt_swap(&s[4], &s[6]);
    CHECK_TREE(s, N);
    CHECK_EQ_U64(s[4].cap.obj, obj(2).obj);
    CHECK_EQ_U64(s[6].cap.obj, obj(1).obj);
    CHECK_PARENT(4, 2);
    CHECK_PARENT(6, 1);
    CHECK_CHILDREN(&s[1], 5, 6);
}

TEST(swap_adjacent_siblings_both_orders)
{
    shape();
    cdt_swap(&s[3], &s[2]); /* 3 is just before 2 */
    CHECK_TREE(s, N);
    CHECK_CHILDREN(&s[0], 2, 3, 1);
    CHECK_CHILDREN(&s[3], 6); /* the children went with the cap */
    CHECK_EQ_U64(s[3].cap.obj, obj(2).obj);
    cdt_swap(&s[1], &s[3]); /* 1 is just after 3 */
    CHECK_TREE(s, N);
    CHECK_CHILDREN(&s[0], 2, 1, 3);
    CHECK_CHILDREN(&s[3], 5, 4);
    CHECK_CHILDREN(&s[1], 6);
}

TEST(swap_distant_siblings)
{
    shape();
    cdt_swap(&s[3], &s[1]);
    CHECK_TREE(s, N);
    CHECK_CHILDREN(&s[0], 1, 2, 3);
    CHECK_CHILDREN(&s[3], 5, 4);
}

TEST(swap_parent_and_child_both_orders)
{
    shape();
    cdt_swap(&s[1], &s[4]); /* parent first */
    CHECK_TREE(s, N);
    CHECK_PARENT(4, 0);
    CHECK_PARENT(1, 4);
    CHECK_CHILDREN(&s[4], 5, 1);
    CHECK_NO_CHILDREN(&s[1]);
    cdt_swap(&s[1], &s[4]); /* child first: back as it was */
    CHECK_TREE(s, N);
    CHECK_PARENT(1, 0);
    CHECK_CHILDREN(&s[1], 5, 4);
    CHECK_CHILDREN(&s[0], 3, 2, 1);

    cdt_swap(&s[0], &s[2]); /* the untyped and an object made from it */
    CHECK_TREE(s, N);
    CHECK_EQ_U64(s[2].cap.type, KEEL_OBJ_UNTYPED);
    CHECK_PARENT(2, ROOT);
    CHECK_CHILDREN(&s[2], 3, 0, 1);
    CHECK_CHILDREN(&s[0], 6);
    CHECK(cdt_is_final(&s[2]));
}

TEST(swap_grandparent_and_grandchild)
{
    shape();
    cdt_swap(&s[0], &s[5]);
    CHECK_TREE(s, N);
    CHECK_PARENT(5, ROOT);
    CHECK_PARENT(0, 1);
    CHECK_CHILDREN(&s[1], 0, 4);
    CHECK_CHILDREN(&s[5], 3, 2, 1);
}

TEST(swap_with_empty_slot_and_itself)
{
    shape();
    cdt_swap(&s[2], &s[20]);
    CHECK(slot_empty(2));
    CHECK_TREE(s, N);
    CHECK_CHILDREN(&s[0], 3, 20, 1);
    CHECK_CHILDREN(&s[20], 6);
    cdt_swap(&s[21], &s[20]);
    CHECK_TREE(s, N);
    CHECK_CHILDREN(&s[0], 3, 21, 1);
    cdt_swap(&s[21], &s[21]);
    CHECK_TREE(s, N);
    CHECK_CHILDREN(&s[0], 3, 21, 1);
    cdt_swap(&s[22], &s[23]); /* two empty slots */
    CHECK(slot_empty(22) && slot_empty(23));
    CHECK_TREE(s, N);
}

/* ---- randomized: a model of which slot holds which object and who is whose parent ---- */

#define RN 48
static struct cte r[RN];
static uint32_t mobj[RN];   /* object id, 0 = empty */
static bool mut[RN];        /* the object is an Untyped region */
static int mpar[RN];        /* model parent: index, ROOT or NONE */
static uint32_t next_id;
static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Some copies carry a badge: still the same object. */
static struct cap model_cap(uint32_t id, bool untyped, uint64_t badge)
{
    if (untyped)
        return ut((uint64_t)id << 24, 1ull << 20);
    struct cap c = obj(id);
    c.word1 = badge;
    return c;
}

static int pick(bool occupied)
{
    int start = (int)(rnd() % RN);
    for (int k = 0; k < RN; k++) {
        int i = (start + k) % RN;
        if ((mobj[i] != 0) == occupied)
            return i;
    }
    return -1;
}

static unsigned holders(uint32_t id)
{
    unsigned n = 0;
    for (int i = 0; i < RN; i++)
        n += mobj[i] == id;
    return n;
}

static bool model_agrees(uint32_t op, const char *what)
{
    if (!cdt_tree_check(r, RN, __FILE__, __LINE__)) {
        printf("    after op %u (%s)\n", op, what);
        return false;
    }
    for (int i = 0; i < RN; i++) {
        int p = cdt_tree_index(r, RN, r[i].parent);
        if (!mobj[i]) {
            if (r[i].cap.type != KEEL_CAP_NULL) {
                check_fail(__FILE__, __LINE__, "op %u (%s): slot %d should be empty", op, what, i);
                return false;
            }
            continue;
        }
        struct cap want = model_cap(mobj[i], mut[i], 0);
        if (r[i].cap.type != want.type || r[i].cap.obj != want.obj) {
            check_fail(__FILE__, __LINE__, "op %u (%s): slot %d holds the wrong cap", op, what, i);
            return false;
        }
        if (p != mpar[i]) {
            check_fail(__FILE__, __LINE__, "op %u (%s): slot %d: parent %d, model says %d", op, what, i, p,
                       mpar[i]);
            return false;
        }
        bool final = holders(mobj[i]) == 1;
        if (cdt_is_final(&r[i]) != final) {
            check_fail(__FILE__, __LINE__, "op %u (%s): slot %d: cdt_is_final %d, model %d (%u holders)", op,
                       what, i, !final, final, holders(mobj[i]));
            return false;
        }
    }
    return true;
}

static void model_remove(int i)
{
    int heir = -1;
    for (const struct cte *c = r[i].first_child; c; c = c->next)
        if (cap_same_object(&c->cap, &r[i].cap)) {
            heir = cdt_tree_index(r, RN, c);
            break;
        }
    for (int j = 0; j < RN; j++) {
        if (mobj[j] == 0 || mpar[j] != i)
            continue;
        if (j == heir)
            mpar[j] = mpar[i];
        else if (heir >= 0 && mobj[j] == mobj[i])
            mpar[j] = heir;
        else
            mpar[j] = mpar[i];
    }
    cdt_remove(&r[i]);
    mobj[i] = 0;
    mpar[i] = NONE;
}

static int remap(int p, int a, int b) { return p == a ? b : p == b ? a : p; }

/* kernel_shapes: only Untyped caps have objects made from them and they are never copied, as
 * in the kernel (cap_derivable); otherwise any cap may be copied and have other objects below. */
static void random_ops(uint64_t seed, uint32_t ops, bool kernel_shapes)
{
    memset(r, 0, sizeof r);
    memset(&cdt_root, 0, sizeof cdt_root);
    memset(mobj, 0, sizeof mobj);
    for (int i = 0; i < RN; i++)
        mpar[i] = NONE;
    next_id = 1;
    rng = seed;
    uint32_t counts[7] = { 0 };
    for (uint32_t op = 0; op < ops; op++) {
        uint32_t kind = (uint32_t)(rnd() % 100);
        const char *what = "?";
        if (kind < 10) { /* a new object at the top */
            int d = pick(false);
            if (d < 0)
                continue;
            mobj[d] = next_id++;
            mut[d] = rnd() % 2;
            r[d].cap = model_cap(mobj[d], mut[d], rnd() & 3);
            cdt_insert(rnd() % 2 ? 0 : &cdt_root, &r[d]);
            mpar[d] = ROOT;
            what = "new";
            counts[0]++;
        } else if (kind < 35) { /* copy */
            int src = pick(true), d = pick(false);
            if (src < 0 || d < 0 || (kernel_shapes && mut[src]))
                continue;
            mobj[d] = mobj[src];
            mut[d] = mut[src];
            r[d].cap = model_cap(mobj[d], mut[d], rnd() & 3);
            cdt_insert(&r[src], &r[d]);
            mpar[d] = src;
            what = "copy";
            counts[1]++;
        } else if (kind < 50) { /* an object made from src */
            int src = pick(true), d = pick(false);
            if (src < 0 || d < 0 || (kernel_shapes && !mut[src]))
                continue;
            mobj[d] = next_id++;
            mut[d] = rnd() % 3 == 0;
            r[d].cap = model_cap(mobj[d], mut[d], rnd() & 3);
            cdt_insert(&r[src], &r[d]);
            mpar[d] = src;
            what = "derive";
            counts[2]++;
        } else if (kind < 70) { /* delete */
            int i = pick(true);
            if (i < 0)
                continue;
            model_remove(i);
            what = "remove";
            counts[3]++;
        } else if (kind < 80) { /* move to an empty slot */
            int a = pick(true), b = pick(false);
            if (a < 0 || b < 0)
                continue;
            cdt_move(&r[a], &r[b]);
            mobj[b] = mobj[a];
            mut[b] = mut[a];
            mpar[b] = mpar[a];
            mobj[a] = 0;
            mpar[a] = NONE;
            for (int j = 0; j < RN; j++)
                if (mpar[j] == a)
                    mpar[j] = b;
            what = "move";
            counts[4]++;
        } else if (kind < 95) { /* swap any two slots (empty, equal, related or not) */
            int a = (int)(rnd() % RN), b = (int)(rnd() % RN);
            cdt_swap(&r[a], &r[b]);
            uint32_t to = mobj[a];
            bool tu = mut[a];
            int tp = mpar[a];
            mobj[a] = mobj[b];
            mut[a] = mut[b];
            mpar[a] = mpar[b];
            mobj[b] = to;
            mut[b] = tu;
            mpar[b] = tp;
            for (int j = 0; j < RN; j++)
                mpar[j] = remap(mpar[j], a, b);
            what = "swap";
            counts[5]++;
        } else { /* revoke */
            int top = pick(true);
            if (top < 0)
                continue;
            struct cte *leaf;
            int guard = 0;
            while ((leaf = cdt_descendant_leaf(&r[top])) && guard++ < RN) {
                int li = cdt_tree_index(r, RN, leaf);
                if (li < 0 || leaf->first_child || !is_descendant(leaf, &r[top])) {
                    check_fail(__FILE__, __LINE__, "op %u: descendant_leaf returned %d, not a leaf below %d",
                               op, li, top);
                    return;
                }
                model_remove(li);
                if (!model_agrees(op, "revoke step"))
                    return;
            }
            if (cdt_has_children(&r[top])) {
                check_fail(__FILE__, __LINE__, "op %u: revoke left children", op);
                return;
            }
            what = "revoke";
            counts[6]++;
        }
        if (!model_agrees(op, what))
            return;
    }
    printf("    %u ops: new %u, copy %u, derive %u, remove %u, move %u, swap %u, revoke %u\n", ops,
           counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6]);
    /* Every kind of operation ran a good number of times. */
    for (int k = 0; k < 7; k++)
        CHECK(counts[k] > ops / 100);
}

TEST(random_ops_kernel_shapes)
{
    random_ops(0x9e3779b97f4a7c15ull, 20000, true);
    random_ops(12345, 5000, true);
}

TEST(random_ops_any_shape)
{
    random_ops(0x2545f4914f6cdd1dull, 20000, false);
}
