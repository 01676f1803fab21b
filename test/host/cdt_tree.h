/* Whole-tree validation for the capability derivation tree tests: walks the tree from cdt_root
 * and checks every link, that each slot holding a cap is reachable exactly once, that empty slots
 * carry no links, and that all caps to one object form one subtree (one "top" per object). */
#ifndef KEEL_CDT_TREE_H
#define KEEL_CDT_TREE_H

#include "check.h"
#include "object/cdt.h"

#define CDT_TREE_MAX 256

/* Index of `p` in arr[0..n), -1 for the root, -2 for NULL, -3 for anything else. */
static inline int cdt_tree_index(const struct cte *arr, size_t n, const struct cte *p)
{
    if (!p)
        return -2;
    if (p == &cdt_root)
        return -1;
    uintptr_t a = (uintptr_t)arr, q = (uintptr_t)p;
    if (q < a || q >= a + n * sizeof *arr || (q - a) % sizeof *arr)
        return -3;
    return (int)((q - a) / sizeof *arr);
}

/* Returns true when the tree is consistent; reports the first problem at the caller's line. */
static inline bool cdt_tree_check(const struct cte *arr, size_t n, const char *file, int line)
{
    static bool seen[CDT_TREE_MAX];
    static const struct cte *stack[CDT_TREE_MAX + 1];
#define CDT_TREE_FAIL(...)                                                                         \
    do {                                                                                           \
        check_fail(file, line, "cdt tree: " __VA_ARGS__);                                          \
        return false;                                                                              \
    } while (0)
#define IX(p) cdt_tree_index(arr, n, (p))

    if (n > CDT_TREE_MAX)
        CDT_TREE_FAIL("too many slots (%zu)", n);
    if (cdt_root.parent || cdt_root.next || cdt_root.prev || cdt_root.cap.type != KEEL_CAP_NULL)
        CDT_TREE_FAIL("the root has a parent, siblings or a cap");
    memset(seen, 0, sizeof seen);
    size_t sp = 0;
    stack[sp++] = &cdt_root;
    while (sp) {
        const struct cte *p = stack[--sp];
        const struct cte *prev = 0;
        for (const struct cte *c = p->first_child; c; c = c->next) {
            int i = IX(c);
            if (i < 0)
                CDT_TREE_FAIL("slot %d has a child outside the slot array (%d)", IX(p), i);
            if (seen[i])
                CDT_TREE_FAIL("slot %d reached twice (cycle or shared sibling list), via slot %d", i, IX(p));
            seen[i] = true;
            if (c->parent != p)
                CDT_TREE_FAIL("slot %d is in the child list of %d but its parent is %d", i, IX(p), IX(c->parent));
            if (c->prev != prev)
                CDT_TREE_FAIL("slot %d: prev is %d, expected %d", i, IX(c->prev), IX(prev));
            if (c->cap.type == KEEL_CAP_NULL)
                CDT_TREE_FAIL("empty slot %d is linked into the tree under %d", i, IX(p));
            stack[sp++] = c;
            prev = c;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct cte *c = &arr[i];
        if (c->cap.type != KEEL_CAP_NULL && !seen[i])
            CDT_TREE_FAIL("slot %zu holds a cap but is not reachable from the root (its parent is %d)", i,
                          IX(c->parent));
        if (c->cap.type == KEEL_CAP_NULL && (c->parent || c->first_child || c->next || c->prev))
            CDT_TREE_FAIL("empty slot %zu still has links (parent %d, first_child %d, next %d, prev %d)", i,
                          IX(c->parent), IX(c->first_child), IX(c->next), IX(c->prev));
    }
    /* One top per object: a cap whose parent is the root or refers to something else. */
    for (size_t i = 0; i < n; i++) {
        const struct cte *a = &arr[i];
        if (a->cap.type == KEEL_CAP_NULL)
            continue;
        bool a_top = a->parent == &cdt_root || !cap_same_object(&a->parent->cap, &a->cap);
        if (!a_top)
            continue;
        for (size_t j = i + 1; j < n; j++) {
            const struct cte *b = &arr[j];
            if (b->cap.type == KEEL_CAP_NULL || !cap_same_object(&a->cap, &b->cap))
                continue;
            if (b->parent == &cdt_root || !cap_same_object(&b->parent->cap, &b->cap))
                CDT_TREE_FAIL("slots %zu and %zu refer to one object but are in separate subtrees", i, j);
        }
    }
    return true;
#undef IX
#undef CDT_TREE_FAIL
}

#define CHECK_TREE(arr, n) cdt_tree_check((arr), (n), __FILE__, __LINE__)

#endif
