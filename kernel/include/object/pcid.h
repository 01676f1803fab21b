/* Per-CPU PCID allocation. A VSpace gets a PCID on a CPU the first time it runs there; when
 * more VSpaces run on a CPU than it has PCIDs, the next one in round-robin order is taken from
 * its owner, and the load that reuses it must flush (it may hold the old owner's entries). */
#ifndef KEEL_OBJECT_PCID_H
#define KEEL_OBJECT_PCID_H

#include <stdbool.h>
#include <stdint.h>

#define PCID_COUNT 4096 /* PCID 0 is the kernel's own (no VSpace loaded); 1..4095 are handed out */

struct pcid_table {
    const void *owner[PCID_COUNT];
    uint16_t next;
    uint64_t recycled; /* PCIDs taken from another VSpace */
};

/* The PCID of `vs` given its remembered one (`*slot`, 0 = none). Allocates if needed, updating
 * `*slot`; *fresh says the PCID is new to `vs` (its entries on this CPU are unknown: flush);
 * *evicted names the VSpace that lost it, whose own slot the caller must clear. */
uint16_t pcid_get(struct pcid_table *t, const void *vs, uint16_t *slot, bool *fresh, const void **evicted);
/* `vs` is going away: give its PCID back. */
void pcid_release(struct pcid_table *t, const void *vs, uint16_t *slot);

#endif
