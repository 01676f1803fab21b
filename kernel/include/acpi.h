/* ACPI static tables: the RSDP → RSDT/XSDT walk, the MADT (CPUs, IOAPICs, interrupt overrides)
 * and the HPET base. Memory is reached only through a mapping callback, so host tests can feed
 * synthetic tables and the kernel can use its direct map. */
#ifndef KEEL_ACPI_H
#define KEEL_ACPI_H

#include "klib.h"

#define ACPI_MAX_CPUS 64
#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_OVERRIDES 16
#define ACPI_MAX_TABLES 32
/* Far above any real static table; a longer header means corruption. */
#define ACPI_MAX_TABLE_LEN (16u << 20)

/* Returns a readable pointer to [phys, phys + len), or NULL if that is not mappable. Pointers it
 * returns must stay valid until acpi_parse returns. */
typedef const void *(*acpi_map_fn)(uint64_t phys, uint64_t len, void *ctx);

struct acpi_cpu {
    uint32_t apic_id;
    uint32_t acpi_uid;
    bool enabled, online_capable; /* neither set: the CPU can never be used */
    bool x2apic;                  /* described by an x2APIC (type 9) entry */
};

struct acpi_ioapic {
    uint8_t id;
    uint32_t phys, gsi_base;
};

struct acpi_override {
    uint8_t bus, source_irq;
    uint32_t gsi;
    uint16_t flags; /* MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2 */
};

struct acpi_info {
    uint8_t revision; /* RSDP revision: 0 for ACPI 1.0, 2 for 2.0 and later */
    char oem_id[7];
    bool used_xsdt;
    uint64_t lapic_phys;
    bool pcat_compat; /* MADT flags bit 0: dual 8259 PICs present */
    struct acpi_cpu cpus[ACPI_MAX_CPUS];
    uint32_t cpu_count;
    uint32_t cpus_dropped; /* CPUs beyond ACPI_MAX_CPUS */
    struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
    uint32_t ioapic_count;
    struct acpi_override overrides[ACPI_MAX_OVERRIDES];
    uint32_t override_count;
    bool has_hpet;
    uint64_t hpet_phys;
    uint32_t table_count; /* entries used in tables[], at most ACPI_MAX_TABLES */
    char tables[ACPI_MAX_TABLES][5]; /* signatures of valid tables seen (RSDT/XSDT first) */
};

/* rsdp: a copy of the RSDP (20 or 36 bytes). Verifies the RSDP checksum (and the extended one for
 * revision ≥ 2), prefers the XSDT when revision ≥ 2, the copy holds 36 bytes and the XSDT address
 * is non-zero; verifies every table's length and checksum before reading it. A bad or unmappable
 * table is reported in d (messages joined with "; ") and skipped; a bad RSDP/RSDT/XSDT or MADT,
 * no MADT, or a malformed MADT entry returns -1 with that reason alone in d->msg. On success
 * d->msg is empty unless something was skipped (tables, HPET, I/O APICs or overrides beyond the
 * limits), so the caller can log it as a warning. Only the
 * first MADT and first HPET table are used; a CPU whose APIC ID was already listed is skipped. */
int acpi_parse(const void *rsdp, uint32_t rsdp_len, acpi_map_fn map, void *ctx,
               struct acpi_info *out, struct diag *d);

#endif
