/* acpi_parse (kernel/arch/x86_64/acpi.c) over firmware tables in fake physical memory.
 *
 * Input: byte 0 = mode (bit 0: fix up checksums, so the fuzzer gets past them to the tables'
 * contents; bit 1: a 20-byte RSDP copy instead of 36; bit 2: a copy of (mode >> 3) % 37 bytes),
 * bytes 1..36 = the RSDP copy (or its first bytes), the rest =
 * physical memory from MEM_BASE on. Every map() call returns a fresh heap copy of exactly the bytes
 * asked for, so a read past what the parser mapped is caught by ASan, even inside the image. */
#include "acpi.h"
#include "fuzz_assert.h"
#include <stdlib.h>

#define MEM_BASE 0x1000ull
#define RSDP_LEN 36
#define HDR 1

struct phys_mem {
    const uint8_t *bytes;
    size_t size;
    void **maps;
    size_t map_count, map_cap;
};

static uint8_t *mem_at(struct phys_mem *m, uint64_t phys, uint64_t len)
{
    if (phys < MEM_BASE || phys - MEM_BASE > m->size || len > m->size - (phys - MEM_BASE))
        return NULL;
    return (uint8_t *)m->bytes + (phys - MEM_BASE);
}

static const void *fake_map(uint64_t phys, uint64_t len, void *ctx)
{
    struct phys_mem *m = ctx;
    const uint8_t *src = mem_at(m, phys, len);
    if (!src)
        return NULL;
    if (m->map_count == m->map_cap) {
        m->map_cap = m->map_cap ? 2 * m->map_cap : 64;
        m->maps = realloc(m->maps, m->map_cap * sizeof *m->maps);
    }
    void *copy = malloc(len ? len : 1);
    memcpy(copy, src, len);
    m->maps[m->map_count++] = copy;
    return copy;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void fix_sum(uint8_t *p, uint32_t len, uint32_t at)
{
    uint8_t s = 0;
    p[at] = 0;
    for (uint32_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    p[at] = (uint8_t)-s;
}

/* A table's checksum byte (9), if its header and length lie in memory. */
static void fix_table(struct phys_mem *m, uint64_t phys)
{
    uint8_t *h = mem_at(m, phys, 36);
    if (h && rd32(h + 4) >= 36 && mem_at(m, phys, rd32(h + 4)))
        fix_sum(h, rd32(h + 4), 9);
}

/* Checksums as a well-behaved firmware would write them: each listed table, then the root table,
 * then the RSDP (an earlier fix may be undone by a later one where tables overlap: that is fine). */
static void fix_checksums(struct phys_mem *m, uint8_t *rsdp, uint32_t rsdp_len)
{
    bool xsdt = rsdp_len >= 36 && rsdp[15] >= 2 && rd64(rsdp + 24);
    uint64_t root = xsdt ? rd64(rsdp + 24) : rd32(rsdp + 16);
    uint32_t esize = xsdt ? 8 : 4;
    uint8_t *rt = mem_at(m, root, 36);
    if (rt && rd32(rt + 4) >= 36 && mem_at(m, root, rd32(rt + 4))) {
        for (uint32_t off = 36; off + esize <= rd32(rt + 4); off += esize)
            fix_table(m, esize == 8 ? rd64(rt + off) : rd32(rt + off));
        fix_table(m, root);
    }
    fix_sum(rsdp, 20, 8);
    if (rsdp_len >= 36)
        fix_sum(rsdp, 36, 32);
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s >= 0x7f)
            return false;
    return true;
}

static void check_info(const struct acpi_info *info)
{
    FUZZ_ASSERT_TERMINATED(info->oem_id, sizeof info->oem_id);
    FUZZ_ASSERT(printable(info->oem_id));
    FUZZ_ASSERT(info->cpu_count <= ACPI_MAX_CPUS);
    for (uint32_t i = 0; i < info->cpu_count; i++)
        for (uint32_t j = 0; j < i; j++)
            FUZZ_ASSERT(info->cpus[i].apic_id != info->cpus[j].apic_id);
    FUZZ_ASSERT(info->ioapic_count <= ACPI_MAX_IOAPICS);
    FUZZ_ASSERT(info->override_count <= ACPI_MAX_OVERRIDES);
    FUZZ_ASSERT(info->table_count >= 2 && info->table_count <= ACPI_MAX_TABLES);
    FUZZ_ASSERT(strcmp(info->tables[0], info->used_xsdt ? "XSDT" : "RSDT") == 0);
    for (uint32_t i = 0; i < info->table_count; i++) {
        FUZZ_ASSERT_TERMINATED(info->tables[i], 5);
        FUZZ_ASSERT(printable(info->tables[i]));
    }
    FUZZ_ASSERT(!info->has_hpet || info->hpet_phys != 0);
    FUZZ_ASSERT(!info->used_xsdt || info->revision >= 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HDR + RSDP_LEN)
        return 0;
    uint8_t mode = data[0];
    uint32_t rsdp_len = mode & 4 ? (mode >> 3) % (RSDP_LEN + 1) : mode & 2 ? 20 : RSDP_LEN;
    uint8_t *rsdp = malloc(rsdp_len ? rsdp_len : 1);
    memcpy(rsdp, data + HDR, rsdp_len);
    size_t mem_size = size - HDR - RSDP_LEN;
    uint8_t *mem = malloc(mem_size ? mem_size : 1);
    memcpy(mem, data + HDR + RSDP_LEN, mem_size);
    struct phys_mem m = { .bytes = mem, .size = mem_size };
    if ((mode & 1) && rsdp_len >= 20)
        fix_checksums(&m, rsdp, rsdp_len);

    static struct acpi_info info;
    struct diag d;
    memset(&d, 0x5a, sizeof d);
    int rc = acpi_parse(rsdp, rsdp_len, fake_map, &m, &info, &d);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    FUZZ_ASSERT_TERMINATED(d.msg, sizeof d.msg);
    if (rc)
        FUZZ_ASSERT(strncmp(d.msg, "acpi: ", 6) == 0);
    else
        check_info(&info);

    for (size_t i = 0; i < m.map_count; i++)
        free(m.maps[i]);
    free(m.maps);
    free(mem);
    free(rsdp);
    return 0;
}
