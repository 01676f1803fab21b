/* PCID allocator (see object/pcid.h). Pure bookkeeping, no hardware access. */
#include "object/pcid.h"

uint16_t pcid_get(struct pcid_table *t, const void *vs, uint16_t *slot, bool *fresh, const void **evicted)
{
    *evicted = 0;
    if (*slot && *slot < PCID_COUNT && t->owner[*slot] == vs) {
        *fresh = false;
        return *slot;
    }
    /* Round robin over 1..4095: the PCID reused is the one handed out longest ago. */
    uint16_t pcid = (uint16_t)(t->next % (PCID_COUNT - 1) + 1);
    t->next = (uint16_t)(pcid % (PCID_COUNT - 1));
    if (t->owner[pcid]) {
        *evicted = t->owner[pcid];
        t->recycled++;
    }
    t->owner[pcid] = vs;
    *slot = pcid;
    *fresh = true;
    return pcid;
}

void pcid_release(struct pcid_table *t, const void *vs, uint16_t *slot)
{
    if (*slot && *slot < PCID_COUNT && t->owner[*slot] == vs)
        t->owner[*slot] = 0;
    *slot = 0;
}
