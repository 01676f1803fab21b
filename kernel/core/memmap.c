/* Boot-time physical memory map. The list stays sorted, disjoint and merged, so every operation
 * is a single linear pass; 128 entries make anything cleverer pointless. */
#include "memmap.h"

void memmap_init(struct memmap *m)
{
    memset(m, 0, sizeof *m);
}

static void remove_at(struct memmap *m, uint32_t i)
{
    memmove(&m->free[i], &m->free[i + 1], (m->count - i - 1) * sizeof m->free[0]);
    m->count--;
}

static void insert_at(struct memmap *m, uint32_t i, struct phys_range r)
{
    memmove(&m->free[i + 1], &m->free[i], (m->count - i) * sizeof m->free[0]);
    m->free[i] = r;
    m->count++;
}

int memmap_add_free(struct memmap *m, uint64_t base, uint64_t length, struct diag *d)
{
    if (length == 0)
        return 0;
    if (base + length < base) {
        diag_set(d, "memmap: free range [0x%llx, +0x%llx) wraps past 2^64",
                 (unsigned long long)base, (unsigned long long)length);
        return -1;
    }
    if (base > UINT64_MAX - (MEMMAP_PAGE - 1))
        return 0; /* lies inside the last, partial page */
    uint64_t b = ALIGN_UP(base, (uint64_t)MEMMAP_PAGE);
    uint64_t e = ALIGN_DOWN(base + length, (uint64_t)MEMMAP_PAGE);
    if (b >= e)
        return 0;

    uint32_t i = 0; /* insertion point: first range starting above b */
    while (i < m->count && m->free[i].base <= b)
        i++;
    const struct phys_range *prev = i > 0 ? &m->free[i - 1] : NULL;
    const struct phys_range *next = i < m->count ? &m->free[i] : NULL;
    const struct phys_range *hit = prev && prev->end > b ? prev : next && next->base < e ? next : NULL;
    if (hit) {
        diag_set(d, "memmap: free range [0x%llx, 0x%llx) overlaps free range [0x%llx, 0x%llx)",
                 (unsigned long long)b, (unsigned long long)e, (unsigned long long)hit->base,
                 (unsigned long long)hit->end);
        return -1;
    }
    bool join_prev = prev && prev->end == b, join_next = next && next->base == e;
    if (join_prev && join_next) {
        m->free[i - 1].end = m->free[i].end;
        remove_at(m, i);
    } else if (join_prev) {
        m->free[i - 1].end = e;
    } else if (join_next) {
        m->free[i].base = b;
    } else if (m->count == MEMMAP_MAX) {
        m->dropped++;
        diag_set(d, "memmap: table full (%u ranges), dropped free range [0x%llx, 0x%llx)",
                 MEMMAP_MAX, (unsigned long long)b, (unsigned long long)e);
        return -1;
    } else {
        insert_at(m, i, (struct phys_range){ b, e });
    }
    return 0;
}

int memmap_reserve(struct memmap *m, uint64_t base, uint64_t length, struct diag *d)
{
    if (length == 0)
        return 0;
    int rc = 0;
    /* UINT64_MAX works as "to the top": no free range can end above 2^64 - 4096. */
    uint64_t end = UINT64_MAX;
    if (base + length < base) {
        diag_set(d, "memmap: reserved range [0x%llx, +0x%llx) wraps past 2^64",
                 (unsigned long long)base, (unsigned long long)length);
        rc = -1;
    } else if (base + length <= UINT64_MAX - (MEMMAP_PAGE - 1)) {
        end = ALIGN_UP(base + length, (uint64_t)MEMMAP_PAGE);
    }
    uint64_t b = ALIGN_DOWN(base, (uint64_t)MEMMAP_PAGE);

    for (uint32_t i = 0; i < m->count && m->free[i].base < end;) {
        struct phys_range r = m->free[i];
        if (r.end <= b) {
            i++;
            continue;
        }
        bool keep_left = r.base < b, keep_right = r.end > end;
        if (keep_left && keep_right) {
            if (m->count < MEMMAP_MAX) {
                m->free[i].end = b;
                insert_at(m, i + 1, (struct phys_range){ end, r.end });
            } else {
                m->dropped++;
                if (b - r.base >= r.end - end)
                    m->free[i].end = b;
                else
                    m->free[i].base = end;
            }
            break; /* the reservation lay inside this one range */
        } else if (keep_left) {
            m->free[i++].end = b;
        } else if (keep_right) {
            m->free[i].base = end;
            break;
        } else {
            remove_at(m, i);
        }
    }
    return rc;
}

uint64_t memmap_alloc(struct memmap *m, uint64_t size, uint64_t align, uint64_t limit)
{
    if (size == 0 || size > UINT64_MAX - (MEMMAP_PAGE - 1) || align < MEMMAP_PAGE ||
        (align & (align - 1)))
        return 0;
    size = ALIGN_UP(size, (uint64_t)MEMMAP_PAGE);
    for (uint32_t i = m->count; i-- > 0;) {
        const struct phys_range *r = &m->free[i];
        uint64_t top = MIN(r->end, limit);
        if (top <= r->base || top - r->base < size)
            continue;
        uint64_t p = ALIGN_DOWN(top - size, align);
        if (p < r->base || p == 0) /* 0 is the failure value, never a result */
            continue;
        memmap_reserve(m, p, size, NULL); /* cannot wrap: p + size <= top */
        return p;
    }
    return 0;
}

uint64_t memmap_total(const struct memmap *m)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < m->count; i++)
        total += m->free[i].end - m->free[i].base;
    return total;
}

int memmap_from_mb2(struct memmap *m, const struct mb2_info *mb, struct diag *d)
{
    for (uint32_t i = 0; i < mb->mmap_count; i++) {
        const struct mb2_region *r = &mb->mmap[i];
        if (r->type == MB2_MEM_AVAILABLE && memmap_add_free(m, r->base, r->length, d))
            return -1;
    }
    int rc = 0;
    rc |= memmap_reserve(m, 0, MEMMAP_LOW_RESERVED, d);
    rc |= memmap_reserve(m, mb->info_phys, mb->total_size, d);
    for (uint32_t i = 0; i < mb->module_count; i++)
        rc |= memmap_reserve(m, mb->modules[i].start, mb->modules[i].end - mb->modules[i].start, d);
    if (mb->has_symbols) {
        rc |= memmap_reserve(m, mb->symtab_phys, mb->symtab_size, d);
        rc |= memmap_reserve(m, mb->strtab_phys, mb->strtab_size, d);
    }
    return rc ? -1 : 0;
}
