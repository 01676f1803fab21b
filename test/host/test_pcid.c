/* PCID allocator: a VSpace keeps its PCID on a CPU while nobody takes it; new VSpaces get PCIDs
 * round robin over 1..4095; past 4095 live VSpaces the oldest assignment is taken back (the
 * loser must forget it and its next load must flush); PCID 0 is never handed out. */
#define CHECK_MAIN
#include "check.h"
#include "object/pcid.h"
#include <stdlib.h>
#include <string.h>

static struct pcid_table table;
/* Stand-ins for VSpaces: only their addresses matter to the allocator. */
static char vspaces[2 * PCID_COUNT];
static uint16_t slots[2 * PCID_COUNT];

static void reset(void)
{
    memset(&table, 0, sizeof table);
    memset(slots, 0, sizeof slots);
}

static uint16_t get(int v, bool *fresh, const void **evicted)
{
    return pcid_get(&table, &vspaces[v], &slots[v], fresh, evicted);
}

TEST(first_assignment_is_fresh_then_kept)
{
    reset();
    bool fresh;
    const void *ev;
    uint16_t p = get(0, &fresh, &ev);
    CHECK(p >= 1 && p < PCID_COUNT);
    CHECK(fresh);
    CHECK(ev == 0);
    CHECK_EQ_U64(slots[0], p);
    uint16_t q = get(0, &fresh, &ev);
    CHECK_EQ_U64(q, p);
    CHECK(!fresh); /* its entries may still be valid: the load need not flush */
    CHECK(ev == 0);
}

TEST(distinct_vspaces_get_distinct_pcids_never_zero)
{
    reset();
    bool seen[PCID_COUNT] = { false };
    for (int v = 0; v < PCID_COUNT - 1; v++) {
        bool fresh;
        const void *ev;
        uint16_t p = get(v, &fresh, &ev);
        CHECK(p != 0);
        CHECK(!seen[p]);
        CHECK(fresh);
        CHECK(ev == 0); /* 4095 fit without taking any back */
        seen[p] = true;
    }
    CHECK_EQ_U64(table.recycled, 0);
}

TEST(exhaustion_recycles_the_oldest_and_names_the_loser)
{
    reset();
    bool fresh;
    const void *ev;
    for (int v = 0; v < PCID_COUNT - 1; v++)
        get(v, &fresh, &ev);
    uint16_t first = slots[0];
    /* The 4096th VSpace takes the PCID handed out longest ago: VSpace 0's. */
    uint16_t p = get(PCID_COUNT - 1, &fresh, &ev);
    CHECK_EQ_U64(p, first);
    CHECK(fresh);
    CHECK(ev == &vspaces[0]);
    CHECK_EQ_U64(table.recycled, 1);
    slots[0] = 0; /* what vspace.c does for the loser */
    /* The loser comes back: it gets a PCID again, fresh (its old entries are not its own). */
    uint16_t again = get(0, &fresh, &ev);
    CHECK(fresh);
    CHECK(again != p);
    CHECK(ev == &vspaces[1]);
}

TEST(stale_slot_is_not_trusted)
{
    reset();
    bool fresh;
    const void *ev;
    uint16_t p = get(5, &fresh, &ev);
    /* VSpace 6 claims 5's PCID in its slot (a stale record): the table says otherwise. */
    slots[6] = p;
    uint16_t q = get(6, &fresh, &ev);
    CHECK(q != p);
    CHECK(fresh);
    CHECK_EQ_U64(slots[5], p);
    /* Out-of-range records are ignored too. */
    slots[7] = 0xffff;
    CHECK(get(7, &fresh, &ev) < PCID_COUNT);
    CHECK(fresh);
}

TEST(release_frees_only_own_pcid)
{
    reset();
    bool fresh;
    const void *ev;
    uint16_t p = get(1, &fresh, &ev);
    uint16_t stale = p;
    pcid_release(&table, &vspaces[2], &stale); /* not the owner: nothing happens to the table */
    CHECK(table.owner[p] == &vspaces[1]);
    CHECK_EQ_U64(stale, 0);
    pcid_release(&table, &vspaces[1], &slots[1]);
    CHECK(table.owner[p] == 0);
    CHECK_EQ_U64(slots[1], 0);
}

TEST(random_churn_keeps_table_consistent)
{
    reset();
    srand(42);
    for (int i = 0; i < 200000; i++) {
        int v = rand() % (2 * PCID_COUNT);
        bool fresh;
        const void *ev;
        if (rand() % 8 == 0) {
            pcid_release(&table, &vspaces[v], &slots[v]);
            continue;
        }
        uint16_t p = get(v, &fresh, &ev);
        if (ev)
            slots[(const char *)ev - vspaces] = 0;
        CHECK(p >= 1 && p < PCID_COUNT);
        CHECK(table.owner[p] == &vspaces[v]);
    }
    /* Every remembered slot is the owner's, and every owner's slot points back. */
    for (int v = 0; v < 2 * PCID_COUNT; v++)
        if (slots[v])
            CHECK(table.owner[slots[v]] == &vspaces[v]);
    for (int p = 1; p < PCID_COUNT; p++)
        if (table.owner[p])
            CHECK_EQ_U64(slots[(const char *)table.owner[p] - vspaces], p);
    CHECK(table.owner[0] == 0);
}
