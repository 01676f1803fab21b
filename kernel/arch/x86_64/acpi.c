/* ACPI static table walk. Firmware tables are untrusted input: every length is checked against
 * what was mapped and every checksum verified before a field is read. Fields are read with memcpy
 * because ACPI structures are packed (XSDT entries sit at offset 36, for one). */
#include "acpi.h"

#define SDT_HEADER_LEN 36
#define RSDP_V1_LEN 20
#define RSDP_V2_LEN 36
#define MADT_ENTRIES_OFFSET 44
#define HPET_MIN_LEN 56

enum {
    MADT_LAPIC = 0,
    MADT_IOAPIC = 1,
    MADT_SOURCE_OVERRIDE = 2,
    MADT_LAPIC_ADDR_OVERRIDE = 5,
    MADT_X2APIC = 9,
};

#define LAPIC_ENABLED (1u << 0)
#define LAPIC_ONLINE_CAPABLE (1u << 1)
#define MADT_PCAT_COMPAT (1u << 0)

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint8_t sum8(const uint8_t *p, uint64_t len)
{
    uint8_t s = 0;
    for (uint64_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* Signatures go into log messages: never let firmware bytes be control characters. */
static void copy_printable(char *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
    dst[n] = '\0';
}

/* Non-fatal problem: appended to the ones before, joined with "; "; once the buffer is full its
 * tail becomes "..." so truncation shows. */
__attribute__((format(printf, 2, 3))) static void warn(struct diag *d, const char *fmt, ...)
{
    if (!d)
        return;
    const size_t cap = sizeof d->msg;
    size_t used = strnlen(d->msg, cap - 1);
    if (used + 3 < cap) {
        if (used) {
            memcpy(d->msg + used, "; ", 3);
            used += 2;
        }
        va_list ap;
        va_start(ap, fmt);
        int n = kvsnprintf(d->msg + used, cap - used, fmt, ap);
        va_end(ap);
        if (n >= 0 && used + (size_t)n < cap)
            return;
    }
    memcpy(d->msg + cap - 4, "...", 4);
}

struct table {
    const uint8_t *p;
    uint64_t phys;
    uint32_t len;
    char sig[5];
};

/* Maps and validates one SDT. On failure writes the reason to err and returns false; t->sig is
 * filled in as soon as the header could be read ("" before that). */
static bool load_table(uint64_t phys, acpi_map_fn map, void *ctx, struct table *t,
                       struct diag *err)
{
    *t = (struct table){ .phys = phys };
    if (phys > UINT64_MAX - SDT_HEADER_LEN) {
        diag_set(err, "acpi: table at 0x%llx wraps past 2^64", (unsigned long long)phys);
        return false;
    }
    const uint8_t *h = map(phys, SDT_HEADER_LEN, ctx);
    if (!h) {
        diag_set(err, "acpi: table at 0x%llx is not mappable", (unsigned long long)phys);
        return false;
    }
    copy_printable(t->sig, h, 4);
    uint32_t len = rd32(h + 4);
    if (len < SDT_HEADER_LEN || len > ACPI_MAX_TABLE_LEN) {
        diag_set(err, "acpi: table %s at 0x%llx has length %u, outside %u..%u", t->sig,
                 (unsigned long long)phys, len, SDT_HEADER_LEN, ACPI_MAX_TABLE_LEN);
        return false;
    }
    if (phys > UINT64_MAX - len) {
        diag_set(err, "acpi: table %s at 0x%llx with length %u wraps past 2^64", t->sig,
                 (unsigned long long)phys, len);
        return false;
    }
    const uint8_t *p = map(phys, len, ctx);
    if (!p) {
        diag_set(err, "acpi: table %s at 0x%llx (length %u) is not mappable", t->sig,
                 (unsigned long long)phys, len);
        return false;
    }
    uint8_t sum = sum8(p, len);
    if (sum) {
        diag_set(err, "acpi: table %s at 0x%llx has a bad checksum (sum 0x%x)", t->sig,
                 (unsigned long long)phys, sum);
        return false;
    }
    t->p = p;
    t->len = len;
    return true;
}

static void note_table(struct acpi_info *out, const struct table *t)
{
    if (out->table_count < ACPI_MAX_TABLES)
        memcpy(out->tables[out->table_count++], t->sig, 5);
}

static void add_cpu(struct acpi_info *out, uint32_t apic_id, uint32_t uid, uint32_t flags,
                    bool x2apic)
{
    /* Firmware may describe one CPU by both a LAPIC and an x2APIC entry: keep the first. */
    for (uint32_t i = 0; i < out->cpu_count; i++)
        if (out->cpus[i].apic_id == apic_id)
            return;
    if (out->cpu_count == ACPI_MAX_CPUS) {
        out->cpus_dropped++;
        return;
    }
    out->cpus[out->cpu_count++] = (struct acpi_cpu){
        .apic_id = apic_id,
        .acpi_uid = uid,
        .enabled = flags & LAPIC_ENABLED,
        .online_capable = flags & LAPIC_ONLINE_CAPABLE,
        .x2apic = x2apic,
    };
}

static const char *madt_entry_name(uint8_t type)
{
    switch (type) {
    case MADT_LAPIC: return "local APIC";
    case MADT_IOAPIC: return "I/O APIC";
    case MADT_SOURCE_OVERRIDE: return "interrupt source override";
    case MADT_LAPIC_ADDR_OVERRIDE: return "local APIC address override";
    case MADT_X2APIC: return "local x2APIC";
    default: return "unknown";
    }
}

static uint8_t madt_entry_min_len(uint8_t type)
{
    switch (type) {
    case MADT_LAPIC: return 8;
    case MADT_IOAPIC: return 12;
    case MADT_SOURCE_OVERRIDE: return 10;
    case MADT_LAPIC_ADDR_OVERRIDE: return 12;
    case MADT_X2APIC: return 16;
    default: return 2;
    }
}

static int parse_madt(const struct table *t, struct acpi_info *out, struct diag *d)
{
    if (t->len < MADT_ENTRIES_OFFSET) {
        diag_set(d, "acpi: MADT at 0x%llx has length %u, below %u", (unsigned long long)t->phys,
                 t->len, MADT_ENTRIES_OFFSET);
        return -1;
    }
    out->lapic_phys = rd32(t->p + 36);
    out->pcat_compat = rd32(t->p + 40) & MADT_PCAT_COMPAT;
    for (uint32_t off = MADT_ENTRIES_OFFSET; off < t->len;) {
        if (t->len - off < 2) {
            diag_set(d, "acpi: MADT at 0x%llx: entry at offset 0x%x is truncated (%u byte left)",
                     (unsigned long long)t->phys, off, t->len - off);
            return -1;
        }
        const uint8_t *e = t->p + off;
        uint8_t type = e[0], len = e[1];
        uint32_t left = t->len - off;
        uint32_t need = len < 2 ? 2 : madt_entry_min_len(type);
        if (len < need || len > left) {
            int n = ksnprintf(d ? d->msg : NULL, d ? sizeof d->msg : 0,
                              "acpi: MADT at 0x%llx: entry type %u (%s) at offset 0x%x has length "
                              "%u, ", (unsigned long long)t->phys, type, madt_entry_name(type),
                              off, len);
            if (d && n > 0 && (size_t)n < sizeof d->msg) {
                if (len < need)
                    ksnprintf(d->msg + n, sizeof d->msg - (size_t)n, "below %u", need);
                else
                    ksnprintf(d->msg + n, sizeof d->msg - (size_t)n,
                              "but only %u bytes remain in the table", left);
            }
            return -1;
        }
        switch (type) {
        case MADT_LAPIC: add_cpu(out, e[3], e[2], rd32(e + 4), false); break;
        case MADT_X2APIC: add_cpu(out, rd32(e + 4), rd32(e + 12), rd32(e + 8), true); break;
        case MADT_IOAPIC:
            if (out->ioapic_count == ACPI_MAX_IOAPICS) {
                warn(d, "acpi: I/O APIC %u ignored, at most %u are supported", e[2],
                     ACPI_MAX_IOAPICS);
                break;
            }
            out->ioapics[out->ioapic_count++] =
                (struct acpi_ioapic){ .id = e[2], .phys = rd32(e + 4), .gsi_base = rd32(e + 8) };
            break;
        case MADT_SOURCE_OVERRIDE:
            if (out->override_count == ACPI_MAX_OVERRIDES) {
                warn(d, "acpi: override of IRQ %u ignored, at most %u are supported", e[3],
                     ACPI_MAX_OVERRIDES);
                break;
            }
            out->overrides[out->override_count++] = (struct acpi_override){
                .bus = e[2], .source_irq = e[3], .gsi = rd32(e + 4), .flags = rd16(e + 8)
            };
            break;
        case MADT_LAPIC_ADDR_OVERRIDE: out->lapic_phys = rd64(e + 4); break;
        default: break; /* other entry types are not used (yet) */
        }
        off += len;
    }
    return 0;
}

static void parse_hpet(const struct table *t, struct acpi_info *out, struct diag *d)
{
    if (t->len < HPET_MIN_LEN) {
        warn(d, "acpi: HPET at 0x%llx has length %u, below %u, ignored",
             (unsigned long long)t->phys, t->len, HPET_MIN_LEN);
        return;
    }
    /* Generic address structure at offset 40: space id 0 is system memory. */
    uint8_t space = t->p[40];
    uint64_t addr = rd64(t->p + 44);
    if (space != 0 || addr == 0) {
        warn(d, "acpi: HPET at 0x%llx has base 0x%llx in address space %u; only a non-zero "
             "memory (space 0) base is usable, ignored", (unsigned long long)t->phys,
             (unsigned long long)addr, space);
        return;
    }
    out->has_hpet = true;
    out->hpet_phys = addr;
}

int acpi_parse(const void *rsdp_copy, uint32_t rsdp_len, acpi_map_fn map, void *ctx,
               struct acpi_info *out, struct diag *d)
{
    memset(out, 0, sizeof *out);
    if (d)
        d->msg[0] = '\0';
    const uint8_t *rsdp = rsdp_copy;
    if (!rsdp || rsdp_len < RSDP_V1_LEN) {
        diag_set(d, "acpi: RSDP copy has %u bytes, need at least %u", rsdp ? rsdp_len : 0,
                 RSDP_V1_LEN);
        return -1;
    }
    if (memcmp(rsdp, "RSD PTR ", 8) != 0) {
        diag_set(d, "acpi: RSDP signature is not \"RSD PTR \"");
        return -1;
    }
    uint8_t sum = sum8(rsdp, RSDP_V1_LEN);
    if (sum) {
        diag_set(d, "acpi: RSDP has a bad checksum (sum 0x%x)", sum);
        return -1;
    }
    out->revision = rsdp[15];
    copy_printable(out->oem_id, rsdp + 9, 6);
    uint64_t root = rd32(rsdp + 16);
    if (out->revision >= 2 && rsdp_len >= RSDP_V2_LEN) {
        uint32_t len = rd32(rsdp + 20);
        if (len < RSDP_V2_LEN || len > rsdp_len) {
            diag_set(d, "acpi: RSDP length field is %u, expected %u (copy has %u bytes)", len,
                     RSDP_V2_LEN, rsdp_len);
            return -1;
        }
        sum = sum8(rsdp, len);
        if (sum) {
            diag_set(d, "acpi: RSDP has a bad extended checksum (sum 0x%x)", sum);
            return -1;
        }
        uint64_t xsdt = rd64(rsdp + 24);
        if (xsdt) {
            root = xsdt;
            out->used_xsdt = true;
        }
    }
    const char *root_sig = out->used_xsdt ? "XSDT" : "RSDT";
    uint32_t esize = out->used_xsdt ? 8 : 4;

    struct table rt;
    if (!load_table(root, map, ctx, &rt, d))
        return -1;
    if (memcmp(rt.sig, root_sig, 4) != 0) {
        diag_set(d, "acpi: table at 0x%llx named by the RSDP is %s, expected %s",
                 (unsigned long long)root, rt.sig, root_sig);
        return -1;
    }
    if ((rt.len - SDT_HEADER_LEN) % esize) {
        diag_set(d, "acpi: %s at 0x%llx has length %u, not %u plus whole %u-byte entries",
                 root_sig, (unsigned long long)root, rt.len, SDT_HEADER_LEN, esize);
        return -1;
    }
    note_table(out, &rt);

    /* rt.p stays valid: the map callback must keep earlier mappings alive during the walk. */
    uint32_t entries = (rt.len - SDT_HEADER_LEN) / esize;
    bool have_madt = false;
    for (uint32_t i = 0; i < entries; i++) {
        const uint8_t *ep = rt.p + SDT_HEADER_LEN + (size_t)i * esize;
        uint64_t phys = esize == 8 ? rd64(ep) : rd32(ep);
        if (phys == 0)
            continue;
        struct table t;
        struct diag err = { { 0 } };
        if (!load_table(phys, map, ctx, &t, &err)) {
            if (memcmp(t.sig, "APIC", 4) == 0 && !have_madt) {
                diag_set(d, "%s", err.msg); /* the MADT is essential */
                return -1;
            }
            warn(d, "%s, skipped", err.msg);
            continue;
        }
        note_table(out, &t);
        if (memcmp(t.sig, "APIC", 4) == 0 && !have_madt) {
            if (parse_madt(&t, out, d))
                return -1;
            have_madt = true;
        } else if (memcmp(t.sig, "HPET", 4) == 0 && !out->has_hpet) {
            parse_hpet(&t, out, d);
        }
    }
    if (!have_madt) {
        diag_set(d, "acpi: no MADT (APIC table) among the %u tables listed by the %s", entries,
                 root_sig);
        return -1;
    }
    return 0;
}
